"""Output that cannot harm: printable text, safe report writes, inert spreadsheet cells."""

from __future__ import annotations

import base64
import io
import os
import re
import unicodedata
import xml.dom.minidom
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

import lossgap
from lossgap import InputError
from lossgap.cli import load_commands
from lossgap.cli.output import atomic_write, check_outputs
from lossgap.integrations.files import write_epoch_predictions
from lossgap.io import read_predictions
from lossgap.printable import printable
from lossgap.render.markdown import escape
from lossgap.render.text import make_console

runner = CliRunner()
HIDDEN = ("Cc", "Cf", "Zl", "Zp")
ESC_TITLE = "\x1b]0;owned\x07"
ESC_CLEAR = "\x1b[2J"


def hidden(text: str) -> list[str]:
    return [ch for ch in text if ch != "\n" and unicodedata.category(ch) in HIDDEN]


def cli(*args: str):
    return runner.invoke(load_commands([args[0]]), list(args))


@given(st.text())
def test_printable_leaves_no_control_character_and_is_idempotent(text):
    once = printable(text)
    assert not [ch for ch in once if unicodedata.category(ch) in HIDDEN]
    assert printable(once) == once
    if text.isprintable():
        assert once == text


@given(st.text())
def test_markdown_escape_leaves_one_printable_line(text):
    out = escape(text)
    assert "\n" not in out and not hidden(out)


def test_console_prints_markup_and_control_sequences_as_text():
    out = io.StringIO()
    make_console(file=out, width=200).print(f"report[v2].html a[/b].html {ESC_TITLE}{ESC_CLEAR}")
    # rich drops the bell itself; the escapes show as text
    assert out.getvalue() == "report[v2].html a[/b].html \\x1b]0;owned\\x1b[2J\n"


def test_input_error_messages_are_one_printable_line():
    frame = pd.DataFrame({f"p_{ESC_CLEAR}a\nb": [0.5, 0.2], "p_b": [0.4, 0.8]})
    with pytest.raises(InputError) as info:
        lossgap.Predictions(np.array(["a", "b"], dtype=object), frame)
    assert "\n" not in str(info.value) and not hidden(str(info.value))


@pytest.fixture
def hostile_csv(tmp_path: Path) -> Path:
    rows = [
        (0, 0.9, ESC_TITLE + "x"),
        (1, 0.1, "two\nlines"),
        (0, 0.8, ESC_CLEAR),
        (1, 0.3, "[bold]z[/bold]"),
        (1, 0.7, "\u202eevil"),
        (0, 0.2, "ok"),
    ]
    path = tmp_path / "hostile.csv"
    pd.DataFrame(rows, columns=["label", "p", "id"]).to_csv(path, index=False)
    return path


def test_ids_from_the_data_reach_the_terminal_and_markdown_inert(hostile_csv, tmp_path):
    md = tmp_path / "r.md"
    result = cli("explain", str(hostile_csv), "--id", "id", "--full", "--md", str(md))
    assert result.exit_code == 0, result.stderr
    assert not hidden(result.stdout) and not hidden(result.stderr)
    assert "\\x1b]0;owned\\x07x" in result.stdout and "two\\nlines" in result.stdout
    assert "[bold]z[/bold]" in result.stdout  # no markup
    text = md.read_text()
    assert not hidden(text) and "\\x1b" in text


def test_a_report_never_overwrites_an_input(hostile_csv):
    before = hostile_csv.read_bytes()
    result = cli("explain", str(hostile_csv), "--html", str(hostile_csv))
    assert result.exit_code == 2
    assert "is an input of this command" in result.stderr
    assert hostile_csv.read_bytes() == before


def test_every_output_path_is_checked_before_anything_is_written(hostile_csv, tmp_path):
    page = tmp_path / "a.html"
    result = cli("explain", str(hostile_csv), "--html", str(page), "--md", str(tmp_path))
    assert result.exit_code == 2 and "is a directory" in result.stderr
    assert not page.exists()
    result = cli("explain", str(hostile_csv), "--html", str(page), "--md", str(page))
    assert result.exit_code == 2 and "both name" in result.stderr
    assert not page.exists()


def test_paths_with_brackets_are_written_and_named_as_typed(hostile_csv, tmp_path):
    for name in ("report[v2].html", "a[/b].html"):
        target = tmp_path / name
        result = cli("explain", str(hostile_csv), "--html", str(target))
        assert result.exit_code == 0, result.stderr
        assert target.exists() and f"wrote {target}" in result.stderr


def test_a_failed_write_leaves_the_previous_report_whole(tmp_path, monkeypatch):
    target = tmp_path / "r.md"
    target.write_text("previous")

    def full_disk(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(
        InputError, match=r"No space left on device \(any previous file is unchanged\)"
    ):
        atomic_write(target, "new", "--md")
    assert target.read_text() == "previous"
    assert [p.name for p in tmp_path.iterdir()] == ["r.md"]  # no temporary file left


def test_check_outputs_refuses_a_folder_that_is_a_file(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(InputError, match=r"--plot '.*f' is a file"):
        check_outputs({}, {"--plot": tmp_path / "f"})


def test_spreadsheet_formulas_in_labels_are_written_inert(tmp_path):
    labels = ["=cmd|' /C calc'!A0", "+1+1", "-1", "@SUM(A1)", "ok"] * 2
    path = write_epoch_predictions(tmp_path, 0, labels, np.tile([0.2, 0.7, 0.4, 0.9, 0.6], 2))
    cells = [line.split(",")[0].strip('"') for line in path.read_text().splitlines()[1:]]
    assert not [c for c in cells if c[:1] in "=+@"]
    assert "-1" in cells  # a number, not a formula
    multi = write_epoch_predictions(
        tmp_path / "m", 0, [0, 1, 2], np.eye(3) * 0.8 + 0.2 / 3, classes=["=a", "+b", "c"]
    )
    assert read_predictions(multi).classes == ("'=a", "'+b", "c")


# --- HTML reports: every user string printable, then escaped --------------------------------


def assert_inert_page(page: str, *expected: str) -> None:
    """No control character in the page (its own line ends aside) nor in its plots, whose
    SVG stays well-formed XML; each escape visible."""
    assert not hidden(page)
    for text in expected:
        assert text in page, text
    for uri in re.findall(r"data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)", page):
        svg = base64.b64decode(uri).decode("utf-8")
        assert not hidden(svg)
        xml.dom.minidom.parseString(svg)  # raises on a control character


@pytest.mark.slow
def test_html_reports_show_control_characters_from_the_data_as_escapes(tmp_path):
    # the file, column, class and id names all carry a terminal sequence
    data = tmp_path / f"preds{ESC_CLEAR}.csv"
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    pd.DataFrame(
        {
            f"id{ESC_TITLE}": [f"s{i}{ESC_CLEAR}" for i in range(200)],
            "label": np.array([f"neg{ESC_TITLE}", "pos"])[y],
            f"p{ESC_CLEAR}": np.clip(0.5 + (y - 0.5) * rng.random(200) * 1.6, 0.01, 0.99),
        }
    ).to_csv(data, index=False)
    page = tmp_path / "explain.html"
    result = cli(
        "explain", str(data), "--label", "label", "--prob", f"p{ESC_CLEAR}", "--id",
        f"id{ESC_TITLE}", "--html", str(page), "--quiet",
    )
    assert result.exit_code == 0, result.stderr
    assert_inert_page(
        page.read_text(encoding="utf-8"),
        "preds\\x1b[2J.csv", "neg\\x1b]0;owned\\x07", "s169\\x1b[2J",  # a worst sample's id
    )
    log = tmp_path / f"train{ESC_TITLE}.csv"
    rows = "".join(f"{e},{1 / (e + 1)},0.5\n" for e in range(8))
    log.write_text("epoch,loss,val_loss\n" + rows)
    page = tmp_path / "history.html"
    assert cli("history", str(log), "--html", str(page), "--quiet").exit_code == 0
    assert_inert_page(page.read_text(encoding="utf-8"), "train\\x1b]0;owned\\x07.csv")
    points = tmp_path / f"points{ESC_CLEAR}.csv"
    points.write_text("x,y\n-1,0\n-0.3,0\n0,1\n0.9,0\n1,1\n")
    page = tmp_path / "lab.html"
    assert cli("lab", "logistic", "--points", str(points), "--html", str(page)).exit_code == 0
    assert_inert_page(page.read_text(encoding="utf-8"), "points\\x1b[2J.csv")


def test_html_newlines_in_names_stay_on_their_line():
    from lossgap.render.html import comparison_report, explain_report

    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 100)
    p = np.clip(0.5 + (y - 0.5) * rng.random(100), 0.01, 0.99)
    classes = np.array(["two\nlines", f"b{ESC_TITLE}"])
    ids = [f"row\r{i}\u202e" for i in range(100)]
    page = explain_report(lossgap.explain(classes[y], p, ids=ids)).html()
    assert_inert_page(page, "two\\nlines", "b\\x1b]0;owned\\x07", "row\\r58\\u202e")
    models = {f"model\n{ESC_CLEAR}": p, "plain": np.clip(p * 0.9 + 0.05, 0, 1)}
    comparison = lossgap.compare(models, y)
    assert_inert_page(comparison_report(comparison).html(), "model\\n\\x1b[2J")

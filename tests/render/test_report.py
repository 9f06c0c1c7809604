"""HTML and Markdown reports, checked without a browser: parsed, every plot there, no
network request, every user string escaped."""

from __future__ import annotations

import base64
import csv
import json
import re
import xml.dom.minidom
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from lossgap import Predictions, compare, explain
from lossgap.cli import load_commands
from lossgap.cli.output import write_text
from lossgap.curves import evaluation_curves
from lossgap.explanation import evaluate_predictions
from lossgap.render.html import comparison_report, explain_report, history_report
from lossgap.render.markdown import escape, explain_markdown
from tests.helpers.data import random_binary, random_multiclass

HOSTILE = "<script>alert(1)</script>"
#: Attributes through which a page can make a request.
FETCHING = {"src", "href", "srcset", "action", "formaction", "poster", "data", "background"}


class Audit(HTMLParser):
    """Every tag, attribute and text run of a page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.styles: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_style = tag == "style"

    def handle_endtag(self, tag):
        self._in_style = False

    def handle_data(self, data):
        (self.styles if self._in_style else self.text).append(data)


def audit(page: str) -> Audit:
    parser = Audit()
    parser.feed(page)
    parser.close()
    return parser


def assert_self_contained(page: str) -> Audit:
    """No script, no active attribute, nothing fetched: every image a data URI of an SVG."""
    found = audit(page)
    names = {tag for tag, _ in found.tags}
    assert not names & {"script", "iframe", "object", "embed", "link", "base", "frame"}
    for tag, attrs in found.tags:
        for key, value in attrs.items():
            assert not key.startswith("on"), (tag, key)
            if key in FETCHING and value is not None:
                assert value.startswith(("data:", "#")), (tag, key, value[:60])
    css = "".join(found.styles)
    assert "@import" not in css and "url(" not in css
    return found


def charts_of(found: Audit) -> dict[str, str]:
    """data-chart name -> the decoded SVG of its image."""
    out, current = {}, None
    for tag, attrs in found.tags:
        if tag == "figure":
            current = attrs["data-chart"]
        elif tag == "img" and current is not None:
            prefix = "data:image/svg+xml;base64,"
            assert attrs["src"].startswith(prefix)
            out[current] = base64.b64decode(attrs["src"][len(prefix):]).decode("utf-8")
            current = None
    return out


def hostile_csv(path: Path, rng: np.random.Generator, n: int = 300) -> Path:
    y, p = random_binary(rng, n)
    q = np.clip(p + rng.normal(0, 0.1, n), 0, 1)
    classes = np.array([f"neg {HOSTILE}", "pos & <b>bold</b>"])
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([f"id {HOSTILE}", "label", f"p {HOSTILE}", "q | pipe"])
        for i in range(n):
            sample = f"{HOSTILE}{i}" if i % 3 == 0 else f"s{i}"
            writer.writerow([sample, classes[y[i]], p[i], q[i]])
    return path


def run(*args: str):
    result = CliRunner().invoke(load_commands(), list(args))
    return result


@pytest.mark.slow
def test_explain_html_of_a_hostile_file(tmp_path, rng):
    data = hostile_csv(tmp_path / f"held out {HOSTILE.replace('/', '')}.csv", rng)
    out = tmp_path / "report.html"
    result = run("explain", str(data), "--label", "label", "--prob", f"p {HOSTILE}", "--id",
                 f"id {HOSTILE}", "--html", str(out), "--quiet")
    assert result.exit_code == 0, result.stderr
    page = out.read_text(encoding="utf-8")
    found = assert_self_contained(page)
    charts = charts_of(found)
    assert list(charts) == ["reliability", "confidence", "loss_by_confidence",
                            "loss_concentration", "threshold"]
    for svg in charts.values():
        root = xml.dom.minidom.parseString(svg.encode()).documentElement
        assert root.tagName == "svg" and "<script" not in svg
    # the hostile strings are text, shown as typed: class names, ids, the file name
    text = " ".join(found.text)
    assert "pos & <b>bold</b>" in text
    assert re.search(r"<script>alert\(1\)</script>\d+", text)  # a worst sample's id
    assert "&lt;script&gt;" in page and "&lt;b&gt;bold" in page
    assert "<b>bold" not in page


@pytest.mark.slow
def test_every_user_string_is_escaped_in_compare_and_markdown(tmp_path, rng):
    data = hostile_csv(tmp_path / "preds.csv", rng)
    html, md = tmp_path / "c.html", tmp_path / "c.md"
    result = run("compare", str(data), "--label", "label", "--prob", f"p {HOSTILE}", "--prob",
                 "q | pipe", "--id", f"id {HOSTILE}", "--html", str(html), "--md", str(md),
                 "--json")
    assert result.exit_code == 0, result.stderr
    json.loads(result.stdout)  # stdout keeps its one object; the files are named on stderr
    assert "lossgap: wrote" not in result.stdout and f"lossgap: wrote {html}" in result.stderr
    found = assert_self_contained(html.read_text(encoding="utf-8"))
    assert list(charts_of(found)) == ["forest", "flips_1"]
    assert f"p {HOSTILE}" in " ".join(found.text)
    text = md.read_text(encoding="utf-8")
    assert HOSTILE not in text and "&lt;script&gt;" in text
    tables = re.findall(r"(?:^\|.*\n)+", text, flags=re.MULTILINE)
    assert len(tables) == 2
    for table in tables:  # no "|" in a name split a row: every row has the header's cells
        cells = {len(re.split(r"(?<!\\)\|", row)) for row in table.splitlines()}
        assert len(cells) == 1


def test_history_html(tmp_path):
    log = tmp_path / f"train {HOSTILE.replace('/', '')}.csv"
    rows = [f"{e},{0.9 - e / 60},{0.5 + (e - 10) ** 2 / 400},{0.6 + e / 150}" for e in range(50)]
    log.write_text("epoch,loss,val_loss,val_accuracy\n" + "\n".join(rows) + "\n")
    out = tmp_path / "h.html"
    result = run("history", str(log), "--html", str(out), "--md", str(tmp_path / "h.md"),
                 "--plot", str(tmp_path / "plots"), "--quiet")
    assert result.exit_code == 0, result.stderr
    found = assert_self_contained(out.read_text(encoding="utf-8"))
    assert list(charts_of(found)) == ["history_1"]
    assert (tmp_path / "plots" / "history_1.png").exists()
    assert "&lt;script&gt;" in (tmp_path / "h.md").read_text(encoding="utf-8")


@pytest.mark.slow
def test_multiclass_class_names_escaped(rng):
    y, prob = random_multiclass(rng, 200, 3)
    names = np.array([HOSTILE, "b|c", "`tick`"])
    ev = explain(names[y], prob, classes=list(names))
    pred = Predictions(names[y], prob, classes=list(names))
    page = explain_report(ev, curves=evaluation_curves(ev, pred)).html()
    found = assert_self_contained(page)
    assert len(charts_of(found)) == 4
    assert HOSTILE in " ".join(found.text)
    md = explain_markdown(ev)
    assert HOSTILE not in md and "b\\|c" in md and "\\`tick\\`" in md


def test_notebook_fragment(rng):
    y, p = random_binary(rng, 100)
    ev = explain(y, p, ids=[f"{HOSTILE}{i}" for i in range(100)])
    fragment = ev._repr_html_()
    assert not fragment.lstrip().lower().startswith("<!doctype")
    assert fragment.lstrip().startswith("<style>") and 'class="lossgap"' in fragment
    found = assert_self_contained(fragment)
    assert list(charts_of(found)) == ["reliability", "loss_concentration"]


def test_pages_read_on_a_laptop_and_print(rng):
    y, p = random_binary(rng, 100)
    page = explain_report(explain(y, p)).html()
    assert '<meta name="viewport"' in page
    assert "@media print" in page and "break-inside: avoid" in page
    assert page.count("<h2>") >= 4


def test_report_renders_the_numbers_it_is_given(rng):
    y, p = random_binary(rng, 300)
    q = np.clip(p + rng.normal(0, 0.1, 300), 0, 1)
    c = compare({"a": p, "b": q}, y)
    found = audit(comparison_report(c).html())
    text = " ".join(found.text)
    d = c.pairs[0].accuracy_difference
    assert f"{d.value:+.4f}" in text and f"[{d.ci_low:+.4f}, {d.ci_high:+.4f}]" in text
    for m in c.models:
        assert f"{m.evaluation.metric('log_loss'):.4f}" in text


def test_markdown_escape():
    assert escape("a|b") == "a\\|b"
    assert escape("line\nbreak") == "line break"
    assert escape("<img src=x onerror=alert(1)>") == "&lt;img src=x onerror=alert(1)&gt;"
    assert escape("**bold** _it_ [link](x)") == "\\*\\*bold\\*\\* \\_it\\_ \\[link\\](x)"


@pytest.mark.parametrize("option", ["--html", "--md"])
def test_a_directory_is_not_a_report_file(tmp_path, rng, option):
    data = hostile_csv(tmp_path / "p.csv", rng, n=40)
    result = run("explain", str(data), "--label", "label", "--prob", f"p {HOSTILE}", option,
                 str(tmp_path), "--json")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1
    assert "is a directory" in result.stderr


def test_plot_into_a_file_is_refused(tmp_path, rng):
    data = hostile_csv(tmp_path / "p.csv", rng, n=40)
    result = run("explain", str(data), "--label", "label", "--prob", f"p {HOSTILE}", "--plot",
                 str(data), "--quiet")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "is a file: pass a directory" in result.stderr


def test_write_text_creates_folders(tmp_path):
    path = write_text(tmp_path / "a" / "b" / "r.html", "x", "--html")
    assert path.read_text() == "x"


def test_history_report_of_several_runs_names_them(tmp_path):
    from lossgap.history import analyse_history

    for name in ("run_a", "run_b"):
        folder = tmp_path / name
        folder.mkdir()
        rows = [f"{e},{0.9 - e / 60},{0.5 + (e - 8) ** 2 / 300},{0.6 + e / 150}" for e in range(40)]
        (folder / "log.csv").write_text("epoch,loss,val_loss,val_acc\n" + "\n".join(rows) + "\n")
    report = history_report(analyse_history(tmp_path))
    found = audit(report.html())
    assert len(charts_of(found)) == 2
    assert "(run_a/log.csv)" in " ".join(found.text)


def test_evaluation_report_without_samples_uses_only_the_evaluation(rng):
    y, p = random_binary(rng, 80)
    ev = evaluate_predictions(Predictions(y, p), replicates=0)
    report = explain_report(ev)
    assert [c.name for c in report.charts] == ["reliability", "loss_concentration"]
    assert report.markdown().startswith("### lossgap explain")


@pytest.mark.slow
def test_lab_html_and_markdown(tmp_path):
    points = tmp_path / "points <img src=x onerror=alert(1)>.csv"
    points.write_text("x,y\n-1,0\n-0.3,0\n0,1\n0.9,0\n1,1\n")
    html, md = tmp_path / "lab.html", tmp_path / "lab.md"
    result = run("lab", "logistic", "--points", str(points), "--html", str(html), "--md", str(md))
    assert result.exit_code == 0, result.stderr
    found = assert_self_contained(html.read_text(encoding="utf-8"))
    assert list(charts_of(found)) == ["logistic_fit", "profile_intercept", "profile_slope"]
    assert "points <img src=x onerror=alert(1)>.csv" in " ".join(found.text)
    text = md.read_text(encoding="utf-8")
    assert "&lt;img src=x" in text and "0.8000" in text


@pytest.mark.slow
def test_reports_show_themselves_in_a_notebook(rng):
    y, p = random_binary(rng, 200)
    q = np.clip(p + rng.normal(0, 0.1, 200), 0, 1)
    pred = Predictions(y, p)
    ev = evaluate_predictions(pred, replicates=0)
    full = explain_report(ev, curves=evaluation_curves(ev, pred)).html(standalone=False)
    assert len(charts_of(assert_self_contained(full))) == 5  # with the samples: every plot
    fragment = comparison_report(compare({"a": p, "b": q}, y)).html(standalone=False)
    assert "<!DOCTYPE" not in fragment
    assert list(charts_of(assert_self_contained(fragment))) == ["forest"]


@pytest.mark.slow
def test_every_result_shows_itself_in_a_notebook(tmp_path):
    import numpy as np

    from lossgap.history import analyse_history
    from lossgap.lab.logistic import ILLUSTRATIONS, logistic_lab

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    cmp = compare({"a": rng.uniform(size=200), "b": rng.uniform(size=200)}, y)
    path = tmp_path / "log.csv"
    rows = [f"{e},{0.5 - e / 50},{0.6 + (e - 4) ** 2 / 100},{0.7 + e / 100}" for e in range(10)]
    path.write_text("epoch,loss,val_loss,val_accuracy\n" + "\n".join(rows) + "\n")
    lab = logistic_lab(ILLUSTRATIONS[1]["x"], ILLUSTRATIONS[1]["y"])
    for result in (cmp, analyse_history(path), lab):
        html = result._repr_html_()
        assert "<svg" in html or "data:image/svg" in html
        assert "<html" not in html  # a fragment for the notebook cell

"""`lossgap explain` on every file format, and every bad file with its one line and exit 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from numpy.testing import assert_allclose
from sklearn.metrics import log_loss
from typer.testing import CliRunner

from lossgap.cli import load_commands
from tests.helpers.data import random_binary, random_multiclass

runner = CliRunner()
app = load_commands()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture
def binary_data(rng):
    y, p = random_binary(rng, 200)
    return y, np.clip(p, 1e-6, 1 - 1e-6)


def write_csv(path, columns, sep=","):
    names = list(columns)
    lines = [sep.join(names)]
    for row in zip(*columns.values(), strict=True):
        lines.append(sep.join(str(v) for v in row))
    path.write_text("\n".join(lines) + "\n")
    return path


def explain_json(*args):
    result = run("explain", *args, "--json")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    return json.loads(result.stdout)


def test_csv_with_guessed_columns(tmp_path, binary_data):
    y, p = binary_data
    path = write_csv(tmp_path / "preds.csv", {"label": y, "prob": p})
    out = explain_json(path)
    assert_allclose(out["metrics"]["log_loss"]["value"], log_loss(y, p), rtol=1e-9)
    assert out["n"] == 200


def test_every_format_gives_the_same_answer(tmp_path, binary_data):
    y, p = binary_data
    expected = log_loss(y, p)
    table = pa.table({"truth": y, "score": p, "sample": [f"s{i}" for i in range(len(y))]})
    paths = [write_csv(tmp_path / "a.tsv", {"truth": y, "score": p}, sep="\t")]
    pq.write_table(table, tmp_path / "a.parquet")
    paths.append(tmp_path / "a.parquet")
    with (tmp_path / "a.jsonl").open("w") as handle:
        for yi, pi in zip(y, p, strict=True):
            handle.write(json.dumps({"truth": int(yi), "score": float(pi)}) + "\n")
    paths.append(tmp_path / "a.jsonl")
    np.savez(tmp_path / "a.npz", truth=y, score=p)
    paths.append(tmp_path / "a.npz")
    structured = np.zeros(len(y), dtype=[("truth", "i8"), ("score", "f8")])
    structured["truth"], structured["score"] = y, p
    np.save(tmp_path / "a.npy", structured)
    paths.append(tmp_path / "a.npy")
    for path in paths:
        out = explain_json(path, "--label", "truth", "--prob", "score")
        assert_allclose(out["metrics"]["log_loss"]["value"], expected, rtol=1e-9, err_msg=str(path))


def test_multiclass_glob_and_ids(tmp_path, rng):
    y, prob = random_multiclass(rng, 150, 3)
    names = np.array(["bird", "cat", "dog"])[y]
    path = write_csv(
        tmp_path / "m.csv",
        {"id": [f"img{i}" for i in range(150)], "y": names,
         "p_bird": prob[:, 0], "p_cat": prob[:, 1], "p_dog": prob[:, 2]},
    )
    out = explain_json(path, "--label", "y", "--prob", "p_*", "--id", "id", "--top", "3")
    assert out["classes"] == ["bird", "cat", "dog"]
    assert_allclose(out["metrics"]["log_loss"]["value"], log_loss(y, prob), rtol=1e-6)
    assert len(out["worst"]) == 3 and out["worst"][0]["id"].startswith("img")


def test_logit_option_and_threshold_and_positive(tmp_path, binary_data):
    y, p = binary_data
    z = np.log(p) - np.log1p(-p)
    path = write_csv(tmp_path / "z.csv", {"label": np.where(y == 1, "pos", "neg"), "z": -z})
    out = explain_json(path, "--logit", "z", "--positive", "neg", "--threshold", "0.3")
    assert out["classes"] == ["pos", "neg"] and out["threshold"] == 0.3
    assert_allclose(out["metrics"]["log_loss"]["value"], log_loss(y, p), rtol=1e-9)


def test_weight_column(tmp_path, binary_data):
    y, p = binary_data
    w = np.linspace(0.5, 2, len(y))
    path = write_csv(tmp_path / "w.csv", {"label": y, "prob": p, "w": w})
    out = explain_json(path, "--weight", "w")
    assert_allclose(out["metrics"]["log_loss"]["value"], log_loss(y, p, sample_weight=w), rtol=1e-9)


def test_terminal_output_reads_like_an_explanation(tmp_path, binary_data):
    y, p = binary_data
    path = write_csv(tmp_path / "preds.csv", {"label": y, "prob": p})
    short = run("explain", path)
    assert short.exit_code == 0
    assert "Key numbers" in short.stdout and "What to do" in short.stdout
    result = run("explain", path, "--full")
    assert result.exit_code == 0
    assert "log_loss" in result.stdout and "Findings" in result.stdout
    assert "decision: p >= 0.5 predicts 1" in result.stdout.replace("\n", " ")


BAD_FILES = [
    ("empty.csv", b"", r"is empty"),
    ("header.csv", b"label,prob\n", r"has a header \(label, prob\) but no rows"),
    ("garbage.csv", bytes(range(256)) * 8, r"is not a CSV table"),
    ("garbage.parquet", b"PK\x03\x04 not parquet at all", r"is not a Parquet table"),
    ("nan.csv", b"label,prob\n0,0.2\n1,\n", r"column 'prob' has an empty value at row 1"),
    ("text.csv", b"label,prob\n0,0.2\n1,high\n", r"column 'prob' holds text \('high' at row 1\)"),
    ("logits.csv", b"label,prob\n0,-1.2\n1,2.5\n", r"these look like logits: .*--logit"),
    ("percent.csv", b"label,prob\n0,12\n1,88\n", r"these look like percentages"),
    ("single.csv", b"label,prob\n1,0.2\n1,0.9\n", r"single class"),
    ("sums.csv", b"y,p_a,p_b,p_c\na,0.5,0.2,0.2\nb,0.1,0.8,0.1\n", r"sum to 0.9 at row 0"),
    ("inf.csv", b"label,prob\n0,0.2\n1,inf\n", r"infinite value at row 1"),
    ("nolabel.csv", b"a,b\n0,0.2\n1,0.9\n", r"cannot tell which column .* holds the labels"),
    ("notjson.jsonl", b"this is not json\n", r"is not a JSON Lines"),
]


@pytest.mark.parametrize(("name", "content", "pattern"), BAD_FILES)
def test_bad_file_exits_2_with_one_line(tmp_path, name, content, pattern):
    path = tmp_path / name
    path.write_bytes(content)
    result = run("explain", path)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("lossgap: error: ")
    assert __import__("re").search(pattern, lines[0]), lines[0]
    assert result.stdout == ""


def test_missing_file_and_missing_column(tmp_path, binary_data):
    result = run("explain", tmp_path / "nope.csv")
    assert result.exit_code == 2 and "does not exist" in result.stderr
    y, p = binary_data
    path = write_csv(tmp_path / "p.csv", {"label": y, "prob": p})
    result = run("explain", path, "--prob", "score")
    assert result.exit_code == 2
    assert "no column 'score'" in result.stderr and "the columns are: label, prob" in result.stderr


def test_usage_error_exits_2(tmp_path):
    result = run("explain", tmp_path / "x.csv", "--threshold", "abc")
    assert result.exit_code == 2


@pytest.mark.slow
def test_python_dash_m_entry_point(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes(b"")
    proc = subprocess.run(
        [sys.executable, "-m", "lossgap", "explain", str(path)], capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


def test_confidence_and_seed_options(tmp_path, binary_data):
    y, p = binary_data
    path = write_csv(tmp_path / "preds.csv", {"label": y, "prob": p})
    a = explain_json(path, "--confidence", "0.8", "--seed", "3")
    b = explain_json(path, "--confidence", "0.8", "--seed", "3")
    assert a["confidence"] == 0.8 and a["metrics"]["f1"] == b["metrics"]["f1"]
    assert run("explain", path, "--confidence", "1.5").exit_code == 2


def _mislabelled(rng, n=4000):
    """Blurred scores whose labels were drawn from sharper ones: hundreds of candidates."""
    z = rng.normal(0, 3, n)
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(int)
    p = 1 / (1 + np.exp(-(z * 4 + rng.normal(0, 1, n))))
    return y, np.clip(p, 1e-9, 1 - 1e-9)


def test_json_lists_the_first_candidates_and_label_errors_writes_them_all(
    tmp_path, rng, monkeypatch
):
    import csv

    import lossgap
    from lossgap.results import diagnostics

    y, p = _mislabelled(rng)
    path = write_csv(tmp_path / "p.csv", {"y_true": y, "y_prob": p, "key": np.arange(len(y)) * 7})
    everyone = lossgap.explain(y, p, ids=np.arange(len(y)) * 7).diagnostics.label_errors.candidates
    assert everyone is not None and len(everyone) > 50
    monkeypatch.setattr(diagnostics, "MAX_JSON_CANDIDATES", 50)
    out = tmp_path / "errors.csv"
    result = run("explain", path, "--id", "key", "--json", "--label-errors", out)
    assert result.exit_code == 0, result.output
    facts = json.loads(result.stdout)["diagnostics"]["label_errors"]
    assert facts["candidates_total"] == len(everyone) and facts["candidates_listed"] == 50
    assert [c["id"] for c in facts["candidates"]] == [c.id for c in everyone[:50]]
    with out.open() as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["key", "label", "suggested", "probability", "chance",
                             "confident_learning"]
    assert [int(r["key"]) for r in rows] == [c.id for c in everyone]
    assert [float(r["probability"]) for r in rows] == [c.probability for c in everyone]
    assert [float(r["chance"]) for r in rows] == [c.chance for c in everyone]
    assert [r["confident_learning"] == "true" for r in rows] == [
        c.confident_learning for c in everyone
    ]
    # the finding names the first 1,000 ids (the JSON's list) and counts them all
    found = next(
        f for f in json.loads(result.stdout)["findings"] if f["code"] == "possible_label_errors"
    )
    assert found["evidence"]["ids"] == [c.id for c in everyone[:1000]]
    assert found["evidence"]["candidates"] == len(everyone)


def test_label_errors_file_is_refused_over_an_input_or_when_streaming(tmp_path, binary_data):
    y, p = binary_data
    path = write_csv(tmp_path / "p.csv", {"y_true": y, "y_prob": p})
    before = path.read_text()
    over = run("explain", path, "--label-errors", path)
    assert over.exit_code == 2 and "--label-errors" in over.output
    assert path.read_text() == before
    streamed = run("explain", path, "--engine", "stream", "--label-errors", tmp_path / "e.csv")
    assert streamed.exit_code == 2 and "--engine memory" in streamed.output
    assert not (tmp_path / "e.csv").exists()


def test_label_errors_file_lists_candidates_even_when_the_json_has_none(tmp_path, binary_data):
    import lossgap
    from lossgap.core.label_errors import candidates

    y, p = binary_data  # labels drawn from the scores: the test finds nothing beyond chance
    path = write_csv(tmp_path / "p.csv", {"y_true": y, "y_prob": p})
    result = run("explain", path, "--json", "--label-errors", tmp_path / "e.csv")
    facts = json.loads(result.stdout)["diagnostics"]["label_errors"]
    assert facts["candidates"] is None and facts["candidates_total"] is None
    rows = (tmp_path / "e.csv").read_text().splitlines()
    assert rows[0].startswith("row,label,suggested")
    assert len(rows) - 1 == len(candidates(lossgap.Predictions(y, p)))


def test_numpy_unless_loaded_leaves_the_choice_as_it_was(monkeypatch):
    from lossgap.core import binning

    monkeypatch.delenv("LOSSGAP_NUMBA", raising=False)
    binning._compiled.cache_clear()
    with binning.numpy_unless_loaded():
        assert not binning.compiled_available()
    assert "LOSSGAP_NUMBA" not in os.environ
    pytest.importorskip("numba")
    assert binning.compiled_available()
    with binning.numpy_unless_loaded():  # loaded already: kept
        assert binning.compiled_available()


def test_a_spinner_says_what_runs_only_where_someone_watches(monkeypatch):
    import io

    from lossgap.cli import watcher
    from lossgap.cli.explain import _working
    from lossgap.render.text import make_console

    out = io.StringIO()
    console = make_console(file=out, force_terminal=True, width=80)
    with _working(console, "Reading preds[bold]\x1b[2J.csv"):
        pass
    shown = out.getvalue()
    assert "Reading preds[bold]\\x1b[2J.csv" in shown  # the name inert, its bytes escaped
    assert "\x1b[2J" not in shown
    with _working(None, "Reading x"):  # no one watches: nothing happens
        pass
    # under pytest stderr is captured, not a terminal: no spinner there
    assert watcher(json=False, quiet=False) is None
    monkeypatch.setenv("FORCE_COLOR", "1")  # rich takes stderr for a terminal
    shown_to = watcher(json=False, quiet=False)
    assert shown_to is not None and shown_to.stderr
    assert watcher(json=True, quiet=False) is None
    assert watcher(json=False, quiet=True) is None

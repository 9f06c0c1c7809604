"""The demo: the story it tells, and the command that tells it."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from lossgap.cli import load_commands
from lossgap.demo import CLASSES, run_demo, saved_epochs
from lossgap.history import analyse_history
from lossgap.render.html import demo_report
from lossgap.results.evaluation import json_safe

# The tests that need the session's demo network (training, a full report: seconds) are
# marked slow; make test runs each file on one worker (--dist loadfile), so it is built once.


@pytest.fixture(scope="module")
def story(demo_run, tmp_path_factory):
    return run_demo(out=tmp_path_factory.mktemp("demo"))


@pytest.mark.slow
def test_validation_loss_rises_while_accuracy_improves(story):
    run = story.run
    best = run.best("val_loss")
    last = run.history[-1]
    assert best["epoch"] < 10
    assert last["val_loss"] > 2 * best["val_loss"]
    assert last["val_accuracy"] > best["val_accuracy"]
    assert (story.early, story.late) == (best["epoch"], len(run.history) - 1)


@pytest.mark.slow
def test_history_explain_and_compare_say_why(story):
    codes = {f.code for _, f in story.history.all_findings()}
    assert {"loss_accuracy_divergence", "calibration_drift"} <= codes
    assert story.evaluation.finding("confident_errors") is not None
    temperature = story.evaluation.recalibration["methods"]["temperature"]
    assert temperature["log_loss_after"] < story.evaluation.metric("log_loss") / 2
    names = {m.name for m in story.comparison.models}
    assert names == {f"epoch {story.early}", f"epoch {story.late}"}
    assert story.comparison.models[0].name == f"epoch {story.early}"  # best by log loss


@pytest.mark.slow
def test_files_are_what_history_reads(story):
    report = analyse_history(story.files["log"], predictions=story.files["predictions"])
    assert report.runs[0].run.format == "keras"
    assert [row.epoch for row in report.per_epoch] == saved_epochs(story.run)
    assert report.best()["val_loss"].epoch == story.early


@pytest.mark.slow
def test_story_json_is_plain(story):
    data = json.loads(json.dumps(json_safe(story.to_dict()), allow_nan=False))
    assert {"history", "best", "explain", "history_analysis", "compare", "files"} <= set(data)
    assert data["epochs_compared"] == {"early": story.early, "late": story.late}
    assert data["explain"]["classes"] == list(CLASSES)


@pytest.mark.slow
def test_one_page_with_all_three_parts(story):
    curves, flips = story.plot_data()
    page = demo_report(story, curves=curves, flips=flips).html()
    sections = ("history_1", "epochs", "reliability", "threshold", "forest", "flips_1")
    for name in sections:
        assert f'data-chart="{name}"' in page
    assert page.count("<h2>") >= 4 and "What to do" in page


@pytest.mark.slow
def test_saved_epochs_include_the_best_and_last(demo_run):
    best, last = int(demo_run.best("val_loss")["epoch"]), len(demo_run.history) - 1
    assert saved_epochs(demo_run, every=40) == sorted({0, 40, 80, 120, best, last})


@pytest.mark.slow
def test_demo_command_prints_the_report_path(demo_run, tmp_path):
    result = CliRunner().invoke(load_commands(), ["demo", "--out", str(tmp_path), "--quiet"])
    assert result.exit_code == 0, result.stderr
    last = result.stdout.strip().splitlines()[-1]
    assert last == f"Report: {(tmp_path / 'report.html').resolve()}"
    assert (tmp_path / "report.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert (tmp_path / "training.log").exists()


@pytest.mark.slow
def test_demo_json_and_own_paths(demo_run, tmp_path):
    html, md = tmp_path / "r" / "demo.html", tmp_path / "demo.md"
    result = CliRunner().invoke(
        load_commands(),
        ["demo", "--out", str(tmp_path / "o"), "--html", str(html), "--md", str(md), "--json"],
    )
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""  # --json silences the progress bar
    data = json.loads(result.stdout)
    assert data["report"] == str(html.resolve())
    assert html.exists() and md.read_text(encoding="utf-8").startswith("### lossgap history")


def test_demo_html_into_a_directory_is_refused(tmp_path):
    result = CliRunner().invoke(
        load_commands(),
        ["demo", "--epochs", "3", "--out", str(tmp_path), "--html", str(tmp_path), "--quiet"],
    )
    assert result.exit_code == 2
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1

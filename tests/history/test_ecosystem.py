"""Logs as users have them: files a real TensorFlow 2 / Keras 3 run wrote, notebook
objects, W&B exports. Every reader must give the best epochs of Keras's own CSVLogger file.

The Keras files in ``tests/data/keras_tf`` were written by ``make_fixtures.py`` beside them
(TensorFlow 2.21, Keras 3.15, CPU); ``training.log`` is CSVLogger's record of the same fit.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

import lossgap
from lossgap.errors import InputError
from lossgap.history import analyse_history
from lossgap.history.readers import read_logs

KERAS_TF = Path(__file__).resolve().parents[1] / "data" / "keras_tf"


def reference() -> dict[str, list[float]]:
    """CSVLogger's columns, read with the csv module (no lossgap code involved)."""
    with (KERAS_TF / "training.log").open() as f:
        rows = list(csv.DictReader(f))
    return {k: [float(r[k]) for r in rows] for k in rows[0]}


def best(values: list[float], direction: str) -> int:
    return int(np.argmin(values) if direction == "min" else np.argmax(values))


@pytest.fixture(scope="module")
def expected():
    ref = reference()
    assert len(ref["epoch"]) == 24
    # The fixture overfits: the loss turns up long before accuracy stops moving.
    assert best(ref["val_loss"], "min") != best(ref["val_accuracy"], "max")
    return ref


def check(report, ref, *, tol=0.0):
    run = report.runs[0].run
    assert run.n_points == len(ref["epoch"])
    assert run.epoch.tolist() == ref["epoch"]
    np.testing.assert_allclose(run.values("val_loss"), ref["val_loss"], rtol=tol, atol=tol)
    np.testing.assert_allclose(run.values("val_accuracy"), ref["val_accuracy"], rtol=tol, atol=tol)
    np.testing.assert_allclose(run.values("loss"), ref["loss"], rtol=tol, atol=tol)
    found = report.best()
    assert found["val_loss"].epoch == best(ref["val_loss"], "min")
    assert found["val_accuracy"].epoch == best(ref["val_accuracy"], "max")


def test_tensorboard_written_by_tensorflow_keras(expected):
    """TF2 writes scalars as tensor summaries under train/ and validation/."""
    pytest.importorskip("tensorboard")
    report = analyse_history(KERAS_TF / "tensorboard")
    assert report.runs[0].run.format == "tensorboard"
    assert report.runs[0].run.axis == "epoch"
    # TensorBoard stores float32: the values equal CSVLogger's to float32 precision.
    check(report, expected, tol=1e-7)
    notes = " ".join(report.runs[0].run.notes)
    assert "evaluation_loss_vs_iterations" in notes  # the iteration-axis tags are set aside


def test_one_tensorflow_event_file_alone():
    pytest.importorskip("tensorboard")
    file = next((KERAS_TF / "tensorboard" / "validation").glob("*tfevents*"))
    (raw,) = read_logs(file).logs
    assert "epoch_loss" in raw.table.columns and raw.table.n_rows > 0


@pytest.mark.parametrize("name", ["console_verbose1.txt", "console_verbose2.txt"])
def test_keras_console_transcript(expected, name):
    report = analyse_history(KERAS_TF / name)
    assert report.runs[0].run.format == "keras-console"
    check(report, expected, tol=5e-5)  # Keras prints 4 decimals


def test_console_transcript_pasted_without_progress_bars(tmp_path, expected):
    lines = (KERAS_TF / "console_verbose2.txt").read_text().splitlines()
    # What a user copies from a notebook: Keras 2 style bars, a cut-off last epoch.
    pasted = [
        line.replace("10/10 - ", "10/10 [==============================] - ") for line in lines
    ] + ["Epoch 25/30", " 3/10 [=====>........] - ETA: 0s - loss: 0.0312 - accuracy: 0.9896"]
    path = tmp_path / "output.txt"
    path.write_text("Some notebook noise\n" + "\n".join(pasted) + "\n")
    report = analyse_history(path)
    run = report.runs[0].run
    # The cut-off epoch has no validation metrics: it is not a validation point.
    assert run.n_points == 24
    assert report.best()["val_loss"].epoch == best(expected["val_loss"], "min")


def test_console_without_metrics_is_one_clear_error(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("Epoch 1/3\nEpoch 2/3\n")
    with pytest.raises(InputError, match="no 'name: value' metrics"):
        analyse_history(path)


def test_history_json_written_by_keras(expected):
    check(analyse_history(KERAS_TF / "history.json"), expected)


class FakeHistory:
    """What model.fit returns, as far as lossgap looks: a .history dict."""

    def __init__(self, history):
        self.history = history
        self.params = {"epochs": 24}


def test_top_level_history_takes_notebook_objects(expected):
    pd = pytest.importorskip("pandas")
    data = json.loads((KERAS_TF / "history.json").read_text())
    for obj in (data, FakeHistory(data), pd.DataFrame(data)):
        report = lossgap.history(obj)
        check(report, expected)
    # The package stays a package.
    import lossgap.history.readers as readers

    assert readers.read_object is not None


def test_polars_and_arrow_tables(expected):
    pl = pytest.importorskip("polars")
    import pyarrow as pa

    data = json.loads((KERAS_TF / "history.json").read_text())
    check(lossgap.history(pl.DataFrame(data)), expected)
    check(lossgap.history(pa.table(data)), expected)


def test_history_object_errors():
    with pytest.raises(InputError, match="cannot read a set"):
        lossgap.history({1, 2})
    with pytest.raises(InputError, match="must line up"):
        lossgap.history({"loss": [1.0, 0.5, 0.4], "val_loss": [1.0, 0.9]})


# --------------------------------------------------------------------------- W&B

WANDB_HF = Path(__file__).resolve().parents[1] / "data" / "wandb_hf"


def test_wandb_history_of_a_real_hugging_face_run():
    """history.csv holds the history rows of a real offline W&B run that Hugging Face's
    Trainer logged (make_fixture.py); its trainer_state.json is the reference."""
    state = json.loads((WANDB_HF / "trainer_state.json").read_text())
    evals = [e for e in state["log_history"] if "eval_loss" in e]
    report = analyse_history(WANDB_HF / "history.csv")
    run = report.runs[0].run
    assert run.format == "wandb"
    np.testing.assert_allclose(run.values("val_loss"), [e["eval_loss"] for e in evals], rtol=1e-12)
    np.testing.assert_allclose(run.epoch, [e["epoch"] for e in evals], rtol=1e-12)
    # Training losses logged between two evaluations: their mean, from the Trainer's record.
    trains = [e for e in state["log_history"] if "loss" in e and "eval_loss" not in e]
    expected, since = [], []
    for entry in state["log_history"]:
        if entry in trains:
            since.append(entry["loss"])
        elif entry in evals:
            expected.append(np.mean(since) if since else np.nan)
            since = []
    np.testing.assert_allclose(run.values("loss"), expected, rtol=1e-6)
    found = report.best()
    assert found["val_loss"].epoch == pytest.approx(
        min(evals, key=lambda e: e["eval_loss"])["epoch"]
    )
    best_acc = max(e["eval_accuracy"] for e in evals)
    assert found["val_accuracy"].value == best_acc


#: A Hugging Face run logged to W&B: training loss every 10 steps, evaluation every 30,
#: each in its own ``wandb.log`` call, so on its own ``_step`` (what ``run.history()`` has).
TRAIN = [0.69, 0.61, 0.55, 0.50, 0.46, 0.41, 0.37, 0.33, 0.30]
EVAL_LOSS = [0.52, 0.47, 0.49]
EVAL_ACC = [0.74, 0.78, 0.80]


def wandb_history_rows():
    rows, step = [], 0
    for i, loss in enumerate(TRAIN):
        rows.append(
            {
                "_step": step,
                "train/loss": loss,
                "train/epoch": (i + 1) / 3,
                "train/global_step": 10 * (i + 1),
            }
        )
        step += 1
        if (i + 1) % 3 == 0:
            k = i // 3
            rows.append(
                {
                    "_step": step,
                    "eval/loss": EVAL_LOSS[k],
                    "eval/accuracy": EVAL_ACC[k],
                    "train/epoch": (i + 1) / 3,
                    "train/global_step": 10 * (i + 1),
                }
            )
            step += 1
    return rows


def write_csv(path, rows, columns):
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, columns, restval="")
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_wandb_run_history_merged_by_step(tmp_path):
    rows = wandb_history_rows()
    for i, row in enumerate(rows):  # the bookkeeping W&B adds to every row
        row.update({"": i, "_runtime": 1.5 * i, "_timestamp": 1.7e9 + i})
    columns = [
        "",
        "_runtime",
        "_step",
        "_timestamp",
        "eval/accuracy",
        "eval/loss",
        "train/epoch",
        "train/global_step",
        "train/loss",
    ]
    report = analyse_history(write_csv(tmp_path / "history.csv", rows, columns))
    run = report.runs[0].run
    assert run.format == "wandb"
    assert run.epoch.tolist() == [1, 2, 3]
    np.testing.assert_allclose(run.values("val_loss"), EVAL_LOSS)
    # The training loss of each point: the mean of the 3 rows logged since the last eval.
    np.testing.assert_allclose(run.values("loss"), np.mean(np.reshape(TRAIN, (3, 3)), axis=1))
    assert report.best()["val_loss"].epoch == 2
    assert report.best()["val_accuracy"].epoch == 3
    assert "timestamp" not in " ".join(run.metrics)


def test_wandb_run_history_dataframe():
    pd = pytest.importorskip("pandas")
    report = lossgap.history(pd.DataFrame.from_records(wandb_history_rows()))
    np.testing.assert_allclose(
        report.runs[0].run.values("loss"),
        [0.6166666666666667, 0.4566666666666667, 0.3333333333333333],
    )


def test_wandb_chart_export(tmp_path):
    """A chart's "Export CSV": Step, then RUN - METRIC with its __MIN/__MAX band per run."""
    header = ["Step"]
    for run in ("dainty-sun-3", "Group: lr=0.1"):
        for metric in ("val/loss", "val/accuracy"):
            header += [f"{run} - {metric}", f"{run} - {metric}__MIN", f"{run} - {metric}__MAX"]
    losses = {"dainty-sun-3": [0.6, 0.5, 0.55, 0.58], "Group: lr=0.1": [0.7, 0.65, 0.6, ""]}
    accs = {"dainty-sun-3": [0.70, 0.75, 0.78, 0.77], "Group: lr=0.1": [0.6, 0.62, 0.66, ""]}
    rows = []
    for i, step in enumerate((100, 200, 300, 400)):
        row = {"Step": step}
        for run in losses:
            for metric, values in (("val/loss", losses), ("val/accuracy", accs)):
                for suffix in ("", "__MIN", "__MAX"):
                    row[f"{run} - {metric}{suffix}"] = values[run][i]
        rows.append(row)
    report = analyse_history(write_csv(tmp_path / "wandb_export.csv", rows, header))
    assert [r.run.name for r in report.runs] == [
        "wandb_export.csv [dainty-sun-3]",
        "wandb_export.csv [Group: lr=0.1]",
    ]
    first, second = report.runs
    assert first.run.step.tolist() == [100, 200, 300, 400]
    assert first.best["val_loss"].step == 200 and first.best["val_accuracy"].step == 300
    assert second.run.n_points == 3  # the run that stopped early
    assert second.best["val_loss"].step == 300


REAL_WANDB_EXPORT = Path(__file__).parents[1] / "data" / "wandb_chart" / "wandb_export.csv"


def test_real_wandb_chart_export():
    """A chart export the W&B web app wrote (tests/data/wandb_chart/SOURCE.md): eight runs of
    one train loss; each run's best step as logged is pandas' idxmin of its column, and the
    last row (no line end, every field quoted) is read, not taken for a row being written."""
    pd = pytest.importorskip("pandas")
    frame = pd.read_csv(REAL_WANDB_EXPORT)
    report = analyse_history(REAL_WANDB_EXPORT, loss="train/loss")
    runs = [c[: -len(" - train/loss")] for c in frame.columns if c.endswith(" - train/loss")]
    assert [r.run.name for r in report.runs] == [f"wandb_export.csv [{run}]" for run in runs]
    for analysis, run in zip(report.runs, runs, strict=True):
        column = frame[f"{run} - train/loss"]
        best = analysis.best[analysis.run.loss]
        assert best.epoch == frame["Step"][column.idxmin()]
        assert best.value == pytest.approx(column.min(), rel=1e-12)
        assert analysis.run.n_points == column.notna().sum()
        assert not any("no line end" in note for note in analysis.run.notes)
    longest = max(report.runs, key=lambda r: r.run.n_points)
    assert longest.run.label(longest.run.n_points - 1) == frame["Step"].iloc[-1] == 385


def test_real_wandb_chart_export_answer():
    """The short answer of several runs names the run it is about, compares the runs'
    lowest losses, and says nothing of an accuracy the export does not hold."""
    from lossgap.render.history import history_answer

    report = analyse_history(REAL_WANDB_EXPORT, loss="train/loss")
    lowest = min(report.runs, key=lambda r: r.best[r.run.loss].value)
    assert lowest.run.name == "wandb_export.csv [gpt2]"  # 3.2632 at step 347
    answer = history_answer(report)
    # no run has a serious finding: the answer is about the run of the lowest loss
    assert answer.headline.startswith("In wandb_export.csv [gpt2], keep step ")
    assert "accuracy" in answer.headline and "agree" not in answer.headline
    # the main run is the lowest: no separate "lowest of 8 runs" number
    assert not any("of 8 runs" in n.label for n in answer.numbers)


def test_lowest_loss_of_several_runs_is_named():
    """When the answer is about another run (one with a serious finding), the runs' lowest
    loss is a key number naming its run and step."""
    from lossgap.render.history import _lowest_loss

    report = analyse_history(REAL_WANDB_EXPORT, loss="train/loss")
    other = report.runs[0]
    number = _lowest_loss(report, other)
    assert number is not None
    assert number.label == f"lowest {other.run.loss} of 8 runs"
    assert number.value == "3.2632"
    assert number.note == "wandb_export.csv [gpt2], step 347, as logged"
    gpt2 = next(r for r in report.runs if r.run.name.endswith("[gpt2]"))
    assert _lowest_loss(report, gpt2) is None

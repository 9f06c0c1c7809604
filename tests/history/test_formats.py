"""History readers on every format, from a held-out history whose truth is known.

The history: validation loss falls until epoch 40 of 400, then rises linearly; validation
accuracy (a binomial proportion over 2000 samples) rises to the end. The same numbers are
written as a Keras CSVLogger file, a Keras History JSON, a Lightning metrics.csv (train and
validation rows interleaved), a Hugging Face trainer_state.json and a TensorBoard run
written by ``torch.utils.tensorboard``; every reader must give the same best epochs (as
each log numbers them) and find the divergence near epoch 40.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from lossgap.history import analyse_history, normalise_name, read_logs
from tests.helpers.histories import (
    EPOCHS,
    N_VAL,
    ONSET,
    STEPS_PER_EPOCH,
    History,
    make_history,
    write_keras_csv,
    write_keras_json,
    write_lightning_csv,
    write_tensorboard,
    write_trainer_state,
)


@pytest.fixture(scope="module")
def history() -> History:
    return make_history(seed=7)


@pytest.mark.parametrize(
    ("writer", "name", "fmt", "first_epoch"),
    [
        (write_keras_csv, "training.log", "keras", 0),
        (write_keras_json, "history.json", "keras-history", 0),
        (write_lightning_csv, "metrics.csv", "lightning", 0),
        (write_trainer_state, "trainer_state.json", "huggingface", 1),
    ],
)
def test_every_format_finds_the_best_epochs_and_the_divergence(
    tmp_path, history, writer, name, fmt, first_epoch
):
    report = analyse_history(writer(tmp_path / name, history))
    (analysis,) = report.runs
    assert analysis.run.format == fmt
    assert analysis.run.n_points == EPOCHS
    # Best epochs as the log numbers them: numpy's argmin/argmax of the values written.
    assert analysis.best["val_loss"].epoch == int(np.argmin(history.val_loss)) + first_epoch
    assert analysis.best["val_accuracy"].epoch == int(np.argmax(history.val_acc)) + first_epoch
    assert analysis.best["val_loss"].value == pytest.approx(history.val_loss.min(), rel=1e-12)
    div = analysis.divergence
    assert div is not None and div.direction == "loss_rises"
    assert abs(div.start_epoch - first_epoch - ONSET) <= 15
    assert div.score_trend.trend == "rising"
    codes = [f.code for f in analysis.findings]
    assert "loss_accuracy_divergence" in codes and "best_epochs_disagree" in codes


def test_tensorboard_run_written_by_torch(tmp_path, history):
    run_dir = write_tensorboard(tmp_path / "runs" / "exp1", history)
    (analysis,) = analyse_history(run_dir).runs
    assert analysis.run.format == "tensorboard"
    loss_best = int(np.argmin(history.val_loss))
    # float32 summaries: compare the epoch (logged as a tag) and the step.
    assert analysis.best["val_loss"].epoch == loss_best
    assert analysis.best["val_loss"].step == (loss_best + 1) * STEPS_PER_EPOCH
    assert analysis.best["val_loss"].value == pytest.approx(history.val_loss.min(), rel=1e-6)
    assert abs(analysis.divergence.start_epoch - ONSET) <= 15
    # The training loss logged at each step is attached to its validation point.
    assert analysis.run.train_loss == "loss"


def test_lightning_rows_merge_by_epoch(tmp_path, history):
    (raw,) = read_logs(write_lightning_csv(tmp_path / "metrics.csv", history)).logs
    assert raw.table.merge == "epoch"
    analysis = analyse_history(tmp_path / "metrics.csv").runs[0]
    run = analysis.run
    # train_loss_epoch wins over train_loss_step; the step variant stays under its own name.
    assert run.metrics["loss"].name.original == "train_loss_epoch"
    assert run.metrics["loss_step"].aggregation == "mean"
    np.testing.assert_allclose(run.metrics["loss"].values, history.train_loss, rtol=1e-12)
    np.testing.assert_allclose(run.metrics["loss_step"].values, history.train_loss + 0.01)
    np.testing.assert_allclose(run.step, np.arange(1, EPOCHS + 1) * STEPS_PER_EPOCH - 1)


def test_trainer_state_buckets_training_logs_by_evaluation_step(tmp_path, history):
    state = write_trainer_state(tmp_path / "trainer_state.json", history)
    analysis = analyse_history(state).runs[0]
    run = analysis.run
    np.testing.assert_allclose(run.epoch, np.arange(1, EPOCHS + 1))
    # Two training logs per evaluation, both of that epoch's loss: their mean is it.
    np.testing.assert_allclose(run.metrics["loss"].values, history.train_loss, rtol=1e-12)
    assert analysis.n_val == N_VAL
    assert analysis.n_val_source == "eval_runtime x eval_samples_per_second"
    assert analysis.divergence.noise.within_noise is False


def test_keras_tensorboard_callback_layout(tmp_path):
    """Keras writes train/ and validation/ subdirectories with epoch_* tags."""
    SummaryWriter = pytest.importorskip("torch.utils.tensorboard").SummaryWriter

    h = make_history(seed=3, epochs=30, onset=10)
    for split, loss, acc in (
        ("train", h.train_loss, h.train_acc),
        ("validation", h.val_loss, h.val_acc),
    ):
        writer = SummaryWriter(log_dir=str(tmp_path / "logs" / split))
        for e in range(h.epochs):
            writer.add_scalar("epoch_loss", loss[e], e)
            writer.add_scalar("epoch_accuracy", acc[e], e)
        writer.close()
    (analysis,) = analyse_history(tmp_path / "logs").runs
    columns = analysis.run.columns()
    assert columns["val_loss"] == "validation/epoch_loss"
    assert columns["loss"] == "train/epoch_loss"
    assert analysis.best["val_loss"].step == int(np.argmin(h.val_loss.astype(np.float32)))


def test_directory_of_versions(tmp_path, history):
    for version, seed in ((0, 1), (1, 2)):
        folder = tmp_path / "lightning_logs" / f"version_{version}"
        folder.mkdir(parents=True)
        write_lightning_csv(folder / "metrics.csv", make_history(seed=seed, epochs=60))
        (folder / "hparams.yaml").write_text("lr: 0.1\n")
    report = analyse_history(tmp_path / "lightning_logs")
    assert [r.run.name for r in report.runs] == ["version_0/metrics.csv", "version_1/metrics.csv"]
    best = report.best()["val_loss"]
    values = {r.run.name: r.best["val_loss"].value for r in report.runs}
    assert best.run == min(values, key=values.get)


def test_plain_csv_with_named_columns(tmp_path, history):
    lines = ["iteration_loss,dev_err,my_val_ce,my_val_acc"]
    for e in range(60):
        loss, _, val_loss, val_acc = history.row(e)
        lines.append(f"{loss!r},{1 - val_acc!r},{val_loss!r},{val_acc!r}")
    path = tmp_path / "custom.csv"
    path.write_text("\n".join(lines) + "\n")
    report = analyse_history(path, loss="my_val_ce", accuracy="my_val_acc")
    (analysis,) = report.runs
    run = analysis.run
    assert run.format == "csv"
    assert run.columns()[run.loss] == "my_val_ce" and run.columns()[run.score] == "my_val_acc"
    assert analysis.best[run.loss].epoch == int(np.argmin(history.val_loss[:60]))
    assert analysis.best[run.loss].name == "my_val_ce"
    assert "the log numbers no epochs: points numbered by row from 0" in analysis.run.notes


def test_json_lines_records(tmp_path, history):
    rows = []
    for e in range(20):
        loss, _, val_loss, val_acc = history.row(e)
        rows.append({"epoch": e + 1, "loss": loss, "val_loss": val_loss, "val_acc": val_acc})
    path = tmp_path / "log.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    (analysis,) = analyse_history(path).runs
    assert analysis.run.format == "json"
    assert analysis.best["val_loss"].epoch == int(np.argmin(history.val_loss[:20])) + 1


def test_keras_history_with_validation_freq(tmp_path):
    data = {"loss": [0.9, 0.8, 0.7, 0.6], "val_loss": [0.85, 0.75], "val_accuracy": [0.6, 0.7]}
    path = tmp_path / "history.json"
    path.write_text(json.dumps(data))
    run = analyse_history(path).runs[0].run
    assert run.epoch.tolist() == [1.0, 3.0]
    assert run.metrics["loss"].values.tolist() == [0.8, 0.6]


def test_pandas_history_csv_with_an_unnamed_index(tmp_path):
    path = tmp_path / "hist.csv"
    path.write_text(",loss,val_loss,val_acc\n0,0.9,0.8,0.6\n1,0.7,0.75,0.65\n")
    run = analyse_history(path).runs[0].run
    assert run.format == "keras" and run.epoch.tolist() == [0.0, 1.0]


def test_percentages_become_fractions(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("epoch,val_loss,val_acc\n0,0.9,61.5\n1,0.8,70.25\n2,0.7,72.0\n")
    run = analyse_history(path).runs[0].run
    assert run.metrics["val_accuracy"].values.tolist() == [0.615, 0.7025, 0.72]
    assert any("percentage" in note for note in run.notes)


@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        ("acc", "accuracy"),
        ("accuracy", "accuracy"),
        ("val_acc", "val_accuracy"),
        ("val_accuracy", "val_accuracy"),
        ("eval_accuracy", "val_accuracy"),
        ("valid_acc", "val_accuracy"),
        ("validation/epoch_accuracy", "val_accuracy"),
        ("Accuracy/val", "val_accuracy"),
        ("loss", "loss"),
        ("val_loss", "val_loss"),
        ("eval_loss", "val_loss"),
        ("eval/loss", "val_loss"),
        ("train_loss_epoch", "loss"),
        ("Loss_val/Loss", "val_loss"),
        ("test_acc", "test_accuracy"),
        ("val_sparse_categorical_accuracy", "val_accuracy"),
        ("eval_macro_f1", "val_f1_macro"),
        ("val_F1_score", "val_f1"),
        ("learning_rate", "learning_rate"),
    ],
)
def test_metric_names_normalise(name, canonical):
    assert normalise_name(name).canonical == canonical
    assert normalise_name(name).original == name

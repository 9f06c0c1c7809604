"""Per-epoch predictions: each epoch explained by the explanation engine, the drift named.

The predictions of every epoch share one ranking and grow more confident (the logits
are scaled up), so the isotonic recalibration, and with it CORP's discrimination and
uncertainty, is the same at every epoch while miscalibration grows: the seed's puzzle
(loss rising, accuracy steady) with its answer known in advance.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.optimize import minimize_scalar
from scipy.special import expit
from sklearn.metrics import accuracy_score, log_loss
from typer.testing import CliRunner

from lossgap import InputError
from lossgap.cli import load_commands
from lossgap.history import analyse_history
from lossgap.history.epochs import epoch_of, prediction_files
from lossgap.integrations import write_epoch_predictions

SCALES = [1.0, 1.5, 2.5, 4.0, 6.0]


@pytest.fixture
def run_with_predictions(tmp_path):
    rng = np.random.default_rng(17)
    n = 800
    z = rng.normal(0, 1.2, n)
    y = (rng.random(n) < expit(z)).astype(int)
    probs = []
    for epoch, scale in enumerate(SCALES):
        p = expit(scale * z)
        write_epoch_predictions(tmp_path / "preds", epoch, y, p)
        probs.append(p)
    log = ["epoch,loss,val_loss,val_accuracy"]
    for epoch, p in enumerate(probs):
        log.append(f"{epoch},{0.6 - epoch / 20},{log_loss(y, p)!r},{accuracy_score(y, p >= 0.5)!r}")
    (tmp_path / "training.log").write_text("\n".join(log) + "\n")
    return tmp_path, y, probs


def test_each_epoch_against_scikit_learn_and_brute_force(run_with_predictions):
    folder, y, probs = run_with_predictions
    report = analyse_history(folder / "training.log", predictions=folder / "preds")
    assert [row.epoch for row in report.per_epoch] == list(range(len(SCALES)))
    for row, p in zip(report.per_epoch, probs, strict=True):
        assert row.n == y.size
        assert row.accuracy == pytest.approx(accuracy_score(y, p >= 0.5))
        assert row.log_loss == pytest.approx(log_loss(y, p), rel=1e-9)
        true_prob = np.where(y == 1, p, 1 - p)
        confident = true_prob <= 0.1
        assert row.confident_errors.count == confident.sum()
        loss = -np.log(true_prob)
        share = loss[confident].sum() / loss.sum()
        assert row.confident_errors.loss_share == pytest.approx(share)
        parts = row.decomposition
        identity = parts.miscalibration - parts.discrimination + parts.uncertainty
        assert parts.score == pytest.approx(identity, abs=1e-12)
        assert parts.score == pytest.approx(row.log_loss, rel=1e-9)


def test_rising_loss_reads_as_miscalibration(run_with_predictions):
    folder, _, _ = run_with_predictions
    report = analyse_history(folder / "training.log", predictions=folder / "preds")
    rows = report.per_epoch
    # One ranking at every epoch: the same isotonic fit, so the same discrimination.
    discrimination = [r.decomposition.discrimination for r in rows]
    np.testing.assert_allclose(discrimination, discrimination[0], rtol=1e-9)
    miscalibration = [r.decomposition.miscalibration for r in rows]
    assert miscalibration[-1] > miscalibration[0]
    (drift,) = [f for f in report.findings if f.code == "calibration_drift"]
    assert drift.evidence["to_epoch"] == len(SCALES) - 1
    assert drift.evidence["miscalibration_to"] == miscalibration[-1]
    assert "discrimination stayed at about" in drift.message
    # The advice carries the engine's cross-fitted temperature-scaling result.
    recal = report.runs[0].advice.recalibrate
    assert report.runs[0].n_val_source == "per-epoch predictions"
    saved = rows[recal.epoch]
    assert recal.log_loss == saved.log_loss
    assert recal.expected_log_loss == saved.temperature_scaled.log_loss_after


def test_cli_prints_the_per_epoch_table(run_with_predictions):
    folder, _, _ = run_with_predictions
    app = load_commands()
    args = ["history", str(folder / "training.log"), "--predictions", str(folder / "preds")]
    short = CliRunner().invoke(app, args)
    assert short.exit_code == 0, short.stderr
    assert "miscalibration" in short.stdout and "temperature-scale" in short.stdout
    result = CliRunner().invoke(app, [*args, "--full"])
    assert result.exit_code == 0, result.stderr
    assert "miscalibration" in result.stdout and "calibration_drift" in result.stdout
    result = CliRunner().invoke(
        app,
        ["history", str(folder / "training.log"), "--predictions", str(folder / "preds"), "--json"],
    )
    out = json.loads(result.stdout)
    assert len(out["per_epoch"]) == len(SCALES)
    assert any(f["code"] == "calibration_drift" and f["run"] is None for f in out["findings"])


@pytest.mark.parametrize(
    ("name", "epoch"),
    [("epoch_0007.csv", 7.0), ("epoch_2.5_step_500.csv", 2.5), ("preds-ep12.parquet", 12.0),
     ("val_3.npz", 3.0), ("e10.csv", 10.0), ("predictions.csv", None)],
)
def test_epoch_of_file_names(name, epoch, tmp_path):
    assert epoch_of(tmp_path / name) == epoch


def test_prediction_directory_errors(tmp_path):
    with pytest.raises(InputError, match="is not a directory"):
        prediction_files(tmp_path / "missing")
    (tmp_path / "notes.csv").write_text("a\n1\n")
    with pytest.raises(InputError, match="no per-epoch prediction file"):
        prediction_files(tmp_path)
    (tmp_path / "epoch_1.csv").write_text("label,prob\n1,0.5\n")
    (tmp_path / "epoch_0001.csv").write_text("label,prob\n1,0.5\n")
    with pytest.raises(InputError, match="both name epoch 1: keep one file per epoch"):
        prediction_files(tmp_path)


def test_temperature_scaling_effect_is_read_from_the_engine(run_with_predictions):
    folder, y, probs = run_with_predictions
    report = analyse_history(folder / "training.log", predictions=folder / "preds")
    last = report.per_epoch[-1]
    scaled = last.temperature_scaled
    # The temperature is the maximum-likelihood one of the last epoch's logits.
    logits = np.log(probs[-1]) - np.log1p(-probs[-1])

    def nll(inverse):
        return log_loss(y, expit(inverse * logits))

    fit = minimize_scalar(nll, bounds=(0.01, 2.0), method="bounded", options={"xatol": 1e-10})
    assert scaled.temperature == pytest.approx(1 / fit.x, rel=1e-4)
    assert scaled.log_loss_after < last.log_loss
    assert scaled.accuracy_after == last.accuracy
    (drift,) = [f for f in report.findings if f.code == "calibration_drift"]
    assert drift.evidence["temperature_scaled_log_loss_to"] == scaled.log_loss_after
    assert "cross-fitted on these predictions" in drift.advice

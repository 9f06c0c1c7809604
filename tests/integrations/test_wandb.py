"""W&B: an evaluation logged to an offline run; a run's scan_history() rows read back."""

from __future__ import annotations

import numpy as np
import pytest

wandb = pytest.importorskip("wandb")
sklearn_metrics = pytest.importorskip("sklearn.metrics")

import lossgap  # noqa: E402
from lossgap.errors import InputError  # noqa: E402
from lossgap.integrations.wandb import log_evaluation  # noqa: E402


def test_log_evaluation_to_an_offline_run(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_SILENT", "true")
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    p = np.clip(0.5 + (y - 0.5) * rng.uniform(-0.3, 0.9, 200), 0.01, 0.99)
    ev = lossgap.explain(y, p)
    run = wandb.init(mode="offline", dir=str(tmp_path), project="lossgap-test")
    try:
        logged = log_evaluation(ev)
        assert run.summary["lossgap/log_loss"] == pytest.approx(sklearn_metrics.log_loss(y, p))
        assert run.summary["lossgap/accuracy"] == pytest.approx(
            sklearn_metrics.accuracy_score(y, p >= 0.5)
        )
    finally:
        run.finish()
    assert isinstance(logged["lossgap/report"], wandb.Html)
    table = logged["lossgap/metrics"]
    assert table.columns == ["metric", "value", "ci_low", "ci_high"]
    assert [row[0] for row in table.data] == list(ev.metrics)
    assert [row[0] for row in logged["lossgap/findings"].data] == [f.code for f in ev.findings]


def test_log_evaluation_needs_a_run():
    assert wandb.run is None
    with pytest.raises(InputError, match="wandb.init"):
        log_evaluation(lossgap.explain([0, 1, 1, 0], [0.2, 0.9, 0.6, 0.4]))


def test_scan_history_rows_are_read():
    """scan_history() yields one dict per logged row, each on its own _step."""
    rows = []
    for epoch, (train, val, acc) in enumerate(
        [(0.7, 0.6, 0.7), (0.5, 0.55, 0.74), (0.4, 0.58, 0.76)]
    ):
        rows.append({"_step": 2 * epoch, "_runtime": 1.0, "train/loss": train, "epoch": epoch})
        rows.append(
            {
                "_step": 2 * epoch + 1,
                "_runtime": 2.0,
                "val/loss": val,
                "val/acc": acc,
                "epoch": epoch,
            }
        )
    report = lossgap.history(iter(rows))
    run = report.runs[0].run
    assert run.format == "wandb"
    assert run.values("loss").tolist() == [0.7, 0.5, 0.4]  # each point keeps its training loss
    assert report.best()["val_loss"].epoch == 1 and report.best()["val_accuracy"].epoch == 2

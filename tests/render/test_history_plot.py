"""The history plot marks the epochs the text names, at their own place on the axis."""

from __future__ import annotations

import numpy as np

from lossgap.history import analyse_history
from lossgap.render.plots.history import run_chart


def lightning_log(path):
    """A Lightning metrics.csv whose step is twice the epoch: epoch 20 sits at step 40."""
    rng = np.random.default_rng(0)
    rows = ["epoch,step,val_loss,val_acc,train_loss_epoch"]
    for e in range(60):
        val_loss = 0.4 + (e - 40) ** 2 / 2000 + rng.normal(0, 0.002)
        rows.append(f"{e},{2 * e},{val_loss!r},{0.7 + e / 400!r},{0.5 - e / 200!r}")
    path.write_text("\n".join(rows) + "\n")
    return path


def test_lightning_epochs_are_placed_by_epoch_not_by_step(tmp_path):
    analysis = analyse_history(lightning_log(tmp_path / "metrics.csv")).runs[0]
    curves = analysis.curves
    kept = analysis.advice.probabilities.epoch
    assert analysis.run.axis == "epoch" and kept in curves.step  # the trap is there
    assert curves.position(kept) == curves.x[list(curves.epoch).index(kept)]
    assert curves.position(kept) != curves.x[list(curves.step).index(kept)]


def test_the_plot_marks_the_kept_epochs(tmp_path):
    analysis = analyse_history(lightning_log(tmp_path / "metrics.csv")).runs[0]
    chart = run_chart(analysis, 1)
    labels = [line.get_label() for line in chart.figure.axes[0].get_lines()]
    prob = analysis.advice.probabilities.epoch
    assert f"keep for probabilities: epoch {prob}" in labels

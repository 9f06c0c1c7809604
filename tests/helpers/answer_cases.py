"""The five user questions lossgap answers, as fixed inputs for the golden answers.

Each case writes its input files (seeded, small) and returns the command line a user would
type. The golden copies of the default terminal answers (80 columns, no colour) live in
``golden/``: ``LOSSGAP_UPDATE_GOLDEN=1 pytest tests/render/test_answers.py`` rewrites them,
and a reviewer reads the diff as text.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import numpy as np


def _write(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def keras_line(folder: Path) -> list[str]:
    """A beginner pastes a Keras progress line: good accuracy despite a "high" loss?"""
    return ["interpret", "loss: 0.4011 - acc: 0.8224 - val_loss: 0.4577 - val_acc: 0.7826"]


def eight_models(folder: Path) -> list[str]:
    """Eight augmentations of one network: accuracy swings while the loss barely moves."""
    rng = np.random.default_rng(5)
    n = 250
    logit = rng.normal(0, 0.7, n)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    names = ["baseline", "random_crop", "horizontal_flip", "color_jitter", "mixup_alpha_0.2",
             "cutout_16px", "rotation_15deg", "randaugment_n2_m9"]
    cols = [1 / (1 + np.exp(-(logit * rng.uniform(0.9, 1.1) + rng.normal(0, 0.4, n))))
            for _ in names]
    path = _write(folder / "eight.csv", ["image", "label", *names],
                  [[f"img_{i:04d}", y[i], *(round(float(c[i]), 6) for c in cols)]
                   for i in range(n)])
    return ["compare", str(path), "--label", "label", "--prob", "*_*", "--prob", "baseline",
            "--id", "image", "--quiet"]


def long_log(folder: Path) -> list[str]:
    """1000 epochs: validation loss rises for hundreds of epochs while accuracy improves."""
    rng = np.random.default_rng(0)
    t = np.arange(1000, dtype=np.float64)
    val_loss = 0.35 + 0.5 * np.exp(-t / 8) + 0.0008 * np.maximum(0, t - 40)
    val_loss += rng.normal(0, 0.004, t.size)
    val_acc = rng.binomial(2000, 0.70 + 0.12 * (1 - np.exp(-t / 100))) / 2000
    loss = 0.05 + 0.6 * np.exp(-t / 30) + rng.normal(0, 0.003, t.size)
    acc = 0.99 - 0.25 * np.exp(-t / 30)
    path = _write(
        folder / "training.log",
        ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"],
        [[e, acc[e], loss[e], val_acc[e], val_loss[e]] for e in range(t.size)],
    )
    return ["history", str(path), "--n-val", "2000"]


def cross_entropy_value(folder: Path) -> list[str]:
    """How do I interpret my cross-entropy value? (a loss, nothing else)"""
    return ["interpret", "--loss", "0.65"]


def mri_test_set(folder: Path) -> list[str]:
    """108 MRI test images: 87% F1 with a test loss of 1.5996, pasted as printed."""
    return ["interpret", "Test loss: 1.5996, Test accuracy: 87.38%", "--n", "108"]


def mri_predictions(folder: Path) -> list[str]:
    """The same question with the predictions at hand: an overconfident network."""
    rng = np.random.default_rng(3)
    y = np.repeat([0, 1], 54)
    logit = 15.0 * rng.normal(np.where(y == 1, 1.2, -1.2), 1.0)
    path = _write(folder / "mri.csv", ["image", "label", "logit"],
                  [[f"scan_{i:03d}", ["healthy", "tumor"][y[i]], logit[i]] for i in range(y.size)])
    return ["explain", str(path), "--label", "label", "--logit", "logit", "--id", "image",
            "--quiet"]


def logistic_lab(folder: Path) -> list[str]:
    """Five points where the cross-entropy fit is not the accuracy maximum."""
    return ["lab", "logistic", "--illustration", "1"]


#: Golden name -> the case.
CASES: dict[str, Callable[[Path], list[str]]] = {
    "interpret_keras_line": keras_line,
    "compare_eight_models": eight_models,
    "history_long_log": long_log,
    "interpret_loss_only": cross_entropy_value,
    "interpret_mri_test": mri_test_set,
    "explain_mri": mri_predictions,
    "lab_illustration_1": logistic_lab,
}

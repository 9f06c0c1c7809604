"""A held-out training history whose truth is known, written in every log format.

Validation loss falls until epoch ``ONSET`` of ``EPOCHS``, then rises linearly; validation
accuracy (a binomial proportion over ``N_VAL`` samples) rises to the end.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ONSET = 40
EPOCHS = 400
N_VAL = 2000


@dataclass
class History:
    train_loss: np.ndarray
    train_acc: np.ndarray
    val_loss: np.ndarray
    val_acc: np.ndarray

    @property
    def epochs(self) -> int:
        return self.val_loss.size

    def row(self, e: int) -> tuple[float, float, float, float]:
        """Python floats of epoch ``e`` (their repr round-trips exactly)."""
        columns = (self.train_loss, self.train_acc, self.val_loss, self.val_acc)
        return tuple(float(a[e]) for a in columns)


def make_history(seed: int = 0, epochs: int = EPOCHS, onset: int = ONSET) -> History:
    """Validation loss lowest at ``onset``, validation accuracy rising to the end."""
    rng = np.random.default_rng(seed)
    t = np.arange(epochs, dtype=np.float64)
    val_loss = 0.35 + 0.5 * np.exp(-t / 8) + 0.0008 * np.maximum(0, t - onset)
    val_loss += rng.normal(0, 0.004, epochs)
    p_val = 0.70 + 0.12 * (1 - np.exp(-t / 100))
    val_acc = rng.binomial(N_VAL, p_val) / N_VAL
    train_loss = 0.05 + 0.6 * np.exp(-t / 30) + rng.normal(0, 0.003, epochs)
    train_acc = 0.99 - 0.25 * np.exp(-t / 30)
    return History(train_loss, train_acc, val_loss, val_acc)


def write_keras_csv(path: Path, h: History) -> Path:
    lines = ["epoch,accuracy,loss,val_accuracy,val_loss"]
    for e in range(h.epochs):
        loss, acc, val_loss, val_acc = h.row(e)
        lines.append(f"{e},{acc!r},{loss!r},{val_acc!r},{val_loss!r}")
    path.write_text("\n".join(lines) + "\n")
    return path


def write_keras_json(path: Path, h: History) -> Path:
    data = {
        "loss": h.train_loss.tolist(),
        "accuracy": h.train_acc.tolist(),
        "val_loss": h.val_loss.tolist(),
        "val_accuracy": h.val_acc.tolist(),
    }
    path.write_text(json.dumps(data))
    return path


STEPS_PER_EPOCH = 10


def write_lightning_csv(path: Path, h: History) -> Path:
    """Lightning's CSVLogger layout: step rows, then a validation row, then an epoch row."""
    header = "epoch,step,train_loss_step,train_loss_epoch,train_acc_epoch,val_loss,val_acc"
    lines = [header]
    for e in range(h.epochs):
        loss, acc, val_loss, val_acc = h.row(e)
        last = (e + 1) * STEPS_PER_EPOCH - 1
        for step in (e * STEPS_PER_EPOCH + 4, last):
            lines.append(f"{e},{step},{loss + 0.01!r},,,,")
        lines.append(f"{e},{last},,,,{val_loss!r},{val_acc!r}")
        lines.append(f"{e},{last},,{loss!r},{acc!r},,")
    path.write_text("\n".join(lines) + "\n")
    return path


def write_trainer_state(path: Path, h: History) -> Path:
    """Hugging Face: training logs every 5 steps, an evaluation at each epoch's end."""
    history = []
    for e in range(h.epochs):
        for k in (5, 10):
            step = e * STEPS_PER_EPOCH + k
            history.append(
                {"epoch": step / STEPS_PER_EPOCH, "loss": float(h.train_loss[e]), "step": step}
            )
        history.append(
            {
                "epoch": float(e + 1),
                "eval_accuracy": float(h.val_acc[e]),
                "eval_loss": float(h.val_loss[e]),
                "eval_runtime": 4.0,
                "eval_samples_per_second": N_VAL / 4.0,
                "step": (e + 1) * STEPS_PER_EPOCH,
            }
        )
    history.append({"epoch": float(h.epochs), "step": h.epochs * 10, "train_runtime": 9.0,
                    "train_loss": float(h.train_loss.mean())})
    path.write_text(json.dumps({"log_history": history, "best_metric": None}, indent=1))
    return path


def write_tensorboard(directory: Path, h: History) -> Path:
    import pytest

    SummaryWriter = pytest.importorskip("torch.utils.tensorboard").SummaryWriter

    writer = SummaryWriter(log_dir=str(directory))
    for e in range(h.epochs):
        step = (e + 1) * STEPS_PER_EPOCH
        writer.add_scalar("train_loss", h.train_loss[e], step)
        writer.add_scalar("val_loss", h.val_loss[e], step)
        writer.add_scalar("val_accuracy", h.val_acc[e], step)
        writer.add_scalar("epoch", e, step)
    writer.close()
    return directory


def run_of(**columns):
    """A Keras-style run (one row per epoch, counted from 0) from arrays."""
    n = len(next(iter(columns.values())))
    columns = {"epoch": np.arange(n, dtype=np.float64), **columns}
    from lossgap.history import build_run
    from lossgap.history.readers import LogTable, RawLog

    table = LogTable(
        {k: np.asarray(v, dtype=np.float64) for k, v in columns.items()},
        {k: np.ones(n, dtype=bool) for k in columns},
        epoch="epoch",
        merge="row",
    )
    return build_run(RawLog("run", "run.csv", "keras", table))

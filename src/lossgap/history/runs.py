"""Runs: a log's rows merged into validation points, metric names normalised.

A *point* is one validation: Keras's epoch row, Lightning's epoch, a Hugging Face
evaluation step, a TensorBoard step where the validation loss was written. Every other
metric is attached to the point it belongs to:

* validation and test metrics, and metrics without a direction (learning rate...):
  the last value logged for the point;
* training metrics: the mean of the values logged since the previous point (Lightning's
  per-step ``train_loss``, Hugging Face's ``loss`` every ``logging_steps``), which is the
  training loss over that stretch as Keras reports it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lossgap.errors import InputError
from lossgap.history.readers import RawLog
from lossgap.io.names import MetricName, normalise_name
from lossgap.results.history import Metric, Run

#: Decision scores used in place of a missing validation accuracy, in order.
SCORE_FALLBACKS = ("val_f1", "val_f1_macro", "val_auc")

_LEVEL_RANK = {"epoch": 0, None: 1, "step": 2}


def _names(raw: RawLog) -> dict[str, MetricName]:
    """Canonical names for the metric columns; a collision keeps the best-levelled one."""
    axis = {raw.table.epoch, raw.table.step, "step", "epoch", "global_step"}
    parsed = [normalise_name(c) for c in raw.table.columns if c not in axis]
    parsed.sort(key=lambda n: _LEVEL_RANK.get(n.level, 1))
    names: dict[str, MetricName] = {}
    for name in parsed:
        key = name.canonical
        if key in names:
            key = f"{key}_{name.level}" if name.level else name.original
        if key in names:
            key = name.original
        names[key] = MetricName(name.original, key, name.split, name.metric, name.level)
    return names


def _find(names: dict[str, MetricName], wanted: str, option: str, raw: RawLog) -> str:
    if wanted in names:
        return wanted
    for key, name in names.items():
        if name.original == wanted:
            return key
    normalised = normalise_name(wanted).canonical
    if normalised in names:
        return normalised
    shown = ", ".join(n.original for n in names.values())
    msg = f"no metric {wanted!r} in {raw.source!r} (from {option}); it logs: {shown}"
    raise InputError(msg)


def _no_validation_loss(raw: RawLog, names: dict[str, MetricName]) -> InputError:
    shown = ", ".join(n.original for n in names.values()) or "no metric at all"
    has_val = any(n.split == "val" for n in names.values())
    what = "no validation loss" if has_val else "no validation metric"
    msg = (
        f"{raw.source!r} logs {what} ({shown}): log one (Keras: validation_data=; Lightning: "
        "self.log('val_loss', ...); Hugging Face: eval_strategy) or name the loss to "
        "analyse with --loss COL"
    )
    return InputError(msg)


def _bucket(raw: RawLog, anchor: str) -> tuple[np.ndarray, np.ndarray]:
    """For every row, the point it belongs to (-1: none), and each point's anchor row."""
    table = raw.table
    anchor_rows = np.flatnonzero(table.logged[anchor])
    n = table.n_rows
    if table.merge == "row":
        point = np.full(n, -1)
        point[anchor_rows] = np.arange(anchor_rows.size)
        return point, anchor_rows
    key_name = table.epoch if table.merge == "epoch" else table.step
    if key_name is None:
        msg = f"{raw.source!r} has no {table.merge} column to merge its rows by"
        raise InputError(msg)
    key = table.columns[key_name]
    known = table.logged[key_name] & np.isfinite(key)
    anchor_rows = anchor_rows[known[anchor_rows]]
    anchors = np.unique(key[anchor_rows])
    # The point's own row: the last anchor row with that key (a repeated evaluation).
    last_row = {k: r for k, r in zip(key[anchor_rows], anchor_rows, strict=True)}
    rows = np.array([last_row[k] for k in anchors], dtype=np.int64)
    point = np.full(n, -1)
    if table.merge == "epoch":
        at = np.searchsorted(anchors, key)
        hit = known & (at < anchors.size)
        hit[hit] &= anchors[at[hit]] == key[hit]
    else:  # rows up to and including each validation step
        at = np.searchsorted(anchors, key, side="left")
        hit = known & (at < anchors.size)
    point[hit] = at[hit]
    return point, rows


def _aggregate(
    values: np.ndarray, logged: np.ndarray, point: np.ndarray, n_points: int, mean: bool
) -> tuple[np.ndarray, np.ndarray]:
    use = logged & (point >= 0)
    idx = point[use]
    count = np.bincount(idx, minlength=n_points)
    out = np.full(n_points, np.nan)
    if mean:
        total = np.zeros(n_points)
        np.add.at(total, idx, values[use])
        np.divide(total, count, out=out, where=count > 0)
    else:
        rows = np.flatnonzero(use)
        last = np.full(n_points, -1)
        np.maximum.at(last, idx, rows)
        out[last >= 0] = values[last[last >= 0]]
    return out, count


def _as_fraction(metric: Metric, notes: list[str]) -> None:
    """Accuracies logged in percent become fractions (with a note)."""
    finite = metric.values[np.isfinite(metric.values)]
    if not (metric.name.unit_interval and finite.size):
        return
    if finite.min() >= 0 and finite.max() <= 100 and np.median(finite) > 1.5:
        metric.values = metric.values / 100
        metric.scale = 0.01
        notes.append(
            f"{metric.name.original!r} looks like a percentage (median {np.median(finite):g}): "
            "divided by 100"
        )


def build_run(raw: RawLog, *, loss: str | None = None, accuracy: str | None = None) -> Run:
    """Merge a log's rows into validation points and pick the metrics to analyse.

    Parameters
    ----------
    raw : RawLog
        One run as read.
    loss : str, optional
        The loss to analyse (logged or canonical name); default the validation loss.
    accuracy : str, optional
        The decision score to analyse; default the validation accuracy, else the
        validation F1 or AUC (with a note).

    Returns
    -------
    Run

    Raises
    ------
    lossgap.InputError
        No validation loss (nor ``loss=``), or a named metric the log lacks.
    """
    names = _names(raw)
    if loss is not None:
        loss_key = _find(names, loss, "--loss", raw)
    elif "val_loss" in names:
        loss_key = "val_loss"
    else:
        raise _no_validation_loss(raw, names)
    score_key = None
    notes = list(raw.notes)
    if accuracy is not None:
        score_key = _find(names, accuracy, "--accuracy", raw)
    elif names[loss_key].split == "train":
        score_key = "accuracy" if "accuracy" in names else None
    elif "val_accuracy" in names:
        score_key = "val_accuracy"
    else:
        score_key = next((k for k in SCORE_FALLBACKS if k in names), None)
        if score_key is not None:
            notes.append(f"no validation accuracy logged: {names[score_key].original!r} stands in")
    anchor = names[loss_key].original
    point, rows = _bucket(raw, anchor)
    table = raw.table
    n_points = rows.size
    metrics = {}
    for key, name in names.items():
        mean = name.split == "train" and name.direction is not None
        values, count = _aggregate(
            table.columns[name.original], table.logged[name.original], point, n_points, mean
        )
        if not count.any():
            continue
        aggregation = "value" if count.max() <= 1 else ("mean" if mean else "last")
        metrics[key] = Metric(name, values, count, aggregation)
        _as_fraction(metrics[key], notes)
    epoch = _point_labels(table, table.epoch, point, rows, n_points)
    if table.epoch is None and table.merge == "row":
        epoch = np.arange(n_points, dtype=np.float64)
        notes.append("the log numbers no epochs: points numbered by row from 0")
    step = None if table.step is None else _point_labels(table, table.step, point, rows, n_points)
    axis = "epoch" if np.isfinite(epoch).all() else "step"
    train_loss = names[loss_key].metric if names[loss_key].split != "train" else None
    train_loss = train_loss if train_loss in metrics else None
    train_score = None
    if score_key is not None and names[score_key].split != "train":
        train_score = names[score_key].metric if names[score_key].metric in metrics else None
    return Run(
        raw.name,
        raw.source,
        raw.format,
        axis,
        epoch,
        step,
        metrics,
        loss_key,
        score_key if score_key in metrics else None,
        train_loss,
        train_score,
        notes,
        list(raw.events),
        dict(raw.meta),
    )


def _point_labels(
    table: Any, column: str | None, point: np.ndarray, rows: np.ndarray, n_points: int
) -> np.ndarray:
    """The epoch or step of each point: on its own row, else the last one logged for it."""
    if column is None:
        return np.full(n_points, np.nan)
    values, logged = table.columns[column], table.logged[column]
    own = np.where(logged[rows], values[rows], np.nan)
    last, _ = _aggregate(values, logged, point, n_points, mean=False)
    return np.where(np.isfinite(own), own, last)

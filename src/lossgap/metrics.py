"""Metrics as pure functions of a :class:`~lossgap.tally.Tally`.

Each function takes a Tally and returns a float; none prints, none looks at raw samples,
so every engine (arrays, streamed files, Spark, torch) gets the same numbers from its
merged Tally. Names follow scikit-learn where one exists; ``*_loss`` is lower-is-better.

Conventions
-----------
* Natural logarithms (nats).
* Binary ``precision``, ``recall`` and ``f1`` are those of the positive class
  (``classes[1]``); multiclass ones are the unweighted (macro) mean over the classes that
  occur in the labels or the predictions, as scikit-learn does. A zero division counts 0.
* Multiclass ``roc_auc`` and ``average_precision`` are one-vs-rest macro means.
* A metric that is undefined for the data (ROC AUC with one class present) is NaN.

Examples
--------
>>> from lossgap import Predictions, Tally
>>> t = Tally.from_predictions(Predictions([0, 0, 1, 1], [0.1, 0.6, 0.35, 0.8]))
>>> accuracy(t), roc_auc(t), round(log_loss(t), 5)
(0.5, 0.75, 0.57365)
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from lossgap.tally import ScoreTable, Tally


def log_loss(tally: Tally) -> float:
    """Mean log loss in nats; ``inf`` if any weighted sample has probability 0 on its class."""
    if tally.infinite_weight > 0:
        return float("inf")
    return tally.loss_sum / tally.weight


def log_loss_clipped(tally: Tally) -> float:
    """Mean log loss with each sample's loss capped at ``-ln(1e-15)`` (34.54 nats)."""
    return tally.clipped_loss_sum / tally.weight


def brier(tally: Tally) -> float:
    """Mean Brier score (scikit-learn's ``brier_score_loss``)."""
    return tally.brier_sum / tally.weight


def accuracy(tally: Tally) -> float:
    """Share of (weighted) samples whose decision is the true class."""
    return float(np.trace(tally.confusion) / tally.weight)


def _per_class(tally: Tally) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(true positives, predicted totals, true totals) per class."""
    conf = tally.confusion
    return np.diag(conf), conf.sum(axis=0), conf.sum(axis=1)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den with 0 where den is 0 (scikit-learn's zero_division=0)."""
    out = np.zeros_like(num, dtype=np.float64)
    np.divide(num, den, out=out, where=den > 0)
    return out


def _reduce(tally: Tally, per_class: np.ndarray) -> float:
    """Positive class for binary; macro mean over classes seen in labels or decisions."""
    if tally.task == "binary":
        return float(per_class[1])
    _, predicted, actual = _per_class(tally)
    present = (predicted > 0) | (actual > 0)
    return float(per_class[present].mean())


def precision(tally: Tally) -> float:
    """Precision of the positive class (binary) or macro precision (multiclass)."""
    tp, predicted, _ = _per_class(tally)
    return _reduce(tally, _ratio(tp, predicted))


def recall(tally: Tally) -> float:
    """Recall of the positive class (binary) or macro recall (multiclass)."""
    tp, _, actual = _per_class(tally)
    return _reduce(tally, _ratio(tp, actual))


def f1(tally: Tally) -> float:
    """F1 of the positive class (binary) or macro F1 (multiclass)."""
    tp, predicted, actual = _per_class(tally)
    return _reduce(tally, _ratio(2 * tp, predicted + actual))


def balanced_accuracy(tally: Tally) -> float:
    """Mean recall over the classes present in the labels."""
    tp, _, actual = _per_class(tally)
    present = actual > 0
    return float((tp[present] / actual[present]).mean())


def _table_roc_auc(table: ScoreTable) -> float:
    fps, tps = table.descending_cumulative()
    if fps[-1] <= 0 or tps[-1] <= 0:
        return float("nan")
    fpr = np.concatenate([[0.0], fps / fps[-1]])
    tpr = np.concatenate([[0.0], tps / tps[-1]])
    return float(np.trapezoid(tpr, fpr))


def _table_average_precision(table: ScoreTable) -> float:
    fps, tps = table.descending_cumulative()
    if tps[-1] <= 0:
        return float("nan")
    recall_steps = np.diff(np.concatenate([[0.0], tps])) / tps[-1]
    return float(recall_steps @ _ratio(tps, tps + fps))


def _one_vs_rest(tally: Tally, per_table: Callable[[ScoreTable], float]) -> float:
    values = [per_table(t) for t in tally.tables]
    return float(np.mean(values))


def roc_auc(tally: Tally) -> float:
    """Area under the ROC curve (binary) or its one-vs-rest macro mean (multiclass)."""
    return _one_vs_rest(tally, _table_roc_auc)


def average_precision(tally: Tally) -> float:
    """Average precision (step-wise, as scikit-learn) or its one-vs-rest macro mean."""
    return _one_vs_rest(tally, _table_average_precision)


def class_shares(tally: Tally) -> np.ndarray:
    """Weighted share of each class among the labels (the base rates)."""
    return tally.class_weight / tally.weight


def baseline_log_loss(tally: Tally) -> float:
    """Log loss of the no-skill model that predicts the base rates: their entropy.

    Examples
    --------
    >>> from lossgap import Predictions, Tally
    >>> t = Tally.from_predictions(Predictions([0, 1], [0.3, 0.6]))
    >>> round(baseline_log_loss(t), 6)  # ln 2
    0.693147
    """
    shares = class_shares(tally)
    shares = shares[shares > 0]
    return float(-(shares * np.log(shares)).sum())


def normalized_entropy(tally: Tally) -> float:
    """Log loss over the no-skill loss: below 1 beats the base rates, above 1 is worse.

    Undefined (NaN) when only one class occurs, since the no-skill loss is then 0.
    """
    baseline = baseline_log_loss(tally)
    return log_loss(tally) / baseline if baseline > 0 else float("nan")


def majority_accuracy(tally: Tally) -> float:
    """Accuracy of always predicting the most frequent class."""
    return float(class_shares(tally).max())


#: The metrics every evaluation reports, in display order.
METRICS: dict[str, Callable[[Tally], float]] = {
    "log_loss": log_loss,
    "accuracy": accuracy,
    "balanced_accuracy": balanced_accuracy,
    "precision": precision,
    "recall": recall,
    "f1": f1,
    "brier": brier,
    "roc_auc": roc_auc,
    "average_precision": average_precision,
    "baseline_log_loss": baseline_log_loss,
    "normalized_entropy": normalized_entropy,
}

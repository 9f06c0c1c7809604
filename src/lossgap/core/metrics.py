"""Metrics as pure functions of a :class:`~lossgap.core.tally.Tally`.

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
from typing import NamedTuple

import numpy as np

from lossgap.core.binning import kernel_module
from lossgap.core.tally import ScoreTable, Tally


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
    return float(accuracy_from_confusion(tally.confusion))


def precision(tally: Tally) -> float:
    """Precision of the positive class (binary) or macro precision (multiclass)."""
    return float(precision_from_confusion(tally.confusion))


def recall(tally: Tally) -> float:
    """Recall of the positive class (binary) or macro recall (multiclass)."""
    return float(recall_from_confusion(tally.confusion))


def f1(tally: Tally) -> float:
    """F1 of the positive class (binary) or macro F1 (multiclass)."""
    return float(f1_from_confusion(tally.confusion))


def balanced_accuracy(tally: Tally) -> float:
    """Mean recall over the classes present in the labels."""
    return float(balanced_accuracy_from_confusion(tally.confusion))


def roc_auc(tally: Tally) -> float:
    """Area under the ROC curve (binary) or its one-vs-rest macro mean (multiclass)."""
    return _mean_of([roc_auc_from_weights(*t.weights.T) for t in tally.tables])


def average_precision(tally: Tally) -> float:
    """Average precision (step-wise, as scikit-learn) or its one-vs-rest macro mean."""
    return _mean_of([average_precision_from_weights(*t.weights.T) for t in tally.tables])


def _mean_of(values: list[np.ndarray]) -> float:
    """``float(np.mean(values))``; one value (a binary table) without ``np.mean``'s
    dispatch: numpy's mean of one value is ``(0.0 + value) / 1``, the value itself but for
    a negative zero, which the addition makes positive."""
    return float(values[0]) + 0.0 if len(values) == 1 else float(np.mean(values))


# -- kernels on arrays ---------------------------------------------------------------------
# Each takes arrays with optional leading batch axes (bootstrap replicates), so the point
# estimate and its resamples share one implementation.


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den with 0 where den is 0 (scikit-learn's zero_division=0)."""
    num, den = np.broadcast_arrays(np.asarray(num, float), np.asarray(den, float))
    out = np.zeros(num.shape)
    np.divide(num, den, out=out, where=den > 0)
    return out


class Margins(NamedTuple):
    """What the confusion-matrix metrics read of a confusion matrix, per class (batch axes
    first): the diagonal, the column sums and the row sums. Each ``*_from_confusion``
    function takes these in place of the matrix (a thousand classes' bootstrap replicates
    need not hold a million cells each)."""

    true_positive: np.ndarray
    predicted: np.ndarray
    actual: np.ndarray


def _per_class(confusion: np.ndarray | Margins) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(true positives, predicted totals, true totals) per class, batch axes first."""
    if isinstance(confusion, Margins):
        return confusion
    return (
        np.diagonal(confusion, axis1=-2, axis2=-1),
        confusion.sum(axis=-2),
        confusion.sum(axis=-1),
    )


def _reduce_classes(confusion: np.ndarray | Margins, per_class: np.ndarray) -> np.ndarray:
    """Positive class for binary; macro mean over classes seen in labels or decisions."""
    if per_class.shape[-1] == 2:
        return per_class[..., 1]
    _, predicted, actual = _per_class(confusion)
    present = (predicted > 0) | (actual > 0)
    return (per_class * present).sum(axis=-1) / present.sum(axis=-1)


def accuracy_from_confusion(confusion: np.ndarray | Margins) -> np.ndarray:
    """Accuracy from a weighted confusion matrix (rows: truth, columns: decision)."""
    tp, _, actual = _per_class(confusion)
    return tp.sum(axis=-1) / actual.sum(axis=-1)


def precision_from_confusion(confusion: np.ndarray | Margins) -> np.ndarray:
    tp, predicted, _ = _per_class(confusion)
    return _reduce_classes(confusion, _ratio(tp, predicted))


def recall_from_confusion(confusion: np.ndarray | Margins) -> np.ndarray:
    tp, _, actual = _per_class(confusion)
    return _reduce_classes(confusion, _ratio(tp, actual))


def f1_from_confusion(confusion: np.ndarray | Margins) -> np.ndarray:
    tp, predicted, actual = _per_class(confusion)
    return _reduce_classes(confusion, _ratio(2 * tp, predicted + actual))


def balanced_accuracy_from_confusion(confusion: np.ndarray | Margins) -> np.ndarray:
    tp, _, actual = _per_class(confusion)
    present = actual > 0
    return (_ratio(tp, actual) * present).sum(axis=-1) / present.sum(axis=-1)


def _inner(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Inner product over the last axis, batch axes kept (single-threaded, no temporary)."""
    return np.einsum("...i,...i->...", a, b)


#: Below this many elements :func:`cumulative_sum` leaves the sum to numpy (a compiled
#: call's overhead is about numpy's whole cost there).
_COMPILED_SUM = 4_096


def cumulative_sum(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``np.cumsum(x, axis=-1, out=out)``: the same doubles (numpy adds in order too);
    ``out`` may be ``x``.

    A long 1-D array (a score table's weights, from :data:`_COMPILED_SUM` elements, any
    stride) goes through one compiled loop with numba
    (:func:`~lossgap.core.binning.kernel_module`): numpy takes about 3 ns an element, the
    loop under one (a table of 1e5 rows: 0.30 -> 0.06 ms a sum, five sums an evaluation).
    The loop writes into an array numpy allocates (one numba allocates cost fresh pages'
    system time on every call).

    Examples
    --------
    >>> cumulative_sum(np.array([1.0, 2.0, 3.5])).tolist()
    [1.0, 3.0, 6.5]
    """
    if x.ndim == 1 and len(x) >= _COMPILED_SUM and x.dtype == np.float64:
        kernels = kernel_module("bootstrap_kernels")
        if kernels is not None:
            out = np.empty(len(x)) if out is None else out
            kernels.running_sum(x, out)
            return out
    return np.cumsum(x, axis=-1, out=out)


def roc_auc_from_weights(w_neg: np.ndarray, w_pos: np.ndarray) -> np.ndarray:
    """ROC AUC from the weight of negatives and positives at each ascending score.

    The trapezoidal area, summed per score: each positive weight counts the negative
    weight below it plus half the negative weight tied with it. NaN where one class has
    no weight.

    Examples
    --------
    >>> w_neg, w_pos = np.array([1.0, 1.0, 0.0]), np.array([0.0, 1.0, 1.0])  # scores .1 .5 .9
    >>> float(roc_auc_from_weights(w_neg, w_pos))  # the tie at 0.5 counts half
    0.875
    """
    neg, pos = w_neg.sum(axis=-1), w_pos.sum(axis=-1)
    pairs = _inner(w_pos, cumulative_sum(w_neg)) - 0.5 * _inner(w_pos, w_neg)
    return np.where((neg > 0) & (pos > 0), _ratio(pairs, neg * pos), np.nan)


def average_precision_from_weights(w_neg: np.ndarray, w_pos: np.ndarray) -> np.ndarray:
    """Step-wise average precision, ``sum (R_i - R_{i-1}) P_i``, as scikit-learn computes it,
    from the weight of negatives and positives at each ascending score."""
    # from the top score down: true positives and all samples at or above each score
    pos_desc = w_pos[..., ::-1]
    tps = cumulative_sum(pos_desc)
    every_desc = (w_neg + w_pos)[..., ::-1]
    above = cumulative_sum(every_desc, out=every_desc)
    precision = _ratio(tps, above)
    pos = tps[..., -1]
    return np.where(pos > 0, _ratio(_inner(pos_desc, precision), pos), np.nan)


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


# -- approximation bounds of compressed tables ------------------------------------------------
# A compressed ScoreTable (more distinct scores than its cap) holds fixed bins whose scores
# are intervals [low, high] that do not overlap; docs/architecture.md proves both bounds.


def _table_roc_auc_bound(table: ScoreTable) -> float:
    if not table.compressed:
        return 0.0
    neg, pos = table.weights[:, 0], table.weights[:, 1]
    if neg.sum() <= 0 or pos.sum() <= 0:
        return 0.0
    # only positive-negative pairs inside one bin of unequal scores can be misordered
    spread = table.low < table.high
    return float(0.5 * (pos[spread] @ neg[spread]) / (pos.sum() * neg.sum()))


def _table_average_precision_bound(table: ScoreTable) -> float:
    if not table.compressed:
        return 0.0
    desc = table.weights[::-1]
    neg_b, pos_b = desc[:, 0], desc[:, 1]
    fps, tps = np.cumsum(neg_b), np.cumsum(pos_b)
    if tps[-1] <= 0:
        return 0.0
    above_pos, above_neg = tps - pos_b, fps - neg_b
    binned = _ratio(tps, tps + fps)
    # a positive inside bin b has TP in [above_pos, tps] and FP in [above_neg, fps]
    lowest = np.where(above_pos + fps > 0, _ratio(above_pos, above_pos + fps), 1.0)
    highest = _ratio(tps, tps + above_neg)
    error = np.maximum(binned - lowest, highest - binned)
    spread = (table.low < table.high)[::-1] & (pos_b > 0)
    return float(pos_b[spread] @ error[spread] / tps[-1])


def roc_auc_bound(tally: Tally) -> float:
    """Largest possible ``|roc_auc(tally) - exact ROC AUC|`` (0 for exact tables).

    Notes
    -----
    Bins are non-overlapping score intervals, so a positive and a negative in different
    bins are ordered as their scores are; only pairs inside one bin whose scores differ
    (``low < high``) may be counted 1/2 where the exact count is 0 or 1:
    ``|AUC_binned - AUC| <= sum_b P_b N_b / (2 P N)`` over such bins (weights ``P_b``,
    ``N_b`` of positives and negatives in bin ``b``). Multiclass: the mean over classes.

    Examples
    --------
    >>> from lossgap import Predictions, Tally
    >>> y, p = [0, 1, 0, 1], [0.3, 0.3000001, 0.6, 0.9]
    >>> roc_auc_bound(Tally.from_predictions(Predictions(y, p)))
    0.0
    >>> roc_auc_bound(Tally.from_predictions(Predictions(y, p), max_distinct=2))
    0.125
    """
    return float(np.mean([_table_roc_auc_bound(t) for t in tally.tables]))


def average_precision_bound(tally: Tally) -> float:
    """Largest possible ``|average_precision(tally) - exact average precision|``.

    Notes
    -----
    Each positive contributes its weight times the precision at its own score. In bin
    ``b`` (weights ``P_b``, ``N_b``; ``A``, ``C`` the positive and negative weight in bins
    above) that precision lies between ``A / (A + C + N_b)`` and
    ``(A + P_b) / (A + P_b + C)``, while the binned value is
    ``(A + P_b) / (A + P_b + C + N_b)``; the bound sums ``P_b / P`` times the larger gap
    over bins whose scores differ. Multiclass: the mean over classes.
    """
    return float(np.mean([_table_average_precision_bound(t) for t in tally.tables]))


#: Metrics read from the score tables, with the bound on their error when compressed.
APPROXIMATION_BOUNDS: dict[str, Callable[[Tally], float]] = {
    "roc_auc": roc_auc_bound,
    "average_precision": average_precision_bound,
}


def approximation_bounds(tally: Tally) -> dict[str, float]:
    """``{metric: bound}`` for a Tally with compressed tables; empty when all are exact."""
    if not tally.compressed:
        return {}
    return {name: fn(tally) for name, fn in APPROXIMATION_BOUNDS.items()}

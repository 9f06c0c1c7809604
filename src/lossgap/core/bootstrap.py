"""A vectorised, seeded Poisson bootstrap of every metric.

Each resampling unit gets a Poisson weight with mean equal to its weight, all replicates at
once in a ``(replicates, units)`` matrix processed in memory-bounded chunks; the metric
kernels of :mod:`lossgap.core.metrics` and :mod:`lossgap.core.calibration` take the replicate axis
as a batch axis, so the resampled metrics use the same code as the point estimates. The
smooth ECE of every replicate uses the bandwidth searched once on the unresampled units.

* Binary: the units are the score table's (score, label) cells. A cell holding ``c``
  samples gets ``Poisson(c)``, the sum of ``c`` independent ``Poisson(1)`` sample weights,
  so resampling cells is resampling samples. Tables larger than ``MAX_UNITS / 2`` rows are
  first pooled into runs of adjacent scores.
* Multiclass: the units are the samples (the joint rows are needed for macro metrics).
  More than ``MAX_UNITS`` samples are subsampled and the deviations rescaled by
  ``sqrt(subsample / n)`` (m-out-of-n bootstrap). The one-vs-rest column statistics (ROC
  AUC, average precision, ECE, smooth ECE) read each class column pooled into at most
  ``COLUMN_ROWS`` runs of adjacent scores.

Intervals are percentile intervals of the replicate deviations from the unresampled
(pooled or subsampled) statistic, placed around the exact point estimate; without pooling
or subsampling this is the plain percentile interval. The calibration errors (ECE, smooth
ECE), which resampling inflates, get the basic (reflected) interval, floored at 0. A metric
whose estimate is not finite (an infinite log loss) gets no interval.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from lossgap.core.calibration import binned_ece, ece_bins, smooth_ece
from lossgap.core.losses import sample_brier, sample_log_loss
from lossgap.core.metrics import (
    accuracy_from_confusion,
    average_precision_from_weights,
    balanced_accuracy_from_confusion,
    f1_from_confusion,
    precision_from_confusion,
    recall_from_confusion,
    roc_auc_from_weights,
)
from lossgap.core.pooling import pool_for_resampling
from lossgap.core.predictions import Predictions
from lossgap.core.tally import Tally

DEFAULT_REPLICATES = 200
#: Most resampling units; larger data are pooled (binary) or subsampled (multiclass).
MAX_UNITS = 10_000
_CHUNK_CELLS = 20_000_000
#: Statistics that resampling biases upward (an absolute calibration error is larger on
#: noisier data): their interval is the basic (reflected) one instead of the percentile.
BIASED_UPWARD = frozenset({"ece", "smooth_ece"})


@dataclass(frozen=True)
class _Column:
    """One class column grouped into distinct ascending scores, for batched weights.

    ``to_rows`` and ``to_positive_rows`` are sparse ``(units, rows)`` 0/1 matrices: a
    replicate's unit weights times them give the weight (of the class) at each score.
    """

    scores: np.ndarray
    to_rows: sparse.csr_array
    to_positive_rows: sparse.csr_array

    def weights(self, replicate: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(negative, positive) weight per distinct score, for each replicate row."""
        pos = replicate @ self.to_positive_rows
        return replicate @ self.to_rows - pos, pos


#: Multiclass: each class column's distinct scores are pooled into at most this many runs.
COLUMN_ROWS = 1_000


def _column(scores: np.ndarray, positive: np.ndarray) -> _Column:
    distinct, row = np.unique(scores, return_inverse=True)
    if len(distinct) > COLUMN_ROWS:  # runs of adjacent distinct scores, at their mean
        run = np.arange(len(distinct)) * COLUMN_ROWS // len(distinct)
        distinct = np.bincount(run, weights=distinct) / np.bincount(run)
        row = run[row]
    units = np.arange(len(scores))
    shape = (len(scores), len(distinct))
    to_rows = sparse.csr_array((np.ones(len(scores)), (units, row)), shape=shape)
    to_positive_rows = sparse.csr_array((positive.astype(float), (units, row)), shape=shape)
    return _Column(distinct, to_rows, to_positive_rows)


def _one_hot(index: np.ndarray, size: int) -> sparse.csr_array:
    """Sparse ``(units, size)`` indicator of each unit's index."""
    units = np.arange(len(index))
    return sparse.csr_array((np.ones(len(index)), (units, index)), shape=(len(index), size))


def _column_stats(column_weights: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> dict:
    """AUC, AP, ECE per replicate, averaged over columns (one-vs-rest macro)."""
    stats: dict[str, list[np.ndarray]] = {"roc_auc": [], "average_precision": [], "ece": []}
    for scores, w_neg, w_pos in column_weights:
        stats["roc_auc"].append(roc_auc_from_weights(w_neg, w_pos))
        stats["average_precision"].append(average_precision_from_weights(w_neg, w_pos))
        stats["ece"].append(binned_ece(scores, w_neg, w_pos))
    return {name: np.mean(values, axis=0) for name, values in stats.items()}


def _confusion_stats(confusion: np.ndarray) -> dict[str, np.ndarray]:
    return {
        "accuracy": accuracy_from_confusion(confusion),
        "balanced_accuracy": balanced_accuracy_from_confusion(confusion),
        "precision": precision_from_confusion(confusion),
        "recall": recall_from_confusion(confusion),
        "f1": f1_from_confusion(confusion),
    }


def _share_stats(class_weight: np.ndarray, log_loss: np.ndarray) -> dict[str, np.ndarray]:
    shares = class_weight / class_weight.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        baseline = -np.where(shares > 0, shares * np.log(shares), 0.0).sum(axis=1)
        normalized = np.where(baseline > 0, log_loss / baseline, np.nan)
    return {"baseline_log_loss": baseline, "normalized_entropy": normalized}


@dataclass(frozen=True)
class _Units:
    """What the replicates resample, and how each replicate's statistics are computed."""

    weights: np.ndarray
    statistics: Callable[[np.ndarray], dict[str, np.ndarray]]
    scale: float
    description: str


def _binary_units(tally: Tally) -> _Units:
    exact = tally.tables[0]
    # runs stay within one decision and one ECE bin (see pool_for_resampling)
    segments = ece_bins(exact.scores) * 2 + (exact.scores >= tally.threshold)
    table = pool_for_resampling(exact, segments, MAX_UNITS // 2)
    s, m = table.scores, len(table.scores)
    with np.errstate(divide="ignore"):
        loss_neg, loss_pos = -np.log1p(-s), -np.log(s)
    decided = s >= tally.threshold
    _, sigma = smooth_ece(s, *table.weights.T)

    def statistics(rep: np.ndarray) -> dict[str, np.ndarray]:
        w_neg, w_pos = rep[:, :m], rep[:, m:]
        total = w_neg.sum(axis=1) + w_pos.sum(axis=1)
        with np.errstate(invalid="ignore"):
            log_loss = (_dot_inf(w_neg, loss_neg) + _dot_inf(w_pos, loss_pos)) / total
        confusion = np.stack(
            [
                np.stack([w_neg @ ~decided, w_neg @ decided], axis=1),
                np.stack([w_pos @ ~decided, w_pos @ decided], axis=1),
            ],
            axis=1,
        )
        class_weight = np.column_stack([w_neg.sum(axis=1), w_pos.sum(axis=1)])
        return {
            "log_loss": log_loss,
            "brier": (w_neg @ s**2 + w_pos @ (1 - s) ** 2) / total,
            **_confusion_stats(confusion),
            **_column_stats([(s, w_neg, w_pos)]),
            **_share_stats(class_weight, log_loss),
            "smooth_ece": smooth_ece(s, w_neg, w_pos, sigma=sigma)[0],
        }

    pooled = "" if m == len(tally.tables[0].scores) else f", scores pooled into {m} runs"
    return _Units(
        table.weights.T.ravel(),
        statistics,
        1.0,
        f"resampling the score table's (score, label) cells{pooled}",
    )


def _dot_inf(weights: np.ndarray, losses: np.ndarray) -> np.ndarray:
    """``weights @ losses`` where an infinite loss with weight 0 contributes 0, not NaN."""
    finite = np.isfinite(losses)
    out = weights[:, finite] @ losses[finite]
    hit = (weights[:, ~finite] > 0).any(axis=1)
    return np.where(hit, np.inf, out)


def _multiclass_units(pred: Predictions, rng: np.random.Generator) -> _Units:
    n, k = len(pred), pred.n_classes
    keep = np.sort(rng.choice(n, MAX_UNITS, replace=False)) if n > MAX_UNITS else np.arange(n)
    y, prob = pred.y[keep], pred.prob[keep]
    weight = np.ones(n) if pred.sample_weight is None else pred.sample_weight
    losses, briers = sample_log_loss(pred)[keep], sample_brier(pred)[keep]
    to_cells = _one_hot(y * k + np.argmax(prob, axis=1), k * k)
    to_classes = _one_hot(y, k)
    columns = [_column(prob[:, c], y == c) for c in range(k)]
    sigmas = [smooth_ece(col.scores, *col.weights(weight[keep][None]))[1] for col in columns]

    def statistics(rep: np.ndarray) -> dict[str, np.ndarray]:
        total = rep.sum(axis=1)
        log_loss = _dot_inf(rep, losses) / total
        confusion = rep @ to_cells
        class_weight = rep @ to_classes
        grouped = [(col.scores, *col.weights(rep)) for col in columns]
        return {
            "log_loss": log_loss,
            "brier": rep @ briers / total,
            **_confusion_stats(confusion.reshape(-1, k, k)),
            **_column_stats(grouped),
            **_share_stats(class_weight, log_loss),
            "smooth_ece": np.mean(
                np.asarray(
                    [smooth_ece(*g, sigma=s)[0] for g, s in zip(grouped, sigmas, strict=True)]
                ),
                axis=0,
            ),
        }

    sub = "" if len(keep) == n else f", m-out-of-n on {len(keep)} of {n} samples"
    if any(len(col.scores) < len(np.unique(prob[:, c])) for c, col in enumerate(columns)):
        sub += f", class columns pooled into {COLUMN_ROWS} runs of adjacent scores"
    return _Units(weight[keep], statistics, np.sqrt(len(keep) / n), f"resampling samples{sub}")


def bootstrap_intervals(
    tally: Tally,
    estimates: dict[str, float],
    pred: Predictions | None,
    *,
    confidence: float,
    replicates: int = DEFAULT_REPLICATES,
    seed: int = 0,
) -> tuple[dict[str, tuple[float, float]], str]:
    """Percentile intervals for the metrics in ``estimates`` that the bootstrap covers.

    Returns
    -------
    intervals : dict
        ``name -> (low, high)``.
    method : str
        How the replicates were drawn (for ``ci_method``).
    """
    rng = np.random.default_rng(seed)
    if tally.task == "binary":
        units = _binary_units(tally)
    elif pred is not None:
        units = _multiclass_units(pred, rng)
    else:
        return {}, "bootstrap unavailable: multiclass resampling needs the samples"
    with np.errstate(divide="ignore", invalid="ignore"):  # empty replicates give NaN, dropped
        return _percentile_intervals(units, estimates, rng, confidence, replicates, seed)


def _percentile_intervals(
    units: _Units,
    estimates: dict[str, float],
    rng: np.random.Generator,
    confidence: float,
    replicates: int,
    seed: int,
) -> tuple[dict[str, tuple[float, float]], str]:
    base = units.statistics(units.weights[None])
    chunk = max(1, _CHUNK_CELLS // len(units.weights))
    draws: dict[str, list[np.ndarray]] = {}
    # Poisson(0) is 0 and draws no random number: only cells with weight are drawn, the
    # same numbers as drawing them all (an exact table leaves half its cells empty)
    live = np.flatnonzero(units.weights)
    for start in range(0, replicates, chunk):
        rep = np.zeros((min(chunk, replicates - start), len(units.weights)))
        rep[:, live] = rng.poisson(units.weights[live], size=(len(rep), len(live)))
        for name, values in units.statistics(rep).items():
            draws.setdefault(name, []).append(values)
    all_draws = {name: np.concatenate(values) for name, values in draws.items()}
    alpha = (1 - confidence) / 2
    intervals = {}
    for name, values in all_draws.items():
        estimate = estimates.get(name)
        if estimate is None or not np.isfinite(estimate):
            continue
        deviation = (values - base[name][0]) * units.scale
        deviation = deviation[np.isfinite(deviation)]
        if len(deviation) < 2:
            continue
        lo, hi = np.quantile(deviation, [alpha, 1 - alpha])
        if name in BIASED_UPWARD:
            # resampling inflates a calibration error: reflect (basic bootstrap), floor at 0
            lo, hi = -hi, -lo
            intervals[name] = (float(max(estimate + lo, 0.0)), float(max(estimate + hi, 0.0)))
        else:
            intervals[name] = (float(estimate + lo), float(estimate + hi))
    method = f"bootstrap ({replicates} Poisson replicates, seed {seed}, {units.description})"
    return intervals, method

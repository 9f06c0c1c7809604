"""Facts about the loss that the finding rules read: who carries it, and how surprising it is.

All of them come from the Tally's score tables, through the *true-class cells*: for every
table row, the probability given to the true class and the weight of samples there (binary:
positives at ``p`` and negatives at ``1 - p``; multiclass: each class's own column). A
sample's log loss is ``-log`` of that probability, so loss shares, confident errors and
their expected number under calibration are exact sums over cells.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import pdtrc

from lossgap.core.losses import CLIP_EPS
from lossgap.core.tally import Tally

#: A confident error gives its true class at most ``1 - CONFIDENT_LEVEL``.
CONFIDENT_LEVEL = 0.9
#: Errors this confident (true class <= 0.01) are checked against label noise.
EXTREME_LEVEL = 0.99
#: Half-width around the threshold within which a binary prediction is "at the threshold".
THRESHOLD_BAND = 0.05
#: Points of the loss concentration curve kept for plots.
CURVE_POINTS = 101


def class_columns(tally: Tally) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(probability of the class, weight of others, weight of the class) per class column."""
    if tally.task == "binary":
        table = tally.tables[0]
        w_neg, w_pos = table.weights.T
        return [(1.0 - table.scores, w_pos, w_neg), (table.scores, w_neg, w_pos)]
    return [(t.scores, *t.weights.T) for t in tally.tables]


def true_class_cells(tally: Tally) -> tuple[np.ndarray, np.ndarray]:
    """(probability of the true class, weight) for every non-empty table cell."""
    columns = class_columns(tally)
    prob = np.concatenate([c[0] for c in columns])
    weight = np.concatenate([c[2] for c in columns])
    keep = weight > 0
    return prob[keep], weight[keep]


def errors_beyond_calibration(tally: Tally, level: float) -> tuple[float, float, float]:
    """Observed and calibration-expected weight of errors with true-class probability <= 1 - level.

    If the model is calibrated, a class given probability ``q`` is the true one with
    probability ``q``; summed over every class column at ``q <= 1 - level`` this is the
    expected weight of such errors. The p-value is the Poisson chance of seeing at least the
    observed count.
    """
    observed = expected = 0.0
    for prob, w_other, w_class in class_columns(tally):
        low = prob <= 1 - level
        observed += float(w_class[low].sum())
        expected += float(((w_other + w_class) * prob)[low].sum())
    # pdtrc(k, mu) = P(X > k) is scipy.stats.poisson.sf, without importing scipy.stats
    p_value = float(pdtrc(round(observed) - 1, expected)) if observed > 0 else 1.0
    return observed, expected, p_value


def loss_concentration(prob: np.ndarray, weight: np.ndarray) -> dict[str, Any]:
    """Share of samples (worst first) that carries half the loss, and the whole curve.

    Probabilities are floored at 1e-15 (losses capped at 34.54 nats) so that infinite ones (reported on their own by
    ``infinite_loss``) still rank first without swallowing the total.
    """
    loss = -np.log(np.maximum(prob, CLIP_EPS))
    order = np.argsort(-loss, kind="stable")
    loss, weight = loss[order], weight[order]
    carried = np.cumsum(loss * weight)
    total = carried[-1]
    samples = np.cumsum(weight) / weight.sum()
    if total <= 0:
        return {"half_loss_sample_share": 1.0, "curve": {"sample_share": [], "loss_share": []}}
    index = int(np.searchsorted(carried, total / 2))
    grid = np.linspace(0, 1, CURVE_POINTS)
    curve = np.interp(grid, np.concatenate([[0.0], samples]), np.concatenate([[0.0], carried / total]))
    return {
        "half_loss_sample_share": float(samples[index]),
        "curve": {"sample_share": grid.tolist(), "loss_share": curve.tolist()},
    }


def _threshold_band(tally: Tally, accuracy: float) -> dict[str, Any] | None:
    """Binary predictions within THRESHOLD_BAND of the threshold and the accuracy they hold."""
    if tally.task != "binary":
        return None
    table = tally.tables[0]
    near = np.abs(table.scores - tally.threshold) <= THRESHOLD_BAND
    decided = table.scores >= tally.threshold
    right = table.weights[near & decided, 1].sum() + table.weights[near & ~decided, 0].sum()
    wrong = table.weights[near].sum() - right
    return {
        "band": THRESHOLD_BAND,
        "count": float(table.weights[near].sum()),
        "share": float(table.weights[near].sum() / tally.weight),
        "correct": float(right),
        "wrong": float(wrong),
        "accuracy_if_all_flipped": float(accuracy + (wrong - right) / tally.weight),
        "accuracy_low": float(accuracy - right / tally.weight),
        "accuracy_high": float(accuracy + wrong / tally.weight),
    }


def _ids_below(tally: Tally, level: float, limit: int = 20) -> list[Any]:
    worst = tally.worst
    chosen = worst.ids[worst.prob <= 1 - level][:limit]
    return [v.item() if hasattr(v, "item") else v for v in chosen]


def diagnose(tally: Tally, accuracy: float) -> dict[str, Any]:
    """The diagnostics section of an Evaluation."""
    prob, weight = true_class_cells(tally)
    # capped losses: shares stay meaningful when some loss is infinite
    loss = weight * -np.log(np.maximum(prob, CLIP_EPS))
    total_loss = float(loss.sum())
    confident_loss = float(loss[prob <= 1 - CONFIDENT_LEVEL].sum())
    observed, expected, p_value = errors_beyond_calibration(tally, CONFIDENT_LEVEL)
    ext_observed, ext_expected, ext_p = errors_beyond_calibration(tally, EXTREME_LEVEL)
    shares = tally.class_weight / tally.weight
    return {
        "majority_accuracy": float(shares.max()),
        "infinite_count": tally.infinite_count,
        "confident_errors": {
            "level": CONFIDENT_LEVEL,
            "count": observed,
            "share": observed / tally.weight,
            "loss_share": confident_loss / total_loss if total_loss > 0 else float("nan"),
            "expected_if_calibrated": expected,
            "p_value": p_value,
            "ids": _ids_below(tally, CONFIDENT_LEVEL),
        },
        "extreme_errors": {
            "level": EXTREME_LEVEL,
            "count": ext_observed,
            "expected_if_calibrated": ext_expected,
            "p_value": ext_p,
            "ids": _ids_below(tally, EXTREME_LEVEL),
        },
        "loss_concentration": loss_concentration(prob, weight),
        "threshold_band": _threshold_band(tally, accuracy),
    }

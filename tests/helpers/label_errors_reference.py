"""The label-error candidates as lossgap computed them before they became columns: every row
put in content order first, full sorts for confident learning, an ``n x k`` chance matrix.

Slow and plain, kept as the reference the fast path must equal (the same candidates, in the
same order). Only the content order itself and ``at_most`` come from the package.
"""

from __future__ import annotations

import numpy as np

from lossgap.core.diagnostics import at_most
from lossgap.core.predictions import Predictions, python_scalar
from lossgap.core.rows import in_content_order

TOLERANCE = 1e-6


def _scaled(w: np.ndarray) -> np.ndarray:
    """Weights in units of their mean positive weight (as every public function took them)."""
    total = w.sum()
    return w * (np.count_nonzero(w > 0) / total) if total > 0 else w


def confident_thresholds(labels: np.ndarray, p: np.ndarray, w: np.ndarray) -> np.ndarray:
    k = p.shape[1]
    present = w > 0
    mass = np.bincount(labels[present], weights=w[present], minlength=k)
    own = p[np.arange(len(labels)), labels]
    sums = np.bincount(labels[present], weights=(w * own)[present], minlength=k)
    with np.errstate(invalid="ignore", divide="ignore"):
        thresholds = np.where(mass > 0, sums / mass, 2.0)
    return np.maximum(thresholds, 2 * TOLERANCE)


def _round_preserving_sum(values: np.ndarray) -> np.ndarray:
    ints = values.round()
    target = np.round(values.sum())
    while abs(target - ints.sum()) > TOLERANCE:
        diff = np.round(target - ints.sum())
        step = -1 if diff < 0 else 1
        changes = min(int(abs(diff)), len(values))
        for i in np.argsort(values - ints)[::-step][:changes]:
            ints[i] += step
    return ints


def confident_joint(labels: np.ndarray, p: np.ndarray, w: np.ndarray) -> np.ndarray:
    k = p.shape[1]
    confident = p >= confident_thresholds(labels, p, _scaled(w)) - TOLERANCE
    several = confident.sum(axis=1)
    guess = np.where(several > 1, p.argmax(axis=1), confident.argmax(axis=1))
    keep = (several > 0) & (w > 0)
    joint = np.zeros((k, k))
    np.add.at(joint, (labels[keep], guess[keep]), w[keep])
    np.fill_diagonal(joint, np.maximum(joint.diagonal(), 1.0))
    label_weight = np.bincount(labels, weights=w, minlength=k)
    rows = np.maximum(joint.sum(axis=1, keepdims=True), 1e-100)
    calibrated = joint / rows * label_weight[:, None]
    calibrated = calibrated / max(calibrated.sum(), 1e-100) * label_weight.sum()
    return np.array([_round_preserving_sum(row) for row in calibrated])


def _prune_counts(joint: np.ndarray) -> np.ndarray:
    counts = joint.T
    diagonal = counts.diagonal()
    lifted = np.maximum(diagonal, 1.0)
    cells = np.maximum(np.count_nonzero(counts, axis=0) - 1.0, 1.0)
    pruned = np.maximum(counts - (lifted - diagonal) / cells, 0.0)
    np.fill_diagonal(pruned, lifted)
    return np.array([_round_preserving_sum(row) for row in np.trunc(pruned)])


def find_label_issues(labels: np.ndarray, p: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Confident learning with one full sort of each cell's margins (cleanlab's order)."""
    w = _scaled(w)
    prune = _prune_counts(confident_joint(labels, p, _scaled(w)))
    issues = np.zeros(len(labels), dtype=bool)
    for k in range(p.shape[1]):
        members = np.flatnonzero((labels == k) & (w > 0))
        if len(members) <= 1:
            continue
        for j in np.flatnonzero(prune[:, k]):
            if j == k:
                continue
            margin = p[members, j] - p[members, k]
            order = np.argsort(-margin)
            before = np.cumsum(w[members][order]) - w[members][order]
            issues[members[order[before < prune[j, k] - 1e-9]]] = True
    boosted = p.copy()
    boosted[np.arange(len(labels)), labels] += TOLERANCE
    return issues & (boosted.argmax(axis=1) != labels)


def chance_matrix(p: np.ndarray) -> np.ndarray:
    """Every sample's and class's chance, by a stable sort of each row."""
    k = p.shape[1]
    order = np.argsort(p, axis=1, kind="stable")
    ranked = np.take_along_axis(p, order, axis=1)
    carried = np.cumsum(ranked, axis=1)
    end = np.ones_like(ranked, dtype=bool)
    end[:, :-1] = ranked[:, 1:] != ranked[:, :-1]
    run_end = np.where(end, np.arange(k), k)
    run_end = np.minimum.accumulate(run_end[:, ::-1], axis=1)[:, ::-1]
    chance = np.empty_like(p)
    np.put_along_axis(chance, order, np.take_along_axis(carried, run_end, axis=1), axis=1)
    return chance


def candidates(pred: Predictions, level: float = 0.01) -> list[tuple]:
    """(id, label, suggested, probability, chance, confident_learning) of every candidate,
    the least likely labels first, ties in content order."""
    pred = in_content_order(pred)
    p = pred.class_prob
    weight = np.ones(len(p)) if pred.sample_weight is None else pred.sample_weight
    learned = find_label_issues(pred.y, p, weight)
    chance = chance_matrix(p)[np.arange(len(p)), pred.y]
    unlikely = (np.round(chance, 12) <= at_most(1.0 - level)) & (weight > 0)
    flagged = np.flatnonzero(learned | unlikely)
    given = p[flagged, pred.y[flagged]]
    rows = flagged[np.lexsort((given, chance[flagged]))]
    classes = np.asarray(pred.classes)
    return [
        (
            python_scalar(np.asarray(pred.ids)[r]),
            python_scalar(classes[pred.y[r]]),
            python_scalar(classes[p[r].argmax()]),
            float(p[r, pred.y[r]]),
            float(chance[r]),
            bool(learned[r]),
        )
        for r in rows
    ]

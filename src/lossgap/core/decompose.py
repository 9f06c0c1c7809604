"""CORP score decomposition: miscalibration, discrimination, uncertainty.

For a proper score ``S`` (log loss, Brier), the isotonic (PAV) recalibration ``r`` of the
scores and the base rate ``pi``::

    MCB = S(p) - S(r)      miscalibration: what recalibration removes
    DSC = S(pi) - S(r)     discrimination: what the ranking earns over no skill
    UNC = S(pi)            uncertainty: the no-skill score
    S(p) = MCB - DSC + UNC

holds exactly. The recalibration is the PAV fit (:func:`lossgap.core.isotonic.fit_isotonic`,
equal to scikit-learn's ``IsotonicRegression``) on the distinct scores of a
:class:`~lossgap.core.tally.ScoreTable`, weighted by their counts, which equals the fit on the
raw samples (PAV pools ties first).

Multiclass: each class column one-vs-rest (``per_class``), and the top label (confidence
``max_k p_k`` against correctness) when the samples are at hand; the top-level
``log_loss``/``brier`` entries of a multiclass decomposition are the top-label ones, whose
``score`` is the binary score of the top-label confidence, not the multiclass log loss.

References
----------
Dimitriadis, T., Gneiting, T., & Jordan, A. I. (2021). Stable reliability diagrams for
probabilistic classifiers. PNAS 118(8). https://doi.org/10.1073/pnas.2016191118
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from lossgap.core.isotonic import fit_isotonic
from lossgap.core.losses import CLIP_EPS
from lossgap.core.predictions import Predictions
from lossgap.core.tally import ScoreTable, Tally

#: A scoring rule as a function of per-row probabilities and the (negative, positive)
#: weights at each row; returns the weighted total.
ScoringRule = Callable[[np.ndarray, np.ndarray], float]


def log_score_total(prob: np.ndarray, weights: np.ndarray) -> float:
    """Total log loss of probabilities ``prob`` with weights ``(w_neg, w_pos)`` per row.

    Probabilities are clipped to [1e-15, 1 - 1e-15] (the documented clip of
    ``log_loss_clipped``), so a single certain error does not make every part infinite.
    """
    prob = np.clip(prob, CLIP_EPS, 1.0 - CLIP_EPS)
    return float(-(weights[:, 1] @ np.log(prob) + weights[:, 0] @ np.log1p(-prob)))


def brier_score_total(prob: np.ndarray, weights: np.ndarray) -> float:
    """Total Brier score of probabilities ``prob`` with weights ``(w_neg, w_pos)`` per row."""
    return float((weights[:, 1] * (1.0 - prob) ** 2 + weights[:, 0] * prob**2).sum())


SCORING_RULES: dict[str, ScoringRule] = {"log_loss": log_score_total, "brier": brier_score_total}


@dataclass(frozen=True)
class Decomposition:
    """``score = miscalibration - discrimination + uncertainty``, all means per sample."""

    miscalibration: float
    discrimination: float
    uncertainty: float
    score: float


def isotonic_recalibration(table: ScoreTable) -> np.ndarray:
    """PAV fit of the positive share on the score: the recalibrated probability per row.

    Examples
    --------
    >>> t = ScoreTable(np.array([0.1, 0.4, 0.8]), np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]))
    >>> isotonic_recalibration(t).tolist()  # 0.4 and 0.8 pool to 2/3
    [0.0, 0.6666666666666666, 0.6666666666666666]
    """
    fit = fit_isotonic(table.scores, *table.weights.T)
    # rows of zero weight are not knots: they take the interpolated value
    return fit.values if len(fit.knots) == len(table.scores) else fit.predict(table.scores)


def corp(table: ScoreTable) -> dict[str, Any]:
    """CORP decomposition of log loss and Brier score for one binary score table.

    Returns
    -------
    dict
        ``{"log_loss": Decomposition, "brier": Decomposition, "curve": {...}}`` where the
        curve holds the PAV blocks: ``score_low``, ``score_high``, ``recalibrated`` and
        ``weight`` (the reliability diagram's step function).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> p = rng.uniform(size=200); y = rng.uniform(size=200) < p
    >>> d = corp(ScoreTable.from_samples(p, y, None))["brier"]
    >>> round(d.miscalibration - d.discrimination + d.uncertainty - d.score, 12)
    0.0
    """
    weights = table.weights
    total = weights.sum()
    recalibrated = isotonic_recalibration(table)
    # the recalibrated probability is constant on each PAV block: score the blocks
    starts = np.flatnonzero(np.diff(recalibrated, prepend=np.nan) != 0)
    block_prob = recalibrated[starts]
    block_weights = np.add.reduceat(weights, starts, axis=0)
    class_totals = weights.sum(axis=0, keepdims=True)
    base_rate = class_totals[:, 1] / total
    parts: dict[str, Any] = {}
    for name, rule in SCORING_RULES.items():
        original = rule(table.scores, weights) / total
        calibrated = rule(block_prob, block_weights) / total
        reference = rule(base_rate, class_totals) / total
        parts[name] = Decomposition(
            miscalibration=float(original - calibrated),
            discrimination=float(reference - calibrated),
            uncertainty=float(reference),
            score=float(original),
        )
    ends = np.append(starts[1:], len(recalibrated)) - 1
    parts["curve"] = {  # the reliability diagram's step function
        "score_low": table.scores[starts].tolist(),
        "score_high": table.scores[ends].tolist(),
        "recalibrated": block_prob.tolist(),
        "weight": block_weights.sum(axis=1).tolist(),
    }
    return parts


def top_label_table(pred: Predictions) -> ScoreTable:
    """Confidence of the decision against its correctness, as a binary score table."""
    if pred.task == "binary":
        decided = pred.predicted()
        confidence = np.where(decided == 1, pred.prob, 1.0 - pred.prob)
    else:
        decided = np.argmax(pred.prob, axis=1)
        confidence = pred.prob.max(axis=1)
    return ScoreTable.from_samples(confidence, decided == pred.y, pred.sample_weight)


def _as_json(parts: dict[str, Any]) -> dict[str, Any]:
    return {k: asdict(v) if isinstance(v, Decomposition) else v for k, v in parts.items()}


def decompose(tally: Tally, pred: Predictions | None = None) -> dict[str, Any]:
    """The decomposition section of an Evaluation.

    Parameters
    ----------
    tally : Tally
    pred : Predictions, optional
        The samples, when in memory; needed for the multiclass top-label decomposition.

    Returns
    -------
    dict
        Binary: ``{"target", "method", "log_loss", "brier", "curve"}``. Multiclass adds
        ``per_class`` (one-vs-rest, from the Tally) and takes ``log_loss``/``brier``/``curve``
        from the top label when ``pred`` is given.
    """
    method = (
        "CORP: isotonic (PAV) recalibration, score = MCB - DSC + UNC; log loss on "
        "probabilities clipped to [1e-15, 1 - 1e-15]"
    )
    if tally.task == "binary":
        return {"target": "probability of the positive class", "method": method,
                **_as_json(corp(tally.tables[0]))}
    per_class = {str(c): _as_json(corp(t)) for c, t in zip(tally.classes, tally.tables, strict=True)}
    for part in per_class.values():
        part.pop("curve")
    out: dict[str, Any] = {"method": method, "per_class": per_class}
    if pred is None:
        out["target"] = "one-vs-rest per class (top label needs the samples)"
        return out
    out["target"] = "top-label confidence against correctness; per_class: one-vs-rest"
    out.update(_as_json(corp(top_label_table(pred))))
    return out

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

import numpy as np

from lossgap.core.isotonic import fit_isotonic
from lossgap.core.losses import CLIP_EPS
from lossgap.core.predictions import Predictions
from lossgap.core.tally import ScoreTable, Tally
from lossgap.results.evaluation import (
    Corp,
    Decomposition,
    DecompositionTerms,
    ReliabilityCurve,
)

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


def corp(table: ScoreTable) -> Corp:
    """CORP decomposition of log loss and Brier score for one binary score table.

    Returns
    -------
    Corp
        The log loss and Brier terms, and the curve of PAV blocks (the reliability
        diagram's step function).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> p = rng.uniform(size=200); y = rng.uniform(size=200) < p
    >>> d = corp(ScoreTable.from_samples(p, y, None)).brier
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
    parts: dict[str, DecompositionTerms] = {}
    for name, rule in SCORING_RULES.items():
        original = rule(table.scores, weights) / total
        calibrated = rule(block_prob, block_weights) / total
        reference = rule(base_rate, class_totals) / total
        parts[name] = DecompositionTerms(
            miscalibration=float(original - calibrated),
            discrimination=float(reference - calibrated),
            uncertainty=float(reference),
            score=float(original),
        )
    ends = np.append(starts[1:], len(recalibrated)) - 1
    curve = ReliabilityCurve(
        score_low=table.scores[starts].tolist(),
        score_high=table.scores[ends].tolist(),
        recalibrated=block_prob.tolist(),
        weight=block_weights.sum(axis=1).tolist(),
    )
    return Corp(log_loss=parts["log_loss"], brier=parts["brier"], curve=curve)


def top_label_table(pred: Predictions) -> ScoreTable:
    """Confidence of the decision against its correctness, as a binary score table."""
    decided = pred.predicted()
    if pred.task == "binary":
        confidence = np.where(decided == 1, pred.prob, 1.0 - pred.prob)
    else:
        confidence = pred.prob.max(axis=1)
    return ScoreTable.from_samples(confidence, decided == pred.y, pred.sample_weight)


def decompose(tally: Tally, pred: Predictions | None = None) -> Decomposition:
    """The decomposition section of an Evaluation.

    Parameters
    ----------
    tally : Tally
    pred : Predictions, optional
        The samples, when in memory: the multiclass top-label decomposition reads them when
        the Tally has no top-label table (one built before it kept one).

    Returns
    -------
    Decomposition
        Binary: the positive-class probability's terms and curve. Multiclass: ``per_class``
        (one-vs-rest, from the Tally), and the top label's terms and curve (from the
        Tally's top-label table, or ``pred``).
    """
    method = (
        "CORP: isotonic (PAV) recalibration, score = MCB - DSC + UNC; log loss on "
        "probabilities clipped to [1e-15, 1 - 1e-15]"
    )
    if tally.task == "binary":
        whole = corp(tally.tables[0])
        return Decomposition(
            method=method,
            target="probability of the positive class",
            log_loss=whole.log_loss,
            brier=whole.brier,
            curve=whole.curve,
        )
    per_class = {}
    for c, table in zip(tally.classes, tally.tables, strict=True):
        parts = corp(table)
        per_class[str(c)] = {"log_loss": parts.log_loss, "brier": parts.brier}
    top_table = tally.top_label
    if top_table is None and pred is not None:
        top_table = top_label_table(pred)
    if top_table is None:
        return Decomposition(
            method=method,
            target="one-vs-rest per class (top label needs the samples)",
            per_class=per_class,
        )
    top = corp(top_table)
    return Decomposition(
        method=method,
        target="top-label confidence against correctness; per_class: one-vs-rest",
        log_loss=top.log_loss,
        brier=top.brier,
        curve=top.curve,
        per_class=per_class,
    )

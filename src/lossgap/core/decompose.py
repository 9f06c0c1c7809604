"""CORP score decomposition: miscalibration, discrimination, uncertainty.

For a proper score ``S`` (log loss, Brier), the isotonic (PAV) recalibration ``r`` of the
scores and the base rate ``pi``::

    MCB = S(p) - S(r)      miscalibration: what recalibration removes
    DSC = S(pi) - S(r)     discrimination: what the ranking earns over no skill
    UNC = S(pi)            uncertainty: the no-skill score
    S(p) = MCB - DSC + UNC

holds exactly (:func:`decomposition_intervals` puts intervals on the terms). The
recalibration is the PAV fit (:func:`lossgap.core.isotonic.fit_isotonic`,
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

Meyer, M., & Woodroofe, M. (2000). On the degrees of freedom in shape-restricted
regression. Annals of Statistics 28(4). https://doi.org/10.1214/aos/1015956708

Efron, B. (2004). The estimation of prediction error: covariance penalties and
cross-validation. JASA 99(467). https://doi.org/10.1198/016214504000000692
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from lossgap.core.binning import kernel_module
from lossgap.core.bootstrap import (
    MAX_UNITS,
    NULL_DRAWS,
    Resampling,
    _effective_counts,
    consistent_positives,
    poisson_rows,
)
from lossgap.core.isotonic import fit_isotonic, isotonic_rows
from lossgap.core.losses import CLIP_EPS, label_log_losses
from lossgap.core.pooling import pool_table
from lossgap.core.predictions import Predictions
from lossgap.core.tally import ScoreTable, Tally
from lossgap.core.uncertainty import effective_scale, quantiles, wilson, z_value
from lossgap.results.evaluation import (
    Corp,
    Decomposition,
    DecompositionTerms,
    ReliabilityCurve,
)

#: A scoring rule as the loss of each probability when the label is negative and when it
#: is positive (arrays of the probabilities' shape).
RuleLosses = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


def log_losses(prob: np.ndarray, *, clipped: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Log loss of ``prob`` for a negative and for a positive label.

    Probabilities are clipped to [1e-15, 1 - 1e-15] (the documented clip of
    ``log_loss_clipped``), so a single certain error does not make every part infinite.
    ``clipped``: ``prob`` is an array that lies within those bounds already (a clip that
    changes none of it), read rather than copied by a clip: the same doubles, one pass and
    one array fewer (the recalibration's held-out scoring, 20 calls per evaluation on a
    fifth of the rows).
    """
    # in place (about 30 calls per evaluation, on up to every row): the clipped copy
    # holds the positives' losses
    if clipped:
        neg, pos = label_log_losses(prob)
    else:  # an array even for one value
        prob = np.asarray(np.clip(prob, CLIP_EPS, 1.0 - CLIP_EPS))
        neg, pos = label_log_losses(prob, out=prob)
    return neg[()], pos[()]  # one value: scalars


def brier_losses(prob: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Brier score of ``prob`` for a negative and for a positive label."""
    miss = np.asarray(np.subtract(1.0, prob))  # in place: the same doubles as (1 - p) ** 2
    return np.square(prob), np.square(miss, out=miss)[()]


RULE_LOSSES: dict[str, RuleLosses] = {"log_loss": log_losses, "brier": brier_losses}


def _score_total(losses: RuleLosses, prob: np.ndarray, weights: np.ndarray) -> float:
    return weighted_total(losses(prob), weights)


def weighted_total(losses: tuple[np.ndarray, np.ndarray], weights: np.ndarray) -> float:
    """The total of each row's ``(negative, positive)`` losses under ``(m, 2)`` weights."""
    neg, pos = losses
    return float(weights[:, 0] @ neg + weights[:, 1] @ pos)


def log_score_total(prob: np.ndarray, weights: np.ndarray) -> float:
    """Total log loss (:func:`log_losses`) of probabilities ``prob`` with weights
    ``(w_neg, w_pos)`` per row."""
    return _score_total(log_losses, prob, weights)


def brier_score_total(prob: np.ndarray, weights: np.ndarray) -> float:
    """Total Brier score of probabilities ``prob`` with weights ``(w_neg, w_pos)`` per row."""
    return _score_total(brier_losses, prob, weights)


#: A scoring rule as a function of per-row probabilities and the (negative, positive)
#: weights at each row; returns the weighted total.
ScoringRule = Callable[[np.ndarray, np.ndarray], float]

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


#: What is computed once per table and read again: the latest table's PAV blocks, capped
#: log losses (here) and logits (:mod:`lossgap.core.recalibrate`), each kept as one
#: ``(table, value)`` pair: the decomposition, its intervals' optimism
#: (:func:`pav_optimism`), the calibration line and the recalibration read the same
#: table's (the table is held, so that its identity cannot be reused; a thread at worst
#: computes its own table's again).
_LAST_BLOCKS: dict[str, Any] = {}


def kept_for_table(name: str, table: ScoreTable, compute: Callable[[ScoreTable], Any]) -> Any:
    """``compute(table)`` (an array or a tuple of arrays, made read-only), kept under
    ``name`` for the latest table."""
    kept = _LAST_BLOCKS.get(name)
    if kept is None or kept[0] is not table:
        value = compute(table)
        for part in value if isinstance(value, tuple) else (value,):
            part.flags.writeable = False  # shared: no reader may change it
        kept = (table, value)
        _LAST_BLOCKS[name] = kept
    return kept[1]


def table_log_losses(table: ScoreTable) -> tuple[np.ndarray, np.ndarray]:
    """:func:`log_losses` of the table's scores (read-only), kept for the latest table: the
    decomposition's score and the recalibration's losses before the maps read the same
    (two logarithms per row, about 0.7 ms at 1e5 distinct scores)."""
    return kept_for_table("log_losses", table, lambda t: log_losses(t.scores))


def _blocks(table: ScoreTable) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The PAV blocks: first row of each, its recalibrated probability and its weights.

    Kept for the latest table, read-only (an evaluation asks twice: a PAV fit, a scan and a
    reduceat over every row, about 0.7 ms at 1e5 distinct scores)."""
    return kept_for_table("blocks", table, _fit_blocks)


def _fit_blocks(table: ScoreTable) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_blocks`, computed."""
    recalibrated = isotonic_recalibration(table)
    # the recalibrated probability is constant on each PAV block: score the blocks
    starts = np.flatnonzero(np.diff(recalibrated, prepend=np.nan) != 0)
    return starts, recalibrated[starts], np.add.reduceat(table.weights, starts, axis=0)


def _terms(
    table: ScoreTable, block_prob: np.ndarray, block_weights: np.ndarray
) -> dict[str, DecompositionTerms]:
    """Each scoring rule's terms, given the table's PAV blocks (:func:`_blocks`)."""
    weights = table.weights
    total = weights.sum()
    class_totals = weights.sum(axis=0, keepdims=True)
    base_rate = class_totals[:, 1] / total
    parts: dict[str, DecompositionTerms] = {}
    for name, rule in SCORING_RULES.items():
        if name == "log_loss":  # the rule's total, on the table's kept losses
            original = weighted_total(table_log_losses(table), weights) / total
        else:
            original = rule(table.scores, weights) / total
        calibrated = rule(block_prob, block_weights) / total
        reference = rule(base_rate, class_totals) / total
        parts[name] = DecompositionTerms(
            miscalibration=float(original - calibrated),
            discrimination=float(reference - calibrated),
            uncertainty=float(reference),
            score=float(original),
        )
    return parts


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
    starts, block_prob, block_weights = _blocks(table)
    parts = _terms(table, block_prob, block_weights)
    ends = np.append(starts[1:], len(table.scores)) - 1
    curve = ReliabilityCurve(
        score_low=table.scores[starts].tolist(),
        score_high=table.scores[ends].tolist(),
        recalibrated=block_prob.tolist(),
        weight=block_weights.sum(axis=1).tolist(),
    )
    return Corp(log_loss=parts["log_loss"], brier=parts["brier"], curve=curve)


#: The terms that get an interval (MCB and DSC by bootstrap, UNC by Wilson), in this order.
INTERVAL_TERMS = ("miscalibration", "discrimination", "uncertainty")


#: How far the compiled :func:`replicate_terms` may lie from its numpy twin, in nats (log
#: loss) and Brier units: the same PAV blocks, their sums added in another order (measured
#: at most about 1e-15 on random tables, tested).
TERMS_ATOL = 1e-12


def replicate_terms(scores: np.ndarray, w_neg: np.ndarray, w_pos: np.ndarray) -> np.ndarray:
    """``(replicates, rules, 2)``: each scoring rule's MCB and DSC of each row of weights
    over the ascending ``scores``, the PAV map refitted per row; NaN for a row without
    weight (a replicate that drew no sample).

    With numba (:func:`~lossgap.core.binning.kernel_module`) every row is fitted and scored
    in one compiled loop, within :data:`TERMS_ATOL` of the numpy twin
    (:func:`numpy_replicate_terms`), about ten times faster on a resampling table's 270
    runs.

    Examples
    --------
    >>> t = ScoreTable(np.array([0.1, 0.4, 0.8]), np.array([[3.0, 1.0], [1.0, 3.0], [1.0, 2.0]]))
    >>> terms = replicate_terms(t.scores, *t.weights.T[:, None])[0]
    >>> whole = corp(t)
    >>> bool(np.allclose(terms, [[whole.log_loss.miscalibration, whole.log_loss.discrimination],
    ...                          [whole.brier.miscalibration, whole.brier.discrimination]]))
    True
    """
    kernels = kernel_module("bootstrap_kernels")
    if kernels is None or tuple(RULE_LOSSES) != ("log_loss", "brier"):
        return numpy_replicate_terms(scores, w_neg, w_pos)
    losses = [rule(scores) for rule in RULE_LOSSES.values()]
    return kernels.replicate_terms(
        np.array([neg for neg, _ in losses]),
        np.array([pos for _, pos in losses]),
        np.asarray(w_neg, dtype=np.float64),  # strided views as they are (no copy)
        np.asarray(w_pos, dtype=np.float64),
        CLIP_EPS,
    )


def numpy_replicate_terms(scores: np.ndarray, w_neg: np.ndarray, w_pos: np.ndarray) -> np.ndarray:
    """:func:`replicate_terms` in numpy (the compiled path's twin): the PAV fits of
    :func:`~lossgap.core.isotonic.isotonic_rows` scored by every rule of ``RULE_LOSSES``.

    Examples
    --------
    >>> s, w = np.array([0.1, 0.4, 0.8]), np.array([[[3.0, 1.0, 1.0], [1.0, 3.0, 2.0]]])
    >>> bool(np.allclose(numpy_replicate_terms(s, w[:, 0], w[:, 1]),
    ...                  replicate_terms(s, w[:, 0], w[:, 1]), rtol=0, atol=TERMS_ATOL))
    True
    """
    fitted = isotonic_rows(w_neg, w_pos)
    negatives, positives = w_neg.sum(axis=1), w_pos.sum(axis=1)
    total = negatives + positives
    out = np.empty((len(total), len(RULE_LOSSES), 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = positives / total
        for r, losses in enumerate(RULE_LOSSES.values()):
            neg, pos = losses(scores)
            original = w_neg @ neg + w_pos @ pos
            fit_neg, fit_pos = losses(fitted)
            calibrated = (w_neg * fit_neg + w_pos * fit_pos).sum(axis=1)
            rate_neg, rate_pos = losses(rate)
            reference = negatives * rate_neg + positives * rate_pos
            out[:, r, 0] = (original - calibrated) / total
            out[:, r, 1] = (reference - calibrated) / total
    return out


def decomposition_intervals(
    table: ScoreTable,
    estimates: Corp,
    scale: float,
    *,
    confidence: float,
    replicates: int,
    seed: int,
    resampling: Resampling | None = None,
) -> tuple[dict[str, dict[str, list[float]]], str]:
    """Intervals on the MCB, DSC and UNC of one score table, by a bootstrap that refits the
    isotonic map on every replicate.

    Parameters
    ----------
    table : ScoreTable
        The decomposed table (binary: the positive class; multiclass: the top label).
    estimates : Corp
        Its decomposition (:func:`corp`): the intervals are placed around these terms.
    scale : float
        Turns the table's weights into effective counts
        (:func:`~lossgap.core.uncertainty.effective_scale`).
    confidence : float
    replicates : int
        Poisson replicates (at least 2).
    seed : int
    resampling : Resampling, optional
        The binary evaluation's one resampling (:func:`~lossgap.core.bootstrap.resample`
        of the Tally whose table this is): its pooled table, Poisson weights and
        calibrated labels are refitted instead of drawing replicates of the table pooled
        into ``MAX_UNITS / 2`` runs (``seed`` then only names them).

    Returns
    -------
    intervals : dict
        ``{"log_loss": {"miscalibration": [low, high], ...}, "brier": {...}}``.
    method : str
        How, in words.

    Notes
    -----
    MCB and DSC are nonnegative, and the in-sample PAV fit biases both upward by the same
    amount: it fits the labels' noise, so its score is optimistic. The optimism lies
    between :func:`pav_optimism` and twice it (the fit's covariance penalty, from its
    degrees of freedom; the bootstrap's own bias estimate catches only about half of it),
    so the interval runs from the estimate less twice that value less ``z`` SDs to the
    estimate less that value plus ``z`` SDs. The SD is that of a bootstrap whose units are
    the table's (score, label) cells (pooled into runs of adjacent scores past
    ``MAX_UNITS / 2`` rows: the PAV fit's noise depends on how finely the scores are
    resolved, so smaller tables stay exact), each drawn ``Poisson(effective count)`` with
    the PAV map refitted per replicate. Bounds are floored at 0 and hold the estimate.
    MCB's lower bound is 0 when the estimate is within the ``confidence`` quantile of its
    value under labels drawn from the model's own probabilities (no evidence of
    miscalibration). UNC, the score of the base rate, is the Wilson interval of the base
    rate (Kish's effective n) mapped through that score.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> p = rng.uniform(size=500); y = rng.uniform(size=500) < p
    >>> t = ScoreTable.from_samples(p, y, None)
    >>> d = corp(t)
    >>> ci, _ = decomposition_intervals(t, d, 1.0, confidence=0.95, replicates=50, seed=0)
    >>> lo, hi = ci["log_loss"]["miscalibration"]
    >>> lo, lo <= d.log_loss.miscalibration <= hi  # calibrated: the interval reaches 0
    (0.0, True)
    """
    if resampling is None:
        pooled = pool_table(table, MAX_UNITS // 2)
        counts = _effective_counts(pooled.weights, scale)
        rng = np.random.default_rng(seed)
        # replicate after replicate, each row's cells in order, as one ``rng.poisson(counts)``
        # per replicate drew them before the batched refit (the same numbers)
        rep = poisson_rows(rng, counts.ravel(), replicates).reshape(replicates, *counts.shape)
        mass = counts.sum(axis=1)
        positives = consistent_positives(rng, pooled.scores, mass, min(replicates, NULL_DRAWS))
    else:
        pooled, counts = resampling.table, resampling.table.weights
        rep = resampling.weights[:replicates].reshape(replicates, 2, -1).transpose(0, 2, 1)
        mass = counts.sum(axis=1)
        positives = resampling.labels.positives[: min(replicates, NULL_DRAWS)]
    scores = pooled.scores
    base = replicate_terms(scores, counts[None, :, 0], counts[None, :, 1])[0]
    draws = replicate_terms(scores, rep[..., 0], rep[..., 1])
    null = replicate_terms(scores, mass - positives, positives)[..., 0]
    n_eff = float(table.weights.sum() * scale)
    overfit = pav_optimism(table, n_eff)
    z = z_value(confidence)
    intervals: dict[str, dict[str, list[float]]] = {}
    for r, rule in enumerate(SCORING_RULES):
        terms = getattr(estimates, rule)
        estimate = np.array([getattr(terms, term) for term in INTERVAL_TERMS])
        spread = _spread(draws[:, r, :2] - base[r, :2])
        # the optimism lies between half the covariance penalty and all of it
        lowest = estimate[:2] - 2 * overfit[r] - z * spread
        low = np.minimum(np.maximum(lowest, 0.0), estimate[:2])
        high = np.maximum(estimate[:2] - overfit[r] + z * spread, estimate[:2])
        # no evidence of miscalibration: labels drawn from the model's own probabilities
        # give an MCB this large
        if estimate[0] <= quantiles(null[:, r], [confidence])[0] + estimate[0] - base[r, 0]:
            low[0] = 0.0
        intervals[rule] = {
            "miscalibration": [float(low[0]), float(high[0])],
            "discrimination": [float(low[1]), float(high[1])],
            "uncertainty": list(_uncertainty_interval(table, rule, n_eff, confidence)),
        }
    pooled_words = (
        ""
        if len(pooled.scores) == len(table.scores)
        else f", scores pooled into {len(pooled.scores)} runs"
    )
    shared = "" if resampling is None else ", the metrics' replicates"
    method = (
        "miscalibration and discrimination: the estimate less the isotonic fit's optimism, "
        "between half and all of its covariance penalty (blocks / n_eff nats, 2 sum of "
        "r(1 - r) over blocks / n_eff Brier), -+ z SD of a bootstrap "
        f"({replicates} Poisson replicates of the score table's cells{pooled_words}, seed "
        f"{seed}{shared}, the isotonic map refitted per replicate), floored at 0 and holding the "
        "estimate; miscalibration from 0 when within what labels drawn from the model's own "
        "probabilities give; uncertainty: the Wilson interval of the base rate (Kish's n_eff) "
        "mapped through the score of the base rate"
    )
    return intervals, method


def _spread(deviations: np.ndarray) -> np.ndarray:
    """``np.nanstd(deviations, axis=0, ddof=1)``: ``np.std`` where no replicate is NaN
    (an empty replicate's terms are), the same doubles (tested) at a quarter of the cost.

    Examples
    --------
    >>> _spread(np.array([[1.0, np.nan], [2.0, 1.0], [4.0, 3.0]])).round(4).tolist()
    [1.5275, 1.4142]
    """
    if np.isnan(deviations).any():
        return np.nanstd(deviations, axis=0, ddof=1)
    return np.std(deviations, axis=0, ddof=1)


def pav_optimism(table: ScoreTable, n_eff: float) -> np.ndarray:
    """Half the covariance penalty of the PAV fit, per scoring rule (log loss, Brier): the
    least by which its in-sample score is optimistic, so MCB and DSC are biased upward.

    The isotonic fit's degrees of freedom are its expected number of blocks (Meyer &
    Woodroofe 2000). Its in-sample score beats its score on fresh labels by the covariance
    penalty (Efron 2004): ``blocks / n`` nats of log loss (AIC's penalty per sample) and
    ``2 sum_b r_b (1 - r_b) / n`` of Brier score (Mallows' Cp, each block's fitted share
    ``r_b`` a mean of its labels with their Bernoulli variance). Against the population's
    recalibration the optimism is that penalty less the fit's own risk, measured at 1.5 to
    1.8 times this value (half the penalty) on calibrated and miscalibrated models with n
    from 200 to 5,000. ``n_eff`` is the effective sample size (Kish's, under weights).

    Examples
    --------
    >>> t = ScoreTable(np.array([0.2, 0.4, 0.8]), np.array([[3.0, 1.0], [1.0, 3.0], [0.0, 2.0]]))
    >>> pav_optimism(t, 10.0).round(4).tolist()  # 3 blocks; sum r(1 - r) = 3 / 16 * 2
    [0.15, 0.0375]
    """
    _, block_prob, block_weights = _blocks(table)
    mass = block_weights.sum(axis=1)
    blocks = int(np.count_nonzero(mass))
    # each block's fitted share is a mean of its labels: it gains its Bernoulli variance
    variance = float(np.sum(np.where(mass > 0, block_prob * (1.0 - block_prob), 0.0)))
    return np.array([blocks / (2.0 * n_eff), variance / n_eff])


def _uncertainty_interval(
    table: ScoreTable, rule: str, n_eff: float, confidence: float
) -> tuple[float, float]:
    """UNC of the base rate's Wilson interval: the score of a constant forecast is concave
    and largest at 1/2, so its range over the interval is at its ends or at 1/2."""
    positive = float(table.weights[:, 1].sum() / table.weights.sum())
    low, high = wilson(positive, n_eff, confidence)
    candidates = [low, high] + ([0.5] if low <= 0.5 <= high else [])
    values = [SCORING_RULES[rule](np.array([p]), np.array([[1.0 - p, p]])) for p in candidates]
    return float(min(values)), float(max(values))


def top_label_table(pred: Predictions) -> ScoreTable:
    """Confidence of the decision against its correctness, as a binary score table."""
    decided = pred.predicted()
    if pred.task == "binary":
        confidence = np.where(decided == 1, pred.prob, 1.0 - pred.prob)
    else:
        confidence = pred.prob.max(axis=1)
    return ScoreTable.from_samples(confidence, decided == pred.y, pred.sample_weight)


def decompose(
    tally: Tally,
    pred: Predictions | None = None,
    *,
    confidence: float = 0.95,
    replicates: int = 0,
    seed: int = 0,
    resampling: Resampling | None = None,
) -> Decomposition:
    """The decomposition section of an Evaluation.

    Parameters
    ----------
    tally : Tally
    pred : Predictions, optional
        The samples, when in memory: the multiclass top-label decomposition reads them when
        the Tally has no top-label table (one built before it kept one).
    confidence : float, default=0.95
        Of the terms' intervals.
    replicates : int, default=0
        Bootstrap replicates of the terms' intervals (:func:`decomposition_intervals`);
        below 2, no intervals.
    seed : int, default=0
    resampling : Resampling, optional
        Binary: the evaluation's one resampling, which the terms' intervals then share
        (see :func:`decomposition_intervals`).

    Returns
    -------
    Decomposition
        Binary: the positive-class probability's terms and curve. Multiclass: ``per_class``
        (one-vs-rest, from the Tally), and the top label's terms and curve (from the
        Tally's top-label table, or ``pred``). The target's terms get intervals.
    """
    method = (
        "CORP: isotonic (PAV) recalibration, score = MCB - DSC + UNC; log loss on "
        "probabilities clipped to [1e-15, 1 - 1e-15]"
    )

    def with_intervals(
        table: ScoreTable, whole: Corp, shared: Resampling | None = None
    ) -> dict[str, Any]:
        if replicates < 2:
            return {}
        intervals, how = decomposition_intervals(
            table,
            whole,
            effective_scale(tally),
            confidence=confidence,
            replicates=replicates,
            seed=seed,
            resampling=shared,
        )
        return {"intervals": intervals, "ci_method": how}

    if tally.task == "binary":
        whole = corp(tally.tables[0])
        return Decomposition(
            method=method,
            target="probability of the positive class",
            log_loss=whole.log_loss,
            brier=whole.brier,
            curve=whole.curve,
            **with_intervals(tally.tables[0], whole, resampling),
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
        **with_intervals(top_table, top),
    )

"""The numbers behind the plots that an Evaluation does not hold: pure functions.

Plots read an :class:`~lossgap.results.evaluation.Evaluation` (the CORP curve, the loss
concentration curve, the findings) and, for what a summary of numbers cannot show, the
series computed here from the score tables of a :class:`~lossgap.core.tally.Tally` (or from
the samples when they are in memory):

* :func:`consistency_band`: where the CORP reliability curve of a *calibrated* model would
  lie, by consistency resampling (Broecker & Smith 2007; Dimitriadis et al. 2021);
* :func:`threshold_curves`: accuracy, F1, precision and recall at every distinct threshold,
  exact (each is a confusion matrix of the score table);
* :func:`confidence_histogram`: the confidence of correct and of wrong decisions;
* :func:`sample_points`: per-sample loss against confidence, thinned for plotting;
* :func:`flip_points`: two models' probabilities on the same samples, by flip category.

:func:`explain_curves` bundles the first four for one evaluation. Nothing here draws;
nothing in the drawing code computes.

References
----------
Broecker, J., & Smith, L. A. (2007). Increasing the reliability of reliability diagrams.
Weather and Forecasting 22(3), 651-661. https://doi.org/10.1175/WAF993.1

Dimitriadis, T., Gneiting, T., & Jordan, A. I. (2021). Stable reliability diagrams for
probabilistic classifiers. PNAS 118(8). https://doi.org/10.1073/pnas.2016191118
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import numpy as np

from lossgap.core.decision import decision_curve
from lossgap.core.decompose import top_label_table
from lossgap.core.isotonic import fit_isotonic
from lossgap.core.losses import MAX_CLIPPED_LOSS, sample_log_loss
from lossgap.core.metrics import (
    accuracy_from_confusion,
    f1_from_confusion,
    precision_from_confusion,
    recall_from_confusion,
)
from lossgap.core.predictions import Predictions, python_scalar
from lossgap.core.tally import ScoreTable, Tally, highest
from lossgap.errors import InputError
from lossgap.results.compare import Comparison
from lossgap.results.curves import (
    ConfidenceHistogram,
    ConsistencyBand,
    ExplainCurves,
    FlipPoints,
    LabelledPoint,
    SamplePoints,
    ThresholdCurves,
    ThresholdMetrics,
    ThresholdValue,
)
from lossgap.results.evaluation import Evaluation, ReliabilityCurve

#: Resamples of the consistency band (reliabilitydiag's default is 100).
BAND_REPLICATES = 200
#: Rows of a score table the band resamples; larger tables are pooled into this many
#: groups of consecutive scores (the band is then drawn at the groups' mean scores).
BAND_MAX_POINTS = 2000
#: Points kept per plotted series (thresholds, samples).
MAX_POINTS = 2000
#: Bins of the confidence histogram.
HISTOGRAM_BINS = 20


def _pooled(table: ScoreTable, max_points: int) -> tuple[np.ndarray, np.ndarray]:
    """(scores, weights per row) with consecutive rows pooled into at most ``max_points``."""
    scores, weight = np.asarray(table.scores, float), np.asarray(table.weights, float).sum(axis=1)
    keep = weight > 0
    scores, weight = scores[keep], weight[keep]
    if len(scores) <= max_points:
        return scores, weight
    # equal-weight groups of consecutive scores; each group sits at its weighted mean
    cum = np.cumsum(weight)
    group = np.minimum((cum - weight / 2) / cum[-1] * max_points, max_points - 1).astype(int)
    total = np.bincount(group, weights=weight)
    mean = np.bincount(group, weights=weight * scores)
    used = total > 0
    return mean[used] / total[used], total[used]


def consistency_band(
    table: ScoreTable,
    *,
    confidence: float = 0.95,
    replicates: int = BAND_REPLICATES,
    n: int | None = None,
    seed: int = 0,
    max_points: int = BAND_MAX_POINTS,
) -> ConsistencyBand:
    """Pointwise band of the CORP reliability curve under the hypothesis of calibration.

    Parameters
    ----------
    table : ScoreTable
        Scores (the predicted probability) with the weight of negatives and positives.
    confidence : float, default=0.95
        Pointwise coverage of the band.
    replicates : int, default=200
        Resamples.
    n : int, optional
        Samples drawn per resample; default the table's total weight, rounded (pass the
        effective sample size for weighted data).
    seed : int, default=0
    max_points : int, default=2000
        Tables with more distinct scores are pooled into this many groups of consecutive
        scores first.

    Returns
    -------
    ConsistencyBand
        ``score``, ``low``, ``high`` (lists over the distinct, or pooled, scores),
        ``confidence``, ``replicates``, ``n`` and ``method``.

    Notes
    -----
    Consistency resampling: each resample draws ``n`` forecasts with replacement from the
    table (a multinomial draw of counts over its rows), then outcomes
    ``y* ~ Bernoulli(p)`` at each drawn forecast ``p`` -- what a calibrated model would
    see. The PAV (isotonic) fit of ``y*`` on ``p`` is interpolated linearly at every
    score of the table (undefined outside the drawn range), and the band is the pointwise
    ``(1 - confidence) / 2`` and ``(1 + confidence) / 2`` quantiles over the resamples.
    Where the observed CORP curve leaves the band, the miscalibration is larger than
    sampling noise could make it.

    References
    ----------
    Dimitriadis, Gneiting & Jordan (2021), PNAS 118(8), Section "Uncertainty
    quantification"; Broecker & Smith (2007).

    Examples
    --------
    >>> t = ScoreTable(np.array([0.2, 0.8]), np.array([[80.0, 20.0], [20.0, 80.0]]))
    >>> band = consistency_band(t, seed=1)
    >>> [lo <= p <= hi for p, lo, hi in zip(band.score, band.low, band.high)]
    [True, True]
    """
    if not 0.0 < confidence < 1.0:
        msg = f"confidence must lie strictly between 0 and 1, got {confidence!r}"
        raise InputError(msg)
    scores, weight = _pooled(table, max_points)
    size = n if n is not None else max(1, round(float(weight.sum())))
    rng = np.random.default_rng(seed)
    drawn = rng.multinomial(size, weight / weight.sum(), size=replicates)
    positives = rng.binomial(drawn, scores)
    fitted = np.full((replicates, len(scores)), np.nan)
    for r in range(replicates):
        fit = fit_isotonic(scores, drawn[r] - positives[r], positives[r])  # drawn rows only
        inside = (scores >= fit.knots[0]) & (scores <= fit.knots[-1])
        fitted[r, inside] = fit.predict(scores[inside])
    alpha = (1.0 - confidence) / 2.0
    with np.errstate(all="ignore"):
        low, high = np.nanquantile(fitted, [alpha, 1.0 - alpha], axis=0)
    return ConsistencyBand(
        score=scores.tolist(),
        low=low.tolist(),
        high=high.tolist(),
        confidence=confidence,
        replicates=replicates,
        n=size,
        method="consistency resampling: forecasts drawn with replacement, outcomes "
        "Bernoulli(forecast), PAV refit (Dimitriadis et al. 2021)",
    )


def curve_outside_band(curve: ReliabilityCurve, band: ConsistencyBand) -> float:
    """Share of the weight of the CORP curve's blocks whose value leaves the band.

    A block (``score_low`` to ``score_high`` at value ``recalibrated``) is outside when
    the band at some score of the block excludes its value.

    Examples
    --------
    >>> curve = ReliabilityCurve(score_low=[0.1, 0.6], score_high=[0.4, 0.9],
    ...                          recalibrated=[0.25, 0.3], weight=[50.0, 50.0])
    >>> band = ConsistencyBand(score=[0.1, 0.4, 0.6, 0.9], low=[0.0, 0.2, 0.5, 0.8],
    ...                        high=[0.3, 0.6, 0.7, 1.0], confidence=0.95, replicates=200,
    ...                        n=100, method="by hand")
    >>> curve_outside_band(curve, band)
    0.5
    """
    score = np.asarray(band.score, float)
    low = np.asarray([np.nan if v is None else v for v in band.low], float)
    high = np.asarray([np.nan if v is None else v for v in band.high], float)
    weight = np.asarray(curve.weight, float)
    if weight.sum() <= 0:
        return 0.0
    outside = np.zeros(len(weight), dtype=bool)
    for i, (a, b, value) in enumerate(
        zip(curve.score_low, curve.score_high, curve.recalibrated, strict=True)
    ):
        at = (score >= a) & (score <= b) & np.isfinite(low)
        outside[i] = bool(np.any((value < low[at]) | (value > high[at])))
    return float(weight[outside].sum() / weight.sum())


def _thin(n: int, max_points: int, keep: np.ndarray) -> np.ndarray:
    """Indices ``0..n-1``: all when few, else evenly spaced ones plus ``keep``."""
    if n <= max_points:
        return np.arange(n)
    return np.union1d(np.linspace(0, n - 1, max_points).round().astype(int), keep)


def threshold_curves(
    table: ScoreTable, *, threshold: float = 0.5, max_points: int = MAX_POINTS
) -> ThresholdCurves:
    """Accuracy, F1, precision and recall at every distinct threshold of a binary table.

    Parameters
    ----------
    table : ScoreTable
        The binary score table (probability of the positive class).
    threshold : float, default=0.5
        The threshold in use, reported with its accuracy.
    max_points : int, default=2000
        Series longer than this are thinned to evenly spaced thresholds (each value
        still exact at its threshold); the best ones are always kept.

    Returns
    -------
    ThresholdCurves
        ``threshold`` (ascending; ``p >= threshold`` predicts positive), ``accuracy``,
        ``f1``, ``precision``, ``recall``, ``positive_share`` (lists);
        ``best_accuracy`` and ``best_f1`` (the lowest threshold that attains the maximum,
        and the maximum); ``current`` (the metrics at ``threshold``) and ``exact`` (False
        when the table is compressed into bins, so thresholds are bin representatives).

    Notes
    -----
    At threshold ``t = s_j`` the positives are the rows with score ``>= s_j``, so the
    confusion matrix is a suffix sum of the table: every threshold costs one cumulative
    sum, and the values equal scikit-learn's ``accuracy_score``/``f1_score`` on
    ``y_prob >= t``. Unless a score is 1, the threshold 1 (all negative) is included.

    Examples
    --------
    >>> t = ScoreTable(np.array([0.2, 0.6, 0.9]), np.array([[2.0, 0.0], [1.0, 1.0], [0.0, 2.0]]))
    >>> c = threshold_curves(t)
    >>> c.threshold, c.accuracy
    ([0.2, 0.6, 0.9, 1.0], [0.5, 0.8333333333333334, 0.8333333333333334, 0.5])
    >>> c.best_accuracy
    ThresholdValue(threshold=0.6, value=0.8333333333333334)
    """
    scores = np.asarray(table.scores, float)
    weights = np.asarray(table.weights, float)
    # suffix sums: the weight of negatives / positives at score >= scores[j]
    neg = np.cumsum(weights[::-1, 0])[::-1]
    pos = np.cumsum(weights[::-1, 1])[::-1]
    cuts = scores
    if scores[-1] < 1.0:  # a threshold above every score: all negative
        cuts, neg, pos = np.append(scores, 1.0), np.append(neg, 0.0), np.append(pos, 0.0)
    total_neg, total_pos = neg[0], pos[0]
    confusion = np.stack(
        [
            np.stack([total_neg - neg, neg], axis=-1),
            np.stack([total_pos - pos, pos], axis=-1),
        ],
        axis=-2,
    )
    with np.errstate(all="ignore"):
        values = {
            "accuracy": accuracy_from_confusion(confusion),
            "f1": f1_from_confusion(confusion),
            "precision": precision_from_confusion(confusion),
            "recall": recall_from_confusion(confusion),
            "positive_share": (neg + pos) / (total_neg + total_pos),
        }
    best = {name: int(np.nanargmax(values[name])) for name in ("accuracy", "f1")}
    # p >= threshold selects the same rows as p >= the first cut at or above it
    at = int(np.searchsorted(cuts, threshold, side="left"))
    keep = _thin(len(cuts), max_points, np.array([*best.values(), at]))
    series = {name: v[keep].tolist() for name, v in values.items()}
    current = {name: float(v[at]) for name, v in values.items()}
    tops = {
        name: ThresholdValue(float(cuts[i]), float(values[name][i])) for name, i in best.items()
    }
    return ThresholdCurves(
        threshold=cuts[keep].tolist(),
        accuracy=series["accuracy"],
        f1=series["f1"],
        precision=series["precision"],
        recall=series["recall"],
        positive_share=series["positive_share"],
        current=ThresholdMetrics(threshold=float(threshold), **current),
        exact=not table.compressed,
        best_accuracy=tops["accuracy"],
        best_f1=tops["f1"],
    )


def decision_table(tally: Tally, pred: Predictions | None = None) -> ScoreTable | None:
    """Confidence of each decision against its correctness, as a binary score table.

    Binary: read from the Tally (the decided class's probability, ``p`` where
    ``p >= threshold`` and ``1 - p`` elsewhere; correct weight in column 1). Multiclass:
    the top label (``max_k p_k``) from the samples, None without them.

    Examples
    --------
    >>> from lossgap import Predictions
    >>> tally = Tally.from_predictions(Predictions([0, 1, 1], [0.2, 0.9, 0.3]))
    >>> t = decision_table(tally)
    >>> t.scores.tolist(), t.weights.tolist()
    ([0.7, 0.8, 0.9], [[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    """
    if tally.task != "binary":
        return None if pred is None else top_label_table(pred)
    table = tally.tables[0].to_numpy()
    scores = np.asarray(table.scores, float)
    w_neg, w_pos = np.asarray(table.weights, float).T
    positive = scores >= tally.threshold
    confidence = np.where(positive, scores, 1.0 - scores)
    correct = np.where(positive, w_pos, w_neg)
    wrong = np.where(positive, w_neg, w_pos)
    order = np.argsort(confidence, kind="stable")
    confidence, correct, wrong = confidence[order], correct[order], wrong[order]
    # p and 1 - p can land on one confidence: add them up
    starts = np.flatnonzero(np.diff(confidence, prepend=np.nan) != 0)
    return ScoreTable(
        confidence[starts],
        np.column_stack([np.add.reduceat(wrong, starts), np.add.reduceat(correct, starts)]),
    )


def confidence_histogram(
    table: ScoreTable, *, bins: int = HISTOGRAM_BINS, low: float | None = None
) -> ConfidenceHistogram:
    """Weight of correct and of wrong decisions per bin of confidence.

    Parameters
    ----------
    table : ScoreTable
        A :func:`decision_table`: confidence, with wrong (column 0) and correct
        (column 1) weight.
    bins : int, default=20
    low : float, optional
        Left edge; default the lowest confidence rounded down to a multiple of
        ``1 / bins`` (0.5 for binary decisions at threshold 0.5).

    Returns
    -------
    ConfidenceHistogram
        ``edges`` (``bins + 1``), ``correct`` and ``wrong`` (weight per bin; the last bin
        is closed on the right), ``total_correct``, ``total_wrong``.

    Examples
    --------
    >>> t = ScoreTable(np.array([0.55, 0.95]), np.array([[1.0, 2.0], [1.0, 5.0]]))
    >>> h = confidence_histogram(t, bins=2, low=0.5)
    >>> h.edges, h.correct, h.wrong
    ([0.5, 0.75, 1.0], [2.0, 5.0], [1.0, 1.0])
    """
    scores = np.asarray(table.scores, float)
    weights = np.asarray(table.weights, float)
    if low is None:
        low = float(np.floor(scores.min() * bins) / bins) if len(scores) else 0.0
    edges = np.linspace(low, 1.0, bins + 1)
    wrong, _ = np.histogram(scores, bins=edges, weights=weights[:, 0])
    correct, _ = np.histogram(scores, bins=edges, weights=weights[:, 1])
    return ConfidenceHistogram(
        edges=edges.tolist(),
        correct=correct.tolist(),
        wrong=wrong.tolist(),
        total_correct=float(weights[:, 1].sum()),
        total_wrong=float(weights[:, 0].sum()),
    )


def sample_points(
    pred: Predictions, *, max_points: int = MAX_POINTS, label: int = 5, seed: int = 0
) -> SamplePoints:
    """Per-sample log loss against the confidence of the decision, thinned for plotting.

    Parameters
    ----------
    pred : Predictions
    max_points : int, default=2000
        At most this many samples: the highest losses first (at least a tenth of the
        budget), then a uniform random draw of the rest.
    label : int, default=5
        The highest-loss samples named by id (``labelled``).
    seed : int, default=0

    Returns
    -------
    SamplePoints
        ``confidence``, ``loss`` (an infinite loss is shown at the 34.54-nat clip and
        flagged in ``infinite``), ``correct``, ``infinite`` (lists); ``shown`` and ``n``;
        ``labelled``: the worst samples (id, confidence, loss, correct).

    Examples
    --------
    >>> pts = sample_points(Predictions([0, 1, 1], [0.2, 0.9, 0.3]))
    >>> pts.confidence, pts.correct, [round(v, 4) for v in pts.loss]
    ([0.8, 0.9, 0.7], [True, True, False], [0.2231, 0.1054, 1.204])
    """
    decided = pred.predicted()
    if pred.task == "binary":
        confidence = np.where(decided == 1, pred.prob, 1.0 - pred.prob)
    else:
        confidence = pred.prob.max(axis=1)
    loss = sample_log_loss(pred)
    correct = decided == pred.y
    n = len(loss)
    if n > max_points:
        order = highest(loss, max(label, max_points // 10))
        rest = np.ones(n, dtype=bool)
        rest[order] = False
        drawn = np.random.default_rng(seed).choice(
            np.flatnonzero(rest), max_points - len(order), replace=False
        )
        chosen = np.sort(np.concatenate([order, drawn]))
    else:
        order = highest(loss, label)
        chosen = np.arange(n)
    infinite = np.isinf(loss)
    shown = np.minimum(loss, MAX_CLIPPED_LOSS)
    labelled = [
        LabelledPoint(
            id=python_scalar(pred.ids[i]),
            confidence=float(confidence[i]),
            loss=float(shown[i]),
            correct=bool(correct[i]),
        )
        for i in order[:label]
    ]
    return SamplePoints(
        confidence=confidence[chosen].tolist(),
        loss=shown[chosen].tolist(),
        correct=correct[chosen].tolist(),
        infinite=infinite[chosen].tolist(),
        shown=len(chosen),
        n=n,
        labelled=labelled,
    )


def flip_points(
    pred_a: Predictions, pred_b: Predictions, *, max_points: int = MAX_POINTS, seed: int = 0
) -> FlipPoints:
    """Two models on the same samples: each sample's probability under both, by category.

    Parameters
    ----------
    pred_a, pred_b : Predictions
        The same samples and labels (as :func:`lossgap.comparison.compare` checks).
    max_points : int, default=2000
        Every flip is kept when they fit; the samples both models get right or both get
        wrong fill the rest of the budget, drawn at random.
    seed : int, default=0

    Returns
    -------
    FlipPoints
        ``axis``: ``"positive"`` (binary: probability of the positive class, with the
        threshold) or ``"true class"`` (multiclass: probability of the true class);
        ``prob_a``, ``prob_b``, ``category`` (``"both"``, ``"a_only"``, ``"b_only"``,
        ``"neither"``) per shown sample; ``counts`` of each category over all samples;
        ``threshold``; ``shown``, ``n``.

    Examples
    --------
    >>> a = Predictions([0, 1, 1, 0], [0.4, 0.6, 0.9, 0.7])
    >>> b = Predictions([0, 1, 1, 0], [0.6, 0.4, 0.8, 0.7])
    >>> f = flip_points(a, b)
    >>> f.category, f.counts["a_only"]
    (['a_only', 'a_only', 'both', 'neither'], 2)
    """
    correct_a = pred_a.predicted() == pred_a.y
    correct_b = pred_b.predicted() == pred_b.y
    category = np.select(
        [correct_a & correct_b, correct_a, correct_b],
        ["both", "a_only", "b_only"],
        default="neither",
    )
    if pred_a.task == "binary":
        axis, prob_a, prob_b = "positive", pred_a.prob, pred_b.prob
    else:
        rows = np.arange(len(pred_a))
        axis = "true class"
        prob_a, prob_b = pred_a.prob[rows, pred_a.y], pred_b.prob[rows, pred_b.y]
    n = len(category)
    flips = np.flatnonzero(correct_a != correct_b)
    if n > max_points:
        flips = flips[: max_points // 2] if len(flips) > max_points // 2 else flips
        rest = np.setdiff1d(np.arange(n), flips)
        drawn = np.random.default_rng(seed).choice(
            rest, min(len(rest), max_points - len(flips)), replace=False
        )
        chosen = np.sort(np.concatenate([flips, drawn]))
    else:
        chosen = np.arange(n)
    counts = {c: int((category == c).sum()) for c in ("both", "a_only", "b_only", "neither")}
    return FlipPoints(
        axis=axis,
        prob_a=prob_a[chosen].tolist(),
        prob_b=prob_b[chosen].tolist(),
        category=category[chosen].tolist(),
        counts=counts,
        threshold=pred_a.threshold if pred_a.task == "binary" else None,
        shown=len(chosen),
        n=n,
    )


def evaluation_curves(
    ev: Evaluation, pred: Predictions, *, seed: int = 0, tally: Tally | None = None
) -> ExplainCurves:
    """:func:`explain_curves` of an evaluation's own samples (its CORP curve, its level).

    ``tally``: the samples' Tally when the caller has it (the CLI built it to evaluate),
    so it is not built again.

    Examples
    --------
    >>> import lossgap
    >>> pred = lossgap.Predictions([0, 1, 1, 0, 1], [0.2, 0.9, 0.3, 0.4, 0.8])
    >>> evaluation_curves(lossgap.explain(pred.y, pred.prob), pred).points.n
    5
    """
    tally = Tally.from_predictions(pred) if tally is None else tally
    curves = explain_curves(
        tally,
        pred,
        curve=None if ev.decomposition is None else ev.decomposition.curve,
        confidence=ev.confidence,
        seed=seed,
    )
    if ev.decision is None or ev.decision.costs is None or ev.task != "binary":
        return curves
    # the decision plots join the report when costs were given
    return replace(curves, decision=decision_curve(tally.tables[0].to_numpy(), ev.decision.costs))


#: Pairs of a comparison that get a flip plot.
FLIP_PLOTS = 3


def comparison_flips(
    c: Comparison,
    preds: Mapping[str, Predictions],
    *,
    seed: int = 0,
    limit: int = FLIP_PLOTS,
) -> dict[tuple[str, str], FlipPoints]:
    """:func:`flip_points` of the first ``limit`` pairs of ``c`` (for its report).

    ``seed`` chooses which agreeing samples a flip plot draws when there are many.
    """
    return {
        (pair.a, pair.b): flip_points(preds[pair.a], preds[pair.b], seed=seed)
        for pair in c.pairs[:limit]
    }


def explain_curves(
    tally: Tally,
    pred: Predictions | None = None,
    *,
    curve: ReliabilityCurve | None = None,
    confidence: float = 0.95,
    seed: int = 0,
) -> ExplainCurves:
    """Every plot series of one evaluation, from its Tally (and samples when at hand).

    Parameters
    ----------
    tally : Tally
    pred : Predictions, optional
        The samples: needed for the multiclass top-label band and histogram and for the
        per-sample points.
    curve : ReliabilityCurve, optional
        The evaluation's CORP curve (``decomposition.curve``), to say how much of it
        leaves the band.
    confidence : float, default=0.95
        Coverage of the band.
    seed : int, default=0

    Returns
    -------
    ExplainCurves

    Examples
    --------
    >>> import lossgap
    >>> pred = lossgap.Predictions([0, 1, 1, 0, 1], [0.2, 0.9, 0.3, 0.4, 0.8])
    >>> c = explain_curves(Tally.from_predictions(pred), pred)
    >>> c.thresholds.best_accuracy.value, c.points.n, c.histogram.total_wrong
    (0.8, 5, 1.0)
    """
    tally = tally.to_numpy()
    reliability = tally.tables[0] if tally.task == "binary" else (
        None if pred is None else top_label_table(pred)
    )
    band = outside = histogram = None
    if reliability is not None:
        size = round(tally.weight**2 / tally.weight_sq) if tally.weight_sq > 0 else None
        band = consistency_band(reliability, confidence=confidence, n=size, seed=seed)
        if curve is not None:
            outside = curve_outside_band(curve, band)
    decisions = decision_table(tally, pred)
    if decisions is not None:
        histogram = confidence_histogram(
            decisions,
            low=min(tally.threshold, 1.0 - tally.threshold)
            if tally.task == "binary"
            else 1.0 / len(tally.classes),
        )
    return ExplainCurves(
        band=band,
        band_outside=outside,
        histogram=histogram,
        thresholds=(
            threshold_curves(tally.tables[0].to_numpy(), threshold=tally.threshold)
            if tally.task == "binary"
            else None
        ),
        points=None if pred is None else sample_points(pred, seed=seed),
    )

"""Facts about the loss that the finding rules read: who carries it, and how surprising it is.

All of them come from the Tally's score tables, through the *true-class cells*: for every
table row, the probability given to the true class and the weight of samples there (binary:
positives at ``p`` and negatives at ``1 - p``; multiclass: each class's own column). A
sample's log loss is ``-log`` of that probability, so loss shares, confident errors and
their expected number under calibration are exact sums over cells.

Every test here is against what a *calibrated* model would produce (labels drawn from the
model's own probabilities): in closed form where one exists (Poisson counts of confident
errors, the score test of calibration-in-the-large), else by consistency resampling (the
loss concentration). Weights are importance weights: counts enter the tests as effective
counts (weights times ``n_eff / sum w``, Kish), so no test depends on the weights' scale.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from scipy.special import bdtr, ndtr, ndtri, pdtrc

from lossgap.core.binning import kernel_module
from lossgap.core.bootstrap import CalibratedLabels, binomial_rows, calibrated_labels
from lossgap.core.losses import CLIP_EPS, capped_log_loss
from lossgap.core.pooling import pool_table, row_mass
from lossgap.core.tally import Tally
from lossgap.core.uncertainty import effective_scale, quantiles
from lossgap.results.diagnostics import (
    AccuracyAgainstMajority,
    CalibratedConcentration,
    CalibrationInTheLarge,
    ConcentrationCurve,
    ConfidentErrors,
    Diagnostics,
    LossAgainstBaseline,
    LossConcentration,
    ThresholdBand,
)

#: A confident error gives its true class at most ``1 - CONFIDENT_LEVEL``.
CONFIDENT_LEVEL = 0.9
#: Half-width around the threshold within which a binary prediction is "at the threshold".
THRESHOLD_BAND = 0.05
#: Points of the loss concentration curve kept for plots.
CURVE_POINTS = 101
#: Labels drawn from the model's own probabilities to place the calibrated loss concentration.
CONSISTENCY_RESAMPLES = 100
#: Rows the consistency resampling works on (the table pooled into runs of adjacent scores),
#: per class column (multiclass; 2,000 keeps the share within ``CONSISTENCY_PRECISION``),
CONSISTENCY_ROWS = 2_000
#: at most this many over all class columns (many classes: fewer runs each, at least 50), so
#: memory and time stay flat in the number of classes.
CONSISTENCY_CELLS = 50_000
#: Multiclass: the pooled half-loss share lies within this (plus one sample's share, 1 / n)
#: of the unpooled tables' (largest seen 2e-4, n = 3e3 to 1e6, k = 3 and 10, temperatures
#: 0.6 to 2; the concentration finding needs the share at most half the calibrated median).
CONSISTENCY_PRECISION = 5e-4


def at_most(level: float) -> float:
    """The largest true-class probability of an error at confidence ``level``: ``1 - level``
    rounded to 12 digits, so that 0.1 counts at level 0.9 (``1 - 0.9`` is 0.0999...98)."""
    return round(1.0 - level, 12)


def class_columns(tally: Tally) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(probability of the class, weight of others, weight of the class) per class column."""
    if tally.task == "binary":
        table = tally.tables[0]
        w_neg, w_pos = table.weights.T
        return [(1.0 - table.scores, w_pos, w_neg), (table.scores, w_neg, w_pos)]
    return [(t.scores, *t.weights.T) for t in tally.tables]


class LossColumn(NamedTuple):
    """A class column of :func:`class_columns` with what the diagnostics read of it."""

    prob: np.ndarray
    w_other: np.ndarray
    w_class: np.ndarray
    #: ``-log(max(prob, 1e-15))``: the capped log loss of the class where it is true
    loss: np.ndarray
    #: ``prob`` at most ``1 - CONFIDENT_LEVEL`` (:func:`at_most`): a confident error there
    confident: np.ndarray
    #: the rows where the class has weight (``w_class > 0``), ascending
    kept: np.ndarray

    def cells(self, values: np.ndarray) -> np.ndarray:
        """``values`` (one per row of the column) at its rows of weight."""
        return values.take(self.kept)


def loss_columns(tally: Tally) -> list[LossColumn]:
    """:func:`class_columns` with each column's capped losses and confident-error cells,
    taken once for every diagnostic (each took its own logarithms and roundings: half of
    :func:`diagnose` at 1e5 distinct scores)."""
    cut = at_most(CONFIDENT_LEVEL)
    return [
        LossColumn(
            prob,
            w_other,
            w_class,
            capped_log_loss(prob),
            prob.round(12) <= cut,
            np.flatnonzero(w_class > 0),
        )
        for prob, w_other, w_class in class_columns(tally)
    ]


def true_cells(columns: list[LossColumn], field: str) -> np.ndarray:
    """One field of :class:`LossColumn` (``"prob"``, ``"loss"``...) at the cells where a
    class is the true one, column after column: the order of :func:`true_class_cells`."""
    return np.concatenate([column.cells(getattr(column, field)) for column in columns])


def true_class_cells(tally: Tally) -> tuple[np.ndarray, np.ndarray]:
    """(probability of the true class, weight) for every non-empty table cell."""
    columns = class_columns(tally)
    prob = np.concatenate([c[0] for c in columns])
    weight = np.concatenate([c[2] for c in columns])
    keep = weight > 0
    return prob[keep], weight[keep]


def errors_beyond_calibration(
    tally: Tally, level: float, columns: list[LossColumn] | None = None
) -> tuple[float, float, float]:
    """Observed and calibration-expected weight of errors with true-class probability <= 1 - level.

    If the model is calibrated, a class given probability ``q`` is the true one with
    probability ``q``; summed over every class column at ``q <= 1 - level`` this is the
    expected weight of such errors. The p-value is the Poisson chance of seeing at least the
    observed count. ``columns``: :func:`loss_columns`, when known and ``level`` is
    ``CONFIDENT_LEVEL`` (its confident cells).
    """
    observed = expected = 0.0
    cut = at_most(level)
    known = columns if level == CONFIDENT_LEVEL else None
    for c, (prob, w_other, w_class, *_) in enumerate(
        class_columns(tally) if known is None else known
    ):
        # the same rounding on both sides: 1 - 0.9 computed for a binary negative is 0.1
        low = np.round(prob, 12) <= cut if known is None else known[c].confident
        # the confident cells gathered first: the same terms, none of the table's size
        observed += float(w_class[low].sum())
        expected += float(((w_other[low] + w_class[low]) * prob[low]).sum())
    scale = effective_scale(tally)
    count = round(observed * scale, 9)
    # pdtrc(k, mu) = P(X > k) is scipy.stats.poisson.sf, without importing scipy.stats
    p_value = float(pdtrc(np.ceil(count) - 1, expected * scale)) if observed > 0 else 1.0
    return observed, expected, p_value


def loss_concentration(
    prob: np.ndarray,
    weight: np.ndarray,
    loss: np.ndarray | None = None,
    calibrated: CalibratedConcentration | None = None,
) -> LossConcentration:
    """Share of samples (worst first) that carries half the loss, and the whole curve.

    Probabilities are floored at 1e-15 (losses capped at 34.54 nats) so that infinite ones
    (reported on their own by ``infinite_loss``) still rank first without swallowing the
    total. ``loss``: those capped losses, when known; ``calibrated``: the field of that
    name (:func:`calibrated_concentration`), when known.
    """
    loss = capped_log_loss(prob) if loss is None else loss
    weight, carried, mass = _concentration_sums(loss, weight)
    total = carried[-1]
    samples = mass / weight.sum()
    if total <= 0:
        empty = ConcentrationCurve(sample_share=[], loss_share=[])
        return LossConcentration(1.0, empty, calibrated=calibrated)
    index = int(carried.searchsorted(total / 2))
    curve = np.interp(
        _CURVE_GRID, np.concatenate([[0.0], samples]), np.concatenate([[0.0], carried / total])
    )
    return LossConcentration(
        half_loss_sample_share=float(samples[index]),
        curve=ConcentrationCurve(sample_share=list(_CURVE_SHARES), loss_share=curve.tolist()),
        calibrated=calibrated,
    )


#: The sample shares of the loss concentration curve (``CURVE_POINTS`` from 0 to 1), taken
#: once: read-only, and as floats for each curve's own list.
_CURVE_GRID = np.linspace(0, 1, CURVE_POINTS)
_CURVE_GRID.flags.writeable = False
_CURVE_SHARES = tuple(_CURVE_GRID.tolist())


def _concentration_sums(
    loss: np.ndarray, weight: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The cells' weights worst first (``np.argsort(-loss, kind="stable")``), and the
    running sums of their ``loss * weight`` and of their weights in that order.

    With numba (:func:`~lossgap.core.binning.kernel_module`) the order comes from merging
    the monotone runs the cells arrive in (each class column's cells ascend by score, so
    their losses run one way: the binary table's two columns are two runs) and the sums
    from one pass: the same doubles as this numpy twin (the same order, the same products
    added in the same order as ``np.cumsum``; tested), 2.2 -> 0.3 ms at 1e5 cells, where
    the stable sort compared every cell.
    """
    kernels = kernel_module("bootstrap_kernels")
    if kernels is not None:
        sums: tuple[np.ndarray, np.ndarray, np.ndarray] = kernels.concentration_sums(
            np.asarray(loss, dtype=np.float64), np.asarray(weight, dtype=np.float64)
        )
        return sums
    order = np.argsort(-loss, kind="stable")
    weight = weight[order]
    return weight, np.cumsum(loss[order] * weight), np.cumsum(weight)


def _threshold_band(tally: Tally, accuracy: float) -> ThresholdBand | None:
    """Binary predictions within THRESHOLD_BAND of the threshold and the accuracy they hold."""
    if tally.task != "binary":
        return None
    table = tally.tables[0]
    # the scores ascend, so the band (|score - threshold| <= THRESHOLD_BAND, with the
    # difference rounded as it is computed) and its decided part are slices; each column's
    # slice copied, as a gather copies it, to be summed in the same order
    offset = table.scores - tally.threshold
    low = int(offset.searchsorted(-THRESHOLD_BAND, side="left"))
    high = int(offset.searchsorted(THRESHOLD_BAND, side="right"))
    cut = min(max(int(table.scores.searchsorted(tally.threshold, side="left")), low), high)
    right = table.weights[cut:high, 1].copy().sum() + table.weights[low:cut, 0].copy().sum()
    count = table.weights[low:high].copy().sum()
    wrong = count - right
    return ThresholdBand(
        band=THRESHOLD_BAND,
        count=float(count),
        share=float(count / tally.weight),
        correct=float(right),
        wrong=float(wrong),
        accuracy_if_all_flipped=float(accuracy + (wrong - right) / tally.weight),
        accuracy_low=float(accuracy - right / tally.weight),
        accuracy_high=float(accuracy + wrong / tally.weight),
    )


def _ids_below(tally: Tally, level: float, limit: int | None = 20) -> list[Any]:
    worst = tally.worst
    chosen = worst.ids[worst.prob.round(12) <= at_most(level)][:limit]
    return [v.item() if hasattr(v, "item") else v for v in chosen]


def _mean_and_se(values: np.ndarray, weight: np.ndarray, n_eff: float) -> tuple[float, float]:
    """Weighted mean of per-cell values and its standard error with Kish's ``n_eff``."""
    total = weight.sum()
    mean = float(weight @ values / total)
    variance = float(weight @ (values - mean) ** 2 / total)
    return mean, float(np.sqrt(variance / max(n_eff - 1.0, 1.0)))


def loss_against_baseline(
    tally: Tally,
    confidence: float,
    columns: list[LossColumn] | None = None,
    cells: tuple[np.ndarray, np.ndarray] | None = None,
) -> LossAgainstBaseline:
    """Paired difference of each sample's log loss and the no-skill loss of its class.

    The no-skill forecast gives every sample the base rates, so a sample of class ``c``
    costs ``-log(share_c)``; the difference per sample is paired, and its mean has a normal
    interval with Kish's effective count. Capped losses (34.54 nats at most).
    ``columns``: :func:`loss_columns`, when known; ``cells``: their true-class cells'
    capped losses and weights, column after column, when gathered already (the same
    values, without gathering them again).
    """
    shares = tally.class_weight / tally.weight
    columns = loss_columns(tally) if columns is None else columns
    if cells is None:
        cells = true_cells(columns, "loss"), true_cells(columns, "w_class")
    # each cell's capped loss plus its column's log share; a class named but absent has
    # no cell, so no sample pays its baseline loss (its share, maybe 0, is never read)
    baseline = np.log(np.where(shares > 0, shares, 1.0))
    lengths = [len(column.kept) for column in columns]
    capped, weight = cells[0] + baseline.repeat(lengths), cells[1]
    n_eff = tally.weight * effective_scale(tally)
    mean, se = _mean_and_se(capped, weight, n_eff)
    half = float(ndtri(0.5 + confidence / 2)) * se
    return LossAgainstBaseline(
        difference=mean,
        se=se,
        ci_low=mean - half,
        ci_high=mean + half,
        **loss_if_calibrated(tally, columns),
    )


def loss_if_calibrated(
    tally: Tally, columns: list[LossColumn] | None = None
) -> dict[str, float]:
    """The log loss labels drawn from the model's own probabilities would give, and how
    surprising the observed loss is against it.

    Each sample's loss then has mean ``H(p)`` (the entropy of its prediction) and, binary,
    variance ``p (1 - p) logit(p)^2``; multiclass uses ``sum_c p_c log(p_c)^2``, an upper
    bound (the rows' joint is not in the Tally), so the test errs towards silence. The
    p-value is the normal upper tail of the observed mean loss (capped losses), with Kish's
    effective count. ``columns``: :func:`loss_columns`, when known.
    """
    expected = second = 0.0
    observed = 0.0
    binary = tally.task == "binary"
    # binary: both columns' mass is each row's (the same sum either way round)
    rows = row_mass(tally.tables[0].weights) if binary else None
    for prob, w_other, w_class, loss, *_ in loss_columns(tally) if columns is None else columns:
        mass = w_other + w_class if rows is None else rows
        expected += float(mass @ (prob * loss))
        if not binary:  # the multiclass bound (binary has the exact variance below)
            second += float(mass @ (prob * loss * loss))
        observed += float(w_class @ loss)
    total = tally.weight
    if rows is not None:  # exact per-sample variance: E[loss^2] - H^2 per row,
        # s (1 - s) log(s / (1 - s))^2 in three arrays (the same doubles)
        s = np.clip(tally.tables[0].scores, CLIP_EPS, 1 - CLIP_EPS)
        spread = 1 - s
        odds = s / spread
        np.square(np.log(odds, out=odds), out=odds)
        spread *= s
        spread *= odds
        variance = float(rows @ spread)
    else:
        variance = second
    n_eff = total * effective_scale(tally)
    se = float(np.sqrt(variance / total / n_eff))
    z = (observed - expected) / total / se if se > 0 else 0.0
    return {
        "calibrated_loss": expected / total,
        "calibrated_se": se,
        "calibrated_p_value": float(ndtr(-z)),
    }


def accuracy_against_majority(tally: Tally) -> AccuracyAgainstMajority:
    """Paired test of the accuracy against always predicting the majority class.

    Per sample the two rules differ only where exactly one is right: ``gained`` (the model
    right on a minority-class sample) and ``lost`` (the model wrong on a majority-class
    sample). McNemar's exact test on these counts, in effective samples, gives the
    two-sided p-value of the accuracy difference.
    """
    confusion = tally.confusion
    major = int(np.argmax(tally.class_weight))
    diagonal = np.diag(confusion).copy()
    gained = float(diagonal.sum() - diagonal[major])
    lost = float(confusion[major].sum() - confusion[major, major])
    scale = effective_scale(tally)
    won, gave = round(gained * scale), round(lost * scale)
    # two-sided exact binomial test at 1/2 (symmetric: twice the smaller tail)
    p_value = float(min(1.0, 2 * bdtr(min(won, gave), won + gave, 0.5))) if won + gave else 1.0
    return AccuracyAgainstMajority(
        difference=(gained - lost) / tally.weight,
        gained=gained,
        lost=lost,
        p_value=p_value,
    )


def calibration_in_the_large(tally: Tally) -> CalibrationInTheLarge | None:
    """Score test of calibration-in-the-large (binary): mean label against mean probability.

    Under calibration the weighted mean residual ``y - p`` has mean 0 and variance
    ``sum w p (1 - p) / W / n_eff``; the two-sided p-value is normal. None for multiclass.
    """
    if tally.task != "binary":
        return None
    table = tally.tables[0]
    mass = row_mass(table.weights)
    # in place: the same doubles as the expressions' temporaries
    moved = np.multiply(mass, table.scores)
    residual = float(np.subtract(table.weights[:, 1], moved, out=moved).sum() / tally.weight)
    rest = np.subtract(1, table.scores, out=moved)
    spread = float(mass @ np.multiply(table.scores, rest, out=rest) / tally.weight)
    n_eff = tally.weight * effective_scale(tally)
    se = float(np.sqrt(spread / n_eff))
    z = residual / se if se > 0 else 0.0
    return CalibrationInTheLarge(
        mean_label=float(table.weights[:, 1].sum() / tally.weight),
        mean_probability=float(mass @ table.scores / tally.weight),
        residual=residual,
        se=se,
        p_value=float(2 * ndtr(-abs(z))),
    )


def _half_loss_share(loss: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Share of samples (worst first) carrying half the loss; ``loss`` descending,
    ``weight`` ``(replicates, cells)``."""
    carried = np.cumsum(weight * loss, axis=1)
    mass = np.cumsum(weight, axis=1)
    index = np.minimum((carried < carried[:, -1:] / 2).sum(axis=1), weight.shape[1] - 1)
    rows = np.arange(len(weight))
    with np.errstate(invalid="ignore", divide="ignore"):
        share = mass[rows, index] / mass[:, -1]
    return np.where(carried[:, -1] > 0, share, 1.0)


def _null_shares(loss: np.ndarray, order: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """:func:`_half_loss_share` of each row of ``weights`` (the calibrated draws) over
    ``loss``, both taken in ``order``. With the numba kernels
    (:func:`~lossgap.core.binning.kernel_module`), binary or multiclass, in one compiled
    pass per row (``multiclass_kernels.half_loss_shares``): the same running sums in the
    same order, so the same doubles (tested), without gathering the draws or their four
    cumulative arrays (100 draws of 20,000 runs at 10 classes: 25 -> 5 ms; the binary
    resampling table's 100 draws: 0.8-0.9 -> 0.3 ms)."""
    kernels = kernel_module("multiclass_kernels")
    if kernels is None:
        return _half_loss_share(loss[order], weights[:, order])
    shares = np.empty(len(weights))
    kernels.half_loss_shares(loss, order, weights, shares)
    return shares


def calibrated_concentration(
    tally: Tally, seed: int = 0, labels: CalibratedLabels | None = None
) -> CalibratedConcentration:
    """Where the half-loss sample share of a calibrated model with these probabilities lies.

    Consistency resampling: labels are drawn from the model's own probabilities (each class
    column's effective counts split binomially at its probability), the share recomputed;
    the p-value is the share of draws at or below the observed share (plus one, over the
    draws plus one). A rare class always carries much of the loss: this is what tells a
    calibrated model's concentration from a real one.

    Binary: on the bootstrap's resampling table, whose :func:`calibrated_labels` (drawn
    here with ``seed`` unless given) also place the calibration errors' null. Its runs keep
    the per-sample variance of the log loss within 2% of the exact table's, and the
    observed and calibrated shares are both read on it: its share is the exact table's to
    0.002 plus one sample's share (1 / n), tested over tables of every shape. Multiclass:
    each class column pooled to ``CONSISTENCY_ROWS`` runs, ``CONSISTENCY_RESAMPLES`` draws;
    the observed and calibrated shares are both read on the pooled runs, the observed one
    within ``CONSISTENCY_PRECISION`` plus 1 / n of the unpooled tables'. The draws are most
    of the cost (5 x 10^6 binomials took 0.5 s at 5,000 runs per column, 10 columns).
    """
    losses, weights, observed = [], [], []
    null_weights: np.ndarray | None = None
    if tally.task == "binary":
        if labels is None:
            labels = calibrated_labels(tally, seed=seed)
        scores, (neg, pos) = labels.table.scores, labels.table.weights.T
        losses = [
            capped_log_loss(scores),
            capped_log_loss(1.0 - scores),
        ]
        # the draws' positives, then their negatives (each row's mass less its positives;
        # row_mass is labels.mass's double), written into one array rather than
        # subtracted into one and joined into another
        cells = len(scores)
        null_weights = np.empty((len(labels.positives), 2 * cells))
        null_weights[:, :cells] = labels.positives
        np.subtract(
            row_mass(labels.table.weights), labels.positives, out=null_weights[:, cells:]
        )
        observed = [pos, neg]
    else:
        rng = np.random.default_rng(seed)
        scale = effective_scale(tally)
        rows = min(CONSISTENCY_ROWS, max(50, CONSISTENCY_CELLS // len(tally.tables)))
        for table in tally.tables:
            pooled = pool_table(table, rows)
            mass = pooled.weights.sum(axis=1)
            counts = np.maximum(np.rint(mass * scale), 1.0)
            drawn = binomial_rows(rng, counts, pooled.scores, CONSISTENCY_RESAMPLES)
            losses.append(capped_log_loss(pooled.scores))
            weights.append(drawn * (mass / counts))
            observed.append(pooled.weights[:, 1])
    loss = np.concatenate(losses)
    order = np.argsort(-loss, kind="stable")
    if null_weights is None:
        null_weights = np.concatenate(weights, axis=1)
    null = _null_shares(loss, order, null_weights)
    # the observed share as one more row: the same doubles (the compiled pass is its twin's)
    actual = float(_null_shares(loss, order, np.concatenate(observed)[None])[0])
    return CalibratedConcentration(
        pooled_share=actual,
        calibrated_median=float(np.median(null)),
        calibrated_low=float(quantiles(null, [0.01])[0]),  # np.quantile's double
        p_value=float((1 + (null <= actual).sum()) / (1 + len(null))),
    )


def diagnose(
    tally: Tally,
    accuracy: float,
    confidence: float = 0.95,
    *,
    seed: int = 0,
    labels: CalibratedLabels | None = None,
    **given: Any,
) -> Diagnostics:
    """The diagnostics section of an Evaluation (``seed`` and ``labels`` as for
    :func:`calibrated_concentration`); ``given``: fields of :class:`Diagnostics` computed
    elsewhere (the label errors, the calibration test), set at once rather than by a
    copy."""
    # each class column's capped losses and confident cells, for every diagnostic below
    columns = loss_columns(tally)
    # the true-class cells (:func:`true_class_cells`) and their capped losses: shares stay
    # meaningful when some loss is infinite
    prob, weight, capped = (true_cells(columns, f) for f in ("prob", "w_class", "loss"))
    loss = weight * capped
    total_loss = float(loss.sum())
    confident_loss = float(loss[true_cells(columns, "confident")].sum())
    observed, expected, p_value = errors_beyond_calibration(tally, CONFIDENT_LEVEL, columns)
    shares = tally.class_weight / tally.weight
    concentration = loss_concentration(
        prob, weight, capped, calibrated=calibrated_concentration(tally, seed, labels)
    )
    return Diagnostics(
        majority_accuracy=float(shares.max()),
        effective_n=float(tally.weight * effective_scale(tally)),
        infinite_count=tally.infinite_count,
        confident_errors=ConfidentErrors(
            level=CONFIDENT_LEVEL,
            count=observed,
            share=observed / tally.weight,
            loss_share=confident_loss / total_loss if total_loss > 0 else float("nan"),
            expected_if_calibrated=expected,
            p_value=p_value,
            ids=_ids_below(tally, CONFIDENT_LEVEL),
        ),
        loss_concentration=concentration,
        loss_against_baseline=loss_against_baseline(
            tally, confidence, columns, (capped, weight)
        ),
        accuracy_against_majority=accuracy_against_majority(tally),
        calibration_in_the_large=calibration_in_the_large(tally),
        threshold_band=_threshold_band(tally, accuracy),
        **given,
    )

"""A vectorised, seeded Poisson bootstrap of every metric.

Each resampling unit gets a Poisson weight with mean equal to its weight, all replicates at
once in a ``(replicates, units)`` matrix processed in memory-bounded chunks; the metric
kernels of :mod:`lossgap.core.metrics` and :mod:`lossgap.core.calibration` take the replicate axis
as a batch axis, so the resampled metrics use the same code as the point estimates. The
smooth ECE of every replicate uses one bandwidth: binary, the point estimate's (searched
once, on the full table); multiclass, the one searched on the unresampled units.

* Binary: the units are the score table's (score, label) cells. A cell holding ``c``
  samples gets ``Poisson(c)``, the sum of ``c`` independent ``Poisson(1)`` sample weights,
  so resampling cells is resampling samples. Tables larger than ``MAX_UNITS / 2`` rows are
  first pooled into runs of adjacent scores.
* Multiclass: the units are the samples (the joint rows are needed for macro metrics).
  More than ``MAX_UNITS`` samples are subsampled and the deviations rescaled by
  ``sqrt(subsample / n)`` (m-out-of-n bootstrap). The one-vs-rest column statistics (ROC
  AUC, average precision, ECE, smooth ECE) read each class column pooled into at most
  ``COLUMN_ROWS`` runs of adjacent scores, and all columns together into at most
  ``COLUMN_CELLS`` (at least ``FEWEST_COLUMN_ROWS`` each), one column at a time, so a
  thousand classes cost a few seconds and little memory.

Weights are importance weights whose scale carries no information: the resampling reads
them as effective counts (weights times ``n_eff / sum w``, Kish), so multiplying every
weight by a constant leaves every interval unchanged. Binary cells get ``Poisson(effective
count)``; multiclass samples get ``Poisson(1)`` times their effective weight (the weighted
multiplier bootstrap).

Intervals are percentile intervals of the replicate deviations from the unresampled
(pooled or subsampled) statistic, placed around the exact point estimate; without pooling
or subsampling this is the plain percentile interval. A metric whose estimate is not
finite (an infinite log loss) gets no interval.

The calibration errors (ECE, smooth ECE) are sums of absolute residuals: their estimate is
biased upward, most near zero, where a percentile or basic interval can miss the true value
and even its own estimate. They get the interval of :func:`debiased_interval`: the estimate
plus ``z`` bootstrap standard deviations above, and below the estimate less what the labels'
noise alone produces (labels drawn from the model's own probabilities), floored at 0. On
calibrated data its lower bound is 0 in about 97% of datasets (the interval covers the true
0); ``benchmarks/false_alarms.py`` and ``tests/core/test_calibration_intervals.py`` measure
coverage on miscalibrated data.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy import sparse

from lossgap.core.binning import kernel_module
from lossgap.core.calibration import (
    ECE_BINS,
    binned_ece,
    ece_bin_starts,
    ece_bins,
    smooth_ece,
    smooth_ece_of_labels,
)
from lossgap.core.losses import sample_brier, sample_log_loss
from lossgap.core.metrics import (
    Margins,
    accuracy_from_confusion,
    average_precision_from_weights,
    balanced_accuracy_from_confusion,
    f1_from_confusion,
    precision_from_confusion,
    recall_from_confusion,
    roc_auc_from_weights,
)
from lossgap.core.pooling import pool_for_resampling, row_mass
from lossgap.core.predictions import Predictions
from lossgap.core.rows import in_content_order, subset
from lossgap.core.tally import ScoreTable, Tally
from lossgap.core.uncertainty import effective_scale, quantiles, seeded, z_value

DEFAULT_REPLICATES = 200
#: Most resampling units; larger data are pooled (binary) or subsampled (multiclass).
MAX_UNITS = 10_000
_CHUNK_CELLS = 20_000_000
#: Statistics that resampling biases upward (an absolute calibration error is larger on
#: noisier data): their interval is :func:`debiased_interval`.
BIASED_UPWARD = frozenset({"ece", "smooth_ece", "classwise_ece", "classwise_smooth_ece"})
#: Draws of the calibrated null for the calibration errors (its 95% quantile is all they need).
NULL_DRAWS = 100
#: How the intervals of BIASED_UPWARD are made, for ``ci_method``.
DEBIASED = (
    "upper bound: estimate + z bootstrap SD; lower bound: estimate minus the 1 - alpha/2 "
    "quantile of the error of labels drawn from the model's own probabilities (noise "
    "alone; triangle inequality), floored at 0"
)


@dataclass(frozen=True)
class _Column:
    """One class column grouped into distinct ascending scores, for batched weights.

    ``row`` and ``positive`` give each unit's row and whether it is of the class (for the
    compiled :func:`_columns_weights_t`); ``pooled``: whether its distinct scores were
    pooled into runs. ``from_units`` and ``from_positive_units``, built when first read
    (the numpy twin's), are sparse ``(rows, units)`` 0/1 matrices (CSR): times the units'
    weights, ``(units, replicates)``, they give the weight (of the class) at each score.
    """

    scores: np.ndarray
    row: np.ndarray
    positive: np.ndarray
    pooled: bool

    @cached_property
    def from_units(self) -> sparse.csr_array:
        """Each unit's 1 at its row."""
        units = np.arange(len(self.row))
        shape = (len(self.scores), len(self.row))
        return sparse.csr_array((np.ones(len(self.row)), (self.row, units)), shape=shape)

    @cached_property
    def from_positive_units(self) -> sparse.csr_array:
        """Each unit's 1 at its row where it is of the class (0 elsewhere)."""
        units = np.arange(len(self.row))
        shape = (len(self.scores), len(self.row))
        return sparse.csr_array((self.positive.astype(float), (self.row, units)), shape=shape)

    def weights(self, replicate: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(negative, positive) weight per distinct score, for each replicate row (a few:
        the unresampled weights), in ``(replicates, rows)`` column order: each score's
        units added in unit order by ``np.bincount``, as the sparse products of
        :meth:`weights_t` add them, so the same doubles without building them."""
        m = len(self.scores)
        every, pos = np.empty((m, len(replicate))), np.empty((m, len(replicate)))
        for r, w in enumerate(replicate):
            every[:, r] = np.bincount(self.row, weights=w, minlength=m)
            pos[:, r] = np.bincount(self.row, weights=w * self.positive, minlength=m)
        return (every - pos).T, pos.T

    def weights_t(self, replicate_t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`weights` of the replicates as columns, ``(units, replicates)`` C-ordered,
        which the caller transposes once for every class column. Each score's weight adds
        its units in unit order, as the product of the replicate rows with the transposed
        matrix did (scipy's ``dense @ sparse`` copied the rows into column order for each
        product: 0.12 of 0.16 s at 200 replicates of 10,000 samples, 11 columns), so the
        same doubles, in the same column order (``(replicates, rows)`` transposed views)."""
        pos = self.from_positive_units @ replicate_t
        return (self.from_units @ replicate_t - pos).T, pos.T


#: Multiclass: ``classwise_smooth_ece`` is resampled for at most this many classes (each
#: column smooths every replicate on its own grid; a thousand columns would take minutes).
SMOOTH_CLASSES = 100
#: Multiclass: each class column's distinct scores are pooled into at most this many runs,
COLUMN_ROWS = 1_000
#: and all class columns together into at most this many runs,
COLUMN_CELLS = 20_000
#: but each column into no fewer than this many.
FEWEST_COLUMN_ROWS = 50


def column_rows(k: int) -> int:
    """Runs each of ``k`` class columns is pooled into, at most.

    Examples
    --------
    >>> column_rows(10), column_rows(100), column_rows(1000)
    (1000, 200, 50)
    """
    return max(FEWEST_COLUMN_ROWS, min(COLUMN_ROWS, COLUMN_CELLS // k))


def _column(scores: np.ndarray, positive: np.ndarray, rows: int) -> _Column:
    distinct, row = np.unique(scores, return_inverse=True)
    pooled = len(distinct) > rows
    if pooled:  # runs of adjacent distinct scores, at their mean
        run = np.arange(len(distinct)) * rows // len(distinct)
        distinct = np.bincount(run, weights=distinct) / np.bincount(run)
        row = run[row]
    return _Column(distinct, row, positive, pooled)


#: Cells (rows x replicates) of class columns whose weights one call of the compiled
#: :func:`_columns_weights_t` holds at once (2^22: 32 MiB each of every unit's and of the
#: class's weight); more columns go in groups.
_WEIGHT_CELLS = 1 << 22


def _columns_weights_t(
    columns: list[_Column], replicate_t: np.ndarray
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Each column's :meth:`_Column.weights_t`, in order: the same doubles.

    With numba (:func:`~lossgap.core.binning.kernel_module`), the columns' weights in one
    pass over the units (``column_weights``), each unit's replicate weights read once and
    added to its row of every column, the units in order (as the sparse products add
    them), where each column's two products read them all again (11 columns of 10,000
    units, 200 replicates: 50 -> 20 ms).
    """
    kernels = kernel_module("multiclass_kernels")
    if kernels is None:
        for column in columns:
            yield column.weights_t(replicate_t)
        return
    replicates = replicate_t.shape[1]
    groups: list[list[_Column]] = [[]]
    cells = 0
    for column in columns:
        size = len(column.scores) * replicates
        if groups[-1] and cells + size > _WEIGHT_CELLS:
            groups.append([])
            cells = 0
        groups[-1].append(column)
        cells += size
    for group in groups:
        most = max(len(column.scores) for column in group)
        every = np.zeros((len(group), most, replicates))
        positive = np.zeros((len(group), most, replicates))
        kernels.column_weights(
            replicate_t,
            np.stack([column.row for column in group]),
            np.stack([column.positive for column in group]),
            every,
            positive,
        )
        for c, column in enumerate(group):
            m = len(column.scores)
            yield (every[c, :m] - positive[c, :m]).T, positive[c, :m].T


def _one_hot(index: np.ndarray, size: int) -> sparse.csr_array:
    """Sparse ``(units, size)`` indicator of each unit's index."""
    units = np.arange(len(index))
    return sparse.csr_array((np.ones(len(index)), (units, index)), shape=(len(index), size))


def _one_vs_rest(
    scores: np.ndarray, w_neg: np.ndarray, w_pos: np.ndarray, bins: int, compiled: bool
) -> dict[str, np.ndarray]:
    """ROC AUC, average precision and ECE of each row of weights of a class column (one
    against the rest). ``compiled``: by the kernel of :func:`binary_statistics` where numba
    is in use, within :data:`STATISTICS_RTOL` of these numpy kernels (tested): one pass per
    row where numpy's cumulative sums and bins went through every replicate's temporaries
    (a column of 1,000 runs, 200 replicates: 6-8 -> 1 ms)."""
    if compiled and kernel_module("bootstrap_kernels") is not None:
        values = binary_statistics(scores, 0.5, w_neg, w_pos, bins)  # the threshold: unused
        return {name: values[name] for name in ("roc_auc", "average_precision", "ece")}
    return {
        "roc_auc": roc_auc_from_weights(w_neg, w_pos),
        "average_precision": average_precision_from_weights(w_neg, w_pos),
        "ece": binned_ece(scores, w_neg, w_pos, bins=bins),
    }


def _column_stats(
    column_weights: Iterable[tuple[np.ndarray, np.ndarray, np.ndarray, float | None]],
    bins: int,
    compiled: bool = False,
    after: Callable[[int], None] | None = None,
) -> dict[str, np.ndarray]:
    """AUC, AP, ECE (and smooth ECE at each column's bandwidth, when given) per
    replicate, averaged over columns (one-vs-rest macro); columns are read one at a time
    (``compiled``: as :func:`_one_vs_rest`; ``after``: called with each column's index once
    its statistics are taken).

    A replicate's mean is over the columns defined in it: a class of a few samples is
    absent from some replicates (its AUC undefined), as from another sample of that size.
    """
    sums: dict[str, np.ndarray] = {}
    counts: dict[str, np.ndarray] = {}
    for c, (scores, w_neg, w_pos, sigma) in enumerate(column_weights):
        stats = _one_vs_rest(scores, w_neg, w_pos, bins, compiled)
        if sigma is not None:
            stats["smooth_ece"] = np.asarray(smooth_ece(scores, w_neg, w_pos, sigma=sigma)[0])
        if after is not None:
            after(c)
        for name, values in stats.items():
            defined = np.isfinite(values)
            value = np.where(defined, values, 0.0)
            sums[name] = value + sums[name] if name in sums else value
            counts[name] = defined + counts[name] if name in counts else defined.astype(int)
    with np.errstate(invalid="ignore", divide="ignore"):
        return {name: sums[name] / counts[name] for name in sums}


def _confusion_stats(confusion: np.ndarray | Margins) -> dict[str, np.ndarray]:
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

    counts: np.ndarray
    statistics: Callable[[np.ndarray], dict[str, np.ndarray]]
    scale: float
    description: str
    multiplier: np.ndarray | None = None
    #: ECE and smooth ECE of labels drawn from the model's own probabilities, per draw.
    null: Callable[[np.random.Generator, int], dict[str, np.ndarray]] | None = None

    def weights(self) -> np.ndarray:
        """The unresampled weights of the units."""
        return self.counts if self.multiplier is None else self.counts * self.multiplier

    def draw(self, rng: np.random.Generator, replicates: int) -> np.ndarray:
        """``(replicates, units)`` Poisson weights with mean each unit's weight."""
        rep = poisson_rows(rng, self.counts, replicates)
        return rep if self.multiplier is None else rep * self.multiplier


_WORD = (1 << 64) - 1


@contextmanager
def _compiled_stream(rng: np.random.Generator) -> Iterator[np.ndarray | np.random.Generator]:
    """What the compiled draws read their uniforms from: a PCG64 generator's state as
    ``uint64[4]`` (the state's high and low words, the increment's), stepped in line by the
    kernel (``bootstrap_kernels._uniform``: numpy's next double, 1.5 instead of 5.4 ns a
    uniform through numba's ``Generator.random``) and written back into ``rng`` after, so
    it is left where numpy's own draws leave it (tested); any other bit generator itself.
    The generator's lock is held meanwhile, as numpy's own draws hold it."""
    if type(rng.bit_generator) is not np.random.PCG64:
        yield rng
        return
    with rng.bit_generator.lock:
        state = rng.bit_generator.state
        words = state["state"]
        current, increment = words["state"], words["inc"]
        source = np.array(
            [current >> 64, current & _WORD, increment >> 64, increment & _WORD], dtype=np.uint64
        )
        try:
            yield source
        finally:
            words["state"] = (int(source[0]) << 64) | int(source[1])
            rng.bit_generator.state = state


#: The compiled :func:`poisson_rows` takes means from 0 up to this (2^53: whole counts are
#: exact doubles); others (negative, not a number, past it) go to numpy, which rejects
#: what it cannot draw.
LARGEST_COMPILED_MEAN = 2.0**53


def poisson_rows(rng: np.random.Generator, counts: np.ndarray, replicates: int) -> np.ndarray:
    """``(replicates, units)`` Poisson draws with mean ``counts``.

    Poisson(0) is 0 and draws no random number: only units with a count are drawn, the
    same numbers as drawing them all (an exact table leaves half its cells empty).

    Examples
    --------
    >>> poisson_rows(np.random.default_rng(0), np.array([0.0, 3.0]), 2)[:, 0].tolist()
    [0.0, 0.0]

    With numba (:func:`~lossgap.core.binning.kernel_module`) the draws run in one
    compiled loop: numpy's two methods (multiplied uniforms below a mean of 10,
    transformed rejection from 10 on), the same numbers from the same generator (tested),
    each unit's constants (``exp(-mean)``; a square root, two logarithms and two
    divisions) taken once instead of at every draw, and the log Gamma of each draw the
    rejection tests kept: 200 replicates of 10,000 cells of means 50 to 300 in 33 instead
    of 55 ms.
    """
    compiled = len(counts) and 0.0 <= counts.min() <= counts.max() < LARGEST_COMPILED_MEAN
    kernels = kernel_module("bootstrap_kernels") if compiled else None
    if kernels is not None:
        with _compiled_stream(rng) as source:
            return kernels.poisson_rows(source, np.asarray(counts, dtype=np.float64), replicates)
    live = np.flatnonzero(counts)
    rep = np.zeros((replicates, len(counts)))
    rep[:, live] = rng.poisson(counts[live], size=(replicates, len(live)))
    return rep


def binomial_rows(
    rng: np.random.Generator, counts: np.ndarray, p: np.ndarray, replicates: int
) -> np.ndarray:
    """``rng.binomial(counts, p, size=(replicates, len(counts)))``: the same numbers.

    With numba (:func:`~lossgap.core.binning.kernel_module`) in one compiled loop, the
    same numbers from the same generator (tested): where numpy inverts the distribution
    (the rarer outcome's mean at most 30), each unit's probabilities are computed once
    instead of at every draw (numpy's ``q^n`` and a division per step), and above, each
    unit's set-up of BTPE. The multiclass concentration's 100 draws of 10 class columns
    of 2,000 runs of about 500 samples: 0.14 -> 0.06 s.

    Examples
    --------
    >>> binomial_rows(np.random.default_rng(0), np.array([0, 4]), np.array([0.5, 1.0]), 2)
    array([[0, 4],
           [0, 4]])
    """
    counts = np.asarray(counts, dtype=np.int64)
    p = np.asarray(p, dtype=np.float64)
    valid = len(counts) and counts.min() >= 0 and 0.0 <= p.min() <= p.max() <= 1.0
    kernels = kernel_module("bootstrap_kernels") if valid else None
    if kernels is not None:
        with _compiled_stream(rng) as source:
            return kernels.binomial_rows(source, counts, p, replicates)
    return rng.binomial(counts, p, size=(replicates, len(counts)))


def _effective_counts(weights: np.ndarray, scale: float) -> np.ndarray:
    """Weights as effective counts, snapped to integers within rounding (so weights
    multiplied by a constant give bit-identical Poisson draws)."""
    counts = weights * scale
    whole = np.rint(counts)
    return np.where(np.abs(counts - whole) <= 1e-9 * np.maximum(whole, 1.0), whole, counts)


#: Column rows: (ascending scores, weight of negatives, weight of positives).
ColumnRows = tuple[np.ndarray, np.ndarray, np.ndarray]


def consistent_positives(
    rng: np.random.Generator, scores: np.ndarray, mass: np.ndarray, replicates: int
) -> np.ndarray:
    """``(replicates, rows)`` weight of positives at each row when the labels are drawn
    from the scores themselves (a calibrated model's labels, consistency resampling).

    Each row's (effective) count, rounded to a whole number of at least 1, is split
    binomially at its score, then rescaled to the row's mass.

    Examples
    --------
    >>> pos = consistent_positives(np.random.default_rng(0), np.array([0.0, 1.0]),
    ...                            np.array([3.0, 2.0]), 4)
    >>> pos.tolist()
    [[0.0, 2.0], [0.0, 2.0], [0.0, 2.0], [0.0, 2.0]]
    """
    counts = np.maximum(np.rint(mass), 1.0)
    return binomial_rows(rng, counts, scores, replicates) * (mass / counts)


@dataclass(frozen=True)
class _CalibratedNull:
    """Consistency resampling of the calibration errors (multiclass): each column row's
    (effective) count split binomially at its own score, as a calibrated model's labels
    would be; the ECE (by :func:`_one_vs_rest`'s kernel) and smooth ECE (columns with a
    bandwidth) of each draw, averaged over columns. The columns are drawn in order, then
    their errors taken (the draws are those of drawing and scoring each column in turn)."""

    columns: list[ColumnRows]
    sigmas: list[float | None]
    bins: int

    def positives(self, rng: np.random.Generator, replicates: int) -> list[np.ndarray]:
        """Each column's ``(replicates, rows)`` calibrated weight of positives, in order."""
        return [
            consistent_positives(rng, scores, w_neg + w_pos, replicates)
            for scores, w_neg, w_pos in self.columns
        ]

    def errors(self, c: int, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Column ``c``'s ECE and smooth ECE (None without a bandwidth) of each draw."""
        scores, w_neg, w_pos = self.columns[c]
        mass, sigma = w_neg + w_pos, self.sigmas[c]
        ece = _one_vs_rest(scores, mass - pos, pos, self.bins, compiled=True)["ece"]
        if sigma is None:
            return ece, None
        return ece, np.asarray(smooth_ece(scores, mass - pos, pos, sigma=sigma)[0])

    @staticmethod
    def averaged(errors: list[tuple[np.ndarray, np.ndarray | None]]) -> dict[str, np.ndarray]:
        """The columns' errors averaged (``ece``; ``smooth_ece`` where there are any)."""
        out = {"ece": np.mean([ece for ece, _ in errors], axis=0)}
        smooths = [smooth for _, smooth in errors if smooth is not None]
        if smooths:
            out["smooth_ece"] = np.mean(smooths, axis=0)
        return out

    def draw(self, rng: np.random.Generator, replicates: int) -> dict[str, np.ndarray]:
        """:meth:`averaged` of a draw of every column."""
        drawn = self.positives(rng, replicates)
        return self.averaged([self.errors(c, pos) for c, pos in enumerate(drawn)])


def resampling_table(tally: Tally, bins: int = ECE_BINS) -> ScoreTable:
    """The binary score table the bootstrap resamples, weights as effective counts.

    Pooled by :func:`~lossgap.core.pooling.pool_for_resampling` (the per-sample variances of
    the log loss and the Brier score within 2% of the exact table's), its runs within one
    decision and one of the ``bins`` ECE bins.

    Examples
    --------
    >>> from lossgap import Predictions
    >>> rng = np.random.default_rng(0)
    >>> p = rng.uniform(0.01, 0.99, 5_000)
    >>> t = Tally.from_predictions(Predictions(rng.uniform(size=5_000) < p, p))
    >>> table = resampling_table(t)
    >>> len(table.scores) < 600, float(table.weights.sum())  # every sample, fewer rows
    (True, 5000.0)
    """
    exact = tally.tables[0]
    segments = ece_bins(exact.scores, bins)  # in place: two arrays of the table's length fewer
    segments *= 2
    segments += exact.scores >= tally.threshold
    table = pool_for_resampling(exact, segments, MAX_UNITS // 2)
    return ScoreTable(table.scores, _effective_counts(table.weights, effective_scale(tally)))


@dataclass(frozen=True)
class CalibratedLabels:
    """Labels drawn from a binary model's own probabilities, on its resampling table.

    One draw serves every test against a calibrated model that resamples labels: the
    calibrated null of the ECE and smooth ECE (:func:`debiased_interval`) and that of the
    loss concentration (:func:`lossgap.core.diagnostics.calibrated_concentration`).

    Attributes
    ----------
    table : ScoreTable
        :func:`resampling_table`: pooled scores, weights as effective counts.
    positives : ndarray of shape (draws, rows)
        Each row's effective count split binomially at its score (a row's count rounded to
        a whole number of at least 1 for the draw, then scaled back to its mass).
    """

    table: ScoreTable
    positives: np.ndarray

    @property
    def mass(self) -> np.ndarray:
        """Each row's effective count (negatives and positives): ``row_mass``, the double
        of ``weights.sum(axis=1)``."""
        return row_mass(self.table.weights)


def calibrated_labels(
    tally: Tally, bins: int = ECE_BINS, seed: int = 0, draws: int = NULL_DRAWS
) -> CalibratedLabels:
    """``draws`` draws of calibrated labels on the binary Tally's resampling table.

    The stream is seeded by ``(seed, 1)``, apart from the bootstrap's (``seed``), so the
    null and the replicates are independent whatever the number of replicates.

    Examples
    --------
    >>> from lossgap import Predictions
    >>> t = Tally.from_predictions(Predictions([0, 1, 1, 0], [0.2, 0.7, 0.9, 0.4]))
    >>> labels = calibrated_labels(t, draws=5)
    >>> labels.positives.shape, bool(np.all(labels.positives <= labels.mass))
    ((5, 4), True)
    """
    table = resampling_table(tally, bins)
    rng = seeded((seed, 1), "calibrated labels")
    return CalibratedLabels(
        table, consistent_positives(rng, table.scores, row_mass(table.weights), draws)
    )


@dataclass(frozen=True)
class Resampling:
    """The one resampling of a binary Tally that every interval of an evaluation reads.

    The metrics' bootstrap, the decomposition's (its isotonic map refitted per replicate)
    and the decision's confidence sets all resample the same pooled table
    (:func:`resampling_table`) with the same Poisson weights, and the calibrated nulls read
    the same draws of calibrated labels: one draw of each instead of three.

    Attributes
    ----------
    labels : CalibratedLabels
        The resampling table and its calibrated labels.
    weights : ndarray of shape (replicates, 2 m)
        Each replicate's Poisson weight of the table's ``m`` negative cells, then of its
        ``m`` positive cells (mean: each cell's effective count), seeded by ``seed``.
    seed : int
    """

    labels: CalibratedLabels
    weights: np.ndarray
    seed: int

    @property
    def table(self) -> ScoreTable:
        """The pooled table resampled (weights as effective counts)."""
        return self.labels.table

    def cells(self) -> tuple[np.ndarray, np.ndarray]:
        """``(replicates, m)`` weights of the negatives and of the positives at each score."""
        m = len(self.table.scores)
        return self.weights[:, :m], self.weights[:, m:]


def resample(
    tally: Tally,
    bins: int = ECE_BINS,
    seed: int = 0,
    replicates: int = DEFAULT_REPLICATES,
    labels: CalibratedLabels | None = None,
) -> Resampling:
    """The :class:`Resampling` of a binary Tally: ``replicates`` Poisson draws of its
    resampling table's cells (generator seeded by ``seed``, the draws
    :func:`bootstrap_intervals` makes) and its calibrated labels (drawn unless given).

    Examples
    --------
    >>> from lossgap import Predictions
    >>> t = Tally.from_predictions(Predictions([0, 1, 1, 0], [0.2, 0.7, 0.9, 0.4]))
    >>> r = resample(t, replicates=50)
    >>> r.weights.shape  # 4 rows of negatives, then 4 of positives
    (50, 8)
    >>> bool(np.all(r.weights[:, [2, 3, 4, 5]] == 0))  # cells without samples stay empty
    True
    """
    if labels is None:
        labels = calibrated_labels(tally, bins, seed)
    rng = seeded(seed, "resampling")
    return Resampling(labels, poisson_rows(rng, labels.table.weights.T.ravel(), replicates), seed)


#: The binary bootstrap's statistics that :func:`binary_statistics` computes, in its order
#: (the smooth ECE goes apart, through its mesh operator).
BINARY_STATISTICS = (
    "log_loss",
    "brier",
    "accuracy",
    "balanced_accuracy",
    "precision",
    "recall",
    "f1",
    "roc_auc",
    "average_precision",
    "ece",
    "baseline_log_loss",
    "normalized_entropy",
)
#: How far the compiled :func:`binary_statistics` may lie from its numpy twin, relative
#: (absolute near 0): the same sums, added in another order (measured at most about 1e-15
#: on random tables, tested).
STATISTICS_RTOL = 1e-12


def binary_statistics(
    scores: np.ndarray, threshold: float, w_neg: np.ndarray, w_pos: np.ndarray, bins: int
) -> dict[str, np.ndarray]:
    """Each of :data:`BINARY_STATISTICS` for each row of weights (``(replicates, m)``) over
    the ascending ``scores``: with numba (:func:`~lossgap.core.binning.kernel_module`) one
    compiled pass per row, within :data:`STATISTICS_RTOL` of the numpy twin
    (:func:`numpy_binary_statistics`), about fifteen times faster on a resampling
    table's 270 runs.

    Examples
    --------
    >>> s = np.array([0.2, 0.6, 0.9])
    >>> stats = binary_statistics(s, 0.5, np.array([[2.0, 1.0, 0.0]]),
    ...                           np.array([[0.0, 1.0, 2.0]]), 15)
    >>> float(stats["accuracy"][0]), float(stats["roc_auc"][0])
    (0.8333333333333334, 0.9444444444444444)
    """
    kernels = kernel_module("bootstrap_kernels")
    if kernels is None:
        return numpy_binary_statistics(scores, threshold, w_neg, w_pos, bins)
    loss_neg, loss_pos = _label_losses(scores)
    values = kernels.binary_statistics(
        scores,
        loss_neg,
        loss_pos,
        scores >= threshold,
        ece_bin_starts(scores, bins),
        np.asarray(w_neg, dtype=np.float64),  # strided views as they are (no copy)
        np.asarray(w_pos, dtype=np.float64),
    )
    return {name: values[:, i] for i, name in enumerate(BINARY_STATISTICS)}


def _label_losses(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The log loss of each score for a negative and for a positive label (infinite at a
    certain error)."""
    with np.errstate(divide="ignore"):
        return -np.log1p(-scores), -np.log(scores)


def numpy_binary_statistics(
    scores: np.ndarray, threshold: float, w_neg: np.ndarray, w_pos: np.ndarray, bins: int
) -> dict[str, np.ndarray]:
    """:func:`binary_statistics` in numpy (the compiled path's twin): the metric kernels of
    :mod:`lossgap.core.metrics` and :mod:`lossgap.core.calibration` on the replicate axis.

    Examples
    --------
    >>> s, w_neg = np.array([0.2, 0.6, 0.9]), np.array([[2.0, 1.0, 0.0]])
    >>> w_pos = np.array([[0.0, 1.0, 2.0]])
    >>> twin = numpy_binary_statistics(s, 0.5, w_neg, w_pos, 15)
    >>> fast = binary_statistics(s, 0.5, w_neg, w_pos, 15)
    >>> all(np.allclose(twin[k], fast[k], rtol=STATISTICS_RTOL) for k in BINARY_STATISTICS)
    True
    """
    loss_neg, loss_pos = _label_losses(scores)
    decided = scores >= threshold
    total = w_neg.sum(axis=1) + w_pos.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
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
            "brier": (w_neg @ scores**2 + w_pos @ (1 - scores) ** 2) / total,
            **_confusion_stats(confusion),
            **_column_stats([(scores, w_neg, w_pos, None)], bins),
            **_share_stats(class_weight, log_loss),
        }


def _binary_units(
    tally: Tally, bins: int, labels: CalibratedLabels, sigma: float | None = None
) -> _Units:
    table = labels.table
    table_weights = table.weights
    s, m = table.scores, len(table.scores)
    if sigma is None or not np.isfinite(sigma):  # else the point estimate's bandwidth
        _, sigma = smooth_ece(s, *table_weights.T)

    def statistics(rep: np.ndarray) -> dict[str, np.ndarray]:
        w_neg, w_pos = rep[:, :m], rep[:, m:]
        return {
            **binary_statistics(s, tally.threshold, w_neg, w_pos, bins),
            "smooth_ece": np.asarray(smooth_ece(s, w_neg, w_pos, sigma=sigma)[0]),
        }

    pooled = "" if m == len(tally.tables[0].scores) else f", scores pooled into {m} runs"
    return _Units(
        table_weights.T.ravel(),
        statistics,
        1.0,
        f"resampling the score table's (score, label) cells{pooled}",
        null=_drawn_null(labels, sigma, bins),
    )


def _drawn_null(
    labels: CalibratedLabels, sigma: float, bins: int
) -> Callable[[np.random.Generator, int], dict[str, np.ndarray]]:
    """The ECE and smooth ECE of the first draws of ``labels`` (the binary calibrated null;
    the generator is not used: the labels are drawn already)."""

    def draw(_: np.random.Generator, replicates: int) -> dict[str, np.ndarray]:
        s, pos = labels.table.scores, labels.positives[:replicates]
        return {
            "ece": binned_ece(s, labels.mass - pos, pos, bins=bins),
            "smooth_ece": smooth_ece_of_labels(s, labels.mass, pos, sigma),
        }

    return draw


def _dot_inf(weights: np.ndarray, losses: np.ndarray) -> np.ndarray:
    """``weights @ losses`` where an infinite loss with weight 0 contributes 0, not NaN."""
    finite = np.isfinite(losses)
    out = weights[:, finite] @ losses[finite]
    hit = (weights[:, ~finite] > 0).any(axis=1)
    return np.where(hit, np.inf, out)


def _multiclass_units(
    pred: Predictions, rng: np.random.Generator, bins: int, replicates: int | None = None
) -> _Units:
    """The multiclass resampling units: samples (at most ``MAX_UNITS``, kept at random
    by ``rng``), whose statistics read the class columns pooled into runs.

    ``replicates``: how many the caller draws from ``rng`` (:func:`_percentile_intervals`),
    when all in one call: the calibrated null is then drawn from ``rng`` right after them,
    within the replicates' statistics (the same draws as the null's own call after them),
    so that each column's smoothing operator serves its replicates and then its null
    (eleven operators less to build at ten classes); None: the null draws when called.
    """
    pred = in_content_order(pred)  # each row's draws depend on the data, not its order
    n, k = len(pred), pred.n_classes
    keep = np.sort(rng.choice(n, MAX_UNITS, replace=False)) if n > MAX_UNITS else np.arange(n)
    # the kept samples' own losses: each sample's numbers are its row's alone, so the same
    # doubles as the whole's taken at ``keep``, without computing the n - MAX_UNITS others
    kept = subset(pred, keep)
    y, prob = kept.y, kept.prob
    if pred.sample_weight is None:
        weight = np.ones(n)
    else:  # effective weights: their scale carries no information
        w = pred.sample_weight
        weight = _effective_counts(w, float(w.sum() / (w @ w)))
    losses, briers = sample_log_loss(kept), sample_brier(kept)
    decided = kept.predicted()
    # the confusion metrics read the diagonal and the margins only (Margins): k values
    # each, not the k * k cells
    correct = np.flatnonzero(decided == y)
    to_hits = sparse.csr_array(
        (np.ones(len(correct)), (correct, y[correct])), shape=(len(y), k)
    )
    to_decided = _one_hot(decided, k)
    to_classes = _one_hot(y, k)
    rows = column_rows(k)
    columns = [_column(prob[:, c], y == c, rows) for c in range(k)]
    # the top label (confidence against correctness): the multiclass ece and smooth_ece;
    # the class columns one-vs-rest: classwise_ece and classwise_smooth_ece
    top = _column(prob.max(axis=1), decided == y, COLUMN_ROWS)
    # each class column's smooth ECE smooths every replicate on a grid of up to 10,000
    # points: past SMOOTH_CLASSES columns classwise_smooth_ece is not resampled
    sigmas: list[float | None] = (
        [smooth_ece(col.scores, *col.weights(weight[keep][None]))[1] for col in columns]
        if k <= SMOOTH_CLASSES
        else [None] * k
    )
    top_sigma = smooth_ece(top.scores, *top.weights(weight[keep][None]))[1]
    unresampled = weight[keep][None]
    classwise_null = _CalibratedNull(
        [(col.scores, *(w[0] for w in col.weights(unresampled))) for col in columns], sigmas, bins
    )
    top_null = _CalibratedNull(
        [(top.scores, *(w[0] for w in top.weights(unresampled)))], [top_sigma], bins
    )
    chunk = max(1, _CHUNK_CELLS // len(keep))  # _percentile_intervals' replicates a call
    early = replicates is not None and 1 < replicates <= chunk
    drawn_null: list[dict[str, np.ndarray]] = []

    def statistics(rep: np.ndarray) -> dict[str, np.ndarray]:
        total = rep.sum(axis=1)
        log_loss = _dot_inf(rep, losses) / total
        class_weight = rep @ to_classes
        margins = Margins(rep @ to_hits, rep @ to_decided, class_weight)
        rep_t = np.ascontiguousarray(rep.T)  # once for every column
        weights = _columns_weights_t([*columns, top], rep_t)
        grouped = (
            (col.scores, *next(weights), sigma) for col, sigma in zip(columns, sigmas, strict=True)
        )
        with_null = early and len(rep) == replicates
        errors: list[tuple[np.ndarray, np.ndarray | None]] = []
        if with_null:  # the null's draws, next in rng's stream after the replicates'
            draws = min(len(rep), NULL_DRAWS)
            positives, top_positives = (
                classwise_null.positives(rng, draws), top_null.positives(rng, draws)
            )
        stats = _column_stats(
            grouped,
            bins,
            compiled=True,
            after=(lambda c: errors.append(classwise_null.errors(c, positives[c])))
            if with_null
            else None,
        )
        top_weights = (top.scores, *next(weights))
        top_smooth = np.asarray(smooth_ece(*top_weights, sigma=top_sigma)[0])
        if with_null:
            drawn_null.append(
                _null_by_name(
                    _CalibratedNull.averaged(errors),
                    _CalibratedNull.averaged([top_null.errors(0, top_positives[0])]),
                )
            )
        return {
            "log_loss": log_loss,
            "brier": rep @ briers / total,
            **_confusion_stats(margins),
            "roc_auc": stats["roc_auc"],
            "average_precision": stats["average_precision"],
            "classwise_ece": stats["ece"],
            "ece": _one_vs_rest(*top_weights, bins, compiled=True)["ece"],
            **_share_stats(class_weight, log_loss),
            **({"classwise_smooth_ece": stats["smooth_ece"]} if "smooth_ece" in stats else {}),
            "smooth_ece": top_smooth,
        }

    def null(rng: np.random.Generator, draws: int) -> dict[str, np.ndarray]:
        if drawn_null:  # drawn with the replicates
            return drawn_null.pop()
        return _null_by_name(classwise_null.draw(rng, draws), top_null.draw(rng, draws))

    sub = "" if len(keep) == n else f", m-out-of-n on {len(keep)} of {n} samples"
    if any(col.pooled for col in columns):
        sub += f", class columns pooled into {rows} runs of adjacent scores"
    return _Units(
        np.ones(len(keep)),
        statistics,
        np.sqrt(len(keep) / n),
        f"resampling samples{sub}",
        multiplier=None if pred.sample_weight is None else weight[keep],
        null=null,
    )


def _null_by_name(
    columns: dict[str, np.ndarray], top: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """The calibrated null of the classwise errors and of the top-label ones, by name."""
    out = {"classwise_ece": columns["ece"], "ece": top["ece"], "smooth_ece": top["smooth_ece"]}
    if "smooth_ece" in columns:
        out["classwise_smooth_ece"] = columns["smooth_ece"]
    return out


def bootstrap_intervals(
    tally: Tally,
    estimates: dict[str, float],
    pred: Predictions | None,
    *,
    confidence: float,
    replicates: int = DEFAULT_REPLICATES,
    seed: int = 0,
    ece_bins: int = ECE_BINS,
    labels: CalibratedLabels | None = None,
    smooth_sigma: float | None = None,
    resampling: Resampling | None = None,
) -> tuple[dict[str, tuple[float, float]], str]:
    """Percentile intervals for the metrics in ``estimates`` that the bootstrap covers
    (``ece_bins``: the bins of the binned ECE; ``labels``: the binary Tally's
    :func:`calibrated_labels` when the caller drew them already; ``smooth_sigma``: the
    bandwidth of the binary smooth ECE's estimate, which the replicates then share instead
    of searching their own on the pooled table; ``resampling``: the binary Tally's
    :func:`resample` when the caller drew it, whose labels and weights are then used, the
    same numbers as drawing them here).

    Returns
    -------
    intervals : dict
        ``name -> (low, high)``.
    method : str
        How the replicates were drawn (for ``ci_method``).
    """
    rng = seeded(seed, "intervals")
    drawn = None
    if tally.task == "binary":
        if resampling is not None:
            labels, drawn = resampling.labels, resampling.weights[:replicates]
        elif labels is None:
            labels = calibrated_labels(tally, ece_bins, seed)
        units = _binary_units(tally, ece_bins, labels, smooth_sigma)
    elif pred is not None:
        units = _multiclass_units(pred, rng, ece_bins, replicates)
    else:
        return {}, "bootstrap unavailable: multiclass resampling needs the samples"
    with np.errstate(divide="ignore", invalid="ignore"):  # empty replicates give NaN, dropped
        return _percentile_intervals(units, estimates, rng, confidence, replicates, seed, drawn)


def _percentile_intervals(
    units: _Units,
    estimates: dict[str, float],
    rng: np.random.Generator,
    confidence: float,
    replicates: int,
    seed: int,
    drawn: np.ndarray | None = None,
) -> tuple[dict[str, tuple[float, float]], str]:
    """The intervals of ``units`` from ``replicates`` draws (``drawn``: drawn already)."""
    method = f"bootstrap ({replicates} Poisson replicates, seed {seed}, {units.description})"
    base = units.statistics(units.weights()[None])
    chunk = max(1, _CHUNK_CELLS // len(units.counts))
    draws: dict[str, list[np.ndarray]] = {}
    for start in range(0, replicates, chunk):
        size = min(chunk, replicates - start)
        rep = units.draw(rng, size) if drawn is None else drawn[start : start + size]
        for name, values in units.statistics(rep).items():
            draws.setdefault(name, []).append(values)
    null = (
        units.null(rng, min(replicates, NULL_DRAWS))
        if units.null is not None and replicates > 1
        else {}
    )
    alpha = (1 - confidence) / 2
    intervals: dict[str, tuple[float, float]] = {}
    names = [
        name
        for name in draws
        if (estimate := estimates.get(name)) is not None and np.isfinite(estimate)
    ]
    if not names:
        return intervals, method
    # every statistic's deviations in one (replicates, statistics) array, and the
    # percentile ends of those whose replicates are all finite in one quantile call: the
    # same values as a call each (the quantile of each column alone), a dozen fewer
    stacked = np.column_stack([np.concatenate(draws[name]) for name in names])
    deviations = (stacked - np.array([base[name][0] for name in names])) * units.scale
    finite = np.isfinite(deviations)
    complete = finite.all(axis=0)
    whole = [i for i, name in enumerate(names) if complete[i] and name not in BIASED_UPWARD]
    if len(deviations) >= 2 and whole:
        ends = quantiles(deviations, [alpha, 1 - alpha], whole)
        for i, (lo, hi) in zip(whole, ends.T, strict=True):
            estimate = estimates[names[i]]
            intervals[names[i]] = (float(estimate + lo), float(estimate + hi))
    for i, name in enumerate(names):
        if name in intervals:
            continue
        estimate = estimates[name]
        deviation = deviations[:, i] if complete[i] else deviations[finite[:, i], i]
        if len(deviation) < 2:
            continue
        if name in BIASED_UPWARD:
            calibrated = null.get(name)
            if calibrated is not None:  # the null is drawn on the pooled units: shift it
                calibrated = calibrated + (estimate - float(base[name][0]))
            intervals[name] = debiased_interval(estimate, deviation, confidence, calibrated)
        else:
            intervals[name] = percentile_interval(estimate, deviation, confidence)
    return intervals, method


def percentile_interval(
    estimate: float, deviation: np.ndarray, confidence: float
) -> tuple[float, float]:
    """The percentile interval placed on ``estimate``: the ``(1 - confidence) / 2`` and
    ``(1 + confidence) / 2`` quantiles of ``deviation`` (the replicates minus the
    unresampled statistic, finite) added to it.

    Examples
    --------
    >>> percentile_interval(0.5, np.array([-0.1, 0.0, 0.1]), 0.5)
    (0.45, 0.55)
    """
    alpha = (1 - confidence) / 2
    lo, hi = quantiles(deviation, [alpha, 1 - alpha])  # np.quantile's doubles
    return float(estimate + lo), float(estimate + hi)


def debiased_interval(
    estimate: float,
    deviation: np.ndarray,
    confidence: float,
    calibrated: np.ndarray | None = None,
) -> tuple[float, float]:
    """Interval of a calibration error: a nonnegative sum of absolute residuals, biased
    upward by the labels' noise.

    ``deviation`` holds the bootstrap replicates minus the unresampled statistic.
    ``calibrated`` holds the statistic of pure noise: labels drawn from the model's own
    probabilities (consistency resampling).

    * upper bound: ``estimate + z sd(deviation)``. The noise only adds to an absolute
      residual on average (Jensen), so the estimate is rarely far below the truth; no
      bias is subtracted, since the bootstrap's estimate of it is itself unreliable (it
      overcorrects where the residuals are large, undercorrects where they are small);
    * lower bound: ``estimate - q(calibrated)``, the ``1 - alpha/2`` quantile, floored at 0.
      Each bin's residual is the model's miscalibration plus the labels' noise, so by the
      triangle inequality the population error is at least the estimate less the error of
      the noise alone, whatever the miscalibration; the bound is 0 whenever the estimate is
      within what a calibrated model's labels produce. Without ``calibrated``: the
      bootstrap-debiased estimate ``estimate - mean(deviation)`` minus ``z`` SDs.

    Both bounds hold the estimate.

    Examples
    --------
    >>> lo, hi = debiased_interval(0.02, np.array([0.01, 0.03, 0.02, 0.04]), 0.95)
    >>> lo, round(hi, 4)
    (0.0, 0.0453)
    >>> noise = np.linspace(0.0, 0.1, 41)  # a calibrated model's errors reach 0.1
    >>> debiased_interval(0.08, np.array([-0.01, 0.0, 0.01, 0.0]), 0.95, noise)[0]
    0.0
    >>> lo, hi = debiased_interval(0.2, np.array([-0.01, 0.0, 0.01, 0.0]), 0.95, noise)
    >>> round(lo, 4), round(hi, 4)
    (0.1025, 0.216)
    """
    spread = float(np.std(deviation, ddof=1))
    half = z_value(confidence) * spread
    high = estimate + half
    if calibrated is None:
        centre = max(estimate - float(np.mean(deviation)), 0.0)
        return min(max(centre - half, 0.0), estimate), high
    noise = float(quantiles(calibrated, [0.5 + confidence / 2])[0])
    return min(max(estimate - noise, 0.0), estimate), high

"""Pooling a score table into runs of adjacent scores, for the steps that need not see
every distinct score (bootstrap units, map fitting, kernel smoothing).

The point estimates and held-out scores always use the full table; a pooled table keeps the
exact weights of each run and the weighted mean score of the run.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from lossgap.core.binning import kernel_module
from lossgap.core.losses import label_log_losses
from lossgap.core.tally import ScoreTable

#: How far the compiled pooling's run sums (weights, weighted mean scores) may lie from
#: its numpy twin, relative: the same terms added in another order (a reduceat sums a long
#: run pairwise; whole-number weights add up exactly either way). Measured under 1e-15.
POOLED_RTOL = 1e-13


def row_mass(weights: np.ndarray) -> np.ndarray:
    """Each row's weight of both labels, from ``(m, 2)`` weights.

    Equal to ``weights.sum(axis=1)`` bit for bit (one addition per row either way), at a
    twentieth of its cost: numpy reduces a length-2 inner axis one row at a time (15
    against 0.7 ms at 1e6 rows).

    Examples
    --------
    >>> row_mass(np.array([[1.0, 2.0], [0.5, 0.0]])).tolist()
    [3.0, 0.5]
    """
    return weights[:, 0] + weights[:, 1]


def take_rows(weights: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The ``rows`` of ``(m, 2)`` weights, as a C-ordered ``(len(rows), 2)`` array.

    Equal to ``np.take(weights, rows, axis=0)`` bit for bit and in layout (a gather copies,
    it does not round), gathered one column at a time: a Tally's tables keep their weights
    column by column (Fortran order), where a whole-row gather costs about six times as
    much (0.20 against 0.03 ms for 20,000 of 1e5 rows, five folds per evaluation). The
    result stays C-ordered so that its columns reach the dot products with the same
    strides (and so the same additions) as before.

    Examples
    --------
    >>> w = np.asfortranarray([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    >>> take_rows(w, np.array([2, 0])).tolist()
    [[5.0, 6.0], [1.0, 2.0]]
    """
    out = np.empty((len(rows), 2))
    out[:, 0] = np.take(weights[:, 0], rows)
    out[:, 1] = np.take(weights[:, 1], rows)
    return out


class Pooling:
    """Runs of adjacent scores of about equal weight, fixed once and applied to any weights.

    Fixing the runs on the full table lets every fold's training weights be pooled the same
    way (one ``reduceat`` each) instead of re-sorting per fold. ``segments`` (one label per
    row) keeps rows of different labels in different runs: a run then never straddles a
    decision threshold or a bin edge.

    With numba (:func:`~lossgap.core.binning.kernel_module`) the runs and the table's own
    run sums come from one compiled pass (``bootstrap_kernels.pool_runs``): the same runs,
    their sums within :data:`POOLED_RTOL` of this numpy path (whole-number weights
    exactly): 0.9 -> 0.4 ms a pooling of 1e5 rows, three per evaluation.
    """

    def __init__(
        self, table: ScoreTable, max_rows: int, segments: np.ndarray | None = None
    ) -> None:
        #: the table's own weights and their run sums, when the compiled path has them
        self._own: tuple[np.ndarray, np.ndarray] | None = None
        if len(table.scores) <= max_rows:
            self.starts = None
            self.scores = table.scores
            return
        kernels = kernel_module("bootstrap_kernels")
        if kernels is not None:  # the same runs, their sums in one compiled pass
            w_neg, w_pos = table.weights[:, 0], table.weights[:, 1]
            self.starts, sums = kernels.pool_runs(
                np.asarray(table.scores, dtype=np.float64), w_neg, w_pos,
                float(row_mass(table.weights).sum()), max_rows,
                np.empty(0, dtype=np.int64) if segments is None else segments,
                segments is not None,
            )
            mass = sums[:, 0]
            self.scores = sums[:, 1] / np.where(mass > 0, mass, 1)
            self._own = (table.weights, sums[:, 2:])
            return
        total = row_mass(table.weights)
        group = np.minimum((np.cumsum(total) - total) / total.sum() * max_rows, max_rows - 1)
        change = np.diff(group.astype(np.int64), prepend=-1) != 0
        if segments is not None:
            change[1:] |= segments[1:] != segments[:-1]
        self.starts = np.flatnonzero(change)
        mass = np.add.reduceat(total, self.starts)
        self.scores = np.add.reduceat(table.scores * total, self.starts) / np.where(
            mass > 0, mass, 1
        )

    def weights(self, weights: np.ndarray) -> np.ndarray:
        """Per-row ``(m, 2)`` weights summed over each run."""
        if self.starts is None:
            return weights
        if self._own is not None and weights is self._own[0]:
            return self._own[1]
        return np.add.reduceat(weights, self.starts, axis=0)

    def table(self, weights: np.ndarray) -> ScoreTable:
        return ScoreTable(self.scores, self.weights(weights))


#: The latest table pooled by :func:`pooling_of` and its poolings by ``max_rows``: one
#: evaluation pools the same table to the same rows for the calibration slope, the
#: calibration test and each logistic map (one table kept, held so that its identity
#: cannot be reused; tables are never changed in place).
_LAST_POOLINGS: tuple[ScoreTable | None, dict[int, tuple[Pooling, ScoreTable]]] = (None, {})


def pooling_of(table: ScoreTable, max_rows: int) -> tuple[Pooling, ScoreTable]:
    """``Pooling(table, max_rows)`` and ``table`` pooled by it, kept for the latest table
    (at 1e6 rows each pooling costs about 11 ms, and an evaluation asks four times).

    Examples
    --------
    >>> t = ScoreTable(np.array([0.1, 0.2, 0.3, 0.4]), np.ones((4, 2)))
    >>> pooling_of(t, 2)[0] is pooling_of(t, 2)[0]
    True
    """
    global _LAST_POOLINGS
    latest, poolings = _LAST_POOLINGS
    if latest is not table:  # other threads at worst pool theirs again
        poolings = {}
        _LAST_POOLINGS = (table, poolings)
    if max_rows not in poolings:
        pooling = Pooling(table, max_rows)
        poolings[max_rows] = (pooling, pooling.table(table.weights))
    return poolings[max_rows]


def pool_table(table: ScoreTable, max_rows: int) -> ScoreTable:
    """Pool adjacent scores into at most ``max_rows`` runs of about equal weight.

    Examples
    --------
    >>> t = ScoreTable(np.array([0.1, 0.2, 0.3, 0.4]), np.ones((4, 2)))
    >>> pooled = pool_table(t, 2)
    >>> pooled.scores.tolist(), pooled.weights.tolist()
    ([0.15000000000000002, 0.35], [[2.0, 2.0], [2.0, 2.0]])
    """
    return pooling_of(table, max_rows)[1]


#: A table pooled for resampling keeps the per-sample variance of the log loss and of the
#: Brier score within this share of the exact table's, so their bootstrap standard errors
#: move by at most half of it (1%).
RESAMPLING_TOLERANCE = 0.02
#: The fewest runs a table is pooled into for resampling (then 512, 1024, ...).
FEWEST_RESAMPLING_ROWS = 256


def _per_sample_losses(s: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The log loss of each score for a negative and for a positive label, then the Brier
    score, in two arrays the caller may overwrite (the Brier scores are written into
    them); numpy's doubles of ``-np.log1p(-s)``, ``-np.log(s)``
    (:func:`~lossgap.core.losses.label_log_losses`), ``s * s`` and
    ``(1.0 - s) ** 2``, computed in place: two arrays instead of about ten, each of 800
    KB at 1e5 scores, most of whose cost was fresh pages' system time."""
    neg, pos = label_log_losses(s)
    yield neg, pos
    np.multiply(s, s, out=neg)
    np.subtract(1.0, s, out=pos)
    pos *= pos
    yield neg, pos


def per_sample_variances(table: ScoreTable) -> np.ndarray:
    """Weighted variance over samples of the log loss and of the Brier score, ``(2,)``.

    Examples
    --------
    >>> t = ScoreTable(np.array([0.5]), np.array([[3.0, 1.0]]))
    >>> per_sample_variances(t).tolist()  # every loss is log 2, every Brier score 1/4
    [0.0, 0.0]
    """
    s, (w_neg, w_pos) = table.scores, table.weights.T
    total = w_neg.sum() + w_pos.sum()
    out = []
    with np.errstate(divide="ignore", invalid="ignore"):
        for neg, pos in _per_sample_losses(s):
            if not (np.isfinite(neg).all() and np.isfinite(pos).all()):
                # an infinite loss where a label has no weight must add 0, not NaN; finite
                # ones add exact zeros there, so the masks are taken only when needed
                neg = np.where(w_neg > 0, neg, 0.0)
                pos = np.where(w_pos > 0, pos, 0.0)
            mean = (w_neg @ neg + w_pos @ pos) / total
            # the squared deviations in the losses' own arrays: (x - mean) ** 2 is
            # numpy's x * x of the difference, so the same doubles
            for losses in (neg, pos):
                losses -= mean
                losses *= losses
            if not np.isfinite(mean):  # an infinite loss with weight: keep the old masks
                neg = np.where(w_neg > 0, neg, 0.0)
                pos = np.where(w_pos > 0, pos, 0.0)
            spread = w_neg @ neg
            spread += w_pos @ pos
            out.append(spread / total)
    return np.array(out)


def pool_for_resampling(
    table: ScoreTable, segments: np.ndarray | None, max_rows: int
) -> ScoreTable:
    """The coarsest pooling of ``table`` (256, 512, ... runs, at most ``max_rows``) whose
    per-sample variances of the log loss and the Brier score are within
    ``RESAMPLING_TOLERANCE`` of the exact table's (:func:`per_sample_variances`).

    Pooling replaces each run's scores by their weighted mean: by the law of total
    variance it removes about the within-run variance, which this bound measures rather
    than assumes. Runs never cross a change in ``segments`` (decision, ECE bin), so the
    confusion matrix and the binned residuals of every resampled table are sums over whole
    runs. Tables with an infinite loss are pooled to ``max_rows`` as before.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> p = np.sort(rng.uniform(0.01, 0.99, 10_000))
    >>> y = rng.uniform(size=p.size) < p
    >>> t = ScoreTable(p, np.column_stack([~y, y]).astype(float))
    >>> len(pool_for_resampling(t, p >= 0.5, 5_000).scores) < 600
    True
    """
    exact = per_sample_variances(table)
    rows = FEWEST_RESAMPLING_ROWS
    if np.all(np.isfinite(exact)):
        while rows < min(max_rows, len(table.scores)):
            pooled = Pooling(table, rows, segments).table(table.weights)
            if np.all(np.abs(per_sample_variances(pooled) - exact) <= RESAMPLING_TOLERANCE * exact):
                return pooled
            rows *= 2
    return Pooling(table, max_rows, segments).table(table.weights)

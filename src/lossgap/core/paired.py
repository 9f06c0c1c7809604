"""Paired statistics for models scored on the same samples, vectorised over models.

Every function takes per-sample matrices of shape ``(m, n)`` (one row per model, so each
model's values are contiguous) or per-pair count arrays, and returns arrays: no loop runs
per-sample Python work per pair. Pairwise second moments come from one centred
cross-product matrix (``m x m``), so the variance of every pairwise difference is
``S[a, a] + S[b, b] - 2 S[a, b]``.

Conventions
-----------
* Differences are ``a - b``.
* Two-sided tests; intervals at level ``confidence``, not adjusted for multiplicity
  (the Holm-adjusted p-values are).

References
----------
.. [1] McNemar, Q. (1947). Note on the sampling error of the difference between
   correlated proportions or percentages. Psychometrika 12, 153-157.
   https://doi.org/10.1007/BF02295996
.. [2] Newcombe, R. G. (1998). Improved confidence intervals for the difference between
   binomial proportions based on paired data. Statistics in Medicine 17, 2635-2650.
   https://doi.org/10.1002/(SICI)1097-0258(19981130)17:22<2635::AID-SIM954>3.0.CO;2-C
.. [3] DeLong, E. R., DeLong, D. M. & Clarke-Pearson, D. L. (1988). Comparing the areas
   under two or more correlated receiver operating characteristic curves: a
   nonparametric approach. Biometrics 44, 837-845. https://doi.org/10.2307/2531595
.. [4] Holm, S. (1979). A simple sequentially rejective multiple test procedure.
   Scandinavian Journal of Statistics 6, 65-70.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import special

from lossgap.core.binning import kernel_module
from lossgap.core.trend import kendall
from lossgap.core.uncertainty import wilson, z_value

#: Samples per block when accumulating cross-products, to bound the centred copy's memory.
_BLOCK = 1 << 16


@dataclass(frozen=True)
class Interval:
    """Point estimates with interval bounds and two-sided p-values, one per pair."""

    value: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    p_value: np.ndarray


def paired_proportion_difference(
    both: npt.ArrayLike,
    a_only: npt.ArrayLike,
    b_only: npt.ArrayLike,
    neither: npt.ArrayLike,
    *,
    confidence: float = 0.95,
) -> Interval:
    """Difference of two paired proportions: Newcombe's interval and McNemar's exact test.

    Parameters
    ----------
    both, a_only, b_only, neither : array-like of int
        The paired 2x2 table of each pair: samples both models get right, only ``a``,
        only ``b``, neither.
    confidence : float, default=0.95

    Returns
    -------
    Interval
        ``value = (a_only - b_only) / n``; the interval is Newcombe's hybrid score
        interval (method 10, with his correction of the correlation term); the p-value is
        McNemar's exact test.

    Notes
    -----
    Newcombe's interval combines the Wilson intervals ``(l1, u1)``, ``(l2, u2)`` of the two
    proportions ``p1``, ``p2`` with the correlation ``phi`` of the paired table::

        low  = d - sqrt((p1 - l1)^2 + (u2 - p2)^2 - 2 phi (p1 - l1)(u2 - p2))
        high = d + sqrt((p2 - l2)^2 + (u1 - p1)^2 - 2 phi (p2 - l2)(u1 - p1))

    where ``phi = (A - n/2) / sqrt(...)`` if ``A = both * neither - a_only * b_only``
    exceeds ``n/2``, 0 if ``0 <= A <= n/2``, ``A / sqrt(...)`` if ``A < 0`` (the square
    root of the product of the four margins; ``phi = 0`` when a margin is empty).

    McNemar's exact test is the two-sided binomial test of ``a_only`` successes in
    ``a_only + b_only`` trials with probability 1/2, which is
    ``min(1, 2 * P(X <= min(a_only, b_only)))``; 1 when there are no discordant pairs.

    Examples
    --------
    Cavo et al. (2012), the example of Fagerland, Lydersen & Laake (2017), chapter 8:

    >>> r = paired_proportion_difference(59, 6, 16, 80)
    >>> [round(float(x), 4) for x in (r.value, r.ci_low, r.ci_high, r.p_value)]
    [-0.0621, -0.1186, -0.0046, 0.0525]
    """
    n11, n10, n01, n00 = (np.asarray(x, dtype=np.float64) for x in (both, a_only, b_only, neither))
    n = n11 + n10 + n01 + n00
    p1, p2 = (n11 + n10) / n, (n11 + n01) / n
    l1, u1 = wilson((n11 + n10) / n, n, confidence)
    l2, u2 = wilson((n11 + n01) / n, n, confidence)
    margins = (n11 + n10) * (n01 + n00) * (n11 + n01) * (n10 + n00)
    a = n11 * n00 - n10 * n01
    corrected = np.where(a > n / 2.0, a - n / 2.0, np.where(a >= 0.0, 0.0, a))
    with np.errstate(divide="ignore", invalid="ignore"):
        phi = np.where(margins > 0, corrected / np.sqrt(margins), 0.0)
    d = p1 - p2
    low = d - np.sqrt(
        np.maximum((p1 - l1) ** 2 + (u2 - p2) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2), 0)
    )
    high = d + np.sqrt(
        np.maximum((p2 - l2) ** 2 + (u1 - p1) ** 2 - 2 * phi * (p2 - l2) * (u1 - p1), 0)
    )
    return Interval(d, np.maximum(low, -1.0), np.minimum(high, 1.0), mcnemar_exact(n10, n01))


def mcnemar_exact(a_only: npt.ArrayLike, b_only: npt.ArrayLike) -> np.ndarray:
    """Exact McNemar p-value: two-sided binomial test on the discordant pairs.

    Examples
    --------
    >>> mcnemar_exact([6, 3, 0], [16, 3, 0]).round(4).tolist()
    [0.0525, 1.0, 1.0]
    """
    b = np.asarray(a_only, dtype=np.float64)
    c = np.asarray(b_only, dtype=np.float64)
    discordant = b + c
    # Binomial(1/2) is symmetric: the two-sided p-value of scipy's binomtest is twice the
    # smaller tail, capped at 1 (equal counts give exactly 1). The tail P(X <= k) of
    # X ~ Binomial(n, 1/2) is the regularised incomplete beta I_{1/2}(n - k, k + 1):
    # scipy.special's betainc gives scipy.stats.binom.cdf to 4e-15 relative (the same
    # doubles in 99.8% of 500,000 draws of n up to 2e6) without importing scipy.stats
    # (0.5 s of every compare command).
    k = np.minimum(b, c)
    tail = special.betainc(np.maximum(discordant, 1.0) - k, k + 1.0, 0.5)
    return np.where(discordant > 0, np.minimum(1.0, 2.0 * tail), 1.0)


def centered_cross_products(
    x: np.ndarray, *, samples: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, int]:
    """Row means and centred cross-products of ``x[:, samples]``, in bounded memory.

    Parameters
    ----------
    x : ndarray of shape (m, n)
        One row per model.
    samples : ndarray of int, default=None
        The samples (columns) to use; all when None.

    Returns
    -------
    (mean, cross, count)
        ``mean`` of shape (m,), ``cross = sum_i (x_i - mean)(x_i - mean)^T`` of shape
        (m, m) over the samples ``i``, and the number of samples.

    Examples
    --------
    >>> x = np.array([[1.0, 3.0, 5.0], [2.0, 6.0, 7.0]])
    >>> mean, cross, count = centered_cross_products(x)
    >>> mean.tolist(), cross.tolist(), count
    ([3.0, 5.0], [[8.0, 10.0], [10.0, 14.0]], 3)
    """
    m = x.shape[0]
    count = x.shape[1] if samples is None else len(samples)
    if count == 0:
        return np.full(m, np.nan), np.zeros((m, m)), 0
    mean = (x if samples is None else x[:, samples]).mean(axis=1)
    if samples is None:
        return mean, cross_products_about(lambda index: x[:, index], mean, count), count
    return mean, cross_products_about(lambda index: x[:, samples[index]], mean, count), count


def cross_products_about(
    columns: Callable[[slice], np.ndarray], mean: np.ndarray, count: int
) -> np.ndarray:
    """``sum_i (x_i - mean)(x_i - mean)^T`` over ``count`` samples, a block at a time.

    Parameters
    ----------
    columns : callable
        ``columns(rows)`` gives the ``(m, len)`` values of the samples in the slice
        ``rows``: read from a matrix, or computed on demand so that the ``(m, n)``
        matrix never exists (at 50 models x 1e6 samples, 400 MB whose first writes cost
        more than computing the blocks again); it is read before the next call.
    mean : ndarray of shape (m,)
    count : int

    Returns
    -------
    ndarray of shape (m, m)
        The same doubles whichever way the blocks come (they have the same shapes).

    Examples
    --------
    >>> x = np.array([[1.0, 3.0, 5.0], [2.0, 6.0, 7.0]])
    >>> cross_products_about(lambda rows: x[:, rows], x.mean(axis=1), 3).tolist()
    [[8.0, 10.0], [10.0, 14.0]]
    """
    m = len(mean)
    cross = np.zeros((m, m))
    centred = np.empty((m, min(_BLOCK, count)))  # kept between blocks: no page faults
    for start in range(0, count, _BLOCK):
        rows = slice(start, min(start + _BLOCK, count))
        block = centred if rows.stop - start == centred.shape[1] else None
        block = np.subtract(columns(rows), mean[:, None], out=block)
        cross += block @ block.T
    return cross


def pair_variances(cross: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """``cross[a, a] + cross[b, b] - 2 cross[a, b]`` for each pair, never below 0.

    Rounding can make the result of identical columns a tiny negative number; it is 0.
    """
    a, b = pairs[:, 0], pairs[:, 1]
    return np.maximum(cross[a, a] + cross[b, b] - 2.0 * cross[a, b], 0.0)


def paired_mean_difference(
    x: np.ndarray | None,
    pairs: np.ndarray,
    *,
    confidence: float = 0.95,
    moments: tuple[np.ndarray, np.ndarray, int] | None = None,
) -> Interval:
    """Paired t interval and test for the mean of per-sample differences ``x_a - x_b``.

    Parameters
    ----------
    x : ndarray of shape (m, n)
        Per-sample values (losses), one row per model; finite.
    pairs : ndarray of int, shape (p, 2)
        Column indices ``(a, b)`` of each pair.
    confidence : float, default=0.95
    moments : (mean, cross, n), default=None
        :func:`centered_cross_products` of ``x`` when the caller has them (then ``x``
        may be None).

    Returns
    -------
    Interval

    Notes
    -----
    With ``d_i = x_ia - x_ib``, mean ``d`` and sample variance ``s^2`` (``n - 1``
    degrees of freedom): ``d +- t_{n-1} s / sqrt(n)`` and ``t = d / (s / sqrt(n))``,
    as :func:`scipy.stats.ttest_rel`. ``s^2`` comes from the centred cross-products of
    ``x``. When every difference is equal (``s = 0``), the interval is that value and
    the p-value is 1 if it is 0, else 0.

    Examples
    --------
    >>> x = np.array([[0.2, 0.5, 0.1, 0.7], [0.3, 0.4, 0.4, 0.9]])
    >>> r = paired_mean_difference(x, np.array([[0, 1]]))
    >>> round(float(r.value[0]), 4), round(float(r.p_value[0]), 4)
    (-0.125, 0.2394)
    """
    if moments is None:
        assert x is not None
        moments = centered_cross_products(x)
    mean, cross, n = moments
    a, b = pairs[:, 0], pairs[:, 1]
    d = mean[a] - mean[b]
    se = np.sqrt(pair_variances(cross, pairs) / max(n - 1, 1) / n)
    return _t_interval(d, se, n - 1, confidence)


def _t_interval(d: np.ndarray, se: np.ndarray, dof: int, confidence: float) -> Interval:
    # stdtr(dof, -t) and stdtrit(dof, q) are the doubles of scipy.stats' t.sf(t, dof) and
    # t.ppf(q, dof), without importing scipy.stats (tested)
    degenerate = se <= 0
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(degenerate, 0.0, d / np.where(degenerate, 1.0, se))
    dof = max(dof, 1)
    p = np.where(degenerate, np.where(d == 0, 1.0, 0.0), 2.0 * special.stdtr(dof, -np.abs(t)))
    half = special.stdtrit(dof, 0.5 + confidence / 2.0) * se
    return Interval(d, d - half, d + half, p)


def kendall_tau(x: npt.ArrayLike, y: npt.ArrayLike) -> float:
    """Kendall's tau-b of two sequences (:func:`lossgap.core.trend.kendall`'s), NaN when a
    value is NaN, fewer than two are given or every pair is tied in one of them.

    Examples
    --------
    >>> kendall_tau([1, 2, 3, 4], [1, 3, 2, 4])
    0.6666666666666669
    """
    a, b = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if np.isnan(a).any() or np.isnan(b).any():
        return float("nan")
    return kendall(a, b)[0]


def holm(p_values: npt.ArrayLike) -> np.ndarray:
    """Holm's step-down adjusted p-values; NaN entries stay NaN and do not count.

    Notes
    -----
    With the ``M`` p-values sorted ascending, ``p_(i)`` becomes
    ``max_{j <= i} min(1, (M - j + 1) p_(j))``. Rejecting where the adjusted p-value is
    below ``alpha`` controls the family-wise error rate at ``alpha``.

    Examples
    --------
    >>> holm([0.01, 0.04, 0.03, 0.005]).round(4).tolist()
    [0.03, 0.06, 0.06, 0.02]
    """
    p = np.asarray(p_values, dtype=np.float64)
    out = np.full_like(p, np.nan)
    valid = np.flatnonzero(~np.isnan(p))
    order = valid[np.argsort(p[valid], kind="stable")]
    factors = len(order) - np.arange(len(order))
    out[order] = np.minimum(1.0, np.maximum.accumulate(p[order] * factors))
    return out


def _float32_keys(scores: np.ndarray) -> np.ndarray | None:
    """Unsigned 32-bit keys in the order of ``scores``, or None unless float32 holds them.

    Equal scores get equal keys (``-0.0`` and ``0.0`` too)."""
    single = scores.astype(np.float32)
    if not np.array_equal(single, scores):
        return None
    single += np.float32(0.0)  # -0.0 becomes 0.0
    key = single.view(np.uint32)
    if key.max() >> 31:  # negative floats: flip every bit; the others: set the sign bit
        key = key ^ (np.uint32(0) - (key >> 31) | np.uint32(1 << 31))
    # (probabilities, never negative, are ordered by their bits as they are)
    return key


def sort_order(scores: np.ndarray) -> np.ndarray:
    """A permutation that sorts ``scores`` ascending (ties in any order).

    Parameters
    ----------
    scores : ndarray of float, shape (n,)
        Finite values.

    Returns
    -------
    ndarray of int, shape (n,)

    Notes
    -----
    Scores that float32 holds exactly (as most models emit them) are sorted by a
    two-pass radix sort of their float32 bits, mapped to unsigned keys in the order of
    the values: two stable counting sorts of 16-bit digits. At 1e6 scores that took 24 ms
    of CPU against 74 ms for ``np.argsort`` on the build machine, whose AVX-512 sort is
    slow (``docs/performance.md``); other scores go to ``np.argsort``.

    Examples
    --------
    >>> s = np.array([0.5, 0.0, 0.25, -0.0, 1.0, -2.0])
    >>> s[sort_order(s)].tolist()
    [-2.0, 0.0, -0.0, 0.25, 0.5, 1.0]
    """
    key = _float32_keys(scores)
    if key is None:
        return np.argsort(scores)
    order = np.argsort((key & 0xFFFF).astype(np.uint16), kind="stable")
    high = (key >> 16).astype(np.uint16)
    return order[np.argsort(high[order], kind="stable")]


#: From this many samples the compiled placement kernel is used when numba is installed
#: (below it numpy is about as fast, and a comparison that small never loads numba for
#: its evaluations, where importing it costs more than the kernel saves).
COMPILED_MIN_SAMPLES = 1 << 18
#: Scores a caller should sort in all (every model's every curve) before it lets the
#: kernel run: importing numba and loading the kernel cost about 0.45 s, which the kernel
#: repays from about 16 million scores (40 ms less per million).
COMPILED_MIN_TOTAL = 1 << 24


@cache
def compiled_kernel(name: str) -> Any:
    """The numba kernel ``name`` of :mod:`lossgap.core.paired_kernels` (the placements,
    the near-threshold flips), or None without numba or with ``LOSSGAP_NUMBA=0``
    (:func:`~lossgap.core.binning.kernel_module`): the caller takes its numpy twin."""
    kernels = kernel_module("paired_kernels")
    return None if kernels is None else getattr(kernels, name)


_BUFFERS = threading.local()


def _kernel_buffers(n: int) -> tuple[np.ndarray, ...]:
    """This thread's scratch of the placement kernel (two key and two row arrays of ``n``),
    kept between calls: fresh ones would page-fault 16 MB per model at 1e6 samples."""
    buffers = getattr(_BUFFERS, "placements", None)
    if buffers is None or len(buffers[0]) != n:
        buffers = _BUFFERS.placements = (
            *(np.empty(n, np.uint32) for _ in range(2)),
            *(np.empty(n, np.int32) for _ in range(2)),
        )
    return buffers


def placement_values(
    scores: np.ndarray,
    positive: np.ndarray,
    *,
    psi: bool = False,
    out: np.ndarray | None = None,
    compiled: bool = True,
) -> np.ndarray:
    """DeLong's placement values of one score column, from one sort.

    Parameters
    ----------
    scores : ndarray of shape (n,)
    positive : ndarray of bool, shape (n,)
    psi : bool, default=False
        Divide each value by the size of its sample's side (positives or negatives):
        the binary DeLong term of :func:`auc_influence`, whose sum is twice the AUC.
    out : ndarray of float64, shape (n,), default=None
        Where to write the values.
    compiled : bool, default=True
        Whether the compiled kernel may run (below); False when the caller sorts too few
        scores in all (:data:`COMPILED_MIN_TOTAL`) to repay importing numba.

    Returns
    -------
    ndarray of shape (n,)
        For a positive: the share of negatives scored below it (ties count 1/2),
        ``V10``; for a negative: the share of positives scored above it, ``V01``. The
        mean of ``V10`` over positives (and of ``V01`` over negatives) is the ROC AUC.

    Notes
    -----
    From :data:`COMPILED_MIN_SAMPLES` float32-exact scores on, with numba installed
    (``LOSSGAP_NUMBA=0`` turns it off), a compiled kernel sorts them by three 11-bit
    radix passes that carry each key with its row and walks the runs of equal keys once:
    18 ms at 1e6 scores against 57 ms for the numpy path below, with the same doubles
    (every value is an exact numerator divided by the same counts in the same order).

    Examples
    --------
    >>> placement_values(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1], bool))
    array([1. , 0.5, 0.5, 1. ])
    """
    n = len(scores)
    n_pos = int(np.count_nonzero(positive))
    n_neg = n - n_pos
    if out is None:
        out = np.empty(n)
    large = COMPILED_MIN_SAMPLES <= n < 1 << 30
    kernel = compiled_kernel("placements") if compiled and large else None
    if kernel is not None and kernel(scores, positive, n_pos, psi, out, *_kernel_buffers(n)):
        return out
    order = sort_order(scores)
    ordered = scores[order]
    is_pos = positive[order]
    new_group = np.empty(n, dtype=bool)
    new_group[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=new_group[1:])
    pos_upto = np.cumsum(is_pos)
    with np.errstate(divide="ignore", invalid="ignore"):
        # each score on its own: the counts below and above are plain cumsums (written in
        # place: each fresh 8 MB temporary costs page faults at 1e6 samples)
        placed = np.arange(1.0, n + 1.0)
        placed -= pos_upto
        placed /= n_neg
        above = np.subtract(n_pos, pos_upto, dtype=np.float64)
        above /= n_pos
        np.copyto(placed, above, where=~is_pos)
        if not new_group.all():
            # runs of equal scores (few for continuous scores): every member takes the
            # run's placement, ties counting one half
            tied = ~new_group
            tied[:-1] |= tied[1:]
            rows = np.flatnonzero(tied)
            first = new_group[rows]
            starts = rows[first]
            sizes = np.diff(np.flatnonzero(first), append=len(rows))
            pos_before = pos_upto[starts] - is_pos[starts]
            pos_in = pos_upto[starts + sizes - 1] - pos_before
            v10 = (starts - pos_before + 0.5 * (sizes - pos_in)) / n_neg
            v01 = (n_pos - pos_before - pos_in + 0.5 * pos_in) / n_pos
            placed[rows] = np.where(is_pos[rows], np.repeat(v10, sizes), np.repeat(v01, sizes))
        if psi:
            placed /= np.where(is_pos, n_pos, n_neg)
    out[order] = placed
    return out


@dataclass(frozen=True)
class AucColumn:
    """One ROC curve behind a model's AUC: the scores of ``target`` against the rest."""

    target: int
    weight: float


def auc_influence(
    columns: Sequence[np.ndarray],
    y: np.ndarray,
    curves: Sequence[AucColumn],
    *,
    out: np.ndarray | None = None,
    compiled: bool = True,
) -> np.ndarray:
    """Per-sample DeLong terms of one model's (macro) ROC AUC.

    Parameters
    ----------
    columns : sequence of ndarray of shape (n,)
        The model's score of each curve, in the order of ``curves``.
    y : ndarray of int, shape (n,)
        True class index of each sample.
    curves : sequence of AucColumn
        Binary: one curve (positive class 1, weight 1). Multiclass one-vs-rest macro:
        one curve per class, weight ``1 / k``.
    out : ndarray of float64, shape (n,), default=None
        Where to write the terms.
    compiled : bool, default=True
        As in :func:`placement_values`.

    Returns
    -------
    ndarray of shape (n,)
        ``psi_i = sum_c w_c V_c(i) / n_c(i)`` where ``n_c(i)`` is the size of sample
        ``i``'s side of curve ``c`` (its positives or its negatives) and ``V_c(i)`` its
        placement value. ``sum_i psi_i`` is twice the (macro) AUC.

    Notes
    -----
    Each AUC is a U-statistic in the samples of each class, so the macro AUC ``theta``
    satisfies ``theta_hat - theta ~= sum_i (psi_i - E psi_i)``, the expectation taken
    within sample ``i``'s class. The DeLong estimate of the covariance of several
    models' AUCs is therefore ``sum_s n_s Cov_s(psi)``: the within-class sample
    covariances (``n_s - 1`` degrees of freedom) weighted by the class sizes. For binary
    labels this is DeLong's ``S10 / n1 + S01 / n0`` exactly.

    Examples
    --------
    >>> y = np.array([0, 0, 1, 1])
    >>> psi = auc_influence([np.array([0.1, 0.4, 0.35, 0.8])], y, [AucColumn(1, 1.0)])
    >>> float(psi.sum() / 2)  # the ROC AUC
    0.75
    """
    n = len(y)
    if len(curves) == 1 and curves[0].weight == 1.0:  # binary: psi itself, in one pass
        positive = y == curves[0].target
        return placement_values(columns[0], positive, psi=True, out=out, compiled=compiled)
    if out is None:
        out = np.zeros(n)
    else:
        out.fill(0.0)
    for scores, curve in zip(columns, curves, strict=True):
        positive = y == curve.target
        n_pos = int(positive.sum())
        placed = placement_values(scores, positive, compiled=compiled)
        side = np.where(positive, n_pos, n - n_pos)
        with np.errstate(divide="ignore", invalid="ignore"):
            out += curve.weight * placed / side
    return out


def delong_covariance(influence: np.ndarray, y: np.ndarray) -> np.ndarray:
    """DeLong's covariance matrix of several models' (macro) ROC AUCs.

    Parameters
    ----------
    influence : ndarray of shape (m, n)
        One row per model, from :func:`auc_influence`.
    y : ndarray of int, shape (n,)
        True class index of each sample (the strata). When the samples are grouped by
        class (``y`` sorted), each class is read as one slice of ``influence`` rather than
        gathered: 0.7 s less at 50 models x 1e6, the same doubles.

    Returns
    -------
    ndarray of shape (m, m)
        ``sum_s n_s Cov_s(psi)`` over the classes ``s`` (see :func:`auc_influence`); its
        diagonal is each model's AUC variance (binary: DeLong's ``S10 / n1 + S01 / n0``).
        NaN where a class has fewer than 2 samples.

    Examples
    --------
    >>> y = np.array([0, 0, 1, 1])
    >>> psi = auc_influence([np.array([0.1, 0.4, 0.35, 0.8])], y, [AucColumn(1, 1.0)])
    >>> delong_covariance(psi[None, :], y).round(6).tolist()
    [[0.125]]
    """
    m = influence.shape[0]
    cov = np.zeros((m, m))
    grouped = len(y) > 0 and bool((y[1:] >= y[:-1]).all())
    edges = [0, *(np.flatnonzero(y[1:] != y[:-1]) + 1), len(y)] if grouped else []
    for i, s in enumerate(np.unique(y)):
        _, cross, count = (
            centered_cross_products(influence[:, edges[i] : edges[i + 1]])
            if grouped
            else centered_cross_products(influence, samples=np.flatnonzero(y == s))
        )
        cov += cross * count / (count - 1) if count > 1 else np.nan
    return cov


def delong_difference(
    influence: np.ndarray,
    y: np.ndarray,
    pairs: np.ndarray,
    *,
    confidence: float = 0.95,
    cov: np.ndarray | None = None,
    auc: np.ndarray | None = None,
) -> Interval:
    """DeLong's paired test and interval for differences of (macro) ROC AUCs.

    Parameters
    ----------
    influence : ndarray of shape (m, n)
        One row per model, from :func:`auc_influence`.
    y : ndarray of int, shape (n,)
        True class index of each sample (the strata).
    pairs : ndarray of int, shape (p, 2)
    confidence : float, default=0.95
    cov : ndarray of shape (m, m), default=None
        :func:`delong_covariance` of ``influence`` and ``y`` when the caller has it.
    auc : ndarray of shape (m,), default=None
        Each model's AUC (half the sum of its row of ``influence``) when the caller has it.

    Returns
    -------
    Interval
        The AUC differences ``theta_a - theta_b``, normal intervals and two-sided
        p-values of ``z = diff / sqrt(var)``; NaN where a class has fewer than 2 samples.
    """
    if cov is None:
        cov = delong_covariance(influence, y)
    # Each side of each curve sums to w_c AUC_c, so all samples together give 2 theta.
    theta = influence.sum(axis=1) / 2.0 if auc is None else auc
    a, b = pairs[:, 0], pairs[:, 1]
    d = theta[a] - theta[b]
    se = np.sqrt(pair_variances(cov, pairs))
    z = z_value(confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(se > 0, 2.0 * special.ndtr(-np.abs(d) / se), np.where(d == 0, 1.0, 0.0))
    p = np.where(np.isnan(d) | np.isnan(se), np.nan, p)
    return Interval(d, np.maximum(d - z * se, -1.0), np.minimum(d + z * se, 1.0), p)

"""Intervals for every metric, each with its method named.

* ``wilson``: Wilson score interval for proportions (accuracy; binary precision and recall),
  with Kish's effective sample size under weights.

Weights are importance weights whose scale carries no information: every interval and test
reads them through Kish's effective sample size ``n_eff = (sum w)^2 / sum w^2``, so
multiplying all weights by a constant changes no interval (:func:`effective_scale` turns
weights into effective counts).
* ``delong``: DeLong's variance of the binary ROC AUC, computed from the score table's
  placement values (ties count one half).
* ``wald``: from the inverse Fisher information of the logistic recalibration fit
  (calibration slope and intercept).
* ``bootstrap``: a seeded, vectorised Poisson bootstrap (:mod:`lossgap.core.bootstrap`) for the
  rest, percentile intervals of the replicates shifted onto the point estimate.

References
----------
Wilson, E. B. (1927). Probable inference, the law of succession, and statistical inference.
JASA 22(158). https://doi.org/10.1080/01621459.1927.10502953

DeLong, E. R., DeLong, D. M., & Clarke-Pearson, D. L. (1988). Comparing the areas under two
or more correlated receiver operating characteristic curves. Biometrics 44(3).
https://doi.org/10.2307/2531595
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.special import ndtri

from lossgap.core.binning import kernel_module
from lossgap.core.metrics import cumulative_sum
from lossgap.core.tally import ScoreTable, Tally

#: Two-sided 95 % normal quantile, for sampling noise.
Z95 = 1.959963984540054


@lru_cache(maxsize=16)
def z_value(confidence: float) -> float:
    """Two-sided normal quantile for ``confidence`` (1.959... for 0.95).

    ``ndtri`` is what ``scipy.stats.norm.ppf`` computes, without importing
    ``scipy.stats`` (0.45 s of every command's start). Kept per confidence: an evaluation
    asks a dozen times for the same one.
    """
    return float(ndtri(0.5 + confidence / 2))


#: Each thread's generators that :func:`seeded` sets to a seed's state, one per slot, and
#: the states by seed.
_SEEDED = threading.local()


def seeded(seed: int | tuple[int, ...], slot: str) -> np.random.Generator:
    """``np.random.default_rng(seed)``'s generator state on this thread's generator of
    ``slot``, for its draws before the next call of the slot in this thread: the same
    state, so the same draws, without building a SeedSequence and a PCG64 at each call (5
    to 10 us alone, about 20 inside an evaluation; an evaluation draws from four). Each
    caller names its own slot, so a generator still drawing (the bootstrap's) is not reset
    under it by another caller's seeding.

    Examples
    --------
    >>> a = seeded(3, "example").integers(0, 100, 4)
    >>> a.tolist() == np.random.default_rng(3).integers(0, 100, 4).tolist()
    True
    """
    states = getattr(_SEEDED, "states", None)
    if states is None or len(states) > 16:
        states = _SEEDED.states = {}
        _SEEDED.generators = {}
    state = states.get(seed)
    if state is None:
        state = states[seed] = np.random.default_rng(seed).bit_generator.state
    generator: np.random.Generator | None = _SEEDED.generators.get(slot)
    if generator is None:
        generator = _SEEDED.generators[slot] = np.random.default_rng()
    generator.bit_generator.state = state
    return generator


def quantiles(
    values: np.ndarray, q: Sequence[float], columns: Sequence[int] | np.ndarray | None = None
) -> np.ndarray:
    """``np.quantile(values, q, axis=0)`` (its default method, ``"linear"``), of
    ``values[:, columns]`` where ``columns`` (indices of a 2-D ``values``) are given: the
    same doubles, without numpy's checks and dispatch (several times the work on the few
    hundred replicates of a bootstrap, a dozen calls an evaluation).

    numpy's steps: the virtual index ``(n - 1) q``, the two order statistics beside it
    (the last one past its end) by a partial sort, ``a + (b - a) t`` below ``t = 1/2`` and
    ``b - (b - a)(1 - t)`` from it (its ``_lerp``), NaN for a column holding a NaN.
    Equal to numpy's on every value (tested); ``values`` is left as it was.

    With numba (:func:`~lossgap.core.binning.kernel_module`), columns of doubles whose order
    statistics lie within :data:`_NEAR_END` of the ends (the 2.5 %, 5 % and 97.5 %
    quantiles of 200 replicates) are read in a compiled pass over the rows per end,
    keeping each column's least (or greatest) values, without copying the columns taken
    (numpy's partition is the twin): the same values, but for a zero's sign where a column
    holds both signed zeros (either is the order statistic).

    Examples
    --------
    >>> quantiles(np.array([3.0, 1.0, 2.0, 10.0]), [0.0, 0.5, 0.9]).tolist()
    [1.0, 2.5, 7.900000000000001]
    """
    if columns is not None and values.dtype != np.float64:
        values, columns = values[:, columns], None
    n = len(values)
    virtual = [(n - 1) * float(p) for p in q]
    below = [n - 1 if v >= n - 1 else int(math.floor(v)) for v in virtual]
    above = [min(b + 1, n - 1) for b in below]
    kth = sorted({*below, *above})
    # the order statistics from each end: those among its _NEAR_END values
    low_end = [k for k in kth if k < min(_NEAR_END, n - _NEAR_END)]
    high_end = [k for k in kth if k >= max(n - _NEAR_END, _NEAR_END)]
    kernels = (
        kernel_module("bootstrap_kernels")
        if values.ndim == 2 and values.dtype == np.float64
        and len(low_end) + len(high_end) == len(kth)
        else None
    )
    if kernels is not None:
        # the order statistics alone, a column's NaN written into them (a NaN stays NaN)
        taken = np.arange(values.shape[1]) if columns is None else np.asarray(columns, np.intp)
        ordered: Any = {}
        if low_end:
            found = kernels.least_values(values, taken, low_end[-1] + 1, False)
            ordered.update((k, found[k]) for k in low_end)
        if high_end:
            found = kernels.least_values(values, taken, n - high_end[0], True)
            ordered.update((k, -found[n - 1 - k]) for k in high_end)
        shape: tuple[int, ...] = (len(taken),)
    elif values.ndim == 1 and values.dtype == np.float64:
        return _quantiles_of_row(np.partition(values, sorted({0, n - 1, *kth})), virtual, below)
    else:
        if columns is not None:
            values = values[:, columns]
        shape = values.shape[1:]
        ordered = np.partition(values, sorted({0, n - 1, *kth}), axis=0)
    out = np.empty((len(q), *shape))
    for i, (v, b, a) in enumerate(zip(virtual, below, above, strict=True)):
        out[i] = _lerp(ordered[b], ordered[a], v - b)
    if kernels is None and np.issubdtype(values.dtype, np.inexact):
        out[:, np.isnan(ordered[n - 1])] = np.nan  # numpy sorts NaN last
    return out


def _quantiles_of_row(ordered: np.ndarray, virtual: list[float], below: list[int]) -> np.ndarray:
    """:func:`quantiles`' interpolation of one row of doubles partitioned at its order
    statistics and its last value, in Python floats: the same operations on the same
    doubles as on numpy's scalars, without their dispatch (the eight 1-D calls of an
    evaluation at 1e3: 162 -> 102 us)."""
    n = len(ordered)
    if ordered[n - 1] != ordered[n - 1]:  # numpy sorts NaN last
        return np.full(len(virtual), np.nan)
    out = []
    for v, b in zip(virtual, below, strict=True):
        out.append(_lerp(float(ordered[b]), float(ordered[min(b + 1, n - 1)]), v - b))
    return np.array(out)


def _lerp(low: Any, high: Any, t: float) -> Any:
    """numpy's ``_lerp`` of :func:`np.quantile`: ``low + (high - low) t`` below ``t = 1/2``,
    ``high - (high - low)(1 - t)`` from it, on arrays or Python floats alike (the same
    operations, so the same doubles)."""
    gap = high - low
    return low + gap * t if t < 0.5 else high - gap * (1 - t)


#: The most values from an end that :func:`quantiles` keeps per column in a compiled
#: pass (:func:`~lossgap.core.bootstrap_kernels.least_values`), rather than numpy's
#: partition: a 5 % quantile of 200 replicates needs 11; each insertion moves up to this
#: many values. Within the first half from each end (an order statistic from one end).
_NEAR_END = 32


def effective_n(tally: Tally) -> float:
    """Kish's effective sample size ``W^2 / sum w^2`` (the count when unweighted)."""
    return tally.weight**2 / tally.weight_sq


def effective_scale(tally: Tally) -> float:
    """Factor that turns the Tally's weights into effective counts: ``n_eff / sum w``.

    1 for unweighted data; weights multiplied by ``c`` get a factor divided by ``c``, so
    weights times this factor are the same whatever the weights' scale.

    Examples
    --------
    >>> import numpy as np
    >>> from lossgap import Predictions
    >>> y, p = np.array([0, 1, 1, 0]), np.array([0.2, 0.7, 0.6, 0.4])
    >>> t1 = Tally.from_predictions(Predictions(y, p, sample_weight=np.ones(4)))
    >>> t5 = Tally.from_predictions(Predictions(y, p, sample_weight=np.full(4, 5.0)))
    >>> effective_scale(t1), effective_scale(t5)
    (1.0, 0.2)
    """
    return effective_n(tally) / tally.weight


def wilson(share: npt.ArrayLike, n: npt.ArrayLike, confidence: float) -> tuple[Any, Any]:
    """Wilson score interval of a proportion ``share`` observed on ``n`` samples.

    Vectorised: arrays in, arrays out (floats for scalars); NaN where ``n <= 0``.

    Notes
    -----
    ``(p + z^2 / 2n +- z sqrt(p (1 - p) / n + z^2 / 4n^2)) / (1 + z^2 / n)``, clipped to
    [0, 1].

    Examples
    --------
    >>> lo, hi = wilson(94 / 108, 108, 0.95)
    >>> round(lo, 4), round(hi, 4)
    (0.7941, 0.9212)
    """
    z2 = z_value(confidence) ** 2
    if isinstance(share, float | int | np.number) and isinstance(n, float | int | np.number):
        try:
            return _scalar_wilson(float(share), float(n), z2)
        except (ZeroDivisionError, ValueError):  # numpy's infinities and NaN, below
            pass
    p = np.asarray(share, dtype=np.float64)
    size = np.asarray(n, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        denom = 1 + z2 / size
        centre = (p + z2 / (2 * size)) / denom
        half = np.sqrt(z2 * p * (1 - p) / size + z2 * z2 / (4 * size**2)) / denom
    low = np.where(size > 0, np.clip(centre - half, 0.0, 1.0), np.nan)
    high = np.where(size > 0, np.clip(centre + half, 0.0, 1.0), np.nan)
    if low.ndim == 0:
        return float(low), float(high)
    return low, high


def _scalar_wilson(p: float, size: float, z2: float) -> tuple[float, float]:
    """:func:`wilson` of one proportion in Python floats: numpy's operations on 0-d
    arrays, the same doubles (``size**2`` is numpy's square, ``size * size``; square roots
    and the four operations are correctly rounded either way; tested), at a tenth of the
    cost (12 us a call, five an evaluation). Raises where numpy would give an infinity or
    a NaN by dividing by 0 or by a negative square root (the caller then takes numpy's)."""
    if not size > 0:
        return math.nan, math.nan
    denom = 1 + z2 / size
    centre = (p + z2 / (2 * size)) / denom
    half = math.sqrt(z2 * p * (1 - p) / size + z2 * z2 / (4 * (size * size))) / denom
    low, high = centre - half, centre + half
    # np.clip: NaN stays NaN, else maximum then minimum (the first of equal values)
    return (
        low if low != low else min(max(low, 0.0), 1.0),
        high if high != high else min(max(high, 0.0), 1.0),
    )


def delong_variance(table: ScoreTable, scale: float = 1.0) -> float:
    """DeLong's variance of the ROC AUC of one score table.

    ``scale`` turns the table's weights into effective counts (:func:`effective_scale`).
    Each positive's placement is the share of negatives scored below it (ties one half), each
    negative's the share of positives scored above it; the AUC variance is the variance of the
    positives' placements over their count plus that of the negatives'.

    The placements' running sums by :func:`~lossgap.core.metrics.cumulative_sum`, the
    rest in place (four arrays of the table's length instead of fourteen): the same
    doubles (tested), a table of 1e5 rows 0.9 -> 0.3 ms.

    Examples
    --------
    >>> t = ScoreTable.from_samples(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1]), None)
    >>> round(delong_variance(t), 6)
    0.125
    """
    w_neg, w_pos = table.weights[:, 0] * scale, table.weights[:, 1] * scale
    neg_total, pos_total = w_neg.sum(), w_pos.sum()
    if neg_total <= 0 or pos_total <= 0:
        return float("nan")
    # in place: numpy's doubles of the expressions in the comments
    v_pos = cumulative_sum(w_neg)  # negatives strictly below each distinct score: less w_neg
    v_pos -= w_neg
    half = np.multiply(w_neg, 0.5)
    v_pos += half  # neg_below + 0.5 * w_neg
    v_neg = cumulative_sum(w_pos)
    np.subtract(pos_total, v_neg, out=v_neg)  # positives strictly above
    np.multiply(w_pos, 0.5, out=half)
    v_neg += half  # pos_above + 0.5 * w_pos
    v_pos /= neg_total  # a positive's placement
    v_neg /= pos_total  # a negative's
    auc = (w_pos @ v_pos) / pos_total
    var_pos = var_neg = 0.0
    if pos_total > 1:  # (v - auc) ** 2 is numpy's (v - auc) * (v - auc)
        v_pos -= auc
        v_pos *= v_pos
        var_pos = (w_pos @ v_pos) / (pos_total - 1)
    if neg_total > 1:
        v_neg -= auc
        v_neg *= v_neg
        var_neg = (w_neg @ v_neg) / (neg_total - 1)
    return float(var_pos / pos_total + var_neg / neg_total)


def delong_interval(
    table: ScoreTable, auc: float, confidence: float, scale: float = 1.0
) -> tuple[float, float]:
    """Normal interval for the AUC with DeLong's variance, clipped to [0, 1]."""
    half = z_value(confidence) * np.sqrt(delong_variance(table, scale))
    return float(max(0.0, auc - half)), float(min(1.0, auc + half))


def wald_interval(value: float, variance: float, confidence: float) -> tuple[float, float]:
    """``value +- z sqrt(variance)``."""
    half = z_value(confidence) * np.sqrt(max(variance, 0.0))
    return float(value - half), float(value + half)

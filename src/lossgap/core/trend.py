"""Curves under noise: smoothing, trend tests, noise levels, validation-set sizes.

A validation curve is a trend plus epoch-to-epoch noise (a finite validation set,
stochastic training). Nothing here trusts a single epoch:

* :func:`smooth` is a running median (which removes one-epoch spikes) followed by a
  running mean, both with the window of :func:`window`;
* :func:`trend` is the Mann-Kendall test (Kendall's tau between the epoch and the
  values, :func:`kendall`) with the Theil-Sen slope (:func:`theil_sen`), robust to
  outliers and to the curve's shape; both take O(n log^2 n) time at most and O(n)
  memory, so a million-epoch log is analysed in seconds;
* :func:`noise_sd` is the spread of the epoch-to-epoch differences, robustly estimated;
* :func:`granularity_n` recovers the size of the validation set from accuracies that
  are fractions k/n.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy.special import ndtr, ndtri

#: Fewest points for a trend test (Mann-Kendall on 5 points reaches p = 0.017).
MIN_TREND_POINTS = 5
#: Significance level of the trend tests ("rising", "flat", "falling"); not the rule book's
#: ALPHA, which is the level of the findings' tests against calibration.
TREND_ALPHA = 0.05
#: Largest smoothing window.
MAX_WINDOW = 21
#: Consistency scale of the median absolute deviation for a normal distribution.
MAD_SCALE = 1.482602218505602


def window(n: int) -> int:
    """The smoothing window for ``n`` points: odd, about a tenth of the run, 3 to 21.

    Examples
    --------
    >>> [window(n) for n in (3, 5, 17, 41, 166, 400)]
    [1, 3, 3, 5, 17, 21]
    """
    if n < MIN_TREND_POINTS:
        return 1
    return int(min(MAX_WINDOW, max(3, 2 * (n // 20) + 1)))


def smooth(values: np.ndarray, size: int | None = None) -> np.ndarray:
    """Running median then running mean, each over ``size`` points (edges held).

    Parameters
    ----------
    values : ndarray of shape (n,)
        Finite values in epoch order.
    size : int, optional
        Odd window; default :func:`window`.

    Returns
    -------
    ndarray of shape (n,)

    Notes
    -----
    The median removes spikes shorter than half the window (one bad epoch); the mean
    then removes the median's staircase. This is Tukey's "median then hanning" idea
    with a flat second pass.

    Examples
    --------
    >>> smooth(np.array([1.0, 1.0, 9.0, 1.0, 1.0]), 3).tolist()
    [1.0, 1.0, 1.0, 1.0, 1.0]
    """
    values = np.asarray(values, dtype=np.float64)
    size = window(values.size) if size is None else size
    if size <= 1:
        return values.copy()
    # the windows of scipy.ndimage's median_filter and uniform_filter1d with
    # mode="nearest" (the edge values repeated), without importing scipy.ndimage (0.13 s
    # of every `lossgap history`): the same medians, and means within a few ulps
    # (size is odd: the median is the middle order statistic, which a partition finds
    # five times faster than np.median at a million points)
    median = np.partition(_windows(values, size), size // 2, axis=1)[:, size // 2]
    return _windows(median, size).mean(axis=1)


def _windows(values: np.ndarray, size: int) -> np.ndarray:
    """The ``size`` values centred on each value, the edge values repeated: ``(n, size)``."""
    return sliding_window_view(np.pad(values, size // 2, mode="edge"), size)


@dataclass(frozen=True)
class Trend:
    """A Mann-Kendall trend test.

    Attributes
    ----------
    tau : float
        Kendall's tau between position and value (-1 falling ... 1 rising).
    p_value : float
        Two-sided p-value of no trend.
    slope : float
        Theil-Sen slope per unit of ``x``.
    direction : str
        ``"rising"`` or ``"falling"`` when ``p_value < TREND_ALPHA``, else ``"flat"``.
    """

    tau: float
    p_value: float
    slope: float
    direction: str


def trend(x: np.ndarray, y: np.ndarray, *, alpha: float = TREND_ALPHA) -> Trend:
    """Mann-Kendall test of a monotone trend in ``y`` along ``x``, with its Theil-Sen slope.

    The test's variance is widened for lag-1 autocorrelation of the residuals around the
    Theil-Sen line (:func:`autocorrelation_inflation`, Yue & Wang's effective sample
    size), so AR(1) noise with phi = 0.5 does not read as a trend.

    Parameters
    ----------
    x, y : ndarray of shape (n,)
        Positions and finite values, n >= 2.
    alpha : float, default=0.05

    Returns
    -------
    Trend

    References
    ----------
    Mann, H. B. (1945). Nonparametric tests against trend. Econometrica 13(3), 245-259.
    https://doi.org/10.2307/1907187

    Yue, S., & Wang, C. (2004). The Mann-Kendall test modified by effective sample size to
    detect trend in serially correlated hydrological series. Water Resources Management
    18, 201-218. https://doi.org/10.1023/B:WARM.0000043140.61082.60

    Sen, P. K. (1968). Estimates of the regression coefficient based on Kendall's tau.
    JASA 63(324), 1379-1389. https://doi.org/10.1080/01621459.1968.10480934

    Examples
    --------
    >>> t = trend(np.arange(6.0), np.array([1.0, 1.2, 1.1, 1.5, 1.6, 1.9]))
    >>> t.direction, round(t.tau, 3), round(t.slope, 3)
    ('rising', 0.867, 0.175)
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if np.ptp(y) == 0:
        return Trend(0.0, 1.0, 0.0, "flat")
    tau, p_value = kendall(x, y)
    slope, intercept = theil_sen(x, y)
    # autocorrelated noise (consecutive epochs share batches, learning-rate phases) inflates
    # the Mann-Kendall variance: widen it by the AR(1) effective-size factor of the residuals
    inflation = autocorrelation_inflation(y - intercept - slope * x)
    if inflation > 1.0 and np.isfinite(p_value):
        z = -float(ndtri(p_value / 2)) / np.sqrt(inflation)  # scipy.stats.norm.isf
        p_value = float(2 * ndtr(-z))  # twice scipy.stats.norm.sf
    direction = "flat"
    if p_value < alpha:
        direction = "rising" if tau > 0 else "falling"
    return Trend(tau, p_value, slope, direction)


def kendall(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Kendall's tau-b of ``x`` and ``y`` and the two-sided p-value of no association.

    Parameters
    ----------
    x, y : ndarray of shape (n,)
        Finite values.

    Returns
    -------
    tau, p_value : float
        The doubles of :func:`scipy.stats.kendalltau` (its defaults: tau-b, the exact
        null distribution without ties up to 33 points or when at most one pair is
        discordant or concordant, else the normal approximation with the tie-corrected
        variance); NaN, NaN when fewer than two points or every pair is tied in one of
        them. Without importing scipy.stats (0.3 s of every ``lossgap history``).

    Notes
    -----
    With both sorted by ``x`` (then ``y``), the discordant pairs are the inversions of
    ``y``'s ranks (:func:`_inversions`); the concordant less discordant pairs follow from
    them and the ties, ``C - D = n0 - Tx - Ty + Txy - 2 D`` over the ``n0`` pairs.

    Examples
    --------
    >>> kendall(np.array([12.0, 2, 1, 12, 2]), np.array([1.0, 4, 7, 1, 0]))
    (-0.4714045207910316, 0.28274545993277467)
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    n = x.size
    if n < 2:
        return float("nan"), float("nan")
    # dense ranks of y; then sorted by x (stably: ties in x keep y ascending), x's ranks
    order = np.argsort(y)
    x, y = x[order], _dense_ranks(y[order])
    order = np.argsort(x, kind="stable")
    x, y = _dense_ranks(x[order]), y[order]
    discordant = _inversions(y)
    runs = np.flatnonzero(np.r_[True, (x[1:] != x[:-1]) | (y[1:] != y[:-1]), True])
    joint = np.diff(runs)
    joint_ties = int((joint * (joint - 1) // 2).sum())
    x_ties, x0, x1 = _tie_sums(x)
    y_ties, y0, y1 = _tie_sums(y)
    pairs = n * (n - 1) // 2
    if x_ties == pairs or y_ties == pairs:
        return float("nan"), float("nan")
    difference = pairs - x_ties - y_ties + joint_ties - 2 * discordant
    tau = difference / np.sqrt(pairs - x_ties) / np.sqrt(pairs - y_ties)
    tau = float(min(1.0, max(-1.0, tau)))
    if x_ties == 0 and y_ties == 0 and (n <= 33 or min(discordant, pairs - discordant) <= 1):
        return tau, _kendall_p_exact(n, pairs - discordant)
    m = n * (n - 1.0)
    var = (m * (2 * n + 5) - x1 - y1) / 18 + (2 * x_ties * y_ties) / m + x0 * y0 / (9 * m * (n - 2))
    return tau, float(2 * ndtr(-abs(difference / np.sqrt(var))))


def _dense_ranks(sorted_values: np.ndarray) -> np.ndarray:
    """1, 2, ... along sorted values, equal values sharing a rank."""
    return np.r_[True, sorted_values[1:] != sorted_values[:-1]].cumsum(dtype=np.intp)


def _tie_sums(ranks: np.ndarray) -> tuple[int, int, int]:
    """Over the groups of ``t > 1`` equal ranks: the sums of ``t (t - 1) / 2``,
    ``t (t - 1) (t - 2)`` and ``t (t - 1) (2 t + 5)`` (the variance's tie terms)."""
    t = np.bincount(ranks).astype(np.int64)
    t = t[t > 1]
    return (
        int((t * (t - 1) // 2).sum()),
        int((t * (t - 1.0) * (t - 2)).sum()),
        int((t * (t - 1.0) * (2 * t + 5)).sum()),
    )


def _inversions(ranks: np.ndarray) -> int:
    """Pairs ``i < j`` with ``ranks[i] > ranks[j]``, for ranks in ``[0, n]``.

    A bottom-up merge sort by levels, each level in whole-array operations: with runs of
    ``width`` sorted values, each right run's values count the greater values of the run
    to their left (one ``searchsorted`` of keys ``block * (n + 1) + rank``, which the left
    runs keep globally sorted), then each pair of runs is merged (a stable sort of the
    keys, which finds the two runs). O(n log^2 n) at worst; 0.2 s at a million points.

    Examples
    --------
    >>> _inversions(np.array([3, 1, 2, 0]))  # (3, 1), (3, 2), (3, 0), (1, 0), (2, 0)
    5
    """
    n = ranks.size
    values = ranks.astype(np.int64)
    position = np.arange(n)
    inversions, width = 0, 1
    while width < n:
        block = position // (2 * width)
        keys = block * (n + 1) + values
        left = (position // width) % 2 == 0
        left_keys, right_keys = keys[left], keys[~left]
        # the left runs before a right value's, and its own, hold (block + 1) * width
        # values: every one of a full left run less those up to the right value
        ends = (block[~left] + 1) * width
        inversions += int((ends - np.searchsorted(left_keys, right_keys, side="right")).sum())
        values = np.sort(keys, kind="stable") - block * (n + 1)
        width *= 2
    return inversions


def _kendall_p_exact(n: int, concordant: int) -> float:
    """The two-sided p-value of ``concordant`` pairs among ``n`` untied points under
    independence: Kendall's exact distribution, as scipy computes it (Kendall, *Rank
    Correlation Methods*, 1970), by a recurrence over the points up to 33 of them and
    in closed form for 0 or 1 pairs out of order."""
    pairs = n * (n - 1) // 2
    c = min(concordant, pairs - concordant)
    if n <= 2:
        return 1.0
    if c == 0:
        return 2.0 / math.factorial(n) if n < 171 else 0.0
    if c == 1:
        return 2.0 / math.factorial(n - 1) if n < 172 else 0.0
    if 4 * c == n * (n - 1):
        return 1.0
    # counts of permutations of j points with 0..c pairs out of order, j = 2..n
    counts = np.zeros(c + 1)
    counts[0:2] = 1.0
    for j in range(3, n + 1):
        counts = np.cumsum(counts)
        if j <= c:
            counts[j:] -= counts[: c + 1 - j]
    return float(np.clip(2.0 * np.sum(counts) / math.factorial(n), 0, 1))


#: Up to this many points the Theil-Sen slope is the median of every pair's slope
#: (n (n - 1) / 2 of them: 2 million at 2,000 points, about 16 MB); beyond, of
#: :data:`THEIL_SEN_PAIRS` pairs drawn at random.
THEIL_SEN_EXACT_POINTS = 2000
#: Pairs drawn for the Theil-Sen slope of a longer curve. The median of m random pair
#: slopes lies, with 95% probability, between the ``0.5 - 0.98 / sqrt(m)`` and
#: ``0.5 + 0.98 / sqrt(m)`` quantiles of all pair slopes: within 0.1 percentage points of
#: the exact median's rank for m = 10**6.
THEIL_SEN_PAIRS = 1_000_000


def theil_sen(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """The Theil-Sen line: the median slope over pairs of points, and its intercept.

    Parameters
    ----------
    x, y : ndarray of shape (n,)
        Positions and finite values, n >= 2, with at least two distinct positions.

    Returns
    -------
    slope, intercept : float
        ``slope`` is the median of ``(y_j - y_i) / (x_j - x_i)`` over pairs with
        ``x_i != x_j``; ``intercept = median(y) - slope * median(x)``, as
        :func:`scipy.stats.theilslopes` gives them.

    Notes
    -----
    Every pair is used up to :data:`THEIL_SEN_EXACT_POINTS` points (the result equals
    scipy's). A longer curve would need n^2 / 2 slopes (a 16,000-epoch log: 1.8 GB), so
    the median is taken over :data:`THEIL_SEN_PAIRS` pairs drawn with a fixed seed: the
    same curve always gives the same slope, and its rank among all pair slopes is within
    ``0.98 / sqrt(m)`` of one half with 95% probability (the sample median's binomial
    bound). Time and memory are then O(m), whatever n.

    Examples
    --------
    >>> theil_sen(np.arange(5.0), np.array([0.0, 1.0, 2.0, 3.0, 40.0]))
    (1.0, 0.0)
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    n = x.size
    if n <= THEIL_SEN_EXACT_POINTS:
        i, j = np.triu_indices(n, k=1)
    else:
        rng = np.random.default_rng(0)
        i = rng.integers(0, n, THEIL_SEN_PAIRS)
        j = rng.integers(0, n - 1, THEIL_SEN_PAIRS)
        j += j >= i  # a second, different point: uniform over ordered pairs
    dx = x[j] - x[i]
    keep = dx != 0
    slope = float(np.median((y[j] - y[i])[keep] / dx[keep]))
    return slope, float(np.median(y) - slope * np.median(x))


def hinge_point(x: np.ndarray, y: np.ndarray, *, min_after: int = MIN_TREND_POINTS) -> int | None:
    """Where a curve turns upwards: the knot of the best broken line through it.

    Parameters
    ----------
    x, y : ndarray of shape (n,)
        Increasing positions and finite values.
    min_after : int, default=MIN_TREND_POINTS
        Fewest points after the knot.

    Returns
    -------
    int or None
        The index ``b`` of the continuous two-segment line
        ``a + c1 x + c2 max(0, x - x_b)`` that fits ``y`` best by least squares among those
        rising after the knot (``c2 > 0`` and ``c1 + c2 > 0``); None when no knot leaves
        ``min_after`` points or no such line exists.

    Notes
    -----
    The slope before the knot is free, so a loss still falling slowly into its minimum does
    not drag the knot later. Every knot is scored in one pass: the sums of the hinge
    regressor over the points after ``b`` come from suffix cumulative sums, so the fit over
    all knots is O(n). Least squares weighs every point alike, so autocorrelated noise
    moves the knot far less than it moves the first point a running test calls significant.

    Examples
    --------
    >>> x = np.arange(60.0)
    >>> hinge_point(x, 1.0 - 0.002 * x + 0.01 * np.maximum(0, x - 35))
    35
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    n = x.size
    last = n - min_after
    if last < 0:
        return None
    x = x - x.mean()
    y = y - y.mean()

    def after(values: np.ndarray) -> np.ndarray:
        """Sum over i > b of ``values[i]``, for each b."""
        suffix = np.cumsum(values[::-1])[::-1]
        return np.append(suffix[1:], 0.0)

    count = np.arange(n - 1, -1, -1, dtype=np.float64)
    sx, sxx, sy, sxy = after(x), after(x * x), after(y), after(x * y)
    # centred sums of squares and products of the regressors x and h = max(0, x - x_b)
    s11, s1y = float(x @ x), float(x @ y)
    sh = sx - x * count
    s22 = sxx - 2 * x * sx + x * x * count - sh * sh / n
    s12 = sxx - x * sx
    s2y = sxy - x * sy
    det = s11 * s22 - s12 * s12
    with np.errstate(divide="ignore", invalid="ignore"):
        c2 = (s11 * s2y - s12 * s1y) / det
        c1 = (s22 * s1y - s12 * s2y) / det
        explained = (s22 * s1y * s1y - 2 * s12 * s1y * s2y + s11 * s2y * s2y) / det
        # a knot with (almost) no point after it leaves the two regressors collinear
        rising = (det > 1e-12 * s11 * np.maximum(s22, 0)) & (c2 > 0) & (c1 + c2 > 0)
    explained = np.where(rising, explained, -np.inf)[: last + 1]
    if not np.isfinite(explained).any():
        return None
    return int(np.argmax(explained))


#: The lag-1 autocorrelation estimate is bias-corrected and capped here (an AR(1) with
#: phi near 1 is a random walk: no effective sample is left to test a trend on).
MAX_AUTOCORRELATION = 0.9
#: Fewer points than this cannot tell autocorrelated noise from a curved trend (the
#: residuals around a straight line through a bending curve are autocorrelated too): such
#: short curves keep the plain test.
MIN_AUTOCORRELATION_POINTS = 20


def autocorrelation_inflation(residuals: np.ndarray) -> float:
    """``n / n*``: how much AR(1) noise inflates the variance of a trend statistic.

    ``1 + 2 sum_k (1 - k / n) r^k`` with ``r`` the lag-1 autocorrelation of the residuals,
    corrected for its small-sample bias (``+ (1 + 4 r) / n``, Kendall's approximation)
    and clipped to ``[0, MAX_AUTOCORRELATION]``: negative autocorrelation never narrows
    the test. 1 (no correction) when ``r`` is within its 95% bound under independence or
    with fewer than MIN_AUTOCORRELATION_POINTS residuals.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> round(autocorrelation_inflation(rng.normal(size=500)), 1)
    1.0
    >>> e = np.zeros(2000)
    >>> for t in range(1, 2000):
    ...     e[t] = 0.5 * e[t - 1] + rng.normal()
    >>> 2.5 < autocorrelation_inflation(e) < 3.5
    True
    """
    r = np.asarray(residuals, dtype=np.float64)
    n = r.size
    if n < MIN_AUTOCORRELATION_POINTS:
        return 1.0
    r = r - r.mean()
    denominator = float(r @ r)
    if denominator <= 0:
        return 1.0
    lag1 = float(r[1:] @ r[:-1]) / denominator
    if lag1 <= -ndtri(0.025) / np.sqrt(n):
        return 1.0  # not distinguishable from independent noise (Hamed & Rao's rule)
    lag1 = float(np.clip(lag1 + (1 + 4 * lag1) / n, 0.0, MAX_AUTOCORRELATION))
    k = np.arange(1, n)
    return float(1 + 2 * np.sum((1 - k / n) * lag1**k))


def noise_sd(values: np.ndarray) -> float:
    """The epoch-to-epoch noise of a curve: robust SD of its first differences over sqrt 2.

    Notes
    -----
    For ``y_t = f(t) + e_t`` with a slowly changing ``f`` and independent noise of SD
    sigma, ``y_{t+1} - y_t`` has SD ``sigma * sqrt(2)``; the median absolute deviation
    (scaled by 1.4826) estimates it without letting a trend or a spike inflate it.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> round(noise_sd(np.linspace(0, 1, 2000) + rng.normal(0, 0.1, 2000)), 2)
    0.1
    """
    values = np.asarray(values, dtype=np.float64)
    if values.size < 3:
        return float("nan")
    diffs = np.diff(values)
    return float(MAD_SCALE * np.median(np.abs(diffs - np.median(diffs))) / np.sqrt(2))


def level_sd(values: np.ndarray) -> float:
    """The SD of a curve's noise around its trend, allowing for AR(1) autocorrelation.

    :func:`noise_sd` reads first differences, which see ``sigma sqrt(1 - phi)`` of AR(1)
    noise with stationary SD ``sigma``: slow (autocorrelated) wander is what makes a
    curve seem to turn. The differences' lag-1 autocorrelation is ``-(1 - phi) / 2``, so
    ``phi = 1 + 2 r``, clipped to ``[0, MAX_AUTOCORRELATION]``; the level SD is
    ``noise_sd / sqrt(1 - phi)`` (equal to :func:`noise_sd` for independent noise).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> e = np.zeros(4000)
    >>> for t in range(1, 4000):
    ...     e[t] = 0.5 * e[t - 1] + rng.normal(0, np.sqrt(0.75))
    >>> round(level_sd(e), 1), round(noise_sd(e), 1)
    (1.0, 0.7)
    """
    values = np.asarray(values, dtype=np.float64)
    sd = noise_sd(values)
    if values.size < MIN_AUTOCORRELATION_POINTS or not np.isfinite(sd):
        return sd
    diffs = np.diff(values)
    diffs = diffs - np.median(diffs)
    denominator = float(diffs @ diffs)
    if denominator <= 0:
        return sd
    phi = 1 + 2 * float(diffs[1:] @ diffs[:-1]) / denominator
    phi = float(np.clip(phi, 0.0, MAX_AUTOCORRELATION))
    return float(sd / np.sqrt(1 - phi))


def accuracy_change_se(a_from: float, a_to: float, n: int) -> float:
    """Standard error of a change in accuracy between two evaluations of ``n`` samples.

    Notes
    -----
    ``sqrt(a1 (1 - a1) / n + a2 (1 - a2) / n)``, the two-proportion standard error.
    Two epochs scored on the same validation set are positively correlated, which makes
    the true error of the change smaller: a change beyond 1.96 of these errors is real,
    one within it is not shown to be.

    Examples
    --------
    >>> round(accuracy_change_se(0.80, 0.82, 1000), 4)
    0.0176
    """
    return float(np.sqrt((a_from * (1 - a_from) + a_to * (1 - a_to)) / n))


def granularity_n(values: np.ndarray, *, max_n: int = 200_000, min_distinct: int = 4) -> int | None:
    """The smallest n such that every accuracy is a fraction k/n (float32 rounding allowed).

    Parameters
    ----------
    values : ndarray
        Accuracies as logged.
    max_n : int, default=200000
        Largest validation set considered.
    min_distinct : int, default=4
        Fewer distinct values than this constrain n too little: None.

    Returns
    -------
    int or None
        The validation-set size the accuracies imply, or None when no n up to ``max_n``
        fits (accuracies averaged over batches of unequal size, rounded logs) or when
        the fit could be chance.

    Notes
    -----
    An accuracy over n samples is k/n. Loggers store it as float32 (relative error below
    2**-24) or float64, so k/n must match each value ``v`` within ``t = 2**-23 v``. For
    values unrelated to n, each fits a given n with probability about ``2 t n``, so the
    expected number of chance fits among denominators up to n is about
    ``n (2 t n)**m / (m + 1)`` for m distinct values; the smallest fitting n is accepted
    only when that is below 0.01. A power of ten that every value fits with no more
    decimals than its zeros is refused: rounded logs look exactly like that. With a
    validation set that is itself larger than the batches, n is the set's size (or what
    the logger averaged over: the number of batches times the batch size, for per-batch
    averages).

    Examples
    --------
    >>> import numpy as np
    >>> granularity_n(np.float32([147 / 190, 152 / 190, 155 / 190, 161 / 190]).astype(float))
    190
    >>> granularity_n(np.array([0.5, 0.25, 0.75]))  # too few distinct values
    >>> granularity_n(np.array([0.9012, 0.8773, 0.8931, 0.9105]))  # rounded: chance fits
    """
    distinct = np.unique(np.asarray(values, dtype=np.float64))
    distinct = distinct[np.isfinite(distinct) & (distinct > 0) & (distinct < 1)]
    m = distinct.size
    if m < min_distinct:
        return None
    tolerance = np.maximum(2.0**-23 * distinct, 4 * np.spacing(distinct))

    def fitting(n: np.ndarray, values: np.ndarray, tol: np.ndarray) -> np.ndarray:
        return (np.abs(values - np.rint(values * n) / n) <= tol).all(axis=1)

    for start in range(1, max_n + 1, 8192):
        n = np.arange(start, min(start + 8192, max_n + 1), dtype=np.float64)[:, None]
        # A few values rule out almost every n; the survivors face them all.
        n = n[fitting(n, distinct[:min_distinct], tolerance[:min_distinct])]
        fits = np.flatnonzero(fitting(n, distinct, tolerance))
        if fits.size:
            found = float(n[fits[0], 0])
            if _rounded_to(distinct, found):
                return None
            chance = found * np.prod(np.minimum(1.0, 2 * tolerance * found)) / (m + 1)
            return int(found) if chance < 0.01 else None
    return None


def _rounded_to(values: np.ndarray, n: float) -> bool:
    """True when ``n`` is 10**d and every value has at most d decimals."""
    digits = np.log10(n)
    if not float(digits).is_integer():
        return False
    return bool(np.all(np.abs(values * n - np.rint(values * n)) < 1e-9 * n))

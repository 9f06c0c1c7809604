"""Calibration error measures: binned ECE and smooth ECE, from score columns.

Both read one class column at a time: the distinct (or sorted) scores with the weight of
negatives and positives at each, so they work on a Tally's score table and on bootstrap
replicates alike (weights may carry leading batch axes).

* ``ece``: ``sum_b |sum_{i in b} w_i (p_i - y_i)| / W`` over 15 equal-width bins of the
  probability (binary: of the positive class; multiclass: the mean over classes of each
  class's one-vs-rest ECE, "classwise ECE").
* ``smooth_ece``: Blasiok & Nakkiran's smooth ECE with relplot's reflected Gaussian kernel
  and its bandwidth search (``sigma`` with ``smECE(sigma) = sigma``), extended to weights by
  depositing weighted residuals on relplot's grid; equal to ``relplot.smECE`` on unweighted
  samples. relplot's grid, kernel and search are reimplemented here (relplot is a test
  reference, not a dependency): the convolution runs by FFT, batched over replicates.

References
----------
Blasiok, J., & Nakkiran, P. (2023). Smooth ECE: Principled reliability diagrams via kernel
smoothing. https://arxiv.org/abs/2309.12236
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import fft, sparse

from lossgap.core.pooling import pool_table
from lossgap.core.tally import Tally

ECE_BINS = 15
ECE_BINNING = f"{ECE_BINS} equal-width bins of the predicted probability"


def binned_ece(scores: np.ndarray, w_neg: np.ndarray, w_pos: np.ndarray) -> np.ndarray:
    """Binned ECE of ascending ``scores`` with weights (optionally batched, ``(..., m)``).

    Examples
    --------
    >>> binned_ece(np.array([0.2, 0.8]), np.array([1.0, 0.0]), np.array([0.0, 1.0])).round(3)
    np.float64(0.2)
    """
    bins = np.minimum((scores * ECE_BINS).astype(np.int64), ECE_BINS - 1)
    starts = np.flatnonzero(np.diff(bins, prepend=-1))
    residual = (w_neg + w_pos) * scores - w_pos
    per_bin = np.add.reduceat(residual, starts, axis=-1)
    return np.abs(per_bin).sum(axis=-1) / (w_neg + w_pos).sum(axis=-1)


#: relplot's settings: at least 200 mesh points, the density floor, and the narrowest
#: bandwidth its search accepts.
_MESH_POINTS = 200
_DENSITY_EPS = 1e-4
_NARROWEST = 1e-3
#: Grid cells smoothed per block of rows: about 1 MiB per buffer, which stays in cache.
_BLOCK_CELLS = 2**17


def _deposit(scores: np.ndarray, weights: np.ndarray, points: int) -> np.ndarray:
    """relplot's ``smooth_round_to_grid`` of each row of ``weights`` (``(rows, m)``).

    Each score's weight is shared linearly between its two nearest grid points; the shares
    form a sparse ``(points, m)`` matrix applied to all rows at once.
    """
    position = scores * (points - 1)
    left = position.astype(np.int64).clip(0, points - 2)
    right = position - left
    shares = sparse.csc_array(
        (
            np.column_stack([1 - right, right]).ravel(),
            np.column_stack([left, left + 1]).ravel(),
            np.arange(0, 2 * len(scores) + 1, 2),
        ),
        shape=(points, len(scores)),
    )
    return weights @ shares.T


def _reflected_gaussian(values: np.ndarray, sigma: float) -> np.ndarray:
    """relplot's ``ReflectedGaussianKernel.convolve`` along the last axis, by FFT.

    relplot mirrors the grid at both ends and convolves it with a Gaussian sampled on as
    many points as the grid, zero (underflowed) beyond about 38 sigma. Mirroring the grid
    only as far as the kernel's nonzero span reaches and convolving by FFT gives relplot's
    sums to rounding, in one pass over all rows.
    """
    points = values.shape[-1]
    t = np.linspace(0.0, 1.0, points)
    kernel = np.exp(-(t - 0.5) * (t - 0.5) / (2 * sigma**2)) / (np.sqrt(2 * np.pi) * sigma)
    # output j = sum_i kernel[i] * mirrored grid at j + points // 2 - i, for nonzero kernel[i]
    lo, hi = np.flatnonzero(kernel)[[0, -1]]
    widths = [(0, 0)] * (values.ndim - 1) + [(hi - points // 2, points // 2 - lo)]
    window = np.pad(values, widths, mode="reflect")
    size = fft.next_fast_len(window.shape[-1], real=True)
    product = fft.rfft(window, size, axis=-1) * fft.rfft(kernel[lo : hi + 1], size)
    return fft.irfft(product, size, axis=-1)[..., hi - lo : hi - lo + points]


def _interpolate(values: np.ndarray, at: np.ndarray) -> np.ndarray:
    """relplot's ``interpolate``: the piecewise-linear grid function (last axis) at ``at``."""
    steps = values.shape[-1] - 1
    step = 1 / steps
    left = (at * steps).astype(np.int64).clip(0, steps - 1)
    right = (at - left * step) / step
    return values[..., left] * (1 - right) + values[..., left + 1] * right


def _smooth_ece_at(
    sigma: float, scores: np.ndarray, residual: np.ndarray, mass: np.ndarray
) -> np.ndarray:
    """relplot's ``smooth_ece(f, y, sigma)`` of each row of the weighted residual and mass.

    Rows go through in blocks whose FFT buffers stay in cache (twice as fast as one pass
    over 200 replicates on a fine grid).
    """
    points = max(2000, round(20 / sigma)) // 2 + 1
    mesh = np.linspace(0.0, 1.0, max(round(10 / sigma), _MESH_POINTS))
    block = max(1, _BLOCK_CELLS // points)
    values = []
    for start in range(0, len(mass), block):
        rows = slice(start, start + block)
        grids = _deposit(scores, np.concatenate([residual[rows], mass[rows]]), points)
        smoothed, density = np.split(_interpolate(_reflected_gaussian(grids, sigma), mesh), 2)
        density = density + _DENSITY_EPS
        total = np.sum(np.abs(smoothed / density) * density, axis=-1)
        values.append(total / np.sum(density, axis=-1))
    return np.concatenate(values)


def _search_bandwidth(too_narrow: Callable[[float], bool]) -> float:
    """relplot's ``search_param(start=1, refine=10)``: ten bisections of [0, 1].

    Returns the last bandwidth found not too narrow (1 when even 1 is).
    """
    if too_narrow(1.0):
        return 1.0
    wide, narrow = 1.0, 0.0
    for _ in range(10):
        middle = (wide + narrow) / 2
        if too_narrow(middle):
            narrow = middle
        else:
            wide = middle
    return wide


def smooth_ece(
    scores: np.ndarray, w_neg: np.ndarray, w_pos: np.ndarray, *, sigma: float | None = None
) -> tuple[np.ndarray | float, float]:
    """Smooth ECE of weighted scores and the bandwidth used.

    Weights are ``(m,)`` or ``(replicates, m)`` (one value per replicate, all smoothed in
    one pass). They are deposited as given, so pass counts (or weights rescaled to the
    sample count) for relplot's density floor to mean the same. With ``sigma=None`` the
    bandwidth is relplot's fixed point ``sigma = smECE(sigma)`` (one row of weights only);
    bootstrap replicates pass the bandwidth found on the unresampled data.

    Examples
    --------
    >>> import relplot
    >>> rng = np.random.default_rng(0)
    >>> p = rng.uniform(size=500); y = (rng.uniform(size=500) < p**2).astype(float)
    >>> ours, sigma = smooth_ece(p, 1.0 - y, y)
    >>> bool(np.isclose(ours, relplot.smECE(p, y), rtol=1e-9))
    True
    >>> ours.shape, smooth_ece(p, np.stack([1.0 - y] * 3), np.stack([y] * 3), sigma=sigma)[0].shape
    ((), (3,))
    """
    mass = w_neg + w_pos
    rows = np.atleast_2d(mass)
    residual = rows * scores - np.atleast_2d(w_pos)
    if sigma is None:
        if len(rows) != 1:
            raise ValueError("the bandwidth search takes one row of weights; pass sigma")
        sigma = _search_bandwidth(
            lambda s: s < _NARROWEST or s < _smooth_ece_at(s, scores, residual, rows)[0]
        )
    values = _smooth_ece_at(sigma, scores, residual, rows)
    return (values[0] if mass.ndim == 1 else values), sigma


def _counts_scale(tally: Tally) -> float:
    """Factor that turns weights into counts, so relplot's density floor means the same."""
    return tally.count / tally.weight


def ece(tally: Tally) -> float:
    """Binned ECE (binary) or classwise binned ECE (multiclass), see the module notes."""
    return float(np.mean([binned_ece(t.scores, *t.weights.T) for t in tally.tables]))


#: Tables are pooled to this many runs for the kernel smoothing: far finer than the
#: narrowest bandwidth relplot searches (1e-3), so the estimate is unchanged in practice.
SMOOTH_ROWS = 50_000


def smooth_ece_of(tally: Tally) -> float:
    """Smooth ECE (binary) or its mean over classes one-vs-rest (multiclass)."""
    scale = _counts_scale(tally)
    values: list[float] = []
    for table in tally.tables:
        pooled = pool_table(table, SMOOTH_ROWS)
        values.append(float(smooth_ece(pooled.scores, *(pooled.weights.T * scale))[0]))
    return float(np.mean(values))

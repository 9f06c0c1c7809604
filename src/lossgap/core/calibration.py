"""Calibration error measures: binned ECE and smooth ECE, from score columns.

Both read one class column at a time: the distinct (or sorted) scores with the weight of
negatives and positives at each, so they work on a Tally's score table and on bootstrap
replicates alike (weights may carry leading batch axes).

* ``ece``: ``sum_b |sum_{i in b} w_i (p_i - y_i)| / W`` over 15 equal-width bins of the
  probability (binary: of the positive class; multiclass: of the top-label confidence
  ``max_k p_k`` against correctness, as torchmetrics' ``MulticlassCalibrationError`` and
  relplot report it). ``classwise_ece`` is the multiclass mean over classes of each
  class's one-vs-rest ECE; :func:`calibration_errors` gives them all.
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
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import fft, sparse

from lossgap.core.binning import kernel_module
from lossgap.core.pooling import pool_table
from lossgap.core.tally import ScoreTable, Tally
from lossgap.errors import InputError

ECE_BINS = 15
ECE_BINNING = f"{ECE_BINS} equal-width bins of the predicted probability"


def ece_bins(scores: np.ndarray, bins: int = ECE_BINS) -> np.ndarray:
    """The ECE bin of each score: ``floor(bins p)``, with ``p = 1`` in the last bin."""
    return np.minimum((scores * bins).astype(np.int64), bins - 1)


def ece_bin_starts(scores: np.ndarray, bins: int = ECE_BINS) -> np.ndarray:
    """The first row of each occupied ECE bin of ascending ``scores``.

    The rows where :func:`ece_bins` changes, ``flatnonzero(diff(ece_bins(scores),
    prepend=-1))``, found without a pass over the scores: ``floor(bins p)`` never
    decreases with ``p``, so bin ``j`` starts at the first score at or above the least
    double ``t_j`` with ``floor(bins t_j) >= j``, one binary search each.

    Examples
    --------
    >>> ece_bin_starts(np.array([0.01, 0.02, 0.5, 0.51, 1.0]), 10).tolist()
    [0, 2, 4]
    """
    starts = np.searchsorted(scores, _bin_edges(bins), side="left")
    if not len(scores):
        return starts[:0]
    return np.unique(np.concatenate([[0], starts[starts < len(scores)]]))


@lru_cache(maxsize=8)
def _bin_edges(bins: int) -> np.ndarray:
    """The least double in each ECE bin but the first (:func:`ece_bin_starts`), kept per
    number of bins: an evaluation asks for the same ones several times (read-only)."""
    first = np.arange(1, bins)
    edges = first / bins
    # the least double in bin j: the rounded j / bins, or a double or two beside it
    while True:
        below = np.nextafter(edges, -1.0)
        down = np.floor(below * bins) >= first  # the double below is in bin j already
        up = np.floor(edges * bins) < first  # the edge itself is not yet
        if not (down.any() or up.any()):
            break
        edges = np.where(down, below, np.where(up, np.nextafter(edges, 2.0), edges))
    edges.flags.writeable = False
    return edges


def binned_ece(
    scores: np.ndarray, w_neg: np.ndarray, w_pos: np.ndarray, bins: int = ECE_BINS
) -> np.ndarray:
    """Binned ECE of ascending ``scores`` with weights (optionally batched, ``(..., m)``),
    over ``bins`` equal-width bins (:func:`ece_bins`).

    Examples
    --------
    >>> binned_ece(np.array([0.2, 0.8]), np.array([1.0, 0.0]), np.array([0.0, 1.0])).round(3)
    np.float64(0.2)
    """
    starts = (
        ece_bin_starts(scores, bins)
        if scores.ndim == 1
        else np.flatnonzero(np.diff(ece_bins(scores, bins), prepend=-1))
    )
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

    Each score's weight is shared linearly between its two nearest grid points. One row
    (the point estimate and the bandwidth search) takes two ``bincount`` passes; many rows
    (bootstrap replicates) share one sparse ``(points, m)`` matrix of the shares, whose
    product adds them in one compiled loop with numba
    (:func:`~lossgap.core.binning.kernel_module`): the same doubles (tested).
    """
    position = scores * (points - 1)
    left = position.astype(np.int64).clip(0, points - 2)
    right = position - left
    if len(weights) == 1:
        row = weights[0]
        share = row * right
        grid = np.bincount(left, row - share, minlength=points)
        grid += np.bincount(left + 1, share, minlength=points)
        return grid[None]
    kernels = kernel_module("bootstrap_kernels")
    if kernels is not None:  # the sparse product's additions in one compiled loop
        return kernels.deposit_rows(np.asarray(weights, dtype=np.float64), left, right, points)
    shares = sparse.csc_array(
        (
            np.column_stack([1 - right, right]).ravel(),
            np.column_stack([left, left + 1]).ravel(),
            np.arange(0, 2 * len(scores) + 1, 2),
        ),
        shape=(points, len(scores)),
    )
    return weights @ shares.T


#: How far :class:`_CellDeposit`'s grid points may lie from :func:`_deposit`'s, in ulps
#: per grid point of the absolute weights of the scores within a grid step: both round
#: a score's position ``s (points - 1)`` (about ``points`` ulps of its share), the one per
#: row, the other per cell (measured at most 2.9 ulps per point over 100 draws of 1 to
#: 60,000 scores on 1,001 to 10,001 points; tested).
CELL_DEPOSIT_ULPS = 8.0


class _CellDeposit:
    """:func:`_deposit` of a few rows of weights onto grids of any size, from their sums
    per grid cell.

    A score in cell ``k`` (between grid points ``k`` and ``k + 1``) gives ``w (1 - f)`` to
    point ``k`` and ``w f`` to ``k + 1``, where ``f = s (points - 1) - k``: over the cell
    that is ``W - F`` and ``F``, with ``W`` the cell's sum of ``w`` and ``F = (points - 1)
    S - k W``, ``S`` its sum of ``w s``. The scores are sorted once, so each grid size (the
    bandwidth search visits about five) costs one ``searchsorted`` of its cells and one
    ``reduceat`` over the rows, instead of the positions, shares and two ``bincount`` per
    row (a sparse matrix for more rows) that :func:`_deposit` builds afresh (at 50,000
    scores the whole search 11.7 -> 3.8 ms). Each grid point within
    :data:`CELL_DEPOSIT_ULPS` ulps per grid point of :func:`_deposit`'s. With numba
    (:func:`~lossgap.core.binning.kernel_module`) each grid is one compiled pass, the
    same doubles (the cells' runs summed in numpy's pairwise order, tested): the search
    at 1e3 / 1e4 / 1e5 samples 0.81-0.92 -> 0.71-0.73, 0.92-0.97 -> 0.79-0.89, 1.86-2.04
    -> 1.56-1.60 ms.

    Examples
    --------
    >>> s, w = np.array([0.5, 0.0, 0.25]), np.array([[1.0, 2.0, 4.0]])
    >>> _CellDeposit(s, w)(5).tolist()
    [[2.0, 4.0, 1.0, 0.0, 0.0]]
    """

    def __init__(self, scores: np.ndarray, weights: np.ndarray) -> None:
        order = None if np.all(scores[1:] >= scores[:-1]) else np.argsort(scores, kind="stable")
        self.scores = scores if order is None else scores[order]
        rows = weights if order is None else weights[:, order]
        self.sums = np.concatenate([rows, rows * self.scores])  # w, then w s, per row

    def __call__(self, points: int) -> np.ndarray:
        kernels = kernel_module("bootstrap_kernels")
        if kernels is not None:  # one compiled pass: the same doubles
            return kernels.cell_deposit(self.scores, self.sums, points)
        steps = points - 1
        # the first score of each cell 1..points - 2 (cell points - 2 also holds s = 1)
        firsts = np.searchsorted(self.scores * steps, np.arange(1, steps), side="left")
        starts = np.concatenate([[0], firsts])
        filled = np.flatnonzero(np.diff(starts, append=len(self.scores)) > 0)
        cells = np.zeros((len(self.sums), steps))
        cells[:, filled] = np.add.reduceat(self.sums, starts[filled], axis=-1)
        weight, weighted = np.split(cells, 2)
        share = weighted * steps - np.arange(steps) * weight
        grid = np.zeros((len(weight), points))
        grid[:, :-1] = weight - share
        grid[:, 1:] += share
        return grid


#: The kernel's taps below this share of its peak are left out (beyond about 9.1 sigma):
#: relplot sums them until they underflow (38 sigma); they hold under 1e-18 of the
#: kernel's mass, and leaving them out shrinks the FFTs and mesh operators by up to half.
_KERNEL_FLOOR = 2.0**-60


#: Kernels and spectra kept by (grid points, bandwidth): the bandwidth search tries
#: dyadic bandwidths (k / 1024), mostly the same ones from one evaluation to the next (a
#: training callback's epochs), and the bootstrap's operator reads the kernel found.
_KERNELS_KEPT = 64


@lru_cache(maxsize=_KERNELS_KEPT)
def _gaussian_kernel(points: int, sigma: float) -> tuple[np.ndarray, int, int]:
    """relplot's kernel sampled on ``points`` grid points, and the ends of its span above
    ``_KERNEL_FLOOR`` of its peak (read-only: it is shared)."""
    t = np.linspace(0.0, 1.0, points)
    kernel = np.exp(-(t - 0.5) * (t - 0.5) / (2 * sigma**2)) / (np.sqrt(2 * np.pi) * sigma)
    lo, hi = np.flatnonzero(kernel >= kernel.max() * _KERNEL_FLOOR)[[0, -1]]
    kernel.flags.writeable = False
    return kernel, int(lo), int(hi)


@lru_cache(maxsize=_KERNELS_KEPT)
def _gaussian_spectrum(points: int, sigma: float) -> tuple[np.ndarray, int, int, int]:
    """The FFT of the kernel's nonzero span, the span's ends and the FFT length, for
    :func:`_reflected_gaussian` (read-only: it is shared)."""
    kernel, lo, hi = _gaussian_kernel(points, sigma)
    window = points + (hi - points // 2) + (points // 2 - lo)
    size = fft.next_fast_len(int(window), real=True)
    spectrum = fft.rfft(kernel[lo : hi + 1], size)
    spectrum.flags.writeable = False
    return spectrum, lo, hi, size


def _reflected_gaussian(values: np.ndarray, sigma: float) -> np.ndarray:
    """relplot's ``ReflectedGaussianKernel.convolve`` along the last axis, by FFT.

    relplot mirrors the grid at both ends and convolves it with a Gaussian sampled on as
    many points as the grid, zero (underflowed) beyond about 38 sigma. Mirroring the grid
    only as far as the kernel's nonzero span reaches and convolving by FFT gives relplot's
    sums to rounding, in one pass over all rows.
    """
    points = values.shape[-1]
    spectrum, lo, hi, size = _gaussian_spectrum(points, sigma)
    product = _window_spectrum(values, lo, hi, size) * spectrum
    return fft.irfft(product, size, axis=-1)[..., hi - lo : hi - lo + points]


def _window_spectrum(values: np.ndarray, lo: int, hi: int, size: int) -> np.ndarray:
    """The FFT (length ``size``) of the grid ``values`` mirrored at both ends as far as the
    kernel's taps ``lo..hi`` reach (:func:`_reflected_gaussian`'s window).

    The window depends on the bandwidth only through the span: every bandwidth whose
    kernel covers the whole grid (above about 0.055 on 1,001 points) has the same one.
    """
    points = values.shape[-1]
    # output j = sum_i kernel[i] * mirrored grid at j + points // 2 - i, for nonzero kernel[i]
    left, right = hi - points // 2, points // 2 - lo
    # np.pad(mode="reflect") by hand: the same values, without its per-axis loop (which
    # cost as much as the FFT over 200 replicates)
    window = np.concatenate(
        [values[..., left:0:-1], values, values[..., points - 2 : points - 2 - right : -1]],
        axis=-1,
    )
    return fft.rfft(window, size, axis=-1)


@lru_cache(maxsize=_KERNELS_KEPT)
def _mesh_reads(points: int, sigma: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Where relplot's ``interpolate`` reads a grid of ``points`` for the mesh of ``sigma``:
    each mesh point's grid point on its left and the next, and the shares of each. Kept:
    the bandwidth search evaluates about eleven bandwidths on grids of a few sizes, the
    same dyadic ones from one evaluation to the next (read-only: they are shared)."""
    steps = points - 1
    step = 1 / steps
    mesh = _mesh(sigma)
    left = (mesh * steps).astype(np.int64).clip(0, steps - 1)
    right = (mesh - left * step) / step
    reads = (left, left + 1, 1 - right, right)
    for array in reads:
        array.flags.writeable = False
    return reads


def _on_mesh(values: np.ndarray, sigma: float) -> np.ndarray:
    """relplot's ``interpolate`` of the grid ``values`` (last axis) at the mesh of
    ``sigma``: the piecewise-linear grid function at each mesh point."""
    left, after, keep, right = _mesh_reads(values.shape[-1], sigma)
    # take: the same gathers as indexing, at half its cost on a few rows
    return np.take(values, left, axis=-1) * keep + np.take(values, after, axis=-1) * right


def _grid_points(sigma: float) -> int:
    """relplot's grid for bandwidth ``sigma``: 1,001 points down to ``sigma = 0.01``."""
    return max(2000, round(20 / sigma)) // 2 + 1


def _mesh_points(sigma: float) -> int:
    """Points of relplot's evaluation mesh for bandwidth ``sigma``."""
    return max(round(10 / sigma), _MESH_POINTS)


def _mesh(sigma: float) -> np.ndarray:
    """relplot's evaluation mesh for bandwidth ``sigma``."""
    return np.linspace(0.0, 1.0, _mesh_points(sigma))


def _smooth_ece_on_mesh(smoothed: np.ndarray, density: np.ndarray) -> np.ndarray:
    """relplot's ``smooth_ece`` from the smoothed residual and mass at the mesh points."""
    density = density + _DENSITY_EPS
    # in place: fresh temporaries of 200 rows on a fine mesh are fresh pages to fault in
    # (2.9 against 0.3 ms at 1,280 mesh points); the same values
    ratio = smoothed / density
    np.abs(ratio, out=ratio)
    ratio *= density
    return ratio.sum(axis=-1) / np.sum(density, axis=-1)


def _smooth_ece_of_convolved(
    convolved: np.ndarray, offset: int, points: int, sigma: float
) -> float:
    """relplot's ``smooth_ece`` of one residual row and its mass from their convolved grids
    (:func:`_reflected_gaussian`'s two rows before its slice: the grid's ``points`` from
    ``offset``), as :func:`_on_mesh` then :func:`_smooth_ece_on_mesh` give it; with numba
    (:func:`~lossgap.core.binning.kernel_module`) in one compiled pass, the same doubles
    (tested): 10.3 -> 3.0 us a bandwidth of the search."""
    kernels = kernel_module("bootstrap_kernels")
    if kernels is not None:
        left, _, keep, right = _mesh_reads(points, sigma)
        terms = kernels.convolved_mesh_terms(convolved, offset, left, keep, right, _DENSITY_EPS)
        sums = terms.sum(axis=-1)  # as the twin sums them (numpy's pairwise sums)
        return float(sums[0] / sums[1])
    on_mesh = _on_mesh(convolved[:, offset : offset + points], sigma)
    return float(_smooth_ece_on_mesh(on_mesh[:1], on_mesh[1:])[0])


def _smooth_ece_of_grids(sigma: float, grids: np.ndarray) -> np.ndarray:
    """relplot's ``smooth_ece`` from deposited grids: residual rows, then as many mass rows."""
    on_mesh = _on_mesh(_reflected_gaussian(grids, sigma), sigma)
    half = len(on_mesh) // 2
    return _smooth_ece_on_mesh(on_mesh[:half], on_mesh[half:])


@dataclass(frozen=True)
class MeshOperator:
    """The linear map of :func:`_mesh_operator`, with the band each score reaches.

    Attributes
    ----------
    values : ndarray of shape (m, mesh)
        The map, zero outside each row's band.
    first : ndarray of shape (m,)
        The first mesh point of each row's band (nondecreasing for ascending scores).
    width : int
        Mesh points per band.
    row_sums : ndarray of shape (m,)
        Each score's smoothed weight summed over the mesh: a row of weights times them is
        the total of its smoothed density.
    """

    values: np.ndarray
    first: np.ndarray
    width: int
    row_sums: np.ndarray

    def apply(self, rows: np.ndarray) -> np.ndarray:
        """``rows @ values`` for ``(r, m)`` rows.

        Ascending scores with bands narrower than half the mesh go in chunks of adjacent
        scores, each multiplied only over the mesh points its bands cover (about the
        band's width plus the chunk's own spread: at bandwidth 0.008, a quarter of the
        mesh). The sums are the dense product's, added in another order (rounding).
        """
        m, mesh = self.values.shape
        if 2 * self.width > mesh or np.any(np.diff(self.first) < 0):
            return rows @ self.values
        out = np.zeros((len(rows), mesh))
        chunk = max(16, m * self.width // mesh)
        for start in range(0, m, chunk):
            stop = min(start + chunk, m)
            lo, hi = int(self.first[start]), int(self.first[stop - 1]) + self.width
            out[:, lo:hi] += rows[:, start:stop] @ self.values[start:stop, lo:hi]
        return out


def _mesh_operator(scores: np.ndarray, sigma: float) -> MeshOperator:
    """``(m, mesh)``: the linear map from weights at ``scores`` to their smoothed values at
    the mesh points, i.e. :func:`_deposit`, :func:`_reflected_gaussian` and
    :func:`_on_mesh` composed, built from the kernel directly.

    A score deposits on two grid points, a mesh point reads two outputs of the
    convolution, and an output reads a grid point through at most three kernel taps: the
    point itself and its mirror images beyond either end (the reflected window holds one
    reflection, each end point once). So each entry is twelve kernel values, gathered for
    every (score, mesh point) pair at once; with numba
    (:func:`~lossgap.core.binning.kernel_module`) in one compiled loop over the bands, the
    same products added in the same order: the same doubles (tested), at a sixth of the
    cost on a resampling table's 270 scores.

    Only the band of mesh points within the kernel's span of each score is gathered (the
    span is about 9 sigma either side; a mirror image reaches only mesh points that the
    score itself reaches): every entry outside it reads taps that are all 0, so the band
    gives the same operator, bit for bit, at a quarter of the gathers at bandwidth 0.014.
    """
    points, mesh = _grid_points(sigma), _mesh(sigma)
    kernel, lo, hi = _gaussian_kernel(points, sigma)
    steps, centre = points - 1, points // 2
    # the kernel's taps lo..hi at offset 2 * points of a zero array: every index below
    # (an image beyond the kernel's span) reads 0
    taps = np.zeros(5 * points)
    origin = 2 * points
    taps[origin + lo : origin + hi + 1] = kernel[lo : hi + 1]
    left = (mesh * steps).astype(np.int64).clip(0, steps - 1)
    right = (mesh - left * (1 / steps)) / (1 / steps)
    position = scores * steps
    at = position.astype(np.int64).clip(0, points - 2)
    frac = position - at
    # output o reads grid point g directly when |o - g| <= span, and the outputs o, o + 1
    # of mesh point j read grid points at, at + 1: mesh point j is in score i's band when
    # left_j lies within span + 1 of at_i (the mirror images are nearer the ends than g,
    # so they reach no mesh point beyond the band)
    span = max(hi - centre, centre - lo) + 1
    first = np.searchsorted(left, at - span, side="left")
    width = int((np.searchsorted(left, at + span, side="right") - first).max())
    first = np.minimum(first, len(mesh) - width)
    # a mirror image reaches the kernel's span only from grid points within it of its
    # end: the rows of ascending scores that near 0 (a prefix) or 1 (a suffix); the
    # others would add exact zeros
    ascending = bool(np.all(at[1:] >= at[:-1]))
    near_zero = int(np.searchsorted(at, span, "right")) if ascending else len(at)
    near_one = int(np.searchsorted(at, steps - span - 1)) if ascending else 0
    kernels = kernel_module("bootstrap_kernels")
    if kernels is not None:  # one compiled loop over the bands: the same doubles
        operator = kernels.mesh_operator(
            taps, at, frac, first, left, right, origin, centre, steps, width, near_zero,
            near_one, len(mesh),
        )
        return MeshOperator(operator, first, width, operator.sum(axis=1))
    band = first[:, None] + np.arange(width)  # (m, width) mesh indices
    band_left, band_right = left[band], right[band]
    at, frac = at[:, None], frac[:, None]
    values = np.zeros(band.shape)
    # output o reads grid point g through the tap o + centre - q, q an image of g
    read_left = origin + band_left + centre
    reads = ((read_left, 1 - band_right), (read_left + 1, band_right))
    zero_rows, one_rows = slice(near_zero), slice(near_one, None)
    for grid, grid_share in ((at, 1 - frac), (at + 1, frac)):
        for read, share in reads:
            value = taps[read - grid]
            rows, near = grid[zero_rows], read[zero_rows]
            value[zero_rows] += np.where(rows > 0, taps[near + rows], 0.0)  # mirrored at 0
            rows, near = grid[one_rows], read[one_rows]
            value[one_rows] += np.where(rows < steps, taps[near + rows - 2 * steps], 0.0)  # at 1
            values += grid_share * share * value
    operator = np.zeros((len(scores), len(mesh)))
    np.put_along_axis(operator, band, values, axis=1)
    return MeshOperator(operator, first, width, operator.sum(axis=1))


#: Batches of rows smooth through :func:`_mesh_operator` while the operator has at most
#: this many cells (a few hundred scores on a mesh of up to a few thousand points,
#: bandwidths from about 0.002): building it and the products over its bands cost about
#: the same at every bandwidth (each score reaches about 180 mesh points), less than one
#: FFT pass over 200 rows on a grid of 1,001 points or more (at 1e5 samples, bandwidth
#: 0.008, 270 scores: about 5 ms against 15 ms for 200 replicates and 100 null draws).
_OPERATOR_CELLS = 2**21


#: The last operator built, by its bandwidth and scores: the bootstrap's replicates and
#: the calibrated null of the same pooled table smooth through the same map.
_LAST_OPERATOR: dict[tuple[float, bytes], MeshOperator] = {}


def _cached_mesh_operator(scores: np.ndarray, sigma: float) -> MeshOperator:
    """:func:`_mesh_operator`, reusing the last one built for the same scores and bandwidth."""
    key = (sigma, scores.tobytes())
    operator = _LAST_OPERATOR.get(key)
    if operator is None:  # evaluations in other threads at worst build theirs again
        operator = _mesh_operator(scores, sigma)
        _LAST_OPERATOR.clear()
        _LAST_OPERATOR[key] = operator
    return operator


def _smooth_ece_at(
    sigma: float, scores: np.ndarray, residual: np.ndarray, mass: np.ndarray
) -> np.ndarray:
    """relplot's ``smooth_ece(f, y, sigma)`` of each row of the weighted residual and mass.

    Many rows on a few hundred scores (bootstrap replicates of a pooled table) go through
    the composed linear map, two matrix products; otherwise rows go by FFT in blocks whose
    buffers stay in cache (twice as fast as one pass over 200 replicates on a fine grid).
    """
    small = len(scores) * _mesh_points(sigma) <= _OPERATOR_CELLS
    if len(residual) > 1 and small:
        operator = _cached_mesh_operator(scores, sigma)
        if len(mass) == 1:  # one mass row (the calibrated null): smoothed once
            return _smooth_ece_on_mesh(operator.apply(residual), operator.apply(mass))
        return _smooth_ece_of_totals(operator, residual, mass)
    points = _grid_points(sigma)
    block = max(1, _BLOCK_CELLS // points)
    values = []
    if len(mass) == 1 < len(residual):  # one mass row for every residual row: smooth it once
        density = _on_mesh(_reflected_gaussian(_deposit(scores, mass, points), sigma), sigma)
        for start in range(0, len(residual), block):
            grids = _deposit(scores, residual[start : start + block], points)
            smoothed = _on_mesh(_reflected_gaussian(grids, sigma), sigma)
            values.append(_smooth_ece_on_mesh(smoothed, density))
        return np.concatenate(values)
    for start in range(0, len(mass), block):
        rows = slice(start, start + block)
        grids = _deposit(scores, np.concatenate([residual[rows], mass[rows]]), points)
        values.append(_smooth_ece_of_grids(sigma, grids))
    return np.concatenate(values)


#: How far :func:`_smooth_ece_of_totals` may lie from relplot's sums on the mesh, relative
#: (measured at most about 1e-15, tested).
TOTALS_RTOL = 1e-12


def _smooth_ece_of_totals(
    operator: MeshOperator, residual: np.ndarray, mass: np.ndarray
) -> np.ndarray:
    """relplot's ``smooth_ece`` of each row of ``residual`` and ``mass`` through
    ``operator``, without smoothing the mass at every mesh point.

    relplot sums ``|smoothed / density| * density`` over the mesh and divides by the sum
    of the density (the smoothed mass plus its floor ``_DENSITY_EPS`` at each point, so
    never 0): the terms are ``|smoothed|``, and the density's sum is the mass times the
    operator's row sums plus the floors. One product of the rows by the operator instead
    of two; the same sums to rounding (within :data:`TOTALS_RTOL` of
    :func:`_smooth_ece_on_mesh`'s).
    """
    smoothed = operator.apply(residual)
    np.abs(smoothed, out=smoothed)
    floors = operator.values.shape[1] * _DENSITY_EPS
    return smoothed.sum(axis=-1) / (mass @ operator.row_sums + floors)


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


def _fixed_point(scores: np.ndarray, residual: np.ndarray, mass: np.ndarray) -> tuple[float, float]:
    """relplot's bandwidth ``sigma = smECE(sigma)`` of one row, and the smooth ECE there.

    The grids depend on the bandwidth only through their size, which stays at 1,001 points
    for every bandwidth above 0.01: each size is deposited once for the whole search, and
    the value at the bandwidth found is the one the search computed. Likewise the
    mirrored window's FFT depends on the bandwidth only through the kernel's span
    (:func:`_window_spectrum`): the wide bandwidths the search starts with (1 to 1/16)
    share one.
    """
    grids: dict[int, np.ndarray] = {}
    windows: dict[tuple[int, int, int, int], np.ndarray] = {}
    values: dict[float, float] = {}
    deposit = _CellDeposit(scores, np.concatenate([residual, mass]))

    def at(sigma: float) -> float:
        points = _grid_points(sigma)
        spectrum, lo, hi, size = _gaussian_spectrum(points, sigma)
        span = (points, lo, hi, size)
        if span not in windows:
            if points not in grids:
                grids[points] = deposit(points)
            windows[span] = _window_spectrum(grids[points], lo, hi, size)
        # _reflected_gaussian's product and inverse, its slice left to the mesh's reads
        convolved = fft.irfft(windows[span] * spectrum, size, axis=-1)
        values[sigma] = _smooth_ece_of_convolved(convolved, hi - lo, points, sigma)
        return values[sigma]

    sigma = _search_bandwidth(lambda s: s < _NARROWEST or s < at(s))
    return (values[sigma] if sigma in values else at(sigma)), sigma


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
    residual = rows * scores
    residual -= w_pos  # in place: one temporary of the replicates' size fewer
    if sigma is None:
        if len(rows) != 1:
            raise ValueError("the bandwidth search takes one row of weights; pass sigma")
        value, sigma = _fixed_point(scores, residual, rows)
        return (np.float64(value) if mass.ndim == 1 else np.array([value])), sigma
    values = _smooth_ece_at(sigma, scores, residual, rows)
    return (values[0] if mass.ndim == 1 else values), sigma


def smooth_ece_of_labels(
    scores: np.ndarray, mass: np.ndarray, w_pos: np.ndarray, sigma: float
) -> np.ndarray:
    """Smooth ECE at bandwidth ``sigma`` of each row of ``w_pos`` (``(rows, m)``) over one
    row of ``mass`` (``(m,)``): labels drawn again on the same weighted scores, as the
    calibrated null draws them. Equal to :func:`smooth_ece` with ``w_neg = mass - w_pos``;
    the mass is smoothed once for every row.

    Examples
    --------
    >>> s, mass = np.array([0.2, 0.5, 0.9]), np.array([2.0, 1.0, 3.0])
    >>> pos = np.array([[0.0, 1.0, 3.0], [1.0, 0.0, 2.0]])
    >>> shared = smooth_ece_of_labels(s, mass, pos, 0.1)
    >>> bool(np.allclose(shared, smooth_ece(s, mass - pos, pos, sigma=0.1)[0], rtol=1e-12))
    True
    """
    return _smooth_ece_at(sigma, scores, mass * scores - w_pos, mass[None])


def _scaled_columns(table: ScoreTable, scale: float) -> np.ndarray:
    """The table's weights times ``scale``, ``(2, m)``: its own columns when the scale is
    1 (unweighted data: the same doubles, in the same layout, without the copy: 0.15 ms
    at 50,000 rows)."""
    return table.weights.T if scale == 1.0 else table.weights.T * scale


def _counts_scale(tally: Tally) -> float:
    """Factor that turns weights into counts, so relplot's density floor means the same."""
    return tally.count / tally.weight


def ece(tally: Tally) -> float:
    """Binned ECE (binary) or classwise binned ECE (multiclass), see the module notes."""
    return float(np.mean([binned_ece(t.scores, *t.weights.T) for t in tally.tables]))


#: Tables are pooled to this many runs for the kernel smoothing: far finer than the
#: narrowest bandwidth relplot searches (1e-3), so the estimate is unchanged in practice.
SMOOTH_ROWS = 50_000


def ece_binning(bins: int = ECE_BINS) -> str:
    """The binning of the ECE in words (the evaluation states it).

    Examples
    --------
    >>> ece_binning(10)
    '10 equal-width bins of the predicted probability'
    """
    return f"{bins} equal-width bins of the predicted probability"


def _smooth_ece_of_table(table: ScoreTable, scale: float) -> float:
    return _smooth_ece_and_sigma(table, scale)[0]


def _smooth_ece_and_sigma(table: ScoreTable, scale: float) -> tuple[float, float]:
    pooled = pool_table(table, SMOOTH_ROWS)
    value, sigma = smooth_ece(pooled.scores, *_scaled_columns(pooled, scale))
    return float(value), sigma


@dataclass(frozen=True)
class CalibrationErrors:
    """The calibration errors of one Tally under their usual names.

    Attributes
    ----------
    ece, smooth_ece : float
        Binary: of the positive-class probability. Multiclass: of the top-label
        confidence ``max_k p_k`` against correctness (torchmetrics' and relplot's
        multiclass ECE). ``smooth_ece`` is NaN when not computed.
    classwise_ece, classwise_smooth_ece : ndarray of shape (k,) or None
        Multiclass: each class's one-vs-rest ECE and smooth ECE (their mean is the
        "classwise" ECE); None for binary (and the smooth one when not computed).
    bins : int
        Equal-width bins of the binned ECE.
    smooth_sigma : float
        Binary: the bandwidth the smooth ECE was found at (the bootstrap smooths its
        replicates at it); NaN otherwise.
    """

    ece: float
    smooth_ece: float
    classwise_ece: np.ndarray | None
    classwise_smooth_ece: np.ndarray | None
    bins: int
    smooth_sigma: float = float("nan")

    def metrics(self) -> dict[str, float]:
        """``{name: value}`` of the metrics an evaluation reports (means of the classwise)."""
        values = {"ece": self.ece}
        if not np.isnan(self.smooth_ece):
            values["smooth_ece"] = self.smooth_ece
        if self.classwise_ece is not None:
            values["classwise_ece"] = float(np.mean(self.classwise_ece))
        if self.classwise_smooth_ece is not None:
            values["classwise_smooth_ece"] = float(np.mean(self.classwise_smooth_ece))
        return values


def calibration_errors(
    tally: Tally, *, bins: int = ECE_BINS, smooth: bool = True
) -> CalibrationErrors:
    """Binned and smooth ECE: top-label and classwise for multiclass, see the module notes.

    Parameters
    ----------
    tally : Tally
    bins : int, default=15
        Equal-width bins of the binned ECE.
    smooth : bool, default=True
        Compute the smooth ECE too (the costlier part).

    Returns
    -------
    CalibrationErrors

    Examples
    --------
    >>> from lossgap import Predictions
    >>> prob = np.array([[0.7, 0.2, 0.1], [0.3, 0.6, 0.1], [0.2, 0.2, 0.6], [0.5, 0.4, 0.1]])
    >>> errors = calibration_errors(Tally.from_predictions(Predictions([0, 1, 2, 1], prob)))
    >>> round(errors.ece, 4), errors.classwise_ece.round(4).tolist()
    (0.4, [0.325, 0.35, 0.175])
    """
    if bins < 1:
        msg = f"the ECE needs at least one bin, got ece_bins={bins!r}"
        raise InputError(msg)
    scale = _counts_scale(tally)
    if tally.task == "binary" or tally.top_label is None:
        table = tally.tables[0]
        value, sigma = _smooth_ece_and_sigma(table, scale) if smooth else (np.nan, np.nan)
        return CalibrationErrors(
            float(binned_ece(table.scores, table.weights[:, 0], table.weights[:, 1], bins=bins)),
            value,
            None,
            None,
            bins,
            sigma,
        )
    top = tally.top_label
    return CalibrationErrors(
        float(binned_ece(top.scores, top.weights[:, 0], top.weights[:, 1], bins=bins)),
        _smooth_ece_of_table(top, scale) if smooth else float("nan"),
        np.array(
            [
                binned_ece(t.scores, t.weights[:, 0], t.weights[:, 1], bins=bins)
                for t in tally.tables
            ]
        ),
        np.array([_smooth_ece_of_table(t, scale) for t in tally.tables]) if smooth else None,
        bins,
    )

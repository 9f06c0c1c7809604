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
  samples.

References
----------
Blasiok, J., & Nakkiran, P. (2023). Smooth ECE: Principled reliability diagrams via kernel
smoothing. https://arxiv.org/abs/2309.12236
"""

from __future__ import annotations

import numpy as np

from lossgap.pooling import pool_table
from lossgap.tally import Tally

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


#: relplot's settings: at least 200 evaluation points, bandwidth search from 1 down to 1e-3.
_MESH_POINTS = 200
_DENSITY_EPS = 1e-4


def _smooth_ece_at(sigma: float, scores: np.ndarray, residual: np.ndarray, mass: np.ndarray) -> float:
    from relplot.kernels import ReflectedGaussianKernel  # slow to import (pandas, seaborn)

    grid = np.linspace(0.0, 1.0, max(round(10 / sigma), _MESH_POINTS))
    kernel = ReflectedGaussianKernel(sigma)
    smoothed = kernel.apply(scores, residual, grid)
    density = kernel.apply(scores, mass, grid) + _DENSITY_EPS
    return float(np.sum(np.abs(smoothed / density) * density) / np.sum(density))


def smooth_ece(
    scores: np.ndarray, w_neg: np.ndarray, w_pos: np.ndarray, *, sigma: float | None = None
) -> tuple[float, float]:
    """Smooth ECE of weighted scores and the bandwidth used.

    Weights are deposited as given, so pass counts (or weights rescaled to the sample
    count) for relplot's density floor to mean the same. With ``sigma=None`` the bandwidth
    is relplot's fixed point ``sigma = smECE(sigma)``; bootstrap replicates pass the point
    estimate's bandwidth.

    Examples
    --------
    >>> import relplot
    >>> rng = np.random.default_rng(0)
    >>> p = rng.uniform(size=500); y = (rng.uniform(size=500) < p**2).astype(float)
    >>> ours, _ = smooth_ece(p, 1.0 - y, y)
    >>> bool(np.isclose(ours, relplot.smECE(p, y), rtol=1e-9))
    True
    """
    from relplot.metrics import search_param

    mass = w_neg + w_pos
    residual = mass * scores - w_pos
    if sigma is None:
        sigma = search_param(
            lambda s: s < 1e-3 or s < _smooth_ece_at(s, scores, residual, mass), start=1, refine=10
        )
    return _smooth_ece_at(sigma, scores, residual, mass), sigma


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
    values = []
    for table in tally.tables:
        pooled = pool_table(table, SMOOTH_ROWS)
        values.append(smooth_ece(pooled.scores, *(pooled.weights.T * scale))[0])
    return float(np.mean(values))

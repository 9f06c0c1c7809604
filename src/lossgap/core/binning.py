"""Scores into the fixed bins of :func:`lossgap.core.tally.bin_keys` in one pass, without sorting.

A score table that is compressed anyway (a batch merging into a compressed Tally) needs no
sort: each sample adds its weight, its score and its extremes to its bin. The bins of
scores in ``[2^-LOW_BINADES, 1)`` form one dense range of keys (258,050 at 11 bits),
accumulated into one array; the rare scores outside it (below ``2^-64``, and exact ones)
take the sorting path of :mod:`lossgap.core.tally` and the two tables merge.

Two implementations give identical results, bit for bit:

* a kernel compiled by numba (``pip install lossgap[fast]``), one loop over the rows that
  releases the GIL, so the streaming engine's worker threads run it side by side;
* numpy: the keys from :func:`~lossgap.core.tally.bin_keys`, the sums from ``np.bincount``
  (which adds in row order, as the loop does), the extremes from ``np.minimum.at`` and
  ``np.maximum.at``.

``LOSSGAP_NUMBA=0`` in the environment selects numpy even when numba is installed.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np

#: Binades below 1/2 (in ``p`` and in ``1 - p``) held in the dense range of bins.
LOW_BINADES = 64
#: Bin resolutions the dense range serves (2^bits bins per binade); finer ones sort.
MAX_DENSE_BITS = 14

_MANTISSA_BITS = 52
_HALF_BITS = int(np.float64(0.5).view(np.int64))


def dense_range(bits: int) -> tuple[int, int]:
    """The first and last bin key of the dense range at ``bits`` mantissa bits.

    Examples
    --------
    >>> low, high = dense_range(11)
    >>> high - low + 1  # 63 binades on each side of 1/2 at 2**11 bins each, and two at 1/2
    258050
    """
    shift = _MANTISSA_BITS - bits
    low = int(np.float64(2.0**-LOW_BINADES).view(np.int64)) >> shift
    return low, 2 * (_HALF_BITS >> shift) + 1 - low


@cache
def _compiled() -> Any:
    """The numba kernel, compiled on first use (cached on disk), or None without numba."""
    if os.environ.get("LOSSGAP_NUMBA", "1") == "0":
        return None
    try:
        import numba
    except ImportError:
        return None

    @numba.njit(nogil=True, cache=True)
    def accumulate(scores, labels, weights, shift, first, last, acc):
        # acc[b] = (rows, negative weight, positive weight, score sum, low, high): a bin's
        # six sums share a cache line, so a row costs one miss however the scores fall
        bits = np.empty(1, dtype=np.float64)
        as_int = bits.view(np.int64)
        mirror = 2 * (_HALF_BITS >> shift) + 1
        outside = 0
        for i in range(scores.shape[0]):
            p = scores[i] + 0.0
            if p <= 0.5:
                bits[0] = p
                key = as_int[0] >> shift
            else:
                bits[0] = 1.0 - p
                key = mirror - (as_int[0] >> shift)
            if key < first or key > last:
                outside += 1
                continue
            row = acc[key - first]
            row[0] += 1.0
            if row[0] == 1.0:  # the bin's first row: its extremes start here
                row[4] = p
                row[5] = p
            if weights.shape[0] == 0:
                if labels[i]:
                    row[2] += 1.0
                else:
                    row[1] += 1.0
                row[3] += p
            else:
                w = weights[i]
                row[1] += w * (1 - labels[i])
                row[2] += w * labels[i]
                row[3] += p * w
            if p < row[4]:
                row[4] = p
            if p > row[5]:
                row[5] = p
        return outside

    return accumulate


_BUFFERS = threading.local()


def _buffer(rows: int) -> np.ndarray:
    """This thread's zeroed ``(rows, 6)`` accumulator, kept between batches: a fresh one
    would cost a page fault per 4 KiB of its 12 MiB on every batch."""
    acc = getattr(_BUFFERS, "acc", None)
    if acc is None or len(acc) != rows:
        acc = _BUFFERS.acc = np.zeros((rows, 6))
    return acc


def compiled_available() -> bool:
    """True when the numba kernel is in use."""
    return _compiled() is not None


def dense_bins(
    scores: np.ndarray,
    labels: np.ndarray,
    weights: np.ndarray | None,
    bits: int,
    keys_of: Callable[[np.ndarray, int], np.ndarray],
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Per-bin sums over the dense range, and the positions of the scores outside it.

    ``keys_of`` is :func:`lossgap.core.tally.bin_keys` (passed in: the Tally calls this
    module), which the numpy path and the search for outside scores use.

    Returns
    -------
    sums : dict
        ``bins`` (occupied keys, ascending), ``neg`` and ``pos`` (weight of each class),
        ``score_sum`` (weighted sum of the scores), ``low`` and ``high`` (extremes).
    outside : ndarray of int64
        Rows whose bin lies outside the dense range (for the sorting path).

    Examples
    --------
    >>> from lossgap.core.tally import bin_keys
    >>> s, y = np.array([0.2, 0.2000001, 0.9, 1.0]), np.array([0, 1, 1, 1])
    >>> sums, outside = dense_bins(s, y, None, 11, bin_keys)
    >>> sums["neg"].tolist(), sums["pos"].tolist(), outside.tolist()
    ([1.0, 0.0], [1.0, 1.0], [3])
    """
    first, last = dense_range(bits)
    shift = _MANTISSA_BITS - bits
    s = np.ascontiguousarray(scores, dtype=np.float64)
    y = np.ascontiguousarray(labels, dtype=np.int64)
    kernel = _compiled()
    if kernel is not None:
        acc = _buffer(last - first + 1)
        w = np.empty(0) if weights is None else np.ascontiguousarray(weights, dtype=np.float64)
        outside_count = kernel(s, y, w, shift, first, last, acc)
        if outside_count:
            keys = keys_of(s, bits)
            outside = np.flatnonzero((keys < first) | (keys > last))
        else:
            outside = np.empty(0, np.int64)
    else:
        acc = np.zeros((last - first + 1, 6))
        outside = _accumulate_numpy(s, y, weights, keys_of(s, bits), first, last, acc)
    occupied = np.flatnonzero(acc[:, 0])
    used = acc[occupied]
    acc[occupied] = 0.0  # the thread's buffer is clean for its next batch
    sums = {
        "bins": occupied + first,
        "neg": used[:, 1].copy(),
        "pos": used[:, 2].copy(),
        "score_sum": used[:, 3].copy(),
        "low": used[:, 4].copy(),
        "high": used[:, 5].copy(),
    }
    return sums, outside


def _accumulate_numpy(
    s: np.ndarray,
    y: np.ndarray,
    weights: np.ndarray | None,
    keys: np.ndarray,
    first: int,
    last: int,
    acc: np.ndarray,
) -> np.ndarray:
    """The kernel's sums with numpy, into ``acc``; returns the rows outside the range.

    ``np.bincount`` adds its weights in row order and ``ufunc.at`` applies them in row
    order, as the kernel's loop does, so every sum is the same double.
    """
    size = len(acc)
    inside = (keys >= first) & (keys <= last)
    index = keys[inside] - first
    p, yi = s[inside] + 0.0, y[inside]
    acc[:, 0] = np.bincount(index, minlength=size)
    if weights is None:
        acc[:, 2] = np.bincount(index, weights=yi.astype(np.float64), minlength=size)
        acc[:, 1] = acc[:, 0] - acc[:, 2]
        acc[:, 3] = np.bincount(index, weights=p, minlength=size)
    else:
        wi = np.asarray(weights, dtype=np.float64)[inside]
        acc[:, 1] = np.bincount(index, weights=wi * (1 - yi), minlength=size)
        acc[:, 2] = np.bincount(index, weights=wi * yi, minlength=size)
        acc[:, 3] = np.bincount(index, weights=p * wi, minlength=size)
    low, high = np.full(size, np.inf), np.full(size, -np.inf)
    np.minimum.at(low, index, p)
    np.maximum.at(high, index, p)
    acc[:, 4], acc[:, 5] = low, high
    return np.flatnonzero(~inside)

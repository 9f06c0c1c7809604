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

A binary batch needs more than its table: :func:`binary_batch` takes each sample's log
loss (computed by numpy, so both paths read the same numbers) and, in the same pass,
accumulates every sum of the :class:`~lossgap.Tally` (weights, losses, Brier score, the
confusion matrix and its losses) and collects the rows that may be among the worst
samples. Its numpy twin adds in row order too (``np.bincount``), so the two agree bit for bit.

``LOSSGAP_NUMBA=0`` in the environment selects numpy even when numba is installed.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from functools import cache
from typing import Any

import numpy as np

#: Binades below 1/2 (in ``p`` and in ``1 - p``) held in the dense range of bins.
LOW_BINADES = 64
#: Bin resolutions the dense range serves (2^bits bins per binade); finer ones sort.
MAX_DENSE_BITS = 14

_MANTISSA_BITS = 52
_HALF_BITS = int(np.float64(0.5).view(np.int64))
#: Odd 64-bit multiplier of the scores' hash (2^64 over the golden ratio, as int64).
_HASH_MULTIPLIER = 0x9E3779B97F4A7C15 - 2**64


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
    return low, _mirror(shift) - low


def _mirror(shift: int) -> int:
    """The key of ``p > 1/2`` is this less the key of ``1 - p`` (:func:`bin_keys`)."""
    return 2 * (_HALF_BITS >> shift) + 1


#: Binary sums :func:`binary_batch` returns, in the order of the kernel's ``sums`` array.
BINARY_SUMS = (
    "weight",
    "weight_sq",
    "loss_sum",
    "loss_sq_sum",
    "clipped_loss_sum",
    "infinite_weight",
    "infinite_count",
    "brier_sum",
)


@cache
def _compiled() -> Any:
    """The numba kernels (``accumulate``, ``binary``, ``true_class_prob``), compiled on
    first use (cached on disk), or None without numba."""
    if os.environ.get("LOSSGAP_NUMBA", "1") == "0":
        return None
    try:
        from lossgap.core import binning_kernels
    except ImportError:
        return None
    return binning_kernels.accumulate, binning_kernels.binary, binning_kernels.true_class_prob


_BUFFERS = threading.local()


def _buffer(rows: int) -> np.ndarray:
    """This thread's clean ``(rows, 6)`` accumulator, kept between batches: a fresh one
    would cost a page fault per 4 KiB of its 12 MiB on every batch."""
    acc = getattr(_BUFFERS, "acc", None)
    if acc is None or len(acc) != rows:
        acc = _BUFFERS.acc = _empty_bins(rows)
    return acc


def _empty_bins(rows: int) -> np.ndarray:
    """``rows`` bins without a sample: zero sums, extremes at +inf (low) and -inf (high)."""
    acc = np.zeros((rows, 6))
    acc[:, 4], acc[:, 5] = np.inf, -np.inf
    return acc


def compiled_available() -> bool:
    """True when the numba kernel is in use."""
    return _compiled() is not None


@contextlib.contextmanager
def numpy_unless_loaded() -> Iterator[None]:
    """Within: the numpy kernels, unless the kernels were chosen already in this process
    (numba's loaded, or ``LOSSGAP_NUMBA`` set); afterwards the choice is made afresh.

    For a fresh process with a few million rows: loading numba and its cached kernels costs
    about 0.5 s of CPU, more than they save (0.11 s of ``explain`` at one million rows).
    Both give the same numbers, bit for bit.
    """
    if _compiled.cache_info().currsize or "LOSSGAP_NUMBA" in os.environ:
        yield
        return
    os.environ["LOSSGAP_NUMBA"] = "0"
    try:
        yield
    finally:
        del os.environ["LOSSGAP_NUMBA"]
        _compiled.cache_clear()


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
    kernels = _compiled()
    if kernels is not None:
        acc = _buffer(last - first + 1)
        w = np.empty(0) if weights is None else np.ascontiguousarray(weights, dtype=np.float64)
        outside_count, *touched = kernels[0](s, y, w, shift, _mirror(shift), first, last, acc)
        outside = _outside_rows(s, bits, keys_of, outside_count)
        return _occupied(acc, first, weights is None, (touched[0], touched[1])), outside
    acc = _empty_bins(last - first + 1)
    outside = _accumulate_numpy(s, y, weights, keys_of(s, bits), first, last, acc)
    return _occupied(acc, first, weights is None), outside


def _occupied(
    acc: np.ndarray, first: int, unweighted: bool, touched: tuple[int, int] | None = None
) -> dict[str, np.ndarray]:
    """The sums of the occupied bins of ``acc``, which is left clean for the next batch.

    ``touched``: the first and last bin the kernel touched, so that only those are read
    (a batch of real scores spans a fifth of the 258,050 bins; reading all of them costs
    as much as merging). Unweighted, the kernel counts rows and positives only: the
    negatives are the rest.
    """
    if touched is not None:
        lowest, highest = touched
        if highest < lowest:
            acc = acc[:0]
        else:
            acc, first = acc[lowest : highest + 1], first + lowest
    occupied = np.flatnonzero(acc[:, 0])
    used = acc[occupied]
    acc[occupied] = (0.0, 0.0, 0.0, 0.0, np.inf, -np.inf)
    return {
        "bins": occupied + first,
        "neg": used[:, 0] - used[:, 2] if unweighted else used[:, 1].copy(),
        "pos": used[:, 2].copy(),
        "score_sum": used[:, 3].copy(),
        "low": used[:, 4].copy(),
        "high": used[:, 5].copy(),
    }


def _outside_rows(s: np.ndarray, bits: int, keys_of: Callable[[np.ndarray, int], np.ndarray],
                  count: int) -> np.ndarray:
    """Positions of the ``count`` scores whose bins lie outside the dense range."""
    if not count:
        return np.empty(0, np.int64)
    first, last = dense_range(bits)
    keys = keys_of(s, bits)
    return np.flatnonzero((keys < first) | (keys > last))


@dataclass(frozen=True)
class BinaryBatch:
    """What :func:`binary_batch` gathers from one binary batch in one pass.

    Attributes
    ----------
    table : dict
        The dense bins' sums, as :func:`dense_bins` returns them.
    outside : ndarray of int64
        Rows whose bin lies outside the dense range (for the sorting path).
    sums : dict
        ``BINARY_SUMS`` by name; ``clipped_loss_sum`` of the finite losses only.
    cells : ndarray of shape (4, 2)
        Per cell ``y * 2 + decided``: the weight and the weighted capped loss.
    candidates : ndarray of int64 or None
        Rows that hold the ``top`` highest losses (and perhaps others); None: any row.
    distinct_floor : int
        A lower bound on the number of distinct scores (0 unless asked for): the distinct
        values of a hash of the scores, of which there cannot be more than there are
        distinct scores (:func:`distinct_floor`).
    """

    table: dict[str, np.ndarray]
    outside: np.ndarray
    sums: dict[str, float]
    cells: np.ndarray
    candidates: np.ndarray | None
    distinct_floor: int = 0


def binary_batch(
    scores: np.ndarray,
    labels: np.ndarray,
    weights: np.ndarray | None,
    loss: np.ndarray,
    *,
    threshold: float,
    clip: float,
    bits: int,
    top: int,
    keys_of: Callable[[np.ndarray, int], np.ndarray],
    distinct_above: int = 0,
) -> BinaryBatch:
    """Bins and every sum of a binary batch in one pass over its rows.

    ``loss`` is each row's log loss (``inf`` allowed), ``clip`` the cap of a capped loss;
    rows are decided positive at ``scores >= threshold``. Both paths add in row order, so
    they give the same doubles. ``distinct_above > 0`` also counts a lower bound on the
    distinct scores, sized to tell apart counts above ``distinct_above``
    (``distinct_floor``).

    Examples
    --------
    >>> from lossgap.core.tally import bin_keys
    >>> s, y = np.array([0.2, 0.9, 0.6]), np.array([0, 1, 0])
    >>> loss = -np.log(np.where(y == 1, s, 1 - s))
    >>> out = binary_batch(s, y, None, loss, threshold=0.5, clip=34.5, bits=11, top=1,
    ...                    keys_of=bin_keys)
    >>> out.cells[:, 0].tolist(), round(out.sums["brier_sum"], 2)
    ([1.0, 1.0, 0.0, 1.0], 0.41)
    """
    first, last = dense_range(bits)
    shift = _MANTISSA_BITS - bits
    s = np.ascontiguousarray(scores, dtype=np.float64)
    y = np.ascontiguousarray(labels, dtype=np.int64)
    values = np.ascontiguousarray(loss, dtype=np.float64)
    kernels = _compiled()
    hash_bits = _hash_bits(distinct_above) if distinct_above > 0 else 0
    if kernels is None:
        batch = _binary_numpy(s, y, weights, values, threshold, clip, bits, keys_of)
        if hash_bits:
            batch = replace(batch, distinct_floor=distinct_floor(s, hash_bits))
        return batch
    acc = _buffer(last - first + 1)
    w = np.empty(0) if weights is None else np.ascontiguousarray(weights, dtype=np.float64)
    totals = np.zeros(len(BINARY_SUMS))
    cells = np.zeros((4, 2))
    candidates = np.empty(max(8 * top, 4096), np.int64)
    seen = np.zeros((1 << hash_bits) // 64 if hash_bits else 0, np.int64)
    outside, held, *touched = kernels[1](
        s, y, w, values, threshold, clip, shift, _mirror(shift), first, last, acc, totals,
        cells, candidates, top, seen, _HASH_MULTIPLIER, hash_bits,
    )
    return BinaryBatch(
        _occupied(acc, first, weights is None, (touched[0], touched[1])),
        _outside_rows(s, bits, keys_of, outside),
        dict(zip(BINARY_SUMS, totals.tolist(), strict=True)),
        cells,
        candidates[:held].copy() if held >= 0 else None,
        int(np.bitwise_count(seen.view(np.uint64)).sum()) if hash_bits else 0,
    )


def _hash_bits(distinct_above: int) -> int:
    """Bits of the hash that bounds the distinct scores from below: a table of four times
    ``distinct_above`` slots, whose occupied slots exceed ``distinct_above`` once the
    distinct scores exceed it by a fifth (expected occupancy ``m (1 - exp(-d / m))``)."""
    return max(12, int(distinct_above).bit_length() + 2)


def distinct_floor(scores: np.ndarray, hash_bits: int) -> int:
    """A lower bound on the number of distinct values of ``scores`` (``-0.0`` is ``0.0``),
    without sorting: the number of distinct values of a ``hash_bits``-bit hash of them.

    A function takes no more distinct values than its argument, so this never exceeds
    the true count; it falls short of it only where scores share a hash. The compiled
    kernel computes the same hash in :func:`binary_batch`.

    Examples
    --------
    >>> distinct_floor(np.array([0.25, 0.5, 0.25, -0.0, 0.0]), 16)
    3
    """
    bits = (np.ascontiguousarray(scores, dtype=np.float64) + 0.0).view(np.int64)
    with np.errstate(over="ignore"):
        hashes = ((bits * np.int64(_HASH_MULTIPLIER)) >> (64 - hash_bits)) & (
            (1 << hash_bits) - 1
        )
    flags = np.zeros(1 << hash_bits, dtype=bool)
    flags[hashes] = True
    return int(np.count_nonzero(flags))


def binary_log_loss(scores: np.ndarray, labels: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Each sample's log loss, ``-log p`` for a positive and ``-log(1 - p)`` for a negative
    (``inf`` at a probability of 0), into ``out``.

    The same doubles as :func:`lossgap.core.losses.sample_log_loss`: the true class's
    probability is a select (by the compiled kernel where there is one: numpy's ``where``
    costs ten times as much), its logarithm numpy's in both paths.

    Examples
    --------
    >>> loss = binary_log_loss(np.array([0.5, 0.0, 0.75]), np.array([1, 0, 0]), np.empty(3))
    >>> loss.round(4).tolist()
    [0.6931, 0.0, 1.3863]
    """
    kernels = _compiled()
    if kernels is None:
        np.subtract(1.0, scores, out=out)
        np.copyto(out, scores, where=labels == 1)
    else:
        kernels[2](scores, labels, out)
    with np.errstate(divide="ignore"):
        np.log(out, out=out)
    return np.negative(out, out=out)


def _in_order(values: np.ndarray) -> float:
    """The sum of ``values`` added one after another (as the kernel's loop adds them)."""
    return float(np.bincount(np.zeros(len(values), np.intp), values, minlength=1)[0])


def _binary_numpy(
    s: np.ndarray,
    y: np.ndarray,
    weights: np.ndarray | None,
    loss: np.ndarray,
    threshold: float,
    clip: float,
    bits: int,
    keys_of: Callable[[np.ndarray, int], np.ndarray],
) -> BinaryBatch:
    """:func:`binary_batch` with numpy: the kernel's sums, in the kernel's order."""
    first, last = dense_range(bits)
    acc = _empty_bins(last - first + 1)
    outside = _accumulate_numpy(s, y, weights, keys_of(s, bits), first, last, acc)
    w = None if weights is None else np.asarray(weights, dtype=np.float64)

    def weighted(x: np.ndarray, rows: np.ndarray | slice = slice(None)) -> np.ndarray:
        return x[rows] if w is None else w[rows] * x[rows]

    capped = np.where(loss <= clip, loss, clip)
    cell = y * 2 + (s + 0.0 >= threshold)
    cells = np.column_stack(
        [
            np.bincount(cell, w, minlength=4).astype(np.float64),
            np.bincount(cell, weighted(capped), minlength=4),
        ]
    )
    infinite = loss == np.inf
    finite = np.flatnonzero(~infinite)
    counted = infinite if w is None else infinite & (w > 0)
    gap = s + 0.0 - y
    n = float(len(s))
    sums = {
        "weight": n if w is None else _in_order(w),
        "weight_sq": n if w is None else _in_order(w * w),
        "loss_sum": _in_order(weighted(loss, finite)),
        "loss_sq_sum": _in_order(weighted(loss * loss, finite)),
        "clipped_loss_sum": _in_order(weighted(capped, finite)),
        "infinite_weight": _in_order(weighted(np.ones(len(s)), np.flatnonzero(counted))),
        "infinite_count": float(counted.sum()),
        "brier_sum": _in_order(weighted(gap * gap)),
    }
    return BinaryBatch(_occupied(acc, first, weights is None), outside, sums, cells, None)


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

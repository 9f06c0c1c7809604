"""Scores into the fixed bins of :func:`lossgap.core.tally.bin_keys` in one pass, without sorting.

A score table that is compressed anyway (a batch merging into a compressed Tally) needs no
sort: each sample adds its weight, its score and its extremes to its bin. The bins of
scores in ``[2^-LOW_BINADES, 1)`` form one dense range of keys (258,050 at 11 bits),
accumulated into one array; the rare scores outside it (below ``2^-64``, and exact ones)
take the sorting path of :mod:`lossgap.core.tally` and the two tables merge.

A binary batch needs more than its table: :class:`BinaryBins` takes each sample's log
loss (computed by numpy, so both paths read the same numbers) and adds, besides the bins,
every sum of the :class:`~lossgap.Tally` (weights, losses, Brier score, the confusion
matrix and its losses), and collects the rows that may be among the worst samples. It
keeps adding batch after batch into the same bins (one per worker thread of the streaming
engine) and is read once: a batch costs one pass over its rows, no table and no merge.

Two implementations:

* kernels compiled by numba (``pip install lossgap[fast]``) that release the GIL, so the
  streaming engine's worker threads run them side by side: one pass over a batch, in
  blocks of rows held in the L1 cache (their bins, codes and log losses in SIMD loops,
  then the scatter into the bins, the totals and the test for the worst samples);
* numpy: the keys from :func:`~lossgap.core.tally.bin_keys`, the counts from
  ``np.bincount``, the per-bin sums from ``np.add.at`` and the extremes from
  ``np.minimum.at`` and ``np.maximum.at`` (which apply in row order, onto what the bins
  already hold, as the loop does), the totals from numpy's sums.

The bins, their counts, extremes and per-bin sums are the same doubles either way; the
totals of a batch (:data:`BINARY_SUMS` and the confusion cells) agree to
:data:`TOTALS_RTOL` (the order of additions: the kernel adds in SIMD lanes, block by
block; counts of unweighted rows are integers and exact). Raw labels checked in the pass
(:meth:`BinaryBins.add_labels`) take their log losses from the kernel's own logarithm
(fdlibm's, within 1 ulp of numpy's), which moves the loss totals by a few 1e-16 relative;
the worst samples' losses are numpy's either way.

``LOSSGAP_NUMBA=0`` in the environment selects numpy even when numba is installed.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
import threading
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

#: Binades below 1/2 (in ``p`` and in ``1 - p``) held in the dense range of bins.
LOW_BINADES = 64
#: Bin resolutions the dense range serves (2^bits bins per binade); finer ones sort.
MAX_DENSE_BITS = 14
#: Relative agreement of a batch's totals between the compiled kernel and numpy (and the
#: general Tally): they add the same numbers in different orders.
TOTALS_RTOL = 1e-12

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


#: Binary sums :class:`BinaryBins` adds, in the order of its ``totals`` array.
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


def kernel_module(name: str) -> Any:
    """The module ``lossgap.core.NAME`` of numba kernels (compiled on first use, cached on
    disk), or None without numba or with ``LOSSGAP_NUMBA=0``: the one switch of every
    compiled path, each with its numpy twin.

    Examples
    --------
    >>> import os
    >>> os.environ["LOSSGAP_NUMBA"] = "0"
    >>> kernel_module("binning_kernels") is None
    True
    >>> del os.environ["LOSSGAP_NUMBA"]
    """
    off = _SWITCH_OFF.get()
    if off is None:
        off = _switch_off()
    if off:
        return None
    module = _KERNEL_MODULES.get(name)
    if module is None:
        try:
            module = importlib.import_module(f"lossgap.core.{name}")
        except ImportError:  # numba is not installed
            return None
        _KERNEL_MODULES[name] = module
    return module


def _switch_off() -> bool:
    """``LOSSGAP_NUMBA=0`` is set: numpy everywhere."""
    return os.environ.get("LOSSGAP_NUMBA", "1") == "0"


#: The switch as :func:`switch_read_once` read it for the work running in this context
#: (this thread's), else None: read from the environment at every call.
_SWITCH_OFF: ContextVar[bool | None] = ContextVar("lossgap_numba_off", default=None)


@contextlib.contextmanager
def switch_read_once() -> Iterator[None]:
    """Within: :func:`kernel_module` reads ``LOSSGAP_NUMBA`` once, here, rather than at
    each of its calls (about 50 an evaluation at 0.5-1 us each, most of it
    ``os.environ``'s look-up). The choice holds in this thread's context only: other
    threads, and the work after the block, read the environment as before.

    Examples
    --------
    >>> import os
    >>> with switch_read_once():
    ...     before = kernel_module("binning_kernels")
    ...     os.environ["LOSSGAP_NUMBA"] = "0"  # too late for this block
    ...     kernel_module("binning_kernels") is before
    True
    >>> kernel_module("binning_kernels") is None
    True
    >>> del os.environ["LOSSGAP_NUMBA"]
    """
    token = _SWITCH_OFF.set(_switch_off())
    try:
        yield
    finally:
        _SWITCH_OFF.reset(token)


#: The kernel modules :func:`kernel_module` has imported, each stored once its import has
#: returned, so no thread is handed a module another is still importing; about 70 calls an
#: evaluation then cost a dictionary look-up rather than an import (1.3 us each).
_KERNEL_MODULES: dict[str, Any] = {}


@cache
def _compiled() -> Any:
    """The binning kernels (:func:`kernel_module`), or None."""
    return kernel_module("binning_kernels")


_BUFFERS = threading.local()


def _buffer(rows: int, weighted: bool) -> np.ndarray:
    """This thread's clean accumulator of ``rows`` bins (:func:`_empty_bins`), kept between
    batches: a fresh one would cost a page fault per 4 KiB of its 8 or 12 MiB on every
    batch."""
    name = "weighted" if weighted else "packed"
    acc = getattr(_BUFFERS, name, None)
    if acc is None or len(acc) != rows:
        acc = _empty_bins(rows, weighted)
        setattr(_BUFFERS, name, acc)
    return acc


#: Rows the kernel bins in one call (a batch in memory may hold any number): unweighted
#: bins fold their packed counts out between calls (:data:`_FOLD_ROWS`).
_CHUNK_ROWS = 1 << 20


#: Rows that unweighted bins take before their packed counts are folded out (no bin's
#: count may reach 2^32 and carry into its positives).
_FOLD_ROWS = (1 << 32) - 1
_LOW_32 = (1 << 32) - 1


def _empty_bins(rows: int, weighted: bool) -> np.ndarray:
    """``rows`` bins without a sample: zero sums, extremes at +inf (low) and -inf (high).

    Weighted, a bin is ``(rows, negative weight, positive weight, score sum, low, high)``;
    unweighted, ``(counts, score sum, low, high)``, its rows in the low 32 bits of the int64
    ``counts`` and its positives in the high 32 bits, so one addition counts both and a bin
    takes 32 bytes, two to a cache line (48 bytes straddle lines: the scatter into the bins
    costs 19% more with both worker threads at work). :class:`BinaryBins` keeps one more,
    last, bin, where the kernel adds the rows outside the dense range without a branch.
    """
    acc = np.zeros((rows, 6 if weighted else 4))
    acc[:, -2], acc[:, -1] = np.inf, -np.inf
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
    Both give the same bins and counts; the totals agree to :data:`TOTALS_RTOL` (the
    kernel adds them in SIMD lanes: 6.5e-15 relative at a million uniform scores).
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


class BinaryBins:
    """The dense bins and the sums of binary rows, added batch after batch, read once.

    Not a result: a running accumulator that one thread owns. :meth:`add` adds a batch's
    rows (its bins, every sum, and the rows that may be among its worst samples);
    :meth:`add_labels` does the same for raw labels and scores that it checks first;
    :meth:`bin` adds their bins alone; :meth:`read` returns the occupied bins and leaves
    the accumulator clean.

    Parameters
    ----------
    bits : int
        The bin resolution (at most :data:`MAX_DENSE_BITS`).
    weighted : bool
        Whether the rows come with weights (every batch alike).
    keys_of : callable
        :func:`lossgap.core.tally.bin_keys` (passed in: the Tally calls this module), for
        the numpy path.
    shared : bool, default=False
        Accumulate into this thread's buffer (read before the thread bins anything else)
        instead of one of its own.

    Examples
    --------
    >>> from lossgap.core.tally import bin_keys
    >>> bins = BinaryBins(11, weighted=False, keys_of=bin_keys)
    >>> s, y = np.array([0.2, 0.9, 0.6]), np.array([0, 1, 0])
    >>> loss = -np.log(np.where(y == 1, s, 1 - s))
    >>> candidates, outside = bins.add(s, y, None, loss, threshold=0.5, clip=34.5, top=1)
    >>> bins.add(s, y, None, loss, threshold=0.5, clip=34.5, top=1)[1].tolist()  # no outside
    []
    >>> bins.sums()["weight"], bins.cells[:, 0].tolist(), bins.read()["pos"].tolist()
    (6.0, [2.0, 2.0, 0.0, 2.0], [0.0, 0.0, 2.0])
    """

    def __init__(
        self,
        bits: int,
        *,
        weighted: bool,
        keys_of: Callable[[np.ndarray, int], np.ndarray],
        shared: bool = False,
    ) -> None:
        first, last = dense_range(bits)
        self.bits, self.first, self.shift = bits, first, _MANTISSA_BITS - bits
        self.weighted = weighted
        self.keys_of = keys_of
        self.kernels = _compiled()
        self.size = last - first + 1
        # and a spare last bin for the kernel's rows outside the range; read() empties both
        rows = self.size + 1
        self.acc = _buffer(rows, weighted) if shared else _empty_bins(rows, weighted)
        self.touched = np.array([self.size, -1], np.int64)  # the lowest and highest bin used
        # unweighted: rows and positives folded out of the packed counts, rows since then
        self.folded: np.ndarray | None = None
        self.since_fold = 0
        self.totals = np.zeros(len(BINARY_SUMS))
        self.cells = np.zeros((4, 2))  # per cell y * 2 + decided: weight and capped loss

    def _chunks(self, n: int) -> Iterator[slice]:
        """Rows ``0..n`` in chunks of :data:`_CHUNK_ROWS`, the packed counts folded out
        before any bin could reach 2^32 rows."""
        for start in range(0, n, _CHUNK_ROWS):
            rows = min(n - start, _CHUNK_ROWS)
            if not self.weighted and self.since_fold + rows > _FOLD_ROWS:
                self._fold()
            self.since_fold += rows
            yield slice(start, start + rows)

    def _weights(self, weights: np.ndarray | None) -> np.ndarray | None:
        if (weights is not None) != self.weighted:
            msg = "every batch of one BinaryBins is weighted alike"
            raise ValueError(msg)
        return None if weights is None else np.ascontiguousarray(weights, np.float64)

    def bin(self, scores: np.ndarray, labels: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
        """Add the rows to their bins; returns the rows outside the dense range (for the
        sorting path)."""
        s = np.ascontiguousarray(scores, dtype=np.float64)
        y = np.ascontiguousarray(labels, dtype=np.int64)
        w = self._weights(weights)
        if self.kernels is not None:
            outside = np.empty(len(s), np.int64)
            found = 0
            for part in self._chunks(len(s)):
                found = self.kernels.bin_batch(
                    s[part], y[part], None if w is None else w[part], part.start, self.shift,
                    _mirror(self.shift), self.first, self.acc, self.touched, outside, found,
                )
            return outside[:found].copy()
        outside_rows = []
        for part in self._chunks(len(s)):
            out = self._bin_numpy(s[part], y[part], None if w is None else w[part])
            if len(out):
                outside_rows.append(out + part.start)
        return np.concatenate(outside_rows) if outside_rows else np.empty(0, np.int64)

    def _bin_numpy(self, s: np.ndarray, y: np.ndarray, w: np.ndarray | None) -> np.ndarray:
        rows = self.keys_of(s, self.bits) - self.first
        inside = (rows >= 0) & (rows < self.size)
        index = rows[inside]
        if len(index):
            self.touched[0] = min(self.touched[0], int(index.min()))
            self.touched[1] = max(self.touched[1], int(index.max()))
        _scatter_numpy(self.acc, index, s[inside], y[inside], None if w is None else w[inside])
        return np.flatnonzero(~inside)

    def _fold(self) -> None:
        """Move the packed counts of the bins into doubles (before any can reach 2^32)."""
        lowest, highest = int(self.touched[0]), int(self.touched[1])
        self.since_fold = 0
        if highest < lowest:
            return
        if self.folded is None:
            self.folded = np.zeros((len(self.acc), 2))
        packed = self.acc[lowest : highest + 1, 0].view(np.int64)
        self.folded[lowest : highest + 1, 0] += packed & _LOW_32
        self.folded[lowest : highest + 1, 1] += packed >> 32
        packed[:] = 0

    def add(
        self,
        scores: np.ndarray,
        labels: np.ndarray,
        weights: np.ndarray | None,
        loss: np.ndarray,
        *,
        threshold: float,
        clip: float,
        top: int,
        cutoff: float = -np.inf,
    ) -> tuple[np.ndarray | None, np.ndarray]:
        """Add a batch: its bins and every sum.

        ``labels`` are class codes (1 the positive class, 0 the other), ``loss`` each row's
        log loss (``inf`` allowed), ``clip`` the cap of a capped loss; rows are decided
        positive at ``scores >= threshold``. ``cutoff``: the ``top``-th largest loss of the
        rows before (no row below it can be among the worst).

        Returns
        -------
        candidates : ndarray of int64 or None
            Rows of this batch that hold its ``top`` highest losses at or above ``cutoff``
            (and perhaps others); None: any row.
        outside : ndarray of int64
            Rows whose bin lies outside the dense range (for the sorting path).
        """
        s = np.ascontiguousarray(scores, dtype=np.float64)
        y = np.ascontiguousarray(labels, dtype=np.int64)
        values = np.ascontiguousarray(loss, dtype=np.float64)
        w = self._weights(weights)
        if self.kernels is None:
            outside = self.bin(s, y, w)
            _binary_sums_numpy(s, y, w, values, threshold, clip, self.totals, self.cells)
            return _candidates_numpy(values, top, cutoff), outside
        return self._pass(s, y, 1, w, values, threshold, clip, top, cutoff)

    def add_labels(
        self,
        scores: np.ndarray,
        labels: np.ndarray,
        negative: int,
        positive: int,
        *,
        threshold: float,
        clip: float,
        top: int,
        cutoff: float = -np.inf,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """Add an unweighted batch of raw integer labels, checked first by a pass that
        writes nothing: for a caller that validates only when a row fails.

        As :meth:`add`, but ``labels`` are the labels themselves (``positive`` the positive
        class, ``negative`` the other) and the log losses are computed here. Returns None,
        the bins and sums untouched, when a score is outside ``[0, 1]`` (NaN included) or
        a label is neither class.

        Returns
        -------
        rows : ndarray of int64
            Rows that hold the batch's ``top`` highest losses at or above ``cutoff`` (and
            perhaps others; every row when ties fill the kernel's buffer).
        loss : ndarray of float64
            Their log losses, as :func:`~lossgap.core.losses.sample_log_loss` gives them.
        outside : ndarray of int64
            Rows whose bin lies outside the dense range (for the sorting path).

        Examples
        --------
        >>> from lossgap.core.tally import bin_keys
        >>> bins = BinaryBins(11, weighted=False, keys_of=bin_keys)
        >>> s, y = np.array([0.2, 0.9, 0.6]), np.array([-1, 1, -1])
        >>> rows, loss, outside = bins.add_labels(s, y, -1, 1, threshold=0.5, clip=34.5, top=1)
        >>> rows.tolist(), loss.round(4).tolist()  # a superset: the kernel's buffer is not full
        ([0, 1, 2], [0.2231, 0.1054, 0.9163])
        >>> bins.cells[:, 0].tolist()
        [1.0, 1.0, 0.0, 1.0]
        >>> bins.add_labels(np.array([0.5]), np.array([3]), -1, 1, threshold=0.5, clip=34.5,
        ...                 top=1) is None
        True
        """
        if self.weighted:
            msg = "add_labels takes unweighted batches"
            raise ValueError(msg)
        s = np.ascontiguousarray(scores, dtype=np.float64)
        raw = np.ascontiguousarray(labels, dtype=np.int64)
        n = len(s)
        if self.kernels is None or top == 0:
            codes = None if (negative, positive) == (0, 1) else np.empty(n, np.int64)
            loss, y, bad = coded_log_loss(s, raw, negative, positive, np.empty(n), codes)
            if bad:
                return None
            candidates, outside = self.add(s, y, None, loss, threshold=threshold, clip=clip,
                                           top=top, cutoff=cutoff)
            rows = np.arange(n) if candidates is None else candidates
            return rows, loss[rows], outside
        if self.kernels.check_labels(s, raw, negative, positive):
            return None
        candidates, outside = self._pass(s, raw, positive, None, None, threshold, clip, top,
                                         cutoff)
        if candidates is None:  # ties filled the buffer: every row, numpy's losses
            loss, _, _ = coded_log_loss(s, raw, negative, positive, np.empty(n), None)
            return np.arange(n), loss, outside
        # the kernel's own logarithm chose the rows; their losses are numpy's
        codes = (raw[candidates] == positive).astype(np.int64)
        return candidates, binary_log_loss(s[candidates], codes, np.empty(len(codes))), outside

    def _pass(
        self,
        s: np.ndarray,
        labels: np.ndarray,
        positive: int,
        w: np.ndarray | None,
        loss: np.ndarray | None,
        threshold: float,
        clip: float,
        top: int,
        cutoff: float,
    ) -> tuple[np.ndarray | None, np.ndarray]:
        """The compiled pass over a batch (``loss`` None: computed by the kernel), chunk
        by chunk: (candidates or None, rows outside)."""
        kernels = self.kernels
        candidates = np.empty(max(8 * top, 4096), np.int64)
        held_loss = np.empty(len(candidates))
        cut = np.array([kernels.lowered(cutoff)])
        held = 0 if top > 0 else -1
        outside = np.empty(len(s), np.int64)
        found = 0
        for part in self._chunks(len(s)):
            held, found = kernels.binary_pass(
                s[part], labels[part], positive, None if w is None else w[part],
                None if loss is None else loss[part], part.start, self.shift,
                _mirror(self.shift), self.first, threshold, clip, self.acc, self.touched,
                self.totals, self.cells, top, cut, candidates, held_loss, held, outside, found,
            )
        chosen = None if held < 0 else candidates[:held].copy()
        if top == 0:
            chosen = np.empty(0, np.int64)
        return chosen, outside[:found].copy()

    def sums(self) -> dict[str, float]:
        """:data:`BINARY_SUMS` by name, over every batch added."""
        return dict(zip(BINARY_SUMS, self.totals.tolist(), strict=True))

    def read(self) -> dict[str, np.ndarray]:
        """The occupied bins (``bins``, ascending keys; ``neg`` and ``pos``, the weight of
        each class; ``score_sum``; ``low`` and ``high``), the accumulator left clean."""
        touched = (int(self.touched[0]), int(self.touched[1]))
        self.touched[:] = (self.size, -1)
        self.since_fold = 0
        self.acc[self.size] = _empty_bins(1, self.weighted)[0]  # the kernel's spare bin
        return _occupied(self.acc, self.first, touched, self.folded, self.kernels)


def dense_bins(
    scores: np.ndarray,
    labels: np.ndarray,
    weights: np.ndarray | None,
    bits: int,
    keys_of: Callable[[np.ndarray, int], np.ndarray],
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Per-bin sums over the dense range, and the positions of the scores outside it.

    ``keys_of`` is :func:`lossgap.core.tally.bin_keys` (passed in: the Tally calls this
    module), which the numpy path uses.

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
    bins = BinaryBins(bits, weighted=weights is not None, keys_of=keys_of, shared=True)
    outside = bins.bin(scores, labels, weights)
    return bins.read(), outside


def _occupied(
    acc: np.ndarray,
    first: int,
    touched: tuple[int, int],
    folded: np.ndarray | None,
    kernels: Any = None,
) -> dict[str, np.ndarray]:
    """The sums of the occupied bins of ``acc`` (:func:`_empty_bins`; unweighted, plus
    the counts ``folded`` out of them), which are left clean for the next batch.

    ``touched``: the first and last bin used, so that only those are read (a batch of
    real scores spans a fifth of the 258,050 bins; reading all of them costs as much as
    merging). Unweighted, the bins count rows and positives: the negatives are the rest.
    ``kernels``: the compiled module, whose ``occupied_bins`` gives the same doubles in
    two passes over the span.
    """
    lowest, highest = touched
    if kernels is not None and highest >= lowest:
        position, sums = kernels.occupied_bins(acc, folded, lowest, highest)
        neg, pos, score_sum, low, high = sums
        return {"bins": position + (first + lowest), "neg": neg, "pos": pos,
                "score_sum": score_sum, "low": low, "high": high}
    span = slice(0, 0) if highest < lowest else slice(lowest, highest + 1)
    acc, first = acc[span], first + span.start
    if acc.shape[1] == 6:  # weighted
        occupied = np.flatnonzero(acc[:, 0])
        used = acc[occupied]
        acc[occupied] = (0.0, 0.0, 0.0, 0.0, np.inf, -np.inf)
        neg, pos = used[:, 1], used[:, 2]
    else:
        packed = acc[:, 0].view(np.int64)
        rows, positives = (packed & _LOW_32).astype(np.float64), (packed >> 32).astype(np.float64)
        if folded is not None:
            rows += folded[span, 0]
            positives += folded[span, 1]
            folded[span] = 0.0
        occupied = np.flatnonzero(rows)
        used = acc[occupied]
        acc[occupied] = (0.0, 0.0, np.inf, -np.inf)
        neg, pos = rows[occupied] - positives[occupied], positives[occupied]
    return {
        "bins": occupied + first,
        "neg": neg.copy(),
        "pos": pos.copy(),
        "score_sum": used[:, -3].copy(),  # the last three columns of either layout
        "low": used[:, -2].copy(),
        "high": used[:, -1].copy(),
    }


def _scatter_numpy(
    acc: np.ndarray, index: np.ndarray, s: np.ndarray, y: np.ndarray, w: np.ndarray | None
) -> None:
    """The kernel's scatter with numpy: counts (integers, exact in any order) by
    ``np.bincount``, sums by ``np.add.at`` and extremes by ``np.minimum.at`` and
    ``np.maximum.at``, which apply in row order onto what the bins hold, as the loop does:
    the same doubles."""
    size = len(acc)
    p = s + 0.0
    if w is None:  # packed counts: rows below bit 32, positives above (_empty_bins)
        counts = np.bincount(index, minlength=size)
        counts += np.bincount(index[y == 1], minlength=size) << 32
        packed = acc[:, 0].view(np.int64)
        packed += counts
    else:
        acc[:, 0] += np.bincount(index, minlength=size)
        np.add.at(acc[:, 1], index, w * (1 - y))
        np.add.at(acc[:, 2], index, w * y)
    np.add.at(acc[:, -3], index, p if w is None else p * w)
    np.minimum.at(acc[:, -2], index, p)
    np.maximum.at(acc[:, -1], index, p)


def _binary_sums_numpy(
    s: np.ndarray,
    y: np.ndarray,
    w: np.ndarray | None,
    loss: np.ndarray,
    threshold: float,
    clip: float,
    totals: np.ndarray,
    cells: np.ndarray,
) -> None:
    """The kernel's totals and cells with numpy (the same numbers, in numpy's order)."""
    p = s + 0.0
    finite = loss < np.inf
    capped = np.where(loss <= clip, loss, clip)
    weighted = capped if w is None else w * capped
    cell = y * 2 + (p >= threshold)
    cells[:, 0] += np.bincount(cell, w, minlength=4)
    cells[:, 1] += np.bincount(cell, weighted, minlength=4)
    kept = np.where(finite, loss, 0.0)
    gap = p - y
    counted = ~finite if w is None else ~finite & (w > 0)
    clipped = float(weighted[finite].sum())
    if w is None:
        n = float(len(s))
        add = (n, n, kept.sum(), kept @ kept, clipped, counted.sum(), counted.sum(), gap @ gap)
    else:
        add = (w.sum(), w @ w, w @ kept, w @ (kept * kept), clipped, w[counted].sum(),
               counted.sum(), w @ (gap * gap))
    totals += np.array(add, dtype=np.float64)


def _candidates_numpy(loss: np.ndarray, top: int, cutoff: float) -> np.ndarray:
    """Rows at or above the ``top``-th largest loss and ``cutoff`` (ties included)."""
    n = len(loss)
    if top == 0:
        return np.empty(0, np.int64)
    kth = np.partition(loss, n - top)[n - top] if n > top else -np.inf
    return np.flatnonzero(loss >= max(kth, cutoff))


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
    """Bins and every sum of one binary batch (:meth:`BinaryBins.add`, read at once).

    ``distinct_above > 0`` also counts a lower bound on the distinct scores, sized to tell
    apart counts above ``distinct_above`` (``distinct_floor``).

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
    bins = BinaryBins(bits, weighted=weights is not None, keys_of=keys_of, shared=True)
    candidates, outside = bins.add(
        scores, labels, weights, loss, threshold=threshold, clip=clip, top=top
    )
    floor = 0
    if distinct_above > 0:
        floor = _distinct_floor(scores, _hash_bits(distinct_above), bins.kernels)
    return BinaryBatch(bins.read(), outside, bins.sums(), bins.cells, candidates, floor)


def _distinct_floor(scores: np.ndarray, hash_bits: int, kernels: Any) -> int:
    """:func:`distinct_floor` by the compiled kernel where there is one."""
    if kernels is None:
        return distinct_floor(scores, hash_bits)
    seen = np.zeros((1 << hash_bits) // 64, np.int64)
    s = np.ascontiguousarray(scores, dtype=np.float64)
    kernels.mark_hashes(s, _HASH_MULTIPLIER, hash_bits, seen)
    return int(np.bitwise_count(seen.view(np.uint64)).sum())


def compiled_distinct_floor(scores: np.ndarray, hash_bits: int) -> int:
    """:func:`distinct_floor` by the compiled kernel where there is one
    (:func:`kernel_module`): the same hash, so the same count, without numpy's flag array
    and its scatter (a multiclass Tally's class column: 2.1-2.4 -> 1.1 ms for the 524,288
    rows of its prefix)."""
    return _distinct_floor(scores, hash_bits, _compiled())


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
        binary_true_prob(scores, labels == 1, out)
    else:
        kernels.true_class_prob(scores, labels, out)
    return _negative_log(out)


def binary_true_prob_of_codes(
    scores: np.ndarray, labels: np.ndarray, out: np.ndarray
) -> np.ndarray:
    """:func:`binary_true_prob` of class codes (1 the positive class), into ``out``: by the
    compiled select (:func:`kernel_module`) once numba is loaded, the same doubles (tested),
    numpy's masked copy taking ten times as long (0.6 against 0.06 ms at 1e5 samples). It
    does not load numba itself: a Tally built in a fresh process would pay its import
    (about 0.5 s) for one select.

    Examples
    --------
    >>> binary_true_prob_of_codes(np.array([0.25, 0.75]), np.array([1, 0]), np.empty(2)).tolist()
    [0.25, 0.25]
    """
    kernels = _compiled() if "numba" in sys.modules else None
    if kernels is None:
        return binary_true_prob(scores, labels == 1, out)
    kernels.true_class_prob(scores, labels, out)
    return out


def binary_true_prob(scores: np.ndarray, positive: np.ndarray, out: np.ndarray) -> np.ndarray:
    """The probability each row gives its label, into ``out``: the score where ``positive``,
    else ``1 - score`` (exact for scores of at least 1/2, Sterbenz, so a loss near certainty
    keeps its precision).

    Examples
    --------
    >>> binary_true_prob(np.array([0.25, 0.75]), np.array([True, False]), np.empty(2)).tolist()
    [0.25, 0.25]
    """
    np.subtract(1.0, scores, out=out)
    np.copyto(out, scores, where=positive)
    return out


def _negative_log(out: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        np.log(out, out=out)
    return np.negative(out, out=out)


def coded_log_loss(
    scores: np.ndarray,
    labels: np.ndarray,
    negative: int,
    positive: int,
    out: np.ndarray,
    codes: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Raw integer labels as class codes (``positive`` 1, ``negative`` 0) and each row's
    log loss, checked first: for a caller that validates only when a row fails (the numpy
    twin of :meth:`BinaryBins.add_labels`, and its fallback when every row is a candidate).

    ``codes`` is a buffer for the codes, or None when the labels are the codes already
    (``negative=0, positive=1``). Returns the loss (in ``out``), the codes and the number
    of failures: scores outside ``[0, 1]`` (NaN included) and labels that are neither
    class; with any, the loss and the codes are not computed.

    Examples
    --------
    >>> loss, codes, bad = coded_log_loss(np.array([0.5, 0.75]), np.array([-1, 1]), -1, 1,
    ...                                   np.empty(2), np.empty(2, np.int64))
    >>> loss.round(4).tolist(), codes.tolist(), bad
    ([0.6931, 0.2877], [0, 1], 0)
    >>> coded_log_loss(np.array([0.5, 1.5]), np.array([0, 7]), 0, 1, np.empty(2), None)[2]
    2
    """
    kernels = _compiled()
    is_positive = labels == positive
    if kernels is not None:  # one pass, no temporary arrays
        bad = int(kernels.check_labels(scores, labels, negative, positive))
    else:
        valid = (scores >= 0.0) & (scores <= 1.0)
        bad = np.count_nonzero(~valid) + np.count_nonzero(~(is_positive | (labels == negative)))
    if bad:
        return out, labels, int(bad)
    if codes is not None:
        np.copyto(codes, is_positive)
    binary_true_prob(scores, is_positive, out)
    return _negative_log(out), (labels if codes is None else codes), 0

"""Tally: the mergeable summary every metric is computed from.

A Tally holds, for one set of predictions:

* exact sums: sample count, weight, weight squared, per-class weight, log loss (finite
  part, its square, the clipped total and the weight of infinite losses), Brier score,
  the weighted confusion matrix at the decision rule and the clipped log loss in each of
  its cells; multiclass also the count each cell would expect if the model were
  calibrated (the probability of its row's class summed over the samples decided as its
  column's);
* score tables: for each class column (one for binary), the distinct scores with the
  weight of negatives and positives at each, so ROC AUC, average precision, isotonic fits
  and threshold sweeps are exact; past a cap of distinct scores (``max_distinct``,
  2^18 = 262,144 by default) a table compresses into fixed bins in logit space (see
  :func:`bin_keys`) and the metrics read from it carry an approximation bound;
  multiclass also a top-label table (the confidence ``max_k p_k`` against correctness);
* the ``top`` worst samples by log loss (id, label, probability, loss).

``a.merge(b)`` is associative and commutative: sums add, tables add weight at equal
scores (or equal bins), heaps keep the top of the union with ties broken by id. Build a
Tally per chunk, per partition or per device and merge them; the metrics are the same as
for the whole.

The kernel is written once against a small set of array operations (:class:`NumpyOps`);
the torch engine registers the same operations for tensors (:func:`register_array_ops`),
so a Tally's arrays may live on a GPU until :meth:`Tally.to_numpy` copies the summary.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np

from lossgap.core.binning import (
    MAX_DENSE_BITS,
    _hash_bits,
    binary_batch,
    binary_log_loss,
    compiled_distinct_floor,
    dense_bins,
)
from lossgap.core.losses import MAX_CLIPPED_LOSS, sample_brier, sample_log_loss, true_class_prob
from lossgap.core.predictions import Predictions, multiclass_kernels
from lossgap.errors import InputError

#: Worst samples kept by default.
DEFAULT_TOP = 100

#: Distinct scores a table holds exactly before it compresses into bins (per class column).
DEFAULT_MAX_DISTINCT = 1 << 18

#: Leading mantissa bits that define a bin: each bin spans at most ``2**(1 - bits)`` in
#: log-odds (about 0.001 at the default 11), see :func:`bin_keys`.
DEFAULT_BIN_BITS = 11

_MANTISSA_BITS = 52
_HALF_BITS = int(np.float64(0.5).view(np.int64))
_CLIP = float(MAX_CLIPPED_LOSS)


class NumpyOps:
    """The array operations the Tally kernel needs, for numpy arrays.

    Another backend provides the same static methods for its array type and registers them
    with :func:`register_array_ops`; the kernel never calls numpy directly on table arrays.
    """

    @staticmethod
    def sort(x: np.ndarray) -> np.ndarray:
        """``x`` sorted; ``x`` is a temporary, so numpy sorts it in place."""
        x.sort()
        return x

    @staticmethod
    def argsort(x: np.ndarray) -> np.ndarray:
        # stable, so weights at tied scores are summed in input order on every backend
        return np.argsort(x, kind="stable")

    @staticmethod
    def runs(x: np.ndarray) -> tuple[Any, np.ndarray]:
        """(handle for :meth:`segment`, start of each run) of equal values in a sorted array."""
        change = np.empty(len(x), dtype=bool)
        change[:1] = True
        np.not_equal(x[1:], x[:-1], out=change[1:])
        starts = np.flatnonzero(change)
        return starts, starts

    @staticmethod
    def segment(values: np.ndarray, runs: Any, how: str) -> np.ndarray:
        """Sum, min or max of ``values`` over each run (values ordered by run)."""
        if len(runs) == len(values):  # runs of one (every score distinct): nothing to reduce
            return values
        ufunc = {"sum": np.add, "min": np.minimum, "max": np.maximum}[how]
        return ufunc.reduceat(values, runs)

    @staticmethod
    def run_lengths(starts: np.ndarray, n: int) -> np.ndarray:
        return np.diff(starts, append=n)

    @staticmethod
    def count_at_most(sorted_x: np.ndarray, value: float) -> int:
        return int(np.searchsorted(sorted_x, value, side="right"))

    @staticmethod
    def bincount(index: np.ndarray, weights: np.ndarray, size: int) -> np.ndarray:
        return np.bincount(index, weights=weights, minlength=size)

    @staticmethod
    def float_bits(x: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(x, dtype=np.float64).view(np.int64)

    @staticmethod
    def from_bits(x: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(x, dtype=np.int64).view(np.float64)

    @staticmethod
    def cat(arrays: Sequence[np.ndarray]) -> np.ndarray:
        return np.concatenate(arrays)

    @staticmethod
    def nonzero(mask: np.ndarray) -> np.ndarray:
        return np.flatnonzero(mask)

    @staticmethod
    def where(cond: np.ndarray, a: Any, b: Any) -> np.ndarray:
        return np.where(cond, a, b)

    @staticmethod
    def isinf(x: np.ndarray) -> np.ndarray:
        return np.isinf(x)

    @staticmethod
    def as_float(x: Any) -> np.ndarray:
        return np.asarray(x, dtype=np.float64)

    @staticmethod
    def as_int(x: Any) -> np.ndarray:
        return np.asarray(x, dtype=np.int64)

    @staticmethod
    def ones_like(x: np.ndarray) -> np.ndarray:
        return np.ones(len(x))

    @staticmethod
    def arange(n: int, like: np.ndarray) -> np.ndarray:
        return np.arange(n)

    @staticmethod
    def kth_largest(x: np.ndarray, k: int) -> Any:
        return np.partition(x, len(x) - k)[len(x) - k]

    @staticmethod
    def tie_key(ids: np.ndarray) -> np.ndarray:
        """Ids as sort keys: numbers by value, anything else as text."""
        return ids if ids.dtype.kind in "biuf" else ids.astype(str)

    @staticmethod
    def columns(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """``(m, 2)`` of two columns, stored column by column: every metric reads a whole
        column (cumulative sums), which is then contiguous."""
        return np.stack([a, b]).T

    @staticmethod
    def scalar(x: Any) -> Any:
        return x.item() if isinstance(x, np.generic | np.ndarray) else x

    @staticmethod
    def to_numpy(x: Any) -> np.ndarray:
        return np.asarray(x)


_ARRAY_OPS: dict[type, Any] = {np.ndarray: NumpyOps}


def register_array_ops(array_type: type, ops: Any) -> None:
    """Let the Tally kernel run on another array type (the torch engine registers tensors)."""
    _ARRAY_OPS[array_type] = ops


def array_ops(x: Any) -> Any:
    """The operations registered for the type of ``x`` (numpy for anything unregistered)."""
    for cls in type(x).__mro__:
        if cls in _ARRAY_OPS:
            return _ARRAY_OPS[cls]
    return NumpyOps


def bin_keys(scores: Any, bits: int = DEFAULT_BIN_BITS) -> Any:
    """Fixed bin of each score in [0, 1], by the leading bits of ``p`` or ``1 - p``.

    Parameters
    ----------
    scores : array of float64 in [0, 1]
    bits : int, default=11
        Mantissa bits kept: ``2**bits`` bins per factor of two in ``p`` (``p <= 1/2``) or
        in ``1 - p`` (``p > 1/2``).

    Returns
    -------
    array of int64
        Bin keys, non-decreasing in the score.

    Notes
    -----
    A score ``p <= 1/2`` falls in bin ``bits(p) >> (52 - bits)``, the IEEE-754 pattern of
    ``p`` with all but ``bits`` mantissa bits dropped; a score ``p > 1/2`` is keyed by
    ``q = 1 - p`` (exact for ``p >= 1/2``) mirrored above ``1/2``. Positive doubles order
    like their bit patterns, so the keys order like the scores and every bin is an
    interval with edges that are exact binary fractions, the same on every machine: bins
    built on different partitions or devices line up. Within a binade
    ``[2^e, 2^(e+1))`` a bin spans a relative width ``d <= 2^-bits``; for ``p <= 1/2``
    its log-odds width is ``log(b/a) + log((1-a)/(1-b)) <= d + 2(b - a) <= 2^(1-bits)``,
    and the same holds for ``1 - p`` by symmetry (subnormal probabilities below
    ``2.2e-308`` excepted). ``p = 1`` has a bin of its own.

    Examples
    --------
    >>> keys = bin_keys(np.array([0.1, 0.1000001, 0.5, 0.9, 1.0]))
    >>> bool(keys[0] == keys[1]), bool(np.all(np.diff(keys) >= 0))
    (True, True)
    """
    ops = array_ops(scores)
    shift, mirror = bin_key_shift(bits)
    if ops is NumpyOps:
        return _numpy_bin_keys(scores, shift, mirror)
    # + 0.0 turns -0.0 into +0.0, whose bit pattern orders correctly
    p = scores + 0.0
    low = p <= 0.5
    key = ops.float_bits(ops.where(low, p, 1.0 - p)) >> shift
    return ops.where(low, key, mirror - key)


def bin_key_shift(bits: int) -> tuple[int, int]:
    """The right shift of a score's bit pattern in :func:`bin_keys` at ``bits``, and the
    key a score above 1/2 is mirrored from (its key is this less the key of ``1 - p``).

    Examples
    --------
    >>> shift, mirror = bin_key_shift(5)
    >>> quarter = int(np.float64(0.25).view(np.int64)) >> shift  # the key of 1 - 0.75
    >>> shift, int(bin_keys(np.array([0.75]), 5)[0]) == mirror - quarter
    (47, True)
    """
    shift = _MANTISSA_BITS - bits
    return shift, 2 * (_HALF_BITS >> shift) + 1


def _numpy_bin_keys(scores: np.ndarray, shift: int, mirror: int) -> np.ndarray:
    """:func:`bin_keys` of numpy scores in fewer passes and fresh arrays (9 -> 5 ms per 10^6
    scores): ``min(p, 1 - p)`` is ``p`` for ``p <= 1/2`` and ``1 - p`` above, the same
    doubles as the select, shifted in place, and mirrored in place above 1/2."""
    p = np.add(scores, 0.0, dtype=np.float64)  # -0.0 becomes +0.0
    key = np.subtract(1.0, p)
    np.minimum(p, key, out=key)
    bits = key.view(np.int64)
    bits >>= shift
    np.subtract(mirror, bits, out=bits, where=p > 0.5)
    return bits


@dataclass(frozen=True)
class ScoreTable:
    """Distinct scores (ascending) with the weight of negatives and positives at each.

    Exact up to ``max_distinct`` distinct scores; past that, compressed into the fixed
    bins of :func:`bin_keys`, one row per occupied bin.

    Attributes
    ----------
    scores : ndarray of float64, shape (m,)
        Ascending. Exact: the distinct scores. Compressed: one representative per bin,
        the weighted mean of the scores in the bin clipped to ``[low, high]`` (exactly
        ``low`` when all scores in the bin are equal or the bin has no weight).
    weights : ndarray of float64, shape (m, 2)
        Column 0: weight of negatives at that score (or bin); column 1: of positives.
    bins : ndarray of int64, shape (m,), or None
        Compressed: the bin keys; None for an exact table.
    low, high : ndarray of float64, shape (m,), or None
        Compressed: smallest and largest score seen in each bin.
    score_sum : ndarray of float64, shape (m,), or None
        Compressed: weighted sum of the scores in each bin.
    max_distinct : int
        The cap on distinct scores of an exact table.
    bin_bits : int
        The bin resolution (:func:`bin_keys`).
    """

    scores: Any
    weights: Any
    bins: Any = None
    low: Any = None
    high: Any = None
    score_sum: Any = None
    max_distinct: int = DEFAULT_MAX_DISTINCT
    bin_bits: int = DEFAULT_BIN_BITS

    @classmethod
    def from_samples(
        cls,
        scores: Any,
        positive: Any,
        weight: Any | None,
        *,
        max_distinct: int = DEFAULT_MAX_DISTINCT,
        bin_bits: int = DEFAULT_BIN_BITS,
        binned: bool = False,
    ) -> ScoreTable:
        """Group samples by score (then into bins, past ``max_distinct`` distinct scores).

        ``binned=True`` bins at once: for a batch that will merge into a compressed table,
        the exact table would only be compressed at the merge. A numpy column that
        provably holds more than ``max_distinct`` distinct scores (:func:`_distinct_above`)
        is binned at once too, without the sort: the same bins, weights and extremes, its
        bins' score sums added in row order rather than in score order.

        Examples
        --------
        >>> t = ScoreTable.from_samples(np.array([0.2, 0.7, 0.2]), np.array([0, 1, 1]), None)
        >>> t.scores.tolist(), t.weights.tolist()
        ([0.2, 0.7], [[1.0, 1.0], [0.0, 1.0]])
        """
        ops = array_ops(scores)
        s = ops.as_float(scores)
        y = ops.as_int(positive)
        if ops is NumpyOps and bin_bits <= MAX_DENSE_BITS:
            # a class column is a strided view: one copy serves the floor and the bins
            s = np.ascontiguousarray(s)
            if binned or _distinct_above(s, max_distinct):
                return _bin_unsorted(s, y, weight, max_distinct=max_distinct, bin_bits=bin_bits)
        if weight is None:
            # one sort of int64 keys with the label in the low bit: scores are in [0, 1],
            # so their bit patterns are below 2**62 and the shift cannot overflow, but for
            # -0.0, whose sign bit the shift drops: it becomes the key of 0.0
            keys = ops.float_bits(s) << 1
            keys |= y
            keys = ops.sort(keys)
            ordered = ops.from_bits(keys >> 1)
            pos = keys & 1  # summed as integers, exactly
            neg = None
        else:
            s = s + 0.0  # -0.0 and 0.0 are one score
            order = ops.argsort(s)
            ordered, w, yo = s[order], ops.as_float(weight)[order], ops.as_float(y[order])
            pos, neg = w * yo, w * (1.0 - yo)
        runs, starts = ops.runs(ordered)
        if binned or len(starts) > max_distinct:
            return _bin_sorted(
                ops, ordered, neg, pos, max_distinct=max_distinct, bin_bits=bin_bits
            )
        pos_run = ops.as_float(ops.segment(pos, runs, "sum"))
        if neg is None:
            neg_run = ops.as_float(ops.run_lengths(starts, len(ordered))) - pos_run
        else:
            neg_run = ops.segment(neg, runs, "sum")
        return cls(
            ordered[starts],
            ops.columns(neg_run, pos_run),
            max_distinct=max_distinct,
            bin_bits=bin_bits,
        )

    @property
    def compressed(self) -> bool:
        """True when the table holds bins rather than distinct scores."""
        return self.bins is not None

    def compress(self, bin_bits: int | None = None) -> ScoreTable:
        """The same samples in the fixed bins of :func:`bin_keys` (idempotent).

        Examples
        --------
        >>> t = ScoreTable.from_samples(np.array([0.3, 0.3000001, 0.8]), np.array([0, 1, 1]), None)
        >>> c = t.compress()
        >>> c.weights.tolist(), bool(c.low[0] < c.high[0])
        ([[1.0, 1.0], [0.0, 1.0]], True)
        """
        bits = self.bin_bits if bin_bits is None else bin_bits
        if self.compressed:
            if bits != self.bin_bits:
                msg = f"cannot re-bin a table of {self.bin_bits} bin bits at {bits} bits"
                raise InputError(msg)
            return self
        return _bin_sorted(
            array_ops(self.scores),
            self.scores,
            self.weights[:, 0],
            self.weights[:, 1],
            max_distinct=self.max_distinct,
            bin_bits=bits,
        )

    def merge(self, other: ScoreTable) -> ScoreTable:
        """The table of the union of both samples (associative and commutative)."""
        if self.bin_bits != other.bin_bits:
            msg = (
                f"cannot merge score tables binned at {self.bin_bits} and {other.bin_bits} "
                "bits: build every Tally with the same bin_bits"
            )
            raise InputError(msg)
        cap = min(self.max_distinct, other.max_distinct)
        ops = array_ops(self.scores)
        if self.compressed or other.compressed:
            a, b = self.compress(), other.compress()
            if ops is NumpyOps:
                merged = _merge_bins_by_index(a, b, cap)
                if merged is not None:
                    return merged
            keys = ops.cat([a.bins, b.bins])
            # a stable sort of two sorted runs is a linear merge
            order = ops.argsort(keys)
            ordered = keys[order]
            runs, starts = ops.runs(ordered)

            def add(x: Any, y: Any, how: str = "sum") -> Any:
                return ops.segment(ops.cat([x, y])[order], runs, how)

            return _binned(
                ops,
                bins=ordered[starts],
                low=add(a.low, b.low, "min"),
                high=add(a.high, b.high, "max"),
                score_sum=add(a.score_sum, b.score_sum),
                neg=add(a.weights[:, 0], b.weights[:, 0]),
                pos=add(a.weights[:, 1], b.weights[:, 1]),
                max_distinct=cap,
                bin_bits=self.bin_bits,
            )
        scores = ops.cat([self.scores, other.scores])
        order = ops.argsort(scores)
        ordered = scores[order]
        weights = ops.cat([self.weights, other.weights])[order]
        runs, starts = ops.runs(ordered)
        if len(starts) > cap:
            return _bin_sorted(
                ops, ordered, weights[:, 0], weights[:, 1], max_distinct=cap, bin_bits=self.bin_bits
            )
        return ScoreTable(
            ordered[starts],
            ops.columns(
                ops.segment(weights[:, 0], runs, "sum"), ops.segment(weights[:, 1], runs, "sum")
            ),
            max_distinct=cap,
            bin_bits=self.bin_bits,
        )

    def to_numpy(self) -> ScoreTable:
        """The table with numpy arrays (copies device arrays to the host)."""
        ops = array_ops(self.scores)
        if ops is NumpyOps:
            return self
        arrays = ("scores", "weights", "bins", "low", "high", "score_sum")
        return replace(
            self,
            **{
                name: ops.to_numpy(getattr(self, name))
                for name in arrays
                if getattr(self, name) is not None
            },
        )


#: Rows of a binary batch whose losses go into a buffer its thread keeps (16 MiB).
_BUFFERED_ROWS = 1 << 21
_LOSS_BUFFERS = threading.local()


def binary_loss(pred: Predictions) -> np.ndarray:
    """Each sample's log loss, as :func:`~lossgap.core.losses.sample_log_loss` gives it.

    From probabilities (:func:`lossgap.core.binning.binary_log_loss`), for a batch of up
    to ``_BUFFERED_ROWS`` rows into a buffer its thread keeps (fresh arrays cost a page
    fault per 4 KiB each): valid until the thread's next batch.
    """
    if pred.logits is not None:
        return sample_log_loss(pred)
    n = len(pred)
    buffer = getattr(_LOSS_BUFFERS, "loss", None)
    if n > _BUFFERED_ROWS:
        out = np.empty(n)
    else:
        if buffer is None:
            buffer = _LOSS_BUFFERS.loss = np.empty(_BUFFERED_ROWS)
        out = buffer[:n]
    return binary_log_loss(pred.prob, pred.y, out)


def _merge_bins_by_index(a: ScoreTable, b: ScoreTable, cap: int) -> ScoreTable | None:
    """The merge of two compressed numpy tables without a sort, or None when their keys
    spread too far for it.

    Both tables' bins are ascending and distinct, so the union's are the flags set over
    the range of keys, and each table's rows go to their places by a running count. Each
    sum is ``a``'s value plus ``b``'s, as the sorting merge adds them (``a`` first): the
    same doubles.
    """
    if not len(a.bins) or not len(b.bins):
        return None
    low = min(int(a.bins[0]), int(b.bins[0]))
    span = max(int(a.bins[-1]), int(b.bins[-1])) - low + 1
    if span > 8 * (len(a.bins) + len(b.bins)) + 4096:
        return None
    present = np.zeros(span, dtype=bool)
    present[a.bins - low] = True
    present[b.bins - low] = True
    bins = np.flatnonzero(present) + low
    place = np.cumsum(present) - 1  # each key's row in the union
    at_a, at_b = place[a.bins - low], place[b.bins - low]

    def add(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        out = np.zeros(len(bins))
        out[at_a] = x
        out[at_b] += y
        return out

    def extreme(x: np.ndarray, y: np.ndarray, ufunc: np.ufunc, start: float) -> np.ndarray:
        out = np.full(len(bins), start)
        out[at_a] = x
        out[at_b] = ufunc(out[at_b], y)
        return out

    return _binned(
        NumpyOps,
        bins=bins,
        low=extreme(a.low, b.low, np.minimum, np.inf),
        high=extreme(a.high, b.high, np.maximum, -np.inf),
        score_sum=add(a.score_sum, b.score_sum),
        neg=add(a.weights[:, 0], b.weights[:, 0]),
        pos=add(a.weights[:, 1], b.weights[:, 1]),
        max_distinct=cap,
        bin_bits=a.bin_bits,
    )


def _distinct_above(s: np.ndarray, max_distinct: int) -> bool:
    """True when ``s`` provably holds more than ``max_distinct`` distinct scores, told
    without a sort by a hash's distinct values (:func:`lossgap.core.binning.distinct_floor`,
    by its compiled kernel where there is one; a lower bound: False may still hold more,
    and those take the sorting path, which counts them exactly). A column of 10^6 rows:
    1 ms, against 70 ms for its sort.

    The rows' first ``2 * max_distinct`` are hashed first: a prefix holds no more distinct
    scores than the whole, and usually proves it alone (half the hashing at 10^6 rows)."""
    if len(s) <= max_distinct:
        return False
    bits = _hash_bits(max_distinct)
    prefix = s[: 2 * max_distinct]
    if compiled_distinct_floor(prefix, bits) > max_distinct:
        return True
    return len(prefix) < len(s) and compiled_distinct_floor(s, bits) > max_distinct


def _bin_unsorted(
    s: np.ndarray, y: np.ndarray, weight: np.ndarray | None, *, max_distinct: int, bin_bits: int
) -> ScoreTable:
    """The compressed table of unsorted numpy scores, without a sort: the dense bins of
    :func:`lossgap.binning.dense_bins`, merged with the sorted table of the few scores
    outside their range (equal to sorting them all, up to the order of additions)."""
    sums, outside = dense_bins(s, y, weight, bin_bits, bin_keys)
    return _with_outside(sums, outside, s, y, weight, max_distinct=max_distinct, bin_bits=bin_bits)


def _with_outside(
    sums: dict[str, np.ndarray],
    outside: np.ndarray,
    s: np.ndarray,
    y: np.ndarray,
    weight: np.ndarray | None,
    *,
    max_distinct: int,
    bin_bits: int,
) -> ScoreTable:
    """The table of the dense bins' ``sums`` merged with the rows ``outside`` them."""
    table = _binned(NumpyOps, **sums, max_distinct=max_distinct, bin_bits=bin_bits)
    if len(outside):
        # sorted, then compressed: under a cap of their own count these rows cannot come
        # back here (outside the dense range they would, at every pass); the merge then
        # takes the table's cap
        rest = ScoreTable.from_samples(
            s[outside],
            y[outside],
            None if weight is None else weight[outside],
            max_distinct=len(outside),
            bin_bits=bin_bits,
        ).compress()
        table = table.merge(replace(rest, max_distinct=max_distinct))
    return table


def _sorted_bin_keys(ops: Any, s: Any, bits: int) -> Any:
    """:func:`bin_keys` of ascending scores: the two halves need no ``where``."""
    shift = _MANTISSA_BITS - bits
    half = ops.count_at_most(s, 0.5)
    low = ops.float_bits(s[:half]) >> shift
    high = 2 * (_HALF_BITS >> shift) + 1 - (ops.float_bits(1.0 - s[half:]) >> shift)
    return ops.cat([low, high])


def _bin_sorted(
    ops: Any, s: Any, neg: Any | None, pos: Any, *, max_distinct: int, bin_bits: int
) -> ScoreTable:
    """The compressed table of ascending scores with the weight of each class at each.

    ``neg=None``: unit weights, ``pos`` the 0/1 labels (summed as integers, exactly).
    """
    keys = _sorted_bin_keys(ops, s, bin_bits)
    runs, starts = ops.runs(keys)
    lengths = ops.run_lengths(starts, len(s))
    pos_run = ops.as_float(ops.segment(pos, runs, "sum"))
    if neg is None:
        neg_run = ops.as_float(lengths) - pos_run
        score_sum = ops.segment(s, runs, "sum")
    else:
        neg_run = ops.segment(neg, runs, "sum")
        score_sum = ops.segment(s * (neg + pos), runs, "sum")
    return _binned(
        ops,
        bins=keys[starts],
        low=s[starts],
        high=s[starts + lengths - 1],
        score_sum=score_sum,
        neg=neg_run,
        pos=pos_run,
        max_distinct=max_distinct,
        bin_bits=bin_bits,
    )


def _binned(
    ops: Any,
    *,
    bins: Any,
    low: Any,
    high: Any,
    score_sum: Any,
    neg: Any,
    pos: Any,
    max_distinct: int,
    bin_bits: int,
) -> ScoreTable:
    """A compressed table, its representative scores computed from the bin sums."""
    total = neg + pos
    mean = score_sum / ops.where(total > 0, total, 1.0)
    # a rounded mean may leave the bin; a bin of one distinct score keeps it exactly
    inside = ops.where(mean < low, low, ops.where(mean > high, high, mean))
    scores = ops.where((total > 0) & (low < high), inside, low)
    return ScoreTable(
        scores,
        ops.columns(neg, pos),
        bins=bins,
        low=low,
        high=high,
        score_sum=score_sum,
        max_distinct=max_distinct,
        bin_bits=bin_bits,
    )


_WORST_FIELDS = ("loss", "ids", "label", "prob", "predicted")


def highest(loss: Any, top: int, ids: Any | None = None) -> Any:
    """Positions of the ``top`` highest values of ``loss``, highest first, without sorting
    them all; ties go to the lower id (numbers by value, other ids as text), or to the
    lower position without ``ids``.

    Examples
    --------
    >>> highest(np.array([0.5, 2.0, 0.1, 2.0]), 3).tolist()
    [1, 3, 0]
    >>> highest(np.array([0.5, 2.0, 0.1, 2.0]), 1, ids=np.array(["b", "z", "c", "a"])).tolist()
    [3]
    """
    ops = array_ops(loss)
    n = len(loss)
    if n > top:
        # every value tied with the top-th stays a candidate, so the tie rule decides
        # among ties whatever order the samples came in
        cut = ops.kth_largest(loss, top) if top > 0 else float("inf")
        candidates = ops.nonzero(loss >= cut) if top > 0 else ops.arange(0, loss)
    else:
        candidates = ops.arange(n, loss)
    if ids is not None:  # candidates come in position order; put them in id order
        candidates = candidates[ops.argsort(ops.tie_key(ids[candidates]))]
    return candidates[ops.argsort(-loss[candidates])][:top]


@dataclass(frozen=True)
class WorstSamples:
    """The samples with the highest log loss, highest first (ties: lower id first).

    Ids that are numbers compare as numbers, any other ids as text.
    """

    loss: Any
    ids: Any
    label: Any
    prob: Any  # probability of the true class
    predicted: Any

    def keep_top(self, top: int) -> WorstSamples:
        order = highest(self.loss, top, self.ids)
        return WorstSamples(*(getattr(self, f)[order] for f in _WORST_FIELDS))

    def merge(self, other: WorstSamples, top: int) -> WorstSamples:
        ops = array_ops(self.loss)
        joined = (ops.cat([getattr(self, f), getattr(other, f)]) for f in _WORST_FIELDS)
        return WorstSamples(*joined).keep_top(top)

    def to_numpy(self) -> WorstSamples:
        ops = array_ops(self.loss)
        return WorstSamples(*(ops.to_numpy(getattr(self, f)) for f in _WORST_FIELDS))

    def __len__(self) -> int:
        return len(self.loss)


def binary_worst(
    rows: np.ndarray,
    ids: np.ndarray,
    loss: np.ndarray,
    y: np.ndarray,
    prob: np.ndarray,
    threshold: float,
) -> WorstSamples:
    """The rows ``rows`` of binary predictions (their ``ids``; the batch's ``loss``, class
    indices ``y`` and probabilities ``prob``) as candidates for the worst samples (copies:
    the loss may lie in a buffer).

    Examples
    --------
    >>> p, y = np.array([0.9, 0.2, 0.6]), np.array([0, 0, 1])
    >>> loss = -np.log(np.where(y == 1, p, 1 - p))
    >>> worst = binary_worst(np.array([0, 2]), np.array([10, 12]), loss, y, p, 0.5)
    >>> worst.keep_top(1).ids.tolist(), worst.predicted.tolist()
    ([10], [1, 1])
    """
    label, p = y[rows], prob[rows]
    return WorstSamples(
        loss[rows],
        ids,
        label,
        np.where(label == 1, p, 1.0 - p),  # the true class's probability (true_class_prob)
        (p >= threshold).astype(np.int64),
    )


#: Fields that merge by addition; every other field has its own merge rule in `merge`.
_SUM_FIELDS = (
    "count",
    "weight",
    "weight_sq",
    "class_weight",
    "loss_sum",
    "loss_sq_sum",
    "clipped_loss_sum",
    "infinite_weight",
    "infinite_count",
    "brier_sum",
    "confusion",
    "confusion_loss",
)


@dataclass
class Tally:
    """Mergeable summary of a set of predictions.

    Build one with :meth:`from_predictions`; combine with :meth:`merge`.

    Examples
    --------
    >>> from lossgap import Predictions
    >>> a = Tally.from_predictions(Predictions([0, 1, 1], [0.2, 0.9, 0.4]))
    >>> b = Tally.from_predictions(Predictions([0, 1], [0.6, 0.7]))
    >>> both = a.merge(b)
    >>> both.count, both.confusion.tolist()
    (5, [[1.0, 1.0], [1.0, 2.0]])
    """

    task: str
    classes: tuple[Any, ...]
    threshold: float
    top: int
    count: int
    weight: float
    weight_sq: float
    class_weight: np.ndarray
    loss_sum: float
    loss_sq_sum: float
    clipped_loss_sum: float
    infinite_weight: float
    infinite_count: int
    brier_sum: float
    confusion: np.ndarray
    tables: list[ScoreTable] = field(repr=False)
    worst: WorstSamples = field(repr=False)
    #: Clipped log loss (each loss capped at 34.54 nats) summed per confusion cell.
    confusion_loss: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)), repr=False)
    #: Multiclass: weight each confusion cell would expect from a calibrated model,
    #: ``sum over samples decided j of w p_i``; None for binary.
    confusion_expected: np.ndarray | None = field(default=None, repr=False)
    #: Multiclass: confidence (``max_k p_k``) against correctness; None for binary.
    top_label: ScoreTable | None = field(default=None, repr=False)

    @classmethod
    def from_predictions(
        cls,
        pred: Predictions,
        *,
        top: int = DEFAULT_TOP,
        max_distinct: int = DEFAULT_MAX_DISTINCT,
        bin_bits: int = DEFAULT_BIN_BITS,
        binned: Sequence[bool] | None = None,
    ) -> Tally:
        """Summarise validated predictions.

        Parameters
        ----------
        pred : Predictions
        top : int, default=100
            How many of the worst samples to keep.
        max_distinct : int, default=262_144
            Distinct scores per class column kept exactly; past it the table compresses.
        bin_bits : int, default=11
            Resolution of the compressed bins (:func:`bin_keys`).
        binned : sequence of bool, default=None
            Per table, bin at once (for a batch merging into compressed tables).
        """
        one_pass = pred.task == "binary" and bin_bits <= MAX_DENSE_BITS
        tally = None
        if one_pass and binned is not None and binned[0]:
            # a batch merging into a compressed Tally: bins and sums in one pass
            tally = cls._binned_binary(pred, top, max_distinct, bin_bits)
        elif one_pass and binned is None and len(pred) > max_distinct:
            # more rows than the cap: the same pass bounds the distinct scores from below;
            # past the cap the table compresses, and its bins need no sort
            tally = cls._binned_binary(
                pred, top, max_distinct, bin_bits, distinct_above=max_distinct
            )
        if tally is not None:
            return tally
        columns = [pred.prob] if pred.task == "binary" else list(pred.class_rows())
        predicted = pred.predicted()
        kernels = None if pred.task == "binary" else multiclass_kernels(pred.prob)
        expected = None
        if kernels is None:
            true_prob = true_class_prob(pred)
            # the largest probability is the decided class's: one gather, not k passes
            confidence = (
                None if pred.task == "binary" else pred.prob[np.arange(len(pred)), predicted]
            )
        else:
            # both gathers and the expected confusion in one pass along the rows
            n, k = pred.prob.shape
            true_prob, confidence, expected = np.empty(n), np.empty(n), np.zeros((k, k))
            kernels.decided_sums(
                pred.prob, predicted, pred.y, pred.sample_weight, confidence, true_prob, expected
            )
        return cls.from_arrays(
            task=pred.task,
            classes=pred.classes,
            threshold=pred.threshold,
            y=pred.y,
            columns=columns,
            loss=sample_log_loss(pred, true_prob),
            brier=sample_brier(pred, true_prob=true_prob),
            predicted=predicted,
            true_prob=true_prob,
            weight=pred.sample_weight,
            ids=pred.ids,
            top=top,
            max_distinct=max_distinct,
            bin_bits=bin_bits,
            binned=binned,
            confidence=confidence,
            expected=expected,
        )

    @classmethod
    def _binned_binary(
        cls,
        pred: Predictions,
        top: int,
        max_distinct: int,
        bin_bits: int,
        distinct_above: int = 0,
    ) -> Tally | None:
        """The Tally of binary predictions, its table binned at once, from one pass of
        :func:`lossgap.core.binning.binary_batch` (the same sums as :meth:`from_arrays`,
        added in row order).

        ``distinct_above > 0``: only if that pass proves more distinct scores than that
        (a lower bound, :func:`lossgap.core.binning.distinct_floor`); None otherwise, for
        the exact table may hold them all.
        """
        loss = binary_loss(pred)
        batch = binary_batch(
            pred.prob,
            pred.y,
            pred.sample_weight,
            loss,
            threshold=pred.threshold,
            clip=_CLIP,
            bits=bin_bits,
            top=top,
            keys_of=bin_keys,
            distinct_above=distinct_above,
        )
        if batch.distinct_floor <= distinct_above and distinct_above > 0:
            return None
        rows = np.arange(len(pred)) if batch.candidates is None else batch.candidates
        w = pred.sample_weight
        return cls.from_binary_bins(
            classes=tuple(pred.classes),
            threshold=float(pred.threshold),
            top=top,
            count=len(pred),
            bins=batch.table,
            outside=(
                pred.prob[batch.outside],
                pred.y[batch.outside],
                None if w is None else w[batch.outside],
            ),
            sums=batch.sums,
            cells=batch.cells,
            # loss[rows] is a copy: the loss may lie in this thread's buffer
            worst=binary_worst(rows, pred.ids[rows], loss, pred.y, pred.prob, pred.threshold),
            max_distinct=max_distinct,
            bin_bits=bin_bits,
        )

    @classmethod
    def from_binary_bins(
        cls,
        *,
        classes: tuple[Any, ...],
        threshold: float,
        top: int,
        count: int,
        bins: dict[str, np.ndarray],
        outside: tuple[np.ndarray, np.ndarray, np.ndarray | None],
        sums: dict[str, float],
        cells: np.ndarray,
        worst: WorstSamples,
        max_distinct: int,
        bin_bits: int,
    ) -> Tally:
        """The Tally of binary rows gathered by :class:`lossgap.core.binning.BinaryBins`.

        ``bins`` its dense bins (:meth:`~lossgap.core.binning.BinaryBins.read`),
        ``outside`` the scores, labels and weights of the rows outside them, ``sums`` and
        ``cells`` its totals, ``worst`` the worst samples (or a superset of them).

        Examples
        --------
        >>> from lossgap.core.binning import BinaryBins
        >>> p, y = np.array([0.9, 0.2, 0.6, 1.0]), np.array([0, 0, 1, 1])
        >>> loss = -np.log(np.where(y == 1, p, 1 - p))
        >>> bins = BinaryBins(11, weighted=False, keys_of=bin_keys)
        >>> rows, outside = bins.add(p, y, None, loss, threshold=0.5, clip=34.5, top=2)
        >>> tally = Tally.from_binary_bins(
        ...     classes=(0, 1), threshold=0.5, top=2, count=4, bins=bins.read(),
        ...     outside=(p[outside], y[outside], None), sums=bins.sums(), cells=bins.cells,
        ...     worst=binary_worst(rows, rows, loss, y, p, 0.5), max_distinct=10, bin_bits=11)
        >>> tally.confusion.tolist(), len(tally.tables[0].scores), tally.worst.ids.tolist()
        ([[1.0, 1.0], [0.0, 2.0]], 4, [0, 2])
        """
        table = _with_outside(
            bins, np.arange(len(outside[0])), *outside, max_distinct=max_distinct,
            bin_bits=bin_bits,
        )
        confusion = cells[:, 0].reshape(2, 2).copy()
        return cls(
            task="binary",
            classes=classes,
            threshold=threshold,
            top=top,
            count=count,
            weight=sums["weight"],
            weight_sq=sums["weight_sq"],
            class_weight=confusion.sum(axis=1),
            loss_sum=sums["loss_sum"],
            loss_sq_sum=sums["loss_sq_sum"],
            # an infinite loss counts the clip, as every loss above it does
            clipped_loss_sum=sums["clipped_loss_sum"] + _CLIP * sums["infinite_weight"],
            infinite_weight=sums["infinite_weight"],
            infinite_count=int(sums["infinite_count"]),
            brier_sum=sums["brier_sum"],
            confusion=confusion,
            tables=[table],
            worst=worst.keep_top(top),
            confusion_loss=cells[:, 1].reshape(2, 2).copy(),
        )

    @classmethod
    def from_arrays(
        cls,
        *,
        task: str,
        classes: tuple[Any, ...],
        threshold: float,
        y: Any,
        columns: Sequence[Any],
        loss: Any,
        brier: Any,
        predicted: Any,
        true_prob: Any,
        weight: Any | None,
        ids: Any,
        top: int = DEFAULT_TOP,
        max_distinct: int = DEFAULT_MAX_DISTINCT,
        bin_bits: int = DEFAULT_BIN_BITS,
        binned: Sequence[bool] | None = None,
        confidence: Any | None = None,
        expected: Any | None = None,
    ) -> Tally:
        """Summarise per-sample arrays of one backend (the engines' shared kernel).

        ``y`` and ``predicted`` are class indices; ``columns`` the score column of each
        table (the positive-class probability for binary, one per class otherwise);
        ``loss`` and ``brier`` the per-sample values; ``true_prob`` the probability of the
        true class. The arrays are trusted: validation happened before. ``binned`` (one
        flag per table) bins those tables at once, as :meth:`ScoreTable.from_samples`.
        ``confidence`` (multiclass): each sample's largest probability when the caller has
        it, else the columns' maximum; ``expected`` (multiclass): the
        :attr:`confusion_expected` matrix when the caller has it (the same doubles as
        the per-column ``bincount``), else computed here.
        """
        ops = array_ops(loss)
        k = len(classes)
        n = len(loss)

        def total(x: Any) -> Any:
            return ops.scalar(x.sum() if weight is None else weight @ ops.as_float(x))

        def counts(index: Any, size: int) -> Any:
            return ops.as_float(ops.bincount(index, weight, size))

        largest = ops.scalar(loss.max()) if n else 0.0
        if largest < float("inf"):  # the common case needs no masks
            finite, infinite_weight, infinite_count = loss, 0.0, 0
        else:
            infinite = ops.isinf(loss)
            finite = ops.where(infinite, 0.0, loss)
            # an infinite loss with weight 0 counts nowhere (0 * inf would be NaN)
            counted_infinite = infinite if weight is None else infinite & (weight > 0)
            infinite_weight = total(ops.as_float(counted_infinite))
            infinite_count = ops.scalar(counted_infinite.sum())
        loss_sum = total(finite)
        if largest <= _CLIP:
            clipped_loss_sum = loss_sum
            capped = loss
        else:
            # an infinite loss counts the clip, as every loss above it does
            capped = ops.where(loss > _CLIP, _CLIP, loss)
            clipped = total(ops.where(finite > _CLIP, _CLIP, finite))
            clipped_loss_sum = clipped + _CLIP * infinite_weight
        # one bincount gives the confusion matrix and, as its row sums, the class weights
        cell = y * k + predicted
        confusion = counts(cell, k * k).reshape(k, k)
        confusion_loss = ops.as_float(
            ops.bincount(cell, capped if weight is None else weight * capped, k * k)
        ).reshape(k, k)
        positive_of = (lambda c: y) if task == "binary" else (lambda c: y == c)
        first = 1 if task == "binary" else 0
        flags = [False] * len(columns) if binned is None else list(binned)
        tables = [
            ScoreTable.from_samples(
                col,
                positive_of(c),
                weight,
                max_distinct=max_distinct,
                bin_bits=bin_bits,
                binned=flag,
            )
            for (c, col), flag in zip(enumerate(columns, start=first), flags, strict=True)
        ]
        worst = WorstSamples(loss, ids, y, true_prob, predicted)
        top_label = None
        if task != "binary":
            if expected is None:
                # row i: the probability of class i summed over the samples decided as j
                expected = ops.cat(
                    [
                        ops.as_float(
                            ops.bincount(predicted, col if weight is None else weight * col, k)
                        )
                        for col in columns
                    ]
                ).reshape(k, k)
            if confidence is None:
                confidence = columns[0]
                for col in columns[1:]:
                    confidence = ops.where(col > confidence, col, confidence)
            top_label = ScoreTable.from_samples(
                confidence, predicted == y, weight, max_distinct=max_distinct, bin_bits=bin_bits
            )
        return cls(
            task=task,
            classes=tuple(classes),
            threshold=float(threshold),
            top=top,
            count=n,
            weight=float(n) if weight is None else ops.scalar(weight.sum()),
            weight_sq=float(n) if weight is None else ops.scalar(weight @ weight),
            class_weight=confusion.sum(axis=1),
            loss_sum=loss_sum,
            loss_sq_sum=ops.scalar(
                finite @ finite if weight is None else weight @ (finite * finite)
            ),
            clipped_loss_sum=clipped_loss_sum,
            infinite_weight=infinite_weight,
            infinite_count=infinite_count,
            brier_sum=total(brier),
            confusion=confusion,
            tables=tables,
            worst=worst.keep_top(top),
            confusion_loss=confusion_loss,
            confusion_expected=expected,
            top_label=top_label,
        )

    def merge(self, other: Tally) -> Tally:
        """The Tally of both samples together (associative and commutative)."""
        for name in ("task", "classes", "threshold"):
            mine, theirs = getattr(self, name), getattr(other, name)
            if mine != theirs:
                msg = f"cannot merge Tallies with different {name}: {mine!r} and {theirs!r}"
                raise InputError(msg)
        top = max(self.top, other.top)
        sums = {name: getattr(self, name) + getattr(other, name) for name in _SUM_FIELDS}
        return Tally(
            task=self.task,
            classes=self.classes,
            threshold=self.threshold,
            top=top,
            tables=[a.merge(b) for a, b in zip(self.tables, other.tables, strict=True)],
            worst=self.worst.merge(other.worst, top),
            confusion_expected=None
            if self.confusion_expected is None or other.confusion_expected is None
            else self.confusion_expected + other.confusion_expected,
            top_label=None
            if self.top_label is None or other.top_label is None
            else self.top_label.merge(other.top_label),
            **sums,
        )

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def compressed(self) -> bool:
        """True when any score table holds bins: metrics read from tables are approximate."""
        return any(t.compressed for t in self.tables)

    def to_numpy(self) -> Tally:
        """The Tally with numpy arrays and Python numbers (the final copy from a device)."""
        ops = array_ops(self.confusion)
        if ops is NumpyOps:
            return self
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        for name in _SUM_FIELDS:
            value = ops.to_numpy(values[name])
            values[name] = value if value.ndim else value.item()
        values["tables"] = [t.to_numpy() for t in self.tables]
        values["worst"] = self.worst.to_numpy()
        if self.confusion_expected is not None:
            values["confusion_expected"] = ops.to_numpy(self.confusion_expected)
        if self.top_label is not None:
            values["top_label"] = self.top_label.to_numpy()
        return Tally(**values)


def merge_all(tallies: Sequence[Tally]) -> Tally:
    """Merge Tallies pairwise in a balanced tree (depth ``log2(len)``).

    Examples
    --------
    >>> from lossgap import Predictions
    >>> parts = [Tally.from_predictions(Predictions([0, 1], [p, 0.9])) for p in (0.1, 0.2, 0.7)]
    >>> merge_all(parts).count
    6
    """
    if not tallies:
        msg = "no Tallies to merge: there were no samples"
        raise InputError(msg)
    level = list(tallies)
    while len(level) > 1:
        pairs = [level[i].merge(level[i + 1]) for i in range(0, len(level) - 1, 2)]
        level = pairs + level[len(level) - len(level) % 2 :]
    return level[0]

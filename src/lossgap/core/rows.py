"""Rows of validated predictions: a subset of them, and an order set by their content alone.

Cross-fitting folds and bootstrap replicates draw one random number per row, in row order,
and floating-point sums depend on the order of their terms: a file whose rows are shuffled
would get other folds, other replicates and sums that differ in their last bits. Put in
:func:`in_content_order` first, the same rows in any order give the same numbers, bit for
bit, and the random draws depend on the seed and the data, never on the order.

The order sorts the rows by a 64-bit key of their content (label, every probability and
logit): a sum of each value's bit pattern times an odd constant of its column, modulo
``2**64``. Rows with equal keys are either equal (interchangeable: any order of them gives
the same numbers) or differ in their weight (or, far more rarely, collide): those are
ordered by their content, weight first, so weights times a constant keep the order.
"""

from __future__ import annotations

import copy
from weakref import WeakKeyDictionary, WeakSet

import numpy as np

from lossgap.core.predictions import Predictions, multiclass_kernels

# odd multipliers, one per column of the content (drawn once; any odd constants serve)
_MULTIPLIERS = np.random.default_rng(20_261_204).integers(1, 2**62, 4096, dtype=np.uint64)
_MULTIPLIERS |= np.uint64(1)

#: Canonical predictions by the predictions they were made from, and those canonical already.
_CANONICAL: WeakKeyDictionary[Predictions, Predictions] = WeakKeyDictionary()
_IN_ORDER: WeakSet[Predictions] = WeakSet()


def subset(pred: Predictions, rows: np.ndarray) -> Predictions:
    """The predictions at the positions ``rows`` (validated already: every per-sample array
    is sliced).

    Examples
    --------
    >>> part = subset(Predictions(["a", "b", "b"], [0.2, 0.7, 0.9]), np.array([0, 2]))
    >>> part.y.tolist(), part.ids.tolist(), part.classes
    ([0, 1], [0, 2], ('a', 'b'))
    """
    part = copy.copy(pred)
    n = len(pred)
    for name, value in vars(pred).items():
        if isinstance(value, np.ndarray) and value.ndim >= 1 and len(value) == n:
            setattr(part, name, _take_rows(value, rows))
    return part


def _take_rows(values: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``np.take(values, rows, axis=0)`` (whole rows: about 3x faster than fancy indexing
    on ``(n, k)``); a C-ordered ``(n, k)`` array of doubles with the multiclass kernels
    (:func:`~lossgap.core.predictions.multiclass_kernels`) by their prefetching gather at
    integer positions, the same values (the content order's rows at 10^6 x 10: 20-22 ->
    8 ms); positions outside the rows go to ``np.take`` (negative ones wrap)."""
    rows = np.asarray(rows)
    kernels = multiclass_kernels(values) if values.ndim == 2 and rows.dtype.kind in "iu" else None
    if kernels is None or values.dtype != np.float64 or not values.flags.c_contiguous:
        return np.take(values, rows, axis=0)
    out = np.empty((len(rows), values.shape[1]))
    if kernels.gather_rows(values, rows.astype(np.int64, copy=False), out):
        return out
    return np.take(values, rows, axis=0)


def _content(pred: Predictions) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The columns that make up a row's content, each ``(n,)`` of uint64 bit patterns: those
    of its key (label, probabilities, logits) and the weight, which the key leaves out so
    that weights times a constant give the same order (their scale carries no information)."""
    columns = [pred.y.astype(np.uint64)]
    for values in (pred.prob, pred.logits):
        if values is not None:
            columns.extend(_bits(values).reshape(len(pred), -1).T)
    weights = [] if pred.sample_weight is None else [_bits(pred.sample_weight)]
    return columns, weights


def _bits(values: np.ndarray) -> np.ndarray:
    """Bit patterns of float64 values (+ 0.0: -0.0 and 0.0 are one value); for values >= 0
    they order as the values do."""
    return np.ascontiguousarray(values + 0.0, dtype=np.float64).view(np.uint64)


#: Rows whose key terms are computed at a time by :func:`_key` (their bits stay in cache).
KEY_ROWS = 8192


def _key(pred: Predictions) -> np.ndarray:
    """Each row's key: the sum of its :func:`_content` key columns times their multipliers,
    modulo ``2**64`` (so in any order of the terms the same key), by blocks of
    :data:`KEY_ROWS` rows read along each row, where a pass per column read the whole
    ``(n, k)`` array once per class (58 -> 31 ms at 10^6 x 10); with the multiclass kernels
    (:func:`~lossgap.core.predictions.multiclass_kernels`) in one compiled pass along the
    rows (4 ms)."""
    key = pred.y.astype(np.uint64) * _MULTIPLIERS[0]
    kernels = multiclass_kernels(pred.prob)
    column = 1
    for values in (pred.prob, pred.logits):
        if values is None:
            continue
        rows = values.reshape(len(pred), -1)
        at = (column + np.arange(rows.shape[1])) % len(_MULTIPLIERS)
        multipliers, column = _MULTIPLIERS[at], column + rows.shape[1]
        if kernels is not None:  # in one pass along the rows: the same sums modulo 2**64
            bits = np.ascontiguousarray(rows, dtype=np.float64).view(np.uint64)
            kernels.add_row_keys(key, bits, multipliers)
            continue
        for start in range(0, len(pred), KEY_ROWS):
            terms = _bits(rows[start : start + KEY_ROWS])
            terms *= multipliers  # wraps modulo 2**64, as the sums
            key[start : start + KEY_ROWS] += terms.sum(axis=1, dtype=np.uint64)
    return key


def content_order(pred: Predictions) -> np.ndarray:
    """Row positions that put the rows in an order set by their content alone.

    Rows are sorted by their key, stably (equal rows, which differ only in their id, keep
    their order); rows of one key that differ (in their weight, or, far more rarely, a
    collision) are sorted by their content, weight first.

    Examples
    --------
    >>> pred = Predictions([0, 1, 2], [[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6]])
    >>> order = content_order(pred)
    >>> shuffled = subset(pred, np.array([2, 0, 1]))
    >>> bool((pred.prob[order] == shuffled.prob[content_order(shuffled)]).all())
    True
    """
    key = _key(pred)
    kernels = multiclass_kernels(pred.prob)
    if kernels is None:
        order = np.argsort(key, kind="stable")
        ordered = key[order]
    else:  # the same order, by a radix sort (22 against 85 ms at 10^6 rows), which carries
        # the keys along: no gather of them
        order = np.empty(len(key), dtype=np.int64)
        ordered = np.empty_like(key)
        kernels.stable_argsort(key, order, ordered)
    tied = np.flatnonzero(ordered[1:] == ordered[:-1])
    if not len(tied):
        return order
    columns, weights = _content(pred)
    first, second = order[tied], order[tied + 1]
    differ = np.zeros(len(tied), dtype=bool)
    for column in (*columns, *weights):
        differ |= column[first] != column[second]
    if differ.any():  # runs of one key holding different rows: order them by content
        run = np.concatenate([[0], np.cumsum(ordered[1:] != ordered[:-1])])
        mixed = np.flatnonzero(np.isin(run, run[tied[differ]]))
        rows = order[mixed]
        within = np.lexsort([*(c[rows] for c in (*columns[::-1], *weights)), run[mixed]])
        order[mixed] = rows[within]
    return order


def content_order_of(pred: Predictions, rows: np.ndarray) -> np.ndarray:
    """Positions into ``rows`` (row positions of ``pred``) that put those rows in the order
    :func:`content_order` gives them, without ordering the other rows.

    Rows of different content come in the order of the whole; interchangeable rows (equal in
    everything but their id) in some order. When ``pred`` is in content order already, its
    positions are that order.

    Examples
    --------
    >>> pred = Predictions([0, 1, 2], [[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6]])
    >>> rows = np.array([2, 0])
    >>> whole = content_order(pred)
    >>> rows[content_order_of(pred, rows)].tolist() == [r for r in whole if r in rows]
    True
    """
    if pred in _IN_ORDER:
        return np.argsort(rows, kind="stable")
    return content_order(subset(pred, rows))


def is_in_content_order(pred: Predictions) -> bool:
    """Whether the rows of ``pred`` are in content order (made by :func:`in_content_order`)."""
    return pred in _IN_ORDER


def in_content_order(pred: Predictions) -> Predictions:
    """The predictions with their rows in :func:`content_order` (kept per Predictions:
    validated predictions do not change; the result maps to itself).

    Examples
    --------
    >>> pred = Predictions([0, 1, 2], [[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6]])
    >>> canonical = in_content_order(pred)
    >>> in_content_order(canonical) is canonical, sorted(canonical.ids.tolist())
    (True, [0, 1, 2])
    """
    if pred in _IN_ORDER:
        return pred
    if pred not in _CANONICAL:
        canonical = subset(pred, content_order(pred))
        _CANONICAL[pred] = canonical
        _IN_ORDER.add(canonical)
    return _CANONICAL[pred]

"""Rows of validated predictions: a subset of them, and an order set by their content alone.

Cross-fitting folds and bootstrap replicates draw one random number per row, in row order,
and floating-point sums depend on the order of their terms: a file whose rows are shuffled
would get other folds, other replicates and sums that differ in their last bits. Put in
:func:`in_content_order` first, the same rows in any order give the same numbers, bit for
bit, and the random draws depend on the seed and the data, never on the order.

The order sorts the rows by a 64-bit key of their content (label, weight, every
probability and logit): a sum of each value's bit pattern times an odd constant of its
column, modulo ``2**64``. Rows with equal keys are either equal (interchangeable: any
order of them gives the same numbers) or, far more rarely, a collision of different rows,
which a full lexicographic sort of the content then orders.
"""

from __future__ import annotations

import copy
from weakref import WeakKeyDictionary, WeakSet

import numpy as np

from lossgap.core.predictions import Predictions

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
            # take copies whole rows: about 3x faster than fancy indexing on (n, k)
            setattr(part, name, np.take(value, rows, axis=0))
    return part


def _content(pred: Predictions) -> list[np.ndarray]:
    """The columns that make up a row's content, each ``(n,)`` of uint64 bit patterns."""
    columns = [pred.y.astype(np.uint64)]
    for values in (pred.sample_weight, pred.prob, pred.logits):
        if values is None:
            continue
        # + 0.0: -0.0 and 0.0 are one value
        bits = np.ascontiguousarray(values + 0.0, dtype=np.float64).view(np.uint64)
        columns.extend(bits.reshape(len(pred), -1).T)
    return columns


def content_order(pred: Predictions) -> np.ndarray:
    """Row positions that put the rows in an order set by their content alone.

    Examples
    --------
    >>> pred = Predictions([0, 1, 2], [[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6]])
    >>> order = content_order(pred)
    >>> shuffled = subset(pred, np.array([2, 0, 1]))
    >>> bool((pred.prob[order] == shuffled.prob[content_order(shuffled)]).all())
    True
    """
    columns = _content(pred)
    key = np.zeros(len(pred), dtype=np.uint64)
    for i, column in enumerate(columns):
        key += column * _MULTIPLIERS[i % len(_MULTIPLIERS)]  # wraps modulo 2**64
    order = np.argsort(key)
    ordered = key[order]
    tied = np.flatnonzero(ordered[1:] == ordered[:-1])
    if len(tied):
        first, second = order[tied], order[tied + 1]
        differ = np.zeros(len(tied), dtype=bool)
        for column in columns:
            differ |= column[first] != column[second]
        if differ.any():  # a collision of different rows: order by the content itself
            order = np.lexsort([*columns[::-1], key])
    return order


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

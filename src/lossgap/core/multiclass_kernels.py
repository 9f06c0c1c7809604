"""The numba kernels of the multiclass passes over the ``(n, k)`` probabilities (imported
only when numba is installed, through :func:`lossgap.core.binning.kernel_module`).

Module-level functions, so numba's disk cache finds them again in the next process. Each
has a numpy twin in the module that calls it: the cells each flags are the same (the same
doubles compared), the totals the same numbers added in another order (compensated, so
within :data:`lossgap.core.binning.TOTALS_RTOL` of the twin's pairwise sums; tested).
"""

# numba compiles these from their Python source; the arrays' types come from the callers
# mypy: ignore-errors

from __future__ import annotations

import math

import numba
import numpy as np

#: Classes a row sorts by insertion (a few compares each); more take a merge sort.
_INSERTION_MAX = 32


@numba.njit(inline="always")
def _add(acc, at, value):  # pragma: no cover
    # Neumaier's compensated sum: acc[at] the sum, acc[at + 1] its lost low-order part
    total = acc[at]
    t = total + value
    if abs(total) >= abs(value):
        acc[at + 1] += (total - t) + value
    else:
        acc[at + 1] += (value - t) + total
    acc[at] = t


@numba.njit(nogil=True, cache=True)
def chance_test(prob, labels, weights, cut, clip, out):  # pragma: no cover
    # The label-error test of lossgap.core.label_errors._sample_test in one pass over the
    # rows. A cell's chance is at least its own probability, so only cells of probability
    # at most cut (and a margin for the rounding) can be flagged, and the classes at most
    # as likely as such a cell are such cells too: each row's few low cells, sorted
    # ascending, their running sum, and a cell's chance the sum at the end of its run of
    # equal values are the doubles of chance_matrix (the same additions in the same order;
    # equal values commute). A cell is flagged when its chance rounded to 12 digits
    # (numpy's round: times 1e12, rint, over 1e12) is at most cut. Over the flagged cells:
    # out = (labelled weight, weight x p, labelled weight x loss, weight x p x loss), loss =
    # -log(max(p, clip)); each row's terms added, then the rows' in compensated sums.
    # weights: None for unit weights.
    n, k = prob.shape
    low = cut + 1e-9
    order = np.empty(k, dtype=np.int64)
    ranked = np.empty(k)
    carried = np.empty(k)
    acc = np.zeros(8)
    for i in range(n):
        row = prob[i]
        m = 0
        for j in range(k):  # the low cells in ascending order (by insertion: a few cells)
            v = row[j]
            if v <= low:
                at = m
                while at > 0 and ranked[at - 1] > v and m < _INSERTION_MAX:
                    ranked[at] = ranked[at - 1]
                    order[at] = order[at - 1]
                    at -= 1
                ranked[at] = v
                order[at] = j
                m += 1
        if m == 0:
            continue
        if m > _INSERTION_MAX:  # many classes: a merge sort (the first cells were sorted)
            by = np.argsort(ranked[:m], kind="mergesort")
            order[:m] = order[:m][by]
            ranked[:m] = ranked[:m][by]
        total = 0.0
        for j in range(m):
            total += ranked[j]
            carried[j] = total
        w = 1.0 if weights is None else weights[i]
        label = labels[i]
        own = mass = own_loss = mass_loss = 0.0
        end = carried[m - 1]
        for j in range(m - 1, -1, -1):
            p = ranked[j]
            if j < m - 1 and ranked[j + 1] != p:
                end = carried[j]
            if np.rint(end * 1e12) / 1e12 > cut:
                continue
            loss = -math.log(max(p, clip))
            mass += w * p
            mass_loss += (w * p) * loss
            if order[j] == label:
                own += w
                own_loss += w * loss
        _add(acc, 0, own)
        _add(acc, 2, mass)
        _add(acc, 4, own_loss)
        _add(acc, 6, mass_loss)
    for j in range(4):
        out[j] = acc[2 * j] + acc[2 * j + 1]

"""The numba kernel of :func:`lossgap.core.isotonic.fit_isotonic` (imported only with numba).

Chosen through :func:`lossgap.core.binning.kernel_module` (``LOSSGAP_NUMBA=0`` selects the
twin: the rows of weight gathered by numpy, then ``scipy.optimize.isotonic_regression``).
A module-level function, so numba's disk cache finds it again in the next process.

* :func:`fit_isotonic`: the positive share of each row of weight and its pool-adjacent-
  violators fit in one call, the same doubles as the twin (tested): the same divisions,
  and the pooling of Busing (2022, Algorithm 1) with ties pooled, which scipy's fit
  runs, its block sums formed and extended in the same order. Six fits an evaluation
  (the folds' isotonic maps), each about a dozen numpy calls and scipy's checks before.

References
----------
Busing, F. M. T. A. (2022). Monotone regression: a simple and fast O(n) PAVA
implementation. Journal of Statistical Software, Code Snippets, 102(1), 1-25.
https://doi.org/10.18637/jss.v102.c01
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def fit_isotonic(scores, w_neg, w_pos):  # pragma: no cover
    # the rows of positive weight (their scores are the knots), the positive share at each
    # as w_pos / (w_neg + w_pos), then the non-decreasing fit of the shares weighted by the
    # rows' weights. Blocks are kept at the front of `share` and `weight` (their mean and
    # weight), `ends[k + 1]` one past block k's last row. A new row that does not rise
    # above the last block pools with it; the pooled block then takes the rows after it
    # that do not rise above its mean, then the blocks before it whose mean is not below
    # it, its weighted sum extended one term at a time (a block's term is its mean times
    # its weight).
    m = scores.shape[0]
    knots = np.empty(m)
    share = np.empty(m)
    weight = np.empty(m)
    n = 0
    for j in range(m):
        total = w_neg[j] + w_pos[j]
        if total > 0:
            knots[n] = scores[j]
            share[n] = w_pos[j] / total
            weight[n] = total
            n += 1
    if n == 0:
        return knots[:0], share[:0]
    ends = np.empty(n + 1, np.int64)
    ends[0] = 0
    ends[1] = 1
    last = 0  # the last block
    last_mean = share[0]
    last_weight = weight[0]
    row = 1
    while row < n:
        mean = share[row]
        mass = weight[row]
        if last_mean >= mean:  # pools with the last block
            block_sum = last_weight * last_mean + mass * mean
            mass += last_weight
            mean = block_sum / mass
            while row < n - 1 and mean >= share[row + 1]:
                row += 1
                block_sum += weight[row] * share[row]
                mass += weight[row]
                mean = block_sum / mass
            while last > 0 and share[last - 1] >= mean:
                last -= 1
                block_sum += weight[last] * share[last]
                mass += weight[last]
                mean = block_sum / mass
        else:
            last += 1
        share[last] = mean
        weight[last] = mass
        last_mean = mean
        last_weight = mass
        ends[last + 1] = row + 1
        row += 1
    values = np.empty(n)
    for k in range(last + 1):
        for i in range(ends[k], ends[k + 1]):
            values[i] = share[k]
    return knots[:n], values

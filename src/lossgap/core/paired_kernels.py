"""The numba kernel of :func:`lossgap.core.paired.placement_values` (imported only when numba
is installed).

A module-level function, so numba's disk cache finds it again in the next process. Its
numpy twin in :mod:`lossgap.core.paired` gives the same doubles (``tests/comparison``).
"""

# numba compiles this from its Python source; the arrays' types come from the caller
# mypy: ignore-errors

from __future__ import annotations

import numba
import numpy as np

#: Bits of the key each radix pass orders by: three passes cover 32-bit keys, and 2,048
#: counters per pass stay in the L1 cache (two 16-bit passes thrash it).
_DIGIT = 11


@numba.njit(nogil=True, cache=True, error_model="numpy")
def placements(scores, positive, n_pos, psi, out, key_a, key_b, row_a, row_b):  # pragma: no cover
    # scores: float64; positive: bool; key_a, key_b (uint32), row_a, row_b (int32): scratch
    # of len(scores). Returns False, writing nothing to out, unless float32 holds every
    # score. Each score's float32 bits become an unsigned key in the order of the values;
    # a least-significant-digit radix sort carries each key with its row (and the row its
    # class in its lowest bit), so no pass reads at random; one walk over the runs of
    # equal keys in sorted order then gives every placement value with the arithmetic of
    # the numpy path (an exact numerator over a count, then, with psi, over the size of
    # the sample's side), so the doubles are the same.
    n = len(scores)
    n_neg = n - n_pos
    single = key_b.view(np.float32)
    for i in range(n):  # in loops of their own, which vectorise
        single[i] = np.float32(scores[i]) + np.float32(0.0)  # -0.0 becomes 0.0
    for i in range(n):
        if single[i] != scores[i]:
            return False
    mask = (1 << _DIGIT) - 1
    counts = np.zeros((3, mask + 1), np.int64)
    for i in range(n):
        k = key_b[i]
        # negative floats: flip every bit; the others: set the sign bit
        k = k ^ np.uint32(0xFFFFFFFF) if k >> 31 else k | np.uint32(0x80000000)
        key_a[i] = k
        row_a[i] = 2 * i + positive[i]
        counts[0, k & mask] += 1
        counts[1, (k >> _DIGIT) & mask] += 1
        counts[2, k >> (2 * _DIGIT)] += 1
    start = np.empty(mask + 1, np.int64)
    for digit in range(3):
        shift = digit * _DIGIT
        if counts[digit].max() == n:  # every key has this digit: the pass would not move
            continue
        total = 0
        for b in range(mask + 1):
            start[b] = total
            total += counts[digit, b]
        for i in range(n):
            k = key_a[i]
            b = (k >> shift) & mask
            slot = start[b]
            start[b] = slot + 1
            key_b[slot] = k
            row_b[slot] = row_a[i]
        key_a, key_b = key_b, key_a
        row_a, row_b = row_b, row_a
    pos_before = 0
    j = 0
    while j < n:
        k = key_a[j]
        end = j + 1
        while end < n and key_a[end] == k:
            end += 1
        pos_in = 0
        for t in range(j, end):
            pos_in += row_a[t] & 1
        v10 = (j - pos_before + 0.5 * (end - j - pos_in)) / n_neg
        v01 = (n_pos - pos_before - pos_in + 0.5 * pos_in) / n_pos
        if psi:
            v10 = v10 / n_pos
            v01 = v01 / n_neg
        for t in range(j, end):
            row = row_a[t]
            out[row >> 1] = v10 if row & 1 else v01
        pos_before += pos_in
        j = end
    return True

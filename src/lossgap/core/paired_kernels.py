"""The numba kernels of ``compare``: :func:`lossgap.core.paired.placement_values` and the
near-threshold flips of :func:`lossgap.comparison.flips.flip_tables` (imported only when
numba is installed).

Module-level functions, so numba's disk cache finds them again in the next process. Their
numpy twins are in :mod:`lossgap.core.paired` (the same doubles) and
:mod:`lossgap.comparison.flips` (the same counts; loss sums within rounding), tested in
``tests/comparison``.
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


@numba.njit(nogil=True, cache=True)
def near_entries(correct, near, samples, total):  # pragma: no cover
    # correct, near: uint64 (m, words), one row per model, sample i at bit i % 64 of word
    # i // 64 (np.packbits, little bit order); samples: the sample indices (int64,
    # ascending) to read; total: at least the near entries there. Lists the (sample,
    # model) entries where the model is near the boundary, grouped by sample: sample t's
    # run is ptr[t]:ptr[t + 1], the models right there (model: the entry's model) before
    # the models wrong there, from split[t]. And, model by model, where each entry lies in
    # that order (slot) and its sample (rows), between starts[j] and starts[j + 1]: the
    # caller fills each model's losses at its rows in one numpy call.
    m = near.shape[0]
    k = len(samples)
    ptr = np.empty(k + 1, np.int64)
    split = np.empty(k, np.int64)
    model = np.empty(total, np.int32)
    wrong = np.empty(m, np.int32)
    per_model = np.zeros(m + 1, np.int64)
    at = 0
    for t in range(k):  # sample by sample: the m words in cache serve 64 samples each
        i = samples[t]
        word = i >> 6
        bit = np.uint64(i & 63)
        ptr[t] = at
        n_wrong = 0
        for j in range(m):
            if (near[j, word] >> bit) & np.uint64(1):
                per_model[j + 1] += 1
                if (correct[j, word] >> bit) & np.uint64(1):
                    model[at] = j
                    at += 1
                else:
                    wrong[n_wrong] = j
                    n_wrong += 1
        split[t] = at
        for w in range(n_wrong):
            model[at] = wrong[w]
            at += 1
    ptr[k] = at
    for j in range(m):
        per_model[j + 1] += per_model[j]
    starts = per_model.copy()
    slot = np.empty(at, np.int32)
    rows = np.empty(at, np.int32)
    for t in range(k):
        for p in range(ptr[t], ptr[t + 1]):
            e = per_model[model[p]]
            per_model[model[p]] = e + 1
            slot[e] = p
            rows[e] = samples[t]
    return ptr, split, model[:at], slot, rows, starts


@numba.njit(nogil=True, cache=True)
def near_pairs(ptr, split, model, by_model, slot, m):  # pragma: no cover
    # The entries of near_entries with their losses (by_model: model by model, as
    # near_entries lists them; slot: where each goes in sample order): for every sample,
    # every model right there against every model wrong there (both near the boundary) is
    # one flip. count[a, b]: the flips a gets right; diff[a, b]: the sum over the flips of
    # the pair, either way, of loss_a - loss_b: the flips a gets right, in sample order,
    # less those b gets right (so diff[b, a] is exactly -diff[a, b]).
    loss = np.empty(len(by_model))
    for e in range(len(by_model)):
        loss[slot[e]] = by_model[e]
    count = np.zeros((m, m))
    gain = np.zeros((m, m))
    for t in range(len(split)):
        for p in range(ptr[t], split[t]):
            a = model[p]
            own = loss[p]
            for q in range(split[t], ptr[t + 1]):
                b = model[q]
                count[a, b] += 1.0
                gain[a, b] += own - loss[q]
    return count, gain - gain.T

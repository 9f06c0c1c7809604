"""The numba kernels of :mod:`lossgap.core.binning` (imported only when numba is installed).

Module-level functions, so numba's disk cache finds them again in the next process (a
kernel defined in a closure is cached under its closure's contents, which change between
processes, and would compile anew, about 8 s, in every one). Each has a numpy twin in
:mod:`lossgap.core.binning` that gives the same doubles.
"""

# numba compiles these from their Python source; the arrays' types come from the callers
# mypy: ignore-errors

from __future__ import annotations

import numba
import numpy as np

#: Rows whose bin keys are computed together before they are scattered into the bins.
_BLOCK = 1024


@numba.njit(nogil=True, cache=True)
def block_keys(scores, start, stop, shift, mirror, keys):
    # the bin keys of rows start..stop in a loop of their own, without a branch (fused
    # with the loop that scatters rows into bins, the branch on p <= 1/2 mispredicts on
    # every other shuffled row: 14 ms against 2 ms per million rows); `bits` is viewed
    # as int64 for the bit pattern of a double
    bits = np.empty(1, dtype=np.float64)
    as_int = bits.view(np.int64)
    for j in range(stop - start):
        p = scores[start + j] + 0.0
        low = p <= 0.5
        bits[0] = p if low else 1.0 - p
        key = as_int[0] >> shift
        keys[j] = key if low else mirror - key


@numba.njit(nogil=True, cache=True)
def block_hashes(scores, start, stop, multiplier, hash_bits, hashes):
    # a multiplicative hash of each score's bit pattern: its top hash_bits bits
    bits = np.empty(1, dtype=np.float64)
    as_int = bits.view(np.int64)
    mask = (1 << hash_bits) - 1
    for j in range(stop - start):
        bits[0] = scores[start + j] + 0.0
        hashes[j] = ((as_int[0] * multiplier) >> (64 - hash_bits)) & mask


@numba.njit(nogil=True, cache=True, inline="always")
def bin_row(acc, row, p, w, label, unweighted):
    # acc[b] = (rows, negative weight, positive weight, score sum, low, high); low and
    # high start at +inf and -inf, so a row updates them without a branch
    bin_ = acc[row]
    bin_[0] += 1.0
    if unweighted:
        bin_[2] += label  # negatives: rows less positives, taken when the bins are read
    else:
        bin_[1] += w * (1 - label)
        bin_[2] += w * label
    bin_[3] += p if unweighted else p * w
    bin_[4] = min(bin_[4], p)
    bin_[5] = max(bin_[5], p)


@numba.njit(nogil=True, cache=True)
def accumulate(scores, labels, weights, shift, mirror, first, last, acc):
    keys = np.empty(_BLOCK, np.int64)
    n = scores.shape[0]
    outside = 0
    lowest, highest = acc.shape[0], -1  # the bins touched lie between these
    for start in range(0, n, _BLOCK):
        stop = min(start + _BLOCK, n)
        block_keys(scores, start, stop, shift, mirror, keys)
        missed, lowest, highest = bin_block(
            keys, scores, labels, weights, start, stop, first, last, acc, lowest, highest
        )
        outside += missed
    return outside, lowest, highest


@numba.njit(nogil=True, cache=True, inline="always")
def bin_block(keys, scores, labels, weights, start, stop, first, last, acc, lowest, highest):
    # rows start..stop (keys: block_keys') into their bins; returns the rows outside
    # first..last and the lowest and highest bin touched so far
    unweighted = weights.shape[0] == 0
    outside = 0
    for j in range(stop - start):
        key = keys[j]
        if key < first or key > last:
            outside += 1
            continue
        i = start + j
        w = 1.0 if unweighted else weights[i]
        row = key - first
        lowest, highest = min(lowest, row), max(highest, row)
        bin_row(acc, row, scores[i] + 0.0, w, labels[i], unweighted)
    return outside, lowest, highest


@numba.njit(nogil=True, cache=True)
def add_weighted_sums(scores, labels, weights, loss, threshold, clip, start, stop, totals, cells):
    # rows start..stop of a weighted batch: totals, BINARY_SUMS; cells, the weight and the
    # capped loss of the cells y * 2 + decided; each added in row order (the numpy twin's
    # bincount adds in the same order). Unweighted rows add theirs in binary's own loop.
    weight, weight_sq, loss_sum, loss_sq, clipped, inf_weight, inf_count, brier = totals
    for i in range(start, stop):
        p = scores[i] + 0.0
        label = labels[i]
        value = loss[i]
        capped = value if value <= clip else clip
        cell = label * 2 + (1 if p >= threshold else 0)
        gap = p - label
        w = weights[i]
        cells[cell, 0] += w
        cells[cell, 1] += w * capped
        brier += w * (gap * gap)
        weight += w
        weight_sq += w * w
        if value == np.inf:
            if w > 0:
                inf_weight += w
                inf_count += 1.0
        else:
            loss_sum += w * value
            loss_sq += w * (value * value)
            clipped += w * capped
    totals[:] = (weight, weight_sq, loss_sum, loss_sq, clipped, inf_weight, inf_count, brier)


@numba.njit(nogil=True, cache=True)
def binary(
    scores, labels, weights, loss, threshold, clip, shift, mirror, first, last, acc, totals,
    cells, candidates, top, seen, multiplier, hash_bits,
):
    # block by block: the keys (and hashes) in SIMD, then the rows into their bins and
    # their sums, BINARY_SUMS in totals and the confusion cells' in cells, in row order in
    # one loop (unweighted; weighted, add_weighted_sums after the bins), then the
    # candidates: rows whose loss reached the top-th largest
    # seen so far, a superset of the worst `top` rows (returns their count, or -1 when
    # ties overflow the buffer); seen: a bitset of the scores' hashes (empty: none kept);
    # returns those and the first and last bin touched
    unweighted = weights.shape[0] == 0
    track = seen.shape[0] > 0
    cutoff = -np.inf
    held = 0
    size = candidates.shape[0]
    outside = 0
    lowest, highest = acc.shape[0], -1  # the bins touched lie between these
    loss_sum = loss_sq = clipped = inf_weight = inf_count = brier = 0.0
    keys = np.empty(_BLOCK, np.int64)
    hashes = np.empty(_BLOCK if track else 0, np.int64)
    n = scores.shape[0]
    for start in range(0, n, _BLOCK):
        stop = min(start + _BLOCK, n)
        block_keys(scores, start, stop, shift, mirror, keys)
        if track:
            block_hashes(scores, start, stop, multiplier, hash_bits, hashes)
            for j in range(stop - start):
                h = hashes[j]
                seen[h >> 6] |= 1 << (h & 63)
        if unweighted:
            for j in range(stop - start):
                key = keys[j]
                i = start + j
                p = scores[i] + 0.0
                label = labels[i]
                if key < first or key > last:
                    outside += 1
                else:
                    row = key - first
                    lowest, highest = min(lowest, row), max(highest, row)
                    bin_row(acc, row, p, 1.0, label, True)
                value = loss[i]
                capped = value if value <= clip else clip
                cell = label * 2 + (1 if p >= threshold else 0)
                gap = p - label
                cells[cell, 0] += 1.0
                cells[cell, 1] += capped
                brier += gap * gap
                if value == np.inf:
                    inf_weight += 1.0
                    inf_count += 1.0
                else:
                    loss_sum += value
                    loss_sq += value * value
                    clipped += capped
        else:
            missed, lowest, highest = bin_block(
                keys, scores, labels, weights, start, stop, first, last, acc, lowest, highest
            )
            outside += missed
            add_weighted_sums(
                scores, labels, weights, loss, threshold, clip, start, stop, totals, cells
            )
        if top == 0 or held < 0:
            continue
        for i in range(start, stop):
            value = loss[i]
            if value < cutoff:
                continue
            if held == size:  # keep the rows at or above the top-th largest loss
                cutoff = np.partition(loss[candidates], size - top)[size - top]
                kept = 0
                for c in range(size):
                    if loss[candidates[c]] >= cutoff:
                        candidates[kept] = candidates[c]
                        kept += 1
                held = kept if kept < size // 2 else -1  # ties fill the buffer: give up
                if held < 0:
                    break
            if value >= cutoff:
                candidates[held] = i
                held += 1
    if unweighted:
        totals[:] = (float(n), float(n), loss_sum, loss_sq, clipped, inf_weight, inf_count, brier)
    return outside, held, lowest, highest


@numba.njit(nogil=True, cache=True)
def true_class_prob(scores, labels, out):
    # p for a positive, 1 - p for a negative (exact for p >= 1/2), a select per row that
    # runs in SIMD registers (numpy's where takes ten times as long)
    for i in range(scores.shape[0]):
        p = scores[i]
        out[i] = p if labels[i] == 1 else 1.0 - p

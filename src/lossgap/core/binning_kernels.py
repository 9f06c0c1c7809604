"""The numba kernels of :mod:`lossgap.core.binning` (imported only when numba is installed).

Module-level functions, so numba's disk cache finds them again in the next process (a
kernel defined in a closure is cached under its closure's contents, which change between
processes, and would compile anew, about 8 s, in every one). Each has a numpy twin in
:mod:`lossgap.core.binning`: the bins, counts and extremes are the same, the per-bin sums
the same doubles (both add in row order), the batch's totals equal to the order of
additions (:data:`lossgap.core.binning.TOTALS_RTOL`).
"""

# numba compiles these from their Python source; the arrays' types come from the callers
# mypy: ignore-errors

from __future__ import annotations

import numba
import numpy as np

#: Rows whose largest loss is compared with the cut-off of the worst samples at once.
_BLOCK = 1024

# Reductions may be reordered (into SIMD lanes): the totals of a batch, whose order of
# additions is stated as a bound, never the per-bin sums.
_REORDER = {"reassoc", "nsz", "contract"}


@numba.njit(nogil=True, cache=True)
def bin_rows(scores, shift, mirror, first, rows):
    # each score's row in the dense range (its bin key less `first`; outside the range
    # below 0 or past its end), in a loop of its own without a branch, in SIMD registers:
    # fused with the scatter into the bins, the branch on p <= 1/2 mispredicts on every
    # other shuffled row; `bits` is viewed as int64 for the bit pattern of a double. Keys
    # of scores in [0, 1] take at most 26 bits (shift >= 38): rows fit an int32.
    bits = np.empty(1, dtype=np.float64)
    as_int = bits.view(np.int64)
    for i in range(scores.shape[0]):
        p = scores[i] + 0.0
        low = p <= 0.5
        bits[0] = p if low else 1.0 - p
        key = as_int[0] >> shift
        rows[i] = (key if low else mirror - key) - first


@numba.njit(nogil=True, cache=True)
def scatter(rows, scores, labels, weights, acc, touched):
    # each row into its bin, in row order, in the layout of binning._empty_bins: weighted,
    # acc[b] = (rows, negative weight, positive weight, score sum, low, high); unweighted
    # (weights None: numba compiles that case apart), (packed rows and positives, score
    # sum, low, high), the negatives the rows less the positives, taken when the bins are
    # read. low and high start at +inf and -inf, so a row updates them without a branch.
    # touched: the lowest and highest bin used so far. Returns the rows outside the range.
    # (Keys in a loop of their own over the whole batch and then this loop: 3 ms a million
    # shuffled rows; in blocks of 1,024 rows, 4.2 ms.)
    size = acc.shape[0]
    counts = acc.view(np.int64)  # unweighted: rows below bit 32, positives above
    lowest, highest = touched[0], touched[1]
    outside = 0
    for i in range(rows.shape[0]):
        row = rows[i]
        if row < 0 or row >= size:
            outside += 1
            continue
        lowest, highest = min(lowest, row), max(highest, row)
        p = scores[i]  # never -0.0 here: zeros lie outside the range
        label = labels[i]
        if weights is None:
            counts[row, 0] += 1 + (label << 32)
            acc[row, 1] += p
            acc[row, 2] = min(acc[row, 2], p)
            acc[row, 3] = max(acc[row, 3], p)
        else:
            w = weights[i]
            acc[row, 0] += 1.0
            acc[row, 1] += w * (1 - label)
            acc[row, 2] += w * label
            acc[row, 3] += p * w
            acc[row, 4] = min(acc[row, 4], p)
            acc[row, 5] = max(acc[row, 5], p)
    touched[0], touched[1] = lowest, highest
    return outside


@numba.njit(nogil=True, cache=True, fastmath=_REORDER)
def binary_sums(scores, labels, weights, loss, threshold, clip, totals, cells):
    # the batch's BINARY_SUMS added to totals, and per cell y * 2 + decided the weight and
    # the weighted capped loss added to cells. Arithmetic and selects, no branch, so the
    # loop runs in SIMD lanes (0.7 ms a million unweighted rows, 1.1 ms weighted): a row
    # goes to its cell by products with its 0/1 label and decision, exact (each product
    # is the value or zero, each difference the value or zero); infinite losses
    # (finite = loss < inf: `!=` keeps LLVM from vectorising) count apart, those of weight
    # 0 nowhere. Unweighted (weights None, compiled apart) the counts are integers:
    # exact in any order, the first cell's the rows less the others.
    weight = weight_sq = loss_sum = loss_sq = clipped = inf_weight = inf_count = brier = 0.0
    c0 = c1 = c2 = c3 = l0 = l1 = l2 = l3 = 0.0
    for i in range(scores.shape[0]):
        p = scores[i] + 0.0
        label = labels[i] * 1.0
        value = loss[i]
        finite = value < np.inf
        capped = min(value, clip)
        decided = 1.0 if p >= threshold else 0.0
        gap = p - label
        if weights is None:
            loss_sum += value if finite else 0.0
            loss_sq += value * value if finite else 0.0
            clipped += capped if finite else 0.0
            inf_count += 0.0 if finite else 1.0
            brier += gap * gap
            c1 += decided  # the decided positives, then less the true ones
            c2 += label  # the positives, then less the decided ones
            c3 += label * decided
        else:
            w = weights[i]
            capped = w * capped
            weight += w
            weight_sq += w * w
            loss_sum += w * value if finite else 0.0
            loss_sq += w * (value * value) if finite else 0.0
            clipped += capped if finite else 0.0
            inf_weight += 0.0 if finite else w
            inf_count += 0.0 if finite else (1.0 if w > 0.0 else 0.0)
            brier += w * (gap * gap)
            positive, both = w * label, w * label * decided
            c3 += both
            c2 += positive - both
            c1 += w * decided - both
            c0 += w - (w * decided + positive - both)
        true_loss = capped * label
        both_loss = true_loss * decided
        l3 += both_loss
        l2 += true_loss - both_loss
        l1 += capped * decided - both_loss
        l0 += capped - (capped * decided + true_loss - both_loss)
    if weights is None:
        n = float(scores.shape[0])
        weight = weight_sq = n
        inf_weight = inf_count
        c0, c1, c2 = n - c1 - c2 + c3, c1 - c3, c2 - c3
    for j, value in enumerate(
        (weight, weight_sq, loss_sum, loss_sq, clipped, inf_weight, inf_count, brier)
    ):
        totals[j] += value
    for j, (count, capped_sum) in enumerate(((c0, l0), (c1, l1), (c2, l2), (c3, l3))):
        cells[j, 0] += count
        cells[j, 1] += capped_sum


@numba.njit(nogil=True, cache=True, fastmath={"nnan", "reassoc", "nsz"})
def _largest(loss, start, stop):
    # the largest loss of rows start..stop (no NaN: the losses of validated probabilities)
    largest = -np.inf
    for i in range(start, stop):
        value = loss[i]
        largest = value if value > largest else largest
    return largest


@numba.njit(nogil=True, cache=True)
def worst_candidates(loss, top, cutoff, candidates):
    # rows whose loss reached the top-th largest seen so far (starting from `cutoff`, the
    # top-th largest of earlier batches), a superset of the worst `top` rows; a block
    # whose largest loss is below the cut-off is skipped after one pass. Returns their
    # count, or -1 when ties overflow the buffer.
    held = 0
    size = candidates.shape[0]
    n = loss.shape[0]
    for start in range(0, n, _BLOCK):
        stop = min(start + _BLOCK, n)
        if _largest(loss, start, stop) < cutoff:
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
                if kept >= size // 2:
                    return -1  # ties fill the buffer: give up
                held = kept
            if value >= cutoff:
                candidates[held] = i
                held += 1
    return held


@numba.njit(nogil=True, cache=True)
def mark_hashes(scores, multiplier, hash_bits, seen):
    # a bit per multiplicative hash of each score's bit pattern (its top hash_bits bits)
    bits = np.empty(1, dtype=np.float64)
    as_int = bits.view(np.int64)
    mask = (1 << hash_bits) - 1
    for i in range(scores.shape[0]):
        bits[0] = scores[i] + 0.0
        h = ((as_int[0] * multiplier) >> (64 - hash_bits)) & mask
        seen[h >> 6] |= 1 << (h & 63)


@numba.njit(nogil=True, cache=True)
def true_class_prob(scores, labels, out):
    # p for a positive, 1 - p for a negative (exact for p >= 1/2), a select per row that
    # runs in SIMD registers (numpy's where takes ten times as long)
    for i in range(scores.shape[0]):
        p = scores[i]
        out[i] = p if labels[i] == 1 else 1.0 - p


@numba.njit(nogil=True, cache=True)
def checked_true_class_prob(scores, labels, negative, positive, codes, out):
    # true_class_prob of raw labels: `positive` is class 1, `negative` class 0, their
    # codes written to `codes` (empty: the labels are 0 and 1 already); counts the rows
    # whose score is not in [0, 1] (NaN included) or whose label is neither
    bad = 0
    coded = codes.shape[0] > 0
    for i in range(scores.shape[0]):
        p = scores[i]
        label = labels[i]
        is_positive = label == positive
        bad += not (p >= 0.0 and p <= 1.0)
        bad += not (is_positive or label == negative)
        if coded:
            codes[i] = 1 if is_positive else 0
        out[i] = p if is_positive else 1.0 - p
    return bad

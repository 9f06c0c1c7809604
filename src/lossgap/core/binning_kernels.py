"""The numba kernels of :mod:`lossgap.core.binning` (imported only when numba is installed).

Module-level functions, so numba's disk cache finds them again in the next process (a
kernel defined in a closure is cached under its closure's contents, which change between
processes, and would compile anew, about 8 s, in every one). Each has a numpy twin in
:mod:`lossgap.core.binning`: the bins, counts and extremes are the same, the per-bin sums
the same doubles (both add in row order), the batch's totals equal to the order of
additions (:data:`lossgap.core.binning.TOTALS_RTOL`).

A batch is walked once, in blocks of :data:`_BLOCK` rows: for each block a few loops over
buffers that stay in the core's L1 cache (the rows' bins, class codes and log losses, each
loop simple enough to run in SIMD registers), then the scatter into the bins, the totals
and the test for the worst samples. Walked loop by loop over the whole batch instead, each
pass streamed 8 to 24 MB through the caches (five or six of them a batch).
"""

# numba compiles these from their Python source; the arrays' types come from the callers
# mypy: ignore-errors

from __future__ import annotations

import numba
import numpy as np

#: Rows a kernel takes at a time: their bins, codes and losses (8 KiB each) stay in L1.
_BLOCK = 1024

# Reductions may be reordered (into SIMD lanes): the totals of a batch, whose order of
# additions is stated as a bound, never the per-bin sums.
_REORDER = {"reassoc", "nsz", "contract"}

#: Relative margin under the cut-off of the worst samples within which a row stays a
#: candidate: the kernel's log differs from numpy's by at most 1 ulp (so the two losses by
#: a few 1e-16 relative), and the candidates must hold every row whose loss by numpy's log
#: reaches the cut-off.
_CANDIDATE_MARGIN = 1e-14

# fdlibm's natural logarithm (e_log.c, Sun Microsystems 1993): ln 2 in two parts and the
# minimax coefficients of log((1 + s) / (1 - s)) = 2s + Lg1 s^3 + Lg2 s^5 + ...
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_LG1 = 6.666666666666735130e-01
_LG2 = 3.999999999940941908e-01
_LG3 = 2.857142874366239149e-01
_LG4 = 2.222219843214978396e-01
_LG5 = 1.818357216161805012e-01
_LG6 = 1.531383769920937332e-01
_LG7 = 1.479819860511658591e-01
_TWO54 = 2.0**54
_SMALLEST_NORMAL = 2.2250738585072014e-308


@numba.njit(nogil=True, cache=True, error_model="numpy")
def negative_log(q):
    # -log(q) for q in [0, 1] (inf at 0), within 1 ulp of numpy's: fdlibm's algorithm with
    # its branches turned into selects, so a loop of it runs in SIMD registers (numba's
    # np.log calls libm once per row, 5 times as long as numpy's). error_model="numpy":
    # Python's check for a division by zero would keep the loop from vectorising.
    tiny = q < _SMALLEST_NORMAL  # subnormal (or zero): scaled into the normal range
    x = q * (_TWO54 if tiny else 1.0)
    bits = np.float64(x).view(np.int64)
    k = (bits >> 52) - 1023 - (54 if tiny else 0)
    hx = (bits >> 32) & 0x000FFFFF
    i = (hx + 0x95F64) & 0x100000  # x's mantissa into [sqrt(2)/2, sqrt(2))
    k += i >> 20
    f = np.int64((bits & 0x000FFFFFFFFFFFFF) | ((i ^ 0x3FF00000) << 32)).view(np.float64) - 1.0
    s = f / (2.0 + f)
    dk = float(k)
    z = s * s
    w = z * z
    r = z * (_LG1 + w * (_LG3 + w * (_LG5 + w * _LG7))) + w * (_LG2 + w * (_LG4 + w * _LG6))
    hfsq = 0.5 * f * f
    wide = dk * _LN2_HI - ((hfsq - (s * (hfsq + r) + dk * _LN2_LO)) - f)
    narrow = dk * _LN2_HI - ((s * (f - r) - dk * _LN2_LO) - f)
    log = wide if ((hx - 0x6147A) | (0x6B851 - hx)) > 0 else narrow
    return np.inf if q == 0.0 else -log


@numba.njit(nogil=True, cache=True)
def check_labels(scores, labels, negative, positive):
    # rows whose score is not in [0, 1] (NaN included) or whose label is neither class
    bad = 0
    for i in range(scores.shape[0]):
        p = scores[i]
        label = labels[i]
        bad += not (p >= 0.0 and p <= 1.0)
        bad += not (label == positive or label == negative)
    return bad


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _codes_and_loss(scores, labels, positive, codes, loss):
    # class codes and log losses of checked rows: p for a positive, 1 - p for a negative
    # (exact for p >= 1/2), then its negative log
    for j in range(scores.shape[0]):
        p = scores[j]
        is_positive = labels[j] == positive
        codes[j] = 1 if is_positive else 0
        loss[j] = negative_log(p if is_positive else 1.0 - p)


@numba.njit(nogil=True, cache=True)
def _keys(scores, shift, mirror, first, size, rows):
    # each score's row in the dense range (its bin key less `first`), `size` (the bins'
    # spare last row) for a score outside it; a loop without a branch, in SIMD registers
    # (fused with the scatter, the branch on p <= 1/2 mispredicts on every other shuffled
    # row). Keys of scores in [0, 1] take at most 26 bits (shift >= 38). Returns the rows
    # outside and the lowest and highest row inside.
    outside = 0
    lowest, highest = size, -1
    for j in range(scores.shape[0]):
        p = scores[j] + 0.0
        low = p <= 0.5
        key = np.float64(p if low else 1.0 - p).view(np.int64) >> shift
        row = (key if low else mirror - key) - first
        out = row < 0 or row >= size
        outside += 1 if out else 0
        lowest = min(lowest, size if out else row)
        highest = max(highest, -1 if out else row)
        rows[j] = size if out else row
    return outside, lowest, highest


@numba.njit(nogil=True, cache=True)
def _scatter(rows, scores, codes, weights, acc):
    # each row into its bin, in row order, in the layout of binning._empty_bins: weighted,
    # acc[b] = (rows, negative weight, positive weight, score sum, low, high); unweighted
    # (weights None: numba compiles that case apart), (packed rows and positives, score
    # sum, low, high), the negatives the rows less the positives, taken when the bins are
    # read. low and high start at +inf and -inf, so a row updates them without a branch;
    # rows outside the dense range land in the spare last bin, emptied when read.
    counts = acc.view(np.int64)  # unweighted: rows below bit 32, positives above
    for j in range(rows.shape[0]):
        # unsigned, so numba adds no wraparound of negative indices (_keys gives none):
        # 4% of the scatter
        row = np.uint64(rows[j])
        p = scores[j]  # never -0.0 in a bin: zeros lie outside the range
        label = codes[j]
        if weights is None:
            counts[row, 0] += 1 + (label << 32)
            acc[row, 1] += p
            acc[row, 2] = min(acc[row, 2], p)
            acc[row, 3] = max(acc[row, 3], p)
        else:
            w = weights[j]
            acc[row, 0] += 1.0
            acc[row, 1] += w * (1 - label)
            acc[row, 2] += w * label
            acc[row, 3] += p * w
            acc[row, 4] = min(acc[row, 4], p)
            acc[row, 5] = max(acc[row, 5], p)


@numba.njit(nogil=True, cache=True)
def _bin_block(start, scores, codes, weights, shift, mirror, first, acc, touched, rows, outside,
               n_out):
    # the block's rows into the bins; rows outside the dense range appended to `outside`
    size = acc.shape[0] - 1
    out, lowest, highest = _keys(scores, shift, mirror, first, size, rows)
    touched[0], touched[1] = min(touched[0], lowest), max(touched[1], highest)
    if out:
        for j in range(rows.shape[0]):
            if rows[j] == size:
                outside[n_out] = start + j
                n_out += 1
    _scatter(rows, scores, codes, weights, acc)
    return n_out


@numba.njit(nogil=True, cache=True)
def bin_batch(scores, labels, weights, base, shift, mirror, first, acc, touched, outside, n_out):
    # the bins of class codes `labels` alone (binning.dense_bins): the rows outside the
    # dense range (numbered from `base`) appended to `outside` after its first n_out;
    # returns their new count. touched: the lowest and highest bin used so far.
    rows = np.empty(_BLOCK, np.int64)
    n = scores.shape[0]
    for start in range(0, n, _BLOCK):
        stop = min(start + _BLOCK, n)
        s, y, r = scores[start:stop], labels[start:stop], rows[: stop - start]
        if weights is None:
            n_out = _bin_block(base + start, s, y, None, shift, mirror, first, acc, touched,
                               r, outside, n_out)
        else:
            n_out = _bin_block(base + start, s, y, weights[start:stop], shift, mirror, first,
                               acc, touched, r, outside, n_out)
    return n_out


@numba.njit(nogil=True, cache=True, fastmath=_REORDER)
def binary_sums(scores, labels, weights, loss, threshold, clip, totals, cells):
    # the rows' BINARY_SUMS added to totals, and per cell y * 2 + decided the weight and
    # the weighted capped loss added to cells. Arithmetic and selects, no branch, so the
    # loop runs in SIMD lanes: a row goes to its cell by products with its 0/1 label and
    # decision, exact (each product is the value or zero, each difference the value or
    # zero); infinite losses (finite = loss < inf: `!=` keeps LLVM from vectorising)
    # count apart, those of weight 0 nowhere. Unweighted (weights None, compiled apart)
    # the counts are integers: exact in any order, the first cell's the rows less the
    # others.
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


@numba.njit(nogil=True, cache=True)
def _largest(loss):
    # the largest loss: losses are at least 0 (or -0.0, the least as an int64) and never
    # NaN, and such doubles order as their bit patterns, whose largest LLVM finds in SIMD
    # registers (a float max runs one row at a time: 0.5 ns a row, 0.04 ns as integers)
    bits = loss.view(np.int64)
    largest = bits[0]
    for j in range(bits.shape[0]):
        largest = max(largest, bits[j])
    return np.int64(largest).view(np.float64)


@numba.njit(nogil=True, cache=True)
def lowered(cutoff):
    # the cut-off less _CANDIDATE_MARGIN (an infinite one as it is: inf - inf is NaN)
    return cutoff - abs(cutoff) * _CANDIDATE_MARGIN if abs(cutoff) < np.inf else cutoff


@numba.njit(nogil=True, cache=True)
def _candidates(start, loss, top, cut, candidates, held_loss, held):
    # rows of the block whose loss reached the top-th largest seen so far (cut[0], less
    # _CANDIDATE_MARGIN), appended to `candidates` and their losses to `held_loss`: a
    # superset of the worst `top` rows. A full buffer keeps the rows at or above the
    # top-th largest of its losses; -1 when ties fill it (then every row is a candidate).
    size = candidates.shape[0]
    lower = cut[0]
    for j in range(loss.shape[0]):
        value = loss[j]
        if value < lower:
            continue
        if held == size:
            lower = lowered(np.partition(held_loss, size - top)[size - top])
            kept = 0
            for c in range(size):
                if held_loss[c] >= lower:
                    candidates[kept] = candidates[c]
                    held_loss[kept] = held_loss[c]
                    kept += 1
            if kept >= size // 2:
                return -1  # ties fill the buffer: give up
            held = kept
        if value >= lower:
            candidates[held] = start + j
            held_loss[held] = value
            held += 1
    cut[0] = lower
    return held


@numba.njit(nogil=True, cache=True)
def binary_pass(scores, labels, positive, weights, loss, base, shift, mirror, first, threshold,
                clip, acc, touched, totals, cells, top, cut, candidates, held_loss, held,
                outside, n_out):
    # one pass over a batch of checked rows (numbered from `base`): per block of rows,
    # with loss None (compiled apart), the class codes (label == positive) and the log
    # losses (given a loss, the labels are the codes); the bins (_bin_block), the totals
    # (binary_sums), and the candidates for the worst samples (held >= 0; blocks whose
    # largest loss is under the cut-off skipped).
    # `cut`: the cut-off less the margin, carried from call to call. Returns the
    # candidates held (-1: any row) and the rows outside the dense range in `outside`.
    codes = np.empty(_BLOCK, np.int64)
    rows = np.empty(_BLOCK, np.int64)
    own = np.empty(_BLOCK)
    n = scores.shape[0]
    for start in range(0, n, _BLOCK):
        stop = min(start + _BLOCK, n)
        m = stop - start
        s = scores[start:stop]
        if loss is None:
            c, values = codes[:m], own[:m]
            _codes_and_loss(s, labels[start:stop], positive, c, values)
        else:  # the labels are class codes already
            c, values = labels[start:stop], loss[start:stop]
        if weights is None:
            n_out = _bin_block(base + start, s, c, None, shift, mirror, first, acc, touched,
                               rows[:m], outside, n_out)
            binary_sums(s, c, None, values, threshold, clip, totals, cells)
        else:
            w = weights[start:stop]
            n_out = _bin_block(base + start, s, c, w, shift, mirror, first, acc, touched,
                               rows[:m], outside, n_out)
            binary_sums(s, c, w, values, threshold, clip, totals, cells)
        if held >= 0 and _largest(values) >= cut[0]:
            held = _candidates(base + start, values, top, cut, candidates, held_loss, held)
    return held, n_out


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
def occupied_bins(acc, folded, lowest, highest):
    # binning._occupied of the bins lowest..highest of acc (at least one): the occupied
    # ones' positions (from lowest) and (neg, pos, score sum, low, high), each bin and the
    # span of folded (None: compiled apart) left clean. One pass counts the occupied bins,
    # a second reads and empties them, where numpy's casts, gathers and fancy writes
    # walked the span eight times (the 11 class columns' bins at 10^6 x 10: about 12 ms).
    # Unweighted, rows and positives come out of the packed counts as doubles, plus the
    # counts folded out of them, then the negatives are rows less positives: numpy's
    # operations, the same doubles. Weighted, a bin is occupied when it holds a row.
    weighted = acc.shape[1] == 6
    counts = acc.view(np.int64)
    low32 = np.int64(0xFFFFFFFF)
    m = 0
    for b in range(lowest, highest + 1):
        at = np.uint64(b)  # unsigned: lowest is at least 0
        if weighted:
            m += acc[at, 0] != 0.0
        else:
            rows = float(counts[at, 0] & low32)
            if folded is not None:
                rows += folded[at, 0]
            m += rows != 0.0
    position = np.empty(m, np.int64)
    sums = np.empty((5, m))
    j = 0
    for b in range(lowest, highest + 1):
        at = np.uint64(b)
        if weighted:
            if acc[at, 0] == 0.0:
                continue
            for c in range(5):
                sums[c, j] = acc[at, c + 1]
            acc[at, 0] = acc[at, 1] = acc[at, 2] = acc[at, 3] = 0.0
            acc[at, 4], acc[at, 5] = np.inf, -np.inf
        else:
            packed = counts[at, 0]
            rows, positives = float(packed & low32), float(packed >> 32)
            if folded is not None:
                rows += folded[at, 0]
                positives += folded[at, 1]
                folded[at, 0] = folded[at, 1] = 0.0
            if rows == 0.0:
                continue
            sums[0, j], sums[1, j] = rows - positives, positives
            for c in range(3):
                sums[c + 2, j] = acc[at, c + 1]
            counts[at, 0] = 0
            acc[at, 1], acc[at, 2], acc[at, 3] = 0.0, np.inf, -np.inf
        position[j] = b - lowest
        j += 1
    return position, sums

"""The numba kernels of the multiclass passes over the ``(n, k)`` probabilities (imported
only when numba is installed, through :func:`lossgap.core.binning.kernel_module`).

Module-level functions, so numba's disk cache finds them again in the next process.
:func:`lossgap.core.predictions.multiclass_kernels` chooses them from ``KERNEL_MIN_CELLS``
cells; each has a numpy twin in the module that calls it (tested against it):

* :func:`chance_test`: :func:`lossgap.core.label_errors._sample_test`'s chance matrix path,
  the same flagged cells, its four sums within :data:`lossgap.core.binning.TOTALS_RTOL`
  (compensated; numpy's are pairwise);
* :func:`class_bins`: :func:`lossgap.core.recalibrate._class_bins`, the same bins and sums;
* :func:`isotonic_held_out`: the cross-fitting's fold-by-fold isotonic predictions and
  :func:`lossgap.core.recalibrate._held_out_totals`, the totals within 1e-12 relative;
* :func:`held_out_terms`: :func:`lossgap.core.recalibrate._held_out_totals` of a block of
  mapped probabilities (the temperature's), the totals within 1e-12 relative;
* :func:`stable_argsort`: ``np.argsort(keys, kind="stable")`` of the content order's keys
  (:func:`lossgap.core.rows.content_order`), the same order, and the keys in it;
* :func:`row_argmax`: ``np.argmax(prob, axis=1)`` of
  :meth:`lossgap.core.predictions.Predictions.predicted`, the same indices;
* :func:`gather_rows`: ``np.take(values, rows, axis=0)`` of the content order's rows
  (:func:`lossgap.core.rows.subset`), the same values;
* :func:`add_row_keys`: :func:`lossgap.core.rows._key`'s sums of a block of bit
  patterns, the same keys (modular sums);
* :func:`column_weights`: the bootstrap's class-column weights
  (:func:`lossgap.core.bootstrap._columns_weights_t`, whose numpy twin is
  ``_Column.weights_t``), the same doubles;
* :func:`temperature_moments` and :func:`true_and_largest`: the temperature fit's passes
  (:meth:`lossgap.core.recalibrate._Temperature.parts` after its ``exp``, and
  ``_Temperature.of_transposed``), the same doubles;
* :func:`decided_sums`: :meth:`lossgap.core.tally.Tally.from_predictions`' gathers of the
  decided and the true class's probabilities and the expected confusion's ``bincount``,
  the same doubles;
* :func:`divide_rows`: the row sums' check and division of
  ``Predictions._check_row_sums``, the same quotients;
* :func:`half_loss_shares`: :func:`lossgap.core.diagnostics._half_loss_share` of the
  multiclass concentration's draws, the same doubles.

Unsigned indices: numba wraps a negative index around (``a[-1]``), so an index it cannot
prove nonnegative (read from an array: a label, a fold, a bin, a radix digit's place) costs
a test and a select at every access and keeps LLVM from hoisting around it. Such indices,
nonnegative by construction, are cast to ``np.uint64`` where they are used (a cast of a
nonnegative int64 changes no value). At 10^6 x 10 (captured arguments, user time, best of
9): ``class_bins`` 14.2-15.5 -> 11.2 ms, the radix sort's scatters 6.5-7.3 -> 6.0-6.3 ms,
``isotonic_held_out`` 39-41 -> 35-37 ms, ``chance_test`` 47.5 -> 45.0 ms.
"""

# numba compiles these from their Python source; the arrays' types come from the callers
# mypy: ignore-errors

from __future__ import annotations

import math

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

#: Low cells a row sorts by insertion (a few compares each); more take numpy's sort.
_INSERTION_MAX = 32

#: Sorting networks of 2 to 8 values (optimal: Knuth, TAOCP 5.3.4), the compare-exchanges
#: of m values from _NETWORK_STARTS[m] to _NETWORK_STARTS[m + 1] in _NETWORK_PAIRS: a row's
#: few low cells sorted by min and max without a branch on their values (insertion
#: mispredicted about once per cell). Each network is tested on every 0/1 input.
_NETWORKS = (
    ((0, 1),),
    ((0, 2), (0, 1), (1, 2)),
    ((0, 1), (2, 3), (0, 2), (1, 3), (1, 2)),
    ((0, 3), (1, 4), (0, 2), (1, 3), (0, 1), (2, 4), (1, 2), (3, 4), (2, 3)),
    ((0, 5), (1, 3), (2, 4), (1, 2), (3, 4), (0, 3), (2, 5), (0, 1), (2, 3), (4, 5), (1, 2),
     (3, 4)),
    ((0, 6), (2, 3), (4, 5), (0, 2), (1, 4), (3, 6), (0, 1), (2, 5), (3, 4), (1, 2), (4, 6),
     (2, 3), (4, 5), (1, 2), (3, 4), (5, 6)),
    ((0, 2), (1, 3), (4, 6), (5, 7), (0, 4), (1, 5), (2, 6), (3, 7), (0, 1), (2, 3), (4, 5),
     (6, 7), (2, 4), (3, 5), (1, 4), (3, 6), (1, 2), (3, 4), (5, 6)),
)
_NETWORK_PAIRS = np.array([pair for network in _NETWORKS for pair in network], dtype=np.int64)
_NETWORK_STARTS = np.cumsum([0, 0, 0, *(len(network) for network in _NETWORKS)])
_NETWORK_MAX = len(_NETWORKS) + 1


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


@numba.njit(nogil=True, cache=True, error_model="numpy")
def chance_test(prob, labels, weights, cut, clip, out):  # pragma: no cover
    # The label-error test of lossgap.core.label_errors._sample_test in one pass over the
    # rows. A cell's chance is at least its own probability, so only cells of probability
    # at most cut (and a margin for the rounding) can be flagged, and the classes at most
    # as likely as such a cell are such cells too: each row's few low cells, sorted
    # ascending, their running sum, and a cell's chance the sum at the end of its run of
    # equal values are the doubles of chance_matrix (the same additions in the same order;
    # equal values commute). A cell is flagged when its chance rounded to 12 digits
    # (numpy's round: times 1e12, rint, over 1e12) is at most cut, rounded only within
    # 1e-12 of cut (the rounding moves a chance in [0, 1] by at most 0.5e-12 and a few
    # units in the last place: further from cut, the chance's side of it is the rounded
    # one's; 50 -> 44-47 ms at 10^6 x 10, the division off most cells): the chance grows with
    # the value, so the flagged cells are those up to the largest flagged value, the
    # label's among them when its probability is at most that. Over the flagged cells:
    # out = (labelled weight, weight x p, labelled weight x loss, weight x p x loss), loss =
    # -log(max(p, clip)); each row's terms added (from its largest flagged value down),
    # then the rows' in compensated sums. weights: None for unit weights.
    n, k = prob.shape
    low = cut + 1e-9
    ranked = np.empty(k)
    carried = np.empty(k)
    acc = np.zeros(8)
    for i in range(n):
        row = prob[i]
        m = 0
        for j in range(k):  # the low cells, without a branch (each written, kept if low)
            v = row[j]
            ranked[np.uint64(m)] = v  # m counts up from 0 (unsigned: the module's note)
            m += v <= low
        if m == 0:
            continue
        if m <= _NETWORK_MAX:  # a few cells: a sorting network
            for c in range(_NETWORK_STARTS[m], _NETWORK_STARTS[m + 1]):
                a, b = np.uint64(_NETWORK_PAIRS[c, 0]), np.uint64(_NETWORK_PAIRS[c, 1])
                x, y = ranked[a], ranked[b]
                ranked[a] = min(x, y)
                ranked[b] = max(x, y)
        elif m <= _INSERTION_MAX:  # by insertion
            for j in range(1, m):
                v = ranked[j]
                at = j
                while at > 0 and ranked[at - 1] > v:
                    ranked[at] = ranked[at - 1]
                    at -= 1
                ranked[at] = v
        else:  # many classes
            ranked[:m] = np.sort(ranked[:m])
        total = 0.0
        for j in range(m):
            total += ranked[j]
            carried[j] = total
        w = 1.0 if weights is None else weights[i]
        mass = mass_loss = 0.0
        end = carried[m - 1]
        top = -1.0  # the largest flagged value
        for j in range(m - 1, -1, -1):
            at = np.uint64(j)
            p = ranked[at]
            if j < m - 1 and ranked[at + np.uint64(1)] != p:
                end = carried[at]
            if end > cut + 1e-12 or (end >= cut - 1e-12 and np.rint(end * 1e12) / 1e12 > cut):
                continue
            top = max(top, p)
            loss = -math.log(max(p, clip))
            mass += w * p
            mass_loss += (w * p) * loss
        own = own_loss = 0.0
        p = row[np.uint64(labels[i])]
        if p <= top:
            own = w
            own_loss = w * -math.log(max(p, clip))
        _add(acc, 0, own)
        _add(acc, 2, mass)
        _add(acc, 4, own_loss)
        _add(acc, 6, mass_loss)
    for j in range(4):
        out[j] = acc[2 * j] + acc[2 * j + 1]


#: Samples whose terms are added plainly before the block's sum joins the compensated one.
_BLOCK = 1024
#: Cells of the isotonic maps' probabilities that :func:`isotonic_held_out` maps at a time
#: (1 MiB), in whole blocks of _BLOCK samples (12 at 10 classes).
_MAP_CELLS = 1 << 17


@numba.njit(inline="always")
def _add_terms(
    mapped, start, stop, labels, weights, decided_before, loss_before, clip, acc
):  # pragma: no cover
    # the samples start..stop's terms of recalibrate._held_out_totals, their mapped
    # probabilities the columns of mapped (k, >= stop - start), the first largest one's
    # class the decision: added _BLOCK samples at a time, each block's sums then joined to
    # acc's compensated sums (7, 2)
    k = mapped.shape[0]
    for first in range(start, stop, _BLOCK):
        loss = brier = correct = changed = gain = gain_sq = capped_sq = 0.0
        for i in range(first, min(first + _BLOCK, stop)):
            j = i - start
            label = labels[i]
            true = mapped[label, j]
            decided = 0
            largest = -1.0
            square = 0.0
            for c in range(k):
                v = mapped[c, j]
                square += v * v
                if v > largest:
                    decided, largest = c, v
            w = 1.0 if weights is None else weights[i]
            capped = min(max(true, clip), 1.0)
            log_true = math.log(capped)
            # one logarithm when the clip leaves the probability as it is (the same
            # argument, so the same double): 2 -> about 1 call of libm's log a sample
            log_plain = log_true if capped == true else math.log(true)
            g = loss_before[i] + log_true
            loss += w * -log_plain
            brier += w * (square - 2 * true + 1)
            correct += w * (decided == label)
            changed += w * (decided != decided_before[i])
            gain += w * g
            gain_sq += w * g * g
            capped_sq += w * log_true * log_true
        for j, term in enumerate((loss, brier, correct, changed, gain, gain_sq, capped_sq)):
            _add(acc[j], 0, term)


@numba.njit(nogil=True, cache=True, error_model="numpy")
def held_out_terms(
    mapped, start, labels, weights, decided_before, loss_before, clip, acc
):  # pragma: no cover
    # recalibrate._held_out_totals of a block of mapped probabilities (k, block), the
    # samples from start on, added into acc's compensated sums (7, 2); out of acc, each
    # total is acc[j, 0] + acc[j, 1]. weights: None for unit weights.
    _add_terms(
        mapped, start, start + mapped.shape[1], labels, weights, decided_before, loss_before,
        clip, acc,
    )


@numba.njit(nogil=True, cache=True, error_model="numpy")
def isotonic_held_out(
    prob_t, index, fold, labels, weights, decided_before, loss_before,
    below, knot_of_bin, knots, values, slopes, eps, clip, out,
):  # pragma: no cover
    # The held-out totals of the isotonic maps of lossgap.core.recalibrate's multiclass
    # cross-fitting in one pass over the samples (_held_out_totals: log loss, Brier,
    # correct, changed decisions, gain, gain squared, squared capped loss). A sample of
    # fold f: each class's probability is _ClassBins.predict's (the knots at most its
    # score counted from its bin: below[c, f, bin] occupied bins before it, its own when
    # its knot is at most the score; then the interpolation's arithmetic), clipped to
    # [eps[f], 1 - eps[f]] and renormalised over the classes in class order (numpy's sum
    # over the first axis). Blocks of samples, each class row read along its contiguous
    # stretch; each block's terms added, then the blocks' in compensated sums. weights:
    # None for unit weights.
    k, n = prob_t.shape
    folds, width = below.shape[1], below.shape[2]
    # each (class, fold, bin)'s map in one record of 64 bytes, read with one random access
    # where five tables took five (72 -> 52 ms of mapping at 10^6 x 10): the bin's knot,
    # then (slope, left knot, left value) of a score below that knot (at = below), then of
    # one at or above it (at = below + 1, an occupied bin only: an empty bin's knot is inf)
    record = np.zeros((k, folds, width, 8))
    for c in range(k):
        for f in range(folds):
            for b in range(width):
                at = below[c, f, b]
                left = at - 1 if at > 0 else 0
                record[c, f, b, 0] = knot_of_bin[c, f, b]
                record[c, f, b, 1] = slopes[c, f, at]
                record[c, f, b, 2] = knots[c, f, left]
                record[c, f, b, 3] = values[c, f, left]
                if knot_of_bin[c, f, b] < np.inf:
                    record[c, f, b, 4] = slopes[c, f, at + 1]
                    record[c, f, b, 5] = knots[c, f, at]
                    record[c, f, b, 6] = values[c, f, at]
    # the samples mapped a block at a time, each class row in turn: a class's records of
    # every fold (320 KB at 10^3 bins, 5 folds) read again by the block's next samples
    # while still in the L2 cache (1,024 -> 12,288 samples at 10 classes: 51-53 -> 40 ms);
    # the terms still added _BLOCK samples at a time from the first, so the same doubles
    rows = max(1, _MAP_CELLS // (k * _BLOCK)) * _BLOCK
    mapped = np.empty((k, rows))
    total = np.empty(rows)
    acc = np.zeros((7, 2))
    for start in range(0, n, rows):
        stop = min(start + rows, n)
        total[:] = 0.0
        for c in range(k):
            for i in range(start, stop):
                f = np.uint64(fold[i])  # unsigned: the module's note
                s = prob_t[c, i]
                at = record[c, f, np.uint64(index[c, i])]
                # both sides' values, then a select: the score lies on either side of its
                # bin's knot about as often, so a branch on it mispredicted half the time
                # (52 -> 43 ms of mapping at 10^6 x 10); an empty bin's zeros above go unused
                below_knot = at[1] * (s - at[2]) + at[3]
                from_knot = at[4] * (s - at[5]) + at[6]
                v = from_knot if at[0] <= s else below_knot
                v = min(max(v, eps[f]), 1.0 - eps[f])
                j = np.uint64(i - start)
                mapped[c, j] = v
                total[j] += v
        for c in range(k):  # renormalised: each class row over the samples' totals
            for j in range(stop - start):
                mapped[c, j] /= total[j]
        _add_terms(mapped, start, stop, labels, weights, decided_before, loss_before, clip, acc)
    for j in range(7):
        out[j] = acc[j, 0] + acc[j, 1]


@numba.njit(nogil=True, cache=True, error_model="numpy")
def class_bins(score, labels, cls, weights, fold, folds, shift, mirror, index):  # pragma: no cover
    # lossgap.core.recalibrate._class_bins of one class column in two passes: each score's
    # bin (tally.bin_keys: the bits of min(p, 1 - p) shifted, mirrored above 1/2) into
    # index, then, less the lowest bin, each sample's weight by (fold, bin, label is cls)
    # and its weighted score by (fold, bin), added in row order as numpy's bincount adds
    # them (the same doubles). weights: None for unit weights. Returns (weights (folds, m,
    # 2), score sums (folds, m)).
    n = score.shape[0]
    lowest = np.iinfo(np.int64).max
    highest = np.iinfo(np.int64).min
    for i in range(n):  # the keys into index (below 2^(bits + 12): they fit an int32)
        p = score[i] + 0.0
        # the bits by a scalar view and the mirror by a select, so that the loop runs in
        # SIMD registers (through a one-element buffer and a branch it ran a row at a time)
        key = np.float64(min(p, 1.0 - p)).view(np.int64) >> shift
        key = mirror - key if p > 0.5 else key
        index[i] = key
        lowest = min(lowest, key)
        highest = max(highest, key)
    m = highest - lowest + 1 if n else 1
    mass = np.zeros((folds, m, 2))
    score_sum = np.zeros((folds, m))
    for i in range(n):
        b = index[i] - lowest
        index[i] = b
        b, f = np.uint64(b), np.uint64(fold[i])  # both at least 0 (unsigned: the module's note)
        if weights is None:
            mass[f, b, 1 if labels[i] == cls else 0] += 1.0
            score_sum[f, b] += score[i]
        else:
            w = weights[i]
            mass[f, b, 1 if labels[i] == cls else 0] += w
            score_sum[f, b] += w * score[i]
    return mass, score_sum


@numba.njit(nogil=True, cache=True)
def row_argmax(prob, out):  # pragma: no cover
    # np.argmax(prob, axis=1) of finite rows into out (int64): each row's first largest
    # value (ties to the lowest class), the same indices; numpy's argmax over the short
    # rows of an (n, k) array restarts its loop for every row (18 against 3 ms at 10^6 x 10)
    n, k = prob.shape
    for i in range(n):
        best = 0
        largest = prob[i, 0]
        for j in range(1, k):
            v = prob[i, j]
            if v > largest:
                best, largest = j, v
        out[i] = best


@numba.njit(nogil=True, cache=True)
def column_weights(replicate_t, rows, positive, every, of_class):  # pragma: no cover
    # lossgap.core.bootstrap._columns_weights_t: each unit's replicate weights (a row of
    # replicate_t, (units, replicates)) added to its row of every column (rows: (columns,
    # units)) in every (columns, rows, replicates), and to of_class where the unit is of
    # the column's class (positive: (columns, units)), the units in order: each row's sum
    # adds its units in the order the sparse products add them (the same doubles)
    units, replicates = replicate_t.shape
    for u in range(units):
        weight = replicate_t[u]
        for c in range(rows.shape[0]):
            row = np.uint64(rows[c, u])  # unsigned: the module's note
            total = every[c, row]
            for j in range(replicates):
                total[j] += weight[j]
            if positive[c, u]:
                own = of_class[c, row]
                for j in range(replicates):
                    own[j] += weight[j]


@intrinsic
def _prefetch(typingctx, values, at):  # pragma: no cover
    # a hint to load the cache line of values.flat[at] (llvm.prefetch: read, kept in every
    # cache level); no effect on any value
    def codegen(context, builder, signature, args):
        data = context.make_array(signature.args[0])(context, builder, args[0]).data
        byte = ir.IntType(8).as_pointer()
        word = ir.IntType(32)
        hint = builder.module.declare_intrinsic(
            "llvm.prefetch", [byte], ir.FunctionType(ir.VoidType(), [byte, word, word, word])
        )
        address = builder.bitcast(builder.gep(data, [args[1]]), byte)
        read, every_level, data_cache = (ir.Constant(word, v) for v in (0, 3, 1))
        builder.call(hint, [address, read, every_level, data_cache])
        return context.get_dummy_value()

    return types.void(values, at), codegen


#: Rows ahead whose cache lines :func:`gather_rows` asks for while copying a row.
_GATHER_AHEAD = 32


@numba.njit(nogil=True, cache=True)
def gather_rows(values, rows, out):  # pragma: no cover
    # out[i] = values[rows[i]] (np.take(values, rows, axis=0) of a C-ordered (n, k) array
    # of doubles), asking for the first and last cache line of the row _GATHER_AHEAD on
    # before copying each: the rows of a random order come from memory, and np.take waits
    # on a few at a time (the content order's 10^6 x 10 probabilities: 20-22 -> 8 ms).
    # Returns False, at the first row outside 0..n - 1, for np.take to wrap or raise.
    n, k = values.shape
    flat = values.reshape(-1)
    m = rows.shape[0]
    for i in range(m):
        if i + _GATHER_AHEAD < m:
            at = rows[i + _GATHER_AHEAD] * k
            _prefetch(flat, at)
            _prefetch(flat, at + k - 1)
        row = rows[i]
        if row < 0 or row >= n:
            return False
        for c in range(k):
            out[i, c] = values[row, c]
    return True


@numba.njit(nogil=True, cache=True)
def add_row_keys(key, bits, multipliers):  # pragma: no cover
    # lossgap.core.rows._key's terms of one (n, k) array of float64 bit patterns (bits, a
    # uint64 view of the values): each row's bit patterns times their columns'
    # multipliers, added to its key modulo 2^64 (so in any order the same key), -0.0's
    # pattern read as 0.0's (rows._bits adds 0.0). One pass along the rows, where numpy
    # multiplied blocks and reduced each short row (22 -> 4 ms at 10^6 x 10)
    negative_zero = np.uint64(1) << np.uint64(63)
    n, k = bits.shape
    for i in range(n):
        total = key[i]
        for j in range(k):
            b = bits[i, j]
            if b == negative_zero:
                b = np.uint64(0)
            total += b * multipliers[j]
        key[i] = total


#: Bits of the key the first scatter orders by (256 buckets: its writes to memory stay in
#: as many cache lines), then the next bits within each bucket (held in cache, about 4,000
#: keys of 10^6), after which a group of equal leading bits holds about one key.
_TOP_BITS = 8
_NEXT_BITS = 12
#: Groups of equal leading bits up to this size are sorted by insertion; larger ones (keys
#: that agree in their first 20 bits: equal rows, or keys that are not hashes) by a radix
#: sort of their lower bits, a byte a pass.
_INSERTION_GROUP = 32


@numba.njit(nogil=True, cache=True)
def _scatter_by_bits(key_a, row_a, key_b, row_b, lo, hi, shift, counts):  # pragma: no cover
    # key_a and row_a[lo:hi] stably by the bits (key >> shift) & (len(counts) - 2) into
    # key_b and row_b[lo:hi]; afterwards counts[d] is where digit d's group ends
    mask = np.uint64(counts.shape[0] - 2)
    counts[:] = 0
    one = np.uint64(1)
    for j in range(lo, hi):  # rows, digits and places unsigned (unsigned: the module's note)
        i = np.uint64(j)
        counts[((key_a[i] >> shift) & mask) + one] += 1
    counts[0] = lo
    for d in range(1, counts.shape[0]):
        counts[d] += counts[d - 1]
    for j in range(lo, hi):
        i = np.uint64(j)
        d = (key_a[i] >> shift) & mask
        at = counts[d]
        counts[d] = at + 1
        key_b[np.uint64(at)] = key_a[i]
        row_b[np.uint64(at)] = row_a[i]


@numba.njit(nogil=True, cache=True)
def _insertion_sort(keys, rows, lo, hi):  # pragma: no cover
    # keys[lo:hi] ascending, rows with them; equal keys keep their order (stable)
    for j in range(lo + 1, hi):
        key, row = keys[j], rows[j]
        at = j
        while at > lo and keys[at - 1] > key:
            keys[at] = keys[at - 1]
            rows[at] = rows[at - 1]
            at -= 1
        keys[at] = key
        rows[at] = row


@numba.njit(nogil=True, cache=True)
def stable_argsort(keys, order, ordered):  # pragma: no cover
    # np.argsort(keys, kind="stable") of uint64 keys into order (int64), and the keys in
    # that order into ordered (keys[order], which the sort carries already: no gather).
    # Most significant bits first: the rows scattered by their key's top 8 bits, each
    # bucket then by the next 12 within the cache, and each group of equal leading 20 bits
    # (about one hashed key) sorted by insertion, a large group by its lower 48 bits (six
    # byte passes, least significant first: the group's leading bits are equal). Every
    # step keeps equal keys in row order. Three passes over the keys where a radix sort
    # of 8 bits a pass took eight (31-45 -> 22-26 ms at 10^6 keys on this machine).
    n = keys.shape[0]
    key_b, row_b = np.empty_like(keys), np.empty(n, dtype=np.int64)
    top = np.empty((1 << _TOP_BITS) + 1, dtype=np.int64)
    groups = np.empty((1 << _NEXT_BITS) + 1, dtype=np.int64)
    bytes_ = np.empty(257, dtype=np.int64)
    _scatter_by_bits(keys, np.arange(n), key_b, row_b, 0, n, np.uint64(64 - _TOP_BITS), top)
    start = 0
    for b in range(1 << _TOP_BITS):
        end = top[b]
        _scatter_by_bits(
            key_b, row_b, ordered, order, start, end,
            np.uint64(64 - _TOP_BITS - _NEXT_BITS), groups,
        )
        first = start
        for d in range(1 << _NEXT_BITS):
            last = groups[d]
            if last - first > _INSERTION_GROUP:  # six passes: back in ordered and order
                for p in range(0, 6, 2):
                    _scatter_by_bits(
                        ordered, order, key_b, row_b, first, last, np.uint64(8 * p), bytes_
                    )
                    _scatter_by_bits(
                        key_b, row_b, ordered, order, first, last, np.uint64(8 * p + 8), bytes_
                    )
            elif last - first > 1:
                _insertion_sort(ordered, order, first, last)
            first = last
        start = end


@numba.njit(nogil=True, cache=True)
def temperature_moments(
    weight, log_prob_t, true_log_prob, start, total, out, third
):  # pragma: no cover
    # recalibrate._Temperature.parts after its exp, for the samples start..start + m:
    # weight's first m columns (k, >= m) their exp(b log p - top), log_prob_t (k, n) and
    # true_log_prob (n,) all samples' log p. Each sample's class sums of weight, weight
    # log p, weight log p^2 (and ^3 if third) as numpy's sum(axis=0) adds them (the first
    # class's value, then each next class's in turn), the same doubles; total[:m] gets
    # the first sum, out's rows 1, 2 (and 3) at columns start.. the gradient, curvature
    # (and third derivative). The loops run along the samples, independent lanes, over
    # whole C-ordered arrays (a sliced block's strides are known only at run time, which
    # keeps LLVM from SIMD) and local sums (no aliasing): SIMD without reordering a sum.
    k = weight.shape[0]
    m = total.shape[0]
    s0, s1, s2, s3 = np.empty(m), np.empty(m), np.empty(m), np.empty(m)
    for c in range(k):
        e_row, lp_row = weight[c, :m], log_prob_t[c, start : start + m]
        for j in range(m):
            lp = lp_row[j]
            e = e_row[j]
            t1 = e * lp
            t2 = t1 * lp
            if c == 0:
                s0[j], s1[j], s2[j], s3[j] = e, t1, t2, t2 * lp
            else:
                s0[j] += e
                s1[j] += t1
                s2[j] += t2
                s3[j] += t2 * lp
    for j in range(m):
        mean = s1[j] / s0[j]
        spread = s2[j] / s0[j]
        total[j] = s0[j]
        out[1, start + j] = mean - true_log_prob[start + j]
        out[2, start + j] = spread - mean * mean
        if third:
            out[3, start + j] = s3[j] / s0[j] - mean * (3 * spread - 2 * (mean * mean))


@numba.njit(nogil=True, cache=True)
def decided_sums(
    prob, decided, labels, weights, confidence, true_prob, expected
):  # pragma: no cover
    # tally.Tally.from_predictions' gathers and sums over the (n, k) rows in one pass:
    # confidence[i] = prob[i, decided[i]], true_prob[i] = prob[i, labels[i]] (the same
    # doubles as numpy's fancy indexing), and expected (k, k, zeros on entry) row c,
    # column j the sum of (weights times) class c's probabilities over the rows decided j,
    # added in row order as np.bincount(decided, col, k) adds them: the same doubles
    n, k = prob.shape
    for i in range(n):
        j = np.uint64(decided[i])  # classes, at least 0 (unsigned: the module's note)
        confidence[i] = prob[i, j]
        true_prob[i] = prob[i, np.uint64(labels[i])]
        if weights is None:
            for c in range(k):
                expected[c, j] += prob[i, c]
        else:
            w = weights[i]
            for c in range(k):
                expected[c, j] += w * prob[i, c]


@numba.njit(nogil=True, cache=True)
def true_and_largest(log_prob_t, labels, true_log_prob, largest):  # pragma: no cover
    # recalibrate._Temperature.of_transposed's two passes over log_prob_t (k, n) in one:
    # true_log_prob[i] = log_prob_t[labels[i], i] (numpy's gather) and largest[i] each
    # sample's largest value (np.max(axis=0): the same value; of a tie of 0.0 and -0.0
    # either sign, which _Temperature.parts cannot tell apart, see its highest)
    k, n = log_prob_t.shape
    for i in range(n):
        largest[i] = log_prob_t[0, i]
    for c in range(1, k):
        row = log_prob_t[c]
        for i in range(n):
            largest[i] = max(largest[i], row[i])
    for i in range(n):
        true_log_prob[i] = log_prob_t[np.uint64(labels[i]), i]  # unsigned: the module's note


@numba.njit(nogil=True, cache=True, error_model="numpy")
def divide_rows(values, sums, tolerance, out):  # pragma: no cover
    # predictions.Predictions._check_row_sums after its sums: out = values / sums[:, None]
    # (the same quotients; numpy's broadcast division restarts its inner loop for each
    # short row) and the number of rows whose |sum - 1| exceeds tolerance
    n, k = values.shape
    bad = 0
    for i in range(n):
        s = sums[i]
        bad += abs(s - 1.0) > tolerance
        for j in range(k):
            out[i, j] = values[i, j] / s
    return bad


@numba.njit(nogil=True, cache=True)
def half_loss_shares(loss, order, weights, out):  # pragma: no cover
    # lossgap.core.diagnostics._half_loss_share of every row of weights (rows, cells) over
    # the cells' losses, both taken in `order` (worst first) here, not gathered first: per
    # row the running sums of weight x loss and of weight, in order as numpy's cumsum adds
    # them, the count of running losses below half the total, and the running weight there
    # over the whole (1.0 where the total loss is 0): the same doubles. One row's running
    # losses kept at a time, where numpy's four (rows, cells) temporaries went through
    # memory (the multiclass concentration's 100 draws of 20,000 runs: 25 -> 5 ms)
    cells = order.shape[0]
    carried = np.empty(cells)
    for r in range(weights.shape[0]):
        row = weights[r]
        total = 0.0
        for j in range(cells):
            c = np.uint64(order[j])  # a permutation of the cells (unsigned: the module's note)
            total += row[c] * loss[c]
            carried[j] = total
        half = total / 2
        below = 0
        for j in range(cells):
            below += carried[j] < half
        at = min(below, cells - 1)
        mass = 0.0
        share = 0.0
        for j in range(cells):
            mass += row[np.uint64(order[j])]
            if j == at:
                share = mass
        out[r] = share / mass if total > 0 else 1.0

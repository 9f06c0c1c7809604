"""The numba kernels of an evaluation's replicates and fits (imported only with numba).

Chosen through :func:`lossgap.core.binning.kernel_module` (``LOSSGAP_NUMBA=0`` selects the
numpy twins; the command line keeps them, see
:func:`~lossgap.core.binning.numpy_unless_loaded`). Module-level functions, so numba's
disk cache finds them again in the next process. Each has a numpy twin that gives the same
figures to a stated tolerance (they add the same numbers in another order):

* :func:`replicate_terms`: :func:`lossgap.core.decompose.numpy_replicate_terms` within
  :data:`lossgap.core.decompose.TERMS_ATOL` nats (tested);
* :func:`binary_statistics`: the binary bootstrap's statistics but the smooth ECE
  (:func:`lossgap.core.bootstrap.numpy_binary_statistics`) within
  :data:`lossgap.core.bootstrap.STATISTICS_RTOL` (tested), NaN where it is NaN;
* :func:`threshold_objectives`: :func:`lossgap.core.decision.numpy_threshold_objectives`,
  the same doubles (tested);
* :func:`pooled_candidates`, :func:`least_gaps`, :func:`kept_range`: the decision's
  confidence sets (``lossgap.core.decision._pooled_candidates`` and ``_threshold_set``,
  whose numpy paths are their twins), the same doubles (tested);
* :func:`excess_over`: the decision's excess over the chosen candidate and its least
  value (``lossgap.core.decision._excess_lower_bound``, whose numpy path is its twin),
  the same doubles (tested; a zero's sign aside);
* :func:`least_values`: the order statistics near an end of
  :func:`lossgap.core.uncertainty.quantiles` (``np.partition`` its twin), the same doubles
  (tested; a zero's sign aside);
* :func:`mesh_operator`: the smooth ECE's mesh operator
  (``lossgap.core.calibration._mesh_operator``, whose numpy path is its twin), the same
  doubles (tested);
* :func:`deposit_rows`: the smooth ECE's grids of a few rows
  (``lossgap.core.calibration._deposit``, whose numpy path is its twin), the same doubles
  (tested);
* :func:`cell_deposit`: the smooth ECE's grids from per-cell sums
  (``lossgap.core.calibration._CellDeposit``, whose numpy path is its twin), the same
  doubles (tested);
* :func:`convolved_mesh_terms`: the bandwidth search's smooth ECE terms from its
  convolved grids (``lossgap.core.calibration._smooth_ece_of_convolved``, whose numpy
  path is its twin), the same doubles (tested);
* :func:`fit_logistic`, :func:`fit_logistic_from`, :func:`logistic_start`,
  :func:`logistic_sums`: the Newton steps of
  :func:`lossgap.core.recalibrate.fit_logistic` on few rows, and the terms of each step
  on many (its numpy path is the twin), within
  :data:`lossgap.core.recalibrate.FIT_LOSS_RTOL` and
  :data:`lossgap.core.recalibrate.FIT_RTOL` (tested);
* :func:`poisson_rows`: :func:`lossgap.core.bootstrap.poisson_rows`, the same draws
  from the same generator (tested);
* :func:`binomial_rows`: :func:`lossgap.core.bootstrap.binomial_rows`, the same draws
  from the same generator (tested);
* :func:`held_out_sums`, :func:`held_out_sums_of_losses`: the recalibration's held-out totals
  (``lossgap.core.recalibrate._held_out_scorer``, whose numpy path is its twin) within
  :data:`lossgap.core.recalibrate.HELD_OUT_RTOL` (tested);
* :func:`fold_rows`: the folds' rows and weights of a table of distinct scores
  (``lossgap.core.recalibrate._fold_weights``, whose numpy path is its twin), the same
  rows and doubles (tested);
* :func:`held_run_sums`: a fold's held-out weights (and moments of the logits) summed per
  run (``lossgap.core.recalibrate._held_run_sums``, whose numpy path is its twin) within
  :data:`lossgap.core.recalibrate.RUN_SUMS_RTOL` (tested; counts exactly);
* :func:`training_run_weights`: a fold's training weights per run (the whole table's
  less its held-out rows', residues cleared), ``lossgap.core.recalibrate._held_run_sums``
  and ``_clear_residue`` its twin, within the same tolerance;
* :func:`pool_runs`: :class:`lossgap.core.pooling.Pooling`'s runs, the same starts, and
  their sums within :data:`lossgap.core.pooling.POOLED_RTOL` (tested; counts exactly);
* :func:`interpolate`: ``np.interp`` at strictly ascending knots (its twin), the same
  doubles (tested);
* :func:`concentration_sums`: the loss concentration's cells worst first and their running
  sums (``lossgap.core.diagnostics._concentration_sums``, whose numpy path is its twin),
  the same doubles (tested);
* :func:`running_sum`: :func:`lossgap.core.metrics.cumulative_sum` (``np.cumsum`` its
  twin), the same doubles (tested).
"""

# numba compiles these from their Python source; the arrays' types come from the callers
# mypy: ignore-errors

from __future__ import annotations

import math

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic, overload


@numba.njit(cache=True, nogil=True, error_model="numpy")
def replicate_terms(neg_loss, pos_loss, w_neg, w_pos, clip):
    # neg_loss, pos_loss: (2, m) each rule's loss of the scores (log loss, then Brier) for
    # a negative and a positive label; w_neg, w_pos: (replicates, m). Per row: the PAV fit
    # of the positive share on the cells with weight (a stack of blocks, each block's
    # negatives and positives summed), then each rule's (MCB, DSC). A block's cells share
    # its fitted share, so the calibrated score is a sum over blocks, one loss per block.
    # A row without weight gives NaN (0 / 0, numpy's error model).
    rows, m = w_neg.shape
    out = np.empty((rows, 2, 2))
    # the blocks below the last one; the last one's sums stay in registers (through the
    # stack, each pooling waited on a store: 30% slower)
    block_neg = np.empty(m)
    block_pos = np.empty(m)
    for r in range(rows):
        blocks = 0
        last_neg = 0.0
        last_pos = 0.0
        started = False
        negatives = 0.0
        positives = 0.0
        original_log = 0.0
        original_brier = 0.0
        for j in range(m):
            a, b = w_neg[r, j], w_pos[r, j]
            negatives += a
            positives += b
            original_log += a * neg_loss[0, j] + b * pos_loss[0, j]
            original_brier += a * neg_loss[1, j] + b * pos_loss[1, j]
            if a + b <= 0.0:  # a cell of no weight is not fitted
                continue
            if started and b * (last_neg + last_pos) < last_pos * (a + b):
                # its share is below the last block's: pool them, then the blocks below
                # while their share is above the pooled one
                last_neg += a
                last_pos += b
                while blocks > 0 and last_pos * (
                    block_neg[blocks - 1] + block_pos[blocks - 1]
                ) < block_pos[blocks - 1] * (last_neg + last_pos):
                    blocks -= 1
                    last_neg += block_neg[blocks]
                    last_pos += block_pos[blocks]
            else:
                if started:
                    block_neg[blocks] = last_neg
                    block_pos[blocks] = last_pos
                    blocks += 1
                last_neg, last_pos, started = a, b, True
        if started:
            block_neg[blocks] = last_neg
            block_pos[blocks] = last_pos
            blocks += 1
        calibrated_log = 0.0
        calibrated_brier = 0.0
        for k in range(blocks):
            a, b = block_neg[k], block_pos[k]
            share = b / (a + b)
            p = min(max(share, clip), 1.0 - clip)
            calibrated_log += a * -np.log1p(-p) + b * -np.log(p)
            calibrated_brier += a * share * share + b * (1.0 - share) * (1.0 - share)
        total = negatives + positives
        rate = positives / total
        p = min(max(rate, clip), 1.0 - clip)
        reference_log = negatives * -np.log1p(-p) + positives * -np.log(p)
        reference_brier = negatives * rate * rate + positives * (1.0 - rate) * (1.0 - rate)
        out[r, 0, 0] = (original_log - calibrated_log) / total
        out[r, 0, 1] = (reference_log - calibrated_log) / total
        out[r, 1, 0] = (original_brier - calibrated_brier) / total
        out[r, 1, 1] = (reference_brier - calibrated_brier) / total
    return out


@numba.njit(cache=True, nogil=True, error_model="numpy")
def binary_statistics(scores, loss_neg, loss_pos, decided, starts, w_neg, w_pos):
    # Every statistic of lossgap.core.bootstrap.BINARY_STATISTICS (in that order) but the
    # smooth ECE, of each row of weights over the ascending scores (its numpy twin:
    # bootstrap._binary_units' statistics), one pass over the scores and one back for the
    # average precision. decided: 1 where the score decides positive; starts: the first
    # row of each occupied ECE bin. NaN where the twin's is NaN: an infinite loss with
    # weight makes the log loss infinite, one with no weight adds nothing.
    # The scores go in the outer loop and the rows in the inner one (the weights
    # transposed once): what depends on the score alone (its losses, squares, decision,
    # bin) is read once for every row instead of once a row, and a choice by it (the
    # decision, an infinite loss) adds an exact 0 to the sums it skips instead of
    # branching; each row's sums add the same terms in the same order as a pass per row
    # did, so the same doubles (tested against that pass; 200 replicates of 267 scores
    # 0.205 -> 0.13 ms).
    rows, m = w_neg.shape
    bins = starts.shape[0]
    neg_t = np.ascontiguousarray(w_neg.T)
    pos_t = np.ascontiguousarray(w_pos.T)
    # per row: loss, brier, tn, fp, fn, tp, negatives, positives, pairs, ties, mass, ece,
    # residual, hit (an infinite loss with weight: 1.0), true_above, above, precision_sum
    sums = np.zeros((17, rows))
    loss, brier, tn, fp, fn, tp = sums[0], sums[1], sums[2], sums[3], sums[4], sums[5]
    negatives, positives, pairs, ties = sums[6], sums[7], sums[8], sums[9]
    mass, ece, residual, hit = sums[10], sums[11], sums[12], sums[13]
    true_above, above, precision_sum = sums[14], sums[15], sums[16]
    b = 0
    for j in range(m):
        if b + 1 < bins and j == starts[b + 1]:
            for r in range(rows):
                ece[r] += abs(residual[r])
                residual[r] = 0.0
            b += 1
        infinite_neg, infinite_pos = np.isinf(loss_neg[j]), np.isinf(loss_pos[j])
        finite_neg = 0.0 if infinite_neg else loss_neg[j]
        finite_pos = 0.0 if infinite_pos else loss_pos[j]
        s = scores[j]
        square_neg, square_pos = s * s, (1.0 - s) * (1.0 - s)
        positive = decided[j]
        a_row, p_row = neg_t[j], pos_t[j]
        # three loops of a few sums each (fewer values live in each: 0.145 -> 0.13 ms)
        for r in range(rows):
            a, p = a_row[r], p_row[r]
            hit[r] = max(hit[r], 1.0 if (infinite_neg and a > 0.0) else 0.0)
            hit[r] = max(hit[r], 1.0 if (infinite_pos and p > 0.0) else 0.0)
            loss[r] += a * finite_neg
            loss[r] += p * finite_pos
            brier[r] += a * square_neg + p * square_pos
        for r in range(rows):
            a, p = a_row[r], p_row[r]
            fp[r] += a if positive else 0.0
            tp[r] += p if positive else 0.0
            tn[r] += 0.0 if positive else a
            fn[r] += 0.0 if positive else p
        for r in range(rows):
            a, p = a_row[r], p_row[r]
            negatives[r] += a
            positives[r] += p
            pairs[r] += p * negatives[r]  # the negatives at or below the score
            ties[r] += p * a
            both = a + p
            mass[r] += both
            residual[r] += both * s - p
    for j in range(m - 1, -1, -1):  # the average precision, from the top score down
        a_row, p_row = neg_t[j], pos_t[j]
        for r in range(rows):
            p = p_row[r]
            true_above[r] += p
            above[r] += a_row[r] + p
            precision_sum[r] += p * (true_above[r] / above[r] if above[r] > 0.0 else 0.0)
    out = np.empty((rows, 12))
    for r in range(rows):
        ece[r] += abs(residual[r])
        total = negatives[r] + positives[r]
        log_loss = np.inf if hit[r] > 0.0 else loss[r] / total
        out[r, 0] = log_loss
        out[r, 1] = brier[r] / total
        actual_neg, actual_pos = tn[r] + fp[r], fn[r] + tp[r]
        out[r, 2] = (tn[r] + tp[r]) / (actual_neg + actual_pos)
        present = (actual_neg > 0.0) + (actual_pos > 0.0)
        recall_neg = tn[r] / actual_neg if actual_neg > 0.0 else 0.0
        recall = tp[r] / actual_pos if actual_pos > 0.0 else 0.0
        out[r, 3] = (recall_neg * (actual_neg > 0.0) + recall * (actual_pos > 0.0)) / present
        predicted = fp[r] + tp[r]
        out[r, 4] = tp[r] / predicted if predicted > 0.0 else 0.0
        out[r, 5] = recall
        out[r, 6] = 2.0 * tp[r] / (predicted + actual_pos) if predicted + actual_pos > 0.0 else 0.0
        if negatives[r] > 0.0 and positives[r] > 0.0:
            out[r, 7] = (pairs[r] - 0.5 * ties[r]) / (negatives[r] * positives[r])
        else:
            out[r, 7] = np.nan
        out[r, 8] = precision_sum[r] / true_above[r] if true_above[r] > 0.0 else np.nan
        out[r, 9] = ece[r] / mass[r]
        baseline = 0.0
        for share in (negatives[r] / total, positives[r] / total):
            if share > 0.0:
                baseline -= share * np.log(share)
        out[r, 10] = baseline
        out[r, 11] = log_loss / baseline if baseline > 0.0 else np.nan
    return out


@numba.njit(cache=True, nogil=True, error_model="numpy")
def threshold_objectives(w_neg, w_pos, costs, with_costs):
    # (4, rows, m + 1): accuracy, F1, balanced accuracy and (with_costs) the cost of each
    # row of weights at each candidate threshold, the same expressions in the same order
    # as the numpy twin (lossgap.core.decision.numpy_threshold_objectives): the same
    # doubles. Candidate j decides positive from score j on. Zeroed, of four slabs, though
    # every cell is written and the fourth is unused without costs: an uninitialised
    # np.empty, or np.zeros of three slabs chosen at run time, took 1.1 ms on 200 x 268
    # cells against 0.19 ms (the three interleaved stores then miss the cache, it seems)
    rows, m = w_neg.shape
    out = np.zeros((4, rows, m + 1))
    below_neg = np.empty(m + 1)
    below_pos = np.empty(m + 1)
    for r in range(rows):
        below_neg[0] = 0.0
        below_pos[0] = 0.0
        for j in range(m):
            below_neg[j + 1] = below_neg[j] + w_neg[r, j]
            below_pos[j + 1] = below_pos[j] + w_pos[r, j]
        neg, pos = below_neg[m], below_pos[m]
        total = neg + pos
        per_pos = 1.0 / pos if pos > 0.0 else 0.0
        per_neg = 1.0 / neg if neg > 0.0 else 0.0
        present = (1.0 if pos > 0.0 else 0.0) + (1.0 if neg > 0.0 else 0.0)
        for j in range(m + 1):
            tn, fn = below_neg[j], below_pos[j]
            fp, tp = neg - tn, pos - fn
            out[0, r, j] = (tp + tn) / total
            out[1, r, j] = 2.0 * tp / (tp + fp + pos) if tp > 0.0 else 0.0
            out[2, r, j] = (tp * per_pos + tn * per_neg) / present
            if with_costs:
                out[3, r, j] = (
                    costs[0, 0] * tn + costs[0, 1] * fp + costs[1, 0] * fn + costs[1, 1] * tp
                ) / total
    return out



@numba.njit(cache=True, nogil=True)
def pooled_candidates(scores, top, pooled_scores):
    # lossgap.core.decision._pooled_candidates (its numpy path is the twin): each exact
    # candidate's pooled stand-in, np.searchsorted(pooled_scores, 0.5 * (low + high)) of
    # its edges (low, high) = ([0, scores], [scores, top]), the same doubles and the same
    # counts, as runs: where each begins and its pooled candidate. The midpoints ascend,
    # so one walk of the pooled scores finds them all.
    m = scores.shape[0]
    pooled = pooled_scores.shape[0]
    first = np.empty(m + 1, np.int64)
    at = np.empty(m + 1, np.int64)
    runs = 0
    j = 0
    for k in range(m + 1):
        low = 0.0 if k == 0 else scores[k - 1]
        high = top if k == m else scores[k]
        mid = 0.5 * (low + high)
        while j < pooled and pooled_scores[j] < mid:
            j += 1
        if runs == 0 or at[runs - 1] != j:
            first[runs] = k
            at[runs] = j
            runs += 1
    return first[:runs].copy(), at[:runs].copy()


@numba.njit(cache=True, nogil=True)
def least_gaps(values, chosen, maximise, first):
    # lossgap.core.decision._threshold_set's least gap per run of exact candidates (its
    # numpy path, np.fmin.reduceat of the gaps to the chosen candidate, is the twin): the
    # same differences, NaN skipped unless a run holds nothing else. A select, not a
    # branch, per candidate (a third of the time).
    runs = first.shape[0]
    out = np.empty(runs)
    for r in range(runs):
        stop = first[r + 1] if r + 1 < runs else values.shape[0]
        least = np.inf
        valid = False
        for k in range(first[r], stop):
            gap = chosen - values[k] if maximise else values[k] - chosen
            least = gap if gap < least else least
            valid |= gap == gap
        out[r] = least if valid else np.nan
    return out


@numba.njit(cache=True, nogil=True)
def kept_range(values, chosen, maximise, lower, first, at, best, tol):
    # lossgap.core.decision._threshold_set's confidence set (its numpy path is the twin):
    # candidate k is kept when its gap to the chosen one plus its pooled candidate's lower
    # bound is at most tol (the chosen one always); the first and last kept and their
    # largest gap, the same comparisons on the same doubles.
    runs = first.shape[0]
    low = best
    high = best
    worst = chosen - values[best] if maximise else values[best] - chosen
    for r in range(runs):
        stop = first[r + 1] if r + 1 < runs else values.shape[0]
        bound = lower[at[r]]
        for k in range(first[r], stop):
            gap = chosen - values[k] if maximise else values[k] - chosen
            if gap + bound <= tol or k == best:
                low = min(low, k)
                high = max(high, k)
                if gap > worst:
                    worst = gap
    return low, high, worst


@numba.njit(cache=True, nogil=True)
def excess_over(draws, base, at, maximise, out):
    # lossgap.core.decision._excess_lower_bound's excess and its least value per column
    # (its numpy path, two subtractions and a minimum over the rows, is the twin): each
    # replicate's deviation from the unresampled value, less (or minus) the chosen
    # column's, the same two subtractions of the same doubles, written into out; the
    # least value NaN where a column holds a NaN (np.minimum propagates it). One pass.
    rows, columns = draws.shape
    least = np.empty(columns)
    chosen_base = base[at]
    for r in range(rows):
        chosen = draws[r, at] - chosen_base
        for j in range(columns):
            deviation = draws[r, j] - base[j]
            excess = chosen - deviation if maximise else deviation - chosen
            out[r, j] = excess
            if r == 0:
                least[j] = excess
            elif least[j] == least[j] and not excess >= least[j]:
                least[j] = excess
    return least


@numba.njit(cache=True, nogil=True)
def least_values(values, columns, count, negate):
    # lossgap.core.uncertainty.quantiles' order statistics near an end (np.partition its
    # twin): the `count` least values of each given column of values (rows, all columns),
    # ascending (of the negated values with negate: the greatest, negated), NaN throughout
    # in a column holding a NaN (numpy sorts NaN last; quantiles makes such a column NaN).
    # Values of the column itself, so the same doubles (but a zero's sign where a column
    # holds both zeros). One pass over the rows in their order, each column's least kept
    # in order by insertion (few past the first rows: about count * log(rows / count)).
    rows = values.shape[0]
    taken = columns.shape[0]
    least = np.empty((taken, count))
    kept = np.zeros(taken, np.int64)
    has_nan = np.zeros(taken, np.bool_)
    sign = -1.0 if negate else 1.0
    for r in range(rows):
        for c in range(taken):
            v = sign * values[r, columns[c]]
            if v != v:
                has_nan[c] = True
                continue
            # the kept values at unsigned positions (all in [0, count)): without numba's
            # test for a negative index (the five calls at 1e3: 85 -> 73 us)
            k = kept[c]
            if k == count:
                if not v < least[c, np.uint64(count - 1)]:
                    continue
                k -= 1
            else:
                kept[c] = k + 1
            while k > 0 and v < least[c, np.uint64(k - 1)]:
                least[c, np.uint64(k)] = least[c, np.uint64(k - 1)]
                k -= 1
            least[c, np.uint64(k)] = v
    out = np.empty((count, taken))
    for c in range(taken):
        for i in range(count):
            out[i, c] = np.nan if has_nan[c] else least[c, i]
    return out


@numba.njit(cache=True, nogil=True)
def mesh_operator(
    taps, at, frac, first, left, right, origin, centre, steps, width, near_zero, near_one, mesh
):
    # The smooth ECE's (m, mesh) operator, nonzero on each score's band of `width` mesh
    # points from first[i] (lossgap.core.calibration._mesh_operator's numpy path: its twin): mesh
    # point q reads outputs left[q] (share 1 - right[q]) and left[q] + 1 (share right[q]);
    # an output o reads the score's grid points at[i] (share 1 - frac[i]) and at[i] + 1
    # (share frac[i]) through the tap o + centre - g, and their mirror images at 0 (rows
    # below near_zero) and at 1 (rows from near_one). The same products added in the same
    # order as the twin: the same doubles. Every index is nonnegative (the taps lie at
    # offset `origin` = 2 points, past any grid point's reach): read as unsigned, without
    # numba's test for a negative index at each of the twelve reads (at 1e3, 269 scores
    # on 284 mesh points: 148 -> 81 us)
    m = at.shape[0]
    operator = np.zeros((m, mesh))
    for i in range(m):
        for k in range(width):
            q = first[i] + k
            read_left = origin + left[q] + centre
            value_sum = 0.0
            for g in range(2):
                grid = at[i] + g
                grid_share = 1.0 - frac[i] if g == 0 else frac[i]
                for o in range(2):
                    read = read_left + o
                    share = 1.0 - right[q] if o == 0 else right[q]
                    value = taps[np.uint64(read - grid)]
                    if i < near_zero:
                        value += taps[np.uint64(read + grid)] if grid > 0 else 0.0
                    if i >= near_one:
                        value += (
                            taps[np.uint64(read + grid - 2 * steps)] if grid < steps else 0.0
                        )
                    value_sum += grid_share * share * value
            operator[i, np.uint64(q)] = value_sum
    return operator


@numba.njit(cache=True, nogil=True)
def _pairwise_sum(x, row, start, stop):
    # numpy's pairwise sum of x[row, start:stop] (DOUBLE_pairwise_sum, loops_utils.h.src): under
    # 8 terms in turn; to 128, eight running sums added as a tree, then the rest in turn;
    # past that, the halves (cut at a multiple of 8) summed apart
    n = stop - start
    if n < 8:
        total = 0.0
        for i in range(start, stop):
            total += x[row, i]
        return total
    if n <= 128:
        r0, r1, r2, r3 = x[row, start], x[row, start + 1], x[row, start + 2], x[row, start + 3]
        r4, r5, r6, r7 = x[row, start + 4], x[row, start + 5], x[row, start + 6], x[row, start + 7]
        i = start + 8
        while i < stop - n % 8:
            r0 += x[row, i]
            r1 += x[row, i + 1]
            r2 += x[row, i + 2]
            r3 += x[row, i + 3]
            r4 += x[row, i + 4]
            r5 += x[row, i + 5]
            r6 += x[row, i + 6]
            r7 += x[row, i + 7]
            i += 8
        total = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
        while i < stop:
            total += x[row, i]
            i += 1
        return total
    half = n // 2
    half -= half % 8
    return _pairwise_sum(x, row, start, start + half) + _pairwise_sum(
        x, row, start + half, stop
    )


@numba.njit(cache=True, nogil=True)
def deposit_rows(weights, left, right, points):
    # lossgap.core.calibration._deposit of several rows (its numpy path, the product of
    # the rows with a sparse matrix of the shares, is the twin): scipy adds each score's
    # two shares times every row's weight into the grid points left and left + 1, score
    # after score (csc_matvecs' axpy), into a (points, rows) array it then transposes;
    # the same products added in the same order, so the same doubles, without building
    # the matrix (2 rows of 267 scores: 44 -> 3 us)
    rows, m = weights.shape
    out = np.zeros((points, rows))
    for j in range(m):
        low, high = 1 - right[j], right[j]
        at = left[j]
        for r in range(rows):
            out[at, r] += low * weights[r, j]
        for r in range(rows):
            out[at + 1, r] += high * weights[r, j]
    return out.T


@numba.njit(cache=True, nogil=True)
def cell_deposit(scores, sums, points):
    # lossgap.core.calibration._CellDeposit's grids (its numpy path is the twin): the
    # ascending scores' rows of sums (weights, then weights times scores) summed per cell
    # of the grid of `points` points, as numpy's reduceat sums a run (its first term plus
    # the pairwise sum of the rest), each score's cell min(floor(s steps), steps - 1)
    # (the twin's searchsorted of s steps), then each cell shared between its two grid
    # points by the twin's expressions: the same doubles, in one pass.
    steps = points - 1
    rows, m = sums.shape
    cells = np.zeros((rows, steps))
    start = 0
    while start < m:
        cell = min(math.floor(scores[start] * steps), steps - 1)
        # the cell's scores: up to the first with s steps >= cell + 1 (none for the last)
        bound = cell + 1.0 if cell < steps - 1 else np.inf
        stop = start + 1
        while stop < m and scores[stop] * steps < bound:
            stop += 1
        for r in range(rows):
            cells[r, cell] = sums[r, start] + _pairwise_sum(sums, r, start + 1, stop)
        start = stop
    half = rows // 2
    grid = np.zeros((half, points))
    for r in range(half):
        last = 0.0
        for k in range(steps):
            share = cells[half + r, k] * steps - k * cells[r, k]
            grid[r, k] = cells[r, k] - share
            if k > 0:
                grid[r, k] += last
            last = share
        grid[r, steps] += last
    return grid


@numba.njit(cache=True, nogil=True)
def convolved_mesh_terms(convolved, offset, left, keep, right, floor):
    # lossgap.core.calibration._smooth_ece_of_convolved (its numpy path, _on_mesh then
    # _smooth_ece_on_mesh, is the twin): the two rows of the convolution (the residual's,
    # the mass's) read from `offset` at the mesh's grid points left and left + 1 with
    # shares keep and right, the mass's plus the density floor; returns the terms
    # |residual / density| times the density, then the density, at each mesh point: the
    # twin's operations on the same doubles (the caller sums them as the twin does)
    mesh = left.shape[0]
    terms = np.empty((2, mesh))
    for j in range(mesh):
        at = offset + left[j]
        smoothed = convolved[0, at] * keep[j] + convolved[0, at + 1] * right[j]
        density = (convolved[1, at] * keep[j] + convolved[1, at + 1] * right[j]) + floor
        terms[0, j] = abs(smoothed / density) * density
        terms[1, j] = density
    return terms


@numba.njit(cache=True, nogil=True)
def _softplus_loss(a, b, z, w_neg, w_pos, intercept):
    # lossgap.core.recalibrate._softplus_loss of eta = a + b z (b z without intercept)
    loss = 0.0
    for j in range(z.shape[0]):
        eta = a + b * z[j] if intercept else b * z[j]
        shared = np.log1p(np.exp(-abs(eta)))
        loss += (w_neg[j] + w_pos[j]) * shared + w_pos[j] * max(-eta, 0.0)
        loss += w_neg[j] * max(eta, 0.0)
    return loss


@numba.njit(cache=True, nogil=True, fastmath={"reassoc"})
def logistic_sums(eta, shrunk, shared, z, w_neg, w_pos):
    # lossgap.core.recalibrate.fit_logistic's Newton terms at the logits eta = a + b z of
    # many rows, given numpy's vectorised shrunk = exp(-|eta|) and shared = log1p(shrunk):
    # the softplus loss (as recalibrate._softplus_loss), and the sums of the curvature
    # total p (1 - p) (times 1, z, z^2) and of the residual total p - w_pos (times 1, z)
    # at p = 1 / (1 + shrunk) (eta >= 0) or shrunk / (1 + shrunk), in one pass whose
    # sums may be reassociated (vector lanes). The numpy twin (recalibrate._newton)
    # takes p as 1 / (1 + e^-eta): these terms are its to rounding, and the fits within
    # recalibrate.FIT_RTOL of it.
    loss = curvature = curvature_z = curvature_zz = residual = residual_z = 0.0
    for j in range(eta.shape[0]):
        total = w_neg[j] + w_pos[j]
        x = eta[j]
        loss += total * shared[j] + w_pos[j] * max(-x, 0.0) + w_neg[j] * max(x, 0.0)
        p = (1.0 if x >= 0.0 else shrunk[j]) / (1.0 + shrunk[j])
        c = total * p * (1.0 - p)
        r = total * p - w_pos[j]
        curvature += c
        curvature_z += c * z[j]
        curvature_zz += c * (z[j] * z[j])
        residual += r
        residual_z += r * z[j]
    return loss, curvature, curvature_z, curvature_zz, residual, residual_z


@numba.njit(cache=True, nogil=True)
def newton_sums(a, b, z, w_neg, w_pos, intercept):
    # fit_logistic's sums of a Newton step at (a, b): the curvature total p (1 - p) times
    # 1, z and z^2 and the residual total p - w_pos times 1 and z, added in row order
    c0 = 0.0  # curvature: sum, @ z, @ z^2
    c1 = 0.0
    c2 = 0.0
    r0 = 0.0  # residual: sum, @ z
    r1 = 0.0
    for j in range(z.shape[0]):
        zj = z[j]
        eta = a + b * zj if intercept else b * zj
        p = 1.0 / (1.0 + np.exp(-eta))
        total = w_neg[j] + w_pos[j]
        residual = total * p - w_pos[j]
        curvature = total * p * (1.0 - p)
        c0 += curvature
        c1 += curvature * zj
        c2 += curvature * (zj * zj)
        r0 += residual
        r1 += residual * zj
    return c0, c1, c2, r0, r1


@numba.njit(cache=True, nogil=True)
def logistic_start(z, w_neg, w_pos, intercept, a, b):
    # fit_logistic's loss and first step's sums at its start (a, b): at a = 0, b = 1 the
    # same doubles with and without intercept (eta = 0 + z equals z but for a zero's sign,
    # which neither the sums nor the loss read), so that the three fits of one table's
    # rows from there take them once
    return _softplus_loss(a, b, z, w_neg, w_pos, intercept), newton_sums(
        a, b, z, w_neg, w_pos, intercept
    )


@numba.njit(cache=True, nogil=True)
def fit_logistic(z, w_neg, w_pos, intercept, slope, a, b, max_iter):
    # Newton's method of lossgap.core.recalibrate.fit_logistic (its numpy twin: the same
    # steps, halvings and stops; its sums fused into one pass per step) from (a, b).
    # Returns the parameters, the loss and the last Hessian's (h00, h01, h11) (one
    # parameter: h00).
    start = logistic_start(z, w_neg, w_pos, intercept, a, b)
    return fit_logistic_from(z, w_neg, w_pos, intercept, slope, a, b, max_iter, start)


@numba.njit(cache=True, nogil=True)
def fit_logistic_from(z, w_neg, w_pos, intercept, slope, a, b, max_iter, start):
    # fit_logistic given logistic_start's loss and sums at (a, b)
    loss, sums = start
    h00, h01, h11 = 1.0, 0.0, 1.0
    for step in range(max_iter):
        c0, c1, c2, r0, r1 = sums if step == 0 else newton_sums(a, b, z, w_neg, w_pos, intercept)
        if intercept and slope:
            h00, h01, h11 = c0, c1, c2
            det = h00 * h11 - h01 * h01
            if det == 0 or not np.isfinite(det):
                break
            step_a = (h11 * r0 - h01 * r1) / det
            step_b = (h00 * r1 - h01 * r0) / det
        else:
            h00 = c2 if slope else c0
            grad = r1 if slope else r0
            if h00 == 0:
                break
            step_a = step_b = grad / h00
        size = 1.0
        new_a, new_b, new_loss = a, b, loss
        accepted = False
        while size > 1e-10:  # halve the step until the convex loss decreases
            new_a = a - size * step_a if intercept else a
            new_b = b - size * step_b if slope else b
            new_loss = _softplus_loss(new_a, new_b, z, w_neg, w_pos, intercept)
            if new_loss <= loss + 1e-13 * abs(loss):
                accepted = True
                break
            size /= 2
        if not accepted:
            break
        moved = max(abs(new_a - a), abs(new_b - b) if slope else 0.0)
        biggest = max(abs(new_a) if intercept else 0.0, abs(new_b) if slope else 0.0)
        converged = moved <= 1e-13 * (1.0 + biggest)
        a, b, loss = new_a, new_b, new_loss
        if converged or (slope and abs(b) > 1e6) or (not slope and abs(a) > 1e6):
            break
    return a, b, loss, h00, h01, h11


#: PCG64's multiplier (numpy's ``PCG_DEFAULT_MULTIPLIER_128``).
_PCG64_MULTIPLIER = (2549297995355413924 << 64) + 4865540595714422341


@intrinsic
def _pcg64_next64(typingctx, state):  # pragma: no cover
    # numpy's pcg64_next64 in line: state (uint64[4]: the 128-bit state's high and low
    # words, then the increment's) advanced by one LCG step in 128-bit integers, and its
    # XSL-RR output (the high word xor the low one, rotated right by the top six bits).
    # numba's rng.random() reaches the same C function through a pointer, 5.4 against 1.5
    # ns a uniform on this machine.
    def codegen(context, builder, signature, args):
        words = context.make_array(signature.args[0])(context, builder, args[0]).data
        word, wide = ir.IntType(64), ir.IntType(128)

        def at(i):
            return builder.gep(words, [ir.Constant(word, i)])

        def joined(high, low):
            high = builder.shl(builder.zext(builder.load(at(high)), wide), ir.Constant(wide, 64))
            return builder.or_(high, builder.zext(builder.load(at(low)), wide))

        state = builder.add(
            builder.mul(joined(0, 1), ir.Constant(wide, _PCG64_MULTIPLIER)), joined(2, 3)
        )
        high = builder.trunc(builder.lshr(state, ir.Constant(wide, 64)), word)
        low = builder.trunc(state, word)
        builder.store(high, at(0))
        builder.store(low, at(1))
        mixed = builder.xor(high, low)
        turn = builder.lshr(high, ir.Constant(word, 58))
        back = builder.and_(builder.neg(turn), ir.Constant(word, 63))
        return builder.or_(builder.lshr(mixed, turn), builder.shl(mixed, back))

    return types.uint64(state), codegen


def _uniform(source):  # pragma: no cover
    """A uniform double in [0, 1) from ``source`` in a compiled kernel: numpy's next
    double of a PCG64 state held as ``uint64[4]`` (see :func:`_pcg64_next64`), or the
    ``random()`` of a numpy Generator (any bit generator)."""
    return source.random()


@overload(_uniform, inline="always")
def _uniform_of(source):  # pragma: no cover
    if isinstance(source, types.Array):
        # numpy's pcg64_next_double: the top 53 bits over 2^53
        return lambda source: np.float64(_pcg64_next64(source) >> np.uint64(11)) * (
            1.0 / 9007199254740992.0
        )
    return lambda source: source.random()


#: numpy's coefficients of ``random_loggam`` (Stirling's series of log Gamma).
_LOGGAM = np.array([
    8.333333333333333e-02, -2.777777777777778e-03, 7.936507936507937e-04,
    -5.952380952380952e-04, 8.417508417508418e-04, -1.917526917526918e-03,
    6.410256410256410e-03, -2.955065359477124e-02, 1.796443723688307e-01,
    -1.39243221690590e+00,
])


#: Draws whose log Gamma :func:`poisson_rows` keeps (the others computed at each use).
_LOGGAM_KEPT = 1 << 16


@numba.njit(cache=True, nogil=True)
def _loggam(x):
    # numpy's random_loggam(x) (distributions.c), the same operations in the same order
    if x == 1.0 or x == 2.0:
        return 0.0
    n = int(7.0 - x) if x < 7.0 else 0
    x0 = x + n
    x2 = (1.0 / x0) * (1.0 / x0)
    gl0 = _LOGGAM[9]
    for k in range(8, -1, -1):
        gl0 *= x2
        gl0 += _LOGGAM[k]
    gl = gl0 / x0 + 0.5 * 1.8378770664093453 + (x0 - 0.5) * math.log(x0) - x0
    for _ in range(n):
        gl -= math.log(x0 - 1.0)
        x0 -= 1.0
    return gl


@numba.njit(cache=True, nogil=True)
def poisson_rows(rng, counts, replicates):
    # lossgap.core.bootstrap.poisson_rows (its numpy twin): Poisson draws with mean
    # `counts`, row after row, each row's units with a count in order, as numpy draws
    # them, by numpy's two methods. Below a mean of 10 it multiplies uniforms until their
    # product falls to exp(-mean) (Knuth's method), computing exp(-mean) at every draw;
    # from 10 on, Hormann's transformed rejection (PTRS), computing its constants (a square
    # root, two logarithms, two divisions) at every draw. Here each unit's constants are
    # computed once, the same doubles (both call the C library's exp, log and sqrt), and
    # the uniforms read from the same bit generator in the same order: the same numbers
    # and the generator left in the same state (tested). numba's own Generator.poisson
    # truncates PTRS's candidate where numpy floors it (a candidate in (-1, 0) is then
    # accepted as 0, where numpy rejects it), so it is not used.
    live = np.flatnonzero(counts)
    # per unit: exp(-mean) below 10; else log(mean), a, b, log(1 / alpha), v_r
    const = np.empty((live.shape[0], 5))
    # log Gamma(draw + 1) of the draws the rejection's slow path tests (about a third of
    # them), each computed at its first use and kept: the same doubles, a lookup after
    most = counts.max() if counts.shape[0] else 0.0
    loggam = np.full(min(_LOGGAM_KEPT, int(2.0 * most) + 100) if most >= 10.0 else 0, np.nan)
    for k in range(live.shape[0]):
        lam = counts[live[k]]
        if lam < 10.0:
            const[k, 0] = math.exp(-lam)
        else:
            b = 0.931 + 2.53 * math.sqrt(lam)
            const[k, 0] = math.log(lam)
            const[k, 1] = -0.059 + 0.02483 * b
            const[k, 2] = b
            const[k, 3] = math.log(1.1239 + 1.1328 / (b - 3.4))
            const[k, 4] = 0.9277 - 3.6224 / (b - 2)
    # the end of each unit's run of consecutive units below 10, drawn in one scan
    units = live.shape[0]
    run_end = np.empty(units, dtype=np.int64)
    end = units
    for k in range(units - 1, -1, -1):
        if counts[live[k]] >= 10.0:
            end = k
        run_end[k] = end
    # exp(-mean) of each unit below 10, and two more to read past the last
    limit = np.ones(units + 2)
    limit[:units] = const[:, 0]
    out = np.zeros((replicates, counts.shape[0]))
    for r in range(replicates):
        row = out[r]
        k = 0
        while k < units:
            lam = counts[live[k]]
            if lam < 10.0:
                # a run of units by multiplied uniforms, without a branch on the draws:
                # each uniform multiplies the product (the first one 1.0, exactly), and
                # the product at or below the unit's exp(-mean) ends its draw (the count
                # of the uniforms before) and moves to the next unit: numpy's uniforms and
                # products in its order, where a loop per draw mispredicted its end (200
                # replicates of 10,000 means of 1: 28 -> 17 ms). The comparison's outcome
                # is taken as 1.0 or 0.0 (ended) and every choice it makes is arithmetic,
                # exact: the next factor max(product, ended) (1 once a draw ends, else the
                # product: it lies in [0, 1]), the limit this unit's or the next one's
                # (read ahead) by products with 0 and 1. A choice by the outcome's flag
                # went through a mask register or a branch and waited on the comparison
                # twice as long (1e3 samples' 200 replicates: 1.3 -> 0.9 ms). The outcome's
                # complement `going` is a comparison of its own (neither is NaN), not 1 -
                # ended: the subtraction lay on the chain from one limit to the next
                # (1e3: 0.95-0.97 -> 0.82-0.83 ms)
                end = run_end[k]
                current, after = limit[k], limit[k + 1]
                draws = 0.0
                factor = 1.0
                while k < end:
                    product = factor * _uniform(rng)
                    ended = 1.0 if product <= current else 0.0
                    going = 1.0 if product > current else 0.0
                    # unsigned indices: without numba's test for a negative one
                    row[np.uint64(live[np.uint64(k)])] = draws
                    following = limit[np.uint64(k + 2)]
                    draws = (draws + 1.0) * going
                    factor = max(product, ended)
                    current, after = (
                        max(current * going, after * ended),
                        max(after * going, following * ended),
                    )
                    k += int(ended)
                continue
            loglam, a, b = const[k, 0], const[k, 1], const[k, 2]
            log_invalpha, vr = const[k, 3], const[k, 4]
            while True:
                u = _uniform(rng) - 0.5
                v = _uniform(rng)
                us = 0.5 - abs(u)
                if us == 0.0:
                    # a first uniform of exactly 0: numpy's candidate is floor(-inf), cast
                    # to the least int64 (x86 and ARM alike), and rejected as negative;
                    # here the division would raise
                    continue
                draw = math.floor((2 * a / us + b) * u + lam + 0.43)
                if us >= 0.07 and v <= vr:
                    break
                if draw < 0 or (us < 0.013 and v > us):
                    continue
                if draw < loggam.shape[0]:
                    if np.isnan(loggam[draw]):
                        loggam[draw] = _loggam(draw + 1.0)
                    log_gamma = loggam[draw]
                else:
                    log_gamma = _loggam(draw + 1.0)
                if (math.log(v) + log_invalpha - math.log(a / (us * us) + b)) <= (
                    -lam + draw * loglam - log_gamma
                ):
                    break
            row[live[k]] = draw
            k += 1
    return out


#: numpy 2.5 corrected the Stirling terms of BTPE's last acceptance test (numpy#31238:
#: the constant 13680 became 13860, two of the four terms are subtracted); numba's
#: Generator.binomial follows the numpy it runs with, and so does :func:`_btpe_rejects`.
_STIRLING = 13860.0 if np.lib.NumpyVersion(np.__version__) >= "2.5.0" else 13680.0
_STIRLING_SIGN = -1.0 if np.lib.NumpyVersion(np.__version__) >= "2.5.0" else 1.0


@numba.njit(cache=True, nogil=True)
def _btpe_rejects(big_a, xm, m, n, y, r, q):
    # numpy's random_binomial_btpe, case 52: the last acceptance test, by Stirling's
    # formula (numba's _binomial_btpe_squeeze, the same operations in the same order)
    x1 = float(y + 1)
    f1 = float(m + 1)
    z = float(n + 1 - m)
    w = float(n - y + 1)
    x2, f2, z2, w2 = x1 * x1, f1 * f1, z * z, w * w
    return big_a > (
        xm * np.log(f1 / x1) + (n - m + 0.5) * np.log(z / w) + (y - m) * np.log(w * r / (x1 * q))
        + (_STIRLING - (462. - (132. - (99. - 140. / f2) / f2) / f2) / f2) / f1 / 166320.
        + (_STIRLING - (462. - (132. - (99. - 140. / z2) / z2) / z2) / z2) / z / 166320.
        + _STIRLING_SIGN
        * (_STIRLING - (462. - (132. - (99. - 140. / x2) / x2) / x2) / x2) / x1 / 166320.
        + _STIRLING_SIGN
        * (_STIRLING - (462. - (132. - (99. - 140. / w2) / w2) / w2) / w2) / w / 166320.
    )


#: BTPE's ratios f(y) / f(m) kept per unit for outcomes within this many of the mode
#: (:func:`_btpe_ratios`): its recursion (case 50) runs where |y - m| <= 20 (and far in
#: the tails).
_RATIO_STEPS = 20

#: The relative margin within which a kept ratio does not decide a draw (:func:`_btpe`).
#: numpy's ratio is a chain of k = |y - m| products or divisions from 1 by factors
#: a / i - s; the kept one the product of the same factors (k of them, and a division
#: below the mode), rounded to single precision. The two doubles are each within
#: (1 + 2^-53)^(k + 1) - 1 of the exact ratio (normal numbers: kept only from 1e-30), so
#: within 4.7e-15 of each other at k <= 20, and the single within 2^-24 of its double: a
#: uniform further than 2^-20 (relative) from the kept ratio lies on the same side of
#: numpy's.
_RATIO_MARGIN = 2.0**-20


@numba.njit(cache=True, nogil=True)
def _btpe_ratios(n, m, rare, q, ratios):
    # BTPE's ratios f(y) / f(m) at y = m + d, |d| <= _RATIO_STEPS, into ratios[_RATIO_STEPS
    # + d] (single precision, within the bound of _RATIO_MARGIN): above the mode the
    # product of a / i - s from i = m + 1, below it 1 / the product from i = m down to y +
    # 1; NaN (never decisive) where a factor is undefined (i < 1) or the ratio below 1e-30
    s = rare / q
    a = s * (n + 1)
    ratios[:] = np.nan
    ratios[_RATIO_STEPS] = 1.0
    product = 1.0
    for d in range(1, _RATIO_STEPS + 1):
        product = product * (a / (m + d) - s)
        if not product >= 1e-30:
            break
        ratios[_RATIO_STEPS + d] = product
    product = 1.0
    for d in range(1, _RATIO_STEPS + 1):
        i = m - d + 1
        if i < 1:
            break
        product = product * (a / i - s)
        if not product <= 1e30:
            break
        ratios[_RATIO_STEPS - d] = 1.0 / product


@numba.njit(cache=True, nogil=True)
def _ratio_rejects(v, y, m, a, s, kept):
    # BTPE's case 50, v > f(y) / f(m): decided by the kept ratio (_btpe_ratios, NaN where
    # none is kept) unless v lies within _RATIO_MARGIN of it, else by numpy's recursion
    # (f *= a / i - s from i = m + 1 up to y, or f /= from i = y + 1 up to m)
    if v > kept * (1.0 + _RATIO_MARGIN):
        return True
    if v < kept * (1.0 - _RATIO_MARGIN):
        return False
    f = 1.0
    if m < y:
        for i in range(m + 1, y + 1):
            f = f * (a / i - s)
    elif m > y:
        for i in range(y + 1, m + 1):
            f = f / (a / i - s)
    return v > f


@numba.njit(cache=True, nogil=True)
def _btpe(rng, n, m, const, j, ratios, row):
    # numpy's random_binomial_btpe (Kachitvichyanukul and Schmeiser) of n trials at the
    # rarer probability r, its set-up (const[j], per unit: r, q, p1, xm, xl, xr, c, laml, lamr,
    # p2, p3, p4, n r q, r / q, (r / q)(n + 1); m) computed once: the same operations on
    # the same uniforms as numba's port of it (numba.cpython._binomial). The ratio test of
    # case 50 reads the unit's kept ratios (row of ratios, _btpe_ratios) where |y - m| <=
    # _RATIO_STEPS, and runs numpy's recursion only where the uniform lies within
    # _RATIO_MARGIN of the kept ratio or none is kept (_ratio_rejects): a chain of about
    # ten dependent products or divisions per draw before, half the draws reaching it
    r, q, p1, xm = const[j, 0], const[j, 1], const[j, 2], const[j, 3]
    xl, xr, c, laml, lamr = const[j, 4], const[j, 5], const[j, 6], const[j, 7], const[j, 8]
    p2, p3, p4 = const[j, 9], const[j, 10], const[j, 11]
    nrq, s, a = const[j, 12], const[j, 13], const[j, 14]
    while True:
        u = _uniform(rng) * p4
        v = _uniform(rng)
        if u <= p1:  # case 10: the triangle, accepted at once
            return int(math.floor(xm - p1 * v + u))
        if u <= p2:  # case 20: the parallelograms
            x = xl + (u - p1) / c
            v = v * c + 1.0 - math.fabs(m - x + 0.5) / p1
            if v > 1.0:
                continue
            y = int(math.floor(x))
        elif u <= p3:  # case 30: the left tail
            # numpy rejects v = 0 after casting floor(log(0) / ...), an infinity, to an
            # integer (undefined in C and LLVM): tested first here, the same draws
            if v == 0.0:
                continue
            y = int(math.floor(xl + math.log(v) / laml))
            if y < 0:
                continue
            v = v * (u - p2) * laml
        else:  # case 40: the right tail
            if v == 0.0:
                continue
            y = int(math.floor(xr - math.log(v) / lamr))
            if y > n:
                continue
            v = v * (u - p3) * lamr
        k = abs(y - m)
        if k <= 20 or k >= nrq / 2.0 - 1:  # case 50: the ratio f(y) / f(m)
            kept = np.float64(ratios[row, _RATIO_STEPS + y - m]) if k <= _RATIO_STEPS else np.nan
            if _ratio_rejects(v, y, m, a, s, kept):
                continue
            return y
        # case 52: squeezes on log v, then Stirling's formula
        rho = (k / nrq) * ((k * (k / 3.0 + 0.625) + 0.16666666666666666) / nrq + 0.5)
        t = -k * k / (2 * nrq)
        big_a = math.log(v)
        if big_a < t - rho:
            return y
        if big_a > t + rho:
            continue
        if _btpe_rejects(big_a, xm, m, n, y, r, q):
            continue
        return y


@numba.njit(cache=True, nogil=True)
def binomial_rows(rng, counts, p, replicates):
    # lossgap.core.bootstrap.binomial_rows (its numpy twin): rng.binomial(counts, p,
    # size=(replicates, units)), row after row, as numpy draws them. numpy inverts the
    # distribution when the mean of the rarer outcome, n min(p, 1 - p), is at most 30
    # (one uniform, less each probability P(X = x) in turn until it falls below one; a
    # draw past the bound n p + 10 sd starts again), computing P(X = 0) = q^n (a log and
    # an exp) at every draw and each next P(X = x) by a multiplication and a division
    # that waits on the last; above 30 it draws by BTPE, computing its set-up (a square
    # root, floors, seven divisions) at every draw. Here each unit's probabilities and
    # BTPE's set-up are computed once, by the same operations (the same doubles), with
    # BTPE's ratios near the mode (_btpe_ratios: they decide only where numpy's recursion
    # would decide the same); each inverted draw subtracts the table's probabilities in
    # turn. The uniforms come from the same bit generator in the same order: the same
    # numbers and the generator left in the same state (tested).
    m = counts.shape[0]
    # each unit's kind: 0 none (n = 0 or p = 0), 1 inverted on p, 2 on 1 - p (n - X), 3
    # BTPE on p, 4 on 1 - p
    kind = np.zeros(m, dtype=np.int8)
    start = np.zeros(m + 1, dtype=np.int64)
    const = np.zeros((m, 15))
    mode = np.zeros(m, dtype=np.int64)
    btpe = np.zeros(m, dtype=np.int64)  # the row of a BTPE unit's ratios
    units = 0
    for j in range(m):
        n, pj = counts[j], p[j]
        size = 0
        if n != 0 and pj != 0.0:
            rare = pj if pj <= 0.5 else 1.0 - pj
            q = 1.0 - rare
            if rare * n <= 30.0:
                kind[j] = 1 if pj <= 0.5 else 2
                mean = n * rare
                size = int(min(n, mean + 10.0 * np.sqrt(mean * q + 1))) + 1
            else:  # numpy's set-up of BTPE at r = rare
                kind[j] = 3 if pj <= 0.5 else 4
                fm = n * rare + rare
                mj = int(math.floor(fm))
                p1 = math.floor(2.195 * math.sqrt(n * rare * q) - 4.6 * q) + 0.5
                xm = mj + 0.5
                xl, xr = xm - p1, xm + p1
                c = 0.134 + 20.5 / (15.3 + mj)
                a = (fm - xl) / (fm - xl * rare)
                laml = a * (1.0 + a / 2.0)
                a = (xr - fm) / (xr * q)
                lamr = a * (1.0 + a / 2.0)
                p2 = p1 * (1.0 + 2.0 * c)
                p3 = p2 + c / laml
                p4 = p3 + c / lamr
                s = rare / q
                mode[j] = mj
                const[j, 0], const[j, 1], const[j, 2], const[j, 3] = rare, q, p1, xm
                const[j, 4], const[j, 5], const[j, 6], const[j, 7] = xl, xr, c, laml
                const[j, 8], const[j, 9], const[j, 10], const[j, 11] = lamr, p2, p3, p4
                const[j, 12], const[j, 13], const[j, 14] = n * rare * q, s, s * (n + 1)
                btpe[j] = units
                units += 1
        start[j + 1] = start[j] + size
    table = np.empty(start[m])
    ratios = np.empty((units, 2 * _RATIO_STEPS + 1), dtype=np.float32)
    for j in range(m):
        if kind[j] == 1 or kind[j] == 2:
            n = counts[j]
            rare = p[j] if kind[j] == 1 else 1.0 - p[j]
            q = 1.0 - rare
            px = np.exp(n * np.log(q))
            table[start[j]] = px
            for x in range(1, start[j + 1] - start[j]):
                px = ((n - x + 1) * rare * px) / (x * q)
                table[start[j] + x] = px
        elif kind[j] >= 3:
            _btpe_ratios(counts[j], mode[j], const[j, 0], const[j, 1], ratios[btpe[j]])
    # the inverted units drawn by every step of their table (a few steps, an outcome
    # hard to foresee: P(X = 0) below 0.85), where the loop's end mispredicted once a
    # draw or so: the calibrated labels' 100 rows of 269 units of 1 to 4 samples at 1e3,
    # 258 -> 145 us; a unit whose draws are mostly 0 keeps the loop (half the cost where
    # its end is foreseen)
    flat = np.zeros(m, dtype=np.bool_)
    for j in range(m):
        if (kind[j] == 1 or kind[j] == 2) and start[j + 1] - start[j] <= 9:
            flat[j] = table[start[j]] < 0.85
    out = np.empty((replicates, m), dtype=np.int64)
    for r in range(replicates):
        for j in range(m):
            if kind[j] == 0:
                out[r, j] = 0
            elif kind[j] >= 3:
                y = _btpe(rng, counts[j], mode[j], const, j, ratios, btpe[j])
                out[r, j] = y if kind[j] == 3 else counts[j] - y
            elif flat[j]:
                # the same steps over the whole table, without a branch on the draws:
                # `going` (1.0 until u first falls to or below P(X = x), then 0.0) counts
                # the steps numpy takes; u's later subtractions are not read. Past the
                # table, numpy starts again on the next uniform, and so does this. The
                # table read at unsigned indices, without numba's test for a negative
                # one (145 -> 108-123 us)
                first, bound = start[j], start[j + 1] - start[j] - 1
                x = bound + 1
                while x > bound:
                    u = _uniform(rng)
                    x = 0
                    going = 1.0
                    for t in range(first, first + bound + 1):
                        value = table[np.uint64(t)]
                        going = min(going, 1.0 if u > value else 0.0)
                        x += int(going)
                        u -= value
                out[r, j] = x if kind[j] == 1 else counts[j] - x
            else:
                first, bound = start[j], start[j + 1] - start[j] - 1
                x = 0
                px = table[first]
                u = _uniform(rng)
                while u > px:
                    x += 1
                    if x > bound:
                        x = 0
                        px = table[first]
                        u = _uniform(rng)
                    else:
                        u -= px
                        px = table[first + x]
                out[r, j] = x if kind[j] == 1 else counts[j] - x
    return out


@numba.njit(cache=True, nogil=True, inline="always")
def _held_out_terms(a, b, p, neg, pos, before_neg, before_pos, was_decided, threshold):
    # one held-out row's terms of the seven totals of lossgap.core.recalibrate.
    # _held_out_scorer: its weights of negatives and positives a and b, the map's probability
    # p and capped losses neg and pos, the losses before the map and its decision before
    decided = p >= threshold
    gain_neg, gain_pos = before_neg - neg, before_pos - pos
    return (
        a * neg + b * pos,
        a * (p * p) + b * ((1.0 - p) * (1.0 - p)),
        b if decided else a,
        a + b if decided != was_decided else 0.0,
        a * gain_neg + b * gain_pos,
        a * (gain_neg * gain_neg) + b * (gain_pos * gain_pos),
        a * (neg * neg) + b * (pos * pos),
    )


@numba.njit(cache=True, nogil=True, inline="always")
def _plus(s, t):
    # the seven running totals s plus one row's terms t, each added in turn (inlined: the
    # totals stay seven scalars in registers, as written out by hand)
    return (s[0] + t[0], s[1] + t[1], s[2] + t[2], s[3] + t[3], s[4] + t[4], s[5] + t[5],
            s[6] + t[6])


@numba.njit(cache=True, nogil=True)
def held_out_sums(prob, w_neg, w_pos, before_neg, before_pos, was_decided, threshold, clip):
    # lossgap.core.recalibrate._held_out_scorer's seven totals (its numpy path is the twin)
    # in one pass over the held-out rows: each row's capped losses under the map (its
    # probability clipped to [clip, 1 - clip]), Brier score, decision, and the gain over
    # the losses before the map, weighted by the row's negatives and positives.
    s = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    for j in range(prob.shape[0]):
        capped = min(max(prob[j], clip), 1.0 - clip)
        s = _plus(s, _held_out_terms(
            w_neg[j], w_pos[j], prob[j], -np.log1p(-capped), -np.log(capped),
            before_neg[j], before_pos[j], was_decided[j], threshold,
        ))
    return np.array(s)


@numba.njit(cache=True, nogil=True, fastmath={"reassoc"})
def held_out_sums_of_losses(
    prob, w_neg, w_pos, before_neg, before_pos, was_decided, threshold, neg_loss, pos_loss
):
    # held_out_sums given each row's capped losses under the map (the twin's own
    # logarithms: numpy's vectorised ones, several times faster on many rows than the
    # loop's). The sums may be reassociated, so the loop runs in vector lanes on
    # contiguous columns (0.06 -> 0.014 ms on 20,000 rows): another order of the same
    # terms, within lossgap.core.recalibrate.HELD_OUT_RTOL of the twin like any order.
    s = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    for j in range(prob.shape[0]):
        s = _plus(s, _held_out_terms(
            w_neg[j], w_pos[j], prob[j], neg_loss[j], pos_loss[j], before_neg[j],
            before_pos[j], was_decided[j], threshold,
        ))
    return np.array(s)


@numba.njit(cache=True, nogil=True)
def interpolate(x, xp, fp):
    # np.interp(x, xp, fp) for strictly ascending xp (lossgap.core.isotonic.IsotonicFit.
    # predict, np.interp its twin): the same interval of xp for each x and the same
    # expressions (numpy's compiled_base.c), so the same doubles. Each x's interval is
    # looked for from the last one's: ascending x (the held-out scores) walk xp once,
    # where np.interp searches xp for each x; an x behind the last, or many knots ahead,
    # is found by bisection. Two passes: with the division in the walk's loop, its
    # mispredicted exits cost the loop three times as much.
    m = xp.shape[0]
    n = x.shape[0]
    at = np.empty(n, np.int64)  # the knots at or below each x
    j = 0
    for i in range(n):
        v = x[i]
        far = min(j + 16, m) - 1
        if (j > 0 and v < xp[j - 1]) or xp[far] <= v:
            lo, hi = (0, j - 1) if j > 0 and v < xp[j - 1] else (far + 1, m)
            while lo < hi:
                mid = (lo + hi) // 2
                if xp[mid] <= v:
                    lo = mid + 1
                else:
                    hi = mid
            j = lo
        else:
            while xp[j] <= v:  # stops within 16 knots: xp[far] is above v
                j += 1
        at[i] = j
    out = np.empty(n)
    for i in range(n):
        v = x[i]
        j = at[i] - 1
        if j < 0 or j >= m - 1 or xp[j] == v or v != v:
            # below the first knot, at or above the last, on a knot; NaN stays NaN (but
            # for one knot, which np.interp gives every x)
            out[i] = v if v != v and m > 1 else (fp[0] if j < 0 else fp[j])
            continue
        slope = (fp[j + 1] - fp[j]) / (xp[j + 1] - xp[j])
        value = slope * (v - xp[j]) + fp[j]
        if value != value:  # a NaN one way: the other way, as np.interp does
            value = slope * (v - xp[j + 1]) + fp[j + 1]
            if value != value and fp[j] == fp[j + 1]:
                value = fp[j]
        out[i] = value
    return out


@numba.njit(cache=True, nogil=True)
def fold_rows(fold, folds, w_neg, w_pos):
    # lossgap.core.recalibrate._fold_weights's folds of a table of distinct scores (its
    # numpy path, a flatnonzero and two column gathers per fold, is the twin): each
    # fold's rows ascending (rows of weight 0 in none), one after another, where each
    # fold's begin, and their weights as contiguous columns ((2, rows): the caller's
    # transpose is the Fortran-ordered (rows, 2) array); the same rows and doubles in one
    # counting pass and one placing pass.
    m = fold.shape[0]
    starts = np.zeros(folds + 2, np.int64)
    for i in range(m):
        if w_neg[i] + w_pos[i] > 0.0:
            starts[fold[i] + 2] += 1
    for k in range(folds):
        starts[k + 2] += starts[k + 1]
    rows = np.empty(starts[folds + 1], np.int64)
    weights = np.empty((2, starts[folds + 1]))
    for i in range(m):
        if w_neg[i] + w_pos[i] > 0.0:
            at = starts[fold[i] + 1]
            rows[at] = i
            weights[0, at] = w_neg[i]
            weights[1, at] = w_pos[i]
            starts[fold[i] + 1] = at + 1
    return rows, weights, starts[: folds + 1]


@numba.njit(cache=True, nogil=True)
def held_run_sums(run, rows, w_neg, w_pos, z, runs, moments):
    # lossgap.core.recalibrate._held_run_sums (its numpy path is the twin): the weights of
    # negatives and positives at the held-out rows, and with `moments` their w z and
    # w z^2, summed per run in one pass in row order (the twin's reduceat sums a long run
    # pairwise): no temporaries of the fold's size.
    # The sums of the current run are carried in locals (loaded from `out` as the run
    # begins, stored as it ends): the same additions in the same order as adding into
    # `out` row by row, without a store and reload per row (a run spans hundreds of
    # rows): 0.32 -> 0.1 ms over 1e5 rows.
    out = np.zeros((3 if moments else 1, runs, 2))
    current = -1
    s0 = s1 = s2 = s3 = s4 = s5 = 0.0
    for j in range(rows.shape[0]):
        i = rows[j]
        r = run[i]
        if r != current:
            if current >= 0:
                _store_run_sums(out, current, moments, s0, s1, s2, s3, s4, s5)
            current = r
            s0, s1 = out[0, r, 0], out[0, r, 1]
            if moments:
                s2, s3, s4, s5 = out[1, r, 0], out[1, r, 1], out[2, r, 0], out[2, r, 1]
        a, b = w_neg[j], w_pos[j]
        s0 += a
        s1 += b
        if moments:
            za, zb = a * z[i], b * z[i]
            s2 += za
            s3 += zb
            s4 += za * z[i]
            s5 += zb * z[i]
    if current >= 0:
        _store_run_sums(out, current, moments, s0, s1, s2, s3, s4, s5)
    return out


@numba.njit(cache=True, nogil=True, inline="always")
def _store_run_sums(out, r, moments, s0, s1, s2, s3, s4, s5):
    # held_run_sums's locals into run r of `out`
    out[0, r, 0] = s0
    out[0, r, 1] = s1
    if moments:
        out[1, r, 0] = s2
        out[1, r, 1] = s3
        out[2, r, 0] = s4
        out[2, r, 1] = s5


@numba.njit(cache=True, nogil=True)
def training_run_weights(run, rows, w_neg, w_pos, whole):
    # lossgap.core.recalibrate._training_run_weights (its numpy path is the twin): the run
    # sums `whole` less the held-out rows' own (summed per run first, as the twin does),
    # and 0 where what is left is a rounding residue (at most 1e-9 of the run's weight)
    held = held_run_sums(run, rows, w_neg, w_pos, np.empty(0), whole.shape[0], False)[0]
    out = np.empty_like(whole)
    for r in range(whole.shape[0]):
        for c in range(2):
            left = whole[r, c] - held[r, c]
            out[r, c] = 0.0 if left <= 1e-9 * whole[r, c] else left
    return out


@numba.njit(cache=True, nogil=True)
def pool_runs(scores, w_neg, w_pos, weight_sum, max_rows, segments, segmented):
    # lossgap.core.pooling.Pooling's runs (its numpy path is the twin): a run begins where
    # the row's share of the weight before it, (cumsum - total) / sum * max_rows capped at
    # max_rows - 1 and truncated, changes (the cumulative sum in the same order, the same
    # doubles), or where the segment changes; then each run's weight, weighted score sum and
    # negatives and positives, summed in row order (the twin's reduceat sums a long run
    # pairwise). One pass, no temporaries of the table's size but the outputs.
    m = scores.shape[0]
    starts = np.empty(m, np.int64)
    # mass, score * mass, negatives, positives; rows set as their runs end, so that only
    # the runs' pages are touched (not m); the current run's in locals, from 0 in row
    # order as before, without a store and reload per row
    sums = np.empty((m, 4))
    runs = 0
    running = 0.0
    last = -1
    mass = weighted = negatives = positives = 0.0
    for i in range(m):
        total = w_neg[i] + w_pos[i]
        running += total
        key = np.int64(min((running - total) / weight_sum * max_rows, max_rows - 1))
        if key != last or (segmented and i > 0 and segments[i] != segments[i - 1]):
            if runs > 0:
                sums[runs - 1] = (mass, weighted, negatives, positives)
                mass = weighted = negatives = positives = 0.0
            starts[runs] = i
            runs += 1
            last = key
        mass += total
        weighted += scores[i] * total
        negatives += w_neg[i]
        positives += w_pos[i]
    if runs > 0:
        sums[runs - 1] = (mass, weighted, negatives, positives)
    return starts[:runs].copy(), sums[:runs].copy()


@numba.njit(cache=True, nogil=True)
def _descending_runs(loss, order):
    # Splits loss into maximal monotone runs and writes each run's rows into order in the
    # run's stable descending order (loss descending, ties by ascending row): a
    # non-increasing run as it is, a non-decreasing one backwards group by group of equal
    # losses. Returns the runs' bounds (0, ..., len(loss)).
    n = loss.shape[0]
    bounds = np.empty(n + 1, np.int64)
    bounds[0] = 0
    runs = 0
    i = 0
    while i < n:
        j = i + 1
        if j < n and loss[j] > loss[i]:
            while j < n and loss[j] >= loss[j - 1]:
                j += 1
            out = i
            k = j
            while k > i:
                g = k - 1
                while g > i and loss[g - 1] == loss[k - 1]:
                    g -= 1
                for t in range(g, k):
                    order[out] = t
                    out += 1
                k = g
        else:
            while j < n and loss[j] <= loss[j - 1]:
                j += 1
            for t in range(i, j):
                order[t] = t
        runs += 1
        bounds[runs] = j
        i = j
    return bounds[: runs + 1]


@numba.njit(cache=True, nogil=True)
def concentration_sums(loss, weight):
    # lossgap.core.diagnostics.loss_concentration's sorted sums (its numpy path is the
    # twin): the cells in np.argsort(-loss, kind="stable") order, found by merging the
    # monotone runs the cells come in (each class column's cells are in score order, so
    # their losses are monotone: a few runs, where a sort compares every cell), then the
    # sorted weights, the running sums of loss * weight and of weight in that order (the
    # same products added in the same order as np.cumsum: the same doubles).
    n = loss.shape[0]
    order = np.empty(n, np.int64)
    bounds = _descending_runs(loss, order)
    keys = np.empty(n)  # the losses in `order`: the merges compare them without a gather
    for i in range(n):
        keys[i] = loss[order[i]]
    spare = np.empty(n, np.int64)
    spare_keys = np.empty(n)
    while bounds.shape[0] > 2:  # merge adjacent runs pairwise; ties keep the left run's
        merged = np.empty(bounds.shape[0] // 2 + 2, np.int64)
        count = 0
        for r in range(0, bounds.shape[0] - 1, 2):
            lo, mid = bounds[r], bounds[r + 1]
            hi = bounds[r + 2] if r + 2 < bounds.shape[0] else mid
            a, b, out = lo, mid, lo
            while a < mid and b < hi:
                # without a branch: the runs interleave at random, and a mispredicted
                # branch per cell cost most of the merge
                take = keys[a] >= keys[b]
                spare[out] = order[a] if take else order[b]
                spare_keys[out] = keys[a] if take else keys[b]
                a += take
                b += 1 - take
                out += 1
            spare[out : out + mid - a] = order[a:mid]
            spare_keys[out : out + mid - a] = keys[a:mid]
            out += mid - a
            spare[out : out + hi - b] = order[b:hi]
            spare_keys[out : out + hi - b] = keys[b:hi]
            merged[count] = lo
            count += 1
        merged[count] = n
        bounds = merged[: count + 1]
        order, spare = spare, order
        keys, spare_keys = spare_keys, keys
    # the sums into the spare keys and over the keys as they are read: fresh arrays of
    # the cells' size cost page faults here
    sorted_weight = np.empty(n)
    carried, mass = spare_keys, keys
    loss_sum = 0.0
    weight_sum = 0.0
    for i in range(n):
        w = weight[order[i]]
        sorted_weight[i] = w
        loss_sum += keys[i] * w
        weight_sum += w
        carried[i] = loss_sum
        mass[i] = weight_sum
    return sorted_weight, carried, mass



@numba.njit(cache=True, nogil=True)
def running_sum(x, out):
    # lossgap.core.metrics.cumulative_sum (np.cumsum its twin) of a 1-D array in any
    # stride, into out (which may be x: each element is read before it is written):
    # numpy's cumsum adds in order too, so the same doubles; it takes about 3 ns an
    # element (a table of 1e5 rows: 0.30 -> 0.06 ms a sum)
    total = 0.0
    for i in range(x.shape[0]):
        total += x[i]
        out[i] = total

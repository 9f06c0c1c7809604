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
* :func:`mesh_operator`: the smooth ECE's mesh operator
  (``lossgap.core.calibration._mesh_operator``, whose numpy path is its twin), the same
  doubles (tested);
* :func:`fit_logistic`: the Newton steps of :func:`lossgap.core.recalibrate.fit_logistic`
  (its numpy path is the twin), within :data:`lossgap.core.recalibrate.FIT_LOSS_RTOL`
  and :data:`lossgap.core.recalibrate.FIT_RTOL` (tested);
* :func:`poisson_rows`: :func:`lossgap.core.bootstrap.poisson_rows` for means below
  :data:`lossgap.core.bootstrap.SMALL_POISSON_MEAN`, the same draws from the same
  generator (tested);
* :func:`held_out_sums`: the recalibration's held-out totals
  (``lossgap.core.recalibrate._held_out_sums``, whose numpy path is its twin) within
  :data:`lossgap.core.recalibrate.HELD_OUT_RTOL` (tested);
* :func:`held_run_sums`: a fold's held-out weights (and moments of the logits) summed per
  run (``lossgap.core.recalibrate._held_run_sums``, whose numpy path is its twin) within
  :data:`lossgap.core.recalibrate.RUN_SUMS_RTOL` (tested; counts exactly);
* :func:`training_run_weights`: a fold's training weights per run (the whole table's
  less its held-out rows', residues cleared), ``lossgap.core.recalibrate._held_run_sums``
  and ``_clear_residue`` its twin, within the same tolerance;
* :func:`pool_runs`: :class:`lossgap.core.pooling.Pooling`'s runs, the same starts, and
  their sums within :data:`lossgap.core.pooling.POOLED_RTOL` (tested; counts exactly).
"""

# numba compiles these from their Python source; the arrays' types come from the callers
# mypy: ignore-errors

from __future__ import annotations

import math

import numba
import numpy as np


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
    # bootstrap._binary_units' statistics), one pass per row and one back for the
    # average precision. decided: 1 where the score decides positive; starts: the first
    # row of each occupied ECE bin. NaN where the twin's is NaN: an infinite loss with
    # weight makes the log loss infinite, one with no weight adds nothing.
    rows, m = w_neg.shape
    bins = starts.shape[0]
    out = np.empty((rows, 12))
    for r in range(rows):
        loss = 0.0
        hit = False
        brier = 0.0
        tn = 0.0
        fp = 0.0
        fn = 0.0
        tp = 0.0
        negatives = 0.0
        positives = 0.0
        below = 0.0  # negatives at or below the score (the AUC's pairs)
        pairs = 0.0
        ties = 0.0
        mass = 0.0
        ece = 0.0
        b = 0
        residual = 0.0
        for j in range(m):
            a, p = w_neg[r, j], w_pos[r, j]
            if b + 1 < bins and j == starts[b + 1]:
                ece += abs(residual)
                residual = 0.0
                b += 1
            if np.isinf(loss_neg[j]):
                hit = hit or a > 0.0
            else:
                loss += a * loss_neg[j]
            if np.isinf(loss_pos[j]):
                hit = hit or p > 0.0
            else:
                loss += p * loss_pos[j]
            s = scores[j]
            brier += a * (s * s) + p * ((1.0 - s) * (1.0 - s))
            if decided[j]:
                fp += a
                tp += p
            else:
                tn += a
                fn += p
            negatives += a
            positives += p
            below += a
            pairs += p * below
            ties += p * a
            both = a + p
            mass += both
            residual += both * s - p
        ece += abs(residual)
        total = negatives + positives
        log_loss = np.inf if hit else loss / total
        out[r, 0] = log_loss
        out[r, 1] = brier / total
        actual_neg, actual_pos = tn + fp, fn + tp
        out[r, 2] = (tn + tp) / (actual_neg + actual_pos)
        present = (actual_neg > 0.0) + (actual_pos > 0.0)
        recall_neg = tn / actual_neg if actual_neg > 0.0 else 0.0
        recall = tp / actual_pos if actual_pos > 0.0 else 0.0
        out[r, 3] = (recall_neg * (actual_neg > 0.0) + recall * (actual_pos > 0.0)) / present
        predicted = fp + tp
        out[r, 4] = tp / predicted if predicted > 0.0 else 0.0
        out[r, 5] = recall
        out[r, 6] = 2.0 * tp / (predicted + actual_pos) if predicted + actual_pos > 0.0 else 0.0
        if negatives > 0.0 and positives > 0.0:
            out[r, 7] = (pairs - 0.5 * ties) / (negatives * positives)
        else:
            out[r, 7] = np.nan
        # average precision, from the top score down
        true_above = 0.0
        above = 0.0
        precision_sum = 0.0
        for j in range(m - 1, -1, -1):
            p = w_pos[r, j]
            true_above += p
            above += w_neg[r, j] + p
            precision_sum += p * (true_above / above if above > 0.0 else 0.0)
        out[r, 8] = precision_sum / true_above if true_above > 0.0 else np.nan
        out[r, 9] = ece / mass
        baseline = 0.0
        for share in (negatives / total, positives / total):
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
    # doubles. Candidate j decides positive from score j on.
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
def mesh_operator(
    taps, at, frac, first, left, right, origin, centre, steps, width, near_zero, near_one, mesh
):
    # The smooth ECE's (m, mesh) operator, nonzero on each score's band of `width` mesh
    # points from first[i] (lossgap.core.calibration._mesh_operator's numpy path: its twin): mesh
    # point q reads outputs left[q] (share 1 - right[q]) and left[q] + 1 (share right[q]);
    # an output o reads the score's grid points at[i] (share 1 - frac[i]) and at[i] + 1
    # (share frac[i]) through the tap o + centre - g, and their mirror images at 0 (rows
    # below near_zero) and at 1 (rows from near_one). The same products added in the same
    # order as the twin: the same doubles.
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
                    value = taps[read - grid]
                    if i < near_zero:
                        value += taps[read + grid] if grid > 0 else 0.0
                    if i >= near_one:
                        value += taps[read + grid - 2 * steps] if grid < steps else 0.0
                    value_sum += grid_share * share * value
            operator[i, q] = value_sum
    return operator


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


@numba.njit(cache=True, nogil=True)
def fit_logistic(z, w_neg, w_pos, intercept, slope, a, b, max_iter):
    # Newton's method of lossgap.core.recalibrate.fit_logistic (its numpy twin: the same
    # steps, halvings and stops; its sums fused into one pass per step). Returns the
    # parameters, the loss and the last Hessian's (h00, h01, h11) (one parameter: h00).
    loss = _softplus_loss(a, b, z, w_neg, w_pos, intercept)
    h00, h01, h11 = 1.0, 0.0, 1.0
    for _ in range(max_iter):
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


@numba.njit(cache=True, nogil=True)
def poisson_rows(rng, counts, replicates):
    # lossgap.core.bootstrap.poisson_rows (its numpy twin) for means below
    # SMALL_POISSON_MEAN: Poisson draws with mean `counts`, row after row, each row's
    # units with a count in order, as numpy draws them. Below a mean of 10 numpy
    # multiplies uniforms until their product falls to exp(-mean) (Knuth's method),
    # computing exp(-mean) at every draw: here once per unit, the same double (both call
    # the C library's exp), and the uniforms read from the same bit generator in the same
    # order: the same numbers and the generator left in the same state (tested).
    live = np.flatnonzero(counts)
    floor = np.empty(live.shape[0])
    for k in range(live.shape[0]):
        floor[k] = math.exp(-counts[live[k]])
    out = np.zeros((replicates, counts.shape[0]))
    for r in range(replicates):
        for k in range(live.shape[0]):
            draws = 0
            product = rng.random()
            while product > floor[k]:
                draws += 1
                product *= rng.random()
            out[r, live[k]] = draws
    return out


@numba.njit(cache=True, nogil=True)
def held_out_sums(prob, w_neg, w_pos, before_neg, before_pos, was_decided, threshold, clip):
    # lossgap.core.recalibrate._held_out_sums's seven totals (its numpy path is the twin)
    # in one pass over the held-out rows: each row's capped losses under the map (its
    # probability clipped to [clip, 1 - clip]), Brier score, decision, and the gain over
    # the losses before the map, weighted by the row's negatives and positives.
    out = np.zeros(7)
    for j in range(prob.shape[0]):
        a, b, p = w_neg[j], w_pos[j], prob[j]
        capped = min(max(p, clip), 1.0 - clip)
        neg, pos = -np.log1p(-capped), -np.log(capped)
        decided = p >= threshold
        gain_neg, gain_pos = before_neg[j] - neg, before_pos[j] - pos
        out[0] += a * neg + b * pos
        out[1] += a * (p * p) + b * ((1.0 - p) * (1.0 - p))
        out[2] += b if decided else a
        if decided != was_decided[j]:
            out[3] += a + b
        out[4] += a * gain_neg + b * gain_pos
        out[5] += a * (gain_neg * gain_neg) + b * (gain_pos * gain_pos)
        out[6] += a * (neg * neg) + b * (pos * pos)
    return out


@numba.njit(cache=True, nogil=True)
def held_run_sums(run, rows, w_neg, w_pos, z, runs, moments):
    # lossgap.core.recalibrate._held_run_sums (its numpy path is the twin): the weights of
    # negatives and positives at the held-out rows, and with `moments` their w z and
    # w z^2, summed per run in one pass in row order (the twin's reduceat sums a long run
    # pairwise): no temporaries of the fold's size.
    out = np.zeros((3 if moments else 1, runs, 2))
    for j in range(rows.shape[0]):
        i = rows[j]
        r = run[i]
        a, b = w_neg[j], w_pos[j]
        out[0, r, 0] += a
        out[0, r, 1] += b
        if moments:
            za, zb = a * z[i], b * z[i]
            out[1, r, 0] += za
            out[1, r, 1] += zb
            out[2, r, 0] += za * z[i]
            out[2, r, 1] += zb * z[i]
    return out


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
    # mass, score * mass, negatives, positives; rows set as their runs begin, so that only
    # the runs' pages are touched (not m)
    sums = np.empty((m, 4))
    runs = 0
    running = 0.0
    last = -1
    for i in range(m):
        total = w_neg[i] + w_pos[i]
        running += total
        key = np.int64(min((running - total) / weight_sum * max_rows, max_rows - 1))
        if key != last or (segmented and i > 0 and segments[i] != segments[i - 1]):
            starts[runs] = i
            sums[runs] = 0.0
            runs += 1
            last = key
        r = runs - 1
        sums[r, 0] += total
        sums[r, 1] += scores[i] * total
        sums[r, 2] += w_neg[i]
        sums[r, 3] += w_pos[i]
    return starts[:runs].copy(), sums[:runs].copy()

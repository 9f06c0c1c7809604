"""Thresholds and costs of decisions, from the Tally's score table.

A binary decision ``p >= t`` takes one of ``m + 1`` distinct sets of decisions on a score
table of ``m`` ascending distinct scores: candidate ``j`` decides positive for the scores
``s_j, ..., s_{m-1}`` (candidate ``m`` decides nothing positive), and every threshold in
``(s_{j-1}, s_j]`` makes the same decisions. Every objective (mean cost, accuracy, F1,
balanced accuracy) is a function of the weight of negatives at or above and of positives
below each candidate: two cumulative sums of the table, exact at every size and the same
for a streamed or merged Tally as for the samples in memory.

Uncertainty comes from the Poisson bootstrap of the table's (score, label) cells that
:mod:`lossgap.core.bootstrap` uses, on the table pooled into at most ``DECISION_UNITS`` runs:

* the objective at the chosen threshold gets the percentile interval of the replicates,
  shifted onto the exact value;
* the chosen threshold gets a **confidence set**: every threshold whose objective is not
  significantly worse than the chosen one's, by a one-sided paired bootstrap test at
  level ``1 - confidence`` (the lower ``1 - confidence`` quantile of its excess over the
  chosen threshold, in the same replicates, is at most 0). The bootstrap distribution of
  an argmin is a poor guide (it converges at the cube-root rate), while this set covers
  the population-optimal threshold at about its level (measured over seeds in
  ``tests/test_decision.py``); its width says how flat the curve is.

Costs are a matrix ``C[true, decided]``; binary ``--costs FP,FN`` is ``[[0, FP], [FN, 0]]``.
A calibrated model minimises its expected cost by deciding positive when
``p (C10 - C11) >= (1 - p) (C01 - C00)``, i.e. at ``t = (C01 - C00) / (C01 - C00 + C10 - C11)``
(``FP / (FP + FN)``). When the threshold that is cost-optimal on these samples is far
from it, the model's probabilities are not calibrated where the decision is made.

References
----------
Elkan, C. (2001). The foundations of cost-sensitive learning. IJCAI.

Vickers, A. J., & Elkin, E. B. (2006). Decision curve analysis: a novel method for
evaluating prediction models. Medical Decision Making 26(6).
https://doi.org/10.1177/0272989X06295361
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
import numpy.typing as npt

from lossgap.core.binning import kernel_module
from lossgap.core.bootstrap import (
    DEFAULT_REPLICATES,
    Resampling,
    _effective_counts,
    percentile_interval,
    poisson_rows,
)
from lossgap.core.pooling import pool_table
from lossgap.core.predictions import Predictions
from lossgap.core.tally import ScoreTable, Tally
from lossgap.core.uncertainty import effective_scale, quantiles
from lossgap.errors import InputError
from lossgap.results.curves import DecisionCurve
from lossgap.results.decision import OBJECTIVES, CostAt, Decision, RuleCost, ThresholdChoice

#: Runs of adjacent scores the decision bootstrap resamples (the exact table gives every
#: point estimate): a candidate's excess is read at the run it falls in, so the interval's
#: ends are placed to about 1/2000 of the samples.
DECISION_UNITS = 2000

#: Objectives that are maximised; the cost is minimised.
MAXIMISED = frozenset({"accuracy", "f1", "balanced_accuracy"})


def cost_matrix(costs: Any, n_classes: int) -> np.ndarray:
    """Validate user costs into a ``(k, k)`` matrix ``C[true, decided]``.

    Parameters
    ----------
    costs : pair of float, or array-like of shape (k, k)
        Binary: ``(FP, FN)``, the cost of a false positive and of a false negative.
        Any task: the full matrix, rows the true class, columns the decision, in the
        class order of the predictions.
    n_classes : int

    Returns
    -------
    ndarray of shape (k, k)

    Raises
    ------
    lossgap.InputError
        Wrong shape, a negative or non-finite cost, or costs that make every decision
        equally good.

    Examples
    --------
    >>> cost_matrix((1, 5), 2).tolist()
    [[0.0, 1.0], [5.0, 0.0]]
    """
    try:
        c = np.asarray(costs, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        msg = f"costs must be numbers, got {costs!r}; pass FP,FN or a k x k matrix"
        raise InputError(msg) from exc
    if c.shape == (2,) and n_classes == 2:
        c = np.array([[0.0, c[0]], [c[1], 0.0]])
    if c.shape != (n_classes, n_classes):
        msg = (
            f"costs must be FP,FN (binary) or a {n_classes} x {n_classes} matrix "
            f"(rows: true class, columns: decision), got shape {c.shape}"
        )
        raise InputError(msg)
    bad = np.argwhere(~np.isfinite(c) | (c < 0))
    if len(bad):
        i, j = bad[0]
        msg = f"cost [{i}][{j}] is {float(c[i, j])!r}; costs must be finite and non-negative"
        raise InputError(msg)
    if np.all(c == c[:, :1]):
        msg = "every decision costs the same for every class: give costs that differ"
        raise InputError(msg)
    return c


def calibrated_threshold(c: np.ndarray) -> float:
    """The threshold a calibrated binary model minimises its expected cost with.

    ``(C01 - C00) / (C01 - C00 + C10 - C11)``, clipped to [0, 1]: deciding positive costs
    ``(1 - p) C01 + p C11`` in expectation, negative ``(1 - p) C00 + p C10``.

    Examples
    --------
    >>> calibrated_threshold(cost_matrix((1, 4), 2))  # FP / (FP + FN)
    0.2
    """
    fp, fn = c[0, 1] - c[0, 0], c[1, 0] - c[1, 1]
    if fp + fn <= 0:  # deciding positive is never worse: threshold 0
        return 0.0
    return float(np.clip(fp / (fp + fn), 0.0, 1.0))


def threshold_objectives(
    w_neg: np.ndarray, w_pos: np.ndarray, c: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """Every objective at each of the ``m + 1`` candidates of ascending scores.

    Parameters
    ----------
    w_neg, w_pos : ndarray of shape (..., m)
        Weight of negatives and positives at each ascending score; leading axes are
        batch axes (bootstrap replicates).
    c : ndarray of shape (2, 2), default=None
        Costs; without them there is no ``"cost"``.

    Returns
    -------
    dict of str to ndarray of shape (..., m + 1)
        Candidate ``j`` decides positive for the scores from index ``j`` on. The values
        equal those of the kernels of :mod:`lossgap.core.metrics` on each candidate's
        confusion matrix (tested), computed from its four cells directly: building the
        ``(..., m + 1, 2, 2)`` matrices for every bootstrap replicate costs several times
        more.

    Examples
    --------
    >>> obj = threshold_objectives(np.array([2.0, 1.0, 0.0]), np.array([0.0, 1.0, 2.0]))
    >>> obj["accuracy"].tolist()  # decide positive from score 0, 1, 2, or never
    [0.5, 0.8333333333333334, 0.8333333333333334, 0.5]

    One row of weights (the point estimate) or a batch of rows (bootstrap replicates) goes
    through one compiled loop with numba (:func:`~lossgap.core.binning.kernel_module`):
    the same expressions in the same order as the numpy twin
    (:func:`numpy_threshold_objectives`), the same doubles (tested), about ten times
    faster on 200 replicates of 270 runs, and on one row of 1e5 scores (0.85 against
    0.13 ms, twice per evaluation: the twin's temporaries of the row's length cost more
    than its sums).
    """
    kernels = kernel_module("bootstrap_kernels") if w_neg.ndim <= 2 else None
    if kernels is None:
        return numpy_threshold_objectives(w_neg, w_pos, c)
    w_neg, w_pos = np.asarray(w_neg, dtype=np.float64), np.asarray(w_pos, dtype=np.float64)
    one = w_neg.ndim == 1  # one row: (1, m), as np.atleast_2d makes it
    values = kernels.threshold_objectives(
        w_neg[None] if one else w_neg,  # strided views as they are (no copy)
        w_pos[None] if one else w_pos,
        np.zeros((2, 2)) if c is None else np.asarray(c, dtype=np.float64),
        c is not None,
    )
    if one:
        values = values[:, 0]
    names = ("accuracy", "f1", "balanced_accuracy", "cost")
    return dict(zip(names[: 3 if c is None else 4], values, strict=False))


def numpy_threshold_objectives(
    w_neg: np.ndarray, w_pos: np.ndarray, c: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """:func:`threshold_objectives` in numpy (the compiled path's twin): two cumulative
    sums, each objective from the four cells.

    Examples
    --------
    >>> w = np.array([[2.0, 1.0, 0.0], [0.0, 1.0, 2.0]])
    >>> numpy_threshold_objectives(w[:1], w[1:])["f1"].tolist()
    [[0.6666666666666666, 0.8571428571428571, 0.8, 0.0]]
    """
    tn, fn = _below(w_neg), _below(w_pos)
    neg, pos = tn[..., -1:], fn[..., -1:]
    fp, tp = neg - tn, pos - fn
    total = neg + pos
    # a row without weight has no objective: NaN (0 / 0), as the compiled kernel's
    with np.errstate(divide="ignore", invalid="ignore"):
        out = {"accuracy": (tp + tn) / total}
        # F1 = 2 TP / (2 TP + FP + FN) = 2 TP / (TP + FP + P), 0 without true positives
        f1 = np.zeros(tp.shape)
        np.divide(2.0 * tp, tp + fp + pos, out=f1, where=tp > 0)
        out["f1"] = f1
        # balanced accuracy averages the recalls of the classes present, as scikit-learn
        per_pos = np.where(pos > 0, 1.0 / pos, 0.0)
        per_neg = np.where(neg > 0, 1.0 / neg, 0.0)
        present = (pos > 0).astype(float) + (neg > 0)
        out["balanced_accuracy"] = (tp * per_pos + tn * per_neg) / present
        if c is not None:
            out["cost"] = (c[0, 0] * tn + c[0, 1] * fp + c[1, 0] * fn + c[1, 1] * tp) / total
    return out


def _below(w: np.ndarray) -> np.ndarray:
    """Weight strictly below each of the ``m + 1`` candidates: the samples decided negative."""
    out = np.empty((*w.shape[:-1], w.shape[-1] + 1))
    out[..., 0] = 0.0
    np.cumsum(w, axis=-1, out=out[..., 1:])
    return out


def candidate(scores: np.ndarray, threshold: float) -> int:
    """Index of the candidate that ``p >= threshold`` decides like."""
    return int(scores.searchsorted(threshold, side="left"))


def _edges(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) per candidate: thresholds in ``(low, high]`` make the same decisions."""
    top = 1.0 if scores[-1] < 1.0 else float(np.nextafter(1.0, 2.0))
    low = np.concatenate([[0.0], scores])
    high = np.concatenate([scores, [top]])
    return low, high


def _midpoint(low: float, high: float) -> float:
    """A threshold inside ``(low, high]``, its middle where floats allow."""
    mid = 0.5 * (low + high)
    return float(mid if low < mid <= high else high)


def _gap_to(values: np.ndarray, at: int, maximise: bool) -> np.ndarray:
    """How much worse each candidate is than candidate ``at`` (along the last axis)."""
    chosen = values[..., at : at + 1]
    return chosen - values if maximise else values - chosen


#: Relative tolerance of "no worse than the chosen threshold" (float summation order).
_TOL = 1e-12


def _best(values: np.ndarray, maximise: bool) -> int:
    """The first best candidate (ties: the lowest threshold), NaN skipped."""
    best = int(values.argmax() if maximise else values.argmin())
    if values[best] != values[best]:  # the first NaN: skip them (nanargmax copies the values)
        return int(np.nanargmax(values) if maximise else np.nanargmin(values))
    return best


def _percentile(
    estimate: float, values: np.ndarray, base: float, confidence: float
) -> tuple[float | None, float | None]:
    """Percentile interval of replicate ``values`` around ``base``, placed on ``estimate``."""
    deviation = values - base
    deviation = deviation[np.isfinite(deviation)]
    if len(deviation) < 2 or not math.isfinite(estimate):
        return None, None
    return percentile_interval(estimate, deviation, confidence)


def decide(
    tally: Tally,
    *,
    costs: npt.ArrayLike | None = None,
    pred: Predictions | None = None,
    confidence: float = 0.95,
    replicates: int = DEFAULT_REPLICATES,
    seed: int = 0,
    resampling: Resampling | None = None,
) -> Decision | None:
    """The ``decision`` section: best thresholds (binary) or rule costs (multiclass).

    Parameters
    ----------
    tally : Tally
    costs : pair or array-like, default=None
        See :func:`cost_matrix`.
    pred : Predictions, default=None
        The samples; multiclass costs need them.
    confidence : float, default=0.95
    replicates : int, default=200
        Bootstrap replicates; 0 leaves out every interval.
    seed : int, default=0
    resampling : Resampling, default=None
        Binary: the evaluation's one resampling
        (:func:`~lossgap.core.bootstrap.resample`), whose table and Poisson weights the
        intervals then read instead of drawing replicates of the table pooled into
        ``DECISION_UNITS`` runs. Its runs hold up to 1/256 of the samples each (rather
        than 1/2000), so a threshold set's ends are placed to about that share of the
        samples (``tests/core/test_decision.py`` measures the coverage either way).

    Returns
    -------
    Decision or None
        None for multiclass predictions without costs (argmax is the only rule).

    Examples
    --------
    >>> from lossgap import Predictions, Tally
    >>> t = Tally.from_predictions(Predictions([0, 0, 1, 1, 1], [0.1, 0.3, 0.4, 0.7, 0.9]))
    >>> d = decide(t, costs=(1, 4))
    >>> d.calibrated_threshold, d.optimal["cost"].threshold, d.optimal["cost"].value
    (0.2, 0.35, 0.0)
    """
    c = None if costs is None else cost_matrix(costs, tally.n_classes)
    if tally.task == "binary":
        return _binary_decision(tally, c, confidence, replicates, seed, resampling)
    if c is None:
        return None
    if pred is None:
        msg = "multiclass costs need the samples in memory: use --engine memory"
        raise InputError(msg)
    return _multiclass_decision(pred, c, confidence, replicates, seed)


def _binary_decision(
    tally: Tally,
    c: np.ndarray | None,
    confidence: float,
    replicates: int,
    seed: int,
    resampling: Resampling | None = None,
) -> Decision:
    table = tally.tables[0]
    scores = table.scores
    curves = threshold_objectives(table.weights[:, 0], table.weights[:, 1], c)
    low, high = _edges(scores)
    pooled = pool_table(table, DECISION_UNITS) if resampling is None else resampling.table
    m = len(pooled.scores)
    base = threshold_objectives(pooled.weights[:, 0], pooled.weights[:, 1], c)
    draws: dict[str, np.ndarray] = {}
    if replicates > 0:
        if resampling is None:
            # weights as effective counts: the intervals do not depend on the weights' scale
            cells = _effective_counts(pooled.weights, effective_scale(tally)).T.ravel()
            rep = poisson_rows(np.random.default_rng(seed), cells, replicates)
        else:
            rep = resampling.weights[:replicates]
        draws = threshold_objectives(rep[:, :m], rep[:, m:], c)
        # an empty replicate has no objective: its accuracy at the first candidate (its
        # positives over its weight, 0 / 0 only there) is NaN; its rows dropped (a copy
        # only then), as the objectives of the others, each row's own, are the same
        drawn = draws["accuracy"][:, 0] == draws["accuracy"][:, 0]
        if not drawn.all():
            draws = {name: values[drawn] for name, values in draws.items()}
    objectives = [o for o in OBJECTIVES if o in curves]
    # each exact candidate's pooled stand-in, the same for every objective (a search per
    # candidate: at 1e6 distinct scores about 7 ms, once rather than per objective)
    runs = _pooled_candidates(scores, low, high, pooled.scores)
    # each objective's excess over its chosen candidate in every replicate, one after
    # another in one array: fresh arrays of this size cost page faults at every evaluation
    scratch = np.empty(draws["accuracy"].shape) if len(draws) else np.empty((0, 0))
    optimal = {}
    for name in objectives:
        maximise = name in MAXIMISED
        best = _best(curves[name], maximise)
        threshold = _midpoint(low[best], high[best])
        value = float(curves[name][best])
        at = candidate(pooled.scores, threshold)
        if len(draws):
            ci = _percentile(value, draws[name][:, at], float(base[name][at]), confidence)
            # per candidate: the lower bound of its excess over the chosen threshold, from
            # the paired replicates (the pooled candidate standing in for the exact one)
            tol = _TOL * max(abs(value), 1.0)
            lower_of = partial(
                _excess_lower_bound, draws[name], base[name], at, maximise, confidence,
                runs_at=runs[1], tol=tol, out=scratch,
            )
            kept_low, kept_high, worst = _threshold_set(
                curves[name], best, maximise, runs, lower_of, tol
            )
        else:
            ci = (None, None)
            kept_low = kept_high = best
            worst = float(_gap_to(curves[name][best : best + 1], 0, maximise)[0])
        optimal[name] = ThresholdChoice(
            name,
            float(threshold),
            value,
            *ci,
            float(low[kept_low]),
            float(high[kept_high]),
            worst,
        )
    at_costs: list[CostAt] = []
    calibrated = None
    if c is not None:
        calibrated = calibrated_threshold(c)
        chosen = candidate(pooled.scores, optimal["cost"].threshold)
        named = {"0.5": 0.5, "threshold": tally.threshold, "calibrated": calibrated}
        for name, t in named.items():
            j, jp = candidate(scores, t), candidate(pooled.scores, t)
            cost = float(curves["cost"][j])
            excess = cost - optimal["cost"].value
            if len(draws):
                reps = draws["cost"]
                ci = _percentile(cost, reps[:, jp], float(base["cost"][jp]), confidence)
                base_excess = float(base["cost"][jp] - base["cost"][chosen])
                eci = _percentile(excess, reps[:, jp] - reps[:, chosen], base_excess, confidence)
            else:
                ci = eci = (None, None)
            at_costs.append(CostAt(name, float(t), cost, *ci, excess, *eci))
    pooled_note = "" if m == len(scores) else f", scores pooled into {m} runs"
    if resampling is not None:
        pooled_note += ", the metrics' replicates"
    return Decision(
        task="binary",
        costs=None if c is None else c.tolist(),
        calibrated_threshold=calibrated,
        optimal=optimal,
        at=at_costs,
        confidence=confidence,
        method=(
            f"exact sweep of the score table; bootstrap ({replicates} Poisson replicates of "
            f"the (score, label) cells, seed {seed}{pooled_note}); threshold interval by "
            "test inversion"
            if len(draws)
            else "exact sweep of the score table; no bootstrap, so no intervals"
        ),
    )


#: Each pooled candidate's run of exact candidates (:func:`_pooled_candidates`): where
#: each run begins, its pooled candidate, and (numpy path) each exact candidate's.
PooledRuns = tuple[np.ndarray, np.ndarray, np.ndarray | None]


def _pooled_candidates(
    scores: np.ndarray, low: np.ndarray, high: np.ndarray, pooled_scores: np.ndarray
) -> PooledRuns:
    """Each exact candidate's pooled stand-in, the pooled candidate its midpoint falls in,
    as runs (the midpoints ascend, so each pooled candidate's exact ones are adjacent).

    With numba (:func:`~lossgap.core.binning.kernel_module`) one compiled walk of the
    pooled scores gives the runs alone, the same as this numpy twin's search per
    candidate (tested): 0.5 -> 0.1 ms at 1e5 candidates.
    """
    kernels = kernel_module("bootstrap_kernels")
    if kernels is not None:
        first, at = kernels.pooled_candidates(scores, float(high[-1]), pooled_scores)
        return first, at, None
    pooled_at = np.searchsorted(pooled_scores, 0.5 * (low + high), side="left")
    first = np.flatnonzero(np.diff(pooled_at, prepend=-1) != 0)
    return first, pooled_at[first], pooled_at


def _threshold_set(
    values: np.ndarray,
    best: int,
    maximise: bool,
    runs: PooledRuns,
    lower_of: Callable[[np.ndarray], np.ndarray],
    tol: float,
) -> tuple[int, int, float]:
    """The confidence set of candidate ``best`` of one objective: the first and last
    candidate whose gap to it plus its pooled candidate's lower bound (``lower_of`` the
    least gap of each pooled candidate's exact ones, :func:`_excess_lower_bound`) is at
    most ``tol``, and the largest gap among those kept.

    With numba (:func:`~lossgap.core.binning.kernel_module`) two compiled passes over the
    candidates, with no array of their size: the same comparisons on the same doubles as
    this numpy twin (tested), about 1 ms less per evaluation at 1e5 distinct scores.
    """
    first, at, pooled_at = runs
    kernels = kernel_module("bootstrap_kernels")
    if kernels is not None:
        chosen = float(values[best])
        lower = lower_of(kernels.least_gaps(values, chosen, maximise, first))
        low, high, worst = kernels.kept_range(
            values, chosen, maximise, lower, first, at, best, tol
        )
        return int(low), int(high), float(worst)
    gap = _gap_to(values, best, maximise)
    # the exact candidates ascend, so each pooled candidate's are adjacent: one reduceat
    # (np.fmin.at costs 4 ms at 1e6 candidates); fmin: a NaN gap is never kept, it bounds
    # nothing, and a pooled candidate whose gaps are all NaN stays out (NaN + lower > tol)
    lower = lower_of(np.fmin.reduceat(gap, first))
    kept = gap + lower[pooled_at] <= tol
    kept[best] = True
    near = np.flatnonzero(kept)
    return int(near.min()), int(near.max()), float(np.nanmax(gap[near]))


def _excess_lower_bound(
    draws: np.ndarray,
    base: np.ndarray,
    at: int,
    maximise: bool,
    confidence: float,
    least: np.ndarray,
    runs_at: np.ndarray,
    tol: float,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Per pooled candidate, the lower ``1 - confidence`` quantile of its excess over
    candidate ``at`` in the paired replicates where it can decide whether a threshold is
    kept (``gap + lower <= tol``), else the smallest excess.

    The quantile is at least the smallest excess, so a candidate whose smallest excess
    plus the least gap of the exact candidates it stands for (``least``, one per pooled
    candidate in ``runs_at``; the others stand for none) is above ``tol`` is out either
    way: its quantile, the costly part, is not taken. The kept set is the same as with
    every quantile (tested). ``out``: an array of the shape of ``draws`` to hold the
    excess (the same doubles as fresh ones).

    With numba (:func:`~lossgap.core.binning.kernel_module`) the excess and its least
    values in one compiled pass (this numpy path is its twin): the same doubles (tested;
    a least zero's sign aside, which only meets comparisons): the three objectives' calls
    at 1e3 (200 replicates of 268 candidates), their quantiles included, 407 -> 245 us.
    """
    # excess = (gap of each candidate to `at` in a replicate) - (the same gap unresampled)
    kernels = kernel_module("bootstrap_kernels")
    if kernels is not None:
        excess = np.empty(draws.shape) if out is None else out
        lower = kernels.excess_over(draws, base, at, maximise, excess)
    else:
        deviation = np.subtract(draws, base, out=out)
        chosen = deviation[:, at : at + 1]  # numpy buffers an operand that overlaps `out`
        excess = (
            np.subtract(chosen, deviation, out=deviation)
            if maximise
            else np.subtract(deviation, chosen, out=deviation)
        )
        lower = excess.min(axis=0)
    least_gap = np.full(len(lower), np.inf)
    least_gap[runs_at] = least
    open_ = np.flatnonzero(least_gap + lower <= tol)
    if len(open_):
        lower[open_] = quantiles(excess, [1 - confidence], open_)[0]  # np.quantile's
    return lower


def bayes_decisions(prob: np.ndarray, c: np.ndarray) -> np.ndarray:
    """The decision of least expected cost for each row of class probabilities.

    Examples
    --------
    >>> bayes_decisions(np.array([[0.7, 0.3], [0.9, 0.1]]), cost_matrix((1, 4), 2)).tolist()
    [1, 0]
    """
    if prob.ndim == 1:
        prob = np.column_stack([1.0 - prob, prob])
    # ties go to the lowest class index, as argmax does
    return np.argmin(prob @ c, axis=1)


def _multiclass_decision(
    pred: Predictions, c: np.ndarray, confidence: float, replicates: int, seed: int
) -> Decision:
    w = np.ones(len(pred)) if pred.sample_weight is None else pred.sample_weight
    argmax_cost = c[pred.y, pred.predicted()]
    bayes_cost = c[pred.y, bayes_decisions(pred.prob, c)]
    # the per-sample costs take few distinct pairs: resample the pairs' weights
    pairs, cell = np.unique(np.column_stack([argmax_cost, bayes_cost]), axis=0, return_inverse=True)
    weight = np.bincount(cell.ravel(), weights=w, minlength=len(pairs))
    counts = _effective_counts(weight, float(w.sum() / (w @ w)))
    columns = {
        "argmax": pairs[:, 0],
        "cost_weighted": pairs[:, 1],
        "difference": pairs[:, 0] - pairs[:, 1],
    }
    rules = []
    rng = np.random.default_rng(seed)
    rep = rng.poisson(counts, size=(replicates, len(weight))).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        totals = rep.sum(axis=1)
        for name, values in columns.items():
            cost = float(weight @ values / weight.sum())
            ci = (
                _percentile(cost, rep @ values / totals, cost, confidence)
                if replicates
                else (None, None)
            )
            rules.append(RuleCost(name, cost, *ci))
    return Decision(
        task="multiclass",
        costs=c.tolist(),
        calibrated_threshold=None,
        rules=rules,
        confidence=confidence,
        method=f"bootstrap ({replicates} Poisson replicates of the samples, seed {seed})",
    )


def held_out_decision_costs(
    pred: Predictions, costs: npt.ArrayLike | None = None, *, folds: int = 5, seed: int = 0
) -> np.ndarray:
    """Each sample's cost when its decision uses a threshold tuned on the other folds.

    Binary: the cost-optimal threshold (error rate without costs) is chosen on ``K - 1``
    folds and applied to the held-out fold, so a model is judged by the decisions it
    supports rather than by where its 0.5 happens to fall. Multiclass: the cost-weighted
    (Bayes) rule on the model's probabilities, or the argmax without costs; nothing is
    tuned. The folds depend only on ``seed`` and ``len(pred)``: models compared on the
    same samples share them.

    Returns
    -------
    ndarray of shape (n,)
    """
    if pred.task != "binary":
        if costs is None:
            return (pred.predicted() != pred.y).astype(np.float64)
        c = cost_matrix(costs, pred.n_classes)
        return c[pred.y, bayes_decisions(pred.prob, c)]
    c = cost_matrix((1.0, 1.0) if costs is None else costs, 2)
    fold = np.random.default_rng(seed).integers(0, folds, len(pred))
    w = pred.sample_weight
    out = np.empty(len(pred))
    for k in range(folds):
        test, train = fold == k, fold != k
        if not test.any():
            continue
        table = ScoreTable.from_samples(
            pred.prob[train], pred.y[train], None if w is None else w[train]
        )
        j = _best(
            threshold_objectives(table.weights[:, 0], table.weights[:, 1], c)["cost"],
            maximise=False,
        )
        low, high = _edges(table.scores)
        decided = (pred.prob[test] >= _midpoint(low[j], high[j])).astype(np.int64)
        out[test] = c[pred.y[test], decided]
    return out


#: Points kept per plotted decision curve.
CURVE_POINTS = 2000


def decision_curve(
    table: ScoreTable, costs: npt.ArrayLike | None = None, *, max_points: int = CURVE_POINTS
) -> DecisionCurve:
    """The series behind the decision plots of a binary score table.

    Parameters
    ----------
    table : ScoreTable
    costs : pair or (2, 2) array-like, default=None
        With costs, ``cost`` is the mean cost per sample at each threshold; without, the
        series holds the net benefit of decision-curve analysis, ``TP / n - FP / n *
        t / (1 - t)`` (the threshold ``t`` setting the exchange rate), beside that of
        deciding positive for everyone.
    max_points : int, default=2000
        Longer series keep evenly spaced thresholds (each value exact at its threshold).

    Returns
    -------
    DecisionCurve
        ``threshold`` (ascending; ``p >= threshold`` decides positive), ``precision``,
        ``recall`` and ``cost`` or ``net_benefit`` and ``net_benefit_all``.

    Examples
    --------
    >>> t = ScoreTable(np.array([0.2, 0.6, 0.9]), np.array([[2.0, 0.0], [1.0, 1.0], [0.0, 2.0]]))
    >>> decision_curve(t, (1, 2)).cost
    [0.5, 0.16666666666666666, 0.3333333333333333, 1.0]
    """
    w_neg, w_pos = table.weights[:, 0], table.weights[:, 1]
    thresholds = _edges(table.scores)[1]
    neg_above = w_neg.sum() - np.concatenate([[0.0], np.cumsum(w_neg)])
    pos_above = w_pos.sum() - np.concatenate([[0.0], np.cumsum(w_pos)])
    total = w_neg.sum() + w_pos.sum()
    keep = np.arange(len(thresholds))
    if len(keep) > max_points:
        keep = np.unique(np.linspace(0, len(keep) - 1, max_points).round().astype(int))
    with np.errstate(divide="ignore", invalid="ignore"):
        decided = neg_above + pos_above
        out = {
            "threshold": thresholds,
            "precision": np.where(decided > 0, pos_above / decided, np.nan),
            "recall": pos_above / w_pos.sum(),
        }
        if costs is None:
            odds = thresholds / (1.0 - thresholds)
            out["net_benefit"] = (pos_above - neg_above * odds) / total
            out["net_benefit_all"] = (w_pos.sum() - w_neg.sum() * odds) / total
        else:
            out["cost"] = threshold_objectives(w_neg, w_pos, cost_matrix(costs, 2))["cost"]
    return DecisionCurve(**{name: np.asarray(v)[keep].tolist() for name, v in out.items()})

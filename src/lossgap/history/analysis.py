"""The analysis of one run: best epochs, smoothed curves, where loss and accuracy part ways.

Every judgement is made on the smoothed curves with a trend test, never on one epoch:

* **best**: the logged point where each validation metric is best (lowest loss, highest
  score), as the log numbers it.
* **divergence** (``direction="loss_rises"``): the smoothed validation loss reaches its
  minimum at ``start``; from there to the end the loss rises (Mann-Kendall p < 0.05, and
  the smoothed rise is at least 2 % of the minimum and :func:`noise_multiple` SDs of the
  curve's level, :func:`~lossgap.history.trend.level_sd`, which allows for AR(1) wander)
  while the decision score does not fall (no significant falling trend). The mirror case
  (``"accuracy_falls"``): from the smoothed score's maximum the score falls (p < 0.05, by
  at least 0.005 and as many noise SDs) while the loss does not rise.
* **overfitting**: the first point from which the gap ``val_loss - train_loss`` grows
  (p < 0.05, by at least 10 % of the validation loss there, ending positive) while the
  training loss falls (p < 0.05) and the validation loss no longer improves.
* **noise**: epoch-to-epoch noise of each curve against its smoothed range, and single
  points far off both neighbours (spikes).

Thresholds are named constants below and documented in ``docs/findings.md``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import ndtri

from lossgap.core import bounds
from lossgap.core.trend import (
    MAD_SCALE,
    MIN_TREND_POINTS,
    Trend,
    accuracy_change_se,
    granularity_n,
    hinge_point,
    level_sd,
    noise_sd,
    smooth,
    trend,
    window,
)
from lossgap.core.uncertainty import Z95
from lossgap.results.history import (
    INFERRED_N,
    BestPoint,
    Collapse,
    Curve,
    Curves,
    Disagreement,
    Divergence,
    LossComposition,
    NoiseCheck,
    NoiseLevel,
    Overfitting,
    Run,
    Spike,
    TrendTest,
)

# The thresholds of the history findings are the rule book's (lossgap.rules.book):
# MIN_LOSS_RISE, MIN_SCORE_FALL and NOISE_MULTIPLE (loss_accuracy_divergence),
# MIN_GAP_GROWTH (overfitting_onset), SPIKE_SDS and SPIKE_SHARE (metric_spike).
from lossgap.rules.book import (
    ASSUMED_CLASSES,
    COLLAPSE_TOLERANCE,
    MIN_GAP_GROWTH,
    MIN_LOSS_RISE,
    MIN_SCORE_FALL,
    NOISE_MULTIPLE,
    SPIKE_SDS,
    SPIKE_SHARE,
)


def noise_multiple(points: int) -> float:
    """The noise SDs a smoothed change must exceed: ``NOISE_MULTIPLE``, and ``sqrt(2 ln n)``
    on a curve of ``n`` points: the start is the curve's best point, picked among ``n``, and
    the extreme of ``n`` noisy values lies about that many SDs out, so a smaller change from
    it is what selection alone produces.

    Examples
    --------
    >>> round(noise_multiple(15), 2), round(noise_multiple(60), 2)
    (2.33, 2.86)
    """
    return max(NOISE_MULTIPLE, float(np.sqrt(2 * np.log(max(points, 1)))))


def _positions(run: Run, idx: np.ndarray) -> np.ndarray:
    """Trend positions: the logged epochs (or steps), else the point order."""
    axis = run.epoch if run.axis == "epoch" else run.step
    if axis is None or not np.isfinite(axis[idx]).all():
        return idx.astype(np.float64)
    return axis[idx]


def best_points(run: Run, collapsed: tuple[int, ...] = ()) -> dict[str, BestPoint]:
    """The best logged point of every validation metric with a direction.

    The analysed loss and score are included even when they are training metrics
    (``--loss loss``). Ties go to the earliest point. The ``collapsed`` points (one class
    predicted for every sample: :func:`collapse`) are never the best of a score.
    """
    keys = [k for k, m in run.metrics.items() if m.name.split == "val" and m.name.direction]
    keys += [k for k in (run.loss, run.score) if k is not None and k not in keys]
    out = {}
    for key in keys:
        metric = run.metrics[key]
        usable = np.isfinite(metric.values)
        if metric.name.direction == "max" and collapsed:
            usable[list(collapsed)] = False
        finite = np.flatnonzero(usable)
        if finite.size == 0:
            continue
        values = metric.values[finite]
        pick = int(np.argmin(values) if metric.name.direction == "min" else np.argmax(values))
        i = int(finite[pick])
        out[key] = BestPoint(
            epoch=run.label(i),
            step=run.step_of(i),
            value=float(metric.values[i]),
            index=i,
            direction=str(metric.name.direction),
            name=metric.name.original,
        )
    return out


def disagreement(run: Run, best: dict[str, BestPoint], n_val: int | None) -> Disagreement | None:
    """The loss-best and score-best logged points when they differ, with what each costs."""
    if run.score is None or run.loss not in best or run.score not in best:
        return None
    lb, sb = best[run.loss], best[run.score]
    if lb.index == sb.index:
        return None
    score_at_lb = float(run.metrics[run.score].values[lb.index])
    loss_at_sb = float(run.metrics[run.loss].values[sb.index])
    check = NoiseCheck()
    if run.metrics[run.score].name.metric == "accuracy":
        # the score's best is the best of every analysed point
        searched = int(np.isfinite(run.metrics[run.score].values).sum())
        check = noise_check(sb.value - score_at_lb, score_at_lb, sb.value, n_val, searched)
    return Disagreement(
        loss_metric=run.loss,
        score_metric=run.score,
        loss_best_epoch=lb.epoch,
        loss_best_step=lb.step,
        loss_best=lb.value,
        score_best_epoch=sb.epoch,
        score_best_step=sb.step,
        score_best=sb.value,
        score_at_loss_best=score_at_lb,
        loss_at_score_best=loss_at_sb,
        score_gain=sb.value - score_at_lb,
        loss_cost=loss_at_sb - lb.value,
        n_val=n_val,
        noise=check,
    )


def chosen_points(
    run: Run, idx: np.ndarray, curves: Curves, collapsed: tuple[int, ...] = ()
) -> dict[str, Any]:
    """The points to keep for probabilities (loss) and decisions (score).

    On the smoothed curves when the run is long enough for them, so that one lucky
    epoch does not decide; on the logged values otherwise. A ``collapsed`` point is never
    kept for decisions.
    """
    smoothed = idx.size >= MIN_TREND_POINTS
    out: dict[str, Any] = {"basis": "smoothed" if smoothed else "logged"}
    picks = {}
    for role, key in (("loss", run.loss), ("score", run.score)):
        if key is None or idx.size == 0:
            continue
        curve = curves.metrics[key]
        values = curve.smoothed if smoothed else curve.raw
        if role == "score" and collapsed:
            values = np.where(np.isin(idx, collapsed), np.nan, values)
        if not np.isfinite(values).any():
            continue
        lower = run.metrics[key].name.direction == "min"
        picks[role] = int(np.nanargmin(values) if lower else np.nanargmax(values))
        out[role] = {"index": int(idx[picks[role]]), "value": float(values[picks[role]])}
    if "loss" in picks and "score" in picks and run.score is not None:
        curve = curves.metrics[run.score]
        out["score_at_loss"] = float((curve.smoothed if smoothed else curve.raw)[picks["loss"]])
    return out


def validation_size(run: Run, n_val: int | None) -> tuple[int | None, str | None]:
    """The validation-set size: given, else Hugging Face's runtime x rate, else the
    accuracies' granularity when it is justified, else unknown (the verdicts then say so).

    An accuracy ``k / n`` in lowest terms has denominator ``n`` when ``k`` and ``n`` share no
    factor; a granularity is justified only when some logged accuracy has exactly that
    denominator. A log whose epochs were scored on sets of different sizes (557 and 192)
    fits only a common multiple of them (106,944) that no single accuracy has as its
    denominator: that is refused, not guessed.
    """
    if n_val is not None:
        return int(n_val), "given"
    runtime, rate = run.values("val_runtime"), run.values("val_samples_per_second")
    if runtime is not None and rate is not None:
        product = runtime * rate
        product = product[np.isfinite(product)]
        if product.size:
            return int(round(float(np.median(product)))), "eval_runtime x eval_samples_per_second"
    score = run.values(run.score)
    key = run.score
    if score is not None and key is not None and run.metrics[key].name.metric == "accuracy":
        values = score[np.isfinite(score)]
        found = granularity_n(values)
        if found is not None and _some_denominator_is(values, found):
            return found, INFERRED_N
    return None, None


def _some_denominator_is(values: np.ndarray, n: int) -> bool:
    """True when some value ``k / n`` has ``k`` coprime to ``n`` (denominator exactly n)."""
    numerators = np.rint(np.asarray(values, dtype=np.float64) * n).astype(np.int64)
    return bool((np.gcd(numerators, n) == 1).any())


def _trend_test(t: Trend) -> TrendTest:
    return TrendTest(tau=t.tau, p_value=t.p_value, slope=t.slope, trend=t.direction)


def noise_check(
    change: float, a_from: float, a_to: float, n_val: int | None, searched: int = 1
) -> NoiseCheck:
    """Whether an accuracy change between two epochs on the same ``n_val`` samples is noise.

    Two epochs are scored on the same samples, so the change is paired: its variance is
    ``(d - change^2) / n`` with ``d`` the share of samples whose correctness differs, which
    a log does not hold; ``d`` is at least ``|change|``. The verdict is ``"beyond"`` only
    when the change exceeds 1.96 unpaired two-proportion standard errors (an upper bound
    for positively correlated epochs), ``"within"`` only when it stays within them at the
    smallest ``d = |change|``, and ``"undetermined"`` between: then the per-epoch
    predictions (``--predictions``, or ``lossgap compare`` on two epochs) decide.
    ``within_noise`` is True, False or None accordingly (None also without ``n_val``).

    ``searched``: how many epochs the better value was picked from. The best of many noisy
    epochs beats any one of them by chance, so the "beyond" bound is Bonferroni-widened to
    ``z(0.025 / searched)``.
    """
    if n_val is None or not (0 <= a_from <= 1 and 0 <= a_to <= 1):
        return NoiseCheck(noise_verdict="n unknown")
    se = accuracy_change_se(a_from, a_to, n_val)
    smallest = float(np.sqrt(max(abs(change) * (1 - abs(change)), 0.0) / n_val))
    beyond = float(-ndtri(0.025 / max(searched, 1)))
    if abs(change) >= beyond * se:
        verdict, within = "beyond", False
    elif abs(change) < Z95 * smallest or change == 0:
        verdict, within = "within", True
    else:
        verdict, within = "undetermined", None
    return NoiseCheck(
        change_se=se,
        within_noise=within,
        noise_verdict=verdict,
        change_se_smallest=smallest,
        z_beyond=beyond,
        searched=searched,
    )


def divergence(
    run: Run, idx: np.ndarray, curves: Curves, n_val: int | None
) -> Divergence | None:
    """Where the validation loss and the decision score part ways (module docstring)."""
    if run.score is None or idx.size < MIN_TREND_POINTS:
        return None
    loss_raw, loss_s = curves.metrics[run.loss].raw, curves.metrics[run.loss].smoothed
    score_raw, score_s = curves.metrics[run.score].raw, curves.metrics[run.score].smoothed
    if not np.isfinite(score_raw).all():
        return None
    x = curves.x
    higher = run.metrics[run.score].name.direction != "min"
    score_good = score_s if higher else -score_s
    start = int(np.argmin(loss_s))
    found = None
    if idx.size - start >= MIN_TREND_POINTS:
        loss_t = trend(x[start:], loss_raw[start:])
        score_t = trend(x[start:], score_raw[start:])
        rise = loss_s[-1] - loss_s[start]
        worse = "falling" if higher else "rising"
        needed = max(
            MIN_LOSS_RISE * abs(loss_s[start]), noise_multiple(idx.size) * level_sd(loss_raw)
        )
        if loss_t.direction == "rising" and rise >= needed and score_t.direction != worse:
            found = ("loss_rises", start, loss_t, score_t)
    if found is None:
        start = int(np.argmax(score_good))
        if idx.size - start >= MIN_TREND_POINTS:
            loss_t = trend(x[start:], loss_raw[start:])
            score_t = trend(x[start:], score_raw[start:])
            fall = score_good[start] - score_good[-1]
            worse = "falling" if higher else "rising"
            needed = max(MIN_SCORE_FALL, noise_multiple(idx.size) * level_sd(score_raw))
            if score_t.direction == worse and fall >= needed and loss_t.direction != "rising":
                found = ("accuracy_falls", start, loss_t, score_t)
    if found is None:
        return None
    direction, start, loss_t, score_t = found
    point = int(idx[start])
    end = int(idx[-1])
    change = float(score_s[-1] - score_s[start])
    score_start, score_end = float(score_s[start]), float(score_s[-1])
    return Divergence(
        direction=direction,
        start_index=point,
        start_epoch=run.label(point),
        start_step=run.step_of(point),
        end_epoch=run.label(end),
        points_after=int(idx.size - start),
        loss_metric=run.loss,
        score_metric=run.score,
        loss_start=float(loss_s[start]),
        loss_end=float(loss_s[-1]),
        loss_change=float(loss_s[-1] - loss_s[start]),
        loss_trend=_trend_test(loss_t),
        score_start=score_start,
        score_end=score_end,
        score_change=change,
        score_trend=_trend_test(score_t),
        n_val=n_val,
        noise=noise_check(change, score_start, score_end, n_val),
    )


def overfitting(run: Run, idx: np.ndarray, curves: Curves) -> Overfitting | None:
    """The first point from which the train/validation gap grows while training loss falls.

    Candidates are scanned from the start (every ``ceil(n / 60)``-th point on long runs);
    the onset is the first from which the gap rises and the training loss falls (both
    p < 0.05), the validation loss does not fall (no falling trend, and its smoothed value
    never gets lower afterwards by more than 2 % or one noise SD), and the smoothed gap
    grows by at least
    :data:`MIN_GAP_GROWTH` of the validation loss there, ending positive. A gap that grows
    while the validation loss still falls is ordinary training, not overfitting.
    """
    if run.train_loss is None:
        return None
    train_all = run.metrics[run.train_loss].values[idx]
    keep = np.isfinite(train_all)
    if keep.sum() < MIN_TREND_POINTS:
        return None
    points = idx[keep]
    val, train = run.metrics[run.loss].values[points], train_all[keep]
    x = curves.x[keep]
    gap = val - train
    size = window(points.size)
    gap_s, val_s, train_s = smooth(gap, size), smooth(val, size), smooth(train, size)
    stride = max(1, -(-points.size // 60))
    tolerance = max(MIN_LOSS_RISE * abs(val_s.min()), level_sd(val))

    def tests_at(onset: int) -> tuple[Trend, Trend, Trend] | None:
        """The three trend tests from ``onset``, when the onset holds there."""
        if gap_s[-1] - gap_s[onset] < MIN_GAP_GROWTH * abs(val_s[onset]):
            return None
        if gap_s[-1] <= 0 or val_s[onset] > val_s[onset:].min() + tolerance:
            return None  # validation still better than training, or still improving
        gap_t = trend(x[onset:], gap[onset:])
        if gap_t.direction != "rising":
            return None
        train_t = trend(x[onset:], train[onset:])
        val_t = trend(x[onset:], val[onset:])
        if train_t.direction != "falling" or val_t.direction == "falling":
            return None
        return gap_t, train_t, val_t

    for onset in range(0, points.size - MIN_TREND_POINTS + 1, stride):
        tests = tests_at(onset)
        if tests is None:
            continue
        # The first point that passes is where the validation loss stopped improving by
        # more than its noise allows, which under autocorrelated noise lies well before it
        # turns upwards: where it does turn (the knot of a hinge fitted from there, with a
        # rising trend after it) is the onset.
        knot = hinge_point(x[onset:], val[onset:])
        if knot:  # None (no turn) or 0 (the turn is here) leave the onset where it is
            moved = tests_at(onset + knot)
            if moved is not None and moved[2].direction == "rising":
                onset, tests = onset + knot, moved
        gap_t, train_t, val_t = tests
        point = int(points[onset])
        return Overfitting(
            onset_index=point,
            onset_epoch=run.label(point),
            onset_step=run.step_of(point),
            end_epoch=run.label(int(points[-1])),
            gap_start=float(gap_s[onset]),
            gap_end=float(gap_s[-1]),
            train_loss_start=float(train_s[onset]),
            train_loss_end=float(train_s[-1]),
            val_loss_start=float(val_s[onset]),
            val_loss_end=float(val_s[-1]),
            gap_trend=_trend_test(gap_t),
            train_loss_trend=_trend_test(train_t),
            val_loss_trend=_trend_test(val_t),
        )
    return None


def spikes(raw: np.ndarray) -> np.ndarray:
    """Interior points far off both neighbours in the same direction (one-point blow-ups).

    A point ``y_i`` is a spike when it lies outside ``[min, max]`` of its two neighbours
    and its distance ``d_i = y_i - (y_{i-1} + y_{i+1}) / 2`` exceeds both
    :data:`SPIKE_SDS` robust SDs (of ``d``, or of the curve's noise when larger) and
    :data:`SPIKE_SHARE` of the neighbours' mean. The largest spike is taken first and
    replaced by its neighbours' mean before looking again, so a spike's neighbours are
    not judged against it. End points are never spikes: a steep start is a trend.

    Examples
    --------
    >>> spikes(np.array([5.0, 1.44, 7.42, 1.29, 1.54, 1.62, 1.30, 1.25, 1.21])).tolist()
    [2]
    """
    if raw.size < MIN_TREND_POINTS:
        return np.array([], dtype=np.int64)
    values = raw.astype(np.float64, copy=True)
    d = values[1:-1] - (values[:-2] + values[2:]) / 2
    # Two robust scales: discrete accuracies make the MAD of d collapse to zero.
    robust = max(MAD_SCALE * float(np.median(np.abs(d - np.median(d)))), noise_sd(values))
    found: list[int] = []
    for _ in range(values.size // 4):
        left, mid, right = values[:-2], values[1:-1], values[2:]
        level = (left + right) / 2
        d = mid - level
        outside = (mid > np.maximum(left, right)) | (mid < np.minimum(left, right))
        far = outside & (np.abs(d) > SPIKE_SDS * robust) & (np.abs(d) > SPIKE_SHARE * np.abs(level))
        if not far.any():
            break
        worst = int(np.argmax(np.where(far, np.abs(d), -1.0)))
        found.append(worst + 1)
        values[worst + 1] = level[worst]
    return np.array(sorted(found), dtype=np.int64)


def noise(run: Run, idx: np.ndarray, curves: Curves) -> dict[str, NoiseLevel]:
    """Epoch-to-epoch noise and spikes of the analysed validation curves."""
    out = {}
    for key in (run.loss, run.score):
        if key is None or idx.size < MIN_TREND_POINTS:
            continue
        raw, smoothed = curves.metrics[key].raw, curves.metrics[key].smoothed
        finite = np.isfinite(raw)
        if finite.sum() < MIN_TREND_POINTS:
            continue
        sd = noise_sd(raw[finite])
        spread = float(np.ptp(smoothed[finite]))
        where = np.flatnonzero(finite)
        found = tuple(
            Spike(
                epoch=run.label(int(idx[where[j]])),
                step=run.step_of(int(idx[where[j]])),
                value=float(raw[where[j]]),
                neighbours=(float(raw[where[j - 1]]), float(raw[where[j + 1]])),
            )
            for j in spikes(raw[finite])
        )
        out[key] = NoiseLevel(
            noise_sd=sd,
            smoothed_range=spread,
            # a flat, noiseless curve has no noise to speak of; noise on a flat trend is all noise
            noise_ratio=sd / spread if spread > 0 else (float("inf") if sd > 0 else 0.0),
            spikes=found,
        )
    return out


def curves_of(run: Run, idx: np.ndarray) -> Curves:
    """Raw and smoothed analysed curves over the points ``idx`` (finite validation loss)."""
    size = window(idx.size)
    step = np.full(idx.size, np.nan) if run.step is None else run.step[idx]
    labels = run.epoch[idx] if run.axis == "epoch" else step
    metrics: dict[str, Curve] = {}
    for key in (run.loss, run.score, run.train_loss, run.train_score):
        # the JSON puts the curves beside x, epoch, step and window: those names stay theirs
        if key is None or key in metrics or key in ("x", "epoch", "step", "window"):
            continue
        raw = run.metrics[key].values[idx]
        smoothed = np.full(raw.size, np.nan)
        finite = np.isfinite(raw)
        if finite.any():
            # Gaps (a score missing at some points) are bridged before smoothing.
            filled = np.interp(np.arange(raw.size), np.flatnonzero(finite), raw[finite])
            smoothed = smooth(filled, size)
            smoothed[~finite] = np.nan
        metrics[key] = Curve(raw=raw, smoothed=smoothed)
    return Curves(
        x=_positions(run, idx), epoch=labels.copy(), step=step.copy(), window=size, metrics=metrics
    )


def analysed_points(run: Run) -> np.ndarray:
    """Points with a finite validation loss, and a finite score where the run has one."""
    ok = np.isfinite(run.metrics[run.loss].values)
    if run.score is not None:
        score_ok = np.isfinite(run.metrics[run.score].values)
        if (ok & score_ok).sum() >= max(1, ok.sum() // 2):
            ok &= score_ok
    return np.flatnonzero(ok)


#: Fewest epochs that must all be out of a calibrated model's reach.
MIN_COMPOSITION_POINTS = 3
#: The accuracy is rounded down to this step before the bound is evaluated.
ACCURACY_GRID = 1e-4


def loss_composition(run: Run, idx: np.ndarray, n_val: int | None) -> LossComposition | None:
    """The validation loss against what its accuracy allows a calibrated model, per epoch.

    A calibrated model with accuracy ``A`` over ``K`` classes has a log loss of at most
    ``h(A) + (1 - A) ln(K - 1)`` (Fano: :func:`lossgap.core.bounds.fano_loss`, the upper
    edge of the region ``interpret`` checks one pair against). An epoch is above it when its
    loss exceeds the bound at ``K`` = :data:`ASSUMED_CLASSES` and at the accuracy lowered
    by its 95% sampling noise when ``n_val`` is known, then rounded down to
    :data:`ACCURACY_GRID` (the bound falls with the accuracy, so both only raise it: the
    rounding by at most about 0.001 nats, and a million-epoch log needs at most 10,001
    evaluations of the bound). A loss above it at every epoch is not the plain log loss.
    """
    if run.score is None or run.metrics[run.score].name.metric != "accuracy":
        return None
    if run.metrics[run.loss].name.metric != "loss":
        return None
    loss = run.metrics[run.loss].values[idx]
    accuracy = run.metrics[run.score].values[idx]
    ok = np.isfinite(loss) & np.isfinite(accuracy) & (loss >= 0) & (accuracy >= 0)
    ok &= accuracy <= 1
    if ok.sum() < MIN_COMPOSITION_POINTS:
        return None
    points = idx[ok]
    loss, accuracy = loss[ok], accuracy[ok]
    half = Z95 * np.sqrt(accuracy * (1 - accuracy) / n_val) if n_val else 0.0
    lowest = np.floor(np.maximum(accuracy - half, 0.0) / ACCURACY_GRID) * ACCURACY_GRID
    classes = int(ASSUMED_CLASSES)
    lowest = np.maximum(lowest, 1.0 / classes)
    distinct, where = np.unique(lowest, return_inverse=True)
    ceiling = np.array([bounds.fano_loss(float(a), classes=classes) for a in distinct])
    bound = ceiling[where]
    return LossComposition(
        loss_metric=run.loss,
        score_metric=run.score,
        classes_assumed=classes,
        points=int(points.size),
        above=int(np.sum(loss > bound)),
        epoch=run.label(int(points[-1])),
        loss=float(loss[-1]),
        accuracy=float(accuracy[-1]),
        calibrated_max=float(bound[-1]),
        excess_min=float(np.min(loss - bound)),
    )




def collapse(run: Run, idx: np.ndarray) -> Collapse | None:
    """Validated points whose accuracy and macro-F1 are those of a one-class predictor.

    Predicting the majority class (share ``A``) for every sample of ``K`` classes gives
    accuracy ``A`` and macro-F1 ``2A / (1 + A) / K``. A point where ``2A / ((1 + A) F)``
    is a whole number ``K >= 2`` (within :data:`COLLAPSE_TOLERANCE`) is such a collapse:
    its accuracy is the base rate, not skill. A healthy model has ``F`` near ``A``, so the
    ratio is near 1 and never reaches 2.

    Examples
    --------
    The majority rule on five classes with a share of 0.902: macro-F1 0.1897.

    >>> round(2 * 0.902 / 1.902 / 5, 4)
    0.1897
    """
    if run.score is None or run.metrics[run.score].name.metric != "accuracy":
        return None
    f1_key = next(
        (
            key
            for key, m in run.metrics.items()
            if m.name.split == run.metrics[run.score].name.split
            and "f1" in m.name.metric
            and "macro" in m.name.metric
        ),
        None,
    )
    if f1_key is None:
        return None
    accuracy = run.metrics[run.score].values[idx]
    f1 = run.metrics[f1_key].values[idx]
    ok = np.isfinite(accuracy) & np.isfinite(f1) & (f1 > 0) & (accuracy > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(ok, 2 * accuracy / ((1 + accuracy) * np.where(ok, f1, 1.0)), 0.0)
    whole = np.rint(ratio)
    hit = ok & (whole >= 2) & (np.abs(ratio - whole) <= COLLAPSE_TOLERANCE * whole)
    if not hit.any():
        return None
    where = np.flatnonzero(hit)
    return Collapse(
        f1_metric=f1_key,
        score_metric=run.score,
        epochs=tuple(run.label(int(idx[j])) for j in where),
        indices=tuple(int(idx[j]) for j in where),
        accuracy=tuple(float(accuracy[j]) for j in where),
        f1=tuple(float(f1[j]) for j in where),
        classes=tuple(int(whole[j]) for j in where),
    )

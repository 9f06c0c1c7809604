"""Finding rules of the history analysis: each reads a RunAnalysis and may return findings.

Rules compute nothing new: they compare the facts of
:class:`~lossgap.results.history.RunAnalysis` (best points, divergence, overfitting,
noise, reading events) against the thresholds documented in ``docs/findings.md``
(section *history*) and put the numbers into sentences. Advice follows the user's goal:
``"probabilities"`` (keep the loss-best epoch), ``"decisions"`` (keep the accuracy-best),
or both when no goal is given.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from lossgap.core.trend import MIN_TREND_POINTS
from lossgap.core.uncertainty import Z95
from lossgap.results.evaluation import Finding
from lossgap.results.history import INFERRED_N, EpochSummary, NoiseCheck, RunAnalysis
from lossgap.rules import book
from lossgap.rules.book import (
    APPENDED_RUNS,
    BEST_EPOCHS_DISAGREE,
    CALIBRATION_DRIFT,
    DAMAGED_LOG,
    LOSS_ACCURACY_DIVERGENCE,
    LOSS_HAS_EXTRA_TERMS,
    MAJORITY_COLLAPSE,
    METRIC_OUT_OF_RANGE,
    METRIC_SPIKE,
    MIN_DRIFT,
    NAN_LOSS,
    NOISY_METRIC,
    NOISY_RATIO,
    OVERFITTING_ONSET,
    STEADY_SHARE,
    TOO_SHORT,
    UNIFORM_FLATNESS,
    UNIFORM_PREDICTIONS,
    UNIFORM_TOLERANCE,
)

#: The goals advice can be fitted to.
GOALS = ("probabilities", "decisions")

Rule = Callable[[RunAnalysis, "str | None"], list[Finding]]


def at(analysis: RunAnalysis, label: Any) -> str:
    """``"epoch 18"`` or ``"step 6875"``, as the run numbers its points."""
    return f"{analysis.run.axis} {label}"


def _fmt(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "undefined"
    return f"{value:.4g}"


def _noise_clause(analysis: RunAnalysis, check: NoiseCheck, what: str) -> str:
    """The sampling-noise verdict of an accuracy change, or why there is none."""
    n, se, verdict = analysis.n_val, check.change_se, check.noise_verdict
    if verdict is None:
        return ""
    test = check.paired
    if test is not None:
        return (
            f"; on the saved predictions of {at(analysis, test.epoch_from)} and "
            f"{at(analysis, test.epoch_to)} ({test.n} samples) {what} is {verdict} sampling "
            f"noise: {test.to_only_correct} samples are right only at {test.epoch_to} and "
            f"{test.from_only_correct} only at {test.epoch_from} (McNemar's exact test, p = "
            f"{test.p_value:.2g}, as lossgap compare on those two epochs)"
        )
    if verdict == "n unknown" or se is None:
        return (
            f"; whether {what} is beyond sampling noise is unknown: the validation-set size is "
            "not in the log (pass --n-val)"
        )
    source = ""
    if analysis.n_val_source == INFERRED_N:
        source = ", a size inferred from the accuracy values (pass --n-val if it is wrong)"
    if verdict == "undetermined":
        return (
            f"; with {n} validation samples{source} {what} is neither clearly beyond sampling "
            f"noise (±{Z95 * se:.2g} if the epochs' errors were unrelated) nor within it: it "
            "depends on how many samples changed, which the per-epoch predictions show "
            "(--predictions, or lossgap compare on the two epochs)"
        )
    bound = (check.z_beyond or Z95) * se
    searched = check.searched or 1
    best_of = f", the best of {searched} points" if searched > 1 else ""
    return (
        f"; {what} is {verdict} sampling noise for {n} validation samples{source} "
        f"(±{bound:.2g}{best_of})"
    )


def goal_advice(analysis: RunAnalysis, goal: str | None) -> str:
    """Which epoch to keep, fitted to the goal, with the expected effect where known."""
    advice = analysis.advice
    prob, dec, recal = advice.probabilities, advice.decisions, advice.recalibrate
    if prob is None:
        return ""
    curve = " on the smoothed curves" if advice.basis == "smoothed" else ""
    keep_prob = at(analysis, prob.epoch)
    if dec is None or dec.epoch == prob.epoch:
        return f"Keep {keep_prob}: it is best for both the loss and the score{curve}."
    keep_dec = at(analysis, dec.epoch)
    expected = ""
    if recal is not None and recal.expected_log_loss is not None:
        expected = (
            f" (on your saved predictions, cross-fitted: log loss {_fmt(recal.log_loss)} "
            f"to {_fmt(recal.expected_log_loss)})"
        )
    rescale = (
        f"keep {keep_dec} and temperature-scale it on held-out data{expected}: that lowers "
        "the loss without changing a single decision"
    )
    caveat = ""
    if dec.within_noise:
        caveat = f" (its gain over {keep_prob} is within sampling noise, so either will do)"
    if goal == "probabilities":
        return (
            f"For probabilities (risk scores, ranking, anything thresholded later) keep "
            f"{keep_prob}, the lowest {prob.metric}{curve}; or {rescale}."
        )
    if goal == "decisions":
        return (
            f"For decisions keep {keep_dec}, the highest {dec.metric}{curve}{caveat}; "
            f"{rescale} before using its probabilities."
        )
    return (
        f"Keep {keep_prob} for probabilities and {keep_dec} for decisions{curve}{caveat}, "
        f"or {rescale}."
    )


def divergence(analysis: RunAnalysis, goal: str | None) -> list[Finding]:
    """``loss_accuracy_divergence``: the smoothed curves part ways beyond noise."""
    div = analysis.divergence
    if div is None:
        return []
    loss, score = div.loss_metric, div.score_metric
    start = at(analysis, div.start_epoch)
    p_loss, p_score = div.loss_trend.p_value, div.score_trend.p_value
    if div.direction == "loss_rises":
        verbs = {"rising": "kept rising", "flat": "held", "falling": "fell"}
        verb = verbs[div.score_trend.trend]
        if analysis.run.metrics[score].name.direction == "min":
            verb = {"rising": "worsened", "flat": "held", "falling": "kept improving"}[
                div.score_trend.trend
            ]
        message = (
            f"From {start} on, {loss} rose from {_fmt(div.loss_start)} to "
            f"{_fmt(div.loss_end)} (smoothed; rising trend p = {p_loss:.2g}) while {score} "
            f"{verb}, from {_fmt(div.score_start)} to {_fmt(div.score_end)} "
            f"(trend p = {p_score:.2g}){_noise_clause(analysis, div.noise, 'that change')}: "
            "the model grows more confident, which costs more on the samples it still gets "
            "wrong than it gains on those it gets right, so the loss and the accuracy part ways."
        )
    else:
        message = (
            f"From {start} on, {score} fell from {_fmt(div.score_start)} to "
            f"{_fmt(div.score_end)} (smoothed; falling trend p = {p_score:.2g}) while {loss} "
            f"did not rise ({_fmt(div.loss_start)} to {_fmt(div.loss_end)}, trend p = "
            f"{p_loss:.2g}){_noise_clause(analysis, div.noise, 'that change')}: "
            "the probabilities improve on average while more samples end on the wrong side of "
            "the threshold."
        )
    evidence = {k: v for k, v in div.to_dict().items() if k not in ("loss_trend", "score_trend")}
    evidence.update(
        loss_tau=div.loss_trend.tau,
        loss_p=p_loss,
        score_tau=div.score_trend.tau,
        score_p=p_score,
        score_trend=div.score_trend.trend,
    )
    advice = goal_advice(analysis, goal)
    return [LOSS_ACCURACY_DIVERGENCE.finding("medium", message, evidence, advice)]


def overfitting_onset(analysis: RunAnalysis, goal: str | None) -> list[Finding]:
    """``overfitting_onset``: the train/validation gap grows while training loss falls."""
    fit = analysis.overfitting
    if fit is None:
        return []
    run = analysis.run
    rising = fit.val_loss_trend.trend == "rising"
    val_words = "rose" if rising else "stopped improving,"
    message = (
        f"From {at(analysis, fit.onset_epoch)} on, the gap between {run.loss} and the "
        f"training loss grew from {_fmt(fit.gap_start)} to {_fmt(fit.gap_end)}: training "
        f"loss fell from {_fmt(fit.train_loss_start)} to {_fmt(fit.train_loss_end)} "
        f"while {run.loss} {val_words} from {_fmt(fit.val_loss_start)} to "
        f"{_fmt(fit.val_loss_end)} (smoothed). The model fits its training set beyond "
        "what carries over to new data."
    )
    evidence = {k: v for k, v in fit.to_dict().items() if not k.endswith("_trend")}
    evidence.update(
        gap_p=fit.gap_trend.p_value,
        train_loss_p=fit.train_loss_trend.p_value,
        val_loss_trend=fit.val_loss_trend.trend,
    )
    keep = analysis.advice.probabilities  # one epoch per goal, in every section
    stop = at(analysis, keep.epoch if keep else fit.onset_epoch)
    advice = (
        f"Stop at {stop}, where {run.loss} is lowest (early stopping on {run.loss} does it), "
        "or regularise: weight decay, dropout, data augmentation, or more training data."
    )
    return [OVERFITTING_ONSET.finding("medium" if rising else "low", message, evidence, advice)]


def best_epochs_disagree(analysis: RunAnalysis, goal: str | None) -> list[Finding]:
    """``best_epochs_disagree``: the loss-best and score-best logged points differ."""
    facts = analysis.disagreement
    if facts is None:
        return []
    loss, score = facts.loss_metric, facts.score_metric
    lb, sb = at(analysis, facts.loss_best_epoch), at(analysis, facts.score_best_epoch)
    message = (
        f"{loss} is best at {lb} ({_fmt(facts.loss_best)}) but {score} at {sb} "
        f"({_fmt(facts.score_best)}): at {lb} {score} was {_fmt(facts.score_at_loss_best)}, "
        f"at {sb} {loss} was {_fmt(facts.loss_at_score_best)}"
        f"{_noise_clause(analysis, facts.noise, 'the score gain')}."
    )
    evidence = {**facts.to_dict(), "n_val_source": analysis.n_val_source}
    inferred = analysis.n_val_source == INFERRED_N
    severity = "medium" if facts.noise.within_noise is False and not inferred else "low"
    advice = goal_advice(analysis, goal)
    return [BEST_EPOCHS_DISAGREE.finding(severity, message, evidence, advice)]


def noisy_metric(analysis: RunAnalysis, goal: str | None) -> list[Finding]:
    """``noisy_metric`` and ``metric_spike``: noise large against the trend; one-off jumps."""
    found = []
    for key, facts in analysis.noise.items():
        name = analysis.run.metrics[key].name
        if facts.noise_ratio >= NOISY_RATIO:
            sampling = None
            clause = ""
            values = analysis.run.values(key)
            if name.metric == "accuracy" and analysis.n_val and values is not None:
                mean = float(np.nanmean(values))
                sampling = math.sqrt(mean * (1 - mean) / analysis.n_val)
                clause = f"; {analysis.n_val} validation samples alone give ±{sampling:.2g}"
            share = (
                f"{facts.noise_ratio:.0%} of its whole smoothed range "
                f"({facts.smoothed_range:.2g})"
                if math.isfinite(facts.noise_ratio)
                else "while its smoothed curve stays flat"
            )
            message = (
                f"{key} moves by about ±{facts.noise_sd:.2g} from one point to the next, "
                f"{share}{clause}: single-epoch bests are partly luck."
            )
            evidence = {
                "metric": key,
                "name": name.original,
                "noise_sd": facts.noise_sd,
                "smoothed_range": facts.smoothed_range,
                "noise_ratio": facts.noise_ratio,
                "sampling_sd": sampling,
                "n_val": analysis.n_val,
            }
            advice = (
                "Choose the epoch on the smoothed curve, not the single best value; a larger "
                "validation set or averaging several evaluations makes the curve steadier."
            )
            found.append(NOISY_METRIC.finding("low", message, evidence, advice))
        if facts.spikes:
            first = facts.spikes[0]
            message = (
                f"{key} jumps to {_fmt(first.value)} at {at(analysis, first.epoch)} between "
                f"{_fmt(first.neighbours[0])} and {_fmt(first.neighbours[1])} "
                f"({len(facts.spikes)} such point(s)): a one-off blow-up; the analysis reads "
                "the smoothed curve, which ignores it."
            )
            advice = (
                "One-epoch blow-ups come from an unstable batch or a learning rate near the edge "
                "of stability; lower it or clip gradients if they recur."
            )
            evidence = {
                "metric": key,
                "name": name.original,
                "spikes": [s.to_dict() for s in facts.spikes],
            }
            found.append(METRIC_SPIKE.finding("low", message, evidence, advice))
    return found


def nan_loss(analysis: RunAnalysis, goal: str | None) -> list[Finding]:
    """``nan_loss``: a loss logged as NaN or infinite (the run diverged)."""
    run = analysis.run
    found = []
    for key in dict.fromkeys(k for k in (run.loss, run.train_loss) if k is not None):
        metric = run.metrics[key]
        bad = np.flatnonzero(metric.nonfinite)
        if bad.size == 0:
            continue
        finite = np.flatnonzero(np.isfinite(metric.values))
        first = int(bad[0])
        before = finite[finite < first]
        every = finite.size == 0
        tail = (
            "; nothing is left to analyse"
            if every
            else f"; the analysis uses the {finite.size} point(s) with a finite value"
        )
        message = (
            f"{key} is NaN or infinite at {bad.size} of {run.n_points} points, first at "
            f"{at(analysis, run.label(first))}{tail}: the training diverged."
        )
        evidence = {
            "metric": key,
            "name": metric.name.original,
            "count": int(bad.size),
            "points": run.n_points,
            "first_epoch": run.label(first),
            "first_step": run.step_of(first),
            "last_finite_epoch": run.label(int(before[-1])) if before.size else None,
            "all_nonfinite": bool(every),
        }
        advice = (
            "Lower the learning rate, clip gradients (Keras clipnorm, Lightning "
            "gradient_clip_val), check inputs and labels for NaN or inf, and keep loss scaling "
            "on with mixed precision."
        )
        found.append(NAN_LOSS.finding("high", message, evidence, advice))
    return found


def uniform_predictions(analysis: RunAnalysis, goal: str | None) -> list[Finding]:
    """``uniform_predictions``: the loss sits at ln k, that of a uniform guess over k classes."""
    run = analysis.run
    values = run.metrics[run.loss].values
    values = values[np.isfinite(values)]
    if values.size < 3 or run.metrics[run.loss].name.metric != "loss":
        return []
    median = float(np.median(values))
    k = int(round(math.exp(median))) if median < 20 else 0
    if k < 2:
        return []
    ln_k = math.log(k)
    if abs(median - ln_k) > UNIFORM_TOLERANCE * ln_k or np.ptp(values) > UNIFORM_FLATNESS * median:
        return []
    score = run.values(run.score)
    score_range = ""
    evidence: dict[str, Any] = {
        "metric": run.loss,
        "median": median,
        "min": float(values.min()),
        "max": float(values.max()),
        "classes_implied": k,
        "ln_k": ln_k,
        "chance_accuracy": 1 / k,
        "points": int(values.size),
    }
    if score is not None and np.isfinite(score).any():
        lo, hi = float(np.nanmin(score)), float(np.nanmax(score))
        evidence.update(score_min=lo, score_max=hi)
        score_range = (
            f", and {run.score} between {lo:.3g} and {hi:.3g} is chance level ({1 / k:.3g})"
        )
    message = (
        f"{run.loss} stays at {median:.4f}, ln {k} = {ln_k:.4f}, at all {values.size} evaluations: "
        f"the model gives each of {k} classes probability 1/{k} and has learned nothing"
        f"{score_range}."
    )
    advice = (
        "Check that inputs and labels reach the model (misaligned labels, a frozen or detached "
        "head), try a smaller learning rate, and first make the model overfit one small batch."
    )
    return [UNIFORM_PREDICTIONS.finding("high", message, evidence, advice)]


def too_short(analysis: RunAnalysis, goal: str | None) -> list[Finding]:
    """``too_short``: too few validated points for a trend test."""
    run = analysis.run
    points = analysis.curves.x.size
    if points >= MIN_TREND_POINTS or points == 0:
        return []
    interpret = None
    if points == 1:
        i = int(np.flatnonzero(np.isfinite(run.metrics[run.loss].values))[0])
        parts = []
        for key, word in (
            (run.train_loss, "loss"),
            (run.train_score, "acc"),
            (run.loss, "val_loss"),
            (run.score, "val_acc"),
        ):
            value = run.values(key)
            if key is None or value is None or not np.isfinite(value[i]):
                continue
            if key != run.score or run.metrics[key].name.metric == "accuracy":
                parts.append(f"{word}: {value[i]:.4f}")
        interpret = f'lossgap interpret "{" - ".join(parts)}"'
    message = (
        f"Only {points} validated point(s): too few to tell a trend from noise (the trend "
        f"tests need {MIN_TREND_POINTS}); the best epochs are those logged."
    )
    advice = "Train and validate for more epochs before reading trends from the curves."
    if interpret:
        advice += f" To read what one epoch's numbers mean, run: {interpret}"
    evidence = {"points": points, "min_points": MIN_TREND_POINTS, "interpret": interpret}
    return [TOO_SHORT.finding("info", message, evidence, advice)]


def metric_out_of_range(analysis: RunAnalysis, goal: str | None) -> list[Finding]:
    """``metric_out_of_range``: a score outside [0, 1] or a cross-entropy below 0."""
    found = []
    for key, metric in analysis.run.metrics.items():
        values = metric.values[np.isfinite(metric.values)]
        if values.size == 0:
            continue
        if metric.name.unit_interval:
            outside, expected = (values < 0) | (values > 1), "[0, 1]"
        elif metric.name.metric == "loss":
            outside, expected = values < 0, ">= 0"
        else:
            continue
        if not outside.any():
            continue
        lo, hi = float(values.min()), float(values.max())
        message = (
            f"{metric.name.original} ranges from {lo:.4g} to {hi:.4g}, outside {expected} where "
            f"a correct {metric.name.metric} lies ({int(outside.sum())} point(s)): the metric is "
            "computed wrongly, often a per-batch average of a non-linear score."
        )
        evidence = {
            "metric": key,
            "name": metric.name.original,
            "min": lo,
            "max": hi,
            "outside": int(outside.sum()),
            "expected": expected,
        }
        advice = (
            "Do not choose epochs by it; compute it once over the whole validation set "
            "(torchmetrics, scikit-learn) instead of averaging it over batches."
        )
        found.append(METRIC_OUT_OF_RANGE.finding("low", message, evidence, advice))
    return found


def reading_events(analysis: RunAnalysis, goal: str | None) -> list[Finding]:
    """``appended_runs`` and ``damaged_log``: what the reader met in the file."""
    found = []
    for event in analysis.run.events:
        evidence = {k: v for k, v in event.items() if k != "code"}
        if event["code"] == "appended_runs":
            message = (
                f"{event['path']} holds {event['runs']} runs appended one after another (the "
                f"epoch restarts at rows {', '.join(map(str, event['restart_rows']))}): each is "
                "analysed as its own run."
            )
            advice = "Log each run to its own file (CSVLogger(append=False), a new file name)."
            found.append(APPENDED_RUNS.finding("info", message, evidence, advice))
        elif event["code"] == "damaged_log":
            cut = (
                " (the file was probably cut off while training ran)" if event["last_line"] else ""
            )
            message = (
                f"line(s) {', '.join(map(str, event['lines']))} of {event['path']} have "
                f"{', '.join(map(str, event['found_fields']))} field(s) where the header has "
                f"{event['expected_fields']}: skipped{cut}."
            )
            advice = (
                "Re-export the log if you need those epochs; the analysis uses the complete rows."
            )
            found.append(DAMAGED_LOG.finding("low", message, evidence, advice))
    return found


def loss_has_extra_terms(analysis: RunAnalysis, goal: str | None) -> list[Finding]:
    """``loss_has_extra_terms``: the logged loss is above what its accuracy allows a
    calibrated model at every epoch, so it is not the plain log loss of the predictions."""
    facts = analysis.loss_composition
    if facts is None or facts.above < facts.points:
        return []
    run = analysis.run
    message = (
        f"{facts.loss_metric} is {_fmt(facts.loss)} at {at(analysis, facts.epoch)} with "
        f"{facts.score_metric} {_fmt(facts.accuracy)}, far above {_fmt(facts.calibrated_max)}, "
        f"the most any calibrated model with that accuracy can have even with "
        f"{facts.classes_assumed:,} classes (Fano's bound), and it stays at least "
        f"{_fmt(facts.excess_min)} nats above that bound at all {facts.points} epochs: the "
        "logged loss is not the plain log loss of the predictions. Label smoothing, class "
        "weights or a regularisation term (weight decay, an auxiliary loss) inside it raise "
        f"it; its level says nothing about calibration, and {run.loss}-based choices of "
        "epoch compare that mixture."
    )
    advice = (
        f"Log the plain cross-entropy on validation beside {facts.loss_metric} (for example "
        "torchmetrics or a Keras metric without smoothing or weights), or save the "
        "validation predictions (--predictions) so lossgap computes it; then judge calibration "
        "and choose epochs on that."
    )
    return [LOSS_HAS_EXTRA_TERMS.finding("medium", message, facts.to_dict(), advice)]


def majority_collapse(analysis: RunAnalysis, goal: str | None) -> list[Finding]:
    """``majority_collapse``: epochs whose accuracy and macro-F1 are a one-class predictor's."""
    facts = analysis.collapse
    if facts is None:
        return []
    first = 0
    points = ", ".join(str(e) for e in facts.epochs)
    share = facts.accuracy[first]
    message = (
        f"At {at(analysis, facts.epochs[first])} {facts.score_metric} is {_fmt(share)} but "
        f"{facts.f1_metric} only {_fmt(facts.f1[first])}: exactly what predicting one class "
        f"for every sample gives with {facts.classes[first]} classes (2A / (1 + A) / K = "
        f"{_fmt(2 * share / (1 + share) / facts.classes[first])}). That accuracy is the "
        f"majority class's share, not skill; the best epochs and the advice leave out "
        f"{analysis.run.axis}(s) {points}."
    )
    advice = (
        f"Compare accuracy with the majority share ({_fmt(share)}): below it the model does "
        f"worse than always answering the majority class. Choose epochs by "
        f"{facts.f1_metric} (or balanced accuracy), and counter the imbalance with class "
        "weights or resampling."
    )
    return [MAJORITY_COLLAPSE.finding("medium", message, facts.to_dict(), advice)]


def calibration_drift(per_epoch: list[EpochSummary]) -> Finding | None:
    """``calibration_drift``: the saved predictions' loss rose because miscalibration grew."""
    rows = [r for r in per_epoch if r.decomposition is not None and math.isfinite(r.log_loss)]
    if len(rows) < 2:
        return None
    best = min(rows, key=lambda r: r.log_loss)
    last = rows[-1]
    if last is best or last.log_loss < best.log_loss * (1 + MIN_DRIFT):
        return None
    a, b = best.decomposition, last.decomposition
    assert a is not None and b is not None  # kept above
    d_from, d_to = a.discrimination, b.discrimination
    if abs(d_to - d_from) <= STEADY_SHARE * abs(d_from):
        disc = f"discrimination stayed at about {d_to:.4g} ({d_from:.4g} to {d_to:.4g})"
    else:
        verb = "grew" if d_to > d_from else "fell"
        disc = f"discrimination {verb} from {d_from:.4g} to {d_to:.4g}"
    ce_a, ce_b = best.confident_errors, last.confident_errors
    confident = ""
    if ce_a is not None and ce_b is not None:
        confident = (
            f" Confident errors went from {ce_a.count:g} to {ce_b.count:g}, carrying "
            f"{ce_b.loss_share:.0%} of the last epoch's loss."
        )
    message = (
        f"On the saved predictions the log loss rose from {best.log_loss:.4g} (epoch "
        f"{best.epoch}) to {last.log_loss:.4g} (epoch {last.epoch}) while accuracy went "
        f"from {best.accuracy:.4g} to {last.accuracy:.4g}: miscalibration grew from "
        f"{a.miscalibration:.4g} to {b.miscalibration:.4g} while {disc}.{confident}"
    )
    evidence = {
        "from_epoch": best.epoch,
        "to_epoch": last.epoch,
        "log_loss_from": best.log_loss,
        "log_loss_to": last.log_loss,
        "accuracy_from": best.accuracy,
        "accuracy_to": last.accuracy,
        "miscalibration_from": a.miscalibration,
        "miscalibration_to": b.miscalibration,
        "discrimination_from": d_from,
        "discrimination_to": d_to,
        "uncertainty": b.uncertainty,
        "decomposition_target": b.target,
        "confident_errors_from": None if ce_a is None else ce_a.count,
        "confident_errors_to": None if ce_b is None else ce_b.count,
        "confident_loss_share_to": None if ce_b is None else ce_b.loss_share,
    }
    scaled = None if last.temperature_scaled is None else last.temperature_scaled.log_loss_after
    expected = ""
    if scaled is not None:
        evidence["temperature_scaled_log_loss_to"] = scaled
        expected = f" (cross-fitted on these predictions: {last.log_loss:.4g} to {scaled:.4g})"
    advice = (
        f"The rise is calibration, not ranking: temperature-scale epoch {last.epoch} on "
        f"held-out data{expected} to keep its decisions with a lower loss, or keep epoch "
        f"{best.epoch} for its probabilities."
    )
    severity = "medium" if b.miscalibration > a.miscalibration else "low"
    return CALIBRATION_DRIFT.finding(severity, message, evidence, advice)


#: The rules, in no particular order; findings are ranked by severity.
RULES: list[Rule] = [
    nan_loss,
    uniform_predictions,
    loss_has_extra_terms,
    majority_collapse,
    divergence,
    overfitting_onset,
    best_epochs_disagree,
    noisy_metric,
    metric_out_of_range,
    too_short,
    reading_events,
]


def find(analysis: RunAnalysis, goal: str | None = None) -> list[Finding]:
    """Run every rule on one run; findings ranked by severity (stable within one)."""
    return book.rank(f for rule in RULES for f in rule(analysis, goal))

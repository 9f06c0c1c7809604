"""Finding rules: each reads an Evaluation and may return a Finding.

Rules never compute metrics: they compare numbers already in the
:class:`~lossgap.results.evaluation.Evaluation` (metrics, intervals, decomposition,
recalibration, diagnostics) against the thresholds documented in ``docs/findings.md``.
:func:`find` runs them all and ranks the result by severity; when nothing of ``high`` or
``medium`` severity is found, it says ``consistent``.

The rule book (:mod:`lossgap.rules.book` holds every code and threshold named here):
a ``medium`` or ``high`` finding needs two things. A test against what a
calibrated model with these probabilities would produce, at level ``ALPHA`` (the
diagnostics hold the closed forms and the consistency resampling), and an effect above a
practical floor: ``FLOOR_NATS`` of held-out log loss per sample (a recalibration map
fitted on other folds), or ``FLOOR_ACCURACY`` for accuracy. Severity follows the size of
the effect (``HIGH_NATS``). What is true but no defect of the model (wide intervals, an
accuracy that cannot beat the majority) is ``low``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from scipy.special import ndtri

from lossgap.results.diagnostics import MAX_JSON_CANDIDATES
from lossgap.results.evaluation import Evaluation, Finding, flat_asdict
from lossgap.rules import book
from lossgap.rules.book import (
    ACCURACY_NEAR_MAJORITY,
    ALPHA,
    CONCENTRATION_RATIO,
    CONCENTRATION_SHARE,
    CONFIDENT_ERRORS,
    CONFIDENT_LOSS_SHARE,
    FLOOR_ACCURACY,
    FLOOR_NATS,
    FRAGILE_SWING,
    HIGH_NATS,
    INFINITE_LOSS,
    LABEL_ERRORS_P,
    LOSS_ABOVE_BASELINE,
    LOSS_CONCENTRATION,
    MISCALIBRATED_INTERCEPT,
    OVERCONFIDENT,
    POSSIBLE_LABEL_ERRORS,
    RECALIBRATION_GAIN,
    THRESHOLD_FRAGILE,
    UNDERCONFIDENT,
    WIDE_INTERVALS,
)
from lossgap.rules.decision import RULES as DECISION_RULES

Rule = Callable[[Evaluation], Finding | None]


def _z(one_sided_level: float) -> float:
    """The normal quantile with ``one_sided_level`` above it (``ndtri``: no scipy.stats import)."""
    return float(-ndtri(one_sided_level))


def held_out_gain(ev: Evaluation, method: str | None = None) -> dict[str, Any] | None:
    """A map's held-out gain (default the best map): ``above_floor`` (at least
    ``FLOOR_NATS``) and ``real`` (also above zero at level ``ALPHA``, one-sided).

    A calibration finding already has its test against calibration (the slope, the
    confident-error count, the intercept score test) and needs the gain ``above_floor``;
    ``recalibration_gain``, which has no other test, needs it ``real``. A gain carried by a
    few confident errors is large with a large standard error, so testing it twice would
    miss the clearest overconfidence."""
    scored = ev.recalibration_map(method)
    if scored is None or ev.recalibration is None:
        return None
    gain, se = scored.log_loss_gain, scored.log_loss_gain_se
    return {
        "method": method or ev.recalibration.best,
        "gain": gain,
        "gain_se": se,
        "above_floor": bool(gain >= FLOOR_NATS),
        "real": bool(gain >= FLOOR_NATS and gain > _z(ALPHA) * se),
    }


def infinite_loss(ev: Evaluation) -> Finding | None:
    """Some true class got probability exactly 0: the mean log loss is infinite."""
    count = ev.diagnostics.infinite_count
    if not count:
        return None
    clipped = ev.metric("log_loss_clipped")
    return INFINITE_LOSS.finding(
        book.infinite_loss_severity(decides=True),
        f"{count} sample(s) give their true class a probability of exactly 0, so the log "
        f"loss is infinite; with each loss capped at 34.54 nats it would be {clipped:.4f}.",
        {"count": count, "log_loss_clipped": clipped, "clip": 1e-15},
        "Never output hard 0/1 probabilities: keep the logits or clip the outputs "
        "(e.g. to [1e-7, 1 - 1e-7]) and recalibrate.",
    )


def loss_above_baseline(ev: Evaluation) -> Finding | None:
    """Log loss worse than predicting the base rates beyond noise, while accuracy beats the
    majority: a paired interval of the per-sample loss difference."""
    loss, baseline = ev.metric("log_loss"), ev.metric("baseline_log_loss")
    acc, majority = ev.metric("accuracy"), ev.diagnostics.majority_accuracy
    paired = ev.diagnostics.loss_against_baseline
    if math.isinf(loss) or not acc > majority:
        return None
    difference = paired.difference
    # the test is against a calibrated model with these probabilities: a calibrated model's
    # expected loss never exceeds the no-skill loss, so only a loss it would not produce counts
    severity = book.loss_above_baseline_severity(difference, paired.calibrated_p_value)
    if severity is None:
        return None
    return LOSS_ABOVE_BASELINE.finding(
        severity,
        f"Log loss {loss:.4f} is above {baseline:.4f}, the loss of always predicting the "
        f"base rates, by {difference:.4f} nats per sample ({ev.confidence:.0%} paired "
        f"interval [{paired.ci_low:.4f}, {paired.ci_high:.4f}]), although accuracy "
        f"{acc:.4f} beats the majority class ({majority:.4f}); a calibrated model with these "
        f"probabilities would score about {paired.calibrated_loss:.4f} "
        f"(p = {paired.calibrated_p_value:.2g}): the ranking is useful but the "
        "probabilities are worse than no model.",
        {
            "log_loss": loss,
            "baseline_log_loss": baseline,
            "difference": difference,
            "ci_low": paired.ci_low,
            "ci_high": paired.ci_high,
            "calibrated_loss": paired.calibrated_loss,
            "calibrated_p_value": paired.calibrated_p_value,
            "normalized_entropy": ev.metric("normalized_entropy"),
            "accuracy": acc,
            "majority_accuracy": majority,
        },
        "Recalibrate (temperature scaling keeps every decision) before using the "
        "probabilities, and look at the confident errors.",
    )


def _pct(x: float) -> str:
    """A share in words: two decimals below 1% so small shares do not read as zero."""
    return f"{x:.2%}" if 0 < x < 0.01 else f"{x:.1%}"


def _loss(x: float) -> str:
    return "infinite" if math.isinf(x) else f"{x:.4f}"


def _ids_text(ids: list, total: int | None = None) -> str:
    """The first five ids, and how many more of ``total`` (default: of ``ids``)."""
    if not ids:
        return ""
    total = len(ids) if total is None else total
    shown = ", ".join(map(str, ids[:5]))
    more = f" and {total - 5} more" if total > 5 else ""
    return f" (ids {shown}{more})"


def _confident_clause(ev: Evaluation, level: float) -> str:
    """What a confident error is, in the words that are true for the task."""
    if ev.task == "binary":
        return f"were wrong with at least {level:.0%} confidence"
    return f"gave their true class at most {1 - level:.0%} probability"


def _gain_clause(gain: dict[str, Any] | None) -> str:
    if gain is None:
        return (
            "no recalibration map was judged on held-out folds, so whether fixing it is "
            "worth the effort is unknown"
        )
    return (
        f"{gain['method']} recalibration gains {gain['gain']:.4f} nats per sample on held-out "
        f"folds (standard error {gain['gain_se']:.4f}; the floor is {FLOOR_NATS:g})"
    )


def confident_errors(ev: Evaluation) -> Finding | None:
    """More confident errors than calibration allows, and a held-out recalibration gain."""
    facts = ev.diagnostics.confident_errors
    count, loss_share = facts.count, facts.loss_share
    if count <= 0:
        return None
    gain = held_out_gain(ev)
    surprising = facts.p_value < ALPHA
    fixable = surprising and gain is not None and gain["above_floor"]
    if fixable and gain is not None:
        severity = book.calibration_severity(gain["gain"]) or "low"
    elif surprising or loss_share >= CONFIDENT_LOSS_SHARE:
        severity = "low"
    else:
        return None
    level = facts.level
    message = (
        f"{count:g} samples ({_pct(facts.share)}) {_confident_clause(ev, level)} and carry "
        f"{_pct(loss_share)} of the log loss{_ids_text(facts.ids)}; a calibrated model "
        f"would make about {facts.expected_if_calibrated:.1f} such errors"
    )
    if fixable:
        message += f" (p = {facts.p_value:.2g}), and {_gain_clause(gain)}."
    elif surprising:
        message += (
            f" (p = {facts.p_value:.2g}), but {_gain_clause(gain)}: too little to act on."
        )
    else:
        message += ", so this is within chance."
    evidence = flat_asdict(facts)
    evidence["recalibration_gain"] = gain
    return CONFIDENT_ERRORS.finding(
        severity,
        message,
        evidence,
        "Look at these samples first: fix wrong labels, and if the labels are right, the "
        "model is overconfident on them: temperature-scale it (accuracy unchanged) or "
        "regularise (label smoothing, weight decay, early stopping on the loss)."
        if fixable
        else "Nothing to fix: this many confident errors cost too little to act on.",
    )


def _capped(count: int) -> str:
    """Where the JSON lists fewer candidates than there are, say so and where they all go."""
    if count <= MAX_JSON_CANDIDATES:
        return ""
    return f", the first {MAX_JSON_CANDIDATES:,}; --label-errors FILE writes them all"


def possible_label_errors(ev: Evaluation) -> Finding | None:
    """Labels a calibrated model would almost never draw, beyond chance and above the floor.

    The test counts labels whose chance under the model's own probabilities is at most
    ``level`` (1%) against the count a calibrated model would produce; the floor is the
    capped log loss they carry beyond the calibrated model's, per sample. The count named is
    the labels beyond chance; the candidates listed are confident learning's."""
    facts = ev.diagnostics.label_errors
    # two labels at least, counted in effective samples so the weights' scale cannot matter
    if facts is None or facts.effective_count < 2 or facts.p_value >= LABEL_ERRORS_P:
        return None
    effect = facts.loss_beyond_chance
    if effect < FLOOR_NATS:
        return None
    listed = facts.candidates
    # the ids the JSON lists (all of them are in diagnostics.label_errors.candidates)
    ids = [] if listed is None else listed.id[:MAX_JSON_CANDIDATES].tolist()
    found = (
        f"{len(listed)} candidate labels (confident learning's, and every label of chance at "
        f"most {facts.level:.0%}) are listed with their chance in the JSON "
        f"(diagnostics.label_errors{_capped(len(listed))}), least likely first"
        f"{_ids_text(ids, len(listed))}"
        if listed is not None
        else "the samples were not in memory, so no candidate is listed: the worst samples "
        "come first under worst"
    )
    return POSSIBLE_LABEL_ERRORS.finding(
        "high" if effect >= HIGH_NATS else "medium",
        f"{facts.count:g} labels are this unlikely under the model's own probabilities: a "
        f"calibrated model draws each with a chance of at most {facts.level:.0%} and would "
        f"have about {facts.expected_if_calibrated:.1f} of them (p = {facts.p_value:.2g}); "
        "about "
        f"{facts.beyond_chance:.0f} beyond chance, carrying {effect:.4f} nats per sample "
        f"beyond a calibrated model's (the floor is {FLOOR_NATS:g}); {found}. These look like "
        "label noise, or like a model that is certain where it should not be.",
        {
            "count": facts.beyond_chance,
            "observed": facts.count,
            "expected_if_calibrated": facts.expected_if_calibrated,
            "p_value": facts.p_value,
            "level": facts.level,
            "method": facts.method,
            "loss_beyond_chance": effect,
            "candidates": None if listed is None else len(listed),
            "ids": ids,
        },
        "Re-check the candidates by hand, least likely labels first; relabel or drop the wrong "
        "ones and evaluate again.",
    )


def loss_concentration(ev: Evaluation) -> Finding | None:
    """Half the loss carried by far fewer samples than a calibrated model would need."""
    facts = ev.diagnostics.loss_concentration
    share = facts.half_loss_sample_share
    calibrated = facts.calibrated
    if calibrated is None:
        return None
    beyond = (
        calibrated.p_value <= ALPHA
        and calibrated.pooled_share <= CONCENTRATION_RATIO * calibrated.calibrated_median
    )
    if not beyond and share > CONCENTRATION_SHARE:
        return None
    evidence = {
        "half_loss_sample_share": share,
        "calibrated_median": calibrated.calibrated_median,
        "p_value": calibrated.p_value,
    }
    if not beyond:
        return LOSS_CONCENTRATION.finding(
            "low",
            f"Half of the log loss comes from {_pct(share)} of the samples, as it would for a "
            f"calibrated model with these probabilities (typically "
            f"{_pct(calibrated.calibrated_median)}): the rare or hard cases carry the loss.",
            evidence,
            "Nothing to fix; judge the typical sample with accuracy or a median loss.",
        )
    return LOSS_CONCENTRATION.finding(
        "medium",
        f"Half of the log loss comes from {_pct(share)} of the samples, where a calibrated "
        f"model with these probabilities would spread it over about "
        f"{_pct(calibrated.calibrated_median)} (p = {calibrated.p_value:.2g}): the mean "
        "loss describes a few bad predictions more than the typical one.",
        evidence,
        "Read the worst samples; judge the model on the typical sample with accuracy or a "
        "median loss, and on the tail with the confident-error count.",
    )


def _calibration_evidence(ev: Evaluation) -> dict:
    slope = ev.metrics["calibration_slope"]
    terms = ev.decomposition.log_loss if ev.decomposition is not None else None
    scaled = ev.recalibration_map("temperature")
    evidence = {
        "calibration_slope": slope.value,
        "ci_low": slope.ci_low,
        "ci_high": slope.ci_high,
        "confidence": ev.confidence,
        "temperature": None if scaled is None else scaled.temperature,
    }
    if terms is not None:
        evidence["miscalibration"] = terms.miscalibration
        evidence["miscalibration_share"] = (
            terms.miscalibration / terms.score if terms.score > 0 else float("nan")
        )
    return evidence


def _share_text(share: float) -> str:
    """The miscalibration share as a clause, when the decomposition was computed."""
    return "" if math.isnan(share) else f"; miscalibration is {_pct(share)} of the log loss"


def _slope_excludes_one(ev: Evaluation) -> str | None:
    """``"over"`` or ``"under"`` when the slope differs from 1 at level ``ALPHA`` (two-sided;
    the standard error is read back from the Wald interval at the evaluation's level)."""
    slope = ev.metrics["calibration_slope"]
    if slope.ci_low is None or slope.ci_high is None or not math.isfinite(slope.value):
        return None
    se = (slope.ci_high - slope.ci_low) / (2 * _z((1 - ev.confidence) / 2))
    if abs(slope.value - 1.0) <= _z(ALPHA / 2) * se:
        return None
    return "over" if slope.value < 1 else "under"


def _recalibration_advice(ev: Evaluation, evidence: dict) -> str:
    temperature = evidence["temperature"]
    if evidence["calibration_slope"] <= 0:
        return (
            "The probabilities rank the classes backwards (slope at or below 0): check the "
            "class order and the positive class (--positive) before recalibrating."
        )
    advice = "Recalibrate on held-out data: " + (
        f"dividing the logits by a temperature of about {temperature:.2f} lowers the loss and "
        "changes no decision"
        if temperature is not None and math.isfinite(temperature)
        else "temperature scaling lowers the loss and changes no decision"
    )
    intercept = ev.metrics["calibration_intercept"]
    low, high = intercept.ci_low, intercept.ci_high
    if low is not None and high is not None and (low > 0 or high < 0):
        advice += (
            f"; the intercept is off too ({intercept.value:.2f} [{intercept.ci_low:.2f}, "
            f"{intercept.ci_high:.2f}]), so a Platt map (slope and intercept) fits better"
        )
    return advice + "."


def _calibration_finding(ev: Evaluation, direction: str) -> Finding | None:
    """Over- or underconfidence: the slope differs from 1 and temperature scaling gains
    more than the floor on held-out folds."""
    if _slope_excludes_one(ev) != direction:
        return None
    gain = held_out_gain(ev, "temperature")
    measured = ev.recalibration is not None and ev.recalibration.computed
    if gain is None and measured:
        return None  # maps were fitted, but no temperature gain to judge the effect by
    # no maps (summary detail, too few events): the size is unknown, and the book says low
    size = None if gain is None else gain["gain"]
    severity = book.calibration_severity(size)
    if severity is None:
        return None
    evidence = _calibration_evidence(ev)
    evidence["recalibration_gain"] = gain
    share = evidence.get("miscalibration_share", float("nan"))
    slope_text = (
        f"calibration slope {evidence['calibration_slope']:.2f} "
        f"[{evidence['ci_low']:.2f}, {evidence['ci_high']:.2f}]"
    )
    if direction == "over":
        return OVERCONFIDENT.finding(
            severity,
            f"The model is overconfident: {slope_text} is below 1, so its probabilities are "
            f"too extreme{_share_text(share)}; {_gain_clause(gain)}.",
            evidence,
            _recalibration_advice(ev, evidence),
        )
    return UNDERCONFIDENT.finding(
        severity,
        f"The model is underconfident: {slope_text} is above 1, so its probabilities sit "
        f"too close to the middle{_share_text(share)}; {_gain_clause(gain)}.",
        evidence,
        "Sharpen the probabilities with temperature scaling (a temperature below 1) or "
        "reduce over-strong regularisation or label smoothing.",
    )


def overconfident(ev: Evaluation) -> Finding | None:
    """Probabilities too extreme: slope below 1 and a real held-out temperature gain."""
    return _calibration_finding(ev, "over")


def underconfident(ev: Evaluation) -> Finding | None:
    """Probabilities too timid: slope above 1 and a real held-out temperature gain."""
    return _calibration_finding(ev, "under")


def miscalibrated_intercept(ev: Evaluation) -> Finding | None:
    """Calibration-in-the-large (binary): the mean probability misses the base rate, and
    shifting the logits gains more than the floor on held-out folds."""
    facts = ev.diagnostics.calibration_in_the_large
    if facts is None or facts.p_value >= ALPHA:
        return None
    gain = held_out_gain(ev, "intercept")
    if gain is None or not gain["above_floor"]:
        return None
    fitted = ev.recalibration_map("intercept")
    shift = float("nan") if fitted is None or fitted.intercept is None else fitted.intercept
    direction = "too high" if facts.residual < 0 else "too low"
    return MISCALIBRATED_INTERCEPT.finding(
        book.calibration_severity(gain["gain"]) or "medium",
        f"The probabilities are {direction} on average: they predict a positive rate of "
        f"{facts.mean_probability:.4f} where the labels have {facts.mean_label:.4f} "
        f"(p = {facts.p_value:.2g}); adding {shift:+.2f} to every logit fixes it, and "
        f"{_gain_clause(gain)}.",
        {**flat_asdict(facts), "logit_shift": shift, "recalibration_gain": gain},
        f"Add {shift:+.2f} to the logits (an intercept fit, or a Platt map with slope and "
        "intercept) on held-out data; a base-rate shift between training and this data is "
        "the usual cause (resampled or reweighted training classes, a new population).",
    )


def recalibration_gain(ev: Evaluation) -> Finding | None:
    """The map that removes the most held-out loss, when its gain is real and above the floor."""
    gain = held_out_gain(ev)
    chosen = ev.recalibration_map()
    if gain is None or not gain["real"] or chosen is None or ev.recalibration is None:
        return None
    best = gain["method"]
    before, after = chosen.log_loss_before, chosen.log_loss_after
    baseline = ev.metric("baseline_log_loss")
    severity = "high" if before > baseline > after or gain["gain"] >= HIGH_NATS else "medium"
    temperature = ev.recalibration_map("temperature")
    evidence = {
        "method": best,
        "log_loss_before": before,
        "log_loss_after": after,
        "gain": gain["gain"],
        "gain_se": gain["gain_se"],
        "accuracy_before": chosen.accuracy_before,
        "accuracy_after": chosen.accuracy_after,
        "decisions_changed": chosen.decisions_changed,
        "scheme": ev.recalibration.scheme,
        "temperature_log_loss_after": None if temperature is None else temperature.log_loss_after,
    }
    keeps = (
        "without changing any decision"
        if chosen.decisions_changed == 0
        else f"while changing {_pct(chosen.decisions_changed)} of the decisions "
        f"(accuracy {chosen.accuracy_before:.4f} -> {chosen.accuracy_after:.4f})"
    )
    message = (
        f"Recalibration removes loss that the ranking does not need: {best} scaling, judged on "
        f"held-out folds, takes the log loss from {_loss(before)} to {_loss(after)} {keeps}"
    )
    if before > baseline > after:
        message += f", below the no-skill loss {baseline:.4f}"
    if best != "temperature" and temperature is not None:
        t_after = temperature.log_loss_after
        message += (
            f"; temperature scaling alone reaches {t_after:.4f}"
            + (f" (below the no-skill {baseline:.4f})" if before > baseline > t_after else "")
            + (" and keeps every decision" if temperature.decisions_changed == 0 else "")
        )
    return RECALIBRATION_GAIN.finding(
        severity,
        message + ".",
        evidence,
        "Fit the map on a held-out split (never the test set) and apply it before using the "
        "probabilities; prefer temperature scaling when decisions must stay as they are.",
    )


def threshold_fragile(ev: Evaluation) -> Finding | None:
    """Predictions at the threshold: accuracy hinges on small probability changes."""
    band = ev.diagnostics.threshold_band
    if band is None or band.count <= 0:
        return None
    swing = band.accuracy_high - band.accuracy_low
    if swing < FRAGILE_SWING:
        return None
    return THRESHOLD_FRAGILE.finding(
        "low",
        f"{band.count:g} predictions ({_pct(band.share)}) lie within {band.band:g} of "
        f"the threshold {ev.threshold:g}: nudging them across would move accuracy anywhere "
        f"from {band.accuracy_low:.4f} to {band.accuracy_high:.4f} while the log loss "
        "barely changes.",
        flat_asdict(band),
        "Do not read small accuracy differences between models or epochs as real; compare "
        "them by log loss or Brier score, which move smoothly.",
    )


def wide_intervals(ev: Evaluation) -> Finding | None:
    """The accuracy itself is uncertain: its interval is wide."""
    acc = ev.metrics["accuracy"]
    if acc.ci_low is None or acc.ci_high is None:
        return None
    half = (acc.ci_high - acc.ci_low) / 2
    severity = book.wide_intervals_severity(half)
    if severity is None:
        return None
    return WIDE_INTERVALS.finding(
        severity,
        f"With {ev.n} samples the accuracy is only known to about +-{half:.3f} "
        f"([{acc.ci_low:.4f}, {acc.ci_high:.4f}] at {ev.confidence:.0%}): smaller "
        "differences are noise.",
        {"n": ev.n, "half_width": half, "ci_low": acc.ci_low, "ci_high": acc.ci_high},
        "Evaluate on more samples, or compare models on the same samples with paired tests "
        "(lossgap compare).",
    )


def accuracy_near_majority(ev: Evaluation) -> Finding | None:
    """Accuracy against always predicting the majority class, by a paired (McNemar) test."""
    facts = ev.diagnostics.accuracy_against_majority
    acc, majority = ev.metric("accuracy"), ev.diagnostics.majority_accuracy
    difference, p_value = facts.difference, facts.p_value
    severity = book.accuracy_near_majority_severity(difference, difference, p_value < ALPHA)
    if severity is None:
        return None  # beats the majority rule, beyond noise and the floor
    evidence = {
        "accuracy": acc,
        "majority_accuracy": majority,
        "difference": difference,
        "gained": facts.gained,
        "lost": facts.lost,
        "p_value": p_value,
    }
    pairs = (
        f"right on {facts.gained:g} samples the majority rule gets wrong, wrong on "
        f"{facts.lost:g} it gets right, McNemar p = {p_value:.2g}"
    )
    if severity == "medium":
        return ACCURACY_NEAR_MAJORITY.finding(
            severity,
            f"Accuracy {acc:.4f} is below always predicting the majority class "
            f"({majority:.4f}) beyond noise ({pairs}): the decision rule costs accuracy.",
            evidence,
            "Check the threshold (a calibrated model's best accuracy threshold is 0.5) and "
            "the class order; judge the model by log loss or ROC AUC.",
        )
    return ACCURACY_NEAR_MAJORITY.finding(
        severity,
        f"Accuracy {acc:.4f} does not beat always predicting the majority class "
        f"({majority:.4f}) beyond noise and the {FLOOR_ACCURACY:.1%} floor ({pairs}).",
        evidence,
        "Judge the model by log loss, ROC AUC or balanced accuracy, which see past the class "
        "imbalance; accuracy here mostly measures the base rate.",
    )


#: The rules, in order of importance within a severity; `find` ranks by severity.
RULES: list[Rule] = [
    infinite_loss,
    loss_above_baseline,
    confident_errors,
    overconfident,
    underconfident,
    miscalibrated_intercept,
    recalibration_gain,
    possible_label_errors,
    accuracy_near_majority,
    loss_concentration,
    wide_intervals,
    threshold_fragile,
    *DECISION_RULES,
]


def find(ev: Evaluation, rules: list[Rule] | None = None) -> list[Finding]:
    """Run the rules on an Evaluation; findings ranked by severity (stable within one), and
    ``consistent`` when nothing explains a gap."""
    found = [f for rule in (RULES if rules is None else rules) if (f := rule(ev)) is not None]
    return book.conclude(
        found,
        f"Loss and accuracy tell the same story: log loss {ev.metric('log_loss'):.4f} "
        f"({ev.metric('normalized_entropy'):.2f} of the no-skill loss) and accuracy "
        f"{ev.metric('accuracy'):.4f}, with nothing that sets them apart.",
        {
            "log_loss": ev.metric("log_loss"),
            "accuracy": ev.metric("accuracy"),
            "normalized_entropy": ev.metric("normalized_entropy"),
        },
    )

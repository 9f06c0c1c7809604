"""Finding rules: each reads an Evaluation and may return a Finding.

Rules never compute metrics: they compare numbers already in the
:class:`~lossgap.results.evaluation.Evaluation` (metrics, intervals, decomposition,
recalibration, diagnostics) against the thresholds documented in ``docs/findings.md``.
:func:`find` runs them all and ranks the result by severity; when nothing of ``high`` or
``medium`` severity is found, it says ``consistent``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from lossgap.results.evaluation import Evaluation, Finding

Rule = Callable[[Evaluation], Finding | None]


def infinite_loss(ev: Evaluation) -> Finding | None:
    """Some true class got probability exactly 0: the mean log loss is infinite."""
    count = ev.diagnostics.get("infinite_count", 0)
    if not count:
        return None
    clipped = ev.metric("log_loss_clipped")
    return Finding(
        "infinite_loss",
        "high",
        f"{count} sample(s) give their true class a probability of exactly 0, so the log "
        f"loss is infinite; with each loss capped at 34.54 nats it would be {clipped:.4f}.",
        {"count": count, "log_loss_clipped": clipped, "clip": 1e-15},
        "Never output hard 0/1 probabilities: keep the logits or clip the outputs "
        "(e.g. to [1e-7, 1 - 1e-7]) and recalibrate.",
    )


def loss_above_baseline(ev: Evaluation) -> Finding | None:
    """Log loss worse than predicting the base rates, while accuracy beats the majority."""
    loss, baseline = ev.metric("log_loss"), ev.metric("baseline_log_loss")
    acc, majority = ev.metric("accuracy"), ev.diagnostics["majority_accuracy"]
    if not (loss > baseline and acc > majority) or math.isinf(loss):
        return None
    return Finding(
        "loss_above_baseline",
        "high",
        f"Log loss {loss:.4f} is above {baseline:.4f}, the loss of always predicting the "
        f"base rates, although accuracy {acc:.4f} beats the majority class ({majority:.4f}): "
        "the ranking is useful but the probabilities are worse than no model.",
        {
            "log_loss": loss,
            "baseline_log_loss": baseline,
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


def _ids_text(ids: list) -> str:
    if not ids:
        return ""
    shown = ", ".join(map(str, ids[:5]))
    more = f" and {len(ids) - 5} more" if len(ids) > 5 else ""
    return f" (ids {shown}{more})"


#: Confident errors are flagged when a calibrated model would make fewer with this p-value.
CONFIDENT_ERRORS_P = 0.01
#: Errors at true-class probability <= 0.01 look like label noise past this p-value.
LABEL_ERRORS_P = 0.001


def confident_errors(ev: Evaluation) -> Finding | None:
    """Errors made with high confidence, compared with what calibration would produce."""
    facts = ev.diagnostics["confident_errors"]
    count, loss_share = facts["count"], facts["loss_share"]
    if count <= 0:
        return None
    surprising = facts["p_value"] < CONFIDENT_ERRORS_P
    if surprising:
        severity = "high" if loss_share >= 0.5 else "medium"
    elif loss_share >= 0.25:
        severity = "low"
    else:
        return None
    level = facts["level"]
    message = (
        f"{count:g} errors ({_pct(facts['share'])} of samples) were made with at least "
        f"{level:.0%} confidence and carry {_pct(loss_share)} of the log loss"
        f"{_ids_text(facts['ids'])}; a calibrated model would make about "
        f"{facts['expected_if_calibrated']:.1f} such errors"
        + (" (p = %.2g)." % facts["p_value"] if surprising else ", so this is within chance.")
    )
    return Finding(
        "confident_errors",
        severity,
        message,
        dict(facts),
        "Look at these samples first: fix wrong labels, and if the labels are right, the "
        "model is overconfident on them: temperature-scale it (accuracy unchanged) or "
        "regularise (label smoothing, weight decay, early stopping on the loss)."
        if surprising
        else "Nothing to fix: a few confident errors are expected from a calibrated model.",
    )


def possible_label_errors(ev: Evaluation) -> Finding | None:
    """Near-certain errors far beyond what the model's own probabilities allow."""
    facts = ev.diagnostics["extreme_errors"]
    if facts["count"] < 2 or facts["p_value"] >= LABEL_ERRORS_P:
        return None
    return Finding(
        "possible_label_errors",
        "medium",
        f"{facts['count']:g} samples give their label a probability of at most "
        f"{1 - facts['level']:.2g}{_ids_text(facts['ids'])}, where the model's own "
        f"probabilities expect {facts['expected_if_calibrated']:.2f}: these look like label "
        "noise, or like a model that is certain where it should not be.",
        dict(facts),
        "Re-check these labels by hand before anything else; relabel or drop the wrong ones "
        "and evaluate again.",
    )


def loss_concentration(ev: Evaluation) -> Finding | None:
    """Half the loss carried by a small fraction of samples."""
    share = ev.diagnostics["loss_concentration"]["half_loss_sample_share"]
    if share > 0.10:
        return None
    return Finding(
        "loss_concentration",
        "medium" if share <= 0.05 else "low",
        f"Half of the log loss comes from {_pct(share)} of the samples: the mean loss "
        "describes a few bad predictions more than the typical one.",
        {"half_loss_sample_share": share},
        "Read the worst samples; judge the model on the typical sample with accuracy or a "
        "median loss, and on the tail with the confident-error count.",
    )


def _calibration_evidence(ev: Evaluation) -> dict:
    slope = ev.metrics["calibration_slope"]
    terms = ev.decomposition.log_loss if ev.decomposition is not None else None
    evidence = {
        "calibration_slope": slope.value,
        "ci_low": slope.ci_low,
        "ci_high": slope.ci_high,
        "confidence": ev.confidence,
        "temperature": ev.recalibration.get("methods", {}).get("temperature", {}).get("temperature"),
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
    slope = ev.metrics["calibration_slope"]
    if slope.ci_low is None or slope.ci_high is None:
        return None
    if slope.ci_high < 1:
        return "over"
    if slope.ci_low > 1:
        return "under"
    return None


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
    if intercept.ci_low is not None and (intercept.ci_low > 0 or intercept.ci_high < 0):
        advice += (
            f"; the intercept is off too ({intercept.value:.2f} [{intercept.ci_low:.2f}, "
            f"{intercept.ci_high:.2f}]), so a Platt map (slope and intercept) fits better"
        )
    return advice + "."


def overconfident(ev: Evaluation) -> Finding | None:
    """Probabilities too extreme: calibration slope below 1, its interval excluding 1."""
    if _slope_excludes_one(ev) != "over":
        return None
    evidence = _calibration_evidence(ev)
    share = evidence.get("miscalibration_share", float("nan"))
    return Finding(
        "overconfident",
        "high" if share >= 0.2 else "medium",
        f"The model is overconfident: calibration slope {evidence['calibration_slope']:.2f} "
        f"[{evidence['ci_low']:.2f}, {evidence['ci_high']:.2f}] is below 1, so its "
        f"probabilities are too extreme{_share_text(share)}.",
        evidence,
        _recalibration_advice(ev, evidence),
    )


def underconfident(ev: Evaluation) -> Finding | None:
    """Probabilities too timid: calibration slope above 1, its interval excluding 1."""
    if _slope_excludes_one(ev) != "under":
        return None
    evidence = _calibration_evidence(ev)
    share = evidence.get("miscalibration_share", float("nan"))
    return Finding(
        "underconfident",
        "medium",
        f"The model is underconfident: calibration slope {evidence['calibration_slope']:.2f} "
        f"[{evidence['ci_low']:.2f}, {evidence['ci_high']:.2f}] is above 1, so its "
        f"probabilities sit too close to the middle{_share_text(share)}.",
        evidence,
        "Sharpen the probabilities with temperature scaling (a temperature below 1) or "
        "reduce over-strong regularisation or label smoothing.",
    )


#: A recalibration map must remove this much held-out loss (absolute and relative).
GAIN_ABSOLUTE = 0.005
GAIN_RELATIVE = 0.05


def recalibration_gain(ev: Evaluation) -> Finding | None:
    """The map that removes the most held-out loss, when it removes a real share."""
    methods = ev.recalibration.get("methods", {})
    best = ev.recalibration.get("best")
    if not best:
        return None
    chosen = methods[best]
    before, after = chosen["log_loss_before"], chosen["log_loss_after"]
    gain = before - after
    if not (gain >= GAIN_ABSOLUTE and gain >= GAIN_RELATIVE * before):
        return None
    baseline = ev.metric("baseline_log_loss")
    severity = "high" if before > baseline > after else "medium"
    temperature = methods.get("temperature", {})
    evidence = {
        "method": best,
        "log_loss_before": before,
        "log_loss_after": after,
        "accuracy_before": chosen["accuracy_before"],
        "accuracy_after": chosen["accuracy_after"],
        "decisions_changed": chosen["decisions_changed"],
        "scheme": ev.recalibration.get("scheme"),
        "temperature_log_loss_after": temperature.get("log_loss_after"),
    }
    keeps = (
        "without changing any decision"
        if chosen["decisions_changed"] == 0
        else f"while changing {_pct(chosen['decisions_changed'])} of the decisions "
        f"(accuracy {chosen['accuracy_before']:.4f} -> {chosen['accuracy_after']:.4f})"
    )
    message = (
        f"Recalibration removes loss that the ranking does not need: {best} scaling, judged on "
        f"held-out folds, takes the log loss from {_loss(before)} to {_loss(after)} {keeps}"
    )
    if before > baseline > after:
        message += f", below the no-skill loss {baseline:.4f}"
    if best != "temperature" and temperature:
        t_after = temperature["log_loss_after"]
        message += (
            f"; temperature scaling alone reaches {t_after:.4f}"
            + (f" (below the no-skill {baseline:.4f})" if before > baseline > t_after else "")
            + (" and keeps every decision" if temperature["decisions_changed"] == 0 else "")
        )
    return Finding(
        "recalibration_gain",
        severity,
        message + ".",
        evidence,
        "Fit the map on a held-out split (never the test set) and apply it before using the "
        "probabilities; prefer temperature scaling when decisions must stay as they are.",
    )


def threshold_fragile(ev: Evaluation) -> Finding | None:
    """Predictions at the threshold: accuracy hinges on small probability changes."""
    band = ev.diagnostics.get("threshold_band")
    if not band or band["count"] <= 0:
        return None
    swing = band["accuracy_high"] - band["accuracy_low"]
    if swing < 0.01:
        return None
    return Finding(
        "threshold_fragile",
        "low",
        f"{band['count']:g} predictions ({_pct(band['share'])}) lie within {band['band']:g} of "
        f"the threshold {ev.threshold:g}: nudging them across would move accuracy anywhere "
        f"from {band['accuracy_low']:.4f} to {band['accuracy_high']:.4f} while the log loss "
        "barely changes.",
        dict(band),
        "Do not read small accuracy differences between models or epochs as real; compare "
        "them by log loss or Brier score, which move smoothly.",
    )


def wide_intervals(ev: Evaluation) -> Finding | None:
    """The accuracy itself is uncertain: its interval is wide."""
    acc = ev.metrics["accuracy"]
    if acc.ci_low is None or acc.ci_high is None:
        return None
    half = (acc.ci_high - acc.ci_low) / 2
    if half < 0.02:
        return None
    return Finding(
        "wide_intervals",
        "medium" if half >= 0.05 else "low",
        f"With {ev.n} samples the accuracy is only known to about +-{half:.3f} "
        f"([{acc.ci_low:.4f}, {acc.ci_high:.4f}] at {ev.confidence:.0%}): smaller "
        "differences are noise.",
        {"n": ev.n, "half_width": half, "ci_low": acc.ci_low, "ci_high": acc.ci_high},
        "Evaluate on more samples, or compare models on the same samples with paired tests "
        "(lossgap compare).",
    )


def accuracy_near_majority(ev: Evaluation) -> Finding | None:
    """Accuracy does not beat always predicting the majority class beyond noise."""
    acc = ev.metrics["accuracy"]
    majority = ev.diagnostics["majority_accuracy"]
    if acc.ci_low is None or acc.ci_low > majority:
        return None
    return Finding(
        "accuracy_near_majority",
        "medium",
        f"Accuracy {acc.value:.4f} [{acc.ci_low:.4f}, {acc.ci_high:.4f}] does not beat "
        f"always predicting the majority class ({majority:.4f}) beyond noise.",
        {"accuracy": acc.value, "ci_low": acc.ci_low, "majority_accuracy": majority},
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
    recalibration_gain,
    possible_label_errors,
    accuracy_near_majority,
    loss_concentration,
    wide_intervals,
    threshold_fragile,
]


def consistent(ev: Evaluation) -> Finding:
    """Nothing explains a gap: loss and accuracy tell the same story."""
    return Finding(
        "consistent",
        "info",
        f"Loss and accuracy tell the same story: log loss {ev.metric('log_loss'):.4f} "
        f"({ev.metric('normalized_entropy'):.2f} of the no-skill loss) and accuracy "
        f"{ev.metric('accuracy'):.4f}, with nothing that sets them apart.",
        {
            "log_loss": ev.metric("log_loss"),
            "accuracy": ev.metric("accuracy"),
            "normalized_entropy": ev.metric("normalized_entropy"),
        },
        "Nothing to fix between loss and accuracy; pick the model by the score that "
        "matches your use (log loss for probabilities, accuracy or cost for decisions).",
    )


def find(ev: Evaluation, rules: list[Rule] | None = None) -> list[Finding]:
    """Run the rules on an Evaluation; findings ranked by severity (stable within one)."""
    found = [f for rule in (RULES if rules is None else rules) if (f := rule(ev)) is not None]
    if not any(f.severity in ("high", "medium") for f in found):
        found.append(consistent(ev))
    return sorted(found, key=lambda f: f.rank)

"""The rules of ``lossgap interpret``: findings from a (loss, accuracy) pair and its gap."""

from __future__ import annotations

from typing import Any

from lossgap.core import bounds
from lossgap.results.evaluation import Finding
from lossgap.results.interpret import MAIN_SPLITS, SplitInterpretation, acc_text, prob_text
from lossgap.rules import book
from lossgap.rules.book import (
    ACCURACY_NEAR_MAJORITY,
    FLOOR_ACCURACY,
    GAP_ACCURACY,
    GAP_RELATIVE_LOSS,
    GENERALIZATION_GAP,
    IMPOSSIBLE_PAIR,
    LOSS_ABOVE_BASELINE,
    MISCALIBRATED,
    OVERCONFIDENT,
    THRESHOLD_FRAGILE,
    WIDE_INTERVALS,
)

# The codes explain also emits take their threshold and severity from the book's one
# function per code (:mod:`lossgap.rules.book`); interpret passes what it measures.


# --- findings ----------------------------------------------------------------------------


def _pair_evidence(s: SplitInterpretation) -> dict[str, Any]:
    return {
        "split": s.split,
        "log_loss": s.log_loss,
        "accuracy": s.accuracy,
        "accuracy_interval": s.accuracy_interval,
        "calibrated_accuracy_range": s.calibrated_accuracy_range,
        "calibrated_loss_range": s.calibrated_loss_range,
        "error_loss_range": s.error_loss_range,
    }


def _rule_impossible(s: SplitInterpretation) -> Finding | None:
    if s.possible is not False:
        return None
    return IMPOSSIBLE_PAIR.finding(
        "high",
        f"{s.split}: no predictions have log loss {s.log_loss:.4f} with {acc_text(s)}: each "
        f"error alone costs at least ln 2, so the loss is at least "
        f"{(1 - (s.accuracy_interval or [0, 0])[1]) * bounds.LN2:.4f}.",
        {**_pair_evidence(s), "loss_floor": (1 - (s.accuracy_interval or [0, 0])[1]) * bounds.LN2},
        "The two numbers do not come from the same predictions and decisions: check that the "
        "loss is the mean cross-entropy (not a focal or weighted loss, not a running average "
        "over an epoch) and that accuracy uses the 0.5 threshold or the argmax.",
    )


def _rule_loss_above_baseline(s: SplitInterpretation) -> Finding | None:
    # no sample to test: the excess is the least the printed digits allow
    severity = book.loss_above_baseline_severity(
        s.log_loss_interval[0] - s.baseline_log_loss, None
    )
    if severity is None:
        return None
    base = (
        f"h({s.base_rate:g})" if s.base_rate is not None else f"ln {s.classes}, the most it can be"
    )
    return LOSS_ABOVE_BASELINE.finding(
        severity,
        f"{s.split}: log loss {s.log_loss:.4f} is {s.normalized_entropy:.2f} times the no-skill "
        f"loss {s.baseline_log_loss:.4f} ({base}): always predicting the base rates would "
        "score better, whatever the accuracy.",
        {
            "split": s.split,
            "log_loss": s.log_loss,
            "baseline_log_loss": s.baseline_log_loss,
            "normalized_entropy": s.normalized_entropy,
            "accuracy": s.accuracy,
            "majority_accuracy": s.majority_accuracy,
        },
        "Recalibrate (temperature scaling keeps every decision) before using the "
        "probabilities, and look at the confident errors with `lossgap explain`.",
    )


def _calibrated_feasible(s: SplitInterpretation) -> bool | None:
    """Whether a calibrated model could give this pair: with ``--n``, allowing the accuracy's
    sampling noise (a verdict that ignores the noise it computed would contradict it)."""
    if s.calibrated_feasible_within_noise is not None:
        return s.calibrated_feasible_within_noise
    return s.calibrated_feasible


def _too_high(s: SplitInterpretation) -> bool:
    return (
        s.possible is True
        and _calibrated_feasible(s) is False
        and s.calibrated_loss_range is not None
        and s.log_loss_interval[0] > s.calibrated_loss_range[1]
    )


def _rule_overconfident(s: SplitInterpretation) -> Finding | None:
    if not (_too_high(s) and s.log_loss_interval[0] > s.correct_loss_max):
        return None
    assert s.calibrated_loss_range is not None
    # the digits allow the pair, but the printed accuracy alone may not (1.0 has no errors):
    # then the errors' cost has no range to quote (`lossgap interpret "loss: 0.8 - acc: 1.0"`)
    errors, prob_max = "", None
    if s.error_loss_range is not None and s.error_true_class_prob_range is not None:
        prob_max = s.error_true_class_prob_range[1]
        errors = (
            f": even if every correct prediction cost ln {s.classes}, the errors would average "
            f"at least {s.error_loss_range[0]:.2f} nats, giving their true class "
            f"{prob_text(prob_max)} or less (geometric mean)"
        )
    # the effect: the least loss above the most a calibrated model with this accuracy has;
    # a bound, not a test, so under the floor it is still no pair a calibrated model gives
    severity = book.calibration_severity(
        s.log_loss_interval[0] - s.calibrated_loss_range[1], proven=True
    )
    if severity is None:
        return None
    return OVERCONFIDENT.finding(
        severity,
        f"{s.split}: log loss {s.log_loss:.4f} with {acc_text(s)} is out of reach of any "
        f"calibrated model, and above ln {s.classes}{errors}: the model is confidently wrong "
        "on its errors.",
        {**_pair_evidence(s), "error_true_class_prob_max": prob_max},
        "Recalibrate (temperature scaling) and inspect the confident errors: label errors, "
        "a shift between training and test data, or overfitting of the last layer.",
    )


def _rule_miscalibrated(s: SplitInterpretation) -> Finding | None:
    if not _too_high(s) or s.log_loss_interval[0] > s.correct_loss_max:
        return None
    assert s.calibrated_loss_range is not None
    # no error range at the printed accuracy (1.0 has no errors): nothing to quote
    up_to = (
        f" (up to {s.error_loss_range[1]:.2f} nats each if the correct predictions are "
        "near-certain: overconfidence)"
        if s.error_loss_range is not None
        else " (overconfidence)"
    )
    return MISCALIBRATED.finding(
        "medium",
        f"{s.split}: log loss {s.log_loss:.4f} is above {s.calibrated_loss_range[1]:.4f}, the "
        f"most a calibrated model with {acc_text(s)} can have: either the errors are "
        f"confident{up_to} or the correct predictions hedge "
        "(underconfidence, e.g. from label smoothing or strong regularisation).",
        dict(_pair_evidence(s)),
        "Run `lossgap explain` on the predictions: its reliability curve and worst samples "
        "tell over- from underconfidence; temperature scaling fixes either without changing "
        "a decision.",
    )


def _rule_threshold_fragile(s: SplitInterpretation) -> Finding | None:
    if not (
        s.possible is True
        and _calibrated_feasible(s) is False
        and s.calibrated_loss_range is not None
        and s.log_loss_interval[1] < s.calibrated_loss_range[0]
    ):
        return None
    # the digits allow the pair, but the printed accuracy alone may not: then the errors'
    # cost has no range to quote (`lossgap interpret "loss: 0.05 - acc: 0.9"`)
    cheap = (
        f", at most {s.error_loss_range[1]:.2f} nats on average (true class at "
        f"{prob_text(s.error_true_class_prob_range[0])} or more)"
        if s.error_loss_range is not None and s.error_true_class_prob_range is not None
        else ""
    )
    return THRESHOLD_FRAGILE.finding(
        "low",
        f"{s.split}: log loss {s.log_loss:.4f} is below {s.calibrated_loss_range[0]:.4f}, the "
        f"least a calibrated model with {acc_text(s)} can have: the errors are cheap{cheap}: "
        "many errors sit just across the threshold, where a small change of model or "
        "threshold flips them.",
        dict(_pair_evidence(s)),
        "Compare models by log loss rather than accuracy, and check how accuracy moves with "
        "the threshold (`lossgap explain`).",
    )


def _rule_accuracy_near_majority(s: SplitInterpretation) -> Finding | None:
    if s.accuracy_interval is None:
        return None
    below_floor = s.calibrated_loss_range is None
    if s.majority_accuracy is not None:
        floor, name = s.majority_accuracy, "the majority share"
    else:
        floor, name = 1.0 / s.classes, "chance (1/K)"
    # the interval carries the noise: its two ends are the differences the numbers allow
    severity = book.accuracy_near_majority_severity(
        s.accuracy_interval[0] - floor,
        s.accuracy_interval[1] - floor,
        beyond_noise=True,
        proven=below_floor,
    )
    if severity is None:
        return None
    where = "below" if severity == "medium" else f"within {FLOOR_ACCURACY:g} of"
    return ACCURACY_NEAR_MAJORITY.finding(
        severity,
        f"{s.split}: {acc_text(s)} is {where} {name} {floor:.4f}: the decisions barely beat "
        "a constant answer"
        + ("; no calibrated model does worse than that." if below_floor else "."),
        {
            "split": s.split,
            "accuracy": s.accuracy,
            "accuracy_interval": s.accuracy_interval,
            "majority_accuracy": floor,
            "difference": s.accuracy_interval[1] - floor,
        },
        "Look at the loss, not the accuracy, to see whether the model learned anything; "
        "with unbalanced classes, choose the threshold for the costs of each error.",
    )


def _rule_wide_intervals(s: SplitInterpretation) -> Finding | None:
    noise = s.accuracy_noise
    if noise is None:
        return None
    half = (noise["ci_high"] - noise["ci_low"]) / 2
    severity = book.wide_intervals_severity(half)
    if severity is None:
        return None
    return WIDE_INTERVALS.finding(
        severity,
        f"{s.split}: with {noise['n']} samples the accuracy is only known to about "
        f"±{half:.3f} ({noise['confidence']:.0%} interval {noise['ci_low']:.4f} to "
        f"{noise['ci_high']:.4f}); one sample moves it by {noise['one_sample']:.4f}.",
        {
            "split": s.split,
            "n": noise["n"],
            "accuracy": s.accuracy,
            "ci_low": noise["ci_low"],
            "ci_high": noise["ci_high"],
            "half_width": half,
            "confidence": noise["confidence"],
        },
        "Do not read accuracy differences smaller than the interval; evaluate on more "
        "samples or compare models on the same samples (`lossgap compare`).",
    )


def _rule_generalization_gap(gap: dict[str, Any] | None) -> Finding | None:
    if gap is None:
        return None
    relative, acc_diff = gap["relative_loss_difference"], gap["accuracy_difference"]
    large = (relative is not None and abs(relative) >= GAP_RELATIVE_LOSS) or (
        acc_diff is not None and abs(acc_diff) >= GAP_ACCURACY
    )
    if not large:
        return None
    other = gap["between"][1]
    direction = "above" if gap["loss_difference"] > 0 else "below"
    acc_part = (
        f" and accuracy {abs(acc_diff):.4f} {'lower' if acc_diff > 0 else 'higher'}"
        if acc_diff is not None
        else ""
    )
    noise = (
        f" (the accuracy difference is {abs(gap['accuracy_difference_z']):.1f} standard errors)"
        if gap["accuracy_difference_z"] is not None
        else ""
    )
    rel = f" ({abs(relative):.0%})" if relative is not None else ""
    return GENERALIZATION_GAP.finding(
        "low",
        f"{other} loss is {abs(gap['loss_difference']):.4f}{rel} {direction} the training "
        f"loss{acc_part}{noise}. {gap['can_mean'][-1]}",
        {
            "between": gap["between"],
            "loss_difference": gap["loss_difference"],
            "relative_loss_difference": relative,
            "accuracy_difference": acc_diff,
            "accuracy_difference_z": gap["accuracy_difference_z"],
        },
        "Pick the epoch by the held-out loss if you need probabilities, by held-out accuracy "
        "(or cost) if you need decisions; `lossgap history` shows where the two part ways.",
    )


SPLIT_RULES = (
    _rule_impossible,
    _rule_loss_above_baseline,
    _rule_overconfident,
    _rule_miscalibrated,
    _rule_threshold_fragile,
    _rule_accuracy_near_majority,
    _rule_wide_intervals,
)


def _main_split(splits: dict[str, SplitInterpretation]) -> SplitInterpretation:
    return next(splits[name] for name in MAIN_SPLITS if name in splits)


def find(splits: dict[str, SplitInterpretation], gap: dict[str, Any] | None) -> list[Finding]:
    found = [f for s in splits.values() for rule in SPLIT_RULES if (f := rule(s)) is not None]
    if (g := _rule_generalization_gap(gap)) is not None:
        found.append(g)
    main = _main_split(splits)
    if main.accuracy_interval is None:
        return book.rank(found)  # a loss alone: no pair to call consistent
    acc = f" and {acc_text(main)}" if main.accuracy_interval else ""
    return book.conclude(
        found,
        f"Loss and accuracy tell the same story: {main.split} log loss "
        f"{main.log_loss:.4f} ({main.normalized_entropy:.2f} of the no-skill loss)"
        f"{acc} is a pair a calibrated model produces.",
        {
            "split": main.split,
            "log_loss": main.log_loss,
            "accuracy": main.accuracy,
            "normalized_entropy": main.normalized_entropy,
        },
    )

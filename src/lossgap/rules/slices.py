"""Rules that say where the loss lives: a confusion pair, a class, a group.

Each is a test against what a calibrated model would show, at a family-wise level of
:data:`ALPHA` over every cell, class or group it looks at (Bonferroni), and a practical
floor (a share of the loss, or nats per sample), as ``docs/findings.md`` states per code:

* ``confusion_pair``: one true class decided as another far more often than the model's
  own probabilities allow (Poisson tail of the count given ``sum p_true`` over the samples
  decided as the other, at least twice that), carrying at least :data:`PAIR_SHARE_FLOOR`
  of the log loss;
* ``class_confident_errors``: a class whose samples get confident errors beyond chance
  (at least twice the expected weight), carrying at least :data:`SHARE_FLOOR` of the loss
  (classes a confusion pair names are left to it);
* ``slice_miscalibrated``: a group whose calibration test fails beyond chance given the
  number of groups, with a recalibration gain of at least :data:`GAIN_FLOOR` nats per
  sample, saying whether the whole looks calibrated;
* ``slice_confident_errors``: a group with confident errors beyond chance (at least twice
  the expected count and 1% of its samples beyond it);
* ``miscalibration_spread``: the whole fails the calibration test but no group does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from lossgap.results.evaluation import Evaluation, Finding, Slice
from lossgap.results.multilabel import MultilabelEvaluation
from lossgap.results.slices import ConfusionPair
from lossgap.rules import book
from lossgap.rules.book import (
    ALPHA,
    CLASS_CONFIDENT_ERRORS,
    CONFUSION_PAIR,
    EXCESS_SHARE,
    GAIN_FLOOR,
    HIGH_GAIN,
    HIGH_SHARE,
    MISCALIBRATION_SPREAD,
    PAIR_SHARE_FLOOR,
    RATIO_FLOOR,
    SHARE_FLOOR,
    SLICE_CONFIDENT_ERRORS,
    SLICE_MISCALIBRATED,
)
from lossgap.rules.explain import Rule, _pct

# ALPHA is the family-wise level of each rule, split over the cells, classes or groups it
# tests (Bonferroni).


def _names(values: Sequence[object], limit: int = 3) -> str:
    shown = ", ".join(map(str, values[:limit]))
    return shown + (f" and {len(values) - limit} more" if len(values) > limit else "")


def flagged_pairs(ev: Evaluation) -> list[ConfusionPair]:
    """The confusion pairs beyond chance (over the ``k (k - 1)`` cells) and above the floor."""
    k = len(ev.classes)
    tests = max(k * (k - 1), 1)
    return [
        p
        for p in ev.confusion_pairs
        if p.p_value < ALPHA / tests
        and p.count >= RATIO_FLOOR * p.expected_if_calibrated
        and p.loss_share >= PAIR_SHARE_FLOOR
    ]


def confusion_pair(ev: Evaluation) -> Finding | None:
    """The confusion pairs that carry more loss than a calibrated model would explain."""
    flagged = flagged_pairs(ev)
    if not flagged:
        return None
    top = flagged[0]
    others = (
        " Other pairs beyond chance: "
        f"{_names([f'{p.true} -> {p.predicted}' for p in flagged[1:]])}."
        if len(flagged) > 1
        else ""
    )
    ids = f" (ids {_names(top.ids, 5)})" if top.ids else ""
    return CONFUSION_PAIR.finding(
        "high" if top.loss_share >= HIGH_SHARE else "medium",
        f"True class {top.true!r} decided as {top.predicted!r} carries {_pct(top.loss_share)} of "
        f"the log loss: {top.count:g} samples{ids} where the model's own probabilities expect "
        f"{top.expected_if_calibrated:.1f} (p = {top.p_value:.2g}).{others}",
        {
            "true": top.true,
            "predicted": top.predicted,
            "count": top.count,
            "loss_share": top.loss_share,
            "expected_if_calibrated": top.expected_if_calibrated,
            "p_value": top.p_value,
            "ids": top.ids,
            "pairs": [[p.true, p.predicted] for p in flagged],
        },
        f"Look at the samples of {top.true!r} decided as {top.predicted!r}: mislabelled "
        "between the two classes, or features that do not tell them apart (more data of both, "
        "or a targeted augmentation); the model should at least not be confident there.",
    )


def class_confident_errors(ev: Evaluation) -> Finding | None:
    """Classes whose samples get more confident errors than calibration allows."""
    named = {p.true for p in flagged_pairs(ev)}
    flagged = [
        c
        for c in ev.per_class
        if c.p_value < ALPHA / len(ev.per_class)
        and c.confident_errors >= RATIO_FLOOR * c.expected_if_calibrated
        and c.confident_errors_loss_share >= SHARE_FLOOR
        and c.label not in named
    ]
    if not flagged:
        return None
    top = max(flagged, key=lambda c: c.confident_errors_loss_share)
    return CLASS_CONFIDENT_ERRORS.finding(
        "high" if top.confident_errors_loss_share >= HIGH_SHARE else "medium",
        f"Class {top.label!r} gets {top.confident_errors:g} confident errors (probability at "
        f"most 0.1 on the true class) carrying {_pct(top.confident_errors_loss_share)} of the "
        f"log loss, where a calibrated model would make {top.expected_if_calibrated:.1f} "
        f"(p = {top.p_value:.2g})"
        + (
            f"; also {_names([c.label for c in flagged if c is not top])}."
            if len(flagged) > 1
            else "."
        ),
        {
            "class": top.label,
            "confident_errors": top.confident_errors,
            "expected_if_calibrated": top.expected_if_calibrated,
            "loss_share": top.confident_errors_loss_share,
            "p_value": top.p_value,
            "classes": [c.label for c in flagged],
        },
        f"Read the confident errors of {top.label!r}: wrong labels, or a class the model "
        "learnt too narrowly (more varied examples of it).",
    )


def _whole_test(ev: Evaluation) -> dict:
    return ev.diagnostics.get("calibration_test") or {}


def _tested(slices: Sequence[Slice]) -> int:
    return max(sum(not math.isnan(s.calibration.p_value) for s in slices), 1)


def miscalibrated_slices(ev: Evaluation) -> list[Slice]:
    """The groups whose calibration test fails beyond chance and above the floor."""
    m = _tested(ev.slices)
    return [
        s
        for s in ev.slices
        if s.calibration.p_value < ALPHA / m and s.calibration.gain >= GAIN_FLOOR
    ]


def slice_miscalibrated(ev: Evaluation) -> Finding | None:
    """Groups miscalibrated beyond what chance produces given the number of groups."""
    flagged = miscalibrated_slices(ev)
    if not flagged:
        return None
    top = max(flagged, key=lambda s: s.calibration.gain * s.n)
    test, whole = top.calibration, _whole_test(ev)
    whole_p = whole.get("p_value", float("nan"))
    whole_text = (
        "the whole looks calibrated"
        if whole_p >= ALPHA or whole.get("gain", 0.0) < GAIN_FLOOR
        else "the whole is miscalibrated too"
    ) + ("" if math.isnan(whole_p) else f" (p = {whole_p:.2g})")
    direction = "overconfident" if test.slope < 1 else "underconfident"
    return SLICE_MISCALIBRATED.finding(
        "high" if test.gain >= HIGH_GAIN else "medium",
        f"Group {top.by}={top.group!r} ({top.n} samples, {_pct(top.share)} of the weight) is "
        f"{direction}: recalibration slope {test.slope:.2f}, intercept {test.intercept:.2f}, "
        f"removing {test.gain:.3f} nats per sample (p = {test.p_value:.2g} with "
        f"{len(ev.slices)} groups tested); {whole_text}."
        + (
            " Also miscalibrated: "
            f"{_names([f'{s.by}={s.group!r}' for s in flagged if s is not top])}."
            if len(flagged) > 1
            else ""
        ),
        {
            "by": top.by,
            "group": top.group,
            "n": top.n,
            "slope": test.slope,
            "intercept": test.intercept,
            "gain": test.gain,
            "p_value": test.p_value,
            "whole_p_value": whole_p,
            "groups": [[s.by, s.group] for s in flagged],
        },
        f"Recalibrate {top.by}={top.group!r} on its own held-out data (a temperature or Platt "
        f"map per {top.by}), or find what sets it apart (acquisition, population, labels).",
    )


def slice_confident_errors(ev: Evaluation) -> Finding | None:
    """Groups holding more confident errors than calibration allows for their size."""
    m = max(len(ev.slices), 1)
    flagged = [
        s
        for s in ev.slices
        if s.confident_errors_p_value < ALPHA / m
        and s.confident_errors >= RATIO_FLOOR * s.expected_if_calibrated
        and s.confident_errors - s.expected_if_calibrated >= EXCESS_SHARE * s.n
    ]
    if not flagged:
        return None
    top = max(flagged, key=lambda s: s.confident_errors - s.expected_if_calibrated)
    return SLICE_CONFIDENT_ERRORS.finding(
        "medium",
        f"Group {top.by}={top.group!r} holds {top.confident_errors:g} confident errors where a "
        f"calibrated model would make {top.expected_if_calibrated:.1f} "
        f"(p = {top.confident_errors_p_value:.2g} with {m} groups tested); it carries "
        f"{_pct(top.loss_share)} of the log loss with {_pct(top.share)} of the weight.",
        {
            "by": top.by,
            "group": top.group,
            "confident_errors": top.confident_errors,
            "expected_if_calibrated": top.expected_if_calibrated,
            "p_value": top.confident_errors_p_value,
            "loss_share": top.loss_share,
            "groups": [[s.by, s.group] for s in flagged],
        },
        f"Read the confident errors of {top.by}={top.group!r} first: its labels or inputs may "
        "differ from the rest.",
    )


def miscalibration_spread(ev: Evaluation) -> Finding | None:
    """The whole fails the calibration test while no group does on its own."""
    whole = _whole_test(ev)
    if not ev.slices or miscalibrated_slices(ev):
        return None
    if not (whole.get("p_value", 1.0) < ALPHA and whole.get("gain", 0.0) >= GAIN_FLOOR):
        return None
    by = sorted({s.by for s in ev.slices})
    return MISCALIBRATION_SPREAD.finding(
        "low",
        f"The whole is miscalibrated (p = {whole['p_value']:.2g}, {whole['gain']:.3f} nats per "
        f"sample) but no group of {', '.join(by)} is on its own beyond chance: the "
        "miscalibration is shared, or each group is too small to show it.",
        {"whole_p_value": whole["p_value"], "gain": whole["gain"], "by": by},
        "Recalibrate the model as a whole; per-group maps are not called for.",
    )


def label_findings(result: MultilabelEvaluation) -> list[Finding]:
    """The labels that carry the loss: each label's high and medium findings under its name,
    labels with the most loss first (``consistent`` when there are none).

    Each label's findings are judged by the explain rules on that label alone.
    """
    order = sorted(range(len(result.labels)), key=lambda j: -result.loss_share[j])
    found = []
    for j in order:
        name, share = result.labels[j], result.loss_share[j]
        for f in result.evaluations[j].findings:
            if f.severity not in book.SERIOUS:
                continue
            found.append(
                book.CODES[f.code].finding(
                    f.severity,
                    f"Label {name!r} ({_pct(share)} of the summed log loss): {f.message}",
                    {"label": name, "label_loss_share": share, **f.evidence},
                    f.advice,
                )
            )
    shares = ", ".join(f"{result.labels[j]} {_pct(result.loss_share[j])}" for j in order[:5])
    return book.conclude(
        found,
        f"No label shows a gap between loss and accuracy beyond chance; the log loss "
        f"sits in {shares}.",
        {"loss_share": dict(zip(result.labels, result.loss_share, strict=True))},
        "Nothing to fix between loss and accuracy.",
    )


#: The rules of this module, run with the explain rules.
WHERE_RULES: list[Rule] = [
    confusion_pair,
    class_confident_errors,
    slice_miscalibrated,
    slice_confident_errors,
    miscalibration_spread,
]

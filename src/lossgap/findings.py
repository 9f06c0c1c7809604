"""Finding rules: each reads an Evaluation and may return a Finding.

Rules never compute metrics: they compare numbers already in the
:class:`~lossgap.evaluation.Evaluation` (metrics, intervals, decomposition,
recalibration, diagnostics) against the thresholds documented in ``docs/findings.md``.
:func:`find` runs them all and ranks the result by severity; when nothing of ``high`` or
``medium`` severity is found, it says ``consistent``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from lossgap.evaluation import Evaluation, Finding

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


#: The rules, in no particular order; `find` ranks their findings.
RULES: list[Rule] = [infinite_loss, loss_above_baseline]


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

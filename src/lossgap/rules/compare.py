"""Finding rules of a comparison: each reads a Comparison and may return a Finding.

Rules compare numbers already in the :class:`~lossgap.results.compare.Comparison` (the
models' metrics and ranks, each pair's differences, tests and flips) against the
thresholds documented in the ``## compare`` section of ``docs/findings.md``. Each code
appears at most once; its evidence lists the pairs behind it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from lossgap.core.paired import kendall_tau
from lossgap.results.compare import Comparison, Difference, ModelResult, PairComparison
from lossgap.results.evaluation import Finding
from lossgap.rules import book
from lossgap.rules.book import (
    DIFFERENCE_NOT_SIGNIFICANT,
    INFINITE_LOSS,
    LOSS_TIE,
    NEAR_SHARE,
    RANK_DISAGREEMENT,
    THRESHOLD_FLIPS,
)

Rule = Callable[[Comparison], Finding | None]

#: Pairs listed in a finding's evidence, at most (``count`` has them all).
MAX_LISTED = 10
#: Ids of near-threshold flips listed per pair in ``threshold_flips``.
MAX_IDS = 5

_NAMES = {"log_loss": "log loss", "brier": "Brier score", "accuracy": "accuracy"}


def _p(value: float | None) -> str:
    return "undefined" if value is None else f"{value:.2g}"


def _gap(pair: PairComparison) -> tuple[str, str, float]:
    """(more accurate model, less accurate model, accuracy gap in points)."""
    d = pair.accuracy_difference.value
    return (pair.a, pair.b, 100 * d) if d >= 0 else (pair.b, pair.a, -100 * d)


def _interval(d: Difference, c: Comparison) -> str:
    if d.ci_low is None or d.ci_high is None:
        return f"{d.value:+.4f}"
    return f"{d.value:+.4f}, {c.confidence:.0%} interval [{d.ci_low:+.4f}, {d.ci_high:+.4f}]"


def _significance_level(c: Comparison) -> str:
    adjusted = "Holm-adjusted " if c.correction == "holm" else ""
    return f"{adjusted}p >= {c.alpha:.2g}"


def threshold_flips(c: Comparison) -> Finding | None:
    """A real accuracy gap made mostly by samples that barely cross the threshold."""
    hits = [
        p
        for p in c.pairs
        if p.accuracy_difference.significant
        and p.flips.near_threshold_share is not None
        and p.flips.near_threshold_share >= NEAR_SHARE
    ]
    if not hits:
        return None
    hits.sort(key=lambda p: -abs(p.accuracy_difference.value))
    top = hits[0]
    better, worse, points = _gap(top)
    f = top.flips
    near_better, near_worse = (
        (f.near_threshold_a_only_correct, f.near_threshold_b_only_correct)
        if better == top.a
        else (f.near_threshold_b_only_correct, f.near_threshold_a_only_correct)
    )
    others = f" {len(hits) - 1} other pair(s) show the same." if len(hits) > 1 else ""
    message = (
        f"{better} is {points:.1f} accuracy points ahead of {worse}, and "
        f"{f.near_threshold_share:.0%} of that gap is samples within {c.near:g} of the "
        f"decision boundary under both models ({near_better} right only under {better}, "
        f"{near_worse} only under {worse}): they cross it while barely moving, adding only "
        f"{f.near_threshold_log_loss_difference:+.4f} to the mean log loss difference "
        f"{top.a} - {top.b} = {top.log_loss_difference.value:+.4f}.{others}"
    )
    evidence = {
        "near": c.near,
        "near_rule": c.near_rule,
        "share_threshold": NEAR_SHARE,
        "count": len(hits),
        "pairs": [
            {
                "a": p.a,
                "b": p.b,
                "accuracy_difference": p.accuracy_difference.value,
                "a_only_correct": p.flips.a_only_correct,
                "b_only_correct": p.flips.b_only_correct,
                "near_threshold_a_only_correct": p.flips.near_threshold_a_only_correct,
                "near_threshold_b_only_correct": p.flips.near_threshold_b_only_correct,
                "near_threshold_share": p.flips.near_threshold_share,
                "near_threshold_log_loss_difference": p.flips.near_threshold_log_loss_difference,
                "log_loss_difference": p.log_loss_difference.value,
                "near_threshold_ids": p.flips.near_threshold_ids[:MAX_IDS],
            }
            for p in hits[:MAX_LISTED]
        ],
    }
    return THRESHOLD_FLIPS.finding(
        "medium",
        message,
        evidence,
        "Accuracy counts each of these samples as wholly right or wrong although the models "
        "barely differ on them: choose by log loss or Brier score (their paired intervals "
        "are in the table), and confirm an accuracy gap on fresh samples before acting on it.",
    )


def loss_tie(c: Comparison) -> Finding | None:
    """Accuracy differs significantly while the log loss difference is within noise."""
    hits = [
        p
        for p in c.pairs
        if p.accuracy_difference.significant
        and p.log_loss_difference.p_value is not None
        and not p.log_loss_difference.significant
    ]
    if not hits:
        return None
    hits.sort(key=lambda p: -abs(p.accuracy_difference.value))
    top = hits[0]
    better, worse, points = _gap(top)
    others = f" {len(hits) - 1} other pair(s) likewise." if len(hits) > 1 else ""
    message = (
        f"{better} is {points:.1f} accuracy points ahead of {worse} (exact McNemar "
        f"p = {_p(top.accuracy_difference.p_value)}), yet their log loss is tied: "
        f"{top.a} - {top.b} = {_interval(top.log_loss_difference, c)}, "
        f"p = {_p(top.log_loss_difference.p_value)}.{others}"
    )
    evidence = {
        "alpha": c.alpha,
        "correction": c.correction,
        "count": len(hits),
        "pairs": [
            {
                "a": p.a,
                "b": p.b,
                "accuracy_difference": p.accuracy_difference.value,
                "accuracy_p_value": p.accuracy_difference.p_value,
                "accuracy_p_value_adjusted": p.accuracy_difference.p_value_adjusted,
                "log_loss_difference": p.log_loss_difference.value,
                "log_loss_ci_low": p.log_loss_difference.ci_low,
                "log_loss_ci_high": p.log_loss_difference.ci_high,
                "log_loss_p_value": p.log_loss_difference.p_value,
                "log_loss_p_value_adjusted": p.log_loss_difference.p_value_adjusted,
            }
            for p in hits[:MAX_LISTED]
        ],
    }
    return LOSS_TIE.finding(
        "medium",
        message,
        evidence,
        "The two scores answer different questions: if the probabilities matter (ranking, "
        "risk, a threshold chosen later), the models are equally good; only if every use is "
        "a decision at this threshold does the accuracy gap decide.",
    )


def rank_disagreement(c: Comparison) -> Finding | None:
    """The proper-score ranking and the accuracy ranking order some models oppositely.

    With an infinite log loss in the comparison every loss is read capped (as the paired
    differences are), so this finding and ``infinite_loss`` give one verdict."""
    capped = c.by == "log_loss" and any(
        not math.isfinite(m.metric("log_loss")) for m in c.models
    )
    key = "log_loss_clipped" if capped else c.by
    values = [(m.name, m.metric(key), m.metric("accuracy")) for m in c.models]
    discordant = [
        (a, b)
        for i, (a, score_a, acc_a) in enumerate(values)
        for b, score_b, acc_b in values[i + 1 :]
        # lower score with higher accuracy agrees; a positive product disagrees
        if (score_a - score_b) * (acc_a - acc_b) > 0
    ]
    if not discordant:
        return None
    real = [
        p
        for p in c.pairs
        if p.accuracy_difference.significant
        and p.difference(c.by).significant
        and p.accuracy_difference.value * p.difference(c.by).value > 0
    ]
    best_score = min(c.models, key=lambda m: m.metric(key))
    best_accuracy = min(c.models, key=lambda m: m.accuracy_rank)
    tau = kendall_tau([m.metric(key) for m in c.models], [m.accuracy_rank for m in c.models])
    name = _NAMES[c.by] + (" (each loss capped at 34.54 nats)" if capped else "")
    total = len(values) * (len(values) - 1) // 2
    noise = "" if real else ": the disagreement may be sampling noise"
    message = (
        f"The rankings disagree: by {name} the best model is {best_score.name} "
        f"({best_score.metric(key):.4f}), by accuracy {best_accuracy.name} "
        f"({best_accuracy.metric('accuracy'):.4f}); {len(discordant)} of {total} "
        f"model pair(s) are ordered oppositely, {len(real)} of them with both differences "
        f"significant{noise}."
        if best_score.name != best_accuracy.name
        else f"{best_score.name} is best by both {name} and accuracy, but {len(discordant)} of "
        f"{total} model pair(s) are ordered oppositely by the two, {len(real)} of them with "
        f"both differences significant{noise}."
    )
    evidence: dict[str, Any] = {
        "by": c.by,
        "best_by_score": best_score.name,
        "best_by_accuracy": best_accuracy.name,
        "discordant_pairs": len(discordant),
        "model_pairs": total,
        "significant_discordant_pairs": len(real),
        "kendall_tau": float(tau),
        "examples": [{"a": a, "b": b} for a, b in discordant[:MAX_LISTED]],
    }
    return RANK_DISAGREEMENT.finding(
        "medium" if real else "low",
        message,
        evidence,
        f"Choose by {name} when the probabilities are used; accuracy counts only the "
        "decisions at one threshold, and a model can gain it by pushing samples just across "
        "the threshold (the near-threshold flips of each pair show how many).",
    )


def _example(p: PairComparison, metric: str) -> dict[str, Any]:
    d = p.difference(metric)
    return {
        "a": p.a,
        "b": p.b,
        "metric": metric,
        "value": d.value,
        "ci_low": d.ci_low,
        "ci_high": d.ci_high,
        "p_value": d.p_value,
        "p_value_adjusted": d.p_value_adjusted,
    }


def difference_not_significant(c: Comparison) -> Finding | None:
    """Some differences, in accuracy or in the ranking score, are within sampling noise."""
    noise = {
        metric: [
            p
            for p in c.pairs
            if p.difference(metric).p_value is not None and not p.difference(metric).significant
        ]
        for metric in ("accuracy", c.by)
    }
    if not any(noise.values()):
        return None
    best = c.models[0].name
    unclear = [p for p in noise[c.by] if best in (p.a, p.b)]
    largest = sorted(noise["accuracy"], key=lambda p: -abs(p.accuracy_difference.value))
    listed = [(p, c.by) for p in unclear] + [(p, "accuracy") for p in largest]
    name = _NAMES[c.by]
    message = (
        f"{len(noise['accuracy'])} of {len(c.pairs)} accuracy difference(s) and "
        f"{len(noise[c.by])} of {len(c.pairs)} {name} difference(s) are within sampling "
        f"noise ({_significance_level(c)})"
    )
    if unclear:
        rival = unclear[0].b if unclear[0].a == best else unclear[0].a
        message += (
            f"; the best model by {name}, {best}, is not clearly better than {rival} "
            f"({unclear[0].a} - {unclear[0].b} = {_interval(unclear[0].difference(c.by), c)})"
        )
    evidence = {
        "alpha": c.alpha,
        "correction": c.correction,
        "by": c.by,
        "pairs": len(c.pairs),
        "accuracy_not_significant": len(noise["accuracy"]),
        "score_not_significant": len(noise[c.by]),
        "best_model": best,
        "best_not_clearly_better_than": [p.b if p.a == best else p.a for p in unclear],
        "examples": [_example(p, metric) for p, metric in listed[:MAX_LISTED]],
    }
    return DIFFERENCE_NOT_SIGNIFICANT.finding(
        "medium" if unclear else "low",
        message + ".",
        evidence,
        "Do not choose between these models on this sample alone: evaluate on more samples "
        "(interval widths shrink as 1/sqrt(n)) or decide on other grounds (cost, speed, "
        "simplicity).",
    )


#: The rules, in no particular order; `find` ranks their findings.
def _pair(c: Comparison, a: str, b: str) -> PairComparison | None:
    return next((p for p in c.pairs if {p.a, p.b} == {a, b}), None)


def clipped_winner(c: Comparison) -> tuple[ModelResult, ModelResult, float, Difference] | None:
    """A model whose log loss is infinite but which beats the best finite model once each
    sample's loss is capped at 34.54 nats (outputs clipped to [1e-15, 1 - 1e-15]).

    Returns (that model, the best finite model, its margin in nats, the capped paired
    difference oriented as winner minus finite) when the capped difference is significant;
    None otherwise (and when ranking by Brier, which no zero makes infinite).
    """
    if c.by != "log_loss":
        return None
    finite = [m for m in c.models if math.isfinite(m.metric("log_loss"))]
    infinite = [m for m in c.models if not math.isfinite(m.metric("log_loss"))]
    if not finite or not infinite:
        return None
    best = finite[0]
    challenger = min(infinite, key=lambda m: m.metric("log_loss_clipped"))
    pair = _pair(c, challenger.name, best.name)
    if pair is None:
        return None
    d = pair.log_loss_difference
    sign = 1.0 if pair.a == challenger.name else -1.0
    oriented = Difference(
        sign * d.value,
        None if d.ci_low is None or d.ci_high is None else min(sign * d.ci_low, sign * d.ci_high),
        None if d.ci_low is None or d.ci_high is None else max(sign * d.ci_low, sign * d.ci_high),
        d.p_value,
        d.p_value_adjusted,
        d.significant,
        d.method,
        d.clipped,
    )
    if not (oriented.value < 0 and oriented.significant):
        return None
    return challenger, best, -oriented.value, oriented


def infinite_loss(c: Comparison) -> Finding | None:
    """Models with an infinite log loss, and whether one wins once its outputs are clipped."""
    infinite = [m for m in c.models if not math.isfinite(m.metric("log_loss"))]
    if not infinite or c.by != "log_loss":
        return None
    counts = ", ".join(
        f"{m.name} ({m.infinite_count} sample(s))"
        for m in infinite
    )
    evidence: dict[str, Any] = {
        "models": [m.name for m in infinite],
        "infinite_count": {
            m.name: m.infinite_count for m in infinite
        },
        "log_loss_clipped": {m.name: m.metric("log_loss_clipped") for m in infinite},
        "clip": 1e-15,
    }
    message = (
        f"Some models give a true class a probability of exactly 0, so their log loss is "
        f"infinite and they rank last by it: {counts}."
    )
    won = clipped_winner(c)
    if won is None:
        return INFINITE_LOSS.finding(
            book.infinite_loss_severity(decides=False),
            message + " Even with each loss capped at 34.54 nats none of them beats the best "
            "finite model beyond noise.",
            evidence,
            "Never output hard 0/1 probabilities: clip the outputs (e.g. to [1e-7, 1 - 1e-7]) "
            "or keep the logits.",
        )
    winner, best, margin, d = won
    interval = (
        ""
        if d.ci_low is None or d.ci_high is None
        else f", {c.confidence:.0%} interval [{-d.ci_high:.4f}, {-d.ci_low:.4f}]"
    )
    evidence.update(
        winner=winner.name,
        best_finite=best.name,
        margin=margin,
        margin_ci_low=None if d.ci_high is None else -d.ci_high,
        margin_ci_high=None if d.ci_low is None else -d.ci_low,
    )
    return INFINITE_LOSS.finding(
        book.infinite_loss_severity(decides=True),
        message
        + f" With each loss capped at 34.54 nats (outputs clipped to [1e-15, 1 - 1e-15]) "
        f"{winner.name} scores {winner.metric('log_loss_clipped'):.4f} against "
        f"{best.name}'s {best.metric('log_loss'):.4f}: clip the outputs and it "
        f"wins by {margin:.4f} nats per sample{interval}.",
        evidence,
        f"Clip {winner.name}'s outputs (e.g. to [1e-7, 1 - 1e-7]) or recalibrate them before "
        f"using its probabilities: capped, it is the better model; {best.name} ranks first by "
        "the raw log loss only because a single zero makes a loss infinite.",
    )


RULES: list[Rule] = [
    infinite_loss,
    threshold_flips,
    loss_tie,
    rank_disagreement,
    difference_not_significant,
]


def find(c: Comparison, rules: list[Rule] | None = None) -> list[Finding]:
    """Run the rules on a Comparison; findings ranked by severity (stable within one)."""
    found = [f for rule in (RULES if rules is None else rules) if (f := rule(c)) is not None]
    return book.rank(found)

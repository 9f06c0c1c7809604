"""Terminal rendering of a Comparison with rich: reads numbers, computes none."""

from __future__ import annotations

import math
from collections.abc import Iterator

from rich import box
from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from lossgap.render.answer import Answer, KeyNumber, Step, interval_text
from lossgap.render.text import findings_renderables, format_number, style
from lossgap.results.compare import PAIR_METRICS, Comparison, Difference, PairComparison
from lossgap.results.evaluation import MAX_CLIPPED_LOSS

#: Pairs shown in the terminal (the best model's pairs come first); the JSON has all.
MAX_PAIR_ROWS = 15

_LABELS = {"log_loss": "log loss", "brier": "Brier", "accuracy": "accuracy", "roc_auc": "ROC AUC"}
_SHORT = {"log_loss": "log loss", "brier": "Brier", "accuracy": "acc", "roc_auc": "AUC"}


def format_p(p: float | None) -> str:
    """A p-value for people.

    Examples
    --------
    >>> format_p(0.04321), format_p(3e-9), format_p(None)
    ('0.0432', '<0.0001', '-')
    """
    if p is None:
        return "-"
    return "<0.0001" if p < 1e-4 else f"{p:.4f}"


def headline(c: Comparison) -> str:
    """One sentence: the best model by the proper score and by accuracy."""
    best = c.models[0]
    by_accuracy = min(c.models, key=lambda m: m.accuracy_rank)
    score = format_number(best.metric(c.by))
    accuracy = format_number(by_accuracy.metric("accuracy"))
    won = next(
        (f.evidence for f in c.findings if f.code == "infinite_loss" and "winner" in f.evidence),
        None,
    )
    if won is not None:  # one verdict: the raw ranking crowns a model only a zero put ahead
        return (
            f"{won['winner']} is best once its outputs are clipped: its log loss is infinite "
            f"only because some probabilities are exactly 0; capped, it beats "
            f"{won['best_finite']} by {won['margin']:.4f} nats (best by accuracy: "
            f"{by_accuracy.name}, {accuracy})."
        )
    if best.name == by_accuracy.name:
        return f"{best.name} is best by both {_LABELS[c.by]} ({score}) and accuracy ({accuracy})."
    return (
        f"Best by {_LABELS[c.by]}: {best.name} ({score}); best by accuracy: "
        f"{by_accuracy.name} ({accuracy}). The two rankings disagree."
    )


def _table() -> Table:
    """A table that fits 80 columns: no vertical rules, one space between columns."""
    return Table(
        box=box.SIMPLE_HEAD, show_edge=False, header_style="bold", pad_edge=False,
        padding=(0, 1),
    )


def _stacked(value: str, interval: str) -> str:
    """A value over its interval: numbers are never cut, the column stays narrow."""
    return f"{value}\n{interval}" if interval else value


def _interval3(low: float | None, high: float | None) -> str:
    return "" if low is None or high is None else f"[{low:.3f}, {high:.3f}]"


def models_table(c: Comparison) -> Table:
    """Rank, model, the ranking score and accuracy with their intervals (values over them)."""
    table = _table()
    table.add_column("rank", justify="right", no_wrap=True)
    table.add_column("model", overflow="fold", ratio=1)
    table.add_column(_LABELS[c.by], justify="right", no_wrap=True)
    table.add_column("accuracy", justify="right", no_wrap=True)
    table.add_column("acc.\nrank", justify="right", no_wrap=True)
    table.caption = f"value over its {c.confidence:.0%} interval"
    for m in c.models:
        metrics = m.metrics
        score, acc = metrics[c.by], metrics["accuracy"]
        table.add_row(
            str(m.rank),
            m.name,
            _stacked(format_number(score.value), _interval3(score.ci_low, score.ci_high)),
            _stacked(format_number(acc.value), _interval3(acc.ci_low, acc.ci_high)),
            str(m.accuracy_rank),
        )
    return table


def other_scores_table(c: Comparison) -> Table:
    """The other proper score and ROC AUC of each model, ranked as above."""
    other = "brier" if c.by == "log_loss" else "log_loss"
    table = _table()
    table.add_column("rank", justify="right", no_wrap=True)
    table.add_column("model", overflow="fold", ratio=1)
    for metric in (other, "roc_auc"):
        table.add_column(_LABELS[metric], justify="right", no_wrap=True)
    for m in c.models:
        metrics = m.metrics
        table.add_row(
            str(m.rank),
            m.name,
            *(
                _stacked(format_number(metrics[k].value),
                         _interval3(metrics[k].ci_low, metrics[k].ci_high))
                for k in (other, "roc_auc")
            ),
        )
    return table


def verdict(c: Comparison, pair: PairComparison) -> Text:
    """Which differences of a pair are real (significant), in words."""
    real = [m for m in PAIR_METRICS if pair.difference(m).significant]
    if not real:
        return Text("none", style=style("dim"))
    return Text(", ".join(_SHORT[m] for m in real), style=style("info"))


def _stacked_difference(d: Difference) -> str:
    """A paired difference over its interval (``*`` marks capped log losses)."""
    star = "*" if d.clipped else ""
    if d.ci_low is None or d.ci_high is None:
        return f"{format_number(d.value, 3)}{star}"
    return f"{d.value:+.3f}{star}\n[{d.ci_low:+.3f}, {d.ci_high:+.3f}]"


def pairs_table(c: Comparison) -> Table:
    """Each shown pair: differences a - b over their intervals, their p-values, verdict."""
    table = _table()
    table.add_column("a - b", overflow="fold", ratio=1)
    table.add_column("accuracy", justify="right", no_wrap=True)
    table.add_column("p", justify="right", no_wrap=True)
    table.add_column("log loss", justify="right", no_wrap=True)
    table.add_column("p", justify="right", no_wrap=True)
    table.add_column("real", overflow="fold", min_width=4)
    for pair in c.pairs[:MAX_PAIR_ROWS]:
        table.add_row(
            f"{pair.a} -\n{pair.b}",
            _stacked_difference(pair.accuracy_difference),
            format_p(pair.accuracy_difference.p_value_adjusted),
            _stacked_difference(pair.log_loss_difference),
            format_p(pair.log_loss_difference.p_value_adjusted),
            verdict(c, pair),
        )
    return table


def flips_table(c: Comparison) -> Table:
    """Each shown pair's flips (all and near the threshold) and its ROC AUC test."""
    table = _table()
    table.add_column("a - b", overflow="fold", ratio=1)
    table.add_column("right only\nunder a / b", justify="right", no_wrap=True)
    table.add_column("near the\nthreshold", justify="right", no_wrap=True)
    table.add_column("AUC p", justify="right", no_wrap=True)
    for pair in c.pairs[:MAX_PAIR_ROWS]:
        f = pair.flips
        table.add_row(
            f"{pair.a} - {pair.b}",
            f"{f.a_only_correct}/{f.b_only_correct}",
            f"{f.near_threshold_a_only_correct}/{f.near_threshold_b_only_correct}",
            format_p(pair.roc_auc_difference.p_value_adjusted),
        )
    return table


def comparison_renderables(c: Comparison) -> Iterator[RenderableType]:
    """The terminal comparison: headline, ranking, pairs with their verdicts, findings."""
    yield Text(headline(c), style=style("headline"))
    compared = f"each against {c.reference}" if c.reference else "all pairs"
    yield Text(
        f"{c.n} samples, {c.task} ({', '.join(map(str, c.classes))}); decision: "
        f"{c.decision_rule}; {len(c.models)} models ranked by {_LABELS[c.by]}; {compared}.",
        style=style("dim"),
    )
    yield Text("")
    yield models_table(c)
    yield Text("")
    yield other_scores_table(c)
    yield Text("")
    yield pairs_table(c)
    yield Text("")
    yield flips_table(c)
    hidden = len(c.pairs) - MAX_PAIR_ROWS
    correction = (
        f"Holm-adjusted over the {len(c.pairs)} pairs per metric"
        if c.correction == "holm"
        else "one pair, no correction"
    )
    yield Text(
        (f"{hidden} more pair(s) in --json. " if hidden > 0 else "")
        + f"Differences are a - b with {c.confidence:.0%} paired intervals; p: {correction} "
        "(exact McNemar for accuracy, paired t for log loss, DeLong for ROC AUC); real means "
        f"p < {c.alpha:.2g}. Flips: right only under a / only under b; near: {c.near_rule}."
        + (
            f" * log loss with per-sample losses capped at {MAX_CLIPPED_LOSS:.2f} nats (a model "
            "of the pair has an infinite loss)."
            if any(p.log_loss_difference.clipped for p in c.pairs[:MAX_PAIR_ROWS])
            else ""
        ),
        style=style("dim"),
    )
    if c.goals:
        yield Text("")
        yield Text("Which to keep", style="bold")
        for choice in c.goals:
            yield Text(f"{choice.verdict} ({choice.method})")
    yield Text("")
    yield Text("Findings", style="bold")
    if not c.findings:
        yield Text("None: the rankings agree and every difference is real.")
    yield from findings_renderables(c.findings)


# --- the short answer ----------------------------------------------------------------------


def _spread(c: Comparison, metric: str) -> tuple[float, float]:
    values = [m.metric(metric) for m in c.models]
    return min(values), max(values)


def _widest_half(c: Comparison, metric: str) -> float | None:
    """The widest half-width of a paired interval of ``metric`` (how big noise can be)."""
    halves = [
        (d.ci_high - d.ci_low) / 2
        for p in c.pairs
        if (d := p.difference(metric)).ci_low is not None and d.ci_high is not None
    ]
    return max(halves) if halves else None


def comparison_answer(c: Comparison) -> Answer:
    """The short answer of ``compare``: which model to keep, and whether the gaps are real."""
    best = c.models[0]
    by_accuracy = min(c.models, key=lambda m: m.accuracy_rank)
    score = _LABELS[c.by]
    real = {
        m: sum(p.difference(m).significant for p in c.pairs) for m in ("accuracy", c.by)
    }
    n_pairs = len(c.pairs)
    codes = {f.code: f for f in c.findings}
    if not real["accuracy"] and not real[c.by]:
        acc_low, acc_high = _spread(c, "accuracy")
        score_low, score_high = _spread(c, c.by)
        accuracies = (
            "the accuracies are equal"
            if acc_high == acc_low
            else f"the accuracies differ by up to {(acc_high - acc_low) * 100:.1f} points"
        )
        nobody = (
            "Neither model is better than the other"
            if len(c.models) == 2
            else "No model is better than another"
        )
        headline = (
            f"{nobody} beyond sampling noise: {accuracies} and the {score}es by "
            f"{format_number(score_high - score_low, 3)}, within what {c.n} samples allow "
            f"({n_pairs} pair(s) tested)."
        )
    elif best.name == by_accuracy.name:
        headline = f"Keep {best.name}: it is best by both {score} and accuracy."
    else:
        headline = (
            f"Keep {best.name} if you use the probabilities (best {score}), "
            f"{by_accuracy.name} if only the decisions count (best accuracy)."
        )
    numbers = [
        KeyNumber(
            f"best by {score}",
            format_number(best.metric(c.by)),
            interval_text(best.metrics[c.by].ci_low,
                          best.metrics[c.by].ci_high, 3),
            best.name,
        ),
        KeyNumber(
            "best by accuracy",
            format_number(by_accuracy.metric("accuracy")),
            interval_text(by_accuracy.metrics["accuracy"].ci_low,
                          by_accuracy.metrics["accuracy"].ci_high, 3),
            by_accuracy.name,
        ),
    ]
    for metric in (c.by, "accuracy"):
        low, high = _spread(c, metric)
        half = _widest_half(c, metric)
        noise = "" if half is None else f" (noise \u00b1{half:.3f})"
        numbers.append(
            KeyNumber(f"{_LABELS[metric]} spread", format_number(high - low, 3), "",
                      f"{real[metric]} of {n_pairs} gaps real{noise}")
        )
    infinite = [m.name for m in c.models if not math.isfinite(m.metric("log_loss"))]
    findings = []
    if infinite:
        one = len(infinite) == 1
        findings.append(
            f"{' and '.join(infinite)} {'gives' if one else 'give'} some true class a "
            f"probability of exactly 0, so {'its' if one else 'their'} log loss is infinite: "
            "one such answer outweighs every other sample; clip the outputs before comparing "
            "by loss."
        )
    flips = codes.get("threshold_flips")
    if flips is not None:
        findings.append(flips.message)
    most = max(c.pairs, key=lambda p: p.flips.a_only_correct + p.flips.b_only_correct)
    f = most.flips
    flipped = f.a_only_correct + f.b_only_correct
    findings.append(
        "The models make the same decision on every sample; they differ only in how sure "
        "they are, which the loss sees and accuracy does not."
        if flipped == 0
        else f"{most.a} and {most.b} disagree on {flipped} of {c.n} samples (a flip: one model "
        f"right, the other wrong); {f.near_threshold} of these sit near the threshold "
        f"({c.near_rule}), where a tiny change of probability flips the decision."
    )
    if best.name != by_accuracy.name:
        findings.append(
            f"{score.capitalize()} and accuracy rank the models differently; "
            f"{score} changes smoothly with the probabilities, accuracy jumps when one "
            "crosses the threshold."
        )
    steps = [
        Step(
            f"Choose by {score} (it weighs how sure each prediction is); read accuracy gaps "
            f"under \u00b1{_widest_half(c, 'accuracy') or 0:.3f} as noise.",
        )
    ]
    if not real["accuracy"] or not real[c.by]:
        steps.append(
            Step(
                "To separate these models, evaluate on more samples, or repeat each training "
                "with a few seeds and compare the spread.",
                "4 times the samples halve the intervals.",
            )
        )
    steps.append(Step("Otherwise decide on other grounds: cost, speed, simplicity."))
    if c.goals:  # a goal was asked for (--goal): its verdicts answer the question
        headline = " ".join(g.verdict[:1].upper() + g.verdict[1:] for g in c.goals)
    return Answer(
        headline=headline,
        numbers=tuple(numbers),
        confidence=c.confidence,
        findings=tuple(findings[:3]),
        steps=tuple(steps),
        details="Every model and pair with intervals and tests: --full. Terms: docs/glossary.md",
    )

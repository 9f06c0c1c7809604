"""Terminal rendering of a Comparison with rich: reads numbers, computes none."""

from __future__ import annotations

from collections.abc import Iterator

from rich.console import JustifyMethod, RenderableType
from rich.table import Table
from rich.text import Text

from lossgap.render.text import findings_renderables, format_interval, format_number, style
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


def _difference(d: Difference) -> str:
    """``+0.123 [0.100, 0.146]``; a star marks log losses capped because one is infinite."""
    star = "*" if d.clipped else ""
    if d.ci_low is None or d.ci_high is None:
        return f"{format_number(d.value, 3)}{star}"
    return f"{d.value:+.3f}{star} [{d.ci_low:.3f}, {d.ci_high:.3f}]"


def headline(c: Comparison) -> str:
    """One sentence: the best model by the proper score and by accuracy."""
    best = c.models[0]
    by_accuracy = min(c.models, key=lambda m: m.accuracy_rank)
    score = format_number(best.evaluation.metric(c.by))
    accuracy = format_number(by_accuracy.evaluation.metric("accuracy"))
    if best.name == by_accuracy.name:
        return f"{best.name} is best by both {_LABELS[c.by]} ({score}) and accuracy ({accuracy})."
    return (
        f"Best by {_LABELS[c.by]}: {best.name} ({score}); best by accuracy: "
        f"{by_accuracy.name} ({accuracy}). The two rankings disagree."
    )


def models_table(c: Comparison) -> Table:
    level = f"{c.confidence:.0%} interval"
    other = "brier" if c.by == "log_loss" else "log_loss"
    table = Table(show_edge=False, header_style="bold", pad_edge=False)
    columns: list[tuple[str, JustifyMethod]] = [
        ("rank", "right"),
        ("model", "left"),
        (_LABELS[c.by], "right"),
        (level, "right"),
        ("accuracy", "right"),
        (level, "right"),
        ("acc. rank", "right"),
        (_LABELS[other], "right"),
        ("ROC AUC", "right"),
    ]
    for name, justify in columns:
        table.add_column(name, justify=justify)
    for m in c.models:
        metrics = m.evaluation.metrics
        table.add_row(
            str(m.rank),
            m.name,
            format_number(metrics[c.by].value),
            format_interval(metrics[c.by]),
            format_number(metrics["accuracy"].value),
            format_interval(metrics["accuracy"]),
            str(m.accuracy_rank),
            format_number(metrics[other].value),
            format_number(metrics["roc_auc"].value),
        )
    return table


def verdict(c: Comparison, pair: PairComparison) -> Text:
    """Which differences of a pair are real (significant), in words."""
    real = [m for m in PAIR_METRICS if pair.difference(m).significant]
    if not real:
        return Text("none", style=style("dim"))
    return Text(", ".join(_SHORT[m] for m in real), style=style("info"))


def pairs_table(c: Comparison) -> Table:
    table = Table(show_edge=False, header_style="bold", pad_edge=False)
    for name in ("a - b", "accuracy", "p", "log loss", "p", "AUC p", "flips a/b (near)", "real"):
        table.add_column(name, justify="left" if name in ("a - b", "real") else "right")
    for pair in c.pairs[:MAX_PAIR_ROWS]:
        f = pair.flips
        table.add_row(
            f"{pair.a} - {pair.b}",
            _difference(pair.accuracy_difference),
            format_p(pair.accuracy_difference.p_value_adjusted),
            _difference(pair.log_loss_difference),
            format_p(pair.log_loss_difference.p_value_adjusted),
            format_p(pair.roc_auc_difference.p_value_adjusted),
            f"{f.a_only_correct}/{f.b_only_correct} "
            f"({f.near_threshold_a_only_correct}/{f.near_threshold_b_only_correct})",
            verdict(c, pair),
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
    yield pairs_table(c)
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
    yield Text("")
    yield Text("Findings", style="bold")
    if not c.findings:
        yield Text("None: the rankings agree and every difference is real.")
    yield from findings_renderables(c.findings)

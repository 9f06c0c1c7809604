"""The terminal answer of ``lossgap lab logistic``."""

from __future__ import annotations

from collections.abc import Iterator

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from lossgap.render.answer import Answer, KeyNumber, Step
from lossgap.render.text import format_number, style
from lossgap.results.lab import LabResult

# --- terminal ----------------------------------------------------------------------------


def lab_renderables(result: LabResult) -> Iterator[RenderableType]:
    """Terminal output: the fit, the accuracy-maximising rules, the explanation."""
    source = result.source
    yield Text(
        f"Logistic regression lab: {result.n} points ({source.get('kind')}), base rate "
        f"{result.base_rate:.4f}.",
        style=style("headline"),
    )
    if "about" in source:
        yield Text(source["about"], style=style("dim"))
    fit = result.cross_entropy_fit
    table = Table(show_edge=False, header_style="bold", pad_edge=False, title=None)
    for column in ("", "slope", "intercept", "cut", "log loss", "accuracy"):
        table.add_column(column, justify="left" if not column else "right")
    if fit is not None:
        table.add_row(
            "cross-entropy fit",
            f"{fit.slope:.4g}",
            f"{fit.intercept:.4g}",
            f"{fit.cut:.4g}",
            format_number(fit.log_loss),
            format_number(fit.accuracy),
        )
    for interval in result.accuracy_intervals[:10]:
        table.add_row(
            interval.rule,
            f"{interval.slope:.4g}",
            f"{interval.intercept:.4g}",
            "-" if interval.cut is None else f"{interval.cut:.4g}",
            format_number(interval.min_log_loss) + ("" if interval.attained else " (limit)"),
            format_number(interval.accuracy),
        )
    yield Text("")
    yield table
    if len(result.accuracy_intervals) > 10:
        yield Text(
            f"... and {len(result.accuracy_intervals) - 10} more (see --json).",
            style=style("dim"),
        )
    if fit is not None and fit.per_point_log_loss is not None and result.n <= 20:
        losses = ", ".join(f"{v:.2f}" for v in fit.per_point_log_loss)
        yield Text(f"Per-point log loss of the fit: {losses}", style=style("dim"))
    yield Text("")
    for paragraph in result.explanation:
        yield Text(paragraph)


# --- the short answer --------------------------------------------------------------------


def lab_answer(result: LabResult) -> Answer:
    """The short answer of the lab: does minimising cross-entropy give up accuracy here?"""
    fit = result.cross_entropy_fit
    details = "The rules, the profiles and every number: --full. Plots: --plot DIR."
    if fit is None:
        message = result.separation.message if result.separation else "No fit exists."
        return Answer(message, details=details)
    gap = result.best_accuracy - fit.accuracy
    cheapest = min(result.accuracy_intervals, key=lambda i: i.min_log_loss)
    if gap > 1e-12:
        headline = (
            f"Minimising cross-entropy (log loss) gives up {gap * 100:.1f} accuracy points "
            f"here: the fit is right {fit.accuracy:.1%} of the time, while the best cut "
            f"({cheapest.rule}) is right {result.best_accuracy:.1%} of the time but costs more "
            "log loss."
        )
    else:
        headline = (
            f"Here the cross-entropy fit also has the best accuracy ({fit.accuracy:.2%}): the "
            "two criteria agree."
        )
    numbers = [
        KeyNumber(
            "fit: log loss", f"{fit.log_loss:.4f}", "", f"slope {fit.slope:.3g}, cut {fit.cut:.3g}"
        ),
        KeyNumber("fit: accuracy", f"{fit.accuracy:.4f}", "", f"{result.n} points"),
        KeyNumber("best accuracy", f"{result.best_accuracy:.4f}", "", "over every cut"),
        KeyNumber(
            "its least log loss",
            f"{cheapest.min_log_loss:.4f}",
            "",
            f"{cheapest.min_log_loss - fit.log_loss:+.4f} against the fit"
            + ("" if cheapest.attained else " (a limit)"),
        ),
    ]
    findings = [
        "Cross-entropy counts how far each point lies on the wrong side of the cut, accuracy "
        "only that it does: a point far on the wrong side pulls the fitted cut towards it."
    ]
    steps = [
        Step(
            "Train and select by log loss when the probabilities matter; if only decisions "
            "count, choose the threshold afterwards on held-out data by accuracy or cost."
        )
    ]
    return Answer(headline, tuple(numbers), None, tuple(findings), tuple(steps), details)

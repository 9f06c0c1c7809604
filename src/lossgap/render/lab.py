"""The terminal answer of ``lossgap lab logistic``."""

from __future__ import annotations

from collections.abc import Iterator

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

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
    if fit is not None and result.n <= 20:
        losses = ", ".join(f"{v:.2f}" for v in fit.per_point_log_loss)
        yield Text(f"Per-point log loss of the fit: {losses}", style=style("dim"))
    yield Text("")
    for paragraph in result.explanation:
        yield Text(paragraph)

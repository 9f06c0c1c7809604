"""The terminal answer of ``lossgap interpret``."""

from __future__ import annotations

from collections.abc import Iterator

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from lossgap.render.text import findings_renderables, format_number, style
from lossgap.results.interpret import Interpretation

# --- terminal ----------------------------------------------------------------------------


def _range_text(values: list[float] | None, digits: int = 4) -> str:
    if values is None:
        return "none"
    return f"{format_number(values[0], digits)} - {format_number(values[1], digits)}"


def headline(result: Interpretation) -> str:
    """The first high or medium finding; otherwise the verdict that loss and accuracy agree."""
    serious = [f for f in result.findings if f.severity in ("high", "medium")]
    return (serious or [f for f in result.findings if f.code == "consistent"])[0].message


def interpretation_renderables(result: Interpretation) -> Iterator[RenderableType]:
    """Terminal output: headline, one column per split, findings, explanation."""
    yield Text(headline(result), style=style("headline"))
    yield Text(f"decision: {result.decision_rule}; logs are natural (nats).", style=style("dim"))
    yield Text("")
    table = Table(show_edge=False, header_style="bold", pad_edge=False)
    table.add_column("")
    for name in result.splits:
        table.add_column(name, justify="right")
    rows = [
        ("log loss", lambda s: format_number(s.log_loss)),
        ("accuracy", lambda s: _range_text(s.accuracy_interval) if s.accuracy is None
         else format_number(s.accuracy)),
        ("normalized entropy", lambda s: format_number(s.normalized_entropy, 3)
         + (" (at least)" if s.normalized_entropy_is_lower_bound else "")),
        ("calibrated accuracy range", lambda s: _range_text(s.calibrated_accuracy_range)),
        ("calibrated loss range", lambda s: _range_text(s.calibrated_loss_range)),
        ("calibrated model possible", lambda s: {True: "yes", False: "no", None: "-"}[
            s.calibrated_feasible]),
        ("mean loss on errors", lambda s: _range_text(s.error_loss_range, 2)),
        ("accuracy interval", lambda s: "-" if s.accuracy_noise is None else _range_text(
            [s.accuracy_noise["ci_low"], s.accuracy_noise["ci_high"]])),
    ]
    for label, cell in rows:
        table.add_row(label, *(cell(s) for s in result.splits.values()))
    yield table
    yield Text("")
    yield Text("Findings", style="bold")
    yield from findings_renderables(result.findings)
    yield Text("")
    for paragraph in result.explanation:
        yield Text(paragraph)
        yield Text("")
    for note in result.notes:
        yield Text(f"Note: {note}", style=style("dim"))

"""Terminal rendering of a HistoryReport with rich: reads numbers, computes none."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rich import box
from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from lossgap.render.text import findings_renderables, format_number
from lossgap.results.history import HistoryReport, RunAnalysis

#: How many skipped files the terminal lists (the JSON has them all).
SHOWN_SKIPPED = 5


def _summary(analysis: RunAnalysis) -> str:
    run = analysis.run
    parts = []
    for key in (run.loss, run.score):
        entry = analysis.best.get(key) if key else None
        if entry is not None:
            parts.append(
                f"{key} best at {run.axis} {entry['epoch']} ({format_number(entry['value'])})"
            )
    last = run.n_points - 1
    if last >= 0:
        values = []
        for key in (run.loss, run.score):
            series = run.values(key)
            if series is not None:
                values.append(f"{key} {format_number(float(series[last]))}")
        parts.append(f"last {run.axis} {run.label(last)}: {', '.join(values)}")
    return "; ".join(parts) + "."


def run_renderables(analysis: RunAnalysis) -> Iterator[RenderableType]:
    """One run: name and size, best points, findings with advice, notes."""
    run = analysis.run
    yield Text(f"{run.name}", style="lossgap.headline")
    size = f"{run.format}, {run.n_points} validation point(s) by {run.axis}"
    if analysis.n_val is not None:
        size += f", {analysis.n_val} validation samples ({analysis.n_val_source})"
    yield Text(size, style="lossgap.dim")
    yield Text(_summary(analysis))
    if analysis.findings:
        yield from findings_renderables(analysis.findings)
    else:
        yield Text("Nothing stands out: loss and score move together.", style="lossgap.info")
    for note in run.notes:
        yield Text(f"note: {note}", style="lossgap.dim")


def per_epoch_table(rows: list[dict[str, Any]]) -> Table:
    """Accuracy, loss, decomposition and confident errors of each epoch's predictions."""
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, header_style="bold", pad_edge=False)
    columns = ("epoch", "n", "accuracy", "log loss", "MCB", "DSC", "UNC", "conf.", "share")
    for column in columns:
        table.add_column(column, justify="left" if column == "epoch" else "right")
    for row in rows:
        parts = row["decomposition"] or {}
        confident = row["confident_errors"] or {}
        table.add_row(
            str(row["epoch"]),
            str(row["n"]),
            format_number(row["accuracy"]),
            format_number(row["log_loss"]),
            format_number(parts.get("miscalibration")),
            format_number(parts.get("discrimination")),
            format_number(parts.get("uncertainty")),
            "-" if confident.get("count") is None else f"{confident['count']:g}",
            "-" if confident.get("loss_share") is None else f"{confident['loss_share']:.0%}",
        )
    return table


def report_renderables(report: HistoryReport) -> Iterator[RenderableType]:
    """The whole report: each run, then the per-epoch predictions and their findings."""
    for i, analysis in enumerate(report.runs):
        if i:
            yield Text("")
        yield from run_renderables(analysis)
    if report.per_epoch:
        yield Text("")
        yield Text("Saved predictions, epoch by epoch", style="bold")
        yield Text(
            "log loss = MCB (miscalibration) - DSC (discrimination) + UNC (uncertainty); "
            "conf.: confident errors (true class at most 0.1), share: their share of the loss",
            style="lossgap.dim",
        )
        yield per_epoch_table(report.per_epoch)
        yield from findings_renderables(report.findings)
    for note in report.notes:
        yield Text(f"note: {note}", style="lossgap.dim")
    if report.skipped:
        yield Text("")
        yield Text(
            f"{len(report.skipped)} file(s) skipped (not a training log):", style="lossgap.dim"
        )
        for entry in report.skipped[:SHOWN_SKIPPED]:
            yield Text(f"  {entry['path']}: {entry['reason']}", style="lossgap.dim")

"""Terminal rendering of an Evaluation with rich: reads numbers, computes none.

Styles are names from :data:`THEME` (``lossgap.high``...), never colours in the code.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from rich.console import Console, ConsoleOptions, RenderableType
from rich.segment import Segment
from rich.style import Style
from rich.table import Table
from rich.text import Text
from rich.theme import Theme

from lossgap.printable import printable
from lossgap.results.evaluation import Evaluation, Finding, MetricValue

THEME = Theme(
    {
        "lossgap.high": "bold red",
        "lossgap.medium": "yellow",
        "lossgap.low": "cyan",
        "lossgap.info": "green",
        "lossgap.headline": "bold",
        "lossgap.advice": "italic",
        "lossgap.dim": "dim",
    }
)

#: Metrics shown in the terminal table, in order (the JSON has them all).
SHOWN_METRICS = (
    "log_loss",
    "baseline_log_loss",
    "accuracy",
    "balanced_accuracy",
    "f1",
    "roc_auc",
    "brier",
    "ece",
    "smooth_ece",
    "calibration_slope",
    "calibration_intercept",
)


def style(name: str) -> Style:
    """The theme's style ``lossgap.<name>``, usable on any console (themed or not)."""
    return THEME.styles[f"lossgap.{name}"]


class PrintableConsole(Console):
    """A console that writes no control character of the text it renders.

    Markup and emoji codes are off (a ``[v2]`` in a file name stays as typed), and every
    segment of text is passed through :func:`~lossgap.printable.printable` line by line,
    whatever renderable it comes from; the console's own styling (colour codes, cursor
    moves of a progress bar) is not text and is kept.
    """

    def render(
        self, renderable: RenderableType, options: ConsoleOptions | None = None
    ) -> Iterable[Segment]:
        for segment in super().render(renderable, options):
            text = segment.text
            if segment.control or text.isprintable() or text == "\n":
                yield segment
            else:
                safe = "\n".join(printable(line) for line in text.split("\n"))
                yield Segment(safe, segment.style, segment.control)


def make_console(*, stderr: bool = False, **kwargs: Any) -> Console:
    r"""A console with the lossgap theme that prints user text inert (:class:`PrintableConsole`).

    Examples
    --------
    >>> import io
    >>> out = io.StringIO()
    >>> make_console(file=out).print("report[v2].html \x1b[2J")
    >>> out.getvalue()
    'report[v2].html \\x1b[2J\n'
    """
    kwargs = {"markup": False, "emoji": False, **kwargs}
    return PrintableConsole(theme=THEME, stderr=stderr, **kwargs)


def format_number(value: float | None, digits: int = 4) -> str:
    """A number for people: ``inf`` and NaN spelled out, 4 decimals by default.

    Examples
    --------
    >>> format_number(0.123456), format_number(float("inf")), format_number(None)
    ('0.1235', 'infinite', '-')
    """
    if value is None:
        return "-"
    if math.isnan(value):
        return "undefined"
    if math.isinf(value):
        return "infinite" if value > 0 else "-infinite"
    return f"{value:.{digits}f}"


def short_method(text: str) -> str:
    """The first words of an interval's method (the JSON has the full description).

    Examples
    --------
    >>> short_method("bootstrap (200 Poisson replicates, seed 0)")
    'bootstrap'
    """
    return text.split(" (")[0]


def format_interval(metric: MetricValue) -> str:
    if metric.ci_low is None or metric.ci_high is None:
        return ""
    return f"[{format_number(metric.ci_low)}, {format_number(metric.ci_high)}]"


def headline(ev: Evaluation) -> str:
    """One sentence: the main finding, or that loss and accuracy agree."""
    top = next((f for f in ev.findings if f.severity in ("high", "medium")), None)
    acc, loss = ev.metric("accuracy"), ev.metric("log_loss")
    numbers = f"accuracy {format_number(acc)}, log loss {format_number(loss)}"
    if top is None:
        return f"{numbers}: loss and accuracy agree."
    return f"{numbers}: {top.message}"


def metrics_table(ev: Evaluation) -> Table:
    level = f"{ev.confidence:.0%} interval"
    table = Table(title=None, show_edge=False, header_style="bold", pad_edge=False)
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_column(level, justify="right")
    table.add_column("method", style=style("dim"))
    for name in SHOWN_METRICS:
        metric = ev.metrics.get(name)
        if metric is None:
            continue
        table.add_row(
            name,
            format_number(metric.value),
            format_interval(metric),
            short_method(metric.ci_method or ""),
        )
    return table


def worst_table(ev: Evaluation, limit: int = 5) -> Table:
    table = Table(show_edge=False, header_style="bold", pad_edge=False)
    for column in ("id", "label", "predicted", "p(true class)", "loss"):
        table.add_column(column, justify="right" if column in ("p(true class)", "loss") else "left")
    for row in ev.worst[:limit]:
        table.add_row(
            printable(row["id"]),
            printable(row["label"]),
            printable(row["predicted"]),
            f"{row['prob_true_class']:.4g}",
            format_number(row["loss"]),
        )
    return table


def findings_renderables(findings: Sequence[Finding]) -> Iterator[RenderableType]:
    """Numbered findings, severity-styled, each followed by what to do."""
    for i, finding in enumerate(findings, 1):
        line = Text(f"{i}. ")
        line.append(f"[{finding.severity}] {finding.code}", style=style(finding.severity))
        line.append(f": {finding.message}")
        yield line
        if finding.advice:
            yield Text(f"   What to do: {finding.advice}", style=style("advice"))


def explanation_renderables(ev: Evaluation) -> Iterator[RenderableType]:
    """The terminal explanation: headline, numbers, findings with advice, worst samples."""
    yield Text(headline(ev), style=style("headline"))
    classes = ", ".join(map(printable, ev.classes))
    yield Text(
        f"{ev.n} samples, {ev.task} ({classes}); decision: {ev.decision_rule}.",
        style=style("dim"),
    )
    yield Text("")
    yield metrics_table(ev)
    yield Text("")
    yield Text("Findings", style="bold")
    yield from findings_renderables(ev.findings)
    if ev.worst:
        yield Text("")
        yield Text("Worst samples (highest log loss)", style="bold")
        yield worst_table(ev)

"""Terminal tables of where the loss lives: per class, confusion pairs, slices, labels.

Each shows its top rows (most loss first) within 80 columns; the JSON has every row.
Renderers read numbers and compute none.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from lossgap.render.text import (
    explanation_renderables,
    findings_renderables,
    format_number,
    metrics_table,
    style,
)
from lossgap.results.evaluation import Evaluation
from lossgap.results.multilabel import MultilabelEvaluation

#: Rows shown per table.
TOP_ROWS = 8
#: Longest class, group or label text shown (the rest elided).
NAME_WIDTH = 16


def _name(value: Any) -> str:
    text = str(value)
    return text if len(text) <= NAME_WIDTH else text[: NAME_WIDTH - 1] + "…"


def _pct(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.1%}"


def _table(*columns: str) -> Table:
    table = Table(show_edge=False, header_style="bold", pad_edge=False)
    for i, column in enumerate(columns):
        table.add_column(column, justify="left" if i == 0 else "right", no_wrap=True)
    return table


def per_class_table(ev: Evaluation, limit: int = TOP_ROWS) -> Table:
    """The classes with the most loss: support, recall, F1, loss share, ECE, confident errors."""
    table = _table("class", "support", "recall", "f1", "loss", "ece", "conf. err", "expected")
    for row in sorted(ev.per_class, key=lambda r: -r.loss_share)[:limit]:
        table.add_row(
            _name(row.label),
            f"{row.support:g}",
            format_number(row.recall, 3),
            format_number(row.f1, 3),
            _pct(row.loss_share),
            format_number(row.ece, 3),
            f"{row.confident_errors:g}",
            f"{row.expected_if_calibrated:.1f}",
        )
    return table


def pairs_table(ev: Evaluation, limit: int = TOP_ROWS) -> Table:
    """The confusion pairs with the most loss, with what a calibrated model would put there."""
    table = _table("true -> decided", "count", "expected", "loss", "p-value")
    for pair in ev.confusion_pairs[:limit]:
        table.add_row(
            f"{_name(pair.true)} -> {_name(pair.predicted)}",
            f"{pair.count:g}",
            f"{pair.expected_if_calibrated:.1f}",
            _pct(pair.loss_share),
            f"{pair.p_value:.2g}",
        )
    return table


def slices_table(ev: Evaluation, limit: int = TOP_ROWS) -> Table:
    """Per group: size, share of the loss, confident errors, log loss and the calibration test."""
    table = _table("group", "n", "share", "loss", "conf. err", "expected", "log loss", "calib. p")
    rows = sorted(ev.slices, key=lambda s: -s.loss_share)[:limit]
    for s in rows:
        table.add_row(
            _name(f"{s.by}={s.group}"),
            f"{s.n}",
            _pct(s.share),
            _pct(s.loss_share),
            f"{s.confident_errors:g}",
            f"{s.expected_if_calibrated:.1f}",
            format_number(s.evaluation.metric("log_loss"), 3),
            "-" if math.isnan(s.calibration.p_value) else f"{s.calibration.p_value:.2g}",
        )
    return table


def where_renderables(ev: Evaluation) -> Iterator[RenderableType]:
    """The per-class, confusion-pair and slice tables of an evaluation (those it has)."""
    more = Text("", style=style("dim"))
    if ev.per_class:
        yield Text("")
        yield Text("Per class (most loss first)", style="bold")
        yield per_class_table(ev)
    if ev.confusion_pairs:
        yield Text("")
        yield Text("Confusion pairs that carry the loss", style="bold")
        yield pairs_table(ev)
    if ev.slices:
        yield Text("")
        yield Text("Slices (most loss first)", style="bold")
        yield slices_table(ev)
        if len(ev.slices) > TOP_ROWS:
            more.append(f"{len(ev.slices) - TOP_ROWS} more groups in the JSON (--json).")
            yield more


def evaluation_renderables(ev: Evaluation) -> Iterator[RenderableType]:
    """The terminal explanation followed by where its loss lives (the registered renderer
    of an Evaluation)."""
    yield from explanation_renderables(ev)
    yield from where_renderables(ev)


def multilabel_renderables(result: MultilabelEvaluation) -> Iterator[RenderableType]:
    """The multilabel explanation: per-label table, micro summary, findings."""
    micro = result.micro
    yield Text(
        f"{len(result.labels)} labels, {micro.n // max(len(result.labels), 1)} samples; micro "
        f"log loss {format_number(micro.metric('log_loss'))}, micro F1 "
        f"{format_number(micro.metric('f1'))}, macro F1 {format_number(result.macro.get('f1'))}.",
        style=style("headline"),
    )
    yield Text("")
    table = _table("label", "loss", "log loss", "accuracy", "f1", "roc auc", "ece", "finding")
    order = sorted(range(len(result.labels)), key=lambda j: -result.loss_share[j])
    for j in order[:TOP_ROWS]:
        ev = result.evaluations[j]
        top = ev.findings[0].code if ev.findings else ""
        table.add_row(
            _name(result.labels[j]),
            _pct(result.loss_share[j]),
            format_number(ev.metric("log_loss"), 3),
            format_number(ev.metric("accuracy"), 3),
            format_number(ev.metric("f1"), 3),
            format_number(ev.metric("roc_auc"), 3),
            format_number(ev.metric("ece"), 3),
            _name(top),
        )
    yield table
    yield Text("")
    yield Text("Micro (every sample and label pooled)", style="bold")
    yield metrics_table(micro)
    yield Text("")
    yield Text("Findings", style="bold")
    yield from findings_renderables(result.findings)

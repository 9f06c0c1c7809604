"""Markdown summaries for pull-request comments: headline, findings, tables with intervals.

GitHub-flavoured Markdown. Every user string (ids, class, model, run and file names, and
the messages that quote them) goes through :func:`escape`, so it shows as typed and can
neither open a tag nor break a table. Renderers read numbers and compute none.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from lossgap.printable import printable
from lossgap.render.compare import format_p
from lossgap.render.compare import headline as comparison_headline
from lossgap.render.text import (
    SHOWN_METRICS,
    decision_lines,
    format_interval,
    format_number,
    headline,
)
from lossgap.results.compare import Comparison
from lossgap.results.evaluation import Evaluation, Finding
from lossgap.results.history import HistoryReport
from lossgap.version import __version__

#: Rows of the worst-samples and pairs tables.
MAX_ROWS = 10

_BACKSLASHED = re.compile(r"([\\`*_\[\]|~#])")
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


def escape(value: Any) -> str:
    """A user string made inert in Markdown: no markup, no HTML, no table break.

    Examples
    --------
    >>> escape("<script>alert(1)</script> | *x*")
    '&lt;script&gt;alert(1)&lt;/script&gt; \\\\| \\\\*x\\\\*'
    """
    # a newline would end a table row; a control character would act on a terminal
    text = printable(" ".join(str(value).split()))
    text = "".join(_ENTITIES.get(ch, ch) for ch in text)
    return _BACKSLASHED.sub(r"\\\1", text)


def table(header: Sequence[str], rows: Iterable[Sequence[str]], right: Sequence[bool]) -> str:
    """A Markdown table (cells must already be escaped)."""
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---:" if r else "---" for r in right) + "|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def findings_list(findings: Sequence[Finding], runs: Sequence[str | None] | None = None) -> str:
    """Numbered findings with their advice."""
    if not findings:
        return "_No findings._"
    lines = []
    for i, f in enumerate(findings, 1):
        run = f" ({escape(runs[i - 1])})" if runs and runs[i - 1] else ""
        lines.append(f"{i}. **{f.severity}** `{f.code}`{run}: {escape(f.message)}")
        if f.advice:
            lines.append(f"   *What to do:* {escape(f.advice)}")
    return "\n".join(lines)


def _footer(extra: str = "") -> str:
    return f"<sub>lossgap {__version__}{extra}; natural logarithms (nats).</sub>"


def _title(kind: str, source: str | None) -> str:
    return f"### lossgap {kind}" + (f": {escape(source)}" if source else "")


def explain_markdown(ev: Evaluation, *, source: str | None = None) -> str:
    """The explanation of one evaluation as Markdown.

    Examples
    --------
    >>> import lossgap
    >>> ev = lossgap.explain([0, 1, 1, 0], [0.2, 0.9, 0.6, 0.4], ids=["a", "b", "c", "<d>"])
    >>> print(explain_markdown(ev).splitlines()[0])
    ### lossgap explain
    >>> "&lt;d&gt;" in explain_markdown(ev)
    True
    """
    level = f"{ev.confidence:.0%} interval"
    metrics = table(
        ("metric", "value", level),
        (
            (name, format_number(ev.metrics[name].value), format_interval(ev.metrics[name]))
            for name in SHOWN_METRICS
            if name in ev.metrics
        ),
        (False, True, True),
    )
    worst = table(
        ("id", "label", "predicted", "p(true class)", "log loss"),
        (
            (
                escape(row.id),
                escape(row.label),
                escape(row.predicted),
                f"{row.prob_true_class:.4g}",
                format_number(row.loss),
            )
            for row in ev.worst[:MAX_ROWS]
        ),
        (False, False, False, True, True),
    )
    classes = ", ".join(escape(c) for c in ev.classes)
    parts = [
        _title("explain", source),
        f"**{escape(headline(ev))}**",
        f"{ev.n} samples, {ev.task} ({classes}); decision: {escape(ev.decision_rule)}.",
        metrics,
    ]
    if ev.decision is not None and ev.decision.costs is not None:
        lines = decision_lines(ev.decision)
        parts.append(
            "#### Decisions\n\n" + "\n".join(f"- {escape(line.strip())}" for line in lines)
        )
    parts += ["#### Findings, and what to do", findings_list(ev.findings)]
    if ev.worst:
        parts.append(
            "<details><summary>Worst samples (highest log loss)</summary>\n\n" + worst
            + "\n\n</details>"
        )
    parts.append(_footer(f"; intervals at {ev.confidence:.0%}"))
    return "\n\n".join(parts) + "\n"


def comparison_markdown(c: Comparison, *, source: str | None = None) -> str:
    """A comparison as Markdown: ranking, pairs with their verdicts, findings."""
    level = f"{c.confidence:.0%} interval"
    by = c.by.replace("_", " ")
    models = table(
        ("rank", "model", by, level, "accuracy", level, "accuracy rank"),
        (
            (
                str(m.rank),
                escape(m.name),
                format_number(m.metric(c.by)),
                format_interval(m.metrics[c.by]),
                format_number(m.metric("accuracy")),
                format_interval(m.metrics["accuracy"]),
                str(m.accuracy_rank),
            )
            for m in c.models
        ),
        (True, False, True, True, True, True, True),
    )

    def diff(d: Any) -> str:
        interval = "" if d.ci_low is None else f" [{d.ci_low:+.4f}, {d.ci_high:+.4f}]"
        return f"{format_number(d.value)}{interval}"

    pairs = table(
        ("a − b", "accuracy", "p", "log loss", "p", "flips a / b (near threshold)"),
        (
            (
                f"{escape(p.a)} − {escape(p.b)}",
                diff(p.accuracy_difference),
                format_p(p.accuracy_difference.p_value_adjusted),
                diff(p.log_loss_difference),
                format_p(p.log_loss_difference.p_value_adjusted),
                f"{p.flips.a_only_correct} / {p.flips.b_only_correct} "
                f"({p.flips.near_threshold_a_only_correct} / "
                f"{p.flips.near_threshold_b_only_correct})",
            )
            for p in c.pairs[:MAX_ROWS]
        ),
        (False, True, True, True, True, True),
    )
    correction = "Holm-adjusted" if c.correction == "holm" else "one pair, unadjusted"
    parts = [
        _title("compare", source),
        f"**{escape(comparison_headline(c))}**",
        f"{len(c.models)} models on the same {c.n} samples; decision: "
        f"{escape(c.decision_rule)}.",
        models,
        f"Paired differences a − b with {level}s; p-values {correction}.",
        pairs,
        "#### Findings, and what to do",
        findings_list(c.findings),
        _footer(f"; intervals at {c.confidence:.0%}"),
    ]
    if len(c.pairs) > MAX_ROWS:
        parts.insert(6, f"_{len(c.pairs) - MAX_ROWS} more pairs in `--json`._")
    return "\n\n".join(parts) + "\n"


def history_headline(report: HistoryReport) -> str:
    """The most severe finding's message, else where the first run's loss was best."""
    ranked = sorted(report.all_findings(), key=lambda pair: pair[1].rank)
    if ranked and ranked[0][1].severity in ("high", "medium"):
        return ranked[0][1].message
    run = report.runs[0]
    best = run.best.get(run.run.loss)
    if best is None:
        return f"{run.run.name}: nothing stands out."
    together = "; loss and score move together" if run.run.score else ""
    return (
        f"{run.run.name}: {run.run.loss} is lowest at {run.run.axis} {best.epoch} "
        f"({format_number(best.value)}){together}."
    )


def history_markdown(report: HistoryReport) -> str:
    """A training history as Markdown: best points, findings, per-epoch predictions."""
    best = table(
        ("metric", "run", "epoch", "value"),
        (
            (escape(key), escape(b.run or ""), escape(b.epoch), format_number(b.value))
            for key, b in report.best().items()
        ),
        (False, False, True, True),
    )
    pairs = report.all_findings()
    several = len(report.runs) > 1
    parts = [
        _title("history", report.source),
        f"**{escape(history_headline(report))}**",
        best,
        "#### Findings, and what to do",
        findings_list([f for _, f in pairs], [r if several else None for r, _ in pairs]),
    ]
    if report.per_epoch:
        rows = []
        for row in report.per_epoch:
            terms = row.decomposition
            rows.append(
                (
                    escape(row.epoch),
                    format_number(row.accuracy),
                    format_number(row.log_loss),
                    format_number(None if terms is None else terms.miscalibration),
                    format_number(None if terms is None else terms.discrimination),
                )
            )
        parts.append(
            table(
                ("epoch", "accuracy", "log loss", "miscalibration", "discrimination"),
                rows,
                (True, True, True, True, True),
            )
        )
    parts.append(_footer())
    return "\n\n".join(parts) + "\n"


def demo_markdown(story: Any) -> str:
    """The demo's three steps (:class:`lossgap.demo.DemoStory`) as one Markdown summary."""
    return "\n".join(
        (
            history_markdown(story.history),
            explain_markdown(story.evaluation, source=f"epoch {story.late}"),
            comparison_markdown(story.comparison),
        )
    )


def lab_markdown(result: Any) -> str:
    """A logistic-regression lab (:class:`lossgap.lab.LabResult`) as Markdown."""
    fit = result.cross_entropy_fit
    rows = []
    if fit is not None:
        rows.append(("cross-entropy fit", f"{fit.slope:.4g}", f"{fit.intercept:.4g}",
                     f"{fit.cut:.4g}", format_number(fit.log_loss), format_number(fit.accuracy)))
    rows += [
        (
            escape(i.rule),
            f"{i.slope:.4g}",
            f"{i.intercept:.4g}",
            "-" if i.cut is None else f"{i.cut:.4g}",
            format_number(i.min_log_loss) + ("" if i.attained else " (limit)"),
            format_number(i.accuracy),
        )
        for i in result.accuracy_intervals[:MAX_ROWS]
    ]
    source = result.source.get("file")
    parts = [
        _title("lab logistic", None if source is None else Path(source).name),
        *(escape(p) for p in result.explanation),
        table(("rule", "slope", "intercept", "cut", "log loss", "accuracy"), rows,
              (False, True, True, True, True, True)),
        _footer(),
    ]
    return "\n\n".join(parts) + "\n"

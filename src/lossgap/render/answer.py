"""The short answer every command gives by default, in one shape.

An :class:`Answer` is what a user reads first: a headline sentence that answers the
question, a few key numbers with their intervals (each with a few plain words saying
what it is), the findings that matter in a sentence or two each, one ordered "What to
do" list with the expected effect of each step, and a pointer to the details. Each
command builds its Answer from its result (reading numbers, computing none); this module
renders any Answer on a terminal (about 25 lines at 80 columns), as HTML and as
Markdown, and gives every result a one-line ``repr``.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterator
from dataclasses import dataclass, field

from rich.console import RenderableType
from rich.table import Table
from rich.style import Style
from rich.text import Text

#: Where the terms used in the answers are explained at more length.
GLOSSARY = "docs/glossary.md"
#: Findings shown in the short answer; the others are one ``--full`` away.
SHOWN_FINDINGS = 3
#: Steps shown in "What to do".
SHOWN_STEPS = 3


@dataclass(frozen=True)
class KeyNumber:
    """One number of the short answer.

    Attributes
    ----------
    label : str
        The name of the number, in plain words (``"log loss"``).
    value : str
        The number as printed.
    interval : str
        Its interval as printed (``"[0.59, 2.13]"``), empty when there is none.
    note : str
        A few words saying what the number is or what to compare it with.
    """

    label: str
    value: str
    interval: str = ""
    note: str = ""


@dataclass(frozen=True)
class Step:
    """One step of "What to do": the action and its expected effect in numbers."""

    action: str
    effect: str = ""


@dataclass(frozen=True)
class Answer:
    """The short answer of one command.

    Attributes
    ----------
    headline : str
        One or two sentences that answer the question asked.
    numbers : tuple of KeyNumber
        At most about five.
    confidence : float or None
        Level of the intervals in ``numbers``, when any has one.
    findings : tuple of str
        The findings that matter, one or two sentences each.
    steps : tuple of Step
        What to do, in order.
    details : str
        Where the rest is (``--full``, the HTML report, the glossary).
    """

    headline: str
    numbers: tuple[KeyNumber, ...] = ()
    confidence: float | None = None
    findings: tuple[str, ...] = ()
    steps: tuple[Step, ...] = field(default_factory=tuple)
    details: str = ""

    def __rich_console__(self, console: object, options: object) -> Iterator[RenderableType]:
        yield from answer_renderables(self)


def _style(name: str) -> Style:
    """The theme's ``lossgap.<name>``, usable on a console without the theme."""
    from lossgap.render.text import style  # the theme lives with the terminal renderer

    return style(name)


def interval_text(low: float | None, high: float | None, digits: int = 2) -> str:
    """An interval for the short answer, or an empty string when there is none.

    Examples
    --------
    >>> interval_text(0.58551, 2.1319), interval_text(None, 1.0)
    ('[0.59, 2.13]', '')
    """
    if low is None or high is None or not (math.isfinite(low) and math.isfinite(high)):
        return ""
    return f"[{low:.{digits}f}, {high:.{digits}f}]"


def numbers_table(answer: Answer) -> Table:
    """The key numbers: name, value, interval, what it means (only the last column wraps)."""
    table = Table.grid(padding=(0, 1))
    table.add_column(no_wrap=True)
    table.add_column(justify="right", no_wrap=True)
    table.add_column(no_wrap=True)
    table.add_column(style=_style("dim"), overflow="fold")
    for number in answer.numbers:
        table.add_row(f"  {number.label}", number.value, number.interval, number.note)
    return table


def answer_renderables(answer: Answer) -> Iterator[RenderableType]:
    """The answer on a terminal: headline, key numbers, findings, What to do, details."""
    yield Text(answer.headline, style=_style("headline"))
    if answer.numbers:
        yield Text("")
        level = "" if answer.confidence is None else f" ({answer.confidence:.0%} intervals)"
        yield Text(f"Key numbers{level}", style="bold")
        yield numbers_table(answer)
    if answer.findings:
        yield Text("")
        yield Text("Why", style="bold")
        for finding in answer.findings:
            yield bullet(finding)
    if answer.steps:
        yield Text("")
        yield Text("What to do", style="bold")
        for i, step in enumerate(answer.steps, 1):
            line = Text(f"{i}. {step.action}", style=_style("advice"))
            if step.effect:
                line.append(f" Expected: {step.effect}")
            yield hanging(line, "   ")
    if answer.details:
        yield Text("")
        yield Text(answer.details, style=_style("dim"))


def bullet(text: str) -> Table:
    """``- text``, continuation lines indented under the text."""
    return hanging(Text(f"- {text}"), "  ")


def hanging(text: Text, indent: str) -> Table:
    """A paragraph whose continuation lines start under its first word."""
    table = Table.grid()
    table.add_column(width=len(indent), no_wrap=True)
    table.add_column(overflow="fold")
    head = text.plain[: len(indent)]
    body = text[len(indent):]
    table.add_row(head, body)
    return table


def answer_text(answer: Answer) -> str:
    """The answer as plain text at 80 columns (what the terminal shows without colour)."""
    from lossgap.render.text import render_plain

    return render_plain(answer, width=80)


def answer_html(answer: Answer, *, details: str = "") -> str:
    """The answer as an HTML fragment; ``details`` (HTML) folded under it.

    Examples
    --------
    >>> page = answer_html(Answer("Loss and accuracy agree.", (KeyNumber("log loss", "0.46"),)))
    >>> "<h3" in page and "0.46" in page and "<summary>Details" not in page
    True
    """
    e = html.escape
    parts = ['<div class="lossgap-answer" style="max-width:60rem;overflow-wrap:anywhere">']
    parts.append(f"<p><strong>{e(answer.headline)}</strong></p>")
    if answer.numbers:
        level = "" if answer.confidence is None else f" ({answer.confidence:.0%} intervals)"
        parts.append(f"<h3 style='font-size:1em'>Key numbers{e(level)}</h3>")
        parts.append("<table style='border-collapse:collapse'>")
        for n in answer.numbers:
            parts.append(
                "<tr>"
                f"<td style='padding:0 .6em 0 0'>{e(n.label)}</td>"
                f"<td style='padding:0 .6em 0 0;text-align:right;white-space:nowrap'>{e(n.value)}</td>"
                f"<td style='padding:0 .6em 0 0;white-space:nowrap'>{e(n.interval)}</td>"
                f"<td style='color:#555'>{e(n.note)}</td></tr>"
            )
        parts.append("</table>")
    if answer.findings:
        parts.append("<h3 style='font-size:1em'>Why</h3><ul>")
        parts += [f"<li>{e(f)}</li>" for f in answer.findings]
        parts.append("</ul>")
    if answer.steps:
        parts.append("<h3 style='font-size:1em'>What to do</h3><ol>")
        for step in answer.steps:
            effect = f" <em>Expected: {e(step.effect)}</em>" if step.effect else ""
            parts.append(f"<li>{e(step.action)}{effect}</li>")
        parts.append("</ol>")
    if details:
        parts.append(f"<details><summary>Details</summary>{details}</details>")
    parts.append(glossary_html(folded=True))
    parts.append("</div>")
    return "\n".join(parts)


def glossary_html(*, folded: bool) -> str:
    """The glossary as an HTML definition list (``id="glossary"``), folded or as a section."""
    from lossgap.render.glossary import TERMS

    rows = "".join(
        f"<dt><strong>{html.escape(term)}</strong></dt><dd>{html.escape(text)}</dd>"
        for term, text in TERMS.items()
    )
    if folded:
        return f"<details id='glossary'><summary>Terms used</summary><dl>{rows}</dl></details>"
    return f"<section id='glossary'><h2>Terms used</h2><dl>{rows}</dl></section>"


def answer_markdown(answer: Answer) -> list[str]:
    """The answer as Markdown lines."""
    lines = [f"**{answer.headline}**", ""]
    if answer.numbers:
        level = "" if answer.confidence is None else f" ({answer.confidence:.0%} intervals)"
        lines += [f"Key numbers{level}:", ""]
        lines += [
            f"- {n.label}: {n.value}" + (f" {n.interval}" if n.interval else "")
            + (f" ({n.note})" if n.note else "")
            for n in answer.numbers
        ]
        lines.append("")
    if answer.findings:
        lines += ["Why:", ""] + [f"- {f}" for f in answer.findings] + [""]
    if answer.steps:
        lines += ["What to do:", ""]
        lines += [
            f"{i}. {s.action}" + (f" Expected: {s.effect}" if s.effect else "")
            for i, s in enumerate(answer.steps, 1)
        ]
        lines.append("")
    return lines


def one_line(kind: str, answer: Answer, *, width: int = 100) -> str:
    """A one-line ``repr`` of a result: its kind and the start of its headline.

    Examples
    --------
    >>> one_line("Evaluation", Answer("Loss and accuracy agree."))
    '<Evaluation: Loss and accuracy agree.>'
    """
    text = " ".join(answer.headline.split())
    room = width - len(kind) - 4
    if len(text) > room:
        text = text[: room - 3].rstrip() + "..."
    return f"<{kind}: {text}>"

"""The short answer every command gives by default, in one shape.

An :class:`Answer` is what a user reads first: a headline sentence that answers the
question, a few key numbers with their intervals (each with a few plain words saying
what it is), the findings that matter in a sentence or two each, one ordered "What to
do" list with the expected effect of each step, and a pointer to the details. Each
command builds its Answer from its result (reading numbers, computing none); this module
renders any Answer on a terminal (about 25 lines at 80 columns) and as HTML, and gives
every result a one-line ``repr``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from lossgap.render.theme import style


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
    table.add_column(style=style("dim"), overflow="fold")
    for number in answer.numbers:
        table.add_row(f"  {number.label}", number.value, number.interval, number.note)
    return table


def answer_renderables(answer: Answer) -> Iterator[RenderableType]:
    """The answer on a terminal: headline, key numbers, findings, What to do, details."""
    yield Text(answer.headline, style=style("headline"))
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
            line = Text(f"{i}. {step.action}", style=style("advice"))
            if step.effect:
                line.append(f" Expected: {step.effect}")
            yield hanging(line, "   ")
    if answer.details:
        yield Text("")
        yield Text(answer.details, style=style("dim"))


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


def short_answer(result: object) -> Iterator[RenderableType]:
    """A result on a terminal: its short answer (the ``"answer"`` renderer builds it)."""
    from lossgap.results.display import renderer

    yield renderer(result, "answer")(result)


def one_line_repr(result: object) -> str:
    """A result's ``repr``: its kind and the start of its answer's headline."""
    from lossgap.results.display import renderer

    return one_line(type(result).__name__, renderer(result, "answer")(result))


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

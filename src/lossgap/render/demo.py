"""The demo's short answer: the history, the last epoch explained, and what to do."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from lossgap.render.answer import Answer
from lossgap.render.history import history_answer
from lossgap.render.text import explain_answer


def demo_answer(story: Any) -> Answer:
    """The answer of ``lossgap demo``: which epoch to keep and why, in the shape of every
    command (the HTML report has the rest)."""
    history = history_answer(story.history)
    explained = explain_answer(story.evaluation)
    steps = list(history.steps[:2])
    rescale = next((s for s in explained.steps if "temperature" in s.action), None)
    if rescale is not None:
        action = rescale.action[0].lower() + rescale.action[1:]
        steps.append(replace(rescale, action=f"If you keep epoch {story.late}: {action}"))
    return Answer(
        headline=history.headline,
        numbers=history.numbers[:4],
        findings=history.findings[:1] + explained.findings[:1],
        steps=tuple(steps[:3]),
        details="The whole story, with plots: the HTML report. Terms: docs/glossary.md",
    )

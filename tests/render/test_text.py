"""The terminal explanation reads like a short expert answer: headline, numbers, findings."""

from __future__ import annotations

import io
import re

from rich.console import Console, Group

import lossgap
from lossgap.render.text import explanation_renderables
from tests.helpers.data import calibrated_logits, mri_case


def render(ev, width=100, *, full=True):
    """What a console without the lossgap theme prints: the full explanation or the answer."""
    out = io.StringIO()
    shown = Group(*explanation_renderables(ev)) if full else ev
    Console(file=out, width=width, color_system=None, legacy_windows=False).print(shown)
    return out.getvalue()


def test_mri_explanation_reads_in_order():
    y, z = mri_case()
    text = render(lossgap.explain(y, z, from_logits=True))
    lines = text.splitlines()
    assert lines[0].startswith("accuracy 0.8")  # the headline: numbers, then the main reason
    assert "Log loss" in lines[0] and "above" in lines[0]
    parts = ("95% interval", "Findings", "1. [high]", "What to do:", "Worst samples")
    order = [text.index(s) for s in parts]
    assert order == sorted(order)
    assert "confident_errors" in text and "overconfident" in text and "recalibration_gain" in text
    assert "wilson" in text and "delong" in text


def test_calibrated_explanation_says_consistent():
    y, t = calibrated_logits(5, 1000)
    text = render(lossgap.explain(y, t, from_logits=True))
    assert "loss and accuracy agree" in text.splitlines()[0]
    assert "[info] consistent" in text


def test_renders_without_the_lossgap_theme_and_narrow():
    y, t = calibrated_logits(6, 300)
    text = render(lossgap.explain(y, t, from_logits=True), width=60)
    assert "Findings" in text


def test_the_short_answer_leads_with_the_reason_and_the_fix():
    y, z = mri_case()
    ev = lossgap.explain(y, z, from_logits=True)
    text = render(ev, width=80, full=False)
    assert text.startswith("Accuracy 0.88 with log loss 1.28: 12 errors made with at least 90%")
    order = [text.index(s) for s in ("Key numbers", "Why", "What to do", "--full")]
    assert order == sorted(order)
    assert re.search(r"log loss 1.28 -> 0.3\d, no decision changes", text)  # held-out gain
    assert len(text.splitlines()) <= 25


def test_calibrated_short_answer_says_agree():
    y, t = calibrated_logits(5, 1000)
    text = render(lossgap.explain(y, t, from_logits=True), width=80, full=False)
    assert "loss and accuracy agree" in text.splitlines()[0]


def test_repr_is_one_line_and_html_folds_the_details():
    y, t = calibrated_logits(6, 300)
    ev = lossgap.explain(y, t, from_logits=True)
    assert "\n" not in repr(ev) and repr(ev).startswith("<Evaluation: ") and len(repr(ev)) <= 100
    page = ev._repr_html_()
    assert page.index("What to do") < page.index('<details class="more"><summary>Details')
    assert 'id="glossary"' in page

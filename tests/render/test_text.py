"""The terminal explanation reads like a short expert answer: headline, numbers, findings."""

from __future__ import annotations

import io

from rich.console import Console

import lossgap
from tests.helpers.data import calibrated_logits, mri_case


def render(ev, width=100):
    out = io.StringIO()
    Console(file=out, width=width, color_system=None, legacy_windows=False).print(ev)
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

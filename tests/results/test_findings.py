"""Finding evidence is typed JSON: every value the rules emit is a number, a string, a
boolean, null, or a list or string-keyed object of them; numbers read through ``number``."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import pytest

import lossgap
from lossgap.interpret import interpret
from lossgap.results.evaluation import Finding
from tests.helpers.data import mri_case, random_multiclass


def is_evidence_value(value: Any) -> bool:
    if value is None or isinstance(value, str | bool | numbers.Real):
        return True
    if isinstance(value, list | tuple):
        return all(is_evidence_value(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and is_evidence_value(v) for k, v in value.items())
    return False


def findings() -> list[Finding]:
    rng = np.random.default_rng(7)
    y, t = mri_case()
    p = 1 / (1 + np.exp(-t))
    ym, pm = random_multiclass(rng, 400, 3)
    sharp = pm**4 / (pm**4).sum(axis=1, keepdims=True)
    models = {"a": p, "b": np.clip(p * 0.9 + 0.05, 0, 1)}
    found = [
        *lossgap.explain(y, p).findings,
        *lossgap.explain(y, p, costs=(1, 20)).findings,
        *lossgap.explain(ym, sharp).findings,
        *lossgap.explain(y, np.where(np.arange(len(y)) == 0, 1 - y, p)).findings,
        *lossgap.compare(models, y).findings,
        *interpret("loss: 0.10 - acc: 0.99 - val_loss: 0.90 - val_acc: 0.80", n=50).findings,
        *interpret(loss=1.5996, f1=0.8738, n=108).findings,
    ]
    assert len({f.code for f in found}) >= 6  # enough codes to mean something
    return found


def test_every_emitted_evidence_is_json_shaped():
    for f in findings():
        bad = {k: v for k, v in f.evidence.items() if not is_evidence_value(v)}
        assert not bad, (f.code, bad)


def test_number_reads_numbers_and_refuses_the_rest():
    f = Finding("c", "low", "m", {"n": np.int64(40), "share": 0.25, "ids": [1], "flag": True,
                                  "none": None})
    assert f.number("n") == 40.0 and isinstance(f.number("n"), float)
    assert f.number("share") == 0.25
    assert f.number("none", 1.5) == 1.5 and f.number("missing", 0.0) == 0.0
    with pytest.raises(KeyError):
        f.number("missing")
    for key in ("ids", "flag"):
        with pytest.raises(TypeError, match="not a number"):
            f.number(key)


def test_the_findings_evidence_is_asdict_of_its_facts():
    # the rules copy their facts' fields without asdict's deep copy: the same dicts, with
    # lists of their own
    from dataclasses import asdict

    from lossgap.results.evaluation import flat_asdict

    rng = np.random.default_rng(4)
    p = rng.uniform(0.01, 0.99, 2_000)
    y = (rng.uniform(size=p.size) < p**1.5).astype(int)
    diagnostics = lossgap.explain(y, p).diagnostics
    facts = [
        diagnostics.confident_errors,
        diagnostics.calibration_in_the_large,
        diagnostics.threshold_band,
    ]
    for fact in facts:
        flat = flat_asdict(fact)
        assert flat == asdict(fact) and list(flat) == list(asdict(fact))
        for name, value in flat.items():
            if isinstance(value, list):
                assert value is not getattr(fact, name)

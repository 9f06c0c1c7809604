"""The recalibration section as a typed result: its two states, its JSON, its parameters."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.linear_model import LogisticRegression

import lossgap
from lossgap.results.recalibration import Recalibration
from lossgap.rules.decision import how_to_recalibrate
from tests.helpers.data import calibrated_logits, random_multiclass


def test_a_section_is_either_computed_or_says_why_not():
    scored = lossgap.explain(*calibrated_logits(0, 400), from_logits=True).recalibration
    one = scored.methods["platt"]
    with pytest.raises(ValueError, match="either its maps"):
        Recalibration()  # neither maps nor a reason
    with pytest.raises(ValueError, match="either its maps"):
        Recalibration({"platt": one}, best="platt", reason="too few")
    with pytest.raises(ValueError, match="either its maps"):
        Recalibration({"platt": one}, best="isotonic")
    skipped = Recalibration(reason="multiclass maps need the samples")
    assert not skipped.computed and skipped.method() is None
    assert skipped.description == "not computed: multiclass maps need the samples"


def test_json_keys_follow_the_contract():
    binary = lossgap.explain(*calibrated_logits(1, 400), from_logits=True).to_dict()
    rec = binary["recalibration"]
    assert list(rec) == ["scheme", "folds", "seed", "methods", "best"]
    assert list(rec["methods"]) == ["temperature", "intercept", "platt", "isotonic"]
    assert "temperature" in rec["methods"]["temperature"]
    assert {"intercept", "slope", "separable"} <= set(rec["methods"]["platt"])
    assert not {"temperature", "intercept", "slope"} & set(rec["methods"]["isotonic"])
    y, p = random_multiclass(np.random.default_rng(2), 300, 3)
    multi = lossgap.explain(y, p).to_dict()["recalibration"]
    assert list(multi) == ["scheme", "folds", "seed", "methods", "note", "best"]


def test_parameters_are_the_full_sample_fits():
    # Platt's map on all samples is an unpenalised logistic regression on the logit
    y, t = calibrated_logits(3, 1500)
    ev = lossgap.explain(y, 1.7 * t - 0.4, from_logits=True)
    platt = ev.recalibration_map("platt")
    ref = LogisticRegression(C=np.inf, tol=1e-10, max_iter=1000)
    ref.fit((1.7 * t - 0.4)[:, None], y)
    assert_allclose(
        [platt.parameters["intercept"], platt.parameters["slope"]],
        [ref.intercept_[0], ref.coef_[0, 0]],
        rtol=1e-5,
    )
    assert set(ev.recalibration_map("temperature").parameters) == {"temperature"}
    assert ev.recalibration_map("isotonic").parameters == {}
    temperature = ev.recalibration_map("temperature").temperature
    assert f"{temperature:.4g}" in how_to_recalibrate(
        "temperature", ev.recalibration_map("temperature").parameters
    )

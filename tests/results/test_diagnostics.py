"""The diagnostics section as a typed result: its JSON keys, and numbers against references."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score

import lossgap
from tests.helpers.data import calibrated_logits, random_multiclass

KEYS = [
    "majority_accuracy", "effective_n", "infinite_count", "confident_errors",
    "loss_concentration", "loss_against_baseline", "accuracy_against_majority",
    "calibration_in_the_large", "threshold_band", "label_errors", "ece_binning",
    "calibration_test",
]


def test_binary_diagnostics_against_hand_references():
    y, t = calibrated_logits(5, 1000)
    p = 1 / (1 + np.exp(-t))
    ev = lossgap.explain(y, p)
    d = ev.diagnostics
    assert list(d.to_dict()) == KEYS
    large = d.calibration_in_the_large
    assert large.mean_label == pytest.approx(y.mean())
    assert large.mean_probability == pytest.approx(p.mean())
    assert large.residual == pytest.approx(y.mean() - p.mean())
    majority = max(y.mean(), 1 - y.mean())
    assert d.majority_accuracy == pytest.approx(majority)
    accuracy = accuracy_score(y, p >= 0.5)
    assert d.accuracy_against_majority.difference == pytest.approx(accuracy - majority)
    band = d.threshold_band
    near = np.abs(p - 0.5) <= band.band
    assert band.count == near.sum() and band.share == pytest.approx(near.mean())
    confident = d.confident_errors
    assert confident.count == ((p >= 0.5) != y)[np.maximum(p, 1 - p) >= 0.9].sum()
    assert d.loss_concentration.calibrated is not None
    assert d.calibration_test is not None and d.ece_binning


def test_multiclass_diagnostics_leave_the_binary_parts_null():
    y, p = random_multiclass(np.random.default_rng(1), 300, 3)
    d = lossgap.explain(y, p).diagnostics
    assert d.calibration_in_the_large is None and d.threshold_band is None
    out = d.to_dict()
    assert list(out) == KEYS and out["threshold_band"] is None


def test_label_candidates_are_a_sequence_of_candidates_held_as_columns():
    from collections.abc import Sequence
    from dataclasses import asdict

    from lossgap.results.diagnostics import LabelCandidate, LabelCandidates

    found = LabelCandidates(
        id=np.array(["a", "b", "c"], dtype=object),
        label=np.array([1, 0, 1]),
        suggested=np.array([0, 1, 0]),
        probability=np.array([0.001, 0.01, 0.2]),
        chance=np.array([0.001, 0.01, 0.2]),
        confident_learning=np.array([True, False, True]),
    )
    as_list = [
        LabelCandidate("a", 1, 0, 0.001, 0.001, True),
        LabelCandidate("b", 0, 1, 0.01, 0.01, False),
        LabelCandidate("c", 1, 0, 0.2, 0.2, True),
    ]
    assert isinstance(found, Sequence) and len(found) == 3
    assert list(found) == as_list and found == as_list and found[-1] == as_list[-1]
    assert type(found[0].label) is int and type(found[0].probability) is float
    assert isinstance(found[1:], LabelCandidates) and found[1:] == as_list[1:]
    assert found[::2] == found[::2] and found[::2] != found[1:]
    assert found.to_records() == [asdict(c) for c in as_list]
    assert as_list[1] in found and found.index(as_list[2]) == 2
    with pytest.raises(IndexError):
        found[3]
    with pytest.raises(TypeError):
        hash(found)

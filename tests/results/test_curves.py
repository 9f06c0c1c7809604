"""The plot series as typed results: their JSON keeps the keys the dicts had."""

from __future__ import annotations

import json

import numpy as np
import pytest

import lossgap
from lossgap.core.decision import decision_curve
from lossgap.core.tally import ScoreTable, Tally
from lossgap.curves import evaluation_curves


def test_curves_to_dict_is_plain_json_with_the_documented_keys():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    p = np.clip(0.5 + (y - 0.5) * rng.uniform(0, 0.9, 300), 0.0, 1.0)
    pred = lossgap.Predictions(y, p)
    ev = lossgap.explain(y, p, costs=(1, 4))
    curves = evaluation_curves(ev, pred, tally=Tally.from_predictions(pred))
    d = json.loads(json.dumps(curves.to_dict(), allow_nan=False))
    assert list(d) == ["band", "band_outside", "histogram", "thresholds", "points", "decision"]
    assert list(d["thresholds"]) == [
        "threshold", "accuracy", "f1", "precision", "recall", "positive_share", "current",
        "exact", "best_accuracy", "best_f1",
    ]
    assert d["thresholds"]["best_accuracy"] == {
        "threshold": curves.thresholds.best_accuracy.threshold,
        "value": curves.thresholds.best_accuracy.value,
    }
    assert list(d["decision"]) == ["threshold", "precision", "recall", "cost"]
    assert set(d["points"]["labelled"][0]) == {"id", "confidence", "loss", "correct"}
    assert d["band"]["n"] == 300 and len(d["histogram"]["edges"]) == 21


def test_a_decision_curve_has_costs_or_net_benefits():
    table = ScoreTable(np.array([0.2, 0.6, 0.9]), np.array([[2.0, 0.0], [1.0, 1.0], [0.0, 2.0]]))
    with_costs, plain = decision_curve(table, (1, 2)), decision_curve(table)
    assert with_costs.net_benefit is None and plain.cost is None
    assert set(plain.to_dict()) == {
        "threshold", "precision", "recall", "net_benefit", "net_benefit_all",
    }
    # the net benefit of deciding positive for all at t: P/n - N/n * t / (1 - t)
    t = plain.threshold[1]
    assert plain.net_benefit_all[1] == pytest.approx(3 / 6 - 3 / 6 * t / (1 - t))

"""The calibrated labels one draw gives both the calibration errors' null and the loss
concentration's: their pooled table, their distribution and the precision of the share."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit

import lossgap
from lossgap import Predictions, Tally
from lossgap.core import bootstrap, diagnostics
from lossgap.core.bootstrap import calibrated_labels, resampling_table
from lossgap.core.diagnostics import (
    calibrated_concentration,
    loss_concentration,
    true_class_cells,
)


def _table(seed: int) -> Tally:
    """Tables of every shape: spread, rare class, confident errors, ties, weights."""
    rng = np.random.default_rng(seed)
    n = [500, 3_000, 20_000][seed % 3]
    kind = seed % 5
    p = expit(rng.normal([0, -4, 0, 1, -2][kind], [2, 1, 4, 1, 3][kind], n))
    if kind == 3:
        p = np.round(p, 2)
    y = (rng.uniform(size=n) < p).astype(int)
    if kind == 2:  # 2% certain of the wrong class
        k = n // 50
        y[:k] = p[:k] < 0.5
        p[:k] = np.where(y[:k] == 1, 1e-6, 1 - 1e-6)
    w = rng.uniform(0.2, 3.0, n) if seed % 4 == 0 else None
    return Tally.from_predictions(Predictions(y, p, sample_weight=w))


@pytest.mark.parametrize("seed", range(30))
def test_pooled_half_loss_share_is_within_its_bound_of_the_exact_one(seed):
    # the concentration test reads the resampling table: its share is the exact one to
    # 0.002 plus one sample's share (the exact share moves in steps of 1 / n)
    tally = _table(seed)
    exact = loss_concentration(*true_class_cells(tally))["half_loss_sample_share"]
    bound = 0.002 + 1 / tally.count
    assert calibrated_concentration(tally)["pooled_share"] == pytest.approx(exact, abs=bound)


def test_labels_are_drawn_at_each_rows_score():
    tally = _table(1)
    labels = calibrated_labels(tally, draws=400, seed=3)
    table = resampling_table(tally)
    assert np.array_equal(labels.table.scores, table.scores)
    assert labels.positives.shape == (400, len(table.scores))
    assert np.all((labels.positives >= 0) & (labels.positives <= labels.mass))
    # a calibrated model's positives: on average each row's mass times its score
    expected = labels.mass @ table.scores
    totals = labels.positives.sum(axis=1)
    se = np.sqrt(labels.mass @ (table.scores * (1 - table.scores)) / len(totals))
    assert abs(totals.mean() - expected) < 4 * se
    assert abs(totals.std() / np.sqrt(len(totals)) - se) < 0.2 * se


def test_one_draw_serves_both_nulls(monkeypatch):
    rng = np.random.default_rng(5)
    p = rng.uniform(0.01, 0.99, 2_000)
    y = (rng.uniform(size=2_000) < p).astype(int)
    calls = []
    original = bootstrap.calibrated_labels

    def counted(*args, **kwargs):
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(bootstrap, "calibrated_labels", counted)
    monkeypatch.setattr(diagnostics, "calibrated_labels", counted)
    import lossgap.explanation as explanation

    monkeypatch.setattr(explanation, "calibrated_labels", counted)
    first = lossgap.explain(y, p, seed=4)
    assert len(calls) == 1
    # and the draw follows the seed: same seed, same numbers
    again = lossgap.explain(y, p, seed=4)
    facts = first.diagnostics["loss_concentration"]["calibrated"]
    assert facts == again.diagnostics["loss_concentration"]["calibrated"]
    assert first.metrics["ece"] == again.metrics["ece"]


def test_weights_scale_leaves_the_draw_unchanged():
    rng = np.random.default_rng(4)
    p = rng.uniform(0.01, 0.99, 1_500)
    y = (rng.uniform(size=1_500) < p).astype(int)
    w = rng.uniform(0.5, 2.0, 1_500)
    ones = Tally.from_predictions(Predictions(y, p, sample_weight=w))
    fives = Tally.from_predictions(Predictions(y, p, sample_weight=5 * w))
    a, b = calibrated_concentration(ones, 2), calibrated_concentration(fives, 2)
    assert a == pytest.approx(b, rel=1e-9)

"""The plot series against independent references: scikit-learn, scipy, numpy on the samples."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.stats import binom
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score

from lossgap import InputError, Predictions, Tally, explain
from lossgap.core.tally import ScoreTable
from lossgap.curves import (
    confidence_histogram,
    consistency_band,
    curve_outside_band,
    decision_table,
    explain_curves,
    flip_points,
    sample_points,
    threshold_curves,
)
from tests.helpers.data import random_binary, random_multiclass


def _table(y, p, w=None):
    return Tally.from_predictions(Predictions(y, p, sample_weight=w)).tables[0]


@pytest.mark.parametrize("ties", [False, True])
def test_threshold_curves_match_sklearn_at_every_threshold(rng, ties):
    y, p = random_binary(rng, 120, ties=ties)
    curves = threshold_curves(_table(y, p))
    for t, acc, f1, prec, rec in zip(
        curves.threshold, curves.accuracy, curves.f1, curves.precision,
        curves.recall, strict=True,
    ):
        decided = (p >= t).astype(int)
        assert acc == pytest.approx(accuracy_score(y, decided))
        assert f1 == pytest.approx(f1_score(y, decided, zero_division=0))
        assert prec == pytest.approx(precision_score(y, decided, zero_division=0))
        assert rec == pytest.approx(recall_score(y, decided, zero_division=0))
    # every distinct score is a threshold, plus 1 (all negative) unless a score is 1
    distinct = np.unique(p).tolist()
    assert curves.threshold == distinct + ([1.0] if distinct[-1] < 1 else [])
    assert curves.exact


def test_threshold_curves_weighted_best_and_current(rng):
    y, p = random_binary(rng, 200)
    w = rng.uniform(0.1, 3.0, 200)
    curves = threshold_curves(_table(y, p, w), threshold=0.3)
    accuracies = [accuracy_score(y, (p >= t).astype(int), sample_weight=w) for t in np.unique(p)]
    best = int(np.argmax(accuracies))
    assert curves.best_accuracy.value == pytest.approx(accuracies[best])
    assert curves.best_accuracy.threshold == np.unique(p)[best]
    current = accuracy_score(y, (p >= 0.3).astype(int), sample_weight=w)
    assert curves.current.accuracy == pytest.approx(current)


def test_threshold_curves_thinned_keeps_exact_values_and_the_best(rng):
    y, p = random_binary(rng, 5000)
    curves = threshold_curves(_table(y, p), max_points=100)
    assert len(curves.threshold) <= 103
    best = curves.best_accuracy
    assert best.threshold in curves.threshold
    i = curves.threshold.index(best.threshold)
    assert curves.accuracy[i] == best.value
    t = curves.threshold[10]
    assert curves.accuracy[10] == pytest.approx(accuracy_score(y, (p >= t).astype(int)))


def test_band_of_one_score_is_the_binomial_quantiles():
    # one forecast value: every resample draws all c samples there, y* ~ Binomial(c, s)
    c, s = 50, 0.3
    band = consistency_band(ScoreTable(np.array([s]), np.array([[35.0, 15.0]])),
                            replicates=2000, seed=3)
    low, high = binom.ppf([0.025, 0.975], c, s) / c
    assert abs(band.low[0] - low) <= 1 / c + 1e-9  # at most one step of 1/c away
    assert abs(band.high[0] - high) <= 1 / c + 1e-9


def _reference_band(y, p, replicates, confidence, seed):
    """Sample by sample, as scoringrules' reliability_diagram does (independent code)."""
    rng = np.random.default_rng(seed)
    x = np.sort(p)
    grid = np.unique(x)
    fits = np.full((replicates, len(grid)), np.nan)
    for r in range(replicates):
        xs = np.sort(rng.choice(x, len(x), replace=True))
        ys = (rng.random(len(xs)) < xs).astype(float)
        fitted = IsotonicRegression(out_of_bounds="nan").fit(xs, ys).predict(grid)
        fits[r] = fitted
    alpha = (1 - confidence) / 2
    return grid, np.nanquantile(fits, [alpha, 1 - alpha], axis=0)


def test_band_matches_a_sample_level_reference(rng):
    y, p = random_binary(rng, 300)
    band = consistency_band(_table(y, p), replicates=600, seed=1)
    grid, (low, high) = _reference_band(y, p, 600, 0.95, seed=2)
    assert_allclose(band.score, grid)
    inner = (grid > 0.1) & (grid < 0.9)  # the ends rest on few resamples
    assert np.mean(np.abs(np.asarray(band.low)[inner] - low[inner])) < 0.03
    assert np.mean(np.abs(np.asarray(band.high)[inner] - high[inner])) < 0.03


def test_band_holds_calibrated_curves_and_rejects_miscalibrated_ones(rng):
    y, p = random_binary(rng, 2000)
    calibrated = explain(y, p)
    band = consistency_band(_table(y, p), seed=0)
    score, low, high = (np.asarray(v, float) for v in (band.score, band.low, band.high))
    inside = (low <= score) & (score <= high)
    assert inside.mean() > 0.9  # the diagonal lies in the band
    assert curve_outside_band(calibrated.decomposition.curve, band) < 0.25
    sharp = p**4 / (p**4 + (1 - p) ** 4)  # overconfident: same ranking, extreme probabilities
    over = explain(y, sharp)
    far = consistency_band(_table(y, sharp), seed=0)
    assert curve_outside_band(over.decomposition.curve, far) > 0.5


def test_band_pools_large_tables_and_keeps_the_weight(rng):
    p = rng.uniform(size=20_000)
    y = (rng.uniform(size=20_000) < p).astype(int)
    band = consistency_band(_table(y, p), max_points=500, replicates=20)
    assert len(band.score) <= 500
    assert band.n == 20_000
    assert np.all(np.diff(band.score) > 0)


def test_band_rejects_a_bad_level():
    with pytest.raises(InputError, match="confidence must lie strictly between 0 and 1"):
        consistency_band(ScoreTable(np.array([0.5]), np.array([[1.0, 1.0]])), confidence=1.0)


def test_decision_table_and_histogram_match_the_samples(rng):
    y, p = random_binary(rng, 500, ties=True)
    pred = Predictions(y, p, threshold=0.4)
    table = decision_table(Tally.from_predictions(pred))
    decided = (p >= 0.4).astype(int)
    confidence = np.where(decided == 1, p, 1 - p)
    correct = decided == y
    hist = confidence_histogram(table, bins=10, low=0.4)
    edges = np.linspace(0.4, 1.0, 11)
    assert_allclose(hist.correct, np.histogram(confidence[correct], edges)[0])
    assert_allclose(hist.wrong, np.histogram(confidence[~correct], edges)[0])
    assert hist.total_wrong == (~correct).sum()


def test_multiclass_decisions_need_the_samples(rng):
    y, prob = random_multiclass(rng, 300, 4)
    pred = Predictions(y, prob)
    tally = Tally.from_predictions(pred)
    assert decision_table(tally) is None
    table = decision_table(tally, pred)
    correct = prob.argmax(axis=1) == y
    assert table.weights[:, 1].sum() == correct.sum()
    curves = explain_curves(tally, pred)
    assert curves.thresholds is None
    assert curves.histogram.edges[0] == pytest.approx(0.25)
    assert explain_curves(tally).band is None


def test_sample_points_are_the_per_sample_losses(rng):
    y, p = random_binary(rng, 400)
    pred = Predictions(y, p, ids=[f"s{i}" for i in range(400)])
    points = sample_points(pred)
    decided = (p >= 0.5).astype(int)
    assert_allclose(points.confidence, np.where(decided == 1, p, 1 - p))
    with np.errstate(divide="ignore"):
        loss = -np.log(np.where(y == 1, p, 1 - p))
    assert_allclose(points.loss, np.minimum(loss, 34.538776394910684))
    worst = np.argsort(-loss, kind="stable")[:5]
    assert [row.id for row in points.labelled] == [f"s{i}" for i in worst]


def test_sample_points_thin_but_keep_the_worst_and_flag_infinite(rng):
    y, p = random_binary(rng, 5000)
    p[0], y[0] = 0.0, 1  # an infinite loss
    points = sample_points(Predictions(y, p), max_points=300)
    assert points.shown == 300 and points.n == 5000
    assert points.labelled[0].id == 0
    assert any(points.infinite)
    assert max(points.loss) == pytest.approx(34.538776394910684)


def test_flip_points_count_the_paired_table(rng):
    y, p = random_binary(rng, 3000)
    q = np.clip(p + rng.normal(0, 0.1, 3000), 0, 1)
    points = flip_points(Predictions(y, p), Predictions(y, q), max_points=400)
    right_a, right_b = (p >= 0.5) == y, (q >= 0.5) == y
    assert points.counts == {
        "both": int((right_a & right_b).sum()),
        "a_only": int((right_a & ~right_b).sum()),
        "b_only": int((~right_a & right_b).sum()),
        "neither": int((~right_a & ~right_b).sum()),
    }
    flips = int((right_a != right_b).sum())
    shown = np.asarray(points.category)
    assert ((shown == "a_only") | (shown == "b_only")).sum() == min(flips, 200)
    assert points.shown == 400


def test_multiclass_flip_points_use_the_true_class(rng):
    y, prob = random_multiclass(rng, 100, 3)
    other = rng.dirichlet(np.ones(3), 100)
    points = flip_points(Predictions(y, prob), Predictions(y, other))
    assert points.axis == "true class" and points.threshold is None
    assert_allclose(points.prob_a, prob[np.arange(100), y])

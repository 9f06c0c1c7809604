"""Pooled score tables stay within their stated tolerance of the exact table."""

from __future__ import annotations

import numpy as np
import pytest

import lossgap
from lossgap import Predictions, Tally
from lossgap.core.calibration import ece_bins
from lossgap.core.pooling import (
    RESAMPLING_TOLERANCE,
    Pooling,
    per_sample_variances,
    pool_for_resampling,
    pool_table,
    pooling_of,
    row_mass,
    take_rows,
)
from lossgap.core.tally import ScoreTable
from tests.helpers.data import random_binary


def _direct_variances(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """The per-sample variances from the samples themselves (the independent reference)."""
    loss = np.where(y == 1, -np.log(p), -np.log1p(-p))
    brier = (y - p) ** 2
    return np.array([loss.var(), brier.var()])


@pytest.mark.parametrize("seed", range(8))
def test_resampling_pool_keeps_the_loss_variances_within_tolerance(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2_000, 60_000))
    y, p = random_binary(rng, n)
    p = np.clip(p, 1e-6, 1 - 1e-6)
    table = Tally.from_predictions(Predictions(y, p)).tables[0]
    exact = per_sample_variances(table)
    np.testing.assert_allclose(exact, _direct_variances(y, p), rtol=1e-9)
    segments = ece_bins(table.scores) * 2 + (table.scores >= 0.5)
    pooled = pool_for_resampling(table, segments, 5_000)
    assert len(pooled.scores) < len(table.scores)
    assert np.all(np.abs(per_sample_variances(pooled) - exact) <= RESAMPLING_TOLERANCE * exact)
    # every run lies within one decision and one ECE bin: pooled decisions and bins agree
    assert pooled.weights.sum(axis=0).tolist() == table.weights.sum(axis=0).tolist()
    decided = table.weights[table.scores >= 0.5].sum(axis=0)
    assert np.allclose(pooled.weights[pooled.scores >= 0.5].sum(axis=0), decided)
    for b in range(15):
        assert np.allclose(
            pooled.weights[ece_bins(pooled.scores) == b].sum(axis=0),
            table.weights[ece_bins(table.scores) == b].sum(axis=0),
        )


def test_runs_never_cross_a_segment():
    scores = np.linspace(0.01, 0.99, 1000)
    segments = (scores >= 0.3).astype(int)
    pooling = Pooling(lossgap.core.tally.ScoreTable(scores, np.ones((1000, 2))), 7, segments)
    assert int(np.searchsorted(scores, 0.3)) in pooling.starts.tolist()
    assert len(pooling.starts) == 8  # seven runs of equal weight, one of them split


def test_an_infinite_loss_falls_back_to_the_cap():
    rng = np.random.default_rng(1)
    y, p = random_binary(rng, 20_000)
    p[0], y[0] = 0.0, 1  # one certain error: the log-loss variance is infinite
    table = Tally.from_predictions(Predictions(y, p)).tables[0]
    pooled = pool_for_resampling(table, None, 5_000)
    assert 4_000 < len(pooled.scores) <= 5_000


@pytest.mark.slow
def test_bootstrap_on_the_pooled_table_matches_the_exact_cells(monkeypatch):
    """Interval widths from the pooled units against those from every cell, over seeds.

    Each width carries about 7% Monte-Carlo error (200 replicates), so a ratio of two
    varies by about 10%; their mean over 12 seeds by about 3%. Measured over 20 seeds the
    means were 0.997 (log loss) to 1.057 (smooth ECE).
    """
    import lossgap.core.pooling as pooling

    names = (
        "log_loss", "brier", "balanced_accuracy", "f1", "average_precision", "ece", "smooth_ece"
    )
    ratios: dict[str, list[float]] = {name: [] for name in names}
    for seed in range(12):
        rng = np.random.default_rng(100 + seed)
        y, p = random_binary(rng, 4_000)
        pooled = lossgap.explain(y, p, seed=seed)
        with monkeypatch.context() as m:
            m.setattr(pooling, "FEWEST_RESAMPLING_ROWS", 10**9)
            exact = lossgap.explain(y, p, seed=seed)
        assert "pooled into" in pooled.metrics["brier"].ci_method
        assert "pooled" not in exact.metrics["brier"].ci_method
        for name in names:
            a, b = pooled.metrics[name], exact.metrics[name]
            ratios[name].append((a.ci_high - a.ci_low) / (b.ci_high - b.ci_low))
    for name, values in ratios.items():
        assert abs(np.mean(values) - 1) < 0.1, name


def test_row_mass_is_the_row_sum_bit_for_bit():
    # the fast path must not move a digit: weights of every scale, zeros and integers
    rng = np.random.default_rng(7)
    for weights in (
        rng.uniform(0, 1e6, (10_000, 2)) * rng.integers(0, 2, (10_000, 2)),
        rng.lognormal(0, 20, (10_000, 2)),
        rng.integers(0, 5, (10_000, 2)).astype(float),
    ):
        assert np.array_equal(row_mass(weights), weights.sum(axis=1))


def test_take_rows_is_the_row_gather_bit_for_bit():
    # the same doubles in the same C order as np.take(axis=0), from either layout of the
    # weights (a Tally's tables are column-major), for empty, repeated and unsorted rows
    rng = np.random.default_rng(11)
    weights = rng.lognormal(0, 20, (5_000, 2)) * rng.integers(0, 2, (5_000, 2))
    for layout in (np.ascontiguousarray(weights), np.asfortranarray(weights)):
        for rows in (
            np.flatnonzero(rng.integers(0, 5, 5_000) == 0),
            rng.integers(0, 5_000, 300),
            np.array([], dtype=np.int64),
        ):
            ours, theirs = take_rows(layout, rows), np.take(layout, rows, axis=0)
            assert ours.flags.c_contiguous and ours.shape == theirs.shape
            assert np.array_equal(ours, theirs)


def test_the_latest_tables_poolings_are_kept_and_never_serve_another_table():
    rng = np.random.default_rng(8)
    first, second = (
        Tally.from_predictions(Predictions(*random_binary(rng, 5_000))).tables[0] for _ in range(2)
    )
    for table in (first, second, first):
        for rows in (100, 300):
            pooled = pool_table(table, rows)
            fresh = Pooling(table, rows).table(table.weights)
            assert np.array_equal(pooled.scores, fresh.scores)
            assert np.array_equal(pooled.weights, fresh.weights)
    assert pooling_of(first, 100) is pooling_of(first, 100)


def test_per_sample_variances_with_scores_at_zero_and_one():
    # a score of 0 or 1 has an infinite loss for the label it excludes: where that label has
    # no weight it adds nothing; where it has weight the variance is not finite
    y = np.array([0, 0, 1, 0, 1, 1])
    p = np.array([0.0, 0.3, 0.5, 0.5, 0.8, 1.0])
    table = Tally.from_predictions(Predictions(y, p)).tables[0]
    with np.errstate(divide="ignore"):  # the reference takes both labels' logs at every score
        direct = _direct_variances(y, p)
    np.testing.assert_allclose(per_sample_variances(table), direct, rtol=1e-12)
    y[0] = 1
    table = Tally.from_predictions(Predictions(y, p)).tables[0]
    assert not np.isfinite(per_sample_variances(table)[0])
    assert np.isfinite(per_sample_variances(table)[1])


def test_compiled_pooling_equals_the_numpy_twin_within_its_tolerance(monkeypatch):
    pytest.importorskip("numba")
    from lossgap.core.pooling import POOLED_RTOL

    rng = np.random.default_rng(61)
    worst = 0.0
    for trial in range(120):
        m = int(rng.integers(2, 5000))
        scores = np.unique(rng.uniform(size=m))
        weights = rng.poisson(rng.uniform(0.2, 3.0), (len(scores), 2)).astype(float)
        if trial % 2:
            weights *= rng.uniform(0.1, 3.0, weights.shape)
        if trial % 5 == 0:
            weights[: len(scores) // 3] = 0.0  # runs of no weight
        if not weights.sum():
            continue
        table = ScoreTable(scores, weights)
        segments = ece_bins(scores, 7) * 2 + (scores >= 0.5) if trial % 3 else None
        rows = int(rng.integers(1, 2 * len(scores)))
        monkeypatch.delenv("LOSSGAP_NUMBA", raising=False)
        compiled = Pooling(table, rows, segments)
        monkeypatch.setenv("LOSSGAP_NUMBA", "0")
        twin = Pooling(table, rows, segments)
        if twin.starts is None:
            assert compiled.starts is None and compiled.scores is twin.scores
            continue
        assert np.array_equal(compiled.starts, twin.starts), trial  # the same runs
        ours, theirs = compiled.weights(table.weights), twin.weights(table.weights)
        if not trial % 2:  # counts add up exactly in any order
            assert np.array_equal(ours, theirs)
        mass = row_mass(theirs)
        assert np.all(np.abs(ours - theirs) <= POOLED_RTOL * theirs), trial
        gap = np.abs(compiled.scores - twin.scores)
        assert np.all(gap <= POOLED_RTOL * np.abs(twin.scores) + (mass == 0)), trial
        worst = max(worst, float(np.max(gap[mass > 0] / twin.scores[mass > 0], initial=0.0)))
        other = weights[::-1].copy()  # other weights go through the reduceat
        assert np.array_equal(compiled.weights(other), twin.weights(other))
    assert 0.0 < worst <= POOLED_RTOL


def _former_variances(table: ScoreTable) -> np.ndarray:
    """``per_sample_variances`` as it was written before it computed in place."""
    s, (w_neg, w_pos) = table.scores, table.weights.T
    total = w_neg.sum() + w_pos.sum()
    out = []
    with np.errstate(divide="ignore", invalid="ignore"):
        for neg, pos in ((-np.log1p(-s), -np.log(s)), (s * s, (1.0 - s) ** 2)):
            if not (np.isfinite(neg).all() and np.isfinite(pos).all()):
                neg = np.where(w_neg > 0, neg, 0.0)
                pos = np.where(w_pos > 0, pos, 0.0)
            mean = (w_neg @ neg + w_pos @ pos) / total
            dev_neg, dev_pos = (neg - mean) ** 2, (pos - mean) ** 2
            if not np.isfinite(mean):
                dev_neg = np.where(w_neg > 0, dev_neg, 0.0)
                dev_pos = np.where(w_pos > 0, dev_pos, 0.0)
            spread = w_neg @ dev_neg
            spread += w_pos @ dev_pos
            out.append(spread / total)
    return np.array(out)


def test_per_sample_variances_in_place_are_the_former_doubles():
    rng = np.random.default_rng(59)
    for trial in range(300):
        m = int(rng.integers(1, 3_000))
        scores = np.unique(rng.uniform(size=m) ** rng.choice([1.0, 4.0]))
        if trial % 5 == 0:
            scores[0] = 0.0
        if trial % 7 == 0:
            scores[-1] = 1.0
        weights = rng.poisson(rng.choice([0.3, 2.0, 50.0]), (len(scores), 2)).astype(float)
        if trial % 3 == 0:
            weights *= rng.uniform(0.1, 3.0, weights.shape)
        if trial % 2:
            weights = np.asfortranarray(weights)  # a Tally's tables keep their columns
        weights[0, 1 if trial % 4 else 0] = 0.0  # the excluded label of a score at 0 or 1
        table = ScoreTable(scores, weights)
        assert np.array_equal(
            per_sample_variances(table), _former_variances(table), equal_nan=True
        ), trial

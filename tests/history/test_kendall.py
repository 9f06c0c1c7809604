"""The Mann-Kendall test without scipy.stats: Kendall's tau-b and its p-value against
scipy.stats.kendalltau, the inversion count against brute force, and the smoothing
against scipy.ndimage."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage, stats

from lossgap.core.trend import _inversions, kendall, smooth


def _draws(rng, n):
    """Curves as logs have them: distinct values, rounded values (ties in y), repeated
    steps (ties in x), a monotone run, a constant stretch."""
    x = np.arange(n, dtype=np.float64)
    yield x, rng.normal(size=n)
    yield x, np.round(rng.normal(size=n), 1)
    yield np.repeat(np.arange((n + 1) // 2), 2)[:n].astype(np.float64), rng.normal(size=n)
    yield rng.integers(0, 4, n).astype(np.float64), rng.integers(0, 3, n).astype(np.float64)
    yield x, x + 0.1 * rng.normal(size=n)
    monotone = x.copy()
    if n > 2:
        monotone[[0, 1]] = monotone[[1, 0]]  # one pair out of order: the closed form
    yield x, monotone
    yield x, -x


@pytest.mark.parametrize("n", [2, 3, 5, 12, 33, 34, 60, 500, 4_000])
def test_kendall_equals_scipys_kendalltau(rng, n):
    """Exact null distribution (no ties, n <= 33 or at most one discordant pair) and the
    tie-corrected normal approximation: the same doubles as scipy (1 ulp allowed)."""
    for x, y in _draws(rng, n):
        want = stats.kendalltau(x, y)
        tau, p = kendall(x, y)
        if np.isnan(want.statistic):
            assert np.isnan(tau) and np.isnan(p)
            continue
        assert tau == pytest.approx(float(want.statistic), rel=1e-15, abs=1e-300)
        assert p == pytest.approx(float(want.pvalue), rel=4e-15, abs=1e-300)


def test_kendall_of_constant_or_single_values_is_nan():
    assert all(np.isnan(kendall(np.array([1.0]), np.array([2.0]))))
    assert all(np.isnan(kendall(np.arange(5.0), np.ones(5))))
    assert all(np.isnan(kendall(np.ones(5), np.arange(5.0))))


@pytest.mark.parametrize("n", [1, 2, 3, 8, 9, 100, 1_025])
def test_inversions_count_every_pair_out_of_order(rng, n):
    for ranks in (rng.integers(1, n + 1, n), rng.permutation(n) + 1, np.arange(n, 0, -1)):
        i, j = np.triu_indices(n, k=1)
        assert _inversions(ranks) == int(np.count_nonzero(ranks[i] > ranks[j]))


@pytest.mark.parametrize("size", [3, 5, 21])
@pytest.mark.parametrize("n", [1, 4, 25, 3_000])
def test_smooth_is_ndimages_running_median_then_mean(rng, n, size):
    """The median of each window equals ndimage.median_filter's exactly; the running mean
    agrees with uniform_filter1d to rounding (scipy updates a running sum)."""
    values = np.cumsum(rng.normal(size=n)) + np.where(rng.uniform(size=n) < 0.05, 5.0, 0.0)
    median = ndimage.median_filter(values, size=size, mode="nearest")
    want = ndimage.uniform_filter1d(median, size=size, mode="nearest")
    got = smooth(values, size)
    assert got.shape == values.shape
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12 * np.abs(values).max())

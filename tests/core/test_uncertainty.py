"""``core/uncertainty.py`` against independent references."""

from __future__ import annotations

import numpy as np
import pytest

from lossgap.core import uncertainty
from lossgap.core.tally import ScoreTable
from lossgap.core.uncertainty import delong_variance, quantiles


@pytest.mark.parametrize(("numba", "near"), [("1", 32), ("1", 5), ("1", 200), ("1", 0), ("0", 32)])
def test_quantiles_are_numpys_doubles(monkeypatch, numba, near):
    # numpy's default method on columns and single rows: ties, both ends and the middle of
    # the interpolation, a NaN or an infinity in some columns, one to 400 values; the
    # compiled passes from the ends as far as chosen, and never
    if numba == "1":
        pytest.importorskip("numba")
    monkeypatch.setenv("LOSSGAP_NUMBA", numba)
    monkeypatch.setattr(uncertainty, "_NEAR_END", near)
    rng = np.random.default_rng(3)
    levels = [0.0, 1.0, 0.5, 0.025, 0.975, 0.95, 0.005, 0.995]
    for trial in range(3_000):
        n, k = int(rng.integers(1, 400)), int(rng.integers(0, 4))
        values = rng.normal(size=(n, k) if k else n) * 10.0 ** int(rng.integers(-5, 5))
        if trial % 3 == 0:
            values = np.round(values, 1)
        if trial % 5 == 1:  # ascending, descending or constant columns
            values = [np.sort(values, axis=0), -np.sort(values, axis=0), 0.0 * values][trial % 3]
        if trial % 7 == 0:
            values.flat[rng.integers(values.size)] = np.nan
        if trial % 11 == 0:
            values.flat[rng.integers(values.size)] = np.inf
        q = [*rng.choice(levels, size=int(rng.integers(0, 3))), rng.uniform()]
        before = values.copy()
        with np.errstate(invalid="ignore"):
            want = np.quantile(values, q, axis=0)
            got = quantiles(values, q)
        assert got.shape == want.shape
        assert np.array_equal(got, want, equal_nan=True), trial
        if k:  # some columns, in any order, a column twice
            taken = rng.integers(0, k, int(rng.integers(1, 5)))
            with np.errstate(invalid="ignore"):
                got = quantiles(values, q, taken if trial % 2 else list(taken))
            assert np.array_equal(got, want[:, taken], equal_nan=True), trial
        assert np.array_equal(values, before, equal_nan=True)  # left as it was


def _former_delong_variance(table: ScoreTable, scale: float) -> float:
    """``delong_variance`` as it was written before it computed in place."""
    w_neg, w_pos = table.weights[:, 0] * scale, table.weights[:, 1] * scale
    neg_total, pos_total = w_neg.sum(), w_pos.sum()
    if neg_total <= 0 or pos_total <= 0:
        return float("nan")
    neg_below = np.cumsum(w_neg) - w_neg
    pos_above = pos_total - np.cumsum(w_pos)
    v_pos = (neg_below + 0.5 * w_neg) / neg_total
    v_neg = (pos_above + 0.5 * w_pos) / pos_total
    auc = (w_pos @ v_pos) / pos_total
    var_pos = (w_pos @ (v_pos - auc) ** 2) / (pos_total - 1) if pos_total > 1 else 0.0
    var_neg = (w_neg @ (v_neg - auc) ** 2) / (neg_total - 1) if neg_total > 1 else 0.0
    return float(var_pos / pos_total + var_neg / neg_total)


@pytest.mark.parametrize("numba", ["1", "0"])
def test_delong_variance_is_the_former_double(monkeypatch, numba):
    if numba == "1":
        pytest.importorskip("numba")
    monkeypatch.setenv("LOSSGAP_NUMBA", numba)
    rng = np.random.default_rng(61)
    for trial in range(300):
        m = int(rng.integers(1, 2_000) if trial % 4 else rng.integers(4_096, 20_000))
        weights = rng.poisson(rng.choice([0.2, 1.0, 30.0]), (m, 2)).astype(float)
        if trial % 3 == 0:
            weights *= rng.uniform(0.1, 3.0, weights.shape)
        if trial % 2:
            weights = np.asfortranarray(weights)
        table = ScoreTable(np.sort(rng.uniform(size=m)), weights)
        scale = [1.0, 0.37, 2.5][trial % 3]
        ours, former = delong_variance(table, scale), _former_delong_variance(table, scale)
        assert ours == former or (np.isnan(ours) and np.isnan(former)), trial


def test_quantiles_of_integers_and_chosen_columns():
    values = np.random.default_rng(5).integers(-50, 50, (301, 6))
    want = np.quantile(values, [0.05, 0.5], axis=0)
    assert np.array_equal(quantiles(values, [0.05, 0.5]), want)
    assert np.array_equal(quantiles(values, [0.05, 0.5], [4, 1]), want[:, [4, 1]])


def test_scalar_wilson_is_the_arrays_doubles():
    # the scalar path against the array path, element by element: the same doubles (NaN
    # where the arrays give NaN), edge shares and sizes included
    rng = np.random.default_rng(17)
    shares = np.concatenate(
        [rng.uniform(size=2_000), [0.0, 1.0, 0.5, -0.1, 1.2, np.nan], np.repeat([0.0, 1.0], 60)]
    )
    sizes = np.concatenate(
        [rng.uniform(0.0, 5e4, 2_000), [0.0, 1.0, -3.0, np.inf, 1e-170, 7.0], np.tile(
            np.arange(1.0, 61.0), 2)]  # all or none: rounding beyond [0, 1] for some
    )
    sizes[:2_000:7] = np.round(sizes[:2_000:7])
    for confidence in (0.95, 0.9, 0.99):
        low, high = uncertainty.wilson(shares, sizes, confidence)
        for i, (p, n) in enumerate(zip(shares, sizes, strict=True)):
            pair = uncertainty.wilson(float(p), n, confidence)
            for got, want in zip(pair, (low[i], high[i]), strict=True):
                assert isinstance(got, float)
                assert got == want or (np.isnan(got) and np.isnan(want)), (p, n, got, want)

"""PAV fits on score tables and on binned class columns, against scikit-learn."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from sklearn.isotonic import IsotonicRegression

from lossgap.core.decompose import isotonic_recalibration
from lossgap.core.isotonic import IsotonicFit, fit_isotonic
from lossgap.core.recalibrate import ISOTONIC_BIN_BITS, _class_bins
from lossgap.core.tally import ScoreTable, bin_keys
from tests.helpers.data import random_multiclass


def _sklearn_fit(x, y, w):
    return IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(x, y, sample_weight=w)


@pytest.mark.parametrize("seed", range(5))
def test_table_fit_equals_sklearn_on_the_raw_samples(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 3000))
    p = np.round(rng.uniform(size=n), int(rng.integers(1, 4)))  # many ties
    y = (rng.uniform(size=n) < p**2).astype(float)
    w = rng.integers(1, 4, n).astype(float)
    table = ScoreTable.from_samples(p, y, w)
    ours = isotonic_recalibration(table)
    reference = _sklearn_fit(p, y, w).predict(table.scores)
    assert_allclose(ours, reference, rtol=1e-12, atol=1e-14)


def test_zero_weight_rows_are_interpolated_as_sklearn_drops_them():
    rng = np.random.default_rng(1)
    scores = np.sort(rng.uniform(size=50))
    w_neg, w_pos = rng.integers(0, 3, 50).astype(float), rng.integers(0, 3, 50).astype(float)
    w_neg[::7] = w_pos[::7] = 0.0
    fit = fit_isotonic(scores, w_neg, w_pos)
    total = w_neg + w_pos
    keep = total > 0
    reference = _sklearn_fit(scores[keep], w_pos[keep] / total[keep], total[keep])
    grid = np.linspace(-0.1, 1.1, 301)
    assert_allclose(fit.predict(grid), reference.predict(grid), rtol=1e-12, atol=1e-14)


def test_class_bins_fit_equals_sklearn_on_the_binned_training_samples(rng):
    y, prob = random_multiclass(rng, 4000, 3)
    w = rng.uniform(0.5, 2.0, len(y))
    folds = 4
    fold = rng.integers(0, folds, len(y))
    column = prob[:, 1]
    bins = _class_bins(column, y == 1, w, fold, folds)
    train = fold != 2
    # independent route: group the training samples by bin with pandas, then scikit-learn
    frame = pd.DataFrame({
        "bin": bin_keys(column[train], ISOTONIC_BIN_BITS), "w": w[train],
        "wp": w[train] * column[train], "pos": w[train] * (y[train] == 1),
    }).groupby("bin").sum()
    reference = _sklearn_fit(frame.wp / frame.w, frame.pos / frame.w, frame.w)
    fit = bins.fit(2)
    assert_allclose(fit.knots, frame.wp / frame.w, rtol=1e-12)
    grid = np.linspace(0, 1, 501)
    assert_allclose(fit.predict(grid), reference.predict(grid), rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("seed", range(4))
def test_class_bins_predict_is_np_interp_bit_for_bit(seed):
    """The held-out isotonic probabilities found from each sample's bin are those of
    ``np.interp`` on the fitted knots, exactly (ties, exact 0 and 1, empty folds' bins)."""
    rng = np.random.default_rng(seed)
    n, folds = int(rng.integers(50, 20_000)), 5
    p = rng.beta(0.3, 0.3, n)
    p[rng.uniform(size=n) < 0.05] = 0.0
    p[rng.uniform(size=n) < 0.05] = 1.0
    p[::3] = np.round(p[::3], 2)  # ties
    if seed >= 2:  # a few distinct binary fractions: held-out scores sit on knots
        p = rng.integers(1, 64, n) / 64
    y = rng.uniform(size=n) < p
    w = rng.uniform(0.0, 2.0, n) if seed % 2 else rng.integers(0, 3, n).astype(float)
    fold = rng.integers(0, folds, n)
    bins = _class_bins(p, y, w, fold, folds)
    for k in range(folds):
        test = np.flatnonzero(fold == k)
        fast = bins.predict(k, test, p[test])
        assert np.array_equal(fast, bins.fit(k).predict(p[test]))


def test_batched_rows_equal_one_fit_per_row_and_their_terms_equal_corp():
    from lossgap.core.decompose import corp, replicate_terms
    from lossgap.core.isotonic import isotonic_rows

    rng = np.random.default_rng(7)
    scores = np.sort(rng.uniform(size=120))
    w_neg = rng.poisson(1.0, (30, 120)).astype(float)
    w_pos = rng.poisson(scores * 2, (30, 120)).astype(float)
    w_neg[3] = w_pos[3] = 0.0  # a replicate that drew nothing
    fitted = isotonic_rows(w_neg, w_pos)
    terms = replicate_terms(scores, w_neg, w_pos)
    assert np.all(np.isnan(terms[3]))
    for r in set(range(30)) - {3}:
        keep = w_neg[r] + w_pos[r] > 0
        fit = fit_isotonic(scores, w_neg[r], w_pos[r])
        assert_allclose(fitted[r, keep], fit.values, rtol=1e-12, atol=1e-13)
        whole = corp(ScoreTable(scores, np.column_stack([w_neg[r], w_pos[r]])))
        expected = [[getattr(getattr(whole, rule), term) for term in ("miscalibration",
                     "discrimination")] for rule in ("log_loss", "brier")]
        assert_allclose(terms[r], expected, rtol=1e-9, atol=1e-14)


def test_predict_is_np_interps_doubles(monkeypatch):
    """The compiled interpolation of :meth:`IsotonicFit.predict`: the same doubles as
    ``np.interp`` for scores ascending (a walk), unsorted, far apart (bisections), on the
    knots, beyond them, NaN, and between knots whose values overflow the slope."""
    pytest.importorskip("numba")
    monkeypatch.delenv("LOSSGAP_NUMBA", raising=False)
    rng = np.random.default_rng(23)
    for trial in range(1500):
        knots = np.unique(rng.uniform(size=int(rng.integers(1, 300))))
        if trial % 3 == 0:
            knots = np.unique(np.round(knots, 2))
        values = rng.uniform(size=len(knots))
        if trial % 2:
            values = np.sort(values)
        if trial % 7 == 0:
            values[: len(values) // 2] = 0.5
        if trial % 11 == 0 and len(values) > 2:
            values = values * 1e308
            values[0] = np.inf
        scores = rng.uniform(-0.1, 1.1, int(rng.integers(0, 400)))
        if trial % 2:
            scores = np.sort(scores)
        if trial % 5 == 0 and len(scores) > 3:
            scores[: len(scores) // 3] = rng.choice(knots, len(scores) // 3)
            scores[-1] = np.nan
        fit = IsotonicFit(knots, values)
        with np.errstate(all="ignore"):
            compiled = fit.predict(scores)
            expected = np.interp(scores, knots, values)
        assert np.array_equal(compiled, expected, equal_nan=True), trial


def test_the_compiled_fit_is_the_numpy_and_scipy_fits_doubles(monkeypatch):
    """:func:`fit_isotonic` with numba: the same knots and the same doubles as its twin
    (numpy's gathers, scipy's PAV) on shares that rise, fall, tie and repeat, with rows
    of weight 0, one row, and weights of many sizes."""
    pytest.importorskip("numba")
    rng = np.random.default_rng(31)
    for trial in range(3000):
        m = int(rng.integers(1, 400))
        scores = np.sort(rng.uniform(size=m))
        shape = trial % 5
        if shape == 0:  # labels drawn from the scores: long runs pooled
            y = rng.uniform(size=m) < scores
            w_neg, w_pos = (~y) * 1.0, y * 1.0
        elif shape == 1:  # small counts: ties and equal shares
            w_neg, w_pos = (rng.integers(0, 3, (2, m))).astype(float)
        elif shape == 2:  # falling shares: one block
            w_neg, w_pos = scores * rng.uniform(0.5, 2, m), (1 - scores) * rng.uniform(0.5, 2, m)
        elif shape == 3:  # weights of many sizes, some rows empty
            w_neg, w_pos = rng.exponential(size=(2, m)) * 10.0 ** rng.integers(-8, 8, (2, m))
            w_neg[rng.uniform(size=m) < 0.2] = 0.0
        else:  # shares that repeat exactly, at weights scaled by powers of 2
            scale = 2.0 ** rng.integers(0, 6, m)
            pick = rng.integers(0, 3, m)
            w_neg = np.array([0.7, 0.3, 0.9])[pick] * scale
            w_pos = np.array([0.1, 0.3, 0.2])[pick] * scale
        if not (w_neg + w_pos > 0).any():
            continue
        monkeypatch.delenv("LOSSGAP_NUMBA", raising=False)
        compiled = fit_isotonic(scores, w_neg, w_pos)
        monkeypatch.setenv("LOSSGAP_NUMBA", "0")
        twin = fit_isotonic(scores, w_neg, w_pos)
        assert np.array_equal(compiled.knots, twin.knots)
        assert np.array_equal(compiled.values.view(np.int64), twin.values.view(np.int64))

"""The folds' logistic fits on label-pooled training rows: the bound of
:func:`~lossgap.core.recalibrate.pooling_excess` holds on the exact training loss, and the
held-out figures stay within a small share of a standard error of the exact fits'."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.special import expit

import lossgap.core.recalibrate as recalibrate_module
from lossgap import Predictions, Tally
from lossgap.core.pooling import Pooling
from lossgap.core.recalibrate import (
    _FITTED,
    _moments,
    _pooled_trains,
    _softplus_loss,
    fit_logistic,
    label_pooled,
    logits_of,
    pooled_folds,
    pooling_excess,
)
from lossgap.explanation import evaluate_predictions


def _table(seed: int):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(300, 5000))
    z = rng.normal(0.0, 2.0, n) - (3.0 if seed % 4 == 3 else 0.0)  # rare class
    y = (rng.uniform(size=n) < expit(z)).astype(int)
    score = expit([1.0, 2.5, 0.5, 1.0][seed % 4] * z + 0.3)
    if seed % 3 == 1:
        score = np.round(score, 2)  # ties
    weight = rng.uniform(0.2, 3.0, n) if seed % 5 == 2 else None
    return Tally.from_predictions(Predictions(y, score, sample_weight=weight)).tables[0]


def _loss(fit, z, weights):
    return _softplus_loss(fit.intercept + fit.slope * z, weights, weights.sum(axis=1))


@pytest.mark.parametrize("seed", range(12))
def test_pooled_fit_is_within_its_bound_of_the_exact_fit(seed):
    table = _table(seed)
    z = logits_of(table.scores)
    rng = np.random.default_rng(seed)
    for runs in (8, 32, 128):
        starts = Pooling(table, runs).starts
        if starts is None:
            continue
        pooled = label_pooled(z, table.weights, starts)
        assert pooled.weights.sum() == pytest.approx(table.weights.sum(), rel=1e-12)
        for method in ("temperature", "intercept", "platt"):
            intercept, slope = _FITTED[method]
            exact = fit_logistic(z, table.weights, intercept=intercept, slope=slope)
            fit = fit_logistic(pooled.logits, pooled.weights, intercept=intercept, slope=slope)
            if exact.separable or fit.separable:
                continue
            excess = _loss(fit, z, table.weights) - _loss(exact, z, table.weights)
            scale = 1e-10 * _loss(exact, z, table.weights)
            assert -scale <= excess <= pooling_excess(fit.slope, pooled) + scale
        # the sandwich behind it, at random parameters: L_p <= L <= L_p + b^2 spread / 8
        for a, b in rng.normal(0.0, 1.5, (5, 2)):
            fit = recalibrate_module.LogisticFit(float(a), float(b), np.eye(2))
            exact_loss = _loss(fit, z, table.weights)
            pooled_loss = _loss(fit, pooled.logits, pooled.weights)
            tol, most = 1e-10 * exact_loss, pooling_excess(fit.slope, pooled)
            assert pooled_loss - tol <= exact_loss <= pooled_loss + most + tol


@pytest.mark.parametrize("n", [2_000, 20_000])
def test_held_out_figures_stay_near_the_exact_fits(n, monkeypatch):
    # explain's folds fit on label-pooled rows; with a tolerance of 0 they fit as before
    # (the FIT_ROWS table): the held-out figures differ by a small share of a standard
    # error (measured: at most 0.12% of one over 16 datasets, docs/performance.md)
    rng = np.random.default_rng(n)
    z = rng.normal(0.0, 2.0, n)
    y = (rng.uniform(size=n) < expit(z)).astype(int)
    pred = Predictions(y, expit(1.8 * z))
    pooled = evaluate_predictions(pred, replicates=0).recalibration
    monkeypatch.setattr(recalibrate_module, "FIT_TOLERANCE", 0.0)
    exact = evaluate_predictions(pred, replicates=0).recalibration
    for method in ("temperature", "intercept", "platt"):
        a, b = pooled.methods[method], exact.methods[method]
        se = b.log_loss_gain_se
        assert abs(a.log_loss_after - b.log_loss_after) <= 0.01 * se
        assert abs(a.log_loss_gain - b.log_loss_gain) <= 0.01 * se
        assert abs(a.brier_after - b.brier_after) <= 0.01 * se
        assert a.temperature == b.temperature and a.slope == b.slope  # all-sample fits
    assert pooled.methods["isotonic"] == exact.methods["isotonic"]


def test_each_fold_pooled_from_the_whole_less_its_held_out_rows():
    table = _table(5)
    z = logits_of(table.scores)
    fold = np.random.default_rng(5).integers(0, 5, len(z))
    tests = [np.where((fold == k)[:, None], table.weights, 0.0) for k in range(5)]
    held_out = [(np.flatnonzero(t.sum(axis=1) > 0), t[t.sum(axis=1) > 0]) for t in tests]
    starts = Pooling(table, 40).starts
    whole = [np.add.reduceat(x, starts, axis=0) for x in _moments(z, table.weights)]
    for test, pooled in zip(tests, pooled_folds(z, starts, whole, held_out), strict=True):
        direct = label_pooled(z, table.weights - test, starts)
        assert_allclose(pooled.logits, direct.logits, rtol=1e-9, atol=1e-12)
        assert_allclose(pooled.weights, direct.weights, rtol=1e-12, atol=1e-12)
        assert pooled.spread == pytest.approx(direct.spread, rel=1e-6, abs=1e-9)


@pytest.mark.parametrize("seed", [0, 2, 7])  # unit weights, weighted, a table left unpooled
def test_each_folds_training_table_pooled_from_the_whole_less_its_held_out_rows(seed):
    table = _table(seed)
    pooling = Pooling(table, len(table.scores) + 1 if seed == 7 else 40)
    fold = np.random.default_rng(seed).integers(0, 5, len(table.scores))
    # the first run wholly held out by one fold: its weight is 0, not a rounding residue
    fold[: 30 if pooling.starts is None else pooling.starts[1]] = 0
    tests = [np.where((fold == k)[:, None], table.weights, 0.0) for k in range(5)]
    held_out = [(np.flatnonzero(t.sum(axis=1) > 0), t[t.sum(axis=1) > 0]) for t in tests]
    trains = _pooled_trains(table, pooling, held_out)
    for test, train in zip(tests, trains, strict=True):
        direct = pooling.table(table.weights - test)
        assert np.array_equal(train.scores, direct.scores)
        if seed % 5 == 2 and pooling.starts is not None:  # weighted, pooled: rounding only
            assert_allclose(train.weights, direct.weights, rtol=1e-12, atol=1e-12)
        else:  # counts are whole numbers, and an unpooled row is its weight or 0: exact
            assert np.array_equal(train.weights, direct.weights)
    assert np.all(trains[0].weights[0] == 0.0)


def test_the_latest_tables_logits_are_kept_read_only_and_never_serve_another_table():
    from lossgap.core.pooling import pool_table
    from lossgap.core.recalibrate import FIT_ROWS, _pooled_logits, _table_logits

    first, second = _table(0), _table(1)
    for logits, exact in ((_table_logits, lambda t: logits_of(t.scores)),
                          (_pooled_logits, lambda t: logits_of(pool_table(t, FIT_ROWS).scores))):
        kept = logits(first)
        assert logits(first) is kept and not kept.flags.writeable
        assert np.array_equal(kept, exact(first))
        assert np.array_equal(logits(second), exact(second))  # another table: its own
        assert np.array_equal(logits(first), exact(first))


@pytest.mark.parametrize("seed", [0, 2, 5, 7])
def test_the_folds_pooled_at_once_are_each_fold_pooled_alone(seed):
    # pooled_folds takes every fold's run sums, means and spreads in one array: the same
    # doubles as the former fold-by-fold code, written out here
    from lossgap.core.recalibrate import _held_run_sums, _run_of_rows

    table = _table(seed)
    z = logits_of(table.scores)
    fold = np.random.default_rng(seed).integers(0, 5, len(z))
    fold[:25] = 0  # the first runs wholly held out by one fold: residues cleared
    tests = [np.where((fold == k)[:, None], table.weights, 0.0) for k in range(5)]
    held_out = [(np.flatnonzero(t.sum(axis=1) > 0), t[t.sum(axis=1) > 0]) for t in tests]
    for runs in (8, 40, 300):
        starts = Pooling(table, runs).starts
        if starts is None:
            continue
        whole = [np.add.reduceat(x, starts, axis=0) for x in _moments(z, table.weights)]
        run = _run_of_rows(starts, len(z))
        for (rows, test), pooled in zip(
            held_out, pooled_folds(z, starts, whole, held_out), strict=True
        ):
            held = _held_run_sums(run, len(starts), rows, test, z)
            w, wz, wz2 = (total - part for total, part in zip(whole, held, strict=True))
            w[w <= 1e-9 * whole[0]] = 0.0
            mean = np.zeros_like(wz)
            np.divide(wz, w, out=mean, where=w > 0)
            spread = float(np.sum(np.maximum(wz2 - wz * mean, 0.0)))
            negatives, positives = w[:, 0] > 0, w[:, 1] > 0
            logits = np.concatenate([mean[negatives, 0], mean[positives, 1]])
            weights = np.zeros((len(logits), 2))
            weights[: negatives.sum(), 0] = w[negatives, 0]
            weights[negatives.sum() :, 1] = w[positives, 1]
            assert np.array_equal(pooled.logits, logits)
            assert np.array_equal(pooled.weights, weights)
            assert pooled.spread == spread

"""Cross-fitting folds: each sample in one fold, drawn per row when every sample has a row
of its own, so a streamed Tally and the samples in memory get the same folds."""

from __future__ import annotations

import numpy as np
import pytest

from lossgap import Predictions, Tally
from lossgap.core.recalibrate import _fold_weights
from lossgap.explanation import evaluate, evaluate_predictions


def _dense(held, shape):
    """The held-out ``(rows, weights)`` of each fold as ``(folds, rows, 2)`` weights."""
    parts = np.zeros((len(held), *shape))
    for part, (rows, test) in zip(parts, held, strict=True):
        part[rows] = test
    return parts


def _distinct(seed: int, n: int = 3_000, weighted: bool = False):
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.01, 0.99, n)
    y = (rng.uniform(size=n) < p**1.5).astype(int)
    w = rng.uniform(0.2, 4.0, n) if weighted else None
    return Predictions(y, p, sample_weight=w)


@pytest.mark.parametrize("weighted", [False, True])
def test_a_sample_per_row_is_in_one_fold(weighted):
    pred = _distinct(1, weighted=weighted)
    tally = Tally.from_predictions(pred)
    held, scheme = _fold_weights(tally, pred, 5, np.random.default_rng(0))
    assert scheme == "5-fold cross-fitting over samples"
    table = tally.tables[0]
    parts = _dense(held, table.weights.shape)
    np.testing.assert_array_equal(parts.sum(axis=0), table.weights)
    # a row's whole weight sits in one fold
    assert np.all((parts.sum(axis=2) > 0).sum(axis=0) == 1)
    shares = (parts.sum(axis=2) > 0).mean(axis=1)
    assert np.all(np.abs(shares - 0.2) < 4 * np.sqrt(0.2 * 0.8 / len(table.scores)))


@pytest.mark.parametrize("weighted", [False, True])
def test_streamed_tally_recalibrates_as_the_samples_in_memory(weighted):
    # the Tally alone used to thin its (effective) counts; with a row per sample the folds
    # are the same as in memory, so is every held-out figure
    pred = _distinct(2, weighted=weighted)
    memory = evaluate_predictions(pred).recalibration
    alone = evaluate(Tally.from_predictions(pred), weighted=weighted).recalibration
    assert alone == memory


def test_ties_keep_the_folds_per_sample():
    rng = np.random.default_rng(3)
    p = np.round(rng.uniform(0.01, 0.99, 2_000), 2)
    y = (rng.uniform(size=2_000) < p).astype(int)
    pred = Predictions(y, p, sample_weight=np.full(2_000, 5.0))
    tally = Tally.from_predictions(pred)
    assert len(tally.tables[0].scores) < tally.count
    held, scheme = _fold_weights(tally, pred, 5, np.random.default_rng(0))
    assert scheme == "5-fold cross-fitting over samples"
    parts = _dense(held, tally.tables[0].weights.shape)
    np.testing.assert_allclose(parts.sum(axis=0), tally.tables[0].weights, rtol=1e-12)
    # tied rows hold several samples: their weight splits over folds in whole samples of 5
    per_fold = parts / 5.0
    np.testing.assert_allclose(per_fold, np.rint(per_fold), atol=1e-9)


@pytest.mark.parametrize("seed", range(4))
def test_compiled_folds_are_the_numpy_twins(seed, monkeypatch):
    # the folds of a table of distinct scores (rows of weight 0 in none): the same rows
    # and doubles with and without numba, the compiled ones as contiguous columns
    pytest.importorskip("numba")
    pred = _distinct(seed, n=[50, 3_000, 20_000, 7][seed], weighted=seed % 2 == 1)
    if seed == 2:  # some rows of weight 0
        w = np.ones(len(pred))
        w[::7] = 0.0
        pred = Predictions(pred.y, pred.prob, sample_weight=w)
    tally = Tally.from_predictions(pred)
    results = []
    for switch in ("1", "0"):
        monkeypatch.setenv("LOSSGAP_NUMBA", switch)
        results.append(_fold_weights(tally, pred, 5, np.random.default_rng(seed)))
    (compiled, scheme), (twin, twin_scheme) = results
    assert scheme == twin_scheme and len(compiled) == len(twin) == 5
    for (rows, test), (twin_rows, twin_test) in zip(compiled, twin, strict=True):
        assert np.array_equal(rows, twin_rows) and np.array_equal(test, twin_test)
        assert test[:, 0].flags.c_contiguous  # columns the held-out totals add in lanes


def test_seeded_generator_draws_as_a_fresh_default_rng():
    # the folds' generator: default_rng(seed)'s state set on this thread's generator, so
    # the same draws whatever was drawn before, in this thread or another
    import threading

    from lossgap.core.uncertainty import seeded

    def _seeded(seed):
        return seeded(seed, "test")

    def draws(rng):
        return rng.integers(0, 5, 50).tolist(), rng.uniform(size=3).tolist()

    for seed in (0, 7, 0, 2**40, 7):
        assert draws(_seeded(seed)) == draws(np.random.default_rng(seed))
    seen = []
    other = threading.Thread(target=lambda: seen.append(draws(_seeded(3))))
    mine = _seeded(3)
    mine.integers(0, 5, 10)
    other.start()
    other.join()
    assert seen == [draws(np.random.default_rng(3))]
    reference = np.random.default_rng(3)
    reference.integers(0, 5, 10)
    assert draws(mine) == draws(reference)  # another thread's draws left this one's alone
    # another slot's seeding leaves a generator still drawing alone; tuple seeds as numpy's
    mine = _seeded(5)
    mine.integers(0, 5, 10)
    assert draws(seeded((5, 1), "other")) == draws(np.random.default_rng((5, 1)))
    reference = np.random.default_rng(5)
    reference.integers(0, 5, 10)
    assert draws(mine) == draws(reference)

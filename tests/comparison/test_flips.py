"""Flip counts and ids of `compare` against brute force over pairs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose

from lossgap import Predictions
from lossgap.comparison.flips import boundary_distance, first_rows, flip_tables


def test_boundary_distance_binary_and_multiclass(rng):
    p = rng.random(50)
    y = (rng.random(50) < 0.5).astype(int)
    assert_allclose(boundary_distance(Predictions(y, p, threshold=0.3)), np.abs(p - 0.3))
    prob = rng.dirichlet(np.ones(4), size=60)
    labels = rng.integers(0, 4, 60)
    labels[:4] = [0, 1, 2, 3]
    expected = [
        abs(row[c] - max(v for j, v in enumerate(row) if j != c)) / 2
        for row, c in zip(prob, labels, strict=True)
    ]
    assert_allclose(boundary_distance(Predictions(labels, prob)), expected)


def brute_tables(correct, near, loss):
    m = correct.shape[1]
    out = {k: np.zeros((m, m)) for k in ("both", "a_only", "near_a_only", "near_loss")}
    for a in range(m):
        for b in range(m):
            only = correct[:, a] & ~correct[:, b]
            out["both"][a, b] = np.sum(correct[:, a] & correct[:, b])
            out["a_only"][a, b] = np.sum(only)
            close = near[:, a] & near[:, b]
            out["near_a_only"][a, b] = np.sum(only & close)
            flips = (correct[:, a] != correct[:, b]) & close
            out["near_loss"][a, b] = np.sum(loss[flips, a] - loss[flips, b])
    return out


@pytest.mark.parametrize("compiled", [False, True])
@pytest.mark.parametrize("n", [1, 63, 64, 65, 500])  # one bit per sample: words of 64
def test_flip_tables_match_brute_force(rng, n, compiled):
    m = 5
    correct = rng.random((n, m)) < 0.7
    near = rng.random((n, m)) < 0.3
    loss = rng.gamma(1.0, 0.5, (n, m))
    tables = flip_tables(correct.T, near.T, loss.T, compiled=compiled)
    expected = brute_tables(correct, near, loss)
    for key, value in expected.items():
        assert_allclose(getattr(tables, key), value, atol=1e-12, err_msg=key)
    assert_allclose(tables.neither, n - tables.both - tables.a_only - tables.a_only.T)
    assert (tables.neither == np.array(
        [[np.sum(~correct[:, a] & ~correct[:, b]) for b in range(m)] for a in range(m)]
    )).all()
    some_right, some_wrong = (correct & near).any(axis=1), (~correct & near).any(axis=1)
    assert tables.near_samples.tolist() == np.flatnonzero(some_right & some_wrong).tolist()


def test_first_rows_match_brute_force(rng):
    n, m = 20_000, 4  # more samples than one scan block
    x = rng.random((n, m)) < 0.3
    y = rng.random((n, m)) < 0.001  # rare hits: the scan must run past the first block
    ordered = np.array([(a, b) for a in range(m) for b in range(m) if a != b])
    exist = np.array([np.sum(x[:, a] & y[:, b]) for a, b in ordered])
    wanted = np.minimum(exist, 4)
    wanted[0] = 0
    xt, yt = x.T.copy(), y.T.copy()
    candidates = np.flatnonzero(xt.any(axis=0) & yt.any(axis=0))
    rows = first_rows(lambda s: (xt[:, s], yt[:, s]), candidates, ordered, wanted)
    for (a, b), got, k in zip(ordered, rows, wanted, strict=True):
        assert got.tolist() == np.flatnonzero(x[:, a] & y[:, b])[:k].tolist()


def fsum_near_loss(correct, near, loss):
    """Per ordered pair: the exact (math.fsum) sum of loss_a - loss_b over its near flips,
    and the sum of loss_a + loss_b there (the scale of the rounding)."""
    m = correct.shape[0]
    exact, scale = np.zeros((m, m)), np.zeros((m, m))
    for a in range(m):
        for b in range(m):
            flips = near[a] & near[b] & (correct[a] != correct[b])
            exact[a, b] = math.fsum((loss[a, flips] - loss[b, flips]).tolist())
            scale[a, b] = math.fsum((loss[a, flips] + loss[b, flips]).tolist())
    return exact, scale


NEAR_SHARES = {"sparse": 0.1, "dense": 0.6, "none": 0.0}


@pytest.mark.parametrize("share", list(NEAR_SHARES.values()), ids=list(NEAR_SHARES))
@pytest.mark.parametrize("m", [2, 7])
def test_compiled_near_flips_count_the_same_and_sum_within_rounding(rng, share, m):
    """The numba path (each sample's near models, right against wrong) gives the matrix
    products' counts exactly, and both paths give each pair's near-threshold loss sum
    within 1e-13 of the sum of the losses involved (against math.fsum): the kernel adds
    the differences in sample order, the products four sums of losses."""
    pytest.importorskip("numba")
    n = 3000
    correct = rng.random((m, n)) < 0.7
    near = rng.random((m, n)) < share
    loss = rng.gamma(1.0, 0.5, (m, n))
    numpy_path = flip_tables(correct, near, loss)
    compiled = flip_tables(correct, near, loss, compiled=True)
    for key in ("both", "a_only", "near_a_only"):
        assert np.array_equal(getattr(compiled, key), getattr(numpy_path, key)), key
    assert np.array_equal(compiled.near_loss, -compiled.near_loss.T)
    exact, scale = fsum_near_loss(correct, near, loss)
    for tables in (compiled, numpy_path):
        assert (np.abs(tables.near_loss - exact) <= 1e-13 * scale).all()
    if share:
        assert (numpy_path.near_a_only > 0).any()  # the test saw flips


def test_flip_tables_take_losses_from_a_function(rng):
    """``loss(j, index, out)``: only the samples the near-threshold flips need are asked
    for, and the tables equal those of the full loss matrix, on either path."""
    n, m = 2000, 4
    correct = rng.random((m, n)) < 0.6
    near = rng.random((m, n)) < 0.2
    loss = rng.gamma(1.0, 0.5, (m, n))
    asked = []

    def write(j, index, out):
        asked.append(index.copy())
        out[:] = loss[j, index]

    for compiled in (False, True):
        asked.clear()
        tables = flip_tables(correct, near, write, compiled=compiled)
        expected = flip_tables(correct, near, loss, compiled=compiled)
        assert all(np.array_equal(getattr(tables, k), getattr(expected, k)) for k in
                   ("both", "a_only", "near_a_only", "near_loss"))
        wanted = (correct & near).any(axis=0) & (~correct & near).any(axis=0)
        assert set(np.concatenate(asked).tolist()) <= set(np.flatnonzero(wanted).tolist())

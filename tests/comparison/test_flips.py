"""Flip counts and ids of `compare` against brute force over pairs."""

from __future__ import annotations

import numpy as np
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


def test_flip_tables_match_brute_force(rng):
    n, m = 500, 5
    correct = rng.random((n, m)) < 0.7
    near = rng.random((n, m)) < 0.3
    loss = rng.gamma(1.0, 0.5, (n, m))
    tables = flip_tables(correct.T, near.T, loss.T)
    expected = brute_tables(correct, near, loss)
    for key, value in expected.items():
        assert_allclose(getattr(tables, key), value, atol=1e-12, err_msg=key)
    assert_allclose(tables.neither, n - tables.both - tables.a_only - tables.a_only.T)
    assert (tables.neither == np.array(
        [[np.sum(~correct[:, a] & ~correct[:, b]) for b in range(m)] for a in range(m)]
    )).all()


def test_first_rows_match_brute_force(rng):
    n, m = 20_000, 4  # more samples than one scan block
    x = rng.random((n, m)) < 0.3
    y = rng.random((n, m)) < 0.001  # rare hits: the scan must run past the first block
    ordered = np.array([(a, b) for a in range(m) for b in range(m) if a != b])
    exist = np.array([np.sum(x[:, a] & y[:, b]) for a, b in ordered])
    wanted = np.minimum(exist, 4)
    wanted[0] = 0
    rows = first_rows(x.T.copy(), y.T.copy(), ordered, wanted)
    for (a, b), got, k in zip(ordered, rows, wanted, strict=True):
        assert got.tolist() == np.flatnonzero(x[:, a] & y[:, b])[:k].tolist()

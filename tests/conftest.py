"""Shared fixtures: seeded random predictions that no test was tuned to."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

REAL_LOGS = Path(__file__).resolve().parents[2] / "shared" / "real-logs"


def random_binary(rng: np.random.Generator, n: int, *, ties: bool = False):
    """Labels drawn from the probabilities (so roughly calibrated), optionally tied."""
    p = rng.beta(0.7, 0.7, size=n)
    if ties:
        p = np.round(p, 1)
    y = (rng.random(n) < p).astype(int)
    return y, p


def random_multiclass(rng: np.random.Generator, n: int, k: int):
    prob = rng.dirichlet(np.full(k, 0.6), size=n)
    y = np.array([rng.choice(k, p=row) for row in prob])
    return y, prob


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261123)

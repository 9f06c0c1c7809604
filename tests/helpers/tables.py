"""Assertions on the Tally's score tables, shared by the tests of its paths."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.testing import assert_allclose


def assert_same_bins(a: Any, b: Any, *, exact_weights: bool) -> None:
    """Two compressed score tables hold the same bins and extremes, the same weights
    (exactly when they are counts, else to 1e-12), and score sums and representative
    scores equal to 1e-12 (sums added in another order)."""
    assert np.array_equal(a.bins, b.bins)
    assert np.array_equal(a.low, b.low) and np.array_equal(a.high, b.high)
    if exact_weights:
        assert np.array_equal(a.weights, b.weights)
    else:
        assert_allclose(a.weights, b.weights, rtol=1e-12, atol=1e-12)
    assert_allclose(a.score_sum, b.score_sum, rtol=1e-12)
    assert_allclose(a.scores, b.scores, rtol=1e-12)

"""The ECE's bins of ascending scores found by bisection equal the pass over every score."""

from __future__ import annotations

import numpy as np
import pytest

from lossgap.core.calibration import binned_ece, ece_bin_starts, ece_bins


@pytest.mark.parametrize("bins", [1, 2, 3, 7, 10, 15, 33, 100])
def test_bin_starts_equal_the_rows_where_the_bin_changes(bins):
    rng = np.random.default_rng(bins)
    edge = np.arange(1, bins) / bins
    # doubles on, just below and just above every edge, where floor(bins p) may round
    near = np.concatenate([edge, np.nextafter(edge, 0), np.nextafter(edge, 2),
                           np.nextafter(np.nextafter(edge, 0), 0)])
    for _ in range(30):
        parts = [rng.uniform(size=rng.integers(0, 50)), [0.0, 1.0][: rng.integers(0, 3)]]
        if len(near):
            parts.append(rng.choice(near, rng.integers(0, 30)))
        scores = np.sort(np.concatenate(parts))
        expected = np.flatnonzero(np.diff(ece_bins(scores, bins), prepend=-1))
        assert np.array_equal(ece_bin_starts(scores, bins), expected)


def test_binned_ece_of_batched_weights_is_each_replicate_alone():
    rng = np.random.default_rng(5)
    scores = np.sort(rng.uniform(size=500))
    pos = rng.poisson(scores, (4, 500)).astype(float)
    neg = rng.poisson(1 - scores, (4, 500)).astype(float)
    batched = binned_ece(scores, neg, pos)
    # an independent route: every row's bin by its index, sums by bincount
    index = ece_bins(scores)
    for r in range(4):
        residual = np.bincount(index, (neg[r] + pos[r]) * scores - pos[r], 15)
        assert batched[r] == pytest.approx(np.abs(residual).sum() / (neg[r] + pos[r]).sum(),
                                           rel=1e-12)

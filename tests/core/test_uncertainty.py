"""``core/uncertainty.py`` against independent references."""

from __future__ import annotations

import numpy as np

from lossgap.core.uncertainty import quantiles


def test_quantiles_are_numpys_doubles():
    # numpy's default method on columns and single rows: ties, both ends and the middle of
    # the interpolation, a NaN or an infinity in some columns, one to 400 values
    rng = np.random.default_rng(3)
    levels = [0.0, 1.0, 0.5, 0.025, 0.975, 0.95, 0.005, 0.995]
    for trial in range(3_000):
        n, k = int(rng.integers(1, 400)), int(rng.integers(0, 4))
        values = rng.normal(size=(n, k) if k else n) * 10.0 ** int(rng.integers(-5, 5))
        if trial % 3 == 0:
            values = np.round(values, 1)
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
        assert np.array_equal(values, before, equal_nan=True)  # left as it was

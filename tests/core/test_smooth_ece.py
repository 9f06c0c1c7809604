"""Our smooth ECE against relplot's, alone, with weights, and batched over replicates."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import relplot
from numpy.testing import assert_allclose
from relplot.kernels import ReflectedGaussianKernel
from relplot.metrics import smECE_sigma
from scipy.special import expit, logit

from lossgap.core.calibration import _reflected_gaussian, smooth_ece, smooth_ece_of_labels


def draw(rng: np.random.Generator, n: int, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Scores and labels that are calibrated, over-confident, or all on one side."""
    q = rng.uniform(0.02, 0.98, n)
    y = (rng.uniform(size=n) < q).astype(float)
    if kind == "calibrated":
        return q, y
    if kind == "overconfident":
        return expit(3 * logit(q)), y
    if kind == "one_side":  # every score above 0.6, labels mostly negative
        return rng.uniform(0.6, 1.0, n), (rng.uniform(size=n) < 0.2).astype(float)
    return q, np.ones(n)  # "one_class"


@pytest.mark.parametrize("n", [50, 500, 20_000])
@pytest.mark.parametrize("kind", ["calibrated", "overconfident", "one_side", "one_class"])
def test_equals_relplot_with_its_bandwidth(rng, n, kind):
    p, y = draw(rng, n, kind)
    ref, ref_sigma = relplot.smECE(p, y, return_width=True)
    ours, sigma = smooth_ece(p, 1 - y, y)
    assert sigma == ref_sigma
    assert_allclose(ours, ref, rtol=1e-9)


def test_exactly_calibrated_ties_stop_at_the_narrowest_bandwidth():
    # residuals cancel at every score: the search runs down to relplot's floor (1e-3)
    p = np.repeat([0.125, 0.25, 0.5, 0.75], 64)
    y = np.concatenate([np.arange(64) < 64 * s for s in (0.125, 0.25, 0.5, 0.75)]).astype(float)
    ref, ref_sigma = relplot.smECE(p, y, return_width=True)
    ours, sigma = smooth_ece(p, 1 - y, y)
    assert sigma == ref_sigma == 2 / 1024
    assert_allclose(ours, ref, atol=1e-12)


def test_counts_at_tied_scores_equal_repeated_samples(rng):
    p, y = draw(rng, 3000, "overconfident")
    p = np.round(p, 2)  # ties: one table row holds many samples
    scores, row = np.unique(p, return_inverse=True)
    w_pos = np.bincount(row, y, len(scores))
    w_neg = np.bincount(row, 1 - y, len(scores))
    ours, sigma = smooth_ece(scores, w_neg, w_pos)
    ref, ref_sigma = relplot.smECE(p, y, return_width=True)
    assert sigma == ref_sigma
    assert_allclose(ours, ref, rtol=1e-9)


def test_weight_two_equals_duplicating_samples(rng):
    p, y = draw(rng, 800, "calibrated")
    doubled = rng.uniform(size=800) < 0.3
    weight = np.where(doubled, 2.0, 1.0)
    ours, sigma = smooth_ece(p, weight * (1 - y), weight * y)
    ref, ref_sigma = relplot.smECE(np.r_[p, p[doubled]], np.r_[y, y[doubled]], return_width=True)
    assert sigma == ref_sigma
    assert_allclose(ours, ref, rtol=1e-9)


def test_replicates_equal_relplot_on_the_resampled_samples(rng):
    p, y = draw(rng, 400, "overconfident")
    counts = rng.poisson(1.0, size=(5, 400)).astype(float)
    sigma = 0.03
    ours, _ = smooth_ece(p, counts * (1 - y), counts * y, sigma=sigma)
    repeats = counts.astype(int)
    ref = [smECE_sigma(np.repeat(p, r), np.repeat(y, r), sigma) for r in repeats]
    assert_allclose(ours, ref, rtol=1e-9)


@pytest.mark.parametrize("sigma", [2 / 1024, 0.1])
def test_batched_equals_one_replicate_at_a_time(rng, sigma):
    p, y = draw(rng, 2000, "calibrated")
    counts = rng.poisson(1.0, size=(300, 2000)).astype(float)  # several blocks of rows
    w_neg, w_pos = counts * (1 - y), counts * y
    batched, _ = smooth_ece(p, w_neg, w_pos, sigma=sigma)
    looped = [smooth_ece(p, n, q, sigma=sigma)[0] for n, q in zip(w_neg, w_pos, strict=True)]
    assert batched.shape == (300,)
    assert_allclose(batched, looped, rtol=1e-12)


@pytest.mark.parametrize(
    ("points", "sigma"), [(1001, 1.0), (1001, 0.3), (1002, 0.05), (3414, 3 / 1024)]
)
def test_convolution_equals_relplot_on_odd_and_even_grids(rng, points, sigma):
    values = rng.normal(size=points)
    ref = ReflectedGaussianKernel(sigma).convolve(values, points)
    assert_allclose(_reflected_gaussian(values, sigma), ref, rtol=0, atol=1e-13 * np.abs(ref).max())


def test_bandwidth_search_needs_one_row(rng):
    p, y = draw(rng, 50, "calibrated")
    with pytest.raises(ValueError, match="pass sigma"):
        smooth_ece(p, np.stack([1 - y, 1 - y]), np.stack([y, y]))


@pytest.mark.slow
def test_explain_does_not_import_relplot():
    code = (
        "import sys, numpy as np, lossgap\n"
        "ev = lossgap.explain(np.array([0, 1] * 50), np.linspace(0.01, 0.99, 100))\n"
        "assert 'smooth_ece' in ev.metrics\n"
        "print(sorted(m for m in sys.modules if m.startswith(('relplot', 'seaborn'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("m", "sigma"),
    [(271, 0.1), (300, 0.03), (80, 0.5), (400, 0.026), (271, 0.0146), (250, 0.011), (270, 0.0078),
     (300, 0.003)],
)
def test_batched_rows_through_the_mesh_operator_equal_the_fft_path(m, sigma, monkeypatch):
    """Bootstrap batches on a pooled table take the composed linear map; it must give the
    FFT path's values (relplot's algorithm) to rounding."""
    import lossgap.core.calibration as calibration

    rng = np.random.default_rng(m)
    s = np.sort(rng.uniform(size=m))
    s[0], s[-1] = 0.0, 1.0  # both ends of the grid, where the mirror images fold back
    w = rng.poisson(3.0, (50, m)).astype(float)
    pos = rng.binomial(w.astype(int), s).astype(float)
    via_operator = calibration._smooth_ece_at(sigma, s, w * s - pos, w)
    monkeypatch.setattr(calibration, "_OPERATOR_CELLS", 0)
    via_fft = calibration._smooth_ece_at(sigma, s, w * s - pos, w)
    assert_allclose(via_operator, via_fft, rtol=1e-12)


@pytest.mark.parametrize("sigma", [0.004, 0.02, 0.1])  # the FFT path and the operator's
def test_labels_over_one_mass_row_equal_the_full_rows(sigma, rng):
    # the calibrated null smooths its one mass row once: the same values as every row
    s = np.sort(rng.uniform(size=300))
    mass = rng.integers(1, 6, 300).astype(float)
    pos = rng.binomial(mass.astype(int), s, size=(40, 300)).astype(float)
    shared = smooth_ece_of_labels(s, mass, pos, sigma)
    full = smooth_ece(s, mass - pos, pos, sigma=sigma)[0]
    np.testing.assert_allclose(shared, full, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize(("m", "sigma"), [(270, 0.0137), (269, 0.035), (40, 0.0101), (300, 0.3)])
def test_mesh_operator_equals_the_fft_path_on_every_entry(m, sigma):
    """The operator is built on each score's band of mesh points only: every entry, in
    the band and outside it (exact zeros), must be the FFT path's map of a unit weight."""
    import lossgap.core.calibration as calibration

    rng = np.random.default_rng(m)
    s = np.sort(np.concatenate([[0.0, 1e-9, 1.0 - 1e-9, 1.0], rng.uniform(size=m - 4)]))
    operator = calibration._mesh_operator(s, sigma).values
    points = calibration._grid_points(sigma)
    unit = calibration._deposit(s, np.eye(m), points)
    via_fft = calibration._on_mesh(calibration._reflected_gaussian(unit, sigma), sigma)
    assert_allclose(operator, via_fft, rtol=0, atol=1e-12 * np.abs(via_fft).max())
    assert (operator == 0).mean() > (0.5 if sigma < 0.02 else 0.0)  # the band is narrow


@pytest.mark.parametrize(("m", "sigma"), [(270, 0.0078), (143, 0.0137), (269, 0.035), (500, 0.003)])
def test_mesh_operator_products_over_its_bands_equal_the_dense_product(m, sigma):
    import lossgap.core.calibration as calibration

    rng = np.random.default_rng(m)
    s = np.sort(np.concatenate([[0.0, 1.0], rng.uniform(size=m - 2)]))
    operator = calibration._mesh_operator(s, sigma)
    rows = rng.poisson(3.0, (20, m)) * s - rng.poisson(1.0, (20, m))
    dense = rows @ operator.values
    assert_allclose(operator.apply(rows), dense, rtol=0, atol=1e-13 * np.abs(dense).max())


def test_replicates_smooth_ece_from_density_totals_equals_relplots_sums_on_the_mesh():
    # |smoothed / density| * density summed over the mesh is the sum of |smoothed|, and
    # the density's sum is the mass times the operator's row sums plus the floors
    import lossgap.core.calibration as calibration

    rng = np.random.default_rng(47)
    worst = 0.0
    for trial in range(200):
        m = int(rng.integers(2, 500))
        sigma = float(rng.choice([0.003, 0.008, 0.014, 0.035, 0.1, 0.3, rng.uniform(0.002, 0.5)]))
        s = np.unique(rng.uniform(size=m))
        rows = int(rng.integers(2, 60))
        w_neg = rng.poisson(rng.uniform(0, 3, (rows, len(s)))).astype(float)
        w_pos = rng.poisson(rng.uniform(0, 3, (rows, len(s)))).astype(float)
        if trial % 3 == 0:
            w_neg *= rng.uniform(0.1, 3.0, w_neg.shape)  # weights, not counts
        mass = w_neg + w_pos
        residual = mass * s - w_pos
        operator = calibration._mesh_operator(s, sigma)
        on_mesh = calibration._smooth_ece_on_mesh(operator.apply(residual), operator.apply(mass))
        totals = calibration._smooth_ece_of_totals(operator, residual, mass)
        worst = max(worst, float(np.max(np.abs(totals - on_mesh) / on_mesh)))
    assert 0.0 < worst <= calibration.TOTALS_RTOL


@pytest.mark.parametrize("m", [1, 2, 40, 3_000, 60_000])
@pytest.mark.parametrize("points", [1_001, 1_283, 2_561, 10_001])
def test_cell_sums_deposit_as_every_score_does(m, points):
    """The bandwidth search's grids from per-cell sums against relplot's per-score deposit
    (``_deposit``): within CELL_DEPOSIT_ULPS ulps per grid point of the absolute weights
    within a grid step of each point; scores unsorted, tied, on grid points, at 0 and 1,
    cells empty and crowded."""
    import lossgap.core.calibration as calibration

    rng = np.random.default_rng(m + points)
    s = rng.choice([rng.uniform(size=m), np.round(rng.uniform(size=m), 3)], axis=0, p=[0.5, 0.5])
    s[: min(m, 2)] = [0.0, 1.0][: min(m, 2)]
    rng.shuffle(s)
    w = np.stack([rng.poisson(2.0, m) * s - rng.poisson(1.0, m), rng.poisson(2.0, m) + 0.5])
    exact = calibration._deposit(s, w, points)
    cells = calibration._CellDeposit(s, w)(points)
    # the absolute weights of the scores within a grid step of each point
    cell = (s * (points - 1)).astype(np.int64).clip(0, points - 2)
    scale = np.stack(
        [np.bincount(cell, a, points) + np.bincount(cell + 1, a, points) for a in np.abs(w)]
    )
    ulps = calibration.CELL_DEPOSIT_ULPS * points * np.finfo(float).eps
    assert np.all(np.abs(cells - exact) <= ulps * scale + 1e-300)
    assert_allclose(cells.sum(axis=1), w.sum(axis=1), rtol=1e-12)  # no weight lost

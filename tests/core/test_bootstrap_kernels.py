"""The compiled bootstrap kernels against their numpy twins (``core/bootstrap_kernels.py``)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from lossgap.core.bootstrap import (
    BINARY_STATISTICS,
    STATISTICS_RTOL,
    binary_statistics,
    numpy_binary_statistics,
)
from lossgap.core.decompose import TERMS_ATOL, numpy_replicate_terms, replicate_terms

pytest.importorskip("numba")


def _random_rows(rng: np.random.Generator, trial: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ascending scores (some at 0 and 1) and replicate rows of weights: Poisson counts,
    calibrated or not, some rescaled to fractional weights, some rows and cells empty."""
    m = int(rng.integers(1, 400))
    scores = np.unique(rng.uniform(size=m))
    if trial % 7 == 0:
        scores[0] = 0.0
    if trial % 11 == 0:
        scores[-1] = 1.0
    rows = int(rng.integers(1, 40))
    if trial % 2:  # a calibrated model's labels
        w_neg = rng.poisson(3 * (1 - scores), (rows, len(scores))).astype(float)
        w_pos = rng.poisson(3 * scores, (rows, len(scores))).astype(float)
    else:  # labels unrelated to the scores: the PAV pools nearly everything
        w_neg, w_pos = rng.poisson(rng.uniform(0, 4, (2, rows, len(scores)))).astype(float)
    if trial % 3 == 0:
        w_neg *= rng.uniform(0.1, 3.0, w_neg.shape)
        w_pos *= rng.uniform(0.1, 3.0, w_pos.shape)
    if trial % 5 == 0:
        w_neg[0] = w_pos[0] = 0.0  # a replicate that drew nothing
    return scores, w_neg, w_pos


def test_compiled_replicate_terms_equal_the_numpy_twin_within_their_tolerance(monkeypatch):
    monkeypatch.delenv("LOSSGAP_NUMBA", raising=False)
    rng = np.random.default_rng(17)
    worst = 0.0
    for trial in range(300):
        scores, w_neg, w_pos = _random_rows(rng, trial)
        compiled = replicate_terms(scores, w_neg, w_pos)
        twin = numpy_replicate_terms(scores, w_neg, w_pos)
        assert np.array_equal(np.isnan(compiled), np.isnan(twin)), trial
        assert compiled.shape == twin.shape
        worst = max(worst, float(np.nanmax(np.abs(compiled - twin), initial=0.0)))
    assert 0.0 < worst <= TERMS_ATOL  # they differ by rounding only


def test_compiled_replicate_terms_read_strided_rows_as_the_resampling_holds_them(monkeypatch):
    monkeypatch.delenv("LOSSGAP_NUMBA", raising=False)
    rng = np.random.default_rng(3)
    scores = np.sort(rng.uniform(size=50))
    weights = rng.poisson(2.0, (20, 100)).astype(float)  # negatives, then positives
    rep = weights.reshape(20, 2, -1).transpose(0, 2, 1)
    strided = replicate_terms(scores, rep[..., 0], rep[..., 1])
    copied = replicate_terms(scores, weights[:, :50].copy(), weights[:, 50:].copy())
    assert np.array_equal(strided, copied)


def test_the_switch_selects_the_numpy_twin(monkeypatch):
    rng = np.random.default_rng(5)
    scores, w_neg, w_pos = _random_rows(rng, 1)
    monkeypatch.setenv("LOSSGAP_NUMBA", "0")
    assert np.array_equal(
        replicate_terms(scores, w_neg, w_pos),
        numpy_replicate_terms(scores, w_neg, w_pos),
        equal_nan=True,
    )


def test_compiled_binary_statistics_equal_the_numpy_twin_within_their_tolerance(monkeypatch):
    monkeypatch.delenv("LOSSGAP_NUMBA", raising=False)
    rng = np.random.default_rng(23)
    worst = dict.fromkeys(BINARY_STATISTICS, 0.0)
    for trial in range(300):
        scores, w_neg, w_pos = _random_rows(rng, trial)
        if trial % 13 == 0:
            w_pos[:] = 0.0  # one class only: AUC, AP, balanced accuracy undefined or partial
        if trial % 17 == 0:
            w_neg[:] = 0.0
        threshold = (0.5, 0.0, 1.0, float(rng.uniform()))[trial % 4]
        with np.errstate(divide="ignore", invalid="ignore"):  # as the bootstrap calls them
            compiled = binary_statistics(scores, threshold, w_neg, w_pos, 15)
            twin = numpy_binary_statistics(scores, threshold, w_neg, w_pos, 15)
        assert list(compiled) == list(twin) == list(BINARY_STATISTICS)
        for name in BINARY_STATISTICS:
            ours, theirs = compiled[name], twin[name]
            assert np.array_equal(np.isnan(ours), np.isnan(theirs)), (trial, name)
            assert np.array_equal(np.isinf(ours), np.isinf(theirs)), (trial, name)
            finite = np.isfinite(theirs)
            gap = np.abs(ours[finite] - theirs[finite]) / np.maximum(np.abs(theirs[finite]), 1.0)
            worst[name] = max(worst[name], float(gap.max(initial=0.0)))
    assert max(worst.values()) <= STATISTICS_RTOL, worst
    assert worst["log_loss"] > 0.0  # they add in another order: the test can see a difference


@pytest.mark.parametrize("with_costs", [False, True])
def test_compiled_threshold_objectives_are_the_numpy_twins_doubles(monkeypatch, with_costs):
    from lossgap.core.decision import numpy_threshold_objectives, threshold_objectives

    monkeypatch.delenv("LOSSGAP_NUMBA", raising=False)
    rng = np.random.default_rng(29)
    for trial in range(200):
        _, w_neg, w_pos = _random_rows(rng, trial)
        if trial % 13 == 0:
            w_pos[:] = 0.0  # one class only
        costs = rng.uniform(-1.0, 3.0, (2, 2)) if with_costs else None
        with np.errstate(divide="ignore", invalid="ignore"):  # the empty rows: 0 / 0
            compiled = threshold_objectives(w_neg, w_pos, costs)
            twin = numpy_threshold_objectives(w_neg, w_pos, costs)
        assert list(compiled) == list(twin)
        for name, values in twin.items():
            assert np.array_equal(compiled[name], values, equal_nan=True), (trial, name)
        # one row alone (the point estimate) through the same loop: its doubles and shape
        with np.errstate(divide="ignore", invalid="ignore"):
            single = threshold_objectives(w_neg[-1], w_pos[-1], costs)
            twin = numpy_threshold_objectives(w_neg[-1], w_pos[-1], costs)
        for name, values in twin.items():
            assert np.array_equal(single[name], values, equal_nan=True), (trial, name)
            assert single[name].shape == values.shape


def test_compiled_mesh_operator_is_the_numpy_paths_doubles(monkeypatch):
    from lossgap.core.calibration import _mesh_operator

    rng = np.random.default_rng(31)
    for trial in range(150):
        m = int(rng.integers(2, 400))
        sigma = float(rng.choice([0.003, 0.008, 0.014, 0.035, 0.1, 0.3, rng.uniform(0.002, 0.5)]))
        scores = rng.uniform(size=m) if trial % 3 == 0 else np.unique(rng.uniform(size=m))
        if trial % 7 == 0:
            scores[0] = 0.0  # mirrored at both ends
        if trial % 11 == 0:
            scores[-1] = 1.0
        monkeypatch.delenv("LOSSGAP_NUMBA", raising=False)
        compiled = _mesh_operator(scores, sigma)
        monkeypatch.setenv("LOSSGAP_NUMBA", "0")
        twin = _mesh_operator(scores, sigma)
        assert np.array_equal(compiled.values, twin.values), (trial, m, sigma)
        assert np.array_equal(compiled.first, twin.first)
        assert compiled.width == twin.width


def test_compiled_cell_deposit_is_the_numpy_paths_doubles(monkeypatch):
    # the bandwidth search's grids: scores unsorted, tied, at 0 and 1; cells of one score
    # to thousands (numpy's reduceat sums a run of more than 8 and more than 128 terms
    # pairwise, in blocks), weights of any scale and sign (residuals)
    from lossgap.core.calibration import _CellDeposit

    rng = np.random.default_rng(43)
    for trial in range(600):
        m = int(rng.integers(1, 20_000 if trial % 4 else 40))
        scores = rng.uniform(size=m) ** rng.choice([1.0, 4.0, 0.2])
        if trial % 5 == 0:
            scores = np.round(scores, 3)
        if trial % 7 == 0:
            scores[: m // 3] = 1.0
        if trial % 9 == 0:
            scores[: m // 4] = 0.0
        weights = rng.uniform(0.0, 5.0, (2, m)) * rng.choice([1.0, 1e-3, 1e6])
        weights[0] -= weights[1] * rng.uniform()
        points = int(rng.choice([2, 3, 17, 1_001, 1_283, 2_561, 10_001]))
        deposit = _CellDeposit(scores, weights)
        monkeypatch.delenv("LOSSGAP_NUMBA", raising=False)
        compiled = deposit(points)
        monkeypatch.setenv("LOSSGAP_NUMBA", "0")
        assert np.array_equal(compiled, deposit(points)), (trial, m, points)


def test_compiled_smooth_ece_of_the_convolved_grids_is_the_numpy_paths_double(monkeypatch):
    # the bandwidth search's value at each bandwidth from its convolved grids (residual,
    # mass): meshes of 200 to 10,000 points on grids of 1,001 to 20,001, masses with empty
    # stretches (the density floor alone), residuals of either sign, weights of any scale
    from scipy import fft

    from lossgap.core import calibration

    rng = np.random.default_rng(44)
    for trial in range(300):
        sigma = float(rng.choice([1.0, 0.5, 0.0625, 0.03515625, 0.01, 0.004, 0.001]))
        sigma *= float(rng.uniform(0.9, 1.1)) if trial % 3 else 1.0
        points = calibration._grid_points(sigma)
        mass = rng.uniform(0.0, 3.0, points) * rng.choice([1.0, 1e-6, 1e4])
        mass[rng.uniform(size=points) < rng.uniform()] = 0.0
        residual = mass * (rng.uniform(size=points) - rng.uniform())
        spectrum, lo, hi, size = calibration._gaussian_spectrum(points, sigma)
        window = calibration._window_spectrum(np.stack([residual, mass]), lo, hi, size)
        convolved = fft.irfft(window * spectrum, size, axis=-1)
        monkeypatch.delenv("LOSSGAP_NUMBA", raising=False)
        compiled = calibration._smooth_ece_of_convolved(convolved, hi - lo, points, sigma)
        monkeypatch.setenv("LOSSGAP_NUMBA", "0")
        twin = calibration._smooth_ece_of_convolved(convolved, hi - lo, points, sigma)
        assert compiled == twin, (trial, sigma)
        # the twin is relplot's steps on the sliced convolution (_reflected_gaussian's)
        grids = np.stack([residual, mass])
        assert twin == calibration._smooth_ece_of_grids(sigma, grids)[0], (trial, sigma)


def test_compiled_logistic_fits_equal_the_numpy_twins_within_their_tolerance(monkeypatch):
    """Every fit's loss within FIT_LOSS_RTOL of the twin's; the parameters within
    FIT_RTOL where they are moderate (a flat, nearly separable fit's parameters move
    further with any rounding, its loss does not); the covariance within FIT_RTOL."""
    from scipy.special import expit

    from lossgap.core.pooling import row_mass
    from lossgap.core.recalibrate import FIT_LOSS_RTOL, FIT_RTOL, _softplus_loss, fit_logistic

    rng = np.random.default_rng(37)
    moderate = large = 0
    for trial in range(330):
        # the last 30 above COMPILED_ROWS: numpy's exponentials, the sums compiled
        m = int(rng.integers(2, 400) if trial < 300 else rng.integers(2_049, 25_000))
        z = np.sort(rng.normal(rng.normal(0.0, 1.0), rng.choice([0.3, 1.0, 3.0, 8.0]), m))
        unit = rng.choice([1.0, 0.37])  # counts, or weights of another scale
        counts = rng.integers(1, 8, m)
        pos = rng.binomial(counts, expit(rng.normal(0.0, 0.5) + rng.uniform(0.2, 2.0) * z))
        w = np.column_stack([counts - pos, pos]) * unit
        for intercept, slope in ((True, True), (False, True), (True, False)):
            monkeypatch.delenv("LOSSGAP_NUMBA", raising=False)
            ours = fit_logistic(z, w, intercept=intercept, slope=slope)
            monkeypatch.setenv("LOSSGAP_NUMBA", "0")
            twin = fit_logistic(z, w, intercept=intercept, slope=slope)
            assert ours.separable == twin.separable
            losses = [
                _softplus_loss(f.intercept + f.slope * z, w, row_mass(w)) for f in (ours, twin)
            ]
            assert losses[0] == pytest.approx(losses[1], rel=FIT_LOSS_RTOL, abs=1e-300)
            if max(abs(twin.intercept), abs(twin.slope)) < 10 and not twin.separable:
                moderate += 1
                assert ours.intercept == pytest.approx(twin.intercept, rel=FIT_RTOL, abs=FIT_RTOL)
                assert ours.slope == pytest.approx(twin.slope, rel=FIT_RTOL)
                np.testing.assert_allclose(ours.covariance, twin.covariance, rtol=FIT_RTOL)
                if trial >= 300:
                    large += 1
    assert moderate > 700 and large > 60


def test_logistic_fits_from_the_unit_start_share_its_terms_exactly():
    """kernels.logistic_start at a = 0, b = 1 gives the same doubles with and without
    intercept (zeros among the logits included), and a table's fits through its one
    fitter (fit_logistic_table, the start's terms taken once) equal fit_logistic's own."""
    from scipy.special import expit

    from lossgap import Predictions
    from lossgap.core import bootstrap_kernels as kernels
    from lossgap.core.pooling import pool_table
    from lossgap.core.recalibrate import (
        FIT_ROWS,
        MAX_NEWTON_STEPS,
        LogisticFit,
        _logistic_fitter,
        _pooled_logits,
        fit_logistic,
        fit_logistic_table,
    )
    from lossgap.core.tally import Tally

    rng = np.random.default_rng(41)
    for trial in range(200):
        m = int(rng.integers(2, 300))
        z = rng.normal(0.0, rng.choice([0.3, 3.0]), m)
        z[rng.uniform(size=m) < 0.1] = rng.choice([0.0, -0.0])
        w_neg, w_pos = rng.uniform(0.0, 3.0, m), rng.uniform(0.0, 3.0, m)
        with_intercept = kernels.logistic_start(z, w_neg, w_pos, True, 0.0, 1.0)
        without = kernels.logistic_start(z, w_neg, w_pos, False, 0.0, 1.0)
        assert with_intercept == without, trial
        y = (rng.uniform(size=m) < expit(rng.normal(0.0, 2.0, m))).astype(int)
        p = rng.uniform(0.01, 0.99, m)
        table = Tally.from_predictions(Predictions(np.r_[0, 1, y], np.r_[0.3, 0.6, p])).tables[0]
        for intercept, slope in ((True, True), (False, True), (True, False)):
            shared = fit_logistic_table(table, intercept=intercept, slope=slope)
            alone = fit_logistic(
                _pooled_logits(table), pool_table(table, FIT_ROWS).weights,
                intercept=intercept, slope=slope,
            )
            assert (shared.intercept, shared.slope) == (alone.intercept, alone.slope), trial
            np.testing.assert_array_equal(shared.covariance, alone.covariance)
        # a fit from elsewhere on the same fitter takes its own start's terms
        z, w = _pooled_logits(table), pool_table(table, FIT_ROWS).weights
        fitter = _logistic_fitter(z, w)
        fitter(True, True, None, MAX_NEWTON_STEPS)
        start = LogisticFit(-0.4, 0.6, np.eye(2))
        again = fitter(True, True, start, 2)
        w_neg, w_pos = np.ascontiguousarray(w[:, 0]), np.ascontiguousarray(w[:, 1])
        alone = kernels.fit_logistic(z, w_neg, w_pos, True, True, -0.4, 0.6, 2)
        assert (again.intercept, again.slope) == alone[:2], trial


def test_compiled_poisson_rows_are_numpys_draws_from_the_same_generator(monkeypatch):
    from lossgap.core.bootstrap import poisson_rows

    rng = np.random.default_rng(41)
    for trial in range(400):
        m = int(rng.integers(1, 600))
        # small means (multiplied uniforms) and large ones (transformed rejection, from
        # 10 on; its slow path's log-Gamma from 10 to thousands), both in some tables
        top = rng.choice([0.01, 0.5, 2.0, 5.0, 10.0, 12.0, 50.0, 300.0, 5e4])
        means = rng.uniform(0.0, top, m)
        if trial % 2:
            means = np.rint(means)  # counts, as an unweighted table holds them
        if trial % 5 == 0:
            means[: m // 2] = 10.0  # the first mean drawn by rejection
        means[rng.uniform(size=m) < 0.3] = 0.0  # empty cells draw nothing
        seed, replicates = int(rng.integers(1 << 30)), int(rng.integers(1, 60))
        monkeypatch.delenv("LOSSGAP_NUMBA", raising=False)
        ours = np.random.default_rng(seed)
        drawn = poisson_rows(ours, means, replicates)
        monkeypatch.setenv("LOSSGAP_NUMBA", "0")
        theirs = np.random.default_rng(seed)
        assert np.array_equal(drawn, poisson_rows(theirs, means, replicates)), trial
        assert ours.bit_generator.state == theirs.bit_generator.state  # the same stream after


def _assert_numpys_draws(
    seed: int,
    compiled: Callable[[np.random.Generator], np.ndarray],
    numpys: Callable[[np.random.Generator], np.ndarray],
) -> None:
    """``compiled`` draws ``numpys``'s numbers from a generator seeded ``seed``, and leaves
    it in the same state (the draws after are the same too)."""
    ours, theirs = np.random.default_rng(seed), np.random.default_rng(seed)
    assert np.array_equal(compiled(ours), numpys(theirs))
    assert ours.bit_generator.state == theirs.bit_generator.state


def test_compiled_poisson_rows_by_rejection_in_bulk(monkeypatch):
    # two million draws by transformed rejection, means 10 to 3 x 10^5: about a third take
    # the slow path's logarithms and log-Gamma (kept per draw up to 2^16, computed past
    # it), where a last-bit difference would show
    from lossgap.core.bootstrap import poisson_rows

    means = np.geomspace(10.0, 3e5, 2_000)
    monkeypatch.delenv("LOSSGAP_NUMBA", raising=False)
    _assert_numpys_draws(
        7,
        lambda rng: poisson_rows(rng, means, 1_000),
        lambda rng: rng.poisson(means, size=(1_000, len(means))),
    )


#: PCG64's multiplier, and its inverse modulo 2^128 (to step the state back).
_PCG64_MULTIPLIER = (2549297995355413924 << 64) + 4865540595714422341
_PCG64_INVERSE = pow(_PCG64_MULTIPLIER, -1, 1 << 128)


def _zero_at(position: int, high: int, increment: int) -> dict:
    """A PCG64 state whose uniform number ``position`` (from 0) is exactly 0.0: the state
    it steps to has equal high and low words (``high``), so the XSL-RR output is 0."""
    state = (high << 64) | high
    for _ in range(position + 1):  # step back over the steps to it
        state = ((state - increment) * _PCG64_INVERSE) % (1 << 128)
    return {
        "bit_generator": "PCG64",
        "state": {"state": state, "inc": increment},
        "has_uint32": 0,
        "uinteger": 0,
    }


def _generators(state: dict) -> tuple[np.random.Generator, np.random.Generator]:
    ours, theirs = np.random.Generator(np.random.PCG64()), np.random.Generator(np.random.PCG64())
    ours.bit_generator.state = theirs.bit_generator.state = state
    return ours, theirs


def test_draws_on_a_uniform_of_exactly_zero_are_numpys(monkeypatch):
    # next_double is 0.0 once in 2^53 uniforms. Transformed rejection's first uniform at 0
    # divides by 0 (numpy rejects the candidate floor(-inf)); its second at 0 takes log(0)
    # (numpy accepts); BTPE's tails reject v = 0, the inversion and the triangle accept it
    from lossgap.core.bootstrap import binomial_rows, poisson_rows

    monkeypatch.delenv("LOSSGAP_NUMBA", raising=False)
    rng = np.random.default_rng(53)
    zero = _generators(_zero_at(0, 12345, 3))[1]
    assert zero.random() == 0.0
    for trial in range(400):
        state = _zero_at(trial % 6, int(rng.integers(1 << 62)) << 2, 2 * trial + 1)
        means = np.array([[0.5], [10.0], [20.0], [1e4]][trial % 4])
        ours, theirs = _generators(state)
        drawn = poisson_rows(ours, means, 2)
        assert np.array_equal(drawn, theirs.poisson(means, size=(2, 1))), trial
        assert ours.bit_generator.state == theirs.bit_generator.state
        counts, p = np.array([[20], [1_000], [1_000]][trial % 3]), np.array([0.3])
        ours, theirs = _generators(state)
        drawn = binomial_rows(ours, counts, p if trial % 2 else 1 - p, 2)
        assert np.array_equal(drawn, theirs.binomial(counts, p if trial % 2 else 1 - p, (2, 1)))
        assert ours.bit_generator.state == theirs.bit_generator.state


def test_compiled_binomial_rows_are_numpys_draws_from_the_same_generator(monkeypatch):
    from lossgap.core.bootstrap import binomial_rows

    rng = np.random.default_rng(47)
    for trial in range(300):
        m = int(rng.integers(1, 400))
        # counts from a few (inversion only) to thousands (BTPE where the rarer mean
        # passes 30), probabilities at 0, 1/2, 1, tiny and near 1
        counts = rng.integers(0, rng.choice([2, 10, 100, 600, 5_000]), m)
        p = rng.uniform(size=m) ** rng.choice([1.0, 3.0, 0.3])
        edges = np.array([0.0, 0.5, 1.0, 1e-12, 1 - 1e-12, 30 / 600, 1 - 30 / 600])
        at = rng.uniform(size=m) < 0.2
        p[at] = rng.choice(edges, at.sum())
        seed, replicates = int(rng.integers(1 << 30)), int(rng.integers(1, 80))
        monkeypatch.delenv("LOSSGAP_NUMBA", raising=False)
        ours = np.random.default_rng(seed)
        drawn = binomial_rows(ours, counts, p, replicates)
        theirs = np.random.default_rng(seed)
        expected = theirs.binomial(counts, p, size=(replicates, m))
        assert drawn.dtype == expected.dtype
        assert np.array_equal(drawn, expected), trial
        assert ours.bit_generator.state == theirs.bit_generator.state  # the same stream after
        monkeypatch.setenv("LOSSGAP_NUMBA", "0")  # the numpy twin: numpy's call itself
        again = np.random.default_rng(seed)
        assert np.array_equal(binomial_rows(again, counts, p, replicates), expected)


def test_compiled_binomial_rows_in_bulk(monkeypatch):
    # a million draws of the multiclass concentration's shape: runs of about 500 samples
    # at a class column's probabilities, inverted and by BTPE
    from lossgap.core.bootstrap import binomial_rows

    rng = np.random.default_rng(5)
    logits = rng.normal(0.0, 2.0, (2_000, 10))
    prob = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    counts, p = rng.poisson(500, 2_000), np.sort(prob[:, 0])
    monkeypatch.delenv("LOSSGAP_NUMBA", raising=False)
    _assert_numpys_draws(
        11,
        lambda rng: binomial_rows(rng, counts, p, 500),
        lambda rng: rng.binomial(counts, p, size=(500, len(p))),
    )


def test_compiled_binomial_rows_by_btpe_in_bulk():
    # two million draws by BTPE, 100 to 10^7 trials at probabilities on both sides of 1/2:
    # every case of its rejection (the triangle, parallelograms, tails, the recursion and
    # the squeezes on log v)
    from lossgap.core.bootstrap import binomial_rows

    counts = np.geomspace(100, 1e7, 2_000).astype(np.int64)
    p = np.resize(np.array([0.05, 0.2, 0.35, 0.5, 0.7, 0.93]), len(counts))
    _assert_numpys_draws(
        13,
        lambda rng: binomial_rows(rng, counts, p, 1_000),
        lambda rng: rng.binomial(counts, p, size=(1_000, len(counts))),
    )


def test_btpes_kept_ratios_decide_as_numpys_recursion():
    # BTPE's case 50 compares v with f(y) / f(m), numpy's chain of products or divisions:
    # the kept ratios (single precision) lie well within _RATIO_MARGIN of numpy's doubles,
    # and a v at, or a unit either side of, numpy's ratio (or at the kept one) is decided
    # as numpy decides (by the recursion within the margin, or where none is kept)
    from lossgap.core.bootstrap_kernels import (
        _RATIO_MARGIN,
        _RATIO_STEPS,
        _btpe_ratios,
        _ratio_rejects,
    )

    rng = np.random.default_rng(31)
    for _ in range(200):
        n = int(rng.integers(70, 10**7))
        rare = float(rng.uniform(30.5 / n, 0.5))
        q = 1.0 - rare
        m = int(np.floor(n * rare + rare))
        s = rare / q
        a = s * (n + 1)
        ratios = np.empty(2 * _RATIO_STEPS + 1, dtype=np.float32)
        _btpe_ratios(n, m, rare, q, ratios)
        assert np.isfinite(ratios).all()
        for d in range(-_RATIO_STEPS, _RATIO_STEPS + 1):
            y, f = m + d, 1.0
            for i in range(m + 1, y + 1):
                f = f * (a / i - s)
            for i in range(y + 1, m + 1):
                f = f / (a / i - s)
            kept = float(ratios[_RATIO_STEPS + d])
            assert abs(kept - f) <= _RATIO_MARGIN / 8 * f
            for v in (f, np.nextafter(f, 0.0), np.nextafter(f, 2.0), kept):
                assert _ratio_rejects(v, y, m, a, s, kept) == (v > f)
                assert _ratio_rejects(v, y, m, a, s, np.nan) == (v > f)


def test_btpes_last_test_is_numbas_for_this_numpy():
    # the Stirling test of BTPE's case 52 moves the acceptance by about 1e-9, too little
    # for draws to show: against numba's port (which follows the numpy it runs with)
    import numba

    distributions = pytest.importorskip("numba.np.random.distributions")
    theirs = getattr(distributions, "_binomial_btpe_squeeze", None)
    if theirs is None:
        pytest.skip("numba's port has no separate Stirling test")
    from lossgap.core.bootstrap_kernels import _btpe_rejects

    @numba.njit
    def both(big_a, xm, m, n, y, r, q):
        return _btpe_rejects(big_a, xm, m, n, y, r, q), theirs(big_a, xm, m, n, y, r, q)

    rng = np.random.default_rng(29)
    for _ in range(2_000):
        n = int(rng.integers(50, 10**7))
        r = float(rng.uniform(0.01, 0.5))
        q = 1.0 - r
        m = int(np.floor(n * r + r))
        y = int(np.clip(m + rng.normal(0, 3 * np.sqrt(n * r * q)), 0, n))
        xm = m + 0.5
        # the acceptance threshold itself, and values a hair either side of it
        centre = (
            xm * np.log((m + 1) / (y + 1)) + (n - m + 0.5) * np.log((n + 1 - m) / (n - y + 1))
            + (y - m) * np.log((n - y + 1) * r / ((y + 1) * q))
        )
        for big_a in (centre, np.nextafter(centre, -np.inf), centre + 1e-6, centre - 1e-6):
            ours, numbas = both(big_a, xm, m, n, y, r, q)
            assert ours == numbas, (n, r, y, big_a)


def test_compiled_held_out_totals_equal_the_numpy_twins_within_their_tolerance(monkeypatch):
    from lossgap.core.decompose import log_losses
    from lossgap.core.recalibrate import HELD_OUT_RTOL, _held_out_scorer

    rng = np.random.default_rng(43)
    worst = 0.0
    for trial in range(200):
        # every tenth above COMPILED_ROWS, where the pass reads numpy's logarithms and
        # may add in any order
        m = int(rng.integers(1, 3000) if trial % 10 else rng.integers(3000, 30000))
        scores = rng.uniform(size=m)
        scores[rng.uniform(size=m) < 0.01] = float(rng.choice([0.0, 1.0]))  # capped losses
        prob = np.clip(scores + rng.normal(0.0, 0.1, m), 0.0, 1.0)  # a map's probabilities
        test = rng.poisson(1.0, (m, 2)).astype(float)
        if trial % 2:
            test *= rng.uniform(0.2, 2.0, (m, 2))
        if trial % 20 == 0:  # contiguous columns, as the folds hold them: vector lanes
            test = np.asfortranarray(test)
        args = (test, log_losses(scores), scores >= 0.5, 0.5)
        monkeypatch.delenv("LOSSGAP_NUMBA", raising=False)
        compiled = _held_out_scorer(*args)(prob, False)
        monkeypatch.setenv("LOSSGAP_NUMBA", "0")
        twin = _held_out_scorer(*args)(prob, False)
        if not trial % 2:  # counts: the decisions' totals are whole numbers, exact
            assert compiled[2:4].tolist() == twin[2:4].tolist()
        worst = max(worst, float(np.abs(compiled - twin).max() / np.abs(twin).max()))
    assert 0.0 < worst <= HELD_OUT_RTOL


def test_compiled_run_sums_equal_the_numpy_twin_within_their_tolerance(monkeypatch):
    from lossgap.core.recalibrate import RUN_SUMS_RTOL, _held_run_sums, _run_of_rows

    rng = np.random.default_rng(47)
    worst = 0.0
    for trial in range(200):
        m = int(rng.integers(1, 3000))
        logits = np.sort(rng.normal(0.0, 3.0, m))
        starts = np.flatnonzero(np.diff(np.floor(logits / rng.uniform(0.01, 2.0)), prepend=-1))
        starts[0] = 0
        run = _run_of_rows(starts, m)
        rows = np.flatnonzero(rng.uniform(size=m) < rng.uniform(0.05, 1.0))  # a fold's rows
        held = rng.poisson(1.0, (len(rows), 2)).astype(float)
        if trial % 2:
            held *= rng.uniform(0.2, 2.0, held.shape)
        for z in (None, logits):
            monkeypatch.delenv("LOSSGAP_NUMBA", raising=False)
            compiled = _held_run_sums(run, len(starts), rows, held, z)
            monkeypatch.setenv("LOSSGAP_NUMBA", "0")
            twin = _held_run_sums(run, len(starts), rows, held, z)
            assert compiled.shape == twin.shape == (1 if z is None else 3, len(starts), 2)
            if not trial % 2:  # counts add up exactly in any order
                assert np.array_equal(compiled[0], twin[0])
            # against the sum of the magnitudes added per run
            scale = np.abs(_held_run_sums(run, len(starts), rows, np.abs(held), None))[0]
            if z is not None:  # and of |w z|, |w| z^2
                size = np.abs(z[rows])[:, None]
                magnitudes = (size * np.abs(held), size * size * np.abs(held))
                scale = np.stack(
                    [scale] + [_held_run_sums(run, len(starts), rows, x)[0] for x in magnitudes]
                )
            gap = np.abs(compiled - twin)
            assert np.all(gap <= RUN_SUMS_RTOL * scale + 1e-300), trial
            worst = max(worst, float(np.max(gap / np.maximum(scale, 1e-300))))
    assert 0.0 < worst <= RUN_SUMS_RTOL


def test_compiled_training_run_weights_equal_the_numpy_twin(monkeypatch):
    from lossgap.core.recalibrate import RUN_SUMS_RTOL, _run_of_rows, _training_run_weights

    rng = np.random.default_rng(53)
    for trial in range(100):
        m = int(rng.integers(2, 3000))
        starts = np.unique(np.concatenate([[0], rng.integers(1, m, int(rng.integers(0, m)))]))
        run = _run_of_rows(starts, m)
        weights = rng.poisson(1.0, (m, 2)).astype(float)
        if trial % 2:
            weights *= rng.uniform(0.2, 2.0, weights.shape)
        rows = np.flatnonzero(rng.uniform(size=m) < 0.3)
        rows = np.union1d(rows, np.arange(starts[1] if len(starts) > 1 else m))  # run 0 held
        whole = np.add.reduceat(weights, starts, axis=0)
        args = (run, rows, weights[rows], whole)
        monkeypatch.delenv("LOSSGAP_NUMBA", raising=False)
        compiled = _training_run_weights(*args)
        monkeypatch.setenv("LOSSGAP_NUMBA", "0")
        twin = _training_run_weights(*args)
        assert np.all(compiled[0] == 0.0) and np.all(twin[0] == 0.0)  # no residue left
        if not trial % 2:  # counts: exact
            assert np.array_equal(compiled, twin)
        assert np.all(np.abs(compiled - twin) <= RUN_SUMS_RTOL * whole), trial


def test_compiled_least_gaps_are_fmin_reduceat():
    # NaN skipped unless a run holds only NaN, infinities kept, either sense of the gap
    from lossgap.core.bootstrap_kernels import least_gaps

    rng = np.random.default_rng(59)
    for trial in range(300):
        n = int(rng.integers(1, 500))
        values = rng.uniform(size=n)
        if trial % 3 == 0:
            values[rng.uniform(size=n) < 0.3] = np.nan
        if trial % 5 == 0:
            values[rng.integers(0, n)] = rng.choice([np.inf, -np.inf])
        first = np.unique(np.concatenate([[0], rng.integers(0, n, int(rng.integers(0, 40)))]))
        chosen = float(rng.uniform())
        for maximise in (True, False):
            gap = chosen - values if maximise else values - chosen
            with np.errstate(invalid="ignore"):
                expected = np.fmin.reduceat(gap, first)
            got = least_gaps(values, chosen, maximise, first)
            assert np.array_equal(got, expected, equal_nan=True), trial


def test_compiled_run_sums_add_row_by_row_in_any_order():
    # the runs' sums carried in locals: the doubles of adding each row into its run in
    # row order, also where a run's rows are not adjacent
    from lossgap.core.bootstrap_kernels import held_run_sums

    rng = np.random.default_rng(61)
    for trial in range(40):
        m, runs = int(rng.integers(1, 300)), int(rng.integers(1, 20))
        run = np.sort(rng.integers(0, runs, m)) if trial % 2 else rng.integers(0, runs, m)
        rows = np.sort(rng.choice(m, int(rng.integers(0, m + 1)), replace=False))
        if trial % 3 == 0:
            rows = rng.permutation(rows)
        w = rng.lognormal(0.0, 2.0, (len(rows), 2))
        z = rng.normal(0.0, 3.0, m)
        expected = np.zeros((3, runs, 2))
        for j, i in enumerate(rows):
            for c in range(2):
                expected[0, run[i], c] += w[j, c]
                expected[1, run[i], c] += w[j, c] * z[i]
                expected[2, run[i], c] += w[j, c] * z[i] * z[i]
        got = held_run_sums(run, rows, w[:, 0].copy(), w[:, 1].copy(), z, runs, True)
        assert np.array_equal(got, expected), trial
        assert np.array_equal(
            held_run_sums(run, rows, w[:, 0].copy(), w[:, 1].copy(), z, runs, False),
            expected[:1],
        )
@pytest.mark.parametrize("bit_generator", [np.random.Philox, np.random.SFC64, np.random.PCG64DXSM])
def test_compiled_draws_from_other_bit_generators_are_numpys(bit_generator):
    # PCG64 (every default_rng) is stepped in line by the kernels; any other bit generator
    # is read through numba's Generator.random: numpy's numbers either way
    from lossgap.core.bootstrap import binomial_rows, poisson_rows

    pytest.importorskip("numba")
    means = np.geomspace(0.1, 500.0, 300)

    def generator() -> np.random.Generator:
        return np.random.Generator(bit_generator(23))

    for compiled, numpys in (
        (lambda rng: poisson_rows(rng, means, 20), lambda rng: rng.poisson(means, (20, 300))),
        (
            lambda rng: binomial_rows(rng, np.rint(means).astype(np.int64) + 1, means / 501, 20),
            lambda rng: rng.binomial(np.rint(means).astype(np.int64) + 1, means / 501, (20, 300)),
        ),
    ):
        ours, theirs = generator(), generator()
        assert np.array_equal(compiled(ours), numpys(theirs))
        assert np.array_equal(ours.random(8), theirs.random(8))  # the same stream after


def test_compiled_running_sums_are_numpys_cumsum(monkeypatch):
    # numpy's cumsum adds in order, as the loop does: the same doubles, for contiguous,
    # strided and reversed arrays (a Tally's columns and their views)
    from lossgap.core.metrics import cumulative_sum

    monkeypatch.delenv("LOSSGAP_NUMBA", raising=False)
    rng = np.random.default_rng(67)
    for trial in range(60):
        n = int(rng.integers(4_096, 40_000))
        weights = rng.poisson(rng.choice([0.3, 5.0]), (n, 2)) * rng.uniform(0.1, 3.0, (n, 2))
        for x in (weights[:, 0], np.asfortranarray(weights)[:, 1], weights[::-1, 1]):
            expected = np.cumsum(x)
            assert np.array_equal(cumulative_sum(x), expected), trial
            itself = x.copy()[::-1][::-1]
            assert cumulative_sum(itself, out=itself) is itself  # in place
            assert np.array_equal(itself, expected), trial


def _statistics_row_by_row(scores, loss_neg, loss_pos, decided, starts, w_neg, w_pos):
    """The compiled binary statistics' sums as a pass per row adds them (the kernel's
    former loop, in Python floats: the same doubles), for the first ten statistics."""
    out = []
    for a_row, p_row in zip(w_neg, w_pos, strict=True):
        loss = brier = tn = fp = fn = tp = negatives = positives = 0.0
        pairs = ties = mass = ece = residual = 0.0
        hit, b = False, 0
        for j, (a, p) in enumerate(zip(a_row.tolist(), p_row.tolist(), strict=True)):
            if b + 1 < len(starts) and j == starts[b + 1]:
                ece += abs(residual)
                residual = 0.0
                b += 1
            if np.isinf(loss_neg[j]):
                hit = hit or a > 0.0
            else:
                loss += a * float(loss_neg[j])
            if np.isinf(loss_pos[j]):
                hit = hit or p > 0.0
            else:
                loss += p * float(loss_pos[j])
            s = float(scores[j])
            brier += a * (s * s) + p * ((1.0 - s) * (1.0 - s))
            if decided[j]:
                fp, tp = fp + a, tp + p
            else:
                tn, fn = tn + a, fn + p
            negatives += a
            positives += p
            pairs += p * negatives
            ties += p * a
            mass += a + p
            residual += (a + p) * s - p
        ece += abs(residual)
        true_above = above = precision_sum = 0.0
        for a, p in zip(a_row[::-1].tolist(), p_row[::-1].tolist(), strict=True):
            true_above += p
            above += a + p
            precision_sum += p * (true_above / above if above > 0.0 else 0.0)
        total = np.float64(negatives + positives)  # numpy's division by 0 from here
        tp, fp, fn, tn = np.float64(tp), np.float64(fp), np.float64(fn), np.float64(tn)
        with np.errstate(divide="ignore", invalid="ignore"):
            out.append([
                np.inf if hit else loss / total,
                brier / total,
                (tn + tp) / ((tn + fp) + (fn + tp)),
                np.nan,  # balanced accuracy: the kernel's final arithmetic, unchanged
                tp / (fp + tp) if fp + tp > 0 else 0.0,
                tp / (fn + tp) if fn + tp > 0 else 0.0,
                2 * tp / ((fp + tp) + (fn + tp)) if fp + tp + fn + tp > 0 else 0.0,
                (pairs - 0.5 * ties) / (negatives * positives)
                if negatives > 0 and positives > 0
                else np.nan,
                precision_sum / true_above if true_above > 0 else np.nan,
                np.float64(ece) / mass,
            ])
    return np.array(out)


def test_compiled_binary_statistics_add_each_row_as_a_pass_per_row_does():
    # the kernel loops over the scores, the rows inside: each row's sums must still add
    # the same terms in the same order (the same doubles), infinite losses and empty rows
    # included
    from lossgap.core import bootstrap_kernels
    from lossgap.core.calibration import ece_bin_starts

    rng = np.random.default_rng(71)
    for trial in range(120):
        scores, w_neg, w_pos = _random_rows(rng, trial)
        rep = np.concatenate([w_neg, w_pos], axis=1)  # strided views, as replicates are
        w_neg, w_pos = rep[:, : len(scores)], rep[:, len(scores) :]
        with np.errstate(divide="ignore"):
            loss_neg, loss_pos = -np.log1p(-scores), -np.log(scores)
        decided = scores >= rng.uniform()
        starts = ece_bin_starts(scores, 15)
        args = (scores, loss_neg, loss_pos, decided, starts, w_neg, w_pos)
        got = bootstrap_kernels.binary_statistics(*args)[:, :10]
        expected = _statistics_row_by_row(*args)
        expected[:, 3] = got[:, 3]
        assert np.array_equal(got, expected, equal_nan=True), trial


def test_compiled_deposit_is_the_sparse_products_doubles(monkeypatch):
    # scipy's product adds each score's two shares into the grid, score after score: the
    # loop adds the same products in the same order (scores at 0, 1 and on grid points,
    # strided rows as the replicates' blocks are)
    from lossgap.core.calibration import _deposit

    rng = np.random.default_rng(73)
    for trial in range(150):
        m, rows = int(rng.integers(1, 600)), int(rng.integers(2, 40))
        scores = np.sort(rng.uniform(size=m))
        points = int(rng.choice([5, 101, 1001, 1464]))
        if trial % 3 == 0:
            scores = np.round(scores * (points - 1)) / (points - 1)  # on grid points
        scores[0] = 0.0 if trial % 5 == 0 else scores[0]
        scores[-1] = 1.0 if trial % 7 == 0 else scores[-1]
        weights = rng.normal(size=(rows, 2 * m))[:, ::2]
        monkeypatch.delenv("LOSSGAP_NUMBA", raising=False)
        ours = _deposit(scores, weights, points)
        monkeypatch.setenv("LOSSGAP_NUMBA", "0")
        theirs = _deposit(scores, weights, points)
        assert ours.shape == theirs.shape
        assert np.array_equal(ours, theirs), trial

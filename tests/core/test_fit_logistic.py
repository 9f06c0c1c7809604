"""``fit_logistic`` (Newton with a hand-written 2 x 2 solve) against scikit-learn and scipy."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.optimize import minimize_scalar
from scipy.special import expit
from sklearn.linear_model import LogisticRegression

from lossgap.core.recalibrate import LOGISTIC_RTOL, fit_logistic, logistic


def _table(seed: int, m: int = 300) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    z = np.sort(rng.normal(0.0, rng.choice([0.5, 2.0, 5.0]), m))
    counts = rng.integers(1, 8, m)
    scale = rng.choice([1.0, 0.37])  # counts, or weights of another scale
    pos = rng.binomial(counts, expit(0.3 + 0.7 * z)) * scale
    return z, np.column_stack([counts * scale - pos, pos])


def _sklearn(z: np.ndarray, w: np.ndarray, intercept: bool) -> tuple[float, float]:
    x = np.concatenate([z, z])[:, None]
    y = np.repeat([0, 1], len(z))
    model = LogisticRegression(C=np.inf, fit_intercept=intercept, tol=1e-12, max_iter=10_000)
    model.fit(x, y, sample_weight=np.concatenate([w[:, 0], w[:, 1]]))
    return float(model.intercept_[0]) if intercept else 0.0, float(model.coef_[0, 0])


def _fisher(z: np.ndarray, w: np.ndarray, a: float, b: float, columns: list[int]) -> np.ndarray:
    p = expit(a + b * z)
    design = np.column_stack([np.ones_like(z), z])[:, columns]
    return (design * (w.sum(axis=1) * p * (1 - p))[:, None]).T @ design


@pytest.mark.parametrize("seed", range(6))
def test_platt_and_temperature_equal_sklearn(seed):
    z, w = _table(seed)
    for intercept in (True, False):
        fit = fit_logistic(z, w, intercept=intercept)
        a, b = _sklearn(z, w, intercept)
        assert_allclose([fit.intercept, fit.slope], [a, b], rtol=1e-6, atol=1e-7)
        columns = [0, 1] if intercept else [1]
        # the covariance is the inverse Fisher information at the optimum
        assert_allclose(fit.covariance, np.linalg.inv(_fisher(z, w, a, b, columns)), rtol=1e-5)


@pytest.mark.parametrize("seed", range(4))
def test_intercept_alone_equals_a_scalar_minimiser(seed):
    z, w = _table(seed)

    def loss(a: float) -> float:
        eta = a + z
        return float(w[:, 1] @ np.logaddexp(0, -eta) + w[:, 0] @ np.logaddexp(0, eta))

    best = minimize_scalar(loss, bracket=(-3, 3), tol=1e-12).x
    fit = fit_logistic(z, w, intercept=True, slope=False)
    assert fit.slope == 1.0
    assert_allclose(fit.intercept, best, atol=1e-6)
    assert_allclose(fit.covariance, np.linalg.inv(_fisher(z, w, best, 1.0, [0])), rtol=1e-5)


def test_separable_and_degenerate_tables():
    z = np.array([-2.0, -1.0, 1.0, 2.0])
    separable = fit_logistic(z, np.array([[3.0, 0.0], [2.0, 0.0], [0.0, 2.0], [0.0, 3.0]]),
                             intercept=True)
    assert separable.separable
    # one logit: the slope cannot be told from the intercept (singular Hessian), no crash
    flat = fit_logistic(np.zeros(3), np.array([[1.0, 1.0], [2.0, 1.0], [1.0, 2.0]]), intercept=True)
    assert np.all(np.isfinite(flat.covariance))


def test_logistic_is_expit_within_its_bound():
    # numpy's exponential against the C library's (scipy's expit), over the whole range of
    # finite results, the overflowing tail and NaN
    rng = np.random.default_rng(3)
    eta = np.concatenate([rng.uniform(-745.0, 745.0, 1_000_000), rng.normal(0.0, 4.0, 1_000_000)])
    ours, theirs = logistic(eta), expit(eta)
    assert np.all(np.abs(ours - theirs) <= LOGISTIC_RTOL * theirs)
    assert logistic(np.array([-1e4, 1e4])).tolist() == [0.0, 1.0]
    assert np.isnan(logistic(np.array([np.nan]))[0])


@pytest.mark.parametrize("seed", range(4))
def test_recalibration_with_expit_moves_by_rounding_only(seed, monkeypatch):
    # the maps and the Newton steps on all samples through logistic, against scipy's
    # expit (main's): each figure of the recalibration and the calibration test within
    # 1e-9 of its size or 1e-15 of the mean log loss (the gains are differences of
    # losses; measured at most 1.4e-17 nats and 4.5e-13 relative elsewhere, 24 datasets)
    from lossgap import Predictions
    from lossgap.core import recalibrate as recalibrate_module
    from lossgap.explanation import evaluate_predictions

    rng = np.random.default_rng(seed)
    n = (2_000, 5_000, 30_000, 60_000)[seed]
    z = rng.normal(0.0, 2.0, n)
    y = (rng.uniform(size=n) < expit(z)).astype(int)
    pred = Predictions(y, expit(rng.choice([0.6, 1.0, 1.7]) * z + 0.2))
    ours_ev = evaluate_predictions(pred, replicates=0)
    monkeypatch.setattr(recalibrate_module, "logistic", expit)
    theirs_ev = evaluate_predictions(pred, replicates=0)
    ours, theirs = ours_ev.recalibration, theirs_ev.recalibration
    test, reference = ours_ev.diagnostics.calibration_test, theirs_ev.diagnostics.calibration_test
    assert test.target == reference.target
    for name in ("statistic", "p_value", "gain", "intercept", "slope"):
        assert_allclose(getattr(test, name), getattr(reference, name), rtol=1e-9, err_msg=name)
    for method, mine in ours.methods.items():
        other = theirs.methods[method]
        scale = 1e-15 * other.log_loss_before
        for name, value in vars(mine).items():
            expected = getattr(other, name)
            if isinstance(value, float | list):
                assert_allclose(value, expected, rtol=1e-9, atol=scale, err_msg=name)
            else:
                assert value == expected, name


def test_logits_and_log_losses_of_one_value_and_of_arrays():
    # computed in place: the doubles of the formulas, for one value as for an array
    from lossgap.core.decompose import log_losses
    from lossgap.core.recalibrate import logits_of

    p = np.array([0.0, 1e-300, 0.3, 0.5, 1.0 - 1e-16, 1.0])
    c = np.clip(p, 1e-15, 1 - 1e-15)
    assert np.array_equal(logits_of(p), np.log(c) - np.log1p(-c))
    assert logits_of(0.3) == np.log(0.3) - np.log1p(-0.3)  # a scalar, as before
    neg, pos = log_losses(p)
    assert np.array_equal(neg, -np.log1p(-c)) and np.array_equal(pos, -np.log(c))
    assert np.ndim(log_losses(0.3)[1]) == 0 and log_losses(0.3)[1] == -np.log(0.3)
    assert p[2] == 0.3  # the input is left as it was
    # already within the clip: read as it is, the same doubles, and left as it was
    held = c.copy()
    neg, pos = log_losses(held, clipped=True)
    assert np.array_equal(neg, -np.log1p(-c)) and np.array_equal(pos, -np.log(c))
    assert np.array_equal(held, c)
    # unclipped (the pooling's per-sample variances): infinite at 0 and 1, and into the
    # input itself when asked, the negatives' taken first
    from lossgap.core.losses import label_log_losses

    with np.errstate(divide="ignore"):
        expected = (-np.log1p(-p), -np.log(p))
        given = p.copy()
        neg, pos = label_log_losses(given, out=given)
    assert np.array_equal(neg, expected[0]) and np.array_equal(pos, expected[1])
    assert pos is given and np.isinf(neg[-1]) and np.isinf(pos[0])


def test_held_out_probabilities_lie_within_log_loss_clip(rng):
    # the held-out scoring skips log loss's clip (clipped=True) only where it would change
    # nothing: a logistic map's clip is log loss's own, an isotonic map's inside it
    from lossgap.core.losses import CLIP_EPS
    from lossgap.core.recalibrate import (
        CLIP,
        _clip_isotonic_eps,
        _isotonic_held_out,
        _logistic_maps,
    )
    from lossgap.core.tally import ScoreTable

    assert CLIP == CLIP_EPS
    prob = _logistic_maps([(0.0, 50.0)], np.array([-40.0, 0.0, 40.0]))[0]
    assert prob.min() >= CLIP_EPS and prob.max() <= 1.0 - CLIP_EPS
    assert _clip_isotonic_eps(5e14) >= CLIP_EPS > _clip_isotonic_eps(6e14)
    scores = np.sort(rng.uniform(size=40))
    train = ScoreTable(scores, np.column_stack([scores < 0.5, scores >= 0.5]) * 1.0)
    for scale, within in ((1.0, True), (1e13, True), (1e14, False)):
        prob, clipped = _isotonic_held_out(train, scores, scale)
        eps = _clip_isotonic_eps(40 * scale)
        assert clipped == within
        assert np.array_equal(prob, np.clip(np.where(scores >= 0.5, 1.0, 0.0), eps, 1 - eps))


def test_the_covariance_from_the_compiled_terms_is_the_inverse_of_the_hessian(rng):
    # the compiled fit's Hessian terms inverted without building the Hessian first: the
    # same doubles as _inverse on it, well or badly conditioned, singular, one parameter
    from lossgap.core.recalibrate import _covariance, _inverse

    cases = [tuple(rng.uniform(0.1, 5.0, 3)) for _ in range(50)]
    cases += [(1.0, 1.0 - 1e-12, 1.0), (2.0, 2.0, 2.0), (0.0, 0.0, 1.0), (-1.0, 0.5, 2.0)]
    cases += [(1e-300, 0.0, 1e-300), (3.0, -1.0, 1e-12)]
    for h00, h01, h11 in cases:
        both = _covariance(h00, h01, h11, True)
        expected = _inverse(np.array([[h00, h01], [h01, h11]]))
        assert np.array_equal(both, expected, equal_nan=True), (h00, h01, h11)
        one = _covariance(h00, h01, h11, False)
        assert np.array_equal(one, _inverse(np.array([[h00]])), equal_nan=True), h00


def test_logistic_maps_in_one_array_are_each_map_applied_and_clipped(rng):
    # a fold's three maps computed in one (maps, n) array from (-b) z - a: each row the
    # same doubles as the map's own logistic(a + b z) clipped to [CLIP, 1 - CLIP]
    from lossgap.core.recalibrate import CLIP, LogisticFit, _logistic_maps

    for _ in range(300):
        n = int(rng.integers(1, 700))
        z = rng.normal(0.0, rng.uniform(0.1, 40.0), n)
        z[rng.uniform(size=n) < 0.05] = 0.0
        parameters = [(0.0, float(rng.normal(1.0, 2.0))), (float(rng.normal()), 1.0)]
        parameters.append((float(rng.normal(0.0, 3.0)), float(rng.normal(0.0, 30.0))))
        maps = _logistic_maps(parameters, z)
        assert maps.shape == (3, n)
        for (a, b), row in zip(parameters, maps, strict=True):
            expected = np.clip(LogisticFit(a, b, np.eye(2)).apply(z), CLIP, 1.0 - CLIP)
            assert np.array_equal(row.view(np.int64), expected.view(np.int64))

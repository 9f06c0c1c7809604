"""Paired statistics of `compare` against scipy, published values and brute force."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import stats
from sklearn.metrics import roc_auc_score

from lossgap.core import paired
from lossgap.core.paired import (
    AucColumn,
    auc_influence,
    centered_cross_products,
    delong_covariance,
    delong_difference,
    holm,
    kendall_tau,
    mcnemar_exact,
    paired_mean_difference,
    paired_proportion_difference,
    placement_values,
    sort_order,
)
from lossgap.core.uncertainty import wilson


def test_wilson_matches_scipy():
    for k, n in [(0, 10), (3, 10), (10, 10), (1, 1), (57, 200), (999, 1000)]:
        for confidence in (0.9, 0.95, 0.99):
            low, high = wilson(k / n, n, confidence)
            ci = stats.binomtest(k, n).proportion_ci(confidence_level=confidence, method="wilson")
            assert_allclose([low, high], [ci.low, ci.high], rtol=1e-12, atol=1e-15)


def test_mcnemar_tail_matches_scipy_binom_cdf_at_every_size(rng):
    """The exact tail by scipy.special's betainc: scipy.stats.binom.cdf to 1e-14 relative
    (measured 4e-15; most values the same doubles), discordant counts up to 2e6."""
    n = np.concatenate([rng.integers(1, 2_000_000, 20_000), rng.integers(1, 300, 20_000)])
    k = np.floor(rng.random(len(n)) * (n / 2 + 1))
    b, c = k, n - k
    expected = np.minimum(1.0, 2.0 * stats.binom.cdf(np.minimum(b, c), n, 0.5))
    got = mcnemar_exact(b, c)
    assert_allclose(got, expected, rtol=1e-14, atol=0)
    assert np.mean(got == expected) > 0.95


def test_paired_t_tails_are_scipys_doubles(rng):
    """stdtr and stdtrit give the doubles of scipy.stats.t's sf and ppf, so the paired t
    p-values and intervals are what ttest_rel's distribution gives, bit for bit."""
    for dof in (1, 7, 999, 999_999, 10**8):
        t = np.abs(rng.normal(0, 4, 200))
        p = paired._t_interval(t, np.ones_like(t), dof, 0.95).p_value
        assert np.array_equal(p, 2.0 * stats.t.sf(t, dof))
        half = paired._t_interval(np.zeros(1), np.ones(1), dof, 0.95).ci_high[0]
        assert half == stats.t.ppf(0.975, dof)


def test_kendall_tau_is_scipys_tau_b(rng):
    for trial in range(300):
        n = int(rng.integers(2, 60))
        x = rng.random(n) if trial % 2 else rng.integers(0, 1 + trial % 7, n).astype(float)
        y = rng.integers(0, 1 + trial % 11, n)
        expected = stats.kendalltau(x, y)[0]
        got = kendall_tau(x, y)
        assert got == expected or (np.isnan(got) and np.isnan(expected)), (x, y)
    assert np.isnan(kendall_tau([1.0], [2.0]))


def test_mcnemar_exact_matches_scipy_binomtest():
    b = np.array([0, 0, 1, 3, 6, 16, 40, 7, 120, 1000, 5])
    c = np.array([0, 4, 1, 0, 16, 6, 41, 30, 100, 1080, 5])
    p = mcnemar_exact(b, c)
    for bi, ci, pi in zip(b, c, p, strict=True):
        expected = 1.0 if bi + ci == 0 else stats.binomtest(int(bi), int(bi + ci), 0.5).pvalue
        assert_allclose(pi, expected, rtol=1e-10, err_msg=f"b={bi}, c={ci}")


def test_newcombe_interval_matches_published_example():
    # Cavo et al. (2012) in Fagerland, Lydersen & Laake (2017), "Statistical Analysis of
    # Contingency Tables", ch. 8: Newcombe square-and-add -0.0621 (-0.1186 to -0.0046).
    r = paired_proportion_difference(59, 6, 16, 80)
    assert_allclose([r.value, r.ci_low, r.ci_high], [-0.0621, -0.1186, -0.0046], atol=5e-5)
    # Antisymmetry: swapping the models mirrors the interval.
    s = paired_proportion_difference(59, 16, 6, 80)
    assert_allclose([s.value, s.ci_low, s.ci_high], [-r.value, -r.ci_high, -r.ci_low])


def test_newcombe_interval_covers_at_its_level():
    rng = np.random.default_rng(5)
    cells = np.array([0.55, 0.12, 0.05, 0.28])  # true difference 0.07
    tables = rng.multinomial(150, cells, size=4000)
    r = paired_proportion_difference(*tables.T)
    coverage = np.mean((r.ci_low <= 0.07) & (0.07 <= r.ci_high))
    assert 0.93 <= coverage <= 0.975, coverage
    # and the exact test keeps its level under the null (equal discordant probabilities)
    null = rng.multinomial(150, [0.55, 0.1, 0.1, 0.25], size=4000)
    rejected = np.mean(paired_proportion_difference(*null.T).p_value < 0.05)
    assert rejected <= 0.05 + 0.01, rejected


def test_newcombe_interval_degenerate_tables():
    r = paired_proportion_difference([10, 0], [0, 0], [0, 0], [0, 10])
    assert_allclose(r.value, 0.0)
    assert (r.ci_low <= 0).all() and (r.ci_high >= 0).all() and (r.ci_high <= 1).all()
    assert_allclose(r.p_value, 1.0)


def test_paired_t_matches_scipy_ttest_rel(rng):
    x = rng.gamma(2.0, 0.3, size=(300, 4))
    x[:, 1] = x[:, 0] + rng.normal(0.02, 0.05, 300)  # strongly correlated pair
    pairs = np.array(list(itertools.combinations(range(4), 2)))
    r = paired_mean_difference(x.T, pairs, confidence=0.9)
    for i, (a, b) in enumerate(pairs):
        ref = stats.ttest_rel(x[:, a], x[:, b])
        ci = ref.confidence_interval(confidence_level=0.9)
        assert_allclose(r.value[i], np.mean(x[:, a] - x[:, b]), rtol=1e-12)
        assert_allclose(r.p_value[i], ref.pvalue, rtol=1e-8)
        assert_allclose([r.ci_low[i], r.ci_high[i]], [ci.low, ci.high], rtol=1e-9)


def test_paired_t_identical_and_constant_differences():
    x = np.array([[0.1, 0.1, 0.3], [0.5, 0.5, 0.7], [0.2, 0.2, 0.4]])
    r = paired_mean_difference(x.T, np.array([[0, 1], [2, 0]]))
    assert r.value.tolist() == [0.0, pytest.approx(0.2)]
    assert r.p_value[0] == 1.0 and r.ci_low[0] == 0.0 == r.ci_high[0]
    assert r.p_value[1] == 0.0


def test_centered_cross_products_across_blocks(rng):
    x = rng.normal(size=(70_000, 3)) + [100.0, -3.0, 0.0]  # more samples than one block
    rows = np.flatnonzero(rng.random(70_000) < 0.9)
    mean, cross, count = centered_cross_products(np.ascontiguousarray(x.T), samples=rows)
    assert count == len(rows)
    assert_allclose(mean, x[rows].mean(axis=0), rtol=1e-12)
    assert_allclose(cross / (count - 1), np.cov(x[rows].T), rtol=1e-9)


def test_holm_against_definition(rng):
    assert_allclose(holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])
    assert holm([0.2]).tolist() == [0.2]
    out = holm([0.01, np.nan, 0.02])
    assert np.isnan(out[1])
    assert_allclose(out[[0, 2]], [0.02, 0.02])
    p = rng.random(9) ** 3
    order = np.argsort(p)
    expected = np.empty(9)
    running = 0.0
    for step, i in enumerate(order):
        running = max(running, min(1.0, (9 - step) * p[i]))
        expected[i] = running
    assert_allclose(holm(p), expected)


# -- DeLong ----------------------------------------------------------------------------------


def psi(x, y):
    """The Mann-Whitney kernel: 1 if x > y, 1/2 if equal, 0 if below."""
    return (x > y) + 0.5 * (x == y)


def slow_placements(scores, positive):
    """O(n^2) placement values, straight from the definition."""
    pos, neg = scores[positive], scores[~positive]
    v10 = psi(pos[:, None], neg[None, :]).mean(axis=1)
    v01 = psi(pos[:, None], neg[None, :]).mean(axis=0)
    out = np.empty(len(scores))
    out[positive], out[~positive] = v10, v01
    return out


def slow_delong_covariance(scores, y):
    """DeLong et al. (1988) covariance matrix of the AUCs of the score columns, O(n^2)."""
    positive = y == 1
    n1, n0 = positive.sum(), (~positive).sum()
    v10 = np.column_stack([slow_placements(s, positive)[positive] for s in scores.T])
    v01 = np.column_stack([slow_placements(s, positive)[~positive] for s in scores.T])
    auc = v10.mean(axis=0)
    s10 = (v10 - auc).T @ (v10 - auc) / (n1 - 1)
    s01 = (v01 - auc).T @ (v01 - auc) / (n0 - 1)
    return auc, s10 / n1 + s01 / n0


@pytest.mark.parametrize(
    "make",
    [
        lambda rng, n: rng.random(n).astype(np.float32).astype(np.float64),  # radix path
        lambda rng, n: rng.random(n),  # not float32-exact: np.argsort
        lambda rng, n: np.round(rng.normal(0, 3, n), 1).astype(np.float32).astype(np.float64),
        lambda rng, n: rng.choice([-0.0, 0.0, 1e-45, -1e-45, 1.0, -np.inf, np.inf], n),
        lambda rng, n: rng.integers(0, 3, n).astype(np.float64),
    ],
)
@pytest.mark.parametrize("n", [1, 2, 17, 5000])
def test_sort_order_sorts(rng, make, n):
    scores = make(rng, n)
    order = sort_order(scores)
    assert sorted(order.tolist()) == list(range(n))  # a permutation
    assert np.array_equal(scores[order], np.sort(scores))  # ascending, as numpy sorts


@pytest.mark.parametrize("single", [False, True])  # float32-exact scores: the radix sort
@pytest.mark.parametrize("ties", [False, True])
def test_placements_match_the_definition(rng, ties, single):
    scores = rng.random(300)
    if ties:
        scores = np.round(scores, 1)
    if single:
        scores = scores.astype(np.float32).astype(np.float64)
    positive = rng.random(300) < 0.4
    assert_allclose(placement_values(scores, positive), slow_placements(scores, positive))


PLACEMENT_INPUTS = {
    "float32": lambda rng, n: rng.random(n).astype(np.float32).astype(np.float64),
    "float32 ties": lambda rng, n: np.round(rng.random(n), 2).astype(np.float32).astype(float),
    "signed": lambda rng, n: np.round(rng.normal(0, 3, n), 1).astype(np.float32).astype(float),
    "signed zeros": lambda rng, n: rng.choice([-0.0, 0.0, 1e-45, -1e-45, 1.0, -np.inf, np.inf], n),
    "float64": lambda rng, n: rng.random(n),  # not float32-exact: the kernel declines
    "one value": lambda rng, n: np.full(n, 0.25),
}


@pytest.mark.parametrize("make", list(PLACEMENT_INPUTS.values()), ids=list(PLACEMENT_INPUTS))
@pytest.mark.parametrize("share", [0.0, 0.3, 1.0])  # share of positives (one class, or both)
@pytest.mark.parametrize("psi", [False, True])
def test_compiled_placements_give_the_numpy_doubles(rng, monkeypatch, make, share, psi):
    """The numba kernel (radix sort and one walk over the runs) and the numpy path agree
    bit for bit, NaN and infinity included (one class: no negatives or no positives)."""
    pytest.importorskip("numba")
    n = 20_000
    scores, positive = make(rng, n), rng.random(n) < share
    monkeypatch.setattr(paired, "COMPILED_MIN_SAMPLES", 1 << 62)
    expected = placement_values(scores, positive, psi=psi)
    monkeypatch.setattr(paired, "COMPILED_MIN_SAMPLES", 0)
    out = np.full(n, -1.0)
    got = placement_values(scores, positive, psi=psi, out=out)
    assert got is out
    assert np.array_equal(got, expected, equal_nan=True)
    if psi and 0 < share < 1 and np.isfinite(scores).all():  # sklearn takes finite scores
        assert_allclose(got.sum() / 2, roc_auc_score(positive, scores), rtol=1e-12)


def test_grouped_covariance_reads_slices_within_1e_12_of_gathered(rng):
    """Samples grouped by class (y sorted) take the slice path of delong_covariance: the
    same cross-products, the class means summed pairwise over a slice rather than in the
    order of a gathered copy, so they agree to rounding (1e-12 relative)."""
    for k in (2, 3):
        n = 3000
        y = rng.integers(0, k, n)
        influence = rng.random((4, n))
        order = np.argsort(y, kind="stable")
        grouped = delong_covariance(np.ascontiguousarray(influence[:, order]), y[order])
        assert_allclose(grouped, delong_covariance(influence, y), rtol=1e-12)


@pytest.mark.parametrize("ties", [False, True])
def test_delong_paired_matches_slow_covariance(rng, ties):
    n = 400
    y = (rng.random(n) < 0.35).astype(int)
    signal = y + rng.normal(0, 1, n)
    scores = np.column_stack(
        [signal + rng.normal(0, s, n) for s in (0.3, 0.8, 1.5)]
    )
    if ties:
        scores = np.round(scores, 1)
    auc, cov = slow_delong_covariance(scores, y)
    influence = np.vstack([auc_influence([s], y, [AucColumn(1, 1.0)]) for s in scores.T])
    pairs = np.array([[0, 1], [0, 2], [2, 1]])
    r = delong_difference(influence, y, pairs, confidence=0.95)
    for i, (a, b) in enumerate(pairs):
        assert_allclose(auc[a], roc_auc_score(y, scores[:, a]), rtol=1e-12)
        var = cov[a, a] + cov[b, b] - 2 * cov[a, b]
        z = (auc[a] - auc[b]) / np.sqrt(var)
        assert_allclose(r.value[i], auc[a] - auc[b], rtol=1e-10, atol=1e-14)
        assert_allclose(r.p_value[i], 2 * stats.norm.sf(abs(z)), rtol=1e-8)
        half = stats.norm.ppf(0.975) * np.sqrt(var)
        gap = auc[a] - auc[b]
        assert_allclose([r.ci_low[i], r.ci_high[i]], [gap - half, gap + half])


def test_delong_identical_models_and_too_few_samples():
    y = np.array([0, 1, 0, 1, 1])
    s = np.array([0.2, 0.7, 0.4, 0.3, 0.9])
    influence = np.vstack([auc_influence([s], y, [AucColumn(1, 1.0)])] * 2)
    r = delong_difference(influence, y, np.array([[0, 1]]))
    assert r.value[0] == 0.0 and r.p_value[0] == 1.0
    single = np.array([0, 1, 1])
    influence = np.vstack([auc_influence([s[:3]], single, [AucColumn(1, 1.0)])] * 2)
    assert np.isnan(delong_difference(influence, single, np.array([[0, 1]])).p_value[0])


def macro_influence(prob, y, k):
    curves = [AucColumn(c, 1.0 / k) for c in range(k)]
    return auc_influence([np.ascontiguousarray(prob[:, c]) for c in range(k)], y, curves)


def test_multiclass_macro_auc_matches_sklearn(rng):
    k, n = 4, 500
    y = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k)) + 1.2 * np.eye(k)[y]
    prob = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    assert_allclose(
        macro_influence(prob, y, k).sum() / 2, roc_auc_score(y, prob, multi_class="ovr")
    )
    tied = np.round(prob, 2)  # ties; rows no longer sum to 1, so one curve at a time
    expected = np.mean([roc_auc_score(y == c, tied[:, c]) for c in range(k)])
    assert_allclose(macro_influence(tied, y, k).sum() / 2, expected, rtol=1e-12)


def test_multiclass_delong_variance_matches_simulation():
    """The stratified DeLong variance of a macro-AUC difference is its sampling variance.

    Class counts are fixed (the variance is conditional on them, as DeLong's); the spread
    of the difference over 400 simulated test sets is the reference.
    """
    rng = np.random.default_rng(11)
    k, counts, sims = 3, np.array([60, 90, 150]), 400
    y = np.repeat(np.arange(k), counts)
    differences, variances = [], []
    for _ in range(sims):
        base = rng.normal(size=(len(y), k)) + 1.0 * np.eye(k)[y]
        a = base + rng.normal(0, 0.6, base.shape)
        b = 0.7 * base + rng.normal(0, 1.0, base.shape)
        influence = np.vstack([macro_influence(m, y, k) for m in (a, b)])
        r = delong_difference(influence, y, np.array([[0, 1]]))
        differences.append(r.value[0])
        z = stats.norm.ppf(0.975)
        variances.append(((r.ci_high[0] - r.ci_low[0]) / (2 * z)) ** 2)
    ratio = np.mean(variances) / np.var(differences, ddof=1)
    # the ratio of two variance estimates from 400 draws: within about +-15%
    assert 0.85 <= ratio <= 1.18, ratio

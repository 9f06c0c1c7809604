"""Tally at any size: compressed score tables, their bounds, and merges over random splits."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import expit, logit
from sklearn import metrics as skm

from lossgap import InputError, Predictions, Tally
from lossgap.core import metrics
from lossgap.core.tally import DEFAULT_BIN_BITS, ScoreTable, bin_keys, merge_all
from lossgap.explanation import evaluate
from tests.helpers.engines import assert_same_tally

TINY = np.finfo(np.float64).tiny  # below it bins are not bounded in log-odds


@st.composite
def score_arrays(draw, max_n=300):
    """Scores in [0, 1] spread over many orders of magnitude, with exact 0, 1/2 and 1."""
    n = draw(st.integers(2, max_n))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    z = rng.normal(0, draw(st.sampled_from([0.01, 1.0, 10.0, 300.0])), n)
    p = expit(z)
    p[rng.random(n) < 0.05] = rng.choice([0.0, 0.5, 1.0, 1 - 2**-53])
    return np.sort(p)


@settings(max_examples=60, deadline=None)
@given(score_arrays(), st.sampled_from([2, 6, DEFAULT_BIN_BITS]))
def test_bins_are_ordered_intervals_narrow_in_log_odds(p, bits):
    keys = bin_keys(p, bits)
    assert np.all(np.diff(keys) >= 0)  # sorted scores give sorted keys: bins are intervals
    same = keys[1:] == keys[:-1]
    a, b = p[:-1][same], p[1:][same]
    normal = (a >= TINY) & (b < 1)
    with np.errstate(divide="ignore"):
        width = logit(b[normal]) - logit(a[normal])
    assert np.all(width <= 2.0 ** (1 - bits) * (1 + 1e-9))
    one = bin_keys(np.ones(1), bits)[0]
    assert not np.any(keys[p < 1] == one)  # p = 1 has a bin of its own


def test_bin_keys_ignore_the_sign_of_zero():
    assert bin_keys(np.array([-0.0]))[0] == bin_keys(np.array([0.0]))[0]


@st.composite
def labelled(draw, max_n=300):
    p = draw(score_arrays(max_n))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    y = (rng.random(len(p)) < p).astype(int)
    y[:2] = [0, 1]  # both classes present
    w = rng.exponential(size=len(p)) if draw(st.booleans()) else None
    order = rng.permutation(len(p))
    return y[order], p[order], None if w is None else w[order], rng


def exact_auc_ap(y, p, w):
    auc = skm.roc_auc_score(y, p, sample_weight=w)
    return auc, skm.average_precision_score(y, p, sample_weight=w)


@settings(max_examples=80, deadline=None)
@given(labelled(), st.sampled_from([2, 4, 8]))
def test_compressed_auc_and_ap_lie_within_their_bounds(data, bits):
    y, p, w, _ = data
    t = Tally.from_predictions(Predictions(y, p, sample_weight=w), max_distinct=0, bin_bits=bits)
    assert t.compressed
    auc, ap = exact_auc_ap(y, p, w)
    bounds = metrics.approximation_bounds(t)
    assert abs(metrics.roc_auc(t) - auc) <= bounds["roc_auc"] + 1e-12
    assert abs(metrics.average_precision(t) - ap) <= bounds["average_precision"] + 1e-12


def test_bounds_are_attained_in_the_worst_case():
    # one bin, every positive below every negative: exact AUC 0, binned 1/2, bound 1/2
    y = np.array([1, 1, 0, 0])
    p = np.array([0.30, 0.3000001, 0.3000002, 0.3000003])
    t = Tally.from_predictions(Predictions(y, p), max_distinct=1)
    assert skm.roc_auc_score(y, p) == 0.0
    assert metrics.roc_auc(t) == 0.5 and metrics.roc_auc_bound(t) == 0.5


def test_sums_stay_exact_when_tables_compress(rng):
    y, p = (rng.random(5000) < 0.3).astype(int), rng.random(5000)
    w = rng.exponential(size=5000)
    exact = Tally.from_predictions(Predictions(y, p, sample_weight=w))
    small = Tally.from_predictions(Predictions(y, p, sample_weight=w), max_distinct=100)
    assert small.compressed and not exact.compressed
    assert metrics.approximation_bounds(exact) == {}
    # never through the table: equal to the last bits of the order of additions (past the
    # cap, the one-pass kernel adds in row order, numpy pairwise)
    for name in ("log_loss", "accuracy", "brier", "f1", "balanced_accuracy"):
        assert metrics.METRICS[name](small) == pytest.approx(
            metrics.METRICS[name](exact), rel=1e-13
        ), name
    assert_allclose(small.tables[0].weights.sum(axis=0), exact.tables[0].weights.sum(axis=0))


def test_representatives_stay_in_their_bins(rng):
    # uniform on [1/2, 1) leaves the bin of 1/4 to the point mass there
    p = np.concatenate([0.5 + rng.random(3000) / 2, np.full(50, 0.25), np.full(50, 1.0)])
    y = (rng.random(len(p)) < p).astype(int)
    table = ScoreTable.from_samples(p, y, None, max_distinct=10)
    assert np.all((table.low <= table.scores) & (table.scores <= table.high))
    assert np.all(np.diff(table.scores) > 0)
    assert 0.25 in table.scores and table.scores[-1] == 1.0  # point masses keep their score
    assert_array_equal(table.bins, bin_keys(table.low))
    assert_array_equal(table.bins, bin_keys(table.high))


@pytest.mark.slow
def test_default_resolution_keeps_the_auc_bound_under_1e3():
    rng = np.random.default_rng(7)
    n = 1_200_000  # past the default cap of one million distinct scores
    z = rng.normal(0, 2, n)
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(int)
    p = 1 / (1 + np.exp(-(z + rng.normal(0, 1, n))))
    t = Tally.from_predictions(Predictions(y, p))
    assert t.compressed
    bound = metrics.roc_auc_bound(t)
    assert bound < 1e-3
    assert abs(metrics.roc_auc(t) - skm.roc_auc_score(y, p)) <= bound + 1e-12
    assert metrics.average_precision_bound(t) < 1e-2


def test_multiclass_bound_is_the_mean_over_classes(rng):
    prob = rng.dirichlet(np.ones(3), 2000)
    y = np.array([rng.choice(3, p=row) for row in prob])
    t = Tally.from_predictions(Predictions(y, prob), max_distinct=50, bin_bits=4)
    per_class = [metrics._table_roc_auc_bound(tab) for tab in t.tables]
    assert metrics.roc_auc_bound(t) == pytest.approx(np.mean(per_class))
    exact = skm.roc_auc_score(y, prob, multi_class="ovr")
    assert abs(metrics.roc_auc(t) - exact) <= metrics.roc_auc_bound(t) + 1e-12


# -- merges over random splits, exact and compressed --------------------------------------


@st.composite
def split_data(draw):
    y, p, w, rng = draw(labelled(max_n=200))
    # caps below, at and above the parts' sizes mix exact and compressed parts
    cap = draw(st.sampled_from([5, 40, 10_000]))
    cuts = np.sort(rng.choice(np.arange(1, len(y)), size=min(3, len(y) - 1), replace=False))
    parts = np.split(rng.permutation(len(y)), cuts)
    return y, p, w, cap, parts


def part_tallies(y, p, w, cap, parts, bits=6):
    return [
        Tally.from_predictions(
            Predictions(
                y[i], p[i], sample_weight=None if w is None else w[i], ids=i, classes=[0, 1]
            ),
            max_distinct=cap,
            bin_bits=bits,
            top=5,
        )
        for i in parts
    ]


@settings(max_examples=60, deadline=None)
@given(split_data())
def test_merge_of_random_splits_equals_the_whole(data):
    y, p, w, cap, parts = data
    tallies = part_tallies(y, p, w, cap, parts)
    whole = part_tallies(y, p, w, cap, [np.arange(len(y))])[0]
    assert_same_tally(merge_all(tallies), whole)


@settings(max_examples=60, deadline=None)
@given(split_data())
def test_merge_is_associative_and_commutative_across_compression(data):
    y, p, w, cap, parts = data
    a, b, c, d = (part_tallies(y, p, w, cap, parts) + [None] * 4)[:4]
    if d is None:
        return
    left = a.merge(b).merge(c).merge(d)
    others = (
        a.merge(b.merge(c.merge(d))),
        d.merge(b).merge(c.merge(a)),
        c.merge(d).merge(a.merge(b)),
    )
    for other in others:
        assert_same_tally(left, other)


def test_compressed_and_exact_merge_either_way(rng):
    y, p = (rng.random(400) < 0.5).astype(int), rng.random(400)
    big = Tally.from_predictions(
        Predictions(y[:300], p[:300], ids=np.arange(300)), max_distinct=100
    )
    small = Tally.from_predictions(
        Predictions(y[300:], p[300:], ids=np.arange(300, 400)), max_distinct=100
    )
    assert big.compressed and not small.compressed
    whole = Tally.from_predictions(Predictions(y, p), max_distinct=100)
    assert_same_tally(big.merge(small), whole)
    assert_same_tally(small.merge(big), whole)


def test_exact_merge_compresses_once_past_the_smaller_cap(rng):
    p = rng.random(60)
    y = np.arange(60) % 2
    a = Tally.from_predictions(Predictions(y[:30], p[:30]), max_distinct=50)
    b = Tally.from_predictions(Predictions(y[30:], p[30:]), max_distinct=1000)
    assert not a.compressed and not b.compressed
    merged = a.merge(b)
    assert merged.compressed and merged.tables[0].max_distinct == 50


def test_merge_refuses_different_bin_resolutions():
    a = Tally.from_predictions(Predictions([0, 1, 0], [0.1, 0.7, 0.2]), max_distinct=1, bin_bits=8)
    b = Tally.from_predictions(Predictions([0, 1, 0], [0.1, 0.7, 0.2]), max_distinct=1, bin_bits=9)
    with pytest.raises(InputError, match="binned at 8 and 9 bits"):
        a.merge(b)


def test_worst_ties_break_by_numeric_id_then_text():
    p = np.full(6, 0.3)
    y = np.ones(6, dtype=int)
    y[0] = 0
    numeric = Tally.from_predictions(Predictions(y, p, ids=[10, 9, 2, 100, 7, 8]), top=3)
    assert numeric.worst.ids.tolist() == [2, 7, 8]
    text = Tally.from_predictions(Predictions(y, p, ids=["b10", "b9", "b2", "a", "c", "d"]), top=3)
    assert text.worst.ids.tolist() == ["a", "b2", "b9"]  # "b10" is the one negative


def test_zero_weight_infinite_loss_does_not_poison_the_sums():
    t = Tally.from_predictions(Predictions([0, 1, 1], [0.2, 0.0, 0.7], sample_weight=[1, 0, 1]))
    assert t.infinite_count == 0
    assert t.loss_sum == pytest.approx(-np.log(0.8) - np.log(0.7))


def test_merge_all_refuses_nothing():
    with pytest.raises(InputError, match="no Tallies"):
        merge_all([])


def test_json_carries_the_bound_of_compressed_metrics(rng):
    from lossgap.results.evaluation import MetricValue

    if "approximation_bound" not in MetricValue.__dataclass_fields__:
        pytest.skip("MetricValue has no approximation_bound field yet (evaluation.py)")
    y, p = (rng.random(3000) < 0.4).astype(int), rng.random(3000)
    compressed = Tally.from_predictions(Predictions(y, p), max_distinct=100)
    metrics_json = evaluate(compressed).to_dict()["metrics"]
    assert metrics_json["roc_auc"]["approximation_bound"] == pytest.approx(
        metrics.roc_auc_bound(compressed)
    )
    assert metrics_json["roc_auc"]["approximation_bound"] > 0
    assert metrics_json["log_loss"]["approximation_bound"] is None
    exact = evaluate(Tally.from_predictions(Predictions(y, p))).to_dict()["metrics"]
    assert all(m.get("approximation_bound") is None for m in exact.values())

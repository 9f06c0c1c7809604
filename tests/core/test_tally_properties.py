"""Properties of the Tally: order does not matter, weights count, merges are exact."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from lossgap import Predictions, Tally
from lossgap.core.metrics import METRICS


@st.composite
def prediction_sets(draw, max_n=60):
    """Binary or multiclass predictions with ties (probabilities on a coarse grid)."""
    n = draw(st.integers(4, max_n))
    k = draw(st.sampled_from([2, 3]))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    y = np.concatenate([np.arange(k), rng.integers(0, k, n - k)])  # every class present
    if k == 2:
        prob = np.round(rng.uniform(0.01, 0.99, n), draw(st.sampled_from([1, 2, 6])))
    else:
        prob = rng.dirichlet(np.ones(k), n)
    return y, prob, rng


def tally(y, prob, w=None):
    return Tally.from_predictions(Predictions(y, prob, sample_weight=w, classes=None))


def metric_values(t):
    return {name: fn(t) for name, fn in METRICS.items()}


def assert_same_metrics(a, b):
    va, vb = metric_values(a), metric_values(b)
    for name in METRICS:
        assert_allclose(va[name], vb[name], rtol=1e-9, atol=1e-12, err_msg=name)


@settings(max_examples=40, deadline=None)
@given(prediction_sets())
def test_permutation_invariance(data):
    y, prob, rng = data
    order = rng.permutation(len(y))
    assert_same_metrics(tally(y, prob), tally(y[order], prob[order]))


@settings(max_examples=40, deadline=None)
@given(prediction_sets())
def test_weight_two_equals_duplication(data):
    y, prob, rng = data
    twice = rng.random(len(y)) < 0.5
    w = np.where(twice, 2.0, 1.0)
    dup_y = np.concatenate([y, y[twice]])
    dup_p = np.concatenate([prob, prob[twice]])
    assert_same_metrics(tally(y, prob, w), tally(dup_y, dup_p))


@settings(max_examples=40, deadline=None)
@given(prediction_sets(), st.data())
def test_merge_equals_tally_of_concatenation(data, more):
    y, prob, rng = data
    cut = more.draw(st.integers(1, len(y) - 1))
    order = rng.permutation(len(y))
    first, second = order[:cut], order[cut:]
    k = len(np.unique(y))
    classes = list(range(k))
    a = Tally.from_predictions(Predictions(y[first], prob[first], classes=classes))
    b = Tally.from_predictions(Predictions(y[second], prob[second], classes=classes))
    whole = Tally.from_predictions(Predictions(y, prob, classes=classes))
    merged = a.merge(b)
    assert_same_metrics(merged, whole)
    assert merged.count == whole.count
    assert_allclose(merged.confusion, whole.confusion)
    for mt, wt in zip(merged.tables, whole.tables, strict=True):
        assert_allclose(mt.scores, wt.scores)
        assert_allclose(mt.weights, wt.weights)
    assert_allclose(merged.worst.loss, whole.worst.loss)


@settings(max_examples=30, deadline=None)
@given(prediction_sets(max_n=90))
def test_merge_is_associative_and_commutative(data):
    y, prob, rng = data
    k = len(np.unique(y))
    parts = np.array_split(rng.permutation(len(y)), 3)
    a, b, c = (
        Tally.from_predictions(Predictions(y[i], prob[i], classes=list(range(k)))) for i in parts
    )
    left = a.merge(b).merge(c)
    right = a.merge(b.merge(c))
    swapped = c.merge(a).merge(b)
    for other in (right, swapped):
        assert_same_metrics(left, other)
        assert list(left.worst.ids) == list(other.worst.ids)


def test_merge_refuses_different_classes():
    import pytest

    from lossgap import InputError

    a = Tally.from_predictions(Predictions([0, 1], [0.2, 0.7]))
    b = Tally.from_predictions(Predictions(["a", "b"], [0.2, 0.7]))
    with pytest.raises(InputError, match="different classes"):
        a.merge(b)

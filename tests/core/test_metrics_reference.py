"""Every metric against scikit-learn on data the code was not tuned to (rtol 1e-9)."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn import metrics as skm

import lossgap
from lossgap.core import metrics
from lossgap.core.losses import sample_log_loss
from lossgap.core.tally import Tally
from tests.helpers.data import random_binary, random_multiclass

RTOL = 1e-9


def sklearn_binary(y, p, w=None):
    pred = (p >= 0.5).astype(int)
    return {
        "log_loss": skm.log_loss(y, p, sample_weight=w),
        "accuracy": skm.accuracy_score(y, pred, sample_weight=w),
        "balanced_accuracy": skm.balanced_accuracy_score(y, pred, sample_weight=w),
        "precision": skm.precision_score(y, pred, sample_weight=w, zero_division=0),
        "recall": skm.recall_score(y, pred, sample_weight=w, zero_division=0),
        "f1": skm.f1_score(y, pred, sample_weight=w, zero_division=0),
        "brier": skm.brier_score_loss(y, p, sample_weight=w),
        "roc_auc": skm.roc_auc_score(y, p, sample_weight=w),
        "average_precision": skm.average_precision_score(y, p, sample_weight=w),
    }


def sklearn_multiclass(y, prob, w=None):
    pred = np.argmax(prob, axis=1)
    return {
        "log_loss": skm.log_loss(y, prob, sample_weight=w),
        "accuracy": skm.accuracy_score(y, pred, sample_weight=w),
        "balanced_accuracy": skm.balanced_accuracy_score(y, pred, sample_weight=w),
        "precision": skm.precision_score(
            y, pred, average="macro", sample_weight=w, zero_division=0
        ),
        "recall": skm.recall_score(y, pred, average="macro", sample_weight=w, zero_division=0),
        "f1": skm.f1_score(y, pred, average="macro", sample_weight=w, zero_division=0),
        "brier": skm.brier_score_loss(y, prob, sample_weight=w),
        "roc_auc": skm.roc_auc_score(y, prob, multi_class="ovr", average="macro", sample_weight=w),
        "average_precision": skm.average_precision_score(y, prob, average="macro", sample_weight=w),
    }


def assert_matches(ev, expected):
    for name, value in expected.items():
        assert_allclose(ev.metric(name), value, rtol=RTOL, err_msg=name)


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
def test_binary_metrics_match_sklearn(rng, ties, weighted):
    y, p = random_binary(rng, 3000, ties=ties)
    if ties:  # keep probabilities off 0 and 1 so scikit-learn's clip does not differ
        p = np.clip(p, 0.05, 0.95)
    w = rng.exponential(size=len(y)) if weighted else None
    assert_matches(lossgap.explain(y, p, sample_weight=w), sklearn_binary(y, p, w))


def test_binary_float32_input_matches_sklearn_on_the_same_values(rng):
    y, p = random_binary(rng, 2000)
    p32 = p.astype(np.float32)
    assert_matches(lossgap.explain(y, p32), sklearn_binary(y, p32.astype(np.float64)))


@pytest.mark.parametrize("k", [3, 5])
@pytest.mark.parametrize("weighted", [False, True])
def test_multiclass_metrics_match_sklearn(rng, k, weighted):
    y, prob = random_multiclass(rng, 2500, k)
    w = rng.exponential(size=len(y)) if weighted else None
    assert_matches(lossgap.explain(y, prob, sample_weight=w), sklearn_multiclass(y, prob, w))


def test_multiclass_with_ties_and_float32(rng):
    y, prob = random_multiclass(rng, 2000, 4)
    prob = np.maximum(np.round(prob, 2), 0.01)  # ties, but no exact zeros
    prob = (prob / prob.sum(axis=1, keepdims=True)).astype(np.float32)
    ev = lossgap.explain(y, prob)
    exact = prob.astype(np.float64)
    exact = exact / exact.sum(axis=1, keepdims=True)  # lossgap renormalises the same way
    assert_matches(ev, sklearn_multiclass(y, exact))


def test_string_labels_and_positive_class(rng):
    y, p = random_binary(rng, 1000)
    names = np.where(y == 1, "tumor", "healthy")
    ev = lossgap.explain(names, p)
    assert ev.classes == ["healthy", "tumor"]
    assert_matches(ev, sklearn_binary(y, p))
    # y_prob is the probability of the class named positive
    flipped = lossgap.explain(names, 1 - p, positive="healthy")
    assert flipped.classes == ["tumor", "healthy"]
    assert_matches(flipped, sklearn_binary(1 - y, 1 - p))
    two_columns = lossgap.explain(names, np.column_stack([1 - p, p]), positive="healthy")
    assert_matches(two_columns, sklearn_binary(1 - y, 1 - p))


def test_logits_use_softplus_and_match_probabilities(rng):
    y, p = random_binary(rng, 1000)
    p = np.clip(p, 1e-6, 1 - 1e-6)
    z = np.log(p) - np.log1p(-p)
    from_logits = lossgap.explain(y, z, from_logits=True)
    assert_allclose(from_logits.metric("log_loss"), skm.log_loss(y, p), rtol=1e-9)
    # extreme logits: log(sigmoid(z)) would be -inf; softplus is exact
    pred = lossgap.Predictions([1, 0], [-1000.0, 800.0], from_logits=True)
    assert_allclose(sample_log_loss(pred), [1000.0, 800.0])


def test_multiclass_logits_in_log_space(rng):
    y, prob = random_multiclass(rng, 500, 3)
    logits = np.log(prob) + rng.normal(size=(len(y), 1))  # shift per row: same softmax
    ev = lossgap.explain(y, logits, from_logits=True)
    assert_allclose(ev.metric("log_loss"), skm.log_loss(y, prob), rtol=1e-9)
    assert_allclose(ev.metric("accuracy"), skm.accuracy_score(y, prob.argmax(1)), rtol=RTOL)


def test_baseline_and_normalized_entropy_by_hand():
    y = np.array([1, 1, 1, 0])
    p = np.array([0.9, 0.8, 0.6, 0.3])
    ev = lossgap.explain(y, p)
    baseline = -(0.75 * np.log(0.75) + 0.25 * np.log(0.25))
    assert_allclose(ev.metric("baseline_log_loss"), baseline, rtol=RTOL)
    assert_allclose(ev.metric("normalized_entropy"), skm.log_loss(y, p) / baseline, rtol=RTOL)


def test_zero_probability_on_true_class_is_infinite_with_clipped_companion():
    ev = lossgap.explain([1, 0, 1], [0.0, 0.2, 0.9])
    assert ev.metric("log_loss") == float("inf")
    clipped = (-np.log(1e-15) - np.log(0.8) - np.log(0.9)) / 3
    assert_allclose(ev.metric("log_loss_clipped"), clipped, rtol=RTOL)
    finding = ev.finding("infinite_loss")
    assert finding is not None and finding.evidence["count"] == 1
    assert ev.to_dict()["metrics"]["log_loss"]["value"] == "inf"


def test_per_sample_losses_average_to_the_metric(rng):
    y, prob = random_multiclass(rng, 400, 4)
    w = rng.random(400)
    pred = lossgap.Predictions(y, prob, sample_weight=w)
    tally = Tally.from_predictions(pred)
    expected = np.average(sample_log_loss(pred), weights=w)
    assert_allclose(expected, metrics.log_loss(tally), rtol=RTOL)


def test_single_class_present_in_multiclass_gives_undefined_auc_not_a_crash(rng):
    prob = rng.dirichlet([1, 1, 1], size=20)
    ev = lossgap.explain(np.zeros(20, int), prob, classes=[0, 1, 2])
    assert np.isnan(ev.metric("roc_auc"))
    assert ev.to_dict()["metrics"]["roc_auc"]["value"] is None


def test_per_sample_columns_written_in_place_are_the_same_doubles(rng):
    """``out=`` (compare writes each model's row in place) changes no bit of the per-sample
    log loss, Brier score or true-class probability; each matches its sklearn sum."""
    from lossgap.core.losses import sample_brier, true_class_prob

    y, p = random_binary(rng, 500)
    p[:3] = np.where(y[:3] == 1, 0.0, 1.0)  # infinite losses
    z = np.log(np.clip(p, 1e-9, 1 - 1e-9)) - np.log1p(-np.clip(p, 1e-9, 1 - 1e-9))
    ym, prob = random_multiclass(rng, 300, 4)
    for pred in (
        lossgap.Predictions(y, p),
        lossgap.Predictions(y, z, from_logits=True),
        lossgap.Predictions(ym, prob),
        lossgap.Predictions(ym, np.log(prob), from_logits=True),
    ):
        n = len(pred)
        for fn in (sample_log_loss, sample_brier, true_class_prob):
            out = np.full(n, np.nan)
            assert fn(pred, out=out) is out
            assert np.array_equal(out, fn(pred))
        buffer = np.full(n, np.nan)  # the loss written over the true-class probability
        loss = sample_log_loss(pred, true_class_prob(pred, out=buffer), out=buffer)
        assert np.array_equal(loss, sample_log_loss(pred))
    finite = np.isfinite(sample_log_loss(lossgap.Predictions(y, p)))
    assert_allclose(
        sample_brier(lossgap.Predictions(y, p)).mean(), skm.brier_score_loss(y, p), rtol=RTOL
    )
    assert_allclose(
        sample_log_loss(lossgap.Predictions(y[finite], p[finite])).mean(),
        skm.log_loss(y[finite], p[finite]),
        rtol=RTOL,
    )


def test_the_mean_of_one_tables_metric_is_that_value():
    # roc_auc and average_precision of a binary Tally skip np.mean: the same double
    from lossgap.core.metrics import _mean_of

    rng = np.random.default_rng(0)
    values = [*rng.uniform(size=200), 0.0, -0.0, 1.0, np.nan, np.inf, 5e-324]
    for value in values:
        one = [np.float64(value)]
        assert np.array_equal(np.float64(_mean_of(one)), np.float64(np.mean(one)), equal_nan=True)
        assert np.signbit(_mean_of(one)) == np.signbit(np.mean(one))
    several = [np.float64(v) for v in rng.uniform(size=3)]
    assert _mean_of(several) == float(np.mean(several))

"""Accepted input types: lists, numpy, pandas, polars, bools and strings, named columns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import lossgap
from lossgap import Predictions, Tally
from lossgap.core.predictions import _distinct_labels
from tests.helpers.data import random_binary, random_multiclass


def test_pandas_and_polars_give_the_numpy_answer(rng):
    y, p = random_binary(rng, 300)
    expected = lossgap.explain(y, p).metric("log_loss")
    pairs = ((pd.Series(y), pd.Series(p)), (pl.Series(y), pl.Series(p)), (list(y), list(p)))
    for y_in, p_in in pairs:
        assert_allclose(lossgap.explain(y_in, p_in).metric("log_loss"), expected, rtol=1e-12)


def test_dataframe_columns_name_the_classes(rng):
    y, prob = random_multiclass(rng, 200, 3)
    names = np.array(["bird", "cat", "dog"])[y]
    frame = pd.DataFrame(prob[:, [2, 0, 1]], columns=["p_dog", "p_bird", "p_cat"])
    pred = Predictions(names, frame)
    assert pred.classes == ("dog", "bird", "cat")
    assert_allclose(pred.prob[np.arange(200), pred.y], prob[np.arange(200), y])
    polars_frame = pl.DataFrame({"p_dog": prob[:, 2], "p_bird": prob[:, 0], "p_cat": prob[:, 1]})
    assert Predictions(names, polars_frame).classes == ("dog", "bird", "cat")


def test_bool_labels_positive_is_true():
    pred = Predictions([True, False, True], [0.9, 0.2, 0.6])
    assert pred.classes == (False, True)
    assert pred.positive is True


def test_integer_labels_with_k_columns_use_column_index(rng):
    y, prob = random_multiclass(rng, 100, 4)
    y[y == 3] = 0  # class 3 never occurs; columns still say there are 4 classes
    assert Predictions(y, prob).classes == (0, 1, 2, 3)


def test_class_order_is_stated_in_the_output():
    ev = lossgap.explain(["no", "yes", "yes"], [0.1, 0.8, 0.4])
    out = ev.to_dict()
    assert out["classes"] == ["no", "yes"]
    assert "'yes'" in out["decision_rule"]


def test_ids_and_worst_samples():
    ev = lossgap.explain([0, 1, 1, 0], [0.1, 0.05, 0.9, 0.3], ids=["a", "b", "c", "d"], top=2)
    assert [row.id for row in ev.worst] == ["b", "d"]
    assert ev.worst[0].label == 1 and ev.worst[0].predicted == 0
    assert_allclose(ev.worst[0].loss, -np.log(0.05))


def test_weights_from_pandas():
    w = pd.Series([1.0, 2.0, 1.0])
    ev = lossgap.explain([0, 1, 1], [0.3, 0.8, 0.4], sample_weight=w)
    assert ev.weighted is True
    assert_allclose(ev.metric("accuracy"), 3 / 4)


def test_json_contract_keys_are_all_present(rng):
    y, p = random_binary(rng, 100)
    out = lossgap.explain(y, p).to_dict()
    for key in ("task", "n", "classes", "base_rate", "threshold", "metrics", "decomposition",
                "recalibration", "findings", "worst"):
        assert key in out
    for name in ("log_loss", "accuracy", "balanced_accuracy", "f1", "precision", "recall",
                 "brier", "roc_auc", "average_precision", "baseline_log_loss",
                 "normalized_entropy"):
        assert set(out["metrics"][name]) >= {"value", "ci_low", "ci_high"}
    assert {"code", "severity", "message", "evidence"} <= set(out["findings"][0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_two_column_binary_uses_the_second_column(dtype):
    prob = np.array([[0.8, 0.2], [0.3, 0.7]], dtype=dtype)
    pred = Predictions([0, 1], prob)
    assert pred.task == "binary"
    assert_allclose(pred.prob, [0.2, 0.7], rtol=1e-6)


@pytest.mark.parametrize(
    "labels",
    [
        np.array([3, 1, 3, 7, 1]),
        np.array([0, 1, 1, 0]),
        np.array([True, False, True]),
        np.array([5, 5, 2], dtype=np.uint8),
        np.array([-4, 2**40, 7]),  # too wide a span: sorted as before
        np.array([2**63 + 7, 2**63 + 5], dtype=np.uint64),  # beyond an intp
        np.array(["b", "a", "b"]),
    ],
)
def test_distinct_labels_equal_numpy_unique(labels):
    distinct, index = _distinct_labels(labels)
    expected, inverse = np.unique(labels, return_inverse=True)
    assert_array_equal(distinct, expected)
    assert distinct.dtype == expected.dtype
    assert_array_equal(index, inverse)


def test_labels_missing_from_a_dense_range_keep_their_classes():
    pred = Predictions([2, 5, 5, 2], [0.1, 0.9, 0.8, 0.3])
    assert pred.classes == (2, 5)
    assert pred.y.tolist() == [0, 1, 1, 0]
    tally = Tally.from_predictions(pred)
    assert tally.class_weight.tolist() == [2.0, 2.0]


def test_the_multiclass_argmax_is_computed_once_and_follows_a_subset():
    from lossgap.core.rows import subset

    prob = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6], [0.4, 0.4, 0.2]])
    pred = Predictions([0, 1, 2, 0], prob)
    first = pred.predicted()
    assert pred.predicted() is first and first.tolist() == [0, 1, 2, 0]  # ties to the lowest
    part = subset(pred, np.array([2, 1]))
    assert part.predicted().tolist() == [2, 1]

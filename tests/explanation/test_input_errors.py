"""Every bad input gets one InputError line naming what, where and the fix."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import lossgap
from lossgap import InputError, Predictions

BAD_INPUTS = [
    # (y_true, y_prob, keyword arguments, message pattern)
    ([0, 1, 1], [0.2, np.nan, 0.7], {}, r"column 'y_prob' has NaN at row 1 .*drop or fill"),
    ([0, 1, 1], [0.2, np.inf, 0.7], {}, r"has an infinite value at row 1"),
    ([0, 1, 1], [0.2, None, 0.7], {}, r"column 'y_prob' has an empty value at row 1"),
    ([0, 1, 1], ["0.2", "high", "0.7"], {}, r"holds text \('high' at row 1\) where probabilities"),
    ([0, 1, 1], [-2.3, 1.5, 0.7], {}, r"outside \[0, 1\].*these look like logits: .*--logit"),
    ([0, 1, 1], [20.0, 85.0, 70.0], {}, r"outside \[0, 1\].*these look like percentages"),
    ([1, 1, 1], [0.2, 0.8, 0.7], {}, r"holds a single class \(1\).*classes="),
    ([0, 1, 2], [0.2, 0.8, 0.7], {"classes": [0, 1]}, r"holds 2 at row 2, outside the class set"),
    ([0, 1, 1], [0.2, 0.8], {}, r"lengths differ: 3 labels .* but 2 rows"),
    ([0, 1, 2], [[0.2, 0.3, 0.4], [0.1, 0.8, 0.1], [0.3, 0.3, 0.4]], {},
     r"sum to 0.9 at row 0, not 1 \(tolerance 0.001"),
    ([0.0, np.nan, 1.0], [0.2, 0.8, 0.7], {}, r"empty or NaN label at row 1"),
    ([0, 1, 1], [0.2, 0.8, 0.7], {"sample_weight": [1, -1, 1]}, r"weights must be >= 0"),
    ([0, 1, 1], [0.2, 0.8, 0.7], {"sample_weight": [1, 1]},
     r"lengths differ: 3 labels but 2 weights"),
    ([0, 1, 2], [0.2, 0.8, 0.7], {},
     r"holds 3 classes .* 1 column\(s\): pass one column per class"),
    ([0, 1, 1], [0.2, 0.8, 0.7], {"threshold": 1.5},
     r"threshold must lie strictly between 0 and 1"),
    ([0, 1, 1], [0.2, 0.8, 0.7], {"positive": 3}, r"positive class 3 is not one of the classes"),
    ([0, 1, 1], [0.2, 0.8, 0.7], {"from_logits": True, "sample_weight": [0, 0, 0]},
     r"sums to zero"),
    ([], [], {}, r"empty: there are no samples"),
    ([[1, 0], [0, 1]], [0.2, 0.8], {}, r"one label per sample \(class labels, not one-hot rows\)"),
    ([0, 1, "a"], [0.2, 0.8, 0.7], {}, r"mixes label types"),
    ([0, 1], np.zeros((2, 0)), {}, r"y_prob has shape \(2, 0\): pass \(n,\) or \(n, k\)"),
    ([0, 1, 1], [0.2, -0.0, 1.0], {"sample_weight": [1, np.nan, 1]},
     r"column 'sample_weight' has NaN at row 1"),
]


@pytest.mark.parametrize(("y_true", "y_prob", "kwargs", "pattern"), BAD_INPUTS)
def test_bad_input_raises_one_clear_line(y_true, y_prob, kwargs, pattern):
    labels = np.array(y_true, dtype=object) if any(isinstance(v, str) for v in y_true) else y_true
    with pytest.raises(InputError, match=pattern) as info:
        Predictions(labels, y_prob, **kwargs)
    assert "\n" not in str(info.value)
    assert isinstance(info.value, ValueError)


def test_named_columns_appear_in_messages():
    frame = pd.DataFrame({"p_cat": [0.5, 0.2], "p_dog": [0.4, 0.8]})
    with pytest.raises(InputError, match=r"p_cat, p_dog sum to 0.9 at row 0"):
        Predictions(["cat", "dog"], frame)


def test_percentages_are_not_called_logits_and_logits_are_not_percentages():
    with pytest.raises(InputError, match="percentages"):
        Predictions([0, 1], [12.5, 97.0])
    with pytest.raises(InputError, match="logits"):
        Predictions([0, 1], [-0.5, 3.0])


def test_logits_accepted_when_declared():
    ev = lossgap.explain([0, 1], [-2.3, 1.5], from_logits=True)
    assert ev.metric("accuracy") == 1.0

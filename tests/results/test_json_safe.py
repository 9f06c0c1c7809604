"""``json_safe`` against a plain reference: the same JSON for every kind of value."""

from __future__ import annotations

import json
import math
from collections import OrderedDict
from enum import IntEnum
from typing import Any

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from lossgap.results.evaluation import json_safe


def reference(value: Any) -> Any:
    """The conversion by isinstance checks alone, in the documented order of precedence."""
    if isinstance(value, dict):
        return {str(k): reference(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [reference(v) for v in value]
    if hasattr(value, "tolist"):
        return reference(value.tolist())
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
    return value


class Level(IntEnum):
    LOW = 1


class Ratio(float):
    """A float subclass, which the exact-type fast path must not catch."""


leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=5),
    st.floats(allow_nan=True, allow_infinity=True).map(np.float64),
    st.floats(width=32, allow_nan=True, allow_infinity=True).map(np.float32),
    st.integers(-(2**31), 2**31 - 1).map(np.int64),
    st.booleans().map(np.bool_),
    st.floats(allow_nan=True, allow_infinity=True).map(Ratio),
    st.just(Level.LOW),
    st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=4).map(np.array),
)
values = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=4).map(tuple),
        st.dictionaries(st.one_of(st.text(max_size=3), st.integers()), inner, max_size=4),
        st.dictionaries(st.text(max_size=3), inner, max_size=3).map(OrderedDict),
    ),
    max_leaves=20,
)


@given(values)
def test_same_json_as_the_reference(value: Any) -> None:
    got, want = json_safe(value), reference(value)
    assert json.dumps(got, allow_nan=False) == json.dumps(want, allow_nan=False)
    assert type(got) is type(want)


def test_non_finite_floats() -> None:
    assert json_safe([math.nan, math.inf, -math.inf, Ratio("-inf"), np.float64("nan")]) == [
        None,
        "inf",
        "-inf",
        "-inf",
        None,
    ]

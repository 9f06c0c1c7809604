"""Equality of engines: every engine's Tally and JSON must be the numpy engine's."""

from __future__ import annotations

from numpy.testing import assert_allclose, assert_array_equal

from lossgap import Predictions, Tally
from lossgap.explanation import evaluate


def assert_same_json(a, b, path="", rtol=1e-9):
    """Nested JSON-like data equal, numbers within rtol."""
    if isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for key in a:
            assert_same_json(a[key], b[key], f"{path}.{key}", rtol)
    elif isinstance(a, list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same_json(x, y, f"{path}[{i}]", rtol)
    elif isinstance(a, float) and isinstance(b, float):
        assert_allclose(a, b, rtol=rtol, atol=1e-12, err_msg=path)
    else:
        assert a == b, path


def summary_explain(y, p, **kw):
    """The numpy engine's evaluation from the summary alone, as every other engine gets."""
    return evaluate(Tally.from_predictions(Predictions(y, p, **kw))).to_dict()


def table_state(table):
    arrays = ("scores", "weights", "bins", "low", "high", "score_sum")
    return {a: getattr(table, a) for a in arrays if getattr(table, a) is not None}


def assert_same_tally(a, b):
    assert a.count == b.count
    for name in ("weight", "loss_sum", "brier_sum", "clipped_loss_sum"):
        assert_allclose(getattr(a, name), getattr(b, name), rtol=1e-12, err_msg=name)
    assert_allclose(a.confusion, b.confusion, rtol=1e-12)
    for ta, tb in zip(a.tables, b.tables, strict=True):
        assert ta.compressed == tb.compressed
        sa, sb = table_state(ta), table_state(tb)
        assert sa.keys() == sb.keys()
        for key in sa:
            exact_field = key in ("bins", "low", "high") or not ta.compressed and key == "scores"
            if exact_field:
                assert_array_equal(sa[key], sb[key], err_msg=key)
            else:
                assert_allclose(sa[key], sb[key], rtol=1e-11, atol=1e-12, err_msg=key)
    assert_array_equal(a.worst.ids, b.worst.ids)
    assert_allclose(a.worst.loss, b.worst.loss)

"""Property-based fuzz of every reader: damaged bytes give Predictions or one InputError line.

Each reader (CSV, TSV, Parquet, JSON Lines, .npy, .npz, and the training-log readers) gets
a valid file whose bytes hypothesis then cuts, overwrites or extends. Whatever comes back
must be validated predictions whose numbers match numpy on the same columns, or an
:class:`~lossgap.InputError` of one printable line; any other exception fails the test.
The example counts keep the whole file under a few seconds.
"""

from __future__ import annotations

import io
import tempfile
import unicodedata
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lossgap import InputError
from lossgap.history.readers import read_file
from lossgap.io import read_predictions

FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def valid_file(fmt: str) -> bytes:
    frame = pd.DataFrame(
        {"y": [0, 1, 1, 0, 1], "p": [0.1, 0.8, 0.6, 0.3, 0.9], "id": list("abcde")}
    )
    buffer = io.BytesIO()
    if fmt == "csv":
        frame.to_csv(buffer, index=False)
    elif fmt == "tsv":
        frame.to_csv(buffer, index=False, sep="\t")
    elif fmt == "jsonl":
        frame.to_json(buffer, orient="records", lines=True)
    elif fmt == "parquet":
        frame.to_parquet(buffer, index=False)
    elif fmt == "npy":
        rec = np.zeros(5, dtype=[("y", "i8"), ("p", "f8")])
        rec["y"], rec["p"] = frame["y"], frame["p"]
        np.save(buffer, rec)
    else:
        np.savez(buffer, y=frame["y"].to_numpy(), p=frame["p"].to_numpy())
    return buffer.getvalue()


edits = st.lists(
    st.tuples(
        st.sampled_from(["cut", "set", "insert"]),
        st.floats(0, 1),
        st.binary(min_size=1, max_size=8),
    ),
    max_size=4,
)


def damaged(data: bytes, changes) -> bytes:
    out = bytearray(data)
    for kind, where, payload in changes:
        at = int(where * len(out))
        if kind == "cut":
            del out[at:]
        elif kind == "set":
            out[at : at + len(payload)] = payload
        else:
            out[at:at] = payload
    return bytes(out)


def assert_one_printable_line(exc: InputError) -> None:
    text = str(exc)
    assert "\n" not in text
    assert not [ch for ch in text if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp")]


@pytest.mark.parametrize("fmt", ["csv", "tsv", "parquet", "jsonl", "npy", "npz"])
@FAST
@given(changes=edits)
def test_a_damaged_prediction_file_is_read_right_or_refused_in_one_line(fmt, changes):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"f.{fmt}"
        path.write_bytes(damaged(valid_file(fmt), changes))
        try:
            pred = read_predictions(path, label="y", prob=["p"])
        except InputError as exc:
            assert_one_printable_line(exc)
            return
        # accepted: the numbers are those of the columns as read
        p = pred.prob
        y = pred.y
        assert np.all((p >= 0) & (p <= 1))
        assert len(p) == len(y) == len(pred.ids)
        accuracy = np.mean((p >= pred.threshold) == (y == 1))
        assert 0 <= accuracy <= 1


@FAST
@given(
    pair=st.sampled_from([("cat", "dog"), ("=x", "1"), ("\x1b[2J", "ok"), ("0", "1")]),
    picks=st.lists(st.booleans(), min_size=2, max_size=12),
    seed=st.integers(0, 2**32 - 1),
)
def test_valid_csv_files_give_the_numbers_numpy_gives(pair, picks, seed):
    labels = [pair[int(b)] for b in picks]
    rng = np.random.default_rng(seed)
    p = np.round(rng.uniform(0.01, 0.99, len(labels)), 6)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "f.csv"
        pd.DataFrame({"label": labels, "p": p}).to_csv(path, index=False)
        try:
            pred = read_predictions(path)
        except InputError as exc:
            assert len(set(labels)) == 1 and "single class" in str(exc)
            assert_one_printable_line(exc)
            return
    # numpy's reading: the larger label (as pandas parses it) is the positive class
    parsed = pd.read_csv(io.StringIO(pd.DataFrame({"l": labels}).to_csv(index=False)))["l"]
    positive = (parsed == sorted(set(parsed))[-1]).to_numpy()
    accuracy = np.mean((p >= 0.5) == positive)
    loss = np.mean(-np.log(np.where(positive, p, 1 - p)))
    assert np.array_equal(pred.y == 1, positive)
    assert np.mean(pred.predicted() == pred.y) == accuracy
    assert np.mean(-np.log(np.where(pred.y == 1, pred.prob, 1 - pred.prob))) == pytest.approx(
        loss, rel=1e-12
    )


@pytest.mark.parametrize(
    ("name", "text"),
    [
        (
            "log.csv",
            "epoch,loss,val_loss,val_accuracy\n0,0.9,0.8,0.6\n1,0.7,0.7,0.65\n2,0.6,0.72,0.7\n",
        ),
        (
            "history.json",
            '{"loss": [0.9, 0.7, 0.6], "val_loss": [0.8, 0.7, 0.72], '
            '"val_accuracy": [0.6, 0.65, 0.7]}',
        ),
        (
            "trainer_state.json",
            '{"log_history": [{"epoch": 1, "step": 10, "eval_loss": 0.8}, '
            '{"epoch": 2, "step": 20, "eval_loss": 0.7}]}',
        ),
    ],
)
@FAST
@given(changes=edits)
def test_a_damaged_training_log_is_read_or_refused_in_one_line(name, text, changes):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(damaged(text.encode(), changes))
        try:
            logs = read_file(path)
        except InputError as exc:
            assert_one_printable_line(exc)
            return
        for log in logs:
            for values in log.table.columns.values():
                assert values.dtype == np.float64

"""The core CSV writer (``calibrate`` and the framework callbacks without pyarrow) writes the
bytes pyarrow's writer writes, and the core CSV log reader of ``lossgap history`` reads
every CSV log the tests keep as pyarrow's does."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pyarrow.csv as pa_csv
import pytest

from lossgap.history.readers import _delimiter, _log_columns
from lossgap.io.columns import ColumnTable
from lossgap.io.text import write_delimited
from tests.helpers.data import REAL_LOGS

TEXTS = np.array(["a", 'say "hi"', "x,y", "", "\u00e9t\u00e9", "=1+1", "two\nlines"], dtype=object)


def random_table(rng: np.random.Generator) -> ColumnTable:
    n = int(rng.integers(1, 30))
    scale = 10.0 ** rng.integers(-12, 25, n)
    columns = {
        "f": rng.standard_normal(n) * scale,
        "i": rng.integers(-(2**62), 2**62, n),
        "b": rng.random(n) < 0.5,
        "s": TEXTS[rng.integers(0, len(TEXTS), n)],
        "r": np.round(rng.random(n), int(rng.integers(0, 8))),
    }
    columns["f"][rng.random(n) < 0.1] = rng.choice([np.nan, np.inf, -np.inf, 0.0, -0.0])
    nulls = {name: rng.random(n) < 0.1 for name in ("f", "s") if rng.random() < 0.5}
    return ColumnTable.from_arrays(columns, nulls)


@pytest.mark.parametrize("delimiter", [",", "\t"])
@pytest.mark.one_reader("arrow")
def test_core_writer_writes_pyarrows_bytes(delimiter, reader):
    rng = np.random.default_rng(8)
    for _ in range(200):
        table = random_table(rng)
        ours = io.StringIO()
        write_delimited(table, ours, delimiter)
        theirs = io.BytesIO()
        options = pa_csv.WriteOptions(delimiter=delimiter)
        pa_csv.write_csv(table.to_arrow(), theirs, write_options=options)
        assert ours.getvalue().encode() == theirs.getvalue()


def log_files() -> list[Path]:
    here = Path(__file__).resolve().parents[1] / "data"
    found = sorted(here.rglob("*.csv"))
    if REAL_LOGS.is_dir():
        found += sorted(p for p in REAL_LOGS.rglob("*.csv") if "predictions" not in p.parts)
    return found


#: Logs as loggers damage them: a row cut short, text and "n/a" among numbers, booleans.
DAMAGED = (
    "epoch,loss,val_loss\n0,0.9,0.8\n1,0.7\n2,nan,0.75\n3,n/a,0.7\n4,0.5,-\n",
    "epoch,step,train_loss,note,flag\n0,10,0.5,ok,true\n1,20,0x1,,false\n1,,,,\n2,30,1e-3,x,1\n",
    "epoch;loss\n0;1,5\n1;0.4;9\n",
)


@pytest.mark.one_reader("arrow")
def test_csv_logs_read_alike(reader, monkeypatch):
    files = log_files()
    assert len(files) >= 5
    for path in [*files, *DAMAGED]:
        if isinstance(path, str):
            text = path
        else:
            text = path.read_text(encoding="utf-8-sig")
            text = "\n".join(text.splitlines()) + "\n"
        delimiter = _delimiter(text.splitlines()[0])
        got = []
        for flag in ("1", "0"):
            monkeypatch.setenv("LOSSGAP_ARROW", flag)
            got.append(_log_columns(text, delimiter))
        (names, rows, columns, logged, dropped, mixed, bad), core = got
        assert (names, rows, dropped, mixed) == core[:2] + core[4:6], path
        assert [(r.number, r.expected_columns, r.actual_columns) for r in bad] == [
            (r.number, r.expected_columns, r.actual_columns) for r in core[6]
        ], path
        assert columns.keys() == core[2].keys(), path
        for name in columns:
            assert np.array_equal(columns[name], core[2][name], equal_nan=True), (path, name)
            assert np.array_equal(logged[name], core[3][name]), (path, name)

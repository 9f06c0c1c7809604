"""Every source pyarrow reads is an input: compressed CSV, Arrow IPC / Feather (v1 and v2,
file and stream), standard input, pyarrow.fs URIs; each gives explain's numbers on the CSV.
Each test runs with pyarrow's readers and the core ones (conftest.py): those marked
``arrow_only`` must be refused without pyarrow, in the line that names the extra."""

from __future__ import annotations

import gzip
import io
import json

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.feather as feather
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

import lossgap
from lossgap.cli import load_commands
from lossgap.errors import InputError
from lossgap.io import read_predictions, read_table


@pytest.fixture
def table():
    rng = np.random.default_rng(5)
    p = rng.uniform(0.02, 0.98, 300)
    y = (rng.random(300) < p).astype(np.int64)
    return pa.table({"label": y, "prob": p})


def expected(table):
    ev = lossgap.explain(table["label"].to_numpy(), table["prob"].to_numpy())
    return ev.metric("log_loss"), ev.metric("accuracy")


def numbers(source):
    pred = read_predictions(source)
    ev = lossgap.explain(pred.y, pred.prob)
    return ev.metric("log_loss"), ev.metric("accuracy")


def csv_bytes(table):
    sink = io.BytesIO()
    pa_csv.write_csv(table, sink)
    return sink.getvalue()


def test_compressed_csv(tmp_path, table):
    path = tmp_path / "preds.csv.gz"
    path.write_bytes(gzip.compress(csv_bytes(table)))
    assert numbers(path) == pytest.approx(expected(table), rel=1e-15)
    with pa.output_stream(str(tmp_path / "preds.tsv.bz2"), compression="bz2") as out:
        out.write(csv_bytes(table).replace(b",", b"\t"))
    assert numbers(tmp_path / "preds.tsv.bz2") == pytest.approx(expected(table), rel=1e-15)


@pytest.mark.arrow_only
@pytest.mark.filterwarnings("ignore:Feather V1:DeprecationWarning")
@pytest.mark.parametrize("version", [1, 2])
def test_feather_files(tmp_path, table, version):
    path = tmp_path / "preds.feather"
    feather.write_feather(table, str(path), version=version)
    assert numbers(path) == pytest.approx(expected(table), rel=1e-15)


@pytest.mark.arrow_only
def test_arrow_ipc_stream(tmp_path, table):
    path = tmp_path / "preds.arrows"
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    assert numbers(path) == pytest.approx(expected(table), rel=1e-15)


@pytest.mark.arrow_only
def test_file_uri_through_pyarrow_fs(tmp_path, table):
    pq.write_table(table, tmp_path / "preds.parquet")
    uri = (tmp_path / "preds.parquet").as_uri()
    assert numbers(uri) == pytest.approx(expected(table), rel=1e-15)
    # The CLI reads its argument as a path, which turns "file://" into "file:/".
    assert numbers(uri.replace("file:///", "file:/")) == pytest.approx(expected(table), rel=1e-15)


@pytest.mark.arrow_only
def test_unreachable_uri_is_one_line():
    with pytest.raises(
        InputError, match=r"cannot read 'nosuchscheme://bucket/p.csv' \(.*\): check"
    ):
        read_table("nosuchscheme://bucket/p.csv")


@pytest.mark.parametrize(
    "kind",
    [
        "csv",
        pytest.param("parquet", marks=pytest.mark.arrow_only),
        pytest.param("feather", marks=pytest.mark.arrow_only),
        "gzip",
    ],
)
def test_standard_input(table, kind, monkeypatch):
    if kind == "csv":
        data = csv_bytes(table)
    elif kind == "gzip":
        data = gzip.compress(csv_bytes(table))
    else:
        sink = io.BytesIO()
        (pq.write_table if kind == "parquet" else feather.write_feather)(table, sink)
        data = sink.getvalue()
    result = CliRunner().invoke(load_commands(), ["explain", "-", "--json"], input=data)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert (
        out["metrics"]["log_loss"]["value"],
        out["metrics"]["accuracy"]["value"],
    ) == pytest.approx(expected(table), rel=1e-15)


def test_empty_standard_input():
    result = CliRunner().invoke(load_commands(), ["explain", "-"], input=b"")
    assert result.exit_code == 2
    assert "standard input is empty" in result.stderr


def test_corrupt_compressed_file(tmp_path):
    path = tmp_path / "preds.csv.gz"
    path.write_bytes(b"not gzip at all")
    with pytest.raises(InputError, match="preds.csv.gz"):
        read_table(path)


@pytest.mark.arrow_only
def test_parquet_text_that_is_not_utf8_is_one_line(tmp_path):
    """A flipped byte in a Parquet string column (found by tools/fuzz_inputs.py): pyarrow
    reads the file, its conversion to Python fails; one line, not an internal error."""
    path = tmp_path / "preds.parquet"
    ids = pa.array(["idQQ0", "idQQ1"])
    pq.write_table(
        pa.table({"y": [0, 1], "p": [0.2, 0.8], "id": ids}),
        path, compression="none", use_dictionary=False,
    )  # fmt: skip
    path.write_bytes(path.read_bytes().replace(b"idQQ1", b"id\xf2Q1"))
    with pytest.raises(InputError, match=r"is not a Parquet table \('utf-8' codec can't decode"):
        read_table(path)

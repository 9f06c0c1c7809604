"""The Spark engine in local mode: equal to the numpy engine whatever the partitioning."""

from __future__ import annotations

import json
import os
import shutil
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from numpy.testing import assert_array_equal
from typer.testing import CliRunner

from lossgap import InputError, Predictions, Tally
from lossgap.cli import load_commands
from lossgap.explanation import evaluate
from tests.helpers.data import random_binary, random_multiclass
from tests.helpers.engines import assert_same_json, assert_same_tally

pytestmark = [
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning"),
    pytest.mark.slow,  # a local Spark session takes tens of seconds to start
]

pyspark = pytest.importorskip("pyspark")
if shutil.which("java") is None:
    pytest.skip("Spark needs Java", allow_module_level=True)

import lossgap.spark  # noqa: E402


@pytest.fixture(scope="module")
def spark():
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # workers need this venv
    session = (
        SparkSession.builder.master("local[2]")
        .appName("lossgap-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", "700")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def binary_file(tmp_path_factory):
    rng = np.random.default_rng(31)
    y, p = random_binary(rng, 4000)
    p[:300] = np.round(p[:300], 2)  # ties across partitions
    path = tmp_path_factory.mktemp("spark") / "preds.parquet"
    pq.write_table(pa.table({"row": np.arange(len(y)), "y": y, "p": p}), path, row_group_size=1000)
    return path, y, p


def test_equal_to_numpy_under_three_partitionings(spark, binary_file):
    path, y, p = binary_file
    df = spark.read.parquet(str(path))
    # a cap below the size makes partitions compress and merge compressed with exact tables
    options = {"label": "y", "prob": "p", "id": "row", "max_distinct": 1500, "batch_rows": 900}
    whole = Tally.from_predictions(Predictions(y, p, ids=np.arange(len(y))), max_distinct=1500)
    assert whole.compressed
    for frame in (df.coalesce(1), df.repartition(2, "y")):
        assert_same_tally(lossgap.spark.tally(frame, **options), whole)
    got = lossgap.spark.explain(df.repartition(3), **options)
    assert_same_json(got.to_dict(), evaluate(whole).to_dict())


def test_ids_default_to_row_numbers_in_partition_order(spark, binary_file):
    path, y, p = binary_file
    df = spark.read.parquet(str(path))
    assert df.rdd.getNumPartitions() >= 1
    got = lossgap.spark.tally(df, label="y", prob="p")
    whole = Tally.from_predictions(Predictions(y, p))
    assert_array_equal(got.worst.ids, whole.worst.ids)


def test_multiclass_columns_and_the_cli(spark, tmp_path):
    rng = np.random.default_rng(5)
    y, prob = random_multiclass(rng, 1500, 3)
    names = np.array(["ant", "bee", "cat"])
    table = {"label": names[y], **{f"p_{c}": prob[:, i] for i, c in enumerate(names)}}
    path = tmp_path / "multi.parquet"
    pq.write_table(pa.table(table), path)
    runner = CliRunner()
    app = load_commands()
    spark_run = runner.invoke(app, ["explain", str(path), "--engine", "spark", "--json"])
    stream_run = runner.invoke(app, ["explain", str(path), "--engine", "stream", "--json"])
    assert spark_run.exit_code == 0, spark_run.stderr
    assert stream_run.exit_code == 0, stream_run.stderr
    got, expected = json.loads(spark_run.stdout), json.loads(stream_run.stdout)
    assert got["classes"] == ["ant", "bee", "cat"]
    assert_same_json(got, expected)


def test_missing_column_is_an_input_error(spark):
    df = spark.createDataFrame([(0, 0.2), (1, 0.7)], "y int, p double")
    with pytest.raises(InputError, match="no column 'score'"):
        lossgap.spark.explain(df, label="y", prob="score")

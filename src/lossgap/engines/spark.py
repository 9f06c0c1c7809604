"""The Spark engine: one Tally per partition, merged in a tree.

:func:`tally` summarises a Spark DataFrame of labels and probabilities without
collecting it (:func:`lossgap.spark.explain` then evaluates the summary): each
partition's Arrow batches become a :class:`~lossgap.Tally` on the executors
(``mapInArrow``), the Tallies are merged pairwise in a tree
(``RDD.treeReduce``), and only the merged summary reaches the driver, where
:func:`lossgap.explanation.evaluate` builds the same Evaluation as for the whole data in
memory. The worst samples come from each partition's heap. Partitioning never changes
the numbers: merges are associative and commutative.

Without an ``id`` column, a sample's id is its row number in the DataFrame's partition
order (as ``zipWithIndex`` numbers rows): partition ``i``'s rows follow those of
partitions ``0 .. i-1``. Pass ``id=`` for ids that survive a repartition.

Requires pyspark (``pip install 'lossgap[spark]'``); executors need lossgap installed
(see ``docs/scale.md`` for ``spark-submit``).
"""

from __future__ import annotations

import os
import pickle
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from pyspark import TaskContext
from pyspark.sql import DataFrame, SparkSession

from lossgap.core.tally import DEFAULT_BIN_BITS, DEFAULT_MAX_DISTINCT, DEFAULT_TOP, Tally
from lossgap.engines.batches import DEFAULT_BATCH_ROWS, BatchSpec, pool_batches, resolve_classes
from lossgap.errors import InputError
from lossgap.io.tables import choose_columns

#: Rows of one partition below 2**33: ids without an id column are (partition << 33) + row
#: on the executors, turned into row numbers on the driver.
_ROW_BITS = 33

_SCHEMA = "name string, partition int, rows long, tally binary"
_ARROW_SCHEMA = pa.schema(
    [("name", pa.string()), ("partition", pa.int32()), ("rows", pa.int64()), ("tally", pa.binary())]
)


def _partition_function(specs: Mapping[str, BatchSpec], batch_rows: int) -> Any:
    """The ``mapInArrow`` function: one pickled Tally per model for this partition."""

    def build(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        context = TaskContext.get()
        assert context is not None  # mapInArrow runs this inside a Spark task
        partition = context.partitionId()
        tagged = ((batch, f"partition {partition}") for batch in batches)
        running: dict[str, Tally] = {}
        rows = 0
        for table, first_row, where in pool_batches(tagged, batch_rows):
            first_id = (partition << _ROW_BITS) + first_row
            for name, spec in specs.items():
                running[name] = spec.add(running.get(name), table, first_row, where, first_id)
            rows = first_row + table.num_rows
        if running:
            yield pa.RecordBatch.from_pydict(
                {
                    "name": list(running),
                    "partition": [partition] * len(running),
                    "rows": [rows] * len(running),
                    "tally": [
                        pickle.dumps(t, protocol=pickle.HIGHEST_PROTOCOL)
                        for t in running.values()
                    ],
                },
                schema=_ARROW_SCHEMA,
            )

    return build


def _merge_pairs(
    a: tuple[dict[str, Tally], dict[int, int]], b: tuple[dict[str, Tally], dict[int, int]]
) -> tuple[dict[str, Tally], dict[int, int]]:
    """Merge two partial results: Tallies per model, rows per partition."""
    tallies = dict(a[0])
    for name, t in b[0].items():
        tallies[name] = tallies[name].merge(t) if name in tallies else t
    return tallies, {**a[1], **b[1]}


def _unpack(row: Any) -> tuple[dict[str, Tally], dict[int, int]]:
    return {row.name: pickle.loads(row.tally)}, {row.partition: row.rows}


def _row_numbers(tally: Tally, rows: Mapping[int, int]) -> Tally:
    """Worst-sample ids (partition << 33) + row turned into row numbers in partition order."""
    partitions = np.array(sorted(rows), dtype=np.int64)
    offsets = np.cumsum([0] + [rows[p] for p in partitions[:-1].tolist()])
    ids = np.asarray(tally.worst.ids, dtype=np.int64)
    index = np.searchsorted(partitions, ids >> _ROW_BITS)
    numbered = offsets[index] + (ids & ((1 << _ROW_BITS) - 1))
    return replace(tally, worst=replace(tally.worst, ids=numbered))


#: The last line of a worker's trace that holds lossgap's own message.
_WORKER_INPUT_ERROR = re.compile(r"(?:lossgap\.errors\.)?InputError: ([^\n]*)")
#: A worker's Python that lacks lossgap or one of its dependencies.
_WORKER_MISSING_MODULE = re.compile(r"No module named '([^'.]+)")


@contextmanager
def _worker_errors() -> Iterator[None]:
    """Spark's wrapping of a worker's failure (a Java trace around a Python one) turned
    back into the one line it carries: lossgap's :class:`~lossgap.InputError`, or the
    fix when the workers cannot import lossgap. Other failures pass unchanged."""
    try:
        yield
    except InputError:
        raise
    except Exception as exc:  # py4j / pyspark wrap everything in their own classes
        text = str(exc)
        found = _WORKER_INPUT_ERROR.findall(text)
        if found:
            raise InputError(found[-1].strip()) from None
        missing = _WORKER_MISSING_MODULE.search(text)
        if missing:
            msg = (
                f"the Spark workers cannot import {missing.group(1)} (lossgap needs it there): "
                "install lossgap on every worker (pip install lossgap), or set PYSPARK_PYTHON "
                f"to a Python that has it (the driver runs {sys.executable})"
            )
            raise InputError(msg) from None
        raise


def tallies(
    df: DataFrame,
    *,
    label: str | None = None,
    models: Mapping[str, str | Sequence[str]],
    from_logits: bool = False,
    id: str | None = None,
    weight: str | None = None,
    threshold: float = 0.5,
    positive: Any = None,
    classes: Sequence[Any] | None = None,
    top: int = DEFAULT_TOP,
    max_distinct: int = DEFAULT_MAX_DISTINCT,
    bin_bits: int = DEFAULT_BIN_BITS,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    depth: int = 2,
) -> dict[str, Tally]:
    """One Tally per model, in one pass over the DataFrame (models share the labels).

    Parameters
    ----------
    df : pyspark.sql.DataFrame
    label : str, default=None
        Column of labels (guessed from common names when None).
    models : mapping of str to str or list of str
        Model name to its probability column (binary) or columns (one per class).
    from_logits : bool, default=False
        The columns hold logits.
    id, weight : str, default=None
        Columns of sample ids and sample weights.
    threshold, positive, classes
        As for :func:`lossgap.explain`.
    top, max_distinct, bin_bits : int
        As for :meth:`lossgap.Tally.from_predictions`.
    batch_rows : int, default=1048576
        Rows per Tally within a partition.
    depth : int, default=2
        Depth of the ``treeReduce`` that merges the partitions' Tallies.

    Returns
    -------
    dict of str to Tally
    """
    if not models:
        msg = "models is empty: name at least one model and its probability column(s)"
        raise InputError(msg)
    specs: dict[str, BatchSpec] = {}
    for name, columns in models.items():
        names = [columns] if isinstance(columns, str) else list(columns)
        choice = choose_columns(
            df.columns,
            "the DataFrame",
            label=label,
            prob=() if from_logits else names,
            logit=names if from_logits else (),
            id=id,
            weight=weight,
        )
        specs[name] = BatchSpec(
            choice,
            (),
            positive=positive,
            threshold=threshold,
            top=top,
            max_distinct=max_distinct,
            bin_bits=bin_bits,
        )
    first = next(iter(specs.values())).choice
    with _worker_errors():
        distinct = df.select(first.label).distinct().collect()
    labels = np.array([r[0] for r in distinct if r[0] is not None])
    if len(labels) == 0:
        msg = (
            f"column {first.label!r} of the DataFrame has no labels: there are no samples "
            "to evaluate"
        )
        raise InputError(msg)
    specs = {
        name: replace(spec, classes=resolve_classes(spec.choice, labels, classes))
        for name, spec in specs.items()
    }
    columns = list(dict.fromkeys(c for spec in specs.values() for c in spec.columns))
    packed = df.select(*columns).mapInArrow(_partition_function(specs, batch_rows), _SCHEMA)
    try:
        with _worker_errors():
            merged, rows = packed.rdd.map(_unpack).treeReduce(_merge_pairs, depth=depth)
    except InputError:
        raise
    except ValueError as exc:  # reduce of an empty RDD
        msg = "the DataFrame has no rows: there are no samples to evaluate"
        raise InputError(msg) from exc
    if id is None:
        merged = {name: _row_numbers(t, rows) for name, t in merged.items()}
    return merged


def tally(
    df: DataFrame,
    *,
    label: str | None = None,
    prob: str | Sequence[str] | None = None,
    logit: str | Sequence[str] | None = None,
    **options: Any,
) -> Tally:
    """The merged Tally of one model's predictions in a DataFrame.

    ``prob`` (or ``logit``) is the probability (logit) column, or one column per class;
    the other options are those of :func:`tallies`.
    """
    if prob is not None and logit is not None:
        msg = "pass either prob or logit, not both"
        raise InputError(msg)
    columns: str | Sequence[str]
    if prob is not None:
        columns, from_logits = prob, False
    elif logit is not None:
        columns, from_logits = logit, True
    else:
        guessed = choose_columns(df.columns, "the DataFrame", label=label)
        columns, from_logits = guessed.probs, guessed.from_logits
    return tallies(df, label=label, models={"model": columns}, from_logits=from_logits, **options)[
        "model"
    ]


def read_path(spark: SparkSession, path: str | Path) -> DataFrame:
    """A DataFrame of a Parquet, CSV, TSV or JSON Lines path (file, directory or glob).

    The format comes from the suffix; a directory without one is read as Parquet.
    """
    text = str(path)
    suffix = Path(text.rstrip("/*")).suffix.lower()
    if suffix in (".csv", ".txt", ".tsv", ".tab"):
        sep = "\t" if suffix in (".tsv", ".tab") else ","
        return spark.read.csv(text, header=True, inferSchema=True, sep=sep)
    if suffix in (".json", ".jsonl", ".ndjson"):
        return spark.read.json(text)
    return spark.read.parquet(text)


def tally_of_path(path: str | Path, **options: Any) -> Tally:
    """The Tally of a file, directory or glob read by Spark (the CLI's ``--engine spark``).

    Uses the active SparkSession (``spark-submit`` sets the master), else starts a local
    one on every core. Options: those of :func:`tally`.
    """
    builder = SparkSession.builder.appName("lossgap")
    if SparkSession.getActiveSession() is None:
        # local workers must run this interpreter, the one that has lossgap installed
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        # our own session: a failed task is reported in one line, not in Spark's log
        builder = builder.config("spark.ui.showConsoleProgress", "false")
        builder = builder.config("spark.log.level", "OFF")
    spark = builder.getOrCreate()
    try:
        df = read_path(spark, path)
    except Exception as exc:  # Spark raises its own classes for a missing or bad path
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        msg = f"Spark cannot read {str(path)!r} ({first}): check the path and its format"
        raise InputError(msg) from exc
    prob, logit = options.pop("prob", ()), options.pop("logit", ())
    return tally(df, prob=list(prob) or None, logit=list(logit) or None, **options)


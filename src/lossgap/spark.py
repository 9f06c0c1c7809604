"""Spark: evaluate a DataFrame of labels and probabilities without collecting it.

Each partition becomes a :class:`~lossgap.Tally` on the executors, the Tallies are merged in
a tree, and only the merged summary reaches the driver, where it is evaluated as the same
data in memory would be (:mod:`lossgap.engines.spark` has the details).

Requires pyspark (``pip install 'lossgap[spark]'``); executors need lossgap installed
(see ``docs/scale.md`` for ``spark-submit``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pyspark.sql import DataFrame

from lossgap.core.tally import DEFAULT_TOP
from lossgap.engines.spark import read_path, tallies, tally, tally_of_path
from lossgap.explanation import evaluate
from lossgap.results.evaluation import Evaluation

__all__ = ["explain", "read_path", "tallies", "tally", "tally_of_path"]


def explain(
    df: DataFrame,
    *,
    label: str | None = None,
    prob: str | Sequence[str] | None = None,
    id: str | None = None,
    top: int = 10,
    confidence: float = 0.95,
    seed: int = 0,
    **options: Any,
) -> Evaluation:
    """Evaluate the predictions in a Spark DataFrame, as :func:`lossgap.explain` would.

    Parameters
    ----------
    df : pyspark.sql.DataFrame
    label : str, default=None
        Column of labels.
    prob : str or list of str, default=None
        Probability column (binary) or one column per class; ``logit=`` instead for logits.
    id : str, default=None
        Column of sample ids; default the row number in partition order.
    top : int, default=10
        Worst samples reported.
    confidence : float, default=0.95
    seed : int, default=0
    **options
        ``logit``, ``weight``, ``threshold``, ``positive``, ``classes``,
        ``max_distinct``, ``bin_bits``, ``batch_rows``, ``depth`` (see :func:`tallies`).

    Returns
    -------
    Evaluation
        Equal to the numpy engine's evaluation of the same Tally, whatever the partitioning.

    Examples
    --------
    >>> from pyspark.sql import SparkSession  # doctest: +SKIP
    >>> spark = SparkSession.builder.master("local[2]").getOrCreate()  # doctest: +SKIP
    >>> rows = [(0, 0.1), (1, 0.8), (1, 0.4)]  # doctest: +SKIP
    >>> df = spark.createDataFrame(rows, "y int, p double")  # doctest: +SKIP
    >>> lossgap.spark.explain(df, label="y", prob="p").metric("accuracy")  # doctest: +SKIP
    0.666...
    """
    merged = tally(df, label=label, prob=prob, id=id, top=max(top, DEFAULT_TOP), **options)
    weighted = options.get("weight") is not None
    return evaluate(merged, top=top, confidence=confidence, seed=seed, weighted=weighted)

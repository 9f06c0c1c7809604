"""Record batches of a table into Tallies, the same way in every batch.

A file streamed in batches (:mod:`lossgap.engines.stream`) and a Spark DataFrame split in
partitions (:mod:`lossgap.spark`) both see the predictions a piece at a time. Each piece
is validated by :class:`~lossgap.Predictions` and summarised into a
:class:`~lossgap.Tally`; for the Tallies to merge, every piece must resolve the classes
alike, so they are resolved once from the distinct labels of the whole input
(:func:`resolve_classes`) and passed to every batch (:class:`BatchSpec`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from lossgap.core.binning import MAX_DENSE_BITS, BinaryBins
from lossgap.core.losses import MAX_CLIPPED_LOSS
from lossgap.core.predictions import Predictions
from lossgap.core.tally import (
    DEFAULT_BIN_BITS,
    DEFAULT_MAX_DISTINCT,
    DEFAULT_TOP,
    Tally,
    WorstSamples,
    bin_keys,
    binary_loss,
    binary_worst,
)
from lossgap.errors import InputError
from lossgap.io.columns import arrow_column
from lossgap.io.tables import ColumnChoice, predictions_from_table

if TYPE_CHECKING:  # the arrow extra: record batches come only from pyarrow's readers
    import pyarrow as pa

_ROW = re.compile(r"\bat row (\d+)")
_IN_ALL = re.compile(r"row\(s\) in all")

#: Rows per table, at most (each table becomes one Tally; pyarrow's Parquet row groups hold
#: as many, so a table is one row group, converted to numpy uncopied). With a label and a
#: probability column, about 0.45 GB of transient memory in all (two tables in flight).
DEFAULT_BATCH_ROWS = 1 << 20



def located(exc: InputError, first_row: int, where: str) -> InputError:
    """The error of one batch with its rows counted over the whole input.

    Examples
    --------
    >>> str(located(InputError("column 'p' has NaN at row 3 (2 row(s) in all)"), 100, "f.csv"))
    "column 'p' has NaN at row 103 (2 row(s) in this batch) in f.csv"
    """
    text = _ROW.sub(lambda m: f"at row {int(m.group(1)) + first_row}", str(exc))
    return InputError(f"{_IN_ALL.sub('row(s) in this batch', text)} in {where}")


def resolve_classes(
    choice: ColumnChoice, labels: np.ndarray, classes: Any = None
) -> tuple[Any, ...]:
    """The classes, in column order, that :class:`~lossgap.Predictions` would find for
    the distinct ``labels`` of the whole input (before any ``positive`` swap).

    Examples
    --------
    >>> from lossgap.io.tables import ColumnChoice
    >>> resolve_classes(ColumnChoice("y", ["p_dog", "p_cat"], False), np.array(["cat", "dog"]))
    ('dog', 'cat')
    """
    width = len(choice.probs)
    # probabilities no row sum check can refuse: the probe only resolves the classes
    neutral = 0.0 if choice.from_logits else 1.0 / max(width, 2)
    dummy = np.full((len(labels), width), neutral)
    probe = Predictions(
        labels,
        dummy[:, 0] if width == 1 else dummy,
        from_logits=choice.from_logits,
        classes=classes,
        label_name=choice.label,
        prob_names=choice.probs,
    )
    return probe.classes


@dataclass(frozen=True)
class BatchSpec:
    """How every batch of one input becomes Predictions and a Tally.

    Attributes
    ----------
    choice : ColumnChoice
        The columns (label, probabilities or logits, id, weight).
    classes : tuple
        The classes from :func:`resolve_classes`, the same for every batch.
    positive : label or None
        The positive class option, applied in every batch.
    threshold : float
    top, max_distinct, bin_bits : int
        As for :meth:`lossgap.Tally.from_predictions`.
    """

    choice: ColumnChoice
    classes: tuple[Any, ...]
    positive: Any = None
    threshold: float = 0.5
    top: int = DEFAULT_TOP
    max_distinct: int = DEFAULT_MAX_DISTINCT
    bin_bits: int = DEFAULT_BIN_BITS

    @property
    def columns(self) -> list[str]:
        """The columns a batch needs, each once."""
        c = self.choice
        wanted = [c.label, *c.probs, c.id, c.weight]
        return list(dict.fromkeys(name for name in wanted if name is not None))

    def predictions(
        self,
        table: pa.Table | pa.RecordBatch,
        first_row: int,
        where: str,
        first_id: int | None = None,
    ) -> Predictions:
        """Validated predictions of one batch; rows in errors count from the input's start.

        Without an id column the ids are ``first_id`` (default ``first_row``) onwards.
        """
        start = first_row if first_id is None else first_id
        try:
            return predictions_from_table(
                table,
                self.choice,
                threshold=self.threshold,
                positive=self.positive,
                classes=self.classes,
                default_ids=np.arange(start, start + table.num_rows),
            )
        except InputError as exc:
            raise located(exc, first_row, where) from None

    def tally(
        self,
        table: pa.Table | pa.RecordBatch,
        first_row: int,
        where: str,
        first_id: int | None = None,
        into: Tally | None = None,
    ) -> Tally:
        """The Tally of one batch, to be merged ``into`` a running Tally (its compressed
        tables make this batch's tables binned at once)."""
        return Tally.from_predictions(
            self.predictions(table, first_row, where, first_id),
            top=self.top,
            max_distinct=self.max_distinct,
            bin_bits=self.bin_bits,
            binned=None if into is None else [t.compressed for t in into.tables],
        )

    def binnable(self, running: Tally | None) -> bool:
        """Whether the batches after ``running`` can be added into a :class:`BinaryRun`:
        binary probabilities (not logits) merging into a compressed Tally, at a resolution
        the dense bins serve."""
        return (
            running is not None
            and running.task == "binary"
            and running.compressed
            and not self.choice.from_logits
            and self.bin_bits <= MAX_DENSE_BITS
        )

    def add(
        self,
        running: Tally | None,
        table: pa.Table,
        first_row: int,
        where: str,
        first_id: int | None = None,
    ) -> Tally:
        """``running`` merged with the Tally of one more batch."""
        part = self.tally(table, first_row, where, first_id, into=running)
        return part if running is None else running.merge(part)


def _label_value(cls: Any) -> int | None:
    """The integer label that names the class ``cls`` (labels match classes by their text,
    as :class:`~lossgap.Predictions` matches them), or None."""
    if isinstance(cls, bool | np.bool_):
        return None
    if isinstance(cls, int | np.integer):
        return int(cls)
    if isinstance(cls, str):
        try:
            value = int(cls)
        except ValueError:
            return None
        return value if str(value) == cls else None
    return None


class BinaryRun:
    """Binary batches added one after another into one :class:`~lossgap.core.binning.BinaryBins`:
    a worker thread's share of a stream whose Tally is compressed.

    Each batch costs one pass over its rows (its bins, every sum, the candidates for the
    worst samples) and no Tally of its own, no table and no merge; :meth:`tally` reads the
    bins once. A batch of integer labels and float64 probabilities without empty cells
    (and without weights, ids or logits) is read from its Arrow buffers uncopied, checked
    by a pass that writes nothing and added by the kernel's one pass
    (:meth:`~lossgap.core.binning.BinaryBins.add_labels`); any other batch, and any batch
    that fails the check (the bins untouched), goes through :class:`~lossgap.Predictions`,
    which names the failure.

    Parameters
    ----------
    spec : BatchSpec
        How the batches are read (:meth:`BatchSpec.binnable`).
    classes : tuple
        The classes of the running Tally (after ``positive``), class 1 the positive one.

    Examples
    --------
    >>> import pyarrow as pa
    >>> spec = BatchSpec(ColumnChoice("y", ["p"], False), (0, 1))
    >>> run = BinaryRun(spec, (0, 1))
    >>> run.add(pa.table({"y": [0, 1, 1], "p": [0.2, 0.9, 0.4]}), 0, "a.parquet")
    >>> run.add(pa.table({"y": [1], "p": [0.7]}), 3, "a.parquet")
    >>> tally = run.tally()
    >>> tally.count, tally.confusion.tolist(), tally.worst.ids.tolist()[:2]
    (4, [[1.0, 0.0], [1.0, 2.0]], [2, 3])
    """

    def __init__(self, spec: BatchSpec, classes: tuple[Any, ...]) -> None:
        self.spec, self.classes = spec, classes
        self.bins = BinaryBins(
            spec.bin_bits, weighted=spec.choice.weight is not None, keys_of=bin_keys
        )
        self.count = 0
        self.worst: WorstSamples | None = None
        self.outside: list[tuple[np.ndarray, np.ndarray, np.ndarray | None]] = []
        negative, positive = (_label_value(c) for c in classes)
        c = spec.choice
        plain = c.weight is None and c.id is None and not c.from_logits and len(c.probs) == 1
        # the integer labels of class 0 and class 1, when batches may be read from buffers
        self.labels: tuple[int, int] | None = None
        if plain and negative is not None and positive is not None:
            self.labels = (negative, positive)

    def add(self, table: pa.Table | pa.RecordBatch, first_row: int, where: str) -> None:
        """Add one batch (rows from ``first_row`` of the input, read from ``where``)."""
        top = self.spec.top
        options: dict[str, Any] = {
            "threshold": self.spec.threshold, "clip": MAX_CLIPPED_LOSS, "top": top,
            "cutoff": -np.inf,
        }
        if self.worst is not None and len(self.worst) >= top > 0:
            # no later row below it is among the worst
            options["cutoff"] = float(self.worst.loss.min())
        raw = self._raw(table)
        added = None
        if raw is not None and self.labels is not None:
            negative, positive = self.labels
            added = self.bins.add_labels(*raw, negative, positive, **options)
        if raw is not None and added is not None:
            (s, labels), (rows, loss, outside) = raw, added
            y = (labels[rows] == positive).astype(np.int64)
            found = binary_worst(np.arange(len(rows)), first_row + rows, loss, y, s[rows],
                                 self.spec.threshold)
            if len(outside):
                self.outside.append((s[outside], (labels[outside] == positive).astype(np.int64),
                                     None))
        else:  # any other batch, and one that fails the check: Predictions names the failure
            pred = self.spec.predictions(table, first_row, where)
            s, y, w, ids = pred.prob, pred.y, pred.sample_weight, pred.ids
            loss = binary_loss(pred)
            candidates, outside = self.bins.add(s, y, w, loss, **options)
            picked = np.arange(len(s)) if candidates is None else candidates
            found = binary_worst(picked, ids[picked], loss, y, s, self.spec.threshold)
            if len(outside):
                self.outside.append((s[outside], y[outside], None if w is None else w[outside]))
        self.worst = found.keep_top(top) if self.worst is None else self.worst.merge(found, top)
        self.count += table.num_rows

    def _raw(self, table: pa.Table | pa.RecordBatch) -> tuple[np.ndarray, np.ndarray] | None:
        """Scores and integer labels straight from the batch's buffers (float64 and int64,
        no empty cell), for :meth:`~lossgap.core.binning.BinaryBins.add_labels` to check;
        None when the batch needs :class:`~lossgap.Predictions`."""
        if self.labels is None:
            return None
        c = self.spec.choice
        label_column, prob_column = table.column(c.label), table.column(c.probs[0])
        if label_column.null_count or prob_column.null_count:
            return None
        labels, _ = arrow_column(label_column)
        scores, _ = arrow_column(prob_column)
        if labels.dtype != np.int64 or scores.dtype != np.float64:
            return None
        return scores, labels

    def tally(self) -> Tally | None:
        """The Tally of every batch added (None for none)."""
        if self.worst is None:
            return None
        spec = self.spec
        parts = list(zip(*self.outside, strict=True)) if self.outside else [[], [], []]
        weighted = spec.choice.weight is not None

        def joined(arrays: Any, dtype: Any) -> np.ndarray:
            return np.concatenate(arrays) if len(arrays) else np.empty(0, dtype)

        return Tally.from_binary_bins(
            classes=self.classes,
            threshold=float(spec.threshold),
            top=spec.top,
            count=self.count,
            bins=self.bins.read(),
            outside=(
                joined(parts[0], np.float64),
                joined(parts[1], np.int64),
                joined(parts[2], np.float64) if weighted else None,
            ),
            sums=self.bins.sums(),
            cells=self.bins.cells,
            worst=self.worst,
            max_distinct=spec.max_distinct,
            bin_bits=spec.bin_bits,
        )


def pool_batches(
    items: Iterable[tuple[pa.RecordBatch, str]], batch_rows: int
) -> Iterator[tuple[pa.Table, int, str]]:
    """Pool record batches (each tagged with where it comes from) into tables of at most
    ``batch_rows`` rows (a larger batch stays alone): one Tally per ~1e6 rows, not per
    small batch, and a batch that fills a table alone is converted to numpy uncopied.

    Yields ``(table, first_row, where)``: the input row of the table's first row and the
    first and last tags it spans.

    Examples
    --------
    >>> import pyarrow as pa
    >>> b = pa.record_batch({"y": [0, 1, 1]})
    >>> pooled = pool_batches([(b, "a"), (b, "b"), (b, "c")], 6)
    >>> [(t.num_rows, first, where) for t, first, where in pooled]
    [(6, 0, 'a to b'), (3, 6, 'c')]
    """
    pending: list[pa.RecordBatch] = []
    tags: list[str] = []
    rows = first_row = 0
    for batch, tag in items:
        if batch.num_rows == 0:
            continue
        if pending and rows + batch.num_rows > batch_rows:
            yield _pooled(pending), first_row, _span(tags)
            first_row += rows
            pending, tags, rows = [], [], 0
        pending.append(batch)
        if not tags or tags[-1] != tag:
            tags.append(tag)
        rows += batch.num_rows
    if rows:
        yield _pooled(pending), first_row, _span(tags)


def _pooled(batches: list[pa.RecordBatch]) -> pa.Table:
    import pyarrow as pa

    return pa.Table.from_batches(batches, schema=batches[0].schema)


def _span(tags: list[str]) -> str:
    return tags[0] if len(tags) == 1 else f"{tags[0]} to {tags[-1]}"

"""Stream prediction files larger than memory in record batches through ``pyarrow.dataset``.

The source is a Parquet, CSV, TSV or JSON Lines file, a directory (every file of one of
those formats below it, skipping names that start with ``_`` or ``.``, such as Spark's
``_SUCCESS`` and ``.crc`` files) or a glob (``'preds/*.parquet'``, quoted for the shell).
Only the needed columns are read, in tables of at most :data:`DEFAULT_BATCH_ROWS` rows
(record batches of small files pooled); each table is validated
(:class:`~lossgap.Predictions`) and summarised into a :class:`~lossgap.Tally` in a worker
thread, two at a time, while the next table is read, and merged into the running Tally in
input order, so peak memory is a few tables whatever the size of the input.

One pass: the classes are resolved from the labels of the first tables, read until they
settle the classes as the whole input would (:func:`resolve_classes`), and every later
table is checked against them. An input whose first tables cannot settle the classes, or
that fails in any way, is read again in two passes, the label column alone first, so its
classes and its errors are exactly those of the whole input (as they are when the classes
are given). Every number of the evaluation then comes from the merged summary: exact sums,
score tables (compressed past the cap, with their bounds) and the intervals that the
summary supports (analytic, or a Poisson bootstrap of the table's cells), each naming its
method.
"""

from __future__ import annotations

import glob
import itertools
import os
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, replace
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lossgap.core.tally import DEFAULT_BIN_BITS, DEFAULT_MAX_DISTINCT, DEFAULT_TOP, Tally
from lossgap.engines import one_blas_thread
from lossgap.engines.batches import (
    DEFAULT_BATCH_ROWS,
    BatchSpec,
    BinaryRun,
    pool_batches,
    resolve_classes,
)
from lossgap.errors import InputError
from lossgap.io.columns import ArrowModule, arrow_enabled
from lossgap.io.tables import FORMATS, ColumnChoice, arrow_buffer, choose_columns

if TYPE_CHECKING:  # for the types; at run time each module loads on first use (below)
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pa_csv
    import pyarrow.dataset as ds
    import pyarrow.json as pa_json
    import pyarrow.parquet as pq
    from rich.console import Console
    from rich.progress import Progress
else:  # pyarrow is the arrow extra: imported when a stream is read, refused without it
    _STREAMING = "streamed input (--engine stream, directories, globs)"
    # pyarrow.dataset imports pandas (0.7 s of a start): it too loads on first use
    pa, pc, pa_csv, ds, pa_json, pq = (
        ArrowModule(f"pyarrow{suffix}", _STREAMING)
        for suffix in ("", ".compute", ".csv", ".dataset", ".json", ".parquet")
    )

#: Formats read in batches.
STREAMABLE = ("parquet", "csv", "tsv", "jsonl")

#: With ``--engine auto``, files of more value cells than this (8.4e6: 4.2e6 rows of a
#: label and a probability) are streamed. The memory engine holds about 90 bytes per row of
#: a binary file over a 0.3 GB base (0.81 GB for 6e6 rows), the streaming engine a flat
#: 0.4-0.5 GB: below this the memory engine stays within twice the streaming one's peak.
STREAM_CELLS = 2**23
#: How many numeric cells a text (or other non-numeric) cell weighs in :data:`STREAM_CELLS`.
TEXT_CELL = 4

# Tables summarised at once, each in a thread of its own.
_IN_FLIGHT = 2

# Tables held while their labels cannot settle the classes (a first table of one class),
# at most: past it the labels are read in a pass of their own.
_RESOLVE_BYTES = 64 * 2**20

# Text is parsed in blocks of this size: large enough for batches of ~1e6 rows.
_TEXT_BLOCK = 32 * 2**20
_GLOB_CHARS = "*?["


class Engine(str, Enum):
    """How ``lossgap explain`` reads its input."""

    auto = "auto"
    memory = "memory"
    stream = "stream"
    spark = "spark"


@dataclass(frozen=True)
class Source:
    """The files behind a path, a directory or a glob, all of one format."""

    text: str
    files: tuple[Path, ...]
    kind: str

    @property
    def total_bytes(self) -> int:
        return sum(f.stat().st_size for f in self.files)


def _is_glob(text: str) -> bool:
    return any(ch in text for ch in _GLOB_CHARS) and not Path(text).exists()


def _known_format(path: Path) -> str | None:
    return FORMATS.get(path.suffix.lower())


def resolve_source(source: str | Path) -> Source:
    """The files to read for a file, a directory or a glob.

    Raises
    ------
    lossgap.InputError
        Nothing found, a mix of formats, a format that cannot be streamed, an empty file.

    Examples
    --------
    >>> resolve_source("no/such/dir/*.parquet")
    Traceback (most recent call last):
    ...
    lossgap.errors.InputError: no file matches 'no/such/dir/*.parquet': check the pattern ...
    """
    text = str(source)
    path = Path(text)
    if _is_glob(text):
        # '**' follows links to folders: a link loop lists one file many times; keep each
        # real file once, under the first name the glob gave it
        real: dict[str, Path] = {}
        for name in sorted(glob.glob(text, recursive=True)):
            if Path(name).is_file():
                real.setdefault(os.path.realpath(name), Path(name))
        files = list(real.values())
        if not files:
            msg = (
                f"no file matches {text!r}: check the pattern (quote it so the shell does "
                "not expand it)"
            )
            raise InputError(msg)
    elif path.is_dir():
        files = sorted(
            p
            for p in path.rglob("*")
            if p.is_file()
            and not any(part.startswith(("_", ".")) for part in p.relative_to(path).parts)
            and _known_format(p) is not None
        )
        if not files:
            msg = (
                f"directory {text!r} holds no CSV, TSV, Parquet or JSON Lines files: "
                "point at the folder of the prediction files"
            )
            raise InputError(msg)
    elif path.is_file():
        files = [path]
    else:
        msg = f"file {text!r} does not exist: check the path"
        raise InputError(msg)
    kinds = sorted({_known_format(f) or "csv" for f in files})
    if len(kinds) > 1:
        msg = f"{text!r} mixes formats ({', '.join(kinds)}): stream files of one format at a time"
        raise InputError(msg)
    if kinds[0] not in STREAMABLE:
        msg = (
            f"{text!r} is {kinds[0]}, which cannot be read in batches: save it as Parquet, or "
            "use --engine memory"
        )
        raise InputError(msg)
    empty = next((f for f in files if f.stat().st_size == 0), None)
    if empty is not None:
        msg = f"file {str(empty)!r} is empty: it holds no header and no rows"
        raise InputError(msg)
    return Source(text, tuple(files), kinds[0])


def _file_format(kind: str) -> ds.FileFormat:
    if kind == "parquet":
        return ds.ParquetFileFormat()
    if kind == "jsonl":
        return ds.JsonFileFormat(read_options=pa_json.ReadOptions(block_size=_TEXT_BLOCK))
    return ds.CsvFileFormat(
        parse_options=pa_csv.ParseOptions(delimiter="\t" if kind == "tsv" else ","),
        read_options=pa_csv.ReadOptions(block_size=_TEXT_BLOCK),
    )


def _unreadable(where: str, kind: str, exc: Exception) -> InputError:
    detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    msg = f"cannot read {where} as {kind} ({detail}): check the file, or pass files of one schema"
    return InputError(msg)


def open_dataset(src: Source) -> ds.Dataset:
    """The ``pyarrow.dataset`` of a source (the schema of its first file)."""
    try:
        dataset = ds.dataset([str(f) for f in src.files], format=_file_format(src.kind))
        dataset.schema.names  # noqa: B018 - a header that is not UTF-8 fails here, not later
        return dataset
    except (pa.ArrowInvalid, pa.ArrowTypeError, OSError, UnicodeDecodeError) as exc:
        raise _unreadable(src.text, src.kind, exc) from exc


def _rows_estimate(fragment: ds.Fragment, kind: str, path: Path) -> float:
    """Rows in one file: exact for Parquet (metadata), from the first MiB of text otherwise."""
    if kind == "parquet":
        return max(fragment.count_rows(), 1)
    with path.open("rb") as handle:
        head = handle.read(2**20)
    return max(path.stat().st_size * head.count(b"\n") / max(len(head), 1), 1.0)


#: A pooled table, the input row of its first row and the file(s) it comes from.
Pooled = tuple["pa.Table", int, str]


class _Meter:
    """Rows and bytes read, shown as a rich progress bar (or nothing)."""

    def __init__(self, progress: Progress | None, description: str, total_bytes: int) -> None:
        # the bar and its task together: a bar always has its task
        self.bar = (
            None
            if progress is None
            else (progress, progress.add_task(description, total=total_bytes, rows=0))
        )
        self.rows = 0
        self.bytes_done = 0

    def advance(self, rows: int, bytes_done: float) -> None:
        self.rows += rows
        self.bytes_done = int(bytes_done)
        if self.bar is not None:
            progress, task = self.bar
            progress.update(task, completed=self.bytes_done, rows=self.rows)

    def discard(self) -> None:
        """Take the bar off the display (its reading is started over)."""
        if self.bar is not None:
            progress, task = self.bar
            progress.remove_task(task)


def _batches(
    dataset: ds.Dataset, src: Source, columns: Sequence[str], batch_rows: int, meter: _Meter
) -> Iterator[Pooled]:
    """Tables of at most ``batch_rows`` rows, with the input row of their first row and the
    file(s) they come from; batches of small files are pooled across files."""
    return pool_batches(_file_batches(dataset, src, columns, batch_rows, meter), batch_rows)


def _file_batches(
    dataset: ds.Dataset, src: Source, columns: Sequence[str], batch_rows: int, meter: _Meter
) -> Iterator[tuple[pa.RecordBatch, str]]:
    # read on demand in this thread, without pre-buffering Parquet column chunks: a
    # threaded reader runs ahead of the evaluation and holds much of the file
    parquet = src.kind == "parquet"
    scan_options = ds.ParquetFragmentScanOptions(pre_buffer=False) if parquet else None
    done_bytes = 0
    for fragment, path in zip(dataset.get_fragments(), src.files, strict=True):
        size = path.stat().st_size
        try:  # a corrupt part fails on its metadata already: name it
            per_row = size / _rows_estimate(fragment, src.kind, path)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OSError) as exc:
            raise _unreadable(str(path), src.kind, exc) from exc
        scanner = ds.Scanner.from_fragment(
            fragment,
            schema=dataset.schema,
            columns=list(columns),
            batch_size=batch_rows,
            batch_readahead=0,
            fragment_readahead=0,
            use_threads=False,
            fragment_scan_options=scan_options,
        )
        file_rows = 0
        try:
            for batch in scanner.to_batches():
                file_rows += batch.num_rows
                meter.advance(batch.num_rows, done_bytes + min(size, file_rows * per_row))
                yield batch, str(path)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OSError) as exc:
            raise _unreadable(str(path), src.kind, exc) from exc
        done_bytes += size
        meter.advance(0, done_bytes)


def _distinct_labels(
    dataset: ds.Dataset, src: Source, label: str, batch_rows: int, meter: _Meter
) -> np.ndarray:
    """The distinct labels of the whole input (first pass, label column only)."""
    uniques = []
    for table, first_row, where in _batches(dataset, src, [label], batch_rows, meter):
        column = table.column(0)
        if column.null_count:
            row = first_row + int(np.argmax(column.is_null().to_numpy(zero_copy_only=False)))
            msg = (
                f"column {label!r} has an empty value at row {row} in {where}: drop or fill "
                "the rows without a label"
            )
            raise InputError(msg)
        uniques.append(pc.unique(column))
    if not uniques:
        msg = f"{src.text!r} has a header but no rows: there are no samples to evaluate"
        raise InputError(msg)
    return pc.unique(pa.chunked_array(uniques)).to_numpy(zero_copy_only=False)


class _TwoPasses(Exception):
    """The first tables cannot settle the classes, or a table failed: read the labels first."""


def _classes_of_first(
    tables: Iterator[Pooled], choice: ColumnChoice, limit: int
) -> tuple[tuple[Any, ...], Iterator[Pooled]]:
    """The classes resolved from the labels of the first tables, and every table again
    (those read, then the rest).

    Tables are read until their distinct labels resolve (one class, or too few classes for
    the probability columns, do not), at most ``limit`` bytes of them.

    Notes
    -----
    These classes are those of the whole input as long as every later label is one of them
    (each table's :class:`~lossgap.Predictions` refuses any other). The classes come from
    the distinct labels either as they are (binary, or as many labels as columns), and
    then no later label can add one, or by matching the labels to the column names or to
    ``0 .. k-1``, which every label that is one of these classes matches too.
    """
    read: deque[Pooled] = deque()
    uniques: list[pa.Array] = []
    size = 0
    for item in tables:
        column = item[0].column(choice.label)
        if column.null_count:
            break  # the label pass names the row
        read.append(item)
        uniques.append(pc.unique(column))
        labels = pc.unique(pa.chunked_array(uniques)).to_numpy(zero_copy_only=False)
        try:
            return resolve_classes(choice, labels), itertools.chain(_drain(read), tables)
        except InputError:
            size += item[0].nbytes
            if size > limit:
                break
    raise _TwoPasses


def _drain(items: deque[Pooled]) -> Iterator[Pooled]:
    """The items, each let go once yielded."""
    while items:
        yield items.popleft()


def _merged(spec: BatchSpec, tables: Iterator[Pooled]) -> Tally | None:
    """The Tally of every table, merged in input order (None for no rows).

    Tables are summarised in two worker threads, table ``i`` in thread ``i % 2``, while
    this thread reads the next table and merges; the kernels and numpy release the GIL in
    their loops, so the work spreads over the cores. Each table is handed the running Tally
    as it stands when the table is read (it is binned at once if that is compressed), and
    which tables are merged by then depends on the data alone (:func:`_at_once`), never on
    the timing. Once the running Tally is a compressed binary one, every later table is
    added into its thread's :class:`~lossgap.engines.batches.BinaryRun` instead (no Tally
    per table, no merge), in input order within each thread, and the two runs merge into
    the running Tally at the end: the result does not depend on the threads either.

    BLAS runs single-threaded meanwhile: the Tally's dot products would otherwise wake
    BLAS threads that spin after each call and take the cores from the workers (1.45 s
    against 1.01 s for 4e7 rows on two cores).
    """
    running: Tally | None = None
    pending: deque[Future[Tally]] = deque()
    added: deque[Future[None]] = deque()
    runs: list[BinaryRun] = []
    with (
        one_blas_thread(),
        ThreadPoolExecutor(1, thread_name_prefix="lossgap-even-batches") as first,
        ThreadPoolExecutor(1, thread_name_prefix="lossgap-odd-batches") as second,
    ):
        workers = (first, second)
        for index, (table, first_row, where) in enumerate(tables):
            worker = workers[index % 2]
            if not runs and spec.binnable(running):
                assert running is not None  # binnable says so
                runs = [BinaryRun(spec, running.classes) for _ in workers]
            if runs:
                added.append(worker.submit(runs[index % 2].add, table, first_row, where))
                while len(added) > 2 * _IN_FLIGHT:  # a table queued behind each worker's
                    added.popleft().result()
                continue
            pending.append(worker.submit(spec.tally, table, first_row, where, into=running))
            while len(pending) >= _at_once(running, spec.max_distinct):
                running = _merge(running, pending.popleft().result())
        while pending:
            running = _merge(running, pending.popleft().result())
        while added:
            added.popleft().result()
    for run in runs:
        part = run.tally()
        if part is not None:
            running = _merge(running, part)
    return running


def _at_once(running: Tally | None, max_distinct: int) -> int:
    """Tables to summarise at once, given the running Tally.

    One while that Tally may hold exact tables near the cap (before the first table is
    merged, too): a table handed those would be summarised exactly only to be binned at
    the merge, and merges of exact tables near the cap are the memory peak. Otherwise
    ``_IN_FLIGHT``.
    """
    small = running is not None and all(
        t.compressed or len(t.scores) <= max_distinct // 2 for t in running.tables
    )
    return _IN_FLIGHT if small else 1


def _merge(running: Tally | None, part: Tally) -> Tally:
    return part if running is None else running.merge(part)


def _one_pass(spec: BatchSpec, tables: Iterator[Pooled]) -> Tally | None:
    """The Tally of every table, the classes resolved from the first ones.

    Raises
    ------
    _TwoPasses
        The first tables cannot settle the classes, or a table fails: only two passes give
        the classes and the errors of the whole input (a label outside the classes may be
        a class of its own, a NaN may come before an empty label).
    """
    try:
        classes, tables = _classes_of_first(tables, spec.choice, _RESOLVE_BYTES)
        return _merged(replace(spec, classes=classes), tables)
    except InputError as exc:
        raise _TwoPasses from exc


def progress_bar(console: Console) -> Progress:
    """The progress bar of a long read: description, bar, bytes, rows, time."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TextColumn("{task.fields[rows]:,} rows"),
        TimeElapsedColumn(),
        console=console,
    )


def stream_tally(
    source: str | Path,
    *,
    label: str | None = None,
    prob: Sequence[str] = (),
    logit: Sequence[str] = (),
    id: str | None = None,
    weight: str | None = None,
    threshold: float = 0.5,
    positive: Any = None,
    classes: Sequence[Any] | None = None,
    top: int = DEFAULT_TOP,
    max_distinct: int = DEFAULT_MAX_DISTINCT,
    bin_bits: int = DEFAULT_BIN_BITS,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    console: Console | None = None,
) -> Tally:
    """The Tally of a prediction file, directory or glob, read in record batches.

    Parameters
    ----------
    source : str or Path
        A Parquet, CSV, TSV or JSON Lines file, a directory of them, or a glob.
    label, prob, logit, id, weight : str
        Columns, as the options of ``lossgap explain`` (guessed when not given).
    threshold, positive, classes
        As for :func:`lossgap.explain`.
    top, max_distinct, bin_bits : int
        As for :meth:`lossgap.Tally.from_predictions`.
    batch_rows : int, default=1048576
        Rows per table, at most: each table becomes one Tally.
    console : rich Console, default=None
        Where to draw a progress bar (rows and bytes); None draws none.

    Returns
    -------
    Tally

    Examples
    --------
    >>> import tempfile, pyarrow as pa, pyarrow.parquet as pq
    >>> path = tempfile.mkdtemp() + "/p.parquet"
    >>> pq.write_table(pa.table({"y": [0, 1, 1, 0], "p": [0.1, 0.8, 0.4, 0.3]}), path)
    >>> t = stream_tally(path, batch_rows=2)
    >>> t.count, t.confusion.tolist()
    (4, [[2.0, 0.0], [1.0, 1.0]])
    """
    src = resolve_source(source)
    dataset = open_dataset(src)
    choice = choose_columns(
        dataset.schema.names, src.text, label=label, prob=prob, logit=logit, id=id, weight=weight
    )
    spec = BatchSpec(
        choice,
        (),
        positive=positive,
        threshold=threshold,
        top=top,
        max_distinct=max_distinct,
        bin_bits=bin_bits,
    )
    bar = progress_bar(console) if console is not None else None

    def meter(description: str) -> _Meter:
        return _Meter(bar, description, src.total_bytes)

    def tables(reading: _Meter) -> Iterator[Pooled]:
        return _batches(dataset, src, spec.columns, batch_rows, reading)

    with bar if bar is not None else nullcontext():
        first = meter("evaluating")
        try:
            if classes is None:
                running = _one_pass(spec, tables(first))
            else:
                given = resolve_classes(choice, np.asarray(list(classes), dtype=object), classes)
                running = _merged(replace(spec, classes=given), tables(first))
        except _TwoPasses:
            first.discard()
            labels = _distinct_labels(
                dataset, src, choice.label, batch_rows, meter("reading labels")
            )
            spec = replace(spec, classes=resolve_classes(choice, labels))
            running = _merged(spec, tables(meter("evaluating")))
    if running is None:
        msg = f"{src.text!r} has a header but no rows: there are no samples to evaluate"
        raise InputError(msg)
    return running


def choose_engine(path: str | Path, engine: Engine | str) -> str:
    """The engine ``auto`` picks: stream directories, globs and files of many values.

    A file is streamed when its estimated cells (rows x columns, a text or other
    non-numeric cell counting :data:`TEXT_CELL` times) exceed :data:`STREAM_CELLS`: the
    row count and the column types decide, not the file size (a compressed Parquet file
    of 6e7 rows takes 58 MB on disk and gigabytes in memory).

    Examples
    --------
    >>> choose_engine("preds/*.parquet", "auto"), choose_engine("small.csv", "auto")
    ('stream', 'memory')
    """
    chosen = Engine(engine).value
    if chosen != "auto":
        return chosen
    text = str(path)
    p = Path(text)
    if p.is_dir() or _is_glob(text):
        return "stream"
    kind = _known_format(p)
    if not p.is_file() or kind not in STREAMABLE or not arrow_enabled():
        return "memory"
    return "stream" if _estimated_cells(p, kind) > STREAM_CELLS else "memory"


def _estimated_cells(path: Path, kind: str) -> float:
    """Rows x column weight of a file: Parquet from its metadata, text from its first MiB.

    An unreadable file gives 0 (the memory engine's reader then names the problem).
    """
    try:
        if kind == "parquet":
            parquet = pq.ParquetFile(path)
            rows, schema = float(parquet.metadata.num_rows), parquet.schema_arrow
        else:
            with path.open("rb") as handle:
                head = handle.read(2**20)
            complete = head[: head.rfind(b"\n") + 1] or head  # whole lines only
            table = _HEAD_READERS[kind](complete)
            rows = table.num_rows * path.stat().st_size / max(len(complete), 1)
            schema = table.schema
    except (pa.ArrowException, OSError, ValueError):
        return 0.0
    numeric = (pa.types.is_integer, pa.types.is_floating, pa.types.is_boolean)
    weight = sum(1 if any(t(f.type) for t in numeric) else TEXT_CELL for f in schema)
    return rows * weight


_HEAD_READERS = {
    "csv": lambda data: pa_csv.read_csv(arrow_buffer(data)),
    "tsv": lambda data: pa_csv.read_csv(
        arrow_buffer(data), parse_options=pa_csv.ParseOptions(delimiter="\t")
    ),
    "jsonl": lambda data: pa_json.read_json(arrow_buffer(data)),
}

"""Readers for the training logs people have: format detected, rows kept as logged.

Each reader turns one source into :class:`RawLog` objects, one per run: a table of rows
as the logger wrote them (numbers, NaN where a cell was empty, a mask of what was
logged), how its rows merge into points (``"row"``, ``"epoch"`` or ``"step"``), and the
problems met on the way. :func:`read_logs` detects the format (or takes ``format=``)
and walks directories of runs.

Formats
-------
``keras``
    ``keras.callbacks.CSVLogger`` files (one row per epoch, counted from 0). Runs appended
    to one file (``append=True``) are split where the epoch number restarts.
``keras-history``
    ``json.dump(history.history)`` (one list per metric) or a pandas ``to_json`` of it.
``lightning``
    PyTorch Lightning ``CSVLogger`` ``metrics.csv``: training and validation rows
    interleaved with empty cells, merged by epoch.
``huggingface``
    ``trainer_state.json`` (its ``log_history``), merged at each evaluation step.
``tensorboard``
    Event files or run directories, read with TensorBoard's ``EventAccumulator``;
    metrics are merged at each validation step.
``keras-console``
    What ``model.fit`` printed (``Epoch 1/20`` then ``... - loss: 0.61 - val_loss: 0.47``),
    pasted or redirected to a file, with or without its progress bars.
``wandb``
    Weights & Biases: ``run.history()`` (or ``scan_history()``) saved as CSV, whose
    training and evaluation rows sit on different ``_step`` values and merge at each
    evaluation; or a chart's "Export CSV" (``Step``, ``RUN - METRIC``, ``__MIN``/``__MAX``
    bands), one run per ``RUN``.
``csv`` / ``json``
    Any other table of numbers, one row per epoch (JSON: a list of objects or JSON Lines).
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lossgap.errors import InputError
from lossgap.io.columns import arrow_column, arrow_enabled, arrow_errors
from lossgap.io.names import SPLITS, normalise_name, split_words
from lossgap.io.text import TextTableError, split_rows, typed_column

if TYPE_CHECKING:
    import pyarrow as pa

#: The formats ``--format`` accepts.
FORMATS = (
    "keras",
    "keras-history",
    "keras-console",
    "lightning",
    "wandb",
    "huggingface",
    "tensorboard",
    "csv",
    "json",
)

#: Suffixes of the text files a directory walk considers.
LOG_SUFFIXES = frozenset({".csv", ".tsv", ".log", ".txt", ".json", ".jsonl"})

#: Column names that number epochs and steps, in order of preference.
EPOCH_COLUMNS = ("epoch", "epochs", "ep")
STEP_COLUMNS = ("step", "global_step", "iteration", "iter", "steps")

_FORMAT_HINT = (
    "pass a Keras CSVLogger file or History JSON, a Lightning metrics.csv, a Hugging Face "
    "trainer_state.json, or a TensorBoard event file or run directory"
)


@dataclass
class LogTable:
    """Rows of one run as logged.

    Attributes
    ----------
    columns : dict of str to ndarray of float64
        Every numeric column under its original name; NaN where nothing was logged.
    logged : dict of str to ndarray of bool
        True where the row holds a value (which may itself be NaN or infinite).
    epoch, step : str or None
        The columns that number epochs and steps.
    merge : str
        How rows become points: ``"row"`` (one row per point), ``"epoch"`` (rows of the
        same epoch merge) or ``"step"`` (rows up to each validation step merge).
    """

    columns: dict[str, np.ndarray]
    logged: dict[str, np.ndarray]
    epoch: str | None = None
    step: str | None = None
    merge: str = "row"

    @property
    def n_rows(self) -> int:
        return len(next(iter(self.columns.values()))) if self.columns else 0

    def take(self, rows: np.ndarray) -> LogTable:
        """The rows ``rows`` (indices or a mask) as a new table."""
        return LogTable(
            {k: v[rows] for k, v in self.columns.items()},
            {k: v[rows] for k, v in self.logged.items()},
            self.epoch,
            self.step,
            self.merge,
        )


@dataclass
class RawLog:
    """One run read from a source, before its rows are merged into points.

    Attributes
    ----------
    name : str
        The run's name: the file (or its path inside the directory given), with
        ``[run i/n]`` when runs were appended to one file.
    source : str
        The file or directory read.
    format : str
        One of :data:`FORMATS`.
    table : LogTable
    notes : list of str
        Facts about the reading that the user should know (dropped columns...).
    events : list of dict
        Problems met while reading, each ``{"code": ..., **evidence}``; the analysis
        turns them into findings.
    meta : dict
        What the source says about itself (Hugging Face ``best_metric``...).
    """

    name: str
    source: str
    format: str
    table: LogTable
    notes: list[str] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class LogSet:
    """Every run read from a path, and the files of a directory that were not logs."""

    logs: list[RawLog]
    skipped: list[dict[str, str]] = field(default_factory=list)


# --------------------------------------------------------------------------- tables


#: A cell that is not a number (``"n/a"``, ``"-"``) in a column of numbers, as
#: ``(column, row, cell, count)``: the column is kept and such cells read as not logged.
Mixed = tuple[str, int, Any, int]


def _numbers(cells: list[Any]) -> tuple[np.ndarray, np.ndarray, list[tuple[int, Any]]] | None:
    """Cells as floats (NaN where absent or not a number), their logged mask and the cells
    that are not numbers; None when most present cells are not numbers (a text column)."""
    values = np.full(len(cells), np.nan)
    present = np.zeros(len(cells), dtype=bool)
    bad: list[tuple[int, Any]] = []
    for row, cell in enumerate(cells):
        if cell is None:
            continue
        try:
            values[row] = float(cell)
            present[row] = True
        except (TypeError, ValueError, OverflowError):
            bad.append((row, cell))
    return None if len(bad) >= max(int(present.sum()), 1) else (values, present, bad)


def _column_arrays(values: dict[str, list[Any]]) -> tuple[dict, dict, list[str], list[Mixed]]:
    """Lists of cells (None where absent) to float columns, logged masks, dropped names and
    the columns of numbers with some cells that are not numbers."""
    columns, logged, dropped, mixed = {}, {}, [], []
    for name, cells in values.items():
        read = _numbers(cells)
        if read is None:
            dropped.append(name)
            continue
        columns[name], logged[name], bad = read
        if bad:
            mixed.append((name, bad[0][0], bad[0][1], len(bad)))
    return columns, logged, dropped, mixed


def _arrow_columns(table: pa.Table) -> tuple[dict, dict, list[str], list[Mixed]]:
    import pyarrow as pa

    columns, logged, dropped, mixed = {}, {}, [], []
    for name in table.column_names:
        column = table.column(name)
        kind = column.type
        if pa.types.is_null(kind):
            array, present = np.full(table.num_rows, np.nan), np.zeros(table.num_rows, bool)
        elif pa.types.is_integer(kind) or pa.types.is_floating(kind):
            # from the value buffers: pyarrow's cast and to_numpy import pyarrow.compute and
            # pandas, 0.15-0.2 s of a command that reads a log of a few kilobytes
            values, nulls = arrow_column(column)
            array = values.astype(np.float64)
            present = np.ones(len(array), bool)
            if nulls is not None:
                array[nulls], present = np.nan, ~nulls
        elif pa.types.is_boolean(kind):
            array = column.cast(pa.float64()).to_numpy(zero_copy_only=False)
            present = ~column.is_null().to_numpy(zero_copy_only=False)
        else:  # text: a column of numbers with one "n/a" is still a column of numbers
            text_columns, text_logged, text_dropped, text_mixed = _column_arrays(
                {name: column.to_pylist()}
            )
            dropped += text_dropped
            mixed += text_mixed
            columns.update(text_columns)
            logged.update(text_logged)
            continue
        columns[name] = np.asarray(array, dtype=np.float64)
        logged[name] = present
    return columns, logged, dropped, mixed


def _frame_columns(data: Any) -> tuple[list[str], dict, dict, list[str], list[Mixed]]:
    """A DataFrame's (pandas, polars) or a pyarrow Table's columns as :func:`_arrow_columns`
    gives them; without pyarrow, a DataFrame's cells as :func:`_column_arrays` reads them
    (pandas' NaN is a missing cell, as pyarrow converts it)."""
    refused = (
        f"cannot read a {type(data).__name__} as a training log: pass a path, a Keras "
        "History or its .history dict, a DataFrame of the logged rows, or the rows as dicts"
    )
    if not arrow_enabled() and not type(data).__module__.startswith("pyarrow"):
        if not (hasattr(data, "columns") and hasattr(data, "__getitem__")):
            raise InputError(refused)
        pandas = type(data).__module__.startswith("pandas")
        values = {}
        for name in data.columns:
            column = data[name]
            cells = column.tolist() if hasattr(column, "tolist") else column.to_list()
            values[str(name)] = [
                None if cell is None or (pandas and cell != cell) else cell for cell in cells
            ]
        return (list(values), *_column_arrays(values))
    import pyarrow as pa

    try:
        arrow = data if isinstance(data, pa.Table) else pa.table(data)
    except (TypeError, ValueError, pa.ArrowException) as exc:
        raise InputError(refused) from exc
    return (arrow.column_names, *_arrow_columns(arrow))


def _log_columns(
    text: str, delimiter: str
) -> tuple[list[str], int, dict, dict, list[str], list[Mixed], list[Any]]:
    """A log's columns (names, row count, float columns, logged masks, dropped and mixed
    columns) and the rows skipped for their cell count: pyarrow's CSV reader, or the core one typing
    the cells the same way. Only empty cells are missing: "nan" is a NaN the trainer
    logged."""
    bad: list[Any] = []
    if not arrow_enabled():
        header, cells, bad = split_rows(text.encode(), delimiter, skip_bad=True)
        columns, logged, dropped, mixed = {}, {}, [], []
        for name, column in zip(header, cells, strict=True):
            values, mask = typed_column(column, frozenset(("",)))
            if values.dtype.kind in "biuf" or (mask is not None and mask.all()):
                present = np.ones(len(values), bool) if mask is None else ~mask
                columns[name] = np.where(present, values, np.nan).astype(np.float64)
                logged[name] = present
                continue
            read = _column_arrays({name: [c if c != "" else None for c in column]})
            columns.update(read[0])
            logged.update(read[1])
            dropped += read[2]
            mixed += read[3]
        return header, len(cells[0]), columns, logged, dropped, mixed, bad
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    def skip(row: Any) -> str:
        bad.append(row)
        return "skip"

    table = pa_csv.read_csv(
        pa.BufferReader(text.encode()),
        read_options=pa_csv.ReadOptions(use_threads=False),
        parse_options=pa_csv.ParseOptions(delimiter=delimiter, invalid_row_handler=skip),
        convert_options=pa_csv.ConvertOptions(null_values=[""], strings_can_be_null=True),
    )
    return (table.column_names, table.num_rows, *_arrow_columns(table), bad)


def _mixed_notes(mixed: list[Mixed], what: str, first_line: int = 0) -> list[str]:
    """Notes on the cells read as not logged; ``first_line`` turns rows into file lines."""
    where = "line" if first_line else "entry"
    return [
        f"{what} {name!r} holds {cell!r} at {where} {row + first_line}, not a number"
        f"{f' ({count} cells in all)' if count > 1 else ''}: read as not logged"
        for name, row, cell, count in mixed
    ]


def _first_present(names: list[str], candidates: tuple[str, ...]) -> str | None:
    lower = {n.lower(): n for n in names}
    return next((lower[c] for c in candidates if c in lower), None)


# --------------------------------------------------------------------------- text logs


def _read_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        msg = f"cannot read {str(path)!r} ({exc.strerror}): check the path and its permissions"
        raise InputError(msg) from exc
    if b"\x00" in raw[:4096]:
        msg = f"{str(path)!r} is a binary file, not a training log: {_FORMAT_HINT}"
        raise InputError(msg)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        msg = f"{str(path)!r} is not UTF-8 text (byte {exc.start}): {_FORMAT_HINT}"
        raise InputError(msg) from exc


def _delimiter(header: str) -> str:
    counts = {d: header.count(d) for d in (",", "\t", ";")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _read_delimited(path: Path, text: str) -> tuple[LogTable, list[str], list[dict]]:
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        msg = f"{str(path)!r} is empty: it holds no header and no rows"
        raise InputError(msg)
    cut = 0
    comma = _delimiter(lines[0])
    if (
        len(lines) > 2
        and not text.endswith(("\n", "\r"))
        and lines[-1].count(comma) == lines[0].count(comma)
        and not lines[-1].rstrip().endswith('"')
    ):
        # Loggers end every row with a line end: a row without one is still being written
        # (or was cut off), and its last number may be a prefix of the real one. (A row
        # cut short of its fields is a damaged_log finding below.) A last field closed by
        # its quote is whole: W&B's "Export CSV" quotes every field and ends without one.
        cut = len(lines)
        lines = lines[:-1]
        text = "\n".join(lines) + "\n"
    repeated = [i for i, line in enumerate(lines[1:], 2) if line == lines[0]]
    if repeated:
        # Logs concatenated with their headers: the runs split where the epoch restarts.
        lines = [lines[0]] + [line for line in lines[1:] if line != lines[0]]
        text = "\n".join(lines) + "\n"
    delimiter = _delimiter(lines[0])
    unreadable: tuple[type[Exception], ...] = (TextTableError, *arrow_errors())
    try:
        names, rows, columns, logged, dropped, mixed, bad = _log_columns(text, delimiter)
    except unreadable as exc:
        msg = f"{str(path)!r} is not a readable table ({str(exc).splitlines()[0]}): {_FORMAT_HINT}"
        raise InputError(msg) from exc
    if rows == 0:
        msg = (
            f"{str(path)!r} has a header ({', '.join(names)}) but no rows: "
            "the run logged no epoch"
        )
        raise InputError(msg)
    events = []
    if bad:
        last_line = len(lines)
        events.append(
            {
                "code": "damaged_log",
                "path": str(path),
                "lines": [row.number for row in bad],
                "expected_fields": bad[0].expected_columns,
                "found_fields": [row.actual_columns for row in bad],
                "last_line": any(row.number == last_line for row in bad),
            }
        )
    notes = [f"column {name!r} holds text, not numbers: ignored" for name in dropped]
    # rows count from the line after the header
    notes += _mixed_notes(mixed, "column", first_line=2)
    if cut:
        notes.append(
            f"the last line ({cut}) has no line end: the log is still being written or was "
            "cut off; that line was left out"
        )
    if repeated:
        notes.append(f"the header repeats at line(s) {', '.join(map(str, repeated))}: skipped")
    return LogTable(columns, logged), notes, events


def _csv_format(names: list[str]) -> str:
    lower = [n.lower() for n in names]
    if "_step" in lower or _is_wandb_export(names):
        return "wandb"
    if "epoch" in lower and "step" in lower:
        return "lightning"
    if "epoch" in lower or lower[0] in ("", "unnamed: 0"):
        return "keras"
    return "csv"


def _shape_csv(table: LogTable, fmt: str, path: Path) -> LogTable:
    names = list(table.columns)
    if fmt == "lightning":
        epoch, step = _first_present(names, ("epoch",)), _first_present(names, ("step",))
        if epoch is None:
            msg = f"{str(path)!r} has no 'epoch' column, which Lightning's metrics.csv always has"
            raise InputError(msg)
        table.epoch, table.step, table.merge = epoch, step, "epoch"
        _fill_epochs_from_steps(table, epoch, step)
        return table
    if fmt == "wandb":
        return _shape_wandb_history(table)
    table.merge = "row"
    table.epoch = _first_present(names, EPOCH_COLUMNS)
    if table.epoch is None and names and names[0].lower() in ("", "unnamed: 0"):
        table.epoch = names[0]  # pandas wrote history.history with its row index
    table.step = _first_present(names, STEP_COLUMNS)
    return table


#: Columns W&B adds to every history row that measure nothing about the model.
_WANDB_BOOKKEEPING = ("_runtime", "_timestamp", "", "Unnamed: 0")
#: Epoch counters the W&B integrations log (Lightning, Hugging Face, Keras).
_WANDB_EPOCHS = ("epoch", "train/epoch", "epoch/epoch", "trainer/epoch")
#: The run's own step counters the integrations log beside W&B's ``_step``.
_WANDB_STEPS = ("trainer/global_step", "train/global_step", "global_step", "batch/batch_step")


def _shape_wandb_history(table: LogTable) -> LogTable:
    """``run.history()`` rows: each ``log`` call is a row on its own ``_step``.

    Training and evaluation are logged in separate calls, so no row holds both; the
    rows merge at each evaluation step (training metrics: their mean since the previous
    evaluation), as TensorBoard's do.
    """
    for name in [*_WANDB_BOOKKEEPING, *_WANDB_STEPS]:
        table.columns.pop(name, None)
        table.logged.pop(name, None)
    names = list(table.columns)
    table.step = "_step"
    table.epoch = next((n for n in names if n.lower() in _WANDB_EPOCHS), None)
    table.merge = "step"
    return table


_WANDB_BAND = re.compile(r"__(MIN|MAX)$")


def _is_wandb_export(names: list[str]) -> bool:
    """A W&B chart export: an x-axis column, then ``RUN - METRIC`` columns."""
    runs = [n for n in names if " - " in n]
    return bool(runs) and len(runs) >= len([n for n in names if n]) - 1 and " - " not in names[0]


def _wandb_export_logs(table: LogTable, label: str, source: str, notes: list[str]) -> list[RawLog]:
    """One RawLog per run of a W&B chart export, its columns renamed to the metrics."""
    axis = next(iter(table.columns))
    per_run: dict[str, dict[str, str]] = {}
    for column in list(table.columns)[1:]:
        if " - " not in column or _WANDB_BAND.search(column):
            continue  # the min/max band W&B draws when it samples or groups points
        run, metric = column.rsplit(" - ", 1)
        per_run.setdefault(run, {})[metric] = column
    logs = []
    for run, metrics in per_run.items():
        step = metrics.pop("_step", None)  # an x-axis other than Step: each run's own steps
        rows = np.zeros(table.n_rows, dtype=bool)
        for column in metrics.values():
            rows |= table.logged[column]
        columns = {m: table.columns[c][rows] for m, c in metrics.items()}
        logged = {m: table.logged[c][rows] for m, c in metrics.items()}
        columns["step"] = table.columns[step or axis][rows]
        logged["step"] = table.logged[step or axis][rows]
        epoch = "step" if axis.lower() in EPOCH_COLUMNS and step is None else None
        run_table = LogTable(columns, logged, epoch=epoch, step="step", merge="step")
        name = label if len(per_run) == 1 else f"{label} [{run}]"
        run_notes = [*notes, f"W&B chart export: run {run!r}, x-axis {axis!r}"]
        logs.append(RawLog(name, source, "wandb", run_table, run_notes))
    return logs


def _fill_epochs_from_steps(table: LogTable, epoch_key: str, step_key: str | None) -> None:
    """Rows without an epoch (Lightning's LearningRateMonitor) take that of their step."""
    epoch = table.columns[epoch_key]
    missing = ~table.logged[epoch_key]
    if not missing.any() or step_key is None:
        return
    step = table.columns[step_key]
    known = np.flatnonzero(~missing & np.isfinite(step))
    if known.size == 0:
        return
    order = known[np.argsort(step[known], kind="stable")]
    at = np.searchsorted(step[order], step[missing], side="right") - 1
    filled = np.where(at >= 0, epoch[order[np.clip(at, 0, None)]], np.nan)
    epoch[missing] = filled
    table.logged[epoch_key][missing] = np.isfinite(filled)


# --------------------------------------------------------------------------- JSON logs


def _parse_json(path: Path, text: str) -> Any:
    try:
        return json.loads(text)
    except RecursionError:
        msg = (
            f"{str(path)!r} nests its JSON too deeply to be a training log (over "
            f"{sys.getrecursionlimit()} levels): {_FORMAT_HINT}"
        )
        raise InputError(msg) from None
    except json.JSONDecodeError as exc:
        if exc.msg == "Extra data":  # JSON Lines: one object per line
            return _parse_json_lines(path, text)
        cut = not text.rstrip().endswith(("}", "]"))
        hint = "the file looks cut off before its end" if cut else "fix or re-export the file"
        msg = (
            f"{str(path)!r} is not valid JSON (line {exc.lineno}, column {exc.colno}: "
            f"{exc.msg}): {hint}"
        )
        raise InputError(msg) from exc


def _parse_json_lines(path: Path, text: str) -> list[Any]:
    records = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except RecursionError:
            msg = f"line {number} of {str(path)!r} nests its JSON too deeply to be a log entry"
            raise InputError(msg) from None
        except json.JSONDecodeError as exc:
            msg = (
                f"line {number} of {str(path)!r} is not a JSON object ({exc.msg}): a JSON Lines "
                "log needs one complete object per line (is the last line cut off?)"
            )
            raise InputError(msg) from exc
    return records


def _json_format(data: Any) -> str:
    if isinstance(data, dict) and isinstance(data.get("log_history"), list):
        return "huggingface"
    if isinstance(data, dict):
        return "keras-history"
    if isinstance(data, list) and any(
        isinstance(r, dict) and any(str(k).startswith("eval_") for k in r) and "step" in r
        for r in data
    ):
        return "huggingface"  # a bare log_history list
    return "json"


def _records_table(records: list[Any], path: Path, what: str) -> tuple[LogTable, list[str]]:
    if not records:
        msg = f"{str(path)!r} holds an empty {what}: the run logged nothing"
        raise InputError(msg)
    for i, record in enumerate(records):
        if not isinstance(record, dict):
            msg = (
                f"entry {i} of the {what} in {str(path)!r} is a {type(record).__name__}, "
                "not an object of metric values"
            )
            raise InputError(msg)
    keys: dict[str, None] = {}
    for record in records:
        keys.update(dict.fromkeys(map(str, record)))
    cells = {k: [r.get(k) for r in records] for k in keys}
    columns, logged, dropped, mixed = _column_arrays(cells)
    notes = [f"key {name!r} does not hold numbers: ignored" for name in dropped]
    notes += _mixed_notes(mixed, "key")
    return LogTable(columns, logged), notes


def _huggingface_table(data: Any, path: Path) -> tuple[LogTable, list[str], dict]:
    history = data["log_history"] if isinstance(data, dict) else data
    if not isinstance(history, list):
        msg = f"{str(path)!r} has no 'log_history' list: is it a Hugging Face trainer_state.json?"
        raise InputError(msg)
    # The closing summary (train_runtime, mean train_loss over the run) is no point.
    entries = [e for e in history if not (isinstance(e, dict) and "train_runtime" in e)]
    kept: list[Any] = []
    duplicates = 0
    for entry in entries:
        if kept and entry == kept[-1]:
            duplicates += 1  # evaluation logged twice (load_best_model_at_end)
            continue
        kept.append(entry)
    table, notes = _records_table(kept, path, "log_history")
    if duplicates:
        notes.append(f"{duplicates} log_history entr(y/ies) repeated the one before: dropped")
    table.epoch = _first_present(list(table.columns), ("epoch",))
    table.step = _first_present(list(table.columns), ("step",))
    if table.step is None:
        msg = f"the log_history in {str(path)!r} has no 'step': is it a Hugging Face trainer state?"
        raise InputError(msg)
    table.merge = "step"
    meta = {}
    if isinstance(data, dict):
        meta = {
            k: data[k]
            for k in ("best_metric", "best_model_checkpoint", "num_train_epochs", "global_step")
            if k in data
        }
    return table, notes, meta


def _keras_history_table(data: dict, path: Path) -> tuple[LogTable, list[str]]:
    if isinstance(data.get("history"), dict):
        data = data["history"]  # {"history": history.history, "params": ...}
    series: dict[str, list[Any]] = {}
    for name, values in data.items():
        if isinstance(values, dict):  # pandas DataFrame.to_json(): {"0": v0, "1": v1}
            values = [values[k] for k in sorted(values, key=_index_key)]
        if not isinstance(values, list):
            continue
        series[str(name)] = values
    if not series:
        msg = (
            f"{str(path)!r} holds no metric lists: a Keras History dump maps each metric to "
            "its per-epoch values, e.g. {\"loss\": [...], \"val_loss\": [...]}"
        )
        raise InputError(msg)
    longest = max(len(v) for v in series.values())
    notes = []
    for name, values in list(series.items()):
        if len(values) == longest:
            continue
        if len(values) and longest % len(values) == 0:
            # validation_freq=k: validation ran after epochs k, 2k, ... (counted from 1)
            every = longest // len(values)
            cells: list[Any] = [None] * longest
            for i, value in enumerate(values):
                cells[(i + 1) * every - 1] = value
            series[name] = cells
            notes.append(f"{name!r} has a value every {every} epochs (validation_freq={every})")
        else:
            msg = (
                f"{name!r} in {str(path)!r} has {len(values)} values but the longest metric has "
                f"{longest}: the lists must line up epoch by epoch"
            )
            raise InputError(msg)
    columns, logged, dropped, mixed = _column_arrays(series)
    notes += [f"{name!r} does not hold numbers: ignored" for name in dropped]
    notes += _mixed_notes(mixed, "metric")
    columns["epoch"] = np.arange(longest, dtype=np.float64)
    logged["epoch"] = np.ones(longest, dtype=bool)
    notes.append("epochs numbered from 0, as Keras does")
    return LogTable(columns, logged, epoch="epoch", merge="row"), notes


def _index_key(key: str) -> tuple[int, Any]:
    return (0, int(key)) if str(key).lstrip("-").isdigit() else (1, key)


# --------------------------------------------------------------------------- console

#: ``Epoch 3/20`` at the start of a line: what Keras prints before each epoch.
_EPOCH_HEADER = re.compile(r"^Epoch (\d+)/(\d+)\s*$", re.MULTILINE)
#: ``- val_loss: 0.4767`` in a progress line (``ETA: 3s`` and ``50ms/step`` do not match).
_CONSOLE_METRIC = re.compile(
    r"(?<=- )([A-Za-z_][\w./-]*): ([-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|nan|inf))(?=\s|$)"
)
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _is_keras_console(text: str) -> bool:
    return _EPOCH_HEADER.search(text) is not None


def _keras_console_table(text: str, path: Path) -> tuple[LogTable, list[str]]:
    """Each epoch's metrics from the last progress line Keras printed for it.

    Progress bars redraw their line with ``\\r`` (and ``\\b``): the last line of an
    epoch holds the epoch's training means and its validation metrics.
    """
    text = _ANSI.sub("", text).replace("\b", "")
    headers = list(_EPOCH_HEADER.finditer(text))
    rows: list[dict[str, float]] = []
    epochs: list[int] = []
    for i, header in enumerate(headers):
        end = headers[i + 1].start() if i + 1 < len(headers) else len(text)
        lines = re.split(r"[\r\n]+", text[header.end() : end])
        found = [dict(_CONSOLE_METRIC.findall(line)) for line in lines]
        found = [m for m in found if m]
        if not found:
            continue  # interrupted before its first batch
        rows.append({k: float(v) for k, v in found[-1].items()})
        epochs.append(int(header.group(1)) - 1)  # printed from 1; CSVLogger counts from 0
    if not rows:
        msg = (
            f"{str(path)!r} prints 'Epoch N/M' headers but no 'name: value' metrics after "
            "them: paste the whole output of model.fit (verbose=1 or 2)"
        )
        raise InputError(msg)
    names = list(dict.fromkeys(k for row in rows for k in row))
    series: dict[str, list[Any]] = {name: [row.get(name) for row in rows] for name in names}
    series["epoch"] = [float(e) for e in epochs]
    columns, logged, _, _ = _column_arrays(series)  # every cell was parsed as a number
    notes = ["epochs numbered from 0, as CSVLogger numbers them (Keras prints 'Epoch 1/N')"]
    return LogTable(columns, logged, epoch="epoch", merge="row"), notes


# --------------------------------------------------------------------------- TensorBoard


def _is_event_file(path: Path) -> bool:
    return "tfevents" in path.name and path.is_file()


def _run_root(event_dir: Path, top: Path) -> Path:
    """A directory named after a split (Keras's train/ and validation/) belongs to its parent."""
    if event_dir != top and any(t in SPLITS for t in split_words(event_dir.name)):
        return event_dir.parent
    return event_dir


def _scalar_events(file: Path) -> list[tuple[str, int, float]]:
    """(tag, step, value) of every scalar summary in one event file."""
    try:
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    except ImportError as exc:
        msg = (
            f"reading the TensorBoard file {str(file)!r} needs the tensorboard package: "
            "pip install 'lossgap[tensorboard]'"
        )
        raise InputError(msg) from exc

    # TensorFlow 2 (tf.summary, Keras's TensorBoard callback) writes scalars as tensor
    # summaries; torch's SummaryWriter and TF1 write them as scalar summaries.
    accumulator = EventAccumulator(str(file), size_guidance={"scalars": 0, "tensors": 0})
    try:
        accumulator.Reload()
    except Exception as exc:  # tensorboard and protobuf raise their own errors
        msg = f"TensorBoard cannot read {str(file)!r} ({exc}): is it an event file?"
        raise InputError(msg) from exc
    tags = accumulator.Tags()
    events = [
        (tag, event.step, event.value)
        for tag in tags.get("scalars", [])
        for event in accumulator.Scalars(tag)
    ]
    return events + _scalar_tensor_events(accumulator, tags.get("tensors", []))


def _scalar_tensor_events(accumulator: Any, tags: list[str]) -> list[tuple[str, int, float]]:
    """(tag, step, value) of the tensor summaries that hold one number (TF2's scalars)."""
    from tensorboard.util.tensor_util import make_ndarray

    events = []
    for tag in tags:
        plugin = accumulator.SummaryMetadata(tag).plugin_data.plugin_name
        if plugin not in ("scalars", ""):  # images, histograms, text, hparams...
            continue
        for event in accumulator.Tensors(tag):
            value = make_ndarray(event.tensor_proto)
            if value.size == 1 and value.dtype.kind in "fiub":
                events.append((tag, event.step, float(value.reshape(()))))
    return events


def _tensorboard_table(events: list[tuple[str, int, float]], source: Path) -> LogTable:
    if not events:
        msg = (
            f"{str(source)!r} holds no scalar summaries: log metrics with "
            "SummaryWriter.add_scalar (or a TensorBoard logger)"
        )
        raise InputError(msg)
    tags = np.asarray([e[0] for e in events], dtype=object)
    steps = np.asarray([e[1] for e in events], dtype=np.float64)
    values = np.asarray([e[2] for e in events], dtype=np.float64)
    order = np.argsort(steps, kind="stable")
    tags, steps, values = tags[order], steps[order], values[order]
    columns = {"step": steps}
    logged = {"step": np.ones(steps.size, dtype=bool)}
    for name in dict.fromkeys(tags.tolist()):
        mask = tags == name
        columns[name] = np.where(mask, values, np.nan)
        logged[name] = mask
    epoch = "epoch" if "epoch" in columns else None
    if epoch is None and all(_keras_epoch_tag(tag) for tag in columns if tag != "step"):
        epoch = "step"  # Keras's TensorBoard callback writes epoch_* tags at step = epoch
    return LogTable(columns, logged, epoch=epoch, step="step", merge="step")


def _keras_epoch_tag(tag: str) -> bool:
    return tag.rsplit("/", 1)[-1].startswith("epoch_")


def _iteration_tags(events: list[tuple[str, int, float]]) -> tuple[list, list[str]]:
    """Keras's ``evaluation_*_vs_iterations`` tags count training iterations, not epochs:
    on the step axis of the epoch tags they would land on the wrong points."""
    dropped = sorted({tag for tag, _, _ in events if tag.endswith("_vs_iterations")})
    kept = [e for e in events if not e[0].endswith("_vs_iterations")]
    return kept, dropped


def _tensorboard_runs(root: Path, files: list[Path]) -> list[tuple[Path, LogTable, list[str]]]:
    """One table per run under ``root``.

    Event files directly in ``root`` continue one another when each starts after the
    previous one ends (a resumed run); a file whose steps overlap starts another run.
    Files in split subdirectories (Keras's ``train/`` and ``validation/``) join the
    first run, their tags prefixed by the subdirectory.
    """
    chains: list[tuple[Path, list[tuple[str, int, float]]]] = []
    split_events: list[tuple[str, int, float]] = []
    last_step = None
    for file in sorted(files):
        events = _scalar_events(file)
        if file.parent != root and root.is_dir():
            prefix = file.parent.relative_to(root).as_posix()
            split_events += [(f"{prefix}/{tag}", step, value) for tag, step, value in events]
            continue
        steps = [step for _, step, _ in events]
        if chains and steps and last_step is not None and min(steps) > last_step:
            chains[-1][1].extend(events)
        else:
            chains.append((file, events))
        if steps:
            last_step = max(steps)
    if not chains:
        chains.append((root, []))
    chains[0][1].extend(split_events)
    runs = []
    for source, events in chains:
        kept, dropped = _iteration_tags(events)
        notes = [f"{tag!r} counts training iterations, not epochs: ignored" for tag in dropped]
        runs.append((source, _tensorboard_table(kept, source), notes))
    return runs


def _tensorboard_logs(path: Path) -> list[tuple[Path, list[Path]]]:
    if path.is_file():
        return [(path, [path])]
    groups: dict[Path, list[Path]] = {}
    for file in sorted(p for p in path.rglob("*tfevents*") if p.is_file()):
        groups.setdefault(_run_root(file.parent, path), []).append(file)
    return list(groups.items())


def _tensorboard_raw(path: Path, label: str) -> tuple[list[RawLog], list[dict[str, str]]]:
    """Every TensorBoard run under ``path`` (a file, a run or a directory of runs)."""
    logs, skipped = [], []
    for root, files in _tensorboard_logs(path):
        try:
            runs = _tensorboard_runs(root, files)
        except InputError as exc:
            skipped.append({"path": str(root), "reason": str(exc)})
            continue
        for source, table, notes in runs:
            name = label if source == path else f"{label}/{source.relative_to(path).as_posix()}"
            logs.append(RawLog(name, str(source), "tensorboard", table, notes))
    return logs, skipped


# --------------------------------------------------------------------------- runs


def _restarts(table: LogTable) -> list[int]:
    """Row positions where a new run starts: the epoch (or step) goes back."""
    key = table.step if table.merge == "step" else table.epoch
    if key is None:
        return []
    values = table.columns[key]
    rows = np.flatnonzero(table.logged[key] & np.isfinite(values))
    if rows.size < 2:
        return []
    previous, current = values[rows[:-1]], values[rows[1:]]
    # One row per epoch (Keras): a repeated epoch also starts a new run.
    back = current <= previous if table.merge == "row" else current < previous
    return [int(r) for r in rows[1:][back]]


def _split_runs(raw: RawLog) -> list[RawLog]:
    starts = _restarts(raw.table)
    if not starts:
        return [raw]
    bounds = [0, *starts, raw.table.n_rows]
    count = len(bounds) - 1
    event = {
        "code": "appended_runs",
        "path": raw.source,
        "runs": count,
        "restart_rows": starts,
    }
    runs = []
    for i in range(count):
        rows = np.arange(bounds[i], bounds[i + 1])
        runs.append(
            RawLog(
                f"{raw.name} [run {i + 1}/{count}]",
                raw.source,
                raw.format,
                raw.table.take(rows),
                list(raw.notes) + [f"rows {bounds[i]}-{bounds[i + 1] - 1} of the file"],
                list(raw.events) + ([event] if i == 0 else []),
                dict(raw.meta),
            )
        )
    return runs


def _detect(path: Path, text: str | None) -> str:
    if _is_event_file(path):
        return "tensorboard"
    assert text is not None
    head = text.lstrip()
    if head.startswith(("{", "[")):
        return "json-family"
    if _is_keras_console(text):
        return "keras-console"
    first = text.splitlines()[0] if text.strip() else ""
    names = [c.strip().strip('"') for c in first.split(_delimiter(first))]
    return _csv_format(names)


def read_file(
    path: str | Path, *, format: str | None = None, name: str | None = None
) -> list[RawLog]:
    """Read one log file (or TensorBoard run directory) into one RawLog per run.

    Parameters
    ----------
    path : str or Path
        A log file, or a TensorBoard run directory.
    format : str, optional
        One of :data:`FORMATS`; detected from the name and content when None.
    name : str, optional
        The run's name; default the file name.

    Returns
    -------
    list of RawLog
        Several when runs were appended to one file.

    Raises
    ------
    lossgap.InputError
        A missing, empty, damaged or unrecognised file, naming the fix.
    """
    path = Path(path)
    if format is not None and format not in FORMATS:
        msg = f"unknown format {format!r}: choose one of {', '.join(FORMATS)}"
        raise InputError(msg)
    if not path.exists():
        msg = f"{str(path)!r} does not exist: check the path"
        raise InputError(msg)
    label = name or path.name
    if format == "tensorboard" or (format is None and (path.is_dir() or _is_event_file(path))):
        logs, skipped = _tensorboard_raw(path, label)
        if not logs:
            none = f"no TensorBoard event file (events.out.tfevents.*) in {str(path)!r}"
            raise InputError(skipped[0]["reason"] if skipped else none)
        return logs
    if path.is_dir():
        msg = f"{str(path)!r} is a directory: read it with read_logs"
        raise InputError(msg)
    text = _read_text(path)
    if not text.strip():
        msg = f"{str(path)!r} is empty: it holds no header and no rows"
        raise InputError(msg)
    detected = _detect(path, text)
    fmt = format or detected
    meta: dict[str, Any] = {}
    events: list[dict[str, Any]] = []
    if fmt == "keras-console":
        if detected != "keras-console":
            msg = f"{str(path)!r} holds no 'Epoch N/M' line, as Keras prints before each epoch"
            raise InputError(msg)
        table, notes = _keras_console_table(text, path)
    elif fmt in ("huggingface", "keras-history", "json") or detected == "json-family":
        if detected != "json-family":
            msg = f"{str(path)!r} is not JSON, as --format {fmt} expects: {_FORMAT_HINT}"
            raise InputError(msg)
        data = _parse_json(path, text)
        fmt = format or _json_format(data)
        if fmt == "huggingface":
            table, notes, meta = _huggingface_table(data, path)
        elif fmt == "keras-history":
            if not isinstance(data, dict):
                msg = f"{str(path)!r} holds a JSON list, not a Keras History dict of metric lists"
                raise InputError(msg)
            table, notes = _keras_history_table(data, path)
        elif fmt == "json":
            records = data if isinstance(data, list) else [data]
            table, notes = _records_table(records, path, "list of records")
            table = _shape_csv(table, "csv", path)
        else:
            msg = f"{str(path)!r} is JSON; --format {fmt} reads CSV files: {_FORMAT_HINT}"
            raise InputError(msg)
    else:
        table, notes, events = _read_delimited(path, text)
        if fmt == "wandb" and _is_wandb_export(list(table.columns)):
            return _wandb_export_logs(table, label, str(path), notes)
        table = _shape_csv(table, fmt, path)
    raw = RawLog(label, str(path), fmt, table, notes, events, meta)
    return _split_runs(raw)


def read_object(data: Any, *, name: str = "history") -> list[RawLog]:
    """Read a log held in memory: a Keras ``History`` (or its ``.history`` dict), or a table.

    Parameters
    ----------
    data : keras.callbacks.History, mapping, DataFrame or iterable of row dicts
        ``model.fit(...)``'s return value or its ``.history`` dict (one list per metric);
        or a pandas or polars DataFrame, or a pyarrow Table, of a log's rows (a Lightning
        ``metrics.csv`` read with pandas, W&B's ``run.history()``...); or the rows as
        dicts (W&B's ``run.scan_history()``).
    name : str, default="history"
        The run's name in the report.

    Returns
    -------
    list of RawLog

    Raises
    ------
    lossgap.InputError
        Anything else, or a mapping whose lists do not line up.

    Examples
    --------
    >>> logs = read_object({"loss": [0.9, 0.6], "val_loss": [0.8, 0.85]})
    >>> logs[0].format, logs[0].table.columns["val_loss"].tolist()
    ('keras-history', [0.8, 0.85])
    """
    source = Path(name)
    if isinstance(getattr(data, "history", None), dict):
        data = data.history  # keras.callbacks.History
    if isinstance(data, dict):
        table, notes = _keras_history_table(dict(data), source)
        return _split_runs(RawLog(name, name, "keras-history", table, notes))
    rows = _records(data)
    if rows is not None:  # W&B's scan_history(): an iterator of row dicts
        names = list(dict.fromkeys(k for row in rows for k in row))
        values = {k: [r.get(k) for r in rows] for k in names}
        columns, logged, dropped, mixed = _column_arrays(values)
    else:
        names, columns, logged, dropped, mixed = _frame_columns(data)
    if not columns or not len(next(iter(columns.values()))):
        msg = f"the {type(data).__name__} {name!r} has no rows: the run logged nothing"
        raise InputError(msg)
    notes = [f"column {c!r} holds text, not numbers: ignored" for c in dropped]
    notes += _mixed_notes(mixed, "column")
    table = LogTable(columns, logged)
    fmt = _csv_format(names)
    if fmt == "wandb" and _is_wandb_export(names):
        return _wandb_export_logs(table, name, name, notes)
    table = _shape_csv(table, fmt, source)
    return _split_runs(RawLog(name, name, fmt, table, notes))


#: How a path names an MLflow run: ``mlflow:RUN_ID``.
MLFLOW_PREFIX = "mlflow:"


def read_mlflow(run_id: str, *, tracking_uri: str | None = None) -> list[RawLog]:
    """Read every metric's history of an MLflow run.

    Parameters
    ----------
    run_id : str
        The run's id (``mlflow:`` in front is accepted).
    tracking_uri : str, optional
        Where the runs are (``file:./mlruns``, ``sqlite:///mlflow.db``, ``http://...``);
        default MLflow's own (``MLFLOW_TRACKING_URI``).

    Returns
    -------
    list of RawLog
        One, its rows merged at each step the validation loss was logged (Keras
        autologging logs epoch metrics at ``step=epoch``).

    Raises
    ------
    lossgap.InputError
        mlflow missing, an unknown run, or a run without metrics.
    """
    run_id = run_id.removeprefix(MLFLOW_PREFIX)
    try:
        from mlflow.exceptions import MlflowException
        from mlflow.tracking import MlflowClient
    except ImportError as exc:
        msg = f"reading the MLflow run {run_id!r} needs mlflow: pip install 'lossgap[mlflow]'"
        raise InputError(msg) from exc
    client = MlflowClient(tracking_uri)
    try:
        run = client.get_run(run_id)
        keys = sorted(run.data.metrics)
        events = [
            (key, m.step, m.value) for key in keys for m in client.get_metric_history(run_id, key)
        ]
    except MlflowException as exc:
        where = tracking_uri or client.tracking_uri
        msg = (
            f"MLflow has no run {run_id!r} at {where!r} ({exc.message.splitlines()[0]}): "
            "check the run id, or pass --tracking-uri"
        )
        raise InputError(msg) from exc
    label = run.info.run_name or run_id
    events, notes = _distinct_mlflow_metrics(events)
    if not events:
        msg = f"the MLflow run {label!r} ({run_id}) logged no metrics"
        raise InputError(msg)
    table = _tensorboard_table(events, Path(label))
    meta = {"run_id": run_id, "tracking_uri": client.tracking_uri}
    notes.append("MLflow metric histories merged at each step the validation loss was logged")
    return [RawLog(label, f"{MLFLOW_PREFIX}{run_id}", "mlflow", table, notes, meta=meta)]


def _distinct_mlflow_metrics(
    events: list[tuple[str, int, float]],
) -> tuple[list[tuple[str, int, float]], list[str]]:
    """Of metrics that mean the same (``val_loss`` and ``validation_loss``), the one logged
    at the most distinct steps: Keras autologging also logs ``validation_*`` with every
    value at step 0, which would otherwise compete for the validation loss."""
    steps: dict[str, set[int]] = {}
    for key, step, _ in events:
        steps.setdefault(key, set()).add(step)
    keep: dict[str, str] = {}
    for key in steps:
        canonical = normalise_name(key).canonical
        if canonical not in keep or len(steps[key]) > len(steps[keep[canonical]]):
            keep[canonical] = key
    kept = set(keep.values())
    notes = [
        f"{key!r} means the same as {keep[normalise_name(key).canonical]!r}, logged at more "
        "steps: ignored"
        for key in steps
        if key not in kept
    ]
    return [e for e in events if e[0] in kept], notes


def _records(data: Any) -> list[dict[str, Any]] | None:
    """The rows when ``data`` is an iterable of dicts, else None (a table, or not a log)."""
    tabular = hasattr(data, "__arrow_c_stream__") or hasattr(data, "columns")
    if tabular or isinstance(data, (str, bytes)):
        return None
    if isinstance(data, (list, tuple)) or hasattr(data, "__next__"):
        rows = list(data)
        if rows and all(isinstance(r, dict) for r in rows):
            return rows
    return None


def _candidates(directory: Path) -> list[Path]:
    files = [
        p
        for p in sorted(directory.rglob("*"))
        if p.is_file()
        and p.suffix.lower() in LOG_SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(directory).parts)
    ]
    # Hugging Face checkpoint-N/ directories each hold the whole history so far: keep the last.
    latest: dict[Path, tuple[int, Path]] = {}
    kept = []
    for file in files:
        match = re.fullmatch(r"checkpoint-(\d+)", file.parent.name)
        if file.name == "trainer_state.json" and match:
            number = int(match.group(1))
            best = latest.get(file.parent.parent)
            if best is None or number > best[0]:
                latest[file.parent.parent] = (number, file)
        else:
            kept.append(file)
    return sorted(kept + [f for _, f in latest.values()])


def read_logs(path: str | Path, *, format: str | None = None) -> LogSet:
    """Read a log file, or every run in a directory of runs.

    Parameters
    ----------
    path : str or Path
        A log file, a TensorBoard run directory, or a directory of runs (Lightning
        ``version_N/`` folders, Hugging Face output folders, Keras logs...).
    format : str, optional
        One of :data:`FORMATS`; detected per file when None.

    Returns
    -------
    LogSet
        The runs, and the files of a directory that held no readable log (with why).

    Raises
    ------
    lossgap.InputError
        When the path holds no readable log; the message names the path and the fix.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "log.csv").write_text("epoch,loss,val_loss\\n0,0.9,1.0\\n1,0.5,0.8\\n")
    >>> logs = read_logs(folder / "log.csv").logs
    >>> logs[0].format, logs[0].table.columns["val_loss"].tolist()
    ('keras', [1.0, 0.8])
    """
    path = Path(path)
    if not path.exists():
        msg = f"{str(path)!r} does not exist: check the path"
        raise InputError(msg)
    if path.is_file():
        return LogSet(read_file(path, format=format))
    logs: list[RawLog] = []
    skipped: list[dict[str, str]] = []
    if format in (None, "tensorboard"):
        found, missed = _tensorboard_raw(path, path.name)
        logs += found
        skipped += missed
    if format != "tensorboard":
        for file in _candidates(path):
            try:
                logs.extend(
                    read_file(file, format=format, name=file.relative_to(path).as_posix())
                )
            except InputError as exc:
                skipped.append({"path": str(file), "reason": str(exc)})
    if not logs:
        reasons = "; ".join(f"{s['path']}: {s['reason']}" for s in skipped[:2])
        detail = f" ({reasons})" if reasons else ""
        msg = f"no training log found in {str(path)!r}{detail}: {_FORMAT_HINT}"
        raise InputError(msg)
    return LogSet(logs, skipped)

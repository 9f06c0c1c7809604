"""Slices on the streaming engine: a Tally per group of each ``--by`` column, merged
batch by batch, so grouped evaluations of inputs larger than memory need one pass over
the data after the label pass.

Each table is validated once (:class:`~lossgap.Predictions`), split by each grouping
column, and every group's part summarised and merged into that group's running Tally;
the whole is the merge of one column's groups (:func:`lossgap.core.tally.merge_all`), the same
numbers as an in-memory evaluation of the same rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from rich.console import Console

from lossgap.core.groups import group_codes
from lossgap.core.rows import subset
from lossgap.core.tally import DEFAULT_BIN_BITS, DEFAULT_MAX_DISTINCT, DEFAULT_TOP, Tally
from lossgap.engines.batches import BatchSpec, located, resolve_classes
from lossgap.engines.stream import (
    DEFAULT_BATCH_ROWS,
    _batches,
    _distinct_labels,
    _Meter,
    open_dataset,
    progress_bar,
    resolve_source,
)
from lossgap.errors import InputError
from lossgap.io.tables import choose_columns, column_values

if TYPE_CHECKING:  # the arrow extra: record batches come only from pyarrow's readers
    import pyarrow as pa


def check_group_columns(by: Sequence[str], available: Sequence[str], where: str) -> None:
    """Refuse a ``--by`` column the input does not have, listing those it has.

    Examples
    --------
    >>> check_group_columns(["site"], ["y", "p"], "f.csv")
    Traceback (most recent call last):
    ...
    lossgap.errors.InputError: --by 'site': f.csv has no such column (its columns: y, p)
    """
    for name in by:
        if name not in available:
            msg = f"--by {name!r}: {where} has no such column (its columns: {', '.join(available)})"
            raise InputError(msg)


def split_tallies(
    spec: BatchSpec,
    table: pa.Table,
    first_row: int,
    where: str,
    by: Sequence[str],
    first_id: int | None = None,
) -> dict[tuple[str, Any], Tally]:
    """``{(by, group): Tally}`` of one table: validated once, split by each column of ``by``.

    Rows in errors count from the input's start (``first_row``), as for the whole table.
    """
    pred = spec.predictions(table, first_row, where, first_id)
    parts = {}
    for name in by:
        try:
            groups, codes = group_codes(column_values(table, name), name, len(pred))
        except InputError as exc:
            raise located(exc, first_row, where) from None
        for i, group in enumerate(groups):
            parts[(name, group)] = Tally.from_predictions(
                subset(pred, np.flatnonzero(codes == i)),
                top=spec.top,
                max_distinct=spec.max_distinct,
                bin_bits=spec.bin_bits,
            )
    return parts


def merge_groups(
    running: dict[tuple[str, Any], Tally], parts: Mapping[tuple[str, Any], Tally]
) -> dict[tuple[str, Any], Tally]:
    """``running`` with each group's Tally of ``parts`` merged in (a new dict)."""
    merged = dict(running)
    for key, part in parts.items():
        merged[key] = merged[key].merge(part) if key in merged else part
    return merged


def nest_groups(
    flat: Mapping[tuple[str, Any], Tally], by: Sequence[str]
) -> dict[str, dict[Any, Tally]]:
    """``{by: {group: Tally}}``, columns in the order given and groups sorted as
    :func:`lossgap.core.groups.group_codes` sorts them in memory."""
    nested: dict[str, dict[Any, Tally]] = {}
    for name in by:
        parts = {group: t for (column, group), t in flat.items() if column == name}
        keys, _ = group_codes(np.array(list(parts), dtype=object), name, len(parts))
        nested[name] = {key: parts[key] for key in keys}
    return nested


def stream_group_tallies(
    source: str | Path,
    by: Sequence[str],
    *,
    label: str | None = None,
    prob: Sequence[str] = (),
    logit: Sequence[str] = (),
    id: str | None = None,  # the CLI option is --id
    weight: str | None = None,
    threshold: float = 0.5,
    positive: Any = None,
    classes: Sequence[Any] | None = None,
    top: int = DEFAULT_TOP,
    max_distinct: int = DEFAULT_MAX_DISTINCT,
    bin_bits: int = DEFAULT_BIN_BITS,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    console: Console | None = None,
) -> dict[str, dict[Any, Tally]]:
    """``{by: {group: Tally}}`` of a prediction file, directory or glob, read in batches.

    Parameters are those of :func:`lossgap.engines.stream.stream_tally`, plus ``by``, the
    grouping columns. Groups come in sorted order, as :func:`lossgap.core.groups.group_codes`
    sorts them in memory.

    Examples
    --------
    >>> import tempfile, pyarrow as pa, pyarrow.parquet as pq
    >>> path = tempfile.mkdtemp() + "/p.parquet"
    >>> table = pa.table({"y": [0, 1, 1, 0], "p": [0.1, 0.8, 0.4, 0.3], "site": list("abba")})
    >>> pq.write_table(table, path)
    >>> parts = stream_group_tallies(path, ["site"], batch_rows=3)
    >>> {group: t.count for group, t in parts["site"].items()}
    {'a': 2, 'b': 2}
    """
    src = resolve_source(source)
    dataset = open_dataset(src)
    names = dataset.schema.names
    check_group_columns(by, names, src.text)
    choice = choose_columns(
        names, src.text, label=label, prob=prob, logit=logit, id=id, weight=weight
    )
    spec = BatchSpec(
        choice, (), positive=positive, threshold=threshold, top=top,
        max_distinct=max_distinct, bin_bits=bin_bits,
    )
    bar = progress_bar(console) if console is not None else None
    columns = list(dict.fromkeys([*spec.columns, *by]))
    running: dict[tuple[str, Any], Tally] = {}
    with bar if bar is not None else nullcontext():
        if classes is None:
            meter = _Meter(bar, "reading labels", src.total_bytes)
            labels = _distinct_labels(dataset, src, choice.label, batch_rows, meter)
            resolved = resolve_classes(choice, labels)
        else:
            resolved = resolve_classes(choice, np.asarray(list(classes), dtype=object), classes)
        spec = replace(spec, classes=resolved)
        reading = _Meter(bar, "evaluating", src.total_bytes)
        for table, first_row, where in _batches(dataset, src, columns, batch_rows, reading):
            running = merge_groups(running, split_tallies(spec, table, first_row, where, by))
    if not running:
        msg = f"{src.text!r} has a header but no rows: there are no samples to evaluate"
        raise InputError(msg)
    return nest_groups(running, by)

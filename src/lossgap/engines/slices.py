"""Slices on the streaming engine: a Tally per group of each ``--by`` column, merged
batch by batch, so grouped evaluations of inputs larger than memory need one pass over
the data after the label pass.

Each table is validated once (:class:`~lossgap.Predictions`), split by each grouping
column, and every group's part summarised and merged into that group's running Tally;
the whole is the merge of one column's groups (:func:`lossgap.core.tally.merge_all`), the same
numbers as an in-memory evaluation of the same rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console

from lossgap.core.groups import group_codes, subset
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
    tallies: dict[str, dict[Any, Tally]] = {name: {} for name in by}
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
            pred = spec.predictions(table, first_row, where)
            for name in by:
                try:
                    groups, codes = group_codes(column_values(table, name), name, len(pred))
                except InputError as exc:
                    raise located(exc, first_row, where) from None
                for i, group in enumerate(groups):
                    part = Tally.from_predictions(
                        subset(pred, np.flatnonzero(codes == i)),
                        top=top, max_distinct=max_distinct, bin_bits=bin_bits,
                    )
                    running = tallies[name].get(group)
                    tallies[name][group] = part if running is None else running.merge(part)
    if not tallies[by[0]]:
        msg = f"{src.text!r} has a header but no rows: there are no samples to evaluate"
        raise InputError(msg)
    ordered = {}
    for name, parts in tallies.items():
        keys, _ = group_codes(np.array(list(parts), dtype=object), name, len(parts))
        ordered[name] = {key: parts[key] for key in keys}
    return ordered

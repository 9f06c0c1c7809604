"""``lossgap calibrate FILE.json PREDICTIONS``: apply a saved calibrator to a prediction file.

The probability (or logit) columns are replaced by calibrated probabilities; the other
columns are copied unchanged, and logit columns keep their names. The output is written
atomically (a temporary file renamed into place) and never over the input. A file of
another task or class set is refused with one line (exit code 2).
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from lossgap.calibrator import Calibrator, write_atomic
from lossgap.cli import command
from lossgap.errors import InputError
from lossgap.io.columns import ColumnTable, arrow_enabled
from lossgap.io.tables import (
    LABEL_CANDIDATES,
    LOGIT_CANDIDATES,
    PROB_CANDIDATES,
    PROB_PREFIXES,
    column_values,
    file_format,
    read_table,
)
from lossgap.io.text import write_delimited


class CalibratorMethod(str, Enum):
    """The maps a calibrator can hold."""

    temperature = "temperature"
    intercept = "intercept"
    platt = "platt"
    isotonic = "isotonic"


#: Formats ``calibrate`` writes (those it reads that hold a table of named columns).
_WRITERS = ("csv", "tsv", "parquet")


def _write(table: ColumnTable, path: Path, kind: str) -> None:
    """pyarrow's writers when it reads the inputs; without it the core CSV writer, which
    writes the same text (Parquet was not read without it)."""
    if not arrow_enabled():
        write_delimited(table, path, "\t" if kind == "tsv" else ",")
        return
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pq

    if kind == "parquet":
        pq.write_table(table.to_arrow(), path)
    else:
        options = pa_csv.WriteOptions(delimiter="\t" if kind == "tsv" else ",")
        pa_csv.write_csv(table.to_arrow(), path, write_options=options)


def _columns(
    cal: Calibrator, names: list[str], prob: list[str], logit: list[str]
) -> tuple[list[str], bool]:
    """The probability (or logit) columns to transform, and whether they are logits."""
    if prob or logit:
        chosen = prob or logit
        missing = [c for c in chosen if c not in names]
        if missing:
            msg = (
                f"no column {missing[0]!r} in the predictions; the columns are: {', '.join(names)}"
            )
            raise InputError(msg)
        return chosen, bool(logit)
    if cal.columns and all(c in names for c in cal.columns):
        return list(cal.columns), cal.from_logits
    for candidates, logits in ((PROB_CANDIDATES, False), (LOGIT_CANDIDATES, True)):
        found = [n for n in names if n.lower() in candidates]
        if len(found) == 1:
            return found, logits
    found = [n for n in names if n.lower().startswith(PROB_PREFIXES)]
    if found:
        return found, False
    msg = (
        "cannot tell which columns hold the probabilities; name them with --prob (or --logit) "
        f"(the columns are: {', '.join(names)})"
    )
    raise InputError(msg)


def _strip_common_prefix(names: list[str]) -> list[str]:
    prefix = 0
    shortest = min(len(n) for n in names)
    while prefix < shortest - 1 and len({n[prefix] for n in names}) == 1:
        prefix += 1
    return [n[prefix:] for n in names]


def check_fits(cal: Calibrator, table: ColumnTable, columns: list[str], label: str | None) -> None:
    """Refuse predictions of another task or class set, with one line."""
    classes = [str(c) for c in cal.classes]
    if cal.task == "binary" and len(columns) > 2:
        msg = (
            f"the calibrator is for a binary task ({', '.join(classes)}); the predictions give "
            f"{len(columns)} probability columns: use a calibrator saved from these predictions"
        )
        raise InputError(msg)
    if cal.task == "multiclass":
        if len(columns) != len(classes):
            msg = (
                f"the calibrator is for {len(classes)} classes ({', '.join(classes)}); the "
                f"predictions give {len(columns)} probability column(s): pass one per class"
            )
            raise InputError(msg)
        named = _strip_common_prefix(columns)
        if sorted(named) == sorted(classes) and named != classes:
            msg = (
                f"the probability columns name the classes in the order {', '.join(named)}; the "
                f"calibrator's order is {', '.join(classes)}: pass --prob in that order"
            )
            raise InputError(msg)
        if set(named) != set(classes) and named != [str(i) for i in range(len(classes))]:
            msg = (
                f"the probability columns name the classes {', '.join(named)}; the calibrator "
                f"was fitted on {', '.join(classes)}: use a calibrator of these classes"
            )
            raise InputError(msg)
    if label is None:
        label = next((n for n in table.column_names if n.lower() in LABEL_CANDIDATES), None)
    if label is not None and label in table.column_names:
        seen = {str(v) for v in np.unique(column_values(table, label).astype(str))}
        unknown = sorted(seen - set(classes))
        if unknown:
            msg = (
                f"column {label!r} holds the label {unknown[0]!r}, not one of the calibrator's "
                f"classes ({', '.join(classes)}): use a calibrator of these classes"
            )
            raise InputError(msg)


@command("calibrate")
def calibrate_command(
    calibrator: Annotated[
        Path, typer.Argument(help="A calibrator file written by explain --save-calibrator.")
    ],
    predictions: Annotated[
        Path, typer.Argument(help="CSV, TSV or Parquet file of probabilities (or logits).")
    ],
    out: Annotated[
        Path | None,
        typer.Option(help="Output file (default: PREDICTIONS with .calibrated before the suffix)."),
    ] = None,
    prob: Annotated[
        list[str] | None, typer.Option(help="Probability column(s), one per class in order.")
    ] = None,
    logit: Annotated[
        list[str] | None, typer.Option(help="Logit column(s), instead of --prob.")
    ] = None,
    label: Annotated[
        str | None, typer.Option(help="Label column, if any: its classes are checked.")
    ] = None,
) -> None:
    """Apply a saved calibrator: the probability columns are replaced by calibrated ones."""
    cal = Calibrator.load(calibrator)
    kind = file_format(predictions)
    target = out or predictions.with_name(f"{predictions.stem}.calibrated{predictions.suffix}")
    if kind not in _WRITERS:
        msg = (
            f"calibrate writes CSV, TSV or Parquet; {predictions.name!r} is {kind}: "
            "convert it first"
        )
        raise InputError(msg)
    if file_format(target) != kind:
        msg = f"--out {str(target)!r} must have the input's format ({kind})"
        raise InputError(msg)
    if target.resolve() == predictions.resolve():
        msg = f"--out {str(target)!r} is the input file: write the calibrated file elsewhere"
        raise InputError(msg)
    table = read_table(predictions)
    columns, from_logits = _columns(cal, table.column_names, prob or [], logit or [])
    check_fits(cal, table, columns, label)
    values = np.column_stack([column_values(table, c).astype(np.float64) for c in columns])
    mapped = cal.transform(values[:, 0] if len(columns) == 1 else values, from_logits=from_logits)
    mapped = mapped.reshape(len(values), -1)
    for j, name in enumerate(columns):
        table = table.set_column(name, mapped[:, j])
    write_atomic(target, write=lambda tmp: _write(table, tmp, kind))
    typer.echo(f"wrote {target} ({cal.method} calibrator, {len(values)} rows)", err=True)

"""One epoch's validation predictions written as a file ``lossgap history`` reads."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import softmax

from lossgap.errors import InputError
from lossgap.io.columns import ColumnTable, arrow_enabled, require_arrow
from lossgap.io.text import write_delimited

#: File formats the writers produce.
FILE_FORMATS = ("csv", "parquet")


def epoch_file_name(epoch: float, step: int | None = None, *, file_format: str = "csv") -> str:
    """``epoch_0003.csv``; fractional epochs and steps spelled out.

    Examples
    --------
    >>> epoch_file_name(3), epoch_file_name(2.5, 500), epoch_file_name(1.0, 815)
    ('epoch_0003.csv', 'epoch_2.5_step_500.csv', 'epoch_0001_step_815.csv')
    """
    whole = float(epoch).is_integer()
    name = f"epoch_{int(epoch):04d}" if whole else f"epoch_{float(epoch):.4f}".rstrip("0")
    if step is not None:
        name += f"_step_{int(step)}"
    return f"{name}.{file_format}"


#: First characters that make a spreadsheet read a cell as a formula (OWASP's list).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(cell: Any) -> Any:
    """A text cell a spreadsheet would run as a formula, made inert with a leading ``'``.

    Text that reads as a number (``-1``, ``+0.5``) is a number, not a formula, and stays.

    Examples
    --------
    >>> spreadsheet_safe("=cmd|' /C calc'!A0"), spreadsheet_safe("-1"), spreadsheet_safe("cat")
    ("'=cmd|' /C calc'!A0", '-1', 'cat')
    """
    if not isinstance(cell, str) or not cell.startswith(_FORMULA_START):
        return cell
    try:
        float(cell)
    except ValueError:
        return "'" + cell
    return cell


def _labels(y_true: Any) -> np.ndarray:
    y = np.asarray(y_true)
    if y.ndim == 2 and y.shape[1] > 1:  # one-hot rows (categorical_crossentropy)
        return y.argmax(axis=1)
    return y.reshape(-1)


def write_epoch_predictions(
    directory: str | Path,
    epoch: float,
    y_true: Any,
    y_out: Any,
    *,
    from_logits: bool = False,
    classes: Sequence[Any] | None = None,
    step: int | None = None,
    file_format: str = "csv",
) -> Path:
    """Write one epoch's labels and predicted probabilities.

    Parameters
    ----------
    directory : str or Path
        Created when missing.
    epoch : float
        The epoch as the training log numbers it (Keras and Lightning from 0).
    y_true : array-like of shape (n,) or (n, k)
        Class labels, or one-hot rows.
    y_out : array-like of shape (n,), (n, 1) or (n, k)
        Model outputs: probabilities, or logits with ``from_logits=True``.
    from_logits : bool, default=False
        One output column is written as ``logit`` (exact losses); several are turned
        into probabilities with a softmax in float64.
    classes : sequence, optional
        Class names in output-column order; integer labels are written as these names.
    step : int, optional
        Added to the file name (evaluations inside an epoch).
    file_format : {"csv", "parquet"}, default="csv"

    Returns
    -------
    Path
        The file written.

    Examples
    --------
    >>> import tempfile
    >>> path = write_epoch_predictions(tempfile.mkdtemp(), 0, [0, 1], [[2.0, -1.0], [0.5, 1.5]],
    ...                                from_logits=True, classes=["cat", "dog"])
    >>> print(path.read_text())
    "label","p_cat","p_dog"
    "cat",0.9525741268224334,0.04742587317756679
    "dog",0.2689414213699951,0.7310585786300049
    <BLANKLINE>
    """
    if file_format not in FILE_FORMATS:
        msg = f"file_format must be one of {FILE_FORMATS}, got {file_format!r}"
        raise InputError(msg)
    labels = _labels(y_true)
    out = np.asarray(y_out, dtype=np.float64)
    if out.ndim == 2 and out.shape[1] == 1:
        out = out[:, 0]
    if out.shape[0] != labels.shape[0]:
        msg = (
            f"{labels.shape[0]} labels but {out.shape[0]} rows of model outputs: "
            "pass one per sample"
        )
        raise InputError(msg)
    if classes is not None and labels.dtype.kind in "iu":
        labels = np.asarray(classes, dtype=object)[labels]
    columns: dict[str, Any] = {"label": labels}
    if out.ndim == 1:
        columns["logit" if from_logits else "prob"] = out
    else:
        prob = softmax(out, axis=1) if from_logits else out
        names = list(classes) if classes is not None else list(range(out.shape[1]))
        if len(names) != out.shape[1]:
            msg = (
                f"{len(names)} classes but {out.shape[1]} output columns: "
                "name one class per column"
            )
            raise InputError(msg)
        for j, name in enumerate(names):
            # a class made inert as a label is named the same way in its column
            column = spreadsheet_safe(str(name)) if file_format == "csv" else name
            columns[f"p_{column}"] = prob[:, j]
    if file_format == "csv" and np.asarray(columns["label"]).dtype.kind in "OUS":
        # these files get opened in spreadsheets: no label cell may run as a formula
        columns["label"] = np.array(
            [spreadsheet_safe(v) for v in np.asarray(columns["label"]).tolist()], dtype=object
        )
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / epoch_file_name(epoch, step, file_format=file_format)
    table = ColumnTable.from_arrays(columns)
    if file_format == "parquet":
        require_arrow("Parquet")
    if not arrow_enabled():  # the same text as pyarrow's writer, more slowly
        write_delimited(table, path)
        return path
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pq

    if file_format == "csv":
        pa_csv.write_csv(table.to_arrow(), path)
    else:
        pq.write_table(table.to_arrow(), path)
    return path


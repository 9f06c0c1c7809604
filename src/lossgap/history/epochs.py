"""Per-epoch predictions: one file per epoch, each explained by the explanation engine.

A directory of prediction files (written by the callbacks of :mod:`lossgap.integrations`
or by hand) names each file after its epoch: ``epoch_0007.csv``, ``epoch_2.5_step_500.csv``,
``preds-ep12.parquet``. Each file is read with :func:`lossgap.io.read_predictions` (the
columns are guessed as for ``lossgap explain``: ``label`` and ``prob`` or ``p_<class>``)
and evaluated with :func:`lossgap.explanation.evaluate_predictions`; this module only reads
the numbers the engine reports: accuracy, log loss, the confident errors and the CORP
decomposition of the log loss.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import numpy as np

from lossgap.core.predictions import Predictions
from lossgap.errors import InputError
from lossgap.io import read_predictions, read_table
from lossgap.io.tables import FORMATS as PREDICTION_SUFFIXES
from lossgap.io.tables import choose_columns, column_values, predictions_from_table
from lossgap.results.evaluation import Evaluation
from lossgap.results.history import (
    ConfidentErrorCount,
    EpochDecomposition,
    EpochSummary,
    TemperatureScaled,
    label_of,
)

_EPOCH = re.compile(r"(?:epoch|ep|e)[_\-=]?(\d+(?:\.\d+)?)", re.IGNORECASE)
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
#: Decomposition parts read from the engine, in order.
PARTS = ("miscalibration", "discrimination", "uncertainty", "score")


def epoch_of(path: Path) -> float | None:
    """The epoch a file name carries: the number after ``epoch``/``ep``, else the last number.

    Examples
    --------
    >>> [epoch_of(Path(n)) for n in ("epoch_0007.csv", "epoch_2.5_step_500.csv", "preds-12.npz")]
    [7.0, 2.5, 12.0]
    >>> epoch_of(Path("predictions.csv")) is None
    True
    """
    stem = path.name[: -len(path.suffix)] if path.suffix else path.name
    match = _EPOCH.search(stem)
    if match:
        return float(match.group(1))
    numbers = _NUMBER.findall(stem)
    return float(numbers[-1]) if numbers else None


def prediction_files(directory: str | Path) -> list[tuple[float, Path]]:
    """The prediction files of ``directory`` with their epochs, in epoch order.

    Raises
    ------
    lossgap.InputError
        The directory is missing, holds no prediction file, or two files name one epoch.
    """
    directory = Path(directory)
    if not directory.is_dir():
        msg = (
            f"--predictions {str(directory)!r} is not a directory: pass the folder of "
            "per-epoch files"
        )
        raise InputError(msg)
    files = [
        p
        for p in sorted(directory.iterdir())
        if p.is_file() and p.suffix.lower() in PREDICTION_SUFFIXES and not p.name.startswith(".")
    ]
    found: dict[float, Path] = {}
    for file in files:
        epoch = epoch_of(file)
        if epoch is None:
            continue
        if epoch in found:
            msg = (
                f"{found[epoch].name!r} and {file.name!r} in {str(directory)!r} both name epoch "
                f"{label_of(epoch)}: keep one file per epoch"
            )
            raise InputError(msg)
        found[epoch] = file
    if not found:
        msg = (
            f"no per-epoch prediction file in {str(directory)!r}: name each file after its "
            "epoch (epoch_0003.csv) with columns label and prob (or p_<class>)"
        )
        raise InputError(msg)
    return sorted(found.items())


def epoch_summary(
    epoch: float, path: Path, ev: Evaluation, predictions: Predictions | None = None
) -> EpochSummary:
    """The numbers of one epoch's evaluation that the history reports (read, not computed).

    ``decomposition`` is None when the engine gives none. With ``predictions``, each
    sample's label and whether its decision is right are kept for paired tests between
    epochs.
    """
    parts = ev.decomposition.log_loss if ev.decomposition is not None else None
    confident = ev.diagnostics.confident_errors
    temperature = ev.recalibration_map("temperature")
    return EpochSummary(
        epoch=label_of(epoch),
        file=str(path),
        n=ev.n,
        task=ev.task,
        accuracy=ev.metric("accuracy"),
        log_loss=ev.metric("log_loss"),
        confident_errors=ConfidentErrorCount(
            count=confident.count,
            share=confident.share,
            loss_share=confident.loss_share,
            level=confident.level,
        ),
        decomposition=None
        if parts is None or ev.decomposition is None
        else EpochDecomposition(
            **{k: getattr(parts, k) for k in PARTS}, target=ev.decomposition.target
        ),
        temperature_scaled=None
        if temperature is None
        else TemperatureScaled(
            log_loss_after=temperature.log_loss_after,
            temperature=temperature.temperature,
            accuracy_after=temperature.accuracy_after,
        ),
        labels=None if predictions is None else np.asarray(predictions.y),
        # the decision compare scores: the predicted class against the label
        correct=None if predictions is None else predictions.predicted() == predictions.y,
    )


def _evaluate(predictions: Predictions) -> Evaluation:
    """One epoch's evaluation, without intervals (a curve needs the point values)."""
    # imported here, at the first epoch with saved predictions: a log alone needs none
    # of the explain engine (scipy.optimize, .sparse, .fft: 0.2 s of `lossgap history`)
    from lossgap.explanation import evaluate_predictions

    return evaluate_predictions(predictions, replicates=0)


def evaluate_epochs(
    directory: str | Path,
    *,
    on_file: Callable[[int, int], None] | None = None,
    epoch_column: str | None = None,
) -> list[EpochSummary]:
    """Evaluate every per-epoch prediction file of ``directory``.

    Parameters
    ----------
    directory : str or Path
        The folder of per-epoch files; with ``epoch_column``, one long file.
    on_file : callable, optional
        Called with (files done, files in all) after each file (progress bars).
    epoch_column : str, optional
        The column of a long file that holds each row's epoch: its rows of one epoch
        are that epoch's predictions.

    Returns
    -------
    list of EpochSummary
        :func:`epoch_summary` of each file, in epoch order.
    """
    if epoch_column is not None:
        return _evaluate_long_file(Path(directory), epoch_column, on_file)
    files = prediction_files(directory)
    rows = []
    for done, (epoch, path) in enumerate(files, 1):
        # Intervals are not reported per epoch: skip the bootstrap.
        predictions = read_predictions(path)
        evaluation = _evaluate(predictions)
        rows.append(epoch_summary(epoch, path, evaluation, predictions))
        if on_file is not None:
            on_file(done, len(files))
    return rows


def _evaluate_long_file(
    path: Path, epoch_column: str, on_file: Callable[[int, int], None] | None
) -> list[EpochSummary]:
    """One evaluation per epoch of a long file (a row per epoch and sample)."""
    if path.is_dir():
        msg = f"--epoch-column reads one long file, but {str(path)!r} is a directory: pass the file"
        raise InputError(msg)
    table = read_table(path)
    if epoch_column not in table.column_names:
        msg = (
            f"no column {epoch_column!r} in {str(path)!r} (from --epoch-column); the columns "
            f"are: {', '.join(table.column_names)}"
        )
        raise InputError(msg)
    values = column_values(table, epoch_column)
    try:
        epochs = values.astype(np.float64)
    except ValueError as exc:
        msg = (
            f"column {epoch_column!r} of {str(path)!r} holds {values[0]!r}: "
            "epochs must be numbers"
        )
        raise InputError(msg) from exc
    rest = table.drop_columns([epoch_column])
    choice = choose_columns(rest.column_names, str(path))
    distinct = np.unique(epochs[np.isfinite(epochs)])
    rows = []
    for done, epoch in enumerate(distinct, 1):
        part = rest.filter(epochs == epoch)
        predictions = predictions_from_table(part, choice)
        evaluation = _evaluate(predictions)
        where = Path(f"{path}[{epoch_column}={label_of(epoch)}]")
        rows.append(epoch_summary(float(epoch), where, evaluation, predictions))
        if on_file is not None:
            on_file(done, len(distinct))
    return rows

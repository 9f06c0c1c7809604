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
from typing import Any

from lossgap.errors import InputError
from lossgap.explanation import evaluate_predictions
from lossgap.io import read_predictions
from lossgap.io.tables import FORMATS as PREDICTION_SUFFIXES
from lossgap.results.evaluation import Evaluation
from lossgap.results.history import label_of

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
        msg = f"--predictions {str(directory)!r} is not a directory: pass the folder of per-epoch files"
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


def epoch_summary(epoch: float, path: Path, ev: Evaluation) -> dict[str, Any]:
    """The numbers of one epoch's evaluation that the history reports (read, not computed).

    ``decomposition`` and ``confident_errors`` are None when the engine gives none.
    """
    parts = ev.decomposition.log_loss if ev.decomposition is not None else None
    confident = ev.diagnostics.get("confident_errors")
    temperature = ev.recalibration.get("methods", {}).get("temperature")
    return {
        "epoch": label_of(epoch),
        "file": str(path),
        "n": ev.n,
        "task": ev.task,
        "accuracy": ev.metric("accuracy"),
        "log_loss": ev.metric("log_loss"),
        "confident_errors": None
        if confident is None
        else {k: confident.get(k) for k in ("count", "share", "loss_share", "level")},
        "decomposition": None
        if parts is None
        else {
            **{k: getattr(parts, k) for k in PARTS},
            "target": ev.decomposition.target if ev.decomposition is not None else None,
        },
        "temperature_scaled": None
        if temperature is None
        else {k: temperature.get(k) for k in ("log_loss_after", "temperature", "accuracy_after")},
    }


def evaluate_epochs(
    directory: str | Path, *, on_file: Callable[[int, int], None] | None = None
) -> list[dict[str, Any]]:
    """Evaluate every per-epoch prediction file of ``directory``.

    Parameters
    ----------
    directory : str or Path
    on_file : callable, optional
        Called with (files done, files in all) after each file (progress bars).

    Returns
    -------
    list of dict
        :func:`epoch_summary` of each file, in epoch order.
    """
    files = prediction_files(directory)
    rows = []
    for done, (epoch, path) in enumerate(files, 1):
        # Intervals are not reported per epoch: skip the bootstrap.
        evaluation = evaluate_predictions(read_predictions(path), replicates=0)
        rows.append(epoch_summary(epoch, path, evaluation))
        if on_file is not None:
            on_file(done, len(files))
    return rows

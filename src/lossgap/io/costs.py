"""Reading the costs of decisions given on the command line: ``FP,FN`` or a matrix file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from lossgap.errors import InputError


def read_costs(text: str) -> np.ndarray:
    """``"FP,FN"`` as a pair, or a cost matrix file (CSV rows or a JSON list of rows).

    Rows are the true classes and columns the decisions, both in the class order of the
    predictions; :func:`lossgap.core.decision.cost_matrix` checks the shape and values.

    Examples
    --------
    >>> read_costs("1,5").tolist()
    [1.0, 5.0]
    >>> read_costs("1,x")
    Traceback (most recent call last):
    ...
    lossgap.errors.InputError: --costs '1,x' is neither FP,FN (two numbers) nor a cost matrix file
    """
    path = Path(text)
    if path.is_file():
        raw = path.read_text(encoding="utf-8")
        try:
            rows = (
                json.loads(raw)
                if path.suffix.lower() == ".json"
                else [
                    [float(v) for v in line.split(",")] for line in raw.splitlines() if line.strip()
                ]
            )
            return np.asarray(rows, dtype=np.float64)
        except ValueError as exc:
            msg = (
                f"cost matrix file {text!r} must hold rows of numbers (CSV, or JSON [[...], ...]): "
                f"{exc}"
            )
            raise InputError(msg) from exc
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) != 2:
        msg = f"--costs {text!r} is neither FP,FN (two numbers) nor a cost matrix file"
        raise InputError(msg)
    return np.asarray(values)

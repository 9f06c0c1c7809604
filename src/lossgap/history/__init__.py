"""History: read training logs, find where validation loss and accuracy part ways, say why.

The data flow mirrors the rest of lossgap::

    log files -> RawLog (rows as logged) -> Run (validation points, canonical names)
      -> RunAnalysis (best points, smoothed curves, divergence, noise) -> findings
      -> HistoryReport (plus per-epoch predictions) -> render / to_dict()

See ``docs/history.md`` for the formats, the analysis and its thresholds.

Examples
--------
>>> import tempfile, pathlib
>>> from lossgap.history import analyse_history
>>> path = pathlib.Path(tempfile.mkdtemp()) / "history.json"
>>> _ = path.write_text('{"loss": [0.9, 0.6, 0.5], "val_loss": [0.8, 0.7, 0.75], '
...                     '"val_accuracy": [0.6, 0.7, 0.72]}')
>>> report = analyse_history(path)
>>> report.runs[0].run.format, report.best()["val_loss"].epoch
('keras-history', 1)

The package itself is callable, so a notebook can pass what ``model.fit`` returned:

>>> import lossgap
>>> report = lossgap.history({"loss": [0.9, 0.6, 0.5], "val_loss": [0.8, 0.7, 0.75]})
>>> report.best()["val_loss"].epoch
1
"""

import sys
import types
from typing import Any

from lossgap.history.api import analyse_history, analyse_run
from lossgap.history.readers import FORMATS, read_logs
from lossgap.history.runs import build_run
from lossgap.io.names import MetricName, normalise_name
from lossgap.results.history import HistoryReport, Run, RunAnalysis

__all__ = [
    "FORMATS",
    "HistoryReport",
    "MetricName",
    "Run",
    "RunAnalysis",
    "analyse_history",
    "analyse_run",
    "build_run",
    "normalise_name",
    "read_logs",
]


class _CallableModule(types.ModuleType):
    """``lossgap.history(...)`` is :func:`analyse_history`; ``lossgap.history.X`` the package.

    A function named ``history`` in ``lossgap`` would hide this package from
    ``import lossgap.history.readers``; a callable module keeps both.
    """

    def __call__(self, source: Any, **options: Any) -> HistoryReport:
        return analyse_history(source, **options)


sys.modules[__name__].__class__ = _CallableModule

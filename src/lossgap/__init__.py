"""lossgap: explain why a classifier's loss and its accuracy disagree, and what to do about it.

The data flow runs one way (see ``docs/architecture.md``)::

    inputs -> Predictions -> Tally -> metrics -> Evaluation -> findings -> render

Examples
--------
>>> import lossgap
>>> ev = lossgap.explain([0, 1, 1, 0], [0.2, 0.9, 0.6, 0.4])
>>> round(ev.metrics["accuracy"].value, 3)
1.0
"""

from __future__ import annotations

import sys
import types
from importlib import import_module
from typing import TYPE_CHECKING, Any

from lossgap.errors import InputError

if TYPE_CHECKING:
    from lossgap.compare import Comparison, compare
    from lossgap.evaluation import Evaluation, MetricValue
    from lossgap.explain import explain
    from lossgap.predictions import Predictions
    from lossgap.tally import Tally

#: Where each public name lives. They are imported on first use: ``import lossgap`` (and
#: so the command line) starts without numpy and scipy, so a Ctrl-C while the command
#: line loads them is caught by it and not shown as a trace.
_LAZY = {
    "Comparison": "lossgap.compare",
    "compare": "lossgap.compare",
    "Evaluation": "lossgap.evaluation",
    "MetricValue": "lossgap.evaluation",
    "explain": "lossgap.explain",
    "Predictions": "lossgap.predictions",
    "Tally": "lossgap.tally",
}


class _Package(types.ModuleType):
    """This package, whose functions ``explain`` and ``compare`` keep their names when
    the submodules of the same names are imported (the import system would set
    ``lossgap.explain`` to the module ``lossgap.explain``)."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _LAZY and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value  # once
        return value
    msg = f"module 'lossgap' has no attribute {name!r}"
    raise AttributeError(msg)


__all__ = [
    "Comparison",
    "Evaluation",
    "InputError",
    "MetricValue",
    "Predictions",
    "Tally",
    "compare",
    "explain",
]
__version__ = "0.1.0"

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

from lossgap import history
from lossgap.compare import Comparison, compare
from lossgap.errors import InputError
from lossgap.evaluation import Evaluation, MetricValue
from lossgap.explain import explain
from lossgap.predictions import Predictions
from lossgap.tally import Tally

__all__ = [
    "Comparison",
    "Evaluation",
    "InputError",
    "MetricValue",
    "Predictions",
    "Tally",
    "compare",
    "explain",
    "history",
]
__version__ = "0.1.0"

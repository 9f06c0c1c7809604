"""lossgap: explain why a classifier's loss and its accuracy disagree, and what to do about it.

The data flow runs one way (see ``docs/architecture.md``)::

    inputs -> Predictions -> Tally -> metrics -> results -> rules -> render

The public names load on first use, so ``import lossgap`` (and ``lossgap --help``) stays
fast; the result types are wired to their renderers here, the one module that sees both.

Examples
--------
>>> import lossgap
>>> ev = lossgap.explain([0, 1, 1, 0], [0.2, 0.9, 0.6, 0.4])
>>> round(ev.metrics["accuracy"].value, 3)
1.0
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from lossgap.results.display import register_renderer
from lossgap.version import __version__

if TYPE_CHECKING:
    from lossgap.calibrator import Calibrator
    from lossgap.comparison import Comparison, compare
    from lossgap.core.predictions import Predictions
    from lossgap.core.tally import Tally
    from lossgap.errors import InputError
    from lossgap.explanation import explain
    from lossgap.multilabel import explain_multilabel
    from lossgap.results.evaluation import Evaluation, MetricValue

# public name -> the module that defines it
_PUBLIC = {
    "Calibrator": "lossgap.calibrator",
    "Comparison": "lossgap.results.compare",
    "Evaluation": "lossgap.results.evaluation",
    "InputError": "lossgap.errors",
    "MetricValue": "lossgap.results.evaluation",
    "Predictions": "lossgap.core.predictions",
    "Tally": "lossgap.core.tally",
    "compare": "lossgap.comparison",
    "explain": "lossgap.explanation",
    "explain_multilabel": "lossgap.multilabel",
}

__all__ = [
    "Calibrator",
    "Comparison",
    "Evaluation",
    "InputError",
    "MetricValue",
    "Predictions",
    "Tally",
    "__version__",
    "compare",
    "explain",
    "explain_multilabel",
    "history",
]

# result type -> its renderers, as "module:function" (see lossgap.results.display)
_RENDERERS = {
    "lossgap.results.evaluation:Evaluation": (
        "lossgap.render.text:explain_answer",
        "lossgap.render.html:evaluation_html",
    ),
    "lossgap.results.compare:Comparison": (
        "lossgap.render.compare:comparison_answer",
        "lossgap.render.html:comparison_html",
    ),
    "lossgap.results.history:HistoryReport": (
        "lossgap.render.history:history_answer",
        "lossgap.render.html:history_html",
    ),
    "lossgap.results.interpret:Interpretation": (
        "lossgap.render.interpret:interpretation_answer",
        "lossgap.render.interpret:interpretation_html",
    ),
    "lossgap.results.lab:LabResult": (
        "lossgap.render.lab:lab_answer",
        "lossgap.render.html:lab_html",
    ),
}

# every result shows its short answer (kind "answer" builds it) in a terminal and as its
# one-line repr; its notebook view is the answer with the details folded
for _result, (_answer, _html) in _RENDERERS.items():
    register_renderer(_result, "answer", _answer)
    register_renderer(_result, "rich", "lossgap.render.answer:short_answer")
    register_renderer(_result, "repr", "lossgap.render.answer:one_line_repr")
    register_renderer(_result, "html", _html)

# a multilabel evaluation prints its per-label table (its labels' own answers are there)
register_renderer(
    "lossgap.results.multilabel:MultilabelEvaluation",
    "rich",
    "lossgap.render.slices:multilabel_renderables",
)


def __getattr__(name: str) -> Any:
    if name == "history":  # the package, callable: lossgap.history(...) is analyse_history
        return importlib.import_module("lossgap.history")
    if name not in _PUBLIC:
        msg = f"module 'lossgap' has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(importlib.import_module(_PUBLIC[name]), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PUBLIC) | {"history"})

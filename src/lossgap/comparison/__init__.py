"""Compare several models (or epochs) on the same samples, with paired tests.

Each model gets the full ``explain`` evaluation; the models are ranked by a proper score
(log loss, or Brier) beside accuracy; every pair (or each model against a reference) gets
paired intervals and tests of its accuracy, log loss, Brier and ROC AUC differences, and
the samples that flip across the threshold between the two models.

Modules: :mod:`~lossgap.comparison.inputs` (arrays and files to Predictions, the join on
ids), :mod:`~lossgap.core.paired` (the statistics, shared with history),
:mod:`~lossgap.comparison.flips`, :mod:`~lossgap.rules.compare` (findings),
:mod:`~lossgap.results.compare` (plain data) and :mod:`~lossgap.render.compare` (terminal
rendering).
"""

from lossgap.comparison.pipeline import compare, compare_predictions
from lossgap.results.compare import Comparison, Difference, Flips, ModelResult, PairComparison

__all__ = [
    "Comparison",
    "Difference",
    "Flips",
    "ModelResult",
    "PairComparison",
    "compare",
    "compare_predictions",
]

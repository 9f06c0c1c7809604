"""Compare several models (or epochs) on the same samples, with paired tests.

Each model gets the full ``explain`` evaluation; the models are ranked by a proper score
(log loss, or Brier) beside accuracy; every pair (or each model against a reference) gets
paired intervals and tests of its accuracy, log loss, Brier and ROC AUC differences, and
the samples that flip across the threshold between the two models.

Modules: :mod:`~lossgap.compare.inputs` (arrays and files to Predictions, the join on
ids), :mod:`~lossgap.compare.paired` (the statistics), :mod:`~lossgap.compare.flips`,
:mod:`~lossgap.compare.rules` (findings), :mod:`~lossgap.compare.result` (plain data) and
:mod:`~lossgap.compare.text` (terminal rendering).
"""

from lossgap.compare.pipeline import compare, compare_predictions
from lossgap.compare.result import Comparison, Difference, Flips, ModelResult, PairComparison

__all__ = [
    "Comparison",
    "Difference",
    "Flips",
    "ModelResult",
    "PairComparison",
    "compare",
    "compare_predictions",
]

"""The ``decision`` section of an Evaluation: which threshold to use, and what it costs.

Plain data read by the rules (:mod:`lossgap.rules.decision`) and the renderers; computed by
:mod:`lossgap.core.decision`. ``to_dict()`` follows the ``"decision"`` contract of
``docs/json.md``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

#: The objectives a binary threshold is chosen for, in display order.
OBJECTIVES = ("cost", "accuracy", "f1", "balanced_accuracy")


@dataclass(frozen=True)
class ThresholdChoice:
    """The threshold that optimises one objective on these samples, with its uncertainty.

    Attributes
    ----------
    objective : str
        ``"cost"`` (mean cost per sample, lower is better) or a score maximised
        (``"accuracy"``, ``"f1"``, ``"balanced_accuracy"``).
    threshold : float
        ``p >= threshold`` decides the positive class: the midpoint of the run of
        thresholds that all make the optimal decisions on these samples.
    value, ci_low, ci_high : float
        The objective at ``threshold`` and its bootstrap interval.
    threshold_low, threshold_high : float
        The interval of thresholds that cannot be told from the chosen one: those whose
        objective is not significantly worse, by a one-sided paired bootstrap test at
        level ``1 - confidence``. It covers the population-optimal threshold at about the
        confidence level; wide means the choice barely matters.
    flat_within : float
        How much worse than the chosen threshold the objective gets inside that interval,
        on these samples: small means a flat curve.
    """

    objective: str
    threshold: float
    value: float
    ci_low: float | None
    ci_high: float | None
    threshold_low: float
    threshold_high: float
    flat_within: float

    def covers(self, threshold: float) -> bool:
        """Whether ``threshold`` lies in the interval of thresholds as good as the best."""
        return self.threshold_low <= threshold <= self.threshold_high


@dataclass(frozen=True)
class CostAt:
    """The mean cost of deciding at one given threshold.

    Attributes
    ----------
    name : str
        ``"0.5"``, ``"threshold"`` (the evaluation's decision threshold) or
        ``"calibrated"`` (the threshold a calibrated model would use).
    threshold : float
    cost, ci_low, ci_high : float
        Mean cost per sample with its bootstrap interval.
    excess, excess_ci_low, excess_ci_high : float
        Its cost above the chosen threshold's, paired over the same replicates.
    """

    name: str
    threshold: float
    cost: float
    ci_low: float | None
    ci_high: float | None
    excess: float
    excess_ci_low: float | None
    excess_ci_high: float | None


@dataclass(frozen=True)
class RuleCost:
    """Multiclass: the mean cost of one decision rule, with its bootstrap interval."""

    rule: str
    cost: float
    ci_low: float | None
    ci_high: float | None


@dataclass(frozen=True)
class Decision:
    """Thresholds and costs of the decisions these predictions support.

    Attributes
    ----------
    task : str
    costs : list of list of float or None
        The cost matrix ``C[true][decided]`` given by the user; None without costs.
    calibrated_threshold : float or None
        Binary with costs: the threshold a calibrated model would use,
        ``(C01 - C00) / (C01 - C00 + C10 - C11)`` (``FP / (FP + FN)`` for the usual
        zero-diagonal costs).
    optimal : dict of str to ThresholdChoice
        Binary: the best threshold per objective (``"cost"`` only with costs).
    at : list of CostAt
        Binary with costs: the cost at 0.5, at the decision threshold and at the
        calibrated threshold.
    rules : list of RuleCost
        Multiclass with costs: the argmax rule and the cost-weighted (Bayes) rule on the
        model's probabilities, with their difference.
    confidence : float
    method : str
        How the intervals were computed.
    """

    task: str
    costs: list[list[float]] | None
    calibrated_threshold: float | None
    optimal: dict[str, ThresholdChoice] = field(default_factory=dict)
    at: list[CostAt] = field(default_factory=list)
    rules: list[RuleCost] = field(default_factory=list)
    confidence: float = 0.95
    method: str = ""

    def cost_at(self, name: str) -> CostAt | None:
        """The :class:`CostAt` called ``name``, or None."""
        return next((c for c in self.at if c.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        """The ``"decision"`` JSON section (``docs/json.md``)."""
        return {
            "task": self.task,
            "costs": self.costs,
            "calibrated_threshold": self.calibrated_threshold,
            "optimal": {name: asdict(choice) for name, choice in self.optimal.items()},
            "at": [asdict(c) for c in self.at],
            "rules": [asdict(r) for r in self.rules],
            "confidence": self.confidence,
            "method": self.method,
        }


#: The goals ``compare --goal`` picks a model for, with the score that judges each.
GOALS = {
    "probabilities": "log_loss",
    "decisions": "decision_cost",
    "ranking": "roc_auc",
}


@dataclass(frozen=True)
class GoalTest:
    """The paired test of the goal's best model against one other.

    Attributes
    ----------
    model : str
        The other model.
    difference, ci_low, ci_high : float
        Best minus other, in the goal's score (lower is better for losses and costs,
        higher for ROC AUC).
    p_value : float or None
        Two-sided, Holm-adjusted over the other models.
    significant : bool
    """

    model: str
    difference: float
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    significant: bool


@dataclass(frozen=True)
class GoalChoice:
    """Which model to keep for one goal, and the paired tests that back it.

    Attributes
    ----------
    goal : str
        ``"probabilities"``, ``"decisions"`` or ``"ranking"``.
    score : str
        ``"log_loss"``, ``"decision_cost"`` (mean cost of decisions at a threshold tuned
        on the other folds) or ``"roc_auc"``.
    best : str
        The best model by the score's point value.
    keep : str or None
        ``best`` when it beats every other model beyond noise; None when some other
        model cannot be told from it.
    tied : list of str
        The models that cannot be told from ``best`` (``best`` first).
    verdict : str
        The choice in one sentence.
    method : str
        The paired test.
    tests : list of GoalTest
    """

    goal: str
    score: str
    best: str
    keep: str | None
    tied: list[str]
    verdict: str
    method: str
    tests: list[GoalTest] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

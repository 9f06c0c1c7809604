"""The result of a comparison: plain data that the terminal, JSON and HTML read.

A :class:`Comparison` holds numbers and never computes them. ``to_dict()`` follows the
JSON contract of ``docs/json.md`` (``lossgap compare --json``); printing it with rich
renders the ranking, the pairs and the findings.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from lossgap.results.decision import GoalChoice
from lossgap.results.display import Displayable
from lossgap.results.evaluation import Evaluation, Finding, MetricValue, flat_asdict, json_safe

#: The metrics a comparison can rank by (lower is better for both).
RANK_METRICS = ("log_loss", "brier")


@dataclass(frozen=True)
class Difference:
    """A paired difference ``a - b`` with its interval and test.

    Attributes
    ----------
    value : float
        The difference of the two models' metrics (NaN where undefined).
    ci_low, ci_high : float or None
        The paired interval at the comparison's confidence level (not adjusted for
        multiple pairs).
    p_value : float or None
        Two-sided p-value of the paired test.
    p_value_adjusted : float or None
        Holm-adjusted over the compared pairs (equal to ``p_value`` for one pair).
    significant : bool
        ``p_value_adjusted < 1 - confidence``.
    method : str
        The interval and the test, in words.
    clipped : bool
        Log loss only: a model of the pair has an infinite loss, so its per-sample
        losses are capped at 34.54 nats for this difference.
    """

    value: float
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    p_value_adjusted: float | None
    significant: bool
    method: str
    clipped: bool = False


@dataclass(frozen=True)
class Flips:
    """Samples one model of a pair gets right and the other wrong.

    Attributes
    ----------
    both_correct, a_only_correct, b_only_correct, neither_correct : int
        The paired 2x2 table; ``a_only_correct - b_only_correct`` over ``n`` is the
        accuracy difference.
    near_threshold : int
        Flips that lie near the decision boundary under both models.
    near_threshold_a_only_correct, near_threshold_b_only_correct : int
        The near-threshold flips by direction.
    near_threshold_share : float or None
        The share of the accuracy difference that the near-threshold flips make:
        ``(near a_only - near b_only) / (a_only - b_only)``; None when the accuracies
        are equal. Above 1 or below 0 when the far flips pull the other way.
    near_threshold_log_loss_difference : float
        What the near-threshold flips add to the mean log loss difference ``a - b``.
    a_only_correct_ids, b_only_correct_ids, near_threshold_ids : list
        Ids of the first flips in sample order (at most ``ids_shown`` of each).
    """

    both_correct: int
    a_only_correct: int
    b_only_correct: int
    neither_correct: int
    near_threshold: int
    near_threshold_a_only_correct: int
    near_threshold_b_only_correct: int
    near_threshold_share: float | None
    near_threshold_log_loss_difference: float
    a_only_correct_ids: list[Any] = field(default_factory=list)
    b_only_correct_ids: list[Any] = field(default_factory=list)
    near_threshold_ids: list[Any] = field(default_factory=list)


@dataclass(frozen=True)
class PairComparison:
    """Two models on the same samples: every difference is ``a - b``."""

    a: str
    b: str
    accuracy_difference: Difference
    log_loss_difference: Difference
    brier_difference: Difference
    roc_auc_difference: Difference
    flips: Flips

    def difference(self, metric: str) -> Difference:
        """The difference of ``metric`` (``"accuracy"``, ``"log_loss"``, ...)."""
        return getattr(self, f"{metric}_difference")

    def to_dict(self) -> dict[str, Any]:
        return {
            "a": self.a,
            "b": self.b,
            **{f"{m}_difference": flat_asdict(self.difference(m)) for m in PAIR_METRICS},
            "flips": flat_asdict(self.flips),
        }


#: The metrics every pair compares, in display order.
PAIR_METRICS = ("accuracy", "log_loss", "brier", "roc_auc")


@dataclass(frozen=True)
class ModelResult:
    """One model: its two ranks (1 is best; ties share a rank), its scores, its evaluation.

    Attributes
    ----------
    name : str
    rank, accuracy_rank : int
        By the comparison's proper score and by accuracy.
    metrics : dict of str to MetricValue
        What ranks and describes the model: with ``detail`` ``"full"`` or ``"summary"``
        every metric of its evaluation; with ``"scores"`` only ``log_loss``,
        ``log_loss_clipped``, ``brier``, ``accuracy`` (Wilson interval) and ``roc_auc``
        (DeLong interval), computed from the per-sample values the paired tests use.
    infinite_count : int
        Samples whose true class has probability 0 (an infinite log loss).
    evaluation : Evaluation or None
        The model's ``explain`` evaluation at the comparison's detail; with ``"scores"``
        only the best model by the proper score and the best by accuracy have one (at
        ``"summary"`` detail), the others None.
    detail : str
        The comparison's detail: ``"full"``, ``"summary"`` or ``"scores"``.
    """

    name: str
    rank: int
    accuracy_rank: int
    metrics: dict[str, MetricValue]
    infinite_count: int
    evaluation: Evaluation | None = None
    detail: str = "full"

    def metric(self, name: str) -> float:
        """The value of metric ``name``."""
        return self.metrics[name].value

    def to_dict(self) -> dict[str, Any]:
        head = {"name": self.name, "rank": self.rank, "accuracy_rank": self.accuracy_rank}
        if self.detail != "scores" and self.evaluation is not None:
            return {**head, **self.evaluation.to_dict()}
        out = {
            **head,
            "metrics": {name: asdict(m) for name, m in self.metrics.items()},
            "infinite_count": self.infinite_count,
        }
        if self.evaluation is not None:
            out["explain"] = self.evaluation.to_dict()
        return out


@dataclass(frozen=True, repr=False)
class Comparison(Displayable):
    """Several models on the same samples: ranked, compared in pairs, explained.

    Attributes
    ----------
    task : str
        ``"binary"`` or ``"multiclass"``.
    n : int
        Samples (the same for every model).
    classes : list
        Class labels in column order.
    threshold : float or None
        Binary decision threshold.
    decision_rule : str
        The rule in words.
    by : str
        The proper score the models are ranked by: ``"log_loss"`` or ``"brier"``.
    confidence : float
        Level of every interval; ``1 - confidence`` is the significance level.
    near : float
        A flip is near the threshold when the sample lies within ``near`` of the
        decision boundary under both models (see ``near_rule``).
    near_rule : str
        That rule in words.
    reference : str or None
        With a reference, each model is compared with it; else all pairs.
    correction : str
        ``"holm"`` (over the pairs, per metric) or ``"none"`` (one pair).
    models : list of ModelResult
        Best first by ``by``.
    pairs : list of PairComparison
    findings : list of Finding
        Ranked by severity, highest first.
    ids_shown : int
        At most this many ids per flip list.
    detail : str
        How much of each model was computed: ``"full"`` or ``"summary"`` (each model's
        evaluation at that detail, see :func:`lossgap.explanation.evaluate`), or
        ``"scores"`` (each model's ranking scores; the two best models' summary
        evaluations, see :class:`ModelResult`).
    goals : list of GoalChoice
        Which model to keep per goal asked for (``compare --goal``); empty when none.
    """

    task: str
    n: int
    classes: list[Any]
    threshold: float | None
    decision_rule: str
    by: str
    confidence: float
    near: float
    near_rule: str
    reference: str | None
    correction: str
    models: list[ModelResult]
    pairs: list[PairComparison]
    findings: list[Finding] = field(default_factory=list)
    ids_shown: int = 20
    detail: str = "full"
    goals: list[GoalChoice] = field(default_factory=list)

    @property
    def alpha(self) -> float:
        """The significance level, ``1 - confidence``."""
        return 1.0 - self.confidence

    def model(self, name: str) -> ModelResult:
        """The model called ``name``."""
        return next(m for m in self.models if m.name == name)

    def pair(self, a: str, b: str) -> PairComparison:
        """The pair of ``a`` and ``b`` as stored (either order may be asked)."""
        return next(p for p in self.pairs if {p.a, p.b} == {a, b})

    def finding(self, code: str) -> Finding | None:
        """The finding with ``code``, or None."""
        return next((f for f in self.findings if f.code == code), None)

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract of ``lossgap compare --json``: plain, JSON-safe types."""
        out = {
            "task": self.task,
            "n": self.n,
            "classes": list(self.classes),
            "threshold": self.threshold,
            "decision_rule": self.decision_rule,
            "by": self.by,
            "confidence": self.confidence,
            "near_threshold": {"distance": self.near, "rule": self.near_rule},
            "reference": self.reference,
            "correction": {
                "method": self.correction,
                "family": "each metric over the compared pairs",
                "alpha": self.alpha,
            },
            "ids_shown": self.ids_shown,
            "detail": self.detail,
            "models": [m.to_dict() for m in self.models],
            "pairs": [p.to_dict() for p in self.pairs],
            "findings": [asdict(f) for f in self.findings],
        }
        if self.goals:
            out["goals"] = {g.goal: g.to_dict() for g in self.goals}
        return json_safe(out)

"""Evaluation: plain data that every renderer reads.

An :class:`Evaluation` holds numbers, never computes them: the metrics with their
intervals, the decomposition, the recalibration results, the findings and the worst
samples. ``to_dict()`` follows the JSON contract of ``docs/json.md``; the terminal,
HTML and Markdown renderers read the same object.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from lossgap.results.decision import Decision
from lossgap.results.diagnostics import Diagnostics
from lossgap.results.display import Displayable
from lossgap.results.recalibration import Recalibration, RecalibrationMap
from lossgap.results.slices import CalibrationTest, ClassSummary, Confusion, ConfusionPair

SEVERITIES = ("high", "medium", "low", "info")

#: A value of a finding's evidence: what JSON holds (numbers, strings, booleans, nulls, and
#: lists and objects of them), so every evidence is JSON as it stands.
EvidenceValue = (
    float | int | str | bool | None | Sequence["EvidenceValue"] | Mapping[str, "EvidenceValue"]
)
#: A finding's evidence: read-only, string keys documented per code in docs/findings.md.
Evidence = Mapping[str, EvidenceValue]

#: The clip used for the finite companion of an infinite log loss (``log_loss_clipped``): a
#: per-sample loss is capped at ``-ln(1e-15) = 34.54`` nats, the value scikit-learn long
#: used. Part of the metric's definition, so the renderers can state it.
CLIP_EPS = 1e-15
MAX_CLIPPED_LOSS = -math.log(CLIP_EPS)


@dataclass(frozen=True)
class MetricValue:
    """A metric with its interval.

    Attributes
    ----------
    value : float
        The point estimate (``inf`` or NaN where that is the truth).
    ci_low, ci_high : float or None
        The interval bounds at the evaluation's confidence level, when computed.
    ci_method : str or None
        How the interval was computed (``"wilson"``, ``"delong"``, ``"bootstrap"``...).
    approximation_bound : float or None
        When the Tally's score tables were compressed into bins, a bound on how far the
        value can be from the exact one (``docs/architecture.md``); None when exact.
    """

    value: float
    ci_low: float | None = None
    ci_high: float | None = None
    ci_method: str | None = None
    approximation_bound: float | None = None


@dataclass(frozen=True)
class DecompositionTerms:
    """One proper score split as ``score = miscalibration - discrimination + uncertainty``.

    Means per sample, in the score's unit (nats for log loss).

    Attributes
    ----------
    miscalibration : float
        What isotonic recalibration would remove (MCB).
    discrimination : float
        How much the recalibrated forecasts beat the base rate (DSC).
    uncertainty : float
        The score of the base rate itself (UNC).
    score : float
        The score of the forecasts as given.
    """

    miscalibration: float
    discrimination: float
    uncertainty: float
    score: float


@dataclass(frozen=True)
class ReliabilityCurve:
    """The step function of a reliability diagram: one row per isotonic (PAV) block.

    Attributes
    ----------
    score_low, score_high : list of float
        The lowest and highest forecast in each block.
    recalibrated : list of float
        The block's observed frequency of the event (the recalibrated probability).
    weight : list of float
        The block's total sample weight.
    """

    score_low: list[float]
    score_high: list[float]
    recalibrated: list[float]
    weight: list[float]


@dataclass(frozen=True)
class Corp:
    """The CORP decomposition of one binary score table: both scores and the curve."""

    log_loss: DecompositionTerms
    brier: DecompositionTerms
    curve: ReliabilityCurve


@dataclass(frozen=True)
class Decomposition:
    """The decomposition section of an :class:`Evaluation`.

    Attributes
    ----------
    method : str
        How it was computed, in words.
    target : str
        What was decomposed: the positive-class probability (binary), the top-label
        confidence against correctness (multiclass, samples needed), or only the classes
        one-vs-rest.
    log_loss, brier : DecompositionTerms or None
        The target's terms; None for multiclass without the samples.
    curve : ReliabilityCurve or None
        The target's reliability curve.
    per_class : dict of str to dict of str to DecompositionTerms, or None
        Multiclass: each class one-vs-rest, ``{"log_loss": ..., "brier": ...}``.
    intervals : dict of str to dict of str to list of float, or None
        The target's terms at the evaluation's confidence, ``{"log_loss":
        {"miscalibration": [low, high], "discrimination": [...], "uncertainty": [...]},
        "brier": {...}}``; None without bootstrap replicates (and for ``per_class``).
    ci_method : str or None
        How the intervals were computed, in words.
    """

    method: str
    target: str
    log_loss: DecompositionTerms | None = None
    brier: DecompositionTerms | None = None
    curve: ReliabilityCurve | None = None
    per_class: dict[str, dict[str, DecompositionTerms]] | None = None
    intervals: dict[str, dict[str, list[float]]] | None = None
    ci_method: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON of the section: the keys that apply, terms as plain dicts."""
        return {key: value for key, value in asdict(self).items() if value is not None}


@dataclass(frozen=True)
class WorstSample:
    """One of the samples with the highest log loss.

    Attributes
    ----------
    id : object
        The sample's id (its row number when none was given).
    label, predicted : object
        The true class and the decision.
    prob_true_class : float
        The probability the model gave the true class.
    loss : float
        The sample's log loss, in nats (``inf`` when ``prob_true_class`` is 0).
    """

    id: Any
    label: Any
    predicted: Any
    prob_true_class: float
    loss: float


@dataclass(frozen=True)
class Finding:
    """One reason loss and accuracy disagree (or agree), with its numbers and the fix.

    Attributes
    ----------
    code : str
        From the fixed vocabulary of the rule book, ``lossgap.rules.book.CODES``
        (``docs/findings.md``); rules build findings through it, never directly.
    severity : str
        ``"high"``, ``"medium"``, ``"low"`` or ``"info"``.
    message : str
        One plain sentence with the numbers.
    evidence : Evidence
        The numbers behind the message, keys documented per code (read :meth:`number`
        for a number).
    advice : str
        What to do about it.
    """

    code: str
    severity: str
    message: str
    evidence: Evidence = field(default_factory=dict)
    advice: str = ""

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            msg = f"severity must be one of {SEVERITIES}, got {self.severity!r}"
            raise ValueError(msg)

    @property
    def rank(self) -> int:
        return SEVERITIES.index(self.severity)

    def number(self, key: str, default: float | None = None) -> float:
        """The evidence ``key`` as a float.

        Raises
        ------
        KeyError
            When the evidence has no ``key`` (or holds null there) and no ``default`` is
            given.
        TypeError
            When the value is not a number (a string, a list, a boolean).

        Examples
        --------
        >>> f = Finding("wide_intervals", "low", "m", {"n": 40, "half_width": 0.15})
        >>> f.number("n"), f.number("count", 0.0)
        (40.0, 0.0)
        """
        value = self.evidence.get(key)
        if value is None:
            if default is None:
                raise KeyError(key)
            return default
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            msg = f"evidence {key!r} of {self.code} is not a number: {value!r}"
            raise TypeError(msg)
        return float(value)


@dataclass(frozen=True, repr=False)
class Evaluation(Displayable):
    """The full evaluation of one set of predictions.

    Attributes
    ----------
    task : str
        ``"binary"`` or ``"multiclass"``.
    n : int
        Number of samples.
    classes : list
        Class labels in column order; for binary the second is the positive class.
    base_rate : float or list of float
        Binary: weighted share of the positive class; multiclass: share of each class.
    threshold : float or None
        Binary decision threshold (``p >= threshold`` is positive); None for multiclass.
    decision_rule : str
        The rule in words.
    metrics : dict of str to MetricValue
    diagnostics : Diagnostics
        Facts the finding rules read that are not metrics (counts, shares, tests).
    decomposition : Decomposition or None
        None when not computed (``detail="summary"``).
    recalibration : Recalibration or None
        The recalibration maps judged on held-out folds, or why they could not be; None
        when not computed (``detail="summary"``).
    findings : list of Finding
        Ranked by severity, highest first.
    worst : list of WorstSample
        The samples with the highest log loss, highest first.
    confidence : float
        Confidence level of the intervals.
    per_class : list of ClassSummary
        Multiclass: each class's numbers (empty for binary).
    confusion : Confusion or None
        Multiclass: the confusion matrix with the loss share of each cell.
    confusion_pairs : list of ConfusionPair
        Multiclass: the confusion cells that carry the most loss.
    slices : list of Slice
        With ``groups`` (``--by``): each group's evaluation and share of the loss.
    decision : Decision or None
        Thresholds and costs of the decisions (``docs/decisions.md``); None when not
        computed.
    """

    task: str
    n: int
    classes: list[Any]
    base_rate: float | list[float]
    threshold: float | None
    decision_rule: str
    metrics: dict[str, MetricValue]
    diagnostics: Diagnostics
    decomposition: Decomposition | None = None
    recalibration: Recalibration | None = None
    findings: list[Finding] = field(default_factory=list)
    worst: list[WorstSample] = field(default_factory=list)
    confidence: float = 0.95
    weighted: bool = False
    per_class: list[ClassSummary] = field(default_factory=list)
    confusion: Confusion | None = None
    confusion_pairs: list[ConfusionPair] = field(default_factory=list)
    slices: list[Slice] = field(default_factory=list)
    decision: Decision | None = None

    def metric(self, name: str) -> float:
        """The point value of metric ``name``."""
        return self.metrics[name].value

    def recalibration_map(self, name: str | None = None) -> RecalibrationMap | None:
        """The held-out scores of recalibration map ``name`` (default: the best), or None
        when it was not scored."""
        return None if self.recalibration is None else self.recalibration.method(name)

    def finding(self, code: str) -> Finding | None:
        """The finding with ``code``, or None."""
        return next((f for f in self.findings if f.code == code), None)

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract: plain Python types, non-finite floats made JSON-safe.

        Examples
        --------
        >>> import lossgap
        >>> d = lossgap.explain([0, 1, 1, 0], [0.1, 0.8, 0.7, 0.4]).to_dict()
        >>> [key for key in ("task", "metrics", "findings", "worst") if key in d]
        ['task', 'metrics', 'findings', 'worst']
        >>> d["metrics"]["accuracy"]["value"]
        1.0
        """
        out = {
            "task": self.task,
            "n": self.n,
            "classes": list(self.classes),
            "base_rate": self.base_rate,
            "threshold": self.threshold,
            "decision_rule": self.decision_rule,
            "confidence": self.confidence,
            "weighted": self.weighted,
            "metrics": {name: asdict(m) for name, m in self.metrics.items()},
            "decomposition": {} if self.decomposition is None else self.decomposition.to_dict(),
            "recalibration": {} if self.recalibration is None else self.recalibration.to_dict(),
            "findings": [asdict(f) for f in self.findings],
            "worst": [asdict(row) for row in self.worst],
            "diagnostics": self.diagnostics.to_dict(),
            "decision": None if self.decision is None else self.decision.to_dict(),
        }
        if self.confusion is not None:  # multiclass: where the loss lives
            out["per_class"] = [c.to_dict() for c in self.per_class]
            out["confusion"] = self.confusion.to_dict()
            out["confusion_pairs"] = [p.to_dict() for p in self.confusion_pairs]
        if self.slices:
            out["slices"] = [s.to_dict() for s in self.slices]
        return json_safe(out)


# A Slice holds an Evaluation and an Evaluation holds its slices: one module for both.


@dataclass(frozen=True)
class Slice:
    """One group of one ``by`` column: its evaluation and where it sits in the whole.

    Attributes
    ----------
    by : str
        The grouping column (or name given to ``groups``).
    group : label
        The group's value.
    n : int
        Its samples.
    share : float
        Its share of the total weight.
    loss_share : float
        Its share of the whole's log loss (capped losses).
    confident_errors, expected_if_calibrated, confident_errors_p_value : float
        Its confident errors (true class at most 0.1), what a calibrated model would make
        and the Poisson chance of as many.
    calibration : CalibrationTest
    evaluation : Evaluation
        The group's own metrics with intervals, decomposition and findings.
    """

    by: str
    group: Any
    n: int
    share: float
    loss_share: float
    confident_errors: float
    expected_if_calibrated: float
    confident_errors_p_value: float
    calibration: CalibrationTest
    evaluation: Evaluation

    def to_dict(self) -> dict[str, Any]:
        ev = self.evaluation.to_dict()
        return {
            "by": self.by,
            "group": self.group,
            "n": self.n,
            "share": self.share,
            "loss_share": self.loss_share,
            "confident_errors": self.confident_errors,
            "expected_if_calibrated": self.expected_if_calibrated,
            "confident_errors_p_value": self.confident_errors_p_value,
            "calibration": self.calibration.to_dict(),
            "metrics": ev["metrics"],
            "decomposition": ev["decomposition"],
            "findings": ev["findings"],
        }


def flat_asdict(result: Any) -> dict[str, Any]:
    """``dataclasses.asdict`` of a dataclass whose fields hold plain values or lists of
    them, without its recursive deep copy (about 10 us a finding's evidence; at 1,225
    pairs, 0.13-0.2 s of every ``compare --json``).

    Examples
    --------
    >>> from lossgap.results.diagnostics import ThresholdBand
    >>> flat_asdict(ThresholdBand(0.05, 2.0, 0.1, 1.0, 1.0, 0.5, 0.4, 0.6))["accuracy_low"]
    0.4
    """
    out = dict(vars(result))
    for name, value in out.items():
        if type(value) is list:
            out[name] = list(value)  # the dict's lists are its own, as asdict's
    return out


def json_safe(value: Any) -> Any:
    """Recursively convert to JSON types: numpy scalars to Python, NaN to None, inf to "inf".

    Examples
    --------
    >>> json_safe({"a": float("nan"), "b": [float("inf"), 1.5]})
    {'a': None, 'b': ['inf', 1.5]}
    """
    # the exact built-in types first, by identity: a JSON answer can hold hundreds of
    # thousands of them (the label-error candidates), where a chain of isinstance and
    # hasattr checks per value cost half a second at n = 1e6
    kind = type(value)
    if kind is float:
        return value if math.isfinite(value) else _non_finite(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is dict:
        return {str(k): json_safe(v) for k, v in value.items()}
    if kind is list:
        return [json_safe(v) for v in value]
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return json_safe(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return _non_finite(value)
    return value


def _non_finite(value: float) -> str | None:
    """NaN is None; infinities are the strings "inf" and "-inf"."""
    if math.isnan(value):
        return None
    return "inf" if value > 0 else "-inf"

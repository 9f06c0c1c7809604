"""The plot series of an evaluation that the Evaluation itself does not hold."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from lossgap.results.evaluation import json_safe


@dataclass(frozen=True)
class ConsistencyBand:
    """Where the CORP reliability curve of a calibrated model would lie, pointwise.

    Attributes
    ----------
    score : list of float
        The distinct (or pooled) scores the band is drawn at.
    low, high : list of float or None
        The band at each score (None where no resample reached it).
    confidence : float
        Pointwise coverage.
    replicates : int
        Resamples.
    n : int
        Samples drawn per resample.
    method : str
        How, in words.
    """

    score: list[float]
    low: list[float | None]
    high: list[float | None]
    confidence: float
    replicates: int
    n: int
    method: str


@dataclass(frozen=True)
class ThresholdValue:
    """A threshold and the value a metric takes there."""

    threshold: float
    value: float


@dataclass(frozen=True)
class ThresholdMetrics:
    """The threshold curves' metrics at the threshold in use."""

    threshold: float
    accuracy: float
    f1: float
    precision: float
    recall: float
    positive_share: float


@dataclass(frozen=True)
class ThresholdCurves:
    """Accuracy, F1, precision and recall at every distinct threshold (binary).

    Attributes
    ----------
    threshold : list of float
        Ascending; ``p >= threshold`` predicts positive.
    accuracy, f1, precision, recall, positive_share : list of float
        Each metric at each threshold.
    current : ThresholdMetrics
        The metrics at the threshold in use.
    exact : bool
        False when the table is compressed into bins (thresholds are bin representatives).
    best_accuracy, best_f1 : ThresholdValue
        The lowest threshold that attains the maximum, and the maximum.
    """

    threshold: list[float]
    accuracy: list[float]
    f1: list[float]
    precision: list[float]
    recall: list[float]
    positive_share: list[float]
    current: ThresholdMetrics
    exact: bool
    best_accuracy: ThresholdValue
    best_f1: ThresholdValue


@dataclass(frozen=True)
class ConfidenceHistogram:
    """Weight of correct and of wrong decisions per bin of confidence.

    Attributes
    ----------
    edges : list of float
        ``bins + 1`` edges; the last bin is closed on the right.
    correct, wrong : list of float
        Weight per bin.
    total_correct, total_wrong : float
    """

    edges: list[float]
    correct: list[float]
    wrong: list[float]
    total_correct: float
    total_wrong: float


@dataclass(frozen=True)
class LabelledPoint:
    """One of the worst samples, named in the plot of loss against confidence."""

    id: Any
    confidence: float
    loss: float
    correct: bool


@dataclass(frozen=True)
class SamplePoints:
    """Per-sample log loss against the confidence of the decision, thinned for plotting.

    Attributes
    ----------
    confidence, loss : list of float
        Of each shown sample; an infinite loss is shown at the 34.54-nat clip.
    correct, infinite : list of bool
        The decision was right; the loss was infinite.
    shown, n : int
        Samples shown, of all.
    labelled : list of LabelledPoint
        The worst samples, named by id.
    """

    confidence: list[float]
    loss: list[float]
    correct: list[bool]
    infinite: list[bool]
    shown: int
    n: int
    labelled: list[LabelledPoint]


@dataclass(frozen=True)
class DecisionCurve:
    """The series behind the decision plots of a binary score table.

    Attributes
    ----------
    threshold : list of float
        Ascending; ``p >= threshold`` decides positive.
    precision, recall : list of float
    cost : list of float or None
        With costs: the mean cost per sample at each threshold.
    net_benefit, net_benefit_all : list of float or None
        Without costs: the net benefit of deciding by the model, and of deciding positive
        for everyone.
    """

    threshold: list[float]
    precision: list[float]
    recall: list[float]
    cost: list[float] | None = None
    net_benefit: list[float] | None = None
    net_benefit_all: list[float] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The series that apply (``cost``, or the two net benefits)."""
        return json_safe({k: v for k, v in asdict(self).items() if v is not None})


@dataclass(frozen=True)
class FlipPoints:
    """Two models on the same samples: each shown sample's probability under both.

    Attributes
    ----------
    axis : str
        ``"positive"`` (binary: probability of the positive class) or ``"true class"``.
    prob_a, prob_b : list of float
        Each shown sample's probability under either model.
    category : list of str
        ``"both"``, ``"a_only"``, ``"b_only"`` or ``"neither"`` (which model is right).
    counts : dict of str to int
        Each category over all samples.
    threshold : float or None
        Binary: the decision threshold.
    shown, n : int
        Samples shown, of all.
    """

    axis: str
    prob_a: list[float]
    prob_b: list[float]
    category: list[str]
    counts: dict[str, int]
    threshold: float | None
    shown: int
    n: int


@dataclass(frozen=True)
class ExplainCurves:
    """The plot series of one evaluation that the Evaluation itself does not hold.

    Attributes
    ----------
    band : ConsistencyBand or None
        :func:`lossgap.curves.consistency_band` of the table the CORP curve was fitted on
        (binary: the positive-class probability; multiclass: the top label, samples needed).
    band_outside : float or None
        :func:`lossgap.curves.curve_outside_band` of the evaluation's CORP curve.
    histogram : ConfidenceHistogram or None
        :func:`lossgap.curves.confidence_histogram` of the decisions.
    thresholds : ThresholdCurves or None
        :func:`lossgap.curves.threshold_curves` (binary only).
    points : SamplePoints or None
        :func:`lossgap.curves.sample_points` (samples needed).
    decision : DecisionCurve or None
        :func:`lossgap.core.decision.decision_curve` of a binary evaluation with costs.
    """

    band: ConsistencyBand | None = None
    band_outside: float | None = None
    histogram: ConfidenceHistogram | None = None
    thresholds: ThresholdCurves | None = None
    points: SamplePoints | None = None
    decision: DecisionCurve | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-safe data."""
        out = asdict(self)
        out["decision"] = None if self.decision is None else self.decision.to_dict()
        return json_safe(out)

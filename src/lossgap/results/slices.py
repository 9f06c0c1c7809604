"""Where the loss lives: per-class summaries, confusion pairs, slices and multilabel results.

Plain frozen data that the renderers read; the numbers come from :mod:`lossgap.core.per_class`
and :mod:`lossgap.core.groups`, the findings from :mod:`lossgap.rules.slices`. Each type's
``to_dict`` follows ``docs/json.md``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class ClassSummary:
    """One class of a multiclass evaluation, one-vs-rest where a score needs two classes.

    Attributes
    ----------
    label : label
        The class (``"class"`` in the JSON).
    support : float
        Weight of the samples of this class.
    precision, recall, f1 : float
        Of this class at the decision rule (0 where undefined, as scikit-learn).
    loss_share : float
        Share of the total log loss (each loss capped at 34.54 nats) carried by the samples
        of this class.
    log_loss : float
        Mean log loss of the samples of this class (capped, as the share).
    ovr_log_loss : float
        Binary log loss of this class's probability column against "this class or not".
    ece, smooth_ece : float
        One-vs-rest binned and smooth ECE of the column (smooth ECE NaN when not computed).
    miscalibration, discrimination, uncertainty : float or None
        CORP terms of the one-vs-rest log loss (None when not computed).
    confident_errors : float
        Weight of samples of this class given at most ``1 - level`` (0.1) by the model.
    expected_if_calibrated : float
        What a calibrated model would show there: the probabilities of this class summed
        over every sample at which the column is at most ``1 - level``.
    confident_errors_loss_share : float
        Share of the total log loss carried by those confident errors.
    p_value : float
        Poisson chance of at least ``confident_errors`` given ``expected_if_calibrated``.
    reliability : dict
        The ECE's bins that hold samples: ``score`` (mean probability of the class),
        ``observed`` (share of the class) and ``weight``, for the reliability diagram.
    """

    label: Any
    support: float
    precision: float
    recall: float
    f1: float
    loss_share: float
    log_loss: float
    ovr_log_loss: float
    ece: float
    smooth_ece: float
    miscalibration: float | None
    discrimination: float | None
    uncertainty: float | None
    confident_errors: float
    expected_if_calibrated: float
    confident_errors_loss_share: float
    p_value: float
    reliability: dict[str, list[float]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        return {"class": out.pop("label"), **out}


@dataclass(frozen=True)
class ConfusionPair:
    """The samples of one true class decided as another, and the loss they carry.

    Attributes
    ----------
    true, predicted : label
    count : float
        Their weight.
    loss_share : float
        Share of the total log loss (capped losses) they carry.
    expected_if_calibrated : float
        The weight a calibrated model would put there: the probability of ``true`` summed
        over the samples decided as ``predicted``.
    p_value : float
        Poisson chance of at least ``count`` given ``expected_if_calibrated``.
    ids : list
        The most confident of them (highest loss first), among the worst samples kept.
    """

    true: Any
    predicted: Any
    count: float
    loss_share: float
    expected_if_calibrated: float
    p_value: float
    ids: list[Any] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Confusion:
    """The weighted confusion matrix (rows: truth, columns: decision) and its log loss."""

    classes: list[Any]
    matrix: list[list[float]]
    loss_share: list[list[float]]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class CalibrationTest:
    """Likelihood-ratio test of calibration: logistic recalibration against none.

    Attributes
    ----------
    target : str
        What was tested (the positive-class probability, or the top-label confidence).
    statistic : float
        ``2 (loss before - loss after)`` of the in-sample logistic recalibration
        ``sigmoid(a + b logit p)`` against ``a = 0, b = 1``; chi-square with 2 degrees of
        freedom under calibration.
    p_value : float
        NaN when no test is possible (one class only, or separable).
    gain : float
        Log loss the recalibration removes per unit weight (nats).
    intercept, slope : float
        The fitted recalibration.
    """

    target: str
    statistic: float
    p_value: float
    gain: float
    intercept: float
    slope: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

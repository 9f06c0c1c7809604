"""Results of ``lossgap interpret``: the readings, each split's interpretation, the whole.

Plain data with ``to_dict()`` (the JSON contract of ``docs/json.md``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from lossgap.results.display import Displayable
from lossgap.results.evaluation import Finding, json_safe

#: Split order: the first present of these is the one the findings lead with.
MAIN_SPLITS = ("val", "test", "given", "train")


@dataclass(frozen=True)
class Reading:
    """One number as given, with the rounding its printed digits imply.

    Attributes
    ----------
    value : float
    tolerance : float
        Half a unit of the last printed decimal, and at least :data:`FLOAT_PRECISION`
        times the value.
    key : str
        Where it came from: the key in the text, or the option.
    """

    value: float
    tolerance: float = 0.0
    key: str = ""

    @property
    def interval(self) -> tuple[float, float]:
        return max(0.0, self.value - self.tolerance), self.value + self.tolerance


def split_order(item: tuple[tuple[str, str], Any]) -> tuple[int, int]:
    (split, metric), _ = item
    order = ("train", "val", "test")
    return (order.index(split) if split in order else 3, ("loss", "accuracy", "f1").index(metric))


@dataclass(frozen=True)
class AccuracyNoise:
    """The sampling noise of an accuracy measured on ``n`` samples.

    Attributes
    ----------
    n : int
        Samples behind the accuracy.
    standard_error : float
        ``sqrt(A (1 - A) / n)`` (the larger one over the accuracies the digits allow).
    ci_low, ci_high : float
        The Wilson score interval, over the accuracies the printed digits allow.
    confidence : float
        Level of the interval.
    method : str
        ``"wilson"``.
    one_sample : float
        ``1 / n``: how far one flipped prediction moves the accuracy.
    """

    n: int
    standard_error: float
    ci_low: float
    ci_high: float
    confidence: float
    method: str
    one_sample: float


@dataclass(frozen=True)
class GeneralizationGap:
    """Training against the held-out split: the differences, their noise, their meaning.

    Attributes
    ----------
    between : list of str
        ``["train", "val"]`` or ``["train", "test"]``.
    loss_difference : float
        Held-out loss minus training loss.
    relative_loss_difference : float or None
        That difference over the training loss (None when the training loss is 0).
    accuracy_difference : float or None
        Training accuracy minus held-out accuracy, when both are given.
    accuracy_difference_standard_error, accuracy_difference_z : float or None
        Its standard error and z score, when the held-out ``n`` is given.
    noise_basis : str or None
        Whose sampling noise the standard error counts (``"both splits"``, or the
        held-out split only: a lower bound).
    within_noise : bool or None
        The accuracy difference is within its sampling noise at the confidence level.
    can_mean, cannot_mean : list of str
        What the gap can mean, and what it cannot tell, in sentences.
    """

    between: list[str]
    loss_difference: float
    relative_loss_difference: float | None
    accuracy_difference: float | None
    accuracy_difference_standard_error: float | None
    accuracy_difference_z: float | None
    noise_basis: str | None
    within_noise: bool | None
    can_mean: list[str]
    cannot_mean: list[str]


@dataclass(frozen=True)
class SplitInterpretation:
    """What one split's loss and accuracy can mean.

    Attributes
    ----------
    split : str
        ``train``, ``val``, ``test``, or ``given`` for numbers passed as options.
    log_loss : float
    log_loss_interval : list of float
        The values the printed digits allow.
    accuracy : float or None
        As given; None when only F1 was.
    accuracy_interval : list of float or None
        The accuracy as ``[A, A]``, or the range an F1 implies. The ranges below are
        computed at the printed numbers; the verdicts (``calibrated_feasible``,
        ``possible``) hold for every pair the printed digits allow.
    accuracy_source : str or None
        ``"accuracy"`` or ``"f1"``.
    f1 : float or None
    keys : dict
        Which key or option each number came from.
    n : int or None
        Samples behind the accuracy.
    classes : int
    base_rate : float or None
        Positive-class share (binary), when given.
    baseline_log_loss : float
        The no-skill loss: ``h(base_rate)``, or ``ln K`` when no base rate is given.
    normalized_entropy : float
        ``log_loss / baseline_log_loss``.
    normalized_entropy_is_lower_bound : bool
        True when no base rate was given: unbalanced classes have a lower no-skill loss.
    majority_accuracy : float or None
        ``max(p, 1 - p)`` when the base rate is given.
    calibrated_accuracy_range : list of float or None
        Lowest and highest accuracy of a calibrated model with this loss; None when no
        calibrated model has it. A loss printed just above the no-skill loss, within its
        rounding, is taken at the no-skill loss.
    calibrated_loss_range : list of float or None
        Lowest and highest loss of a calibrated model with this accuracy.
    calibrated_feasible : bool or None
        Some calibrated model has a pair the inputs allow (None without an accuracy).
    calibrated_feasible_within_noise : bool or None
        The same with the accuracy widened to its confidence interval (needs ``n``).
    possible : bool or None
        Any predictions at all have such a pair (loss at least ``(1 - A) ln 2``).
    correct_loss_max : float
        ``ln K``: the most a correct prediction can cost.
    error_loss_range : list of float or None
        Mean loss on the errors the pair implies.
    error_true_class_prob_range : list of float or None
        ``exp(-error_loss_range)`` reversed: the geometric mean of the probability the
        errors give their true class.
    fano_accuracy_max : float or None
        The highest accuracy of a calibrated model with this loss (Fano's inequality).
    accuracy_noise : AccuracyNoise or None
        Standard error and Wilson interval of the accuracy (needs ``n``).
    """

    split: str
    log_loss: float
    log_loss_interval: list[float]
    accuracy: float | None
    accuracy_interval: list[float] | None
    accuracy_source: str | None
    f1: float | None
    keys: dict[str, str]
    n: int | None
    classes: int
    base_rate: float | None
    baseline_log_loss: float
    normalized_entropy: float
    normalized_entropy_is_lower_bound: bool
    majority_accuracy: float | None
    calibrated_accuracy_range: list[float] | None
    calibrated_loss_range: list[float] | None
    calibrated_feasible: bool | None
    calibrated_feasible_within_noise: bool | None
    possible: bool | None
    correct_loss_max: float
    error_loss_range: list[float] | None
    error_true_class_prob_range: list[float] | None
    fano_accuracy_max: float | None
    accuracy_noise: AccuracyNoise | None

    def to_dict(self) -> dict[str, Any]:
        return json_safe(asdict(self))


@dataclass(frozen=True, repr=False)
class Interpretation(Displayable):
    """The interpretation of one or more splits, their gap, findings and explanation.

    Attributes
    ----------
    classes : int
    base_rate : float or None
    decision_rule : str
    confidence : float
        Level of the accuracy intervals.
    splits : dict of str to SplitInterpretation
    gap : GeneralizationGap or None
        Training against validation (or test): the differences, their noise, and what
        they can and cannot mean.
    findings : list of Finding
        Ranked by severity.
    explanation : list of str
        The interpretation in plain sentences.
    notes : list of str
        Assumptions made and inputs set aside.
    """

    classes: int
    base_rate: float | None
    decision_rule: str
    confidence: float
    splits: dict[str, SplitInterpretation]
    gap: GeneralizationGap | None = None
    findings: list[Finding] = field(default_factory=list)
    explanation: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def finding(self, code: str) -> Finding | None:
        """The first finding with ``code``, or None."""
        return next((f for f in self.findings if f.code == code), None)

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract (``docs/json.md``).

        Examples
        --------
        >>> from lossgap.interpret import interpret
        >>> d = interpret(loss=0.4577, accuracy=0.7826).to_dict()
        >>> sorted(d["splits"]["given"]["calibrated_accuracy_range"])[0] < 0.7826
        True
        """
        return json_safe(
            {
                "classes": self.classes,
                "base_rate": self.base_rate,
                "decision_rule": self.decision_rule,
                "confidence": self.confidence,
                "splits": {name: asdict(s) for name, s in self.splits.items()},
                "gap": None if self.gap is None else asdict(self.gap),
                "findings": [asdict(f) for f in self.findings],
                "explanation": self.explanation,
                "notes": self.notes,
            }
        )


def acc_text(s: SplitInterpretation) -> str:
    if s.accuracy is not None:
        return f"accuracy {s.accuracy:.4f}"
    low, high = s.accuracy_interval or (math.nan, math.nan)
    return f"accuracy {low:.4f}-{high:.4f} (from F1 {s.f1:.4f})"


def prob_text(p: float) -> str:
    """A probability for people: a percentage, or two significant digits when tiny.

    Examples
    --------
    >>> prob_text(0.1217), prob_text(0.00094), prob_text(6.3e-07)
    ('12.2%', '0.094%', '6.3e-05%')
    """
    return f"{p:.1%}" if p >= 0.01 else f"{p * 100:.2g}%"

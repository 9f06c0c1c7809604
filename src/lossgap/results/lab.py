"""Results of ``lossgap lab logistic``: the fits, the best cuts, the profiles, the whole lab."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from lossgap.results.display import Displayable
from lossgap.results.evaluation import json_safe

#: The points go to JSON, and per-point log losses are kept, only up to this many (the plots
#: always get the points; beyond, the losses follow from the slope and the intercept).
JSON_POINTS = 1000


@dataclass(frozen=True)
class CrossEntropyFit:
    """The maximum-likelihood (minimum cross-entropy) logistic fit.

    Attributes
    ----------
    slope, intercept : float
    cut : float
        ``-intercept / slope``: where the predicted probability crosses 1/2.
    orientation : str
        ``"+"`` (``x >= cut`` predicts 1) or ``"-"`` (``x <= cut`` predicts 1).
    per_point_log_loss : list of float or None
        None above :data:`JSON_POINTS` points.
    accuracy, log_loss : float
    """

    slope: float
    intercept: float
    cut: float
    orientation: str
    per_point_log_loss: list[float] | None
    accuracy: float
    log_loss: float


@dataclass(frozen=True)
class CutInterval:
    """One set of decisions that attains the best accuracy, and its price in log loss.

    Attributes
    ----------
    orientation : str
        ``"+"``: ``x >= cut`` predicts 1; ``"-"``: ``x <= cut`` predicts 1.
    low, high : float
        The cuts that give these decisions (``-inf``/``inf`` at the ends).
    low_closed, high_closed : bool
    rule : str
        The rule in words.
    accuracy : float
    min_log_loss : float
        The lowest log loss of a logistic model making exactly these decisions (its
        infimum when ``attained`` is false: an open end, or a slope running to infinity).
    attained : bool
    slope, intercept : float
        That model (slope ``inf`` when the infimum needs an infinite slope).
    cut : float or None
        Its cut (None for a constant model, slope 0).
    per_point_log_loss : list of float or None
        None above :data:`JSON_POINTS` points.
    """

    orientation: str
    low: float
    high: float
    low_closed: bool
    high_closed: bool
    rule: str
    accuracy: float
    min_log_loss: float
    attained: bool
    slope: float
    intercept: float
    cut: float | None
    per_point_log_loss: list[float] | None


@dataclass(frozen=True)
class Profile:
    """Log loss and accuracy along one parameter, the other fixed at its fitted value.

    Attributes
    ----------
    along : str
        ``"intercept"`` or ``"slope"``.
    fixed : dict
        ``{"slope": a}`` or ``{"intercept": b}``.
    values : list of float
        The grid of the varying parameter (its fitted value included).
    log_loss, accuracy : list of float
    fitted : float
        The fitted value of the varying parameter (where the log loss is lowest).
    best_accuracy : float
        The highest accuracy on the grid.
    best_accuracy_ranges : list of [float, float]
        The runs of grid values reaching it, first and last value of each run.
    """

    along: str
    fixed: dict[str, float]
    values: list[float]
    log_loss: list[float]
    accuracy: list[float]
    fitted: float
    best_accuracy: float
    best_accuracy_ranges: list[list[float]]


@dataclass(frozen=True)
class Separation:
    """Why no finite maximum-likelihood fit exists: the classes are separated.

    Attributes
    ----------
    kind : str
        ``"complete"`` (a gap between the classes), ``"quasi-complete"`` (they touch at
        one x) or ``"one class"``.
    orientation : str or None
        ``"+"`` (positives at the high x) or ``"-"``; None for one class.
    gap : list of float or None
        ``[top of the lower class, bottom of the upper class]``; None for one class.
    message : str
        The separation in one sentence.
    """

    kind: str
    orientation: str | None
    gap: list[float] | None
    message: str


@dataclass(frozen=True, repr=False)
class LabResult(Displayable):
    """Everything ``lossgap lab logistic`` reports; plots and text read it.

    Attributes
    ----------
    source : dict
        How the points were made: ``{"kind": "points"|"simulated"|"illustration", ...}``.
    x, y : list
        The points (y in {0, 1}).
    base_rate : float
    separation : Separation or None
        Set when no finite maximum-likelihood fit exists: the classes are separated.
    cross_entropy_fit : CrossEntropyFit or None
    best_accuracy : float
        The exact accuracy maximum over all cuts and both orientations.
    accuracy_intervals : list of CutInterval
        Every set of decisions attaining it.
    profiles : dict of str to Profile
        ``intercept`` and ``slope`` (empty without a fit).
    explanation : list of str
    """

    source: dict[str, Any]
    x: list[float]
    y: list[int]
    base_rate: float
    separation: Separation | None
    cross_entropy_fit: CrossEntropyFit | None
    best_accuracy: float
    accuracy_intervals: list[CutInterval]
    profiles: dict[str, Profile] = field(default_factory=dict)
    explanation: list[str] = field(default_factory=list)

    @property
    def n(self) -> int:
        return len(self.x)

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract (``docs/json.md``); points only up to :data:`JSON_POINTS`.

        Examples
        --------
        >>> from lossgap.lab import ILLUSTRATIONS, logistic_lab
        >>> d = logistic_lab(ILLUSTRATIONS[1]["x"], ILLUSTRATIONS[1]["y"]).to_dict()
        >>> d["cross_entropy_fit"]["accuracy"], d["best_accuracy"]
        (0.6, 0.8)
        """
        small = self.n <= JSON_POINTS
        return json_safe(
            {
                "source": self.source,
                "n": self.n,
                "points": [[x, y] for x, y in zip(self.x, self.y, strict=True)] if small else None,
                "base_rate": self.base_rate,
                "separation": None if self.separation is None else asdict(self.separation),
                "cross_entropy_fit": asdict(self.cross_entropy_fit)
                if self.cross_entropy_fit
                else None,
                "best_accuracy": self.best_accuracy,
                "accuracy_intervals": [asdict(i) for i in self.accuracy_intervals],
                "profiles": {name: asdict(p) for name, p in self.profiles.items()},
                "explanation": self.explanation,
            }
        )

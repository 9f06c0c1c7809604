"""The recalibration section of an Evaluation: each map judged on held-out folds."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

#: The fields of :class:`RecalibrationMap` that hold the map fitted on all samples.
MAP_PARAMETERS = ("temperature", "intercept", "slope")


@dataclass(frozen=True)
class RecalibrationMap:
    """One recalibration map, cross-fitted: the scores before and after it, held out.

    Attributes
    ----------
    log_loss_before, log_loss_after : float
        Log loss of the predictions as given, and after the map (held-out, cross-fitted).
    log_loss_gain, log_loss_gain_se : float
        Mean per-sample gain of the map (capped loss before minus loss after) and its
        standard error (Kish's effective count).
    brier_before, brier_after : float
    accuracy_before, accuracy_after : float
    decisions_changed : float
        Share of the weight whose decision the map changes.
    can_change_decisions : str
        Whether the map can change a decision, and why, in words (``"no: ..."``,
        ``"yes: ..."``; temperature scaling cannot).
    log_loss_after_interval : list of float
        ``[low, high]``: where the map's log loss on a new sample of the same size should
        fall, at the evaluation's confidence.
    temperature : float or None
        Temperature scaling: the temperature fitted on all samples (``inf`` when the fit
        has no positive slope).
    intercept, slope : float or None
        The intercept map (its ``intercept``) and Platt's (both), fitted on all samples.
    separable : bool or None
        Platt: the classes were separable, so the fit stopped short of its optimum.
    """

    log_loss_before: float
    log_loss_after: float
    log_loss_gain: float
    log_loss_gain_se: float
    brier_before: float
    brier_after: float
    accuracy_before: float
    accuracy_after: float
    decisions_changed: float
    can_change_decisions: str
    log_loss_after_interval: list[float]
    temperature: float | None = None
    intercept: float | None = None
    slope: float | None = None
    separable: bool | None = None

    @property
    def parameters(self) -> dict[str, float]:
        """The map's fitted parameters (``temperature``, or ``intercept`` and ``slope``)."""
        return {
            name: value
            for name in MAP_PARAMETERS
            if (value := getattr(self, name)) is not None
        }

    def to_dict(self) -> dict[str, Any]:
        """The scores, then the parameters the map has (absent keys, not nulls)."""
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if getattr(self, f.name) is not None
        }


@dataclass(frozen=True)
class Recalibration:
    """The recalibration section: every map scored on held-out folds, or why none was.

    Attributes
    ----------
    methods : dict of str to RecalibrationMap
        The maps by name (``"temperature"``, ``"intercept"``, ``"platt"``, ``"isotonic"``);
        empty when not computed.
    best : str or None
        The map with the lowest held-out log loss; None when not computed.
    scheme : str or None
        How the maps were judged out of sample, in words (the folds, and how samples were
        split); None when not computed.
    folds, seed : int or None
        The number of folds and the seed that drew them.
    note : str or None
        What the methods leave out (multiclass: Platt is binary only; isotonic details).
    reason : str or None
        Why the maps were not computed (too few samples, multiclass without the samples);
        None when they were.

    Examples
    --------
    >>> Recalibration(reason="12 samples; cross-fitting needs 20").to_dict()
    {'scheme': 'not computed: 12 samples; cross-fitting needs 20', 'methods': {}}
    """

    methods: dict[str, RecalibrationMap] = field(default_factory=dict)
    best: str | None = None
    scheme: str | None = None
    folds: int | None = None
    seed: int | None = None
    note: str | None = None
    reason: str | None = None

    def __post_init__(self) -> None:
        # one of two states: computed (maps, the best among them) or not (a reason alone)
        if (self.reason is None) == (not self.methods) or (
            self.best is not None and self.best not in self.methods
        ):
            msg = "a recalibration has either its maps and the best of them, or a reason"
            raise ValueError(msg)

    @property
    def computed(self) -> bool:
        """Whether the maps were scored (False: ``reason`` says why not)."""
        return self.reason is None

    @property
    def description(self) -> str:
        """The scheme, or ``"not computed: REASON"``: what the JSON's ``scheme`` says."""
        return f"not computed: {self.reason}" if self.reason is not None else str(self.scheme)

    def method(self, name: str | None = None) -> RecalibrationMap | None:
        """The map ``name`` (default: the best), or None when it was not scored."""
        chosen = name or self.best
        return None if chosen is None else self.methods.get(chosen)

    def to_dict(self) -> dict[str, Any]:
        """``{"scheme", "folds", "seed", "methods", ["note"], "best"}``; not computed:
        ``{"scheme": "not computed: REASON", "methods": {}}``."""
        if not self.computed:
            return {"scheme": self.description, "methods": {}}
        out: dict[str, Any] = {
            "scheme": self.scheme,
            "folds": self.folds,
            "seed": self.seed,
            "methods": {name: m.to_dict() for name, m in self.methods.items()},
        }
        if self.note is not None:
            out["note"] = self.note
        out["best"] = self.best
        return out

"""The plot series of an evaluation that the Evaluation itself does not hold."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from lossgap.results.evaluation import json_safe


@dataclass(frozen=True)
class ExplainCurves:
    """The plot series of one evaluation that the Evaluation itself does not hold.

    Attributes
    ----------
    band : dict or None
        :func:`lossgap.curves.consistency_band` of the table the CORP curve was fitted on
        (binary: the positive-class probability; multiclass: the top label, samples needed).
    band_outside : float or None
        :func:`lossgap.curves.curve_outside_band` of the evaluation's CORP curve.
    histogram : dict or None
        :func:`lossgap.curves.confidence_histogram` of the decisions.
    thresholds : dict or None
        :func:`lossgap.curves.threshold_curves` (binary only).
    points : dict or None
        :func:`lossgap.curves.sample_points` (samples needed).
    decision : dict or None
        :func:`lossgap.core.decision.decision_curve` of a binary evaluation with costs.
    """

    band: dict[str, Any] | None = None
    band_outside: float | None = None
    histogram: dict[str, Any] | None = None
    thresholds: dict[str, Any] | None = None
    points: dict[str, Any] | None = None
    decision: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-safe data."""
        return json_safe(asdict(self))

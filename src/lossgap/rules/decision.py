"""Finding rules on the ``decision`` section: is the threshold in use the one to use?

Each rule reads :attr:`Evaluation.decision` (:class:`~lossgap.results.decision.Decision`)
and compares numbers already there; the thresholds are documented in the ``## decision``
section of ``docs/findings.md``. A threshold "cannot be told from the best" when it lies
in the chosen threshold's interval (a one-sided paired bootstrap test, see
:mod:`lossgap.core.decision`); a rule fires only when the threshold in use lies outside it
and its excess cost's interval excludes 0.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lossgap.results.decision import CostAt, Decision, ThresholdChoice
from lossgap.results.evaluation import Evaluation, Finding
from lossgap.rules.book import (
    COSTLY_ARGMAX,
    THRESHOLD_COSTLY,
    THRESHOLD_MISCALIBRATION,
    THRESHOLD_NOT_ACCURACY_OPTIMAL,
)

Rule = Callable[[Evaluation], Finding | None]


def how_to_recalibrate(method: str, parameters: dict[str, Any] | None = None) -> str:
    """Advice: how to apply a recalibration map with lossgap, scikit-learn and torch.

    Examples
    --------
    >>> print(how_to_recalibrate("temperature", {"temperature": 1.5}))  # doctest: +ELLIPSIS
    Ship the map: `lossgap explain FILE --save-calibrator cal.json --calibrator temperature`...
    """
    parameters = parameters or {}
    sklearn_method = {
        "temperature": "temperature",
        "intercept": "sigmoid",
        "platt": "sigmoid",
        "isotonic": "isotonic",
    }
    since = "1.8" if method == "temperature" else "1.6"
    text = (
        f"Ship the map: `lossgap explain FILE --save-calibrator cal.json --calibrator {method}`, "
        "then `lossgap calibrate cal.json NEW_PREDICTIONS` or "
        "`lossgap.Calibrator.load('cal.json').transform(p)`. In scikit-learn (>= "
        f"{since}), fit it on held-out data with `CalibratedClassifierCV(FrozenEstimator(model), "
        f'method="{sklearn_method[method]}")`.'
    )
    if method == "temperature":
        t = parameters.get("temperature")
        value = f"{t:.4g}" if isinstance(t, float) else "T"
        text += (
            f" In torch, divide the logits by the temperature: `torch.softmax(logits / {value}, "
            "dim=-1)` (binary: `torch.sigmoid(logit / T)`); it keeps every argmax."
        )
    elif method == "intercept":
        a = parameters.get("intercept")
        shift = f"{a:+.4g}" if isinstance(a, float) else "+ a"
        text += (
            f" (scikit-learn has no intercept-only map: sigmoid fits a slope too.) In torch: "
            f"`torch.sigmoid(logit {shift})`."
        )
    elif method == "platt":
        a, b = parameters.get("intercept"), parameters.get("slope")
        fitted = (
            f"{a:.4g} + {b:.4g} * logit"
            if isinstance(a, float) and isinstance(b, float)
            else "a + b * logit"
        )
        text += f" In torch: `torch.sigmoid({fitted})`."
    return text


def _cost(value: float) -> str:
    return f"{value:.4g}"


def _interval(choice: ThresholdChoice) -> str:
    return f"[{choice.threshold_low:.3g}, {choice.threshold_high:.3g}]"


def _clearly_worse(at: CostAt | None, choice: ThresholdChoice) -> bool:
    """Outside the interval of thresholds as good as the best, and costlier beyond noise."""
    if at is None or choice.covers(at.threshold):
        return False
    # without a bootstrap there is no interval to judge by: no finding
    return at.excess_ci_low is not None and at.excess_ci_low > 0


def _evidence(d: Decision, at: CostAt, choice: ThresholdChoice) -> dict[str, Any]:
    return {
        "threshold": at.threshold,
        "cost": at.cost,
        "excess": at.excess,
        "excess_ci_low": at.excess_ci_low,
        "excess_ci_high": at.excess_ci_high,
        "best_threshold": choice.threshold,
        "best_threshold_low": choice.threshold_low,
        "best_threshold_high": choice.threshold_high,
        "best_cost": choice.value,
        "costs": d.costs,
    }


def threshold_costly(ev: Evaluation) -> Finding | None:
    """The threshold in use costs more than the best one beyond noise (costs given)."""
    d = ev.decision
    if d is None or "cost" not in d.optimal:
        return None
    choice, at = d.optimal["cost"], d.cost_at("threshold")
    if at is None or not _clearly_worse(at, choice):
        return None
    return THRESHOLD_COSTLY.finding(
        "medium",
        f"At the threshold {at.threshold:g} the mean cost is {_cost(at.cost)} per sample; "
        f"deciding at {choice.threshold:.3g} (any threshold in {_interval(choice)} is as "
        f"good) costs {_cost(choice.value)}, {_cost(at.excess)} less "
        f"([{_cost(at.excess_ci_low or at.excess)}, {_cost(at.excess_ci_high or at.excess)}]).",
        _evidence(d, at, choice),
        f"Decide with p >= {choice.threshold:.3g} (`--threshold {choice.threshold:.3g}`), "
        "chosen here on the same samples: confirm it on a fresh split.",
    )


def threshold_miscalibration(ev: Evaluation) -> Finding | None:
    """The cheapest threshold is not the one a calibrated model would use (costs given)."""
    d = ev.decision
    if d is None or "cost" not in d.optimal or d.calibrated_threshold is None:
        return None
    choice, at = d.optimal["cost"], d.cost_at("calibrated")
    if at is None or not _clearly_worse(at, choice):
        return None
    best = ev.recalibration.get("best") if ev.recalibration.get("methods") else None
    parameters = ev.recalibration.get("methods", {}).get(best, {}) if best else {}
    advice = (
        f"Either decide at {choice.threshold:.3g} on the raw outputs, or recalibrate and "
        f"decide at {d.calibrated_threshold:.3g}, where the costs alone put it. "
    )
    if best:
        advice += how_to_recalibrate(best, parameters)
    return THRESHOLD_MISCALIBRATION.finding(
        "medium",
        f"A calibrated model would minimise this cost at p >= {d.calibrated_threshold:.3g} "
        "(FP / (FP + FN)), but on these samples the cheapest threshold is "
        f"{choice.threshold:.3g} {_interval(choice)}, and deciding at "
        f"{d.calibrated_threshold:.3g} costs {_cost(at.excess)} more per sample: the "
        "probabilities are miscalibrated where the decision is made.",
        {**_evidence(d, at, choice), "calibrated_threshold": d.calibrated_threshold},
        advice,
    )


def threshold_not_accuracy_optimal(ev: Evaluation) -> Finding | None:
    """Without costs: the threshold in use is not among those of best accuracy."""
    d = ev.decision
    if d is None or d.costs is not None or "accuracy" not in d.optimal or ev.threshold is None:
        return None
    choice = d.optimal["accuracy"]
    if choice.covers(ev.threshold):
        return None
    return THRESHOLD_NOT_ACCURACY_OPTIMAL.finding(
        "low",
        f"The threshold {ev.threshold:g} is not among those of best accuracy: "
        f"p >= {choice.threshold:.3g} (any in {_interval(choice)}) reaches accuracy "
        f"{choice.value:.4f} [{choice.ci_low or choice.value:.4f}, "
        f"{choice.ci_high or choice.value:.4f}] on these samples.",
        {
            "threshold": ev.threshold,
            "accuracy": ev.metric("accuracy"),
            "best_threshold": choice.threshold,
            "best_threshold_low": choice.threshold_low,
            "best_threshold_high": choice.threshold_high,
            "best_accuracy": choice.value,
        },
        "Give the costs of each error (`--costs FP,FN`) to choose the threshold for your use; "
        "a threshold away from 0.5 that wins accuracy often means the probabilities are "
        "shifted (recalibrate with Platt scaling).",
    )


def costly_argmax(ev: Evaluation) -> Finding | None:
    """Multiclass with costs: deciding by expected cost beats the argmax beyond noise."""
    d = ev.decision
    if d is None or d.task != "multiclass":
        return None
    rules = {r.rule: r for r in d.rules}
    diff = rules.get("difference")
    if diff is None or diff.ci_low is None or diff.ci_low <= 0:
        return None
    return COSTLY_ARGMAX.finding(
        "medium",
        f"Deciding by the argmax costs {_cost(rules['argmax'].cost)} per sample; deciding by "
        f"the least expected cost under the given cost matrix costs "
        f"{_cost(rules['cost_weighted'].cost)}, {_cost(diff.cost)} less "
        f"([{_cost(diff.ci_low)}, {_cost(diff.ci_high or diff.cost)}]).",
        {
            "argmax": rules["argmax"].cost,
            "cost_weighted": rules["cost_weighted"].cost,
            "difference": diff.cost,
            "ci_low": diff.ci_low,
            "ci_high": diff.ci_high,
        },
        "Decide by argmin over classes of sum_i p_i C[i][j] instead of the argmax; that rule "
        "assumes calibrated probabilities, so recalibrate first (temperature scaling).",
    )


#: The decision rules, appended to the explain rule book.
RULES: list[Rule] = [
    threshold_costly,
    threshold_miscalibration,
    costly_argmax,
    threshold_not_accuracy_optimal,
]

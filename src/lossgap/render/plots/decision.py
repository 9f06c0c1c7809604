"""Plots of the decision section: they read an Evaluation's ``decision`` and the series of
:func:`lossgap.core.decision.decision_curve`, and compute nothing.

* the cost against the threshold (or, without costs, the net benefit of decision-curve
  analysis), with the chosen threshold, the interval of thresholds as good as it, the
  threshold in use and the one a calibrated model would use;
* the precision-recall curve with the chosen threshold of each objective marked.
"""

from __future__ import annotations

import numpy as np

from lossgap.render.plots.chart import COLORS, Chart, new_figure, plot_style, short
from lossgap.results.curves import DecisionCurve
from lossgap.results.evaluation import Evaluation

_MARKERS = {"cost": "o", "accuracy": "s", "f1": "D", "balanced_accuracy": "^"}
_NAMES = {
    "cost": "least cost",
    "accuracy": "best accuracy",
    "f1": "best F1",
    "balanced_accuracy": "best balanced accuracy",
}


def cost_chart(ev: Evaluation, data: DecisionCurve | None) -> Chart | None:
    """The mean cost (or net benefit) of deciding at each threshold."""
    d = ev.decision
    if d is None or data is None or ev.threshold is None:
        return None
    costs = data.cost is not None
    key = "cost" if costs else "accuracy"
    choice = d.optimal.get(key)
    if choice is None:
        return None
    with plot_style():
        figure, ax = new_figure()
        x = np.asarray(data.threshold)
        if data.cost is not None:
            ax.step(
                x,
                data.cost,
                where="post",
                color=COLORS["wrong"],
                lw=1.8,
                label="mean cost per sample",
            )
            ax.set_ylabel("mean cost per sample")
        else:
            nb = np.asarray(data.net_benefit, dtype=np.float64)
            ax.plot(x, nb, color=COLORS["correct"], lw=1.8, label="net benefit of the model")
            ax.plot(
                x,
                data.net_benefit_all,
                color=COLORS["neutral"],
                lw=1.2,
                ls="--",
                label="decide positive for all",
            )
            ax.axhline(0.0, color=COLORS["ink"], lw=0.8, label="decide negative for all")
            finite = nb[np.isfinite(nb)]
            top = float(finite.max()) if len(finite) else 1.0
            ax.set_ylim(min(-0.05, -0.25 * abs(top)), max(top * 1.15, 0.05))
            ax.set_ylabel("net benefit (TP / n - FP / n * t / (1 - t))")
        ax.axvspan(
            choice.threshold_low,
            choice.threshold_high,
            color=COLORS["band"],
            alpha=0.25,
            label=f"as good as the best ({d.confidence:.0%})",
        )
        ax.axvline(
            choice.threshold,
            color=COLORS["accent"],
            lw=1.6,
            ls=":",
            label=f"{_NAMES[key]} ({choice.threshold:.3g})",
        )
        ax.axvline(
            ev.threshold,
            color=COLORS["ink"],
            lw=1,
            ls="--",
            label=f"threshold in use ({ev.threshold:g})",
        )
        if d.calibrated_threshold is not None:
            ax.axvline(
                d.calibrated_threshold,
                color=COLORS["second"],
                lw=1.2,
                ls="-.",
                label=f"calibrated model's ({d.calibrated_threshold:.3g})",
            )
        ax.set_xlim(0, 1)
        ax.set_xlabel(f"threshold (p \u2265 threshold decides {short(ev.classes[1])!r})")
        ax.legend(loc="best", fontsize=7.5)
    at = d.cost_at("threshold")
    if costs and at is not None:
        summary = (
            f"Least cost {choice.value:.4g} at {choice.threshold:.3g} (any in "
            f"[{choice.threshold_low:.3g}, {choice.threshold_high:.3g}]); "
            f"{at.cost:.4g} at the threshold in use"
        )
    else:
        summary = (
            f"Best accuracy at {choice.threshold:.3g} (any in [{choice.threshold_low:.3g}, "
            f"{choice.threshold_high:.3g}]); the net benefit weighs errors by the threshold"
        )
    if costs:
        caption = (
            "Each threshold decides p \u2265 threshold; the curve is exact at every distinct "
            "predicted probability. The shaded interval holds the thresholds whose cost is "
            "not significantly above the best one's: wide means the choice barely matters. "
            "A calibrated model's best threshold is FP / (FP + FN); far from the shaded "
            "interval, the probabilities are miscalibrated where the decision is made."
        )
    else:
        caption = (
            "Net benefit (Vickers & Elkin 2006) counts true positives less false positives "
            "weighted by the odds of the threshold: a model is useful where its curve lies "
            "above both the decide-all and the decide-none lines. The shaded interval holds "
            "the thresholds of accuracy as good as the best."
        )
    return Chart(
        "decision_cost" if costs else "net_benefit",
        "Cost of deciding at each threshold" if costs else "Decision curve",
        summary,
        caption,
        figure,
    )


def precision_recall_chart(ev: Evaluation, data: DecisionCurve | None) -> Chart | None:
    """Precision against recall, with the chosen threshold of each objective marked."""
    d = ev.decision
    if d is None or data is None or not d.optimal or ev.threshold is None:
        return None
    x = np.asarray(data.threshold)
    recall, precision = np.asarray(data.recall), np.asarray(data.precision)
    with plot_style():
        figure, ax = new_figure()
        ax.step(
            recall,
            precision,
            where="post",
            color=COLORS["correct"],
            lw=1.6,
            label="precision-recall curve",
        )
        for name, choice in d.optimal.items():
            j = min(int(np.searchsorted(x, choice.threshold, side="left")), len(x) - 1)
            ax.plot(
                recall[j],
                precision[j],
                _MARKERS[name],
                ms=7,
                mfc="none",
                mew=1.6,
                label=f"{_NAMES[name]} (t = {choice.threshold:.3g})",
            )
        j = min(int(np.searchsorted(x, ev.threshold, side="left")), len(x) - 1)
        ax.plot(
            recall[j],
            precision[j],
            "x",
            color=COLORS["ink"],
            ms=8,
            label=f"threshold in use ({ev.threshold:g})",
        )
        ax.set_xlim(0, 1.02)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel(f"recall of {short(ev.classes[1])!r}")
        ax.set_ylabel("precision")
        ax.legend(loc="lower left", fontsize=7.5)
    return Chart(
        "precision_recall",
        "Precision and recall of the chosen thresholds",
        "Where each objective's best threshold sits on the precision-recall curve",
        "Every threshold is a point of the curve; the markers show the threshold that is "
        "best for each objective on these samples and the one in use.",
        figure,
    )


def decision_charts(ev: Evaluation, data: DecisionCurve | None) -> list[Chart]:
    """The decision plots the evaluation has the numbers for."""
    charts = [cost_chart(ev, data), precision_recall_chart(ev, data)]
    return [c for c in charts if c is not None]

"""Plots of the logistic lab: they read a :class:`~lossgap.lab.logistic.LabResult`.

Each function returns a :class:`~lossgap.render.plots.chart.Chart` (a matplotlib figure with its
heading, the sentence that says what to see, and how to read it), so a report can embed it
and ``lossgap lab logistic --plot DIR`` can save it as PNG and SVG. The numbers come from
the result; the only curve drawn here is the fitted sigmoid itself.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.special import expit

from lossgap.render.plots.chart import COLORS, Chart, new_figure, plot_style
from lossgap.results.lab import LabResult, Profile


def _x_limits(result: LabResult) -> tuple[float, float]:
    low, high = min(result.x), max(result.x)
    pad = 0.12 * (high - low)
    return low - pad, high + pad


def _shade_intervals(ax: Any, result: LabResult, limits: tuple[float, float]) -> None:
    """Shade the cuts that attain the best accuracy (the constant rules have none)."""
    labelled = False
    for interval in result.accuracy_intervals:
        if math.isinf(interval.low) and math.isinf(interval.high):
            continue
        low = max(interval.low, limits[0])
        high = min(interval.high, limits[1])
        if low >= high:
            continue
        label = None if labelled else f"cuts with the best accuracy ({result.best_accuracy:.2f})"
        ax.axvspan(low, high, color=COLORS["accent"], alpha=0.25, lw=0, label=label)
        labelled = True


def fit_chart(result: LabResult) -> Chart:
    """The points, the cross-entropy fit and its cut, and the accuracy-maximising cuts."""
    limits = _x_limits(result)
    x, y = np.asarray(result.x), np.asarray(result.y)
    small = result.n <= 200
    fit = result.cross_entropy_fit
    with plot_style():
        figure, ax = new_figure(size=(6.4, 4.8))
        _shade_intervals(ax, result, limits)
        for label, color, marker in ((0, COLORS["correct"], "o"), (1, COLORS["wrong"], "s")):
            chosen = y == label
            ax.scatter(
                x[chosen], y[chosen], s=46 if small else 6, alpha=1.0 if small else 0.15,
                color=color, marker=marker, label=f"y = {label}", zorder=3, lw=0,
            )
        if fit is not None:
            grid = np.linspace(*limits, 400)
            fit_label = f"cross-entropy fit: slope {fit.slope:.3g}, intercept {fit.intercept:.3g}"
            ax.plot(grid, expit(fit.slope * grid + fit.intercept), color=COLORS["ink"], lw=1.8,
                    label=fit_label)
            ax.axvline(fit.cut, color=COLORS["ink"], ls="--", lw=1.2,
                       label=f"its cut x = {fit.cut:.3g} (accuracy {fit.accuracy:.2f})")
        ax.axhline(0.5, color=COLORS["neutral"], lw=0.8, ls=":")
        ax.set_xlim(*limits)
        ax.set_ylim(-0.08, 1.08)
        ax.set_xlabel("x (the input)")
        ax.set_ylabel("label y, and the fitted P(y = 1 | x)")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2)
    return Chart(
        name="logistic_fit",
        heading="Cross-entropy fit and accuracy-maximising cuts",
        summary=_fit_summary(result),
        caption=(
            "Points at y = 0 and y = 1; the curve is the maximum-likelihood logistic fit and the "
            "dashed line its cut (probability 1/2). Shaded: every cut that attains the best "
            "accuracy."
        ),
        figure=figure,
    )


def _fit_summary(result: LabResult) -> str:
    fit = result.cross_entropy_fit
    if fit is None:
        kind = result.separation.kind if result.separation else "separated"
        return (
            f"Separated classes ({kind}): no finite cross-entropy fit; the best cuts reach "
            f"accuracy {result.best_accuracy:.2f}"
        )
    if result.best_accuracy > fit.accuracy + 1e-12:
        at_fit, best = _pair(fit.accuracy, result.best_accuracy)
        return (
            f"The cross-entropy cut ({fit.cut:.3g}) gets accuracy {at_fit}; the shaded cuts "
            f"get {best}"
        )
    return (
        f"The cross-entropy cut ({fit.cut:.3g}) also attains the best accuracy "
        f"({fit.accuracy:.2f})"
    )


def profile_chart(result: LabResult, along: str) -> Chart | None:
    """Log loss and accuracy along the intercept or the slope, the other fixed at its fit."""
    prof = result.profiles.get(along)
    if prof is None:
        return None
    other = "slope" if along == "intercept" else "intercept"
    symbol = {"intercept": "b", "slope": "a"}
    values = np.asarray(prof.values)
    with plot_style():
        figure, ax = new_figure(size=(6.4, 4.2))
        ax.plot(values, prof.log_loss, color=COLORS["correct"], lw=2, label="log loss (left)")
        ax.axvline(prof.fitted, color=COLORS["ink"], ls="--", lw=1.2,
                   label=f"fitted {along} {symbol[along]} = {prof.fitted:.3g}")
        ax.set_xlabel(f"{along} {symbol[along]} ({other} {symbol[other]} fixed at "
                      f"{prof.fixed[other]:.3g})")
        ax.set_ylabel("log loss (nats)", color=COLORS["correct"])
        right = ax.twinx()
        right.step(values, prof.accuracy, where="mid", color=COLORS["wrong"], lw=1.6,
                   label="accuracy (right)")
        _mark_best(right, prof)
        right.set_ylabel("accuracy", color=COLORS["wrong"])
        right.spines["right"].set_visible(True)
        right.grid(False)
        handles = ax.get_legend_handles_labels()
        extra = right.get_legend_handles_labels()
        ax.legend(handles[0] + extra[0], handles[1] + extra[1], loc="upper center",
                  bbox_to_anchor=(0.5, -0.16), ncol=2)
    return Chart(
        name=f"profile_{along}",
        heading=f"Log loss and accuracy along the {along}",
        summary=_profile_summary(prof, along),
        caption=(
            f"The {other} stays at its fitted value while the {along} varies: the log loss "
            f"(left axis) is lowest at the fit, the accuracy (right axis) is a step function "
            "of where the cut falls among the points."
        ),
        figure=figure,
    )


def _mark_best(ax: Any, prof: Profile) -> None:
    best = np.asarray(prof.accuracy) >= prof.best_accuracy - 1e-12
    ax.fill_between(
        prof.values, 0, 1, where=best, step="mid", transform=ax.get_xaxis_transform(),
        color=COLORS["accent"], alpha=0.3, lw=0,
        label=f"best accuracy on the grid ({prof.best_accuracy:.4g})",
    )


def _pair(first: float, second: float) -> tuple[str, str]:
    """Two accuracies with the fewest decimals (2 to 4) that tell them apart.

    Examples
    --------
    >>> _pair(0.6, 0.8), _pair(0.6759, 0.6764)
    (('0.60', '0.80'), ('0.6759', '0.6764'))
    """
    digits = next((d for d in (2, 3) if round(first, d) != round(second, d)), 4)
    return f"{first:.{digits}f}", f"{second:.{digits}f}"


def _profile_summary(prof: Profile, along: str) -> str:
    accuracy_at_fit = prof.accuracy[prof.values.index(prof.fitted)]
    if prof.best_accuracy > accuracy_at_fit + 1e-12:
        at_fit, best = _pair(accuracy_at_fit, prof.best_accuracy)
        return (
            f"Along the {along}, the loss is lowest at {prof.fitted:.3g} (accuracy {at_fit}) "
            f"but accuracy peaks at {best} elsewhere"
        )
    return (
        f"Along the {along}, the loss minimum at {prof.fitted:.3g} also has the best accuracy "
        f"({prof.best_accuracy:.2f})"
    )


def lab_charts(result: LabResult) -> list[Chart]:
    """Every chart of a lab result: the fit, then the intercept and slope profiles."""
    charts = [fit_chart(result)]
    charts += [c for along in ("intercept", "slope") if (c := profile_chart(result, along))]
    return charts


"""Plots of a comparison: paired differences (forest plot) and the samples that flip."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from matplotlib.patches import Rectangle

from lossgap.render.plots.chart import COLORS, Chart, new_figure, plot_style, short
from lossgap.results.compare import PAIR_METRICS, Comparison, PairComparison
from lossgap.results.curves import FlipPoints

#: Pairs drawn in the forest plot (the best models' pairs come first).
FOREST_PAIRS = 20

_LABELS = {
    "accuracy": "accuracy",
    "log_loss": "log loss (nats)",
    "brier": "Brier score",
    "roc_auc": "ROC AUC",
}
#: Which way is better for ``a - b``: a positive accuracy difference favours a.
_BETTER = {"accuracy": "a", "log_loss": "b", "brier": "b", "roc_auc": "a"}


def forest_chart(c: Comparison) -> Chart | None:
    """Every pair's paired differences with their intervals, one panel per metric."""
    pairs = c.pairs[:FOREST_PAIRS]
    if not pairs:
        return None
    rows = np.arange(len(pairs))[::-1]
    height = 2.2 + 0.3 * len(pairs)
    with plot_style():
        figure, axes = new_figure(ncols=len(PAIR_METRICS), sharey=True, size=(11.0, height))
        for ax, metric in zip(axes, PAIR_METRICS, strict=True):
            _forest_panel(ax, pairs, metric, rows)
        axes[0].set_yticks(rows, [f"{short(p.a)} \u2212 {short(p.b)}" for p in pairs])
        axes[0].set_ylim(-0.7, len(pairs) - 0.3)
    real = {m: sum(p.difference(m).significant for p in c.pairs) for m in PAIR_METRICS}
    shown = (
        "" if len(c.pairs) <= FOREST_PAIRS else f" (first {FOREST_PAIRS} of {len(c.pairs)} pairs)"
    )
    summary = (
        f"Real differences (filled markers): accuracy in {real['accuracy']} of "
        f"{len(c.pairs)} pairs, log loss in {real['log_loss']}{shown}"
    )
    adjusted = "Holm-adjusted p" if c.correction == "holm" else "p"
    return Chart(
        wide=True,
        name="forest",
        heading="Paired differences between the models",
        summary=summary,
        caption=f"Each row is a pair a \u2212 b, measured on the same samples: the point is the "
        f"difference, the bar its {c.confidence:.0%} paired interval. A bar that crosses the "
        f"zero line is a difference these samples cannot tell from noise; a filled marker "
        f"means {adjusted} < {c.alpha:.2g}. For accuracy and ROC AUC, right of zero favours a; "
        "for log loss and Brier, left of zero favours a.",
        figure=figure,
    )


def _forest_panel(ax: Any, pairs: list[PairComparison], metric: str, rows: np.ndarray) -> None:
    ax.axvline(0, color=COLORS["neutral"], lw=1)
    for row, pair in zip(rows, pairs, strict=True):
        d = pair.difference(metric)
        if d.value is None or not np.isfinite(d.value):
            continue
        color = COLORS["correct"] if d.significant else COLORS["ink"]
        if d.ci_low is not None and d.ci_high is not None:
            ax.plot([d.ci_low, d.ci_high], [row, row], color=color, lw=1.6)
        ax.plot([d.value], [row], marker="o", ms=6, color=color,
                markerfacecolor=color if d.significant else "white")
    favours = "a" if _BETTER[metric] == "a" else "b"
    ax.set_title(_LABELS[metric], fontsize=9.5, loc="center")
    ax.set_xlabel(f"a \u2212 b (right favours {favours})", fontsize=8.5)
    ax.grid(axis="y", visible=False)


def flip_chart(c: Comparison, pair: PairComparison, points: FlipPoints) -> Chart:
    """Each sample's probability under both models of a pair, flips in colour."""
    prob_a, prob_b = np.asarray(points.prob_a), np.asarray(points.prob_b)
    category = np.asarray(points.category)
    a, b = short(pair.a, 20), short(pair.b, 20)
    styles = (
        ("both", "right under both", COLORS["neutral"], "o", 10, 0.35),
        ("neither", "wrong under both", COLORS["ink"], "x", 14, 0.6),
        ("a_only", f"right only under {a}", COLORS["correct"], "o", 26, 0.9),
        ("b_only", f"right only under {b}", COLORS["wrong"], "^", 30, 0.9),
    )
    flips = pair.flips
    with plot_style():
        figure, ax = new_figure(size=(6.0, 5.4))
        threshold = points.threshold
        if threshold is not None:
            near = c.near
            ax.add_patch(Rectangle(
                (threshold - near, threshold - near), 2 * near, 2 * near,
                color=COLORS["accent"], alpha=0.18, lw=0,
                label=f"within {near:g} of the threshold under both",
            ))
            ax.axvline(threshold, color=COLORS["ink"], lw=0.8, ls="--")
            ax.axhline(threshold, color=COLORS["ink"], lw=0.8, ls="--")
        else:
            ax.plot([0, 1], [0, 1], color=COLORS["neutral"], lw=0.8, ls="--")
        for key, label, color, marker, size, alpha in styles:
            chosen = category == key
            if chosen.any():
                ax.scatter(prob_a[chosen], prob_b[chosen], s=size, marker=marker, color=color,
                           alpha=alpha, lw=0 if marker != "x" else 1,
                           label=f"{label} ({points.counts[key]})")
        axis = (
            f"p({short(c.classes[1], 14)})" if points.axis == "positive"
            else "p(true class)"
        )
        ax.set_xlim(-0.02, 1.02)
        ax.set_ylim(-0.02, 1.02)
        ax.set_aspect("equal", adjustable="box")
        ax.set_xlabel(f"{axis}, {a}")
        ax.set_ylabel(f"{axis}, {b}")
        ax.legend(loc="upper left", fontsize=7.5, framealpha=0.9, frameon=True)
    thinned = "" if points.shown == points.n else (
        f" ({points.shown} of {points.n} samples drawn, every flip kept)"
    )
    summary = (
        f"{flips.a_only_correct} samples only {a} gets right, {flips.b_only_correct} only "
        f"{b}; {flips.near_threshold} of these flips sit near the threshold{thinned}"
    )
    return Chart(
        f"flips_{c.pairs.index(pair) + 1}",
        f"Samples that flip: {pair.a} against {pair.b}",
        summary,
        "Each point is a sample, placed by the probability each model gave it. Grey points "
        "are decided the same way by both. Coloured points flip: right under one model, wrong "
        "under the other. Flips in the shaded square barely moved, yet they change the "
        "accuracy by a whole sample each while the log loss hardly changes.",
        figure,
    )


def comparison_charts(
    c: Comparison, flips: Mapping[tuple[str, str], FlipPoints] | None = None
) -> list[Chart]:
    """The forest plot, then a flip plot per pair with its points.

    Parameters
    ----------
    c : Comparison
    flips : dict, optional
        ``(a, b) -> flip_points(pred_a, pred_b)`` for the pairs to draw.

    Returns
    -------
    list of Chart
    """
    charts = [forest_chart(c)]
    for pair in c.pairs:
        points = (flips or {}).get((pair.a, pair.b))
        if points is not None:
            charts.append(flip_chart(c, pair, points))
    return [chart for chart in charts if chart is not None]

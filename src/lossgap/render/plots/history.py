"""Plots of a training history: the curves with their divergence, and per-epoch predictions."""

from __future__ import annotations

from typing import Any

import numpy as np

from lossgap.render.plots.chart import COLORS, Chart, new_figure, plot_style, short
from lossgap.results.history import Curve, HistoryReport, RunAnalysis

#: Runs drawn (the JSON has them all).
MAX_RUNS = 4


def _series(ax: Any, x: np.ndarray, data: Curve, color: str, label: str,
            *, dashed: bool = False) -> None:
    ax.plot(x, data.raw, color=color, lw=0.8, alpha=0.35, ls="--" if dashed else "-")
    ax.plot(x, data.smoothed, color=color, lw=2, ls="--" if dashed else "-", label=label)


def run_chart(analysis: RunAnalysis, number: int) -> Chart | None:
    """Validation (and training) loss and score of one run, the divergence shaded."""
    run, curves = analysis.run, analysis.curves
    lines = curves.metrics
    if not curves.x.size or run.loss not in lines:
        return None
    x = curves.x
    name = {key: short(key, 30) for key in (run.loss, run.score, run.train_loss, run.train_score)
            if key}  # metric names as the log spells them: drawn as typed
    with plot_style():
        figure, ax = new_figure(size=(6.4, 4.6))
        _series(ax, x, lines[run.loss], COLORS["wrong"], f"{name[run.loss]} (smoothed)")
        if run.train_loss and run.train_loss in lines:
            _series(ax, x, lines[run.train_loss], COLORS["wrong"],
                    f"{name[run.train_loss]} (smoothed)", dashed=True)
        ax.set_xlabel(run.axis)
        ax.set_ylabel("loss", color=COLORS["wrong"])
        handles = []
        right = None
        if run.score and run.score in lines:
            right = ax.twinx()
            right.spines["right"].set_visible(True)
            right.grid(False)
            _series(right, x, lines[run.score], COLORS["correct"], f"{name[run.score]} (smoothed)")
            if run.train_score and run.train_score in lines:
                _series(right, x, lines[run.train_score], COLORS["correct"],
                        f"{name[run.train_score]} (smoothed)", dashed=True)
            right.set_ylabel(name[run.score], color=COLORS["correct"])
        div = analysis.divergence
        # Only the label is matched: matching the step too would put epoch 313 of a
        # Lightning log at the point whose step is 313.
        start = curves.position(div.start_epoch) if div else None
        if div and start is not None:
            score_name = name.get(run.score) if run.score else None
            ax.axvspan(start, x[-1], color=COLORS["accent"], alpha=0.15, lw=0,
                       label=f"loss and {score_name} part ways "
                       f"({run.axis} {div.start_epoch})")
        # the epochs kept per goal, as the text names them (one per goal)
        marks = (("probabilities", COLORS["wrong"], ":"), ("decisions", COLORS["correct"], "-."))
        for goal, color, style in marks:
            keep = getattr(analysis.advice, goal)
            if goal == "decisions" and keep and keep.within_noise:
                keep = None  # its gain is noise: the probabilities epoch serves both
            if not keep:
                continue
            at = curves.position(keep.epoch)
            if at is not None:
                ax.axvline(at, color=color, lw=1.2, ls=style,
                           label=f"keep for {goal}: {run.axis} {keep.epoch}")
        for axis in (ax, right):
            if axis is not None:
                h, labels = axis.get_legend_handles_labels()
                handles += list(zip(h, labels, strict=True))
        figure.legend([h for h, _ in handles], [label for _, label in handles],
                      loc="outside lower center", ncols=2, fontsize=8)
    return Chart(
        f"history_{number}",
        f"Training curves: {run.name}",
        _run_summary(analysis),
        "Thin lines are the values as logged, thick ones smoothed. The dotted and dash-dotted "
        "lines mark the epoch to keep for probabilities (lowest smoothed validation loss) and "
        "for decisions (best smoothed score); the shaded span is where the "
        "loss and the score part ways, found on the smoothed curves with a trend test rather "
        "than from one noisy epoch.",
        figure,
    )


def _run_summary(analysis: RunAnalysis) -> str:
    run = analysis.run
    name = short(run.name, 30)
    prob, dec = analysis.advice.probabilities, analysis.advice.decisions
    text = name
    if prob is not None:
        text += f": keep {run.axis} {prob.epoch} for probabilities"
        if dec is not None and dec.epoch != prob.epoch and not dec.within_noise:
            text += f", {run.axis} {dec.epoch} for decisions"
        else:
            text += " and decisions"
    div = analysis.divergence
    if div:
        text += f"; loss and score part ways from {run.axis} {div.start_epoch}"
    return text


def epochs_chart(report: HistoryReport) -> Chart | None:
    """The saved predictions, epoch by epoch: log loss, its two parts, and accuracy."""
    rows = [r for r in report.per_epoch if r.decomposition is not None]
    parts = [r.decomposition for r in rows if r.decomposition is not None]
    if len(rows) < 2:
        return None
    epochs = [r.epoch for r in rows]
    with plot_style():
        figure, ax = new_figure(size=(6.4, 4.6))
        ax.plot(epochs, [r.log_loss for r in rows], color=COLORS["ink"], lw=2, marker="o",
                ms=3, label="log loss")
        ax.plot(epochs, [d.miscalibration for d in parts],
                color=COLORS["wrong"], lw=1.8, ls="--", label="miscalibration (MCB)")
        ax.plot(epochs, [d.discrimination for d in parts],
                color=COLORS["second"], lw=1.8, ls="-.", label="discrimination (DSC)")
        ax.set_xlabel("epoch")
        ax.set_ylabel("nats")
        right = ax.twinx()
        right.spines["right"].set_visible(True)
        right.grid(False)
        right.plot(epochs, [r.accuracy for r in rows], color=COLORS["correct"], lw=1.5,
                   marker="s", ms=3, label="accuracy")
        right.set_ylabel("accuracy", color=COLORS["correct"])
        h1, l1 = ax.get_legend_handles_labels()
        h2, l2 = right.get_legend_handles_labels()
        figure.legend(h1 + h2, l1 + l2, loc="outside lower center", ncols=4, fontsize=8)
    drift = next((f for f in report.findings if f.code == "calibration_drift"), None)
    if drift is not None:
        e = drift.evidence
        summary = (
            f"From epoch {e['from_epoch']} to {e['to_epoch']} the log loss rose "
            f"{e['log_loss_from']:.3f} to {e['log_loss_to']:.3f}: miscalibration grew "
            f"{e['miscalibration_from']:.3f} to {e['miscalibration_to']:.3f}, discrimination "
            f"{e['discrimination_from']:.3f} to {e['discrimination_to']:.3f}"
        )
    else:
        summary = "Log loss = miscalibration \u2212 discrimination + uncertainty, epoch by epoch"
    return Chart(
        "epochs",
        "Saved predictions, epoch by epoch",
        summary,
        "The log loss of each epoch's saved validation predictions, split as in the "
        "reliability diagram: miscalibration is what recalibration would remove, "
        "discrimination what the ranking earns. A loss that rises with miscalibration while "
        "discrimination holds is a calibration problem, not a worse model.",
        figure,
    )


def history_charts(report: HistoryReport) -> list[Chart]:
    """The curves of each run (the first :data:`MAX_RUNS`), then the per-epoch predictions."""
    charts = [run_chart(a, i) for i, a in enumerate(report.runs[:MAX_RUNS], 1)]
    charts.append(epochs_chart(report))
    return [c for c in charts if c is not None]

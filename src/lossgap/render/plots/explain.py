"""Plots of one evaluation: they read an Evaluation and its :class:`ExplainCurves`.

Each function returns a :class:`~lossgap.render.plots.chart.Chart` whose title says what to see
in this data (taken from the findings and diagnostics, never computed here), or None when
the numbers it needs are absent.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lossgap.render.plots.chart import COLORS, Chart, new_figure, plot_style, short
from lossgap.results.curves import ExplainCurves
from lossgap.results.evaluation import Evaluation, ReliabilityCurve


def _pct(value: float) -> str:
    return f"{value:.1%}" if value < 0.1 else f"{value:.0%}"


def _target(ev: Evaluation) -> str:
    if ev.task == "binary":
        return f"predicted probability of {short(ev.classes[1], 24)!r}"
    return "confidence (probability of the predicted class)"


def _step_xy(curve: ReliabilityCurve) -> tuple[list[float], list[float]]:
    """The CORP step function as a polyline: each block flat from its lowest to highest score."""
    xs: list[float] = []
    ys: list[float] = []
    for low, high, value in zip(
        curve.score_low, curve.score_high, curve.recalibrated, strict=True
    ):
        xs += [low, high]
        ys += [value, value]
    return xs, ys


def reliability_chart(ev: Evaluation, curves: ExplainCurves | None = None) -> Chart | None:
    """The CORP reliability diagram with the consistency band of a calibrated model."""
    curve = None if ev.decomposition is None else ev.decomposition.curve
    if curve is None or not curve.score_low:
        return None
    band = curves.band if curves is not None else None
    with plot_style():
        figure, ax = new_figure(size=(5.8, 4.9))
        ax.plot([0, 1], [0, 1], ls="--", lw=1, color=COLORS["neutral"], label="calibrated")
        if band is not None:
            low = np.array([np.nan if v is None else v for v in band.low], dtype=np.float64)
            high = np.array([np.nan if v is None else v for v in band.high], dtype=np.float64)
            ax.fill_between(
                band.score, low, high, color=COLORS["band"], alpha=0.35, lw=0,
                label=f"{band.confidence:.0%} consistency band (a calibrated model)",
            )
        xs, ys = _step_xy(curve)
        ax.plot(xs, ys, color=COLORS["ink"], lw=2, label="observed (CORP isotonic fit)")
        ax.set_xlim(-0.01, 1.01)
        ax.set_ylim(-0.01, 1.01)
        ax.set_aspect("equal", adjustable="box")
        ax.set_xlabel(_target(ev))
        ax.set_ylabel("observed frequency" if ev.task == "binary" else "observed accuracy")
        parts = ev.decomposition.log_loss if ev.decomposition is not None else None
        if parts is not None:
            ax.text(
                0.98, 0.03,
                f"log loss {parts.score:.3f}\n= MCB {parts.miscalibration:.3f}"
                f" \u2212 DSC {parts.discrimination:.3f}\n+ UNC {parts.uncertainty:.3f}",
                transform=ax.transAxes, ha="right", va="bottom", fontsize=8.5,
                bbox={"boxstyle": "round", "fc": "white", "ec": "#cccccc"},
            )
        ax.legend(loc="upper left")
    return Chart(
        "reliability",
        "Reliability diagram",
        _reliability_title(ev, curves),
        _reliability_caption(ev),
        figure,
    )


def _reliability_caption(ev: Evaluation) -> str:
    if ev.task == "binary":
        what = (
            "The black step is the share of samples that are really positive at each "
            "predicted probability (isotonic fit, CORP). On the dashed diagonal a model means "
            "what it says; below it, it is overconfident in the positive class, above it "
            "underconfident."
        )
    else:
        what = (
            "The black step is the share of decisions that are right at each confidence "
            "(top label, isotonic fit, CORP). On the dashed diagonal a model is as often right "
            "as it claims; below it, it is overconfident, above it underconfident."
        )
    return (
        f"{what} The shaded band is where a calibrated model's curve would fall by chance "
        "with this many samples: outside it, the miscalibration is real. MCB, DSC and UNC "
        "decompose the log loss into miscalibration, discrimination and uncertainty."
    )


def _reliability_title(ev: Evaluation, curves: ExplainCurves | None) -> str:
    prefix = ""
    for code, words in (("overconfident", "Overconfident"), ("underconfident", "Underconfident")):
        if ev.finding(code) is not None:
            prefix = f"{words}: "
    outside = curves.band_outside if curves is not None else None
    if outside is None:
        return f"{prefix}observed frequency against the predicted probability"
    if outside == 0:
        return f"{prefix}the curve stays inside the band a calibrated model would show"
    return (
        f"{prefix}{_pct(outside)} of the samples sit where the curve leaves the band of "
        "a calibrated model"
    )


def confidence_chart(ev: Evaluation, curves: ExplainCurves | None) -> Chart | None:
    """Confidence of correct and of wrong decisions, on two rows that share the axis."""
    hist = curves.histogram if curves is not None else None
    if hist is None:
        return None
    edges = np.asarray(hist.edges)
    width = np.diff(edges)
    with plot_style():
        figure, (top, bottom) = new_figure(nrows=2, sharex=True)
        top.bar(edges[:-1], hist.correct, width=width, align="edge",
                color=COLORS["correct"], edgecolor="white", label="correct")
        bottom.bar(edges[:-1], hist.wrong, width=width, align="edge",
                   color=COLORS["wrong"], edgecolor="white", hatch="///", label="wrong")
        top.set_ylabel("correct\n(samples)")
        bottom.set_ylabel("wrong\n(samples)")
        bottom.set_xlabel("confidence of the decision (probability of the predicted class)")
        bottom.set_xlim(edges[0], edges[-1])
        for ax in (top, bottom):
            ax.legend(loc="upper left")
        confident = ev.diagnostics.confident_errors
        text = f"{hist.total_wrong:g} wrong decisions"
        if confident:
            text += (
                f"; {confident.count:g} of them gave the true class at most "
                f"{1 - confident.level:.0%} (a calibrated model would make "
                f"{confident.expected_if_calibrated:.1f})"
            )
    return Chart(
        "confidence",
        "Confidence of correct and wrong decisions",
        text,
        "How sure the model was of each decision, split by whether the decision was right. "
        "Wrong decisions far to the right are confident errors: each costs a large log "
        "loss while counting as one error for accuracy.",
        figure,
    )


def concentration_chart(ev: Evaluation, curves: ExplainCurves | None = None) -> Chart | None:
    """Share of the total log loss against share of samples, worst first."""
    conc = ev.diagnostics.loss_concentration
    curve = conc.curve
    if not curve.sample_share:
        return None
    half = conc.half_loss_sample_share
    with plot_style():
        figure, ax = new_figure()
        ax.plot([0, 1], [0, 1], ls="--", lw=1, color=COLORS["neutral"],
                label="every sample carries the same loss")
        ax.plot(curve.sample_share, curve.loss_share, color=COLORS["wrong"], lw=2,
                label="this model")
        ax.plot([half, half, 0], [0, 0.5, 0.5], ls=":", lw=1.2, color=COLORS["ink"])
        ax.annotate(
            f"{_pct(half)} of the samples\ncarry half the loss", (half, 0.5),
            xytext=(half + 0.08, 0.32), fontsize=9,
            arrowprops={"arrowstyle": "->", "color": COLORS["ink"], "lw": 0.8},
        )
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("share of samples, highest loss first")
        ax.set_ylabel("share of the total log loss")
        ax.legend(loc="lower right")
    return Chart(
        "loss_concentration",
        "Where the loss comes from",
        f"Half of the log loss comes from {_pct(half)} of the samples",
        "Samples sorted from the highest log loss down. A curve that shoots up means a few "
        "samples dominate the mean loss: read them before trusting the average.",
        figure,
    )


def loss_chart(ev: Evaluation, curves: ExplainCurves | None) -> Chart | None:
    """Per-sample log loss against the confidence of the decision, worst ones named."""
    points = curves.points if curves is not None else None
    if points is None:
        return None
    conf = np.asarray(points.confidence)
    loss = np.maximum(np.asarray(points.loss), 1e-6)  # a log axis needs loss > 0
    correct = np.asarray(points.correct, dtype=np.bool_)
    with plot_style():
        figure, ax = new_figure()
        ax.scatter(conf[correct], loss[correct], s=12, marker="o", alpha=0.45,
                   color=COLORS["correct"], lw=0, label="correct")
        ax.scatter(conf[~correct], loss[~correct], s=22, marker="^", alpha=0.8,
                   color=COLORS["wrong"], lw=0, label="wrong")
        mean = ev.metric("log_loss")
        if np.isfinite(mean):
            ax.axhline(mean, ls="--", lw=1, color=COLORS["ink"], label=f"mean log loss {mean:.3f}")
        named = points.labelled
        if named:
            ax.scatter([r.confidence for r in named], [max(r.loss, 1e-6) for r in named],
                       s=70, facecolors="none", edgecolors=COLORS["ink"], lw=1,
                       label="highest loss")
            listing = "\n".join(f"{short(r.id)}: {r.loss:.3g}" for r in named)
            ax.text(0.02, 0.03, f"highest loss (id: nats)\n{listing}", transform=ax.transAxes,
                    fontsize=8, va="bottom", bbox={"boxstyle": "round", "fc": "white",
                                                   "ec": "#cccccc"})
        ax.set_yscale("log")
        ax.set_xlabel("confidence of the decision (probability of the predicted class)")
        ax.set_ylabel("log loss of the sample (nats, log scale)")
        ax.legend(loc="best")
        thinned = "" if points.shown == points.n else (
            f" ({points.shown} of {points.n} samples shown, the worst all included)"
        )
        confident = ev.diagnostics.confident_errors
        if confident.count:
            text = (
                f"{confident.count:g} confident errors carry {_pct(confident.loss_share)} of the "
                "total log loss"
            )
        else:
            text = "No confident errors: the loss comes from hesitant decisions"
    return Chart(
        "loss_by_confidence",
        "Loss of each sample against its confidence",
        text + thinned,
        "Each point is a sample. Correct decisions cost little; a wrong decision costs more "
        "the more confident it was, without limit. The named points are the samples with "
        "the highest loss (their ids).",
        figure,
    )


def threshold_chart(ev: Evaluation, curves: ExplainCurves | None) -> Chart | None:
    """Accuracy and F1 at every threshold, beside a log loss that no threshold moves."""
    data = curves.thresholds if curves is not None else None
    if data is None:
        return None
    with plot_style():
        figure, ax = new_figure()
        x = data.threshold
        ax.step(x, data.accuracy, where="post", color=COLORS["correct"], lw=1.8,
                label="accuracy")
        ax.step(x, data.f1, where="post", color=COLORS["second"], lw=1.5, ls="-.",
                label=f"F1 of {short(ev.classes[1])!r}")
        current, best = data.current, data.best_accuracy
        ax.axvline(current.threshold, color=COLORS["ink"], lw=1, ls="--",
                   label=f"threshold in use ({current.threshold:g})")
        ax.axvline(best.threshold, color=COLORS["accent"], lw=1.4, ls=":",
                   label=f"best accuracy ({best.threshold:.3g})")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel(f"threshold (p \u2265 threshold predicts {short(ev.classes[1])!r})")
        ax.set_ylabel("accuracy, F1")
        loss = ev.metric("log_loss")
        right = ax.twinx()
        right.spines["right"].set_visible(True)
        right.grid(False)
        shown = loss if np.isfinite(loss) else ev.metric("log_loss_clipped")
        right.axhline(shown, color=COLORS["wrong"], lw=1.8, ls="--",
                      label="log loss (the same at every threshold)")
        right.set_ylim(0, max(shown * 1.6, 0.1))
        right.set_ylabel("log loss (nats)", color=COLORS["wrong"])
        handles = ax.get_legend_handles_labels()
        extra = right.get_legend_handles_labels()
        ax.legend(handles[0] + extra[0], handles[1] + extra[1], loc="lower center", fontsize=8)
    current, best = data.current, data.best_accuracy
    return Chart(
        "threshold",
        "Decisions against the threshold",
        f"Accuracy {current.accuracy:.3f} at threshold {current.threshold:g}, "
        f"{best.value:.3f} at best; the log loss ({shown:.3f}) does not depend on "
        "the threshold",
        "Accuracy and F1 of the decisions p \u2265 threshold, exact at every distinct "
        "predicted probability. The log loss scores the probabilities themselves, so moving "
        "the threshold changes accuracy without changing the loss: the two measure "
        "different things.",
        figure,
    )


#: The explain charts in report order.
EXPLAIN_CHARTS = (reliability_chart, confidence_chart, loss_chart, concentration_chart,
                  threshold_chart)


def explain_charts(ev: Evaluation, curves: ExplainCurves | None = None) -> list[Chart]:
    """Every chart the evaluation (and its curves) has the numbers for, in report order.

    Parameters
    ----------
    ev : Evaluation
    curves : ExplainCurves, optional
        From :func:`lossgap.curves.explain_curves`; without it only the reliability
        diagram (no band) and the loss concentration curve are drawn.

    Returns
    -------
    list of Chart

    Examples
    --------
    >>> import lossgap
    >>> ev = lossgap.explain([0, 1, 1, 0, 1, 0], [0.2, 0.9, 0.3, 0.4, 0.8, 0.7])
    >>> [c.name for c in explain_charts(ev)]
    ['reliability', 'loss_concentration']
    """
    charts: list[Any] = [make(ev, curves) for make in EXPLAIN_CHARTS]
    return [c for c in charts if c is not None]

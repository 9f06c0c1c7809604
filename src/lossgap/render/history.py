"""Terminal rendering of a HistoryReport with rich: reads numbers, computes none."""

from __future__ import annotations

from collections.abc import Iterator

from rich import box
from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from lossgap.render.answer import Answer, KeyNumber, Step
from lossgap.render.text import findings_renderables, format_number, style
from lossgap.results.evaluation import Finding
from lossgap.results.history import EpochSummary, HistoryReport, RunAnalysis

#: How many skipped files the terminal lists (the JSON has them all).
SHOWN_SKIPPED = 5


def kept_epochs(analysis: RunAnalysis) -> str:
    """The one epoch to keep per goal, as every section of the report names it."""
    advice = analysis.advice
    prob, dec = advice.probabilities, advice.decisions
    if prob is None:
        return ""
    axis = analysis.run.axis
    basis = " (smoothed curves)" if advice.basis == "smoothed" else ""
    if analysis.run.score is None:
        return f"Keep {axis} {prob.epoch}: lowest {prob.metric}{basis}; no score is logged."
    if dec is None or dec.epoch == prob.epoch:
        return f"Keep {axis} {prob.epoch} for both probabilities and decisions{basis}."
    return (
        f"Keep {axis} {prob.epoch} for probabilities (lowest {prob.metric}) and "
        f"{axis} {dec.epoch} for decisions (highest {dec.metric}){basis}."
    )


def _summary(analysis: RunAnalysis) -> str:
    run = analysis.run
    parts = []
    for key in (run.loss, run.score):
        entry = analysis.best.get(key) if key else None
        if entry is not None:
            parts.append(
                f"{key} best as logged at {run.axis} {entry.epoch} "
                f"({format_number(entry.value)})"
            )
    last = run.n_points - 1
    if last >= 0:
        values = []
        for key in (run.loss, run.score):
            series = run.values(key)
            if series is not None:
                values.append(f"{key} {format_number(float(series[last]))}")
        parts.append(f"last {run.axis} {run.label(last)}: {', '.join(values)}")
    return "; ".join(parts) + "."


def run_renderables(analysis: RunAnalysis) -> Iterator[RenderableType]:
    """One run: name and size, best points, findings with advice, notes."""
    run = analysis.run
    yield Text(f"{run.name}", style=style("headline"))
    size = f"{run.format}, {run.n_points} validation point(s) by {run.axis}"
    if analysis.n_val is not None:
        size += f", {analysis.n_val} validation samples ({analysis.n_val_source})"
    yield Text(size, style=style("dim"))
    yield Text(_summary(analysis))
    keep = kept_epochs(analysis)
    if keep:
        yield Text(keep, style=style("headline"))
    if analysis.findings:
        yield from findings_renderables(analysis.findings)
    elif run.score is None:
        yield Text("Nothing stands out.", style=style("info"))
    else:
        yield Text("Nothing stands out: loss and score move together.", style=style("info"))
    for note in run.notes:
        yield Text(f"note: {note}", style=style("dim"))


def per_epoch_table(rows: list[EpochSummary]) -> Table:
    """Accuracy, loss, decomposition and confident errors of each epoch's predictions."""
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, header_style="bold", pad_edge=False)
    columns = ("epoch", "n", "accuracy", "log loss", "MCB", "DSC", "UNC", "conf.", "share")
    for column in columns:
        table.add_column(column, justify="left" if column == "epoch" else "right")
    for row in rows:
        parts, confident = row.decomposition, row.confident_errors
        count = None if confident is None else confident.count
        share = None if confident is None else confident.loss_share
        table.add_row(
            str(row.epoch),
            str(row.n),
            format_number(row.accuracy),
            format_number(row.log_loss),
            format_number(None if parts is None else parts.miscalibration),
            format_number(None if parts is None else parts.discrimination),
            format_number(None if parts is None else parts.uncertainty),
            "-" if count is None else f"{count:g}",
            "-" if share is None else f"{share:.0%}",
        )
    return table


def report_renderables(report: HistoryReport) -> Iterator[RenderableType]:
    """The whole report: each run, then the per-epoch predictions and their findings."""
    for i, analysis in enumerate(report.runs):
        if i:
            yield Text("")
        yield from run_renderables(analysis)
    if report.per_epoch:
        yield Text("")
        yield Text("Saved predictions, epoch by epoch", style="bold")
        yield Text(
            "log loss = MCB (miscalibration) - DSC (discrimination) + UNC (uncertainty); "
            "conf.: confident errors (true class at most 0.1), share: their share of the loss",
            style=style("dim"),
        )
        yield per_epoch_table(report.per_epoch)
        yield from findings_renderables(report.findings)
    for note in report.notes:
        yield Text(f"note: {note}", style=style("dim"))
    if report.skipped:
        yield Text("")
        yield Text(
            f"{len(report.skipped)} file(s) skipped (not a training log):", style=style("dim")
        )
        for entry in report.skipped[:SHOWN_SKIPPED]:
            yield Text(f"  {entry['path']}: {entry['reason']}", style=style("dim"))


# --- the short answer ----------------------------------------------------------------------


def _main_run(report: HistoryReport) -> RunAnalysis | None:
    """The run the short answer is about: the most serious findings (high or medium), then
    the lowest loss when the runs log the same one (a chart export of several runs), then
    the longest."""
    if not report.runs:
        return None
    comparable = _comparable_runs(report)

    def key(r: RunAnalysis) -> tuple[int, float, int]:
        serious = [f.rank for f in r.findings if f.severity in ("high", "medium")]
        best = r.best.get(r.run.loss) if comparable else None
        return (min(serious, default=9), best.value if best else 0.0, -r.run.n_points)

    return min(report.runs, key=key)


def _comparable_runs(report: HistoryReport) -> bool:
    """Whether the runs are several and log the same loss, so their losses compare."""
    return len(report.runs) > 1 and len({r.run.loss for r in report.runs}) == 1


def _lowest_loss(report: HistoryReport, analysis: RunAnalysis) -> KeyNumber | None:
    """Across several runs of one loss, the lowest value logged and where, when it is not
    the main run's."""
    if not _comparable_runs(report):
        return None
    best = [(b.value, r, b.epoch) for r in report.runs if (b := r.best.get(r.run.loss))]
    if not best:
        return None
    value, run, epoch = min(best, key=lambda entry: entry[0])
    if run is analysis:
        return None
    return KeyNumber(
        f"lowest {run.run.loss} of {len(report.runs)} runs",
        format_number(value),
        "",
        f"{run.run.name}, {run.run.axis} {epoch}, as logged",
    )


def _value(analysis: RunAnalysis, key: str | None, label: object) -> float | None:
    """``key``'s logged value at the point labelled ``label``."""
    run = analysis.run
    series = run.values(key) if key else None
    if series is None:
        return None
    for i in range(run.n_points):
        if run.label(i) == label:
            return float(series[i])
    return None


def _run_sentence(f_code: str, analysis: RunAnalysis) -> str | None:
    """A run's finding in one or two sentences; None when the answer already says it."""
    run, axis = analysis.run, analysis.run.axis
    if f_code == "loss_accuracy_divergence" and analysis.divergence:
        d = analysis.divergence
        if d.direction == "loss_rises":
            return (
                f"From {axis} {d.start_epoch} on, {d.loss_metric} rose from "
                f"{d.loss_start:.3f} to {d.loss_end:.3f} (smoothed) while "
                f"{d.score_metric} went from {d.score_start:.3f} to {d.score_end:.3f}: "
                "the model grows more confident, and its remaining errors cost more loss "
                "than the new right answers save."
            )
        return None
    if f_code == "overfitting_onset" and analysis.overfitting:
        o = analysis.overfitting
        return (
            f"Training loss kept falling ({o.train_loss_start:.3f} to "
            f"{o.train_loss_end:.3f}) while {run.loss} did not: the model learns its "
            "training set by heart (overfitting)."
        )
    return None


def _drift_sentence(f: Finding) -> str:
    """``calibration_drift`` in two sentences: what grew, and what stayed."""
    e = f.evidence
    try:
        return (
            f"On the saved predictions the loss rose from {e['log_loss_from']:.3f} "
            f"(epoch {e['from_epoch']}) to {e['log_loss_to']:.3f} (epoch {e['to_epoch']}) because "
            f"miscalibration (loss that rescaling removes) grew from "
            f"{e['miscalibration_from']:.3f} to {e['miscalibration_to']:.3f}; the ranking "
            f"(discrimination) went from {e['discrimination_from']:.3f} to "
            f"{e['discrimination_to']:.3f}."
        )
    except (KeyError, TypeError, ValueError):
        return f.message  # evidence of another shape: the rule's own sentence


def history_answer(report: HistoryReport) -> Answer:
    """The short answer of ``history``: which epoch to keep, for which goal, and why."""
    analysis = _main_run(report)
    more = f" ({len(report.runs) - 1} more)" if len(report.runs) > 1 else ""
    details = f"Every run{more}, finding and note: --full. Plots: --html FILE."
    if analysis is None:
        return Answer("No training log could be read.", details=details)
    run, axis, advice = analysis.run, analysis.run.axis, analysis.advice
    prob, dec = advice.probabilities, advice.decisions
    smoothed = advice.basis == "smoothed"
    # several runs (a chart export, a folder of logs): say which one the answer is about
    keep = f"In {run.name}, keep" if len(report.runs) > 1 else "Keep"
    serious = [f for f in analysis.findings if f.severity in ("high", "medium")]
    codes = {f.code for f in analysis.findings}
    if prob is None:
        top = (serious or analysis.findings)[:1]
        headline = top[0].message if top else f"{run.name}: nothing stands out."
    elif run.score is None:
        curves = "on the smoothed curve " if smoothed else ""
        headline = (
            f"{keep} {axis} {prob.epoch}: {curves}{run.loss} is lowest there (the log holds no "
            "accuracy or other score to weigh against it)."
        )
    elif dec is None or dec.epoch == prob.epoch:
        curves = "on the smoothed curves " if smoothed else ""
        headline = (
            f"{keep} {axis} {prob.epoch}: {curves}{run.loss} is lowest and "
            f"{run.score or 'the score'} best there, so loss and accuracy agree on it."
        )
    elif dec.within_noise:
        headline = (
            f"{keep} {axis} {prob.epoch} for both probabilities and decisions: {run.loss} is "
            f"lowest there, and the better {dec.metric} of {axis} {dec.epoch} "
            f"({dec.gain or 0:+.3f}) is within sampling noise."
        )
    else:
        after = (
            f"after {axis} {prob.epoch} validation loss rises while accuracy keeps "
            "improving"
            if "loss_accuracy_divergence" in codes
            else "the loss and the score are best at different points"
        )
        headline = (
            f"{keep} {axis} {prob.epoch} for probabilities and {axis} {dec.epoch} for "
            f"decisions: {after}."
        )
    numbers = []
    if prob is not None:
        numbers.append(
            KeyNumber(
                f"{run.loss}, best",
                format_number(prob.basis_value),
                f"{axis} {prob.epoch}",
                "smoothed" if smoothed else "as logged",
            )
        )
    if dec is not None:
        numbers.append(
            KeyNumber(
                f"{dec.metric}, best",
                format_number(dec.basis_value),
                f"{axis} {dec.epoch}",
                "smoothed" if smoothed else "as logged",
            )
        )
        gain, se = dec.gain, dec.change_se
        if gain is not None and prob is not None and dec.epoch != prob.epoch:
            noise = "" if se is None else f"; noise \u00b1{1.96 * se:.3f}"
            numbers.append(
                KeyNumber(
                    f"{dec.metric} gain",
                    f"{gain:+.3f}",
                    f"{axis} {prob.epoch}->{dec.epoch}",
                    ("within" if dec.within_noise else "beyond") + f" sampling noise{noise}"
                    if dec.within_noise is not None
                    else "noise unknown: give --n-val",
                )
            )
        cost = _value(analysis, run.loss, dec.epoch)
        if cost is not None and prob is not None and dec.epoch != prob.epoch:
            numbers.append(
                KeyNumber(f"{run.loss} at {axis} {dec.epoch}", format_number(cost), "",
                          "as logged")
            )
    lowest = _lowest_loss(report, analysis)
    if lowest is not None:
        numbers.insert(1, lowest)
    findings = [_drift_sentence(f) for f in report.findings if f.code == "calibration_drift"]
    findings += [
        text for f in analysis.findings if (text := _run_sentence(f.code, analysis)) is not None
    ]
    if not findings:
        findings = [f.message for f in serious[:2]]
    steps = []
    one_epoch = prob is None or dec is None or dec.epoch == prob.epoch or dec.within_noise
    if prob is not None:
        goal = (
            "Keep" if one_epoch else "For probabilities (risk scores, ranking) keep"
        )
        steps.append(
            Step(f"{goal} {axis} {prob.epoch}; early stopping on {run.loss} picks it.")
        )
    if (
        dec is not None
        and prob is not None
        and dec.epoch != prob.epoch
        and not dec.within_noise
    ):
        recal = advice.recalibrate
        expected = (
            f"log loss {recal.log_loss:.3f} -> {recal.expected_log_loss:.3f} on your "
            "saved predictions, no decision changes."
            if recal is not None
            and recal.expected_log_loss is not None
            and recal.log_loss is not None
            else "a lower loss, the same decisions."
        )
        steps.append(
            Step(
                f"For decisions keep {axis} {dec.epoch}, temperature-scaled (logits divided "
                "by one number fitted on held-out data).",
                expected,
            )
        )
    drift = next((f for f in report.findings if f.code == "calibration_drift"), None)
    scaled = None if drift is None else drift.evidence.get("temperature_scaled_log_loss_to")
    if drift is not None and scaled is not None and len(steps) < 2:
        steps.append(
            Step(
                f"To keep the decisions of epoch {drift.evidence['to_epoch']}, temperature-scale "
                "it (logits divided by one number fitted on held-out data).",
                f"log loss {drift.evidence['log_loss_to']:.3f} -> {scaled:.3f} (cross-fitted on "
                "your saved predictions), the same decisions.",
            )
        )
    if "overfitting_onset" in codes:
        steps.append(
            Step("To push both further: regularise (weight decay, dropout, augmentation) or "
                 "add training data.")
        )
    if not steps:
        steps = [Step(f.advice) for f in serious[:2] if f.advice]
    return Answer(
        headline=headline,
        numbers=tuple(numbers[:5]),
        findings=tuple(findings[:2]),
        steps=tuple(steps[:3]),
        details=details + " Terms: docs/glossary.md",
    )

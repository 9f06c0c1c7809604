"""Terminal rendering of an Evaluation with rich: reads numbers, computes none.

Styles are names from :data:`THEME` (``lossgap.high``...), never colours in the code.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from rich.console import Console, ConsoleOptions, RenderableType
from rich.segment import Segment
from rich.table import Table
from rich.text import Text

from lossgap.printable import printable
from lossgap.render.answer import Answer, KeyNumber, Step, interval_text
from lossgap.render.theme import THEME, style
from lossgap.results.decision import Decision
from lossgap.results.evaluation import Evaluation, Finding, MetricValue

#: Metrics shown in the terminal table, in order (the JSON has them all).
SHOWN_METRICS = (
    "log_loss",
    "baseline_log_loss",
    "accuracy",
    "balanced_accuracy",
    "f1",
    "roc_auc",
    "brier",
    "ece",
    "smooth_ece",
    "calibration_slope",
    "calibration_intercept",
)


class PrintableConsole(Console):
    """A console that writes no control character of the text it renders.

    Markup and emoji codes are off (a ``[v2]`` in a file name stays as typed), and every
    segment of text is passed through :func:`~lossgap.printable.printable` line by line,
    whatever renderable it comes from; the console's own styling (colour codes, cursor
    moves of a progress bar) is not text and is kept.
    """

    def render(
        self, renderable: RenderableType, options: ConsoleOptions | None = None
    ) -> Iterable[Segment]:
        for segment in super().render(renderable, options):
            text = segment.text
            if segment.control or text.isprintable() or text == "\n":
                yield segment
            else:
                safe = "\n".join(printable(line) for line in text.split("\n"))
                yield Segment(safe, segment.style, segment.control)


def make_console(*, stderr: bool = False, **kwargs: Any) -> Console:
    r"""A console with the lossgap theme that prints user text inert (:class:`PrintableConsole`).

    Examples
    --------
    >>> import io
    >>> out = io.StringIO()
    >>> make_console(file=out).print("report[v2].html \x1b[2J")
    >>> out.getvalue()
    'report[v2].html \\x1b[2J\n'
    """
    kwargs = {"markup": False, "emoji": False, **kwargs}
    return PrintableConsole(theme=THEME, stderr=stderr, **kwargs)


def format_number(value: float | None, digits: int = 4) -> str:
    """A number for people: ``inf`` and NaN spelled out, 4 decimals by default.

    Examples
    --------
    >>> format_number(0.123456), format_number(float("inf")), format_number(None)
    ('0.1235', 'infinite', '-')
    """
    if value is None:
        return "-"
    if math.isnan(value):
        return "undefined"
    if math.isinf(value):
        return "infinite" if value > 0 else "-infinite"
    return f"{value:.{digits}f}"


def short_method(text: str) -> str:
    """The first words of an interval's method (the JSON has the full description).

    Examples
    --------
    >>> short_method("bootstrap (200 Poisson replicates, seed 0)")
    'bootstrap'
    """
    return text.split(" (")[0]


def format_interval(metric: MetricValue) -> str:
    if metric.ci_low is None or metric.ci_high is None:
        return ""
    return f"[{format_number(metric.ci_low)}, {format_number(metric.ci_high)}]"


def headline(ev: Evaluation) -> str:
    """One sentence: the main finding, or that loss and accuracy agree."""
    top = next((f for f in ev.findings if f.severity in ("high", "medium")), None)
    acc, loss = ev.metric("accuracy"), ev.metric("log_loss")
    numbers = f"accuracy {format_number(acc)}, log loss {format_number(loss)}"
    if top is None:
        return f"{numbers}: loss and accuracy agree."
    return f"{numbers}: {top.message}"


def metrics_table(ev: Evaluation) -> Table:
    level = f"{ev.confidence:.0%} interval"
    table = Table(title=None, show_edge=False, header_style="bold", pad_edge=False)
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_column(level, justify="right")
    table.add_column("method", style=style("dim"))
    for name in SHOWN_METRICS:
        metric = ev.metrics.get(name)
        if metric is None:
            continue
        table.add_row(
            name,
            format_number(metric.value),
            format_interval(metric),
            short_method(metric.ci_method or ""),
        )
    return table


def worst_table(ev: Evaluation, limit: int | None = None) -> Table:
    table = Table(show_edge=False, header_style="bold", pad_edge=False)
    for column in ("id", "label", "predicted", "p(true class)", "loss"):
        table.add_column(column, justify="right" if column in ("p(true class)", "loss") else "left")
    for row in ev.worst[:limit]:  # the evaluation keeps --top rows: all of them by default
        table.add_row(
            printable(row.id),
            printable(row.label),
            printable(row.predicted),
            f"{row.prob_true_class:.4g}",
            format_number(row.loss),
        )
    return table


def findings_renderables(findings: Sequence[Finding]) -> Iterator[RenderableType]:
    """Numbered findings, severity-styled, each followed by what to do."""
    given: dict[str, int] = {}  # advice already printed -> its finding's number
    for i, finding in enumerate(findings, 1):
        line = Text(f"{i}. ")
        line.append(f"[{finding.severity}] {finding.code}", style=style(finding.severity))
        line.append(f": {finding.message}")
        yield line
        if finding.advice in given:  # never the same sentence twice in one output
            yield Text(f"   What to do: as for {given[finding.advice]}.", style=style("advice"))
        elif finding.advice:
            given[finding.advice] = i
            yield Text(f"   What to do: {finding.advice}", style=style("advice"))


def decision_lines(d: Decision) -> list[str]:
    """The decision section in plain lines (given costs): best threshold or rule, and costs.

    Examples
    --------
    >>> import lossgap
    >>> ev = lossgap.explain([0, 0, 1, 1, 1, 0], [0.1, 0.3, 0.4, 0.7, 0.9, 0.5], costs=(1, 4))
    >>> decision_lines(ev.decision)[0]  # doctest: +ELLIPSIS
    'Least cost 0.1667 per sample at p >= 0.35 (thresholds in [0, 0.9] are as good at 95%...'
    """
    lines = []
    choice = d.optimal.get("cost")
    if choice is not None:
        lines.append(
            f"Least cost {choice.value:.4g} per sample at p >= {choice.threshold:.3g} "
            f"(thresholds in [{choice.threshold_low:.3g}, {choice.threshold_high:.3g}] are as "
            f"good at {d.confidence:.0%}; the cost varies by {choice.flat_within:.3g} across them)."
        )
        for at in d.at:
            if at.name == "threshold" and at.threshold == 0.5:
                continue  # the same line as at 0.5
            name = {"0.5": "0.5", "threshold": "the threshold in use", "calibrated":
                    "FP / (FP + FN), a calibrated model's threshold"}[at.name]
            lines.append(
                f"  at {name} ({at.threshold:.3g}): {at.cost:.4g} per sample, "
                f"{at.excess:+.4g} against the best"
            )
    for rule in d.rules:
        lines.append(f"{rule.rule.replace('_', ' ')}: {rule.cost:.4g} per sample")
    return lines


def decision_step(d: Decision | None) -> str | None:
    """What to decide, in one sentence, when costs were given; None otherwise."""
    if d is None or d.costs is None:
        return None
    choice, at = d.optimal.get("cost"), d.cost_at("threshold")
    if choice is not None and at is not None:
        return (
            f"Decide with p >= {choice.threshold:.3g} (any threshold in "
            f"[{choice.threshold_low:.3g}, {choice.threshold_high:.3g}] does as well): "
            f"{choice.value:.4g} per sample, against {at.cost:.4g} at {at.threshold:g}. "
            "Chosen on these samples: confirm it on a fresh split."
        )
    rules = {r.rule: r for r in d.rules}
    if "argmax" in rules and "cost_weighted" in rules:
        return (
            "Decide by least expected cost (argmin over decisions of sum_i p_i C[i][j]): "
            f"{rules['cost_weighted'].cost:.4g} per sample, against "
            f"{rules['argmax'].cost:.4g} for the argmax."
        )
    return None


def decomposition_line(ev: Evaluation) -> str | None:
    """The log loss split into MCB - DSC + UNC, each term with its interval when computed.

    None when the evaluation has no decomposition of its target (summary detail,
    multiclass without the samples).
    """
    parts = ev.decomposition
    if parts is None or parts.log_loss is None:
        return None
    intervals = (parts.intervals or {}).get("log_loss", {})
    terms = []
    names = (("MCB", "miscalibration"), ("DSC", "discrimination"), ("UNC", "uncertainty"))
    for label, name in names:
        bounds = intervals.get(name)
        low, high = (None, None) if bounds is None else bounds
        shown = "" if bounds is None else f" [{format_number(low)}, {format_number(high)}]"
        terms.append(f"{label} {format_number(getattr(parts.log_loss, name))}{shown}")
    level = f"; {ev.confidence:.0%} intervals" if intervals else ""
    return (
        f"log loss {format_number(parts.log_loss.score)} = {terms[0]} - {terms[1]} + {terms[2]} "
        f"(miscalibration, discrimination, uncertainty{level})"
    )


def explanation_renderables(ev: Evaluation) -> Iterator[RenderableType]:
    """The terminal explanation: headline, numbers, findings with advice, worst samples."""
    yield Text(headline(ev), style=style("headline"))
    classes = ", ".join(map(printable, ev.classes))
    yield Text(
        f"{ev.n} samples, {ev.task} ({classes}); decision: {ev.decision_rule}.",
        style=style("dim"),
    )
    yield Text("")
    yield metrics_table(ev)
    split = decomposition_line(ev)
    if split is not None:
        yield Text("")
        yield Text(split)
    if ev.decision is not None and ev.decision.costs is not None:
        yield Text("")
        yield Text("Decisions", style="bold")
        yield from (Text(line) for line in decision_lines(ev.decision))
    yield Text("")
    yield Text("Findings", style="bold")
    yield from findings_renderables(ev.findings)
    if ev.worst:
        yield Text("")
        yield Text("Worst samples (highest log loss)", style="bold")
        yield worst_table(ev)


def render_plain(renderable: Any, *, width: int = 80) -> str:
    """What a terminal without colour shows for ``renderable``, ``width`` columns wide."""
    console = Console(
        file=io.StringIO(), width=width, color_system=None, theme=THEME, legacy_windows=False
    )
    console.print(renderable)
    out = console.file.getvalue()  # type: ignore[attr-defined]
    return "\n".join(line.rstrip() for line in out.splitlines()) + "\n"


# --- the short answer ----------------------------------------------------------------------


def _pct(share: float) -> str:
    """A share for people: ``12%``, ``3.1%``, or ``<0.1%`` (never a misleading ``0.0%``)."""
    if 0 < share < 0.001:
        return "<0.1%"
    return f"{share:.0%}" if share >= 0.1 else f"{share:.1%}"


def _number(ev: Evaluation, name: str, label: str, note: str, digits: int = 3) -> KeyNumber | None:
    metric = ev.metrics.get(name)
    if metric is None:
        return None
    return KeyNumber(
        label,
        format_number(metric.value, digits),
        interval_text(metric.ci_low, metric.ci_high, digits=digits),
        note,
    )


def _worst_ids(ev: Evaluation, count: int) -> str:
    ids = [printable(row.id) for row in ev.worst[: min(count, 3)]]
    more = f" and {count - len(ids)} more" if count > len(ids) else ""
    return ", ".join(ids) + more


def finding_sentence(finding: Finding, ev: Evaluation) -> str:
    """One finding of ``explain`` in one or two plain sentences (the message otherwise)."""
    e = finding.evidence
    try:
        if finding.code == "loss_above_baseline":
            return (
                f"The log loss is {e['log_loss']:.2f}, above the {e['baseline_log_loss']:.2f} "
                "of a model that always predicts the class frequencies, although the decisions "
                f"beat the majority class ({e['accuracy']:.0%} against "
                f"{e['majority_accuracy']:.0%} correct)."
            )
        if finding.code == "confident_errors":
            return (
                f"{e['count']:g} errors ({_pct(e['share'])} of the samples) were made with at "
                f"least {e['level']:.0%} confidence; a model with honest probabilities would make "
                f"about "
                f"{e['expected_if_calibrated']:.1f}."
            )
        if finding.code in ("overconfident", "underconfident"):
            too = "extreme" if finding.code == "overconfident" else "timid"
            share = e.get("miscalibration_share")
            part = (
                f"; fixing that would remove {_pct(share)} of the loss"
                if share is not None and math.isfinite(share) and share > 0
                else ""
            )
            return (
                f"The probabilities are too {too} ({finding.code}): slope "
                f"{e['calibration_slope']:.2f} [{e['ci_low']:.2f}, {e['ci_high']:.2f}]{part}."
            )
        if finding.code == "recalibration_gain":
            keeps = (
                "changing no decision"
                if e["decisions_changed"] == 0
                else f"changing {_pct(e['decisions_changed'])} of the decisions"
            )
            return (
                f"Rescaling the probabilities ({e['method']} scaling, judged on held-out "
                f"folds) takes the log loss from {e['log_loss_before']:.2f} to "
                f"{e['log_loss_after']:.2f}, {keeps}."
            )
        if finding.code == "possible_label_errors":
            return (
                f"{e['observed']:g} labels have a chance of at most {e['level']:.0%} under the "
                f"model's own probabilities, where a calibrated model would have about "
                f"{e['expected_if_calibrated']:.1f}: about {e['count']:.0f} wrong labels, or a "
                "model certain where it should not be."
            )
        if finding.code == "loss_concentration":
            return (
                f"Half of the log loss comes from {_pct(e['half_loss_sample_share'])} of the "
                "samples: the mean loss describes a few bad predictions, not the typical one."
            )
        if finding.code == "wide_intervals":
            return (
                f"With {e['n']} samples the accuracy is only known to within "
                f"\u00b1{e['half_width']:.3f}: smaller differences are noise."
            )
    except (KeyError, TypeError, ValueError):
        pass  # evidence of another shape: the rule's own sentence says it
    return finding.message


def _explain_steps(ev: Evaluation) -> list[Step]:
    """What to do, in order: look at the samples, rescale, then measure better."""
    codes = {f.code: f for f in ev.findings}
    steps: list[Step] = []
    if "infinite_loss" in codes:
        steps.append(Step(codes["infinite_loss"].advice))
    suspects = codes.get("confident_errors") or codes.get("possible_label_errors")
    if suspects is not None and suspects.severity in ("high", "medium") and ev.worst:
        e = suspects.evidence
        count = int(e.get("count", 0))
        share = e.get("loss_share")
        steps.append(
            Step(
                f"Look first at the {count} confidently wrong samples ({_worst_ids(ev, count)}); "
                "fix wrong labels.",
                f"they carry {_pct(share)} of the log loss." if share is not None else "",
            )
        )
    gain = codes.get("recalibration_gain")
    if gain is not None:
        e = gain.evidence
        method = e.get("method", "temperature")
        keeps = "no decision changes" if e.get("decisions_changed") == 0 else (
            f"accuracy {e.get('accuracy_before', 0):.4f} -> {e.get('accuracy_after', 0):.4f}"
        )
        temperature = ev.recalibration.get("methods", {}).get("temperature", {}).get("temperature")
        action = (
            f"Divide the logits by a temperature of about {temperature:.1f}, fitted on "
            "held-out data (not the test set)."
            if method == "temperature" and temperature is not None
            else f"Recalibrate with {method} scaling fitted on held-out data, not the test set."
        )
        steps.append(
            Step(
                action,
                f"log loss {e.get('log_loss_before', math.nan):.2f} -> "
                f"{e.get('log_loss_after', math.nan):.2f}, {keeps}.",
            )
        )
    elif "overconfident" in codes or "underconfident" in codes:
        steps.append(Step((codes.get("overconfident") or codes["underconfident"]).advice))
    if "wide_intervals" in codes:
        e = codes["wide_intervals"].evidence
        steps.append(
            Step(
                f"Read accuracy differences under \u00b1{e.get('half_width', math.nan):.3f} as "
                "noise; test on more samples or compare models on the same ones.",
                "4 times the samples halve it.",
            )
        )
    if not steps:
        serious = [f for f in ev.findings if f.severity in ("high", "medium") and f.advice]
        top = (serious or [f for f in ev.findings if f.code == "consistent"] or ev.findings)
        if top and top[0].advice:
            steps.append(Step(top[0].advice))
    return steps[:3]


def _expected_sentence(confident: Finding) -> str:
    """The confident errors against chance, once the headline has counted them."""
    e = confident.evidence
    return (
        f"A model with honest probabilities would make about "
        f"{e['expected_if_calibrated']:.1f} errors that confident, not {e['count']:g}."
    )


def _carry_most(findings: list[Finding]) -> bool:
    """The confident errors carry most of the loss (the headline may then say so)."""
    confident = next((f for f in findings if f.code == "confident_errors"), None)
    share = None if confident is None else confident.evidence.get("loss_share")
    return share is not None and share >= 0.5


#: Findings whose content the short answer's headline and key numbers already carry.
_IN_HEADLINE = ("loss_above_baseline", "consistent")


def explain_answer(ev: Evaluation) -> Answer:
    """The short answer of ``explain``: why loss and accuracy disagree, and what to do."""
    serious = [f for f in ev.findings if f.severity in ("high", "medium")]
    acc, loss = ev.metric("accuracy"), ev.metric("log_loss")
    numbers = f"Accuracy {acc:.2f} with log loss {loss:.2f}"
    codes = {f.code for f in serious}
    if "infinite_loss" in codes:
        count = next(f for f in serious if f.code == "infinite_loss").evidence.get("count", 0)
        headline = (
            f"Accuracy is {acc:.2f} but the log loss is infinite: {count:g} sample(s) give "
            "their true class a probability of exactly 0, and one such answer costs "
            "without limit."
        )
    elif not serious:
        headline = (
            f"{numbers}: loss and accuracy agree; this is what a calibrated model (one "
            "whose probabilities match frequencies) with this skill produces."
        )
    elif _carry_most(serious):
        e = next(f for f in serious if f.code == "confident_errors").evidence
        headline = (
            f"{numbers}: {e['count']:g} errors made with at least {e['level']:.0%} confidence "
            f"carry {_pct(e['loss_share'])} of the loss; each costs far more than a correct "
            "answer earns."
        )
    elif "overconfident" in codes:
        headline = (
            f"{numbers}: the probabilities are more extreme than the model's record "
            "justifies (overconfident), so its errors cost more loss than they should."
        )
    elif "loss_above_baseline" in codes:
        headline = f"{numbers}: the decisions are good but the probabilities are badly scaled."
    else:
        headline = f"{numbers}. {finding_sentence(serious[0], ev)}"
    baseline = ev.metrics.get("baseline_log_loss")
    no_skill = "" if baseline is None else f"; no skill {baseline.value:.3f}"
    rows = [
        _number(ev, "log_loss", "log loss", f"mean -ln p(true class){no_skill}"),
        _number(ev, "accuracy", "accuracy", "share of correct decisions"),
        _number(ev, "roc_auc", "ROC AUC", "ranking: 0.5 guessing, 1 perfect"),
        _number(ev, "calibration_slope", "calibration slope", "1 = calibrated, <1 too sure"),
    ]
    shown = [f for f in serious if f.code not in _IN_HEADLINE]
    said = [
        _expected_sentence(f) if f.code == "confident_errors" and _carry_most(serious)
        else finding_sentence(f, ev)
        for f in shown[:2]
    ]
    steps = list(_explain_steps(ev))
    step = decision_step(ev.decision)
    if step is not None:  # --costs: which decision to take comes first
        steps = [Step(step)] + steps
    return Answer(
        headline=headline,
        numbers=tuple(n for n in rows if n is not None),
        confidence=ev.confidence,
        findings=tuple(said),
        steps=tuple(steps[:3]),
        details="Everything: --full. Report with plots: --html FILE. Terms: docs/glossary.md",
    )

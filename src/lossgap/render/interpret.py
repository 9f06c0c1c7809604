"""The terminal answer of ``lossgap interpret``."""

from __future__ import annotations

import html
import math
from collections.abc import Iterator

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from lossgap.render.answer import Answer, KeyNumber, Step, interval_text
from lossgap.render.text import findings_renderables, format_number, render_plain, style
from lossgap.results.evaluation import Finding
from lossgap.results.interpret import (
    MAIN_SPLITS,
    Interpretation,
    SplitInterpretation,
    acc_text,
    prob_text,
)

# --- terminal ----------------------------------------------------------------------------


def _range_text(values: list[float] | None, digits: int = 4) -> str:
    if values is None:
        return "none"
    return f"{format_number(values[0], digits)} - {format_number(values[1], digits)}"


def headline(result: Interpretation) -> str:
    """The first high or medium finding; otherwise the verdict that loss and accuracy agree."""
    serious = [f for f in result.findings if f.severity in ("high", "medium")]
    chosen = serious or [f for f in result.findings if f.code == "consistent"]
    return chosen[0].message if chosen else interpretation_answer(result).headline


def interpretation_renderables(result: Interpretation) -> Iterator[RenderableType]:
    """Terminal output: headline, one column per split, findings, explanation."""
    yield Text(headline(result), style=style("headline"))
    yield Text(f"decision: {result.decision_rule}; logs are natural (nats).", style=style("dim"))
    yield Text("")
    table = Table(show_edge=False, header_style="bold", pad_edge=False)
    table.add_column("")
    for name in result.splits:
        table.add_column(name, justify="right")
    rows = [
        ("log loss", lambda s: format_number(s.log_loss)),
        ("accuracy", lambda s: _range_text(s.accuracy_interval) if s.accuracy is None
         else format_number(s.accuracy)),
        ("normalized entropy", lambda s: format_number(s.normalized_entropy, 3)
         + (" (at least)" if s.normalized_entropy_is_lower_bound else "")),
        ("calibrated accuracy range", lambda s: _range_text(s.calibrated_accuracy_range)),
        ("calibrated loss range", lambda s: _range_text(s.calibrated_loss_range)),
        ("calibrated model possible", lambda s: {True: "yes", False: "no", None: "-"}[
            s.calibrated_feasible]),
        ("mean loss on errors", lambda s: _range_text(s.error_loss_range, 2)),
        ("accuracy interval", lambda s: "-" if s.accuracy_noise is None else _range_text(
            [s.accuracy_noise.ci_low, s.accuracy_noise.ci_high])),
    ]
    for label, cell in rows:
        table.add_row(label, *(cell(s) for s in result.splits.values()))
    yield table
    yield Text("")
    yield Text("Findings", style="bold")
    yield from findings_renderables(result.findings)
    yield Text("")
    for paragraph in result.explanation:
        yield Text(paragraph)
        yield Text("")
    for note in result.notes:
        yield Text(f"Note: {note}", style=style("dim"))


# --- the short answer --------------------------------------------------------------------


def _geometric_mean_prob(loss: float) -> str:
    """What a mean log loss says about the probability of the true class, in words."""
    return f"the true class gets {prob_text(math.exp(-loss))} on (geometric) average"


def _split_name(split: str) -> str:
    return {"val": "validation", "given": "", "train": "training", "test": "test"}[split]


def _split_numbers(s: SplitInterpretation, confidence: float) -> list[KeyNumber]:
    name = _split_name(s.split)
    prefix = f"{name} " if name else ""
    rows = [
        KeyNumber(
            f"{prefix}log loss",
            f"{s.log_loss:.4f}",
            "",
            f"no skill {s.baseline_log_loss:.4f}"
            + (" (balanced classes)" if s.normalized_entropy_is_lower_bound else ""),
        )
    ]
    if s.accuracy_interval is not None:
        noise = s.accuracy_noise
        value = (
            f"{s.accuracy:.4f}"
            if s.accuracy is not None
            else f"{s.accuracy_interval[0]:.2f}-{s.accuracy_interval[1]:.2f}"
        )
        if s.calibrated_accuracy_range is not None:
            low, high = s.calibrated_accuracy_range
            note = f"calibrated models: {low:.2f}-{high:.2f}"
        else:
            note = "calibrated models: none with this loss"
        if s.accuracy is None:
            note = f"from F1 {s.f1:.4f}; {note}"
        rows.append(
            KeyNumber(
                f"{prefix}accuracy",
                value,
                "" if noise is None else interval_text(noise.ci_low, noise.ci_high, 3),
                note,
            )
        )
    elif s.calibrated_accuracy_range is not None:
        low, high = s.calibrated_accuracy_range
        rows.append(
            KeyNumber(
                "accuracy it allows",
                f"{low:.2f}-{high:.2f}",
                "",
                "for a model with calibrated probabilities",
            )
        )
    return rows


def _answer_finding(f: Finding, result: Interpretation) -> str | None:
    """A finding in one or two plain sentences; None when the headline already says it."""
    e = f.evidence
    named = e.get("split")
    split = result.splits.get(named) if isinstance(named, str) else None
    if f.code in ("consistent", "loss_above_baseline"):
        return None  # the headline says it
    if f.code == "overconfident" and split is not None and split.error_true_class_prob_range:
        return (
            f"The errors are confident: even if every correct prediction were a coin flip, "
            "the errors would give their true class "
            f"{prob_text(split.error_true_class_prob_range[1])} or less on (geometric) average."
        )
    if f.code == "wide_intervals":
        return (
            f"With {e['n']} samples the accuracy is only known to within "
            f"\u00b1{e['half_width']:.3f} ({e['ci_low']:.3f} to {e['ci_high']:.3f})."
        )
    if f.code == "generalization_gap" and result.gap is not None:
        gap = result.gap
        other = _split_name(gap.between[1])
        acc = gap.accuracy_difference
        acc_text = "" if acc is None else (
            f" and its accuracy {abs(acc) * 100:.1f} points {'lower' if acc > 0 else 'higher'}"
        )
        direction = "above" if gap.loss_difference > 0 else "below"
        rel = gap.relative_loss_difference
        rel_text = "" if rel is None else f" ({abs(rel):.0%})"
        return (
            f"The {other} loss is {abs(gap.loss_difference):.4f}{rel_text} {direction} the "
            f"training loss{acc_text}: the model fits its training data somewhat better than "
            "new data (mild overfitting), or the two sets differ."
        )
    return _without_given(f.message)


def _without_given(message: str) -> str:
    """A finding's sentence without the ``given:`` a lone pair of options carries."""
    return message.removeprefix("given: ")


def _answer_steps(result: Interpretation) -> list[Step]:
    codes = {f.code: f for f in result.findings}
    main = main_split(result.splits)
    steps: list[Step] = []
    if "impossible_pair" in codes:
        steps.append(Step(codes["impossible_pair"].advice))
    if codes.keys() & {"overconfident", "miscalibrated", "loss_above_baseline"}:
        steps.append(
            Step(
                "Run `lossgap explain` on the predictions: it lists the confident errors "
                "(check their labels first) and fits a temperature on held-out folds.",
                "dividing the logits by it lowers the loss and changes no decision.",
            )
        )
    if "threshold_fragile" in codes:
        steps.append(Step(codes["threshold_fragile"].advice))
    if main.accuracy_interval is None:
        steps.append(
            Step(
                "Give the accuracy too (--accuracy A): a loss alone cannot say whether the "
                "model is confidently wrong or just unsure."
            )
        )
    if result.base_rate is None and main.accuracy_interval is None:
        steps.append(
            Step(
                "Give the share of the positive class (--base-rate) if the classes are not "
                "balanced.",
                "the no-skill loss then drops below ln 2, and the loss reads worse.",
            )
        )
    if "generalization_gap" in codes:
        steps.append(
            Step(
                "Choose the epoch by validation loss if you need probabilities, by "
                "validation accuracy if you need decisions: `lossgap history LOG` finds both."
            )
        )
    if "wide_intervals" in codes:
        steps.append(
            Step(
                "Test on more samples before reading small differences.",
                "4 times the samples halve the interval.",
            )
        )
    elif main.accuracy_interval is not None and main.n is None:
        steps.append(
            Step(
                f"Give the {_split_name(main.split) or 'test'} set's size (--n) to see how "
                "precise the accuracy is."
            )
        )
    if not steps or "consistent" in codes:
        steps.insert(
            0,
            Step(
                "Nothing to fix between loss and accuracy."
                if "generalization_gap" in codes
                else "Nothing to fix between loss and accuracy: choose models by log loss "
                "when you use the probabilities, by accuracy (or cost) for decisions."
            ),
        )
    return steps[:3]


def interpretation_answer(result: Interpretation) -> Answer:
    """The short answer of ``interpret``: what this loss (and accuracy) mean, what to do."""
    main = main_split(result.splits)
    name = _split_name(main.split)
    where = f"{name} " if name else ""
    loss_words = (
        f"A {where}log loss of {main.log_loss:.4f} is {main.normalized_entropy:.2f} times the "
        f"no-skill loss {main.baseline_log_loss:.4f} (always answering "
        f"{'the base rate' if main.base_rate is not None else f'1/{main.classes}'})"
    )
    serious = [f for f in result.findings if f.severity in ("high", "medium")]
    in_headline = None  # the finding the headline says, not repeated under "Why"
    if main.accuracy_interval is None:
        allowed = (
            f"; a model with calibrated (honest) probabilities and this loss is right "
            f"{main.calibrated_accuracy_range[0]:.0%} to {main.calibrated_accuracy_range[1]:.0%}"
            " of the time."
            if main.calibrated_accuracy_range is not None
            else ": worse than no model, whatever the accuracy."
        )
        headline = loss_words + allowed
    elif not serious:
        low, high = main.calibrated_accuracy_range or (math.nan, math.nan)
        headline = (
            f"Loss and accuracy agree: {where}log loss {main.log_loss:.4f} with accuracy "
            f"{main.accuracy_interval[0]:.4f} is what a model with calibrated (honest) "
            f"probabilities produces; with this loss it would be right {low:.0%} to "
            f"{high:.0%} of the time."
        )
    else:
        top = serious[0]
        if top.code in ("overconfident", "loss_above_baseline", "miscalibrated"):
            headline = (
                f"{loss_words}, yet accuracy is {acc_text(main).split(' ', 1)[1]}: most "
                "decisions are right, but the errors are made with near-certainty."
            )
        else:
            message = _without_given(top.message)
            headline, in_headline = message[:1].upper() + message[1:], top
    numbers: list[KeyNumber] = []
    order = [main] + [s for s in result.splits.values() if s is not main]
    for split in order:
        numbers += _split_numbers(split, result.confidence)
    findings = [
        text
        for f in result.findings
        if f is not in_headline and (text := _answer_finding(f, result)) is not None
    ]
    findings.append(
        f"Log loss is not a percentage: it is the mean of -ln p(true class), so "
        f"{main.log_loss:.4f} means {_geometric_mean_prob(main.log_loss)}; accuracy only "
        "counts which side of the threshold each prediction falls on."
    )
    levels = {n.interval for n in numbers if n.interval}
    return Answer(
        headline=headline,
        numbers=tuple(numbers[:5]),
        confidence=result.confidence if levels else None,
        findings=tuple(findings[:3]),
        steps=tuple(_answer_steps(result)),
        details="Everything (ranges, the theory, notes): --full. Terms: docs/glossary.md",
    )


def main_split(splits: dict[str, SplitInterpretation]) -> SplitInterpretation:
    """The split the answer leads with: validation, test, the given numbers, training."""
    return next(splits[name] for name in MAIN_SPLITS if name in splits)


def interpretation_html(result: Interpretation) -> str:
    """A notebook cell: the short answer, the full interpretation folded under it."""
    from lossgap.render.html import answer_html  # jinja2: only when a notebook shows it

    full = render_plain(Group(*interpretation_renderables(result)), width=100)
    details = f"<pre style='white-space:pre-wrap'>{html.escape(full)}</pre>"
    return answer_html(interpretation_answer(result), details=details)

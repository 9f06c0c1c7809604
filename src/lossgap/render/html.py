"""HTML reports: one self-contained file per result, and notebook fragments.

A :class:`Report` pairs a result (an Evaluation, a Comparison, a HistoryReport...) with
its plots and renders it through the jinja2 templates in ``render/templates/``:

* one file: the CSS is inline and every plot is an SVG in a ``data:`` URI, so the page
  loads nothing from anywhere (no script, no font, no image request);
* every ``{{ }}`` output is made printable (:func:`lossgap.printable.printable`: a
  control character, such as the ``ESC`` of a terminal sequence, or a newline shows as its
  escape) and then escaped (autoescaping is on for every template), so every user string
  (column names, ids, class names, model and file names) is inert, visible text;
* it reads well on a laptop (plots in a two-column grid) and prints cleanly (one column,
  no figure split across pages).

Renderers read numbers and compute none; the plot series that an Evaluation does not hold
come from :mod:`lossgap.curves`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from lossgap.printable import printable
from lossgap.render.answer import Answer
from lossgap.render.compare import comparison_answer, format_p
from lossgap.render.compare import headline as comparison_headline
from lossgap.render.demo import demo_answer
from lossgap.render.glossary import TERMS
from lossgap.render.history import history_answer
from lossgap.render.lab import lab_answer
from lossgap.render.markdown import (
    comparison_markdown,
    demo_markdown,
    explain_markdown,
    history_markdown,
    lab_markdown,
)
from lossgap.render.text import (
    explain_answer,
    format_interval,
    format_number,
    headline,
    short_method,
)
from lossgap.results.compare import PAIR_METRICS, Comparison, Difference, PairComparison
from lossgap.results.curves import ExplainCurves, FlipPoints
from lossgap.results.evaluation import Evaluation, MetricValue
from lossgap.results.history import HistoryReport
from lossgap.version import __version__

#: Pairs listed in a comparison's table (the JSON has them all).
MAX_PAIRS = 30


def _pct(value: float | None) -> str:
    """``0.95`` -> ``95%``, ``0.0222`` -> ``2.22%``."""
    return "-" if value is None else f"{value * 100:.3g}%"


def _sig(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def _plain(value: Any) -> str:
    """A count or label: ``3.0`` -> ``3``; None -> ``-``."""
    if value is None:
        return "-"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _evidence(value: Any) -> str:
    """An evidence value for people: floats to 4 significant digits, lists shortened."""
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else format_number(value)
    if isinstance(value, list | tuple):
        shown = ", ".join(_evidence(v) for v in value[:20])
        return shown + (f", ... ({len(value)} in all)" if len(value) > 20 else "")
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_evidence(v)}" for k, v in value.items())
    return _plain(value)


def _signed(value: float | None) -> str:
    """``+0.0120``; undefined differences spelled out."""
    if value is None or math.isnan(value):
        return "undefined"
    return f"{value:+.4f}"


def _difference_interval(d: Difference) -> str:
    """``[-0.0030, +0.0270]``, or nothing without an interval."""
    if d.ci_low is None or d.ci_high is None:
        return ""
    return f"[{d.ci_low:+.4f}, {d.ci_high:+.4f}]"


def _real(pair: PairComparison) -> list[str]:
    """The metrics whose difference is significant for this pair."""
    return [m.replace("_", " ") for m in PAIR_METRICS if pair.difference(m).significant]


_LABELS = {"log_loss": "log loss", "brier": "Brier score"}


def _printable(value: Any) -> Any:
    """What every ``{{ }}`` writes: text made printable; HTML built by a template and
    numbers pass unchanged.

    Examples
    --------
    >>> _printable("id\\x1b]0;owned\\x07"), _printable(0.5)
    ('id\\\\x1b]0;owned\\\\x07', 0.5)
    """
    if isinstance(value, str) and not isinstance(value, Markup):
        return printable(value)
    return value


@functools.cache
def environment() -> Environment:
    """The jinja2 environment: package templates, every output printable and escaped,
    undefined names fail."""
    env = Environment(
        loader=PackageLoader("lossgap.render", "templates"),
        finalize=_printable,
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        num=lambda v, digits=4: format_number(v, digits),
        ci=lambda m: format_interval(m) if isinstance(m, MetricValue) else "",
        pct=_pct,
        sig=_sig,
        p=format_p,
        plain=_plain,
        evidence=_evidence,
        signed=_signed,
        diff_ci=_difference_interval,
        method=short_method,
        label=lambda name: _LABELS.get(name, name),
        headline=headline,
        compare_headline=comparison_headline,
    )
    env.globals.update(
        version=__version__, pair_real=_real, max_pairs=MAX_PAIRS, terms=TERMS
    )
    return env


def chart_views(charts: list[Any]) -> list[dict[str, Any]]:
    """What the templates need of each chart: texts, the SVG data URI and its size."""
    views = []
    for chart in charts:
        width, height = chart.figure.get_size_inches() * 100
        views.append(
            {
                "name": chart.name,
                "section": chart.section,
                "wide": chart.wide,
                "heading": chart.heading,
                "summary": chart.summary,
                "caption": chart.caption,
                "uri": chart.data_uri(),
                "width": int(width),
                "height": int(height),
            }
        )
    return views


@dataclass
class Report:
    """A result ready to be written as HTML, Markdown and plots.

    Attributes
    ----------
    kind : str
        ``"explain"``, ``"compare"``, ``"history"``, ``"lab"`` or ``"demo"``.
    template : str
        The page template in ``render/templates/``.
    context : dict
        What the template reads besides the charts and the page's texts.
    headline, subtitle, title : str
        The page's first sentence, the line under it, the browser tab's title.
    source : str or None
        The input file's name, shown in the page's header.
    make_charts : callable
        Builds the plots (called once, only when a page or plots are written).
    make_markdown : callable
        Builds the Markdown summary.
    answer : Answer or None
        The short answer the page starts with.
    """

    kind: str
    template: str
    context: dict[str, Any]
    headline: str
    subtitle: str
    title: str
    make_charts: Callable[[], list[Any]]
    make_markdown: Callable[[], str]
    source: str | None = None
    answer: Answer | None = None
    _charts: list[Any] | None = field(default=None, repr=False)

    @property
    def charts(self) -> list[Any]:
        """The plots, built on first use."""
        if self._charts is None:
            self._charts = self.make_charts()
        return self._charts

    def html(self, *, standalone: bool = True, fold: bool = False) -> str:
        """The page (``standalone``) or a fragment with its own styles, for a notebook;
        ``fold`` folds everything below the short answer (what a notebook cell shows)."""
        template = environment().get_template(self.template)
        return template.render(
            **self.context,
            answer=self.answer,
            fold=fold and self.answer is not None,
            kind=self.kind,
            headline=self.headline,
            subtitle=self.subtitle,
            title=self.title,
            source=self.source,
            standalone=standalone,
            charts=chart_views(self.charts),
        )

    def _repr_html_(self) -> str:
        """The report in a notebook cell: the short answer, the details folded."""
        return self.html(standalone=False, fold=True)

    def markdown(self) -> str:
        """The Markdown summary, for a pull-request comment."""
        return self.make_markdown()

def explain_report(
    ev: Evaluation,
    *,
    curves: ExplainCurves | None = None,
    source: str | None = None,
) -> Report:
    """The report of one evaluation.

    Parameters
    ----------
    ev : Evaluation
    curves : ExplainCurves, optional
        The plot series computed beside the evaluation (:func:`lossgap.curves.explain_curves`:
        consistency band, confidence histogram, per-sample losses, threshold curves);
        without them only the plots the Evaluation holds are drawn.
    source : str, optional
        The input's name, for the header.

    Returns
    -------
    Report

    Examples
    --------
    >>> import lossgap
    >>> ev = lossgap.explain([0, 1, 1, 0, 1, 0], [0.2, 0.9, 0.3, 0.4, 0.8, 0.7])
    >>> page = explain_report(ev).html()
    >>> page.startswith("<!DOCTYPE html>"), page.count("<img ")
    (True, 2)
    """
    from lossgap.render.plots.decision import decision_charts
    from lossgap.render.plots.explain import explain_charts

    classes = ", ".join(map(str, ev.classes))
    answer = explain_answer(ev)
    return Report(
        kind="explain",
        template="explain.html.j2",
        context={"ev": ev},
        answer=answer,
        headline=answer.headline,
        subtitle=f"{ev.n} samples, {ev.task} ({classes}); decision: {ev.decision_rule}.",
        title=f"lossgap explain{f': {source}' if source else ''}",
        make_charts=lambda: explain_charts(ev, curves)
        + decision_charts(ev, None if curves is None else curves.decision),
        make_markdown=lambda: explain_markdown(ev, source=source),
        source=source,
    )


def comparison_report(
    c: Comparison,
    *,
    flips: Mapping[tuple[str, str], FlipPoints] | None = None,
    source: str | None = None,
) -> Report:
    """The report of a comparison; with ``flips`` the flip plots too.

    Parameters
    ----------
    c : Comparison
    flips : mapping of (model, model) to FlipPoints, optional
        :func:`lossgap.curves.flip_points` of the pairs to plot
        (:func:`lossgap.curves.comparison_flips`).
    source : str, optional

    Returns
    -------
    Report
    """
    from lossgap.render.plots.compare import comparison_charts

    compared = f"each against {c.reference}" if c.reference else "all pairs"
    answer = comparison_answer(c)
    return Report(
        kind="compare",
        template="compare.html.j2",
        context={"c": c},
        answer=answer,
        headline=answer.headline,
        subtitle=(
            f"{len(c.models)} models on the same {c.n} samples, {c.task} "
            f"({', '.join(map(str, c.classes))}); decision: {c.decision_rule}; {compared}."
        ),
        title=f"lossgap compare{f': {source}' if source else ''}",
        make_charts=lambda: comparison_charts(c, dict(flips or {})),
        make_markdown=lambda: comparison_markdown(c, source=source),
        source=source,
    )


def history_report(report: HistoryReport, *, source: str | None = None) -> Report:
    """The report of a training history (every run, and the per-epoch predictions)."""
    from lossgap.render.plots.history import history_charts

    pairs = report.all_findings()
    runs = {a.run.name for a in report.runs}
    answer = history_answer(report)
    return Report(
        kind="history",
        template="history.html.j2",
        answer=answer,
        context={
            "report": report,
            "findings": [f for _, f in pairs],
            "runs": [r if len(runs) > 1 else None for r, _ in pairs],
            "best": report.best(),
        },
        headline=answer.headline,
        subtitle=f"{len(report.runs)} run(s) read from {report.source}"
        + (f"; {len(report.per_epoch)} epochs of saved predictions." if report.per_epoch else "."),
        title=f"lossgap history: {source or report.source}",
        make_charts=lambda: history_charts(report),
        make_markdown=lambda: history_markdown(report),
        source=source,
    )


def demo_report(
    story: Any,
    *,
    curves: ExplainCurves | None = None,
    flips: Mapping[tuple[str, str], FlipPoints] | None = None,
) -> Report:
    """The demo's one page: the history, the last epoch explained, two epochs compared.

    Parameters
    ----------
    story : lossgap.demo.DemoStory
    curves : ExplainCurves, optional
        The plot series of the last epoch's evaluation.
    flips : mapping of (model, model) to FlipPoints, optional
        The flip points of the pairs to plot.

    Returns
    -------
    Report
    """
    from lossgap.render.plots.compare import comparison_charts
    from lossgap.render.plots.explain import explain_charts
    from lossgap.render.plots.history import history_charts

    ev, c = story.evaluation, story.comparison

    def charts() -> list[Any]:
        groups = {
            "history": history_charts(story.history),
            "explain": explain_charts(ev, curves),
            "compare": comparison_charts(c, dict(flips or {})),
        }
        for section, members in groups.items():
            for chart in members:
                chart.section = section
        return [chart for members in groups.values() for chart in members]

    run = story.run
    best, last = run.best("val_loss"), run.history[story.late]
    return Report(
        kind="demo",
        template="demo.html.j2",
        answer=demo_answer(story),
        context={
            "story": story,
            "ev": ev,
            "c": c,
            "history": story.history,
            "findings": [f for _, f in story.history.all_findings()],
            "best": story.history.best(),
            "advice": story.history.runs[0].advice,
        },
        headline=(
            f"Validation loss was lowest at epoch {best['epoch']} ({best['val_loss']:.4f}) and "
            f"is {last['val_loss']:.4f} at epoch {story.late}, while validation accuracy went "
            f"from {best['val_accuracy']:.4f} to {last['val_accuracy']:.4f}. Why?"
        ),
        subtitle=(
            f"A two-layer network (scikit-learn's MLPClassifier, no weight decay) trained for "
            f"{len(run.history)} epochs on scikit-learn's breast-cancer data; "
            f"{len(run.val_labels)} validation samples, positive class 'malignant'."
        ),
        title="lossgap demo",
        make_charts=charts,
        make_markdown=lambda: demo_markdown(story),
    )


def lab_report(result: Any) -> Report:
    """The report of a logistic-regression lab (:class:`lossgap.lab.LabResult`)."""
    from lossgap.render.plots.lab import lab_charts

    source = result.source.get("file")
    answer = lab_answer(result)
    return Report(
        kind="lab",
        template="lab.html.j2",
        context={"result": result},
        answer=answer,
        headline=answer.headline,
        subtitle=(
            f"One-input logistic regression on {result.n} points "
            f"({result.source.get('kind')}), base rate {result.base_rate:.4f}."
        ),
        title="lossgap lab logistic",
        make_charts=lambda: lab_charts(result),
        make_markdown=lambda: lab_markdown(result),
        source=None if source is None else Path(source).name,
    )


# Notebook display (wired to the result types through lossgap.results.display): the same
# page as --html, as a fragment with its own styles; plots that need the samples are left out.


def evaluation_html(ev: Evaluation) -> str:
    """An :class:`~lossgap.results.evaluation.Evaluation` in a notebook cell: the short
    answer, the rest folded."""
    return explain_report(ev).html(standalone=False, fold=True)


def comparison_html(c: Comparison) -> str:
    """A :class:`~lossgap.results.compare.Comparison` in a notebook cell."""
    return comparison_report(c).html(standalone=False, fold=True)


def history_html(report: HistoryReport) -> str:
    """A :class:`~lossgap.results.history.HistoryReport` in a notebook cell."""
    return history_report(report).html(standalone=False, fold=True)


def lab_html(result: Any) -> str:
    """A :class:`~lossgap.results.lab.LabResult` in a notebook cell."""
    return lab_report(result).html(standalone=False, fold=True)


def answer_html(answer: Answer, *, details: str = "") -> str:
    """The answer as an HTML fragment for a notebook cell, ``details`` (HTML) folded under it.

    Examples
    --------
    >>> from lossgap.render.answer import KeyNumber
    >>> page = answer_html(Answer("Loss and accuracy agree.", (KeyNumber("log loss", "0.46"),)))
    >>> "Key numbers" in page and "0.46" in page and "<summary>Details" not in page
    True
    """
    template = environment().get_template("answer_page.html.j2")
    return template.render(answer=answer, details=Markup(details), terms=TERMS)

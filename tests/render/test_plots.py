"""Charts: each drawn when its numbers exist, labelled, titled, saved as PNG and SVG."""

from __future__ import annotations

import xml.dom.minidom

import numpy as np
import pytest

from lossgap import InputError, Predictions, Tally, compare
from lossgap.cli.output import save_charts
from lossgap.curves import explain_curves, flip_points
from lossgap.explanation import evaluate_predictions
from lossgap.render.plots.chart import COLORS, short
from lossgap.render.plots.compare import comparison_charts
from lossgap.render.plots.explain import explain_charts
from tests.helpers.data import REAL_LOGS, needs_real_logs, random_binary, random_multiclass

BINARY_CHARTS = ["reliability", "confidence", "loss_by_confidence", "loss_concentration",
                 "threshold"]


def _charts(y, p, **kwargs):
    pred = Predictions(y, p, **kwargs)
    ev = evaluate_predictions(pred, replicates=0)
    curves = explain_curves(Tally.from_predictions(pred), pred, curve=ev.decomposition.curve)
    return ev, explain_charts(ev, curves)


def _labels(chart):
    return [(ax.get_xlabel(), ax.get_ylabel()) for ax in chart.figure.axes]


def test_binary_charts_are_all_drawn_labelled_and_titled(rng):
    y, p = random_binary(rng, 400)
    ev, charts = _charts(y, p)
    assert [c.name for c in charts] == BINARY_CHARTS
    for chart in charts:
        assert chart.heading and chart.caption and chart.summary
        assert chart.figure.get_suptitle().replace("\n", " ") == chart.summary
        # every axes with data has both labels (the shared upper histogram has only y)
        for _, y_label in _labels(chart):
            assert y_label
        assert any(x for x, _ in _labels(chart))
    half = ev.diagnostics.loss_concentration.half_loss_sample_share
    assert f"{half:.0%}" in charts[3].summary or f"{half:.1%}" in charts[3].summary


def test_reliability_title_reads_the_findings_and_the_band(rng):
    y, p = random_binary(rng, 2000)
    sharp = p**4 / (p**4 + (1 - p) ** 4)
    ev, charts = _charts(y, sharp)
    assert ev.finding("overconfident") is not None
    assert charts[0].summary.startswith("Overconfident:")
    assert "leaves the band" in charts[0].summary


def test_multiclass_has_no_threshold_chart(rng):
    y, prob = random_multiclass(rng, 300, 3)
    _, charts = _charts(y, prob)
    assert [c.name for c in charts] == BINARY_CHARTS[:-1]


def test_without_curves_only_what_the_evaluation_holds(rng):
    y, p = random_binary(rng, 200)
    ev = evaluate_predictions(Predictions(y, p), replicates=0)
    assert [c.name for c in explain_charts(ev)] == ["reliability", "loss_concentration"]


@pytest.mark.slow
def test_saved_as_png_and_parseable_svg(rng, tmp_path):
    y, p = random_binary(rng, 200)
    _, charts = _charts(y, p)
    written = save_charts(charts, tmp_path / "plots")
    assert sorted(f.name for f in written) == sorted(
        f"{c.name}.{ext}" for c in charts for ext in ("png", "svg")
    )
    for path in written:
        data = path.read_bytes()
        if path.suffix == ".png":
            assert data.startswith(b"\x89PNG")
        else:
            assert xml.dom.minidom.parseString(data).documentElement.tagName == "svg"


@pytest.mark.slow
def test_svg_is_reproducible(rng):
    y, p = random_binary(rng, 150)
    first = [c.svg() for c in _charts(y, p)[1][:2]]
    second = [c.svg() for c in _charts(y, p)[1][:2]]
    assert first == second


def test_plot_directory_that_is_a_file_is_refused(tmp_path, rng):
    y, p = random_binary(rng, 50)
    target = tmp_path / "plots"
    target.write_text("")
    with pytest.raises(InputError, match="is a file: pass a directory"):
        save_charts(_charts(y, p)[1], target)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["$\\notacommand{$", "<script>alert(1)</script>", "a" * 80])
def test_user_strings_draw_as_typed(rng, name):
    y, p = random_binary(rng, 60)
    labels = np.where(y == 1, name, "other")
    ids = [f"{name}{i}" for i in range(60)]
    _, charts = _charts(labels, p, ids=ids, positive=name)
    for chart in charts:
        chart.svg()  # TeX would fail on "$x^2$ \alpha"; an escaped "$" draws as text
    assert short(name).count("$") == short(name).count("\\$")
    assert len(short(name)) <= 18 + name.count("$")


def test_comparison_charts_forest_and_flips(rng):
    y, p = random_binary(rng, 300)
    q = np.clip(p + rng.normal(0, 0.15, 300), 0, 1)
    c = compare({"a <b>": p, "b": q}, y)
    pair = c.pairs[0]
    points = flip_points(Predictions(y, p if pair.a == "a <b>" else q),
                         Predictions(y, q if pair.b == "b" else p))
    charts = comparison_charts(c, {(pair.a, pair.b): points})
    assert [ch.name for ch in charts] == ["forest", "flips_1"]
    assert charts[0].wide
    assert str(pair.flips.a_only_correct) in charts[1].summary
    forest_axes = charts[0].figure.axes
    assert [ax.get_title() for ax in forest_axes] == [
        "accuracy", "log loss (nats)", "Brier score", "ROC AUC"
    ]
    colours = {line.get_color() for ax in forest_axes for line in ax.get_lines()}
    assert colours <= {COLORS["correct"], COLORS["ink"], COLORS["neutral"]}


@needs_real_logs
def test_history_chart_of_a_real_keras_log():
    from lossgap.history import analyse_history
    from lossgap.render.plots.history import history_charts

    log = next(iter(sorted((REAL_LOGS / "keras").glob("*.csv"))))
    charts = history_charts(analyse_history(log))
    assert charts and charts[0].name == "history_1"
    assert charts[0].figure.axes[0].get_xlabel() in ("epoch", "step")
    charts[0].svg()

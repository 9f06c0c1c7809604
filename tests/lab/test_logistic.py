"""lossgap lab logistic: the fits, the exact accuracy maximum, prices, profiles, plots, CLI."""

from __future__ import annotations

import json
import math
import time

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from typer.testing import CliRunner

from lossgap import InputError
from lossgap.cli import load_commands
from lossgap.cli.output import save_charts
from lossgap.lab import ILLUSTRATIONS, illustration, logistic, logistic_lab, simulate
from lossgap.lab.logistic import (
    accuracy_by_cut,
    best_cut_intervals,
    check_points,
    fit_cross_entropy,
    log_losses,
    profile,
    separation,
)
from lossgap.render.plots.lab import lab_charts

LN2 = math.log(2)


@pytest.fixture(scope="module")
def first():
    return illustration(1)


def test_illustration_1_reproduces_the_seed_numbers(first):
    fit = first.cross_entropy_fit
    assert fit.slope == pytest.approx(1.27, abs=0.005)
    assert fit.cut == pytest.approx(0.52, abs=0.005)
    assert fit.per_point_log_loss == pytest.approx([0.14, 0.30, 1.07, 0.97, 0.43], abs=0.005)
    assert fit.accuracy == 0.6 and first.best_accuracy == 0.8
    # "select the cut x = -0.1 ... or x = 0.95": both lie in the reported intervals
    spans = [(i.orientation, i.low, i.high, i.high_closed) for i in first.accuracy_intervals]
    assert spans == [("+", -0.3, 0.0, True), ("+", 0.9, 1.0, True)]
    # the seed's per-point losses at cut -0.1 and 0.95 come from a slope of about 5
    x, y = np.array(first.x), np.array(first.y)
    assert log_losses(x, y, 5.0, 0.5) == pytest.approx([0.01, 0.31, 0.47, 5.01, 0.004], abs=0.006)
    assert log_losses(x, y, 5.0, -4.75)[2:] == pytest.approx([4.76, 0.58, 0.58], abs=0.01)


def brute_min_loss(x, y, orientation, low, high):
    """The lowest mean log loss over a grid of slopes and cuts with the interval's decisions."""
    sign = 1.0 if orientation == "+" else -1.0
    cuts = np.linspace(max(low, x.min() - 3), min(high, x.max() + 3), 801)[1:]
    slopes = np.geomspace(1e-3, 80, 1200)
    best = math.inf
    for cut in cuts:
        z = sign * slopes[:, None] * (x[None, :] - cut)
        best = min(best, float(np.mean(np.logaddexp(0, z) - y * z, axis=1).min()))
    return best


def test_price_of_each_accuracy_interval_matches_a_grid(first):
    x, y = np.array(first.x), np.array(first.y)
    for interval in first.accuracy_intervals:
        brute = brute_min_loss(x, y, interval.orientation, interval.low, interval.high)
        assert interval.min_log_loss == pytest.approx(brute, abs=2e-4)
        assert interval.min_log_loss <= brute + 1e-12
        assert interval.min_log_loss > first.cross_entropy_fit.log_loss
        losses = log_losses(x, y, interval.slope, interval.intercept)
        assert np.mean(losses) == pytest.approx(interval.min_log_loss)
    closed, open_end = first.accuracy_intervals
    assert closed.attained and closed.cut == 0.0
    assert not open_end.attained and open_end.cut == 0.9  # approached from inside (0.9, 1]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cross_entropy_fit_is_scikit_learns_unpenalised_fit(seed):
    x, y = simulate(200, slope=0.8, intercept=-0.3, seed=seed)
    fit = fit_cross_entropy(x, y)
    ref = LogisticRegression(C=np.inf, tol=1e-12, max_iter=10_000).fit(x[:, None], y)
    assert fit.slope == pytest.approx(ref.coef_[0, 0], rel=1e-6)
    assert fit.intercept == pytest.approx(ref.intercept_[0], abs=1e-6)
    prob = ref.predict_proba(x[:, None])[:, 1]
    assert fit.log_loss == pytest.approx(float(np.mean(-np.log(np.where(y == 1, prob, 1 - prob)))))


def test_fit_is_scale_free():
    x, y = simulate(300, slope=1.5, intercept=0.2, seed=3)
    base = fit_cross_entropy(x, y)
    scaled = fit_cross_entropy(1000.0 * x + 5e4, y)
    assert scaled.slope * 1000.0 == pytest.approx(base.slope, rel=1e-6)
    assert scaled.cut == pytest.approx(1000.0 * base.cut + 5e4, rel=1e-9)
    assert scaled.log_loss == pytest.approx(base.log_loss, rel=1e-9)


def brute_accuracy(x, y):
    """Accuracy of both orientations at every data value, every midpoint and beyond the ends."""
    values = np.unique(x)
    middles = (values[:-1] + values[1:]) / 2
    cuts = np.concatenate([[values[0] - 1], values, middles, [values[-1] + 1]])
    plus = [(np.mean((x >= c) == (y == 1)), c) for c in cuts]
    minus = [(np.mean((x <= c) == (y == 1)), c) for c in cuts]
    return plus, minus


@pytest.mark.parametrize("seed", range(6))
def test_accuracy_maximum_is_exact(seed):
    rng = np.random.default_rng(seed)
    x = np.round(rng.normal(size=40), 1)  # ties on purpose
    y = (rng.random(40) < 0.5).astype(int)
    plus, minus = brute_accuracy(x, y)
    best_brute = max(a for a, _ in plus + minus)
    best, intervals = best_cut_intervals(x, y)
    assert best == pytest.approx(best_brute)
    # every cut attaining the maximum lies in a reported interval of its orientation, and
    # every reported interval attains it
    for orientation, table in (("+", plus), ("-", minus)):
        mine = [i for i in intervals if i.orientation == orientation]
        for accuracy, cut in table:
            inside = any(
                (i.low < cut or (i.low_closed and i.low == cut))
                and (cut < i.high or (i.high_closed and i.high == cut))
                for i in mine
            )
            constant = np.all(x >= cut) or np.all(x < cut) if orientation == "+" else (
                np.all(x <= cut) or np.all(x > cut))
            if orientation == "-" and constant:
                continue  # constant rules are listed once, under "+"
            assert inside == np.isclose(accuracy, best), (orientation, cut, accuracy)


def test_accuracy_by_cut_counts_ties_on_the_decision_side():
    x = np.array([0.0, 1.0, 1.0, 2.0])
    y = np.array([0, 0, 1, 1])
    table = accuracy_by_cut(x, y)
    # x >= t for t in (0, 1]: both points at 1 predicted 1; t in (1, 2]: both predicted 0
    assert table["plus"].tolist() == [0.5, 0.75, 0.75, 0.5]
    assert table["minus"].tolist() == [0.5, 0.25, 0.25, 0.5]


def test_separated_data_are_said_plainly():
    x, y = np.array([0.0, 1.0, 2.0]), np.array([0, 1, 1])
    result = logistic_lab(x, y)
    assert result.cross_entropy_fit is None and result.profiles == {}
    assert result.separation.kind == "complete"
    assert "no finite maximum-likelihood fit" in result.explanation[0]
    (only,) = result.accuracy_intervals
    assert only.accuracy == 1.0 and only.min_log_loss == 0.0 and not only.attained
    quasi = logistic_lab([0.0, 1.0, 1.0, 2.0], [0, 0, 1, 1])
    assert quasi.separation.kind == "quasi-complete"
    assert [i.min_log_loss for i in quasi.accuracy_intervals] == pytest.approx([LN2 / 2] * 2)
    one = logistic_lab([0.0, 1.0, 2.0], [1, 1, 1])
    assert one.separation.kind == "one class"
    assert one.accuracy_intervals[0].rule == "predict 1 everywhere"
    assert one.accuracy_intervals[0].min_log_loss == 0.0
    assert separation(np.array([0.0, 1.0, 2.0]), np.array([1, 0, 1])) is None
    reverse = separation(np.array([0.0, 1.0, 2.0]), np.array([1, 0, 0]))
    assert reverse.orientation == "-"


def test_profiles_trace_loss_and_accuracy(first):
    x, y = np.array(first.x), np.array(first.y)
    fit = first.cross_entropy_fit
    for along in ("intercept", "slope"):
        prof = first.profiles[along]
        values = np.array(prof.values)
        assert int(np.argmin(prof.log_loss)) == prof.values.index(prof.fitted)
        for k in (0, 37, len(values) - 1):
            a, b = (fit.slope, values[k]) if along == "intercept" else (values[k], fit.intercept)
            assert prof.log_loss[k] == pytest.approx(np.mean(log_losses(x, y, a, b)))
            assert prof.accuracy[k] == pytest.approx(np.mean((a * x + b >= 0) == (y == 1)))
        assert prof.best_accuracy == 0.8
    # along the intercept the cut sweeps every point: both best intervals show up
    assert len(first.profiles["intercept"].best_accuracy_ranges) == 2


def test_illustration_2_loss_rises_while_accuracy_rises():
    result = illustration(2)
    fit = result.cross_entropy_fit
    assert fit.intercept == pytest.approx(0.42, abs=0.01)  # the answer's fitted intercept
    prof = result.profiles["slope"]
    values = np.array(prof.values)
    at_best = np.array(prof.accuracy) == prof.best_accuracy
    assert prof.best_accuracy >= fit.accuracy + 0.05
    assert values[at_best].min() > fit.slope  # the better accuracy needs a larger slope
    assert np.array(prof.log_loss)[at_best].min() > fit.log_loss


def test_illustration_3_cross_entropy_and_accuracy_agree():
    result = illustration(3)
    assert result.n == 10_000
    fit = result.cross_entropy_fit
    assert fit.slope == pytest.approx(1.0, abs=0.05) and abs(fit.intercept) < 0.05
    assert result.best_accuracy - fit.accuracy < 0.001
    cheapest = min(i.min_log_loss for i in result.accuracy_intervals)
    assert cheapest - fit.log_loss < 1e-4
    assert result.to_dict()["points"] is None  # too many for the JSON


def test_to_dict_is_json(first):
    data = json.loads(json.dumps(first.to_dict(), allow_nan=False))
    assert data["points"][3] == [0.9, 0]
    assert set(data) >= {
        "source", "n", "points", "base_rate", "separation", "cross_entropy_fit",
        "best_accuracy", "accuracy_intervals", "profiles", "explanation",
    }
    assert set(data["cross_entropy_fit"]) == {
        "slope", "intercept", "cut", "orientation", "per_point_log_loss", "accuracy", "log_loss",
    }


@pytest.mark.slow
def test_charts_have_titles_and_labelled_axes(first, tmp_path):
    charts = lab_charts(first)
    assert [c.name for c in charts] == ["logistic_fit", "profile_intercept", "profile_slope"]
    for chart in charts:
        assert chart.figure.get_suptitle()
        for ax in chart.figure.axes:
            assert ax.get_xlabel() or ax.get_ylabel()
        assert chart.figure.axes[0].get_xlabel() and chart.figure.axes[0].get_ylabel()
    written = save_charts(lab_charts(first), tmp_path / "plots")
    assert sorted(p.name for p in written) == sorted(
        f"{c.name}.{ext}" for c in charts for ext in ("png", "svg")
    )
    assert written[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert written[1].read_text().lstrip().startswith("<?xml")
    separated = lab_charts(logistic_lab([0.0, 1.0, 2.0], [0, 1, 1]))
    assert [c.name for c in separated] == ["logistic_fit"]
    assert "Separated" in separated[0].figure.get_suptitle()


@pytest.mark.parametrize(
    ("x", "y", "match"),
    [
        ([1.0], [1], "at least 2 points"),
        ([1.0, 2.0], [0, 2], "row 1: 2 is not a label 0 or 1"),
        ([1.0, float("nan")], [0, 1], "column x, row 1"),
        ([3.0, 3.0], [0, 1], "every x equals 3"),
        ([1.0, 2.0, 3.0], [0, 1], "equal length"),
    ],
)
def test_bad_points(x, y, match):
    with pytest.raises(InputError, match=match):
        check_points(x, y)


def test_bad_simulation():
    with pytest.raises(InputError, match="--n must be an integer of at least 2"):
        simulate(1, slope=1.0, intercept=0.0, seed=0)
    with pytest.raises(InputError, match="--slope must be a finite number"):
        simulate(10, slope=math.inf, intercept=0.0, seed=0)


# --- CLI -------------------------------------------------------------------------------------

runner = CliRunner()


def test_cli_illustration_json_and_text():
    app = load_commands()
    out = runner.invoke(app, ["lab", "logistic", "--illustration", "1", "--json"])
    assert out.exit_code == 0 and out.stderr == ""
    data = json.loads(out.stdout)
    assert data["best_accuracy"] == 0.8 and data["plots"] == []
    assert data["source"]["illustration"] == 1
    short = runner.invoke(app, ["lab", "logistic", "--illustration", "1"])
    assert short.exit_code == 0 and "gives up 20.0 accuracy points" in short.stdout
    text = runner.invoke(app, ["lab", "logistic", "--illustration", "1", "--full"])
    assert text.exit_code == 0 and "cross-entropy fit" in text.stdout


@pytest.mark.slow
def test_cli_points_and_plots(tmp_path):
    points = tmp_path / "points.csv"
    points.write_text("x,y\n" + "\n".join(f"{x},{y}" for x, y in zip(
        ILLUSTRATIONS[1]["x"], ILLUSTRATIONS[1]["y"], strict=True)) + "\n")
    out = runner.invoke(
        load_commands(),
        ["lab", "logistic", "--points", str(points), "--plot", str(tmp_path / "p"), "--json"],
    )
    assert out.exit_code == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["cross_entropy_fit"]["slope"] == pytest.approx(1.268, abs=1e-3)
    assert len(data["plots"]) == 6 and all(p.startswith(str(tmp_path)) for p in data["plots"])


def test_cli_simulation():
    out = runner.invoke(
        load_commands(),
        ["lab", "logistic", "--n", "50", "--slope", "2", "--intercept", "-1", "--seed", "4",
         "--json"],
    )
    assert out.exit_code == 0
    source = json.loads(out.stdout)["source"]
    assert source == {"kind": "simulated", "n": 50, "slope": 2.0, "intercept": -1.0, "seed": 4}
    written = runner.invoke(load_commands(), ["lab", "logistic", "--n", "5e1", "--seed", "4",
                                              "--slope", "2", "--intercept", "-1", "--json"])
    assert written.exit_code == 0 and json.loads(written.stdout)["source"] == source


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ([], "exactly one of --points FILE, --n N or --illustration"),
        (["--n", "10", "--illustration", "2"], "got --n and --illustration"),
        (["--illustration", "4"], "must be 1, 2 or 3"),
        (["--n", "1"], "at least 2"),
        (["--n", "2.5"], "--n must be an integer of at least 2, got 2.5"),
        (["--n", "1e400"], "--n must be an integer of at least 2, got inf"),
        (["--n", "3e7"], "at most 2e+07"),
        (["--points", "/nonexistent/points.csv"], "points.csv"),
    ],
)
def test_cli_bad_input(args, match):
    out = runner.invoke(load_commands(), ["lab", "logistic", *args])
    assert out.exit_code == 2 and out.stdout == ""
    assert len(out.stderr.strip().splitlines()) == 1 and match in out.stderr


def test_cli_points_file_problems(tmp_path):
    three = tmp_path / "three.csv"
    three.write_text("a,b,c\n1,0,3\n2,1,4\n")
    plot_file = tmp_path / "file.txt"
    plot_file.write_text("")
    two = tmp_path / "two.csv"
    two.write_text("u,v\n0,0\n1,1\n1,0\n2,1\n")
    app = load_commands()
    out = runner.invoke(app, ["lab", "logistic", "--points", str(three)])
    assert out.exit_code == 2 and "name them x and y" in out.stderr
    out = runner.invoke(app, ["lab", "logistic", "--points", str(two), "--plot", str(plot_file)])
    assert out.exit_code == 2 and "is a file" in out.stderr and out.stdout == ""
    ok = runner.invoke(app, ["lab", "logistic", "--points", str(two), "--json"])
    assert ok.exit_code == 0 and json.loads(ok.stdout)["n"] == 4


# --- large n: profiles counted exactly and summed over bins ----------------------------------


def direct_profile(x, y, slopes, intercepts):
    """Every (slope, intercept) pair against every point: the plain numpy reference."""
    z = slopes[:, None] * x[None, :] + intercepts[:, None]
    return np.mean(np.logaddexp(0.0, z) - y * z, axis=1), np.mean((z >= 0) == (y == 1), axis=1)


@pytest.mark.parametrize(
    ("slope", "intercept", "n", "decimals"),
    [(1.0, 0.0, 50_000, None), (-2.0, 0.5, 30_000, 1), (0.3, 0.5, 40_000, 2)],
)
def test_large_profiles_equal_the_point_by_point_numbers(slope, intercept, n, decimals):
    x, y = simulate(n, slope=slope, intercept=intercept, seed=n)
    if decimals is not None:
        x = np.round(x, decimals)  # ties
    assert n > logistic.DIRECT_POINTS  # the binned sum
    fit = fit_cross_entropy(x, y)
    for along in ("intercept", "slope"):
        prof = profile(x, y, fit, along=along)
        grid = np.array(prof.values)
        fixed = np.full_like(grid, fit.slope if along == "intercept" else fit.intercept)
        pairs = (fixed, grid) if along == "intercept" else (grid, fixed)
        loss, accuracy = direct_profile(x, y, *pairs)
        assert np.array(prof.log_loss) == pytest.approx(loss, rel=1e-12, abs=0)
        assert np.array_equal(prof.accuracy, accuracy)  # counted, not approximated
        # lowest at the fit (a grid point may equal it to the last digits: 40/400 of 10 a)
        at_fit = prof.log_loss[prof.values.index(prof.fitted)]
        assert min(prof.log_loss) == pytest.approx(at_fit, rel=1e-13, abs=0)


def test_exact_accuracies_at_the_boundary_and_for_every_sign():
    rng = np.random.default_rng(5)
    x = np.round(rng.normal(size=400), 1)
    y = (rng.random(400) < 0.5).astype(np.int64)
    slopes = np.array([1.0, -1.0, 0.0, 0.0, 3.0, -0.5, 1e-300, 2.0])
    # intercepts putting the boundary exactly on data points, and beyond every point
    intercepts = np.array([-x[0], x[1], 0.0, -1.0, -3.0 * x[2], 0.5 * x[3], 0.0, -1e9])
    order = np.argsort(x, kind="stable")
    got = logistic._accuracies(x[order], y[order], slopes, intercepts)
    assert np.array_equal(got, direct_profile(x, y, slopes, intercepts)[1])


def test_binned_sum_gives_way_when_each_point_needs_a_bin():
    x = np.sort(np.random.default_rng(6).normal(size=30_000))
    slopes, intercepts = np.array([1e6, 0.0]), np.array([0.0, 0.2])
    assert logistic._binned_mean_softplus(x, slopes, intercepts) is None
    expected = np.mean(np.logaddexp(0.0, slopes[:, None] * x + intercepts[:, None]), axis=1)
    assert logistic._mean_softplus(x, slopes, intercepts) == pytest.approx(expected, rel=1e-14)


@pytest.mark.slow
def test_ten_million_points_take_seconds():
    # issue 19: `lab logistic --n 1e7` ran past 5 minutes (a Python loop over every cut, and
    # profiles of 402 x n log losses each); 2e6 points here, with the CPU time bounded
    start = time.process_time()
    x, y = simulate(2_000_000, slope=1.0, intercept=0.0, seed=0)
    result = logistic_lab(x, y)
    data = result.to_dict()
    assert time.process_time() - start < 20
    fit = result.cross_entropy_fit
    assert fit.per_point_log_loss is None and data["points"] is None
    assert data["cross_entropy_fit"]["per_point_log_loss"] is None
    assert fit.log_loss == pytest.approx(float(np.mean(log_losses(x, y, fit.slope, fit.intercept))))
    assert len(json.dumps(data)) < 100_000

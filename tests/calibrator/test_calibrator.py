"""lossgap.Calibrator and `lossgap calibrate`: the shipped map is the map the folds scored,
its held-out log loss comes true on new data, and wrong files are refused with one line."""

from __future__ import annotations

import json

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.optimize import minimize_scalar
from scipy.special import expit, softmax
from sklearn.metrics import log_loss
from typer.testing import CliRunner

import lossgap
from lossgap import Calibrator, InputError, Predictions, Tally
from lossgap.cli import load_commands
from lossgap.core.pooling import pool_table
from lossgap.core.recalibrate import (
    _FITTED,
    FIT_ROWS,
    _isotonic_held_out,
    _logistic_maps,
    fit_logistic,
    logits_of,
)
from tests.helpers.data import random_multiclass

runner = CliRunner()
app = load_commands()


def overconfident(rng, n, temperature=0.5):
    z = rng.normal(0.0, 2.0, n)
    y = (rng.random(n) < expit(z)).astype(int)
    return y, expit(z / temperature)


def _scored_map(method, p, train):
    """The probabilities at ``p`` of ``method`` fitted on ``train``, as the recalibration's
    folds fit and score a map (their isotonic and logistic paths)."""
    if method == "isotonic":
        return _isotonic_held_out(train, p, 1.0)[0]
    intercept, slope = _FITTED[method]
    fit = fit_logistic(logits_of(train.scores), train.weights, intercept=intercept, slope=slope)
    return _logistic_maps([(fit.intercept, fit.slope)], logits_of(p))[0]


@pytest.mark.parametrize("method", ["temperature", "intercept", "platt", "isotonic"])
def test_binary_map_is_the_scored_map(rng, method):
    y, p = overconfident(rng, 800)
    cal = Calibrator.fit(y, p, method=method)
    table = pool_table(Tally.from_predictions(Predictions(y, p)).tables[0], FIT_ROWS)
    expected = _scored_map(method, p, table)
    assert_allclose(cal.transform(p), expected, rtol=1e-12, atol=1e-15)


def test_temperature_against_scipy(rng):
    y, p = overconfident(rng, 1000)
    z = logits_of(p)
    best = minimize_scalar(
        lambda t: log_loss(y, expit(z / t)),
        bounds=(0.1, 10),
        method="bounded",
        options={"xatol": 1e-10},
    )
    cal = Calibrator.fit(y, p, method="temperature")
    assert cal.parameters["temperature"] == pytest.approx(best.x, rel=1e-5)
    # logits in give the same probabilities as probabilities in
    assert_allclose(cal.transform(z, from_logits=True), cal.transform(p), rtol=1e-12)


def test_multiclass_temperature_and_isotonic(rng):
    y, prob = random_multiclass(rng, 600, 3)
    sharp = softmax(3 * np.log(prob), axis=1)
    cal = Calibrator.fit(y, sharp, method="temperature")
    t = cal.parameters["temperature"]
    assert_allclose(cal.transform(sharp), softmax(np.log(sharp) / t, axis=1), rtol=1e-12)
    assert 2.5 < t < 3.5
    iso = Calibrator.fit(y, sharp, method="isotonic").transform(sharp)
    assert_allclose(iso.sum(axis=1), 1.0)
    assert log_loss(y, iso) < log_loss(y, sharp)
    with pytest.raises(InputError, match="not available for multiclass"):
        Calibrator.fit(y, sharp, method="platt")


@pytest.mark.slow
def test_saved_from_one_half_predicts_the_other_half():
    """The held-out log loss explain reports comes true on the other half, within the
    interval it reports, in at least 90% of datasets (per method)."""
    seeds = 40
    hits = {m: 0 for m in ("temperature", "intercept", "platt", "isotonic")}
    for seed in range(seeds):
        rng = np.random.default_rng(500 + seed)
        y, p = overconfident(rng, 2000)
        first, second = slice(0, 1000), slice(1000, 2000)
        ev = lossgap.explain(y[first], p[first], seed=seed)
        tally = Tally.from_predictions(Predictions(y[first], p[first]))
        for method in hits:
            cal = Calibrator.from_evaluation(ev, tally, method=method)
            lo, hi = cal.held_out["interval"]
            assert cal.held_out["log_loss"] == ev.recalibration_map(method).log_loss_after
            hits[method] += lo <= log_loss(y[second], cal.transform(p[second])) <= hi
    for method, hit in hits.items():
        assert hit / seeds >= 0.90, (method, hit)


def test_save_load_round_trip(tmp_path, rng):
    y, p = overconfident(rng, 500)
    for method in ("temperature", "platt", "isotonic"):
        cal = Calibrator.fit(y, p, method=method)
        path = cal.save(tmp_path / f"{method}.json")
        data = json.loads(path.read_text())
        assert data["lossgap_version"] == lossgap.__version__
        assert data["method"] == method and data["task"] == "binary"
        loaded = Calibrator.load(path)
        assert_allclose(loaded.transform(p), cal.transform(p), rtol=0, atol=0)
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind


def write(path, columns):
    names = list(columns)
    rows = zip(*columns.values(), strict=True)
    path.write_text(",".join(names) + "\n" + "\n".join(",".join(map(str, r)) for r in rows) + "\n")
    return path


def test_cli_save_apply_and_refuse(tmp_path, rng):
    y, p = overconfident(rng, 400)
    fitted = write(tmp_path / "fit.csv", {"y": y, "p": p})
    saved = tmp_path / "cal.json"
    result = runner.invoke(
        app,
        [
            "explain",
            str(fitted),
            "--save-calibrator",
            str(saved),
            "--calibrator",
            "platt",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    cal = Calibrator.load(saved)
    assert cal.method == "platt" and cal.columns == ["p"]
    new = write(tmp_path / "new.csv", {"id": range(len(p)), "p": p[::-1]})
    result = runner.invoke(app, ["calibrate", str(saved), str(new)])
    assert result.exit_code == 0, result.output
    out = np.genfromtxt(tmp_path / "new.calibrated.csv", delimiter=",", names=True)
    assert_allclose(out["p"], cal.transform(p[::-1]), rtol=1e-15)
    assert_allclose(out["id"], np.arange(len(p)))

    three = write(
        tmp_path / "three.csv",
        {"y": [0, 1, 2], "p_0": [0.2] * 3, "p_1": [0.3] * 3, "p_2": [0.5] * 3},
    )
    strange = write(tmp_path / "labels.csv", {"y": ["cat", "dog"], "p": [0.2, 0.7]})
    for bad, words in ((three, "binary task"), (strange, "'cat'"), (new, "is the input file")):
        args = ["calibrate", str(saved), str(bad)] + (["--out", str(new)] if bad == new else [])
        result = runner.invoke(app, args)
        assert result.exit_code == 2, result.output
        assert result.stderr.count("\n") == 1 and words in result.stderr


def test_cli_refuses_other_classes(tmp_path, rng):
    y, prob = random_multiclass(rng, 300, 3)
    labels = np.array(["ant", "bee", "cow"])[y]
    cal = Calibrator.fit(labels, prob, classes=["ant", "bee", "cow"], method="temperature")
    saved = cal.save(tmp_path / "cal.json")
    other = write(
        tmp_path / "other.csv",
        {"p_ant": prob[:, 0], "p_bee": prob[:, 1], "p_dog": prob[:, 2]},
    )
    result = runner.invoke(app, ["calibrate", str(saved), str(other)])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "ant, bee, cow" in result.stderr
    swapped = write(
        tmp_path / "swapped.csv", {"p_bee": prob[:, 1], "p_ant": prob[:, 0], "p_cow": prob[:, 2]}
    )
    result = runner.invoke(app, ["calibrate", str(saved), str(swapped)])
    assert result.exit_code == 2 and "order" in result.stderr
    good = write(
        tmp_path / "good.csv", {"p_ant": prob[:, 0], "p_bee": prob[:, 1], "p_cow": prob[:, 2]}
    )
    result = runner.invoke(
        app, ["calibrate", str(saved), str(good), "--out", str(tmp_path / "o.csv")]
    )
    assert result.exit_code == 0, result.output
    out = np.genfromtxt(tmp_path / "o.csv", delimiter=",", names=True)
    assert_allclose(
        np.column_stack([out[c] for c in ("p_ant", "p_bee", "p_cow")]),
        cal.transform(prob),
        rtol=1e-14,
    )


def test_platt_against_sklearn(rng):
    from sklearn.linear_model import LogisticRegression

    y, p = overconfident(rng, 1500)
    z = logits_of(p)
    reference = LogisticRegression(C=np.inf, tol=1e-12, max_iter=10_000).fit(z[:, None], y)
    cal = Calibrator.fit(y, p, method="platt")
    assert cal.parameters["slope"] == pytest.approx(reference.coef_[0, 0], rel=1e-5)
    assert cal.parameters["intercept"] == pytest.approx(reference.intercept_[0], abs=1e-5)


def test_cli_calibrator_option_needs_a_file(tmp_path, rng):
    y, p = overconfident(rng, 100)
    path = write(tmp_path / "p.csv", {"y": y, "p": p})
    result = runner.invoke(app, ["explain", str(path), "--calibrator", "platt"])
    assert result.exit_code == 2 and "add --save-calibrator" in result.stderr

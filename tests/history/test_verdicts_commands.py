"""Commands that agree: compare with an infinite-loss model, history's noise verdicts."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import lossgap
from lossgap.core.trend import autocorrelation_inflation, trend
from lossgap.history import analyse_history
from lossgap.history.analysis import noise_check
from lossgap.render.compare import headline
from tests.helpers.data import REAL_LOGS, needs_real_logs

pytestmark = needs_real_logs

CREDIT = REAL_LOGS / "predictions" / "CryZiiiX__credit-risk-prediction__results__predictions.csv"


@pytest.mark.skipif(not CREDIT.is_file(), reason="shared/real-logs is absent")
def test_compare_recommends_the_model_that_wins_once_clipped():
    frame = pd.read_csv(CREDIT)
    y = frame.iloc[:, 0].to_numpy()  # the label column (its header may carry a BOM)
    models = {name: frame[name].to_numpy() for name in ("lr_proba", "dt_proba", "knn_proba")}
    c = lossgap.compare(models, y)
    found = next(f for f in c.findings if f.code == "infinite_loss")
    assert found.severity == "high" and found.evidence["winner"] == "dt_proba"
    # the margin is the capped paired difference, recomputed here by hand

    def capped(p):
        q = np.clip(np.where(y == 1, p, 1 - p), 1e-15, 1.0)
        return -np.log(q)

    margin = capped(models["lr_proba"]).mean() - capped(models["dt_proba"]).mean()
    assert found.evidence["margin"] == pytest.approx(margin, rel=1e-9)
    assert "clip the outputs and it wins by" in found.message
    assert headline(c).startswith("dt_proba is best once its outputs are clipped")
    rank = next(f for f in c.findings if f.code == "rank_disagreement")
    assert rank.evidence["best_by_score"] == "dt_proba"


def test_an_infinite_loss_that_does_not_win_is_said_plainly():
    rng = np.random.default_rng(0)
    p = rng.uniform(0.05, 0.95, 3000)
    y = (rng.uniform(size=3000) < p).astype(int)
    bad = np.where(rng.uniform(size=3000) < 0.5, 0.5, p)
    bad[0] = 1.0 - y[0]  # certain of the wrong class: infinite loss
    c = lossgap.compare({"good": p, "bad": bad}, y)
    found = next(f for f in c.findings if f.code == "infinite_loss")
    assert found.severity == "medium" and "none of them beats" in found.message


# -- history ---------------------------------------------------------------------------------


def test_noise_verdicts_are_paired_and_three_way():
    # 0.03 on 2000 samples: beyond even the unpaired bound (1.96 x 0.0124)
    assert noise_check(0.03, 0.80, 0.83, 2000).noise_verdict == "beyond"
    # 2 samples of 10000 changed: within noise however the changes fell
    assert noise_check(0.0002, 0.80, 0.8002, 10_000).noise_verdict == "within"
    # 0.008 on 10000: beyond if the epochs' errors overlap, within if they are unrelated
    check = noise_check(0.008, 0.80, 0.808, 10_000)
    assert check.noise_verdict == "undetermined" and check.within_noise is None
    # the paired bound is exact: McNemar's normal statistic at d = |change| all one way
    d = 0.008
    assert check.change_se_smallest == pytest.approx(math.sqrt(d * (1 - d) / 10_000))
    assert noise_check(0.01, 0.8, 0.81, None).noise_verdict == "n unknown"
    # the best of 60 epochs needs the Bonferroni-widened bound
    one, many = noise_check(0.016, 0.8, 0.816, 10_000), noise_check(0.016, 0.8, 0.816, 10_000, 60)
    assert one.noise_verdict == "beyond" and many.noise_verdict != "beyond"


def _write_log(path, loss, acc, train, sizes=None):
    lines = ["epoch,loss,val_loss,val_accuracy"]
    lines += [
        f"{i + 1},{float(train[i])!r},{float(loss[i])!r},{float(acc[i])!r}"
        for i in range(len(loss))
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_validation_size_is_not_a_common_multiple(tmp_path):
    # epochs scored on 557 and then 192 samples: the values fit 106,944 = 557 x 192, which no
    # single accuracy has as its denominator; the size is then unknown, not guessed
    rng = np.random.default_rng(0)
    acc = [rng.integers(400, 520) / 557 for _ in range(8)]
    acc += [rng.integers(140, 180) / 192 for _ in range(8)]
    loss = list(np.linspace(0.6, 0.4, 16))
    train = list(np.linspace(0.5, 0.2, 16))
    report = analyse_history(_write_log(tmp_path / "log.csv", loss, acc, train))
    assert report.runs[0].n_val is None
    # one size alone is found
    acc = [rng.integers(400, 520) / 557 for _ in range(16)]
    report = analyse_history(_write_log(tmp_path / "one.csv", loss, acc, train))
    assert report.runs[0].n_val == 557


def _ar1(rng, phi, n, size):
    out = np.empty((size, n))
    state = rng.normal(size=size)
    for i in range(n):
        state = phi * state + math.sqrt(1 - phi**2) * rng.normal(size=size)
        out[:, i] = state
    return out


def test_trend_test_holds_its_level_under_ar1_noise():
    rng = np.random.default_rng(3)
    x = np.arange(60.0)
    rejected = sum(trend(x, y).direction != "flat" for y in _ar1(rng, 0.5, 60, 200))
    # about 20% before the correction; at most 5% + noise (200 series: sd 1.5%)
    assert rejected / 200 <= 0.09
    # a real rise still shows through the same noise
    rising = sum(trend(x, y + 0.1 * x).direction == "rising" for y in _ar1(rng, 0.5, 60, 50))
    assert rising == 50


def test_autocorrelation_inflation_matches_the_ar1_formula():
    rng = np.random.default_rng(0)
    e = _ar1(rng, 0.5, 5000, 1)[0]
    n = 5000
    k = np.arange(1, n)
    ar1 = 1 + 2 * np.sum((1 - k / n) * 0.5**k)  # the AR(1) inflation with phi = 1/2
    assert autocorrelation_inflation(e) == pytest.approx(ar1, rel=0.1)


def test_history_false_alarms_under_ar1_noise(tmp_path):
    # flat curves with the sampling noise of 10,000 validation samples, AR(1) phi = 0.5
    rng = np.random.default_rng(11)
    alarms = 0
    for run in range(30):
        noise = _ar1(rng, 0.5, 60, 3)
        loss = 0.35 + 0.008 * noise[0]
        acc = 0.86 + 0.0035 * noise[1]
        train = 0.30 + 0.008 * noise[2]
        path = _write_log(tmp_path / f"{run}.csv", loss.tolist(), acc.tolist(), train.tolist())
        report = analyse_history(path, n_val=10_000)
        alarms += any(f.severity in ("high", "medium") for _, f in report.all_findings())
    assert alarms <= 3  # 10% of 30; measured about 3% (benchmarks/false_alarms.py)

"""The history analysis against brute force, hand computation and its noise behaviour."""

from __future__ import annotations

import math
from itertools import combinations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lossgap.core.trend import (
    accuracy_change_se,
    granularity_n,
    noise_sd,
    smooth,
    trend,
    window,
)
from lossgap.history import analyse_run
from lossgap.history.analysis import spikes
from tests.helpers.histories import make_history, run_of


def test_trend_matches_brute_force_mann_kendall_and_theil_sen(rng):
    x = np.arange(25.0)
    y = 0.02 * x + rng.normal(0, 0.1, 25)
    t = trend(x, y)
    pairs = list(combinations(range(25), 2))
    s = sum(np.sign(y[j] - y[i]) for i, j in pairs)
    assert t.tau == pytest.approx(s / len(pairs))
    slopes = [(y[j] - y[i]) / (x[j] - x[i]) for i, j in pairs]
    assert t.slope == pytest.approx(np.median(slopes))


def test_trend_of_a_constant_is_flat():
    t = trend(np.arange(6.0), np.full(6, 1.386))
    assert (t.direction, t.p_value) == ("flat", 1.0)


def test_smoothing_removes_a_one_point_spike_and_keeps_a_line():
    line = np.linspace(1.0, 2.0, 30)
    spiked = line.copy()
    spiked[12] = 9.0
    step = line[1] - line[0]
    # The median passes a neighbour for the spike: off by at most one step there.
    np.testing.assert_allclose(smooth(spiked, 3), line, atol=step)
    np.testing.assert_allclose(smooth(line, 3)[2:-2], line[2:-2], atol=1e-12)


@pytest.mark.parametrize("sigma", [0.01, 0.05])
def test_noise_sd_recovers_the_noise_under_a_trend(sigma):
    rng = np.random.default_rng(5)
    t = np.arange(3000)
    values = 0.5 + 0.3 * np.exp(-t / 500) + rng.normal(0, sigma, t.size)
    assert noise_sd(values) == pytest.approx(sigma, rel=0.08)


def test_accuracy_change_se_by_hand():
    assert accuracy_change_se(0.9, 0.8, 400) == pytest.approx(math.sqrt((0.09 + 0.16) / 400))


@settings(max_examples=40, deadline=None)
@given(n=st.integers(20, 50_000), seed=st.integers(0, 10_000))
def test_granularity_recovers_the_validation_size(n, seed):
    rng = np.random.default_rng(seed)
    counts = rng.choice(np.arange(int(0.5 * n), n), size=12, replace=n < 40)
    if np.gcd.reduce(np.append(counts, n)) > 1:
        return  # every count shares a factor with n: a divisor of n fits as well
    values = np.float32(counts / n).astype(np.float64)  # Keras logs float32
    assert granularity_n(values) == n


def test_granularity_refuses_values_that_are_no_fractions(rng):
    assert granularity_n(rng.uniform(0.6, 0.9, 10)) is None


def test_spikes_only_inside_and_far_off_both_neighbours():
    values = np.array([5.0, 1.44, 7.42, 1.29, 1.54, 1.62, 1.30, 1.25, 1.21, 1.0])
    assert spikes(values).tolist() == [2]
    longer = np.concatenate([values, np.linspace(1.0, 0.8, 10)])
    longer[6] = 3.1  # a second, smaller blow-up
    assert spikes(longer).tolist() == [2, 6]
    assert spikes(np.linspace(2.0, 1.0, 12)).tolist() == []


def test_window_grows_with_the_run_and_stays_odd():
    sizes = [window(n) for n in range(1, 1000)]
    assert all(w % 2 == 1 for w in sizes) and sizes == sorted(sizes) and max(sizes) == 21


def _flat_noise_run(seed: int, n: int):
    rng = np.random.default_rng(seed)
    return run_of(
        loss=0.45 + rng.normal(0, 0.01, n),
        val_loss=0.5 + rng.normal(0, 0.01, n),
        val_accuracy=0.8 + rng.normal(0, 0.01, n),
    )


@pytest.mark.parametrize("n", [30, 120])
def test_no_divergence_in_pure_noise(n):
    """False alarms on flat noisy curves stay near the 5 % level of the tests."""
    alarms = sum(analyse_run(_flat_noise_run(seed, n)).divergence is not None for seed in range(40))
    assert alarms <= 4


def test_divergence_found_in_most_noisy_histories():
    found = 0
    for seed in range(20):
        h = make_history(seed=seed, epochs=150)
        run = run_of(loss=h.train_loss, val_loss=h.val_loss, val_accuracy=h.val_acc)
        analysis = analyse_run(run)
        div = analysis.divergence
        found += div is not None and abs(div.start_epoch - 40) <= 15
    assert found >= 18


def test_overfitting_onset_where_validation_stops_improving():
    t = np.arange(100.0)
    val = 0.3 + 0.5 * np.exp(-t / 6) + 0.002 * np.maximum(0, t - 30)
    train = 0.5 * np.exp(-t / 25) + 0.02
    analysis = analyse_run(run_of(loss=train, val_loss=val, val_accuracy=0.8 + 0.0 * t))
    onset = analysis.overfitting
    assert onset is not None and 20 <= onset.onset_epoch <= 40
    assert onset.gap_end > onset.gap_start and onset.gap_end > 0
    finding = next(f for f in analysis.findings if f.code == "overfitting_onset")
    assert finding.severity == "medium"  # the validation loss rises after the onset


def test_no_overfitting_while_validation_improves():
    t = np.arange(60.0)
    analysis = analyse_run(
        run_of(
            loss=0.9 * np.exp(-t / 10),
            val_loss=0.3 + 0.6 * np.exp(-t / 20),
            val_accuracy=0.7 + t / 300,
        )
    )
    assert analysis.overfitting is None


def test_accuracy_falls_while_loss_keeps_falling():
    t = np.arange(60.0)
    val_loss = 0.3 + 0.5 * np.exp(-t / 15)
    val_acc = 0.9 - 0.0004 * (t - 20) ** 2 / 10
    analysis = analyse_run(run_of(val_loss=val_loss, val_accuracy=val_acc))
    div = analysis.divergence
    assert div.direction == "accuracy_falls" and 15 <= div.start_epoch <= 25
    assert div.score_end < div.score_start


def test_best_points_take_the_first_tie_and_report_the_logged_value():
    run = run_of(val_loss=[0.5, 0.4, 0.4, 0.6], val_accuracy=[0.6, 0.7, 0.7, 0.65])
    analysis = analyse_run(run)
    assert analysis.best["val_loss"].to_dict() == {
        "epoch": 1, "step": None, "value": 0.4, "index": 1, "direction": "min", "name": "val_loss"
    }
    assert analysis.best["val_accuracy"].epoch == 1


def test_uniform_output_at_ln_2():
    rng = np.random.default_rng(1)
    analysis = analyse_run(
        run_of(
            val_loss=math.log(2) + rng.normal(0, 1e-4, 12),
            val_accuracy=0.5 + rng.normal(0, 0.01, 12),
        )
    )
    (uniform,) = [f for f in analysis.findings if f.code == "uniform_predictions"]
    assert uniform.evidence["classes_implied"] == 2


def test_advice_follows_the_smoothed_curves_and_the_goal():
    h = make_history(seed=9, epochs=150)
    run = run_of(loss=h.train_loss, val_loss=h.val_loss, val_accuracy=h.val_acc)
    both = analyse_run(run, n_val=2000)
    advice = both.advice
    smoothed_loss = both.curves.metrics["val_loss"].smoothed
    assert advice.probabilities.epoch == int(np.argmin(smoothed_loss))
    assert advice.decisions.epoch == int(np.argmax(both.curves.metrics["val_accuracy"].smoothed))
    assert advice.decisions.within_noise is False
    text = next(f.advice for f in both.findings if f.code == "loss_accuracy_divergence")
    assert text.startswith(f"Keep epoch {advice.probabilities.epoch} for probabilities")
    decisions = analyse_run(run, goal="decisions")
    text = next(f.advice for f in decisions.findings if f.code == "loss_accuracy_divergence")
    assert text.startswith(f"For decisions keep epoch {advice.decisions.epoch}")


def test_noisy_accuracy_compared_with_sampling_noise():
    rng = np.random.default_rng(3)
    acc = rng.binomial(300, 0.8, 40) / 300
    analysis = analyse_run(run_of(val_loss=0.5 - np.arange(40) / 400, val_accuracy=acc), n_val=300)
    (noisy,) = [f for f in analysis.findings if f.code == "noisy_metric"]
    assert noisy.evidence["metric"] == "val_accuracy"
    binomial_sd = math.sqrt(acc.mean() * (1 - acc.mean()) / 300)
    assert noisy.evidence["sampling_sd"] == pytest.approx(binomial_sd)


def test_a_flat_noiseless_metric_is_not_called_noisy(tmp_path):
    from lossgap.history import analyse_history

    rows = [f"{e},0.5,0.6,0.7" for e in range(12)]
    path = tmp_path / "flat.csv"
    path.write_text("epoch,loss,val_loss,val_accuracy\n" + "\n".join(rows) + "\n")
    (run,) = analyse_history(path).runs
    assert run.noise["val_accuracy"].noise_ratio == 0.0
    assert all(f.code != "noisy_metric" for f in run.findings)


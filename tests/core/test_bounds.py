"""The loss-accuracy theory of lossgap.core.bounds, checked against brute force.

Brute force here means linear programs over distributions of forecasts on fine grids
(scipy's HiGHS): the true optimum over *all* distributions is approached from inside by
the grid's optimum, so each closed form must sit just outside the LP's answer.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog
from scipy.special import entr
from scipy.stats import binomtest

from lossgap import InputError
from lossgap.core.bounds import (
    LN2,
    accuracy_interval,
    accuracy_range_from_f1,
    baseline_log_loss,
    binary_entropy,
    calibrated_accuracy_range,
    calibrated_feasible,
    calibrated_loss_range,
    error_loss_range,
    fano_loss,
    mixture_loss,
    possible,
)
from tests.helpers.brute import (
    binary_atoms,
    brute_binary_range,
    brute_error_loss,
    lp_extremes,
    multiclass_atoms,
)

#: The pairs of the seed questions: 001 (train, val) and 004 (test, F1 87.38%).
SEED_LOSSES = [0.4011, 0.4577, 1.5996]


# --- calibrated models: forecasts q with labels distributed as q --------------------------

@pytest.mark.parametrize("base_rate", [None, 0.5, 0.3, 0.1])
@pytest.mark.parametrize("loss", [0.02, 0.15, 0.3, *SEED_LOSSES[:2], 0.6, 0.69])
def test_binary_calibrated_accuracy_range_matches_lp(loss, base_rate):
    brute = brute_binary_range(loss, base_rate)
    exact = calibrated_accuracy_range(loss, base_rate=base_rate)
    if brute is None:
        assert exact is None
        assert loss > baseline_log_loss(base_rate=base_rate)
        return
    assert exact is not None
    # the grid's optimum lies inside the true range, within 1e-4 of its ends
    assert exact[0] - 1e-9 <= brute[0] <= exact[0] + 1e-4
    assert exact[1] - 1e-4 <= brute[1] <= exact[1] + 1e-9


def test_no_calibrated_binary_model_above_ln2():
    assert brute_binary_range(1.5996) is None
    assert calibrated_accuracy_range(1.5996) is None
    assert calibrated_accuracy_range(0.7) is None
    assert calibrated_accuracy_range(0.6, base_rate=0.2) is None  # h(0.2) = 0.5004


def simplex_grid(classes: int, steps: int) -> np.ndarray:
    rows = [
        c for c in itertools.product(range(steps + 1), repeat=classes - 1) if sum(c) <= steps
    ]
    head = np.array(rows, dtype=float)
    return np.column_stack([head, steps - head.sum(axis=1)]) / steps


@pytest.mark.parametrize(
    ("classes", "steps", "tol"), [(3, 150, 1e-4), (4, 48, 4e-3)]
)
def test_multiclass_calibrated_accuracy_range_matches_lp(classes, steps, tol):
    grid = simplex_grid(classes, steps)
    entropy, top = entr(grid).sum(axis=1), grid.max(axis=1)
    for loss in (0.2, 0.4577, 0.9, math.log(classes) - 0.05):
        brute = lp_extremes(top, [(np.ones(len(grid)), 1.0), (entropy, loss)])
        exact = calibrated_accuracy_range(loss, classes=classes)
        assert exact[0] - 1e-9 <= brute[0] <= exact[0] + tol
        assert exact[1] - tol <= brute[1] <= exact[1] + 1e-9
    assert calibrated_accuracy_range(math.log(classes) + 1e-6, classes=classes) is None


def test_range_ends_are_the_named_constructions():
    loss = 0.4577
    low, high = calibrated_accuracy_range(loss)
    # low: a share s of coin flips (loss ln 2 each, accuracy 1/2), the rest certain
    share = loss / LN2
    assert low == pytest.approx(share * 0.5 + (1 - share), abs=1e-12)
    # high: every forecast with the same confidence c: loss h(c), accuracy c
    assert binary_entropy(high) == pytest.approx(loss, abs=1e-12)
    # the Fano bound reduces to h for two classes, and inverts the range ends
    assert fano_loss(high) == pytest.approx(loss, abs=1e-12)
    assert mixture_loss(low) == pytest.approx(loss, abs=1e-12)
    assert calibrated_loss_range(high)[1] == pytest.approx(loss, abs=1e-12)
    assert calibrated_loss_range(low)[0] == pytest.approx(loss, abs=1e-12)


@pytest.mark.parametrize("classes", [2, 3, 5, 10])
def test_fano_and_mixture_meet_at_the_ends(classes):
    assert fano_loss(1.0, classes=classes) == pytest.approx(0.0)
    assert mixture_loss(1.0, classes=classes) == pytest.approx(0.0)
    uniform = 1.0 / classes
    assert fano_loss(uniform, classes=classes) == pytest.approx(math.log(classes))
    assert mixture_loss(uniform, classes=classes) == pytest.approx(math.log(classes))
    assert calibrated_accuracy_range(math.log(classes), classes=classes) == pytest.approx(
        (uniform, uniform), abs=1e-7
    )


@settings(max_examples=60, deadline=None)
@given(
    forecasts=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=6),
    weights=st.lists(st.floats(0.01, 1.0), min_size=6, max_size=6),
)
def test_exactly_calibrated_binary_models_lie_in_the_region(forecasts, weights):
    q = np.array(forecasts)
    w = np.array(weights[: len(q)])
    w /= w.sum()
    loss = float(w @ (entr(q) + entr(1 - q)))
    accuracy = float(w @ np.maximum(q, 1 - q))
    base_rate = float(w @ q)
    for rate in (None, base_rate if 0 < base_rate < 1 else None):
        low, high = calibrated_accuracy_range(loss, base_rate=rate)
        assert low - 1e-9 <= accuracy <= high + 1e-9
        box = (max(0.0, loss - 1e-12), loss + 1e-12)
        assert calibrated_feasible(box, accuracy, base_rate=rate)


def test_a_no_skill_loss_an_ulp_above_ln_2_is_still_calibrated():
    # hypothesis's find: coin flips weighted 1 and 0.95 sum to a loss one ulp above ln 2
    w = np.array([1.0, 0.95]) / 1.95
    loss = float(w @ (entr(np.full(2, 0.5)) * 2))
    assert loss > math.log(2)
    assert calibrated_accuracy_range(loss) == (0.5, 0.5)
    assert calibrated_accuracy_range(loss, base_rate=0.5) == (0.5, 0.5)
    assert calibrated_feasible(loss, 0.5)
    assert calibrated_accuracy_range(math.log(2) + 1e-9) is None  # beyond rounding: none


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), classes=st.integers(3, 6), size=st.integers(1, 8))
def test_exactly_calibrated_multiclass_models_lie_in_the_region(seed, classes, size):
    rng = np.random.default_rng(seed)
    forecasts = rng.dirichlet(np.full(classes, rng.uniform(0.1, 3.0)), size=size)
    w = rng.dirichlet(np.ones(size))
    loss = float(w @ entr(forecasts).sum(axis=1))
    accuracy = float(w @ forecasts.max(axis=1))
    low, high = calibrated_accuracy_range(loss, classes=classes)
    assert low - 1e-9 <= accuracy <= high + 1e-9


def test_feasibility_of_boxes_agrees_with_pointwise_ranges():
    rng = np.random.default_rng(7)
    for _ in range(60):
        loss_low = rng.uniform(0, 0.75)
        loss_high = loss_low + rng.uniform(0, 0.1)
        acc_low = rng.uniform(0.45, 1.0)
        acc_high = min(1.0, acc_low + rng.uniform(0, 0.1))
        base_rate = rng.choice([None, rng.uniform(0.05, 0.95)])
        grid = np.linspace(loss_low, loss_high, 301)
        ranges = [calibrated_accuracy_range(v, base_rate=base_rate) for v in grid]
        pointwise = any(r is not None and r[0] <= acc_high and r[1] >= acc_low for r in ranges)
        box = calibrated_feasible((loss_low, loss_high), (acc_low, acc_high), base_rate=base_rate)
        assert box == pointwise


def test_calibrated_models_never_fall_below_the_majority():
    assert calibrated_loss_range(0.55, base_rate=0.3) is None
    assert calibrated_loss_range(0.7, base_rate=0.3) == pytest.approx(
        (mixture_loss(0.7), binary_entropy(0.7))
    )
    assert not calibrated_feasible(0.3, 0.6, base_rate=0.3)
    assert calibrated_accuracy_range(0.1, base_rate=0.3)[0] == pytest.approx(1 - 0.1 / (2 * LN2))
    assert calibrated_accuracy_range(0.5, base_rate=0.3)[0] == pytest.approx(0.7)


# --- any model: what the loss says about the errors ---------------------------------------


@pytest.mark.parametrize(
    ("loss", "accuracy"),
    [(0.4011, 0.8224), (0.4577, 0.7826), (1.5996, 0.8556), (1.5996, 0.8879), (0.9, 0.5)],
)
def test_binary_error_loss_range_matches_lp(loss, accuracy):
    brute = brute_error_loss(binary_atoms(), loss, accuracy)
    assert error_loss_range(loss, accuracy) == pytest.approx(brute, abs=1e-4)


@pytest.mark.parametrize(("loss", "accuracy"), [(1.2, 0.7), (0.5, 0.9), (2.0, 0.6)])
def test_multiclass_error_loss_range_matches_lp(loss, accuracy):
    brute = brute_error_loss(multiclass_atoms(3), loss, accuracy)
    assert error_loss_range(loss, accuracy, classes=3) == pytest.approx(brute, abs=1e-4)


@pytest.mark.parametrize("atoms", [lambda: binary_atoms(2001), multiclass_atoms])
def test_lowest_loss_at_an_accuracy_is_one_ln2_per_error(atoms):
    atom_loss, correct = atoms()
    for accuracy in (0.9, 0.5, 0.2):
        a_eq = np.vstack([np.ones_like(atom_loss), correct])
        res = linprog(atom_loss, A_eq=a_eq, b_eq=[1.0, accuracy], bounds=(0, None))
        lowest = res.fun
        assert lowest == pytest.approx((1 - accuracy) * LN2, abs=1e-6)
        assert possible(lowest + 1e-9, accuracy)
        assert not possible(lowest - 1e-4, accuracy)


def test_impossible_pairs_have_no_error_range():
    assert not possible(0.05, 0.9)
    assert error_loss_range(0.05, 0.9) is None
    assert error_loss_range(0.3, 1.0) is None  # no errors at all
    assert possible(0.1 * LN2, 0.9)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), classes=st.integers(2, 5))
def test_real_predictions_respect_the_error_loss_range(seed, classes):
    rng = np.random.default_rng(seed)
    n = 40
    prob = rng.dirichlet(np.full(classes, rng.uniform(0.05, 2.0)), size=n)
    y = rng.integers(0, classes, size=n)
    losses = -np.log(np.clip(prob[np.arange(n), y], 1e-300, None))
    correct = prob.argmax(axis=1) == y
    loss, accuracy = losses.mean(), correct.mean()
    assert possible(loss, accuracy)
    if correct.all():
        return
    low, high = error_loss_range(loss, accuracy, classes=classes)
    assert low - 1e-9 <= losses[~correct].mean() <= high + 1e-9
    assert losses[correct].max(initial=0.0) <= math.log(classes) + 1e-12
    assert losses[~correct].min() >= LN2 - 1e-12


# --- F1, sampling noise, baselines ---------------------------------------------------------


@pytest.mark.parametrize(("f1", "base_rate"), [(0.8738, 0.5), (0.76, 0.5), (0.6, 0.2)])
def test_accuracy_from_f1_matches_a_grid_of_confusion_matrices(f1, base_rate):
    tp = np.linspace(0, base_rate, 1601)[:, None]
    fp = np.linspace(0, 1 - base_rate, 1601)[None, :]
    fn = base_rate - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        grid_f1 = 2 * tp / (2 * tp + fp + fn)
    accuracy = (tp + (1 - base_rate - fp)) * np.ones_like(grid_f1)
    near = np.abs(grid_f1 - f1) < 2e-4
    low, high = accuracy_range_from_f1(f1, base_rate=base_rate)
    assert accuracy[near].min() == pytest.approx(low, abs=1e-3)
    assert accuracy[near].max() == pytest.approx(high, abs=1e-3)


def test_accuracy_from_f1_is_exact_when_errors_are_symmetric():
    # balanced classes and as many false positives as false negatives: F1 == accuracy
    tp, fp, fn = 47, 7, 7
    f1 = 2 * tp / (2 * tp + fp + fn)
    low, high = accuracy_range_from_f1(f1)
    assert low <= (tp + 54 - fp) / 108 <= high


@pytest.mark.parametrize(("k", "n"), [(85, 108), (7826, 10000), (3, 10), (0, 20), (20, 20)])
def test_accuracy_interval_is_scipys_wilson(k, n):
    noise = accuracy_interval(k / n, n)
    ci = binomtest(k, n).proportion_ci(0.95, method="wilson")
    assert (noise["ci_low"], noise["ci_high"]) == pytest.approx((ci.low, ci.high), abs=1e-12)
    assert noise["standard_error"] == pytest.approx(math.sqrt(k / n * (1 - k / n) / n))
    assert noise["one_sample"] == pytest.approx(1 / n)


def test_baselines():
    assert baseline_log_loss() == pytest.approx(math.log(2))
    assert baseline_log_loss(classes=10) == pytest.approx(math.log(10))
    p = 0.2
    assert baseline_log_loss(base_rate=p) == pytest.approx(-p * math.log(p) - 0.8 * math.log(0.8))


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: baseline_log_loss(classes=1), "classes must be an integer of at least 2"),
        (lambda: baseline_log_loss(classes=2.5), "classes must be an integer"),
        (lambda: baseline_log_loss(base_rate=1.0), "base rate must be strictly between 0 and 1"),
        (lambda: baseline_log_loss(classes=3, base_rate=0.2), "binary task, but classes is 3"),
        (lambda: calibrated_accuracy_range(-0.1), "log loss must be a finite number >= 0"),
        (lambda: calibrated_accuracy_range(float("inf")), "log loss must be a finite number"),
        (lambda: calibrated_loss_range(78.26), r"accuracy must be between 0 and 1.*0\.78"),
        (lambda: fano_loss(0.2, classes=3), "needs accuracy >= 1/3"),
        (lambda: mixture_loss(0.4), "needs accuracy >= 1/2"),
        (lambda: accuracy_range_from_f1(0.0), "F1 is 0"),
        (lambda: accuracy_range_from_f1(1.2), "F1 must be between 0 and 1"),
        (lambda: accuracy_interval(0.8, 0), "n .* must be a positive integer"),
        (lambda: accuracy_interval(0.8, 10.5), "n .* must be a positive integer"),
    ],
)
def test_bad_input(call, match):
    with pytest.raises(InputError, match=match):
        call()


def test_a_rounding_error_past_one_is_clipped_not_refused():
    assert calibrated_feasible((0.0, 1e-12), 1.0000000000000002)
    with pytest.raises(InputError, match="between 0 and 1"):
        calibrated_feasible((0.0, 1e-12), 1.001)


@pytest.mark.parametrize("classes", [3, 4, 10, 100, 1000])
def test_fano_accuracy_is_the_root_brentq_finds(classes):
    """The bisection that replaced scipy's brentq (xtol 1e-15) leaves the Fano loss within
    rounding of the given loss, and lies as close to brentq's root as the root is
    determined: the loss's rounding (a few eps) over its slope, which vanishes as the
    accuracy nears 1/K."""
    from scipy.optimize import brentq

    from lossgap.core.bounds import _fano_accuracy

    log_rest = math.log(classes - 1)

    def excess(a: float, loss: float) -> float:
        return binary_entropy(a) + (1.0 - a) * log_rest - loss

    eps = np.finfo(float).eps
    for loss in np.linspace(1e-6, math.log(classes) - 1e-6, 41):
        got = _fano_accuracy(float(loss), classes)
        want = brentq(excess, 1.0 / classes, 1.0, xtol=1e-15, args=(float(loss),))
        slope = abs(math.log((1 - got) / got) - log_rest)
        # the loss's rounding, and the change of the loss over one spacing of the doubles
        rounding = 8 * eps * max(1.0, float(loss)) + 2 * slope * math.ulp(got)
        assert abs(excess(got, loss)) <= rounding
        assert abs(got - want) <= 2e-15 + rounding / slope


def test_binary_entropy_is_scipys_entr_sum():
    for p in [0.0, 1e-300, 1e-12, 0.1, 0.25, 0.5, 0.7826, 1 - 1e-12, 1.0]:
        assert binary_entropy(p) == float(entr(p) + entr(1.0 - p))

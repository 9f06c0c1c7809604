"""The explanation engine against independent references, and its findings over many seeds."""

from __future__ import annotations

import numpy as np
import pytest
import relplot
from model_diagnostics.scoring import LogLoss, SquaredError, decompose
from numpy.testing import assert_allclose
from scipy.optimize import minimize_scalar
from scipy.special import expit
from scipy.stats import binomtest
from sklearn.linear_model import LogisticRegression

import lossgap
from lossgap import Predictions, Tally
from lossgap.core.calibration import binned_ece, smooth_ece
from lossgap.core.decompose import corp, top_label_table
from lossgap.core.recalibrate import fit_logistic, fit_multiclass_temperature, logits_of
from lossgap.core.tally import ScoreTable
from lossgap.core.uncertainty import delong_variance, wilson
from lossgap.explanation import evaluate_predictions
from tests.helpers.data import calibrated_logits, mri_case, random_multiclass

# -- decomposition ---------------------------------------------------------------------------


@pytest.mark.parametrize("weighted", [False, True])
def test_corp_matches_model_diagnostics(rng, weighted):
    n = 800
    p = np.round(rng.uniform(0.02, 0.98, n), 2)
    y = (rng.uniform(size=n) < p**1.5).astype(float)
    w = rng.exponential(size=n) if weighted else None
    ours = corp(ScoreTable.from_samples(p, y, w))
    for name, scoring in (("log_loss", LogLoss()), ("brier", SquaredError())):
        ref = decompose(y, p, weights=w, scoring_function=scoring).row(0, named=True)
        part = getattr(ours, name)
        for key in ("miscalibration", "discrimination", "uncertainty", "score"):
            assert_allclose(getattr(part, key), ref[key], rtol=1e-9, err_msg=f"{name}.{key}")


@pytest.mark.parametrize("seed", range(5))
def test_decomposition_identity_to_1e_10(seed):
    y, t = calibrated_logits(seed, 500)
    ev = lossgap.explain(y, 3 * t + 0.5, from_logits=True)
    for name in ("log_loss", "brier"):
        d = getattr(ev.decomposition, name)
        total = d.miscalibration - d.discrimination + d.uncertainty
        assert abs(total - d.score) < 1e-10
    assert_allclose(ev.decomposition.log_loss.score, ev.metric("log_loss"), rtol=1e-9)
    assert_allclose(ev.decomposition.brier.score, ev.metric("brier"), rtol=1e-9)


def test_multiclass_decomposition_per_class_and_top_label(rng):
    y, prob = random_multiclass(rng, 600, 3)
    pred = Predictions(y, prob)
    ev = evaluate_predictions(pred, replicates=20)
    for c in range(3):
        ref = decompose((y == c).astype(float), prob[:, c], scoring_function=LogLoss())
        ours = ev.decomposition.per_class[str(c)]["log_loss"].miscalibration
        assert_allclose(ours, ref.row(0, named=True)["miscalibration"], rtol=1e-9)
    table = top_label_table(pred)
    correct = prob.argmax(1) == y
    ref = decompose(correct.astype(float), prob.max(1), scoring_function=SquaredError())
    ref = ref.row(0, named=True)
    assert_allclose(ev.decomposition.brier.score, ref["score"], rtol=1e-9)
    assert "top-label" in ev.decomposition.target
    assert table.weights.sum() == 600


def test_isotonic_curve_is_monotone_and_covers_the_weight(rng):
    y, t = calibrated_logits(1, 1000)
    curve = lossgap.explain(y, t, from_logits=True).decomposition.curve
    assert np.all(np.diff(curve.recalibrated) > 0)
    assert_allclose(sum(curve.weight), 1000)


# -- calibration errors ----------------------------------------------------------------------


def test_smooth_ece_equals_relplot(rng):
    p = rng.uniform(size=700)
    y = (rng.uniform(size=700) < p**1.7).astype(float)
    assert_allclose(smooth_ece(p, 1 - y, y)[0], relplot.smECE(p, y), rtol=1e-9)
    ev = lossgap.explain(y.astype(int), p)
    assert_allclose(ev.metric("smooth_ece"), relplot.smECE(p, y), rtol=1e-9)


def test_binned_ece_by_hand():
    # bin [0.2, 0.267): p 0.2 (y 0) and 0.25 (y 1): |0.45 - 1| ; bin [0.8, 0.867): p 0.8 (y 1): 0.2
    scores = np.array([0.2, 0.25, 0.8])
    ece = binned_ece(scores, np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 1.0]))
    assert_allclose(ece, (0.55 + 0.2) / 3)


# -- intervals ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("k", "n"), [(94, 108), (3, 40), (0, 25), (50, 50)])
def test_wilson_matches_scipy(k, n):
    ref = binomtest(k, n).proportion_ci(confidence_level=0.9, method="wilson")
    assert_allclose(wilson(k / n, n, 0.9), (ref.low, ref.high), rtol=1e-12, atol=1e-15)


def slow_delong_variance(scores, y):
    pos, neg = scores[y == 1], scores[y == 0]
    psi = lambda a, b: (a > b) + 0.5 * (a == b)  # noqa: E731
    v10 = np.array([psi(x, neg).mean() for x in pos])
    v01 = np.array([psi(pos, x).mean() for x in neg])
    return v10.var(ddof=1) / len(pos) + v01.var(ddof=1) / len(neg)


def test_delong_variance_matches_the_quadratic_definition(rng):
    s = np.round(rng.uniform(size=400), 2)  # many ties
    y = (rng.uniform(size=400) < s).astype(int)
    ours = delong_variance(ScoreTable.from_samples(s, y, None))
    assert_allclose(ours, slow_delong_variance(s, y), rtol=1e-10)


def test_every_metric_has_an_interval_and_a_method(rng):
    y, t = calibrated_logits(2, 1500)
    ev = lossgap.explain(y, t, from_logits=True)
    for name, m in ev.metrics.items():
        if name == "log_loss_clipped":
            continue
        assert m.ci_method, name
        if name in ("ece", "smooth_ece"):  # bias-corrected: may exclude the plug-in value
            assert 0 <= m.ci_low <= m.ci_high, name
        else:
            assert m.ci_low <= m.value <= m.ci_high, name
    assert ev.metrics["roc_auc"].ci_method == "delong"
    assert ev.metrics["accuracy"].ci_method == "wilson"
    assert ev.metrics["brier"].ci_method.startswith("bootstrap")


def test_bootstrap_is_reproducible_and_seeded(rng):
    y, t = calibrated_logits(4, 800)
    a = lossgap.explain(y, t, from_logits=True, seed=7).metrics["f1"]
    b = lossgap.explain(y, t, from_logits=True, seed=7).metrics["f1"]
    c = lossgap.explain(y, t, from_logits=True, seed=8).metrics["f1"]
    assert (a.ci_low, a.ci_high) == (b.ci_low, b.ci_high)
    assert (a.ci_low, a.ci_high) != (c.ci_low, c.ci_high)


@pytest.mark.slow
def test_interval_width_shrinks_like_root_n():
    widths = []
    for n in (1000, 16000):
        y, t = calibrated_logits(5, n)
        m = lossgap.explain(y, t, from_logits=True).metrics["log_loss"]
        widths.append(m.ci_high - m.ci_low)
    assert 2.5 < widths[0] / widths[1] < 6.0  # sqrt(16) = 4


def test_confidence_level_changes_the_width():
    y, t = calibrated_logits(6, 1000)
    narrow = lossgap.explain(y, t, from_logits=True, confidence=0.8).metrics["accuracy"]
    wide = lossgap.explain(y, t, from_logits=True, confidence=0.99).metrics["accuracy"]
    assert wide.ci_high - wide.ci_low > narrow.ci_high - narrow.ci_low


# -- recalibration -------------------------------------------------------------------------------


def test_temperature_fit_matches_a_direct_minimisation(rng):
    y, t = calibrated_logits(7, 1000)
    z = 2.5 * t
    table = ScoreTable.from_samples(expit(z), y, None)
    fit = fit_logistic(logits_of(table.scores), table.weights, intercept=False)
    direct = minimize_scalar(
        lambda b: np.sum(np.logaddexp(0, -b * z[y == 1])) + np.sum(np.logaddexp(0, b * z[y == 0])),
        bounds=(1e-3, 10), method="bounded", options={"xatol": 1e-10},
    )
    assert_allclose(fit.slope, direct.x, rtol=1e-6)
    assert_allclose(1 / fit.slope, 2.5, rtol=0.15)  # recovers the temperature


def test_platt_fit_matches_sklearn(rng):
    y, t = calibrated_logits(8, 1000)
    z = 0.5 * t - 0.7
    fit = fit_logistic(z, np.column_stack([1.0 - y, y]), intercept=True)
    ref = LogisticRegression(C=np.inf, tol=1e-12, max_iter=1000).fit(z[:, None], y)
    assert_allclose([fit.intercept, fit.slope], [ref.intercept_[0], ref.coef_[0, 0]], rtol=1e-6)


def test_multiclass_temperature_matches_a_direct_minimisation(rng):
    y, prob = random_multiclass(rng, 800, 4)
    log_prob = 3.0 * np.log(prob)  # overconfident by a temperature of 3
    w = np.ones(len(y))
    beta, variance = fit_multiclass_temperature(log_prob, y, w)

    def loss(b):
        s = b * log_prob
        return np.sum(np.logaddexp.reduce(s, axis=1) - s[np.arange(len(y)), y])

    best = minimize_scalar(loss, bounds=(1e-3, 10), method="bounded", options={"xatol": 1e-10})
    assert_allclose(beta, best.x, rtol=1e-6)
    assert 0 < variance < 0.01


@pytest.mark.parametrize("seed", range(4))
def test_temperature_never_changes_a_decision(seed):
    y, t = calibrated_logits(seed, 600)
    rec = lossgap.explain(y, 4 * t + 1, from_logits=True, seed=seed).recalibration_map(
        "temperature"
    )
    assert rec.decisions_changed == 0
    assert rec.accuracy_after == rec.accuracy_before


def test_cross_fitting_removes_in_sample_optimism():
    """On calibrated data an in-sample isotonic fit always 'gains'; held out, it does not."""
    gains = []
    for seed in range(8):
        y, t = calibrated_logits(seed, 400)
        ev = lossgap.explain(y, t, from_logits=True, seed=seed)
        iso = ev.recalibration_map("isotonic")
        gains.append(iso.log_loss_before - iso.log_loss_after)
        in_sample = ev.decomposition.log_loss.miscalibration
        assert in_sample > 0  # PAV on the same data always lowers the loss
    assert np.mean(gains) < 0.005


def test_multiclass_recalibration_and_slope(rng):
    y, prob = random_multiclass(rng, 1500, 3)
    sharp = np.exp(3 * np.log(prob))
    sharp /= sharp.sum(axis=1, keepdims=True)
    ev = evaluate_predictions(Predictions(y, sharp), replicates=20)
    temp = ev.recalibration_map("temperature")
    assert_allclose(temp.temperature, 3.0, rtol=0.15)
    assert temp.decisions_changed == 0
    assert temp.log_loss_after < temp.log_loss_before
    assert ev.finding("overconfident") is not None


# -- findings: the seed question, no false alarms, and power --------------------------------------


def test_mri_shaped_case_names_every_cause():
    y, z = mri_case()
    ev = lossgap.explain(y, z, from_logits=True)
    prob_true = np.where(y == 1, expit(z), expit(-z))
    confident = np.flatnonzero(prob_true <= 0.1)
    found = ev.finding("confident_errors")
    assert found.severity == "high"
    assert sorted(found.evidence["ids"]) == sorted(confident.tolist())
    loss = -np.log(prob_true)
    assert_allclose(found.evidence["loss_share"], loss[confident].sum() / loss.sum(), rtol=1e-6)
    assert 0.8 <= ev.metric("accuracy") <= 0.92 and ev.metric("log_loss") > np.log(2)
    assert ev.finding("loss_above_baseline") is not None
    assert ev.finding("overconfident") is not None
    gain = ev.finding("recalibration_gain")
    assert gain.evidence["method"] == "temperature"
    assert gain.evidence["log_loss_after"] < np.log(2) < gain.evidence["log_loss_before"]
    assert gain.evidence["accuracy_after"] == gain.evidence["accuracy_before"]
    assert "below the no-skill loss" in gain.message
    assert "without changing any decision" in gain.message
    assert ev.finding("consistent") is None


FALSE_ALARM_SEEDS = 40


@pytest.mark.slow
def test_calibrated_data_is_usually_consistent():
    """The measured false-alarm rate (docs/findings.md) must stay at most 10%."""
    alarms = 0
    for seed in range(FALSE_ALARM_SEEDS):
        y, t = calibrated_logits(1000 + seed, 2000)
        ev = evaluate_predictions(Predictions(y, t, from_logits=True), replicates=10, seed=seed)
        alarms += ev.finding("consistent") is None
    assert alarms / FALSE_ALARM_SEEDS <= 0.10


def test_temperature_two_is_called_overconfident():
    for seed in range(10):
        y, t = calibrated_logits(2000 + seed, 3000)
        ev = evaluate_predictions(Predictions(y, 2 * t, from_logits=True), replicates=10, seed=seed)
        assert ev.finding("overconfident") is not None, seed
        assert ev.finding("consistent") is None


def test_temperature_half_is_called_underconfident():
    y, t = calibrated_logits(3000, 3000)
    ev = evaluate_predictions(Predictions(y, 0.5 * t, from_logits=True), replicates=10)
    assert ev.finding("underconfident") is not None


def test_findings_are_ranked_by_severity():
    y, z = mri_case()
    ranks = [f.rank for f in lossgap.explain(y, z, from_logits=True).findings]
    assert ranks == sorted(ranks)


def test_accuracy_near_majority_on_imbalanced_data():
    rng = np.random.default_rng(11)
    y = (rng.uniform(size=300) < 0.1).astype(int)
    p = np.clip(0.1 + rng.normal(0, 0.02, 300), 0.01, 0.99)  # never crosses 0.5
    ev = lossgap.explain(y, p)
    assert ev.finding("accuracy_near_majority") is not None


def test_threshold_fragile_reports_the_accuracy_swing():
    y = np.array([1, 0, 1, 0, 1, 1, 0, 0] * 10)
    p = np.array([0.51, 0.49, 0.48, 0.52, 0.9, 0.8, 0.1, 0.2] * 10)
    ev = lossgap.explain(y, p)
    band = ev.finding("threshold_fragile").evidence
    assert band["count"] == 40
    assert_allclose([band["accuracy_low"], band["accuracy_high"]], [0.5, 1.0])


def test_multiclass_explain_end_to_end(rng):
    y, prob = random_multiclass(rng, 500, 4)
    ev = lossgap.explain(y, prob)
    out = ev.to_dict()
    assert out["task"] == "multiclass" and out["decomposition"]["per_class"]
    unbanded = ("log_loss_clipped", "calibration_intercept")
    assert all(m["ci_method"] for k, m in out["metrics"].items() if k not in unbanded)
    assert out["recalibration"]["best"] in ("temperature", "isotonic")
    assert ev.finding("consistent") is not None


def test_infinite_loss_keeps_every_other_number_finite():
    y = np.array([0, 1] * 50)
    p = np.where(y == 1, 0.8, 0.2)
    p[0] = 1.0  # a negative predicted positive with certainty
    ev = lossgap.explain(y, p)
    assert ev.metric("log_loss") == np.inf and ev.metrics["log_loss"].ci_low is None
    assert np.isfinite(ev.decomposition.log_loss.score)
    assert 0 < ev.diagnostics.loss_concentration.half_loss_sample_share < 0.5
    assert ev.findings[0].code == "infinite_loss"


def test_summary_detail_skips_the_costly_parts_and_keeps_the_findings():
    y, t = calibrated_logits(12, 3000)
    ev = evaluate_predictions(Predictions(y, 2 * t, from_logits=True), detail="summary")
    assert ev.decomposition is None and ev.recalibration is None and "smooth_ece" not in ev.metrics
    assert ev.metrics["accuracy"].ci_method == "wilson" and ev.metrics["f1"].ci_low is None
    found = ev.finding("overconfident")
    assert found is not None and "temperature scaling lowers the loss" in found.advice
    with pytest.raises(lossgap.InputError, match="detail must be one of"):
        evaluate_predictions(Predictions(y, t, from_logits=True), detail="quick")


def test_tiny_samples_skip_recalibration_with_a_reason():
    ev = lossgap.explain([0, 1, 1, 0, 1], [0.2, 0.7, 0.9, 0.4, 0.6])
    assert ev.recalibration.reason == "5 samples; cross-fitting needs 20"
    assert ev.recalibration.methods == {} and ev.recalibration_map() is None
    said = ev.to_dict()["recalibration"]["scheme"]
    assert said == "not computed: 5 samples; cross-fitting needs 20"
    assert ev.finding("recalibration_gain") is None


def test_backwards_probabilities_get_advice_about_the_class_order():
    y, t = calibrated_logits(13, 2000)
    found = lossgap.explain(y, -t, from_logits=True).finding("overconfident")
    assert found is not None and "backwards" in found.advice


def test_multiclass_bootstrap_pooled_columns_match_exact_columns(monkeypatch, rng):
    """Pooling each class column into runs barely moves the one-vs-rest intervals."""
    import lossgap.core.bootstrap as bootstrap

    y, prob = random_multiclass(rng, 3000, 4)
    pooled = lossgap.explain(y, prob)
    monkeypatch.setattr(bootstrap, "COLUMN_ROWS", 10**9)
    exact = lossgap.explain(y, prob)
    assert "pooled into 1000 runs" in pooled.metrics["roc_auc"].ci_method
    assert "pooled" not in exact.metrics["roc_auc"].ci_method
    for name in ("roc_auc", "average_precision", "ece", "smooth_ece"):
        a, b = pooled.metrics[name], exact.metrics[name]
        width = b.ci_high - b.ci_low
        assert abs(a.ci_low - b.ci_low) < 0.1 * width and abs(a.ci_high - b.ci_high) < 0.1 * width


def test_fold_temperature_from_the_shared_start_is_the_fold_optimum(rng):
    from lossgap.core.recalibrate import _Temperature

    y, prob = random_multiclass(rng, 2000, 4)
    log_prob = 2.5 * np.log(prob)  # overconfident: the optimum is far from 1
    w = rng.uniform(0.5, 2.0, len(y))
    fold = rng.integers(0, 5, len(y))
    problem = _Temperature.of(log_prob, y)
    full, _ = problem.fit(w)
    at_full = np.stack(
        [np.bincount(fold, weights=w * part, minlength=5) for part in problem.parts(full)]
    )
    for k in range(5):
        train = fold != k
        beta, _ = problem.fit(w * train, start=full, at_start=at_full.sum(axis=1) - at_full[:, k])
        alone, _ = fit_multiclass_temperature(log_prob[train], y[train], w[train])
        assert_allclose(beta, alone, rtol=1e-5)  # the stopping rule: gain below 1e-12 of the loss
        assert abs(beta - full) > 1e-3 * full  # the folds do differ from the full fit


@pytest.mark.parametrize("temperature", [1.0, 2.5])
def test_fold_temperature_one_step_is_within_its_stated_share_of_a_standard_error(
    monkeypatch, temperature
):
    """Past about 10^5 samples a fold's temperature is one Newton step from the fit on all
    samples, taken without a pass; it stays within ONE_STEP_SE (plus the leading-order
    estimate's slack) of the fold's exact optimum, found here by a bounded minimisation."""
    from lossgap.core.recalibrate import ONE_STEP_SE, _Temperature

    rng = np.random.default_rng(int(temperature * 10))
    n, k = 100_000, 5
    logits = rng.normal(0.0, 2.0, (n, k))
    prob = np.exp(logits - logits.max(axis=1, keepdims=True))
    prob /= prob.sum(axis=1, keepdims=True)
    y = (prob.cumsum(axis=1) > rng.uniform(size=(n, 1))).argmax(axis=1)
    log_prob = temperature * np.log(prob)
    w = rng.uniform(0.5, 2.0, n)
    fold = rng.integers(0, 5, n)
    problem = _Temperature.of(log_prob, y)
    full, _, terms = problem.fit_with_terms(w, third=True)
    at_full = np.stack([np.bincount(fold, weights=w * part, minlength=5) for part in terms])
    passes = []
    original = _Temperature.parts
    monkeypatch.setattr(
        _Temperature, "parts", lambda self, b, **kw: passes.append(b) or original(self, b, **kw)
    )
    shortcuts = 0
    for f in range(5):
        train = w * (fold != f)
        at_start = at_full.sum(axis=1) - at_full[:, f]
        before = len(passes)
        beta = problem.fit_near(train, full, at_start)
        shortcuts += len(passes) == before
        exact = minimize_scalar(
            lambda b: original(problem, b)[0] @ train,  # noqa: B023
            bounds=(full - 0.05, full + 0.05),
            method="bounded",
            options={"xatol": 1e-12},
        ).x
        standard_error = 1 / np.sqrt(original(problem, exact)[2] @ train)
        assert abs(beta - exact) < 1.5 * ONE_STEP_SE * standard_error
        assert abs(full - exact) > 0.05 * standard_error  # the step was needed
    assert shortcuts >= 3  # and most folds took it without a pass


@pytest.mark.parametrize("beta", [0.4, 1.0, 2.5, -0.5])
def test_held_out_temperature_map_is_scipy_softmax_bit_for_bit(rng, beta):
    from scipy.special import softmax

    from lossgap.core.recalibrate import _Temperature

    y, prob = random_multiclass(rng, 3000, 6)
    problem = _Temperature.of(np.log(np.clip(prob, 1e-15, 1.0)), y)
    rows = np.flatnonzero(rng.integers(0, 5, len(y)) == 3)
    expected = softmax(beta * np.log(np.clip(prob[rows], 1e-15, 1.0)), axis=1).T
    assert np.array_equal(problem.apply(beta, rows), expected)


def test_logistic_fits_on_the_pooled_table_match_the_full_fit():
    """Pooling the score table to FIT_ROWS runs moves the fit by a sliver of its error."""
    from lossgap.core.recalibrate import FIT_ROWS, fit_logistic_table

    rng = np.random.default_rng(3)
    z = rng.normal(0.0, 2.0, 200_000)
    y = (rng.uniform(size=len(z)) < expit(z / 1.5)).astype(int)
    table = Tally.from_predictions(Predictions(y, expit(z))).tables[0]
    assert len(table.scores) > 5 * FIT_ROWS
    for intercept in (False, True):
        full = fit_logistic(logits_of(table.scores), table.weights, intercept=intercept)
        pooled = fit_logistic_table(table, intercept=intercept)
        standard_error = np.sqrt(full.covariance[-1, -1])
        assert abs(pooled.slope - full.slope) < 0.01 * standard_error
        assert abs(pooled.intercept - full.intercept) < 0.01 * np.sqrt(full.covariance[0, 0])


def test_many_classes_pool_each_column_into_fewer_runs(monkeypatch, rng):
    """Past COLUMN_CELLS in all, each class column holds fewer runs: the one-vs-rest
    intervals barely move, and the confusion metrics (read from the margins) do not."""
    import lossgap.core.bootstrap as bootstrap

    y, prob = random_multiclass(rng, 4000, 60)
    assert bootstrap.column_rows(60) == 333
    pooled = lossgap.explain(y, prob)
    monkeypatch.setattr(bootstrap, "COLUMN_CELLS", 10**9)
    finer = lossgap.explain(y, prob)
    assert "pooled into 333 runs" in pooled.metrics["roc_auc"].ci_method
    assert "pooled into 1000 runs" in finer.metrics["roc_auc"].ci_method
    # ties made by pooling move average precision and the binned ECE most (measured: a
    # fifth of the interval's width at 333 runs per column, 4000 samples, 60 classes)
    for name, share in (("roc_auc", 0.1), ("average_precision", 0.3), ("classwise_ece", 0.3)):
        a, b = pooled.metrics[name], finer.metrics[name]
        width = b.ci_high - b.ci_low
        assert abs(a.ci_low - b.ci_low) < share * width, name
        assert abs(a.ci_high - b.ci_high) < share * width, name
    for name in ("accuracy", "precision", "recall", "f1", "balanced_accuracy", "log_loss"):
        assert pooled.metrics[name].ci_low == finer.metrics[name].ci_low, name

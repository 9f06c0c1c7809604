"""`lossgap.compare`: every number of a pair against scikit-learn, scipy or brute force."""

from __future__ import annotations

import io
import itertools
import json

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from rich.console import Console
from scipy import stats
from sklearn.metrics import accuracy_score, brier_score_loss, log_loss, roc_auc_score

import lossgap
from lossgap import InputError
from lossgap.comparison import Comparison
from lossgap.comparison.inputs import predictions_from_arrays
from lossgap.comparison.pipeline import paired_comparisons
from lossgap.core.paired import holm
from lossgap.explanation import evaluate_predictions
from lossgap.render.compare import comparison_renderables
from lossgap.render.text import THEME
from lossgap.rules import compare as rules
from tests.helpers.data import random_binary, random_multiclass


def seed_pair(rng, n=1000):
    """The seed question: accuracies 10 points apart, log loss the same.

    On 100 samples ``a`` gives the true class 0.51-0.53 (right) and ``b`` 0.47-0.49
    (wrong): 10 accuracy points for about 0.008 nats per sample. Elsewhere ``b`` rescales
    ``a``'s logits by a random factor (which never changes a decision), a little sharper
    on average, so its log loss ties with ``a``'s within sampling noise.
    """
    y = rng.integers(0, 2, n)
    true_p = np.clip(rng.beta(4, 2, n), 0.02, 0.98)  # probability given to the true class
    flip = np.zeros(n, bool)
    flip[rng.choice(n, 100, replace=False)] = True
    true_a = np.where(flip, rng.uniform(0.51, 0.53, n), true_p)
    logit = np.log(true_p) - np.log1p(-true_p)
    rescaled = 1 / (1 + np.exp(-logit * np.exp(rng.normal(0.18, 0.4, n))))
    true_b = np.where(flip, rng.uniform(0.47, 0.49, n), rescaled)
    to_positive = lambda q: np.where(y == 1, q, 1 - q)  # noqa: E731
    return y, to_positive(true_a), to_positive(true_b), flip


def test_seed_pair_every_number_exact(rng):
    y, pa, pb, flip = seed_pair(rng)
    c = lossgap.compare({"a": pa, "b": pb}, y, reference="b")
    pair = c.pairs[0]
    assert (pair.a, pair.b) == ("a", "b")
    right_a, right_b = (pa >= 0.5) == y, (pb >= 0.5) == y
    a_only, b_only = int(np.sum(right_a & ~right_b)), int(np.sum(~right_a & right_b))
    acc = pair.accuracy_difference
    assert_allclose(acc.value, accuracy_score(y, pa >= 0.5) - accuracy_score(y, pb >= 0.5))
    assert_allclose(acc.value, 0.1)
    assert acc.p_value == stats.binomtest(a_only, a_only + b_only, 0.5).pvalue
    assert acc.p_value_adjusted == acc.p_value and c.correction == "none"
    ll = pair.log_loss_difference
    assert_allclose(ll.value, log_loss(y, pa) - log_loss(y, pb), rtol=1e-10)
    ref = stats.ttest_rel(
        -np.log(np.where(y == 1, pa, 1 - pa)), -np.log(np.where(y == 1, pb, 1 - pb))
    )
    ci = ref.confidence_interval()
    assert_allclose([ll.ci_low, ll.ci_high, ll.p_value], [ci.low, ci.high, ref.pvalue], rtol=1e-8)
    assert ll.ci_low < ll.value < ll.ci_high and not ll.significant
    assert_allclose(
        pair.brier_difference.value, brier_score_loss(y, pa) - brier_score_loss(y, pb)
    )
    assert_allclose(pair.roc_auc_difference.value, roc_auc_score(y, pa) - roc_auc_score(y, pb))
    f = pair.flips
    assert (f.a_only_correct, f.b_only_correct) == (a_only, b_only) == (100, 0)
    assert f.both_correct == np.sum(right_a & right_b)
    assert f.neither_correct == np.sum(~right_a & ~right_b)
    near = (np.abs(pa - 0.5) <= 0.05) & (np.abs(pb - 0.5) <= 0.05)
    assert f.near_threshold == np.sum(near & (right_a != right_b)) == 100
    assert f.near_threshold_share == 1.0
    expected_ids = np.flatnonzero(flip)[:20].tolist()
    assert f.a_only_correct_ids == expected_ids and f.near_threshold_ids == expected_ids
    loss_a = -np.log(np.where(y == 1, pa, 1 - pa))
    loss_b = -np.log(np.where(y == 1, pb, 1 - pb))
    assert_allclose(
        f.near_threshold_log_loss_difference, np.sum((loss_a - loss_b)[flip]) / len(y)
    )
    codes = [x.code for x in c.findings]
    assert "threshold_flips" in codes and "loss_tie" in codes
    assert c.finding("threshold_flips").evidence["pairs"][0]["near_threshold_share"] == 1.0


def test_models_carry_their_full_explain_evaluation(rng):
    y, p = random_binary(rng, 300)
    q = np.clip(p * 0.8 + 0.1, 0, 1)
    c = lossgap.compare({"p": p, "q": q}, y, top=3)
    for name, probs in (("p", p), ("q", q)):
        assert c.model(name).evaluation.to_dict() == lossgap.explain(y, probs, top=3).to_dict()


def test_multiclass_pairs_match_references(rng):
    y, prob = random_multiclass(rng, 400, 3)
    models = {
        "sharp": prob,
        "flat": 0.6 * prob + 0.4 / 3,
        "noisy": rng.dirichlet(np.full(3, 1.0), 400) * 0.5 + prob * 0.5,
    }
    c = lossgap.compare(models, y, near=0.04)
    assert c.task == "multiclass" and len(c.pairs) == 3 and c.correction == "holm"
    right = {k: v.argmax(axis=1) == y for k, v in models.items()}
    for pair in c.pairs:
        a, b = models[pair.a], models[pair.b]
        assert_allclose(
            pair.accuracy_difference.value,
            accuracy_score(y, a.argmax(1)) - accuracy_score(y, b.argmax(1)),
        )
        assert_allclose(pair.log_loss_difference.value, log_loss(y, a) - log_loss(y, b))
        assert_allclose(
            pair.roc_auc_difference.value,
            roc_auc_score(y, a, multi_class="ovr") - roc_auc_score(y, b, multi_class="ovr"),
        )
        only = right[pair.a] & ~right[pair.b]
        assert pair.flips.a_only_correct == only.sum()

        def gap(m):
            top_other = np.where(np.eye(3, dtype=bool)[y], -1, m).max(axis=1)
            return np.abs(m[np.arange(len(y)), y] - top_other) / 2

        near = (gap(a) <= 0.04) & (gap(b) <= 0.04)
        assert pair.flips.near_threshold_a_only_correct == np.sum(only & near)
    raw = [p.accuracy_difference.p_value for p in c.pairs]
    assert_allclose([p.accuracy_difference.p_value_adjusted for p in c.pairs], holm(raw))
    assert "one-vs-rest" in c.pairs[0].roc_auc_difference.method


def test_logits_give_the_same_comparison(rng):
    y, p = random_binary(rng, 200)
    p = np.clip(p, 1e-6, 1 - 1e-6)
    q = np.clip(p**1.3, 1e-6, 1 - 1e-6)
    from_prob = lossgap.compare({"p": p, "q": q}, y).to_dict()
    logit = lambda v: np.log(v) - np.log1p(-v)  # noqa: E731
    from_logit = lossgap.compare({"p": logit(p), "q": logit(q)}, y, from_logits=True).to_dict()
    for key in ("accuracy_difference", "log_loss_difference", "roc_auc_difference"):
        for part in ("value", "ci_low", "ci_high", "p_value"):
            assert_allclose(
                from_logit["pairs"][0][key][part], from_prob["pairs"][0][key][part], rtol=1e-6
            )
    ym, prob = random_multiclass(rng, 150, 4)
    logits = np.log(np.clip(prob, 1e-9, 1)) + 3.0  # a constant shift: same softmax
    c = lossgap.compare({"a": logits, "b": logits[:, ::-1]}, ym, from_logits=True)
    assert_allclose(
        c.model("a").evaluation.metric("log_loss"), log_loss(ym, np.clip(prob, 1e-9, 1)), rtol=1e-6
    )


def test_reference_ranking_and_holm(rng):
    y, p = random_binary(rng, 600)
    models = {f"m{i}": np.clip(p + rng.normal(0, 0.05 * i, 600), 0.001, 0.999) for i in range(4)}
    c = lossgap.compare(models, y, reference="m2", by="brier")
    assert [(p.a, p.b) for p in c.pairs] == [(m.name, "m2") for m in c.models if m.name != "m2"]
    briers = {k: brier_score_loss(y, v) for k, v in models.items()}
    assert [m.name for m in c.models] == sorted(briers, key=briers.get)
    assert [m.rank for m in c.models] == [1, 2, 3, 4]
    accuracy = {k: accuracy_score(y, v >= 0.5) for k, v in models.items()}
    for m in c.models:
        assert m.accuracy_rank == 1 + sum(a > accuracy[m.name] for a in accuracy.values())
    for metric in ("accuracy", "log_loss", "brier", "roc_auc"):
        raw = [p.difference(metric).p_value for p in c.pairs]
        adjusted = [p.difference(metric).p_value_adjusted for p in c.pairs]
        assert_allclose(adjusted, holm(raw))
        assert [p.difference(metric).significant for p in c.pairs] == [a < 0.05 for a in adjusted]
    all_pairs = lossgap.compare(models, y)
    assert len(all_pairs.pairs) == 6
    ranked = [m.name for m in all_pairs.models]
    assert [(p.a, p.b) for p in all_pairs.pairs] == list(itertools.combinations(ranked, 2))


@pytest.mark.slow
def test_rank_disagreement_when_accuracy_and_log_loss_order_models_oppositely(rng):
    y, pa, pb, _ = seed_pair(rng, 4000)
    # c: b's probabilities made worse in log loss only (more confident errors)
    wrong = (pb >= 0.5) != y
    pc = np.where(wrong, np.where(y == 1, pb * 0.3, 1 - (1 - pb) * 0.3), pb)
    c = lossgap.compare({"a": pa, "b": pb, "c": pc}, y)
    order = {m.name: (m.rank, m.accuracy_rank) for m in c.models}
    values = {k: (log_loss(y, v), accuracy_score(y, v >= 0.5)) for k, v in
              {"a": pa, "b": pb, "c": pc}.items()}
    discordant = sum(
        (values[i][0] - values[j][0]) * (values[i][1] - values[j][1]) > 0
        for i, j in itertools.combinations("abc", 2)
    )
    best_score = min(values, key=lambda k: values[k][0])
    best_accuracy = max(values, key=lambda k: values[k][1])
    assert discordant == 1 and best_score == "b" and best_accuracy == "a"
    finding = c.finding("rank_disagreement")
    assert finding.severity == "low"  # b's lower log loss is within noise
    assert "may be sampling noise" in finding.message
    assert finding.evidence["discordant_pairs"] == discordant
    assert finding.evidence["best_by_score"] == best_score
    assert finding.evidence["best_by_accuracy"] == best_accuracy
    tau = stats.kendalltau([order[k][0] for k in "abc"], [order[k][1] for k in "abc"])[0]
    assert_allclose(finding.evidence["kendall_tau"], tau)
    # agreeing rankings: no finding
    agree = lossgap.compare({"a": pa, "c": pc}, y)
    assert agree.finding("rank_disagreement") is None
    # e: less accurate than a (the flips) but much sharper where right: both real
    truth = np.where(y == 1, pb, 1 - pb)
    sharp = np.where(truth > 0.5, np.sqrt(truth), truth)
    pe = np.where(y == 1, sharp, 1 - sharp)
    real = lossgap.compare({"a": pa, "e": pe}, y)
    pair = real.pairs[0]
    assert pair.accuracy_difference.significant and pair.log_loss_difference.significant
    assert pair.accuracy_difference.value * pair.log_loss_difference.value > 0
    finding = real.finding("rank_disagreement")
    assert finding.severity == "medium" and finding.evidence["significant_discordant_pairs"] == 1


def test_pair_findings_do_not_cry_wolf_on_equally_good_models():
    """Two models equally good by construction: the pair findings fire at about alpha.

    The pair rules read only the pairs, so the models' evaluations are left out to keep
    200 seeds fast.
    """
    fired = {"threshold_flips": 0, "loss_tie": 0, "real rank disagreement": 0}
    seeds = 200
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        t = rng.normal(0, 2, 1500)
        y = (rng.random(1500) < 1 / (1 + np.exp(-t))).astype(int)
        a, b = (1 / (1 + np.exp(-(t + rng.normal(0, 0.5, 1500)))) for _ in range(2))
        preds = predictions_from_arrays({"a": a, "b": b}, y)
        pairs = paired_comparisons(preds, [[0, 1]])
        c = Comparison("binary", 1500, [0, 1], 0.5, "", "log_loss", 0.95, 0.05, "", None,
                       "none", models=[], pairs=pairs)
        fired["threshold_flips"] += rules.threshold_flips(c) is not None
        fired["loss_tie"] += rules.loss_tie(c) is not None
        d, ll = pairs[0].accuracy_difference, pairs[0].log_loss_difference
        disagree = d.significant and ll.significant and d.value * ll.value > 0
        fired["real rank disagreement"] += disagree
    assert all(count <= 0.08 * seeds for count in fired.values()), fired


def test_identical_models_differ_by_nothing(rng):
    y, p = random_binary(rng, 100)
    c = lossgap.compare({"x": p, "y": p.copy()}, y)
    pair = c.pairs[0]
    for metric in ("accuracy", "log_loss", "brier", "roc_auc"):
        d = pair.difference(metric)
        assert d.value == 0.0 and d.p_value == 1.0 and not d.significant, metric
    assert pair.flips.a_only_correct == pair.flips.b_only_correct == 0
    assert pair.flips.near_threshold_share is None
    assert c.finding("difference_not_significant").severity == "medium"


def test_infinite_loss_is_capped_and_flagged(rng):
    y, p = random_binary(rng, 80)
    hard = np.where(p >= 0.5, 1.0, 0.0)  # hard 0/1: every error is an infinite loss
    c = lossgap.compare({"soft": np.clip(p, 0.01, 0.99), "hard": hard}, y)
    assert c.model("hard").evaluation.metric("log_loss") == float("inf")
    assert c.models[-1].name == "hard"
    d = c.pairs[0].log_loss_difference
    assert d.clipped and "capped" in d.method and np.isfinite(d.value)
    with np.errstate(divide="ignore"):
        capped = np.minimum(-np.log(np.where(y == 1, hard, 1 - hard)), -np.log(1e-15))
    soft = -np.log(np.where(y == 1, np.clip(p, 0.01, 0.99), 1 - np.clip(p, 0.01, 0.99)))
    assert_allclose(d.value, soft.mean() - capped.mean(), rtol=1e-10)
    json.dumps(c.to_dict(), allow_nan=False)


def test_json_contract_and_terminal_rendering(rng):
    y, pa, pb, _ = seed_pair(rng)
    c = lossgap.compare({"a": pa, "b": pb, "base": (pa + pb) / 2}, y, max_ids=3)
    out = json.loads(json.dumps(c.to_dict(), allow_nan=False))
    assert {"models", "pairs", "findings", "by", "correction", "near_threshold"} <= set(out)
    pair = out["pairs"][0]
    assert {"a", "b", "flips"} <= set(pair)
    for key in ("accuracy_difference", "log_loss_difference", "brier_difference",
                "roc_auc_difference"):
        assert {"value", "ci_low", "ci_high", "p_value", "p_value_adjusted"} <= set(pair[key])
    assert {"a_only_correct", "b_only_correct", "near_threshold"} <= set(pair["flips"])
    assert all(len(p["flips"]["a_only_correct_ids"]) <= 3 for p in out["pairs"])
    assert out["models"][0]["rank"] == 1 and "metrics" in out["models"][0]
    buffer = io.StringIO()
    console = Console(file=buffer, width=120, color_system=None, theme=THEME)
    console.print(c)  # the short answer
    assert buffer.getvalue().startswith("Keep base if you use the probabilities")
    buffer.seek(0)
    buffer.truncate()
    for part in comparison_renderables(c):  # --full
        console.print(part)
    text = buffer.getvalue()
    assert text.splitlines()[0].startswith(("Best by log loss", "a is best", "b is best", "base"))
    assert "accuracy" in text and "Holm-adjusted over the 3 pairs" in text
    assert "threshold_flips" in text and "real" in text


def test_dataframe_columns_name_the_classes(rng):
    y, prob = random_multiclass(rng, 90, 3)
    names = np.array(["ant", "bee", "cat"])[y]
    frame = pd.DataFrame(prob, columns=["p_ant", "p_bee", "p_cat"])
    c = lossgap.compare({"a": frame, "b": frame[["p_ant", "p_bee", "p_cat"]] * 1.0}, names)
    assert c.classes == ["ant", "bee", "cat"]


BAD = [
    ({"a": [0.2, 0.8, 0.6]}, {}, r"at least two models, got 1"),
    ([[0.2, 0.8, 0.6]], {}, r"y_prob must map model names to predictions, got list"),
    ({"a": [0.2, 0.8, 0.6], 3: [0.1, 0.9, 0.5]}, {}, r"model names must be non-empty strings"),
    ({"a": [0.2, 0.8, 0.6], "b": [0.1, 1.9, 0.5]}, {}, r"model 'b': column 'b' holds 1.9 at row 1"),
    ({"a": [0.2, 0.8, 0.6], "b": [0.1, 0.9]}, {}, r"model 'b': lengths differ"),
    ({"a": [0.2, 0.8, 0.6], "b": [0.1, np.nan, 0.5]}, {}, r"model 'b': column 'b' has NaN"),
    ({"a": [0.2, 0.8, 0.6], "b": ["0.1", "x", "0.5"]}, {}, r"model 'b': column 'b' holds text"),
    (
        {"a": [0.2, 0.8, 0.6], "b": [0.1, 0.9, 0.5]}, {"by": "accuracy"},
        r"cannot rank by 'accuracy'",
    ),
    ({"a": [0.2, 0.8, 0.6], "b": [0.1, 0.9, 0.5]}, {"reference": "c"}, r"reference 'c' is not one"),
    ({"a": [0.2, 0.8, 0.6], "b": [0.1, 0.9, 0.5]}, {"near": 0.5}, r"near must lie strictly"),
    ({"a": [0.2, 0.8, 0.6], "b": [0.1, 0.9, 0.5]}, {"confidence": 95}, r"confidence must lie"),
]


@pytest.mark.parametrize(("models", "kwargs", "pattern"), BAD)
def test_bad_input_raises_one_line(models, kwargs, pattern):
    with pytest.raises(InputError, match=pattern) as info:
        lossgap.compare(models, [0, 1, 1], **kwargs)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    "options",
    [{}, {"positive": "cat"}, {"from_logits": True, "threshold": 0.3}, {"ids": list("abcdef")}],
)
def test_later_models_share_the_validated_labels(options):
    """Every binary model after the first takes its labels, classes and ids from the
    first (validated once) and is the Predictions the constructor would build."""
    labels = ["dog", "cat", "dog", "dog", "cat", "cat"]
    models = {"a": [0.9, 0.2, 0.6, 0.7, 0.1, 0.4], "b": [0.8, 0.3, 0.4, 0.9, 0.2, 0.6]}
    if options.get("from_logits"):
        models = {k: [4 * v - 2 for v in p] for k, p in models.items()}
    preds = predictions_from_arrays(models, labels, **options)
    first, second = preds["a"], preds["b"]
    built = lossgap.Predictions(labels, models["b"], prob_names=["b"], **options)
    assert second.y is first.y and second.ids is first.ids
    for attribute in ("y", "ids", "prob", "logits", "classes", "threshold", "prob_names"):
        assert np.array_equal(getattr(second, attribute), getattr(built, attribute))
    assert np.array_equal(second.predicted(), built.predicted())


def test_models_with_different_classes_are_refused():
    a = pd.DataFrame({"p_x": [0.2, 0.5, 0.3], "p_y": [0.5, 0.2, 0.3], "p_z": [0.3, 0.3, 0.4]})
    b = a[["p_z", "p_y", "p_x"]]
    match = r"model 'b' has classes \('z', 'y', 'x'\) but .*same class order"
    with pytest.raises(InputError, match=match):
        lossgap.compare({"a": a, "b": b}, ["x", "y", "z"])


def _four_models(rng, n=3000):
    y, p = random_binary(rng, n)
    logit = np.log(p) - np.log1p(-p)
    models = {
        f"m{j}": (1 / (1 + np.exp(-(logit * s + rng.normal(0, 0.6, n))))).astype(np.float32)
        for j, s in enumerate((1.0, 0.7, 1.3, 0.9))
    }
    return y, models


def test_scores_detail_matches_scikit_learn_and_the_summary(rng):
    y, models = _four_models(rng)
    c = lossgap.compare(models, y, detail="scores", top=3)
    summary = lossgap.compare(models, y, detail="summary", top=3)
    assert c.detail == "scores"
    for m in c.models:
        p = np.asarray(models[m.name], dtype=np.float64)
        assert_allclose(m.metric("log_loss"), log_loss(y, p), rtol=1e-12)
        assert_allclose(m.metric("log_loss_clipped"), log_loss(y, p), rtol=1e-12)
        assert_allclose(m.metric("brier"), brier_score_loss(y, p), rtol=1e-12)
        assert m.metric("accuracy") == accuracy_score(y, p >= 0.5)
        assert_allclose(m.metric("roc_auc"), roc_auc_score(y, p), rtol=1e-12)
        other = summary.model(m.name)
        assert (m.rank, m.accuracy_rank) == (other.rank, other.accuracy_rank)
        for name in ("accuracy", "roc_auc"):  # Wilson and DeLong, as explain's summary
            mine, theirs = m.metrics[name], other.metrics[name]
            assert mine.ci_method == theirs.ci_method
            assert_allclose([mine.ci_low, mine.ci_high], [theirs.ci_low, theirs.ci_high],
                            rtol=1e-9)
    # the pairs and the findings read the same per-sample values whatever the detail
    assert [p.to_dict() for p in c.pairs] == [p.to_dict() for p in summary.pairs]
    assert [f.code for f in c.findings] == [f.code for f in summary.findings]


def test_scores_detail_explains_only_the_best_models(rng):
    y, models = _four_models(rng)
    c = lossgap.compare(models, y, detail="scores", top=3)
    best = {c.models[0].name, min(c.models, key=lambda m: m.accuracy_rank).name}
    assert {m.name for m in c.models if m.evaluation is not None} == best
    for name in best:
        pred = lossgap.Predictions(y, models[name])
        expected = evaluate_predictions(pred, top=3, detail="summary").to_dict()
        assert c.model(name).evaluation.to_dict() == expected
    out = c.to_dict()
    json.dumps(out, allow_nan=False)
    for m in out["models"]:
        keys = {"name", "rank", "accuracy_rank", "metrics", "infinite_count"}
        assert set(m) == keys | ({"explain"} if m["name"] in best else set())
        assert set(m["metrics"]) == {"log_loss", "log_loss_clipped", "brier", "accuracy",
                                     "roc_auc"}


def test_auto_detail_gives_scores_past_the_cell_limit(rng, monkeypatch):
    from lossgap.comparison import pipeline

    y, models = _four_models(rng, 500)
    monkeypatch.setattr(pipeline, "AUTO_FULL_CELLS", 1999)
    assert lossgap.compare(models, y).detail == "scores"
    monkeypatch.setattr(pipeline, "AUTO_FULL_CELLS", 2000)
    assert lossgap.compare(models, y).detail == "full"
    with pytest.raises(InputError, match="detail must be one of"):
        lossgap.compare(models, y, detail="quick")


def test_scores_detail_multiclass_and_infinite_losses(rng):
    y, prob = random_multiclass(rng, 1500, 4)
    sharp = prob**2 / (prob**2).sum(axis=1, keepdims=True)
    hard = np.eye(4)[prob.argmax(axis=1)]  # every error an infinite loss
    models = {"prob": prob, "sharp": sharp, "hard": hard}
    c = lossgap.compare(models, y, detail="scores")
    summary = lossgap.compare(models, y, detail="summary")
    for m in c.models:
        p = models[m.name]
        assert_allclose(m.metric("roc_auc"), roc_auc_score(y, p, multi_class="ovr"), rtol=1e-12)
        assert m.metric("accuracy") == accuracy_score(y, p.argmax(axis=1))
        other = summary.model(m.name)
        assert m.infinite_count == other.infinite_count
        assert m.metric("log_loss") == other.metric("log_loss")  # inf for "hard"
        assert_allclose(m.metric("log_loss_clipped"), other.metric("log_loss_clipped"),
                        rtol=1e-12)
        assert_allclose(m.metric("brier"), other.metric("brier"), rtol=1e-12)
    assert c.model("hard").infinite_count == int((prob.argmax(axis=1) != y).sum()) > 0
    assert [f.code for f in c.findings] == [f.code for f in summary.findings]


@pytest.mark.parametrize("kind", ["binary", "capped", "logits", "multiclass"])
def test_recomputed_loss_and_brier_blocks_are_the_per_sample_doubles(rng, kind):
    """compare keeps no (m, n) loss or Brier matrix: each model's values are computed
    again a block of samples at a time (log losses through p * sign + offset, not
    true_class_prob's masked copy). They are sample_log_loss's and sample_brier's doubles,
    capped at 34.54 nats for a model with an infinite loss."""
    from lossgap.comparison.pipeline import _Columns
    from lossgap.core.losses import MAX_CLIPPED_LOSS, sample_brier, sample_log_loss

    n = 3000
    if kind == "multiclass":
        y, prob = random_multiclass(rng, n, 3)
        models = {"a": prob, "b": np.roll(prob, 1, axis=0)}
    else:
        y, p = random_binary(rng, n)
        p[:4] = [-0.0, 0.0, 1.0, 0.5]
        if kind == "capped":
            p[5] = 1.0 - y[5]  # an infinite loss
        models = {"a": p.astype(np.float32), "b": np.clip(p * 0.9 + 0.05, 0, 1)}
        if kind == "logits":
            models = {k: np.log(v + 1e-3) - np.log1p(1e-3 - v) for k, v in models.items()}
    preds = predictions_from_arrays(models, y, from_logits=kind == "logits")
    columns = _Columns(preds["a"], 2)
    for j, pred in enumerate(preds.values()):
        columns.add(j, pred, 0.05)
    losses = [sample_log_loss(pred) for pred in preds.values()]
    if kind == "capped":
        assert columns.infinite[0] == 1
        losses[0] = np.minimum(losses[0], MAX_CLIPPED_LOSS)
    rows = rng.choice(n, 700, replace=False)
    rows.sort()
    for samples in (slice(0, n), slice(1000, 2500), rows):
        expected = np.vstack([loss[samples] for loss in losses])
        assert np.array_equal(columns.rows("loss", samples), expected)
        expected = np.vstack([sample_brier(pred)[samples] for pred in preds.values()])
        assert np.array_equal(columns.rows("brier", samples), expected)
    assert columns.means["loss"].tolist() == [loss.mean() for loss in losses]


@pytest.mark.parametrize("task", ["binary", "multiclass", "infinite"])
def test_compiled_flips_change_only_the_near_loss_within_rounding(rng, monkeypatch, task):
    """Where compare loads numba (past COMPILED_MIN_TOTAL scores) the near-threshold flips
    are counted by the kernel: every number of the answer is the numpy path's, except the
    near-threshold log loss differences, within 1e-13 of the losses they sum (per sample:
    the summed losses over n are below 2 x 34.54 nats, the cap, so 1e-11 absolute here)."""
    pytest.importorskip("numba")
    from lossgap.comparison import pipeline

    if task == "multiclass":
        y, prob = random_multiclass(rng, 3000, 3)
        noisy = [prob * np.exp(rng.normal(0, 0.5, prob.shape)) for _ in range(4)]
        models = {f"m{j}": p / p.sum(axis=1, keepdims=True) for j, p in enumerate(noisy)}
    else:
        y, models = _four_models(rng, 3000)
        if task == "infinite":  # hard 0/1 decisions: losses capped at 34.54 nats
            models["hard"] = (models["m0"] >= 0.5).astype(float)
    numpy_path = lossgap.compare(models, y, near=0.2).to_dict()
    monkeypatch.setattr(pipeline, "COMPILED_MIN_TOTAL", 0)
    compiled = lossgap.compare(models, y, near=0.2).to_dict()
    moved = 0
    for got, expected in zip(compiled["pairs"], numpy_path["pairs"], strict=True):
        key = "near_threshold_log_loss_difference"
        assert_allclose(got["flips"].pop(key), expected["flips"].pop(key), rtol=0, atol=1e-13)
        moved += expected["flips"]["near_threshold"] > 0
    assert compiled == numpy_path
    assert moved  # the comparison had near-threshold flips


def test_pair_to_dict_is_asdict_without_the_deep_copy(rng):
    """Each pair's JSON is dataclasses.asdict of its differences and flips, key for key
    and in order, with lists of its own (the result's ids are not shared)."""
    from dataclasses import asdict

    y, models = _four_models(rng, 2000)
    c = lossgap.compare(models, y, near=0.2, max_ids=5)
    for pair in c.pairs:
        got = pair.to_dict()
        expected = {"a": pair.a, "b": pair.b,
                    **{f"{m}_difference": asdict(pair.difference(m)) for m in
                       ("accuracy", "log_loss", "brier", "roc_auc")},
                    "flips": asdict(pair.flips)}
        assert got == expected
        assert [list(v) for v in got.values() if isinstance(v, dict)] == [
            list(v) for v in expected.values() if isinstance(v, dict)]
        assert got["flips"]["a_only_correct_ids"] is not pair.flips.a_only_correct_ids
    assert any(p.flips.near_threshold_ids for p in c.pairs)


def test_ordinary_pages_set_numpy_huge_page_advice_back():
    """Inside ordinary_pages numpy's huge-page advice is off; on leaving, even by an
    error, it is what it was before (numpy's switch returns the state it replaces)."""
    from numpy._core.multiarray import _set_madvise_hugepage as switch

    from lossgap.comparison.pipeline import ordinary_pages

    before = switch(True)
    try:
        with ordinary_pages():
            inside = switch(False)
        after = switch(True)
        with pytest.raises(ZeroDivisionError), ordinary_pages():
            1 / 0  # noqa: B018
        after_error = switch(True)
    finally:
        switch(before)
    assert (inside, after, after_error) == (False, True, True)

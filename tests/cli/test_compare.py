"""`lossgap compare` on files: one file with a column per model, files joined on ids, errors."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from scipy import stats
from sklearn.metrics import accuracy_score, log_loss
from typer.testing import CliRunner

import lossgap
from lossgap.cli import load_commands
from tests.helpers.data import REAL_LOGS, needs_real_logs, random_binary, random_multiclass

runner = CliRunner()
app = load_commands()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def compare_json(*args):
    result = run("compare", *args, "--json")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    return json.loads(result.stdout)


def fails(*args, pattern):
    result = run("compare", *args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("lossgap: error: ")
    assert re.search(pattern, lines[0]), lines[0]
    assert result.stdout == ""


@pytest.fixture
def three_models(rng):
    y, p = random_binary(rng, 300)
    p = np.clip(p, 1e-4, 1 - 1e-4)
    return y, {
        "lr_proba": p,
        "dt_proba": np.clip(p + rng.normal(0, 0.1, 300), 1e-4, 1 - 1e-4),
        "knn_proba": np.round(p, 1).clip(0.05, 0.95),
    }


def test_one_file_with_a_column_per_model_matches_the_api(tmp_path, three_models):
    y, models = three_models
    frame = pd.DataFrame({"y_true": y, **models, "lr_pred": (models["lr_proba"] >= 0.5) * 1})
    frame.to_csv(tmp_path / "p.csv", index=False)
    expected = lossgap.compare(models, y).to_dict()
    guessed = compare_json(tmp_path / "p.csv")  # *_proba columns are guessed
    named = compare_json(tmp_path / "p.csv", "--prob", "lr_proba", "--prob", "dt_proba",
                         "--prob", "knn_proba")
    globbed = compare_json(tmp_path / "p.csv", "--prob", "*_proba")
    for out in (guessed, named, globbed):
        assert [m["name"] for m in out["models"]] == [m["name"] for m in expected["models"]]
        for got, want in zip(out["pairs"], expected["pairs"], strict=True):
            assert (got["a"], got["b"]) == (want["a"], want["b"])
            assert_allclose(got["log_loss_difference"]["value"],
                            want["log_loss_difference"]["value"], rtol=1e-9)
            assert got["flips"] == want["flips"]
    pair = guessed["pairs"][0]
    a, b = models[pair["a"]], models[pair["b"]]
    only_a = np.sum(((a >= 0.5) == y) & ((b >= 0.5) != y))
    only_b = np.sum(((a >= 0.5) != y) & ((b >= 0.5) == y))
    assert pair["accuracy_difference"]["p_value"] == pytest.approx(
        stats.binomtest(int(only_a), int(only_a + only_b)).pvalue if only_a + only_b else 1.0
    )


def test_one_file_ids_name_the_flips(tmp_path):
    y = np.array([0, 1, 1, 0, 1, 0])
    a = np.array([0.2, 0.51, 0.7, 0.49, 0.9, 0.1])
    b = np.array([0.2, 0.49, 0.7, 0.51, 0.9, 0.1])
    frame = pd.DataFrame({"img": [f"im{i}" for i in range(6)], "y": y, "a": a, "b": b})
    frame.to_csv(tmp_path / "f.csv", index=False)
    out = compare_json(tmp_path / "f.csv", "--id", "img", "--prob", "a", "--prob", "b",
                       "--reference", "b")
    flips = out["pairs"][0]["flips"]
    assert flips["a_only_correct_ids"] == ["im1", "im3"] and flips["b_only_correct_ids"] == []
    assert flips["near_threshold_ids"] == ["im1", "im3"] and flips["near_threshold_share"] == 1.0


def test_files_joined_on_ids_in_any_order(tmp_path, rng):
    y, prob = random_multiclass(rng, 120, 3)
    names = np.array(["ant", "bee", "cat"])[y]
    other = 0.7 * prob + 0.1
    ids = [f"s{i}" for i in range(120)]
    for name, values, order in (("first", prob, np.arange(120)), ("second", other,
                                                                   rng.permutation(120))):
        pd.DataFrame({
            "img": np.array(ids)[order], "label": names[order],
            "p_ant": values[order, 0], "p_bee": values[order, 1], "p_cat": values[order, 2],
        }).to_parquet(tmp_path / f"{name}.parquet")
    out = compare_json(tmp_path / "first.parquet", tmp_path / "second.parquet", "--id", "img")
    assert {m["name"] for m in out["models"]} == {"first", "second"}
    assert out["task"] == "multiclass" and out["classes"] == ["ant", "bee", "cat"]
    first = next(m for m in out["models"] if m["name"] == "first")
    assert_allclose(first["metrics"]["log_loss"]["value"], log_loss(y, prob), rtol=1e-9)
    pair = out["pairs"][0]
    sign = 1 if pair["a"] == "first" else -1
    assert_allclose(
        pair["accuracy_difference"]["value"],
        sign * (accuracy_score(y, prob.argmax(1)) - accuracy_score(y, other.argmax(1))),
    )
    flipped = set(pair["flips"]["a_only_correct_ids"] + pair["flips"]["b_only_correct_ids"])
    expected = {ids[i] for i in np.flatnonzero((prob.argmax(1) == y) != (other.argmax(1) == y))}
    assert flipped == expected


def test_files_row_by_row_without_ids_and_logits(tmp_path, three_models):
    y, models = three_models
    for name, p in models.items():
        z = np.log(p) - np.log1p(-p)
        pd.DataFrame({"label": y, "z": z}).to_csv(tmp_path / f"{name}.csv", index=False)
    paths = [tmp_path / f"{name}.csv" for name in models]
    out = compare_json(*paths, "--reference", "lr_proba", "--by", "brier")
    assert out["reference"] == "lr_proba" and out["by"] == "brier"
    assert all(p["b"] == "lr_proba" for p in out["pairs"]) and len(out["pairs"]) == 2
    expected = lossgap.compare(models, y, reference="lr_proba", by="brier").to_dict()
    assert_allclose(
        [p["brier_difference"]["value"] for p in out["pairs"]],
        [p["brier_difference"]["value"] for p in expected["pairs"]],
        rtol=1e-9,
    )


def test_one_file_multiclass_globs(tmp_path, rng):
    y, prob = random_multiclass(rng, 90, 3)
    frame = pd.DataFrame({"y": y})
    for model, values in (("big", prob), ("small", 0.5 * prob + 0.5 / 3)):
        for c in range(3):
            frame[f"{model}_p_{c}"] = values[:, c]
    frame.to_csv(tmp_path / "m.csv", index=False)
    out = compare_json(tmp_path / "m.csv", "--prob", "big_p_*", "--prob", "small_p_*")
    assert {m["name"] for m in out["models"]} == {"big_p", "small_p"}
    assert out["task"] == "multiclass" and out["classes"] == [0, 1, 2]


def test_terminal_table_says_which_differences_are_real(tmp_path, three_models):
    y, models = three_models
    pd.DataFrame({"label": y, **models}).to_csv(tmp_path / "p.csv", index=False)
    short = run("compare", tmp_path / "p.csv")
    assert short.exit_code == 0, short.stderr
    assert "Key numbers" in short.stdout and "What to do" in short.stdout
    result = run("compare", tmp_path / "p.csv", "--full")
    assert result.exit_code == 0, result.stderr
    text = result.stdout
    assert "rank" in text and "lr_proba" in text and "real" in text and "Findings" in text
    assert "Holm-adjusted over the 3 pairs" in " ".join(text.split())


def write(path, frame):
    frame.to_csv(path, index=False)
    return path


def test_bad_inputs_exit_2_with_one_line(tmp_path):
    a = write(tmp_path / "a.csv", pd.DataFrame({"id": ["x", "y", "z", "w"], "label": [0, 1, 1, 0],
                                                "p": [0.2, 0.7, 0.6, 0.4]}))
    b = write(tmp_path / "b.csv", pd.DataFrame({"id": ["x", "y", "q", "r", "s"],
                                                "label": [0, 1, 1, 0, 1],
                                                "p": [0.3, 0.6, 0.5, 0.5, 0.1]}))
    fails(a, b, "--id", "id", pattern=r"'.*b.csv' lacks 2 of the 4 ids of '.*a.csv' \(e.g. 'z', "
          r"'w'\) and it has 3 id\(s\) that '.*a.csv' lacks \(e.g. 'q', 'r', 's'\)")
    fails(a, b, pattern=r"different numbers of rows \(a.csv: 4, b.csv: 5\): pass --id")
    dup = write(tmp_path / "dup.csv", pd.DataFrame({"id": ["x", "y", "x", "w"],
                                                    "label": [0, 1, 1, 0], "p": [0.2] * 4}))
    fails(a, dup, "--id", "id", pattern=r"column 'id' of '.*dup.csv' repeats 1 id\(s\) "
          r"\(e.g. 'x'; first at rows 0 and 2\)")
    relabeled = write(tmp_path / "c.csv", pd.DataFrame({"id": ["w", "z", "y", "x"],
                                                        "label": [0, 1, 0, 0], "p": [0.2] * 4}))
    fails(a, relabeled, "--id", "id",
          pattern=r"labels differ .* for 1 of 4 samples \(e.g. id 'y': '1' vs '0'\)")
    fails(a, pattern=r"holds one model \(p\)|cannot tell which columns")
    fails(a, "--prob", "p", pattern=r"holds one model \(p\)")
    fails(a, a, pattern=r"file '.*a.csv' is given twice")
    fails(a, b, "--id", "nope", pattern=r"no column 'nope' in '.*a.csv' \(from --id\)")
    fails(a, "--prob", "p", "--logit", "p", pattern=r"either --prob or --logit")
    two = write(tmp_path / "two.csv", pd.DataFrame({"label": [0, 1, 1], "m1": [0.2, 0.9, 0.4],
                                                    "m2": [0.1, 1.5, 0.4]}))
    fails(two, "--prob", "m*", pattern=r"model 'm2': column 'm2' holds 1.5 at row 1")
    good = write(tmp_path / "good.csv", pd.DataFrame({"label": [0, 1, 1], "m1": [0.2, 0.9, 0.4],
                                                      "m2": [0.1, 0.5, 0.4]}))
    fails(good, "--prob", "m*", "--reference", "m3", pattern=r"reference 'm3' is not one of the "
          r"models: m1, m2")
    fails(good, "--prob", "m*", "--near", "0.7", pattern=r"near must lie strictly")
    fails(good, "--prob", "m*", "--confidence", "1.5", pattern=r"confidence must lie strictly")
    multi = write(tmp_path / "multi.csv", pd.DataFrame({"y": [0, 1, 2], "a_0": [0.2, 0.3, 0.5],
                                                        "a_1": [0.3, 0.3, 0.4]}))
    fails(multi, "--prob", "a_*", pattern=r"--prob 'a_\*' matches 2 columns .* 3 classes")
    fails(tmp_path / "missing.csv", b, pattern=r"does not exist")


def test_unknown_rank_metric_is_a_usage_error(tmp_path, three_models):
    y, models = three_models
    path = write(tmp_path / "p.csv", pd.DataFrame({"label": y, **models}))
    result = run("compare", path, "--by", "accuracy")
    assert result.exit_code == 2 and result.stdout == ""


@needs_real_logs
def test_real_credit_risk_predictions_three_models():
    """CryZiiiX/credit-risk-prediction: three models on the same 4886 test rows."""
    path = REAL_LOGS / "predictions" / "CryZiiiX__credit-risk-prediction__results__predictions.csv"
    frame = pd.read_csv(path)
    out = compare_json(path, "--label", "y_true")  # lr_proba, dt_proba, knn_proba guessed
    assert out["n"] == 4886 and len(out["pairs"]) == 3
    by_name = {m["name"]: m for m in out["models"]}
    y = frame["y_true"].to_numpy()
    for name in ("lr_proba", "dt_proba", "knn_proba"):
        p = frame[name].to_numpy()
        assert_allclose(by_name[name]["metrics"]["accuracy"]["value"],
                        accuracy_score(y, p >= 0.5))
    infinite = {
        name: bool(np.any(np.where(y == 1, frame[name], 1 - frame[name]) == 0))
        for name in by_name
    }
    assert infinite["knn_proba"]  # knn gives exactly 0.0 to some positives
    for name, inf in infinite.items():
        assert (by_name[name]["metrics"]["log_loss"]["value"] == "inf") == inf
    for pair in out["pairs"]:
        clipped = infinite[pair["a"]] or infinite[pair["b"]]
        assert pair["log_loss_difference"]["clipped"] == clipped
        assert pair["flips"]["a_only_correct"] - pair["flips"]["b_only_correct"] == round(
            pair["accuracy_difference"]["value"] * 4886
        )


@needs_real_logs
def test_real_adhd_long_format_six_models_on_85_subjects():
    """GiorgosBouh/raw_vs_KG_ADHD: 6 model configurations, out-of-fold scores per subject."""
    path = REAL_LOGS / "predictions" / "GiorgosBouh__raw_vs_KG_ADHD__results__predictions.csv"
    frame = pd.read_csv(path)
    frame["model"] = frame["representation"] + "/" + frame["variant"]
    wide = frame.pivot(index="ID", columns="model", values="y_score")
    labels = frame.groupby("ID")["y_true"].first().loc[wide.index]
    c = lossgap.compare({k: wide[k].to_numpy() for k in wide.columns}, labels.to_numpy(),
                        ids=wide.index.to_numpy())
    assert c.n == 85 and len(c.models) == 6 and len(c.pairs) == 15
    assert c.correction == "holm"
    for pair in c.pairs:
        a, b = wide[pair.a].to_numpy(), wide[pair.b].to_numpy()
        assert_allclose(pair.log_loss_difference.value,
                        log_loss(labels, a) - log_loss(labels, b), rtol=1e-9, atol=1e-12)


def test_detail_option_sets_each_models_evaluation(tmp_path, three_models):
    y, models = three_models
    pd.DataFrame({"y_true": y, **models}).to_csv(tmp_path / "p.csv", index=False)
    summary = compare_json(tmp_path / "p.csv", "--detail", "summary")
    full = compare_json(tmp_path / "p.csv")  # auto: 900 model-samples get the full detail
    assert summary["detail"] == "summary" and full["detail"] == "full"
    assert summary["models"][0]["recalibration"] == {} and full["models"][0]["recalibration"]
    assert [m["name"] for m in summary["models"]] == [m["name"] for m in full["models"]]
    scores = compare_json(tmp_path / "p.csv", "--detail", "scores")
    assert scores["detail"] == "scores" and "explain" in scores["models"][0]
    assert scores["models"][0]["metrics"]["accuracy"] == full["models"][0]["metrics"]["accuracy"]
    html = tmp_path / "r.html"
    assert run("compare", tmp_path / "p.csv", "--detail", "scores", "--html", html).exit_code == 0
    assert "Only the best model by" in html.read_text()
    assert run("compare", tmp_path / "p.csv", "--detail", "quick").exit_code == 2

"""Where the loss lives: per class, confusion pairs, top-label and classwise ECE, slices.

Every number is checked against scikit-learn, torchmetrics or a direct numpy sum over
the samples; the slice rules against calibrated data over many seeds.
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from numpy.testing import assert_allclose
from scipy.special import expit, softmax
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support
from typer.testing import CliRunner

import lossgap
from lossgap.cli import load_commands
from lossgap.core.tally import Tally, merge_all
from lossgap.explanation import evaluate_predictions
from tests.helpers.data import random_multiclass
from tests.helpers.engines import assert_same_json

runner = CliRunner()
app = load_commands()
NAMING_A_GROUP = {"slice_miscalibrated", "slice_confident_errors"}


def calibrated_multiclass(rng, n, k, scale=1.5):
    prob = softmax(rng.normal(size=(n, k)) * scale, axis=1)
    y = (prob.cumsum(axis=1) < rng.uniform(size=(n, 1))).sum(axis=1)
    return np.minimum(y, k - 1), prob


def swapped(seed, n=10_000, k=10, a=3, b=7):
    """Calibrated 10-class predictions where a tenth of classes a and b are decided as the
    other with high confidence (a -> b at 0.97, b -> a at 0.9)."""
    rng = np.random.default_rng(seed)
    y, prob = calibrated_multiclass(rng, n, k)
    for true, other, level in ((a, b, 0.97), (b, a, 0.9)):
        rows = rng.choice(np.flatnonzero(y == true), size=(y == true).sum() // 10, replace=False)
        prob[rows] = (1 - level) / (k - 1)
        prob[rows, other] = level
    return y, prob


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_swapped_pair_carries_its_exact_share_and_is_named(seed):
    y, prob = swapped(seed)
    ev = lossgap.explain(y, prob, ids=np.arange(len(y)) + 1000)
    loss = -np.log(np.maximum(prob[np.arange(len(y)), y], 1e-15))
    decided = prob.argmax(axis=1)
    top = ev.confusion_pairs[0]
    assert (top.true, top.predicted) == (3, 7)
    cell = (y == 3) & (decided == 7)
    assert top.count == cell.sum()
    assert_allclose(top.loss_share, loss[cell].sum() / loss.sum(), rtol=1e-12)
    # the ids are the most confident of the pair, highest loss first
    most = np.flatnonzero(cell)[np.argsort(-loss[cell], kind="stable")][:5]
    assert set(top.ids) <= set(np.flatnonzero(cell) + 1000) and len(top.ids) == 5
    assert_allclose(loss[np.array(top.ids) - 1000], loss[most], rtol=1e-12)
    # what a calibrated model would put in the cell: p_3 over the samples decided as 7
    assert_allclose(top.expected_if_calibrated, prob[decided == 7, 3].sum(), rtol=1e-12)
    finding = ev.finding("confusion_pair")
    assert finding is not None and finding.severity in ("high", "medium")
    assert (finding.evidence["true"], finding.evidence["predicted"]) == (3, 7)
    assert [7, 3] in finding.evidence["pairs"]
    d = ev.to_dict()
    assert d["confusion_pairs"][0]["true"] == 3 and d["confusion_pairs"][0]["predicted"] == 7
    assert set(d["confusion_pairs"][0]) >= {"true", "predicted", "count", "loss_share", "ids"}


def test_calibrated_multiclass_names_no_pair_or_class():
    named = 0
    for seed in range(40):
        y, prob = calibrated_multiclass(np.random.default_rng(seed), 3000, 10)
        ev = evaluate_predictions(lossgap.Predictions(y, prob), detail="summary")
        named += any(f.code in ("confusion_pair", "class_confident_errors") for f in ev.findings)
    assert named <= 2  # at most 5%


def test_per_class_and_confusion_equal_scikit_learn(rng):
    y, prob = random_multiclass(rng, 2000, 4)
    w = rng.uniform(0.5, 2.0, size=len(y))
    ev = lossgap.explain(y, prob, sample_weight=w)
    decided = prob.argmax(axis=1)
    precision, recall, f1, _ = precision_recall_fscore_support(
        y, decided, sample_weight=w, average=None, zero_division=0
    )
    rows = ev.per_class
    assert [r.label for r in rows] == [0, 1, 2, 3]
    assert_allclose([r.precision for r in rows], precision, rtol=1e-12)
    assert_allclose([r.recall for r in rows], recall, rtol=1e-12)
    assert_allclose([r.f1 for r in rows], f1, rtol=1e-12)
    assert_allclose([r.support for r in rows], np.bincount(y, weights=w), rtol=1e-12)
    assert_allclose(ev.confusion.matrix, confusion_matrix(y, decided, sample_weight=w), rtol=1e-12)
    loss = -np.log(prob[np.arange(len(y)), y]) * w
    assert_allclose([r.loss_share for r in rows], np.bincount(y, weights=loss) / loss.sum())
    for c, r in enumerate(rows):  # one-vs-rest binary log loss of the column
        yc, pc = y == c, prob[:, c]
        ovr = -(w * np.where(yc, np.log(pc), np.log1p(-pc))).sum() / w.sum()
        assert_allclose(r.ovr_log_loss, ovr, rtol=1e-12)
        low = pc <= 0.1
        assert_allclose(r.confident_errors, w[low & yc].sum())
        assert_allclose(r.expected_if_calibrated, (w * pc)[low].sum())
        parts = ev.decomposition.per_class[str(c)]["log_loss"]
        assert_allclose(r.miscalibration, parts.miscalibration)
        bin_ = np.minimum((pc * 15).astype(int), 14)  # the reliability diagram's bins
        mass = np.bincount(bin_, w, 15)
        held = mass > 0
        assert_allclose(r.reliability["weight"], mass[held], rtol=1e-12)
        for key, value in (("observed", w * yc), ("score", w * pc)):
            assert_allclose(r.reliability[key], np.bincount(bin_, value, 15)[held] / mass[held])
    d = ev.to_dict()
    assert d["per_class"][0]["class"] == 0
    assert set(d["per_class"][0]) >= {"class", "support", "precision", "recall", "f1", "loss_share"}
    assert d["confusion"]["classes"] == [0, 1, 2, 3] and len(d["confusion"]["matrix"]) == 4


def test_binary_has_no_per_class_keys(rng):
    d = lossgap.explain([0, 1, 1, 0], [0.2, 0.7, 0.6, 0.4]).to_dict()
    assert not {"per_class", "confusion", "confusion_pairs", "slices"} & set(d)


@pytest.mark.parametrize("bins", [15, 10, 7])
def test_multiclass_ece_is_torchmetrics_top_label_and_classwise_is_per_class(bins):
    torch = pytest.importorskip("torch")
    tm = pytest.importorskip("torchmetrics.classification")
    rng = np.random.default_rng(bins)
    n, k = 3000, 5
    prob = softmax(rng.normal(size=(n, k)) * 2, axis=1)
    sharper = softmax(np.log(prob) * 1.5, axis=1)  # the model is underconfident
    y = (sharper.cumsum(axis=1) < rng.uniform(size=(n, 1))).sum(axis=1).clip(0, k - 1)
    ev = lossgap.explain(y, prob, ece_bins=bins)
    reference = tm.MulticlassCalibrationError(num_classes=k, n_bins=bins, norm="l1")
    expected = reference(torch.tensor(prob), torch.tensor(y)).item()
    assert_allclose(ev.metric("ece"), expected, rtol=1e-5)  # torchmetrics bins in float32
    per_class = [
        tm.BinaryCalibrationError(n_bins=bins, norm="l1")(
            torch.tensor(prob[:, c]), torch.tensor((y == c).astype(np.int64))
        ).item()
        for c in range(k)
    ]
    assert_allclose([r.ece for r in ev.per_class], per_class, rtol=1e-5)
    assert_allclose(ev.metric("classwise_ece"), np.mean(per_class), rtol=1e-5)
    assert ev.metrics["ece"].ci_low <= ev.metric("ece") <= ev.metrics["ece"].ci_high
    assert str(bins) in ev.diagnostics.ece_binning


def test_binary_ece_is_the_positive_class_ece():
    torch = pytest.importorskip("torch")
    tm = pytest.importorskip("torchmetrics.classification")
    rng = np.random.default_rng(5)
    p = rng.uniform(size=2000)
    y = (rng.uniform(size=2000) < p**1.3).astype(np.int64)
    ev = lossgap.explain(y, p, ece_bins=12)
    expected = tm.BinaryCalibrationError(n_bins=12, norm="l1")(torch.tensor(p), torch.tensor(y))
    assert_allclose(ev.metric("ece"), expected.item(), rtol=1e-5)
    assert "classwise_ece" not in ev.metrics


def test_top_label_ece_from_a_merged_tally_equals_the_whole(rng):
    y, prob = random_multiclass(rng, 3000, 6)
    parts = [
        Tally.from_predictions(lossgap.Predictions(y[s], prob[s], classes=range(6)))
        for s in np.array_split(np.arange(3000), 5)
    ]
    merged = merge_all(parts)
    whole = Tally.from_predictions(lossgap.Predictions(y, prob))
    assert_allclose(merged.confusion_loss, whole.confusion_loss, rtol=1e-12)
    assert_allclose(merged.confusion_expected, whole.confusion_expected, rtol=1e-12)
    assert_allclose(merged.top_label.weights, whole.top_label.weights)
    assert_allclose(merged.top_label.scores, prob.max(axis=1)[np.argsort(prob.max(axis=1))][
        np.r_[True, np.diff(np.sort(prob.max(axis=1))) > 0]])


def grouped_binary(seed, n=4000, temperature=None, groups=4):
    """Calibrated binary predictions in equal groups; group 'c' overconfident by T."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=n) * 1.5
    y = (rng.uniform(size=n) < expit(z)).astype(np.int64)
    group = np.array(list("abcdefgh"[:groups]))[rng.integers(0, groups, n)]
    p = expit(z)
    if temperature is not None:
        sharp = group == "c"
        p[sharp] = expit(temperature * z[sharp])
    return y, p, group


def test_by_names_the_overconfident_group(tmp_path):
    y, p, group = grouped_binary(0, temperature=3)
    path = tmp_path / "preds.parquet"
    pq.write_table(pa.table({"y": y, "p": p, "site": group}), path)
    result = runner.invoke(app, ["explain", str(path), "--by", "site", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    named = [f for f in out["findings"] if f["code"] in NAMING_A_GROUP]
    assert named and all(f["evidence"]["groups"] == [["site", "c"]] for f in named)
    assert [s["group"] for s in out["slices"]] == ["a", "b", "c", "d"]
    assert set(out["slices"][0]) >= {"by", "group", "n", "metrics", "decomposition", "findings"}
    assert sum(s["n"] for s in out["slices"]) == len(y)


def test_the_overconfident_group_is_named_in_every_dataset():
    for seed in range(20):
        y, p, group = grouped_binary(seed, n=2000, temperature=3)
        ev = evaluate_predictions(lossgap.Predictions(y, p), groups={"g": group}, detail="summary")
        finding = ev.finding("slice_miscalibrated")
        assert finding is not None and finding.evidence["groups"] == [["g", "c"]]


def test_calibrated_groups_are_named_in_at_most_5_percent_of_datasets():
    named = 0
    seeds = 200
    for seed in range(seeds):
        y, p, group = grouped_binary(seed, n=2000)
        ev = evaluate_predictions(lossgap.Predictions(y, p), groups={"g": group}, detail="summary")
        named += any(f.code in NAMING_A_GROUP for f in ev.findings)
    assert named / seeds <= 0.05, named


def test_slice_numbers_are_those_of_the_group_alone():
    y, p, group = grouped_binary(3, n=1500)
    ev = lossgap.explain(y, p, groups=group)
    for s in ev.slices:
        alone = lossgap.explain(y[group == s.group], p[group == s.group])
        assert s.by == "group" and s.n == (group == s.group).sum()
        for name in ("log_loss", "accuracy", "roc_auc", "ece", "calibration_slope"):
            assert_allclose(s.evaluation.metric(name), alone.metric(name), rtol=1e-12)
        loss = -np.log(np.where(y == 1, p, 1 - p))
        assert_allclose(s.loss_share, loss[group == s.group].sum() / loss.sum(), rtol=1e-12)


def test_by_streams_with_the_numbers_of_memory(tmp_path):
    y, p, group = grouped_binary(4, n=3000, temperature=2)
    site = np.random.default_rng(9).integers(0, 3, len(y))
    path = tmp_path / "preds.parquet"
    table = pa.table({"y": y, "p": p, "scanner": group, "site": site})
    pq.write_table(table, path, row_group_size=700)
    outputs = {}
    for engine in ("memory", "stream"):
        result = runner.invoke(
            app,
            ["explain", str(path), "--by", "scanner", "--by", "site", "--engine", engine, "--json"],
        )
        assert result.exit_code == 0, result.output
        outputs[engine] = json.loads(result.stdout)
    memory, stream = outputs["memory"], outputs["stream"]
    # the same numbers up to rounding: a fresh process's in-memory run keeps numpy's
    # kernels (numpy_unless_loaded) where the stream loads numba's, whose totals agree to
    # 1e-12 (exact equality held only when an earlier test had loaded numba)
    assert_same_json(memory["slices"], stream["slices"], rtol=1e-12)
    assert [f["code"] for f in memory["findings"]] == [f["code"] for f in stream["findings"]]
    assert [s["by"] for s in memory["slices"]] == ["scanner"] * 4 + ["site"] * 3


def test_multiclass_slices_stream_as_in_memory(tmp_path, rng):
    y, prob = random_multiclass(rng, 1200, 3)
    site = rng.integers(0, 2, len(y))
    columns = {"y": y, "site": site} | {f"p_{c}": prob[:, c] for c in range(3)}
    path = tmp_path / "m.parquet"
    pq.write_table(pa.table(columns), path, row_group_size=500)
    got = {}
    for engine in ("memory", "stream"):
        args = ["explain", str(path), "--by", "site", "--engine", engine, "--json"]
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        got[engine] = json.loads(result.stdout)
    for a, b in zip(got["memory"]["slices"], got["stream"]["slices"], strict=True):
        for name in ("log_loss", "accuracy", "ece", "classwise_ece", "smooth_ece"):
            assert_allclose(a["metrics"][name]["value"], b["metrics"][name]["value"], rtol=1e-12)
    # the Tally's top-label table gives the streamed top-label decomposition too
    for engine in ("memory", "stream"):
        assert got[engine]["decomposition"]["target"].startswith("top-label")
    for name in ("miscalibration", "discrimination", "uncertainty", "score"):
        assert_allclose(
            got["memory"]["decomposition"]["log_loss"][name],
            got["stream"]["decomposition"]["log_loss"][name],
            rtol=1e-9,
        )
    for key in ("per_class", "confusion_pairs"):  # sums merged in another order: to rounding
        for a, b in zip(got["memory"][key], got["stream"][key], strict=True):
            assert a.keys() == b.keys()
            for name, value in a.items():
                if isinstance(value, float):
                    assert_allclose(value, b[name], rtol=1e-9)
                else:
                    assert value == b[name]


@pytest.mark.parametrize(
    ("groups", "match"),
    [
        ([1, 2], "lengths differ: 4 samples but 2 values in group column 'group'"),
        ({"site": [1.0, np.nan, 2.0, 1.0]}, "group column 'site' has an empty value .* at row 1"),
        ({"site": ["a", None, "b", "a"]}, "group column 'site' has an empty value .* at row 1"),
    ],
)
def test_bad_groups_are_one_clear_error(groups, match):
    with pytest.raises(lossgap.InputError, match=match):
        lossgap.explain([0, 1, 1, 0], [0.2, 0.7, 0.6, 0.4], groups=groups)


@pytest.mark.parametrize("engine", ["memory", "stream"])
def test_a_missing_by_column_exits_2_with_the_columns(tmp_path, engine):
    path = tmp_path / "p.parquet"
    pq.write_table(pa.table({"y": [0, 1, 1, 0], "p": [0.2, 0.7, 0.6, 0.4]}), path)
    result = runner.invoke(app, ["explain", str(path), "--by", "site", "--engine", engine])
    assert result.exit_code == 2
    assert "--by 'site'" in result.output and "y, p" in result.output


def test_an_empty_group_cell_in_a_later_batch_names_its_row(tmp_path):
    site = ["a"] * 10 + [None] + ["b"] * 9
    y = [0, 1] * 10
    path = tmp_path / "p.parquet"
    pq.write_table(pa.table({"y": y, "p": [0.3, 0.6] * 10, "site": site}), path, row_group_size=4)
    result = runner.invoke(app, ["explain", str(path), "--by", "site", "--engine", "stream"])
    assert result.exit_code == 2
    assert "column 'site' has an empty value at row 10" in result.output


def multilabel_data(seed, n=800, labels=5):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, labels)) * np.linspace(0.5, 2.5, labels) + np.linspace(-2, 1, labels)
    y = (rng.uniform(size=(n, labels)) < expit(z)).astype(np.int64)
    p = expit(z * np.array([1, 1, 2.5, 1, 0.6]))  # label c overconfident, e underconfident
    return y, p


def test_each_label_of_a_multilabel_file_has_scikit_learns_metrics(tmp_path):
    from sklearn import metrics as skm

    y, p = multilabel_data(0)
    names = ["a", "b", "c", "d", "e"]
    columns = {f"y_{m}": y[:, j] for j, m in enumerate(names)} | {
        f"p_{m}": p[:, j] for j, m in enumerate(names)
    }
    path = tmp_path / "ml.parquet"
    pq.write_table(pa.table(columns), path)
    result = runner.invoke(app, ["explain", str(path), "--multilabel", "--label", "y_*", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["task"] == "multilabel" and [r["label"] for r in out["labels"]] == names
    for j, row in enumerate(out["labels"]):
        yj, pj, dj = y[:, j], p[:, j], (p[:, j] >= 0.5).astype(int)
        got = {name: m["value"] for name, m in row["metrics"].items()}
        assert_allclose(got["log_loss"], skm.log_loss(yj, pj), rtol=1e-12)
        assert_allclose(got["brier"], skm.brier_score_loss(yj, pj), rtol=1e-12)
        assert_allclose(got["accuracy"], skm.accuracy_score(yj, dj), rtol=1e-12)
        assert_allclose(got["precision"], skm.precision_score(yj, dj, zero_division=0), rtol=1e-12)
        assert_allclose(got["recall"], skm.recall_score(yj, dj), rtol=1e-12)
        assert_allclose(got["f1"], skm.f1_score(yj, dj, zero_division=0), rtol=1e-12)
        assert_allclose(got["roc_auc"], skm.roc_auc_score(yj, pj), rtol=1e-12)
        assert_allclose(got["average_precision"], skm.average_precision_score(yj, pj), rtol=1e-12)
    decided = (p >= 0.5).astype(int)
    micro = {name: m["value"] for name, m in out["micro"]["metrics"].items()}
    assert_allclose(micro["f1"], skm.f1_score(y, decided, average="micro"), rtol=1e-12)
    assert_allclose(micro["precision"], skm.precision_score(y, decided, average="micro"))
    assert_allclose(micro["log_loss"], skm.log_loss(y.ravel(), p.ravel()), rtol=1e-12)
    macro_f1 = skm.f1_score(y, decided, average="macro", zero_division=0)
    assert_allclose(out["macro"]["f1"], macro_f1, rtol=1e-12)
    loss = -np.log(np.where(y == 1, p, 1 - p)).sum(axis=0)
    assert_allclose([r["loss_share"] for r in out["labels"]], loss / loss.sum(), rtol=1e-12)
    named = {f["evidence"]["label"] for f in out["findings"] if f["severity"] in ("high", "medium")}
    assert "c" in named


def test_the_multilabel_api_takes_two_arrays_and_names_labels():
    y, p = multilabel_data(1)
    ml = lossgap.explain_multilabel(y, p, labels=list("vwxyz"))
    single = lossgap.explain(y[:, 2], p[:, 2])
    assert_allclose(ml.evaluation("x").metric("log_loss"), single.metric("log_loss"), rtol=1e-12)
    assert ml.labels == list("vwxyz") and ml.micro.n == y.size


@pytest.mark.parametrize(
    ("y", "p", "match"),
    [
        (
            [[0, 1], [1, 0]],
            [[0.2, 0.7, 0.1], [0.3, 0.4, 0.5]],
            "y_true has shape \\(2, 2\\) but y_prob",
        ),
        ([[0, 2], [1, 0]], [[0.2, 0.7], [0.3, 0.4]], "label '1' holds 2 at row 0"),
        ([0, 1], [0.2, 0.7], "y_true has shape \\(2,\\): pass an \\(n, L\\) array"),
    ],
)
def test_bad_multilabel_input_is_one_clear_error(y, p, match):
    with pytest.raises(lossgap.InputError, match=match):
        lossgap.explain_multilabel(y, p)


def test_the_report_has_a_per_class_and_a_slices_section(rng):
    from lossgap.render.html import explain_report

    y, prob = random_multiclass(rng, 600, 4)
    site = np.array(["<b>x</b>", "y"])[rng.integers(0, 2, len(y))]
    ev = lossgap.explain(y, prob, groups={"site": site})
    page = explain_report(ev).html()
    assert 'id="per-class"' in page and 'id="slices"' in page
    assert page.count('class="reliability"') == 4  # one diagram per class
    assert page.count('<td class="num" style="background: rgba(') == 16  # the 4 x 4 matrix
    assert "<b>x</b>" not in page and "&lt;b&gt;x&lt;/b&gt;" in page
    binary = explain_report(lossgap.explain([0, 1, 1, 0], [0.2, 0.7, 0.6, 0.4])).html()
    assert 'id="per-class"' not in binary and 'id="slices"' not in binary


def test_full_shows_the_tables_within_80_columns(tmp_path):
    y, prob = swapped(1, n=2000)
    group = np.array(["a-rather-long-scanner-name-" + str(i) for i in range(3)])[y % 3]
    path = tmp_path / "m.parquet"
    columns = {"y": y, "scanner": group} | {f"p_{c}": prob[:, c] for c in range(10)}
    pq.write_table(pa.table(columns), path)
    result = runner.invoke(
        app, ["explain", str(path), "--by", "scanner", "--full"], env={"COLUMNS": "80"}
    )
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert "Per class (most loss first)" in text and "Confusion pairs" in text
    assert "Slices (most loss first)" in text and "3 -> 7" in text
    assert max(len(line) for line in text.splitlines()) <= 80
    short = runner.invoke(app, ["explain", str(path), "--by", "scanner"], env={"COLUMNS": "80"})
    assert short.exit_code == 0 and "Per class (most loss first)" not in short.stdout

"""Label errors: confident learning against cleanlab, the chance test against simulation.

References: cleanlab's ``find_label_issues`` and ``compute_confident_joint`` (the same sets
and counts, unweighted), a brute-force chance, labels drawn from the probabilities (the
test's null), scikit-learn's bundled data with 5% of the labels flipped
(``benchmarks/label_errors.py`` prints the full table), and the candidates as computed
before they became columns (``tests/helpers/label_errors_reference.py``: every row in
content order, full sorts, the chance matrix).
"""

from __future__ import annotations

import warnings
from dataclasses import asdict

import numpy as np
import pytest
from scipy.special import expit, softmax

from lossgap import InputError, Predictions
from lossgap.core.label_errors import (
    TOLERANCE,
    _sample_test,
    candidates,
    chance_matrix,
    confident_joint,
    confident_thresholds,
    find_label_issues,
    label_chance,
    label_errors,
)
from lossgap.core.rows import subset
from lossgap.core.tally import Tally
from lossgap.core.uncertainty import effective_scale
from lossgap.explanation import evaluate_predictions
from tests.helpers import label_errors_reference as reference
from tests.helpers.data import FLIP_DATASETS, FLIP_MODELS, flipped_labels

cleanlab_filter = pytest.importorskip("cleanlab.filter")
cleanlab_count = pytest.importorskip("cleanlab.count")


def random_case(rng: np.random.Generator):
    """Labels and probabilities of every shape confident learning meets: 2 to 7 classes,
    peaked or flat rows, tied probabilities, classes with one sample or none."""
    n, k = int(rng.integers(5, 300)), int(rng.integers(2, 8))
    prob = rng.dirichlet(np.full(k, rng.choice([0.1, 0.5, 2.0])), n)
    if rng.uniform() < 0.4:  # ties, as a forest's votes or rounded outputs give
        prob = np.round(prob, 1) + 1e-3
        prob /= prob.sum(axis=1, keepdims=True)
    labels = rng.integers(0, k, n)
    if rng.uniform() < 0.3:  # a class nobody is labelled with
        labels = np.minimum(labels, k - 2)
    return labels, prob


def cleanlab_issues(labels, prob):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cleanlab_filter.find_label_issues(labels, prob, n_jobs=1)


def test_confident_learning_equals_cleanlab_on_random_inputs():
    rng = np.random.default_rng(0)
    for _ in range(150):
        labels, prob = random_case(rng)
        expected = cleanlab_count.compute_confident_joint(labels, prob)
        np.testing.assert_array_equal(confident_joint(labels, prob), expected)
        np.testing.assert_array_equal(
            find_label_issues(labels, prob), cleanlab_issues(labels, prob)
        )


def test_weights_are_importance_weights():
    rng = np.random.default_rng(1)
    for _ in range(40):
        labels, prob = random_case(rng)
        plain = find_label_issues(labels, prob)
        np.testing.assert_array_equal(
            find_label_issues(labels, prob, sample_weight=np.ones(len(labels))), plain
        )
        weight = rng.uniform(0.2, 3.0, len(labels))
        np.testing.assert_array_equal(
            find_label_issues(labels, prob, sample_weight=5 * weight),
            find_label_issues(labels, prob, sample_weight=weight),
        )
        # a zero weight leaves the sample out: the rest is flagged as without it
        weight = np.ones(len(labels))
        weight[0] = 0.0
        flagged = find_label_issues(labels, prob, sample_weight=weight)
        assert not flagged[0]
        np.testing.assert_array_equal(flagged[1:], find_label_issues(labels[1:], prob[1:]))


@pytest.mark.parametrize("cells", [1 << 18, 37])  # one block; blocks of 7 rows and a rest
def test_chance_equals_its_definition(monkeypatch, cells):
    import lossgap.core.label_errors as module

    monkeypatch.setattr(module, "BLOCK_CELLS", cells)
    rng = np.random.default_rng(2)
    prob = np.round(rng.dirichlet(np.full(5, 0.7), 200), 1) + 1e-3
    prob /= prob.sum(axis=1, keepdims=True)
    chance = chance_matrix(prob)
    for i in range(len(prob)):
        for c in range(5):
            assert chance[i, c] == pytest.approx(prob[i][prob[i] <= prob[i, c]].sum(), abs=1e-12)
    labels = rng.integers(0, 5, 200)
    np.testing.assert_allclose(label_chance(labels, prob), chance[np.arange(200), labels])


def test_chance_is_a_p_value_and_its_expected_count_is_exact():
    # labels drawn from the probabilities: a chance <= a occurs at most a of the time, and
    # the count of such labels averages the closed-form expectation
    rng = np.random.default_rng(3)
    prob = softmax(rng.normal(0.0, 2.0, (400, 6)), axis=1)
    flagged = chance_matrix(prob) <= 0.05
    expected = float((prob * flagged).sum())
    counts = []
    for _ in range(400):
        labels = (rng.uniform(size=(400, 1)) > np.cumsum(prob, axis=1)).sum(axis=1)
        counts.append(flagged[np.arange(400), np.minimum(labels, 5)].sum())
    assert expected <= 0.05 * 400
    se = np.std(counts) / np.sqrt(len(counts))
    assert abs(np.mean(counts) - expected) < 4 * se


def test_binary_test_is_the_same_from_the_tables():
    rng = np.random.default_rng(4)
    t = rng.normal(0.0, 3.0, 3000)
    labels = (rng.uniform(size=3000) < expit(t)).astype(int)
    labels[:40] = 1 - labels[:40]
    pred = Predictions(labels, expit(t), sample_weight=rng.uniform(0.5, 2.0, 3000))
    tally = Tally.from_predictions(pred)
    samples = _sample_test(pred, 0.01, effective_scale(tally))
    tables = label_errors(tally)
    assert tables.method == "per sample" and tables.candidates is None
    assert len(label_errors(tally, pred).candidates) > 0
    for key in ("count", "expected_if_calibrated", "p_value"):
        assert samples[key] == pytest.approx(getattr(tables, key), rel=1e-9, abs=1e-12)
    loss = (samples["loss"] - samples["expected_loss"]) / tally.weight
    assert loss == pytest.approx(tables.loss_beyond_chance, rel=1e-9)


@pytest.mark.parametrize("weighted", [False, True])
def test_the_kernel_flags_the_cells_numpy_flags_and_sums_them_within_totals_rtol(
    monkeypatch, weighted
):
    # the numba pass against its numpy twin (the chance matrix): with every label set to
    # class c in turn, the count is the column's flagged cells, which must agree exactly;
    # the sums within TOTALS_RTOL (another order of additions). Ties, exact zeros, cells
    # at the cut, and many classes (past the kernel's sorting networks and insertion sort)
    import lossgap.core.predictions as module
    from lossgap.core.binning import TOTALS_RTOL, kernel_module

    pytest.importorskip("numba")
    assert kernel_module("multiclass_kernels") is not None
    rng = np.random.default_rng(11)
    cases = [random_case(rng) for _ in range(30)]
    for k in (12, 20, 40, 120):  # most cells below the cut: by insertion, then numpy's sort
        prob = rng.dirichlet(np.full(k, 0.3), 300)
        cases.append((rng.integers(0, k, 300), prob))
    prob = np.array([[0.005, 0.005, 0.99], [0.0, 0.01, 0.99], [0.01, 0.0, 0.99], [0.2, 0.3, 0.5]])
    cases.append((np.array([0, 1, 2, 0]), prob))
    # chances within the rounding to 12 digits of the cut: flagged when they round to it
    low = np.array([0.01 + 3e-13, 0.01 + 7e-13, 0.01 - 3e-13, 0.01 - 7e-13, 0.01 + 4e-13])
    prob = np.column_stack([low, np.full(5, 0.3), 0.69 - low + 0.01])
    prob[4, :2] = [0.004, 0.006 + 4e-13]
    prob[4, 2] = 1.0 - prob[4, :2].sum()
    cases.append((np.array([0, 0, 0, 0, 1]), prob))
    for labels, prob in cases:
        n, k = prob.shape
        weight = rng.uniform(0.0, 3.0, n) if weighted else None
        for c in {0, k - 1, int(labels[0])}:
            for test_labels in (labels, np.full(n, c)):
                pred = Predictions(test_labels, prob, classes=list(range(k)), sample_weight=weight)
                monkeypatch.setattr(module, "KERNEL_MIN_CELLS", 1)
                kernel = _sample_test(pred, 0.01, 1.0)
                monkeypatch.setattr(module, "KERNEL_MIN_CELLS", 1 << 62)
                twin = _sample_test(pred, 0.01, 1.0)
                for key, value in twin.items():
                    if key == "count" and not weighted:
                        assert kernel[key] == value
                    else:
                        assert kernel[key] == pytest.approx(value, rel=TOTALS_RTOL, abs=1e-300)


def test_multiclass_without_samples_falls_back_to_the_class_columns():
    # a streamed or Spark tally has no rows: each class column's cells at probability <= 1%
    # are tested, a superset of the labels of chance <= 1%
    rng = np.random.default_rng(6)
    prob = softmax(rng.normal(0.0, 3.0, (2000, 5)), axis=1)
    labels = (rng.uniform(size=(2000, 1)) > np.cumsum(prob, axis=1)).sum(axis=1)
    labels = np.minimum(labels, 4)
    pred = Predictions(labels, prob, classes=list(range(5)))
    tally = Tally.from_predictions(pred)
    columns, samples = label_errors(tally), label_errors(tally, pred)
    assert (columns.method, samples.method) == ("class columns", "per sample")
    assert columns.candidates is None
    given = prob[np.arange(2000), labels]
    assert columns.count == (given <= 0.01).sum() >= samples.count
    assert columns.expected_if_calibrated == pytest.approx(prob[prob <= 0.01].sum())
    assert columns.expected_if_calibrated >= samples.expected_if_calibrated


def test_the_test_reads_the_weights_through_their_effective_count():
    rng = np.random.default_rng(5)
    logits = rng.normal(0.0, 2.0, (800, 4))
    labels = rng.integers(0, 4, 800)
    weight = rng.uniform(0.5, 2.0, 800)
    facts = [
        label_errors(Tally.from_predictions(pred), pred)
        for pred in (
            Predictions(labels, logits, from_logits=True, sample_weight=c * weight)
            for c in (1.0, 5.0)
        )
    ]
    for key in ("p_value", "effective_count", "loss_beyond_chance"):
        assert getattr(facts[1], key) == pytest.approx(getattr(facts[0], key), rel=1e-9)
    assert facts[1].candidates == facts[0].candidates


def test_bad_shapes_are_one_input_error():
    with pytest.raises(InputError, match="one label per row"):
        find_label_issues([0, 1, 1], [[0.5, 0.5], [0.2, 0.8]])
    with pytest.raises(InputError, match="class indices in 0..1"):
        find_label_issues([0, 2], [[0.5, 0.5], [0.2, 0.8]])


# -- the finding -------------------------------------------------------------------------------


def finding(ev):
    return next((f for f in ev.findings if f.code == "possible_label_errors"), None)


def evaluate(labels, prob, **options):
    score = prob[:, 1] if prob.shape[1] == 2 else prob
    pred = Predictions(labels, score, classes=list(range(prob.shape[1])), **options)
    return evaluate_predictions(pred, detail="summary")


def recall_precision(chosen: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    hit = (chosen & truth).sum()
    return hit / truth.sum(), hit / chosen.sum()


@pytest.mark.slow
def test_recall_of_cleanlab_at_no_worse_precision_on_flipped_real_data():
    # 5% of the labels flipped in digits, breast cancer and wine, out-of-fold probabilities
    # of a logistic regression and a random forest, two seeds each: the listed candidates
    # reach cleanlab's recall (within 0.05) at no worse precision, and the finding fires
    # where the flips are many (digits: the forest's small wrong-class probabilities too)
    for name in FLIP_DATASETS:
        for model in FLIP_MODELS:
            ours, theirs = [], []
            for seed in range(2):
                labels, prob, truth = flipped_labels(name, model, seed)
                ev = evaluate(labels, prob)
                # the list explain shows once the test finds more unlikely labels than chance
                listed = candidates(Predictions(labels, prob, classes=list(range(prob.shape[1]))))
                chosen = np.zeros(len(labels), dtype=bool)
                chosen[[c.id for c in listed]] = True
                ours.append(recall_precision(chosen, truth))
                theirs.append(recall_precision(cleanlab_issues(labels, prob), truth))
                scores = [c.chance for c in listed]
                assert scores == sorted(scores)
                if name != "digits":
                    continue
                found = finding(ev)
                assert found is not None and found.severity == "high", (model, seed)
                json_listed = ev.to_dict()["diagnostics"]["label_errors"]["candidates"]
                assert json_listed == [asdict(c) for c in listed]
                assert len(listed) > 20
                assert 0 < found.evidence["count"] <= found.evidence["observed"]
                if model == "forest":  # each label at probability <= 0.01 is a flip
                    given = prob[np.arange(len(labels)), labels]
                    assert truth[given <= 0.01].all()
                    # those at 0 are listed, though confident learning misses some
                    assert chosen[given == 0].all()
            recall, precision = np.mean(ours, axis=0)
            their_recall, their_precision = np.mean(theirs, axis=0)
            assert recall >= their_recall - 0.05, (name, model)
            assert precision >= their_precision - 1e-12, (name, model)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["binary", "rare", "k=3", "k=10"])
def test_silent_on_calibrated_data_without_flips(kind):
    # labels drawn from the model's own probabilities: the finding fires in at most 5% of
    # datasets (measured: none in 100 per cell, benchmarks/label_errors.py)
    fired = 0
    for seed in range(40):
        rng = np.random.default_rng([seed, 7])
        if kind in ("binary", "rare"):
            t = rng.normal(-3.37 if kind == "rare" else 0.0, 2.0, 1000)
            labels = (rng.uniform(size=1000) < expit(t)).astype(int)
            prob = np.column_stack([1 - expit(t), expit(t)])
        else:
            k = int(kind[2:])
            prob = softmax(rng.normal(0.0, 2.0, (1000, k)), axis=1)
            labels = (rng.uniform(size=(1000, 1)) > np.cumsum(prob, axis=1)).sum(axis=1)
            labels = np.minimum(labels, k - 1)
        fired += finding(evaluate(labels, prob)) is not None
    assert fired <= 2  # 5% of 40


def test_the_finding_names_the_labels_beyond_chance():
    rng = np.random.default_rng(8)
    t = rng.normal(0.0, 3.0, 4000)
    labels = (rng.uniform(size=4000) < expit(t)).astype(int)
    sure = np.flatnonzero(np.abs(t) > 6)[:30]  # flips the model is sure of
    labels[sure] = (t[sure] < 0).astype(int)
    ev = evaluate(labels, np.column_stack([1 - expit(t), expit(t)]))
    found = finding(ev)
    assert found is not None
    facts = ev.diagnostics.label_errors
    assert found.evidence["count"] == pytest.approx(facts.count - facts.expected_if_calibrated)
    assert 25 <= found.evidence["count"] <= 31
    assert set(sure) <= {c.id for c in facts.candidates}
    # weights scaled by 5: the same verdict
    scaled = evaluate(
        labels, np.column_stack([1 - expit(t), expit(t)]), sample_weight=np.full(4000, 5.0)
    )
    assert finding(scaled).severity == found.severity


# -- the candidates against the full-sort reference ----------------------------------------------


def candidate_case(rng: np.random.Generator, n: int, k: int, *, ties: bool, weighted: bool):
    """Labels drawn from blurrier probabilities than the model's (an overconfident model:
    many candidates), distinct ids; with ``ties``, probabilities rounded to one decimal
    (many equal margins)."""
    logits = rng.normal(0.0, 2.0, (n, k))
    truth = softmax(0.4 * logits, axis=1)
    labels = (rng.uniform(size=(n, 1)) > np.cumsum(truth, axis=1)).sum(axis=1)
    labels = np.minimum(labels, k - 1)
    prob = softmax(logits, axis=1)
    if ties:
        prob = np.round(prob, 1) + 1e-3
        prob /= prob.sum(axis=1, keepdims=True)
    weight = rng.uniform(0.2, 3.0, n) if weighted else None
    score = prob[:, 1] if k == 2 else prob
    ids = rng.permutation(n) * 3
    return Predictions(labels, score, classes=list(range(k)), sample_weight=weight, ids=ids)


def assert_same_candidates(found, expected: list[tuple], pred: Predictions) -> None:
    """Every column in the same order. Rows equal in all but their id are interchangeable
    (the reference's full sort orders them as it happens to), so ids are checked against
    their rows where such rows exist, exactly otherwise."""
    rows = [tuple(asdict(c).values()) for c in found]
    assert [r[1:] for r in rows] == [e[1:] for e in expected]
    content = np.column_stack([pred.y, pred.class_prob])
    if len(np.unique(content, axis=0)) == len(pred) or pred.sample_weight is not None:
        assert [r[0] for r in rows] == [e[0] for e in expected]
        return
    where = {i: r for r, i in enumerate(pred.ids.tolist())}
    for r in rows:
        at = where[r[0]]
        assert (pred.y[at], pred.class_prob[at, pred.y[at]]) == (r[1], r[3])


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ties", [False, True])
def test_candidates_equal_the_full_sort_reference(ties, weighted):
    # 2 to 12 classes (a column at a time up to 8, row-wise beyond), up to 20,000 rows (past
    # the size where the partition first cuts the margins at a sample's quantile): the same
    # candidates, in the same order
    rng = np.random.default_rng([12, ties, weighted])
    cases = [(40, 2), (300, 2), (300, 3), (2000, 5), (1500, 12), (20_000, 2), (20_000, 3)]
    for n, k in cases:
        pred = candidate_case(rng, n, k, ties=ties, weighted=weighted)
        found = candidates(pred)
        expected = reference.candidates(pred)
        assert len(found) == len(expected) > 0
        assert_same_candidates(found, expected, pred)


def test_candidates_do_not_depend_on_the_row_order():
    rng = np.random.default_rng(13)
    for ties in (False, True):
        pred = candidate_case(rng, 5000, 3, ties=ties, weighted=False)
        shuffled = subset(pred, rng.permutation(len(pred)))
        a, b = candidates(pred), candidates(shuffled)
        if ties:  # interchangeable rows: the same content in the same order
            assert_same_candidates(b, [tuple(asdict(c).values()) for c in a], shuffled)
        else:
            assert a == b


def test_only_the_rows_that_need_it_are_put_in_content_order(monkeypatch):
    # unweighted, untied rows: the candidates come without ordering the million-row whole
    import lossgap.core.label_errors as module

    ordered = []
    original = module.in_content_order
    monkeypatch.setattr(module, "in_content_order", lambda p: ordered.append(p) or original(p))
    pred = candidate_case(np.random.default_rng(14), 20_000, 2, ties=False, weighted=False)
    assert len(candidates(pred)) > 0 and not ordered
    # a probability exactly at a class's cut: a sum in another row order could move the cut
    # past it, so the rows are put in content order first; the answer is the reference's
    y, p = pred.y, pred.prob.copy()
    threshold = confident_thresholds(y, pred.class_prob)[1]
    p[np.flatnonzero(y == 0)[0]] = threshold - TOLERANCE  # leaves class 1's threshold as is
    edge = Predictions(y, p, ids=pred.ids)
    assert_same_candidates(candidates(edge), reference.candidates(edge), edge)
    assert ordered


def test_binary_chance_is_the_chance_matrix_bit_for_bit():
    rng = np.random.default_rng(15)
    p = np.concatenate([rng.uniform(size=2000), [0.5, 0.0, 1.0, 0.3, 0.7]])
    prob = np.column_stack([1.0 - p, p])
    labels = rng.integers(0, 2, len(p))
    expected = chance_matrix(prob)[np.arange(len(p)), labels]
    np.testing.assert_array_equal(label_chance(labels, prob), expected)
    np.testing.assert_array_equal(
        expected, reference.chance_matrix(prob)[np.arange(len(p)), labels]
    )


def test_find_label_issues_equals_the_full_sort_reference_with_weights():
    rng = np.random.default_rng(16)
    for _ in range(40):
        labels, prob = random_case(rng)
        weight = rng.uniform(0.2, 3.0, len(labels)) * (rng.uniform(size=len(labels)) > 0.1)
        np.testing.assert_array_equal(
            find_label_issues(labels, prob, sample_weight=weight),
            reference.find_label_issues(labels, prob, weight),
        )


def test_the_partition_keeps_the_largest_margins_a_sort_keeps():
    # any size (a sample's quantile cuts the margins first past 6,400), any count; None
    # exactly when the margin at the count ties with the next
    from lossgap.core.label_errors import _largest, _sorted_largest

    rng = np.random.default_rng(17)
    for _ in range(60):
        n = int(rng.choice([2, 30, 7000, 50_000]))
        margin = rng.normal(size=n)
        if rng.uniform() < 0.3:
            margin = np.round(margin, 1)
        count = float(rng.integers(1, n + 1))
        chosen = _largest(margin, count)
        by_sort = _sorted_largest(margin, None, count)
        m = len(by_sort)
        tied = m < n and np.sort(margin)[::-1][m - 1] == np.sort(margin)[::-1][m]
        if tied:
            assert chosen is None
        else:
            assert chosen is not None
            assert sorted(chosen.tolist()) == sorted(by_sort.tolist())


def test_the_kernels_sorting_networks_sort_every_input():
    # the 0/1 principle: a network of compare-exchanges that sorts every 0/1 input sorts
    # every input
    kernels = pytest.importorskip("lossgap.core.multiclass_kernels")
    starts, pairs = kernels._NETWORK_STARTS, kernels._NETWORK_PAIRS
    for m in range(2, kernels._NETWORK_MAX + 1):
        values = (np.arange(1 << m)[:, None] >> np.arange(m)) & 1
        for a, b in pairs[starts[m] : starts[m + 1]]:
            values[:, [a, b]] = np.sort(values[:, [a, b]], axis=1)
        assert np.array_equal(values, np.sort(values, axis=1)), m


def test_short_rows_round_to_the_numpy_paths_doubles():
    """_round_preserving_sum's Python path for rows of fewer than 8 values gives the numpy
    reference's doubles (zeros' signs, halves to even, rows that move included)."""
    from lossgap.core.label_errors import _round_preserving_sum
    from tests.helpers.label_errors_reference import _round_preserving_sum as reference

    rng = np.random.default_rng(5)
    for trial in range(20_000):
        k = int(rng.integers(1, 10))
        values = [
            rng.uniform(-2.0, 50.0, k),
            np.round(rng.uniform(0.0, 20.0, k) * 2) / 2,
            rng.integers(0, 30, k) + rng.choice([0.5, 0.49999999999, 0.3, -0.3, 0.0, -0.0], k),
            rng.uniform(0.0, 1.0, k) * rng.choice([1.0, 1e3, 1e6]),
        ][trial % 4]
        ours, theirs = _round_preserving_sum(values.copy()), reference(values.copy())
        assert ours.dtype == theirs.dtype
        np.testing.assert_array_equal(ours.view(np.int64), theirs.view(np.int64))

"""The sort-free binning: the numba kernel and its numpy twin give the same bins bit for bit
and the same totals to the order of additions, and both equal the sorting path to the order
of additions."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

import lossgap.core.binning as binning
from lossgap import Predictions, Tally
from lossgap.core.tally import ScoreTable, bin_keys
from tests.helpers.tables import assert_same_bins

EDGES = [0.0, -0.0, 1.0, 1e-30, 2.0**-64, 2.0**-65, 1 - 2.0**-53, 0.5, 0.5 + 2**-53, 0.25]


def _scores(seed: int, n: int = 50_000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    s = 1 / (1 + np.exp(-rng.normal(0.0, 4.0, n)))
    s[: len(EDGES)] = EDGES
    s[len(EDGES) : 2 * len(EDGES)] = 0.3  # ties
    y = (rng.random(n) < s).astype(np.int64)
    w = rng.uniform(0.0, 3.0, n)
    w[:7] = 0.0
    return s, y, w


@pytest.fixture
def numpy_only(monkeypatch):
    monkeypatch.setenv("LOSSGAP_NUMBA", "0")
    binning._compiled.cache_clear()
    yield
    binning._compiled.cache_clear()


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("seed", range(3))
def test_kernel_and_numpy_give_identical_bins(seed, weighted, monkeypatch):
    pytest.importorskip("numba")
    s, y, w = _scores(seed)
    weights = w if weighted else None
    if seed == 2:  # the kernel bins a batch in chunks of rows, outside rows in several
        monkeypatch.setattr(binning, "_CHUNK_ROWS", 7001)
        s[[20_000, 49_999]] = [1.0, 2.0**-70]
    binning._compiled.cache_clear()
    assert binning.compiled_available()
    compiled, outside_c = binning.dense_bins(s, y, weights, 11, bin_keys)
    again, _ = binning.dense_bins(s, y, weights, 11, bin_keys)  # the reused buffer starts clean
    monkeypatch.setenv("LOSSGAP_NUMBA", "0")
    binning._compiled.cache_clear()
    try:
        plain, outside_n = binning.dense_bins(s, y, weights, 11, bin_keys)
    finally:
        binning._compiled.cache_clear()
    assert np.array_equal(outside_c, outside_n)
    for name, values in plain.items():
        assert np.array_equal(compiled[name], values), name
        assert np.array_equal(again[name], values), name


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("bits", [5, 11, 14])
def test_unsorted_binning_equals_the_sorting_path(bits, weighted):
    s, y, w = _scores(bits)
    weights = w if weighted else None
    fast = ScoreTable.from_samples(s, y, weights, bin_bits=bits, binned=True)
    sorted_ = ScoreTable.from_samples(s, y, weights, bin_bits=bits, max_distinct=10**9).compress()
    assert_same_bins(fast, sorted_, exact_weights=not weighted)  # counts: exact


def test_scores_outside_the_dense_range_are_found():
    s = np.array([0.0, 2.0**-70, 0.2, 1.0 - 2.0**-53, 1.0, 2.0**-64])
    _, outside = binning.dense_bins(s, np.array([0, 1, 0, 1, 1, 0]), None, 11, bin_keys)
    assert outside.tolist() == [0, 1, 4]
    low, high = binning.dense_range(11)
    keys = bin_keys(np.array([2.0**-64, 1.0 - 2.0**-53, 1.0]), 11)
    assert keys[0] == low and keys[1] <= high < keys[2]


def test_the_numpy_twin_serves_without_numba(numpy_only):
    assert not binning.compiled_available()
    s, y, w = _scores(7)
    fast = ScoreTable.from_samples(s, y, w, binned=True)
    sorted_ = ScoreTable.from_samples(s, y, w, max_distinct=10**9).compress()
    assert np.array_equal(fast.bins, sorted_.bins)
    assert_allclose(fast.weights, sorted_.weights, rtol=1e-12, atol=1e-12)


def test_a_binned_batch_merges_like_the_whole():
    """A Tally streamed in binned batches equals the Tally of all samples, compressed."""
    s, y, _ = _scores(11, 60_000)
    whole = Tally.from_predictions(Predictions(y, s), max_distinct=1000)
    parts = [
        Tally.from_predictions(Predictions(y[i : i + 20_000], s[i : i + 20_000]), binned=[True])
        for i in range(0, 60_000, 20_000)
    ]
    merged = parts[0].merge(parts[1]).merge(parts[2])
    a, b = whole.tables[0], merged.tables[0]
    assert np.array_equal(a.bins, b.bins) and np.array_equal(a.weights, b.weights)
    assert_allclose(a.score_sum, b.score_sum, rtol=1e-12)


def _binary_batch(s, y, w, top=100, distinct_above=0):
    pred = Predictions(y, s, sample_weight=w)
    with np.errstate(divide="ignore"):
        loss = -np.log(np.where(pred.y == 1, pred.prob, 1.0 - pred.prob))
    return binning.binary_batch(
        pred.prob,
        pred.y,
        w,
        loss,
        threshold=0.5,
        clip=34.5,
        bits=11,
        top=top,
        keys_of=bin_keys,
        distinct_above=distinct_above,
    )


def _both_paths(monkeypatch, compute):
    """``compute()`` with the numba kernels, then with numpy."""
    pytest.importorskip("numba")
    binning._compiled.cache_clear()
    assert binning.compiled_available()
    compiled = compute()
    monkeypatch.setenv("LOSSGAP_NUMBA", "0")
    binning._compiled.cache_clear()
    try:
        plain = compute()
    finally:
        binning._compiled.cache_clear()
        monkeypatch.delenv("LOSSGAP_NUMBA")
    return compiled, plain


def _assert_same_totals(a, b, weighted):
    """Totals to TOTALS_RTOL (the kernel adds in SIMD lanes); counts of unweighted rows
    (integers) exactly."""
    exact = ("infinite_count",) + (() if weighted else ("weight", "weight_sq", "infinite_weight"))
    sums_a = a.sums() if callable(getattr(a, "sums", None)) else a.sums
    sums_b = b.sums() if callable(getattr(b, "sums", None)) else b.sums
    for name in binning.BINARY_SUMS:
        if name in exact:
            assert sums_a[name] == sums_b[name], name
        else:
            assert_allclose(sums_a[name], sums_b[name], rtol=binning.TOTALS_RTOL, err_msg=name)
    if weighted:
        assert_allclose(a.cells, b.cells, rtol=binning.TOTALS_RTOL)
    else:
        assert np.array_equal(a.cells[:, 0], b.cells[:, 0])  # counts
        assert_allclose(a.cells[:, 1], b.cells[:, 1], rtol=binning.TOTALS_RTOL)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("seed", range(3))
def test_binary_kernel_and_numpy_give_the_same_bins_and_sums(seed, weighted, monkeypatch):
    """One pass gathers the bins and every sum: the numpy twin gives the same bins bit for
    bit, the totals to the order of additions."""
    s, y, w = _scores(seed)
    y[len(EDGES) : len(EDGES) + 2] = [1, 0]
    s[len(EDGES) : len(EDGES) + 2] = [0.0, 1.0]  # two infinite losses
    weights = w if weighted else None
    compiled, plain = _both_paths(monkeypatch, lambda: _binary_batch(s, y, weights))
    _assert_same_totals(compiled, plain, weighted)
    assert compiled.sums["infinite_count"] == (2.0 if not weighted or w[10] > 0 else 1.0)
    assert np.array_equal(compiled.outside, plain.outside)
    for name, values in plain.table.items():
        assert np.array_equal(compiled.table[name], values), name
    # the candidates hold every row at or above the 100th largest finite-or-not loss
    with np.errstate(divide="ignore"):
        loss = -np.log(np.where(y == 1, s, 1.0 - s))
    cut = np.sort(loss)[-100]
    for candidates in (compiled.candidates, plain.candidates):
        assert set(np.flatnonzero(loss >= cut)) <= set(candidates.tolist())


@pytest.mark.parametrize("weighted", [False, True])
def test_bins_added_batch_after_batch_are_the_bins_of_the_whole(weighted, monkeypatch):
    """BinaryBins adds each batch onto the bins in row order: three batches give the
    bins of their concatenation bit for bit (the per-bin sums too), with numba and with
    numpy alike, and the totals of the whole to the order of additions."""
    s, y, w = _scores(17, 60_000)
    with np.errstate(divide="ignore"):
        loss = -np.log(np.where(y == 1, s, 1.0 - s))
    weights = w if weighted else None
    options = {"threshold": 0.5, "clip": 34.5, "top": 20}

    def in_batches():
        bins = binning.BinaryBins(11, weighted=weighted, keys_of=bin_keys)
        outside = []
        for start in range(0, len(s), 20_000):
            rows = slice(start, start + 20_000)
            part = None if weights is None else weights[rows]
            _, out = bins.add(s[rows], y[rows], part, loss[rows], **options)
            outside.append(out + start)
        return bins, bins.read(), np.concatenate(outside)

    (compiled, table_c, out_c), (plain, table_n, out_n) = _both_paths(monkeypatch, in_batches)
    whole = _binary_batch(s, y, weights, top=20)
    for table in (table_c, table_n):
        for name, values in whole.table.items():
            assert np.array_equal(table[name], values), name
    assert np.array_equal(out_c, whole.outside) and np.array_equal(out_n, whole.outside)
    _assert_same_totals(compiled, plain, weighted)
    for name in binning.BINARY_SUMS:
        assert_allclose(compiled.sums()[name], whole.sums[name], rtol=binning.TOTALS_RTOL)


def test_coded_log_loss_checks_and_codes_labels_as_numpy_does(monkeypatch):
    s, y, _ = _scores(3, 5000)
    labels = np.where(y == 1, 7, -2)
    expected = -np.log(np.where(y == 1, s, 1.0 - s).clip(1e-300))

    def run(scores, raw, codes=True):
        out = np.empty(len(scores))
        buffer = np.empty(len(scores), np.int64) if codes else None
        with np.errstate(divide="ignore"):
            loss, coded, bad = binning.coded_log_loss(scores, raw, -2, 7, out, buffer)
        return loss.copy(), np.asarray(coded).copy(), bad

    bad_s, bad_y = s.copy(), labels.copy()
    bad_s[[5, 9]] = [np.nan, 1.5]
    bad_y[11] = 3
    for compiled, plain in (
        _both_paths(monkeypatch, lambda: run(s, labels)),
        _both_paths(monkeypatch, lambda: run(bad_s, bad_y)),
    ):
        assert compiled[2] == plain[2]
        if not compiled[2]:
            assert np.array_equal(compiled[0], plain[0]) and np.array_equal(compiled[1], plain[1])
            assert np.array_equal(compiled[1], y)
            inside = (s > 0) & (s < 1)
            assert_allclose(compiled[0][inside], expected[inside], rtol=1e-15)
    assert _both_paths(monkeypatch, lambda: run(bad_s, bad_y))[0][2] == 3


def test_the_true_class_probability_of_codes_is_numpys_masked_copy(monkeypatch):
    # the compiled select and the numpy twin: the same doubles, p or 1 - p by the label
    from lossgap.core.losses import true_class_prob

    s, y, _ = _scores(4)
    compiled, plain = _both_paths(
        monkeypatch, lambda: binning.binary_true_prob_of_codes(s, y, np.empty(len(s)))
    )
    expected = np.where(y == 1, s, 1.0 - s)
    assert np.array_equal(compiled, expected) and np.array_equal(plain, expected)
    pred = Predictions(y, s)
    assert np.array_equal(true_class_prob(pred), expected)


def test_a_tally_built_in_a_fresh_process_does_not_load_numba():
    # the compiled select serves once numba is loaded; it does not load it (0.5 s)
    import subprocess
    import sys

    code = (
        "import sys, numpy as np; from lossgap import Predictions, Tally; "
        "Tally.from_predictions(Predictions(np.array([0, 1, 1]), np.array([0.2, 0.6, 0.9]))); "
        "print('numba' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_ties_that_overflow_the_candidates_fall_back_to_every_row():
    # 10,000 positives at 0.3 share the highest loss: they fill any buffer of candidates
    s = np.full(20_000, 0.3)
    y = np.arange(20_000) % 2
    if binning.compiled_available():
        assert _binary_batch(s, y, None).candidates is None
    tally = Tally.from_predictions(Predictions(y, s), binned=[True], top=100)
    assert tally.worst.ids.tolist() == list(range(1, 200, 2))  # ties go to the lower id


@pytest.mark.parametrize("weighted", [False, True])
def test_a_binned_binary_batch_is_the_tally_of_its_samples(weighted):
    """The one-pass Tally equals the general kernel's (sums to the order of additions)."""
    s, y, w = _scores(21, 30_000)
    s[:2], y[:2] = [0.0, 1.0], [1, 0]  # infinite losses, one of them weighted 0
    pred = Predictions(y, s, sample_weight=w if weighted else None)
    fast = Tally.from_predictions(pred, binned=[True], top=50)
    general = Tally.from_predictions(pred, max_distinct=10**9, top=50)
    general.tables[0] = general.tables[0].compress()
    for name in ("count", "infinite_count", "infinite_weight"):
        assert getattr(fast, name) == getattr(general, name), name
    for name in ("weight", "weight_sq", "loss_sum", "loss_sq_sum", "clipped_loss_sum", "brier_sum"):
        assert_allclose(getattr(fast, name), getattr(general, name), rtol=1e-12, err_msg=name)
    assert_allclose(fast.confusion, general.confusion, rtol=1e-12)
    assert_allclose(fast.confusion_loss, general.confusion_loss, rtol=1e-12)
    assert_allclose(fast.class_weight, general.class_weight, rtol=1e-12)
    a, b = fast.tables[0], general.tables[0]
    assert np.array_equal(a.bins, b.bins)
    assert_allclose(a.weights, b.weights, rtol=1e-12, atol=1e-12)
    for field in ("loss", "ids", "label", "prob", "predicted"):
        assert np.array_equal(getattr(fast.worst, field), getattr(general.worst, field)), field


@pytest.mark.parametrize("seed", range(4))
def test_the_distinct_floor_never_exceeds_the_distinct_scores(seed, monkeypatch):
    """The hash bound is a lower bound, the kernel's equals numpy's, and it tells apart
    counts a fifth above the cap it is sized for."""
    rng = np.random.default_rng(seed)
    n_distinct = int(rng.integers(1, 6000))
    values = rng.uniform(0.0, 1.0, n_distinct)
    values[: min(3, n_distinct)] = [0.0, -0.0, 1.0][: min(3, n_distinct)]
    s = rng.choice(values, 8000)
    y = (rng.random(len(s)) < s).astype(np.int64)
    truth = len(np.unique(s + 0.0))
    floors = []
    for numba_on in ("1", "0"):
        monkeypatch.setenv("LOSSGAP_NUMBA", numba_on)
        binning._compiled.cache_clear()
        try:
            floors.append(_binary_batch(s, y, None, top=10, distinct_above=1000).distinct_floor)
        finally:
            binning._compiled.cache_clear()
    assert floors[0] == floors[1] == binning.distinct_floor(s, binning._hash_bits(1000))
    monkeypatch.setenv("LOSSGAP_NUMBA", "1")  # the multiclass columns' call: the same count
    assert binning.compiled_distinct_floor(s, binning._hash_bits(1000)) == floors[0]
    binning._compiled.cache_clear()
    assert floors[0] <= truth
    if truth >= 1200:
        assert floors[0] > 1000


@pytest.mark.parametrize("weighted", [False, True])
def test_more_rows_than_the_cap_bin_without_sorting_and_equal_the_sorting_path(
    weighted, monkeypatch
):
    """Past the cap of distinct scores the in-memory Tally comes from the one-pass kernel:
    no sort, and the same Tally as sorting then compressing (up to the order of additions)."""
    rng = np.random.default_rng(3)
    s = 1 / (1 + np.exp(-rng.normal(0.0, 3.0, 20_000)))
    y = (rng.random(len(s)) < s).astype(np.int64)
    w = rng.uniform(0.0, 2.0, len(s)) if weighted else None
    pred = Predictions(y, s, sample_weight=w)
    general = Tally.from_predictions(pred, max_distinct=10**9, top=30)
    general.tables[0] = general.tables[0].compress()

    def no_sort(*args, **kwargs):
        raise AssertionError("sorted the scores")

    monkeypatch.setattr(ScoreTable, "from_samples", no_sort)
    fast = Tally.from_predictions(pred, max_distinct=2000, top=30)
    assert fast.compressed
    for name in ("count", "infinite_count", "infinite_weight"):
        assert getattr(fast, name) == getattr(general, name), name
    for name in ("weight", "weight_sq", "loss_sum", "loss_sq_sum", "clipped_loss_sum", "brier_sum"):
        assert_allclose(getattr(fast, name), getattr(general, name), rtol=1e-12, err_msg=name)
    assert_allclose(fast.confusion_loss, general.confusion_loss, rtol=1e-12)
    assert_same_bins(fast.tables[0], general.tables[0], exact_weights=False)
    for field in ("loss", "ids", "label", "prob", "predicted"):
        assert np.array_equal(getattr(fast.worst, field), getattr(general.worst, field)), field


def test_more_rows_than_the_cap_but_few_distinct_scores_stay_exact():
    # 5,000 rows of 900 distinct scores under a cap of 1,000: the table holds them exactly
    rng = np.random.default_rng(4)
    s = rng.choice(rng.uniform(0.01, 0.99, 900), 5000)
    y = (rng.random(len(s)) < s).astype(np.int64)
    tally = Tally.from_predictions(Predictions(y, s), max_distinct=1000)
    exact = Tally.from_predictions(Predictions(y, s), max_distinct=10**9)
    assert not tally.compressed
    assert np.array_equal(tally.tables[0].scores, exact.tables[0].scores)
    assert np.array_equal(tally.tables[0].weights, exact.tables[0].weights)
    assert tally.loss_sum == exact.loss_sum


def test_the_buffered_loss_is_the_sample_log_loss():
    from lossgap.core.losses import sample_log_loss
    from lossgap.core.tally import binary_loss

    s, y, _ = _scores(5)  # with exact zeros and ones: infinite losses
    inside = (s > 0) & (s < 1)
    logits = np.log(s[inside] / (1 - s[inside]))
    for pred in (Predictions(y, s), Predictions(y[inside], logits, from_logits=True)):
        with np.errstate(divide="ignore"):
            assert np.array_equal(binary_loss(pred), sample_log_loss(pred))
    # a batch's Tally keeps copies: the next batch on this thread overwrites the buffer
    first = Tally.from_predictions(Predictions(y, s), binned=[True], top=5)
    kept = first.worst.loss.copy()
    Tally.from_predictions(Predictions(1 - y, s), binned=[True], top=5)
    assert np.array_equal(first.worst.loss, kept)


@pytest.mark.parametrize("seed", range(4))
def test_merging_bins_by_index_equals_the_sorting_merge(seed, monkeypatch):
    import lossgap.core.tally as tally_module

    rng = np.random.default_rng(seed)
    tables = []
    for scale in (1.0, 4.0):
        s = 1 / (1 + np.exp(-rng.normal(0.0, scale, 5000)))
        y = (rng.random(len(s)) < s).astype(np.int64)
        w = rng.uniform(0.0, 2.0, len(s)) if seed % 2 else None
        tables.append(ScoreTable.from_samples(s, y, w, binned=True))
    fast = tables[0].merge(tables[1])
    monkeypatch.setattr(tally_module, "_merge_bins_by_index", lambda a, b, cap: None)
    sorting = tables[0].merge(tables[1])
    for name in ("bins", "scores", "weights", "low", "high", "score_sum"):
        assert np.array_equal(getattr(fast, name), getattr(sorting, name)), name


@pytest.mark.parametrize("chunk", [1 << 20, 3001])
def test_packed_counts_folded_out_give_the_same_bins(chunk, monkeypatch):
    """Unweighted bins pack rows and positives in one int64 and fold them out into
    doubles before 2^32 rows reach a bin: folding every few thousand rows (between
    batches, and mid-batch) changes no bin, with numba or numpy."""
    s, y, _ = _scores(23, 60_000)
    with np.errstate(divide="ignore"):
        loss = -np.log(np.where(y == 1, s, 1.0 - s))

    def in_batches():
        bins = binning.BinaryBins(11, weighted=False, keys_of=bin_keys)
        for start in range(0, len(s), 20_000):
            rows = slice(start, start + 20_000)
            bins.add(s[rows], y[rows], None, loss[rows], threshold=0.5, clip=34.5, top=5)
        return bins.folded is not None, bins.read()

    unfolded = [table for was_folded, table in _both_paths(monkeypatch, in_batches)]
    monkeypatch.setattr(binning, "_CHUNK_ROWS", chunk)
    monkeypatch.setattr(binning, "_FOLD_ROWS", 7000)
    results = _both_paths(monkeypatch, in_batches)
    assert all(was_folded for was_folded, _ in results)
    folded = [table for _, table in results]
    for table in (*unfolded, *folded):
        for name, values in unfolded[0].items():
            assert np.array_equal(table[name], values), name
    assert unfolded[0]["pos"].sum() == y[(s > 2.0**-64) & (s < 1)].sum()


@pytest.mark.parametrize("weighted", [False, True])
def test_a_read_leaves_the_bins_clean_for_the_next_batches(weighted, monkeypatch):
    """:meth:`BinaryBins.read` (the kernel's ``occupied_bins`` or numpy's) returns the
    occupied bins and empties every bin and the folded counts: a second batch read from
    the same bins gives what fresh bins give it, with numba or numpy."""
    monkeypatch.setattr(binning, "_FOLD_ROWS", 7000)  # folded counts between batches
    s, y, w = _scores(31, 40_000)
    first, second = slice(0, 25_000), slice(25_000, None)

    def read_twice():
        bins = binning.BinaryBins(11, weighted=weighted, keys_of=bin_keys)
        fresh = binning.BinaryBins(11, weighted=weighted, keys_of=bin_keys)
        for part in (first, first):  # the second folds the first's counts out
            bins.bin(s[part], y[part], w[part] if weighted else None)
        bins.read()
        bins.bin(s[second], y[second], w[second] if weighted else None)
        fresh.bin(s[second], y[second], w[second] if weighted else None)
        return bins.read(), fresh.read(), bins.folded is not None or weighted

    for again, fresh, folded in _both_paths(monkeypatch, read_twice):
        assert folded
        for name, values in fresh.items():
            assert np.array_equal(again[name], values), name
    compiled, plain = _both_paths(monkeypatch, read_twice)
    for name, values in plain[0].items():
        assert np.array_equal(compiled[0][name], values), name


def test_the_kernels_logarithm_is_within_one_ulp_of_numpys():
    """The fused pass computes -log q itself (fdlibm's algorithm as selects, so it runs in
    SIMD registers): within 1 ulp of numpy's over the whole range of q, exact at 0 and 1."""
    pytest.importorskip("numba")
    from lossgap.core.binning_kernels import negative_log

    rng = np.random.default_rng(0)
    q = np.concatenate([
        rng.random(200_000),
        1.0 - rng.random(50_000) * 1e-6,  # near certainty: tiny losses
        np.exp(rng.uniform(-745.0, 0.0, 50_000)),  # every binade, subnormals too
        rng.integers(1, 1 << 52, 20_000).view(np.float64),  # subnormals alone
        [0.0, 1.0, 5e-324, 0.5, 2.0**-1022, 1 - 2.0**-53, 0.7071067811865476, 0.7071067811865475],
    ])
    ours = np.array([negative_log(v) for v in q[:2000]])  # the scalar function itself
    with np.errstate(divide="ignore"):
        expected = -np.log(q)
    got = np.empty_like(q)
    binning._compiled()  # the kernels module, compiled
    _negative_logs(q, got)
    assert np.array_equal(got[:2000], ours)
    assert got[-8] == np.inf and got[-7] == 0.0
    finite = np.isfinite(expected)
    ulps = np.abs(got[finite] - expected[finite]) / np.spacing(expected[finite])
    assert ulps.max() <= 1.0


def _negative_logs(q, out):
    import numba

    from lossgap.core.binning_kernels import negative_log

    @numba.njit(error_model="numpy")
    def each(q, out):
        for i in range(q.shape[0]):
            out[i] = negative_log(q[i])

    each(q, out)


def _raw_batches(monkeypatch, s, raw, chunk, **options):
    """add_labels over three batches, kernels then numpy: the bins, sums and returns."""

    def in_batches():
        monkeypatch.setattr(binning, "_CHUNK_ROWS", chunk)
        bins = binning.BinaryBins(11, weighted=False, keys_of=bin_keys)
        returned = []
        for start in range(0, len(s), 20_000):
            part = slice(start, start + 20_000)
            rows, loss, outside = bins.add_labels(s[part], raw[part], -2, 7, **options)
            returned.append((rows + start, loss, outside + start))
        return bins, bins.read(), returned

    return _both_paths(monkeypatch, in_batches)


@pytest.mark.parametrize("chunk", [1 << 20, 7001])
def test_raw_labels_checked_in_the_pass_give_the_bins_and_sums_of_numpy(chunk, monkeypatch):
    """add_labels: the kernel's one pass (codes, its own log loss, bins, totals,
    candidates) against the numpy twin: the same bins bit for bit, the totals to
    TOTALS_RTOL, candidates that hold every worst row with numpy's losses, the same rows
    outside; in chunks of rows too (their rows numbered from the batch's start)."""
    s, y, _ = _scores(29, 60_000)
    raw = np.where(y == 1, 7, -2)
    s[[3, 40_001]], raw[[3, 40_001]] = [0.0, 1.0], [7, -2]  # infinite losses
    options = {"threshold": 0.4, "clip": 34.5, "top": 20}
    (compiled, table_c, ret_c), (plain, table_n, ret_n) = _raw_batches(
        monkeypatch, s, raw, chunk, **options
    )
    for name, values in table_n.items():
        assert np.array_equal(table_c[name], values), name
    _assert_same_totals(compiled, plain, weighted=False)
    with np.errstate(divide="ignore"):
        loss = -np.log(np.where(raw == 7, s, 1.0 - s))
    for start, (rows_c, loss_c, out_c), (rows_n, loss_n, out_n) in zip(
        range(0, len(s), 20_000), ret_c, ret_n, strict=True
    ):
        assert np.array_equal(out_c, out_n)
        assert np.array_equal(loss_c, loss[rows_c]) and np.array_equal(loss_n, loss[rows_n])
        # every row at or above the batch's 20th largest loss is a candidate
        batch = loss[start : start + 20_000]
        worst = set(np.flatnonzero(batch >= np.sort(batch)[-20]) + start)
        assert worst <= set(rows_c.tolist()) and worst <= set(rows_n.tolist())


def test_a_raw_batch_that_fails_the_check_leaves_the_bins_untouched(monkeypatch):
    s, y, _ = _scores(31, 5000)
    raw = np.where(y == 1, 7, -2)
    options = {"threshold": 0.5, "clip": 34.5, "top": 5}
    for column, row, value in (("s", 100, np.nan), ("s", 4999, -0.5), ("y", 2500, 3)):
        bad_s, bad_y = s.copy(), raw.copy()
        (bad_s if column == "s" else bad_y)[row] = value

        def run(bad_s=bad_s, bad_y=bad_y):
            bins = binning.BinaryBins(11, weighted=False, keys_of=bin_keys)
            bins.add_labels(s, raw, -2, 7, **options)
            before = (bins.totals.copy(), bins.cells.copy(), bins.touched.copy())
            assert bins.add_labels(bad_s, bad_y, -2, 7, **options) is None
            after = (bins.totals, bins.cells, bins.touched)
            assert all(np.array_equal(a, b) for a, b in zip(before, after, strict=True))
            return bins.read()

        compiled, plain = _both_paths(monkeypatch, run)
        clean = binning.BinaryBins(11, weighted=False, keys_of=bin_keys)
        clean.add_labels(s, raw, -2, 7, **options)
        expected = clean.read()
        for table in (compiled, plain):
            for name, values in expected.items():
                assert np.array_equal(table[name], values), name


def test_raw_ties_that_overflow_the_candidates_give_every_row_and_numpys_losses():
    s = np.full(20_000, 0.3)
    raw = np.where(np.arange(20_000) % 2, 7, -2)
    bins = binning.BinaryBins(11, weighted=False, keys_of=bin_keys)
    rows, loss, _ = bins.add_labels(s, raw, -2, 7, threshold=0.5, clip=34.5, top=100)
    assert np.array_equal(rows, np.arange(20_000))
    assert np.array_equal(loss, -np.log(np.where(raw == 7, s, 1.0 - s)))


def test_the_totals_of_the_block_wise_pass_are_within_their_stated_bound():
    """Each total of a batch is a sum of non-negative terms, added in any order (SIMD
    lanes) within a block of _BLOCK rows, then block after block: its relative error is at
    most (_BLOCK + n / _BLOCK) * 2^-53, and the kernel's logarithm adds at most 1 ulp per
    term (2 for a square): 1.4e-13 at 2^18 rows, against exact sums (fsum) of numpy's terms
    (TOTALS_RTOL is 1e-12)."""
    pytest.importorskip("numba")
    import math

    from lossgap.core.binning_kernels import _BLOCK

    rng = np.random.default_rng(37)
    n = 1 << 18
    s = 1 / (1 + np.exp(-rng.normal(0.0, 3.0, n)))
    raw = (rng.random(n) < s).astype(np.int64)
    bins = binning.BinaryBins(11, weighted=False, keys_of=bin_keys)
    bins.add_labels(s, raw, 0, 1, threshold=0.5, clip=34.5, top=10)
    loss = -np.log(np.where(raw == 1, s, 1.0 - s))
    exact = {
        "loss_sum": math.fsum(loss),
        "loss_sq_sum": math.fsum(loss * loss),
        "clipped_loss_sum": math.fsum(np.minimum(loss, 34.5)),
        "brier_sum": math.fsum((s - raw) ** 2),
    }
    bound = (_BLOCK + n / _BLOCK) * 2.0**-53 + 2.0**-51
    assert bound < binning.TOTALS_RTOL / 5
    sums = bins.sums()
    for name, value in exact.items():
        assert abs(sums[name] - value) <= bound * value, name
    decided = s >= 0.5
    for cell in range(4):
        rows = (raw * 2 + decided) == cell
        assert bins.cells[cell, 0] == rows.sum()
        capped = math.fsum(np.minimum(loss[rows], 34.5))
        assert abs(bins.cells[cell, 1] - capped) <= bound * capped


@pytest.mark.parametrize("raw", [False, True])
def test_more_infinite_losses_than_the_worst_samples_stay_candidates(raw, monkeypatch):
    """A buffer of candidates that fills with more infinite losses than `top` keeps them:
    its cut-off is inf itself (inf less a margin of inf would be NaN, under which no row
    is kept). The worst samples are those of the general Tally."""
    s, y, _ = _scores(41, 20_000)
    s[100:5000:20], y[100:5000:20] = 0.0, 1  # 245 infinite losses among the first 5,000
    with np.errstate(divide="ignore"):
        loss = -np.log(np.where(y == 1, s, 1.0 - s))
    infinite = set(np.flatnonzero(np.isinf(loss)).tolist())

    def candidates():
        bins = binning.BinaryBins(11, weighted=False, keys_of=bin_keys)
        options = {"threshold": 0.5, "clip": 34.5, "top": 100}
        if raw:
            return bins.add_labels(s, y, 0, 1, **options)[0]
        return bins.add(s, y, None, loss, **options)[0]

    for found in _both_paths(monkeypatch, candidates):
        assert found is None or infinite <= set(found.tolist())
    fast = Tally.from_predictions(Predictions(y, s), binned=[True], top=100)
    general = Tally.from_predictions(Predictions(y, s), max_distinct=10**9, top=100)
    assert np.array_equal(fast.worst.ids, general.worst.ids)


def test_kernel_module_imports_once_and_keeps_the_switch(monkeypatch):
    """A kernel module is imported once and kept; ``LOSSGAP_NUMBA=0`` still turns it off,
    and a failed import (no numba) is not kept."""
    pytest.importorskip("numba")
    monkeypatch.delenv("LOSSGAP_NUMBA", raising=False)
    monkeypatch.setattr(binning, "_KERNEL_MODULES", {})
    first = binning.kernel_module("bootstrap_kernels")
    assert first is not None

    def unimportable(name):
        raise ImportError(name)

    monkeypatch.setattr(binning.importlib, "import_module", unimportable)
    assert binning.kernel_module("bootstrap_kernels") is first  # kept: no second import
    assert binning.kernel_module("binning_kernels") is None  # never imported: no numba
    assert "binning_kernels" not in binning._KERNEL_MODULES
    monkeypatch.setenv("LOSSGAP_NUMBA", "0")
    assert binning.kernel_module("bootstrap_kernels") is None


def test_switch_read_once_holds_the_choice_in_its_block_and_thread(monkeypatch):
    """Within ``switch_read_once`` the kernels are chosen as the environment said at its
    start, in this thread; another thread and the work after it read the environment."""
    import threading

    pytest.importorskip("numba")
    monkeypatch.delenv("LOSSGAP_NUMBA", raising=False)
    seen = []
    with binning.switch_read_once():
        monkeypatch.setenv("LOSSGAP_NUMBA", "0")
        seen.append(binning.kernel_module("bootstrap_kernels"))
        other = threading.Thread(
            target=lambda: seen.append(binning.kernel_module("bootstrap_kernels"))
        )
        other.start()
        other.join()
    seen.append(binning.kernel_module("bootstrap_kernels"))
    assert seen[0] is not None and seen[1] is None and seen[2] is None
    with binning.switch_read_once():  # read off at the start: numpy throughout
        monkeypatch.delenv("LOSSGAP_NUMBA")
        assert binning.kernel_module("bootstrap_kernels") is None
    assert binning.kernel_module("bootstrap_kernels") is not None

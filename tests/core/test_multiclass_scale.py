"""Multiclass evaluations past the cap of distinct scores (issue 17, item 4): what the
fast paths give against the exact or sorting paths, within each stated bound."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from lossgap import Predictions, Tally
from lossgap.core import diagnostics, recalibrate
from lossgap.core.diagnostics import (
    CONSISTENCY_PRECISION,
    calibrated_concentration,
    loss_concentration,
    true_class_cells,
)
from lossgap.core.tally import NumpyOps
from tests.helpers.tables import assert_same_bins


def _softmax_data(seed: int, n: int, k: int, weighted: bool = False):
    rng = np.random.default_rng(seed)
    logits = rng.normal(0.0, 2.0, (n, k))
    prob = np.exp(logits - logits.max(axis=1, keepdims=True))
    prob /= prob.sum(axis=1, keepdims=True)
    y = (prob.cumsum(axis=1) > rng.uniform(size=(n, 1))).argmax(axis=1)
    w = rng.uniform(0.0, 2.0, n) if weighted else None
    return y, prob, w


@pytest.mark.parametrize("weighted", [False, True])
def test_multiclass_columns_past_the_cap_bin_without_sorting(weighted, monkeypatch):
    """Every class column and the top-label column past the cap bin in one pass: no sort
    of the rows, and the same tables as sorting then compressing (bins, weights and
    extremes equal; the bins' score sums added in another order)."""
    n = 20_000
    y, prob, w = _softmax_data(5, n, 4, weighted)
    pred = Predictions(y, prob, sample_weight=w)
    general = Tally.from_predictions(pred, max_distinct=10**9)
    sort, argsort = NumpyOps.sort, NumpyOps.argsort

    def no_long_sort(fn):
        def sorting(x):
            assert len(x) < n, "sorted the rows"
            return fn(x)

        return staticmethod(sorting)

    monkeypatch.setattr(NumpyOps, "sort", no_long_sort(sort))
    monkeypatch.setattr(NumpyOps, "argsort", no_long_sort(argsort))
    fast = Tally.from_predictions(pred, max_distinct=2000)
    assert all(t.compressed for t in fast.tables) and fast.top_label.compressed
    for a, exact in zip(
        [*fast.tables, fast.top_label], [*general.tables, general.top_label], strict=True
    ):
        assert_same_bins(a, exact.compress(), exact_weights=not weighted)  # counts: exact
        assert a.max_distinct == 2000


def test_multiclass_columns_of_few_distinct_scores_stay_exact():
    # 5,000 rows whose columns hold at most 900 distinct scores under a cap of 1,000
    rng = np.random.default_rng(6)
    rows = rng.dirichlet(np.ones(3), 900)
    prob = rows[rng.integers(0, 900, 5000)]
    y = rng.integers(0, 3, 5000)
    tally = Tally.from_predictions(Predictions(y, prob), max_distinct=1000)
    exact = Tally.from_predictions(Predictions(y, prob), max_distinct=10**9)
    assert not tally.compressed and not tally.top_label.compressed
    for a, b in zip(tally.tables, exact.tables, strict=True):
        assert np.array_equal(a.scores, b.scores) and np.array_equal(a.weights, b.weights)


def _tempered(seed: int, n: int, k: int, temperature: float) -> Tally:
    y, prob, _ = _softmax_data(seed, n, k)
    q = prob ** (1 / temperature)
    return Tally.from_predictions(Predictions(y, q / q.sum(axis=1, keepdims=True)))


@pytest.mark.parametrize("n", [3_000, 30_000, 200_000])
@pytest.mark.parametrize("k", [3, 10])
@pytest.mark.parametrize("temperature", [0.6, 1.0, 2.0])
def test_multiclass_pooled_half_loss_share_is_within_its_stated_precision(n, k, temperature):
    tally = _tempered(n + k, n, k, temperature)
    exact = loss_concentration(*true_class_cells(tally)).half_loss_sample_share
    pooled = calibrated_concentration(tally).pooled_share
    assert abs(pooled - exact) <= CONSISTENCY_PRECISION + 1 / n


@pytest.mark.parametrize(("k", "temperature"), [(3, 1.0), (10, 2.0)])
def test_multiclass_pooled_calibrated_null_matches_the_unpooled_one(k, temperature, monkeypatch):
    # the calibrated median on 2,000 runs per column against the unpooled tables' (10,000
    # rows each): within the pooling's precision and the Monte-Carlo error of two medians
    # of 100 draws (about 1.25 null sds / 10 each)
    tally = _tempered(7, 10_000, k, temperature)
    pooled = calibrated_concentration(tally, seed=1)
    monkeypatch.setattr(diagnostics, "CONSISTENCY_ROWS", 10**9)
    monkeypatch.setattr(diagnostics, "CONSISTENCY_CELLS", 10**9)
    exact = calibrated_concentration(tally, seed=1)
    spread = (exact.calibrated_median - exact.calibrated_low) / 2.33
    bound = CONSISTENCY_PRECISION + 3 * np.sqrt(2) * 1.25 * spread / 10
    assert abs(pooled.calibrated_median - exact.calibrated_median) <= bound


@pytest.mark.parametrize("b", [0.7, 1.0, 1.6, -0.5])
def test_temperature_passes_in_blocks_give_the_same_doubles(b, monkeypatch):
    y, prob, _ = _softmax_data(8, 40_000, 6)
    pred = Predictions(y, prob)
    problem = recalibrate._Temperature.of_transposed(recalibrate._log_probs_t(pred), pred.y)
    monkeypatch.setattr(recalibrate, "TEMPERATURE_BLOCK", 3_000)  # a ragged last block
    blocked = problem.parts(b, third=True)
    monkeypatch.setattr(recalibrate, "TEMPERATURE_BLOCK", 10**9)
    whole = problem.parts(b, third=True)
    assert np.array_equal(blocked, whole)
    assert np.array_equal(problem.parts(b), whole[:3])



def test_isotonic_bins_without_weights_equal_unit_weights():
    y, prob, _ = _softmax_data(10, 30_000, 4)
    fold = np.random.default_rng(1).integers(0, 5, len(y))
    ones = recalibrate._class_bins(prob[:, 2], y == 2, np.ones(len(y)), fold, 5)
    counted = recalibrate._class_bins(prob[:, 2], y == 2, None, fold, 5)
    for name in ("index", "weights", "score_sum"):
        assert np.array_equal(getattr(ones, name), getattr(counted, name)), name
    assert counted.weights.dtype == np.float64


def test_a_prefix_of_few_distinct_scores_still_finds_the_many_after_it(monkeypatch):
    # the first 2 x cap rows hold 10 distinct scores, the rest thousands: the hash of the
    # prefix cannot prove the cap exceeded, the whole column's does (no sort of the rows)
    rng = np.random.default_rng(11)
    y, prob, _ = _softmax_data(11, 8_000, 3)
    prob[:2_000] = rng.dirichlet(np.ones(3), 10)[rng.integers(0, 10, 2_000)]
    pred = Predictions(y, prob)
    exact = Tally.from_predictions(pred, max_distinct=10**9)

    def no_sort(x):
        raise AssertionError("sorted the rows")

    monkeypatch.setattr(NumpyOps, "sort", staticmethod(no_sort))
    fast = Tally.from_predictions(pred, max_distinct=1_000)
    for a, b in zip(fast.tables, exact.tables, strict=True):
        assert a.compressed
        assert np.array_equal(a.bins, b.compress().bins)
        assert np.array_equal(a.weights, b.compress().weights)


@pytest.mark.parametrize("from_logits", [False, True])
def test_the_bootstraps_kept_samples_losses_are_the_wholes_at_those_rows(from_logits):
    from lossgap.core.losses import sample_brier, sample_log_loss
    from lossgap.core.rows import subset

    y, prob, w = _softmax_data(12, 30_000, 7, weighted=True)
    values = np.log(prob) + 0.3 if from_logits else prob
    pred = Predictions(y, values, from_logits=from_logits, sample_weight=w)
    keep = np.sort(np.random.default_rng(2).choice(len(y), 10_000, replace=False))
    kept = subset(pred, keep)
    assert np.array_equal(sample_log_loss(kept), sample_log_loss(pred)[keep])
    assert np.array_equal(sample_brier(kept), sample_brier(pred)[keep])
    assert np.array_equal(kept.predicted(), pred.predicted()[keep])


def test_held_out_temperature_totals_in_blocks_equal_the_folds_sums(monkeypatch):
    """Every sample mapped at its fold's temperature, block by block: each sample's
    probabilities the same doubles as its fold's, the totals the folds' to rounding."""
    y, prob, w = _softmax_data(13, 20_000, 5, weighted=True)
    pred = Predictions(y, prob, sample_weight=w)
    problem = recalibrate._Temperature.of_transposed(recalibrate._log_probs_t(pred), pred.y)
    fold = np.random.default_rng(3).integers(0, 5, len(y))
    betas = np.array([0.8, 1.0, 1.1, 1.3, 0.95])
    decided = pred.predicted()
    before = -np.log(np.clip(prob[np.arange(len(y)), y], recalibrate.CLIP, 1.0))
    by_fold = np.zeros(7)
    for k, beta in enumerate(betas):
        rows = np.flatnonzero(fold == k)
        mapped = problem.apply(beta, rows)
        assert np.array_equal(mapped, problem.apply(betas[fold][rows], rows))
        by_fold += recalibrate._held_out_totals(
            mapped, y[rows], w[rows], decided[rows], before[rows]
        )
    monkeypatch.setattr(recalibrate, "TEMPERATURE_BLOCK", 1_500)
    blocked = problem.held_out_totals(betas[fold], y, w, decided, before)
    assert_allclose(blocked, by_fold, rtol=1e-12)
    kernels = pytest.importorskip("lossgap.core.multiclass_kernels")
    compiled = problem.held_out_totals(betas[fold], y, w, decided, before, kernels)
    assert_allclose(compiled, by_fold, rtol=1e-12)


@pytest.mark.parametrize("kernel", ["numpy", "numba", "numba bins, numpy maps"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("n", [12_000, 40_000])
def test_held_out_isotonic_totals_in_blocks_equal_a_fold_by_fold_reference(
    monkeypatch, kernel, weighted, n
):
    """The cross-fitting's isotonic figures against a plain reference: each fold's maps
    fitted and applied with np.interp, clipped, renormalised and summed fold by fold; with
    the numba pass over every fold's samples as with numpy's (at 40,000 samples in two of
    its blocks, 32,768 samples each at four classes), and with the numba bins and numpy's
    maps (past ``FOLD_MAP_CELLS``, many classes)."""
    import lossgap.core.predictions as predictions

    if kernel != "numpy":
        pytest.importorskip("numba")
    monkeypatch.setattr(predictions, "KERNEL_MIN_CELLS", 1 if kernel != "numpy" else 1 << 62)
    if kernel == "numba bins, numpy maps":
        monkeypatch.setattr(recalibrate, "FOLD_MAP_CELLS", 0)
    y, prob, w = _softmax_data(14, n, 4, weighted=True)
    prob[:50] = 0.25  # ties, and exact 0 and 1 in a column
    prob[50:60] = [0.0, 0.0, 1.0, 0.0]
    pred = Predictions(y, prob, sample_weight=w if weighted else None)
    monkeypatch.setattr(recalibrate, "TEMPERATURE_BLOCK", 1_000)
    before = {"log_loss": 1.0, "brier": 0.5, "accuracy": 0.5}
    got = recalibrate._multiclass_recalibration(pred, before, 5, 0, 0.01).methods["isotonic"]
    ordered = recalibrate.in_content_order(pred)
    fold = np.random.default_rng(0).integers(0, 5, len(y))
    yy, p = ordered.y, ordered.prob
    ww = np.ones(len(yy)) if ordered.sample_weight is None else ordered.sample_weight
    bins = [recalibrate._class_bins(p[:, c], yy == c, ww, fold, 5) for c in range(4)]
    scale = ww.sum() / (ww @ ww)
    log_before = -np.log(np.clip(p[np.arange(len(yy)), yy], recalibrate.CLIP, 1.0))
    totals = np.zeros(7)
    for k in range(5):
        test = fold == k
        n_train = (ww.sum() - ww[test].sum()) * scale
        mapped = np.stack([
            recalibrate._clip_isotonic(column.fit(k).predict(p[test, c]), n_train)
            for c, column in enumerate(bins)
        ])
        totals += recalibrate._held_out_totals(
            mapped / mapped.sum(axis=0), yy[test], ww[test], ordered.predicted()[test],
            log_before[test],
        )
    total = ww.sum()
    assert got.log_loss_after == pytest.approx(totals[0] / total, rel=1e-12)
    assert got.brier_after == pytest.approx(totals[1] / total, rel=1e-12)
    assert got.accuracy_after == pytest.approx(totals[2] / total, rel=1e-12)
    assert got.decisions_changed == pytest.approx(totals[3] / total, rel=1e-12)
    assert got.log_loss_gain == pytest.approx(totals[4] / total, rel=1e-9, abs=1e-15)


@pytest.mark.parametrize("weighted", [False, True])
def test_the_kernels_isotonic_bins_are_numpys_bit_for_bit(weighted):
    kernels = pytest.importorskip("lossgap.core.multiclass_kernels")
    y, prob, w = _softmax_data(15, 30_000, 4, weighted)
    prob[:20] = [0.0, 0.5, 0.5, 0.0]  # 0, 1/2 and its neighbours, 1
    prob[20:30] = [0.5 + 2**-53, 0.5 - 2**-53, 0.0, 0.0]
    prob[30:40] = [1.0, 0.0, 0.0, 0.0]
    fold = np.random.default_rng(4).integers(0, 5, len(y))
    for c in range(4):
        numpy_bins = recalibrate._class_bins(prob[:, c].copy(), y == c, w, fold, 5)
        index = np.empty(len(y), dtype=np.int32)
        kernel_bins = recalibrate._class_bins(
            prob[:, c].copy(), (y, c), w, fold, 5, index, kernels
        )
        for name in ("index", "weights", "score_sum"):
            assert np.array_equal(getattr(kernel_bins, name), getattr(numpy_bins, name)), name


@pytest.mark.parametrize("bits", [2, 5, 11, 14])
def test_numpy_bin_keys_equal_the_bit_patterns_by_hand(bits):
    import struct

    from lossgap.core.tally import bin_keys

    rng = np.random.default_rng(bits)
    edges = [0.0, -0.0, 1.0, 0.5, 0.5 + 2**-53, 0.5 - 2**-54, 1e-300, 5e-324, 1 - 2**-53]
    s = np.concatenate([edges, rng.uniform(size=500), rng.beta(0.05, 0.05, 500)])

    def by_hand(p: float) -> int:
        def pattern(x: float) -> int:
            return struct.unpack("<q", struct.pack("<d", x + 0.0))[0]

        shift = 52 - bits
        if p <= 0.5:
            return pattern(p) >> shift
        return 2 * (pattern(0.5) >> shift) + 1 - (pattern(1.0 - p) >> shift)

    assert bin_keys(s, bits).tolist() == [by_hand(float(p)) for p in s]
    assert bin_keys(s.astype(np.float32), bits).tolist() == [
        by_hand(float(p)) for p in s.astype(np.float32)
    ]


def test_first_largest_is_argmax_with_ties_to_the_lowest_class():
    rng = np.random.default_rng(15)
    prob_t = rng.dirichlet(np.ones(6), 5_000).T.copy()
    prob_t[:, :300] = np.round(prob_t[:, :300], 1)  # ties, some of them at the top
    prob_t[2, 300:400] = prob_t[4, 300:400] = 0.9
    assert np.array_equal(recalibrate._first_largest(prob_t), np.argmax(prob_t, axis=0))


@pytest.mark.parametrize("rows", [1, 7, 4096])
def test_class_rows_are_the_transpose_in_any_block(rows, monkeypatch):
    import lossgap.core.predictions as predictions

    monkeypatch.setattr(predictions, "TRANSPOSE_ROWS", rows)
    y, prob, _ = _softmax_data(16, 5_003, 6)  # a ragged last block
    for pred in (Predictions(y, prob), Predictions(y[:3] % 2, prob[:3, 0])):
        got = pred.class_rows()
        assert got.flags.c_contiguous
        assert np.array_equal(got, pred.class_prob.T)


@pytest.mark.parametrize("pooled", [False, True])
def test_bootstrap_column_weights_add_each_scores_units_in_unit_order(pooled):
    # the replicates' weight at each score (of the class and of the others) against a
    # plain loop over the units: the same doubles, in (replicates, rows) column order
    from lossgap.core.bootstrap import _column

    rng = np.random.default_rng(17)
    scores = np.round(rng.uniform(size=3_000), 3)  # ties: several units per score
    positive = rng.uniform(size=3_000) < scores
    column = _column(scores, positive, 100 if pooled else 10_000)
    rep = rng.poisson(1.0, (40, 3_000)) * rng.uniform(0.2, 2.0, 3_000)
    neg, pos = column.weights(rep)
    row = np.searchsorted(column.scores, scores) if not pooled else None
    if pooled:  # the run of each unit: the one whose mean its score's run holds
        distinct, inverse = np.unique(scores, return_inverse=True)
        row = (np.arange(len(distinct)) * 100 // len(distinct))[inverse]
    every, want_pos = np.zeros((40, len(column.scores))), np.zeros((40, len(column.scores)))
    for u in range(3_000):
        every[:, row[u]] += rep[:, u]
        want_pos[:, row[u]] += rep[:, u] * positive[u]
    assert np.array_equal(pos, want_pos)
    assert np.array_equal(neg, every - want_pos)  # the negatives: every unit less the class
    assert neg.flags.f_contiguous and pos.flags.f_contiguous
    # the sparse products (the numpy twin of the replicates' weights): the same doubles
    twin_neg, twin_pos = column.weights_t(np.ascontiguousarray(rep.T))
    assert np.array_equal(neg, twin_neg) and np.array_equal(pos, twin_pos)
    assert column.pooled == pooled


@pytest.mark.parametrize("cells", [1, 5_000, 1 << 22])
@pytest.mark.parametrize("weighted", [False, True])
def test_the_compiled_column_weights_are_each_columns_own(cells, weighted, monkeypatch):
    # every column's weights in one compiled pass (in groups of at most `cells`) against
    # each column's sparse products: the same doubles, in the same column order
    from lossgap.core import bootstrap

    pytest.importorskip("numba")
    monkeypatch.setattr(bootstrap, "_WEIGHT_CELLS", cells)
    rng = np.random.default_rng(23)
    y, prob, _ = _softmax_data(24, 3_000, 4)
    prob = np.round(prob, 3)  # ties: several units per score
    columns = [bootstrap._column(prob[:, c], y == c, (100, 5_000, 40, 7)[c]) for c in range(4)]
    columns.append(bootstrap._column(prob.max(axis=1), prob.argmax(axis=1) == y, 300))
    rep = rng.poisson(1.0, (40, 3_000)).astype(float)
    if weighted:
        rep *= rng.uniform(0.2, 2.0, 3_000)
    rep_t = np.ascontiguousarray(rep.T)
    monkeypatch.delenv("LOSSGAP_NUMBA", raising=False)
    compiled = list(bootstrap._columns_weights_t(columns, rep_t))
    monkeypatch.setenv("LOSSGAP_NUMBA", "0")
    plain = list(bootstrap._columns_weights_t(columns, rep_t))
    assert len(compiled) == len(plain) == len(columns)
    for (neg, pos), (want_neg, want_pos), column in zip(compiled, plain, columns, strict=True):
        assert np.array_equal(neg, want_neg) and np.array_equal(pos, want_pos)
        assert neg.shape == (40, len(column.scores))
        assert neg.flags.f_contiguous and pos.flags.f_contiguous


@pytest.mark.parametrize("rows", [1, 7, 8192, "compiled"])
def test_the_row_key_by_blocks_is_the_sum_of_its_columns(rows, monkeypatch):
    # rows._key against its definition: each content column's bit patterns times its
    # multiplier, added column by column modulo 2**64 (probabilities, logits, binary), by
    # blocks of rows or in the compiled pass
    import lossgap.core.predictions as predictions
    from lossgap.core import rows as module

    if rows == "compiled":
        pytest.importorskip("numba")
        monkeypatch.setattr(predictions, "KERNEL_MIN_CELLS", 1)
    else:
        monkeypatch.setattr(predictions, "KERNEL_MIN_CELLS", 1 << 62)
        monkeypatch.setattr(module, "KEY_ROWS", rows)
    y, prob, w = _softmax_data(18, 3_001, 5, weighted=True)
    prob[:3] = [0.0, -0.0, 0.5, 0.25, 0.25]  # -0.0 and 0.0 are one value
    for pred in (
        Predictions(y, prob, sample_weight=w),
        Predictions(y % 2, prob[:, 2]),
        Predictions(y, np.log(np.abs(prob) + 1e-3), from_logits=True),
    ):
        columns, _ = module._content(pred)
        want = np.zeros(len(pred), dtype=np.uint64)
        for i, column in enumerate(columns):
            want += column * module._MULTIPLIERS[i % len(module._MULTIPLIERS)]
        assert np.array_equal(module._key(pred), want)


def test_the_radix_argsort_is_numpys_stable_argsort():
    kernels = pytest.importorskip("lossgap.core.multiclass_kernels")
    rng = np.random.default_rng(19)
    # hashes (groups of equal leading 20 bits of about one key), small keys (one group of
    # every key: sorted by its lower bytes), groups of a few dozen keys (by insertion or by
    # bytes, either side of the cut-over) and of one key
    cases = [(100_000, 2**64 - 1, 0), (5_000, 3, 0), (1, 10, 0), (0, 10, 0)]
    cases += [(60_000, 2**44 - 1, 3_000), (60_000, 2**44 - 1, 1_500), (2_000, 0, 1)]
    for n, high, leading in cases:
        keys = rng.integers(0, high, n, dtype=np.uint64, endpoint=True)
        if leading:  # `leading` values of the first 20 bits
            keys |= rng.integers(0, leading, n, dtype=np.uint64) << np.uint64(44)
        keys[: n // 3] = keys[n // 3 : 2 * (n // 3)]  # equal keys keep their row order
        order, ordered = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.uint64)
        kernels.stable_argsort(keys, order, ordered)
        assert np.array_equal(order, np.argsort(keys, kind="stable"))
        assert np.array_equal(ordered, keys[order])


def test_the_content_order_is_the_same_with_the_kernels_and_without(monkeypatch):
    import lossgap.core.predictions as predictions
    from lossgap.core.rows import content_order

    pytest.importorskip("numba")
    y, prob, w = _softmax_data(20, 4_000, 3, weighted=True)
    prob[100:200], y[100:200] = prob[0], y[0]  # duplicate rows: their ids keep their order
    w[100:150] = w[0]
    pred = Predictions(y, prob, sample_weight=w)
    monkeypatch.setattr(predictions, "KERNEL_MIN_CELLS", 1)
    compiled = content_order(pred)
    monkeypatch.setattr(predictions, "KERNEL_MIN_CELLS", 1 << 62)
    assert np.array_equal(compiled, content_order(pred))


@pytest.mark.parametrize("k", [1, 3, 10, 40])
def test_the_prefetching_row_gather_is_numpys_take(k, monkeypatch):
    # rows in random order (the content order's), repeated, the last ones (no row ahead to
    # ask for), none; positions outside the rows (negative: np.take wraps; past the end:
    # np.take raises); a Fortran-ordered array and integer values go to np.take
    import lossgap.core.predictions as predictions
    from lossgap.core.rows import _take_rows

    pytest.importorskip("numba")
    monkeypatch.setattr(predictions, "KERNEL_MIN_CELLS", 1)
    rng = np.random.default_rng(k)
    values = rng.normal(size=(3_001, k))
    values[7] = [-0.0, np.nan, np.inf, *range(k - 3)][:k]
    for rows in (
        rng.permutation(3_001), rng.integers(0, 3_001, 50), np.arange(2_990, 3_001)[::-1],
        np.arange(5), np.array([7, 7, 0]), np.array([], dtype=np.int64),
        np.array([4, -1, 2]), rng.integers(0, 3_001, 40).astype(np.int32),
    ):
        got, expected = _take_rows(values, rows), np.take(values, rows, axis=0)
        assert got.shape == expected.shape and got.flags.c_contiguous
        assert np.array_equal(got.view(np.uint64), expected.view(np.uint64))
    with pytest.raises(IndexError):
        _take_rows(values, np.array([0, 3_001]))
    for other in (np.asfortranarray(values), rng.integers(0, 9, (3_001, k))):
        rows = rng.permutation(3_001)
        np.testing.assert_array_equal(_take_rows(other, rows), np.take(other, rows, axis=0))


@pytest.mark.parametrize("k", [3, 6, 40])
def test_the_kernels_predicted_class_is_numpys_argmax(k, monkeypatch):
    import lossgap.core.predictions as predictions

    pytest.importorskip("numba")
    rng = np.random.default_rng(21)
    prob = rng.dirichlet(np.ones(k), 5_000)
    counts = rng.integers(0, 3, (300, k))
    counts[:, 0] += 1
    prob[:300] = counts / counts.sum(axis=1, keepdims=True)  # ties, some at the top
    prob[300:400] = 0.0
    prob[300:400, [0, -1]] = 0.5  # the first and the last class tie
    prob[400:500] = 1.0 / k  # every class ties
    prob[500:600, -1] = 1.0
    prob[500:600, :-1] = 0.0  # the last class alone
    y = rng.integers(0, k, len(prob))
    monkeypatch.setattr(predictions, "KERNEL_MIN_CELLS", 1)
    compiled = Predictions(y, prob).predicted()
    monkeypatch.setattr(predictions, "KERNEL_MIN_CELLS", 1 << 62)
    pred = Predictions(y, prob)
    expected = pred.predicted()
    assert np.array_equal(expected, np.argmax(pred.prob, axis=1))
    assert compiled.dtype == expected.dtype
    assert np.array_equal(compiled, expected)


@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize("b", [0.7, 1.0, 1.6, -0.5])
def test_the_compiled_temperature_passes_are_numpys_bit_for_bit(b, from_logits, monkeypatch):
    import lossgap.core.predictions as predictions

    pytest.importorskip("numba")
    y, prob, _ = _softmax_data(22, 20_000, 7)
    if from_logits:
        scores = np.log(prob)
        scores[:50, 0] = -0.0  # signed zeros among the logits
        pred = Predictions(y, scores, from_logits=True)
    else:
        prob[:50] = np.eye(7)[y[:50]]  # certain rows: log p = 0 and the clip
        pred = Predictions(y, prob)
    log_prob_t = recalibrate._log_probs_t(pred)
    monkeypatch.setattr(recalibrate, "TEMPERATURE_BLOCK", 3_000)  # a ragged last block
    monkeypatch.setattr(predictions, "KERNEL_MIN_CELLS", 1)
    problem = recalibrate._Temperature.of_transposed(log_prob_t, pred.y)
    compiled = [problem.parts(b, third=True), problem.parts(b)]
    monkeypatch.setattr(predictions, "KERNEL_MIN_CELLS", 1 << 62)
    reference = recalibrate._Temperature.of_transposed(log_prob_t, pred.y)
    assert np.array_equal(problem.true_log_prob, reference.true_log_prob)
    assert np.array_equal(problem.highest, reference.highest)
    expected = [reference.parts(b, third=True), reference.parts(b)]
    for got, exact in zip(compiled, expected, strict=True):
        assert np.array_equal(got, exact)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("k", [3, 12])
def test_the_compiled_tally_gathers_and_expected_confusion_are_numpys(k, weighted, monkeypatch):
    import lossgap.core.predictions as predictions

    pytest.importorskip("numba")
    y, prob, w = _softmax_data(23, 6_000, k, weighted)
    prob[:30] = 1.0 / k  # ties: the first class decided
    pred = Predictions(y, prob, sample_weight=w)
    monkeypatch.setattr(predictions, "KERNEL_MIN_CELLS", 1)
    compiled = Tally.from_predictions(pred)
    monkeypatch.setattr(predictions, "KERNEL_MIN_CELLS", 1 << 62)
    expected = Tally.from_predictions(pred)
    assert np.array_equal(compiled.confusion_expected, expected.confusion_expected)
    assert compiled.brier_sum == expected.brier_sum
    assert compiled.loss_sum == expected.loss_sum
    for name in ("loss", "prob", "predicted"):
        assert np.array_equal(getattr(compiled.worst, name), getattr(expected.worst, name))
    for name in ("scores", "weights", "low", "high", "score_sum"):
        assert np.array_equal(getattr(compiled.top_label, name), getattr(expected.top_label, name))


def test_the_compiled_row_normalisation_is_numpys(monkeypatch):
    import lossgap.core.predictions as predictions
    from lossgap.errors import InputError

    pytest.importorskip("numba")
    y, prob, _ = _softmax_data(25, 5_000, 4)
    prob = prob.round(4)  # rows off 1 by rounding, within the tolerance
    prob[:10] = [0.25, 0.25, 0.25, 0.2505]
    monkeypatch.setattr(predictions, "KERNEL_MIN_CELLS", 1)
    compiled = Predictions(y, prob).prob
    prob[7] = [0.5, 0.5, 0.5, 0.5]
    with pytest.raises(InputError) as compiled_error:
        Predictions(y, prob)
    monkeypatch.setattr(predictions, "KERNEL_MIN_CELLS", 1 << 62)
    with pytest.raises(InputError) as numpy_error:
        Predictions(y, prob)
    assert str(compiled_error.value) == str(numpy_error.value)
    prob[7] = prob[8]
    assert np.array_equal(compiled, Predictions(y, prob).prob)
    assert not np.array_equal(compiled, prob)  # the rows were renormalised


@pytest.mark.parametrize("cells", [1, 1 << 62])
def test_the_temperature_true_log_prob_is_the_clipped_log_of_the_true_class(cells, monkeypatch):
    # the cross-fitting's loss before recalibration reads it: -log(clip(p_y)), the same
    # doubles, with or without the kernel, probabilities under the clip included
    import lossgap.core.predictions as predictions

    y, prob, _ = _softmax_data(26, 20_000, 5)
    prob[:20] = [1.0, 0.0, 0.0, 0.0, 0.0]
    prob[20:40] = [1.0 - 1e-17, 1e-17, 0.0, 0.0, 0.0]
    y[:40] = 1
    pred = Predictions(y, prob)
    monkeypatch.setattr(predictions, "KERNEL_MIN_CELLS", cells)
    problem = recalibrate._Temperature.of_transposed(recalibrate._log_probs_t(pred), pred.y)
    before = -np.log(np.clip(pred.prob[np.arange(len(y)), y], recalibrate.CLIP, 1.0))
    assert np.array_equal(-problem.true_log_prob, before)


@pytest.mark.parametrize("k", [3, 10])
def test_the_compiled_null_half_loss_shares_are_numpys(k, monkeypatch):
    # the calibrated concentration's null shares, compiled (multiclass) against numpy's
    # cumulative sums: the same doubles, and so the same concentration (ties among the
    # losses, a draw without loss, weights of 0)
    pytest.importorskip("numba")
    rng = np.random.default_rng(k)
    loss = np.round(rng.exponential(1.0, 3_000), 1)  # ties: the stable order decides
    loss[:40] = 0.0
    weights = rng.poisson(3.0, (60, 3_000)) * rng.uniform(0.5, 1.5, 3_000)
    weights[7] = 0.0  # no weight at all: 1.0
    weights[8, loss > 0] = 0.0  # weight only where the loss is 0: 1.0
    order = np.argsort(-loss, kind="stable")
    want = diagnostics._half_loss_share(loss[order], weights[:, order])
    got = diagnostics._null_shares(loss, order, weights)
    assert np.array_equal(got, want)
    assert got[7] == got[8] == 1.0
    # whole losses and weights: a running loss lands on half the total exactly
    loss, weights = np.ones(10), rng.integers(0, 4, (50, 10)).astype(float)
    order = np.arange(10)
    want = diagnostics._half_loss_share(loss, weights)
    assert np.array_equal(diagnostics._null_shares(loss, order, weights), want)
    tally = _tempered(3, 20_000, k, 1.3)
    compiled = calibrated_concentration(tally, seed=4)
    monkeypatch.setenv("LOSSGAP_NUMBA", "0")
    assert calibrated_concentration(tally, seed=4) == compiled


def test_the_compiled_one_vs_rest_statistics_are_numpys_within_statistics_rtol():
    # a class column's replicate AUC, AP and ECE by binary_statistics' kernel against the
    # numpy kernels, on transposed weights as the column weights come, rows without
    # positives or negatives included (NaN where numpy's is NaN)
    from lossgap.core import bootstrap

    pytest.importorskip("numba")
    rng = np.random.default_rng(8)
    scores = np.sort(rng.uniform(size=700))
    w_neg = (rng.poisson(3.0, (700, 90)) * rng.uniform(0.2, 2.0, (700, 1))).T
    w_pos = rng.poisson(0.4, (700, 90)).T.astype(float)
    w_pos[5], w_neg[6] = 0.0, 0.0
    ours = bootstrap._one_vs_rest(scores, w_neg, w_pos, 15, compiled=True)
    numpys = bootstrap._one_vs_rest(scores, w_neg, w_pos, 15, compiled=False)
    for name, values in numpys.items():
        assert_allclose(ours[name], values, rtol=bootstrap.STATISTICS_RTOL, atol=1e-15)
    assert np.isnan(ours["roc_auc"][[5, 6]]).all() and np.isnan(ours["average_precision"][5])


@pytest.mark.parametrize("weighted", [False, True])
def test_the_multiclass_intervals_move_within_the_compiled_statistics_bound(
    weighted, monkeypatch
):
    # the whole multiclass bootstrap with the kernels and without (numpy's twins: the same
    # draws, column weights and mesh operators): only the one-vs-rest statistics differ,
    # each replicate's within STATISTICS_RTOL of values at most 1, so every interval end
    # within a few times that (a quantile, a standard deviation of such values)
    from lossgap.core.bootstrap import STATISTICS_RTOL, bootstrap_intervals
    from lossgap.core.rows import in_content_order

    pytest.importorskip("numba")
    y, prob, w = _softmax_data(31, 4_000, 4, weighted)
    pred = in_content_order(Predictions(y, prob, sample_weight=w))
    tally = Tally.from_predictions(pred)
    names = ("roc_auc", "average_precision", "ece", "classwise_ece", "log_loss", "accuracy")
    estimates = dict.fromkeys(names, 0.5)
    compiled, _ = bootstrap_intervals(tally, estimates, pred, confidence=0.9, replicates=80)
    monkeypatch.setenv("LOSSGAP_NUMBA", "0")
    numpys, _ = bootstrap_intervals(tally, estimates, pred, confidence=0.9, replicates=80)
    assert compiled.keys() == numpys.keys() == set(names)
    for name in names:
        assert_allclose(compiled[name], numpys[name], rtol=0, atol=10 * STATISTICS_RTOL)
    assert compiled["log_loss"] == numpys["log_loss"]


@pytest.mark.parametrize("weighted", [False, True])
def test_the_null_drawn_with_the_replicates_is_the_null_drawn_after_them(weighted):
    # the calibrated null drawn within the replicates' statistics (each column's smoothing
    # operator serving both) against the null's own call after them: the same draws, the
    # same intervals, bit for bit; and none early past one call of replicates
    from lossgap.core import bootstrap
    from lossgap.core.rows import in_content_order

    y, prob, w = _softmax_data(37, 3_000, 4, weighted)
    prob = prob**3 / (prob**3).sum(axis=1, keepdims=True)  # overconfident: the calibration
    pred = in_content_order(Predictions(y, prob, sample_weight=w))  # errors' low ends > 0
    names = ("ece", "classwise_ece", "smooth_ece", "classwise_smooth_ece", "roc_auc")
    estimates = dict.fromkeys(names, 0.5)
    intervals = []
    for replicates in (None, 60):
        rng = np.random.default_rng(3)
        units = bootstrap._multiclass_units(pred, rng, 15, replicates)
        intervals.append(bootstrap._percentile_intervals(units, estimates, rng, 0.9, 60, 3)[0])
    assert intervals[0] == intervals[1]
    assert set(intervals[0]) == set(names)
    assert min(intervals[0][name][0] for name in names) > 0  # the null sets the low ends
    rng = np.random.default_rng(3)
    units = bootstrap._multiclass_units(pred, rng, 15, 10**9)  # more than one call draws
    assert bootstrap._percentile_intervals(units, estimates, rng, 0.9, 60, 3)[0] == intervals[0]


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize(
    ("n", "k"), [(10_003, 10), (1_633, 10), (4_097, 3), (1_001, 17), (97, 1_000)]
)
def test_row_sums_in_blocks_are_one_single_threaded_products(n, k, order):
    """Blocks of four rows at a time, and a last row alone (1,633 = 2 x 816 + 1 at ten
    classes, 97 = 12 x 8 + 1 at a thousand) summed with the four before it."""
    from threadpoolctl import threadpool_limits

    from lossgap.core.predictions import ROW_SUM_CELLS, row_sums

    rng = np.random.default_rng(n + k)
    values = np.asarray(rng.dirichlet(np.full(k, 0.3), size=n) * rng.uniform(0.999, 1.001, (n, 1)),
                        order=order)
    assert n * k > ROW_SUM_CELLS  # in several blocks
    with threadpool_limits(limits=1, user_api="blas"):
        expected = values @ np.ones(k)
    assert np.array_equal(row_sums(values), expected)


@pytest.mark.parametrize("weighted", [False, True])
def test_the_held_out_terms_equal_numpys_with_clipped_probabilities(weighted):
    """``held_out_terms`` (and ``isotonic_held_out``, which adds its terms alike) take one
    logarithm of a sample's true probability when the clip leaves it as it is, a second
    when it does not (below ``CLIP``: the loss uses the probability itself, the gain the
    clip). Against numpy's ``_held_out_totals``."""
    kernels = pytest.importorskip("lossgap.core.multiclass_kernels")
    y, prob, w = _softmax_data(16, 5_000, 4, weighted=True)
    w = w if weighted else np.ones(len(y))
    mapped = np.ascontiguousarray(prob.T)
    rows = np.arange(len(y))
    mapped[y[:40], rows[:40]] = np.geomspace(1e-300, 1e-16, 40)  # below the clip (1e-15)
    decided_before = np.random.default_rng(1).integers(0, 4, len(y))
    loss_before = np.random.default_rng(2).uniform(0.0, 3.0, len(y))
    acc = np.zeros((7, 2))
    kernels.held_out_terms(mapped, 0, y, w if weighted else None, decided_before, loss_before,
                           recalibrate.CLIP, acc)
    want = recalibrate._held_out_totals(mapped, y, w, decided_before, loss_before)
    assert_allclose(acc.sum(axis=1), want, rtol=1e-12)

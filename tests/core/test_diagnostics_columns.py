"""The binary diagnostics read from shared columns and slices: the same numbers as the
per-diagnostic logarithms and boolean gathers they replace."""

from __future__ import annotations

import numpy as np
import pytest

from lossgap import Predictions, Tally
from lossgap.core.diagnostics import (
    THRESHOLD_BAND,
    _concentration_sums,
    _half_loss_share,
    _mean_and_se,
    _null_shares,
    _threshold_band,
    class_columns,
    loss_columns,
    true_class_cells,
)
from lossgap.core.losses import CLIP_EPS
from lossgap.core.uncertainty import effective_scale


def _masked_band(tally: Tally) -> tuple[float, float]:
    """The band's weight and its correct decisions by boolean gathers (the former code)."""
    table = tally.tables[0]
    near = np.abs(table.scores - tally.threshold) <= THRESHOLD_BAND
    decided = table.scores >= tally.threshold
    right = table.weights[near & decided, 1].sum() + table.weights[near & ~decided, 0].sum()
    return float(table.weights[near].sum()), float(right)


@pytest.mark.parametrize("seed", range(12))
def test_threshold_band_slices_equal_the_boolean_gathers(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 3000))
    threshold = [0.5, 0.3, 0.9, 0.05][seed % 4]
    p = rng.uniform(0.0, 1.0, n)
    # scores on the band's edges and on the threshold, as they round
    edges = threshold + np.array([-THRESHOLD_BAND, 0.0, THRESHOLD_BAND])
    edges = np.concatenate([edges, np.nextafter(edges, 0.0), np.nextafter(edges, 1.0)])
    p[: len(edges)] = np.clip(edges, 0.0, 1.0)[: min(n, len(edges))]
    if seed % 3 == 1:
        p = np.round(p, 2)  # ties
    if seed % 6 == 5:
        p = np.full(n, threshold)  # every score in the band
    y = (rng.uniform(size=n) < p).astype(int)
    weight = rng.uniform(0.1, 3.0, n) if seed % 2 else None
    tally = Tally.from_predictions(Predictions(y, p, sample_weight=weight, threshold=threshold))
    band = _threshold_band(tally, 0.5)
    count, right = _masked_band(tally)
    assert band is not None
    assert band.count == count and band.correct == right  # the same doubles


def test_loss_columns_are_each_columns_capped_losses_and_confident_cells():
    p = np.array([0.0, 0.05, 0.1, 0.5, 0.9, 0.95, 1.0])
    y = np.array([0, 1, 1, 0, 0, 1, 1])
    negatives, positives = loss_columns(Tally.from_predictions(Predictions(y, p)))
    assert np.array_equal(positives.loss, -np.log(np.maximum(p, 1e-15)))
    assert np.array_equal(negatives.loss, -np.log(np.maximum(1.0 - p, 1e-15)))
    assert positives.confident.tolist() == [True, True, True, False, False, False, False]
    assert negatives.confident.tolist() == [False, False, False, False, True, True, True]
    assert positives.kept.tolist() == [1, 2, 5, 6] and negatives.kept.tolist() == [0, 3, 4]


def _concentration_cases(rng: np.random.Generator, trial: int) -> tuple[np.ndarray, np.ndarray]:
    """Cells' capped losses and weights: a binary table's two columns (one run each way,
    some losses rounded into ties or capped), runs of few values, or no order at all."""
    n = int(rng.integers(1, 400))
    if trial % 3 == 0:
        y = rng.integers(0, 2, n)
        p = rng.uniform(size=n)
        if trial % 2:
            p = np.round(p, int(rng.integers(1, 4)))
            p[: n // 10] = 0.0
        if trial % 5 == 0:
            y = np.zeros(n, dtype=np.int64)
        pred = Predictions(y, p, classes=[0, 1])
        prob, weight = true_class_cells(Tally.from_predictions(pred))
        return -np.log(np.maximum(prob, 1e-15)), weight * rng.uniform(0.5, 2.0, len(weight))
    if trial % 3 == 1:  # monotone runs either way, with ties inside and across runs
        parts = [np.sort(rng.integers(0, 4, int(rng.integers(1, 50))).astype(float))
                 for _ in range(int(rng.integers(1, 6)))]
        loss = np.concatenate([q if rng.uniform() < 0.5 else q[::-1] for q in parts])
    else:
        loss = rng.uniform(size=n)
    weight = rng.uniform(size=len(loss)) * (rng.uniform(size=len(loss)) < 0.8)
    return loss, weight


def test_concentration_sums_are_the_stable_sorts_doubles(monkeypatch):
    pytest.importorskip("numba")
    rng = np.random.default_rng(11)
    for trial in range(600):
        loss, weight = _concentration_cases(rng, trial)
        monkeypatch.setenv("LOSSGAP_NUMBA", "0")
        twin = _concentration_sums(loss, weight)
        monkeypatch.delenv("LOSSGAP_NUMBA")
        compiled = _concentration_sums(loss, weight)
        for got, want in zip(compiled, twin, strict=True):
            assert np.array_equal(got, want), trial


def test_null_shares_are_the_numpy_twins_doubles():
    pytest.importorskip("numba")
    rng = np.random.default_rng(12)
    for trial in range(300):
        loss, _ = _concentration_cases(rng, trial)
        weight = rng.poisson(rng.uniform(0.0, 3.0), (int(rng.integers(1, 30)), len(loss)))
        weight = weight * (rng.uniform(0.5, 2.0) if trial % 2 else 1.0)
        if trial % 4 == 0:
            weight[0] = 0.0  # a draw without weight: share 1
        order = np.argsort(-loss, kind="stable")
        twin = _half_loss_share(loss[order], weight[:, order])
        assert np.array_equal(_null_shares(loss, order, weight), twin), trial


@pytest.mark.parametrize("seed", range(6))
def test_baseline_from_the_gathered_cells_is_the_columns_own(seed):
    # the true-class cells diagnose gathers give the baseline test its numbers: the same
    # as gathering them per column, binary and multiclass, a class named but absent too
    from lossgap.core.diagnostics import loss_against_baseline

    rng = np.random.default_rng(seed)
    n = int(rng.integers(20, 3000))
    if seed % 2:
        prob = rng.dirichlet(np.ones(4), n)
        y = rng.integers(0, 3 if seed == 3 else 4, n)  # class 3 absent once
        pred = Predictions(y, prob, classes=[0, 1, 2, 3])
    else:
        p = rng.uniform(size=n)
        p[: n // 20] = rng.choice([0.0, 1.0], n // 20)
        pred = Predictions((rng.uniform(size=n) < p).astype(int), p)
    w = rng.uniform(0.2, 3.0, n) if seed >= 4 else None
    tally = Tally.from_predictions(Predictions(pred.y, pred.prob, sample_weight=w,
                                               classes=pred.classes))
    columns = loss_columns(tally)
    capped = np.concatenate([c.cells(c.loss) for c in columns])
    weight = np.concatenate([c.cells(c.w_class) for c in columns])
    result = loss_against_baseline(tally, 0.9, columns, (capped, weight))
    assert result == loss_against_baseline(tally, 0.9, columns)
    # the former per-column computation: each present class's true-class cells, their
    # capped losses plus the log of its share (an absent class skipped)
    shares = tally.class_weight / tally.weight
    values, weights = [], []
    for c, (prob, _, w_class) in enumerate(class_columns(tally)):
        keep = w_class > 0
        if keep.any():
            values.append(-np.log(np.maximum(prob[keep], CLIP_EPS)) + np.log(shares[c]))
            weights.append(w_class[keep])
    n_eff = tally.weight * effective_scale(tally)
    mean, se = _mean_and_se(np.concatenate(values), np.concatenate(weights), n_eff)
    assert (result.difference, result.se) == (mean, se)


@pytest.mark.parametrize("seed", range(4))
def test_calibrated_loss_is_the_per_row_formula(seed):
    # the binary calibrated loss's variance in place: the doubles of the formula written
    # out, s (1 - s) log(s / (1 - s))^2 per row (scores at 0 and 1 clipped)
    from lossgap.core.diagnostics import loss_if_calibrated
    from lossgap.core.uncertainty import effective_scale

    rng = np.random.default_rng(seed)
    n = int(rng.integers(20, 5000))
    p = rng.uniform(size=n)
    p[: n // 10] = rng.choice([0.0, 1.0], n // 10)
    w = rng.uniform(0.2, 3.0, n) if seed % 2 else None
    tally = Tally.from_predictions(Predictions((rng.uniform(size=n) < p).astype(int), p,
                                               sample_weight=w))
    table = tally.tables[0]
    s = np.clip(table.scores, 1e-15, 1 - 1e-15)
    mass = table.weights[:, 0] + table.weights[:, 1]
    variance = float(mass @ (s * (1 - s) * np.log(s / (1 - s)) ** 2))
    se = float(np.sqrt(variance / tally.weight / (tally.weight * effective_scale(tally))))
    assert loss_if_calibrated(tally)["calibrated_se"] == se


@pytest.mark.parametrize("seed", range(4))
def test_binary_calibrated_concentration_is_the_former_codes(seed):
    # the draws' negatives written beside their positives, and the observed share by the
    # null's own pass: the same numbers as the joined arrays and _half_loss_share (the
    # former code, written out here), with and without numba
    from lossgap.core.bootstrap import calibrated_labels
    from lossgap.core.diagnostics import calibrated_concentration
    from lossgap.core.losses import capped_log_loss
    from lossgap.core.uncertainty import quantiles

    rng = np.random.default_rng(seed)
    n = int(rng.integers(200, 4000))
    p = rng.uniform(0.01, 0.99, n)
    y = (rng.uniform(size=n) < p ** [1.0, 1.5, 0.7, 1.0][seed]).astype(int)
    weight = rng.uniform(0.2, 2.0, n) if seed == 3 else None
    tally = Tally.from_predictions(Predictions(y, p, sample_weight=weight))
    labels = calibrated_labels(tally, seed=seed)
    scores, (neg, pos) = labels.table.scores, labels.table.weights.T
    loss = np.concatenate([capped_log_loss(scores), capped_log_loss(1.0 - scores)])
    order = np.argsort(-loss, kind="stable")
    drawn = np.concatenate(
        [labels.positives, labels.mass - labels.positives], axis=1
    )
    null = _half_loss_share(loss[order], drawn[:, order])
    actual = float(_half_loss_share(loss[order], np.concatenate([pos, neg])[None, order])[0])
    got = calibrated_concentration(tally, seed, labels)
    assert got.pooled_share == actual
    assert got.calibrated_median == float(np.median(null))
    assert got.calibrated_low == float(quantiles(null, [0.01])[0])
    assert got.p_value == float((1 + (null <= actual).sum()) / (1 + len(null)))

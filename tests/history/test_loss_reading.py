"""What the logged loss is made of (issue 18, item 6): a loss no calibrated model with the
logged accuracy can have, and epochs that predict the majority class for every sample."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score, log_loss

from lossgap.history import analyse_history, analyse_run
from lossgap.render.history import history_answer
from lossgap.rules.book import ASSUMED_CLASSES
from tests.helpers.data import REAL_LOGS, needs_real_logs
from tests.helpers.histories import run_of

TRASH = "lightning/LhoWann__trash-project__lightning_logs__version_0__metrics.csv"
NEWS = "hf/arshiv-web__Financial-News-Sentiment-Analysis__trainer_state.json"


def fano_by_hand(accuracy: float, classes: int) -> float:
    """h(A) + (1 - A) ln(K - 1), written out."""
    a = accuracy
    return -a * math.log(a) - (1 - a) * math.log(1 - a) + (1 - a) * math.log(classes - 1)


def calibrated_epochs(seed: int, *, smoothing: float = 0.0, epochs: int = 12, n: int = 2000):
    """Per-epoch (log loss, accuracy) of calibrated 10-class predictions whose labels are
    drawn from them, sharpening over training; with label smoothing the loss is the
    smoothed cross-entropy a framework would log."""
    rng = np.random.default_rng(seed)
    k = 10
    losses, accuracies = [], []
    for e in range(epochs):
        logits = rng.normal(0, 5 + e / 2, size=(n, k))  # fine-tuning: accurate from the start
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        y = (p.cumsum(axis=1) > rng.random((n, 1))).argmax(axis=1)
        target = np.full((n, k), smoothing / k)
        target[np.arange(n), y] += 1 - smoothing
        losses.append(float(-(target * np.log(p)).sum(axis=1).mean()))
        accuracies.append(accuracy_score(y, p.argmax(axis=1)))
    return np.array(losses), np.array(accuracies)


@needs_real_logs
def test_a_loss_of_1_23_at_98_percent_accuracy_has_other_terms():
    (analysis,) = analyse_history(REAL_LOGS / TRASH).runs
    facts = analysis.loss_composition
    assert facts.points == facts.above == 10
    # the bound at the accuracy lowered by its 95% noise for the validation size the log
    # implies, rounded down to 1e-4
    a, n = facts.accuracy, analysis.n_val
    lowered = a - 1.959963984540054 * math.sqrt(a * (1 - a) / n) if n else a
    at_grid = math.floor(lowered * 1e4) / 1e4
    assert facts.calibrated_max == pytest.approx(fano_by_hand(at_grid, int(ASSUMED_CLASSES)))
    assert 0 <= facts.calibrated_max - fano_by_hand(lowered, int(ASSUMED_CLASSES)) < 1e-3
    assert facts.loss == pytest.approx(1.2285, abs=1e-4) and facts.accuracy > 0.98
    (finding,) = [f for f in analysis.findings if f.code == "loss_has_extra_terms"]
    assert "all 10 epochs" in finding.message and "label smoothing" in finding.message.lower()


def test_calibrated_logs_never_read_as_a_loss_with_other_terms():
    fired = 0
    for seed in range(40):
        loss, acc = calibrated_epochs(seed)
        assert all(log_loss_ok >= 0 for log_loss_ok in loss)
        fired += analyse_run(run_of(val_loss=loss, val_accuracy=acc)).loss_composition.above > 0
    assert fired == 0


def test_the_plain_loss_is_sklearns_log_loss_of_the_simulated_epoch():
    """The simulation's unsmoothed loss is the log loss, so the null above is the right one."""
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(4), 500)
    y = (p.cumsum(axis=1) > rng.random((500, 1))).argmax(axis=1)
    assert -np.log(p[np.arange(500), y]).mean() == pytest.approx(log_loss(y, p, labels=range(4)))


def test_label_smoothing_in_the_logged_loss_is_found():
    found = 0
    for seed in range(10):
        loss, acc = calibrated_epochs(seed, smoothing=0.3, epochs=12)
        analysis = analyse_run(run_of(val_loss=loss, val_accuracy=acc))
        found += any(f.code == "loss_has_extra_terms" for f in analysis.findings)
    assert found >= 9


def test_one_class_predictions_have_the_collapse_fingerprint():
    """sklearn's macro-F1 of the majority rule is 2A / (1 + A) / K, the rule's premise."""
    rng = np.random.default_rng(2)
    for k, share in ((5, 0.902), (3, 0.6), (10, 0.35)):
        rest = rng.choice(np.arange(1, k), size=1000 - int(share * 1000))
        y = np.concatenate([np.zeros(int(share * 1000), int), rest])
        y[-(k - 1):] = np.arange(1, k)  # every class present
        pred = np.zeros_like(y)
        a = accuracy_score(y, pred)
        assert f1_score(y, pred, average="macro") == pytest.approx(2 * a / (1 + a) / k)


@needs_real_logs
def test_the_collapsed_epoch_is_named_and_never_crowned():
    report = analyse_history(REAL_LOGS / NEWS)
    (analysis,) = report.runs
    assert analysis.collapse.epochs == (1,) and analysis.collapse.classes == (5,)
    (finding,) = [f for f in analysis.findings if f.code == "majority_collapse"]
    assert "0.9021" in finding.message and "5 classes" in finding.message
    # epoch 1 has the highest accuracy as logged (0.902) but is the majority rule
    assert analysis.best["val_accuracy"].epoch == 9
    assert analysis.disagreement.score_best_epoch == 9
    assert analysis.advice.decisions.epoch != 1
    answer = history_answer(report)
    assert "epoch 1 " not in answer.headline and "epoch 1:" not in answer.headline


def test_healthy_macro_f1_is_no_collapse():
    t = np.arange(20.0)
    acc = 0.6 + 0.3 * (1 - np.exp(-t / 5))
    analysis = analyse_run(
        run_of(val_loss=1.0 - 0.5 * (1 - np.exp(-t / 5)), val_accuracy=acc, val_f1_macro=acc - 0.05)
    )
    assert analysis.collapse is None
    assert all(f.code != "majority_collapse" for f in analysis.findings)

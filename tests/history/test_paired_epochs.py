"""history and compare on the same two epochs reach the same conclusion (issue 18, item 5):
with the two epochs' saved predictions, history runs compare's paired test."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from scipy.special import expit
from sklearn.metrics import accuracy_score, log_loss

import lossgap
from lossgap.history import analyse_history
from lossgap.integrations import write_epoch_predictions

N = 2000
#: Ever more confident, same-ranked epochs: the loss is best early, the accuracy at epoch 4.
SCALES = [0.8, 1.0, 1.6, 2.2, 2.8, 3.4]
BEST_ACCURACY = 4


def epochs(tmp_path, gained: int, lost: int):
    """Per-epoch predictions and their log; epoch 4 turns ``gained`` wrong samples right and
    ``lost`` right samples wrong (the rest keep their decisions: one ranking)."""
    rng = np.random.default_rng(5)
    z = rng.normal(0, 1.5, N)
    y = (rng.random(N) < expit(z)).astype(int)
    wrong = np.flatnonzero((z >= 0) != (y == 1))
    right = np.flatnonzero((z >= 0) == (y == 1))
    probs = []
    for epoch, scale in enumerate(SCALES):
        p = expit(scale * z)
        if epoch == BEST_ACCURACY:
            p[wrong[:gained]] = np.where(y[wrong[:gained]] == 1, 0.55, 0.45)
            p[right[:lost]] = np.where(y[right[:lost]] == 1, 0.45, 0.55)
        write_epoch_predictions(tmp_path / "preds", epoch, y, p)
        probs.append(p)
    rows = ["epoch,loss,val_loss,val_accuracy"]
    for epoch, p in enumerate(probs):
        accuracy = accuracy_score(y, p >= 0.5)
        rows.append(f"{epoch},{0.6 - epoch / 20},{log_loss(y, p)!r},{accuracy!r}")
    (tmp_path / "training.log").write_text("\n".join(rows) + "\n")
    return y, probs


@pytest.mark.parametrize(("gained", "lost", "real"), [(40, 4, True), (9, 6, False)])
def test_history_and_compare_agree_on_the_same_two_epochs(tmp_path, gained, lost, real):
    y, probs = epochs(tmp_path, gained, lost)
    report = analyse_history(tmp_path / "training.log", predictions=tmp_path / "preds")
    (analysis,) = report.runs
    facts = analysis.disagreement
    early = int(np.argmin([log_loss(y, p) for p in probs]))
    assert (facts.loss_best_epoch, facts.score_best_epoch) == (early, BEST_ACCURACY) != (4, 4)
    test = facts.noise.paired
    assert (test.from_only_correct, test.to_only_correct) == (lost, gained)
    # McNemar's exact test by scipy: the two-sided binomial test of the discordant pairs
    expected = stats.binomtest(gained, gained + lost, 0.5).pvalue
    assert test.p_value == pytest.approx(expected, rel=1e-12)
    # compare on those two epochs
    c = lossgap.compare({"late": probs[BEST_ACCURACY], "early": probs[early]}, y)
    pair = c.pair("late", "early")
    d = pair.accuracy_difference
    sign = 1 if pair.a == "late" else -1  # compare stores a - b in its ranking's order
    assert d.p_value == pytest.approx(test.p_value, rel=1e-12)
    assert sign * d.value == pytest.approx(test.difference, rel=1e-12)
    assert (sign * d.ci_low, sign * d.ci_high) == pytest.approx(
        (test.ci_low, test.ci_high)[:: sign], rel=1e-12
    )
    assert d.significant is test.significant is real
    assert facts.noise.within_noise is (not real)
    assert facts.noise.noise_verdict == ("beyond" if real else "within")
    (finding,) = [f for f in analysis.findings if f.code == "best_epochs_disagree"]
    assert "McNemar" in finding.message and ("beyond" if real else "within") in finding.message
    # the advice's decisions epoch, when it is a saved one, is judged the same way
    dec = analysis.advice.decisions
    if dec.noise.paired is not None:
        assert dec.noise.paired.test == test.test


def test_without_the_epochs_predictions_the_bound_is_used(tmp_path):
    epochs(tmp_path, 40, 4)
    (analysis,) = analyse_history(tmp_path / "training.log", n_val=N).runs
    assert analysis.disagreement.noise.paired is None
    assert analysis.disagreement.noise.noise_verdict in ("beyond", "within", "undetermined")

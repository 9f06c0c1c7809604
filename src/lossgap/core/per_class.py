"""Per-class numbers and the confusion pairs that carry the loss, from a Tally.

Everything is read from mergeable sums, so every engine (arrays, streamed files, Spark,
torch) gives the same numbers:

* precision, recall, F1 and support from the confusion matrix;
* each class's share of the log loss from the clipped loss summed per confusion cell
  (``Tally.confusion_loss``), whose rows are the classes' samples and whose off-diagonal
  cells are the confusion pairs;
* one-vs-rest log loss, ECE, smooth ECE and CORP terms from the class's score table;
* confident errors from the class's true-class cells, against what a calibrated model
  would make there: a class given probability ``q`` is the true one with probability
  ``q``, so the expected weight of confident errors is the sum of ``q`` over every sample
  where the column is at most ``1 - level``; for a pair ``(i, j)`` the expected weight is
  ``p_i`` summed over the samples decided as ``j`` (``Tally.confusion_expected``).

Losses are capped at 34.54 nats (probability 1e-15), so shares stay meaningful when a
loss is infinite.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.special import pdtrc

from lossgap.core.calibration import CalibrationErrors, ece_bin_starts
from lossgap.core.decompose import corp, log_score_total
from lossgap.core.diagnostics import CONFIDENT_LEVEL
from lossgap.core.losses import capped_log_loss
from lossgap.core.metrics import _per_class, _ratio
from lossgap.core.predictions import python_scalar
from lossgap.core.tally import Tally
from lossgap.results.evaluation import DecompositionTerms
from lossgap.results.slices import ClassSummary, Confusion, ConfusionPair

#: Confusion pairs reported, at most (the most loss first).
MAX_PAIRS = 20
#: Ids listed per pair, at most.
PAIR_IDS = 5


def poisson_tail(observed: float, expected: float) -> float:
    """Chance of at least ``observed`` events when ``expected`` are due (1 for none seen).

    Examples
    --------
    >>> round(poisson_tail(5, 1.0), 5), poisson_tail(0, 3.0)
    (0.00366, 1.0)
    """
    if round(observed) <= 0:
        return 1.0
    # pdtrc(k, mu) = P(X > k) is scipy.stats.poisson.sf, without importing scipy.stats (a
    # third of the command line's start-up)
    return float(pdtrc(round(observed) - 1, expected))


def reliability_bins(
    scores: np.ndarray, w_neg: np.ndarray, w_pos: np.ndarray, bins: int
) -> dict[str, list[float]]:
    """The ECE's equal-width bins that hold weight: mean score, observed share, weight.

    ``scores`` ascend (a score table's), so each bin is a run of rows
    (:func:`lossgap.core.calibration.ece_bin_starts`).

    Examples
    --------
    >>> bins = reliability_bins(np.array([0.1, 0.15, 0.8]), np.array([1.0, 1.0, 0.0]),
    ...                         np.array([0.0, 1.0, 1.0]), 2)
    >>> bins["score"], bins["observed"], bins["weight"]
    ([0.13333333333333333, 0.8], [0.3333333333333333, 1.0], [3.0, 1.0])
    """
    if not len(scores):
        return {"score": [], "observed": [], "weight": []}
    starts = ece_bin_starts(scores, bins)
    mass = w_neg + w_pos
    weight = np.add.reduceat(mass, starts)
    held = weight > 0
    return {
        "score": (np.add.reduceat(mass * scores, starts)[held] / weight[held]).tolist(),
        "observed": (np.add.reduceat(w_pos, starts)[held] / weight[held]).tolist(),
        "weight": weight[held].tolist(),
    }


def per_class(
    tally: Tally,
    errors: CalibrationErrors,
    *,
    full: bool = True,
    level: float = CONFIDENT_LEVEL,
    log_loss_terms: Sequence[DecompositionTerms] | None = None,
) -> list[ClassSummary]:
    """The per-class summaries of a multiclass Tally (empty for binary).

    Parameters
    ----------
    tally : Tally
    errors : CalibrationErrors
        The Tally's calibration errors (their classwise arrays).
    full : bool, default=True
        Compute the CORP terms too.
    level : float, default=0.9
        A confident error gives its true class at most ``1 - level``.
    log_loss_terms : sequence of DecompositionTerms, optional
        Each column's CORP log-loss terms when the caller has them (the decomposition
        section's ``per_class``, in the Tally's class order): not computed again.

    Returns
    -------
    list of ClassSummary

    Examples
    --------
    >>> from lossgap import Predictions
    >>> from lossgap.core.calibration import calibration_errors
    >>> prob = np.array([[0.7, 0.2, 0.1], [0.3, 0.6, 0.1], [0.2, 0.2, 0.6], [0.05, 0.9, 0.05]])
    >>> t = Tally.from_predictions(Predictions([0, 1, 2, 0], prob))
    >>> rows = per_class(t, calibration_errors(t, smooth=False), full=False)
    >>> [(r.label, r.support, r.recall, r.confident_errors) for r in rows]
    [(0, 2.0, 0.5, 1.0), (1, 1.0, 1.0, 0.0), (2, 1.0, 1.0, 0.0)]
    """
    if tally.task == "binary" or errors.classwise_ece is None:
        return []
    tp, predicted, actual = _per_class(tally.confusion)
    precision, recall = _ratio(tp, predicted), _ratio(tp, actual)
    f1 = _ratio(2 * tp, predicted + actual)
    class_loss = tally.confusion_loss.sum(axis=1)
    total_loss = class_loss.sum()
    smooth = errors.classwise_smooth_ece
    rows = []
    for c, table in enumerate(tally.tables):
        scores, (w_neg, w_pos) = table.scores, table.weights.T
        weight = w_neg + w_pos
        # the scores ascend: the rows at most 1 - level are a prefix
        low = slice(0, int(np.searchsorted(scores, 1 - level, side="right")))
        observed = float(w_pos[low].sum())
        expected = float((weight[low] * scores[low]).sum())
        confident_loss = float(w_pos[low] @ capped_log_loss(scores[low]))
        parts = None
        if full and 0 < w_pos.sum() < weight.sum():
            parts = corp(table).log_loss if log_loss_terms is None else log_loss_terms[c]
        # CORP scored the column's own log loss already
        ovr_log_loss = (
            parts.score
            if parts is not None
            else log_score_total(scores, table.weights) / float(weight.sum())
        )
        rows.append(
            ClassSummary(
                label=python_scalar(tally.classes[c]),
                support=float(actual[c]),
                precision=float(precision[c]),
                recall=float(recall[c]),
                f1=float(f1[c]),
                loss_share=float(class_loss[c] / total_loss) if total_loss > 0 else float("nan"),
                log_loss=float(class_loss[c] / actual[c]) if actual[c] > 0 else float("nan"),
                ovr_log_loss=ovr_log_loss,
                ece=float(errors.classwise_ece[c]),
                smooth_ece=float(smooth[c]) if smooth is not None else float("nan"),
                miscalibration=None if parts is None else parts.miscalibration,
                discrimination=None if parts is None else parts.discrimination,
                uncertainty=None if parts is None else parts.uncertainty,
                confident_errors=observed,
                expected_if_calibrated=expected,
                confident_errors_loss_share=confident_loss / total_loss if total_loss > 0 else 0.0,
                p_value=poisson_tail(observed, expected),
                reliability=reliability_bins(scores, w_neg, w_pos, errors.bins),
            )
        )
    return rows


def confusion(tally: Tally) -> Confusion:
    """The confusion matrix with the share of the log loss in each cell.

    Examples
    --------
    >>> from lossgap import Predictions
    >>> t = Tally.from_predictions(Predictions([0, 1, 1], [0.2, 0.9, 0.4]))
    >>> confusion(t).matrix
    [[1.0, 0.0], [1.0, 1.0]]
    """
    total = tally.confusion_loss.sum()
    share = tally.confusion_loss / total if total > 0 else np.zeros_like(tally.confusion_loss)
    return Confusion(
        classes=[python_scalar(c) for c in tally.classes],
        matrix=tally.confusion.tolist(),
        loss_share=share.tolist(),
    )


def confusion_pairs(tally: Tally, *, limit: int = MAX_PAIRS) -> list[ConfusionPair]:
    """The off-diagonal confusion cells that carry the most log loss, most first.

    Multiclass only (a binary Tally has no expected counts per cell): an empty list.

    Examples
    --------
    >>> from lossgap import Predictions
    >>> prob = np.array([[0.7, 0.2, 0.1], [0.8, 0.1, 0.1], [0.2, 0.2, 0.6], [0.05, 0.9, 0.05]])
    >>> pairs = confusion_pairs(Tally.from_predictions(Predictions([0, 1, 2, 0], prob)))
    >>> [(p.true, p.predicted, p.count, p.ids) for p in pairs]
    [(0, 1, 1.0, [3]), (1, 0, 1.0, [1])]
    """
    if tally.confusion_expected is None:
        return []
    k = tally.n_classes
    total = tally.confusion_loss.sum()
    loss = tally.confusion_loss.copy()
    np.fill_diagonal(loss, -1.0)
    cells = [c for c in np.argsort(-loss, axis=None, kind="stable") if loss.flat[c] >= 0]
    worst = tally.worst
    pairs = []
    for cell in cells:
        i, j = divmod(int(cell), k)
        count = float(tally.confusion[i, j])
        if count <= 0:
            continue
        expected = float(tally.confusion_expected[i, j])
        mine = (worst.label == i) & (worst.predicted == j)
        pairs.append(
            ConfusionPair(
                true=python_scalar(tally.classes[i]),
                predicted=python_scalar(tally.classes[j]),
                count=count,
                loss_share=float(loss[i, j] / total) if total > 0 else 0.0,
                expected_if_calibrated=expected,
                p_value=poisson_tail(count, expected),
                ids=[python_scalar(v) for v in worst.ids[mine][:PAIR_IDS]],
            )
        )
        if len(pairs) == limit:
            break
    return pairs

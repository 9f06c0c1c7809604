"""Per-sample losses of validated predictions, computed in log space.

Notes
-----
Natural logarithms (nats). The log loss of a binary logit ``z`` is ``softplus(-z)`` for a
positive and ``softplus(z)`` for a negative, computed with :func:`numpy.logaddexp`, never
``log(sigmoid(z))``, which underflows to ``-inf`` for ``z < -745``.

A probability of exactly 0 on the true class is an infinite loss. It stays infinite here;
:data:`CLIP_EPS` defines the documented clipped value ``min(loss, -ln(CLIP_EPS))``
reported beside it.
"""

from __future__ import annotations

import numpy as np

from lossgap.core.binning import binary_true_prob_of_codes
from lossgap.core.predictions import Predictions
from lossgap.results.evaluation import CLIP_EPS, MAX_CLIPPED_LOSS

__all__ = [
    "CLIP_EPS",
    "MAX_CLIPPED_LOSS",
    "capped_log_loss",
    "label_log_losses",
    "sample_brier",
    "sample_log_loss",
    "true_class_prob",
]


def sample_log_loss(
    pred: Predictions, true_prob: np.ndarray | None = None, *, out: np.ndarray | None = None
) -> np.ndarray:
    """Log loss of each sample, in nats (``inf`` where the true class has probability 0).

    Parameters
    ----------
    pred : Predictions
        Validated predictions.
    true_prob : ndarray, default=None
        :func:`true_class_prob` of ``pred`` when the caller has it already (unused for
        logits, whose loss is computed from the logits for precision).
    out : ndarray of float64, shape (n,), default=None
        Where to write the losses (it may be ``true_prob``'s buffer); the same doubles.

    Returns
    -------
    ndarray of float64, shape (n,)

    Examples
    --------
    >>> from lossgap import Predictions
    >>> sample_log_loss(Predictions([1, 0], [0.5, 0.0])).round(4).tolist()
    [0.6931, 0.0]
    >>> sample_log_loss(Predictions([1, 0], [-800.0, 3.0], from_logits=True)).round(4).tolist()
    [800.0, 3.0486]
    """
    if pred.logits is not None:
        if pred.task == "binary":
            # softplus(-z) for positives, softplus(z) for negatives
            signed = np.where(pred.y == 1, -pred.logits, pred.logits)
            return np.logaddexp(0.0, signed, out=out)
        return np.negative(pred.logits[np.arange(len(pred)), pred.y], out=out)
    if true_prob is None:
        true_prob = true_class_prob(pred, out=out)
    with np.errstate(divide="ignore"):
        loss = np.log(true_prob, out=out)
    return np.negative(loss, out=loss)


def capped_log_loss(prob: np.ndarray) -> np.ndarray:
    """``-log(max(prob, CLIP_EPS))``: the log loss of each probability given to the true
    class, capped at :data:`MAX_CLIPPED_LOSS`, in one array (the same doubles as the
    expression's temporaries). The diagnostics rank and share capped losses, so that an
    infinite one still ranks first without swallowing the total.

    Examples
    --------
    >>> capped_log_loss(np.array([0.5, 0.0])).round(4).tolist()
    [0.6931, 34.5388]
    """
    loss = np.maximum(prob, CLIP_EPS)
    np.log(loss, out=loss)
    return np.negative(loss, out=loss)


def label_log_losses(
    prob: np.ndarray, out: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The log loss of each probability of the positive class for a negative label and
    for a positive one, ``-log1p(-prob)`` and ``-log(prob)``, unclipped (``inf`` at 0 and
    1), in two arrays computed in place: numpy's doubles of those expressions without
    their four temporaries. ``out`` holds the positives' (it may be ``prob`` itself: the
    negatives' are taken first).

    Examples
    --------
    >>> neg, pos = label_log_losses(np.array([0.5, 0.9]))
    >>> neg.round(4).tolist(), pos.round(4).tolist()
    ([0.6931, 2.3026], [0.6931, 0.1054])
    """
    # into arrays even for one value (a 0-d one): numpy's ufuncs return scalars there
    neg = np.negative(prob, out=np.empty_like(prob))
    np.negative(np.log1p(neg, out=neg), out=neg)
    pos = np.log(prob, out=np.empty_like(prob) if out is None else out)
    return neg, np.negative(pos, out=pos)


def sample_brier(
    pred: Predictions, *, out: np.ndarray | None = None, true_prob: np.ndarray | None = None
) -> np.ndarray:
    """Brier score of each sample: ``(p - y)^2`` (binary) or ``sum_k (p_k - 1[y=k])^2``.

    Matches :func:`sklearn.metrics.brier_score_loss`: the binary form ranges over [0, 1],
    the multiclass form over [0, 2]. ``out``: where to write it (float64, shape (n,));
    ``true_prob``: multiclass, :func:`true_class_prob` of ``pred`` when the caller has it.

    Examples
    --------
    >>> from lossgap import Predictions
    >>> sample_brier(Predictions([1, 0], [0.8, 0.4])).round(4).tolist()
    [0.04, 0.16]
    """
    if pred.task == "binary":
        # written in place: at 1e6 samples every fresh 8 MB temporary costs page faults
        brier = np.subtract(pred.prob, pred.y, out=out)
        return np.square(brier, out=brier)
    # sum_k p_k^2 - 2 p_y + 1, without building the one-hot matrix
    brier = np.einsum("ij,ij->i", pred.prob, pred.prob, out=out)
    brier -= 2.0 * (true_class_prob(pred) if true_prob is None else true_prob)
    brier += 1.0
    return brier


def true_class_prob(pred: Predictions, *, out: np.ndarray | None = None) -> np.ndarray:
    """Probability given to each sample's true class (written to ``out`` when given).

    For binary, ``1 - p`` is exact for ``p >= 0.5`` (Sterbenz), so the loss keeps full
    precision near certainty (:func:`~lossgap.core.binning.binary_true_prob`).
    """
    if pred.task == "binary":
        target = np.empty(len(pred)) if out is None else out
        return binary_true_prob_of_codes(pred.prob, pred.y, target)
    chosen = pred.prob[np.arange(len(pred)), pred.y]
    if out is None:
        return chosen
    out[:] = chosen
    return out

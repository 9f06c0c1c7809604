"""``explain_multilabel``: each label a binary problem with its full explanation, plus
micro and macro summaries and the labels that carry the loss.

* Each label ``j`` is evaluated as the binary problem ``(y[:, j], p[:, j])`` with classes
  0 and 1 (:func:`lossgap.explain`'s numbers, scikit-learn's on that column).
* ``micro`` pools every (sample, label) pair into one binary problem: the merge of the
  labels' Tallies, so its precision, recall and F1 are scikit-learn's
  ``average="micro"`` on the indicator matrices, and its log loss the mean over pairs.
* ``macro`` is the unweighted mean over labels of each metric (NaN when a label's metric
  is undefined, such as the ROC AUC of a label with one class present).
* ``loss_share`` is each label's share of the summed log loss (losses capped at 34.54
  nats); findings name the labels whose own findings are of high or medium severity.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import numpy.typing as npt

from lossgap.core.calibration import ECE_BINS
from lossgap.core.predictions import Predictions, python_scalar, to_numpy
from lossgap.core.tally import DEFAULT_TOP, Tally, merge_all
from lossgap.errors import InputError
from lossgap.explanation import evaluate, evaluate_predictions
from lossgap.results.multilabel import MultilabelEvaluation
from lossgap.rules.slices import label_findings


def _matrix(values: npt.ArrayLike, name: str) -> np.ndarray:
    array = to_numpy(values, name)
    if array.ndim != 2 or array.shape[1] == 0:
        msg = f"{name} has shape {array.shape}: pass an (n, L) array, one column per label"
        raise InputError(msg)
    return array


def explain_multilabel(
    y_true: npt.ArrayLike,
    y_prob: npt.ArrayLike,
    *,
    labels: Sequence[str] | None = None,
    from_logits: bool = False,
    sample_weight: npt.ArrayLike | None = None,
    ids: npt.ArrayLike | None = None,
    threshold: float = 0.5,
    top: int = 10,
    confidence: float = 0.95,
    seed: int = 0,
    ece_bins: int = ECE_BINS,
) -> MultilabelEvaluation:
    """Evaluate multilabel predictions: one binary explanation per label, and the whole.

    Parameters
    ----------
    y_true : array-like of shape (n, L)
        0/1 (or boolean) indicator of each label.
    y_prob : array-like of shape (n, L)
        Probability of each label (logits with ``from_logits=True``).
    labels : sequence of str, default=None
        Label names in column order; default the DataFrame's columns or ``"0"``, ``"1"``...
    from_logits, sample_weight, ids, threshold, top, confidence, seed, ece_bins
        As for :func:`lossgap.explain`, applied to every label.

    Returns
    -------
    MultilabelEvaluation

    Raises
    ------
    lossgap.InputError
        Shapes that differ, a label column that is not 0/1, invalid probabilities.

    Examples
    --------
    >>> import lossgap
    >>> y = [[1, 0], [0, 1], [1, 1], [0, 0]]
    >>> p = [[0.8, 0.3], [0.4, 0.6], [0.7, 0.9], [0.2, 0.1]]
    >>> ml = lossgap.explain_multilabel(y, p, labels=["cat", "dog"])
    >>> ml.evaluation("dog").metric("accuracy"), ml.micro.n
    (1.0, 8)
    """
    truth, prob = _matrix(y_true, "y_true"), _matrix(y_prob, "y_prob")
    if truth.shape != prob.shape:
        msg = (
            f"y_true has shape {truth.shape} but y_prob {prob.shape}: pass one probability "
            "per label and sample"
        )
        raise InputError(msg)
    width = truth.shape[1]
    columns = getattr(y_prob, "columns", None)  # a DataFrame names its labels
    if labels is not None:
        names = list(labels)
    else:
        names = list(columns) if columns is not None else [str(j) for j in range(width)]
    if len(names) != width:
        msg = f"{len(names)} label names for {width} label columns: pass one name per column"
        raise InputError(msg)
    names = [str(name) for name in names]
    for j, name in enumerate(names):
        column = truth[:, j]
        bad = ~np.isin(column, (0, 1, True, False))
        if bad.any():
            row = int(np.argmax(bad))
            msg = (
                f"label {name!r} holds {python_scalar(column[row])!r} at row {row}: a multilabel "
                "indicator is 0 or 1 (one column per label)"
            )
            raise InputError(msg)
    evaluations = []
    tallies = []
    options: dict[str, Any] = {
        "top": top, "confidence": confidence, "seed": seed, "ece_bins": ece_bins
    }
    for j, name in enumerate(names):
        pred = Predictions(
            truth[:, j].astype(np.int64),
            prob[:, j],
            from_logits=from_logits,
            sample_weight=sample_weight,
            classes=(0, 1),
            ids=ids,
            threshold=threshold,
            label_name=name,
            prob_names=[f"y_prob[:, {j}] ({name})"],
        )
        evaluation = evaluate_predictions(pred, **options)
        evaluations.append(evaluation)
        tallies.append(Tally.from_predictions(pred, top=max(top, DEFAULT_TOP)))
    micro = evaluate(merge_all(tallies), weighted=sample_weight is not None, **options)
    metric_names = [m for m in evaluations[0].metrics if all(m in e.metrics for e in evaluations)]
    macro = {m: float(np.mean([e.metric(m) for e in evaluations])) for m in metric_names}
    losses = np.array([t.clipped_loss_sum for t in tallies])
    shares = (losses / losses.sum() if losses.sum() > 0 else np.zeros(width)).tolist()
    result = MultilabelEvaluation(names, evaluations, micro, macro, shares)
    return replace(result, findings=label_findings(result))

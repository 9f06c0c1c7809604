"""``explain``: predictions in, an :class:`~lossgap.evaluation.Evaluation` out.

The pipeline is the data flow of ``docs/architecture.md``: validate
(:class:`~lossgap.predictions.Predictions`), summarise (:class:`~lossgap.tally.Tally`),
compute the metrics from the Tally, then let the finding rules read the result.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy.typing as npt

from lossgap.evaluation import Evaluation, MetricValue
from lossgap.findings import find
from lossgap.metrics import METRICS, class_shares, log_loss_clipped, majority_accuracy
from lossgap.predictions import Predictions, python_scalar
from lossgap.tally import DEFAULT_TOP, Tally


def explain(
    y_true: npt.ArrayLike,
    y_prob: npt.ArrayLike,
    *,
    from_logits: bool = False,
    sample_weight: npt.ArrayLike | None = None,
    classes: Sequence[Any] | None = None,
    positive: Any = None,
    ids: npt.ArrayLike | None = None,
    threshold: float = 0.5,
    top: int = 10,
) -> Evaluation:
    """Evaluate predicted probabilities and explain how loss and accuracy relate.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        Class labels (ints, bools or strings).
    y_prob : array-like of shape (n,) or (n, k)
        Probability of the positive class, or one column per class; logits with
        ``from_logits=True``. pandas and polars Series/DataFrames are accepted.
    from_logits : bool, default=False
        ``y_prob`` holds logits; losses are then computed in log space.
    sample_weight : array-like of shape (n,), default=None
    classes : sequence, default=None
        Class labels in column order, when they cannot be inferred.
    positive : label, default=None
        The positive class of a binary problem.
    ids : array-like of shape (n,), default=None
        Sample identifiers for the worst samples and findings; default the row index.
    threshold : float, default=0.5
        Binary decision threshold.
    top : int, default=10
        How many of the worst samples to report.

    Returns
    -------
    Evaluation

    Raises
    ------
    lossgap.InputError
        On invalid input, with a one-line message naming the fix.

    See Also
    --------
    lossgap.Predictions : the validation rules.
    lossgap.Tally : the mergeable summary behind every metric.

    Examples
    --------
    >>> import lossgap
    >>> ev = lossgap.explain([0, 0, 1, 1], [0.1, 0.6, 0.35, 0.8])
    >>> ev.metric("accuracy"), ev.metric("roc_auc")
    (0.5, 0.75)
    >>> ev.worst[0]["id"], round(ev.worst[0]["loss"], 3)
    (2, 1.05)
    """
    pred = Predictions(
        y_true,
        y_prob,
        from_logits=from_logits,
        sample_weight=sample_weight,
        classes=classes,
        positive=positive,
        ids=ids,
        threshold=threshold,
    )
    return evaluate_predictions(pred, top=top)


def evaluate_predictions(pred: Predictions, *, top: int = 10) -> Evaluation:
    """Evaluate validated predictions (the CLI and ``explain`` share this)."""
    tally = Tally.from_predictions(pred, top=max(top, DEFAULT_TOP))
    return evaluate(tally, top=top, weighted=pred.sample_weight is not None)


def evaluate(tally: Tally, *, top: int = 10, weighted: bool = False) -> Evaluation:
    """Build the Evaluation of a (possibly merged) Tally and run the finding rules."""
    metrics = {name: MetricValue(fn(tally)) for name, fn in METRICS.items()}
    metrics["log_loss_clipped"] = MetricValue(log_loss_clipped(tally))
    shares = class_shares(tally)
    binary = tally.task == "binary"
    evaluation = Evaluation(
        task=tally.task,
        n=tally.count,
        classes=list(tally.classes),
        base_rate=float(shares[1]) if binary else shares.tolist(),
        threshold=tally.threshold if binary else None,
        decision_rule=(
            f"p >= {tally.threshold:g} predicts {tally.classes[1]!r}"
            if binary
            else "argmax of the probabilities, ties to the lowest class index"
        ),
        metrics=metrics,
        worst=_worst_rows(tally, top),
        diagnostics={
            "majority_accuracy": majority_accuracy(tally),
            "infinite_count": tally.infinite_count,
        },
        weighted=weighted,
    )
    evaluation.findings = find(evaluation)
    return evaluation


def _worst_rows(tally: Tally, top: int) -> list[dict[str, Any]]:
    worst = tally.worst
    rows = []
    for i in range(min(top, len(worst))):
        rows.append(
            {
                "id": python_scalar(worst.ids[i]),
                "label": tally.classes[int(worst.label[i])],
                "predicted": tally.classes[int(worst.predicted[i])],
                "prob_true_class": float(worst.prob[i]),
                "loss": float(worst.loss[i]),
            }
        )
    return rows

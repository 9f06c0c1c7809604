"""Tally: the mergeable summary every metric is computed from.

A Tally holds, for one set of predictions:

* exact sums: sample count, weight, weight squared, per-class weight, log loss (finite
  part, its square, the clipped total and the weight of infinite losses), Brier score and
  the weighted confusion matrix at the decision rule;
* score tables: for each class column (one for binary), the distinct scores with the
  weight of positives and negatives at each, so ROC AUC, average precision, isotonic fits
  and threshold sweeps are exact;
* the ``top`` worst samples by log loss (id, label, probability, loss).

``a.merge(b)`` is associative and commutative: sums add, tables add weight at equal
scores, heaps keep the top of the union with ties broken by id. Build a Tally per chunk,
per partition or per device and merge them; the metrics are the same as for the whole.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lossgap.errors import InputError
from lossgap.losses import MAX_CLIPPED_LOSS, sample_brier, sample_log_loss, true_class_prob
from lossgap.predictions import Predictions

#: Worst samples kept by default.
DEFAULT_TOP = 100


@dataclass(frozen=True)
class ScoreTable:
    """Distinct scores (ascending) with the weight of negatives and positives at each.

    Attributes
    ----------
    scores : ndarray of float64, shape (m,)
        Distinct scores, ascending.
    weights : ndarray of float64, shape (m, 2)
        Column 0: weight of negatives at that score; column 1: of positives.
    """

    scores: np.ndarray
    weights: np.ndarray

    @classmethod
    def from_samples(
        cls, scores: np.ndarray, positive: np.ndarray, weight: np.ndarray | None
    ) -> ScoreTable:
        """Group samples by score.

        Examples
        --------
        >>> t = ScoreTable.from_samples(np.array([0.2, 0.7, 0.2]), np.array([0, 1, 1]), None)
        >>> t.scores.tolist(), t.weights.tolist()
        ([0.2, 0.7], [[1.0, 1.0], [0.0, 1.0]])
        """
        distinct, inverse = np.unique(scores, return_inverse=True)
        w = np.ones(len(scores)) if weight is None else weight
        pos = np.bincount(inverse, weights=w * positive, minlength=len(distinct))
        total = np.bincount(inverse, weights=w, minlength=len(distinct))
        return cls(distinct, np.column_stack([total - pos, pos]))

    def merge(self, other: ScoreTable) -> ScoreTable:
        """The table of the union of both samples."""
        scores = np.concatenate([self.scores, other.scores])
        distinct, inverse = np.unique(scores, return_inverse=True)
        weights = np.zeros((len(distinct), 2))
        np.add.at(weights, inverse, np.concatenate([self.weights, other.weights]))
        return ScoreTable(distinct, weights)

    def descending_cumulative(self) -> tuple[np.ndarray, np.ndarray]:
        """(false positive, true positive) weights at each distinct threshold, descending.

        Element ``i`` counts samples scored at or above the ``i``-th largest score, so these
        are the points of the ROC and precision-recall curves.
        """
        # cumsum over descending scores keeps both sequences non-decreasing
        desc = self.weights[::-1]
        return np.cumsum(desc[:, 0]), np.cumsum(desc[:, 1])


@dataclass(frozen=True)
class WorstSamples:
    """The samples with the highest log loss, highest first (ties: lower id first)."""

    loss: np.ndarray
    ids: np.ndarray
    label: np.ndarray
    prob: np.ndarray  # probability of the true class
    predicted: np.ndarray

    def keep_top(self, top: int) -> WorstSamples:
        # lexsort's last key is primary: loss descending, then id as text ascending
        order = np.lexsort((self.ids.astype(str), -self.loss))[:top]
        return WorstSamples(*(getattr(self, f)[order] for f in _WORST_FIELDS))

    def merge(self, other: WorstSamples, top: int) -> WorstSamples:
        joined = (np.concatenate([getattr(self, f), getattr(other, f)]) for f in _WORST_FIELDS)
        return WorstSamples(*joined).keep_top(top)

    def __len__(self) -> int:
        return len(self.loss)


_WORST_FIELDS = ("loss", "ids", "label", "prob", "predicted")

#: Fields that merge by addition; every other field has its own merge rule in `merge`.
_SUM_FIELDS = (
    "count",
    "weight",
    "weight_sq",
    "class_weight",
    "loss_sum",
    "loss_sq_sum",
    "clipped_loss_sum",
    "infinite_weight",
    "infinite_count",
    "brier_sum",
    "confusion",
)


@dataclass
class Tally:
    """Mergeable summary of a set of predictions.

    Build one with :meth:`from_predictions`; combine with :meth:`merge`.

    Examples
    --------
    >>> from lossgap import Predictions
    >>> a = Tally.from_predictions(Predictions([0, 1, 1], [0.2, 0.9, 0.4]))
    >>> b = Tally.from_predictions(Predictions([0, 1], [0.6, 0.7]))
    >>> both = a.merge(b)
    >>> both.count, both.confusion.tolist()
    (5, [[1.0, 1.0], [1.0, 2.0]])
    """

    task: str
    classes: tuple[Any, ...]
    threshold: float
    top: int
    count: int
    weight: float
    weight_sq: float
    class_weight: np.ndarray
    loss_sum: float
    loss_sq_sum: float
    clipped_loss_sum: float
    infinite_weight: float
    infinite_count: int
    brier_sum: float
    confusion: np.ndarray
    tables: list[ScoreTable] = field(repr=False)
    worst: WorstSamples = field(repr=False)

    @classmethod
    def from_predictions(cls, pred: Predictions, *, top: int = DEFAULT_TOP) -> Tally:
        """Summarise validated predictions.

        Parameters
        ----------
        pred : Predictions
        top : int, default=100
            How many of the worst samples to keep.
        """
        k = pred.n_classes
        w = pred.sample_weight
        ones = np.ones(len(pred)) if w is None else w
        loss = sample_log_loss(pred)
        infinite = np.isinf(loss) & (ones > 0)
        finite_loss = np.where(infinite, 0.0, loss)
        predicted = pred.predicted()
        confusion = np.bincount(pred.y * k + predicted, weights=ones, minlength=k * k)
        if pred.task == "binary":
            tables = [ScoreTable.from_samples(pred.prob, pred.y, w)]
        else:
            tables = [ScoreTable.from_samples(pred.prob[:, c], pred.y == c, w) for c in range(k)]
        worst = WorstSamples(loss, pred.ids, pred.y, true_class_prob(pred), predicted)
        return cls(
            task=pred.task,
            classes=pred.classes,
            threshold=pred.threshold,
            top=top,
            count=len(pred),
            weight=float(ones.sum()),
            weight_sq=float(ones @ ones),
            class_weight=np.bincount(pred.y, weights=ones, minlength=k),
            loss_sum=float(ones @ finite_loss),
            loss_sq_sum=float(ones @ finite_loss**2),
            clipped_loss_sum=float(ones @ np.minimum(loss, MAX_CLIPPED_LOSS)),
            infinite_weight=float(ones[infinite].sum()),
            infinite_count=int(infinite.sum()),
            brier_sum=float(ones @ sample_brier(pred)),
            confusion=confusion.reshape(k, k),
            tables=tables,
            worst=worst.keep_top(top),
        )

    def merge(self, other: Tally) -> Tally:
        """The Tally of both samples together (associative and commutative)."""
        for name in ("task", "classes", "threshold"):
            mine, theirs = getattr(self, name), getattr(other, name)
            if mine != theirs:
                msg = f"cannot merge Tallies with different {name}: {mine!r} and {theirs!r}"
                raise InputError(msg)
        top = max(self.top, other.top)
        sums = {name: getattr(self, name) + getattr(other, name) for name in _SUM_FIELDS}
        return Tally(
            task=self.task,
            classes=self.classes,
            threshold=self.threshold,
            top=top,
            tables=[a.merge(b) for a, b in zip(self.tables, other.tables, strict=True)],
            worst=self.worst.merge(other.worst, top),
            **sums,
        )

    @property
    def n_classes(self) -> int:
        return len(self.classes)

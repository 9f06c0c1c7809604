"""The torch engine: a Tally computed on the tensors' own device.

Losses are computed in log space (``logaddexp`` and ``log_softmax``), the confusion
matrix with ``bincount``, the score tables with one sort of int64 keys (the kernel of
:mod:`lossgap.core.tally`, run through :class:`TorchOps`), the worst samples with ``topk``.
Nothing is copied to the host but a handful of validity flags and, at the end, the
summary itself (:meth:`lossgap.core.tally.Tally.to_numpy`). Bad input is reported with the
exact message :class:`~lossgap.Predictions` gives, built from a host copy made only then.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from lossgap.core.predictions import ROW_SUM_TOLERANCE, Predictions, to_numpy
from lossgap.core.tally import (
    DEFAULT_BIN_BITS,
    DEFAULT_MAX_DISTINCT,
    DEFAULT_TOP,
    Tally,
    register_array_ops,
)
from lossgap.errors import InputError

_REDUCE = {"sum": "sum", "min": "amin", "max": "amax"}


class TorchOps:
    """The operations of :class:`lossgap.core.tally.NumpyOps` for torch tensors, on their device."""

    @staticmethod
    def sort(x: torch.Tensor) -> torch.Tensor:
        return torch.sort(x).values

    @staticmethod
    def argsort(x: torch.Tensor) -> torch.Tensor:
        return torch.sort(x, stable=True).indices

    @staticmethod
    def runs(x: torch.Tensor) -> tuple[Any, torch.Tensor]:
        change = torch.ones(len(x), dtype=torch.bool, device=x.device)
        change[1:] = x[1:] != x[:-1]
        starts = torch.nonzero(change).flatten()
        return (torch.cumsum(change, 0) - 1, len(starts)), starts

    @staticmethod
    def segment(values: torch.Tensor, runs: Any, how: str) -> torch.Tensor:
        run, size = runs
        out = torch.zeros(size, dtype=values.dtype, device=values.device)
        return out.scatter_reduce_(0, run, values, reduce=_REDUCE[how], include_self=False)

    @staticmethod
    def run_lengths(starts: torch.Tensor, n: int) -> torch.Tensor:
        return torch.diff(starts, append=torch.tensor([n], device=starts.device))

    @staticmethod
    def count_at_most(sorted_x: torch.Tensor, value: float) -> int:
        # slicing needs a host integer: one synchronisation per compressed table
        return int(torch.searchsorted(sorted_x, value, right=True))

    @staticmethod
    def bincount(index: torch.Tensor, weights: torch.Tensor, size: int) -> torch.Tensor:
        return torch.bincount(index, weights=weights, minlength=size)

    @staticmethod
    def float_bits(x: torch.Tensor) -> torch.Tensor:
        return x.to(torch.float64).contiguous().view(torch.int64)

    @staticmethod
    def from_bits(x: torch.Tensor) -> torch.Tensor:
        return x.contiguous().view(torch.float64)

    @staticmethod
    def cat(arrays: Sequence[torch.Tensor]) -> torch.Tensor:
        return torch.cat(list(arrays))

    @staticmethod
    def nonzero(mask: torch.Tensor) -> torch.Tensor:
        return torch.nonzero(mask).flatten()

    @staticmethod
    def where(cond: torch.Tensor, a: Any, b: Any) -> torch.Tensor:
        return torch.where(cond, a, b)

    @staticmethod
    def isinf(x: torch.Tensor) -> torch.Tensor:
        return torch.isinf(x)

    @staticmethod
    def as_float(x: torch.Tensor) -> torch.Tensor:
        return x.to(torch.float64)

    @staticmethod
    def as_int(x: torch.Tensor) -> torch.Tensor:
        return x.to(torch.int64)

    @staticmethod
    def ones_like(x: torch.Tensor) -> torch.Tensor:
        return torch.ones(len(x), dtype=torch.float64, device=x.device)

    @staticmethod
    def arange(n: int, like: torch.Tensor) -> torch.Tensor:
        return torch.arange(n, device=like.device)

    @staticmethod
    def kth_largest(x: torch.Tensor, k: int) -> torch.Tensor:
        return torch.topk(x, k).values[-1]

    @staticmethod
    def tie_key(ids: torch.Tensor) -> torch.Tensor:
        return ids

    @staticmethod
    def columns(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.stack([a, b], dim=1)

    @staticmethod
    def scalar(x: Any) -> Any:
        return x  # stays on the device: reading it would synchronise

    @staticmethod
    def to_numpy(x: Any) -> np.ndarray:
        return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


register_array_ops(torch.Tensor, TorchOps)


def _host(values: Any) -> Any:
    return values.detach().cpu().numpy() if isinstance(values, torch.Tensor) else values


def _flat_labels(y_true: Any, device: torch.device) -> torch.Tensor:
    y = torch.as_tensor(y_true, device=device).detach()
    return y[:, 0] if y.ndim == 2 and y.shape[1] == 1 else y


def predictions_from_cpu_tensors(
    y_true: Any, y_prob: torch.Tensor, *, classes: Sequence[Any] | None = None, **options: Any
) -> Predictions:
    """Predictions of tensors on the CPU, read in place by numpy, under the device rules.

    On the CPU the numpy engine is the faster one and keeps the samples at hand (the
    multiclass decomposition, recalibration maps and bootstrap need them). The labels are
    read as :func:`tally_from_tensors` reads them: class indices (integers, whole floats or
    bools), named by ``classes`` (default ``0 .. k-1``).

    Examples
    --------
    >>> import torch
    >>> pred = predictions_from_cpu_tensors(torch.tensor([0, 1, 1]), torch.tensor([0.2, 0.9, 0.4]),
    ...                                     classes=["cat", "dog"])
    >>> pred.classes, pred.y.tolist()
    (('cat', 'dog'), [0, 1, 1])
    """
    labels = to_numpy(y_true, "y_true")
    prob = to_numpy(y_prob, "y_prob")
    width = prob.shape[1] if prob.ndim == 2 else 1
    k = 2 if width == 1 else width
    whole = labels.dtype.kind == "f" and np.all(labels == np.round(labels))
    if labels.dtype.kind == "b" or whole:
        labels = labels.astype(np.int64)
    if classes is None:
        return Predictions(labels, prob, classes=range(k), **options)
    names = list(classes)
    indices = labels.dtype.kind in "iu" and labels.size and 0 <= labels.min() <= labels.max() < k
    if indices and len(names) == k:  # name each index; anything else gets Predictions' error
        labels = np.asarray(names, dtype=object)[labels]
    return Predictions(labels, prob, classes=names, **options)


def tally_from_tensors(
    y_true: Any,
    y_prob: torch.Tensor,
    *,
    from_logits: bool = False,
    sample_weight: Any | None = None,
    classes: Sequence[Any] | None = None,
    positive: Any = None,
    ids: Any | None = None,
    threshold: float = 0.5,
    top: int = DEFAULT_TOP,
    max_distinct: int = DEFAULT_MAX_DISTINCT,
    bin_bits: int = DEFAULT_BIN_BITS,
    first_id: int = 0,
) -> Tally:
    """The Tally of predictions held in tensors, computed on their device.

    Parameters
    ----------
    y_true : tensor of shape (n,)
        Class indices (integers, or floats that are whole numbers, or bools).
    y_prob : tensor of shape (n,), (n, 2) or (n, k)
        Probability of class 1, or one column per class; logits with ``from_logits``.
    from_logits : bool, default=False
    sample_weight : tensor of shape (n,), default=None
    classes : sequence, default=None
        Names of the class indices; default ``0 .. k-1``.
    positive : label, default=None
        Binary only: the positive class; naming ``classes[0]`` swaps the classes.
    ids : tensor of shape (n,), default=None
        Numeric sample ids; default the row index plus ``first_id``.
    threshold : float, default=0.5
    top, max_distinct, bin_bits : int
        As for :meth:`lossgap.Tally.from_predictions`.
    first_id : int, default=0
        Id of the first row when ``ids`` is None (a streaming metric counts its rows).

    Returns
    -------
    Tally
        With its arrays on the device of ``y_prob``; :meth:`~lossgap.Tally.to_numpy`
        copies the summary to the host.

    Examples
    --------
    >>> import torch
    >>> t = tally_from_tensors(torch.tensor([0, 1, 1]), torch.tensor([0.2, 0.9, 0.4]))
    >>> t.to_numpy().confusion.tolist()
    [[1.0, 0.0], [1.0, 1.0]]
    """
    device = y_prob.device
    prob = y_prob.detach().to(torch.float64)
    y = _flat_labels(y_true, device)
    if prob.ndim == 2 and prob.shape[1] == 1:
        prob = prob[:, 0]
    width = 1 if prob.ndim == 1 else prob.shape[1]
    k = 2 if width == 1 else width
    weight = None
    if sample_weight is not None:
        weight = torch.as_tensor(sample_weight, device=device).detach().to(torch.float64)
    names = tuple(range(k)) if classes is None else tuple(classes)

    def refuse() -> InputError:
        # the message Predictions gives, from a host copy made only for the error
        try:
            Predictions(
                _host(y_true),
                _host(y_prob),
                from_logits=from_logits,
                sample_weight=_host(sample_weight),
                classes=range(k),
                threshold=threshold,
            )
        except InputError as exc:
            return exc
        msg = (
            "the tensors failed validation on their device: check labels, probabilities "
            "and weights"
        )
        return InputError(msg)

    shapes_ok = (
        prob.ndim in (1, 2)
        and y.ndim == 1
        and len(y) == len(prob) > 0
        and (weight is None or weight.shape == y.shape)
        and 0 < threshold < 1
        and (y.dtype != torch.bool or k == 2)
    )
    if not shapes_ok:
        raise refuse()
    if len(names) != k:
        msg = (
            f"{len(names)} classes {names!r} but the probabilities have {k} columns: "
            "name each column once"
        )
        raise InputError(msg)
    bad = _invalid(y, prob, weight, from_logits=from_logits, width=width, k=k)
    if bool(bad):  # the one synchronisation of the update
        raise refuse()
    y = y.to(torch.int64)
    if positive is not None:
        if k != 2 or all(positive != c and str(positive) != str(c) for c in names):
            msg = f"positive class {positive!r} is not one of the binary classes {names!r}"
            raise InputError(msg)
        if positive == names[0] or str(positive) == str(names[0]):
            # as Predictions: a 1-D column is the positive's probability; two columns swap
            names, y = names[::-1], 1 - y
            if width == 2:
                prob = prob.flip(1)
    loss, p, true_prob = _losses(y, prob, from_logits=from_logits, width=width)
    if k == 2:
        predicted = (p >= threshold).to(torch.int64)
        brier = (p - y) ** 2
        columns = [p]
    else:
        predicted = torch.argmax(p, dim=1)  # first maximum: ties to the lowest index
        brier = (p * p).sum(dim=1) - 2 * true_prob + 1
        columns = [p[:, c] for c in range(k)]
    if ids is None:
        ids = torch.arange(first_id, first_id + len(y), device=device)
    else:
        ids = torch.as_tensor(ids, device=device).detach()
    return Tally.from_arrays(
        task="binary" if k == 2 else "multiclass",
        classes=names,
        threshold=threshold,
        y=y,
        columns=columns,
        loss=loss,
        brier=brier,
        predicted=predicted,
        true_prob=true_prob,
        weight=weight,
        ids=ids,
        top=top,
        max_distinct=max_distinct,
        bin_bits=bin_bits,
    )


def _invalid(
    y: torch.Tensor,
    prob: torch.Tensor,
    weight: torch.Tensor | None,
    *,
    from_logits: bool,
    width: int,
    k: int,
) -> torch.Tensor:
    """One boolean on the device: does anything fail the checks of Predictions?"""
    labels = y.to(torch.float64)
    checks = [
        ~torch.isfinite(labels).all(),
        (labels != labels.round()).any(),
        ((labels < 0) | (labels >= k)).any(),
        ~torch.isfinite(prob).all(),
    ]
    if not from_logits:
        checks.append(((prob < 0) | (prob > 1)).any())
        if width >= 2:
            checks.append(((prob.sum(dim=1) - 1).abs() > ROW_SUM_TOLERANCE).any())
    if weight is not None:
        checks += [~torch.isfinite(weight).all(), (weight < 0).any(), weight.sum() <= 0]
    return torch.stack(checks).any()


def _losses(
    y: torch.Tensor, prob: torch.Tensor, *, from_logits: bool, width: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(per-sample log loss, probabilities, probability of the true class), in log space.

    Binary probabilities come back as the positive class's column ``(n,)``; multiclass as
    ``(n, k)``, renormalised rows as Predictions does.
    """
    rows = torch.arange(len(y), device=y.device)
    if width <= 2:
        if from_logits:
            z = prob if width == 1 else prob[:, 1] - prob[:, 0]
            p = torch.sigmoid(z)
            # softplus(-z) for positives, softplus(z) for negatives, never log(sigmoid)
            loss = torch.logaddexp(torch.zeros_like(z), torch.where(y == 1, -z, z))
        else:
            p = prob if width == 1 else prob[:, 1] / prob.sum(dim=1)
            loss = None
        true_prob = torch.where(y == 1, p, 1.0 - p)
        if loss is None:
            loss = -torch.log(true_prob)
        return loss, p, true_prob
    if from_logits:
        log_prob = torch.log_softmax(prob, dim=1)
        p = torch.exp(log_prob)
        return -log_prob[rows, y], p, p[rows, y]
    p = prob / prob.sum(dim=1, keepdim=True)
    true_prob = p[rows, y]
    return -torch.log(true_prob), p, true_prob

"""``LossGapMetric``: lossgap inside a torch training or evaluation loop, as a torchmetrics metric.

A ``torchmetrics.Metric``: :meth:`~LossGapMetric.update` adds a batch,
:meth:`~LossGapMetric.compute` returns the full :class:`~lossgap.Evaluation`,
:meth:`~LossGapMetric.merge` and :meth:`~LossGapMetric.reset` manage the state, and in
``torch.distributed`` (DDP) ``compute`` first merges every rank's state, as every
torchmetrics metric does (:meth:`~LossGapMetric.sync` does it by hand). The state is a
:class:`~lossgap.Tally` whose arrays stay on the batches' device; ``compute`` copies only
that summary to the host. Batch by batch and merged, the evaluation equals
:func:`lossgap.explain` on all the samples at once.

Lightning's ``self.log`` takes a number: :meth:`~LossGapMetric.scalar` gives one metric of
the evaluation as a metric object Lightning computes, syncs and resets at each epoch end::

    self.gap = LossGapMetric(from_logits=True)
    self.gap_log_loss = self.gap.scalar("log_loss")
    ...
    self.gap.update(logits, y)                         # in validation_step
    self.log("val_lossgap_log_loss", self.gap_log_loss)
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.distributed as dist
from torchmetrics import Metric

from lossgap.core.tally import DEFAULT_BIN_BITS, DEFAULT_MAX_DISTINCT, DEFAULT_TOP, Tally, merge_all
from lossgap.engines.torch import tally_from_tensors
from lossgap.errors import InputError
from lossgap.explanation import evaluate
from lossgap.results.evaluation import Evaluation

__all__ = ["LossGapMetric", "LossGapScalar"]

#: The state that torchmetrics caches before a sync and restores after it.
_STATE = ("_tally", "_rows", "_weighted")


def _device(tally: Tally) -> Any:
    return getattr(tally.confusion, "device", "host")


class LossGapMetric(Metric):
    """Streaming lossgap evaluation of a classifier, batch by batch, on the batches' device.

    Parameters
    ----------
    num_classes : int, default=2
        2 for binary (``preds`` of shape ``(n,)``: probability or logit of class 1, or
        ``(n, 2)``), more for multiclass (``preds`` of shape ``(n, num_classes)``).
    from_logits : bool, default=False
        ``preds`` are logits (log-odds for binary); losses are computed in log space.
    classes : sequence, default=None
        Names of the class indices, for the report; default ``0 .. num_classes - 1``.
    threshold : float, default=0.5
        Binary decision threshold: ``p >= threshold`` predicts class 1.
    top : int, default=100
        Worst samples kept.
    max_distinct : int, default=262_144
        Distinct scores per class kept exactly before the tables compress into bins.
    bin_bits : int, default=11
        Resolution of the compressed bins (:func:`lossgap.core.tally.bin_keys`).

    Examples
    --------
    >>> import torch
    >>> from lossgap.torch import LossGapMetric
    >>> metric = LossGapMetric(num_classes=2)
    >>> metric.update(torch.tensor([0.2, 0.9]), torch.tensor([0, 1]))
    >>> metric.update(torch.tensor([0.6, 0.3]), torch.tensor([0, 1]))
    >>> ev = metric.compute()
    >>> ev.n, ev.metric("accuracy")
    (4, 0.5)
    >>> metric.reset(); metric.tally is None
    True
    """

    # The Tally is not a tensor state: its merge is exact and its own, so the hooks where
    # torchmetrics copies, gathers and reduces states are overridden below.
    full_state_update = False
    is_differentiable = False
    higher_is_better = None

    def __init__(
        self,
        num_classes: int = 2,
        *,
        from_logits: bool = False,
        classes: Sequence[Any] | None = None,
        threshold: float = 0.5,
        top: int = DEFAULT_TOP,
        max_distinct: int = DEFAULT_MAX_DISTINCT,
        bin_bits: int = DEFAULT_BIN_BITS,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
            msg = f"num_classes must be an integer of at least 2, got {num_classes!r}"
            raise InputError(msg)
        if classes is not None and len(classes) != num_classes:
            msg = f"{len(classes)} class names for num_classes={num_classes}: name each class once"
            raise InputError(msg)
        self.num_classes = num_classes
        self.from_logits = from_logits
        self.classes = None if classes is None else tuple(classes)
        self.threshold = threshold
        self.top = top
        self.max_distinct = max_distinct
        self.bin_bits = bin_bits
        self.reset()

    def reset(self) -> None:
        """Forget every sample."""
        super().reset()
        self._tally: Tally | None = None
        self._rows = 0
        self._weighted = False

    def _copy_state_dict(self) -> dict[str, Any]:
        # What unsync() restores after compute(): this rank's own samples.
        return {**super()._copy_state_dict(), **{k: getattr(self, k) for k in _STATE}}

    def _apply(self, fn: Any, exclude_state: Sequence[str] = ()) -> Any:
        return super()._apply(fn, exclude_state=(*exclude_state, *_STATE))

    @property
    def tally(self) -> Tally | None:
        """The merged summary so far (arrays on the device), None before any update."""
        return self._tally

    def update(
        self,
        preds: torch.Tensor,
        target: torch.Tensor,
        *,
        sample_weight: torch.Tensor | None = None,
        ids: torch.Tensor | None = None,
    ) -> None:
        """Add a batch.

        Parameters
        ----------
        preds : tensor of shape (n,), (n, 2) or (n, num_classes)
            Probabilities (or logits with ``from_logits``); gradients are ignored.
        target : tensor of shape (n,)
            Class indices.
        sample_weight : tensor of shape (n,), default=None
        ids : tensor of shape (n,), default=None
            Numeric sample ids; default the running row number (per process: pass ids
            to tell samples apart across ranks).
        """
        if self._is_synced:
            msg = (
                "this metric already holds every rank's samples (sync() was called): "
                "call reset() before updating it again"
            )
            raise InputError(msg)
        preds = torch.as_tensor(preds)
        width = 1 if preds.ndim == 1 or preds.shape[-1] == 1 else preds.shape[-1]
        expected = (1, 2) if self.num_classes == 2 else (self.num_classes,)
        if preds.ndim not in (1, 2) or width not in expected:
            msg = (
                f"preds has shape {tuple(preds.shape)} but num_classes={self.num_classes}: "
                f"pass (n,) or (n, 2) for binary, (n, k) for k classes"
            )
            raise InputError(msg)
        batch = tally_from_tensors(
            target,
            preds,
            from_logits=self.from_logits,
            sample_weight=sample_weight,
            classes=self.classes,
            ids=ids,
            threshold=self.threshold,
            top=self.top,
            max_distinct=self.max_distinct,
            bin_bits=self.bin_bits,
            first_id=self._rows,
        )
        self._rows += batch.count
        self._weighted |= sample_weight is not None
        self._tally = batch if self._tally is None else _merge(self._tally, batch)

    def merge(self, other: LossGapMetric) -> LossGapMetric:
        """Add the samples of another metric of the same settings; returns ``self``.

        Examples
        --------
        >>> import torch
        >>> a, b = LossGapMetric(), LossGapMetric()
        >>> a.update(torch.tensor([0.2, 0.9]), torch.tensor([0, 1]))
        >>> b.update(torch.tensor([0.6]), torch.tensor([0]))
        >>> a.merge(b).tally.count
        3
        """
        if not isinstance(other, LossGapMetric):
            msg = f"can merge only another LossGapMetric, got {type(other).__name__}"
            raise InputError(msg)
        if other._tally is not None:
            self._tally = other._tally if self._tally is None else _merge(self._tally, other._tally)
        self._rows += other._rows
        self._weighted |= other._weighted
        return self

    def sync(  # type: ignore[override]
        self,
        dist_sync_fn: Any = None,
        process_group: Any = None,
        should_sync: bool = True,
        distributed_available: Any = None,
        *,
        group: Any = None,
    ) -> LossGapMetric:
        """Merge the states of every rank of ``torch.distributed`` (no-op when not running).

        Every rank gathers every rank's summary (copied to the host; with NCCL the
        current CUDA device must be set) and merges them in rank order, in a tree, so each
        rank then holds the union and :meth:`compute` gives the global evaluation.
        :meth:`compute` does this itself; calling ``sync`` again before :meth:`unsync`
        (or :meth:`reset`) changes nothing, so it can never count a rank twice.

        Returns
        -------
        LossGapMetric
            ``self``.
        """
        if not self._is_synced:
            super().sync(dist_sync_fn, process_group or group, should_sync, distributed_available)
        return self

    def _sync_dist(self, dist_sync_fn: Any = None, process_group: Any = None) -> None:
        group = process_group or self.process_group
        local = None if self._tally is None else self._tally.to_numpy()
        gathered: list[Any] = [None] * dist.get_world_size(group)
        dist.all_gather_object(gathered, (local, self._rows, self._weighted), group=group)
        tallies = [t for t, _, _ in gathered if t is not None]
        self._tally = merge_all(tallies) if tallies else None
        self._rows = sum(rows for _, rows, _ in gathered)
        self._weighted = any(w for _, _, w in gathered)

    def _wrap_compute(self, compute: Callable[..., Any]) -> Callable[..., Any]:
        # torchmetrics' wrapper clones every tensor inside the result, walking into
        # dataclasses, which the frozen parts of an Evaluation refuse; an Evaluation holds
        # no tensors, so only the sync and the cache are kept.
        @functools.wraps(compute)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            default = not (args or kwargs)  # the cache holds compute() with default options
            if default and self._computed is not None:
                return self._computed
            with self.sync_context(
                dist_sync_fn=self.dist_sync_fn,
                should_sync=self._to_sync,
                should_unsync=self._should_unsync,
            ):
                value = compute(*args, **kwargs)
            if default and self.compute_with_cache:
                self._computed = value
            return value

        return wrapped

    def forward(self, *args: Any, **kwargs: Any) -> None:
        """Same as :meth:`update`: a batch alone has no evaluation worth logging per step."""
        self.update(*args, **kwargs)

    def scalar(self, name: str) -> LossGapScalar:
        """One metric of the evaluation, as a metric object for Lightning's ``self.log``.

        Parameters
        ----------
        name : str
            A key of :attr:`Evaluation.metrics <lossgap.Evaluation.metrics>`
            (``"log_loss"``, ``"accuracy"``, ``"ece"``...).

        Examples
        --------
        >>> import torch
        >>> metric = LossGapMetric()
        >>> log_loss = metric.scalar("log_loss")
        >>> metric.update(torch.tensor([0.2, 0.9]), torch.tensor([0, 1]))
        >>> round(log_loss.compute().item(), 6)
        0.164252
        """
        return LossGapScalar(self, name)

    def compute(self, *, top: int = 10, confidence: float = 0.95, seed: int = 0) -> Evaluation:
        """The evaluation of every sample so far (the summary is copied to the host)."""
        if self._tally is None:
            msg = "no samples yet: call update(preds, target) before compute()"
            raise InputError(msg)
        return evaluate(
            self._tally.to_numpy(),
            top=top,
            confidence=confidence,
            seed=seed,
            weighted=self._weighted,
        )


def _merge(a: Tally, b: Tally) -> Tally:
    """Merge on the device when both live there, else on the host."""
    if _device(a) != _device(b):
        return a.to_numpy().merge(b.to_numpy())
    return a.merge(b)


class LossGapScalar(Metric):
    """One number of a :class:`LossGapMetric`'s evaluation (from :meth:`LossGapMetric.scalar`).

    Computing it computes (and in DDP syncs) the source metric; resetting it resets the
    source. Updating it updates the source, so either may be fed the batches.
    """

    full_state_update = False
    is_differentiable = False
    higher_is_better = None  # depends on the metric named (torchmetrics makes it a class constant)

    def __init__(self, source: LossGapMetric, name: str) -> None:
        # The source syncs in its own compute; caching here would keep last epoch's value.
        super().__init__(compute_with_cache=False, sync_on_compute=False)
        self.source = source
        self.name = name

    @property
    def update_called(self) -> bool:
        return self.source.update_called

    def update(self, *args: Any, **kwargs: Any) -> None:
        self.source.update(*args, **kwargs)

    def compute(self) -> torch.Tensor:
        ev = self.source.compute()
        if self.name not in ev.metrics:
            msg = f"the evaluation has no metric {self.name!r}: choose from {', '.join(ev.metrics)}"
            raise InputError(msg)
        return torch.tensor(ev.metric(self.name), dtype=torch.float64)

    def reset(self) -> None:
        super().reset()
        self.source.reset()

"""PyTorch Lightning callback: save the validation predictions after every validation.

The callback runs the module's ``forward`` on each validation batch (one extra forward
pass per batch, without gradients) and writes the epoch's file when validation ends,
numbered by ``trainer.current_epoch`` as the ``CSVLogger``'s ``metrics.csv`` numbers it.
The sanity check before training is skipped. Only rank 0 writes, from the batches it saw:
run validation on one device (or gather yourself) for a complete file. ``lightning`` is
imported when :class:`LightningPredictionWriter` is first used.

Examples
--------
>>> from lossgap.integrations import LightningPredictionWriter  # doctest: +SKIP
>>> trainer = lightning.Trainer(max_epochs=20, logger=CSVLogger("logs"),
...                             callbacks=[LightningPredictionWriter("preds")])  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from lossgap.integrations._lazy import lazy_class, require
from lossgap.integrations.files import write_epoch_predictions


def default_unpack(batch: Any) -> tuple[Any, Any]:
    """``(x, y)`` from a batch: a pair, or a dict with ``x``/``input(s)`` and ``y``/``label(s)``.

    Examples
    --------
    >>> default_unpack(([1, 2], [0, 1]))
    ([1, 2], [0, 1])
    >>> default_unpack({"input": [1, 2], "labels": [0, 1], "mask": [1, 1]})
    ([1, 2], [0, 1])
    """
    if isinstance(batch, dict):
        x = next(batch[k] for k in ("x", "input", "inputs", "input_ids") if k in batch)
        y = next(batch[k] for k in ("y", "label", "labels", "target") if k in batch)
        return x, y
    return batch[0], batch[1]


def _build() -> type:
    pl = require("lightning.pytorch", "LightningPredictionWriter", "pip install 'lightning>=2'")
    import torch

    # a class loaded at run time, so typed Any (mypy cannot see through require)
    Callback: Any = pl.Callback

    class LightningPredictionWriter(Callback):
        """Write each validation epoch's outputs and labels to ``directory``.

        Parameters
        ----------
        directory : str or Path
        from_logits : bool, default=True
            ``forward`` returns logits (the usual case with ``cross_entropy``); False when
            it returns probabilities.
        classes : sequence, optional
            Class names in output order.
        unpack : callable, optional
            ``batch -> (x, y)``; default :func:`default_unpack`.
        file_format : {"csv", "parquet"}, default="csv"
        """

        def __init__(
            self,
            directory: str | Path,
            *,
            from_logits: bool = True,
            classes: Sequence[Any] | None = None,
            unpack: Callable[[Any], tuple[Any, Any]] | None = None,
            file_format: str = "csv",
        ) -> None:
            super().__init__()
            self.directory = Path(directory)
            self.from_logits = from_logits
            self.classes = classes
            self.unpack = unpack or default_unpack
            self.file_format = file_format
            self._outputs: list[Any] = []
            self._labels: list[Any] = []

        def on_validation_epoch_start(self, trainer: Any, pl_module: Any) -> None:
            self._outputs, self._labels = [], []

        def on_validation_batch_end(
            self,
            trainer: Any,
            pl_module: Any,
            outputs: Any,
            batch: Any,
            batch_idx: int,
            dataloader_idx: int = 0,
        ) -> None:
            if trainer.sanity_checking:
                return
            x, y = self.unpack(batch)
            with torch.no_grad():
                out = pl_module(x)
            self._outputs.append(out.detach().double().cpu())
            self._labels.append(torch.as_tensor(y).detach().cpu())

        def on_validation_epoch_end(self, trainer: Any, pl_module: Any) -> None:
            if trainer.sanity_checking or not self._outputs or not trainer.is_global_zero:
                return
            write_epoch_predictions(
                self.directory,
                trainer.current_epoch,
                torch.cat(self._labels).numpy(),
                torch.cat(self._outputs).numpy(),
                from_logits=self.from_logits,
                classes=self.classes,
                file_format=self.file_format,
            )
            self._outputs, self._labels = [], []

    return LightningPredictionWriter


__getattr__ = lazy_class(globals(), "LightningPredictionWriter", _build)

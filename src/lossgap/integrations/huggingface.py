"""Hugging Face ``TrainerCallback``: save the evaluation predictions at every evaluation.

At ``on_evaluate`` the callback runs the model over the trainer's evaluation dataloader
(one extra pass without gradients) and writes ``epoch_<epoch>_step_<step>.csv``, where
the epoch is ``state.epoch`` (fractional between epoch ends), as ``trainer_state.json``'s
``log_history`` numbers it. Only the main process writes. ``transformers`` is imported
when :class:`HuggingFacePredictionWriter` is first used.

Examples
--------
>>> from lossgap.integrations import HuggingFacePredictionWriter  # doctest: +SKIP
>>> trainer = Trainer(model=model, args=args, train_dataset=train, eval_dataset=val,
...                   callbacks=[HuggingFacePredictionWriter("preds")])  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lossgap.integrations._lazy import lazy_class, require
from lossgap.integrations.files import write_epoch_predictions


def model_logits(output: Any) -> Any:
    """The logits of a model output: ``.logits``, ``["logits"]``, or ``(loss, logits)``."""
    if hasattr(output, "logits"):
        return output.logits
    if isinstance(output, dict):
        return output["logits"]
    return output[1] if len(output) > 1 else output[0]


def _build() -> type:
    transformers = require(
        "transformers", "HuggingFacePredictionWriter", "pip install transformers"
    )
    import torch

    # a class loaded at run time, so typed Any (mypy cannot see through require)
    Callback: Any = transformers.TrainerCallback

    class HuggingFacePredictionWriter(Callback):
        """Write the evaluation set's probabilities and labels at each evaluation.

        Parameters
        ----------
        directory : str or Path
        classes : sequence, optional
            Class names in logit order (``model.config.id2label`` order).
        label_key : str, default="labels"
            The batch key of the labels.
        file_format : {"csv", "parquet"}, default="csv"
        """

        def __init__(
            self,
            directory: str | Path,
            *,
            classes: Sequence[Any] | None = None,
            label_key: str = "labels",
            file_format: str = "csv",
        ) -> None:
            self.directory = Path(directory)
            self.classes = classes
            self.label_key = label_key
            self.file_format = file_format

        def on_evaluate(
            self,
            args: Any,
            state: Any,
            control: Any,
            model: Any = None,
            eval_dataloader: Any = None,
            **kwargs: Any,
        ) -> None:
            if not state.is_world_process_zero or model is None or eval_dataloader is None:
                return
            device = next(model.parameters()).device
            training = model.training
            model.eval()
            logits, labels = [], []
            with torch.no_grad():
                for batch in eval_dataloader:
                    batch = {k: v.to(device) if hasattr(v, "to") else v for k, v in batch.items()}
                    labels.append(batch[self.label_key].detach().cpu())
                    logits.append(model_logits(model(**batch)).detach().double().cpu())
            model.train(training)
            write_epoch_predictions(
                self.directory,
                state.epoch,
                torch.cat(labels).numpy(),
                torch.cat(logits).numpy(),
                from_logits=True,
                classes=self.classes,
                step=state.global_step,
                file_format=self.file_format,
            )

    return HuggingFacePredictionWriter


__getattr__ = lazy_class(globals(), "HuggingFacePredictionWriter", _build)

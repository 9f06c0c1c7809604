"""Hugging Face: save the evaluation predictions at every evaluation; lossgap's numbers in the log.

:func:`make_compute_metrics` gives ``Trainer(compute_metrics=...)`` lossgap's metrics from the
logits the Trainer already gathered, with no extra pass.

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

from collections.abc import Callable, Sequence
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


#: The evaluation's metrics :func:`make_compute_metrics` reports by default.
REPORTED_METRICS = ("log_loss", "accuracy", "brier", "ece")


def make_compute_metrics(
    metrics: Sequence[str] = REPORTED_METRICS,
    *,
    classes: Sequence[Any] | None = None,
    prefix: str = "lossgap_",
) -> Callable[[Any], dict[str, float]]:
    """A ``compute_metrics`` for ``transformers.Trainer``: lossgap's numbers at each evaluation.

    The Trainer hands it the logits and labels it has already gathered (across processes
    too), so no extra pass over the data is made; it logs them as ``eval_<prefix><name>``
    in ``trainer_state.json``, the console and every ``report_to`` tracker.

    Parameters
    ----------
    metrics : sequence of str, default=REPORTED_METRICS
        Keys of :attr:`Evaluation.metrics <lossgap.Evaluation.metrics>`.
    classes : sequence, optional
        Class names in logit order.
    prefix : str, default="lossgap_"

    Returns
    -------
    callable
        ``compute_metrics(eval_pred) -> dict``.

    Examples
    --------
    >>> import numpy as np
    >>> from types import SimpleNamespace
    >>> compute_metrics = make_compute_metrics(["log_loss", "accuracy"])
    >>> logits = np.array([[2.0, -1.0], [0.5, 1.5], [0.0, 1.0]])
    >>> out = compute_metrics(SimpleNamespace(predictions=logits, label_ids=np.array([0, 1, 0])))
    >>> round(out["lossgap_log_loss"], 4), out["lossgap_accuracy"]
    (0.5584, 0.6666666666666666)
    """
    import numpy as np

    from lossgap.errors import InputError
    from lossgap.explanation import explain

    names = tuple(metrics)

    def compute_metrics(eval_pred: Any) -> dict[str, float]:
        logits = eval_pred.predictions
        if isinstance(logits, tuple):  # (logits, hidden_states...) when the model returns more
            logits = logits[0]
        ev = explain(
            np.asarray(eval_pred.label_ids),
            np.asarray(logits, dtype=np.float64),
            from_logits=True,
            classes=classes,
        )
        missing = [m for m in names if m not in ev.metrics]
        if missing:
            msg = f"no metric {missing[0]!r} in the evaluation: choose from {', '.join(ev.metrics)}"
            raise InputError(msg)
        return {f"{prefix}{m}": float(ev.metric(m)) for m in names}

    return compute_metrics


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

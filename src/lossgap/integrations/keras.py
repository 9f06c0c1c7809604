"""Keras 3 callback: save the validation predictions after every epoch, and log their numbers.

Works on every Keras 3 backend (TensorFlow, JAX, PyTorch); keras is imported when
:class:`KerasPredictionWriter` is first used. Epochs are numbered from 0, as
``CSVLogger`` numbers them, so ``lossgap history training.log --predictions DIR`` lines
the files up with the log.

Each epoch's evaluation also goes into Keras's ``logs`` (``val_lossgap_log_loss``,
``val_lossgap_ece``...), so ``History``, ``CSVLogger``, ``TensorBoard`` and every tracker's
callback listed after this one record them.

When the model ends in a ``Dense`` layer with a sigmoid or softmax, the callback saves
that layer's logits (computed in float64 from its inputs): a float32 sigmoid rounds to
exactly 1.0 from about 17 logits up, where the log loss of the probabilities is infinite
while Keras, which clips them at ``1e-7``, reports a finite number.

Examples
--------
>>> from lossgap.integrations import KerasPredictionWriter  # doctest: +SKIP
>>> writer = KerasPredictionWriter(x_val, y_val, "preds")  # doctest: +SKIP
>>> model.fit(x, y, validation_data=(x_val, y_val), epochs=50,
...           callbacks=[keras.callbacks.CSVLogger("training.log"), writer])  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lossgap.errors import InputError
from lossgap.integrations._lazy import lazy_class, require
from lossgap.integrations.files import write_epoch_predictions

#: The evaluation's metrics written into Keras's ``logs``, after ``prefix``.
LOGGED_METRICS = ("log_loss", "accuracy", "brier", "ece", "roc_auc")


def _logits_function(keras: Any, model: Any) -> Any:
    """A function x -> float64 logits when the model ends in Dense + sigmoid/softmax, else None."""
    import numpy as np

    last = model.layers[-1] if model.layers else None
    activation = getattr(getattr(last, "activation", None), "__name__", None)
    if not isinstance(last, keras.layers.Dense) or activation not in ("sigmoid", "softmax"):
        return None
    try:
        features = keras.Model(model.inputs, last.input)
    except (AttributeError, ValueError, TypeError):  # a subclassed model has no graph
        return None
    kernel, *bias = (
        np.asarray(keras.ops.convert_to_numpy(w), dtype=np.float64) for w in last.weights
    )

    def logits(x: Any, batch_size: int | None) -> Any:
        hidden = features.predict(x, batch_size=batch_size, verbose=0)
        h = np.asarray(keras.ops.convert_to_numpy(hidden))
        out = h.astype(np.float64) @ kernel
        return out + bias[0] if bias else out

    return logits, activation


def _build() -> type:
    keras = require("keras", "KerasPredictionWriter", "pip install 'keras>=3'")

    # a class loaded at run time, so typed Any (mypy cannot see through require)
    Callback: Any = keras.callbacks.Callback

    class KerasPredictionWriter(Callback):
        """Write ``model.predict(x)`` with the labels ``y`` to ``directory`` after each epoch.

        Parameters
        ----------
        x : array-like
            Validation inputs, as ``model.predict`` takes them.
        y : array-like of shape (n,) or (n, k)
            Validation labels, or one-hot rows.
        directory : str or Path
            Where the per-epoch files go (``epoch_0000.csv``...).
        from_logits : bool, default=False
            The model outputs logits (its loss has ``from_logits=True``).
        classes : sequence, optional
            Class names in output order.
        batch_size : int, optional
            Passed to ``model.predict``.
        every : int, default=1
            Write every ``every``-th epoch.
        file_format : {"csv", "parquet"}, default="csv"
        log_metrics : sequence of str, default=LOGGED_METRICS
            Metrics of the epoch's :class:`~lossgap.Evaluation` added to ``logs``;
            empty for none.
        prefix : str, default="val_lossgap_"
            Put before each name in ``logs``.
        """

        def __init__(
            self,
            x: Any,
            y: Any,
            directory: str | Path,
            *,
            from_logits: bool = False,
            classes: Sequence[Any] | None = None,
            batch_size: int | None = None,
            every: int = 1,
            file_format: str = "csv",
            log_metrics: Sequence[str] = LOGGED_METRICS,
            prefix: str = "val_lossgap_",
        ) -> None:
            super().__init__()
            self.log_metrics = tuple(log_metrics)
            self.prefix = prefix
            self.x, self.y = x, y
            self.directory = Path(directory)
            self.from_logits = from_logits
            self.classes = classes
            self.batch_size = batch_size
            self.every = every
            self.file_format = file_format

        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            if epoch % self.every:
                return
            found = None if self.from_logits else _logits_function(keras, self.model)
            if found is None:
                out = keras.ops.convert_to_numpy(
                    self.model.predict(self.x, batch_size=self.batch_size, verbose=0)
                )
                from_logits = self.from_logits
            else:
                out, from_logits = found[0](self.x, self.batch_size), True
            path = write_epoch_predictions(
                self.directory,
                epoch,
                self.y,
                out,
                from_logits=from_logits,
                classes=self.classes,
                file_format=self.file_format,
            )
            if logs is not None and self.log_metrics:
                logs.update(self._evaluate(path))

        def _evaluate(self, path: Path) -> dict[str, float]:
            from lossgap.explanation import evaluate_predictions
            from lossgap.io import read_predictions

            ev = evaluate_predictions(read_predictions(path), detail="summary")
            missing = [m for m in self.log_metrics if m not in ev.metrics]
            if missing:
                msg = (
                    f"no metric {missing[0]!r} in the evaluation: "
                    f"choose from {', '.join(ev.metrics)}"
                )
                raise InputError(msg)
            return {f"{self.prefix}{m}": float(ev.metric(m)) for m in self.log_metrics}

    return KerasPredictionWriter


__getattr__ = lazy_class(globals(), "KerasPredictionWriter", _build)

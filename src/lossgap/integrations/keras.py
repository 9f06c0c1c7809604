"""Keras 3 callback: save the validation predictions after every epoch.

Works on every Keras 3 backend (TensorFlow, JAX, PyTorch); keras is imported when
:class:`KerasPredictionWriter` is first used. Epochs are numbered from 0, as
``CSVLogger`` numbers them, so ``lossgap history training.log --predictions DIR`` lines
the files up with the log.

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

from lossgap.integrations._lazy import lazy_class, require
from lossgap.integrations.files import write_epoch_predictions


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
        ) -> None:
            super().__init__()
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
            out = self.model.predict(self.x, batch_size=self.batch_size, verbose=0)
            write_epoch_predictions(
                self.directory,
                epoch,
                self.y,
                keras.ops.convert_to_numpy(out),
                from_logits=self.from_logits,
                classes=self.classes,
                file_format=self.file_format,
            )

    return KerasPredictionWriter


__getattr__ = lazy_class(globals(), "KerasPredictionWriter", _build)

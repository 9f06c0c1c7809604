"""Callbacks that save each epoch's validation predictions for ``lossgap history --predictions``.

Each framework is imported only when its callback is used, so lossgap itself needs none:

* :class:`KerasPredictionWriter` (Keras 3, any backend), from :mod:`lossgap.integrations.keras`;
* :class:`LightningPredictionWriter` (PyTorch Lightning 2), from
  :mod:`lossgap.integrations.lightning`;
* :class:`HuggingFacePredictionWriter` (``transformers.TrainerCallback``), from
  :mod:`lossgap.integrations.huggingface`.

They write one file per epoch, ``epoch_0003.csv`` (fractional Hugging Face epochs:
``epoch_2.5_step_500.csv``), with a ``label`` column and the probabilities: ``prob`` for
one sigmoid output, ``logit`` for one raw output, ``p_<class>`` for one column per class.
:func:`write_epoch_predictions` is the writer they share.

Examples
--------
>>> import lossgap.integrations as integrations
>>> sorted(integrations.__all__)[:2]
['HuggingFacePredictionWriter', 'KerasPredictionWriter']
"""

from __future__ import annotations

import importlib
from typing import Any

from lossgap.integrations.files import write_epoch_predictions

_LAZY = {
    "KerasPredictionWriter": "lossgap.integrations.keras",
    "LightningPredictionWriter": "lossgap.integrations.lightning",
    "HuggingFacePredictionWriter": "lossgap.integrations.huggingface",
}

__all__ = [*_LAZY, "write_epoch_predictions"]


def __getattr__(name: str) -> Any:
    """Import a framework's callback on first use (PEP 562)."""
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)

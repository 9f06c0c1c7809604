"""Engines: the same Tally built from other sources than in-memory numpy arrays.

* :mod:`lossgap.engines.torch` — tensors on their device (CPU or GPU), no host copy but
  the final summary;
* :mod:`lossgap.engines.batches` — record batches of a table (pyarrow), shared by the
  streamed files of :mod:`lossgap.engines.stream` and the Spark partitions of
  :mod:`lossgap.engines.spark`.

Every engine ends in :func:`lossgap.explanation.evaluate` on a merged, host-side Tally, so the
numbers are the numpy engine's whatever the source.
"""

from __future__ import annotations

import sys
from contextlib import AbstractContextManager
from functools import cache
from typing import TYPE_CHECKING, Any, TypeGuard

from threadpoolctl import ThreadpoolController

if TYPE_CHECKING:
    from torch import Tensor


def is_torch_tensor(values: Any) -> TypeGuard[Tensor]:
    """True for a torch tensor, without importing torch (a tensor implies it is loaded).

    Examples
    --------
    >>> is_torch_tensor([0.2, 0.7])
    False
    """
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(values, torch.Tensor)


@cache
def _blas_controller() -> ThreadpoolController:
    # inspecting the loaded libraries costs about a millisecond: once per process
    return ThreadpoolController()


def one_blas_thread() -> AbstractContextManager[Any]:
    """Hold BLAS to one thread for a ``with`` block.

    The evaluation's matrix products are small or memory-bound: a second BLAS thread
    doubles their CPU time for no gain in wall time, and its spinning takes the core from
    the engines' worker threads.

    Examples
    --------
    >>> import numpy as np
    >>> with one_blas_thread():
    ...     float(np.ones(3) @ np.ones(3))
    3.0
    """
    return _blas_controller().limit(limits=1, user_api="blas")

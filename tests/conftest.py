"""Shared fixtures; shared functions live in tests/helpers."""

from __future__ import annotations

import numpy as np
import pytest

# third-party logs kept as they were published: one Hugging Face state is named *.py, and
# --doctest-modules would import it
collect_ignore = ["data"]


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261123)


@pytest.fixture(scope="session")
def demo_run():
    """The demo network, trained once per session; ``lossgap.demo`` serves it meanwhile.

    Training is deterministic for a seed, so ``run_demo`` and ``lossgap demo`` with the
    default epochs and seed get this very run instead of training again (the slowest part
    of the demo); any other epochs or seed still train.
    """
    from lossgap import demo

    run = demo.train_demo_model()
    train = demo.train_demo_model

    def trained_once(epochs=demo.EPOCHS, *, seed=0, on_epoch=None):
        if (epochs, seed) != (demo.EPOCHS, 0):
            return train(epochs, seed=seed, on_epoch=on_epoch)
        for epoch in range(epochs):  # progress bars still advance
            if on_epoch is not None:
                on_epoch(epoch)
        return run

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(demo, "train_demo_model", trained_once)
        yield run

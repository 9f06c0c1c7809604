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


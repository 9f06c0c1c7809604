"""Collection rules for the whole tree: modules whose optional framework is missing are not
collected for their doctests (the framework's tests skip themselves), so the suite runs
with the core and dev extras alone (``make test-matrix``)."""

from __future__ import annotations

from importlib.util import find_spec

#: Source modules that import an optional package at the top, and that package.
_OPTIONAL = {
    "src/lossgap/torch.py": "torchmetrics",
    "src/lossgap/engines/torch.py": "torch",
    "src/lossgap/spark.py": "pyspark",
    "src/lossgap/engines/spark.py": "pyspark",
}

collect_ignore = [path for path, module in _OPTIONAL.items() if find_spec(module) is None]

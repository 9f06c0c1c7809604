"""Readers: prediction files (pyarrow, numpy)."""

from lossgap.io.tables import read_predictions, read_table

__all__ = ["read_predictions", "read_table"]

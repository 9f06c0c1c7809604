"""Columns come to numpy from their buffers: the same values as pyarrow's own conversion."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from lossgap.io.tables import column_values


@pytest.mark.parametrize(
    "kind", [pa.int8(), pa.int32(), pa.int64(), pa.uint16(), pa.float16(), pa.float32(),
             pa.float64(), pa.bool_(), pa.string()]
)
def test_every_type_chunked_and_sliced_equals_to_numpy(kind, rng):
    values = rng.integers(0, 100, 50)
    if kind == pa.bool_():
        values = values % 2 == 0
    elif kind == pa.string():
        values = values.astype(str)
    elif kind == pa.float16():
        values = values.astype(np.float16)
    column = pa.chunked_array([values[:20], values[20:]], type=kind)
    table = pa.table({"c": column}).slice(7, 35)  # offsets inside both chunks
    got = column_values(table, "c")
    want = table.column("c").to_numpy()
    assert got.dtype == want.dtype
    assert np.array_equal(got, want)
    assert np.array_equal(column_values(pa.table({"c": column.slice(0, 0)}), "c"), want[:0])
    batch = pa.RecordBatch.from_arrays([column.chunk(1).slice(3)], names=["c"])
    assert np.array_equal(column_values(batch, "c"), batch.column(0).to_numpy(zero_copy_only=False))

"""Columns come to numpy from their buffers: the same values as pyarrow's own conversion."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from lossgap.io.columns import arrow_column
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


@pytest.mark.parametrize(
    "kind", [pa.int64(), pa.float64(), pa.bool_(), pa.string(),
             pa.dictionary(pa.int32(), pa.string())]
)
def test_null_mask_from_bitmaps_equals_is_null(kind, rng):
    """The nulls read from the validity bitmaps (no pandas import) are pyarrow's is_null,
    with chunks sliced at offsets that are not multiples of 8."""
    columns = []
    for size, offset in ((0, 0), (5, 3), (13, 1), (40, 5)):
        cells = [None if rng.random() < 0.3 else int(i) for i in range(size)]
        if kind == pa.bool_():
            cells = [None if c is None else c % 2 == 0 for c in cells]
        elif kind != pa.int64() and kind != pa.float64():
            cells = [None if c is None else str(c) for c in cells]
        array = pa.array(cells, type=pa.string() if pa.types.is_dictionary(kind) else kind)
        if pa.types.is_dictionary(kind):
            array = array.dictionary_encode()
        columns.append(array.slice(offset))
    column = pa.chunked_array(columns, type=columns[0].type)
    assert column.null_count
    _, mask = arrow_column(column)
    assert np.array_equal(mask, column.is_null().to_numpy(zero_copy_only=False))
    for chunk in columns[1:]:
        _, mask = arrow_column(chunk)
        want = chunk.is_null().to_numpy(zero_copy_only=False) if chunk.null_count else None
        assert (mask is None and want is None) or np.array_equal(mask, want)


def test_a_column_of_the_null_type_is_null_throughout():
    values, mask = arrow_column(pa.chunked_array([pa.nulls(3), pa.nulls(2)]))
    assert values.tolist() == [None] * 5
    assert mask.tolist() == [True] * 5

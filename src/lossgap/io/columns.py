"""A table as numpy columns, whichever reader filled it; and which reader that is.

Every reader of :mod:`lossgap.io.tables` returns a :class:`ColumnTable`: pyarrow's (when it
is installed, the ``arrow`` extra) through :meth:`ColumnTable.from_arrow`, the core text
reader (:mod:`lossgap.io.text`) and numpy's directly. The commands take their columns from
it with :meth:`ColumnTable.values`, so they read the same arrays either way.

``LOSSGAP_ARROW=0`` in the environment selects the core readers even when pyarrow is
installed (as ``LOSSGAP_NUMBA=0`` selects the binning kernel's numpy twin).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from lossgap.errors import InputError

#: The one line for an input only pyarrow reads, ``{what}`` naming it.
NEEDS_ARROW = "reading {what} needs pyarrow: pip install 'lossgap[arrow]'"


def arrow_installed() -> bool:
    """Whether pyarrow can be imported (without importing it)."""
    if "pyarrow" in sys.modules:  # None there blocks the import (as the tests do)
        return sys.modules["pyarrow"] is not None
    return importlib.util.find_spec("pyarrow") is not None


def arrow_enabled() -> bool:
    """Whether pyarrow reads the inputs: installed, and not turned off by ``LOSSGAP_ARROW=0``.

    Examples
    --------
    >>> import os
    >>> os.environ["LOSSGAP_ARROW"] = "0"
    >>> arrow_enabled()
    False
    >>> del os.environ["LOSSGAP_ARROW"]
    """
    return os.environ.get("LOSSGAP_ARROW", "1") != "0" and arrow_installed()


def arrow_errors() -> tuple[type[Exception], ...]:
    """What pyarrow's readers raise for an input they cannot read (none when they are off)."""
    if not arrow_enabled():
        return ()
    import pyarrow as pa

    return (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowException)


def require_arrow(what: str) -> None:
    """Refuse, in one line naming the extra, an input that only pyarrow reads.

    Examples
    --------
    >>> import os
    >>> os.environ["LOSSGAP_ARROW"] = "0"
    >>> require_arrow("Parquet")
    Traceback (most recent call last):
    ...
    lossgap.errors.InputError: reading Parquet needs pyarrow: pip install 'lossgap[arrow]'
    >>> del os.environ["LOSSGAP_ARROW"]
    """
    if not arrow_enabled():
        raise InputError(NEEDS_ARROW.format(what=what))


class ArrowModule:
    """A pyarrow module imported on first use, for the modules that need pyarrow only when
    they run (streaming): without pyarrow, that use is refused in one line naming the extra.

    Examples
    --------
    >>> ArrowModule("pyarrow.no_such_module", "streaming").Table
    Traceback (most recent call last):
    ...
    lossgap.errors.InputError: reading streaming needs pyarrow: pip install 'lossgap[arrow]'
    """

    def __init__(self, name: str, what: str) -> None:
        self._name = name
        self._what = what

    def __getattr__(self, attribute: str) -> Any:
        try:
            module = importlib.import_module(self._name)
        except ImportError:
            raise InputError(NEEDS_ARROW.format(what=self._what)) from None
        return getattr(module, attribute)


@dataclass(frozen=True)
class ColumnTable:
    """Named columns of equal length, each a numpy array with its mask of empty cells.

    Parameters
    ----------
    names : tuple of str
        Column names, in file order (unique: the readers refuse a repeated name).
    arrays : tuple of numpy.ndarray
        One 1-D array per column: int64, float64, bool, datetime64, or object (text as
        ``str``, undecodable text as ``bytes``, a column of empty cells as ``None``).
    nulls : tuple of (numpy.ndarray or None)
        Per column, a boolean mask of its empty cells (whose values mean nothing), or None.

    Examples
    --------
    >>> t = ColumnTable.from_arrays({"y": np.array([0, 1]), "p": np.array([0.2, 0.9])})
    >>> t.column_names, t.num_rows
    (['y', 'p'], 2)
    >>> t.filter(np.array([False, True])).values("p")
    array([0.9])
    """

    names: tuple[str, ...]
    arrays: tuple[np.ndarray, ...]
    nulls: tuple[np.ndarray | None, ...]

    @classmethod
    def from_arrays(
        cls, arrays: Mapping[str, np.ndarray], nulls: Mapping[str, np.ndarray] | None = None
    ) -> ColumnTable:
        """A table of the given columns (``nulls``: the masks of those that have empty cells)."""
        masks = nulls or {}
        return cls(
            tuple(arrays),
            tuple(np.asarray(a) for a in arrays.values()),
            tuple(masks.get(name) for name in arrays),
        )

    @classmethod
    def from_arrow(cls, table: Any) -> ColumnTable:
        """The columns of a pyarrow Table or RecordBatch (numbers without a copy)."""
        names = tuple(table.column_names)  # first: a name that is not UTF-8 fails here
        converted = [arrow_column(column) for column in table.columns]
        return cls(
            names,
            tuple(values for values, _ in converted),
            tuple(mask for _, mask in converted),
        )

    @property
    def column_names(self) -> list[str]:
        return list(self.names)

    @property
    def num_columns(self) -> int:
        return len(self.names)

    @property
    def num_rows(self) -> int:
        return len(self.arrays[0]) if self.arrays else 0

    def _index(self, name: str) -> int:
        try:
            return self.names.index(name)
        except ValueError:
            msg = f"no column {name!r}; the columns are: {', '.join(self.names)}"
            raise InputError(msg) from None

    def values(self, name: str) -> np.ndarray:
        """A column's values, refusing empty cells with the first row that has one."""
        j = self._index(name)
        mask = self.nulls[j]
        if mask is not None and mask.any():
            row = int(np.argmax(mask))
            msg = (
                f"column {name!r} has an empty value at row {row} ({int(mask.sum())} row(s) in "
                "all): drop or fill those rows"
            )
            raise InputError(msg)
        return self.arrays[j]

    def _rows(self, index: np.ndarray) -> ColumnTable:
        return ColumnTable(
            self.names,
            tuple(a[index] for a in self.arrays),
            tuple(None if m is None else m[index] for m in self.nulls),
        )

    def take(self, rows: Sequence[int] | np.ndarray) -> ColumnTable:
        """The rows at the given positions, in that order."""
        return self._rows(np.asarray(rows, dtype=np.intp))

    def filter(self, mask: Sequence[bool] | np.ndarray) -> ColumnTable:
        """The rows where ``mask`` is true."""
        return self._rows(np.asarray(mask, dtype=bool))

    def drop_columns(self, names: Sequence[str]) -> ColumnTable:
        """The table without the named columns."""
        keep = [j for j, n in enumerate(self.names) if n not in set(names)]
        return ColumnTable(
            tuple(self.names[j] for j in keep),
            tuple(self.arrays[j] for j in keep),
            tuple(self.nulls[j] for j in keep),
        )

    def set_column(self, name: str, values: np.ndarray) -> ColumnTable:
        """The table with the named column's values replaced (and no empty cell in it)."""
        j = self._index(name)
        arrays = list(self.arrays)
        nulls = list(self.nulls)
        arrays[j], nulls[j] = np.asarray(values), None
        return ColumnTable(self.names, tuple(arrays), tuple(nulls))

    def difference(self, other: ColumnTable) -> str | None:
        """The first way ``other`` differs from this table, or None when they hold the same
        columns: names, dtypes, empty cells, and the values of the other cells (NaN equal
        to NaN). How the two readers are held to each other.

        Examples
        --------
        >>> a = ColumnTable.from_arrays({"p": np.array([0.5, np.nan])})
        >>> a.difference(ColumnTable.from_arrays({"p": np.array([0.5, np.nan])})) is None
        True
        >>> a.difference(ColumnTable.from_arrays({"p": np.array([0.5, 1.0])}))
        "column 'p': values differ at row 1"
        """
        if self.names != other.names:
            return f"columns {list(self.names)} != {list(other.names)}"
        if self.num_rows != other.num_rows:
            return f"{self.num_rows} rows != {other.num_rows}"
        for name, a, b, mask_a, mask_b in zip(
            self.names, self.arrays, other.arrays, self.nulls, other.nulls, strict=True
        ):
            empty_a = np.zeros(len(a), bool) if mask_a is None else mask_a
            empty_b = np.zeros(len(b), bool) if mask_b is None else mask_b
            if not np.array_equal(empty_a, empty_b):
                return f"column {name!r}: empty cells differ"
            if a.dtype != b.dtype:
                return f"column {name!r}: dtype {a.dtype} != {b.dtype}"
            keep = ~empty_a
            same = (a[keep] == b[keep]) | ((a[keep] != a[keep]) & (b[keep] != b[keep]))
            if not np.all(same):
                row = int(np.flatnonzero(keep)[np.argmin(same)])
                return f"column {name!r}: values differ at row {row}"
        return None

    def to_arrow(self) -> Any:
        """The table as a pyarrow Table (empty cells as nulls); needs pyarrow."""
        import pyarrow as pa

        return pa.table(
            {
                name: pa.array(array, mask=mask)
                for name, array, mask in zip(self.names, self.arrays, self.nulls, strict=True)
            }
        )


def arrow_column(column: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """A pyarrow column (Array or ChunkedArray) as numpy values and a mask of its nulls.

    Integer and floating columns come from their value buffers, without a copy; the others
    through pyarrow's conversion, their nulls filled first (so that the dtype does not
    depend on whether a column has one).
    """
    import pyarrow as pa

    kind = column.type
    mask = None
    if column.null_count:
        if pa.types.is_null(kind):
            return np.full(len(column), None, dtype=object), np.ones(len(column), bool)
        mask = _null_mask(column)
    if pa.types.is_integer(kind) or pa.types.is_floating(kind):
        # the values buffers as they are: pyarrow's to_numpy imports pandas to convert any
        # column (half a second and more of the command line's start), and so does
        # to_pandas_dtype at pyarrow 16, the floor: the dtype from the type's kind and width
        signed = pa.types.is_signed_integer(kind)
        letter = "f" if pa.types.is_floating(kind) else "i" if signed else "u"
        dtype = np.dtype(f"{letter}{kind.bit_width // 8}")
        chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
        parts = [
            np.frombuffer(
                chunk.buffers()[1],
                dtype=dtype,
                count=len(chunk),
                offset=chunk.offset * dtype.itemsize,
            )
            for chunk in chunks
            if len(chunk)
        ]
        if len(parts) == 1:
            return parts[0], mask
        return (np.concatenate(parts) if parts else np.empty(0, dtype=dtype)), mask
    if mask is None:
        return _to_numpy(column), None
    values = _to_numpy(column.filter(pa.array(~mask)))
    full = np.empty(len(mask), dtype=values.dtype)
    full[~mask] = values
    if values.dtype == object:
        full[mask] = None
    return full, mask


def _null_mask(column: Any) -> np.ndarray:
    """True where a pyarrow column (not of the null type) is null.

    Read from each chunk's validity bitmap: ``column.is_null().to_numpy()`` imports
    pyarrow.compute and pandas (0.2-0.4 s of a command's start). Types without a bitmap
    (unions, run-end encoded) go through pyarrow.
    """
    import pyarrow as pa

    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    parts = []
    for chunk in chunks:
        validity = chunk.buffers()[0] if chunk.null_count else None
        if not chunk.null_count:
            parts.append(np.zeros(len(chunk), bool))
        elif validity is None or chunk.type.num_buffers == 0:
            parts.append(np.asarray(chunk.is_null().to_numpy(zero_copy_only=False), bool))
        else:  # bit i of the bitmap (least significant first) set: row i holds a value
            bits = np.unpackbits(
                np.frombuffer(validity, np.uint8), count=chunk.offset + len(chunk),
                bitorder="little",
            )
            parts.append(bits[chunk.offset :] == 0)
    return np.concatenate(parts) if len(parts) != 1 else parts[0]


def _to_numpy(column: Any) -> np.ndarray:
    """pyarrow's conversion; text that is not UTF-8 (which pyarrow's JSON reader lets
    through) fails as Python's decoding does, naming the byte."""
    import pyarrow as pa

    try:
        return column.to_numpy(zero_copy_only=False)
    except pa.ArrowException:
        column.to_pylist()  # raises the UnicodeDecodeError of the first such text
        raise

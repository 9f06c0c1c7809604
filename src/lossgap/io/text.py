"""The core readers of text tables, for an install without pyarrow: CSV, TSV, JSON Lines.

They parse with the standard library (:mod:`csv`, :mod:`json`) and type each column the way
pyarrow's readers do, so that a file gives the same :class:`~lossgap.io.columns.ColumnTable`
(and so the same Predictions, and the same error lines) with or without pyarrow:

* CSV: a column is null (every cell empty), int64, bool, date, time, timestamp, float64, text,
  or bytes (text that is not UTF-8), the first of these all its cells fit; pyarrow's null
  markers (``""``, ``NA``, ``nan``, ``NULL``...) are empty cells except in a text column;
  numbers may have spaces or tabs around them; empty lines are skipped; a row with another
  number of cells than the header is refused with pyarrow's message.
* JSON Lines: one object per line (or several, separated by spaces); a key missing from
  a row is an empty cell; a column is int64, float64, bool, timestamp (text that is one)
  or text, or holds the nested values as they are.

``tests/io/test_readers_agree.py`` and ``tools/fuzz_inputs.py`` hold the two to it. Where
they differ: JSON values nested in lists or objects are kept as Python values, and an error
inside them may be worded otherwise.
"""

from __future__ import annotations

import csv
import datetime
import json
import json.decoder
import re
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import repeat
from typing import Any

import numpy as np

from lossgap.io.columns import ColumnTable

#: pyarrow's ``ConvertOptions().null_values``: empty cells, unless the column is text.
NULL_VALUES = frozenset(
    ("", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND",
     "1.#QNAN", "N/A", "NA", "NULL", "NaN", "n/a", "nan", "null")
)  # fmt: skip
#: pyarrow's ``true_values`` and ``false_values``.
TRUE_VALUES = frozenset(("1", "True", "TRUE", "true"))
FALSE_VALUES = frozenset(("0", "False", "FALSE", "false"))

_INT = re.compile(r"[ \t]*(-?[0-9]+|0[xX][0-9a-fA-F]+)[ \t]*")
_FLOAT = re.compile(
    r"[ \t]*[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
    r"|(?i:inf(?:inity)?|nan))[ \t]*"
)
_DATE = re.compile(r"[ \t]*([0-9]{4}-[0-9]{2}-[0-9]{2})[ \t]*")
_TIME = re.compile(r"[ \t]*([0-9]{2}):([0-9]{2})(?::([0-9]{2}))?[ \t]*")
_TIMESTAMP = re.compile(
    r"[ \t]*([0-9]{4}-[0-9]{2}-[0-9]{2})(?:[T ]([0-9]{2}:[0-9]{2}(?::[0-9]{2})?)"
    r"(\.[0-9]{1,9})?)?[ \t]*"
)
#: A byte that is not UTF-8, as ``surrogateescape`` decodes it.
_SURROGATE = re.compile("[\udc80-\udcff]")
#: One physical line and its terminator (``\n``, ``\r\n`` or ``\r``, as pyarrow splits).
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


class TextTableError(ValueError):
    """A text table that cannot be read; the message is pyarrow's for the same input."""


@dataclass(frozen=True)
class BadRow:
    """A row with another number of cells than the header, as pyarrow's ``InvalidRow``:
    ``number`` counts the non-empty rows from 1, the header's included."""

    number: int
    expected_columns: int
    actual_columns: int


def split_rows(
    data: bytes, delimiter: str, skip_bad: bool = False
) -> tuple[list[str], list[list[str]], list[BadRow]]:
    """The header and each column's cells of a delimited text; rows whose cell count
    differs from the header's are refused (pyarrow's message) or, with ``skip_bad``,
    left out and returned.

    Examples
    --------
    >>> header, columns, bad = split_rows(b"a,b\\n1,2\\n3\\n", ",", skip_bad=True)
    >>> header, columns, [(r.number, r.actual_columns) for r in bad]
    (['a', 'b'], [['1'], ['2']], [(3, 1)])
    """
    if not data:
        raise TextTableError("Empty CSV file")
    text = data.decode("utf-8", "surrogateescape").removeprefix("\ufeff")
    if '"' not in text and "\x00" not in text:
        # no quoting: a row is its line split at the delimiter, which str.split does for
        # the whole text at C speed (the csv module costs about 2 s per million rows)
        return _split_unquoted(text, delimiter, skip_bad)
    return _split_csv(text, delimiter, skip_bad)


def _split_csv(
    text: str, delimiter: str, skip_bad: bool
) -> tuple[list[str], list[list[str]], list[BadRow]]:
    """:func:`split_rows` by the :mod:`csv` module, which reads quoted cells."""
    consumed: list[str] = []

    def lines() -> Iterator[str]:
        for match in _LINE.finditer(text):
            consumed.append(match.group())
            yield match.group()

    reader = csv.reader(lines(), delimiter=delimiter, quotechar='"', strict=False)
    header: list[str] | None = None
    columns: list[list[str]] = []
    bad: list[BadRow] = []
    number = 0
    try:
        for row in reader:
            raw = "".join(consumed)
            consumed.clear()
            if not row:
                continue
            number += 1
            if header is None:
                if not raw.endswith(("\n", "\r")):
                    break  # pyarrow needs the header's line end to count the columns
                header = row
                columns = [[] for _ in row]
                continue
            if len(row) != len(header):
                if skip_bad:
                    bad.append(BadRow(number, len(header), len(row)))
                    continue
                raise _wrong_width(len(header), len(row), raw.rstrip("\r\n"))
            for column, cell in zip(columns, row, strict=True):
                column.append(cell)
    except csv.Error as exc:
        raise TextTableError(f"CSV parse error: {exc}") from exc
    if header is None:
        raise TextTableError(_NO_HEADER)
    return [_column_name(name) for name in header], columns, bad


#: pyarrow's message for a text without a whole header line.
_NO_HEADER = "CSV parse error: Empty CSV file or block: cannot infer number of columns"


def _wrong_width(width: int, got: int, row: str) -> TextTableError:
    """pyarrow's error for a row of ``got`` cells under a header of ``width``."""
    shown = row if len(row) <= 100 else row[:96] + " ..."
    msg = f"CSV parse error: Expected {width} columns, got {got}: {shown}"
    return TextTableError(_surrogates_as_text(msg))


def _split_unquoted(
    text: str, delimiter: str, skip_bad: bool
) -> tuple[list[str], list[list[str]], list[BadRow]]:
    """:func:`split_rows` of a text with no quote character (nor NUL, which :mod:`csv`
    refuses on Python 3.10): the same header, cells, bad rows and errors."""
    if "\r" in text:  # pyarrow ends a line at \n, \r\n or \r
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    rows = [line for line in lines if line]  # empty lines are skipped
    if not rows or (len(rows) == 1 and lines[-1]):
        raise TextTableError(_NO_HEADER)  # pyarrow needs the header's line end
    header = rows[0].split(delimiter)
    width = len(header)
    counts = np.fromiter(map(str.count, rows, repeat(delimiter)), np.int64, len(rows)) + 1
    bad: list[BadRow] = []
    fits = counts == width
    if not fits.all():
        wrong = np.flatnonzero(~fits)
        if not skip_bad:
            raise _wrong_width(width, int(counts[wrong[0]]), rows[wrong[0]])
        # rows are numbered from 1, the header's included, as BadRow says
        bad = [BadRow(int(i) + 1, width, int(counts[i])) for i in wrong]
        rows = [row for row, fit in zip(rows, fits.tolist(), strict=True) if fit]
    # every kept row has `width` cells, so the cells of all rows in a row are one split
    cells = delimiter.join(rows[1:]).split(delimiter) if len(rows) > 1 else []
    columns = [cells[j::width] for j in range(width)]
    return [_column_name(name) for name in header], columns, bad


def read_delimited(data: bytes, delimiter: str) -> ColumnTable:
    """A CSV (``delimiter=","``) or TSV (``"\\t"``) table held in memory.

    Examples
    --------
    >>> t = read_delimited(b"y,p,id\\n0, 0.25,a\\n1,NA,b\\n", ",")
    >>> [t.arrays[j].dtype.kind for j in range(3)], t.nulls[1].tolist()
    (['i', 'f', 'O'], [False, True])
    """
    header, columns, _ = split_rows(data, delimiter)
    typed = [typed_column(cells) for cells in columns]
    return ColumnTable(tuple(header), tuple(a for a, _ in typed), tuple(m for _, m in typed))


def _surrogates_as_text(text: str) -> str:
    """Undecodable bytes (kept as surrogates) shown as the replacement character."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _column_name(name: str) -> str:
    """A header cell; one that is not UTF-8 fails as pyarrow's header does."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8")


def typed_column(
    cells: list[str], null_values: frozenset[str] = NULL_VALUES
) -> tuple[np.ndarray, np.ndarray | None]:
    """One CSV column's cells as pyarrow types them: values and the mask of empty cells
    (``null_values``: the cells that are empty, unless the column is text).

    Examples
    --------
    >>> typed_column(["1", "true"])
    (array([ True,  True]), None)
    >>> typed_column(["0x1f", " 7"])
    (array([31,  7]), None)
    >>> typed_column(["NA", "x"])
    (array(['NA', 'x'], dtype=object), None)
    """
    n = len(cells)
    mask: np.ndarray | None = None
    present = cells
    if not n or not null_values.isdisjoint(cells):  # isdisjoint: one set lookup per cell, in C
        null = np.fromiter((c in null_values for c in cells), dtype=bool, count=n)
        if null.all():  # every cell empty (or none): pyarrow's null column
            return np.full(n, None, dtype=object), null if n else None
        mask = null
        present = [c for c, z in zip(cells, null.tolist(), strict=True) if not z]
    for parse in (_ints, _bools, _dates, _times, _timestamps, _floats):
        values = parse(present)
        if values is not None:
            if mask is None:
                return values, None
            full = np.zeros(n, dtype=values.dtype)
            full[~mask] = values
            return full, mask
    text = np.empty(n, dtype=object)
    try:
        text[:] = [c.encode("utf-8", "surrogateescape").decode("utf-8") for c in cells]
    except UnicodeDecodeError:  # not UTF-8: bytes, as pyarrow's binary column
        text[:] = [c.encode("utf-8", "surrogateescape") for c in cells]
    return text, None


def _plain_numbers(cells: list[str], characters: re.Pattern[str], dtype: type) -> np.ndarray | None:
    """The cells as numbers, parsed by numpy in C, when every cell is made of
    ``characters`` only (ASCII digits, signs, points, exponents, spaces and tabs); then
    numpy's parse accepts exactly the cells that ``_INT`` or ``_FLOAT`` match and gives
    Python's ``int``/``float`` values (``tests/io/test_text.py``). None when the cells hold
    any other character, or a cell fails to parse: the patterns decide, cell by cell."""
    text = "\n".join(cells)
    if text.count("\n") != len(cells) - 1 or characters.search(text):
        return None  # a line end inside a cell, or another character
    try:
        return np.array(cells, dtype=dtype)
    except (ValueError, OverflowError):
        return None


#: A character outside a plain decimal integer or float.
_NOT_INT = re.compile(r"[^0-9\- \t\n]")
_NOT_FLOAT = re.compile(r"[^0-9.eE+\- \t\n]")


def _ints(cells: list[str]) -> np.ndarray | None:
    plain = _plain_numbers(cells, _NOT_INT, np.int64)
    if plain is not None:
        return plain
    if not all(map(_INT.fullmatch, cells)):
        return None
    values = [int(c, 16) if "x" in c or "X" in c else int(c) for c in cells]
    try:
        return np.array(values, dtype=np.int64)
    except OverflowError:  # beyond int64: pyarrow reads it as a float
        return None


def _bools(cells: list[str]) -> np.ndarray | None:
    if not (TRUE_VALUES | FALSE_VALUES).issuperset(cells):
        return None
    return np.array([c in TRUE_VALUES for c in cells], dtype=bool)


def _dates(cells: list[str]) -> np.ndarray | None:
    if not all(map(_DATE.fullmatch, cells)):  # stops at the first cell that is not one
        return None
    matches = [_DATE.fullmatch(c) for c in cells]
    try:
        return np.array([m.group(1) for m in matches if m], dtype="datetime64[D]")
    except ValueError:  # 2020-13-01
        return None


def _times(cells: list[str]) -> np.ndarray | None:
    if not all(map(_TIME.fullmatch, cells)):  # stops at the first cell that is not one
        return None
    matches = [_TIME.fullmatch(c) for c in cells]
    try:
        times = [
            datetime.time(int(h), int(m), int(s or 0))
            for h, m, s in (m.groups() for m in matches if m)
        ]
    except ValueError:  # 25:00
        return None
    values = np.empty(len(times), dtype=object)
    values[:] = times
    return values


def _timestamps(cells: list[str]) -> np.ndarray | None:
    if not all(map(_TIMESTAMP.fullmatch, cells)):  # stops at the first cell that is not one
        return None
    matches = [_TIMESTAMP.fullmatch(c) for c in cells]
    parts = [m.groups() for m in matches if m]
    unit = "ns" if any(fraction for _, _, fraction in parts) else "s"
    try:
        return np.array(
            [f"{day}T{time or '00:00'}{fraction or ''}" for day, time, fraction in parts],
            dtype=f"datetime64[{unit}]",
        )
    except ValueError:
        return None


def _floats(cells: list[str]) -> np.ndarray | None:
    plain = _plain_numbers(cells, _NOT_FLOAT, np.float64)
    if plain is not None:
        return plain
    if not all(map(_FLOAT.fullmatch, cells)):
        return None
    return np.array([float(c) for c in cells], dtype=np.float64)


# --------------------------------------------------------------------------- JSON Lines

#: The JSON string reader of the standard library (public in its module, not in typeshed).
_scanstring: Any = json.decoder.scanstring  # type: ignore[attr-defined]

#: The kinds pyarrow's JSON reader tells apart when a column changes.
_KINDS = {bool: "boolean", int: "number", float: "number", str: "string", dict: "object",
          list: "array"}  # fmt: skip


#: Python's JSON errors as RapidJSON (pyarrow's parser) words them.
_JSON_ERRORS = (
    ("Expecting ',' delimiter", "Missing a comma or '}' after an object member."),
    ("Expecting property name", "Missing a name for object member."),
    ("Expecting ':' delimiter", "Missing a colon after a name of object member."),
    ("Unterminated string", "Missing a closing quotation mark in string."),
    ("Invalid control character", "Invalid encoding in string."),
    ("Invalid \\uXXXX escape", "Incorrect hex digit after \\u escape in string."),
    ("Invalid \\escape", "Invalid escape character in string."),
)


def _json_error(exc: json.JSONDecodeError) -> str:
    """A JSON error as RapidJSON words it: Python reads ``1.`` as 1 and then fails on the
    dot, RapidJSON on the number."""
    before, at = exc.doc[exc.pos - 1 : exc.pos], exc.doc[exc.pos : exc.pos + 1]
    if exc.msg.startswith("Expecting ',' delimiter") and before.isdigit():
        if at == ".":
            return "Miss fraction part in number."
        if at in ("e", "E"):
            return "Miss exponent in number."
    if exc.msg.startswith("Invalid \\uXXXX") and re.fullmatch(
        r"u[0-9a-fA-F]{4}", exc.doc[exc.pos :]
    ):  # a whole escape, then the end of the data: Python wants a character after it
        return "Missing a closing quotation mark in string."
    trailing = len(exc.doc) - len(exc.doc.rstrip("\\"))
    if exc.msg.startswith("Unterminated string") and trailing % 2:
        return "Invalid escape character in string."  # a backslash, then the end of the data
    if exc.msg.startswith("Expecting ',' delimiter") and _innermost(exc.doc, exc.pos) == "[":
        return "Missing a comma or ']' after an array element."
    return next((v for k, v in _JSON_ERRORS if exc.msg.startswith(k)), "Invalid value.")


def _innermost(doc: str, pos: int) -> str:
    """The bracket (``{`` or ``[``) open at ``pos`` in its line, strings skipped."""
    stack: list[str] = []
    quoted = escaped = False
    for ch in doc[doc.rfind("\n", 0, pos) + 1 : pos]:
        if quoted:
            quoted, escaped = (ch != '"' or escaped), (ch == "\\" and not escaped)
        elif ch == '"':
            quoted = True
        elif ch in "{[":
            stack.append(ch)
        elif ch in "}]" and stack:
            stack.pop()
    return stack[-1] if stack else ""


def _no_repeats(row: int) -> Any:
    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in items:
            if key in out:
                msg = f"JSON parse error: Column(/{key}) was specified twice in row {row}"
                raise TextTableError(msg)
            out[key] = value
        return out

    return pairs


def _float(text: str) -> float:
    value = float(text)
    if not np.isfinite(value):
        raise TextTableError("Number too big to be stored in double.")
    return value


def _skip_space(text: str, at: int) -> int:
    while at < len(text) and text[at] in " \t\r\n":
        at += 1
    return at


def _json_row(text: str, at: int, row: int, kinds: dict[str, str]) -> tuple[dict[str, Any], int]:
    """One row's object, read member by member as pyarrow's parser reads it: a member
    whose value changes its column's kind is refused before a later error in the row."""
    decoder = json.JSONDecoder(object_pairs_hook=_no_repeats(row), parse_float=_float)
    scan: Any = decoder.scan_once  # type: ignore[attr-defined]  # set by its __init__

    def value_at(pos: int) -> tuple[Any, int]:
        try:
            return scan(text, pos)
        except StopIteration:
            raise json.JSONDecodeError("Expecting value", text, pos) from None

    if text[at] != "{":
        value, _ = value_at(at)
        kind = _KINDS.get(type(value), "value")
        msg = f"JSON parse error: Column() changed from object to {kind} in row {row}"
        raise TextTableError(msg)
    record: dict[str, Any] = {}
    at = _skip_space(text, at + 1)
    if text[at : at + 1] == "}":
        return record, at + 1
    while True:
        if text[at : at + 1] != '"':
            raise json.JSONDecodeError("Expecting property name", text, at)
        key, at = _scanstring(text, at + 1)
        at = _skip_space(text, at)
        if text[at : at + 1] != ":":
            raise json.JSONDecodeError("Expecting ':' delimiter", text, at)
        value, at = value_at(_skip_space(text, at + 1))
        if key in record:
            msg = f"JSON parse error: Column(/{key}) was specified twice in row {row}"
            raise TextTableError(msg)
        record[key] = value
        if value is not None:
            kind = _KINDS[type(value)]
            seen = kinds.setdefault(key, kind)
            if seen != kind:
                msg = f"JSON parse error: Column(/{key}) changed from {seen} to {kind} in row {row}"
                raise TextTableError(msg)
        at = _skip_space(text, at)
        if text[at : at + 1] == "}":
            return record, at + 1
        if text[at : at + 1] != ",":
            raise json.JSONDecodeError("Expecting ',' delimiter", text, at)
        at = _skip_space(text, at + 1)


def read_json_lines(data: bytes) -> ColumnTable:
    """A JSON Lines table held in memory (one object per row).

    Examples
    --------
    >>> t = read_json_lines(b'{"y": 1, "p": 0.5}\\n{"y": 0}\\n')
    >>> t.column_names, t.arrays[0].tolist(), t.nulls[1].tolist()
    (['y', 'p'], [1, 0], [False, True])
    """
    if not data:
        raise TextTableError("Empty JSON file")
    # pyarrow's parser does not check UTF-8: bytes that are not are kept (as surrogates),
    # and refused once the table is read, as pyarrow's conversion refuses them
    text = data.decode("utf-8", "surrogateescape")
    rows: list[dict[str, Any]] = []
    kinds: dict[str, str] = {}
    at = 0
    while True:
        at = _skip_space(text, at)
        if at == len(text):
            break
        row = len(rows)
        try:
            record, at = _json_row(text, at, row, kinds)
        except TextTableError as exc:
            if str(exc).startswith("JSON"):
                raise
            raise TextTableError(f"JSON parse error: {exc} in row {row}") from None
        except json.JSONDecodeError as exc:
            raise TextTableError(f"JSON parse error: {_json_error(exc)} in row {row}") from None
        rows.append(record)
    names = [_column_name(key) for key in dict.fromkeys(k for record in rows for k in record)]
    arrays, nulls = {}, {}
    for name in names:
        cells = [record.get(name) for record in rows]
        arrays[name], mask = _json_column(cells, kinds.get(name))
        if mask is not None:
            nulls[name] = mask
    return ColumnTable.from_arrays(arrays, nulls)


def _json_column(cells: list[Any], kind: str | None) -> tuple[np.ndarray, np.ndarray | None]:
    n = len(cells)
    null = np.array([c is None for c in cells], dtype=bool)
    mask = null if null.any() else None
    if kind is None:
        return np.full(n, None, dtype=object), null
    present = [c for c in cells if c is not None]
    values: np.ndarray | None = None
    if kind == "boolean":
        values = np.array(present, dtype=bool)
    elif kind == "number":
        if all(type(c) is int for c in present):
            try:
                values = np.array(present, dtype=np.int64)
            except OverflowError:
                values = None
        if values is None:
            values = np.array(present, dtype=np.float64)
    elif kind == "string":
        for cell in present:  # text that is not UTF-8 fails as pyarrow's conversion does
            if _SURROGATE.search(cell):
                cell.encode("utf-8", "surrogateescape").decode("utf-8")
        values = _timestamps(present)
    if values is None:  # text, or nested values as they are
        values = np.empty(len(present), dtype=object)
        values[:] = present
    if mask is None:
        return values, None
    full = np.zeros(n, dtype=values.dtype) if values.dtype != object else np.full(n, None)
    full[~mask] = values
    return full, mask


# --------------------------------------------------------------------------- writing


def arrow_float(value: float) -> str:
    """A float as pyarrow's CSV writer prints it: the shortest digits that read back the
    same, in positional notation from 1e-6 up to 1e10, else as ``1.25e-7``.

    Examples
    --------
    >>> [arrow_float(v) for v in (1.0, 0.00001, 1e10, 1.25e-7, -0.0, float("nan"))]
    ['1', '0.00001', '1e+10', '1.25e-7', '-0', 'nan']
    """
    if value != value:
        return "nan"
    if value in (float("inf"), float("-inf")):
        return "inf" if value > 0 else "-inf"
    sign = "-" if np.signbit(value) else ""
    if value == 0:
        return sign + "0"
    text = repr(abs(float(value)))
    mantissa, _, power = text.partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = (whole + fraction).lstrip("0")
    # the decimal exponent of the first significant digit
    point = len(whole) if whole != "0" else -(len(fraction) - len(fraction.lstrip("0")))
    first = point - 1 + int(power or 0)
    digits = digits.rstrip("0") or "0"
    if -6 <= first <= 9:
        if first >= 0:
            body = digits[: first + 1].ljust(first + 1, "0")
            rest = digits[first + 1 :]
            return sign + body + ("." + rest if rest else "")
        return sign + "0." + "0" * (-first - 1) + digits
    tail = "." + digits[1:] if len(digits) > 1 else ""
    return f"{sign}{digits[0]}{tail}e{'+' if first > 0 else '-'}{abs(first)}"


def _cell(value: Any, kind: str) -> str:
    if kind == "f":
        return arrow_float(float(value))
    if kind == "b":
        return "true" if value else "false"
    if kind in "iu":
        return str(int(value))
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return '"' + text.replace('"', '""') + '"'


def write_delimited(table: ColumnTable, path: Any, delimiter: str = ",") -> None:
    """Write a table as pyarrow's CSV writer does: names and text quoted, numbers as
    :func:`arrow_float`, empty cells empty.

    Examples
    --------
    >>> import io
    >>> out = io.StringIO()
    >>> write_delimited(ColumnTable.from_arrays({"y": np.array(["a"]), "p": np.array([0.5])}), out)
    >>> out.getvalue()
    '"y","p"\\n"a",0.5\\n'
    """
    lines = [delimiter.join(_cell(name, "O") for name in table.names)]
    kinds = [a.dtype.kind for a in table.arrays]
    for i in range(table.num_rows):
        lines.append(
            delimiter.join(
                "" if mask is not None and mask[i] else _cell(array[i], kind)
                for array, mask, kind in zip(table.arrays, table.nulls, kinds, strict=True)
            )
        )
    text = "\n".join(lines) + "\n"
    if hasattr(path, "write"):
        path.write(text)
    else:
        with open(path, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)

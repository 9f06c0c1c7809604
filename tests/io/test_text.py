"""The core CSV reader's fast paths give what its general paths give: rows split without the
:mod:`csv` module when no cell is quoted, and numbers parsed by numpy when every cell is made
of plain digits, signs, points and exponents."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lossgap.io import text as core_text
from lossgap.io.text import TextTableError, split_rows, typed_column
from tests.io.test_readers_agree import random_text

# what these tests read is the core reader's own functions, whichever reader the files use
pytestmark = pytest.mark.one_reader("core")


def _split_both(data: bytes, delimiter: str, skip_bad: bool) -> list[object]:
    body = data.decode("utf-8", "surrogateescape").removeprefix("\ufeff")
    out: list[object] = []
    for split in (core_text._split_unquoted, core_text._split_csv):
        try:
            out.append(split(body, delimiter, skip_bad))
        except (TextTableError, UnicodeDecodeError) as exc:
            out.append(str(exc))
    return out


@pytest.mark.parametrize("delimiter", [",", "\t"])
@pytest.mark.parametrize("skip_bad", [False, True])
def test_unquoted_texts_split_as_the_csv_module_splits_them(delimiter, skip_bad):
    """Random texts (ragged rows, empty lines, the three line ends, a header without its line
    end, bytes that are not UTF-8) with their quotes taken out: the same header, cells, bad
    rows and error lines both ways."""
    rng = np.random.default_rng(23)
    seen = set()
    for _ in range(600):
        data = random_text(rng, delimiter).replace(b'"', b"")
        fast, general = _split_both(data, delimiter, skip_bad)
        assert fast == general, data
        seen.add(type(fast).__name__ if not isinstance(fast, tuple) or not fast[2] else "bad")
    assert seen == {"str", "tuple", "bad"} if skip_bad else seen == {"str", "tuple"}


def test_split_rows_takes_the_csv_module_for_quotes_and_nul():
    assert split_rows(b'a,b\n"1,5",2\n', ",")[1] == [["1,5"], ["2"]]
    assert split_rows(b"a,b\n1,2\n", ",")[1] == [["1"], ["2"]]


_PLAIN = st.text(alphabet="0123456789.eE+- \t", max_size=8)


@given(cells=st.lists(_PLAIN, min_size=1, max_size=6))
def test_plain_numbers_are_what_the_patterns_and_python_give(cells):
    """numpy's parse accepts exactly the cells the patterns accept, with Python's values."""
    cells = [c for c in cells if c]  # an empty cell is a null, never parsed
    if not cells:
        return
    for pattern, fast, convert, dtype in (
        (core_text._INT, core_text._NOT_INT, int, np.int64),
        (core_text._FLOAT, core_text._NOT_FLOAT, float, np.float64),
    ):
        matches = all(pattern.fullmatch(c) for c in cells)
        got = core_text._plain_numbers(cells, fast, dtype)
        if got is None:
            # refused by the characters, or a cell the patterns refuse too (or beyond int64)
            assert not matches or fast.search("\n".join(cells)) or dtype is np.int64
            continue
        assert matches, cells
        expected = np.array([convert(c) for c in cells], dtype=dtype)
        np.testing.assert_array_equal(got, expected)
        assert np.signbit(got).tolist() == np.signbit(expected).tolist()


def test_a_line_end_inside_a_cell_is_not_parsed_as_two_numbers():
    assert typed_column(["1\n2", "3"])[0].dtype == object
    assert typed_column([" \n1", "3"])[0].dtype == object


def test_beyond_int64_is_a_float_as_pyarrow_reads_it():
    values, _ = typed_column(["99999999999999999999", "1"])
    assert values.dtype == np.float64


def test_the_fast_paths_are_taken_on_a_plain_file(monkeypatch):
    """A plain file never reaches the csv module or a per-cell pattern (the slow paths)."""

    def refuse(*args, **kwargs):
        raise AssertionError("slow path")

    monkeypatch.setattr(core_text, "_split_csv", refuse)
    monkeypatch.setattr(core_text, "_INT", re.compile("(?!)"))
    monkeypatch.setattr(core_text, "_FLOAT", re.compile("(?!)"))
    header, columns, _ = split_rows(b"y,p\r\n0,0.25\r\n1,1e-3\r\n", ",")
    assert [typed_column(c)[0].tolist() for c in columns] == [[0, 1], [0.25, 0.001]]

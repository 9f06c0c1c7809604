"""The core readers (no pyarrow) give the columns pyarrow's readers give, or the same error
line: on random CSV, TSV and JSON Lines texts built from the cells that trip readers
(numbers with spaces, hex, signs and exponents, pyarrow's null markers, booleans, dates,
timestamps, quotes, line ends, ragged rows, bytes that are not UTF-8); and without pyarrow
importable at all, ``import lossgap`` and ``lossgap explain FILE.csv`` work and the formats
only pyarrow reads are refused in one line."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from lossgap.errors import InputError
from lossgap.io.columns import ColumnTable
from lossgap.io.tables import read_table
from tests.hostile.test_reader_fuzz import damaged, edits, valid_file

CELLS = (
    "0", "1", "2", "-3", "17", " 4", "5 ", "\t6", "+7", "0x1f", "0X2", "-0x1", "00012",
    "99999999999999999999", "-9223372036854775808", "9223372036854775808",
    "0.5", ".25", "1.", "-1.5e3", "1E5", "1e-400", "1.5e400", "inf", "-Infinity", "NAN", "1_000",
    "", "NA", "nan", "NaN", "null", "N/A", "#N/A", "-nan", "NULL",
    "true", "False", "TRUE", " true", "yes",
    "2020-01-01", "2021-12-31", "2020-13-01", "2020-01-01 10:00:00", "2020-01-02T11:30",
    "2020-01-01T00:00:00.5", "12:00:00",
    "cat", "dog", " ", "a b", '"quoted"', '"a,b"', '"x""y"', '"two\nlines"', "\u00e9t\u00e9",
    "\u202etxt", "=1+1", "-", ".", "e5",
)  # fmt: skip


def random_text(rng: np.random.Generator, delimiter: str) -> bytes:
    k = int(rng.integers(1, 5))
    names = [f"c{j}" for j in range(k)]
    if rng.random() < 0.1:
        names[0] = str(rng.choice(CELLS)).strip('"') or "x"
    # a column draws from a few cells, so that most columns have one type
    pools = [rng.choice(len(CELLS), int(rng.integers(1, 4))) for _ in range(k)]
    rows = []
    for _ in range(int(rng.integers(0, 12))):
        width = k if rng.random() > 0.05 else int(rng.integers(1, k + 2))
        cells = [CELLS[int(rng.choice(pools[j % k]))] for j in range(width)]
        rows.append(delimiter.join(cells))
        if rng.random() < 0.05:
            rows.append("")
    end = str(rng.choice(["\n", "\r\n", "\r"]))
    text = end.join([delimiter.join(names), *rows])
    if rng.random() < 0.9:
        text += end
    data = text.encode()
    if rng.random() < 0.05:
        data = b"\xef\xbb\xbf" + data
    if rng.random() < 0.05 and len(data) > 3:
        at = int(rng.integers(len(names[0]) + 1, len(data)))
        data = data[:at] + b"\xff" + data[at:]
    return data


def random_json_lines(rng: np.random.Generator) -> bytes:
    values = [0, 1, -2, 2**70, 0.5, 1e300, True, False, None, "a", "2020-01-01", "", [1], {"b": 1}]
    keys = ["y", "p", "id"]
    lines = []
    for _ in range(int(rng.integers(0, 8))):
        row = {}
        for key in keys:
            if rng.random() < 0.85:
                row[key] = values[int(rng.integers(0, 4 if key != "id" else len(values)))]
        lines.append(json.dumps(row))
    text = "\n".join(lines) + "\n"
    if rng.random() < 0.1 and text.strip():
        text = text[: int(rng.integers(1, len(text)))]
    data = text.encode()
    if rng.random() < 0.1 and data:  # a byte that is not UTF-8, in a key, a value or between
        at = int(rng.integers(0, len(data)))
        data = data[:at] + b"\xff" + data[at:]
    return data


def read_both(path: Path, monkeypatch) -> tuple[object, object]:
    out = []
    for flag in ("1", "0"):
        monkeypatch.setenv("LOSSGAP_ARROW", flag)
        try:
            out.append(read_table(path))
        except InputError as exc:
            out.append(str(exc))
    return out[0], out[1]


def _parser_words(message):
    """An error line with the JSON parser's own words left out, up to the ``)`` that closes
    them (their own words may hold one: "Column() changed from object to array in row 0"):
    they change between pyarrow releases and between the readers (a damaged first row is
    "Column() changed from object to array" to pyarrow 26 and "Missing a comma or ']'
    after an array element." to the core reader), which also word a few rows differently
    (docs/inputs.md); both refuse the file as JSON they cannot parse."""
    return re.sub(r"JSON parse error: .*?\)(?=:|$)", "JSON parse error: ...)", message)


def assert_same(arrow, core, data):
    if isinstance(arrow, str) and isinstance(core, str):
        assert _parser_words(arrow) == _parser_words(core), data
    elif isinstance(arrow, str) or isinstance(core, str):
        assert arrow == core, data
    else:
        assert arrow.difference(core) is None, (arrow.difference(core), data)


def test_a_difference_is_found():
    """The comparison can fail: each kind of difference is named."""
    base = ColumnTable.from_arrays({"p": np.array([0.5, np.nan]), "y": np.array(["a", "b"])})
    changed = [
        ColumnTable.from_arrays({"q": base.arrays[0], "y": base.arrays[1]}),
        ColumnTable.from_arrays({"p": np.array([0.5, 1.0]), "y": base.arrays[1]}),
        ColumnTable.from_arrays({"p": base.arrays[0], "y": np.array(["a", "c"], dtype=object)}),
        ColumnTable.from_arrays({"p": base.arrays[0], "y": np.array(["a", "b"], dtype=object)},
                                {"p": np.array([False, True])}),
        base.take([0]),
    ]  # fmt: skip
    found = [base.difference(other) for other in changed]
    assert all(found), found
    assert base.difference(base.take([0, 1])) is None


@pytest.mark.parametrize("kind", ["csv", "tsv"])
@pytest.mark.one_reader("arrow")
def test_random_delimited_texts_read_alike(tmp_path, kind, reader, monkeypatch):
    rng = np.random.default_rng(16)
    for case in range(400):
        data = random_text(rng, "," if kind == "csv" else "\t")
        path = tmp_path / f"t{case}.{kind}"
        path.write_bytes(data)
        assert_same(*read_both(path, monkeypatch), data)


@pytest.mark.one_reader("arrow")
def test_random_json_lines_read_alike(tmp_path, reader, monkeypatch):
    rng = np.random.default_rng(17)
    for case in range(300):
        data = random_json_lines(rng)
        path = tmp_path / f"t{case}.jsonl"
        path.write_bytes(data)
        assert_same(*read_both(path, monkeypatch), data)


@pytest.mark.parametrize(
    ("name", "what"),
    [("p.parquet", "Parquet"), ("p.feather", "Arrow IPC (Feather)"), ("p.csv.zst", "zstd files")],
)
@pytest.mark.one_reader("core")
def test_arrow_formats_are_refused_in_one_line_without_it(tmp_path, reader, name, what):
    path = tmp_path / name
    path.write_bytes(b"y,p\n0,0.5\n")
    with pytest.raises(InputError) as caught:
        read_table(path)
    assert str(caught.value) == f"reading {what} needs pyarrow: pip install 'lossgap[arrow]'"


#: Runs lossgap's command line with every pyarrow module unimportable.
BLOCKED = """
import sys
for name in ("pyarrow", "pyarrow.csv", "pyarrow.json", "pyarrow.parquet", "pyarrow.compute",
             "pyarrow.dataset", "pyarrow.fs", "pyarrow.feather", "pyarrow.ipc"):
    sys.modules[name] = None
import lossgap
sys.argv = ["lossgap", *sys.argv[1:]]
from lossgap.__main__ import main
main()
"""


def run_blocked(tmp_path, *args):
    env = {**os.environ, "PYTHONPATH": str(Path(lossgap_src()))}
    env.pop("LOSSGAP_ARROW", None)
    return subprocess.run(
        [sys.executable, "-c", BLOCKED, *map(str, args)],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120,
    )  # fmt: skip


def lossgap_src() -> str:
    import lossgap

    return str(Path(lossgap.__file__).parents[1])


@pytest.mark.slow
@pytest.mark.one_reader("arrow")
def test_without_pyarrow_explain_reads_csv_and_refuses_parquet(tmp_path, reader):
    csv = tmp_path / "p.csv"
    csv.write_text("y,p\n0,0.1\n1,0.8\n1,0.35\n0,0.6\n1,0.9\n0,0.2\n")
    done = run_blocked(tmp_path, "explain", csv, "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["n"] == 6
    # the other commands that read CSV: compare (two files), history (a Keras CSVLogger log)
    (tmp_path / "q.csv").write_text("y,p\n0,0.3\n1,0.6\n1,0.55\n0,0.5\n1,0.7\n0,0.4\n")
    log = tmp_path / "training.log"
    rows = [f"{e},{1 / (e + 1)},{0.5 + abs(e - 4) / 20}\n" for e in range(10)]
    log.write_text("epoch,loss,val_loss\n" + "".join(rows))
    for args in (["compare", "p.csv", "q.csv", "--json"], ["history", log.name, "--json"]):
        done = run_blocked(tmp_path, *args)
        assert done.returncode == 0, (args, done.stderr)
        json.loads(done.stdout)
    (tmp_path / "p.parquet").write_bytes(b"PAR1")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "p.csv").write_text(csv.read_text())
    for args in (["explain", "p.parquet"], ["explain", "d", "--engine", "stream"]):
        done = run_blocked(tmp_path, *args)
        assert done.returncode == 2, done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and "needs pyarrow: pip install 'lossgap[arrow]'" in lines[0], lines


@pytest.mark.parametrize("fmt", ["csv", "tsv", "jsonl"])
@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(changes=edits)
@pytest.mark.one_reader("arrow")
def test_damaged_bytes_read_alike(fmt, changes, reader):
    """hypothesis cuts, overwrites and extends the bytes of a valid file (as
    ``tests/hostile/test_reader_fuzz.py`` does): both readers read the same, or refuse alike."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"f.{fmt}"
        path.write_bytes(damaged(valid_file(fmt), changes))
        with pytest.MonkeyPatch.context() as patch:
            assert_same(*read_both(path, patch), path.read_bytes())


#: JSON Lines errors, each worded by RapidJSON (pyarrow's parser) and by the core reader.
JSON_ERRORS = (
    b'{"a":"\\uZZ12"}\n', b'{"a":"\\q"}\n', b'{"a":"x\x01"}\n', b'{"a":1.}\n', b'{"a":1e}\n',
    b'{"a" 1}\n', b"{a:1}\n", b'{"a":[1 2]}\n', b'{"a":["x]\\"" 1]}\n', b'{"a":tru}\n',
    b'{"a":"abc', b'{"a":"x\\', b'{"a":"x\\\\', b'{"a":"x\\u00', b'{"a":"x\\u0007',
    b'{"a":1}\n[1]\n',
    b'{"a":1,"a":2}\n', b'{"a":1e400}\n', b'{"a":1}\n{"a":"x"}\n', b'{"a":true}\n{"a":1}\n',
    b'{"a":1}\n{"a":"x\xff"}\n', b'{"\xff":1}\n', b'{"a":"x\xff"}\n', b"", b"\n",
)  # fmt: skip


@pytest.mark.parametrize("data", JSON_ERRORS)
@pytest.mark.one_reader("arrow")
def test_json_lines_errors_are_worded_alike(tmp_path, data, reader, monkeypatch):
    path = tmp_path / "f.jsonl"
    path.write_bytes(data)
    assert_same(*read_both(path, monkeypatch), data)

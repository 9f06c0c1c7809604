"""Read prediction files into columns: CSV, TSV, Parquet, JSON Lines, Arrow IPC, .npy and .npz.

Besides local files: compressed ones (``preds.csv.gz``, ``.bz2``, ``.zst``, ``.lz4``),
standard input (``-``, the format told by its first bytes) and every URI
:mod:`pyarrow.fs` opens (``s3://``, ``gs://``, ``hdfs://``, ``file://``).

Every reader gives a :class:`~lossgap.io.columns.ColumnTable`. With pyarrow installed (the
``arrow`` extra) it reads CSV, TSV and JSON Lines, and it alone reads Parquet, Arrow IPC,
``.zst``/``.lz4`` and URIs; without it (or with ``LOSSGAP_ARROW=0``) the core readers of
:mod:`lossgap.io.text` read the text formats, with the same columns and the same error
lines, and the others are refused in one line naming the extra. numpy reads ``.npy`` and
``.npz``. Every failure is an :class:`~lossgap.InputError` naming the file and the fix.

Column layout of numpy files: a structured ``.npy`` gives one column per field; a plain
2-D ``.npy`` gives columns ``"0"``, ``"1"``...; a ``.npz`` gives one column per array, a
2-D array ``p`` becoming ``p_0``, ``p_1``...
"""

from __future__ import annotations

import bz2
import fnmatch
import io
import re
import sys
import tokenize
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lossgap.core.predictions import Predictions
from lossgap.errors import InputError
from lossgap.io.columns import (
    ColumnTable,
    arrow_column,
    arrow_enabled,
    arrow_errors,
    require_arrow,
)
from lossgap.io.text import TextTableError, read_delimited, read_json_lines

if TYPE_CHECKING:
    import pyarrow as pa

#: File suffixes and the reader each one uses.
FORMATS = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".npy": "npy",
    ".npz": "npz",
    ".feather": "ipc",
    ".arrow": "ipc",
    ".ipc": "ipc",
    ".arrows": "ipc",
}

#: Compression suffixes and pyarrow's codec names; the format is the suffix before.
COMPRESSIONS = {".gz": "gzip", ".bz2": "bz2", ".zst": "zstd", ".lz4": "lz4"}

#: What only pyarrow reads, as the one line that asks for the extra names it.
_ARROW_ONLY = {"parquet": "Parquet", "ipc": "Arrow IPC (Feather)"}

#: An object's address in its repr.
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+>")

#: ``scheme://...``, or ``scheme:/...``: a CLI argument read as a Path loses a slash.
_URI = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]+):(?P<slashes>/+)(?P<rest>.*)$")

LABEL_CANDIDATES = ("label", "y_true", "y", "target", "true", "class", "labels")
PROB_CANDIDATES = ("prob", "y_prob", "proba", "probability", "p", "score", "y_score", "pred")
LOGIT_CANDIDATES = ("logit", "logits", "z")
PROB_PREFIXES = ("p_", "prob_", "proba_", "y_prob_")


def file_format(path: Path) -> str:
    """The reader for ``path``, from its suffix (CSV when unknown)."""
    return FORMATS.get(path.suffix.lower(), "csv")


def read_table(path: str | Path) -> ColumnTable:
    """Read a whole prediction file as columns.

    Parameters
    ----------
    path : str or Path
        A ``.csv``, ``.tsv``, ``.parquet``, ``.jsonl`` (or ``.json`` lines), Arrow IPC,
        ``.npy`` or ``.npz`` file, compressed or not; ``-`` (standard input); a URI.

    Returns
    -------
    ColumnTable

    Raises
    ------
    lossgap.InputError
        Missing, empty, header-only or unreadable files; a format that needs pyarrow when
        it is not installed.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "preds.csv"
    >>> _ = path.write_text("y,p\\n0,0.2\\n1,0.7\\n")
    >>> read_table(path).values("p")
    array([0.2, 0.7])
    """
    table = _read_source(str(path))
    if table is not None:
        return _checked(table, str(path))
    path = Path(path)
    if not path.exists():
        msg = f"file {str(path)!r} does not exist: check the path"
        raise InputError(msg)
    if path.is_dir():
        msg = f"{str(path)!r} is a directory: pass a file"
        raise InputError(msg)
    if path.stat().st_size == 0:
        msg = f"file {str(path)!r} is empty: it holds no header and no rows"
        raise InputError(msg)
    kind = file_format(path)
    return _checked(_READERS[kind](path), str(path))


def _checked(table: ColumnTable, where: str) -> ColumnTable:
    """The table, unless it has no column or no row."""
    if table.num_columns == 0:
        msg = f"file {where!r} holds no columns: is it a table?"
        raise InputError(msg)
    check_unique_columns(table.column_names, where)
    if table.num_rows == 0:
        msg = (
            f"file {where!r} has a header ({', '.join(table.column_names)}) but no rows: "
            "there are no samples to evaluate"
        )
        raise InputError(msg)
    return table


def _read_source(source: str) -> ColumnTable | None:
    """Standard input, a URI or a compressed file; None for a plain local path."""
    uri = _URI.match(source)
    compression = COMPRESSIONS.get(Path(source).suffix.lower())
    if source == "-":
        data = sys.stdin.buffer.read()
        if not data:
            msg = "standard input is empty: pipe a table into lossgap, or pass a file"
            raise InputError(msg)
        return _table_from_bytes(data, _sniff(data), "standard input")
    if uri is not None and len(uri["scheme"]) > 1:  # "C:/..." is a Windows path
        scheme, rest = uri["scheme"], uri["rest"]
        if len(uri["slashes"]) >= 2:
            address = source
        else:  # Path("s3://b/k") is "s3:/b/k"; Path("file:///x") is "file:/x"
            address = f"{scheme}:///{rest}" if scheme == "file" else f"{scheme}://{rest}"
        require_arrow(f"{scheme}:// paths")
        return _table_from_bytes(_read_uri(address, compression), _inner_format(address), address)
    if compression is not None:
        path = Path(source)
        if not path.is_file():
            return None  # the plain path's checks name the problem
        return _table_from_bytes(_decompress(path, compression), _inner_format(source), source)
    return None


def _decompress(path: Path, compression: str) -> bytes:
    """A compressed file's bytes: pyarrow's codecs, or the standard library's gzip and bz2
    with pyarrow's messages."""
    kind = f"{compression}-compressed"
    if arrow_enabled():
        import pyarrow as pa

        try:
            with pa.input_stream(str(path), compression=compression) as stream:
                return stream.read()
        except (OSError, pa.ArrowInvalid) as exc:
            raise _not_a_table(path, kind, exc) from exc
    if compression not in ("gzip", "bz2"):
        require_arrow(f"{compression} files")
    try:
        return _inflate(path.read_bytes(), compression)
    except OSError as exc:
        raise _not_a_table(path, kind, exc) from exc


def _inflate(data: bytes, compression: str) -> bytes:
    """gzip or bz2 data (one member after another) as pyarrow's codecs read it.

    Examples
    --------
    >>> import gzip
    >>> _inflate(gzip.compress(b"y,p") + gzip.compress(b"\\n"), "gzip")
    b'y,p\\n'
    >>> _inflate(b"text", "gzip")
    Traceback (most recent call last):
    ...
    OSError: zlib inflate failed: incorrect header check
    """
    out = []
    while data:
        if compression == "gzip":
            codec: Any = zlib.decompressobj(wbits=31)
            try:
                out.append(codec.decompress(data))
            except zlib.error as exc:
                raise OSError(f"zlib inflate failed: {str(exc).split(': ', 1)[-1]}") from None
        else:
            if not data.startswith(b"BZh"):
                msg = "bz2 decompress failed: data is not bz2-compressed (no magic header)"
                raise OSError(msg)
            codec = bz2.BZ2Decompressor()
            try:
                out.append(codec.decompress(data))
            except OSError:
                raise OSError("bz2 decompress failed: data integrity error") from None
        if not codec.eof:
            raise OSError("Truncated compressed stream")
        data = codec.unused_data
    return b"".join(out)


def _inner_format(name: str) -> str:
    """The format of a name, under its compression suffix (``preds.csv.gz``: CSV)."""
    stem = Path(name.split("?", 1)[0])
    if stem.suffix.lower() in COMPRESSIONS:
        stem = stem.with_suffix("")
    return file_format(stem)


def _read_uri(address: str, compression: str | None) -> bytes:
    import pyarrow as pa
    from pyarrow import fs

    try:
        filesystem, inner = fs.FileSystem.from_uri(address)
        with filesystem.open_input_stream(inner, compression=compression) as stream:
            return stream.read()
    except (OSError, pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        msg = (
            f"cannot read {address!r} ({detail}): check the address, and the credentials "
            "pyarrow.fs reads from the environment"
        )
        raise InputError(msg) from exc


#: First bytes of the binary formats, for standard input.
_MAGIC = ((b"PAR1", "parquet"), (b"ARROW1", "ipc"), (b"FEA1", "ipc"), (b"\x93NUMPY", "npy"))


def _sniff(data: bytes) -> str:
    """The format of piped bytes: binary magic numbers, JSON Lines, else CSV or TSV."""
    if data[:2] == b"\x1f\x8b":
        return "gzip"
    if data[:4] == b"\xff\xff\xff\xff" or data[:8] == b"\xff\xff\xff\xff\x00\x00\x00\x00":
        return "ipc"  # an IPC stream starts with a continuation marker
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            return kind
    if data.startswith(b"PK"):
        return "npz"
    head = data[:4096].lstrip()
    if head.startswith(b"{"):
        return "jsonl"
    first = head.split(b"\n", 1)[0]
    return "tsv" if first.count(b"\t") > first.count(b",") else "csv"


def arrow_buffer(data: bytes) -> pa.Buffer:
    """A copy of ``data`` in Arrow's own memory, for pyarrow's readers to read.

    A threaded reader that fails early (an empty CSV) leaves a callback on one of Arrow's
    worker threads that holds its input. Over Python bytes (``pa.py_buffer``), releasing
    it takes the GIL; when that happens while the interpreter exits, the process aborts
    ("terminate called without an active exception", exit 134). Arrow's memory is
    released without the GIL.

    Examples
    --------
    >>> arrow_buffer(b"y,p").to_pybytes()
    b'y,p'
    """
    import pyarrow as pa

    sink = pa.BufferOutputStream()
    sink.write(data)
    return sink.getvalue()


def _table_from_bytes(data: bytes, kind: str, where: str) -> ColumnTable:
    """Read a whole table held in memory with the reader of ``kind``."""
    name = Path(where)
    if kind == "gzip":
        try:
            data = _inflate(data, "gzip")
        except OSError as exc:
            raise _not_a_table(name, "gzip-compressed", exc) from exc
        return _table_from_bytes(data, _sniff(data), where)
    if kind in _ARROW_ONLY:
        require_arrow(_ARROW_ONLY[kind])
    unreadable: tuple[type[Exception], ...] = (
        TextTableError, UnicodeDecodeError, *_NUMPY_FILE_ERRORS, *arrow_errors()
    )  # fmt: skip
    try:
        if kind in ("npy", "npz"):
            if kind == "npy":
                return _arrays_from_npy(np.load(io.BytesIO(data), allow_pickle=False), name)
            with np.load(io.BytesIO(data), allow_pickle=False) as archive:
                return _arrays_to_table({k: archive[k] for k in archive.files}, name)
        if not arrow_enabled():
            if kind in ("csv", "tsv"):
                return read_delimited(data, "\t" if kind == "tsv" else ",")
            return read_json_lines(data)
        return ColumnTable.from_arrow(_arrow_table_from_bytes(data, kind))
    except InputError:  # a ValueError, but already the one line to show
        raise
    except unreadable as exc:
        raise _not_a_table(name, kind.upper() if kind != "jsonl" else "JSON Lines", exc) from exc


def _arrow_table_from_bytes(data: bytes, kind: str) -> pa.Table:
    if kind in ("csv", "tsv"):
        import pyarrow.csv as pa_csv

        options = pa_csv.ParseOptions(delimiter="\t" if kind == "tsv" else ",")
        return pa_csv.read_csv(arrow_buffer(data), parse_options=options)
    if kind == "jsonl":
        import pyarrow.json as pa_json

        return pa_json.read_json(arrow_buffer(data))
    if kind == "parquet":
        import pyarrow.parquet as pq

        return pq.read_table(arrow_buffer(data))
    return _ipc_table(arrow_buffer(data))


def _ipc_table(source: object) -> pa.Table:
    """An Arrow IPC file (Feather v2), a Feather v1 file, or an IPC stream."""
    import pyarrow as pa
    import pyarrow.feather as feather

    try:
        return feather.read_table(source)
    except pa.ArrowInvalid:
        if isinstance(source, pa.Buffer):
            return pa.ipc.open_stream(source).read_all()
        with pa.OSFile(str(source)) as handle:
            return pa.ipc.open_stream(handle).read_all()


def check_unique_columns(names: Sequence[str], where: str) -> None:
    """Refuse a header that names a column twice (which of the two would be read?).

    Examples
    --------
    >>> check_unique_columns(["y", "p", "p"], "f.csv")
    Traceback (most recent call last):
    ...
    lossgap.errors.InputError: 'f.csv' has two columns named 'p' (columns 2 and 3, counted
    from 1): rename one
    """
    first: dict[str, int] = {}
    for j, name in enumerate(names):
        if name in first:
            msg = (
                f"{where!r} has two columns named {name!r} (columns {first[name] + 1} and "
                f"{j + 1}, counted from 1): rename one"
            )
            raise InputError(msg)
        first[name] = j


def _looks_binary(path: Path) -> bool:
    with path.open("rb") as handle:
        head = handle.read(4096)
    if b"\x00" in head:
        return True
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # a multi-byte character cut by the 4096-byte read is fine; the end of the file is not
        return exc.start < len(head) - 4 or len(head) < 4096
    return False


def _not_a_table(path: Path, kind: str, exc: Exception | None = None) -> InputError:
    # numpy's header parser names Python objects by address ("<ast.Name object at 0x7f..>"):
    # the address goes, so that the line is the same for the same file
    text = _ADDRESS.sub(">", str(exc)) if exc is not None else ""
    detail = f" ({text.splitlines()[0]})" if text else ""
    msg = (
        f"file {str(path)!r} is not a {kind} table{detail}: pass a CSV, TSV, Parquet, "
        "JSON Lines, Arrow IPC (Feather), .npy or .npz file"
    )
    return InputError(msg)


def _read_text(path: Path, kind: str, label: str) -> ColumnTable:
    """A local CSV, TSV or JSON Lines file, by pyarrow's reader or the core one."""
    if _looks_binary(path):
        raise _not_a_table(path, label)
    if not arrow_enabled():
        try:
            data = path.read_bytes()
            if kind == "jsonl":
                return read_json_lines(data)
            return read_delimited(data, "\t" if kind == "tsv" else ",")
        except (TextTableError, UnicodeDecodeError) as exc:
            raise _not_a_table(path, label, exc) from exc
    import pyarrow as pa
    import pyarrow.csv as pa_csv
    import pyarrow.json as pa_json

    try:
        if kind == "jsonl":
            table = pa_json.read_json(path)
        else:
            options = pa_csv.ParseOptions(delimiter="\t" if kind == "tsv" else ",")
            table = pa_csv.read_csv(path, parse_options=options)
        # pyarrow checks the values' UTF-8, not the header's: the names are decoded here
        return ColumnTable.from_arrow(table)
    except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeDecodeError) as exc:
        raise _not_a_table(path, label, exc) from exc


def _read_csv(path: Path) -> ColumnTable:
    return _read_text(path, "csv", "CSV")


def _read_tsv(path: Path) -> ColumnTable:
    return _read_text(path, "tsv", "TSV")


def _read_jsonl(path: Path) -> ColumnTable:
    return _read_text(path, "jsonl", "JSON Lines (one object per line)")


def _read_parquet(path: Path) -> ColumnTable:
    require_arrow("Parquet")
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        if path.is_file():  # read_table would import pyarrow.dataset, and with it pandas (0.7 s)
            return ColumnTable.from_arrow(pq.ParquetFile(path).read())
        return ColumnTable.from_arrow(pq.read_table(path))
    except (pa.ArrowInvalid, OSError, UnicodeDecodeError) as exc:  # text not UTF-8
        raise _not_a_table(path, "Parquet", exc) from exc


def _numpy_column(array: np.ndarray) -> np.ndarray:
    """A numpy file's column as pyarrow held it: text (``U``, ``S``) as Python objects."""
    if array.dtype.kind in "US":
        return array.astype(object)
    return array


def _arrays_to_table(arrays: dict[str, np.ndarray], path: Path) -> ColumnTable:
    columns: dict[str, np.ndarray] = {}
    for name, array in arrays.items():
        if array.ndim == 1:
            columns[name] = _numpy_column(array)
        elif array.ndim == 2:
            for j in range(array.shape[1]):
                columns[f"{name}_{j}"] = _numpy_column(array[:, j])
        else:
            msg = f"array {name!r} in {str(path)!r} has shape {array.shape}: pass 1-D or 2-D arrays"
            raise InputError(msg)
    lengths = {len(a) for a in columns.values()}
    if len(lengths) > 1:
        shown = ", ".join(f"{k}: {len(v)}" for k, v in columns.items())
        msg = f"arrays in {str(path)!r} differ in length ({shown}): pass one row per sample"
        raise InputError(msg)
    return ColumnTable.from_arrays(columns)


#: What numpy raises for a corrupt, truncated or foreign .npy/.npz file (a bad zip, a CRC
#: mismatch, a header it cannot parse, a pickled object it will not load, text that is not
#: valid UTF-32, zip flags for encryption or compression methods zipfile refuses with
#: RuntimeError or NotImplementedError).
_NUMPY_FILE_ERRORS = (
    RuntimeError,
    OSError,
    EOFError,
    KeyError,
    zipfile.BadZipFile,
    SyntaxError,
    tokenize.TokenError,
    UnicodeError,
    ValueError,
)


def _read_npy(path: Path) -> ColumnTable:
    try:
        array = np.load(path, allow_pickle=False)
        return _arrays_from_npy(array, path)
    except InputError:
        raise
    except _NUMPY_FILE_ERRORS as exc:
        raise _not_a_table(path, ".npy", exc) from exc


def _arrays_from_npy(array: np.ndarray, path: Path) -> ColumnTable:
    if array.dtype.names:
        return _arrays_to_table({name: array[name] for name in array.dtype.names}, path)
    if array.ndim == 1:
        return _arrays_to_table({"0": array}, path)
    if array.ndim != 2:
        msg = f"array in {str(path)!r} has shape {array.shape}: pass a 1-D or 2-D array"
        raise InputError(msg)
    return _arrays_to_table({str(j): array[:, j] for j in range(array.shape[1])}, path)


def _read_npz(path: Path) -> ColumnTable:
    try:
        with np.load(path, allow_pickle=False) as archive:
            if not hasattr(archive, "files"):  # a .npy under an .npz name
                raise ValueError("a single array, not an archive")
            arrays = {name: archive[name] for name in archive.files}
        return _arrays_to_table(arrays, path)
    except InputError:
        raise
    except _NUMPY_FILE_ERRORS as exc:
        raise _not_a_table(path, ".npz", exc) from exc


def _read_ipc(path: Path) -> ColumnTable:
    require_arrow(_ARROW_ONLY["ipc"])
    import pyarrow as pa

    try:
        return ColumnTable.from_arrow(_ipc_table(path))
    except (pa.ArrowInvalid, OSError, UnicodeDecodeError) as exc:  # text not UTF-8
        raise _not_a_table(path, "Arrow IPC (Feather)", exc) from exc


_READERS = {
    "ipc": _read_ipc,
    "csv": _read_csv,
    "tsv": _read_tsv,
    "parquet": _read_parquet,
    "jsonl": _read_jsonl,
    "npy": _read_npy,
    "npz": _read_npz,
}


@dataclass(frozen=True)
class ColumnChoice:
    """The columns that hold each input, as resolved from the options."""

    label: str
    probs: list[str]
    from_logits: bool
    id: str | None = None
    weight: str | None = None


def _missing(column: str, available: Sequence[str], path: str, option: str) -> InputError:
    msg = (
        f"no column {column!r} in {path!r} (from {option}); the columns are: "
        f"{', '.join(available)}"
    )
    return InputError(msg)


def _expand(
    patterns: Sequence[str],
    available: Sequence[str],
    path: str,
    option: str,
    reserved: Mapping[str, str] | None = None,
) -> list[str]:
    """Column names from names or globs (``p_*``), in file order for globs.

    ``reserved`` maps the label, id and weight columns to their options: a glob never
    takes them, and naming one is refused (a label read as probabilities scores perfectly).

    Examples
    --------
    >>> _expand(["*_*"], ["y_true", "p_a", "p_b"], "f.csv", "--prob", {"y_true": "--label"})
    ['p_a', 'p_b']
    """
    reserved = reserved or {}
    chosen: list[str] = []
    for pattern in patterns:
        if pattern in reserved:
            msg = (
                f"{option} {pattern!r} is the {reserved[pattern]} column of {path!r}: a column "
                f"cannot be both; pass another {option} or {reserved[pattern]}"
            )
            raise InputError(msg)
        if any(ch in pattern for ch in "*?["):
            matched = [
                c for c in available if fnmatch.fnmatchcase(c, pattern) and c not in reserved
            ]
            if not matched:
                msg = (
                    f"no column matches {pattern!r} in {path!r} (from {option}); the columns "
                    f"are: {', '.join(available)}"
                )
                raise InputError(msg)
            chosen.extend(m for m in matched if m not in chosen)
        elif pattern not in available:
            raise _missing(pattern, available, path, option)
        else:
            chosen.append(pattern)
    return chosen


def _guess(candidates: Sequence[str], available: Sequence[str]) -> str | None:
    lower = {c.lower(): c for c in available}
    return next((lower[c] for c in candidates if c in lower), None)


def choose_columns(
    columns: Sequence[str],
    path: str,
    *,
    label: str | None = None,
    prob: Sequence[str] = (),
    logit: Sequence[str] = (),
    id: str | None = None,
    weight: str | None = None,
) -> ColumnChoice:
    """Resolve the CLI options against a file's columns, guessing common names.

    Examples
    --------
    >>> choose_columns(["y", "p_cat", "p_dog"], "f.csv").probs
    ['p_cat', 'p_dog']
    >>> choose_columns(["y", "p"], "f.csv", label="target")
    Traceback (most recent call last):
    ...
    lossgap.errors.InputError: no column 'target' in 'f.csv' (from --label); the columns are: y, p
    """
    if prob and logit:
        msg = "pass either --prob or --logit, not both"
        raise InputError(msg)
    if label is None:
        label = _guess(LABEL_CANDIDATES, columns)
        if label is None:
            msg = (
                f"cannot tell which column of {path!r} holds the labels; name it with --label "
                f"(the columns are: {', '.join(columns)})"
            )
            raise InputError(msg)
    elif label not in columns:
        raise _missing(label, columns, path, "--label")
    for name, option in ((id, "--id"), (weight, "--weight")):
        if name is not None and name not in columns:
            raise _missing(name, columns, path, option)
    reserved = {
        name: option
        for name, option in ((weight, "--weight"), (id, "--id"), (label, "--label"))
        if name is not None
    }
    from_logits = bool(logit)
    if prob or logit:
        probs = _expand(prob or logit, columns, path, "--logit" if logit else "--prob", reserved)
    else:
        probs = _guess_probability_columns(columns, reserved, path)
        from_logits = probs[0].lower() in LOGIT_CANDIDATES
    return ColumnChoice(label, probs, from_logits, id, weight)


def _guess_probability_columns(
    columns: Sequence[str], reserved: Mapping[str, str], path: str
) -> list[str]:
    free = [c for c in columns if c not in reserved]
    prefixed = [c for c in free if c.lower().startswith(PROB_PREFIXES)]
    if prefixed:
        return prefixed
    single = _guess(PROB_CANDIDATES, free) or _guess(LOGIT_CANDIDATES, free)
    if single is not None:
        return [single]
    msg = (
        f"cannot tell which column of {path!r} holds the probabilities; name it with --prob "
        f"(or --logit for raw scores; the columns are: {', '.join(columns)})"
    )
    raise InputError(msg)


def column_values(table: ColumnTable | pa.Table | pa.RecordBatch, name: str) -> np.ndarray:
    """A column as numpy, refusing empty cells with the row that has one.

    ``table`` is what :func:`read_table` returns, or a pyarrow Table or RecordBatch (the
    streaming engine's batches).
    """
    if isinstance(table, ColumnTable):
        return table.values(name)
    values, mask = arrow_column(table.column(name))
    return ColumnTable((name,), (values,), (mask,)).values(name)


def predictions_from_table(
    table: ColumnTable | pa.Table | pa.RecordBatch,
    choice: ColumnChoice,
    *,
    threshold: float = 0.5,
    positive: str | None = None,
    classes: Sequence[str] | None = None,
    default_ids: np.ndarray | None = None,
) -> Predictions:
    """Validate the chosen columns of a table (or one record batch) into Predictions.

    ``default_ids`` are the ids when no id column was chosen (default: the row index).
    """
    probs = [column_values(table, c) for c in choice.probs]
    return Predictions(
        column_values(table, choice.label),
        probs[0] if len(probs) == 1 else np.column_stack(probs),
        from_logits=choice.from_logits,
        sample_weight=None if choice.weight is None else column_values(table, choice.weight),
        ids=default_ids if choice.id is None else column_values(table, choice.id),
        classes=classes,
        positive=positive,
        threshold=threshold,
        label_name=choice.label,
        prob_names=choice.probs,
        weight_name=choice.weight or "sample_weight",
        id_name=choice.id or "ids",
    )


def read_predictions(
    path: str | Path,
    *,
    label: str | None = None,
    prob: Sequence[str] = (),
    logit: Sequence[str] = (),
    id: str | None = None,
    weight: str | None = None,
    threshold: float = 0.5,
    positive: str | None = None,
    classes: Sequence[str] | None = None,
) -> Predictions:
    """Read a prediction file and validate it into :class:`~lossgap.Predictions`.

    Parameters mirror the CLI options of ``lossgap explain``.
    """
    table = read_table(path)
    choice = choose_columns(
        table.column_names, str(path), label=label, prob=prob, logit=logit, id=id, weight=weight
    )
    return predictions_from_table(
        table, choice, threshold=threshold, positive=positive, classes=classes
    )


def read_predictions_and_groups(
    path: str | Path, by: Sequence[str], **columns: Any
) -> tuple[Predictions, dict[str, np.ndarray]]:
    """:func:`read_predictions` and the grouping columns ``by`` of the same rows (``--by``).

    Raises
    ------
    lossgap.InputError
        A grouping column that is missing or has an empty cell.
    """
    table = read_table(path)
    for name in by:
        if name not in table.column_names:
            msg = (
                f"--by {name!r}: {str(path)!r} has no such column (its columns: "
                f"{', '.join(table.column_names)})"
            )
            raise InputError(msg)
    options = {k: columns.pop(k) for k in ("threshold", "positive", "classes") if k in columns}
    choice = choose_columns(table.column_names, str(path), **columns)
    pred = predictions_from_table(table, choice, **options)
    return pred, {name: column_values(table, name) for name in by}


#: Prefixes of a multilabel file's label columns, beside the bare label name.
LABEL_PREFIXES = ("y_", "label_", "true_")


@dataclass(frozen=True)
class MultilabelColumns:
    """A multilabel file's columns: the label names and, per label, its 0/1 and
    probability (or logit) columns."""

    names: list[str]
    labels: list[str]
    probs: list[str]
    from_logits: bool


def choose_multilabel_columns(
    columns: Sequence[str],
    path: str,
    *,
    label: str | None = None,
    prob: Sequence[str] = (),
    logit: Sequence[str] = (),
) -> MultilabelColumns:
    """Pair each probability column with its 0/1 label column (``--multilabel``).

    Probabilities come from ``--prob``/``--logit`` (names or globs) or the columns with a
    probability prefix (``p_cat``); labels from ``--label`` (a name or a glob, in the same
    order) or, for each probability column ``p_cat``, the column ``cat``, ``y_cat``,
    ``label_cat`` or ``true_cat``.

    Examples
    --------
    >>> choose_multilabel_columns(["cat", "dog", "p_cat", "p_dog"], "f.csv").labels
    ['cat', 'dog']
    >>> choose_multilabel_columns(["y_a", "y_b", "p_a", "p_b"], "f.csv", label="y_*").names
    ['a', 'b']
    """
    if prob and logit:
        msg = "pass either --prob or --logit, not both"
        raise InputError(msg)
    if prob or logit:
        probs = _expand(prob or logit, columns, path, "--logit" if logit else "--prob")
    else:
        probs = [c for c in columns if c.lower().startswith(PROB_PREFIXES)]
        if not probs:
            msg = (
                f"cannot tell which columns of {path!r} hold the label probabilities; name them "
                f"with --prob 'p_*' (the columns are: {', '.join(columns)})"
            )
            raise InputError(msg)
    names = []
    for column in probs:
        prefix = next((p for p in PROB_PREFIXES if column.lower().startswith(p)), "")
        names.append(column[len(prefix) :])
    if label is not None:
        labels = _expand([label], [c for c in columns if c not in probs], path, "--label")
        if len(labels) != len(probs):
            msg = (
                f"--label gives {len(labels)} label columns ({', '.join(labels)}) for "
                f"{len(probs)} probability columns: pass one label column per probability column"
            )
            raise InputError(msg)
        if any(ch in label for ch in "*?["):
            prefix = label.split("*")[0]
            names = [c.removeprefix(prefix) for c in labels]
    else:
        labels = []
        for name, column in zip(names, probs, strict=True):
            candidates = (name, *(p + name for p in LABEL_PREFIXES))
            found = next((c for c in candidates if c in columns), None)
            if found is None:
                msg = (
                    f"no label column for {column!r} in {path!r} (looked for {name!r}, "
                    f"{', '.join(repr(p + name) for p in LABEL_PREFIXES)}); name them with "
                    "--label 'y_*'"
                )
                raise InputError(msg)
            labels.append(found)
    return MultilabelColumns(names, labels, probs, bool(logit))


def read_multilabel(
    path: str | Path,
    *,
    label: str | None = None,
    prob: Sequence[str] = (),
    logit: Sequence[str] = (),
    id: str | None = None,  # the CLI option is --id
    weight: str | None = None,
) -> tuple[MultilabelColumns, dict[str, Any]]:
    """The columns of a multilabel file and the arguments of
    :func:`lossgap.explain_multilabel` (``y_true``, ``y_prob``, ``labels``, ``ids``...)."""
    table = read_table(path)
    available = table.column_names
    chosen = choose_multilabel_columns(available, str(path), label=label, prob=prob, logit=logit)
    for name, option in ((id, "--id"), (weight, "--weight")):
        if name is not None and name not in available:
            raise _missing(name, available, str(path), option)
    return chosen, {
        "y_true": np.column_stack([column_values(table, c) for c in chosen.labels]),
        "y_prob": np.column_stack([column_values(table, c) for c in chosen.probs]),
        "labels": chosen.names,
        "from_logits": chosen.from_logits,
        "ids": None if id is None else column_values(table, id),
        "sample_weight": None if weight is None else column_values(table, weight),
    }

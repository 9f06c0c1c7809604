"""Fuzz run of ``lossgap explain`` (issue 19): generated and corrupted files, and API calls.

For each format (CSV, TSV, Parquet, JSON Lines, .npy, .npz) it writes ``--per-format``
prediction files, most of them damaged on purpose (cut, bytes flipped, control bytes and
formula text in labels and ids, NaN, empty and text cells, out-of-range numbers,
duplicated or missing columns, labels without a probability column...), runs
``lossgap explain FILE --json`` in-process on each, and checks:

* the exit code is 0 or 2 (1 is an internal error), and no output holds a traceback;
* no output (stdout, stderr) holds a control byte other than a newline;
* when the file is accepted, ``n``, the accuracy and the log loss equal an independent
  numpy computation from the file as pandas/numpy read it and the class of each column as
  generated (columns named ``p_<class>``; one column: the larger label is positive);
* the file read by pyarrow's readers and by the core ones (``LOSSGAP_ARROW=0``) gives the
  same columns (names, dtypes, empty cells, values) or the same error line; a Parquet file,
  which only pyarrow reads, gets the core's one line naming the ``arrow`` extra.

``--api`` more calls go to :func:`lossgap.explain` with arrays of random types, shapes
and damage (masked, complex, NaN, lists, pyarrow with nulls, torch); each must return an
Evaluation whose numbers match numpy, or raise :class:`lossgap.InputError` in one line.

Usage::

    python tools/fuzz_inputs.py --per-format 1000 --api 1000 --workers 2

It prints one line of counts per format and exits 1 when any check failed (the first
failures are listed, with the file kept under ``--keep``).
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import shutil
import sys
import tempfile
import traceback
import unicodedata
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

FORMATS = ("csv", "tsv", "parquet", "jsonl", "npy", "npz")

#: Damage applied to a generated table (before writing) or to its bytes (after).
TABLE_DAMAGE = (
    "none",
    "none",
    "nan",
    "empty",
    "text",
    "range",
    "percent",
    "rowsum",
    "dup_column",
    "drop_column",
    "label_no_column",
    "single_class",
    "escape_label",
    "escape_id",
    "formula_label",
    "newline_id",
    "huge_label",
    "float_label",
    "swap_columns",
    "prefix_trap",
    "header_only",
    "weights_extreme",
    "bidi_column",
)
BYTE_DAMAGE = ("none", "none", "none", "truncate", "flip", "garbage", "empty", "nul")
CONTROL_OK = {"\n"}


def control_bytes(text: str) -> list[str]:
    """Characters that would act on a terminal (controls, format, separators)."""
    return [
        ch
        for ch in text
        if ch not in CONTROL_OK and unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp")
    ]


# --------------------------------------------------------------------------- generation


def make_table(rng: np.random.Generator) -> dict[str, Any]:
    """A clean table and the truth about it: columns, class of each probability column."""
    n = int(rng.integers(4, 60))
    multiclass = rng.random() < 0.4
    text_labels = rng.random() < 0.5
    k = int(rng.integers(3, 5)) if multiclass else 2
    names = [f"c{j}" for j in range(k)] if text_labels else list(range(k))
    prob = rng.dirichlet(np.ones(k), size=n) * 0.98 + 0.02 / k
    prob = np.round(prob, 6)
    prob[:, -1] = 1.0 - prob[:, :-1].sum(axis=1)
    y_index = np.array([rng.choice(k, p=row / row.sum()) for row in prob])
    y_index[:k] = np.arange(k)  # every class present
    labels = [names[i] for i in y_index]
    table: dict[str, Any] = {"label": labels}
    if multiclass:
        prob_columns = {f"p_{c}": prob[:, j] for j, c in enumerate(names)}
    else:
        prob_columns = {"p": prob[:, 1]}
    table.update(prob_columns)
    table["id"] = [f"s{i}" for i in range(n)]
    return {"table": table, "names": names, "multiclass": multiclass}


def damage_table(case: dict[str, Any], kind: str, rng: np.random.Generator) -> None:
    table = case["table"]
    n = len(table["label"])
    cols = [c for c in table if c.startswith("p")]
    row = int(rng.integers(0, n))
    col = cols[int(rng.integers(0, len(cols)))]
    if kind == "nan":
        table[col] = np.array(table[col], dtype=float)
        table[col][row] = np.nan
    elif kind == "empty":
        table[col] = list(table[col])
        table[col][row] = None
    elif kind == "text":
        table[col] = [str(v) for v in table[col]]
        table[col][row] = "high"
    elif kind == "range":
        table[col] = np.array(table[col], dtype=float)
        table[col][row] = float(rng.choice([1.5, -0.2, 1e308, -1e308]))
    elif kind == "percent":
        for c in cols:
            table[c] = np.asarray(table[c]) * 100
    elif kind == "rowsum" and len(cols) > 1:
        table[cols[0]] = np.asarray(table[cols[0]]) * 0.5
    elif kind == "dup_column":
        case["duplicate"] = col
    elif kind == "drop_column" and len(cols) > 1:
        del table[col]
    elif kind == "label_no_column":
        table["label"] = list(table["label"])
        table["label"][row] = "zz" if isinstance(table["label"][0], str) else 99
    elif kind == "single_class":
        table["label"] = [table["label"][0]] * n
    elif kind == "escape_label":
        table["label"] = [f"\x1b]0;owned\x07{v}" for v in table["label"]]
        case["names"] = [f"\x1b]0;owned\x07{v}" for v in case["names"]]
        for c, name in zip(cols, case["names"], strict=False):
            if case["multiclass"]:
                table[f"p_{name}"] = table.pop(c)
    elif kind == "escape_id":
        table["id"] = list(table["id"])
        table["id"][row] = "\x1b[2J\x1b[31mred"
    elif kind == "formula_label":
        table["label"] = [f"=cmd|' /C calc'!A{v}" for v in table["label"]]
        case["names"] = [f"=cmd|' /C calc'!A{v}" for v in case["names"]]
        if case["multiclass"]:
            for c, name in zip(cols, case["names"], strict=False):
                table[f"p_{name}"] = table.pop(c)
    elif kind == "newline_id":
        table["id"] = list(table["id"])
        table["id"][row] = "line1\nline2\r\u2028x"
    elif kind == "huge_label":
        table["label"] = [float(v) * 1e20 if not isinstance(v, str) else v for v in table["label"]]
        table["label"][row] = math.inf if not isinstance(table["label"][row], str) else "x"
    elif kind == "float_label":
        table["label"] = [float(v) + 0.5 if not isinstance(v, str) else v for v in table["label"]]
    elif kind == "swap_columns" and len(cols) > 1:
        order = list(rng.permutation(len(cols)))
        moved = {cols[j]: table.pop(cols[j]) for j in order}
        table.update(moved)
    elif kind == "prefix_trap" and case["multiclass"]:
        names = [f"class_{j + 1}" for j in range(len(case["names"]))]
        mapping = dict(zip(case["names"], names, strict=True))
        table["label"] = [mapping[v] for v in table["label"]]
        for c, name in zip(cols, names, strict=True):
            table[f"p_{name}"] = table.pop(c)
        case["names"] = names
    elif kind == "header_only":
        for c in table:
            table[c] = list(table[c])[:0]
    elif kind == "weights_extreme":
        table["w"] = np.full(n, float(rng.choice([1e308, 5e-324, -1.0, 1.0])))
    elif kind == "bidi_column" and case["multiclass"]:
        table[f"\u202e{cols[0]}"] = table.pop(cols[0])


def write(case: dict[str, Any], fmt: str, path: Path) -> None:
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = case["table"]
    if fmt in ("npy", "npz"):
        arrays = {}
        for name, values in table.items():
            try:
                arrays[name] = np.asarray(values)
            except ValueError:
                arrays[name] = np.asarray(values, dtype=object)
        if fmt == "npz":
            np.savez(
                path, **{k: (v.astype(str) if v.dtype == object else v) for k, v in arrays.items()}
            )
        else:
            numeric = {k: v for k, v in arrays.items() if v.dtype.kind in "biuf"}
            if "label" not in numeric:
                labels = arrays["label"].astype(str)
                dtype = [("label", labels.dtype)] + [
                    (k, np.float64) for k in numeric if k != "label"
                ]
                rec = np.zeros(len(labels), dtype=dtype)
                rec["label"] = labels
                for k in numeric:
                    if k != "label":
                        rec[k] = numeric[k]
                np.save(path, rec)
            else:
                dtype = [(k, np.float64) for k in numeric]
                rec = np.zeros(len(arrays["label"]), dtype=dtype)
                for k in numeric:
                    rec[k] = numeric[k]
                np.save(path, rec)
        return
    frame = pd.DataFrame({k: list(v) for k, v in table.items()})
    if "duplicate" in case and fmt != "jsonl":  # a JSON object cannot repeat a key
        frame.insert(
            len(frame.columns), case["duplicate"], frame[case["duplicate"]], allow_duplicates=True
        )
    if fmt == "csv":
        frame.to_csv(path, index=False)
    elif fmt == "tsv":
        frame.to_csv(path, index=False, sep="\t")
    elif fmt == "jsonl":
        frame.to_json(path, orient="records", lines=True)
    else:
        arrays = []
        for j in range(frame.shape[1]):
            column = frame.iloc[:, j]
            try:
                arrays.append(pa.array(column.tolist()))
            except (pa.ArrowException, ValueError, TypeError):
                arrays.append(pa.array(column.astype(str).tolist()))
        pq.write_table(pa.Table.from_arrays(arrays, names=[str(c) for c in frame.columns]), path)


def damage_bytes(path: Path, kind: str, rng: np.random.Generator) -> None:
    data = bytearray(path.read_bytes())
    if kind == "truncate" and data:
        data = data[: int(rng.integers(0, len(data)))]
    elif kind == "flip" and data:
        for _ in range(int(rng.integers(1, 6))):
            data[int(rng.integers(0, len(data)))] = int(rng.integers(0, 256))
    elif kind == "garbage":
        data = bytearray(rng.integers(0, 256, int(rng.integers(1, 400))).astype(np.uint8).tobytes())
    elif kind == "empty":
        data = bytearray()
    elif kind == "nul" and data:
        data[int(rng.integers(0, len(data)))] = 0
    path.write_bytes(bytes(data))


# --------------------------------------------------------------------------- reference


def reference(path: Path, fmt: str, case: dict[str, Any]) -> dict[str, float] | None:
    """n, accuracy and log loss from the file read by pandas/numpy, None if unreadable."""
    import pandas as pd

    try:
        if fmt == "csv":
            frame = pd.read_csv(path, keep_default_na=True)
        elif fmt == "tsv":
            frame = pd.read_csv(path, sep="\t")
        elif fmt == "jsonl":
            frame = pd.read_json(path, lines=True)
        elif fmt == "parquet":
            frame = pd.read_parquet(path)
        elif fmt == "npy":
            rec = np.load(path, allow_pickle=False)
            frame = pd.DataFrame({k: rec[k] for k in rec.dtype.names})
        else:
            with np.load(path, allow_pickle=False) as z:
                frame = pd.DataFrame({k: z[k] for k in z.files})
    except Exception:
        return None
    labels = [
        str(int(v)) if isinstance(v, float) and v.is_integer() else str(v) for v in frame["label"]
    ]
    if case["multiclass"]:
        columns = [c for c in frame.columns if str(c).startswith("p_")]
        classes = [str(c)[2:] for c in columns]
        if not set(labels) <= set(classes):  # no column names a label: sorted labels
            classes = sorted(set(labels), key=_label_order)
        prob = frame[columns].to_numpy(dtype=float)
        prob = prob / prob.sum(axis=1, keepdims=True)
        index = np.array([classes.index(v) for v in labels])
        predicted = np.argmax(prob, axis=1)
        p_true = prob[np.arange(len(labels)), index]
    else:
        classes = sorted(set(labels), key=_label_order)
        p = frame["p"].to_numpy(dtype=float)
        positive = np.array([v == classes[-1] for v in labels])
        predicted = (p >= 0.5).astype(int)
        index = positive.astype(int)
        p_true = np.where(positive, p, 1 - p)
    accuracy = float(np.mean(predicted == index))
    return {"n": len(labels), "accuracy": accuracy, "log_loss": float(np.mean(-np.log(p_true)))}


def _label_order(text: str) -> tuple[float, str]:
    """Labels in lossgap's order: numbers by value, then text."""
    return (float(text) if _is_number(text) else math.inf, text)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# --------------------------------------------------------------------------- running


def run_cli(args: list[str]) -> tuple[int, str, str]:
    from typer.testing import CliRunner

    from lossgap.cli import load_commands

    result = CliRunner().invoke(load_commands([args[0]]), args, catch_exceptions=True)
    stderr = result.stderr if result.stderr_bytes is not None else ""
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        stderr += "Traceback: " + "".join(traceback.format_exception(result.exception))
    return result.exit_code, result.stdout, stderr


def readers_differ(path: Path, fmt: str) -> str:
    """How the core readers' reading of ``path`` differs from pyarrow's ('' when alike)."""
    import os

    from lossgap.errors import InputError
    from lossgap.io.tables import read_table

    got = []
    for flag in ("1", "0"):
        os.environ["LOSSGAP_ARROW"] = flag
        try:
            got.append(read_table(path))
        except InputError as exc:
            got.append(str(exc))
        finally:
            del os.environ["LOSSGAP_ARROW"]
    arrow, core = got
    if fmt == "parquet":  # refused, unless both name the same problem first (an empty file)
        refusal = "reading Parquet needs pyarrow: pip install 'lossgap[arrow]'"
        return "" if core in (refusal, arrow) else f"core reader: {core!r}, not {refusal!r}"
    if isinstance(arrow, str) or isinstance(core, str):
        return "" if arrow == core else f"pyarrow: {arrow!r}; core: {core!r}"
    difference = arrow.difference(core)
    return "" if difference is None else f"core reader: {difference}"


def check_file(seed: int, fmt: str, keep: Path) -> tuple[str, str]:
    """One generated file: (outcome, problem or '')."""
    rng = np.random.default_rng(seed)
    case = make_table(rng)
    kind = str(rng.choice(TABLE_DAMAGE))
    damage_table(case, kind, rng)
    folder = Path(tempfile.mkdtemp(prefix="lossgap-fuzz-"))
    path = folder / f"f{seed}.{fmt}"
    try:
        write(case, fmt, path)
        byte_kind = str(rng.choice(BYTE_DAMAGE))
        damage_bytes(path, byte_kind, rng)
        args = ["explain", str(path), "--json", "--quiet"]
        if "w" in case["table"]:
            args += ["--weight", "w"]
        if (
            fmt == "npy"
            and case["table"]["label"]
            and not isinstance(case["table"]["label"][0], str)
        ):
            pass
        code, out, err = run_cli(args)
        problem = ""
        if code not in (0, 2):
            problem = f"exit {code}: {err.strip()[:300]}"
        elif "Traceback" in out + err:
            problem = f"traceback: {err[:300]}"
        elif control_bytes(out + err):
            problem = f"control bytes {control_bytes(out + err)[:5]!r} in output"
        elif code == 0:
            got = json.loads(out)
            want = reference(path, fmt, case)
            if want is not None and math.isfinite(want["log_loss"]):
                metrics = got["metrics"]
                pairs = (
                    ("n", got["n"], want["n"]),
                    ("accuracy", metrics["accuracy"]["value"], want["accuracy"]),
                    ("log_loss", metrics["log_loss"]["value"], want["log_loss"]),
                )
                for name, a, b in pairs:
                    if a is None or not math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12):
                        problem = f"{name} {a} != numpy {b}"
                        break
        if not problem:
            problem = readers_differ(path, fmt)
        outcome = "accepted" if code == 0 else "refused"
        if problem:
            kept = keep / f"{fmt}-{seed}-{kind}-{byte_kind}{path.suffix}"
            keep.mkdir(parents=True, exist_ok=True)
            if path.exists():
                shutil.copy(path, kept)
            return "FAIL", f"{kept.name}: {problem}"
        return outcome, ""
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def api_case(seed: int) -> tuple[str, str]:
    """One random API call: an Evaluation matching numpy, or one InputError line."""
    import lossgap

    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 40))
    y = rng.integers(0, 2, n)
    y[:2] = [0, 1]
    p = np.round(rng.uniform(0.01, 0.99, n), 4)
    y_in: Any = y
    p_in: Any = p
    kwargs: dict[str, Any] = {}
    kind = str(
        rng.choice(
            [
                "plain",
                "masked",
                "masked_none",
                "complex",
                "complex_real",
                "nan",
                "list",
                "object",
                "pyarrow_null",
                "pyarrow_dict",
                "torch",
                "torch_sparse",
                "ids_2d",
                "ids_list",
                "threshold_none",
                "weights_huge",
                "float_labels_inf",
                "string_labels",
                "bytes_ids",
                "dates",
                "shape3d",
                "scalar",
                "empty",
            ]
        )
    )
    if kind == "masked":
        p_in = np.ma.masked_array(p, mask=rng.random(n) < 0.3)
    elif kind == "masked_none":
        p_in = np.ma.masked_array(p, mask=np.zeros(n, bool))
    elif kind == "complex":
        p_in = p + 1j * (rng.random(n) < 0.2)
    elif kind == "complex_real":
        p_in = p.astype(complex)
    elif kind == "nan":
        p_in = p.copy()
        p_in[int(rng.integers(0, n))] = np.nan
    elif kind == "list":
        y_in, p_in = y.tolist(), p.tolist()
    elif kind == "object":
        p_in = np.array([str(v) if rng.random() < 0.8 else "x" for v in p], dtype=object)
    elif kind == "pyarrow_null":
        import pyarrow as pa

        y_in = pa.array([int(v) if rng.random() < 0.9 else None for v in y])
    elif kind == "pyarrow_dict":
        import pyarrow as pa

        y_in = pa.array([f"c{v}" for v in y]).dictionary_encode()
    elif kind == "torch":
        import torch

        y_in, p_in = torch.tensor(y), torch.tensor(p)
    elif kind == "torch_sparse":
        import torch

        p_in = torch.tensor(p).to_sparse()
    elif kind == "ids_2d":
        kwargs["ids"] = np.zeros((n, 2))
    elif kind == "ids_list":
        kwargs["ids"] = np.array([[i] * (i % 3) for i in range(n)], dtype=object)
    elif kind == "threshold_none":
        kwargs["threshold"] = None
    elif kind == "weights_huge":
        kwargs["sample_weight"] = np.full(n, float(rng.choice([1e308, 5e-324, 1.0])))
    elif kind == "float_labels_inf":
        y_in = y.astype(float)
        y_in[int(rng.integers(0, n))] = float(rng.choice([np.inf, 1e20]))
    elif kind == "string_labels":
        y_in = np.array([f"\x1b[2J{v}" for v in y])
    elif kind == "bytes_ids":
        kwargs["ids"] = np.array([bytes([i % 256, 255]) for i in range(n)])
    elif kind == "dates":
        kwargs["ids"] = np.arange(n).astype("datetime64[D]")
    elif kind == "shape3d":
        p_in = p.reshape(n, 1, 1)
    elif kind == "scalar":
        p_in = 0.5
    elif kind == "empty":
        y_in, p_in = [], []
    try:
        ev = lossgap.explain(y_in, p_in, **kwargs)
    except lossgap.InputError as exc:
        text = str(exc)
        if "\n" in text or control_bytes(text):
            return "FAIL", f"api {kind} seed {seed}: message not one printable line: {text!r}"
        return "refused", ""
    except Exception as exc:
        return "FAIL", f"api {kind} seed {seed}: {type(exc).__name__}: {exc}"
    json.dumps(ev.to_dict(), allow_nan=False)
    p_used = np.asarray(p, dtype=float)
    weights = kwargs.get("sample_weight")
    accuracy = float(np.average((p_used >= 0.5) == (y == 1), weights=weights))
    loss = float(np.average(-np.log(np.where(y == 1, p_used, 1 - p_used)), weights=weights))
    for name, want in (("accuracy", accuracy), ("log_loss", loss)):
        got = ev.metric(name)
        if not math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-12):
            return "FAIL", f"api {kind} seed {seed}: {name} {got} != numpy {want}"
    return "accepted", ""


def _job(job: tuple[str, int, str]) -> tuple[str, str, str]:
    fmt, seed, keep = job
    import warnings

    warnings.simplefilter("ignore")
    try:
        if fmt == "api":
            return fmt, *api_case(seed)
        return fmt, *check_file(seed, fmt, Path(keep))
    except Exception:
        return fmt, "FAIL", f"{fmt} seed {seed}: harness: {traceback.format_exc()[-300:]}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-format", type=int, default=1000)
    parser.add_argument("--api", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--first-seed", type=int, default=0, help="seed of the first file")
    parser.add_argument("--formats", default=",".join(FORMATS))
    parser.add_argument("--keep", default="build/fuzz-failures")
    args = parser.parse_args(argv)
    kinds = [f for f in args.formats.split(",") if f]
    # round robin, so that a run stopped early has covered every format alike
    seeds = range(args.first_seed, args.first_seed + args.per_format)
    jobs = [(f, s, args.keep) for s in seeds for f in kinds]
    jobs += [("api", s, args.keep) for s in range(args.first_seed, args.first_seed + args.api)]
    counts: dict[str, Counter[str]] = {}
    failures: list[str] = []
    with multiprocessing.get_context("fork").Pool(args.workers) as pool:
        for done, (fmt, outcome, problem) in enumerate(pool.imap(_job, jobs, chunksize=4), 1):
            counts.setdefault(fmt, Counter())[outcome] += 1
            if problem:
                failures.append(problem)
                print("FAIL", problem, flush=True)
            if done % 300 == 0:
                print(
                    f"{done} runs: " + ", ".join(f"{f} {dict(c)}" for f, c in counts.items()),
                    flush=True,
                )
    for fmt, c in counts.items():
        total = sum(c.values())
        print(
            f"{fmt:8} {total:5} runs: {c['accepted']} accepted (numbers checked), "
            f"{c['refused']} refused in one line (exit 2), {c['FAIL']} failed"
        )
    print(f"{len(failures)} failure(s) in all")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

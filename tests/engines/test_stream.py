"""Streaming files, directories and globs in record batches: the same Tally as in memory."""

from __future__ import annotations

import io
import json
import time

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest
from numpy.testing import assert_array_equal
from rich.console import Console
from typer.testing import CliRunner

from lossgap import InputError, Predictions, Tally
from lossgap.cli import load_commands
from lossgap.engines import stream
from lossgap.engines.batches import pool_batches
from lossgap.engines.stream import choose_engine, resolve_source, stream_tally
from lossgap.explanation import evaluate
from lossgap.io.tables import read_predictions
from lossgap.version import __version__
from tests.helpers.data import random_binary, random_multiclass
from tests.helpers.engines import assert_same_json, assert_same_tally


@pytest.fixture
def binary(rng):
    y, p = random_binary(rng, 2500)
    p[:400] = np.round(p[:400], 2)
    return y, p


def whole_tally(y, p, **kw):
    return Tally.from_predictions(Predictions(y, p, **kw))


def write_jsonl(path, columns):
    names = list(columns)
    lines = (
        json.dumps({k: v.item() for k, v in zip(names, values, strict=True)}) + "\n"
        for values in zip(*columns.values(), strict=True)
    )
    path.write_text("".join(lines))


@pytest.mark.parametrize("kind", ["parquet", "csv", "tsv", "jsonl"])
def test_each_format_streams_to_the_whole_tally(tmp_path, binary, kind):
    y, p = binary
    path = tmp_path / f"preds.{kind}"
    table = pa.table({"label": y, "prob": p})
    if kind == "parquet":
        pq.write_table(table, path, row_group_size=300)
    elif kind == "jsonl":
        write_jsonl(path, {"label": y, "prob": p})
    else:
        delimiter = "\t" if kind == "tsv" else ","
        pa_csv.write_csv(table, path, pa_csv.WriteOptions(delimiter=delimiter))
    assert_same_tally(stream_tally(path, batch_rows=700), whole_tally(y, p))


def test_a_spark_style_directory_and_a_glob(tmp_path, binary):
    y, p = binary
    folder = tmp_path / "out"
    folder.mkdir()
    for i, rows in enumerate(np.array_split(np.arange(len(y)), 4)):
        part = folder / f"part-{i:05d}.snappy.parquet"
        pq.write_table(pa.table({"y": y[rows], "p": p[rows]}), part)
    (folder / "_SUCCESS").write_text("")
    (folder / ".part-00000.snappy.parquet.crc").write_bytes(b"\x00crc")
    expected = whole_tally(y, p)
    assert_same_tally(stream_tally(folder, batch_rows=400), expected)
    assert_same_tally(stream_tally(f"{folder}/part-*.parquet", batch_rows=10_000), expected)


def test_compressed_batches_merge_to_the_compressed_whole(tmp_path, binary):
    y, p = binary
    path = tmp_path / "p.parquet"
    pq.write_table(pa.table({"y": y, "p": p}), path)
    got = stream_tally(path, batch_rows=500, max_distinct=800)
    assert got.compressed
    assert_same_tally(got, Tally.from_predictions(Predictions(y, p), max_distinct=800))


def test_multiclass_columns_resolve_classes_as_the_whole_file(tmp_path, rng):
    y, prob = random_multiclass(rng, 1200, 3)
    names = np.array(["owl", "cat", "dog"])  # column order is not sorted order
    path = tmp_path / "m.parquet"
    columns = {f"p_{c}": prob[:, i] for i, c in enumerate(names)}
    pq.write_table(pa.table({"label": names[y], **columns}), path)
    got = stream_tally(path, batch_rows=250)
    assert got.classes == ("owl", "cat", "dog")
    assert_same_tally(got, whole_tally(names[y], prob, prob_names=[f"p_{c}" for c in names]))


def test_cli_streams_and_equals_the_summary_of_the_whole(tmp_path, binary):
    y, p = binary
    path = tmp_path / "p.parquet"
    pq.write_table(pa.table({"label": y, "prob": p, "w": np.linspace(0.5, 2, len(y))}), path)
    result = CliRunner().invoke(
        load_commands(), ["explain", str(path), "--engine", "stream", "--weight", "w", "--json"]
    )
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    expected = evaluate(whole_tally(y, p, sample_weight=np.linspace(0.5, 2, len(y))), weighted=True)
    got = json.loads(result.stdout)
    assert (got.pop("lossgap_version"), got.pop("schema_version")) == (__version__, 1)
    assert_same_json(got, expected.to_dict())


def test_given_classes_skip_the_label_pass(tmp_path, binary, monkeypatch):
    y, p = binary
    path = tmp_path / "p.parquet"
    pq.write_table(pa.table({"label": y, "prob": p}), path)

    def no_label_pass(*args, **kwargs):
        raise AssertionError("the label pass ran")

    monkeypatch.setattr(stream, "_distinct_labels", no_label_pass)
    got = stream_tally(path, classes=["0", "1"])
    assert got.classes == ("0", "1")
    assert got.confusion.tolist() == whole_tally(y, p).confusion.tolist()


def test_progress_bar_counts_rows_and_bytes(tmp_path, binary):
    y, p = binary
    path = tmp_path / "p.parquet"
    pq.write_table(pa.table({"label": y, "prob": p}), path, row_group_size=500)
    out = io.StringIO()
    stream_tally(path, batch_rows=500, console=Console(file=out, force_terminal=True, width=120))
    text = out.getvalue()
    assert "evaluating" in text and "2,500 rows" in text
    assert "kB" in text  # bytes read, beside the rows


@pytest.mark.parametrize(("flag", "drawn"), [(None, True), ("--json", False), ("--quiet", False)])
def test_json_and_quiet_silence_the_progress_bar(tmp_path, binary, monkeypatch, flag, drawn):
    import lossgap.render.text as render_text

    make_console = render_text.make_console
    # a terminal on stderr, as when someone watches (the command imports the renderers
    # only when it needs them, so they are patched where it finds them)
    monkeypatch.setattr(
        render_text, "make_console", lambda **kw: make_console(force_terminal=True, **kw)
    )
    y, p = binary
    path = tmp_path / "p.parquet"
    pq.write_table(pa.table({"label": y, "prob": p}), path)
    args = ["explain", str(path), "--engine", "stream"] + ([flag] if flag else [])
    result = CliRunner().invoke(load_commands(), args)
    assert result.exit_code == 0, result.stderr
    assert ("2,500 rows" in result.stderr) is drawn
    if not drawn:
        assert result.stderr == ""


def test_auto_engine_streams_directories_globs_and_files_of_many_values(tmp_path, monkeypatch):
    small = tmp_path / "p.parquet"
    pq.write_table(pa.table({"label": [0, 1], "prob": [0.2, 0.7]}), small)
    assert choose_engine(small, "auto") == "memory"
    assert choose_engine(tmp_path, "auto") == "stream"
    assert choose_engine(tmp_path / "*.parquet", "auto") == "stream"
    monkeypatch.setattr(stream, "STREAM_CELLS", 3)  # 2 rows x 2 numeric columns
    assert choose_engine(small, "auto") == "stream"
    assert choose_engine(small, "memory") == "memory"


# -- one pass: the classes from the first tables, two passes only when they cannot tell ----


@pytest.fixture
def label_pass(monkeypatch):
    """Counts the label passes (the first of two passes)."""
    calls = []
    original = stream._distinct_labels

    def counted(*args, **kwargs):
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(stream, "_distinct_labels", counted)
    return calls


def test_numeric_labels_resolve_in_one_pass(tmp_path, binary, label_pass):
    y, p = binary
    path = tmp_path / "p.parquet"
    pq.write_table(pa.table({"label": y, "prob": p}), path, row_group_size=300)
    assert_same_tally(stream_tally(path, batch_rows=700), whole_tally(y, p))
    assert label_pass == []


@pytest.mark.parametrize("positive", [None, "cat"])
def test_string_labels_resolve_in_one_pass(tmp_path, binary, label_pass, positive):
    y, p = binary
    names = np.array(["dog", "cat"])[y]  # the first label seen is not the first class
    path = tmp_path / "p.parquet"
    pq.write_table(pa.table({"label": names, "prob": p}), path)
    got = stream_tally(path, batch_rows=400, positive=positive)
    assert got.classes == (("dog", "cat") if positive else ("cat", "dog"))
    assert_same_tally(got, whole_tally(names, p, positive=positive))
    assert label_pass == []


def test_a_first_table_of_one_class_waits_for_the_second(tmp_path, binary, label_pass):
    y, p = binary
    order = np.argsort(y, kind="stable")[::-1]  # every 1 first: 1 is still the positive class
    y, p = y[order], p[order]
    first_zero = int(np.argmin(y))
    assert first_zero > 600
    path = tmp_path / "p.parquet"
    pq.write_table(pa.table({"label": y, "prob": p}), path)
    got = stream_tally(path, batch_rows=300)
    assert got.classes == (0, 1)
    assert_same_tally(got, whole_tally(y, p))
    assert label_pass == []


def test_classes_beyond_the_held_tables_are_found_by_a_label_pass(
    tmp_path, binary, label_pass, monkeypatch
):
    y, p = binary
    y = np.sort(y)
    path = tmp_path / "p.parquet"
    pq.write_table(pa.table({"label": y, "prob": p}), path)
    monkeypatch.setattr(stream, "_RESOLVE_BYTES", 5000)  # a few tables of 300 rows
    got = stream_tally(path, batch_rows=300)
    assert_same_tally(got, whole_tally(y, p))
    assert len(label_pass) == 1


def test_a_class_first_seen_late_can_change_the_classes(tmp_path, rng, label_pass):
    # labels 0 and 1 first resolve to the classes 0 .. 2 of three columns; a 5 later makes
    # three distinct labels for three columns, the classes (0, 1, 5), as for the whole file
    y, prob = random_multiclass(rng, 1200, 3)
    labels = np.array([0, 1, 5])[y]
    labels[:600] = np.where(labels[:600] == 5, 0, labels[:600])
    path = tmp_path / "m.parquet"
    # columns named after no label (s1 would name the label 1: refused as ambiguous)
    scores = {f"s_{name}": prob[:, j] for j, name in enumerate("abc")}
    pq.write_table(pa.table({"y": labels, **scores}), path)
    got = stream_tally(path, prob=["s*"], batch_rows=300)
    assert got.classes == (0, 1, 5)
    assert_same_tally(got, whole_tally(labels, prob, prob_names=list(scores)))
    assert len(label_pass) == 1


def test_multiclass_labels_seen_late_resolve_from_the_column_names(tmp_path, rng, label_pass):
    y, prob = random_multiclass(rng, 1200, 3)
    names = np.array(["owl", "cat", "dog"])
    y[:500] = np.where(y[:500] == 2, 0, y[:500])  # no dog in the first tables
    path = tmp_path / "m.parquet"
    columns = {f"p_{c}": prob[:, i] for i, c in enumerate(names)}
    pq.write_table(pa.table({"label": names[y], **columns}), path)
    got = stream_tally(path, batch_rows=250)
    assert got.classes == ("owl", "cat", "dog")
    assert_same_tally(got, whole_tally(names[y], prob, prob_names=list(columns)))
    assert label_pass == []


def test_a_third_class_in_a_later_table_is_refused_as_for_the_whole_file(tmp_path, binary):
    y, p = binary
    y = y.copy()
    y[1703] = 2
    path = tmp_path / "p.parquet"
    pq.write_table(pa.table({"label": y, "prob": p}), path)
    with pytest.raises(InputError) as whole:
        read_predictions(path)
    with pytest.raises(InputError) as streamed:
        stream_tally(path, batch_rows=500)
    assert str(streamed.value) == str(whole.value)
    assert "'label' holds 3 classes (0, 1, 2)" in str(streamed.value)


def test_errors_are_those_of_two_passes(tmp_path, binary):
    # a NaN in the first table and an empty label in a later one: the label pass reports
    # the empty label, as it did before the evaluation was one pass
    y, p = binary
    p = p.copy()
    p[10] = np.nan
    labels = pa.array([None if i == 1800 else int(v) for i, v in enumerate(y)])
    path = tmp_path / "p.parquet"
    pq.write_table(pa.table({"label": labels, "prob": p}), path)
    with pytest.raises(InputError, match=r"column 'label' has an empty value at row 1800 in "):
        stream_tally(path, batch_rows=500)


@pytest.mark.parametrize(
    ("row", "options"),
    [(1703, {"batch_rows": 500}), (2222, {"batch_rows": 250, "max_distinct": 400})],
    ids=["later-table", "past-the-cap"],
)
def test_given_classes_name_a_label_outside_them_in_a_later_table(tmp_path, binary, row, options):
    y, p = binary
    y = y.copy()
    y[row] = 7
    path = tmp_path / "p.parquet"
    pq.write_table(pa.table({"label": y, "prob": p}), path)
    match = rf"holds 7 at row {row}, outside the class set \(0, 1\) \(1 row\(s\) in this batch\)"
    with pytest.raises(InputError, match=match):
        stream_tally(path, classes=[0, 1], **options)


def test_the_result_does_not_depend_on_the_threads(tmp_path, rng, monkeypatch):
    y, p = random_binary(rng, 6000)
    p[::2] = np.round(p[::2], 2)  # ties: sums at a score depend on how they are grouped
    w = rng.uniform(0.1, 3.0, len(y))
    path = tmp_path / "p.parquet"
    pq.write_table(pa.table({"label": y, "prob": p, "w": w}), path, row_group_size=500)
    options = {"weight": "w", "batch_rows": 500, "max_distinct": 1200}
    reference = stream_tally(path, **options)
    assert reference.compressed
    whole = Tally.from_predictions(Predictions(y, p, sample_weight=w), max_distinct=1200)
    assert_same_tally(reference, whole)
    summarise = stream.BatchSpec.tally
    delays = iter(rng.uniform(0, 0.01, size=1000))

    def slow(*args, **kwargs):
        time.sleep(next(delays))  # workers finish in any order
        return summarise(*args, **kwargs)

    monkeypatch.setattr(stream.BatchSpec, "tally", slow)
    for _ in range(3):
        assert_identical(stream_tally(path, **options), reference)


def test_runs_past_the_cap_do_not_depend_on_the_threads(tmp_path, rng, monkeypatch):
    # past the cap every table is added into its worker's run: delays in the runs change
    # nothing, and the result is the compressed Tally of the whole file
    y, p = random_binary(rng, 6000)
    path = tmp_path / "p.parquet"
    pq.write_table(pa.table({"label": y, "prob": p}), path, row_group_size=400)
    options = {"batch_rows": 400, "max_distinct": 300}
    reference = stream_tally(path, **options)
    assert_same_tally(reference, whole_tally_capped(y, p, 300))
    add = stream.BinaryRun.add
    calls = []
    delays = iter(rng.uniform(0, 0.01, size=1000))

    def slow(self, *args, **kwargs):
        calls.append(args[1])  # the table's first row
        time.sleep(next(delays))
        return add(self, *args, **kwargs)

    monkeypatch.setattr(stream.BinaryRun, "add", slow)
    for _ in range(3):
        assert_identical(stream_tally(path, **options), reference)
    assert sorted(calls) == sorted(list(range(400, 6000, 400)) * 3)  # all but the first


def assert_identical(a, b):
    assert a.count == b.count and a.loss_sum == b.loss_sum and a.brier_sum == b.brier_sum
    assert_array_equal(a.confusion, b.confusion)
    for ta, tb in zip(a.tables, b.tables, strict=True):
        for name in ("scores", "weights", "bins", "low", "high", "score_sum"):
            assert_array_equal(getattr(ta, name), getattr(tb, name), err_msg=name)
    assert_array_equal(a.worst.ids, b.worst.ids)


@pytest.mark.parametrize(
    ("sizes", "pooled"), [([3, 3, 3], [6, 3]), ([5, 4, 1], [5, 5]), ([9], [9])]
)
def test_tables_hold_at_most_batch_rows_unless_a_batch_is_larger(sizes, pooled):
    batches = [(pa.record_batch({"y": np.zeros(n)}), "f") for n in sizes]
    assert [t.num_rows for t, _, _ in pool_batches(batches, 6)] == pooled


# -- bad input: one line naming the row over the whole input, the file and the fix --------


def test_a_nan_in_a_later_batch_names_its_row_in_the_whole_file(tmp_path, binary):
    y, p = binary
    p = p.copy()
    p[1703] = np.nan
    path = tmp_path / "p.parquet"
    pq.write_table(pa.table({"label": y, "prob": p}), path)
    where = r"NaN at row 1703 \(1 row\(s\) in this batch\).* in .*p\.parquet"
    with pytest.raises(InputError, match=where):
        stream_tally(path, batch_rows=500)
    result = CliRunner().invoke(load_commands(), ["explain", str(path), "--engine", "stream"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1 and "row 1703" in result.stderr


def test_an_empty_label_names_its_row(tmp_path):
    path = tmp_path / "p.parquet"
    pq.write_table(pa.table({"label": [0, 1, None, 1], "prob": [0.1, 0.2, 0.3, 0.4]}), path)
    with pytest.raises(InputError, match="column 'label' has an empty value at row 2"):
        stream_tally(path, batch_rows=2)


def test_a_label_outside_the_given_classes(tmp_path):
    path = tmp_path / "p.parquet"
    pq.write_table(pa.table({"label": [0, 1, 2, 1], "prob": [0.1, 0.2, 0.3, 0.4]}), path)
    with pytest.raises(InputError, match=r"holds 2 at row 2, outside the class set \('0', '1'\)"):
        stream_tally(path, classes=["0", "1"], batch_rows=2)


def test_a_single_class_in_the_whole_input(tmp_path):
    path = tmp_path / "p.parquet"
    pq.write_table(pa.table({"label": [1, 1, 1], "prob": [0.1, 0.2, 0.3]}), path)
    with pytest.raises(InputError, match="holds a single class"):
        stream_tally(path)


@pytest.mark.parametrize(
    ("name", "match"),
    [
        ("missing.parquet", "does not exist"),
        ("nothing/*.parquet", "no file matches"),
        ("arrays.npy", "cannot be read in batches"),
        ("empty.csv", "is empty"),
        ("mixed", r"mixes formats \(csv, parquet\)"),
        ("hollow", "holds no CSV, TSV, Parquet or JSON Lines files"),
    ],
)
def test_sources_that_cannot_be_streamed(tmp_path, name, match):
    np.save(tmp_path / "arrays.npy", np.zeros(3))
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "mixed").mkdir()
    pq.write_table(pa.table({"y": [0]}), tmp_path / "mixed" / "a.parquet")
    (tmp_path / "mixed" / "b.csv").write_text("y\n0\n")
    (tmp_path / "hollow").mkdir()
    (tmp_path / "hollow" / "_SUCCESS").write_text("")
    with pytest.raises(InputError, match=match):
        resolve_source(tmp_path / name)


def test_files_with_different_schemas(tmp_path):
    (tmp_path / "a.csv").write_text("label,prob\n0,0.2\n1,0.7\n")
    (tmp_path / "b.csv").write_text("label,prob\n0,high\n1,0.7\n")
    with pytest.raises(InputError, match=r"cannot read .*b\.csv as csv"):
        stream_tally(tmp_path)


def test_no_rows(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("label,prob\n")
    with pytest.raises(InputError, match="no rows"):
        stream_tally(path)


def test_spark_engine_without_pyspark_is_an_input_error(tmp_path, monkeypatch):
    import sys

    path = tmp_path / "p.parquet"
    pq.write_table(pa.table({"label": [0, 1], "prob": [0.2, 0.7]}), path)
    monkeypatch.setitem(sys.modules, "pyspark", None)  # import pyspark now fails
    monkeypatch.delitem(sys.modules, "lossgap.engines.spark", raising=False)
    result = CliRunner().invoke(load_commands(), ["explain", str(path), "--engine", "spark"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "needs pyspark" in result.stderr and len(result.stderr.strip().splitlines()) == 1


# -- past the cap: tables added into each worker's run, read from their buffers ----------


def whole_tally_capped(labels, p, cap, **kw):
    return Tally.from_predictions(Predictions(labels, p, **kw), max_distinct=cap)


@pytest.fixture
def fast_reads(monkeypatch):
    """Counts the tables a run read from their buffers (``_raw`` not None) and the others."""
    counts = {"buffers": 0, "predictions": 0}
    read = stream.BinaryRun._raw

    def counted(self, table):
        got = read(self, table)
        counts["buffers" if got is not None else "predictions"] += 1
        return got

    monkeypatch.setattr(stream.BinaryRun, "_raw", counted)
    return counts


@pytest.mark.parametrize(
    ("values", "options", "buffers"),
    [
        ([0, 1], {}, True),
        ([-1, 1], {}, True),
        ([1, 2], {"positive": 1}, True),  # the positive class first: codes swapped
        ([0, 1], {"classes": ["0", "1"]}, True),  # classes given as text
        (["no", "yes"], {}, False),  # text labels: through Predictions
    ],
)
def test_tables_past_the_cap_equal_the_whole(tmp_path, binary, fast_reads, values, options,
                                             buffers):
    y, p = binary
    labels = np.array(values)[y]
    path = tmp_path / "p.parquet"
    pq.write_table(pa.table({"label": labels, "prob": p}), path, row_group_size=250)
    got = stream_tally(path, batch_rows=250, max_distinct=400, **options)
    expected = whole_tally_capped(labels, p, 400, **options)
    assert got.compressed and got.classes == expected.classes
    assert_same_tally(got, expected)
    assert_array_equal(got.confusion, expected.confusion)  # counts: exact
    assert got.count == expected.count and got.infinite_count == expected.infinite_count
    used = fast_reads["buffers" if buffers else "predictions"]
    assert used >= 6 and fast_reads["predictions" if buffers else "buffers"] == 0


def test_weighted_tables_past_the_cap_equal_the_whole(tmp_path, binary, fast_reads):
    y, p = binary
    w = np.linspace(0.0, 2.0, len(y))  # a weight of 0 too
    p = p.copy()
    p[[5, 2300]], y[[5, 2300]] = [0.0, 1.0], [1, 0]  # infinite losses, after the cap too
    path = tmp_path / "p.parquet"
    pq.write_table(pa.table({"label": y, "prob": p, "w": w}), path, row_group_size=250)
    got = stream_tally(path, weight="w", batch_rows=250, max_distinct=400)
    expected = whole_tally_capped(y, p, 400, sample_weight=w)
    assert_same_tally(got, expected)
    assert got.infinite_count == expected.infinite_count == 2
    assert fast_reads["predictions"] >= 6 and fast_reads["buffers"] == 0


@pytest.mark.parametrize(
    ("row", "value", "column", "named"),
    [
        (1703, np.nan, "prob", "NaN at row 1703"),
        (1703, 1.5, "prob", "1.5 at row 1703"),
        (1999, -0.25, "prob", "-0.25 at row 1999"),
        (2222, 7, "label", "holds 3 classes (0, 1, 7)"),  # the label pass finds the class
    ],
)
def test_a_bad_value_past_the_cap_is_named_as_before(
    tmp_path, binary, row, value, column, named
):
    # the runs check the values in their pass and let Predictions name the failure: the
    # same line as for a stream that never reaches the cap
    y, p = binary
    columns = {"label": y.copy(), "prob": p.copy()}
    columns[column][row] = value
    path = tmp_path / "p.parquet"
    pq.write_table(pa.table(columns), path)
    with pytest.raises(InputError) as capped:
        stream_tally(path, batch_rows=250, max_distinct=400)
    with pytest.raises(InputError) as exact:
        stream_tally(path, batch_rows=250)
    assert str(capped.value) == str(exact.value)
    assert named in str(capped.value)


def test_runs_without_numba_give_the_same_bins(tmp_path, binary, monkeypatch):
    # the numpy twin adds each run's rows in row order as the kernel does: the same bins
    # and per-bin sums bit for bit, the totals to TOTALS_RTOL
    import lossgap.core.binning as binning

    y, p = binary
    path = tmp_path / "p.parquet"
    pq.write_table(pa.table({"label": y, "prob": p}), path, row_group_size=250)
    options = {"batch_rows": 250, "max_distinct": 400}
    compiled = stream_tally(path, **options)
    monkeypatch.setenv("LOSSGAP_NUMBA", "0")
    binning._compiled.cache_clear()
    try:
        plain = stream_tally(path, **options)
    finally:
        binning._compiled.cache_clear()
    a, b = compiled.tables[0], plain.tables[0]
    for name in ("bins", "weights", "low", "high", "score_sum", "scores"):
        assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert_array_equal(compiled.confusion, plain.confusion)
    assert_same_tally(compiled, plain)


def test_tables_pooled_across_files_past_the_cap(tmp_path, binary, fast_reads):
    # tables of small files pooled across files hold several chunks: read all the same
    y, p = binary
    folder = tmp_path / "parts"
    folder.mkdir()
    for i, rows in enumerate(np.array_split(np.arange(len(y)), 9)):
        pq.write_table(pa.table({"y": y[rows], "p": p[rows]}), folder / f"part-{i}.parquet")
    got = stream_tally(folder, batch_rows=700, max_distinct=400)
    assert_same_tally(got, whole_tally_capped(y, p, 400))
    assert fast_reads["buffers"] >= 2 and fast_reads["predictions"] == 0

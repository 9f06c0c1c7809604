"""Bad input that used to end in exit 1 or a traceback: one line, exit 2 (issue 19)."""

from __future__ import annotations

import os

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

import lossgap
import lossgap.cli
from lossgap import InputError
from lossgap.cli import load_commands
from lossgap.engines import stream
from lossgap.engines.stream import choose_engine
from lossgap.history import analyse_history
from lossgap.interpret import interpret
from lossgap.lab.logistic import check_points, simulate

runner = CliRunner()


def cli(*args: str):
    return runner.invoke(load_commands([args[0]]), list(args))


def one_line(result, code: int = 2) -> str:
    assert result.exit_code == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lossgap: "), result.stderr
    return lines[0]


def write_npy_files(tmp_path):
    np.save(tmp_path / "good.npy", np.array([[0, 0.2], [1, 0.8]]))
    good = (tmp_path / "good.npy").read_bytes()
    (tmp_path / "cut.npy").write_bytes(good[:-5])
    (tmp_path / "header.npy").write_bytes(
        good[:10] + b"{'descr': '<f8', 'fortran_order'" + b" " * 40
    )
    np.savez(tmp_path / "good.npz", y=np.array([0, 1]), p=np.array([0.2, 0.8]))
    archive = (tmp_path / "good.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(archive[: len(archive) // 2])
    flipped = bytearray(archive)
    flipped[60:80] = bytes(range(20))
    (tmp_path / "flip.npz").write_bytes(bytes(flipped))


@pytest.mark.parametrize(
    ("name", "pattern"),
    [
        ("dup.csv", r"has two columns named 'p' \(columns 2 and 3"),
        ("cut.npy", r"is not a \.npy table"),
        ("header.npy", r"is not a \.npy table"),
        ("cut.npz", r"is not a \.npz table \(File is not a zip file\)"),
        ("flip.npz", r"is not a \.npz table"),
        ("list.parquet --id id", r"column 'id' holds a \w+ at row 0 .*ids must be single values"),
        ("inf.jsonl", r"is not a JSON Lines"),
        ("weights.csv --weight w", r"rescale the weights"),
        ("badheader.csv", r"is not a CSV table"),
        ("badheader.csv --engine stream", r"cannot read .*badheader.csv as csv"),
        ("badkey.jsonl", r"is not a JSON Lines"),
    ],
)
def test_broken_files_give_one_line(tmp_path, name, pattern):
    write_npy_files(tmp_path)
    (tmp_path / "dup.csv").write_text("y,p,p\n0,0.2,0.3\n1,0.8,0.7\n")
    pq.write_table(
        pa.table({"y": [0, 1], "p": [0.2, 0.8], "id": [[1], [2, 3]]}), tmp_path / "list.parquet"
    )
    (tmp_path / "inf.jsonl").write_text('{"y": 0, "p": 0.2}\n{"y": 1e400, "p": 0.8}\n')
    (tmp_path / "weights.csv").write_text("y,p,w\n0,0.2,1e308\n1,0.8,1e308\n")
    (tmp_path / "badheader.csv").write_bytes(b"y,pM\xbc\n0,1\n1,0\n")  # not UTF-8, at the end
    (tmp_path / "badkey.jsonl").write_bytes(b'{"y": 0, "p\x88": 0.2}\n')
    file, *options = name.split()
    line = one_line(cli("explain", str(tmp_path / file), "--quiet", *options))
    assert __import__("re").search(pattern, line), line


def test_timestamps_bytes_and_dates_are_printed_not_refused(tmp_path):
    import datetime

    path = tmp_path / "odd.parquet"
    pq.write_table(
        pa.table(
            {
                "y": pa.array([datetime.date(2020, 1, 1), datetime.date(2020, 1, 2)] * 2),
                "p": [0.2, 0.8, 0.4, 0.6],
                "id": pa.array([b"\x1b[2J", b"\xff", b"a", b"b"]),
                "t": pa.array([1, 2, 3, 4]).cast(pa.timestamp("s")),
            }
        ),
        path,
    )
    for id_column in ("id", "t"):
        result = cli("explain", str(path), "--id", id_column, "--json")
        assert result.exit_code == 0, result.stderr
        assert '"2020-01-02"' in result.stdout


def test_a_corrupt_part_of_a_streamed_folder_is_named(tmp_path):
    for i in range(3):
        pq.write_table(pa.table({"y": [0, 1], "p": [0.2, 0.8]}), tmp_path / f"part{i}.parquet")
    data = (tmp_path / "part1.parquet").read_bytes()
    (tmp_path / "part1.parquet").write_bytes(data[: len(data) // 2])
    line = one_line(cli("explain", str(tmp_path), "--engine", "stream", "--quiet"))
    assert "part1.parquet" in line


@pytest.mark.parametrize(
    ("args", "pattern"),
    [
        (
            ["explain", "x.csv", "--top", "-1"],
            r"Invalid value for '--top'.*see 'lossgap explain --help'",
        ),
        (["explain", "x.csv", "--bogus"], r"No such option: --bogus"),
        (["explain"], r"Missing argument"),
        (["explain", "x.csv", "--seed", "-1"], r"Invalid value for '--seed'"),
        (["lab", "logistic", "--n", "50", "--seed", "-1"], r"Invalid value for '--seed'"),
        (["explain", "x.csv", "--engine", "warp"], r"Invalid value for '--engine'"),
    ],
)
def test_usage_errors_are_one_line(args, pattern):
    line = one_line(cli(*args))
    assert __import__("re").search(pattern, line), line


def test_ctrl_c_while_the_commands_load_is_one_line(monkeypatch, capsys):
    def interrupted(names=None):
        raise KeyboardInterrupt

    monkeypatch.setattr(lossgap.cli, "load_commands", interrupted)
    with pytest.raises(SystemExit) as info:
        lossgap.cli.main(["explain", "x.csv"])
    assert info.value.code == 130
    assert capsys.readouterr().err == "lossgap: interrupted\n"


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("loss: 0.4 - acc: NaN", r"acc is NaN, not a finite number"),
        ("loss: 1e400 - acc: 0.8", r"loss: 1e400 is beyond the largest float"),
        ("{'eval_loss': NaN, 'eval_accuracy': 0.78}", r"eval_loss is NaN"),
        ("loss: 0.4 - acc: -inf", r"acc is -inf"),
    ],
)
def test_interpret_refuses_non_finite_numbers_by_name(text, pattern):
    with pytest.raises(InputError, match=pattern):
        interpret(text)


def test_lab_refuses_x_beyond_1e100_and_negative_seeds():
    with pytest.raises(InputError, match=r"column x, row 1: 1e\+308 is beyond"):
        check_points([0.0, 1e308, -1.0, 0.5], [0, 1, 0, 1])
    with pytest.raises(InputError, match=r"--seed must be an integer >= 0"):
        simulate(5, slope=1.0, intercept=0.0, seed=-1)


@pytest.mark.parametrize("seed", [-1, 1.5, True])
def test_the_api_refuses_a_seed_that_is_not_a_count(seed):
    with pytest.raises(InputError, match=r"seed must be an integer >= 0 .*got"):
        lossgap.explain([0, 1, 1, 0], [0.2, 0.8, 0.6, 0.4], seed=seed)


def test_history_reads_around_one_text_cell_and_a_row_being_written(tmp_path):
    rows = ["epoch,loss,val_loss,val_accuracy"]
    rows += [f"{e},{1 - e / 20},{0.8 - e / 40},{0.6 + e / 50}" for e in range(6)]
    rows[3] = "2,0.9,0.75,n/a"
    mixed = tmp_path / "mixed.csv"
    mixed.write_text("\n".join(rows) + "\n")
    (run,) = analyse_history(mixed).runs
    assert run.run.n_points == 6
    assert any("'val_accuracy' holds 'n/a'" in note for note in run.run.notes)
    cut = tmp_path / "cut.csv"
    cut.write_text("\n".join(rows[:-1]) + "\n5,0.75,0.675,0.7")  # still being written
    (run,) = analyse_history(cut).runs
    assert run.run.n_points == 5  # epochs 0 to 4; the unterminated epoch 5 is left out
    assert any("has no line end" in note for note in run.run.notes)


def test_history_refuses_deeply_nested_json(tmp_path):
    path = tmp_path / "deep.json"
    # deeper than any Python's limit: 3.13's JSON parser has its own, of about 10,000
    path.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(InputError, match=r"nests its JSON too deeply"):
        analyse_history(path)


def test_spark_worker_errors_come_back_as_their_line():
    pytest.importorskip("pyspark")
    from lossgap.engines.spark import _worker_errors

    trace = (
        "An exception was thrown from the Python worker:\nTraceback (most recent call last):\n"
        "  File \"x.py\", line 1\nlossgap.errors.InputError: column 'p' has NaN at row 3 in "
        "partition 0\n\tat org.apache.spark..."
    )
    with pytest.raises(InputError, match=r"^column 'p' has NaN at row 3 in partition 0$"):
        with _worker_errors():
            raise RuntimeError(trace)
    with pytest.raises(InputError, match=r"cannot import lossgap .*PYSPARK_PYTHON"):
        with _worker_errors():
            raise RuntimeError("ModuleNotFoundError: No module named 'lossgap'")


def test_the_auto_engine_counts_values_not_bytes(tmp_path, monkeypatch):
    # a compressible Parquet file: tiny on disk, many rows
    path = tmp_path / "zeros.parquet"
    pq.write_table(pa.table({"y": np.zeros(50_000, np.int8), "p": np.full(50_000, 0.5)}), path)
    assert os.path.getsize(path) < 20_000
    monkeypatch.setattr(stream, "STREAM_CELLS", 60_000)
    assert choose_engine(path, "auto") == "stream"
    text = tmp_path / "t.csv"
    text.write_text("y,label_text\n" + "0,a\n" * 10_000)
    monkeypatch.setattr(stream, "STREAM_CELLS", 45_000)  # 10,000 rows x (1 + 4 for text)
    assert choose_engine(text, "auto") == "stream"
    monkeypatch.setattr(stream, "STREAM_CELLS", 55_000)
    assert choose_engine(text, "auto") == "memory"

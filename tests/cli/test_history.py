"""`lossgap history`: JSON and text output, and every bad log with its one line and exit 2."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from typer.testing import CliRunner

from lossgap import InputError
from lossgap.cli import load_commands
from lossgap.history import analyse_history
from tests.helpers.histories import make_history, write_keras_csv, write_trainer_state

runner = CliRunner()
app = load_commands()


def run(*args):
    return runner.invoke(app, ["history", *[str(a) for a in args]])


def history_json(*args):
    result = run(*args, "--json")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    return json.loads(result.stdout)


@pytest.fixture
def keras_log(tmp_path):
    return write_keras_csv(tmp_path / "training.log", make_history(seed=11, epochs=120))


def test_json_contract(keras_log):
    out = history_json(keras_log)
    assert set(out) == {
        "source", "runs", "epochs", "best", "findings", "per_epoch", "skipped", "notes",
        "lossgap_version", "schema_version",
    }
    (run_out,) = out["runs"]
    assert run_out["columns"]["val_accuracy"] == "val_accuracy"
    assert run_out["best"]["val_loss"]["epoch"] == out["best"]["val_loss"]["epoch"]
    assert out["best"]["val_loss"]["run"] == "training.log"
    assert len(out["epochs"]) == 120 and out["epochs"][5]["epoch"] == 5
    curves = run_out["curves"]
    assert len(curves["val_loss"]["smoothed"]) == len(curves["x"]) == 120
    assert run_out["divergence"]["start_epoch"] in curves["epoch"]
    codes = [f["code"] for f in out["findings"]]
    assert "loss_accuracy_divergence" in codes
    assert all(f["run"] == "training.log" for f in out["findings"])
    assert out["per_epoch"] == []


def test_text_output_names_findings_and_advice(keras_log):
    result = run(keras_log, "--full")
    assert result.exit_code == 0, result.stderr
    assert "loss_accuracy_divergence" in result.stdout
    assert "What to do: Keep epoch" in result.stdout
    assert result.stderr == ""


@pytest.mark.parametrize(
    ("goal", "phrase"),
    [("probabilities", "For probabilities"), ("decisions", "For decisions keep")],
)
def test_goal_fits_the_advice(keras_log, goal, phrase):
    out = history_json(keras_log, "--goal", goal)
    advice = next(f["advice"] for f in out["findings"] if f["code"] == "best_epochs_disagree")
    assert advice.startswith(phrase)
    assert out["runs"][0]["advice"]["goal"] == goal


def test_n_val_option_judges_the_accuracy_change(keras_log):
    out = history_json(keras_log, "--n-val", 50)
    div = out["runs"][0]["divergence"]
    assert out["runs"][0]["n_val_source"] == "given"
    a, b = div["score_start"], div["score_end"]
    se = math.sqrt((a * (1 - a) + b * (1 - b)) / 50)
    assert div["change_se"] == pytest.approx(se)
    assert div["within_noise"] is (abs(b - a) < 1.959963984540054 * se)


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


BAD_LOGS = [
    ("no_loss.csv", "epoch,accuracy,val_accuracy\n0,0.5,0.6\n1,0.6,0.7\n",
     r"logs no validation loss \(accuracy, val_accuracy\).*--loss COL"),
    ("train_only.csv", "epoch,loss,accuracy\n0,0.9,0.5\n1,0.7,0.6\n",
     r"logs no validation metric \(loss, accuracy\)"),
    ("empty.csv", "", r"is empty: it holds no header and no rows"),
    ("header.csv", "epoch,loss,val_loss\n", r"has a header \(epoch, loss, val_loss\) but no rows"),
    ("trainer_state.json", '{"log_history": [{"epoch": 1.0, "eval_loss": 0.5, "step": 10}, {"ep',
     r"is not valid JSON \(line 1, column \d+: .*\): the file looks cut off"),
    ("history.json", '{"loss": [0.9, 0.8, 0.7], "val_loss": [0.9, 0.8]}',
     r"'val_loss' in .* has 2 values but the longest metric has 3"),
    ("records.json", "[1, 2, 3]", r"entry 0 of the list of records .* is a int"),
    ("log.jsonl", '{"epoch": 0, "val_loss": 0.5}\n{"epoch": 1, "val_loss": 0.4}\n{"epoch": 2, "val',
     r"line 3 of .* is not a JSON object .*cut off"),
]


@pytest.mark.parametrize(("name", "text", "pattern"), BAD_LOGS)
def test_bad_log_raises_one_clear_line(tmp_path, name, text, pattern):
    path = write(tmp_path, name, text)
    with pytest.raises(InputError, match=pattern):
        analyse_history(path)
    result = run(path)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith("lossgap: error: ")


def test_binary_file_is_not_a_log(tmp_path):
    path = tmp_path / "model.h5"
    path.write_bytes(b"\x89HDF\r\n\x1a\n\x00\x00\x00binary")
    with pytest.raises(InputError, match="is a binary file, not a training log"):
        analyse_history(path)


def test_missing_path(tmp_path):
    with pytest.raises(InputError, match="does not exist: check the path"):
        analyse_history(tmp_path / "nope.csv")


def test_directory_without_logs(tmp_path):
    write(tmp_path, "notes.txt", "")
    with pytest.raises(InputError, match=r"no training log found in .*notes.txt: .* is empty"):
        analyse_history(tmp_path)


@pytest.mark.parametrize(
    ("options", "pattern"),
    [
        ({"loss": "nope"}, r"no metric 'nope' in .* \(from --loss\); it logs: accuracy, loss"),
        ({"accuracy": "f1"}, r"no metric 'f1' in .* \(from --accuracy\)"),
        ({"format": "huggingface"}, r"is not JSON, as --format huggingface expects"),
        ({"format": "yaml"}, r"unknown format 'yaml': choose one of keras, "),
        ({"goal": "speed"}, r"unknown goal 'speed': choose probabilities or decisions"),
        ({"n_val": 0}, r"--n-val must be a positive number"),
    ],
)
def test_bad_options(keras_log, options, pattern):
    with pytest.raises(InputError, match=pattern):
        analyse_history(keras_log, **options)


def test_format_keras_on_json(tmp_path):
    path = write(tmp_path, "h.json", '{"loss": [1, 2], "val_loss": [1, 2]}')
    with pytest.raises(InputError, match=r"is JSON; --format keras reads CSV files"):
        analyse_history(path, format="keras")


def test_truncated_csv_keeps_the_complete_rows(tmp_path):
    lines = ["epoch,loss,val_loss,val_accuracy"]
    lines += [f"{e},{1 - e / 20},{0.8 - e / 40},{0.6 + e / 50}" for e in range(8)]
    path = write(tmp_path, "training.log", "\n".join(lines) + "\n8,0.58")
    (analysis,) = analyse_history(path).runs
    assert analysis.run.n_points == 8
    damaged = next(f for f in analysis.findings if f.code == "damaged_log")
    assert damaged.evidence["lines"] == [10]
    assert damaged.evidence["last_line"] is True
    assert damaged.evidence["found_fields"] == [2] and damaged.evidence["expected_fields"] == 4
    assert "cut off" in damaged.message


def test_nan_loss_from_a_diverged_run_is_a_finding(tmp_path):
    h = make_history(seed=2, epochs=30)
    h.val_loss[20:] = np.nan
    h.train_loss[22:] = np.inf
    path = write_keras_csv(tmp_path / "training.log", h)
    text = path.read_text().replace("inf", "nan", 1)  # Keras writes both spellings
    path.write_text(text.replace("np.float64", ""))
    (analysis,) = analyse_history(path).runs
    nan = [f for f in analysis.findings if f.code == "nan_loss"]
    assert {f.evidence["metric"] for f in nan} == {"val_loss", "loss"}
    val = next(f for f in nan if f.evidence["metric"] == "val_loss")
    assert val.severity == "high"
    assert val.evidence["first_epoch"] == 20 and val.evidence["count"] == 10
    assert val.evidence["last_finite_epoch"] == 19
    assert analysis.best["val_loss"].epoch == int(np.nanargmin(h.val_loss))
    assert analysis.curves.x.size == 20
    json.dumps(analysis.to_dict(), allow_nan=False)


def test_all_nan_losses_do_not_crash(tmp_path):
    path = write(tmp_path, "log.csv", "epoch,loss,val_loss\n0,nan,nan\n1,nan,nan\n2,nan,nan\n")
    out = history_json(path)
    codes = {f["code"]: f for f in out["findings"]}
    assert codes["nan_loss"]["evidence"]["all_nonfinite"] is True
    assert out["runs"][0]["best"] == {}
    assert out["epochs"][0]["val_loss"] is None


def test_single_epoch_log(tmp_path):
    path = write(
        tmp_path, "log.csv", "epoch,loss,acc,val_loss,val_acc\n0,0.4011,0.8224,0.4577,0.7826\n"
    )
    out = history_json(path)
    (finding,) = out["findings"]
    assert finding["code"] == "too_short"
    assert finding["evidence"]["interpret"] == (
        'lossgap interpret "loss: 0.4011 - acc: 0.8224 - val_loss: 0.4577 - val_acc: 0.7826"'
    )


def test_trainer_state_from_a_checkpoint_folder(tmp_path):
    h = make_history(seed=4, epochs=12)
    for step in (40, 120):
        folder = tmp_path / "out" / f"checkpoint-{step}"
        folder.mkdir(parents=True)
        write_trainer_state(folder / "trainer_state.json", h)
        (folder / "config.json").write_text('{"model_type": "bert"}')
    report = analyse_history(tmp_path / "out")
    # Only the last checkpoint's history; config.json is not a log.
    assert [r.run.name for r in report.runs] == ["checkpoint-120/trainer_state.json"]
    assert [s["path"].rsplit("/", 2)[-2:] for s in report.skipped] == [
        ["checkpoint-120", "config.json"],
        ["checkpoint-40", "config.json"],
    ]


def test_concatenated_logs_with_repeated_headers(tmp_path):
    block = "epoch,loss,val_loss\n0,0.9,0.8\n1,0.7,0.6\n2,0.6,0.5\n"
    path = write(tmp_path, "training.log", block + block)
    report = analyse_history(path)
    assert [r.run.n_points for r in report.runs] == [3, 3]
    assert "the header repeats at line(s) 5: skipped" in report.runs[0].run.notes

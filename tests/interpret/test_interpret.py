"""lossgap interpret: parsing pasted metrics, the interpretation, its findings and its CLI."""

from __future__ import annotations

import json
import math

import pytest
from typer.testing import CliRunner

from lossgap import InputError
from lossgap.cli import load_commands
from lossgap.core.bounds import LN2, binary_entropy
from lossgap.interpret import interpret, parse_metrics, read_number
from tests.helpers.brute import binary_atoms, brute_binary_range, brute_error_loss
from tests.helpers.data import REAL_LOGS, needs_real_logs

# as pasted in seed 001, whose "loss:" label fell off
SEED_001 = "0.4011 – acc: 0.8224 – val_loss: 0.4577 – val_acc: 0.7826"
KERAS = "loss: 0.4011 - acc: 0.8224 - val_loss: 0.4577 - val_acc: 0.7826"


def values(found):
    return {split: {m: r.value for m, r in metrics.items()} for split, metrics in found.items()}


SEED_VALUES = {
    "train": {"loss": 0.4011, "accuracy": 0.8224},
    "val": {"loss": 0.4577, "accuracy": 0.7826},
}


@pytest.mark.parametrize(
    "text",
    [
        KERAS,
        KERAS.replace(" - ", " – "),  # en dashes
        KERAS.replace(" - ", " — "),  # em dashes
        KERAS.replace(" - ", "–"),  # no spaces
        "1875/1875 [==============================] - 3s 2ms/step - " + KERAS,
        "Epoch 3/10 ETA: 0s - loss: 0.4011 - accuracy: 0.8224 - val_loss: 0.4577 - "
        "val_accuracy: 0.7826",
        "train_loss=0.4011, train_acc=0.8224, val_loss=0.4577, val_acc=0.7826",
        "{'loss': 0.4011, 'accuracy': 0.8224}\n{'eval_loss': 0.4577, 'eval_accuracy': 0.7826}",
        "{'loss': np.float64(0.4011), 'acc': np.float32(0.8224), 'val_loss': 0.4577, "
        "'val_acc': 0.7826}",
        "loss: 0.4011 - acc: 82.24% - val_loss: 0.4577 - val_acc: 78.26%",
    ],
)
def test_parse_the_ways_people_paste(text):
    found = values(parse_metrics(text))
    assert found.keys() == SEED_VALUES.keys()
    for split, metrics in SEED_VALUES.items():
        assert found[split] == pytest.approx(metrics)


def test_parse_picks_the_right_spelling():
    text = (
        "loss: 0.52 - binary_crossentropy: 0.4011 - balanced_accuracy: 0.6 - "
        "binary_accuracy: 0.8224 - top_k_categorical_accuracy: 0.99 - lr: 0.001"
    )
    assert values(parse_metrics(text)) == {"train": {"loss": 0.4011, "accuracy": 0.8224}}
    lightning = "train_loss_step=0.9, train_loss_epoch=0.4011, val_loss=0.4577, test_f1=0.8738"
    assert values(parse_metrics(lightning)) == {
        "train": {"loss": 0.4011},
        "val": {"loss": 0.4577},
        "test": {"f1": 0.8738},
    }


def test_parse_keeps_the_last_epoch():
    text = "loss: 0.9 - val_loss: 0.8\nloss: 0.5 - val_loss: 0.6\nloss: 0.4011 - val_loss: 0.4577"
    assert values(parse_metrics(text)) == {"train": {"loss": 0.4011}, "val": {"loss": 0.4577}}


def test_read_number_keeps_rounding():
    assert read_number("0.4577", key="x").interval == pytest.approx((0.45765, 0.45775))
    assert read_number("87,38%", key="x").value == pytest.approx(0.8738)
    assert read_number("87.38%", key="x").tolerance == pytest.approx(5e-5)
    assert read_number("1e-3", key="x").tolerance == pytest.approx(5e-4)
    assert read_number("2", key="x").tolerance == pytest.approx(2e-6)  # float32 floor only
    assert read_number(0.25, key="x").tolerance == pytest.approx(2.5e-7)


def test_seed_001_ranges_match_brute_force():
    result = interpret(KERAS)
    for split in ("train", "val"):
        s = result.splits[split]
        brute = brute_binary_range(s.log_loss)
        assert s.calibrated_accuracy_range == pytest.approx(brute, abs=1e-4)
        assert s.calibrated_feasible is True
        assert s.normalized_entropy == pytest.approx(s.log_loss / LN2)
        assert s.normalized_entropy_is_lower_bound
        brute_errors = brute_error_loss(binary_atoms(), s.log_loss, s.accuracy)
        assert s.error_loss_range == pytest.approx(brute_errors, abs=1e-4)
    assert [f.code for f in result.findings] == ["generalization_gap", "consistent"]
    gap = result.gap
    assert gap.between == ["train", "val"]
    assert gap.loss_difference == pytest.approx(0.0566)
    assert gap.accuracy_difference == pytest.approx(0.0398)
    assert gap.within_noise is None


def test_seed_001_as_pasted_keeps_val_and_says_why_train_is_left_out():
    result = interpret(SEED_001)
    assert list(result.splits) == ["val"]
    assert any("train: acc 0.8224 but no loss" in note for note in result.notes)
    assert result.gap is None


def test_seed_004_f1_and_loss():
    result = interpret(loss="1.5996", f1="87.38%", n=108, base_rate=0.5)
    s = result.splits["given"]
    assert s.accuracy is None and s.accuracy_source == "f1"
    assert s.accuracy_interval == pytest.approx([0.8556, 0.8879], abs=1e-4)
    assert s.calibrated_accuracy_range is None  # no calibrated model has a loss above ln 2
    assert brute_binary_range(1.5996) is None
    assert s.calibrated_feasible is False and s.calibrated_feasible_within_noise is False
    low_corner = brute_error_loss(binary_atoms(), s.log_loss, s.accuracy_interval[0])
    high_corner = brute_error_loss(binary_atoms(), s.log_loss, s.accuracy_interval[1])
    assert s.error_loss_range == pytest.approx([low_corner[0], high_corner[1]], abs=1e-4)
    assert s.error_loss_range[0] > 6.9  # errors made with near-certainty
    assert s.error_true_class_prob_range[1] == pytest.approx(math.exp(-s.error_loss_range[0]))
    codes = [f.code for f in result.findings]
    assert codes == ["loss_above_baseline", "overconfident", "wide_intervals"]
    noise = s.accuracy_noise
    assert noise.n == 108 and noise.one_sample == pytest.approx(1 / 108)
    assert noise.ci_low < 0.8555 and noise.ci_high > 0.8880


def test_rounding_decides_borderline_pairs():
    edge = binary_entropy(0.9)  # 0.325083...: the most a calibrated model at 0.9 can lose
    assert interpret(loss="0.3251", accuracy="0.9000").splits["given"].calibrated_feasible
    exact = interpret(loss=0.3251, accuracy=0.9)
    assert edge < 0.3251 and not exact.splits["given"].calibrated_feasible
    assert exact.findings[0].code == "miscalibrated"


@pytest.mark.parametrize(
    ("kwargs", "code", "severity"),
    [
        ({"loss": 0.5, "accuracy": 0.9}, "miscalibrated", "medium"),
        ({"loss": 0.1, "accuracy": 0.9}, "threshold_fragile", "low"),
        ({"loss": 0.05, "accuracy": 0.9}, "impossible_pair", "high"),
        ({"loss": 0.6, "accuracy": 0.65, "base_rate": 0.3}, "accuracy_near_majority", "medium"),
        ({"loss": 0.6, "accuracy": 0.703, "base_rate": 0.3}, "accuracy_near_majority", "low"),
        ({"loss": 0.9, "accuracy": 0.8}, "overconfident", "high"),
        ({"loss": 1.8, "accuracy": 0.6, "classes": 10}, "miscalibrated", "medium"),
        ({"loss": 2.5, "accuracy": 0.6, "classes": 10}, "overconfident", "high"),
        ({"loss": 1.5, "accuracy": 0.6, "classes": 10, "n": 50}, "wide_intervals", "low"),
        ({"loss": 0.3, "accuracy": 0.88}, "consistent", "info"),
    ],
)
def test_findings(kwargs, code, severity):
    result = interpret(**kwargs)
    finding = result.finding(code)
    assert finding is not None, [f.code for f in result.findings]
    assert finding.severity == severity
    assert finding.evidence
    assert finding.message.startswith(("given:", "Loss and accuracy"))


def test_threshold_fragile_is_where_the_errors_must_be_cheap():
    s = interpret(loss=0.1, accuracy=0.9).splits["given"]
    # below the coin-flip mixture 2 ln 2 (1 - A): errors average under 2 ln 2 nats
    assert 0.1 < 2 * LN2 * 0.1
    assert s.error_loss_range[1] == pytest.approx(1.0) and s.error_loss_range[1] < 2 * LN2


def test_gap_noise_with_both_sizes():
    result = interpret(KERAS, n=1000, n_train=5000)
    gap = result.gap
    se = math.sqrt(0.8224 * 0.1776 / 5000 + 0.7826 * 0.2174 / 1000)
    assert gap.accuracy_difference_standard_error == pytest.approx(se)
    assert gap.accuracy_difference_z == pytest.approx(0.0398 / se)
    assert gap.within_noise is False and gap.noise_basis == "both splits"
    small = interpret(KERAS, n=100).gap
    assert small.within_noise is True and small.noise_basis.startswith("val only")
    assert "less than its sampling noise" in small.can_mean[0]


def test_lower_validation_loss_is_explained():
    result = interpret("loss: 0.52 - acc: 0.78 - val_loss: 0.41 - val_acc: 0.83")
    assert "dropout" in result.gap.can_mean[-1]
    assert result.finding("generalization_gap").evidence["loss_difference"] == pytest.approx(-0.11)


def test_to_dict_is_json():
    d = interpret(KERAS, n=500).to_dict()
    text = json.dumps(d, allow_nan=False)
    assert set(d) == {
        "classes", "base_rate", "decision_rule", "confidence", "splits", "gap", "findings",
        "explanation", "notes",
    }
    assert json.loads(text)["splits"]["val"]["accuracy_noise"]["n"] == 500
    assert "error_loss_range" in d["splits"]["train"]


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: interpret(KERAS, loss=0.3), "either pasted text or --loss"),
        (lambda: interpret(accuracy=0.8), "no log loss given"),
        (lambda: interpret("acc: 0.8"), "found no loss in 'acc: 0.8'"),
        (lambda: interpret(loss=0.3, accuracy="78.26"), r"--accuracy: accuracy must be .*0\.7826"),
        (lambda: interpret("loss: 0.4 - acc: 1.2"), "acc: accuracy must be between 0 and 1"),
        (lambda: interpret(loss="-0.3", accuracy=0.8), "--loss: the log loss must be a finite"),
        (lambda: interpret(loss="abc"), "--loss: cannot read 'abc' as a number"),
        (lambda: interpret(loss=0.3, f1=0.8, classes=3), "F1 stands in for accuracy only"),
        (lambda: interpret(loss=0.3, accuracy=0.8, classes=1), "classes must be an integer"),
        (lambda: interpret(loss=0.3, accuracy=0.8, classes=3, base_rate=0.2), "binary task"),
        (lambda: interpret(loss=0.3, accuracy=0.8, base_rate=0.0), "base rate must be strictly"),
        (lambda: interpret(loss=0.3, accuracy=0.8, n=0), "must be a positive integer"),
        (lambda: interpret(loss=0.3, f1=0.0), "F1 is 0"),
    ],
)
def test_bad_input(call, match):
    with pytest.raises(InputError, match=match):
        call()


# --- real logs -----------------------------------------------------------------------------



@needs_real_logs
def test_hugging_face_eval_dict_as_printed():
    state = json.loads(
        (REAL_LOGS / "hf" / "protonx-mles-01-projects__sentiment-classification-optimization"
         "__model__trainer_state.json").read_text()
    )
    entry = [e for e in state["log_history"] if "eval_loss" in e][-1]
    result = interpret(str(entry), n=int(entry["eval_samples_per_second"] * entry["eval_runtime"]))
    s = result.splits["val"]
    assert s.log_loss == entry["eval_loss"] and s.accuracy == entry["eval_accuracy"]
    # validation loss rose while accuracy rose: no calibrated model at 0.9389 loses 0.2878
    assert s.calibrated_loss_range[1] == pytest.approx(binary_entropy(0.9389))
    assert s.calibrated_feasible is False and s.calibrated_feasible_within_noise is False
    assert result.findings[0].code == "miscalibrated"
    assert s.accuracy_noise.n == 10000


@needs_real_logs
def test_dead_four_way_model_sits_at_ln4():
    path = REAL_LOGS / "hf" / "yuanhuanghuang__quality__baselines__lrqa____init__.py"
    state = json.loads(path.read_text())
    entry = [e for e in state["log_history"] if "eval_loss" in e][-1]
    result = interpret(str(entry), classes=4)
    s = result.splits["val"]
    # float32's ln 4 is a hair above the true ln 4: within precision, not above the baseline
    assert s.log_loss > math.log(4) and result.finding("loss_above_baseline") is None
    assert s.normalized_entropy == pytest.approx(1.0, abs=1e-8)
    assert s.calibrated_accuracy_range == pytest.approx([0.25, 0.25], abs=1e-6)
    assert any("no-skill level" in p for p in result.explanation)
    assert result.finding("miscalibrated") is not None  # 0.28 > 1/4 with uniform output


@needs_real_logs
def test_keras_csv_row_pasted_as_a_progress_line():
    lines = (
        REAL_LOGS / "keras" / "Aitzaz-Saleem__Detection-of-Tomato-Leaf-Diseases-Using-CNN__"
        "training_log.csv"
    ).read_text().splitlines()
    header, last = lines[0].split(","), lines[-1].split(",")
    row = dict(zip(header, last, strict=True))
    pasted = " - ".join(f"{k}: {v}" for k, v in row.items())
    result = interpret(pasted, classes=10)
    assert result.splits["train"].log_loss == float(row["loss"])
    assert result.splits["val"].accuracy == float(row["val_accuracy"])
    gap = float(row["val_loss"]) - float(row["loss"])
    assert result.gap.loss_difference == pytest.approx(gap)


# --- CLI -------------------------------------------------------------------------------------

runner = CliRunner()


def test_cli_text_and_json():
    app = load_commands()
    out = runner.invoke(app, ["interpret", KERAS.replace(" - ", " – ")])
    assert out.exit_code == 0 and out.stderr == ""
    assert out.stdout.startswith("Loss and accuracy agree") and "0.67-0.83" in out.stdout
    out = runner.invoke(app, ["interpret", KERAS.replace(" - ", " – "), "--full"])
    assert out.exit_code == 0 and out.stderr == ""
    assert "calibrated accuracy range" in out.stdout and "0.6698" in out.stdout
    args = ["interpret", "--loss", "1.5996", "--f1", "87.38%", "--n", "108", "--json"]
    out = runner.invoke(app, args)
    assert out.exit_code == 0 and out.stderr == ""
    data = json.loads(out.stdout)
    assert data["findings"][0]["code"] == "loss_above_baseline"
    assert data["splits"]["given"]["calibrated_accuracy_range"] is None


def test_cli_reads_stdin():
    out = runner.invoke(
        load_commands(),
        ["interpret", "-", "--json"],
        input="{'eval_loss': 0.46, 'eval_accuracy': 0.78}",
    )
    assert out.exit_code == 0
    split = json.loads(out.stdout)["splits"]["val"]
    assert split["log_loss_interval"] == pytest.approx([0.455, 0.465])


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["hello"], "found no loss"),
        (["--loss", "0.3", "--accuracy", "78"], "write 0.78 or 78%"),
        (["--loss", "0.3", "--accuracy", "0.8", "--classes", "1"], "classes must be"),
        (["--loss", "0.3", "--accuracy", "0.8", "--n", "0"], "positive integer"),
        (["loss: 0.3", "--loss", "0.3"], "not both"),
    ],
)
def test_cli_bad_input_is_one_line_and_exit_2(args, match):
    out = runner.invoke(load_commands(), ["interpret", *args])
    assert out.exit_code == 2 and out.stdout == ""
    assert len(out.stderr.strip().splitlines()) == 1
    assert match in out.stderr

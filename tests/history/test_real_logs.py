"""Every real training log in ../shared/real-logs is read and diagnosed sensibly.

The expected best epochs are those of ``SOURCES.md`` (written by someone who read the
files by hand), numbered as each log numbers them: Keras from 0, Hugging Face in
fractional epochs, TensorBoard by step. The files are read in place, never copied.
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from lossgap import InputError
from lossgap.cli import load_commands
from lossgap.history import analyse_history
from tests.helpers.data import REAL_LOGS, needs_real_logs

pytestmark = needs_real_logs

# file -> [(val_loss best, score best) per run], as SOURCES.md gives them.
EXPECTED_BEST = {
    "keras/Aditya24jar__Emotion-Detection-Resnet50__training.log": [(10, 9)],
    "keras/Aitzaz-Saleem__Detection-of-Tomato-Leaf-Diseases-Using-CNN__training_log.csv": [
        (18, 26)
    ],
    # Four runs appended to one file; SOURCES names the third run's epoch 8.
    "keras/AkshatSharma5__Brain_Tumor_Image_Classification_using_CNN__training_log.csv": [
        (4, 3),
        (3, 2),
        (8, 8),
        (4, 4),
    ],
    "keras/BrandtKaufmann__CatClassifier__training.log": [(1, 1), (44, 24)],
    "keras/Deepakkonidala__Early-prediction-of-Alzheimer-s-Disease__training_log.csv": [(0, 0)],
    "keras/GalexyBrain__CNN-For-Blood-Group-Detection-using-fingerprint__training_log.csv": [
        (36, 27)
    ],
    "keras/infinity052__Distracted-Driver-Detection__model_history_log.csv": [(9, 8)],
    "lightning/GeorgTenzing__EEG_Classification__logs__BiLSTMModel_withBase__version_0"
    "__metrics.csv": [(313, 292)],
    "lightning/GeorgTenzing__EEG_Classification__logs__EEGClassifier__version_0__metrics.csv": [
        (165, 142)
    ],
    "lightning/HCDescamps__cv-image-classification__lightning_logs__version_0__metrics.csv": [
        (5, 5)
    ],
    "lightning/Kamil-Jan__asl_project__lightning_logs__version_0__metrics.csv": [(8, 8)],
    "lightning/LhoWann__trash-project__lightning_logs__version_0__metrics.csv": [(6, 9)],
    "lightning/chandanreddy10__Fashion-MNIST__logs__lightning_logs__version_16__metrics.csv": [
        (3, 5)
    ],
    "hf/DrAliya__NLP-SPAM-FRAUD-MULTITEXT-TWEETS__trainer_state.json": [(2.93, 2.84)],
    "hf/Jaypee34__Sentiment-Analysis-for-Customer-Feedback__trainer_state.json": [(2, 3)],
    "hf/MaximilianoPona__image_classification_irrigation_systems__trainer_state.json": [
        (2.38, 2.38)
    ],
    "hf/alicelouis47__VisLungTransformer__model__trainer_state.json": [(12, 12)],
    # SOURCES names epoch 1 (0.902) as the accuracy best: that epoch predicts the majority
    # class for every sample (macro-F1 0.19 = 2A / (1 + A) / 5), so it is never crowned.
    "hf/arshiv-web__Financial-News-Sentiment-Analysis__trainer_state.json": [(3, 9)],
    "hf/protonx-mles-01-projects__sentiment-classification-optimization__model"
    "__trainer_state.json": [(0.6, 2.2)],
    "hf/yuanhuanghuang__quality__baselines__lrqa____init__.py": [(1.27, 1.27)],
}
TB_EXPECTED_STEPS = {
    "tensorboard/HCDescamps__cv-image-classification__lightning_logs__mnist_cnn__version_0"
    "__events.out.tfevents.1785441771.squirrels-iMac.local.1798.3": (6875, 5156),
    "tensorboard/HCDescamps__cv-image-classification__lightning_logs__mnist_cnn__version_1"
    "__events.out.tfevents.1785443425.squirrels-iMac.local.1798.6": (8594, 8594),
}


def test_every_log_file_is_listed_here():
    """A new file in real-logs must get its expectation: none goes untested."""
    found = {
        p.relative_to(REAL_LOGS).as_posix()
        for p in REAL_LOGS.rglob("*")
        if p.is_file() and p.parent.name in ("keras", "lightning", "hf", "tensorboard")
    }
    assert found == set(EXPECTED_BEST) | set(TB_EXPECTED_STEPS)


@pytest.mark.parametrize("name", sorted(EXPECTED_BEST))
def test_best_epochs_as_the_log_numbers_them(name):
    report = analyse_history(REAL_LOGS / name)
    got = []
    for analysis in report.runs:
        run = analysis.run
        got.append((analysis.best[run.loss].epoch, analysis.best[run.score].epoch))
    assert got == EXPECTED_BEST[name]


@pytest.mark.parametrize("name", sorted(TB_EXPECTED_STEPS))
def test_tensorboard_best_steps(name):
    (analysis,) = analyse_history(REAL_LOGS / name).runs
    assert analysis.run.format == "tensorboard"
    steps = (analysis.best["val_loss"].step, analysis.best["val_accuracy"].step)
    assert steps == TB_EXPECTED_STEPS[name]


def _codes(name, run=0):
    return {f.code: f for f in analyse_history(REAL_LOGS / name).runs[run].findings}


def test_model_stuck_at_the_uniform_loss():
    found = _codes("hf/yuanhuanghuang__quality__baselines__lrqa____init__.py")
    uniform = found["uniform_predictions"]
    assert uniform.severity == "high"
    assert uniform.evidence["classes_implied"] == 4
    assert uniform.evidence["median"] == pytest.approx(1.3863, abs=1e-3)
    assert "loss_accuracy_divergence" not in found


def test_single_epoch_log_points_to_interpret():
    found = _codes(
        "keras/Deepakkonidala__Early-prediction-of-Alzheimer-s-Disease__training_log.csv"
    )
    assert set(found) == {"too_short"}
    command = found["too_short"].evidence["interpret"]
    assert command == (
        'lossgap interpret "loss: 0.6885 - acc: 0.6879 - val_loss: 1.3651 - val_acc: 0.6248"'
    )


def test_appended_runs_are_split_where_the_epoch_restarts():
    name = "keras/AkshatSharma5__Brain_Tumor_Image_Classification_using_CNN__training_log.csv"
    report = analyse_history(REAL_LOGS / name)
    assert [r.run.n_points for r in report.runs] == [5, 4, 10, 5]
    event = _codes(name)["appended_runs"]
    assert event.evidence["runs"] == 4 and event.evidence["restart_rows"] == [5, 9, 19]


def test_broken_custom_metric_above_one():
    found = _codes("keras/BrandtKaufmann__CatClassifier__training.log", run=1)
    broken = found["metric_out_of_range"]
    assert broken.evidence["name"] == "val_F1_score"
    assert broken.evidence["max"] == pytest.approx(1.059, abs=1e-3)


def test_one_epoch_blow_up_is_a_spike_not_a_trend():
    name = "keras/Aditya24jar__Emotion-Detection-Resnet50__training.log"
    findings = analyse_history(REAL_LOGS / name).runs[0].findings
    spikes = {f.evidence["metric"]: f for f in findings if f.code == "metric_spike"}
    spike = spikes["val_loss"]
    assert spike.evidence["spikes"][0]["epoch"] == 1
    assert spike.evidence["spikes"][0]["value"] == pytest.approx(7.417, abs=1e-3)
    assert "loss_accuracy_divergence" not in {f.code for f in findings}


def test_textbook_divergence_with_fractional_epochs():
    name = (
        "hf/protonx-mles-01-projects__sentiment-classification-optimization__model"
        "__trainer_state.json"
    )
    found = _codes(name)
    div = found["loss_accuracy_divergence"]
    assert div.evidence["direction"] == "loss_rises"
    assert 0.6 <= div.evidence["start_epoch"] <= 2.0
    assert div.evidence["loss_end"] > div.evidence["loss_start"]
    # 10000 validation samples, from eval_runtime x eval_samples_per_second.
    assert div.evidence["n_val"] == 10000
    assert found["best_epochs_disagree"].evidence["score_gain"] == pytest.approx(0.9397 - 0.9227)


def test_accuracy_rises_while_loss_rises_beyond_noise():
    found = _codes("hf/arshiv-web__Financial-News-Sentiment-Analysis__trainer_state.json")
    div = found["loss_accuracy_divergence"]
    assert div.evidence["score_trend"] == "rising"
    assert div.evidence["within_noise"] is False


def test_f1_stands_in_for_a_missing_accuracy():
    name = "hf/MaximilianoPona__image_classification_irrigation_systems__trainer_state.json"
    run = analyse_history(REAL_LOGS / name).runs[0].run
    assert run.score == "val_f1" and run.columns()["val_f1"] == "eval_f1"
    assert any("'eval_f1' stands in" in note for note in run.notes)


def test_learning_rate_rows_without_epoch_are_kept():
    name = "lightning/LhoWann__trash-project__lightning_logs__version_0__metrics.csv"
    run = analyse_history(REAL_LOGS / name).runs[0].run
    assert run.columns()["lr_adamw"] == "lr-AdamW"
    assert run.n_points == 10
    # A cosine schedule from 1e-4: the last rate logged in each epoch, falling.
    lr = run.metrics["lr_adamw"].values
    assert lr[0] == pytest.approx(1e-4) and (lr[1:] < lr[:-1]).all()


def test_prediction_files_are_refused_as_logs():
    path = REAL_LOGS / "predictions" / "CryZiiiX__credit-risk-prediction__results__predictions.csv"
    with pytest.raises(InputError, match="logs no validation metric .*y_true, lr_proba"):
        analyse_history(path)


def test_the_whole_folder_at_once():
    report = analyse_history(REAL_LOGS)
    assert len(report.runs) == 25  # 22 files, two with appended runs (3 + 1 extra)
    assert {s["path"].rsplit("/", 1)[-1] for s in report.skipped} == {
        "CryZiiiX__credit-risk-prediction__results__predictions.csv",
        "GiorgosBouh__raw_vs_KG_ADHD__results__predictions.csv",
        "SOURCES.md",
    } - {"SOURCES.md"}
    out = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert len(out["runs"]) == 25 and out["best"]["val_loss"]["value"] > 0


def test_cli_reads_every_log_as_json():
    runner = CliRunner()
    app = load_commands()
    for name in sorted(EXPECTED_BEST):
        result = runner.invoke(app, ["history", str(REAL_LOGS / name), "--json"])
        assert result.exit_code == 0, (name, result.stderr)
        assert result.stderr == ""
        data = json.loads(result.stdout)
        assert set(data) >= {"runs", "epochs", "best", "findings", "per_epoch"}

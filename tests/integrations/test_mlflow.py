"""MLflow: a run that Keras autologging wrote to a file store is read with the best epochs
of the History that ``fit`` returned; evaluations are logged as metrics and artifacts;
lossgap's metrics survive ``mlflow.models.evaluate``'s one-row probe."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from typer.testing import CliRunner

os.environ["KERAS_BACKEND"] = "torch"  # before keras is imported anywhere in this process
mlflow = pytest.importorskip("mlflow")
keras = pytest.importorskip("keras")
sklearn_metrics = pytest.importorskip("sklearn.metrics")

import lossgap  # noqa: E402
from lossgap.cli import load_commands  # noqa: E402
from lossgap.errors import InputError  # noqa: E402
from lossgap.integrations.mlflow import evaluation_metrics, log_evaluation  # noqa: E402


@pytest.fixture
def tracking(tmp_path, monkeypatch):
    # MLflow 3 keeps the file store for those who ask for it.
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    uri = f"file:{tmp_path / 'mlruns'}"
    mlflow.set_tracking_uri(uri)
    yield uri
    mlflow.set_tracking_uri(None)


def overfitting_fit():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(220, 6)).astype("float32")
    y = (x[:, 0] - x[:, 1] + rng.normal(0, 1.2, 220) > 0).astype("float32")
    keras.utils.set_random_seed(3)
    model = keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(keras.optimizers.Adam(0.03), "binary_crossentropy", metrics=["accuracy"])
    return model.fit(
        x[:100], y[:100], validation_data=(x[100:], y[100:]), epochs=12, batch_size=20, verbose=0
    )


def test_keras_autologged_run_read_by_run_id(tracking):
    mlflow.keras.autolog(log_models=False, log_datasets=False)
    try:
        with mlflow.start_run() as run:
            history = overfitting_fit().history
    finally:
        mlflow.keras.autolog(disable=True)
    run_id = run.info.run_id
    report = lossgap.history(f"mlflow:{run_id}", tracking_uri=tracking)
    analysed = report.runs[0].run
    assert analysed.format == "mlflow"
    np.testing.assert_allclose(analysed.values("val_loss"), history["val_loss"], rtol=1e-7)
    np.testing.assert_allclose(analysed.values("loss"), history["loss"], rtol=1e-7)
    found = report.best()
    assert found["val_loss"].step == int(np.argmin(history["val_loss"]))
    assert found["val_accuracy"].step == int(np.argmax(history["val_accuracy"]))

    result = CliRunner().invoke(
        load_commands(), ["history", f"mlflow:{run_id}", "--tracking-uri", tracking, "--json"]
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["runs"][0]["best"]["val_loss"]["step"] == found["val_loss"].step


def test_unknown_run_is_one_clear_line(tracking):
    with pytest.raises(InputError, match="MLflow has no run 'nope'.*--tracking-uri"):
        lossgap.history("mlflow:nope", tracking_uri=tracking)
    result = CliRunner().invoke(
        load_commands(), ["history", "mlflow:nope", "--tracking-uri", tracking]
    )
    assert result.exit_code == 2 and "Traceback" not in result.output


def test_log_evaluation_metrics_and_artifacts(tracking, tmp_path):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    p = np.clip(0.5 + (y - 0.5) * rng.uniform(0, 0.9, 300), 0.01, 0.99)
    ev = lossgap.explain(y, p)
    with mlflow.start_run() as run:
        logged = log_evaluation(ev, step=3)
    client = mlflow.tracking.MlflowClient()
    metrics = client.get_run(run.info.run_id).data.metrics
    assert metrics["lossgap_log_loss"] == pytest.approx(sklearn_metrics.log_loss(y, p))
    assert metrics["lossgap_accuracy"] == pytest.approx(sklearn_metrics.accuracy_score(y, p >= 0.5))
    assert set(logged) <= set(metrics)
    history = client.get_metric_history(run.info.run_id, "lossgap_brier")
    assert [m.step for m in history] == [3]
    folder = client.download_artifacts(run.info.run_id, "lossgap", str(tmp_path))
    saved = json.loads((tmp_path / "lossgap" / "evaluation.json").read_text())
    assert saved == json.loads(json.dumps(ev.to_dict()))
    assert f"{ev.metric('log_loss'):.4f}" in (tmp_path / "lossgap" / "report.html").read_text()
    assert folder.endswith("lossgap")


def test_log_evaluation_needs_a_run(tracking):
    ev = lossgap.explain([0, 1, 1, 0], [0.2, 0.9, 0.6, 0.4])
    with pytest.raises(InputError, match="no active MLflow run"):
        log_evaluation(ev)


def test_metrics_survive_mlflow_evaluate(tracking):
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 200)
    p = np.clip(0.5 + (y - 0.5) * rng.uniform(-0.4, 0.9, 200), 0.01, 0.99)
    data = pd.DataFrame({"label": y, "prob": p})
    with mlflow.start_run():
        result = mlflow.models.evaluate(
            data=data,
            predictions="prob",
            targets="label",
            extra_metrics=evaluation_metrics(["log_loss", "accuracy", "brier"]),
        )
    assert result.metrics["lossgap_log_loss"] == pytest.approx(sklearn_metrics.log_loss(y, p))
    assert result.metrics["lossgap_accuracy"] == pytest.approx(
        sklearn_metrics.accuracy_score(y, p >= 0.5)
    )
    assert result.metrics["lossgap_brier"] == pytest.approx(sklearn_metrics.brier_score_loss(y, p))

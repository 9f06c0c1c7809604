"""A Keras 3 model (torch backend) trained for a few epochs writes predictions that
`lossgap history --predictions` reads and decomposes, lined up with its CSVLogger log."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from typer.testing import CliRunner

os.environ["KERAS_BACKEND"] = "torch"  # before keras is imported anywhere in this process
keras = pytest.importorskip("keras")

from lossgap.cli import load_commands  # noqa: E402
from lossgap.integrations import KerasPredictionWriter  # noqa: E402
from lossgap.io import read_predictions  # noqa: E402

EPOCHS = 4


def data(rng, n):
    x = rng.normal(size=(n, 4)).astype("float32")
    y = (x @ np.array([1.5, -2.0, 0.5, 0.0]) + rng.normal(0, 0.8, n) > 0).astype("int64")
    return x, y


def small_binary_model(seed):
    """A compiled 4-8-1 sigmoid network, its weights seeded."""
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(0.05), loss="binary_crossentropy", metrics=["accuracy"]
    )
    return model


def test_keras_writer_feeds_history_predictions(tmp_path):
    assert keras.backend.backend() == "torch"
    rng = np.random.default_rng(0)
    (x, y), (x_val, y_val) = data(rng, 256), data(rng, 200)
    model = small_binary_model(seed=0)
    writer = KerasPredictionWriter(x_val, y_val, tmp_path / "preds")
    model.fit(
        x,
        y,
        validation_data=(x_val, y_val),
        epochs=EPOCHS,
        batch_size=64,
        verbose=0,
        callbacks=[keras.callbacks.CSVLogger(str(tmp_path / "training.log")), writer],
    )
    # The last file holds what the trained model predicts.
    last = read_predictions(tmp_path / "preds" / f"epoch_{EPOCHS - 1:04d}.csv")
    np.testing.assert_allclose(last.prob, model.predict(x_val, verbose=0)[:, 0], rtol=1e-6)
    result = CliRunner().invoke(
        load_commands(),
        [
            "history",
            str(tmp_path / "training.log"),
            "--predictions",
            str(tmp_path / "preds"),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    rows = out["per_epoch"]
    assert [r["epoch"] for r in rows] == list(range(EPOCHS))
    log = out["epochs"]
    for row, logged in zip(rows, log, strict=True):
        # Keras computes in float32 with probabilities clipped at 1e-7.
        assert row["log_loss"] == pytest.approx(logged["val_loss"], rel=1e-4)
        assert row["accuracy"] == pytest.approx(logged["val_accuracy"], abs=1e-6)
        parts = row["decomposition"]
        assert parts["score"] == pytest.approx(
            parts["miscalibration"] - parts["discrimination"] + parts["uncertainty"]
        )
    assert out["runs"][0]["n_val"] == 200


def test_softmax_model_with_one_hot_labels(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(90, 3)).astype("float32")
    y = keras.utils.to_categorical(x.argmax(axis=1), 3)
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    writer = KerasPredictionWriter(x, y, tmp_path, classes=["r", "g", "b"])
    model.fit(x, y, epochs=2, verbose=0, callbacks=[writer])
    pred = read_predictions(tmp_path / "epoch_0001.csv")
    assert pred.classes == ("r", "g", "b")  # the column order, named
    assert pred.y.tolist() == x.argmax(axis=1).tolist()
    np.testing.assert_allclose(pred.prob, model.predict(x, verbose=0), rtol=1e-6)


def test_numbers_go_into_logs_that_csvlogger_records(tmp_path):
    """Listed before CSVLogger, the writer's metrics land in CSVLogger's file and History."""
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(2)
    (x, y), (x_val, y_val) = data(rng, 200), data(rng, 120)
    model = small_binary_model(seed=2)
    writer = KerasPredictionWriter(x_val, y_val, tmp_path / "preds")
    history = model.fit(
        x,
        y,
        validation_data=(x_val, y_val),
        epochs=3,
        batch_size=50,
        verbose=0,
        callbacks=[writer, keras.callbacks.CSVLogger(str(tmp_path / "training.log"))],
    )
    with (tmp_path / "training.log").open() as f:
        rows = list(__import__("csv").DictReader(f))
    assert len(rows) == 3
    prob = model.predict(x_val, verbose=0)[:, 0].astype(np.float64)
    last = rows[-1]
    # The last epoch's numbers are those of the trained model, by scikit-learn.
    assert float(last["val_lossgap_log_loss"]) == pytest.approx(
        sklearn_metrics.log_loss(y_val, prob), rel=1e-5
    )
    assert float(last["val_lossgap_accuracy"]) == pytest.approx(
        sklearn_metrics.accuracy_score(y_val, prob >= 0.5)
    )
    assert float(last["val_lossgap_roc_auc"]) == pytest.approx(
        sklearn_metrics.roc_auc_score(y_val, prob), rel=1e-6
    )
    # ... and agree with Keras's own validation loss (float32, clipped at 1e-7).
    for row in rows:
        assert float(row["val_lossgap_log_loss"]) == pytest.approx(float(row["val_loss"]), rel=1e-4)
    assert history.history["val_lossgap_brier"][-1] == pytest.approx(
        sklearn_metrics.brier_score_loss(y_val, prob), rel=1e-5
    )


def test_saturated_sigmoid_is_saved_as_logits(tmp_path):
    """A float32 sigmoid rounds to exactly 1.0 past ~17 logits; the logits keep the loss finite."""
    x = np.array([[30.0], [-30.0], [0.5], [25.0]], dtype="float32")
    y = np.array([0, 1, 1, 1])  # the first two are confidently wrong
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, activation="sigmoid")])
    model.set_weights([np.ones((1, 1), dtype="float32"), np.zeros(1, dtype="float32")])
    assert model.predict(x, verbose=0)[0, 0] == 1.0  # float32 has lost the tail
    writer = KerasPredictionWriter(x, y, tmp_path)
    writer.set_model(model)
    logs: dict = {}
    writer.on_epoch_end(0, logs)
    pred = read_predictions(tmp_path / "epoch_0000.csv")
    # The exact log loss: log1p(exp(z)) for a wrong positive logit z, computed by hand.
    logit = np.array([30.0, -30.0, 0.5, 25.0])
    expected = np.mean(np.logaddexp(0, np.where(y == 1, -logit, logit)))
    assert np.isfinite(logs["val_lossgap_log_loss"])
    assert logs["val_lossgap_log_loss"] == pytest.approx(expected, rel=1e-12)
    assert pred.y.tolist() == y.tolist()

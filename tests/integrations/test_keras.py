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


def test_keras_writer_feeds_history_predictions(tmp_path):
    assert keras.backend.backend() == "torch"
    rng = np.random.default_rng(0)
    (x, y), (x_val, y_val) = data(rng, 256), data(rng, 200)
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1, activation="sigmoid")]
    )
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="binary_crossentropy", metrics=["accuracy"])
    writer = KerasPredictionWriter(x_val, y_val, tmp_path / "preds")
    model.fit(
        x, y, validation_data=(x_val, y_val), epochs=EPOCHS, batch_size=64, verbose=0,
        callbacks=[keras.callbacks.CSVLogger(str(tmp_path / "training.log")), writer],
    )
    # The last file holds what the trained model predicts.
    last = read_predictions(tmp_path / "preds" / f"epoch_{EPOCHS - 1:04d}.csv")
    np.testing.assert_allclose(last.prob, model.predict(x_val, verbose=0)[:, 0], rtol=1e-6)
    result = CliRunner().invoke(
        load_commands(),
        ["history", str(tmp_path / "training.log"), "--predictions", str(tmp_path / "preds"), "--json"],
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

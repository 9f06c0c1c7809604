"""Write the Keras/TensorFlow 2 fixtures in this folder with a real TensorFlow run.

Run it in a virtual environment of its own (TensorFlow is far too big for lossgap's):

    python3.11 -m venv /tmp/venv-tf && /tmp/venv-tf/bin/pip install tensorflow-cpu tensorboard
    /tmp/venv-tf/bin/python tests/data/keras_tf/make_fixtures.py

One small binary classifier overfits a noisy synthetic set for 24 epochs, so its
validation loss turns up while its validation accuracy keeps moving. The same ``fit`` is
recorded five ways, each file as the tool wrote it:

* ``tensorboard/`` — ``keras.callbacks.TensorBoard`` (``train/`` and ``validation/``
  event files, scalars written as TF2 tensor summaries);
* ``training.log`` — ``keras.callbacks.CSVLogger``, the reference the tests compare with;
* ``history.json`` — ``json.dump(history.history)``;
* ``console_verbose1.txt`` / ``console_verbose2.txt`` — what ``fit`` printed to the
  terminal with ``verbose=1`` (progress bars) and ``verbose=2`` (one line per epoch);
* ``versions.json`` — the TensorFlow and Keras versions that wrote them.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["KERAS_BACKEND"] = "tensorflow"

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import keras  # noqa: E402

HERE = Path(__file__).resolve().parent
EPOCHS = 24


def data(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    x = rng.normal(size=(n, 10)).astype("float32")
    logit = x[:, 0] * 1.2 - x[:, 1] + 0.5 * x[:, 2] * x[:, 3]
    y = (logit + rng.normal(0, 1.0, n) > 0).astype("float32")
    return x, y


def model() -> keras.Model:
    net = keras.Sequential(
        [
            keras.Input((10,)),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    net.compile(optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy", metrics=["accuracy"])
    return net


def fit(verbose: int, callbacks: list) -> tuple[keras.callbacks.History, str]:
    rng = np.random.default_rng(7)
    (x, y), (x_val, y_val) = data(rng, 300), data(rng, 200)
    keras.utils.set_random_seed(7)
    net = model()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        history = net.fit(
            x, y, validation_data=(x_val, y_val), epochs=EPOCHS, batch_size=32,
            verbose=verbose, callbacks=callbacks,
        )
    return history, out.getvalue()


def main() -> None:
    tf.config.experimental.enable_op_determinism()
    board = HERE / "tensorboard"
    shutil.rmtree(board, ignore_errors=True)
    history, console2 = fit(
        2,
        [
            keras.callbacks.TensorBoard(str(board), histogram_freq=0, write_graph=False),
            keras.callbacks.CSVLogger(str(HERE / "training.log")),
        ],
    )
    (HERE / "console_verbose2.txt").write_text(console2)
    (HERE / "history.json").write_text(json.dumps(history.history))
    _, console1 = fit(1, [])
    (HERE / "console_verbose1.txt").write_text(console1)
    (HERE / "versions.json").write_text(
        json.dumps({"tensorflow": tf.__version__, "keras": keras.__version__, "python": sys.version.split()[0]})
    )


if __name__ == "__main__":
    main()

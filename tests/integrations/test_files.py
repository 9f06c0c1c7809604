"""The shared per-epoch writer: what it writes is what `read_predictions` reads back."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from scipy.special import softmax
from sklearn.metrics import log_loss

from lossgap import InputError
from lossgap.integrations import write_epoch_predictions
from lossgap.io import read_predictions


def test_binary_logits_are_kept_exact(tmp_path, rng):
    z = rng.normal(0, 8, 50)
    y = rng.integers(0, 2, 50)
    path = write_epoch_predictions(tmp_path, 3, y, z[:, None], from_logits=True)
    assert path.name == "epoch_0003.csv"
    pred = read_predictions(path)
    assert pred.from_logits
    np.testing.assert_array_equal(pred.logits, z)


def test_multiclass_logits_become_probabilities_with_class_names(tmp_path, rng):
    logits = rng.normal(0, 3, (40, 3))
    y = rng.integers(0, 3, 40)
    path = write_epoch_predictions(
        tmp_path,
        2.5,
        y,
        logits,
        from_logits=True,
        classes=["a", "b", "c"],
        step=500,
        file_format="parquet",
    )
    assert path.name == "epoch_2.5_step_500.parquet"
    pred = read_predictions(path)
    assert pred.classes == ("a", "b", "c")
    np.testing.assert_allclose(pred.prob, softmax(logits, axis=1), rtol=1e-12)
    expected = log_loss(y, softmax(logits, axis=1), labels=[0, 1, 2])
    from lossgap.explanation import evaluate_predictions

    assert evaluate_predictions(pred, replicates=0).metric("log_loss") == pytest.approx(expected)


def test_one_hot_labels_and_probabilities(tmp_path):
    y = np.eye(3)[[0, 2, 1, 2]]
    p = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8], [0.2, 0.5, 0.3], [0.3, 0.3, 0.4]])
    pred = read_predictions(write_epoch_predictions(tmp_path, 0, y, p))
    assert pred.y.tolist() == [0, 2, 1, 2]


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"y_true": [0, 1, 1], "y_out": [0.2, 0.9]}, r"3 labels but 2 rows of model outputs"),
        (
            {"y_true": [0, 1], "y_out": [[0.2, 0.8], [0.4, 0.6]], "classes": ["a", "b", "c"]},
            r"3 classes but 2 output columns",
        ),
        (
            {"y_true": [0, 1], "y_out": [0.2, 0.9], "file_format": "xlsx"},
            r"file_format must be one of",
        ),
    ],
)
def test_writer_errors(tmp_path, kwargs, pattern):
    with pytest.raises(InputError, match=pattern):
        write_epoch_predictions(tmp_path, 0, **kwargs)


def test_integrations_import_no_framework():
    """Importing the callback modules imports no framework; the class is built on use."""
    code = (
        "import sys, lossgap.integrations as i, lossgap.integrations.keras, "
        "lossgap.integrations.lightning, lossgap.integrations.huggingface\n"
        "print(sorted({'keras', 'lightning', 'transformers'} & set(sys.modules)))\n"
        "try:\n    i.Nope\nexcept AttributeError as e:\n    print(e)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines() == [
        "[]",
        "module 'lossgap.integrations' has no attribute 'Nope'",
    ]

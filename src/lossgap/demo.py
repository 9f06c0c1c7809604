"""The demo's data: a small network trained past its best validation loss.

scikit-learn's bundled breast-cancer data (no download), a two-layer ``MLPClassifier``
without weight decay, trained epoch by epoch with ``partial_fit``. Its validation loss
bottoms out within a few epochs and then rises, while its validation accuracy keeps
improving: the pattern of the seed questions, on data every install has.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

from lossgap.metrics import accuracy, log_loss
from lossgap.predictions import Predictions
from lossgap.tally import Tally

#: Classes in column order (scikit-learn sorts them); the positive class is ``malignant``.
CLASSES = ("benign", "malignant")


@dataclass
class DemoRun:
    """Per-epoch history and validation predictions of the demo network.

    Attributes
    ----------
    history : list of dict
        One row per epoch: ``epoch``, ``loss``, ``accuracy``, ``val_loss``, ``val_accuracy``
        (Keras names).
    val_prob : ndarray, shape (epochs, n_val)
        Probability of ``malignant`` for each validation sample after each epoch.
    val_labels : ndarray of str, shape (n_val,)
    val_ids : ndarray of int, shape (n_val,)
        Row numbers in scikit-learn's dataset.
    """

    history: list[dict[str, float]]
    val_prob: np.ndarray
    val_labels: np.ndarray
    val_ids: np.ndarray


def _loss_and_accuracy(labels: np.ndarray, prob: np.ndarray) -> tuple[float, float]:
    tally = Tally.from_predictions(Predictions(labels, prob, classes=CLASSES), top=0)
    return log_loss(tally), accuracy(tally)


def train_demo_model(
    epochs: int = 150,
    *,
    seed: int = 0,
    on_epoch: Callable[[int], None] | None = None,
) -> DemoRun:
    """Train the demo network and keep every epoch's validation probabilities.

    Parameters
    ----------
    epochs : int, default=150
    seed : int, default=0
        Seeds the split and the network.
    on_epoch : callable, optional
        Called with the epoch number after each epoch (progress bars).

    Examples
    --------
    >>> run = train_demo_model(epochs=3)
    >>> len(run.history), run.val_prob.shape
    (3, (3, 228))
    """
    data = load_breast_cancer()
    labels = data.target_names[data.target]  # target 0 is malignant, 1 benign
    ids = np.arange(len(labels))
    x_train, x_val, y_train, y_val, _, id_val = train_test_split(
        data.data, labels, ids, test_size=0.4, random_state=seed, stratify=labels
    )
    scaler = StandardScaler().fit(x_train)
    x_train, x_val = scaler.transform(x_train), scaler.transform(x_val)
    # No weight decay and a brisk learning rate: the network becomes overconfident.
    model = MLPClassifier(
        hidden_layer_sizes=(64, 64),
        alpha=0.0,
        learning_rate_init=0.01,
        batch_size=32,
        random_state=seed,
    )
    history, val_prob = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for epoch in range(epochs):
            model.partial_fit(x_train, y_train, classes=list(CLASSES))
            train_p = model.predict_proba(x_train)[:, 1]
            val_p = model.predict_proba(x_val)[:, 1]
            loss, acc = _loss_and_accuracy(y_train, train_p)
            val_loss, val_acc = _loss_and_accuracy(y_val, val_p)
            history.append(
                {
                    "epoch": epoch,
                    "loss": loss,
                    "accuracy": acc,
                    "val_loss": val_loss,
                    "val_accuracy": val_acc,
                }
            )
            val_prob.append(val_p)
            if on_epoch is not None:
                on_epoch(epoch)
    return DemoRun(history, np.asarray(val_prob), y_val, id_val)

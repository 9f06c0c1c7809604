"""The demo: a small network trained past its best validation loss, and the whole story.

scikit-learn's bundled breast-cancer data (no download), a two-layer ``MLPClassifier``
without weight decay, trained epoch by epoch with ``partial_fit``. Its validation loss
bottoms out within a few epochs and then more than triples, while its validation accuracy
still improves: the pattern users most often ask about, on data every install has.

:func:`run_demo` then does what a user would: writes the training log (Keras
``CSVLogger`` format) and some epochs' validation predictions, reads them back with
``history``, explains the last epoch, and compares the loss-best epoch with the last one.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lossgap.comparison import Comparison, compare
from lossgap.core.metrics import accuracy, log_loss
from lossgap.core.predictions import Predictions
from lossgap.core.tally import Tally
from lossgap.curves import comparison_flips, evaluation_curves
from lossgap.errors import InputError
from lossgap.explanation import explain
from lossgap.history import HistoryReport, analyse_history
from lossgap.results.curves import ExplainCurves, FlipPoints
from lossgap.results.evaluation import Evaluation

#: Classes in column order (scikit-learn sorts them); the positive class is ``malignant``.
CLASSES = ("benign", "malignant")
#: Epochs trained by default.
EPOCHS = 150
#: Validation predictions are saved every this many epochs (plus the loss-best and last).
SAVE_EVERY = 10

#: Called with (stage, done, total) as the demo advances (progress bars).
OnStep = Callable[[str, int, int], None]


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

    def best(self, metric: str) -> dict[str, float]:
        """The epoch row where ``metric`` is best (lowest loss, highest accuracy; first on ties)."""
        pick = min if metric.endswith("loss") else max
        return pick(self.history, key=lambda row: row[metric])


def _loss_and_accuracy(labels: np.ndarray, prob: np.ndarray) -> tuple[float, float]:
    tally = Tally.from_predictions(Predictions(labels, prob, classes=CLASSES), top=0)
    return log_loss(tally), accuracy(tally)


def train_demo_model(
    epochs: int = EPOCHS,
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
    # imported here: every CLI command loads this module, only the demo trains
    try:
        from sklearn.datasets import load_breast_cancer
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.model_selection import train_test_split
        from sklearn.neural_network import MLPClassifier
        from sklearn.preprocessing import StandardScaler
    except ImportError as exc:  # not a core dependency: the [demo] extra
        msg = "the demo trains a scikit-learn model: pip install 'lossgap[demo]'"
        raise InputError(msg) from exc

    data = load_breast_cancer()
    labels = data.target_names[data.target]  # target 0 is malignant, 1 benign
    ids = np.arange(len(labels))
    x_train, x_val, y_train, y_val, _, id_val = train_test_split(
        data.data, labels, ids, test_size=0.4, random_state=seed, stratify=labels
    )
    scaler = StandardScaler().fit(x_train)
    x_train, x_val = scaler.transform(x_train), scaler.transform(x_val)
    # No weight decay: past its best validation loss the network grows overconfident.
    model = MLPClassifier(
        hidden_layer_sizes=(64, 64),
        alpha=0.0,
        learning_rate_init=0.003,
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


def write_training_log(run: DemoRun, path: Path) -> Path:
    """The history as Keras's ``CSVLogger`` writes it: ``epoch,accuracy,loss,val_...``."""
    columns = ("epoch", "accuracy", "loss", "val_accuracy", "val_loss")
    lines = [",".join(columns)]
    lines += [",".join(repr(float(row[c])) for c in columns) for row in run.history]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def saved_epochs(run: DemoRun, every: int = SAVE_EVERY) -> list[int]:
    """The epochs whose predictions the demo saves: every ``every``-th, the loss-best, the last."""
    last = len(run.history) - 1
    chosen = set(range(0, last + 1, every)) | {int(run.best("val_loss")["epoch"]), last}
    return sorted(chosen)


def write_epoch_predictions(run: DemoRun, directory: Path, epochs: list[int]) -> Path:
    """One CSV per epoch (``epoch_0003.csv``: ``id,label,prob``), as the callbacks write them."""
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("epoch_*.csv"):
        stale.unlink()  # a previous run with other epochs must not mix in
    for epoch in epochs:
        rows = ["id,label,prob"]
        rows += [
            f"{i},{label},{float(p)!r}"
            for i, label, p in zip(run.val_ids, run.val_labels, run.val_prob[epoch], strict=True)
        ]
        (directory / f"epoch_{epoch:04d}.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return directory


@dataclass
class DemoStory:
    """Everything the demo found, as plain results.

    Attributes
    ----------
    run : DemoRun
    history : HistoryReport
        ``lossgap history`` on the training log and the saved predictions.
    evaluation : Evaluation
        ``lossgap explain`` on the last epoch's validation predictions.
    comparison : Comparison
        ``lossgap compare`` of the loss-best epoch and the last one.
    early, late : int
        Those two epochs.
    files : dict of str to Path
        ``log`` and ``predictions`` as written.
    predictions : dict of str to Predictions
        The two compared epochs' samples, for the flip plot.
    """

    run: DemoRun
    history: HistoryReport
    evaluation: Evaluation
    comparison: Comparison
    early: int
    late: int
    files: dict[str, Path]
    predictions: dict[str, Predictions] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The JSON of ``lossgap demo --json`` (``docs/json.md``)."""
        best_loss, best_acc = self.run.best("val_loss"), self.run.best("val_accuracy")
        return {
            "history": self.run.history,
            "best": {
                "val_loss": {"epoch": best_loss["epoch"], "value": best_loss["val_loss"]},
                "val_accuracy": {"epoch": best_acc["epoch"], "value": best_acc["val_accuracy"]},
            },
            "explain": self.evaluation.to_dict(),
            "history_analysis": self.history.to_dict(),
            "compare": self.comparison.to_dict(),
            "epochs_compared": {"early": self.early, "late": self.late},
            "files": {name: str(path) for name, path in self.files.items()},
        }

    def plot_data(
        self, *, seed: int = 0
    ) -> tuple[ExplainCurves, dict[tuple[str, str], FlipPoints]]:
        """The report's plot series: the last epoch's curves and the first pair's flips."""
        late = self.predictions[epoch_name(self.late)]
        curves = evaluation_curves(self.evaluation, late, seed=seed)
        flips = comparison_flips(self.comparison, self.predictions, seed=seed, limit=1)
        return curves, flips


def epoch_name(epoch: int) -> str:
    """A compared epoch's model name."""
    return f"epoch {epoch}"


def run_demo(
    *,
    epochs: int = EPOCHS,
    seed: int = 0,
    out: str | Path = "lossgap-demo",
    on_step: OnStep | None = None,
) -> DemoStory:
    """Train the demo network, then run history, explain and compare as a user would.

    Parameters
    ----------
    epochs : int, default=150
    seed : int, default=0
    out : str or Path, default="lossgap-demo"
        Folder for the training log and the saved predictions (created).
    on_step : callable, optional
        ``on_step(stage, done, total)`` after each step of each stage (``"train"``,
        ``"history"``, ``"explain"``, ``"compare"``).

    Returns
    -------
    DemoStory

    Examples
    --------
    >>> import tempfile
    >>> story = run_demo(epochs=12, out=tempfile.mkdtemp())
    >>> story.late, sorted(story.files)
    (11, ['log', 'predictions'])
    >>> story.comparison.models[0].name.startswith("epoch")
    True
    """

    def step(stage: str, done: int, total: int) -> None:
        if on_step is not None:
            on_step(stage, done, total)

    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    run = train_demo_model(epochs, seed=seed, on_epoch=lambda e: step("train", e + 1, epochs))
    log = write_training_log(run, folder / "training.log")
    keep = saved_epochs(run)
    predictions = write_epoch_predictions(run, folder / "predictions", keep)
    history = analyse_history(
        log,
        predictions=predictions,
        n_val=len(run.val_labels),
        on_file=lambda done, total: step("history", done, total),
    )
    late = len(run.history) - 1
    evaluation = explain(run.val_labels, run.val_prob[late], classes=CLASSES, ids=run.val_ids,
                         seed=seed)
    step("explain", 1, 1)
    early = int(run.best("val_loss")["epoch"])
    if early == late:  # too few epochs to overfit: compare the first epoch instead
        early = 0
    probs = {epoch_name(early): run.val_prob[early], epoch_name(late): run.val_prob[late]}
    comparison = compare(probs, run.val_labels, classes=CLASSES, ids=run.val_ids, seed=seed)
    step("compare", 1, 1)
    samples = {
        name: Predictions(run.val_labels, p, classes=CLASSES, ids=run.val_ids)
        for name, p in probs.items()
    }
    return DemoStory(
        run=run,
        history=history,
        evaluation=evaluation,
        comparison=comparison,
        early=early,
        late=late,
        files={"log": log, "predictions": predictions},
        predictions=samples,
    )

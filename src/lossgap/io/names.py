"""Metric names: one vocabulary for every logger, the original names kept.

Keras writes ``val_acc`` or ``val_accuracy``, Lightning ``val_loss_epoch``, Hugging Face
``eval_accuracy``, TensorBoard ``Loss/val`` or ``epoch_loss`` under a ``validation``
directory. :func:`normalise_name` maps each to a canonical name in Keras's style:
the training split has no prefix (``loss``, ``accuracy``), the validation split is
``val_*`` and the test split ``test_*``.
"""

from __future__ import annotations

import re

from lossgap.results.history import MetricName

#: Words that name a data split, and the split each one means.
SPLITS = {
    "train": "train",
    "training": "train",
    "val": "val",
    "valid": "val",
    "validation": "val",
    "eval": "val",
    "evaluation": "val",
    "dev": "val",
    "test": "test",
}

#: Metric spellings and the canonical metric each one means.
ALIASES = {
    "acc": "accuracy",
    "accuracy": "accuracy",
    "categorical_accuracy": "accuracy",
    "sparse_categorical_accuracy": "accuracy",
    "binary_accuracy": "accuracy",
    "loss": "loss",
    "cross_entropy": "loss",
    "crossentropy": "loss",
    "xent": "loss",
    "nll": "loss",
    "nll_loss": "loss",
    "ce": "loss",
    "ce_loss": "loss",
    "log_loss": "loss",
    "logloss": "loss",
    "f1": "f1",
    "f1_score": "f1",
    "fscore": "f1",
    "f_score": "f1",
    "f1_macro": "f1_macro",
    "macro_f1": "f1_macro",
    "auc": "auc",
    "roc_auc": "auc",
    "auroc": "auc",
    "lr": "learning_rate",
}

#: Columns that number the points rather than measure them.
AXIS_NAMES = frozenset({"epoch", "epochs", "step", "global_step", "iteration", "iter", "wall_time"})

#: Logging levels: Lightning's ``_step``/``_epoch`` suffixes, Keras TensorBoard's
#: ``epoch_``/``batch_`` prefixes.
_LEVEL_SUFFIXES = {"epoch": "epoch", "step": "step"}
_LEVEL_PREFIXES = {"epoch": "epoch", "batch": "step"}

def split_words(name: str) -> list[str]:
    """The lower-case words of a name split at ``/ _ - . :`` and spaces."""
    return [t for t in re.split(r"[/_\-\s.:]+", name.lower()) if t]


def normalise_name(name: str, *, split: str | None = None) -> MetricName:
    """Map a logged metric name to its canonical name.

    Parameters
    ----------
    name : str
        The name as logged.
    split : str, optional
        The split when the name cannot say it (a TensorBoard ``validation`` directory).

    Returns
    -------
    MetricName

    Examples
    --------
    >>> [normalise_name(n).canonical for n in ("acc", "val_acc", "eval_accuracy", "valid_acc")]
    ['accuracy', 'val_accuracy', 'val_accuracy', 'val_accuracy']
    >>> [normalise_name(n).canonical for n in ("Loss/val", "train_loss_epoch", "val/F1_score")]
    ['val_loss', 'loss', 'val_f1']
    >>> normalise_name("epoch_loss", split="validation").canonical
    'val_loss'
    >>> normalise_name("validation/epoch_accuracy").canonical
    'val_accuracy'
    >>> normalise_name("train_loss_step").level, normalise_name("lr-AdamW").canonical
    ('step', 'lr_adamw')
    """
    found = SPLITS.get(split.lower()) if split else None
    words: list[str] = []
    for token in split_words(name):
        if token in SPLITS and found is None:
            found = SPLITS[token]
        elif token not in SPLITS and (not words or words[-1] != token):
            words.append(token)  # "Loss_val/Loss" (add_scalars) names the metric twice
    if not words:  # a bare split word ("val") measures nothing by itself
        words = split_words(name)
    level = None
    if len(words) > 1 and words[-1] in _LEVEL_SUFFIXES:
        level = _LEVEL_SUFFIXES[words.pop()]
    elif len(words) > 1 and words[0] in _LEVEL_PREFIXES:
        level = _LEVEL_PREFIXES[words.pop(0)]
    joined = "_".join(words)
    metric = ALIASES.get(joined)
    if metric is None:
        last = ALIASES.get(words[-1])
        metric = "_".join([*words[:-1], last]) if last and last != "learning_rate" else joined
    split_name = found or "train"
    canonical = metric if split_name == "train" else f"{split_name}_{metric}"
    return MetricName(name, canonical, split_name, metric, level)

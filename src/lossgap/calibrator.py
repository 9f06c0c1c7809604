"""A recalibration map you can ship: fitted by ``explain``, saved as JSON, applied anywhere.

The map is the one the recalibration section scored on held-out folds (temperature,
Platt or isotonic), refitted on every sample given by :func:`lossgap.core.recalibrate.fit_map`
and stored exactly as it is applied, clipping included. The JSON file holds the method,
its parameters, the task, the classes, the held-out log loss the folds measured (with the
interval where the log loss on a new sample of the same size should fall) and the lossgap
version that wrote it (``docs/decisions.md``).

Examples
--------
>>> import numpy as np, lossgap
>>> rng = np.random.default_rng(0)
>>> p = rng.random(500)
>>> y = (rng.random(500) < p**2).astype(int)
>>> cal = lossgap.Calibrator.fit(y, p, method="platt")
>>> cal.method, cal.task, cal.transform([0.2, 0.9]).round(3).tolist()
('platt', 'binary', [0.054, 0.831])
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.special import expit, log_softmax, softmax

from lossgap.core.predictions import Predictions
from lossgap.core.recalibrate import BINARY_METHODS, CLIP, MULTICLASS_METHODS, fit_map, logits_of
from lossgap.core.tally import Tally
from lossgap.errors import InputError
from lossgap.results.evaluation import Evaluation

#: Version of the calibrator file layout; a reader refuses a newer one.
FORMAT_VERSION = 1


@dataclass(frozen=True)
class Calibrator:
    """A fitted recalibration map.

    Attributes
    ----------
    method : str
        ``"temperature"``, ``"intercept"`` and ``"platt"`` (binary), or ``"isotonic"``.
    task : str
        ``"binary"`` or ``"multiclass"``.
    classes : list
        Class labels in column order (binary: the second is the positive class).
    parameters : dict
        See :func:`lossgap.core.recalibrate.fit_map`.
    held_out : dict
        ``log_loss_before``, ``log_loss`` (held-out, cross-fitted), ``interval`` (where
        the log loss on a new sample of the same size should fall), ``confidence``,
        ``scheme`` and ``n``; empty when the map was not scored.
    columns : list of str
        The probability (or logit) columns it was fitted on, when read from a file.
    from_logits : bool
        Those columns held logits.
    lossgap_version : str
    """

    method: str
    task: str
    classes: list[Any]
    parameters: dict[str, Any]
    held_out: dict[str, Any] = field(default_factory=dict)
    columns: list[str] = field(default_factory=list)
    from_logits: bool = False
    lossgap_version: str = ""

    @classmethod
    def fit(
        cls,
        y_true: npt.ArrayLike,
        y_prob: npt.ArrayLike,
        *,
        method: str | None = None,
        from_logits: bool = False,
        sample_weight: npt.ArrayLike | None = None,
        classes: Sequence[Any] | None = None,
        positive: Any = None,
        seed: int = 0,
    ) -> Calibrator:
        """Evaluate the predictions and fit ``method`` (default: the best held-out map).

        Parameters are those of :func:`lossgap.explain`.
        """
        from lossgap.explanation import evaluate_predictions

        pred = Predictions(
            y_true,
            y_prob,
            from_logits=from_logits,
            sample_weight=sample_weight,
            classes=classes,
            positive=positive,
        )
        ev = evaluate_predictions(pred, seed=seed)
        return cls.from_evaluation(ev, Tally.from_predictions(pred), pred, method=method)

    @classmethod
    def from_evaluation(
        cls,
        ev: Evaluation,
        tally: Tally,
        pred: Predictions | None = None,
        *,
        method: str | None = None,
        columns: Sequence[str] = (),
    ) -> Calibrator:
        """The map ``method`` (default: the recalibration section's best) on all samples.

        Raises
        ------
        lossgap.InputError
            An unknown method, Platt for multiclass, multiclass without the samples, or
            too few samples to score the maps.
        """
        from lossgap.version import __version__

        allowed = BINARY_METHODS if tally.task == "binary" else MULTICLASS_METHODS
        rec = ev.recalibration
        chosen = method or (None if rec is None else rec.best)
        if chosen is None:
            msg = f"no calibrator to save: {'no recalibration' if rec is None else rec.description}"
            raise InputError(msg)
        if chosen not in allowed:
            msg = (
                f"calibrator {chosen!r} is not available for {tally.task} predictions: "
                f"use one of {', '.join(allowed)}"
            )
            raise InputError(msg)
        if tally.task != "binary" and pred is None:
            msg = "a multiclass calibrator needs the samples in memory: use --engine memory"
            raise InputError(msg)
        scored = ev.recalibration_map(chosen)
        held_out = (
            {
                "log_loss_before": scored.log_loss_before,
                "log_loss": scored.log_loss_after,
                "interval": scored.log_loss_after_interval,
                "confidence": ev.confidence,
                "scheme": None if rec is None else rec.scheme,
                "n": tally.count,
            }
            if scored is not None
            else {}
        )
        return cls(
            method=chosen,
            task=tally.task,
            classes=list(tally.classes),
            parameters=fit_map(chosen, tally, pred),
            held_out=held_out,
            columns=list(columns),
            from_logits=pred is not None and pred.logits is not None,
            lossgap_version=__version__,
        )

    def transform(self, y_prob: npt.ArrayLike, *, from_logits: bool = False) -> np.ndarray:
        """Recalibrated probabilities, in the same shape and column order.

        Parameters
        ----------
        y_prob : array-like of shape (n,) or (n, k)
            Binary: the probability of the positive class (or a two-column matrix);
            multiclass: one column per class. Logits with ``from_logits=True``.

        Returns
        -------
        ndarray of float64
            Binary ``(n,)`` (or ``(n, 2)`` for two-column input), multiclass ``(n, k)``.

        Raises
        ------
        lossgap.InputError
            A shape that does not fit the task or classes, or values outside [0, 1].
        """
        x = np.asarray(y_prob, dtype=np.float64)
        k = len(self.classes)
        if not np.isfinite(x).all():
            row = int(np.argwhere(~np.isfinite(x))[0][0])
            msg = f"row {row} of the predictions is not finite: drop or fix it"
            raise InputError(msg)
        two = self.task == "binary" and x.ndim == 2 and x.shape[1] == 2
        if self.task == "binary" and not (x.ndim == 1 or two):
            msg = (
                f"this calibrator is for a binary task (classes {self.classes}); the predictions "
                f"have shape {x.shape}: pass the positive class's probability"
            )
            raise InputError(msg)
        if self.task == "multiclass" and (x.ndim != 2 or x.shape[1] != k):
            msg = (
                f"this calibrator is for {k} classes ({self.classes}); the predictions have "
                f"shape {x.shape}: pass one column per class in that order"
            )
            raise InputError(msg)
        if not from_logits and ((x < 0).any() or (x > 1).any()):
            row = int(np.argwhere((x < 0) | (x > 1))[0][0])
            msg = f"row {row} holds a probability outside [0, 1]: pass logits with from_logits=True"
            raise InputError(msg)
        if self.task == "binary":
            if two:
                x = x[:, 1] - x[:, 0] if from_logits else x[:, 1]
            out = self._binary(x, from_logits)
            return np.column_stack([1.0 - out, out]) if two else out
        return self._multiclass(x, from_logits)

    def _binary(self, x: np.ndarray, from_logits: bool) -> np.ndarray:
        if self.method == "isotonic":
            prob = expit(x) if from_logits else x
            return _isotonic(self.parameters["columns"][0], prob)
        # the folds apply the map to logits_of(p): clip logits to the same range
        bound = float(logits_of(np.array([1.0]))[0])
        z = np.clip(x, -bound, bound) if from_logits else logits_of(x)
        if self.method in ("platt", "intercept"):
            eta = self.parameters["intercept"] + self.parameters["slope"] * z
        else:
            eta = z / self.parameters["temperature"]
        return np.clip(expit(eta), CLIP, 1.0 - CLIP)

    def _multiclass(self, x: np.ndarray, from_logits: bool) -> np.ndarray:
        if self.method == "temperature":
            log_prob = log_softmax(x, axis=1) if from_logits else np.log(np.clip(x, CLIP, 1.0))
            return softmax(log_prob / self.parameters["temperature"], axis=1)
        prob = softmax(x, axis=1) if from_logits else x
        mapped = np.column_stack(
            [_isotonic(col, prob[:, c]) for c, col in enumerate(self.parameters["columns"])]
        )
        return mapped / mapped.sum(axis=1, keepdims=True)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object saved to a file."""
        return {
            "format_version": FORMAT_VERSION,
            "lossgap_version": self.lossgap_version,
            "method": self.method,
            "task": self.task,
            "classes": list(self.classes),
            "columns": list(self.columns),
            "from_logits": self.from_logits,
            "parameters": self.parameters,
            "applied_as": _APPLIED_AS[self.method],
            "held_out": self.held_out,
        }

    def save(self, path: str | Path) -> Path:
        """Write the JSON file atomically (a temporary file renamed into place)."""
        return write_atomic(Path(path), json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> Calibrator:
        """Read a calibrator file, refusing one that is not a calibrator with one line."""
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            msg = f"cannot read calibrator {str(path)!r}: {exc.strerror}"
            raise InputError(msg) from exc
        except ValueError as exc:
            msg = f"{str(path)!r} is not a calibrator file (not JSON: {exc})"
            raise InputError(msg) from exc
        required = ("format_version", "method", "task", "classes", "parameters")
        if not isinstance(data, dict) or any(key not in data for key in required):
            msg = f"{str(path)!r} is not a calibrator file: it lacks {', '.join(required)}"
            raise InputError(msg)
        if data["format_version"] > FORMAT_VERSION:
            msg = (
                f"{str(path)!r} was written by lossgap {data.get('lossgap_version')} in format "
                f"{data['format_version']}; this lossgap reads up to {FORMAT_VERSION}: upgrade"
            )
            raise InputError(msg)
        return cls(
            method=data["method"],
            task=data["task"],
            classes=list(data["classes"]),
            parameters=data["parameters"],
            held_out=data.get("held_out") or {},
            columns=list(data.get("columns") or []),
            from_logits=bool(data.get("from_logits", False)),
            lossgap_version=data.get("lossgap_version", ""),
        )


_APPLIED_AS = {
    "temperature": (
        "binary: sigmoid(z / temperature) with z = log(p / (1 - p)), p clipped to "
        "[1e-15, 1 - 1e-15], output clipped to [1e-15, 1 - 1e-15]; multiclass: "
        "softmax(log(max(p, 1e-15)) / temperature) (or of the log-softmax of logits)"
    ),
    "intercept": (
        "sigmoid(intercept + z) with z = log(p / (1 - p)), p clipped to "
        "[1e-15, 1 - 1e-15], output clipped to [1e-15, 1 - 1e-15] (slope is 1)"
    ),
    "platt": (
        "sigmoid(intercept + slope * z) with z = log(p / (1 - p)), p clipped to "
        "[1e-15, 1 - 1e-15], output clipped to [1e-15, 1 - 1e-15]"
    ),
    "isotonic": (
        "per class column: linear interpolation between knots, constant beyond the first "
        "and last, clipped to [clip, 1 - clip]; multiclass rows then divided by their sum"
    ),
}


def _isotonic(column: dict[str, Any], prob: np.ndarray) -> np.ndarray:
    mapped = np.interp(prob, column["knots"], column["values"])
    return np.clip(mapped, column["clip"], 1.0 - column["clip"])


def write_atomic(path: Path, text: str | None = None, *, write: Any = None) -> Path:
    """Write ``text`` (or call ``write(tmp_path)``) to a temporary file beside ``path``,
    then rename it into place: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        if text is not None:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
        else:
            os.close(fd)
            write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path

"""Results of the history analysis: plain data with ``to_dict()``.

:class:`RunAnalysis` holds one run's facts (best epochs, smoothed curves, where the
curves part ways, noise levels) and its findings; :class:`HistoryReport` holds every run
and the per-epoch evaluation of saved predictions. Renderers (terminal, HTML, plots)
read these objects and compute nothing; ``to_dict()`` is the JSON contract of
``lossgap history --json`` (``docs/json.md``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from lossgap.results.display import Displayable
from lossgap.results.evaluation import Finding, json_safe

#: Scores where higher is better (the last word of the metric decides).
HIGHER_IS_BETTER = frozenset(
    {"accuracy", "f1", "f1_macro", "auc", "precision", "recall", "iou", "dice", "map", "mcc"}
)
#: Scores bounded by [0, 1] when computed correctly.
UNIT_INTERVAL = HIGHER_IS_BETTER - {"mcc"}


@dataclass(frozen=True)
class MetricName:
    """A logged column name and what it means.

    Attributes
    ----------
    original : str
        The name as the log spells it.
    canonical : str
        ``metric`` for the training split, ``val_metric`` / ``test_metric`` otherwise.
    split : str
        ``"train"``, ``"val"`` or ``"test"`` (no split word means training, as in Keras).
    metric : str
        The canonical metric (``loss``, ``accuracy``, ``f1``...), or the name's own words.
    level : str or None
        ``"step"`` or ``"epoch"`` when the name says how often it was logged.
    """

    original: str
    canonical: str
    split: str
    metric: str
    level: str | None

    @property
    def direction(self) -> str | None:
        """``"min"`` for losses and errors, ``"max"`` for scores, None for anything else."""
        last = self.metric.rsplit("_", 1)[-1]
        if last in ("loss", "error") or self.metric in ("mse", "mae", "rmse", "perplexity"):
            return "min"
        if self.metric in HIGHER_IS_BETTER or last in HIGHER_IS_BETTER:
            return "max"
        return None

    @property
    def unit_interval(self) -> bool:
        """True for scores that a correct computation keeps within [0, 1]."""
        return self.metric in UNIT_INTERVAL or self.metric.rsplit("_", 1)[-1] in UNIT_INTERVAL


#: ``n_val_source`` of a validation-set size inferred from the accuracies' granularity.
INFERRED_N = "accuracy values are multiples of 1/n"


@dataclass
class Metric:
    """One metric at each point of a run.

    Attributes
    ----------
    name : MetricName
        Original and canonical names.
    values : ndarray of float64
        NaN where the point has no value (or the logged value was NaN).
    count : ndarray of int
        How many logged values went into each point (0: none).
    aggregation : str
        ``"value"``, ``"last"`` or ``"mean"``.
    scale : float
        The factor applied to the logged values (0.01 for percentages, else 1).
    """

    name: MetricName
    values: np.ndarray
    count: np.ndarray
    aggregation: str
    scale: float = 1.0

    @property
    def missing(self) -> np.ndarray:
        return self.count == 0

    @property
    def nonfinite(self) -> np.ndarray:
        """Points where a value was logged but is NaN or infinite."""
        return (self.count > 0) & ~np.isfinite(self.values)


@dataclass
class Run:
    """One run's validation points and metrics.

    Attributes
    ----------
    name, source, format : str
    axis : str
        ``"epoch"`` when every point has an epoch number, else ``"step"``.
    epoch : ndarray of float64
        The epoch of each point as the log numbers it (NaN where unknown).
    step : ndarray of float64 or None
        The step of each point, where the log has steps.
    metrics : dict of str to Metric
        Keyed by canonical name.
    loss, score, train_loss, train_score : str or None
        Canonical names of the validation loss and decision score analysed, and their
        training counterparts.
    notes : list of str
    events : list of dict
        Reading problems for the findings.
    meta : dict
    """

    name: str
    source: str
    format: str
    axis: str
    epoch: np.ndarray
    step: np.ndarray | None
    metrics: dict[str, Metric]
    loss: str
    score: str | None
    train_loss: str | None
    train_score: str | None
    notes: list[str] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def n_points(self) -> int:
        return len(self.epoch)

    def values(self, key: str | None) -> np.ndarray | None:
        """The values of metric ``key`` (None when the run lacks it)."""
        return None if key is None or key not in self.metrics else self.metrics[key].values

    def label(self, i: int) -> float | int | None:
        """How the log numbers point ``i``: its epoch, else its step."""
        return label_of(self.epoch[i] if self.axis == "epoch" else _step_at(self.step, i))

    def step_of(self, i: int) -> float | int | None:
        return label_of(_step_at(self.step, i))

    def columns(self) -> dict[str, str]:
        """Canonical name to the name as logged."""
        return {key: metric.name.original for key, metric in self.metrics.items()}


def _step_at(step: np.ndarray | None, i: int) -> float:
    return float("nan") if step is None else float(step[i])


def label_of(value: float) -> float | int | None:
    """An epoch or step number as the log wrote it: int when whole, None when unknown.

    Examples
    --------
    >>> label_of(3.0), label_of(2.84), label_of(float("nan"))
    (3, 2.84, None)
    """
    if not np.isfinite(value):
        return None
    return int(value) if float(value).is_integer() else float(value)


@dataclass
class RunAnalysis:
    """One run: what was read and what the analysis found.

    Attributes
    ----------
    run : Run
        The merged points.
    best : dict
        Per validation metric: ``{"epoch", "step", "value", "index"}`` at its best point.
    curves : dict
        ``{"x", "epoch", "step", "window", METRIC: {"raw", "smoothed"}}`` over the points
        analysed (finite validation loss), for plots.
    divergence, overfitting : dict or None
        Where validation loss and the decision score part ways, and where the
        train/validation gap starts growing (see ``docs/history.md``).
    disagreement : dict or None
        The loss-best and score-best logged points when they differ, with the score
        gain, the loss cost and whether the gain is within sampling noise.
    noise : dict
        Per analysed metric: ``{"noise_sd", "smoothed_range", "noise_ratio", "spikes"}``.
    n_val : int or None
        Validation-set size used for sampling noise, and ``n_val_source`` where it came from.
    advice : dict
        The epoch to keep for each goal (``probabilities``, ``decisions``, ``recalibrate``).
    findings : list of Finding
    """

    run: Run
    best: dict[str, dict[str, Any]]
    curves: dict[str, Any]
    divergence: dict[str, Any] | None
    overfitting: dict[str, Any] | None
    disagreement: dict[str, Any] | None
    noise: dict[str, dict[str, Any]]
    n_val: int | None
    n_val_source: str | None
    advice: dict[str, Any]
    findings: list[Finding] = field(default_factory=list)

    def epochs(self) -> list[dict[str, Any]]:
        """One row per point: ``run``, ``epoch``, ``step`` and every metric (canonical names)."""
        run = self.run
        rows = []
        for i in range(run.n_points):
            row: dict[str, Any] = {
                "run": run.name,
                "epoch": label_of(run.epoch[i]),
                "step": run.step_of(i),
            }
            for key, metric in run.metrics.items():
                row[key] = None if metric.count[i] == 0 else float(metric.values[i])
            rows.append(row)
        return rows

    def to_dict(self) -> dict[str, Any]:
        """The run's object in the JSON contract."""
        run = self.run
        out = {
            "name": run.name,
            "source": run.source,
            "format": run.format,
            "axis": run.axis,
            "points": run.n_points,
            "columns": run.columns(),
            "aggregation": {k: m.aggregation for k, m in run.metrics.items()},
            "analysed": {
                "loss": run.loss,
                "score": run.score,
                "train_loss": run.train_loss,
                "train_score": run.train_score,
            },
            "n_val": self.n_val,
            "n_val_source": self.n_val_source,
            "best": self.best,
            "curves": self.curves,
            "divergence": self.divergence,
            "overfitting": self.overfitting,
            "disagreement": self.disagreement,
            "noise": self.noise,
            "advice": self.advice,
            "findings": [finding_dict(f) for f in self.findings],
            "notes": run.notes,
            "meta": run.meta,
            "epochs": self.epochs(),
        }
        return json_safe(out)


def finding_dict(finding: Finding) -> dict[str, Any]:
    """A finding as plain data."""
    return json_safe(asdict(finding))


@dataclass(repr=False)
class HistoryReport(Displayable):
    """Every run read from a path, and the per-epoch evaluation of saved predictions.

    Attributes
    ----------
    source : str
        The path given.
    runs : list of RunAnalysis
    per_epoch : list of dict
        One entry per prediction file: ``{"epoch", "file", "n", "accuracy", "log_loss",
        "confident_errors", "decomposition"}``; empty without ``predictions=``.
    findings : list of Finding
        Findings about the per-epoch predictions (each run's own are in the run).
    skipped : list of dict
        Files of a directory that held no readable log: ``{"path", "reason"}``.
    notes : list of str
    """

    source: str
    runs: list[RunAnalysis]
    per_epoch: list[dict[str, Any]] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def all_findings(self) -> list[tuple[str | None, Finding]]:
        """(run name or None, finding) for every finding, runs in order, then the report's."""
        pairs: list[tuple[str | None, Finding]] = [
            (r.run.name, f) for r in self.runs for f in r.findings
        ]
        return pairs + [(None, f) for f in self.findings]

    def best(self) -> dict[str, dict[str, Any]]:
        """Per metric, the best point over every run, with its run's name."""
        out: dict[str, dict[str, Any]] = {}
        for analysis in self.runs:
            for key, entry in analysis.best.items():
                current = out.get(key)
                better = current is None or (
                    entry["value"] < current["value"]
                    if entry["direction"] == "min"
                    else entry["value"] > current["value"]
                )
                if better:
                    out[key] = {"run": analysis.run.name, **entry}
        return out

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract of ``lossgap history --json`` (``docs/json.md``).

        Examples
        --------
        >>> import tempfile, pathlib
        >>> from lossgap.history import analyse_history
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "log.csv"
        >>> rows = [f"{e},{0.5 - e / 50},{0.6 + (e - 4) ** 2 / 100},{0.7 + e / 100}"
        ...         for e in range(10)]
        >>> _ = path.write_text("epoch,loss,val_loss,val_accuracy\\n" + "\\n".join(rows) + "\\n")
        >>> d = analyse_history(path).to_dict()
        >>> [key in d for key in ("runs", "epochs", "best", "findings", "per_epoch")]
        [True, True, True, True, True]
        >>> d["best"]["val_loss"]["epoch"], d["best"]["val_accuracy"]["epoch"]
        (4, 9)
        """
        findings = []
        for run, finding in self.all_findings():
            entry = finding_dict(finding)
            entry["run"] = run
            findings.append(entry)
        out = {
            "source": self.source,
            "runs": [r.to_dict() for r in self.runs],
            "epochs": [row for r in self.runs for row in r.epochs()],
            "best": self.best(),
            "findings": findings,
            "per_epoch": self.per_epoch,
            "skipped": self.skipped,
            "notes": self.notes,
        }
        return json_safe(out)

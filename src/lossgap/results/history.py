"""Results of the history analysis: plain data with ``to_dict()``.

:class:`RunAnalysis` holds one run's facts (best epochs, smoothed curves, where the
curves part ways, noise levels) and its findings; :class:`HistoryReport` holds every run
and the per-epoch evaluation of saved predictions. Renderers (terminal, HTML, plots)
read these objects and compute nothing; ``to_dict()`` is the JSON contract of
``lossgap history --json`` (``docs/json.md``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
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


def labels_of(values: np.ndarray) -> list[float | int | None]:
    """:func:`label_of` of every value, as a list (one pass, no call per value).

    Examples
    --------
    >>> labels_of(np.array([3.0, 2.84, np.nan]))
    [3, 2.84, None]
    """
    values = np.asarray(values, dtype=np.float64)
    whole = np.isfinite(values) & (values == np.round(values))
    out: list[float | int | None] = values.tolist()
    for i in np.flatnonzero(whole):
        out[i] = int(values[i])
    for i in np.flatnonzero(~np.isfinite(values)):
        out[i] = None
    return out


@dataclass(frozen=True)
class BestPoint:
    """The best logged point of one metric.

    Attributes
    ----------
    epoch, step : int, float or None
        How the log numbers the point (:func:`label_of`).
    value : float
        The metric's logged value there.
    index : int
        The point's position in the run.
    direction : {"min", "max"}
        Lower or higher is better.
    name : str
        The metric as the log spells it.
    run : str or None
        The run's name, in :meth:`HistoryReport.best` (over every run); None within a run.
    """

    epoch: float | int | None
    step: float | int | None
    value: float
    index: int
    direction: str
    name: str
    run: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {} if self.run is None else {"run": self.run}
        out.update(
            epoch=self.epoch,
            step=self.step,
            value=self.value,
            index=self.index,
            direction=self.direction,
            name=self.name,
        )
        return out


@dataclass(frozen=True)
class Curve:
    """One metric over the analysed points: as logged and smoothed (NaN where missing)."""

    raw: np.ndarray
    smoothed: np.ndarray

    def to_dict(self) -> dict[str, Any]:
        return {"raw": self.raw.tolist(), "smoothed": self.smoothed.tolist()}


@dataclass(frozen=True)
class Curves:
    """The analysed curves, for plots and for the analysis.

    Attributes
    ----------
    x : ndarray of float64
        Trend positions: the logged epochs (or steps), else the point order.
    epoch, step : ndarray of float64
        Each point's label as the run numbers it (its epoch, else its step) and its step
        (NaN where unknown).
    window : int
        The smoothing window.
    metrics : dict of str to Curve
        The validation loss and score and their training counterparts, by canonical name.
    """

    x: np.ndarray
    epoch: np.ndarray
    step: np.ndarray
    window: int
    metrics: dict[str, Curve]

    def position(self, label: float | int | None) -> float | None:
        """The plotted position of the point labelled ``label`` (None when not analysed)."""
        if label is None:
            return None
        where = np.flatnonzero(self.epoch == label)
        return float(self.x[where[0]]) if where.size else None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "x": self.x.tolist(),
            "epoch": labels_of(self.epoch),
            "step": labels_of(self.step),
            "window": self.window,
        }
        out.update({key: curve.to_dict() for key, curve in self.metrics.items()})
        return out


@dataclass(frozen=True)
class TrendTest:
    """A Mann-Kendall trend test as reported: tau, p-value, Theil-Sen slope, direction.

    ``trend`` is ``"rising"``, ``"falling"`` or ``"flat"``.
    """

    tau: float
    p_value: float
    slope: float
    trend: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class PairedTest:
    """The paired test of an accuracy change between two epochs' saved predictions: the
    same statistics as ``lossgap compare`` on those two epochs (McNemar's exact test and
    Newcombe's interval, :func:`lossgap.core.paired.paired_proportion_difference`).

    Attributes
    ----------
    epoch_from, epoch_to : int, float or None
        The two epochs; the difference is ``accuracy(to) - accuracy(from)``.
    n : int
        Samples scored at both.
    from_only_correct, to_only_correct : int
        Samples right at one epoch only (the discordant pairs).
    difference, ci_low, ci_high : float
    p_value : float
        McNemar's exact two-sided p-value.
    significant : bool
        ``p_value < 0.05``, as ``compare`` calls a difference real.
    """

    epoch_from: float | int | None
    epoch_to: float | int | None
    n: int
    from_only_correct: int
    to_only_correct: int
    difference: float
    ci_low: float
    ci_high: float
    p_value: float
    significant: bool
    test: str = "McNemar exact (paired), Newcombe interval"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class NoiseCheck:
    """Whether an accuracy change between two epochs is beyond sampling noise.

    Attributes
    ----------
    change_se : float or None
        The unpaired two-proportion standard error (None without a validation size).
    within_noise : bool or None
        True within noise, False beyond it, None undetermined or unknown.
    noise_verdict : str or None
        ``"beyond"``, ``"within"``, ``"undetermined"``, ``"n unknown"``; None when the
        score is no accuracy (no check made).
    change_se_smallest, z_beyond, searched
        The paired standard error at the fewest changed samples, the Bonferroni-widened
        z of "beyond" and how many points the better value was picked from; None unless
        the validation size is known.
    paired : PairedTest or None
        The paired test on the two epochs' saved predictions, when both were saved: it
        then decides ``within_noise`` and ``noise_verdict`` (``"beyond"`` or ``"within"``).
    """

    change_se: float | None = None
    within_noise: bool | None = None
    noise_verdict: str | None = None
    change_se_smallest: float | None = None
    z_beyond: float | None = None
    searched: int | None = None
    paired: PairedTest | None = None

    def to_dict(self) -> dict[str, Any]:
        """The keys the check made: none of the sized ones without a size."""
        out: dict[str, Any] = {"change_se": self.change_se}
        if self.z_beyond is not None:
            out.update(
                change_se_smallest=self.change_se_smallest,
                z_beyond=self.z_beyond,
                searched=self.searched,
            )
        out["within_noise"] = self.within_noise
        if self.noise_verdict is not None:
            out["noise_verdict"] = self.noise_verdict
        if self.paired is not None:
            out["paired"] = self.paired.to_dict()
        return out


@dataclass(frozen=True)
class Divergence:
    """Where the validation loss and the decision score part ways.

    ``direction`` is ``"loss_rises"`` (the loss rises from its smoothed minimum while the
    score does not fall) or ``"accuracy_falls"`` (the mirror case). Values ``*_start`` /
    ``*_end`` are smoothed; ``noise`` judges the score's change against sampling noise.
    """

    direction: str
    start_index: int
    start_epoch: float | int | None
    start_step: float | int | None
    end_epoch: float | int | None
    points_after: int
    loss_metric: str
    score_metric: str
    loss_start: float
    loss_end: float
    loss_change: float
    loss_trend: TrendTest
    score_start: float
    score_end: float
    score_change: float
    score_trend: TrendTest
    n_val: int | None
    noise: NoiseCheck

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "noise"}
        out.update(loss_trend=self.loss_trend.to_dict(), score_trend=self.score_trend.to_dict())
        out.update(self.noise.to_dict())
        return out


@dataclass(frozen=True)
class Overfitting:
    """The first point from which the train/validation gap grows while training loss falls
    (smoothed values at the onset and at the end, and the three trend tests)."""

    onset_index: int
    onset_epoch: float | int | None
    onset_step: float | int | None
    end_epoch: float | int | None
    gap_start: float
    gap_end: float
    train_loss_start: float
    train_loss_end: float
    val_loss_start: float
    val_loss_end: float
    gap_trend: TrendTest
    train_loss_trend: TrendTest
    val_loss_trend: TrendTest

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        for key in ("gap_trend", "train_loss_trend", "val_loss_trend"):
            out[key] = out[key].to_dict()
        return out


@dataclass(frozen=True)
class Disagreement:
    """The loss-best and score-best logged points when they differ, with what each costs:
    ``score_gain`` (score at the score-best minus at the loss-best) and ``loss_cost``."""

    loss_metric: str
    score_metric: str
    loss_best_epoch: float | int | None
    loss_best_step: float | int | None
    loss_best: float
    score_best_epoch: float | int | None
    score_best_step: float | int | None
    score_best: float
    score_at_loss_best: float
    loss_at_score_best: float
    score_gain: float
    loss_cost: float
    n_val: int | None
    noise: NoiseCheck

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "noise"}
        out.update(self.noise.to_dict())
        return out


@dataclass(frozen=True)
class Spike:
    """A one-point blow-up: its label, value and the two neighbours' values."""

    epoch: float | int | None
    step: float | int | None
    value: float
    neighbours: tuple[float, float]

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "neighbours": list(self.neighbours)}


@dataclass(frozen=True)
class NoiseLevel:
    """A curve's epoch-to-epoch noise (``noise_sd``) against its smoothed range, and its
    spikes. ``noise_ratio`` is inf for noise on a flat curve, 0 for a flat noiseless one."""

    noise_sd: float
    smoothed_range: float
    noise_ratio: float
    spikes: tuple[Spike, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "noise_sd": self.noise_sd,
            "smoothed_range": self.smoothed_range,
            "noise_ratio": self.noise_ratio,
            "spikes": [s.to_dict() for s in self.spikes],
        }


@dataclass(frozen=True)
class KeptEpoch:
    """The epoch to keep for one goal.

    Attributes
    ----------
    epoch, step : int, float or None
    metric : str
        The metric it is best by.
    value : float
        Its logged value there.
    basis : {"smoothed", "logged"}
        Whether it was chosen on the smoothed curve or on the logged values, and
    basis_value : float
        its value on that curve.
    gain : float or None
        Decisions: the score's gain over the probabilities epoch, with ``noise``.
    """

    epoch: float | int | None
    step: float | int | None
    metric: str
    value: float
    basis: str
    basis_value: float
    gain: float | None = None
    noise: NoiseCheck | None = None

    @property
    def within_noise(self) -> bool | None:
        return None if self.noise is None else self.noise.within_noise

    @property
    def change_se(self) -> float | None:
        return None if self.noise is None else self.noise.change_se

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "epoch": self.epoch,
            "step": self.step,
            "metric": self.metric,
            "value": self.value,
            self.basis: self.basis_value,
        }
        if self.noise is not None:
            out["gain"] = self.gain
            out.update(self.noise.to_dict())
        return out


@dataclass(frozen=True)
class Recalibration:
    """Temperature scaling of the decisions epoch, with its expected log loss when the
    epoch's predictions were saved (cross-fitted on them)."""

    epoch: float | int | None
    step: float | int | None
    method: str
    log_loss: float | None
    expected_log_loss: float | None
    source: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Advice:
    """The epoch to keep for each goal.

    Attributes
    ----------
    basis : {"smoothed", "logged"} or None
        The curves the epochs were chosen on (None: nothing to choose).
    probabilities, decisions : KeptEpoch or None
        The loss-best and the score-best epochs.
    recalibrate : Recalibration or None
        Temperature scaling of the decisions epoch.
    goal : str or None
        The user's goal the advice is fitted to.
    """

    basis: str | None = None
    probabilities: KeptEpoch | None = None
    decisions: KeptEpoch | None = None
    recalibrate: Recalibration | None = None
    goal: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.probabilities is not None:
            out.update(basis=self.basis, probabilities=self.probabilities.to_dict())
        if self.decisions is not None:
            out["decisions"] = self.decisions.to_dict()
        if self.recalibrate is not None:
            out["recalibrate"] = self.recalibrate.to_dict()
        out["goal"] = self.goal
        return out


@dataclass(frozen=True)
class ConfidentErrorCount:
    """An epoch's confident errors as the explanation engine counts them."""

    count: float | None
    share: float | None
    loss_share: float | None
    level: float | None


@dataclass(frozen=True)
class EpochDecomposition:
    """An epoch's log loss = miscalibration - discrimination + uncertainty (``score``)."""

    miscalibration: float
    discrimination: float
    uncertainty: float
    score: float
    target: str | None


@dataclass(frozen=True)
class TemperatureScaled:
    """An epoch's cross-fitted temperature scaling: log loss and accuracy after it."""

    log_loss_after: float | None
    temperature: float | None
    accuracy_after: float | None


@dataclass(frozen=True)
class EpochSummary:
    """One epoch's saved predictions, as the explanation engine evaluated them.

    ``decomposition``, ``confident_errors`` and ``temperature_scaled`` are None when the
    engine gives none.
    """

    epoch: float | int | None
    file: str
    n: int
    task: str
    accuracy: float
    log_loss: float
    confident_errors: ConfidentErrorCount | None
    decomposition: EpochDecomposition | None
    temperature_scaled: TemperatureScaled | None
    #: The labels and whether each sample's decision is right, for paired tests between
    #: epochs (not in the JSON).
    labels: np.ndarray | None = field(default=None, repr=False, compare=False)
    correct: np.ndarray | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(replace(self, labels=None, correct=None))
        del out["labels"], out["correct"]
        return out


@dataclass(frozen=True)
class LossComposition:
    """The validation loss against the most a calibrated model with the logged accuracy can
    have (Fano's bound, ``lossgap.core.bounds.calibrated_feasible``), epoch by epoch.

    Attributes
    ----------
    loss_metric, score_metric : str
        The validation loss and accuracy compared.
    classes_assumed : int
        The number of classes of the bound (a log does not say it; more classes allow a
        larger loss, so the largest plausible number is assumed).
    points : int
        Epochs with both values; ``above`` of them are out of a calibrated model's reach
        (beyond the accuracy's sampling noise where the validation size is known).
    epoch : int, float or None
        The last such epoch, with its ``loss``, ``accuracy`` and ``calibrated_max``.
    excess_min : float
        The smallest ``loss - calibrated_max`` over the epochs, in nats.
    """

    loss_metric: str
    score_metric: str
    classes_assumed: int
    points: int
    above: int
    epoch: float | int | None
    loss: float
    accuracy: float
    calibrated_max: float
    excess_min: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Collapse:
    """Epochs whose accuracy and macro-F1 are those of predicting one class for every sample.

    With ``K`` classes and a majority share ``A``, that gives accuracy ``A`` and macro-F1
    ``2A / (1 + A) / K`` (only the majority class has an F1, ``2A / (1 + A)``).

    Attributes
    ----------
    f1_metric, score_metric : str
    epochs : tuple
        The collapsed epochs as the log numbers them, and their ``indices`` in the run.
    accuracy, f1 : tuple of float
        The logged values there.
    classes : tuple of int
        The ``K`` each pair implies.
    """

    f1_metric: str
    score_metric: str
    epochs: tuple[float | int | None, ...]
    indices: tuple[int, ...]
    accuracy: tuple[float, ...]
    f1: tuple[float, ...]
    classes: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        return {key: list(value) if isinstance(value, tuple) else value
                for key, value in asdict(self).items()}


@dataclass
class RunAnalysis:
    """One run: what was read and what the analysis found.

    Attributes
    ----------
    run : Run
        The merged points.
    best : dict of str to BestPoint
        Per validation metric, its best logged point.
    curves : Curves
        Raw and smoothed analysed curves over the points analysed (finite validation
        loss), for plots.
    divergence : Divergence or None
        Where validation loss and the decision score part ways (``docs/history.md``).
    overfitting : Overfitting or None
        Where the train/validation gap starts growing.
    disagreement : Disagreement or None
        The loss-best and score-best logged points when they differ, with the score
        gain, the loss cost and whether the gain is within sampling noise.
    noise : dict of str to NoiseLevel
        Per analysed metric.
    n_val : int or None
        Validation-set size used for sampling noise, and ``n_val_source`` where it came from.
    advice : Advice
        The epoch to keep for each goal.
    loss_composition : LossComposition or None
        The loss against what its accuracy allows a calibrated model (score: accuracy).
    collapse : Collapse or None
        Epochs that predict one class only; the bests and the advice leave them out.
    findings : list of Finding
    """

    run: Run
    best: dict[str, BestPoint]
    curves: Curves
    divergence: Divergence | None
    overfitting: Overfitting | None
    disagreement: Disagreement | None
    noise: dict[str, NoiseLevel]
    n_val: int | None
    n_val_source: str | None
    advice: Advice
    loss_composition: LossComposition | None = None
    collapse: Collapse | None = None
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
            "best": {key: b.to_dict() for key, b in self.best.items()},
            "curves": self.curves.to_dict(),
            "divergence": None if self.divergence is None else self.divergence.to_dict(),
            "overfitting": None if self.overfitting is None else self.overfitting.to_dict(),
            "disagreement": None if self.disagreement is None else self.disagreement.to_dict(),
            "noise": {key: n.to_dict() for key, n in self.noise.items()},
            "advice": self.advice.to_dict(),
            "loss_composition": None
            if self.loss_composition is None
            else self.loss_composition.to_dict(),
            "collapse": None if self.collapse is None else self.collapse.to_dict(),
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
    per_epoch : list of EpochSummary
        One entry per prediction file; empty without ``predictions=``.
    findings : list of Finding
        Findings about the per-epoch predictions (each run's own are in the run).
    skipped : list of dict
        Files of a directory that held no readable log: ``{"path", "reason"}``.
    notes : list of str
    """

    source: str
    runs: list[RunAnalysis]
    per_epoch: list[EpochSummary] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def all_findings(self) -> list[tuple[str | None, Finding]]:
        """(run name or None, finding) for every finding, runs in order, then the report's."""
        pairs: list[tuple[str | None, Finding]] = [
            (r.run.name, f) for r in self.runs for f in r.findings
        ]
        return pairs + [(None, f) for f in self.findings]

    def best(self) -> dict[str, BestPoint]:
        """Per metric, the best point over every run, with its run's name."""
        out: dict[str, BestPoint] = {}
        for analysis in self.runs:
            for key, entry in analysis.best.items():
                current = out.get(key)
                better = current is None or (
                    entry.value < current.value
                    if entry.direction == "min"
                    else entry.value > current.value
                )
                if better:
                    out[key] = replace(entry, run=analysis.run.name)
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
            "best": {key: b.to_dict() for key, b in self.best().items()},
            "findings": findings,
            "per_epoch": [row.to_dict() for row in self.per_epoch],
            "skipped": self.skipped,
            "notes": self.notes,
        }
        return json_safe(out)

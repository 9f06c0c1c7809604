"""``explain``: predictions in, an :class:`~lossgap.results.evaluation.Evaluation` out.

The pipeline is the data flow of ``docs/architecture.md``: validate
(:class:`~lossgap.core.predictions.Predictions`), summarise (:class:`~lossgap.core.tally.Tally`),
compute the metrics from the Tally, then let the finding rules read the result.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from lossgap.core.binning import switch_read_once
from lossgap.core.bootstrap import (
    BIASED_UPWARD,
    DEBIASED,
    DEFAULT_REPLICATES,
    CalibratedLabels,
    Resampling,
    bootstrap_intervals,
    calibrated_labels,
    resample,
)
from lossgap.core.calibration import ECE_BINS, calibration_errors, ece_binning
from lossgap.core.decision import decide
from lossgap.core.decompose import decompose
from lossgap.core.diagnostics import CONFIDENT_LEVEL, diagnose, errors_beyond_calibration
from lossgap.core.groups import calibration_test, group_codes
from lossgap.core.label_errors import label_errors
from lossgap.core.metrics import METRICS, approximation_bounds, class_shares, log_loss_clipped
from lossgap.core.per_class import confusion, confusion_pairs, per_class
from lossgap.core.predictions import Predictions, python_scalar
from lossgap.core.recalibrate import calibration_fit, multiclass_calibration_slope, recalibrate
from lossgap.core.rows import in_content_order, subset
from lossgap.core.tally import DEFAULT_TOP, Tally, merge_all
from lossgap.core.uncertainty import delong_interval, effective_n, wald_interval, wilson
from lossgap.engines import is_torch_tensor, one_blas_thread
from lossgap.errors import InputError
from lossgap.results.evaluation import Evaluation, MetricValue, Slice, WorstSample
from lossgap.rules.book import LABEL_ERRORS_P
from lossgap.rules.explain import RULES, find
from lossgap.rules.slices import WHERE_RULES

if TYPE_CHECKING:
    from rich.console import Console


def explain(
    y_true: npt.ArrayLike,
    y_prob: npt.ArrayLike,
    *,
    from_logits: bool = False,
    sample_weight: npt.ArrayLike | None = None,
    classes: Sequence[Any] | None = None,
    positive: Any = None,
    ids: npt.ArrayLike | None = None,
    threshold: float = 0.5,
    top: int = 10,
    confidence: float = 0.95,
    seed: int = 0,
    ece_bins: int = ECE_BINS,
    groups: Groups = None,
    costs: npt.ArrayLike | None = None,
) -> Evaluation:
    """Evaluate predicted probabilities and explain how loss and accuracy relate.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        Class labels (ints, bools or strings).
    y_prob : array-like of shape (n,) or (n, k)
        Probability of the positive class, or one column per class; logits with
        ``from_logits=True``. pandas and polars Series/DataFrames are accepted. Torch
        tensors take class indices as labels (see
        :func:`lossgap.engines.torch.tally_from_tensors`); on a GPU they are evaluated on
        their device, on the CPU read in place by the numpy engine.
    from_logits : bool, default=False
        ``y_prob`` holds logits; losses are then computed in log space.
    sample_weight : array-like of shape (n,), default=None
    classes : sequence, default=None
        Class labels in column order, when they cannot be inferred.
    positive : label, default=None
        The positive class of a binary problem.
    ids : array-like of shape (n,), default=None
        Sample identifiers for the worst samples and findings; default the row index.
    threshold : float, default=0.5
        Binary decision threshold.
    top : int, default=10
        How many of the worst samples to report.
    confidence : float, default=0.95
        Level of every interval.
    seed : int, default=0
        Seeds the bootstrap and the cross-fitting folds: same seed, same numbers.
    ece_bins : int, default=15
        Equal-width bins of the binned ECE (multiclass ``ece`` bins the top-label
        confidence, ``classwise_ece`` each class one-vs-rest).
    groups : array-like of shape (n,) or mapping of str to array-like, default=None
        Slices: one group label per sample, or several grouping columns by name (a
        DataFrame works). Each group gets its own evaluation (metrics with intervals,
        decomposition, findings) in ``slices``, and findings name the groups that are
        miscalibrated or hold confident errors beyond chance.
    costs : pair of float or array-like of shape (k, k), default=None
        The cost of a false positive and of a false negative (binary), or the matrix
        ``C[true][decided]``: the ``decision`` section then gives the threshold (binary)
        or rule (multiclass) of least cost, see ``docs/decisions.md``.

    Returns
    -------
    Evaluation

    Raises
    ------
    lossgap.InputError
        On invalid input, with a one-line message naming the fix.

    See Also
    --------
    lossgap.Predictions : the validation rules.
    lossgap.Tally : the mergeable summary behind every metric.

    Examples
    --------
    >>> import lossgap
    >>> ev = lossgap.explain([0, 0, 1, 1], [0.1, 0.6, 0.35, 0.8])
    >>> ev.metric("accuracy"), ev.metric("roc_auc")
    (0.5, 0.75)
    >>> ev.worst[0].id, round(ev.worst[0].loss, 3)
    (2, 1.05)
    """
    options = {
        "from_logits": from_logits,
        "sample_weight": sample_weight,
        "classes": classes,
        "positive": positive,
        "ids": ids,
        "threshold": threshold,
    }
    if is_torch_tensor(y_prob) and y_prob.device.type != "cpu":
        from lossgap.engines.torch import tally_from_tensors

        if groups is not None:
            msg = "groups need the samples on the host: pass y_prob.cpu() with groups"
            raise InputError(msg)
        # computed on the tensors' device; only the summary comes to the host
        tally = tally_from_tensors(y_true, y_prob, top=max(top, DEFAULT_TOP), **options)
        weighted = sample_weight is not None
        return evaluate(
            tally.to_numpy(),
            top=top,
            confidence=confidence,
            seed=seed,
            weighted=weighted,
            ece_bins=ece_bins,
            costs=costs,
        )
    if is_torch_tensor(y_prob):  # numpy reads CPU tensors in place: faster, samples at hand
        from lossgap.engines.torch import predictions_from_cpu_tensors

        pred = predictions_from_cpu_tensors(y_true, y_prob, **options)
    else:
        pred = Predictions(y_true, y_prob, **options)
    return evaluate_predictions(
        pred,
        top=top,
        confidence=confidence,
        seed=seed,
        ece_bins=ece_bins,
        groups=groups,
        costs=costs,
    )


#: What `evaluate` computes: everything, or the cheap summary (see `evaluate`).
DETAILS = ("full", "summary")


def summarise(pred: Predictions, top: int = 10) -> Tally:
    """The Tally :func:`evaluate_predictions` reads, keeping at least ``DEFAULT_TOP`` worst
    samples (so a report may show more than ``top``)."""
    with _evaluating():
        return _tally(pred, top)


def _tally(pred: Predictions, top: int) -> Tally:
    """The Tally of ``pred`` keeping at least ``DEFAULT_TOP`` worst samples."""
    return Tally.from_predictions(pred, top=max(top, DEFAULT_TOP))


@contextmanager
def _evaluating() -> Iterator[None]:
    """What an evaluation runs under: BLAS held to one thread
    (:func:`~lossgap.engines.one_blas_thread`), and ``LOSSGAP_NUMBA`` read once
    (:func:`~lossgap.core.binning.switch_read_once`)."""
    with one_blas_thread(), switch_read_once():
        yield


def evaluate_predictions(
    pred: Predictions,
    *,
    top: int = 10,
    confidence: float = 0.95,
    seed: int = 0,
    replicates: int = DEFAULT_REPLICATES,
    detail: str = "full",
    tally: Tally | None = None,
    ece_bins: int = ECE_BINS,
    groups: Groups = None,
    costs: npt.ArrayLike | None = None,
) -> Evaluation:
    """Evaluate validated predictions (the CLI and ``explain`` share this).

    ``tally``: the predictions' :func:`summarise`, when the caller keeps it (the CLI's
    reports draw from it rather than build it again). ``ece_bins`` and ``groups`` as for
    :func:`explain`.
    """
    given = pred
    if pred.task != "binary":
        # multiclass reads the samples: the same rows in any order must give the same
        # folds, replicates and sums (binary reads its sorted score tables)
        pred = in_content_order(pred)
    options: dict[str, Any] = {
        "top": top,
        "confidence": confidence,
        "seed": seed,
        "replicates": replicates,
        "weighted": pred.sample_weight is not None,
        "detail": detail,
        "ece_bins": ece_bins,
    }
    with _evaluating():  # once for the Tally and the evaluation (as summarise, evaluate)
        if tally is None:
            tally = _tally(pred, top)
        evaluation = _evaluate(tally, pred, costs=costs, **options)
    if groups is None:
        return evaluation
    tallies, preds = slice_predictions(given, groups, top)
    return add_slices(evaluation, slices_of_tallies(tallies, preds, **options)[1])


def evaluate(
    tally: Tally,
    *,
    pred: Predictions | None = None,
    top: int = 10,
    confidence: float = 0.95,
    seed: int = 0,
    replicates: int = DEFAULT_REPLICATES,
    weighted: bool = False,
    detail: str = "full",
    ece_bins: int = ECE_BINS,
    costs: npt.ArrayLike | None = None,
) -> Evaluation:
    """Build the Evaluation of a (possibly merged) Tally and run the finding rules.

    Every engine ends here. ``pred``, the samples when they are in memory, adds what a
    summary cannot give for multiclass data (top-label decomposition, recalibration maps,
    bootstrap intervals); binary evaluations are complete from the Tally alone.

    ``detail="summary"`` keeps the metrics, the analytic intervals (Wilson, DeLong, Wald),
    the binned ECE, the diagnostics and the findings, and leaves out what costs most: the
    smooth ECE, the bootstrap, the decomposition and the recalibration maps (for comparing
    many models at once). ``costs`` adds the cost-optimal decision to the ``decision``
    section, computed whatever the detail.
    """
    with _evaluating():
        return _evaluate(
            tally,
            pred,
            top=top,
            confidence=confidence,
            seed=seed,
            replicates=replicates,
            weighted=weighted,
            detail=detail,
            ece_bins=ece_bins,
            costs=costs,
        )


def _evaluate(
    tally: Tally,
    pred: Predictions | None,
    *,
    top: int,
    confidence: float,
    seed: int,
    replicates: int,
    weighted: bool,
    detail: str,
    ece_bins: int,
    costs: npt.ArrayLike | None,
) -> Evaluation:
    if not 0.0 < confidence < 1.0:
        msg = f"confidence must lie strictly between 0 and 1, got {confidence!r}"
        raise InputError(msg)
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        msg = f"seed must be an integer >= 0 (it seeds the bootstrap and the folds), got {seed!r}"
        raise InputError(msg)
    if detail not in DETAILS:
        msg = f"detail must be one of {', '.join(DETAILS)}, got {detail!r}"
        raise InputError(msg)
    full = detail == "full"
    values = {name: fn(tally) for name, fn in METRICS.items()}
    values["log_loss_clipped"] = log_loss_clipped(tally)
    errors = calibration_errors(tally, bins=ece_bins, smooth=full)
    values.update(errors.metrics())
    slope, intercept = _calibration_line(tally, pred, confidence)
    binary = tally.task == "binary"
    # one draw of calibrated labels for the calibration errors' null and the concentration's,
    # and one of Poisson weights for every binary interval (metrics, decomposition)
    labels = calibrated_labels(tally, ece_bins, seed) if binary else None
    resampling = (
        resample(tally, ece_bins, seed, replicates, labels)
        if labels is not None and full and replicates > 0
        else None
    )
    metrics = _with_intervals(
        tally,
        values,
        pred,
        confidence,
        seed,
        replicates if full else 0,
        ece_bins,
        labels,
        errors.smooth_sigma,
        resampling,
    )
    metrics["calibration_slope"] = slope
    metrics["calibration_intercept"] = intercept
    for name, bound in approximation_bounds(tally).items():
        metrics[name] = replace(metrics[name], approximation_bound=bound)
    shares = class_shares(tally)
    decomposition = (
        decompose(
            tally,
            pred,
            confidence=confidence,
            replicates=replicates,
            seed=seed,
            resampling=resampling,
        )
        if full
        else None
    )
    evaluation = Evaluation(
        task=tally.task,
        n=tally.count,
        classes=list(tally.classes),
        base_rate=float(shares[1]) if binary else shares.tolist(),
        threshold=tally.threshold if binary else None,
        decision_rule=(
            f"p >= {tally.threshold:g} predicts {tally.classes[1]!r}"
            if binary
            else "argmax of the probabilities, ties to the lowest class index"
        ),
        metrics=metrics,
        decomposition=decomposition,
        recalibration=recalibrate(
            tally,
            {k: values[k] for k in ("log_loss", "brier", "accuracy")},
            pred,
            seed=seed,
            confidence=confidence,
        )
        if full
        else None,
        worst=_worst_rows(tally, top),
        diagnostics=diagnose(
            tally,
            values["accuracy"],
            confidence,
            seed=seed,
            labels=labels,
            label_errors=label_errors(tally, pred, list_below=LABEL_ERRORS_P),
            ece_binning=ece_binning(ece_bins)
            + (
                ""
                if binary
                else " (ece: the top-label confidence; classwise_ece: mean over classes, "
                "one-vs-rest)"
            ),
            calibration_test=calibration_test(tally),
        ),
        confidence=confidence,
        weighted=weighted,
        per_class=[]
        if binary
        else per_class(
            tally,
            errors,
            full=full,
            # the decomposition's one-vs-rest terms: each column's CORP fit once
            log_loss_terms=None
            if decomposition is None or decomposition.per_class is None
            else [terms["log_loss"] for terms in decomposition.per_class.values()],
        ),
        confusion=None if binary else confusion(tally),
        confusion_pairs=[] if binary else confusion_pairs(tally),
        decision=decide(
            tally,
            costs=costs,
            pred=pred,
            confidence=confidence,
            replicates=replicates if full else 0,
            seed=seed,
            resampling=resampling,
        )
        if full or costs is not None
        else None,
    )
    return replace(evaluation, findings=find(evaluation, [*RULES, *WHERE_RULES]))


#: Groups as ``explain`` takes them: one array (named ``"group"``, or by its Series
#: name) or a mapping of names to arrays (a DataFrame's columns), one label per sample.
Groups = Any


def group_columns(groups: Groups) -> dict[str, Any]:
    """``{name: values}`` of the ``groups`` argument of :func:`explain`.

    Examples
    --------
    >>> list(group_columns({"site": [1, 2], "scanner": ["a", "b"]}))
    ['site', 'scanner']
    >>> list(group_columns([1, 2]))
    ['group']
    """
    if isinstance(groups, Mapping):
        return {str(name): values for name, values in groups.items()}
    columns = getattr(groups, "columns", None)
    if columns is not None and not isinstance(columns, str):  # a DataFrame
        return {str(name): np.asarray(groups[name]) for name in columns}
    name = getattr(groups, "name", None)
    return {str(name) if isinstance(name, str) else "group": groups}


def add_slices(
    evaluation: Evaluation, parts: Mapping[str, Sequence[tuple[Any, Slice]]]
) -> Evaluation:
    """``evaluation`` (of the whole) with its slices and the findings that name a group."""
    sliced = replace(evaluation, slices=[piece for pieces in parts.values() for _, piece in pieces])
    return replace(sliced, findings=find(sliced, [*RULES, *WHERE_RULES]))


def slice_of(
    by: str,
    group: Any,
    tally: Tally,
    whole: Tally,
    pred: Predictions | None,
    **options: Any,
) -> Slice:
    """The evaluation of one group and where it sits in the whole.

    Binary groups are evaluated from their Tally alone, so every engine gives the same
    numbers; multiclass groups use their samples when in memory (bootstrap, slope).
    """
    observed, expected, p_value = errors_beyond_calibration(tally, CONFIDENT_LEVEL)
    return Slice(
        by=by,
        group=group,
        n=tally.count,
        share=tally.weight / whole.weight,
        loss_share=tally.clipped_loss_sum / whole.clipped_loss_sum
        if whole.clipped_loss_sum > 0
        else float("nan"),
        confident_errors=observed,
        expected_if_calibrated=expected,
        confident_errors_p_value=p_value,
        calibration=calibration_test(tally),
        evaluation=evaluate(tally, pred=None if tally.task == "binary" else pred, **options),
    )


def slices_of_tallies(
    tallies: Mapping[str, Mapping[Any, Tally]],
    preds: Mapping[str, Mapping[Any, Predictions]] | None = None,
    **options: Any,
) -> tuple[Tally, dict[str, list[tuple[Any, Slice]]]]:
    """The whole Tally (merged from the groups of the first column) and every slice.

    ``tallies`` maps each ``by`` name to its groups' Tallies, ``preds`` (in memory) to
    their samples; ``options`` go to :func:`evaluate`.
    """
    first = next(iter(tallies.values()))
    whole = merge_all(list(first.values()))
    parts = {
        by: [
            (
                group,
                slice_of(
                    by, group, tally, whole, None if preds is None else preds[by][group], **options
                ),
            )
            for group, tally in groups.items()
        ]
        for by, groups in tallies.items()
    }
    return whole, parts


def evaluate_group_tallies(
    tallies: Mapping[str, Mapping[Any, Tally]], *, costs: Any = None, **options: Any
) -> Evaluation:
    """The evaluation of the whole (the merged groups) with its slices: the streaming
    engine's ``--by``; ``options`` go to :func:`evaluate` (``costs`` to the whole's only,
    as in memory)."""
    whole, parts = slices_of_tallies(tallies, None, **options)
    return add_slices(evaluate(whole, costs=costs, **options), parts)


def slice_predictions(
    pred: Predictions, groups: Groups, top: int
) -> tuple[dict[str, dict[Any, Tally]], dict[str, dict[Any, Predictions]]]:
    """Each group's samples and Tally, per grouping column."""
    tallies: dict[str, dict[Any, Tally]] = {}
    preds: dict[str, dict[Any, Predictions]] = {}
    for by, values in group_columns(groups).items():
        names, codes = group_codes(values, by, len(pred))
        order = np.argsort(codes, kind="stable")
        bounds = np.searchsorted(codes[order], np.arange(len(names) + 1))
        parts = (subset(pred, order[bounds[i] : bounds[i + 1]]) for i in range(len(names)))
        preds[by] = {
            name: part if part.task == "binary" else in_content_order(part)
            for name, part in zip(names, parts, strict=True)
        }
        tallies[by] = {
            name: Tally.from_predictions(part, top=max(top, DEFAULT_TOP))
            for name, part in preds[by].items()
        }
    return tallies, preds


def _with_intervals(
    tally: Tally,
    values: dict[str, float],
    pred: Predictions | None,
    confidence: float,
    seed: int,
    replicates: int,
    ece_bins: int = ECE_BINS,
    labels: CalibratedLabels | None = None,
    smooth_sigma: float | None = None,
    resampling: Resampling | None = None,
) -> dict[str, MetricValue]:
    """Each metric with its interval: Wilson, DeLong, else the bootstrap (``labels``: the
    binary Tally's calibrated labels, for the calibration errors' null; ``smooth_sigma``:
    the binary smooth ECE's bandwidth, for its replicates; ``resampling``: the binary
    evaluation's one resampling)."""
    n_eff = effective_n(tally)
    analytic: dict[str, tuple[tuple[float, float], str]] = {
        "accuracy": (wilson(values["accuracy"], n_eff, confidence), "wilson"),
    }
    if tally.task == "binary":
        predicted, actual = tally.confusion.sum(axis=0), tally.confusion.sum(axis=1)
        scale = n_eff / tally.weight
        analytic["precision"] = (
            wilson(values["precision"], predicted[1] * scale, confidence),
            "wilson",
        )
        analytic["recall"] = (wilson(values["recall"], actual[1] * scale, confidence), "wilson")
        analytic["roc_auc"] = (
            delong_interval(tally.tables[0], values["roc_auc"], confidence, scale),
            "delong",
        )
    boot, method = (
        bootstrap_intervals(
            tally,
            {k: v for k, v in values.items() if k not in analytic},
            pred,
            confidence=confidence,
            replicates=replicates,
            seed=seed,
            ece_bins=ece_bins,
            labels=labels,
            smooth_sigma=smooth_sigma,
            resampling=resampling,
        )
        if replicates > 0
        else ({}, None)
    )
    metrics = {}
    lo: float | None
    hi: float | None
    how: str | None
    for name, value in values.items():
        if name in analytic:
            (lo, hi), how = analytic[name]
        elif name in boot:
            (lo, hi), how = boot[name], method
            if name in BIASED_UPWARD:
                how = f"{method}; {DEBIASED}"
        else:
            lo = hi = how = None
        metrics[name] = MetricValue(value, lo, hi, how)
    return metrics


def _calibration_line(
    tally: Tally, pred: Predictions | None, confidence: float
) -> tuple[MetricValue, MetricValue]:
    """Calibration slope and intercept with Wald intervals (multiclass: 1 / temperature)."""
    if tally.task == "binary":
        fit = calibration_fit(tally)
        if fit is None:
            none = MetricValue(float("nan"), None, None, "undefined: the logits do not spread")
            return none, none
        if fit.separable:
            none = MetricValue(float("nan"), None, None, "undefined: the classes are separable")
            return none, none
        cov = fit.covariance
        method = "wald (logistic recalibration fit)"
        return (
            MetricValue(fit.slope, *wald_interval(fit.slope, cov[1, 1], confidence), method),
            MetricValue(
                fit.intercept, *wald_interval(fit.intercept, cov[0, 0], confidence), method
            ),
        )
    if pred is None:
        return MetricValue(float("nan")), MetricValue(float("nan"))
    beta, variance = multiclass_calibration_slope(pred)
    method = "wald (temperature fit: slope = 1 / temperature)"
    return (
        MetricValue(beta, *wald_interval(beta, variance, confidence), method),
        MetricValue(float("nan"), None, None, "undefined for multiclass"),
    )


def _worst_rows(tally: Tally, top: int) -> list[WorstSample]:
    worst = tally.worst
    k = min(top, len(worst))
    # each column's first k as Python scalars at once (tolist: the values .item() gives)
    columns = (worst.ids, worst.label, worst.predicted, worst.prob, worst.loss)
    ids, label, predicted, prob, loss = (column[:k].tolist() for column in columns)
    return [
        WorstSample(
            id=python_scalar(ids[i]),
            label=tally.classes[int(label[i])],
            predicted=tally.classes[int(predicted[i])],
            prob_true_class=float(prob[i]),
            loss=float(loss[i]),
        )
        for i in range(k)
    ]


def evaluate_source(
    path: str | Path,
    *,
    engine: str,
    console: Console | None = None,
    top: int = 10,
    confidence: float = 0.95,
    seed: int = 0,
    ece_bins: int = ECE_BINS,
    by: Sequence[str] = (),
    costs: Any = None,
    **columns: Any,
) -> Evaluation:
    """Evaluate a large input with the ``stream`` or ``spark`` engine (the CLI's path).

    ``columns`` are the column options of :func:`stream_tally`; ``ece_bins``, ``costs``
    and the grouping columns ``by`` (``--by``, a Tally per group) as for :func:`explain`.
    """
    from lossgap.engines.slices import stream_group_tallies
    from lossgap.engines.stream import stream_tally

    weighted = columns.get("weight") is not None
    if engine == "spark":
        try:
            from lossgap.engines.spark import group_tallies_of_path, tally_of_path
        except ImportError as exc:
            msg = f"--engine spark needs pyspark ({exc}): pip install 'lossgap[spark]'"
            raise InputError(msg) from exc
    options: dict[str, Any] = {
        "top": top, "confidence": confidence, "seed": seed, "ece_bins": ece_bins
    }
    if by:
        grouped = (
            group_tallies_of_path(path, by, top=max(top, DEFAULT_TOP), **columns)
            if engine == "spark"
            else stream_group_tallies(
                path, by, top=max(top, DEFAULT_TOP), console=console, **columns
            )
        )
        return evaluate_group_tallies(grouped, weighted=weighted, costs=costs, **options)
    if engine == "spark":
        tally = tally_of_path(path, top=max(top, DEFAULT_TOP), **columns)
    else:
        tally = stream_tally(path, top=max(top, DEFAULT_TOP), console=console, **columns)
    return evaluate(tally, weighted=weighted, costs=costs, **options)

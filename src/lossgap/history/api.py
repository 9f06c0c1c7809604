"""``analyse_history``: a log (or a directory of runs) in, a :class:`HistoryReport` out."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

import lossgap.history.analysis as analysis
from lossgap.core.paired import paired_proportion_difference
from lossgap.errors import InputError
from lossgap.history.epochs import evaluate_epochs
from lossgap.history.readers import MLFLOW_PREFIX, LogSet, read_logs, read_mlflow, read_object
from lossgap.history.runs import build_run
from lossgap.results.history import (
    Advice,
    EpochSummary,
    HistoryReport,
    KeptEpoch,
    NoiseCheck,
    PairedTest,
    Recalibration,
    Run,
    RunAnalysis,
)
from lossgap.rules.book import PAIRED_ALPHA
from lossgap.rules.history import GOALS, calibration_drift, find

#: Hugging Face logs epochs rounded to 2 decimals; the prediction files carry 4.
EPOCH_MATCH = 0.006


def _nearest(per_epoch: list[EpochSummary], epoch: Any) -> EpochSummary | None:
    """The per-epoch predictions of ``epoch`` (within the rounding of logged epochs)."""
    rows = [row for row in per_epoch if row.epoch is not None]
    if epoch is None or not rows:
        return None
    best = min(rows, key=lambda row: abs(float(row.epoch or 0) - epoch))
    return best if abs(float(best.epoch or 0) - epoch) <= EPOCH_MATCH else None


def paired_test(
    per_epoch: list[EpochSummary], epoch_from: Any, epoch_to: Any
) -> PairedTest | None:
    """The paired accuracy test between two epochs' saved predictions, as ``compare`` runs it.

    None unless both epochs were saved with the same labels in the same order (the same
    validation samples): a paired test needs the pairs.
    """
    a, b = _nearest(per_epoch, epoch_from), _nearest(per_epoch, epoch_to)
    if a is None or b is None or a is b:
        return None
    if a.correct is None or b.correct is None or a.labels is None or b.labels is None:
        return None
    if a.labels.shape != b.labels.shape or not np.array_equal(a.labels, b.labels):
        return None
    was, now = a.correct, b.correct
    counts = [int(np.sum(m)) for m in (was & now, now & ~was, was & ~now, ~was & ~now)]
    # compare's statistics with a = the later choice ("to"), b = the other
    r = paired_proportion_difference(*counts)
    p_value = float(r.p_value)
    return PairedTest(
        epoch_from=a.epoch,
        epoch_to=b.epoch,
        n=int(was.size),
        from_only_correct=counts[2],
        to_only_correct=counts[1],
        difference=float(r.value),
        ci_low=float(r.ci_low),
        ci_high=float(r.ci_high),
        p_value=p_value,
        significant=p_value < PAIRED_ALPHA,
    )


def _paired(check: NoiseCheck, test: PairedTest | None) -> NoiseCheck:
    """The noise verdict decided by the paired test when there is one."""
    if test is None or check.noise_verdict is None:
        return check
    verdict = "beyond" if test.significant else "within"
    return replace(check, paired=test, within_noise=not test.significant, noise_verdict=verdict)


def _with_paired_tests(result: RunAnalysis, per_epoch: list[EpochSummary]) -> RunAnalysis:
    """Every accuracy change between two saved epochs judged by the paired test."""
    if not per_epoch:
        return result
    div, dis, advice = result.divergence, result.disagreement, result.advice
    if div is not None:
        test = paired_test(per_epoch, div.start_epoch, div.end_epoch)
        div = replace(div, noise=_paired(div.noise, test))
    if dis is not None:
        test = paired_test(per_epoch, dis.loss_best_epoch, dis.score_best_epoch)
        dis = replace(dis, noise=_paired(dis.noise, test))
    prob, dec = advice.probabilities, advice.decisions
    if prob is not None and dec is not None and dec.noise is not None:
        test = paired_test(per_epoch, prob.epoch, dec.epoch)
        advice = replace(advice, decisions=replace(dec, noise=_paired(dec.noise, test)))
    return replace(result, divergence=div, disagreement=dis, advice=advice)


def _advice(
    run: Run,
    chosen: dict[str, Any],
    n_val: int | None,
    per_epoch: list[EpochSummary],
    goal: str | None,
) -> Advice:
    """The epoch to keep for each goal, with the score's gain, its noise and recalibration."""
    if "loss" not in chosen:
        return Advice(goal=goal)
    basis = chosen["basis"]

    def entry(role: str, key: str) -> KeptEpoch:
        i = chosen[role]["index"]
        return KeptEpoch(
            epoch=run.label(i),
            step=run.step_of(i),
            metric=key,
            value=float(run.metrics[key].values[i]),
            basis=basis,
            basis_value=chosen[role]["value"],
        )

    probabilities = entry("loss", run.loss)
    if "score" not in chosen or run.score is None:
        return Advice(basis=basis, probabilities=probabilities, goal=goal)
    decisions = entry("score", run.score)
    score_at_loss = chosen["score_at_loss"]
    gain = decisions.basis_value - score_at_loss
    check = NoiseCheck()
    if run.metrics[run.score].name.metric == "accuracy":
        check = analysis.noise_check(gain, score_at_loss, decisions.basis_value, n_val)
    decisions = replace(decisions, gain=gain, noise=check)
    saved = _nearest(per_epoch, decisions.epoch)
    scaled = None if saved is None else saved.temperature_scaled
    recalibrate = Recalibration(
        epoch=decisions.epoch,
        step=decisions.step,
        method="temperature scaling",
        log_loss=None if saved is None else saved.log_loss,
        expected_log_loss=None if scaled is None else scaled.log_loss_after,
        source=None
        if scaled is None
        else "cross-fitted temperature scaling of the saved predictions",
    )
    return Advice(basis, probabilities, decisions, recalibrate, goal)


def analyse_run(
    run: Run,
    *,
    n_val: int | None = None,
    goal: str | None = None,
    per_epoch: list[EpochSummary] | None = None,
) -> RunAnalysis:
    """Analyse one run: best points, curves, divergence, overfitting, noise, findings.

    Parameters
    ----------
    run : Run
    n_val : int, optional
        Validation-set size, for the sampling noise of accuracy changes; estimated from
        the log when possible (``n_val_source`` says how).
    goal : {"probabilities", "decisions"}, optional
        Fits the advice; both goals are answered when None.
    per_epoch : list of EpochSummary, optional
        Per-epoch prediction summaries (:func:`~lossgap.history.epochs.evaluate_epochs`),
        used for the expected effect of recalibration and for the validation-set size.

    Returns
    -------
    RunAnalysis
    """
    per_epoch = per_epoch or []
    size: int | None
    source: str | None
    if n_val is None and per_epoch:
        n_val = per_epoch[-1].n
        size, source = n_val, "per-epoch predictions"
    else:
        size, source = analysis.validation_size(run, n_val)
    idx = analysis.analysed_points(run)
    curves = analysis.curves_of(run, idx)
    collapse = analysis.collapse(run, idx)
    collapsed = () if collapse is None else collapse.indices
    best = analysis.best_points(run, collapsed)
    chosen = analysis.chosen_points(run, idx, curves, collapsed)
    result = RunAnalysis(
        run=run,
        best=best,
        curves=curves,
        divergence=analysis.divergence(run, idx, curves, size),
        overfitting=analysis.overfitting(run, idx, curves),
        disagreement=analysis.disagreement(run, best, size),
        noise=analysis.noise(run, idx, curves),
        n_val=size,
        n_val_source=source,
        advice=_advice(run, chosen, size, per_epoch, goal),
        loss_composition=analysis.loss_composition(run, idx, size),
        collapse=collapse,
    )
    result = _with_paired_tests(result, per_epoch)
    return replace(result, findings=find(result, goal))


def analyse_history(
    path: str | Path | Any,
    *,
    predictions: str | Path | None = None,
    format: str | None = None,
    loss: str | None = None,
    accuracy: str | None = None,
    n_val: int | None = None,
    goal: str | None = None,
    on_file: Callable[[int, int], None] | None = None,
    tracking_uri: str | None = None,
    epoch_column: str | None = None,
) -> HistoryReport:
    """Read training logs and explain where validation loss and accuracy part ways.

    Parameters
    ----------
    path : str, Path, keras History, dict or DataFrame
        A log file (Keras CSVLogger, History JSON or console output, Lightning
        ``metrics.csv``, Hugging Face ``trainer_state.json``, TensorBoard event file, W&B
        CSV, plain CSV/JSON), a TensorBoard run directory, or a directory of runs; or a
        log in memory: what ``model.fit`` returned, its ``.history`` dict, or a DataFrame
        of logged rows (:func:`~lossgap.history.readers.read_object`); or
        ``"mlflow:RUN_ID"``, an MLflow run's metric histories.
    predictions : str or Path, optional
        A directory of per-epoch prediction files (:mod:`lossgap.history.epochs`).
    format : str, optional
        Force a format (:data:`lossgap.history.readers.FORMATS`).
    loss, accuracy : str, optional
        The loss and decision score to analyse (logged or canonical names); default
        the validation loss and accuracy.
    n_val : int, optional
        Validation-set size, for sampling noise.
    goal : {"probabilities", "decisions"}, optional
        What the model is for; fits the advice.
    on_file : callable, optional
        Progress callback for the per-epoch predictions.
    tracking_uri : str, optional
        The MLflow tracking URI for a ``path`` of ``mlflow:RUN_ID``.
    epoch_column : str, optional
        ``predictions`` is one long file whose column ``epoch_column`` numbers each
        row's epoch, instead of a directory of per-epoch files.

    Returns
    -------
    HistoryReport

    Raises
    ------
    lossgap.InputError
        Unreadable logs, no validation loss, a bad option; one line naming the fix.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "training.log"
    >>> rows = [f"{e},{0.9 - e / 40},{0.5 + (e - 8) ** 2 / 200},{0.6 + e / 100}" for e in range(30)]
    >>> _ = path.write_text("epoch,loss,val_loss,val_acc\\n" + "\\n".join(rows) + "\\n")
    >>> report = analyse_history(path)
    >>> report.runs[0].best["val_loss"].epoch, report.runs[0].best["val_accuracy"].epoch
    (8, 29)
    >>> [f.code for f in report.runs[0].findings][:2]
    ['loss_accuracy_divergence', 'overfitting_onset']
    """
    if goal is not None and goal not in GOALS:
        msg = f"unknown goal {goal!r}: choose {' or '.join(GOALS)}"
        raise InputError(msg)
    if n_val is not None and n_val < 1:
        msg = f"--n-val must be a positive number of validation samples, got {n_val}"
        raise InputError(msg)
    if str(path).startswith(MLFLOW_PREFIX):
        logs = LogSet(read_mlflow(str(path), tracking_uri=tracking_uri))
    elif isinstance(path, (str, os.PathLike)):
        logs = read_logs(os.fspath(path), format=format)
    else:
        logs, path = LogSet(read_object(path, name=type(path).__name__)), type(path).__name__
    per_epoch = (
        evaluate_epochs(predictions, on_file=on_file, epoch_column=epoch_column)
        if predictions is not None
        else []
    )
    runs, skipped = [], list(logs.skipped)
    several = len(logs.logs) > 1
    for raw in logs.logs:
        try:
            run = build_run(raw, loss=loss, accuracy=accuracy)
        except InputError as exc:
            if not several:
                raise
            skipped.append({"path": raw.source, "reason": str(exc)})
            continue
        runs.append(run)
    if not runs:
        # the runs of one export usually fail for the same reason: say each reason once
        reasons = "; ".join(list(dict.fromkeys(s["reason"] for s in skipped))[:2])
        msg = f"no run in {str(path)!r} logs a validation loss ({reasons})"
        raise InputError(msg)
    own_predictions = per_epoch if len(runs) == 1 else []
    drift = calibration_drift(per_epoch)
    notes = []
    if per_epoch and len(runs) > 1:
        notes.append("several runs: the per-epoch predictions are reported on their own")
    return HistoryReport(
        str(path),
        [analyse_run(r, n_val=n_val, goal=goal, per_epoch=own_predictions) for r in runs],
        per_epoch=per_epoch,
        findings=[] if drift is None else [drift],
        skipped=skipped,
        notes=notes,
    )

"""``compare``: several models' predictions on the same samples in, a Comparison out.

The paired statistics run on ``(m, n)`` matrices of per-sample values: log loss, Brier
score, correct decisions, nearness to the threshold and DeLong's placement terms, one row
per model, so every pair comes from a few matrix products. Up to
:data:`AUTO_FULL_CELLS` model-samples each model also gets its full
:class:`~lossgap.results.evaluation.Evaluation` (the ``explain`` pipeline); beyond, its
ranking scores come from those same matrices and only the best models are explained.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
from numpy._core import multiarray as _multiarray

from lossgap.comparison.flips import FlipTables, boundary_distance, first_rows, flip_tables
from lossgap.comparison.goals import check_goals, choose_for_goals
from lossgap.comparison.inputs import check_same_samples, predictions_from_arrays
from lossgap.core.losses import MAX_CLIPPED_LOSS, sample_brier, sample_log_loss
from lossgap.core.paired import (
    COMPILED_MIN_TOTAL,
    AucColumn,
    auc_influence,
    cross_products_about,
    delong_covariance,
    delong_difference,
    holm,
    paired_mean_difference,
    paired_proportion_difference,
)
from lossgap.core.predictions import Predictions
from lossgap.core.uncertainty import wilson, z_value
from lossgap.engines import one_blas_thread
from lossgap.errors import InputError
from lossgap.explanation import evaluate_predictions
from lossgap.results.compare import (
    PAIR_METRICS,
    RANK_METRICS,
    Comparison,
    Difference,
    Flips,
    ModelResult,
    PairComparison,
)
from lossgap.results.evaluation import Evaluation, MetricValue
from lossgap.rules.compare import find

T = TypeVar("T")
Progress = Callable[[Iterable[T], int], Iterable[T]]

_METHODS = {
    "accuracy": "Newcombe paired score interval; exact McNemar test",
    "log_loss": "paired t on per-sample differences",
    "brier": "paired t on per-sample differences",
    "roc_auc": "DeLong paired",
    "roc_auc_multiclass": "DeLong paired, one-vs-rest macro, stratified by class",
}


def compare(
    y_prob: Mapping[str, npt.ArrayLike],
    y_true: npt.ArrayLike,
    *,
    from_logits: bool = False,
    classes: Sequence[Any] | None = None,
    positive: Any = None,
    ids: npt.ArrayLike | None = None,
    threshold: float = 0.5,
    reference: str | None = None,
    by: str = "log_loss",
    near: float = 0.05,
    confidence: float = 0.95,
    seed: int = 0,
    top: int = 5,
    max_ids: int = 20,
    detail: str = "auto",
    goals: Sequence[str] = (),
    costs: Any = None,
) -> Comparison:
    """Compare several models' probabilities on the same samples, with paired tests.

    Parameters
    ----------
    y_prob : mapping of str to array-like
        Model name to its probabilities: shape (n,) for binary (probability of the
        positive class) or (n, k); logits with ``from_logits=True``.
    y_true : array-like of shape (n,)
        Class labels, shared by every model.
    from_logits : bool, default=False
        Every model gives logits.
    classes, positive, ids, threshold
        As in :func:`lossgap.explain`.
    reference : str, default=None
        Compare each model with this one; by default every pair is compared.
    by : {"log_loss", "brier"}, default="log_loss"
        The proper score that ranks the models (lower is better).
    near : float, default=0.05
        A flip is near the threshold when the sample lies within ``near`` of the
        decision boundary under both models: binary ``|p - threshold| <= near``;
        multiclass ``|p_true - p_best_other| / 2 <= near``.
    confidence : float, default=0.95
        Level of the intervals; differences are significant when their Holm-adjusted
        p-value is below ``1 - confidence``.
    seed : int, default=0
        Seed of the bootstrap intervals of each model's evaluation.
    top : int, default=5
        Worst samples kept in each model's evaluation.
    max_ids : int, default=20
        Ids listed per flip list and pair.
    detail : {"auto", "full", "summary", "scores"}, default="auto"
        How much of each model to compute: ``"full"`` its whole ``explain`` evaluation;
        ``"summary"`` that evaluation without the bootstrap, the decomposition and the
        recalibration maps; ``"scores"`` only what ranks and describes it (log loss,
        Brier score, accuracy and ROC AUC with their analytic intervals), with the
        summary evaluation of the best model by ``by`` and of the best by accuracy.
        ``"auto"`` picks ``"full"`` up to two million model-samples, ``"scores"`` beyond.
    goals : sequence of str, default=()
        Say which model to keep for each goal: ``"probabilities"`` (log loss),
        ``"decisions"`` (cost at a threshold tuned per model on held-out folds),
        ``"ranking"`` (ROC AUC), or ``"all"`` (:mod:`lossgap.compare.goals`).
    costs : pair or (k, k) array-like, default=None
        Costs of the decisions for the ``"decisions"`` goal (error rate without them).

    Returns
    -------
    Comparison

    Raises
    ------
    lossgap.InputError
        Fewer than two models, bad options, or predictions that fail validation (the
        message names the model).

    See Also
    --------
    lossgap.explain : one model.

    Notes
    -----
    Per pair ``(a, b)``, every difference is ``a - b``:

    * accuracy: Newcombe's hybrid score interval for paired proportions and the exact
      McNemar test (binomial test of the discordant samples);
    * log loss and Brier score: the paired t interval and test of the per-sample
      differences (``scipy.stats.ttest_rel``);
    * ROC AUC: DeLong's paired test (multiclass: the one-vs-rest macro AUC, with the
      DeLong covariance stratified by class);
    * with more than one pair, Holm's correction per metric over the pairs.

    Examples
    --------
    >>> import lossgap
    >>> y = [0, 0, 1, 1, 1, 0]
    >>> c = lossgap.compare({"a": [0.2, 0.49, 0.51, 0.8, 0.7, 0.3],
    ...                      "b": [0.2, 0.51, 0.49, 0.8, 0.7, 0.3]}, y)
    >>> p = c.pairs[0]
    >>> p.a, p.b, round(p.accuracy_difference.value, 4), p.flips.near_threshold
    ('a', 'b', 0.3333, 2)
    >>> round(p.log_loss_difference.value, 4), p.accuracy_difference.p_value
    (-0.0133, 0.5)
    """
    preds = predictions_from_arrays(
        y_prob,
        y_true,
        from_logits=from_logits,
        classes=classes,
        positive=positive,
        ids=ids,
        threshold=threshold,
    )
    return compare_predictions(
        preds,
        reference=reference,
        by=by,
        near=near,
        confidence=confidence,
        seed=seed,
        top=top,
        max_ids=max_ids,
        detail=detail,
        goals=goals,
        costs=costs,
    )


def _check_options(
    names: Sequence[str], reference: str | None, by: str, near: float, confidence: float
) -> None:
    if len(names) < 2:
        msg = f"compare needs at least two models, got {len(names)}: pass two or more"
        raise InputError(msg)
    if by not in RANK_METRICS:
        msg = f"cannot rank by {by!r}: choose one of {', '.join(RANK_METRICS)}"
        raise InputError(msg)
    if not 0.0 < near < 0.5:
        msg = f"near must lie strictly between 0 and 0.5, got {near!r}"
        raise InputError(msg)
    if not 0.0 < confidence < 1.0:
        msg = f"confidence must lie strictly between 0 and 1, got {confidence!r}"
        raise InputError(msg)
    if reference is not None and reference not in names:
        msg = f"reference {reference!r} is not one of the models: {', '.join(names)}"
        raise InputError(msg)


#: Up to this many (models x samples), each model gets the full explanation.
AUTO_FULL_CELLS = 2_000_000

#: The ``detail`` a comparison takes (see :func:`compare`).
DETAILS = ("auto", "full", "summary", "scores")


def compare_predictions(
    preds: Mapping[str, Predictions],
    *,
    reference: str | None = None,
    by: str = "log_loss",
    near: float = 0.05,
    confidence: float = 0.95,
    seed: int = 0,
    top: int = 5,
    max_ids: int = 20,
    progress: Progress[Any] | None = None,
    detail: str = "auto",
    goals: Sequence[str] = (),
    costs: Any = None,
) -> Comparison:
    """Compare validated predictions of several models (the CLI and ``compare`` share it).

    ``progress(iterable, total)`` may wrap the loop over the models (a progress bar).
    ``detail="auto"`` is ``"full"`` up to :data:`AUTO_FULL_CELLS` model-samples and
    ``"scores"`` beyond (the paired tests are computed in full either way). See
    :func:`compare` for the other parameters.
    """
    names = list(preds)
    _check_options(names, reference, by, near, confidence)
    if detail not in DETAILS:
        msg = f"detail must be one of {', '.join(DETAILS)}, got {detail!r}"
        raise InputError(msg)
    asked = check_goals(goals)
    if costs is not None and "decisions" not in asked:
        msg = "costs judge the decisions goal: add --goal decisions (or goals=['decisions'])"
        raise InputError(msg)
    first = check_same_samples(preds)
    if detail == "auto":
        detail = "full" if len(names) * len(first) <= AUTO_FULL_CELLS else "scores"
    steps: Iterable[Any] = enumerate(preds.values())
    if progress is not None:
        steps = progress(steps, len(names))
    columns = _Columns(first, len(names))
    evaluations: list[Evaluation | None] = [None] * len(names)
    for j, pred in steps:
        columns.add(j, pred, near)
        if detail != "scores":
            evaluations[j] = evaluate_predictions(
                pred, top=top, confidence=confidence, seed=seed, detail=detail
            )
    # the paired products are memory-bound: OpenBLAS's second thread multiplied their CPU
    # time by ten on a loaded machine (1.2 s against 0.17 s at 50 models x 2e5)
    with one_blas_thread():
        auc_cov = delong_covariance(columns.auc, columns.y_grouped)
    if detail == "scores":
        metrics = columns.scores(auc_cov, confidence)
        infinite = columns.infinite.tolist()
    else:
        metrics = [ev.metrics for ev in evaluations if ev is not None]
        infinite = [ev.diagnostics.infinite_count for ev in evaluations if ev is not None]
    rank, accuracy_rank = _ranks(metrics, by)
    order = sorted(range(len(names)), key=lambda j: (rank[j], j))
    if detail == "scores":  # explain the models the answer names: best by score, by accuracy
        for j in {order[0], min(order, key=lambda i: accuracy_rank[i])}:
            evaluations[j] = evaluate_predictions(
                preds[names[j]], top=top, confidence=confidence, seed=seed, detail="summary"
            )
    best = evaluations[order[0]]
    assert best is not None  # every detail evaluates the best model
    pairs = _pairs(order, None if reference is None else names.index(reference))
    pair_results = _paired(columns, auc_cov, names, pairs, confidence, max_ids)
    comparison = Comparison(
        task=first.task,
        n=len(first),
        classes=list(first.classes),
        threshold=first.threshold if first.task == "binary" else None,
        decision_rule=best.decision_rule,
        by=by,
        confidence=confidence,
        near=near,
        near_rule=(
            f"|p - {first.threshold:g}| <= {near:g} under both models"
            if first.task == "binary"
            else f"|p_true - p_best_other| / 2 <= {near:g} under both models"
        ),
        reference=reference,
        correction="holm" if len(pairs) > 1 else "none",
        detail=detail,
        models=[
            ModelResult(
                names[j],
                rank[j],
                accuracy_rank[j],
                metrics[j],
                infinite[j],
                evaluations[j],
                detail,
            )
            for j in order
        ],
        pairs=pair_results,
        ids_shown=max_ids,
        goals=choose_for_goals(preds, asked, costs=costs, confidence=confidence, seed=seed),
    )
    return replace(comparison, findings=find(comparison))


def paired_comparisons(
    preds: Mapping[str, Predictions],
    pairs: npt.ArrayLike,
    *,
    near: float = 0.05,
    confidence: float = 0.95,
    max_ids: int = 20,
) -> list[PairComparison]:
    """The paired differences, tests and flips of the given pairs of models.

    Parameters
    ----------
    preds : mapping of str to Predictions
        The models, all on the same samples (see :func:`compare_predictions`).
    pairs : array-like of int, shape (p, 2)
        Indices ``(a, b)`` into ``preds`` of each pair; differences are ``a - b``.
    near, confidence, max_ids
        As in :func:`compare`.

    Returns
    -------
    list of PairComparison
        One per pair, p-values Holm-adjusted over the pairs when there are several.
    """
    first = check_same_samples(preds)
    columns = _Columns(first, len(preds))
    for j, pred in enumerate(preds.values()):
        columns.add(j, pred, near)
    with one_blas_thread():
        auc_cov = delong_covariance(columns.auc, columns.y_grouped)
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    return _paired(columns, auc_cov, list(preds), pairs, confidence, max_ids)


def _paired(
    columns: _Columns,
    auc_cov: np.ndarray,
    names: Sequence[str],
    pairs: np.ndarray,
    confidence: float,
    max_ids: int,
) -> list[PairComparison]:
    """:func:`paired_comparisons` of filled columns (``auc_cov``: their DeLong covariance)."""
    first = columns.first
    with one_blas_thread():
        tables = flip_tables(
            columns.correct,
            columns.near,
            lambda j, index, out: columns.row("loss", j, index, out),
            compiled=columns.compiled,
        )
        intervals = {
            "accuracy": paired_proportion_difference(
                *(t[pairs[:, 0], pairs[:, 1]] for t in _table_cells(tables)),
                confidence=confidence,
            ),
            "log_loss": paired_mean_difference(
                None, pairs, confidence=confidence, moments=columns.moments("loss")
            ),
            "brier": paired_mean_difference(
                None, pairs, confidence=confidence, moments=columns.moments("brier")
            ),
            "roc_auc": delong_difference(
                columns.auc,
                columns.y_grouped,
                pairs,
                confidence=confidence,
                cov=auc_cov,
                auc=columns.auc_sums / 2.0,
            ),
        }
    adjusted = {m: holm(r.p_value) if len(pairs) > 1 else r.p_value for m, r in intervals.items()}
    ids = _flip_ids(columns, tables, pairs, max_ids)
    # every number as a Python float first: per element, numpy scalars cost microseconds
    # each (4,900 differences and 1,225 flips at 50 models)
    columns_of = {
        m: [x.tolist() for x in (r.value, r.ci_low, r.ci_high, r.p_value, adjusted[m])]
        for m, r in intervals.items()
    }
    table_rows = _TableRows(tables)
    out = []
    for i, (a, b) in enumerate(pairs.tolist()):
        differences = {
            metric: _difference(
                [column[i] for column in columns_of[metric]], confidence, _method(metric, first)
            )
            for metric in PAIR_METRICS
        }
        if columns.infinite[a] or columns.infinite[b]:
            differences["log_loss"] = _with_clip(differences["log_loss"])
        out.append(
            PairComparison(
                names[a],
                names[b],
                **{f"{m}_difference": d for m, d in differences.items()},
                flips=_flips(table_rows, a, b, ids[i]),
            )
        )
    return out


@contextlib.contextmanager
def ordinary_pages() -> Iterator[None]:
    """Large arrays allocated inside get the kernel's ordinary pages, not the transparent
    huge pages numpy asks for (``madvise``), for as long as the block runs.

    On the build machine (a virtual machine, most of its memory free or page cache) the
    first write of a huge page cost far more system time than that of the 512 ordinary
    pages it replaces: the first ``compare`` call in a process at 50 models x 1e6, whose
    ``(m, n)`` matrices hold 500 MB, took 0.63-1.67 s of system time with huge pages and
    0.40-0.55 s with ordinary ones, for the same user time (alternated, 2026-12-05; in 3
    of 20 alternations the two were even). numpy's switch is process-wide: it is set back
    on leaving, and an array another thread allocates meanwhile only gets ordinary pages.
    Without the switch (a numpy that lacks it) nothing changes.

    Examples
    --------
    >>> with ordinary_pages():
    ...     block = np.zeros((50, 1 << 16))
    >>> float(block.sum())
    0.0
    """
    switch = getattr(_multiarray, "_set_madvise_hugepage", None)
    if switch is None:  # pragma: no cover - every numpy 2 has it
        yield
        return
    before = switch(False)
    try:
        yield
    finally:
        switch(before)


class _Columns:
    """The per-sample columns of every model (one row per model), filled a model at a time.

    Correctness and nearness are kept as ``(m, n)`` matrices, the DeLong terms too, with
    the samples grouped by class (``strata``, a stable order) so each class's covariance
    reads one slice (:func:`delong_covariance` of ``auc`` and ``y_grouped``); each row's
    sum is kept in sample order (``auc_sums``). The log losses and Brier scores are not
    kept: their means come from each model's pass, and :meth:`rows` computes their
    blocks again for the paired tests (the same doubles: at 50 models x 1e6 the first
    writes of two more 400 MB matrices cost more than computing them twice).
    """

    def __init__(self, first: Predictions, m: int) -> None:
        n = len(first)
        self.first = first
        self.ids = first.ids
        self.preds: list[Predictions] = []
        with ordinary_pages():
            self.auc = np.empty((m, n))
            self.correct = np.empty((m, n), dtype=bool)
            self.near = np.empty((m, n), dtype=bool)
        self.auc_sums = np.empty(m)
        self.infinite = np.zeros(m, dtype=np.int64)
        self.means = {name: np.empty(m) for name in ("loss", "log_loss", "clipped", "brier")}
        self.strata = np.argsort(first.y, kind="stable")
        self.y_grouped = first.y[self.strata]
        self._scratch = np.empty(n)
        self._rows: np.ndarray | None = None
        self._gathered = np.empty(0)
        self._positive = first.y == 1
        # p * sign + offset is true_class_prob's p or 1 - p, the same doubles (p * 1 + 0
        # and p * -1 + 1 are exact), without its masked copy: 1 ms against 5-9 at 1e6
        binary = first.task == "binary"
        self._sign = np.where(self._positive, 1.0, -1.0) if binary else np.zeros(0)
        self._offset = np.where(self._positive, 0.0, 1.0) if binary else np.zeros(0)
        k = first.n_classes
        if first.task == "binary":
            self.curves = [AucColumn(1, 1.0)]
        else:
            self.curves = [AucColumn(c, 1.0 / k) for c in range(k)]
        # numba pays only when it sorts enough scores (it is then loaded for the flips too)
        self.compiled = m * len(self.curves) * n >= COMPILED_MIN_TOTAL

    def _log_loss(self, pred: Predictions, rows: slice | np.ndarray, out: np.ndarray) -> None:
        """``sample_log_loss`` of ``pred`` (all samples) on ``rows``, into ``out``."""
        if pred.task != "binary" or pred.logits is not None:
            sample_log_loss(pred.take(rows), out=out)
        elif isinstance(rows, slice):
            np.multiply(pred.prob[rows], self._sign[rows], out=out)
            sample_log_loss(pred, np.add(out, self._offset[rows], out=out), out=out)
        else:
            # gathered into buffers kept for the call: the flips read the losses of a few
            # thousand samples per model, where fresh arrays cost more in page faults
            # than the gathers (5 ms against 1 ms per model at 75,000 samples); valid
            # indices, so mode="clip", which writes out without a buffer of its own
            factor = self._gather_buffer(len(rows))
            np.take(pred.prob, rows, out=out, mode="clip")
            np.multiply(out, np.take(self._sign, rows, out=factor, mode="clip"), out=out)
            np.add(out, np.take(self._offset, rows, out=factor, mode="clip"), out=out)
            sample_log_loss(pred, out, out=out)

    def _gather_buffer(self, size: int) -> np.ndarray:
        if len(self._gathered) < size:
            self._gathered = np.empty(size)
        return self._gathered[:size]

    def add(self, j: int, pred: Predictions, near: float) -> None:
        self.preds.append(pred)
        loss = self._scratch
        self._log_loss(pred, slice(None), loss)
        # An infinite loss has no finite paired difference: use the documented cap.
        top = loss.max()
        self.infinite[j] = np.count_nonzero(np.isinf(loss)) if np.isinf(top) else 0
        if self.infinite[j]:
            np.minimum(loss, MAX_CLIPPED_LOSS, out=loss)
        self.means["loss"][j] = loss.mean()  # as the paired tests read the losses
        self.means["log_loss"][j] = np.inf if self.infinite[j] else self.means["loss"][j]
        self.means["clipped"][j] = (
            self.means["loss"][j]  # no loss above the cap (or every one capped already)
            if top <= MAX_CLIPPED_LOSS or self.infinite[j]
            else np.minimum(loss, MAX_CLIPPED_LOSS, out=loss).mean()
        )
        self.means["brier"][j] = sample_brier(pred, out=self._scratch).mean()
        if pred.task == "binary":  # p >= threshold agrees with a positive label
            np.greater_equal(pred.prob, pred.threshold, out=self.correct[j])
            np.equal(self.correct[j], self._positive, out=self.correct[j])
        else:
            np.equal(pred.predicted(), pred.y, out=self.correct[j])
        np.less_equal(boundary_distance(pred, out=self._scratch), near, out=self.near[j])
        if pred.task == "binary":
            scores = [pred.prob]
        else:
            scores = [np.ascontiguousarray(pred.prob[:, c]) for c in range(pred.n_classes)]
        psi = auc_influence(
            scores, pred.y, self.curves, out=self._scratch, compiled=self.compiled
        )
        self.auc_sums[j] = psi.sum()
        np.take(psi, self.strata, out=self.auc[j], mode="clip")  # "raise" copies via a temporary

    def rows(self, what: str, samples: slice | np.ndarray) -> np.ndarray:
        """The ``(m, len)`` log losses (``"loss"``, capped as in :meth:`add`) or Brier
        scores (``"brier"``) of the given samples, computed again from the predictions
        into a buffer that the next call overwrites."""
        width = len(self.ids[samples])
        if self._rows is None or self._rows.shape[1] < width:
            self._rows = np.empty((len(self.preds), width))  # kept: no page faults
        out = self._rows[:, :width]
        for j in range(len(self.preds)):
            self.row(what, j, samples, out=out[j])
        return out

    def row(self, what: str, j: int, samples: slice | np.ndarray, out: np.ndarray) -> None:
        """Model ``j``'s row of :meth:`rows`, written to ``out``."""
        if what == "brier":
            sample_brier(self.preds[j].take(samples), out=out)
            return
        self._log_loss(self.preds[j], samples, out)
        if self.infinite[j]:
            np.minimum(out, MAX_CLIPPED_LOSS, out=out)

    def moments(self, what: str) -> tuple[np.ndarray, np.ndarray, int]:
        """Means and centred cross-products of the rows of ``what`` (``"loss"``, ``"brier"``)."""
        n = len(self.ids)
        mean = self.means[what]
        return mean, cross_products_about(lambda index: self.rows(what, index), mean, n), n

    def scores(self, auc_cov: np.ndarray, confidence: float) -> list[dict[str, MetricValue]]:
        """Each model's ranking scores from its rows (``detail="scores"``).

        The means of the per-sample log loss (infinite with any infinite sample; capped at
        34.54 nats for ``log_loss_clipped``), Brier score and correctness, with Wilson's
        interval for accuracy; the (macro) ROC AUC from the DeLong terms, with the
        interval of the diagonal of their covariance ``auc_cov``, clipped to [0, 1].
        """
        n = len(self.ids)
        z = z_value(confidence)
        accuracy = np.count_nonzero(self.correct, axis=1) / n
        low, high = wilson(accuracy, n, confidence)
        auc = self.auc_sums / 2.0
        half = z * np.sqrt(np.diagonal(auc_cov))
        out = []
        for j in range(len(accuracy)):
            out.append(
                {
                    "log_loss": MetricValue(float(self.means["log_loss"][j])),
                    "log_loss_clipped": MetricValue(float(self.means["clipped"][j])),
                    "brier": MetricValue(float(self.means["brier"][j])),
                    "accuracy": MetricValue(
                        float(accuracy[j]), float(low[j]), float(high[j]), "wilson"
                    ),
                    "roc_auc": _auc_value(float(auc[j]), float(half[j])),
                }
            )
        return out


def _auc_value(auc: float, half: float) -> MetricValue:
    if np.isnan(auc) or np.isnan(half):
        return MetricValue(auc)
    return MetricValue(auc, max(0.0, auc - half), min(1.0, auc + half), "delong")


def _ranks(
    metrics: Sequence[Mapping[str, MetricValue]], by: str
) -> tuple[list[int], list[int]]:
    """Competition ranks (1 is best, ties share): by the proper score and by accuracy."""
    # an infinite log loss ranks below every finite one, then by its clipped value
    keys = [(m[by].value, m["log_loss_clipped"].value) for m in metrics]
    accuracy = [m["accuracy"].value for m in metrics]
    rank = [1 + sum(other < key for other in keys) for key in keys]
    accuracy_rank = [1 + sum(other > acc for other in accuracy) for acc in accuracy]
    return rank, accuracy_rank


def _pairs(order: Sequence[int], reference: int | None) -> np.ndarray:
    """All pairs with the better-ranked model first, or each model against the reference."""
    if reference is not None:
        pairs = [(j, reference) for j in order if j != reference]
    else:
        pairs = [(a, b) for i, a in enumerate(order) for b in order[i + 1 :]]
    return np.array(pairs, dtype=np.int64).reshape(-1, 2)


def _table_cells(t: FlipTables) -> tuple[np.ndarray, ...]:
    return t.both, t.a_only, t.a_only.T, t.neither


def _method(metric: str, first: Predictions) -> str:
    if metric == "roc_auc" and first.task == "multiclass":
        return _METHODS["roc_auc_multiclass"]
    return _METHODS[metric]


def _optional(value: float) -> float | None:
    return None if math.isnan(value) else value


def _difference(numbers: Sequence[float], confidence: float, method: str) -> Difference:
    """One pair's difference from its value, interval ends, p-value and adjusted p-value."""
    value, low, high, p_value, adjusted = numbers
    p_adjusted = _optional(adjusted)
    return Difference(
        value=value,
        ci_low=_optional(low),
        ci_high=_optional(high),
        p_value=_optional(p_value),
        p_value_adjusted=p_adjusted,
        significant=p_adjusted is not None and p_adjusted < 1.0 - confidence,
        method=method,
    )


def _with_clip(d: Difference) -> Difference:
    return Difference(
        d.value,
        d.ci_low,
        d.ci_high,
        d.p_value,
        d.p_value_adjusted,
        d.significant,
        f"{d.method}; per-sample losses capped at {MAX_CLIPPED_LOSS:.2f} nats",
        clipped=True,
    )


def _flip_ids(
    columns: _Columns, tables: FlipTables, pairs: np.ndarray, max_ids: int
) -> list[tuple[list[Any], list[Any], list[Any]]]:
    """Per pair: ids of the first a-only, b-only and near-threshold flips."""
    both_ways = np.concatenate([pairs, pairs[:, ::-1]])
    p = len(pairs)
    correct, near = columns.correct, columns.near

    def right_wrong(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        block = correct[:, samples]
        return block, ~block

    def near_right_wrong(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        block, close = correct[:, samples], near[:, samples]
        return block & close, close > block

    # (the blocks are built from the candidates only: three (m, n) bool copies cost 150 MB
    # of first writes at 50 models x 1e6)
    everywhere = first_rows(
        right_wrong,
        np.flatnonzero(correct.any(axis=0) & ~correct.all(axis=0)),
        both_ways,
        np.minimum(tables.a_only[both_ways[:, 0], both_ways[:, 1]], max_ids).astype(np.int64),
    )
    close = first_rows(
        near_right_wrong,
        tables.near_samples,
        both_ways,
        np.minimum(tables.near_a_only[both_ways[:, 0], both_ways[:, 1]], max_ids).astype(
            np.int64
        ),
    )
    out = []
    for i in range(p):
        near_rows = np.sort(np.concatenate([close[i], close[i + p]]))[:max_ids]
        out.append(
            (
                columns.ids[everywhere[i]].tolist(),
                columns.ids[everywhere[i + p]].tolist(),
                columns.ids[near_rows].tolist(),
            )
        )
    return out


class _TableRows:
    """The matrices of :class:`FlipTables` as nested lists of Python floats, read per pair."""

    def __init__(self, t: FlipTables) -> None:
        self.n = t.n
        self.both, self.a_only = t.both.tolist(), t.a_only.tolist()
        self.neither = t.neither.tolist()
        self.near_a_only, self.near_loss = t.near_a_only.tolist(), t.near_loss.tolist()


def _flips(
    t: _TableRows, a: int, b: int, ids: tuple[list[Any], list[Any], list[Any]]
) -> Flips:
    a_only, b_only = int(t.a_only[a][b]), int(t.a_only[b][a])
    near_a, near_b = int(t.near_a_only[a][b]), int(t.near_a_only[b][a])
    share = (near_a - near_b) / (a_only - b_only) if a_only != b_only else None
    return Flips(
        both_correct=int(t.both[a][b]),
        a_only_correct=a_only,
        b_only_correct=b_only,
        neither_correct=int(t.neither[a][b]),
        near_threshold=near_a + near_b,
        near_threshold_a_only_correct=near_a,
        near_threshold_b_only_correct=near_b,
        near_threshold_share=share,
        near_threshold_log_loss_difference=t.near_loss[a][b] / t.n,
        a_only_correct_ids=ids[0],
        b_only_correct_ids=ids[1],
        near_threshold_ids=ids[2],
    )

"""Recalibration maps, judged out of sample by K-fold cross-fitting.

Three maps, each fitted on K-1 folds and scored on the held-out fold, so the reported gain
is not in-sample optimism:

* **temperature**: ``p' = sigmoid(z / T)`` (multiclass: ``softmax(log p / T)``), one convex
  parameter fitted by Newton's method in log space. It keeps the sign of every logit and
  the argmax of every row, so at the threshold 0.5 it never changes a decision.
* **platt** (binary): ``p' = sigmoid(a + b z)``, logistic recalibration. Its slope ``b`` and
  intercept ``a`` fitted on all samples are the ``calibration_slope`` and
  ``calibration_intercept`` metrics. The intercept moves the threshold: decisions can change.
* **isotonic**: PAV, monotone but piecewise constant (multiclass: one-vs-rest per class on
  fixed score bins, then renormalised); it can change decisions and ties scores.

Binary maps work on the Tally's score table: folds come from the samples when they are at
hand, else from multinomial thinning of the table's counts (exact when weights are counts).
Logistic maps are fitted on all samples on the table pooled to ``FIT_ROWS`` runs; each
fold's logistic maps on its training samples pooled by label within runs of logits of one
width (:func:`label_pooled`), as coarsely as keeps the fit's training log loss provably
within ``FIT_TOLERANCE`` standard errors of the exact fit's (:func:`pooling_excess`).

Multiclass maps need the samples. Each fold's temperature is the optimum on the training
folds, found by Newton's method started from the fit on all samples (one pass over the
samples per step; the all-sample fit's last pass gives every fold its starting terms, and
a fold then takes a step or two). When the loss's cubic term puts the first step within
``ONE_STEP_SE`` (a thousandth) of a standard error of the optimum, which holds from about
10^5 samples, the step is taken without a pass. The one-vs-rest isotonic maps are fitted
on the training samples grouped into the fixed bins of :func:`lossgap.core.tally.bin_keys`
at ``ISOTONIC_BIN_BITS`` (a bin spans at most 1/16 in log-odds), the bins built once for
all folds; a held-out sample's bin locates it among the fitted knots.

References
----------
Guo, C., Pleiss, G., Sun, Y., & Weinberger, K. Q. (2017). On calibration of modern neural
networks. ICML. https://arxiv.org/abs/1706.04599

Platt, J. (1999). Probabilistic outputs for support vector machines and comparisons to
regularized likelihood methods.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from itertools import accumulate
from typing import Any
from weakref import WeakKeyDictionary

import numpy as np

from lossgap.core.binning import kernel_module
from lossgap.core.decompose import (
    brier_score_total,
    kept_for_table,
    log_losses,
    table_log_losses,
    weighted_total,
)
from lossgap.core.isotonic import IsotonicFit, fit_isotonic
from lossgap.core.losses import CLIP_EPS
from lossgap.core.pooling import Pooling, pool_table, pooling_of, row_mass, take_rows
from lossgap.core.predictions import Predictions, multiclass_kernels
from lossgap.core.rows import in_content_order
from lossgap.core.tally import ScoreTable, Tally, bin_key_shift, bin_keys
from lossgap.core.uncertainty import effective_n, effective_scale, seeded, z_value
from lossgap.results.recalibration import Recalibration, RecalibrationMap

#: Probabilities are clipped to [CLIP, 1 - CLIP] before taking logits for a map.
CLIP = 1e-15
DEFAULT_FOLDS = 5
#: Fewer samples than this leave some folds without both classes: no maps are fitted.
MIN_SAMPLES = 20
#: Binary maps need at least this many (effective) samples of the rarer class per fold: with
#: fewer, a held-out gain is the noise of a handful of events.
MIN_EVENTS_PER_FOLD = 10
#: Logits whose weighted standard deviation is below this cannot show a slope.
MIN_LOGIT_SPREAD = 1e-6


@dataclass(frozen=True)
class LogisticFit:
    """A weighted logistic fit of the label on the logit: ``sigmoid(intercept + slope z)``.

    Attributes
    ----------
    intercept, slope : float
    covariance : ndarray
        Inverse Fisher information of (intercept, slope) or of (slope,) alone.
    separable : bool
        The classes are separated by ``z``: no finite maximum-likelihood fit exists.
    """

    intercept: float
    slope: float
    covariance: np.ndarray
    separable: bool = False

    def apply(self, z: np.ndarray) -> np.ndarray:
        return logistic(self.intercept + self.slope * z)


#: How far :func:`logistic` may lie from ``scipy.special.expit``, relative: numpy's
#: vectorised exponential is within about an ulp of the C library's, which scipy calls
#: (measured at most 3.2e-16 over 4e6 logits in [-745, 745]; tested).
LOGISTIC_RTOL = 1e-15


def logistic(eta: np.ndarray) -> np.ndarray:
    """``1 / (1 + e^-eta)``, elementwise, in place on one temporary.

    ``scipy.special.expit`` to :data:`LOGISTIC_RTOL`, at under a third of its cost: scipy
    calls the C library's exponential once per element (0.07 against 0.02 ms on 20,000
    logits; the logistic maps' held-out scoring and the fits on all samples take about 30
    per evaluation). An exponential that overflows (``eta`` below about -709) gives 0, as
    expit does.

    Examples
    --------
    >>> logistic(np.array([0.0, -800.0, 800.0])).tolist()
    [0.5, 0.0, 1.0]
    """
    return _logistic_of_negated(np.negative(eta))


def _logistic_of_negated(out: np.ndarray) -> np.ndarray:
    """:func:`logistic` of ``-out``, in place on ``out``."""
    with np.errstate(over="ignore"):
        np.exp(out, out=out)
    out += 1.0
    return np.divide(1.0, out, out=out)


def logits_of(prob: np.ndarray) -> np.ndarray:
    """Log-odds of probabilities clipped to [1e-15, 1 - 1e-15]: ``log(p) - log1p(-p)``, in
    two arrays (the same doubles as five temporaries)."""
    p = np.asarray(np.clip(prob, CLIP, 1.0 - CLIP))  # an array even for one value
    out = np.log(p, out=np.empty_like(p))
    return np.subtract(out, np.log1p(np.negative(p, out=p), out=p), out=out)[()]


def _softplus_loss(eta: np.ndarray, weights: np.ndarray, total: np.ndarray) -> float:
    """``sum w1 log(1 + e^-eta) + w0 log(1 + e^eta)``, with ``total = w0 + w1``.

    Both terms share ``log1p(e^-|eta|)``: one exponential and one logarithm per row
    instead of two ``logaddexp`` (the fits' costliest step).
    """
    shared = np.log1p(np.exp(-np.abs(eta)))
    positive = weights[:, 1] @ np.maximum(-eta, 0.0)
    return float(total @ shared + positive + weights[:, 0] @ np.maximum(eta, 0.0))


#: How far the compiled :func:`fit_logistic` may lie from its numpy twin: the fitted loss,
#: relative (measured at most 6.7e-14 over 6,000 random fits, separable ones included),
FIT_LOSS_RTOL = 1e-12
#: and the parameters and covariance of a fit whose parameters are below 10 in size
#: (measured at most about 1e-13). The same Newton steps whose sums are added in another
#: order: a flat, nearly separable fit (slope or intercept of 17 to 80) moved by up to 1%
#: (5 of 6,000 fits), its loss equal to 1e-13, as it moves under any change of rounding.
FIT_RTOL = 1e-9
#: Work of a logarithm or exponential per row goes through the compiled loops (the fits,
#: the held-out totals) up to this many rows; above it numpy's vectorised exponentials and
#: logarithms overtake the loops' scalar ones (a fold's fit from the full fit's optimum:
#: 0.02 against 0.05 ms at 300 rows, 0.08 against 0.08 at 2,000, 0.34 against 0.23 at
#: 10,000; the held-out totals 0.006 against 0.025 ms at 200 rows, 0.037 against 0.043 at
#: 2,000, slower at 20,000 in an evaluation).
COMPILED_ROWS = 2_048

#: Newton steps a logistic fit takes at most (:func:`fit_logistic`'s ``max_iter``).
MAX_NEWTON_STEPS = 100


def fit_logistic(
    z: np.ndarray,
    weights: np.ndarray,
    *,
    intercept: bool,
    slope: bool = True,
    max_iter: int = MAX_NEWTON_STEPS,
    start: LogisticFit | None = None,
) -> LogisticFit:
    """Newton's method for the weighted logistic loss of ``a + b z`` (``a = 0`` without intercept).

    Parameters
    ----------
    z : ndarray of shape (m,)
        Logits, one per table row.
    weights : ndarray of shape (m, 2)
        Weight of negatives and positives at each row.
    intercept : bool
        Fit ``a`` too (Platt) or only the slope (temperature ``T = 1 / b``).
    slope : bool, default=True
        ``False`` holds ``b = 1`` and fits the intercept alone (calibration-in-the-large).
    start : LogisticFit, optional
        Where Newton's method starts (default ``a = 0, b = 1``): a fold's fit starts from
        the fit on all samples, a step or two from its own optimum.

    Examples
    --------
    >>> z = np.array([-2.0, -1.0, 1.0, 2.0])
    >>> w = np.array([[9.0, 1.0], [7.0, 3.0], [3.0, 7.0], [1.0, 9.0]])
    >>> fit = fit_logistic(z, w, intercept=True)
    >>> round(fit.intercept, 6), round(fit.slope, 4)
    (0.0, 1.012)
    >>> round(fit_logistic(z, w[:, ::-1], intercept=True, slope=False).intercept, 6)
    0.0

    With numba (:func:`~lossgap.core.binning.kernel_module`) the Newton steps on up to
    :data:`COMPILED_ROWS` rows run in one compiled loop (a pass over the rows per
    step), within :data:`FIT_LOSS_RTOL` and :data:`FIT_RTOL` of the numpy twin, which the
    command line keeps: 0.05 -> 0.02 ms a fold's fit on 300 rows. On more rows each
    step's loss and terms come from numpy's vectorised exponential and logarithm and one
    compiled pass in vector lanes, within the same tolerances: a fit on all samples'
    20,000 pooled rows about 0.6 -> 0.3 ms (three per evaluation).
    """
    return _logistic_fitter(z, weights)(intercept, slope, start, max_iter)


#: :func:`_logistic_fitter`'s fit: ``(intercept, slope, start, max_iter)`` to the fit.
_Fitter = Callable[[bool, bool, LogisticFit | None, int], LogisticFit]
#: :func:`_logistic_solver`'s Newton steps, ``(intercept, slope, start, max_iter)`` to the
#: fitted ``(a, b)``, whether the fit is separable, and its covariance when asked for.
_Solver = Callable[
    [bool, bool, LogisticFit | None, int], tuple[float, float, bool, Callable[[], np.ndarray]]
]


def _logistic_fitter(z: np.ndarray, weights: np.ndarray) -> _Fitter:
    """:func:`fit_logistic` on the rows ``(z, weights)`` as a function of ``(intercept,
    slope, start, max_iter)``: the kernels, the rows' mass and weight columns taken once
    for the maps fitted on the same rows (:func:`_logistic_solver`)."""
    solve = _logistic_solver(z, weights)

    def fit(intercept: bool, slope: bool, start: LogisticFit | None, max_iter: int) -> LogisticFit:
        a, b, separable, covariance = solve(intercept, slope, start, max_iter)
        return LogisticFit(a, b, covariance(), separable)

    return fit


def _logistic_solver(z: np.ndarray, weights: np.ndarray) -> _Solver:
    """:func:`_logistic_fitter`'s Newton steps on the rows ``(z, weights)``: the fitted
    ``(a, b)`` (``a`` 0 without intercept, ``b`` 1 without slope), whether the fit is
    separable, and its covariance as a function, so that the folds' fits (15 an
    evaluation), whose covariance nothing reads, do not build it."""
    total = row_mass(weights)
    mass = total.sum()
    kernels = kernel_module("bootstrap_kernels")
    compiled = kernels is not None and len(z) <= COMPILED_ROWS
    if compiled:
        z = np.asarray(z, dtype=np.float64)
        w_neg, w_pos = weights[:, 0], weights[:, 1]
        # the loss and first Newton sums at a = 0, b = 1, the same for every fit from there
        # (kernels.logistic_start): taken once for the table's three maps (two passes over
        # its rows each, 2 x 25 us of 1,000 rows' log1p and exp saved)
        unit: list[Any] = []

    def solve(
        intercept: bool, slope: bool, start: LogisticFit | None, max_iter: int
    ) -> tuple[float, float, bool, Callable[[], np.ndarray]]:
        a = start.intercept if intercept and start is not None and not start.separable else 0.0
        b = (start.slope if start is not None and not start.separable else 1.0) if slope else 1.0
        covariance: Callable[[], np.ndarray]
        if not compiled:
            sums = None if kernels is None else kernels.logistic_sums
            a, b, loss, hessian = _newton(
                z, weights, total, intercept, slope, a, b, max_iter, sums
            )
            covariance = partial(_inverse, hessian)
        else:  # the same Newton steps in one compiled loop, each step's sums in one pass
            a, b = float(a), float(b)
            if a == 0.0 and b == 1.0:
                if not unit:
                    unit.append(kernels.logistic_start(z, w_neg, w_pos, True, 0.0, 1.0))
                a, b, loss, h00, h01, h11 = kernels.fit_logistic_from(
                    z, w_neg, w_pos, intercept, slope, a, b, max_iter, unit[0]
                )
            else:
                a, b, loss, h00, h01, h11 = kernels.fit_logistic(
                    z, w_neg, w_pos, intercept, slope, a, b, max_iter
                )
            covariance = partial(_covariance, h00, h01, h11, intercept and slope)
        separable = abs(b) > 1e3 or abs(a) > 1e3 or loss < 1e-9 * mass
        return float(a) if intercept else 0.0, float(b) if slope else 1.0, separable, covariance

    return solve


def _newton(
    z: np.ndarray,
    weights: np.ndarray,
    total: np.ndarray,
    intercept: bool,
    slope: bool,
    a: float,
    b: float,
    max_iter: int,
    sums: Any = None,
) -> tuple[float, float, float, np.ndarray]:
    """:func:`fit_logistic`'s Newton steps from ``(a, b)`` in numpy (the compiled path's
    twin): the parameters, the loss and the last Hessian. ``sums``: the compiled
    ``logistic_sums``, which takes each step's loss and terms in one pass (the same steps,
    their sums to rounding)."""
    # one or two parameters: the gradient and Hessian are a few dot products and the
    # Newton step a 2 x 2 solve by hand (np.linalg's per-call cost was most of a fit on
    # the folds' few hundred pooled rows)
    def eta(a: float, b: float) -> np.ndarray:
        return a + b * z if intercept else b * z

    loss_at, terms_at = (
        _numpy_steps(z, weights, total, intercept, slope, eta)
        if sums is None
        else _compiled_steps(z, weights, intercept, slope, eta, sums)
    )
    loss = loss_at(a, b)
    hessian = np.eye(int(intercept) + int(slope))
    for _ in range(max_iter):
        hessian, grad = terms_at(a, b)
        step = _solve(hessian, grad)
        if step is None:
            break
        size = 1.0
        while size > 1e-10:  # halve the step until the convex loss decreases
            new_a = a - size * step[0] if intercept else a
            new_b = b - size * step[-1] if slope else b
            new_loss = loss_at(new_a, new_b)
            # within rounding of the loss counts as no increase: at the optimum the loss is
            # flat to its last bits, and refusing the last Newton step there would leave the
            # parameters where the weights' scale happened to stop them
            if new_loss <= loss + 1e-13 * abs(loss):
                break
            size /= 2
        else:
            break
        # converged on the parameters, not the loss: a loss-based stop depends on the
        # weights' scale and leaves the slope about 1e-8 off (Newton: one more step is exact)
        moved = max(abs(new_a - a), abs(new_b - b) if slope else 0.0)
        biggest = max(abs(new_a) if intercept else 0.0, abs(new_b) if slope else 0.0)
        converged = moved <= 1e-13 * (1.0 + biggest)
        a, b, loss = new_a, new_b, new_loss
        if converged or (slope and abs(b) > 1e6) or (not slope and abs(a) > 1e6):
            break
    return a, b, loss, hessian


#: A Newton step's loss at ``(a, b)``, and its Hessian and gradient there.
_Steps = tuple[
    Callable[[float, float], float],
    Callable[[float, float], tuple[np.ndarray, np.ndarray]],
]


def _numpy_steps(
    z: np.ndarray,
    weights: np.ndarray,
    total: np.ndarray,
    intercept: bool,
    slope: bool,
    eta: Callable[[float, float], np.ndarray],
) -> _Steps:
    """:func:`_newton`'s loss and terms in numpy: the softplus loss, and the logistic
    function's residuals and curvatures in dot products."""
    zz = z * z if slope else z
    positives = weights[:, 1]

    def loss_at(a: float, b: float) -> float:
        return _softplus_loss(eta(a, b), weights, total)

    def terms_at(a: float, b: float) -> tuple[np.ndarray, np.ndarray]:
        p = logistic(eta(a, b))
        residual = total * p - positives
        curvature = total * p * (1.0 - p)
        return _newton_terms(residual, curvature, z, zz, intercept, slope)

    return loss_at, terms_at


def _compiled_steps(
    z: np.ndarray,
    weights: np.ndarray,
    intercept: bool,
    slope: bool,
    eta: Callable[[float, float], np.ndarray],
    sums: Any,
) -> _Steps:
    """:func:`_newton`'s loss and terms from one compiled pass (``sums``) per point, after
    numpy's vectorised exponential and logarithm: the loss at an accepted point comes with
    its terms, which the next step reads."""
    z = np.ascontiguousarray(z, dtype=np.float64)
    w_neg, w_pos = np.ascontiguousarray(weights[:, 0]), np.ascontiguousarray(weights[:, 1])
    last: dict[str, Any] = {}

    def loss_at(a: float, b: float) -> float:
        x = eta(a, b)
        shrunk = np.exp(-np.abs(x))
        loss, c, cz, czz, r, rz = sums(x, shrunk, np.log1p(shrunk), z, w_neg, w_pos)
        if intercept and slope:
            terms = np.array([[c, cz], [cz, czz]]), np.array([r, rz])
        elif slope:
            terms = np.array([[czz]]), np.array([rz])
        else:
            terms = np.array([[c]]), np.array([r])
        last.update(at=(a, b), terms=terms)
        return float(loss)

    def terms_at(a: float, b: float) -> tuple[np.ndarray, np.ndarray]:
        if last.get("at") != (a, b):
            loss_at(a, b)
        terms: tuple[np.ndarray, np.ndarray] = last["terms"]
        return terms

    return loss_at, terms_at


def _newton_terms(
    residual: np.ndarray,
    curvature: np.ndarray,
    z: np.ndarray,
    zz: np.ndarray,
    intercept: bool,
    slope: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """The Hessian and gradient of the logistic loss in ``(a, b)``, ``(b,)`` or ``(a,)``."""
    if intercept and slope:
        hz = curvature @ z
        hessian = np.array([[curvature.sum(), hz], [hz, curvature @ zz]])
        return hessian, np.array([residual.sum(), residual @ z])
    if slope:
        return np.array([[curvature @ zz]]), np.array([residual @ z])
    return np.array([[curvature.sum()]]), np.array([residual.sum()])


def _solve(hessian: np.ndarray, grad: np.ndarray) -> np.ndarray | None:
    """``hessian^-1 grad`` of a 1 x 1 or 2 x 2 system, or None when it is singular."""
    if len(grad) == 1:
        return None if hessian[0, 0] == 0 else grad / hessian[0, 0]
    (h00, h01), (_, h11) = hessian
    det = h00 * h11 - h01 * h01
    if det == 0 or not np.isfinite(det):
        return None
    return np.array([h11 * grad[0] - h01 * grad[1], h00 * grad[1] - h01 * grad[0]]) / det


#: A 2 x 2 Hessian is inverted by hand while ``det / (h00 h11)`` is above this (condition
#: number below about 1e10); a nearly singular one goes to ``np.linalg.pinv`` as before.
_WELL_CONDITIONED = 1e-10


def _covariance(h00: float, h01: float, h11: float, both: bool) -> np.ndarray:
    """:func:`_inverse` of the Hessian ``[[h00, h01], [h01, h11]]`` (``both`` parameters)
    or ``[[h00]]``, from its terms (the compiled fit's floats): the same expressions on the
    same doubles, without building the Hessian and reading it back (18 fits an evaluation).
    """
    if not both:
        return np.array([[1.0 / h00]]) if h00 > 0 else _inverse(np.array([[h00]]))
    det = h00 * h11 - h01 * h01
    if h00 > 0 and h11 > 0 and det > _WELL_CONDITIONED * h00 * h11:
        return np.array([[h11, -h01], [-h01, h00]]) / det
    return _inverse(np.array([[h00, h01], [h01, h11]]))


def _inverse(hessian: np.ndarray) -> np.ndarray:
    """The covariance of a fit: the inverse of its Hessian (pseudo-inverse if singular)."""
    if len(hessian) == 1 and hessian[0, 0] > 0:
        return 1.0 / hessian
    if len(hessian) == 2:
        (h00, h01), (_, h11) = hessian
        det = h00 * h11 - h01 * h01
        if h00 > 0 and h11 > 0 and det > _WELL_CONDITIONED * h00 * h11:
            return np.array([[h11, -h01], [-h01, h00]]) / det
    return np.linalg.pinv(hessian)


def _clip_isotonic(prob: np.ndarray, n_train: float) -> np.ndarray:
    """Keep held-out isotonic probabilities off 0 and 1: a fold may lack a class there.

    ``n_train`` is the training folds' effective count (the clip must not depend on the
    weights' scale)."""
    eps = _clip_isotonic_eps(n_train)
    return np.clip(prob, eps, 1.0 - eps)


def _isotonic_held_out(
    train: ScoreTable, scores: np.ndarray, scale: float, mass: float | None = None
) -> tuple[np.ndarray, bool]:
    """The isotonic map fitted on ``train``, its probabilities at ``scores`` clipped as
    :func:`_clip_isotonic` (in place: the map's fresh array), and whether that clip lies
    within log loss's own (:func:`~lossgap.core.decompose.log_losses` ``clipped``): for
    every training count up to 5e14. ``mass``: ``train``'s total weight, when known."""
    iso = fit_isotonic(train.scores, train.weights[:, 0], train.weights[:, 1])
    mass = float(train.weights.sum()) if mass is None else mass
    eps = _clip_isotonic_eps(mass * scale)
    return _clip_in_place(iso.predict(scores), eps), eps >= CLIP_EPS


def _clip_in_place(prob: np.ndarray, eps: float) -> np.ndarray:
    """``np.clip(prob, eps, 1 - eps, out=prob)`` in two ufunc calls: the same doubles (NaN
    kept), without ``np.clip``'s Python dispatch (35 clips an evaluation)."""
    return np.minimum(np.maximum(prob, eps, out=prob), 1.0 - eps, out=prob)


def _clip_isotonic_eps(n_train: float) -> float:
    """The lower end of :func:`_clip_isotonic`."""
    return 0.5 / max(n_train, 1.0)


#: Logistic maps are fitted on the training table pooled into at most this many runs of
#: adjacent scores (the held-out evaluation uses every distinct score).
FIT_ROWS = 20_000


#: The latest table's fits by ``(intercept, slope)``: the calibration slope, the
#: calibration test and the recalibration's maps of one evaluation fit the same maps on the
#: same table (one table kept, held so that its identity cannot be reused), and the
#: fitter of its rows (:func:`_logistic_fitter`), whose maps share their start's terms.
#: One tuple, replaced whole: a thread reads a table's fits and fitter together.
_LAST_FITS: dict[str, tuple[Any, dict[tuple[bool, bool], LogisticFit], list[_Fitter]]] = {
    "kept": (None, {}, [])
}


def fit_logistic_table(table: ScoreTable, *, intercept: bool, slope: bool = True) -> LogisticFit:
    """:func:`fit_logistic` on the logits of a score table pooled to at most FIT_ROWS runs.

    The fits of the latest table are kept: an evaluation asks for its Platt map three
    times (the same numbers each time)."""
    kept_table, fits, fitter = _LAST_FITS["kept"]
    if kept_table is not table:  # other threads at worst fit theirs again
        fits, fitter = {}, []
        _LAST_FITS["kept"] = (table, fits, fitter)
    if (intercept, slope) not in fits:
        if not fitter:
            fitter.append(
                _logistic_fitter(_pooled_logits(table), pool_table(table, FIT_ROWS).weights)
            )
        fits[intercept, slope] = fitter[0](intercept, slope, None, MAX_NEWTON_STEPS)
    return fits[intercept, slope]


def _table_logits(table: ScoreTable) -> np.ndarray:
    """:func:`logits_of` the scores of ``table``, read-only, kept for the latest table
    (:func:`~lossgap.core.decompose.kept_for_table`): the calibration slope's check and
    the recalibration read them."""
    return kept_for_table("table_logits", table, lambda t: logits_of(t.scores))


def _pooled_logits(table: ScoreTable) -> np.ndarray:
    """:func:`logits_of` the scores of ``table`` pooled to FIT_ROWS runs, read-only, kept
    for the latest table (:func:`~lossgap.core.decompose.kept_for_table`): its three fits
    and the folds' read them. A table of at most FIT_ROWS rows is its own pooling: its
    :func:`_table_logits`, not taken again."""
    if pooling_of(table, FIT_ROWS)[0].starts is None:
        return _table_logits(table)
    return kept_for_table(
        "pooled_logits", table, lambda t: logits_of(pool_table(t, FIT_ROWS).scores)
    )


#: Each logistic map's ``(intercept, slope)``: which of ``a + b z`` it fits.
_FITTED = {"temperature": (False, True), "intercept": (True, False), "platt": (True, True)}


def _logistic_maps(parameters: list[tuple[float, float]], logits: np.ndarray) -> np.ndarray:
    """The clipped probabilities of the logistic maps ``(intercept, slope)`` at ``logits``,
    one row per map: a fold's three maps in one array, one call of each operation rather
    than three (15 maps an evaluation, each a few hundred rows).

    The same doubles as :meth:`LogisticFit.apply` then the clip: ``(-b) z - a`` is
    ``-(a + b z)`` exactly (negation is exact and rounding to nearest is symmetric; a zero's
    sign aside, which the exponential does not see), and numpy's exponential gives each
    element the same double in a row of a ``(maps, n)`` array as in an array of its own
    (tested).
    """
    ab = np.array(parameters)
    out = np.multiply(np.negative(ab[:, 1:]), logits)
    out -= ab[:, :1]
    return _clip_in_place(_logistic_of_negated(out), CLIP)


#: A fold's logistic map may be fitted on pooled rows when its training log loss per
#: sample at the pooled fit provably exceeds the exact fit's by at most this share of the
#: standard error of the mean (capped) log loss (:func:`pooling_excess`).
FIT_TOLERANCE = 0.01
@dataclass(frozen=True)
class LabelPooled:
    """Training rows of a logistic fit pooled by label within runs of adjacent scores.

    Attributes
    ----------
    logits : ndarray of shape (rows,)
        Each run's weighted mean logit of its negatives (first the rows of negatives), then
        of its positives.
    weights : ndarray of shape (rows, 2)
        The run's weight of negatives (rows of negatives) or of positives.
    spread : float
        ``sum w (z - mean)^2`` over the samples: the within-run, within-label spread of the
        logits that pooling removes (0 when nothing is pooled).
    """

    logits: np.ndarray
    weights: np.ndarray
    spread: float


def label_pooled(logits: np.ndarray, weights: np.ndarray, starts: np.ndarray) -> LabelPooled:
    """Each run (beginning at the rows ``starts``) of ``(m, 2)`` weights at ascending
    ``logits``, its negatives at their weighted mean logit and its positives at theirs.

    Examples
    --------
    >>> z = np.array([-1.0, 0.0, 1.0, 3.0])
    >>> w = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0], [0.0, 2.0]])
    >>> pooled = label_pooled(z, w, np.array([0, 2]))
    >>> pooled.logits.tolist(), pooled.weights[:, 1].tolist(), round(pooled.spread, 12)
    ([-0.5, 0.0, 2.3333333333333335], [0.0, 1.0, 3.0], 3.166666666667)
    """
    return _label_rows(*(np.add.reduceat(x, starts, axis=0) for x in _moments(logits, weights)))


def _moments(logits: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per row: ``w``, ``w z`` and ``w z^2``, ``(m, 2)`` each."""
    weighted = weights * logits[:, None]
    return weights, weighted, weighted * logits[:, None]


def _label_rows(w: np.ndarray, wz: np.ndarray, wz2: np.ndarray) -> LabelPooled:
    """:class:`LabelPooled` from each run's sums of ``w``, ``w z`` and ``w z^2``."""
    return _fold_label_rows(w[None], wz[None], wz2[None])[0]


def _fold_label_rows(w: np.ndarray, wz: np.ndarray, wz2: np.ndarray) -> list[LabelPooled]:
    """:func:`_label_rows` of each fold's run sums, ``(folds, runs, 2)`` each: every
    operation once for all folds (about fifteen numpy calls a fold before), the same
    doubles as fold by fold (each fold's spread summed over its own contiguous block)."""
    mean, spread = _run_moments(w, wz, wz2)
    # the columns' rows of positive weight, each fold's negatives first: one mask and two
    # gathers of the transposes for every fold
    keep = w.transpose(0, 2, 1) > 0
    weight = w.transpose(0, 2, 1)[keep]
    means = mean.transpose(0, 2, 1)[keep]
    ends = np.cumsum(np.count_nonzero(keep, axis=2)).tolist()
    rows = np.zeros((len(weight), 2))
    out = []
    for k in range(len(w)):
        start, negatives, stop = ends[2 * k - 1] if k else 0, ends[2 * k], ends[2 * k + 1]
        rows[start:negatives, 0] = weight[start:negatives]
        rows[negatives:stop, 1] = weight[negatives:stop]
        out.append(LabelPooled(means[start:stop], rows[start:stop], float(spread[k])))
    return out


def _run_moments(w: np.ndarray, wz: np.ndarray, wz2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each run's mean logit per label, and ``sum w (z - mean)^2`` over the runs and
    labels, from the runs' sums of ``w``, ``w z`` and ``w z^2``, ``(..., runs, 2)`` each
    (one sum per leading index: numpy's pairwise sum of that index's block, as of the
    block alone)."""
    # divided only where the weight is positive, 0 elsewhere: no warnings to silence
    mean = np.divide(wz, w, out=np.zeros_like(wz), where=w > 0)
    # sum w z^2 - W mean^2 per run and label; rounding may leave a run's tiny bit below 0
    excess = np.maximum(wz2 - wz * mean, 0.0)
    return mean, excess.reshape(*w.shape[:-2], -1).sum(axis=-1)


def pooling_excess(slope: float, pooled: LabelPooled) -> float:
    """How much more the exact training log loss (total) of a fit of ``slope``, fitted on
    ``pooled``, can be than that of the exact fit: ``slope^2 spread / 8``.

    Each label's loss ``log(1 + e^(-+(a + b z)))`` is convex in ``z`` with curvature at most
    ``b^2 / 4``. Moving a run's samples of one label to their weighted mean logit therefore
    lowers their total loss by between 0 (Jensen; the first-order terms cancel at the mean)
    and ``b^2 / 8`` times their ``sum w (z - mean)^2``, for every ``(a, b)``: the pooled
    loss ``L_p`` satisfies ``L_p <= L <= L_p + b^2 spread / 8``. So at the pooled optimum
    ``L(pooled fit) <= L_p(pooled fit) + excess <= L_p(exact fit) + excess <= min L +
    excess``.

    Examples
    --------
    >>> pooled = LabelPooled(np.zeros(1), np.ones((1, 2)), 0.5)
    >>> pooling_excess(2.0, pooled)  # 2^2 * 0.5 / 8
    0.25
    """
    return slope**2 * pooled.spread / 8.0


BINARY_METHODS = ("temperature", "intercept", "platt", "isotonic")
#: The binary maps fitted by Newton's method (:data:`_FITTED`).
_LOGISTIC_METHODS = BINARY_METHODS[:3]
MULTICLASS_METHODS = ("temperature", "isotonic")
CHANGES_DECISIONS = {
    "temperature": "no: keeps the sign of every logit and every argmax (threshold 0.5)",
    "intercept": "yes: it moves the threshold",
    "platt": "yes: its intercept moves the threshold",
    "isotonic": "yes: it reorders ties and moves the threshold",
}


def _fold_weights_from_samples(
    table: ScoreTable, pred: Predictions, folds: int, rng: np.random.Generator
) -> np.ndarray:
    """(folds, rows, 2) weights: each sample in one random fold, on the table's score grid.

    Folds are drawn in an order set by the samples' content (score, label, weight), never
    by their row order, so shuffling the rows changes no number: samples that tie on all
    three are interchangeable.
    """
    w = np.ones(len(pred)) if pred.sample_weight is None else pred.sample_weight
    # sorted by score as well: a binary search per unsorted sample misses the cache at
    # every step, and sorting first costs half as much at 1e6 samples
    keys = (pred.y, pred.prob) if pred.sample_weight is None else (w, pred.y, pred.prob)
    order = np.lexsort(keys)
    rows = np.searchsorted(table.scores, pred.prob[order])
    fold = rng.integers(0, folds, len(pred))
    m = len(table.scores)
    flat = np.bincount(
        (fold * m + rows) * 2 + pred.y[order], weights=w[order], minlength=folds * m * 2
    )
    return flat.reshape(folds, m, 2)


def _fold_weights_by_thinning(
    table: ScoreTable, folds: int, rng: np.random.Generator
) -> np.ndarray:
    """(folds, rows, 2) counts: each cell's count split multinomially into equal folds.

    A cell holding one sample puts it in a uniformly drawn fold; larger counts are split
    by a chain of binomial draws.
    """
    counts = np.rint(table.weights).astype(np.int64).ravel()
    parts = np.zeros((folds, len(counts)))
    single = np.flatnonzero(counts == 1)
    parts[rng.integers(0, folds, len(single)), single] = 1.0
    several = np.flatnonzero(counts > 1)
    remaining = counts[several]
    for k in range(folds - 1):
        take = rng.binomial(remaining, 1.0 / (folds - k))
        parts[k, several] = take
        remaining = remaining - take
    parts[folds - 1, several] = remaining
    return parts.reshape((folds, *table.weights.shape))


def _summary(
    before: dict[str, float],
    method: str,
    totals: np.ndarray,
    total: float,
    n_eff: float,
    spread: float,
    **fitted: Any,
) -> RecalibrationMap:
    """Before/after of one map from its held-out totals (weights summed over the folds);
    ``fitted``: the map's parameters fitted on all samples (its fields, set at once rather
    than by a copy).

    ``totals`` holds the weighted log loss, Brier score, correct decisions, changed
    decisions, the sum and sum of squares of each sample's loss gain (capped loss as
    given minus loss after the map), and the sum of squared capped losses: the gain's
    standard error uses Kish's ``n_eff``, the interval after the map ``spread``.
    """
    loss, brier, correct, changed, gain_sum, gain_sq, _ = totals
    gain = gain_sum / total
    variance = max(gain_sq / total - gain * gain, 0.0) / max(n_eff - 1.0, 1.0)
    return RecalibrationMap(
        log_loss_before=before["log_loss"],
        log_loss_after=loss / total,
        log_loss_gain=gain,
        log_loss_gain_se=math.sqrt(variance),  # np.sqrt's double (both correctly rounded)
        brier_before=before["brier"],
        brier_after=brier / total,
        accuracy_before=before["accuracy"],
        accuracy_after=correct / total,
        decisions_changed=changed / total,
        can_change_decisions=CHANGES_DECISIONS[method],
        log_loss_after_interval=_after_interval(totals, total, spread),
        **fitted,
    )


#: How far the compiled held-out totals may lie from their numpy twin, relative to the
#: largest total's size: the same terms added in another order (the decisions' totals
#: exactly; measured at most 2e-14 on folds of up to 30,000 rows, tested).
HELD_OUT_RTOL = 1e-12


def _held_out_scorer(
    test: np.ndarray,
    before: tuple[np.ndarray, np.ndarray],
    was_decided: np.ndarray,
    threshold: float,
) -> Callable[[np.ndarray, bool], np.ndarray]:
    """The seven held-out totals :func:`_summary` reads, as a function of a map's
    probabilities ``prob`` at rows of ``(negative, positive)`` weights ``test`` whose
    capped losses before the map are ``before`` and decisions ``was_decided``, and of
    ``clipped``: ``prob`` lies within log loss's clip already
    (:func:`~lossgap.core.decompose.log_losses`). The kernels, weight columns and
    threshold are looked up once per fold rather than once per map (four maps a fold, 20
    calls an evaluation).

    Each total is a dot product per label: no ``(rows, 2)`` temporaries (the held-out
    scoring of four maps on every row was most of the recalibration at 1e5 distinct
    scores). Equal to the element-wise sums to rounding. With numba
    (:func:`~lossgap.core.binning.kernel_module`) the seven in one compiled pass over the
    rows, within :data:`HELD_OUT_RTOL` of the numpy path (its twin); above
    :data:`COMPILED_ROWS` rows the pass reads the twin's own logarithms (numpy's
    vectorised ones) and adds in vector lanes: a fold of 20,000 rows about 0.14 -> 0.05
    ms (20 per evaluation at 1e5), its weights as contiguous columns
    (:func:`_fold_weights`).
    """
    kernels = kernel_module("bootstrap_kernels")
    w0, w1 = test[:, 0], test[:, 1]
    if kernels is None:
        return lambda prob, clipped: _held_out_twin(
            prob, test, w0, w1, before, was_decided, threshold, clipped
        )
    common = (w0, w1, before[0], before[1], was_decided, float(threshold))

    def compiled(prob: np.ndarray, clipped: bool) -> np.ndarray:
        prob = np.asarray(prob, dtype=np.float64)
        if len(prob) <= COMPILED_ROWS:
            return kernels.held_out_sums(prob, *common, CLIP_EPS)
        losses = log_losses(prob, clipped=clipped)
        return kernels.held_out_sums_of_losses(prob, *common, *losses)

    return compiled


def _held_out_twin(
    prob: np.ndarray,
    test: np.ndarray,
    w0: np.ndarray,
    w1: np.ndarray,
    before: tuple[np.ndarray, np.ndarray],
    was_decided: np.ndarray,
    threshold: float,
    clipped: bool,
) -> np.ndarray:
    """:func:`_held_out_scorer`'s totals in numpy (the compiled pass's twin), given ``test``'s
    columns ``w0`` and ``w1``."""
    neg, pos = log_losses(prob, clipped=clipped)
    decided = prob >= threshold
    gain_neg, gain_pos = before[0] - neg, before[1] - pos
    return np.array(
        [
            w0 @ neg + w1 @ pos,
            brier_score_total(prob, test),
            w1 @ decided + w0 @ ~decided,
            row_mass(test) @ (decided != was_decided),
            w0 @ gain_neg + w1 @ gain_pos,
            w0 @ (gain_neg * gain_neg) + w1 @ (gain_pos * gain_pos),
            w0 @ (neg * neg) + w1 @ (pos * pos),
        ]
    )


def _fold_weights(
    tally: Tally, pred: Predictions | None, folds: int, rng: np.random.Generator
) -> tuple[list[tuple[np.ndarray, np.ndarray]], str]:
    """Each fold's held-out ``(rows, weights)``: the table's rows its samples occupy and
    their ``(len(rows), 2)`` weights there, each sample in one fold; and the scheme in words.

    Only the rows a fold holds are kept: with distinct scores that is one row in
    ``folds``, and a dense ``(folds, rows, 2)`` array would cost as much to build and read
    as the held-out scoring itself at 1e6 rows.

    A sample is never split across folds: folds are drawn per row when every sample has a
    row of its own (distinct scores), else per sample when the samples are at hand; from
    the table alone, thinning its counts is the same when every weight is 1, and with other
    weights the table's effective counts are thinned (an approximation, named in the
    scheme).
    """
    table = tally.tables[0]
    scheme = f"{folds}-fold cross-fitting over samples"
    if table.bins is None and len(table.scores) == tally.count:
        # every sample has a row of its own (distinct scores): a random fold per row is one
        # per sample, drawn without looking the samples up in the table, and the same for
        # a streamed Tally as for the samples in memory
        fold = rng.integers(0, folds, len(table.scores))
        kernels = kernel_module("bootstrap_kernels")
        if kernels is not None:  # every fold in two compiled passes: the same rows
            # and weights, as contiguous columns (the held-out totals add them in lanes)
            every, weights, starts = kernels.fold_rows(
                fold, folds, table.weights[:, 0], table.weights[:, 1]
            )
            bounds = zip(starts[:-1], starts[1:], strict=True)
            return [(every[a:b], weights[:, a:b].T) for a, b in bounds], scheme
        fold[row_mass(table.weights) <= 0] = folds  # rows of weight 0 are in no fold
        held = []
        for k in range(folds):  # C order: numpy's dot products read these strides
            rows = np.flatnonzero(fold == k)
            held.append((rows, take_rows(table.weights, rows)))
        return held, scheme
    if pred is not None and table.bins is None:
        return _held_rows(_fold_weights_from_samples(table, pred, folds, rng)), scheme
    unit = tally.weight == tally.count == tally.weight_sq
    if unit:  # thinning counts is the same as assigning each sample a random fold
        return (
            _held_rows(_fold_weights_by_thinning(table, folds, rng)),
            f"{folds}-fold cross-fitting (samples split by multinomial thinning of the table)",
        )
    scale = effective_scale(tally)
    counts = replace(table, weights=np.rint(table.weights * scale))
    parts = _fold_weights_by_thinning(counts, folds, rng)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(counts.weights > 0, parts / counts.weights, 1.0 / folds)
    return (
        _held_rows(share * table.weights),
        f"{folds}-fold cross-fitting (weighted table split by thinning its effective counts, "
        "an approximation: the samples are not at hand)",
    )


def _held_rows(parts: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each fold's ``(rows, weights)`` of non-zero weight, from ``(folds, rows, 2)`` parts."""
    out = []
    for test in parts:
        rows = np.flatnonzero(row_mass(test) > 0)
        out.append((rows, test[rows]))
    return out


def _binary_recalibration(
    tally: Tally,
    pred: Predictions | None,
    before: dict[str, float],
    folds: int,
    seed: int,
    spread: float,
) -> Recalibration:
    table = tally.tables[0]
    fold_weights, scheme = _fold_weights(tally, pred, folds, seeded(seed, "folds"))
    total = table.weights.sum()
    scale = effective_scale(tally)
    # each label's capped loss before the maps, as contiguous columns: gathered per fold
    neg_before, pos_before = table_log_losses(table)
    methods = {}
    # every fold's training weights pool into the same runs, at the same scores and logits
    pooling, pooled_table = pooling_of(table, FIT_ROWS)
    trains = _pooled_trains(table, pooling, fold_weights, pooled_table.weights)
    pooled_logits = _pooled_logits(table)
    logits = _table_logits(table)
    # the fits on all samples (the calibration slope's Platt fit is one of them)
    full_temperature, full_platt, full_offset = (
        fit_logistic_table(table, intercept=i, slope=b)
        for i, b in ((False, True), (True, True), (True, False))
    )
    starts = {"temperature": full_temperature, "intercept": full_offset, "platt": full_platt}
    # the folds' logistic fits on their training samples pooled by label, within a proven
    # share of a standard error of the exact fits' training loss (or on `trains` as before)
    mean_loss = weighted_total((neg_before, pos_before), table.weights) / total
    deviations = (_squared_from(neg_before, mean_loss), _squared_from(pos_before, mean_loss))
    variance = weighted_total(deviations, table.weights) / total
    se = np.sqrt(variance / max(total * scale, 1.0))
    masses = [float(train.weights.sum()) for train in trains]
    budgets = [FIT_TOLERANCE * se * mass for mass in masses]
    slope = max(abs(full_temperature.slope), abs(full_platt.slope), 1.0)
    fold_rows = _fold_rows(
        table, logits, fold_weights, budgets, slope
    )
    # each fold's maps are scored only at the rows its held-out samples occupy (about one
    # in `folds` of a table of distinct scores): rows of weight 0 add nothing. What does
    # not depend on the map is taken once per fold, and every map scored on it while it is
    # in the cache; each map's totals are still added fold after fold. Every fold's
    # held-out rows are gathered at once, then sliced fold by fold (the same values)
    sums = {method: np.zeros(7) for method in BINARY_METHODS}
    held_rows = np.concatenate([rows for rows, _ in fold_weights])
    ends = list(accumulate(len(rows) for rows, _ in fold_weights))
    held_neg, held_pos, held_all_logits, held_scores = (
        np.take(values, held_rows) for values in (neg_before, pos_before, logits, table.scores)
    )
    held_decided = held_scores >= tally.threshold  # the gathered decisions
    for k, ((_, test), train) in enumerate(zip(fold_weights, trains, strict=True)):
        fold = slice(ends[k - 1] if k else 0, ends[k])
        loss_before = (held_neg[fold], held_pos[fold])
        held_logits = held_all_logits[fold]
        score = _held_out_scorer(test, loss_before, held_decided[fold], tally.threshold)
        # the fold's three logistic maps fit the same rows; only their (a, b) are read
        pooled = None if fold_rows is None else fold_rows[k]
        solve = None if pooled is None else _logistic_solver(pooled.logits, pooled.weights)
        parameters = []
        for method in _LOGISTIC_METHODS:
            found = None
            if solve is not None and pooled is not None:
                found = solve(*_FITTED[method], starts[method], MAX_NEWTON_STEPS)
                if pooling_excess(found[1], pooled) > budgets[k]:  # its slope steeper
                    found = None  # than guessed: the bound does not hold, fit as before
            if found is None:
                found = _logistic_solver(pooled_logits, train.weights)(
                    *_FITTED[method], starts[method], MAX_NEWTON_STEPS
                )
            parameters.append(found[:2])
        for method, prob in zip(
            _LOGISTIC_METHODS, _logistic_maps(parameters, held_logits), strict=True
        ):
            sums[method] += score(prob, CLIP >= CLIP_EPS)
        prob, clipped = _isotonic_held_out(train, held_scores[fold], scale, masses[k])
        sums["isotonic"] += score(prob, clipped)
    fitted: dict[str, dict[str, Any]] = {
        "temperature": {"temperature": _temperature_of(full_temperature)},
        "intercept": {"intercept": full_offset.intercept},
        "platt": {
            "intercept": full_platt.intercept,
            "slope": full_platt.slope,
            "separable": full_platt.separable,
        },
        "isotonic": {},
    }
    for method in BINARY_METHODS:
        methods[method] = _summary(
            before, method, sums[method], total, total * scale, spread, **fitted[method]
        )
    return Recalibration(methods, scheme=scheme, folds=folds, seed=seed)


def _fold_rows(
    table: ScoreTable,
    logits: np.ndarray,
    held_out: list[tuple[np.ndarray, np.ndarray]],
    budgets: list[float],
    slope: float,
) -> list[LabelPooled] | None:
    """Each fold's training samples (the table less the fold's held-out ``(rows,
    weights)``) pooled by label (:func:`label_pooled`) into runs of logits of one width,
    the widest (halving from the width a uniform spread would allow) whose
    :func:`pooling_excess` at ``slope`` is within every fold's budget; None when the runs
    would not halve the rows (fit as before).

    The runs are chosen on the whole table: a fold's spread is at most the whole table's
    (its samples are a subset, and each run's mean minimises its own spread). A fold's run
    sums are the whole table's less its held-out rows' (a fifth of the rows).
    """
    every = np.arange(len(logits))
    budget = min(budgets)
    # runs of width d hold a spread of about W d^2 / 12: start where that meets the budget
    width = float(np.sqrt(96.0 * budget / table.weights.sum())) / slope
    for _ in range(8):
        if not width > 0:
            return None
        cells = np.floor(logits / width)
        # np.diff(cells, prepend=-np.inf) != 0 without its concatenation: the first row
        # always begins a run (its difference is +inf, or NaN)
        change = np.empty(len(cells), dtype=bool)
        change[:1] = True
        np.not_equal(np.subtract(cells[1:], cells[:-1]), 0, out=change[1:])
        starts = np.flatnonzero(change)
        if 2 * len(starts) > len(table.scores):
            return None
        # summed per run, not differenced from cumulative sums: as cheap for the one to
        # three widths tried, and no cancellation in a run's spread
        run = _run_of_rows(starts, len(logits))
        whole = list(_held_run_sums(run, len(starts), every, table.weights, logits))
        if slope**2 * float(_run_moments(*whole)[1]) / 8.0 <= budget:
            return pooled_folds(logits, starts, whole, held_out, run)
        width /= 2
    return None


def pooled_folds(
    logits: np.ndarray,
    starts: np.ndarray,
    whole: list[np.ndarray],
    held_out: list[tuple[np.ndarray, np.ndarray]],
    run: np.ndarray | None = None,
) -> list[LabelPooled]:
    """Each fold's training samples pooled by label into the runs beginning at ``starts``:
    :func:`label_pooled` of the table less the fold's held-out ``(rows, weights)``, from
    the runs' sums over the whole table (``whole``: of ``w``, ``w z``, ``w z^2``) less
    the held-out rows' own (``run``: each row's run, when known)."""
    run = _run_of_rows(starts, len(logits)) if run is None else run
    held = [_held_run_sums(run, len(starts), rows, test, logits) for rows, test in held_out]
    # every fold's sums in one (folds, 3, runs, 2) array: each the same difference
    sums = np.subtract(np.asarray(whole), np.asarray(held))
    _clear_residue(sums[:, 0], whole[0])
    return _fold_label_rows(sums[:, 0], sums[:, 1], sums[:, 2])


def _pooled_trains(
    table: ScoreTable,
    pooling: Pooling,
    held_out: list[tuple[np.ndarray, np.ndarray]],
    whole: np.ndarray | None = None,
) -> list[ScoreTable]:
    """Each fold's training weights (the table less its held-out ``(rows, weights)``)
    pooled into ``pooling``'s runs: the whole table's run sums (``whole``, when known)
    less the held-out rows' (a fifth of the rows), rather than pooling a copy of the
    table per fold."""
    if pooling.starts is None:  # every fold's copy of the table in one array, less its
        # held-out rows in one subtraction (each fold's rows distinct: the same doubles)
        trains = np.repeat(table.weights[None], len(held_out), axis=0)
        lengths = [len(rows) for rows, _ in held_out]
        fold = np.repeat(np.arange(len(held_out)), lengths)
        rows = np.concatenate([rows for rows, _ in held_out])
        trains[fold, rows] -= np.concatenate([test for _, test in held_out])
        return [pooling.table(train) for train in trains]
    whole = pooling.weights(table.weights) if whole is None else whole
    run = _run_of_rows(pooling.starts, len(table.scores))
    return [
        ScoreTable(pooling.scores, _training_run_weights(run, rows, test, whole))
        for rows, test in held_out
    ]


def _training_run_weights(
    run: np.ndarray, rows: np.ndarray, held: np.ndarray, whole: np.ndarray
) -> np.ndarray:
    """The run sums ``whole`` less those of the weights ``held`` at ascending ``rows``
    (:func:`_held_run_sums`), rounding residues cleared (:func:`_clear_residue`); with
    numba in one compiled pass with no temporaries, the same doubles given the same held
    sums (within :data:`RUN_SUMS_RTOL` of this twin)."""
    kernels = kernel_module("bootstrap_kernels")
    if kernels is not None:
        return kernels.training_run_weights(run, rows, held[:, 0], held[:, 1], whole)
    return _clear_residue(whole - _held_run_sums(run, len(whole), rows, held)[0], whole)


def _run_of_rows(starts: np.ndarray, rows: int) -> np.ndarray:
    """Each of ``rows`` rows' run, for runs beginning at the rows ``starts`` (from 0)."""
    run = np.zeros(rows, dtype=np.int64)
    run[starts[1:]] = 1
    return np.cumsum(run)


#: How far the compiled run sums of :func:`_held_run_sums` may lie from their numpy twin,
#: relative to the sum of the magnitudes added (the same terms in another order: a
#: reduceat sums a long run pairwise; whole-number weights add up exactly either way).
RUN_SUMS_RTOL = 1e-13


def _held_run_sums(
    run: np.ndarray,
    runs: int,
    rows: np.ndarray,
    held: np.ndarray,
    logits: np.ndarray | None = None,
) -> np.ndarray:
    """``(1, runs, 2)`` sums per run of the weights ``held`` at ascending ``rows`` (whose
    runs are ``run[rows]``); with ``logits``, ``(3, runs, 2)``: also of ``w z`` and
    ``w z^2`` (:func:`_moments`) at the rows' logits.

    The held-out rows ascend, so each run's are adjacent: summed per run by reduceat (a
    bincount scatters at random into the runs, several times slower). With numba
    (:func:`~lossgap.core.binning.kernel_module`), one compiled pass over the rows with no
    temporaries of the fold's size, within :data:`RUN_SUMS_RTOL` of this twin: the folds'
    pooled rows and training tables of 1e5 distinct scores, 5.0 -> 2.1 ms.
    """
    moments = logits is not None
    kernels = kernel_module("bootstrap_kernels")
    if kernels is not None:
        z = np.empty(0) if logits is None else np.asarray(logits, dtype=np.float64)
        return kernels.held_run_sums(run, rows, held[:, 0], held[:, 1], z, runs, moments)
    values = _moments(np.take(logits, rows), held) if logits is not None else (held,)
    part = np.zeros((len(values), runs, 2))
    if len(rows):
        held_run = run[rows]
        first = np.flatnonzero(np.diff(held_run, prepend=-1) != 0)
        for k, value in enumerate(values):
            part[k, held_run[first]] = np.add.reduceat(value, first, axis=0)
    return part


def _clear_residue(weights: np.ndarray, whole: np.ndarray) -> np.ndarray:
    """``weights`` (run sums less held-out ones) with 0 where a run whose samples are all
    held out keeps a rounding residue (under 1e-9 of its ``whole`` weight), not a weight."""
    weights[weights <= 1e-9 * whole] = 0.0
    return weights


def _squared_from(values: np.ndarray, centre: float) -> np.ndarray:
    """``(values - centre) ** 2`` in one array (the same doubles)."""
    out = np.subtract(values, centre)
    return np.square(out, out=out)


def prediction_spread(n_eff: float, confidence: float) -> float:
    """Half-width per standard deviation of one loss, of the interval where a map's mean
    held-out log loss on a new sample of the same (effective) size should fall.

    The cross-fitted mean and the new sample's mean each vary by ``sd / sqrt(n)``, so their
    difference by ``sd sqrt(2 / n)``: ``z sqrt(2 / n)``.

    Examples
    --------
    >>> round(prediction_spread(200, 0.95), 4)
    0.196
    """
    return z_value(confidence) * float(np.sqrt(2.0 / max(n_eff, 1.0)))


def _after_interval(sums: np.ndarray, total: float, spread: float) -> list[float]:
    """``log_loss_after_interval`` from the held-out totals: ``sums[0]`` the weighted log
    loss, ``sums[6]`` the weighted sum of squared (capped) losses."""
    mean = sums[0] / total
    half = spread * math.sqrt(max(sums[6] / total - mean * mean, 0.0))  # as np.sqrt
    return [float(mean - half), float(mean + half)]


def _temperature_of(fit: LogisticFit) -> float:
    return float(1.0 / fit.slope) if fit.slope > 0 else float("inf")


def calibration_fit(tally: Tally) -> LogisticFit | None:
    """Logistic recalibration fitted on all samples (binary): the calibration slope/intercept.

    The covariance is for importance weights (Kish's effective count, invariant to the
    weights' scale). None when the logits do not spread (fewer than two distinct scores, or
    a spread under MIN_LOGIT_SPREAD): a slope needs more than one prediction to tilt.
    """
    table = tally.tables[0]
    z = _table_logits(table)
    mass = row_mass(table.weights)
    centre = float(mass @ z / mass.sum())
    spread = float(np.sqrt(mass @ _squared_from(z, centre) / mass.sum()))
    if len(table.scores) < 2 or not spread >= MIN_LOGIT_SPREAD:
        return None
    fit = fit_logistic_table(table, intercept=True)
    return replace(fit, covariance=fit.covariance / effective_scale(tally))


# -- multiclass: maps need the samples -------------------------------------------------------


#: Fits on all samples, kept per Predictions (validated predictions do not change): the
#: calibration slope and the temperature map both need this one, the costliest fit.
_FULL_FITS: WeakKeyDictionary[Predictions, tuple[float, float]] = WeakKeyDictionary()
#: The temperature problem of the latest fit on all samples and each sample's terms at
#: its optimum, until the cross-fitting takes them (the folds start from there); one entry
#: at most, so models evaluated one after another (compare) do not each keep theirs.
_AT_FULL_FIT: WeakKeyDictionary[Predictions, tuple[_Temperature, np.ndarray | None]] = (
    WeakKeyDictionary()
)


def multiclass_calibration_slope(pred: Predictions) -> tuple[float, float]:
    """Inverse temperature fitted on all samples and its variance: the multiclass slope.

    The variance is for importance weights (Kish's effective count)."""
    pred = in_content_order(pred)
    if pred not in _FULL_FITS:
        w = np.ones(len(pred)) if pred.sample_weight is None else pred.sample_weight
        problem = _Temperature.of_transposed(_log_probs_t(pred), pred.y)
        beta, variance, terms = problem.fit_with_terms(w, third=True)
        _FULL_FITS[pred] = (beta, variance * float(w @ w / w.sum()))
        _AT_FULL_FIT.clear()
        _AT_FULL_FIT[pred] = (problem, terms)
    return _FULL_FITS[pred]


def _log_probs_t(pred: Predictions) -> np.ndarray:
    """``log p`` (or the logits) as contiguous class rows ``(k, n)``, from one copy."""
    if pred.logits is not None:
        return np.ascontiguousarray(pred.logits.T)
    log_prob_t = np.clip(pred.class_rows(), CLIP, 1.0)  # a copy of the kept class rows
    return np.log(log_prob_t, out=log_prob_t)


#: A fold's temperature is taken one Newton step from the all-sample fit, without a pass
#: over the samples, when the step's error (its cubic term) is below this share of the
#: fit's standard error (:meth:`_Temperature.fit_near`).
ONE_STEP_SE = 1e-3
#: Samples per block of the temperature's passes (:meth:`_Temperature.parts`): a
#: ``(k, block)`` array of 10 classes, 1.3 MiB, stays in the cache between operations.
TEMPERATURE_BLOCK = 16_384


def _converged(loss: float, grad: float, hess: float) -> bool:
    """Newton's stopping rule: the next step would lower the loss by a negligible share."""
    return bool(hess <= 0 or grad * grad / (2 * hess) <= 1e-12 * max(loss, 1.0))


@dataclass(frozen=True)
class _Temperature:
    """The multiclass temperature problem: minimise the weighted loss of ``softmax(b log p)``.

    ``log_prob_t`` is ``log p`` transposed, ``(k, n)``: reductions over classes then run
    along contiguous rows, several times faster than over a short last axis.
    """

    log_prob_t: np.ndarray
    true_log_prob: np.ndarray
    #: Each sample's largest ``log p``: ``max_k b log p_k`` is ``b`` times it for ``b >= 0``,
    #: exactly (rounding is monotone), without a pass over the classes. Where it is 0, its
    #: sign cannot change :meth:`parts` (``b log p - top`` and ``top + log(total)``, with
    #: ``log(total) >= +0``, are the same doubles either way).
    highest: np.ndarray

    @classmethod
    def of(cls, log_prob: np.ndarray, y: np.ndarray) -> _Temperature:
        return cls.of_transposed(np.ascontiguousarray(log_prob.T), y)

    @classmethod
    def of_transposed(cls, log_prob_t: np.ndarray, y: np.ndarray) -> _Temperature:
        """The problem of ``log p`` as class rows ``(k, n)``. From
        :data:`~lossgap.core.predictions.KERNEL_MIN_CELLS` cells, where the numba kernels
        are in use, the true class's ``log p`` and the largest in one compiled pass
        (:func:`~lossgap.core.multiclass_kernels.true_and_largest`): the same values."""
        kernels = multiclass_kernels(log_prob_t)
        if kernels is None:
            return cls(log_prob_t, log_prob_t[y, np.arange(len(y))], log_prob_t.max(axis=0))
        true_log_prob, largest = np.empty(len(y)), np.empty(len(y))
        kernels.true_and_largest(log_prob_t, y, true_log_prob, largest)
        return cls(log_prob_t, true_log_prob, largest)

    def parts(self, b: float, *, third: bool = False) -> np.ndarray:
        """``(3, n)``: each sample's loss and its first two derivatives in ``b``, one pass.

        With ``q = softmax(b log p)``, the gradient is ``E_q[log p] - log p_y`` and the
        curvature ``Var_q[log p]``. ``third=True`` adds a fourth row, the third derivative
        ``E_q[(log p - E_q[log p])^3]`` (what :meth:`fit_near` needs to skip a pass).

        The pass runs over blocks of ``TEMPERATURE_BLOCK`` samples in one ``(k, block)``
        array that stays in cache: each sample's sums over its classes are the same
        additions in the same order as over all samples at once, so the rows are the same
        doubles, at about half the time (the whole ``(k, n)`` array went through memory
        once per operation: 74 against 40 ms a pass at 10^6 x 10).

        From :data:`~lossgap.core.predictions.KERNEL_MIN_CELLS` cells, where the numba
        kernels are in use, what follows the ``exp`` (the three products and four class
        sums, then the moments) runs in one compiled pass over the block
        (:func:`~lossgap.core.multiclass_kernels.temperature_moments`): the same
        operations in the same order, the same doubles (tested against this numpy path).
        The ``exp`` and ``log`` stay in numpy, SIMD there and scalar in numba.
        """
        k, n = self.log_prob_t.shape
        out = np.empty((4 if third else 3, n))
        q = np.empty((k, min(n, TEMPERATURE_BLOCK)))
        extreme = self.highest if b >= 0 else None
        kernels = multiclass_kernels(self.log_prob_t)
        kept = np.empty(min(n, TEMPERATURE_BLOCK))  # the kernel's class sums of a block
        for start in range(0, n, TEMPERATURE_BLOCK):
            stop = min(start + TEMPERATURE_BLOCK, n)
            log_p, block = self.log_prob_t[:, start:stop], q[:, : stop - start]
            true_log_p = self.true_log_prob[start:stop]
            np.multiply(log_p, b, out=block)
            top = b * (log_p.min(axis=0) if extreme is None else extreme[start:stop])
            block -= top
            np.exp(block, out=block)
            if kernels is not None:
                total = kept[: stop - start]
                kernels.temperature_moments(
                    q, self.log_prob_t, self.true_log_prob, start, total, out, third
                )
                out[0, start:stop] = top + np.log(total) - b * true_log_p
                continue
            total = block.sum(axis=0)
            block *= log_p
            first = block.sum(axis=0) / total
            block *= log_p
            second = block.sum(axis=0) / total
            out[0, start:stop] = top + np.log(total) - b * true_log_p
            out[1, start:stop] = first - true_log_p
            out[2, start:stop] = second - first**2
            if third:
                block *= log_p
                out[3, start:stop] = block.sum(axis=0) / total - first * (
                    3 * second - 2 * first**2
                )
        return out

    def apply(self, b: float | np.ndarray, rows: np.ndarray | slice) -> np.ndarray:
        """``softmax(b log p)`` of the samples ``rows``, ``(k, len(rows))``: scipy's
        ``softmax`` bit for bit, in one array instead of three. ``b``: one inverse
        temperature, or one per sample of ``rows``."""
        q = self.log_prob_t[:, rows] * b
        q -= q.max(axis=0)
        np.exp(q, out=q)
        q /= q.sum(axis=0)
        return q

    def held_out_totals(
        self,
        b: np.ndarray,
        y: np.ndarray,
        w: np.ndarray,
        decided_before: np.ndarray,
        loss_before: np.ndarray,
        kernels: Any = None,
    ) -> np.ndarray:
        """:func:`_held_out_totals` of :meth:`apply` over every sample, each at its own
        ``b`` (its fold's), in blocks of ``TEMPERATURE_BLOCK`` samples that stay in the
        cache: each sample's mapped probabilities are the same doubles as its fold's
        :meth:`apply`, the totals the same sums added in another order (block by block,
        not fold by fold). ``kernels``: each block's terms added by the numba kernel
        (:func:`~lossgap.core.predictions.multiclass_kernels`; within 1e-12 relative)."""
        if kernels is None:
            totals = np.zeros(7)
            for start in range(0, len(y), TEMPERATURE_BLOCK):
                rows = slice(start, start + TEMPERATURE_BLOCK)
                totals += _held_out_totals(
                    self.apply(b[rows], rows),
                    y[rows],
                    w[rows],
                    decided_before[rows],
                    loss_before[rows],
                )
            return totals
        acc = np.zeros((7, 2))  # each total and its compensation
        for start in range(0, len(y), TEMPERATURE_BLOCK):
            rows = slice(start, start + TEMPERATURE_BLOCK)
            kernels.held_out_terms(
                self.apply(b[rows], rows), start, y, w, decided_before, loss_before, CLIP, acc
            )
        return acc.sum(axis=1)

    def fit(
        self, w: np.ndarray, start: float = 1.0, at_start: np.ndarray | None = None
    ) -> tuple[float, float]:
        """Newton's method from ``start`` (``at_start``: the weighted loss, gradient and
        curvature there, when known). Returns ``(b, variance of b)``."""
        beta, variance, _ = self.fit_with_terms(w, start, at_start)
        return beta, variance

    def fit_with_terms(
        self,
        w: np.ndarray,
        start: float = 1.0,
        at_start: np.ndarray | None = None,
        *,
        third: bool = False,
    ) -> tuple[float, float, np.ndarray | None]:
        """:meth:`fit`, and each sample's :meth:`parts` at the ``b`` returned (None when
        Newton's method stayed at ``start`` with ``at_start`` given; ``third``: with the
        third derivative's row)."""
        beta = start
        terms = None
        if at_start is None:
            terms = self.parts(beta, third=third)
            at_start = terms @ w
        loss, grad, hess = at_start[:3]
        for _ in range(100):
            if _converged(loss, grad, hess):
                break
            step, size = grad / hess, 1.0
            tried = self.parts(beta - step, third=third)
            candidate = tried @ w
            while candidate[0] > loss and size > 1e-10:  # halve the step until the loss drops
                size /= 2
                tried = self.parts(beta - size * step, third=third)
                candidate = tried @ w
            if candidate[0] > loss:
                break
            beta -= size * step
            terms = tried
            loss, grad, hess = candidate[:3]
        return float(beta), (1.0 / hess if hess > 0 else float("inf")), terms

    def fit_near(
        self, w: np.ndarray | Callable[[], np.ndarray], start: float, at_start: np.ndarray
    ) -> float:
        """:meth:`fit` from a ``start`` near the optimum, often without a pass.

        ``w``: the weights, or a function that makes them, called only when :meth:`fit`
        needs them (a fold's training weights are an array of ``n``).

        ``at_start``: the weighted loss and its first three derivatives ``f1, f2, f3`` at
        ``start`` (``parts(start, third=True) @ w``). One Newton step ``f1 / f2`` lands
        within ``|f3| step^2 / (2 f2)`` of the optimum, to leading order (the loss's cubic
        term). When that is below ``ONE_STEP_SE`` of the fit's standard error
        ``1 / sqrt(f2)``, the step is taken without a pass over the samples; else
        :meth:`fit` iterates from ``start`` as before. A fold's optimum lies about half a
        standard error from the fit on all samples, so the error shrinks as ``1 / n``
        against a standard error of ``1 / sqrt(n)``: at 10^6 samples one step suffices.
        """
        loss, grad, hess, third = at_start
        if _converged(loss, grad, hess):
            return float(start)
        step = grad / hess
        if abs(third) * step * step / (2 * hess) <= ONE_STEP_SE / np.sqrt(hess):
            return float(start - step)
        return self.fit(w() if callable(w) else w, start, at_start[:3])[0]


def fit_multiclass_temperature(
    log_prob: np.ndarray, y: np.ndarray, w: np.ndarray, *, start: float = 1.0
) -> tuple[float, float]:
    """Inverse temperature ``b`` minimising the weighted loss of ``softmax(b log p)``.

    Newton's method on a convex 1-D problem from ``start``, one pass over the samples per
    step. Samples of weight 0 take no part. Returns ``(b, variance of b)``, the variance
    from the inverse Fisher information at the optimum.
    """
    return _Temperature.of(log_prob, y).fit(w, start)


#: Bin resolution of the one-vs-rest isotonic maps (:func:`lossgap.core.tally.bin_keys`): 32
#: bins per factor of two in ``p`` or ``1 - p``.
ISOTONIC_BIN_BITS = 5


@dataclass(frozen=True)
class _ClassBins:
    """One class column's samples in fixed score bins, with each fold's weights per bin."""

    index: np.ndarray  # bin of each sample
    weights: np.ndarray  # (folds, bins, 2): weight of other classes / of this class
    score_sum: np.ndarray  # (folds, bins): weighted sum of the scores

    def fit(self, fold: int) -> IsotonicFit:
        """The isotonic map fitted on every fold but ``fold``, one row per occupied bin."""
        return self._fit(fold)[1]

    def _fit(self, fold: int) -> tuple[np.ndarray, IsotonicFit]:
        train = self.weights.sum(axis=0) - self.weights[fold]
        mass = train.sum(axis=1)
        occupied = mass > 0
        scores = (self.score_sum.sum(axis=0) - self.score_sum[fold])[occupied] / mass[occupied]
        return occupied, fit_isotonic(scores, *train[occupied].T)

    def predict(self, fold: int, rows: np.ndarray, scores: np.ndarray) -> np.ndarray:
        """``fit(fold).predict(scores)`` of the samples ``rows``, bit for bit, without
        ``np.interp``'s binary search: a knot is the mean score of an occupied bin, so
        the knots at most a sample's score are those of the occupied bins below its own,
        and its own bin's knot when at most the score."""
        occupied, iso = self._fit(fold)
        knots, values = iso.knots, iso.values
        own = self.index[rows]
        knot_of_bin = np.full(len(occupied), np.inf)
        knot_of_bin[occupied] = knots
        # np.searchsorted(knots, scores, side="right"), from the bins
        at_most = (np.cumsum(occupied) - occupied)[own] + (knot_of_bin[own] <= scores)
        # np.interp's slope between knots i - 1 and i, 0 beyond either end
        slopes = np.zeros(len(knots) + 1)
        slopes[1:-1] = np.diff(values) / np.diff(knots)
        left = np.maximum(at_most - 1, 0)
        return slopes[at_most] * (scores - knots[left]) + values[left]


def _class_bins(
    score: np.ndarray,
    positive: np.ndarray | tuple[np.ndarray, int],
    w: np.ndarray | None,
    fold: np.ndarray,
    folds: int,
    index: np.ndarray | None = None,
    kernels: Any = None,
) -> _ClassBins:
    """``w=None``: unit weights, counted without them (the same doubles as weights of 1:
    whole counts, and scores times 1.0 are the scores). ``positive`` as ``(labels,
    class)``: the pass of ``kernels`` (:func:`~lossgap.core.predictions.multiclass_kernels`),
    the same bins and sums, each sample's bin written into ``index`` (int32, a row of the
    held-out kernel's ``(k, n)`` array)."""
    if isinstance(positive, tuple):
        assert kernels is not None and index is not None  # the kernel's arguments
        labels, cls = positive
        weights, score_sum = kernels.class_bins(
            score, labels, cls, w, fold, folds, *bin_key_shift(ISOTONIC_BIN_BITS), index
        )
        return _ClassBins(index, weights, score_sum)
    keys = bin_keys(score, ISOTONIC_BIN_BITS)
    offset = keys - keys.min()
    m = int(offset.max()) + 1
    cell = fold * m + offset
    # kept for the folds' predictions: 4 bytes a sample (ten columns of 10^6: 40 MB less)
    index = offset.astype(np.int32)
    weights = np.bincount(cell * 2 + positive, weights=w, minlength=folds * m * 2)
    score_sum = np.bincount(cell, weights=score if w is None else w * score, minlength=folds * m)
    return _ClassBins(
        index, weights.reshape(folds, m, 2).astype(np.float64), score_sum.reshape(folds, m)
    )


def _training(w: np.ndarray, fold: np.ndarray, k: int) -> np.ndarray:
    """The weights of the samples outside fold ``k`` (0 inside it)."""
    return w * (fold != k)


def _multiclass_recalibration(
    pred: Predictions, before: dict[str, float], folds: int, seed: int, spread: float
) -> Recalibration:
    pred = in_content_order(pred)  # each row's fold depends on the data, not its order
    rng = np.random.default_rng(seed)
    fold = rng.integers(0, folds, len(pred))
    w = np.ones(len(pred)) if pred.sample_weight is None else pred.sample_weight
    full_beta, _ = multiclass_calibration_slope(pred)
    # each fold's fit starts from the all-sample fit, its terms there from the fit's last
    # pass (or one shared pass when that fit was taken already)
    temperature, terms = _AT_FULL_FIT.pop(pred, (None, None))
    if temperature is None:
        temperature = _Temperature.of_transposed(_log_probs_t(pred), pred.y)
    if terms is None:
        terms = temperature.parts(full_beta, third=True)
    # unit weights: each term as it is (1.0 x a term is the term), no product of n
    at_full = np.stack([
        np.bincount(fold, weights=part if pred.sample_weight is None else w * part, minlength=folds)
        for part in terms
    ])
    # class columns as contiguous rows (k, n): gathers and reductions run along them
    prob_t = pred.class_rows()
    kernels = multiclass_kernels(pred.prob)
    index = None if kernels is None else np.empty(prob_t.shape, dtype=np.int32)
    bins = [
        _class_bins(
            prob_t[c],
            pred.y == c if kernels is None else (pred.y, c),
            pred.sample_weight,
            fold,
            folds,
            None if index is None else index[c],
            kernels,
        )
        for c in range(len(prob_t))
    ]
    decided_before = pred.predicted()
    total = w.sum()
    scale = float(total / (w @ w))
    if pred.logits is None:
        # log(clip(p_y)): the temperature problem's true log p (the same doubles), no gather
        loss_before = -temperature.true_log_prob
    else:
        loss_before = -np.log(np.clip(prob_t[pred.y, np.arange(len(pred))], CLIP, 1.0))
    isotonic_sums = np.zeros(7)
    betas = np.full(folds, full_beta)  # each fold's temperature map
    tested = np.bincount(fold, minlength=folds) > 0
    train_weights = total - np.bincount(fold, weights=w, minlength=folds)
    # the kernel reads every fold's maps at once: padded tables of classes x folds x bins,
    # past FOLD_MAP_CELLS (many classes) the maps go fold by fold (the bins are numpy's)
    widest = max(len(column.score_sum[0]) for column in bins)
    if kernels is not None and len(bins) * folds * widest > FOLD_MAP_CELLS:
        kernels = None
    for k in map(int, np.flatnonzero(tested)):
        train_terms = at_full.sum(axis=1) - at_full[:, k]
        betas[k] = temperature.fit_near(partial(_training, w, fold, k), full_beta, train_terms)
        if kernels is not None:
            continue
        test = np.flatnonzero(fold == k)
        isotonic = np.stack([
            _clip_isotonic(column.predict(k, test, prob_t[c, test]), train_weights[k] * scale)
            for c, column in enumerate(bins)
        ])
        isotonic_sums += _held_out_totals(
            isotonic / isotonic.sum(axis=0),
            pred.y[test],
            w[test],
            decided_before[test],
            loss_before[test],
        )
    if kernels is not None:  # every fold's samples in one pass
        kernels.isotonic_held_out(
            prob_t, index, fold, pred.y, pred.sample_weight, decided_before, loss_before,
            *_fold_maps(bins, np.flatnonzero(tested)),
            np.array([_clip_isotonic_eps(t * scale) for t in train_weights]),
            CLIP, isotonic_sums,
        )
    sums = {
        "temperature": temperature.held_out_totals(
            betas[fold], pred.y, w, decided_before, loss_before, multiclass_kernels(pred.prob)
        ),
        "isotonic": isotonic_sums,
    }
    methods = {
        method: _summary(before, method, sums[method], total, total * scale, spread)
        for method in MULTICLASS_METHODS
    }
    methods["temperature"] = replace(
        methods["temperature"],
        temperature=float(1.0 / full_beta) if full_beta > 0 else float("inf"),
    )
    return Recalibration(
        methods,
        scheme=f"{folds}-fold cross-fitting over samples",
        folds=folds,
        seed=seed,
        note=(
            "Platt scaling is binary only; isotonic is one-vs-rest on fixed score bins "
            f"({2**ISOTONIC_BIN_BITS} per factor of two in p or 1 - p), renormalised"
        ),
    )


#: Most cells (classes x folds x bins) of each padded table :func:`_fold_maps` lays out
#: for the held-out kernel (8 MiB of doubles; ten classes take about 50,000).
FOLD_MAP_CELLS = 1 << 20


def _fold_maps(bins: list[_ClassBins], folds: np.ndarray) -> tuple[np.ndarray, ...]:
    """Each class's isotonic map fitted without each fold of ``folds``, as the numba
    kernel of the held-out totals reads them (:meth:`_ClassBins.predict`'s arrays),
    ``(classes, folds, ...)`` padded: the occupied bins below each bin, each bin's knot
    (inf where unoccupied), and the knots, values and slopes (0 beyond either end)."""
    fits = [[column._fit(int(f)) for f in folds] for column in bins]
    width = max(len(column.score_sum[0]) for column in bins)
    knots = max(len(iso.knots) for row in fits for _, iso in row)
    shape = (len(bins), int(folds.max()) + 1 if len(folds) else 0)
    below = np.zeros((*shape, width), dtype=np.int64)
    knot_of_bin = np.full((*shape, width), np.inf)
    at_knots = np.zeros((2, *shape, knots))
    slopes = np.zeros((*shape, knots + 1))
    for c, row in enumerate(fits):
        for f, (occupied, iso) in zip(folds, row, strict=True):
            m, size = len(occupied), len(iso.knots)
            below[c, f, :m] = np.cumsum(occupied) - occupied
            knot_of_bin[c, f, :m][occupied] = iso.knots
            at_knots[:, c, f, :size] = iso.knots, iso.values
            slopes[c, f, 1:size] = np.diff(iso.values) / np.diff(iso.knots)
    return below, knot_of_bin, at_knots[0], at_knots[1], slopes


def _first_largest(prob_t: np.ndarray) -> np.ndarray:
    """``np.argmax(prob_t, axis=0)`` of finite class rows ``(k, n)``: the first row equal
    to each column's maximum (ties to the lowest class), at about half the cost (numpy's
    argmax over the first axis reads the doubles with a stride; its argmax over booleans
    stops at the first true).

    Examples
    --------
    >>> _first_largest(np.array([[0.2, 0.5, 0.4], [0.8, 0.5, 0.1], [0.0, 0.0, 0.5]])).tolist()
    [1, 0, 2]
    """
    return (prob_t == prob_t.max(axis=0)).argmax(axis=0)


def _held_out_totals(
    prob_t: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    decided_before: np.ndarray,
    loss_before: np.ndarray,
) -> np.ndarray:
    """Weighted (log loss, Brier, correct, changed decisions, gain, gain squared, squared
    capped loss) of mapped probabilities given class by sample, ``(k, n)``;
    ``loss_before`` is each sample's capped loss as given."""
    true_prob = prob_t[y, np.arange(len(y))]
    decided = _first_largest(prob_t)
    with np.errstate(divide="ignore"):
        loss = w @ -np.log(true_prob)
    gain = loss_before + np.log(np.clip(true_prob, CLIP, 1.0))
    brier = w @ (np.einsum("ij,ij->j", prob_t, prob_t) - 2 * true_prob + 1)
    capped = -np.log(np.clip(true_prob, CLIP, 1.0))
    return np.array(
        [
            loss,
            brier,
            w @ (decided == y),
            w @ (decided != decided_before),
            w @ gain,
            w @ gain**2,
            w @ capped**2,
        ]
    )


def fit_map(method: str, tally: Tally, pred: Predictions | None = None) -> dict[str, Any]:
    """The parameters of ``method`` fitted on all samples, as the folds fit and apply it.

    The map a user ships (:class:`lossgap.Calibrator`): the same fit as on each fold's
    training part, on every sample, with the same clipping. Binary maps need only the
    Tally; multiclass maps need the samples.

    Returns
    -------
    dict
        temperature: ``{"temperature"}``; intercept and platt: ``{"intercept", "slope"}``
        (applied to :func:`logits_of` the probability, output clipped to
        ``[CLIP, 1 - CLIP]``; the intercept map's slope is 1); isotonic:
        ``{"columns": [{"knots", "values", "clip"}, ...]}`` per class column (one for
        binary), applied by linear interpolation, constant beyond the end knots, then
        clipped to ``[clip, 1 - clip]`` (multiclass: then each row renormalised).
    """
    if tally.task == "binary":
        table = tally.tables[0]
        scale = effective_scale(tally)
        if method == "isotonic":
            pooled = pool_table(table, FIT_ROWS)
            iso = fit_isotonic(pooled.scores, *pooled.weights.T)
            clip = _clip_isotonic_eps(table.weights.sum() * scale)
            return {"columns": [_isotonic_parameters(iso, clip)]}
        if method == "temperature":
            return {"temperature": _temperature_of(fit_logistic_table(table, intercept=False))}
        fit = fit_logistic_table(table, intercept=True, slope=method == "platt")
        return {"intercept": fit.intercept, "slope": fit.slope}
    if pred is None:
        msg = "multiclass maps need the samples"
        raise ValueError(msg)
    if method == "temperature":
        beta, _ = multiclass_calibration_slope(pred)
        return {"temperature": float(1.0 / beta) if beta > 0 else float("inf")}
    pred = in_content_order(pred)  # the sums of the cross-fitting code's order
    w = np.ones(len(pred)) if pred.sample_weight is None else pred.sample_weight
    clip = _clip_isotonic_eps(float(w.sum() ** 2 / (w @ w)))
    # one "fold" holding every sample and an empty one: fitting on all but the empty fold
    # is the cross-fitting code's fit on all samples
    everyone = np.zeros(len(pred), dtype=np.int64)
    columns = []
    for c in range(pred.n_classes):
        bins = _class_bins(pred.prob[:, c], pred.y == c, pred.sample_weight, everyone, 2)
        columns.append(_isotonic_parameters(bins.fit(1), clip))
    return {"columns": columns}


def _isotonic_parameters(iso: IsotonicFit, clip: float) -> dict[str, Any]:
    """Knots and values of an isotonic map, less the knots inside flat runs (interpolation
    between the two ends of a run gives the same constant), and its clip."""
    v = iso.values
    keep = np.ones(len(v), dtype=bool)
    keep[1:-1] = (v[1:-1] != v[:-2]) | (v[1:-1] != v[2:])
    return {"knots": iso.knots[keep].tolist(), "values": v[keep].tolist(), "clip": clip}


def recalibrate(
    tally: Tally,
    before: dict[str, float],
    pred: Predictions | None = None,
    *,
    folds: int = DEFAULT_FOLDS,
    seed: int = 0,
    confidence: float = 0.95,
) -> Recalibration:
    """The recalibration section of an Evaluation: every map, cross-fitted.

    Parameters
    ----------
    tally : Tally
    before : dict
        ``log_loss``, ``brier`` and ``accuracy`` of the predictions as given.
    pred : Predictions, optional
        The samples; required for multiclass.
    folds : int, default=5
    seed : int, default=0
    confidence : float, default=0.95
        Level of each map's ``log_loss_after_interval``: where its log loss on a new
        sample of the same size should fall (:func:`prediction_spread`).

    Returns
    -------
    Recalibration
        Each map's before/after on held-out folds and ``best``, the map with the lowest
        held-out log loss; or, when the maps cannot be scored, the ``reason``.
    """
    if tally.count < MIN_SAMPLES:
        return Recalibration(
            reason=f"{tally.count} samples; cross-fitting needs {MIN_SAMPLES}"
        )
    spread = prediction_spread(effective_n(tally), confidence)
    if tally.task == "binary":
        events = float(tally.class_weight.min() * effective_scale(tally))
        if events < MIN_EVENTS_PER_FOLD * folds:
            return Recalibration(
                reason=(
                    f"{events:.3g} samples of the rarer class; {folds}-fold cross-fitting "
                    f"needs {MIN_EVENTS_PER_FOLD * folds} ({MIN_EVENTS_PER_FOLD} per fold)"
                )
            )
        out = _binary_recalibration(tally, pred, before, folds, seed, spread)
    elif pred is None:
        return Recalibration(reason="multiclass maps need the samples")
    else:
        out = _multiclass_recalibration(pred, before, folds, seed, spread)
    return replace(out, best=min(out.methods, key=lambda m: out.methods[m].log_loss_after))

"""Logistic regression on one input: where cross-entropy and accuracy part ways.

The model is ``P(y = 1 | x) = sigmoid(a x + b)`` with slope ``a`` and intercept ``b``; it
predicts 1 when ``a x + b >= 0``, that is ``x >= cut`` for ``a > 0`` and ``x <= cut`` for
``a < 0``, with ``cut = -b / a``. :func:`logistic_lab` fits it by unpenalised maximum
likelihood (the cross-entropy fit), finds the exact accuracy maximum over every cut in both
orientations, prices each accuracy-maximising rule in log loss, and traces the loss and the
accuracy along the intercept and along the slope. It reproduces three classic illustrations
(``ILLUSTRATIONS``): a hand-made five-point case and two samples of a logit model.

Data flow: points -> :class:`LabResult` (plain data, ``to_dict()``) -> text, JSON or plots
(:mod:`lossgap.render.plots.lab`). Derivations: ``docs/theory.md``.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.polynomial.polynomial as poly
import numpy.typing as npt
from scipy.optimize import brentq, minimize
from scipy.special import entr, expit, logit

from lossgap.core.predictions import python_scalar, to_numpy
from lossgap.errors import InputError
from lossgap.io.tables import column_values, read_table
from lossgap.results.lab import (
    JSON_POINTS,
    CrossEntropyFit,
    CutInterval,
    LabResult,
    Profile,
    Separation,
)

#: The illustrations: five points recovered from a published worked example (slope 1.27,
#: cut 0.52, per-point losses 0.14, 0.30, 1.07, 0.97, 0.43), then samples of the logit model.
ILLUSTRATIONS: dict[int, dict[str, Any]] = {
    1: {
        "x": [-1.0, -0.3, 0.0, 0.9, 1.0],
        "y": [0, 0, 1, 0, 1],
        "about": "Five points: the cross-entropy fit (slope 1.27, cut 0.52) gets 3 of 5 right, "
        "while cuts in (-0.3, 0] or (0.9, 1] get 4 of 5.",
    },
    2: {
        "n": 100,
        "slope": 0.3,
        "intercept": 0.5,
        "seed": 271,  # like the answer's, chosen for a large effect: fitted intercept 0.43
        "about": "n = 100 from slope 0.3, intercept 0.5: along the slope at the fitted "
        "intercept, the loss rises while the accuracy keeps rising.",
    },
    3: {
        "n": 10000,
        "slope": 1.0,
        "intercept": 0.0,
        "seed": 0,
        "about": "n = 10,000 from slope 1, intercept 0: with a well-specified model and much "
        "data, the cross-entropy fit also (nearly) maximises accuracy.",
    },
}

#: Points per profile curve (the fitted value is added).
PROFILE_POINTS = 401
#: How far the intercept profile moves the cut beyond the data, as a share of its span.
CUT_MARGIN = 0.25
#: The slope profile runs from 0 to this many times the fitted slope.
SLOPE_REACH = 10.0
#: Largest array of the profile kernels, in elements, to bound memory on large n.
_CHUNK = 4_000_000


# --- inputs ------------------------------------------------------------------------------


#: Most points the lab simulates: 1e7 take about 20 s of CPU and 1.2 GB, and both grow
#: linearly.
MAX_SIMULATED = 20_000_000


def simulate(
    n: float, *, slope: float, intercept: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Sample the logit model: ``x ~ N(0, 1)``, ``y ~ Bernoulli(sigmoid(slope x + intercept))``.

    ``n`` may be written as a float (``1e7``) but must be a whole number, from 2 to
    :data:`MAX_SIMULATED`.

    Examples
    --------
    >>> x, y = simulate(4, slope=1.0, intercept=0.0, seed=0)
    >>> x.shape, sorted(set(y.tolist())) <= [0, 1]
    ((4,), True)
    """
    if isinstance(n, bool) or not math.isfinite(n) or int(n) != n or n < 2:
        msg = f"--n must be an integer of at least 2, got {n!r}"
        raise InputError(msg)
    if n > MAX_SIMULATED:
        msg = (
            f"--n {n:g} is more points than the lab simulates (at most {MAX_SIMULATED:.0e}: "
            "1e7 take about 20 s and 1.2 GB, and both grow with n): give a smaller --n"
        )
        raise InputError(msg)
    for name, value in (("--slope", slope), ("--intercept", intercept)):
        if not math.isfinite(value):
            msg = f"{name} must be a finite number, got {value!r}"
            raise InputError(msg)
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        msg = f"--seed must be an integer >= 0 (numpy's seeds are), got {seed!r}"
        raise InputError(msg)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(int(n))
    y = (rng.random(int(n)) < expit(slope * x + intercept)).astype(np.int64)
    return x, y


#: Largest |x| the lab takes: the fit's products (slope * x, x squared in the information
#: matrix, the profiles' grids) stay far inside a float's range.
MAX_ABS_X = 1e100


def check_points(x: npt.ArrayLike, y: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Validate points for the lab: finite x, labels 0/1, two distinct x values.

    Returns
    -------
    (x, y)
        float64 and int64 arrays.
    """
    x_arr = to_numpy(x, "x")
    y_arr = to_numpy(y, "y")
    if x_arr.ndim != 1 or y_arr.ndim != 1 or len(x_arr) != len(y_arr):
        msg = f"x and y must be two columns of equal length, got {x_arr.shape} and {y_arr.shape}"
        raise InputError(msg)
    if len(x_arr) < 2:
        msg = f"the lab needs at least 2 points, got {len(x_arr)}"
        raise InputError(msg)
    try:
        x_arr = x_arr.astype(np.float64)
    except (TypeError, ValueError) as exc:
        msg = "column x must hold numbers; give x as numbers, e.g. -1, 0.3"
        raise InputError(msg) from exc
    bad = np.flatnonzero(~np.isfinite(x_arr))
    if bad.size:
        msg = f"column x, row {bad[0]}: {python_scalar(x_arr[bad[0]])!r} is not a finite number"
        raise InputError(msg)
    huge = np.flatnonzero(np.abs(x_arr) > MAX_ABS_X)
    if huge.size:
        msg = (
            f"column x, row {huge[0]}: {python_scalar(x_arr[huge[0]])!r} is beyond "
            f"+-{MAX_ABS_X:g}, where slope * x and its square overflow or lose every digit: "
            "rescale x (divide it by a power of ten)"
        )
        raise InputError(msg)
    labels = _binary_labels(y_arr)
    if x_arr.min() == x_arr.max():
        msg = (
            f"every x equals {x_arr[0]:g}: the slope cannot be fitted; give points with at "
            "least two different x values"
        )
        raise InputError(msg)
    return x_arr, labels


def read_points(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read x,y points from a table file (CSV, Parquet, ...): columns ``x`` and ``y``, or two.

    Returns
    -------
    (x, y)
        Validated by :func:`check_points`.
    """
    table = read_table(path)
    names = {name.lower(): name for name in table.column_names}
    if "x" in names and "y" in names:
        x_name, y_name = names["x"], names["y"]
    elif table.num_columns == 2:
        x_name, y_name = table.column_names
    else:
        msg = (
            f"{str(path)!r} has columns {table.column_names}: name them x and y (or give "
            "exactly two columns, x first)"
        )
        raise InputError(msg)
    return check_points(column_values(table, x_name), column_values(table, y_name))


def _binary_labels(y: np.ndarray) -> np.ndarray:
    if y.dtype == bool:
        return y.astype(np.int64)
    try:
        values = y.astype(np.float64)
    except (TypeError, ValueError) as exc:
        msg = "column y must hold the labels 0 and 1"
        raise InputError(msg) from exc
    bad = np.flatnonzero((values != 0) & (values != 1))
    if bad.size:
        msg = f"column y, row {bad[0]}: {python_scalar(y[bad[0]])!r} is not a label 0 or 1"
        raise InputError(msg)
    return values.astype(np.int64)


# --- the fits ----------------------------------------------------------------------------


def log_losses(x: np.ndarray, y: np.ndarray, slope: float, intercept: float) -> np.ndarray:
    """Per-point log loss of ``sigmoid(slope x + intercept)``: ``softplus(z) - y z``.

    Examples
    --------
    >>> log_losses(np.array([0.0, 1.0]), np.array([1, 0]), 1.0, 0.0).round(4).tolist()
    [0.6931, 1.3133]
    """
    z = slope * x + intercept
    return np.logaddexp(0.0, z) - y * z


def separation(x: np.ndarray, y: np.ndarray) -> Separation | None:
    """How the classes are separated, when they are; None when a finite fit exists.

    Notes
    -----
    The maximum-likelihood estimate of ``(a, b)`` exists (and is unique, given two
    distinct x values) unless the classes are completely or quasi-completely separated
    (Albert & Anderson, 1984): all positives at or above all negatives
    (``max x[y=0] <= min x[y=1]``), the reverse, or one class only.

    References
    ----------
    Albert, A. & Anderson, J. A. (1984). On the existence of maximum likelihood estimates
    in logistic regression models. Biometrika 71(1). https://doi.org/10.1093/biomet/71.1.1

    Examples
    --------
    >>> separation(np.array([0.0, 1.0, 2.0]), np.array([0, 1, 1])).kind
    'complete'
    >>> separation(np.array([0.0, 1.0, 2.0]), np.array([0, 1, 0])) is None
    True
    """
    positives, negatives = x[y == 1], x[y == 0]
    if not positives.size or not negatives.size:
        only = 1 if positives.size else 0
        return Separation(
            kind="one class",
            orientation=None,
            gap=None,
            message=f"Every label is {only}: the intercept runs to "
            f"{'+' if only else '-'}infinity and the loss to 0; there is no finite fit.",
        )
    sides = (("+", positives, negatives), ("-", negatives, positives))
    for orientation, high_side, low_side in sides:
        lower_top, upper_bottom = low_side.max(), high_side.min()
        if lower_top <= upper_bottom:
            kind = "complete" if lower_top < upper_bottom else "quasi-complete"
            if kind == "complete":
                where = f"between x = {lower_top:g} and x = {upper_bottom:g}"
                cuts = "any cut in that gap classifies every point correctly"
            else:
                where = f"at x = {lower_top:g} (points there carry both labels)"
                cuts = f"cuts just either side of {lower_top:g} get the best accuracy"
            return Separation(
                kind=kind,
                orientation=orientation,
                gap=[float(lower_top), float(upper_bottom)],
                message=f"The classes are separated {where}: the likelihood keeps rising as "
                f"the slope grows, so there is no finite maximum-likelihood fit; {cuts}.",
            )
    return None


def fit_cross_entropy(x: np.ndarray, y: np.ndarray) -> CrossEntropyFit:
    """Unpenalised maximum likelihood (minimum mean cross-entropy), on non-separated data.

    Notes
    -----
    The mean log loss is strictly convex in ``(a, b)``; scipy's exact trust-region Newton
    method minimises it on standardised ``x`` (for conditioning) with the analytic gradient
    and Hessian, and the solution is mapped back.

    Examples
    --------
    >>> f = fit_cross_entropy(np.array(ILLUSTRATIONS[1]["x"]), np.array(ILLUSTRATIONS[1]["y"]))
    >>> round(f.slope, 2), round(f.cut, 2), [round(v, 2) for v in f.per_point_log_loss]
    (1.27, 0.52, [0.14, 0.3, 1.07, 0.97, 0.43])
    """
    centre, scale = float(x.mean()), float(x.std())
    u = (x - centre) / scale
    n = len(y)
    last: dict[str, Any] = {}

    def probabilities(w: np.ndarray) -> np.ndarray:
        # the gradient and the Hessian ask at the same point: one pass over the data
        if last.get("w") is None or not np.array_equal(last["w"], w):
            last.update(w=w.copy(), p=expit(w[0] * u + w[1]))
        return np.asarray(last["p"])

    def value(w: np.ndarray) -> float:
        return float(np.mean(log_losses(u, y, w[0], w[1])))

    def gradient(w: np.ndarray) -> np.ndarray:
        residual = probabilities(w) - y
        return np.array([residual @ u, residual.sum()]) / n

    def hessian(w: np.ndarray) -> np.ndarray:
        p = probabilities(w)
        weight = p * (1 - p)
        weighted_u = weight @ u
        return np.array([[weight @ (u * u), weighted_u], [weighted_u, weight.sum()]]) / n

    start = np.array([0.0, float(logit(np.clip(y.mean(), 1e-6, 1 - 1e-6)))])
    res = minimize(value, start, jac=gradient, hess=hessian, method="trust-exact",
                   options={"gtol": 1e-12})
    if not np.all(np.isfinite(res.x)) or np.abs(gradient(res.x)).max() > 1e-8:
        msg = f"the logistic fit did not converge: {res.message}"
        raise RuntimeError(msg)
    slope = float(res.x[0] / scale)
    intercept = float(res.x[1] - res.x[0] * centre / scale)
    losses = log_losses(x, y, slope, intercept)
    decisions = slope * x + intercept >= 0
    return CrossEntropyFit(
        slope=slope,
        intercept=intercept,
        cut=-intercept / slope if slope != 0 else math.nan,
        orientation="+" if slope >= 0 else "-",
        per_point_log_loss=losses.tolist() if len(x) <= JSON_POINTS else None,
        accuracy=float(np.mean(decisions == (y == 1))),
        log_loss=float(losses.mean()),
    )


def _cut_table(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct x values and the positives and negatives strictly below each (and all)."""
    values, inverse = np.unique(x, return_inverse=True)
    pos = np.bincount(inverse, weights=y, minlength=values.size)
    neg = np.bincount(inverse, weights=1 - y, minlength=values.size)
    below_pos = np.concatenate([[0.0], np.cumsum(pos)])
    below_neg = np.concatenate([[0.0], np.cumsum(neg)])
    return values, below_pos, below_neg


def accuracy_by_cut(x: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
    """Exact accuracy of every rule ``x >= t`` and ``x <= t`` predicts 1, for all cuts.

    Returns
    -------
    dict
        ``values`` (the m distinct x), ``plus`` (m + 1 accuracies: entry j for cuts in
        ``(values[j-1], values[j]]``), ``minus`` (entry j for cuts in
        ``[values[j-1], values[j])``), with ``values[-1] = -inf``, ``values[m] = inf``.

    Examples
    --------
    >>> acc = accuracy_by_cut(np.array(ILLUSTRATIONS[1]["x"]), np.array(ILLUSTRATIONS[1]["y"]))
    >>> acc["plus"].tolist()
    [0.4, 0.6, 0.8, 0.6, 0.8, 0.6]
    """
    values, below_pos, below_neg = _cut_table(x, y)
    total_pos, total_neg = below_pos[-1], below_neg[-1]
    n = len(x)
    # x >= t predicts 1: negatives below the cut and positives from it are right
    plus = (below_neg + total_pos - below_pos) / n
    minus = (below_pos + total_neg - below_neg) / n
    return {"values": values, "plus": plus, "minus": minus}


def _ray_minimum(
    x: np.ndarray, y: np.ndarray, cut: float, sign: float
) -> tuple[float, float, bool]:
    """min over s >= 0 of the log loss of slope sign*s with the cut fixed: (loss, s, attained).

    The loss along the ray is convex in s; its derivative is monotone, so the minimiser is
    the root of the derivative, at 0, or at infinity (nothing on the wrong side).
    """
    margin = (2.0 * y - 1.0) * sign * (x - cut)
    if np.all(margin >= 0):
        return float(np.count_nonzero(margin == 0) * math.log(2.0) / len(x)), math.inf, False

    def slope_of_loss(s: float) -> float:
        return float(-np.mean(margin * expit(-s * margin)))

    if slope_of_loss(0.0) >= 0:
        return math.log(2.0), 0.0, False
    upper = 1.0
    while slope_of_loss(upper) < 0:
        upper *= 2.0
    s = brentq(slope_of_loss, 0.0, upper, xtol=1e-13, rtol=1e-13)
    return float(np.mean(np.logaddexp(0.0, -s * margin))), float(s), True


def _constant_minimum(y: np.ndarray, positive: bool) -> tuple[float, float, bool]:
    """Best intercept-only model predicting all 1 (b >= 0) or all 0 (b < 0): (loss, b, attained)."""
    rate = float(y.mean())
    if (rate >= 0.5) != positive:  # the best intercept is on the other side: stop at b = 0
        return math.log(2.0), 0.0, positive  # b = 0 gives p = 1/2, which predicts 1
    if rate in (0.0, 1.0):
        return 0.0, math.inf if positive else -math.inf, False
    return float(entr(rate) + entr(1.0 - rate)), float(logit(rate)), True


def _interval_rule(orientation: str, low: float, high: float) -> str:
    side = ">=" if orientation == "+" else "<="
    if orientation == "+" and math.isinf(low):
        return "predict 1 everywhere"
    if orientation == "+" and math.isinf(high):
        return "predict 0 everywhere"
    left = "[" if orientation == "-" else "("
    right = "]" if orientation == "+" else ")"
    return f"x {side} cut predicts 1, for cut in {left}{low:g}, {high:g}{right}"


def _price(
    x: np.ndarray,
    y: np.ndarray,
    orientation: str,
    low: float,
    high: float,
    fit: CrossEntropyFit | None,
) -> tuple[float, bool, float, float, float | None]:
    """Lowest log loss of a logistic model with the decisions of one cut interval.

    Returns (loss, attained, slope, intercept, cut). The set of such models is a cone in
    (a, b); the convex loss is lowest at the maximum-likelihood fit when that lies inside,
    otherwise on the cone's boundary rays (the cut fixed at an end of the interval; for the
    constant rules also the intercept-only models). Without a fit (separated classes) the
    infimum can also lie at an infinite slope inside the cone: a ray through the middle of
    the interval finds it.
    """
    sign = 1.0 if orientation == "+" else -1.0
    smallest, largest = float(x.min()), float(x.max())
    # the decisions of every cut in the interval (no data point lies strictly inside it)
    wanted = x >= high if orientation == "+" else x <= low
    if fit is not None and np.array_equal(fit.slope * x + fit.intercept >= 0, wanted):
        return fit.log_loss, True, fit.slope, fit.intercept, fit.cut
    candidates: list[tuple[float, bool, float, float, float | None]] = []
    # boundary rays: (cut, sign of the slope, whether that cut itself belongs to the set)
    rays = [
        (end, sign, closed)
        for end, closed in ((low, orientation == "-"), (high, orientation == "+"))
        if math.isfinite(end)
    ]
    if fit is None and math.isfinite(low) and math.isfinite(high):
        # separated data have no minimiser: the infimum may lie at infinity inside the cone
        rays.append(((low + high) / 2, sign, True))
    if orientation == "+" and math.isinf(low):  # predict 1 everywhere: also x <= t, t >= max
        rays.append((largest, -1.0, True))
        loss, b, attained = _constant_minimum(y, True)
        candidates.append((loss, attained, 0.0, b, None))
    if orientation == "+" and math.isinf(high):  # predict 0 everywhere: also x <= t, t < min
        rays.append((smallest, -1.0, False))
        loss, b, attained = _constant_minimum(y, False)
        candidates.append((loss, attained, 0.0, b, None))
    for cut, ray_sign, closed in rays:
        loss, s, attained = _ray_minimum(x, y, cut, ray_sign)
        candidates.append((loss, attained and closed, ray_sign * s, 0.0 - ray_sign * s * cut, cut))
    return min(candidates, key=lambda c: (c[0], not c[1]))


def best_cut_intervals(
    x: np.ndarray, y: np.ndarray, fit: CrossEntropyFit | None = None
) -> tuple[float, list[CutInterval]]:
    """The exact accuracy maximum over every cut and both orientations, and where.

    Each returned interval is one set of decisions (the constant rules "predict 1/0
    everywhere" once each), priced by :func:`_price` in log loss.

    Examples
    --------
    >>> x, y = np.array(ILLUSTRATIONS[1]["x"]), np.array(ILLUSTRATIONS[1]["y"])
    >>> best, intervals = best_cut_intervals(x, y)
    >>> best, [(i.orientation, i.low, i.high) for i in intervals]
    (0.8, [('+', -0.3, 0.0), ('+', 0.9, 1.0)])
    """
    table = accuracy_by_cut(x, y)
    values = table["values"]
    edges = np.concatenate([[-np.inf], values, [np.inf]])
    m = values.size
    best = float(max(table["plus"].max(), table["minus"][1:m].max(initial=0.0)))
    found = []
    for orientation, accuracies, first, last in (
        ("+", table["plus"], 0, m + 1),
        ("-", table["minus"], 1, m),  # the two constant rules are listed under "+"
    ):
        reaching = np.abs(accuracies[first:last] - best) <= 1e-12
        for j in (first + np.flatnonzero(reaching)).tolist():
            low, high = float(edges[j]), float(edges[j + 1])
            loss, attained, slope, intercept, cut = _price(x, y, orientation, low, high, fit)
            found.append(
                CutInterval(
                    orientation=orientation,
                    low=low,
                    high=high,
                    low_closed=orientation == "-" and math.isfinite(low),
                    high_closed=orientation == "+" and math.isfinite(high),
                    rule=_interval_rule(orientation, low, high),
                    accuracy=float(accuracies[j]),
                    min_log_loss=loss,
                    attained=attained,
                    slope=slope,
                    intercept=intercept,
                    cut=cut,
                    per_point_log_loss=_losses_at(x, y, slope, intercept, cut).tolist()
                    if len(x) <= JSON_POINTS
                    else None,
                )
            )
    return best, found


def _losses_at(
    x: np.ndarray, y: np.ndarray, slope: float, intercept: float, cut: float | None
) -> np.ndarray:
    """Per-point losses, with the limits of an infinite slope or intercept (0, ln 2, inf)."""
    if math.isfinite(slope) and math.isfinite(intercept):
        return log_losses(x, y, slope, intercept)
    if math.isfinite(slope):  # slope 0, intercept +-inf: a certain constant answer
        margin = (2.0 * y - 1.0) * np.sign(intercept)
    else:
        assert cut is not None
        margin = (2.0 * y - 1.0) * np.sign(slope) * (x - cut)
    return np.where(margin > 0, 0.0, np.where(margin == 0, math.log(2.0), math.inf))


def profile(
    x: np.ndarray, y: np.ndarray, fit: CrossEntropyFit, *, along: str
) -> Profile:
    """Log loss and accuracy along the intercept (slope fixed) or the slope (intercept fixed).

    The intercept grid moves the cut :data:`CUT_MARGIN` of the data's span beyond it on
    both sides; the slope grid runs from 0 to :data:`SLOPE_REACH` times the fitted slope.
    """
    if along == "intercept":
        span = x.max() - x.min()
        cuts = np.linspace(x.min() - CUT_MARGIN * span, x.max() + CUT_MARGIN * span, PROFILE_POINTS)
        grid = np.union1d(-fit.slope * cuts, [fit.intercept])
        slopes, intercepts = np.full_like(grid, fit.slope), grid
        fixed, fitted = {"slope": fit.slope}, fit.intercept
    else:
        grid = np.union1d(np.linspace(0.0, SLOPE_REACH * fit.slope, PROFILE_POINTS), [fit.slope])
        slopes, intercepts = grid, np.full_like(grid, fit.intercept)
        fixed, fitted = {"intercept": fit.intercept}, fit.slope
    loss, accuracy = _loss_and_accuracy(x, y, slopes, intercepts)
    best = float(accuracy.max())
    reaching = np.flatnonzero(accuracy >= best - 1e-12)
    breaks = np.flatnonzero(np.diff(reaching) > 1)
    starts = np.concatenate([[reaching[0]], reaching[breaks + 1]])
    ends = np.concatenate([reaching[breaks], [reaching[-1]]])
    return Profile(
        along=along,
        fixed=fixed,
        values=grid.tolist(),
        log_loss=loss.tolist(),
        accuracy=accuracy.tolist(),
        fitted=fitted,
        best_accuracy=best,
        best_accuracy_ranges=[
            [float(grid[i]), float(grid[j])] for i, j in zip(starts, ends, strict=True)
        ],
    )


def _loss_and_accuracy(
    x: np.ndarray, y: np.ndarray, slopes: np.ndarray, intercepts: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Mean log loss and accuracy of many (slope, intercept) pairs.

    The log loss is ``mean(softplus(z)) - mean(y z)`` with ``z = a x + b``; the second
    term is linear in (a, b). The accuracy is counted exactly on the sorted points.
    """
    linear = slopes * float(np.mean(y * x)) + intercepts * float(np.mean(y))
    order = np.argsort(x, kind="stable")
    xs, ys = x[order], y[order]
    return _mean_softplus(xs, slopes, intercepts) - linear, _accuracies(xs, ys, slopes, intercepts)


def _accuracies(
    xs: np.ndarray, ys: np.ndarray, slopes: np.ndarray, intercepts: np.ndarray
) -> np.ndarray:
    """Accuracy of the rule ``a x + b >= 0`` predicts 1, for each (a, b), exactly; the
    points sorted by x.

    In floating point ``a x + b >= 0`` holds exactly when ``a x >= -b`` (the rounded sum
    of two doubles is 0 only when they cancel), and the rounded product ``a x`` is monotone
    in x: the points predicted 1 are a tail of the sorted points (the head for ``a < 0``).
    A bisection finds where it starts for every pair at once, in O(pairs log n).
    """
    below = np.concatenate([[0], np.cumsum(ys)])  # positives among the first k
    n, positives = len(xs), int(below[-1])
    negative = slopes < 0
    # the first k where "predicted 1" turns true (false for a < 0): bisection on each pair
    lo, hi = np.zeros(len(slopes), dtype=np.int64), np.full(len(slopes), n, dtype=np.int64)
    while np.any(lo < hi):
        active = lo < hi
        mid = (lo + hi) // 2
        turned = (slopes * xs[np.minimum(mid, n - 1)] >= -intercepts) != negative
        hi = np.where(active & turned, mid, hi)
        lo = np.where(active & ~turned, mid + 1, lo)
    # a >= 0: points lo.. predicted 1; a < 0: points ..lo-1 predicted 1
    right = (positives - below[lo]) + (lo - below[lo])  # positives from lo, negatives before
    left = below[lo] + (n - lo) - (positives - below[lo])
    return np.where(negative, left, right) / n


#: Up to this many points the profiles' log loss is summed point by point; above, over bins
#: of x (:func:`_binned_mean_softplus`), which agrees with the sum to about 1e-13.
DIRECT_POINTS = 20_000
#: Largest ``|a (x - centre)|`` inside a bin, and the Taylor order used there: the remainder
#: is at most (the 9th derivative of softplus, below 12) * 0.1**9 / 9!, 4e-14 nats a point.
_BIN_REACH = 0.1
_TAYLOR_ORDER = 8


def _mean_softplus(x: np.ndarray, slopes: np.ndarray, intercepts: np.ndarray) -> np.ndarray:
    """``mean(softplus(a x + b))`` over the points (sorted by x), for each (a, b) pair."""
    if len(x) > DIRECT_POINTS:
        binned = _binned_mean_softplus(x, slopes, intercepts)
        if binned is not None:
            return binned
    rows = max(1, _CHUNK // len(x))
    out = np.empty(len(slopes))
    for start in range(0, len(slopes), rows):
        part = slice(start, start + rows)
        z = slopes[part, None] * x[None, :] + intercepts[part, None]
        out[part] = np.mean(np.logaddexp(0.0, z), axis=1)
    return out


def _softplus_derivatives() -> list[np.ndarray]:
    """Coefficients of the polynomials P_j with ``softplus^(j)(z) = P_j(sigmoid(z))``.

    ``P_1(s) = s`` and ``P_(j+1) = P_j'(s) s (1 - s)``, since ``sigmoid' = s (1 - s)``.

    Examples
    --------
    >>> [c.tolist() for c in _softplus_derivatives()[:2]]
    [[0.0, 1.0], [0.0, 1.0, -1.0]]
    """
    out = [np.array([0.0, 1.0])]
    for _ in range(_TAYLOR_ORDER - 1):
        out.append(poly.polymul(poly.polyder(out[-1]), [0.0, 1.0, -1.0]))
    return out


def _binned_mean_softplus(
    x: np.ndarray, slopes: np.ndarray, intercepts: np.ndarray
) -> np.ndarray | None:
    """:func:`_mean_softplus` in O(n + pairs x bins), or None when bins do not pay; x sorted.

    Each bin of x holds points within ``_BIN_REACH / max|a|`` of its mean c, so
    ``softplus(a x + b) = sum_j softplus^(j)(a c + b) (a (x - c))^j / j!`` converges
    fast; a bin keeps its count and the moments of ``x - c`` up to the order. None when
    nearly every point needs its own bin (summing directly is then cheaper) or when
    rounding merged points too far apart into one bin.
    """
    reach = float(np.abs(slopes).max())
    n = len(x)
    if reach == 0.0:
        return np.asarray(np.logaddexp(0.0, intercepts), dtype=np.float64)
    keys = np.floor((x - x[0]) * (reach / _BIN_REACH))  # non-decreasing: x is sorted
    bin_of = np.concatenate([[0], np.cumsum(keys[1:] != keys[:-1])])
    count = np.bincount(bin_of).astype(np.float64)
    if len(count) > n // 4:
        return None
    centre = np.bincount(bin_of, weights=x) / count
    offset = x - centre[bin_of]
    if reach * float(np.abs(offset).max()) > 2 * _BIN_REACH:
        return None
    moments, power = [], np.ones_like(x)
    for _ in range(_TAYLOR_ORDER):
        power = power * offset
        moments.append(np.bincount(bin_of, weights=power, minlength=len(count)))
    derivatives = _softplus_derivatives()
    out = np.empty(len(slopes))
    rows = max(1, _CHUNK // len(count))
    for start in range(0, len(slopes), rows):
        part = slice(start, start + rows)
        a = slopes[part, None]
        z = a * centre[None, :] + intercepts[part, None]
        sigmoid = expit(z)
        total = count * np.logaddexp(0.0, z)
        scale = np.ones_like(a)
        for j, (coefficients, moment) in enumerate(zip(derivatives, moments, strict=True), 1):
            scale = scale * a / j
            total += poly.polyval(sigmoid, coefficients) * scale * moment
        out[part] = total.sum(axis=1) / n
    return out


# --- the whole lab -----------------------------------------------------------------------


def logistic_lab(
    x: npt.ArrayLike, y: npt.ArrayLike, *, source: dict[str, Any] | None = None
) -> LabResult:
    """Cross-entropy fit, exact accuracy maximum, their prices and profiles, for 1-D points.

    Parameters
    ----------
    x : array-like of shape (n,)
        The input.
    y : array-like of shape (n,)
        Labels 0 and 1.
    source : dict, optional
        How the points were made, copied into the result.

    Returns
    -------
    LabResult

    Examples
    --------
    >>> r = logistic_lab(ILLUSTRATIONS[1]["x"], ILLUSTRATIONS[1]["y"])
    >>> round(r.cross_entropy_fit.log_loss, 4)
    0.5824
    >>> [round(i.min_log_loss, 4) for i in r.accuracy_intervals]
    [0.6229, 0.5957]
    """
    x_arr, y_arr = check_points(x, y)
    separated = separation(x_arr, y_arr)
    fit = None if separated else fit_cross_entropy(x_arr, y_arr)
    best, intervals = best_cut_intervals(x_arr, y_arr, fit)
    profiles = (
        {along: profile(x_arr, y_arr, fit, along=along) for along in ("intercept", "slope")}
        if fit
        else {}
    )
    result = LabResult(
        source=source or {"kind": "points"},
        x=x_arr.tolist(),
        y=y_arr.tolist(),
        base_rate=float(y_arr.mean()),
        separation=separated,
        cross_entropy_fit=fit,
        best_accuracy=best,
        accuracy_intervals=intervals,
        profiles=profiles,
    )
    return replace(result, explanation=explain_lab(result))


def illustration(number: int) -> LabResult:
    """Rerun illustration 1 (five points), 2 (n = 100) or 3 (n = 10,000)."""
    if number not in ILLUSTRATIONS:
        msg = f"--illustration must be 1, 2 or 3, got {number!r}"
        raise InputError(msg)
    case = ILLUSTRATIONS[number]
    source = {"kind": "illustration", "illustration": number, "about": case["about"]}
    if "x" in case:
        return logistic_lab(case["x"], case["y"], source=source)
    x, y = simulate(case["n"], slope=case["slope"], intercept=case["intercept"], seed=case["seed"])
    source.update({k: case[k] for k in ("n", "slope", "intercept", "seed")})
    return logistic_lab(x, y, source=source)


def explain_lab(result: LabResult) -> list[str]:
    """The lab's result in plain sentences."""
    out = []
    fit = result.cross_entropy_fit
    if result.separation is not None:
        out.append(result.separation.message)
    elif fit is not None:
        out.append(
            f"Cross-entropy fit: slope {fit.slope:.4g}, intercept {fit.intercept:.4g}, cut "
            f"{fit.cut:.4g}: log loss {fit.log_loss:.4f}, accuracy {fit.accuracy:.4f}."
        )
    count = len(result.accuracy_intervals)
    out.append(
        f"The best accuracy over every cut and both orientations is {result.best_accuracy:.4f}, "
        f"reached by {count} set{'s' if count != 1 else ''} of decisions."
    )
    if fit is not None and result.best_accuracy > fit.accuracy + 1e-12:
        cheapest = min(result.accuracy_intervals, key=lambda i: i.min_log_loss)
        out.append(
            f"Minimising cross-entropy gives up {result.best_accuracy - fit.accuracy:.4f} of "
            f"accuracy: the cheapest accuracy-maximising rule ({cheapest.rule}) costs at least "
            f"log loss {cheapest.min_log_loss:.4f}, {cheapest.min_log_loss - fit.log_loss:+.4f} "
            "against the fit. Cross-entropy counts how far each point lies on the wrong side, "
            "accuracy only that it does; a point far on the wrong side pulls the fitted cut "
            "towards it."
        )
    elif fit is not None:
        out.append(
            "The cross-entropy fit already attains the best accuracy: here the two criteria "
            "agree."
        )
    for name, prof in result.profiles.items():
        other = "slope" if name == "intercept" else "intercept"
        value = prof.fixed[other]
        ranges = ", ".join(
            f"{lo:.4g}" if lo == hi else f"{lo:.4g} to {hi:.4g}"
            for lo, hi in prof.best_accuracy_ranges
        )
        out.append(
            f"Along the {name} (at the fitted {other} {value:.4g}), the log loss is lowest at "
            f"{prof.fitted:.4g} while the accuracy peaks at {prof.best_accuracy:.4f} for {name} "
            f"values {ranges} (on a grid of {len(prof.values)})."
        )
    return out

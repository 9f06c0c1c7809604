"""Groups of samples (slices): splitting predictions, and what each group's Tally shows.

A group's numbers come from its own Tally; the whole is the merge of the groups' Tallies
(:func:`lossgap.core.tally.merge_all`), so slices stream and run on any engine.

The calibration test of a group is the likelihood-ratio test of logistic recalibration
``sigmoid(a + b logit p)`` against ``a = 0, b = 1`` (Cox's test): twice the log loss the
in-sample fit removes, chi-square with two degrees of freedom when the probabilities are
calibrated. Binary: the positive-class probability; multiclass: the top-label confidence
against correctness. Weights are rescaled to Kish's effective sample size, so the test does
not depend on their scale.

References
----------
Cox, D. R. (1958). Two further applications of a model for binary regression.
Biometrika 45(3/4), 562-565. https://doi.org/10.2307/2333203
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.special import chdtrc

from lossgap.core.decompose import log_score_total
from lossgap.core.pooling import pool_table
from lossgap.core.predictions import python_scalar
from lossgap.core.recalibrate import FIT_ROWS, fit_logistic_table, logits_of
from lossgap.core.tally import Tally
from lossgap.core.uncertainty import effective_n
from lossgap.errors import InputError
from lossgap.results.slices import CalibrationTest


def group_codes(values: npt.ArrayLike, name: str, n: int) -> tuple[list[Any], np.ndarray]:
    """The distinct groups (sorted) and each sample's index into them.

    Raises
    ------
    lossgap.InputError
        Lengths that differ, or an empty value (None or NaN), naming the row.

    Examples
    --------
    >>> group_codes(["b", "a", "b"], "site", 3)
    (['a', 'b'], array([1, 0, 1]))
    >>> group_codes([1.0, float("nan")], "site", 2)
    Traceback (most recent call last):
    ...
    lossgap.errors.InputError: group column 'site' has an empty value (nan) at row 1: ...
    """
    array = values if isinstance(values, np.ndarray) else np.asarray(values, dtype=object).ravel()
    if array.ndim != 1 or len(array) != n:
        msg = (
            f"lengths differ: {n} samples but {len(array)} values in group column {name!r}: "
            "pass one group per sample"
        )
        raise InputError(msg)
    empty = np.array(
        [v is None or (isinstance(v, float) and math.isnan(v)) for v in array.tolist()]
    )
    if empty.any():
        row = int(np.argmax(empty))
        msg = (
            f"group column {name!r} has an empty value ({array[row]!r}) at row {row}: fill it "
            "(e.g. with 'unknown') or drop the row"
        )
        raise InputError(msg)
    try:
        distinct, codes = np.unique(array, return_inverse=True)
    except TypeError:  # mixed types: order them by their text
        text = np.array([str(v) for v in array.tolist()])
        distinct_text, codes = np.unique(text, return_inverse=True)
        first = [int(np.argmax(codes == c)) for c in range(len(distinct_text))]
        distinct = array[first]
    return [python_scalar(v) for v in distinct], codes.ravel()


def calibration_test(tally: Tally) -> CalibrationTest:
    """Likelihood-ratio test of calibration of a Tally (see the module notes).

    Examples
    --------
    >>> from lossgap.core.predictions import Predictions
    >>> rng = np.random.default_rng(0)
    >>> p = rng.uniform(0.05, 0.95, 2000)
    >>> y = rng.uniform(size=2000) < p
    >>> calibrated = calibration_test(Tally.from_predictions(Predictions(y, p)))
    >>> bool(calibrated.p_value > 0.01)
    True
    >>> sharp = 1 / (1 + ((1 - p) / p) ** 3)  # logits times 3: overconfident
    >>> bool(calibration_test(Tally.from_predictions(Predictions(y, sharp))).p_value < 1e-6)
    True
    """
    binary = tally.task == "binary"
    table = tally.tables[0] if binary else tally.top_label
    target = "probability of the positive class" if binary else "top-label confidence"
    nan = float("nan")
    if table is None:
        return CalibrationTest(target, nan, nan, nan, nan, nan)
    pooled = pool_table(table, FIT_ROWS)
    z, weights = logits_of(pooled.scores), pooled.weights
    totals = weights.sum(axis=0)
    if totals.min() <= 0:  # one outcome only: nothing to fit
        return CalibrationTest(target, nan, nan, nan, nan, nan)
    fit = fit_logistic_table(table, intercept=True)  # the calibration slope's fit
    if fit.separable:
        return CalibrationTest(target, nan, nan, nan, fit.intercept, fit.slope)
    # both on probabilities clipped to [1e-15, 1 - 1e-15], as the logits are
    removed = max(
        log_score_total(pooled.scores, weights) - log_score_total(fit.apply(z), weights), 0.0
    )
    total = float(totals.sum())
    statistic = 2 * removed * effective_n(tally) / total
    return CalibrationTest(
        target,
        statistic,
        float(chdtrc(2, statistic)),  # scipy.stats.chi2.sf, without importing scipy.stats
        removed / total,
        fit.intercept,
        fit.slope,
    )

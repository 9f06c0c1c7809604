"""Isotonic (PAV) fits of the positive share on a score table, without re-sorting.

A score table's rows are already ascending and distinct, so the pool-adjacent-violators
fit runs on them directly (``scipy.optimize.isotonic_regression``, linear time) rather
than through scikit-learn's ``IsotonicRegression``, which sorts and deduplicates its input
again. On such input the two agree exactly: rows of zero weight are left out of the fit
(scikit-learn drops them too), and predictions interpolate linearly between the fitted
rows and stay constant beyond them (``out_of_bounds="clip"``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import isotonic_regression


@dataclass(frozen=True)
class IsotonicFit:
    """A fitted non-decreasing map from score to probability of the positive class.

    Attributes
    ----------
    knots : ndarray of float64
        Ascending scores of the rows with positive weight.
    values : ndarray of float64
        The fitted positive share at each knot.
    """

    knots: np.ndarray
    values: np.ndarray

    def predict(self, scores: np.ndarray) -> np.ndarray:
        """Linear interpolation between knots, constant beyond the first and last."""
        return np.interp(scores, self.knots, self.values)


def fit_isotonic(scores: np.ndarray, w_neg: np.ndarray, w_pos: np.ndarray) -> IsotonicFit:
    """PAV fit of ``w_pos / (w_neg + w_pos)`` on ascending distinct ``scores``.

    Parameters
    ----------
    scores : ndarray of shape (m,)
        Ascending, distinct.
    w_neg, w_pos : ndarray of shape (m,)
        Weight of negatives and of positives at each score; at least one row must have
        positive weight.

    Returns
    -------
    IsotonicFit

    Examples
    --------
    >>> fit = fit_isotonic(np.array([0.1, 0.4, 0.8]), np.array([1.0, 0.0, 1.0]),
    ...                    np.array([0.0, 1.0, 1.0]))
    >>> fit.values.tolist()  # 0.4 and 0.8 pool to 2/3
    [0.0, 0.6666666666666666, 0.6666666666666666]
    >>> fit.predict(np.array([0.0, 0.25, 1.0])).tolist()
    [0.0, 0.3333333333333333, 0.6666666666666666]
    """
    total = w_neg + w_pos
    keep = total > 0
    if not keep.all():
        scores, w_pos, total = scores[keep], w_pos[keep], total[keep]
    fitted = isotonic_regression(w_pos / total, weights=total, increasing=True).x
    return IsotonicFit(scores, fitted)

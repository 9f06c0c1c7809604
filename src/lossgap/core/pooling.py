"""Pooling a score table into runs of adjacent scores, for the steps that need not see
every distinct score (bootstrap units, map fitting, kernel smoothing).

The point estimates and held-out scores always use the full table; a pooled table keeps the
exact weights of each run and the weighted mean score of the run.
"""

from __future__ import annotations

import numpy as np

from lossgap.core.tally import ScoreTable


class Pooling:
    """Runs of adjacent scores of about equal weight, fixed once and applied to any weights.

    Fixing the runs on the full table lets every fold's training weights be pooled the same
    way (one ``reduceat`` each) instead of re-sorting per fold.
    """

    def __init__(self, table: ScoreTable, max_rows: int) -> None:
        total = table.weights.sum(axis=1)
        if len(table.scores) <= max_rows:
            self.starts = None
            self.scores = table.scores
            return
        group = np.minimum((np.cumsum(total) - total) / total.sum() * max_rows, max_rows - 1)
        self.starts = np.flatnonzero(np.diff(group.astype(np.int64), prepend=-1))
        mass = np.add.reduceat(total, self.starts)
        self.scores = np.add.reduceat(table.scores * total, self.starts) / np.where(
            mass > 0, mass, 1
        )

    def weights(self, weights: np.ndarray) -> np.ndarray:
        """Per-row ``(m, 2)`` weights summed over each run."""
        return weights if self.starts is None else np.add.reduceat(weights, self.starts, axis=0)

    def table(self, weights: np.ndarray) -> ScoreTable:
        return ScoreTable(self.scores, self.weights(weights))


def pool_table(table: ScoreTable, max_rows: int) -> ScoreTable:
    """Pool adjacent scores into at most ``max_rows`` runs of about equal weight.

    Examples
    --------
    >>> t = ScoreTable(np.array([0.1, 0.2, 0.3, 0.4]), np.ones((4, 2)))
    >>> pooled = pool_table(t, 2)
    >>> pooled.scores.tolist(), pooled.weights.tolist()
    ([0.15000000000000002, 0.35], [[2.0, 2.0], [2.0, 2.0]])
    """
    return Pooling(table, max_rows).table(table.weights)

"""Which model to keep, for a stated goal: probabilities, decisions or ranking.

Each goal has its own score and paired test on the same samples, best model against each
other one (Holm-adjusted over them):

* **probabilities**: log loss (per-sample losses capped at 34.54 nats when one is
  infinite), paired t test;
* **decisions**: the mean cost of each sample's decision at the threshold that is
  cost-optimal on the *other* folds (:func:`lossgap.core.decision.held_out_decision_costs`;
  the error rate without costs), paired t test. Tuning the threshold per model first
  means two models (or epochs) whose accuracies differ only because their probabilities
  sit on different sides of 0.5 make the same decisions: no real difference;
* **ranking**: ROC AUC (multiclass: one-vs-rest macro), DeLong's paired test.

When the best model cannot be told from another, the verdict says "no real difference"
and keeps none.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from lossgap.core.decision import held_out_decision_costs
from lossgap.core.losses import MAX_CLIPPED_LOSS, sample_log_loss
from lossgap.core.paired import (
    AucColumn,
    Interval,
    auc_influence,
    delong_difference,
    holm,
    paired_mean_difference,
)
from lossgap.core.predictions import Predictions
from lossgap.errors import InputError
from lossgap.results.decision import GOALS, GoalChoice, GoalTest

_METHODS = {
    "probabilities": "paired t on per-sample log losses",
    "decisions": (
        "paired t on per-sample costs of decisions at a threshold tuned on the other folds (5-fold)"
    ),
    "ranking": "DeLong paired",
}


def check_goals(goals: Sequence[str]) -> list[str]:
    """The goals asked for, in canonical order; ``"all"`` means every goal."""
    asked = list(GOALS) if "all" in goals else list(goals)
    unknown = [g for g in asked if g not in GOALS]
    if unknown:
        msg = f"unknown goal {unknown[0]!r}: choose from {', '.join(GOALS)} or all"
        raise InputError(msg)
    return [g for g in GOALS if g in asked]


def choose_for_goals(
    preds: Mapping[str, Predictions],
    goals: Sequence[str],
    *,
    costs: Any = None,
    confidence: float = 0.95,
    seed: int = 0,
) -> list[GoalChoice]:
    """One :class:`GoalChoice` per goal for models on the same samples.

    Parameters
    ----------
    preds : mapping of str to Predictions
        At least two models on the same samples.
    goals : sequence of str
        From ``"probabilities"``, ``"decisions"``, ``"ranking"``, or ``"all"``.
    costs : pair or (k, k) array-like, default=None
        Costs of the decisions (:func:`lossgap.core.decision.cost_matrix`); error rate
        without them.
    confidence : float, default=0.95
    seed : int, default=0
        Seeds the folds of the decisions goal (shared by every model).

    Examples
    --------
    >>> import numpy as np
    >>> from lossgap import Predictions
    >>> rng = np.random.default_rng(0)
    >>> p = rng.random(400); y = (rng.random(400) < p).astype(int)
    >>> shifted = np.clip(p + 0.1, 0, 1)  # same ranking, other side of 0.5
    >>> choice, = choose_for_goals({"a": Predictions(y, p), "b": Predictions(y, shifted)},
    ...                            ["decisions"])
    >>> choice.keep, choice.verdict  # doctest: +ELLIPSIS
    (None, 'decisions: no real difference between a and b ...')
    """
    names = list(preds)
    first = next(iter(preds.values()))
    scores: dict[str, np.ndarray] = {}
    out = []
    for goal in check_goals(goals):
        if goal == "ranking":
            curves = (
                [AucColumn(1, 1.0)]
                if first.task == "binary"
                else [AucColumn(c, 1.0 / first.n_classes) for c in range(first.n_classes)]
            )
            influence = np.stack([auc_influence(_columns(p), p.y, curves) for p in preds.values()])
            values = np.array([_auc(p) for p in preds.values()])
            best = int(np.nanargmax(values))
            pairs = _pairs(best, len(names))
            result = delong_difference(influence, first.y, pairs, confidence=confidence)
        else:
            if goal == "probabilities":
                rows = [np.minimum(sample_log_loss(p), MAX_CLIPPED_LOSS) for p in preds.values()]
            else:
                rows = [held_out_decision_costs(p, costs, seed=seed) for p in preds.values()]
            x = np.stack(rows)
            scores[goal] = x
            best = int(np.argmin(x.mean(axis=1)))
            pairs = _pairs(best, len(names))
            result = paired_mean_difference(x, pairs, confidence=confidence)
        out.append(_choice(goal, names, best, pairs, result, confidence))
    return out


def _columns(pred: Predictions) -> list[np.ndarray]:
    if pred.task == "binary":
        return [pred.prob]
    return [np.ascontiguousarray(pred.prob[:, c]) for c in range(pred.n_classes)]


def _auc(pred: Predictions) -> float:
    from lossgap.core.metrics import roc_auc
    from lossgap.core.tally import Tally

    return roc_auc(Tally.from_predictions(pred))


def _pairs(best: int, m: int) -> np.ndarray:
    return np.array([(best, j) for j in range(m) if j != best], dtype=np.int64).reshape(-1, 2)


def _optional(x: float) -> float | None:
    return None if np.isnan(x) else float(x)


def _choice(
    goal: str,
    names: list[str],
    best: int,
    pairs: np.ndarray,
    r: Interval,
    confidence: float,
) -> GoalChoice:
    adjusted = holm(r.p_value) if len(pairs) > 1 else r.p_value
    tests = []
    for i, (_, other) in enumerate(pairs):
        p = _optional(adjusted[i])
        tests.append(
            GoalTest(
                names[other],
                float(r.value[i]),
                _optional(r.ci_low[i]),
                _optional(r.ci_high[i]),
                p,
                p is not None and p < 1.0 - confidence,
            )
        )
    tied = [names[best]] + [t.model for t in tests if not t.significant]
    score = GOALS[goal]
    if len(tied) == 1:
        keep: str | None = names[best]
        verdict = (
            f"{goal}: keep {names[best]}, better by {score} than "
            + ", ".join(f"{t.model} ({_diff(t)})" for t in tests)
            + "."
        )
    else:
        keep = None
        verdict = (
            f"{goal}: no real difference between {_and(tied)} by {score} ("
            + ", ".join(
                f"{names[best]} - {t.model}: {_diff(t)}" for t in tests if not t.significant
            )
            + ")"
        )
        beaten = [t.model for t in tests if t.significant]
        verdict += f"; {_and(tied)} beat {_and(beaten)}." if beaten else "."
    return GoalChoice(goal, score, names[best], keep, tied, verdict, _METHODS[goal], tests)


def _diff(t: GoalTest) -> str:
    ci = "" if t.ci_low is None or t.ci_high is None else f" [{t.ci_low:.4g}, {t.ci_high:.4g}]"
    p = "" if t.p_value is None else f", p = {t.p_value:.2g}"
    return f"{t.difference:+.4g}{ci}{p}"


def _and(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]

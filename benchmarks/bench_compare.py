"""Speed of ``lossgap compare`` on many models: ratios to scikit-learn and to plain numpy.

Run ``python benchmarks/bench_compare.py`` (50 binary models on 1e6 samples, every one of
the 1225 pairs) or pass ``--n``, ``--models``, ``--classes``. It times, on the same data:

* ``paired``: :func:`lossgap.comparison.pipeline.paired_comparisons`, everything compare adds
  for every pair (paired 2x2 tables, Newcombe/McNemar, paired t for log loss and Brier,
  DeLong, Holm, flips near the threshold and their ids);
* ``sklearn``: scikit-learn computing only each model's plain metrics (accuracy, log
  loss, Brier, ROC AUC), no pairs at all;
* ``numpy``: one plain numpy pass per model (per-sample log loss and correctness, their
  means): the floor of any method that reads every prediction;
* ``validate``: building the models' Predictions;
* ``evaluate``: one model's full ``explain`` evaluation (decomposition, recalibration,
  intervals), which ``compare`` runs once per model; timed on ``--evaluate`` models and
  projected to all of them.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, brier_score_loss, log_loss, roc_auc_score

from lossgap import Predictions
from lossgap.comparison.pipeline import paired_comparisons
from lossgap.explanation import evaluate_predictions


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def make_models(n: int, m: int, k: int, seed: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """Labels and ``m`` related models: a shared signal plus model-specific noise."""
    rng = np.random.default_rng(seed)
    if k == 2:
        y = rng.integers(0, 2, n)
        signal = (2 * y - 1) * 1.2 + rng.normal(0, 1.0, n)
        models = [1 / (1 + np.exp(-(signal + rng.normal(0, 0.5, n)))) for _ in range(m)]
        return y, models
    y = rng.integers(0, k, n)
    signal = rng.normal(0, 1.0, (n, k)) + 1.5 * np.eye(k)[y]
    models = []
    for _ in range(m):
        z = signal + rng.normal(0, 0.5, (n, k))
        z = np.exp(z - z.max(axis=1, keepdims=True))
        models.append(z / z.sum(axis=1, keepdims=True))
    return y, models


def sklearn_metrics(y: np.ndarray, models: list[np.ndarray]) -> None:
    for p in models:
        if p.ndim == 1:
            accuracy_score(y, p >= 0.5)
            log_loss(y, p)
            brier_score_loss(y, p)
            roc_auc_score(y, p)
        else:
            accuracy_score(y, p.argmax(axis=1))
            log_loss(y, p)
            roc_auc_score(y, p, multi_class="ovr")


def numpy_pass(y: np.ndarray, models: list[np.ndarray]) -> None:
    rows = np.arange(len(y))
    for p in models:
        truth = np.where(y == 1, p, 1 - p) if p.ndim == 1 else p[rows, y]
        predicted = (p >= 0.5) if p.ndim == 1 else p.argmax(axis=1)
        float(np.mean(-np.log(truth)))
        float(np.mean(predicted == y))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="samples")
    parser.add_argument("--models", type=int, default=50)
    parser.add_argument("--classes", type=int, default=2)
    parser.add_argument("--evaluate", type=int, default=1, help="models to fully evaluate")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    y, models = make_models(args.n, args.models, args.classes, args.seed)
    m = args.models
    pairs = np.array([(a, b) for a in range(m) for b in range(a + 1, m)])

    t_validate, preds = timed(lambda: {f"m{j}": Predictions(y, p) for j, p in enumerate(models)})
    t_paired, result = timed(lambda: paired_comparisons(preds, pairs))
    t_sklearn, _ = timed(lambda: sklearn_metrics(y, models))
    t_numpy, _ = timed(lambda: numpy_pass(y, models))
    chosen = list(preds.values())[: args.evaluate]
    t_eval, _ = timed(lambda: [evaluate_predictions(p) for p in chosen])
    per_model = t_eval / max(len(chosen), 1)

    print(f"n={args.n:,} models={m} classes={args.classes} pairs={len(result)}")
    print(f"  paired (all pairs)      {t_paired:8.2f} s")
    print(
        f"  sklearn plain metrics   {t_sklearn:8.2f} s   "
        f"paired / sklearn = {t_paired / t_sklearn:6.2f}"
    )
    print(
        f"  numpy one pass          {t_numpy:8.2f} s   "
        f"paired / numpy   = {t_paired / t_numpy:6.2f}"
    )
    print(f"  validate (Predictions)  {t_validate:8.2f} s")
    print(
        f"  evaluate (explain)      {per_model:8.2f} s per model, "
        f"{per_model * m:.1f} s projected for {m} models "
        f"({per_model * m / t_sklearn:.1f} x sklearn)"
    )
    total = t_validate + t_paired + per_model * m
    print(f"  compare total (projected) {total:6.1f} s")


if __name__ == "__main__":
    main()

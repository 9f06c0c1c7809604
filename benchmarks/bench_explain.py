"""Time lossgap beside scikit-learn and a plain numpy pass over the same data.

Three lossgap timings per size:
* ``tally+metrics``: validation, the Tally and the plain metrics (what scikit-learn computes);
* ``explain``: the full explanation (decomposition, cross-fitted recalibration, ECE and
  smooth ECE, intervals for every metric, diagnostics, findings).
Reference timings: scikit-learn computing the plain metrics (log loss, accuracy, balanced
accuracy, precision, recall, F1, Brier, ROC AUC, average precision, a calibration curve and
an isotonic fit), one numpy pass computing log loss and accuracy only, and one ``np.sort``
of the scores (the floor of any exact rank metric).

Usage: python benchmarks/bench_explain.py [--sizes 1e5 1e6 1e7] [--repeat 1]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve
from sklearn.isotonic import IsotonicRegression

import lossgap
from lossgap import Predictions, Tally
from lossgap.metrics import METRICS


def best_time(func: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


def sklearn_metrics(y: np.ndarray, p: np.ndarray) -> None:
    decided = (p >= 0.5).astype(int)
    skm.log_loss(y, p)
    skm.accuracy_score(y, decided)
    skm.balanced_accuracy_score(y, decided)
    skm.precision_score(y, decided)
    skm.recall_score(y, decided)
    skm.f1_score(y, decided)
    skm.brier_score_loss(y, p)
    skm.roc_auc_score(y, p)
    skm.average_precision_score(y, p)
    calibration_curve(y, p, n_bins=15)
    IsotonicRegression(out_of_bounds="clip").fit(p, y)


def numpy_pass(y: np.ndarray, p: np.ndarray) -> None:
    true_prob = np.where(y == 1, p, 1 - p)
    float(-np.log(true_prob).mean())
    float(((p >= 0.5) == y).mean())


def lossgap_metrics(y: np.ndarray, p: np.ndarray) -> None:
    tally = Tally.from_predictions(Predictions(y, p))
    for fn in METRICS.values():
        fn(tally)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=float, default=[1e5, 1e6, 1e7])
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    header = f"{'n':>10} {'sort':>8} {'numpy':>8} {'sklearn':>8} {'tally+metrics':>14} {'explain':>8}"
    print(header + "   tally+metrics/sort  explain/sort  sklearn/explain  explain/numpy")
    for size in args.sizes:
        n = int(size)
        p = rng.uniform(0.001, 0.999, n)
        y = (rng.uniform(size=n) < p).astype(np.int64)
        t_sort = best_time(lambda: np.sort(p), args.repeat)
        t_np = best_time(lambda: numpy_pass(y, p), args.repeat)
        t_sk = best_time(lambda: sklearn_metrics(y, p), args.repeat)
        t_lm = best_time(lambda: lossgap_metrics(y, p), args.repeat)
        t_ex = best_time(lambda: lossgap.explain(y, p), args.repeat)
        print(
            f"{n:>10} {t_sort:>8.3f} {t_np:>8.3f} {t_sk:>8.3f} {t_lm:>14.3f} {t_ex:>8.3f}"
            f"   {t_lm / t_sort:>17.1f}x {t_ex / t_sort:>12.1f}x {t_sk / t_ex:>15.2f}x"
            f" {t_ex / t_np:>13.1f}x",
            flush=True,
        )


if __name__ == "__main__":
    main()

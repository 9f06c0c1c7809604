"""Speed of ``lossgap compare`` on many models: end to end, by part, and beside scikit-learn.

Run ``python benchmarks/bench_compare.py`` (50 binary models on 1e6 shared labels, every
one of the 1,225 pairs; probabilities in float32, as most models emit them) or pass
``--n``, ``--models``, ``--classes``, ``--dtype``. Every time is CPU seconds
(``time.process_time``, every thread counted; the child's user and system time for the
command line) with the wall time beside it, one run each: on the shared 2-core machine the
wall times stretch with the load, the CPU times far less, so the target (issue 17: compare
50 models x 1e6 within 5 s) is read on CPU time. On the same data it times:

* ``compare``: :func:`lossgap.compare` in-process, end to end (validation, each model's
  evaluation, the paired statistics of every pair, the findings);
* its parts, each timed on its own: ``validate`` (building the models' Predictions),
  ``evaluate`` (the evaluations compare runs at the detail it picks: every model's full
  one up to two million model-samples; beyond, ``scores``, the summary evaluations of
  the two models its answer names) and ``paired`` (:func:`lossgap.comparison.pipeline.
  paired_comparisons`: the per-sample columns with DeLong's placements, which also give
  each model's ranking scores, paired 2x2 tables, Newcombe/McNemar, paired t for log
  loss and Brier, DeLong, Holm, flips near the threshold and their ids); the header says
  whether the placements ran in the numba kernel (``LOSSGAP_NUMBA=0``: numpy), and with
  them the near-threshold flips (the same switch);
* ``--cli``: ``lossgap compare FILE --json`` on a Parquet file holding the label and one
  probability column per model, in a fresh process;
* ``--sklearn``: scikit-learn computing only each model's plain metrics (accuracy, log
  loss, Brier, ROC AUC), no pairs at all, and one plain numpy pass per model (per-sample
  log loss and correctness, their means): the floor of any method reading every
  prediction.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from bench_explain import child_cpu  # a sibling script: Python puts benchmarks/ on the path

import lossgap
from lossgap import Predictions
from lossgap.comparison.pipeline import AUTO_FULL_CELLS, paired_comparisons
from lossgap.core import paired
from lossgap.explanation import evaluate_predictions

#: Issue 17: ``compare`` on 50 models x 1e6 within this many seconds.
TARGET_S = 5.0


def timed(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """(CPU seconds, wall seconds, result) of one call."""
    cpu, wall = time.process_time(), time.perf_counter()
    out = fn()
    return time.process_time() - cpu, time.perf_counter() - wall, out


def make_models(
    n: int, m: int, k: int, seed: int, dtype: type = np.float64
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Labels and ``m`` related models: a shared signal plus model-specific noise."""
    rng = np.random.default_rng(seed)
    if k == 2:
        y = rng.integers(0, 2, n)
        signal = (2 * y - 1) * 1.2 + rng.normal(0, 1.0, n)
        models = [
            (1 / (1 + np.exp(-(signal + rng.normal(0, 0.5, n))))).astype(dtype)
            for _ in range(m)
        ]
        return y, models
    y = rng.integers(0, k, n)
    signal = rng.normal(0, 1.0, (n, k)) + 1.5 * np.eye(k)[y]
    models = []
    for _ in range(m):
        z = signal + rng.normal(0, 0.5, (n, k))
        z = np.exp(z - z.max(axis=1, keepdims=True))
        models.append((z / z.sum(axis=1, keepdims=True)).astype(dtype))
    return y, models


def sklearn_metrics(y: np.ndarray, models: list[np.ndarray]) -> None:
    from sklearn.metrics import accuracy_score, brier_score_loss, log_loss, roc_auc_score

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


def command_line(y: np.ndarray, models: list[np.ndarray]) -> tuple[float, float]:
    """(CPU, wall) seconds of ``lossgap compare FILE --json`` in a fresh process."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns: dict[str, Any] = {"label": y}
    if models[0].ndim == 1:
        columns.update({f"m{j}_prob": p for j, p in enumerate(models)})
        glob: list[str] = []
    else:
        k = models[0].shape[1]
        columns.update(
            {f"m{j}_p{c}": p[:, c] for j, p in enumerate(models) for c in range(k)}
        )
        glob = [arg for j in range(len(models)) for arg in ("--prob", f"m{j}_p*")]
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "models.parquet")
        pq.write_table(pa.table(columns), path)
        command = [sys.executable, "-m", "lossgap", "compare", path, *glob, "--json"]
        cpu, wall = child_cpu(), time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        return child_cpu() - cpu, time.perf_counter() - wall


def line(name: str, cpu: float, wall: float, note: str = "") -> None:
    print(f"  {name:<34} {cpu:7.2f} s CPU {wall:8.2f} s wall  {note}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=float, default=1e6, help="samples")
    parser.add_argument("--models", type=int, default=50)
    parser.add_argument("--classes", type=int, default=2)
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    parser.add_argument("--cli", action="store_true", help="also time the command line")
    parser.add_argument("--sklearn", action="store_true", help="also time scikit-learn")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    n, m = int(args.n), args.models
    y, models = make_models(n, m, args.classes, args.seed, np.dtype(args.dtype).type)
    named = {f"m{j}": p for j, p in enumerate(models)}
    detail = "full" if n * m <= AUTO_FULL_CELLS else "scores"
    compiled = (
        importlib.util.find_spec("numba") is not None
        and os.environ.get("LOSSGAP_NUMBA", "1") != "0"
        # (a tree before the kernel has no COMPILED_MIN_SAMPLES: numpy, as there)
        and n >= getattr(paired, "COMPILED_MIN_SAMPLES", float("inf"))
        and n * m * (1 if args.classes == 2 else args.classes) >= paired.COMPILED_MIN_TOTAL
    )
    print(f"n={n:,} models={m} classes={args.classes} {args.dtype} "
          f"pairs={m * (m - 1) // 2} detail={detail} "
          f"placements={'numba kernel' if compiled else 'numpy'}")

    c_all, w_all, _ = timed(lambda: lossgap.compare(named, y))
    verdict = ""
    if (n, m, args.classes) == (1_000_000, 50, 2):  # the shape the target is set for
        verdict = f"target {TARGET_S:g} s CPU: {'met' if c_all <= TARGET_S else 'NOT met'}"
    line("lossgap.compare (in-process)", c_all, w_all, verdict)
    c_val, w_val, preds = timed(lambda: {j: Predictions(y, p) for j, p in named.items()})
    line("  validate (Predictions)", c_val, w_val)
    # "scores" explains only the best model by log loss and the best by accuracy
    explained = list(preds.values()) if detail == "full" else list(preds.values())[:2]
    c_ev, w_ev, _ = timed(
        lambda: [
            evaluate_predictions(p, top=5, detail="full" if detail == "full" else "summary")
            for p in explained
        ]
    )
    line(f"  evaluate ({detail}: {len(explained)} models)", c_ev, w_ev,
         f"{c_ev / len(explained):.3f} s CPU per model")
    pairs = np.array([(a, b) for a in range(m) for b in range(a + 1, m)])
    c_pair, w_pair, _ = timed(lambda: paired_comparisons(preds, pairs))
    line("  paired (every pair)", c_pair, w_pair)
    if args.cli:
        c_cli, w_cli = command_line(y, models)
        line("lossgap compare FILE --json", c_cli, w_cli, f"{c_cli / c_all:.2f}x in-process")
    if args.sklearn:
        c_sk, w_sk, _ = timed(lambda: sklearn_metrics(y, models))
        line("sklearn plain metrics (no pairs)", c_sk, w_sk, f"compare / sklearn "
             f"{c_all / c_sk:.2f}")
        c_np, w_np, _ = timed(lambda: numpy_pass(y, models))
        line("numpy one pass (floor)", c_np, w_np, f"compare / numpy {c_all / c_np:.1f}")


if __name__ == "__main__":
    main()

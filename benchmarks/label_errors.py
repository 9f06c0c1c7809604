"""Label errors: lossgap's candidates and finding against cleanlab's ``find_label_issues``.

**Noisy real data.** scikit-learn's digits, breast cancer and wine, with 5% of the labels
moved to another class (uniformly), out-of-fold probabilities (5 stratified folds) of a
logistic regression and of a random forest trained on the noisy labels. Per dataset and
model, over the seeds: the recall and precision of lossgap's candidates (the
``label_errors`` diagnostics) and of cleanlab's ``find_label_issues`` (its defaults), how
often ``possible_label_errors`` fires, and the count it names (labels beyond chance) against
the flips.

**Calibrated data, no flips.** Labels drawn from the model's own probabilities (binary base
rates 0.5 and 0.1, multiclass k = 3 and 10), for several n: how often the finding fires,
with its 95% Wilson interval (the bound is 5%).

Usage: python benchmarks/label_errors.py [--seeds 5] [--null-seeds 100] [--rate 0.05]
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from scipy.special import expit, softmax

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the test helpers' data

from lossgap import Predictions
from lossgap.core.label_errors import candidates
from lossgap.core.uncertainty import wilson
from lossgap.explanation import evaluate_predictions
from tests.helpers.data import FLIP_DATASETS, FLIP_MODELS, flipped_labels


def recall_precision(chosen: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    hit = float((chosen & truth).sum())
    return hit / max(truth.sum(), 1), hit / chosen.sum() if chosen.any() else 1.0


def lossgap_candidates(y: np.ndarray, prob: np.ndarray):
    """(candidate mask, fired, count beyond chance) of lossgap's explain; the candidates are
    the list ``explain`` shows once its test finds more unlikely labels than chance."""
    pred = Predictions(y, prob, classes=list(range(prob.shape[1])))
    ev = evaluate_predictions(pred, detail="summary")
    chosen = np.zeros(len(y), dtype=bool)
    chosen[[c["id"] for c in candidates(pred)]] = True
    finding = next((f for f in ev.findings if f.code == "possible_label_errors"), None)
    return chosen, finding is not None, 0.0 if finding is None else finding.evidence["count"]


def noisy_real(seeds: int, rate: float) -> None:
    from cleanlab.filter import find_label_issues

    print(f"## {rate:.0%} of the labels flipped, out-of-fold probabilities, {seeds} seeds\n")
    print(
        "| data | model | flips | cleanlab recall | lossgap recall | cleanlab precision "
        "| lossgap precision | fired | count beyond chance |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for name in FLIP_DATASETS:
        for model in FLIP_MODELS:
            rows = []
            for seed in range(seeds):
                y, prob, truth = flipped_labels(name, model, seed, rate)
                theirs = find_label_issues(y, prob, n_jobs=1)
                ours, fired, count = lossgap_candidates(y, prob)
                rows.append(
                    (
                        truth.sum(),
                        *recall_precision(theirs, truth),
                        *recall_precision(ours, truth),
                        fired,
                        count,
                    )
                )
            flips, r_cl, p_cl, r_lg, p_lg, fired, count = np.mean(rows, axis=0)
            print(
                f"| {name} | {model} | {flips:.0f} | {r_cl:.3f} | {r_lg:.3f} | {p_cl:.3f} "
                f"| {p_lg:.3f} | {fired:.2f} | {count:.1f} |"
            )
    print()


def calibrated(kind: str, rng: np.random.Generator, n: int) -> Predictions:
    """Labels drawn from the reported probabilities (logits N(mu, 2^2))."""
    if kind.startswith("binary"):
        base = float(kind.split("=")[1])
        mu = {0.5: 0.0, 0.1: -3.37}[base]  # E sigmoid(N(mu, 4)) = base (false_alarms.py)
        t = rng.normal(mu, 2.0, n)
        y = (rng.uniform(size=n) < expit(t)).astype(int)
        return Predictions(y, t, from_logits=True, classes=[0, 1])
    k = int(kind.split("=")[1])
    logits = rng.normal(0.0, 2.0, (n, k))
    y = (rng.uniform(size=(n, 1)) > np.cumsum(softmax(logits, axis=1), axis=1)).sum(axis=1)
    return Predictions(np.minimum(y, k - 1), logits, from_logits=True, classes=list(range(k)))


def null(seeds: int, sizes: list[int]) -> None:
    print(f"## Calibrated data, no flips: rate of possible_label_errors ({seeds} seeds)\n")
    print("| data | n | fired | 95% Wilson | candidates listed (test p < 0.001) |")
    print("|---|---:|---:|---|---:|")
    for kind in ("binary base=0.5", "binary base=0.1", "multiclass k=3", "multiclass k=10"):
        for n in sizes:
            fired = listed = 0
            for seed in range(seeds):
                pred = calibrated(kind, np.random.default_rng([seed, n]), n)
                ev = evaluate_predictions(pred, detail="summary")
                fired += any(f.code == "possible_label_errors" for f in ev.findings)
                listed += ev.diagnostics["label_errors"]["candidates"] is not None
            lo, hi = wilson(fired / seeds, seeds, 0.95)
            print(
                f"| {kind} | {n} | {fired / seeds:.3f} | [{lo:.3f}, {hi:.3f}] "
                f"| {listed / seeds:.3f} |"
            )
    print()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--null-seeds", type=int, default=100)
    parser.add_argument("--rate", type=float, default=0.05)
    parser.add_argument("--n", type=int, nargs="+", default=[200, 1000, 10_000])
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", module="cleanlab")
    start = time.process_time()
    if args.seeds:
        noisy_real(args.seeds, args.rate)
    if args.null_seeds:
        null(args.null_seeds, args.n)
    print(f"CPU time {time.process_time() - start:.0f} s")


if __name__ == "__main__":
    main()

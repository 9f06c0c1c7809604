"""Measure how often the findings cry wolf on calibrated data, and their power.

Calibrated data: logits t ~ N(0, 2^2), labels drawn from sigmoid(t); the model reports t.
False alarm: any finding of severity high or medium (the verdict is then not `consistent`).
Power: the same data scored with logits 2t (temperature 2: overconfident) or t/2.

Usage: python benchmarks/false_alarms.py [--seeds 200] [--n 2000]
"""

from __future__ import annotations

import argparse
import collections

import numpy as np
from scipy.special import expit

from lossgap import Predictions
from lossgap.explanation import evaluate_predictions


def calibrated(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = rng.normal(0.0, 2.0, n)
    return (rng.uniform(size=n) < expit(t)).astype(int), t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=200)
    parser.add_argument("--n", type=int, default=2000)
    args = parser.parse_args()
    alarms, codes = 0, collections.Counter()
    power = {"overconfident (T=2)": 0, "underconfident (T=1/2)": 0}
    for seed in range(args.seeds):
        y, t = calibrated(seed, args.n)
        ev = evaluate_predictions(Predictions(y, t, from_logits=True), replicates=10, seed=seed)
        raised = [f.code for f in ev.findings if f.severity in ("high", "medium")]
        alarms += bool(raised)
        codes.update(raised)
        if seed < 50:
            over = evaluate_predictions(Predictions(y, 2 * t, from_logits=True), replicates=10)
            under = evaluate_predictions(Predictions(y, t / 2, from_logits=True), replicates=10)
            power["overconfident (T=2)"] += over.finding("overconfident") is not None
            power["underconfident (T=1/2)"] += under.finding("underconfident") is not None
    print(f"calibrated data, n={args.n}, {args.seeds} seeds")
    print(f"false-alarm rate (any high/medium finding): {alarms / args.seeds:.3f}")
    for code, count in codes.most_common():
        print(f"  {code}: {count / args.seeds:.3f}")
    for name, hits in power.items():
        print(f"power, {name}: {hits / min(args.seeds, 50):.2f}")


if __name__ == "__main__":
    main()

"""Measure the verdicts: false alarms on calibrated data, power, weight invariance, coverage.

Every cell simulates datasets whose truth is known and runs ``explain`` on each:

* **calibrated** binary data: true logits ``t ~ N(mu, 2^2)`` with ``mu`` set for a base rate
  of 0.5, 0.1 or 0.01, labels drawn from ``sigmoid(t)``, the model reports ``t``; also with
  tied scores (probabilities rounded to 0.01, labels drawn from the rounded values) and
  multiclass (k = 3 and 10, logits ``N(0, 2^2)`` per class, labels drawn from the softmax);
* **miscalibrated**: the model reports ``T t`` (T in 0.5, 0.8, 1.02, 1.3, 2: above 1 is
  overconfident), ``t + 0.5`` (an intercept shift) or flips 5% of the labels;
* **weights**: a calibrated dataset evaluated with every weight 1, 5 and 25: the verdicts
  must be identical;
* **history**: validation-loss and accuracy curves that are flat plus independent or AR(1)
  (phi = 0.5) noise, read by ``lossgap history``.

Per cell it prints the rate of any medium/high finding, of ``consistent``, the codes that
fired, and (binary) how often the ECE and smooth-ECE intervals cover the true value and hold
their own estimate, and how often the log loss's MCB and DSC intervals cover the
population terms, each rate with its 95% Wilson interval.

Usage: python benchmarks/false_alarms.py [--seeds 100] [--n 200 1000 10000] [--cells ...]
"""

from __future__ import annotations

import argparse
import collections
import math
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.special import expit, log_expit, softmax, xlogy

from lossgap import Predictions
from lossgap.core.calibration import binned_ece, smooth_ece
from lossgap.core.uncertainty import wilson
from lossgap.explanation import evaluate_predictions

LOGIT_SD = 2.0
Data = tuple[np.ndarray, np.ndarray, bool, np.ndarray | None]


def logit_mean(base_rate: float) -> float:
    """``mu`` with ``E sigmoid(N(mu, 2^2)) = base_rate`` (on a fixed quadrature sample)."""
    z = np.random.default_rng(12345).normal(0.0, LOGIT_SD, 200_000)
    lo, hi = -15.0, 15.0
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if expit(z + mid).mean() < base_rate else (lo, mid)
    return (lo + hi) / 2


@dataclass(frozen=True)
class Binary:
    """A binary data-generating process and what the model reports."""

    base_rate: float = 0.5
    scale: float = 1.0
    shift: float = 0.0
    ties: bool = False
    flip: float = 0.0
    weight: float | None = None

    def draw(self, rng: np.random.Generator, n: int) -> Data:
        t = rng.normal(logit_mean(self.base_rate), LOGIT_SD, n)
        weight = None if self.weight is None else np.full(n, self.weight)
        if self.ties:
            p = np.clip(np.round(expit(t), 2), 0.01, 0.99)
            return (rng.uniform(size=n) < p).astype(int), p, False, weight
        y = (rng.uniform(size=n) < expit(t)).astype(int)
        if self.flip:
            flipped = rng.uniform(size=n) < self.flip
            y = np.where(flipped, 1 - y, y)
        return y, self.scale * t + self.shift, True, weight

    def truth(self) -> tuple[float, float]:
        """Population binned ECE and smooth ECE of the reported probabilities."""
        if self.scale == 1 and self.shift == 0 and not self.flip:
            return 0.0, 0.0
        rng = np.random.default_rng(999)
        t = np.sort(rng.normal(logit_mean(self.base_rate), LOGIT_SD, 400_000))
        q = expit(t)  # the true probability
        q = self.flip + (1 - 2 * self.flip) * q
        p = expit(self.scale * t + self.shift)
        return float(binned_ece(p, 1 - q, q)), float(smooth_ece(p, 1 - q, q)[0])

    def terms(self) -> dict[str, float]:
        """Population log-loss MCB and DSC of the reported probabilities.

        The reported probability is increasing in the true logit, so the population
        recalibration is the true probability ``q`` itself: MCB = E KL(q || p) and
        DSC = H(base rate) - E H(q), integrated on a fine grid of the logit's density.
        """
        mu = logit_mean(self.base_rate)
        t = np.linspace(mu - 12 * LOGIT_SD, mu + 12 * LOGIT_SD, 200_001)
        density = np.exp(-0.5 * ((t - mu) / LOGIT_SD) ** 2)
        density /= density.sum()
        q = self.flip + (1 - 2 * self.flip) * expit(t)
        z = self.scale * t + self.shift  # the reported logit, in log space: p reaches 1.0
        rate = float(density @ q)
        kl = xlogy(q, q) + xlogy(1 - q, 1 - q) - q * log_expit(z) - (1 - q) * log_expit(-z)
        uncertainty = -(xlogy(rate, rate) + xlogy(1 - rate, 1 - rate))
        entropy = -(xlogy(q, q) + xlogy(1 - q, 1 - q))
        return {
            "miscalibration": float(density @ kl),
            "discrimination": float(uncertainty - density @ entropy),
        }


@dataclass(frozen=True)
class Multiclass:
    k: int = 3
    scale: float = 1.0

    def draw(self, rng: np.random.Generator, n: int) -> Data:
        logits = rng.normal(0.0, LOGIT_SD, (n, self.k))
        prob = softmax(logits, axis=1)
        y = (rng.uniform(size=(n, 1)) > np.cumsum(prob, axis=1)).sum(axis=1)
        return np.minimum(y, self.k - 1), self.scale * logits, True, None

    def truth(self) -> None:
        return None

    def terms(self) -> None:
        return None


@dataclass
class Tallies:
    """Counts of one cell over its seeds."""

    runs: int = 0
    alarms: int = 0
    consistent: int = 0
    hits: int = 0
    codes: collections.Counter = field(default_factory=collections.Counter)
    covered: dict[str, int] = field(default_factory=lambda: collections.Counter())
    held: dict[str, int] = field(default_factory=lambda: collections.Counter())
    seconds: float = 0.0


def rate(k: int, n: int) -> str:
    if n == 0:
        return "-"
    lo, hi = wilson(k / n, n, 0.95)
    return f"{k / n:.3f} [{lo:.2f}, {hi:.2f}]"


def verdicts(ev) -> tuple:
    """What must not change when the weights are rescaled: codes, severities, intervals."""
    intervals = tuple(
        (name, m.ci_low, m.ci_high)
        for name, m in sorted(ev.metrics.items())
        if m.ci_low is not None
    )
    return tuple((f.code, f.severity) for f in ev.findings), intervals


def classes_of(score: np.ndarray) -> list[int]:
    """Every class named, so a small rare-class sample without positives still evaluates."""
    return list(range(2 if score.ndim == 1 else score.shape[1]))


def run_cell(model, n: int, seeds: int, expect: str | None, replicates: int) -> Tallies:
    out = Tallies()
    truth = model.truth()
    terms = model.terms()
    start = time.perf_counter()
    for seed in range(seeds):
        rng = np.random.default_rng([seed, n])
        y, score, logits, weight = model.draw(rng, n)
        ev = evaluate_predictions(
            Predictions(
                y, score, from_logits=logits, sample_weight=weight, classes=classes_of(score)
            ),
            seed=seed,
            replicates=replicates,
        )
        raised = [f.code for f in ev.findings if f.severity in ("high", "medium")]
        out.runs += 1
        out.alarms += bool(raised)
        out.consistent += ev.finding("consistent") is not None
        out.hits += expect is not None and expect in raised
        out.codes.update(raised)
        if truth is not None:
            for name, value in zip(("ece", "smooth_ece"), truth, strict=True):
                m = ev.metrics[name]
                if m.ci_low is None:
                    continue
                out.covered[name] += m.ci_low - 1e-12 <= value <= m.ci_high + 1e-12
                out.held[name] += m.ci_low <= m.value <= m.ci_high
        intervals = ev.decomposition.intervals if ev.decomposition is not None else None
        if terms is not None and intervals is not None:
            for name, value in terms.items():
                low, high = intervals["log_loss"][name]
                out.covered[name] += low - 1e-12 <= value <= high + 1e-12
    out.seconds = time.perf_counter() - start
    return out


def same(a: float, b: float) -> bool:
    """Equal to 1e-9 (relative), or both undefined (NaN: no positive prediction, say)."""
    both_nan = math.isnan(a) and math.isnan(b)
    return both_nan or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def weight_cell(base_rate: float, n: int, seeds: int, replicates: int) -> tuple[int, int]:
    """(datasets whose verdicts and intervals differ between weights x1, x5, x25, datasets)."""
    differ = 0
    for seed in range(seeds):
        found = []
        for factor in (1.0, 5.0, 25.0):
            rng = np.random.default_rng([seed, n])
            y, score, logits, weight = Binary(base_rate, weight=factor).draw(rng, n)
            ev = evaluate_predictions(
                Predictions(
                    y, score, from_logits=logits, sample_weight=weight, classes=classes_of(score)
                ),
                seed=seed,
                replicates=replicates,
            )
            found.append(verdicts(ev))
        codes_same = all(f[0] == found[0][0] for f in found)
        bounds_same = all(
            len(f[1]) == len(found[0][1])
            and all(
                a[0] == b[0] and same(a[1], b[1]) and same(a[2], b[2])
                for a, b in zip(f[1], found[0][1], strict=True)
            )
            for f in found
        )
        differ += not (codes_same and bounds_same)
    return differ, seeds


def history_cell(phi: float, seeds: int, epochs: int = 60) -> Tallies:
    """Flat training loss, validation loss and accuracy plus AR(1) noise (phi = 0 is
    independent noise): the rate of any medium/high finding."""
    from lossgap.history.api import analyse_history

    out = Tallies()
    for seed in range(seeds):
        rng = np.random.default_rng([seed, 77])
        noise = np.empty((3, epochs))
        state = rng.normal(size=3) / math.sqrt(1 - phi**2)
        for i in range(epochs):
            state = phi * state + rng.normal(size=3)
            noise[:, i] = state
        # stationary SDs of a 10,000-sample validation set: sqrt(0.86 * 0.14 / 1e4) for the
        # accuracy, about 0.8 / sqrt(1e4) for the mean loss
        scale = math.sqrt(1 - phi**2)
        loss = 0.35 + 0.008 * scale * noise[0]
        acc = 0.86 + 0.0035 * scale * noise[1]
        train = 0.30 + 0.008 * scale * noise[2]
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "log.csv"
            lines = [
                f"{i + 1},{float(train[i])!r},{float(loss[i])!r},{float(acc[i])!r}"
                for i in range(epochs)
            ]
            path.write_text("epoch,loss,val_loss,val_accuracy\n" + "\n".join(lines) + "\n")
            report = analyse_history(path, n_val=10_000)
        raised = [f.code for _, f in report.all_findings() if f.severity in ("high", "medium")]
        out.runs += 1
        out.alarms += bool(raised)
        out.consistent += not raised
        out.codes.update(raised)
    return out


def binary_cells(args) -> Iterator[tuple[str, object, str | None]]:
    for base in args.base_rates:
        yield f"calibrated base={base:g}", Binary(base), None
    yield "calibrated ties (p to 0.01)", Binary(0.5, ties=True), None
    for scale in args.scales:
        code = "overconfident" if scale > 1 else "underconfident"
        yield f"logits x{scale:g}", Binary(0.5, scale=scale), code
    yield "intercept +0.5", Binary(0.5, shift=0.5), "miscalibrated_intercept"
    yield "labels flipped 5%", Binary(0.5, flip=0.05), "possible_label_errors"
    for k in (3, 10):
        yield f"multiclass k={k}", Multiclass(k), None


def seeds_for(n: int, seeds: int) -> int:
    """Fewer seeds for the biggest cells (each dataset costs seconds there)."""
    return seeds if n <= 10_000 else max(3, seeds // (10 if n <= 100_000 else 40))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("--n", type=int, nargs="+", default=[200, 1000, 10_000])
    parser.add_argument("--base-rates", type=float, nargs="+", default=[0.5, 0.1, 0.01])
    parser.add_argument("--scales", type=float, nargs="+", default=[0.5, 0.8, 1.02, 1.3, 2.0])
    parser.add_argument("--replicates", type=int, default=200)
    parser.add_argument(
        "--cells", nargs="+", default=["binary", "weights", "history"],
        choices=["binary", "weights", "history"],
    )
    args = parser.parse_args(argv)
    header = (
        "| cell | n | seeds | medium/high | consistent | expected code | ECE covers "
        "| smECE covers | ECE holds estimate | MCB covers | DSC covers | top codes |"
    )
    print(header)
    print("|---" * (header.count("|") - 1) + "|")
    if "binary" in args.cells:
        for n in args.n:
            for name, model, expect in binary_cells(args):
                s = seeds_for(n, args.seeds)
                t = run_cell(model, n, s, expect, args.replicates)
                top = ", ".join(f"{c} {k / t.runs:.2f}" for c, k in t.codes.most_common(3))
                print(
                    f"| {name} | {n:g} | {s} | {rate(t.alarms, t.runs)} | "
                    f"{rate(t.consistent, t.runs)} | "
                    f"{rate(t.hits, t.runs) if expect else '-'} | "
                    f"{rate(t.covered['ece'], t.runs) if t.covered or t.held else '-'} | "
                    f"{rate(t.covered['smooth_ece'], t.runs) if t.covered or t.held else '-'} | "
                    f"{rate(t.held['ece'], t.runs) if t.held else '-'} | "
                    f"{rate(t.covered['miscalibration'], t.runs) if t.held else '-'} | "
                    f"{rate(t.covered['discrimination'], t.runs) if t.held else '-'} | {top} |",
                    flush=True,
                )
    if "weights" in args.cells:
        for base in args.base_rates:
            for n in args.n:
                s = seeds_for(n, args.seeds) // 4 or 1
                differ, total = weight_cell(base, n, s, args.replicates)
                print(
                    f"| weights x1/x5/x25 base={base:g} (verdicts or intervals differ) | {n:g} "
                    f"| {total} | {rate(differ, total)} | | | | | | | | |",
                    flush=True,
                )
    if "history" in args.cells:
        for phi in (0.0, 0.5):
            t = history_cell(phi, args.seeds)
            top = ", ".join(f"{c} {k / t.runs:.2f}" for c, k in t.codes.most_common(3))
            print(
                f"| history flat, AR(1) phi={phi:g} | 60 epochs | {t.runs} | "
                f"{rate(t.alarms, t.runs)} | {rate(t.consistent, t.runs)} | | | | | | | {top} |",
                flush=True,
            )


if __name__ == "__main__":
    main()

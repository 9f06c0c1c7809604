"""Long logs: the Theil-Sen slope against scipy and its stated precision, and a
million-epoch log analysed within a minute of CPU and 1 GiB (issue 19)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from lossgap.core.trend import THEIL_SEN_EXACT_POINTS, THEIL_SEN_PAIRS, theil_sen

SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.mark.parametrize("n", [2, 7, 150, THEIL_SEN_EXACT_POINTS])
def test_theil_sen_equals_scipy_up_to_the_exact_limit(rng, n):
    x = np.sort(rng.choice(10 * n, n, replace=False)).astype(np.float64)
    y = 0.01 * x + rng.standard_t(3, n)
    fit = stats.theilslopes(y, x)
    assert theil_sen(x, y) == pytest.approx((fit.slope, fit.intercept), rel=1e-12, abs=1e-15)


def test_theil_sen_beyond_the_limit_keeps_its_stated_rank_precision(rng):
    """Over 2,000 points the slope is a subsample median: its rank among every pair's
    slope (brute force) stays within the documented 0.98 / sqrt(m) of one half."""
    n = 3 * THEIL_SEN_EXACT_POINTS // 2
    x = np.arange(n, dtype=np.float64)
    e = np.zeros(n)
    for t in range(1, n):  # AR(1) noise, as real validation curves have
        e[t] = 0.5 * e[t - 1] + rng.normal()
    y = 1e-3 * x + e
    slope, intercept = theil_sen(x, y)
    i, j = np.triu_indices(n, k=1)
    every = (y[j] - y[i]) / (x[j] - x[i])
    rank = float(np.mean(every < slope))
    assert abs(rank - 0.5) <= 0.98 / np.sqrt(THEIL_SEN_PAIRS)
    assert intercept == pytest.approx(np.median(y) - slope * np.median(x))
    assert theil_sen(x, y) == (slope, intercept)  # seeded: the same curve, the same slope


def _write_log(path: Path, n: int) -> None:
    rng = np.random.default_rng(1)
    epoch = np.arange(n)
    noise = rng.normal(0, 0.02, n)
    train = np.exp(-epoch / (n / 4)) + 0.1
    val = 0.6 + 0.3 * np.exp(-epoch / (n / 6)) + 0.3 * np.clip(epoch - n / 2, 0, None) / n
    accuracy = np.round((0.9 - 0.2 * np.exp(-epoch / (n / 5)) + noise / 4) * 5000) / 5000
    with path.open("w") as f:
        f.write("epoch,loss,val_loss,val_accuracy\n")
        np.savetxt(
            f,
            np.column_stack([epoch, train, val + noise, accuracy]),
            fmt=["%d", "%.6f", "%.6f", "%.4f"],
            delimiter=",",
        )


#: Runs the CLI in a fresh interpreter and prints that process's own CPU time and peak
#: memory (RUSAGE_SELF: other children of the test process cannot mix in).
MEASURED = """
import resource, runpy, sys
sys.argv = ["lossgap", "history", sys.argv[1]]
try:
    runpy.run_module("lossgap", run_name="__main__")
except SystemExit as exc:
    code = exc.code
finally:
    use = resource.getrusage(resource.RUSAGE_SELF)
    print(f"MEASURED {use.ru_utime + use.ru_stime} {use.ru_maxrss}", file=sys.stderr)
"""


@pytest.mark.slow
def test_a_million_epoch_log_in_under_a_minute_and_a_gibibyte(tmp_path):
    path = tmp_path / "long.csv"
    _write_log(path, 1_000_000)
    done = subprocess.run(
        [sys.executable, "-c", MEASURED, str(path)],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin", "COLUMNS": "80"},
        timeout=600,
        check=False,
    )
    line = next(x for x in done.stderr.splitlines() if x.startswith("MEASURED"))
    cpu, peak_kib = (float(v) for v in line.split()[1:])
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
    assert cpu < 60, f"{cpu:.1f} s of CPU"
    assert peak_kib / 1024 < 1024, f"peak {peak_kib / 1024:.0f} MiB"  # KiB on Linux
    assert "overfitting" in done.stdout

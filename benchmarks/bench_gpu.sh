#!/usr/bin/env bash
# The torch engine on a GPU against the numpy engine on the CPU, in one run.
#
#   bash benchmarks/bench_gpu.sh            # on a machine with a CUDA device
#
# 1. Checks that lossgap's dependencies import (lossgap itself runs from src/, nothing is
#    built); a missing one is installed from wheels in .whl/ when that folder exists (a
#    device machine reaches no package index), else from the index.
# 2. Correctness at CHECK_N (1e6): the Tally built on the device equals the numpy engine's
#    on the same float32 predictions, every metric to 1e-9 (relative), and
#    lossgap.explain on the device's tensors matches explain on the same arrays in numpy.
# 3. Speed at SIZES (1e7 1e8 1e9, binary, float32 probabilities as a network emits them):
#    the Tally (validation included) and the full explain, numpy against torch on the
#    device (CUDA synchronised, best of REPEAT), printed as ratios numpy / torch. A size
#    the device's memory cannot hold is reported as skipped; numpy runs up to NUMPY_MAX
#    (1e8: at 1e9 it would take minutes and tens of GB) and its time beyond is
#    extrapolated linearly from the largest size it ran, and said so.
#
# The issue's targets: torch at least 10x the CPU engine at 1e8, and 1e9 binary
# predictions explained in under 2 s. Results also go to $OUT/bench_gpu.json when OUT is
# set. Environment: PYTHON (default python3), DEVICE (default cuda), CHECK_N, SIZES,
# NUMPY_MAX, REPEAT (default 2).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1

missing=$("$PY" - <<'EOF'
import importlib
need = {"numpy": "numpy", "scipy": "scipy", "sklearn": "scikit-learn", "threadpoolctl": "threadpoolctl",
        "pyarrow": "pyarrow", "rich": "rich", "typer": "typer", "jinja2": "jinja2",
        "matplotlib": "matplotlib", "torch": "torch"}
gone = []
for module, package in need.items():
    try:
        importlib.import_module(module)
    except ImportError:
        gone.append(package)
print(" ".join(gone))
EOF
)
if [ -n "$missing" ]; then
    echo "installing: $missing"
    if [ -d .whl ]; then
        # shellcheck disable=SC2086
        "$PY" -m pip install -q --no-index --find-links .whl $missing
    else
        # shellcheck disable=SC2086
        "$PY" -m pip install -q $missing
    fi
fi
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true

"$PY" - <<'EOF'
import json
import os
import platform
import time

import numpy as np
import torch

import lossgap
from lossgap import Predictions, Tally
from lossgap.engines.torch import tally_from_tensors
from lossgap.core.metrics import METRICS

device = os.environ.get("DEVICE", "cuda")
check_n = int(float(os.environ.get("CHECK_N", "1e6")))
sizes = [int(float(s)) for s in os.environ.get("SIZES", "1e7 1e8 1e9").split()]
numpy_max = int(float(os.environ.get("NUMPY_MAX", "1e8")))
repeat = int(os.environ.get("REPEAT", "2"))
results: dict = {"device": device, "sizes": {}}


def sync() -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def best(func, runs: int = repeat) -> float:
    times = []
    for _ in range(runs):
        sync()
        start = time.perf_counter()
        func()
        sync()
        times.append(time.perf_counter() - start)
    return min(times)


def data(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Labels drawn from a noisy logistic model, float32 probabilities, on the device."""
    gen = torch.Generator(device=device).manual_seed(seed)
    z = torch.randn(n, generator=gen, device=device) * 2
    y = (torch.rand(n, generator=gen, device=device) < torch.sigmoid(z)).to(torch.int64)
    p = torch.sigmoid(z + torch.randn(n, generator=gen, device=device))
    return y, p


name = torch.cuda.get_device_name() if device.startswith("cuda") else platform.processor()
memory = torch.cuda.get_device_properties(0).total_memory / 2**30 if device.startswith("cuda") else 0
print(f"torch {torch.__version__} on {device} ({name}, {memory:.0f} GiB); numpy {np.__version__}; "
      f"CPU threads {torch.get_num_threads()}; lossgap from {lossgap.__file__}")
results["device_name"] = name

# -- correctness --------------------------------------------------------------------------
y, p = data(check_n, seed=7)
y_np, p_np = y.cpu().numpy(), p.cpu().numpy()
on_device = tally_from_tensors(y, p).to_numpy()
on_cpu = Tally.from_predictions(Predictions(y_np, p_np))
worst = 0.0
for metric, fn in METRICS.items():
    a, b = fn(on_device), fn(on_cpu)
    rel = abs(a - b) / max(abs(b), 1e-300)
    worst = max(worst, rel)
    assert rel <= 1e-9, f"{metric}: device {a!r} numpy {b!r}"
ev_device, ev_cpu = lossgap.explain(y, p), lossgap.explain(y_np, p_np)
for metric in ("log_loss", "accuracy", "roc_auc", "brier", "ece"):
    a, b = ev_device.metric(metric), ev_cpu.metric(metric)
    assert abs(a - b) <= 1e-9 * max(abs(b), 1.0), f"explain {metric}: device {a!r} numpy {b!r}"
print(f"correctness at n={check_n:.0e}: every metric equal to the numpy engine's "
      f"(largest relative difference {worst:.1e}); explain agrees")
results["check"] = {"n": check_n, "largest_relative_difference": worst}
del y, p, y_np, p_np

# -- speed --------------------------------------------------------------------------------
print(f"{'n':>8} {'numpy tally':>12} {'torch tally':>12} {'ratio':>7} "
      f"{'numpy explain':>14} {'torch explain':>14} {'ratio':>7}")
per_row: tuple[float, float] | None = None
for n in sizes:
    row: dict = {}
    try:
        y, p = data(n, seed=n % 9973)
        t_tally = best(lambda: tally_from_tensors(y, p).to_numpy())
        t_explain = best(lambda: lossgap.explain(y, p))
    except torch.cuda.OutOfMemoryError:
        print(f"{n:>8.0e}  skipped: the device's memory cannot hold this size")
        results["sizes"][str(n)] = {"skipped": "out of device memory"}
        y = p = None
        torch.cuda.empty_cache()
        continue
    row.update(torch_tally_s=t_tally, torch_explain_s=t_explain)
    if n <= numpy_max:
        y_np, p_np = y.cpu().numpy(), p.cpu().numpy()
        runs = 1 if n > 10**7 else repeat
        n_tally = best(lambda: Tally.from_predictions(Predictions(y_np, p_np)), runs)
        n_explain = best(lambda: lossgap.explain(y_np, p_np), runs)
        per_row = (n_tally / n, n_explain / n)
        del y_np, p_np
        how = ""
    elif per_row is not None:
        n_tally, n_explain = per_row[0] * n, per_row[1] * n
        how = " (numpy extrapolated)"
    else:
        n_tally = n_explain = float("nan")
        how = " (numpy not run)"
    row.update(numpy_tally_s=n_tally, numpy_explain_s=n_explain, numpy=how.strip(" ()") or "measured")
    results["sizes"][str(n)] = row
    print(f"{n:>8.0e} {n_tally:>11.3f}s {t_tally:>11.3f}s {n_tally / t_tally:>6.1f}x "
          f"{n_explain:>13.3f}s {t_explain:>13.3f}s {n_explain / t_explain:>6.1f}x{how}", flush=True)
    del y, p
    if device.startswith("cuda"):
        torch.cuda.empty_cache()

at_1e8 = results["sizes"].get(str(10**8), {})
at_1e9 = results["sizes"].get(str(10**9), {})
if "torch_tally_s" in at_1e8:
    ratio = at_1e8["numpy_tally_s"] / at_1e8["torch_tally_s"]
    print(f"target: torch at least 10x the CPU engine at 1e8: {ratio:.1f}x, "
          f"{'met' if ratio >= 10 else 'NOT met'}")
if "torch_explain_s" in at_1e9:
    t = at_1e9["torch_explain_s"]
    print(f"target: 1e9 binary predictions explained in under 2 s: {t:.2f} s, "
          f"{'met' if t < 2 else 'NOT met'}")
if os.environ.get("OUT"):
    with open(os.path.join(os.environ["OUT"], "bench_gpu.json"), "w") as handle:
        json.dump(results, handle, indent=1)
EOF

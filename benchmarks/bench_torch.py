"""The torch engine on CPU and GPU against the numpy engine, and LossGapMetric's throughput.

Per size n (binary, float32 probabilities as a network emits them), in one run:

* ``numpy``: ``Tally.from_predictions`` on validated Predictions (validation not timed);
* ``torch cpu`` and ``torch <device>``: ``tally_from_tensors(...).to_numpy()``, the Tally
  computed on the device and its summary copied to the host (CUDA synchronised);
* the ratios ``numpy / torch`` (above 1: torch is faster).

Then ``LossGapMetric`` fed batches of 65,536 on the device: samples per second.

Usage::

    python benchmarks/bench_torch.py [--sizes 1e5 1e6 1e7] [--device-sizes 1e6 1e7 1e8]
        [--device cuda] [--check]

``--check`` also asserts, once per size, that the device's metrics equal numpy's.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import torch

from lossgap import Predictions, Tally
from lossgap.core.metrics import METRICS
from lossgap.engines.torch import tally_from_tensors
from lossgap.torch import LossGapMetric


def timed(func: Callable[[], object], device: str, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        start = time.perf_counter()
        func()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return best


def data(n: int, device: str, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator(device=device).manual_seed(seed)
    z = torch.randn(n, generator=gen, device=device) * 2
    y = (torch.rand(n, generator=gen, device=device) < torch.sigmoid(z)).to(torch.int64)
    p = torch.sigmoid(z + torch.randn(n, generator=gen, device=device)).to(torch.float32)
    return y, p


def device_tally(y: torch.Tensor, p: torch.Tensor) -> Tally:
    return tally_from_tensors(y, p).to_numpy()


def compare(n: int, devices: list[str], repeat: int, check: bool) -> None:
    y, p = data(n, "cpu", seed=n % 9973)
    start = time.perf_counter()
    pred = Predictions(y.numpy(), p.numpy())
    validate = time.perf_counter() - start
    t_numpy = timed(lambda: Tally.from_predictions(pred), "cpu", repeat)
    cells = [f"{n:10.0e}", f"{validate:10.3f}", f"{t_numpy:10.3f}"]
    reference = Tally.from_predictions(pred) if check else None
    for device in devices:
        yd, pd = y.to(device), p.to(device)
        t_dev = timed(lambda yd=yd, pd=pd: device_tally(yd, pd), device, repeat)
        cells += [f"{t_dev:10.3f}", f"{t_numpy / t_dev:10.2f}"]
        if reference is not None:
            got = device_tally(yd, pd)
            for name, fn in METRICS.items():
                np.testing.assert_allclose(fn(got), fn(reference), rtol=1e-9, err_msg=name)
        del yd, pd
    print("  ".join(cells), flush=True)


def metric_throughput(n: int, device: str, batch: int = 65_536) -> float:
    y, p = data(n, device, seed=1)
    metric = LossGapMetric()

    def feed() -> None:
        metric.reset()
        for start in range(0, n, batch):
            metric.update(p[start : start + batch], y[start : start + batch])
        metric.tally.to_numpy()

    return n / timed(feed, device, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="*", type=float, default=[1e5, 1e6, 1e7])
    parser.add_argument("--device-sizes", nargs="*", type=float, default=[1e6, 1e7, 1e8])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else None)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    name = torch.cuda.get_device_name() if args.device and args.device.startswith("cuda") else "-"
    threads = torch.get_num_threads()
    print(f"torch {torch.__version__}; CPU threads {threads}; device {args.device} ({name})")
    header = ["n", "validate", "numpy"]
    devices = ["cpu"]
    header += ["torch cpu", "numpy/cpu"]
    print("CPU:")
    print("  ".join(f"{h:>10}" for h in header))
    for n in args.sizes:
        compare(int(n), devices, args.repeat, args.check)
    if args.device:
        print(f"{args.device}:")
        print("  ".join(f"{h:>10}" for h in ["n", "validate", "numpy", "torch cpu", "numpy/cpu",
                                            "torch dev", "numpy/dev"]))
        for n in args.device_sizes:
            compare(int(n), ["cpu", args.device], 1, args.check)
    for device in ["cpu"] + ([args.device] if args.device else []):
        rate = metric_throughput(2_000_000, device)
        print(f"LossGapMetric on {device}: {rate:,.0f} samples/s (batches of 65,536, 2e6 samples)")


if __name__ == "__main__":
    main()

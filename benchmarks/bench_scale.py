"""Scale benchmarks: the Tally in memory, a Parquet file larger than memory, Spark.

Every figure is a ratio measured in this one run (never asserted in unit tests).

1. In memory, binary, per size n: one ``np.sort`` of the scores (the floor), a plain numpy
   pass (log loss and accuracy only), scikit-learn's plain calls (log_loss, accuracy,
   balanced accuracy, precision, recall, F1, Brier, ROC AUC, average precision,
   calibration_curve, IsotonicRegression), and lossgap's Tally plus every metric, exact
   (cap above n) and at the default cap (compressed past 1e6 distinct scores), with the
   ROC AUC bound and the observed error. CPU seconds (every thread counted), best of 3 up
   to 1e6 rows, one run above.
2. Streaming: a Parquet file of ``--stream-rows`` rows (4e7 by default, written in row
   groups, never held in memory), read by pyarrow alone (the two columns, in batches) and
   evaluated by ``lossgap.engines.stream.stream_tally``, in ``--repeat`` rounds that
   alternate the two, each run in a child process of its own: the best wall and the best CPU
   time of each (and each round's ratios), peak resident memory read from
   ``/proc/self/status`` (VmHWM), the first run's and the largest; log loss and
   accuracy are checked against an independent chunked numpy pass, ROC AUC against
   ``scipy.stats.rankdata`` within the reported bound (``--check-auc``, which needs a few
   GB). A file just written is in the page cache and its float pages barely compress, so
   pyarrow alone reads at about the speed of a memory copy: the ratio compares the
   evaluation's work per row with that. Then the worker's cost per row alone
   (``BinaryRun.add`` on 8 row groups held in memory, CPU, best of 5): the steadier
   figure on a loaded machine.
3. Spark (``--spark``): ``lossgap.spark.tally`` in local mode against the numpy engine.
4. Memory of the in-memory ``lossgap.explain`` (``--explain-memory N``, binary, N rows, in
   a child process): its peak resident memory (VmHWM) above the process with the inputs
   loaded, as a multiple of the inputs (labels and probabilities, 16 bytes a row).

Usage::

    python benchmarks/bench_scale.py [--sizes 1e5 1e6 1e7] [--stream-rows 4e7] [--repeat 3]
        [--check-auc] [--spark] [--explain-memory 1e7] [--dir DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

CHUNK = 1_000_000


def timed(func: Callable[[], object], repeat: int = 1) -> tuple[float, object]:
    """(least CPU seconds, every thread counted, last result) of ``repeat`` runs: on a
    shared machine the load stretches wall times far more than CPU times."""
    best, out = float("inf"), None
    for _ in range(repeat):
        cpu = time.process_time()
        out = func()
        best = min(best, time.process_time() - cpu)
    return best, out


def best_run(func: Callable[[], object], repeat: int) -> tuple[float, float, float, object]:
    """(best wall seconds, CPU and user seconds of that run, last result) of ``repeat``
    runs. User time leaves out the kernel's: on this VM a fresh allocation's page faults
    cost the host's page reporting, which swings system time by a factor of 3 between runs
    of the same read (docs/performance.md), while user time holds."""
    best, out = (float("inf"), float("nan"), float("nan")), None
    for _ in range(repeat):
        wall, cpu, user = time.perf_counter(), time.process_time(), _user_seconds()
        out = func()
        best = min(best, (time.perf_counter() - wall, time.process_time() - cpu,
                          _user_seconds() - user))
    return best[0], best[1], best[2], out


def _user_seconds() -> float:
    """User CPU seconds of this process, every thread counted."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_utime


def binary_data(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels drawn from a noisy logistic model; float64 scores, nearly all distinct."""
    z = rng.normal(0.0, 2.0, n)
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(np.int64)
    p = 1 / (1 + np.exp(-(z + rng.normal(0.0, 1.0, n))))
    return y, p


def in_memory(sizes: list[int], rng: np.random.Generator) -> None:
    from bench_explain import numpy_pass
    from bench_explain import sklearn_metrics as sklearn_plain  # the same calls, one definition
    from sklearn.metrics import roc_auc_score

    from lossgap import Predictions, Tally
    from lossgap.core.metrics import METRICS, roc_auc_bound

    def lossgap_metrics(pred: Predictions, **kw: int) -> Tally:
        tally = Tally.from_predictions(pred, **kw)
        for fn in METRICS.values():
            fn(tally)
        return tally

    print("1. In memory, binary (CPU seconds; ratios within this run)")
    header = ("n", "sort", "numpy", "sklearn", "tally exact", "tally default", "exact/sort",
              "sklearn/exact", "default/sort", "AUC bound", "AUC error")
    print("  ".join(f"{h:>13}" for h in header))
    for n in sizes:
        y, p = binary_data(rng, n)
        pred = Predictions(y, p)
        repeat = 3 if n <= 1_000_000 else 1
        t_sort, _ = timed(lambda: np.sort(p), repeat)
        t_np, _ = timed(lambda: numpy_pass(y, p), repeat)
        t_sk, _ = timed(lambda: sklearn_plain(y, p))
        t_exact, _ = timed(lambda: lossgap_metrics(pred, max_distinct=n + 1), repeat)
        t_default, tally = timed(lambda: lossgap_metrics(pred), repeat)
        if tally.compressed:
            bound = roc_auc_bound(tally)
            error = abs(METRICS["roc_auc"](tally) - roc_auc_score(y, p))
            auc = f"{bound:13.2e}  {error:13.2e}"
        else:
            auc = f"{'exact':>13}  {'0':>13}"
        row = (f"{n:13.0e}  {t_sort:13.4f}  {t_np:13.4f}  {t_sk:13.3f}  {t_exact:13.3f}  "
               f"{t_default:13.3f}  {t_exact / t_sort:13.1f}  {t_sk / t_exact:13.1f}  "
               f"{t_default / t_sort:13.1f}  {auc}")
        print(row, flush=True)
    print("  (Tally timings include validation by Predictions.)\n")


def write_parquet(path: Path, rows: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    schema = pa.schema([("label", pa.int64()), ("prob", pa.float64())])
    with pq.ParquetWriter(path, schema) as writer:
        for start in range(0, rows, CHUNK):
            y, p = binary_data(rng, min(CHUNK, rows - start))
            writer.write_table(pa.table({"label": y, "prob": p}, schema=schema))


def independent_sums(path: Path) -> tuple[float, float, int]:
    """Log loss and accuracy of the whole file, chunk by chunk with plain numpy."""
    loss = correct = 0.0
    n = 0
    for batch in ds.dataset(path).to_batches(batch_size=CHUNK):
        y = batch.column("label").to_numpy()
        p = batch.column("prob").to_numpy()
        loss += float(-np.log(np.where(y == 1, p, 1 - p)).sum())
        correct += float(((p >= 0.5) == y).sum())
        n += len(y)
    return loss / n, correct / n, n


def exact_auc(path: Path) -> float:
    """ROC AUC from average ranks (Mann-Whitney with ties), the whole file in memory."""
    from scipy.stats import rankdata

    table = pq.read_table(path)
    y = table.column("label").to_numpy()
    ranks = rankdata(table.column("prob").to_numpy())
    pos = float(y.sum())
    neg = len(y) - pos
    return float((ranks[y == 1].sum() - pos * (pos + 1) / 2) / (pos * neg))


def peak_mib() -> float:
    """Peak resident memory of this process since its exec (VmHWM; getrusage's maxrss
    would count the parent's memory at fork)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child_stream(path: str, repeat: int) -> None:
    """Evaluate the file by streaming; print timings, results and peak memory as JSON."""
    start = time.perf_counter()
    from lossgap.core.metrics import approximation_bounds
    from lossgap.engines.stream import stream_tally
    from lossgap.explanation import evaluate

    # a small file past the cap first: the compiled kernels load from numba's disk cache
    # on their first call, once per process (the import's cost, not the stream's)
    y, p = binary_data(np.random.default_rng(0), 4096)
    with tempfile.TemporaryDirectory(prefix="lossgap_warm_") as folder:  # removed after
        warm = Path(folder) / "warm.parquet"
        pq.write_table(pa.table({"label": y, "prob": p}), warm)
        stream_tally(warm, max_distinct=256, batch_rows=1024)
    imported = time.perf_counter()
    first = best_run(lambda: stream_tally(path), 1)
    first_peak = peak_mib()
    rest = best_run(lambda: stream_tally(path), repeat - 1)
    stream_s, cpu_s, user_s, _ = min(first, rest, key=lambda run: run[0])
    tally = first[3]
    streamed = time.perf_counter()
    evaluation = evaluate(tally)
    done = time.perf_counter()
    print(json.dumps({
        "import_s": imported - start,
        "stream_s": stream_s,
        "cpu_s": cpu_s,
        "user_s": user_s,
        "evaluate_s": done - streamed,
        "first_peak_mib": first_peak,
        "peak_mib": peak_mib(),
        "n": tally.count,
        "compressed": tally.compressed,
        "bins": len(tally.tables[0].scores),
        "log_loss": evaluation.metric("log_loss"),
        "accuracy": evaluation.metric("accuracy"),
        "roc_auc": evaluation.metric("roc_auc"),
        "bounds": approximation_bounds(tally),
    }))


def child_batches(path: str, repeat: int) -> None:
    """The streaming worker's cost per row: ``BinaryRun.add`` (the check, the fused pass,
    the worst samples) on the file's first 8 row groups held in memory, CPU time, best of
    ``repeat`` rounds: steadier than the whole stream on a loaded machine (no reading, no
    threads), and the number the kernel's changes move."""
    from lossgap.engines.batches import BatchSpec, BinaryRun
    from lossgap.io.tables import ColumnChoice

    parquet = pq.ParquetFile(path)
    tables = [parquet.read_row_group(i) for i in range(min(8, parquet.num_row_groups))]
    spec = BatchSpec(ColumnChoice("label", ["prob"], False), (0, 1))
    BinaryRun(spec, (0, 1)).add(tables[0], 0, path)  # the compiled kernels loaded
    rows = sum(t.num_rows for t in tables)

    def add_all() -> None:
        run, first = BinaryRun(spec, (0, 1)), 0
        for table in tables:
            run.add(table, first, path)
            first += table.num_rows

    cpu, _ = timed(add_all, repeat)
    print(json.dumps({"ns_per_row": cpu / rows * 1e9, "rows": rows}))


def child_read(path: str, repeat: int) -> None:
    """pyarrow alone reading the two columns in batches: the throughput to match."""
    def read() -> int:
        batches = ds.dataset(path).to_batches(columns=["label", "prob"], batch_size=1 << 20)
        return sum(b.num_rows for b in batches)

    read_s, cpu_s, user_s, rows = best_run(read, repeat)
    print(json.dumps({"read_s": read_s, "cpu_s": cpu_s, "user_s": user_s, "rows": rows,
                      "peak_mib": peak_mib()}))


def run_child(mode: str, path: Path, repeat: int) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, f"--child-{mode}", str(path), "--repeat", str(repeat)],
        check=True, capture_output=True, text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def streaming(rows: int, folder: Path, check_auc: bool, repeat: int) -> None:
    path = folder / f"bench_{rows:.0e}.parquet"
    if not path.exists():
        t_write, _, _, _ = best_run(lambda: write_parquet(path, rows, seed=2026), 1)
        print(f"2. Streaming: wrote {rows:,} rows to {path} "
              f"({path.stat().st_size / 2**20:.0f} MiB) in {t_write:.0f} s")
    else:
        print(f"2. Streaming: {path} ({path.stat().st_size / 2**20:.0f} MiB, reused)")
    # rounds alternate pyarrow's read and the stream, each in a fresh child, so that both
    # see the same load; the best wall and the best CPU time of each are compared, and the
    # ratio of every round shows the spread
    reads, streams = [], []
    for _ in range(repeat):
        reads.append(run_child("read", path, 1))
        streams.append(run_child("stream", path, 1))
    read = {"rows": reads[0]["rows"], "peak_mib": max(r["peak_mib"] for r in reads),
            "read_s": min(r["read_s"] for r in reads), "cpu_s": min(r["cpu_s"] for r in reads),
            "user_s": min(r["user_s"] for r in reads)}
    result = dict(streams[0])
    result["stream_s"] = min(r["stream_s"] for r in streams)
    result["cpu_s"] = min(r["cpu_s"] for r in streams)
    result["user_s"] = min(r["user_s"] for r in streams)
    result["peak_mib"] = max(r["peak_mib"] for r in streams)
    batches = run_child("batches", path, 5)
    loss, acc, n = independent_sums(path)
    throughput = result["n"] / result["stream_s"]
    read_throughput = read["rows"] / read["read_s"]
    print(f"  pyarrow alone:     {read['read_s']:8.2f} s  {read_throughput:14,.0f} rows/s  "
          f"peak {read['peak_mib']:6.0f} MiB  (CPU {read['cpu_s']:.2f} s, user "
          f"{read['user_s']:.2f} s; best of {repeat})")
    print(f"  lossgap streamed:  {result['stream_s']:8.2f} s  {throughput:14,.0f} rows/s  "
          f"peak {result['first_peak_mib']:6.0f} MiB  (CPU {result['cpu_s']:.2f} s, user "
          f"{result['user_s']:.2f} s; best of "
          f"{repeat}, peak {result['peak_mib']:.0f} MiB over them; import "
          f"{result['import_s']:.1f} s, evaluate {result['evaluate_s']:.1f} s)")
    # on a shared machine CPU time is steadier than wall time, and user time steadier
    # still where fresh pages' system time swings (best_run): rows per second of each
    cpu_ratio = (result["n"] / result["cpu_s"]) / (read["rows"] / read["cpu_s"])
    user_ratio = (result["n"] / result["user_s"]) / (read["rows"] / read["user_s"])
    print(f"  throughput ratio lossgap/pyarrow: {throughput / read_throughput:.3f} (wall), "
          f"{cpu_ratio:.3f} (CPU), {user_ratio:.3f} (user); "
          f"peak memory {'under' if result['peak_mib'] < 1024 else 'OVER'} 1 GiB")
    print(f"  per batch: BinaryRun.add {batches['ns_per_row']:.2f} ns of CPU a row "
          f"({batches['rows']:,} rows in row groups held in memory, best of 5)")
    rounds = [(r["read_s"] / st["stream_s"], r["cpu_s"] / st["cpu_s"], r["user_s"] / st["user_s"])
              for r, st in zip(reads, streams, strict=True)]
    print("  each round's ratio (wall, CPU, user): "
          + ", ".join(f"({wall:.2f}, {cpu:.2f}, {user:.2f})" for wall, cpu, user in rounds))
    print(f"  rows {result['n']:,} (file {n:,}); compressed: {result['compressed']} "
          f"({result['bins']:,} bins)")
    print(f"  log loss {result['log_loss']:.12f} vs numpy {loss:.12f} "
          f"(diff {abs(result['log_loss'] - loss):.1e})")
    print(f"  accuracy {result['accuracy']:.12f} vs numpy {acc:.12f} "
          f"(diff {abs(result['accuracy'] - acc):.1e})")
    bound = result["bounds"].get("roc_auc", 0.0)
    if check_auc:
        auc = exact_auc(path)
        error = abs(result["roc_auc"] - auc)
        print(f"  ROC AUC {result['roc_auc']:.8f} vs exact {auc:.8f}: error {error:.2e} "
              f"{'within' if error <= bound + 1e-12 else 'OUTSIDE'} the stated bound {bound:.2e}")
    else:
        print(f"  ROC AUC {result['roc_auc']:.8f}, stated bound {bound:.2e} (--check-auc to check)")
    print()


def child_explain_memory(rows: int) -> None:
    """``lossgap.explain`` on ``rows`` binary rows; print the memory it adds as JSON."""
    import lossgap

    lossgap.explain(np.array([0, 1, 1, 0]), np.array([0.2, 0.7, 0.6, 0.4]))  # imports
    y, p = binary_data(np.random.default_rng(3), rows)
    inputs = (y.nbytes + p.nbytes) / 2**20
    status = Path("/proc/self/status").read_text().splitlines()
    loaded = next(int(line.split()[1]) / 1024 for line in status if line.startswith("VmRSS:"))
    lossgap.explain(y, p)
    print(json.dumps({"inputs_mib": inputs, "loaded_mib": loaded, "peak_mib": peak_mib()}))


def explain_memory(rows: int) -> None:
    out = subprocess.run(
        [sys.executable, __file__, "--child-explain-memory", str(rows)],
        check=True, capture_output=True, text=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    added = result["peak_mib"] - result["loaded_mib"]
    print(f"4. In-memory explain, {rows:,} binary rows: inputs {result['inputs_mib']:.0f} MiB, "
          f"process with them {result['loaded_mib']:.0f} MiB, peak {result['peak_mib']:.0f} "
          f"MiB: explain adds {added:.0f} MiB, {added / result['inputs_mib']:.1f}x the inputs\n")


def spark_vs_numpy(n: int, rng: np.random.Generator, folder: Path) -> None:
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    import lossgap.spark
    from lossgap import Predictions, Tally

    y, p = binary_data(rng, n)
    path = folder / "spark_bench.parquet"
    pq.write_table(pa.table({"label": y, "prob": p}), path, row_group_size=n // 8)
    spark = (SparkSession.builder.master("local[2]").config("spark.ui.enabled", "false")
             .config("spark.sql.shuffle.partitions", "2").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    df = spark.read.parquet(str(path)).repartition(4).cache()
    df.count()
    lossgap.spark.tally(df, label="label", prob="prob")  # warm the Python workers
    # wall times: Spark's work runs in other processes
    t_spark, _, _, _ = best_run(lambda: lossgap.spark.tally(df, label="label", prob="prob"), 1)
    t_numpy, _, _, _ = best_run(lambda: Tally.from_predictions(Predictions(y, p)), 1)
    print(f"3. Spark local[2], n={n:,}, 4 partitions: {t_spark:.2f} s; numpy engine "
          f"{t_numpy:.2f} s; ratio spark/numpy {t_spark / t_numpy:.1f}\n")
    spark.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="*", type=float, default=[1e5, 1e6, 1e7])
    parser.add_argument("--stream-rows", type=float, default=4e7)
    parser.add_argument("--repeat", type=int, default=3, help="streaming runs, best kept")
    parser.add_argument("--check-auc", action="store_true")
    parser.add_argument("--spark", action="store_true")
    parser.add_argument("--explain-memory", type=float, default=0, metavar="N")
    parser.add_argument("--dir", type=Path, default=None, help="where to write the files")
    parser.add_argument("--child-stream")
    parser.add_argument("--child-read")
    parser.add_argument("--child-batches")
    parser.add_argument("--child-explain-memory", type=int)
    args = parser.parse_args()
    if args.child_explain_memory:
        child_explain_memory(args.child_explain_memory)
        return
    if args.child_stream:
        child_stream(args.child_stream, args.repeat)
        return
    if args.child_read:
        child_read(args.child_read, args.repeat)
        return
    if args.child_batches:
        child_batches(args.child_batches, args.repeat)
        return
    print(f"machine: {os.cpu_count()} CPUs, numpy {np.__version__}, pyarrow {pa.__version__}\n")
    rng = np.random.default_rng(7)
    with contextlib.ExitStack() as stack:
        folder = args.dir
        if folder is None:  # a temporary folder, removed after: a run writes 321 MiB
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="lossgap_bench_")))
        if args.sizes:
            in_memory([int(s) for s in args.sizes], rng)
        if args.stream_rows:
            streaming(int(args.stream_rows), folder, args.check_auc, args.repeat)
        if args.spark:
            spark_vs_numpy(1_000_000, rng, folder)
        if args.explain_memory:
            explain_memory(int(args.explain_memory))


if __name__ == "__main__":
    main()

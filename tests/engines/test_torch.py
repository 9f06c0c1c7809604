"""The torch engine and LossGapMetric against the numpy engine (CPU tensors here)."""

from __future__ import annotations

import time

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import expit

import lossgap
from lossgap import InputError, Predictions, Tally
from lossgap.core.metrics import METRICS
from lossgap.explanation import evaluate
from tests.helpers.data import random_binary, random_multiclass
from tests.helpers.engines import assert_same_json, assert_same_tally, summary_explain

torch = pytest.importorskip("torch")

from lossgap.engines.torch import tally_from_tensors  # noqa: E402
from lossgap.torch import LossGapMetric  # noqa: E402


def cases(rng):
    y2, p2 = random_binary(rng, 3000)
    y3, p3 = random_multiclass(rng, 2000, 3)
    z = rng.normal(0, 3, 3000)
    w = rng.exponential(size=3000)
    return {
        "binary": (y2, p2, {}),
        "binary_ties_weighted": (y2, np.round(p2, 2), {"sample_weight": w}),
        "binary_logits": ((rng.random(3000) < expit(z)).astype(int), z, {"from_logits": True}),
        "two_columns": (y2, np.column_stack([1 - p2, p2]), {}),
        "multiclass": (y3, p3, {}),
        "multiclass_logits": (y3, np.log(p3) + 5.0, {"from_logits": True}),
    }


@pytest.mark.parametrize(
    "case",
    [
        "binary",
        "binary_ties_weighted",
        "binary_logits",
        "two_columns",
        "multiclass",
        "multiclass_logits",
    ],
)
def test_tensor_tally_equals_numpy_tally(rng, case):
    y, p, kw = cases(rng)[case]
    numpy_tally = Tally.from_predictions(Predictions(y, p, **kw))
    tkw = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
    torch_tally = tally_from_tensors(torch.tensor(y), torch.tensor(p), **tkw).to_numpy()
    for name, fn in METRICS.items():
        assert_allclose(fn(torch_tally), fn(numpy_tally), rtol=1e-12, err_msg=name)
    assert_array_equal(torch_tally.worst.ids, numpy_tally.worst.ids)
    assert_allclose(torch_tally.worst.loss, numpy_tally.worst.loss, rtol=1e-12)
    for a, b in zip(torch_tally.tables, numpy_tally.tables, strict=True):
        assert_allclose(a.scores, b.scores, rtol=1e-15)
        assert_allclose(a.weights, b.weights, rtol=1e-12)


def test_explain_on_cpu_tensors_equals_the_numpy_engine(rng):
    """numpy reads CPU tensors in place: the samples are at hand, as for arrays."""
    y, p = random_binary(rng, 2000)
    expected = lossgap.explain(y, p).to_dict()
    got = lossgap.explain(torch.tensor(y), torch.tensor(p, dtype=torch.float64)).to_dict()
    assert_same_json(got, expected)


def test_compressed_tables_on_the_device_match_numpy(rng):
    y, p = random_binary(rng, 5000)
    a = Tally.from_predictions(Predictions(y, p), max_distinct=100)
    b = tally_from_tensors(torch.tensor(y), torch.tensor(p), max_distinct=100).to_numpy()
    assert a.compressed and b.compressed
    ta, tb = a.tables[0], b.tables[0]
    for exact in ("bins", "low", "high"):
        assert_array_equal(getattr(tb, exact), getattr(ta, exact))
    assert_allclose(tb.weights, ta.weights)
    assert_allclose(tb.scores, ta.scores, rtol=1e-14)


@pytest.mark.parametrize("multiclass", [False, True])
def test_metric_fed_batch_by_batch_equals_explain_on_the_whole(rng, multiclass):
    y, p = random_multiclass(rng, 3000, 4) if multiclass else random_binary(rng, 3000)
    yt, pt = torch.tensor(y), torch.tensor(p, dtype=torch.float32)
    metric = LossGapMetric(num_classes=4 if multiclass else 2, max_distinct=700)
    for rows in torch.split(torch.arange(len(y)), 512):
        metric.update(pt[rows], yt[rows])
    assert metric.tally.compressed  # the merges crossed the cap on the way
    whole = lossgap.explain(yt, pt)
    merged = metric.compute()
    # the whole was never compressed: compare exact sums, and AUC within the stated bound
    for name in ("log_loss", "accuracy", "brier", "f1", "balanced_accuracy"):
        assert_allclose(merged.metric(name), whole.metric(name), rtol=1e-12, err_msg=name)
    bound = lossgap.core.metrics.roc_auc_bound(metric.tally.to_numpy())
    assert abs(merged.metric("roc_auc") - whole.metric("roc_auc")) <= bound + 1e-12
    assert [r.id for r in merged.worst] == [r.id for r in whole.worst]


def test_metric_below_the_cap_gives_the_same_evaluation(rng):
    y, p = random_binary(rng, 1500)
    metric = LossGapMetric(from_logits=True)
    z = torch.logit(torch.tensor(p).clamp(1e-6, 1 - 1e-6))
    for rows in torch.split(torch.arange(len(y)), 400):
        metric.update(z[rows], torch.tensor(y)[rows].float())  # BCE-style float targets
    # the metric keeps a summary, not the samples: it equals the summary path of the whole
    whole = summary_explain(torch.tensor(y).numpy(), z.numpy(), from_logits=True)
    assert_same_json(metric.compute().to_dict(), whole)


def test_merge_and_reset(rng):
    y, p = random_binary(rng, 600)
    yt, pt = torch.tensor(y), torch.tensor(p)
    a, b, whole = LossGapMetric(), LossGapMetric(), LossGapMetric()
    a.update(pt[:200], yt[:200], ids=torch.arange(200))
    b.update(pt[200:], yt[200:], ids=torch.arange(200, 600))
    whole.update(pt, yt)
    assert_same_json(a.merge(b).compute().to_dict(), whole.compute().to_dict())
    a.reset()
    with pytest.raises(InputError, match="no samples yet"):
        a.compute()


def test_positive_class_swaps_like_predictions(rng):
    y, p = random_binary(rng, 500)
    expected = lossgap.explain(y, p, positive=0)
    got = lossgap.explain(torch.tensor(y), torch.tensor(p), positive=0)
    assert got.classes == expected.classes == [1, 0]
    assert_allclose(got.metric("roc_auc"), expected.metric("roc_auc"), rtol=1e-12)
    assert_allclose(got.metric("f1"), expected.metric("f1"), rtol=1e-12)


@pytest.mark.parametrize(
    ("y", "p", "kw", "match"),
    [
        ([0, 1, 1], [0.2, 1.7, 0.4], {}, r"holds 1\.7\d* at row 1, outside \[0, 1\]"),
        ([0, 1, 1], [0.2, float("nan"), 0.4], {}, "NaN at row 1"),
        ([0, 1, 2], [0.2, 0.5, 0.4], {}, "holds 2 at row 2, outside the class set"),
        ([0, 1, 1], [[0.2, 0.9], [0.5, 0.5], [0.4, 0.6]], {}, "sum to 1.1 at row 0"),
        ([0, 1, 1], [0.2, 0.5, 0.4], {"sample_weight": [1.0, -1.0, 1.0]}, "weights must be >= 0"),
        ([0, 1], [0.2, 0.5, 0.4], {}, "lengths differ"),
        ([0.5, 1.0], [0.2, 0.5], {}, "not a class label"),
    ],
)
def test_bad_tensors_get_the_messages_of_predictions(y, p, kw, match):
    tensors = {k: torch.tensor(v) for k, v in kw.items()}
    with pytest.raises(InputError, match=match):
        lossgap.explain(torch.tensor(y), torch.tensor(p), **tensors)


def test_metric_refuses_a_wrong_shape_and_updates_after_sync():
    metric = LossGapMetric(num_classes=3)
    with pytest.raises(InputError, match=r"preds has shape \(4,\) but num_classes=3"):
        metric.update(torch.rand(4), torch.tensor([0, 1, 2, 0]))
    with pytest.raises(InputError, match="num_classes must be an integer of at least 2"):
        LossGapMetric(num_classes=1)
    metric._is_synced = True  # as after sync() in a process group
    with pytest.raises(InputError, match="call reset"):
        metric.update(torch.full((2, 3), 1 / 3), torch.tensor([0, 1]))


def _sync_worker(rank, world, init_file, y, p, out):
    import torch.distributed as dist

    torch.set_num_threads(1)  # no OpenMP pool in a forked child
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    metric = LossGapMetric()
    rows = torch.arange(rank, len(y), world)  # interleaved shards, global ids
    metric.update(torch.tensor(p)[rows], torch.tensor(y)[rows], ids=rows)
    metric.sync()
    if rank == 0:
        torch.save(metric.compute().to_dict(), out)
    dist.barrier()
    dist.destroy_process_group()


def test_sync_merges_two_gloo_ranks(rng, tmp_path):
    import torch.multiprocessing as mp

    y, p = random_binary(rng, 800)
    out = tmp_path / "rank0.pt"
    # fork: the children inherit the imported modules, so the test takes a second, not 30
    context = mp.start_processes(
        _sync_worker,
        args=(2, str(tmp_path / "init"), y, p, str(out)),
        nprocs=2,
        join=False,
        start_method="fork",
    )
    deadline = time.monotonic() + 120
    while not context.join(timeout=max(deadline - time.monotonic(), 0.1)):
        if time.monotonic() > deadline:
            for process in context.processes:
                process.kill()
            pytest.fail("the two gloo ranks did not finish within 120 s")
    assert_same_json(torch.load(out, weights_only=False), summary_explain(y, p))


def test_sync_is_a_no_op_without_a_process_group(rng):
    y, p = random_binary(rng, 100)
    metric = LossGapMetric()
    metric.update(torch.tensor(p), torch.tensor(y))
    assert metric.sync() is metric and metric.tally.count == 100


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_on_the_gpu_equals_numpy_and_stays_there(rng):
    y, p = random_binary(rng, 200_000)
    yt, pt = torch.tensor(y, device="cuda"), torch.tensor(p, device="cuda")
    on_device = tally_from_tensors(yt, pt, max_distinct=50_000)
    assert on_device.confusion.device.type == "cuda"
    assert on_device.tables[0].bins.device.type == "cuda"
    got = on_device.to_numpy()
    expected = Tally.from_predictions(Predictions(y, p), max_distinct=50_000)
    assert_same_tally(got, expected)
    metric = LossGapMetric(max_distinct=50_000)
    for rows in torch.split(torch.arange(len(y), device="cuda"), 65_536):
        metric.update(pt[rows], yt[rows])
    assert_same_json(metric.compute().to_dict(), evaluate(expected).to_dict())


def test_cpu_tensors_get_the_full_numpy_evaluation(rng):
    """On the CPU numpy reads the tensors in place: multiclass keeps its sample-level parts."""
    y, p = random_multiclass(rng, 1500, 3)
    got = lossgap.explain(torch.tensor(y), torch.tensor(p, dtype=torch.float64)).to_dict()
    expected = lossgap.explain(y, p, classes=[0, 1, 2]).to_dict()
    assert_same_json(got, expected)
    assert got["decomposition"]["log_loss"] and got["recalibration"]["methods"]


def test_cpu_tensor_labels_are_class_indices_named_by_classes(rng):
    y, p = random_binary(rng, 400)
    named = lossgap.explain(
        torch.tensor(y.astype(bool)), torch.tensor(p), classes=["neg", "pos"], positive="neg"
    )
    expected = lossgap.explain(np.array(["neg", "pos"])[y], p, positive="neg")
    assert named.classes == expected.classes == ["pos", "neg"]
    assert_allclose(named.metric("roc_auc"), expected.metric("roc_auc"), rtol=1e-12)
    one_class = lossgap.explain(torch.ones(5), torch.full((5,), 0.7))  # indices: classes 0, 1
    assert one_class.classes == [0, 1] and one_class.metric("accuracy") == 1.0


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_tensors_are_read(rng, dtype):
    y, p = random_binary(rng, 300)
    half = torch.tensor(p).to(getattr(torch, dtype))
    got = lossgap.explain(torch.tensor(y), half)
    expected = lossgap.explain(y, half.float().numpy().astype(np.float64))
    assert_allclose(got.metric("log_loss"), expected.metric("log_loss"), rtol=1e-12)

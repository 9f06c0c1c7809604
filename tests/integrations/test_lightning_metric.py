"""LossGapMetric through Lightning's ``self.log``, on one process and on two CPU processes
(DDP over gloo): the logged numbers are those of scikit-learn on the whole validation set."""

from __future__ import annotations

import csv
import logging
import warnings

import pytest

pl = pytest.importorskip("lightning.pytorch")
torch = pytest.importorskip("torch")
pytest.importorskip("torchmetrics")
sklearn_metrics = pytest.importorskip("sklearn.metrics")

from lossgap.torch import LossGapMetric  # noqa: E402

N_VAL = 200  # even: DistributedSampler pads (repeats samples) when the ranks' shares differ


class Binary(pl.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.net = torch.nn.Linear(4, 1)
        self.gap = LossGapMetric(from_logits=True)
        self.gap_log_loss = self.gap.scalar("log_loss")
        self.gap_accuracy = self.gap.scalar("accuracy")

    def forward(self, x):
        return self.net(x)[:, 0]

    def training_step(self, batch, batch_idx):
        x, y = batch
        return torch.nn.functional.binary_cross_entropy_with_logits(self(x), y.float())

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.gap.update(self(x), y)
        self.log("val_lossgap_log_loss", self.gap_log_loss)
        self.log("val_lossgap_accuracy", self.gap_accuracy)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.3)


def data(seed, n):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=g)
    y = (x[:, 0] - x[:, 1] + torch.randn(n, generator=g) > 0).long()
    return x, y


def loader(x, y):
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=32)


def fit(tmp_path, **trainer_options):
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    pl.seed_everything(0, verbose=False)
    model = Binary()
    trainer = pl.Trainer(
        max_epochs=2,
        accelerator="cpu",
        logger=pl.loggers.CSVLogger(str(tmp_path), name="logs"),
        enable_progress_bar=False,
        enable_checkpointing=False,
        enable_model_summary=False,
        **trainer_options,
    )
    x_val, y_val = data(1, N_VAL)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer.fit(model, loader(*data(0, 256)), loader(x_val, y_val))
    with (tmp_path / "logs" / "version_0" / "metrics.csv").open() as f:
        rows = [r for r in csv.DictReader(f) if r.get("val_lossgap_log_loss")]
    with torch.no_grad():
        prob = torch.sigmoid(model(x_val)).double().numpy()
    return rows, y_val.numpy(), prob


def check_last_epoch(rows, y, prob):
    assert len(rows) == 2  # one value per validation epoch
    last = rows[-1]
    # The last validation ran on the final weights: the whole set, every rank's share.
    assert float(last["val_lossgap_log_loss"]) == pytest.approx(
        sklearn_metrics.log_loss(y, prob), rel=1e-6
    )
    assert float(last["val_lossgap_accuracy"]) == pytest.approx(
        sklearn_metrics.accuracy_score(y, prob >= 0.5)
    )


def test_self_log_on_one_process(tmp_path):
    check_last_epoch(*fit(tmp_path, devices=1))


def test_self_log_in_ddp_on_two_cpu_processes(tmp_path):
    # fork: the two ranks inherit the imported modules, so the test takes seconds
    rows, y, prob = fit(tmp_path, devices=2, strategy="ddp_fork", num_nodes=1)
    check_last_epoch(rows, y, prob)


def test_sync_twice_counts_each_rank_once():
    metric = LossGapMetric()
    metric.update(torch.tensor([0.2, 0.9]), torch.tensor([0, 1]))
    assert metric.sync() is metric and metric.sync() is metric  # no process group: no-op
    assert metric.compute().n == 2

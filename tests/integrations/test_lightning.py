"""A tiny Lightning model on the CPU writes per-epoch predictions in step with metrics.csv."""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pytest

pl = pytest.importorskip("lightning.pytorch")
torch = pytest.importorskip("torch")

from lossgap.history import analyse_history  # noqa: E402
from lossgap.integrations import LightningPredictionWriter  # noqa: E402

EPOCHS = 3


class Tiny(pl.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.net = torch.nn.Linear(4, 3)

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = torch.nn.functional.cross_entropy(self(x), y)
        self.log("train_loss", loss, on_step=True, on_epoch=True)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        logits = self(x)
        self.log("val_loss", torch.nn.functional.cross_entropy(logits, y))
        self.log("val_acc", (logits.argmax(dim=1) == y).float().mean())

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.5)


def loader(seed, n, batch_size):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=g)
    y = (x[:, :3] + 0.5 * torch.randn(n, 3, generator=g)).argmax(dim=1)
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=batch_size)


def test_lightning_writer_in_step_with_metrics_csv(tmp_path):
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    pl.seed_everything(0, verbose=False)
    trainer = pl.Trainer(
        max_epochs=EPOCHS,
        accelerator="cpu",
        logger=pl.loggers.CSVLogger(str(tmp_path), name="logs"),
        callbacks=[LightningPredictionWriter(tmp_path / "preds", classes=["a", "b", "c"])],
        enable_progress_bar=False,
        enable_checkpointing=False,
        enable_model_summary=False,
        log_every_n_steps=1,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # num_workers and small-dataset hints
        trainer.fit(Tiny(), loader(0, 128, 32), loader(1, 96, 96))
    files = sorted(p.name for p in (tmp_path / "preds").iterdir())
    assert files == [f"epoch_{e:04d}.csv" for e in range(EPOCHS)]  # no sanity-check file
    report = analyse_history(tmp_path / "logs", predictions=tmp_path / "preds")
    (analysis,) = report.runs
    run = analysis.run
    assert run.format == "lightning" and run.epoch.tolist() == list(range(EPOCHS))
    # One validation batch: Lightning's val_loss is the mean log loss of the file.
    logged = run.metrics["val_loss"].values
    np.testing.assert_allclose([r.log_loss for r in report.per_epoch], logged, rtol=1e-5)
    np.testing.assert_allclose(
        [r.accuracy for r in report.per_epoch], run.metrics["val_accuracy"].values, atol=1e-6
    )
    assert run.metrics["loss"].name.original == "train_loss_epoch"
    assert all(r.decomposition is not None for r in report.per_epoch)

"""Write ``history.csv``: the history of a real W&B run, logged by Hugging Face's Trainer.

A tiny classifier trains for 3 epochs with ``report_to=["wandb"]`` in offline mode
(``logging_steps=2``, ``eval_steps=4``): W&B's own integration logs the training and the
evaluation metrics in separate ``wandb.log`` calls, so on different ``_step`` values. The
run's ``.wandb`` file is read back record by record (W&B's LevelDB-style log of protobuf
``Record`` messages) and its history rows saved as ``run.history().to_csv()`` saves them:
one row per ``_step``, every key a column, empty where the row lacks it.
``trainer_state.json`` is the Trainer's own record of the same run, the tests' reference.

    pip install wandb transformers accelerate torch
    python tests/data/wandb_hf/make_fixture.py
"""

from __future__ import annotations

import csv
import glob
import json
import os
import struct
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = Path(tempfile.mkdtemp())
os.environ.update(WANDB_MODE="offline", WANDB_SILENT="true", WANDB_DIR=str(WORK))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
import wandb  # noqa: E402
from wandb.proto import wandb_internal_pb2 as pb  # noqa: E402


class Tiny(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(3, 2)

    def forward(self, features=None, labels=None):
        logits = self.linear(features)
        loss = torch.nn.functional.cross_entropy(logits, labels)
        return transformers.modeling_outputs.SequenceClassifierOutput(loss=loss, logits=logits)


def accuracy(eval_pred) -> dict[str, float]:
    return {"accuracy": float(np.mean(eval_pred.predictions.argmax(axis=1) == eval_pred.label_ids))}


def records(path: Path):
    """The records of a .wandb file: a 7-byte header, then 32 KiB blocks of chunks, each
    with a CRC, a length and a type (full, first, middle, last), as in LevelDB's log."""
    data = path.read_bytes()
    assert data[:4] == b":W&B"
    pos, block, pending = 7, 32768, b""
    while pos + 7 <= len(data):
        if block - pos % block < 7:  # a block's tail too short for a header is padding
            pos += block - pos % block
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        chunk, pos = data[pos + 7 : pos + 7 + length], pos + 7 + length
        if kind == 0:
            break
        pending = chunk if kind in (1, 2) else pending + chunk
        if kind in (1, 4):
            yield pending


def main() -> None:
    torch.manual_seed(0)
    features = torch.randn(160, 3)
    labels = (features[:, 0] + torch.randn(160) > 0).long()
    rows = [{"features": f, "labels": y} for f, y in zip(features, labels, strict=True)]
    args = transformers.TrainingArguments(
        output_dir=str(WORK / "out"), eval_strategy="steps", eval_steps=4, logging_steps=2,
        save_strategy="no", num_train_epochs=3, per_device_train_batch_size=16,
        learning_rate=0.5, report_to=["wandb"], use_cpu=True, disable_tqdm=True, seed=0,
    )
    trainer = transformers.Trainer(
        model=Tiny(), args=args, train_dataset=rows[:96], eval_dataset=rows[96:],
        compute_metrics=accuracy,
    )
    trainer.train()
    wandb.finish()
    wandb.teardown()  # the service writes the last records of the run file as it stops
    trainer.state.save_to_json(str(HERE / "trainer_state.json"))
    (run_file,) = glob.glob(str(WORK / "wandb" / "offline-run-*" / "run-*.wandb"))
    history = []
    for raw in records(Path(run_file)):
        record = pb.Record()
        record.ParseFromString(raw)
        if record.WhichOneof("record_type") == "history":
            history.append(
                {(i.key or "/".join(i.nested_key)): json.loads(i.value_json) for i in record.history.item}
            )
    columns = sorted({k for row in history for k in row})
    with (HERE / "history.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, ["", *columns], restval="")
        writer.writeheader()
        writer.writerows({"": i, **row} for i, row in enumerate(history))
    versions = {"wandb": wandb.__version__, "transformers": transformers.__version__}
    (HERE / "versions.json").write_text(json.dumps(versions))


if __name__ == "__main__":
    main()

"""The Hugging Face callback against a TrainerState built here, and history reading its files."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from lossgap.history import analyse_history  # noqa: E402
from lossgap.integrations import HuggingFacePredictionWriter  # noqa: E402
from lossgap.io import read_predictions  # noqa: E402


class TinyClassifier(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(3, 2)

    def forward(self, features=None, labels=None):
        logits = self.linear(features)
        loss = torch.nn.functional.cross_entropy(logits, labels)
        return transformers.modeling_outputs.SequenceClassifierOutput(loss=loss, logits=logits)


@pytest.fixture
def setup():
    torch.manual_seed(0)
    model = TinyClassifier()
    features = torch.randn(50, 3)
    labels = (features[:, 0] > 0).long()
    rows = [{"features": f, "labels": y} for f, y in zip(features, labels, strict=True)]
    loader = torch.utils.data.DataLoader(rows, batch_size=16)
    return model, features, labels, loader


def evaluate(writer, model, loader, state):
    control = transformers.TrainerControl()
    writer.on_evaluate(None, state, control, model=model, eval_dataloader=loader)


def test_writes_probabilities_of_the_model(tmp_path, setup):
    model, features, labels, loader = setup
    model.train()
    writer = HuggingFacePredictionWriter(tmp_path, classes=["neg", "pos"])
    state = transformers.TrainerState(epoch=1.0, global_step=10)
    evaluate(writer, model, loader, state)
    assert model.training  # restored after the extra pass
    pred = read_predictions(tmp_path / "epoch_0001_step_10.csv")
    assert pred.classes == ("neg", "pos")
    expected = torch.softmax(model.linear(features).double(), dim=1)[:, 1].detach().numpy()
    np.testing.assert_allclose(pred.prob, expected, rtol=1e-6)
    assert pred.y.tolist() == labels.tolist()


def test_only_the_main_process_writes(tmp_path, setup):
    model, _, _, loader = setup
    state = transformers.TrainerState(epoch=0.5, global_step=5, is_world_process_zero=False)
    evaluate(HuggingFacePredictionWriter(tmp_path), model, loader, state)
    assert list(tmp_path.iterdir()) == []


def test_trainer_state_and_predictions_line_up(tmp_path, setup):
    model, _, _, loader = setup
    writer = HuggingFacePredictionWriter(tmp_path / "preds")
    state = transformers.TrainerState()
    optimizer = torch.optim.SGD(model.parameters(), lr=2.0)
    for epoch in range(1, 6):
        for batch in loader:
            optimizer.zero_grad()
            model(**batch).loss.backward()
            optimizer.step()
        state.epoch, state.global_step = epoch / 2, epoch * 4  # two evaluations per epoch
        with torch.no_grad():
            losses = [model(**b).loss.item() * len(b["labels"]) for b in loader]
        state.log_history.append({"epoch": state.epoch, "loss": 0.5, "step": state.global_step})
        state.log_history.append(
            {"epoch": state.epoch, "eval_loss": sum(losses) / 50, "step": state.global_step}
        )
        evaluate(writer, model, loader, state)
    state.save_to_json(str(tmp_path / "trainer_state.json"))
    report = analyse_history(tmp_path / "trainer_state.json", predictions=tmp_path / "preds")
    assert [r.epoch for r in report.per_epoch] == [0.5, 1, 1.5, 2, 2.5]
    logged = report.runs[0].run.metrics["val_loss"].values
    np.testing.assert_allclose([r.log_loss for r in report.per_epoch], logged, rtol=1e-5)


def test_compute_metrics_in_a_real_trainer(tmp_path):
    """transformers.Trainer (with accelerate) logs eval_lossgap_* beside its own eval_loss."""
    pytest.importorskip("accelerate")
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    from lossgap.integrations.huggingface import make_compute_metrics

    torch.manual_seed(0)
    features = torch.randn(96, 3)
    labels = (features[:, 0] + 0.5 * torch.randn(96) > 0).long()
    rows = [{"features": f, "labels": y} for f, y in zip(features, labels, strict=True)]
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path),
        eval_strategy="epoch",
        logging_strategy="epoch",
        save_strategy="no",
        num_train_epochs=2,
        per_device_train_batch_size=16,
        per_device_eval_batch_size=16,
        learning_rate=0.5,
        report_to=[],
        use_cpu=True,
        disable_tqdm=True,
    )
    model = TinyClassifier()
    trainer = transformers.Trainer(
        model=model,
        args=args,
        train_dataset=rows[:64],
        eval_dataset=rows[64:],
        compute_metrics=make_compute_metrics(["log_loss", "accuracy"]),
    )
    trainer.train()
    evals = [e for e in trainer.state.log_history if "eval_loss" in e]
    assert len(evals) == 2
    with torch.no_grad():
        prob = torch.softmax(model.linear(features[64:]).double(), dim=1)[:, 1].numpy()
    y = labels[64:].numpy()
    last = evals[-1]
    assert last["eval_lossgap_log_loss"] == pytest.approx(
        sklearn_metrics.log_loss(y, prob), rel=1e-6
    )
    assert last["eval_lossgap_accuracy"] == pytest.approx(
        sklearn_metrics.accuracy_score(y, prob >= 0.5)
    )
    for e in evals:  # the Trainer's own loss on the same logits (float32)
        assert e["eval_lossgap_log_loss"] == pytest.approx(e["eval_loss"], rel=1e-5)

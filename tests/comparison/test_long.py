"""Long-format prediction files: one row per (model, sample), models named by a column."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from lossgap.cli import load_commands
from lossgap.comparison.inputs import read_models
from lossgap.errors import InputError
from tests.helpers.data import REAL_LOGS

sklearn_metrics = pytest.importorskip("sklearn.metrics")

ADHD = REAL_LOGS / "predictions" / "GiorgosBouh__raw_vs_KG_ADHD__results__predictions.csv"


def test_real_long_file_by_two_model_columns():
    """85 subjects x 6 model configurations, the models named by two columns."""
    if not ADHD.exists():
        pytest.skip("the shared real logs are not here")
    with ADHD.open() as f:
        rows = list(csv.DictReader(f))
    preds = read_models(
        [ADHD],
        model_column=["representation", "variant"],
        id="ID",
        label="y_true",
        prob=["y_score"],
    )
    assert len(preds) == 6
    for name, pred in preds.items():
        mine = [r for r in rows if f"{r['representation']}/{r['variant']}" == name]
        by_id = {r["ID"]: r for r in mine}
        # Joined on the id: every model's rows in the first model's order.
        y = np.array([int(by_id[str(i)]["y_true"]) for i in pred.ids])
        p = np.array([float(by_id[str(i)]["y_score"]) for i in pred.ids])
        assert pred.y.tolist() == y.tolist()
        np.testing.assert_array_equal(pred.prob, p)
    result = CliRunner().invoke(
        load_commands(),
        [
            "compare",
            str(ADHD),
            "--model-column",
            "representation",
            "--model-column",
            "variant",
            "--id",
            "ID",
            "--label",
            "y_true",
            "--prob",
            "y_score",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    for model in out["models"]:
        mine = [r for r in rows if f"{r['representation']}/{r['variant']}" == model["name"]]
        y = [int(r["y_true"]) for r in mine]
        p = [float(r["y_score"]) for r in mine]
        assert model["metrics"]["log_loss"]["value"] == pytest.approx(
            sklearn_metrics.log_loss(y, p), rel=1e-12
        )


def test_long_file_errors(tmp_path):
    path = tmp_path / "long.csv"
    path.write_text("model,y,p\na,0,0.2\na,1,0.7\n")
    with pytest.raises(InputError, match="no column 'run'.*--model-column"):
        read_models([path], model_column=["run"])
    with pytest.raises(InputError, match="holds one model in 'model' \\('a'\\)"):
        read_models([path], model_column=["model"])
    path.write_text("model,y,p\na,0,0.2\na,1,0.7\nb,0,0.4\n")
    with pytest.raises(InputError, match="different numbers of rows.*--id"):
        read_models([path], model_column=["model"])


def test_history_long_prediction_file_equals_the_folder(tmp_path):
    """--epoch-column: one long file gives each epoch the numbers its own file gives."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    from lossgap.history import analyse_history
    from lossgap.integrations import write_epoch_predictions

    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 150)
    log = ["epoch,loss,val_loss,val_accuracy"]
    parts = []
    for epoch in range(4):
        p = np.clip(
            0.5 + (y - 0.5) * rng.uniform(-0.2, 1.0, 150) * (1 + epoch / 3) / 2.5, 0.01, 0.99
        )
        write_epoch_predictions(tmp_path / "preds", epoch, y, p)
        parts.append(pa.table({"epoch": np.full(150, epoch), "label": y, "prob": p}))
        log.append(
            f"{epoch},{0.7 - epoch / 10},{sklearn_metrics.log_loss(y, p)},"
            f"{sklearn_metrics.accuracy_score(y, p >= 0.5)}"
        )
    (tmp_path / "training.log").write_text("\n".join(log) + "\n")
    pa_csv.write_csv(pa.concat_tables(parts), tmp_path / "long.csv")
    folder = analyse_history(tmp_path / "training.log", predictions=tmp_path / "preds")
    long = analyse_history(
        tmp_path / "training.log", predictions=tmp_path / "long.csv", epoch_column="epoch"
    )
    assert [r.epoch for r in long.per_epoch] == [0, 1, 2, 3]
    for a, b in zip(folder.per_epoch, long.per_epoch, strict=True):
        assert {k: v for k, v in a.to_dict().items() if k != "file"} == {
            k: v for k, v in b.to_dict().items() if k != "file"
        }
        assert np.array_equal(a.correct, b.correct)
    with pytest.raises(InputError, match="no column 'ep' .*--epoch-column"):
        analyse_history(
            tmp_path / "training.log", predictions=tmp_path / "long.csv", epoch_column="ep"
        )

"""Long-format prediction files: one row per (model, sample), models named by a column."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from tests.conftest import REAL_LOGS
from lossgap.cli import load_commands
from lossgap.compare.inputs import read_models
from lossgap.errors import InputError

sklearn_metrics = pytest.importorskip("sklearn.metrics")

ADHD = REAL_LOGS / "predictions" / "GiorgosBouh__raw_vs_KG_ADHD__results__predictions.csv"


def test_real_long_file_by_two_model_columns():
    """85 subjects x 6 model configurations, the models named by two columns."""
    if not ADHD.exists():
        pytest.skip("the shared real logs are not here")
    with ADHD.open() as f:
        rows = list(csv.DictReader(f))
    preds = read_models(
        [ADHD], model_column=["representation", "variant"], id="ID", label="y_true", prob=["y_score"]
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
        ["compare", str(ADHD), "--model-column", "representation", "--model-column", "variant",
         "--id", "ID", "--label", "y_true", "--prob", "y_score", "--json"],
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    for model in out["models"]:
        mine = [r for r in rows if f"{r['representation']}/{r['variant']}" == model["name"]]
        y = [int(r["y_true"]) for r in mine]
        p = [float(r["y_score"]) for r in mine]
        assert model["metrics"]["log_loss"]["value"] == pytest.approx(sklearn_metrics.log_loss(y, p), rel=1e-12)


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

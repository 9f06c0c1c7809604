"""Weights & Biases: log an evaluation to a run; read a run's history.

Reading: ``lossgap.history(run.scan_history())`` (or ``run.history()``, a DataFrame, or
either saved as CSV); training and evaluation rows are merged by step. wandb is imported
when a function here is called.

Examples
--------
>>> import wandb, lossgap  # doctest: +SKIP
>>> from lossgap.integrations.wandb import log_evaluation  # doctest: +SKIP
>>> run = wandb.init(project="my-model")  # doctest: +SKIP
>>> log_evaluation(lossgap.explain(y_val, p_val))  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from lossgap.errors import InputError
from lossgap.integrations._lazy import require
from lossgap.integrations.mlflow import metric_values
from lossgap.results.display import renderer
from lossgap.results.evaluation import Evaluation


def _wandb() -> Any:
    return require("wandb", "lossgap.integrations.wandb", "pip install wandb")


def report_html(ev: Evaluation) -> Any:
    """The HTML report (as a notebook shows it) as a ``wandb.Html`` panel."""
    return _wandb().Html(renderer(ev, "html")(ev))


def metrics_table(ev: Evaluation) -> Any:
    """Every metric with its interval, as a ``wandb.Table`` (metric, value, ci_low, ci_high)."""
    rows = [[name, m.value, m.ci_low, m.ci_high] for name, m in ev.metrics.items()]
    return _wandb().Table(columns=["metric", "value", "ci_low", "ci_high"], data=rows)


def findings_table(ev: Evaluation) -> Any:
    """The findings, most severe first, as a ``wandb.Table`` (code, severity, message, advice)."""
    rows = [[f.code, f.severity, f.message, f.advice] for f in ev.findings]
    return _wandb().Table(columns=["code", "severity", "message", "advice"], data=rows)


def log_evaluation(
    ev: Evaluation, *, run: Any = None, prefix: str = "lossgap/", step: int | None = None
) -> dict[str, Any]:
    """Log an evaluation's metrics, its report and its tables to a W&B run.

    Parameters
    ----------
    ev : Evaluation
    run : wandb Run, optional
        Default the current run (``wandb.init()``).
    prefix : str, default="lossgap/"
        Put before each key (W&B groups the panels by the part before ``/``).
    step : int, optional
        Passed to ``run.log``.

    Returns
    -------
    dict
        What was logged: the finite metrics, ``<prefix>report`` (``wandb.Html``),
        ``<prefix>metrics`` and ``<prefix>findings`` (``wandb.Table``).

    Raises
    ------
    lossgap.InputError
        No run given and none started.
    """
    wandb = _wandb()
    run = run or wandb.run
    if run is None:
        msg = "no W&B run: call wandb.init() first or pass run="
        raise InputError(msg)
    logged: dict[str, Any] = dict(metric_values(ev, prefix=prefix))
    logged[f"{prefix}report"] = report_html(ev)
    logged[f"{prefix}metrics"] = metrics_table(ev)
    logged[f"{prefix}findings"] = findings_table(ev)
    run.log(logged, step=step)
    return logged

"""MLflow: log an evaluation to a run, and lossgap metrics for ``mlflow.models.evaluate``.

Reading a run's metric history is ``lossgap history mlflow:RUN_ID`` (or
``lossgap.history("mlflow:RUN_ID", tracking_uri=...)``). mlflow is imported when a
function here is called.

Examples
--------
>>> import mlflow, lossgap  # doctest: +SKIP
>>> from lossgap.integrations.mlflow import log_evaluation  # doctest: +SKIP
>>> with mlflow.start_run():  # doctest: +SKIP
...     log_evaluation(lossgap.explain(y_val, p_val))
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from lossgap.errors import InputError
from lossgap.integrations._lazy import require
from lossgap.results.display import renderer
from lossgap.results.evaluation import Evaluation

#: The metrics :func:`evaluation_metrics` builds, and whether higher is better.
EVALUATE_METRICS = {
    "log_loss": False,
    "accuracy": True,
    "balanced_accuracy": True,
    "brier": False,
    "roc_auc": True,
    "ece": False,
}


def _mlflow() -> Any:
    return require("mlflow", "lossgap.integrations.mlflow", "pip install 'lossgap[mlflow]'")


def metric_values(ev: Evaluation, *, prefix: str = "lossgap_") -> dict[str, float]:
    """The evaluation's finite metrics under ``prefix``, as trackers take them.

    Examples
    --------
    >>> import lossgap
    >>> ev = lossgap.explain([0, 1, 1, 0], [0.2, 0.9, 0.6, 0.4])
    >>> metric_values(ev)["lossgap_accuracy"]
    1.0
    """
    values = {f"{prefix}{name}": float(m.value) for name, m in ev.metrics.items()}
    return {k: v for k, v in values.items() if math.isfinite(v)}


def log_evaluation(
    ev: Evaluation,
    *,
    run_id: str | None = None,
    prefix: str = "lossgap_",
    step: int | None = None,
    artifact_path: str = "lossgap",
) -> dict[str, float]:
    """Log an evaluation's metrics, and its JSON and HTML report as artifacts.

    Parameters
    ----------
    ev : Evaluation
        From :func:`lossgap.explain` (or ``LossGapMetric.compute()``).
    run_id : str, optional
        The run to log to; default the active run (``mlflow.start_run()``).
    prefix : str, default="lossgap_"
        Put before each metric name (``lossgap_log_loss``...).
    step : int, optional
        The metrics' step (an epoch, say).
    artifact_path : str, default="lossgap"
        The artifact folder for ``evaluation.json`` and ``report.html``.

    Returns
    -------
    dict of str to float
        The metrics logged (non-finite values, which MLflow refuses, are left out).

    Raises
    ------
    lossgap.InputError
        No run given and none active.
    """
    mlflow = _mlflow()
    from mlflow.entities import Metric

    if run_id is None:
        active = mlflow.active_run()
        if active is None:
            msg = "no active MLflow run: log inside `with mlflow.start_run():` or pass run_id="
            raise InputError(msg)
        run_id = active.info.run_id
    client = mlflow.tracking.MlflowClient()
    values = metric_values(ev, prefix=prefix)
    timestamp = mlflow.utils.time.get_current_time_millis()
    client.log_batch(
        run_id, metrics=[Metric(k, v, timestamp, step or 0) for k, v in values.items()]
    )
    client.log_dict(run_id, ev.to_dict(), f"{artifact_path}/evaluation.json")
    # The report as a notebook shows it (its own styles), through the renderer registry.
    client.log_text(run_id, renderer(ev, "html")(ev), f"{artifact_path}/report.html")
    return values


def evaluation_metrics(
    names: Sequence[str] = ("log_loss", "accuracy", "brier"), *, threshold: float = 0.5
) -> list[Any]:
    """lossgap metrics for ``mlflow.models.evaluate(..., extra_metrics=...)``.

    The evaluated ``predictions`` must be probabilities: of the positive class (one
    number per row) or one per class (a list per row). MLflow first tries every metric
    on the data's first row alone; one sample has no loss-accuracy gap to explain, so
    that probe is answered with None (MLflow then skips it) and only the full data set
    is evaluated.

    Parameters
    ----------
    names : sequence of str, default=("log_loss", "accuracy", "brier")
        Metrics of :class:`~lossgap.Evaluation` to report.
    threshold : float, default=0.5
        Binary decision threshold.

    Returns
    -------
    list of mlflow.models.EvaluationMetric
        Named ``lossgap_<name>``.
    """
    mlflow = _mlflow()
    import numpy as np

    from lossgap.explanation import explain

    unknown = [n for n in names if n not in EVALUATE_METRICS]
    if unknown:
        msg = f"unknown metric {unknown[0]!r}: choose from {', '.join(EVALUATE_METRICS)}"
        raise InputError(msg)

    def build(name: str) -> Any:
        def eval_fn(predictions: Any, targets: Any) -> float | None:
            if len(predictions) < 2:  # MLflow's one-row probe
                return None
            prob = np.asarray(predictions.tolist(), dtype=np.float64)
            ev = explain(np.asarray(targets), prob, threshold=threshold)
            return ev.metric(name)

        eval_fn.__name__ = f"lossgap_{name}"
        return mlflow.models.make_metric(
            eval_fn=eval_fn, greater_is_better=EVALUATE_METRICS[name], name=f"lossgap_{name}"
        )

    return [build(name) for name in names]

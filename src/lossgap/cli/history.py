"""``lossgap history PATH``: where validation loss and accuracy part ways, and why."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Group
from rich.progress import Progress

from lossgap.cli import FullOption, command, print_json, watcher
from lossgap.cli.options import HtmlOption, MarkdownOption, PlotOption
from lossgap.cli.output import check_outputs, write_reports
from lossgap.history import analyse_history
from lossgap.render.history import report_renderables
from lossgap.render.html import history_report
from lossgap.render.text import make_console


class LogFormat(str, Enum):
    keras = "keras"
    keras_history = "keras-history"
    keras_console = "keras-console"
    lightning = "lightning"
    huggingface = "huggingface"
    tensorboard = "tensorboard"
    wandb = "wandb"
    csv = "csv"
    json = "json"


class Goal(str, Enum):
    probabilities = "probabilities"
    decisions = "decisions"


@command("history")
def history_command(
    path: Annotated[
        Path,
        typer.Argument(
            help="A training log (Keras CSVLogger, History JSON or console output, Lightning "
            "metrics.csv, trainer_state.json, TensorBoard event file, W&B CSV), a TensorBoard "
            "run, a directory of runs, or mlflow:RUN_ID."
        ),
    ],
    predictions: Annotated[
        Path | None,
        typer.Option(help="Directory of per-epoch prediction files (epoch_0003.csv, ...)."),
    ] = None,
    epoch_column: Annotated[
        str | None,
        typer.Option(
            help="--predictions is one long file; this column numbers each row's epoch."
        ),
    ] = None,
    format: Annotated[
        LogFormat | None, typer.Option(help="Log format; detected when not given.")
    ] = None,
    loss: Annotated[
        str | None, typer.Option(help="Loss column to analyse (default: the validation loss).")
    ] = None,
    accuracy: Annotated[
        str | None,
        typer.Option(help="Score column to analyse (default: the validation accuracy)."),
    ] = None,
    n_val: Annotated[
        int | None,
        typer.Option("--n-val", help="Validation-set size, for sampling noise.", min=1),
    ] = None,
    goal: Annotated[
        Goal | None,
        typer.Option(help="What the model is for; fits the advice (default: both)."),
    ] = None,
    tracking_uri: Annotated[
        str | None,
        typer.Option(help="MLflow tracking URI for mlflow:RUN_ID (default: MLflow's own)."),
    ] = None,
    json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    full: FullOption = False,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
    html: HtmlOption = None,
    md: MarkdownOption = None,
    plot: PlotOption = None,
) -> None:
    """Read training logs: which epoch to keep, and why validation loss and accuracy part ways.

    One epoch per goal (probabilities, decisions) on the smoothed curves; --full prints
    every run, finding and note.
    """
    check_outputs({"--html": html, "--md": md}, {"--plot": plot}, inputs=[path])
    stderr = watcher(json=json, quiet=quiet)
    with Progress(console=stderr, disable=stderr is None or predictions is None) as progress:
        task = progress.add_task("Evaluating per-epoch predictions", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        report = analyse_history(
            path,
            predictions=predictions,
            format=None if format is None else format.value,
            loss=loss,
            accuracy=accuracy,
            n_val=n_val,
            goal=None if goal is None else goal.value,
            on_file=advance,
            tracking_uri=tracking_uri,
            epoch_column=epoch_column,
        )
    write_reports(
        lambda: history_report(report, source=path.name), html=html, md=md, plot=plot, quiet=quiet
    )
    if json:
        print_json(report.to_dict())
    else:
        make_console().print(Group(*report_renderables(report)) if full else report)

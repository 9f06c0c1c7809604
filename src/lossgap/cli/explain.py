"""``lossgap explain FILE``: evaluate one prediction file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Group

from lossgap.cli import FullOption, command, print_json
from lossgap.explain import evaluate_predictions
from lossgap.io import read_predictions
from lossgap.io.stream import Engine, choose_engine, evaluate_source
from lossgap.render.html import (
    HtmlOption,
    MarkdownOption,
    PlotOption,
    explain_report,
    write_reports,
)
from lossgap.render.text import explanation_renderables, make_console


@command("explain")
def explain_command(
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV, TSV, Parquet, JSON Lines, .npy or .npz file; with --engine stream or "
            "spark also a directory or a quoted glob ('preds/*.parquet')."
        ),
    ],
    label: Annotated[str | None, typer.Option(help="Column of true labels.")] = None,
    prob: Annotated[
        list[str] | None,
        typer.Option(help="Probability column; repeat or glob ('p_*') for one per class."),
    ] = None,
    logit: Annotated[
        list[str] | None, typer.Option(help="Logit column(s), instead of --prob.")
    ] = None,
    id: Annotated[str | None, typer.Option("--id", help="Column of sample ids.")] = None,  # noqa: A002
    weight: Annotated[str | None, typer.Option(help="Column of sample weights.")] = None,
    threshold: Annotated[float, typer.Option(help="Binary decision threshold.")] = 0.5,
    positive: Annotated[str | None, typer.Option(help="The positive class (binary).")] = None,
    classes: Annotated[
        str | None, typer.Option(help="Comma-separated classes in column order.")
    ] = None,
    top: Annotated[
        int, typer.Option(help="How many worst samples to keep (shown with --full).", min=0)
    ] = 10,
    confidence: Annotated[
        float, typer.Option(help="Level of every interval.", min=0.5, max=0.999)
    ] = 0.95,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap and the folds.")] = 0,
    json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    full: FullOption = False,
    engine: Annotated[
        Engine,
        typer.Option(
            case_sensitive=False,
            help="memory, stream (record batches; files, directories, globs) or spark; "
            "auto streams directories, globs and files over 256 MiB.",
        ),
    ] = Engine.auto,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
    html: HtmlOption = None,
    md: MarkdownOption = None,
    plot: PlotOption = None,
) -> None:
    """Explain why loss and accuracy disagree for one file of labels and probabilities.

    Prints a short answer (headline, key numbers, findings, what to do); --full prints
    every metric, finding and the worst samples.
    """
    columns = {
        "label": label,
        "prob": prob or (),
        "logit": logit or (),
        "id": id,
        "weight": weight,
        "threshold": threshold,
        "positive": positive,
        "classes": classes.split(",") if classes else None,
    }
    chosen = choose_engine(file, engine)
    pred = None
    if chosen == "memory":
        pred = read_predictions(file, **columns)
        evaluation = evaluate_predictions(pred, top=top, confidence=confidence, seed=seed)
    else:
        console = make_console(stderr=True)
        if json or quiet or not console.is_terminal:  # a bar only where someone watches
            console = None
        evaluation = evaluate_source(
            file, engine=chosen, console=console, top=top, confidence=confidence, seed=seed, **columns
        )
    write_reports(
        lambda: explain_report(evaluation, pred=pred, source=file.name, seed=seed),
        html=html,
        md=md,
        plot=plot,
        quiet=quiet,
    )
    if json:
        print_json(evaluation.to_dict())
    else:
        make_console().print(Group(*explanation_renderables(evaluation)) if full else evaluation)

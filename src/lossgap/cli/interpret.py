"""``lossgap interpret``: what a (loss, accuracy) pair can mean, from theory alone."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.console import Group

from lossgap.cli import FullOption, command, print_json
from lossgap.interpret import interpret
from lossgap.render.interpret import interpretation_renderables
from lossgap.render.text import make_console


@command("interpret")
def interpret_command(
    text: Annotated[
        str | None,
        typer.Argument(
            help="Pasted metrics, e.g. \"loss: 0.4011 - acc: 0.8224 - val_loss: 0.4577 - "
            "val_acc: 0.7826\" or \"{'eval_loss': 0.46, 'eval_accuracy': 0.78}\"; '-' reads "
            "standard input."
        ),
    ] = None,
    loss: Annotated[str | None, typer.Option(help="Log loss in nats (instead of TEXT).")] = None,
    accuracy: Annotated[
        str | None, typer.Option(help="Accuracy, as 0.7826 or 78.26%.")
    ] = None,
    f1: Annotated[
        str | None,
        typer.Option("--f1", help="F1 of the positive class (binary), when accuracy is unknown."),
    ] = None,
    base_rate: Annotated[
        float | None,
        typer.Option(help="Share of the positive class (binary); default: balanced, stated."),
    ] = None,
    classes: Annotated[int, typer.Option(help="Number of classes K.")] = 2,
    n: Annotated[
        int | None,
        typer.Option("--n", help="Samples behind the validation/test (or only) accuracy."),
    ] = None,
    n_train: Annotated[
        int | None, typer.Option(help="Samples behind the training accuracy.")
    ] = None,
    json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    full: FullOption = False,
) -> None:
    """Say what a log loss (and an accuracy) mean, from theory alone.

    The accuracies a calibrated model allows with this loss, what the loss implies for the
    errors, the train/validation gap and the sampling noise.
    """
    if text == "-":
        text = sys.stdin.read()
    result = interpret(
        text,
        loss=loss,
        accuracy=accuracy,
        f1=f1,
        n=n,
        n_train=n_train,
        classes=classes,
        base_rate=base_rate,
    )
    if json:
        print_json(result.to_dict())
    else:
        make_console().print(Group(*interpretation_renderables(result)) if full else result)

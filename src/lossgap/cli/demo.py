"""``lossgap demo``: the story on data shipped with scikit-learn."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.progress import Progress

from lossgap.cli import command, print_json
from lossgap.demo import CLASSES, train_demo_model
from lossgap.explain import explain
from lossgap.render.text import make_console


@command("demo")
def demo_command(
    epochs: Annotated[int, typer.Option(help="Training epochs.", min=2)] = 150,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
) -> None:
    """Train a small network past its best validation loss, then explain it."""
    console = make_console()
    with Progress(console=make_console(stderr=True), disable=json or quiet) as progress:
        task = progress.add_task("Training the demo network", total=epochs)
        run = train_demo_model(epochs, seed=seed, on_epoch=lambda _: progress.advance(task))
    history = run.history
    best_loss = min(history, key=lambda row: row["val_loss"])
    best_acc = max(history, key=lambda row: row["val_accuracy"])
    last = history[-1]
    evaluation = explain(run.val_labels, run.val_prob[-1], classes=CLASSES, ids=run.val_ids)
    if json:
        print_json(
            {
                "history": history,
                "best": {
                    "val_loss": {"epoch": best_loss["epoch"], "value": best_loss["val_loss"]},
                    "val_accuracy": {
                        "epoch": best_acc["epoch"],
                        "value": best_acc["val_accuracy"],
                    },
                },
                "explain": evaluation.to_dict(),
            }
        )
        return
    console.print(
        f"Validation loss was lowest at epoch {best_loss['epoch']} ({best_loss['val_loss']:.4f}) "
        f"and is {last['val_loss']:.4f} at the last epoch ({last['epoch']}), while validation "
        f"accuracy went from {best_loss['val_accuracy']:.4f} to {last['val_accuracy']:.4f}.",
        style="lossgap.headline",
    )
    console.print(f"Explaining the last epoch's {evaluation.n} validation predictions:\n")
    console.print(evaluation)

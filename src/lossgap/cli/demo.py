"""``lossgap demo``: the whole story on data shipped with scikit-learn, in one report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from lossgap.cli import FullOption, command, print_json
from lossgap.cli.output import check_outputs, write_report
from lossgap.demo import EPOCHS, run_demo
from lossgap.render.compare import headline as comparison_headline
from lossgap.render.demo import demo_answer
from lossgap.render.html import demo_report
from lossgap.render.markdown import history_headline
from lossgap.render.text import headline, make_console

#: What each stage of the demo shows on the progress bar.
STAGES = {
    "train": "Training the network",
    "history": "Reading the history",
    "explain": "Explaining the last epoch",
    "compare": "Comparing two epochs",
}


@command("demo")
def demo_command(
    epochs: Annotated[int, typer.Option(help="Training epochs.", min=2)] = EPOCHS,
    seed: Annotated[int, typer.Option(help="Random seed.", min=0)] = 0,
    out: Annotated[
        Path, typer.Option(help="Folder for the training log and the saved predictions.")
    ] = Path("lossgap-demo"),
    html: Annotated[
        Path | None, typer.Option(help="Where to write the HTML report (default OUT/report.html).")
    ] = None,
    md: Annotated[Path | None, typer.Option(help="Also write a Markdown summary here.")] = None,
    json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    full: FullOption = False,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
) -> None:
    """Train a small network past its best validation loss, then explain it: one HTML report."""
    page = html or out / "report.html"
    check_outputs({"--html": page, "--md": md}, {"--out": out})
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(
        *columns, console=make_console(stderr=True), disable=json or quiet, transient=True
    ) as progress:
        tasks: dict[str, TaskID] = {}

        def on_step(stage: str, done: int, total: int) -> None:
            if stage not in tasks:  # each stage shows up when it starts
                tasks[stage] = progress.add_task(STAGES[stage], total=total)
            progress.update(tasks[stage], completed=done, total=total)

        story = run_demo(epochs=epochs, seed=seed, out=out, on_step=on_step)
        task = progress.add_task("Writing the report", total=1)
        curves, flips = story.plot_data(seed=seed)
        report = demo_report(story, curves=curves, flips=flips)
        written = write_report(report, html=page, md=md)
        progress.update(task, completed=1)
    if json:
        print_json({**story.to_dict(), "report": str(written[0].resolve())})
        return
    console = make_console(highlight=False)
    if not full:
        console.print(demo_answer(story))
        console.print(f"Report: {written[0].resolve()}", style="lossgap.headline", soft_wrap=True)
        return
    console.print(report.headline, style="lossgap.headline")
    console.print(report.subtitle, style="lossgap.dim")
    for step, text in (
        ("history", history_headline(story.history)),
        (f"explain epoch {story.late}", headline(story.evaluation)),
        ("compare", comparison_headline(story.comparison)),
    ):
        console.print(Text.assemble((f"{step}: ", "bold"), text))
    console.print(f"Training log and predictions: {out}", style="lossgap.dim")
    console.print(f"Report: {written[0].resolve()}", style="lossgap.headline", soft_wrap=True)

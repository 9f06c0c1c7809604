"""``lossgap lab logistic``: where cross-entropy and accuracy part ways, on one input."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Group

from lossgap.cli import FullOption, command, print_json
from lossgap.cli.options import HtmlOption, MarkdownOption
from lossgap.cli.output import check_outputs, save_charts, write_reports
from lossgap.errors import InputError
from lossgap.lab.logistic import illustration, logistic_lab, read_points, simulate
from lossgap.render.html import lab_report
from lossgap.render.lab import lab_renderables
from lossgap.render.text import make_console


class Lab(str, Enum):
    """The labs there are."""

    logistic = "logistic"


@command("lab")
def lab_command(
    kind: Annotated[Lab, typer.Argument(help="Which lab: logistic.", case_sensitive=False)],
    points: Annotated[
        Path | None, typer.Option(help="A table of points: columns x and y (labels 0/1).")
    ] = None,
    n: Annotated[
        float | None,
        typer.Option(
            "--n",
            metavar="N",
            help="Simulate N points (1000, or 1e7): x ~ N(0, 1), logit model.",
        ),
    ] = None,
    slope: Annotated[float, typer.Option(help="Slope a of the simulated model.")] = 1.0,
    intercept: Annotated[float, typer.Option(help="Intercept b of the simulated model.")] = 0.0,
    seed: Annotated[int, typer.Option(help="Random seed of the simulation.", min=0)] = 0,
    illustration_number: Annotated[
        int | None,
        typer.Option(
            "--illustration",
            help="Rerun illustration 1 (five points), 2 (n = 100) or 3 (n = 10,000).",
        ),
    ] = None,
    plot: Annotated[
        Path | None, typer.Option(help="Write the plots (PNG and SVG) into this directory.")
    ] = None,
    json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    full: FullOption = False,
    html: HtmlOption = None,
    md: MarkdownOption = None,
) -> None:
    """Show, on one-input logistic regression, where cross-entropy and accuracy part ways.

    Fits the model by cross-entropy, finds the exact accuracy maximum over all cuts, and
    traces loss and accuracy along the intercept and the slope.
    """
    options = (("--points", points), ("--n", n), ("--illustration", illustration_number))
    chosen = [name for name, value in options if value is not None]
    if len(chosen) != 1:
        given = " and ".join(chosen) if chosen else "none"
        msg = f"give exactly one of --points FILE, --n N or --illustration 1|2|3 (got {given})"
        raise InputError(msg)
    check_outputs({"--html": html, "--md": md}, {"--plot": plot}, inputs=[points] if points else [])
    if points is not None:
        x, y = read_points(points)
        result = logistic_lab(x, y, source={"kind": "points", "file": str(points)})
    elif n is not None:
        x, y = simulate(n, slope=slope, intercept=intercept, seed=seed)
        source = {
            "kind": "simulated", "n": len(x), "slope": slope, "intercept": intercept, "seed": seed
        }
        result = logistic_lab(x, y, source=source)
    else:
        assert illustration_number is not None
        result = illustration(illustration_number)
    written = []
    if plot is not None:
        from lossgap.render.plots.lab import lab_charts  # matplotlib: only when plotting

        charts = lab_charts(result)
        try:
            written = save_charts(charts, plot)
        finally:
            for chart in charts:
                chart.close()
    write_reports(lambda: lab_report(result), html=html, md=md)
    if json:
        print_json({**result.to_dict(), "plots": [str(p) for p in written]})
        return
    console = make_console()
    console.print(Group(*lab_renderables(result)) if full else result)
    for path in written:
        console.print(f"wrote {path}", style="lossgap.dim")

"""``lossgap compare FILE...``: several models on the same samples, with paired tests."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Group
from rich.progress import track

from lossgap.cli import FullOption, command, print_json, watcher
from lossgap.cli.options import HtmlOption, MarkdownOption, PlotOption
from lossgap.cli.output import check_outputs, write_reports
from lossgap.comparison import compare_predictions
from lossgap.comparison.inputs import read_models
from lossgap.comparison.pipeline import ordinary_pages
from lossgap.core.binning import numpy_unless_loaded
from lossgap.core.paired import COMPILED_MIN_TOTAL
from lossgap.io.costs import read_costs
from lossgap.render.compare import comparison_renderables
from lossgap.render.text import make_console


class RankBy(str, Enum):
    """The proper scores a comparison can rank by."""

    log_loss = "log_loss"
    brier = "brier"


class Goal(str, Enum):
    """What the model is for: the choice of model follows it."""

    probabilities = "probabilities"
    decisions = "decisions"
    ranking = "ranking"
    all = "all"


class Detail(str, Enum):
    """How much of each model a comparison computes (``lossgap.compare``'s ``detail``)."""

    auto = "auto"
    full = "full"
    summary = "summary"
    scores = "scores"


@command("compare")
def compare_command(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="One file with a probability column per model, or one file per model "
            "(CSV, TSV, Parquet, JSON Lines, .npy, .npz)."
        ),
    ],
    label: Annotated[str | None, typer.Option(help="Column of true labels.")] = None,
    prob: Annotated[
        list[str] | None,
        typer.Option(
            help="One file: a model's probability column, repeated per model; a glob gives "
            "one model per column (binary) or one multiclass model ('a_p_*'). Several "
            "files: each file's probability column(s)."
        ),
    ] = None,
    logit: Annotated[
        list[str] | None, typer.Option(help="Logit column(s), instead of --prob.")
    ] = None,
    id: Annotated[
        str | None,
        typer.Option("--id", help="Column of sample ids; several files are joined on it."),
    ] = None,
    model_column: Annotated[
        list[str] | None,
        typer.Option(
            help="Long format: the column naming each row's model (repeat it for a model "
            "named by several columns); one file, one model per value."
        ),
    ] = None,
    reference: Annotated[
        str | None, typer.Option(help="Compare each model with this one (default: all pairs).")
    ] = None,
    by: Annotated[
        RankBy, typer.Option(help="Proper score that ranks the models.", case_sensitive=False)
    ] = RankBy.log_loss,
    near: Annotated[
        float,
        typer.Option(
            help="A flip (a sample one model gets right, the other wrong) is near the "
            "threshold within this distance of it, under both models."
        ),
    ] = 0.05,
    threshold: Annotated[float, typer.Option(help="Binary decision threshold.")] = 0.5,
    positive: Annotated[str | None, typer.Option(help="The positive class (binary).")] = None,
    classes: Annotated[
        str | None, typer.Option(help="Comma-separated classes in column order.")
    ] = None,
    confidence: Annotated[float, typer.Option(help="Level of the intervals.")] = 0.95,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap intervals.", min=0)] = 0,
    detail: Annotated[
        Detail,
        typer.Option(
            help="Each model's evaluation: full, summary (no bootstrap, decomposition or "
            "recalibration), scores (only the ranking scores; the best models explained), "
            "or auto (full up to two million model-samples, scores beyond).",
            case_sensitive=False,
        ),
    ] = Detail.auto,
    ids: Annotated[int, typer.Option(help="Ids listed per flip list.", min=0)] = 20,
    top: Annotated[int, typer.Option(help="Worst samples kept per model.", min=0)] = 5,
    json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    full: FullOption = False,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
    html: HtmlOption = None,
    md: MarkdownOption = None,
    plot: PlotOption = None,
    goal: Annotated[
        list[Goal] | None,
        typer.Option(
            case_sensitive=False,
            help="Say which model to keep for this use, with the paired test behind it: "
            "probabilities (log loss), decisions (cost at each model's own tuned threshold), "
            "ranking (ROC AUC), or all; repeatable.",
        ),
    ] = None,
    costs: Annotated[
        str | None,
        typer.Option(help="Costs for --goal decisions: 'FP,FN' or a cost matrix file."),
    ] = None,
) -> None:
    """Compare models on the same samples: which to keep, and whether the gaps are real.

    Ranks them by log loss (or Brier) beside accuracy, tests every pair and counts the
    samples that flip across the threshold; --full prints every model and pair.
    """
    check_outputs({"--html": html, "--md": md}, {"--plot": plot}, inputs=files)
    with ordinary_pages():  # each model's float64 copy of its column: see ordinary_pages
        preds = read_models(
            files,
            label=label,
            prob=prob or (),
            logit=logit or (),
            id=id,
            threshold=threshold,
            positive=positive,
            classes=classes.split(",") if classes else None,
            model_column=model_column or (),
        )
    stderr = watcher(json=json, quiet=quiet)

    def progress(steps: Iterable[Any], total: int) -> Iterable[Any]:
        return track(
            steps,
            total=total,
            description="Evaluating models",
            console=stderr,
            disable=stderr is None,
            transient=True,
        )

    # the models' evaluations and the report in numpy unless the paired statistics load
    # numba anyway (COMPILED_MIN_TOTAL): loading it costs a fresh process about 0.5 s of
    # CPU, more than its kernels save on a small comparison
    cells = sum(len(p) * (1 if p.task == "binary" else p.n_classes) for p in preds.values())
    kernels = numpy_unless_loaded() if cells < COMPILED_MIN_TOTAL else contextlib.nullcontext()
    with kernels:
        comparison = compare_predictions(
            preds,
            reference=reference,
            by=by.value,
            near=near,
            confidence=confidence,
            seed=seed,
            top=top,
            max_ids=ids,
            progress=progress,
            detail=detail.value,
            goals=[g.value for g in goal or ()],
            costs=None if costs is None else read_costs(costs),
        )

        def report() -> Any:
            # imported only for a report (0.13 s of every compare --json otherwise)
            from lossgap.curves import comparison_flips
            from lossgap.render.html import comparison_report

            return comparison_report(
                comparison,
                flips=comparison_flips(comparison, preds, seed=seed),
                source=", ".join(f.name for f in files),
            )

        write_reports(report, html=html, md=md, plot=plot, quiet=quiet)
    if json:
        print_json(comparison.to_dict())
    else:
        make_console().print(Group(*comparison_renderables(comparison)) if full else comparison)

"""``lossgap explain FILE``: evaluate one prediction file."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Group

from lossgap.cli import FullOption, command, print_json, watcher
from lossgap.cli.calibrate import CalibratorMethod
from lossgap.cli.options import HtmlOption, MarkdownOption, PlotOption
from lossgap.cli.output import check_outputs, write_reports, write_text
from lossgap.core.binning import numpy_unless_loaded
from lossgap.core.calibration import ECE_BINS
from lossgap.engines.stream import Engine, choose_engine
from lossgap.errors import InputError
from lossgap.explanation import evaluate_predictions, evaluate_source, summarise
from lossgap.io import read_predictions
from lossgap.io.costs import read_costs
from lossgap.io.tables import read_multilabel, read_predictions_and_groups
from lossgap.multilabel import explain_multilabel
from lossgap.printable import printable
from lossgap.results.diagnostics import MAX_JSON_CANDIDATES

#: In-memory runs of at most this many rows evaluate without loading numba (the size where
#: ``--engine auto`` starts streaming a binary file): loading it costs a fresh process more
#: CPU than its kernels save on them (:func:`~lossgap.core.binning.numpy_unless_loaded`).
NUMPY_ROWS = 1 << 22

if TYPE_CHECKING:
    from rich.console import Console

    from lossgap.core.predictions import Predictions
    from lossgap.core.tally import Tally
    from lossgap.render.html import Report
    from lossgap.results.evaluation import Evaluation


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
    id: Annotated[str | None, typer.Option("--id", help="Column of sample ids.")] = None,
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
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap and the folds.", min=0)] = 0,
    json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    full: FullOption = False,
    engine: Annotated[
        Engine,
        typer.Option(
            case_sensitive=False,
            help="memory, stream (record batches; files, directories, globs) or spark; "
            "auto streams directories, globs and files of over 8.4e6 values (rows x columns).",
        ),
    ] = Engine.auto,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
    by: Annotated[
        list[str] | None,
        typer.Option(
            "--by",
            help="Column to slice by (repeatable): each group evaluated, and the groups that "
            "are miscalibrated or hold confident errors beyond chance named.",
        ),
    ] = None,
    ece_bins: Annotated[
        int, typer.Option("--ece-bins", help="Equal-width bins of the binned ECE.", min=1)
    ] = ECE_BINS,
    multilabel: Annotated[
        bool,
        typer.Option(
            "--multilabel",
            help="One 0/1 column and one probability column per label (--label 'y_*' "
            "--prob 'p_*', or p_NAME beside NAME): each label explained, with micro and "
            "macro summaries.",
        ),
    ] = False,
    html: HtmlOption = None,
    md: MarkdownOption = None,
    plot: PlotOption = None,
    costs: Annotated[
        str | None,
        typer.Option(
            help="Cost of a false positive and a false negative, 'FP,FN' (binary), or a file "
            "with the cost matrix (rows: true class, columns: decision): adds the threshold "
            "or rule of least cost."
        ),
    ] = None,
    save_calibrator: Annotated[
        Path | None,
        typer.Option(help="Write the recalibration map, fitted on all samples, to this JSON file."),
    ] = None,
    calibrator: Annotated[
        CalibratorMethod | None,
        typer.Option(
            case_sensitive=False,
            help="The map --save-calibrator writes (default: the best held-out one).",
        ),
    ] = None,
    label_errors: Annotated[
        Path | None,
        typer.Option(
            "--label-errors",
            help="Write every label-error candidate to this CSV file, least likely label "
            f"first (the JSON lists the first {MAX_JSON_CANDIDATES:,}): the row (or --id), "
            "the label, the suggested class, the probability given to the label, its chance "
            "under calibration, and whether confident learning flags it.",
        ),
    ] = None,
) -> None:
    """Explain why loss and accuracy disagree for one file of labels and probabilities.

    Prints a short answer (headline, key numbers, findings, what to do); --full prints
    every metric, finding and the worst samples, then where the loss lives (per class,
    confusion pairs, slices).
    """
    check_outputs(
        {"--html": html, "--md": md, "--label-errors": label_errors}, {"--plot": plot},
        inputs=[file],
    )
    columns: dict[str, Any] = {  # the column options of read_predictions and evaluate_source
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
    cost_values = None if costs is None else read_costs(costs)
    if calibrator is not None and save_calibrator is None:
        msg = "--calibrator chooses the map --save-calibrator writes: add --save-calibrator FILE"
        raise InputError(msg)
    for option, asked in (("--save-calibrator", save_calibrator), ("--label-errors", label_errors)):
        if asked is not None and multilabel:
            msg = f"{option} reads one label column: drop --multilabel"
            raise InputError(msg)
        if asked is not None and chosen != "memory":
            msg = f"{option} needs the samples in memory: add --engine memory"
            raise InputError(msg)
    pred = tally = None
    options: dict[str, Any] = {
        "top": top, "confidence": confidence, "seed": seed, "ece_bins": ece_bins
    }
    if multilabel:
        reports = html or md or plot
        _explain_multilabel(file, chosen, by, json=json, html=reports, **options, **columns)
        return
    console = watcher(json=json, quiet=quiet)
    if chosen == "memory":
        groups = None
        with _working(console, f"Reading {file.name}"):
            if by:
                pred, groups = read_predictions_and_groups(file, by, **columns)
            else:
                pred = read_predictions(file, **columns)
        doing = f"Explaining {len(pred):,} predictions"
        if len(pred) > NUMPY_ROWS:
            doing += " (slow only the first time: compiling)"
        with _kernels_for(pred), _working(console, doing):
            tally = summarise(pred, top)  # the report's plots draw from it too
            evaluation = evaluate_predictions(
                pred, tally=tally, groups=groups, costs=cost_values, **options
            )
    else:
        evaluation = evaluate_source(
            file,
            engine=chosen,
            console=console,
            by=by or (),
            costs=cost_values,
            **options,
            **columns,
        )
    # the calibrator's fits and the reports' curves run the evaluation's kernels too
    with contextlib.nullcontext() if pred is None else _kernels_for(pred):
        if save_calibrator is not None and pred is not None and tally is not None:
            method = None if calibrator is None else calibrator.value
            save(evaluation, pred, tally, save_calibrator, method)
        if label_errors is not None and pred is not None:
            write_label_errors(label_errors, evaluation, pred, id or "row")
        write_reports(
            lambda: report(evaluation, pred, tally, file.name, seed),
            html=html,
            md=md,
            plot=plot,
            quiet=quiet,
        )
    if json:
        print_json(evaluation.to_dict())
    else:
        # the renderers load only for the terminal (--json needs none of them)
        from lossgap.render.slices import evaluation_renderables
        from lossgap.render.text import make_console

        # --full: every number, then where the loss lives (per class, pairs, slices)
        make_console().print(Group(*evaluation_renderables(evaluation)) if full else evaluation)


@contextlib.contextmanager
def _working(console: Console | None, doing: str) -> Iterator[None]:
    """A transient spinner on ``console`` saying what runs (None: nothing shown): reading a
    large file, or numba's first compile of the kernels, would otherwise pass in silence.
    A file's name in ``doing`` shows inert: lossgap's consoles print text through
    :func:`~lossgap.printable`.
    """
    if console is None:
        yield
        return
    from rich.text import Text

    with console.status(Text(doing), spinner="dots"):
        yield


def _kernels_for(pred: Any) -> contextlib.AbstractContextManager[None]:
    """numpy's kernels for an in-memory run of at most :data:`NUMPY_ROWS` rows (unless
    numba's were chosen already), else the kernels as chosen."""
    return numpy_unless_loaded() if len(pred) <= NUMPY_ROWS else contextlib.nullcontext()


def _explain_multilabel(
    file: Path, engine: str, by: list[str] | None, *, json: bool, html: object, **options: Any
) -> None:
    """``--multilabel``: in memory, printed to the terminal or as JSON."""
    if engine != "memory" or by or html:
        msg = "--multilabel runs in memory, without --by, --html, --md or --plot (not yet)"
        raise InputError(msg)
    columns = {k: options.pop(k) for k in ("label", "prob", "logit", "id", "weight")}
    for unused in ("positive", "classes"):
        if options.pop(unused):
            msg = f"--{unused} has no meaning with --multilabel: every label is 0 or 1"
            raise InputError(msg)
    _, arrays = read_multilabel(file, **columns)
    result = explain_multilabel(**arrays, **options)
    if json:
        print_json(result.to_dict())
    else:
        from lossgap.render.text import make_console

        make_console().print(result)


def write_label_errors(path: Path, evaluation: Evaluation, pred: Predictions, id_name: str) -> None:
    """Write every label-error candidate as CSV, least likely label first (``--label-errors``).

    The evaluation's candidates when it lists them; otherwise (its test found no more
    unlikely labels than chance) :func:`lossgap.core.label_errors.candidates` at the
    test's level, as asked for. Ids and labels go through :func:`~lossgap.printable`.
    """
    import csv
    import io

    from lossgap.core.label_errors import candidates

    facts = evaluation.diagnostics.label_errors
    found = None if facts is None else facts.candidates
    if found is None:
        found = candidates(pred) if facts is None else candidates(pred, facts.level)
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(
        [printable(id_name), "label", "suggested", "probability", "chance", "confident_learning"]
    )
    # whole columns to Python values at once, then one row per candidate (no object each)
    writer.writerows(
        zip(
            map(printable, found.id.tolist()),
            map(printable, found.label.tolist()),
            map(printable, found.suggested.tolist()),
            map(repr, found.probability.tolist()),
            map(repr, found.chance.tolist()),
            ("true" if flagged else "false" for flagged in found.confident_learning.tolist()),
            strict=True,
        )
    )
    write_text(path, text.getvalue(), "--label-errors")


def save(
    evaluation: Evaluation, pred: Predictions, tally: Tally, path: Path, method: str | None
) -> None:
    """Fit the calibrator on every sample and write it (``--save-calibrator``)."""
    from lossgap.calibrator import Calibrator

    fitted = Calibrator.from_evaluation(
        evaluation, tally, pred, method=method, columns=pred.prob_names
    )
    fitted.save(path)


def report(
    evaluation: Evaluation,
    pred: Predictions | None,
    tally: Tally | None,
    source: str,
    seed: int,
) -> Report:
    """The report of one evaluation, with every plot its samples allow (drawn from
    ``tally``, the samples' Tally the evaluation was built from)."""
    from lossgap.curves import evaluation_curves
    from lossgap.render.html import explain_report

    curves = None if pred is None else evaluation_curves(evaluation, pred, seed=seed, tally=tally)
    return explain_report(evaluation, curves=curves, source=source)

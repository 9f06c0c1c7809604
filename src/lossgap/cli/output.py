"""Writing what the commands produce: reports, Markdown summaries and plot files.

The renderers return text and images; this module alone puts them on disk, so every rule
about files (refusing a directory, creating parent folders, one line on failure) lives in
one place.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from lossgap.errors import InputError

if TYPE_CHECKING:  # rendering modules load only when a report is written
    from lossgap.render.html import Report
    from lossgap.render.plots.chart import Chart


def check_file(path: str | Path, option: str) -> Path:
    """``path`` as a Path, refused when it is a directory (``option`` names the flag).

    Raises
    ------
    lossgap.InputError
    """
    target = Path(path)
    if target.is_dir():
        msg = f"{option} {str(target)!r} is a directory: pass a file name such as report.html"
        raise InputError(msg)
    return target


def write_text(path: str | Path, text: str, option: str) -> Path:
    """Write ``text`` as UTF-8 to ``path`` (parent folders created).

    Raises
    ------
    lossgap.InputError
        When ``path`` is a directory or cannot be written; ``option`` names the flag.
    """
    target = check_file(path, option)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    except OSError as exc:
        msg = f"cannot write {option} {str(target)!r}: {exc.strerror}"
        raise InputError(msg) from exc
    return target


def write_report(
    report: Report, *, html: str | Path | None = None, md: str | Path | None = None
) -> list[Path]:
    """Write the page and the Markdown summary that are asked for; return the files written.

    Raises
    ------
    lossgap.InputError
        A path that is a directory, or a folder that cannot be created.
    """
    written = []
    if html is not None:
        written.append(write_text(html, report.html(), "--html"))
    if md is not None:
        written.append(write_text(md, report.markdown(), "--md"))
    return written


def save_charts(charts: Sequence[Chart], directory: str | Path) -> list[Path]:
    """Write each chart as ``NAME.png`` and ``NAME.svg`` into ``directory`` (created).

    Parameters
    ----------
    charts : sequence of Chart
    directory : str or Path

    Returns
    -------
    list of Path
        The files written, PNG then SVG per chart.

    Raises
    ------
    lossgap.InputError
        When ``directory`` exists and is not a directory, or cannot be created.
    """
    folder = Path(directory)
    if folder.exists() and not folder.is_dir():
        msg = f"--plot {str(folder)!r} is a file: pass a directory for the plots"
        raise InputError(msg)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        msg = f"cannot create the plot directory {str(folder)!r}: {exc.strerror}"
        raise InputError(msg) from exc
    written = []
    for chart in charts:
        png, svg = folder / f"{chart.name}.png", folder / f"{chart.name}.svg"
        png.write_bytes(chart.png())
        svg.write_text(chart.svg(), encoding="utf-8")
        written += [png, svg]
    return written


def write_reports(
    make_report: Callable[[], Report],
    *,
    html: Path | None = None,
    md: Path | None = None,
    plot: Path | None = None,
    quiet: bool = False,
) -> list[Path]:
    """What the ``--html``, ``--md`` and ``--plot`` options of every command do.

    Builds the report only when one of them is given, writes the files and names each on
    stderr (unless ``quiet``), so ``--json`` keeps stdout to its one object.

    Returns
    -------
    list of Path
        The files written.
    """
    if html is None and md is None and plot is None:
        return []
    report = make_report()
    written = write_report(report, html=html, md=md)
    plots = save_charts(report.charts, plot) if plot is not None else []
    if not quiet:
        from lossgap.render.text import make_console

        console = make_console(stderr=True, highlight=False)
        for path in written:
            console.print(f"lossgap: wrote {path}", style="lossgap.dim", soft_wrap=True)
        if plots:
            console.print(
                f"lossgap: wrote {len(plots) // 2} plots (PNG and SVG) into {plot}",
                style="lossgap.dim",
                soft_wrap=True,
            )
    return written + plots

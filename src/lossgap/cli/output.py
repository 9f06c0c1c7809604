"""Writing what the commands produce: reports, Markdown summaries and plot files.

The renderers return text and images; this module alone puts them on disk, so every rule
about files (refusing a directory, creating parent folders, one line on failure) lives in
one place.

A report is written only after every output path of the command passed
:func:`check_outputs` (none is a directory where a file is wanted, none is an input
file, no two options name the same file), and each file is written through
:func:`atomic_write`: a temporary file in the same folder, flushed to disk, then renamed
over the target. A full disk or an interrupted run leaves the previous file whole.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from lossgap.errors import InputError

if TYPE_CHECKING:  # rendering modules load only when a report is written
    from lossgap.render.html import Report
    from lossgap.render.plots.chart import Chart


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def _nearest_folder(path: Path) -> Path:
    """The deepest existing ancestor of ``path`` (the folder it would be created in)."""
    folder = path.absolute().parent
    while not folder.exists():
        folder = folder.parent
    return folder


def check_outputs(
    files: Mapping[str, str | Path | None],
    folders: Mapping[str, str | Path | None] | None = None,
    *,
    inputs: Iterable[str | Path] = (),
) -> None:
    """Refuse, before anything is written, output paths that would fail or do harm.

    Parameters
    ----------
    files : mapping of option to path or None
        Files to write (``{"--html": path, "--md": path}``); None means not asked for.
    folders : mapping of option to path or None, default=None
        Folders to write into (``{"--plot": path}``).
    inputs : iterable of path
        The files the command reads: no output may replace one of them.

    Raises
    ------
    lossgap.InputError
        A file path that is a directory, a folder path that is a file, an output that is an
        input, two options naming the same path, or a folder that is not writable.

    Examples
    --------
    >>> check_outputs({"--html": "r.html", "--md": "r.html"})
    Traceback (most recent call last):
    ...
    lossgap.errors.InputError: --html and --md both name 'r.html': pass a different file to each
    """
    read = [Path(p) for p in inputs]
    seen: dict[Path, str] = {}
    wanted = [(o, Path(p), False) for o, p in files.items() if p is not None]
    wanted += [(o, Path(p), True) for o, p in (folders or {}).items() if p is not None]
    for option, path, folder in wanted:
        if folder and path.exists() and not path.is_dir():
            msg = f"{option} {str(path)!r} is a file: pass a directory"
            raise InputError(msg)
        if not folder and path.is_dir():
            msg = f"{option} {str(path)!r} is a directory: pass a file name such as report.html"
            raise InputError(msg)
        for source in read:
            if _same_file(path, source) or path.absolute() == source.absolute():
                msg = (
                    f"{option} {str(path)!r} is an input of this command: writing it would "
                    "destroy the input; pass another file name"
                )
                raise InputError(msg)
        key = path.absolute()
        if key in seen:
            msg = f"{seen[key]} and {option} both name {str(path)!r}: pass a different file to each"
            raise InputError(msg)
        seen[key] = option
        parent = _nearest_folder(path / "x" if folder else path)
        if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
            msg = f"cannot write {option} {str(path)!r}: {str(parent)!r} is not a writable folder"
            raise InputError(msg)


def atomic_write(path: str | Path, data: str | bytes, option: str) -> Path:
    """Write ``data`` to ``path`` all at once: a temporary file, then a rename.

    Parent folders are created. Text is written as UTF-8. Until the rename, a reader of
    ``path`` sees the previous file (or none); after it, the whole new one.

    Raises
    ------
    lossgap.InputError
        When the file cannot be written (full disk, no permission); ``option`` names the
        flag, and the previous file is left as it was.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> atomic_write(folder / "a" / "r.md", "# hi", "--md").read_text()
    '# hi'
    """
    target = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    temporary = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        temporary = Path(name)
        with os.fdopen(handle, "wb") as out:
            out.write(payload)
            out.flush()
            os.fsync(out.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # mkstemp makes 0600; a report is a normal file
        os.replace(temporary, target)
    except OSError as exc:
        if temporary is not None:
            temporary.unlink(missing_ok=True)
        reason = exc.strerror or type(exc).__name__
        msg = f"cannot write {option} {str(target)!r}: {reason} (any previous file is unchanged)"
        raise InputError(msg) from exc
    return target


def write_text(path: str | Path, text: str, option: str) -> Path:
    """Write ``text`` as UTF-8 to ``path`` atomically (:func:`atomic_write`), after
    :func:`check_outputs`.

    Raises
    ------
    lossgap.InputError
        When ``path`` is a directory or cannot be written; ``option`` names the flag.
    """
    check_outputs({option: path})
    return atomic_write(path, text, option)


def write_report(
    report: Report, *, html: str | Path | None = None, md: str | Path | None = None
) -> list[Path]:
    """Write the page and the Markdown summary that are asked for; return the files written.

    Raises
    ------
    lossgap.InputError
        A path that is a directory, both options naming one file, or a folder that cannot
        be created: every path is checked before anything is written.
    """
    check_outputs({"--html": html, "--md": md})
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
        atomic_write(png, chart.png(), "--plot")
        atomic_write(svg, chart.svg(), "--plot")
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
    check_outputs({"--html": html, "--md": md}, {"--plot": plot})  # all before any is written
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

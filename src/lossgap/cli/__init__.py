"""The ``lossgap`` command line: a thin layer over the API.

Exit codes: 0 success; 2 bad input or usage (one line on stderr); 1 internal error.
Each command module registers itself on :data:`app` through :func:`command`, which maps
:class:`~lossgap.InputError` to its one line and exit code 2.

:func:`main` imports only the command it runs: ``lossgap --help`` lists the commands from
:data:`COMMANDS` without importing any of them (they load numpy, scipy, pyarrow...).
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import inspect
import json
import os
import signal
import sys
import traceback
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup

from lossgap.errors import INTERRUPTED, InputError, exit_interrupted
from lossgap.printable import printable
from lossgap.version import SCHEMA_VERSION, __version__

if TYPE_CHECKING:
    from rich.console import Console


def _flags_without_value(params: list[Any]) -> list[Any]:
    """On/off flags take no value: their help shows none (typer would print ``<bool>``)."""
    for param in params:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
    return params


class OneLineErrors(TyperGroup):
    """The command group, with usage errors as one line (exit 2) instead of a box.

    A usage error (unknown option, value out of range, missing argument) prints
    ``lossgap: error: <what> (see 'lossgap CMD --help')`` on stderr and exits with 2; an
    interrupt prints ``lossgap: interrupted`` and exits with 130.
    """

    def main(  # type: ignore[override]
        self,
        args: Any = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            code = super().main(args, prog_name, complete_var, False, **extra)
        except typer.TyperException as exc:  # typer's (vendored) click usage errors
            ctx = getattr(exc, "ctx", None)
            if type(exc).__name__ == "NoArgsIsHelpError" and ctx is not None:
                sys.stdout.write(ctx.get_help() + "\n")
                sys.exit(2)
            message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
            where = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
            code = getattr(exc, "exit_code", 2)
            fail(f"error: {message}{where}", code)
            sys.exit(code)
        except (typer.Abort, KeyboardInterrupt):
            fail("interrupted", INTERRUPTED)
            sys.exit(INTERRUPTED)
        sys.exit(code if isinstance(code, int) else 0)

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:  # while the options are read; click would add an empty line
            raise fail("interrupted", INTERRUPTED) from None

    def get_params(self, ctx: Any) -> list[Any]:
        return _flags_without_value(super().get_params(ctx))


#: ``--full``/``-v`` of every command: everything, not only the short answer.
FullOption = Annotated[
    bool,
    typer.Option(
        "--full",
        "-v",
        help="Print everything: every number, finding and table, not only the short answer.",
    ),
]


class Command(TyperCommand):
    """A command whose help shows flags as flags and rewraps its paragraphs.

    typer keeps the docstring's line breaks after the first paragraph, which cuts
    sentences where the source wraps them; each paragraph becomes one line to rewrap.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.help:
            paragraphs = inspect.cleandoc(self.help).split("\n\n")
            self.help = "\n\n".join(" ".join(p.split()) for p in paragraphs)

    def get_params(self, ctx: Any) -> list[Any]:
        return _flags_without_value(super().get_params(ctx))


app = typer.Typer(
    name="lossgap",
    cls=OneLineErrors,
    help="Explain why a classifier's loss and its accuracy disagree, and what to do about it.",
    pretty_exceptions_enable=False,
    add_completion=False,
    no_args_is_help=True,
)

#: Every command and its help, as its module's docstring states it (a test checks they
#: agree), so the command list needs no import.
COMMANDS = {
    "explain": "Explain why loss and accuracy disagree for one file of labels and probabilities.",
    "calibrate": "Apply a saved calibrator: the probability columns are replaced by calibrated "
    "ones.",
    "compare": "Compare models on the same samples: which to keep, and whether the gaps are "
    "real.",
    "history": "Read training logs: which epoch to keep, and why validation loss and accuracy "
    "part ways.",
    "interpret": "Say what a log loss (and an accuracy) mean, from theory alone.",
    "lab": "Show, on one-input logistic regression, where cross-entropy and accuracy part ways.",
    "demo": "Train a small network past its best validation loss, then explain it: one HTML "
    "report.",
}


def _show_version(value: bool) -> None:
    if value:
        sys.stdout.write(f"lossgap {__version__}\n")
        raise typer.Exit


@app.callback()
def _root(
    version: bool = typer.Option(
        False,
        "--version",
        help="Print the version and exit.",
        callback=_show_version,
        is_eager=True,
    ),
) -> None:
    """Explain why a classifier's loss and its accuracy disagree, and what to do about it."""


def fail(message: str, code: int) -> typer.Exit:
    """Write one line to stderr and return the Exit to raise."""
    sys.stderr.write(f"lossgap: {printable(message)}\n")
    return typer.Exit(code=code)


def command(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a command whose InputError becomes one stderr line and exit code 2."""

    def register(func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return func(*args, **kwargs)
            except InputError as exc:
                raise fail(f"error: {exc}", 2) from None
            except (typer.Exit, typer.Abort, typer.TyperException):
                raise
            except KeyboardInterrupt:
                raise fail("interrupted", INTERRUPTED) from None
            except Exception as exc:  # anything else is our bug: exit 1
                if os.environ.get("LOSSGAP_DEBUG"):
                    traceback.print_exc()
                raise fail(
                    f"internal error: {type(exc).__name__}: {exc} "
                    "(set LOSSGAP_DEBUG=1 for the traceback, and please report it)",
                    1,
                ) from None

        return app.command(name, cls=Command)(wrapper)

    return register


def print_json(data: dict[str, Any]) -> None:
    """One JSON object on stdout, nothing else there; it names the versions that wrote it."""
    stamped = {**data, "lossgap_version": __version__, "schema_version": SCHEMA_VERSION}
    # to_dict gives a tree: the check for cycles is 10% of dumping a large answer
    sys.stdout.write(json.dumps(stamped, allow_nan=False, check_circular=False) + "\n")


def watcher(*, json: bool, quiet: bool) -> Console | None:
    """The stderr console for a command's spinner or progress bar, or None when no one
    watches: with ``--json`` or ``--quiet``, or where stderr is not a terminal (a pipe or a
    log file would keep the bar's last frame).

    Every command asks here, so they agree on when progress shows.
    """
    if json or quiet:
        return None  # and the renderers stay unloaded
    from lossgap.render.text import make_console

    console = make_console(stderr=True)
    return console if console.is_terminal else None


def load_commands(names: Iterable[str] = COMMANDS) -> typer.Typer:
    """Import the modules of the commands ``names`` (each registers itself); return the app."""
    for name in names:
        importlib.import_module(f"{__name__}.{name}")
    return app


def _listing() -> typer.Typer:
    """The app with each command registered by name and help only, to list them."""
    for name, help_text in COMMANDS.items():
        app.command(name, help=help_text)(_unreachable)
    return app


def _unreachable() -> None:  # pragma: no cover - main() imports a command before running it
    raise AssertionError


def main(argv: list[str] | None = None) -> None:
    """Run one command line (``argv``, default ``sys.argv[1:]``); ends the process.

    The program (:mod:`lossgap.__main__`) ends at once on Ctrl-C while modules load; while
    the command runs, Ctrl-C raises ``KeyboardInterrupt`` so that its temporary files are
    removed, then the process ends with ``lossgap: interrupted`` and exit status 130.
    """
    args = sys.argv[1:] if argv is None else argv
    name = next((arg for arg in args if not arg.startswith("-")), None)
    try:  # a command's modules import numpy, scipy...: seconds a Ctrl-C may cut
        chosen = load_commands([name]) if name in COMMANDS else _listing()
    except KeyboardInterrupt:
        raise SystemExit(fail("interrupted", INTERRUPTED).exit_code) from None
    with _interruptible():
        chosen(args=args, prog_name="lossgap")


@contextlib.contextmanager
def _interruptible() -> Iterator[None]:
    """While the command runs, Ctrl-C raises KeyboardInterrupt (if it ended the process).

    The immediate exit comes back afterwards, for the interpreter's exit.
    """
    if signal.getsignal(signal.SIGINT) is not exit_interrupted:
        yield  # run in-process (tests, notebooks): the caller's handler stays
        return
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, exit_interrupted)

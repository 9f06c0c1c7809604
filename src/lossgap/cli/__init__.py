"""The ``lossgap`` command line: a thin layer over the API.

Exit codes: 0 success; 2 bad input or usage (one line on stderr); 1 internal error.
Each command module registers itself on :data:`app` through :func:`command`, which maps
:class:`~lossgap.InputError` to its one line and exit code 2.
"""

from __future__ import annotations

import functools
import importlib
import json
import os
import pkgutil
import sys
import traceback
from collections.abc import Callable
from typing import Any

import typer

from lossgap.errors import InputError

app = typer.Typer(
    name="lossgap",
    help="Explain why a classifier's loss and its accuracy disagree, and what to do about it.",
    pretty_exceptions_enable=False,
    add_completion=False,
    no_args_is_help=True,
)


def fail(message: str, code: int) -> typer.Exit:
    """Write one line to stderr and return the Exit to raise."""
    sys.stderr.write(f"lossgap: {message}\n")
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
            except Exception as exc:  # anything else is our bug: exit 1
                if os.environ.get("LOSSGAP_DEBUG"):
                    traceback.print_exc()
                raise fail(
                    f"internal error: {type(exc).__name__}: {exc} "
                    "(set LOSSGAP_DEBUG=1 for the traceback, and please report it)",
                    1,
                ) from None

        return app.command(name)(wrapper)

    return register


def print_json(data: dict[str, Any]) -> None:
    """One JSON object on stdout, nothing else there."""
    sys.stdout.write(json.dumps(data, allow_nan=False) + "\n")


@app.callback()
def _group() -> None:
    # a callback keeps the app a group of subcommands when only one command is loaded
    # (typer would otherwise run a lone command without its name)
    pass


def load_commands(argv: list[str] | None = None) -> typer.Typer:
    """Import the command modules (each registers itself); return the app.

    With ``argv`` (the command line's arguments) naming a command, only that command's
    module is imported: a command's start then costs its own imports, not those of every
    other command (scipy.stats for the history trends, the demo's models). Without
    ``argv``, for help and for unknown commands, every module is imported.
    """
    names = [module.name for module in pkgutil.iter_modules(__path__)]
    wanted = next((a for a in argv or () if not a.startswith("-")), None)
    if argv and wanted in names and argv.index(wanted) == 0:
        names = [wanted]
    for name in names:
        importlib.import_module(f"{__name__}.{name}")
    return app


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console script and ``python -m lossgap``."""
    load_commands(sys.argv[1:] if argv is None else argv)(args=argv, prog_name="lossgap")

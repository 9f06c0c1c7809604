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


def _print_version(value: bool) -> None:
    if value:
        from lossgap import __version__

        sys.stdout.write(f"lossgap {__version__}\n")
        raise typer.Exit()


@app.callback()
def _options(
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Explain why a classifier's loss and its accuracy disagree, and what to do about it."""


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


def load_commands() -> typer.Typer:
    """Import every command module of this package (each registers itself); return the app."""
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
    return app


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console script and ``python -m lossgap``."""
    load_commands()(args=argv, prog_name="lossgap")

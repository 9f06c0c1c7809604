"""The ``lossgap`` command line: a thin layer over the API.

Exit codes: 0 success; 2 bad input or usage (one line on stderr); 1 internal error.
Each command module registers itself on :data:`app` through :func:`command`, which maps
:class:`~lossgap.InputError` to its one line and exit code 2.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import json
import os
import pkgutil
import sys
import traceback
from collections.abc import Callable
from typing import Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup

from lossgap.errors import InputError

#: ``--full``/``-v`` of every command: everything, not only the short answer.
FullOption = Annotated[
    bool,
    typer.Option(
        "--full",
        "-v",
        help="Print everything: every number, finding and table, not only the short answer.",
    ),
]


def _flags_without_value(params: list[Any]) -> list[Any]:
    """On/off flags take no value: their help shows none (typer would print ``<bool>``)."""
    for param in params:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
    return params


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


class Group(TyperGroup):
    """The ``lossgap`` group, its help showing flags as flags."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _flags_without_value(super().get_params(ctx))


app = typer.Typer(
    name="lossgap",
    cls=Group,
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

        return app.command(name, cls=Command)(wrapper)

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

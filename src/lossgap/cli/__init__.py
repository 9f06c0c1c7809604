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
from typer.core import TyperGroup

from lossgap.errors import InputError
from lossgap.printable import printable

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
            fail("interrupted", 130)
            sys.exit(130)
        sys.exit(code if isinstance(code, int) else 0)


app = typer.Typer(
    name="lossgap",
    cls=OneLineErrors,
    help="Explain why a classifier's loss and its accuracy disagree, and what to do about it.",
    pretty_exceptions_enable=False,
    add_completion=False,
    no_args_is_help=True,
)


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
                raise fail("interrupted", 130) from None
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
    try:
        commands = load_commands()  # imports numpy, scipy...: seconds a Ctrl-C may cut
    except KeyboardInterrupt:
        raise SystemExit(fail("interrupted", 130).exit_code) from None
    commands(args=argv, prog_name="lossgap")

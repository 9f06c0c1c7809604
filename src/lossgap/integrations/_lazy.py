"""Build a framework's callback class on first access, so importing lossgap needs no framework."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def require(module: str, what: str, install: str) -> Any:
    """Import ``module`` or raise an ImportError that says what to install."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        msg = f"{what} needs {module!r}: {install}"
        raise ImportError(msg) from exc


def lazy_class(
    namespace: dict[str, Any], name: str, build: Callable[[], type]
) -> Callable[[str], Any]:
    """A module ``__getattr__`` (PEP 562) that builds ``name`` once, when first asked for."""

    def module_getattr(attribute: str) -> Any:
        if attribute != name:
            msg = f"module {namespace['__name__']!r} has no attribute {attribute!r}"
            raise AttributeError(msg)
        cls = build()
        cls.__module__ = namespace["__name__"]
        namespace[name] = cls
        return cls

    return module_getattr

"""How a result finds its renderer without importing it.

Renderers sit above results in the layering (they read results), so a result cannot import
them. Instead the package's top module wires each result type to the dotted path of its
renderers (``"lossgap.render.text:explanation_renderables"``); the path is imported on first
use. Importing a result therefore loads no renderer, and ``rich`` or ``jinja2`` load only
when a result is shown in a terminal or a notebook. This is the same inversion that
:func:`lossgap.core.tally.register_array_ops` uses for array backends.

Results are named by ``"module:QualifiedName"`` so the wiring needs no import either.

Examples
--------
>>> from dataclasses import dataclass
>>> @dataclass(frozen=True)
... class Answer(Displayable):
...     value: int
>>> register_renderer(Answer, "html", "html:escape")
>>> renderer(Answer(42), "html")("<b>")
'&lt;b&gt;'
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from typing import Any

# ("module:QualifiedName" of a result type, kind) -> "module:function";
# kinds: "rich" (an iterator of rich renderables), "html" (a string)
_RENDERERS: dict[tuple[str, str], str] = {}


def _name(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def register_renderer(result_type: type | str, kind: str, target: str) -> None:
    """Wire a result type (or its ``"module:QualifiedName"``) to ``target`` for ``kind``."""
    key = result_type if isinstance(result_type, str) else _name(result_type)
    _RENDERERS[(key, kind)] = target


def renderer(result: object, kind: str) -> Callable[..., Any]:
    """The function registered for ``result``'s type (or the nearest base type) and ``kind``."""
    for cls in type(result).__mro__:
        target = _RENDERERS.get((_name(cls), kind))
        if target is not None:
            module, _, name = target.partition(":")
            return getattr(importlib.import_module(module), name)
    msg = f"no {kind!r} renderer is registered for {type(result).__name__}"
    raise LookupError(msg)


class Displayable:
    """Mixin: ``rich``, Jupyter and ``repr`` display through the registered renderers.

    A result dataclass that inherits it passes ``repr=False`` so that its one-line ``repr``
    (kind ``"repr"``) replaces the field dump the dataclass would write.
    """

    def __repr__(self) -> str:
        try:
            return str(renderer(self, "repr")(self))
        except LookupError:  # no renderer wired (a bare test type): the plain form
            return f"<{type(self).__name__}>"

    def __rich_console__(self, console: Any, options: Any) -> Iterator[Any]:
        yield from renderer(self, "rich")(self)

    def _repr_html_(self) -> str:
        return str(renderer(self, "html")(self))

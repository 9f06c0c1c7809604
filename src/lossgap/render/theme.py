"""The terminal theme: styles are names (``lossgap.high``...), never colours in the code."""

from __future__ import annotations

from rich.style import Style
from rich.theme import Theme

THEME = Theme(
    {
        "lossgap.high": "bold red",
        "lossgap.medium": "yellow",
        "lossgap.low": "cyan",
        "lossgap.info": "green",
        "lossgap.headline": "bold",
        "lossgap.advice": "italic",
        "lossgap.dim": "dim",
    }
)


def style(name: str) -> Style:
    """The theme's style ``lossgap.<name>``, usable on any console (themed or not)."""
    return THEME.styles[f"lossgap.{name}"]

"""Options that several commands share, declared once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

#: The ``--html``, ``--md`` and ``--plot`` options of every command that writes reports.
HtmlOption = Annotated[
    Path | None, typer.Option("--html", help="Write a self-contained HTML report to this file.")
]
MarkdownOption = Annotated[
    Path | None,
    typer.Option("--md", help="Write a Markdown summary (for a pull request) to this file."),
]
PlotOption = Annotated[
    Path | None, typer.Option("--plot", help="Write the plots (PNG and SVG) into this directory.")
]

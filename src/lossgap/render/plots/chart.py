"""One plot as an object: its figure, its heading and how to read it; the shared style.

Figures are built on :class:`matplotlib.figure.Figure` directly (no pyplot state, no
display needed) and drawn by the Agg renderer (PNG) or the SVG one. The palette is
Okabe & Ito's, which stays distinct under the common colour-vision deficiencies; correct
and wrong decisions also differ by marker and hatch, so the plots survive greyscale
printing.
"""

from __future__ import annotations

import base64
import io
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lossgap.errors import InputError
from lossgap.printable import printable

try:
    import matplotlib
    import matplotlib.text
    import matplotlib.ticker
    from cycler import cycler
    from matplotlib.figure import Figure
except ImportError as exc:  # not a core dependency: the [plots] extra
    msg = "plots and the charts of HTML reports need matplotlib: pip install 'lossgap[plots]'"
    raise InputError(msg) from exc

if TYPE_CHECKING:  # matplotlib >= 3.9 names its settings' keys; older ones run too
    from matplotlib.typing import RcKeyType

#: Okabe & Ito (2008) colours by role.
COLORS = {
    "correct": "#0072B2",  # blue
    "wrong": "#D55E00",  # vermillion
    "band": "#56B4E9",  # sky blue
    "accent": "#E69F00",  # orange
    "second": "#009E73",  # bluish green
    "third": "#CC79A7",  # reddish purple
    "neutral": "#999999",
    "ink": "#222222",
}

#: matplotlib settings of every lossgap plot.
STYLE: dict[RcKeyType, Any] = {
    "figure.figsize": (5.8, 4.0),
    "figure.dpi": 100,
    "figure.facecolor": "white",
    "font.size": 10,
    "axes.titlesize": 10.5,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.labelsize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#e6e6e6",
    "grid.linewidth": 0.7,
    "axes.prop_cycle": cycler(
        color=[COLORS[k] for k in ("correct", "wrong", "second", "accent", "third", "band")]
    ),
    "legend.frameon": False,
    "legend.fontsize": 8.5,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "svg.fonttype": "path",
}

#: Width of a wrapped title line, in characters.
TITLE_WIDTH = 64


@contextmanager
def plot_style() -> Iterator[None]:
    """Apply :data:`STYLE` while building and saving a figure."""
    with matplotlib.rc_context(STYLE):
        yield


def new_figure(
    *, nrows: int = 1, ncols: int = 1, size: tuple[float, float] | None = None, **kwargs: Any
) -> tuple[Figure, Any]:
    """A figure and its axes in the lossgap style (call inside :func:`plot_style`)."""
    figure = Figure(figsize=size or STYLE["figure.figsize"], layout="constrained")
    axes = figure.subplots(nrows, ncols, squeeze=True, **kwargs)
    return figure, axes


def title(figure: Figure, text: str) -> None:
    """The figure's title, left-aligned and wrapped: the sentence that says what to see."""
    figure.suptitle(
        "\n".join(textwrap.wrap(text, TITLE_WIDTH)),
        x=0.01, ha="left", fontsize=STYLE["axes.titlesize"], fontweight="bold",
    )


def short(value: Any, width: int = 18) -> str:
    """A user string (id, class, model name) for a plot: cut to ``width``, ``$`` kept literal.

    Examples
    --------
    >>> print(short("a $x$ long name for a class", 12))
    a \\$x\\$ long \u2026
    """
    text = str(value)
    text = text if len(text) <= width else text[: width - 1] + "\u2026"
    # matplotlib reads $...$ as TeX: escape it so the string shows as typed
    return text.replace("$", r"\$")


def _drawable(text: str) -> str:
    """A figure's text with its control characters escaped; line breaks stay (in a figure
    they only break the line)."""
    if text.isprintable():
        return text
    return "\n".join(printable(line) for line in text.split("\n"))


def _drawable_ticks(formatter: Any) -> Any:
    """A tick formatter whose labels pass through :func:`_drawable`."""
    return matplotlib.ticker.FuncFormatter(lambda value, pos: _drawable(formatter(value, pos)))


@dataclass
class Chart:
    """A plot with its heading, the sentence that says what to see, and its reading guide.

    Attributes
    ----------
    name : str
        File stem (``reliability`` -> ``reliability.png`` and ``.svg``).
    heading : str
        What the plot is (``"Reliability diagram"``).
    summary : str
        What to see in this data; it becomes the figure's title (and the image's alt text).
    caption : str
        How to read the plot.
    figure : matplotlib.figure.Figure
    section : str
        The part of a report it belongs to, where a report has several (the demo's).
    wide : bool
        Drawn across the whole width of a report (plots with many panels).
    """

    name: str
    heading: str
    summary: str
    caption: str
    figure: Figure
    section: str = ""
    wide: bool = False
    _svg: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        title(self.figure, self.summary)

    def _save(self, fmt: str, **kwargs: Any) -> bytes:
        # class, model and file names come from the data: a control character in one would
        # make the SVG invalid XML (the report's image breaks); drawn as its escape instead
        for text in self.figure.findobj(matplotlib.text.Text):
            text.set_text(_drawable(text.get_text()))
        for ax in self.figure.axes:  # tick labels are made again from their formatter
            for axis in (ax.xaxis, ax.yaxis):
                if all(label.get_text().isprintable() for label in axis.get_ticklabels()):
                    continue
                axis.set_major_formatter(_drawable_ticks(axis.get_major_formatter()))
        buffer = io.BytesIO()
        # a per-chart salt keeps SVG ids stable from run to run and distinct between charts
        with plot_style(), matplotlib.rc_context({"svg.hashsalt": self.name}):
            self.figure.savefig(buffer, format=fmt, **kwargs)
        return buffer.getvalue()

    def svg(self) -> str:
        """The figure as SVG text (no date stamp, so reports are reproducible)."""
        if self._svg is None:
            self._svg = self._save("svg", metadata={"Date": None}).decode("utf-8")
        return self._svg

    def png(self, dpi: int = 150) -> bytes:
        """The figure as PNG bytes."""
        return self._save("png", dpi=dpi, metadata={"Software": None})

    def data_uri(self) -> str:
        """The SVG as a ``data:`` URI, for an ``<img>`` that needs no file and no network."""
        encoded = base64.b64encode(self.svg().encode("utf-8")).decode("ascii")
        return f"data:image/svg+xml;base64,{encoded}"

    def close(self) -> None:
        """Free the figure's memory."""
        self.figure.clear()

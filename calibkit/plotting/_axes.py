"""Axes helpers shared by the displays: new figures, figure of an axes, labels,
and the checks of drawing options made before anything is drawn."""

import numbers

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.cbook import normalize_kwargs
from matplotlib.lines import Line2D

from calibkit._validation import format_label  # noqa: F401 (re-exported)

#: Largest number of histogram bins a display draws: finer histograms are not
#: readable, and 10**8 bins ran out of memory.
MAX_HIST_BINS = 10_000

# Keywords of Axes.plot that are not Line2D properties.
_PLOT_KEYWORDS = {"scalex", "scaley", "data"}


def new_figure(figsize):
    """A new pyplot figure with constrained layout (labels never overlap).

    pyplot, rather than a bare ``Figure``, so that notebooks show it and
    ``plt.close`` can release it; rcParams are left alone.
    """
    return plt.figure(figsize=figsize, layout="constrained")


def root_figure(ax):
    """The top-level figure of ``ax``, also when ``ax`` lives in a subfigure."""
    figure = ax.figure
    # A SubFigure knows its top-level Figure as ``figure``; a Figure is its own.
    while getattr(figure, "figure", figure) is not figure:
        figure = figure.figure
    return figure


def check_axes(ax, name="ax"):
    """Raise a TypeError unless ``ax`` is None or a matplotlib Axes."""
    if ax is not None and not isinstance(ax, Axes):
        msg = (
            f"{name} must be a matplotlib Axes or None; got {ax!r} of type "
            f"{type(ax).__name__}."
        )
        raise TypeError(msg)
    return ax


def check_line_kwargs(kwargs):
    """Check keywords meant for ``Axes.plot`` before anything is drawn.

    Unknown names raise a TypeError that lists them; bad values (an unknown
    colour, a line width that is not a number) raise the ValueError or
    TypeError of matplotlib, checked on a line that belongs to no figure.
    """
    if not kwargs:
        return
    properties = {k: v for k, v in kwargs.items() if k not in _PLOT_KEYWORDS}
    canonical = normalize_kwargs(properties, Line2D)
    unknown = [k for k in canonical if not callable(getattr(Line2D, f"set_{k}", 0))]
    if unknown:
        msg = (
            f"Unknown keyword arguments for the curve: {sorted(unknown)}. Extra "
            "keywords are passed to matplotlib's Axes.plot and must be Line2D "
            "properties (e.g. color, linestyle, marker)."
        )
        raise TypeError(msg)
    try:
        Line2D([], []).set(**canonical)
    except (TypeError, ValueError) as error:
        msg = f"Invalid keyword argument for the curve: {error}"
        raise type(error)(msg) from None


def check_hist_bins(hist_bins):
    """``None``, a number of bins (1 .. MAX_HIST_BINS) or increasing finite edges."""
    if hist_bins is None:
        return None
    if isinstance(hist_bins, bool | np.bool_):
        msg = f"hist_bins must be None, an integer or bin edges; got {hist_bins!r}."
        raise TypeError(msg)
    if isinstance(hist_bins, numbers.Integral):
        if not 1 <= hist_bins <= MAX_HIST_BINS:
            msg = f"hist_bins must be between 1 and {MAX_HIST_BINS}; got {hist_bins}."
            raise ValueError(msg)
        return int(hist_bins)
    if isinstance(hist_bins, str) or np.isscalar(hist_bins):
        msg = f"hist_bins must be None, an integer or bin edges; got {hist_bins!r}."
        raise TypeError(msg)
    try:
        edges = np.asarray(hist_bins, dtype=np.float64)
    except (TypeError, ValueError):
        msg = "hist_bins edges must be numbers."
        raise TypeError(msg) from None
    if edges.ndim != 1 or not 2 <= edges.shape[0] <= MAX_HIST_BINS + 1:
        msg = (
            "hist_bins edges must be a 1-D array of 2 to "
            f"{MAX_HIST_BINS + 1} values; got shape {edges.shape}."
        )
        raise ValueError(msg)
    if not np.all(np.isfinite(edges)) or np.any(np.diff(edges) <= 0):
        msg = (
            f"hist_bins edges must be finite and increasing; got {edges.tolist()[:6]}."
        )
        raise ValueError(msg)
    return edges

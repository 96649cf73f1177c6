"""Axes helpers shared by the displays: new figures, figure of an axes, labels,
and the checks of drawing options made before anything is drawn."""

import functools
import numbers
import warnings

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
_PLOT_KEYWORDS = {"scalex", "scaley"}

# Keywords that would replace what the display computed (the curve's points,
# the axes or figure it lives in, its coordinate system) or make matplotlib
# look the data up elsewhere (``data=``): refused instead of passed on, so the
# drawn line is always the display's curve on ``ax_``.
RESERVED_KEYWORDS = ("axes", "data", "figure", "transform", "xdata", "ydata")


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

    Parameters
    ----------
    kwargs : dict
        The user's keywords for the curve (put under canonical names only
        when drawn, by :func:`line_style`).

    Raises
    ------
    TypeError
        For a keyword in :data:`RESERVED_KEYWORDS`, two aliases of one
        property (``c`` and ``color``), or a name that is no Line2D property.
    ValueError
        For a bad value (an unknown colour), as matplotlib raises it, checked
        on a line that belongs to no figure.
    """
    if not kwargs:
        return
    reserved = sorted(set(kwargs) & set(RESERVED_KEYWORDS))
    if reserved:
        msg = (
            f"Keyword arguments {reserved} cannot be passed to a display: it "
            "draws its own data on its own axes. Pass the data to "
            "from_predictions and the axes as ax=."
        )
        raise TypeError(msg)
    canonical = _canonical_line_kwargs(kwargs)
    properties = {k: v for k, v in canonical.items() if k not in _PLOT_KEYWORDS}
    unknown = [k for k in properties if not callable(getattr(Line2D, f"set_{k}", 0))]
    if unknown:
        msg = (
            f"Unknown keyword arguments for the curve: {sorted(unknown)}. Extra "
            "keywords are passed to matplotlib's Axes.plot and must be Line2D "
            "properties (e.g. color, linestyle, marker)."
        )
        raise TypeError(msg)
    try:
        Line2D([], []).set(**properties)
    except (TypeError, ValueError) as error:
        msg = f"Invalid keyword argument for the curve: {error}"
        raise type(error)(msg) from None


def line_style(defaults, kwargs):
    """The display's default line style, overridden by the user's keywords.

    Both are put under canonical names first, so that ``ms=8`` replaces a
    default ``markersize=4`` instead of reaching matplotlib as two aliases
    (the approach of scikit-learn's ``_validate_style_kwargs``).

    Parameters
    ----------
    defaults : dict
        The display's style.
    kwargs : dict
        The user's keywords, checked by :func:`check_line_kwargs`.

    Returns
    -------
    dict
        Keywords for ``Axes.plot``.
    """
    return {**_canonical_line_kwargs(defaults), **_canonical_line_kwargs(kwargs)}


def _canonical_line_kwargs(kwargs):
    try:
        return normalize_kwargs(kwargs, Line2D)
    except TypeError as error:  # two aliases of one property
        msg = f"Conflicting keyword arguments for the curve: {error}"
        raise TypeError(msg) from None


def keyword_only_ax(plot):
    """Let ``plot(ax)`` work for one more release, with a FutureWarning.

    ``ax`` became keyword-only in calibkit 0.2, as in scikit-learn's displays.

    Parameters
    ----------
    plot : callable
        A display's ``plot(self, *, ax=None, ...)``.

    Returns
    -------
    callable
        ``plot`` that also takes ``ax`` as its one positional argument.
    """

    @functools.wraps(plot)
    def plot_with_positional_ax(self, *args, **kwargs):
        if args:
            if len(args) > 1 or "ax" in kwargs:
                msg = (
                    f"{plot.__qualname__}() takes ax as its only positional "
                    f"argument; got {len(args)} positional arguments"
                    + (" and ax=" if "ax" in kwargs else "")
                    + "."
                )
                raise TypeError(msg)
            warnings.warn(
                f"Passing ax positionally to {plot.__qualname__}() is deprecated "
                "since calibkit 0.2 and will raise a TypeError in 0.3; use "
                "plot(ax=...).",
                FutureWarning,
                stacklevel=2,
            )
            kwargs["ax"] = args[0]
        return plot(self, **kwargs)

    return plot_with_positional_ax


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

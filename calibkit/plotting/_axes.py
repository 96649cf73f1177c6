"""Axes helpers shared by the displays: new figures, figure of an axes, labels,
and the checks of drawing options made before anything is drawn."""

import functools
import math
import numbers
import warnings

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.cbook import normalize_kwargs
from matplotlib.lines import Line2D
from matplotlib.textpath import text_to_path
from matplotlib.ticker import Formatter, Locator, MaxNLocator, NullFormatter

from calibkit._validation import format_label  # noqa: F401 (re-exported)

#: Largest number of histogram bins a display draws: finer histograms are not
#: readable, and 10**8 bins ran out of memory.
MAX_HIST_BINS = 10_000

#: ``gid`` of the horizontal line at 0 of the bias and cumulative plots, so
#: that several displays on one axes draw it once.
ZERO_LINE_GID = "calibkit-zero"

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


# --- logit axes ---------------------------------------------------------------

# Candidate ticks of a logit axis, as (probability, label) from 1e-12 to
# 1 - 1e-12: powers of ten, their complements and 1/2 (the "decades", which are
# about equally spaced in log-odds), and finer values for narrow ranges.
_DECADES = range(1, 13)
_FINE = (0.02, 0.05, 0.2, 0.3, 0.4)


def _probability_label(p, k):
    """``0.001``, ``0.999``, ``$10^{-6}$``, ``$1-10^{-6}$`` for 10^-k or 1 - 10^-k."""
    if k <= 3:
        return f"{p:.{k}f}"
    return f"$10^{{-{k}}}$" if p < 0.5 else f"$1-10^{{-{k}}}$"


def _logit_candidates():
    coarse = [(0.5, "0.5", 0)]
    for k in _DECADES:
        coarse.append((10.0**-k, _probability_label(10.0**-k, k), k))
        coarse.append((1.0 - 10.0**-k, _probability_label(1.0 - 10.0**-k, k), k))
    fine = [(p, f"{p:g}", 0) for p in _FINE]
    fine += [(1.0 - p, f"{1.0 - p:g}", 0) for p in _FINE]
    medium = [c for c in fine if c[0] in (0.05, 0.2, 0.8, 0.95)]
    return sorted(coarse), sorted(coarse + medium), sorted(coarse + fine)


_COARSE_TICKS, _MEDIUM_TICKS, _FINE_TICKS = _logit_candidates()
# Every decade, every second one, ...: the coarser tiers of ticks.
_STEPS = (1, 2, 3, 4, 6, 12)


class LogitTickLocator(Locator):
    """Ticks of a logit axis that fit its length without overlapping labels.

    matplotlib's logit locator labels 1 - 10^-3, 1 - 10^-6, 1 - 10^-9 side by
    side on a short axis, where they collide. This one chooses among 1/2,
    powers of ten and their complements (every decade, every second, ...) the
    densest set whose labels, estimated from the font size, leave a gap
    between neighbours at the axis' current length, and adds finer ticks
    (0.2, 0.3, ...) only when the range spans few decades.
    """

    def __call__(self):
        low, high = self.axis.get_view_interval()
        return self.tick_values(low, high)

    def tick_values(self, vmin, vmax):
        """Tick positions between ``vmin`` and ``vmax`` (probabilities)."""
        low, high = sorted((float(vmin), float(vmax)))
        if not 0.0 < low < high < 1.0:
            return np.array([])
        length, font = self._length_and_font()
        span = _log_odds(high) - _log_odds(low)
        tiers = [_FINE_TICKS, _MEDIUM_TICKS]
        tiers += [[c for c in _COARSE_TICKS if c[2] % step == 0] for step in _STEPS]
        chosen = []
        for tier in tiers:
            chosen = [c for c in tier if low <= c[0] <= high]
            if self._fits(chosen, low, span, length, font):
                break
        if len(chosen) >= 2:
            return np.array([p for p, *_ in chosen])
        # A range within one decade: about linear in p, so nice linear ticks.
        properties, pixels_per_point = font
        label_size = 5 * properties.get_size_in_points() * pixels_per_point
        n_bins = max(1, min(5, int(length // label_size)))
        ticks = MaxNLocator(nbins=n_bins).tick_values(low, high)
        return ticks[(ticks >= low) & (ticks <= high)]

    def _length_and_font(self):
        axes = self.axis.axes
        vertical = self.axis.axis_name == "y"
        length = axes.bbox.height if vertical else axes.bbox.width
        label = self.axis.get_major_ticks(1)[0].label1
        pixels_per_point = axes.figure.dpi / 72.0
        return length, (label.get_fontproperties(), pixels_per_point)

    def _fits(self, chosen, low, span, length, font):
        """Whether the labels of ``chosen`` leave a gap between neighbours."""
        if len(chosen) < 2:
            return True
        properties, pixels_per_point = font
        size = properties.get_size_in_points() * pixels_per_point
        start = _log_odds(low)
        positions = [(_log_odds(p) - start) / span * length for p, *_ in chosen]
        if self.axis.axis_name == "y":
            extents = [1.3 * size] * len(chosen)
        else:
            extents = [
                _text_width(label, properties) * pixels_per_point
                for _, label, _ in chosen
            ]
        gap = 0.5 * size
        return all(
            positions[i + 1] - positions[i] >= (extents[i] + extents[i + 1]) / 2 + gap
            for i in range(len(chosen) - 1)
        )


class LogitTickFormatter(Formatter):
    """Labels of :class:`LogitTickLocator`'s ticks (``0.01``, ``0.5``, ``1-10⁻⁶``)."""

    def __call__(self, x, pos=None):
        for p, label, _ in _FINE_TICKS:
            if math.isclose(p, x, rel_tol=1e-9, abs_tol=0.0) or (
                x > 0.5 and math.isclose(1.0 - p, 1.0 - x, rel_tol=1e-6, abs_tol=0.0)
            ):
                return label
        return f"{x:.3g}"


@functools.lru_cache(maxsize=512)
def _text_width(label, properties):
    """Width of a tick label in points, as matplotlib lays it out."""
    width, _, _ = text_to_path.get_text_width_height_descent(
        label, properties, ismath=label.startswith("$")
    )
    return float(width)


def _log_odds(p):
    return math.log(p) - math.log1p(-p)


def set_logit_ticks(*axes):
    """Put :class:`LogitTickLocator` ticks on the logit x and y axes of ``axes``."""
    for ax in axes:
        for axis in (ax.xaxis, ax.yaxis):
            if axis.get_scale() == "logit":
                axis.set_major_locator(LogitTickLocator())
                axis.set_major_formatter(LogitTickFormatter())
                axis.set_minor_formatter(NullFormatter())

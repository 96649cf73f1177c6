"""Score decompositions of several models, drawn side by side."""

import math

import numpy as np
from matplotlib.ticker import MaxNLocator

from calibkit.metrics import Decomposition, decompose
from calibkit.plotting._axes import (
    check_axes,
    keyword_only_ax,
    new_figure,
    root_figure,
)

__all__ = ["DecompositionDisplay"]

_KINDS = ("bars", "mcb_dsc")
_AXIS_LABELS = {"log": "Log-loss (nats)", "brier": "Brier score"}
_UNITS = {"log": " nats", "brier": ""}

# Each term has a fixed colour and a legend label saying how it enters the score.
_TERMS = {
    "uncertainty": ("0.62", "UNC: uncertainty"),
    "discrimination": ("tab:green", "− DSC: discrimination"),
    "miscalibration": ("tab:red", "+ MCB: miscalibration"),
    "score": ("tab:blue", "= score"),
}
_BAR_OFFSETS = {"uncertainty": -0.3, "discrimination": -0.1}
_BAR_OFFSETS.update(miscalibration=0.1, score=0.3)
_BAR_HEIGHT = 0.18


class DecompositionDisplay:
    """Miscalibration, discrimination and uncertainty of several models.

    Shows, model by model, how the mean score splits as
    ``score = miscalibration - discrimination + uncertainty``
    (:func:`calibkit.metrics.decompose`). Two pictures:

    - ``kind="bars"`` (default): a horizontal "waterfall" per model. Start
      from the uncertainty UNC (the score of always forecasting the base
      rate), take away the discrimination DSC (what the recalibrated forecast
      gains over the base rate), add the miscalibration MCB (what
      recalibration would still gain): the last bar is the score.
    - ``kind="mcb_dsc"``: the MCB-DSC plot of Dimitriadis, Gneiting & Jordan
      (2021): one point per model at (DSC, MCB), with dotted lines of equal
      score (MCB - DSC is constant along them). Down and to the right is
      better. Needs one uncertainty for all models (the same labels).

    Parameters
    ----------
    decompositions : list of Decomposition
        One per model, all of the same score (log-loss or Brier).
    names : list of str
        Model names, one per decomposition.

    Attributes
    ----------
    ax_ : matplotlib.axes.Axes
    figure_ : matplotlib.figure.Figure
    bars_ : dict of str to matplotlib.container.BarContainer
        ``kind="bars"``: the bars of each term (``"uncertainty"``,
        ``"discrimination"``, ``"miscalibration"``, ``"score"``), one bar per
        model in the order of ``names``.
    scatter_ : matplotlib.collections.PathCollection
        ``kind="mcb_dsc"``: the points (DSC, MCB).
    iso_lines_ : list of matplotlib.lines.Line2D
        ``kind="mcb_dsc"``: lines of equal score.

    See Also
    --------
    calibkit.metrics.decompose : The numbers drawn here.
    ReliabilityDisplay : Where the miscalibration comes from.

    Notes
    -----
    For the log-loss (natural logarithms, nats), UNC = H(ȳ) is the entropy of
    the class frequencies, DSC is the mean KL divergence of the recalibrated
    forecast c from the base rate, and UNC - DSC = mean H(c) is the
    refinement; MCB = S̄(q) - S̄(c) is what recalibration gains. An infinite
    score (a forecast of probability 0 for what happened) is drawn as a bar
    reaching the edge of the axes and labelled ``inf``; the MCB-DSC plot
    leaves such models out and names them in the title.

    References
    ----------
    .. [1] Dimitriadis, T., Gneiting, T., & Jordan, A. I. (2021). Stable
       reliability diagrams for probabilistic classifiers. PNAS, 118(8),
       e2016191118. doi:10.1073/pnas.2016191118

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import numpy as np
    >>> from calibkit.plotting import DecompositionDisplay
    >>> rng = np.random.default_rng(0)
    >>> p = rng.uniform(size=1000)
    >>> y = rng.uniform(size=1000) < p
    >>> disp = DecompositionDisplay.from_predictions(
    ...     y, {"calibrated": p, "over-confident": p**3 / (p**3 + (1 - p) ** 3)}
    ... )
    >>> [t.get_text() for t in disp.ax_.get_yticklabels()]
    ['calibrated', 'over-confident']
    >>> widths = [bar.get_width() for bar in disp.bars_["score"]]
    >>> np.allclose(widths, [d.score for d in disp.decompositions])
    True
    >>> plt.close(disp.figure_)
    """

    def __init__(self, decompositions, *, names):
        self.decompositions = list(decompositions)
        self.names = [str(name) for name in names]

    @classmethod
    def from_predictions(
        cls,
        y_true,
        y_probs,
        *,
        score="log",
        strategy="isotonic",
        n_bins=10,
        multiclass="classwise",
        sample_weight=None,
        labels=None,
        pos_label=None,
        input="probabilities",
        method="deprecated",
        kind="bars",
        ax=None,
    ):
        """Decompose the forecasts of several models of the same labels and draw them.

        Parameters
        ----------
        y_true : array-like of shape (n_samples,)
            Observed labels.
        y_probs : dict of str to array-like, or list of array-like
            The forecasts of each model (as ``y_prob`` of
            :func:`~calibkit.metrics.decompose`); a list gets
            names ``"model 0"``, ``"model 1"``, ...
        score, strategy, n_bins, multiclass, sample_weight, labels, pos_label, input
            Passed to :func:`~calibkit.metrics.decompose`.
        method : {"isotonic", "binned"}
            Deprecated since 0.2 (removed in 0.3), as in
            :func:`~calibkit.metrics.decompose`: pass ``strategy`` instead.
        kind : {"bars", "mcb_dsc"}, default="bars"
            The picture (see the class docstring).
        ax : matplotlib.axes.Axes, default=None
            Axes to draw on; ``None`` makes a new figure.

        Returns
        -------
        DecompositionDisplay
        """
        check_axes(ax)
        names, forecasts = _named(y_probs, "y_probs")
        decompositions = [
            decompose(
                y_true,
                y_prob,
                score=score,
                strategy=strategy,
                n_bins=n_bins,
                multiclass=multiclass,
                sample_weight=sample_weight,
                labels=labels,
                pos_label=pos_label,
                input=input,
                method=method,
            )
            for y_prob in forecasts
        ]
        return cls(decompositions, names=names).plot(ax=ax, kind=kind)

    @classmethod
    def from_decompositions(cls, decompositions, *, kind="bars", ax=None):
        """Draw decompositions computed already.

        Parameters
        ----------
        decompositions : dict of str to Decomposition, or list of Decomposition
            Outputs of :func:`~calibkit.metrics.decompose`; a list
            gets names ``"model 0"``, ``"model 1"``, ...
        kind : {"bars", "mcb_dsc"}, default="bars"
            The picture (see the class docstring).
        ax : matplotlib.axes.Axes, default=None
            Axes to draw on; ``None`` makes a new figure.

        Returns
        -------
        DecompositionDisplay
            The display, with ``ax_``, ``figure_`` and the artists set.
        """
        names, decompositions = _named(decompositions, "decompositions")
        return cls(decompositions, names=names).plot(ax=ax, kind=kind)

    @keyword_only_ax
    def plot(self, *, ax=None, kind="bars"):
        """Draw the decompositions.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, default=None
            Axes to draw on; ``None`` makes a new figure.
        kind : {"bars", "mcb_dsc"}, default="bars"
            Waterfall bars per model, or the MCB-DSC plot.

        Returns
        -------
        DecompositionDisplay
            ``self``, with ``ax_``, ``figure_`` and the artists set.
        """
        check_axes(ax)
        if kind not in _KINDS:
            msg = f"kind must be 'bars' or 'mcb_dsc'; got {kind!r}."
            raise ValueError(msg)
        score_name = _common_score(self.decompositions, self.names)
        if ax is None:
            n_models = len(self.decompositions)
            size = (6.4, 1.6 + 1.0 * n_models) if kind == "bars" else (5.6, 5.0)
            ax = new_figure(size).subplots()
        if kind == "bars":
            self._plot_bars(ax, score_name)
        else:
            self._plot_mcb_dsc(ax, score_name)
        self.ax_ = ax
        self.figure_ = root_figure(ax)
        return self

    # --- waterfall bars -------------------------------------------------------

    def _plot_bars(self, ax, score_name):
        values = {term: _values(self.decompositions, term) for term in _TERMS}
        refinement = values["uncertainty"] - values["discrimination"]
        left = {
            "uncertainty": np.zeros_like(refinement),
            "discrimination": refinement,
            "miscalibration": refinement,
            "score": np.zeros_like(refinement),
        }
        right_edge = _right_edge(ax, values, left)
        rows = np.arange(len(self.names), dtype=np.float64)
        self.bars_ = {}
        for term, (color, label) in _TERMS.items():
            widths = np.where(
                np.isfinite(values[term]), values[term], right_edge - left[term]
            )
            self.bars_[term] = ax.barh(
                rows + _BAR_OFFSETS[term],
                widths,
                height=_BAR_HEIGHT,
                left=left[term],
                color=color,
                label=label,
            )
            # Labels go right of each bar, also of a negative (leftward) one.
            ends = np.maximum(left[term], left[term] + widths)
            self._label_bars(ax, term, values[term], ends, rows)
        self._connect_bars(ax, values, refinement, rows, right_edge)
        ax.set_yticks(rows, self.names)
        ax.set_ylim(rows[-1] + 0.55, rows[0] - 0.55)  # first model on top
        ax.set_xlim(min(0.0, float(np.min(refinement))), right_edge)
        ax.set_xlabel(_AXIS_LABELS[score_name])
        ax.legend(
            loc="lower center",
            bbox_to_anchor=(0.5, 1.0),
            ncols=2,
            frameon=False,
            fontsize="small",
        )

    def _label_bars(self, ax, term, values, ends, rows):
        for row, value, end in zip(rows, values, ends, strict=True):
            finite = np.isfinite(value)
            # An infinite bar runs to the axes edge: label it inside, in white.
            ax.annotate(
                _bar_label(term, value),
                (max(end, 0.0), row + _BAR_OFFSETS[term]),
                xytext=(3 if finite else -3, 0),
                textcoords="offset points",
                ha="left" if finite else "right",
                va="center",
                color="black" if finite else "white",
                fontsize="x-small",
            )

    def _connect_bars(self, ax, values, refinement, rows, right_edge):
        """Dotted risers of the waterfall: where each bar starts from."""
        score = np.where(np.isfinite(values["score"]), values["score"], right_edge)
        levels = [
            (values["uncertainty"], "uncertainty", "discrimination"),
            (refinement, "discrimination", "miscalibration"),
            (score, "miscalibration", "score"),
        ]
        for x, upper, lower in levels:
            top = rows + _BAR_OFFSETS[upper] - _BAR_HEIGHT / 2
            bottom = rows + _BAR_OFFSETS[lower] + _BAR_HEIGHT / 2
            ax.vlines(x, top, bottom, colors="0.3", linestyles=":", linewidth=1)

    # --- MCB-DSC plot ---------------------------------------------------------

    def _plot_mcb_dsc(self, ax, score_name):
        uncertainty = _values(self.decompositions, "uncertainty")
        if not np.allclose(uncertainty, uncertainty[0], rtol=1e-9, atol=0):
            msg = (
                "kind='mcb_dsc' needs decompositions of the same labels (one "
                f"uncertainty); got uncertainties {uncertainty.round(6).tolist()}."
            )
            raise ValueError(msg)
        dsc = _values(self.decompositions, "discrimination")
        mcb = _values(self.decompositions, "miscalibration")
        shown = np.isfinite(mcb)
        x_low, x_high = _padded_range(np.append(dsc, 0.0))
        y_low, y_high = _padded_range(np.append(mcb[shown], 0.0))
        ax.set_xlim(x_low, x_high)
        ax.set_ylim(y_low, y_high)
        ax.xaxis.set_major_locator(MaxNLocator(nbins=5))
        self.iso_lines_ = _iso_score_lines(
            ax, float(uncertainty[0]), (x_low, x_high), (y_low, y_high)
        )
        colors = np.array([f"C{i % 10}" for i in range(len(self.names))])
        self.scatter_ = ax.scatter(dsc[shown], mcb[shown], c=colors[shown], zorder=3)
        names = np.array(self.names)
        _annotate_points(
            ax, names[shown], dsc[shown], mcb[shown], (x_low, x_high), (y_low, y_high)
        )
        unit = _UNITS[score_name].strip()
        unit = f" ({unit})" if unit else ""
        ax.set_xlabel(f"Discrimination DSC{unit}")
        ax.set_ylabel(f"Miscalibration MCB{unit}")
        title = f"Dotted lines: equal score; UNC = {uncertainty[0]:.3f}{unit}"
        if not shown.all():
            hidden = ", ".join(names[~shown])
            title += f"\nnot shown (infinite MCB): {hidden}"
        ax.set_title(title, fontsize="small")


def _bar_label(term, value):
    """``2.302``, ``−0.191``, ``+0.377``, ``= 0.879``, ``= inf``."""
    prefix = {"discrimination": "−", "miscalibration": "+", "score": "= "}.get(term, "")
    if term == "miscalibration" and value < 0:
        prefix = "−"
    return f"{prefix}{abs(value):.3f}" if np.isfinite(value) else f"{prefix}inf"


def _right_edge(ax, values, left):
    """Right limit of the bars: the longest bar plus room for its label.

    The labels' width is measured in points and turned into data units with
    the axes' width as it stands (a constrained layout changes it a little,
    hence 25% to spare), so that the axis ends just past the last label
    instead of a fixed 30% beyond the longest bar.
    """
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import text_to_path

    ends = [
        np.maximum(left[term], left[term] + vals)[np.isfinite(vals)]
        for term, vals in values.items()
    ]
    longest = max([float(e.max()) for e in ends if e.size] + [0.0])
    if longest <= 0:
        return 1.0
    font = FontProperties(size="x-small")
    labels = [_bar_label(term, v) for term, vals in values.items() for v in vals]
    label_points = max(
        text_to_path.get_text_width_height_descent(label, font, ismath=False)[0]
        for label in labels
    )
    axes_points = ax.bbox.width * 72.0 / ax.figure.dpi
    share = min(0.4, 1.25 * (label_points + 3.0) / max(axes_points, 1.0))
    return longest / (1.0 - share)


def _padded_range(values):
    """Axis limits around ``values`` with 8% room on each side."""
    low, high = float(np.min(values)), float(np.max(values))
    pad = 0.08 * (high - low) or 0.1 * max(abs(high), 1e-3)
    return low - pad, high + pad


def _annotate_points(ax, names, x, y, x_range, y_range):
    """Name each point; labels of nearby points are stacked, not overlaid."""
    # Positions as fractions of the axes, to measure "nearby".
    u = (x - x_range[0]) / (x_range[1] - x_range[0])
    v = (y - y_range[0]) / (y_range[1] - y_range[0])
    placed = []
    for name, x_i, y_i, u_i, v_i in zip(names, x, y, u, v, strict=True):
        crowd = sum(
            abs(u_i - u_j) < 0.15 and abs(v_i - v_j) < 0.05 for u_j, v_j in placed
        )
        placed.append((u_i, v_i))
        right_half = u_i > 0.5  # names of points on the right go to their left
        ax.annotate(
            name,
            (x_i, y_i),
            xytext=(-6 if right_half else 6, 6 - 11 * crowd),
            textcoords="offset points",
            ha="right" if right_half else "left",
            fontsize="small",
        )


def _iso_score_lines(ax, uncertainty, x_range, y_range):
    """Lines MCB = DSC + (s - UNC) of equal score s across the visible box."""
    low = uncertainty - x_range[1] + y_range[0]
    high = uncertainty - x_range[0] + y_range[1]
    levels = MaxNLocator(nbins=6).tick_values(low, high)
    lines = []
    for level in levels:
        offset = level - uncertainty
        # The segment of y = x + offset inside the box.
        x_start = max(x_range[0], y_range[0] - offset)
        x_end = min(x_range[1], y_range[1] - offset)
        if x_end <= x_start:
            continue
        (line,) = ax.plot(
            [x_start, x_end],
            [x_start + offset, x_end + offset],
            linestyle=":",
            color="0.55",
            linewidth=1,
            zorder=1,
        )
        lines.append(line)
        ax.annotate(
            f"{level:.3g}",
            (x_end, x_end + offset),
            xytext=(-2, -2),
            textcoords="offset points",
            ha="right",
            va="top",
            fontsize="x-small",
            color="0.4",
        )
    return lines


def _values(decompositions, term):
    return np.array([getattr(d, term) for d in decompositions], dtype=np.float64)


def _named(items, argument):
    """(names, values) from a dict, or a list named "model 0", "model 1", ..."""
    if isinstance(items, dict):
        names, values = list(items), list(items.values())
    elif isinstance(items, list | tuple):
        names, values = [f"model {i}" for i in range(len(items))], list(items)
    else:
        msg = (
            f"{argument} must be a dict of name to value or a list; got "
            f"{type(items).__name__}."
        )
        raise TypeError(msg)
    if not values:
        msg = f"{argument} is empty; give at least one model."
        raise ValueError(msg)
    return names, values


def _common_score(decompositions, names):
    for name, item in zip(names, decompositions, strict=True):
        if not isinstance(item, Decomposition):
            msg = (
                f"decompositions must be Decomposition objects; {name!r} is a "
                f"{type(item).__name__}."
            )
            raise TypeError(msg)
    scores = {d.score_name for d in decompositions}
    if len(scores) > 1:
        msg = (
            "decompositions mix scores "
            f"({sorted(scores)}); one axis can only show one score."
        )
        raise ValueError(msg)
    score_name = scores.pop()
    if not all(math.isfinite(d.uncertainty) for d in decompositions):
        msg = "decompositions have a non-finite uncertainty; nothing to draw."
        raise ValueError(msg)
    return score_name

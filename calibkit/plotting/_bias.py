"""The bias diagram: a reliability diagram rotated to show c(p) - p against p."""

import numpy as np

from calibkit.plotting._axes import ZERO_LINE_GID, line_style, root_figure
from calibkit.plotting._reliability import (
    BAND_GID,
    ReliabilityDisplay,
    _corp_polyline,
    _legend,
)

__all__ = ["BiasDisplay"]

_X_LIMITS = (-0.02, 1.02)
# Smallest half-height of the y axis: a calibrated forecast's curve stays near
# 0, and a range of 1e-4 would make its noise look like a pattern.
_MIN_HALF_HEIGHT = 0.05
_Y_PAD = 1.1


class BiasDisplay(ReliabilityDisplay):
    """Bias diagram: observed minus forecast, c(p) - p, against the forecast p.

    The reliability diagram turned so that the diagonal becomes the
    horizontal line at 0: a point above it means the event happened more
    often than forecast (the forecast was too low there), below it less
    often. Small miscalibrations that hug the diagonal of a reliability
    diagram become readable, as the y axis spans only the deviations.

    It is built and drawn like :class:`ReliabilityDisplay` (it derives from
    it): :meth:`from_predictions`, :meth:`from_estimator`,
    :meth:`from_predictions_classwise` and
    :meth:`from_predictions_by_group` compute the same
    :class:`~calibkit.metrics.ReliabilityCurve` and draw it rotated. Only
    linear axes are offered (``logit_scale=True`` raises a ValueError).

    Parameters
    ----------
    curve : ReliabilityCurve
        Output of :func:`~calibkit.metrics.reliability_curve`.
    y_prob : ndarray of shape (n_samples,), default=None
        The forecasts on the x axis, for the histogram (``None``: none).
    sample_weight : ndarray of shape (n_samples,), default=None
        Weights of ``y_prob`` in the histogram.
    name : str, default=None
        Legend label of the curve.
    pos_label : label, default=None
        The class whose probability is on the x axis (for the axis label).
    top_label : bool, default=False
        Whether the curve is a top-label (confidence) diagram.

    Attributes
    ----------
    line_ : matplotlib.lines.Line2D
        The curve: ``observed - forecast`` at ``forecast`` (binned), or the
        CORP step curve minus the identity.
    ax_ : matplotlib.axes.Axes
        The axes of the diagram.
    figure_ : matplotlib.figure.Figure
        The (top-level) figure.
    ref_line_ : matplotlib.lines.Line2D or None
        The zero line (shared by every display on ``ax_``).
    band_ : matplotlib.collections.PolyCollection or None
        The consistency band, ``lower - forecast`` to ``upper - forecast``.
    hist_ax_ : matplotlib.axes.Axes or None
        The axes holding the histogram.
    hist_ : matplotlib.patches.StepPatch or None
        The filled histogram.

    See Also
    --------
    ReliabilityDisplay : The same curve against the diagonal.
    calibkit.metrics.reliability_curve : The points drawn here.

    Notes
    -----
    Every point :math:`(x, c)` of the reliability diagram is drawn at
    :math:`(x, c - x)`. The map is linear (a shear), so straight segments stay
    straight: the CORP curve, flat on each PAV block and linear between
    blocks, becomes a curve of slope -1 on each block, drawn exactly from the
    same block ends. The consistency band at a forecast x, the range
    :math:`[l(x), u(x)]` of the recalibrated value under calibration, becomes
    :math:`[l(x) - x, u(x) - x]` around 0. The y axis is symmetric about 0
    and spans the curve and band (at least ±0.05); a model added with
    ``ax=display.ax_`` widens it.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import numpy as np
    >>> from calibkit.metrics import reliability_curve
    >>> from calibkit.plotting import BiasDisplay
    >>> rng = np.random.default_rng(0)
    >>> p = rng.uniform(size=500)
    >>> y = rng.uniform(size=500) < p ** 2  # over-confident forecasts
    >>> disp = BiasDisplay.from_predictions(y, p, n_bins=5)
    >>> curve = disp.curve
    >>> np.allclose(disp.line_.get_ydata(), curve.observed - curve.forecast)
    True
    >>> disp.ax_.get_ylabel()
    'Observed frequency − forecast'
    >>> plt.close(disp.figure_)
    """

    def _draw(
        self,
        main_ax,
        hist_ax,
        *,
        name=None,
        hist_bins=None,
        logit_scale=False,
        ref_line=True,
        legend=True,
        xlabel=None,
        **kwargs,
    ):
        if logit_scale:
            msg = (
                "logit_scale=True is not offered by the bias diagram (observed "
                "minus forecast has no log-odds axis); use ReliabilityDisplay "
                "for logit axes."
            )
            raise ValueError(msg)
        name = self.name if name is None else name
        curve = self.curve
        isotonic = curve.strategy == "isotonic"
        x, c = _corp_polyline(curve) if isotonic else (curve.forecast, curve.observed)
        style = {"label": "Bias curve" if name is None else name}
        if not isotonic:
            style.update(marker="o", markersize=4)
        (self.line_,) = main_ax.plot(x, c - x, **line_style(style, kwargs))
        color = self.line_.get_color()

        main_ax.set_xlim(_X_LIMITS)
        main_ax.set_ylim(self._y_limits(main_ax, c - x))
        self.ref_line_ = _zero_line(main_ax, ref_line)
        self.band_ = self._bias_band(main_ax, color)

        self.hist_ = None
        if hist_ax is not None:
            inset = hist_ax in main_ax.child_axes
            self.hist_ = self._histogram(
                hist_ax, hist_bins, _X_LIMITS, False, color, inset
            )
        self.hist_ax_ = hist_ax

        self._label_axes(main_ax, hist_ax, xlabel)
        main_ax.set_ylabel(
            "Observed accuracy − confidence"
            if self.top_label
            else "Observed frequency − forecast"
        )
        if legend:
            _legend(main_ax)
        self.ax_ = main_ax
        self.figure_ = root_figure(main_ax)
        return self

    def _bias_band(self, ax, color):
        curve = self.curve
        if curve.lower is None:
            return None
        return ax.fill_between(
            curve.forecast,
            curve.lower - curve.forecast,
            curve.upper - curve.forecast,
            color=color,
            alpha=0.2,
            linewidth=0,
            label=f"{curve.level:.0%} consistency band",
            gid=BAND_GID,
        )

    def _y_limits(self, ax, deviation):
        """Symmetric about 0, spanning the curve, the band and earlier models."""
        curve = self.curve
        values = [np.abs(deviation)]
        if curve.lower is not None:
            values += [
                np.abs(curve.lower - curve.forecast),
                np.abs(curve.upper - curve.forecast),
            ]
        half = max(_MIN_HALF_HEIGHT, _Y_PAD * float(np.max(np.concatenate(values))))
        if not ax.get_autoscaley_on():  # a model drawn before on these axes
            half = max(half, *np.abs(ax.get_ylim()))
        return -half, half


def _zero_line(ax, draw):
    """The horizontal line at 0 of ``ax`` (made once)."""
    for line in ax.get_lines():
        if line.get_gid() == ZERO_LINE_GID:
            return line
    if not draw:
        return None
    return ax.axhline(
        0.0,
        linestyle="--",
        linewidth=1,
        color="0.45",
        label="Perfectly calibrated",
        gid=ZERO_LINE_GID,
    )

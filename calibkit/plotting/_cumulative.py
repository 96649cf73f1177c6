"""The cumulative-differences plot of Arrieta-Ibarra et al. (2022)."""

import numbers

import numpy as np
from scipy.optimize import brentq

from calibkit.metrics import cumulative_calibration
from calibkit.metrics._cumulative import max_abs_brownian_sf
from calibkit.metrics._many import is_model_mapping
from calibkit.plotting._axes import (
    ZERO_LINE_GID,
    check_axes,
    check_line_kwargs,
    keyword_only_ax,
    line_style,
    new_figure,
    root_figure,
)
from calibkit.plotting._reliability import (
    BAND_GID,
    _draw_on_one_axes,
    _estimator_forecasts,
    _legend,
    _naming_model,
    model_mapping,
)

__all__ = ["CumulativeDisplay"]

_STATISTICS = {"ecce_r": "ECCE-R", "ecce_mad": "ECCE-MAD"}


class CumulativeDisplay:
    """Cumulative differences between outcomes and forecasts, sorted by forecast.

    Build it with :meth:`from_predictions` or :meth:`from_estimator`; draw
    more models on the same axes with ``ax=display.ax_`` (one legend entry
    each, the significance band listed once).

    Parameters
    ----------
    result : CumulativeCalibration
        What :func:`calibkit.metrics.cumulative_calibration` returned.
    name : str, default=None
        Legend label of the curve.

    Attributes
    ----------
    result : CumulativeCalibration
        The curve and its statistics.
    line_ : matplotlib.lines.Line2D
        The curve.
    band_ : matplotlib.collections.PolyCollection or None
        The significance band.
    ax_ : matplotlib.axes.Axes
        Axes of the plot.
    figure_ : matplotlib.figure.Figure
        Figure of the plot.

    See Also
    --------
    calibkit.metrics.cumulative_calibration : The numbers behind the plot.
    ReliabilityDisplay : Forecasts against observed frequencies.

    Notes
    -----
    The curve starts at (0, 0) and passes through (:math:`A_k`,
    :math:`C_k`): the share of the weight of the rows with the k smallest
    forecasts, and the weighted sum of ``outcome - forecast`` over them
    divided by the total weight. A calibrated forecast gives a curve that
    stays near 0; where it rises, outcomes are more frequent than forecast
    (the slope is the mean gap there), where it falls they are less frequent.

    The band is :math:`\\pm g \\sigma` with :math:`P(\\sup_{[0,1]} |B| \\ge g) =
    1 - \\text{level}`: the curve leaves it exactly when the ECCE-MAD p-value
    is below ``1 - level`` (a simultaneous band for the whole curve, not a
    pointwise one).

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import numpy as np
    >>> from calibkit.plotting import CumulativeDisplay
    >>> rng = np.random.default_rng(0)
    >>> p = rng.random(1000)
    >>> y = rng.random(1000) < p**1.2
    >>> disp = CumulativeDisplay.from_predictions(y, p, name="model")
    >>> disp.line_.get_label()
    'model: ECCE-R 0.036 (p = 0.022)'
    >>> plt.close(disp.figure_)
    """

    def __init__(self, result, *, name=None):
        self.result = result
        self.name = name

    @classmethod
    def from_predictions(
        cls,
        y_true,
        y_prob,
        *,
        sample_weight=None,
        weight_type="frequency",
        labels=None,
        pos_label=None,
        name=None,
        ax=None,
        statistic="ecce_r",
        level=0.95,
        **kwargs,
    ):
        """Cumulative-differences plot of saved forecasts.

        Parameters
        ----------
        y_true : array-like of shape (n_samples,)
            Observed labels.
        y_prob : array-like of shape (n_samples,) or (n_samples, n_classes), or dict
            1-D: probability of the positive class. 2-D: the top-label
            forecast (confidence against whether the arg-max class was
            observed). A mapping ``{name: forecasts}`` draws every model on
            one axes, one legend entry each (its key, statistic and p-value),
            in the colours of the axes' cycle (see Returns).
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights.
        weight_type : {"frequency", "sampling"}, default="frequency"
            How the weights enter the null variance (see
            :func:`~calibkit.metrics.cumulative_calibration`).
        labels : array-like, default=None
            All class labels, when ``y_true`` does not contain every class.
        pos_label : label, default=None
            The class a 1-D ``y_prob`` refers to.
        name : str, default=None
            Legend label of the curve. Not allowed with a mapping ``y_prob``,
            whose keys name the curves.
        ax : matplotlib.axes.Axes, default=None
            Axes to draw on; ``None`` makes a new figure.
        statistic : {"ecce_r", "ecce_mad"}, default="ecce_r"
            The statistic and p-value shown in the legend.
        level : float or None, default=0.95
            Level of the significance band; ``None`` for no band.
        **kwargs : dict
            Line2D properties of the curve.

        Returns
        -------
        CumulativeDisplay or dict of CumulativeDisplay
            The display; for a mapping ``y_prob``, a dict ``{name: display}``
            in the mapping's order, every display on the same ``ax_``, the
            zero line drawn once and the band listed once in the legend.

        Raises
        ------
        TypeError
            When ``ax`` is not a matplotlib Axes or a keyword is not a line
            property; for a mapping ``y_prob``, when a value is not an array
            of forecasts.
        ValueError
            For a mapping ``y_prob``: when it is empty or ``name`` is given.
            Every model's statistics are computed before anything is drawn.

        Examples
        --------
        >>> import matplotlib.pyplot as plt
        >>> import numpy as np
        >>> from calibkit.plotting import CumulativeDisplay
        >>> rng = np.random.default_rng(0)
        >>> p = rng.random(1000)
        >>> y = rng.random(1000) < p
        >>> drawn = CumulativeDisplay.from_predictions(y, {"raw": p, "sqrt": p**0.5})
        >>> ax = drawn["raw"].ax_
        >>> [t.get_text().split(":")[0] for t in ax.get_legend().get_texts()]
        ['raw', '95% significance bands', 'sqrt']
        >>> plt.close(ax.figure)
        """
        check_axes(ax)
        check_line_kwargs(kwargs)
        options = {
            "sample_weight": sample_weight,
            "weight_type": weight_type,
            "labels": labels,
            "pos_label": pos_label,
        }
        drawing = {"statistic": statistic, "level": level, **kwargs}
        if not is_model_mapping(y_prob):
            result = cumulative_calibration(y_true, y_prob, **options)
            return cls(result, name=name).plot(ax=ax, **drawing)
        models = model_mapping(y_prob, name)
        displays = {}
        for key, forecasts in models.items():
            with _naming_model(key):
                result = cumulative_calibration(y_true, forecasts, **options)
            displays[key] = cls(result, name=key)
        return _draw_on_one_axes(displays, ax, drawing)

    @classmethod
    def from_estimator(cls, estimator, X, y, *, pos_label=None, name=None, **kwargs):
        """Cumulative-differences plot of a fitted classifier's ``predict_proba(X)``.

        Parameters
        ----------
        estimator : fitted classifier
            Any estimator with ``predict_proba`` and ``classes_``.
        X : array-like
            Inputs of ``estimator``.
        y : array-like of shape (n_samples,)
            Observed labels.
        pos_label : label, default=None
            Binary: the class whose probability is used (default
            ``classes_[1]``). Multiclass: ``None`` for the top-label
            forecast, a class for that class against the rest.
        name : str, default=None
            Legend label; default: the estimator's class name.
        **kwargs : dict
            Options of :meth:`from_predictions`.

        Returns
        -------
        CumulativeDisplay

        Examples
        --------
        >>> import matplotlib.pyplot as plt
        >>> from sklearn.datasets import load_breast_cancer
        >>> from sklearn.naive_bayes import GaussianNB
        >>> from calibkit.plotting import CumulativeDisplay
        >>> X, y = load_breast_cancer(return_X_y=True)
        >>> model = GaussianNB().fit(X[::2], y[::2])
        >>> disp = CumulativeDisplay.from_estimator(model, X[1::2], y[1::2])
        >>> disp.line_.get_label().split(":")[0]
        'GaussianNB'
        >>> plt.close(disp.figure_)
        """
        y_prob, classes, pos_label = _estimator_forecasts(estimator, X, pos_label)
        if name is None:
            name = type(estimator).__name__
        return cls.from_predictions(
            y, y_prob, labels=classes, pos_label=pos_label, name=name, **kwargs
        )

    @keyword_only_ax
    def plot(self, *, ax=None, name=None, statistic="ecce_r", level=0.95, **kwargs):
        """Draw the curve, the zero line and the significance band.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, default=None
            Axes to draw on; ``None`` makes a new figure.
        name : str, default=None
            Legend label; default: the display's ``name``.
        statistic : {"ecce_r", "ecce_mad"}, default="ecce_r"
            The statistic and p-value shown in the legend.
        level : float or None, default=0.95
            Level of the significance band; ``None`` for no band.
        **kwargs : dict
            Line2D properties of the curve, passed to
            :meth:`matplotlib.axes.Axes.plot`.

        Returns
        -------
        CumulativeDisplay
            ``self``, with ``ax_``, ``figure_``, ``line_`` and ``band_``.

        Examples
        --------
        >>> import matplotlib.pyplot as plt
        >>> import numpy as np
        >>> from calibkit.metrics import cumulative_calibration
        >>> from calibkit.plotting import CumulativeDisplay
        >>> rng = np.random.default_rng(0)
        >>> p = rng.random(500)
        >>> y = rng.random(500) < p
        >>> result = cumulative_calibration(y, p)
        >>> disp = CumulativeDisplay(result, name="model").plot(
        ...     statistic="ecce_mad", level=None
        ... )
        >>> disp.band_ is None, disp.line_.get_label().split(" ")[1]
        (True, 'ECCE-MAD')
        >>> plt.close(disp.figure_)
        """
        check_axes(ax)
        check_line_kwargs(kwargs)
        if statistic not in _STATISTICS:
            msg = f"statistic must be one of {sorted(_STATISTICS)}; got {statistic!r}."
            raise ValueError(msg)
        if level is not None and (
            isinstance(level, bool) or not isinstance(level, numbers.Real)
        ):
            msg = f"level must be a number in (0, 1) or None; got {level!r}."
            raise TypeError(msg)
        if level is not None and not 0 < level < 1:
            msg = f"level must be in (0, 1) or None; got {level!r}."
            raise ValueError(msg)
        if ax is None:
            ax = new_figure((5.0, 4.0)).add_subplot()
        result = self.result
        name = self.name if name is None else name
        value = getattr(result, statistic)
        pvalue = getattr(result, f"{statistic}_pvalue")
        label = f"{_STATISTICS[statistic]} {value:.3g} (p = {pvalue:.2g})"
        label = label if name is None else f"{name}: {label}"
        x = np.concatenate([[0.0], result.cumulative_weight])
        y = np.concatenate([[0.0], result.cumulative_difference])
        (self.line_,) = ax.plot(x, y, **line_style({"label": label}, kwargs))
        if not any(line.get_gid() == ZERO_LINE_GID for line in ax.get_lines()):
            ax.axhline(0.0, color="0.3", linewidth=0.8, gid=ZERO_LINE_GID)
        self.band_ = None
        if level is not None and result.sigma > 0:
            half_width = _band_half_width(level) * result.sigma
            self.band_ = ax.fill_between(
                [0.0, 1.0],
                -half_width,
                half_width,
                color=self.line_.get_color(),
                alpha=0.15,
                linewidth=0,
                label=f"{level:.0%} significance band",
                gid=BAND_GID,
            )
        ax.set_xlim(0.0, 1.0)
        ax.set_xlabel("Cumulative share of weight (rows sorted by forecast)")
        ax.set_ylabel("Cumulative difference (observed − forecast)")
        _legend(ax)
        self.ax_ = ax
        self.figure_ = root_figure(ax)
        return self


def _band_half_width(level):
    """``g`` with ``P(sup |B| >= g) = 1 - level``."""
    return brentq(lambda g: max_abs_brownian_sf(g) - (1.0 - level), 1e-3, 40.0)

"""Reliability diagrams: binned or CORP curve, diagonal, band and histogram."""

import contextlib
import math
import weakref
from collections.abc import Mapping

import numpy as np
from scipy.special import expit, logit
from sklearn.utils.validation import check_is_fitted

from calibkit._validation import (
    check_float_array,
    check_probabilities,
    check_sample_weight,
    encode_labels,
    to_numpy,
)
from calibkit.metrics import reliability_curve
from calibkit.metrics._inputs import check_forecasts
from calibkit.metrics._kernels import top_label
from calibkit.metrics._many import is_model_mapping
from calibkit.plotting._axes import (
    MAX_HIST_BINS,
    check_axes,
    check_hist_bins,
    check_line_kwargs,
    format_label,
    keyword_only_ax,
    line_style,
    new_figure,
    root_figure,
    set_logit_ticks,
)

__all__ = ["ReliabilityDisplay"]

#: ``gid`` of the diagonal, so that several displays on one axes draw it once.
DIAGONAL_GID = "calibkit-diagonal"
#: ``gid`` of a consistency band, so that the legend lists bands of one level
#: once, whatever the number of models on the axes.
BAND_GID = "calibkit-band"

# Histogram axes made by a display for a given main axes: a second model drawn
# with ``ax=display.ax_`` adds its histogram there instead of making another.
_HISTOGRAM_AXES = weakref.WeakKeyDictionary()

_LINEAR_LIMITS = (-0.02, 1.02)
# Smallest lower limit of a logit axis: beyond 1e-12 differences are not
# readable (and float64 runs out of room near 1).
_LOGIT_FLOOR = 1e-12
# Padding of a logit range, as a share of its width in log-odds, and the
# smallest half-width (log-odds) of the range around a single value.
_LOGIT_PAD = 0.05
_LOGIT_MIN_HALF_WIDTH = 0.5
_INSET_HEIGHT = 0.2  # share of the axes height used by an inset histogram
_DEFAULT_HIST_BINS = 20
_SINGLE_SIZE = (5.0, 6.0)
_PANEL_SIZE = (3.0, 3.6)


class ReliabilityDisplay:
    """Reliability diagram: forecasts against observed frequencies.

    Build it with :meth:`from_predictions` or :meth:`from_estimator`; they
    compute the curve with :func:`calibkit.metrics.reliability_curve`
    and call :meth:`plot`. The display draws exactly that curve: the binned
    points (markers joined by a line) or the CORP isotonic curve, the
    diagonal of perfect calibration, the consistency band when the curve has
    one, and a histogram of the forecasts below the diagram.

    Parameters
    ----------
    curve : ReliabilityCurve
        Output of :func:`~calibkit.metrics.reliability_curve`.
    y_prob : ndarray of shape (n_samples,), default=None
        The forecasts on the x axis, for the histogram: the probability of the
        positive class, or the top-label confidence ``max_k p_k``. ``None``
        draws no histogram.
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
        The reliability curve.
    ax_ : matplotlib.axes.Axes
        The axes of the diagram.
    figure_ : matplotlib.figure.Figure
        The (top-level) figure.
    ref_line_ : matplotlib.lines.Line2D or None
        The diagonal (shared by every display on ``ax_``).
    band_ : matplotlib.collections.PolyCollection or None
        The consistency band.
    hist_ax_ : matplotlib.axes.Axes or None
        The axes holding the histogram.
    hist_ : matplotlib.patches.StepPatch or None
        The filled histogram; ``hist_.get_data()`` gives heights and edges.

    See Also
    --------
    calibkit.metrics.reliability_curve : The points drawn here.
    DecompositionDisplay : Miscalibration, discrimination and uncertainty.

    Notes
    -----
    **CORP curve.** With ``strategy="isotonic"`` the curve is the PAV
    recalibration c(x) at the distinct forecasts x (Dimitriadis, Gneiting &
    Jordan, 2021), drawn as in their paper: constant on each PAV block and
    joined linearly from the last forecast of one block to the first of the
    next. Only block ends are drawn, so the line has ``2 * n_blocks`` points.

    **Bands.** The consistency band is drawn around the diagonal at the
    curve's forecasts: where the curve leaves it, calibration is doubtful
    (pointwise, at the band's level).

    **Histogram.** With ``ax=None`` it gets its own axes below the diagram
    (counts on a y axis of their own),
    sharing the x axis; a second display drawn with ``ax=display.ax_`` adds
    its histogram (same colour) to those axes. When you pass an ``ax`` of
    your own, the histogram is drawn in the bottom fifth of that axes, behind
    the curves and without a y axis (heights are relative); pass
    ``hist=False`` to leave it out. Bins: the curve's bins for
    ``strategy="uniform"`` (up to 10,000 of them), else 20 equal-width bins
    (equal-width in log-odds on a logit axis).

    **Logit axes.** ``logit_scale=True`` spreads forecasts near 0 and 1 by
    plotting both axes on the log-odds scale. Points at exactly 0 or 1 (e.g.
    an observed frequency of 0) have no place there and are not shown. Each
    axis gets its range from its own data: x from the curve's forecasts and
    the central 99% of ``y_prob``, y from the curve and its band (at most
    1e-12 to 1 - 1e-12; 0.01 to 0.99 when every value is exactly 0 or 1),
    padded by 5% of the width in log-odds; a model added to the axes widens
    them. The histogram counts forecasts beyond the x range in its end bins.
    Ticks are 1/2, powers of ten and their complements (``0.999``,
    ``1-10^-6``), as many as fit the axis without their labels touching.

    **Legend.** With several models on one axes, bands of one level get one
    grey legend entry ("90% consistency bands"); each band has its model's
    colour.

    References
    ----------
    .. [1] Dimitriadis, T., Gneiting, T., & Jordan, A. I. (2021). Stable
       reliability diagrams for probabilistic classifiers. PNAS, 118(8),
       e2016191118. doi:10.1073/pnas.2016191118
    .. [2] Bröcker, J., & Smith, L. A. (2007). Increasing the reliability of
       reliability diagrams. Weather and Forecasting, 22(3), 651-661.
       doi:10.1175/WAF993.1

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import numpy as np
    >>> from calibkit.plotting import ReliabilityDisplay
    >>> rng = np.random.default_rng(0)
    >>> p = rng.uniform(size=500)
    >>> y = rng.uniform(size=500) < p ** 2  # over-confident forecasts
    >>> disp = ReliabilityDisplay.from_predictions(y, p, name="model", n_bins=5)
    >>> np.array_equal(disp.line_.get_xdata(), disp.curve.forecast)
    True
    >>> corp = ReliabilityDisplay.from_predictions(
    ...     y, p, strategy="isotonic", name="CORP", ax=disp.ax_
    ... )
    >>> [t.get_text() for t in disp.ax_.get_legend().get_texts()]
    ['model', 'Perfectly calibrated', 'CORP']
    >>> plt.close(disp.figure_)
    """

    def __init__(
        self,
        curve,
        *,
        y_prob=None,
        sample_weight=None,
        name=None,
        pos_label=None,
        top_label=False,
    ):
        self.curve = curve
        self.y_prob = y_prob
        self.sample_weight = sample_weight
        self.name = name
        self.pos_label = pos_label
        self.top_label = top_label

    # --- constructors ---------------------------------------------------------

    @classmethod
    def from_predictions(
        cls,
        y_true,
        y_prob,
        *,
        sample_weight=None,
        strategy="uniform",
        n_bins=10,
        bands=None,
        n_resamples=1000,
        random_state=None,
        labels=None,
        pos_label=None,
        name=None,
        ax=None,
        hist=True,
        hist_bins=None,
        logit_scale=False,
        ref_line=True,
        **kwargs,
    ):
        """Reliability diagram of saved forecasts.

        Parameters
        ----------
        y_true : array-like of shape (n_samples,)
            Observed labels.
        y_prob : array-like of shape (n_samples,) or (n_samples, n_classes), or dict
            1-D: probability of the positive class. 2-D: one column per class;
            the top-label diagram (confidence against accuracy) is drawn. A
            mapping ``{name: forecasts}`` draws every model on one axes, one
            legend entry each (named by its key), in the colours of the axes'
            cycle (see Returns).
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights, for the curve and the histogram.
        strategy : {"uniform", "quantile", "isotonic", "smooth"}, default="uniform"
            Equal-width bins, equal-mass bins, the CORP isotonic curve, or
            the kernel-smoothed curve of the smooth ECE.
        n_bins : int, default=10
            Number of bins (ignored by ``"isotonic"``).
        bands : float or None, default=None
            Level of a consistency band, e.g. ``0.9``.
        n_resamples : int, default=1000
            Resamples behind the band.
        random_state : None, int or numpy.random.Generator, default=None
            Seed of the band's resamples.
        labels : array-like, default=None
            All class labels, when ``y_true`` does not contain every class.
        pos_label : label, default=None
            The class a 1-D ``y_prob`` refers to (default: the greater label).
        name : str, default=None
            Legend label of the curve. Not allowed with a mapping ``y_prob``,
            whose keys name the curves.
        ax : matplotlib.axes.Axes, default=None
            Axes to draw on (e.g. ``other_display.ax_`` to compare models);
            ``None`` makes a new figure.
        hist : bool, default=True
            Draw a histogram of the forecasts (see the class Notes).
        hist_bins : int or array-like, default=None
            Histogram bins: a number of equal-width bins (at most 10,000) or
            increasing edges. ``None``: the diagram's bins for
            ``strategy="uniform"`` with at most 10,000 bins, else 20 bins.
        logit_scale : bool, default=False
            Plot both axes on the log-odds scale.
        ref_line : bool, default=True
            Draw the diagonal of perfect calibration.
        **kwargs : dict
            Line2D properties of the curve, passed to
            :meth:`matplotlib.axes.Axes.plot` (see :meth:`plot`).

        Returns
        -------
        ReliabilityDisplay or dict of ReliabilityDisplay
            The display; for a mapping ``y_prob``, a dict ``{name: display}``
            in the mapping's order, every display on the same ``ax_`` (and
            histogram axes), each drawn exactly as a call with that model's
            forecasts alone and ``ax=`` the shared axes would draw it.

        Raises
        ------
        TypeError
            When ``ax`` is not a matplotlib Axes, or a keyword is not a
            property of a matplotlib line (checked before anything is drawn);
            for a mapping ``y_prob``, when a value is not an array of forecasts.
        ValueError
            For a mapping ``y_prob``: when it is empty or ``name`` is given.
            Every model's curve is computed before anything is drawn.

        Examples
        --------
        >>> import matplotlib.pyplot as plt
        >>> import numpy as np
        >>> from calibkit.plotting import ReliabilityDisplay
        >>> rng = np.random.default_rng(0)
        >>> p = rng.uniform(size=500)
        >>> y = rng.uniform(size=500) < p
        >>> models = {"raw": p, "squared": p**2}
        >>> drawn = ReliabilityDisplay.from_predictions(
        ...     y, models, bands=0.9, n_resamples=100, random_state=0
        ... )
        >>> ax = drawn["raw"].ax_
        >>> drawn["squared"].ax_ is ax
        True
        >>> [t.get_text() for t in ax.get_legend().get_texts()]
        ['raw', 'Perfectly calibrated', '90% consistency bands', 'squared']
        >>> plt.close(ax.figure)
        """
        check_axes(ax)
        check_hist_bins(hist_bins)
        check_line_kwargs(kwargs)
        options = {
            "sample_weight": sample_weight,
            "strategy": strategy,
            "n_bins": n_bins,
            "bands": bands,
            "n_resamples": n_resamples,
            "random_state": random_state,
            "labels": labels,
            "pos_label": pos_label,
        }
        drawing = {
            "hist": hist,
            "hist_bins": hist_bins,
            "logit_scale": logit_scale,
            "ref_line": ref_line,
            **kwargs,
        }
        if not is_model_mapping(y_prob):
            display = cls._undrawn(y_true, y_prob, name=name, **options)
            return display.plot(ax=ax, **drawing)
        models = model_mapping(y_prob, name)
        displays = {}
        for key, forecasts in models.items():
            with _naming_model(key):
                displays[key] = cls._undrawn(y_true, forecasts, name=key, **options)
        return _draw_on_one_axes(displays, ax, drawing)

    @classmethod
    def _undrawn(
        cls,
        y_true,
        y_prob,
        *,
        sample_weight,
        strategy,
        n_bins,
        bands,
        n_resamples,
        random_state,
        labels,
        pos_label,
        name,
    ):
        """The display of one model's forecasts, its curve computed, not drawn."""
        curve = reliability_curve(
            y_true,
            y_prob,
            strategy=strategy,
            n_bins=n_bins,
            sample_weight=sample_weight,
            labels=labels,
            pos_label=pos_label,
            bands=bands,
            n_resamples=n_resamples,
            random_state=random_state,
        )
        x, top_label = _x_axis_forecasts(y_prob)
        return cls(
            curve,
            y_prob=x,
            sample_weight=check_sample_weight(sample_weight, x.shape[0]),
            name=name,
            pos_label=None if top_label else _positive_class(y_true, labels, pos_label),
            top_label=top_label,
        )

    @classmethod
    def from_estimator(cls, estimator, X, y, *, pos_label=None, name=None, **kwargs):
        """Reliability diagram of a fitted classifier's ``predict_proba(X)``.

        Parameters
        ----------
        estimator : fitted classifier
            Any estimator with ``predict_proba`` and ``classes_`` (a
            scikit-learn classifier, a pipeline, a
            :class:`calibkit.CalibratedClassifier`, ...).
        X : array-like
            Inputs of ``estimator``.
        y : array-like of shape (n_samples,)
            Observed labels.
        pos_label : label, default=None
            Binary: the class whose probability is plotted (default
            ``classes_[1]``). Multiclass: ``None`` draws the top-label
            diagram, a class draws that class against the rest.
        name : str, default=None
            Legend label; default: the estimator's class name.
        **kwargs : dict
            Options of :meth:`from_predictions` (``strategy``, ``n_bins``,
            ``bands``, ``ax``, ``hist``, ``logit_scale``, ``sample_weight``, ...).

        Returns
        -------
        ReliabilityDisplay

        Examples
        --------
        >>> import matplotlib.pyplot as plt
        >>> from sklearn.datasets import load_breast_cancer
        >>> from sklearn.naive_bayes import GaussianNB
        >>> from calibkit.plotting import ReliabilityDisplay
        >>> X, y = load_breast_cancer(return_X_y=True)
        >>> model = GaussianNB().fit(X[::2], y[::2])
        >>> disp = ReliabilityDisplay.from_estimator(model, X[1::2], y[1::2])
        >>> disp.line_.get_label()
        'GaussianNB'
        >>> plt.close(disp.figure_)
        """
        y_prob, classes, pos_label = _estimator_forecasts(estimator, X, pos_label)
        if name is None:
            name = type(estimator).__name__
        return cls.from_predictions(
            y, y_prob, labels=classes, pos_label=pos_label, name=name, **kwargs
        )

    @classmethod
    def from_predictions_classwise(
        cls,
        y_true,
        y_prob,
        *,
        sample_weight=None,
        labels=None,
        strategy="uniform",
        n_bins=10,
        bands=None,
        n_resamples=1000,
        random_state=None,
        name=None,
        axes=None,
        ncols=None,
        hist=True,
        hist_bins=None,
        logit_scale=False,
        **kwargs,
    ):
        """A grid of class-wise reliability diagrams, one small diagram per class.

        Diagram k plots ``y_prob[:, k]`` against the frequency of class k
        (one-vs-rest).

        Parameters
        ----------
        y_true : array-like of shape (n_samples,)
            Observed labels.
        y_prob : array-like of shape (n_samples, n_classes)
            One column per class, in the order of ``labels`` (or of the sorted
            labels of ``y_true``).
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights, for the curves and the histograms.
        labels : array-like, default=None
            All class labels; the columns of ``y_prob`` are in their sorted
            order (as in scikit-learn), whatever order they are listed in.
        strategy : {"uniform", "quantile", "isotonic", "smooth"}, default="uniform"
            Equal-width bins, equal-mass bins, the CORP isotonic curve, or
            the kernel-smoothed curve of the smooth ECE.
        n_bins : int, default=10
            Number of bins (ignored by ``"isotonic"``).
        bands : float or None, default=None
            Level of a consistency band around each diagonal, e.g. ``0.9``.
        n_resamples : int, default=1000
            Resamples behind the bands.
        random_state : None, int or numpy.random.Generator, default=None
            Seed of the bands' resamples.
        name : str, default=None
            Legend label of the curves (shown in the first diagram).
        axes : array-like of matplotlib.axes.Axes, default=None
            One axes per class (histograms then go in insets); ``None`` makes
            a new figure with a grid of diagrams.
        ncols : int, default=None
            Columns of the grid; default: one row up to 4 classes, else about
            ``sqrt(n_classes)``.
        hist : bool, default=True
            Draw a histogram of each class's forecasts.
        hist_bins : int or array-like, default=None
            Histogram bins, as in :meth:`from_predictions`.
        logit_scale : bool, default=False
            Plot both axes of every diagram on the log-odds scale.
        **kwargs : dict
            Line2D properties of the curves, passed to
            :meth:`matplotlib.axes.Axes.plot` (see :meth:`plot`).

        Returns
        -------
        list of ReliabilityDisplay
            One display per class, in class order, sharing one figure.

        Examples
        --------
        >>> import matplotlib.pyplot as plt
        >>> import numpy as np
        >>> from calibkit.plotting import ReliabilityDisplay
        >>> rng = np.random.default_rng(0)
        >>> p = rng.dirichlet([1, 1, 1], size=300)
        >>> drawn = (rng.uniform(size=(300, 1)) > p.cumsum(axis=1)).sum(axis=1)
        >>> y = np.array(["a", "b", "c"])[drawn]
        >>> grid = ReliabilityDisplay.from_predictions_classwise(y, p, n_bins=5)
        >>> [d.ax_.get_title() for d in grid]
        ['class a', 'class b', 'class c']
        >>> plt.close(grid[0].figure_)
        """
        check_hist_bins(hist_bins)
        check_line_kwargs(kwargs)
        forecasts = check_forecasts(
            y_true, y_prob, sample_weight=sample_weight, labels=labels
        )
        if forecasts.is_binary:
            msg = (
                "y_prob must be 2-D (one column per class) for a class-wise grid; "
                f"got shape {forecasts.prob.shape}. For a 1-D binary forecast use "
                "from_predictions."
            )
            raise ValueError(msg)
        classes = forecasts.classes
        panels = _classwise_axes(axes, len(classes), ncols, hist)
        displays = []
        for k, (label, (main_ax, hist_ax)) in enumerate(
            zip(classes, panels, strict=True)
        ):
            curve = reliability_curve(
                y_true,
                forecasts.prob[:, k],
                strategy=strategy,
                n_bins=n_bins,
                sample_weight=sample_weight,
                labels=classes,
                pos_label=label,
                bands=bands,
                n_resamples=n_resamples,
                random_state=random_state,
            )
            display = cls(
                curve,
                y_prob=forecasts.prob[:, k],
                sample_weight=forecasts.sample_weight,
                name=name,
                pos_label=label,
            )
            display._draw(
                main_ax,
                hist_ax,
                hist_bins=hist_bins,
                logit_scale=logit_scale,
                ref_line=True,
                legend=k == 0,
                xlabel="Predicted probability",
                **kwargs,
            )
            main_ax.set_title(f"class {format_label(label)}")
            displays.append(display)
        return displays

    @classmethod
    def from_predictions_by_group(
        cls,
        y_true,
        y_prob,
        *,
        groups,
        X=None,
        bins=None,
        n_groups=5,
        sample_weight=None,
        labels=None,
        pos_label=None,
        strategy="uniform",
        n_bins=10,
        bands=None,
        n_resamples=1000,
        random_state=None,
        name=None,
        axes=None,
        ncols=None,
        hist=True,
        hist_bins=None,
        logit_scale=False,
        **kwargs,
    ):
        """A grid of diagrams, one per group of rows (small multiples).

        Diagram g is :meth:`from_predictions` of the rows of group g, titled
        with the group and its number of rows; the groups are those of
        :func:`calibkit.metrics.calibration_by_group`.

        Parameters
        ----------
        y_true : array-like of shape (n_samples,)
            Observed labels.
        y_prob : array-like of shape (n_samples,) or (n_samples, n_classes)
            1-D: probability of the positive class (every group is drawn for
            the same class, even a group where only one class occurs). 2-D:
            the top-label diagram of each group.
        groups : array-like of shape (n_samples,) or str
            Group labels, a numeric feature (with ``bins``), or the name of a
            column of ``X``.
        X : pandas.DataFrame or polars.DataFrame, default=None
            The table that ``groups`` names a column of.
        bins : {"quantile", "uniform"} or None, default=None
            Cut a numeric ``groups`` into ``n_groups`` bins of equal weight or
            width; ``None`` takes each distinct value as a group.
        n_groups : int, default=5
            Number of bins, with ``bins``.
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights, for the curves and the histograms.
        labels : array-like, default=None
            All class labels, when ``y_true`` does not contain every class.
        pos_label : label, default=None
            The class a 1-D ``y_prob`` refers to (default: the greater label).
        strategy : {"uniform", "quantile", "isotonic", "smooth"}, default="uniform"
            Equal-width bins, equal-mass bins, the CORP isotonic curve, or
            the kernel-smoothed curve of the smooth ECE.
        n_bins : int, default=10
            Number of bins (ignored by ``"isotonic"``).
        bands : float or None, default=None
            Level of a consistency band in each diagram, e.g. ``0.9``.
        n_resamples : int, default=1000
            Resamples behind each band.
        random_state : None, int or numpy.random.Generator, default=None
            Seed of the bands' resamples (one generator for all groups).
        name : str, default=None
            Legend label of the curves (shown in the first diagram).
        axes : array-like of matplotlib.axes.Axes, default=None
            One axes per group (histograms then go in insets); ``None`` makes
            a new figure with a grid of diagrams.
        ncols : int, default=None
            Columns of the grid; default: one row up to 4 groups, else about
            ``sqrt(n_groups)``.
        hist : bool, default=True
            Draw a histogram of each group's forecasts.
        hist_bins : int or array-like, default=None
            Histogram bins, as in :meth:`from_predictions`.
        logit_scale : bool, default=False
            Plot both axes of every diagram on the log-odds scale.
        **kwargs : dict
            Line2D properties of the curves, passed to
            :meth:`matplotlib.axes.Axes.plot` (see :meth:`plot`).

        Returns
        -------
        list of ReliabilityDisplay
            One display per group, in the order of the groups (sorted labels,
            or increasing bins), sharing one figure.

        Raises
        ------
        ValueError
            For a bad ``groups`` (unknown column, missing values, wrong
            length, a single group, a group whose rows all have weight 0), as
            in :func:`~calibkit.metrics.calibration_by_group`.

        Examples
        --------
        >>> import matplotlib.pyplot as plt
        >>> import numpy as np
        >>> from calibkit.plotting import ReliabilityDisplay
        >>> rng = np.random.default_rng(0)
        >>> p = rng.uniform(size=400)
        >>> region = rng.choice(["north", "south"], size=400)
        >>> y = rng.uniform(size=400) < np.where(region == "south", p**2, p)
        >>> grid = ReliabilityDisplay.from_predictions_by_group(
        ...     y, p, groups=region, n_bins=5
        ... )
        >>> [d.ax_.get_title() for d in grid]
        ['north (n = 195)', 'south (n = 205)']
        >>> plt.close(grid[0].figure_)
        """
        from calibkit.plotting._groups import displays_by_group

        return displays_by_group(
            cls,
            y_true,
            y_prob,
            groups=groups,
            X=X,
            bins=bins,
            n_groups=n_groups,
            sample_weight=sample_weight,
            labels=labels,
            pos_label=pos_label,
            strategy=strategy,
            n_bins=n_bins,
            bands=bands,
            n_resamples=n_resamples,
            random_state=random_state,
            name=name,
            axes=axes,
            ncols=ncols,
            hist=hist,
            hist_bins=hist_bins,
            logit_scale=logit_scale,
            **kwargs,
        )

    # --- drawing --------------------------------------------------------------

    @keyword_only_ax
    def plot(
        self,
        *,
        ax=None,
        name=None,
        hist=True,
        hist_bins=None,
        logit_scale=False,
        ref_line=True,
        **kwargs,
    ):
        """Draw the diagram.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, default=None
            Axes to draw on; ``None`` makes a new figure (with a histogram
            axes below when ``hist`` is true).
        name : str, default=None
            Legend label; default: the display's ``name``.
        hist : bool, default=True
            Draw a histogram of the forecasts (needs ``y_prob``).
        hist_bins : int or array-like, default=None
            Number of equal-width bins (at most 10,000), or increasing bin
            edges (see the class Notes).
        logit_scale : bool, default=False
            Plot both axes on the log-odds scale.
        ref_line : bool, default=True
            Draw the diagonal (once per axes).
        **kwargs : dict
            Passed to :meth:`matplotlib.axes.Axes.plot` for the curve: Line2D
            properties, aliases included (``c``, ``lw``, ``ms``), which
            override the display's style. ``xdata``, ``ydata``, ``data``,
            ``axes``, ``figure`` and ``transform`` raise a TypeError.

        Returns
        -------
        ReliabilityDisplay
            ``self``, with ``ax_``, ``figure_``, ``line_`` and the other
            artists set.
        """
        # Every option is checked before a figure or artist is made.
        check_axes(ax)
        hist_bins = check_hist_bins(hist_bins)
        check_line_kwargs(kwargs)
        main_ax, hist_ax = _diagram_axes(ax, hist and self.y_prob is not None)
        return self._draw(
            main_ax,
            hist_ax,
            name=name,
            hist_bins=hist_bins,
            logit_scale=logit_scale,
            ref_line=ref_line,
            **kwargs,
        )

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
        name = self.name if name is None else name
        # A model added to a logit diagram is drawn on the same scale.
        logit_scale = logit_scale or main_ax.get_xscale() == "logit"
        curve = self.curve
        isotonic = curve.strategy == "isotonic"
        x, y = _corp_polyline(curve) if isotonic else (curve.forecast, curve.observed)
        style = {"label": "Reliability curve" if name is None else name}
        if not isotonic and curve.strategy != "smooth":
            style.update(marker="o", markersize=4)
        (self.line_,) = main_ax.plot(x, y, **line_style(style, kwargs))
        color = self.line_.get_color()

        # Limits first, scale second: switching to a logit scale autoscales
        # any axis that still has autoscaling on, and matplotlib's autoscale
        # warns when every point is 0 or 1 and overflows on forecasts like
        # 1e-300. Fixed limits (which turn autoscaling off, on the shared
        # histogram axis too) leave it nothing to do.
        xlim, ylim = self._limits(main_ax, logit_scale)
        main_ax.set_xlim(xlim)
        main_ax.set_ylim(ylim)
        if logit_scale:
            for axes in (main_ax, hist_ax):
                if axes is not None:
                    axes.set_xscale("logit")
            main_ax.set_yscale("logit")
            set_logit_ticks(*[a for a in (main_ax, hist_ax) if a is not None])
        self.ref_line_ = _diagonal(main_ax, xlim, ylim, ref_line)
        self.band_ = self._band(main_ax, color, ylim if logit_scale else None)

        self.hist_ = None
        if hist_ax is not None:
            inset = hist_ax in main_ax.child_axes
            self.hist_ = self._histogram(
                hist_ax, hist_bins, xlim, logit_scale, color, inset
            )
        self.hist_ax_ = hist_ax

        self._label_axes(main_ax, hist_ax, xlabel)
        if legend:
            _legend(main_ax)
        self.ax_ = main_ax
        self.figure_ = root_figure(main_ax)
        return self

    def _band(self, ax, color, clip):
        curve = self.curve
        if curve.lower is None:
            return None
        lower, upper = curve.lower, curve.upper
        if clip is not None:
            # A logit axis cannot show 0 or 1: run the band to the axis edge
            # instead of leaving holes in it.
            lower, upper = np.clip(lower, *clip), np.clip(upper, *clip)
        return ax.fill_between(
            curve.forecast,
            lower,
            upper,
            color=color,
            alpha=0.2,
            linewidth=0,
            label=f"{curve.level:.0%} consistency band",
            gid=BAND_GID,
        )

    def _limits(self, ax, logit_scale):
        """x and y limits: [0, 1] padded, or logit ranges from the data."""
        if not logit_scale:
            return _LINEAR_LIMITS, _LINEAR_LIMITS
        curve = self.curve
        x_values = [curve.forecast]
        if self.y_prob is not None:
            # The bulk of the forecasts, not a few extreme ones, sets the range.
            forecasts = np.asarray(self.y_prob, dtype=np.float64)
            forecasts = forecasts[(forecasts > 0) & (forecasts < 1)]
            if forecasts.size:
                x_values.append(np.quantile(forecasts, [0.005, 0.995]))
        y_values = [curve.observed]
        if curve.lower is not None:
            y_values += [curve.lower, curve.upper]
        x_range = _logit_range(x_values, ax.get_xlim(), ax.get_autoscalex_on())
        y_range = _logit_range(y_values, ax.get_ylim(), ax.get_autoscaley_on())
        return x_range, y_range

    def _histogram(self, hist_ax, hist_bins, limits, logit_scale, color, inset):
        edges = _histogram_edges(self.curve, hist_bins, limits, logit_scale)
        # Forecasts beyond the axis (0 and 1 on a logit axis) count in the
        # end bins, so that the histogram always shows every row.
        values = np.clip(self.y_prob, edges[0], edges[-1])
        heights, _ = np.histogram(values, bins=edges, weights=self.sample_weight)
        # Lighter in an inset, where the bars lie behind the curves.
        alpha = 0.15 if inset else 0.3
        filled = hist_ax.stairs(
            heights, edges, fill=True, color=color, alpha=alpha, linewidth=0
        )
        # No outline over empty bins: a line along the bottom of the diagram,
        # left of the lowest forecast, reads as part of the curve.
        outline = np.where(heights > 0, heights, np.nan)
        hist_ax.stairs(outline, edges, color=color, linewidth=1)
        return filled

    def _label_axes(self, main_ax, hist_ax, xlabel):
        if xlabel is None:
            xlabel = _x_label(self.top_label, self.pos_label)
        main_ax.set_ylabel(
            "Observed accuracy" if self.top_label else "Observed frequency"
        )
        if hist_ax is None or hist_ax in main_ax.child_axes:
            main_ax.set_xlabel(xlabel)
            return
        hist_ax.set_xlabel(xlabel)
        hist_ax.set_ylabel("Weight" if self.sample_weight is not None else "Count")


# --- inputs -------------------------------------------------------------------


def _x_axis_forecasts(y_prob):
    """The forecasts a diagram puts on its x axis, and whether it is top-label."""
    prob = check_float_array(to_numpy(y_prob), name="y_prob")
    # The curve's own check has warned already about renormalised rows.
    prob = check_probabilities(prob, name="y_prob", warn=False)
    if prob.ndim == 1:
        return prob, False
    return top_label(prob)[1], True


def model_mapping(y_prob, name):
    """``{name: forecasts}`` checked: not empty, arrays only, no ``name``.

    Values are checked for being arrays here, before any curve is computed;
    their contents by the metric, one model at a time.
    """
    if name is not None:
        msg = (
            f"name={name!r} cannot be given with a mapping y_prob: the "
            "mapping's keys name the models."
        )
        raise ValueError(msg)
    if not y_prob:
        msg = "y_prob is an empty mapping; give at least one model's forecasts."
        raise ValueError(msg)
    for key, forecasts in y_prob.items():
        ndim = getattr(forecasts, "ndim", None)
        if ndim is None and not isinstance(forecasts, (str, bytes, Mapping)):
            ndim = np.ndim(forecasts)
        if not ndim:
            msg = (
                f"y_prob[{key!r}] must be an array of forecasts (1-D or 2-D); "
                f"got {type(forecasts).__name__}."
            )
            raise TypeError(msg)
    return dict(y_prob)


@contextlib.contextmanager
def _naming_model(key):
    """Errors raised for one model of a mapping say which model it was."""
    try:
        yield
    except (TypeError, ValueError) as error:
        error.add_note(f"(in the forecasts of model {key!r} of y_prob)")
        raise


def _draw_on_one_axes(displays, ax, drawing):
    """Draw ``{name: display}`` on one axes, the first one making it if needed."""
    shared = ax
    for display in displays.values():
        display.plot(ax=shared, **drawing)
        shared = display.ax_
    return displays


def _positive_class(y_true, labels, pos_label):
    if pos_label is not None:
        return pos_label
    classes, _ = encode_labels(y_true, classes=labels, name="y_true")
    return classes[-1]


def _estimator_forecasts(estimator, X, pos_label):
    """``predict_proba`` of a fitted classifier, as a diagram's ``y_prob``."""
    if not hasattr(estimator, "predict_proba"):
        msg = (
            "estimator must be a fitted classifier with predict_proba; "
            f"{type(estimator).__name__} has no predict_proba."
        )
        raise TypeError(msg)
    check_is_fitted(estimator)
    proba = np.asarray(estimator.predict_proba(X))
    classes = np.asarray(estimator.classes_)
    if proba.shape[1] == 2 and pos_label is None:
        pos_label = classes[1]
    if pos_label is None:
        return proba, classes, None
    column = np.flatnonzero(classes == pos_label)
    if column.size == 0:
        msg = f"pos_label={pos_label!r} is not one of the classes {classes.tolist()}."
        raise ValueError(msg)
    return proba[:, column[0]], classes, pos_label


# --- geometry -----------------------------------------------------------------


def _corp_polyline(curve):
    """Ends of each PAV block: flat within blocks, linear between them."""
    starts = curve.block_starts
    first, last = starts[:-1], starts[1:] - 1
    x = np.column_stack([curve.forecast[first], curve.forecast[last]]).ravel()
    y = np.repeat(curve.observed[first], 2)
    return x, y


def _histogram_edges(curve, hist_bins, limits, logit_scale):
    if hist_bins is not None and not np.isscalar(hist_bins):
        return np.asarray(hist_bins, dtype=np.float64)
    default_to_curve = hist_bins is None and curve.strategy == "uniform"
    if default_to_curve and not logit_scale and curve.n_bins <= MAX_HIST_BINS:
        return curve.bin_edges
    n_bins = _DEFAULT_HIST_BINS if hist_bins is None else int(hist_bins)
    if logit_scale:
        return expit(np.linspace(logit(limits[0]), logit(limits[1]), n_bins + 1))
    return np.linspace(0.0, 1.0, n_bins + 1)


def _diagonal(ax, xlim, ylim, draw):
    """The diagonal of ``ax`` (made once, stretched across both ranges)."""
    ends = (min(xlim[0], ylim[0]), max(xlim[1], ylim[1]))
    for line in ax.get_lines():
        if line.get_gid() == DIAGONAL_GID:
            line.set_data(ends, ends)
            return line
    if not draw:
        return None
    (line,) = ax.plot(
        ends,
        ends,
        linestyle="--",
        linewidth=1,
        color="0.45",
        label="Perfectly calibrated",
        gid=DIAGONAL_GID,
    )
    return line


def _logit_range(values, earlier, autoscale):
    """Limits of a logit axis around ``values`` (those strictly inside (0, 1)).

    The range spans the values, clamped to [1e-12, 1 - 1e-12], padded by 5% of
    its width in log-odds (at least 0.5 either side of a single value);
    without such values it is 0.01 .. 0.99. Limits fixed by an earlier display
    on the same axes stay in view.
    """
    values = np.concatenate([np.ravel(v) for v in values])
    values = values[(values > 0) & (values < 1)]
    if values.size:
        values = np.clip(values, _LOGIT_FLOOR, 1.0 - _LOGIT_FLOOR)
        low, high = logit(float(values.min())), logit(float(values.max()))
    else:
        low, high = logit(0.01), logit(0.99)
    pad = max(_LOGIT_PAD * (high - low), _LOGIT_MIN_HALF_WIDTH - (high - low) / 2)
    low, high = float(expit(low - pad)), float(expit(high + pad))
    if not autoscale and 0 < earlier[0] < earlier[1] < 1:
        low, high = min(low, earlier[0]), max(high, earlier[1])
    return low, high


def _legend(ax):
    """The legend of ``ax``, each level of consistency band listed once.

    Bands of several models are told apart by colour; one grey entry stands
    for all of them instead of one entry per model.
    """
    from matplotlib.patches import Patch

    handles, labels = ax.get_legend_handles_labels()
    bands = {}
    for handle, label in zip(handles, labels, strict=True):
        if getattr(handle, "get_gid", lambda: None)() == BAND_GID:
            bands.setdefault(label, []).append(handle)
    kept_handles, kept_labels, listed = [], [], set()
    for handle, label in zip(handles, labels, strict=True):
        if label in bands:
            if label in listed:
                continue
            listed.add(label)
            if len(bands[label]) > 1:
                handle = Patch(facecolor="0.5", alpha=0.3, linewidth=0)
                label = label.replace("band", "bands")
        kept_handles.append(handle)
        kept_labels.append(label)
    return ax.legend(kept_handles, kept_labels, loc="upper left", fontsize="small")


def _x_label(top_label, pos_label):
    if top_label:
        return "Confidence (probability of the predicted class)"
    if pos_label is None:
        return "Predicted probability"
    return f"Predicted probability of class {format_label(pos_label)}"


# --- axes ---------------------------------------------------------------------


def _diagram_axes(ax, hist):
    """(main axes, histogram axes or None) for one display."""
    if ax is None:
        figure = new_figure(_SINGLE_SIZE if hist else (_SINGLE_SIZE[0],) * 2)
        return _add_diagram_axes(figure, hist)
    if not hist:
        return ax, None
    hist_ax = _HISTOGRAM_AXES.get(ax)
    if hist_ax is None:
        hist_ax = _inset_histogram_axes(ax)
    return ax, hist_ax


def _add_diagram_axes(parent, hist):
    """Diagram axes, with a shorter histogram axes below, in a (sub)figure."""
    if not hist:
        return parent.subplots(), None
    main_ax, hist_ax = parent.subplots(2, 1, sharex=True, height_ratios=(4, 1))
    _HISTOGRAM_AXES[main_ax] = hist_ax
    return main_ax, hist_ax


def _inset_histogram_axes(ax):
    """A histogram in the bottom of a user's axes, drawn behind the curves."""
    inset = ax.inset_axes([0.0, 0.0, 1.0, _INSET_HEIGHT], sharex=ax)
    inset.set_zorder(0.5)  # below lines (2) and bands (1) of the parent axes
    inset.patch.set_alpha(0.0)
    inset.axis("off")
    _HISTOGRAM_AXES[ax] = inset
    return inset


def _classwise_axes(axes, n_classes, ncols, hist, what="class"):
    """One (main axes, histogram axes) pair per class (or per group)."""
    if axes is not None:
        axes = np.ravel(np.asarray(axes, dtype=object))
        for i, ax in enumerate(axes):
            check_axes(ax, name=f"axes[{i}]")
        if axes.shape[0] != n_classes:
            msg = (
                f"axes must hold one Axes per {what} ({n_classes}); got "
                f"{axes.shape[0]}."
            )
            raise ValueError(msg)
        return [_diagram_axes(ax, hist) for ax in axes]
    if ncols is None:
        ncols = n_classes if n_classes <= 4 else math.ceil(math.sqrt(n_classes))
    nrows = math.ceil(n_classes / ncols)
    width, height = _PANEL_SIZE
    if not hist:
        height = width
    figure = new_figure((width * ncols, height * nrows))
    cells = figure.subfigures(nrows, ncols, squeeze=False).ravel()
    return [_add_diagram_axes(cell, hist) for cell in cells[:n_classes]]

"""Expected calibration error and reliability curves (binned and CORP).

A reliability curve pairs forecasts with observed frequencies: points near the
diagonal mean a calibrated forecast. Binned curves average within bins; the CORP
curve (``strategy="isotonic"``) recalibrates by isotonic regression, which
needs no binning choice. The expected calibration error (ECE) summarises a
binned curve by the weighted distance of its points from the diagonal.

Everything here is a pass over rows (bins by ``np.bincount`` with weights) or a
sort (equal-mass bins, PAV); no plotting library is imported.
"""

import functools
import numbers
import warnings
from dataclasses import dataclass

import numpy as np

from calibkit._array_api import (
    host_float64,
    is_on_device,
    top_label_outcomes,
    uniform_bin_totals,
)
from calibkit._chunks import as_float64, reduce_rows
from calibkit._pav import isotonic_fit, pav, pool_ties
from calibkit._results import Result
from calibkit._validation import (
    count,
    external_stacklevel,
    interval,
    options,
    validate_params,
)
from calibkit.exceptions import CalibrationWarning
from calibkit.metrics._binning import Binning
from calibkit.metrics._inputs import (
    FORECAST_CONSTRAINTS,
    as_probabilities,
    check_forecasts,
)
from calibkit.metrics._kernels import (
    bin_totals,
    positive_weight_rows,
    top_label,
    weight_rows,
    weighted,
)
from calibkit.metrics._many import is_model_mapping, per_model
from calibkit.metrics._smooth import smooth_curve

__all__ = ["ReliabilityCurve", "expected_calibration_error", "reliability_curve"]

# Elements (resamples x rows) drawn per block when computing consistency bands.
_RESAMPLE_BLOCK = 1 << 21


#: Default number of bins of every binned metric (ECE, reliability curves,
#: binned decompositions, Hosmer-Lemeshow groups).
N_BINS = 10


@dataclass(frozen=True, eq=False, repr=False)
class ReliabilityCurve(Result):
    """Points of a reliability diagram, as returned by :func:`reliability_curve`.

    Attributes
    ----------
    forecast : ndarray of shape (n_points,)
        Binned strategies: weighted mean forecast in each non-empty bin.
        ``"isotonic"``: each distinct forecast value, increasing.
        ``"smooth"``: points of a uniform grid on [0, 1] where the smoothed
        density of the forecasts is not negligible.
    observed : ndarray of shape (n_points,)
        Binned strategies: weighted observed frequency in each bin.
        ``"isotonic"``: the PAV recalibrated value c at each forecast (the
        conditional event probability estimate of the CORP diagram).
        ``"smooth"``: the forecast minus the kernel-smoothed residual
        (Błasiok & Nakkiran, 2023), so that its mean distance from the
        diagonal, weighted by ``weight``, is the smooth ECE. Near 0 and 1,
        where the kernel-weighted mean forecast differs from the grid point,
        it can leave [0, 1], by up to about the bandwidth (``relplot`` draws
        the kernel-smoothed outcomes instead, which stay inside).
    weight : ndarray of shape (n_points,)
        Total sample weight of each point (``"smooth"``: the smoothed
        density of the forecasts times the total weight and the grid step).
    count : ndarray of shape (n_points,) or None
        Number of rows (with positive weight) of each point; ``None`` for
        ``"smooth"``.
    bin_lower, bin_upper : ndarray of shape (n_points,) or None
        Edges of the bin of each point, ``[bin_lower, bin_upper)`` (the last
        bin closed). ``None`` for ``"isotonic"``.
    bin_index : ndarray of shape (n_points,) or None
        Bin number of each point, from 0 to ``n_bins - 1``; ``None`` for
        ``"isotonic"``.
    n_bins : int or None
        Number of bins, empty ones included (for ``"quantile"``, after tied
        edges were merged); ``None`` for ``"isotonic"``. Only non-empty bins
        are stored, so ``n_bins`` may be far above the number of rows at no
        cost.
    block_starts : ndarray of shape (n_blocks + 1,) or None
        ``"isotonic"`` only: index of the first point of each constant block
        of ``observed`` (last entry ``n_points``), to draw the step graph.
    lower, upper : ndarray of shape (n_points,) or None
        Consistency band: the range that ``observed`` falls in with
        probability ``level`` at each point if the forecast is calibrated.
        ``None`` without bands.
    strategy : str
        ``"uniform"``, ``"quantile"``, ``"isotonic"`` or ``"smooth"``.
    level : float or None
        Coverage of the band.
    n_resamples : int or None
        Number of resamples behind the band.
    bandwidth : float or None
        ``"smooth"`` only: the kernel bandwidth (automatic or given).

    Examples
    --------
    >>> from calibkit.metrics import reliability_curve
    >>> curve = reliability_curve([0, 1, 1, 1], [0.2, 0.4, 0.7, 0.9], n_bins=2)
    >>> curve
    ReliabilityCurve(strategy='uniform', n_points=2)
    >>> curve.to_frame()[["forecast", "observed", "count"]]
       forecast  observed  count
    0       0.3       0.5      2
    1       0.8       1.0      2
    """

    forecast: np.ndarray
    observed: np.ndarray
    weight: np.ndarray
    count: np.ndarray
    bin_lower: np.ndarray | None
    bin_upper: np.ndarray | None
    bin_index: np.ndarray | None
    n_bins: int | None
    block_starts: np.ndarray | None
    lower: np.ndarray | None
    upper: np.ndarray | None
    strategy: str
    level: float | None
    n_resamples: int | None
    bandwidth: float | None = None

    _table_fields = (
        "forecast",
        "observed",
        "weight",
        "count",
        "bin_lower",
        "bin_upper",
        "lower",
        "upper",
    )

    def __repr__(self):
        band = "" if self.level is None else f", level={self.level!r}"
        return (
            f"ReliabilityCurve(strategy={self.strategy!r}, "
            f"n_points={self.forecast.shape[0]}{band})"
        )

    @property
    def bin_edges(self):
        """Edges of all bins, empty ones included (``n_bins + 1`` values), or
        ``None`` for ``"isotonic"``. Built on access: for ``"uniform"`` it is
        ``np.linspace(0, 1, n_bins + 1)``, as large as ``n_bins``."""
        if self.n_bins is None:
            return None
        if self.strategy == "uniform":
            return np.linspace(0.0, 1.0, self.n_bins + 1)
        # Equal-mass bins start at a forecast, so none is empty.
        return np.concatenate([self.bin_lower, self.bin_upper[-1:]])

    def to_frame(self):
        """The points as a pandas DataFrame, one row per point.

        Columns: ``forecast``, ``observed``, ``weight``, ``count``; for binned
        strategies ``bin_lower`` and ``bin_upper``; with bands ``lower`` and
        ``upper``.

        Returns
        -------
        pandas.DataFrame
            One row per point of the curve.
        """
        return super().to_frame()


@validate_params(
    {
        **FORECAST_CONSTRAINTS,
        "n_bins": [count()],
        "strategy": [options({"uniform", "quantile"})],
        "norm": [options({"l1", "l2", "max"})],
        "multiclass": [options({"top_label", "classwise"})],
        "debias": ["boolean"],
    }
)
def expected_calibration_error(
    y_true,
    y_prob,
    *,
    n_bins=N_BINS,
    strategy="uniform",
    norm="l1",
    multiclass="top_label",
    debias=False,
    sample_weight=None,
    labels=None,
    pos_label=None,
    input="probabilities",
):
    """Binned expected calibration error (ECE), top-label or class-wise.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Observed labels.
    y_prob : array-like of shape (n_samples,) or (n_samples, n_classes)
        1-D: probability of the positive class (the rows ``(1 - p, p)``).
        2-D: one column per class, rows summing to 1.
    n_bins : int, default=10
        Number of bins (10 in every binned function of calibkit).
    strategy : {"uniform", "quantile"}, default="uniform"
        ``"uniform"``: edges ``np.linspace(0, 1, n_bins + 1)``. ``"quantile"``:
        equal-mass bins, edges at weighted quantiles of the binned forecast
        (tied forecasts stay in one bin, so there may be fewer bins).
    norm : {"l1", "l2", "max"}, default="l1"
        Distance of the bins from the diagonal (see Notes).
    multiclass : {"top_label", "classwise"}, default="top_label"
        ``"top_label"``: calibration of the confidence in the predicted class
        (Guo et al., 2017). ``"classwise"``: the average over classes of the
        ECE of each column ``p_k`` against ``1{y = k}``. The default differs
        from :func:`decompose`'s on purpose: "ECE" in the literature and in
        other libraries means the top-label error, while a decomposition of
        the multiclass score must look at every column.
    debias : bool, default=False
        With ``norm="l2"`` only: Kumar et al.'s debiased estimate (see Notes).
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative row weights, read as counts (integer weights equal
        repeated rows); rows with zero weight are ignored.
    labels : array-like, default=None
        All class labels, when ``y_true`` does not contain every class.
    pos_label : label, default=None
        The class a 1-D ``y_prob`` refers to; with more than two classes in
        ``y_true``, that class against the rest.
    input : {"probabilities", "logits"}, default="probabilities"
        What ``y_prob`` holds; logits are binned through their softmax (1-D
        log-odds through the sigmoid).

    Returns
    -------
    float
        The calibration error, in probability units (no logarithms).

    Notes
    -----
    Top-label: each row contributes its confidence :math:`x_i = \\max_k
    p_{ik}` and whether the arg-max class was observed, :math:`t_i` (ties go
    to the first class, so a binary 0.5 predicts the negative class).
    Class-wise, column k contributes :math:`x_i = p_{ik}` and :math:`t_i =
    1\\{y_i = k\\}`. Bins are :math:`[e_b, e_{b+1})`, the last one closed.
    With bin weights :math:`W_b`, mean forecasts :math:`\\bar x_b` and
    observed frequencies :math:`\\bar t_b`, :math:`W = \\sum_b W_b`:

    - ``"l1"``: :math:`\\sum_b (W_b/W)\\,|\\bar t_b - \\bar x_b|` (Naeini et
      al., 2015; Guo et al., 2017);
    - ``"l2"``: :math:`\\sqrt{\\sum_b (W_b/W)(\\bar t_b - \\bar x_b)^2}`;
    - ``"max"``: :math:`\\max_b |\\bar t_b - \\bar x_b|` over non-empty bins.

    ``debias=True`` (Kumar, Liang & Ma, 2019) removes the sampling bias of the
    squared L2 error: :math:`\\sqrt{\\max(0, \\sum_b (W_b/W)[(\\bar t_b -
    \\bar x_b)^2 - \\bar t_b(1 - \\bar t_b)/(W_b - 1)])}`, where bins with
    :math:`W_b < 2` (fewer than two rows) contribute 0, as in the authors'
    code. Weights count rows there; a warning is given when a bin weighs less
    than 1. Class-wise with ``"l2"`` averages the per-class roots (not the
    root of the mean square). Binned estimates depend on ``n_bins`` and
    underestimate the calibration error of continuous forecasts.

    Array API inputs (torch, CuPy, ... with :func:`calibkit.config_context`):
    top-label (or binary) equal-width bins, weighted or not, are counted on
    the input's device. Sorting-based methods move data to the host:
    equal-mass bins bring the top-label confidence and correctness (two
    numbers per row), and ``multiclass="classwise"`` the columns.

    References
    ----------
    .. [1] Naeini, M. P., Cooper, G. F., & Hauskrecht, M. (2015). Obtaining
       well calibrated probabilities using Bayesian binning. AAAI 29.
       doi:10.1609/aaai.v29i1.9602
    .. [2] Guo, C., Pleiss, G., Sun, Y., & Weinberger, K. Q. (2017). On
       calibration of modern neural networks. ICML.
       doi:10.48550/arXiv.1706.04599
    .. [3] Kumar, A., Liang, P., & Ma, T. (2019). Verified uncertainty
       calibration. NeurIPS. doi:10.48550/arXiv.1909.10155

    Examples
    --------
    >>> from calibkit.metrics import expected_calibration_error
    >>> y = [0, 1, 1, 0]
    >>> round(expected_calibration_error(y, [0.1, 0.8, 0.6, 0.3], n_bins=5), 4)
    0.25
    >>> p = [[0.7, 0.2, 0.1], [0.1, 0.6, 0.3], [0.2, 0.2, 0.6]]
    >>> ece = expected_calibration_error([0, 1, 1], p, n_bins=10, labels=[0, 1, 2])
    >>> round(ece, 4)
    0.1667
    """
    if is_model_mapping(y_prob):  # {name: forecasts}: one row per model
        return per_model(
            expected_calibration_error,
            y_true,
            y_prob,
            n_bins=n_bins,
            strategy=strategy,
            norm=norm,
            multiclass=multiclass,
            debias=debias,
            sample_weight=sample_weight,
            labels=labels,
            pos_label=pos_label,
            input=input,
        )
    if debias and norm != "l2":
        msg = f"debias=True applies to norm='l2' only; got norm={norm!r}."
        raise ValueError(msg)
    fc = check_forecasts(
        y_true,
        y_prob,
        sample_weight=sample_weight,
        labels=labels,
        pos_label=pos_label,
        input=input,
        lazy=True,
        array_api=True,
    )
    return _expected_calibration_error(
        as_probabilities(fc, input),
        n_bins=n_bins,
        strategy=strategy,
        norm=norm,
        multiclass=multiclass,
        debias=debias,
    )


def _expected_calibration_error(
    fc,
    *,
    n_bins=N_BINS,
    strategy="uniform",
    norm="l1",
    multiclass="top_label",
    debias=False,
):
    """:func:`expected_calibration_error` of validated forecasts (probabilities)."""
    settings = {"n_bins": int(n_bins), "strategy": strategy, "norm": norm}
    if multiclass == "top_label" and _streamed(fc, strategy, int(n_bins)):
        totals = _streamed_bins(fc, int(n_bins), top=True)
        return _error_of_means(*_means_of_totals(totals)[1:], norm, debias)
    if multiclass == "top_label":
        x, t = _top_label(fc)
        return _calibration_error(x, t, fc.sample_weight, **settings, debias=debias)
    errors = [
        _calibration_error(x, t, fc.sample_weight, **settings, debias=debias)
        for x, t in _class_columns(fc)
    ]
    return float(np.mean(errors))


@validate_params(
    {
        **FORECAST_CONSTRAINTS,
        "strategy": [options({"uniform", "quantile", "isotonic", "smooth"})],
        "n_bins": [count()],
        "bands": [None, interval(numbers.Real, 0, 1, closed="neither")],
        "n_resamples": [count()],
        "random_state": "no_validation",  # checked by numpy.random.default_rng
        "bandwidth": [
            options({"auto"}),
            interval(numbers.Real, 0, None, closed="neither"),
        ],
    }
)
def reliability_curve(
    y_true,
    y_prob,
    *,
    strategy="uniform",
    n_bins=N_BINS,
    sample_weight=None,
    labels=None,
    pos_label=None,
    bands=None,
    n_resamples=1000,
    random_state=None,
    input="probabilities",
    bandwidth="auto",
):
    """Points of a reliability diagram: binned, equal-mass, or CORP (isotonic).

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Observed labels.
    y_prob : array-like of shape (n_samples,) or (n_samples, n_classes)
        1-D: probability of the positive class, plotted against the frequency
        of that class. 2-D: the top-label curve, confidence ``max_k p_k``
        against the frequency with which the arg-max class was observed. For
        a class-wise grid, pass ``y_prob[:, k]`` with ``pos_label=classes[k]``
        for each k (``y_true`` may have any number of classes).
    strategy : {"uniform", "quantile", "isotonic", "smooth"}, default="uniform"
        ``"uniform"``: bins with edges ``np.linspace(0, 1, n_bins + 1)``.
        ``"quantile"``: equal-mass bins (edges at weighted quantiles; tied
        forecasts stay together). ``"isotonic"``: the CORP diagram, one
        point per distinct forecast, observed = PAV recalibration.
        ``"smooth"``: the kernel-smoothed curve of the smooth ECE
        (:func:`smooth_ece`), on a grid of 201 forecasts.
    n_bins : int, default=10
        Number of bins (ignored by ``"isotonic"`` and ``"smooth"``).
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative row weights (integer weights equal repeated rows); rows
        with zero weight are ignored.
    labels : array-like, default=None
        All class labels, when ``y_true`` does not contain every class.
    pos_label : label, default=None
        The class a 1-D ``y_prob`` refers to (default: the greater label).
    bands : float or None, default=None
        Level of the consistency band, e.g. ``0.9``; ``None`` for no band.
    n_resamples : int, default=1000
        Resamples for the band. Cost: ``n_resamples`` passes over the rows
        (plus one PAV fit per resample for ``"isotonic"``); memory stays
        bounded by drawing the resamples in blocks.
    random_state : None, int or numpy.random.Generator, default=None
        Seed for the band's resamples (``numpy.random.default_rng``).
    input : {"probabilities", "logits"}, default="probabilities"
        What ``y_prob`` holds; logits are read through their softmax (1-D
        log-odds through the sigmoid).
    bandwidth : "auto" or float, default="auto"
        ``"smooth"`` only: the kernel bandwidth, as in :func:`smooth_ece`.

    Returns
    -------
    ReliabilityCurve
        ``forecast``, ``observed``, ``weight``, ``count``, ``bin_lower``,
        ``bin_upper``, ``bin_index``, ``n_bins`` (and ``bin_edges``),
        ``block_starts``, ``lower``, ``upper``, ``strategy``,
        ``level``, ``n_resamples``; ``to_frame()`` gives a table.

    Notes
    -----
    Binned: rows fall in bins :math:`[e_b, e_{b+1})` (the last one closed);
    each non-empty bin gives the point :math:`(\\bar x_b, \\bar t_b)` of
    weighted mean forecast and observed frequency. **Empty bins (total weight
    0) are dropped**, so ``n_points`` may be below ``n_bins``; they cost
    nothing (only the bins that hold rows are counted), so ``n_bins`` may
    exceed the number of rows.

    Isotonic (CORP, Dimitriadis, Gneiting & Jordan, 2021): rows with exactly
    equal forecasts are pooled, then the pool-adjacent-violators algorithm
    fits the non-decreasing c(x) closest to the observed frequencies. c is
    the log-loss- and Brier-optimal monotone recalibration, so the diagram
    needs no binning choice; ``block_starts`` delimits its constant pieces.

    Bands: under the hypothesis that the forecast is calibrated, outcomes are
    resampled as :math:`y^*_i \\sim \\mathrm{Bernoulli}(x_i)` at the original
    rows (and weights); the observed values are recomputed with the same bins
    (or PAV refitted and read at the same forecasts), and ``lower`` and
    ``upper`` are the pointwise :math:`(1 \\mp \\text{level})/2` quantiles of
    the resampled values. Points outside the band are evidence against
    calibration there (pointwise, not simultaneous). The band is Monte Carlo:
    reproducible for a given ``random_state`` and row order.

    Array API inputs (torch, CuPy, ... with :func:`calibkit.config_context`):
    equal-width bins, weighted or not, are counted on the input's device; the
    other strategies (equal-mass bins and CORP sort) and the bands bring the
    top-label confidence and correctness (two numbers per row) to the host.

    References
    ----------
    .. [1] Dimitriadis, T., Gneiting, T., & Jordan, A. I. (2021). Stable
       reliability diagrams for probabilistic classifiers. PNAS, 118(8),
       e2016191118. doi:10.1073/pnas.2016191118
    .. [2] Bröcker, J., & Smith, L. A. (2007). Increasing the reliability of
       reliability diagrams. Weather and Forecasting, 22(3), 651–661.
       doi:10.1175/WAF993.1
    .. [3] Guo, C., Pleiss, G., Sun, Y., & Weinberger, K. Q. (2017). On
       calibration of modern neural networks. ICML.
       doi:10.48550/arXiv.1706.04599

    Examples
    --------
    >>> from calibkit.metrics import reliability_curve
    >>> y = [0, 0, 1, 1, 1]
    >>> p = [0.1, 0.3, 0.35, 0.8, 0.9]
    >>> curve = reliability_curve(y, p, n_bins=2)
    >>> curve.forecast.round(4).tolist(), curve.observed.round(4).tolist()
    ([0.25, 0.85], [0.3333, 1.0])
    >>> corp = reliability_curve(y, p, strategy="isotonic")
    >>> corp.observed.tolist(), corp.block_starts.tolist()
    ([0.0, 0.0, 1.0, 1.0, 1.0], [0, 2, 5])
    """
    n_bins, n_resamples = int(n_bins), int(n_resamples)
    level = None if bands is None else float(bands)
    rng = _check_random_state(random_state) if level is not None else None
    fc = check_forecasts(
        y_true,
        y_prob,
        sample_weight=sample_weight,
        labels=labels,
        pos_label=pos_label,
        input=input,
        lazy=True,
        array_api=True,
    )
    fc = as_probabilities(fc, input)
    if strategy == "smooth":
        return _smooth_reliability_curve(fc, bandwidth, level)
    if level is None and _streamed(fc, strategy, n_bins):
        # One chunked pass: memory does not grow with the number of rows.
        totals = _streamed_bins(fc, n_bins, top=not fc.is_binary)
        return ReliabilityCurve(
            **_binned_points(totals),
            lower=None,
            upper=None,
            level=None,
            n_resamples=None,
        )
    if fc.is_binary:
        x, t = host_float64(fc.prob), fc.y.astype(np.float64)
    else:
        x, t = _top_label(fc)
    x, t, w = positive_weight_rows(fc.sample_weight, x, t)
    if strategy == "isotonic":
        curve, point = _isotonic_curve(x, t, w), None
    else:
        curve, point = _binned_curve(x, t, w, n_bins, strategy)
    if level is None:
        return ReliabilityCurve(
            **curve, lower=None, upper=None, level=None, n_resamples=None
        )
    if strategy == "isotonic":
        resampled = _resampled_isotonic(x, w, n_resamples, rng)
    else:
        resampled = _resampled_binned(x, w, curve, point, n_resamples, rng)
    lower, upper = np.quantile(resampled, [(1 - level) / 2, (1 + level) / 2], axis=0)
    return ReliabilityCurve(
        **curve, lower=lower, upper=upper, level=level, n_resamples=n_resamples
    )


# --- forecasts to (x, t) pairs ------------------------------------------------


def _top_label(fc):
    """Confidence of the arg-max class and whether it was observed, per row."""
    if is_on_device(fc.prob):  # reduced on the device; two vectors come back
        return top_label_outcomes(fc.prob, fc.y)
    predicted, confidence = top_label(fc.prob)
    return confidence, (predicted == fc.y).astype(np.float64)


def _class_columns(fc):
    """Yield ``(p_k, 1{y = k})`` for each class k."""
    if fc.is_binary:
        p = host_float64(fc.prob)
        positive = fc.y.astype(np.float64)
        yield 1.0 - p, 1.0 - positive
        yield p, positive
        return
    for k in range(fc.n_classes):
        yield host_float64(fc.prob[:, k]), (fc.y == k).astype(float)


# --- bins ---------------------------------------------------------------------


def _bin_means(x, t, w, bins):
    """Weight and row count of each bin (as given), and weighted means of x, t.

    The means use the weights of each bin divided by a power of two (exact)
    that brings the bin's largest to [0.5, 1): subnormal weights keep their
    digits, whatever the other bins weigh.
    """
    weight, count, sum_x, sum_t = bin_totals(x, t, w, bins)
    if w is None:
        return weight, count, sum_x / weight, sum_t / weight
    largest = np.zeros(bins.number.shape[0])
    np.maximum.at(largest, bins.row, w)
    scaled = np.ldexp(w, -np.frexp(largest)[1][bins.row])
    scaled_weight, _, scaled_x, scaled_t = bin_totals(x, t, scaled, bins)
    return weight, count, scaled_x / scaled_weight, scaled_t / scaled_weight


def _calibration_error(x, t, w, *, n_bins, strategy, norm, debias):
    x, t, w = positive_weight_rows(w, x, t)
    bins = Binning(x, w, n_bins, strategy).assign(x)
    weight, _, mean_x, frequency = _bin_means(x, t, w, bins)
    return _error_of_means(weight, mean_x, frequency, norm, debias)


def _error_of_means(weight, mean_x, frequency, norm, debias):
    """The ECE of bins with these weights, mean forecasts and frequencies."""
    gap = frequency - mean_x
    share = weight / weight.sum()
    if norm == "l1":
        return float(np.dot(share, np.abs(gap)))
    if norm == "max":
        return float(np.max(np.abs(gap)))
    if not debias:
        return float(np.sqrt(np.dot(share, gap**2)))
    if np.any(weight < 1):  # unit weights give counts of at least 1
        msg = (
            "debias=True reads sample_weight as row counts, but some bins weigh "
            "less than 1; the bias correction ȳ(1 - ȳ)/(W_b - 1) is then not "
            "meaningful. Pass counts as weights, or use debias=False."
        )
        warnings.warn(msg, CalibrationWarning, stacklevel=external_stacklevel())
    enough = weight >= 2
    squared = np.zeros_like(gap)
    squared[enough] = gap[enough] ** 2 - frequency[enough] * (
        1.0 - frequency[enough]
    ) / (weight[enough] - 1.0)
    return float(np.sqrt(max(0.0, float(np.dot(share, squared)))))


# --- one chunked pass (uniform bins, unit weights) -----------------------------

#: Most bins counted in dense per-bin arrays by the chunked pass; more bins (or
#: weights, equal-mass bins, bands) take the in-memory path, whose memory does
#: not grow with the number of bins.
_DENSE_BINS = 1 << 16


def _streamed(fc, strategy, n_bins):
    """Whether the bins can be counted in one chunked pass over the rows.

    On an Array API device weighted rows are too (the pass runs there).
    """
    weighted = fc.sample_weight is not None and not is_on_device(fc.prob)
    return strategy == "uniform" and not weighted and n_bins <= _DENSE_BINS


def _uniform_bin_kernel(rows, prob, y, *, binning, top):
    """Row count and sums of forecast and outcome per bin, for one chunk.

    ``top``: the forecast is the top-label confidence and the outcome whether
    the arg-max class was observed; otherwise (1-D) ``p`` and ``y`` themselves.
    """
    if top:
        predicted, x = top_label(prob)
        t = predicted == y
    else:
        x, t = as_float64(prob), y
    number = binning.number(x)
    n_bins = binning.n_bins
    return np.stack(
        [
            np.bincount(number, minlength=n_bins),
            np.bincount(number, weights=x, minlength=n_bins),
            np.bincount(number, weights=t, minlength=n_bins),
        ]
    )


def _streamed_bins(fc, n_bins, *, top):
    """Dense per-bin ``[count, sum x, sum t]`` of unit-weight rows, one pass.

    Only a few chunk-sized temporaries are held, never a per-row array.
    """
    binning = Binning(None, None, n_bins, "uniform")
    if is_on_device(fc.prob):  # weighted too: [count, sum wx, sum wt, sum w]
        totals = uniform_bin_totals(
            fc.prob, fc.y, n_bins, top=top, sample_weight=fc.sample_weight
        )
        return binning, totals
    kernel = functools.partial(_uniform_bin_kernel, binning=binning, top=top)
    n_cols = 1 if fc.is_binary else fc.n_classes
    return binning, reduce_rows(kernel, fc.prob, fc.y, n_cols=n_cols)


def _means_of_totals(totals):
    """Non-empty bins of :func:`_streamed_bins`: numbers, weights and means."""
    _, sums = totals
    number = np.flatnonzero(sums[0])
    if sums.shape[0] == 4:  # weighted, from the device: means and weights
        return number, sums[3][number], sums[1][number], sums[2][number]
    weight = sums[0][number]
    return number, weight, sums[1][number] / weight, sums[2][number] / weight


def _binned_points(totals):
    """The binned curve (as :func:`_binned_curve`) from :func:`_streamed_bins`."""
    binning = totals[0]
    number, weight, mean_x, mean_t = _means_of_totals(totals)
    return {
        "forecast": mean_x,
        "observed": mean_t,
        "weight": weight,
        "count": totals[1][0][number].astype(np.intp),
        "bin_lower": binning.edge(number),
        "bin_upper": binning.edge(number + 1),
        "bin_index": number.astype(np.int64),
        "n_bins": binning.n_bins,
        "block_starts": None,
        "strategy": "uniform",
    }


# --- curves -------------------------------------------------------------------


def _binned_curve(x, t, w, n_bins, strategy):
    """Points of the non-empty bins, and each row's point (for the bands)."""
    bins = Binning(x, w, n_bins, strategy).assign(x)
    weight, count, mean_x, mean_t = _bin_means(x, t, w, bins)
    curve = {
        "forecast": mean_x,
        "observed": mean_t,
        "weight": weight,
        "count": count,
        "bin_lower": bins.lower,
        "bin_upper": bins.upper,
        "bin_index": bins.number,
        "n_bins": bins.n_bins,
        "block_starts": None,
        "strategy": strategy,
    }
    return curve, bins.row


def _isotonic_curve(x, t, w):
    fit = pav(x, t, w)
    count = np.bincount(np.searchsorted(fit.scores, x), minlength=fit.scores.shape[0])
    return {
        "forecast": fit.scores,
        "observed": fit.fitted,
        "weight": fit.weights,
        "count": count,
        "bin_lower": None,
        "bin_upper": None,
        "bin_index": None,
        "n_bins": None,
        "block_starts": fit.block_starts,
        "strategy": "isotonic",
    }


def _resample_blocks(n_rows, n_resamples):
    """Sizes of the blocks of resamples, each about ``_RESAMPLE_BLOCK`` draws."""
    per_block = max(1, _RESAMPLE_BLOCK // n_rows)
    full, rest = divmod(n_resamples, per_block)
    return [per_block] * full + ([rest] if rest else [])


def _resampled_binned(x, w, curve, point, n_resamples, rng):
    """Observed frequencies per bin under y* ~ Bernoulli(x), same bins."""
    n_points = curve["forecast"].shape[0]
    blocks = []
    for size in _resample_blocks(x.shape[0], n_resamples):
        outcome = rng.random((size, x.shape[0])) < x
        hits = weighted(w, outcome)
        flat = point + n_points * np.arange(size)[:, None]
        sums = np.bincount(
            flat.ravel(), weights=hits.ravel(), minlength=size * n_points
        )
        blocks.append(sums.reshape(size, n_points) / curve["weight"])
    return np.concatenate(blocks)


def _resampled_isotonic(x, w, n_resamples, rng):
    """PAV fits at the distinct forecasts under y* ~ Bernoulli(x)."""
    pooled = pool_ties(x, np.zeros(x.shape[0], dtype=bool), w)
    distinct, weight, order = pooled.scores, pooled.weights_or_ones(), pooled.order
    starts = np.arange(x.shape[0]) if pooled.starts is None else pooled.starts
    x_sorted = x[order]
    w_sorted = weight_rows(w, order)
    fits = []
    for size in _resample_blocks(x.shape[0], n_resamples):
        outcome = (rng.random((size, x.shape[0])) < x_sorted).astype(np.float64)
        outcome = weighted(w_sorted, outcome)
        targets = np.add.reduceat(outcome, starts, axis=1) / weight
        fits.extend(isotonic_fit(target, weight).x for target in targets)
    return np.asarray(fits).reshape(n_resamples, distinct.shape[0])


def _smooth_reliability_curve(fc, bandwidth, level):
    """The kernel-smoothed curve (``strategy="smooth"``)."""
    if level is not None:
        msg = "bands are not available with strategy='smooth'; pass bands=None."
        raise ValueError(msg)
    points, sigma = smooth_curve(fc, bandwidth, _SMOOTH_POINTS)
    return ReliabilityCurve(
        **points,
        count=None,
        bin_lower=None,
        bin_upper=None,
        bin_index=None,
        n_bins=None,
        block_starts=None,
        lower=None,
        upper=None,
        strategy="smooth",
        level=None,
        n_resamples=None,
        bandwidth=sigma,
    )


#: Grid points of the smooth reliability curve.
_SMOOTH_POINTS = 201


# --- argument checks ----------------------------------------------------------


def _check_random_state(random_state):
    try:
        return np.random.default_rng(random_state)
    except (TypeError, ValueError):
        msg = (
            "random_state must be None, a non-negative int or a "
            f"numpy.random.Generator; got {random_state!r}."
        )
        raise TypeError(msg) from None

"""Cumulative calibration: the cumulative-differences curve, ECCE-MAD and ECCE-R.

Arrieta-Ibarra, Gujral, Tannen, Tygert & Xu (2022) sort the rows by forecast
and accumulate the differences between outcomes and forecasts. A calibrated
forecast gives a curve that wanders like a random walk around 0; systematic
over- or under-forecasting makes it drift, and the slope of the curve over a
range of forecasts is the miscalibration there. No bins, no bandwidth: the
maximum absolute deviation (Kolmogorov–Smirnov style) and the range (Kuiper
style) of the curve, divided by its standard deviation under calibration, have
known asymptotic distributions, which give p-values.

One sort and a few cumulative sums: O(n log n), the cost of ``np.argsort``.
"""

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

from calibkit._results import Result
from calibkit._validation import options, validate_params
from calibkit.metrics._inputs import (
    FORECAST_CONSTRAINTS,
    as_probabilities,
    check_forecasts,
)
from calibkit.metrics._kernels import positive_weight_rows, top_label

__all__ = ["CumulativeCalibration", "cumulative_calibration"]


@dataclass(frozen=True, eq=False, repr=False)
class CumulativeCalibration(Result):
    """Cumulative differences and their statistics, from :func:`cumulative_calibration`.

    Each parameter is stored as the attribute of the same name.

    Parameters
    ----------
    forecast : ndarray of shape (n_points,)
        The distinct forecasts, increasing (rows with equal forecasts form one
        point).
    cumulative_weight : ndarray of shape (n_points,)
        Share of the total weight of the rows up to and including each point
        (the horizontal axis of the plot; the last value is 1).
    cumulative_difference : ndarray of shape (n_points,)
        :math:`C_k`: the weighted sum of ``outcome - forecast`` over the rows
        up to and including point k, divided by the total weight.
    ecce_mad : float
        Maximum absolute deviation :math:`\\max_k |C_k|` (ECCE-MAD).
    ecce_r : float
        Range :math:`\\max_k C_k - \\min_k C_k`, with :math:`C_0 = 0` (ECCE-R).
    sigma : float
        Standard deviation of :math:`C_n` if the forecast is calibrated, the
        scale of the statistics (see Notes).
    ecce_mad_pvalue, ecce_r_pvalue : float
        Asymptotic p-values of ``ecce_mad / sigma`` and ``ecce_r / sigma``
        under the hypothesis that the forecast is calibrated.
    weight_type : str
        ``"frequency"`` or ``"sampling"``: how ``sample_weight`` entered
        ``sigma``.

    Examples
    --------
    >>> from calibkit.metrics import cumulative_calibration
    >>> result = cumulative_calibration([0, 1, 1, 1], [0.2, 0.4, 0.7, 0.9])
    >>> result.cumulative_difference.round(4).tolist()
    [-0.05, 0.1, 0.175, 0.2]
    >>> round(result.ecce_mad, 4), round(result.ecce_r, 4)
    (0.2, 0.25)
    """

    forecast: np.ndarray
    cumulative_weight: np.ndarray
    cumulative_difference: np.ndarray
    ecce_mad: float
    ecce_r: float
    sigma: float
    ecce_mad_pvalue: float
    ecce_r_pvalue: float
    weight_type: str

    _table_fields = ("forecast", "cumulative_weight", "cumulative_difference")

    def __repr__(self):
        return (
            f"CumulativeCalibration(ecce_mad={self.ecce_mad:.4g}, "
            f"ecce_r={self.ecce_r:.4g}, sigma={self.sigma:.4g}, "
            f"ecce_mad_pvalue={self.ecce_mad_pvalue:.4g}, "
            f"ecce_r_pvalue={self.ecce_r_pvalue:.4g})"
        )


@validate_params(
    {
        **FORECAST_CONSTRAINTS,
        "weight_type": [options({"frequency", "sampling"})],
    }
)
def cumulative_calibration(
    y_true,
    y_prob,
    *,
    sample_weight=None,
    weight_type="frequency",
    labels=None,
    pos_label=None,
    input="probabilities",
):
    """Compute the cumulative-differences curve, ECCE-MAD and ECCE-R with p-values.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Observed labels.
    y_prob : array-like of shape (n_samples,) or (n_samples, n_classes)
        1-D: probability of the positive class. 2-D: the top-label forecast,
        the confidence ``max_k p_k`` against whether the arg-max class was
        observed. For one class of a multiclass forecast pass ``y_prob[:, k]``
        with ``pos_label=classes[k]``.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative row weights; rows with zero weight are ignored.
    weight_type : {"frequency", "sampling"}, default="frequency"
        How the weights enter the null variance. ``"frequency"``: a weight
        counts rows (integer weights give exactly what repeated rows give, as
        everywhere in calibkit). ``"sampling"``: each row is one observation
        weighted by ``w`` (survey or importance weights), the weighted
        version of Arrieta-Ibarra et al. Unit weights give the same result.
    labels : array-like, default=None
        All class labels, when ``y_true`` does not contain every class.
    pos_label : label, default=None
        The class a 1-D ``y_prob`` refers to (default: the greater label).
    input : {"probabilities", "logits"}, default="probabilities"
        What ``y_prob`` holds; logits are read through their softmax (1-D
        log-odds through the sigmoid).

    Returns
    -------
    CumulativeCalibration
        The curve (``forecast``, ``cumulative_weight``,
        ``cumulative_difference``) and ``ecce_mad``, ``ecce_r``, ``sigma``,
        ``ecce_mad_pvalue``, ``ecce_r_pvalue``.

    See Also
    --------
    calibkit.plotting.CumulativeDisplay : The plot of the curve.
    smooth_ece : A calibration error without bins, in probability units.

    Notes
    -----
    Sort the rows by forecast :math:`x_1 \\le \\dots \\le x_n`, with outcomes
    :math:`t_j`, weights :math:`w_j` and :math:`W = \\sum_j w_j`. The curve is

    .. math::

        C_k = \\frac{1}{W} \\sum_{j \\le k} w_j (t_j - x_j), \\qquad
        A_k = \\frac{1}{W} \\sum_{j \\le k} w_j,

    plotted against :math:`A_k`; the slope of :math:`C` over a range of
    :math:`A` is the mean miscalibration of the forecasts there. Rows with
    equal forecasts have no order, so only the end of each group of ties is
    a point. ECCE-MAD is :math:`\\max_k |C_k|`, ECCE-R is
    :math:`\\max_k C_k - \\min_k C_k` (with :math:`C_0 = 0`). If the forecast
    is calibrated, :math:`C` is a sum of independent, centred increments with

    .. math::

        \\sigma^2 = \\frac{1}{W^2} \\sum_j w_j x_j (1 - x_j) \\quad
        \\text{(frequency)}, \\qquad
        \\sigma^2 = \\frac{1}{W^2} \\sum_j w_j^2 x_j (1 - x_j) \\quad
        \\text{(sampling)},

    and :math:`C / \\sigma` tends to a standard Brownian motion :math:`B` on
    [0, 1] (in the time of the accumulated variance; a maximum does not
    depend on the time scale). Hence the p-values

    .. math::

        P\\Big(\\sup_{[0,1]} |B| \\ge g\\Big) = 4 \\sum_{k \\ge 0} (-1)^k
        \\bar\\Phi\\big((2k+1) g\\big), \\qquad
        P\\Big(\\sup_{[0,1]} B - \\inf_{[0,1]} B \\ge d\\Big) = 8 \\sum_{k \\ge 1}
        (-1)^{k-1} k \\, \\bar\\Phi(k d),

    at :math:`g = \\) ECCE-MAD :math:`/ \\sigma` and :math:`d = \\) ECCE-R
    :math:`/ \\sigma` (Feller, 1951, for the range; for small arguments the
    equivalent theta series of the distribution functions are summed). The
    limit is a Brownian *motion*, not a bridge (:math:`C_n` is not pinned at
    0), so these are not the classical Kolmogorov–Smirnov and Kuiper
    distributions (``scipy.stats.kstwobign`` would give wrong p-values). The
    p-values are asymptotic: with few rows, or forecasts concentrated on a
    few values, they are conservative.

    References
    ----------
    .. [1] Arrieta-Ibarra, I., Gujral, P., Tannen, J., Tygert, M., & Xu, C.
       (2022). Metrics of calibration for probabilistic predictions. Journal
       of Machine Learning Research, 23(351), 1–54.
       doi:10.48550/arXiv.2205.09680
    .. [2] Feller, W. (1951). The asymptotic distribution of the range of
       sums of independent random variables. Annals of Mathematical
       Statistics, 22(3), 427–432. doi:10.1214/aoms/1177729589

    Examples
    --------
    >>> import numpy as np
    >>> from calibkit.metrics import cumulative_calibration
    >>> rng = np.random.default_rng(0)
    >>> p = rng.random(5000)
    >>> y = rng.random(5000) < p  # calibrated
    >>> round(cumulative_calibration(y, p).ecce_r_pvalue, 2)
    0.23
    >>> y_over = rng.random(5000) < 0.8 * p  # forecasts too high
    >>> cumulative_calibration(y_over, p).ecce_r_pvalue < 1e-10
    True
    """
    fc = check_forecasts(
        y_true,
        y_prob,
        sample_weight=sample_weight,
        labels=labels,
        pos_label=pos_label,
        input=input,
    )
    return forecast_cumulative(as_probabilities(fc, input), weight_type)


def forecast_cumulative(fc, weight_type="frequency"):
    """:func:`cumulative_calibration` of validated forecasts (probabilities)."""
    if fc.is_binary:
        x, t = np.asarray(fc.prob, dtype=np.float64), fc.y.astype(np.float64)
    else:
        predicted, x = top_label(fc.prob)
        t = (predicted == fc.y).astype(np.float64)
    x, t, w = positive_weight_rows(fc.sample_weight, x, t)
    return _cumulative(x, t, w, weight_type)


def _cumulative(x, t, w, weight_type):
    """The curve and statistics of forecasts ``x``, outcomes ``t``, weights ``w``."""
    # Rows with equal forecasts form one point, so their order does not
    # matter: the (unstable) default sort is several times faster.
    order = np.argsort(x)
    x = x[order]
    t = t[order]
    if w is None:
        total_weight = float(x.shape[0])
        variance = np.dot(x, 1.0 - x)
        gaps = np.subtract(t, x, out=t)
    else:
        w = w[order]
        if weight_type == "sampling":
            # Only ratios of sampling weights matter: bring the largest to 1
            # so that their squares cannot overflow. Frequency weights are
            # counts: their scale is the amount of data.
            w = w / np.max(w)
        total_weight = float(np.sum(w))
        spread = x * (1.0 - x)
        variance = (
            np.dot(w, spread) if weight_type == "frequency" else np.dot(w * w, spread)
        )
        gaps = w * (t - x)
    # The last row of each group of equal forecasts ends a point.
    ends = np.flatnonzero(np.append(x[1:] != x[:-1], True))
    difference = np.cumsum(gaps)[ends] / total_weight
    if w is None:
        cumulative_weight = (ends + 1.0) / total_weight
    else:
        cumulative_weight = np.cumsum(w)[ends] / total_weight
    sigma = float(np.sqrt(variance) / total_weight)
    mad = float(np.max(np.abs(difference)))
    spread = float(max(np.max(difference), 0.0) - min(np.min(difference), 0.0))
    return CumulativeCalibration(
        forecast=x[ends],
        cumulative_weight=cumulative_weight,
        cumulative_difference=difference,
        ecce_mad=mad,
        ecce_r=spread,
        sigma=sigma,
        ecce_mad_pvalue=_scaled_pvalue(mad, sigma, max_abs_brownian_sf),
        ecce_r_pvalue=_scaled_pvalue(spread, sigma, brownian_range_sf),
        weight_type=weight_type,
    )


def _scaled_pvalue(statistic, sigma, survival):
    if statistic == 0.0:
        return 1.0
    if sigma == 0.0:  # forecasts all 0 or 1, and wrong somewhere
        return 0.0
    return float(survival(statistic / sigma))


# --- the distributions of sup |B| and of the range of B on [0, 1] ---------------

#: Below this argument the theta series of the distribution function is summed
#: (few terms, no cancellation: the survival function is near 1); above it the
#: alternating normal-tail series (few terms, accurate down to 1e-300).
_SERIES_SWITCH = 1.5

_TERMS = 40


def max_abs_brownian_sf(g):
    """``P(sup_{[0, 1]} |B| >= g)`` for a standard Brownian motion B."""
    g = float(g)
    if g <= 0.0:
        return 1.0
    if g < _SERIES_SWITCH:
        half = np.arange(_TERMS) + 0.5
        signs = (-1.0) ** np.arange(_TERMS)
        terms = signs / half * np.exp(-((half * np.pi / g) ** 2) / 2.0)
        return float(1.0 - 2.0 / np.pi * np.sum(terms))
    odd = 2.0 * np.arange(_TERMS) + 1.0
    signs = (-1.0) ** np.arange(_TERMS)
    return float(min(1.0, 4.0 * np.sum(signs * ndtr(-odd * g))))


def brownian_range_sf(d):
    """``P(sup_{[0, 1]} B - inf_{[0, 1]} B >= d)`` for a standard Brownian motion B."""
    d = float(d)
    if d <= 0.0:
        return 1.0
    if d < _SERIES_SWITCH:
        half = np.arange(_TERMS) + 0.5
        terms = (8.0 / d**2 + 2.0 / (half * np.pi) ** 2) * np.exp(
            -2.0 * (half * np.pi / d) ** 2
        )
        return float(1.0 - np.sum(terms))
    k = np.arange(1, _TERMS + 1, dtype=float)
    signs = (-1.0) ** (k - 1)
    return float(min(1.0, 8.0 * np.sum(signs * k * ndtr(-k * d))))

"""Goodness-of-fit tests of calibration for binary forecasts.

Spiegelhalter's z test and the Hosmer–Lemeshow test ask whether outcomes are
consistent with the forecast probabilities, i.e. with ``y_i ~ Bernoulli(p_i)``
independently. Both read ``sample_weight`` as row counts (integer weights give
what repeated rows give).
"""

import math
import warnings
from dataclasses import dataclass

import numpy as np

# The survival functions that scipy.stats' norm.sf and chi2.sf evaluate, without
# importing scipy.stats (a third of a second).
from scipy.special import chdtrc, ndtr

from calibkit._results import Result
from calibkit._validation import count, external_stacklevel, validate_params
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
    scaled_by_power_of_two,
    squared_errors,
    total_weight,
    weighted_sum,
)
from calibkit.metrics._reliability import N_BINS

__all__ = [
    "HosmerLemeshowTest",
    "SpiegelhalterTest",
    "hosmer_lemeshow_test",
    "spiegelhalter_z_test",
]


_CONSTRAINTS = {k: v for k, v in FORECAST_CONSTRAINTS.items() if k != "labels"}


@dataclass(frozen=True, repr=False)
class SpiegelhalterTest(Result):
    """Result of :func:`spiegelhalter_z_test`.

    Attributes
    ----------
    statistic : float
        The z statistic, standard normal under calibration. Positive when the
        Brier score is worse than calibration would make it.
    p_value : float
        Two-sided p-value, ``2 * (1 - Phi(|z|))``.
    brier_score : float
        Observed mean Brier score :math:`\\bar B`.
    expected_brier_score : float
        Its expectation under calibration, :math:`\\frac{1}{W}\\sum w_i p_i(1-p_i)`.
    variance : float
        Its variance under calibration, reading the weights as row counts
        (so it scales as 1 / weight); ``inf`` when that leaves the float
        range (weights near 1e-308).
    """

    statistic: float
    p_value: float
    brier_score: float
    expected_brier_score: float
    variance: float


@dataclass(frozen=True, eq=False, repr=False)
class HosmerLemeshowTest(Result):
    """Result of :func:`hosmer_lemeshow_test`.

    Attributes
    ----------
    statistic : float
        The Hosmer–Lemeshow statistic :math:`\\hat C`.
    df : int
        Degrees of freedom, ``n_groups - 2``.
    p_value : float
        Upper tail of the chi-squared distribution with ``df`` degrees of
        freedom at ``statistic``.
    n_groups : int
        Number of groups actually formed (fewer than ``n_bins`` when tied
        forecasts straddle group boundaries).
    observed_positives : ndarray of shape (n_groups,)
        Weighted number of positives per group (a count, not a frequency as
        ``ReliabilityCurve.observed``).
    expected_positives : ndarray of shape (n_groups,)
        Weighted sum of forecasts per group (expected positives under
        calibration).
    weight : ndarray of shape (n_groups,)
        Total weight per group.
    count : ndarray of shape (n_groups,)
        Rows (with positive weight) per group.
    bin_edges : ndarray of shape (n_groups + 1,)
        Group edges on the forecast scale: groups are [e_g, e_{g+1}), the last
        one closed.

    Examples
    --------
    >>> from calibkit.metrics import hosmer_lemeshow_test
    >>> y, p = [0, 0, 1, 0, 1, 1], [0.1, 0.2, 0.3, 0.6, 0.7, 0.8]
    >>> table = hosmer_lemeshow_test(y, p, n_bins=3).to_frame()
    >>> table[["count", "observed_positives"]]
       count  observed_positives
    0      2                 0.0
    1      2                 1.0
    2      2                 2.0
    """

    statistic: float
    df: int
    p_value: float
    n_groups: int
    observed_positives: np.ndarray
    expected_positives: np.ndarray
    weight: np.ndarray
    count: np.ndarray
    bin_edges: np.ndarray

    _table_fields = (
        "bin_lower",
        "bin_upper",
        "count",
        "weight",
        "observed_positives",
        "expected_positives",
    )

    def __repr__(self):
        return (
            f"HosmerLemeshowTest(statistic={self.statistic!r}, df={self.df}, "
            f"p_value={self.p_value!r}, n_groups={self.n_groups})"
        )

    @property
    def bin_lower(self):
        """Lower edge of each group."""
        return self.bin_edges[:-1]

    @property
    def bin_upper(self):
        """Upper edge of each group."""
        return self.bin_edges[1:]

    @property
    def observed(self):
        """Deprecated alias of :attr:`observed_positives`."""
        return self._renamed("observed", "observed_positives")

    @property
    def expected(self):
        """Deprecated alias of :attr:`expected_positives`."""
        return self._renamed("expected", "expected_positives")

    def _renamed(self, old, new):
        warnings.warn(
            f"HosmerLemeshowTest.{old} is deprecated since calibkit 0.2 and will be "
            f"removed in 0.3; read HosmerLemeshowTest.{new} (a weighted count, "
            "unlike the frequency ReliabilityCurve.observed).",
            FutureWarning,
            stacklevel=3,
        )
        return getattr(self, new)

    def to_dict(self):
        """The scalar results as a plain dict (the table is :meth:`to_frame`).

        Returns
        -------
        dict
            ``statistic``, ``df``, ``p_value`` and ``n_groups``.
        """
        return {
            "statistic": self.statistic,
            "df": self.df,
            "p_value": self.p_value,
            "n_groups": self.n_groups,
        }

    def to_frame(self):
        """The contingency table as a pandas DataFrame, one row per group.

        Returns
        -------
        pandas.DataFrame
            Columns ``bin_lower``, ``bin_upper``, ``count``, ``weight``,
            ``observed_positives``, ``expected_positives``.
        """
        return super().to_frame()


@validate_params(_CONSTRAINTS)
def spiegelhalter_z_test(
    y_true, y_prob, *, sample_weight=None, pos_label=None, input="probabilities"
):
    """Spiegelhalter's z test of calibration, from the Brier score.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Observed labels (two classes, or more with ``pos_label``: one-vs-rest).
    y_prob : array-like of shape (n_samples,)
        Forecast probability of the positive class.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative row counts (integer weights equal repeated rows).
    pos_label : label, default=None
        The positive class (default: the greater label).
    input : {"probabilities", "logits"}, default="probabilities"
        What ``y_prob`` holds; log-odds are read through the sigmoid.

    Returns
    -------
    SpiegelhalterTest
        ``statistic`` (z), two-sided ``p_value``, and the Brier score with its
        expectation and variance under calibration.

    Raises
    ------
    ValueError
        When every forecast with positive weight is 0, 1/2 or 1: the Brier
        score then has no variance under calibration and z is undefined.

    Notes
    -----
    Under calibration (:math:`y_i \\sim \\mathrm{Bernoulli}(p_i)` independently)
    the mean Brier score :math:`\\bar B = \\frac1W\\sum_i w_i (y_i - p_i)^2` has
    :math:`E\\bar B = \\frac1W\\sum_i w_i p_i(1 - p_i)` and
    :math:`\\operatorname{Var}\\bar B = \\frac1{W^2}\\sum_i w_i (1 - 2p_i)^2
    p_i(1 - p_i)`. Spiegelhalter (1986) standardises:

    .. math:: z = \\frac{\\bar B - E\\bar B}{\\sqrt{\\operatorname{Var}\\bar B}}
              = \\frac{\\sum_i w_i (y_i - p_i)(1 - 2p_i)}
                      {\\sqrt{\\sum_i w_i (1 - 2p_i)^2 p_i (1 - p_i)}},

    using :math:`(y - p)^2 - p(1 - p) = (y - p)(1 - 2p)` for 0/1 outcomes; the
    right-hand form is what is computed (no cancellation). z is approximately
    standard normal for large samples. A forecast of exactly 0 or 1 that is
    wrong makes calibration impossible, whatever z says; check the log-loss.

    References
    ----------
    .. [1] Spiegelhalter, D. J. (1986). Probabilistic prediction in patient
       management and clinical trials. Statistics in Medicine, 5(5), 421–433.
       doi:10.1002/sim.4780050506
    .. [2] Rufibach, K. (2010). Use of Brier score to assess binary
       predictions. Journal of Clinical Epidemiology, 63(8), 938–939.
       doi:10.1016/j.jclinepi.2009.11.009

    Examples
    --------
    >>> from calibkit.metrics import spiegelhalter_z_test
    >>> result = spiegelhalter_z_test([0, 1, 1, 0, 1], [0.1, 0.8, 0.6, 0.4, 0.9])
    >>> round(result.statistic, 4), round(result.p_value, 4)
    (-1.0042, 0.3153)
    """
    p, y, w = _binary_rows(y_true, y_prob, sample_weight, pos_label, input)
    slope = 1.0 - 2.0 * p
    # Weights are row counts: scaling them all by c scales z by sqrt(c) and
    # leaves the means alone. The sums are taken on weights scaled by a power
    # of two 2**-e (exact) to a maximum in [0.5, 1), so that 1e-300 or 1e200
    # weights neither underflow nor overflow; z is then multiplied by 2**(e/2).
    if w is None:
        weights, exponent = np.ones_like(p), 0
    else:
        weights, exponent = scaled_by_power_of_two(w)
    total = total_weight(weights, p.shape[0])
    variance_sum = float(np.sum(weights * slope**2 * p * (1.0 - p)))
    if variance_sum == 0:
        msg = (
            "spiegelhalter_z_test is undefined here: every forecast (with positive "
            "weight) in y_prob is 0, 0.5 or 1, so the Brier score has no variance "
            "under calibration."
        )
        raise ValueError(msg)
    excess = float(np.sum(weights * (y - p) * slope))
    statistic = excess / math.sqrt(variance_sum) * 2.0 ** (exponent / 2)
    # Var B = sum(w v) / W**2 reads the weights as counts, so it scales as
    # 1 / weight: undo the scaling (inf if it leaves the float range).
    with np.errstate(over="ignore"):
        variance = float(np.ldexp(variance_sum / total**2, -exponent))
    return SpiegelhalterTest(
        statistic=float(statistic),
        p_value=float(2.0 * ndtr(-abs(statistic))),
        brier_score=weighted_sum(weights, squared_errors(p, y)) / total,
        expected_brier_score=weighted_sum(weights, p * (1.0 - p)) / total,
        variance=variance,
    )


@validate_params({**_CONSTRAINTS, "n_bins": [count(minimum=3)]})
def hosmer_lemeshow_test(
    y_true,
    y_prob,
    *,
    n_bins=N_BINS,
    sample_weight=None,
    pos_label=None,
    input="probabilities",
):
    """Hosmer–Lemeshow goodness-of-fit test over groups of similar risk.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Observed labels (two classes, or more with ``pos_label``: one-vs-rest).
    y_prob : array-like of shape (n_samples,)
        Forecast probability of the positive class.
    n_bins : int, default=10
        Number of groups g ("deciles of risk" for 10); at least 3.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative row counts (integer weights equal repeated rows).
    pos_label : label, default=None
        The positive class (default: the greater label).
    input : {"probabilities", "logits"}, default="probabilities"
        What ``y_prob`` holds; log-odds are read through the sigmoid.

    Returns
    -------
    HosmerLemeshowTest
        ``statistic``, ``df``, ``p_value``, ``n_groups`` and the per-group
        table (``to_frame()``).

    Raises
    ------
    ValueError
        When fewer than 3 groups can be formed (too few distinct forecasts).

    Warns
    -----
    CalibrationWarning
        When a group whose forecasts are all 0 (or all 1) contains a positive
        (or negative): the statistic is then infinite.

    Notes
    -----
    Rows are sorted by forecast and split into g groups of (nearly) equal
    weight: the edge between groups j and j + 1 is the smallest forecast whose
    weighted CDF exceeds j/g, and groups are [e_j, e_{j+1}) with the last one
    closed. Tied forecasts are never split, so groups are unchanged by row
    order, and heavy ties give fewer groups (``n_groups``). With group weight
    :math:`n_g`, observed positives :math:`O_g = \\sum w_i y_i` and expected
    positives :math:`E_g = \\sum w_i p_i`,

    .. math:: \\hat C = \\sum_g \\frac{(O_g - E_g)^2}{E_g (1 - E_g / n_g)},

    compared with a chi-squared distribution on ``n_groups - 2`` degrees of
    freedom (Hosmer & Lemeshow, 1980), the reference for a logistic model
    fitted on the same data. For forecasts evaluated on data they were not
    fitted to, ``n_groups`` degrees of freedom are often used instead:
    ``scipy.stats.chi2.sf(result.statistic, result.n_groups)``. The test
    depends on the grouping and has low power on small samples.

    References
    ----------
    .. [1] Hosmer, D. W., & Lemeshow, S. (1980). Goodness of fit tests for the
       multiple logistic regression model. Communications in Statistics –
       Theory and Methods, 9(10), 1043–1069. doi:10.1080/03610928008827941
    .. [2] Hosmer, D. W., Lemeshow, S., & Sturdivant, R. X. (2013). Applied
       Logistic Regression (3rd ed.), section 5.2.2. Wiley.
       doi:10.1002/9781118548387

    Examples
    --------
    >>> from calibkit.metrics import hosmer_lemeshow_test
    >>> y = [0, 0, 1, 0, 1, 1]
    >>> p = [0.1, 0.2, 0.3, 0.6, 0.7, 0.8]
    >>> result = hosmer_lemeshow_test(y, p, n_bins=3)
    >>> round(result.statistic, 4), result.df, round(result.p_value, 4)
    (1.0398, 1, 0.3079)
    """
    n_bins = int(n_bins)
    p, y, w = _binary_rows(y_true, y_prob, sample_weight, pos_label, input)
    binning = Binning(p, w, n_bins, "quantile")
    edges = binning.all_edges()  # at most one per distinct forecast
    n_groups = edges.shape[0] - 1
    if n_groups < 3:
        msg = (
            f"hosmer_lemeshow_test needs at least 3 groups, but y_prob has only "
            f"{np.unique(p).shape[0]} distinct forecasts, giving {n_groups}."
        )
        raise ValueError(msg)
    # Every group starts at a forecast, so none is empty.
    weight, count, expected, observed = bin_totals(p, y, w, binning.assign(p))
    statistic = _hosmer_lemeshow_statistic(observed, expected, weight)
    df = n_groups - 2
    return HosmerLemeshowTest(
        statistic=statistic,
        df=df,
        p_value=float(chdtrc(df, statistic)),
        n_groups=n_groups,
        observed_positives=observed,
        expected_positives=expected,
        weight=weight,
        count=count,
        bin_edges=edges,
    )


def _hosmer_lemeshow_statistic(observed, expected, weight):
    # The statistic scales with the weights (they are counts). Computing it on
    # group totals scaled by a power of two (exact) keeps the squares of 1e200
    # weights from overflowing; the scale is put back at the end.
    weight, exponent = scaled_by_power_of_two(weight)
    observed, expected = (np.ldexp(v, -exponent) for v in (observed, expected))
    variance = expected * (1.0 - expected / weight)
    excess = (observed - expected) ** 2
    certain = variance <= 0
    if np.any(certain & (excess > 0)):
        msg = (
            "The Hosmer-Lemeshow statistic is infinite: a group whose forecasts are "
            "all 0 or all 1 had an outcome of the other class."
        )
        warnings.warn(msg, CalibrationWarning, stacklevel=external_stacklevel())
        return float("inf")
    with np.errstate(over="ignore"):
        return float(np.ldexp(np.sum(excess[~certain] / variance[~certain]), exponent))


def _binary_rows(y_true, y_prob, sample_weight, pos_label, input):
    """Forecasts, 0/1 outcomes and weights (rows with zero weight dropped)."""
    fc = check_forecasts(
        y_true,
        y_prob,
        sample_weight=sample_weight,
        labels=None,
        pos_label=pos_label,
        input=input,
    )
    fc = as_probabilities(fc, input)
    if not fc.is_binary:
        msg = (
            "y_prob must be 1-D (the probability of pos_label) for this binary "
            f"test; got shape {fc.prob.shape}. For class k of a multiclass "
            "forecast pass y_prob[:, k] with pos_label=classes[k]."
        )
        raise ValueError(msg)
    p = np.asarray(fc.prob, dtype=np.float64)
    y = fc.y.astype(np.float64)
    return positive_weight_rows(fc.sample_weight, p, y)

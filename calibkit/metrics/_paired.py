"""Paired comparison of two forecasts of the same outcomes.

Raw against calibrated, model A against model B: the difference of a score,
with a paired-bootstrap interval (both forecasts scored on the same resample)
and a test of "no difference". For the mean scores (log-loss, Brier) the test
is Diebold and Mariano's, on the per-row score differences; for the other
metrics it is read off the bootstrap distribution of the difference.
"""

import math
import numbers
from dataclasses import dataclass

from calibkit._results import Result
from calibkit._validation import count, interval, options, validate_params
from calibkit.metrics._bootstrap import (
    Data,
    bootstrap_replicates,
    bootstrap_spread,
    check_random_state,
    interval_ends,
    metric_spec,
    row_scores,
    weighted_mean_and_se,
)
from calibkit.metrics._inputs import FORECAST_CONSTRAINTS, check_forecasts

__all__ = ["PairedComparison", "compare_forecasts"]


@dataclass(frozen=True, repr=False)
class PairedComparison(Result):
    """Two forecasts' scores, their difference, its interval and a test.

    Returned by :func:`compare_forecasts`.

    Parameters
    ----------
    metric : str
        The metric compared.
    score_a, score_b : float
        The metric of each forecast.
    difference : float
        ``score_a - score_b``: positive when forecast b scores lower (for a
        loss such as log-loss, Brier or ECE: when b is better).
    low, high : float
        Paired-bootstrap percentile interval of the difference.
    standard_error : float
        Standard deviation of the bootstrap distribution of the difference.
    statistic : float
        ``"diebold-mariano"``: the mean per-row difference over its standard
        error (for unit weights, scipy's ``ttest_rel`` statistic).
        ``"bootstrap"``: the difference over its bootstrap standard error.
        0 (p-value 1) when the two forecasts score the same on every
        resample, e.g. identical forecasts; infinite (p-value 0) when one
        forecast's score is infinite (certain and wrong on some row).
    p_value : float
        Two-sided p-value of "the two forecasts score the same".
    test : str
        ``"diebold-mariano"`` (log-loss, Brier) or ``"bootstrap"``.
    confidence_level : float
        Coverage of the interval.
    n_resamples : int
        Bootstrap resamples.

    Examples
    --------
    >>> from calibkit.metrics import compare_forecasts
    >>> y = [0, 1, 1, 0, 1, 0, 1, 0]
    >>> a = [0.1, 0.9, 0.4, 0.6, 0.8, 0.2, 0.7, 0.3]
    >>> b = [0.2, 0.8, 0.6, 0.4, 0.7, 0.3, 0.6, 0.4]
    >>> result = compare_forecasts(y, a, b, metric="brier_score", random_state=0)
    >>> round(result.difference, 4), result.test
    (0.0125, 'diebold-mariano')
    """

    metric: str
    score_a: float
    score_b: float
    difference: float
    low: float
    high: float
    standard_error: float
    statistic: float
    p_value: float
    test: str
    confidence_level: float
    n_resamples: int


@validate_params(
    {
        **{k: v for k, v in FORECAST_CONSTRAINTS.items() if k != "y_prob"},
        "y_prob_a": ["array-like"],
        "y_prob_b": ["array-like"],
        "metric": [str, callable],
        "n_resamples": [count()],
        "confidence_level": [interval(numbers.Real, 0, 1, closed="neither")],
        "random_state": "no_validation",  # checked by numpy.random.default_rng
        "input_b": [None, options({"probabilities", "logits"})],
    }
)
def compare_forecasts(
    y_true,
    y_prob_a,
    y_prob_b,
    *,
    metric="log_loss",
    n_resamples=1000,
    confidence_level=0.95,
    random_state=None,
    sample_weight=None,
    labels=None,
    pos_label=None,
    input="probabilities",
    input_b=None,
    **metric_options,
):
    """Compare two forecasts of the same outcomes: difference, interval, test.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Observed labels.
    y_prob_a, y_prob_b : array-like of shape (n_samples,) or (n_samples, n_classes)
        The two forecasts (e.g. raw and calibrated), row for row.
    metric : str or callable, default="log_loss"
        A metric :func:`confidence_interval` knows (``"log_loss"``,
        ``"brier_score"``, ``"expected_calibration_error"``, a decomposition
        term, or a callable).
    n_resamples : int, default=1000
        Paired bootstrap resamples: each resample scores both forecasts on
        the same rows.
    confidence_level : float, default=0.95
        Coverage of the interval of the difference.
    random_state : None, int or numpy.random.Generator, default=None
        Seed of the resamples.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative row weights, shared by both forecasts.
    labels : array-like, default=None
        All class labels, when ``y_true`` does not contain every class.
    pos_label : label, default=None
        The class a 1-D forecast refers to.
    input : {"probabilities", "logits"}, default="probabilities"
        What ``y_prob_a`` holds (and ``y_prob_b``, unless ``input_b`` says).
    input_b : {"probabilities", "logits"} or None, default=None
        What ``y_prob_b`` holds, when it differs from ``y_prob_a`` (raw
        logits against calibrated probabilities).
    **metric_options
        Options of the metric (``n_bins``, ``strategy``, ``score``, ...).

    Returns
    -------
    PairedComparison
        ``score_a``, ``score_b``, ``difference = score_a - score_b``, its
        interval, the test statistic and the p-value.

    Raises
    ------
    ValueError
        When both forecasts' scores are infinite (the difference is
        undefined), besides the errors of :func:`confidence_interval`.

    See Also
    --------
    confidence_interval : The interval of one forecast's metric.

    Notes
    -----
    **Interval.** The paired bootstrap draws rows with replacement and
    scores both forecasts on the same draw, so that what the two share
    (the difficulty of the rows) cancels in the difference; the interval
    is the percentile interval of the resampled differences.

    **Test.** For the mean scores, the Diebold–Mariano statistic of the
    per-row score differences :math:`d_i = S(a_i, y_i) - S(b_i, y_i)`:

    .. math:: \\mathrm{DM} = \\bar d / \\mathrm{se}(\\bar d), \\qquad
       \\mathrm{se}^2 = \\frac{n}{n - 1}\\frac{\\sum_i w_i^2 (d_i - \\bar
       d)^2}{(\\sum_i w_i)^2},

    with a two-sided p-value from the standard normal. Rows are taken as
    independent (no autocorrelation correction: a time series of forecasts
    needs the long-run variance), and then, with unit weights, DM is the
    paired t statistic (scipy's ``ttest_rel`` on the per-row scores); the
    p-values differ only by normal against Student's t, which agree for
    large n. For the other metrics, the statistic is the difference over
    its bootstrap standard error, with a normal p-value.

    References
    ----------
    .. [1] Diebold, F. X., & Mariano, R. S. (1995). Comparing predictive
       accuracy. Journal of Business & Economic Statistics, 13(3), 253–263.
       doi:10.1080/07350015.1995.10524599
    .. [2] Efron, B., & Tibshirani, R. J. (1993). An Introduction to the
       Bootstrap. Chapman & Hall. doi:10.1201/9780429246593

    Examples
    --------
    >>> import numpy as np
    >>> from calibkit.metrics import compare_forecasts
    >>> rng = np.random.default_rng(0)
    >>> truth = rng.uniform(0.05, 0.95, 5000)
    >>> y = (rng.uniform(size=5000) < truth).astype(int)
    >>> overconfident = 1 / (1 + np.exp(-2.0 * np.log(truth / (1 - truth))))
    >>> result = compare_forecasts(y, overconfident, truth, random_state=0)
    >>> bool(result.difference > 0 and result.low > 0), bool(result.p_value < 1e-6)
    (True, True)
    """
    input_b = input if input_b is None else input_b
    checked = {"sample_weight": sample_weight, "labels": labels}
    checked["pos_label"] = pos_label
    fc_a = _check_one(y_true, y_prob_a, "y_prob_a", input=input, **checked)
    fc_b = _check_one(y_true, y_prob_b, "y_prob_b", input=input_b, **checked)
    spec = metric_spec(metric, metric_options)
    data_a = Data(fc=fc_a, input=input, y_true=y_true, y_prob=y_prob_a)
    data_b = Data(fc=fc_b, input=input_b, y_true=y_true, y_prob=y_prob_b)
    score_a = float(spec.estimate(data_a))
    score_b = float(spec.estimate(data_b))
    if math.isinf(score_a) and score_a == score_b:
        msg = (
            f"y_prob_a and y_prob_b both have an infinite {spec.name} (each is "
            "certain and wrong on some row), so their difference is undefined; "
            "compare them by a bounded metric such as brier_score."
        )
        raise ValueError(msg)
    difference = score_a - score_b

    rng = check_random_state(random_state)
    replicates_a, replicates_b = _paired_replicates(
        spec, data_a, data_b, n_resamples, rng
    )
    # At most one side is infinite (raised above): no inf - inf.
    resampled = replicates_a - replicates_b
    low, high = interval_ends(resampled, difference, confidence_level, "percentile")
    spread = bootstrap_spread(resampled)

    if spec.name in ("log_loss", "brier_score"):
        test = "diebold-mariano"
        d = row_scores(spec.name, data_a) - row_scores(spec.name, data_b)
        statistic = _statistic(*weighted_mean_and_se(d, fc_a.sample_weight))
    else:
        test = "bootstrap"
        statistic = _statistic(difference, spread)
    p_value = _two_sided_normal(statistic)
    return PairedComparison(
        metric=spec.name,
        score_a=score_a,
        score_b=score_b,
        difference=difference,
        low=low,
        high=high,
        standard_error=spread,
        statistic=float(statistic),
        p_value=float(p_value),
        test=test,
        confidence_level=float(confidence_level),
        n_resamples=int(n_resamples),
    )


def _check_one(y_true, y_prob, name, **options):
    """:func:`check_forecasts` of one of the two forecasts; a complaint about
    ``y_prob`` says which of them it is."""
    try:
        return check_forecasts(y_true, y_prob, **options)
    except (TypeError, ValueError) as error:
        if "y_prob" not in str(error):
            raise
        kind = TypeError if isinstance(error, TypeError) else ValueError
        raise kind(f"{name}: {error}") from error


def _paired_replicates(spec, data_a, data_b, n_resamples, rng):
    """Both forecasts' metric on the same resamples.

    The two data sets share rows and weights, so one generator state drawn
    twice from the same seed gives the same count vectors.
    """
    state = rng.bit_generator.state
    (a,) = bootstrap_replicates([spec], data_a, n_resamples, rng)
    rng.bit_generator.state = state
    (b,) = bootstrap_replicates([spec], data_b, n_resamples, rng)
    return a, b


def _statistic(difference, se):
    """``difference / se``, the test statistic, at the edges too.

    An infinite difference (one forecast certain and wrong) is certain: the
    statistic is infinite. A standard error of 0 (the two forecasts differ
    by the same amount on every resample, e.g. identical forecasts) gives 0
    for no difference and an infinite statistic otherwise.
    """
    if math.isinf(difference):
        return difference
    if math.isnan(difference) or math.isnan(se):
        return math.nan
    if se == 0:
        return 0.0 if difference == 0 else math.copysign(math.inf, difference)
    return difference / se


def _two_sided_normal(statistic):
    from scipy.special import ndtr

    if math.isnan(statistic):
        return math.nan
    return 2.0 * float(ndtr(-abs(statistic)))

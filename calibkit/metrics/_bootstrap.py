"""Confidence intervals for the metrics: a vectorised bootstrap and closed forms.

A bootstrap resample of n rows is n row numbers drawn with replacement, or
equivalently a vector of counts (how often each row was drawn, a multinomial
vector summing to n). A metric of the resample is the metric of the rows
weighted by ``count * sample_weight``, so no resampled copy of the data set is
built; a block of resamples is one (resamples x rows) array of row numbers:

- mean scores (log-loss, Brier) are per-row values gathered at the drawn rows
  and summed along each resample, one vectorised pass per block;
- binned metrics (ECE, the binned decomposition) are per-resample bin totals:
  one ``np.bincount`` of the drawn rows' bin numbers, offset by resample;
- everything else (CORP decompositions, multiclass decompositions, a metric
  passed as a function) is computed resample by resample on the count
  weights.

Blocks hold about ``_BLOCK`` (resamples x rows) draws, so memory stays bounded
however many resamples are asked for.
"""

import dataclasses
import functools
import math
import numbers
import warnings
from dataclasses import dataclass

import numpy as np
from scipy.special import entr

from calibkit._chunks import row_chunks
from calibkit._results import Result
from calibkit._validation import count, interval, options, validate_params
from calibkit.exceptions import CalibrationWarning
from calibkit.metrics._binning import Binning
from calibkit.metrics._inputs import (
    FORECAST_CONSTRAINTS,
    as_probabilities,
    check_forecasts,
)
from calibkit.metrics._kernels import (
    binary_entropy,
    logit_log_losses,
    observed_log_losses,
    scaled_to_unit_max,
    squared_errors,
    top_label,
)
from calibkit.metrics._reliability import N_BINS

__all__ = ["ConfidenceInterval", "confidence_interval"]

#: Elements (resamples x rows) of one block of count vectors: 4 Mi, 32 MB of
#: float64, whatever the number of rows.
_BLOCK = 1 << 22

#: Metrics with a vectorised bootstrap or a closed form, by name.
METRICS = (
    "log_loss",
    "brier_score",
    "expected_calibration_error",
    "miscalibration",
    "discrimination",
    "uncertainty",
    "refinement",
    "smooth_ece",
)
_TERMS = ("miscalibration", "discrimination", "uncertainty", "refinement")

#: Options each named metric takes (those of its function).
_OPTIONS = {
    "log_loss": (),
    "brier_score": (),
    "expected_calibration_error": (
        "n_bins",
        "strategy",
        "norm",
        "multiclass",
        "debias",
    ),
    **dict.fromkeys(_TERMS, ("score", "strategy", "n_bins", "multiclass")),
    "smooth_ece": ("bandwidth", "multiclass"),
}

_INTERVAL_METHODS = ("percentile", "basic", "normal")


@dataclass(frozen=True, repr=False)
class ConfidenceInterval(Result):
    """A metric with its confidence interval, from :func:`confidence_interval`.

    Parameters
    ----------
    metric : str
        Name of the metric (a decomposition term by its name, a function by
        its ``__name__``).
    estimate : float
        The metric of the data (as the metric function returns it).
    low, high : float
        The interval's ends.
    standard_error : float
        Standard deviation of the bootstrap distribution (ddof 1), or the
        closed-form standard error for ``method="normal"``.
    confidence_level : float
        Coverage the interval is built for.
    method : str
        ``"percentile"``, ``"basic"`` or ``"normal"``.
    n_resamples : int or None
        Bootstrap resamples; None for ``method="normal"``.
    bootstrap_distribution : ndarray of shape (n_resamples,) or None
        The metric of each resample; None for ``method="normal"``.

    Examples
    --------
    >>> from calibkit.metrics import confidence_interval
    >>> y, p = [0, 1, 1, 0, 1, 0], [0.1, 0.8, 0.6, 0.3, 0.9, 0.4]
    >>> ci = confidence_interval("brier_score", y, p, method="normal")
    >>> round(ci.estimate, 4), round(ci.low, 4), round(ci.high, 4)
    (0.0783, 0.0226, 0.1341)
    >>> ci.to_frame()[["metric", "estimate", "method"]]
            metric  estimate  method
    0  brier_score  0.078333  normal
    """

    metric: str
    estimate: float
    low: float
    high: float
    standard_error: float
    confidence_level: float
    method: str
    n_resamples: int | None
    bootstrap_distribution: np.ndarray | None

    def to_frame(self):
        """The interval as a one-row pandas DataFrame.

        Returns
        -------
        pandas.DataFrame
            Columns ``metric``, ``estimate``, ``low``, ``high``,
            ``standard_error``, ``confidence_level``, ``method`` and
            ``n_resamples`` (the bootstrap distribution is left out).
        """
        import pandas as pd

        row = self.to_dict()
        del row["bootstrap_distribution"]
        return pd.DataFrame([row])


@validate_params(
    {
        **FORECAST_CONSTRAINTS,
        "metric": [str, callable],
        "method": [options(_INTERVAL_METHODS)],
        "n_resamples": [count()],
        "confidence_level": [interval(numbers.Real, 0, 1, closed="neither")],
        "random_state": "no_validation",  # checked by numpy.random.default_rng
    }
)
def confidence_interval(
    metric,
    y_true,
    y_prob,
    *,
    method="percentile",
    n_resamples=1000,
    confidence_level=0.95,
    random_state=None,
    sample_weight=None,
    labels=None,
    pos_label=None,
    input="probabilities",
    **metric_options,
):
    """Confidence interval of a metric: bootstrap, or a closed form.

    Parameters
    ----------
    metric : str or callable
        ``"log_loss"``, ``"brier_score"``, ``"expected_calibration_error"``,
        or a term of :func:`decompose`: ``"miscalibration"``,
        ``"discrimination"``, ``"uncertainty"``, ``"refinement"``, or
        ``"smooth_ece"`` (resampled one at a time, no closed form). The
        functions :func:`log_loss`, :func:`brier_score`,
        :func:`expected_calibration_error` and :func:`smooth_ece` themselves
        are accepted for their names. Any other callable ``metric(y_true, y_prob, *,
        sample_weight=None, **metric_options) -> float`` is bootstrapped one
        resample at a time (see Notes).
    y_true : array-like of shape (n_samples,)
        Observed labels.
    y_prob : array-like of shape (n_samples,) or (n_samples, n_classes)
        Forecasts, as the metric takes them. A mapping ``{name: y_prob}``
        gives one row per model in a pandas DataFrame (with a ``model``
        column first), each model resampled with the same seed.
    method : {"percentile", "basic", "normal"}, default="percentile"
        ``"percentile"``: the quantiles of the bootstrap distribution.
        ``"basic"``: the percentile interval reflected about the estimate
        (``2 estimate - high, 2 estimate - low``). ``"normal"``: a closed
        form, no resampling: the central-limit interval of a mean score
        (log-loss, Brier) and the delta method for the uncertainty term;
        the other metrics have none (ValueError). An infinite estimate (a
        forecast certain and wrong on some row) gives ``(inf, inf)`` with
        ``"basic"`` and ``"normal"``.
    n_resamples : int, default=1000
        Bootstrap resamples (ignored by ``"normal"``).
    confidence_level : float, default=0.95
        Coverage of the interval, in (0, 1).
    random_state : None, int or numpy.random.Generator, default=None
        Seed of the resamples (``numpy.random.default_rng``): the same seed
        gives the same interval.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative row weights. The bootstrap draws rows with equal
        probability and multiplies their weights by the counts; rows of zero
        weight are left out of the resampling.
    labels : array-like, default=None
        All class labels, when ``y_true`` does not contain every class.
    pos_label : label, default=None
        The class a 1-D ``y_prob`` refers to.
    input : {"probabilities", "logits"}, default="probabilities"
        What ``y_prob`` holds.
    **metric_options
        Options of the metric: ``n_bins``, ``strategy``, ``norm``,
        ``multiclass``, ``debias`` for the ECE; ``score``, ``strategy``,
        ``n_bins``, ``multiclass`` for the decomposition terms; anything a
        callable metric takes.

    Returns
    -------
    ConfidenceInterval or pandas.DataFrame
        The estimate, the interval, the standard error and the bootstrap
        distribution; a DataFrame with a ``model`` column for a mapping of
        forecasts.

    Raises
    ------
    ValueError
        For an unknown metric name, ``method="normal"`` for a metric without
        a closed form, or an option the metric does not take (TypeError).

    See Also
    --------
    compare_forecasts : The paired difference of two forecasts' scores.

    Notes
    -----
    **Bootstrap.** Each resample is a multinomial count vector ``c`` (n rows
    drawn with replacement), and the metric of the resample is the metric
    with weights ``c_i w_i``: integer weights are repeated rows, so this is
    exactly the metric of the resampled data set. Log-loss and Brier score:
    one gather-and-sum of the drawn rows' scores per block of resamples. ECE
    and the binned decomposition terms: per-resample bin totals (one
    ``np.bincount`` of the drawn rows' bins per block); their bins are those
    of the whole sample (for ``strategy="quantile"`` the edges are not
    re-estimated on each resample).
    The uncertainty term: the resampled base rate. The CORP terms
    (``strategy="isotonic"``, the default of :func:`decompose`), the
    multiclass decomposition terms and callables run one PAV fit (or one
    call) per resample, which at n = 1e5 takes seconds rather than
    milliseconds. The percentile interval of a biased estimator (binned ECE
    overestimates a small calibration error) inherits its bias: the interval
    covers the expected value of the estimator, not the true error. The CORP
    terms are refitted on each resample, and a resample (rows repeated,
    fewer distinct forecasts) overfits more than the sample: the bootstrap
    distribution of the miscalibration sits above the estimate, which itself
    sits above the truth, so the percentile interval can lie entirely above
    the estimate. ``method="basic"`` reflects the distribution about the
    estimate and so removes the bootstrap's share of that bias; prefer it
    for the CORP terms.

    **Weights.** The rows are what is resampled: each row of positive weight
    is drawn with probability 1/n and keeps its weight, so weights act as
    importance (survey) weights. Integer weights are therefore not the same
    as repeated rows here (repeated rows would be drawn separately); repeat
    the rows to bootstrap them as counts.

    **Closed forms** (``method="normal"``). For a weighted mean score
    :math:`\\bar L = \\sum_i w_i l_i / \\sum_i w_i`, the standard error is

    .. math:: \\mathrm{se}^2 = \\frac{n}{n - 1} \\frac{\\sum_i w_i^2
       (l_i - \\bar L)^2}{(\\sum_i w_i)^2},

    which for unit weights is the sample variance over n; the interval is
    :math:`\\bar L \\pm z\\,\\mathrm{se}`. For the uncertainty term
    :math:`U(\\bar y)` the delta method gives :math:`|U'(\\bar y)|\\,
    \\mathrm{se}(\\bar y)`, with :math:`U' = \\ln((1 - \\bar y)/\\bar y)`
    (log-loss) or :math:`1 - 2\\bar y` (Brier).

    References
    ----------
    .. [1] Efron, B., & Tibshirani, R. J. (1993). An Introduction to the
       Bootstrap. Chapman & Hall. doi:10.1201/9780429246593
    .. [2] Dimitriadis, T., Gneiting, T., & Jordan, A. I. (2021). Stable
       reliability diagrams for probabilistic classifiers. PNAS 118(8).
       doi:10.1073/pnas.2016191118

    Examples
    --------
    >>> import numpy as np
    >>> from calibkit.metrics import confidence_interval
    >>> rng = np.random.default_rng(0)
    >>> p = rng.uniform(0.1, 0.9, 2000)
    >>> y = (rng.uniform(size=2000) < p).astype(int)
    >>> ci = confidence_interval("log_loss", y, p, random_state=0)
    >>> bool(ci.low < ci.estimate < ci.high)
    True
    >>> normal = confidence_interval("log_loss", y, p, method="normal")
    >>> round(normal.standard_error, 4)
    0.0098
    """
    from calibkit.metrics._many import is_model_mapping, per_model

    if is_model_mapping(y_prob):
        if not isinstance(random_state, numbers.Integral):
            # One seed for all models (a Generator would move on between them).
            random_state = int(check_random_state(random_state).integers(2**63))
        return per_model(
            confidence_interval,
            y_true,
            y_prob,
            first=metric,
            method=method,
            n_resamples=n_resamples,
            confidence_level=confidence_level,
            random_state=random_state,
            sample_weight=sample_weight,
            labels=labels,
            pos_label=pos_label,
            input=input,
            **metric_options,
        )
    spec = metric_spec(metric, metric_options)
    if method == "normal" and spec.normal is None:
        msg = (
            f"method='normal' has no closed form for {spec.name}; use "
            "method='percentile' or 'basic' (bootstrap)."
        )
        raise ValueError(msg)
    fc = check_forecasts(
        y_true,
        y_prob,
        sample_weight=sample_weight,
        labels=labels,
        pos_label=pos_label,
        input=input,
    )
    data = Data(fc=fc, input=input, y_true=y_true, y_prob=y_prob)
    estimate = float(spec.estimate(data))
    if method == "normal":
        se = spec.normal(data)
        if se is None:
            msg = (
                f"method='normal' has no closed form for {spec.name} of a "
                "multiclass forecast; use method='percentile' or 'basic'."
            )
            raise ValueError(msg)
        low, high = _normal_ends(estimate, se, confidence_level)
        return ConfidenceInterval(
            metric=spec.name,
            estimate=estimate,
            low=low,
            high=high,
            standard_error=float(se),
            confidence_level=float(confidence_level),
            method=method,
            n_resamples=None,
            bootstrap_distribution=None,
        )
    rng = check_random_state(random_state)
    replicates = bootstrap_replicates([spec], data, n_resamples, rng)[0]
    return interval_of_replicates(spec, estimate, replicates, confidence_level, method)


def interval_of_replicates(spec, estimate, replicates, confidence_level, method):
    """The :class:`ConfidenceInterval` of ``spec`` from its bootstrap replicates."""
    low, high = interval_ends(replicates, estimate, confidence_level, method)
    return ConfidenceInterval(
        metric=spec.name,
        estimate=estimate,
        low=low,
        high=high,
        standard_error=float(bootstrap_spread(replicates)),
        confidence_level=float(confidence_level),
        method=method,
        n_resamples=int(replicates.shape[0]),
        bootstrap_distribution=replicates,
    )


# --- metric specifications ------------------------------------------------------


@dataclass(frozen=True)
class Data:
    """Validated forecasts, with what the user passed (for callables)."""

    fc: object
    input: str
    y_true: object
    y_prob: object

    def public(self, function, **options):
        """``function`` (a public metric) of the validated forecasts: the
        function's own checks of ``options`` apply (a bad ``strategy`` or
        ``n_bins`` is refused, not bootstrapped).

        The labels are the validated class codes (``labels`` lists them all,
        in the order of the columns). The caller is a decorated public
        function, inside which scikit-learn skips the checks of nested
        calls; they are switched back on here.
        """
        from sklearn import config_context

        fc = self.fc
        with config_context(skip_parameter_validation=False):
            return function(
                fc.y,
                fc.prob,
                sample_weight=fc.sample_weight,
                labels=np.arange(max(fc.n_classes, 2)),
                input=self.input,
                **options,
            )

    @functools.cached_property
    def prob(self):
        """Validated forecasts as probabilities (computed once: logits are
        not run through the softmax again for every resample)."""
        return as_probabilities(self.fc, self.input)


@dataclass(frozen=True)
class MetricSpec:
    """How to compute one metric: on the data, per resample, in closed form.

    ``estimate(data)`` is the metric of the data; ``prepare(data, rows)``
    returns a function of a block of count vectors (one row per resample,
    one column per counted row) giving the metric of each resample, or None
    when the metric is computed one resample at a time by ``one(data, rows,
    weights, memo)`` (``memo``: a dict the specs of one resample share);
    ``normal(data)`` is the closed-form standard error or None.
    """

    name: str
    estimate: object
    prepare: object
    one: object
    normal: object


def metric_spec(metric, metric_options):
    """The :class:`MetricSpec` of a metric name or function, with its options."""
    from calibkit.metrics import (
        brier_score,
        expected_calibration_error,
        log_loss,
        smooth_ece,
    )

    known = {
        log_loss: "log_loss",
        brier_score: "brier_score",
        expected_calibration_error: "expected_calibration_error",
        smooth_ece: "smooth_ece",
    }
    if callable(metric) and metric in known:
        metric = known[metric]
    if callable(metric):
        return _callable_spec(metric, metric_options)
    if metric not in METRICS:
        msg = f"metric must be one of {list(METRICS)} or a function; got {metric!r}."
        raise ValueError(msg)
    unknown = sorted(set(metric_options) - set(_OPTIONS[metric]))
    if unknown:
        msg = (
            f"{metric} takes the options {list(_OPTIONS[metric])}; got {unknown[0]!r}."
        )
        raise TypeError(msg)
    if metric in ("log_loss", "brier_score"):
        return _mean_score_spec(metric)
    if metric == "expected_calibration_error":
        return _ece_spec(metric_options)
    if metric == "smooth_ece":
        return _smooth_spec(metric_options)
    return _term_spec(metric, metric_options)


def _mean_score_spec(name):
    def estimate(data):
        from calibkit.metrics._scores import _brier_score, _log_loss

        if name == "log_loss":
            return _log_loss(data.fc, input=data.input)
        return _brier_score(data.prob)

    def prepare(data, rows):
        losses = row_scores(name, data)[rows]
        return _mean_replicates(losses, _row_weights(data.fc, rows))

    def normal(data):
        return weighted_mean_and_se(row_scores(name, data), data.fc.sample_weight)[1]

    return MetricSpec(name, estimate, prepare, None, normal)


def row_scores(name, data):
    """Per-row log-loss or Brier score, float64 (inf where certain and wrong).

    Computed in row chunks, so a float32 matrix of forecasts is never copied
    whole to float64.
    """
    fc = data.fc if name == "log_loss" else data.prob
    if name == "log_loss":
        kernel = logit_log_losses if data.input == "logits" else observed_log_losses
    else:
        kernel = squared_errors
    n = fc.y.shape[0]
    out = np.empty(n)
    n_cols = 1 if fc.prob.ndim == 1 else fc.prob.shape[1]
    with np.errstate(divide="ignore", over="ignore"):
        for rows in row_chunks(n, n_cols):
            out[rows] = kernel(fc.prob[rows], fc.y[rows])
    return out


def _row_weights(fc, rows):
    """Weights of the counted rows, scaled to a maximum near 1 (exactly, by a
    power of two): the replicates depend only on their ratios, and products
    with large scores or forecasts cannot overflow."""
    if fc.sample_weight is None:
        return None
    return scaled_to_unit_max(fc.sample_weight)[rows]


def _mean_replicates(values, w):
    """Resample means of ``values`` (inf kept: a resample holding an inf is inf)."""
    infinite = np.isinf(values)
    finite = np.where(infinite, 0.0, values)
    weighted = finite if w is None else w * finite
    hits = infinite.astype(np.float64)

    any_infinite = bool(infinite.any())

    def replicate(block):
        total = block.sums(weighted)
        weight = block.n_rows if w is None else block.sums(w)
        out = total / weight
        if any_infinite:
            out[block.sums(hits) > 0] = np.inf
        return out

    return replicate


def weighted_mean_and_se(values, w):
    """Weighted mean of ``values`` and its standard error (ratio estimator).

    Rows of zero weight are left out (also from n). Only ratios of weights
    matter, so they are scaled to a maximum near 1 (exactly, by a power of
    two) and their squares can neither overflow nor underflow. The standard
    error is NaN below two rows and inf when a value is infinite (the mean
    is then infinite, or NaN when both signs occur).
    """
    if w is not None:
        keep = w > 0
        values, w = values[keep], scaled_to_unit_max(w[keep])
    n = values.shape[0]
    with np.errstate(invalid="ignore"):  # +inf and -inf: NaN, said below
        mean = float(np.average(values, weights=w))
    if n < 2:
        return mean, math.nan
    if not np.all(np.isfinite(values)):
        return mean, math.inf
    # Deviations scaled by the largest value: scores near 1e300 (logits of
    # that size on the wrong side) would overflow when squared.
    scale = float(np.max(np.abs(values)))
    if scale == 0:
        return mean, 0.0
    deviations = (values - mean) / scale
    if w is None:
        return mean, scale * float(np.std(deviations, ddof=1) / math.sqrt(n))
    total = np.sum(w)
    variance = np.dot(w**2, deviations**2) / total**2
    return mean, scale * float(math.sqrt(variance * n / (n - 1)))


# --- binned: expected calibration error -----------------------------------------


def _ece_spec(metric_options):
    settings = {
        "n_bins": metric_options.get("n_bins", N_BINS),
        "strategy": metric_options.get("strategy", "uniform"),
        "norm": metric_options.get("norm", "l1"),
        "multiclass": metric_options.get("multiclass", "top_label"),
        "debias": metric_options.get("debias", False),
    }

    def estimate(data):
        from calibkit.metrics import expected_calibration_error

        return data.public(expected_calibration_error, **settings)

    def prepare(data, rows):
        fc = data.prob
        # Unscaled: the debiased L2 ECE counts a bin's weight as rows (its
        # W - 1), and w x, w t (forecasts and outcomes in [0, 1]) cannot
        # overflow.
        w = None if fc.sample_weight is None else fc.sample_weight[rows]
        if settings["multiclass"] == "top_label":
            # Two vectors from a chunked pass; the matrix is never copied.
            predicted, confidence = top_label(fc.prob)
            confidence = confidence[rows]
            right = predicted[rows] == fc.y[rows]
            pairs = [(lambda: confidence, lambda: right)]
        else:
            pairs = list(_class_pairs(fc, rows))
        parts = [
            _binned_totals(x_of, t_of, w, settings["n_bins"], settings["strategy"])
            for x_of, t_of in pairs
        ]

        def replicate(block):
            errors = [
                _ece_of_totals(*part(block), settings["norm"], settings["debias"])
                for part in parts
            ]
            return np.mean(errors, axis=0)

        return replicate

    return MetricSpec("expected_calibration_error", estimate, prepare, None, None)


def _class_pairs(fc, rows):
    """Functions giving each class's ``(p_k, 1{y = k})`` at ``rows``.

    The columns are taken when asked for (once per block of resamples), so
    that no per-class float vector is kept: K of them would outweigh the
    (n, K) forecasts themselves.
    """
    y = fc.y[rows]
    if fc.prob.ndim == 1:
        p = np.asarray(fc.prob[rows], dtype=np.float64)
        yield (lambda: 1.0 - p), (lambda: y == 0)
        yield (lambda: p), (lambda: y == 1)
        return
    for k in range(fc.prob.shape[1]):
        yield (
            lambda k=k: np.asarray(fc.prob[rows, k], dtype=np.float64),
            lambda k=k: y == k,
        )


def _binned_totals(x_of, t_of, w, n_bins, strategy):
    """A function of resample blocks giving per-resample bin totals of
    (w, w x, w t), one row per resample, one column per bin of the sample.

    ``x_of()`` and ``t_of()`` give the forecasts and the 0/1 outcomes of the
    counted rows; between blocks only each row's bin (a small integer code)
    is kept. The bins are those of the whole sample (only its non-empty
    ones).
    """
    x = x_of()
    number = Binning(x, w, n_bins, strategy).number(x)
    filled, row_bin = np.unique(number, return_inverse=True)
    del x, number
    n_filled = filled.shape[0]
    if w is None:
        # Unit weights and a 0/1 outcome: one count per (bin, outcome) gives
        # both the bin's weight and its events, saving a weighted pass.
        cell = _small_codes(2 * row_bin + t_of(), 2 * n_filled)

        def totals(block):
            flat = block.offset(cell, 2 * n_filled)
            counts = block.bin_sums(flat, 2 * n_filled)
            events = counts[:, 1::2]
            weight = counts[:, 0::2] + events
            flat >>= 1  # (2 bin + outcome + 2 n j) // 2 = bin + n j
            return [weight, block.bin_sums(flat, n_filled, x_of()), events]

        return totals
    row_bin = _small_codes(row_bin, n_filled)

    def totals(block):
        flat = block.offset(row_bin, n_filled)
        values = (w, w * x_of(), w * t_of())
        return [block.bin_sums(flat, n_filled, v) for v in values]

    return totals


def _small_codes(codes, n_codes):
    """``codes`` (in ``[0, n_codes)``) in the smallest unsigned integer dtype."""
    return codes.astype(np.min_scalar_type(max(n_codes - 1, 0)), copy=False)


def _ece_of_totals(weight, sum_x, sum_t, norm, debias):
    """ECE per resample (rows) from bin totals; empty bins count nowhere."""
    filled = weight > 0
    safe = np.where(filled, weight, 1.0)
    gap = (sum_t - sum_x) / safe
    share = weight / weight.sum(axis=1, keepdims=True)
    if norm == "l1":
        return np.sum(share * np.abs(gap), axis=1)
    if norm == "max":
        return np.max(np.where(filled, np.abs(gap), 0.0), axis=1)
    if not debias:
        return np.sqrt(np.sum(share * gap**2, axis=1))
    frequency = sum_t / safe
    enough = weight >= 2
    correction = frequency * (1.0 - frequency) / np.where(enough, weight - 1.0, 1.0)
    squared = np.where(enough, gap**2 - correction, 0.0)
    return np.sqrt(np.maximum(0.0, np.sum(share * squared, axis=1)))


# --- decomposition terms --------------------------------------------------------


def _smooth_spec(metric_options):
    settings = {
        "bandwidth": metric_options.get("bandwidth", "auto"),
        "multiclass": metric_options.get("multiclass", "top_label"),
    }

    def estimate(data):
        from calibkit.metrics import smooth_ece

        return data.public(smooth_ece, **settings)

    def one(data, rows, weights, memo):
        from calibkit.metrics._smooth import _smooth_ece

        return _smooth_ece(_resampled(data.prob, rows, weights), **settings)

    # No vectorised replicates and no closed form: one resample at a time,
    # each a chunked deposit on the grid and a few FFT convolutions.
    return MetricSpec("smooth_ece", estimate, lambda data, rows: None, one, None)


def _resampled(fc, rows, weights):
    """The validated forecasts of ``rows`` with the resample's ``weights``."""
    return dataclasses.replace(
        fc, y=fc.y[rows], prob=fc.prob[rows], sample_weight=weights
    )


def _term_spec(term, metric_options):
    settings = {
        "score": metric_options.get("score", "log"),
        "strategy": metric_options.get("strategy", "isotonic"),
        "n_bins": metric_options.get("n_bins", N_BINS),
        "multiclass": metric_options.get("multiclass", "classwise"),
    }

    def decomposition(fc):
        from calibkit.metrics._decomposition import _decompose

        return _decompose(fc, **settings)

    def estimate(data):
        from calibkit.metrics import decompose

        return getattr(data.public(decompose, **settings), term)

    def one(data, rows, weights, memo):
        key = ("decomposition", *settings.items())
        if key not in memo:
            memo[key] = decomposition(_resampled(data.prob, rows, weights))
        return getattr(memo[key], term)

    def prepare(data, rows):
        fc = data.prob
        if term == "uncertainty":
            return _uncertainty_replicates(fc, rows, settings["score"])
        if not fc.is_binary or settings["strategy"] == "isotonic":
            return None
        return _binned_term_replicates(fc, rows, term, settings)

    def normal(data):
        fc = data.prob
        y = (fc.y == 1).astype(np.float64) if fc.is_binary else None
        if y is None:
            return None
        base, se = weighted_mean_and_se(y, fc.sample_weight)
        if se == 0:  # one class only: no spread (and an infinite log slope)
            return 0.0
        if settings["score"] == "log":
            slope = abs(math.log((1.0 - base) / base))
        else:
            slope = abs(1.0 - 2.0 * base)
        return slope * se

    return MetricSpec(
        term, estimate, prepare, one, normal if term == "uncertainty" else None
    )


def _uncertainty_replicates(fc, rows, score):
    """UNC of each resample from its class frequencies."""
    w = _row_weights(fc, rows)
    y = fc.y[rows]
    n_classes = 2 if fc.is_binary else fc.n_classes

    def replicate(block):
        flat = block.offset(y, n_classes)
        totals = block.bin_sums(flat, n_classes, w)
        frequencies = totals / totals.sum(axis=1, keepdims=True)
        if score == "log":
            return np.sum(entr(frequencies), axis=1)
        # Binary: ȳ(1 - ȳ) of the positive class (the two columns' sum halved).
        halved = 0.5 if fc.is_binary else 1.0
        return halved * np.sum(frequencies * (1.0 - frequencies), axis=1)

    return replicate


def _binned_term_replicates(fc, rows, term, settings):
    """Binary binned decomposition terms per resample.

    With bin weights W_b and event weights P_b, the refinement is
    Σ W_b h(P_b / W_b) / Σ W_b (h the entropy or ȳ(1 - ȳ)), UNC = h(ȳ),
    MCB = score - refinement and DSC = UNC - refinement; the score is a mean
    of per-row scores.
    """
    q = fc.prob[rows]
    y = fc.y[rows]
    w = _row_weights(fc, rows)
    x = np.asarray(q, dtype=np.float64)
    totals = _binned_totals(
        lambda: x, lambda: y == 1, w, settings["n_bins"], settings["strategy"]
    )
    log = settings["score"] == "log"
    if log:
        with np.errstate(divide="ignore"):
            losses = observed_log_losses(q, y)
    else:
        losses = squared_errors(q, y)
    scores = _mean_replicates(losses, w)

    def h(p):
        return binary_entropy(p) if log else p * (1.0 - p)

    def replicate(block):
        weight, _, events = totals(block)
        total = weight.sum(axis=1)
        frequency = events / np.where(weight > 0, weight, 1.0)
        refinement = np.sum(weight * h(frequency), axis=1) / total
        if term == "refinement":
            return refinement
        if term == "discrimination":
            return h(events.sum(axis=1) / total) - refinement
        return scores(block) - refinement

    return replicate


# --- callables ------------------------------------------------------------------


def _callable_spec(function, metric_options):
    name = getattr(function, "__name__", type(function).__name__)

    def call(y_true, y_prob, weights):
        try:
            value = function(y_true, y_prob, sample_weight=weights, **metric_options)
        except TypeError as error:
            if "keyword argument 'sample_weight'" not in str(error):
                raise
            msg = (
                "metric must take sample_weight= (the bootstrap passes each "
                f"resample's counts as weights); {name} does not: {error}"
            )
            raise TypeError(msg) from error
        scalar = isinstance(value, numbers.Real) and not isinstance(value, bool)
        if not (scalar or (isinstance(value, np.ndarray) and value.shape == ())):
            msg = (
                f"metric must return a number; {name} returned a "
                f"{type(value).__name__}. Wrap it to return one value "
                "(e.g. a field of its result)."
            )
            raise TypeError(msg)
        return float(value)

    def estimate(data):
        return call(data.y_true, data.y_prob, data.fc.sample_weight)

    def one(data, rows, weights, memo):
        return call(_take(data.y_true, rows), _take(data.y_prob, rows), weights)

    return MetricSpec(name, estimate, lambda data, rows: None, one, None)


def _take(values, rows):
    if hasattr(values, "iloc"):
        return values.iloc[rows]
    if hasattr(values, "__array__") or isinstance(values, list | tuple):
        return np.asarray(values)[rows]
    return values[rows]


# --- the resampling loop --------------------------------------------------------


def check_random_state(random_state):
    """``numpy.random.default_rng(random_state)``, with a message naming it."""
    try:
        return np.random.default_rng(random_state)
    except (TypeError, ValueError):
        msg = (
            "random_state must be None, a non-negative int or a "
            f"numpy.random.Generator; got {random_state!r}."
        )
        raise TypeError(msg) from None


class Resamples:
    """A block of bootstrap resamples of ``n_rows`` rows.

    ``draws[j]`` holds the row numbers drawn for resample j (``n_rows`` of
    them, with replacement); ``counts`` (built on first use) how often each
    row was drawn, one multinomial vector per resample.
    """

    def __init__(self, draws, n_rows):
        self.draws = draws
        self.n_rows = n_rows
        self._counts = None

    @classmethod
    def draw(cls, rng, n_rows, size):
        """``size`` resamples drawn by ``rng``."""
        return cls(rng.integers(0, n_rows, size=(size, n_rows)), n_rows)

    @property
    def size(self):
        return self.draws.shape[0]

    @property
    def counts(self):
        """(size, n_rows) float64 counts of each row in each resample."""
        if self._counts is None:
            flat = self.offset(np.arange(self.n_rows), self.n_rows)
            counts = np.bincount(flat.ravel(), minlength=self.size * self.n_rows)
            self._counts = counts.reshape(self.size, self.n_rows).astype(np.float64)
        return self._counts

    def sums(self, values):
        """Per-resample sums of a per-row array over the drawn rows."""
        return values[self.draws].sum(axis=1)

    def offset(self, group_of_row, n_groups):
        """Group numbers of the drawn rows, resample j's shifted by j n_groups."""
        flat = group_of_row[self.draws].astype(np.intp, copy=False)
        flat += (n_groups * np.arange(self.size))[:, None]
        return flat

    def bin_sums(self, flat, n_groups, values=None):
        """(size, n_groups) totals of ``values`` (None: of ones) per group."""
        weights = None if values is None else values[self.draws].ravel()
        sums = np.bincount(
            flat.ravel(), weights=weights, minlength=self.size * n_groups
        )
        return sums.reshape(self.size, n_groups).astype(np.float64, copy=False)


def block_sizes(n_rows, n_resamples):
    """Resamples per block, each block about ``_BLOCK`` draws."""
    per_block = max(1, _BLOCK // max(n_rows, 1))
    full, rest = divmod(n_resamples, per_block)
    return [per_block] * full + ([rest] if rest else [])


def counted_rows(fc):
    """Indices of the rows that are resampled: those of positive weight."""
    if fc.sample_weight is None:
        return np.arange(fc.y.shape[0])
    return np.flatnonzero(fc.sample_weight > 0)


def bootstrap_replicates(specs, data, n_resamples, rng):
    """The metric of each of ``n_resamples`` resamples, for several metrics.

    All metrics see the same resamples (a paired bootstrap). Returns a list
    of arrays of shape (n_resamples,), one per spec.
    """
    with warnings.catch_warnings():
        # What a resample would warn about (certain-and-wrong rows, a class
        # it lacks) is said once by the metric of the whole data, not once
        # per resample in words about resampled rows.
        warnings.simplefilter("ignore", CalibrationWarning)
        return _replicates(specs, data, n_resamples, rng)


def _replicates(specs, data, n_resamples, rng):
    rows = counted_rows(data.fc)
    n = rows.shape[0]
    prepared = [spec.prepare(data, rows) for spec in specs]
    out = [np.empty(n_resamples) for _ in specs]
    done = 0
    one_at_a_time = [i for i, replicate in enumerate(prepared) if replicate is None]
    for size in block_sizes(n, n_resamples):
        block = Resamples.draw(rng, n, size)
        for replicate, values in zip(prepared, out, strict=True):
            if replicate is not None:
                with np.errstate(divide="ignore", invalid="ignore"):
                    values[done : done + size] = replicate(block)
        for j in range(size if one_at_a_time else 0):
            picked, weights = _resample_rows(data, rows, block.counts[j])
            # Specs of one resample share a memo: the miscalibration and
            # discrimination of one decomposition are computed once.
            memo = {}
            for i in one_at_a_time:
                out[i][done + j] = specs[i].one(data, picked, weights, memo)
        done += size
    return out


def _resample_rows(data, rows, counts):
    """The rows drawn (``counts > 0``) and their weights in one resample."""
    drawn = np.flatnonzero(counts)
    picked = rows[drawn]
    weights = counts[drawn]
    if data.fc.sample_weight is not None:
        weights = weights * data.fc.sample_weight[picked]
    return picked, weights


def _normal_ends(estimate, se, confidence_level):
    """``estimate -+ z se``; (inf, inf) for an infinite estimate."""
    if math.isinf(estimate):
        return estimate, estimate
    z = _normal_quantile(0.5 + confidence_level / 2)
    return float(estimate - z * se), float(estimate + z * se)


def interval_ends(replicates, estimate, confidence_level, method):
    """Percentile or basic interval from the bootstrap distribution.

    An infinite estimate (a forecast certain and wrong on a row: its expected
    score is infinite) reflects to (inf, inf) with ``method="basic"``.
    """
    if method == "basic" and math.isinf(estimate):
        return float(estimate), float(estimate)
    alpha = (1.0 - confidence_level) / 2.0
    finite = np.all(np.isfinite(replicates))
    quantile_method = "linear" if finite else "inverted_cdf"
    low, high = np.quantile(replicates, [alpha, 1.0 - alpha], method=quantile_method)
    if method == "basic":
        low, high = 2.0 * estimate - high, 2.0 * estimate - low
    return float(low), float(high)


def bootstrap_spread(replicates):
    """Standard deviation (ddof 1) of replicates: NaN below two, inf if one is."""
    if replicates.shape[0] < 2 or not np.all(np.isfinite(replicates)):
        return math.nan if replicates.shape[0] < 2 else math.inf
    # Scaled: replicates near 1e300 would overflow when squared.
    scale = float(np.max(np.abs(replicates)))
    if scale == 0:
        return 0.0
    return scale * float(np.std(replicates / scale, ddof=1))


def _normal_quantile(p):
    from scipy.special import ndtri

    return float(ndtri(p))

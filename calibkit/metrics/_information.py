"""Entropy, Kullback–Leibler divergence and cross-entropy for a known truth.

When the true class probabilities ``p`` of each row are known (simulations,
synthetic benchmarks), the expected log-loss of a forecast ``q`` splits exactly
into the irreducible uncertainty and the forecast's excess::

    CE(p, q) = H(p) + KL(p ‖ q)        (row by row, hence also on average)

Every function returns a mean over rows (weighted by ``sample_weight``), in nats.
A 1-D ``p`` or ``q`` is the probability of class 1: the row ``(1 - p, p)``.
"""

import functools
import warnings
from dataclasses import dataclass

import numpy as np
from scipy.special import entr, xlog1py, xlogy

from calibkit._array_api import (
    array_api_space,
    check_device_forecasts,
    host_labels,
    is_on_device,
    mean_information_terms,
)
from calibkit._chunks import as_float64, reduce_rows
from calibkit._results import Result
from calibkit._validation import (
    check_float_array,
    check_probabilities,
    check_sample_weight,
    combine_first_bad_rows,
    external_stacklevel,
    first_bad_rows,
    validate_params,
)
from calibkit.exceptions import CalibrationWarning
from calibkit.metrics._kernels import (
    binary_entropy,
    counted_rows,
    kl_rows,
    total_weight,
    weight_rows,
    weighted_sum,
)

__all__ = [
    "InformationDecomposition",
    "cross_entropy",
    "entropy",
    "information_decomposition",
    "kl_divergence",
]


#: Constraints of the information functions; the contents of ``p`` and ``q``
#: are checked with row numbers in :func:`_check_inputs`.
_CONSTRAINTS = {
    "p": ["array-like"],
    "q": ["array-like"],
    "sample_weight": ["array-like", None],
}


@dataclass(frozen=True, repr=False)
class InformationDecomposition(Result):
    """Mean entropy, KL divergence and cross-entropy of a forecast, in nats.

    ``cross_entropy == entropy + kl_divergence`` up to rounding; each term is
    computed on its own (the KL divergence directly, never as a difference).

    Attributes
    ----------
    entropy : float
        Mean entropy H(p) of the true distributions.
    kl_divergence : float
        Mean divergence KL(p ‖ q) of the forecasts from the truth.
    cross_entropy : float
        Mean cross-entropy CE(p, q): the expected log-loss of q under p.
    """

    entropy: float
    kl_divergence: float
    cross_entropy: float


@validate_params({k: v for k, v in _CONSTRAINTS.items() if k != "q"})
def entropy(p, *, sample_weight=None):
    """Mean Shannon entropy of probability rows, in nats.

    Parameters
    ----------
    p : array-like of shape (n_samples,) or (n_samples, n_classes)
        True class probabilities: 1-D, the probability of class 1 (the row
        ``(1 - p, p)``); 2-D, rows on the simplex (sums within ``K * 1e-6``;
        rows off by up to ``1e-3`` are renormalised with a warning).
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative row weights (integer weights equal repeated rows).

    Returns
    -------
    float
        :math:`\\frac{1}{W}\\sum_i w_i H(p_i)`, between 0 and ``ln(n_classes)``.

    Notes
    -----
    :math:`H(p) = -\\sum_k p_k \\ln p_k` with 0·ln 0 = 0 (Shannon, 1948). For a
    1-D p the complement's term is computed as ``-(1 - p)·log1p(-p)``, which
    keeps full relative accuracy for tiny p.

    References
    ----------
    .. [1] Shannon, C. E. (1948). A mathematical theory of communication. Bell
       System Technical Journal, 27(3), 379–423.
       doi:10.1002/j.1538-7305.1948.tb01338.x
    .. [2] Cover, T. M., & Thomas, J. A. (2006). Elements of Information
       Theory (2nd ed.). Wiley. doi:10.1002/047174882X

    Examples
    --------
    >>> from calibkit.metrics import entropy
    >>> round(entropy([0.5, 0.0]), 4)
    0.3466
    >>> round(entropy([[0.25, 0.25, 0.5]]), 4)
    1.0397
    """
    p, _, w = _check_inputs(p, None, sample_weight)
    return _mean_terms(p, None, w, ("entropy",))["entropy"]


@validate_params(_CONSTRAINTS)
def kl_divergence(p, q, *, sample_weight=None):
    """Mean Kullback–Leibler divergence KL(p ‖ q) of forecasts from the truth.

    Parameters
    ----------
    p : array-like of shape (n_samples,) or (n_samples, n_classes)
        True class probabilities (1-D: probability of class 1).
    q : array-like of the same shape as ``p``
        Forecast probabilities.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative row weights (integer weights equal repeated rows).

    Returns
    -------
    float
        :math:`\\frac{1}{W}\\sum_i w_i \\mathrm{KL}(p_i \\| q_i)` in nats; ``inf``
        when some row has :math:`q_k = 0 < p_k`.

    Warns
    -----
    CalibrationWarning
        When the result is infinite, naming the first rows responsible.

    Notes
    -----
    :math:`\\mathrm{KL}(p \\| q) = \\sum_k p_k \\ln(p_k / q_k)` with 0·ln(0/q) = 0
    (Kullback & Leibler, 1951). It is summed term by term, never as
    CE − H, which loses all accuracy to cancellation when the forecast is close
    to the truth. Each term is written as
    :math:`p_k \\varphi(t_k) - (q_k - p_k)` with :math:`t_k = (q_k - p_k)/p_k`
    and :math:`\\varphi(t) = t - \\ln(1 + t) \\ge 0`; for :math:`|t| \\le 1/4`,
    :math:`\\varphi` is evaluated from the series
    :math:`\\ln(1+t) = 2\\operatorname{atanh}(t/(2+t))`, elsewhere as
    :math:`p(\\ln p - \\ln q) + (q - p)`. The differences :math:`q_k - p_k` are
    exact for close values, so the result keeps about 1e-12 relative accuracy
    even at KL ≈ 1e-13, where a plain ``sum(rel_entr(p, q))`` is off by
    ~1e-8 (2-D) or entirely (1-D, where ``1 - p`` is rounded). Rows are used as
    given, not renormalised.

    References
    ----------
    .. [1] Kullback, S., & Leibler, R. A. (1951). On information and
       sufficiency. Annals of Mathematical Statistics, 22(1), 79–86.
       doi:10.1214/aoms/1177729694
    .. [2] Cover, T. M., & Thomas, J. A. (2006). Elements of Information
       Theory (2nd ed.). Wiley. doi:10.1002/047174882X

    Examples
    --------
    >>> from calibkit.metrics import kl_divergence
    >>> round(kl_divergence([0.5], [0.25]), 4)
    0.1438
    >>> kl_divergence([[0.2, 0.8]], [[0.2, 0.8]])
    0.0
    """
    p, q, w = _check_inputs(p, q, sample_weight)
    return _mean_terms(p, q, w, ("kl_divergence",))["kl_divergence"]


@validate_params(_CONSTRAINTS)
def cross_entropy(p, q, *, sample_weight=None):
    """Mean cross-entropy CE(p, q): the expected log-loss of q when y ~ p.

    Parameters
    ----------
    p : array-like of shape (n_samples,) or (n_samples, n_classes)
        True class probabilities (1-D: probability of class 1).
    q : array-like of the same shape as ``p``
        Forecast probabilities.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative row weights (integer weights equal repeated rows).

    Returns
    -------
    float
        :math:`\\frac{1}{W}\\sum_i w_i \\mathrm{CE}(p_i, q_i)` in nats; ``inf``
        when some row has :math:`q_k = 0 < p_k`.

    Warns
    -----
    CalibrationWarning
        When the result is infinite, naming the first rows responsible.

    Notes
    -----
    :math:`\\mathrm{CE}(p, q) = -\\sum_k p_k \\ln q_k = H(p) + \\mathrm{KL}(p \\| q)`
    with 0·ln 0 = 0. With one-hot ``p`` it is the log-loss. For a 1-D input the
    complement's term is ``-(1 - p)·log1p(-q)``.

    References
    ----------
    .. [1] Cover, T. M., & Thomas, J. A. (2006). Elements of Information
       Theory (2nd ed.). Wiley. doi:10.1002/047174882X
    .. [2] Gneiting, T., & Raftery, A. E. (2007). Strictly proper scoring
       rules, prediction, and estimation. Journal of the American Statistical
       Association, 102(477), 359–378. doi:10.1198/016214506000001437

    Examples
    --------
    >>> from calibkit.metrics import cross_entropy
    >>> round(cross_entropy([0.5], [0.25]), 4)
    0.837
    """
    p, q, w = _check_inputs(p, q, sample_weight)
    return _mean_terms(p, q, w, ("cross_entropy",))["cross_entropy"]


@validate_params(_CONSTRAINTS)
def information_decomposition(p, q, *, sample_weight=None):
    """Entropy, KL divergence and cross-entropy in one pass: CE = H + KL.

    Parameters
    ----------
    p : array-like of shape (n_samples,) or (n_samples, n_classes)
        True class probabilities (1-D: probability of class 1).
    q : array-like of the same shape as ``p``
        Forecast probabilities.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative row weights (integer weights equal repeated rows).

    Returns
    -------
    InformationDecomposition
        ``entropy``, ``kl_divergence`` and ``cross_entropy`` (means, in nats).

    Warns
    -----
    CalibrationWarning
        When KL and CE are infinite (:math:`q_k = 0 < p_k` in some row).

    Notes
    -----
    The expected log-loss of forecast q when the class is drawn from p splits
    into the uncertainty that no forecast can remove and the forecast's
    excess: :math:`\\mathrm{CE}(p, q) = H(p) + \\mathrm{KL}(p \\| q)`. The three
    means are computed independently (see :func:`kl_divergence` for how the
    divergence stays accurate), so the identity is a check, holding to about
    1e-15 relative to CE.

    References
    ----------
    .. [1] Cover, T. M., & Thomas, J. A. (2006). Elements of Information
       Theory (2nd ed.). Wiley. doi:10.1002/047174882X
    .. [2] Kullback, S., & Leibler, R. A. (1951). On information and
       sufficiency. Annals of Mathematical Statistics, 22(1), 79–86.
       doi:10.1214/aoms/1177729694

    Examples
    --------
    >>> from calibkit.metrics import information_decomposition
    >>> parts = information_decomposition([0.5, 0.9], [0.25, 0.9])
    >>> round(parts.entropy, 4), round(parts.kl_divergence, 4)
    (0.5091, 0.0719)
    >>> round(parts.cross_entropy, 4)
    0.581
    """
    p, q, w = _check_inputs(p, q, sample_weight)
    means = _mean_terms(p, q, w, ("entropy", "kl_divergence", "cross_entropy"))
    return InformationDecomposition(**means)


def _check_inputs(p, q, sample_weight):
    space = array_api_space(p)
    if space is not None:  # p (and q) stay on p's device
        sample_weight = host_labels(sample_weight)
        p = check_device_forecasts(p, name="p", space=space, input="probabilities")
        if q is not None:
            if not is_on_device(q):  # a host q joins p on its device
                q = space.asarray(check_float_array(q, name="q"))
            q = check_device_forecasts(q, name="q", space=space, input="probabilities")
    else:
        p = check_float_array(p, name="p")
        p = check_probabilities(p, name="p")
    if q is not None and space is None:
        q = check_float_array(q, name="q")
        q = check_probabilities(q, name="q")
    if q is not None and tuple(q.shape) != tuple(p.shape):
        msg = (
            f"p and q must have the same shape; got {tuple(p.shape)} and "
            f"{tuple(q.shape)}."
        )
        raise ValueError(msg)
    w = check_sample_weight(sample_weight, p.shape[0])
    return p, q, w


_ROW_TERMS = {
    "entropy": lambda p, q: _row_entropy(p),
    "kl_divergence": kl_rows,
    "cross_entropy": lambda p, q: _row_cross_entropy(p, q),
}


def _terms_kernel(rows, p, q, w, *, names):
    """[weighted sum of each term, then count and first rows where q rules out p]."""
    p = as_float64(p)
    q = None if q is None else as_float64(q)
    counted = counted_rows(w, p.shape[0])
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        sums = []
        for name in names:
            values = _ROW_TERMS[name](p, q)[counted]
            sums.append(weighted_sum(weight_rows(w, counted), values))
        impossible = counted & _impossible_rows(p, q) if q is not None else None
    bad = np.zeros(p.shape[0], dtype=bool) if impossible is None else impossible
    return np.concatenate([sums, first_bad_rows(rows, bad)])


def _mean_terms(p, q, w, names):
    """Weighted means over rows of the requested per-row terms."""
    n_names = len(names)

    def combine(a, b):
        head = a[:n_names] + b[:n_names]
        return np.concatenate([head, combine_first_bad_rows(a[n_names:], b[n_names:])])

    if is_on_device(p):
        sums, n_inf, first = mean_information_terms(p, q, w, names)
        result = [*sums, n_inf]
    else:
        kernel = functools.partial(_terms_kernel, names=names)
        result = reduce_rows(kernel, p, q, w, combine=combine)
        n_inf = int(result[n_names])
        first = [int(r) for r in result[n_names + 1 :] if np.isfinite(r)]
    if n_inf and names != ("entropy",):
        msg = (
            "KL divergence and cross-entropy are infinite: q gives probability 0 "
            f"to a class that p gives positive probability, in {n_inf} rows (first "
            f"at rows {', '.join(map(str, first))})."
        )
        warnings.warn(msg, CalibrationWarning, stacklevel=external_stacklevel())
    total = total_weight(w, p.shape[0])
    return {name: float(result[k]) / total for k, name in enumerate(names)}


def _impossible_rows(p, q):
    """Rows where q gives probability 0 to an outcome that p makes possible."""
    if p.ndim == 1:
        return ((p > 0) & (q == 0)) | ((p < 1) & (q == 1))
    return np.any((p > 0) & (q == 0), axis=1)


def _row_entropy(p):
    if p.ndim == 1:
        return binary_entropy(p)
    return entr(p).sum(axis=1)


def _row_cross_entropy(p, q):
    if p.ndim == 1:
        return -xlogy(p, q) - xlog1py(1.0 - p, -q)
    return -xlogy(p, q).sum(axis=1)

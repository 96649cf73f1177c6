"""Proper scoring rules: the logarithmic score (log-loss) and the Brier score.

Both are means over rows, weighted by ``sample_weight``; logarithms are natural,
so log-losses are in nats. The log-loss is exact: a forecast that gave
probability 0 to the observed class scores ``+inf`` (with a warning), it is never
clipped to a large finite number.
"""

import math
import numbers

import numpy as np

from calibkit._array_api import brier_sum, is_on_device
from calibkit._chunks import reduce_rows
from calibkit._validation import options, validate_params
from calibkit.metrics._inputs import (
    FORECAST_CONSTRAINTS,
    as_probabilities,
    check_forecasts,
)
from calibkit.metrics._kernels import (
    brier_kernel,
    log_loss_sum,
    scaled_to_unit_max,
    total_weight,
    warn_certain_and_wrong,
    weights_or_ones,
)
from calibkit.metrics._many import is_model_mapping, per_model

__all__ = ["brier_score", "log_loss"]


@validate_params(
    {**FORECAST_CONSTRAINTS, "class_weight": [None, options({"balanced"}), dict]}
)
def log_loss(
    y_true,
    y_prob,
    *,
    sample_weight=None,
    labels=None,
    pos_label=None,
    input="probabilities",
    class_weight=None,
):
    """Mean logarithmic score (cross-entropy, log-loss) in nats, computed exactly.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Observed labels (numbers, strings or booleans).
    y_prob : array-like of shape (n_samples,) or (n_samples, n_classes)
        With ``input="probabilities"``: 1-D, the probability of the positive
        class; 2-D, one column per class in the order of ``labels`` (or of the
        sorted labels of ``y_true``), rows summing to 1 (within ``K * 1e-6``
        for K classes; rows off by up to ``1e-3``, as in files saved with few
        decimals, are renormalised with a warning). With ``input="logits"``: 1-D
        log-odds of the positive class, or 2-D logits (any real numbers; only
        their differences within a row matter).
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative row weights. Integer weights give exactly what repeated
        rows give; rows with zero weight are ignored.
    labels : array-like, default=None
        All class labels, when ``y_true`` does not contain every class.
    pos_label : label, default=None
        The class whose probability a 1-D ``y_prob`` holds (default: the greater
        of two labels). When ``y_true`` has more than two classes, a 1-D
        ``y_prob`` with ``pos_label`` is scored one-vs-rest.
    input : {"probabilities", "logits"}, default="probabilities"
        What ``y_prob`` holds.
    class_weight : None, "balanced" or dict, default=None
        Per-class multipliers of ``sample_weight``. ``"balanced"`` makes every
        class present in ``y_true`` count equally (see Notes); a dict maps
        class labels to finite non-negative numbers (classes it omits keep
        weight 1). Only ratios matter: any magnitude up to 1.8e308 works.

    Returns
    -------
    float
        The (weighted) mean of ``-ln q_i(y_i)``, in nats; ``inf`` when a row
        with positive weight gave its observed class probability 0.

    Warns
    -----
    CalibrationWarning
        When the result is infinite: the message gives the number of rows that
        were certain and wrong and the first of them.

    Notes
    -----
    With forecast probabilities :math:`q_{ik}` and weights :math:`v_i`,

    .. math:: \\mathrm{LL} = \\frac{\\sum_i v_i\\,(-\\ln q_{i y_i})}{\\sum_i v_i},

    the logarithmic score of Good (1952). Only the probability of the observed
    class enters, so 0·ln 0 = 0 is implicit; ``q_{i y_i} = 0`` gives ``+inf``.
    A 1-D ``y_prob`` p stands for the rows ``(1 - p, p)``; the loss of a
    negative row is computed as ``-log1p(-p)``.

    From logits :math:`z_i` the loss is :math:`\\operatorname{logsumexp}(z_i) -
    z_{i y_i}`, evaluated as :math:`(m_i - z_{i y_i}) + \\operatorname{log1p}
    (\\sum_{k \\ne k^*} e^{z_{ik} - m_i})` with :math:`m_i = z_{ik^*} = \\max_k
    z_{ik}`: it is accurate to rounding even when the loss is below ``1e-16``
    and finite when the softmax underflows to 0. Only a row whose observed
    logit lies more than the float range (about 1.8e308) below its largest
    one has a loss that float64 cannot hold; it counts as ``+inf`` (certain
    and wrong, with the warning), like a probability 0. 1-D log-odds s are the logits
    ``(0, s)``. Rows are processed in chunks with float64 accumulators, so a
    float32 input is never copied whole.

    ``class_weight`` multiplies the weights: :math:`v_i = w_i c_{y_i}`. For
    ``"balanced"``, :math:`c_k = W / (K_+ W_k)`, with :math:`W_k` the total
    sample weight of class k, :math:`W = \\sum_k W_k` and :math:`K_+` the
    number of classes with :math:`W_k > 0`. The result is then the unweighted
    average over those classes of the class-wise mean log-loss (the scikit-learn
    convention ``n / (K n_k)``, with weighted counts).

    References
    ----------
    .. [1] Good, I. J. (1952). Rational decisions. Journal of the Royal
       Statistical Society B, 14(1), 107–114.
       doi:10.1111/j.2517-6161.1952.tb00104.x
    .. [2] Gneiting, T., & Raftery, A. E. (2007). Strictly proper scoring
       rules, prediction, and estimation. Journal of the American Statistical
       Association, 102(477), 359–378. doi:10.1198/016214506000001437
    .. [3] King, G., & Zeng, L. (2001). Logistic regression in rare events
       data. Political Analysis, 9(2), 137–163.
       doi:10.1093/oxfordjournals.pan.a004868

    Examples
    --------
    >>> from calibkit.metrics import log_loss
    >>> round(log_loss([0, 1, 1], [0.2, 0.6, 0.9]), 4)
    0.2798
    >>> round(log_loss(["a", "b"], [[0.75, 0.25], [0.5, 0.5]]), 4)
    0.4904
    >>> round(log_loss([0, 1], [-1.0, 40.0], input="logits"), 4)
    0.1566
    """
    if is_model_mapping(y_prob):  # {name: forecasts}: one row per model
        return per_model(
            log_loss,
            y_true,
            y_prob,
            sample_weight=sample_weight,
            labels=labels,
            pos_label=pos_label,
            input=input,
            class_weight=class_weight,
        )
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
    return _log_loss(fc, input=input, class_weight=class_weight)


def _log_loss(fc, *, input="probabilities", class_weight=None):
    """:func:`log_loss` of validated :class:`~calibkit.metrics._inputs.Forecasts`."""
    weights = _class_weighted(fc, class_weight)
    total, n_inf, first_rows = log_loss_sum(fc.prob, fc.y, weights, input=input)
    if n_inf:
        warn_certain_and_wrong(n_inf, first_rows, "the log-loss is infinite.")
        return float("inf")
    return total / total_weight(weights, fc.y.shape[0])


@validate_params(FORECAST_CONSTRAINTS)
def brier_score(
    y_true,
    y_prob,
    *,
    sample_weight=None,
    labels=None,
    pos_label=None,
    input="probabilities",
):
    """Mean Brier (quadratic) score.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Observed labels.
    y_prob : array-like of shape (n_samples,) or (n_samples, n_classes)
        1-D: probability of the positive class. 2-D: one column per class,
        rows summing to 1.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative row weights (integer weights equal repeated rows).
    labels : array-like, default=None
        All class labels, when ``y_true`` does not contain every class.
    pos_label : label, default=None
        The class whose probability a 1-D ``y_prob`` holds; with more than two
        classes in ``y_true`` it is scored one-vs-rest.
    input : {"probabilities", "logits"}, default="probabilities"
        What ``y_prob`` holds; logits are scored through their softmax (1-D
        log-odds through the sigmoid).

    Returns
    -------
    float
        1-D ``y_prob``: the weighted mean of :math:`(p_i - y_i)^2`, in [0, 1].
        2-D ``y_prob``: the weighted mean of :math:`\\sum_k (q_{ik} -
        1\\{y_i = k\\})^2`, in [0, 2].

    Notes
    -----
    Brier (1950) defined the score summed over all classes; that is what a 2-D
    ``y_prob`` gives. A 1-D binary ``y_prob`` gives the one-column version
    :math:`(p - y)^2` that is usual for binary forecasts, so **a binary
    forecast given as two columns (n, 2) scores exactly twice its 1-D
    score** (the two columns make equal errors). scikit-learn's
    ``brier_score_loss`` halves the two-column binary score by default; its
    ``scale_by_half=False`` gives the 2-D value here. The score is unitless
    (no logarithms) and strictly proper.

    References
    ----------
    .. [1] Brier, G. W. (1950). Verification of forecasts expressed in terms
       of probability. Monthly Weather Review, 78(1), 1–3.
       doi:10.1175/1520-0493(1950)078<0001:VOFEIT>2.0.CO;2
    .. [2] Gneiting, T., & Raftery, A. E. (2007). Strictly proper scoring
       rules, prediction, and estimation. Journal of the American Statistical
       Association, 102(477), 359–378. doi:10.1198/016214506000001437

    Examples
    --------
    >>> from calibkit.metrics import brier_score
    >>> round(brier_score([0, 1, 1], [0.2, 0.6, 0.9]), 4)
    0.07
    >>> round(brier_score([0, 1, 1], [[0.8, 0.2], [0.4, 0.6], [0.1, 0.9]]), 4)
    0.14
    """
    if is_model_mapping(y_prob):  # {name: forecasts}: one row per model
        return per_model(
            brier_score,
            y_true,
            y_prob,
            sample_weight=sample_weight,
            labels=labels,
            pos_label=pos_label,
            input=input,
        )
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
    return _brier_score(as_probabilities(fc, input))


def _brier_score(fc):
    """:func:`brier_score` of validated forecasts (probabilities)."""
    n_cols = 1 if fc.is_binary else fc.n_classes
    # Only weight ratios matter: scaled weights keep tiny ones from underflowing.
    w = scaled_to_unit_max(fc.sample_weight)
    if is_on_device(fc.prob):
        return brier_sum(fc.prob, fc.y, w) / total_weight(w, fc.y.shape[0])
    total = reduce_rows(brier_kernel, fc.prob, fc.y, w, n_cols=n_cols)
    return float(total[0]) / total_weight(w, fc.y.shape[0])


def _class_weighted(fc, class_weight):
    """Row weights times the per-class multipliers of ``class_weight``.

    The log-loss depends only on the ratios of the weights, so the products are
    scaled by a power of two (exact) that brings the largest to [0.5, 1): huge
    multipliers cannot overflow and tiny ones cannot round every row to 0.
    """
    if class_weight is None:
        return scaled_to_unit_max(fc.sample_weight)  # None stays None: unit weights
    raw = weights_or_ones(fc.sample_weight, fc.y.shape[0])
    # validate_params of log_loss admits only None, "balanced" and dicts.
    if class_weight == "balanced":
        per_class = np.bincount(fc.y, weights=raw, minlength=fc.n_classes)
        # w_i W / (K+ W_k) up to the common factor W / K+: w_i / W_k is in
        # [0, 1] (unscaled, so that subnormal weights keep their ratios).
        with np.errstate(invalid="ignore"):  # 0 / 0 for a class of zero weight
            return scaled_to_unit_max(np.where(raw > 0, raw / per_class[fc.y], 0.0))
    multiplier = scaled_to_unit_max(_dict_class_weights(class_weight, fc.classes))
    weighted = scaled_to_unit_max(scaled_to_unit_max(raw) * multiplier[fc.y])
    if not np.any(weighted > 0):
        msg = (
            "class_weight leaves every row with zero weight: the classes that "
            "occur in y_true all have class weight 0."
        )
        raise ValueError(msg)
    return weighted


def _dict_class_weights(class_weight, classes):
    known = classes.tolist()
    unknown = [label for label in class_weight if label not in known]
    if unknown:
        msg = f"class_weight has labels that are not classes {known}: {unknown[:5]}."
        raise ValueError(msg)
    multiplier = np.ones(len(known))
    for k, label in enumerate(known):
        if label in class_weight:
            value = class_weight[label]
            if isinstance(value, bool | np.bool_) or not isinstance(
                value, numbers.Real
            ):
                msg = (
                    f"class_weight[{label!r}] must be a number; got {value!r} of "
                    f"type {type(value).__name__}."
                )
                raise TypeError(msg)
            if not (math.isfinite(value) and value >= 0):
                msg = (
                    f"class_weight[{label!r}] must be a finite non-negative number; "
                    f"got {value!r}."
                )
                raise ValueError(msg)
            multiplier[k] = float(value)
    return multiplier

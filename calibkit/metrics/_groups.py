"""Calibration by subgroup: bias, ECE, scores and miscalibration per group.

A forecast can be calibrated on average and wrong in every group that matters
(over-confident for one population, under-confident for another). The table
here gives, for each group of rows, the weighted bias ``mean(y - p)`` with its
standard error and t-test, and the group's ECE, log-loss, Brier score and CORP
miscalibration, each computed exactly as the metric of the same name computes
it on the group's rows alone.
"""

import warnings

import numpy as np
from scipy.special import stdtr

from calibkit._validation import (
    count,
    options,
    to_numpy,
    validate_params,
)
from calibkit.exceptions import CalibrationWarning, InputError, InputTypeError
from calibkit.metrics._binning import bin_edges, bin_index
from calibkit.metrics._bootstrap import weighted_mean_and_se
from calibkit.metrics._decomposition import _decompose
from calibkit.metrics._inputs import (
    FORECAST_CONSTRAINTS,
    Forecasts,
    as_probabilities,
    check_forecasts,
)
from calibkit.metrics._kernels import scaled_to_unit_max, top_label
from calibkit.metrics._reliability import N_BINS, _expected_calibration_error
from calibkit.metrics._scores import _brier_score, _log_loss
from calibkit.metrics._smooth import _smooth_ece

__all__ = ["calibration_by_group"]

#: Default number of groups when ``bins`` cuts a numeric feature.
N_GROUPS = 5

_WORST_BY = ("bias", "miscalibration")


@validate_params(
    {
        **FORECAST_CONSTRAINTS,
        "groups": "no_validation",  # labels, a column name or a numeric feature
        "X": "no_validation",  # a pandas or polars DataFrame, checked below
        "bins": [None, options({"quantile", "uniform"})],
        "n_groups": [count(2)],
        "n_bins": [count()],
        "strategy": [options({"uniform", "quantile"})],
        "multiclass": [options({"top_label", "classwise"})],
        "worst_by": [options(_WORST_BY)],
        "weight_type": [options({"frequency", "sampling"})],
    }
)
def calibration_by_group(
    y_true,
    y_prob,
    *,
    groups,
    X=None,
    bins=None,
    n_groups=N_GROUPS,
    sample_weight=None,
    n_bins=N_BINS,
    strategy="uniform",
    multiclass="top_label",
    worst_by="bias",
    labels=None,
    pos_label=None,
    input="probabilities",
    weight_type="frequency",
):
    """Calibration in each subgroup: bias with its t-test, ECE, scores and MCB.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Observed labels.
    y_prob : array-like of shape (n_samples,) or (n_samples, n_classes)
        1-D: probability of the positive class. 2-D: one column per class,
        rows summing to 1.
    groups : array-like of shape (n_samples,) or str
        The group of each row: any labels (numbers, strings, booleans; no
        missing values), or, with ``bins``, a numeric feature to cut into
        ``n_groups`` bins. A string names a column of ``X``.
    X : pandas.DataFrame or polars.DataFrame, default=None
        The table that ``groups`` names a column of.
    bins : {"quantile", "uniform"} or None, default=None
        ``None``: each distinct value of ``groups`` is a group. ``"quantile"``:
        ``groups`` is a numeric feature cut at its weighted quantiles into
        ``n_groups`` bins of about equal weight (tied values are never split,
        so there may be fewer). ``"uniform"``: cut into ``n_groups``
        equal-width bins from its minimum to its maximum (empty bins are left
        out).
    n_groups : int, default=5
        Number of bins of the feature, with ``bins``.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative row weights; rows with zero weight are ignored.
    n_bins : int, default=10
        Bins of each group's ECE.
    strategy : {"uniform", "quantile"}, default="uniform"
        Bins of each group's ECE, as in :func:`expected_calibration_error`.
    multiclass : {"top_label", "classwise"}, default="top_label"
        For a 2-D ``y_prob`` (ignored for 1-D). ``"top_label"``: one row per
        group; the bias is accuracy minus confidence of the predicted class,
        the ECE top-label, the log-loss and Brier score those of the whole
        forecast and the MCB that of the top-label CORP decomposition.
        ``"classwise"``: one row per group and class, each the binary result
        of that class's column against the rest (what a 1-D call with
        ``y_prob[:, k]`` and ``pos_label=classes[k]`` gives).
    worst_by : {"bias", "miscalibration"}, default="bias"
        How the worst group is chosen: the largest ``|t|`` (bias over its
        standard error; groups of one row have none and are skipped), or the
        largest miscalibration (MCB).
    labels : array-like, default=None
        All class labels, when ``y_true`` does not contain every class.
    pos_label : label, default=None
        The class a 1-D ``y_prob`` refers to.
    input : {"probabilities", "logits"}, default="probabilities"
        What ``y_prob`` holds; the log-loss of logits is computed from them
        directly, the other scores from their softmax (sigmoid for 1-D).
    weight_type : {"frequency", "sampling"}, default="frequency"
        How ``sample_weight`` enters the standard error of the bias (the
        bias and the scores do not depend on it). ``"frequency"``: a weight
        counts rows (integer weights give exactly what repeated rows give,
        as everywhere in calibkit). ``"sampling"``: each row is one
        observation weighted by ``w`` (survey or importance weights; only
        ratios of weights matter). Unit weights give the same result.

    Returns
    -------
    pandas.DataFrame
        One row per group (per group and class for ``"classwise"``), groups
        in sorted order (bins in increasing order), with the columns:

        - ``group``: the group label (for bins, ``"[a, b)"``, the last bin
          closed, with the edges in ``group_lower`` and ``group_upper``);
        - ``class``: the class (``"classwise"`` only);
        - ``count``: rows with positive weight; ``weight``: their total weight;
        - ``bias``: weighted mean of ``y - p`` (positive: the forecast is too
          low); ``bias_se``: its standard error; ``t``: ``bias / bias_se``;
          ``df``: ``count - 1`` (``weight - 1`` for frequency weights);
          ``p_value``: two-sided, Student's t with
          ``df`` degrees of freedom;
        - ``ece``: :func:`expected_calibration_error` of the group's rows
          (``n_bins``, ``strategy``, ``multiclass``);
        - ``log_loss``, ``brier_score``: :func:`log_loss` and
          :func:`brier_score` of the group's rows;
        - ``miscalibration``: the CORP miscalibration (MCB) of the log-loss,
          :func:`decompose` of the group's rows;
        - ``smooth_ece``: :func:`smooth_ece` of the group's rows (automatic
          bandwidth);
        - ``worst``: True on the worst row by ``worst_by`` (none when no row
          qualifies).

        ``frame.attrs["worst_by"]`` holds ``worst_by``.

    Raises
    ------
    ValueError
        When ``groups`` names no column of ``X``, has missing values, has a
        length other than ``n_samples``, forms a single group, or a group has
        zero total weight; the message names ``groups``.
    TypeError
        When ``groups`` is a column name but ``X`` is not a DataFrame, or
        ``bins`` is given for a feature that is not numeric.

    See Also
    --------
    calibkit.plotting.ReliabilityDisplay.from_predictions_by_group :
        The reliability diagram of each group.

    Notes
    -----
    With rows :math:`i` of a group, differences :math:`d_i = t_i - x_i`
    (outcome minus forecast: ``y - p`` for a binary forecast, right minus
    confidence for top-label, :math:`1\\{y = k\\} - p_k` class-wise), weights
    :math:`w_i > 0`, :math:`W = \\sum w_i` and :math:`n` rows, the bias is
    :math:`\\bar d = \\sum_i w_i d_i / W` and

    .. math::

        \\mathrm{SE}^2 = \\frac{\\sum_i w_i (d_i - \\bar d)^2}{W (W - 1)}
        \\quad \\text{(frequency)}, \\qquad
        \\mathrm{SE}^2 = \\frac{n}{n - 1}\\,
        \\frac{\\sum_i w_i^2 (d_i - \\bar d)^2}{W^2} \\quad \\text{(sampling)},

    and :math:`t = \\bar d / \\mathrm{SE}` is compared with Student's t
    distribution with :math:`W - 1` (frequency) or :math:`n - 1` (sampling)
    degrees of freedom (a t test, not a z test). Frequency weights are the
    t-test of the repeated rows; sampling weights the linearised (ratio
    estimator) standard error of :func:`confidence_interval` with
    ``method="normal"``. Without weights both are the one-sample t-test of
    :math:`y - p`, the estimator of model-diagnostics' ``compute_bias``
    (Fissler, Lorentzen & Mayer, 2022), whose sign is the opposite
    (``p - y``); with weights, model-diagnostics takes them as precisions
    (:math:`\\sum_i w_i (d_i - \\bar d)^2 / (W (n - 1))`), which neither
    repeats rows nor fits survey weights of 0/1 outcomes. Rows with zero
    weight are left out, also from :math:`n`. A group of one row (or, with
    frequency weights, of total weight at most 1) has no SE (NaN). A group
    whose differences are all equal has SE 0: its t is infinite and its
    p-value 0 when the bias is not 0, else t is 0 and the p-value 1.

    The t test treats the rows of a group as independent draws; it asks
    whether the group's mean forecast matches its frequency, not whether the
    forecast is calibrated at every level within the group (the ECE and the
    MCB look at that). With many groups, expect some small p-values by
    chance: the worst group's p-value is not corrected for the choice.

    References
    ----------
    .. [1] Fissler, T., Lorentzen, C., & Mayer, M. (2022). Model comparison
       and calibration assessment: user guide for consistent scoring
       functions in machine learning and actuarial practice.
       doi:10.48550/arXiv.2202.12780
    .. [2] Dimitriadis, T., Gneiting, T., & Jordan, A. I. (2021). Stable
       reliability diagrams for probabilistic classifiers. PNAS, 118(8),
       e2016191118. doi:10.1073/pnas.2016191118

    Examples
    --------
    >>> from calibkit.metrics import calibration_by_group
    >>> y = [0, 1, 1, 0, 1, 1]
    >>> p = [0.2, 0.6, 0.9, 0.5, 0.5, 0.5]
    >>> table = calibration_by_group(y, p, groups=["a", "a", "a", "b", "b", "b"])
    >>> table[["group", "count", "bias", "bias_se", "t", "worst"]].round(4)
      group  count    bias  bias_se       t  worst
    0     a      3  0.1000   0.1732  0.5774   True
    1     b      3  0.1667   0.3333  0.5000  False

    Group b's bias is larger, but group a's is larger relative to its
    standard error, so a is the worst group by ``worst_by="bias"``.
    """
    fc = check_forecasts(
        y_true,
        y_prob,
        sample_weight=sample_weight,
        labels=labels,
        pos_label=pos_label,
        input=input,
    )
    n_rows = fc.y.shape[0]
    grouping = group_rows(groups, X, bins, int(n_groups), fc.sample_weight, n_rows)
    _check_group_weights(grouping, fc.sample_weight)
    prob_fc = as_probabilities(fc, input)
    settings = {"n_bins": int(n_bins), "strategy": strategy}
    weights = {"weight_type": weight_type}

    if prob_fc.is_binary or multiclass == "top_label":
        # A 1-D forecast is binary whatever ``multiclass`` says.
        mode = "top_label" if prob_fc.is_binary else multiclass
        rows = [
            _group_row(fc, prob_fc, input, rows, settings, mode, **weights)
            for rows in grouping["rows"]
        ]
        frame = _frame(grouping, rows)
    else:
        frames = []
        for k, label in enumerate(prob_fc.classes):
            column = _class_column(prob_fc, k, label)
            rows = [
                _group_row(
                    column, column, "probabilities", r, settings, "top_label", **weights
                )
                for r in grouping["rows"]
            ]
            frames.append(_frame(grouping, rows, label=label))
        frame = _interleave(frames, len(grouping["names"]))
    frame["worst"] = _worst(frame, worst_by)
    frame.attrs["worst_by"] = worst_by
    return frame


# --- one group -----------------------------------------------------------------


def _subset(fc, rows):
    w = None if fc.sample_weight is None else fc.sample_weight[rows]
    return Forecasts(
        classes=fc.classes, y=fc.y[rows], prob=fc.prob[rows], sample_weight=w
    )


def _group_row(fc, prob_fc, input, rows, settings, multiclass, weight_type):
    """The statistics of one group's rows, as a dict."""
    sub, prob = _subset(fc, rows), _subset(prob_fc, rows)
    if prob.is_binary:
        x, t = np.asarray(prob.prob, dtype=np.float64), prob.y.astype(np.float64)
    else:
        predicted, x = top_label(prob.prob)
        t = (predicted == prob.y).astype(np.float64)
    row = _bias(x, t, prob.sample_weight, weight_type)
    row["ece"] = _expected_calibration_error(prob, **settings, multiclass=multiclass)
    row["log_loss"] = _log_loss(sub, input=input)
    row["brier_score"] = _brier_score(prob)
    with warnings.catch_warnings():
        # An infinite log-loss was reported once, just above.
        warnings.simplefilter("ignore", CalibrationWarning)
        mcb = _decompose(prob, score="log", multiclass=multiclass).miscalibration
    row["miscalibration"] = mcb
    row["smooth_ece"] = _smooth_ece(prob, multiclass=multiclass)
    return row


def _bias(x, t, w, weight_type="frequency"):
    """Weighted mean of ``t - x``, its standard error, t, df and p-value."""
    d = t - x
    if w is not None:
        keep = w > 0
        d, w = d[keep], w[keep]
    n = d.shape[0]
    if w is None or weight_type == "sampling":
        # Unit weights, or the linearised SE of a ratio of weighted sums.
        total = float(n) if w is None else float(np.sum(w))
        bias, se = weighted_mean_and_se(d, w)
        df = n - 1
    else:
        # Counts: the t-test of the repeated rows. Only ratios enter the
        # spread, so scaled weights (an exact power of two) cannot overflow.
        total = float(np.sum(w))
        scaled = scaled_to_unit_max(w)
        bias = float(np.dot(scaled, d) / np.sum(scaled))
        spread = float(np.dot(scaled, (d - bias) ** 2) / np.sum(scaled))
        df = total - 1.0
        se = float(np.sqrt(spread / df)) if df > 0 else np.nan
    if np.isnan(se):
        statistic, p_value = np.nan, np.nan
    elif se > 0:
        statistic = bias / se
        p_value = float(2.0 * stdtr(df, -abs(statistic)))
    else:
        statistic = np.inf * np.sign(bias) if bias != 0 else 0.0
        p_value = 0.0 if bias != 0 else 1.0
    return {
        "count": n,
        "weight": total,
        "bias": bias,
        "bias_se": se,
        "t": statistic,
        "df": df,
        "p_value": p_value,
    }


def _class_column(fc, k, label):
    """Column k of a multiclass forecast as a binary forecast of class k."""
    return Forecasts(
        classes=np.array([None, label], dtype=object),
        y=(fc.y == k).astype(np.intp),
        prob=fc.prob[:, k],
        sample_weight=fc.sample_weight,
    )


# --- the table -----------------------------------------------------------------


def _frame(grouping, rows, label=None):
    import pandas as pd

    columns = {"group": grouping["names"]}
    if grouping["lower"] is not None:
        columns["group_lower"] = grouping["lower"]
        columns["group_upper"] = grouping["upper"]
    frame = pd.DataFrame(columns)
    if label is not None:
        frame["class"] = [label] * len(rows)
    stats = pd.DataFrame(rows)
    return pd.concat([frame, stats], axis=1)


def _interleave(frames, n_groups):
    """Class-wise frames (one per class) as one table ordered by group, class."""
    import pandas as pd

    stacked = pd.concat(frames, ignore_index=True)
    n_classes = len(frames)
    order = np.arange(n_classes * n_groups).reshape(n_classes, n_groups).T.ravel()
    return stacked.iloc[order].reset_index(drop=True)


def _worst(frame, worst_by):
    """Boolean column: True on the first row with the largest criterion."""
    if worst_by == "bias":
        score = np.abs(frame["t"].to_numpy(dtype=np.float64))
    else:
        score = frame["miscalibration"].to_numpy(dtype=np.float64)
    worst = np.zeros(frame.shape[0], dtype=bool)
    valid = ~np.isnan(score)
    if valid.any():
        worst[np.flatnonzero(valid)[np.argmax(score[valid])]] = True
    return worst


# --- groups --------------------------------------------------------------------


def _group_values(groups, X, n_rows):
    """``groups`` as a 1-D numpy array of length ``n_rows``."""
    if isinstance(groups, str):
        if X is None:
            problem = (
                f"is a column name ({groups!r}) but X is None; pass the table as "
                "X=, or an array of group labels."
            )
            raise InputError("groups", problem)
        columns = getattr(X, "columns", None)
        if columns is None:
            problem = (
                f"names a column ({groups!r}), so X must be a pandas or polars "
                f"DataFrame; got {type(X).__name__}."
            )
            raise InputTypeError("groups", problem)
        names = list(columns)
        if groups not in names:
            listed = ", ".join(repr(str(c)) for c in names[:8])
            more = f", ... ({len(names)} columns)" if len(names) > 8 else ""
            problem = f"names no column of X: {groups!r}; X has {listed}{more}."
            raise InputError("groups", problem)
        values = to_numpy(X[groups])
    else:
        if np.isscalar(groups) or groups is None:
            problem = (
                f"must be an array of {n_rows} group labels or a column name of "
                f"X; got {groups!r}."
            )
            raise InputTypeError("groups", problem)
        values = to_numpy(groups)
    if values.ndim != 1:
        problem = f"must be 1-D (one group per row); got shape {values.shape}."
        raise InputError("groups", problem)
    if values.shape[0] != n_rows:
        problem = f"has {values.shape[0]} entries but there are {n_rows} samples."
        raise InputError("groups", problem)
    return values


def group_rows(groups, X, bins, n_groups, w, n_rows):
    """Names of the groups, their rows, and bin edges for a binned feature."""
    import pandas as pd

    values = _group_values(groups, X, n_rows)
    missing = np.asarray(pd.isna(values), dtype=bool)
    if missing.any():
        row, k = int(np.flatnonzero(missing)[0]), int(missing.sum())
        problem = (
            f"has {k} missing value{'s' if k > 1 else ''} (NaN or None); first at row "
            f"{row}. Give those rows a group of their own (e.g. 'missing') or "
            "drop them."
        )
        raise InputError("groups", problem)
    lower = upper = None
    if bins is None:
        try:
            codes, names = pd.factorize(values, sort=True)
        except TypeError:  # labels of mixed types: order of first appearance
            codes, names = pd.factorize(values, sort=False)
        names = pd.Index(names).tolist()  # Python values: 'a', not np.str_('a')
    else:
        feature = _numeric_feature(values)
        if bins == "quantile":
            edges = bin_edges(feature, w, n_groups, "quantile")
        else:
            edges = np.linspace(feature.min(), feature.max(), n_groups + 1)
        number = bin_index(feature, edges)
        filled, codes = np.unique(number, return_inverse=True)
        lower, upper = edges[filled], edges[filled + 1]
        last = edges.shape[0] - 2
        names = [
            f"[{lo:.4g}, {hi:.4g}{']' if k == last else ')'}"
            for k, lo, hi in zip(filled, lower, upper, strict=True)
        ]
    if len(names) < 2:
        shown = names[0] if names else None
        problem = (
            f"forms a single group ({shown!r}); calibration by group needs at "
            "least two groups."
        )
        raise InputError("groups", problem)
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(names) + 1))
    rows = [order[bounds[j] : bounds[j + 1]] for j in range(len(names))]
    return {"names": names, "rows": rows, "lower": lower, "upper": upper}


def _numeric_feature(values):
    if values.dtype.kind == "b" or values.dtype.kind not in "iuf":
        problem = (
            "must be numeric to be cut into bins (bins= was given); got values "
            f"of dtype {values.dtype}. Pass bins=None to use them as labels."
        )
        raise InputTypeError("groups", problem)
    feature = values.astype(np.float64)
    if not np.isfinite(feature).all():
        row = int(np.flatnonzero(~np.isfinite(feature))[0])
        problem = f"has an infinite value at row {row}; bins need finite values."
        raise InputError("groups", problem)
    return feature


def _check_group_weights(grouping, w):
    if w is None:
        return
    for name, rows in zip(grouping["names"], grouping["rows"], strict=True):
        if not np.any(w[rows] > 0):
            problem = (
                f"has a group, {name!r}, whose rows all have sample_weight 0; "
                "drop it or give it weight."
            )
            raise InputError("groups", problem)

"""Validation shared by the metrics: labels and forecasts into clean arrays."""

import dataclasses
from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from calibkit._array_api import (
    array_api_space,
    check_device_forecasts,
    host_labels,
    softmax_probabilities,
    to_host,
)
from calibkit._chunks import is_dask
from calibkit._transforms import row_softmax
from calibkit._validation import (
    check_column_order,
    check_consistent_length,
    check_float_array,
    check_labels,
    check_probabilities,
    check_sample_weight,
    encode_checked_labels,
    options,
)
from calibkit.exceptions import InputTypeError
from calibkit.metrics._many import is_model_mapping

#: Values of the ``input=`` argument of every metric: what ``y_prob`` holds.
INPUTS = ("probabilities", "logits")

#: Constraints of the arguments shared by the metrics, for ``validate_params``.
#: Array contents are checked by :func:`check_forecasts` (with row numbers).
FORECAST_CONSTRAINTS = {
    "y_true": ["array-like"],
    "y_prob": ["array-like"],
    "sample_weight": ["array-like", None],
    "labels": ["array-like", None],
    "pos_label": "no_validation",  # any label type: numbers, strings, booleans
    "input": [options(INPUTS)],
}


@dataclass(frozen=True)
class Forecasts:
    """Validated labels and probabilistic forecasts.

    Attributes
    ----------
    classes : ndarray
        Class labels, sorted. For a binary 1-D forecast, ``classes[1]`` is the
        positive class.
    y : ndarray of shape (n_samples,), dtype intp
        Index of each row's class in ``classes`` (0/1 for a binary forecast).
    prob : ndarray of shape (n_samples,) or (n_samples, n_classes)
        1-D: probability of ``classes[1]``; 2-D: one column per class. float32
        or float64, never copied from the caller's float array.
    sample_weight : ndarray of shape (n_samples,) or None
    """

    classes: np.ndarray
    y: np.ndarray
    prob: np.ndarray
    sample_weight: np.ndarray | None

    @property
    def is_binary(self):
        """Whether ``prob`` is a 1-D probability of the positive class."""
        return self.prob.ndim == 1

    @property
    def n_classes(self):
        return len(self.classes)


def check_forecasts(
    y_true,
    y_prob,
    *,
    sample_weight=None,
    labels=None,
    pos_label=None,
    input="probabilities",
    lazy=False,
    array_api=False,
):
    """Validate ``y_true``, ``y_prob`` and ``sample_weight`` for a metric.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Labels of any type scikit-learn accepts.
    y_prob : array-like of shape (n_samples,) or (n_samples, n_classes)
        1-D: probability of the positive class (binary). 2-D: a column per
        class, in the order of ``labels`` (or of the sorted labels of
        ``y_true``).
    sample_weight : array-like of shape (n_samples,) or None
    labels : array-like or None
        All class labels, for when ``y_true`` does not contain every class.
    pos_label : label or None
        Positive class for a 1-D ``y_prob``. Default: the greater of the two
        labels (``classes[1]``), as in scikit-learn's ``predict_proba`` order.
        With more than two classes, a 1-D ``y_prob`` is the forecast of
        ``pos_label`` against the rest.
    input : {"probabilities", "logits"}
        With ``"logits"``, ``y_prob`` holds logits (1-D: log-odds) and only
        finiteness is checked. The value itself is checked by the public
        function's ``validate_params`` (:data:`FORECAST_CONSTRAINTS`).
    lazy : bool, default=False
        Keep a dask ``y_prob`` as it is, for metrics computed as reductions over
        row blocks. Otherwise a dask array is computed into memory (metrics that
        sort the forecasts need them all at once).
    array_api : bool, default=False
        Keep an Array API ``y_prob`` (torch, CuPy, ...) on its device when
        dispatch is on (see :mod:`calibkit._array_api`), for metrics whose
        passes run there; ``y_true`` and ``sample_weight`` come to the host.
        Otherwise such a ``y_prob`` is copied to the host.

    Returns
    -------
    Forecasts
    """
    if is_model_mapping(y_prob):
        problem = (
            "is a mapping of models ({name: forecasts}), which this function "
            "does not take; call it once per model."
        )
        raise InputTypeError("y_prob", problem)
    space = array_api_space(y_prob)
    if space is not None:
        y_true, sample_weight = host_labels(y_true), host_labels(sample_weight)
        if not array_api:
            y_prob, space = to_host(y_prob), None
    y_true = check_labels(y_true, name="y_true")
    if space is None:
        prob = check_float_array(y_prob, name="y_prob")
    else:
        prob = check_device_forecasts(y_prob, name="y_prob", space=space, input=input)
    if is_dask(prob) and not lazy:
        prob = prob.compute()
    check_consistent_length(y_true=y_true, y_prob=prob)
    w = check_sample_weight(sample_weight, y_true.shape[0])
    if input == "probabilities" and space is None:
        prob = check_probabilities(prob, name="y_prob")

    if prob.ndim == 1:
        classes, y = _binary_codes(y_true, labels, pos_label)
    else:
        if pos_label is not None:
            msg = "pos_label applies to a 1-D y_prob only; y_prob is 2-D."
            raise ValueError(msg)
        classes, y = encode_checked_labels(y_true, classes=labels, name="y_true")
        if prob.shape[1] != len(classes):
            hint = "" if labels is not None else " Pass labels= to name every class."
            msg = (
                f"y_prob has {prob.shape[1]} columns but there are {len(classes)} "
                f"classes ({classes.tolist()}).{hint}"
            )
            raise ValueError(msg)
        if prob.shape[1] < 2:
            msg = "y_prob must have at least 2 columns when 2-D."
            raise ValueError(msg)
        check_column_order(y_prob, classes, name="y_prob")
    return Forecasts(classes=classes, y=y, prob=prob, sample_weight=w)


def as_probabilities(fc, input):
    """``fc`` with probabilities: logits go through the softmax (sigmoid for 1-D
    log-odds); probabilities are returned as they are.

    For the metrics defined on probabilities (Brier, ECE, reliability,
    decompositions), so that every metric accepts ``input="logits"``.
    """
    if input == "probabilities":
        return fc
    if array_api_space(fc.prob) is not None:  # on its device, in its dtype
        return dataclasses.replace(fc, prob=softmax_probabilities(fc.prob))
    z = fc.prob.compute() if is_dask(fc.prob) else fc.prob
    z = np.asarray(z, dtype=np.float64)
    prob = expit(z) if z.ndim == 1 else row_softmax(z)
    return dataclasses.replace(fc, prob=prob)


def _binary_codes(y_true, labels, pos_label):
    """Classes and 0/1 codes for a 1-D forecast of the positive class.

    With ``pos_label`` and more than two classes, the forecast is read as
    ``pos_label`` against the rest (the negative "class" has no label, None),
    so that ``y_prob[:, k]`` with ``pos_label=classes[k]`` works for every k.
    """
    classes, codes = encode_checked_labels(y_true, classes=labels, name="y_true")
    if len(classes) > 2 and pos_label is not None:
        if pos_label not in classes.tolist():
            msg = (
                f"pos_label={pos_label!r} is not one of the classes {classes.tolist()}."
            )
            raise ValueError(msg)
        positive = y_true == pos_label
        return np.array([None, pos_label], dtype=object), positive.astype(np.intp)
    if len(classes) > 2:
        msg = (
            f"y_prob is 1-D (binary) but y_true has {len(classes)} classes "
            f"({classes.tolist()[:5]}); pass a 2-D y_prob with a column per class."
        )
        raise ValueError(msg)
    if pos_label is None:
        if len(classes) < 2:
            msg = (
                f"y_true has a single class ({classes.tolist()}); pass pos_label (or "
                "labels with both classes) to say which class y_prob refers to."
            )
            raise ValueError(msg)
        return classes, codes
    if pos_label not in classes.tolist() and len(classes) == 2:
        msg = f"pos_label={pos_label!r} is not one of the classes {classes.tolist()}."
        raise ValueError(msg)
    positive = y_true == pos_label
    others = [c for c in classes.tolist() if c != pos_label]
    negative = others[0] if others else None
    return np.array([negative, pos_label], dtype=object), positive.astype(np.intp)

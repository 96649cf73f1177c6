"""Shared machinery of the calibrators: input contract, labels, predictions."""

import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from calibkit._array_api import (
    array_api_space,
    check_device_array,
    check_device_probabilities,
    host_labels,
    infinite_rows,
    is_on_device,
    one_vs_rest_log_odds,
    one_vs_rest_probability_log_odds,
    to_host,
)
from calibkit._array_api import looks_like_probabilities as device_looks_like
from calibkit._chunks import as_float64, is_dask, reduce_rows, row_chunks
from calibkit._transforms import (
    exact_log_odds,
    halved_logit_difference,
    log_odds,
    log_odds_from_logits,
    logit_difference,
    safe_log,
)
from calibkit._validation import (
    StrOptions,
    check_classification_labels,
    check_column_order,
    check_consistent_length,
    check_float_array,
    check_n_classes,
    check_probabilities,
    check_sample_weight,
    encode_labels,
    format_label,
    looks_like_probabilities,
)
from calibkit.exceptions import (
    CalibrationWarning,
    InputKindWarning,
    NoFiniteOptimumWarning,
)

INPUT_KINDS = StrOptions({"logits", "probabilities"})


class BaseCalibrator(ClassifierMixin, BaseEstimator):
    """Base class of calibrators fitted on saved predictions.

    ``X`` is ``(n_samples,)`` scores of the positive class ``classes_[1]`` for a
    binary problem, or ``(n_samples, n_classes)`` with a column per class in the
    order of ``classes_``. Subclasses implement ``_fit(X, y, sample_weight)``
    (``y`` holds integer codes into ``classes_``) and ``_predict_proba(X)``.

    Array API inputs (see :mod:`calibkit._array_api`): with dispatch on, a
    calibrator whose ``_array_api_native()`` is true gets ``X`` on its device
    in ``_fit`` and ``_predict_proba`` (labels and weights stay on the host);
    the others get ``X`` copied to the host, and their probabilities are
    returned on ``X``'s device.
    """

    _parameter_constraints = {"input": [INPUT_KINDS]}

    def fit(self, X, y, sample_weight=None, *, classes=None):
        """Fit the calibrator on saved predictions.

        Parameters
        ----------
        X : array-like of shape (n_samples,) or (n_samples, n_classes)
            Logits (1-D: log-odds of ``classes_[1]``) or, with
            ``input="probabilities"``, probabilities (1-D: of ``classes_[1]``).
        y : array-like of shape (n_samples,)
            True labels; any labels scikit-learn accepts, strings included.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights; integer weights act as repeated rows.
        classes : array-like of shape (n_classes,), default=None
            Every class, for when ``y`` does not contain them all (e.g. a
            calibration set missing rare classes, or token-level calibration of
            a language model whose vocabulary is the set of classes). The
            columns of ``X`` follow the sorted ``classes``. Default: the sorted
            labels found in ``y``.

        Returns
        -------
        object
            The fitted calibrator (``self``).
        """
        self._validate_params()
        given = X
        space = array_api_space(X)
        if space is not None:
            y, sample_weight = host_labels(y), host_labels(sample_weight)
            if not self._array_api_native():
                X, space = to_host(X), None
        X = self._check_X(X, reset=True, space=space)
        self.classes_, codes = encode_labels(y, classes=classes, name="y")
        check_column_order(given, self.classes_, name="X")
        check_classification_labels(self.classes_, name="y")
        check_n_classes(self.classes_, name="y")
        check_consistent_length(X=X, y=codes)
        sample_weight = check_sample_weight(sample_weight, X.shape[0])
        self._check_shape_against_classes(X)
        self._fit(X, codes, sample_weight)
        return self

    def predict_proba(self, X):
        """Calibrated probabilities.

        Parameters
        ----------
        X : array-like of shape (n_samples,) or (n_samples, n_classes)
            Same kind and shape of predictions as in ``fit``.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Probabilities in the column order of ``classes_``, in the float
            precision of ``X`` (float32 stays float32). With Array API dispatch
            on, an array of ``X``'s namespace on ``X``'s device.
        """
        check_is_fitted(self)
        check_column_order(X, self.classes_, name="X")
        space = array_api_space(X)
        if space is not None and not self._array_api_native():
            return space.asarray(self.predict_proba(to_host(X)))
        X = self._check_X(X, reset=False, space=space)
        if is_dask(X):
            return self._predict_proba_dask(X)
        return self._predict_proba(X)

    def _predict_proba_dask(self, X):
        """Lazy predictions on a dask array, block by block where it lives."""
        if X.ndim == 2:
            X = X.rechunk({1: -1})
        n_classes = len(self.classes_)
        return X.map_blocks(
            self._predict_proba,
            dtype=X.dtype,
            chunks=(X.chunks[0], (n_classes,)),
            **({"new_axis": 1} if X.ndim == 1 else {}),
        )

    def predict(self, X):
        """Class with the highest calibrated probability.

        Parameters
        ----------
        X : array-like of shape (n_samples,) or (n_samples, n_classes)
            Same kind and shape of predictions as in ``fit``.

        Returns
        -------
        ndarray of shape (n_samples,)
            Labels from ``classes_``.
        """
        proba = self.predict_proba(X)
        if is_on_device(proba):
            space = array_api_space(proba)
            labels = self.classes_[to_host(space.xp.argmax(proba, axis=1))]
            return space.asarray(labels) if labels.dtype.kind in "biuf" else labels
        return self.classes_[np.argmax(proba, axis=1)]

    def predict_log_proba(self, X):
        """Natural log of :meth:`predict_proba`.

        Parameters
        ----------
        X : array-like of shape (n_samples,) or (n_samples, n_classes)
            Same kind and shape of predictions as in ``fit``.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Log-probabilities in the column order of ``classes_`` (``-inf``
            where a probability is exactly 0).
        """
        proba = self.predict_proba(X)
        if is_on_device(proba):
            return array_api_space(proba).xp.log(proba)
        with np.errstate(divide="ignore"):
            return np.log(proba)

    # -- input contract ---------------------------------------------------

    def _array_api_native(self):
        """Whether ``_fit`` and ``_predict_proba`` take ``X`` on its device."""
        return False

    def _check_X(self, X, *, reset, space=None):
        self._check_feature_names(X, reset=reset)
        if space is None:
            X = check_float_array(X, name="X")
        else:
            X = check_device_array(X, name="X", space=space)
        if X.ndim == 2 and X.shape[1] == 1:
            X = X[:, 0]
        n_columns = 1 if X.ndim == 1 else X.shape[1]
        if reset:
            self.n_features_in_ = n_columns
        elif n_columns != self.n_features_in_:
            expected = (
                "1-D scores"
                if self.n_features_in_ == 1
                else f"{self.n_features_in_} columns"
            )
            msg = (
                f"X has {n_columns} column(s) but the calibrator was fitted on "
                f"{expected}. Reshape your data to the shape used in fit."
            )
            raise ValueError(msg)
        if self.input == "probabilities":
            if space is None:
                X = check_probabilities(X, name="X")
            else:
                X = check_device_probabilities(X, name="X", space=space)
        elif reset and (
            looks_like_probabilities(X)
            if space is None
            else device_looks_like(X, space)
        ):
            warning = InputKindWarning(
                argument="X",
                problem="looks like probabilities (values in [0, 1]"
                + (", rows summing to 1" if X.ndim == 2 else "")
                + ")",
                given={"input": "logits"},
                hint="Pass {input} if they are.",
                fix={"input": "probabilities"},
            )
            warnings.warn(warning, stacklevel=3)
        return X

    def _check_feature_names(self, X, *, reset):
        """Record a DataFrame's column names in fit; check them in predict.

        scikit-learn's convention: ``feature_names_in_`` is set only when ``X``
        has string column names. A DataFrame whose columns differ from them
        (other names, or the same names in another order, which would pair
        scores with the wrong classes) is refused; plain arrays are taken by
        position.
        """
        names = _column_names(X)
        if reset:
            if names is not None:
                self.feature_names_in_ = names
            elif hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
            return
        fitted = getattr(self, "feature_names_in_", None)
        if fitted is None or names is None:
            return
        if names.tolist() != fitted.tolist():
            same_set = sorted(names.tolist()) == sorted(fitted.tolist())
            problem = (
                "the same columns in another order" if same_set else "other columns"
            )
            msg = (
                f"X has {problem} ({_first_names(names)}) than the calibrator was "
                f"fitted on (feature_names_in_ = {_first_names(fitted)}); pass the "
                "columns in that order."
            )
            raise ValueError(msg)

    def _check_shape_against_classes(self, X):
        n_classes = len(self.classes_)
        if X.ndim == 1 and n_classes != 2:
            msg = (
                f"X is 1-D (scores of one class) but y has {n_classes} classes; "
                f"pass X of shape (n_samples, {n_classes}) with a column per class."
            )
            raise ValueError(msg)
        if X.ndim == 2 and X.shape[1] != n_classes:
            listed = self.classes_[:10].tolist()
            more = ", ..." if n_classes > 10 else ""
            msg = (
                f"X has {X.shape[1]} columns but y has {n_classes} classes "
                f"{str(listed)[:-1]}{more}]; X needs one column per class. If y "
                "misses some classes, pass them all with fit(..., classes=...)."
            )
            raise ValueError(msg)


def _column_names(X):
    """String column names of a DataFrame (pandas or polars), else None."""
    columns = getattr(X, "columns", None)
    if columns is None or is_dask(X) or not hasattr(X, "shape") or len(X.shape) != 2:
        return None
    names = list(columns)
    if not names or not all(isinstance(n, str) for n in names):
        return None
    return np.asarray(names, dtype=object)


def _first_names(names, limit=5):
    shown = ", ".join(repr(n) for n in names[:limit])
    return "[" + shown + (", ..." if len(names) > limit else "") + "]"


# -- scores for one-vs-rest calibrators (Platt, isotonic) ------------------


def binary_scores(X, input, *, exact=False):
    """Log-odds of ``classes_[1]`` as an array plus a per-chunk transform.

    Returns ``(values, transform)`` so that ``transform(values[rows])`` are the
    log-odds of those rows; ``transform`` is None when ``values`` already are
    log-odds, so 1-D logits are used without any copy. With ``exact``,
    probabilities of exactly 0 and 1 give log-odds ``-inf`` and ``+inf``
    (otherwise the finite stand-ins of :data:`~calibkit._transforms.LOG_ZERO`).
    """
    if X.ndim == 1:
        if input != "probabilities":
            return X, None
        return X, (exact_log_odds if exact else log_odds)
    if input == "probabilities":
        if exact:
            return X, _exact_two_column_log_odds
        return X, lambda p: safe_log(p[:, 1]) - safe_log(p[:, 0])
    return X, logit_difference


def _exact_two_column_log_odds(p):
    with np.errstate(divide="ignore"):
        return np.log(p[:, 1]) - np.log(p[:, 0])


def materialize(values, transform, dtype=np.float64):
    """``transform`` applied to all rows of ``values``, chunk by chunk.

    The result is a numpy array in memory (a dask array is computed).
    """
    if is_dask(values):
        values = values.compute()
    if transform is None:
        return values
    out = np.empty(values.shape[0], dtype=dtype)
    for rows in row_chunks(values.shape[0], 1 if values.ndim == 1 else values.shape[1]):
        out[rows] = transform(as_float64(values[rows]))
    return out


def one_vs_rest_scores(X, input, dtype, *, exact=False, classes=None):
    """Per-class log-odds, shape (n_classes, n_samples), for K > 2 classes.

    Each row is contiguous so one class can be read quickly; stored in
    ``dtype`` (the input's precision: float32 data gives a float32 copy),
    unless a log-odds value exceeds that precision's range (float32 logits
    near +-3.4e38 give log-odds up to twice that): then in float64, so that
    no finite log-odds becomes inf. With ``exact``, probabilities of exactly 0
    and 1 give ``-inf`` and ``+inf``; logits whose log-odds exceed the float64
    range give ``+-inf`` (see :func:`check_finite_log_odds`). ``classes``, a
    slice, selects the classes returned (all by default), for callers that hold
    only a few classes' scores at a time; logits still take a pass over every
    column (a class's log-odds depend on the whole row).
    """
    if is_on_device(X) and classes is None and (exact or input == "logits"):
        # On the device, with the same rule for the dtype.
        if input == "logits":
            return one_vs_rest_log_odds(X)
        return one_vs_rest_probability_log_odds(X)
    prob_log_odds = exact_log_odds if exact else log_odds
    if is_dask(X):  # the per-class scores are held in memory anyway
        X = X.compute()
    classes = slice(None) if classes is None else classes
    out = np.empty((len(range(X.shape[1])[classes]), X.shape[0]), dtype=dtype)
    limit = np.finfo(dtype).max
    for rows in row_chunks(X.shape[0], X.shape[1]):
        if input == "probabilities":  # elementwise: only the selected columns
            scores = prob_log_odds(as_float64(X[rows, classes]))
        else:
            scores = log_odds_from_logits(as_float64(X[rows]))[:, classes]
        if out.dtype != np.float64:
            finite = scores[np.isfinite(scores)]
            if finite.size and np.abs(finite).max() > limit:
                out = out.astype(np.float64)
        out[:, rows] = scores.T
    return out


def check_finite_log_odds(
    X, input, method, *, values=None, transform=None, scores=None
):
    """Refuse logits whose log-odds overflow float64, for fitting.

    Pass the binary ``values``/``transform`` of :func:`binary_scores`, the
    per-class ``scores`` of :func:`one_vs_rest_scores`, or ``X`` with a
    per-class transform (checked chunk by chunk, nothing stored). An infinite log-odds
    of logits means a row of ``X`` spans more than about 1.8e308, whose
    log-odds no float64 holds. Platt and isotonic calibration fit on the
    log-odds, so they refuse such rows rather than fit on infinities (their
    predictions for such rows are exact, see :func:`halved_log_odds`).
    """
    if input != "logits" or X.ndim == 1:
        return
    if is_on_device(X):  # computed on the device; one boolean per row back
        bad = infinite_rows(values, transform) if scores is None else None
        bad = infinite_rows(scores) if bad is None else bad
    elif scores is not None:
        bad = ~np.isfinite(scores).all(axis=0)
    else:
        bad = np.zeros(values.shape[0], dtype=bool)
        for rows in row_chunks(values.shape[0], values.shape[1]):
            finite = np.isfinite(transform(as_float64(values[rows])))
            bad[rows] = ~(finite if finite.ndim == 1 else finite.all(axis=1))
    n_bad = int(np.count_nonzero(bad))
    if n_bad == 0:
        return
    first = int(np.argmax(bad))
    row = np.asarray(to_host(X[first, ...]) if is_on_device(X) else X[first]).tolist()
    shown = row if len(row) <= 6 else [*row[:6], "..."]
    msg = (
        "X holds logits whose log-odds exceed the float64 range (about 1.8e308) "
        f"in {n_bad} rows; first at row {first}: {shown}. {method} fits on the "
        "log-odds, which cannot be represented there. Scale the logits down "
        "(e.g. divide them by 2) before calibrating."
    )
    raise ValueError(msg)


def halved_log_odds(X):
    """Half the log-odds of logits ``X`` (2-D, float64 chunk), never overflowing.

    Two columns: ``(z1 - z0) / 2``; more: per-class halved log-odds, shape
    (n, K). Used where :func:`binary_scores` or :func:`one_vs_rest_scores`
    gave ``+-inf`` for logits.
    """
    if X.shape[1] == 2:
        return halved_logit_difference(X)
    return log_odds_from_logits(X, half=True)


def normalize_rows(P):
    """Divide rows by their sums in place; all-zero rows become uniform."""
    sums = P.sum(axis=1, keepdims=True)
    zero = sums[:, 0] == 0
    if zero.any():
        P[zero] = 1.0
        sums[zero] = P.shape[1]
    P /= sums
    return P


def binary_columns(p_neg, p_pos, dtype):
    """Stack complementary probabilities into an (n, 2) array of ``dtype``."""
    out = np.empty((p_pos.shape[0], 2), dtype=dtype)
    out[:, 0] = p_neg
    out[:, 1] = p_pos
    return out


def _count_saturated(rows, chunk):
    saturated = (chunk == 0) | (chunk == 1) if chunk.ndim == 1 else chunk == 0
    return np.array([np.count_nonzero(saturated)])


def warn_if_saturated(X, input, treatment):
    """Warn when probabilities hold exact 0 or 1, which have no finite logit.

    ``treatment`` says, in a clause, what the calibrator does with them (Platt
    and temperature scaling fit a probability of their own for them).
    """
    if input != "probabilities":
        return
    n_saturated = int(reduce_rows(_count_saturated, X)[0])
    if n_saturated:
        warning = CalibrationWarning(
            argument="X",
            problem=f"holds {n_saturated} probabilities equal to exactly 0 or 1, "
            f"whose logits are infinite; {treatment}.",
            hint="Pass logits ({input}) if the model can produce them.",
            fix={"input": "logits"},
        )
        warnings.warn(warning, stacklevel=4)


def saturated_probabilities(groups):
    """Calibrated probability of each model's rows at score -inf (or +inf).

    The policy of Platt scaling and beta calibration for inputs of exactly 0
    and 1.

    ``groups`` holds ``(n_pos, n, held)`` per model. The log-loss of a group's
    own probability decouples from the sigmoid; its minimiser, the frequency
    ``n_pos / n``, is often exactly 0 or 1 (a model's certain outputs are
    usually right on calibration rows), so it is smoothed with a Beta prior
    of two pseudo-rows: at 1/2 for a single model (Laplace's rule
    ``(n_pos + 1) / (n + 2)``, Platt's prior), and at the pooled rate of all
    classes for one-vs-rest models, which share how often "certain" is
    right. A group with no row gets ``held``.
    """
    n_pos = np.array([g[0] for g in groups])
    n = np.array([g[1] for g in groups])
    center = 0.5
    if len(groups) > 1 and n.sum() > 0:
        center = (n_pos.sum() + 1.0) / (n.sum() + 2.0)
    with np.errstate(invalid="ignore"):
        smoothed = (n_pos + 2.0 * center) / (n + 2.0)
    out = np.where(n > 0, smoothed, [g[2] for g in groups])
    # Strictly inside (0, 1), as a saved file requires: the held map value
    # sigmoid(a s + b) at a score like log(1e-300) underflows to 0 (or rounds
    # to 1), and so may the smoothed rate for a total weight near 1e300.
    return np.clip(out, np.finfo(np.float64).tiny, 1.0 - np.finfo(np.float64).epsneg)


def warn_classes_without_weight(empty):
    """Name, in one warning, the classes fitted with smoothed targets because
    they have no calibration weight (Platt scaling and beta calibration).

    Call it from a calibrator's ``_fit``: the warning points at the user's
    call of ``fit``.
    """
    if not empty:
        return
    # "class <label>" each: CalibratedClassifier maps the codes it fits on
    # back to the user's labels by that pattern.
    shown = ", ".join(f"class {format_label(label)}" for label in empty[:10])
    more = ", ..." if len(empty) > 10 else ""
    warnings.warn(
        f"{len(empty)} class(es) have no calibration rows with positive "
        f"weight (absent from y, or all their sample_weight is 0): {shown}"
        f"{more}. Their unsmoothed log-loss has no finite minimiser, so "
        "they were fitted with Platt's smoothed targets, which give them "
        "a probability of about 1 / (W + 2) for a total weight W.",
        NoFiniteOptimumWarning,
        stacklevel=4,
    )

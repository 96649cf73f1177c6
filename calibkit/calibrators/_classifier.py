"""CalibratedClassifier: a scikit-learn classifier followed by a calibkit calibrator."""

import re
import warnings
from dataclasses import dataclass
from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import check_cv
from sklearn.utils import get_tags, indexable
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import check_is_fitted, column_or_1d, has_fit_parameter

from calibkit._validation import (
    ROW_SUM_ATOL,
    StrOptions,
    check_labels,
    check_method_params,
    check_n_classes,
    check_sample_weight,
    encode_labels,
    format_label,
    rows_off_sum,
    safe_indexing,
)
from calibkit.calibrators._base import BaseCalibrator
from calibkit.calibrators._registry import CALIBRATORS, MethodNames
from calibkit.calibrators._selection import (
    CalibrationSet,
    check_partition,
    choose_method,
    split_rows,
)
from calibkit.exceptions import CalibrationWarning

#: What each response method of the classifier gives the calibrator.
CALIBRATOR_INPUT = {"decision_function": "logits", "predict_proba": "probabilities"}


@dataclass(frozen=True)
class CalibratedPair:
    """A fitted classifier and the calibrator fitted on its held-out outputs.

    Parameters
    ----------
    estimator : estimator
        The fitted (or frozen) classifier.
    calibrator : BaseCalibrator
        The fitted calibrator; its classes are the integer codes of
        ``CalibratedClassifier.classes_``.
    response : str
        ``"decision_function"`` or ``"predict_proba"``.
    probability_floor : float or None
        For ``response="predict_proba"``, probabilities below this value are
        raised to it (then rows are renormalised) before the calibrator sees
        them, so that exact zeros get a finite logit; None otherwise.
    """

    estimator: object
    calibrator: BaseCalibrator
    response: str
    probability_floor: float | None

    def predict_proba(self, X):
        """Calibrated probabilities, columns in the order of the classes."""
        raw = np.asarray(getattr(self.estimator, self.response)(X))
        _check_response_values(raw, self.response, self.estimator)
        return self.calibrator.predict_proba(
            calibrator_input(raw, self.probability_floor)
        )


class CalibratedClassifier(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """A classifier whose probabilities are calibrated by a calibkit calibrator.

    The classifier's held-out outputs (its ``decision_function``, or its
    ``predict_proba`` read as log-probabilities) are mapped to probabilities by
    a calibrator fitted by minimising log-loss.

    Parameters
    ----------
    estimator : classifier, default=None
        The classifier to calibrate; cloned and fitted on folds of the data.
        ``None`` means ``LogisticRegression()``. Wrap an already fitted model
        in :class:`sklearn.frozen.FrozenEstimator` (or pass ``cv="prefit"``) to
        calibrate it without refitting.
    method : {"temperature", "platt", "beta", "isotonic", "auto"} or \
            calibrator, default="temperature"
        The calibrator: :class:`~calibkit.TemperatureScaling`,
        :class:`~calibkit.PlattScaling`, :class:`~calibkit.BetaCalibration`,
        :class:`~calibkit.IsotonicCalibration`
        with default settings, or an instance of any calibkit calibrator (it is
        cloned, and its ``input`` is set to match ``response``). ``"auto"``
        fits every registered method and keeps the one with the lowest
        cross-validated log-loss on the out-of-fold outputs (see
        ``method_scores_``), by the rule of ``calibkit fit --method auto``.
        The names are those of the calibrator registry
        (``calibkit.calibrators._registry``).
    cv : int, cross-validation generator, iterable or "prefit", default=5
        Splits whose held-out predictions feed the calibrator. An int is a
        number of stratified folds. Every row must be in exactly one test fold,
        and every training part must hold every class (see Notes).
        ``"prefit"`` is short for wrapping ``estimator`` in a
        ``FrozenEstimator``. With a frozen estimator the calibrator is fitted on
        all rows, and ``cv`` only splits the rows to score the candidates of
        ``method="auto"`` (5 for ``"prefit"``).
        With ``method="auto"``, an int ``k`` scores the candidates on
        ``min(k, r)`` unshuffled stratified folds of the out-of-fold outputs,
        ``r`` the number of rows of the rarest class (which must be 2 or
        more); a splitter scores them on its own folds.
    ensemble : bool, default=False
        ``False``: one calibrator fitted on the pooled out-of-fold outputs, in
        front of the classifier refitted on all the data. ``True``: one
        (classifier, calibrator) pair per fold, probabilities averaged. Ignored
        for a frozen estimator. See Notes for why ``False`` is the default.
    response : {"auto", "decision_function", "predict_proba"}, default="auto"
        Which output of the classifier is calibrated. ``"auto"`` takes
        ``decision_function`` when the classifier has one, else
        ``predict_proba``.
    n_jobs : int, default=None
        Number of folds fitted in parallel (joblib); ``None`` means 1 unless
        in a :func:`joblib.parallel_backend` context, ``-1`` all processors.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels, those of the inner classifier.
    calibrated_classifiers_ : list of CalibratedPair
        The fitted (classifier, calibrator) pairs: one, or one per fold when
        ``ensemble=True``.
    estimator_ : estimator
        The classifier used at prediction time when there is one pair (the
        refitted or frozen model); the first fold's model otherwise.
    response_ : str
        The response method used, ``"decision_function"`` or
        ``"predict_proba"``.
    method_ : str or None
        Name of the calibration method used (``None`` for a calibrator
        instance).
    method_scores_ : dict of str to float
        Only with ``method="auto"``: the cross-validated mean log-loss (nats)
        of each candidate method on the out-of-fold outputs.
    probability_floor_ : float or None
        With ``response_="predict_proba"``: 0.0, the floor applied to the
        classifier's probabilities (none: exact zeros are modelled by the
        calibrator, see Notes); None otherwise.
    n_features_in_ : int
        Number of features seen by the inner classifier.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Feature names seen by the inner classifier, when it records them
        (e.g. when ``X`` was a pandas DataFrame).

    See Also
    --------
    sklearn.calibration.CalibratedClassifierCV : The scikit-learn counterpart.
    calibkit.TemperatureScaling : One temperature for all logits.
    calibkit.PlattScaling : Logistic regression on the log-odds.
    calibkit.IsotonicCalibration : Monotone, non-parametric calibration.

    Notes
    -----
    **Cross-fitting.** A calibrator fitted on the outputs of a model for the
    rows that model was trained on learns the model's in-sample
    overconfidence, not its behaviour on new data. So ``cv`` splits the rows;
    for each split a clone of ``estimator`` is fitted on the training rows and
    predicts the held-out rows. With ``ensemble=False`` these out-of-fold
    outputs of all rows train one calibrator, and the classifier used for
    prediction is refitted on every row. With ``ensemble=True`` each fold's
    calibrator is fitted on its own held-out rows and the calibrated
    probabilities of the folds' models are averaged.

    ``ensemble=False`` is the default because the calibrator then learns from
    all ``n`` rows instead of ``n / k``: this matters most for isotonic
    calibration and for ``method="auto"``, and it gives one model and one
    calibrator to inspect, save and predict with (``k`` times cheaper). Its
    cost is a small mismatch: the refitted classifier saw a fraction
    ``1 / k`` more data than the models whose outputs trained the calibrator,
    so it tends to be slightly more confident. An average of calibrated models
    is moreover not calibrated in general. (scikit-learn's
    ``CalibratedClassifierCV`` defaults to the ensemble.)

    **Response.** Calibrators work on log-odds and logits. A binary
    ``decision_function`` gives 1-D scores of ``classes_[1]``, a multiclass one
    a column per class; both are passed as logits. ``predict_proba`` is passed
    with ``input="probabilities"``, so the calibrators work on its
    log-probabilities (and, for Platt and isotonic, its log-odds): a sigmoid is
    never fitted to raw probabilities, which would distort a model that is
    already well calibrated. Probabilities of exactly 0 (trees, k-NN, naive
    Bayes) are passed as they are (``probability_floor_`` is 0): Platt and
    temperature scaling fit a probability of their own for them (see their
    ``zero_proba_`` and ``zero_logit_``), isotonic calibration ranks them below
    every positive probability.

    **Rare classes.** Every calibrator is fitted with every class
    (``fit(..., classes=...)``), so a calibration part without some class --
    a fold of ``ensemble=True``, or the rows given for a prefit model that
    lacks a class of ``estimator.classes_`` -- is calibrated like the others
    and the class keeps its column. A class with fewer rows than folds is
    therefore accepted (``cv=<int>`` splits are stratified, so every training
    part still holds it when it has two rows or more). A training part
    without a class is refused before anything is fitted, with a message
    naming the fold: the model fitted on it could not score that class.
    (scikit-learn instead gives such a class probability 0 in that fold's
    pair; here a class of one row needs fewer folds or more rows.) At least two
    classes of positive weight are needed overall; a class whose weight is zero
    in a part is treated as absent from it.

    **The classifier's outputs** are checked at fit and at prediction:
    NaN or infinite values, probabilities outside ``[0, 1]``, and
    ``predict_proba`` rows that do not sum to 1 (beyond
    :data:`calibkit._validation.ROW_SUM_ATOL`) raise a ``ValueError`` naming
    the classifier's method and the first row. Such rows are not renormalised:
    that would hide a broken model.

    **Warnings** of the calibrator are re-issued from :meth:`fit` (pointing at
    the caller's line) in this estimator's terms: class labels as in ``y``,
    calibrator options as ``method=<Calibrator>(option=...)``, and the folds
    they come from when ``ensemble=True``.

    ``sample_weight`` is passed to the classifier's ``fit`` when it accepts
    one, and always to the calibrator. With ``method="auto"`` the candidates
    are scored by cross-validation on the out-of-fold outputs, by the rule of
    ``calibkit fit --method auto`` (see ``cv``); warnings raised while scoring
    candidates are silenced (the chosen method is refitted on all rows and
    warns then).

    References
    ----------
    .. [1] Platt, J. (1999). Probabilistic outputs for support vector machines
       and comparisons to regularized likelihood methods. Advances in Large
       Margin Classifiers, 61-74.
    .. [2] Zadrozny, B. & Elkan, C. (2002). Transforming classifier scores into
       accurate multiclass probability estimates. KDD, 694-699.
       doi:10.1145/775047.775151
    .. [3] Guo, C., Pleiss, G., Sun, Y. & Weinberger, K. Q. (2017). On
       calibration of modern neural networks. ICML, PMLR 70, 1321-1330.
       doi:10.48550/arXiv.1706.04599

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.model_selection import train_test_split
    >>> from sklearn.naive_bayes import GaussianNB
    >>> from calibkit import CalibratedClassifier
    >>> from sklearn.metrics import log_loss
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    >>> raw = GaussianNB().fit(X_train, y_train)
    >>> model = CalibratedClassifier(GaussianNB(), method="auto", cv=3)
    >>> model = model.fit(X_train, y_train)
    >>> model.response_
    'predict_proba'
    >>> sorted(model.method_scores_)
    ['beta', 'dirichlet', 'isotonic', 'matrix', 'platt', 'temperature', 'vector']
    >>> model.method_ == min(model.method_scores_, key=model.method_scores_.get)
    True
    >>> before = log_loss(y_test, raw.predict_proba(X_test))
    >>> after = log_loss(y_test, model.predict_proba(X_test))
    >>> bool(after < before)
    True
    """

    _parameter_constraints = {
        "estimator": "no_validation",
        # A live view of the registry: a method registered later is accepted.
        "method": [StrOptions(MethodNames()), BaseCalibrator],
        "cv": ["cv_object", StrOptions({"prefit"})],
        "ensemble": ["boolean"],
        "response": [StrOptions({"auto", *CALIBRATOR_INPUT})],
        "n_jobs": [Integral, None],
    }

    def __init__(
        self,
        estimator=None,
        *,
        method="temperature",
        cv=5,
        ensemble=False,
        response="auto",
        n_jobs=None,
    ):
        self.estimator = estimator
        self.method = method
        self.cv = cv
        self.ensemble = ensemble
        self.response = response
        self.n_jobs = n_jobs

    # -- fit ----------------------------------------------------------------

    def fit(self, X, y, sample_weight=None, **fit_params):
        """Fit the classifier on folds and the calibrator on its held-out outputs.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data, in any form the classifier accepts (pandas
            DataFrames keep their feature names).
        y : array-like of shape (n_samples,)
            Class labels (strings allowed).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative row weights, for the classifier (when its ``fit``
            accepts them) and the calibrator.
        **fit_params : dict
            Further arguments of the classifier's ``fit``; arrays of length
            ``n_samples`` are split along with the rows. Unused for a frozen
            estimator, which is never fitted.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        self._validate_params()
        self.__dict__.pop("method_scores_", None)  # stale from an earlier "auto" fit
        estimator = self._checked_estimator()
        y = _checked_target(y)
        X, y = indexable(X, y)
        sample_weight = check_sample_weight(sample_weight, y.shape[0])
        self.response_ = self._response_method(estimator)
        candidates = self._candidate_calibrators()
        frozen = isinstance(estimator, FrozenEstimator)
        if frozen:
            self.classes_, codes = _codes_for_fitted(estimator, y)
        else:
            self.classes_, codes = encode_labels(y)
            check_n_classes(self.classes_, name="y")
        _check_two_classes(self.classes_, codes, sample_weight, frozen=frozen)

        if frozen:
            raw = np.asarray(getattr(estimator, self.response_)(X))
            _check_output_shape(raw, self.response_, len(self.classes_), estimator)
            _check_response_values(raw, self.response_, estimator)
        else:
            params = _classifier_fit_params(estimator, sample_weight, fit_params)
            splits = self._cross_fit_splits(X, y, codes)
            fold_models, raw, out_dtype = _cross_fit(
                estimator,
                X,
                y,
                splits,
                params,
                self.response_,
                self.classes_,
                self.n_jobs,
            )
            _check_response_values(raw, self.response_, estimator, dtype=out_dtype)

        self.probability_floor_ = None
        if self.response_ == "predict_proba":
            self.probability_floor_ = 0.0  # exact zeros are the calibrator's job
        calibration = CalibrationSet(
            calibrator_input(raw, self.probability_floor_), codes, sample_weight
        )
        self.method_, calibrator = self._select(candidates, calibration)

        if frozen:
            models_and_rows = [(estimator, calibration.all_rows)]
        elif self.ensemble:
            models_and_rows = [
                (model, test)
                for model, (_, test) in zip(fold_models, splits, strict=True)
            ]
        else:
            final_model = clone(estimator).fit(X, y, **params)
            _check_model_classes(final_model, self.classes_)
            models_and_rows = [(final_model, calibration.all_rows)]
        # The calibrators' warnings are recorded and re-issued below, at the
        # caller's line and in the terms of this estimator: its labels instead
        # of the calibrator's class codes, method= instead of the calibrator's
        # parameter names, and the fold for an ensemble.
        caught = []
        self.calibrated_classifiers_ = []
        for fold, (model, rows) in enumerate(models_and_rows):
            with warnings.catch_warnings(record=True) as records:
                warnings.simplefilter("always")
                fitted = calibration.fit(calibrator, rows)
            source = fold if len(models_and_rows) > 1 else None
            caught += [(record, source) for record in records]
            self.calibrated_classifiers_.append(
                CalibratedPair(model, fitted, self.response_, self.probability_floor_)
            )
        self.estimator_ = self.calibrated_classifiers_[0].estimator
        for message, category in _translated_warnings(
            caught, self.classes_, calibrator
        ):
            warnings.warn(message, category, stacklevel=2)
        return self

    def _checked_estimator(self):
        estimator = LogisticRegression() if self.estimator is None else self.estimator
        if not hasattr(estimator, "fit"):
            msg = (
                "estimator must be a scikit-learn classifier with a fit method; got "
                f"{type(estimator).__name__}."
            )
            raise TypeError(msg)
        if self.cv == "prefit" and not isinstance(estimator, FrozenEstimator):
            check_is_fitted(estimator)
            estimator = FrozenEstimator(estimator)
        return estimator

    def _response_method(self, estimator):
        if self.response != "auto":
            if not hasattr(estimator, self.response):
                msg = (
                    f"response={self.response!r} but the estimator "
                    f"{type(estimator).__name__} has no {self.response} method."
                )
                raise ValueError(msg)
            return self.response
        for name in ("decision_function", "predict_proba"):
            if hasattr(estimator, name):
                return name
        msg = (
            f"The estimator {type(estimator).__name__} has neither decision_function "
            "nor predict_proba; there is nothing to calibrate."
        )
        raise ValueError(msg)

    def _candidate_calibrators(self):
        """Unfitted calibrators to try, by name, with ``input`` set to the response."""
        kind = CALIBRATOR_INPUT[self.response_]
        if isinstance(self.method, BaseCalibrator):
            return {None: clone(self.method).set_params(input=kind)}
        names = list(CALIBRATORS) if self.method == "auto" else [self.method]
        return {name: CALIBRATORS[name](input=kind) for name in names}

    def _cross_fit_splits(self, X, y, codes):
        splits = split_rows(check_cv(self.cv, y, classifier=True), X, y)
        check_partition(splits, codes.shape[0])
        _check_training_parts(splits, codes, self.classes_)
        return splits

    def _select(self, candidates, calibration):
        """The method to use: the only candidate, or the best by CV log-loss.

        "auto" applies select_method's rule to the out-of-fold outputs, so the
        command line picks the same method from the same saved scores.
        """
        if len(candidates) == 1:
            return next(iter(candidates.items()))
        selection = choose_method(
            calibration,
            candidates,
            cv=5 if self.cv == "prefit" else self.cv,
            classes=self.classes_,
        )
        self.method_scores_ = dict(selection.losses)
        return selection.method, candidates[selection.method]

    # -- predict ------------------------------------------------------------

    def predict_proba(self, X):
        """Calibrated probabilities.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data in the form the classifier accepts.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Probabilities, columns in the order of ``classes_``; with
            ``ensemble=True`` the mean over the folds' pairs.
        """
        check_is_fitted(self)
        pairs = self.calibrated_classifiers_
        proba = np.asarray(pairs[0].predict_proba(X), dtype=np.float64)
        for pair in pairs[1:]:
            proba = proba + pair.predict_proba(X)
        return proba / len(pairs) if len(pairs) > 1 else proba

    def predict(self, X):
        """Class with the highest calibrated probability.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data in the form the classifier accepts.

        Returns
        -------
        ndarray of shape (n_samples,)
            Labels from ``classes_``.
        """
        check_is_fitted(self)
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    @property
    def n_features_in_(self):
        """Number of features seen by the inner classifier."""
        return self._fitted_estimator().n_features_in_

    @property
    def feature_names_in_(self):
        """Feature names seen by the inner classifier."""
        return self._fitted_estimator().feature_names_in_

    def _fitted_estimator(self):
        if not hasattr(self, "estimator_"):
            msg = f"{type(self).__name__} is not fitted yet."
            raise AttributeError(msg)
        return self.estimator_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = LogisticRegression() if self.estimator is None else self.estimator
        if not hasattr(inner, "__sklearn_tags__"):
            return tags  # not an estimator: fit says so
        inner_tags = get_tags(inner)
        tags.input_tags.sparse = inner_tags.input_tags.sparse
        tags.input_tags.allow_nan = inner_tags.input_tags.allow_nan
        return tags


# -- helpers -----------------------------------------------------------------


def calibrator_input(raw, probability_floor):
    """Turn a classifier's raw output into what the calibrator expects.

    Decision functions (``probability_floor is None``) pass unchanged, a single
    column flattened to 1-D. Probabilities are kept as an (n, K) matrix (the
    calibrators take the log of each column, so that tiny probabilities of
    either class keep their precision), raised to the floor and renormalised.
    """
    raw = np.asarray(raw)
    if raw.ndim == 2 and raw.shape[1] == 1:
        raw = raw[:, 0]
    if probability_floor is None:
        return raw
    proba = np.maximum(np.asarray(raw, dtype=np.float64), probability_floor)
    return proba / proba.sum(axis=1, keepdims=True)


def _checked_target(y):
    if y is None:
        msg = "requires y to be passed, but the target y is None."
        raise ValueError(msg)
    y = check_labels(column_or_1d(y, warn=True), name="y")
    check_classification_targets(y)
    return y


def _codes_for_fitted(estimator, y):
    """``classes_`` of a fitted classifier and codes of ``y`` in their order.

    ``y`` may lack some of the classes: the calibrator is fitted with all of
    them (``fit(classes=...)``), as the columns of the model's output are.
    """
    classes = np.asarray(estimator.classes_)
    _, sorted_codes = encode_labels(y, classes=classes)
    codes = np.argsort(classes, kind="stable")[sorted_codes]
    return classes, codes


def _labels(labels):
    """Labels as users wrote them, for messages: ``[1, 2]``, not ``np.int64``."""
    return "[" + ", ".join(format_label(label) for label in labels) + "]"


def _check_two_classes(classes, codes, sample_weight, *, frozen):
    """Calibration needs rows of positive total weight in at least two classes.

    Other classes may be missing (a prefit model's class absent from ``y``) or
    weigh nothing; the calibrator is fitted with every class all the same.
    """
    totals = np.bincount(codes, weights=sample_weight, minlength=len(classes))
    if np.count_nonzero(totals > 0) >= 2:
        return
    counts = np.bincount(codes, minlength=len(classes))
    absent = classes[counts == 0]
    if frozen and absent.size:
        msg = (
            f"y has no rows of class(es) {_labels(absent)} of the prefit "
            f"estimator (classes {_labels(classes)}); calibration needs rows of "
            "at least two classes."
        )
    else:
        msg = (
            "sample_weight is zero for every row of class(es) "
            f"{_labels(classes[(totals == 0) & (counts > 0)])}; calibration needs "
            "at least two classes of positive weight."
        )
    raise ValueError(msg)


def _check_training_parts(splits, codes, classes):
    """Every training part must hold every class, or its model cannot score it.

    Checked before anything is fitted. (A test part may lack classes: its
    calibrator is fitted with all of them.)
    """
    counts = np.bincount(codes, minlength=len(classes))
    for fold, (train, _) in enumerate(splits):
        missing = np.bincount(codes[train], minlength=len(classes)) == 0
        if missing.any():
            k = int(np.argmax(missing))
            msg = (
                f"The training part of cv fold {fold} has no rows of class "
                f"{format_label(classes[k])} (y has {counts[k]} row(s) of it), so "
                "the classifier fitted on it could not score that class. Use "
                "fewer folds, stratified folds (cv=<int>), or more rows of the "
                "class."
            )
            raise ValueError(msg)


def _classifier_fit_params(estimator, sample_weight, fit_params):
    params = dict(fit_params)
    if sample_weight is None:
        return params
    if has_fit_parameter(estimator, "sample_weight"):
        params["sample_weight"] = sample_weight
    elif not any(key.endswith("sample_weight") for key in params):
        # A pipeline's weights arrive as "<step>__sample_weight": no warning then.
        warnings.warn(
            f"{type(estimator).__name__}.fit does not accept sample_weight; the "
            "weights are used by the calibrator only. Pass them to the classifier "
            "through fit parameters if it takes them under another name.",
            CalibrationWarning,
            stacklevel=3,
        )
    return params


def _check_model_classes(model, classes):
    model_classes = getattr(model, "classes_", None)
    if model_classes is None or not np.array_equal(np.asarray(model_classes), classes):
        found = "none" if model_classes is None else _labels(model_classes)
        msg = (
            f"The classifier fitted on a fold has classes {found} but y has "
            f"{_labels(classes)}: every training fold must contain every class."
        )
        raise ValueError(msg)


def _cross_fit(estimator, X, y, splits, params, response, classes, n_jobs):
    """Clones fitted on each training fold, their outputs on the test folds
    (float64, in the rows' order) and the outputs' own dtype."""
    n_samples = y.shape[0]
    folds = Parallel(n_jobs=n_jobs)(
        delayed(_fit_fold)(estimator, X, y, train, test, params, response)
        for train, test in splits
    )
    raw = None
    for (model, out), (_, test) in zip(folds, splits, strict=True):
        _check_model_classes(model, classes)
        _check_output_shape(out, response, len(classes), model)
        if raw is None:
            raw = np.empty((n_samples, *out.shape[1:]), dtype=np.float64)
        raw[test] = out
    out_dtype = np.result_type(*(out.dtype for _, out in folds))
    return [model for model, _ in folds], raw, out_dtype


def _fit_fold(estimator, X, y, train, test, params, response):
    """A clone fitted on the training rows, and its output on the test rows."""
    fold_params = check_method_params(X, params, indices=train)
    model = clone(estimator).fit(safe_indexing(X, train), y[train], **fold_params)
    return model, np.asarray(getattr(model, response)(safe_indexing(X, test)))


def _check_output_shape(out, response, n_classes, model):
    """The calibrators need one column per class (1-D scores when binary)."""
    n_columns = 1 if out.ndim == 1 else out.shape[1]
    expected = {1, 2} if n_classes == 2 else {n_classes}
    if out.ndim > 2 or n_columns not in expected:
        msg = (
            f"{type(model).__name__}.{response} returned an array of shape "
            f"{out.shape} for {n_classes} classes; calibration needs one column per "
            "class (or 1-D scores of classes_[1] for two classes). For an SVC, use "
            "decision_function_shape='ovr'."
        )
        raise ValueError(msg)


def _model_name(model):
    """Class name of a classifier, looking through a FrozenEstimator."""
    if isinstance(model, FrozenEstimator):
        model = model.estimator
    return type(model).__name__


def _first(mask):
    """Number of true rows of a row mask and the index of the first one."""
    return int(np.count_nonzero(mask)), int(np.argmax(mask))


def _check_response_values(raw, response, model, dtype=None):
    """The classifier's output must be finite, and probabilities valid.

    Raises a ValueError naming the model's method and the first bad row: these
    are the model's outputs, not the user's data. Probabilities outside
    ``[0, 1]`` or rows that do not sum to 1 (beyond the tolerance of
    :data:`calibkit._validation.ROW_SUM_ATOL` for ``dtype``, by default that
    of ``raw``) are refused rather than renormalised, which would hide a
    broken model.
    """
    where = f"{_model_name(model)}.{response}"
    values = raw.reshape(raw.shape[0], -1)
    nan, inf = np.isnan(values).any(axis=1), np.isinf(values).any(axis=1)
    if nan.any() or inf.any():
        what = " or ".join(
            name for name, bad in (("NaN", nan), ("inf", inf)) if bad.any()
        )
        n_bad, row = _first(nan | inf)
        msg = (
            f"The estimator's {where} returned {what} in {n_bad} rows (first at "
            f"row {row}); calibration needs finite outputs."
        )
        raise ValueError(msg)
    if response != "predict_proba":
        return
    outside = ((values < 0) | (values > 1)).any(axis=1)
    if outside.any():
        n_bad, row = _first(outside)
        bad = values[row][(values[row] < 0) | (values[row] > 1)][0]
        msg = (
            f"The estimator's {where} returned values outside [0, 1] in {n_bad} "
            f"rows (first at row {row}: {float(bad)!r}); these are not "
            "probabilities. Use response='decision_function' if the model has one."
        )
        raise ValueError(msg)
    dtype = values.dtype if dtype is None else np.dtype(dtype)
    atol = ROW_SUM_ATOL.get(dtype, ROW_SUM_ATOL[np.dtype(np.float64)])
    sums = values.sum(axis=1, dtype=np.float64)
    off = rows_off_sum(sums, atol, values.shape[1])
    if off.any():
        n_bad, row = _first(off)
        msg = (
            f"The rows of the estimator's {where} must sum to 1 (tolerance "
            f"{atol:g}); {n_bad} rows do not (first at row {row}, which sums to "
            f"{sums[row]:.10g}). calibkit does not renormalise them silently: fix "
            "the model, or use response='decision_function' if it has one."
        )
        raise ValueError(msg)


#: Calibrator messages print class codes as "class 3": the wrapper's codes.
_CLASS_CODE = re.compile(r"\bclass (\d+)\b")


def _translated_warnings(caught, classes, calibrator):
    """(message, category) pairs to re-issue from ``CalibratedClassifier.fit``.

    ``caught`` holds ``(warning record, source)`` pairs from calibrator fits;
    ``source`` names the fold of an ensemble (or is None). Class codes become
    the user's labels and the calibrator's parameters (``target_smoothing=``,
    ``max_iter``) are named as the user sets them here, through ``method=``.
    Identical messages of several folds are issued once, naming the folds.
    """
    name = type(calibrator).__name__
    params = sorted(
        (p for p in calibrator.get_params() if p != "input"), key=len, reverse=True
    )
    sources = {}
    for record, source in caught:
        text = _CLASS_CODE.sub(
            lambda m: f"class {format_label(classes[int(m.group(1))])}",
            str(record.message),
        )
        for param in params:
            text = re.sub(
                rf"(?<![\w.(]){param}=([^\s,;:]*[^\s,;:.])",
                rf"method={name}({param}=\1)",
                text,
            )
            text = re.sub(
                rf"(?<![\w.(]){param}(?![\w=])",
                f"{param} (method={name}({param}=...))",
                text,
            )
        key = (text, record.category)
        sources.setdefault(key, [])
        if source is not None:
            sources[key].append(source)
    for (text, category), folds in sources.items():
        if folds:
            listed = ", ".join(map(str, folds))
            text = (
                f"Calibrator of cv fold{'s' if len(folds) > 1 else ''} {listed}: {text}"
            )
        yield text, category

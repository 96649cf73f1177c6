"""CalibratedClassifier against hand-built cross-fitting, sklearn and invariances."""

import copy
import re
import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.datasets import (
    load_breast_cancer,
    load_digits,
    load_iris,
    make_classification,
)
from sklearn.ensemble import RandomForestClassifier
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.model_selection import (
    GridSearchCV,
    KFold,
    ShuffleSplit,
    StratifiedKFold,
    cross_val_predict,
    train_test_split,
)
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, LinearSVC
from sklearn.utils.estimator_checks import parametrize_with_checks

from calibkit import (
    CalibratedClassifier,
    IsotonicCalibration,
    PlattScaling,
    TemperatureScaling,
)
from calibkit.calibrators._classifier import CalibratedPair
from calibkit.calibrators._registry import CALIBRATORS, method_choices
from calibkit.exceptions import CalibrationWarning, NoFiniteOptimumWarning
from calibkit.metrics import get_scorer

METHODS = method_choices()  # every registered method, then "auto"


# -- scikit-learn estimator checks --------------------------------------------


def _check_instances():
    # LogisticRegression (decision_function path) for every registered method,
    # with the newton-cholesky solver, which is several times faster than lbfgs
    # on the checks' small data, and once as an ensemble; GaussianNB
    # (predict_proba path) for "auto", which fits every registered calibrator
    # and so is already covered method by method: once, not per ensemble mode
    # (they were the slowest checks of the suite).
    logistic = LogisticRegression(solver="newton-cholesky")
    instances = [
        CalibratedClassifier(logistic, method=m, cv=3) for m in METHODS if m != "auto"
    ]
    instances.append(
        CalibratedClassifier(logistic, method="platt", cv=3, ensemble=True)
    )
    instances.append(CalibratedClassifier(GaussianNB(), method="auto", cv=3))
    # Default parameters, as check_estimator(CalibratedClassifierCV()) passes:
    # check_fit2d_1feature has a class of 3 rows for cv=5 folds.
    instances.append(CalibratedClassifier())
    return instances


# Toy data in the checks (well separated blobs, pure noise) legitimately has no
# finite optimum for Platt/temperature; the calibrators say so with this warning.
@pytest.mark.filterwarnings("ignore::calibkit.exceptions.NoFiniteOptimumWarning")
@parametrize_with_checks(_check_instances())
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


# -- data ---------------------------------------------------------------------


def _split(loader, seed=0, test_size=0.4):
    X, y = loader(return_X_y=True)
    return train_test_split(X, y, test_size=test_size, random_state=seed, stratify=y)


def _brier(y_true, proba, classes):
    onehot = (np.asarray(y_true)[:, None] == classes[None, :]).astype(float)
    return float(np.mean(np.sum((proba - onehot) ** 2, axis=1)))


@pytest.fixture(scope="module")
def cancer():
    return _split(load_breast_cancer)


@pytest.fixture(scope="module")
def digits():
    return _split(load_digits)


@pytest.fixture(scope="module")
def logistic_data():
    """Binary data with a logistic truth: a logistic regression is calibrated."""
    X, y = make_classification(
        n_samples=600, n_features=6, n_informative=4, random_state=3, flip_y=0.1
    )
    return train_test_split(X, y, test_size=0.5, random_state=0, stratify=y)


# -- calibration improves badly calibrated models ----------------------------


def _models():
    return {
        "gaussian_nb": GaussianNB(),
        "forest": RandomForestClassifier(n_estimators=30, random_state=0),
    }


# (model, data set, methods whose held-out Brier score must drop too). Temperature
# and one-vs-rest Platt trade Brier for log-loss on GaussianNB's extreme digit
# scores, and the forest on breast cancer is already good in Brier terms.
BADLY_CALIBRATED = [
    ("gaussian_nb", "cancer", {"temperature", "platt", "isotonic"}),
    ("gaussian_nb", "digits", {"isotonic"}),
    ("forest", "cancer", set()),
    ("forest", "digits", {"temperature", "platt", "isotonic"}),
]


@pytest.mark.parametrize(("model", "dataset", "brier_methods"), BADLY_CALIBRATED)
@pytest.mark.parametrize("method", list(CALIBRATORS))
def test_calibration_lowers_held_out_loss(
    model, dataset, brier_methods, method, request
):
    X_train, X_test, y_train, y_test = request.getfixturevalue(dataset)
    raw = clone(_models()[model]).fit(X_train, y_train)
    calibrated = CalibratedClassifier(_models()[model], method=method, cv=3)
    with warnings.catch_warnings():
        if (model, dataset) == ("gaussian_nb", "digits"):
            # Once its exact zeros are set apart, naive Bayes' digit scores
            # separate some classes in a fold: unregularised vector scaling
            # says so and fits smoothed targets (the point of the warning).
            warnings.simplefilter("ignore", NoFiniteOptimumWarning)
        calibrated.fit(X_train, y_train)
    classes = raw.classes_
    p_raw, p_cal = raw.predict_proba(X_test), calibrated.predict_proba(X_test)
    # sklearn's log_loss clips at machine epsilon, so the raw loss is finite.
    assert log_loss(y_test, p_cal) < 0.8 * log_loss(y_test, p_raw)
    if method in brier_methods:
        assert _brier(y_test, p_cal, classes) < _brier(y_test, p_raw, classes)
    np.testing.assert_allclose(p_cal.sum(axis=1), 1.0, rtol=1e-12)


def test_svm_decision_function_calibrated_like_sklearn(cancer):
    """A linear SVM's margins: our Platt and isotonic match scikit-learn's quality."""
    X_train, X_test, y_train, y_test = cancer
    svm = make_pipeline(StandardScaler(), LinearSVC(C=0.1))
    naive = clone(svm).fit(X_train, y_train).decision_function(X_test)
    naive_loss = log_loss(y_test, 1.0 / (1.0 + np.exp(-naive)))
    folds = StratifiedKFold(3)
    for ours, theirs in (("platt", "sigmoid"), ("isotonic", "isotonic")):
        model = CalibratedClassifier(svm, method=ours, cv=folds).fit(X_train, y_train)
        assert model.response_ == "decision_function"
        reference = CalibratedClassifierCV(svm, method=theirs, cv=folds, ensemble=False)
        reference.fit(X_train, y_train)
        ours_p, their_p = model.predict_proba(X_test), reference.predict_proba(X_test)
        assert log_loss(y_test, ours_p) < naive_loss
        # Pooled isotonic is 0 or 1 at its ends: scikit-learn's version loses
        # tens of nats per wrong held-out row there; calibkit's eps="auto" not.
        assert log_loss(y_test, ours_p) < log_loss(y_test, their_p) + 0.01
        classes = model.classes_
        assert _brier(y_test, ours_p, classes) == pytest.approx(
            _brier(y_test, their_p, classes), abs=0.01
        )


def test_smoothed_platt_equals_sklearn_sigmoid(cancer):
    """With Platt's targets and the same folds, sklearn's sigmoid is the same fit."""
    X_train, X_test, y_train, _ = cancer
    svm = make_pipeline(StandardScaler(), LinearSVC(C=0.1))
    folds = StratifiedKFold(3)
    ours = CalibratedClassifier(
        svm, method=PlattScaling(target_smoothing=True), cv=folds
    ).fit(X_train, y_train)
    theirs = CalibratedClassifierCV(svm, method="sigmoid", cv=folds, ensemble=False)
    theirs.fit(X_train, y_train)
    np.testing.assert_allclose(
        ours.predict_proba(X_test), theirs.predict_proba(X_test), atol=1e-5
    )


def test_exact_isotonic_equals_sklearn_isotonic(cancer):
    """Isotonic without clipping, linear interpolation: scikit-learn's isotonic fit."""
    X_train, X_test, y_train, _ = cancer
    svm = make_pipeline(StandardScaler(), LinearSVC(C=0.1))
    folds = StratifiedKFold(3)
    ours = CalibratedClassifier(svm, method=IsotonicCalibration(eps=0), cv=folds)
    ours.fit(X_train, y_train)
    theirs = CalibratedClassifierCV(svm, method="isotonic", cv=folds, ensemble=False)
    theirs.fit(X_train, y_train)
    np.testing.assert_allclose(
        ours.predict_proba(X_test), theirs.predict_proba(X_test), atol=1e-12
    )


# -- cross-fitting rebuilt by hand --------------------------------------------


def test_pooled_cross_fit_matches_manual_construction(cancer):
    X_train, X_test, y_train, _ = cancer
    lr = make_pipeline(StandardScaler(), LogisticRegression(C=0.05))
    folds = StratifiedKFold(4, shuffle=True, random_state=1)
    model = CalibratedClassifier(lr, cv=folds).fit(X_train, y_train)

    oof = cross_val_predict(lr, X_train, y_train, cv=folds, method="decision_function")
    calibrator = TemperatureScaling().fit(oof, y_train)
    refit = clone(lr).fit(X_train, y_train)
    expected = calibrator.predict_proba(refit.decision_function(X_test))
    np.testing.assert_allclose(model.predict_proba(X_test), expected, rtol=1e-12)
    assert len(model.calibrated_classifiers_) == 1
    assert isinstance(model.calibrated_classifiers_[0], CalibratedPair)


def test_parallel_folds_give_the_same_model(cancer):
    X_train, X_test, y_train, _ = cancer
    results = []
    # Threads: the same dispatch as processes without their start-up time.
    with joblib.parallel_config(backend="threading"):
        for n_jobs in (None, 2):
            model = CalibratedClassifier(GaussianNB(), method="auto", n_jobs=n_jobs)
            results.append(model.fit(X_train, y_train).predict_proba(X_test))
    np.testing.assert_array_equal(results[0], results[1])


def test_ensemble_matches_manual_construction(digits):
    X_train, X_test, y_train, _ = digits
    lr = make_pipeline(StandardScaler(), LogisticRegression(C=0.01))
    folds = StratifiedKFold(3, shuffle=True, random_state=2)
    model = CalibratedClassifier(lr, method="temperature", cv=folds, ensemble=True)
    model.fit(X_train, y_train)

    expected = np.zeros((X_test.shape[0], 10))
    for train, test in folds.split(X_train, y_train):
        fold_model = clone(lr).fit(X_train[train], y_train[train])
        calibrator = TemperatureScaling().fit(
            fold_model.decision_function(X_train[test]), y_train[test]
        )
        expected += calibrator.predict_proba(fold_model.decision_function(X_test)) / 3
    np.testing.assert_allclose(model.predict_proba(X_test), expected, rtol=1e-10)
    assert len(model.calibrated_classifiers_) == 3


def test_auto_scores_are_cross_validated_log_losses(cancer):
    X_train, X_test, y_train, _ = cancer
    lr = make_pipeline(StandardScaler(), LogisticRegression(C=0.05))
    fitted = clone(lr).fit(X_train, y_train)
    X_cal, y_cal = X_train, y_train
    model = CalibratedClassifier(FrozenEstimator(fitted), method="auto", cv=4)
    model.fit(X_cal, y_cal)

    scores = fitted.decision_function(X_cal)
    calibrators = {name: cls() for name, cls in CALIBRATORS.items()}
    assert set(model.method_scores_) == set(calibrators)
    for name, calibrator in calibrators.items():
        losses = np.empty(y_cal.shape[0])
        for train, test in StratifiedKFold(4).split(X_cal, y_cal):
            fitted_cal = clone(calibrator).fit(scores[train], y_cal[train])
            p = fitted_cal.predict_proba(scores[test])[
                np.arange(test.size), y_cal[test]
            ]
            losses[test] = -np.log(p)
        np.testing.assert_allclose(
            model.method_scores_[name], losses.mean(), rtol=1e-10
        )
    best = min(model.method_scores_, key=model.method_scores_.get)
    assert model.method_ == best
    expected = (
        calibrators[best]
        .fit(scores, y_cal)
        .predict_proba(fitted.decision_function(X_test))
    )
    np.testing.assert_allclose(model.predict_proba(X_test), expected, rtol=1e-12)


def test_refit_with_a_named_method_drops_auto_scores():
    (X, y, _, folds), _ = _weighted_and_repeated(6)
    model = CalibratedClassifier(GaussianNB(), method="auto", cv=folds).fit(X, y)
    assert model.method_ in model.method_scores_
    model.set_params(method="platt").fit(X, y)
    assert model.method_ == "platt"
    assert not hasattr(model, "method_scores_")


# -- response -----------------------------------------------------------------


def test_response_auto_prefers_decision_function():
    X, y = make_classification(n_samples=120, random_state=0)
    assert CalibratedClassifier(LogisticRegression()).fit(X, y).response_ == (
        "decision_function"
    )
    assert CalibratedClassifier(GaussianNB()).fit(X, y).response_ == "predict_proba"


def test_probabilities_are_calibrated_on_their_log_odds(logistic_data):
    """For a logistic regression, log(p1 / p0) is its decision function: a Platt fit
    on predict_proba must equal the fit on decision_function (no sigmoid fitted on
    raw probabilities)."""
    X_train, X_test, y_train, _ = logistic_data
    lr = LogisticRegression()
    results = [
        CalibratedClassifier(lr, method="platt", response=r, cv=3)
        .fit(X_train, y_train)
        .predict_proba(X_test)
        for r in ("decision_function", "predict_proba")
    ]
    np.testing.assert_allclose(results[0], results[1], rtol=1e-9, atol=1e-12)


class _FirstColumnScore(ClassifierMixin, BaseEstimator):
    """A 'classifier' whose decision function is its first feature."""

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        return self

    def decision_function(self, X):
        return np.asarray(X)[:, 0]


def test_decision_values_in_unit_interval_are_not_mistaken_for_probabilities():
    rng = np.random.default_rng(9)
    s = rng.random(200)
    y = (rng.random(200) < s).astype(int)
    X = s[:, None]
    scorer = FrozenEstimator(_FirstColumnScore().fit(X, y))
    model = CalibratedClassifier(scorer, method="platt").fit(X, y)  # no warning
    with pytest.warns(CalibrationWarning, match="looks like probabilities"):
        reference = PlattScaling().fit(s, y)  # the bare calibrator has to guess
    np.testing.assert_allclose(
        model.predict_proba(X), reference.predict_proba(s), rtol=1e-12
    )


def test_well_calibrated_model_stays_calibrated(logistic_data):
    """Calibrating an already calibrated model's probabilities costs next to nothing,
    unlike scikit-learn's sigmoid on raw probabilities."""
    X_train, X_test, y_train, y_test = logistic_data
    lr = LogisticRegression().fit(X_train, y_train)
    before = log_loss(y_test, lr.predict_proba(X_test))
    for method in ("platt", "temperature"):
        model = CalibratedClassifier(lr, method=method, response="predict_proba", cv=3)
        after = log_loss(y_test, model.fit(X_train, y_train).predict_proba(X_test))
        assert after < before + 0.005


def test_saturated_probabilities_reach_the_calibrator_and_no_warning():
    """GaussianNB outputs exact 0 and 1; they reach the calibrator unchanged
    (which fits a probability of their own for them), silently (warnings are
    errors in this test run)."""
    X, y = load_breast_cancer(return_X_y=True)
    nb = GaussianNB().fit(X[:300], y[:300])
    proba = nb.predict_proba(X[300:])
    assert np.any(proba == 0.0)
    model = CalibratedClassifier(FrozenEstimator(nb), method="platt")
    model.fit(X[300:], y[300:])
    assert model.probability_floor_ == 0.0
    direct = PlattScaling(input="probabilities")
    with pytest.warns(CalibrationWarning, match="exactly 0 or 1"):
        direct.fit(proba, y[300:])
    np.testing.assert_allclose(
        model.predict_proba(X), direct.predict_proba(nb.predict_proba(X)), rtol=1e-12
    )
    assert 0 < direct.zero_proba_[0] < 1
    assert np.all(np.isfinite(np.log(model.predict_proba(X))))


# -- already fitted models ----------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
def test_prefit_model_is_never_refitted_or_mutated(method, cancer):
    X_train, X_test, y_train, y_test = cancer
    nb = GaussianNB().fit(X_train, y_train)
    snapshot, fingerprint = copy.deepcopy(nb), joblib.hash(nb)
    model = CalibratedClassifier(FrozenEstimator(nb), method=method)
    model.fit(X_test, y_test)
    model.predict_proba(X_train)
    assert joblib.hash(nb) == fingerprint
    np.testing.assert_array_equal(nb.theta_, snapshot.theta_)
    assert model.estimator_.estimator is nb
    prefit = CalibratedClassifier(nb, method=method, cv="prefit").fit(X_test, y_test)
    assert joblib.hash(nb) == fingerprint
    np.testing.assert_array_equal(
        prefit.predict_proba(X_train), model.predict_proba(X_train)
    )


def test_prefit_calibrator_is_fitted_on_all_rows(cancer):
    X_train, X_test, y_train, y_test = cancer
    lr = make_pipeline(StandardScaler(), LogisticRegression()).fit(X_train, y_train)
    model = CalibratedClassifier(FrozenEstimator(lr), ensemble=True).fit(X_test, y_test)
    expected = (
        TemperatureScaling()
        .fit(lr.decision_function(X_test), y_test)
        .predict_proba(lr.decision_function(X_train))
    )
    np.testing.assert_allclose(model.predict_proba(X_train), expected, rtol=1e-12)
    assert len(model.calibrated_classifiers_) == 1


def test_prefit_unfitted_model_is_an_error():
    X, y = make_classification(n_samples=40, random_state=0)
    with pytest.raises(NotFittedError):
        CalibratedClassifier(LogisticRegression(), cv="prefit").fit(X, y)


# -- weights, labels, inputs --------------------------------------------------


def _weighted_and_repeated(seed=0):
    """Weighted rows and the same rows repeated, with matching explicit folds."""
    X, y = make_classification(
        n_samples=90,
        n_features=5,
        n_informative=3,
        n_classes=3,
        class_sep=0.5,
        flip_y=0.1,
        random_state=seed,
    )
    w = np.random.default_rng(seed).integers(0, 4, size=y.shape[0])
    w[:6] = 1  # every class keeps rows of positive weight in every fold
    fold = np.arange(y.shape[0]) % 3
    X_rep, y_rep, fold_rep = (np.repeat(a, w, axis=0) for a in (X, y, fold))

    def splits(f):
        return [(np.flatnonzero(f != k), np.flatnonzero(f == k)) for k in range(3)]

    return (X, y, w, splits(fold)), (X_rep, y_rep, splits(fold_rep))


# Matrix and Dirichlet scaling choose their regularisation by an inner
# cross-validation (reg_*="cv"): a weighted row sits in one inner fold while its
# repeats can be spread over several, so the chosen strength (and the fit) may
# differ. At a given strength, weights equal repeats
# (tests/test_calibrators_common.py::test_integer_weights_equal_repeated_rows).
_INNER_CV = pytest.mark.xfail(
    reason="inner cross-validation of the regularisation", raises=AssertionError
)


def _mark_inner_cv(request, method, affected):
    if method in affected:
        request.applymarker(_INNER_CV)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("ensemble", [False, True])
def test_integer_weights_equal_repeated_rows(method, ensemble, request):
    _mark_inner_cv(request, method, {"auto"})
    (X, y, w, folds), (X_rep, y_rep, folds_rep) = _weighted_and_repeated()
    weighted = CalibratedClassifier(GaussianNB(), method=method, cv=folds)
    weighted.set_params(ensemble=ensemble).fit(X, y, sample_weight=w)
    repeated = CalibratedClassifier(GaussianNB(), method=method, cv=folds_rep)
    repeated.set_params(ensemble=ensemble).fit(X_rep, y_rep)
    np.testing.assert_allclose(
        weighted.predict_proba(X), repeated.predict_proba(X), rtol=1e-7, atol=1e-10
    )
    if method == "auto":
        for name, score in weighted.method_scores_.items():
            assert score == pytest.approx(repeated.method_scores_[name], rel=1e-8)


@pytest.mark.parametrize("method", list(CALIBRATORS))
def test_prefit_integer_weights_equal_repeated_rows(method, request):
    _mark_inner_cv(request, method, {"matrix", "dirichlet"})
    (X, y, w, _), (X_rep, y_rep, _) = _weighted_and_repeated(7)
    lr = LogisticRegression(C=0.1).fit(X[::2], y[::2])
    weighted = CalibratedClassifier(FrozenEstimator(lr), method=method)
    weighted.fit(X, y, sample_weight=w)
    repeated = CalibratedClassifier(FrozenEstimator(lr), method=method)
    repeated.fit(X_rep, y_rep)
    np.testing.assert_allclose(
        weighted.predict_proba(X), repeated.predict_proba(X), rtol=1e-9, atol=1e-12
    )


@pytest.mark.parametrize("method", METHODS)
def test_row_order_does_not_matter(method):
    """Permuting the rows, with each row keeping its fold, changes nothing."""
    (X, y, _, folds), _ = _weighted_and_repeated(8)
    fold_of = np.empty(y.shape[0], dtype=int)
    for k, (_, test) in enumerate(folds):
        fold_of[test] = k
    order = np.random.default_rng(8).permutation(y.shape[0])
    permuted_folds = [
        (np.flatnonzero(fold_of[order] != k), np.flatnonzero(fold_of[order] == k))
        for k in range(len(folds))
    ]
    model = CalibratedClassifier(GaussianNB(), method=method, cv=folds).fit(X, y)
    permuted = CalibratedClassifier(GaussianNB(), method=method, cv=permuted_folds)
    permuted.fit(X[order], y[order])
    np.testing.assert_allclose(
        model.predict_proba(X), permuted.predict_proba(X), rtol=1e-9, atol=1e-12
    )


def test_weights_reach_classifier_and_calibrator():
    (X, y, w, folds), _ = _weighted_and_repeated(1)
    model = CalibratedClassifier(GaussianNB(), method="platt", cv=folds)
    model.fit(X, y, sample_weight=w)
    expected = GaussianNB().fit(X, y, sample_weight=w)
    np.testing.assert_allclose(model.estimator_.theta_, expected.theta_, rtol=1e-12)


def test_fit_params_are_split_with_the_rows():
    (X, y, w, folds), _ = _weighted_and_repeated(2)
    via_params = CalibratedClassifier(
        make_pipeline(StandardScaler(), GaussianNB()), method="platt", cv=folds
    ).fit(X, y, gaussiannb__sample_weight=w)
    via_weights = CalibratedClassifier(GaussianNB(), method="platt", cv=folds)
    # The pipeline scaler ignores weights; GaussianNB is scale-equivariant, so the
    # classifiers agree and only the calibrator (unweighted above) differs.
    via_weights.fit(X, y, sample_weight=w)
    scaled_nb = via_params.estimator_[-1]
    np.testing.assert_allclose(
        scaled_nb.class_count_, via_weights.estimator_.class_count_, rtol=1e-12
    )


def test_string_labels_match_integer_labels(digits):
    X_train, X_test, y_train, _ = digits
    names = np.array([f"digit {k}" for k in range(10)])
    as_ints = CalibratedClassifier(GaussianNB(), method="isotonic", cv=3)
    as_ints.fit(X_train, y_train)
    as_strings = CalibratedClassifier(GaussianNB(), method="isotonic", cv=3)
    as_strings.fit(X_train, names[y_train])
    np.testing.assert_array_equal(as_strings.classes_, names)
    np.testing.assert_allclose(
        as_strings.predict_proba(X_test), as_ints.predict_proba(X_test), rtol=1e-12
    )
    np.testing.assert_array_equal(
        as_strings.predict(X_test), names[as_ints.predict(X_test)]
    )


def test_pandas_input_keeps_feature_names(cancer):
    X_train, X_test, y_train, _ = cancer
    columns = [f"f{j}" for j in range(X_train.shape[1])]
    frame = pd.DataFrame(X_train, columns=columns)
    labels = pd.Series(np.where(y_train == 1, "benign", "malignant"))
    model = CalibratedClassifier(GaussianNB(), method="platt", cv=3)
    model.fit(frame, labels)
    np.testing.assert_array_equal(model.feature_names_in_, columns)
    assert model.n_features_in_ == len(columns)
    from_numpy = CalibratedClassifier(GaussianNB(), method="platt", cv=3)
    from_numpy.fit(X_train, labels.to_numpy())
    np.testing.assert_allclose(
        model.predict_proba(pd.DataFrame(X_test, columns=columns)),
        from_numpy.predict_proba(X_test),
        # GaussianNB's scores reach 1e-35 probabilities, where the last bits of
        # the slope (summation order of the inner model) show.
        rtol=1e-9,
        atol=1e-15,
    )


def test_inputs_are_not_mutated():
    (X, y, w, folds), _ = _weighted_and_repeated(3)
    copies = [a.copy() for a in (X, y, w)]
    method = IsotonicCalibration(interpolation="step")
    CalibratedClassifier(GaussianNB(), method=method, cv=folds).fit(X, y, w)
    for original, kept in zip((X, y, w), copies, strict=True):
        np.testing.assert_array_equal(original, kept)
    assert not hasattr(method, "classes_")


def test_calibrator_instance_is_cloned_with_its_options():
    (X, y, _, folds), _ = _weighted_and_repeated(4)
    method = IsotonicCalibration(interpolation="step", eps=0.01)
    model = CalibratedClassifier(GaussianNB(), method=method, cv=folds).fit(X, y)
    calibrator = model.calibrated_classifiers_[0].calibrator
    assert calibrator is not method
    assert calibrator.get_params() == {
        "input": "probabilities",
        "interpolation": "step",
        "eps": 0.01,
    }
    assert model.method_ is None


# -- composition --------------------------------------------------------------


def test_works_inside_a_pipeline(cancer):
    X_train, X_test, y_train, y_test = cancer
    pipe = make_pipeline(
        StandardScaler(), CalibratedClassifier(LinearSVC(C=0.1), method="platt")
    )
    pipe.fit(X_train, y_train)
    proba = pipe.predict_proba(X_test)
    assert proba.shape == (X_test.shape[0], 2)
    assert log_loss(y_test, proba) < 0.2


def test_grid_search_with_a_calibkit_scorer(cancer):
    X_train, _, y_train, _ = cancer
    search = GridSearchCV(
        CalibratedClassifier(GaussianNB(), cv=3),
        {"method": list(CALIBRATORS)},
        scoring=get_scorer("neg_log_loss_exact"),
        cv=StratifiedKFold(3),
    )
    search.fit(X_train, y_train)
    scores = search.cv_results_["mean_test_score"]
    assert np.all(np.isfinite(scores))
    assert (
        search.best_params_["method"]
        == search.cv_results_["params"][int(np.argmax(scores))]["method"]
    )
    # The first candidate's score, recomputed by hand.
    folds = StratifiedKFold(3).split(X_train, y_train)
    manual = []
    for train, test in folds:
        model = CalibratedClassifier(GaussianNB(), cv=3, method="temperature")
        model.fit(X_train[train], y_train[train])
        manual.append(-log_loss(y_train[test], model.predict_proba(X_train[test])))
    assert scores[0] == pytest.approx(np.mean(manual), rel=1e-9)


# -- errors -------------------------------------------------------------------


def _bad_cases():
    X, y = make_classification(n_samples=60, random_state=0)
    fitted = LogisticRegression().fit(X, y)
    few = y.copy()
    few[:59] = 0
    few[59:] = 1  # one row: the training part of its fold has none
    zero_weight_class = np.where(y == 1, 0.0, 1.0)
    return [
        ({"method": "bogus"}, {}, y, ValueError, "'method' parameter"),
        ({"response": "bogus"}, {}, y, ValueError, "'response' parameter"),
        ({"ensemble": "yes"}, {}, y, ValueError, "'ensemble' parameter"),
        ({"estimator": "not a model"}, {}, y, TypeError, "estimator must be"),
        (
            {"estimator": LinearSVC(), "response": "predict_proba"},
            {},
            y,
            ValueError,
            "has no predict_proba",
        ),
        (
            {"cv": 3},
            {},
            few,
            ValueError,
            r"training part of cv fold 2 has no rows of class 1 \(y has 1 row",
        ),
        (
            {"cv": ShuffleSplit(3, random_state=0)},
            {},
            y,
            ValueError,
            "exactly one test fold",
        ),
        (
            {"estimator": FrozenEstimator(fitted)},
            {},
            np.zeros_like(y),
            ValueError,
            r"no rows of class\(es\) \[1\]",
        ),
        (
            {},
            {"sample_weight": zero_weight_class},
            y,
            ValueError,
            r"sample_weight is zero for every row of class\(es\) \[1\]",
        ),
        ({}, {"sample_weight": np.ones(3)}, y, ValueError, "sample_weight has 3"),
        ({}, {}, None, ValueError, "target y is None"),
        ({}, {}, np.linspace(0, 1, 60), ValueError, "Unknown label type"),
    ], X


@pytest.mark.parametrize("case", range(12))
def test_bad_input_messages(case):
    cases, X = _bad_cases()
    params, fit_kwargs, y, error, match = cases[case]
    model = CalibratedClassifier(GaussianNB(), cv=3).set_params(**params)
    with pytest.raises(error, match=match):
        model.fit(X, y, **fit_kwargs)


def test_classifier_without_sample_weight_warns():
    (X, y, w, folds), _ = _weighted_and_repeated(5)
    model = CalibratedClassifier(KNeighborsClassifier(), method="isotonic", cv=folds)
    with pytest.warns(CalibrationWarning, match="does not accept sample_weight") as rec:
        model.fit(X, y, sample_weight=w)
    assert rec[0].filename == __file__
    # The calibrator still uses them: same as an explicitly weighted calibrator.
    oof = cross_val_predict(
        KNeighborsClassifier(), X, y, cv=folds, method="predict_proba"
    )
    calibrator = IsotonicCalibration(input="probabilities").fit(oof, y, w)
    test = KNeighborsClassifier().fit(X, y).predict_proba(X)
    np.testing.assert_allclose(
        model.predict_proba(X), calibrator.predict_proba(test), rtol=1e-12
    )


def test_one_vs_one_decision_function_is_an_error():
    X, y = load_iris(return_X_y=True)
    X = np.hstack([X, X[:, :1] * 0.5])
    y4 = np.where(X[:, 0] > 6.5, 3, y)
    svc = SVC(decision_function_shape="ovo")
    with pytest.raises(ValueError, match=r"returned an array of shape \(\d+, 6\)"):
        CalibratedClassifier(svc, cv=3).fit(X, y4)


def test_fold_missing_a_class_is_an_error():
    X, y = make_classification(n_samples=60, random_state=0)
    order = np.argsort(y, kind="stable")
    X, y = X[order], y[order]
    halves = [(np.arange(30), np.arange(30, 60)), (np.arange(30, 60), np.arange(30))]
    # Refused before any fit, naming the fold and the class.
    match = r"training part of cv fold 0 has no rows of class 1 \(y has 30 row"
    with pytest.raises(ValueError, match=match):
        CalibratedClassifier(GaussianNB(), cv=halves).fit(X, y)


def test_unfitted_predict_raises():
    with pytest.raises(NotFittedError):
        CalibratedClassifier().predict_proba(np.zeros((2, 3)))
    with pytest.raises(AttributeError, match="not fitted"):
        _ = CalibratedClassifier().n_features_in_


# -- rare classes -------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("ensemble", [False, True])
def test_calibration_part_with_one_class(method, ensemble):
    """scikit-learn's non-regression test for its issue 7796: with KFold(3) on
    sorted labels the first and last calibration parts hold one class."""
    X, _ = make_classification(n_samples=10, n_features=5, random_state=0)
    y = np.array([1, 1, 1, 1, 1, 0, 0, 0, 0, 0])
    svm = LinearSVC(C=1.0, random_state=7)
    model = CalibratedClassifier(svm, method=method, cv=KFold(3), ensemble=ensemble)
    with warnings.catch_warnings():
        # Platt and temperature have no finite optimum on one-class parts.
        warnings.simplefilter("ignore", NoFiniteOptimumWarning)
        model.fit(X, y)
    np.testing.assert_allclose(model.predict_proba(X).sum(axis=1), 1.0, rtol=1e-12)


def test_ensemble_calibrators_are_fitted_with_every_class():
    """A fold's calibration part without a class: its calibrator is the one
    fitted with fit(classes=...) on that part, built here by hand."""
    X, _ = make_classification(n_samples=10, n_features=5, random_state=0)
    y = np.array([1, 1, 1, 1, 1, 0, 0, 0, 0, 0])
    folds = KFold(3)
    model = CalibratedClassifier(
        LinearSVC(random_state=7), method="isotonic", cv=folds, ensemble=True
    ).fit(X, y)
    expected = np.zeros((10, 2))
    for train, test in folds.split(X, y):
        svm = LinearSVC(random_state=7).fit(X[train], y[train])
        calibrator = IsotonicCalibration().fit(
            svm.decision_function(X[test]), y[test], classes=[0, 1]
        )
        expected += calibrator.predict_proba(svm.decision_function(X)) / 3
    np.testing.assert_allclose(model.predict_proba(X), expected, rtol=1e-12)


def _rare_class_data(n_rare=2, seed=0):
    """Three classes (labels 10, 20, 30), the last with only ``n_rare`` rows."""
    X, y = make_classification(
        n_samples=80, n_features=5, n_informative=3, n_classes=2, random_state=seed
    )
    labels = np.where(y == 1, 20, 10)
    labels[:n_rare] = 30
    return X, labels


@pytest.mark.parametrize("ensemble", [False, True])
def test_class_with_fewer_rows_than_folds_is_fitted(ensemble):
    """Two rows of a class and cv=3: every training part holds the class (the
    rows sit in different stratified test folds), so it can be fitted; the
    calibration parts without it are fitted with every class."""
    X, y = _rare_class_data()
    lr = LogisticRegression(C=0.5)
    model = CalibratedClassifier(lr, method="temperature", cv=3, ensemble=ensemble)
    model.fit(X, y)
    np.testing.assert_array_equal(model.classes_, [10, 20, 30])

    with pytest.warns(UserWarning, match="least populated class"):
        folds = list(StratifiedKFold(3).split(X, y))
    codes = np.searchsorted([10, 20, 30], y)
    if ensemble:
        expected = np.zeros((X.shape[0], 3))
        for train, test in folds:
            fold_model = clone(lr).fit(X[train], y[train])
            calibrator = TemperatureScaling().fit(
                fold_model.decision_function(X[test]), codes[test], classes=[0, 1, 2]
            )
            expected += calibrator.predict_proba(fold_model.decision_function(X)) / 3
    else:
        oof = cross_val_predict(lr, X, y, cv=folds, method="decision_function")
        calibrator = TemperatureScaling().fit(oof, y)
        expected = calibrator.predict_proba(clone(lr).fit(X, y).decision_function(X))
    np.testing.assert_allclose(model.predict_proba(X), expected, rtol=1e-10)


@pytest.mark.parametrize("ensemble", [False, True])
def test_auto_with_a_rare_class(ensemble):
    """method="auto" with a class of fewer rows than folds: the cross-fitting
    folds' test parts lack it, the candidates are scored on 3 folds (one per
    row of the rare class); scikit-learn's "least populated class" warning is
    not passed on."""
    X, y = _rare_class_data(n_rare=3, seed=1)
    model = CalibratedClassifier(
        LogisticRegression(), method="auto", cv=5, ensemble=ensemble
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NoFiniteOptimumWarning)
        model.fit(X, y)
    assert set(model.method_scores_) == set(CALIBRATORS)
    assert all(np.isfinite(list(model.method_scores_.values())))
    np.testing.assert_allclose(model.predict_proba(X).sum(axis=1), 1.0, rtol=1e-12)


@pytest.mark.parametrize("ensemble", [False, True])
def test_zero_weight_class_in_a_fold_equals_dropped_rows(ensemble):
    """Class 2 weighs nothing in fold 0: as if those rows were absent, so the
    calibration part of fold 0 has no row of it."""
    X, y = make_classification(
        n_samples=90, n_features=5, n_informative=3, n_classes=3, random_state=0
    )
    fold = np.arange(90) % 3
    w = np.where((y == 2) & (fold == 0), 0.0, 1.0)
    keep = w > 0

    def splits(f):
        return [(np.flatnonzero(f != k), np.flatnonzero(f == k)) for k in range(3)]

    lr = LogisticRegression(solver="newton-cholesky", tol=1e-12)
    weighted = CalibratedClassifier(lr, cv=splits(fold), ensemble=ensemble)
    weighted.fit(X, y, sample_weight=w)
    dropped = CalibratedClassifier(lr, cv=splits(fold[keep]), ensemble=ensemble)
    dropped.fit(X[keep], y[keep])
    np.testing.assert_allclose(
        weighted.predict_proba(X), dropped.predict_proba(X), rtol=1e-6, atol=1e-9
    )


@pytest.mark.parametrize("method", list(CALIBRATORS))
def test_prefit_model_with_classes_missing_from_y(method):
    """A prefit model's class absent from y: the calibrator is fitted with
    classes=estimator.classes_, as the bare calibrator would be."""
    X, y = load_iris(return_X_y=True)
    lr = LogisticRegression(max_iter=1000).fit(X, y)
    X_cal, y_cal = X[y < 2], y[y < 2]  # no row of class 2
    model = CalibratedClassifier(FrozenEstimator(lr), method=method)
    calibrator = CALIBRATORS[method]()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NoFiniteOptimumWarning)
        model.fit(X_cal, y_cal)
        calibrator.fit(lr.decision_function(X_cal), y_cal, classes=[0, 1, 2])
    np.testing.assert_array_equal(model.classes_, [0, 1, 2])
    np.testing.assert_allclose(
        model.predict_proba(X),
        calibrator.predict_proba(lr.decision_function(X)),
        rtol=1e-12,
    )


def test_prefit_model_with_string_classes_missing_from_y():
    X, y = load_iris(return_X_y=True)
    names = np.array(["setosa", "versicolor", "virginica"])
    lr = LogisticRegression(max_iter=1000).fit(X, names[y])
    model = CalibratedClassifier(lr, cv="prefit").fit(X[y > 0], names[y[y > 0]])
    np.testing.assert_array_equal(model.classes_, names)
    assert model.predict_proba(X).shape == (150, 3)
    with pytest.raises(ValueError, match=r"no rows of class\(es\) \[setosa, vers"):
        CalibratedClassifier(lr, cv="prefit").fit(X[y == 2], names[y[y == 2]])


# -- the classifier's outputs -------------------------------------------------


class _Faulty(ClassifierMixin, BaseEstimator):
    """A classifier whose outputs are broken in chosen rows (by feature value)."""

    def __init__(self, fault="nan"):
        self.fault = fault

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        return self

    def decision_function(self, X):
        s = np.asarray(X, dtype=float)[:, 0].copy()
        s[np.asarray(X)[:, 1] > 0] = np.nan if self.fault == "nan" else np.inf
        return s

    def predict_proba(self, X):
        p = 1.0 / (1.0 + np.exp(-np.asarray(X, dtype=float)[:, 0]))
        proba = np.column_stack([1.0 - p, p])
        bad = np.asarray(X)[:, 1] > 0
        if self.fault == "negative":
            proba[bad] = [-0.25, 1.25]
        elif self.fault == "unnormalised":
            proba[bad] *= 1.1
        return proba


def _faulty_data():
    rng = np.random.default_rng(3)
    X = np.column_stack([rng.normal(size=40), -np.ones(40)])
    y = (rng.random(40) < 1.0 / (1.0 + np.exp(-X[:, 0]))).astype(int)
    X[[7, 11, 30], 1] = 1.0  # the rows the model gets wrong
    return X, y


@pytest.mark.parametrize(
    ("fault", "response", "match"),
    [
        ("nan", "decision_function", r"_Faulty.decision_function returned NaN in 3 "),
        ("inf", "decision_function", r"_Faulty.decision_function returned inf in 3 "),
        ("negative", "predict_proba", r"outside \[0, 1\] in 3 rows \(first at row 7: "),
        (
            "unnormalised",
            "predict_proba",
            r"3 rows do not \(first at row 7, which sums to 1.1\)",
        ),
    ],
)
def test_broken_model_outputs_are_named(fault, response, match):
    """The model's output is at fault, not X: say which method and rows."""
    X, y = _faulty_data()
    model = _Faulty(fault)
    frozen = CalibratedClassifier(FrozenEstimator(model.fit(X, y)), response=response)
    with pytest.raises(ValueError, match=match):
        frozen.fit(X, y)
    cross_fitted = CalibratedClassifier(model, response=response, cv=KFold(4))
    with pytest.raises(ValueError, match=match) as info:
        cross_fitted.fit(X, y)
    assert "(first at row 7" in str(info.value)  # rows of X, not of a fold
    # At prediction time too: rows of the X given to predict_proba.
    clean = X.copy()
    clean[:, 1] = -1.0
    fitted = CalibratedClassifier(FrozenEstimator(model), response=response)
    fitted.fit(clean, y)
    with pytest.raises(ValueError, match=r"\(first at row 7"):
        fitted.predict_proba(X)


# -- warnings -----------------------------------------------------------------


def test_calibrator_warning_names_labels_and_method_at_the_callers_line():
    """Platt one-vs-rest: the first class separates from the rest. The warning
    points here, prints the label (10, not the code 0 or np.int64(10)) and
    tells how to ask for smoothing through this estimator."""
    X, y = load_iris(return_X_y=True)
    labels = np.array([10, 20, 30])[y]
    lr = LogisticRegression(max_iter=1000).fit(X, labels)
    model = CalibratedClassifier(FrozenEstimator(lr), method="platt")
    with pytest.warns(NoFiniteOptimumWarning, match="class 10 against") as record:
        model.fit(X, labels)
    assert record[0].filename == __file__
    message = str(record[0].message)
    assert "method=PlattScaling(target_smoothing=True)" in message
    assert "np." not in message
    assert " target_smoothing=True" not in message.replace("(target_smoothing", "")


def test_ensemble_warnings_name_the_folds_and_point_here():
    X, _ = make_classification(n_samples=10, n_features=5, random_state=0)
    y = np.array([1, 1, 1, 1, 1, 0, 0, 0, 0, 0])
    model = CalibratedClassifier(
        LinearSVC(random_state=7), method="platt", cv=KFold(3), ensemble=True
    )
    # Folds 0 and 2 calibrate on one class each: each fold's warning names its
    # fold and the missing class by its label, at this line.
    with pytest.warns(NoFiniteOptimumWarning) as record:
        model.fit(X, y)
    texts = sorted(str(r.message) for r in record)
    assert len(texts) == 2
    assert re.match(r"^Calibrator of cv fold 0: .*: class 0\.", texts[0])
    assert re.match(r"^Calibrator of cv fold 2: .*: class 1\.", texts[1])
    assert {r.filename for r in record} == {__file__}


def test_max_iter_is_named_through_method():
    X, y = load_breast_cancer(return_X_y=True)
    nb = GaussianNB().fit(X[:300], y[:300])
    model = CalibratedClassifier(
        FrozenEstimator(nb), method=TemperatureScaling(max_iter=1)
    )
    with pytest.warns(CalibrationWarning, match="did not converge") as record:
        model.fit(X[300:], y[300:])
    assert record[0].filename == __file__
    assert "method=TemperatureScaling(max_iter=1)" in str(record[0].message)


def test_one_class_message_prints_the_label():
    X, _ = make_classification(n_samples=30, random_state=0)
    with pytest.raises(ValueError, match=r"y has 1 class \(7\); at least 2"):
        CalibratedClassifier(GaussianNB(), cv=3).fit(X, np.full(30, 7))


class _Float32Proba(_Faulty):
    """Probabilities in float32 whose rows are off by 5e-6, as float32 rounding
    of many classes gives."""

    def predict_proba(self, X):
        proba = super().predict_proba(X).astype(np.float32)
        proba[:, 1] += np.float32(5e-6)
        return proba


def test_float32_probabilities_get_the_float32_tolerance():
    X, y = _faulty_data()
    X[:, 1] = -1.0
    for estimator in (_Float32Proba(), FrozenEstimator(_Float32Proba().fit(X, y))):
        model = CalibratedClassifier(estimator, response="predict_proba", cv=4)
        model.fit(X, y)
        np.testing.assert_allclose(model.predict_proba(X).sum(axis=1), 1, rtol=1e-6)

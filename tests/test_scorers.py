"""calibkit scorers against the metrics applied by hand and scikit-learn's scorers."""

import pickle
from inspect import signature

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, get_scorer_names
from sklearn.metrics import get_scorer as sklearn_get_scorer
from sklearn.metrics import log_loss as sklearn_log_loss
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score
from sklearn.naive_bayes import GaussianNB
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from calibkit import metrics
from calibkit.exceptions import CalibrationWarning
from calibkit.metrics import (
    CalibrationScorer,
    get_scorer,
    make_calibration_scorer,
)
from calibkit.metrics import get_scorer_names as calibkit_scorer_names
from calibkit.metrics._scorers import SCORERS


@pytest.fixture(scope="module")
def binary_model():
    X, y = load_breast_cancer(return_X_y=True)
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.05))
    return model.fit(X[::2], y[::2]), X[1::2], y[1::2]


@pytest.fixture(scope="module")
def multiclass_model():
    X, y = load_iris(return_X_y=True)
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.1))
    return model.fit(X[::2], y[::2]), X[1::2], y[1::2]


def neg_log_loss_by_hand(y, proba, classes):
    rows = np.arange(y.shape[0])
    return float(np.mean(np.log(proba[rows, np.searchsorted(classes, y)])))


def neg_brier_by_hand(y, proba, classes):
    onehot = (y[:, None] == classes).astype(np.float64)
    squared = np.sum((proba - onehot) ** 2, axis=1)
    # The binary Brier score is mean (p - y)^2 over the positive class only:
    # half of the sum over both columns.
    return -float(np.mean(squared / 2 if classes.shape[0] == 2 else squared))


def neg_ece_by_hand(y, proba, classes):
    # Top-label ECE (Guo et al. 2017) over equal-width bins [e_k, e_k+1), the
    # last one closed, with the number of bins the metric documents.
    n_bins = signature(metrics.expected_calibration_error).parameters["n_bins"]
    edges = np.linspace(0, 1, n_bins.default + 1)
    confidence = proba.max(axis=1)
    correct = classes[proba.argmax(axis=1)] == y
    which = np.clip(np.searchsorted(edges, confidence, side="right") - 1, 0, None)
    which = np.minimum(which, n_bins.default - 1)
    gaps = []
    for b in np.unique(which):
        in_bin = which == b
        accuracy, mean_confidence = correct[in_bin].mean(), confidence[in_bin].mean()
        gaps.append(in_bin.sum() * abs(accuracy - mean_confidence))
    return -float(np.sum(gaps) / y.shape[0])


# The ready-made scorers as documented in ``get_scorer``, each with a
# reference written here from the definitions (not from calibkit's table).
DOCUMENTED_SCORERS = {
    "neg_log_loss_exact": neg_log_loss_by_hand,
    "neg_brier_score": neg_brier_by_hand,
    "neg_expected_calibration_error": neg_ece_by_hand,
}


def test_scorer_names():
    assert calibkit_scorer_names() == sorted(DOCUMENTED_SCORERS)
    for name in DOCUMENTED_SCORERS:
        assert f"``{name!r}``".replace("'", '"') in get_scorer.__doc__
    # The exact log-loss gets its own name: sklearn's "neg_log_loss" clips.
    assert "neg_log_loss_exact" not in get_scorer_names()


@pytest.mark.parametrize("name", sorted(DOCUMENTED_SCORERS))
@pytest.mark.parametrize("problem", ["binary_model", "multiclass_model"])
def test_each_scorer_in_cross_val_score(name, problem, request):
    model, X, y = request.getfixturevalue(problem)
    folds = list(StratifiedKFold(3, shuffle=True, random_state=0).split(X, y))
    scores = cross_val_score(model, X, y, scoring=get_scorer(name), cv=folds)
    expected = []
    for train, test in folds:
        fitted = clone(model).fit(X[train], y[train])
        proba = fitted.predict_proba(X[test])
        expected.append(DOCUMENTED_SCORERS[name](y[test], proba, fitted.classes_))
    np.testing.assert_allclose(scores, expected, rtol=1e-12, atol=1e-15)
    assert np.all(scores < 0)  # losses, negated


@pytest.mark.parametrize("name", sorted(SCORERS))
@pytest.mark.parametrize("problem", ["binary_model", "multiclass_model"])
def test_ready_made_scorers_negate_the_metric(name, problem, request):
    model, X, y = request.getfixturevalue(problem)
    proba = model.predict_proba(X)
    y_prob = proba[:, 1] if proba.shape[1] == 2 else proba
    metric = getattr(metrics, SCORERS[name][0])
    assert get_scorer(name)(model, X, y) == -metric(y, y_prob)


def test_log_loss_scorer_equals_sklearn_neg_log_loss(binary_model, multiclass_model):
    """Away from 0 and 1 the exact and the clipped log-loss agree."""
    for model, X, y in (binary_model, multiclass_model):
        ours = get_scorer("neg_log_loss_exact")(model, X, y)
        theirs = sklearn_get_scorer("neg_log_loss")(model, X, y)
        assert ours == pytest.approx(theirs, rel=1e-12)


def test_brier_scorer_against_sklearn_and_by_hand(binary_model, multiclass_model):
    model, X, y = binary_model
    expected = brier_score_loss(y, model.predict_proba(X)[:, 1])
    assert get_scorer("neg_brier_score")(model, X, y) == pytest.approx(-expected)
    model, X, y = multiclass_model
    onehot = np.eye(3)[y]
    by_hand = np.mean(np.sum((model.predict_proba(X) - onehot) ** 2, axis=1))
    assert get_scorer("neg_brier_score")(model, X, y) == pytest.approx(-by_hand)


def test_binary_metric_receives_probability_of_classes_1(binary_model):
    model, X, y = binary_model
    seen = {}

    def spy(y_true, y_prob, *, labels=None, sample_weight=None):
        seen.update(y_prob=y_prob, labels=labels)
        return 0.0

    make_calibration_scorer(spy)(model, X, y)
    assert seen["y_prob"].ndim == 1
    np.testing.assert_array_equal(seen["y_prob"], model.predict_proba(X)[:, 1])
    np.testing.assert_array_equal(seen["labels"], model.classes_)


def test_pos_label_selects_the_column():
    X, y = load_breast_cancer(return_X_y=True)
    names = np.array(["benign", "malignant"])[1 - y]
    model = GaussianNB().fit(X, names)
    p_malignant = model.predict_proba(X)[:, 1]
    scorer = make_calibration_scorer("brier_score", pos_label="benign")
    assert scorer(model, X, names) == pytest.approx(
        -brier_score_loss(names, 1 - p_malignant, pos_label="benign")
    )


def test_missing_class_in_a_test_fold_is_scored_against_estimator_classes(
    multiclass_model,
):
    model, X, y = multiclass_model
    keep = y != 2
    proba = model.predict_proba(X[keep])
    expected = sklearn_log_loss(y[keep], proba, labels=[0, 1, 2])
    got = get_scorer("neg_log_loss_exact")(model, X[keep], y[keep])
    assert got == pytest.approx(-expected, rel=1e-12)


def test_sample_weight_equals_repeated_rows(multiclass_model):
    model, X, y = multiclass_model
    w = np.random.default_rng(0).integers(0, 4, size=y.shape[0])
    w[0] = 1
    rows = np.repeat(np.arange(y.shape[0]), w)
    for name in sorted(SCORERS):
        scorer = get_scorer(name)
        weighted = scorer(model, X, y, sample_weight=w)
        repeated = scorer(model, X[rows], y[rows])
        assert weighted == pytest.approx(repeated, rel=1e-12), name


def test_metric_options_are_passed(multiclass_model):
    model, X, y = multiclass_model
    proba = model.predict_proba(X)
    scorer = make_calibration_scorer("expected_calibration_error", n_bins=4)
    expected = metrics.expected_calibration_error(y, proba, n_bins=4)
    assert scorer(model, X, y) == -expected
    assert expected != metrics.expected_calibration_error(y, proba)


def test_greater_is_better_keeps_the_sign(binary_model):
    model, X, y = binary_model

    def accuracy_like(y_true, y_prob, *, labels=None):
        return float(np.mean((y_prob > 0.5) == (y_true == labels[1])))

    scorer = make_calibration_scorer(accuracy_like, greater_is_better=True)
    assert scorer(model, X, y) == pytest.approx(model.score(X, y))


def test_exact_log_loss_is_minus_inf_for_a_certain_wrong_forecast():
    X = np.array([[-11.0], [-10.0], [-9.0], [9.0], [10.0], [11.0]])
    y = np.array([0, 0, 0, 1, 1, 1])
    model = GaussianNB().fit(X, y)
    X_test, y_test = np.array([[60.0], [-10.0]]), np.array([0, 1])
    assert model.predict_proba(X_test)[0, 0] == 0.0
    with pytest.warns(CalibrationWarning, match="certain"):
        assert get_scorer("neg_log_loss_exact")(model, X_test, y_test) == -np.inf
    assert np.isfinite(sklearn_get_scorer("neg_log_loss")(model, X_test, y_test))


def test_cross_val_score_and_grid_search(binary_model):
    model, X, y = binary_model
    folds = StratifiedKFold(3)
    scorer = get_scorer("neg_brier_score")
    scores = cross_val_score(model, X, y, scoring=scorer, cv=folds)
    theirs = cross_val_score(model, X, y, scoring="neg_brier_score", cv=folds)
    np.testing.assert_allclose(scores, theirs, rtol=1e-12)

    search = GridSearchCV(
        model,
        {"logisticregression__C": [1e-3, 1e-1]},
        scoring={"ece": get_scorer("neg_expected_calibration_error"), "ll": scorer},
        refit="ll",
        cv=folds,
    )
    search.fit(X, y)
    assert set(search.cv_results_) >= {"mean_test_ece", "mean_test_ll"}


def test_scorer_pickles_and_reprs():
    scorer = make_calibration_scorer("expected_calibration_error", n_bins=10)
    assert isinstance(scorer, CalibrationScorer)
    assert pickle.loads(pickle.dumps(scorer)) == scorer
    assert repr(scorer) == (
        "make_calibration_scorer(expected_calibration_error, "
        "greater_is_better=False, n_bins=10)"
    )


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (
            lambda: get_scorer("neg_log_loss"),
            ValueError,
            "Unknown scorer 'neg_log_loss'",
        ),
        (
            lambda: make_calibration_scorer("no_such_metric"),
            ValueError,
            "no metric 'no_such_metric'; available: .*'log_loss'",
        ),
        (lambda: make_calibration_scorer(3), TypeError, "metric must be a callable"),
    ],
)
def test_bad_arguments(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_test_fold_with_one_class_is_scored(binary_model):
    """scikit-learn's neg_log_loss raises here; labels come from classes_."""
    model, X, y = binary_model
    rows = y == 1
    p_pos = model.predict_proba(X[rows])[:, 1]
    got = get_scorer("neg_log_loss_exact")(model, X[rows], y[rows])
    assert got == pytest.approx(np.mean(np.log(p_pos)), rel=1e-12)
    with pytest.raises(ValueError, match="only one label"):
        sklearn_get_scorer("neg_log_loss")(model, X[rows], y[rows])

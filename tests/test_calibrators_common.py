"""Behaviour shared by all calibrators: sklearn API, invariances, bad input."""

import functools
import pickle
import re
import traceback
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.estimator_checks import parametrize_with_checks

from calibkit import (
    DirichletCalibration,
    MatrixScaling,
    PlattScaling,
    TemperatureScaling,
    VectorScaling,
)
from calibkit.calibrators._registry import CALIBRATORS as REGISTRY
from calibkit.exceptions import CalibrationWarning

CALIBRATORS = list(REGISTRY.values())
AFFINE = (VectorScaling, MatrixScaling, DirichletCalibration)

# Calibrators take saved predictions whose shape is fixed by the classes:
# 1-D log-odds for two classes, one column per class otherwise. scikit-learn's
# generic checks feed arbitrary feature matrices (e.g. 2 features for 3
# classes), which calibrators reject with a ValueError by design. The checks
# below fail for that reason only; what they verify is covered by the tests in
# this module with well-shaped inputs (named next to each entry).
#
# Each expected failure names the exception and a pattern of its message (or,
# for a bare ``assert``, of the failing source line). The test then passes as
# "xfailed" only when the check fails in exactly that way: a check that starts
# passing is an XPASS, which ``xfail_strict`` turns into a failure, and a check
# that fails for another reason fails the test.


@dataclass(frozen=True)
class ExpectedFailure:
    """How a scikit-learn check is known to fail, and why that is fine."""

    reason: str
    error: type = ValueError
    match: str = r"X has \d+ columns? but y has \d+ classes"

    def matches(self, error):
        """Whether ``error`` is this failure (type and message or source line)."""
        if not isinstance(error, self.error):
            return False
        text = str(error)
        if not text:
            # A bare assert has no message: match the line that failed.
            text = traceback.extract_tb(error.__traceback__)[-1].line or ""
        return re.search(self.match, text) is not None


class ExpectedCheckError(Exception):
    """Raised when a check failed exactly as its ExpectedFailure says."""


def shape(see):
    return ExpectedFailure(f"{SHAPE_CONTRACT}; {see}")


SHAPE_CONTRACT = "X must have one column per class (1-D for binary scores)"
EXPECTED_FAILED_CHECKS = {
    "check_estimators_dtypes": shape("see test_input_dtypes"),
    "check_estimators_fit_returns_self": shape("see test_fit_returns_self"),
    "check_estimators_overwrite_params": shape("see test_fit_does_not_change_params"),
    "check_readonly_memmap_input": shape("see test_read_only_memmap"),
    "check_n_features_in_after_fitting": shape("see test_wrong_columns_at_predict"),
    # The check fits on negative features, meets the shape error and reports
    # it as "raised ValueError unexpectedly": negative logits are fine.
    "check_positive_only_tag_during_fit": ExpectedFailure(
        f"{SHAPE_CONTRACT}; negative logits are fine",
        AssertionError,
        "raised ValueError unexpectedly",
    ),
    "check_sample_weight_equivalence_on_dense_data": shape(
        "see test_integer_weights_equal_repeated_rows"
    ),
    "check_dtype_object": shape("see test_input_dtypes"),
    "check_pipeline_consistency": shape("see test_pickle_and_clone"),
    "check_estimators_nan_inf": shape("see test_bad_input"),
    "check_estimators_pickle": shape("see test_pickle_and_clone"),
    "check_classifiers_classes": shape("see test_string_labels"),
    # Calibrators map given scores and cannot learn to classify raw features
    # (temperature scaling never changes the argmax): the binary problem of
    # the check (2 features, 2 classes) fits but misses the accuracy bar.
    "check_classifiers_train": ExpectedFailure(
        "calibrators cannot learn to classify raw features; "
        "see test_calibration_lowers_held_out_log_loss",
        AssertionError,
        r"accuracy_score\(y, y_pred\) > 0\.83",
    ),
    # The calibrators raise on a 2-D y instead of warning and raveling it.
    "check_supervised_y_2d": ExpectedFailure(
        f"{SHAPE_CONTRACT}; a column vector y is rejected, not raveled",
        AssertionError,
        "expected 1 DataConversionWarning",
    ),
}


def expected_failed_checks(estimator):
    failed = dict(EXPECTED_FAILED_CHECKS)
    if hasattr(estimator, "max_iter"):  # only the iterative calibrators
        failed["check_non_transformer_estimators_n_iter"] = shape(
            "see test_n_iter_is_reported"
        )
    if isinstance(estimator, (PlattScaling, *AFFINE)):
        # One-vs-rest Platt (and the affine maps of vector, matrix and
        # Dirichlet scaling) learns the check's binary problem, then meets the
        # 3-class problem with 2 features.
        failed["check_classifiers_train"] = shape(
            "see test_calibration_lowers_held_out_log_loss"
        )
    return failed


def check_name(check):
    """The name of a check from ``parametrize_with_checks`` (a partial)."""
    while isinstance(check, functools.partial):
        check = check.func
    return check.__name__


@parametrize_with_checks([cls() for cls in CALIBRATORS])
def test_scikit_learn_compatible(estimator, check, request):
    expected = expected_failed_checks(estimator).get(check_name(check))
    if expected is not None:
        request.applymarker(
            pytest.mark.xfail(
                raises=ExpectedCheckError, reason=expected.reason, strict=True
            )
        )
    with warnings.catch_warnings():
        # The generic checks feed random features, which trigger our
        # "looks like probabilities" and "no finite optimum" warnings.
        warnings.simplefilter("ignore", CalibrationWarning)
        try:
            check(estimator)
        except Exception as error:
            if expected is None or not expected.matches(error):
                raise
            raise ExpectedCheckError(expected.reason) from error


def test_expected_failures_are_recognised():
    """The matcher accepts the documented failure and nothing else."""
    expected = shape("see nothing")
    assert expected.matches(ValueError("X has 2 columns but y has 3 classes [0]"))
    assert not expected.matches(TypeError("X has 2 columns but y has 3 classes"))
    assert not expected.matches(ValueError("X contains NaN"))
    bare = EXPECTED_FAILED_CHECKS["check_classifiers_train"]

    def accuracy_bar():
        raise AssertionError  # as in sklearn: accuracy_score(y, y_pred) > 0.83

    def other_assert():
        raise AssertionError

    for func, expected_match in ((accuracy_bar, True), (other_assert, False)):
        with pytest.raises(AssertionError) as info:
            func()
        assert bare.matches(info.value) is expected_match


def binary_data(n=400, seed=0):
    rng = np.random.default_rng(seed)
    s = rng.normal(0, 2.5, n)
    y = (rng.random(n) < expit(0.5 * s - 0.3)).astype(int)
    return s, y


def multiclass_data(n=400, k=3, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 3, (n, k))
    p = np.exp(z / 2.0)
    p /= p.sum(1, keepdims=True)
    y = (p.cumsum(1) < rng.random((n, 1))).sum(1)
    return z, y


@pytest.fixture(params=["binary", "multiclass"])
def data(request):
    return binary_data() if request.param == "binary" else multiclass_data()


@pytest.mark.parametrize("cls", CALIBRATORS)
def test_fit_returns_self(cls, data):
    X, y = data
    cal = cls()
    assert cal.fit(X, y) is cal


@pytest.mark.parametrize("cls", CALIBRATORS)
def test_fit_does_not_change_params(cls, data):
    X, y = data
    cal = cls()
    before = cal.get_params()
    cal.fit(X, y)
    assert cal.get_params() == before


@pytest.mark.parametrize("cls", CALIBRATORS)
def test_unfitted_raises(cls):
    with pytest.raises(NotFittedError):
        cls().predict_proba(np.zeros(3))


@pytest.mark.parametrize("cls", CALIBRATORS)
def test_integer_weights_equal_repeated_rows(cls, data):
    X, y = data
    w = np.random.default_rng(1).integers(0, 4, len(y))
    # A cross-validated regularisation holds a weighted row whole in one fold
    # (repeated rows spread over folds): compare at a given strength.
    options = {"reg_bias": 1e-3} if "reg_bias" in cls().get_params() else {}
    options = {**options, "reg_off_diagonal": 1e-3} if options else {}
    weighted = cls(**options).fit(X, y, sample_weight=w)
    repeated = cls(**options).fit(np.repeat(X, w, axis=0), np.repeat(y, w))
    np.testing.assert_allclose(
        weighted.predict_proba(X), repeated.predict_proba(X), rtol=1e-9, atol=1e-12
    )


@pytest.mark.parametrize("cls", CALIBRATORS)
def test_row_order_does_not_matter(cls, data):
    X, y = data
    perm = np.random.default_rng(2).permutation(len(y))
    a = cls().fit(X, y).predict_proba(X)
    b = cls().fit(X[perm], y[perm]).predict_proba(X)
    np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("cls", CALIBRATORS)
def test_inputs_are_not_modified(cls, data):
    X, y = data
    w = np.ones(len(y))
    X_copy, y_copy, w_copy = X.copy(), y.copy(), w.copy()
    cal = cls().fit(X, y, sample_weight=w)
    cal.predict_proba(X)
    np.testing.assert_array_equal(X, X_copy)
    np.testing.assert_array_equal(y, y_copy)
    np.testing.assert_array_equal(w, w_copy)


@pytest.mark.parametrize("cls", CALIBRATORS)
def test_pickle_and_clone(cls, data):
    X, y = data
    cal = cls().fit(X, y)
    restored = pickle.loads(pickle.dumps(cal))
    np.testing.assert_array_equal(restored.predict_proba(X), cal.predict_proba(X))
    fresh = clone(cal)
    assert not hasattr(fresh, "classes_")
    np.testing.assert_array_equal(
        fresh.fit(X, y).predict_proba(X), cal.predict_proba(X)
    )


@pytest.mark.parametrize("cls", CALIBRATORS)
def test_string_labels(cls, data):
    X, y = data
    names = np.array(["cat", "dog", "emu"])[y]
    cal = cls().fit(X, names)
    np.testing.assert_array_equal(cal.classes_, np.unique(names))
    np.testing.assert_array_equal(
        cal.predict_proba(X), cls().fit(X, y).predict_proba(X)
    )
    assert set(cal.predict(X)) <= set(names)


@pytest.mark.parametrize("cls", CALIBRATORS)
def test_input_dtypes(cls, data):
    X, y = data
    p64 = cls().fit(X, y).predict_proba(X)
    X32 = X.astype(np.float32)
    p32 = cls().fit(X32, y).predict_proba(X32)
    assert p32.dtype == np.float32
    np.testing.assert_allclose(p32, p64, atol=1e-5)
    frame = pd.DataFrame(X.reshape(len(y), -1))
    p_frame = cls().fit(frame, pd.Series(y)).predict_proba(frame)
    np.testing.assert_allclose(p_frame, p64, rtol=1e-12)
    as_list = cls().fit(X.tolist(), y.tolist()).predict_proba(X.tolist())
    np.testing.assert_allclose(as_list, p64, rtol=1e-12)


@pytest.mark.parametrize("cls", CALIBRATORS)
def test_read_only_memmap(cls, data, tmp_path):
    X, y = data
    path = tmp_path / "scores.npy"
    np.save(path, X)
    X_map = np.load(path, mmap_mode="r")
    np.testing.assert_allclose(
        cls().fit(X_map, y).predict_proba(X_map), cls().fit(X, y).predict_proba(X)
    )


@pytest.mark.parametrize("cls", CALIBRATORS)
def test_wrong_columns_at_predict(cls):
    X, y = multiclass_data()
    cal = cls().fit(X, y)
    assert cal.n_features_in_ == 3
    with pytest.raises(ValueError, match="X has 2 column"):
        cal.predict_proba(X[:, :2])
    with pytest.raises(ValueError, match="X has 1 column"):
        cal.predict_proba(X[:, 0])


@pytest.mark.parametrize("cls", [PlattScaling, TemperatureScaling])
def test_n_iter_is_reported(cls, data):
    X, y = data
    assert np.all(np.asarray(cls().fit(X, y).n_iter_) >= 1)


@pytest.mark.parametrize("cls", CALIBRATORS)
def test_calibration_lowers_held_out_log_loss(cls):
    X, y = multiclass_data(n=4000, seed=3)
    cal = cls().fit(X[:2000], y[:2000])
    held_X, held_y = X[2000:], y[2000:]
    raw = np.exp(held_X - held_X.max(1, keepdims=True))
    raw /= raw.sum(1, keepdims=True)
    proba = cal.predict_proba(held_X)
    rows = np.arange(len(held_y))
    assert -np.log(proba[rows, held_y]).mean() < -np.log(raw[rows, held_y]).mean()


@pytest.mark.parametrize("cls", CALIBRATORS)
def test_probabilities_passed_as_logits_warn(cls):
    z, y = multiclass_data()
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    with pytest.warns(CalibrationWarning, match="input='probabilities'"):
        cls().fit(p, y)


@pytest.mark.parametrize("cls", [PlattScaling, TemperatureScaling])
def test_saturated_probabilities_warn(cls):
    s, y = binary_data()
    p = expit(s)
    p[:3] = [0.0, 1.0, 1.0]
    y[:3] = [0, 1, 1]
    with pytest.warns(CalibrationWarning, match="exactly 0 or 1"):
        cls(input="probabilities").fit(p, y)


S, Y = binary_data(n=20)
BAD_FIT_INPUTS = [
    (
        "X",
        np.where(np.arange(20) == 3, np.nan, S),
        Y,
        None,
        ValueError,
        "X contains non-finite",
    ),
    ("X", np.full(20, np.inf), Y, None, ValueError, "first at rows 0, 1, 2"),
    ("X", np.array(["a"] * 20), Y, None, TypeError, "X must hold numbers"),
    ("X", np.zeros((0,)), np.zeros(0), None, ValueError, "X is empty"),
    ("X", np.zeros((20, 2, 2)), Y, None, ValueError, "X must be 1-D or 2-D"),
    ("X", S[:10], Y, None, ValueError, "Inconsistent numbers of samples"),
    ("y", S, np.zeros(20), None, ValueError, "at least 2 classes"),
    ("y", S, np.arange(20) % 3, None, ValueError, "X is 1-D .* 3 classes"),
    ("y", S, np.linspace(0, 1, 20), None, ValueError, "Unknown label type"),
    ("y", S, None, None, ValueError, "requires y to be passed"),
    (
        "y",
        S,
        np.where(np.arange(20) == 4, np.nan, Y),
        None,
        ValueError,
        "y contains 1 missing",
    ),
    ("sample_weight", S, Y, -np.ones(20), ValueError, "must be non-negative"),
    ("sample_weight", S, Y, np.zeros(20), ValueError, "zero everywhere"),
    ("sample_weight", S, Y, np.ones(5), ValueError, "has 5 entries"),
]


@pytest.mark.parametrize("cls", CALIBRATORS)
@pytest.mark.parametrize(
    ("argument", "X", "y", "w", "error", "match"),
    BAD_FIT_INPUTS,
    ids=[f"{case[0]}-{case[5]}" for case in BAD_FIT_INPUTS],
)
def test_bad_input(cls, argument, X, y, w, error, match):
    with pytest.raises(error, match=match):
        cls().fit(X, y, sample_weight=w)


@pytest.mark.parametrize("cls", CALIBRATORS)
def test_bad_probabilities(cls):
    s, y = binary_data(n=20)
    with pytest.raises(
        ValueError, match=r"X must hold probabilities in \[0, 1\]; row 0"
    ):
        cls(input="probabilities").fit(s - 100, y)
    z, y3 = multiclass_data(n=20)
    bad_rows = np.full((20, 3), 0.5)
    with pytest.raises(ValueError, match="X rows must sum to 1"):
        cls(input="probabilities").fit(bad_rows, y3)
    with pytest.raises(ValueError, match="X has 2 columns but y has 3 classes"):
        cls().fit(z[:, :2], y3)
    with pytest.raises(ValueError, match="input"):
        cls(input="scores").fit(s, y)


@pytest.mark.parametrize("cls", CALIBRATORS)
def test_classes_absent_from_y_can_be_declared(cls):
    z, y = multiclass_data(n=600, k=4, seed=7)
    y = np.where(y == 3, 0, y)  # class 3 never observed
    with pytest.raises(ValueError, match=r"classes=\.\.\."):
        cls().fit(z, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CalibrationWarning)  # no positives of 3
        cal = cls().fit(z, y, classes=[0, 1, 2, 3])
    np.testing.assert_array_equal(cal.classes_, [0, 1, 2, 3])
    proba = cal.predict_proba(z)
    assert proba.shape == (600, 4)
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-12)
    with pytest.raises(ValueError, match="not among the known classes"):
        cls().fit(z, np.where(y == 0, 9, y), classes=[0, 1, 2, 3])

"""The calibrator registry: every consumer reads it, and a new entry is enough."""

import contextlib
import json
import warnings

import numpy as np
import pytest
from conftest import overlapping_data
from numpy.testing import assert_array_equal
from scipy.special import softmax
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.naive_bayes import GaussianNB

import calibkit as ck
from calibkit.calibrators._base import BaseCalibrator
from calibkit.calibrators._registry import (
    CALIBRATORS,
    by_class_name,
    fitted_summary,
    method_choices,
    method_name,
    register,
)
from calibkit.calibrators._selection import select_method
from calibkit.calibrators._state import Float, FloatArray, Int, Optional
from calibkit.exceptions import CalibrationWarning


def bits(value):
    """An exact, comparable image of a fitted value (arrays by their bytes)."""
    if isinstance(value, list):
        return [bits(v) for v in value]
    if isinstance(value, np.ndarray):
        return (value.dtype.str, value.shape, value.tobytes())
    return (type(value).__name__, repr(value))


# --- the registry itself -----------------------------------------------------


@pytest.mark.parametrize(("name", "cls"), CALIBRATORS.items())
def test_names_classes_and_re_exports_agree(name, cls):
    assert method_name(cls) == name
    assert method_name(cls()) == name
    assert by_class_name(cls.__name__) is cls
    assert getattr(ck, cls.__name__) is cls  # public, from calibkit
    assert issubclass(cls, BaseCalibrator)
    assert all(key.endswith("_") for key in cls._fitted_state)
    # CalibratedClassifier's method= takes every registered name.
    ck.CalibratedClassifier(method=name)._validate_params()


BUILT_IN = [
    "temperature",
    "platt",
    "beta",
    "vector",
    "dirichlet",
    "matrix",
    "isotonic",
]


def test_choices_and_order():
    # "auto" tries the fewest parameters first, so a tie goes to the simplest.
    assert list(CALIBRATORS) == BUILT_IN
    assert method_choices() == [*CALIBRATORS, "auto"]
    assert method_name(ck.CalibratedClassifier) is None
    assert by_class_name("CalibratedClassifier") is None

    class MyPlatt(ck.PlattScaling):
        pass

    # A subclass may change what is fitted: it is not its parent's method.
    assert method_name(MyPlatt) is None


EXACT_ENDS = "ignore:X holds .* exactly 0 or 1:calibkit.exceptions.CalibrationWarning"


@pytest.mark.filterwarnings(EXACT_ENDS)
@pytest.mark.parametrize(("name", "cls"), CALIBRATORS.items())
@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("input_kind", ["logits", "probabilities"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_round_trip_is_exact_to_the_bit(name, cls, n_classes, input_kind, dtype):
    logits, y = overlapping_data(n_classes, seed=n_classes)
    if input_kind == "probabilities":
        columns = logits if n_classes > 2 else np.column_stack([-logits, logits]) / 2
        X = softmax(columns, axis=1)
        X[:3] = np.eye(X.shape[1])[0]  # exact 0 and 1 inputs: optional state
        X = X if n_classes > 2 else X[:, 1]
    else:
        X = logits
    calibrator = cls(input=input_kind).fit(X.astype(dtype), y)
    text = json.dumps(ck.to_dict(calibrator), indent=2)
    loaded = ck.from_dict(json.loads(text))

    assert type(loaded) is cls
    for key in cls._fitted_state:
        assert bits(getattr(loaded, key)) == bits(getattr(calibrator, key)), key
    assert json.dumps(ck.to_dict(loaded), indent=2) == text
    assert_array_equal(loaded.predict_proba(X), calibrator.predict_proba(X))


@pytest.mark.parametrize(("name", "cls"), CALIBRATORS.items())
def test_fitted_summary(name, cls):
    X, y = overlapping_data(3)
    with pytest.raises(NotFittedError):
        fitted_summary(cls())
    text = fitted_summary(cls().fit(X, y))
    assert text
    assert "\n" not in text
    assert text == " ".join(cls().fit(X, y)._summary().split())


@pytest.mark.filterwarnings(EXACT_ENDS)
def test_fitted_summary_texts():
    """The clauses the command line prints today (calibkit fit)."""
    X, y = overlapping_data(2)
    temperature = ck.TemperatureScaling().fit(X, y)
    assert fitted_summary(temperature) == f"temperature {temperature.temperature_:.6g}"
    platt = ck.PlattScaling().fit(X, y)
    a, b = platt.coef_[0], platt.intercept_[0]
    assert fitted_summary(platt) == f"slope, intercept {a:.4g}, {b:.4g}"
    isotonic = ck.IsotonicCalibration().fit(X, y)
    n_knots = len(isotonic.X_thresholds_[0])
    assert fitted_summary(isotonic) == f"isotonic map with {n_knots} knots"
    p = np.r_[0.0, 1.0, softmax(np.column_stack([-X, X]), axis=1)[:, 1]]
    zeros = ck.PlattScaling(input="probabilities").fit(p, np.r_[0, 1, y])
    assert "probability for an input of exactly 0: " in fitted_summary(zeros)


@pytest.mark.parametrize(
    ("name", "cls", "error", "match"),
    [
        ("auto", ck.PlattScaling, ValueError, r"name must be .* other than 'auto'"),
        ("platt", ck.TemperatureScaling, ValueError, r"'platt'.*already registered"),
        ("x", LogisticRegression, TypeError, r"subclass of BaseCalibrator"),
    ],
)
def test_register_refuses(name, cls, error, match):
    with pytest.raises(error, match=match):
        register(name, cls)
    assert list(CALIBRATORS) == BUILT_IN


def test_register_needs_fitted_state():
    class Bare(BaseCalibrator):
        pass

    with pytest.raises(TypeError, match=r"Bare._fitted_state must map"):
        register("bare", Bare)


# --- a fourth calibrator, registered by a test alone ------------------------------


class PriorCalibration(BaseCalibrator):
    """Predicts the weighted class frequencies of the calibration rows, whatever
    the scores: a calibrator defined here only, to show that one registry
    entry is all the rest of calibkit needs."""

    _fitted_state = {
        "class_prior_": FloatArray(per_model=False),
        "total_weight_": Float(minimum=0),
        "n_rows_": Int(minimum=0),
        "note_": Optional(Float()),
    }

    def __init__(self, *, input="logits"):
        self.input = input

    def _summary(self):
        return "class frequencies " + ", ".join(f"{p:.3g}" for p in self.class_prior_)

    def _check_state(self, fields):
        if not np.isclose(self.class_prior_.sum(), 1.0):
            raise fields.error(f"field '{fields.name('class_prior_')}' must sum to 1.")

    def _fit(self, X, y, sample_weight):
        totals = np.bincount(y, weights=sample_weight, minlength=len(self.classes_))
        self.class_prior_ = totals / totals.sum()
        self.total_weight_ = float(totals.sum())
        self.n_rows_ = int(y.shape[0])
        self.note_ = None

    def _predict_proba(self, X):
        return np.tile(self.class_prior_, (X.shape[0], 1))


@pytest.fixture
def prior_registered():
    register("prior", PriorCalibration)
    yield
    del CALIBRATORS["prior"]


def test_a_new_calibrator_saves_and_loads(prior_registered, tmp_path):
    X, y = overlapping_data(3)
    calibrator = PriorCalibration().fit(X, y, sample_weight=np.linspace(1, 2, y.size))
    ck.save(calibrator, tmp_path / "prior.json")
    loaded = ck.load(tmp_path / "prior.json")
    assert type(loaded) is PriorCalibration
    for key in PriorCalibration._fitted_state:
        assert bits(getattr(loaded, key)) == bits(getattr(calibrator, key)), key
    assert_array_equal(loaded.predict_proba(X[:5]), calibrator.predict_proba(X[:5]))
    document = json.loads((tmp_path / "prior.json").read_text())
    assert set(document["state"]) == {"class_prior_", "total_weight_", "n_rows_"}
    assert fitted_summary(loaded).startswith("class frequencies ")

    document["state"]["class_prior_"]["values"][0] += 0.5
    with pytest.raises(ValueError, match=r"'state.class_prior_' must sum to 1"):
        ck.from_dict(document)
    document["state"]["n_rows_"] = -1
    with pytest.raises(ValueError, match=r"'state.n_rows_' must be >= 0"):
        ck.from_dict(document)


def test_an_unregistered_calibrator_is_refused():
    X, y = overlapping_data(2)
    with pytest.raises(TypeError, match=r"calibrator must be one of"):
        ck.to_dict(PriorCalibration().fit(X, y))
    with pytest.raises(ValueError, match=r"'class' is 'PriorCalibration'"):
        ck.from_dict(
            {**ck.to_dict(ck.PlattScaling().fit(X, y)), "class": "PriorCalibration"}
        )


def test_a_new_calibrator_takes_part_in_select_method(prior_registered):
    X, y = overlapping_data(3, n=150, seed=4)
    choice = select_method(X, y, input="logits")
    assert list(choice.losses) == [*BUILT_IN, "prior"]
    # Independent reference: the mean held-out log-loss of the training
    # folds' class frequencies, on unshuffled stratified folds.
    total = 0.0
    for train, test in StratifiedKFold(5).split(X, y):
        prior = np.bincount(y[train], minlength=3) / train.size
        total -= np.log(prior[y[test]]).sum()
    assert choice.losses["prior"] == pytest.approx(total / y.size, rel=1e-12)
    assert choice.method != "prior"  # the scores are informative

    only = select_method(X, y, input="logits", candidates=["prior", "platt"])
    assert list(only.losses) == ["prior", "platt"]
    assert only.losses["prior"] == choice.losses["prior"]


def test_a_new_calibrator_in_calibrated_classifier(prior_registered):
    X, y = make_classification(
        n_samples=200, n_classes=3, n_informative=4, random_state=0
    )
    lr = LogisticRegression()
    model = ck.CalibratedClassifier(lr, method="prior", cv=3).fit(X, y)
    assert model.method_ == "prior"
    frequencies = np.bincount(y) / y.size
    np.testing.assert_allclose(model.predict_proba(X[:4]), np.tile(frequencies, (4, 1)))
    auto = ck.CalibratedClassifier(lr, method="auto", cv=3).fit(X, y)
    assert "prior" in auto.method_scores_


def test_unregistered_names_are_refused_by_the_wrapper():
    with pytest.raises(ValueError, match=r"'method' parameter .* 'prior'"):
        ck.CalibratedClassifier(method="prior").fit([[0.0], [1.0]], [0, 1])


# --- one rule for "auto": the wrapper and select_method agree --------------------


def _dataset(seed):
    """Data sets varied enough that "auto" picks different methods."""
    rng = np.random.default_rng(seed)
    n_classes = 2 + seed % 2
    X, y = make_classification(
        n_samples=int(rng.integers(120, 300)),
        n_features=6,
        n_informative=3,
        n_classes=n_classes,
        class_sep=float(rng.uniform(0.3, 1.5)),
        flip_y=float(rng.uniform(0.0, 0.2)),
        random_state=seed,
    )
    return X, y


def test_wrapper_auto_and_select_method_agree_on_many_seeds():
    """Cross-fitted wrapper vs select_method on the same out-of-fold scores."""
    chosen = set()
    for seed in range(8):
        X, y = _dataset(seed)
        lr = LogisticRegression(C=float(10.0 ** (seed % 5 - 2)))
        with _quiet():
            model = ck.CalibratedClassifier(lr, method="auto", cv=5).fit(X, y)
            # cross_val_predict uses the wrapper's folds (check_cv(5)).
            oof = cross_val_predict(lr, X, y, cv=5, method="decision_function")
            choice = select_method(oof, y, input="logits")
        assert choice.method == model.method_, seed
        assert choice.losses == model.method_scores_, seed
        chosen.add(choice.method)
    assert len(chosen) >= 2  # the agreement is not that of a constant


def test_prefit_wrapper_auto_and_select_method_agree_on_many_seeds():
    """A frozen model's saved probabilities, as ``calibkit fit`` would read them."""
    chosen = set()
    for seed in range(8):
        X, y = _dataset(seed)
        half = y.size // 2
        nb = GaussianNB().fit(X[:half], y[:half])
        X_cal, y_cal = X[half:], y[half:]
        if np.bincount(y_cal).min() < 2:
            continue
        with _quiet():
            model = ck.CalibratedClassifier(FrozenEstimator(nb), method="auto")
            model.fit(X_cal, y_cal)
            choice = select_method(
                nb.predict_proba(X_cal), y_cal, input="probabilities"
            )
        assert choice.method == model.method_, seed
        assert choice.losses == pytest.approx(model.method_scores_, rel=1e-12), seed
        chosen.add(choice.method)
    assert len(chosen) >= 2


@contextlib.contextmanager
def _quiet():
    """Candidates and toy data draw calibration warnings; not the point here."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CalibrationWarning)
        yield


# --- select_method's folds and errors ---------------------------------------------


def test_select_method_folds_are_unshuffled_stratified_and_capped_by_the_rarest():
    X, y = overlapping_data(3, n=120, seed=2)
    y[np.flatnonzero(y == 2)[3:]] = 0  # class 2 keeps 3 rows
    choice = select_method(X, y, input="logits", cv=5)
    assert choice.n_splits == 3
    again = select_method(X, y, input="logits", cv=3)
    assert again == choice  # same folds: min(5, 3) == 3
    platt = ck.PlattScaling()
    total = 0.0
    for train, test in StratifiedKFold(3).split(X, y):
        proba = clone(platt).fit(X[train], y[train]).predict_proba(X[test])
        total -= np.log(proba[np.arange(test.size), y[test]]).sum()
    assert choice.losses["platt"] == pytest.approx(total / y.size, rel=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"y": [0, 0, 0, 1, 1, 2]}, r"at least 2 rows of every class; class 2 has 1"),
        ({"y": ["a"] * 3 + ["b"] * 2 + ["c"]}, r"class c has 1"),
        ({"input": "scores"}, r"input must be 'logits' or 'probabilities'"),
        (
            {"candidates": ["platt", "sigmoid"]},
            r"candidates must be registered .*'sigmoid'",
        ),
        ({"candidates": []}, r"candidates must be registered"),
        ({"cv": 1}, r"cv must be at least 2 folds"),
        ({"y": [0, 1, 0, 1, 0]}, r"Inconsistent numbers of samples: X has 6, y has 5"),
    ],
)
def test_select_method_errors(kwargs, match):
    arguments = {
        "X": np.linspace(-1, 1, 6 * 3).reshape(6, 3),
        "y": [0, 0, 1, 1, 2, 2],
        "input": "logits",
    }
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=match):
        select_method(arguments.pop("X"), arguments.pop("y"), **arguments)


def test_select_method_classes_absent_from_y():
    """Columns of a class missing from y (a rare class): it is fitted with
    every class, and the missing class does not cap the folds."""
    X, y = overlapping_data(3, n=90, seed=3)
    keep = y < 2
    choice = select_method(X[keep], y[keep], input="logits", classes=[0, 1, 2])
    assert choice.n_splits == 5
    assert set(choice.losses) == set(CALIBRATORS)

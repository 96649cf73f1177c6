"""Invariances of the calibrators, checked on random problems with hypothesis.

Only the public API is used (``fit``, ``predict_proba``, ``predict``,
``classes_``, :func:`calibkit.save` and :func:`calibkit.load`). The properties:

- integer sample weights give what repeating each row that many times gives;
- the order of the rows does not matter;
- labels may be any values: string labels give the same probabilities as the
  integer labels they stand for, and renaming classes so that their sorted
  order changes permutes the columns accordingly;
- float32 scores give the float64 result within the stated tolerance;
- a saved and reloaded calibrator predicts the same bits.

Weights, row order and relabelling change only the order of floating-point
sums, so those results agree to a few ulps (``rtol=1e-9`` leaves room for the
iterative solvers, whose stopping test may end one step earlier or later on
round-off). Scores are drawn on a grid of multiples of 1/8, exactly
representable in float32 and float64, with many ties (which the isotonic fit
pools).
"""

import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import calibkit as ck
from calibkit import (
    BetaCalibration,
    IsotonicCalibration,
    PlattScaling,
    TemperatureScaling,
)
from calibkit.exceptions import CalibrationWarning

CALIBRATORS = [PlattScaling, TemperatureScaling, IsotonicCalibration, BetaCalibration]
RTOL, ATOL = 1e-9, 1e-12
# float32 predictions carry a relative rounding of 2**-24 ~ 6e-8 on each
# probability; the fitted parameters come from float64 accumulators and agree
# to about the same. 1e-6 absolute is a dozen float32 ulps at probability 1.
FLOAT32_ATOL = 1e-6

# Few examples keep the file at a few seconds; the fuzz tests cover breadth.
FEW = settings(max_examples=20, deadline=None)

GRID = st.integers(-48, 48).map(lambda i: i / 8)


@st.composite
def problems(draw, max_rows=25):
    """(X, y, integer weights) for 2 to 4 classes, with a finite optimum.

    Anchor rows (weight 1) give every fit a finite log-loss optimum: for two
    classes both labels at scores -1 and +1 (no threshold separates them);
    for K classes, per class j one row ``2 e_j`` labelled j and one labelled
    j + 1 (every class present, and some rows misclassified, as temperature
    scaling needs).
    """
    n_classes = draw(st.integers(2, 4))
    n_rows = draw(st.integers(0, max_rows))
    y = np.array(
        draw(st.lists(st.integers(0, n_classes - 1), min_size=n_rows, max_size=n_rows)),
        dtype=np.int64,
    )
    weights = np.array(
        draw(st.lists(st.integers(0, 3), min_size=n_rows, max_size=n_rows)),
        dtype=np.int64,
    )
    if n_classes == 2:
        X = np.array(draw(st.lists(GRID, min_size=n_rows, max_size=n_rows)))
        anchors_X = np.array([-1.0, -1.0, 1.0, 1.0])
        anchors_y = np.array([0, 1, 0, 1])
    else:
        cells = draw(
            st.lists(GRID, min_size=n_rows * n_classes, max_size=n_rows * n_classes)
        )
        X = np.array(cells, dtype=np.float64).reshape(n_rows, n_classes)
        anchors_X = np.repeat(2.0 * np.eye(n_classes), 2, axis=0)
        classes = np.arange(n_classes)
        anchors_y = np.column_stack([classes, (classes + 1) % n_classes]).ravel()
    X = np.concatenate([X, anchors_X])
    y = np.concatenate([y, anchors_y])
    weights = np.concatenate([weights, np.ones(anchors_y.shape[0], dtype=np.int64)])
    return X, y, weights


def fit(cls, X, y, **kwargs):
    """``cls().fit(...)``; examples without a finite optimum are skipped."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CalibrationWarning)
        calibrator = cls().fit(X, y, **kwargs)
    # e.g. temperature scaling on logits that are worse than uniform
    assume(not any(issubclass(w.category, CalibrationWarning) for w in caught))
    return calibrator


@pytest.mark.parametrize("cls", CALIBRATORS)
@FEW
@given(problem=problems())
def test_integer_weights_equal_repeated_rows(cls, problem):
    X, y, w = problem
    weighted = fit(cls, X, y, sample_weight=w)
    repeated = fit(cls, np.repeat(X, w, axis=0), np.repeat(y, w))
    np.testing.assert_allclose(
        weighted.predict_proba(X), repeated.predict_proba(X), rtol=RTOL, atol=ATOL
    )


@pytest.mark.parametrize("cls", CALIBRATORS)
@FEW
@given(problem=problems(), seed=st.integers(0, 2**32 - 1))
def test_row_order_does_not_matter(cls, problem, seed):
    X, y, w = problem
    order = np.random.default_rng(seed).permutation(y.shape[0])
    a = fit(cls, X, y, sample_weight=w)
    b = fit(cls, X[order], y[order], sample_weight=w[order])
    np.testing.assert_allclose(
        a.predict_proba(X), b.predict_proba(X), rtol=RTOL, atol=ATOL
    )


NAMES = np.array(["ant", "bee", "cat", "dog"])


@pytest.mark.parametrize("cls", CALIBRATORS)
@FEW
@given(problem=problems())
def test_string_labels_give_the_integer_result(cls, problem):
    X, y, _ = problem
    # The names sort as the integers do: the same encoding, the same bits.
    numbers, names = fit(cls, X, y), fit(cls, X, NAMES[y])
    np.testing.assert_array_equal(names.classes_, NAMES[numbers.classes_])
    np.testing.assert_array_equal(names.predict_proba(X), numbers.predict_proba(X))
    np.testing.assert_array_equal(names.predict(X), NAMES[numbers.predict(X)])


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def renamed(X, y, seed):
    """Classes renamed at random; X's columns moved to the new sorted order.

    Returns the renamed (X, y) and ``position``: the column of old class j
    is ``position[j]`` after renaming.
    """
    k = X.shape[1]
    rename = np.random.default_rng(seed).permutation(NAMES[:k])
    position = np.searchsorted(np.sort(rename), rename)
    X_renamed = np.empty_like(X)
    X_renamed[:, position] = X
    return X_renamed, rename[y], position


@pytest.mark.parametrize(
    ("cls", "params"),
    [
        (PlattScaling, {}),
        (TemperatureScaling, {}),
        (IsotonicCalibration, {}),
        (IsotonicCalibration, {"input": "probabilities"}),
    ],
)
@FEW
@given(problem=problems(), seed=st.integers(0, 2**32 - 1))
def test_renaming_classes_permutes_the_columns(cls, params, problem, seed):
    X, y, _ = problem
    assume(X.ndim == 2)  # a 1-D binary score is tied to the greater label
    if params.get("input") == "probabilities":
        X = softmax(X)
    X_renamed, y_renamed, position = renamed(X, y, seed)
    original = fit(lambda: cls(**params), X, y)
    after = fit(lambda: cls(**params), X_renamed, y_renamed)
    np.testing.assert_array_equal(after.classes_, NAMES[: X.shape[1]])
    np.testing.assert_allclose(
        after.predict_proba(X_renamed)[:, position],
        original.predict_proba(X),
        rtol=RTOL,
        atol=ATOL,
    )


def test_isotonic_renaming_on_logits_and_exact_ties():
    # The smallest case hypothesis found: each class j has the logit row
    # 2 e_j twice, labelled j and j + 1; every column holds only 0 and 2.
    X = np.repeat(2.0 * np.eye(4), 2, axis=0)
    y = np.array([0, 1, 1, 2, 2, 3, 3, 0])
    X_renamed, y_renamed, position = renamed(X, y, seed=0)
    original = IsotonicCalibration().fit(X, y)
    after = IsotonicCalibration().fit(X_renamed, y_renamed)
    np.testing.assert_allclose(
        after.predict_proba(X_renamed)[:, position],
        original.predict_proba(X),
        rtol=RTOL,
    )


@pytest.mark.parametrize("cls", CALIBRATORS)
@FEW
@given(problem=problems())
def test_float32_scores_agree_with_float64(cls, problem):
    X, y, w = problem
    p64 = fit(cls, X, y, sample_weight=w).predict_proba(X)
    X32 = X.astype(np.float32)  # exact: the scores lie on a 1/8 grid
    p32 = fit(cls, X32, y, sample_weight=w).predict_proba(X32)
    assert p32.dtype == np.float32
    np.testing.assert_allclose(p32, p64, rtol=0, atol=FLOAT32_ATOL)


def exact(value):
    """``value`` in a form whose equality means the same bits."""
    if isinstance(value, list | tuple):
        return [exact(item) for item in value]
    array = np.asarray(value)
    if array.dtype.kind == "f":
        return (array.dtype.str, array.shape, array.tobytes())
    return (array.dtype.kind, array.tolist())


def fitted_state(calibrator):
    """Every public fitted attribute (name ending in ``_``), bit for bit."""
    return {
        name: exact(value)
        for name, value in vars(calibrator).items()
        if name.endswith("_") and not name.startswith("_")
    }


@pytest.mark.parametrize("cls", CALIBRATORS)
@FEW
@given(problem=problems(), as_names=st.booleans(), float32=st.booleans())
def test_save_load_round_trip_is_exact(cls, problem, as_names, float32):
    X, y, w = problem
    if float32:
        X = X.astype(np.float32)
    labels = NAMES[y] if as_names else y
    calibrator = fit(cls, X, labels, sample_weight=w)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "calibrator.json"
        ck.save(calibrator, path)
        loaded = ck.load(path)
    assert type(loaded) is cls
    assert loaded.get_params() == calibrator.get_params()
    assert fitted_state(loaded) == fitted_state(calibrator)
    expected, got = calibrator.predict_proba(X), loaded.predict_proba(X)
    assert got.dtype == expected.dtype
    assert got.tobytes() == expected.tobytes()  # the same bits, -0.0 included
    np.testing.assert_array_equal(loaded.predict(X), calibrator.predict(X))

"""Messy inputs for beta, vector, matrix and Dirichlet calibration.

Files with an id column and columns in another order than the classes, a
calibration set the model gets all right, exact zeros and ones, a class with
two rows, a class listed in ``classes=`` but absent, magnitudes from 1e-300 to
1e300, float32 and int input, string labels, NaN/inf, and inputs that must
not be modified. Small sets and fixed regularisation keep every test fast.
"""

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.special import softmax

import calibkit as ck
from calibkit import cli
from calibkit.exceptions import CalibrationWarning, NoFiniteOptimumWarning

FIXED = {"reg_off_diagonal": 1e-2, "reg_bias": 1e-2}
MULTICLASS = [
    (ck.VectorScaling, {}),
    (ck.MatrixScaling, FIXED),
    (ck.DirichletCalibration, FIXED),
]
ALL = [(ck.BetaCalibration, {}), *MULTICLASS]


def noisy_logits(n, k, seed):
    """Logits and labels drawn from a softened softmax of them (no separation)."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0.0, 2.0, (n, k))
    y = (0.5 * z + rng.gumbel(size=(n, k))).argmax(axis=1)
    return z, y


def inputs(cls, n=120, seed=0):
    """``(X, y)`` of the kind each calibrator takes: binary p for beta."""
    z, y = noisy_logits(n, 2 if cls is ck.BetaCalibration else 3, seed)
    p = softmax(z, axis=1)
    return (p[:, 1], y) if cls is ck.BetaCalibration else (p, y)


def quiet_fit(cal, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CalibrationWarning)
        warnings.simplefilter("ignore", NoFiniteOptimumWarning)
        return cal.fit(*args, **kwargs)


# --- the command line: id column, columns in another order ------------------


@pytest.mark.parametrize("method", ["vector", "matrix", "dirichlet"])
def test_cli_reads_an_id_column_and_shuffled_probability_columns(
    tmp_path, capsys, method
):
    labels = np.array(["cat", "dog", "emu"])
    z, codes = noisy_logits(60, 3, seed=1)
    p = softmax(z, axis=1)
    y = labels[codes]
    table = pd.DataFrame(
        {
            "id": np.arange(1000, 1060),
            "p_emu": p[:, 2],
            "y": y,
            "p_cat": p[:, 0],
            "p_dog": p[:, 1],
        }
    )
    table.to_csv(tmp_path / "cal.csv", index=False)
    model = tmp_path / "cal.json"
    args = ["--label", "y", "--prefix", "p_", "--input", "probabilities"]
    code = cli.main(
        ["fit", str(tmp_path / "cal.csv"), *args, "--method", method, "-o", str(model)]
    )
    assert code == 0
    out = tmp_path / "out.csv"
    code = cli.main(["apply", str(model), str(tmp_path / "cal.csv"), "-o", str(out)])
    assert code == 0
    capsys.readouterr()
    got = pd.read_csv(out)
    assert list(got["id"]) == list(range(1000, 1060))
    # The same calibrator fitted in Python on the columns in class order.
    cls = {"vector": ck.VectorScaling, "matrix": ck.MatrixScaling}.get(
        method, ck.DirichletCalibration
    )
    expected = cls(input="probabilities").fit(p, y).predict_proba(p)
    columns = [f"calibrated_{label}" for label in labels]
    np.testing.assert_allclose(got[columns].to_numpy(), expected, rtol=1e-12)


def test_cli_beta_with_an_id_column(tmp_path, capsys):
    p, y = inputs(ck.BetaCalibration, n=80, seed=2)
    table = pd.DataFrame({"id": np.arange(80) * 7, "p_1": p, "label": y})
    table.to_csv(tmp_path / "cal.csv", index=False)
    model = tmp_path / "beta.json"
    fit = ["fit", str(tmp_path / "cal.csv"), "--label", "label", "--columns", "p_1"]
    fit += ["--input", "probabilities", "--method", "beta", "-o", str(model)]
    assert cli.main(fit) == 0
    out = tmp_path / "out.csv"
    assert (
        cli.main(["apply", str(model), str(tmp_path / "cal.csv"), "-o", str(out)]) == 0
    )
    capsys.readouterr()
    got = pd.read_csv(out)
    assert list(got["id"]) == list(np.arange(80) * 7)
    expected = ck.BetaCalibration(input="probabilities").fit(p, y).predict_proba(p)
    np.testing.assert_allclose(
        got[["calibrated_0", "calibrated_1"]].to_numpy(), expected, rtol=1e-12
    )


# --- calibration sets nobody plans for ----------------------------------------


@pytest.mark.parametrize(("cls", "options"), ALL)
def test_a_calibration_set_the_model_gets_all_right(cls, options):
    z, _ = noisy_logits(60, 2 if cls is ck.BetaCalibration else 3, seed=3)
    y = z.argmax(axis=1)  # every top label right: no finite optimum
    X = z[:, 1] - z[:, 0] if cls is ck.BetaCalibration else z
    with pytest.warns(NoFiniteOptimumWarning):
        cal = cls(**options).fit(X, y)
    proba = cal.predict_proba(X)
    assert np.all((proba > 0) & (proba < 1))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)


@pytest.mark.parametrize(("cls", "options"), ALL)
def test_exact_zeros_and_ones_give_no_certain_prediction(cls, options):
    X, y = inputs(cls, n=120, seed=4)
    X = X.copy()
    if X.ndim == 1:
        X[:6], X[6:12] = 0.0, 1.0
    else:
        X[:6] = np.eye(3)[y[:6]]  # exactly 1 on the truth, 0 elsewhere
        X[6:12] = np.eye(3)[(y[6:12] + 1) % 3]  # exactly 1 on a wrong class
    with pytest.warns(CalibrationWarning, match="exactly 0 or 1"):
        cal = quiet_fit_but_warn(cls(input="probabilities", **options), X, y)
    proba = cal.predict_proba(X)
    assert np.all((proba > 0) & (proba < 1))
    # A one-hot row never gives its zeros probability 0.
    one_hot = np.array([0.0, 1.0]) if X.ndim == 1 else np.eye(3)
    assert np.all(cal.predict_proba(one_hot) > 0)


def quiet_fit_but_warn(cal, X, y):
    """Fit, letting CalibrationWarning through (and ignoring separation)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NoFiniteOptimumWarning)
        return cal.fit(X, y)


@pytest.mark.parametrize(("cls", "options"), MULTICLASS)
def test_a_class_with_two_rows_and_a_class_listed_but_absent(cls, options):
    z, y = noisy_logits(80, 4, seed=5)
    y[y == 2] = 0
    y[:2] = 2  # two rows of class 2; class 3 is in classes= only
    y[y == 3] = 1
    cal = quiet_fit(cls(**options), z, y, classes=[0, 1, 2, 3])
    np.testing.assert_array_equal(cal.classes_, [0, 1, 2, 3])
    proba = cal.predict_proba(z)
    assert proba.shape == (80, 4)
    assert np.all(proba > 0)
    assert np.all(np.isfinite(proba))
    assert proba[:, 3].max() < 0.2  # never seen: rarely predicted


# --- magnitudes ---------------------------------------------------------------


UNREGULARISED = {"reg_off_diagonal": 0.0, "reg_bias": 0.0}


@pytest.mark.parametrize(
    ("cls", "options"), [(ck.VectorScaling, {}), (ck.MatrixScaling, UNREGULARISED)]
)
@pytest.mark.parametrize("scale", [1e-300, 2.0**-300, 1e20, 1e300])
def test_huge_and_tiny_logits_are_scale_equivariant(cls, options, scale):
    # Unregularised: the ODIR penalty acts on W in the units of the logits.
    z, y = noisy_logits(100, 3, seed=6)
    base = cls(**options).fit(z, y)
    cal = cls(**options).fit(z * scale, y)
    np.testing.assert_allclose(
        cal.predict_proba(z * scale), base.predict_proba(z), rtol=1e-9, atol=1e-12
    )
    # W z is unchanged: W is divided by the scale.
    np.testing.assert_allclose(cal.coef_ * scale, base.coef_, rtol=1e-9, atol=1e-12)


def test_dirichlet_on_huge_logits_is_stable():
    # log-softmax(c z) = c (z - max z) to rounding once c is large: the fits
    # at 1e20 and at 1e300 are the same map of these features.
    z, y = noisy_logits(100, 3, seed=7)
    fits = [
        ck.DirichletCalibration(**UNREGULARISED).fit(z * c, y) for c in (1e20, 1e300)
    ]
    np.testing.assert_allclose(
        fits[0].predict_proba(z * 1e20), fits[1].predict_proba(z * 1e300), rtol=1e-9
    )


@pytest.mark.parametrize(("cls", "options"), ALL)
def test_probabilities_of_1e_300_stay_finite(cls, options):
    X, y = inputs(cls, n=100, seed=8)
    X = X.copy()
    if X.ndim == 1:
        X[:5], X[5:10] = 1e-300, 1.0 - 2.0**-52
    else:
        X[:5] = [1e-300, 1e-300, 1.0 - 2e-300]
    cal = quiet_fit(cls(input="probabilities", **options), X, y)
    proba = cal.predict_proba(X)
    assert np.all(np.isfinite(proba))
    assert np.all(proba > 0)


# --- dtypes and labels --------------------------------------------------------


@pytest.mark.parametrize(("cls", "options"), ALL)
def test_float32_int_and_string_labels(cls, options):
    X, y = inputs(cls, n=100, seed=9)
    base = quiet_fit(cls(input="probabilities", **options), X, y)
    single = quiet_fit(cls(input="probabilities", **options), X.astype(np.float32), y)
    proba = single.predict_proba(X.astype(np.float32))
    assert proba.dtype == np.float32
    np.testing.assert_allclose(proba, base.predict_proba(X), rtol=2e-3, atol=1e-5)
    names = np.array(["alpha", "beta", "gamma"])[y]
    named = quiet_fit(cls(input="probabilities", **options), X, names)
    np.testing.assert_array_equal(named.classes_, np.unique(names))
    np.testing.assert_allclose(named.predict_proba(X), base.predict_proba(X))
    # Integer logits are logits like any other.
    ints = np.rint(4 * (X - 0.5)).astype(np.int64)
    a = quiet_fit(cls(**options), ints, y).predict_proba(ints)
    b = quiet_fit(cls(**options), ints.astype(float), y).predict_proba(ints)
    np.testing.assert_allclose(a, b)


@pytest.mark.parametrize(("cls", "options"), ALL)
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_input_is_refused_naming_the_argument(cls, options, bad):
    X, y = inputs(cls, n=40, seed=10)
    X = X.copy()
    X.flat[7] = bad
    with pytest.raises(ValueError, match=r"^X .*(NaN|inf)"):
        cls(**options).fit(X, y)
    cal = quiet_fit(cls(**options), *inputs(cls, n=40, seed=10))
    with pytest.raises(ValueError, match=r"^X .*(NaN|inf)"):
        cal.predict_proba(X)


@pytest.mark.parametrize(("cls", "options"), ALL)
def test_inputs_are_never_modified(cls, options):
    X, y = inputs(cls, n=60, seed=11)
    X = X.copy()
    if X.ndim == 1:
        X[:3] = 0.0
    else:
        X[:3] = np.eye(3)[(y[:3] + 1) % 3]
    w = np.linspace(0.5, 2.0, len(y))
    copies = X.copy(), y.copy(), w.copy()
    cal = quiet_fit(cls(input="probabilities", **options), X, y, sample_weight=w)
    cal.predict_proba(X)
    for before, after in zip(copies, (X, y, w), strict=True):
        np.testing.assert_array_equal(before, after)

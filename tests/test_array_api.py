"""Array API inputs: torch tensors and array-api-strict arrays on their device.

The reference is calibkit's numpy path on the same values (itself checked
against independent references in the other test modules): with float64 the
device path must agree to 1e-12, with float32 to :data:`FLOAT32_PROB_ATOL`
(one float32 ulp at 1: both paths compute in float64 and round the
probabilities to float32 once). array-api-strict arrays live on its
non-default device ``device1``, which refuses ``np.asarray``: an accidental
host copy there is an error, and the copies made on purpose (through
``np.from_dlpack``) are recorded and must never hold the ``(n, K)`` matrix.
"""

import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone

import calibkit as ck
import calibkit.metrics as m
from calibkit import _array_api
from calibkit._array_api import _namespace
from calibkit.exceptions import CalibrationWarning

compat = pytest.importorskip("array_api_compat")

#: The test's own copies back to the host, which the recorder below must not see.
_FROM_DLPACK = np.from_dlpack

#: float32 probabilities may differ by one rounding of a float64 value.
FLOAT32_PROB_ATOL = 2.0**-24
RTOL64 = 1e-12
UNREGULARISED = {"reg_off_diagonal": 0.0, "reg_bias": 0.0}


class Lib:
    """How to put numpy data on a library's device and take it back."""

    def __init__(self, name):
        self.name = name
        if name == "torch":
            self.mod = pytest.importorskip("torch")
            self.device = self.mod.device("cpu")
        else:
            self.mod = pytest.importorskip("array_api_strict")
            self.device = self.mod.Device("device1")

    def put(self, a):
        a = np.ascontiguousarray(a)
        if self.name == "torch":
            return self.mod.asarray(a.copy(), device=self.device)
        return self.mod.asarray(a, device=self.device)

    def back(self, a):
        if self.name == "torch":
            return a.detach().cpu().numpy()
        return _FROM_DLPACK(a)

    def check(self, out, dtype):
        """``out`` is of this library, on its device, of ``dtype``'s kind."""
        assert compat.array_namespace(out) is compat.array_namespace(self.put([0.0]))
        assert compat.device(out) == self.device
        assert str(out.dtype).endswith(np.dtype(dtype).name)


@pytest.fixture(params=["torch", "strict"])
def lib(request):
    lib = Lib(request.param)
    if lib.name != "torch":
        yield lib
        return
    # One intra-op thread: on small arrays torch's thread pool only adds
    # synchronisation, tens of milliseconds per operation on a loaded machine.
    threads = lib.mod.get_num_threads()
    lib.mod.set_num_threads(1)
    yield lib
    lib.mod.set_num_threads(threads)


@pytest.fixture
def dispatch():
    with ck.config_context(array_api_dispatch=True):
        yield


@pytest.fixture
def host_copies(monkeypatch):
    """Shapes of every array copied from array-api-strict's device to the host."""
    shapes = []
    original = np.from_dlpack

    def recording(x, *args, **kwargs):
        out = original(x, *args, **kwargs)
        shapes.append(out.shape)
        return out

    monkeypatch.setattr(np, "from_dlpack", recording)
    return shapes


def _logits(n, k, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    z = rng.normal(size=(n, k)) * 2.0
    z[np.arange(n), y] += 1.0
    return z, y


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _no_matrix_copied(lib, shapes, n, k):
    if lib.name == "strict":
        assert all(np.prod(s) < n * k for s in shapes), shapes


# --- calibrators -------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("k", [2, 1, 5])  # 1: 1-D log-odds
def test_temperature_on_device_equals_numpy(lib, dispatch, host_copies, dtype, k):
    z, y = _logits(400, max(k, 2), seed=k)
    X = (z[:, 1] - z[:, 0] if k == 1 else z).astype(dtype)
    w = np.random.default_rng(1).integers(0, 3, 400).astype(float)
    with ck.config_context(array_api_dispatch=False):
        ref = ck.TemperatureScaling().fit(X, y, sample_weight=w)
        expected = ref.predict_proba(X)
    Xd = lib.put(X)
    cal = ck.TemperatureScaling().fit(Xd, lib.put(y), sample_weight=lib.put(w))
    proba = cal.predict_proba(Xd)
    lib.check(proba, dtype)
    assert cal.temperature_ == pytest.approx(ref.temperature_, rel=RTOL64)
    atol = 1e-12 if dtype == np.float64 else FLOAT32_PROB_ATOL
    np.testing.assert_allclose(lib.back(proba), expected, rtol=0, atol=atol)
    np.testing.assert_array_equal(lib.back(Xd), X)  # the input is untouched
    np.testing.assert_array_equal(lib.back(cal.predict(Xd)), ref.predict(X))
    np.testing.assert_allclose(
        lib.back(cal.predict_log_proba(Xd)), np.log(expected), rtol=1e-6
    )
    _no_matrix_copied(lib, host_copies, X.shape[0], 2 if k == 1 else k)


def _probability_inputs(case, dtype):
    z, y = _logits(300, 3, seed=19)
    p = _softmax(z)
    if case.startswith("binary"):
        p, y = p[:, 1] / (p[:, 0] + p[:, 1]), (y == 1).astype(int)
        if case == "binary with 0 and 1":
            p[:3] = [0.0, 1.0, 0.0]
    elif case == "exact zeros":
        p[:3] = [[0.0, 0.3, 0.7], [0.5, 0.5, 0.0], [1.0, 0.0, 0.0]]
    elif case == "tiny":  # far below the rest: the floor search picks a floor
        p[:6] = [1e-300, 0.5, 0.5 - 1e-300]
    return p.astype(dtype), y


@pytest.mark.parametrize(
    ("case", "dtype", "smooth"),
    [
        ("exact zeros", np.float64, False),
        ("exact zeros", np.float32, True),
        ("tiny", np.float64, False),
        ("binary", np.float64, True),
        ("binary with 0 and 1", np.float64, False),
    ],
)
def test_temperature_of_probabilities_on_device_equals_numpy(
    lib, dispatch, host_copies, case, dtype, smooth
):
    # input="probabilities": the scan of exact zeros, their fitted logit, the
    # floor search and the predictions all run on the device.
    X, y = _probability_inputs(case, dtype)
    w = np.random.default_rng(7).integers(0, 3, X.shape[0]).astype(float)
    options = {"input": "probabilities", "target_smoothing": smooth}

    def fit(X, y, w):
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            cal = ck.TemperatureScaling(**options).fit(X, y, sample_weight=w)
        return cal, [str(r.message) for r in record]

    with ck.config_context(array_api_dispatch=False):
        ref, ref_warnings = fit(X, y, w)
        expected = ref.predict_proba(X)
    cal, got_warnings = fit(lib.put(X), lib.put(y), lib.put(w))
    assert got_warnings == ref_warnings
    assert cal.temperature_ == pytest.approx(ref.temperature_, rel=RTOL64)
    assert cal.zero_logit_ == pytest.approx(ref.zero_logit_, rel=RTOL64)
    assert (cal.log_floor_, cal.n_iter_) == (ref.log_floor_, ref.n_iter_)
    proba = cal.predict_proba(lib.put(X))
    lib.check(proba, dtype)
    atol = 1e-12 if dtype == np.float64 else FLOAT32_PROB_ATOL
    np.testing.assert_allclose(lib.back(proba), expected, rtol=0, atol=atol)
    n_cols = 1 if X.ndim == 1 else X.shape[1]
    _no_matrix_copied(lib, host_copies, X.shape[0], max(n_cols, 2))


def test_temperature_warm_start_and_many_chunks(lib, dispatch, monkeypatch):
    # 64,100 rows: the solver starts from the fit on a subsample, as the numpy
    # path does; small chunks make every pass a sum of many partial results.
    z, y = _logits(64_100, 3, seed=3)
    X = (z * 0.5).astype(np.float32)
    with ck.config_context(array_api_dispatch=False):
        ref = ck.TemperatureScaling().fit(X, y)
    monkeypatch.setattr(_namespace, "CPU_CHUNK_BYTES", 1 << 18)
    cal = ck.TemperatureScaling().fit(lib.put(X), lib.put(y))
    assert cal.temperature_ == pytest.approx(ref.temperature_, rel=RTOL64)
    assert cal.n_iter_ == ref.n_iter_


def test_float32_device_uses_a_compensated_sum(lib, dispatch, monkeypatch):
    # A device without float64 (Apple's MPS): float32 chunks, partial sums
    # added with compensation. The fit then agrees to float32 accuracy.
    z, y = _logits(20_000, 6, seed=4)
    with ck.config_context(array_api_dispatch=False):
        ref = ck.TemperatureScaling().fit(z, y)
        loss = m.log_loss(y, z, input="logits")
    monkeypatch.setattr(_namespace, "_work_dtype", lambda xp, device: xp.float32)
    monkeypatch.setattr(_namespace, "CPU_CHUNK_BYTES", 1 << 16)
    X = z.astype(np.float32)
    cal = ck.TemperatureScaling().fit(lib.put(X), lib.put(y))
    assert cal.temperature_ == pytest.approx(ref.temperature_, rel=1e-5)
    assert m.log_loss(y, lib.put(X), input="logits") == pytest.approx(loss, rel=1e-6)


def test_temperature_rows_spanning_the_float_range(lib, dispatch):
    # z - max z overflows to -inf: that class gets weight exactly 0, no NaN.
    z, y = _logits(300, 3, seed=11)
    z[:5] = [1.5e308, -1.5e308, 0.0]
    y[:5] = 0
    with ck.config_context(array_api_dispatch=False):
        ref = ck.TemperatureScaling().fit(z, y)
        expected = ref.predict_proba(z)
    cal = ck.TemperatureScaling().fit(lib.put(z), lib.put(y))
    assert cal.temperature_ == pytest.approx(ref.temperature_, rel=RTOL64)
    np.testing.assert_allclose(lib.back(cal.predict_proba(lib.put(z))), expected)


def test_temperature_without_finite_optimum_warns_as_numpy(lib, dispatch):
    z, y = _logits(50, 3)
    z[np.arange(50), y] += 20.0  # every row right: smoothed targets
    warns = pytest.warns(ck.exceptions.NoFiniteOptimumWarning)
    with ck.config_context(array_api_dispatch=False), warns as expected:
        ref = ck.TemperatureScaling().fit(z, y)
    with pytest.warns(ck.exceptions.NoFiniteOptimumWarning) as got:
        cal = ck.TemperatureScaling().fit(lib.put(z), lib.put(y))
    assert str(got[0].message) == str(expected[0].message)
    assert cal.temperature_ == pytest.approx(ref.temperature_, rel=RTOL64)


@pytest.mark.parametrize(
    ("cls", "options"),
    [
        (ck.VectorScaling, {}),
        (ck.MatrixScaling, {"reg_off_diagonal": 0.0, "reg_bias": 0.0}),
        (ck.MatrixScaling, {"reg_off_diagonal": 0.01, "reg_bias": 0.001}),
        (ck.DirichletCalibration, {"reg_off_diagonal": 0.0, "reg_bias": 0.0}),
    ],
)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_scaling_on_device_equals_numpy(
    lib, dispatch, host_copies, cls, options, dtype
):
    z, y = _logits(300, 3, seed=5)
    X = z.astype(dtype)
    with ck.config_context(array_api_dispatch=False):
        ref = cls(**options).fit(X, y)
        expected = ref.predict_proba(X)
    cal = cls(**options).fit(lib.put(X), lib.put(y))
    proba = cal.predict_proba(lib.put(X))
    lib.check(proba, dtype)
    np.testing.assert_allclose(cal.coef_, ref.coef_, rtol=0, atol=1e-10)
    np.testing.assert_allclose(cal.intercept_, ref.intercept_, rtol=0, atol=1e-10)
    atol = 1e-12 if dtype == np.float64 else FLOAT32_PROB_ATOL
    np.testing.assert_allclose(lib.back(proba), expected, rtol=0, atol=atol)
    # The separation check copies X to the host when it is small; predictions
    # and passes never do.
    host_copies.clear()
    cal.predict_proba(lib.put(X))
    _no_matrix_copied(lib, host_copies, *X.shape)


@pytest.mark.parametrize(
    ("cls", "options"),
    [
        (ck.VectorScaling, {}),
        (ck.MatrixScaling, {"reg_off_diagonal": 0.0, "reg_bias": 0.0}),
        (ck.DirichletCalibration, {"reg_off_diagonal": 0.0, "reg_bias": 0.0}),
    ],
)
@pytest.mark.parametrize("scale", [1e-300, 1e300])
def test_scaling_of_extreme_logits_on_device_equals_numpy(
    lib, dispatch, cls, options, scale
):
    # Logits of magnitude 1e-300 or 1e300 are solved for rescaled by a power
    # of two on the device too: the same fit as numpy (itself checked for
    # scale-equivariance in test_messy_new_calibrators), not a NaN or a
    # non-converged map.
    z, y = _logits(150, 3, seed=12)
    X = z * scale
    with ck.config_context(array_api_dispatch=False):
        ref = cls(**options).fit(X, y)
        expected = ref.predict_proba(X)
    cal = cls(**options).fit(lib.put(X), lib.put(y))
    np.testing.assert_allclose(cal.coef_, ref.coef_, rtol=1e-9)
    np.testing.assert_allclose(cal.intercept_, ref.intercept_, rtol=0, atol=1e-9)
    proba = lib.back(cal.predict_proba(lib.put(X)))
    np.testing.assert_allclose(proba, expected, rtol=0, atol=1e-10)


def test_binary_vector_scaling_of_tiny_log_odds_on_device(lib, dispatch):
    z, y = _logits(150, 2, seed=13)
    s = (z[:, 1] - z[:, 0]) * 1e-300
    with ck.config_context(array_api_dispatch=False):
        ref = ck.VectorScaling().fit(s, y)
    cal = ck.VectorScaling().fit(lib.put(s), lib.put(y))
    np.testing.assert_allclose(cal.coef_, ref.coef_, rtol=1e-9)
    assert cal.coef_[0] == 1.0


def _separated_probabilities():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 60)
    p = rng.dirichlet(np.ones(3), 60) * 0.3
    p[np.arange(60), y] += 0.7
    p[:4] = [[0.0, 0.2, 0.8], [0.9, 0.1, 0.0], [0.0, 1.0, 0.0], [0.3, 0.7, 0.0]]
    y[:4] = [2, 0, 1, 1]
    return p / p.sum(axis=1, keepdims=True), y


@pytest.mark.parametrize(
    ("cls", "options", "case", "dtype"),
    [
        (ck.VectorScaling, {}, "exact zeros", np.float64),
        (ck.MatrixScaling, UNREGULARISED, "exact zeros", np.float32),
        (ck.DirichletCalibration, {}, "exact zeros", np.float64),  # "cv"
        (ck.VectorScaling, {}, "binary with 0 and 1", np.float64),
        (ck.MatrixScaling, UNREGULARISED, "separated", np.float64),
    ],
)
def test_scaling_of_probabilities_on_device_equals_numpy(
    lib, dispatch, cls, options, case, dtype
):
    # input="probabilities": exact zeros leave the softmax (masks on the
    # device), a row hit by its zero is left out, zero_mass_ is fitted; with
    # separated classes the smoothed targets share their mass over the
    # classes left. (The exact separation check copies these small X to the
    # host, by design.)
    if case == "separated":
        X, y = _separated_probabilities()
    else:
        X, y = _probability_inputs(case, dtype)
        y[1] = 2 if X.ndim == 2 else y[1]  # a row whose truth is one of its zeros
    w = np.random.default_rng(8).integers(0, 3, X.shape[0]).astype(float)
    options = {**options, "input": "probabilities"}

    def fit(X, y, w):
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            cal = cls(**options).fit(X, y, sample_weight=w)
        return cal, [str(r.message) for r in record]

    with ck.config_context(array_api_dispatch=False):
        ref, ref_warnings = fit(X, y, w)
        expected = ref.predict_proba(X)
    cal, got_warnings = fit(lib.put(X), lib.put(y), lib.put(w))
    assert got_warnings == ref_warnings
    np.testing.assert_allclose(cal.coef_, ref.coef_, rtol=0, atol=1e-10)
    np.testing.assert_allclose(cal.intercept_, ref.intercept_, rtol=0, atol=1e-10)
    assert (cal.zero_mass_, cal.log_zero_) == (ref.zero_mass_, ref.log_zero_)
    assert cal.n_iter_ == ref.n_iter_
    proba = cal.predict_proba(lib.put(X))
    lib.check(proba, dtype)
    atol = 1e-12 if dtype == np.float64 else FLOAT32_PROB_ATOL
    np.testing.assert_allclose(lib.back(proba), expected, rtol=0, atol=atol)


def test_newton_cg_on_device(lib, dispatch, monkeypatch):
    # Models above DENSE_MAX_PARAMS are solved matrix-free (Newton-CG): their
    # gradient and Hessian-vector passes run on the device too.
    from calibkit import _softmax_models

    monkeypatch.setattr(_softmax_models, "DENSE_MAX_PARAMS", 4)
    z, y = _logits(120, 3, seed=6)
    options = {"reg_off_diagonal": 0.01, "reg_bias": 0.0}
    for cal in (ck.VectorScaling(), ck.MatrixScaling(**options)):
        with ck.config_context(array_api_dispatch=False):
            ref = clone(cal).fit(z, y)
        cal.fit(lib.put(z), lib.put(y))
        np.testing.assert_allclose(cal.coef_, ref.coef_, rtol=0, atol=1e-9)
        np.testing.assert_allclose(
            lib.back(cal.predict_proba(lib.put(z))), ref.predict_proba(z), atol=1e-10
        )


def test_cross_validated_regularisation_on_device(lib, dispatch):
    # The "cv" search: fold keys and held-out losses computed on the device.
    z, y = _logits(60, 3, seed=6)
    with ck.config_context(array_api_dispatch=False):
        ref = ck.DirichletCalibration().fit(z, y)
    cal = ck.DirichletCalibration().fit(lib.put(z), lib.put(y))
    assert cal.reg_off_diagonal_ == ref.reg_off_diagonal_
    np.testing.assert_allclose(cal.coef_, ref.coef_, rtol=0, atol=1e-10)


def _platt_inputs(shape, dtype):
    z, y = _logits(400, 3, seed=14)
    if shape == "log-odds":
        return (z[:, 1] - z[:, 0]).astype(dtype), (y == 1).astype(int)
    if shape == "two columns":
        return z[:, :2].astype(dtype), (y == 1).astype(int)
    return z.astype(dtype), y


@pytest.mark.parametrize("shape", ["log-odds", "two columns", "one-vs-rest"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_platt_on_device_equals_numpy(lib, dispatch, host_copies, shape, dtype):
    X, y = _platt_inputs(shape, dtype)
    w = np.random.default_rng(3).integers(0, 3, X.shape[0]).astype(float)
    with ck.config_context(array_api_dispatch=False):
        ref = ck.PlattScaling().fit(X, y, sample_weight=w)
        expected = ref.predict_proba(X)
    cal = ck.PlattScaling().fit(lib.put(X), lib.put(y), sample_weight=lib.put(w))
    proba = cal.predict_proba(lib.put(X))
    lib.check(proba, dtype)
    np.testing.assert_allclose(cal.coef_, ref.coef_, rtol=RTOL64)
    np.testing.assert_allclose(cal.intercept_, ref.intercept_, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(cal.n_iter_, ref.n_iter_)
    atol = 1e-12 if dtype == np.float64 else FLOAT32_PROB_ATOL
    np.testing.assert_allclose(lib.back(proba), expected, rtol=0, atol=atol)
    n_cols = 1 if X.ndim == 1 else X.shape[1]
    _no_matrix_copied(lib, host_copies, X.shape[0], max(n_cols, 2))


def test_platt_on_device_warm_start_extremes_and_separation(lib, dispatch):
    # 64,100 rows: the fit starts from an evenly spaced subsample (copied to
    # the host, 1-D); 1e-300 log-odds are solved for rescaled by 2**k.
    z, y = _logits(64_100, 2, seed=15)
    s, y = z[:, 1] - z[:, 0], (y == 1).astype(int)
    for X in (s, s * 1e-300):
        with ck.config_context(array_api_dispatch=False):
            ref = ck.PlattScaling().fit(X, y)
        cal = ck.PlattScaling().fit(lib.put(X), lib.put(y))
        np.testing.assert_allclose(cal.coef_, ref.coef_, rtol=RTOL64)
        np.testing.assert_allclose(cal.intercept_, ref.intercept_, atol=1e-12)
        assert cal.n_iter_[0] == ref.n_iter_[0]
    separated = np.array([-2.0, -1.0, -0.5, 0.5, 1.0, 3.0])
    labels = np.array([0, 0, 0, 1, 1, 1])
    warns = pytest.warns(ck.exceptions.NoFiniteOptimumWarning)
    with ck.config_context(array_api_dispatch=False), warns as expected:
        ref = ck.PlattScaling().fit(separated, labels)
    with pytest.warns(ck.exceptions.NoFiniteOptimumWarning) as got:
        cal = ck.PlattScaling().fit(lib.put(separated), lib.put(labels))
    assert str(got[0].message) == str(expected[0].message)
    np.testing.assert_allclose(cal.coef_, ref.coef_, rtol=RTOL64)


def _beta_inputs(case, dtype):
    z, y = _logits(300, 3, seed=16)
    if case == "logits":
        return z.astype(dtype), y
    p = _softmax(z)
    if case == "binary probabilities":  # with exact 0 and 1
        p1 = p[:, 1] / (p[:, 0] + p[:, 1])
        p1[:3] = [0.0, 1.0, 0.0]
        return p1.astype(dtype), (y == 1).astype(int)
    p[:3] = [[0.0, 0.3, 0.7], [0.5, 0.5, 0.0], [1.0, 0.0, 0.0]]
    return p.astype(dtype), y


@pytest.mark.parametrize(
    ("case", "parameters", "dtype"),
    [
        ("binary probabilities", "abm", np.float64),
        ("binary probabilities", "ab", np.float32),
        ("probabilities", "am", np.float64),
        ("probabilities", "abm", np.float32),
        ("logits", "abm", np.float64),
    ],
)
def test_beta_on_device_equals_numpy(
    lib, dispatch, host_copies, case, parameters, dtype
):
    # Every pass of beta calibration is a reduction: probabilities (exact 0
    # and 1 included) and logits are fitted and predicted on the device.
    X, y = _beta_inputs(case, dtype)
    w = np.random.default_rng(4).integers(0, 3, X.shape[0]).astype(float)
    options = {"parameters": parameters, "input": case.split()[-1]}

    def fit(X, y, w):
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            cal = ck.BetaCalibration(**options).fit(X, y, sample_weight=w)
        return cal, [str(r.message) for r in record]

    with ck.config_context(array_api_dispatch=False):
        ref, ref_warnings = fit(X, y, w)
        expected = ref.predict_proba(X)
    cal, got_warnings = fit(lib.put(X), lib.put(y), lib.put(w))
    assert got_warnings == ref_warnings
    proba = cal.predict_proba(lib.put(X))
    lib.check(proba, dtype)
    for name in ("a_", "b_", "c_"):
        np.testing.assert_allclose(getattr(cal, name), getattr(ref, name), atol=1e-12)
    for name in ("zero_proba_", "one_proba_"):
        if getattr(ref, name) is None:
            assert getattr(cal, name) is None
        else:
            np.testing.assert_allclose(getattr(cal, name), getattr(ref, name), 1e-12)
    np.testing.assert_array_equal(cal.n_iter_, ref.n_iter_)
    atol = 1e-12 if dtype == np.float64 else FLOAT32_PROB_ATOL
    np.testing.assert_allclose(lib.back(proba), expected, rtol=0, atol=atol)
    n_cols = 1 if X.ndim == 1 else X.shape[1]
    _no_matrix_copied(lib, host_copies, X.shape[0], max(n_cols, 2))


@pytest.mark.parametrize(
    ("case", "dtype", "smooth"),
    [
        ("binary with 0 and 1", np.float64, False),
        ("exact zeros", np.float64, True),
        ("exact zeros", np.float32, False),
    ],
)
def test_platt_of_probabilities_on_device_equals_numpy(
    lib, dispatch, host_copies, case, dtype, smooth
):
    # Rows at exact 0 and 1 are set apart (one boolean per row comes to the
    # host) and get zero_proba_ / one_proba_; the sigmoid is fitted on the
    # device on the other rows' scores.
    X, y = _probability_inputs(case, dtype)
    w = np.random.default_rng(9).integers(0, 3, X.shape[0]).astype(float)
    options = {"input": "probabilities", "target_smoothing": smooth}

    def fit(X, y, w):
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            cal = ck.PlattScaling(**options).fit(X, y, sample_weight=w)
        return cal, [str(r.message) for r in record]

    with ck.config_context(array_api_dispatch=False):
        ref, ref_warnings = fit(X, y, w)
        expected = ref.predict_proba(X)
    cal, got_warnings = fit(lib.put(X), lib.put(y), lib.put(w))
    assert got_warnings == ref_warnings
    np.testing.assert_allclose(cal.coef_, ref.coef_, rtol=RTOL64)
    np.testing.assert_allclose(cal.intercept_, ref.intercept_, rtol=0, atol=1e-12)
    for name in ("zero_proba_", "one_proba_"):
        np.testing.assert_allclose(getattr(cal, name), getattr(ref, name), RTOL64)
    proba = cal.predict_proba(lib.put(X))
    lib.check(proba, dtype)
    atol = 1e-12 if dtype == np.float64 else FLOAT32_PROB_ATOL
    np.testing.assert_allclose(lib.back(proba), expected, rtol=0, atol=atol)
    n_cols = 1 if X.ndim == 1 else X.shape[1]
    _no_matrix_copied(lib, host_copies, X.shape[0], max(n_cols, 2))
    # A file saved before exact 0 and 1 had their own probabilities: the
    # finite stand-ins of log 0 (computed on the host), returned on the device.
    for fitted in (cal, ref):
        fitted.zero_proba_ = fitted.one_proba_ = None
    with ck.config_context(array_api_dispatch=False):
        expected = ref.predict_proba(X)
    proba = cal.predict_proba(lib.put(X))
    lib.check(proba, dtype)
    np.testing.assert_allclose(lib.back(proba), expected, rtol=0, atol=atol)


def test_isotonic_returns_the_inputs_namespace(lib, dispatch):
    # Isotonic calibration sorts: it computes on the host and hands the
    # probabilities back on the input's device.
    z, y = _logits(200, 3, seed=7)
    X, y = (z[:, 1] - z[:, 0]).astype(np.float32), (y == 1).astype(int)
    with ck.config_context(array_api_dispatch=False):
        expected = ck.IsotonicCalibration().fit(X, y).predict_proba(X)
    cal = ck.IsotonicCalibration().fit(lib.put(X), lib.put(y))
    proba = cal.predict_proba(lib.put(X))
    lib.check(proba, X.dtype)
    np.testing.assert_array_equal(lib.back(proba), expected)


def test_persistence_round_trip_from_device(lib, dispatch, tmp_path):
    z, y = _logits(200, 4, seed=8)
    for cal in (ck.TemperatureScaling(), ck.VectorScaling()):
        cal.fit(lib.put(z), lib.put(y))
        path = tmp_path / "cal.json"
        ck.save(cal, path)
        loaded = ck.load(path)
        expected = lib.back(cal.predict_proba(lib.put(z)))
        with ck.config_context(array_api_dispatch=False):
            # The loaded calibrator is the fitted one, to the bit, on numpy ...
            on_host = loaded.predict_proba(z)
            np.testing.assert_array_equal(on_host, cal.predict_proba(z))
        # ... and on the device; numpy and the device agree to rounding.
        on_device = loaded.predict_proba(lib.put(z))
        lib.check(on_device, np.float64)
        np.testing.assert_array_equal(lib.back(on_device), expected)
        np.testing.assert_allclose(on_host, expected, rtol=1e-13, atol=0)


def test_device_errors_name_the_argument_and_rows(lib, dispatch):
    z, y = _logits(20, 3)
    z[[3, 7], 1] = np.nan
    with pytest.raises(ValueError, match=r"X contains non-finite values .* rows 3, 7"):
        ck.TemperatureScaling().fit(lib.put(z), lib.put(y))
    with pytest.raises(ValueError, match="X must be 1-D or 2-D"):
        ck.TemperatureScaling().fit(lib.put(np.zeros((4, 2, 2))), lib.put(y[:4]))
    with pytest.raises(ValueError, match="Inconsistent numbers of samples"):
        ck.TemperatureScaling().fit(lib.put(np.zeros((4, 3))), lib.put(y))


def test_dispatch_is_off_by_default_and_follows_sklearn(monkeypatch):
    torch = pytest.importorskip("torch")
    z, y = _logits(100, 3)
    proba = ck.TemperatureScaling().fit(torch.asarray(z), y).predict_proba(z)
    assert isinstance(proba, np.ndarray)
    assert not _array_api.dispatch_enabled()
    import sklearn

    monkeypatch.setattr(sklearn, "get_config", lambda: {"array_api_dispatch": True})
    assert _array_api.dispatch_enabled()
    cal = ck.TemperatureScaling().fit(torch.asarray(z), torch.asarray(y))
    assert isinstance(cal.predict_proba(torch.asarray(z)), torch.Tensor)


def test_config_is_per_thread():
    # Each thread sees only its own setting, as with scikit-learn's
    # get_config: a with-block in one thread does not switch another.
    import threading

    inside, entered, release = [], threading.Event(), threading.Event()

    def switched_on():
        with ck.config_context(array_api_dispatch=True):
            entered.set()
            release.wait(5)
            inside.append(ck.get_config()["array_api_dispatch"])

    worker = threading.Thread(target=switched_on)
    worker.start()
    assert entered.wait(5)
    seen_here = (ck.get_config()["array_api_dispatch"], _array_api.dispatch_enabled())
    release.set()
    worker.join(5)
    assert inside == [True]
    assert seen_here == (False, False)
    with ck.config_context(array_api_dispatch=True):
        seen = []
        thread = threading.Thread(
            target=lambda: seen.append(ck.get_config()["array_api_dispatch"])
        )
        thread.start()
        thread.join(5)
        assert seen == [False]  # a new thread starts from the default
        assert ck.get_config()["array_api_dispatch"]
    assert not ck.get_config()["array_api_dispatch"]


def test_import_does_not_load_torch_or_array_api_compat():
    code = (
        "import sys, calibkit, calibkit.metrics as m\n"
        "[getattr(m, n) for n in m.__all__]\n"
        "z = [[0.0, 1.0], [1.0, 0.0], [2.0, 0.0]]\n"
        "calibkit.TemperatureScaling().fit(z, [1, 0, 1])\n"
        "print(sorted(k for k in sys.modules if k.split('.')[0] in "
        "('torch', 'array_api_compat', 'array_api_strict')))\n"
    )
    root = str(Path(ck.__file__).resolve().parents[1])
    with warnings.catch_warnings():
        done = subprocess.run(
            [sys.executable, "-W", "ignore", "-c", code],
            capture_output=True,
            text=True,
            check=True,
            cwd=root,
        )
    assert done.stdout.strip() == "[]"


# --- metrics -----------------------------------------------------------------


def _metric_cases(z, y, p, w):
    q = 0.7 * p + 0.3 * np.roll(p, 1, axis=1)
    y1, p1 = (y == 1).astype(int), p[:, 1] / (p[:, 0] + p[:, 1])
    ece = m.expected_calibration_error
    return [
        (m.log_loss, (y, p), {}),
        (m.log_loss, (y, p), {"sample_weight": w}),
        (m.log_loss, (y, z), {"input": "logits"}),
        (m.log_loss, (y1, np.log(p1) - np.log1p(-p1)), {"input": "logits"}),
        (m.log_loss, (y1, p1), {"class_weight": "balanced"}),
        (m.brier_score, (y, p), {"sample_weight": w}),
        (m.brier_score, (y1, p1), {}),
        (m.brier_score, (y, z), {"input": "logits"}),
        (ece, (y, p), {}),
        (ece, (y, p), {"sample_weight": w, "n_bins": 7}),
        (ece, (y, p), {"strategy": "quantile", "norm": "l2"}),
        (ece, (y, p), {"multiclass": "classwise"}),
        (ece, (y1, p1), {"norm": "max"}),
        (m.entropy, (p,), {"sample_weight": w}),
        (m.entropy, (p1,), {}),
        (m.kl_divergence, (p, q), {}),
        (m.kl_divergence, (p1, q[:, 1]), {"sample_weight": w}),
        (m.cross_entropy, (p, q), {}),
    ]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_metrics_on_device_equal_numpy(lib, dispatch, host_copies, dtype):
    z, y = _logits(500, 4, seed=9)
    z = z.astype(dtype)
    p = _softmax(z.astype(np.float64)).astype(dtype)
    w = np.random.default_rng(2).uniform(0, 2, 500)
    rtol = RTOL64 if dtype == np.float64 else 1e-6
    for func, args, options in _metric_cases(z, y, p, w):
        with ck.config_context(array_api_dispatch=False):
            expected = func(*args, **options)
        moved = [a if a is y or a.dtype.kind == "i" else lib.put(a) for a in args]
        if "sample_weight" in options:
            options = {**options, "sample_weight": lib.put(options["sample_weight"])}
        got = func(*moved, **options)
        assert isinstance(got, float)
        assert got == pytest.approx(expected, rel=rtol, abs=1e-15), func.__name__
    _no_matrix_copied(lib, host_copies, 500, 4)


def test_reliability_and_information_on_device_equal_numpy(lib, dispatch, host_copies):
    z, y = _logits(400, 3, seed=10)
    p = _softmax(z)
    q = _softmax(0.8 * z)
    for options in ({}, {"n_bins": 5}, {"strategy": "quantile"}):
        with ck.config_context(array_api_dispatch=False):
            expected = m.reliability_curve(y, p, **options)
        got = m.reliability_curve(lib.put(y), lib.put(p), **options)
        np.testing.assert_allclose(got.forecast, expected.forecast, rtol=RTOL64)
        np.testing.assert_array_equal(got.observed, expected.observed)
        np.testing.assert_array_equal(got.count, expected.count)
    with ck.config_context(array_api_dispatch=False):
        expected = m.information_decomposition(p, q)
    got = m.information_decomposition(lib.put(p), lib.put(q))
    for name in ("entropy", "kl_divergence", "cross_entropy"):
        assert getattr(got, name) == pytest.approx(getattr(expected, name), rel=RTOL64)
    _no_matrix_copied(lib, host_copies, 400, 3)


@pytest.mark.parametrize("scale", [1.0, 1e-300, 1e200])
def test_weighted_uniform_bins_stay_on_device(lib, dispatch, host_copies, scale):
    # Weighted equal-width bins are counted on the device: nothing per row
    # comes back (equal-mass bins, which sort, bring two vectors to the host).
    z, y = _logits(400, 3, seed=17)
    p = _softmax(z)
    w = np.random.default_rng(5).integers(0, 4, 400) * scale
    for options in ({}, {"n_bins": 7, "norm": "l2"}, {"norm": "max"}):
        with ck.config_context(array_api_dispatch=False):
            expected = m.expected_calibration_error(y, p, sample_weight=w, **options)
        got = m.expected_calibration_error(y, lib.put(p), sample_weight=w, **options)
        assert got == pytest.approx(expected, rel=RTOL64)
    with ck.config_context(array_api_dispatch=False):
        expected = m.reliability_curve(y, p, sample_weight=w)
    got = m.reliability_curve(y, lib.put(p), sample_weight=w)
    for name in ("forecast", "observed", "weight"):
        np.testing.assert_allclose(getattr(got, name), getattr(expected, name), 1e-12)
    for name in ("count", "bin_index", "bin_lower", "bin_upper"):
        np.testing.assert_array_equal(getattr(got, name), getattr(expected, name))
    if lib.name == "strict":
        assert all(s[:1] != (400,) for s in host_copies), host_copies


def test_metric_warnings_and_errors_match_numpy(lib, dispatch):
    y = np.array([0, 1, 2, 1, 0])
    p = np.array([[0.5, 0.5, 0], [0, 0, 1], [0.2, 0.3, 0.5], [1, 0, 0], [0.9, 0.1, 0]])
    messages = []
    for put in (np.asarray, lib.put):
        with pytest.warns(CalibrationWarning) as record:
            assert m.log_loss(y, put(p)) == np.inf
        messages.append(str(record[0].message))
    assert messages[0] == messages[1]
    assert "rows 1, 3" in messages[1]
    off = p.copy()
    off[2] = [0.2, 0.3, 0.5004]  # saved with few decimals: renormalised
    warns = pytest.warns(CalibrationWarning, match="1 rows did not sum to 1")
    with ck.config_context(array_api_dispatch=False), warns:
        expected = m.brier_score(y, off)
    with pytest.warns(CalibrationWarning, match="1 rows did not sum to 1"):
        assert m.brier_score(y, lib.put(off)) == pytest.approx(expected, rel=RTOL64)
    bad = p.copy()
    bad[4] = [1.2, -0.2, 0.0]
    with pytest.raises(ValueError, match=r"row 4 has 1\.2"):
        m.log_loss(y, lib.put(bad))
    far = p.copy()
    far[0] = [0.5, 0.6, 0.0]
    with pytest.raises(ValueError, match=r"row 0 sums to 1\.1"):
        m.entropy(lib.put(far))


# --- JAX (immutable arrays) ---------------------------------------------------


@pytest.fixture
def jnp():
    """``jax.numpy`` with float64 enabled for the test (restored after)."""
    jax = pytest.importorskip("jax")
    previous = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    yield pytest.importorskip("jax.numpy")
    jax.config.update("jax_enable_x64", previous)


def test_jax_calibrators_and_metrics_equal_numpy(jnp, dispatch):
    # JAX arrays cannot be written in place: outputs are assembled from their
    # chunks. Temperature scaling (chunked passes), Platt scaling (the numpy
    # solver's passes dispatched to device kernels) and log-loss, against
    # numpy. (JAX compiles each new operation on first use, seconds per
    # calibrator here, so the cases are few and float64 only; JAX is not in the
    # test extra, see docs/user_guide/deep_learning.rst.)
    z, y = _logits(300, 3, seed=18)
    y1, s = (y == 1).astype(int), z[:, 1] - z[:, 0]
    w = np.random.default_rng(6).integers(0, 3, 300).astype(float)
    calibrators = [
        (ck.TemperatureScaling(), z, y),
        (ck.PlattScaling(), s, y1),
    ]
    for cal, data, labels in calibrators:
        with ck.config_context(array_api_dispatch=False):
            expected = clone(cal).fit(data, labels, sample_weight=w).predict_proba(data)
        fitted = cal.fit(jnp.asarray(data), jnp.asarray(labels), sample_weight=w)
        got = fitted.predict_proba(jnp.asarray(data))
        assert compat.is_jax_array(got), type(cal).__name__
        assert got.dtype == jnp.float64
        np.testing.assert_allclose(np.asarray(got), expected, rtol=0, atol=1e-12)
    cases = [
        (m.log_loss, (y, z), {"input": "logits", "sample_weight": w}),
    ]
    for func, args, options in cases:
        with ck.config_context(array_api_dispatch=False):
            expected = func(*args, **options)
        moved = [a if a is y else jnp.asarray(a) for a in args]
        got = func(*moved, **options)
        assert got == pytest.approx(expected, rel=RTOL64), func.__name__


@pytest.mark.parametrize("value", ["yes", 1, 0.0])
def test_set_config_refuses_what_is_not_a_bool(value):
    with pytest.raises(TypeError, match="array_api_dispatch must be True, False"):
        ck.set_config(array_api_dispatch=value)
    with (
        pytest.raises(TypeError, match="array_api_dispatch"),
        ck.config_context(array_api_dispatch=value),
    ):
        pass
    assert ck.get_config()["array_api_dispatch"] is False

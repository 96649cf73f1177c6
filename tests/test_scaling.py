"""Vector scaling, matrix scaling and Dirichlet calibration.

Exactness is checked against an independent solver: the objective written
out directly with scipy's ``log_softmax``, in a gauge of its own (a reference
class whose logit row is 0), minimised by ``scipy.optimize.minimize`` with
an exact trust region and polished by Newton steps with a finite-difference
Hessian; the gradient at calibkit's answer is recomputed in mpmath.
"""

import functools
import tracemalloc
import warnings

import mpmath
import numpy as np
import pytest
import scipy.optimize
from scipy.special import log_softmax, softmax
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_digits, load_iris, load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.model_selection import cross_val_predict
from sklearn.naive_bayes import GaussianNB
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import calibkit as ck
from calibkit import (
    DirichletCalibration,
    MatrixScaling,
    TemperatureScaling,
    VectorScaling,
    _chunks,
    _softmax_models,
)
from calibkit.calibrators import _scaling
from calibkit.exceptions import CalibrationWarning, NoFiniteOptimumWarning

# --- data: out-of-fold outputs of real models on scikit-learn's data sets ---


@functools.cache
def real_outputs(name):
    """``(X, y, input)`` of a real model, out of fold, on a bundled data set."""
    linear = make_pipeline(StandardScaler(), LogisticRegression(C=0.05, max_iter=2000))
    loader, model, method = {
        "digits": (load_digits, linear, "decision_function"),
        "iris": (load_iris, GaussianNB(), "predict_proba"),
        "wine": (load_wine, linear, "decision_function"),
        "breast_cancer": (load_breast_cancer, linear, "decision_function"),
    }[name]
    X, y = loader(return_X_y=True)
    if name in ("iris", "wine"):
        # On all their features a class is separated by a wide margin, and
        # the loss is flat to rounding along its scale: no well-posed optimum.
        X = X[:, :2]
    out = cross_val_predict(model, X, y, cv=3, method=method)
    kind = "probabilities" if method == "predict_proba" else "logits"
    return out, y, kind


# --- the independent reference ------------------------------------------------


def features(cls, X, kind):
    """The rows x the map acts on, computed here without calibkit."""
    if kind == "probabilities":
        p = np.column_stack([1 - X, X]) if X.ndim == 1 else X
        with np.errstate(divide="ignore"):
            logs = np.log(p)
        return np.maximum(logs, logs[np.isfinite(logs)].min())
    z = np.column_stack([np.zeros_like(X), X]) if X.ndim == 1 else X
    return log_softmax(z, axis=1) if cls is DirichletCalibration else z


class Reference:
    """Mean weighted log-loss (+ ODIR) in a gauge of its own.

    Vector scaling: ``b_0 = 0`` (and the scales in ``fixed_scale`` held at 1).
    Matrix scaling: row 0 of ``W`` is 0 when ``lam = 0``, and ``b_0 = 0`` when
    ``mu = 0`` (a positive penalty leaves no flat direction to fix).
    """

    def __init__(self, x, y, w, *, vector, lam=0.0, mu=0.0, fixed_scale=(), mask=None):
        # mask: classes out of a row's softmax (exact zeros); a row whose
        # true class is out has a loss of its own, outside the map's.
        w = np.asarray(w, dtype=float).copy()
        if mask is not None:
            mask = mask.copy()
            hit = mask[np.arange(len(y)), y]
            w[hit] = 0.0
            mask[hit] = False
        self.mask = mask
        self.x, self.y, self.w = x, y, w / w.sum()
        self.k = k = x.shape[1]
        self.vector, self.lam, self.mu = vector, lam, mu
        self.fixed_scale = list(fixed_scale)
        free = np.ones((k, k + 1), dtype=bool)
        if vector:
            free[:, :k] = False
            free[np.arange(k), np.arange(k)] = True
            free[self.fixed_scale, self.fixed_scale] = False
        elif lam == 0:
            free[0, :k] = False
        if vector or mu == 0:
            free[0, k] = False
        self.free = free

    def theta(self, p):
        k = self.k
        theta = np.zeros((k, k + 1))
        if self.vector:
            theta[np.arange(k), np.arange(k)] = 1.0
        theta[self.free] = p
        return theta

    def unpack(self, p):
        theta = self.theta(p)
        a, b = theta[:, : self.k], theta[:, self.k]
        return (np.diag(a) if self.vector else a), b

    def pack(self, coef, intercept):
        """calibkit's parameters in this gauge."""
        k = self.k
        coef = np.diag(coef) if self.vector else coef.copy()
        theta = np.column_stack([coef, intercept])
        if not self.vector and self.lam == 0:
            theta[:, :k] -= theta[0, :k]
        if self.vector or self.mu == 0:
            theta[:, k] -= theta[0, k]
        return theta[self.free]

    def logits(self, p):
        a, b = self.unpack(p)
        out = (self.x * a if self.vector else self.x @ a.T) + b
        return out if self.mask is None else np.where(self.mask, -np.inf, out)

    def loss(self, p):
        a, b = self.unpack(p)
        ll = log_softmax(self.logits(p), axis=1)[np.arange(len(self.y)), self.y]
        value = -(self.w @ ll)
        if not self.vector:
            k = self.k
            off = a[~np.eye(k, dtype=bool)]
            value += self.lam / (k * (k - 1)) * (off @ off) + self.mu / k * (b @ b)
        return value

    def analytic_grad(self, p):
        k = self.k
        r = softmax(self.logits(p), axis=1)
        r[np.arange(len(self.y)), self.y] -= 1
        r *= self.w[:, None]
        a, b = self.unpack(p)
        g = np.column_stack([r.T @ self.x, r.sum(0)])
        if not self.vector:
            g[:, :k] += 2 * self.lam / (k * (k - 1)) * np.where(np.eye(k) == 1, 0, a)
            g[:, k] += 2 * self.mu / k * b
        return g[self.free]

    def hess(self, p):
        h = 1e-5
        n = p.shape[0]
        out = np.empty((n, n))
        for i in range(n):
            e = np.zeros(n)
            e[i] = h
            out[:, i] = (self.analytic_grad(p + e) - self.analytic_grad(p - e)) / (
                2 * h
            )
        return 0.5 * (out + out.T)

    def solve(self, p0):
        result = scipy.optimize.minimize(
            self.loss,
            p0,
            jac=self.analytic_grad,
            hess=self.hess,
            method="trust-exact",
            options={"gtol": 1e-13, "maxiter": 500},
        )
        p = result.x
        for _ in range(3):  # Newton polish
            p = p - np.linalg.solve(self.hess(p), self.analytic_grad(p))
        return p


def mp_gradient(ref, p, dps=40):
    """Gradient of the unpenalised loss at ``p`` in mpmath (every row exactly)."""
    with mpmath.workdps(dps):
        logits = ref.logits(p)
        k = ref.k
        g_rows = np.zeros((k, k + 1), dtype=object)
        g_rows[:] = mpmath.mpf(0)
        for i in range(len(ref.y)):
            a = [mpmath.mpf(float(v)) for v in logits[i]]
            e = [mpmath.exp(v) for v in a]
            total = mpmath.fsum(e)
            w = mpmath.mpf(float(ref.w[i]))
            for c in range(k):
                r = e[c] / total - (1 if c == ref.y[i] else 0)
                for j in range(k):
                    g_rows[c, j] += w * r * mpmath.mpf(float(ref.x[i, j]))
                g_rows[c, k] += w * r
        return np.array([[float(v) for v in row] for row in g_rows])


CASES = [
    # (data set, class, options)
    ("digits", VectorScaling, {}),
    ("digits", MatrixScaling, {"reg_off_diagonal": 1e-2, "reg_bias": 1e-2}),
    ("digits", DirichletCalibration, {"reg_off_diagonal": 1e-3, "reg_bias": 1e-3}),
    ("iris", VectorScaling, {}),
    ("iris", DirichletCalibration, {"reg_off_diagonal": 0.0, "reg_bias": 0.0}),
    ("iris", MatrixScaling, {"reg_off_diagonal": 0.1, "reg_bias": 0.0}),
    ("wine", VectorScaling, {}),
    ("wine", DirichletCalibration, {"reg_off_diagonal": 0.0, "reg_bias": 1e-2}),
    ("breast_cancer", VectorScaling, {}),
    ("breast_cancer", DirichletCalibration, {"reg_off_diagonal": 0.0, "reg_bias": 0.0}),
]


@pytest.mark.parametrize(("name", "cls", "options"), CASES)
def test_exact_against_an_independent_solver_on_real_models(name, cls, options):
    X, y, kind = real_outputs(name)
    w = np.random.default_rng(3).integers(1, 4, len(y)).astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("error", NoFiniteOptimumWarning)
        warnings.simplefilter("ignore", CalibrationWarning)  # GaussianNB's p of 1e-60
        cal = cls(input=kind, **options).fit(X, y, sample_weight=w)
    x = features(cls, X, kind)
    if kind == "probabilities":
        assert cal.log_zero_ == x.min()
    vector = cls is VectorScaling
    ref = Reference(
        x,
        y,
        w,
        vector=vector,
        lam=options.get("reg_off_diagonal", 0.0),
        mu=options.get("reg_bias", 0.0),
        # The constant logit 0 of binary log-odds has no identified scale.
        fixed_scale=[0] if vector and X.ndim == 1 and kind == "logits" else (),
    )
    ours = ref.pack(cal.coef_, cal.intercept_)
    best = ref.solve(
        ref.pack(np.ones(ref.k) if vector else np.eye(ref.k), np.zeros(ref.k))
    )
    # The same optimum, to 1e-8 relative, and calibkit's loss is not above it.
    np.testing.assert_allclose(ours, best, rtol=0, atol=1e-8 * np.max(np.abs(best)))
    assert ref.loss(ours) <= ref.loss(best) + 4 * np.finfo(float).eps * ref.loss(best)
    # Gradient at noise level, recomputed independently.
    assert np.max(np.abs(ref.analytic_grad(ours))) < 1e-10
    # calibkit's gauge: intercepts sum to 0; off-diagonal column sums 0 unpenalised.
    if options.get("reg_bias", 0.0) == 0.0:
        assert abs(cal.intercept_.sum()) < 1e-12 * max(1, np.abs(cal.intercept_).max())
    if not vector and options.get("reg_off_diagonal", 0.0) == 0.0:
        off = cal.coef_.sum(axis=0) - np.diag(cal.coef_)
        np.testing.assert_allclose(off, 0, atol=1e-12 * np.abs(cal.coef_).max())


@pytest.mark.parametrize(
    ("cls", "options"),
    [
        (VectorScaling, {}),
        (MatrixScaling, {"reg_off_diagonal": 0.0, "reg_bias": 0.0}),
        (DirichletCalibration, {"reg_off_diagonal": 0.0, "reg_bias": 0.0}),
    ],
)
def test_gradient_is_at_noise_level_in_high_precision(cls, options):
    X, y, kind = real_outputs("iris")
    cal = cls(input=kind, **options).fit(X, y)
    x = features(cls, X, kind)
    # Every entry of [W | b] free: the gradient of the full map, in mpmath.
    ref = Reference(x, y, np.ones(len(y)), vector=False, lam=1.0, mu=1.0)
    coef = np.diag(cal.coef_) if cal.coef_.ndim == 1 else cal.coef_
    grad = mp_gradient(ref, np.column_stack([coef, cal.intercept_]).ravel())
    if cls is VectorScaling:  # only the diagonal and b are parameters
        grad = np.concatenate([np.diag(grad[:, :-1]), grad[:, -1]])
    assert np.max(np.abs(grad)) < 1e-13


# --- the solvers -----------------------------------------------------------------


def softmax_problem(n=400, k=5, seed=1, dtype=np.float64):
    rng = np.random.default_rng(seed)
    z = rng.normal(0.0, 2.0, (n, k))
    y = (0.7 * z + rng.normal(0, 0.5, k) + rng.gumbel(size=(n, k))).argmax(axis=1)
    return z.astype(dtype), y


@pytest.mark.parametrize(
    ("cls", "options"),
    [
        (VectorScaling, {}),
        (MatrixScaling, {"reg_off_diagonal": 0.0, "reg_bias": 0.0}),
        (MatrixScaling, {"reg_off_diagonal": 0.3, "reg_bias": 0.0}),
        (DirichletCalibration, {"reg_off_diagonal": 0.1, "reg_bias": 0.1}),
    ],
)
def test_newton_cg_reaches_the_dense_newton_optimum(cls, options, monkeypatch):
    z, y = softmax_problem()
    w = np.random.default_rng(2).uniform(0.5, 2, len(y))
    dense = cls(**options).fit(z, y, sample_weight=w)
    monkeypatch.setattr(_softmax_models, "DENSE_MAX_PARAMS", 0)
    cg = cls(**options).fit(z, y, sample_weight=w)
    scale = np.max(np.abs(dense.coef_))
    np.testing.assert_allclose(cg.coef_, dense.coef_, rtol=0, atol=1e-9 * scale)
    np.testing.assert_allclose(cg.intercept_, dense.intercept_, rtol=0, atol=1e-9)


def test_vector_scaling_runs_at_a_thousand_classes():
    # 2000 parameters: Newton-CG with Hessian-vector products (a dense Hessian
    # would be 32 MB and O(K^3) per step).
    rng = np.random.default_rng(0)
    n, k = 1500, 1000
    scale = rng.uniform(0.5, 2.0, k)
    z = rng.normal(0, 1.0, (n, k)).astype(np.float32)
    y = (z * scale + rng.gumbel(size=(n, k))).argmax(axis=1)
    cal = VectorScaling().fit(z, y, classes=np.arange(k))
    assert cal.coef_.shape == (k,)
    model = _softmax_models.VectorScalingModel(z, y)
    loss, grad, _ = model.loss_grad(np.concatenate([cal.coef_, cal.intercept_]))
    assert np.max(np.abs(grad)) < 1e-10
    temperature = TemperatureScaling().fit(z, y, classes=np.arange(k))
    assert loss < log_loss(y, temperature.predict_proba(z), labels=np.arange(k))


def test_separable_scores_warn_and_fall_back_to_smoothed_targets():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], 30)
    z = rng.normal(size=(90, 3))
    z[np.arange(90), y] += 5.0  # every row's truth has by far the largest logit
    with pytest.warns(NoFiniteOptimumWarning, match="no finite minimiser"):
        cal = VectorScaling().fit(z, y)
    assert np.all(np.isfinite(cal.coef_))
    proba = cal.predict_proba(z)
    assert np.all((proba > 0) & (proba < 1))
    # The smoothed-target optimum: its gradient vanishes.
    eps = 1.0 / (np.bincount(y) + 2.0)
    model = _softmax_models.VectorScalingModel(z, y, eps=eps)
    _, grad, _ = model.evaluate(np.concatenate([cal.coef_, cal.intercept_]))
    assert np.max(np.abs(grad)) < 1e-12


def test_separable_scores_warn_for_matrix_scaling_too():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], 30)
    z = rng.normal(size=(90, 3))
    z[np.arange(90), y] += 5.0
    with pytest.warns(NoFiniteOptimumWarning, match="MatrixScaling has no finite"):
        cal = MatrixScaling(reg_off_diagonal=0.0, reg_bias=0.0).fit(z, y)
    assert np.all(np.isfinite(cal.coef_))


# --- inputs -------------------------------------------------------------------------


def test_dirichlet_of_logits_is_dirichlet_of_their_softmax():
    z, y = softmax_problem(k=4)
    options = {"reg_off_diagonal": 0.0, "reg_bias": 0.0}
    from_logits = DirichletCalibration(**options).fit(z, y)
    from_probs = DirichletCalibration(input="probabilities", **options).fit(
        softmax(z, axis=1), y
    )
    np.testing.assert_allclose(from_logits.coef_, from_probs.coef_, rtol=1e-8)
    # and a constant added to a row of logits changes nothing
    shifted = z + np.random.default_rng(0).normal(0, 50, (len(y), 1))
    np.testing.assert_allclose(
        from_logits.predict_proba(shifted), from_logits.predict_proba(z), atol=1e-12
    )


def _probabilities_with_zeros(n, k, seed):
    """Noisy softmax probabilities with exact zeros, some of them on the truth."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0.0, 2.0, (n, k))
    y = (z + rng.gumbel(size=(n, k))).argmax(axis=1)
    p = softmax(z, axis=1)
    # Zero the smallest entry of a third of the rows (and renormalise).
    rows = rng.permutation(n)[: n // 3]
    p[rows, p[rows].argmin(axis=1)] = 0.0
    return p / p.sum(axis=1, keepdims=True), y


@pytest.mark.parametrize("cls", [VectorScaling, DirichletCalibration])
def test_exact_zeros_get_a_probability_of_their_own(cls):
    p, y = _probabilities_with_zeros(300, 3, seed=0)
    zero = p == 0
    hit = zero[np.arange(len(y)), y]
    assert 5 <= hit.sum() < zero.any(axis=1).sum()
    options = {} if cls is VectorScaling else {"reg_off_diagonal": 0.0, "reg_bias": 0.0}
    with pytest.warns(CalibrationWarning, match="exactly 0 or 1.*zero_mass_"):
        cal = cls(input="probabilities", **options).fit(p, y)
    # Laplace's rule on "the truth is one of the row's zeros", counted here.
    assert cal.zero_mass_ == (hit.sum() + 1) / (zero.any(axis=1).sum() + 2)
    with np.errstate(divide="ignore"):
        logs = np.log(p)
    lowest = logs[np.isfinite(logs)].min()
    assert cal.log_zero_ == lowest
    # The map: an exact optimum of the log-loss of the softmax over each row's
    # positive classes (the zeros' own loss does not depend on it).
    x = np.maximum(logs, lowest)
    vector = cls is VectorScaling
    ref = Reference(x, y, np.ones(len(y)), vector=vector, mask=zero)
    ours = ref.pack(cal.coef_, cal.intercept_)
    best = ref.solve(ref.pack(np.ones(3) if vector else np.eye(3), np.zeros(3)))
    np.testing.assert_allclose(ours, best, rtol=0, atol=1e-8 * np.max(np.abs(best)))
    assert ref.loss(ours) <= ref.loss(best) + 4 * np.finfo(float).eps * ref.loss(best)
    # Predictions: zero_mass_ shared by a row's zeros, the rest by the map.
    proba = cal.predict_proba(p)
    mass = cal.zero_mass_
    n_zero = zero.sum(axis=1)
    expected = softmax(ref.logits(ours), axis=1)
    some = n_zero > 0
    expected[some] *= 1 - mass
    expected = np.where(zero, mass / np.maximum(n_zero, 1)[:, None], expected)
    # ref.logits unmasks the rows whose truth is a zero: recompute those.
    logits = (x * cal.coef_ if vector else x @ cal.coef_.T) + cal.intercept_
    restricted = softmax(np.where(zero, -np.inf, logits), axis=1) * (1 - mass)
    expected[hit] = np.where(zero[hit], mass / n_zero[hit, None], restricted[hit])
    np.testing.assert_allclose(proba, expected, rtol=1e-9, atol=1e-15)
    # A row with every class but one at 0 (rows of zeros only are refused).
    edge = cal.predict_proba(np.array([[0.0, 1.0, 0.0]]))
    np.testing.assert_allclose(edge[0], [mass / 2, 1 - mass, mass / 2], rtol=1e-12)


def test_exact_zeros_of_naive_bayes_give_a_finite_held_out_log_loss():
    # GaussianNB on the ten digits: a third of the probabilities are exactly
    # 0, and held-out rows whose true class is one of them (the infinite
    # log-loss of the scaling calibrators before zero_mass_).
    X, y = load_digits(return_X_y=True)
    p = cross_val_predict(GaussianNB(), X, y, cv=3, method="predict_proba")
    cal_p, cal_y, test_p, test_y = p[:300], y[:300], p[300:900], y[300:900]
    rows = np.arange(len(test_y))
    assert np.sum(test_p[rows, test_y] == 0) >= 5
    # Rows that are certain of their class: one-hot, the map is separable.
    with (
        pytest.warns(CalibrationWarning, match="zero_mass_"),
        pytest.warns(NoFiniteOptimumWarning),
    ):
        cal = VectorScaling(input="probabilities").fit(cal_p, cal_y)
    proba = cal.predict_proba(test_p)
    assert np.all(proba > 0)
    truth = proba[rows, test_y]
    # Where the truth was an exact zero: zero_mass_ over the row's zeros.
    where = test_p[rows, test_y] == 0
    n_zero = np.sum(test_p[where] == 0, axis=1)
    np.testing.assert_allclose(truth[where], cal.zero_mass_ / n_zero, rtol=1e-12)
    assert np.isfinite(log_loss(test_y, proba))


def test_float32_logits_are_not_copied(monkeypatch):
    monkeypatch.setattr(_chunks, "CHUNK_BYTES", 1 << 16)
    rng = np.random.default_rng(0)
    # 4 MB of logits. Besides chunk-sized temporaries and the labels' codes
    # (8 bytes a row), the dense Newton path holds a few copies of its p x p
    # Hessian (p = 100 here, about 0.5 MB in all), independent of n: measured
    # 18 % of this input, and below 10 % from 20 MB (80,000 x 64) on.
    n, k = 20_000, 50
    z = rng.normal(size=(n, k)).astype(np.float32)
    y = (z + rng.gumbel(size=(n, k))).argmax(axis=1)
    cal = VectorScaling()
    tracemalloc.start()
    cal.fit(z, y)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # A float64 copy alone would be twice the input.
    assert peak < 0.25 * z.nbytes, peak / z.nbytes
    assert cal.predict_proba(z[:5]).dtype == np.float32


def test_dask_blocks_give_the_numpy_fit():
    da = pytest.importorskip("dask.array")
    import dask

    z, y = softmax_problem()
    blocked = da.from_array(z, chunks=(90, -1))
    for cls in (VectorScaling, DirichletCalibration):
        with dask.config.set(scheduler="synchronous"):
            fitted = cls().fit(blocked, y)
            proba = fitted.predict_proba(blocked).compute()
        ref = cls().fit(z, y)
        np.testing.assert_allclose(fitted.coef_, ref.coef_, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(proba, ref.predict_proba(z), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("cls", [VectorScaling, MatrixScaling, DirichletCalibration])
def test_dask_blocks_give_the_numpy_fit_with_exact_zeros(cls):
    # The zero scan (log_zero_, zero_mass_) and the masked passes, per block.
    da = pytest.importorskip("dask.array")
    import dask

    p, y = _probabilities_with_zeros(240, 3, seed=2)
    options = (
        {} if cls is VectorScaling else {"reg_off_diagonal": 1e-2, "reg_bias": 0.0}
    )
    options = {**options, "input": "probabilities"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CalibrationWarning)
        with dask.config.set(scheduler="synchronous"):
            fitted = cls(**options).fit(da.from_array(p, chunks=(70, -1)), y)
        ref = cls(**options).fit(p, y)
    assert fitted.zero_mass_ == ref.zero_mass_
    assert fitted.log_zero_ == ref.log_zero_
    np.testing.assert_allclose(fitted.coef_, ref.coef_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(
        fitted.predict_proba(p), ref.predict_proba(p), rtol=1e-9, atol=1e-12
    )


# --- cross-validated regularisation ---------------------------------------------


def test_cv_picks_the_lowest_held_out_loss_of_fits_on_the_training_rows():
    z, y = softmax_problem(n=150, k=3, seed=4)
    cal = MatrixScaling().fit(z, y)
    # Independent: the folds as documented (rows of each class sorted by the
    # true class's logit, then the row sum, dealt in turn), each fitted on the
    # other rows only (a real subset) and scored by scikit-learn's log_loss.
    fold = np.empty(len(y), dtype=int)
    for c in range(3):
        rows = np.flatnonzero(y == c)
        order = rows[np.lexsort((z[rows].sum(1), z[rows, c]))]
        fold[order] = np.arange(len(rows)) % 5
    losses = {}
    for g in _scaling.REG_GRID:
        total = 0.0
        for i in range(5):
            train, test = fold != i, fold == i
            fit = MatrixScaling(reg_off_diagonal=g, reg_bias=g).fit(z[train], y[train])
            proba = fit.predict_proba(z[test])
            total += log_loss(y[test], proba, labels=[0, 1, 2]) * test.sum()
        losses[g] = total / len(y)
    best = min(losses, key=losses.get)
    assert cal.reg_off_diagonal_ == cal.reg_bias_ == best
    assert len(set(losses.values())) > 1  # the grid matters here
    refit = MatrixScaling(reg_off_diagonal=best, reg_bias=best).fit(z, y)
    np.testing.assert_array_equal(cal.coef_, refit.coef_)


def test_cv_on_one_parameter_keeps_the_other():
    z, y = softmax_problem(n=150, k=3, seed=4)
    cal = DirichletCalibration(reg_bias=0.0).fit(z, y)
    assert cal.reg_bias_ == 0.0
    assert cal.reg_off_diagonal_ in _scaling.REG_GRID


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"reg_off_diagonal": -1.0}, "reg_off_diagonal"),
        ({"reg_bias": "auto"}, "reg_bias"),
        ({"max_iter": 0}, "max_iter"),
    ],
)
def test_bad_parameters(params, match):
    z, y = softmax_problem()
    with pytest.raises(ValueError, match=match):
        MatrixScaling(**params).fit(z, y)


# --- integration: wrapper, auto, files, command line -------------------------------


@pytest.mark.parametrize("method", ["vector", "matrix", "dirichlet"])
def test_calibrated_classifier_method(method):
    X, y = load_iris(return_X_y=True)
    # GaussianNB gives setosa probability exactly 1 on its rows: the
    # unsmoothed fits have no finite optimum (found by the exact LP check).
    with pytest.warns(NoFiniteOptimumWarning):
        clf = ck.CalibratedClassifier(GaussianNB(), method=method, cv=3).fit(X, y)
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)


@pytest.mark.parametrize("cls", [VectorScaling, MatrixScaling, DirichletCalibration])
def test_json_round_trip_is_exact_and_hand_edits_are_refused(cls, tmp_path):
    z, y = softmax_problem()
    cal = cls().fit(z, y)
    path = tmp_path / "cal.json"
    ck.save(cal, path)
    loaded = ck.load(path)
    np.testing.assert_array_equal(loaded.coef_, cal.coef_)
    np.testing.assert_array_equal(loaded.predict_proba(z), cal.predict_proba(z))
    doc = ck.to_dict(cal)
    doc["state"]["coef_"]["values"] = doc["state"]["coef_"]["values"][:-1]
    with pytest.raises(ValueError, match=r"coef_\.values' must have"):
        ck.from_dict(doc)


@pytest.mark.parametrize("method", ["vector", "matrix", "dirichlet"])
def test_command_line_round_trip(method, tmp_path, capsys):
    from test_cli import overconfident_logits, prediction_table, run, write_input

    labels = [3, 5, 9]
    X_cal, y_cal = overconfident_logits(labels, n=300, seed=1)
    X_test, y_test = overconfident_logits(labels, n=100, seed=2)
    cal_path, test_path = tmp_path / "cal.csv", tmp_path / "test.csv"
    write_input(prediction_table(X_cal, y_cal), cal_path)
    write_input(prediction_table(X_test, y_test), test_path)
    model = tmp_path / "calibrator.json"
    selection = ["--label", "y", "--prefix", "logit_"]
    code, _, err = run(
        capsys, "fit", cal_path, *selection, "--method", method, "-o", model
    )
    assert code == 0
    cls = ck.calibrators._registry.CALIBRATORS[method]
    assert f"fitted {cls.__name__} on 300 rows" in err
    expected = cls().fit(X_cal, y_cal)
    np.testing.assert_array_equal(
        ck.load(model).predict_proba(X_test), expected.predict_proba(X_test)
    )


def test_part_separated_classes_have_no_finite_optimum():
    """Class 2 is separated from the others, classes 0 and 1 overlap.

    The unsmoothed vector-scaling loss then falls without bound along a ray
    (the margin of class 2 grows): an exact check must say so, and the fit
    must use smoothed targets instead of stopping at an arbitrary large map.
    Reference: the loss along the ray from a fitted map keeps decreasing.
    """
    from calibkit._softmax_models import separating_direction

    rng = np.random.default_rng(0)
    n = 300
    y = rng.integers(0, 3, size=n)
    z = rng.normal(size=(n, 3))
    z[:, 2] = np.where(y == 2, 3.0, -3.0) + rng.uniform(0, 1, size=n)
    z[:, 0] += 0.5 * (y == 0)
    assert separating_direction(z, y, None, kind="vector")
    assert separating_direction(z, y, None, kind="matrix")
    # Overlapping classes everywhere: a finite optimum, no ray.
    z_mixed = rng.normal(size=(n, 3)) + 0.5 * np.eye(3)[y]
    assert not separating_direction(z_mixed, y, None, kind="vector")
    assert not separating_direction(z_mixed, y, None, kind="matrix")
    with pytest.warns(NoFiniteOptimumWarning):
        model = ck.VectorScaling().fit(z, y)
    assert np.all(np.isfinite(model.coef_))
    assert np.max(np.abs(model.coef_)) < 1e3


@pytest.mark.parametrize("k", [4, 17])  # the dense driver, then Newton-CG
def test_scaling_solvers_run_on_one_blas_thread(k, monkeypatch):
    # OpenBLAS's threads made these small products 3-30 times slower on a
    # shared machine: every pass of the solve runs on one BLAS thread.
    import threadpoolctl

    from calibkit import _softmax_models

    def blas_threads():
        info = threadpoolctl.threadpool_info()
        return max(i["num_threads"] for i in info if i["user_api"] == "blas")

    seen = []
    for name in ("kernel", "hessp_kernel"):
        original = getattr(_softmax_models.MatrixScalingModel, name)

        def spy(self, *args, _original=original, **kwargs):
            if len(seen) < 20:  # threadpool_info takes a millisecond
                seen.append(blas_threads())
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(_softmax_models.MatrixScalingModel, name, spy)
    rng = np.random.default_rng(0)
    z = rng.normal(0.0, 2.0, (200, k))
    y = np.argmax(z + rng.gumbel(size=z.shape), axis=1)
    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        assert blas_threads() == 2
        # A penalty: 200 rows do not pin down 17 x 18 parameters.
        MatrixScaling(reg_off_diagonal=1.0, reg_bias=1.0).fit(z, y)
        assert blas_threads() == 2  # restored
    assert set(seen) == {1}


@pytest.mark.parametrize("scale", [5e-324, 1e200])
def test_scaling_fits_do_not_depend_on_the_scale_of_the_weights(scale):
    # Subnormal weights kept a bit or two in the weighted sums: vector scaling
    # moved by 0.5 from its unweighted fit at 5e-324. The "cv" search too.
    rng = np.random.default_rng(0)
    z = rng.normal(size=(400, 3))
    y = np.argmax(1.5 * z + rng.gumbel(size=z.shape), axis=1)
    w = np.full(400, scale)
    for cal in (
        VectorScaling(),
        MatrixScaling(reg_off_diagonal=0.0, reg_bias=0.0),
        DirichletCalibration(),
    ):
        ref = clone(cal).fit(z, y)
        got = clone(cal).fit(z, y, sample_weight=w)
        np.testing.assert_allclose(got.coef_, ref.coef_, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(got.intercept_, ref.intercept_, atol=1e-9)

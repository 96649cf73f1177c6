"""The damped-Newton driver and the log-loss models it solves.

Derivatives are checked against finite differences and optima against
scipy.optimize.minimize, independently of the driver.
"""

import numpy as np
import pytest
import scipy.optimize
from scipy.special import expit, log_softmax

from calibkit import _chunks
from calibkit._newton import minimize, newton_step
from calibkit._softmax_models import (
    LinearLogitModel,
    MatrixScalingModel,
    VectorScalingModel,
)
from calibkit._solvers import fit_inverse_temperature


def linear_logit_problem(n=400, seed=0, dtype=np.float64):
    """Beta-calibration features (log p, -log(1 - p), 1) of noisy forecasts."""
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.02, 0.98, n)
    y = rng.random(n) < expit(1.7 * np.log(p / (1 - p)) - 0.4)
    x = np.column_stack([np.log(p), -np.log1p(-p), np.ones(n)]).astype(dtype)
    w = rng.uniform(0.5, 2.0, n)
    return x, y, w


def softmax_problem(n=300, k=4, seed=1, dtype=np.float64):
    rng = np.random.default_rng(seed)
    z = rng.normal(0.0, 2.0, (n, k))
    truth = np.exp(log_softmax(0.6 * z + rng.normal(0, 0.5, k), axis=1))
    y = (rng.random((n, 1)) > truth.cumsum(axis=1)).sum(axis=1)
    y = np.minimum(y, k - 1)
    w = rng.uniform(0.5, 2.0, n)
    return z.astype(dtype), y, w


def make_model(name, dtype=np.float64):
    if name == "linear_logit":
        x, y, w = linear_logit_problem(dtype=dtype)
        return LinearLogitModel(x, y, w), 3
    z, y, w = softmax_problem(dtype=dtype)
    if name == "vector":
        return VectorScalingModel(z, y, w), 8
    return MatrixScalingModel(z, y, w), 20


def reference_loss(name, theta):
    """The mean log-loss written out directly (no chunks, no model code)."""
    if name == "linear_logit":
        x, y, w = linear_logit_problem()
        z = x @ theta
        t = y.astype(float)
        return np.sum(w * (np.logaddexp(0.0, z) - t * z)) / w.sum()
    z, y, w = softmax_problem()
    k = z.shape[1]
    if name == "vector":
        a = theta[:k] * z + theta[k:]
    else:
        a = z @ theta[: k * k].reshape(k, k).T + theta[k * k :]
    return -np.sum(w * log_softmax(a, axis=1)[np.arange(len(y)), y]) / w.sum()


MODELS = ["linear_logit", "vector", "matrix"]


@pytest.mark.parametrize("name", MODELS)
def test_loss_gradient_and_hessian_match_finite_differences(name):
    model, n_params = make_model(name)
    theta = np.random.default_rng(5).normal(0.0, 0.5, n_params)
    loss, grad, hess = model.evaluate(theta)
    assert loss == pytest.approx(reference_loss(name, theta), rel=1e-13)
    h = 1e-6
    num_grad = np.empty(n_params)
    num_hess = np.empty((n_params, n_params))
    for i in range(n_params):
        e = np.zeros(n_params)
        e[i] = h
        up, down = model.evaluate(theta + e), model.evaluate(theta - e)
        num_grad[i] = (up[0] - down[0]) / (2 * h)
        num_hess[:, i] = (up[1] - down[1]) / (2 * h)
    np.testing.assert_allclose(grad, num_grad, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(hess, num_hess, rtol=1e-6, atol=1e-8)
    np.testing.assert_array_equal(hess, hess.T)


@pytest.mark.parametrize("name", MODELS)
def test_minimize_reaches_the_scipy_optimum(name):
    model, n_params = make_model(name)
    result = minimize(model, np.zeros(n_params), max_iter=100)
    assert result.converged
    assert result.status == "optimum"
    assert result.n_iter < 20

    def fun(theta):
        return reference_loss(name, theta)

    def jac(theta):
        return model.evaluate(theta)[1]

    ref = scipy.optimize.minimize(
        fun, np.zeros(n_params), jac=jac, method="BFGS", options={"gtol": 1e-12}
    )
    # The driver is at least as low as scipy, and no more than noise apart.
    assert fun(result.theta) <= ref.fun + 1e-14
    assert fun(result.theta) == pytest.approx(ref.fun, rel=1e-12)
    assert np.max(np.abs(model.evaluate(result.theta)[1])) < 1e-12
    if name == "linear_logit":  # identified: the parameters agree too
        np.testing.assert_allclose(result.theta, ref.x, rtol=1e-6)


@pytest.mark.parametrize("name", ["vector", "matrix"])
def test_flat_directions_of_softmax_models_are_stepped_around(name):
    # The least-norm step never moves along the flat directions (a common shift
    # of the logits), so the fit ends where it started along them.
    model, n_params = make_model(name)
    result = minimize(model, np.zeros(n_params), max_iter=100)
    z, _, _ = softmax_problem()
    k = z.shape[1]
    bias = result.theta[k:] if name == "vector" else result.theta[k * k :]
    assert abs(bias.sum()) < 1e-10


def test_max_iter_reached_is_reported_as_not_converged():
    model, n_params = make_model("matrix")
    result = minimize(model, np.zeros(n_params), max_iter=2)
    assert not result.converged
    assert result.n_iter == 2
    assert result.status == "optimum"


def test_separable_data_have_no_finite_optimum():
    s = np.linspace(-3.0, 3.0, 200)
    x = np.column_stack([s, np.ones_like(s)])
    y = s > 0.1
    result = minimize(LinearLogitModel(x, y), np.zeros(2), max_iter=100)
    assert result.status == "no_finite_optimum"
    assert result.n_iter < 100
    # Running off in the separating direction: positive slope, threshold 0..0.1.
    slope, intercept = result.theta
    assert slope > 10
    assert -0.1 * slope < intercept < 0.0


def test_overlapping_classes_are_not_mistaken_for_separation():
    # Nearly separable (one row on the wrong side): a large but finite slope.
    s = np.linspace(-3.0, 3.0, 200)
    x = np.column_stack([s, np.ones_like(s)])
    y = s > 0.1
    y[0] = True
    result = minimize(LinearLogitModel(x, y), np.zeros(2), max_iter=200)
    assert result.status == "optimum"
    assert result.converged
    assert np.max(np.abs(result.grad)) < 1e-9
    assert np.max(np.abs(LinearLogitModel(x, y).evaluate(result.theta)[1])) < 1e-14


def test_lower_bound_is_reported():
    # Scores pointing the wrong way: the best slope under slope >= 0 is 0, and
    # the intercept is then the log-odds of the weighted base rate.
    x, y, w = linear_logit_problem()
    features = np.column_stack([-(x[:, 0] + x[:, 1]), x[:, 2]])
    model = LinearLogitModel(features, y, w)
    result = minimize(model, np.array([1.0, 0.0]), max_iter=100, lower=(0.0, -np.inf))
    assert result.status == "bound"
    assert result.converged
    assert result.theta[0] == 0.0
    rate = w[y].sum() / w.sum()
    assert result.theta[1] == pytest.approx(np.log(rate / (1 - rate)), rel=1e-12)


def test_newton_step_is_least_norm_on_a_singular_hessian():
    hess = np.array([[1.0, 1.0], [1.0, 1.0]])
    step = newton_step(hess, np.array([1.0, 1.0]))
    np.testing.assert_allclose(step, [-0.5, -0.5], rtol=1e-14)


@pytest.mark.parametrize("name", MODELS)
def test_float32_chunks_with_float64_sums_give_the_float64_answer(name, monkeypatch):
    # float32 data are converted chunk by chunk, exactly; the sums are float64,
    # so the fit equals that of the same values given as float64.
    model32, n_params = make_model(name, dtype=np.float32)
    data = model32.arrays[0]
    assert data.dtype == np.float32
    model64 = type(model32)(data.astype(np.float64), *model32.arrays[1:])
    fit32 = minimize(model32, np.zeros(n_params), max_iter=100)
    fit64 = minimize(model64, np.zeros(n_params), max_iter=100)
    np.testing.assert_array_equal(fit32.theta, fit64.theta)
    # Many small chunks: the same answer up to the order of summation.
    monkeypatch.setattr(_chunks, "CHUNK_BYTES", 2048)
    chunked = minimize(model32, np.zeros(n_params), max_iter=100)
    np.testing.assert_allclose(chunked.theta, fit64.theta, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", MODELS)
def test_dask_blocks_give_the_numpy_answer(name):
    da = pytest.importorskip("dask.array")
    import dask

    model, n_params = make_model(name)
    data, y, w = model.arrays
    blocked = type(model)(da.from_array(data, chunks=(70, -1)), y, w)
    with dask.config.set(scheduler="synchronous"):
        loss, grad, hess = blocked.evaluate(np.full(n_params, 0.3))
        fit = minimize(blocked, np.zeros(n_params), max_iter=100)
    ref_loss, ref_grad, ref_hess = model.evaluate(np.full(n_params, 0.3))
    assert loss == pytest.approx(ref_loss, rel=1e-14)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(hess, ref_hess, rtol=1e-12, atol=1e-15)
    ref = minimize(model, np.zeros(n_params), max_iter=100)
    np.testing.assert_allclose(fit.theta, ref.theta, rtol=1e-9, atol=1e-12)


def test_scalar_mode_statuses():
    z = np.array([[2.0, 0.0, -1.0], [0.0, 3.0, 1.0], [1.0, -2.0, 4.0]])
    # Every row right: the loss falls as beta -> inf.
    right = fit_inverse_temperature(z, np.array([0, 1, 2]))
    assert right.status == "no_finite_optimum"
    assert right.theta[0] == np.inf
    # Every row's truth at its row minimum: L'(0) > 0, beta = 0 is best.
    wrong = fit_inverse_temperature(z, np.array([2, 0, 1]))
    assert wrong.status == "bound"
    assert wrong.theta[0] == 0.0
    # Mixed: a finite optimum where the slope vanishes.
    mixed = fit_inverse_temperature(z, np.array([0, 1, 0]))
    assert mixed.status == "optimum"
    assert mixed.converged
    beta = mixed.theta[0]
    a = log_softmax(beta * z, axis=1)
    q = np.exp(a)
    slope = np.mean((q * z).sum(1) - z[np.arange(3), [0, 1, 0]])
    assert abs(slope) < 1e-12


def test_every_coordinate_held_on_its_bound():
    x, y, w = linear_logit_problem()
    features = np.column_stack([-(x[:, 0] + x[:, 1]), np.ones(len(y))])
    # Fewer positive rows (weighted) than negative: the intercept, too, is
    # pushed below its bound 0.
    model = LinearLogitModel(features, y, w)
    result = minimize(model, np.zeros(2), max_iter=100, lower=(0.0, 0.0))
    assert result.converged
    assert result.status == "bound"
    assert result.n_iter == 1
    np.testing.assert_array_equal(result.theta, [0.0, 0.0])

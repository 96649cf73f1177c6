"""One damped-Newton driver for the small log-loss models of the calibrators.

Every calibrator fitted by log-loss here has a handful of parameters (Platt 2,
temperature 1, beta calibration 3, vector scaling 2K, matrix scaling K^2 + K)
and a convex loss. The driver only needs, at a point ``theta``, the mean loss,
its gradient and its Hessian; a *model* computes all three in one pass over
the rows. A pass is a :func:`~calibkit._chunks.reduce_rows` reduction over row
chunks -- float64 accumulators over chunks converted one at a time -- so a
float32 or memory-mapped input is never copied whole, and a dask array is
reduced block by block where it lives.

Model protocol
--------------
``model.evaluate(theta) -> (loss, grad, hess)``
    Mean loss (float), gradient (shape ``(p,)``) and Hessian (``(p, p)``) at
    ``theta``, from one pass over the data. :class:`ChunkedModel` implements it
    from a per-chunk ``kernel`` of weighted sums.

The scalar mode, :func:`minimize_scalar`, takes a model whose ``evaluate``
returns ``(loss, slope, curvature)`` floats for a parameter constrained to
``[0, inf)`` (the inverse temperature), and solves by safeguarded Newton
inside a bracket.
"""

import functools
from dataclasses import dataclass

import numpy as np

from calibkit._chunks import reduce_rows

#: Relative size of a Newton step below which the iterate is accepted. Newton
#: converges quadratically, so the error after that step is about the square of
#: this number.
STEP_RTOL = 1e-9

#: Newton decrement (predicted decrease of the loss) below which the loss is at
#: its rounding noise, relative to ``max(|loss|, 1)``: the line search can no
#: longer see progress there, but the quadratic model is exact enough that the
#: full step lands on the optimum.
DECREMENT_RTOL = 64 * np.finfo(np.float64).eps

#: Relative eigenvalue below which a Hessian direction counts as flat: the step
#: is then the least-norm Newton step on the other directions (the data say
#: nothing about a flat direction, e.g. the common shift of softmax logits).
EIGEN_RCOND = 1e-12

#: Curvature along the direction travelled, relative to its value at the start,
#: below which the loss is taken to keep decreasing towards infinity (separable
#: data: the loss decays exponentially along a ray and so does its curvature).
#: At a finite optimum the curvature stays of the order of the start's unless
#: fewer than about one row in 1e10 is not separated.
FLAT_RTOL = 1e-10

_STATUSES = ("optimum", "bound", "no_finite_optimum")


@dataclass(frozen=True)
class NewtonResult:
    """Outcome of :func:`minimize` or :func:`minimize_scalar`.

    Attributes
    ----------
    theta : ndarray of shape (n_params,)
        Final parameters.
    loss : float
        Mean loss at the last evaluated point.
    grad : ndarray of shape (n_params,)
        Gradient at the last evaluated point.
    n_iter : int
        Passes over the data (evaluations of the model).
    converged : bool
        Whether the stopping test (or, for ``"no_finite_optimum"``, the test
        for a loss decreasing towards infinity) was met within ``max_iter``
        passes.
    status : {"optimum", "bound", "no_finite_optimum"}
        ``"optimum"``: a finite minimiser (or the last iterate, when not
        converged); ``"bound"``: the minimiser lies on a lower bound;
        ``"no_finite_optimum"``: the loss keeps decreasing towards infinity
        along ``theta`` (``theta`` holds ``inf`` in the scalar mode).
    """

    theta: np.ndarray
    loss: float
    grad: np.ndarray
    n_iter: int
    converged: bool
    status: str

    def __post_init__(self):
        if self.status not in _STATUSES:  # pragma: no cover - programming error
            raise ValueError(f"status must be one of {_STATUSES}, got {self.status!r}")


class ChunkedModel:
    """Base of models whose loss, gradient and Hessian are weighted row sums.

    Subclasses set ``n_params``, ``arrays`` (the arrays passed to
    :func:`~calibkit._chunks.reduce_rows`; the first one decides the chunks and
    may be a dask array), ``n_cols`` (row width used to size the chunks) and
    ``total_weight``, and define ``kernel(rows, *chunks, theta)`` returning the
    chunk's float64 sums. By default these are laid out as
    ``[loss, grad (p), hess (p * p, row-major)]``; a model with a more compact
    layout overrides :meth:`unpack`.
    """

    n_params = None
    arrays = ()
    n_cols = 1
    total_weight = 1.0

    def kernel(self, rows, *chunks, theta):  # pragma: no cover - abstract
        raise NotImplementedError

    def unpack(self, means, theta):
        """``(loss, grad, hess)`` from the kernel's sums divided by the weight."""
        p = self.n_params
        hess = means[p + 1 :].reshape(p, p)
        # Products like (x * c).T @ x are symmetric only up to rounding.
        hess = 0.5 * (hess + hess.T)
        return float(means[0]), means[1 : p + 1], hess

    def evaluate(self, theta):
        """Mean loss, gradient and Hessian at ``theta``: one pass."""
        theta = np.asarray(theta, np.float64)
        kernel = functools.partial(self.kernel, theta=theta)
        sums = reduce_rows(kernel, *self.arrays, n_cols=self.n_cols)
        return self.unpack(sums / self.total_weight, theta)


@functools.cache
def _blas_controller():
    # Made once: a ThreadpoolController scans the loaded libraries (half a
    # millisecond); NumPy's BLAS, the one limited here, is loaded by then.
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def single_threaded_blas():
    """Context in which NumPy's BLAS and LAPACK run on one thread.

    For the small dense products of the Newton drivers: a ``p x p`` solve or
    eigendecomposition (``p`` up to
    :data:`~calibkit._softmax_models.DENSE_MAX_PARAMS`), and the products of
    row chunks of about a megabyte that each pass sums. Threads do not pay
    for themselves there, and on a loaded machine OpenBLAS's spinning
    threads cost far more than the work: a 110 x 110 ``eigh`` ran about 200
    times slower on two threads than on one, and matrix scaling of 1e5 x 10
    took 13 times longer.
    """
    return _blas_controller().limit(limits=1, user_api="blas")


def newton_step(hess, grad):
    """Newton step ``-H^-1 g``, least-norm on the flat directions of ``H``.

    A well-conditioned Hessian is solved directly; otherwise the step uses only
    the eigen-directions whose eigenvalue exceeds :data:`EIGEN_RCOND` times the
    largest. A step that is not a descent direction (a non-finite Hessian) is
    replaced by steepest descent.
    """
    step = None
    if np.all(np.isfinite(hess)):
        with single_threaded_blas():
            eigvals, eigvecs = np.linalg.eigh(hess)
            top = np.max(np.abs(eigvals))
            if top > 0 and eigvals.min() > EIGEN_RCOND * top:
                step = -np.linalg.solve(hess, grad)
            elif top > 0:
                keep = np.abs(eigvals) > EIGEN_RCOND * top
                coords = (eigvecs[:, keep].T @ grad) / eigvals[keep]
                step = -(eigvecs[:, keep] @ coords)
    if step is None or not grad @ step < 0:
        step = -grad
    return step


def minimize(model, theta0, *, max_iter, lower=None):
    """Minimise a convex model's mean loss by damped Newton.

    Each iteration solves the Newton system, then backtracks (Armijo) from the
    full step; each evaluation is one pass over the data and counts towards
    ``max_iter``.

    Stopping (one test for every model): the Newton step is below
    :data:`STEP_RTOL` relative to ``1 + max|theta|``, or the Newton decrement
    ``-g.step`` is below :data:`DECREMENT_RTOL` times ``max(|loss|, 1)``; the
    full step is then taken. A line search that moves less than the step
    tolerance also stops.

    No finite optimum (one policy): when the curvature along the direction
    travelled since ``theta0`` has fallen below :data:`FLAT_RTOL` of its value
    at ``theta0`` and the Newton step still points further out, the loss keeps
    decreasing towards infinity (separable data); the result has status
    ``"no_finite_optimum"``.

    Parameters
    ----------
    model : object
        With ``evaluate(theta) -> (loss, grad, hess)``.
    theta0 : array-like of shape (n_params,)
        Starting point.
    max_iter : int
        Maximum number of passes over the data.
    lower : array-like of shape (n_params,) or None
        Lower bounds (``-inf`` for none); iterates are projected onto them, and
        coordinates on their bound with the gradient pushing outwards are held.

    Returns
    -------
    NewtonResult
    """
    theta = np.array(theta0, dtype=np.float64)
    lower = None if lower is None else np.asarray(lower, dtype=np.float64)

    def project(point):
        return point if lower is None else np.maximum(point, lower)

    loss, grad, hess = model.evaluate(theta)
    start, start_hess = theta.copy(), hess
    n_iter, converged, status = 1, False, "optimum"
    while n_iter < max_iter:
        free = np.ones(theta.shape, bool)
        if lower is not None:
            free = ~((theta <= lower) & (grad >= 0.0))
            if not free.any():  # a corner of the bounds, pushed outwards
                converged = True
                break
        step = np.zeros_like(theta)
        step[free] = newton_step(hess[np.ix_(free, free)], grad[free])
        travelled = theta - start
        if _escaping(travelled, step, hess, start_hess):
            status = "no_finite_optimum"
            converged = True
            break
        slope = grad @ step
        scale = 1.0 + np.max(np.abs(theta))
        if newton_converged(theta, step, slope, loss):
            theta = project(theta + step)
            converged = True
            break
        t = 1.0
        while True:
            trial = project(theta + t * step)
            new = model.evaluate(trial)
            n_iter += 1
            decrease = grad @ (trial - theta)
            slack = 4 * np.finfo(np.float64).eps * abs(loss)
            if new[0] <= loss + 1e-4 * decrease + slack or n_iter >= max_iter:
                break
            t *= 0.5
        moved = np.max(np.abs(trial - theta))
        theta = trial
        loss, grad, hess = new
        if moved <= STEP_RTOL * scale:
            converged = True
            break
    if status == "optimum" and lower is not None and np.any(theta <= lower):
        status = "bound"
    return NewtonResult(theta, float(loss), grad, n_iter, converged, status)


def escape_direction(travelled, step):
    """Unit direction travelled since the start, if ``step`` continues along it.

    None when nothing was travelled or the step turns back. The distance
    travelled may be near the float64 limit (a logit pushed towards -1e308),
    and so may the steps: the direction is normalised by its largest entry,
    and a non-finite product decides nothing.
    """
    if not np.any(travelled):
        return None
    u = travelled / np.max(np.abs(travelled))
    with np.errstate(over="ignore", invalid="ignore"):
        return u if u @ step > 0 else None


def curvature_vanished(at_start, now):
    """Whether the curvature ``now`` along a direction is below
    :data:`FLAT_RTOL` of its finite positive value ``at_start``."""
    return bool(0 < at_start < np.inf and 0 <= now <= FLAT_RTOL * at_start)


def newton_converged(theta, step, slope, loss):
    """The stopping test of both drivers: a Newton step below
    :data:`STEP_RTOL` relative to ``1 + max|theta|``, or a Newton decrement
    ``-slope`` below :data:`DECREMENT_RTOL` times ``max(|loss|, 1)``."""
    scale = 1.0 + np.max(np.abs(theta))
    tiny_step = np.max(np.abs(step)) <= STEP_RTOL * scale
    return bool(tiny_step or -slope <= DECREMENT_RTOL * max(abs(loss), 1.0))


def _escaping(travelled, step, hess, start_hess):
    """Whether the iterate runs off to infinity along ``travelled``.

    The curvature along the direction travelled has all but vanished while the
    next step continues outwards.
    """
    u = escape_direction(travelled, step)
    if u is None:
        return False
    with np.errstate(over="ignore", invalid="ignore"):
        at_start = u @ start_hess @ u
        now = u @ hess @ u
    return curvature_vanished(at_start, now)


#: The scalar solver stops after a Newton step smaller than this, relative to
#: the iterate: convergence is quadratic, so the error left is about its square.
SCALAR_STOP_RTOL = 1e-6
HUGE = float(np.finfo(np.float64).max)


def minimize_scalar(model, start, limits, *, max_iter, n_iter=0):
    """Minimise a convex loss of one parameter ``beta >= 0`` by bracketed Newton.

    Newton steps are taken inside a bracket ``[lo, hi]`` of the root of the
    slope, starting from ``[0, inf]``; a step leaving it is replaced by a
    geometric bisection (or geometric growth while the bracket is unbounded),
    so a bad start costs ``O(log log)`` passes.

    Parameters
    ----------
    model : object
        With ``evaluate(beta) -> (loss, slope, curvature)`` floats.
    start : float or None
        Starting ``beta``; None: Newton's step from 0,
        ``-slope(0) / curvature(0)``, with ``limits[1]`` as the curvature.
    limits : (float, float or None, float)
        ``(slope(0), curvature(0), slope(inf))`` from one pass (the curvature
        only needed when ``start`` is None).
    max_iter : int
        Maximum number of passes over the data.
    n_iter : int, default=0
        Passes already spent (the pass that gave ``limits`` counts as one when
        ``start`` is None).

    Returns
    -------
    NewtonResult
        ``"bound"`` with ``beta = 0`` when ``slope(0) >= 0``;
        ``"no_finite_optimum"`` with ``beta = inf`` when ``slope(inf) <= 0``.
    """
    slope_zero, curvature_zero, slope_inf = limits

    def result(beta, n, converged, status="optimum", loss=np.nan, slope=np.nan):
        return NewtonResult(
            np.array([beta]), float(loss), np.array([slope]), n, converged, status
        )

    if start is None:
        n_iter = 1
    if not slope_zero < 0:
        return result(0.0, n_iter, True, "bound", slope=slope_zero)
    if not slope_inf > 0:
        return result(np.inf, n_iter, True, "no_finite_optimum", slope=slope_inf)
    beta = start
    if beta is None:
        # curvature(0) may underflow to 0 (logits near 1e-50 under weights near
        # 1e-141) or be infinite: only a start, so a bad one is replaced.
        with np.errstate(divide="ignore", over="ignore"):
            beta = -slope_zero / curvature_zero
            if not 0.0 < beta < np.inf:
                # A class far below the others (a mask at np.finfo(float).min)
                # makes curvature(0) infinite: start from the mean gap instead.
                beta = 1.0 / slope_inf
        if not 0.0 < beta < np.inf:
            beta = 1.0  # the bracket then grows or shrinks geometrically

    lo, hi = 0.0, np.inf
    loss = slope = np.nan
    growth = 4.0  # squared at each unbounded step: a bad start costs log(log) steps
    newton_from = None  # (beta, slope) where the last Newton step started
    for n_iter in range(n_iter + 1, max_iter + 1):  # noqa: B020 (restarts the count)
        loss, slope, curvature = model.evaluate(beta)
        if slope < 0:
            lo = beta
        elif slope > 0:
            hi = beta
        else:
            return result(beta, n_iter, True, loss=loss, slope=slope)
        newton = beta - slope / curvature if 0 < curvature < np.inf else np.nan
        if abs(newton - beta) <= SCALAR_STOP_RTOL * beta:
            # A small Newton step is accurate even if rounding puts it a hair
            # outside the bracket.
            return result(newton, n_iter, True, loss=loss, slope=slope)
        # Newton creeps (small steps that leave most of the slope) while a
        # far-off column dominates the curvature, e.g. one at -1e150: bracket
        # instead. Ordinary fits never trigger this: once their steps are that
        # small, convergence is quadratic.
        creeping = newton_from is not None and (
            abs(beta - newton_from[0]) < 0.1 * beta and slope / newton_from[1] > 0.25
        )
        newton_from = None
        if lo < newton < hi and not creeping:
            beta, newton_from = newton, (beta, slope)
        elif hi == np.inf:
            # Capped: beta beyond the float64 range is no temperature either.
            with np.errstate(over="ignore"):
                beta = min(growth * lo, HUGE)
            growth = min(growth * growth, 2.0**64)
        elif lo == 0.0:
            beta, growth = hi / growth, min(growth * growth, 2.0**64)
        else:
            # Square roots first: lo * hi may overflow.
            beta = np.sqrt(lo) * np.sqrt(hi) if hi > 2.0 * lo else 0.5 * lo + 0.5 * hi
        if hi < np.inf and hi - lo <= STEP_RTOL * hi:
            return result(0.5 * (lo + hi), n_iter, True, loss=loss, slope=slope)
    return result(beta, max_iter, False, loss=loss, slope=slope)

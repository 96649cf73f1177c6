"""Log-loss models of softmax (and sigmoid) maps linear in their parameters.

Private models for :func:`calibkit._newton.minimize` (and the matrix-free
Newton-CG driver below for models too large for a dense Hessian): beta
calibration's :class:`LinearLogitModel`, vector and matrix scaling (Dirichlet
calibration is matrix scaling on log-probabilities). Each pass is a
:func:`~calibkit._chunks.reduce_rows` reduction over row chunks, so float32,
memory-mapped and dask inputs are read, never copied whole.
"""

import functools

import numpy as np

from calibkit._chunks import as_float64, reduce_rows, row_max, row_sum
from calibkit._newton import (
    STEP_RTOL,
    ChunkedModel,
    NewtonResult,
    curvature_vanished,
    escape_direction,
    minimize,
    newton_converged,
    single_threaded_blas,
)
from calibkit.metrics._kernels import total_weight, weights_or_ones


def _transformed(values, transform):
    """A chunk as float64, mapped through ``transform`` when given."""
    values = as_float64(values)
    return values if transform is None else transform(values)


class LinearLogitModel(ChunkedModel):
    """Binary log-loss of ``sigmoid(x . theta)`` for a few features ``x``.

    Beta calibration (Kull et al. 2017) is the case
    ``x = (log p, -log(1 - p), 1)``, given through ``transform``. Gradient
    ``sum w (p - t) x``, Hessian ``sum w p (1 - p) x x^T``.

    Parameters
    ----------
    features : ndarray of shape (n_samples, n_features)
        Any float dtype (read in chunks); may be a dask array.
    y : ndarray of shape (n_samples,), dtype bool
    sample_weight : ndarray of shape (n_samples,) or None
    targets : (float, float), default=(1.0, 0.0)
        Target probability of positive and negative rows.
    transform : callable or None
        Maps a float64 chunk of ``features`` to the features used.
    n_params : int or None
        Number of features after ``transform``; default ``features.shape[1]``.
    """

    def __init__(
        self,
        features,
        y,
        sample_weight=None,
        *,
        targets=(1.0, 0.0),
        transform=None,
        n_params=None,
    ):
        self.arrays = (features, y, sample_weight)
        self.n_params = features.shape[1] if n_params is None else n_params
        self.n_cols = max(features.shape[1], self.n_params)
        self.total_weight = total_weight(sample_weight, features.shape[0])
        self.targets, self.transform = targets, transform

    def kernel(self, rows, x, y, w, *, theta):
        x = _transformed(x, self.transform)
        w = weights_or_ones(w, x.shape[0])
        z = x @ theta
        t = np.where(y, *self.targets)
        loss = np.logaddexp(0.0, z) - t * z
        p = expit_stable(z)
        curv = p * expit_stable(-z)
        grad = x.T @ (w * (p - t))
        hess = (x * (w * curv)[:, None]).T @ x
        return np.concatenate([[w @ loss], grad, hess.ravel()])


def expit_stable(z):
    """``1 / (1 + exp(-z))`` without overflow warnings for large ``|z|``."""
    e = np.exp(-np.abs(z))
    return np.where(z >= 0.0, 1.0 / (1.0 + e), e / (1.0 + e))


def _smoothing(y, eps, mask, k):
    """Per row: the mass ``s`` taken off the true class and its share per other.

    With ``mask`` (classes out of the softmax, never the true one) the share
    goes to the classes left; a row with no other class keeps target 1.
    """
    smooth = eps[y]
    if mask is None:
        return smooth, smooth / (k - 1)
    others = (k - 1) - row_sum(mask.astype(np.float64))
    smooth = np.where(others > 0, smooth, 0.0)
    return smooth, smooth / np.maximum(others, 1.0)


def softmax_terms(a, y, eps=None, mask=None):
    """Per-row log-loss ``logsumexp(a) - t . a`` and ``q = softmax(a)``.

    ``t`` is one-hot at ``y``, or with ``eps`` (one value per class) the
    smoothed targets ``1 - eps_y`` on ``y`` and ``eps_y / (K - 1)`` elsewhere.
    ``mask`` (bool, like ``a``) takes classes out of the softmax of a row
    (their ``q`` is 0): the classes a model gave probability exactly 0 (see
    :func:`zero_masked`); the true class is never masked.
    """
    n, k = a.shape
    if mask is not None:
        a = np.where(mask, -np.inf, a)
    top = row_max(a)
    e = np.exp(a - top[:, None])
    total = row_sum(e)
    q = e / total[:, None]
    truth = a[np.arange(n), y]
    if eps is None:
        loss = np.log(total) + top - truth
    else:
        smooth, share = _smoothing(y, eps, mask, k)
        # t . a = (1 - s) a_y + share * (sum a - a_y), relative to the top.
        centred = a - top[:, None]
        if mask is not None:
            centred[mask] = 0.0
        rest = row_sum(centred) - (truth - top)
        loss = np.log(total) - (1.0 - smooth) * (truth - top) - share * rest
    return loss, q


def _softmax_residual(a, y, eps=None, mask=None):
    """:func:`softmax_terms` and the residual ``r = q - t`` per row."""
    loss, q = softmax_terms(a, y, eps, mask)
    r = q.copy()
    rows = np.arange(q.shape[0])
    if eps is None:
        r[rows, y] -= 1.0
    else:
        smooth, share = _smoothing(y, eps, mask, q.shape[1])
        if mask is None:
            r -= share[:, None]
        else:
            r -= np.where(mask, 0.0, share[:, None])
        r[rows, y] -= 1.0 - smooth - share
    return loss, q, r


def zero_masked(x, y, w, log_zero):
    """Features, weights and mask of a chunk of log-probabilities with zeros.

    The policy of the scaling calibrators for probabilities of exactly 0
    (``x = -inf``): such a class is taken out of the row's softmax (``mask``),
    and its feature, for the other classes' logits of matrix scaling, is
    ``log_zero``, below which every value is raised. A row whose true class
    is one of its zeros gets weight 0 here: its loss belongs to the separate
    probability of "the truth is one of the row's zeros" and does not depend
    on the map (its mask is cleared, so every term stays finite).

    Returns
    -------
    features : ndarray, float64
    w : ndarray or None
        ``w`` (or ones when rows are hit and ``w`` is None), zeroed on those rows.
    mask : ndarray of bool or None
        None when the chunk has no exact zero.
    """
    mask = np.isneginf(x)
    features = np.maximum(x, log_zero)
    if not mask.any():
        return features, w, None
    hit = mask[np.arange(x.shape[0]), y]
    if hit.any():
        w = np.where(hit, 0.0, weights_or_ones(w, x.shape[0]))
        mask[hit] = False
    return features, w, mask


def _positive(values):
    return np.where(values > 0, values, 1.0)


def _curvature_times(q, da):
    """``(diag q - q q^T) da`` per row: the softmax Hessian applied to ``da``."""
    s = q * da
    s -= q * row_sum(s)[:, None]
    return s


class _SoftmaxScalingModel(ChunkedModel):
    """Set-up shared by the multiclass models of ``softmax(affine(logits))``.

    Besides the dense protocol of :class:`~calibkit._newton.ChunkedModel`
    (loss, gradient and Hessian in one pass) the models offer the passes of
    the matrix-free driver :func:`minimize_newton_cg`: ``loss_grad(theta)``
    (with a diagonal preconditioner) and ``hessp(theta, d)``, each
    ``O(n K)`` (vector) or ``O(n K^2)`` (matrix) work and ``O(p)`` memory.

    Parameters
    ----------
    logits : ndarray of shape (n_samples, n_classes) or (n_samples,)
        Read in chunks, as ``features`` in :class:`LinearLogitModel`; a 1-D
        array needs a ``transform`` that gives ``n_classes`` columns.
    y : ndarray of shape (n_samples,), dtype intp
        Class indices.
    sample_weight, transform
        As in :class:`LinearLogitModel`.
    eps : ndarray of shape (n_classes,) or None
        Smoothed targets (see :func:`softmax_terms`); None: one-hot.
    n_classes : int or None
        Columns after ``transform``; default ``logits.shape[1]``.
    log_zero : float or None
        For log-probabilities with ``-inf`` at exact zeros: the policy of
        :func:`zero_masked` (those classes leave the row's softmax). None:
        the rows are used as they are.
    """

    def __init__(
        self,
        logits,
        y,
        sample_weight=None,
        *,
        transform=None,
        eps=None,
        n_classes=None,
        log_zero=None,
    ):
        self.arrays = (logits, y, sample_weight)
        self.log_zero = log_zero
        self.n_classes = logits.shape[1] if n_classes is None else n_classes
        self.total_weight = total_weight(sample_weight, logits.shape[0])
        self.transform = transform
        self.eps = None if eps is None else np.asarray(eps, dtype=np.float64)

    def _chunk(self, z, y, w):
        """A chunk's logits (transformed), weights (ones when unweighted), mask."""
        z = _transformed(z, self.transform)
        mask = None
        if self.log_zero is not None:
            z, w, mask = zero_masked(z, y, w, self.log_zero)
        return z, weights_or_ones(w, z.shape[0]), mask

    def _reduce(self, kernel, n_cols):
        sums = reduce_rows(kernel, *self.arrays, n_cols=n_cols)
        return sums / self.total_weight

    def penalty(self, theta):
        """``(value, gradient, Hessian diagonal)`` of the penalty (none here)."""
        return 0.0, 0.0, 0.0

    def evaluate(self, theta):
        """Mean loss (plus penalty), gradient and dense Hessian: one pass."""
        loss, grad, hess = super().evaluate(theta)
        value, pgrad, pdiag = self.penalty(theta)
        hess[np.diag_indices_from(hess)] += pdiag
        return loss + value, grad + pgrad, hess

    def loss_grad(self, theta):
        """Mean loss, gradient and a positive diagonal preconditioner: one pass."""
        theta = np.asarray(theta, np.float64)
        p = self.n_params
        kernel = functools.partial(self.grad_kernel, theta=theta)
        means = self._reduce(kernel, 2 * self.n_classes)
        value, pgrad, pdiag = self.penalty(theta)
        loss = float(means[0]) + value
        precond = means[p + 1 :].copy()
        precond[:p] += pdiag
        return loss, means[1 : p + 1] + pgrad, precond

    def precondition(self, precond, residual):
        """Divide by the Hessian's diagonal (where positive)."""
        return residual / _positive(precond)

    def hessp(self, theta, direction):
        """Hessian (plus penalty) times ``direction``: one pass."""
        theta = np.asarray(theta, np.float64)
        kernel = functools.partial(self.hessp_kernel, theta=theta, d=direction)
        _, _, pdiag = self.penalty(theta)
        return self._reduce(kernel, 2 * self.n_classes) + pdiag * direction


class VectorScalingModel(_SoftmaxScalingModel):
    """Multiclass log-loss of ``softmax(v * z + b)`` (``2K`` parameters).

    ``theta = (v_1..v_K, b_1..b_K)``. With ``r = q - t``, the gradient
    is ``sum w (r z, r)`` and the Hessian ``sum w J^T (diag q - q q^T) J`` with
    ``J = [diag z, I]``. A common shift of ``b`` leaves the loss unchanged (a
    flat direction the drivers step around: :meth:`flat` projects it out).

    Parameters are those of :class:`_SoftmaxScalingModel`.
    """

    def __init__(self, logits, y, sample_weight=None, **options):
        super().__init__(logits, y, sample_weight, **options)
        self.n_params = 2 * self.n_classes
        self.n_cols = 4 * self.n_classes

    def _logits(self, z, theta):
        k = self.n_classes
        return theta[:k] * z + theta[k:]

    def kernel(self, rows, z, y, w, *, theta):
        z, w, mask = self._chunk(z, y, w)
        k = z.shape[1]
        loss, q, r = _softmax_residual(self._logits(z, theta), y, self.eps, mask)
        grad = np.concatenate([w @ (r * z), w @ r])
        # J^T q per row, times sqrt(w): -v^T v is a symmetric product (syrk).
        v = np.concatenate([q * z, q], axis=1)
        v *= np.sqrt(w)[:, None]
        hess = v.T @ v
        np.negative(hess, out=hess)
        wq = w @ q
        wqz = w @ (q * z)
        diag = np.arange(k)
        hess[diag, diag] += w @ (q * z * z)
        hess[diag, diag + k] += wqz
        hess[diag + k, diag] += wqz
        hess[diag + k, diag + k] += wq
        return np.concatenate([[w @ loss], grad, hess.ravel()])

    def grad_kernel(self, rows, z, y, w, *, theta):
        z, w, mask = self._chunk(z, y, w)
        loss, q, r = _softmax_residual(self._logits(z, theta), y, self.eps, mask)
        c = q * (1.0 - q)
        c *= w[:, None]
        cz = c * z
        # The 2x2 diagonal blocks [[sum c z^2, sum c z], [sum c z, sum c]].
        precond = [row_sum((cz * z).T), row_sum(c.T), row_sum(cz.T)]
        return np.concatenate([[w @ loss], w @ (r * z), w @ r, *precond])

    def hessp_kernel(self, rows, z, y, w, *, theta, d):
        z, w, mask = self._chunk(z, y, w)
        k = self.n_classes
        _, q = softmax_terms(self._logits(z, theta), y, mask=mask)
        s = _curvature_times(q, d[:k] * z + d[k:])
        return np.concatenate([w @ (s * z), w @ s])

    def precondition(self, precond, residual):
        """Solve the 2x2 diagonal blocks (scale, intercept) of each class."""
        k = self.n_classes
        czz, c, cz = precond[:k], precond[k : 2 * k], precond[2 * k :]
        det = czz * c - cz * cz
        good = det > 1e-12 * np.maximum(czz * c, np.finfo(float).tiny)
        det = np.where(good, det, 1.0)
        r_w, r_b = residual[:k], residual[k:]
        out_w = np.where(good, (c * r_w - cz * r_b) / det, r_w / _positive(czz))
        out_b = np.where(good, (czz * r_b - cz * r_w) / det, r_b / _positive(c))
        return np.concatenate([out_w, out_b])

    def flat(self, step):
        """``step`` without its component along the flat direction (shift of b)."""
        k = self.n_classes
        out = step.copy()
        out[k:] -= out[k:].mean()
        return out


class MatrixScalingModel(_SoftmaxScalingModel):
    """Multiclass log-loss of ``softmax(W z + b)`` (``K^2 + K`` parameters).

    ``theta = (W.ravel(), b)`` (``W`` row-major). Internally the parameters
    are ``Theta = [W | b]`` acting on ``x = (z, 1)``: the gradient is
    ``sum w r x^T`` and the Hessian ``sum w (diag q - q q^T) kron x x^T``. Adding
    one vector to every row of ``Theta`` leaves the loss unchanged (``K + 1``
    flat directions). Dirichlet calibration is this model on ``z = log p``.

    With ``reg = (lam, mu)`` the objective is the ODIR-penalised loss of Kull
    et al. (2019): ``+ lam / (K (K - 1)) sum_{i != j} W_ij^2 + mu / K sum b^2``.
    A penalty removes the flat directions it acts on (``lam > 0``: the
    column shifts of ``W``; ``mu > 0``: the common shift of ``b``).

    Parameters are those of :class:`_SoftmaxScalingModel`, plus ``reg``.
    """

    def __init__(self, logits, y, sample_weight=None, *, reg=(0.0, 0.0), **options):
        super().__init__(logits, y, sample_weight, **options)
        k = self.n_classes
        self.n_params = k * k + k
        # The per-row products sqrt(w) q_k x_j (v in the kernel) are the
        # widest temporary: one of p columns.
        self.n_cols = self.n_params
        # Position in Theta (row-major, K x (K + 1)) of each entry of theta.
        grid = np.arange(k * (k + 1)).reshape(k, k + 1)
        self._order = np.concatenate([grid[:, :k].ravel(), grid[:, k]])
        lam, mu = reg
        self.reg = (float(lam), float(mu))
        off = ~np.eye(k, dtype=bool)
        scale = np.zeros(self.n_params)
        if k > 1:
            scale[: k * k] = np.where(off.ravel(), lam / (k * (k - 1)), 0.0)
        scale[k * k :] = mu / k
        self._penalty_scale = scale

    def penalty(self, theta):
        scale = self._penalty_scale
        if not np.any(scale):
            return 0.0, 0.0, 0.0
        return float(scale @ (theta * theta)), 2.0 * scale * theta, 2.0 * scale

    def _split(self, theta):
        k = self.n_classes
        return theta[: k * k].reshape(k, k), theta[k * k :]

    def kernel(self, rows, z, y, w, *, theta):
        """Sums in the order of ``Theta = [W | b]`` (see :meth:`unpack`)."""
        z, w, mask = self._chunk(z, y, w)
        n, k = z.shape
        weights, bias = self._split(theta)
        loss, q, r = _softmax_residual(z @ weights.T + bias, y, self.eps, mask)
        x = np.concatenate([z, np.ones((n, 1))], axis=1)
        grad = ((r * w[:, None]).T @ x).ravel()
        # With v = sqrt(w) q kron x per row, the Hessian is the block diagonal
        # sum w q_c x x^T = v^T (sqrt(w) x), one product, minus v^T v, a
        # symmetric product (BLAS syrk: half the work of a general one).
        root = np.sqrt(w)[:, None]
        v = ((q * root)[:, :, None] * x[:, None, :]).reshape(n, -1)
        size = k + 1
        blocks = (v.T @ (x * root)).reshape(k, size, size)
        hess = v.T @ v
        np.negative(hess, out=hess)
        diagonal = np.arange(k)
        hess.reshape(k, size, k, size)[diagonal, :, diagonal, :] += blocks
        return np.concatenate([[w @ loss], grad, hess.ravel()])

    def unpack(self, means, theta):
        """The kernel's sums, from the order of ``Theta`` to that of ``theta``
        (one permutation of the summed Hessian, not one per chunk)."""
        loss, grad, hess = super().unpack(means, theta)
        order = self._order
        return loss, grad[order], hess[np.ix_(order, order)]

    def grad_kernel(self, rows, z, y, w, *, theta):
        z, w, mask = self._chunk(z, y, w)
        weights, bias = self._split(theta)
        loss, q, r = _softmax_residual(z @ weights.T + bias, y, self.eps, mask)
        r *= w[:, None]
        c = q * (1.0 - q)
        c *= w[:, None]
        # Gradient [r^T z, r^T 1]; preconditioner: the Hessian's diagonal.
        parts = [
            [w @ loss],
            (r.T @ z).ravel(),
            row_sum(r.T),
            (c.T @ (z * z)).ravel(),
            row_sum(c.T),
        ]
        return np.concatenate(parts)

    def hessp_kernel(self, rows, z, y, w, *, theta, d):
        z, w, mask = self._chunk(z, y, w)
        weights, bias = self._split(theta)
        _, q = softmax_terms(z @ weights.T + bias, y, mask=mask)
        d_weights, d_bias = self._split(d)
        s = _curvature_times(q, z @ d_weights.T + d_bias)
        s *= w[:, None]
        return np.concatenate([(s.T @ z).ravel(), row_sum(s.T)])

    def flat(self, step):
        """``step`` without its components along the flat directions left."""
        k = self.n_classes
        lam, mu = self.reg
        weights, bias = self._split(step.copy())
        if lam == 0.0:
            weights -= weights.mean(axis=0)
        if mu == 0.0:
            bias -= bias.mean()
        return np.concatenate([weights.ravel(), bias])[: k * k + k]


# --------------------------------------------------------------------------
# Solvers: dense damped Newton for small models, Newton-CG for large ones
# --------------------------------------------------------------------------

#: Largest number of parameters solved with a dense Hessian. Accumulating it
#: costs ``O(n p^2)`` per pass and solving it ``O(p^3)``: ``O(n K^2)`` and
#: ``O(K^3)`` for vector scaling (``p = 2K``), ``O(n K^4)`` and ``O(K^6)`` for
#: matrix scaling (``p = K^2 + K``), so the dense path serves vector scaling
#: up to K = 150 and matrix scaling up to K = 16. Larger models use
#: :func:`minimize_newton_cg`.
DENSE_MAX_PARAMS = 300

#: Conjugate-gradient iterations (each one pass over the data) per Newton step.
MAX_CG_ITER = 250


def _project(model, vector):
    flat = getattr(model, "flat", None)
    return vector if flat is None else flat(vector)


def _conjugate_gradient(model, theta, grad, precond, tol, max_cg):
    """Preconditioned CG for ``H s = -grad`` on the non-flat subspace.

    Returns ``(s, passes, converged)``. Stops at residual norm ``tol``, or
    at a direction of (numerically) zero curvature.
    """
    step = np.zeros_like(grad)
    residual = _project(model, -grad)
    z = _project(model, model.precondition(precond, residual))
    direction = z.copy()
    rz = residual @ z
    for passes in range(1, max_cg + 1):
        h_dir = _project(model, model.hessp(theta, direction))
        curvature = direction @ h_dir
        if not curvature > 0:
            if passes == 1:
                step = direction
            return step, passes, False
        alpha = rz / curvature
        step += alpha * direction
        residual -= alpha * h_dir
        if np.linalg.norm(residual) <= tol:
            return step, passes, True
        z = _project(model, model.precondition(precond, residual))
        rz_new = residual @ z
        direction = z + (rz_new / rz) * direction
        rz = rz_new
    return step, max_cg, False


def minimize_newton_cg(model, theta0, *, max_iter, max_cg=MAX_CG_ITER):
    """Minimise a convex chunked model by inexact Newton with CG inner solves.

    Matrix-free: the Hessian is never formed, only applied to vectors
    (``model.hessp``, one pass each), so memory is ``O(p)`` and a Newton step
    costs ``O(p)`` work on the small system per CG iteration (``O(K)`` for
    vector scaling, ``O(K^2)`` for matrix scaling) besides the passes. The CG
    solve is preconditioned by the Hessian's diagonal (vector scaling: its
    2x2 blocks of each class's scale and intercept) and stopped at a residual
    ``min(0.5, sqrt(|g|)) |g|`` (superlinear convergence), then an Armijo line
    search follows. Stopping and the test for a loss falling towards infinity
    are those of :func:`calibkit._newton.minimize` (the curvature along the
    direction travelled is measured with two extra passes per iteration).

    Parameters
    ----------
    model : _SoftmaxScalingModel
        With ``loss_grad``, ``hessp`` and ``flat``.
    theta0 : array-like of shape (n_params,)
    max_iter : int
        Maximum number of Newton iterations.
    max_cg : int, default=MAX_CG_ITER
        Maximum CG iterations per Newton step.

    Returns
    -------
    NewtonResult
        ``n_iter`` counts every pass over the data.
    """
    theta = np.array(theta0, dtype=np.float64)
    start = theta.copy()
    loss, grad, precond = model.loss_grad(theta)
    passes, converged, status = 1, False, "optimum"
    for _ in range(max_iter):
        gnorm = np.linalg.norm(_project(model, grad))
        tol = min(0.5, np.sqrt(gnorm)) * gnorm
        step, used, _ = _conjugate_gradient(model, theta, grad, precond, tol, max_cg)
        passes += used
        slope = grad @ step
        if not slope < 0:
            step, slope = -_project(model, grad), -(gnorm**2)
        u = escape_direction(theta - start, step)
        if u is not None:
            now = u @ model.hessp(theta, u)
            at_start = u @ model.hessp(start, u)
            passes += 2
            if curvature_vanished(at_start, now):
                status, converged = "no_finite_optimum", True
                break
        scale = 1.0 + np.max(np.abs(theta))
        if newton_converged(theta, step, slope, loss):
            theta = theta + step
            converged = True
            break
        t = 1.0
        while True:
            trial = theta + t * step
            new = model.loss_grad(trial)
            passes += 1
            slack = 4 * np.finfo(np.float64).eps * abs(loss)
            if new[0] <= loss + 1e-4 * t * slope + slack or t < 1e-10:
                break
            t *= 0.5
        moved = np.max(np.abs(trial - theta))
        theta = trial
        loss, grad, precond = new
        if moved <= STEP_RTOL * scale:
            converged = True
            break
    return NewtonResult(theta, float(loss), grad, passes, converged, status)


def minimize_scaling(model, theta0, *, max_iter):
    """Dense damped Newton up to :data:`DENSE_MAX_PARAMS` parameters, else Newton-CG.

    On one BLAS thread (:func:`~calibkit._newton.single_threaded_blas`): every
    product here is a chunk of at most a megabyte, or the small Newton
    system, and threads cost more than they bring on such products (matrix
    scaling of 1e4 x 30 by Newton-CG: 0.45 s CPU on one thread, 1.9 s on
    two; Dirichlet calibration of 1e4 x 30: 2.4 s wall against 15.7 s).
    """
    with single_threaded_blas():
        if model.n_params <= DENSE_MAX_PARAMS:
            return minimize(model, theta0, max_iter=max_iter)
        return minimize_newton_cg(model, theta0, max_iter=max_iter)


#: Largest number of nonzeros of the separation linear programme (its float64
#: copy of the rows is then at most about 0.5 MB); above it the solver's own
#: detection (curvature vanishing along the path) is relied on, which sees
#: complete separation but not always separation of part of the classes.
SEPARATION_LP_MAX_NONZEROS = 250_000


def separating_direction(
    x,
    y,
    sample_weight,
    *,
    kind,
    fixed_off_diagonal=False,
    fixed_bias=False,
    log_zero=None,
):
    """Whether the log-loss of ``softmax(affine(x))`` decreases along a ray.

    The (unsmoothed, unpenalised) log-loss has no finite minimiser exactly when
    some direction ``d`` of the parameters makes no row's margin
    ``a[i, y_i] - a[i, k]`` smaller and at least one larger (the classes are
    separated, completely or in part): the loss then falls strictly along the
    ray and tends to its infimum at infinity. This solves the linear programme
    ``max sum(margins) s.t. margins >= 0, -1 <= d <= 1`` (HiGHS), whose
    optimum is positive exactly then. Directions that change every margin by 0
    (the softmax gauge) are harmless and score 0.

    Parameters
    ----------
    x : ndarray of shape (n_samples, n_classes), float64
        The transformed rows (logits, or log-probabilities for Dirichlet).
    y : ndarray of shape (n_samples,), intp
    sample_weight : ndarray or None
        Rows of weight 0 are left out.
    kind : {"vector", "matrix"}
        ``a = w * x + b`` or ``a = x @ W.T + b``.
    fixed_off_diagonal, fixed_bias : bool
        Coordinates held at 0 (a positive penalty keeps them finite).
    log_zero : float or None
        The policy of :func:`zero_masked` for ``-inf`` in ``x``: a class
        out of a row's softmax has no margin there, and a row whose true
        class is out does not constrain the map.

    Returns
    -------
    bool or None
        None when the programme would exceed
        :data:`SEPARATION_LP_MAX_NONZEROS` nonzeros (not checked).
    """
    from scipy.optimize import linprog
    from scipy.sparse import coo_matrix

    if sample_weight is not None:
        keep = np.asarray(sample_weight) > 0
        x, y = x[keep], y[keep]
    n, k = x.shape
    if n == 0 or k < 2:
        return False
    per_row = 4 if kind == "vector" else 2 * k + 2
    if n * (k - 1) * per_row > SEPARATION_LP_MAX_NONZEROS:
        return None
    # One constraint per (row, other class): the margin of y_i over class c.
    row_of = np.repeat(np.arange(n), k - 1)
    others = np.array([[c for c in range(k) if c != t] for t in range(k)])
    other = others[y].ravel()
    if log_zero is not None:
        x, held, mask = zero_masked(x, y, None, log_zero)
        if mask is not None:
            # Pairs of a class out of the softmax, and every pair of a row
            # whose true class is (weight 0 from zero_masked), constrain nothing.
            pairs = ~mask[row_of, other]
            if held is not None:
                pairs &= held[row_of] > 0
            row_of, other = row_of[pairs], other[pairs]
    true = y[row_of]
    m = row_of.size
    if m == 0:
        return False
    cons = np.arange(m)
    rows, cols, vals = [], [], []

    def add(columns, values):
        rows.append(cons)
        cols.append(columns)
        vals.append(values)

    if kind == "vector":
        n_weights = k
        add(true, x[row_of, true])
        add(other, -x[row_of, other])
    else:
        n_weights = k * k
        for j in range(k):
            add(true * k + j, x[row_of, j])
            add(other * k + j, -x[row_of, j])
    add(n_weights + true, np.ones(m))
    add(n_weights + other, -np.ones(m))
    margins = coo_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(m, n_weights + k),
    ).tocsr()
    bounds = [(-1.0, 1.0)] * (n_weights + k)
    if kind == "matrix" and fixed_off_diagonal:
        for i in range(k):
            for j in range(k):
                if i != j:
                    bounds[i * k + j] = (0.0, 0.0)
    if fixed_bias:
        for c in range(k):
            bounds[n_weights + c] = (0.0, 0.0)
    objective = -np.asarray(margins.sum(axis=0)).ravel()
    result = linprog(
        objective,
        A_ub=-margins,
        b_ub=np.zeros(m),
        bounds=bounds,
        method="highs",
    )
    if result.status != 0:  # pragma: no cover - the programme is always feasible
        return None
    # Margins are in units of |x| (|d| <= 1): a positive optimum well above the
    # solver's feasibility tolerance (1e-7 per constraint) is a separating ray.
    scale = float(np.max(np.abs(x), initial=1.0))
    return -result.fun > 1e-6 * m * scale

"""Log-loss models of softmax (and sigmoid) maps linear in their parameters.

Private models for :func:`calibkit._newton.minimize` (and the matrix-free
Newton-CG driver below for models too large for a dense Hessian): beta
calibration's :class:`LinearLogitModel`, vector and matrix scaling (Dirichlet
calibration is matrix scaling on log-probabilities). Each pass is a
:func:`~calibkit._chunks.reduce_rows` reduction over row chunks, so float32,
memory-mapped and dask inputs are read, never copied whole.
"""

import numpy as np

from calibkit._chunks import as_float64, row_max, row_sum
from calibkit._newton import ChunkedModel
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


def _softmax_terms(a, y):
    """Per-row log-loss ``logsumexp(a) - a_y`` and ``q = softmax(a)``."""
    top = row_max(a)
    e = np.exp(a - top[:, None])
    total = row_sum(e)
    q = e / total[:, None]
    loss = np.log(total) + top - a[np.arange(a.shape[0]), y]
    return loss, q


def _softmax_residual(a, y):
    """:func:`_softmax_terms` and the residual ``r = q - onehot(y)`` per row."""
    loss, q = _softmax_terms(a, y)
    r = q.copy()
    r[np.arange(q.shape[0]), y] -= 1.0
    return loss, q, r


class _SoftmaxScalingModel(ChunkedModel):
    """Set-up shared by the multiclass models of ``softmax(affine(logits))``.

    Parameters
    ----------
    logits : ndarray of shape (n_samples, n_classes)
        Read in chunks, as ``features`` in :class:`LinearLogitModel`.
    y : ndarray of shape (n_samples,), dtype intp
        Class indices.
    sample_weight, transform
        As in :class:`LinearLogitModel`.
    """

    def __init__(self, logits, y, sample_weight=None, *, transform=None):
        self.arrays = (logits, y, sample_weight)
        self.n_classes = logits.shape[1]
        self.total_weight = total_weight(sample_weight, logits.shape[0])
        self.transform = transform

    def _chunk(self, z, w):
        """A chunk's logits (transformed) and weights (ones when unweighted)."""
        z = _transformed(z, self.transform)
        return z, weights_or_ones(w, z.shape[0])


class VectorScalingModel(_SoftmaxScalingModel):
    """Multiclass log-loss of ``softmax(v * z + b)`` (``2K`` parameters).

    ``theta = (v_1..v_K, b_1..b_K)``. With ``r = q - onehot(y)``, the gradient
    is ``sum w (r z, r)`` and the Hessian ``sum w J^T (diag q - q q^T) J`` with
    ``J = [diag z, I]``. A common shift of ``b`` leaves the loss unchanged (a
    flat direction the driver steps around).

    Parameters are those of :class:`_SoftmaxScalingModel`.
    """

    def __init__(self, logits, y, sample_weight=None, *, transform=None):
        super().__init__(logits, y, sample_weight, transform=transform)
        self.n_params = 2 * self.n_classes
        self.n_cols = 4 * self.n_classes

    def kernel(self, rows, z, y, w, *, theta):
        z, w = self._chunk(z, w)
        k = z.shape[1]
        loss, q, r = _softmax_residual(theta[:k] * z + theta[k:], y)
        grad = np.concatenate([w @ (r * z), w @ r])
        v = np.concatenate([q * z, q], axis=1)  # J^T q per row
        hess = -(v * w[:, None]).T @ v
        wq = w @ q
        wqz = w @ (q * z)
        diag = np.arange(k)
        hess[diag, diag] += w @ (q * z * z)
        hess[diag, diag + k] += wqz
        hess[diag + k, diag] += wqz
        hess[diag + k, diag + k] += wq
        return np.concatenate([[w @ loss], grad, hess.ravel()])


class MatrixScalingModel(_SoftmaxScalingModel):
    """Multiclass log-loss of ``softmax(W z + b)`` (``K^2 + K`` parameters).

    ``theta = (W.ravel(), b)`` (``W`` row-major). Internally the parameters
    are ``Theta = [W | b]`` acting on ``x = (z, 1)``: the gradient is
    ``sum w r x^T`` and the Hessian ``sum w (diag q - q q^T) kron x x^T``. Adding
    one vector to every row of ``Theta`` leaves the loss unchanged (``K + 1``
    flat directions). Dirichlet calibration is this model on ``z = log p``.

    Parameters are those of :class:`_SoftmaxScalingModel`.
    """

    def __init__(self, logits, y, sample_weight=None, *, transform=None):
        super().__init__(logits, y, sample_weight, transform=transform)
        k = self.n_classes
        self.n_params = k * k + k
        # The per-row products q_k x_j are the widest temporaries.
        self.n_cols = 2 * self.n_params
        # Position in Theta (row-major, K x (K + 1)) of each entry of theta.
        grid = np.arange(k * (k + 1)).reshape(k, k + 1)
        self._order = np.concatenate([grid[:, :k].ravel(), grid[:, k]])

    def kernel(self, rows, z, y, w, *, theta):
        z, w = self._chunk(z, w)
        n, k = z.shape
        weights, bias = theta[: k * k].reshape(k, k), theta[k * k :]
        loss, q, r = _softmax_residual(z @ weights.T + bias, y)
        x = np.concatenate([z, np.ones((n, 1))], axis=1)
        grad = ((r * w[:, None]).T @ x).ravel()
        u = (q[:, :, None] * x[:, None, :]).reshape(n, -1)
        hess = -(u * w[:, None]).T @ u
        size = k + 1
        for c in range(k):  # the block diagonal: sum w q_c x x^T
            block = slice(c * size, (c + 1) * size)
            hess[block, block] += (x * (w * q[:, c])[:, None]).T @ x
        order = self._order
        hess = hess[np.ix_(order, order)]
        return np.concatenate([[w @ loss], grad[order], hess.ravel()])

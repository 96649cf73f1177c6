"""Vector and matrix scaling (Dirichlet calibration) on the device.

The passes of :mod:`calibkit._softmax_models`, computed where the logits live.
"""

import functools

import numpy as np

from calibkit._array_api._namespace import (
    _column_is,
    _quiet_chunks,
    _Rows,
    array_api_space,
    reduce_chunks,
    row_logsumexp_softmax,
    rows_of,
    take_rows,
    to_host,
    xp_ones,
)
from calibkit._array_api._temperature import _as_logits
from calibkit._array_api._transforms import (
    apply_transform,
    device_function,
    split_scaled,
)


def _device_transform(transform):
    """``transform`` itself, after checking that it has a device version.

    The device features are the numpy path's: :func:`apply_transform` of
    each chunk (logits; 1-D log-odds ``s`` as ``(0, s)``; Dirichlet
    calibration's log-softmax; multiplied by a power of two when the solver
    rescales extreme logits).
    """
    inner, _ = split_scaled(transform)
    device_function(inner)  # NotImplementedError now, not in the first pass
    return transform


def _features(space, z, transform):
    """A chunk's features in the working dtype, 2-D: logits or log-softmax."""
    x = apply_transform(space, z, transform)
    return _as_logits(space, x) if x.ndim == 1 else x


def feature_magnitude(X, transform):
    """Largest finite ``|x|`` of the features of ``X`` (0 if none), on the device.

    As ``calibkit.calibrators._scaling._max_abs``: what decides whether the
    features are rescaled by a power of two before solving.
    """
    space = array_api_space(X)
    xp = space.xp
    spec = _device_transform(transform)

    def kernel(z):
        x = xp.abs(_features(space, z, spec))
        top = xp.max(xp.where(xp.isfinite(x), x, 0.0), keepdims=True)
        return xp.zeros(1, dtype=space.work, device=space.device), xp.reshape(top, (1,))

    n_cols = 2 * (1 if X.ndim == 1 else X.shape[1])
    return float(reduce_chunks(space, kernel, X, n_cols=n_cols, maxima=True)[1][0])


def _softmax_residual(space, a, y, eps):
    """Per-row loss, ``q = softmax(a)`` and ``r = q - t`` (one-hot or smoothed)."""
    xp = space.xp
    k = a.shape[1]
    top = xp.max(a, axis=1)
    e = xp.exp(a - top[:, None])
    total = xp.sum(e, axis=1)
    q = e / total[:, None]
    truth = take_rows(xp, a, y)
    onehot = xp.astype(_column_is(xp, y, k, space), a.dtype)
    if eps is None:
        return xp.log(total) + top - truth, q, q - onehot
    eps_y = xp.take(eps, y)
    share = eps_y / (k - 1)
    rest = xp.sum(a - top[:, None], axis=1) - (truth - top)
    loss = xp.log(total) - (1.0 - eps_y) * (truth - top) - share * rest
    r = q - share[:, None] - (1.0 - eps_y - share)[:, None] * onehot
    return loss, q, r


def _curvature_times(xp, q, da):
    s = q * da
    return s - q * xp.sum(s, axis=1, keepdims=True)


def _weights(space, w, n):
    return xp_ones(space, n) if w is None else w


class _DeviceScalingModel:
    """Passes of a :mod:`calibkit._softmax_models` scaling model on a device.

    Mixed into a subclass of the numpy model, whose set-up (parameter count,
    penalty, gauge) is reused; the kernels run on the device and return
    sums that :meth:`evaluate` assembles into the dense Hessian on the host.
    """

    def _device_setup(self, space, logits, y, w, transform):
        self.space = space
        self.device_arrays = (logits, space.labels(y), space.weights(w))
        self.device_transform = _device_transform(transform)
        self.device_eps = (
            None if self.eps is None else space.asarray(self.eps, dtype=space.work)
        )

    def _reduce(self, kernel, n_cols):
        sums = reduce_chunks(self.space, kernel, *self.device_arrays, n_cols=n_cols)
        return sums / self.total_weight

    def _chunk(self, z, w):
        x = _features(self.space, z, self.device_transform)
        return x, _weights(self.space, w, x.shape[0])

    def _theta(self, theta):
        return self.space.asarray(np.asarray(theta, np.float64), self.space.work)

    def evaluate(self, theta):
        """Mean loss (plus penalty), gradient and dense Hessian: one pass."""
        theta = np.asarray(theta, np.float64)
        means = self._reduce(
            functools.partial(self.device_kernel, theta=theta), self.n_cols
        )
        loss, grad, hess = self.assemble(means)
        hess = 0.5 * (hess + hess.T)
        value, pgrad, pdiag = self.penalty(theta)
        hess[np.diag_indices_from(hess)] += pdiag
        return float(loss) + value, grad + pgrad, hess


def _vector_logits(xp, x, theta, k):
    return theta[:k] * x + theta[k:]


def vector_scaling_model(space, logits, y, sample_weight, **options):
    """A :class:`calibkit._softmax_models.VectorScalingModel` on the device."""
    from calibkit._softmax_models import VectorScalingModel

    class DeviceVectorScalingModel(_DeviceScalingModel, VectorScalingModel):
        def device_kernel(self, z, y, w, *, theta):
            xp = self.space.xp
            x, w = self._chunk(z, w)
            k = self.n_classes
            a = _vector_logits(xp, x, self._theta(theta), k)
            loss, q, r = _softmax_residual(self.space, a, y, self.device_eps)
            v = xp.concat([q * x, q], axis=1)
            hess = (v * w[:, None]).T @ v
            qx = q * x
            return xp.concat(
                [
                    xp.reshape(w @ loss, (1,)),
                    w @ (r * x),
                    w @ r,
                    xp.reshape(hess, (-1,)),
                    w @ (qx * x),
                    w @ qx,
                    w @ q,
                ]
            )

        def assemble(self, means):
            k, p = self.n_classes, self.n_params
            loss, grad = means[0], means[1 : p + 1]
            hess = -means[p + 1 : p + 1 + p * p].reshape(p, p)
            qxx, qx, q = means[p + 1 + p * p :].reshape(3, k)
            diag = np.arange(k)
            hess[diag, diag] += qxx
            hess[diag, diag + k] += qx
            hess[diag + k, diag] += qx
            hess[diag + k, diag + k] += q
            return loss, grad, hess

        def grad_kernel(self, z, y, w, *, theta):
            xp = self.space.xp
            x, w = self._chunk(z, w)
            k = self.n_classes
            a = _vector_logits(xp, x, self._theta(theta), k)
            loss, q, r = _softmax_residual(self.space, a, y, self.device_eps)
            c = q * (1.0 - q) * w[:, None]
            cx = c * x
            parts = [w @ (r * x), w @ r]
            parts += [xp.sum(cx * x, axis=0), xp.sum(c, axis=0), xp.sum(cx, axis=0)]
            return xp.concat([xp.reshape(w @ loss, (1,)), *parts])

        def hessp_kernel(self, z, y, w, *, theta, d):
            xp = self.space.xp
            x, w = self._chunk(z, w)
            k = self.n_classes
            _, q, _ = _softmax_residual(
                self.space, _vector_logits(xp, x, self._theta(theta), k), y, None
            )
            d = self._theta(d)
            s = _curvature_times(xp, q, d[:k] * x + d[k:])
            return xp.concat([w @ (s * x), w @ s])

    transform = options.pop("transform", None)
    model = DeviceVectorScalingModel(logits, y, sample_weight, **options)
    model._device_setup(space, logits, y, sample_weight, transform)
    return model


def matrix_scaling_model(space, logits, y, sample_weight, **options):
    """A :class:`calibkit._softmax_models.MatrixScalingModel` on the device."""
    from calibkit._softmax_models import MatrixScalingModel

    def split(xp, theta, k):
        return xp.reshape(theta[: k * k], (k, k)), theta[k * k :]

    class DeviceMatrixScalingModel(_DeviceScalingModel, MatrixScalingModel):
        def device_kernel(self, z, y, w, *, theta):
            xp = self.space.xp
            x, w = self._chunk(z, w)
            n, k = x.shape
            weights, bias = split(xp, self._theta(theta), k)
            loss, q, r = _softmax_residual(
                self.space, x @ weights.T + bias, y, self.device_eps
            )
            ones = xp.ones((n, 1), dtype=x.dtype, device=self.space.device)
            x1 = xp.concat([x, ones], axis=1)
            grad = xp.reshape((r * w[:, None]).T @ x1, (-1,))
            u = xp.reshape(q[:, :, None] * x1[:, None, :], (n, -1))
            hess = (u * w[:, None]).T @ u
            # The block diagonal sum_i w q_c x x^T for every class c at once.
            wq = q * w[:, None]
            blocks = _class_blocks(xp, wq, x1)
            return xp.concat(
                [xp.reshape(w @ loss, (1,)), grad, xp.reshape(hess, (-1,)), blocks]
            )

        def assemble(self, means):
            k, p = self.n_classes, self.n_params
            size = k + 1
            loss, grad = means[0], means[1 : p + 1]
            hess = -means[p + 1 : p + 1 + p * p].reshape(p, p)
            blocks = means[p + 1 + p * p :].reshape(k, size, size)
            for c in range(k):
                block = slice(c * size, (c + 1) * size)
                hess[block, block] += blocks[c]
            order = self._order
            return loss, grad[order], hess[np.ix_(order, order)]

        def grad_kernel(self, z, y, w, *, theta):
            xp = self.space.xp
            x, w = self._chunk(z, w)
            k = self.n_classes
            weights, bias = split(xp, self._theta(theta), k)
            loss, q, r = _softmax_residual(
                self.space, x @ weights.T + bias, y, self.device_eps
            )
            r = r * w[:, None]
            c = q * (1.0 - q) * w[:, None]
            parts = [
                xp.reshape(w @ loss, (1,)),
                xp.reshape(r.T @ x, (-1,)),
                xp.sum(r, axis=0),
                xp.reshape(c.T @ (x * x), (-1,)),
                xp.sum(c, axis=0),
            ]
            return xp.concat(parts)

        def hessp_kernel(self, z, y, w, *, theta, d):
            xp = self.space.xp
            x, w = self._chunk(z, w)
            k = self.n_classes
            weights, bias = split(xp, self._theta(theta), k)
            _, q, _ = _softmax_residual(self.space, x @ weights.T + bias, y, None)
            d_weights, d_bias = split(xp, self._theta(d), k)
            s = _curvature_times(xp, q, x @ d_weights.T + d_bias) * w[:, None]
            return xp.concat([xp.reshape(s.T @ x, (-1,)), xp.sum(s, axis=0)])

    transform = options.pop("transform", None)
    model = DeviceMatrixScalingModel(logits, y, sample_weight, **options)
    model._device_setup(space, logits, y, sample_weight, transform)
    return model


def _class_blocks(xp, wq, x1):
    """``[sum_i wq[i, c] x1_i x1_i^T for c]``, flattened (``k (k+1)^2`` values)."""
    blocks = [(x1 * wq[:, c : c + 1]).T @ x1 for c in range(wq.shape[1])]
    return xp.reshape(xp.stack(blocks), (-1,))


def scaling_model(kind, logits, y, sample_weight, **options):
    """The device model of vector (``kind="vector"``) or matrix scaling."""
    space = array_api_space(logits)
    if kind == "vector":
        options.pop("reg", None)
        return vector_scaling_model(space, logits, y, sample_weight, **options)
    return matrix_scaling_model(space, logits, y, sample_weight, **options)


def affine_softmax(X, transform, coef, intercept):
    """``softmax(W x + b)`` (``coef`` 1-D: ``w * x + b``) of ``X`` on its device.

    In ``X``'s dtype, chunk by chunk; ``transform`` as for the models.
    """
    space = array_api_space(X)
    xp = space.xp
    spec = _device_transform(transform)
    coef_dev = space.asarray(np.asarray(coef, np.float64), space.work)
    bias = space.asarray(np.asarray(intercept, np.float64), space.work)
    k = bias.shape[0]
    out = _Rows(space, (X.shape[0], k), X.dtype)
    for rows in _quiet_chunks(X.shape[0], 2 * k, space):
        x = _features(space, rows_of(X, rows), spec)
        a = x * coef_dev + bias if coef_dev.ndim == 1 else x @ coef_dev.T + bias
        out.put(rows, xp.astype(row_logsumexp_softmax(xp, a), X.dtype))
    return out.result()


def held_out_loss(X, y, w, transform, coef, intercept):
    """Weighted sum of the log-losses of ``softmax(W x + b)`` (cross-validation)."""
    space = array_api_space(X)
    xp = space.xp
    spec = _device_transform(transform)
    coef_dev = space.asarray(np.asarray(coef, np.float64), space.work)
    bias = space.asarray(np.asarray(intercept, np.float64), space.work)

    def kernel(z, labels, weights):
        x = _features(space, z, spec)
        a = x * coef_dev + bias if coef_dev.ndim == 1 else x @ coef_dev.T + bias
        loss, _, _ = _softmax_residual(space, a, labels, None)
        return xp.reshape(weights @ loss, (1,))

    args = (X, space.labels(y), space.weights(np.asarray(w, np.float64)))
    return float(reduce_chunks(space, kernel, *args, n_cols=2 * bias.shape[0])[0])


def fold_keys(X, y, transform):
    """Per row: the true class's feature and the row sum (two host vectors)."""
    space = array_api_space(X)
    xp = space.xp
    spec = _device_transform(transform)
    y_dev = space.labels(y)
    keys = np.empty((X.shape[0], 2))
    n_cols = 2 * (1 if X.ndim == 1 else X.shape[1])
    for rows in _quiet_chunks(X.shape[0], n_cols, space):
        x = _features(space, rows_of(X, rows), spec)
        pair = xp.stack([take_rows(xp, x, y_dev[rows]), xp.sum(x, axis=1)], axis=1)
        keys[rows] = to_host(pair)
    return keys

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


def max_abs(space, z, *, transform):
    """Device version of ``calibkit.calibrators._scaling._max_abs``: the
    largest finite ``|x|`` of a chunk's features, as a maximum (no sums)."""
    xp = space.xp
    x = xp.abs(_features(space, z, _device_transform(transform)))
    top = xp.max(xp.where(xp.isfinite(x), x, 0.0), keepdims=True)
    return xp.zeros(1, dtype=space.work, device=space.device), xp.reshape(top, (1,))


def _softmax_residual(space, a, y, eps, mask=None):
    """Per-row loss, ``q = softmax(a)`` and ``r = q - t`` (one-hot or smoothed).

    As :func:`calibkit._softmax_models._softmax_residual`: ``mask`` takes
    classes out of a row's softmax (exact zeros; never the true class), and
    the smoothed targets' share then goes to the classes left.
    """
    xp = space.xp
    k = a.shape[1]
    if mask is not None:
        a = xp.where(mask, -xp.inf, a)
    top = xp.max(a, axis=1)
    e = xp.exp(a - top[:, None])
    total = xp.sum(e, axis=1)
    q = e / total[:, None]
    truth = take_rows(xp, a, y)
    onehot = xp.astype(_column_is(xp, y, k, space), a.dtype)
    if eps is None:
        return xp.log(total) + top - truth, q, q - onehot
    eps_y = xp.take(eps, y)
    centred = a - top[:, None]
    if mask is None:
        share = eps_y / (k - 1)
    else:
        others = (k - 1) - xp.sum(xp.astype(mask, a.dtype), axis=1)
        eps_y = xp.where(others > 0, eps_y, 0.0)
        share = eps_y / xp.maximum(others, 1.0)
        centred = xp.where(mask, 0.0, centred)
    rest = xp.sum(centred, axis=1) - (truth - top)
    loss = xp.log(total) - (1.0 - eps_y) * (truth - top) - share * rest
    spread = share[:, None] if mask is None else xp.where(mask, 0.0, share[:, None])
    r = q - spread - (1.0 - eps_y - share)[:, None] * onehot
    return loss, q, r


def zero_masked(space, x, y, w, log_zero):
    """Device version of :func:`calibkit._softmax_models.zero_masked`.

    Returns ``(features, w, mask)``; ``w`` is never None here.
    """
    xp = space.xp
    mask = x == -xp.inf
    features = xp.maximum(x, float(log_zero))
    hit = take_rows(xp, xp.astype(mask, space.work), y) > 0
    w = xp.where(hit, 0.0, _weights(space, w, x.shape[0]))
    return features, w, mask & ~hit[:, None]


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

    def _chunk(self, z, y, w):
        """Features, weights and (exact zeros, else None) mask of a chunk."""
        x = _features(self.space, z, self.device_transform)
        if self.log_zero is not None:
            return zero_masked(self.space, x, y, w, self.log_zero)
        return x, _weights(self.space, w, x.shape[0]), None

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
            x, w, mask = self._chunk(z, y, w)
            k = self.n_classes
            a = _vector_logits(xp, x, self._theta(theta), k)
            loss, q, r = _softmax_residual(self.space, a, y, self.device_eps, mask)
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
            x, w, mask = self._chunk(z, y, w)
            k = self.n_classes
            a = _vector_logits(xp, x, self._theta(theta), k)
            loss, q, r = _softmax_residual(self.space, a, y, self.device_eps, mask)
            c = q * (1.0 - q) * w[:, None]
            cx = c * x
            parts = [w @ (r * x), w @ r]
            parts += [xp.sum(cx * x, axis=0), xp.sum(c, axis=0), xp.sum(cx, axis=0)]
            return xp.concat([xp.reshape(w @ loss, (1,)), *parts])

        def hessp_kernel(self, z, y, w, *, theta, d):
            xp = self.space.xp
            x, w, mask = self._chunk(z, y, w)
            k = self.n_classes
            a = _vector_logits(xp, x, self._theta(theta), k)
            _, q, _ = _softmax_residual(self.space, a, y, None, mask)
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
            x, w, mask = self._chunk(z, y, w)
            n, k = x.shape
            weights, bias = split(xp, self._theta(theta), k)
            loss, q, r = _softmax_residual(
                self.space, x @ weights.T + bias, y, self.device_eps, mask
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
            x, w, mask = self._chunk(z, y, w)
            k = self.n_classes
            weights, bias = split(xp, self._theta(theta), k)
            loss, q, r = _softmax_residual(
                self.space, x @ weights.T + bias, y, self.device_eps, mask
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
            x, w, mask = self._chunk(z, y, w)
            k = self.n_classes
            weights, bias = split(xp, self._theta(theta), k)
            a = x @ weights.T + bias
            _, q, _ = _softmax_residual(self.space, a, y, None, mask)
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


def _log_softmax_rows(xp, a):
    top = xp.max(a, axis=1, keepdims=True)
    shifted = a - top
    return shifted - xp.log(xp.sum(xp.exp(shifted), axis=1, keepdims=True))


def _calibrated_log_proba(xp, a, mask, zero_mass):
    """Device version of ``calibrators._scaling._calibrated_log_proba``."""
    if mask is None or zero_mass is None:
        return _log_softmax_rows(xp, a)
    k = a.shape[1]
    n_zero = xp.sum(xp.astype(mask, a.dtype), axis=1)
    full = n_zero == k
    part = (n_zero > 0) & ~full
    zeros = mask & part[:, None]
    out = _log_softmax_rows(xp, xp.where(zeros, -xp.inf, a))
    out = out + (float(np.log1p(-zero_mass)) * xp.astype(part, a.dtype))[:, None]
    share = float(np.log(zero_mass)) - xp.log(xp.maximum(n_zero, 1.0))
    out = xp.where(zeros, share[:, None], out)
    return xp.where(full[:, None], -float(np.log(k)), out)


def _affine(xp, x, coef, bias):
    return x * coef + bias if coef.ndim == 1 else x @ coef.T + bias


def affine_softmax(X, transform, coef, intercept, *, log_zero=None, zero_mass=None):
    """``softmax(W x + b)`` (``coef`` 1-D: ``w * x + b``) of ``X`` on its device.

    In ``X``'s dtype, chunk by chunk, never exactly 0 (at least the dtype's
    smallest normal number, as on the host); ``transform`` as for the models.
    With ``log_zero`` (probabilities), exact zeros are raised to it in the
    features and, with ``zero_mass``, share that probability (the calibrators'
    exact-zero policy).
    """
    space = array_api_space(X)
    xp = space.xp
    spec = _device_transform(transform)
    coef_dev = space.asarray(np.asarray(coef, np.float64), space.work)
    bias = space.asarray(np.asarray(intercept, np.float64), space.work)
    k = bias.shape[0]
    tiny = float(xp.finfo(X.dtype).smallest_normal)
    out = _Rows(space, (X.shape[0], k), X.dtype)
    for rows in _quiet_chunks(X.shape[0], 2 * k, space):
        x = _features(space, rows_of(X, rows), spec)
        mask = None
        if log_zero is not None:
            mask = x == -xp.inf
            x = xp.maximum(x, float(log_zero))
        log_q = _calibrated_log_proba(
            xp, _affine(xp, x, coef_dev, bias), mask, zero_mass
        )
        out.put(rows, xp.maximum(xp.astype(xp.exp(log_q), X.dtype), tiny))
    return out.result()


def held_out_loss(X, y, w, transform, coef, intercept, *, log_zero=None):
    """Weighted log-loss sum and weight of ``softmax(W x + b)`` (cross-validation).

    As ``calibkit.calibrators._scaling._held_out_kernel``: under the exact-zero
    policy (``log_zero``), a row whose truth is one of its zeros is left out.
    """
    space = array_api_space(X)
    xp = space.xp
    spec = _device_transform(transform)
    coef_dev = space.asarray(np.asarray(coef, np.float64), space.work)
    bias = space.asarray(np.asarray(intercept, np.float64), space.work)

    def kernel(z, labels, weights):
        x = _features(space, z, spec)
        mask = None
        if log_zero is not None:
            x, weights, mask = zero_masked(space, x, labels, weights, log_zero)
        a = _affine(xp, x, coef_dev, bias)
        loss, _, _ = _softmax_residual(space, a, labels, None, mask)
        return xp.stack([weights @ loss, xp.sum(weights)])

    args = (X, space.labels(y), space.weights(np.asarray(w, np.float64)))
    total, weight = reduce_chunks(space, kernel, *args, n_cols=2 * bias.shape[0])
    return float(total), float(weight)


def fold_keys(X, y, transform, log_zero=None):
    """Per row: the true class's feature and the row sum (two host vectors).

    Features below ``log_zero`` (exact zeros) are raised to it, as on the host.
    """
    space = array_api_space(X)
    xp = space.xp
    spec = _device_transform(transform)
    y_dev = space.labels(y)
    keys = np.empty((X.shape[0], 2))
    n_cols = 2 * (1 if X.ndim == 1 else X.shape[1])
    for rows in _quiet_chunks(X.shape[0], n_cols, space):
        x = _features(space, rows_of(X, rows), spec)
        if log_zero is not None:
            x = xp.maximum(x, float(log_zero))
        pair = xp.stack([take_rows(xp, x, y_dev[rows]), xp.sum(x, axis=1)], axis=1)
        keys[rows] = to_host(pair)
    return keys


def zero_scan(space, p, y, w):
    """Device version of ``calibkit.calibrators._scaling._zero_scan``.

    Sums ``[weight of rows with a zero, of those hit]`` and maxima
    ``[-smallest finite log p]`` over rows of positive weight.
    """
    from calibkit._transforms import exact_log_probabilities

    xp = space.xp
    logs = apply_transform(space, p, exact_log_probabilities)
    present = None if w is None else w > 0
    w = _weights(space, w, logs.shape[0])
    if present is not None:
        w = xp.where(present, w, 0.0)
        logs = xp.where(present[:, None], logs, xp.inf)  # out of the minimum
    zero = logs == -xp.inf
    n_zero = xp.sum(xp.astype(zero, space.work), axis=1)
    some = (n_zero > 0) & (n_zero < zero.shape[1])
    hit = some & (take_rows(xp, xp.astype(zero, space.work), y) > 0)
    finite = xp.where(xp.isfinite(logs), logs, xp.inf)
    sums = xp.stack([xp.sum(xp.where(some, w, 0.0)), xp.sum(xp.where(hit, w, 0.0))])
    return sums, xp.reshape(-xp.min(finite), (1,))

"""Vector scaling, matrix scaling and Dirichlet calibration: affine maps of logits.

The three are one model, ``softmax(W x + b)`` on a row ``x`` of logits (vector
scaling: ``W`` diagonal; Dirichlet calibration: ``x = log p``), fitted by
minimising the weighted mean log-loss exactly (:mod:`calibkit._softmax_models`).
"""

import functools
import re
import textwrap
import warnings
from numbers import Integral, Real

import numpy as np

from calibkit._array_api import (
    affine_softmax,
    fold_keys,
    held_out_loss,
    is_on_device,
    scaling_model,
    to_host,
)
from calibkit._chunks import as_float64, is_dask, reduce_rows, row_chunks
from calibkit._softmax_models import (
    SEPARATION_LP_MAX_NONZEROS,
    MatrixScalingModel,
    VectorScalingModel,
    minimize_scaling,
    separating_direction,
    softmax_terms,
    zero_masked,
)
from calibkit._solvers import scale_exponent, scaled_transform, smoothing_eps
from calibkit._transforms import binary_logits, exact_log_probabilities
from calibkit._validation import Interval, StrOptions
from calibkit.calibrators._base import BaseCalibrator, warn_if_saturated
from calibkit.calibrators._state import Codec, Float, Int, Optional, short_list
from calibkit.exceptions import CalibrationWarning, NoFiniteOptimumWarning
from calibkit.metrics._kernels import scaled_to_unit_max

__all__ = ["DirichletCalibration", "MatrixScaling", "VectorScaling"]

#: Regularisation strengths tried by ``"cv"``, strongest first (a tie goes to
#: the stronger, i.e. simpler, map).
REG_GRID = (1.0, 1e-1, 1e-2, 1e-3, 1e-4, 1e-5)

_NON_NEGATIVE = Interval(Real, 0, None, closed="left")

#: Folds of the cross-validation behind ``"cv"``.
CV_FOLDS = 5

_TINY = float(np.finfo(np.float64).tiny)


# -- fitted state ------------------------------------------------------------


def _n_classes(n_models):
    return 2 if n_models == 1 else n_models


class ClassVector(Codec):
    """A float64 array with one value per class (``2`` for a binary problem)."""

    def encode(self, value):
        return {"dtype": "float64", "values": np.asarray(value, np.float64).tolist()}

    def decode(self, fields, key, n_models):
        return fields.array(key, length=_n_classes(n_models)).astype(np.float64)


class ClassMatrix(Codec):
    """A float64 ``(K, K)`` matrix, stored row-major as ``K * K`` values."""

    def encode(self, value):
        values = np.asarray(value, np.float64).ravel().tolist()
        return {"dtype": "float64", "values": values}

    def decode(self, fields, key, n_models):
        k = _n_classes(n_models)
        array = fields.array(key, length=k * k).astype(np.float64)
        return array.reshape(k, k)


# -- per-chunk maps from X to the rows x of the model -----------------------


def _log_softmax(z):
    """Row-wise log-softmax of a float64 array, stable (no overflow)."""
    top = z.max(axis=1, keepdims=True)
    with np.errstate(over="ignore"):
        shifted = z - top
    total = np.exp(shifted).sum(axis=1, keepdims=True)
    return shifted - np.log(total)


def _binary_log_softmax(s):
    """``(log(1 - p), log p)`` of ``p = sigmoid(s)``, without cancellation."""
    return np.stack([-np.logaddexp(0.0, s), -np.logaddexp(0.0, -s)], axis=1)


def _zero_scan(rows, p, y, w):
    """``[smallest finite log p, weight of rows with a zero, of those hit]``.

    A row "with a zero" has some probability exactly 0 and some positive; it
    is "hit" when its true class is one of its zeros.
    """
    logs = exact_log_probabilities(as_float64(p))
    if w is not None:
        # Rows of zero weight are not in the calibration set: a weight of 0
        # must act as a deleted row (integer weights = repeated rows).
        keep = np.asarray(w) > 0
        logs, y, w = logs[keep], y[keep], np.asarray(w)[keep]
    finite = logs[np.isfinite(logs)]
    zero = np.isneginf(logs)
    n_zero = zero.sum(axis=1)
    some = (n_zero > 0) & (n_zero < zero.shape[1])
    hit = some & zero[np.arange(zero.shape[0]), y]
    w = np.ones(logs.shape[0]) if w is None else w
    lowest = finite.min() if finite.size else np.inf
    return np.array([lowest, w[some].sum(), w[hit].sum()])


def _max_abs(rows, z, *, transform):
    """``[largest finite |x|]`` of a chunk's rows ``x`` (0 if none)."""
    x = as_float64(z) if transform is None else transform(as_float64(z))
    x = np.abs(x[np.isfinite(x)])
    return np.array([x.max() if x.size else 0.0])


def _combine_zero_scans(a, b):
    return np.array([min(a[0], b[0]), a[1] + b[1], a[2] + b[2]])


def _zero_mass(n_rows, n_hit):
    """Laplace's rule ``(n_hit + 1) / (n_rows + 2)``, strictly inside (0, 1)."""
    mass = (n_hit + 1.0) / (n_rows + 2.0)
    return float(np.clip(mass, _TINY, 1.0 - np.finfo(np.float64).epsneg))


def _calibrated_log_proba(a, mask, zero_mass):
    """Log-probabilities of logits ``a`` under the exact-zero policy.

    Without ``zero_mass`` (or a mask), ``log softmax(a)``. Otherwise a row with
    zeros (``mask``) gives them ``zero_mass`` shared evenly and the softmax of
    its other classes the rest. (A row of zeros only never comes here: its
    probabilities do not sum to 1, and validation refuses it.)
    """
    if mask is None or zero_mass is None:
        return _log_softmax(a)
    n_zero = mask.sum(axis=1)
    out = _log_softmax(np.where(mask, -np.inf, a))
    out[n_zero > 0] += np.log1p(-zero_mass)
    out[mask] = np.log(zero_mass) - np.log(n_zero[np.nonzero(mask)[0]])
    return out


def _floored_proba(log_q, dtype):
    """``exp(log_q)`` in ``dtype``, at least its smallest normal number.

    A finite logit never gives a probability of exactly 0; rounding to the
    output dtype must not either (it would cost an infinite log-loss).
    """
    out = np.exp(log_q).astype(dtype, copy=False)
    return np.maximum(out, np.finfo(dtype).tiny, out=out)


class _AffineSoftmaxCalibrator(BaseCalibrator):
    """Shared fitting and prediction of ``softmax(W x + b)`` (see subclasses)."""

    #: "vector" (diagonal W) or "matrix".
    _kind = "matrix"
    #: Whether logits are first turned into log-probabilities (Dirichlet).
    _log_softmax_logits = False

    _parameter_constraints = {
        **BaseCalibrator._parameter_constraints,
        "max_iter": [Interval(Integral, 1, None, closed="left")],
    }

    # -- features -------------------------------------------------------

    def _transform(self, X):
        """Per-chunk map from ``X`` to the float64 rows ``x`` (or None)."""
        if self.input == "probabilities":
            # -inf at exact zeros: see zero_masked (log_zero_).
            return exact_log_probabilities
        if self._log_softmax_logits:
            return _binary_log_softmax if X.ndim == 1 else _log_softmax
        return binary_logits if X.ndim == 1 else None

    def _scan_zeros(self, X, y, sample_weight):
        """``log_zero_`` and ``zero_mass_`` (see the Notes) in one pass."""
        lowest, n_rows, n_hit = reduce_rows(
            _zero_scan, X, y, sample_weight, combine=_combine_zero_scans
        )
        self.log_zero_ = float(lowest) if np.isfinite(lowest) else 0.0
        self.zero_mass_ = _zero_mass(n_rows, n_hit) if n_rows > 0 else None

    def _masking(self):
        """``log_zero`` for :func:`~calibkit._softmax_models.zero_masked`, or None."""
        return self.log_zero_ if self.input == "probabilities" else None

    def _array_api_native(self):
        # Every pass is a reduction: logits and probabilities (exact zeros
        # masked) are fitted and predicted on their device (see _array_api/).
        return True

    def _model(self, X, y, sample_weight, transform, reg, eps):
        # The fit depends on ratios of weights only (the smoothed targets,
        # which count rows, are computed from the weights as given): scaled
        # exactly to a unit maximum, subnormal weights keep their digits.
        sample_weight = scaled_to_unit_max(sample_weight)
        options = {
            "transform": transform,
            "eps": eps,
            "n_classes": len(self.classes_),
            "log_zero": self._masking(),
        }
        if is_on_device(X):
            return scaling_model(self._kind, X, y, sample_weight, reg=reg, **options)
        if self._kind == "vector":
            return VectorScalingModel(X, y, sample_weight, **options)
        return MatrixScalingModel(X, y, sample_weight, reg=reg, **options)

    def _start(self):
        """The identity map: ``W = I``, ``b = 0``."""
        k = len(self.classes_)
        if self._kind == "vector":
            return np.concatenate([np.ones(k), np.zeros(k)])
        return np.concatenate([np.eye(k).ravel(), np.zeros(k)])

    def _parameters(self, theta, reg):
        """``(W or w, b)`` from ``theta``, in the documented gauge."""
        k = len(self.classes_)
        if self._kind == "vector":
            coef, intercept = theta[:k].copy(), theta[k:].copy()
        else:
            coef, intercept = theta[: k * k].reshape(k, k).copy(), theta[k * k :].copy()
            if reg[0] == 0.0 and k > 1:
                # Column shifts of W do not change the softmax: pick the one
                # with off-diagonal entries summing to 0 in every column.
                off = coef.sum(axis=0) - np.diag(coef)
                coef -= off / (k - 1)
        if reg[1] == 0.0:
            intercept -= intercept.mean()
        return coef, intercept

    # -- fitting --------------------------------------------------------

    def _solve(self, X, y, sample_weight, transform, reg, *, warn, start=None):
        """Exact fit; smoothed targets when the one-hot optimum is at infinity.

        ``start`` (default: the identity map) only changes where the solver
        starts, and the gauge of the flat directions it leaves untouched.
        """
        start = self._start() if start is None else start
        model = self._model(X, y, sample_weight, transform, reg, None)
        if self._separated(X, y, sample_weight, transform, reg):
            result = None
        else:
            result = minimize_scaling(model, start, max_iter=self.max_iter)
        if result is None or result.status == "no_finite_optimum":
            if warn:
                warnings.warn(
                    f"The log-loss of {type(self).__name__} has no finite minimiser "
                    "on these rows: the scores separate the classes (or part of "
                    "them), so the fitted map keeps sharpening towards certain "
                    "predictions. Fitted with smoothed targets instead (Platt's, "
                    "as in TemperatureScaling(target_smoothing=True)); add "
                    "regularisation or calibrate on more rows.",
                    NoFiniteOptimumWarning,
                    stacklevel=4,
                )
            eps = smoothing_eps(y, sample_weight, len(self.classes_))
            model = self._model(X, y, sample_weight, transform, reg, eps)
            result = minimize_scaling(model, self._start(), max_iter=self.max_iter)
        if warn and not result.converged:
            warnings.warn(
                f"{type(self).__name__} did not converge in max_iter={self.max_iter} "
                "iterations; increase max_iter.",
                CalibrationWarning,
                stacklevel=4,
            )
        return result

    def _regularisation(self, X, y, sample_weight, transform):
        return (0.0, 0.0)

    def _separated(self, X, y, sample_weight, transform, reg):
        """Exact check (a small linear programme) for a ray of falling loss.

        The solver alone notices complete separation; separation of part of
        the classes lets the loss flatten out at a large but finite-looking
        map. None of this is checked for dask input or for problems above
        ``SEPARATION_LP_MAX_NONZEROS`` (the solver's detection remains).
        """
        n, k = X.shape[0], len(self.classes_)
        per_row = 4 if self._kind == "vector" else 2 * k + 2
        if is_dask(X) or n * (k - 1) * per_row > SEPARATION_LP_MAX_NONZEROS:
            return False
        # A float64 copy of at most SEPARATION_LP_MAX_NONZEROS / 2 values (1 MB),
        # by the bound just checked: the programme itself is larger.
        x = as_float64(to_host(X) if is_on_device(X) else np.asarray(X))
        if transform is not None:
            x = transform(x)
        lam, mu = reg
        return bool(
            separating_direction(
                x,
                np.asarray(y),
                sample_weight,
                kind=self._kind,
                fixed_off_diagonal=lam > 0,
                fixed_bias=mu > 0,
                log_zero=self._masking(),
            )
        )

    def _fit(self, X, y, sample_weight):
        warn_if_saturated(
            X,
            self.input,
            "the event that the truth is one of a row's zeros gets a fitted "
            "probability of its own, zero_mass_",
        )
        self.log_zero_ = self.zero_mass_ = None
        if self.input == "probabilities":
            self._scan_zeros(X, y, sample_weight)
        transform = self._transform(X)
        exponent = 0
        if self.input == "logits":
            # Logits outside [2**-200, 2**50] in magnitude are multiplied by a
            # power of two, exactly, before solving (as in TemperatureScaling);
            # the fitted W (w) is multiplied back, so predictions use X as is.
            kernel = functools.partial(_max_abs, transform=transform)
            magnitude = float(reduce_rows(kernel, X, combine=np.maximum)[0])
            exponent = -scale_exponent(magnitude)
            transform = scaled_transform(transform, exponent)
        reg = self._regularisation(X, y, sample_weight, transform)
        result = self._solve(X, y, sample_weight, transform, reg, warn=True)
        coef, self.intercept_ = self._parameters(result.theta, reg)
        self.coef_ = np.ldexp(coef, exponent)
        if exponent and self._kind == "vector" and X.ndim == 1:
            self.coef_[0] = 1.0  # the scale of the constant logit 0
        self.n_iter_ = int(result.n_iter)
        if self._kind == "matrix":
            self.reg_off_diagonal_, self.reg_bias_ = reg

    # -- prediction -----------------------------------------------------

    def _logits(self, x, coef, intercept):
        if coef.ndim == 1:
            return x * coef + intercept
        return x @ coef.T + intercept

    def _predict_proba(self, X):
        transform = self._transform(X)
        if is_on_device(X):
            return affine_softmax(
                X,
                transform,
                self.coef_,
                self.intercept_,
                log_zero=self._masking(),
                zero_mass=getattr(self, "zero_mass_", None),
            )
        n_classes = len(self.classes_)
        out = np.empty((X.shape[0], n_classes), dtype=X.dtype)
        log_zero = self._masking()
        for rows in row_chunks(X.shape[0], 2 * n_classes):
            x = as_float64(X[rows])
            if transform is not None:
                x = transform(x)
            mask = None
            if log_zero is not None:
                mask = np.isneginf(x)
                x = np.maximum(x, log_zero)
            a = self._logits(x, self.coef_, self.intercept_)
            zero_mass = getattr(self, "zero_mass_", None)
            log_q = _calibrated_log_proba(a, mask, zero_mass)
            out[rows] = _floored_proba(log_q, X.dtype)
        return out


def _held_out_kernel(rows, z, y, w, *, transform, coef, intercept, logits, log_zero):
    """Weighted log-loss of the map on held-out rows (``[sum w loss, sum w]``).

    Under the exact-zero policy, a row whose truth is one of its zeros is
    left out, and the others lose the constant ``log(1 - zero_mass_)``: both
    parts are the same for every regularisation strength compared.
    """
    x = as_float64(z) if transform is None else transform(as_float64(z))
    mask = None
    if log_zero is not None:
        x, w, mask = zero_masked(x, y, w, log_zero)
    loss, _ = softmax_terms(logits(x, coef, intercept), y, mask=mask)
    return np.array([w @ loss, w.sum()])


class _RegularisedCalibrator(_AffineSoftmaxCalibrator):
    """Matrix scaling with ODIR regularisation (Kull et al. 2019)."""

    _parameter_constraints = {
        **_AffineSoftmaxCalibrator._parameter_constraints,
        "reg_off_diagonal": [
            Interval(Real, 0, None, closed="left"),
            StrOptions({"cv"}),
        ],
        "reg_bias": [Interval(Real, 0, None, closed="left"), StrOptions({"cv"})],
    }

    _fitted_state = {
        "coef_": ClassMatrix(),
        "intercept_": ClassVector(),
        "reg_off_diagonal_": Float(minimum=0),
        "reg_bias_": Float(minimum=0),
        "n_iter_": Int(minimum=0),
        "log_zero_": Optional(Float()),
        "zero_mass_": Optional(Float(minimum=_TINY, below=1.0)),
    }

    def __init__(
        self, *, input="logits", reg_off_diagonal="cv", reg_bias="cv", max_iter=500
    ):
        self.input = input
        self.reg_off_diagonal = reg_off_diagonal
        self.reg_bias = reg_bias
        self.max_iter = max_iter

    def _summary(self):
        k = self.coef_.shape[0]
        text = (
            f"{k}x{k} matrix with diagonal {short_list(np.diag(self.coef_), 3)}, "
            f"intercepts {short_list(self.intercept_, 3)}; regularisation "
            f"off-diagonal {self.reg_off_diagonal_:g}, bias {self.reg_bias_:g}"
        )
        if getattr(self, "zero_mass_", None) is not None:
            text += f", probability of the exact zeros {self.zero_mass_:.4g}"
        elif getattr(self, "log_zero_", None) is not None:
            text += f", log of exact zeros {self.log_zero_:.4g}"
        return text

    def _regularisation(self, X, y, sample_weight, transform):
        """``(lam, mu)``: the given values, or chosen by cross-validation."""
        lam, mu = self.reg_off_diagonal, self.reg_bias
        if lam != "cv" and mu != "cv":
            return float(lam), float(mu)
        if lam == "cv" and mu == "cv":
            grid = [(g, g) for g in REG_GRID]
        elif lam == "cv":
            grid = [(g, float(mu)) for g in REG_GRID]
        else:
            grid = [(float(lam), g) for g in REG_GRID]
        folds = _folds(X, y, transform, self._masking())
        if folds is None:  # too few rows to hold any out: the strongest
            return grid[0]
        # Strongest first; each fold starts from its fit at the previous strength.
        starts = [None] * len(folds)
        losses = [
            self._cv_loss(X, y, sample_weight, transform, reg, folds, starts)
            for reg in grid
        ]
        return grid[int(np.argmin(losses))]

    def _cv_loss(self, X, y, sample_weight, transform, reg, folds, starts):
        """Held-out mean log-loss of the fit with ``reg``, over ``folds``.

        Held-out rows are given weight 0 in the fit (exactly as if left
        out), so no subset of ``X`` is copied.
        """
        base = np.ones(X.shape[0]) if sample_weight is None else sample_weight
        # Held-out losses are compared by their weighted mean: ratios only.
        held = scaled_to_unit_max(base)
        total, weight = 0.0, 0.0
        for i, test in enumerate(folds):
            train_w = base.copy()
            train_w[test] = 0.0
            result = self._solve(
                X, y, train_w, transform, reg, warn=False, start=starts[i]
            )
            starts[i] = result.theta
            coef, intercept = self._parameters(result.theta, reg)
            test_w = np.zeros_like(base)
            test_w[test] = held[test]
            kernel = functools.partial(
                _held_out_kernel,
                transform=transform,
                coef=coef,
                intercept=intercept,
                logits=self._logits,
                log_zero=self._masking(),
            )
            if is_on_device(X):
                fold_loss, fold_weight = held_out_loss(
                    X, y, test_w, transform, coef, intercept, log_zero=self._masking()
                )
                total += fold_loss
                weight += fold_weight
            else:
                fold_loss, fold_weight = reduce_rows(
                    kernel, X, y, test_w, n_cols=2 * coef.shape[0]
                )
                total += float(fold_loss)
                weight += float(fold_weight)
        return total / weight if weight > 0 else 0.0


def _fold_key(rows, z, y, *, transform, log_zero):
    x = as_float64(z) if transform is None else transform(as_float64(z))
    if log_zero is not None:
        x = np.maximum(x, log_zero)
    return np.stack([x[np.arange(x.shape[0]), y], x.sum(axis=1)], axis=1)


def _folds(X, y, transform, log_zero):
    """Held-out index sets of the ``"cv"`` search (None if too few rows).

    Stratified: the rows of each class, sorted by their features (the true
    class's value, then the row sum), are dealt to the folds in turn, so the
    folds do not depend on the order of the rows and each spans the range of
    the scores. ``min(CV_FOLDS, rows of the rarest class present)`` folds, at
    least 2; rows of weight 0 count too (they are held out like any other).
    """
    counts = np.bincount(y)
    present = counts[counts > 0]
    n_splits = int(min(CV_FOLDS, max(2, present.min())))
    if y.shape[0] < n_splits or present.shape[0] < 2:
        return None
    if is_on_device(X):  # computed on the device: two numbers per row come back
        keys = fold_keys(X, y, transform, log_zero)
    else:
        keys = np.empty((y.shape[0], 2))
        for rows in row_chunks(y.shape[0], 2 * (1 if X.ndim == 1 else X.shape[1])):
            keys[rows] = _fold_key(
                rows,
                np.asarray(X[rows]),
                y[rows],
                transform=transform,
                log_zero=log_zero,
            )
    order = np.lexsort((keys[:, 1], keys[:, 0], y))
    fold = np.empty(y.shape[0], dtype=np.intp)
    start = 0
    for count in counts:
        fold[order[start : start + count]] = np.arange(count) % n_splits
        start += count
    return [np.flatnonzero(fold == i) for i in range(n_splits)]


_SHARED_NOTES = """
    **Gauge.** The softmax ignores a constant added to every logit of a row,
    so ``b + c`` and ``b`` give the same predictions; the fit returns the
    intercepts with ``sum(intercept_) == 0``{matrix_gauge}. With this gauge
    the fitted parameters are unique whenever the optimum is (a column of
    ``X`` that is constant, for example, leaves its coefficient
    unidentified; it then keeps its starting value 1).

    **Inputs.** ``X`` holds logits, or with ``input="probabilities"``
    probabilities, whose logs the map is applied to{log_note}. 1-D binary
    log-odds ``s`` are the two logits ``(0, s)``{binary_note}; 1-D
    probabilities ``p`` of ``classes_[1]`` are ``(1 - p, p)``. Logits
    (for Dirichlet calibration: their log-softmax) of magnitude outside
    ``[2**-200, 2**50]`` are multiplied by a power of two, exactly, before
    solving, and ``coef_`` is multiplied back, so that vector and matrix
    scaling are scale-equivariant from ``1e-300`` to ``1e300`` (a positive
    ODIR penalty then acts on the rescaled coefficients).

    **Array API inputs.** With dispatch on (:func:`calibkit.config_context`),
    logits held by torch, CuPy, JAX or array-api-strict are fitted and
    predicted on their device (the Newton system, ``p x p``, is solved on the
    host) and ``predict_proba`` returns an array of their library;
    ``input="probabilities"`` too (exact zeros are masked on the device).

    **Exact zeros.** ``log 0`` is not a number the affine map can use, and
    a model's zeros are usually right on calibration rows, so a map that
    trusted them would give probability 0 -- and an infinite held-out
    log-loss -- on the first new row where one was wrong. With
    ``input="probabilities"`` the model is therefore: on a row whose
    probabilities are exactly 0 for a set ``Z`` of classes, the event "the
    truth is in ``Z``" gets probability ``zero_mass_``, shared evenly by the
    classes of ``Z``, and the other classes share ``1 - zero_mass_`` by the
    softmax of their own calibrated logits (rows without zeros: the plain
    softmax). The log-loss then splits exactly into a term of ``zero_mass_``
    alone and one of ``(W, b)`` alone (the softmax over each row's positive
    classes; a row whose truth is in ``Z`` does not constrain the map), and
    each is minimised exactly. ``zero_mass_`` is Laplace's rule of
    succession on the weighted calibration rows with a zero,
    ``(n_Z + 1) / (n + 2)`` for ``n_Z`` of ``n`` such rows with the truth in
    ``Z`` -- the exact minimiser of the log-loss plus Platt's prior (one
    pseudo-row of each outcome), as Platt scaling's ``zero_proba_`` -- so it
    is never 0 even when every zero was right. For matrix scaling a zero
    still enters the other classes' logits as a value: ``log_zero_``, the
    smallest finite log-probability in the calibration ``X``, to which any
    smaller value at prediction is raised (as isotonic calibration clips to
    the range it saw). When the calibration set had no row with a zero,
    ``zero_mass_`` is None and a zero met later is taken as ``log_zero_``
    in the plain softmax. Either way no probability is exactly 0: one that
    underflows is returned as the smallest normal number of the output
    dtype. A :class:`~calibkit.exceptions.CalibrationWarning` says when
    ``X`` holds exact zeros. Rows of zeros only are refused, as for every
    calibrator.

    **Solver.** The loss is convex in ``(W, b)``. Up to 300 parameters
    (vector scaling with ``K <= 150`` classes, matrix scaling with
    ``K <= 16``) it is minimised by damped Newton with a dense Hessian: each
    iteration is one pass over the rows (``O(n p^2)`` work for ``p``
    parameters) and a solve of the ``p x p`` system, ``O(p^3)``: ``O(K^3)``
    for vector scaling and ``O(K^6)`` for matrix scaling. Larger models use
    Newton-CG: the Hessian is only applied to vectors, one pass each
    (``O(n K)`` for vector scaling, ``O(n K^2)`` for matrix scaling), and a
    Newton step costs ``O(p)`` on the small system per CG iteration,
    preconditioned by the Hessian's diagonal; memory is ``O(p)`` plus a few
    chunk-sized temporaries (the dense path: a few copies of the ``p x p``
    Hessian, at most a few MB), so float32 input is never copied to float64.
    Both stop when the predicted decrease of the loss is at rounding level,
    where the gradient is at noise level. ``n_iter_`` counts passes over the
    data. Vector scaling at ``K = 1000`` (1,500 rows) takes about 230 passes
    of ``O(n K)`` each. Matrix scaling at ``K = 1000`` has a million
    parameters and costs ``O(n K^2)`` per pass and a few hundred passes: it
    is not a supported size (no test or benchmark covers it); use vector or
    temperature scaling there.

    **No finite optimum.** Without regularisation the log-loss may keep
    falling as the map sharpens towards certain predictions (scores that
    separate the classes, all or only some of them). A small linear
    programme decides this exactly before the fit (a direction of the
    parameters that lowers no row's margin and raises one); on problems of
    more than ``250_000 / 4`` row-class pairs (vector scaling; matrix
    scaling: ``250_000 / (2 K + 2)``), and on dask arrays, it is skipped and
    the solver detects only complete separation (the curvature along the
    path vanishes): separation of part of the classes then ends in a
    finite-looking map that is still sharpening, with no warning (this
    limit is not detected more cheaply; add regularisation on such sets).
    Either way a detected case warns with a
    :class:`~calibkit.exceptions.NoFiniteOptimumWarning`; the fit then uses
    Platt's smoothed targets instead (see ``TemperatureScaling``'s
    ``target_smoothing``), whose optimum is finite.

    The fit depends on relative sample weights only (integer weights act as
    repeated rows).
"""

#: Parameters (after ``input``) and Attributes of the two ODIR-regularised
#: calibrators, filled into their docstrings.
_MATRIX_PARAMETERS = """
    reg_off_diagonal : float >= 0 or "cv", default="cv"
        ``lam``, the weight of the mean squared off-diagonal entry of ``W``
        (see Notes).
    reg_bias : float >= 0 or "cv", default="cv"
        ``mu``, the weight of the mean squared intercept.
    max_iter : int, default=500
        Maximum number of Newton iterations (per fit).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    coef_ : ndarray of shape (n_classes, n_classes)
        ``W``: row ``i`` gives the calibrated logit of class ``i``.
    intercept_ : ndarray of shape (n_classes,)
        ``b``.
    reg_off_diagonal_, reg_bias_ : float
        The regularisation used (chosen, with ``"cv"``).
    log_zero_ : float or None
        With ``input="probabilities"``: the feature value of exact zeros and
        of values below it (see Notes). None for logits.
    zero_mass_ : float or None
        With ``input="probabilities"``: probability that the truth is one of
        a row's exact zeros, shared evenly by them (see Notes). None for
        logits, and when no calibration row had a zero.
    n_iter_ : int
        Passes over the data used by the solver in the final fit.
    n_features_in_ : int
        1 for 1-D scores, else the number of columns of ``X``.
    feature_names_in_ : ndarray of str
        Column names of a DataFrame ``X``, when it had string names.
"""

_ODIR_NOTES = """
    **Regularisation (ODIR).** The objective is Kull et al.'s (2019)
    off-diagonal and intercept regularisation,
    ``mean weighted log-loss + lam / (K (K - 1)) * sum_{i != j} W_ij^2
    + mu / K * sum_j b_j^2`` with ``lam = reg_off_diagonal`` and
    ``mu = reg_bias``. The diagonal is not penalised, so the map can still
    sharpen or soften each class. ``"cv"`` picks the strength from the grid
    ``1, 0.1, 0.01, 1e-3, 1e-4, 1e-5`` (when both are ``"cv"``, ``lam = mu``
    along the grid; when one is a number, only the other is searched) by the
    weighted held-out log-loss over ``min(5, rows of the rarest class)``
    folds (at least 2), stratified: the rows of each class, sorted by their
    features, are dealt to the folds in turn, so the choice is deterministic
    and does not depend on the order of the rows. Each fold is scored by
    the map fitted on the other folds (its rows get weight 0, exactly as if
    removed); a tie goes to the stronger regularisation; the chosen values
    are stored in ``reg_off_diagonal_`` and ``reg_bias_`` and the map is
    refitted on all rows. Inside ``CalibratedClassifier(method="auto")``
    this happens within each outer training fold, so no held-out row is
    seen. The default is
    ``"cv"``, Kull et al.'s recommended setting: an unregularised ``K x K``
    map overfits small calibration sets. ``0`` gives plain maximum
    likelihood. A weighted row stays whole in its fold, so with ``"cv"``
    integer weights equal repeated rows only when the same strength is
    chosen (at given strengths they always do).
"""


class VectorScaling(_AffineSoftmaxCalibrator):
    """Vector scaling: ``p = softmax(coef_ * z + intercept_)`` fitted by log-loss.

    One scale and one intercept per class (Guo et al. 2017), ``2 K``
    parameters, between temperature scaling (one) and matrix scaling
    (``K^2 + K``).

    Parameters
    ----------
    input : {"logits", "probabilities"}, default="logits"
        What ``X`` holds: a column of logits per class (1-D: log-odds of
        ``classes_[1]``), or probabilities, whose logs are used.
    max_iter : int, default=500
        Maximum number of Newton iterations.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    coef_ : ndarray of shape (n_classes,)
        Scale ``w_k`` of each class's logit.
    intercept_ : ndarray of shape (n_classes,)
        Intercepts ``b_k``, summing to 0 (see Notes).
    log_zero_ : float or None
        With ``input="probabilities"``: the feature value of exact zeros and
        of values below it (see Notes). None for logits.
    zero_mass_ : float or None
        With ``input="probabilities"``: probability that the truth is one of
        a row's exact zeros, shared evenly by them (see Notes). None for
        logits, and when no calibration row had a zero.
    n_iter_ : int
        Passes over the data used by the solver.
    n_features_in_ : int
        1 for 1-D scores, else the number of columns of ``X``.
    feature_names_in_ : ndarray of str
        Column names of a DataFrame ``X``, when it had string names.

    See Also
    --------
    TemperatureScaling : One parameter; never changes the predicted class.
    MatrixScaling : A full matrix ``W``.
    DirichletCalibration : Matrix scaling on log-probabilities.

    Notes
    -----
    The mean log-loss ``L = mean[logsumexp(a_i) - a_{i, y_i}]`` with
    ``a = w * z + b`` has gradient ``mean[(r z, r)]`` (``r = softmax(a) - y``
    one-hot) and Hessian ``mean[J^T (diag q - q q^T) J]`` with
    ``J = [diag z, I]``.
    {shared}
    References
    ----------
    .. [1] Guo, C., Pleiss, G., Sun, Y. & Weinberger, K. Q. (2017). On calibration
       of modern neural networks. ICML, PMLR 70, 1321-1330.
       doi:10.48550/arXiv.1706.04599

    Examples
    --------
    >>> import numpy as np
    >>> from calibkit import VectorScaling
    >>> rng = np.random.default_rng(0)
    >>> logits = rng.normal(size=(300, 3))
    >>> y = (logits + rng.gumbel(size=(300, 3))).argmax(axis=1)
    >>> cal = VectorScaling().fit(logits, y)
    >>> cal.coef_.round(3)
    array([0.98 , 1.094, 1.03 ])
    >>> cal.predict_proba(logits).shape
    (300, 3)

    Probabilities with exact zeros: 60 rows give class 2 probability 0, and
    20 of them are of class 2. Their share is Laplace's rule, 21 / 62:

    >>> import warnings
    >>> p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    >>> p[:60, 2] = 0.0
    >>> p /= p.sum(axis=1, keepdims=True)
    >>> int(np.sum(y[:60] == 2))
    20
    >>> with warnings.catch_warnings():  # the warning about exact zeros
    ...     warnings.simplefilter("ignore")
    ...     cal = VectorScaling(input="probabilities").fit(p, y)
    >>> cal.zero_mass_ == 21 / 62
    True
    >>> cal.predict_proba([[0.0, 1.0, 0.0]]).round(4)
    array([[0.1694, 0.6613, 0.1694]])
    """

    _fitted_state = {
        "coef_": ClassVector(),
        "intercept_": ClassVector(),
        "n_iter_": Int(minimum=0),
        "log_zero_": Optional(Float()),
        "zero_mass_": Optional(Float(minimum=_TINY, below=1.0)),
    }

    _kind = "vector"

    def __init__(self, *, input="logits", max_iter=500):
        self.input = input
        self.max_iter = max_iter

    def _summary(self):
        text = (
            f"scales {short_list(self.coef_, 3)}, "
            f"intercepts {short_list(self.intercept_, 3)}"
        )
        if getattr(self, "zero_mass_", None) is not None:
            text += f", probability of the exact zeros {self.zero_mass_:.4g}"
        elif getattr(self, "log_zero_", None) is not None:
            text += f", log of exact zeros {self.log_zero_:.4g}"
        return text


class MatrixScaling(_RegularisedCalibrator):
    """Matrix scaling: ``p = softmax(coef_ @ z + intercept_)`` fitted by log-loss.

    A full ``K x K`` matrix and ``K`` intercepts (Guo et al. 2017), with the
    ODIR regularisation of Kull et al. (2019), chosen by cross-validation by
    default.

    Parameters
    ----------
    input : {"logits", "probabilities"}, default="logits"
        What ``X`` holds: a column of logits per class (1-D: log-odds of
        ``classes_[1]``), or probabilities, whose logs are used (the same
        model as :class:`DirichletCalibration` then).
    {matrix_parameters}
    See Also
    --------
    VectorScaling : A diagonal ``W``.
    DirichletCalibration : The same map on log-probabilities.

    Notes
    -----
    With ``x = (z, 1)`` and ``Theta = [W | b]`` the mean log-loss has gradient
    ``mean[r x^T]`` and Hessian ``mean[(diag q - q q^T) kron x x^T]``. Matrix
    scaling of logits depends on how each row of logits is shifted (``W``
    times a constant row is not constant unless ``W``'s rows sum alike):
    use :class:`DirichletCalibration` for a map of the probabilities alone.
    {odir}{shared}
    References
    ----------
    .. [1] Guo, C., Pleiss, G., Sun, Y. & Weinberger, K. Q. (2017). On calibration
       of modern neural networks. ICML, PMLR 70, 1321-1330.
       doi:10.48550/arXiv.1706.04599
    .. [2] Kull, M., Perello-Nieto, M., Kängsepp, M., Silva Filho, T., Song, H. &
       Flach, P. (2019). Beyond temperature scaling: obtaining well-calibrated
       multi-class probabilities with Dirichlet calibration. NeurIPS 32.
       doi:10.48550/arXiv.1910.12656

    Examples
    --------
    >>> import numpy as np
    >>> from calibkit import MatrixScaling
    >>> rng = np.random.default_rng(0)
    >>> logits = rng.normal(size=(300, 3))
    >>> y = (logits + rng.gumbel(size=(300, 3))).argmax(axis=1)
    >>> cal = MatrixScaling(reg_off_diagonal=0.0, reg_bias=0.0).fit(logits, y)
    >>> cal.coef_.round(2)
    array([[ 0.97,  0.02,  0.07],
           [ 0.01,  1.11, -0.07],
           [-0.01, -0.02,  1.04]])
    """

    _kind = "matrix"


class DirichletCalibration(_RegularisedCalibrator):
    """Dirichlet calibration: ``p = softmax(coef_ @ log q + intercept_)``.

    Matrix scaling of the log-probabilities ``log q`` (Kull et al. 2019), with
    their ODIR regularisation chosen by cross-validation by default.

    Parameters
    ----------
    input : {"logits", "probabilities"}, default="logits"
        What ``X`` holds: probabilities ``q`` (1-D: of ``classes_[1]``), or
        logits, whose log-softmax ``log q`` is computed stably (so the
        predictions do not depend on a constant added to a row of logits).
    {matrix_parameters}
    See Also
    --------
    MatrixScaling : The same map on logits as given.
    TemperatureScaling : One parameter.

    Notes
    -----
    The calibrated probabilities are proportional to
    ``exp(b_i) prod_j q_j^{{W_ij}}``: the family of Dirichlet likelihood
    ratios, which contains the identity (``W = I``, ``b = 0``) and
    temperature scaling of log-probabilities (``W = I / T``).
    {odir}{shared}
    References
    ----------
    .. [1] Kull, M., Perello-Nieto, M., Kängsepp, M., Silva Filho, T., Song, H. &
       Flach, P. (2019). Beyond temperature scaling: obtaining well-calibrated
       multi-class probabilities with Dirichlet calibration. NeurIPS 32.
       doi:10.48550/arXiv.1910.12656

    Examples
    --------
    >>> import numpy as np
    >>> from calibkit import DirichletCalibration
    >>> rng = np.random.default_rng(0)
    >>> logits = rng.normal(size=(300, 3))
    >>> y = (2 * logits + rng.gumbel(size=(300, 3))).argmax(axis=1)
    >>> proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    >>> cal = DirichletCalibration(input="probabilities").fit(proba, y)
    >>> cal.reg_off_diagonal_
    1.0
    >>> np.diag(cal.coef_).round(2)
    array([1.9 , 1.86, 2.08])
    """

    _kind = "matrix"
    _log_softmax_logits = True


def _fill_notes(cls, **fields):
    shared = _SHARED_NOTES.format(**fields)
    cls.__doc__ = cls.__doc__.replace("{shared}", shared).replace("{odir}", _ODIR_NOTES)
    found = re.search(r"^( *)\{matrix_parameters\}\n", cls.__doc__, flags=re.MULTILINE)
    if found:  # at the indentation of the placeholder's line
        block = textwrap.dedent(_MATRIX_PARAMETERS.strip("\n")) + "\n\n"
        block = textwrap.indent(block, found.group(1))
        cls.__doc__ = cls.__doc__[: found.start()] + block + cls.__doc__[found.end() :]
    cls.__doc__ = cls.__doc__.replace("{{", "{").replace("}}", "}")


_fill_notes(
    VectorScaling,
    matrix_gauge="",
    log_note="",
    binary_note=" (the scale of the constant 0 is not identified and stays 1)",
)
_fill_notes(
    MatrixScaling,
    matrix_gauge=", and ``coef_`` with the off-diagonal entries of each "
    "column summing to 0 (adding a constant to a column of ``W`` adds a "
    "multiple of ``z_j`` to every logit of the row, which the softmax "
    "ignores); a positive ``reg_off_diagonal`` (``reg_bias``) selects this "
    "gauge by itself",
    log_note="",
    binary_note="",
)
_fill_notes(
    DirichletCalibration,
    matrix_gauge=", and ``coef_`` with the off-diagonal entries of each "
    "column summing to 0 (the same gauge as :class:`MatrixScaling`); a "
    "positive ``reg_off_diagonal`` (``reg_bias``) selects this gauge by itself",
    log_note=" (for logits: their log-softmax)",
    binary_note="",
)

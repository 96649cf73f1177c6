"""Temperature scaling: one temperature that softens or sharpens all logits."""

import warnings
from numbers import Integral

import numpy as np

from calibkit._chunks import as_float64, row_chunks
from calibkit._solvers import fit_inverse_temperature
from calibkit._transforms import (
    binary_logits,
    log_odds,
    row_softmax,
    safe_log,
    safe_log1m,
)
from calibkit._validation import Interval
from calibkit.calibrators._base import BaseCalibrator, warn_if_saturated
from calibkit.exceptions import CalibrationWarning, NoFiniteOptimumWarning


class TemperatureScaling(BaseCalibrator):
    """Temperature scaling: ``p = softmax(z / temperature_)`` fitted by log-loss.

    Parameters
    ----------
    input : {"logits", "probabilities"}, default="logits"
        What ``X`` holds. ``"logits"``: a column of logits per class, or 1-D
        log-odds ``s`` of ``classes_[1]`` for a binary problem (then
        ``p = sigmoid(s / temperature_)``). ``"probabilities"``: probabilities
        (1-D: of ``classes_[1]``); their logs are valid logits because the
        softmax ignores a constant added to a row.
    max_iter : int, default=100
        Maximum number of passes over the data.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    temperature_ : float
        Fitted temperature ``T > 0``; ``0.0`` or ``inf`` when the loss has no
        finite minimiser (see Notes).
    n_iter_ : int
        Passes over the data used by the solver.
    n_features_in_ : int
        1 for 1-D scores, else the number of columns of ``X``.

    See Also
    --------
    PlattScaling : Slope and intercept per class.
    IsotonicCalibration : Non-parametric monotone calibration.

    Notes
    -----
    With ``beta = 1 / T`` the mean log-loss
    ``L(beta) = mean[logsumexp(beta z_i) - beta z_{i, y_i}]`` is convex in
    ``beta`` (though not in ``T``):
    ``L'(beta) = mean[E_{softmax(beta z)} z - z_y]`` and
    ``L''(beta) = mean[Var_{softmax(beta z)} z] >= 0``. The fit solves
    ``L'(beta) = 0`` by Newton's method kept inside a bracket, one pass over the
    data per iteration, with no bound on ``T`` (logits of order ``1e10`` have
    optimal temperatures of order ``1e7``). Temperature scaling never changes
    the predicted class.

    No finite positive temperature is optimal in two cases, each signalled by
    a :class:`~calibkit.exceptions.NoFiniteOptimumWarning`:

    - every calibration row already gives its true class the largest logit:
      the loss keeps falling as ``T -> 0``. Then ``temperature_ = 0.0`` and
      predictions are one-hot on the argmax (ties share the mass);
    - ``L'(0) >= 0``: sharpening the logits in any amount makes the loss worse
      than uniform predictions, so ``temperature_ = inf`` and predictions are
      uniform.

    The fit depends on relative sample weights only (integer weights act as
    repeated rows), and it is scale-equivariant across the float64 range:
    logits ``c * z`` give ``c * temperature_``, for ``c`` from 1e-300 up to
    the largest finite logits (those outside ``[2**-200, 2**50]`` in magnitude
    are multiplied by a power of two, exactly, before solving). A class masked
    with ``np.finfo(float).min`` gets probability exactly 0 (at any temperature
    below about 1e305) and does not change the fit; predictions are
    ``exp((z - max z) / T)`` normalised, so logits near +-1.8e308 never
    produce NaN.

    References
    ----------
    .. [1] Guo, C., Pleiss, G., Sun, Y. & Weinberger, K. Q. (2017). On calibration
       of modern neural networks. ICML, PMLR 70, 1321-1330.
       doi:10.48550/arXiv.1706.04599

    Examples
    --------
    >>> import numpy as np
    >>> from calibkit import TemperatureScaling
    >>> logits = np.array([[4.0, 0.0, 0.0], [0.0, 5.0, 1.0], [3.0, 0.0, 2.0],
    ...                    [0.0, 2.0, 4.0], [1.0, 0.0, 6.0], [0.0, 4.0, 0.0]])
    >>> y = np.array([0, 1, 2, 2, 2, 0])
    >>> cal = TemperatureScaling().fit(logits, y)
    >>> round(cal.temperature_, 4)
    2.1
    >>> cal.predict(logits)
    array([0, 1, 0, 2, 2, 1])
    """

    _parameter_constraints = {
        **BaseCalibrator._parameter_constraints,
        "max_iter": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(self, *, input="logits", max_iter=100):
        self.input = input
        self.max_iter = max_iter

    def _logit_transform(self, X):
        """Per-chunk map from ``X`` to a float64 matrix of logits (or None)."""
        if X.ndim == 1:
            if self.input == "probabilities":
                return _binary_log_probabilities
            return binary_logits
        return safe_log if self.input == "probabilities" else None

    def _fit(self, X, y, sample_weight):
        warn_if_saturated(X, self.input)
        if X.ndim == 1:  # the solver takes 1-D log-odds directly
            transform = log_odds if self.input == "probabilities" else None
        else:
            transform = self._logit_transform(X)
        solution = fit_inverse_temperature(
            X,
            y,
            sample_weight=sample_weight,
            transform=transform,
            max_iter=self.max_iter,
        )
        self.n_iter_ = solution.n_iter
        with np.errstate(divide="ignore"):
            self.temperature_ = float(np.float64(1.0) / solution.beta)
        if solution.status == "zero_temperature":
            warnings.warn(
                "Every calibration row already gives its true class the largest "
                "logit, so the log-loss keeps falling as the temperature goes to 0; "
                "temperature_ is 0 and predictions are one-hot. Calibrate on rows "
                "the model gets wrong too (held-out data).",
                NoFiniteOptimumWarning,
                stacklevel=3,
            )
        elif solution.status == "infinite_temperature":
            warnings.warn(
                "The log-loss does not decrease when the logits are sharpened from "
                "uniform (L'(0) >= 0): the logits point away from the true classes "
                "on average. temperature_ is inf and predictions are uniform.",
                NoFiniteOptimumWarning,
                stacklevel=3,
            )
        elif not solution.converged:
            warnings.warn(
                f"Temperature scaling did not converge in max_iter={self.max_iter} "
                "passes; increase max_iter.",
                CalibrationWarning,
                stacklevel=3,
            )

    def _predict_proba(self, X):
        transform = self._logit_transform(X)
        n_classes = len(self.classes_)
        out = np.empty((X.shape[0], n_classes), dtype=X.dtype)
        for rows in row_chunks(X.shape[0], n_classes):
            z = as_float64(X[rows])
            if transform is not None:
                z = transform(z)
            out[rows] = _tempered_softmax(z, self.temperature_)
        return out


def _binary_log_probabilities(p):
    """Two-column log-probabilities ``(log(1 - p), log p)`` of 1-D ``p``."""
    return np.stack([safe_log1m(p), safe_log(p)], axis=1)


def _tempered_softmax(z, temperature):
    """``softmax(z / temperature)`` including the limits T = 0 and T = inf."""
    if temperature == np.inf:
        return np.full_like(z, 1.0 / z.shape[1])
    if temperature == 0.0:
        top = (z == z.max(axis=1, keepdims=True)).astype(np.float64)
        return top / top.sum(axis=1, keepdims=True)
    return row_softmax(z, temperature)

"""Temperature scaling: one temperature that softens or sharpens all logits."""

import functools
import warnings
from numbers import Integral

import numpy as np

from calibkit._array_api import is_on_device, tempered_softmax
from calibkit._chunks import as_float64, row_chunks
from calibkit._solvers import (
    fit_inverse_temperature,
    fit_temperature_zero_logit,
    scan_zero_entries,
    smoothing_eps,
    zero_logit_loss,
)
from calibkit._transforms import (
    binary_logits,
    exact_log_probabilities,
    floored_log_odds,
    floored_log_probabilities,
    log_odds,
    row_softmax,
    safe_log,
    safe_log1m,
)
from calibkit._validation import Interval
from calibkit.calibrators._base import BaseCalibrator, warn_if_saturated
from calibkit.calibrators._state import Float, Int, Optional
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
        softmax ignores a constant added to a row. Exact zeros get a fitted
        logit of their own (see Notes).
    target_smoothing : bool, default=False
        Fit to smoothed targets, the K-class form of Platt's: a row of class
        ``k`` has target ``(N_k + 1) / (N_k + 2)`` on ``k`` and
        ``1 / (N_k + 2)`` shared evenly by the other classes (``N_k``: weighted
        count of class ``k``). For two classes these are exactly Platt's
        targets. It guarantees a finite temperature but biases the fit on
        small sets; it is used automatically when the one-hot fit has no
        finite optimum (see Notes).
    max_iter : int, default=100
        Maximum number of passes over the data.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    temperature_ : float
        Fitted temperature ``T > 0``, or ``inf`` when sharpening the logits
        only makes the loss worse (see Notes). A fit never returns ``0.0``;
        a loaded file may hold it (one-hot predictions).
    zero_logit_ : float or None
        With ``input="probabilities"``: the logit ``c`` given to probabilities
        of exactly 0, on the scale where a positive ``p`` has logit
        ``log(p) / T``. Fitted jointly with ``T``; when the calibration set
        had no exact zero, ``log(p_min) / T`` for the smallest probability it
        had. None for logits.
    log_floor_ : float or None
        With ``input="probabilities"``: floor applied to ``log p`` of positive
        probabilities before scaling (None: no floor). Chosen by log-loss.
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
      the one-hot loss keeps falling as ``T -> 0`` (one-hot predictions, and
      an infinite log-loss on the first new row the model gets wrong). The
      fit then uses the smoothed targets of ``target_smoothing`` instead, as
      Platt scaling does for separable scores. With targets ``t`` the loss is
      ``mean[logsumexp(beta z_i) - beta sum_k t_ik z_ik]``, still convex with
      the same ``L''``, and its minimiser is finite;
    - ``L'(0) >= 0``: sharpening the logits in any amount makes the loss worse
      than uniform predictions. By convexity uniform is then the best
      forecast among ``beta >= 0``, and its log-loss ``log K`` is finite:
      ``temperature_ = inf``.

    **Exact zeros.** ``log 0`` is not a logit. With ``input="probabilities"``
    the model is ``softmax(a)`` with ``a_k = beta * log p_k`` where
    ``p_k > 0`` and ``a_k = c`` (``zero_logit_``) where ``p_k == 0``: the
    logits are linear in ``(beta, c)``, so the log-loss stays convex, and both
    are fitted by projected damped Newton (one pass per iteration). On
    calibration rows a model's exact zeros are usually all right, which would
    send ``c`` to ``-inf``; so Platt's prior is applied to the event "the
    truth is one of the row's zeros", on rows that have one: their targets
    put ``1 - 1/(Z+ + 2)`` on the zeros when it is and ``1/(Z- + 2)`` when it
    is not (``Z+``/``Z-``: weighted counts of such rows; other rows keep
    one-hot targets). Log-probabilities of models such as naive Bayes also
    reach ``-1e3`` and beyond, and one ``beta`` for all of them flattens the
    informative part; so ``log p`` is also floored at ``log_floor_``, chosen
    among ``-2, -4, ..., -1024`` and no floor by the fitted log-loss plus
    ``1 / N`` (Akaike's penalty for the extra parameter).

    The fit depends on relative sample weights only (integer weights act as
    repeated rows), and it is scale-equivariant across the float64 range:
    logits ``c * z`` give ``c * temperature_``, for ``c`` from 1e-300 up to
    the largest finite logits (those outside ``[2**-200, 2**50]`` in magnitude
    are multiplied by a power of two, exactly, before solving); logits so
    large that the optimal temperature exceeds the float64 range raise a
    ``ValueError``. A class masked
    with ``np.finfo(float).min`` gets probability exactly 0 (at any temperature
    below about 1e305) and does not change the fit; predictions are
    ``exp((z - max z) / T)`` normalised, so logits near +-1.8e308 never
    produce NaN.

    **Array API inputs.** With dispatch on (:func:`calibkit.config_context`),
    logits held by torch, CuPy, JAX or array-api-strict are fitted on their
    device -- each pass reduces row chunks there in float64 and only
    ``(L, L', L'')`` travel to the host -- and ``predict_proba`` returns an
    array of their library, on their device, in their dtype.
    ``input="probabilities"`` (the logit of exact zeros, the floor search)
    is fitted and predicted on the device too: its passes are reductions. JAX
    arrays work too (outputs are assembled from chunks, as JAX arrays are
    immutable); CuPy is untested (no GPU in the test setup).

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
        "target_smoothing": ["boolean"],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
    }

    #: Fitted attributes and how they are saved (see calibrators/_state.py).
    #: A temperature of 0 or inf is the limit of a fit without a finite
    #: optimum. zero_logit_ (the logit of exact-zero probabilities) and
    #: log_floor_ (the floor of log p) exist only for input="probabilities".
    _fitted_state = {
        "temperature_": Float(minimum=0, allow_inf=True),
        "n_iter_": Int(minimum=0),
        "zero_logit_": Optional(Float()),
        "log_floor_": Optional(Float(below=0)),
    }

    def __init__(self, *, input="logits", target_smoothing=False, max_iter=100):
        self.input = input
        self.target_smoothing = target_smoothing
        self.max_iter = max_iter

    def _summary(self):
        """The fitted temperature in a clause (for the command line and reprs)."""
        text = f"temperature {self.temperature_:.6g}"
        if getattr(self, "zero_logit_", None) is not None:
            text += f", logit of exact zeros {self.zero_logit_:.4g}"
        if getattr(self, "log_floor_", None) is not None:
            text += f", log-probabilities floored at {self.log_floor_:g}"
        return text

    def _check_state(self, fields):
        """Refuse a loaded temperature that is subnormal (see _persistence.py)."""
        if 0 < self.temperature_ < np.finfo(np.float64).tiny:
            raise fields.error(
                f"field '{fields.name('temperature_')}' is {self.temperature_!r}, "
                "below the smallest normal double (2.2e-308) but not 0: logits "
                "divided by it overflow."
            )

    def _logit_transform(self, X):
        """Per-chunk map from ``X`` to a float64 matrix of logits (or None)."""
        if X.ndim == 1:
            if self.input == "probabilities":
                return _binary_log_probabilities
            return binary_logits
        return safe_log if self.input == "probabilities" else None

    def _array_api_native(self):
        # Every pass is a reduction: logits and probabilities (the exact-zero
        # logit, the floor search) are fitted and predicted on their device.
        return True

    def _fit(self, X, y, sample_weight):
        warn_if_saturated(
            X,
            self.input,
            "they get one fitted logit, zero_logit_, instead of temperature "
            "times log 0",
        )
        eps = None
        if self.target_smoothing:
            eps = smoothing_eps(y, sample_weight, len(self.classes_))
        self.zero_logit_ = self.log_floor_ = None
        if self.input == "probabilities":
            solution = self._fit_probabilities(X, y, sample_weight, eps)
        else:
            solution, _ = self._fit_temperature(
                X, y, sample_weight, eps, None, stacklevel=4
            )
        self.n_iter_ = solution.n_iter
        with np.errstate(divide="ignore"):
            self.temperature_ = float(np.float64(1.0) / solution.theta[0])
        # The solvers' "bound" is beta = 0 among beta >= 0: infinite temperature.
        if solution.status == "bound":
            masked = ""
            if self.input == "logits":
                masked = _masked_truth_clause(X, y, sample_weight)
            warnings.warn(
                "The log-loss does not decrease when the logits are sharpened from "
                "uniform (L'(0) >= 0): "
                + (masked or "the logits point away from the true classes on average")
                + ". temperature_ is inf and predictions are uniform"
                + (
                    " over the classes of nonzero probability."
                    if self.input == "probabilities"
                    else "."
                ),
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

    def _fit_temperature(self, X, y, sample_weight, eps, transform, *, stacklevel):
        """Temperature alone (bracketed Newton on ``beta``) and the ``eps`` used.

        Falls back to smoothed targets when every row is already right, with a
        warning at ``stacklevel`` (the caller's depth below the user's line), or
        silently when it is None.
        """
        options = {
            "sample_weight": sample_weight,
            "transform": transform,
            "max_iter": self.max_iter,
        }
        solution = fit_inverse_temperature(X, y, eps=eps, **options)
        # No finite optimum in beta = 1 / T: the loss falls as T -> 0.
        if solution.status == "no_finite_optimum":
            if stacklevel is not None:
                warnings.warn(
                    _ALL_RIGHT_MESSAGE, NoFiniteOptimumWarning, stacklevel=stacklevel
                )
            eps = smoothing_eps(y, sample_weight, len(self.classes_))
            solution = fit_inverse_temperature(X, y, eps=eps, **options)
        return solution, eps

    def _fit_probabilities(self, X, y, sample_weight, eps):
        """Temperature, logit of exact zeros and floor of the log-probabilities.

        Candidate floors are ``-2, -4, ..., -1024`` above the smallest finite
        log-probability, and no floor; for each, ``beta`` (and ``c``) are fitted
        exactly, and the floor with the lowest mean log-loss plus ``1 / N``
        (Akaike's penalty of one nat for a parameter; none without a floor) is
        kept.
        """
        scan = scan_zero_entries(X, y, sample_weight, transform=exact_log_probabilities)
        total_weight = X.shape[0] if sample_weight is None else sample_weight.sum()
        zero_prior = None
        if scan.n_zero > 0 and eps is None:
            # Platt's prior on "the truth is among the row's zeros", always: on
            # calibration rows a model's zeros are usually all right, and the
            # one-hot fit would then send their logit to -inf.
            zero_prior = (1.0 / (scan.zero_truth + 2.0), 1.0 / (scan.zero_other + 2.0))
        floors = [None] + [-(2.0**j) for j in range(1, 11) if -(2.0**j) > scan.min_log]
        best = None
        for floor in floors:
            log_probs = functools.partial(floored_log_probabilities, floor=floor)
            if scan.n_zero > 0:
                # The share of the zeros that hold the truth, in units of the
                # mean weight (weights of 1e200 or 1e-300 start where 1 does).
                unit = total_weight / X.shape[0]
                share = (scan.zero_truth + 0.5 * unit) / (scan.zero_weight + unit)
                start = (1.0, float(np.log(share)))
                solution = fit_temperature_zero_logit(
                    X,
                    y,
                    sample_weight=sample_weight,
                    transform=log_probs,
                    eps=eps,
                    zero_prior=zero_prior,
                    start=start,
                    max_iter=self.max_iter,
                )
                c = float(solution.theta[1])
            else:
                if floor is None:
                    transform = log_odds if X.ndim == 1 else safe_log
                elif X.ndim == 1:
                    transform = functools.partial(floored_log_odds, floor=floor)
                else:
                    transform = log_probs
                solution, eps = self._fit_temperature(
                    X,
                    y,
                    sample_weight,
                    eps,
                    transform,
                    stacklevel=5 if floor is None else None,
                )
                if solution.status == "no_finite_optimum":
                    continue
                # Never seen in calibration: an exact zero is held at the
                # smallest (floored) log-probability that was.
                lowest = scan.min_log if floor is None else max(scan.min_log, floor)
                c = float(solution.theta[0] * lowest)
            if floor is not None and not solution.converged:
                continue
            loss = zero_logit_loss(
                X,
                y,
                solution.theta[0],
                c,
                sample_weight=sample_weight,
                transform=log_probs,
                eps=eps,
                zero_prior=zero_prior,
            )
            penalized = loss if floor is None else loss + 1.0 / total_weight
            if best is None or penalized < best[0]:
                best = (penalized, solution, c, floor)
        _, solution, self.zero_logit_, self.log_floor_ = best
        return solution

    def _predict_proba(self, X):
        zeros = self.input == "probabilities" and self.zero_logit_ is not None
        if zeros:
            transform = functools.partial(
                floored_log_probabilities, floor=self.log_floor_
            )
        else:  # logits, or a file saved before exact zeros had their own logit
            transform = self._logit_transform(X)
        if is_on_device(X):  # see _array_api_native
            return tempered_softmax(
                X,
                self.temperature_,
                len(self.classes_),
                transform=transform,
                zero_logit=self.zero_logit_ if zeros else None,
            )
        n_classes = len(self.classes_)
        out = np.empty((X.shape[0], n_classes), dtype=X.dtype)
        for rows in row_chunks(X.shape[0], n_classes):
            z = as_float64(X[rows])
            if transform is not None:
                z = transform(z)
            if zeros and self.temperature_ > 0:
                out[rows] = _softmax_with_zero_logit(
                    z, 1.0 / self.temperature_, self.zero_logit_
                )
            else:
                out[rows] = _tempered_softmax(z, self.temperature_)
        return out


_ALL_RIGHT_MESSAGE = (
    "Every calibration row already gives its true class the largest logit, so "
    "the log-loss keeps falling as the temperature goes to 0 (one-hot "
    "predictions, and an infinite log-loss on the first new row the model gets "
    "wrong). Fitted with smoothed targets instead (see target_smoothing); "
    "calibrate on held-out rows that the model also gets wrong."
)


def _masked_truth_clause(X, y, sample_weight):
    """Why ``L'(0) >= 0`` when rows give their true class an (effectively) -inf logit.

    A logit at or below half the most negative value of ``X``'s dtype (e.g. a
    class masked with ``np.finfo(dtype).min``) is -inf for any temperature a
    fit can reach; when the true class of a row sits there, its log-loss is
    infinite unless every class gets the same probability, which alone sends
    ``T`` to inf. Returns a clause naming those rows, or "" if there are none.
    """
    if is_on_device(X):  # not worth a pass on the device: the generic reason
        return ""
    low = 0.5 * np.finfo(X.dtype).min
    n = X.shape[0]
    hit = np.zeros(n, dtype=bool)
    for rows in row_chunks(n, 1 if X.ndim == 1 else X.shape[1]):
        z = np.asarray(X[rows])
        labels = y[rows]
        if z.ndim == 1:  # log-odds s of class 1: logits (0, s)
            hit[rows] = np.where(labels == 1, z <= low, z >= -low)
        else:
            hit[rows] = z[np.arange(z.shape[0]), labels] <= low
    if sample_weight is not None:
        hit &= sample_weight > 0
    n_hit = int(np.count_nonzero(hit))
    if n_hit == 0:
        return ""
    return (
        f"{n_hit} calibration rows give their true class an (effectively) -inf "
        f"logit (at or below {low:.3g}, e.g. a masked class); first "
        f"at row {int(np.argmax(hit))}. No finite temperature gives them a "
        "positive probability, so their loss is infinite unless the predictions "
        "are uniform. Drop those rows or unmask their classes"
    )


def _binary_log_probabilities(p):
    """Two-column log-probabilities ``(log(1 - p), log p)`` of 1-D ``p``."""
    return np.stack([safe_log1m(p), safe_log(p)], axis=1)


def _softmax_with_zero_logit(log_p, beta, zero_logit):
    """``softmax`` of ``beta * log p``, with logit ``zero_logit`` where ``p == 0``."""
    zero = np.isneginf(log_p)
    logits = np.where(zero, zero_logit, beta * np.where(zero, 0.0, log_p))
    return row_softmax(logits)


def _tempered_softmax(z, temperature):
    """``softmax(z / temperature)`` including the limits T = 0 and T = inf."""
    if temperature == np.inf:
        return np.full_like(z, 1.0 / z.shape[1])
    if temperature == 0.0:
        top = (z == z.max(axis=1, keepdims=True)).astype(np.float64)
        return top / top.sum(axis=1, keepdims=True)
    return row_softmax(z, temperature)

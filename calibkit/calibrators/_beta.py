"""Beta calibration: ``sigmoid(a ln p - b ln(1 - p) + c)`` fitted by log-loss."""

import functools
import warnings
from dataclasses import dataclass
from numbers import Integral

import numpy as np
from scipy.optimize import brentq
from scipy.special import expit

from calibkit._array_api import beta_proba, is_on_device
from calibkit._chunks import as_float64, combine_sum_max, reduce_rows, row_chunks
from calibkit._newton import ChunkedModel, minimize
from calibkit._solvers import MAGNITUDE_WINDOW
from calibkit._transforms import log_odds_from_logits, logit_difference, row_softmax
from calibkit._validation import Interval, StrOptions
from calibkit.calibrators._base import (
    BaseCalibrator,
    binary_columns,
    check_finite_log_odds,
    one_vs_rest_scores,
    saturated_probabilities,
    warn_classes_without_weight,
    warn_if_saturated,
)
from calibkit.calibrators._state import FloatArray, IntArray, Optional, short_list
from calibkit.exceptions import CalibrationWarning, NoFiniteOptimumWarning
from calibkit.metrics._kernels import weights_or_ones

LN2 = float(np.log(2.0))


class BetaCalibration(BaseCalibrator):
    """Beta calibration: ``p' = sigmoid(a_ ln p - b_ ln(1 - p) + c_)``.

    The three-parameter family of Kull, Silva Filho & Flach (2017), fitted by
    minimising the weighted log-loss exactly. It contains the identity
    (``a = b = 1, c = 0``) and every Platt map on the log-odds (``a = b``),
    and can also bend the sigmoid: an S-shaped or inverse-S-shaped map, or one
    steeper near 0 than near 1, as naive Bayes and boosted models need.

    Parameters
    ----------
    parameters : {"abm", "am", "ab"}, default="abm"
        Which parameters are fitted, as in the ``betacal`` package: ``"abm"``
        all three, with ``a, b >= 0`` (see Notes); ``"am"`` the constraint
        ``a = b`` (a slope and an intercept on the log-odds: Platt scaling on
        ``ln(p / (1 - p))``); ``"ab"`` ``a, b >= 0`` with the midpoint fixed
        at ``m = 1/2``, i.e. ``c = (a - b) ln 2``, so that ``p = 1/2`` maps to
        ``1/2``.
    input : {"logits", "probabilities"}, default="logits"
        What ``X`` holds. ``"probabilities"``: the probability ``p`` of
        ``classes_[1]`` (1-D), or a column per class. ``"logits"``: 1-D
        log-odds ``s`` of ``classes_[1]``, or a column of logits per class;
        ``ln p`` and ``ln(1 - p)`` are then computed from the log-odds
        without rounding ``p`` (``ln p = -log(1 + exp(-s))``), so a logit of
        40 keeps its information although ``p`` rounds to 1.
    target_smoothing : bool, default=False
        Fit to Platt's smoothed targets ``(N+ + 1) / (N+ + 2)`` and
        ``1 / (N- + 2)`` (weighted counts) instead of the 0/1 labels. It is
        used automatically when the unsmoothed fit has no finite optimum.
    max_iter : int, default=100
        Maximum number of passes over the data per fitted model.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    a_ : ndarray of shape (n_models,)
        Coefficient of ``ln p`` per fitted model: one model for a binary
        problem, one per class (one-vs-rest) otherwise.
    b_ : ndarray of shape (n_models,)
        Coefficient of ``-ln(1 - p)`` per model.
    c_ : ndarray of shape (n_models,)
        Intercept per model.
    m_ : ndarray of shape (n_models,)
        Midpoint: the input probability mapped to 1/2, as ``betacal``'s
        ``map_[2]``; NaN where the map stays on one side of 1/2.
    n_iter_ : ndarray of shape (n_models,)
        Passes over the data used by the solver, per model.
    zero_proba_ : ndarray of shape (n_models,) or None
        With ``input="probabilities"``: the calibrated probability of the
        model's class for rows where the input gave it probability exactly 0
        (see Notes). None for logits.
    one_proba_ : ndarray of shape (n_models,) or None
        The same for rows where the input gave it probability exactly 1.
    n_features_in_ : int
        1 for 1-D scores, else the number of columns of ``X``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names of ``X`` when it was a DataFrame with string names.

    See Also
    --------
    PlattScaling : ``sigmoid(a s + b)`` on the log-odds (``parameters="am"``).
    TemperatureScaling : One parameter for all classes; keeps the argmax.
    IsotonicCalibration : Non-parametric monotone calibration.

    Notes
    -----
    With ``x = (ln p, -ln(1 - p), 1)`` and ``z = (a, b, c) . x``, the fit
    minimises the weighted mean of ``softplus(z) - t z`` (``t`` the label, or
    Platt's smoothed target), a convex function of ``(a, b, c)``, by damped
    Newton on standardised features: one pass over the data per iteration
    computes the loss, the gradient ``mean w (sigmoid(z) - t) x`` and the
    Hessian ``mean w sigmoid(z)(1 - sigmoid(z)) x x^T``. ``"am"`` uses
    ``x = (ln(p / (1 - p)), 1)`` and ``"ab"`` ``x = (ln 2p, -ln 2(1 - p))``.
    float32 and memory-mapped inputs are read in chunks, never copied whole.

    **a, b >= 0.** Kull et al. restrict ``a`` and ``b`` to be non-negative,
    which makes the map non-decreasing in ``p`` (a negative ``a`` or ``b``
    gives a map that rises and falls again). ``betacal`` enforces this for
    ``"abm"`` by a heuristic: it fits an unconstrained logistic regression,
    and if ``a < 0`` (else if ``b < 0``) refits without that term. That
    heuristic is the constrained optimum when the refit is optimal, but not
    always: it can drop ``a`` when the best map keeps ``a > 0`` and sets
    ``b = 0``, and its refit may itself return a negative ``b``. Here the
    fit is the exact optimum of the log-loss over ``a, b >= 0`` (a projected
    Newton method on the bound-constrained problem), which is never worse
    and equals ``betacal``'s answer whenever that is optimal. The same bounds
    apply to ``"ab"`` (``betacal`` leaves them unconstrained there, which
    allows non-monotone maps). ``"am"`` is monotone for either sign of
    ``a``, so ``a`` is left free, as in ``betacal`` and Platt scaling.

    ``betacal`` also clips ``p`` to ``[eps, 1 - eps]`` (``eps`` of the
    input's dtype: ``1.2e-7`` for float32) and fits with scikit-learn's
    ``LogisticRegression(C=1e11)`` (a tiny ridge penalty, L-BFGS stopped at
    its tolerance), so its coefficients agree with these to a few digits on
    ordinary data and differ where probabilities lie beyond the clip.

    **No finite optimum.** When the classes are separated by a threshold on
    ``p`` (for ``"ab"``: by the threshold 1/2; for ``"am"``: in either
    direction), the unsmoothed log-loss has no finite minimiser: it decreases
    towards 0 as the map steepens without bound. Then a
    :class:`~calibkit.exceptions.NoFiniteOptimumWarning` is issued and the
    model is fitted with Platt's smoothed targets, as
    :class:`~calibkit.PlattScaling` does. A class with no calibration weight
    is fitted with the smoothed targets too, and named in the warning.

    **Exact 0 and 1** (``input="probabilities"``): ``ln 0`` is infinite, so
    no beta map sends such rows anywhere but to 0 or 1. As in
    :class:`~calibkit.PlattScaling`, those rows get fitted probabilities of
    their own, ``zero_proba_`` and ``one_proba_``: the frequency of the class
    among them, smoothed by a Beta prior worth two rows (Laplace's rule for
    a binary problem; one-vs-rest, a prior at the rate pooled over the
    classes). The map is fitted on the other rows, with Platt's smoothed
    targets whenever such rows exist. When no calibration row had an exact 0
    (or 1), new ones get the map at the most extreme finite input seen.

    **Multiclass** problems are fitted one-vs-rest (the "Beta" baseline of
    Kull et al. 2019): one map per class on ``p_k`` against the rest (for
    logits, ``p = softmax(z)`` computed in log space), and the predicted rows
    are renormalised to sum to one. A joint multiclass generalisation is
    Dirichlet calibration.

    Sample weights are frequencies: integer weights act as repeated rows.

    **Array API inputs** (torch, CuPy, JAX, ... with
    :func:`calibkit.config_context`): probabilities and logits are fitted and
    predicted on their device -- every pass is a reduction there, and only
    its few sums and the Newton step are on the host -- and
    ``predict_proba`` returns an array of their library.

    References
    ----------
    .. [1] Kull, M., Silva Filho, T. M. & Flach, P. (2017). Beta calibration: a
       well-founded and easily implemented improvement on logistic calibration
       for binary classifiers. AISTATS, PMLR 54, 623-631.
    .. [2] Kull, M., Silva Filho, T. M. & Flach, P. (2017). Beyond sigmoids:
       How to obtain well-calibrated probabilities from binary classifiers
       with beta calibration. Electronic Journal of Statistics 11(2),
       5052-5080. doi:10.1214/17-EJS1338SI

    Examples
    --------
    >>> import numpy as np
    >>> from calibkit import BetaCalibration
    >>> p = np.array([0.05, 0.1, 0.3, 0.4, 0.5, 0.6, 0.7, 0.9, 0.95, 0.99])
    >>> y = np.array([0, 0, 1, 0, 0, 1, 0, 1, 1, 1])
    >>> cal = BetaCalibration(input="probabilities").fit(p, y)
    >>> bool(cal.a_[0] >= 0 and cal.b_[0] >= 0)
    True
    >>> cal.predict_proba([0.2, 0.8]).shape
    (2, 2)
    """

    _parameter_constraints = {
        **BaseCalibrator._parameter_constraints,
        "parameters": [StrOptions({"abm", "am", "ab"})],
        "target_smoothing": ["boolean"],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
    }

    #: Fitted attributes and how they are saved (see calibrators/_state.py).
    _fitted_state = {
        "a_": FloatArray(),
        "b_": FloatArray(),
        "c_": FloatArray(),
        "n_iter_": IntArray(),
        "zero_proba_": Optional(FloatArray(open_unit=True)),
        "one_proba_": Optional(FloatArray(open_unit=True)),
    }

    def __init__(
        self, *, parameters="abm", input="logits", target_smoothing=False, max_iter=100
    ):
        self.parameters = parameters
        self.input = input
        self.target_smoothing = target_smoothing
        self.max_iter = max_iter

    @property
    def m_(self):
        """Input probability mapped to 1/2, per model (NaN where there is none)."""
        if not hasattr(self, "c_"):
            msg = f"{type(self).__name__} is not fitted yet: it has no m_."
            raise AttributeError(msg)
        return np.array(
            [
                _midpoint(a, b, c)
                for a, b, c in zip(self.a_, self.b_, self.c_, strict=True)
            ]
        )

    def _summary(self):
        """The fitted maps in a clause (for the command line and reprs)."""
        triples = zip(self.a_, self.b_, self.c_, strict=True)
        text = "a, b, c " + "; ".join(
            f"{a:.4g}, {b:.4g}, {c:.4g}" for a, b, c in triples
        )
        for name, label in (("zero_proba_", "0"), ("one_proba_", "1")):
            values = getattr(self, name, None)
            if values is not None:
                text += f"; probability for an input of exactly {label}: "
                text += short_list(values)
        return text

    def _check_state(self, fields):
        """A loaded map must be one this class can fit (see _persistence.py)."""
        if self.parameters != "am" and np.any((self.a_ < 0) | (self.b_ < 0)):
            raise fields.error(
                f"fields '{fields.name('a_')}' and '{fields.name('b_')}' must be "
                f"non-negative for parameters={self.parameters!r}."
            )
        if self.parameters == "am" and not np.array_equal(self.a_, self.b_):
            raise fields.error(
                f"fields '{fields.name('a_')}' and '{fields.name('b_')}' must be "
                "equal for parameters='am'."
            )

    # -- fit ----------------------------------------------------------------

    def _fit(self, X, y, sample_weight):
        warn_if_saturated(
            X,
            self.input,
            "the rows where a class has probability exactly 0 (or 1) get a "
            "fitted probability of their own, zero_proba_ (one_proba_)",
        )
        exact = self.input == "probabilities"
        empty = []  # classes without calibration weight
        fits = []
        if len(self.classes_) == 2:
            values, kind = _binary_source(X, self.input)
            if kind == "two_logits":
                check_finite_log_odds(
                    X,
                    self.input,
                    "Beta calibration",
                    values=X,
                    transform=logit_difference,
                )
            fits.append(self._fit_one(values, kind, y == 1, sample_weight, None, empty))
        else:
            if exact:
                sources = [(X[:, k], "probabilities") for k in range(X.shape[1])]
            else:
                scores = one_vs_rest_scores(X, self.input, X.dtype)
                check_finite_log_odds(X, self.input, "Beta calibration", scores=scores)
                sources = [(scores[k, ...], "logits") for k in range(X.shape[1])]
            # A loop, not a comprehension: before Python 3.12 a comprehension
            # is a frame of its own, and the warnings' stacklevel would miss.
            for k, label in enumerate(self.classes_):
                values, kind = sources[k]
                fits.append(
                    self._fit_one(values, kind, y == k, sample_weight, label, empty)
                )
        warn_classes_without_weight(empty)
        self.a_ = np.array([fit.a for fit in fits])
        self.b_ = np.array([fit.b for fit in fits])
        self.c_ = np.array([fit.c for fit in fits])
        self.n_iter_ = np.array([fit.n_iter for fit in fits])
        self.zero_proba_ = self.one_proba_ = None
        if exact:
            self.zero_proba_ = saturated_probabilities([fit.ends[0] for fit in fits])
            self.one_proba_ = saturated_probabilities([fit.ends[1] for fit in fits])
        if not all(fit.converged for fit in fits):
            warnings.warn(
                f"Beta calibration did not converge in max_iter={self.max_iter} "
                "passes; increase max_iter.",
                CalibrationWarning,
                stacklevel=3,
            )

    def _fit_one(self, values, kind, positive, sample_weight, label, empty):
        """One beta map, plus the ends ``(n_pos, n, held)`` of exact 0 and 1."""
        summary = _summarize(values, kind, positive, sample_weight, self.parameters)
        smooth = self.target_smoothing
        if summary.weight_pos == 0 or summary.weight_pos == summary.weight:
            # One side has no weight at all: not a separation but a class
            # missing. One-vs-rest, "the rest" is empty only when every other
            # class is missing, and each of those reports itself.
            if summary.weight_pos == 0:
                empty.append(self.classes_[1] if label is None else label)
            elif label is None:
                empty.append(self.classes_[0])
            smooth = True
        if summary.saturated_weight > 0:
            smooth = True
        if summary.finite_weight == 0:
            # Every row saturated: finite inputs met later get the smoothed
            # base rate.
            rate = (summary.weight_pos + 1.0) / (summary.weight + 2.0)
            fit = _BetaFit(0.0, 0.0, float(np.log(rate) - np.log1p(-rate)), 0, True)
        else:
            if not smooth and summary.separable(self.parameters):
                plain = label.item() if isinstance(label, np.generic) else label
                which = "" if label is None else f" (class {plain!r} against the rest)"
                warnings.warn(
                    f"The inputs separate the classes{which}, so the unsmoothed "
                    "log-loss of beta calibration "
                    f"(parameters={self.parameters!r}) has no finite minimiser "
                    "(the map would steepen without bound). Fitted with Platt's "
                    "smoothed targets instead; set target_smoothing=True to "
                    "choose this explicitly.",
                    NoFiniteOptimumWarning,
                    stacklevel=4,
                )
                smooth = True
            # The separation test above is exact; should the solver still
            # run off to infinity, the smoothed targets have a finite optimum.
            for targets_smoothed in (smooth, True):
                fit = fit_beta(
                    values,
                    kind,
                    positive,
                    sample_weight,
                    parameters=self.parameters,
                    summary=summary,
                    smooth=targets_smoothed,
                    max_iter=self.max_iter,
                )
                if fit.status != "no_finite_optimum":
                    break
        ends = []
        for group, edge in (
            ((summary.low_pos, summary.low), (summary.min_l1, summary.max_l0)),
            ((summary.high_pos, summary.high), (summary.max_l1, summary.min_l0)),
        ):
            held = float(expit(_map(fit.a, fit.b, fit.c, *edge)))
            ends.append((*group, held))
        fit.ends = tuple(ends)
        return fit

    # -- predict ------------------------------------------------------------

    def _array_api_native(self):
        # Every pass is a reduction: logits and probabilities alike are
        # fitted and predicted on their device.
        return True

    def _predict_proba(self, X):
        exact = self.input == "probabilities" and self.zero_proba_ is not None
        n_classes = len(self.classes_)
        if is_on_device(X):
            binary = n_classes == 2
            kind = _binary_source(X, self.input)[1] if binary else self.input
            scores = None
            if not binary and self.input == "logits":
                scores = one_vs_rest_scores(X, self.input, X.dtype)
            return beta_proba(
                X,
                kind,
                self.a_,
                self.b_,
                self.c_,
                binary=binary,
                zero_proba=self.zero_proba_ if exact else None,
                one_proba=self.one_proba_ if exact else None,
                scores=scores,
            )
        if n_classes == 2:
            values, kind = _binary_source(X, self.input)
            out = np.empty((X.shape[0], 2), dtype=X.dtype)
            for rows in row_chunks(X.shape[0], 4):
                l1, l0 = log_pair(values[rows], kind)
                z = _map(self.a_[0], self.b_[0], self.c_[0], l1, l0)
                p_neg, p_pos = expit(-z), expit(z)
                if exact:
                    for group, p in (
                        (np.isneginf(l1), self.zero_proba_[0]),
                        (np.isneginf(l0), self.one_proba_[0]),
                    ):
                        p_pos[group], p_neg[group] = p, 1.0 - p
                out[rows] = binary_columns(p_neg, p_pos, X.dtype)
            return out
        out = np.empty((X.shape[0], n_classes), dtype=X.dtype)
        for rows in row_chunks(X.shape[0], 4 * n_classes):
            chunk = as_float64(X[rows])
            if self.input == "probabilities":
                l1, l0 = log_pair(chunk, "probabilities")
            else:
                l1, l0 = log_pair(log_odds_from_logits(chunk), "logits")
            z = _map(self.a_, self.b_, self.c_, l1, l0)
            # Normalise log sigmoid(z_k) in log space: sigmoid(z_k) may
            # underflow to 0 in every column while the ratios are finite.
            log_p = -np.logaddexp(0.0, -z)
            if exact:
                log_p = np.where(np.isneginf(l1), np.log(self.zero_proba_), log_p)
                log_p = np.where(np.isneginf(l0), np.log(self.one_proba_), log_p)
            out[rows] = row_softmax(log_p)
        return out


# -- the features ------------------------------------------------------------


def _binary_source(X, input):
    """``(values, kind)`` for :func:`log_pair` of a binary problem."""
    if X.ndim == 1:
        return X, input
    return X, "two_" + input


def log_pair(chunk, kind):
    """``(ln p, ln(1 - p))`` in float64 for a chunk of inputs.

    ``kind``: ``"probabilities"`` (``p``), ``"two_probabilities"`` (columns
    ``(1 - p, p)``), ``"logits"`` (log-odds ``s``) or ``"two_logits"``
    (two columns of logits). Exact 0 and 1 give ``-inf``; log-odds give
    ``ln p = -log(1 + exp(-s))`` and ``ln(1 - p) = -log(1 + exp(s))``, exact
    where ``p`` itself rounds to 0 or 1.
    """
    x = as_float64(chunk)
    with np.errstate(divide="ignore"):
        if kind == "probabilities":
            return np.log(x), np.log1p(-x)
        if kind == "two_probabilities":
            return np.log(x[:, 1]), np.log(x[:, 0])
    if kind == "two_logits":
        x = logit_difference(x)
    # softplus(+-s) = max(+-s, 0) + log1p(exp(-|s|)): one exp and one log1p,
    # and no cancellation on either side.
    tail = np.abs(x)
    np.negative(tail, out=tail)
    np.exp(tail, out=tail)
    np.log1p(tail, out=tail)
    l1 = np.minimum(x, 0.0)
    l1 -= tail
    l0 = np.minimum(-x, 0.0)
    l0 -= tail
    return l1, l0


def _map(a, b, c, l1, l0):
    """``a ln p - b ln(1 - p) + c``; a zero coefficient drops its term.

    (``0 * -inf`` would be NaN: with ``a = 0`` the map at ``p = 0`` is the
    limit ``c``.) Overflow gives ``+-inf``, the exact limit.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        z = np.where(np.asarray(a) != 0.0, a * l1, 0.0)
        z = z - np.where(np.asarray(b) != 0.0, b * l0, 0.0)
        return z + c


def _midpoint(a, b, c):
    """The ``m`` in (0, 1) with ``a ln m - b ln(1 - m) + c = 0``, or NaN."""

    def g(t):  # the map at m = sigmoid(t), in log-odds t
        return float(_map(a, b, c, -np.logaddexp(0.0, -t), -np.logaddexp(0.0, t)))

    if a == b:
        return float(expit(-c / a)) if a != 0 else float("nan")
    lo, hi = -1.0, 1.0
    while g(lo) * g(hi) > 0:
        lo, hi = 2.0 * lo, 2.0 * hi
        if hi > 2.0**20:
            return float("nan")
    return float(expit(brentq(g, lo, hi, xtol=1e-300, rtol=4 * np.finfo(float).eps)))


#: Raw features of each parametrisation from ``(ln p, ln(1 - p))``, whether it
#: has a free intercept, and whether its slopes are bounded below by 0.
_DESIGNS = {
    "abm": (lambda l1, l0: (l1, -l0), True, True),
    "am": (lambda l1, l0: (l1 - l0,), True, False),
    "ab": (lambda l1, l0: (l1 + LN2, -l0 - LN2), False, True),
}


def _features(chunk, kind, parameters):
    """Raw feature columns of a chunk, the mask of its rows with finite
    inputs (None when all are), and ``(ln p, ln(1 - p))``."""
    l1, l0 = log_pair(chunk, kind)
    finite = np.isfinite(l1)
    finite &= np.isfinite(l0)
    if finite.all():
        return _DESIGNS[parameters][0](l1, l0), None, l1, l0
    raw = _DESIGNS[parameters][0](np.where(finite, l1, 0.0), np.where(finite, l0, 0.0))
    return raw, finite, l1, l0


# -- one pass of summaries -----------------------------------------------------


def _summary_kernel(rows, x, positive, w, *, kind, parameters):
    """Weights, extremes and magnitudes of a chunk (see :class:`BetaSummary`)."""
    raw, finite, l1, l0 = _features(x, kind, parameters)
    finite = np.ones(l1.shape[0], bool) if finite is None else finite
    w = weights_or_ones(w, l1.shape[0])
    present = w > 0
    low, high = present & np.isneginf(l1), present & np.isneginf(l0)
    fin = present & finite
    s = l1 - l0  # log-odds, non-decreasing in p
    sums = [
        w.sum(),
        w[positive].sum(),
        w[fin].sum(),
        w[fin & positive].sum(),
        w[low].sum(),
        w[low & positive].sum(),
        w[high].sum(),
        w[high & positive].sum(),
    ]
    maxima = [-np.inf] * 8
    for i, mask in enumerate((fin & positive, fin & ~positive)):
        if mask.any():
            maxima[2 * i : 2 * i + 2] = -s[mask].min(), s[mask].max()
    if fin.any():
        maxima[4:8] = -l1[fin].min(), l1[fin].max(), -l0[fin].min(), l0[fin].max()
    # Over all finite rows, zero weights included: the solver evaluates them.
    magnitude = [np.abs(f[finite]).max(initial=0.0) for f in raw]
    top = np.concatenate([maxima, magnitude])
    sums = np.concatenate([sums, np.zeros(top.shape[0] - len(sums))])
    return np.stack([sums, top])


def _moments_kernel(rows, x, w, *, kind, parameters, exponents):
    """Weighted sums of ``1``, ``f`` and ``f^2`` of the scaled features ``f``."""
    raw, finite, l1, _ = _features(x, kind, parameters)
    w = weights_or_ones(w, l1.shape[0])
    if finite is not None:
        w = w * finite
    sums, squares = [], []
    for f, e in zip(raw, exponents, strict=True):
        f = np.ldexp(f, -e) if e else f
        wf = w * f
        sums.append(wf.sum())
        squares.append(_dot(wf, f))
    return np.array([w.sum(), *sums, *squares])


def _dot(a, b):
    # einsum rather than BLAS: threaded BLAS on long vectors is slow when
    # other processes load the cores (as in calibkit._solvers).
    return np.einsum("i,i->", a, b)


@dataclass
class BetaSummary:
    """Two passes over one model's inputs: weights, extremes and feature scales.

    Weights are of rows with positive weight: all rows (``weight``,
    ``weight_pos``), rows with finite ``ln p`` and ``ln(1 - p)``
    (``finite_*``), rows at exactly 0 (``low*``) and 1 (``high*``). ``min_*``
    and ``max_*`` are over finite rows: log-odds ``s`` per class, ``l1 = ln
    p`` and ``l0 = ln(1 - p)``. Features are multiplied by ``2**-exponents``
    (exactly), then standardised by ``center`` and ``scale``.
    """

    weight: float
    weight_pos: float
    finite_weight: float
    finite_pos: float
    low: float
    low_pos: float
    high: float
    high_pos: float
    min_pos: float
    max_pos: float
    min_neg: float
    max_neg: float
    min_l1: float
    max_l1: float
    min_l0: float
    max_l0: float
    exponents: np.ndarray
    center: np.ndarray
    scale: np.ndarray

    @property
    def saturated_weight(self):
        return self.low + self.high

    def separable(self, parameters):
        """Whether the finite rows have no finite unsmoothed optimum.

        With ``a, b >= 0`` every direction in which the loss can decrease for
        ever is a map non-decreasing in ``p``: it exists exactly when a
        threshold on ``p`` splits the classes (ties at it allowed, not all
        rows tied), and for ``"ab"``, whose maps all cross 1/2 at ``p = 1/2``,
        when that threshold is 1/2. ``"am"`` may also decrease in ``p``.
        """
        if not (self.finite_pos > 0 and self.finite_pos < self.finite_weight):
            return False
        lowest, highest = (
            min(self.min_pos, self.min_neg),
            max(self.max_pos, self.max_neg),
        )
        if parameters == "ab":
            return self.max_neg <= 0.0 <= self.min_pos and (lowest < 0 or highest > 0)
        if lowest == highest:
            return False
        up = self.max_neg <= self.min_pos
        down = self.max_pos <= self.min_neg
        return up or (parameters == "am" and down)


def _summarize(values, kind, positive, sample_weight, parameters):
    kernel = functools.partial(_summary_kernel, kind=kind, parameters=parameters)
    with np.errstate(over="ignore", invalid="ignore"):
        sums, maxima = reduce_rows(
            kernel, values, positive, sample_weight, n_cols=8, combine=combine_sum_max
        )
    n_features = len(_DESIGNS[parameters][0](0.0, 0.0))
    magnitude = maxima[8 : 8 + n_features]
    exponents = np.array([_exponent(m) for m in magnitude])
    moments = reduce_rows(
        functools.partial(
            _moments_kernel, kind=kind, parameters=parameters, exponents=exponents
        ),
        values,
        sample_weight,
        n_cols=8,
    )
    total = moments[0]
    mean = moments[1 : 1 + n_features] / total if total > 0 else np.zeros(n_features)
    square = moments[1 + n_features :] / total if total > 0 else np.zeros(n_features)
    if _DESIGNS[parameters][1]:
        center = mean
        spread = np.sqrt(np.maximum(square - mean**2, 0.0))
    else:  # no intercept: scaled, not centred
        center = np.zeros(n_features)
        spread = np.sqrt(square)
    scale = np.where(spread > 0, spread, 1.0)
    return BetaSummary(
        *sums[:8],
        -maxima[0],
        maxima[1],
        -maxima[2],
        maxima[3],
        -maxima[4],
        maxima[5],
        -maxima[6],
        maxima[7],
        exponents=exponents,
        center=center,
        scale=scale,
    )


def _exponent(magnitude):
    """Power of two that brings ``magnitude`` near 1 when it is extreme, else 0."""
    low, high = MAGNITUDE_WINDOW
    if not np.isfinite(magnitude) or magnitude == 0.0 or low <= magnitude <= high:
        return 0
    return int(np.frexp(magnitude)[1])


# -- the model and its fit --------------------------------------------------------


class BetaModel(ChunkedModel):
    """Mean log-loss of ``sigmoid(theta . u)`` on standardised beta features.

    ``u_j = (f_j * 2**-e_j - center_j) / scale_j`` for the raw features
    ``f`` of the parametrisation, plus a column of ones when it has an
    intercept. Rows whose input is exactly 0 or 1 (infinite ``ln p`` or
    ``ln(1 - p)``) weigh nothing: they have a probability of their own.
    Nothing per row is stored; each pass recomputes the features of a chunk.
    """

    def __init__(
        self, values, kind, positive, sample_weight, summary, parameters, targets
    ):
        self.arrays = (values, positive, sample_weight)
        self.kind, self.parameters = kind, parameters
        self.summary, self.targets = summary, targets
        self.intercept = _DESIGNS[parameters][1]
        self.n_params = summary.center.shape[0] + int(self.intercept)
        self.n_cols = 4 * self.n_params
        self.total_weight = summary.finite_weight

    def standardized(self, chunk):
        """Standardised feature columns ``u_j`` and the finite-row mask."""
        raw, finite, _, _ = _features(chunk, self.kind, self.parameters)
        s = self.summary
        columns = []
        for f, e, center, scale in zip(
            raw, s.exponents, s.center, s.scale, strict=True
        ):
            u = np.ldexp(f, -e) if e else f - 0.0  # a new array: f may be reused
            u -= center
            u /= scale
            columns.append(u)
        return columns, finite

    def kernel(self, rows, x, positive, w, *, theta):
        columns, finite = self.standardized(x)
        n = columns[0].shape[0]
        z = np.full(n, theta[-1] if self.intercept else 0.0)
        for u, alpha in zip(columns, theta, strict=False):
            z += alpha * u
        e = np.abs(z)
        np.negative(e, out=e)
        np.exp(e, out=e)  # exp(-|z|)
        loss = np.log1p(e)
        loss += np.maximum(z, 0.0)
        big = 1.0 + e
        np.reciprocal(big, out=big)  # sigmoid(|z|)
        small = e * big  # sigmoid(-|z|), without cancellation
        t_pos, t_neg = self.targets
        t = np.where(positive, t_pos, t_neg)
        loss -= t * z
        residual = np.where(z >= 0.0, big, small)
        residual -= t
        curv = small
        curv *= big
        if w is not None or finite is not None:
            w = (
                weights_or_ones(w, n)
                if finite is None
                else finite * (1.0 if w is None else w)
            )
            loss *= w
            residual *= w
            curv *= w
        if self.intercept:
            columns = [*columns, None]
        p = len(columns)
        grad = np.empty(p)
        hess = np.empty((p, p))
        weighted = [curv if u is None else curv * u for u in columns]
        for i, u in enumerate(columns):
            grad[i] = residual.sum() if u is None else _dot(residual, u)
            for j in range(i, p):
                v = columns[j]
                hess[i, j] = hess[j, i] = (
                    weighted[i].sum() if v is None else _dot(weighted[i], v)
                )
        return np.concatenate([[loss.sum()], grad, hess.ravel()])


@dataclass
class _BetaFit:
    """One fitted map ``(a, b, c)`` and how the solver ended."""

    a: float
    b: float
    c: float
    n_iter: int
    converged: bool
    status: str = "optimum"
    loss: float = float("nan")
    ends: tuple = ()


def fit_beta(
    values,
    kind,
    positive,
    sample_weight=None,
    *,
    parameters="abm",
    summary=None,
    smooth=False,
    max_iter=100,
):
    """Minimise the weighted log-loss of a beta map over its parameters.

    Parameters
    ----------
    values : ndarray of shape (n_samples,) or (n_samples, 2)
        Inputs of one model, read in chunks (may be a dask array).
    kind : str
        How :func:`log_pair` reads ``values``.
    positive : ndarray of shape (n_samples,), dtype bool
    sample_weight : ndarray of shape (n_samples,) or None
    parameters : {"abm", "am", "ab"}
    summary : BetaSummary or None
    smooth : bool
        Fit to Platt's smoothed targets (weighted counts of the finite rows).
    max_iter : int

    Returns
    -------
    _BetaFit
        ``a``, ``b``, ``c`` of ``sigmoid(a ln p - b ln(1 - p) + c)``; rows
        with an input of exactly 0 or 1 are left out of the fit.
    """
    if summary is None:
        summary = _summarize(values, kind, positive, sample_weight, parameters)
    n_pos = summary.finite_pos
    n_neg = summary.finite_weight - n_pos
    targets = (
        ((n_pos + 1.0) / (n_pos + 2.0), 1.0 / (n_neg + 2.0)) if smooth else (1.0, 0.0)
    )
    model = BetaModel(
        values, kind, positive, sample_weight, summary, parameters, targets
    )
    _, intercept, bounded = _DESIGNS[parameters]
    n_slopes = summary.center.shape[0]
    theta = np.zeros(model.n_params)
    if intercept:
        mean_t = (targets[0] * n_pos + targets[1] * n_neg) / summary.finite_weight
        theta[-1] = np.log(mean_t) - np.log1p(-mean_t)
    lower = None
    if bounded:
        lower = np.full(model.n_params, -np.inf)
        lower[:n_slopes] = 0.0
    result = minimize(model, theta, max_iter=max_iter, lower=lower)
    alpha = result.theta[:n_slopes]
    with np.errstate(over="ignore"):
        slopes = np.ldexp(alpha / summary.scale, -summary.exponents)
    if not np.all(np.isfinite(slopes)):
        msg = (
            "The inputs in X vary so little that the fitted beta map exceeds the "
            "float64 range; they carry no usable information about the labels."
        )
        raise ValueError(msg)
    if parameters == "am":
        a = b = float(slopes[0])
    else:
        a, b = float(slopes[0]), float(slopes[1])
    if intercept:
        c = float(result.theta[-1] - np.sum(alpha * summary.center / summary.scale))
    else:
        c = (a - b) * LN2
    return _BetaFit(
        a, b, c, result.n_iter, result.converged, result.status, result.loss
    )

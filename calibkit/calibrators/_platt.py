"""Platt scaling: a logistic regression on the log-odds score."""

import warnings
from numbers import Integral

import numpy as np
from scipy.special import expit

from calibkit._array_api import (
    array_api_space,
    finite_scores,
    infinite_score_masks,
    is_on_device,
    platt_proba,
    to_host,
)
from calibkit._chunks import as_float64, row_chunks
from calibkit._solvers import PlattSolution, fit_platt
from calibkit._transforms import row_softmax
from calibkit._validation import Interval
from calibkit.calibrators._base import (
    BaseCalibrator,
    binary_columns,
    binary_scores,
    check_finite_log_odds,
    halved_log_odds,
    materialize,
    one_vs_rest_scores,
    saturated_probabilities,
    warn_classes_without_weight,
    warn_if_saturated,
)
from calibkit.calibrators._state import FloatArray, IntArray, Optional, short_list
from calibkit.exceptions import CalibrationWarning, NoFiniteOptimumWarning


class PlattScaling(BaseCalibrator):
    """Platt scaling: ``p = sigmoid(coef_ * s + intercept_)`` fitted by log-loss.

    Parameters
    ----------
    input : {"logits", "probabilities"}, default="logits"
        What ``X`` holds. ``"logits"``: 1-D log-odds of ``classes_[1]``, or a
        column of logits per class. ``"probabilities"``: probabilities (1-D: of
        ``classes_[1]``), turned into log-odds stably.
    target_smoothing : bool, default=False
        Fit to Platt's smoothed targets ``(N+ + 1) / (N+ + 2)`` and
        ``1 / (N- + 2)`` (weighted counts) instead of the 0/1 labels. This is
        what scikit-learn's sigmoid calibration does; it guarantees a finite
        optimum but biases the fit on small sets.
    max_iter : int, default=100
        Maximum number of passes over the data per fitted model.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    coef_ : ndarray of shape (n_models,)
        Slope ``a`` per fitted model: one model for a binary problem, one per
        class (one-vs-rest) otherwise.
    intercept_ : ndarray of shape (n_models,)
        Intercept ``b`` per fitted model.
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

    See Also
    --------
    TemperatureScaling : One parameter for all classes; keeps the argmax.
    IsotonicCalibration : Non-parametric monotone calibration.

    Notes
    -----
    With score ``s`` (the log-odds) and target ``t``, the fit minimises the
    weighted mean of ``softplus(z) - t z`` with ``z = a s + b``, by damped
    Newton on standardised scores: the gradient is ``mean w (sigmoid(z) - t)
    [s, 1]`` and the Hessian ``mean w sigmoid(z)(1 - sigmoid(z)) [s, 1][s, 1]^T``.
    Each iteration is one pass over the data; a handful reach machine
    precision. Array API inputs (torch, CuPy, JAX, ... with
    :func:`calibkit.config_context`): logits are fitted and predicted on
    their device (every pass is a reduction there; only the Newton step, the
    small evenly spaced subsample behind the starting point and scale, and
    the labels and weights are on the host), and ``predict_proba`` returns
    an array of their library. With ``input="probabilities"`` too: one
    boolean per row comes to the host to set apart the rows at exact 0 and 1.

    Sign convention: scikit-learn's ``_SigmoidCalibration`` stores
    ``A = -coef_`` and ``B = -intercept_``.

    When the scores of the two classes do not overlap (a threshold separates
    them), the unsmoothed log-loss has no finite minimiser: its infimum 0 is
    approached as ``coef_`` grows without bound. Then a
    :class:`~calibkit.exceptions.NoFiniteOptimumWarning` is issued and the
    model is fitted with Platt's smoothed targets instead, which gives the
    steep but finite map that ``target_smoothing=True`` would. When the
    scores are constant, ``coef_`` is 0 and the intercept is the log-odds of
    the base rate.

    Sample weights are frequencies, as in scikit-learn: integer weights act as
    repeated rows. The unsmoothed fit depends on relative weights only; the
    smoothed targets use weighted counts ``N+`` and ``N-``. A class with no
    weight -- absent from ``y`` (see ``fit(classes=...)``) or with all its
    weights 0 -- has no finite optimum either (its probability would be 0):
    it is fitted with the smoothed targets, giving it probability
    ``1 / (W + 2)`` for a total weight ``W``, and named in a
    :class:`~calibkit.exceptions.NoFiniteOptimumWarning`.

    The fit is scale-equivariant across the float64 range: scores ``c * s``
    give ``coef_ / c``, the same ``intercept_`` and the same probabilities,
    for ``c`` from 1e-300 up to the largest finite scores (binary scores and
    two-column logits; the one-vs-rest log-odds of more classes are not
    linear in ``c``). Scores whose largest magnitude is outside
    ``[2**-200, 2**50]`` are multiplied by a power of two, exactly, before
    solving. Scores so small (subnormal) that the slope would overflow raise a
    ``ValueError``, and so do calibration rows of logits spanning more than
    about 1.8e308, whose log-odds no double holds; predictions for such rows
    are exact (the map is applied to the halved log-odds, then doubled).

    **Exact 0 and 1.** A probability of exactly 0 or 1 has log-odds
    ``-inf``/``+inf``, which no sigmoid maps to anything but 0 or 1. With
    ``input="probabilities"`` those rows get a fitted probability of their
    own: the log-loss then decouples, and their best probability is the
    frequency of the class among them, often exactly 0 or 1. It is kept
    inside ``(0, 1)`` by a Beta prior worth two rows: Platt's prior (Laplace's
    rule ``(n+ + 1) / (n + 2)``, weighted counts) for a binary problem, and
    ``(n+ + 2 r) / (n + 2)`` one-vs-rest, with ``r`` that rule applied to the
    rows of all classes pooled (how often the model's "certain" is right is
    shared across classes, and one class alone has few such rows). The
    sigmoid is fitted on the other rows, with Platt's smoothed targets
    whenever such rows exist (a model that is this sharp usually separates
    the calibration rows). When no calibration row had an exact 0 (or 1),
    new ones get the map at the most extreme finite score seen (kept
    strictly inside ``(0, 1)``: at least ``2.2e-308`` where it underflows).

    Multiclass problems are fitted one-vs-rest on the per-class log-odds of the
    softmax (``z_k - logsumexp(z_{-k})``; for probabilities ``log(p_k / (1 -
    p_k))``), and the predicted rows are renormalised to sum to one.

    References
    ----------
    .. [1] Platt, J. (1999). Probabilistic outputs for support vector machines and
       comparisons to regularized likelihood methods. Advances in Large Margin
       Classifiers, 61-74.
    .. [2] Lin, H.-T., Lin, C.-J. & Weng, R. C. (2007). A note on Platt's
       probabilistic outputs for support vector machines. Machine Learning 68,
       267-276. doi:10.1007/s10994-007-5018-6

    Examples
    --------
    >>> import numpy as np
    >>> from calibkit import PlattScaling
    >>> scores = np.array([-3.0, -1.0, -0.5, 0.2, 1.0, 2.0, 2.5, 4.0])
    >>> y = np.array([0, 0, 1, 0, 1, 0, 1, 1])
    >>> cal = PlattScaling().fit(scores, y)
    >>> cal.predict_proba([0.0, 3.0]).round(3)
    array([[0.612, 0.388],
           [0.17 , 0.83 ]])
    """

    _parameter_constraints = {
        **BaseCalibrator._parameter_constraints,
        "target_smoothing": ["boolean"],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
    }

    #: Fitted attributes and how they are saved (see calibrators/_state.py), one
    #: value per fitted model. zero_proba_ and one_proba_ exist only for
    #: input="probabilities" (None otherwise, and in files saved before them).
    _fitted_state = {
        "coef_": FloatArray(),
        "intercept_": FloatArray(),
        "n_iter_": IntArray(),
        "zero_proba_": Optional(FloatArray(open_unit=True)),
        "one_proba_": Optional(FloatArray(open_unit=True)),
    }

    def __init__(self, *, input="logits", target_smoothing=False, max_iter=100):
        self.input = input
        self.target_smoothing = target_smoothing
        self.max_iter = max_iter

    def _summary(self):
        """The fitted maps in a clause (for the command line and reprs)."""
        pairs = zip(self.coef_, self.intercept_, strict=True)
        text = "slope, intercept " + "; ".join(f"{a:.4g}, {b:.4g}" for a, b in pairs)
        for name, label in (("zero_proba_", "0"), ("one_proba_", "1")):
            values = getattr(self, name, None)
            if values is not None:
                text += f"; probability for an input of exactly {label}: "
                text += short_list(values)
        return text

    def _fit(self, X, y, sample_weight):
        warn_if_saturated(
            X,
            self.input,
            "the rows where a class has probability exactly 0 (or 1) get a "
            "fitted probability of their own, zero_proba_ (one_proba_)",
        )
        exact = self.input == "probabilities"
        empty = []  # classes without calibration weight
        if len(self.classes_) == 2:
            values, transform = binary_scores(X, self.input, exact=exact)
            check_finite_log_odds(
                X, self.input, "Platt scaling", values=values, transform=transform
            )
            fits = [
                self._fit_one(values, y == 1, sample_weight, transform, None, empty)
            ]
        else:
            scores = one_vs_rest_scores(X, self.input, X.dtype, exact=exact)
            check_finite_log_odds(X, self.input, "Platt scaling", scores=scores)
            fits = []
            # A loop, not a comprehension: before Python 3.12 a comprehension
            # is a frame of its own, and the warning's stacklevel would miss.
            for k, label in enumerate(self.classes_):
                fits.append(
                    self._fit_one(
                        scores[k, ...], y == k, sample_weight, None, label, empty
                    )
                )
        warn_classes_without_weight(empty)
        solutions = [solution for solution, _ in fits]
        self.coef_ = np.array([s.coef for s in solutions])
        self.intercept_ = np.array([s.intercept for s in solutions])
        self.n_iter_ = np.array([s.n_iter for s in solutions])
        self.zero_proba_ = self.one_proba_ = None
        if exact:
            self.zero_proba_ = saturated_probabilities([ends[0] for _, ends in fits])
            self.one_proba_ = saturated_probabilities([ends[1] for _, ends in fits])
        if not all(s.converged for s in solutions):
            warnings.warn(
                f"Platt scaling did not converge in max_iter={self.max_iter} passes; "
                "increase max_iter.",
                CalibrationWarning,
                stacklevel=3,
            )

    def _fit_one(self, values, positive, sample_weight, transform, label, empty):
        """One sigmoid, plus the probabilities of the rows at score -inf / +inf.

        Returns ``(solution, (zero_proba, one_proba))``; the pair is None for
        logits, which are always finite.
        """
        if self.input != "probabilities":
            solution = self._fit_sigmoid(
                values, positive, sample_weight, transform, label, empty
            )
            return solution, None
        if is_on_device(values):  # one boolean per row each comes back
            low, high = infinite_score_masks(values, transform)
        else:
            low, high = _infinite_scores(values, transform)
        weights = np.ones(low.shape[0]) if sample_weight is None else sample_weight
        keep = ~(low | high)
        all_positive = positive
        saturated = not keep.all()
        if saturated:
            # Whether a class has calibration weight is a fact of all rows, not
            # of the finite ones the sigmoid sees.
            _record_empty(
                empty,
                weights.sum(),
                weights[all_positive].sum(),
                label,
                self.classes_,
            )
            # The sigmoid is fitted on the finite scores only: saturated rows
            # get their own probability, which decouples from (a, b).
            if is_on_device(values):  # the finite rows' scores, on the device
                values = finite_scores(values, transform, np.flatnonzero(keep))
            else:
                values = materialize(values, transform)[keep]
            positive, transform = positive[keep], None
            sample_weight = None if sample_weight is None else sample_weight[keep]
        if not np.any(weights[keep] > 0):
            # Every row saturated: the sigmoid only matters for finite scores
            # met later; give them the smoothed base rate.
            rate = (weights[all_positive].sum() + 1.0) / (weights.sum() + 2.0)
            intercept = float(np.log(rate) - np.log1p(-rate))
            solution = PlattSolution(0.0, intercept, float("nan"), 0, True)
            lowest = highest = 0.0
        else:
            solution = self._fit_sigmoid(
                values,
                positive,
                sample_weight,
                transform,
                label,
                [] if saturated else empty,
                smooth=saturated,
            )
            lowest, highest = solution.score_range
        ends = []
        for group, edge in ((low, lowest), (high, highest)):
            # (weighted positives, weighted rows, the map at the extreme
            # finite score: the value when no calibration row is saturated)
            held = float(expit(solution.coef * edge + solution.intercept))
            ends.append(
                (weights[group & all_positive].sum(), weights[group].sum(), held)
            )
        return solution, tuple(ends)

    def _fit_sigmoid(
        self, values, positive, sample_weight, transform, label, empty, smooth=False
    ):
        smooth = smooth or self.target_smoothing
        separable = []

        def targets(summary):
            # Called by fit_platt once the summary is known (from its first
            # pass over the rows on large inputs).
            nonlocal smooth
            if summary.weight_pos == 0 or summary.weight_pos == summary.weight:
                # One side has no weight: not a separation of the classes but
                # a class missing.
                _record_empty(
                    empty, summary.weight, summary.weight_pos, label, self.classes_
                )
                smooth = True
            elif not smooth and summary.separable:
                separable.append(True)
                smooth = True
            return _platt_targets(summary) if smooth else (1.0, 0.0)

        solution = fit_platt(
            values,
            positive,
            sample_weight=sample_weight,
            targets=targets,
            transform=transform,
            max_iter=self.max_iter,
        )
        if separable:
            plain = label.item() if isinstance(label, np.generic) else label
            which = "" if label is None else f" (class {plain!r} against the rest)"
            warnings.warn(
                f"The scores separate the classes{which}, so the unsmoothed "
                "log-loss has no finite minimiser (the slope would grow without "
                "bound). Fitted with "
                "Platt's smoothed targets instead; set target_smoothing=True to "
                "choose this explicitly.",
                NoFiniteOptimumWarning,
                stacklevel=5,
            )
        summary = solution.summary
        return _RangedSolution(
            solution,
            (
                min(summary.min_pos, summary.min_neg),
                max(summary.max_pos, summary.max_neg),
            ),
        )

    def _array_api_native(self):
        # Every pass is a reduction: logits and probabilities are fitted and
        # predicted on their device (for probabilities, one boolean per row
        # says which rows sit at log-odds -inf / +inf).
        return True

    def _predict_proba(self, X):
        exact = self.input == "probabilities" and self.zero_proba_ is not None
        if is_on_device(X):
            if self.input == "probabilities" and not exact:
                # A file saved before exact 0 and 1 had probabilities of their
                # own: the finite stand-ins of log 0 are computed on the host.
                return array_api_space(X).asarray(self._predict_proba(to_host(X)))
            ends = {"zero_proba": self.zero_proba_, "one_proba": self.one_proba_}
            if len(self.classes_) == 2:
                _, transform = binary_scores(X, self.input, exact=exact)
                return platt_proba(X, transform, self.coef_, self.intercept_, **ends)
            scores = one_vs_rest_scores(X, self.input, X.dtype, exact=exact)
            return platt_proba(
                X, None, self.coef_, self.intercept_, scores=scores, **ends
            )
        if len(self.classes_) == 2:
            values, transform = binary_scores(X, self.input, exact=exact)
            out = np.empty((X.shape[0], 2), dtype=X.dtype)
            for rows in row_chunks(X.shape[0], 1 if X.ndim == 1 else 2):
                s = as_float64(values[rows])
                if transform is not None:
                    s = transform(s)
                if exact:
                    low, high = np.isneginf(s), np.isposinf(s)
                    s = np.where(low | high, 0.0, s)
                z = self._linear(s, X[rows], 0)
                p_neg, p_pos = expit(-z), expit(z)
                if exact:
                    for group, p in (
                        (low, self.zero_proba_[0]),
                        (high, self.one_proba_[0]),
                    ):
                        p_pos[group], p_neg[group] = p, 1.0 - p
                out[rows] = binary_columns(p_neg, p_pos, X.dtype)
            return out
        scores = one_vs_rest_scores(X, self.input, X.dtype, exact=exact)
        out = np.empty((X.shape[0], len(self.classes_)), dtype=X.dtype)
        for rows in row_chunks(X.shape[0], len(self.classes_)):
            s = scores[:, rows].T
            if exact:
                low, high = np.isneginf(s), np.isposinf(s)
                s = np.where(low | high, 0.0, s)
            z = self._linear(s, X[rows], slice(None))
            # Normalise log sigmoid(z_k) in log space: sigmoid(z_k) may
            # underflow to 0 in every column while the ratios are finite.
            log_p = -np.logaddexp(0.0, -z)
            if exact:
                log_p = np.where(low, np.log(self.zero_proba_), log_p)
                log_p = np.where(high, np.log(self.one_proba_), log_p)
            out[rows] = row_softmax(log_p)
        return out

    def _linear(self, s, X, models):
        """``coef_ * s + intercept_`` for log-odds ``s`` of the rows ``X``.

        Logits spanning more than about 1.8e308 have log-odds ``+-inf``; for
        those rows the map is taken from the halved log-odds, exact, as
        ``(coef_ * s / 2) * 2`` (``+-inf`` only where the value itself
        overflows, never ``0 * inf``).
        """
        coef, intercept = self.coef_[models], self.intercept_[models]
        infinite = np.isinf(s) if self.input == "logits" else None
        # A finite score times a slope may exceed float64 (s = 1e308 with a
        # slope of 2): z = +-inf is then the exact limit, p = 0 or 1.
        with np.errstate(over="ignore"):
            if infinite is None or not infinite.any():
                return coef * s + intercept
            bad = infinite if s.ndim == 1 else infinite.any(axis=1)
            z = coef * np.where(infinite, 0.0, s) + intercept
            half = halved_log_odds(as_float64(X[bad]))
            z[bad] = (coef * half) * 2.0 + intercept
        return z


def _record_empty(empty, weight, weight_pos, label, classes):
    """Append to ``empty`` the class of a fit whose positives (or, binary,
    negatives) have no weight; ``weight`` and ``weight_pos`` are the totals.

    One-vs-rest, "the rest" is empty only when every other class is missing,
    and each of those reports itself.
    """
    if weight_pos == 0:
        empty.append(classes[1] if label is None else label)
    elif weight_pos == weight and label is None:
        empty.append(classes[0])


class _RangedSolution:
    """A :class:`~calibkit._solvers.PlattSolution` with the range of its scores."""

    def __init__(self, solution, score_range):
        self._solution = solution
        self.score_range = score_range

    def __getattr__(self, name):
        return getattr(self._solution, name)


def _infinite_scores(values, transform):
    """Boolean masks of the rows whose score is ``-inf`` and ``+inf``."""
    n = values.shape[0]
    low, high = np.zeros(n, bool), np.zeros(n, bool)
    n_cols = 1 if values.ndim == 1 else values.shape[1]
    for rows in row_chunks(n, n_cols):
        s = as_float64(values[rows])
        if transform is not None:
            s = transform(s)
        low[rows], high[rows] = np.isneginf(s), np.isposinf(s)
    return low, high


def _platt_targets(summary):
    """Platt's smoothed targets from the (weighted) class counts of a summary."""
    n_pos = summary.weight_pos
    n_neg = summary.weight - n_pos
    return (n_pos + 1.0) / (n_pos + 2.0), 1.0 / (n_neg + 2.0)

"""Platt scaling: a logistic regression on the log-odds score."""

import warnings
from numbers import Integral

import numpy as np
from scipy.special import expit

from calibkit._chunks import as_float64, row_chunks
from calibkit._solvers import fit_platt, summarize_scores
from calibkit._transforms import row_softmax
from calibkit._validation import Interval, format_label
from calibkit.calibrators._base import (
    BaseCalibrator,
    binary_columns,
    binary_scores,
    one_vs_rest_scores,
    warn_if_saturated,
)
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
    precision.

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
    ``ValueError``.

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

    def __init__(self, *, input="logits", target_smoothing=False, max_iter=100):
        self.input = input
        self.target_smoothing = target_smoothing
        self.max_iter = max_iter

    def _fit(self, X, y, sample_weight):
        warn_if_saturated(X, self.input)
        empty = []  # classes without calibration weight
        if len(self.classes_) == 2:
            values, transform = binary_scores(X, self.input)
            solutions = [
                self._fit_one(values, y == 1, sample_weight, transform, None, empty)
            ]
        else:
            scores = one_vs_rest_scores(X, self.input, X.dtype)
            solutions = []
            # A loop, not a comprehension: before Python 3.12 a comprehension
            # is a frame of its own, and the warning's stacklevel would miss.
            for k, label in enumerate(self.classes_):
                solutions.append(
                    self._fit_one(scores[k], y == k, sample_weight, None, label, empty)
                )
        if empty:
            # "class <label>" each: CalibratedClassifier maps the codes it fits
            # on back to the user's labels by that pattern.
            shown = ", ".join(f"class {format_label(label)}" for label in empty[:10])
            more = ", ..." if len(empty) > 10 else ""
            warnings.warn(
                f"{len(empty)} class(es) have no calibration rows with positive "
                f"weight (absent from y, or all their sample_weight is 0): {shown}"
                f"{more}. Their unsmoothed log-loss has no finite minimiser, so "
                "they were fitted with Platt's smoothed targets, which give them "
                "a probability of about 1 / (W + 2) for a total weight W.",
                NoFiniteOptimumWarning,
                stacklevel=3,
            )
        self.coef_ = np.array([s.coef for s in solutions])
        self.intercept_ = np.array([s.intercept for s in solutions])
        self.n_iter_ = np.array([s.n_iter for s in solutions])
        if not all(s.converged for s in solutions):
            warnings.warn(
                f"Platt scaling did not converge in max_iter={self.max_iter} passes; "
                "increase max_iter.",
                CalibrationWarning,
                stacklevel=3,
            )

    def _fit_one(self, values, positive, sample_weight, transform, label, empty):
        summary = summarize_scores(values, positive, sample_weight, transform)
        smooth = self.target_smoothing
        if summary.weight_pos == 0 or summary.weight_pos == summary.weight:
            # One side has no weight: not a separation of the classes but a
            # class missing. One-vs-rest, "the rest" is empty only when every
            # other class is missing, and each of those reports itself.
            if summary.weight_pos == 0:
                empty.append(self.classes_[1] if label is None else label)
            elif label is None:
                empty.append(self.classes_[0])
            smooth = True
        elif not smooth and summary.separable:
            plain = label.item() if isinstance(label, np.generic) else label
            which = "" if label is None else f" (class {plain!r} against the rest)"
            warnings.warn(
                f"The scores separate the classes{which}, so the unsmoothed "
                "log-loss has no finite minimiser (the slope would grow without "
                "bound). Fitted with "
                "Platt's smoothed targets instead; set target_smoothing=True to "
                "choose this explicitly.",
                NoFiniteOptimumWarning,
                stacklevel=4,
            )
            smooth = True
        targets = _platt_targets(summary) if smooth else (1.0, 0.0)
        return fit_platt(
            values,
            positive,
            sample_weight=sample_weight,
            targets=targets,
            transform=transform,
            summary=summary,
            max_iter=self.max_iter,
        )

    def _predict_proba(self, X):
        if len(self.classes_) == 2:
            values, transform = binary_scores(X, self.input)
            out = np.empty((X.shape[0], 2), dtype=X.dtype)
            for rows in row_chunks(X.shape[0], 1 if X.ndim == 1 else 2):
                s = as_float64(values[rows])
                if transform is not None:
                    s = transform(s)
                z = self.coef_[0] * s + self.intercept_[0]
                out[rows] = binary_columns(expit(-z), expit(z), X.dtype)
            return out
        scores = one_vs_rest_scores(X, self.input, X.dtype)
        out = np.empty((X.shape[0], len(self.classes_)), dtype=X.dtype)
        for rows in row_chunks(X.shape[0], len(self.classes_)):
            z = self.coef_[:, None] * scores[:, rows] + self.intercept_[:, None]
            # Normalise log sigmoid(z_k) in log space: sigmoid(z_k) may
            # underflow to 0 in every column while the ratios are finite.
            out[rows] = row_softmax(-np.logaddexp(0.0, -z.T))
        return out


def _platt_targets(summary):
    """Platt's smoothed targets from the (weighted) class counts of a summary."""
    n_pos = summary.weight_pos
    n_neg = summary.weight - n_pos
    return (n_pos + 1.0) / (n_pos + 2.0), 1.0 / (n_neg + 2.0)

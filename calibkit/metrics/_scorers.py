"""calibkit metrics as scikit-learn scorers, for model selection by calibration.

A scorer is called as ``scorer(estimator, X, y_true, sample_weight=None)`` and
returns a number where greater is better, so losses are negated. Use them as
``scoring=`` in :class:`~sklearn.model_selection.GridSearchCV`,
:func:`~sklearn.model_selection.cross_val_score` and friends::

    from calibkit.metrics import get_scorer
    search = GridSearchCV(model, grid, scoring=get_scorer("neg_log_loss_exact"))
"""

import importlib
from dataclasses import dataclass, field

from calibkit._validation import options, validate_params

__all__ = [
    "SCORERS",
    "CalibrationScorer",
    "get_scorer",
    "get_scorer_names",
    "make_calibration_scorer",
]

#: Ready-made scorers: name -> (name of the calibkit.metrics function, options).
SCORERS = {
    "neg_log_loss_exact": ("log_loss", {}),
    "neg_brier_score": ("brier_score", {}),
    "neg_expected_calibration_error": ("expected_calibration_error", {}),
}


@dataclass(frozen=True)
class CalibrationScorer:
    """A probability metric scored on an estimator's ``predict_proba``.

    Build one with :func:`make_calibration_scorer` or :func:`get_scorer`.

    Parameters
    ----------
    metric : callable or str
        The metric, ``metric(y_true, y_prob, *, sample_weight=None, labels=None,
        **kwargs)``, or the name of a function in :mod:`calibkit.metrics`
        (looked up when the scorer is called).
    greater_is_better : bool
        ``False`` for losses: the scorer returns ``-metric``.
    kwargs : dict
        Further keyword arguments of the metric.
    """

    metric: object
    greater_is_better: bool = False
    kwargs: dict = field(default_factory=dict)

    def __call__(self, estimator, X, y_true, sample_weight=None):
        """Score ``estimator`` on ``(X, y_true)``.

        Parameters
        ----------
        estimator : classifier
            A fitted classifier with ``predict_proba`` and ``classes_``.
        X : array-like of shape (n_samples, n_features)
            Data for ``estimator.predict_proba``.
        y_true : array-like of shape (n_samples,)
            Observed labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights, passed to the metric.

        Returns
        -------
        float
            The metric (negated when ``greater_is_better`` is False).

        Notes
        -----
        The scorer is made with :func:`sklearn.metrics.make_scorer` and
        ``response_method="predict_proba"``: for a binary classifier the
        metric receives the 1-D probability of ``classes_[1]`` (or of
        ``pos_label`` when given), otherwise all columns. ``labels`` defaults to
        the estimator's ``classes_``, so that a test fold that lacks a class is
        still scored against the right columns.
        """
        kwargs = dict(self.kwargs)
        classes = getattr(estimator, "classes_", None)
        if "labels" not in kwargs and classes is not None:
            kwargs["labels"] = classes
        from sklearn.metrics import make_scorer

        scorer = make_scorer(
            resolve_metric(self.metric),
            response_method="predict_proba",
            greater_is_better=self.greater_is_better,
            **kwargs,
        )
        return scorer(estimator, X, y_true, sample_weight=sample_weight)

    def __repr__(self):
        name = self.metric if isinstance(self.metric, str) else self.metric.__name__
        options = "".join(f", {k}={v!r}" for k, v in self.kwargs.items())
        return (
            f"make_calibration_scorer({name}, "
            f"greater_is_better={self.greater_is_better}{options})"
        )


@validate_params({"metric": [callable, str], "greater_is_better": ["boolean"]})
def make_calibration_scorer(metric, *, greater_is_better=False, **kwargs):
    """Make a scikit-learn scorer from a probability metric.

    Parameters
    ----------
    metric : callable or str
        ``metric(y_true, y_prob, *, sample_weight=None, labels=None, **kwargs)``
        with ``y_prob`` the 1-D probability of the positive class for a binary
        problem or an ``(n_samples, n_classes)`` matrix, or the name of a
        function in :mod:`calibkit.metrics` (e.g. ``"log_loss"``,
        ``"brier_score"``, ``"expected_calibration_error"``).
    greater_is_better : bool, default=False
        Whether larger metric values are better. Calibration metrics are
        losses, so by default the scorer returns their negative.
    **kwargs
        Keyword arguments of the metric, e.g. ``n_bins=10``.

    Returns
    -------
    CalibrationScorer
        A callable ``scorer(estimator, X, y_true, sample_weight=None)``.

    Raises
    ------
    ValueError
        When ``metric`` names no function of :mod:`calibkit.metrics`.
    TypeError
        When ``metric`` is neither a string nor callable.

    See Also
    --------
    get_scorer : Ready-made scorers by name.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.naive_bayes import GaussianNB
    >>> from calibkit.metrics._scorers import make_calibration_scorer
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> model = GaussianNB().fit(X[:400], y[:400])
    >>> scorer = make_calibration_scorer("brier_score")
    >>> score = scorer(model, X[400:], y[400:])
    >>> round(score, 4)
    -0.0343
    >>> from calibkit.metrics import brier_score
    >>> bool(score == -brier_score(y[400:], model.predict_proba(X[400:])[:, 1]))
    True
    """
    resolve_metric(metric)
    return CalibrationScorer(metric, greater_is_better, dict(kwargs))


@validate_params({"name": [options(SCORERS)]})
def get_scorer(name):
    """A ready-made calibration scorer by name.

    Parameters
    ----------
    name : str
        One of :func:`get_scorer_names`: ``"neg_log_loss_exact"`` (exact
        log-loss in nats: a certain, wrong forecast scores ``-inf``, unlike
        scikit-learn's clipped ``"neg_log_loss"``), ``"neg_brier_score"`` and
        ``"neg_expected_calibration_error"``.

    Returns
    -------
    CalibrationScorer
        A callable ``scorer(estimator, X, y_true, sample_weight=None)``.

    Examples
    --------
    >>> from calibkit.metrics import get_scorer
    >>> get_scorer("neg_brier_score")
    make_calibration_scorer(brier_score, greater_is_better=False)
    """
    metric, kwargs = SCORERS[name]
    return make_calibration_scorer(metric, **kwargs)


def get_scorer_names():
    """Return the names accepted by :func:`get_scorer`.

    Returns
    -------
    list of str
        The names, sorted.
    """
    return sorted(SCORERS)


def resolve_metric(metric):
    """The metric function: ``metric`` itself, or looked up in calibkit.metrics."""
    if callable(metric):
        return metric
    if not isinstance(metric, str):
        msg = (
            "metric must be a callable or the name of a calibkit.metrics function; "
            f"got {type(metric).__name__}."
        )
        raise TypeError(msg)
    # Imported here so that this module does not fix the import order of the
    # metrics package.
    metrics = importlib.import_module("calibkit.metrics")
    function = getattr(metrics, metric, None)
    if not callable(function):
        available = sorted(
            name for name in getattr(metrics, "__all__", []) if not name.startswith("_")
        )
        msg = f"calibkit.metrics has no metric {metric!r}; available: {available}."
        raise ValueError(msg)
    return function

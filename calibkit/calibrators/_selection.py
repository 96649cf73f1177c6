"""Cross-validated choice between calibrators (``method="auto"``).

One rule serves :class:`~calibkit.CalibratedClassifier` and ``calibkit fit
--method auto``, so that both pick the same method on the same scores:
:func:`select_method` fits each candidate on training folds of the calibration
rows and scores it by its held-out log-loss (nats), weighted by
``sample_weight``. With an integer ``cv`` the folds are
``StratifiedKFold(n_splits=min(cv, rows of the rarest class))``, unshuffled:
deterministic, and every training part holds every class.
"""

import warnings
from dataclasses import dataclass
from numbers import Integral

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import StratifiedKFold, check_cv

from calibkit._validation import (
    check_consistent_length,
    check_sample_weight,
    encode_labels,
    format_label,
)
from calibkit.calibrators._registry import CALIBRATORS
from calibkit.exceptions import CalibrationWarning, InputKindWarning
from calibkit.metrics._kernels import (
    counted_rows,
    log_loss_sum,
    total_weight,
    weight_rows,
)

__all__ = ["CalibrationSet", "Selection", "choose_method", "select_method"]


@dataclass(frozen=True)
class Selection:
    """The method chosen by :func:`select_method` and why.

    Attributes
    ----------
    method : str
        The registered name of the candidate with the lowest loss (the first
        in registry order on a tie).
    losses : dict of str to float
        Cross-validated mean log-loss (nats) of every candidate, in the order
        tried; ``inf`` for a candidate certain of something on a held-out row.
    n_splits : int
        Number of folds used.
    """

    method: str
    losses: dict
    n_splits: int


def select_method(
    X, y, *, input, sample_weight=None, cv=5, classes=None, candidates=None
):
    """Choose a calibration method by cross-validated log-loss.

    Parameters
    ----------
    X : array-like of shape (n_samples,) or (n_samples, n_classes)
        Calibration inputs, as for a calibrator's ``fit``.
    y : array-like of shape (n_samples,)
        True labels.
    input : {"logits", "probabilities"}
        What ``X`` holds; every candidate is built with this ``input``.
    sample_weight : array-like of shape (n_samples,), default=None
        Row weights, for fitting and for the mean held-out loss.
    cv : int, cross-validation generator or iterable, default=5
        An int ``k`` gives ``StratifiedKFold(n_splits=min(k, r))`` without
        shuffling, ``r`` the number of rows of the rarest class in ``y``
        (classes of ``classes`` absent from ``y`` do not count). Otherwise the
        splits of the given splitter, which must put every row in exactly one
        test fold.
    classes : array-like, default=None
        Every class (the columns of ``X``), for when ``y`` lacks some.
    candidates : sequence of str, default=None
        Registered method names to try, in this order; default: all of
        :data:`~calibkit.calibrators._registry.CALIBRATORS`.

    Returns
    -------
    Selection
        The chosen name and the loss of every candidate.

    Raises
    ------
    ValueError
        For a class of ``y`` with a single row (there is no fold split that
        trains and tests on it) when ``cv`` is an int, an unknown candidate, or
        bad ``input``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> s = rng.normal(size=300)
    >>> y = (rng.random(300) < 1 / (1 + np.exp(-3 * s))).astype(int)
    >>> choice = select_method(s, y, input="logits")
    >>> choice.method == min(choice.losses, key=choice.losses.get), choice.n_splits
    (True, 5)
    """
    if input not in ("logits", "probabilities"):
        msg = f"input must be 'logits' or 'probabilities'; got {input!r}."
        raise ValueError(msg)
    names = list(CALIBRATORS) if candidates is None else list(candidates)
    unknown = [name for name in names if name not in CALIBRATORS]
    if unknown or not names:
        msg = (
            f"candidates must be registered method names ({', '.join(CALIBRATORS)}); "
            f"got {names!r}."
        )
        raise ValueError(msg)
    X = np.asarray(X)
    classes, codes = encode_labels(y, classes=classes, name="y")
    check_consistent_length(X=X, y=codes)
    sample_weight = check_sample_weight(sample_weight, codes.shape[0])
    calibration = CalibrationSet(X, codes, sample_weight)
    return choose_method(
        calibration,
        {name: CALIBRATORS[name](input=input) for name in names},
        cv=cv,
        classes=classes,
    )


def choose_method(calibration, candidates, *, cv, classes):
    """:func:`select_method` on a :class:`CalibrationSet` of class codes.

    ``candidates`` maps names to unfitted calibrators; ``classes[code]`` is
    the label of a code (for messages).
    """
    splits = selection_splits(cv, calibration.inputs, calibration.codes, classes)
    losses = {
        name: calibration.cross_validated_log_loss(calibrator, splits)
        for name, calibrator in candidates.items()
    }
    return Selection(min(losses, key=losses.get), losses, len(splits))


def selection_splits(cv, X, codes, classes):
    """The (train, test) folds that score the candidates (see select_method)."""
    if isinstance(cv, Integral) and not isinstance(cv, bool):
        if cv < 2:
            msg = f"cv must be at least 2 folds; got {cv}."
            raise ValueError(msg)
        counts = np.bincount(codes, minlength=len(classes))
        present = np.flatnonzero(counts)
        rarest = present[np.argmin(counts[present])]
        if counts[rarest] < 2:
            msg = (
                "Choosing a method by cross-validation needs at least 2 rows of "
                f"every class; class {format_label(classes[rarest])} has 1. Choose "
                "a method, or add rows of that class."
            )
            raise ValueError(msg)
        # Unshuffled: the same scores give the same folds, hence the same choice.
        cv = StratifiedKFold(n_splits=int(min(cv, counts[rarest])))
    else:
        cv = check_cv(cv, codes, classifier=True)
    splits = split_rows(cv, X, codes)
    check_partition(splits, codes.shape[0])
    return splits


def split_rows(cv, X, y):
    """The (train, test) index pairs of a splitter, as arrays."""
    with warnings.catch_warnings():
        # StratifiedKFold warns when a class has fewer rows than folds. Its
        # callers handle that: a calibration (test) part without the class is
        # fitted with every class, and CalibratedClassifier refuses a training
        # part without it, naming the fold.
        warnings.filterwarnings(
            "ignore", message="The least populated class", category=UserWarning
        )
        return [(np.asarray(tr), np.asarray(te)) for tr, te in cv.split(X, y)]


def check_partition(splits, n_samples):
    """Every row must be in exactly one test fold."""
    tested = np.concatenate([test for _, test in splits])
    counts = np.bincount(tested, minlength=n_samples)
    if tested.shape[0] != n_samples or np.any(counts != 1):
        row = int(np.flatnonzero(counts != 1)[0])
        msg = (
            "cv must put every row in exactly one test fold (the calibrator is "
            f"fitted on out-of-fold outputs); row {row} is in {counts[row]} test "
            "folds."
        )
        raise ValueError(msg)


@dataclass(frozen=True)
class CalibrationSet:
    """Calibrator inputs (out-of-fold outputs), class codes and weights."""

    inputs: np.ndarray
    codes: np.ndarray
    sample_weight: np.ndarray | None

    @property
    def all_rows(self):
        return np.arange(self.codes.shape[0])

    def fit(self, calibrator, rows):
        """A fitted clone of ``calibrator`` on the given rows."""
        weights = None if self.sample_weight is None else self.sample_weight[rows]
        with warnings.catch_warnings():
            # The calibrators guess when logits "look like probabilities" (all
            # in [0, 1]); here the input kind is known from the response.
            warnings.simplefilter("ignore", InputKindWarning)
            # Exact zeros in a classifier's predict_proba are expected (trees,
            # k-NN, naive Bayes) and modelled by the calibrators.
            warnings.filterwarnings(
                "ignore",
                message="X holds .* exactly 0 or 1",
                category=CalibrationWarning,
            )
            # classes=: every class has a column in the inputs, even when these
            # rows lack it (a rare class absent from a fold).
            return clone(calibrator).fit(
                self.inputs[rows],
                self.codes[rows],
                sample_weight=weights,
                classes=np.arange(2 if self.inputs.ndim == 1 else self.inputs.shape[1]),
            )

    def cross_validated_log_loss(self, calibrator, splits):
        """Mean log-loss (nats) of ``calibrator`` on held-out folds of the rows.

        A candidate that gives some class probability exactly 0 on a held-out
        row scores ``inf`` even if no row of that class came: it is certain of
        something, and one row of that class on new data costs an infinite
        log-loss. So "auto" never prefers such a calibrator to one whose loss
        is finite (a temperature of 0, say, on rows the model got all right).
        """
        total, weight = 0.0, 0.0
        with warnings.catch_warnings():
            # Warnings of candidates that may not be chosen would only confuse;
            # the chosen one is refitted on all rows and warns then.
            warnings.simplefilter("ignore", CalibrationWarning)
            for train, test in splits:
                fitted = self.fit(calibrator, train)
                proba = fitted.predict_proba(self.inputs[test])
                w = weight_rows(self.sample_weight, test)
                if np.any(proba[counted_rows(w, test.shape[0])] == 0):
                    return float("inf")
                # fit() passes classes=arange(K): columns are the class codes.
                part, _, _ = log_loss_sum(proba, self.codes[test], w)
                total += part
                weight += total_weight(w, test.shape[0])
        return total / weight

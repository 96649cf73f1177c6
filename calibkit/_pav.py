"""Weighted pool-adjacent-violators (PAV) with exact ties pooled first.

Rows with equal scores are merged into one point before PAV runs, so that the
fit is a function of the score. Only *exactly* equal scores are merged: values
that differ, however little, stay distinct (scikit-learn merges values within
1e-15 of each other, which changes results on fine-grained scores).

The PAV fit minimises every Bregman loss -- squared error and log-loss alike --
among non-decreasing functions of the score, so it is the log-loss-optimal
monotone recalibration (Brümmer & du Preez, 2013; Jordan et al., 2022).
"""

from dataclasses import dataclass

import numpy as np
from scipy.optimize import isotonic_regression


@dataclass(frozen=True)
class PAVFit:
    """Result of :func:`pav`.

    Attributes
    ----------
    scores : ndarray of shape (n_distinct,)
        Distinct scores with positive weight, increasing.
    fitted : ndarray of shape (n_distinct,)
        Non-decreasing PAV fit at each distinct score.
    weights : ndarray of shape (n_distinct,)
        Total sample weight at each distinct score.
    targets : ndarray of shape (n_distinct,)
        Weighted mean of ``y`` at each distinct score (before PAV).
    block_starts : ndarray of shape (n_blocks + 1,)
        Index into ``scores`` where each constant block of ``fitted`` starts;
        the last entry is ``n_distinct``.
    """

    scores: np.ndarray
    fitted: np.ndarray
    weights: np.ndarray
    targets: np.ndarray
    block_starts: np.ndarray

    @property
    def block_values(self):
        """Fitted value of each block."""
        return self.fitted[self.block_starts[:-1]]

    @property
    def block_weights(self):
        """Total weight of each block."""
        return np.add.reduceat(self.weights, self.block_starts[:-1])


def pool_ties(scores, y, sample_weight=None):
    """Sort by score and merge rows with exactly equal scores.

    Rows with zero weight are dropped first.

    Parameters
    ----------
    scores : ndarray of shape (n_samples,)
    y : ndarray of shape (n_samples,)
        Targets (0/1 labels or values in [0, 1]).
    sample_weight : ndarray of shape (n_samples,) or None

    Returns
    -------
    distinct : ndarray
        Distinct scores, increasing.
    weight : ndarray
        Total weight per distinct score.
    target : ndarray
        Weighted mean target per distinct score.
    order : ndarray
        The sorting permutation of the kept rows (indices into the input).
    starts : ndarray
        Start of each distinct score in the sorted kept rows.
    """
    if sample_weight is None:
        order = np.argsort(scores)
        w_sorted = None
    else:
        kept = np.flatnonzero(sample_weight > 0)
        order = kept[np.argsort(scores[kept])]
        w_sorted = np.asarray(sample_weight, dtype=np.float64)[order]
    s_sorted = scores[order]
    y_sorted = np.asarray(y[order], dtype=np.float64)
    new_value = np.empty(s_sorted.shape[0], dtype=bool)
    new_value[0] = True
    np.not_equal(s_sorted[1:], s_sorted[:-1], out=new_value[1:])
    starts = np.flatnonzero(new_value)
    if w_sorted is None:
        weight = np.diff(np.append(starts, s_sorted.shape[0])).astype(np.float64)
        target_sum = np.add.reduceat(y_sorted, starts)
    else:
        weight = np.add.reduceat(w_sorted, starts)
        target_sum = np.add.reduceat(w_sorted * y_sorted, starts)
    target = target_sum / weight
    return s_sorted[starts], weight, target, order, starts


def pav(scores, y, sample_weight=None):
    """Weighted isotonic (non-decreasing) regression of ``y`` on ``scores``.

    Parameters
    ----------
    scores : ndarray of shape (n_samples,)
        Finite scores; only their order and exact ties matter.
    y : ndarray of shape (n_samples,)
        Targets, typically 0/1 indicators.
    sample_weight : ndarray of shape (n_samples,) or None
        Non-negative weights; zero-weight rows are ignored.

    Returns
    -------
    PAVFit
    """
    distinct, weight, target, _, _ = pool_ties(scores, y, sample_weight)
    result = isotonic_regression(target, weights=weight, increasing=True)
    fitted = np.clip(result.x, 0.0, 1.0) if _is_unit(target) else result.x
    return PAVFit(
        scores=distinct,
        fitted=fitted,
        weights=weight,
        targets=target,
        block_starts=np.asarray(result.blocks, dtype=np.intp),
    )


def _is_unit(target):
    # Block means of values in [0, 1] lie in [0, 1]; clipping only removes
    # rounding excursions such as 1 + 1e-16, which would break log-losses.
    return target.min() >= 0.0 and target.max() <= 1.0


def pav_per_row(scores, y, sample_weight=None):
    """PAV fit evaluated at each input row (in the input's order).

    Parameters
    ----------
    scores, y, sample_weight
        As in :func:`pav`. Rows with zero weight receive the fit of their score
        when it equals a score with positive weight, and NaN otherwise.

    Returns
    -------
    fit : PAVFit
    per_row : ndarray of shape (n_samples,)
    """
    fit = pav(scores, y, sample_weight)
    idx = np.searchsorted(fit.scores, scores)
    idx = np.minimum(idx, fit.scores.shape[0] - 1)
    per_row = fit.fitted[idx]
    if sample_weight is not None:
        per_row = np.where(fit.scores[idx] == scores, per_row, np.nan)
    return fit, per_row

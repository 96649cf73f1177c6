"""Isotonic calibration: the monotone map of the score that minimises log-loss."""

import warnings
from numbers import Integral, Real

import numpy as np

from calibkit._chunks import as_float64, is_dask, row_chunks
from calibkit._pav import binary_pav, out_of_core_pav, pav, sorted_event_keys
from calibkit._transforms import log_odds_from_logits
from calibkit._validation import Interval, StrOptions
from calibkit.calibrators._base import (
    BaseCalibrator,
    binary_columns,
    binary_scores,
    check_finite_log_odds,
    materialize,
    normalize_rows,
    one_vs_rest_scores,
)
from calibkit.calibrators._state import ArrayList, Float
from calibkit.exceptions import CalibrationWarning
from calibkit.metrics._kernels import counted_rows, total_weight

#: With ``eps="auto"``, a total weight below both this and half the number of
#: weighted rows draws a warning: the bound ``1 / (W + 2)`` (then above 1/102)
#: reflects the scale of the weights rather than the amount of data.
SMALL_TOTAL_WEIGHT = 100.0


class IsotonicCalibration(BaseCalibrator):
    """Isotonic calibration by weighted pool-adjacent-violators (PAV).

    Parameters
    ----------
    input : {"logits", "probabilities"}, default="logits"
        What ``X`` holds (1-D: of ``classes_[1]``). Only the order of the
        scores matters for the fit; the input kind decides validation and the
        scale used for interpolation (always the log-odds).
    interpolation : {"linear", "step"}, default="linear"
        Value between two calibration scores: ``"linear"`` interpolates
        linearly in log-odds between the ends of neighbouring PAV blocks;
        ``"step"`` keeps the value of the block at or below the score.
        Outside the calibration range the end values are used (clipping).
    eps : float in [0, 0.5) or "auto", default="auto"
        Outputs are clipped to ``[eps, 1 - eps]``, so that a held-out row is
        never given probability exactly 0 or 1 (which costs an infinite
        log-loss when wrong). ``"auto"`` uses Laplace's rule of succession for
        an event never seen in the calibration set, ``1 / (n + 2)`` with ``n``
        the total sample weight (weights read as frequencies). ``0`` gives the
        exact PAV fit, as scikit-learn's ``IsotonicRegression`` does. The
        fitted ``eps_`` stays below 1/2 however small the weights.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    X_thresholds_ : list of ndarray
        Per fitted model (one for binary, one per class otherwise), the scores
        (log-odds) at which the fitted map is known: the ends of each PAV block
        for ``"linear"``, the block starts for ``"step"``.
    y_thresholds_ : list of ndarray
        Fitted probability at each of ``X_thresholds_`` (before clipping).
    eps_ : float
        The clipping bound used.
    n_features_in_ : int
        1 for 1-D scores, else the number of columns of ``X``.

    See Also
    --------
    PlattScaling, TemperatureScaling : Parametric calibrators.

    Notes
    -----
    Rows with exactly equal scores are pooled first; scores that differ,
    however little, stay distinct (scikit-learn merges values within 1e-15).
    PAV then finds the non-decreasing step function ``c`` of the score that
    minimises the weighted squared error, which is also the minimiser of every
    Bregman loss -- log-loss included -- among monotone maps [2]_. The
    in-sample fit can reach 0 and 1 at the ends, hence ``eps``.

    Sample weights are frequencies, as in scikit-learn: a weight of 2 counts a
    row twice, and integer weights give what repeated rows give. The PAV fit
    depends on relative weights only; ``eps="auto"`` reads the total weight
    ``W`` as a number of rows. Weights normalised to sum to 1 would make it
    1/3, clipping every output to [1/3, 2/3], so a
    :class:`~calibkit.exceptions.CalibrationWarning` is issued when ``W`` is
    below both 100 and half the number of rows with positive weight: then the
    bound (above 1/102) reflects the scale of the weights, not the amount of
    data. A class absent from ``y`` or with all weights 0 is fitted as all
    negatives (probability ``eps_``), without a warning.

    Calibration rows of logits spanning more than about 1.8e308 have log-odds
    no double holds (their order among themselves is lost) and raise a
    ``ValueError``; in ``predict_proba`` such rows lie beyond every threshold
    and get the end value of the map, which is exact.

    A binary ``X`` that is a ``dask.array`` is fitted without gathering its
    rows: Dask sorts the rows by score across partitions (its own shuffle),
    each sorted partition is pooled by PAV where it lives, and the
    partitions' blocks are pooled once more on the client after equal scores
    split between partitions are merged. PAV never splits a block of a
    contiguous run of rows, so this is the exact fit of all rows. Labels and
    weights are validated in memory (a byte or two a row); a multiclass dask
    ``X`` is computed into memory.

    Multiclass problems are fitted one-vs-rest on per-class log-odds and the
    predicted rows are renormalised to sum to one (a row that is 0 in every
    class, possible only with ``eps=0``, becomes uniform). The fit holds the
    float64 log-odds of a few classes at a time (at most half the bytes of
    ``X``, or one class; logits take one pass over ``X`` per such block), and
    ``predict_proba`` works in row chunks.

    Array API inputs (torch, CuPy, ... with :func:`calibkit.config_context`):
    sorting-based methods move data to the host -- PAV sorts the scores, so
    ``X`` is copied to the host -- and the probabilities are returned on the
    input's device.

    References
    ----------
    .. [1] Zadrozny, B. & Elkan, C. (2002). Transforming classifier scores into
       accurate multiclass probability estimates. KDD, 694-699.
       doi:10.1145/775047.775151
    .. [2] Brümmer, N. & du Preez, J. (2013). The PAV algorithm optimizes binary
       proper scoring rules. arXiv:1304.2331. doi:10.48550/arXiv.1304.2331

    Examples
    --------
    >>> import numpy as np
    >>> from calibkit import IsotonicCalibration
    >>> scores = np.array([-2.0, -1.0, 0.0, 1.0, 2.0, 3.0])
    >>> y = np.array([0, 1, 0, 1, 1, 1])
    >>> cal = IsotonicCalibration(eps=0).fit(scores, y)
    >>> cal.predict_proba([-2.0, 0.0, 0.5, 3.0])[:, 1]
    array([0.  , 0.5 , 0.75, 1.  ])

    Scores too many to sort in memory (here a small budget, for show) are
    sorted out of core, with the same result:

    >>> rng = np.random.default_rng(0)
    >>> s = rng.normal(size=5_000)
    >>> t = (rng.random(5_000) < 1 / (1 + np.exp(-s))).astype(int)
    >>> big = IsotonicCalibration().fit(s, t, memory_budget=4_096)
    >>> small = IsotonicCalibration().fit(s, t)
    >>> bool(np.array_equal(big.X_thresholds_[0], small.X_thresholds_[0]))
    True
    """

    _parameter_constraints = {
        **BaseCalibrator._parameter_constraints,
        "interpolation": [StrOptions({"linear", "step"})],
        "eps": [Interval(Real, 0, 0.5, closed="left"), StrOptions({"auto"})],
    }

    #: Fitted attributes and how they are saved (see calibrators/_state.py):
    #: the knots of each fitted model, and the clipping bound.
    _fitted_state = {
        "X_thresholds_": ArrayList(),
        "y_thresholds_": ArrayList(),
        "eps_": Float(minimum=0, below=0.5),
    }

    def __init__(self, *, input="logits", interpolation="linear", eps="auto"):
        self.input = input
        self.interpolation = interpolation
        self.eps = eps

    def fit(self, X, y, sample_weight=None, *, classes=None, memory_budget=None):
        """Fit the isotonic map on saved predictions.

        Parameters
        ----------
        X : array-like of shape (n_samples,) or (n_samples, n_classes)
            Logits (1-D: log-odds of ``classes_[1]``) or, with
            ``input="probabilities"``, probabilities (1-D: of ``classes_[1]``).
            A ``np.memmap`` is read in chunks; a binary ``dask.array`` is
            fitted where its partitions live (see Notes).
        y : array-like of shape (n_samples,)
            True labels; any labels scikit-learn accepts, strings included.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights; integer weights act as repeated rows.
        classes : array-like of shape (n_classes,), default=None
            Every class, for when ``y`` does not contain them all.
        memory_budget : int or None, default=None
            Bytes a binary fit may use to sort the scores. When the float64
            scores take more (e.g. ``X`` is a ``np.memmap`` of 1e8 rows), they
            are sorted out of core: sorted runs that fit the budget are
            written to temporary files (in ``tempfile.gettempdir()``) and
            merged, and PAV keeps only its stack of blocks. The result is the
            in-memory fit (ties pooled, weights used). The labels and weights
            are validated in memory all the same. ``None``: in memory. A
            fit-time resource, not a parameter of the model: it is neither
            saved nor cloned. Multiclass fits ignore it.

        Returns
        -------
        IsotonicCalibration
            The fitted calibrator (``self``).
        """
        if memory_budget is not None:
            if not isinstance(memory_budget, Integral) or isinstance(
                memory_budget, bool
            ):
                msg = (
                    "memory_budget must be an integer number of bytes or None; "
                    f"got {type(memory_budget).__name__}."
                )
                raise TypeError(msg)
            if memory_budget < 1024:
                msg = f"memory_budget must be at least 1024 bytes; got {memory_budget}."
                raise ValueError(msg)
        self._memory_budget = memory_budget
        try:
            return super().fit(X, y, sample_weight, classes=classes)
        finally:
            del self._memory_budget

    def _summary(self):
        """The size of the fitted maps in a clause (for the command line)."""
        sizes = ", ".join(str(len(x)) for x in self.X_thresholds_)
        return f"isotonic map with {sizes} knots"

    def _check_state(self, fields):
        """Loaded knots must be a map this class can fit (see _persistence.py)."""
        x_name, y_name = fields.name("X_thresholds_"), fields.name("y_thresholds_")
        pairs = zip(self.X_thresholds_, self.y_thresholds_, strict=True)
        for k, (x, y) in enumerate(pairs):
            if x.shape != y.shape:
                raise fields.error(
                    f"fields '{x_name}' and '{y_name}' differ in length for model "
                    f"{k} ({x.shape[0]} and {y.shape[0]})."
                )
            if np.any(np.diff(x) <= 0):
                raise fields.error(
                    f"field '{x_name}' model {k} must be strictly increasing."
                )
            if np.any((y < 0) | (y > 1)):
                raise fields.error(
                    f"field '{y_name}' model {k} must hold probabilities in [0, 1]."
                )
            if np.any(np.diff(y) < 0):
                raise fields.error(
                    f"field '{y_name}' model {k} decreases; an isotonic map is "
                    "non-decreasing."
                )
            # "step" keeps one knot per block, so its probabilities strictly
            # increase; "linear" keeps both ends of a block, so a probability
            # appears at most twice.
            if self.interpolation == "step":
                bad = np.any(np.diff(y) <= 0)
                layout = "strictly increasing probabilities (one knot per block)"
            else:
                thrice = (y[2:] == y[1:-1]) & (y[1:-1] == y[:-2])
                bad = np.any(thrice)
                layout = "each probability at most twice (the two ends of a block)"
            if bad:
                raise fields.error(
                    f"field '{y_name}' model {k} does not have the layout of "
                    f"interpolation={self.interpolation!r}: {layout}."
                )
        if self.eps != "auto" and self.eps_ != float(self.eps):
            raise fields.error(
                f"field '{fields.name('eps_')}' is {self.eps_!r} but the parameter "
                f"eps is {self.eps!r}; they must agree."
            )

    def _scores(self, X, classes=None):
        """Log-odds scores (float64), one row per fitted model or per class of
        the slice ``classes``."""
        if len(self.classes_) == 2:
            return materialize(*binary_scores(X, self.input))[None, :]
        return one_vs_rest_scores(X, self.input, np.float64, classes=classes)

    def _class_blocks(self, X):
        """``(classes, scores)`` for a few classes at a time (multiclass).

        Each block's float64 scores take at most half the bytes of ``X`` (and
        hold at least one class), so that a float32 ``X`` is never copied
        whole to float64. Logits take one pass over ``X`` per block (a class's
        log-odds need the whole row).
        """
        if is_dask(X):  # materialised once here, not once per block
            X = X.compute()
        n_classes = len(self.classes_)
        per_block = max(1, (n_classes * X.dtype.itemsize) // 16)
        for start in range(0, n_classes, per_block):
            block = slice(start, min(start + per_block, n_classes))
            yield range(block.start, block.stop), self._scores(X, block)

    def _fit(self, X, y, sample_weight):
        self.eps_ = (
            self._auto_eps(sample_weight, X.shape[0])
            if self.eps == "auto"
            else float(self.eps)
        )
        # Predictions for logits whose log-odds overflow are exact (beyond
        # every threshold: the end value); a fit on them is not.
        method = "Isotonic calibration"
        if len(self.classes_) == 2 and self._fit_by_blocks(X, y, sample_weight):
            return
        if len(self.classes_) == 2:
            scores = self._scores(X)
            check_finite_log_odds(X, self.input, method, scores=scores)
            blocks = [([1], scores)]
        else:
            blocks = self._class_blocks(X)
        xs, ys = [], []
        for models, scores in blocks:
            if self.input == "logits" and not np.isfinite(scores).all():
                # Refused before this block is fitted; the check reads all of X
                # (one more pass, on this path only) to count every such row.
                check_finite_log_odds(
                    X, self.input, method, values=X, transform=log_odds_from_logits
                )
            for row, k in enumerate(models):
                x, fitted = self._knots(scores[row], y == k, sample_weight)
                xs.append(x)
                ys.append(fitted)
            del scores  # before the next block is computed
        self.X_thresholds_, self.y_thresholds_ = xs, ys

    def _fit_by_blocks(self, X, y, sample_weight):
        """Fit a binary dask ``X``, or one too large for ``memory_budget``, from
        PAV blocks (see the class Notes); False when neither applies."""
        dask = is_dask(X)
        budget = getattr(self, "_memory_budget", None)
        if not dask and (budget is None or 8 * X.shape[0] <= budget):
            return False
        values, transform = binary_scores(X, self.input)
        check_logits = self.input == "logits" and X.ndim == 2  # may overflow
        if dask:
            from calibkit._dask import dask_pav

            scores = values
            if transform is not None:
                if values.ndim == 2:
                    values = values.rechunk({1: -1})
                scores = values.map_blocks(
                    lambda block: transform(as_float64(block)),
                    dtype=np.float64,
                    **({"drop_axis": 1} if values.ndim == 2 else {}),
                )
            if check_logits and not bool(np.isfinite(scores).all().compute()):
                check_finite_log_odds(
                    X, self.input, "Isotonic calibration", scores=scores.compute()[None]
                )
            blocks = dask_pav(scores.astype(np.float64), y == 1, sample_weight)
        else:
            if check_logits:
                check_finite_log_odds(
                    X,
                    self.input,
                    "Isotonic calibration",
                    values=values,
                    transform=transform,
                )
            blocks = out_of_core_pav(
                _ChunkedScores(values, transform),
                _ChunkedEvents(y),
                sample_weight,
                memory_budget=budget,
            )
        x, fitted = blocks.knots(self.interpolation)
        self.X_thresholds_, self.y_thresholds_ = [x], [fitted]
        return True

    def _knots(self, scores, events, sample_weight):
        """Scores and fitted probabilities at the knots of one model's map."""
        fit = None
        if sample_weight is None:  # 0/1 events, weights 1: one plain sort
            keys = sorted_event_keys(scores, events)
            fit = None if keys is None else binary_pav(keys)
            del keys
        if fit is None:  # weights, ties or neighbouring doubles: pool ties
            pooled = pav(scores, events, sample_weight)  # bool: 1 byte a row
            starts, scores = pooled.block_starts, pooled.scores
            block_values = pooled.fitted[starts[:-1]]
        else:
            starts, block_values = fit.starts, fit.fitted
            scores = np.sort(scores)  # the knots' exact scores
        if self.interpolation == "step":
            keep = starts[:-1]
        else:
            keep = np.unique(np.concatenate([starts[:-1], starts[1:] - 1]))
        block = np.searchsorted(starts, keep, side="right") - 1
        return scores[keep], block_values[block]

    @staticmethod
    def _auto_eps(sample_weight, n_rows):
        """Laplace's bound ``1 / (W + 2)``, kept below 1/2 (the bound on ``eps``).

        ``W`` is the total weight, read as a number of rows. Warns when that
        reading makes the bound large only because the weights are small.
        """
        total = total_weight(sample_weight, n_rows)
        # For W below ~2e-16, 1 / (W + 2) rounds to 1/2, outside the domain of
        # eps (and of a saved file); the exact value lies below it.
        eps = min(1.0 / (total + 2.0), np.nextafter(0.5, 0.0))
        n_weighted = int(np.count_nonzero(counted_rows(sample_weight, n_rows)))
        if total < min(0.5 * n_weighted, SMALL_TOTAL_WEIGHT):
            warnings.warn(
                f"sample_weight sums to {total:.3g} over {n_weighted} rows with "
                "positive weight. Weights are read as frequencies (a weight of 2 "
                "counts a row twice), so eps='auto' clips every probability to "
                f"[{eps:.3g}, {1.0 - eps:.3g}] (1 / (W + 2) for a total weight W). "
                "Scale the weights to count rows (e.g. to a mean of 1) or pass "
                "eps explicitly.",
                CalibrationWarning,
                stacklevel=4,
            )
        return eps

    def _map(self, scores, model):
        """The fitted monotone map of one model, clipped to [eps_, 1 - eps_]."""
        xs, ys = self.X_thresholds_[model], self.y_thresholds_[model]
        if self.interpolation == "step":
            idx = np.searchsorted(xs, scores, side="right") - 1
            out = ys[np.maximum(idx, 0)]
        else:
            out = np.interp(scores, xs, ys)
        return np.clip(out, self.eps_, 1.0 - self.eps_)

    def _predict_proba(self, X):
        n_classes = len(self.classes_)
        if n_classes == 2:
            p = self._map(self._scores(X)[0], 0)
            return binary_columns(1.0 - p, p, X.dtype)
        # Chunk by chunk: only one chunk's scores and probabilities are float64.
        out = np.empty((X.shape[0], n_classes), dtype=X.dtype)
        for rows in row_chunks(X.shape[0], n_classes):
            scores = self._scores(X[rows])
            chunk = np.empty((scores.shape[1], n_classes))
            for k in range(n_classes):
                chunk[:, k] = self._map(scores[k], k)
            out[rows] = normalize_rows(chunk)
        return out


class _ChunkedScores:
    """Float64 log-odds of row ranges of ``values``, computed when sliced."""

    dtype = np.dtype(np.float64)

    def __init__(self, values, transform):
        self.values, self.transform = values, transform
        self.shape = (values.shape[0],)

    def __getitem__(self, rows):
        chunk = as_float64(self.values[rows])
        return chunk if self.transform is None else self.transform(chunk)


class _ChunkedEvents:
    """``codes == 1`` of row ranges of label codes, computed when sliced."""

    def __init__(self, codes):
        self.codes = codes
        self.shape = codes.shape

    def __getitem__(self, rows):
        return np.asarray(self.codes[rows]) == 1

"""Log-loss models of the calibrators, solved by :mod:`calibkit._newton`.

Each model computes its weighted mean log-loss, gradient and Hessian in one
pass over the rows, in chunks (see :mod:`calibkit._newton` for the protocol),
so float32 and memory-mapped inputs are read, never copied whole. The fit
functions here prepare a model (summaries, scaling, starting point), call the
one Newton driver and map its result back to the calibrator's parameters.
"""

import dataclasses
import functools
from dataclasses import dataclass

import numpy as np

from calibkit._array_api import (
    host_rows,
    is_on_device,
    take_subsample,
    temperature_passes,
)
from calibkit._chunks import as_float64, combine_sum_max, reduce_rows, row_max, row_sum
from calibkit._newton import ChunkedModel, minimize, minimize_scalar
from calibkit.metrics._kernels import scaled_to_unit_max, total_weight


def _transformed(values, transform):
    """A chunk as float64, mapped through ``transform`` when given."""
    values = as_float64(values)
    return values if transform is None else transform(values)


def _chunk(X, rows, transform):
    """Rows of ``X`` as float64 (computed, if ``X`` is a dask array), transformed.

    Rows of an array on an Array API device are transformed there and copied
    to the host: only subsamples and single rows are read this way.
    """
    if is_on_device(X):
        return host_rows(X, rows, transform)
    return _transformed(np.asarray(X[rows]), transform)


#: Largest magnitudes of scores or logits used as given. Outside this window the
#: solvers first multiply the data by a power of two -- exactly, bit for bit
#: (barring subnormals) -- so that squares and weighted sums (up to the 1e250
#: total weight that ``check_sample_weight`` admits) neither overflow nor sink
#: into subnormals, and the fits stay equivariant under scaling across the whole
#: float64 range.
MAGNITUDE_WINDOW = (2.0**-200, 2.0**50)


def scale_exponent(magnitude):
    """Exponent ``k`` that brings ``magnitude * 2**-k`` into [0.5, 1).

    0 when ``magnitude`` already lies in :data:`MAGNITUDE_WINDOW` (or is 0, or
    not finite), so ordinary data are used untouched.
    """
    low, high = MAGNITUDE_WINDOW
    if not np.isfinite(magnitude) or magnitude == 0.0 or low <= magnitude <= high:
        return 0
    return int(np.frexp(magnitude)[1])


def scaled_transform(transform, exponent):
    """``transform`` followed by multiplication with ``2**exponent`` (exact).

    Returns ``transform`` itself when ``exponent`` is 0. The result is a
    :func:`functools.partial` of :func:`_scaled`, whose ``transform`` and
    ``exponent`` the device passes (:mod:`calibkit._array_api`) read to apply
    the same map on the device.
    """
    if exponent == 0:
        return transform
    return functools.partial(_scaled, transform=transform, exponent=exponent)


def _scaled(values, *, transform, exponent):
    """See :func:`scaled_transform`."""
    return np.ldexp(values if transform is None else transform(values), exponent)


#: Largest subsample of rows used for the starting point (Platt and temperature
#: scaling); it is also at most 1/32 of the rows, so its copy stays within ~3 %
#: of the input's memory. Inputs whose subsample would be smaller than
#: MIN_SUBSAMPLE_ROWS start from scratch.
SUBSAMPLE_ROWS = 20_000
MIN_SUBSAMPLE_ROWS = 2_000


# --------------------------------------------------------------------------
# Platt scaling: p = sigmoid(a * s + b)
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class ScoreSummary:
    """One pass over binary scores: location, spread, class ranges and sums.

    Every field describes the scores multiplied by ``2**-exponent`` (see
    :func:`scale_exponent`; ``exponent`` is 0 unless the scores are extreme),
    so that nothing here overflows or underflows. Sums are of
    ``d = s - shift`` (``shift`` is the first score), which keeps them free of
    cancellation when the scores sit far from zero.
    """

    exponent: int
    magnitude: float
    shift: float
    weight: float
    mean: float
    std: float
    min_pos: float
    max_pos: float
    min_neg: float
    max_neg: float
    weight_pos: float
    sum_d_pos: float
    sum_d_neg: float

    @property
    def separable(self):
        """Whether a threshold on the score splits the classes (ties allowed).

        Then unsmoothed logistic regression has no finite minimiser. Constant
        scores are not separable: the slope is simply not identified.
        """
        if self.std == 0.0:
            return False
        return self.max_neg <= self.min_pos or self.max_pos <= self.min_neg


def _summary_kernel(rows, s, positive, w, *, shift, transform):
    """Partial sums ``[w, w d, w d^2, w pos, w d pos]`` and maxima
    ``[-min pos, max pos, -min neg, max neg, max |s|]`` with ``d = s - shift``.

    ``max |s|`` is over all rows, zero weights included: the solver evaluates
    those rows too.
    """
    s = _transformed(s, transform)
    d = s - shift
    w = np.ones_like(d) if w is None else w
    wd = w * d
    sums = [w.sum(), wd.sum(), _dot(wd, d), w[positive].sum(), wd[positive].sum()]
    maxima = [-np.inf] * 4
    present = w > 0
    for i, mask in enumerate((positive & present, ~positive & present)):
        if mask.any():
            maxima[2 * i : 2 * i + 2] = -s[mask].min(), s[mask].max()
    magnitude = max(-s.min(), s.max())
    return np.array([[*sums], [*maxima, magnitude]])


def summarize_scores(scores, y, sample_weight=None, transform=None):
    """Weighted moments of the scores, per-class ranges and per-class sums.

    Rows with zero weight are ignored for the ranges. Scores whose largest
    magnitude lies outside :data:`MAGNITUDE_WINDOW` are summarised after an
    exact multiplication by a power of two (a second pass, for such data only).
    """
    # The first pass may overflow on extreme scores; it is then discarded.
    with np.errstate(over="ignore", invalid="ignore"):
        summary = _summarize(scores, y, sample_weight, transform, 0)
    exponent = scale_exponent(summary.magnitude)
    if exponent:
        summary = _summarize(scores, y, sample_weight, transform, exponent)
    return summary


def _summarize(scores, y, sample_weight, transform, exponent):
    """:func:`summarize_scores` of the scores times ``2**-exponent``."""
    transform = scaled_transform(transform, -exponent)
    shift = float(_chunk(scores, slice(0, 1), transform)[0])
    kernel = functools.partial(_summary_kernel, shift=shift, transform=transform)
    sums, maxima = reduce_rows(
        kernel, scores, y, sample_weight, n_cols=1, combine=combine_sum_max
    )
    weight, sum_d, sum_d2, weight_pos, sum_d_pos = sums
    mean_d = sum_d / weight
    var = max(sum_d2 / weight - mean_d**2, 0.0)
    return ScoreSummary(
        exponent=exponent,
        magnitude=float(maxima[4]),
        shift=shift,
        weight=weight,
        mean=shift + mean_d,
        std=float(np.sqrt(var)),
        min_pos=-maxima[0],
        max_pos=maxima[1],
        min_neg=-maxima[2],
        max_neg=maxima[3],
        weight_pos=weight_pos,
        sum_d_pos=sum_d_pos,
        sum_d_neg=sum_d - sum_d_pos,
    )


@dataclass(frozen=True)
class PlattSolution:
    """Result of :func:`fit_platt`: ``p = sigmoid(coef * s + intercept)``."""

    coef: float
    intercept: float
    loss: float
    n_iter: int
    converged: bool
    summary: ScoreSummary | None = None


def _dot(a, b):
    # einsum rather than BLAS: threaded BLAS dot products on long vectors are
    # slow when other processes load the cores, and gain nothing here.
    return np.einsum("i,i->", a, b)


_PLATT_CHUNK_COLS = 4


class PlattModel(ChunkedModel):
    """Mean logistic loss, gradient and Hessian in standardised coordinates.

    The model is ``z = alpha * u + gamma`` on ``u = (s - center) / scale``;
    standardising keeps the 2x2 Newton system well conditioned whatever the
    magnitude of the scores. The label terms of the loss are linear in
    ``(alpha, gamma)``, so their sums are computed once from the summary and a
    pass reads only the scores.
    """

    n_params = 2
    #: Chunks of a quarter of the usual rows: the kernel's seven temporaries
    #: then stay in the CPU cache (measured: 10-30 % faster fits at 1e5-1e7).
    n_cols = _PLATT_CHUNK_COLS

    def __init__(self, scores, w, transform, center, scale, summary, targets):
        self.arrays = (scores, w)
        self.transform = transform
        self.center, self.scale = center, scale
        t_pos, t_neg = targets
        weight_neg = summary.weight - summary.weight_pos
        offset = summary.shift - center
        sum_u_pos = (summary.sum_d_pos + offset * summary.weight_pos) / scale
        sum_u_neg = (summary.sum_d_neg + offset * weight_neg) / scale
        # Sum of w * t * [u, 1]: the label part of the gradient.
        self.target_sums = np.array(
            [
                t_pos * sum_u_pos + t_neg * sum_u_neg,
                t_pos * summary.weight_pos + t_neg * weight_neg,
            ]
        )
        self.total_weight = summary.weight

    #: ``(theta, sums)`` of a pass already made (the first pass, which also
    #: gave the summary); :meth:`evaluate` at that ``theta`` reuses it once.
    first = None

    def evaluate(self, theta):
        """Mean loss, gradient and Hessian at ``theta``: one pass (or none)."""
        if self.first is not None and np.array_equal(theta, self.first[0]):
            sums, self.first = self.first[1], None
            return self.unpack(sums / self.total_weight, theta)
        return super().evaluate(theta)

    def kernel(self, rows, s, w, *, theta):
        alpha, gamma = theta
        return _platt_kernel(
            rows,
            s,
            w,
            alpha=alpha,
            gamma=gamma,
            center=self.center,
            scale=self.scale,
            transform=self.transform,
        )

    def unpack(self, means, theta):
        softplus, p, pu, c, cu, cuu = means
        t_u, t_1 = self.target_sums / self.total_weight
        loss = softplus - theta[0] * t_u - theta[1] * t_1
        grad = np.array([pu - t_u, p - t_1])
        hess = np.array([[cuu, cu], [cu, c]])
        return loss, grad, hess


def _platt_kernel(rows, s, w, *, alpha, gamma, center, scale, transform):
    """Partial sums of softplus(z), p, p u, c, c u, c u^2 (c = p (1 - p))."""
    return _platt_sums(_transformed(s, transform), w, alpha, gamma, center, scale)[0]


def _platt_sums(s, w, alpha, gamma, center, scale):
    """:func:`_platt_kernel` of a float64 chunk ``s``, and ``u = (s - center) / scale``.

    Written for few passes over memory: every temporary is made once and then
    updated in place, and no ``np.where`` (slow on the random signs of z).
    """
    # New array: the chunk may be a view of the caller's data.
    u = s - center
    u /= scale
    z = u * alpha
    z += gamma
    e = np.abs(z)
    np.negative(e, out=e)
    np.exp(e, out=e)  # exp(-|z|), in (0, 1]
    softplus = np.log1p(e)
    # sigmoid(|z|) = 1 / (1 + e) and sigmoid(-|z|) = e / (1 + e): both without
    # cancellation, and their product is p (1 - p).
    big = e + 1.0
    np.reciprocal(big, out=big)
    small = e
    small *= big
    # p = sigmoid(-|z|) where z < 0, else 1 - sigmoid(-|z|): with s = signbit(z),
    # p = (1 - s) - copysign(sigmoid(-|z|), z), exact on the negative side.
    p = np.copysign(small, z)
    np.subtract(~np.signbit(z), p, out=p)
    np.maximum(z, 0.0, out=z)
    softplus += z
    curv = big
    curv *= small
    if w is not None:
        softplus *= w
        p *= w
        curv *= w
    curv_u = np.multiply(curv, u, out=z)
    sums = np.array(
        [
            softplus.sum(),
            p.sum(),
            _dot(p, u),
            curv.sum(),
            curv_u.sum(),
            _dot(curv_u, u),
        ]
    )
    return sums, u


def _first_platt_kernel(rows, s, positive, w, *, theta, center, scale, transform):
    """:func:`_platt_kernel` at ``theta`` and the summary's sums and maxima.

    Sums ``[newton (6), w, w u, w u^2, w pos, w u pos]``; maxima ``[-min pos,
    max pos, -min neg, max neg, max |s|]`` (ranges over rows of positive
    weight, as in :func:`_summary_kernel`), padded with ``-inf``.
    """
    s = _transformed(s, transform)
    newton, u = _platt_sums(s, w, theta[0], theta[1], center, scale)
    pos = positive.astype(np.float64)
    if w is None:
        neg = 1.0 - pos
        weight, wu, w_pos = float(s.shape[0]), u, pos
    else:
        present = (w > 0).astype(np.float64)
        neg = (1.0 - pos) * present
        pos *= present
        weight, wu, w_pos = w.sum(), w * u, w * pos
    sums = [weight, wu.sum(), _dot(wu, u), w_pos.sum(), _dot(w_pos, u)]
    maxima = []
    for member in (pos, neg):
        # 0 on the class's rows, -inf elsewhere: masked extrema without masks.
        off = np.subtract(member, 1.0)
        off /= member
        np.add(s, off, out=u)
        high = u.max(initial=-np.inf)
        np.subtract(s, off, out=u)
        maxima += [-u.min(initial=np.inf), high]
    maxima.append(max(-s.min(), s.max()))
    out = np.full((2, 11), -np.inf)
    out[0] = [*newton, *sums]
    out[1, :5] = maxima
    return out


@dataclass(frozen=True)
class _WarmStart:
    """Standardisation and starting point from a fit on a subsample of rows."""

    center: float
    scale: float
    theta: np.ndarray


def _platt_warm_start(scores, y, sample_weight, transform, max_iter):
    """Platt's fit on an evenly spaced subsample, in standardised coordinates.

    None when the input is small or the subsample is not an ordinary fit
    (extreme magnitudes, constant scores, one class): the caller then starts
    from scratch. The targets are Platt's smoothed ones for counts scaled up
    to all rows: a finite optimum whatever the subsample, within far less
    than its sampling error of the optimum for 0/1 targets.
    """
    n = scores.shape[0]
    n_sub = min(SUBSAMPLE_ROWS, n // 32)
    if n_sub < MIN_SUBSAMPLE_ROWS:
        return None
    idx = np.linspace(0, n - 1, n_sub).astype(np.intp)
    s = _chunk(scores, idx, transform)
    positive = np.asarray(y[idx])
    weights = None if sample_weight is None else np.asarray(sample_weight[idx])
    with np.errstate(all="ignore"):
        if not np.all(np.isfinite(s)):
            return None
        summary = summarize_scores(s, positive, weights)
    if (
        summary.exponent
        or not summary.std > 0
        or not 0 < summary.weight_pos < summary.weight
    ):
        return None
    factor = n / n_sub
    n_pos = summary.weight_pos * factor
    n_neg = (summary.weight - summary.weight_pos) * factor
    targets = ((n_pos + 1.0) / (n_pos + 2.0), 1.0 / (n_neg + 2.0))
    sub = fit_platt(
        s,
        positive,
        sample_weight=weights,
        targets=targets,
        summary=summary,
        max_iter=max_iter,
    )
    if not sub.converged:
        return None
    center, scale = summary.mean, _robust_scale(s, None, summary.std)
    theta = np.array([sub.coef * scale, sub.intercept + sub.coef * center])
    if not (np.all(np.isfinite(theta)) and np.isfinite(center) and scale > 0):
        return None
    return _WarmStart(float(center), float(scale), theta)


def _first_platt_pass(scores, y, sample_weight, transform, warm):
    """The summary and the Newton sums at ``warm.theta`` in one pass.

    Returns ``(summary, sums)``, or ``(None, None)`` when the scores need
    rescaling (a magnitude outside :data:`MAGNITUDE_WINDOW` that the
    subsample missed): the caller then summarises them on their own.
    """
    kernel = functools.partial(
        _first_platt_kernel,
        theta=warm.theta,
        center=warm.center,
        scale=warm.scale,
        transform=transform,
    )
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        sums, maxima = reduce_rows(
            kernel,
            scores,
            y,
            sample_weight,
            n_cols=_PLATT_CHUNK_COLS,
            combine=combine_sum_max,
        )
    magnitude = float(maxima[4])
    if scale_exponent(magnitude) or not np.all(np.isfinite(sums)):
        return None, None
    weight, sum_u, sum_uu, weight_pos, sum_u_pos = sums[6:]
    mean_u = sum_u / weight
    var_u = max(sum_uu / weight - mean_u**2, 0.0)
    summary = ScoreSummary(
        exponent=0,
        magnitude=magnitude,
        shift=warm.center,
        weight=weight,
        mean=warm.center + warm.scale * mean_u,
        std=float(warm.scale * np.sqrt(var_u)),
        min_pos=-maxima[0],
        max_pos=maxima[1],
        min_neg=-maxima[2],
        max_neg=maxima[3],
        weight_pos=weight_pos,
        sum_d_pos=warm.scale * sum_u_pos,
        sum_d_neg=warm.scale * (sum_u - sum_u_pos),
    )
    return summary, sums[:6]


def fit_platt(
    scores,
    y,
    *,
    sample_weight=None,
    targets=(1.0, 0.0),
    transform=None,
    summary=None,
    max_iter=100,
):
    """Minimise the weighted mean logistic loss of ``sigmoid(a * s + b)``.

    Damped Newton (:func:`calibkit._newton.minimize`) with a backtracking
    (Armijo) line search. The loss is convex, and strictly convex when the
    scores are not constant, so Newton reaches machine precision in a handful
    of passes.

    On large inputs the solver starts from the fit on an evenly spaced
    subsample, and the first pass over all rows also gives the summary
    (weights, moments, class ranges), so that about three passes reach
    machine precision.

    Parameters
    ----------
    scores : ndarray of shape (n_samples,)
        Scores ``s`` (any float dtype; read in chunks).
    y : ndarray of shape (n_samples,), dtype bool
        Whether each row is positive.
    sample_weight : ndarray of shape (n_samples,) or None
    targets : (float, float) or callable, default=(1.0, 0.0)
        Target probability of positive and negative rows (Platt's smoothed
        targets are ``(N+ + 1) / (N+ + 2)`` and ``1 / (N- + 2)``), or
        ``targets(summary) -> (t_pos, t_neg)``, called once with the
        :class:`ScoreSummary` of all rows.
    transform : callable or None
        Applied to each float64 chunk of ``scores`` (e.g. probabilities to
        log-odds), so that no transformed copy of the data is stored.
    summary : ScoreSummary or None
        Output of :func:`summarize_scores`, when already computed.
    max_iter : int, default=100

    Returns
    -------
    PlattSolution
        With the :class:`ScoreSummary` of the rows.
    """
    # The optimum depends on ratios of weights only: scaled exactly to a unit
    # maximum, subnormal weights keep their digits in the weighted sums. The
    # smoothed targets count rows: ``targets`` sees the weights as given.
    shift = 0
    if sample_weight is not None and summary is None:
        shift = int(np.frexp(float(np.max(sample_weight)))[1])
        sample_weight = scaled_to_unit_max(sample_weight)
    choose = targets if callable(targets) else (lambda _summary: targets)
    warm = first = None
    if summary is None:
        warm = _platt_warm_start(scores, y, sample_weight, transform, max_iter)
    if warm is not None:
        summary, first = _first_platt_pass(scores, y, sample_weight, transform, warm)
    if summary is None:
        warm = None
        summary = summarize_scores(scores, y, sample_weight, transform)
    targets = choose(_counted(summary, shift))
    # Solve for the scores times 2**-exponent (exact), then scale the slope back:
    # the fit is equivariant, coef(c s) = coef(s) / c, over the float64 range.
    transform = scaled_transform(transform, -summary.exponent)
    t_pos, t_neg = targets
    frac_pos = summary.weight_pos / summary.weight
    mean_t = t_pos * frac_pos + t_neg * (1.0 - frac_pos)
    if summary.std == 0.0 or not np.isfinite(summary.std):
        # Constant scores: only the intercept is identified.
        intercept = float(np.log(mean_t) - np.log1p(-mean_t))
        loss = -(mean_t * np.log(mean_t) + (1 - mean_t) * np.log1p(-mean_t))
        return PlattSolution(0.0, intercept, float(loss), 0, True, summary)

    if warm is None:
        center, scale = summary.mean, _robust_scale(scores, transform, summary.std)
        theta = np.array([0.0, np.log(mean_t) - np.log1p(-mean_t)])
    else:
        center, scale, theta = warm.center, warm.scale, warm.theta
    model = PlattModel(
        scores, sample_weight, transform, center, scale, summary, targets
    )
    if warm is not None:
        model.first = (theta, first)
    result = minimize(model, theta, max_iter=max_iter)
    alpha, gamma = result.theta
    intercept = gamma - alpha * center / scale
    with np.errstate(over="ignore"):
        coef = np.ldexp(alpha / scale, -summary.exponent)
    if not np.isfinite(coef):
        magnitude = np.ldexp(summary.magnitude, summary.exponent)
        msg = (
            f"The scores in X are so small (largest magnitude {magnitude:.3g}) "
            "that the fitted slope exceeds the float64 range; multiply them by a "
            "constant (the fit is scale-equivariant)."
        )
        raise ValueError(msg)
    return PlattSolution(
        float(coef),
        float(intercept),
        result.loss,
        result.n_iter,
        result.converged,
        summary,
    )


def _counted(summary, shift):
    """``summary`` with its class weights multiplied back by ``2**shift``."""
    if not shift:
        return summary
    return dataclasses.replace(
        summary,
        weight=float(np.ldexp(summary.weight, shift)),
        weight_pos=float(np.ldexp(summary.weight_pos, shift)),
    )


def _robust_scale(scores, transform, std, max_rows=100_000):
    """Interquartile range of the scores (on a subsample), else their std.

    Scores of real models are heavy-tailed (log-probabilities of -1e10 next
    to values near 0); scaling by the standard deviation would then squeeze
    the informative scores to ~1e-8 and leave Newton badly conditioned.
    """
    step = max(1, scores.shape[0] // max_rows)
    sample = _chunk(scores, slice(None, None, step), transform)
    q25, q75 = np.percentile(sample, [25, 75])
    iqr = float(q75 - q25)
    # An IQR vanishing against the spread (a few scores at +-1e308 and the
    # rest near 0, all scaled to [-1, 1]) would put the standardised scores
    # beyond the float64 range.
    return iqr if iqr > 1e-12 * std else std


# --------------------------------------------------------------------------
# Temperature scaling: p = softmax(beta * z), beta = 1 / T
# --------------------------------------------------------------------------


class TemperatureModel:
    """Temperature scaling's loss and its derivatives in ``beta = 1 / T``.

    The scalar model of :func:`~calibkit._newton.minimize_scalar`:
    :meth:`evaluate` gives ``(L, L', L'')`` at ``beta`` in one pass.

    Nothing per row is cached: row maxima and true-class logits are recomputed
    in each pass, so the extra memory is a few chunk-sized temporaries. Each
    pass is a :func:`~calibkit._chunks.reduce_rows` reduction, so it also runs
    block by block on a dask array.
    """

    binary = False

    def __init__(self, logits, y, sample_weight, transform, eps=None):
        self.logits, self.y, self.w, self.transform = (
            logits,
            y,
            sample_weight,
            transform,
        )
        self.eps = eps
        # Chunks sized for two float64 temporaries per row: the float64 copy
        # of the chunk and its exponentials are alive together.
        self.n_cols = 2 if logits.ndim == 1 else 2 * logits.shape[1]
        self.total_weight = total_weight(sample_weight, logits.shape[0])

    #: Largest ``max(|max_k z_k|, |z_y|)`` over rows, from the last pass with
    #: limits: the magnitude that decides whether the logits need rescaling
    #: (columns far below the row maximum, such as masked classes at
    #: ``np.finfo(float).min``, do not count).
    magnitude = None

    def _reduce(self, **options):
        kernel = functools.partial(
            _binary_logit_kernel if self.binary else _logit_kernel,
            transform=self.transform,
            eps=self.eps,
            **options,
        )
        if options["beta"] is not None and not options["with_limits"]:
            sums = reduce_rows(kernel, self.logits, self.y, self.w, n_cols=self.n_cols)
            return sums / self.total_weight
        sums, maxima = reduce_rows(
            kernel,
            self.logits,
            self.y,
            self.w,
            n_cols=self.n_cols,
            combine=combine_sum_max,
        )
        self.magnitude = float(maxima[0])
        return sums / self.total_weight

    def limits(self):
        """``L'(0)``, ``L''(0)`` and ``L'(inf)`` in one pass without ``exp``."""
        return self._reduce(beta=None, with_limits=True)

    #: ``(beta, (L, L', L''))`` of the first pass (made with the limits);
    #: :meth:`evaluate` at that ``beta`` reuses it once instead of a pass.
    first = None

    def evaluate(self, beta, *, with_limits=False):
        """``L``, ``L'`` and ``L''`` at ``beta`` in one pass.

        With ``with_limits``, also ``L'(0)`` and ``L'(inf)`` from the same pass.
        """
        if not with_limits and self.first is not None and self.first[0] == beta:
            values, self.first = self.first[1], None
            return values
        return self._reduce(beta=beta, with_limits=with_limits)


class BinaryTemperatureModel(TemperatureModel):
    """The passes of :class:`TemperatureModel` for 1-D log-odds ``s``.

    The two-class logits are ``(0, s)``; centred on their maximum they are
    ``0`` and ``-|s|``, so every sum has a closed form in ``e = exp(-beta |s|)``
    and a pass costs a few vector operations instead of row reductions.
    """

    binary = True


def _weighted_row_sums(terms, w):
    if w is None:
        return terms.sum(axis=1)
    return np.einsum("ij,j->i", terms, w)


def _tolerate_overflow(kernel):
    """Run a logit kernel with float overflow and ``0 * inf`` left silent.

    Logits near the float64 limits (a class masked with ``np.finfo(float).min``)
    overflow in ``z - max z`` to ``-inf``, whose softmax weight ``exp(-inf)`` is
    exactly 0; the kernels repair the NaN of ``0 * -inf`` themselves, and the
    solver treats an infinite or NaN curvature as "take a bracketing step".
    """

    @functools.wraps(kernel)
    def quiet(*args, **kwargs):
        with np.errstate(over="ignore", invalid="ignore"):
            return kernel(*args, **kwargs)

    return quiet


def _with_magnitude(sums, magnitude):
    """Stack weighted sums over a row of maxima headed by ``magnitude``."""
    maxima = np.full_like(sums, -np.inf)
    maxima[0] = magnitude
    return np.stack([sums, maxima])


def _soft_gap(centered, gap, eps):
    """``sum_k t_k (z_k - max z)`` for targets ``1 - eps`` on the true class and
    ``eps / (K - 1)`` on each other class (``gap`` is the true class's term)."""
    other = eps / (centered.shape[1] - 1)
    return (1.0 - eps) * gap + other * (row_sum(centered) - gap)


@_tolerate_overflow
def _logit_kernel(rows, z, y, w, *, beta, with_limits, transform, eps):
    """Partial sums for :class:`TemperatureModel` (see its methods).

    With limits, returns ``[sums, maxima]`` whose first maximum is the chunk's
    share of :attr:`TemperatureModel.magnitude`. ``gap`` below is the
    target-weighted logit ``sum_k t_k z_k`` minus the row maximum: the true
    class's for one-hot targets, a mixture with ``eps``.
    """
    z = _transformed(z, transform)
    top = row_max(z)
    if (beta is None or with_limits) and z.shape[0]:
        true = z[np.arange(z.shape[0]), y]
        magnitude = max(np.abs(top).max(), np.abs(true).max())
    if z.flags.owndata:  # a float64 copy made for this chunk: reuse it
        z -= top[:, None]
        centered = z
    else:  # a view of the caller's float64 data: never written
        centered = z - top[:, None]
    gap = centered[np.arange(centered.shape[0]), y]  # z_y - max z <= 0
    if eps is not None:
        gap = _soft_gap(centered, gap, eps[y])
    if beta is None:  # limits at beta = 0 and beta = inf
        mean = row_sum(centered) / centered.shape[1]
        var = np.einsum("ij,ij->i", centered, centered) / centered.shape[1]
        terms = [mean - gap, var - mean * mean, -gap]
        return _with_magnitude(_weighted_row_sums(np.stack(terms), w), magnitude)
    e = beta * centered
    np.exp(e, out=e)
    s0 = row_sum(e)
    s1 = np.einsum("ij,ij->i", e, centered)
    e *= centered
    s2 = np.einsum("ij,ij->i", e, centered)
    masked = np.isnan(s1)
    if masked.any():
        # A logit at -inf after centring has weight exp(-inf) = 0 and adds
        # nothing; only its 0 * -inf = NaN has to go.
        s1[masked] = np.nansum(e[masked], axis=1)
        s2[masked] = np.nansum(e[masked] * centered[masked], axis=1)
    mean = s1 / s0
    terms = [np.log(s0) - beta * gap, mean - gap, s2 / s0 - mean * mean]
    if with_limits:
        terms += [row_sum(centered) / centered.shape[1] - gap, -gap]
        return _with_magnitude(_weighted_row_sums(np.stack(terms), w), magnitude)
    return _weighted_row_sums(np.stack(terms), w)


@_tolerate_overflow
def _binary_logit_kernel(rows, s, y, w, *, beta, with_limits, transform, eps):
    """Partial sums for :class:`BinaryTemperatureModel`."""
    s = _transformed(s, transform)
    low = -np.abs(s)
    # The true class is at the maximum unless its logit is the lower one.
    truth_low = (s > 0) != (y == 1)
    if eps is None:
        gap = np.where(truth_low, low, 0.0)
    else:  # target weight of the lower logit times that logit
        e = eps[y]
        gap = np.where(truth_low, 1.0 - e, e) * low
    magnitude = -low.min() if s.shape[0] else 0.0
    if beta is None:
        terms = [0.5 * low - gap, 0.25 * low * low, -gap]
        return _with_magnitude(_weighted_row_sums(np.stack(terms), w), magnitude)
    e = np.exp(beta * low)
    share = e / (1.0 + e)  # softmax weight of the lower logit
    terms = [np.log1p(e) - beta * gap, share * low - gap]
    terms.append(share * (1.0 - share) * low * low)
    if with_limits:
        terms += [0.5 * low - gap, -gap]
        return _with_magnitude(_weighted_row_sums(np.stack(terms), w), magnitude)
    return _weighted_row_sums(np.stack(terms), w)


def fit_inverse_temperature(
    logits, y, *, sample_weight=None, transform=None, max_iter=100, eps=None
):
    """Find ``beta = 1 / T`` minimising the mean log-loss of ``softmax(beta * z)``.

    ``L(beta) = mean[logsumexp(beta z_i) - beta z_{i, y_i}]`` is convex in
    ``beta`` with ``L'(beta) = mean[E_beta z - z_y]`` and
    ``L''(beta) = mean[Var_beta z] >= 0``. Its root is bracketed between 0 and
    infinity when ``L'(0) < 0 < L'(inf)``; Newton steps are taken inside the
    bracket and replaced by (geometric) bisection when they leave it.

    The starting point is Newton's step from ``beta = 0``, which gives the scale
    of the logits (so no bound on ``T`` is needed). On large inputs the solver
    first runs on an evenly spaced subsample of rows, whose optimum is close
    enough that two or three passes over all rows reach full precision.

    Parameters
    ----------
    logits : ndarray of shape (n_samples, n_classes) or (n_samples,)
        Any float dtype; read in chunks. 1-D: log-odds ``s`` of class 1, i.e.
        the two-class logits ``(0, s)``.
    y : ndarray of shape (n_samples,), dtype intp
        Column of the true class.
    sample_weight : ndarray of shape (n_samples,) or None
    transform : callable or None
        Applied to each float64 chunk (e.g. probabilities to log-probabilities).
    max_iter : int, default=100
        Maximum number of passes over all rows.
    eps : ndarray of shape (n_classes,) or None
        Smoothed targets: a row of class ``k`` has target ``1 - eps[k]`` on
        its class and ``eps[k] / (K - 1)`` on each other class (see
        :func:`smoothing_eps`). None: one-hot targets. Only the label term of
        the loss changes, ``beta * sum_k t_k z_k`` instead of ``beta * z_y``, so
        ``L`` stays convex and ``L''`` is unchanged.

    Returns
    -------
    NewtonResult
        ``theta = [beta]``. ``status`` is ``"optimum"`` for a finite positive
        minimiser, ``"no_finite_optimum"`` (``beta = inf``, zero temperature)
        when the loss keeps falling as ``beta -> inf`` (every row's true class
        already has the largest logit), and ``"bound"`` (``beta = 0``, infinite
        temperature) when ``L'(0) >= 0`` (the logits carry no information in
        the right direction, so ``beta = 0`` is best among ``beta >= 0``).
    """
    if not is_on_device(logits):
        # The optimum depends on ratios of weights only (``eps``, which counts
        # rows, comes from the caller): scaled exactly to a unit maximum,
        # subnormal weights keep their digits in the weighted sums.
        sample_weight = scaled_to_unit_max(sample_weight)
    passes_at = _temperature_passes(logits, y, sample_weight, transform, eps)
    passes = passes_at(0)
    beta, n_iter = _starting_point(logits, y, sample_weight, transform, max_iter, eps)
    limits = _first_pass(passes, beta)
    exponent = scale_exponent(passes.magnitude)
    if exponent:
        # Extreme logits: solve for z * 2**-exponent (exact), then scale beta
        # back, so that T(c z) = c T(z) holds across the float64 range.
        passes = passes_at(-exponent)
        beta = None if beta is None else float(np.ldexp(beta, exponent))
        limits = _first_pass(passes, beta)
    solution = minimize_scalar(passes, beta, limits, max_iter=max_iter, n_iter=n_iter)
    with np.errstate(over="ignore"):
        beta = float(np.ldexp(solution.theta[0], -exponent))
    if solution.status == "optimum" and not 0.0 < beta < np.inf:
        msg = (
            f"The logits in X are too close to zero (largest magnitude about "
            f"{np.ldexp(passes.magnitude, exponent):.3g}) for the inverse "
            "temperature to be represented in float64; multiply them by a constant "
            "(the temperature is scale-equivariant)."
        )
        raise ValueError(msg)
    if solution.status == "optimum" and beta < np.finfo(np.float64).tiny:
        # T = 1 / beta would overflow (or lose digits to a subnormal beta).
        msg = (
            f"The logits in X are too large (largest magnitude about "
            f"{np.ldexp(passes.magnitude, exponent):.3g}) for the fitted temperature "
            "(above 4.4e307) to be represented in float64; "
            "divide them by a constant (the temperature is scale-equivariant)."
        )
        raise ValueError(msg)
    return dataclasses.replace(solution, theta=np.array([beta]))


def _temperature_passes(logits, y, sample_weight, transform, eps):
    """``passes_at(exponent)``: the passes over ``logits * 2**exponent``.

    Numpy (and dask) logits get a :class:`TemperatureModel`; an Array API
    array on a device gets the same passes computed there, through the same
    transform (:func:`calibkit._array_api.temperature_passes`), so both run
    through the one driver, :func:`fit_inverse_temperature`.
    """
    if is_on_device(logits):
        weight = total_weight(sample_weight, logits.shape[0])
        passes_for = temperature_passes(logits, y, sample_weight, eps, weight)
    else:
        kind = BinaryTemperatureModel if logits.ndim == 1 else TemperatureModel

        def passes_for(scaled):
            return kind(logits, y, sample_weight, scaled, eps)

    def passes_at(exponent):
        return passes_for(scaled_transform(transform, exponent))

    return passes_at


def _first_pass(passes, beta):
    """``(L'(0), L''(0), L'(inf))`` in one pass, at ``beta`` when it is known.

    ``L''(0)`` is None when ``beta`` is given (it is only needed as a start).
    """
    if beta is None:
        slope_zero, curvature_zero, slope_inf = passes.limits()
        return slope_zero, curvature_zero, slope_inf
    loss, slope, curvature, slope_zero, slope_inf = passes.evaluate(
        beta, with_limits=True
    )
    # The solver starts at beta: its first evaluation is this pass.
    passes.first = (beta, np.array([loss, slope, curvature]))
    return slope_zero, None, slope_inf


def _starting_point(logits, y, sample_weight, transform, max_iter, eps):
    """``beta`` fitted on an evenly spaced subsample of rows, or None.

    Returns ``(beta, 0)`` or ``(None, 0)`` when the input is small or the
    subsample has no finite optimum (then the caller starts from scratch).
    """
    n = logits.shape[0]
    n_sub = min(SUBSAMPLE_ROWS, n // 32)
    if n_sub < MIN_SUBSAMPLE_ROWS:
        return None, 0
    idx = np.linspace(0, n - 1, n_sub).astype(np.intp)
    weights = None if sample_weight is None else sample_weight[idx]
    if weights is not None and not np.any(weights > 0):
        return None, 0
    try:
        subsample = (
            take_subsample(logits, idx)
            if is_on_device(logits)
            else np.asarray(logits[idx])
        )
        sub = fit_inverse_temperature(
            subsample,
            y[idx],
            sample_weight=weights,
            transform=transform,
            max_iter=max_iter,
            eps=eps,
        )
    except ValueError:  # beta out of range on the subsample: judge on all rows
        return None, 0
    if sub.status != "optimum" or not sub.converged:
        return None, 0
    return float(sub.theta[0]), 0


def smoothing_eps(y, sample_weight, n_classes):
    """Per-class smoothing ``eps_k = 1 / (N_k + 2)`` (``N_k``: weighted count).

    A row of class ``k`` gets target ``1 - eps_k = (N_k + 1) / (N_k + 2)`` on
    its class and ``eps_k / (K - 1)`` on each other class. For two classes these
    are exactly Platt's smoothed targets ``(N+ + 1) / (N+ + 2)`` and
    ``1 / (N- + 2)``.
    """
    counts = np.bincount(y, weights=sample_weight, minlength=n_classes)
    return 1.0 / (counts + 2.0)


# --------------------------------------------------------------------------
# Temperature scaling with a fitted logit for exact-zero probabilities:
# logit beta * log p where p > 0, and c where p == 0
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class ZeroScan:
    """One pass over log-probabilities with ``-inf`` at exact zeros.

    Over rows of positive weight: ``zero_truth`` (``zero_other``) is the
    weight of rows with an exact zero whose true class is (is not) one of
    them, ``n_zero`` the number of exact zeros, ``zero_weight`` their weight
    (each zero counts its row's weight), and ``min_log`` the smallest finite
    log-probability.
    """

    zero_truth: float
    zero_other: float
    n_zero: float
    zero_weight: float
    min_log: float


def _zero_scan_kernel(rows, lp, y, w, *, transform):
    lp = _transformed(lp, transform)
    n = lp.shape[0]
    zero = np.isneginf(lp)
    present = np.ones(n, bool) if w is None else w > 0
    truth_zero = present & zero[np.arange(n), y]
    other = present & zero.any(axis=1) & ~truth_zero
    w = np.ones(n) if w is None else w
    lowest = np.where(zero, np.inf, lp)[present].min(initial=np.inf)
    zeros_per_row = np.count_nonzero(zero & present[:, None], axis=1)
    sums = [
        w[truth_zero].sum(),
        w[other].sum(),
        zeros_per_row.sum(),
        w @ zeros_per_row,
    ]
    return np.array([sums, [-np.inf, -np.inf, -np.inf, -lowest]])


def scan_zero_entries(log_probs, y, sample_weight=None, transform=None):
    """Summary of the exact zeros of ``log_probs`` (``-inf`` entries); one pass."""
    kernel = functools.partial(_zero_scan_kernel, transform=transform)
    n_cols = 2 if log_probs.ndim == 1 else log_probs.shape[1]
    sums, maxima = reduce_rows(
        kernel, log_probs, y, sample_weight, n_cols=n_cols, combine=combine_sum_max
    )
    return ZeroScan(
        zero_truth=float(sums[0]),
        zero_other=float(sums[1]),
        n_zero=float(sums[2]),
        zero_weight=float(sums[3]),
        min_log=float(-maxima[3]),
    )


def _zero_logit_kernel(rows, lp, y, w, *, beta, c, eps, transform, zero_prior=None):
    """Partial sums of L, dL/d(beta, c) and the Hessian's 3 entries.

    Logits are ``a_k = beta * l_k`` where ``l_k = log p_k`` is finite and
    ``a_k = c`` where ``p_k == 0``. With ``q = softmax(a)`` and features
    ``x = (l_k or 0, 0 or 1)``, the gradient is ``E_q x - sum_k t_k x_k`` and
    the Hessian ``Cov_q x``.
    """
    lp = _transformed(lp, transform)
    n, k = lp.shape
    idx = np.arange(n)
    zero = np.isneginf(lp)
    ell = np.where(zero, 0.0, lp)
    m = row_sum(zero.astype(np.float64))
    truth_zero = zero[idx, y]
    top_logit = beta * row_max(lp)
    shift = np.where(m > 0, np.maximum(top_logit, c), top_logit)
    e = beta * ell
    e -= shift[:, None]
    np.exp(e, out=e)
    e[zero] = 0.0
    # c <= shift on rows with a zero; elsewhere m = 0 and exp must not overflow.
    e_zero = m * np.exp(np.minimum(c - shift, 0.0))
    s_nonzero = row_sum(e)
    total = s_nonzero + e_zero
    q_zero = e_zero / total
    q_nonzero = s_nonzero / total
    e /= total[:, None]  # q on the nonzero entries
    mu = np.einsum("ij,ij->i", e, ell)
    d = ell - mu[:, None]
    d *= d
    var = np.einsum("ij,ij->i", e, d) + q_zero * mu * mu
    true_l = np.where(truth_zero, 0.0, ell[idx, y])
    if eps is None and zero_prior is None:
        t_l, t_zero = true_l, truth_zero.astype(np.float64)
    elif eps is None:
        # Platt's prior on the event "the truth is one of the row's zeros",
        # on rows with a zero: target 1 - d_pos on the zeros when it is (the
        # rest shared by the positive entries), d_neg when it is not.
        d_pos, d_neg = zero_prior
        has_zero = m > 0
        mean_l = row_sum(ell) / (k - m)
        t_zero = np.where(truth_zero, 1.0 - d_pos, np.where(has_zero, d_neg, 0.0))
        t_l = np.where(
            truth_zero, d_pos * mean_l, np.where(has_zero, 1.0 - d_neg, 1.0) * true_l
        )
    else:
        e_row = eps[y]
        other = e_row / (k - 1)
        t_l = other * row_sum(ell) + (1.0 - e_row - other) * true_l
        t_zero = other * m + (1.0 - e_row - other) * truth_zero
    loss = shift + np.log(total) - beta * t_l - c * t_zero
    terms = [loss, mu - t_l, q_zero - t_zero, var, -mu * q_zero, q_zero * q_nonzero]
    return _weighted_row_sums(np.stack(terms), w)


class ZeroLogitModel(ChunkedModel):
    """Loss of ``softmax(beta * log p)`` with the logit ``c`` at exact zeros.

    A model of :func:`~calibkit._newton.minimize` in ``theta = (beta, c)``; see
    :func:`fit_temperature_zero_logit`.
    """

    n_params = 2

    def __init__(self, log_probs, y, sample_weight, transform, eps, zero_prior):
        self.arrays = (log_probs, y, sample_weight)
        self.n_cols = 2 if log_probs.ndim == 1 else log_probs.shape[1]
        self.total_weight = total_weight(sample_weight, log_probs.shape[0])
        self.options = {"eps": eps, "transform": transform, "zero_prior": zero_prior}

    def kernel(self, rows, lp, y, w, *, theta):
        # A trial step far out (c near -1e308) may give a loss beyond float64:
        # inf, which the line search rejects.
        with np.errstate(over="ignore"):
            return _zero_logit_kernel(
                rows, lp, y, w, beta=theta[0], c=theta[1], **self.options
            )

    def unpack(self, means, theta):
        hess = np.array([[means[3], means[4]], [means[4], means[5]]])
        return means[0], means[1:3], hess


def zero_logit_loss(
    log_probs,
    y,
    beta,
    c,
    *,
    sample_weight=None,
    transform=None,
    eps=None,
    zero_prior=None,
):
    """Mean log-loss of the (beta, c) model of :func:`fit_temperature_zero_logit`.

    One pass; without exact zeros it is the temperature-scaling loss at
    ``beta`` (``c`` is then unused).
    """
    model = ZeroLogitModel(log_probs, y, sample_weight, transform, eps, zero_prior)
    return float(model.evaluate((beta, c))[0])


def fit_temperature_zero_logit(
    log_probs,
    y,
    *,
    sample_weight=None,
    transform=None,
    eps=None,
    zero_prior=None,
    start=(1.0, 0.0),
    max_iter=100,
):
    """Minimise the log-loss of ``softmax(beta * log p)`` with exact zeros at ``c``.

    Exact zeros of ``p`` (``-inf`` in ``log_probs``) get the common logit ``c``
    instead of ``beta * log 0``. The mean log-loss is a log-sum-exp of an
    affine map of ``(beta, c)`` minus a linear term, hence convex; it is
    minimised over ``beta >= 0`` by :func:`calibkit._newton.minimize` (Armijo
    backtracking), one pass over the rows per evaluation. With one-hot
    targets the minimiser is often at infinity (``c -> -inf`` when no zero
    holds the truth), so callers pass smoothed targets ``eps``, with which it
    is finite.

    Parameters
    ----------
    log_probs : ndarray of shape (n_samples, n_classes) or (n_samples,)
        Read in chunks through ``transform``, which must give float64
        log-probabilities of shape (rows, n_classes) with ``-inf`` at zeros.
    y : ndarray of shape (n_samples,), dtype intp
    sample_weight : ndarray of shape (n_samples,) or None
    transform : callable or None
    eps : ndarray of shape (n_classes,) or None
        Smoothed targets as in :func:`fit_inverse_temperature`.
    start : (float, float)
        Starting ``(beta, c)``.
    max_iter : int, default=100

    Returns
    -------
    NewtonResult
        ``theta = (beta, c)``; ``status`` is ``"bound"`` (infinite temperature)
        when the optimum has ``beta = 0``.
    """
    model = ZeroLogitModel(log_probs, y, sample_weight, transform, eps, zero_prior)
    return minimize(model, start, max_iter=max_iter, lower=(0.0, -np.inf))

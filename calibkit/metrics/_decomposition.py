"""Score decomposition: miscalibration, discrimination and uncertainty.

A proper score S̄ (log-loss or Brier) of forecasts q splits exactly as

    S̄(q) = MCB - DSC + UNC,   MCB = S̄(q) - S̄(c),  DSC = S̄(ȳ) - S̄(c),  UNC = S̄(ȳ),

where c is a recalibration of q fitted on the same data and ȳ the base rate.
With c the isotonic (PAV) recalibration this is the CORP decomposition of
Dimitriadis, Gneiting and Jordan (2021); with c the bin frequencies it is the
classic binned decomposition plus within-bin terms (Stephenson et al. 2008).

Binary forecasts are decomposed exactly: one sort pools exact ties, PAV runs on
the distinct forecasts, and every component is a sum over distinct forecasts or
PAV blocks written in a form that keeps small components accurate (no component
is the difference of two large numbers). Multiclass components depend on the
recalibrator and are estimates; the score and the uncertainty stay exact.
"""

import dataclasses
import warnings
from dataclasses import dataclass
from numbers import Integral

import numpy as np
from scipy.special import entr, xlogy

from calibkit._chunks import as_float64, is_dask, reduce_rows, row_chunks
from calibkit._pav import (
    binary_pav,
    isotonic_fit,
    key_events,
    out_of_core_pav,
    pool_ties,
    sorted_event_keys,
)
from calibkit._results import Result
from calibkit._validation import (
    count,
    external_stacklevel,
    hidden,
    interval,
    options,
    validate_params,
)
from calibkit.metrics._binning import Binning
from calibkit.metrics._inputs import (
    FORECAST_CONSTRAINTS,
    as_probabilities,
    check_forecasts,
)
from calibkit.metrics._kernels import (
    bernoulli_kl,
    binary_entropy,
    brier_kernel,
    log_loss_sum,
    observed_log_losses,
    positive_weight_rows,
    scaled_to_unit_max,
    squared_errors,
    top_label,
    total_weight,
    warn_certain_and_wrong,
    weight_rows,
    weighted,
    weighted_sum,
    weights_or_ones,
)
from calibkit.metrics._many import is_model_mapping, per_model
from calibkit.metrics._reliability import N_BINS

__all__ = ["Decomposition", "decompose"]

_SCORES = ("log", "brier")
_STRATEGIES = ("isotonic", "uniform", "quantile")
_MULTICLASS = ("classwise", "top_label")
_SCORE_NAMES = {"log": "log-loss (nats)", "brier": "Brier score"}
_TINY = np.finfo(np.float64).tiny  # smallest normal float64
_SMALLEST_POSITIVE = np.nextafter(0.0, 1.0)
_BELOW_ONE = np.nextafter(1.0, 0.0)


@dataclass(frozen=True, repr=False)
class Decomposition(Result):
    """Decomposition of a mean score, as returned by :func:`decompose`.

    ``score == miscalibration - discrimination + uncertainty`` holds to
    rounding error (about 1e-15 relative to the largest term), and
    ``refinement == score - miscalibration == uncertainty - discrimination``.

    Attributes
    ----------
    score : float
        Mean score of the forecasts (log-loss in nats, or Brier score); ``inf``
        when a forecast gave probability 0 to what happened.
    miscalibration : float
        MCB = S̄(q) - S̄(c): how much recalibration would lower the score.
        ``inf`` together with ``score``.
    discrimination : float
        DSC = S̄(ȳ) - S̄(c): how much the recalibrated forecast beats the base
        rate (resolution). Always finite.
    uncertainty : float
        UNC = S̄(ȳ): the score of always forecasting the observed class
        frequencies (the entropy of the base rate for the log-loss).
    refinement : float
        S̄(c), the score of the recalibrated forecast (the conditional entropy
        for the log-loss). Finite even when ``score`` is infinite.
    score_name : str
        ``"log"`` or ``"brier"``.
    strategy : str
        The recalibration: ``"isotonic"`` (CORP), or bins ``"uniform"`` or
        ``"quantile"``.
    estimator : str
        Human-readable name of the recalibrator and whether the components are
        exact or estimates.
    exact : bool
        True for binary forecasts, where the components are exact functions of
        the data; False for multiclass estimates.
    n_samples : int
        Number of rows given (rows with zero weight included).
    n_classes : int
        Number of classes (2 for a binary forecast).
    multiclass : str or None
        ``"classwise"`` or ``"top_label"``; None for a binary forecast.
    n_bins : int or None
        Binned strategies: number of bins requested; None for ``"isotonic"``.
    reliability : float or None
        Binary binned: REL = Σ_b w_b d(ȳ_b, q̄_b), with d the KL
        divergence (log-loss) or the squared difference (Brier). None otherwise.
        Can be ``inf`` only together with ``score`` (see ``within_bin``).
    resolution : float or None
        Binary binned: RES = Σ_b w_b d(ȳ_b, ȳ). Equals
        ``discrimination``. None otherwise.
    within_bin : float or None
        Binary binned: S̄(q) - S̄(q̄), the change in score from
        replacing each forecast by its bin mean; ``miscalibration ==
        reliability + within_bin``. For the Brier score it equals
        ``within_bin_variance - within_bin_covariance``. None otherwise.
        With the log-loss, when ``score`` is ``inf`` (a forecast of exactly 0
        or 1 for the other outcome), ``reliability`` (if that bin's mean
        forecast is exactly 0 or 1 too) or ``within_bin`` (if it is not) is
        ``inf``, as ``miscalibration`` is; ``resolution`` stays finite.
    within_bin_variance : float or None
        Binary binned Brier only: WBV = Σ_i w_i (q_i - q̄_b)².
    within_bin_covariance : float or None
        Binary binned Brier only: WBC = 2 Σ_i w_i (y_i - ȳ_b)(q_i - q̄_b).
    """

    score: float
    miscalibration: float
    discrimination: float
    uncertainty: float
    refinement: float
    score_name: str
    strategy: str
    estimator: str
    exact: bool
    n_samples: int
    n_classes: int
    multiclass: str | None = None
    n_bins: int | None = None
    reliability: float | None = None
    resolution: float | None = None
    within_bin: float | None = None
    within_bin_variance: float | None = None
    within_bin_covariance: float | None = None

    @property
    def method(self):
        """Deprecated: ``"isotonic"`` or ``"binned"``; read :attr:`strategy`."""
        warnings.warn(
            "Decomposition.method is deprecated since calibkit 0.2 and will be "
            "removed in 0.3; read Decomposition.strategy ('isotonic', 'uniform' "
            "or 'quantile') instead.",
            FutureWarning,
            stacklevel=2,
        )
        return "isotonic" if self.strategy == "isotonic" else "binned"

    def __repr__(self):
        head = (
            f"Decomposition of the {_SCORE_NAMES[self.score_name]} by "
            f"{self.estimator}; {self.n_samples} samples"
        )
        names = ["score", "miscalibration", "discrimination", "uncertainty"]
        names += ["refinement", "reliability", "resolution", "within_bin"]
        names += ["within_bin_variance", "within_bin_covariance"]
        lines = [
            f"  {name:<22}{getattr(self, name):.6g}"
            for name in names
            if getattr(self, name) is not None
        ]
        return "\n".join([head, *lines])


@validate_params(
    {
        **FORECAST_CONSTRAINTS,
        "score": [options(_SCORES)],
        "strategy": [options(_STRATEGIES)],
        "n_bins": [count()],
        "multiclass": [options(_MULTICLASS)],
        "method": [
            options({"isotonic", "binned"}),
            hidden(options({"deprecated"})),
        ],
        "memory_budget": [interval(Integral, 1024, None, closed="left"), None],
    }
)
def decompose(
    y_true,
    y_prob,
    *,
    score="log",
    strategy="isotonic",
    n_bins=N_BINS,
    multiclass="classwise",
    sample_weight=None,
    labels=None,
    pos_label=None,
    input="probabilities",
    method="deprecated",
    memory_budget=None,
):
    """Split a mean score into miscalibration, discrimination and uncertainty.

    ``score = miscalibration - discrimination + uncertainty``, with
    miscalibration MCB = S̄(q) - S̄(c), discrimination DSC = S̄(ȳ) - S̄(c) and
    uncertainty UNC = S̄(ȳ), where c is the forecast recalibrated on the same
    data. Logarithms are natural: log-loss components are in nats.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Observed labels (numbers, strings or booleans); numpy, list, pandas or
        polars.
    y_prob : array-like of shape (n_samples,) or (n_samples, n_classes)
        1-D: probability of the positive class (binary). 2-D: one column per
        class in the order of ``labels`` (or of the sorted labels of
        ``y_true``), rows summing to 1 (within ``K * 1e-6``; rows off by up
        to ``1e-3`` are renormalised with a warning).
    score : {"log", "brier"}, default="log"
        The score to decompose: log-loss, or the Brier score. For a binary 1-D
        ``y_prob`` the Brier score is mean (q - y)²; for 2-D it is
        mean Σ_k (q_k - y_k)² (twice the binary value on two columns).
    strategy : {"isotonic", "uniform", "quantile"}, default="isotonic"
        The recalibration, with the values of :func:`reliability_curve`:
        ``"isotonic"`` is PAV (CORP; no tuning choices); ``"uniform"`` and
        ``"quantile"`` replace forecasts by bin frequencies, with
        ``"uniform"`` edges ``np.linspace(0, 1, n_bins + 1)``, bins
        [e_k, e_{k+1}) with the last closed, or ``"quantile"`` equal-mass bins
        whose inner edge k is the smallest forecast with weighted CDF above
        k / n_bins (tied forecasts are never split; duplicate edges merge
        bins).
    n_bins : int, default=10
        Number of bins of the binned strategies.
    multiclass : {"classwise", "top_label"}, default="classwise"
        Recalibrator for a 2-D ``y_prob`` (ignored for 1-D). ``"classwise"``
        recalibrates every column one-vs-rest and maps the rows back to the
        simplex; it uses the whole forecast, which is what the multiclass score
        rates, hence the default. ``"top_label"`` recalibrates only the
        probability of the predicted class. See Notes.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative row weights; integer weights give what repeated rows give.
        Rows with zero weight are ignored.
    labels : array-like, default=None
        All class labels, when ``y_true`` does not contain every class.
    pos_label : label, default=None
        The class a 1-D ``y_prob`` refers to (default: the greater label).
        With more than two classes in ``y_true``, a 1-D ``y_prob`` is the
        forecast of ``pos_label`` against the rest.
    input : {"probabilities", "logits"}, default="probabilities"
        What ``y_prob`` holds; logits are decomposed through their softmax
        (1-D log-odds through the sigmoid).
    method : {"isotonic", "binned"}
        Deprecated since 0.2 (removed in 0.3): ``method="isotonic"`` is
        ``strategy="isotonic"``, ``method="binned"`` is a binned ``strategy``
        (``"uniform"`` unless ``strategy`` says ``"quantile"``).
    memory_budget : int or None, default=None
        Bytes the binary isotonic (CORP) decomposition may use to sort the
        forecasts. When they take more (e.g. ``y_prob`` is a ``np.memmap``),
        they are sorted out of core, in temporary files (see
        :class:`~calibkit.IsotonicCalibration`), and the terms are summed in
        one more pass over the rows. ``None``: in memory. A binary dask
        ``y_prob`` is decomposed without gathering its rows either way (a
        distributed sort, PAV per partition).

    Returns
    -------
    Decomposition
        Frozen dataclass with ``score``, ``miscalibration``,
        ``discrimination``, ``uncertainty``, ``refinement``, the ``estimator``
        used and, for binary binned decompositions, ``reliability``,
        ``resolution`` and the within-bin terms.

    Raises
    ------
    ValueError
        For an unknown option, ``n_bins < 1``, or invalid labels, probabilities
        or weights (the message names the argument and the first bad row).
    TypeError
        When ``n_bins`` is not an integer or an input is not numeric.

    Warns
    -----
    CalibrationWarning
        When a forecast gave probability 0 to what happened (log-loss): the
        score and the miscalibration are ``inf``; the discrimination and the
        uncertainty stay finite.

    Notes
    -----
    **Binary, isotonic (CORP), exact.** c is the PAV fit of y on q: the
    non-decreasing function of q, pooling only exactly equal forecasts, that
    minimises every proper score; it is piecewise constant on blocks, each
    block's value its event frequency. Since q itself and the constant ȳ are
    non-decreasing functions of q, MCB ≥ 0 and DSC ≥ 0. For the log-loss,
    UNC = H(ȳ) = -ȳ ln ȳ - (1 - ȳ) ln(1 - ȳ), DSC = mean KL(c ‖ ȳ), and
    refinement S̄(c) = mean H(c) (the entropy part); MCB is the KL part,

        MCB = mean[y ln(c/q) + (1 - y) ln((1 - c)/(1 - q))] ≥ mean KL(c ‖ q),

    with equality only when q is constant on every PAV block, so MCB is not
    mean KL(c ‖ q) in general. For the Brier score, UNC = ȳ(1 - ȳ),
    DSC = mean (c - ȳ)², refinement = mean c(1 - c) and
    MCB = mean (c - q)((y - q) + (y - c)). Each is summed directly over distinct
    forecasts or blocks (``log1p`` of relative differences, 0 ln 0 = 0), and
    the score is refinement + MCB, so small components keep their relative
    accuracy and the identity holds to rounding.

    **Binary, binned.** With bin weights w_b, mean forecasts q̄_b, event
    frequencies ȳ_b, and d = KL (log-loss) or squared difference (Brier):
    REL = Σ w_b d(ȳ_b, q̄_b), RES = Σ w_b d(ȳ_b, ȳ), and exactly
    S̄(q) = REL - RES + UNC + WB with the within-bin term WB = S̄(q) - S̄(q̄).
    For the Brier score WB = WBV - WBC (Stephenson, Coelho and Jolliffe 2008).
    Here c is the bin frequency ȳ_b, so MCB = REL + WB (it can be negative)
    and DSC = RES ≥ 0; Stephenson et al.'s generalized resolution is
    ``resolution - within_bin``.

    **Multiclass, estimates.** The score (log-loss -ln q_y, or
    Σ_k (q_k - y_k)²) and UNC (the entropy H(π) of the class frequencies π, or
    Σ_k π_k(1 - π_k)) are exact; MCB and DSC depend on the recalibrator.

    - ``"classwise"``: c_k is the PAV fit (or bin frequency) of 1{y = k} on
      q_k, for each class k. Its rows need not sum to 1, so they are mapped
      onto the simplex by the projection that belongs to the score: division
      by the row sum for the log-loss (the KL projection), the Euclidean
      projection for the Brier score (division can make the Brier DSC
      negative). With PAV both components are then ≥ 0. Log-loss: PAV also
      minimises the Poisson deviance, so mean[-ln c_y] + mean Σ_k c_k ≤
      S̄(q) + 1; the row sums average 1 (PAV keeps every class's weighted
      total), so Jensen's inequality gives mean ln Σ_k c_k ≤ 0 and MCB ≥ 0;
      the log-sum inequality over each class's blocks gives
      mean[-ln c_y] ≤ H(π) and DSC ≥ 0. Brier: the projection lowers every
      row's score, and before it the score is the sum of K binary CORP
      refinements, each at most that of q_k and of π_k. No recalibrated row
      sums to 0: the observed class's column is positive on the block (or
      bin) that holds the row.
    - ``"top_label"``: the probability of the predicted (arg-max) class is the
      PAV fit (or bin frequency) of "prediction correct" on the confidence,
      fitted separately per predicted class (top-label calibration in the
      sense of Gupta and Ramdas, 2022). The remaining mass is shared either in
      the proportions of q, or in the proportions of the observed classes
      among the errors of that predicted class, whichever scores better for
      that predicted class. For the log-loss this gives MCB ≥ 0 and DSC ≥ 0;
      for the Brier score either may be slightly negative.

    With binning, MCB can have either sign (q is not piecewise constant on
    the bins), while DSC ≥ 0 still holds except for top-label Brier.

    **Weights across the float range.** Only ratios of weights matter, and any
    ratios work: weights 1e200 and 5e-324 in one data set give the limit of
    the light rows' weight going to 0, to within 1e-290 in every term. Class
    shares, block and bin frequencies and their complements are each summed
    from their own rows (never as 1 - share, which rounds a share below 1e-16
    away), and an in-sample frequency that underflows is kept at the smallest
    positive float (a row's own block always holds its outcome).
    Components that are proved non-negative are reported as 0 where rounding
    alone would make them a hair negative.

    Components come from recalibrating in-sample: on small samples the
    recalibrated forecast overfits, so MCB and DSC are optimistic (too large)
    and the refinement too small; compare models on the same, large data.

    Array API inputs (torch, CuPy, ... with :func:`calibkit.config_context`):
    sorting-based methods move data to the host -- CORP's PAV sorts the
    forecasts, so ``y_prob`` is copied to the host -- and the components are
    Python floats as usual.

    References
    ----------
    .. [1] T. Dimitriadis, T. Gneiting and A. I. Jordan, "Stable reliability
       diagrams for probabilistic classifiers", PNAS 118(8), 2021.
       https://doi.org/10.1073/pnas.2016191118
    .. [2] D. B. Stephenson, C. A. S. Coelho and I. T. Jolliffe, "Two extra
       components in the Brier score decomposition", Weather and Forecasting
       23(4), 2008. https://doi.org/10.1175/2007WAF2006116.1
    .. [3] J. Bröcker, "Reliability, sufficiency, and the decomposition of
       proper scores", Q. J. R. Meteorol. Soc. 135, 2009.
       https://doi.org/10.1002/qj.456
    .. [4] C. Gupta and A. Ramdas, "Top-label calibration and multiclass-to-
       binary reductions", ICLR 2022. https://arxiv.org/abs/2107.08353

    Examples
    --------
    >>> from calibkit.metrics import decompose
    >>> y = [0, 0, 1, 1]
    >>> d = decompose(y, [0.25, 0.25, 0.75, 0.75], score="brier")
    >>> d
    Decomposition of the Brier score by CORP (PAV recalibration), exact; 4 samples
      score                 0.0625
      miscalibration        0.0625
      discrimination        0.25
      uncertainty           0.25
      refinement            0

    PAV pools the forecasts 0.4 and 0.6 (events 1, 0) into c = 1/2, so
    refinement = (2/5) ln 2 and uncertainty = H(3/5):

    >>> d = decompose([0, 1, 0, 1, 1], [0.1, 0.4, 0.6, 0.8, 0.9])
    >>> round(d.refinement, 4), round(d.uncertainty, 4)
    (0.2773, 0.673)
    >>> round(d.score, 4), round(d.miscalibration, 4), round(d.discrimination, 4)
    (0.4533, 0.176, 0.3958)
    """
    if is_model_mapping(y_prob):  # {name: forecasts}: one row per model
        return per_model(
            decompose,
            y_true,
            y_prob,
            score=score,
            strategy=strategy,
            n_bins=n_bins,
            multiclass=multiclass,
            sample_weight=sample_weight,
            labels=labels,
            pos_label=pos_label,
            input=input,
            method=method,
            memory_budget=memory_budget,
        )
    strategy = _strategy_from_method(method, strategy)
    fc = check_forecasts(
        y_true,
        y_prob,
        sample_weight=sample_weight,
        labels=labels,
        pos_label=pos_label,
        input=input,
        lazy=True,
    )
    if not (is_dask(fc.prob) and fc.is_binary and strategy == "isotonic"):
        fc = dataclasses.replace(fc, prob=_computed(fc.prob))
    return _decompose(
        as_probabilities(fc, input),
        score=score,
        strategy=strategy,
        n_bins=n_bins,
        multiclass=multiclass,
        memory_budget=memory_budget,
    )


def _computed(prob):
    """A dask ``prob`` computed into memory (other arrays as they are)."""
    return prob.compute() if is_dask(prob) else prob


def _strategy_from_method(method, strategy):
    """The ``strategy`` meant by a call with the deprecated ``method=``."""
    if method == "deprecated":
        return strategy
    new = "isotonic" if method == "isotonic" else strategy
    if method == "binned" and strategy == "isotonic":
        new = "uniform"  # the 0.1 default bins
    msg = (
        f"decompose(method={method!r}) is deprecated since calibkit 0.2 and will "
        f"be removed in 0.3; pass strategy={new!r} instead (strategy now names "
        "the recalibration, as in reliability_curve)."
    )
    warnings.warn(msg, FutureWarning, stacklevel=external_stacklevel())
    return new


def _decompose(
    fc,
    *,
    score="log",
    strategy="isotonic",
    n_bins=N_BINS,
    multiclass="classwise",
    memory_budget=None,
):
    """:func:`decompose` of validated forecasts (probabilities)."""
    n_bins = int(n_bins)
    by_blocks = fc.is_binary and strategy == "isotonic"
    by_blocks &= is_dask(fc.prob) or (
        memory_budget is not None and 8 * fc.prob.shape[0] > memory_budget
    )
    if by_blocks:
        terms = _binary_isotonic_blocks(
            fc.y, fc.prob, scaled_to_unit_max(fc.sample_weight), score, memory_budget
        )
        if not np.isfinite(terms["score"]):
            _warn_certain_wrong(fc)
        return Decomposition(
            score_name=score,
            strategy=strategy,
            estimator=_estimator_name(True, multiclass, None),
            exact=True,
            n_samples=int(fc.y.shape[0]),
            n_classes=fc.n_classes,
            **{k: float(v) for k, v in terms.items()},
        )
    # Every term is a weighted mean: weights scaled by a power of two (exact)
    # cannot overflow, and in-sample frequencies of light rows stay positive.
    y, prob, w = positive_weight_rows(
        scaled_to_unit_max(fc.sample_weight), fc.y, fc.prob
    )
    binning = None if strategy == "isotonic" else (n_bins, strategy)

    if fc.is_binary:
        if binning is None:
            terms = _binary_isotonic(y, prob, w, score)
        else:
            terms = _binary_binned(y, prob, w, score, binning)
        extra = {}
    else:
        terms = _multiclass(y, prob, w, score, binning, multiclass, fc.n_classes)
        extra = {"multiclass": multiclass}
    if binning is not None:
        extra.update(n_bins=n_bins)
    if not np.isfinite(terms["score"]):
        _warn_certain_wrong(fc)
    return Decomposition(
        score_name=score,
        strategy=strategy,
        estimator=_estimator_name(fc.is_binary, multiclass, binning),
        exact=fc.is_binary,
        n_samples=int(fc.y.shape[0]),
        n_classes=fc.n_classes,
        **{k: float(v) for k, v in terms.items()},
        **extra,
    )


# --- binary, isotonic (CORP) --------------------------------------------------


def _binary_isotonic(y, q, w, score):
    """Exact CORP components from one sort: PAV on the distinct forecasts."""
    if w is None:
        terms = _binary_isotonic_sorted(y, q, score)
        if terms is not None:
            return terms
    pooled = pool_ties(q, y == 1, w)
    fit = isotonic_fit(pooled.target, pooled.weight)
    c = fit.x
    block_c = c[fit.blocks[:-1]]
    block_w = fit.weights
    total = pooled.total_weight
    # The complement from the negatives' own weight: total - positives rounds
    # to 0 when the negatives weigh less than 1e-16 of the total (weights
    # 1e200 and 5e-324), and a zero base complement makes the KL of every
    # block with a negative infinite.
    negatives = y == 0
    negatives_total = total_weight(
        weight_rows(w, negatives), np.count_nonzero(negatives)
    )
    base_rate, base_complement = _positive_shares(
        pooled.positives_total, negatives_total, total
    )
    block_complement = c_complement = None
    if w is not None:
        c, block_c, c_complement, block_complement = _block_frequencies(
            pooled, fit, y, w
        )
    distinct = pooled.scores
    if score == "log" and pooled.starts is not None:  # ties: targets in (0, 1)
        mcb_terms = _expected_log_ratio(pooled.target, c, distinct, c_complement)
    else:  # no ties (log): every target is 0 or 1
        mcb_terms = _miscalibration_terms(
            pooled.events if score == "log" else pooled.target,
            c,
            distinct,
            score,
            c_complement,
        )
    return _corp_terms(
        weighted_sum(pooled.weight, mcb_terms),
        block_c,
        block_w,
        total,
        (base_rate, base_complement),
        score,
        block_complement,
    )


def _miscalibration_terms(event, c, q, score, c_complement=None):
    """Per-row (or per-value) terms S(q, t) - S(c, t) of the CORP MCB.

    ``event``: the outcome, boolean for the log score (a 0/1 or pooled
    target for Brier); ``c``: the PAV recalibrated value of each row.
    """
    if score == "log":
        return _log_ratio_of_outcome(event, c, q, c_complement)
    # (t - q)² - (t - c)² = (c - q)((t - q) + (t - c)); the two small
    # differences are exact where 2t - q - c would round away.
    t = np.asarray(event, dtype=np.float64)
    terms = np.subtract(t, q)
    terms += t - c
    terms *= c - q
    return terms


def _corp_terms(mcb_sum, block_c, block_w, total, base, score, block_complement=None):
    """The CORP components from the PAV blocks and the summed MCB terms.

    ``block_c``, ``block_w``: each block's recalibrated value and weight;
    ``base``: the base rate and its complement; ``block_complement``: 1 - c
    of each block when known more accurately than by subtraction.
    """
    base_rate, base_complement = base
    if score == "log":
        refinement = (
            weighted_sum(block_w, binary_entropy(block_c, block_complement)) / total
        )
        kl = bernoulli_kl(
            block_c,
            base_rate,
            a_complement=block_complement,
            b_complement=base_complement,
        )
        discrimination = weighted_sum(block_w, kl) / total
        uncertainty = binary_entropy(base_rate, base_complement)
    else:
        complement = 1.0 - block_c if block_complement is None else block_complement
        refinement = weighted_sum(block_w, block_c * complement) / total
        discrimination = weighted_sum(block_w, (block_c - base_rate) ** 2) / total
        uncertainty = base_rate * (1.0 - base_rate)
    # MCB ≥ 0 is a theorem; a sum of terms of both signs may round below it.
    miscalibration = max(mcb_sum / total, 0.0)
    return {
        "score": refinement + miscalibration,
        "miscalibration": miscalibration,
        "discrimination": discrimination,
        "uncertainty": uncertainty,
        "refinement": refinement,
    }


def _binary_isotonic_sorted(y, q, score):
    """:func:`_binary_isotonic` of unweighted rows with distinct forecasts.

    One plain sort of keys that carry the outcome (no permutation of the rows,
    see :func:`~calibkit._pav.sorted_event_keys`), a chunked PAV, one sort of
    the forecasts, then the miscalibration terms in chunks of sorted rows.
    None when two forecasts tie (or are neighbouring doubles): the caller then
    pools ties.
    """
    keys = sorted_event_keys(q, y == 1)
    fit = None if keys is None else binary_pav(keys)
    if fit is None:
        return None
    n = q.shape[0]
    events = key_events(keys, 0, n).copy()  # 1 byte a row instead of 8
    del keys
    q = np.sort(q)
    total = float(n)
    positives_total = float(np.sum(fit.events))
    base_rate, base_complement = _positive_shares(
        positives_total, total - positives_total, total
    )
    mcb_sum = 0.0
    for rows in row_chunks(n):
        c, qc, event = fit.per_row(rows.start, rows.stop), q[rows], events[rows]
        mcb_sum += float(np.sum(_miscalibration_terms(event, c, qc, score)))
    return _corp_terms(
        mcb_sum, fit.fitted, fit.counts, total, (base_rate, base_complement), score
    )


def _binary_isotonic_blocks(y, q, w, score, memory_budget):
    """:func:`_binary_isotonic` from PAV blocks found without sorting ``q`` in
    memory: by Dask (``q`` a dask array) or out of core, then one pass over
    the rows (where they live) for the miscalibration terms."""
    events = y == 1
    if is_dask(q):
        from calibkit._dask import dask_pav

        blocks = dask_pav(q, events, w)
    else:
        blocks = out_of_core_pav(q, events, w, memory_budget=memory_budget)
    positives, negatives = blocks.positives, blocks.negatives
    block_w = blocks.weights
    total = float(np.sum(block_w))
    base_rate, base_complement = _positive_shares(
        float(np.sum(positives)), float(np.sum(negatives)), total
    )
    block_c, block_complement = positives / block_w, negatives / block_w
    np.copyto(block_c, _SMALLEST_POSITIVE, where=(block_c == 0) & (positives > 0))
    np.copyto(
        block_complement,
        _SMALLEST_POSITIVE,
        where=(block_complement == 0) & (negatives > 0),
    )

    def kernel(rows, qc, event, wc):
        qc = as_float64(qc)
        which = blocks.block_of(qc)
        terms = _miscalibration_terms(
            event, block_c[which], qc, score, block_complement[which]
        )
        if wc is not None:
            # Rows of weight 0 count nowhere: their terms may be infinite
            # (an event in a block with c = 0), so they are not multiplied.
            terms = np.multiply(terms, wc, out=np.zeros_like(terms), where=wc > 0)
        return np.array([np.sum(terms)])

    mcb_sum = float(reduce_rows(kernel, q, events, w)[0])
    return _corp_terms(
        mcb_sum,
        block_c,
        block_w,
        total,
        (base_rate, base_complement),
        score,
        block_complement,
    )


def _positive_shares(positives, negatives, total):
    """Base rate and its complement, each > 0 when its class has weight.

    A class weighing 5e-324 against a total of 2.5 has a share that rounds
    to 0, and a zero base rate makes its rows' KL divergence infinite.
    """
    shares = []
    for part in (positives, negatives):
        share = part / total
        shares.append(_SMALLEST_POSITIVE if share == 0 and part > 0 else share)
    return shares


def _block_frequencies(pooled, fit, y, w):
    """PAV event frequency c and its complement 1 - c from each block's own
    event and non-event weights, per distinct forecast and per block.

    ``fit.x`` is events / weight; 1 - fit.x rounds to 0 when a block's
    non-events weigh less than 1e-16 of it (weights 1 and 1e-20), and a
    rounded c = 1 gives that non-event ln(0) = -inf. In-sample, a block that
    holds an event (non-event) has c > 0 (1 - c > 0): values that underflow
    are kept at the smallest positive float, far below every other term.
    """
    starts = fit.blocks[:-1]
    sizes = np.diff(fit.blocks)

    def per_block(rows_mask):
        sorted_values = np.where(rows_mask, w, 0.0)[pooled.order]
        if pooled.starts is not None:
            sorted_values = np.add.reduceat(sorted_values, pooled.starts)
        return np.add.reduceat(sorted_values, starts)

    events, non_events = per_block(y == 1), per_block(y == 0)
    block_c = events / fit.weights
    block_complement = non_events / fit.weights
    np.copyto(block_c, _SMALLEST_POSITIVE, where=(block_c == 0) & (events > 0))
    np.copyto(
        block_complement,
        _SMALLEST_POSITIVE,
        where=(block_complement == 0) & (non_events > 0),
    )
    return (
        np.repeat(block_c, sizes),
        block_c,
        np.repeat(block_complement, sizes),
        block_complement,
    )


def _isotonic_rows(scores, target, w):
    """PAV fit of a 0/1 target on scores, evaluated at every row."""
    pooled = pool_ties(scores, target, w)
    return pooled.expand(isotonic_fit(pooled.target, pooled.weight).x)


# --- binary, binned -------------------------------------------------------------


def _binary_binned(y, q, w, score, binning):
    """REL - RES + UNC + within-bin term, from one pass for bin totals and one
    for the within-bin sums (in row chunks: float32 input is never upcast whole)."""
    binner = Binning(q, w, *binning)
    # Only the bins that hold rows are counted (n_bins may exceed n): their
    # numbers first, in one pass over the chunks.
    numbers = np.unique(
        np.concatenate(
            [np.unique(binner.number(q[rows])) for rows in row_chunks(q.shape[0])]
        )
    )
    n_bins = numbers.shape[0]
    # Sums of 1 - q too: a bin mean of forecasts near 1 can round to 1 while
    # its complement, which the log-loss needs, is 1e-17.
    # Negatives summed on their own, not as weight - positives: that
    # difference rounds to 0 when they weigh less than 1e-16 of the bin.
    weight, positives, negatives, forecast_sum, complement_sum = np.zeros((5, n_bins))
    for rows in row_chunks(q.shape[0]):
        b, qc, yc, wc = _binned_chunk(q, y, w, rows, binner, numbers)
        weight += np.bincount(b, weights=wc, minlength=n_bins)
        positives += np.bincount(b, weights=wc * yc, minlength=n_bins)
        negatives += np.bincount(b, weights=wc * (1.0 - yc), minlength=n_bins)
        forecast_sum += np.bincount(b, weights=wc * qc, minlength=n_bins)
        complement_sum += np.bincount(b, weights=wc * (1.0 - qc), minlength=n_bins)
    filled = weight > 0
    total = float(weight.sum())
    base_rate, base_complement = _positive_shares(
        float(positives.sum()), float(negatives.sum()), total
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        frequency = np.where(filled, positives / weight, 0.0)
        frequency_complement = np.where(filled, negatives / weight, 0.0)
        mean_forecast = np.clip(np.where(filled, forecast_sum / weight, 0.0), 0, 1)
        mean_complement = np.clip(np.where(filled, complement_sum / weight, 0), 0, 1)
        # A mean of subnormal forecasts loses its digits (or underflows to 0);
        # its log, from the (exact) sum of subnormals, does not.
        underflow = filled & (mean_forecast < _TINY) & (forecast_sum > 0)
        log_mean_forecast = np.log(forecast_sum) - np.log(weight)

    row_score = within = variance = covariance = 0.0
    for rows in row_chunks(q.shape[0]):
        b, qc, yc, wc = _binned_chunk(q, y, w, rows, binner, numbers)
        qbar = mean_forecast[b]
        if score == "log":
            row_score += weighted_sum(wc, observed_log_losses(qc, yc))
            event = yc > 0.5
            ratio = _log_ratio_of_outcome(event, qbar, qc, mean_complement[b])
            fix = np.flatnonzero(event & underflow[b])
            with np.errstate(divide="ignore"):  # q = 0 < y: +inf, as it should
                ratio[fix] = log_mean_forecast[b[fix]] - np.log(qc[fix])
            within += weighted_sum(wc, ratio)
        else:
            spread = qc - qbar
            row_score += weighted_sum(wc, squared_errors(qc, yc))
            variance += weighted_sum(wc, spread**2)
            covariance += 2.0 * weighted_sum(wc, (yc - frequency[b]) * spread)

    share = weight[filled] / total
    ybar_b, qbar_b = frequency[filled], mean_forecast[filled]
    ybar_c, qbar_c = frequency_complement[filled], mean_complement[filled]
    terms = {"score": row_score / total}
    if score == "log":
        reliability = bernoulli_kl(ybar_b, qbar_b, ybar_c, qbar_c)
        fix = underflow[filled]
        if fix.any():  # subnormal means (see above): ȳ ln(ȳ/q̄) from ln q̄
            yb, yb_c = ybar_b[fix], ybar_c[fix]
            first = xlogy(yb, yb) - yb * log_mean_forecast[filled][fix]
            with np.errstate(invalid="ignore"):  # 0 * inf where ȳ' = 0
                second = yb_c * _log_ratio(yb_c, qbar_c[fix], qbar_b[fix] - yb)
            reliability[fix] = first + np.where(yb_c > 0, second, 0.0)
        terms["reliability"] = weighted_sum(share, reliability)
        terms["resolution"] = weighted_sum(
            share, bernoulli_kl(ybar_b, base_rate, ybar_c, base_complement)
        )
        terms["uncertainty"] = binary_entropy(base_rate, base_complement)
        terms["refinement"] = weighted_sum(share, binary_entropy(ybar_b, ybar_c))
        terms["within_bin"] = within / total
    else:
        terms["reliability"] = weighted_sum(share, (qbar_b - ybar_b) ** 2)
        terms["resolution"] = weighted_sum(share, (ybar_b - base_rate) ** 2)
        terms["uncertainty"] = base_rate * (1.0 - base_rate)
        terms["refinement"] = weighted_sum(share, ybar_b * (1.0 - ybar_b))
        terms["within_bin_variance"] = variance / total
        terms["within_bin_covariance"] = covariance / total
        terms["within_bin"] = (variance - covariance) / total
    terms["miscalibration"] = terms["reliability"] + terms["within_bin"]
    terms["discrimination"] = terms["resolution"]
    return terms


def _binned_chunk(q, y, w, rows, binner, numbers):
    qc = as_float64(q[rows])
    yc = y[rows].astype(np.float64)
    wc = weights_or_ones(weight_rows(w, rows), qc.shape[0])
    return np.searchsorted(numbers, binner.number(qc)), qc, yc, wc


# --- multiclass -----------------------------------------------------------------


def _multiclass(y, prob, w, score, binning, multiclass, n_classes):
    """Exact score and uncertainty; MCB and DSC from the named recalibrator."""
    total = total_weight(w, y.shape[0])
    frequencies = np.bincount(y, weights=w, minlength=n_classes) / total
    if score == "log":
        uncertainty = float(np.sum(entr(frequencies)))
    else:
        uncertainty = float(np.sum(frequencies * (1.0 - frequencies)))
    mean_score = _multiclass_score(y, prob, w, score) / total
    if multiclass == "classwise":
        refinement = _classwise_refinement(y, prob, w, score, binning) / total
    else:
        refinement = _top_label_refinement(y, prob, w, score, binning) / total
    miscalibration = mean_score - refinement
    discrimination = uncertainty - refinement
    # Where a sign is a theorem (see decompose's Notes), only rounding of the
    # two separately summed scores can cross zero: cut that to 0.
    mcb_proved = binning is None and (multiclass == "classwise" or score == "log")
    dsc_proved = multiclass == "classwise" or score == "log"
    if mcb_proved:
        miscalibration = max(miscalibration, 0.0)
    if dsc_proved:
        discrimination = max(discrimination, 0.0)
    return {
        "score": mean_score,
        "miscalibration": miscalibration,
        "discrimination": discrimination,
        "uncertainty": uncertainty,
        "refinement": refinement,
    }


def _multiclass_score(y, prob, w, score):
    """Weighted sum of -ln q_y (log) or Σ_k (q_k - y_k)² (Brier), in row chunks."""
    if score == "brier":
        return float(reduce_rows(brier_kernel, prob, y, w)[0])
    total, n_infinite, _ = log_loss_sum(prob, y, w)
    return float("inf") if n_infinite else total


def _recalibrated_rows(scores, target, w, binning):
    """Recalibrated P(target) per row: PAV fit, or bin frequency.

    In-sample, a row's own block (or bin) holds its target, so the frequency
    is > 0 where ``target`` is true and < 1 where it is false. Rounding can
    break that for a row whose weight is below 1e-16 of its block's (e.g.
    weights 1 and 5e-324: 5e-324 / 2 rounds to 0), which would make its log
    score infinite; such values are moved to the nearest float inside (0, 1).
    The move is far below the rounding of the block's other terms.
    """
    if binning is None:
        c = _isotonic_rows(scores, target, w)
    else:
        bins = Binning(scores, w, *binning).assign(scores)
        index = bins.row
        n_bins = bins.number.shape[0]
        weight = np.bincount(index, weights=w, minlength=n_bins)
        hits = np.bincount(index, weights=weighted(w, target), minlength=n_bins)
        with np.errstate(invalid="ignore"):
            c = (hits / weight)[index]
    np.copyto(c, _SMALLEST_POSITIVE, where=target & (c == 0))
    np.copyto(c, _BELOW_ONE, where=~target & (c == 1))
    return c


def _classwise_refinement(y, prob, w, score, binning):
    """Weighted sum of the score of the class-wise recalibrated forecast."""
    n, n_classes = prob.shape
    if score == "log":
        # KL projection: -ln(c_y / Σ_k c_k) = log1p(Σ_{k≠y} c_k / c_y), so only
        # the observed column and the sum of the others are needed.
        others = np.zeros(n)
        observed = np.empty(n)
        for k in range(n_classes):
            is_k = y == k
            c_k = _recalibrated_rows(prob[:, k], is_k, w, binning)
            observed[is_k] = c_k[is_k]
            c_k[is_k] = 0.0
            others += c_k
        with np.errstate(over="ignore"):
            ratio = others / observed
        losses = np.log1p(ratio)
        # A subnormal observed frequency (a row weighing < 1e-308 of its
        # block) overflows the ratio: ln(Σ_k c_k) - ln(c_y) is accurate there.
        overflowed = np.flatnonzero(np.isinf(ratio))
        losses[overflowed] = np.log(others[overflowed] + observed[overflowed]) - np.log(
            observed[overflowed]
        )
        return weighted_sum(w, losses)
    recalibrated = np.empty((n, n_classes))
    for k in range(n_classes):
        recalibrated[:, k] = _recalibrated_rows(prob[:, k], y == k, w, binning)
    total = 0.0
    for rows in row_chunks(n, n_classes):
        p = _project_to_simplex(recalibrated[rows])
        p[np.arange(p.shape[0]), y[rows]] -= 1.0
        total += weighted_sum(weight_rows(w, rows), np.einsum("ij,ij->i", p, p))
    return total


def _project_to_simplex(rows):
    """Euclidean projection of each row onto the probability simplex."""
    n_classes = rows.shape[1]
    descending = -np.sort(-rows, axis=1)
    excess = np.cumsum(descending, axis=1) - 1.0
    rank = np.arange(1, n_classes + 1)
    support = np.count_nonzero(descending - excess / rank > 0, axis=1)
    shift = excess[np.arange(rows.shape[0]), support - 1] / support
    return np.maximum(rows - shift[:, None], 0.0)


def _top_label_refinement(y, prob, w, score, binning):
    """Weighted sum of the score of the top-label recalibrated forecast.

    The top probability f is recalibrated per predicted class; the rest 1 - f
    is shared like q (option "q") or like the classes observed among that
    predicted class's errors (option "errors"), whichever scores better per
    predicted class.
    """
    n, n_classes = prob.shape
    rows_info = _top_label_rows(y, prob, score)
    predicted, confidence = rows_info["predicted"], rows_info["confidence"]
    correct = predicted == y
    f = np.empty(n)
    grouped = np.argsort(predicted, kind="stable")
    bounds = np.cumsum(np.bincount(predicted, minlength=n_classes))
    for rows in np.split(grouped, bounds[:-1]):
        if rows.shape[0]:
            f[rows] = _recalibrated_rows(
                confidence[rows], correct[rows], weight_rows(w, rows), binning
            )

    # Class frequencies among the errors of each predicted class.
    wrong = ~correct
    errors = np.bincount(
        predicted[wrong] * n_classes + y[wrong],
        weights=weight_rows(w, wrong),
        minlength=n_classes * n_classes,
    ).reshape(n_classes, n_classes)
    with np.errstate(invalid="ignore"):
        error_share = errors / errors.sum(axis=1, keepdims=True)
    share_of_observed = np.where(correct, 0.0, error_share[predicted, y])
    # Rows whose q puts no mass outside its top class cannot share like q.
    like_q = rows_info["rest_sum"] > 0
    rest_q = np.where(
        like_q, rows_info["observed"] / np.where(like_q, rows_info["rest_sum"], 1), 0
    )
    rest_q = np.where(like_q | correct, rest_q, share_of_observed)

    if score == "log":
        with np.errstate(divide="ignore"):
            top = np.where(correct, -np.log(f), -np.log1p(-f))
            loss_q = top - np.where(correct, 0.0, np.log(rest_q))
            loss_errors = top - np.where(correct, 0.0, np.log(share_of_observed))
    else:
        rest_sq_errors = np.nansum(error_share**2, axis=1)[predicted]
        rest_sq_q = np.where(like_q, rows_info["rest_shares_squared"], rest_sq_errors)
        loss_q = _top_label_brier(f, correct, rest_q, rest_sq_q)
        loss_errors = _top_label_brier(f, correct, share_of_observed, rest_sq_errors)
    per_class_q = np.bincount(
        predicted, weights=weighted(w, loss_q), minlength=n_classes
    )
    per_class_errors = np.bincount(
        predicted, weights=weighted(w, loss_errors), minlength=n_classes
    )
    return float(np.sum(np.fmin(per_class_q, per_class_errors)))


def _top_label_brier(f, correct, observed_share, rest_squares):
    """Σ_k (ĉ_k - y_k)² for ĉ = (f on the top class, (1 - f) · shares elsewhere)."""
    rest = 1.0 - f
    spread = rest**2 * rest_squares
    return np.where(
        correct,
        rest**2 + spread,
        f**2 + spread - 2.0 * rest * observed_share + 1.0,
    )


def _top_label_rows(y, prob, score):
    """Predicted class, its probability, and what the rest of each row holds."""
    n, n_classes = prob.shape
    info = {
        name: np.empty(n)
        for name in ("confidence", "observed", "rest_sum", "rest_shares_squared")
    }
    info["predicted"] = np.empty(n, dtype=np.intp)
    # One pass over the rows: the top label is taken from the chunk's copy.
    for rows in row_chunks(n, n_classes):
        p = np.array(prob[rows], dtype=np.float64)  # a copy: the top is zeroed below
        index = np.arange(p.shape[0])
        top, confidence = top_label(p)
        info["predicted"][rows] = top
        info["confidence"][rows] = confidence
        p[index, top] = 0.0
        info["observed"][rows] = p[index, y[rows]]
        info["rest_sum"][rows] = p.sum(axis=1)
        if score == "brier":
            # Σ_k (q_k / rest)², from the shares: squaring first underflows
            # (rest = 1e-300 gives 0 / 0) although the shares are ordinary.
            rest = info["rest_sum"][rows]
            shares = p / np.where(rest > 0, rest, 1.0)[:, None]
            info["rest_shares_squared"][rows] = np.einsum("ij,ij->i", shares, shares)
    return info


# --- numerics -------------------------------------------------------------------


def _expected_log_ratio(t, c, q, c_complement=None):
    """t ln(c/q) + (1 - t) ln((1 - c)/(1 - q)), elementwise, with 0 ln(.) = 0.

    +inf where q gives probability 0 to an outcome that t gives positive
    weight; c must be 0 (or 1) only where t is. Elements with t = 0 or 1 (most
    of them, even with ties) take the one-log path of
    :func:`_log_ratio_of_outcome`.
    """
    t, c, q = np.broadcast_arrays(
        np.asarray(t, dtype=np.float64), np.asarray(c, dtype=np.float64), q
    )
    out = _log_ratio_of_outcome(t == 1, c, q, c_complement)
    mixed = np.flatnonzero((t > 0) & (t < 1))
    if mixed.size:
        c_c = 1.0 - c[mixed] if c_complement is None else c_complement[mixed]
        t, c, q = t[mixed], c[mixed], q[mixed]  # here 0 < c < 1
        out[mixed] = t * _log_ratio(c, q, c - q) + (1.0 - t) * _log_ratio(
            c_c, 1.0 - q, q - c
        )
    return out


def _log_ratio_of_outcome(event, c, q, c_complement=None):
    """ln(c/q) where ``event``, else ln((1 - c)/(1 - q)), elementwise.

    The hot loop of a decomposition of continuous forecasts: one log1p per
    element. ``c_complement`` is 1 - c computed without rounding c first (a
    mean of forecasts near 1 can round to 1 while its complement is 1e-17).
    """
    base = np.subtract(1.0, q)  # q' = 1 - q, exact for q >= 1/2
    nonevent = ~event
    difference = np.subtract(c, q)
    if c_complement is None:
        np.negative(difference, out=difference, where=nonevent)  # c' - q' = q - c
    else:
        # Subtract on the side where the values are small, hence accurate.
        small_side = np.where(c < 0.5, q - c, c_complement - base)
        np.copyto(difference, small_side, where=nonevent)
    np.copyto(base, q, where=event)

    def numerator(rows):
        other = 1.0 - c[rows] if c_complement is None else c_complement[rows]
        return np.where(event[rows], c[rows], other)

    return _log_ratio(numerator, base, difference, out=difference)


def _log_ratio(numerator, base, difference, out=None):
    """ln(numerator / base) as log1p(difference / base), elementwise.

    ``difference`` is numerator - base, computed before any rounding of the
    quotient, so that values close to 0 keep their relative accuracy. Equal
    values give 0 (also 0/0); base 0 < numerator gives +inf. Far from 0 the
    log1p form is not needed and can fail: where the quotient overflows (base
    below ~1e-308 times the difference), or where numerator < base / 2 (the
    sum 1 + difference / base cancels, down to log1p(-1) = -inf for a
    subnormal numerator), this uses ln(numerator / base), or ln(numerator) -
    ln(base) when that quotient leaves the normal range (the result then
    exceeds 708 in size, so the two logs' rounding does not matter).
    ``numerator`` may be a function of row indices, built only where needed.
    """
    equal = difference == 0
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ratio = np.divide(difference, base, out=out)  # ``out`` may be difference
        np.copyto(ratio, 0.0, where=equal)
        direct = np.isinf(ratio) | (ratio < -0.5)
        np.log1p(ratio, out=ratio)
        if direct.any():
            rows = np.flatnonzero(direct)
            top = numerator(rows) if callable(numerator) else numerator[rows]
            bottom = base[rows]
            with np.errstate(under="ignore"):
                quotient = top / bottom
            normal = (quotient >= _TINY) & np.isfinite(quotient)
            ratio[rows] = np.where(
                normal, np.log(quotient), np.log(top) - np.log(bottom)
            )
    return ratio


# --- checks and messages --------------------------------------------------------


def _warn_certain_wrong(fc):
    """CalibrationWarning naming how many rows were certain and wrong, and where."""
    _, n_bad, first_rows = log_loss_sum(fc.prob, fc.y, fc.sample_weight)
    warn_certain_and_wrong(
        n_bad,
        first_rows,
        "the score and the miscalibration are infinite, the discrimination and "
        "the uncertainty are finite.",
    )


def _estimator_name(is_binary, multiclass, binning):
    if binning is None:
        recalibrator = "CORP (PAV recalibration)"
        if not is_binary and multiclass == "classwise":
            recalibrator = "class-wise one-vs-rest CORP (PAV per class, rows projected)"
        elif not is_binary:
            recalibrator = "top-label CORP (PAV per predicted class)"
    else:
        n_bins, strategy = binning
        bins = f"{n_bins} {strategy} bins"
        recalibrator = f"binning ({bins})"
        if not is_binary and multiclass == "classwise":
            recalibrator = f"class-wise one-vs-rest binning ({bins}, rows projected)"
        elif not is_binary:
            recalibrator = f"top-label binning ({bins} per predicted class)"
    return f"{recalibrator}, {'exact' if is_binary else 'estimate'}"

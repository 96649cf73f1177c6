"""Implementation of :mod:`calibkit.report`."""

import base64
import dataclasses
import html
import io
import json
import math
import numbers
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timezone

import numpy as np

from calibkit._results import Result
from calibkit._validation import (
    count,
    format_label,
    interval,
    to_numpy,
    validate_params,
)
from calibkit._version import __version__
from calibkit.exceptions import CalibrationWarning
from calibkit.metrics._cumulative import forecast_cumulative
from calibkit.metrics._decomposition import _decompose
from calibkit.metrics._inputs import (
    FORECAST_CONSTRAINTS,
    as_probabilities,
    check_forecasts,
)
from calibkit.metrics._reliability import N_BINS, _expected_calibration_error
from calibkit.metrics._scores import _brier_score, _log_loss
from calibkit.metrics._smooth import _smooth_ece

__all__ = [
    "ForecastEvaluation",
    "evaluate_forecasts",
    "metrics_table",
    "reliability_png",
    "render_html",
    "write_report",
]  # metrics_table and reliability_png: public until 0.2, see calibkit.report

#: Columns of :func:`metrics_table`: (key of ``to_dict()``, heading).
COLUMNS = (
    ("log_loss", "log-loss"),
    ("brier_score", "Brier"),
    ("ece", "ECE"),
    ("miscalibration", "MCB"),
    ("discrimination", "DSC"),
    ("uncertainty", "UNC"),
    ("smooth_ece", "smooth ECE"),
    ("ecce_r_pvalue", "ECCE-R p"),
)

_NO_MATPLOTLIB = (
    "matplotlib is not installed, so this report has tables only; install it "
    "with pip install matplotlib (calibkit's plot extra) to get the reliability "
    "diagrams."
)


@dataclass(frozen=True, repr=False)
class ForecastEvaluation(Result):
    """Scores of one set of forecasts, as returned by :func:`evaluate_forecasts`.

    Attributes
    ----------
    name : str
        Label of the forecasts (e.g. ``"uncalibrated"``, ``"temperature"``).
    n_samples : int
        Number of rows.
    n_classes : int
        Number of classes.
    log_loss : float
        Mean log-loss in nats (``inf`` if a row got probability 0).
    brier_score : float
        Mean Brier score: ``(p - y)^2`` of the positive class for two classes,
        ``sum_k (p_k - y_k)^2`` for more.
    ece : float
        Top-label expected calibration error, ``n_bins`` equal-width bins.
    n_bins : int
        Bins used for ``ece``.
    decomposition : calibkit.metrics.Decomposition
        CORP decomposition of the log-loss: ``miscalibration``,
        ``discrimination``, ``uncertainty``.
    y_true, y_prob, labels : ndarray
        The labels and probabilities evaluated (1-D positive-class
        probabilities for two classes), kept to draw the diagrams.
    smooth_ece : float
        Smooth ECE with the automatic bandwidth
        (:func:`calibkit.metrics.smooth_ece`) of the positive-class
        probability for two classes, top-label for more.
    ecce_r_pvalue : float
        p-value of the ECCE-R (:func:`calibkit.metrics.cumulative_calibration`)
        of the positive-class probability for two classes, top-label for
        more: small values are evidence of miscalibration.
    intervals : dict or None
        With ``ci``: ``{score key: ConfidenceInterval}`` for ``log_loss``,
        ``brier_score``, ``ece``, ``miscalibration``, ``discrimination`` and
        ``uncertainty``; None without.
    sample_weight : ndarray or None
        The row weights, kept for the paired comparisons.
    """

    name: str
    n_samples: int
    n_classes: int
    log_loss: float
    brier_score: float
    ece: float
    n_bins: int
    decomposition: object
    y_true: np.ndarray = field(repr=False)
    y_prob: np.ndarray = field(repr=False)
    labels: np.ndarray = field(repr=False)
    smooth_ece: float = float("nan")
    ecce_r_pvalue: float = float("nan")
    intervals: dict | None = field(default=None, repr=False)
    sample_weight: np.ndarray | None = field(default=None, repr=False)

    def to_dict(self):
        """The scores as a flat dict of JSON-ready values (``inf`` stays a float).

        Returns
        -------
        dict
            Name, sizes, scores and the decomposition's terms.
        """
        d = self.decomposition
        return {
            "name": self.name,
            "n_samples": self.n_samples,
            "n_classes": self.n_classes,
            "log_loss": self.log_loss,
            "brier_score": self.brier_score,
            "ece": self.ece,
            "n_bins": self.n_bins,
            "miscalibration": d.miscalibration,
            "discrimination": d.discrimination,
            "uncertainty": d.uncertainty,
            "refinement": d.refinement,
            "decomposition_estimator": d.estimator,
            "smooth_ece": self.smooth_ece,
            "ecce_r_pvalue": self.ecce_r_pvalue,
            **_interval_fields(self.intervals),
        }


@validate_params(
    {
        **{k: v for k, v in FORECAST_CONSTRAINTS.items() if k != "pos_label"},
        "name": "no_validation",  # any object; shown as str(name)
        "n_bins": [count()],
        "ci": [None, interval(numbers.Real, 0, 1, closed="neither")],
        "n_resamples": [count()],
        "random_state": "no_validation",  # checked by numpy.random.default_rng
    }
)
def evaluate_forecasts(
    y_true,
    y_prob,
    *,
    name="forecast",
    input="probabilities",
    labels=None,
    sample_weight=None,
    n_bins=N_BINS,
    ci=None,
    n_resamples=1000,
    random_state=0,
):
    """Log-loss, Brier score, ECE and log-loss decomposition of one forecast.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Observed labels.
    y_prob : array-like of shape (n_samples,) or (n_samples, n_classes)
        Probabilities (1-D: of the greater label, or of ``labels[1]``), or
        logits with ``input="logits"``.
    name : str, default="forecast"
        Label used in tables and figures.
    input : {"probabilities", "logits"}, default="probabilities"
        With ``"logits"`` the log-loss is computed from the logits directly
        (exact even where the softmax underflows) and the other scores from
        their softmax (sigmoid for 1-D log-odds).
    labels : array-like, default=None
        All class labels; the columns of ``y_prob`` are in their sorted order
        (as in scikit-learn), whatever order they are listed in.
    sample_weight : array-like of shape (n_samples,), default=None
        Row weights.
    n_bins : int, default=10
        Equal-width bins of the ECE.
    ci : float or None, default=None
        Confidence level (e.g. ``0.95``) of bootstrap intervals for every
        score, or None for none. All scores are computed on the same
        resamples (see :func:`calibkit.metrics.confidence_interval`); the
        CORP terms (MCB, DSC) refit PAV on each resample.
    n_resamples : int, default=1000
        Bootstrap resamples of the intervals.
    random_state : None, int or numpy.random.Generator, default=0
        Seed of the resamples (fixed by default, so a report is reproducible).

    Returns
    -------
    ForecastEvaluation

    Notes
    -----
    A 2-column binary forecast is scored on its second column, so that the
    Brier score follows the binary convention ``mean (p - y)^2`` whether one or
    two columns are given. The decomposition is CORP (isotonic recalibration,
    exact for two classes; class-wise estimates for more, see
    :func:`calibkit.metrics.decompose`). The inputs are validated once and
    the four metrics share the validated forecasts.

    Examples
    --------
    >>> from calibkit.report._report import evaluate_forecasts
    >>> ev = evaluate_forecasts([0, 1, 1, 0], [0.2, 0.7, 0.9, 0.4], name="model")
    >>> round(ev.brier_score, 4)
    0.075
    """
    if not hasattr(y_prob, "ndim"):
        y_prob = np.asarray(y_prob)
    if y_prob.ndim == 2 and y_prob.shape[1] == 1:
        y_prob = to_numpy(y_prob)[:, 0]
    fc = check_forecasts(
        y_true, y_prob, sample_weight=sample_weight, labels=labels, input=input
    )
    loss = _log_loss(fc, input=input)
    given = fc
    fc = as_probabilities(fc, input)
    if not fc.is_binary and fc.n_classes == 2:
        fc = dataclasses.replace(fc, prob=fc.prob[:, 1])
    if labels is None:
        labels = fc.classes  # the sorted labels of y_true, found by the check
    intervals = None
    if ci is not None:
        intervals = score_intervals(
            given, fc, input, n_bins, ci, n_resamples, random_state
        )
    return ForecastEvaluation(
        name=str(name),
        n_samples=int(fc.y.shape[0]),
        n_classes=2 if fc.is_binary else fc.n_classes,
        log_loss=float(loss),
        brier_score=float(_brier_score(fc)),
        ece=float(_expected_calibration_error(fc, n_bins=n_bins)),
        n_bins=int(n_bins),
        decomposition=_decompose(fc, score="log"),
        y_true=np.asarray(y_true),
        y_prob=np.asarray(fc.prob),
        labels=np.asarray(labels),
        smooth_ece=_smooth_ece(fc),
        ecce_r_pvalue=forecast_cumulative(fc).ecce_r_pvalue,
        intervals=intervals,
        sample_weight=fc.sample_weight,
    )


#: Scores with intervals: key of ``to_dict()`` -> (metric, its options).
_INTERVAL_METRICS = {
    "log_loss": ("log_loss", {}),
    "brier_score": ("brier_score", {}),
    "ece": ("expected_calibration_error", {}),
    "miscalibration": ("miscalibration", {}),
    "discrimination": ("discrimination", {}),
    "uncertainty": ("uncertainty", {}),
}


def score_intervals(given, fc, input, n_bins, level, n_resamples, random_state):
    """Bootstrap intervals of every score of :func:`evaluate_forecasts`.

    One set of resamples for all of them: the log-loss on the forecasts as
    given (logits stay logits), the others on the probabilities.
    """
    from calibkit.metrics._bootstrap import (
        Data,
        bootstrap_replicates,
        check_random_state,
        interval_of_replicates,
        metric_spec,
    )

    specs = {
        key: metric_spec(metric, {"n_bins": int(n_bins)} if key == "ece" else options)
        for key, (metric, options) in _INTERVAL_METRICS.items()
    }
    on_probabilities = [key for key in specs if key != "log_loss"]
    rng = check_random_state(random_state)
    state = rng.bit_generator.state
    intervals = {}
    for data, keys in (
        (Data(given, input, None, None), ["log_loss"]),
        (Data(fc, "probabilities", None, None), on_probabilities),
    ):
        rng.bit_generator.state = state  # the same resamples for every score
        with warnings.catch_warnings():
            # evaluate_forecasts has warned once about the rows themselves
            # (e.g. certain and wrong).
            warnings.simplefilter("ignore", CalibrationWarning)
            estimates = [float(specs[key].estimate(data)) for key in keys]
        # One call for the scores of the probabilities: each resample's
        # decomposition serves its miscalibration and discrimination.
        chosen = [specs[key] for key in keys]
        draws = bootstrap_replicates(chosen, data, n_resamples, rng)
        for key, estimate, replicates in zip(keys, estimates, draws, strict=True):
            intervals[key] = interval_of_replicates(
                specs[key], estimate, replicates, level, "percentile"
            )
    return {key: intervals[key] for key in specs}


def _interval_fields(intervals):
    """``{key}_low`` and ``{key}_high`` of each score's interval (none without)."""
    if not intervals:
        return {}
    fields = {}
    for key, ci in intervals.items():
        fields[f"{key}_low"] = ci.low
        fields[f"{key}_high"] = ci.high
    fields["confidence_level"] = next(iter(intervals.values())).confidence_level
    return fields


def compare_evaluations(
    evaluations, *, confidence_level=0.95, n_resamples=1000, random_state=0
):
    """Paired comparisons of the first forecast with each of the others.

    "Is the improvement significant?": the log-loss and Brier score of the
    first evaluation (e.g. the uncalibrated forecasts) against each other one
    on the same rows, by :func:`calibkit.metrics.compare_forecasts` (paired
    bootstrap interval of the difference, Diebold-Mariano test).

    Parameters
    ----------
    evaluations : list of ForecastEvaluation
        Forecasts of the same rows (same labels, same order).
    confidence_level : float, default=0.95
        Coverage of the intervals of the differences.
    n_resamples : int, default=1000
        Bootstrap resamples.
    random_state : None, int or numpy.random.Generator, default=0
        Seed of the resamples.

    Returns
    -------
    list of (str, str, PairedComparison)
        ``(first name, other name, comparison)`` per other forecast and score
        (log-loss, then Brier); empty when there is one forecast. A forecast
        of other rows than the first (labels or weights differ) is left out
        with a :class:`~calibkit.exceptions.CalibrationWarning`.
    """
    from calibkit.metrics import compare_forecasts

    if len(evaluations) < 2:
        return []
    first = evaluations[0]
    out = []
    for other in evaluations[1:]:
        if not _same_rows(first, other):
            msg = (
                f"no paired comparison of {first.name!r} with {other.name!r}: "
                "they are not forecasts of the same rows (labels, weights and "
                "shape must match row for row)."
            )
            warnings.warn(msg, CalibrationWarning, stacklevel=2)
            continue
        for metric in ("log_loss", "brier_score"):
            comparison = compare_forecasts(
                first.y_true,
                first.y_prob,
                other.y_prob,
                metric=metric,
                labels=first.labels,
                sample_weight=first.sample_weight,
                confidence_level=confidence_level,
                n_resamples=n_resamples,
                random_state=random_state,
            )
            out.append((first.name, other.name, comparison))
    return out


def _same_rows(first, other):
    """Whether two evaluations score the same rows (labels and weights)."""
    if other.y_prob.shape != first.y_prob.shape:
        return False
    if not np.array_equal(other.y_true, first.y_true):
        return False
    if (first.sample_weight is None) != (other.sample_weight is None):
        return False
    return first.sample_weight is None or np.array_equal(
        first.sample_weight, other.sample_weight
    )


def metrics_table(evaluations):
    """The scores of several forecasts, one row each.

    Parameters
    ----------
    evaluations : list of ForecastEvaluation

    Returns
    -------
    pandas.DataFrame
        Index: the names; columns: log-loss, Brier, ECE, MCB, DSC, UNC.
    """
    import pandas as pd

    rows = [e.to_dict() for e in evaluations]
    frame = pd.DataFrame(
        {heading: [r[key] for r in rows] for key, heading in COLUMNS},
        index=pd.Index([r["name"] for r in rows], name="forecast"),
    )
    return frame


def format_table(evaluations, *, digits=4):
    """:func:`metrics_table` as aligned text, with a legend of the columns.

    Parameters
    ----------
    evaluations : list of ForecastEvaluation
    digits : int, default=4
        Decimals shown.

    Returns
    -------
    str
    """
    table = metrics_table(evaluations)
    first = evaluations[0]
    if any(e.intervals for e in evaluations):
        text = _table_with_intervals(table, evaluations, digits).to_string()
    else:
        text = table.rename_axis(None).to_string(
            float_format=lambda v: f"{v:.{digits}f}"
        )
    brier = "binary (p - y)^2" if first.n_classes == 2 else "summed over classes"
    legend = (
        "log-loss, MCB, DSC, UNC in nats; log-loss = MCB - DSC + UNC\n"
        f"Brier {brier}; ECE top-label, {first.n_bins} bins\n"
        f"smooth ECE of the {_smooth_forecast(first)}, automatic bandwidth; "
        "ECCE-R p: p-value of the cumulative calibration test of the same "
        "(small: miscalibrated)\n"
        f"decomposition: {first.decomposition.estimator}"
    )
    ci = _first_interval(evaluations)
    if ci is not None:
        legend += (
            f"\n[low, high]: {ci.confidence_level:.0%} bootstrap percentile "
            f"intervals, {ci.n_resamples} resamples"
        )
    return f"{text}\n\n{legend}"


def _smooth_forecast(evaluation):
    """What the smooth ECE and the cumulative test look at, in words."""
    if evaluation.n_classes == 2:
        return f"probability of class {format_label(evaluation.labels[-1])}"
    return "top-label confidence"


def _first_interval(evaluations):
    for evaluation in evaluations:
        if evaluation.intervals:
            return next(iter(evaluation.intervals.values()))
    return None


#: Key of ``ForecastEvaluation.to_dict()`` of each heading of the table.
_KEYS = {heading: key for key, heading in COLUMNS}


def _table_with_intervals(table, evaluations, digits):
    """The table as text cells ``value [low, high]`` where intervals exist."""
    cells = table.astype(object).rename_axis(None)
    for evaluation, name in zip(evaluations, table.index, strict=True):
        for heading in table.columns:
            value = table.loc[name, heading]
            text = _number(value, digits)
            ci = (evaluation.intervals or {}).get(_KEYS[heading])
            if ci is not None:
                text += f" [{_number(ci.low, digits)}, {_number(ci.high, digits)}]"
            cells.loc[name, heading] = text
    return cells


def _number(value, digits):
    return f"{value:.{digits}f}" if math.isfinite(value) else str(value)


def comparison_fields(comparison):
    """A paired comparison as JSON-ready fields (``inf`` as a string).

    Parameters
    ----------
    comparison : PairedComparison

    Returns
    -------
    dict
    """
    return {k: _json_number(v) for k, v in comparison.to_dict().items()}


def format_comparisons(comparisons, *, digits=4):
    """Paired comparisons (from :func:`compare_evaluations`) as text lines.

    Parameters
    ----------
    comparisons : list of (str, str, PairedComparison)
    digits : int, default=4
        Decimals shown.

    Returns
    -------
    str
        One line per comparison; empty for none.
    """
    lines = []
    for first, other, c in comparisons:
        name = "log-loss" if c.metric == "log_loss" else "Brier"
        lines.append(
            f"{first} - {other}, {name}: {_number(c.difference, digits)} "
            f"[{_number(c.low, digits)}, {_number(c.high, digits)}], "
            f"Diebold-Mariano z = {c.statistic:.2f}, p = {c.p_value:.2g}"
        )
    if lines:
        level = comparisons[0][2].confidence_level
        lines.insert(
            0,
            f"Paired differences (first forecast minus the other; > 0: the other "
            f"is better), {level:.0%} paired-bootstrap intervals:",
        )
    return "\n".join(lines)


def to_json(evaluations, *, extra=None):
    """The scores as strict JSON text (``inf`` written as the string ``"inf"``).

    Parameters
    ----------
    evaluations : list of ForecastEvaluation
    extra : dict or None, default=None
        More top-level fields (e.g. the input file).

    Returns
    -------
    str
    """
    document = {"calibkit_version": __version__, **(extra or {})}
    document["forecasts"] = [
        {k: _json_number(v) for k, v in e.to_dict().items()} for e in evaluations
    ]
    return json.dumps(document, indent=2, allow_nan=False) + "\n"


def _json_number(value):
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


# --- figures ---------------------------------------------------------------------


def matplotlib_available():
    """Whether matplotlib can be imported (the figures need it)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


#: Share of forecasts within 0.05 of 0 or 1 above which the report adds
#: diagrams on log-odds axes (where such forecasts are spread out).
CROWDED_SHARE = 0.25
# Largest bin over the median non-empty bin above which histogram counts are
# drawn on a log scale (one spike would flatten every other bar).
_SKEWED_HISTOGRAM = 10.0
_PANEL_WIDTH = 2.75  # inches per diagram; four fit a 1280 px window at 110 dpi
_PANEL_HEIGHT = 3.45  # diagram and its histogram panel, with the title


def crowded_forecasts(evaluations):
    """Whether the forecasts of any evaluation crowd near 0 or 1.

    Parameters
    ----------
    evaluations : list of ForecastEvaluation

    Returns
    -------
    bool
        True when at least :data:`CROWDED_SHARE` of some evaluation's
        forecasts on the diagrams' x axis (positive-class probability, or
        top-label confidence) lie within 0.05 of 0 or 1.
    """
    for evaluation in evaluations:
        x = _diagram_forecasts(evaluation)
        if x.size and np.mean(np.minimum(x, 1.0 - x) < 0.05) >= CROWDED_SHARE:
            return True
    return False


def _diagram_forecasts(evaluation):
    prob = np.asarray(evaluation.y_prob, dtype=np.float64)
    return prob if prob.ndim == 1 else prob.max(axis=1)


#: Most forecasts drawn in the report's figures (a file with hundreds of
#: ``--model`` values would otherwise get hundreds of diagrams).
MAX_FORECAST_PANELS = 12


def drawn_forecasts(evaluations):
    """The evaluations the report draws: all up to :data:`MAX_FORECAST_PANELS`,
    else the first (usually the uncalibrated forecast) and those of lowest
    log-loss, in their given order."""
    if len(evaluations) <= MAX_FORECAST_PANELS:
        return list(evaluations)
    rest = sorted(
        range(1, len(evaluations)), key=lambda i: (evaluations[i].log_loss, i)
    )
    kept = {0, *rest[: MAX_FORECAST_PANELS - 1]}
    return [e for i, e in enumerate(evaluations) if i in kept]


def reliability_figure(evaluations, *, ncols=4, n_resamples=300, logit_scale="auto"):
    """One reliability diagram (CORP curve, band, histogram) per forecast.

    Parameters
    ----------
    evaluations : list of ForecastEvaluation
    ncols : int, default=4
        Diagrams per row.
    n_resamples : int, default=300
        Resamples behind the 90% consistency bands (seeded, so the figure is
        reproducible).
    logit_scale : {"auto", True, False}, default="auto"
        Add a second set of diagrams on log-odds axes: always, never, or when
        the forecasts crowd near 0 or 1 (:func:`crowded_forecasts`).

    Returns
    -------
    matplotlib.figure.Figure
        A figure not registered with pyplot (no GUI, no global state). Each
        diagram has the forecasts' histogram in its own panel below it, with
        counts on a log scale when one bin dwarfs the others.
    """
    from matplotlib.figure import Figure

    if logit_scale == "auto":
        logit_scale = crowded_forecasts(evaluations)
    scales = (False, True) if logit_scale else (False,)
    n = len(evaluations)
    ncols = min(ncols, n)
    nrows = math.ceil(n / ncols)
    height = _PANEL_HEIGHT * nrows * len(scales) + 0.4 * len(scales) + 0.5
    # One diagram alone gets a little more width, for the legend's labels.
    width = max(_PANEL_WIDTH * ncols, 3.6)
    figure = Figure(figsize=(width, height), layout="constrained")
    sections = figure.subfigures(len(scales), 1, squeeze=False)[:, 0]
    displays = []
    for section, logit in zip(sections, scales, strict=True):
        if len(scales) > 1:
            section.suptitle(
                "Log-odds axes" if logit else "Linear axes",
                fontsize="medium",
                fontweight="bold",
            )
        cells = section.subfigures(nrows, ncols, squeeze=False).ravel()
        for k, (cell, evaluation) in enumerate(zip(cells, evaluations, strict=False)):
            display = _reliability_panel(cell, evaluation, logit, n_resamples)
            displays.append((display, k % ncols == 0))
    _histograms_on_one_scale(displays)
    first = displays[0][0]
    handles, labels = first.ax_.get_legend_handles_labels()
    handles.append(_histogram_handle(first.hist_))
    labels.append("number of forecasts (lower panels)")
    # As many legend columns as the figure's width holds.
    figure.legend(
        handles,
        labels,
        loc="outside lower center",
        ncols={1: 1, 2: 2, 3: 2}.get(ncols, 4),
    )
    return figure


def _reliability_panel(cell, evaluation, logit, n_resamples):
    from calibkit.plotting import ReliabilityDisplay
    from calibkit.plotting._reliability import _add_diagram_axes

    main_ax, _ = _add_diagram_axes(cell, hist=True)
    display = ReliabilityDisplay.from_predictions(
        evaluation.y_true,
        evaluation.y_prob,
        labels=evaluation.labels,
        strategy="isotonic",
        bands=0.9,
        n_resamples=n_resamples,
        random_state=0,
        logit_scale=logit,
        name="CORP reliability curve",
        ax=main_ax,
    )
    main_ax.get_legend().remove()
    title = evaluation.name
    if not logit:
        title += f"\nlog-loss {evaluation.log_loss:.3f}, ECE {evaluation.ece:.3f}"
    main_ax.set_title(title, fontsize="medium")
    if not logit:
        # The same ticks in every panel (matplotlib picks by the axes' width).
        display.hist_ax_.set_xticks([0, 0.25, 0.5, 0.75, 1], ["0", "", "0.5", "", "1"])
    display.hist_ax_.set_xlabel(_x_label(evaluation), fontsize="small")
    main_ax.set_ylabel(_y_label(evaluation))
    return display


def _histograms_on_one_scale(displays):
    """Counts on one scale in every panel (log when one bin dwarfs the others).

    ``displays`` holds (display, whether its diagram starts a row): only those
    keep their y labels.
    """
    from matplotlib.ticker import FuncFormatter

    heights = [d.hist_.get_data()[0] for d, _ in displays]
    skewed = any(
        h.max() > _SKEWED_HISTOGRAM * np.median(h[h > 0]) for h in heights if h.any()
    )
    top = max(float(h.max()) for h in heights)
    for display, first in displays:
        if not first:
            display.ax_.set_ylabel("")
        ax = display.hist_ax_
        if skewed:
            ax.set_yscale("log")
            ax.set_ylim(0.7, top * 1.6)
            # 1, 10, 100 rather than 10^0, 10^1, 10^2.
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        else:
            ax.set_ylim(0, top * 1.08)
        label = "Count (log scale)" if skewed else "Count"
        ax.set_ylabel(label if first else "", fontsize="small")


def _x_label(evaluation):
    if evaluation.n_classes == 2:
        return f"Probability of class {format_label(evaluation.labels[-1])}"
    return "Confidence (top-label probability)"


def _y_label(evaluation):
    return "Observed frequency" if evaluation.n_classes == 2 else "Observed accuracy"


def _histogram_handle(hist):
    from matplotlib.colors import to_rgba
    from matplotlib.patches import Patch

    color = hist.get_facecolor()
    return Patch(facecolor=to_rgba(color, 0.3), edgecolor=to_rgba(color, 1.0))


def decomposition_figure(evaluations):
    """Waterfall bars of the log-loss decomposition, one row per forecast.

    Parameters
    ----------
    evaluations : list of ForecastEvaluation

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.figure import Figure

    from calibkit.plotting import DecompositionDisplay

    figure = Figure(figsize=(7.0, 1.9 + 0.9 * len(evaluations)), layout="constrained")
    ax = figure.subplots()
    DecompositionDisplay.from_decompositions(
        {e.name: e.decomposition for e in evaluations}, ax=ax
    )
    figure.suptitle("Log-loss decomposition: log-loss = UNC − DSC + MCB (nats)")
    return figure


_CUMULATIVE_NOTE = (
    "Rows sorted by the forecast (the positive class's probability for two "
    "classes, the top-label confidence for more); the curve accumulates observed minus "
    "forecast, so its slope is the miscalibration at those forecasts. It leaves "
    "the shaded 95% band exactly when the ECCE-MAD test rejects calibration at "
    "5%; the legend gives ECCE-R and its p-value (Arrieta-Ibarra et al., 2022)."
)


def cumulative_figure(evaluations):
    """Cumulative differences of every forecast on one axes.

    Parameters
    ----------
    evaluations : list of ForecastEvaluation

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.figure import Figure

    from calibkit.plotting import CumulativeDisplay

    figure = Figure(figsize=(7.0, 4.2), layout="constrained")
    ax = figure.subplots()
    for evaluation in evaluations:
        fc = check_forecasts(
            evaluation.y_true,
            evaluation.y_prob,
            labels=evaluation.labels,
            sample_weight=evaluation.sample_weight,
        )
        CumulativeDisplay(forecast_cumulative(fc), name=evaluation.name).plot(ax=ax)
    return figure


def figure_png(figure, *, dpi=110):
    """PNG bytes of a matplotlib figure.

    Parameters
    ----------
    figure : matplotlib.figure.Figure
    dpi : int, default=110

    Returns
    -------
    bytes
    """
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def reliability_png(evaluations, *, dpi=110):
    """PNG bytes of :func:`reliability_figure`.

    Parameters
    ----------
    evaluations : list of ForecastEvaluation
    dpi : int, default=110

    Returns
    -------
    bytes
    """
    return figure_png(reliability_figure(evaluations), dpi=dpi)


# --- HTML -----------------------------------------------------------------------------

_CSS = """
body { font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 1240px;
       padding: 0 1.2em; color: #222; line-height: 1.4; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 1.6em; }
.row { display: flex; flex-wrap: wrap; gap: 1em 2.5em; align-items: flex-start; }
.row > * { flex: 1 1 24em; }
.row > table, .row > p.image { flex: 0 1 auto; margin: 0; }
table { border-collapse: collapse; margin: 0.4em 0; }
th, td { padding: 0.3em 0.8em; border-bottom: 1px solid #ddd; text-align: right; }
th:first-child, td:first-child { text-align: left; }
thead th { border-bottom: 2px solid #888; }
th[title], span[title] { text-decoration: underline dotted; cursor: help; }
td.best { font-weight: bold; }
table.groups tr.best td { font-weight: bold; }
table.groups caption { text-align: left; font-weight: bold; }
span.ci { color: #555; font-size: 0.85em; white-space: nowrap; }
.note { color: #444; font-size: 0.92em; }
.note ul { margin: 0.3em 0; padding-left: 1.2em; }
.warning { background: #fff4e0; border-left: 4px solid #e0a030; padding: 0.5em 1em; }
img { max-width: 100%; height: auto; }
footer { margin-top: 2em; border-top: 1px solid #ddd; }
"""

#: Column headings of the scores table: (heading, full name for the tooltip,
#: explanation under the table).
_EXPLANATIONS = (
    (
        "log-loss",
        "logarithmic score, in nats",
        "mean of −ln p(observed class), in nats; lower is better.",
    ),
    (
        "Brier",
        "Brier score",
        "mean squared error of the probabilities; lower is better.",
    ),
    (
        "ECE",
        "expected calibration error",
        "mean gap between confidence and accuracy over bins; lower is better.",
    ),
    (
        "smooth ECE",
        "smooth expected calibration error",
        "calibration error without bins (kernel-smoothed, automatic bandwidth); "
        "lower is better.",
    ),
    (
        "ECCE-R p",
        "p-value of the cumulative calibration test",
        "probability of a cumulative-differences range this large if the "
        "forecasts were calibrated; small values are evidence of miscalibration.",
    ),
    (
        "MCB",
        "miscalibration",
        "how much the log-loss would drop if the forecasts were recalibrated.",
    ),
    (
        "DSC",
        "discrimination",
        "how much better than always forecasting the class frequencies the "
        "recalibrated forecasts are.",
    ),
    (
        "UNC",
        "uncertainty",
        "the log-loss of always forecasting the class frequencies (the same "
        "for every forecast of the same data).",
    ),
)


def render_html(
    evaluations,
    *,
    title="Calibration report",
    description=None,
    images=None,
    groups=None,
    comparisons=None,
):
    """A self-contained HTML page with the scores and diagrams.

    Parameters
    ----------
    evaluations : list of ForecastEvaluation
        One per forecast, same labels.
    title : str, default="Calibration report"
        The page's title and first heading.
    description : str or None, default=None
        A paragraph about the data (plain text, escaped).
    images : dict or None, default=None
        PNG bytes already drawn, under the keys ``"reliability"``,
        ``"decomposition"``, ``"cumulative"`` and ``"groups"`` (e.g. also
        saved as files); drawn when missing.
    groups : GroupEvaluation or None, default=None
        Calibration by group (from ``evaluate_groups``): adds a section
        with the group tables, the worst group and a reliability diagram per
        group.
    comparisons : list or None, default=None
        Paired comparisons from :func:`compare_evaluations`, shown under "Is
        the improvement significant?" (``calibkit evaluate --ci`` passes
        them); None or empty for no such section.

    Returns
    -------
    str
        HTML5 with inline CSS and images as ``data:image/png;base64`` URIs; no
        scripts are run and nothing is fetched from the network. The page is
        laid out for a window of about 1280 pixels (narrower ones wrap). One
        table holds every score; technical names are in tooltips and
        footnotes. The scores are also embedded as JSON in ``<script
        type="application/json" id="calibkit-metrics">``.
    """
    esc = html.escape
    first = evaluations[0]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{esc(title)}</h1>",
    ]
    if description:
        parts.append(f"<p>{esc(description)}</p>")
    parts.append(
        f'<p class="note">{first.n_samples} rows, {first.n_classes} classes. '
        f"Generated by calibkit {esc(__version__)} on "
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC.</p>"
    )
    parts += [
        "<h2>Scores</h2>",
        '<div class="row">',
        _metrics_html(evaluations),
        _legend_html(evaluations),
        "</div>",
    ]
    if comparisons:
        parts.append("<h2>Is the improvement significant?</h2>")
        parts.append(_comparisons_html(comparisons))
    parts.append("<h2>Reliability diagrams</h2>")
    if matplotlib_available():
        images = dict(images or {})
        drawn = drawn_forecasts(evaluations)
        if "reliability" not in images:
            images["reliability"] = reliability_png(drawn)
        if "decomposition" not in images:
            images["decomposition"] = figure_png(decomposition_figure(drawn))
        if "cumulative" not in images:
            images["cumulative"] = figure_png(cumulative_figure(drawn))
        parts.append(_reliability_caption_html(evaluations))
        if len(drawn) < len(evaluations):
            parts.append(
                f'<p class="note">The figures show {len(drawn)} of the '
                f"{len(evaluations)} forecasts: the first one and those with the "
                "lowest log-loss; the tables list all.</p>"
            )
        parts.append(_img(images["reliability"], "Reliability diagrams"))
        parts.append("<h2>Log-loss decomposition</h2>")
        parts.append('<div class="row">')
        parts.append(_img(images["decomposition"], "Log-loss decomposition"))
        parts.append(_decomposition_note_html(evaluations))
        parts.append("</div>")
        parts.append("<h2>Cumulative calibration</h2>")
        parts.append(_img(images["cumulative"], "Cumulative"))
        parts.append(f'<p class="note">{html.escape(_CUMULATIVE_NOTE)}</p>')
    else:
        parts.append(f'<p class="warning">{esc(_NO_MATPLOTLIB)}</p>')
        parts.append("<h2>Log-loss decomposition</h2>")
        parts.append(_decomposition_note_html(evaluations))
    if groups is not None:
        parts.append(f"<h2>Calibration by {esc(groups.column)}</h2>")
        parts.append(_groups_note_html(groups))
        parts.append(_group_tables_html(groups))
        if matplotlib_available():
            if "groups" not in images:
                images["groups"] = figure_png(groups_figure(evaluations, groups))
            parts.append(_img(images["groups"], f"Reliability by {groups.column}"))
            n_groups = _n_groups(groups)
            if n_groups > MAX_GROUP_PANELS:
                parts.append(
                    f'<p class="note">Diagrams of {MAX_GROUP_PANELS} of the '
                    f"{n_groups} groups: those with the most weight, and the "
                    "worst group.</p>"
                )
    parts.append(_footnotes_html(evaluations))
    metrics_json = to_json(evaluations).replace("</", "<\\/")
    parts.append(
        f'<script type="application/json" id="calibkit-metrics">{metrics_json}</script>'
    )
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_report(
    path,
    evaluations,
    *,
    title="Calibration report",
    description=None,
    images=None,
    groups=None,
    comparisons=None,
):
    """Write :func:`render_html` to ``path`` (atomically).

    Parameters
    ----------
    path : str or os.PathLike
        The HTML file to write (replaced whole, or left as it was on error).
    evaluations : list of ForecastEvaluation
        One per forecast, same labels.
    title : str, default="Calibration report"
        As in :func:`render_html`.
    description : str or None, default=None
        As in :func:`render_html`.
    images : dict or None, default=None
        As in :func:`render_html`.
    groups : GroupEvaluation or None, default=None
        As in :func:`render_html`.
    comparisons : list or None, default=None
        As in :func:`render_html`.

    Returns
    -------
    pathlib.Path
        The written file.
    """
    from pathlib import Path

    from calibkit.io import atomic_output

    text = render_html(
        evaluations,
        title=title,
        description=description,
        images=images,
        groups=groups,
        comparisons=comparisons,
    )
    with atomic_output(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def _metrics_html(evaluations):
    table = metrics_table(evaluations)
    full_names = {heading: name for heading, name, _ in _EXPLANATIONS}
    head = "".join(
        f'<th title="{html.escape(full_names.get(h, h))}">{html.escape(h)}</th>'
        for h in table.columns
    )
    # Bold the best value of each score (the decomposition terms are not
    # better or worse on their own).
    best = {
        col: table[col].min() for col in ("log-loss", "Brier", "ECE") if len(table) > 1
    }
    rows = []
    for evaluation, (name, row) in zip(evaluations, table.iterrows(), strict=True):
        cells = []
        for col, value in row.items():
            css = ' class="best"' if best.get(col) == value else ""
            ci = (evaluation.intervals or {}).get(_KEYS[col])
            interval_text = (
                ""
                if ci is None
                else f'<br><span class="ci">[{_fmt(ci.low)}, {_fmt(ci.high)}]</span>'
            )
            cells.append(f"<td{css}>{_fmt(value)}{interval_text}</td>")
        rows.append(f"<tr><td>{html.escape(str(name))}</td>{''.join(cells)}</tr>")
    return (
        f'<table id="metrics"><thead><tr><th>forecast</th>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _comparisons_html(comparisons):
    """Table of the paired comparisons, with a plain-words verdict."""
    level = comparisons[0][2].confidence_level
    rows = []
    for first, other, c in comparisons:
        name = "log-loss" if c.metric == "log_loss" else "Brier"
        if c.low > 0:
            verdict = f"{other} is better"
        elif c.high < 0:
            verdict = f"{first} is better"
        else:
            verdict = "no significant difference"
        rows.append(
            f"<tr><td>{html.escape(first)} − {html.escape(other)}</td>"
            f"<td>{name}</td><td>{_fmt(c.difference)}</td>"
            f"<td>[{_fmt(c.low)}, {_fmt(c.high)}]</td>"
            f"<td>{c.statistic:.2f}</td><td>{c.p_value:.2g}</td>"
            f"<td>{html.escape(verdict)}</td></tr>"
        )
    return (
        '<div class="row"><table id="comparisons"><thead><tr><th>forecasts</th>'
        f"<th>score</th><th>difference</th><th>{level:.0%} interval</th>"
        '<th title="Diebold-Mariano statistic of the per-row score '
        'differences (the paired z test for independent rows)">z</th>'
        "<th>p-value</th><th>verdict</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
        '<div class="note"><p>The same rows scored by both forecasts: the '
        "difference of their mean scores (first minus second; above 0 means "
        "the second scores lower, i.e. better), with a paired-bootstrap "
        "interval (both forecasts scored on each resample of the rows) and "
        "the Diebold–Mariano test of no difference. An interval that excludes "
        "0 means the improvement is more than chance at that level.</p></div>"
        "</div>"
    )


def _legend_html(evaluations):
    first = evaluations[0]
    items = "".join(
        f"<li><b>{html.escape(k)}</b> ({html.escape(name)}): {html.escape(v)}</li>"
        for k, name, v in _EXPLANATIONS
    )
    brier = (
        "for two classes, (p − y)² of the second class"
        if first.n_classes == 2
        else "summed over the classes"
    )
    ci = _first_interval(evaluations)
    intervals = ""
    if ci is not None:
        intervals = (
            f"<p>Under each score: its {ci.confidence_level:.0%} bootstrap "
            f"interval ({ci.n_resamples} resamples of the rows). MCB and DSC "
            "are refitted on each resample; on small samples they are biased "
            "upward, and their interval shows their spread more than where "
            "the true value lies.</p>"
        )
    return (
        f'<div class="note"><ul>{items}</ul><p>log-loss = UNC − DSC + MCB. '
        f"Brier: {brier}. ECE: of the most probable class, {first.n_bins} "
        f"equal-width bins. Smooth ECE and ECCE-R p: of the "
        f"{html.escape(_smooth_forecast(first))}.</p>{intervals}</div>"
    )


def _reliability_caption_html(evaluations):
    first = evaluations[0]
    x = (
        f"probability of class {html.escape(format_label(first.labels[-1]))}"
        if first.n_classes == 2
        else "confidence (the probability of the most probable class)"
    )
    y = "frequency of that class" if first.n_classes == 2 else "share of right guesses"
    logit = ""
    if crowded_forecasts(evaluations):
        logit = (
            " The forecasts crowd near 0 or 1, so the lower diagrams repeat the "
            "upper ones on log-odds axes, which spread them out; a stretch where "
            "the observed value is exactly 0 or 1 has no place there and is left "
            "out."
        )
    return (
        '<p class="note">How often the forecast came true (y axis, the observed '
        f"{y}) against the forecast (x axis, the {x}). Each curve is the "
        '<span title="CORP reliability diagram: pool-adjacent-violators (PAV) '
        "isotonic regression of the outcomes on the forecast; Dimitriadis, "
        'Gneiting &amp; Jordan (2021), PNAS 118(8)">best non-decreasing step '
        'fit</span> of the outcomes on the forecast<sup><a href="#fn-corp">1'
        "</a></sup>: flat over each group of forecasts it pools, joined by a "
        "straight line from one group to the next. It starts at the lowest "
        "forecast and ends at the highest; a first step at 0 means the lowest "
        "forecasts were all wrong. A calibrated forecast follows the dashed "
        "diagonal; the shaded band is where 90% of such curves would lie if "
        "the forecasts were calibrated. The panel under each diagram counts "
        f"the forecasts.{logit}</p>"
    )


def _plain_estimator(decomposition):
    """The decomposition's recalibration in plain words."""
    how = (
        "a non-decreasing step fit (isotonic regression)"
        if decomposition.strategy == "isotonic"
        else "averaging the outcomes within bins"
    )
    technical = decomposition.estimator
    if decomposition.exact:
        return f"the forecasts recalibrated by {how}; exact"
    if "class-wise" in technical:
        what = (
            f"each class's probability recalibrated against the rest by {how}, "
            "each row then rescaled to sum to 1"
        )
    else:
        what = (
            f"the most probable class's probability recalibrated by {how}, "
            "separately for each predicted class"
        )
    return f"{what}; an estimate, as for any forecast of more than two classes"


def _decomposition_note_html(evaluations):
    d = evaluations[0].decomposition
    technical = html.escape(d.estimator)
    return (
        '<div class="note"><p>Each forecast\'s log-loss in three parts: start '
        "from UNC, the log-loss of always forecasting the class frequencies; "
        "take away DSC, what the forecasts gain over that once recalibrated; "
        "add MCB, what recalibrating them would still gain. The terms are in "
        "the scores table above.</p>"
        f'<p>Recalibration: <span title="{technical}">'
        f"{html.escape(_plain_estimator(d))}</span>"
        '<sup><a href="#fn-estimator">2</a></sup>. Fitted on the same rows '
        "it scores, it makes MCB and DSC look better than they are on small "
        "samples.</p></div>"
    )


def _footnotes_html(evaluations):
    technical = html.escape(evaluations[0].decomposition.estimator)
    return (
        '<footer class="note"><ol>'
        '<li id="fn-corp">CORP reliability diagram (consistent, optimally '
        "binned, reproducible and PAV-based): the pool-adjacent-violators (PAV) "
        "isotonic regression of the outcomes on the forecasts. Dimitriadis, "
        "Gneiting &amp; Jordan "
        "(2021), Stable reliability diagrams for probabilistic classifiers, "
        "PNAS 118(8), doi:10.1073/pnas.2016191118.</li>"
        f'<li id="fn-estimator">Decomposition estimator: {technical}.</li>'
        "</ol></footer>"
    )


def _img(png, alt):
    data = base64.b64encode(png).decode("ascii")
    return (
        f'<p class="image"><img src="data:image/png;base64,{data}" '
        f'alt="{html.escape(alt)}"></p>'
    )


def _fmt(value):
    return f"{value:.4f}" if math.isfinite(value) else str(value)


# --- calibration by group ----------------------------------------------------------

#: Most groups drawn as small multiples in the report.
MAX_GROUP_PANELS = 12

#: Most groups listed in a printed or HTML group table (the JSON has all).
MAX_GROUP_ROWS = 50

#: Columns of the group tables as printed: (column of calibration_by_group,
#: heading).
GROUP_COLUMNS = (
    ("count", "n"),
    ("weight", "weight"),
    ("bias", "bias"),
    ("bias_se", "SE"),
    ("p_value", "p-value"),
    ("ece", "ECE"),
    ("log_loss", "log-loss"),
    ("brier_score", "Brier"),
    ("miscalibration", "MCB"),
    ("smooth_ece", "smooth ECE"),
)


@dataclass(frozen=True)
class GroupEvaluation:
    """Calibration by group of each forecast of a report.

    Attributes
    ----------
    column : str
        Name of the grouping (the column of the input file).
    groups : dict
        Forecast name -> ndarray of shape (n_samples,), the group of each of
        its rows (forecasts of a long-format file have rows of their own).
    tables : dict
        Forecast name -> the DataFrame of
        :func:`calibkit.metrics.calibration_by_group`.
    """

    column: str
    groups: dict = field(repr=False)
    tables: dict


def evaluate_groups(evaluations, groups, *, column="group"):
    """:func:`calibkit.metrics.calibration_by_group` of every evaluation.

    Each forecast's rows are weighted by its own ``sample_weight`` and its
    groups' ECE uses its own ``n_bins``.

    Parameters
    ----------
    evaluations : list of ForecastEvaluation
        Forecasts with distinct names.
    groups : array-like of shape (n_samples,), or list of them
        The group of each row: one array for forecasts of the same rows, or
        one array per evaluation (in their order) when their rows differ.
    column : str, default="group"
        Name of the grouping, for titles.

    Returns
    -------
    GroupEvaluation
    """
    from calibkit.metrics import calibration_by_group

    names = [e.name for e in evaluations]
    if len(set(names)) != len(names):
        msg = f"the forecasts need distinct names to be grouped; got {names}."
        raise ValueError(msg)
    if isinstance(groups, (list, tuple)) and len(groups) == len(evaluations):
        per_forecast = [np.asarray(g) for g in groups]
    else:
        per_forecast = [np.asarray(groups)] * len(evaluations)
    tables = {
        e.name: calibration_by_group(
            e.y_true,
            e.y_prob,
            groups=g,
            sample_weight=e.sample_weight,
            labels=e.labels,
            n_bins=e.n_bins,
        )
        for e, g in zip(evaluations, per_forecast, strict=True)
    }
    return GroupEvaluation(
        column=str(column),
        groups=dict(zip(names, per_forecast, strict=True)),
        tables=tables,
    )


def _group_headings(table):
    return [(key, heading) for key, heading in GROUP_COLUMNS if key in table.columns]


def _worst_sentence(table):
    """The worst group in words, or None when no group qualifies."""
    worst = table[table["worst"]]
    if worst.empty:
        return None
    row = worst.iloc[0]
    if table.attrs.get("worst_by", "bias") == "bias":
        how = "largest |bias| / SE"
    else:
        how = "largest miscalibration (MCB)"
    return (
        f"worst group ({how}): {format_label(row['group'])}, bias "
        f"{row['bias']:+.4f} ± {row['bias_se']:.4f} (SE), p = {row['p_value']:.3g}"
    )


def format_group_tables(group_evaluation, *, digits=4):
    """The group tables as aligned text, each with its worst group.

    Parameters
    ----------
    group_evaluation : GroupEvaluation
    digits : int, default=4
        Decimals shown (p-values to 3 significant digits).

    Returns
    -------
    str
    """
    blocks = []
    for name, table in group_evaluation.tables.items():
        headings = _group_headings(table)
        rows = _shown_groups(table, MAX_GROUP_ROWS)
        shown = rows[[key for key, _ in headings]].copy()
        shown.columns = [heading for _, heading in headings]
        shown.index = [format_label(g) for g in rows["group"]]
        formats = {
            heading: (lambda v: f"{v:.3g}")
            if key == "p_value"
            else (lambda v: f"{v:.{digits}f}")
            for key, heading in headings
            if key not in ("count",)
        }
        text = shown.to_string(formatters=formats)
        head = f"calibration by {group_evaluation.column} ({name}):"
        lines = [head, text]
        if len(rows) < len(table):
            lines.append(_omitted_groups(len(rows), len(table)))
        worst = _worst_sentence(table)
        blocks.append("\n".join(lines + ([worst] if worst else [])))
    legend = (
        "bias = weighted mean of (outcome - forecast), positive when the "
        "forecasts are too low;\nSE its standard error, p-value of the two-sided "
        "t-test of bias = 0; MCB: CORP miscalibration of the log-loss (nats)"
    )
    return "\n\n".join([*blocks, legend])


def groups_figure(evaluations, group_evaluation, *, n_resamples=300):
    """Reliability diagrams of each group (small multiples), one row per forecast.

    Parameters
    ----------
    evaluations : list of ForecastEvaluation
    group_evaluation : GroupEvaluation
    n_resamples : int, default=300
        Resamples behind the 90% consistency bands (seeded).

    Returns
    -------
    matplotlib.figure.Figure
        Not registered with pyplot. At most :data:`MAX_GROUP_PANELS` groups
        are drawn per forecast: those with the most weight and the worst
        group, in the tables' order.
    """
    from matplotlib.figure import Figure

    from calibkit.plotting import ReliabilityDisplay
    from calibkit.plotting._reliability import _add_diagram_axes

    shown = min(_n_groups(group_evaluation), MAX_GROUP_PANELS)
    ncols = min(shown, 4)
    nrows = math.ceil(shown / ncols)
    n = len(evaluations)
    width = max(_PANEL_WIDTH * ncols, 3.6)
    height = (_PANEL_HEIGHT * nrows + 0.5) * n + 0.5
    figure = Figure(figsize=(width, height), layout="constrained")
    sections = figure.subfigures(n, 1, squeeze=False)[:, 0]
    for section, evaluation in zip(sections, evaluations, strict=True):
        section.suptitle(evaluation.name, fontsize="medium", fontweight="bold")
        table = group_evaluation.tables[evaluation.name]
        names = list(_shown_groups(table, MAX_GROUP_PANELS)["group"])
        groups = group_evaluation.groups[evaluation.name]
        keep = np.isin(groups, np.asarray(names, dtype=object))
        w = evaluation.sample_weight
        cells = section.subfigures(nrows, ncols, squeeze=False).ravel()
        axes = [_add_diagram_axes(cell, hist=True)[0] for cell in cells[: len(names)]]
        ReliabilityDisplay.from_predictions_by_group(
            np.asarray(evaluation.y_true)[keep],
            np.asarray(evaluation.y_prob)[keep],
            groups=groups[keep],
            sample_weight=None if w is None else w[keep],
            labels=evaluation.labels,
            strategy="isotonic",
            bands=0.9,
            n_resamples=n_resamples,
            random_state=0,
            name="CORP reliability curve",
            axes=axes,
        )
        for ax in axes:
            ax.title.set_fontsize("small")
    return figure


def _n_groups(group_evaluation):
    """The largest number of groups of a forecast."""
    return max(len(table) for table in group_evaluation.tables.values())


def _shown_groups(table, limit):
    """The rows of a group table that fit ``limit`` (in a table or a figure):
    all of them, or the heaviest groups and the worst one, in the table's
    order."""
    if len(table) <= limit:
        return table
    order = np.argsort(-table["weight"].to_numpy(), kind="stable")
    chosen = order[:limit]
    worst = np.flatnonzero(table["worst"].to_numpy())
    if worst.size and worst[0] not in chosen:
        chosen[-1] = worst[0]
    return table.iloc[np.sort(chosen)]


def _group_tables_html(group_evaluation):
    parts = []
    for name, table in group_evaluation.tables.items():
        headings = _group_headings(table)
        head = "".join(f"<th>{html.escape(h)}</th>" for _, h in headings)
        rows = []
        shown = _shown_groups(table, MAX_GROUP_ROWS)
        for _, row in shown.iterrows():
            css = ' class="best"' if row["worst"] else ""
            cells = "".join(
                f"<td>{int(row[key])}</td>"
                if key == "count"
                else f"<td>{row[key]:.3g}</td>"
                if key == "p_value"
                else f"<td>{_fmt(float(row[key]))}</td>"
                for key, _ in headings
            )
            label = html.escape(format_label(row["group"]))
            rows.append(f"<tr{css}><td>{label}</td>{cells}</tr>")
        worst = _worst_sentence(table)
        caption = html.escape(name) + (f" — {html.escape(worst)}" if worst else "")
        parts.append(
            f'<table class="groups"><caption>{caption}</caption><thead><tr>'
            f"<th>{html.escape(group_evaluation.column)}</th>{head}</tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>"
        )
        if len(shown) < len(table):
            omitted = html.escape(_omitted_groups(len(shown), len(table)))
            parts.append(f'<p class="note">{omitted}</p>')
    return "\n".join(parts)


def _omitted_groups(n_shown, n_groups):
    return (
        f"{n_shown} of {n_groups} groups listed: those with the most weight, and "
        "the worst group (calibkit evaluate --json writes them all)."
    )


def _groups_note_html(group_evaluation):
    return (
        '<p class="note">Calibration within each group of the column '
        f"{html.escape(repr(group_evaluation.column))}. bias: the weighted mean "
        "of outcome minus forecast (positive: the forecasts are too low in that "
        "group); SE: its standard error; p-value: two-sided t-test of bias = 0. "
        "ECE, log-loss, Brier and MCB are those of the group's rows alone. The "
        "worst group (in bold) has the largest |bias| / SE; with many groups "
        "some small p-values come by chance.</p>"
    )


def group_tables_json(group_evaluation):
    """The group tables as JSON-ready values (``inf`` and NaN as strings).

    Parameters
    ----------
    group_evaluation : GroupEvaluation

    Returns
    -------
    dict
        ``{"column": ..., "forecasts": {name: [one dict per row]}}``.
    """

    def plain(value):
        value = value.item() if isinstance(value, np.generic) else value
        return _json_number(value)

    return {
        "column": group_evaluation.column,
        "worst_by": next(iter(group_evaluation.tables.values())).attrs["worst_by"],
        "forecasts": {
            name: [
                {k: plain(v) for k, v in row.items()}
                for row in table.to_dict(orient="records")
            ]
            for name, table in group_evaluation.tables.items()
        },
    }

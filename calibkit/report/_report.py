"""Implementation of :mod:`calibkit.report`."""

import base64
import dataclasses
import html
import io
import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone

import numpy as np

from calibkit._results import Result
from calibkit._validation import count, format_label, to_numpy, validate_params
from calibkit._version import __version__
from calibkit.metrics._decomposition import _decompose
from calibkit.metrics._inputs import (
    FORECAST_CONSTRAINTS,
    as_probabilities,
    check_forecasts,
)
from calibkit.metrics._reliability import N_BINS, _expected_calibration_error
from calibkit.metrics._scores import _brier_score, _log_loss

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
)

_NO_MATPLOTLIB = (
    "matplotlib is not installed, so this report has tables only; install it "
    "with pip install 'calibkit[plot]' to get the reliability diagrams."
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
        }


@validate_params(
    {
        **{k: v for k, v in FORECAST_CONSTRAINTS.items() if k != "pos_label"},
        "name": "no_validation",  # any object; shown as str(name)
        "n_bins": [count()],
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
    fc = as_probabilities(fc, input)
    if not fc.is_binary and fc.n_classes == 2:
        fc = dataclasses.replace(fc, prob=fc.prob[:, 1])
    if labels is None:
        labels = fc.classes  # the sorted labels of y_true, found by the check
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
    text = table.rename_axis(None).to_string(float_format=lambda v: f"{v:.{digits}f}")
    first = evaluations[0]
    brier = "binary (p - y)^2" if first.n_classes == 2 else "summed over classes"
    legend = (
        "log-loss, MCB, DSC, UNC in nats; log-loss = MCB - DSC + UNC\n"
        f"Brier {brier}; ECE top-label, {first.n_bins} bins\n"
        f"decomposition: {first.decomposition.estimator}"
    )
    return f"{text}\n\n{legend}"


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


def reliability_figure(evaluations, *, ncols=2, n_resamples=300):
    """One reliability diagram (CORP curve, band and histogram) per forecast.

    Parameters
    ----------
    evaluations : list of ForecastEvaluation
    ncols : int, default=2
        Diagrams per row.
    n_resamples : int, default=300
        Resamples behind the 90% consistency bands (seeded, so the figure is
        reproducible).

    Returns
    -------
    matplotlib.figure.Figure
        A figure not registered with pyplot (no GUI, no global state).
    """
    from matplotlib.figure import Figure

    from calibkit.plotting import ReliabilityDisplay

    n = len(evaluations)
    ncols = min(ncols, n)
    nrows = math.ceil(n / ncols)
    # Near-square panels from the figure size: a fixed aspect would fight the
    # constrained layout (and clip the titles).
    figure = Figure(figsize=(4.3 * ncols, 4.6 * nrows + 0.6), layout="constrained")
    axes = figure.subplots(nrows, ncols, squeeze=False)
    for k, (ax, evaluation) in enumerate(zip(axes.ravel(), evaluations, strict=False)):
        ReliabilityDisplay.from_predictions(
            evaluation.y_true,
            evaluation.y_prob,
            labels=evaluation.labels,
            strategy="isotonic",
            bands=0.9,
            n_resamples=n_resamples,
            random_state=0,
            name="CORP reliability curve",
            ax=ax,
        )
        ax.get_legend().remove()
        ax.set_title(
            f"{evaluation.name}\nlog-loss {evaluation.log_loss:.3f}, "
            f"ECE {evaluation.ece:.3f}",
            fontsize="medium",
        )
        row, col = divmod(k, ncols)
        ax.set_xlabel(_x_label(evaluation) if row == nrows - 1 else "")
        ax.set_ylabel(_y_label(evaluation) if col == 0 else "")
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    handles.append(_histogram_handle(axes[0, 0]))
    labels.append("histogram of the forecasts")
    figure.legend(handles, labels, loc="outside lower center", ncols=2)
    return figure


def _x_label(evaluation):
    if evaluation.n_classes == 2:
        return f"Probability of class {format_label(evaluation.labels[-1])}"
    return "Confidence (top-label probability)"


def _y_label(evaluation):
    return "Observed frequency" if evaluation.n_classes == 2 else "Observed accuracy"


def _histogram_handle(ax):
    from matplotlib.colors import to_rgba
    from matplotlib.patches import Patch

    color = ax.get_lines()[0].get_color()
    return Patch(facecolor=to_rgba(color, 0.15), edgecolor=color)


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

    figure = Figure(figsize=(7.0, 1.6 + 0.9 * len(evaluations)), layout="constrained")
    ax = figure.subplots()
    DecompositionDisplay.from_decompositions(
        {e.name: e.decomposition for e in evaluations}, ax=ax
    )
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
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 72em;
       padding: 0 1em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: 0.8em 0; }
th, td { padding: 0.3em 0.8em; border-bottom: 1px solid #ddd; text-align: right; }
th:first-child, td:first-child { text-align: left; }
thead th { border-bottom: 2px solid #888; }
td.best { font-weight: bold; }
.note { color: #555; font-size: 0.92em; max-width: 60em; }
.warning { background: #fff4e0; border-left: 4px solid #e0a030; padding: 0.5em 1em; }
img { max-width: 100%; height: auto; }
"""

_EXPLANATIONS = (
    ("log-loss", "mean of -ln p(observed class), in nats; lower is better."),
    ("Brier", "mean squared error of the probabilities; lower is better."),
    ("ECE", "expected calibration error: mean |accuracy - confidence| over bins."),
    ("MCB", "miscalibration: how much recalibrating the forecast would gain."),
    ("DSC", "discrimination: how much the recalibrated forecast beats the base rate."),
    ("UNC", "uncertainty: the log-loss of always forecasting the base rate."),
)


def render_html(
    evaluations, *, title="Calibration report", description=None, images=None
):
    """A self-contained HTML page with the scores and diagrams.

    Parameters
    ----------
    evaluations : list of ForecastEvaluation
        One per forecast, same labels.
    title : str, default="Calibration report"
    description : str or None, default=None
        A paragraph about the data (plain text, escaped).
    images : dict or None, default=None
        PNG bytes already drawn, under the keys ``"reliability"`` and
        ``"decomposition"`` (e.g. also saved as files); drawn when missing.

    Returns
    -------
    str
        HTML5 with inline CSS and images as ``data:image/png;base64`` URIs; no
        scripts are run and nothing is fetched from the network. The scores
        are also embedded as JSON in ``<script type="application/json"
        id="calibkit-metrics">``.
    """
    esc = html.escape
    first = evaluations[0]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
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
    parts += ["<h2>Scores</h2>", _metrics_html(evaluations), _legend_html(first)]
    parts.append("<h2>Reliability diagrams</h2>")
    if matplotlib_available():
        parts.append(
            '<p class="note">CORP reliability diagrams (Dimitriadis, Gneiting '
            "&amp; Jordan 2021): the isotonic recalibration of the observed "
            "outcomes on the "
            + (
                "probability of the positive class"
                if first.n_classes == 2
                else "confidence (top-label)"
            )
            + "; a calibrated forecast follows the diagonal. The histogram "
            "shows where the forecasts lie.</p>"
        )
        images = dict(images or {})
        if "reliability" not in images:
            images["reliability"] = reliability_png(evaluations)
        if "decomposition" not in images:
            images["decomposition"] = figure_png(decomposition_figure(evaluations))
        parts.append(_img(images["reliability"], "Reliability diagrams"))
        parts.append("<h2>Log-loss decomposition</h2>")
        parts.append(_img(images["decomposition"], "Log-loss decomposition"))
    else:
        parts.append(f'<p class="warning">{esc(_NO_MATPLOTLIB)}</p>')
        parts.append("<h2>Log-loss decomposition</h2>")
    parts.append(_decomposition_html(evaluations))
    metrics_json = to_json(evaluations).replace("</", "<\\/")
    parts.append(
        f'<script type="application/json" id="calibkit-metrics">{metrics_json}</script>'
    )
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_report(
    path, evaluations, *, title="Calibration report", description=None, images=None
):
    """Write :func:`render_html` to ``path`` (atomically).

    Parameters
    ----------
    path : str or os.PathLike
    evaluations : list of ForecastEvaluation
    title : str, default="Calibration report"
    description : str or None, default=None
    images : dict or None, default=None
        See :func:`render_html`.

    Returns
    -------
    pathlib.Path
        The written file.
    """
    from pathlib import Path

    from calibkit.io import atomic_output

    text = render_html(evaluations, title=title, description=description, images=images)
    with atomic_output(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def _metrics_html(evaluations):
    table = metrics_table(evaluations)
    head = "".join(f"<th>{html.escape(h)}</th>" for h in table.columns)
    # Bold the best value of each score (the decomposition terms are not
    # better or worse on their own).
    best = {
        col: table[col].min() for col in ("log-loss", "Brier", "ECE") if len(table) > 1
    }
    rows = []
    for name, row in table.iterrows():
        cells = []
        for col, value in row.items():
            css = ' class="best"' if best.get(col) == value else ""
            cells.append(f"<td{css}>{_fmt(value)}</td>")
        rows.append(f"<tr><td>{html.escape(str(name))}</td>{''.join(cells)}</tr>")
    return (
        f'<table id="metrics"><thead><tr><th>forecast</th>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _legend_html(first):
    items = "".join(
        f"<li><b>{html.escape(k)}</b>: {html.escape(v)}</li>" for k, v in _EXPLANATIONS
    )
    brier = (
        "binary convention, (p - y)² of the positive class"
        if first.n_classes == 2
        else "summed over the classes"
    )
    return (
        f'<ul class="note">{items}</ul><p class="note">log-loss = MCB - DSC + UNC. '
        f"Brier: {brier}. ECE: top-label, {first.n_bins} equal-width bins.</p>"
    )


def _decomposition_html(evaluations):
    rows = []
    for e in evaluations:
        d = e.decomposition
        cells = (
            d.score,
            d.miscalibration,
            d.discrimination,
            d.uncertainty,
            d.refinement,
        )
        rows.append(
            f"<tr><td>{html.escape(e.name)}</td>"
            + "".join(f"<td>{_fmt(v)}</td>" for v in cells)
            + "</tr>"
        )
    estimator = html.escape(evaluations[0].decomposition.estimator)
    return (
        '<table id="decomposition"><thead><tr><th>forecast</th><th>log-loss</th>'
        "<th>MCB</th><th>DSC</th><th>UNC</th><th>refinement</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
        f'<p class="note">Recalibration: {estimator}. In-sample recalibration '
        "makes MCB and DSC optimistic on small samples.</p>"
    )


def _img(png, alt):
    data = base64.b64encode(png).decode("ascii")
    return f'<p><img src="data:image/png;base64,{data}" alt="{html.escape(alt)}"></p>'


def _fmt(value):
    return f"{value:.4f}" if math.isfinite(value) else str(value)

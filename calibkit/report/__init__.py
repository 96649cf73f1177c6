"""Evaluate forecasts and write a self-contained HTML report.

:func:`evaluate_forecasts` computes, for one set of probabilistic forecasts,
the log-loss, the Brier score, the expected calibration error and the CORP
decomposition of the log-loss; :func:`render_html` and :func:`write_report`
turn them into one HTML file with the reliability diagrams and the
decomposition embedded as PNG images (``data:`` URIs), so the report opens in
a browser without network access.

matplotlib is optional: without it the report holds the tables only and says
so. Nothing here computes a metric itself; the numbers come from
:mod:`calibkit.metrics` and the pictures from :mod:`calibkit.plotting`.
"""

from calibkit._deprecation import moved_module
from calibkit._lazy import lazy_names

__all__ = ["ForecastEvaluation", "evaluate_forecasts", "render_html", "write_report"]

# Imported on first use, one line per name: where it lives. ``metrics_table``
# and ``reliability_png`` were public in 0.1 (the command line's building
# blocks, now private): they still resolve, with a FutureWarning.
__getattr__, __dir__ = lazy_names(
    __name__,
    {
        "ForecastEvaluation": "calibkit.report._report",
        "evaluate_forecasts": "calibkit.report._report",
        "render_html": "calibkit.report._report",
        "write_report": "calibkit.report._report",
    },
    fallback=moved_module(
        "calibkit.report", "calibkit.report", "calibkit.report._report"
    ),
)

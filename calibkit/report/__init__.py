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
from calibkit.report._report import (
    ForecastEvaluation,
    evaluate_forecasts,
    render_html,
    write_report,
)

__all__ = ["ForecastEvaluation", "evaluate_forecasts", "render_html", "write_report"]

# ``metrics_table`` and ``reliability_png`` were public in 0.1: the command
# line's building blocks, now private.
__getattr__ = moved_module(
    "calibkit.report", "calibkit.report", "calibkit.report._report"
)

"""Tests of calibkit.report.evaluate_forecasts (the scores behind the report)."""

import base64
import re
import struct
from html.parser import HTMLParser

import numpy as np
import pytest
from scipy.special import softmax

from calibkit import report
from calibkit.report import _report


def test_object_array_forecasts_are_kept_as_floats():
    # Regression: an object array was kept as it came, so the evaluation's
    # y_prob (used for the diagrams) held Python objects.
    y = np.array([0, 1, 1, 0])
    P = np.array([[0.75, 0.25], [0.5, 0.5], [0.125, 0.875], [1.0, 0.0]])
    ev = report.evaluate_forecasts(y, P.astype(object))
    assert ev.y_prob.dtype == np.float64
    np.testing.assert_array_equal(ev.y_prob, P[:, 1])
    expected = -np.mean(np.log([0.75, 0.5, 0.875, 1.0]))
    assert ev.log_loss == pytest.approx(expected, rel=1e-15)
    assert ev.brier_score == pytest.approx(np.mean((P[:, 1] - y) ** 2), rel=1e-15)


def test_logits_spanning_the_float_range():
    # Rows whose logits span more than 1.8e308 (regression: numpy overflow
    # warnings from the log-loss).
    y = np.array([0, 1, 2, 1])
    Z = np.array(
        [
            [1e308, -1e308, 0.0],
            [0.0, 2.0, -1e308],
            [1.0, 2.0, 3.0],
            [-5.0, 1e308, -1e308],
        ]
    )
    ev = report.evaluate_forecasts(y, Z, input="logits")
    P = np.array([softmax(np.clip(z, -1e300, 1e300)) for z in Z])
    np.testing.assert_allclose(ev.y_prob, P, rtol=1e-15, atol=0)
    observed = P[np.arange(4), y]
    assert ev.log_loss == pytest.approx(-np.mean(np.log(observed)), rel=1e-14)
    one_hot = np.eye(3)[y]
    expected_brier = np.mean(np.sum((P - one_hot) ** 2, axis=1))
    assert ev.brier_score == pytest.approx(expected_brier, rel=1e-14)
    assert np.isfinite(ev.decomposition.miscalibration)


# --- the HTML report and its figures ----------------------------------------------


def _evaluations(n=400, sharpness=1.0, seed=0):
    """Uncalibrated and tempered 3-class forecasts of the same labels."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=3.0, size=(n, 3))
    y = np.array([rng.choice(3, p=softmax(z / 2)) for z in logits])
    return [
        report.evaluate_forecasts(y, logits * sharpness, name="raw", input="logits"),
        report.evaluate_forecasts(
            y, logits * sharpness / 2, name="tempered", input="logits"
        ),
    ]


def _all_axes(figure):
    """Every axes, those of subfigures included, in the order they were made."""
    return list(figure.axes)


class _Page(HTMLParser):
    """Tables' headings, visible text, and title= attributes of a page."""

    def __init__(self):
        super().__init__()
        self.tables, self.titles, self.text = [], {}, []
        self._skip = 0
        self._open = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self.tables.append([])
        if tag in ("script", "style", "footer"):
            self._skip += 1
        self._open.append((tag, attrs.get("title")))

    def handle_endtag(self, tag):
        if tag in ("script", "style", "footer"):
            self._skip -= 1
        while self._open and self._open.pop()[0] != tag:
            pass

    def handle_data(self, data):
        tags = [t for t, _ in self._open]
        title = next((t for _, t in reversed(self._open) if t), None)
        if title:
            self.titles.setdefault(title, "")
            self.titles[title] += data
        if "th" in tags and self.tables:
            self.tables[-1].append(data.strip())
        if not self._skip:
            self.text.append(data)


def _parse(page):
    parser = _Page()
    parser.feed(page)
    parser.text = " ".join(" ".join(parser.text).split())
    return parser


def _png_width(png):
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">I", png[16:20])[0]


def test_report_has_one_table_and_plain_words():
    pytest.importorskip("matplotlib")
    evaluations = _evaluations()
    page = _parse(report.render_html(evaluations))
    # One table of scores: no second table repeating its columns.
    assert len(page.tables) == 1
    headings = page.tables[0]
    assert len(headings) == len(set(headings))
    assert headings == [
        "forecast",
        "log-loss",
        "Brier",
        "ECE",
        "MCB",
        "DSC",
        "UNC",
        "smooth ECE",
        "ECCE-R p",
    ]
    assert "refinement" not in page.text
    # The estimator's technical name is a tooltip (and a footnote), not text.
    technical = evaluations[0].decomposition.estimator
    assert "PAV per class" in technical
    assert "PAV" not in page.text
    assert "one-vs-rest" not in page.text
    assert technical in page.titles
    assert "each row then rescaled to sum to 1" in page.titles[technical]
    # Every column heading explains itself in a tooltip.
    for heading in headings[1:]:
        assert any(text == heading for text in page.titles.values()), heading


def test_report_uses_the_width_of_the_window():
    pytest.importorskip("matplotlib")
    evaluations = _evaluations() * 2  # four forecasts, as in the demo
    page = report.render_html(evaluations)
    max_width = re.search(r"body \{[^}]*max-width: (\d+)px", page)
    assert max_width is not None
    assert int(max_width.group(1)) >= 1200
    images = [
        base64.b64decode(data)
        for data in re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    ]
    assert len(images) == 3  # reliability, decomposition, cumulative differences
    # Four diagrams side by side, filling about a 1280 px window.
    assert 1100 <= _png_width(images[0]) <= 1280


def test_cumulative_figure_one_curve_per_forecast():
    pytest.importorskip("matplotlib")
    evaluations = _evaluations()
    (ax,) = _report.cumulative_figure(evaluations).axes
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    for evaluation in evaluations:
        (label,) = [x for x in labels if x.startswith(f"{evaluation.name}: ECCE-R")]
        assert f"p = {evaluation.ecce_r_pvalue:.2g}" in label
    assert "95% significance bands" in labels


def test_cumulative_figure_uses_the_sample_weights():
    # Regression: the figure dropped the weights, so its curve and p-value
    # disagreed with the table's weighted ECCE-R p.
    pytest.importorskip("matplotlib")
    from calibkit.metrics import cumulative_calibration

    rng = np.random.default_rng(3)
    p = rng.uniform(0.05, 0.95, size=300)
    y = (rng.uniform(size=300) < p**1.3).astype(int)
    w = rng.choice([0.2, 5.0], size=300)
    evaluation = report.evaluate_forecasts(y, p, sample_weight=w, name="m")
    expected = cumulative_calibration(y, p, sample_weight=w)
    (ax,) = _report.cumulative_figure([evaluation]).axes
    line = next(x for x in ax.get_lines() if x.get_label().startswith("m:"))
    np.testing.assert_allclose(
        line.get_ydata()[1:], expected.cumulative_difference, rtol=1e-12
    )
    assert f"p = {expected.ecce_r_pvalue:.2g}" in line.get_label()


def test_reliability_figure_has_histogram_panels_with_counts():
    pytest.importorskip("matplotlib")
    evaluations = _evaluations(sharpness=0.3)  # spread out: not crowded
    assert not _report.crowded_forecasts(evaluations)
    figure = _report.reliability_figure(evaluations, n_resamples=20)
    axes = _all_axes(figure)
    mains = [ax for ax in axes if ax.get_title()]
    assert [ax.get_title().split("\n")[0] for ax in mains] == ["raw", "tempered"]
    hist_axes = [ax for ax in axes if ax.get_ylabel().startswith("Count")]
    assert len(hist_axes) == 1  # labelled once per row; both are panels
    for main in mains:
        assert main.child_axes == []  # no histogram squashed into the diagram
        assert main.get_xscale() == "linear"
    panels = [ax for ax in axes if ax not in mains]
    assert len(panels) == 2
    for panel, evaluation in zip(panels, evaluations, strict=True):
        heights = panel.patches[0].get_data()[0]
        assert heights.sum() == evaluation.n_samples


def test_reliability_figure_log_counts_and_logit_row_when_crowded():
    pytest.importorskip("matplotlib")
    evaluations = _evaluations(sharpness=4.0)
    confidence = evaluations[0].y_prob.max(axis=1)
    share = np.mean(np.minimum(confidence, 1 - confidence) < 0.05)
    assert share >= 0.25
    assert _report.crowded_forecasts(evaluations)
    figure = _report.reliability_figure(evaluations, n_resamples=20)
    axes = _all_axes(figure)
    mains = [ax for ax in axes if ax.get_title()]
    assert [ax.get_xscale() for ax in mains] == ["linear"] * 2 + ["logit"] * 2
    panels = [ax for ax in axes if ax not in mains]
    assert {ax.get_yscale() for ax in panels} == {"log"}
    figure = _report.reliability_figure(evaluations, n_resamples=20, logit_scale=False)
    assert {ax.get_xscale() for ax in _all_axes(figure)} == {"linear"}


def test_decomposition_figure_has_a_title_and_ends_past_the_labels():
    pytest.importorskip("matplotlib")
    evaluations = _evaluations() * 2
    figure = _report.decomposition_figure(evaluations)
    assert figure.get_suptitle().startswith("Log-loss decomposition")
    (ax,) = figure.axes
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    renderer = canvas.get_renderer()
    longest = max(max(bar.get_x() + bar.get_width(), bar.get_x()) for bar in ax.patches)
    high = ax.get_xlim()[1]
    assert high <= longest * 1.2  # main drew 30% past the longest bar
    for text in ax.texts:
        box = text.get_window_extent(renderer)
        assert ax.bbox.x0 <= box.x0
        assert box.x1 <= ax.bbox.x1, text.get_text()


def test_intervals_of_a_certain_and_wrong_forecast_warn_once():
    # Regression: each resample holding the certain-and-wrong row warned again
    # (76 warnings for 50 resamples), with row numbers of the resample.
    from calibkit.exceptions import CalibrationWarning

    y = [0, 1, 1, 0, 1, 0]
    p = np.array([1.0, 1.0, 1.0, 0.0, 0.7, 0.2])
    with pytest.warns(CalibrationWarning) as without:
        report.evaluate_forecasts(y, p)
    with pytest.warns(CalibrationWarning) as caught:
        evaluation = report.evaluate_forecasts(y, p, ci=0.9, n_resamples=50)
    # The log-loss and the decomposition each say it once, as without ci.
    assert [str(w.message) for w in caught] == [str(w.message) for w in without]
    assert all("first at rows 0" in str(w.message) for w in caught)
    assert evaluation.log_loss == np.inf
    assert evaluation.intervals["log_loss"].high == np.inf


def test_text_says_what_the_smooth_ece_and_cumulative_test_look_at():
    # Regression: the legend called both "top-label", but for two classes they
    # are of the positive class's probability (what the metrics give for a
    # 1-D forecast), and there the two differ a lot.
    from calibkit.metrics import cumulative_calibration, smooth_ece

    rng = np.random.default_rng(0)
    p = rng.uniform(size=2000)
    y = (rng.uniform(size=2000) < p**1.3).astype(int)
    evaluation = report.evaluate_forecasts(y, p)
    assert evaluation.smooth_ece == pytest.approx(smooth_ece(y, p), rel=1e-12)
    assert evaluation.smooth_ece > 2 * smooth_ece(y, np.c_[1 - p, p])
    expected = cumulative_calibration(y, p).ecce_r_pvalue
    assert evaluation.ecce_r_pvalue == pytest.approx(expected, rel=1e-9)
    text = _report.format_table([evaluation])
    assert "smooth ECE of the probability of class 1" in text
    assert "smooth ECE top-label" not in text


def test_report_draws_at_most_twelve_forecasts(monkeypatch):
    from calibkit.report import _report

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    evaluations = [
        _report.evaluate_forecasts(
            y, np.clip(rng.uniform(0, 1, 200), 0.01, 0.99), name=f"m{i}"
        )
        for i in range(15)
    ]
    drawn = _report.drawn_forecasts(evaluations)
    losses = sorted(e.log_loss for e in evaluations[1:])
    assert len(drawn) == 12
    assert drawn[0] is evaluations[0]
    assert sorted(e.log_loss for e in drawn[1:]) == losses[:11]
    seen = []
    monkeypatch.setattr(
        _report, "reliability_png", lambda evals, **_: seen.append(len(evals)) or b""
    )
    html = _report.render_html(evaluations)
    assert seen == [12]
    assert "show 12 of the 15 forecasts" in html

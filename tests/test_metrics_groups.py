"""Calibration by subgroup (calibkit.metrics.calibration_by_group).

The bias table is checked against model-diagnostics' ``compute_bias`` (an
independent implementation of the same estimator, with the opposite sign), the
t-test against scipy's one-sample t-test, and every per-group score against
the metric of the same name on the group's rows alone.
"""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from calibkit.metrics import (
    brier_score,
    calibration_by_group,
    decompose,
    expected_calibration_error,
    log_loss,
    smooth_ece,
)

RTOL = 1e-12

# model-diagnostics 1.5 opens polars' deprecated StringCache inside compute_bias
# (a warning of the peer's, not of calibkit's).
PEER_WARNING = pytest.mark.filterwarnings(
    "ignore:the string cache has been replaced:DeprecationWarning"
)


def _binary(n=400, seed=0, n_groups=4):
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.02, 0.98, size=n)
    groups = rng.choice([f"g{k}" for k in range(n_groups)], size=n)
    # Group g1 is under-forecast: its outcomes come from a higher probability.
    truth = np.where(groups == "g1", np.minimum(p + 0.25, 1.0), p)
    y = (rng.uniform(size=n) < truth).astype(np.int64)
    return y, p, groups, rng


def _multiclass(n=300, seed=1, n_classes=3):
    rng = np.random.default_rng(seed)
    prob = rng.dirichlet(np.ones(n_classes), size=n)
    drawn = (rng.uniform(size=(n, 1)) > prob.cumsum(axis=1)).sum(axis=1)
    y = np.minimum(drawn, n_classes - 1)
    groups = rng.choice(["x", "y", "z"], size=n)
    return y, prob, groups, rng


# --- the bias table against model-diagnostics -----------------------------------


@PEER_WARNING
@pytest.mark.parametrize("weighted", [False, True])
def test_bias_table_matches_model_diagnostics_compute_bias(weighted):
    """Unit weights: the whole table. Other weights: the weighted mean only
    (model-diagnostics takes weights as precisions, n - 1 degrees of freedom;
    calibkit as counts or as sampling weights, tested below)."""
    md = pytest.importorskip("model_diagnostics.calibration")
    y, p, groups, rng = _binary()
    w = rng.uniform(0.1, 5.0, size=y.shape[0]) if weighted else None
    ours = calibration_by_group(y, p, groups=groups, sample_weight=w)
    theirs = md.compute_bias(
        y.astype(np.float64), p, feature=groups, weights=w
    ).to_pandas()
    assert ours["group"].tolist() == theirs["feature"].tolist()
    np.testing.assert_array_equal(ours["count"], theirs["bias_count"])
    np.testing.assert_allclose(ours["weight"], theirs["bias_weights"], rtol=RTOL)
    # model-diagnostics' generalised bias is p - y (the identification function).
    np.testing.assert_allclose(ours["bias"], -theirs["bias_mean"], rtol=RTOL)
    if not weighted:
        np.testing.assert_allclose(ours["bias_se"], theirs["bias_stderr"], rtol=RTOL)
        np.testing.assert_allclose(ours["p_value"], theirs["p_value"], rtol=1e-10)


@PEER_WARNING
def test_bias_of_top_label_matches_model_diagnostics_on_the_confidence():
    md = pytest.importorskip("model_diagnostics.calibration")
    y, prob, groups, _rng = _multiclass()
    ours = calibration_by_group(y, prob, groups=groups)
    correct = (prob.argmax(axis=1) == y).astype(np.float64)
    theirs = md.compute_bias(correct, prob.max(axis=1), feature=groups).to_pandas()
    np.testing.assert_allclose(ours["bias"], -theirs["bias_mean"], rtol=RTOL)
    np.testing.assert_allclose(ours["bias_se"], theirs["bias_stderr"], rtol=RTOL)
    np.testing.assert_allclose(ours["p_value"], theirs["p_value"], rtol=1e-10)


def test_unweighted_t_test_is_scipys_one_sample_t_test():
    y, p, groups, _ = _binary(n=200, seed=3)
    table = calibration_by_group(y, p, groups=groups)
    for _, row in table.iterrows():
        d = (y - p)[groups == row["group"]]
        result = stats.ttest_1samp(d, 0.0)
        np.testing.assert_allclose(row["bias"], d.mean(), rtol=RTOL)
        np.testing.assert_allclose(row["t"], result.statistic, rtol=1e-11)
        np.testing.assert_allclose(row["p_value"], result.pvalue, rtol=1e-10)
        np.testing.assert_allclose(
            row["bias_se"], stats.sem(d), rtol=RTOL
        )  # sqrt(s^2 / n) with Bessel's s^2
        assert row["df"] == d.shape[0] - 1


def test_zero_weight_rows_are_left_out_of_the_count():
    """model-diagnostics counts zero-weight rows in n; calibkit drops them
    (as every calibkit metric does), so the check is by hand."""
    y, p, groups, rng = _binary(n=120, seed=4, n_groups=2)
    w = rng.uniform(0.5, 2.0, size=y.shape[0])
    w[::5] = 0.0
    table = calibration_by_group(y, p, groups=groups, sample_weight=w)
    dropped = calibration_by_group(
        y[w > 0], p[w > 0], groups=groups[w > 0], sample_weight=w[w > 0]
    )
    pd.testing.assert_frame_equal(table, dropped)
    for _, row in table.iterrows():
        keep = (groups == row["group"]) & (w > 0)
        assert row["count"] == keep.sum()


def test_integer_weights_give_repeated_rows():
    """The default ``weight_type="frequency"``: a weight counts rows, so the
    whole table, standard error and t-test included, is that of the repeated
    rows (df = total weight - 1)."""
    y, p, groups, rng = _binary(n=150, seed=5, n_groups=3)
    w = rng.integers(1, 4, size=y.shape[0])
    weighted = calibration_by_group(y, p, groups=groups, sample_weight=w)
    r = np.repeat(np.arange(y.shape[0]), w)
    repeated = calibration_by_group(y[r], p[r], groups=groups[r])
    for column in ("weight", "bias", "bias_se", "t", "df", "p_value", "ece"):
        np.testing.assert_allclose(weighted[column], repeated[column], rtol=1e-12)
    for column in ("log_loss", "brier_score", "miscalibration"):
        np.testing.assert_allclose(weighted[column], repeated[column], rtol=1e-12)
    for _, row in repeated.iterrows():  # and the repeated rows are scipy's t-test
        d = (y - p)[r][groups[r] == row["group"]]
        assert row["p_value"] == pytest.approx(stats.ttest_1samp(d, 0.0).pvalue)


def test_sampling_weights_give_the_ratio_estimator():
    """``weight_type="sampling"``: the linearised (ratio-estimator) standard
    error with n - 1 degrees of freedom, which depends only on weight ratios."""
    y, p, groups, rng = _binary(n=150, seed=6, n_groups=2)
    w = rng.uniform(0.1, 2.0, size=y.shape[0])
    w[::7] = 0.0
    a = calibration_by_group(
        y, p, groups=groups, sample_weight=w, weight_type="sampling"
    )
    for _, row in a.iterrows():
        keep = (groups == row["group"]) & (w > 0)
        d, v, n = (y - p)[keep], w[keep], keep.sum()
        mean = np.sum(v * d) / np.sum(v)
        se = np.sqrt(n / (n - 1) * np.sum(v**2 * (d - mean) ** 2)) / np.sum(v)
        np.testing.assert_allclose([row["bias"], row["bias_se"]], [mean, se], rtol=RTOL)
        assert row["df"] == n - 1
        t = mean / se
        assert row["p_value"] == pytest.approx(2 * stats.t.sf(abs(t), n - 1))
    for scale in (1e200, 1e-300):
        b = calibration_by_group(
            y, p, groups=groups, sample_weight=w * scale, weight_type="sampling"
        )
        for column in ("bias", "bias_se", "t", "p_value", "ece", "log_loss"):
            np.testing.assert_allclose(a[column], b[column], rtol=1e-12)


def test_huge_frequency_weights_do_not_overflow():
    y, p, groups, rng = _binary(n=150, seed=6, n_groups=2)
    w = rng.uniform(0.1, 2.0, size=y.shape[0])
    a = calibration_by_group(y, p, groups=groups, sample_weight=w)
    b = calibration_by_group(y, p, groups=groups, sample_weight=w * 1e200)
    for column in ("bias", "ece", "log_loss"):
        np.testing.assert_allclose(a[column], b[column], rtol=1e-12)
    # 1e200 times the data: SE^2 = spread / (W - 1) with W 1e200 times larger.
    total = a["weight"].to_numpy()
    shrink = np.sqrt((total - 1) / total) * 1e-100
    np.testing.assert_allclose(b["bias_se"], a["bias_se"] * shrink, rtol=1e-12)
    assert np.all(b["p_value"] < 1e-100)


def test_frequency_weights_below_one_row_have_no_standard_error():
    """A group whose frequency weights add up to one row or less has no
    degrees of freedom (its SE is NaN, like a one-row group's)."""
    y = np.array([0, 1, 1, 0, 1, 0])
    p = np.array([0.1, 0.8, 0.7, 0.4, 0.6, 0.3])
    w = np.array([0.25, 0.5, 3.0, 2.0, 1.0, 1.0])
    table = calibration_by_group(y, p, groups=list("aabbcc"), sample_weight=w)
    assert np.isnan(table.loc[0, "bias_se"])
    assert np.isnan(table.loc[0, "p_value"])
    assert table.loc[0, "df"] == -0.25
    assert not table.loc[0, "worst"]
    assert np.isfinite(table.loc[1:, "bias_se"]).all()


# --- per-group scores are the metrics of the group's rows -------------------------


@pytest.mark.parametrize("strategy", ["uniform", "quantile"])
def test_binary_group_scores_are_the_metrics_of_the_group(strategy):
    y, p, groups, rng = _binary(n=300, seed=7)
    w = rng.uniform(0.2, 3.0, size=y.shape[0])
    table = calibration_by_group(
        y, p, groups=groups, sample_weight=w, n_bins=7, strategy=strategy
    )
    for _, row in table.iterrows():
        m = groups == row["group"]
        args = (y[m], p[m])
        kw = {"sample_weight": w[m], "labels": [0, 1]}
        assert row["ece"] == pytest.approx(
            expected_calibration_error(*args, n_bins=7, strategy=strategy, **kw),
            rel=1e-12,
        )
        assert row["log_loss"] == pytest.approx(log_loss(*args, **kw), rel=1e-12)
        assert row["brier_score"] == pytest.approx(brier_score(*args, **kw), rel=1e-12)
        mcb = decompose(*args, **kw).miscalibration
        assert row["miscalibration"] == pytest.approx(mcb, rel=1e-12, abs=1e-15)
        assert row["smooth_ece"] == pytest.approx(smooth_ece(*args, **kw), rel=1e-12)


def test_multiclass_option_is_ignored_for_a_binary_forecast():
    y, p, groups, _ = _binary(n=120, seed=15)
    a = calibration_by_group(y, p, groups=groups)
    b = calibration_by_group(y, p, groups=groups, multiclass="classwise")
    pd.testing.assert_frame_equal(a, b)


def test_top_label_group_scores_are_the_metrics_of_the_group_from_logits():
    y, prob, groups, _ = _multiclass(n=240)
    logits = np.log(prob) + 3.0
    table = calibration_by_group(y, logits, groups=groups, input="logits")
    for _, row in table.iterrows():
        m = groups == row["group"]
        kw = {"labels": [0, 1, 2]}
        assert row["log_loss"] == pytest.approx(
            log_loss(y[m], logits[m], input="logits", **kw), rel=1e-12
        )
        assert row["brier_score"] == pytest.approx(
            brier_score(y[m], prob[m], **kw), rel=1e-10
        )
        assert row["ece"] == pytest.approx(
            expected_calibration_error(y[m], prob[m], **kw), rel=1e-10
        )
        mcb = decompose(y[m], prob[m], multiclass="top_label", **kw).miscalibration
        assert row["miscalibration"] == pytest.approx(mcb, rel=1e-9)
        correct = prob[m].argmax(axis=1) == y[m]
        expected = np.mean(correct - prob[m].max(axis=1))
        assert row["bias"] == pytest.approx(expected, rel=1e-10)


def test_classwise_rows_are_the_binary_results_of_each_column():
    y, prob, groups, rng = _multiclass(n=240)
    labels = np.array(["ant", "bee", "cat"])
    w = rng.uniform(0.5, 1.5, size=y.shape[0])
    table = calibration_by_group(
        labels[y], prob, groups=groups, sample_weight=w, multiclass="classwise"
    )
    assert table.shape[0] == 9
    assert table["group"].tolist() == ["x"] * 3 + ["y"] * 3 + ["z"] * 3
    assert table["class"].tolist() == labels.tolist() * 3
    numeric = [c for c in table.columns if c not in ("group", "class", "worst")]
    for k, label in enumerate(labels):
        binary = calibration_by_group(
            labels[y], prob[:, k], groups=groups, sample_weight=w, pos_label=label
        )
        mine = table[table["class"] == label].reset_index(drop=True)
        pd.testing.assert_frame_equal(mine[numeric], binary[numeric])
        ones_vs_rest = ((y == k) - prob[:, k])[groups == "x"]
        v = w[groups == "x"]
        assert mine["bias"][0] == pytest.approx(np.sum(v * ones_vs_rest) / v.sum())


# --- groups: arrays, columns and bins ---------------------------------------------


def test_groups_as_a_column_of_a_pandas_or_polars_frame():
    pl = pytest.importorskip("polars")
    y, p, groups, _ = _binary(n=100, seed=8)
    expected = calibration_by_group(y, p, groups=groups)
    frame = pd.DataFrame({"region": groups, "other": np.arange(100)})
    by_name = calibration_by_group(y, p, groups="region", X=frame)
    pd.testing.assert_frame_equal(by_name, expected)
    by_polars = calibration_by_group(y, p, groups="region", X=pl.from_pandas(frame))
    pd.testing.assert_frame_equal(by_polars, expected)
    by_series = calibration_by_group(y, p, groups=pl.Series(groups))
    pd.testing.assert_frame_equal(by_series, expected)


def test_integer_and_boolean_group_labels_keep_their_values():
    y, p, _, rng = _binary(n=80, seed=9)
    table = calibration_by_group(y, p, groups=rng.integers(3, 6, size=80))
    assert table["group"].tolist() == [3, 4, 5]
    table = calibration_by_group(y, p, groups=rng.uniform(size=80) < 0.5)
    assert table["group"].tolist() == [False, True]


def test_uniform_bins_of_a_feature_match_numpy_histogram():
    y, p, _, rng = _binary(n=500, seed=10)
    age = rng.normal(40.0, 12.0, size=500)
    table = calibration_by_group(y, p, groups=age, bins="uniform", n_groups=6)
    counts, edges = np.histogram(age, bins=6)
    np.testing.assert_array_equal(table["count"], counts[counts > 0])
    np.testing.assert_allclose(table["group_lower"], edges[:-1][counts > 0])
    np.testing.assert_allclose(table["group_upper"], edges[1:][counts > 0])
    assert table["group"].iloc[-1].endswith("]")
    assert table["group"].iloc[0].endswith(")")


def test_quantile_bins_of_a_feature_have_equal_weight():
    y, p, _, rng = _binary(n=500, seed=11)
    income = rng.lognormal(size=500)
    table = calibration_by_group(y, p, groups=income, bins="quantile", n_groups=5)
    np.testing.assert_array_equal(table["count"], [100] * 5)
    # Each bin holds the rows between its edges.
    for _, row in table.iterrows():
        inside = (income >= row["group_lower"]) & (income < row["group_upper"])
        if row["group"].endswith("]"):
            inside |= income == row["group_upper"]
        assert inside.sum() == row["count"]
    # 250 rows of weight 1 and 250 of weight 2: three bins of weight 250.
    weights = np.where(income > np.median(income), 2.0, 1.0)
    weighted = calibration_by_group(
        y, p, groups=income, bins="quantile", n_groups=3, sample_weight=weights
    )
    np.testing.assert_allclose(weighted["weight"], [250.0] * 3)
    np.testing.assert_array_equal(weighted["count"], [250, 125, 125])


# --- the worst group -------------------------------------------------------------


def test_worst_group_by_bias_is_the_miscalibrated_one():
    y, p, groups, _ = _binary(n=1000, seed=12)
    table = calibration_by_group(y, p, groups=groups)
    assert table.loc[table["worst"], "group"].tolist() == ["g1"]
    assert table.attrs["worst_by"] == "bias"
    assert table.loc[table["worst"], "p_value"].item() < 1e-6
    assert table.loc[table["worst"], "bias"].item() > 0.1


def test_worst_group_by_miscalibration():
    rng = np.random.default_rng(13)
    n = 600
    p = rng.uniform(0.05, 0.95, size=n)
    groups = np.repeat(["a", "b", "c"], n // 3)
    # Group c: calibrated on average (no bias) but over-confident.
    truth = np.where(groups == "c", 0.5 + 0.3 * (p - 0.5), p)
    y = (rng.uniform(size=n) < truth).astype(int)
    table = calibration_by_group(y, p, groups=groups, worst_by="miscalibration")
    assert table.loc[table["worst"], "group"].tolist() == ["c"]
    assert table["miscalibration"].idxmax() == 2


def test_one_row_group_has_no_standard_error_and_cannot_be_worst():
    y = np.array([0, 1, 1, 0, 1])
    p = np.array([0.1, 0.8, 0.7, 0.4, 0.01])
    table = calibration_by_group(y, p, groups=["a", "a", "a", "a", "b"])
    single = table.iloc[1]
    assert single["count"] == 1
    assert np.isnan(single["bias_se"])
    assert np.isnan(single["p_value"])
    assert table["worst"].tolist() == [True, False]


def test_constant_differences_give_zero_standard_error():
    y = np.array([1, 1, 0, 0, 1, 0])
    p = np.array([0.75, 0.75, 0.25, 0.25, 0.5, 0.5])
    table = calibration_by_group(y, p, groups=["a", "a", "b", "b", "c", "c"])
    assert table["bias_se"].tolist()[:2] == [0.0, 0.0]
    assert table["p_value"].tolist()[:2] == [0.0, 0.0]
    assert table["t"].tolist()[:2] == [np.inf, -np.inf]
    assert table["worst"].tolist() == [True, False, False]


def test_exact_forecasts_give_no_bias_t_zero_and_p_value_one():
    """Every difference 0 (the forecasts are the outcomes): SE 0 and bias 0
    give t = 0 and p = 1, not NaN."""
    y = np.array([1, 0, 1, 0, 1, 0])
    p = np.array([1.0, 0.0, 1.0, 0.0, 0.7, 0.2])
    table = calibration_by_group(y, p, groups=["a", "a", "a", "a", "b", "b"])
    assert table.loc[0, ["bias", "bias_se", "t", "p_value"]].tolist() == [0, 0, 0, 1]
    assert table["worst"].tolist() == [False, True]


# --- errors ---------------------------------------------------------------------


Y = np.array([0, 1, 1, 0, 1, 0])
P = np.array([0.2, 0.7, 0.6, 0.3, 0.9, 0.4])
FRAME = pd.DataFrame({"region": list("aabbcc"), "age": [1.0, 2, 3, 4, 5, 6]})


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (
            {"groups": "regio", "X": FRAME},
            ValueError,
            r"groups names no column of X: 'regio'; X has 'region', 'age'",
        ),
        (
            {"groups": "region"},
            ValueError,
            r"groups is a column name \('region'\) but X is None",
        ),
        (
            {"groups": "region", "X": np.zeros((6, 2))},
            TypeError,
            r"groups names a column .* DataFrame; got ndarray",
        ),
        (
            {"groups": ["a", "b", None, "a", "b", "a"]},
            ValueError,
            r"groups has 1 missing value \(NaN or None\); first at row 2",
        ),
        (
            {"groups": [1.0, np.nan, 2.0, 1.0, 2.0, np.nan]},
            ValueError,
            r"groups has 2 missing values .* first at row 1",
        ),
        (
            {"groups": ["a"] * 6},
            ValueError,
            r"groups forms a single group \('a'\); .* at least two groups",
        ),
        (
            {"groups": ["a", "b"] * 2},
            ValueError,
            r"groups has 4 entries but there are 6 samples",
        ),
        ({"groups": np.zeros((6, 2))}, ValueError, r"groups must be 1-D"),
        ({"groups": 3}, TypeError, r"groups must be an array of 6 group labels"),
        (
            {"groups": list("aabbcc"), "bins": "uniform"},
            TypeError,
            r"groups must be numeric to be cut into bins",
        ),
        (
            {"groups": [1, 2, 3, 4, 5, np.inf], "bins": "quantile"},
            ValueError,
            r"groups has an infinite value at row 5",
        ),
        (
            {"groups": [7.0] * 6, "bins": "quantile"},
            ValueError,
            r"groups forms a single group",
        ),
        (
            {"groups": list("aabbcc"), "sample_weight": [1, 1, 0, 0, 1, 1]},
            ValueError,
            r"group, 'b', whose rows all have sample_weight 0",
        ),
        (
            {"groups": list("aabbcc"), "bins": "deciles"},
            ValueError,
            r"'bins' parameter",
        ),
        (
            {"groups": list("aabbcc"), "worst_by": "ece"},
            ValueError,
            r"'worst_by' parameter",
        ),
        (
            {"groups": list("aabbcc"), "n_groups": 1},
            ValueError,
            r"'n_groups' parameter",
        ),
    ],
)
def test_bad_groups_raise_errors_naming_the_argument(kwargs, error, match):
    with pytest.raises(error, match=match):
        calibration_by_group(Y, P, **kwargs)


def test_inputs_are_not_modified():
    y, p, groups, rng = _binary(n=50, seed=14)
    w = rng.uniform(size=50)
    copies = [a.copy() for a in (y, p, groups, w)]
    calibration_by_group(y, p, groups=groups, sample_weight=w)
    for a, b in zip((y, p, groups, w), copies, strict=True):
        np.testing.assert_array_equal(a, b)

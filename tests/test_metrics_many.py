"""Many models in one call: {name: forecasts} gives a tidy DataFrame."""

import numpy as np
import pandas as pd
import pytest

from calibkit.metrics import (
    brier_score,
    calibration_by_group,
    compare_forecasts,
    confidence_interval,
    cumulative_calibration,
    decompose,
    expected_calibration_error,
    log_loss,
    reliability_curve,
)


@pytest.fixture
def models(binary_forecasts):
    y, p, w = binary_forecasts
    forecasts = {"raw": p, "squared": p**2, "shrunk": 0.5 + 0.8 * (p - 0.5)}
    return y, forecasts, w


@pytest.mark.parametrize(
    ("function", "options"),
    [
        (log_loss, {}),
        (brier_score, {}),
        (expected_calibration_error, {"n_bins": 7, "strategy": "quantile"}),
    ],
)
def test_scalar_metrics_give_one_row_per_model(models, function, options):
    y, forecasts, w = models
    table = function(y, forecasts, sample_weight=w, **options)
    assert isinstance(table, pd.DataFrame)
    assert list(table.columns) == ["model", function.__name__]
    assert table["model"].tolist() == list(forecasts)
    for name, p in forecasts.items():
        single = function(y, p, sample_weight=w, **options)
        value = table.loc[table["model"] == name, function.__name__].item()
        assert value == single  # bit-identical to the single-model call
        assert isinstance(single, float)


def test_decompose_table_has_the_model_diagnostics_layout(models):
    y, forecasts, _ = models
    table = decompose(y, forecasts)
    assert table.columns[0] == "model"
    for column in ("miscalibration", "discrimination", "uncertainty", "score"):
        assert column in table.columns
    # Fields that are None for every model (binned extras) are left out.
    assert "reliability" not in table.columns
    for name, p in forecasts.items():
        row = table.set_index("model").loc[name]
        single = decompose(y, p)
        assert row["miscalibration"] == single.miscalibration
        assert row["score"] == single.score


def test_decompose_agrees_with_model_diagnostics(models):
    md = pytest.importorskip("model_diagnostics.scoring")
    y, forecasts, _ = models
    ours = decompose(y, forecasts).set_index("model")
    theirs = md.decompose(
        y.astype(float),
        pd.DataFrame(forecasts),
        scoring_function=md.LogLoss(),
    )
    theirs = theirs.to_pandas().set_index("model")
    for column in ("miscalibration", "discrimination", "uncertainty", "score"):
        np.testing.assert_allclose(
            ours.loc[list(forecasts), column],
            theirs.loc[list(forecasts), column],
            rtol=1e-9,
            atol=1e-12,
        )


def test_confidence_intervals_per_model(models):
    y, forecasts, _ = models
    table = confidence_interval(
        "brier_score", y, forecasts, n_resamples=30, random_state=4
    )
    assert table["model"].tolist() == list(forecasts)
    assert {"estimate", "low", "high", "standard_error"} <= set(table.columns)
    assert "bootstrap_distribution" not in table.columns
    single = confidence_interval(
        "brier_score", y, forecasts["squared"], n_resamples=30, random_state=4
    )
    row = table.set_index("model").loc["squared"]
    assert (row["low"], row["high"]) == (single.low, single.high)


def test_a_data_frame_is_one_model_not_a_mapping(multiclass_forecasts):
    y, P, _ = multiclass_forecasts
    frame = pd.DataFrame(P, columns=[0, 1, 2, 3])
    assert log_loss(y, frame) == log_loss(y, P)


def test_bad_mappings(models):
    y, forecasts, _ = models
    with pytest.raises(ValueError, match="empty mapping"):
        log_loss(y, {})
    with pytest.raises(TypeError, match=r"y_prob\['a'\] is a mapping"):
        brier_score(y, {"a": forecasts})
    with pytest.raises(ValueError, match="y_prob"):
        log_loss(y, {"bad": forecasts["raw"] + 2})


def test_decompose_passes_memory_budget_to_every_model(models, monkeypatch):
    """Each model of a mapping is decomposed as its single call would be:
    with a small memory_budget, out of core (the block path)."""
    import calibkit.metrics._decomposition as decomposition_module

    y, forecasts, w = models
    calls = []
    blocks = decomposition_module._binary_isotonic_blocks

    def spy(*args, **kwargs):
        calls.append(1)
        return blocks(*args, **kwargs)

    monkeypatch.setattr(decomposition_module, "_binary_isotonic_blocks", spy)
    budget = 1024  # bytes: fewer than the 8 a row of these forecasts take
    table = decompose(y, forecasts, sample_weight=w, memory_budget=budget)
    assert len(calls) == len(forecasts)
    for name, p in forecasts.items():
        single = decompose(y, p, sample_weight=w)
        row = table.loc[table["model"] == name].iloc[0]
        assert row["miscalibration"] == pytest.approx(single.miscalibration, rel=1e-9)


@pytest.mark.parametrize(
    "call",
    [
        lambda y, f: compare_forecasts(y, f, f["raw"], n_resamples=2),
        lambda y, f: calibration_by_group(y, f, groups=np.arange(len(y)) % 2),
        lambda y, f: cumulative_calibration(y, f),
        lambda y, f: reliability_curve(y, f),
    ],
)
def test_functions_without_mappings_say_so(models, call):
    """A mapping where one model's forecasts are expected: a TypeError that
    says so, not 'y_prob must hold numbers'."""
    y, forecasts, _ = models
    with pytest.raises(TypeError, match=r"y_prob is a mapping of models"):
        call(y, forecasts)


@pytest.mark.parametrize("random_state", [None, "generator"])
def test_every_model_sees_the_same_resamples(models, random_state):
    """Without an int seed too: a Generator (or None) is drawn from once, and
    every model is resampled from that one seed, as the docstring says."""
    y, forecasts, _ = models
    if random_state == "generator":
        random_state = np.random.default_rng(11)
    same = {"first": forecasts["raw"], "second": forecasts["raw"].copy()}
    table = confidence_interval(
        "brier_score", y, same, n_resamples=30, random_state=random_state
    )
    first, second = table.set_index("model").loc[["first", "second"], "low"]
    assert first == second


def test_only_none_fields_are_left_out(models):
    """A field that is NaN for every model (a standard error from one
    resample) is a value and stays; a field None for every model goes."""
    y, forecasts, _ = models
    table = confidence_interval(
        "brier_score", y, forecasts, n_resamples=1, random_state=0
    )
    assert table["standard_error"].isna().all()
    normal = confidence_interval("brier_score", y, forecasts, method="normal")
    assert "n_resamples" not in normal.columns
    assert "standard_error" in normal.columns

"""The shape of the metrics API: one parameter validation, one vocabulary, one
result base class, and inputs validated once per call."""

import inspect
import re
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit, softmax

import calibkit
import calibkit.metrics as ckm
from calibkit._results import Result
from calibkit._validation import InvalidParameterError
from calibkit.report import evaluate_forecasts
from calibkit.report._report import ForecastEvaluation

Y = [0, 1, 1, 0, 1, 0, 1, 1]
P = [0.1, 0.7, 0.6, 0.3, 0.9, 0.4, 0.8, 0.55]
Y3 = [0, 1, 2, 2, 1, 0]
P3 = [
    [0.7, 0.2, 0.1],
    [0.2, 0.5, 0.3],
    [0.1, 0.3, 0.6],
    [0.3, 0.3, 0.4],
    [0.2, 0.6, 0.2],
    [0.5, 0.4, 0.1],
]


def _binary(function):
    return lambda **kw: function(Y, P, **kw)


def _information(function):
    return lambda **kw: function(P, P, **kw)


# (function, argument, bad value, message): every one raises scikit-learn's
# InvalidParameterError (a ValueError and a TypeError) naming the argument
# and the public function, as PlattScaling(max_iter=0) does.
BAD_PARAMETERS = [
    (ckm.log_loss, "input", "odds", r"'input' parameter of log_loss must be a str"),
    (
        ckm.log_loss,
        "class_weight",
        "auto",
        r"'class_weight' parameter of log_loss must be None, a str among "
        r"\{'balanced'\} or an instance of 'dict'. Got 'auto'",
    ),
    (ckm.log_loss, "class_weight", [1, 2], r"'class_weight' parameter of log_loss"),
    (ckm.brier_score, "input", "odds", r"'input' parameter of brier_score"),
    (ckm.brier_score, "sample_weight", 3.0, r"'sample_weight' .* array-like or None"),
    (
        ckm.expected_calibration_error,
        "n_bins",
        0,
        r"'n_bins' parameter of expected_calibration_error must be an int in the "
        r"range \[1, 9007199254740992\]. Got 0 instead",
    ),
    (ckm.expected_calibration_error, "n_bins", 2.5, r"'n_bins' .* Got 2.5"),
    (ckm.expected_calibration_error, "n_bins", True, r"'n_bins' .* Got True"),
    (ckm.expected_calibration_error, "n_bins", 2**53 + 1, r"'n_bins' .* must be"),
    (
        ckm.expected_calibration_error,
        "strategy",
        "isotonic",
        r"'strategy' parameter of expected_calibration_error must be a str among "
        r"\{'(quantile|uniform)', '(quantile|uniform)'\}. Got 'isotonic'",
    ),
    (ckm.expected_calibration_error, "norm", "l3", r"'norm' parameter"),
    (ckm.expected_calibration_error, "multiclass", "ovr", r"'multiclass' parameter"),
    (
        ckm.expected_calibration_error,
        "debias",
        "yes",
        r"'debias' .* instance of 'bool'",
    ),
    (ckm.expected_calibration_error, "input", "odds", r"'input' parameter"),
    (
        ckm.reliability_curve,
        "n_bins",
        0,
        r"'n_bins' parameter of reliability_curve must be an int in the range",
    ),
    (ckm.reliability_curve, "strategy", "kde", r"'strategy' parameter .*'isotonic'"),
    (
        ckm.reliability_curve,
        "bands",
        1.0,
        r"'bands' .* None or a float in the range \(0.0, 1.0\)",
    ),
    (ckm.reliability_curve, "bands", "90%", r"'bands' parameter"),
    (ckm.reliability_curve, "n_resamples", 0, r"'n_resamples' parameter"),
    (ckm.reliability_curve, "input", "odds", r"'input' parameter"),
    (ckm.decompose, "score", "logloss", r"'score' parameter of decompose must be"),
    (ckm.decompose, "score", None, r"'score' parameter of decompose"),
    (ckm.decompose, "strategy", "equal", r"'strategy' parameter of decompose"),
    (ckm.decompose, "method", "pav", r"'method' parameter of decompose"),
    (ckm.decompose, "multiclass", "ovr", r"'multiclass' parameter of decompose"),
    (ckm.decompose, "n_bins", 0, r"'n_bins' parameter of decompose must be an int"),
    (ckm.decompose, "n_bins", True, r"'n_bins' parameter of decompose"),
    (ckm.decompose, "input", "odds", r"'input' parameter of decompose"),
    (
        ckm.hosmer_lemeshow_test,
        "n_bins",
        2,
        r"'n_bins' parameter of hosmer_lemeshow_test must be an int in the range "
        r"\[3, ",
    ),
    (ckm.hosmer_lemeshow_test, "n_bins", 4.0, r"'n_bins' parameter"),
    (ckm.spiegelhalter_z_test, "input", "odds", r"'input' parameter"),
    (ckm.entropy, "sample_weight", 1.0, r"'sample_weight' parameter of entropy"),
    (ckm.kl_divergence, "sample_weight", "w", r"'sample_weight' parameter"),
    (ckm.cross_entropy, "sample_weight", 2, r"'sample_weight' parameter"),
    (ckm.information_decomposition, "sample_weight", 2, r"'sample_weight'"),
    (evaluate_forecasts, "n_bins", 0, r"'n_bins' parameter of evaluate_forecasts"),
    (evaluate_forecasts, "input", "odds", r"'input' parameter of evaluate_forecasts"),
]


def _call(function, argument, value):
    if function is ckm.get_scorer:
        return function(value)
    if function is ckm.make_calibration_scorer:
        return function(**{"metric": "log_loss", argument: value})
    if function in (
        ckm.entropy,
        ckm.kl_divergence,
        ckm.cross_entropy,
        ckm.information_decomposition,
    ):
        args = (P,) if function is ckm.entropy else (P, P)
        return function(*args, **{argument: value})
    return function(Y, P, **{argument: value})


@pytest.mark.parametrize(
    ("function", "argument", "value", "match"),
    [
        *BAD_PARAMETERS,
        (ckm.get_scorer, "name", "neg_log_loss", r"'name' parameter of get_scorer"),
        (
            ckm.make_calibration_scorer,
            "metric",
            3,
            r"'metric' parameter of make_calibration_scorer must be",
        ),
        (
            ckm.make_calibration_scorer,
            "greater_is_better",
            "no",
            r"'greater_is_better' parameter",
        ),
    ],
    ids=lambda v: getattr(v, "__name__", None),
)
def test_bad_parameters_raise_invalid_parameter_error(function, argument, value, match):
    with pytest.raises(InvalidParameterError, match=match) as info:
        _call(function, argument, value)
    # Still the ValueError / TypeError that callers caught in 0.1.
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, TypeError)


def test_metrics_and_estimators_raise_the_same_error_class():
    with pytest.raises(InvalidParameterError):
        ckm.reliability_curve(Y, P, n_bins=0)
    with pytest.raises(InvalidParameterError):
        calibkit.PlattScaling(max_iter=0).fit(P, Y)


PUBLIC_FUNCTIONS = [
    getattr(ckm, name)
    for name in ckm.__all__
    if inspect.isfunction(getattr(ckm, name))
    and name not in ("get_scorer_names",)  # no arguments to validate
] + [evaluate_forecasts]


@pytest.mark.parametrize("function", PUBLIC_FUNCTIONS, ids=lambda f: f.__name__)
def test_every_public_metric_declares_its_constraints(function):
    constraints = function.__wrapped__._skl_parameter_constraints
    signature = inspect.signature(function)
    # Every declared argument exists (no stale names after a rename).
    assert set(constraints) <= set(signature.parameters)
    # Options and counts are all declared: every keyword argument with a
    # string or integer default is constrained.
    for name, parameter in signature.parameters.items():
        if isinstance(parameter.default, str | int) and name != "name":
            assert name in constraints, name


def test_the_hand_written_option_checks_are_gone():
    import calibkit.metrics._binning as binning

    assert not hasattr(binning, "check_option")
    assert not hasattr(binning, "check_count")


# --- validated once per call ---------------------------------------------------


def _count_calls(monkeypatch, name):
    """Replace ``name`` by a counting wrapper in every calibkit module that
    holds it, so that calls through any import path are counted."""
    import calibkit._validation as validation

    original = getattr(validation, name)
    calls = []

    def counting(*args, **kwargs):
        calls.append(args)
        return original(*args, **kwargs)

    for module in list(sys.modules.values()):
        if (module.__name__ or "").startswith("calibkit") and (
            getattr(module, name, None) is original
        ):
            monkeypatch.setattr(module, name, counting)
    return calls


@pytest.mark.parametrize(
    ("y", "p", "input"),
    [
        (Y, P, "probabilities"),
        (Y3, P3, "probabilities"),
        (Y, np.column_stack([1 - np.array(P), P]), "probabilities"),
        (Y3, np.log(P3), "logits"),
    ],
)
def test_evaluate_forecasts_validates_once(monkeypatch, y, p, input):
    labels = _count_calls(monkeypatch, "check_labels")
    probabilities = _count_calls(monkeypatch, "check_probabilities")
    evaluate_forecasts(y, p, input=input)
    assert len(labels) == 1
    assert len(probabilities) == (1 if input == "probabilities" else 0)


def test_counting_would_see_repeated_validation(monkeypatch):
    # The counter is not blind: two public calls validate twice.
    labels = _count_calls(monkeypatch, "check_labels")
    ckm.log_loss(Y, P)
    ckm.brier_score(Y, P)
    assert len(labels) == 2


def test_evaluate_forecasts_matches_the_public_metrics():
    p = np.array(P3)
    ev = evaluate_forecasts(Y3, p, n_bins=5)
    assert ev.log_loss == ckm.log_loss(Y3, p)
    assert ev.brier_score == ckm.brier_score(Y3, p)
    assert ev.ece == ckm.expected_calibration_error(Y3, p, n_bins=5)
    assert ev.decomposition == ckm.decompose(Y3, p)
    binary = np.column_stack([1 - np.array(P), P])
    ev = evaluate_forecasts(Y, binary)
    assert ev.brier_score == ckm.brier_score(Y, P)
    assert ev.ece == ckm.expected_calibration_error(Y, P)


def test_evaluate_forecasts_warns_once_for_rounded_rows():
    p = np.array(P3) + [[1e-4, 0, 0]] * 6
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        evaluate_forecasts(Y3, p)
    assert len([w for w in caught if "did not sum to 1" in str(w.message)]) == 1


# --- one vocabulary -------------------------------------------------------------


def test_decompose_strategy_names_the_recalibration():
    isotonic = ckm.decompose(Y, P)
    assert isotonic.strategy == "isotonic"
    assert isotonic.n_bins is None
    binned = ckm.decompose(Y, P, strategy="quantile", n_bins=3)
    assert (binned.strategy, binned.n_bins) == ("quantile", 3)
    assert binned.reliability is not None


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ({"method": "isotonic"}, {"strategy": "isotonic"}),
        ({"method": "binned"}, {"strategy": "uniform"}),
        ({"method": "binned", "strategy": "quantile"}, {"strategy": "quantile"}),
        ({"method": "isotonic", "strategy": "quantile"}, {"strategy": "isotonic"}),
    ],
)
def test_decompose_method_is_a_deprecated_alias(old, new):
    with pytest.warns(FutureWarning, match=r"method=.* pass strategy=") as record:
        got = ckm.decompose(Y, P, n_bins=4, **old)
    assert record[0].filename == __file__  # points at the caller's line
    assert got == ckm.decompose(Y, P, n_bins=4, **new)
    with pytest.warns(FutureWarning, match=r"Decomposition.method is deprecated"):
        assert got.method == old["method"]


def test_decomposition_display_takes_strategy():
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    from calibkit.plotting import DecompositionDisplay

    disp = DecompositionDisplay.from_predictions(Y, {"m": P}, strategy="uniform")
    assert disp.decompositions[0].strategy == "uniform"
    plt.close(disp.figure_)


LOGIT_CASES = [
    (ckm.brier_score, {}),
    (ckm.expected_calibration_error, {"n_bins": 4}),
    (ckm.decompose, {}),
    (ckm.decompose, {"score": "brier", "strategy": "quantile", "n_bins": 3}),
    (ckm.reliability_curve, {"n_bins": 4}),
    (ckm.hosmer_lemeshow_test, {"n_bins": 3}),
    (ckm.spiegelhalter_z_test, {}),
]


def _same(a, b):
    if isinstance(a, Result):
        for key, value in a.to_dict().items():
            other = b.to_dict()[key]
            if isinstance(value, float | np.ndarray):
                np.testing.assert_allclose(value, other, rtol=1e-12, atol=1e-15)
            else:
                assert value == other, key
        return
    assert a == pytest.approx(b, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize(("function", "options"), LOGIT_CASES)
def test_every_metric_takes_logits(function, options):
    log_odds = np.log(P) - np.log1p(-np.array(P))
    got = function(Y, log_odds, input="logits", **options)
    _same(got, function(Y, expit(log_odds), **options))


@pytest.mark.parametrize(
    "function",
    [ckm.brier_score, ckm.expected_calibration_error, ckm.decompose],
)
def test_multiclass_logits_go_through_the_softmax(function):
    z = np.log(P3) + 3.0  # logits: any shift of a row
    _same(function(Y3, z, input="logits"), function(Y3, softmax(z, axis=1)))


@pytest.mark.parametrize(
    "function",
    [
        ckm.expected_calibration_error,
        ckm.reliability_curve,
        ckm.decompose,
        ckm.hosmer_lemeshow_test,
        evaluate_forecasts,
    ],
)
def test_n_bins_defaults_to_10_everywhere(function):
    assert inspect.signature(function).parameters["n_bins"].default == 10


def test_ece_default_is_ten_bins():
    rng = np.random.default_rng(0)
    p = rng.uniform(size=200)
    y = rng.uniform(size=200) < p
    default = ckm.expected_calibration_error(y, p)
    assert default == ckm.expected_calibration_error(y, p, n_bins=10)
    assert default != ckm.expected_calibration_error(y, p, n_bins=15)


def test_multiclass_defaults_are_documented():
    ece = inspect.signature(ckm.expected_calibration_error).parameters
    dec = inspect.signature(ckm.decompose).parameters
    assert ece["multiclass"].default == "top_label"
    assert dec["multiclass"].default == "classwise"
    assert "differs" in ckm.expected_calibration_error.__doc__


def test_every_metric_of_labels_and_forecasts_takes_input():
    for function in PUBLIC_FUNCTIONS:
        parameters = inspect.signature(function).parameters
        if "y_prob" in parameters:
            assert parameters["input"].default == "probabilities", function


def test_hosmer_lemeshow_counts_are_named_as_counts():
    result = ckm.hosmer_lemeshow_test(Y, P, n_bins=3)
    table = result.to_frame()
    assert list(table.columns) == [
        "bin_lower",
        "bin_upper",
        "count",
        "weight",
        "observed_positives",
        "expected_positives",
    ]
    np.testing.assert_array_equal(table["observed_positives"], [0.0, 2.0, 3.0])
    for old, new in (
        ("observed", "observed_positives"),
        ("expected", "expected_positives"),
    ):
        with pytest.warns(FutureWarning, match=rf"HosmerLemeshowTest.{old} is dep"):
            np.testing.assert_array_equal(getattr(result, old), getattr(result, new))


# --- one result base class -------------------------------------------------------


def _results():
    return [
        ckm.decompose(Y, P),
        ckm.decompose(Y3, P3, strategy="uniform"),
        ckm.reliability_curve(Y, P, n_bins=4),
        ckm.reliability_curve(Y, P, strategy="isotonic", bands=0.9, random_state=0),
        ckm.hosmer_lemeshow_test(Y, P, n_bins=3),
        ckm.spiegelhalter_z_test(Y, P),
        ckm.information_decomposition(P, P[::-1]),
        evaluate_forecasts(Y, P, name="m"),
        ckm.reliability_curve(Y, P, strategy="smooth"),
        ckm.cumulative_calibration(Y, P),
        ckm.confidence_interval("log_loss", Y, P, n_resamples=20, random_state=0),
        ckm.compare_forecasts(Y, P, P[::-1], n_resamples=20, random_state=0),
    ]


RESULT_CLASSES = [
    ckm.Decomposition,
    ckm.ReliabilityCurve,
    ckm.HosmerLemeshowTest,
    ckm.SpiegelhalterTest,
    ckm.InformationDecomposition,
    ForecastEvaluation,
    ckm.CumulativeCalibration,
    ckm.ConfidenceInterval,
    ckm.PairedComparison,
]


@pytest.mark.parametrize("cls", RESULT_CLASSES, ids=lambda c: c.__name__)
def test_every_result_class_derives_from_result(cls):
    assert issubclass(cls, Result)


def test_every_public_result_class_is_listed():
    public = {
        name
        for name in ckm.__all__
        if inspect.isclass(getattr(ckm, name))
        and name != "CalibrationScorer"  # a callable, not a result
    }
    assert public == {c.__name__ for c in RESULT_CLASSES if c is not ForecastEvaluation}


@pytest.mark.parametrize("result", _results(), ids=lambda r: type(r).__name__)
def test_results_share_to_dict_to_frame_and_reprs(result):
    d = result.to_dict()
    assert isinstance(d, dict)
    assert d
    frame = result.to_frame()
    assert isinstance(frame, pd.DataFrame)
    assert frame.shape[0] >= 1
    text = repr(result)
    assert type(result).__name__ in text or "Decomposition of" in text
    assert "\n" not in text or isinstance(result, ckm.Decomposition)
    html = result._repr_html_()
    assert html.startswith("<table>")
    assert f"<caption>{type(result).__name__}</caption>" in html
    # Every scalar shown in the table is one of the results' values.
    for name, value in d.items():
        if isinstance(value, float) and value is not None:
            assert f"<th style='text-align:left'>{name}</th>" in html


def test_result_repr_is_readable():
    result = ckm.spiegelhalter_z_test(Y, P)
    text = repr(result)
    assert text.startswith("SpiegelhalterTest(statistic=")
    # Floats to 6 significant digits, not 17.
    assert re.search(r"statistic=-?\d\.\d{1,5}(e[-+]\d+)?,", text)
    hl = ckm.hosmer_lemeshow_test(Y, P, n_bins=3)
    assert repr(hl).startswith("HosmerLemeshowTest(statistic=")
    assert "n_groups=3" in repr(hl)


def test_scalar_results_stack_into_a_comparison_table():
    rows = pd.concat(
        [ckm.decompose(Y, P).to_frame(), ckm.decompose(Y, P[::-1]).to_frame()]
    )
    assert rows.shape[0] == 2
    assert {"score", "miscalibration", "strategy"} <= set(rows.columns)


def test_table_results_give_one_row_per_point():
    curve = ckm.reliability_curve(Y, P, n_bins=4)
    frame = curve.to_frame()
    assert frame.shape[0] == curve.forecast.shape[0]
    np.testing.assert_array_equal(frame["observed"], curve.observed)
    assert "lower" not in frame.columns  # no band: no empty columns


def test_labels_order_does_not_reorder_the_columns():
    """Columns of y_prob follow the sorted labels, as documented (and as in
    scikit-learn), however ``labels`` lists them."""
    from sklearn.metrics import log_loss as sk_log_loss

    from calibkit.metrics import log_loss

    y, prob = ["a", "b"], [[0.9, 0.1], [0.2, 0.8]]
    expected = sk_log_loss(y, prob, labels=["a", "b"])  # columns in sorted order
    assert log_loss(y, prob, labels=["b", "a"]) == pytest.approx(expected, rel=1e-15)
    assert log_loss(y, prob, labels=["b", "a"]) == log_loss(y, prob, labels=["a", "b"])

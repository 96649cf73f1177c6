"""Structured exceptions and warnings: fields, text, re-wording, compatibility."""

import copy
import pickle
import warnings

import numpy as np
import pytest

import calibkit as ck
from calibkit._validation import check_probabilities, check_sample_weight
from calibkit.cli._console import cli_message
from calibkit.exceptions import (
    CalibrationWarning,
    InputError,
    InputKindWarning,
    InputTypeError,
    NoFiniteOptimumWarning,
)


def _option(name, value):
    return f"--{name} {value}"


def test_input_error_is_a_value_error_with_fields():
    error = InputError(
        "y_prob",
        "must hold probabilities in [0, 1]; row 2 has 1.5.",
        hint="Pass logits with {input} where the estimator supports it.",
        fix={"input": "logits"},
    )
    assert isinstance(error, ValueError)
    assert (error.argument, error.fix, error.given) == (
        "y_prob",
        {"input": "logits"},
        {},
    )
    assert str(error) == (
        "y_prob must hold probabilities in [0, 1]; row 2 has 1.5. Pass logits with "
        "input='logits' where the estimator supports it."
    )
    assert error.render(argument="the scores", spell=_option) == (
        "the scores must hold probabilities in [0, 1]; row 2 has 1.5. Pass logits "
        "with --input logits where the estimator supports it."
    )
    assert error.render(hint="Try again.").endswith("row 2 has 1.5. Try again.")
    with pytest.raises(ValueError, match=r"^y_prob must hold probabilities"):
        raise error


def test_type_error_and_attached_problems():
    error = InputTypeError("w", ": a scalar is not an array.")
    assert isinstance(error, TypeError)
    assert str(error) == "w: a scalar is not an array."
    assert (
        str(InputError("X", "'s columns are shuffled.")) == "X's columns are shuffled."
    )
    assert str(InputError(None, "Nothing to name.")) == "Nothing to name."


@pytest.mark.parametrize(
    "error",
    [
        InputError("X", "is bad.", hint="Use {input}.", fix={"input": "logits"}),
        InputTypeError("y", "is not an array."),
        CalibrationWarning(argument="X", problem="is odd.", given={"input": "logits"}),
        CalibrationWarning("plain text"),
    ],
)
def test_pickle_and_copy_keep_the_fields(error):
    for clone in (pickle.loads(pickle.dumps(error)), copy.copy(error)):
        assert type(clone) is type(error)
        assert str(clone) == str(error)
        assert (clone.argument, clone.problem, clone.fix, clone.given) == (
            error.argument,
            error.problem,
            error.fix,
            error.given,
        )


def test_plain_warning_messages_still_work():
    with pytest.warns(NoFiniteOptimumWarning, match="^no optimum$") as record:
        warnings.warn("no optimum", NoFiniteOptimumWarning, stacklevel=1)
    (message,) = [r.message for r in record]
    assert (message.argument, message.problem) == (None, "no optimum")
    assert cli_message(message) == "no optimum"


def test_probability_check_raises_structured_error_with_same_text():
    with pytest.raises(InputError, match=r"y_prob must hold probabilities") as info:
        check_probabilities(np.array([0.5, 1.25, 2.0]), name="y_prob")
    error = info.value
    assert error.argument == "y_prob"
    assert error.fix == {"input": "logits"}
    assert str(error) == (
        "y_prob must hold probabilities in [0, 1]; row 1 has 1.25 (2 rows are "
        "outside). Pass logits with input='logits' where the estimator supports it."
    )
    assert cli_message(error) == (
        "the score table must hold probabilities in [0, 1]; row 1 has 1.25 (2 rows "
        "are outside). Pass logits with --input logits where the estimator "
        "supports it."
    )


@pytest.mark.parametrize(
    ("weights", "problem"),
    [
        (np.array([1.0, -2.0]), "must be non-negative"),
        (np.array([0.0, 0.0]), "is zero everywhere"),
        (np.array([1.0]), "has 1 entries but there are 2 samples"),
        (np.array([1e308, 1e308]), "sums to inf"),
    ],
)
def test_weight_errors_name_the_argument_in_a_field(weights, problem):
    with pytest.raises(InputError, match=rf"^sample_weight {problem}") as info:
        check_sample_weight(weights, 2)
    assert info.value.argument == "sample_weight"
    assert cli_message(info.value).startswith(f"the --weight column {problem}")


def test_scalar_weight_is_a_structured_type_error():
    with pytest.raises(InputTypeError, match=r"^sample_weight must be an array"):
        check_sample_weight(1.0, 2)


def test_input_kind_warning_fields_and_wording():
    X = np.array([[0.2, 0.8], [0.6, 0.4], [0.5, 0.5], [0.1, 0.9]])
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        ck.TemperatureScaling().fit(X, [1, 0, 1, 1])
    (warning,) = [r.message for r in record if r.category is InputKindWarning]
    assert warning.argument == "X"
    assert warning.given == {"input": "logits"}
    assert warning.fix == {"input": "probabilities"}
    assert str(warning) == (
        "X looks like probabilities (values in [0, 1], rows summing to 1) but "
        "input='logits'. Pass input='probabilities' if they are."
    )
    assert cli_message(warning) == (
        "the score table looks like probabilities (values in [0, 1], rows summing "
        "to 1) but --input logits. Pass --input probabilities if they are."
    )


def test_saturated_probabilities_warning_is_structured():
    with pytest.warns(CalibrationWarning, match=r"^X holds 2 probabilities") as record:
        ck.PlattScaling(input="probabilities").fit(
            np.array([0.0, 1.0, 0.4, 0.7]), [0, 1, 1, 0]
        )
    (warning,) = [r.message for r in record]
    assert warning.fix == {"input": "logits"}
    assert str(warning).endswith(
        "Pass logits (input='logits') if the model can produce them."
    )
    assert cli_message(warning).endswith(
        "Pass logits (--input logits) if the model can produce them."
    )


def test_renormalised_rows_warning_attaches_to_the_argument():
    P = np.array([[0.5, 0.5004], [0.3, 0.7]])
    with pytest.warns(CalibrationWarning, match=r"^y_prob: 1 rows did not sum"):
        check_probabilities(P, name="y_prob")

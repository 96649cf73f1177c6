"""Input validation helpers: label encoding and array checks."""

import numpy as np
import pandas as pd
import pytest

from calibkit._validation import (
    check_float_array,
    check_labels,
    check_probabilities,
    check_sample_weight,
    encode_labels,
)
from calibkit.exceptions import CalibrationWarning


@pytest.mark.parametrize(
    "y",
    [
        np.array([3, 1, 2, 3]),
        np.array([-5, 0, 7, -5]),
        np.array([True, False, True]),
        np.array([10**12, 0, 10**12]),
        np.array([250, 3, 3], dtype=np.uint8),
        np.array([2**63 + 5, 2**63 + 6, 2**63 + 5], dtype=np.uint64),
        np.array(["b", "a", "c", "a"]),
        np.array([0.0, 1.0, 1.0]),
        np.array(["x", "y"], dtype=object),
    ],
)
def test_encode_labels_matches_numpy_unique(y):
    classes, codes = encode_labels(y)
    ref_classes, ref_codes = np.unique(y, return_inverse=True)
    np.testing.assert_array_equal(classes, ref_classes)
    np.testing.assert_array_equal(codes, ref_codes.ravel())
    assert classes.dtype == ref_classes.dtype


def test_encode_labels_with_known_classes_rejects_unseen():
    with pytest.raises(
        ValueError, match=r"labels not among the known classes .* \['d'\]"
    ):
        encode_labels(np.array(["a", "d"]), classes=["a", "b"])
    with pytest.raises(TypeError, match="mixes label types"):
        encode_labels(np.array([1, "a"], dtype=object))


def test_float_arrays_keep_their_precision_without_copies():
    x32 = np.ones(5, dtype=np.float32)
    assert check_float_array(x32, name="X") is x32
    assert check_float_array(np.arange(3), name="X").dtype == np.float64


@pytest.mark.parametrize(
    ("values", "match"),
    [
        (np.array([0.2, 1.5]), r"in \[0, 1\]; row 1 has 1.5"),
        (np.array([[0.5, 0.6], [0.5, 0.5]]), "rows must sum to 1 .* row 0 sums to 1.1"),
    ],
)
def test_check_probabilities_names_the_row(values, match):
    with pytest.raises(ValueError, match=match):
        check_probabilities(values, name="y_prob")


def test_sample_weight_errors():
    with pytest.raises(TypeError, match="got a scalar"):
        check_sample_weight(2.0, 3)
    with pytest.raises(ValueError, match="non-finite"):
        check_sample_weight([1.0, np.nan, 1.0], 3)


@pytest.mark.parametrize(
    "weights",
    [[1e308, 1e308, 1.0], [1e250, 1e250, 1e250]],
)
def test_sample_weight_total_overflow_is_refused(weights):
    from calibkit import PlattScaling, TemperatureScaling
    from calibkit.metrics import brier_score, log_loss

    y, p = [0, 1, 1], [0.2, 0.7, 0.9]
    for call in (
        lambda: log_loss(y, p, sample_weight=weights),
        lambda: brier_score(y, p, sample_weight=weights),
        lambda: PlattScaling(input="probabilities").fit(p, y, sample_weight=weights),
        lambda: TemperatureScaling().fit([-1.0, 0.5, 2.0], y, sample_weight=weights),
    ):
        with pytest.raises(ValueError, match=r"sample_weight sums to .*divide"):
            call()


# --- missing values from pandas nullable dtypes ------------------------------


@pytest.mark.parametrize(
    "y",
    [
        pd.Series([0, 1, pd.NA, 0], dtype=object),
        pd.Series([False, True, pd.NA, True], dtype="boolean"),
        pd.Series(["a", "b", pd.NA, "a"], dtype="string"),
        pd.Series([0, 1, None, 0], dtype=object),
    ],
)
def test_missing_labels_are_named_by_row(y):
    # pd.NA used to raise "boolean value of NA is ambiguous".
    with pytest.raises(
        ValueError, match=r"y contains 1 missing labels; first at row 2"
    ):
        check_labels(y)


@pytest.mark.parametrize(
    "X",
    [
        pd.DataFrame({"a": [0.1, pd.NA, pd.NA], "b": [0.9, 0.8, 0.7]}, dtype="Float64"),
        pd.DataFrame({"a": [1, 2, 3], "b": [0.5, pd.NA, pd.NA]}).astype(
            {"a": "Int64", "b": "Float64"}
        ),
        np.array([0.5, pd.NA, None], dtype=object),
    ],
)
def test_missing_values_in_nullable_columns_are_named_by_row(X):
    # This said "X must hold numbers" without a row.
    with pytest.raises(
        ValueError,
        match=r"X has missing values \(NA or None\) in 2 rows; first at rows 1, 2",
    ):
        check_float_array(X, name="X")


def test_nullable_dtypes_without_missing_values_just_work():
    frame = pd.DataFrame({"a": [0.25, 0.5], "b": [1, 2], "c": [True, False]})
    frame = frame.astype({"a": "Float64", "b": "Int64", "c": "boolean"})
    got = check_float_array(frame, name="X")
    np.testing.assert_array_equal(got, [[0.25, 1.0, 1.0], [0.5, 2.0, 0.0]])
    assert got.dtype == np.float64
    labels = check_labels(pd.Series([1, 0, 1], dtype="Int64"))
    assert labels.tolist() == [1, 0, 1]
    with pytest.raises(TypeError, match=r"X must hold numbers; got values of type obj"):
        check_float_array(np.array([0.5, "a"], dtype=object), name="X")


# --- row sums of probabilities saved with few decimals -------------------------


def _rounded(rng, n, k, decimals, dtype=np.float64):
    return np.round(rng.dirichlet(np.ones(k), size=n), decimals).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_rows_rounded_to_four_decimals_are_renormalised_with_a_warning(dtype):
    # Rows off by more than 1e-6 used to be refused.
    P = _rounded(np.random.default_rng(0), 200, 7, 4, dtype)
    before = P.copy()
    sums = P.astype(np.float64).sum(axis=1)
    off = np.abs(sums - 1) > 7e-6
    largest = np.abs(sums - 1)[off].max()
    with pytest.warns(
        CalibrationWarning,
        match=rf"y_prob: {off.sum()} rows did not sum to 1 \(largest deviation "
        rf"{largest:.2g}, first at row {np.flatnonzero(off)[0]}\)",
    ) as record:
        got = check_probabilities(P, name="y_prob")
    assert record[0].filename == __file__  # points at the caller's line
    np.testing.assert_array_equal(P, before)  # never modified
    assert got.dtype == dtype
    expected = P.astype(np.float64) / sums[:, None]
    rtol = 4 * np.finfo(dtype).eps
    np.testing.assert_allclose(got[off], expected[off], rtol=rtol)
    np.testing.assert_array_equal(got[~off], P[~off])  # rows within noise untouched


def test_rows_saved_with_six_decimals_are_accepted():
    # These were refused ("rows must sum to 1 (tolerance 1e-06)").
    P = np.array([[0.333333, 0.333333, 0.333333], [0.1, 0.2, 0.7]])
    assert check_probabilities(P, name="y_prob") is P  # within 3e-6: noise
    wide = np.full((1, 40), 0.025)
    wide[0, :20] -= 4e-7  # each value rounded by 4e-7: 8e-6 in all, within 4e-5
    assert check_probabilities(wide, name="y_prob") is wide


def test_rows_within_rounding_noise_are_used_as_they_are():
    P = np.random.default_rng(1).dirichlet(np.ones(5), size=100)
    assert check_probabilities(P, name="y_prob") is P
    P32 = P.astype(np.float32)
    assert check_probabilities(P32, name="y_prob") is P32
    P64 = P32.astype(np.float64)  # float32 outputs stored as float64
    assert check_probabilities(P64, name="y_prob") is P64


def test_renormalising_tolerance_and_beyond():
    ok = np.array([[0.5, 0.4995], [0.25, 0.75]])  # off by 5e-4: renormalised
    with pytest.warns(CalibrationWarning, match="1 rows did not sum to 1"):
        got = check_probabilities(ok, name="P")
    np.testing.assert_allclose(got[0], [0.5 / 0.9995, 0.4995 / 0.9995], rtol=1e-15)
    bad = np.array([[0.5, 0.498], [0.25, 0.75]])  # off by 2e-3: refused
    with pytest.raises(ValueError, match=r"P rows must sum to 1 \(tolerance 0.001\)"):
        check_probabilities(bad, name="P")


def _class_named_frames():
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 3, 60)
    labels = np.array(["bird", "cat", "dog"])[codes]
    z = rng.normal(size=(60, 3))
    z[np.arange(60), codes] += 1.5
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    return labels, z, p


@pytest.mark.parametrize("prefix", ["", "logit_"])
def test_frames_with_class_named_columns_out_of_order_are_refused(prefix):
    # Read by position, the reversed frame gives each class another class's
    # column: a silently wrong score or fit. Sorted, it is accepted.
    import pandas as pd

    from calibkit import PlattScaling, TemperatureScaling
    from calibkit.metrics import brier_score, log_loss

    labels, z, p = _class_named_frames()
    names = [f"{prefix}{c}" for c in ("bird", "cat", "dog")]
    z_frame, p_frame = pd.DataFrame(z, columns=names), pd.DataFrame(p, columns=names)
    reverse = names[::-1]
    match = r"columns are named after the classes but are not in the order"
    for call in (
        lambda: log_loss(labels, p_frame[reverse]),
        lambda: brier_score(labels, p_frame[reverse]),
        lambda: TemperatureScaling().fit(z_frame[reverse], labels),
        lambda: PlattScaling().fit(z_frame[reverse], labels),
        lambda: TemperatureScaling().fit(z, labels).predict_proba(z_frame[reverse]),
    ):
        with pytest.raises(ValueError, match=match):
            call()
    assert log_loss(labels, p_frame) == log_loss(labels, p)
    fitted = TemperatureScaling().fit(z_frame, labels)
    plain = TemperatureScaling().fit(z, labels).temperature_
    assert fitted.temperature_ == pytest.approx(plain, rel=1e-14)


def test_integer_named_columns_out_of_order_suggest_the_right_selection():
    import pandas as pd

    from calibkit.metrics import log_loss

    frame = pd.DataFrame(np.full((4, 3), 1 / 3), columns=[2, 0, 1])
    with pytest.raises(ValueError, match=r"e\.g\. y_prob\[\[0, 1, 2\]\]"):
        log_loss([0, 1, 2, 1], frame)
    # Names that are not the classes say nothing about the order.
    other = pd.DataFrame(np.full((4, 3), 1 / 3), columns=["a", "c", "b"])
    assert log_loss([0, 1, 2, 1], other) == pytest.approx(np.log(3))


def test_rows_at_exactly_the_tolerance_are_accepted_whatever_the_column_order():
    # 0.263 + 0.592 + 0.144 is 0.999 in decimal but 1 - 1.0000000000000009e-3 in
    # floating point; with the columns in another order it rounds otherwise.
    from calibkit.metrics import log_loss

    P = np.array([[0.263, 0.592, 0.144], [0.5, 0.25, 0.25]])
    for order in ([0, 1, 2], [2, 1, 0], [1, 2, 0]):
        with pytest.warns(CalibrationWarning, match="1 rows did not sum to 1"):
            got = log_loss([0, 1], P[:, order], labels=[0, 1, 2])
        expected = -np.log([P[0, order[0]] / 0.999, P[1, order[1]]]).mean()
        assert got == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("dtype", [np.intp, np.int8])
def test_encode_labels_of_a_read_only_memmap_copies_nothing_whole(tmp_path, dtype):
    # Labels 0 .. K-1 in a read-only memmap are their own codes: nothing of
    # 8 bytes a row may be allocated (np.bincount copied read-only input);
    # narrow labels take their codes (8 bytes a row) and one chunk besides.
    import tracemalloc

    n = 1_000_000
    y = (np.arange(n) % 3).astype(dtype)
    np.save(tmp_path / "y.npy", y)
    mapped = np.load(tmp_path / "y.npy", mmap_mode="r")
    tracemalloc.start()
    try:
        classes, codes = encode_labels(mapped)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    np.testing.assert_array_equal(classes, [0, 1, 2])
    np.testing.assert_array_equal(codes, y)
    codes_bytes = 0 if dtype == np.intp else 8 * n
    assert peak < codes_bytes + 3 * 2**20

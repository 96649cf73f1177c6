"""IsotonicCalibration against scikit-learn and a brute-force PAV."""

import numpy as np
import pytest
from scipy.special import expit
from sklearn.isotonic import IsotonicRegression

from calibkit import IsotonicCalibration


def brute_force_isotonic(scores, y, w):
    """Min-max formula of the isotonic fit, on exactly pooled distinct scores.

    ``fit_i = max_{j <= i} min_{k >= i} mean(y[j..k])`` (weighted), O(m^3).
    """
    distinct = np.unique(scores)
    wy = np.array([np.sum(w[scores == v] * y[scores == v]) for v in distinct])
    ws = np.array([np.sum(w[scores == v]) for v in distinct])
    m = len(distinct)
    fit = np.empty(m)
    for i in range(m):
        fit[i] = max(
            min(wy[j : k + 1].sum() / ws[j : k + 1].sum() for k in range(i, m))
            for j in range(i + 1)
        )
    return distinct, fit


def test_matches_scikit_learn_without_near_ties():
    rng = np.random.default_rng(0)
    s = rng.normal(0, 2, 300)
    y = (rng.random(300) < expit(s)).astype(int)
    w = rng.uniform(0.5, 2.0, 300)
    cal = IsotonicCalibration(eps=0).fit(s, y, sample_weight=w)
    ref = IsotonicRegression(out_of_bounds="clip").fit(s, y, sample_weight=w)
    grid = np.linspace(-7, 7, 1001)
    np.testing.assert_allclose(
        cal.predict_proba(grid)[:, 1], ref.predict(grid), atol=1e-12
    )


def test_matches_brute_force_with_many_ties():
    rng = np.random.default_rng(1)
    s = rng.integers(-4, 5, 40).astype(float)
    y = rng.integers(0, 2, 40)
    w = rng.integers(1, 4, 40).astype(float)
    cal = IsotonicCalibration(eps=0, interpolation="step").fit(s, y, sample_weight=w)
    distinct, fit = brute_force_isotonic(s, y, w)
    np.testing.assert_allclose(cal.predict_proba(distinct)[:, 1], fit, atol=1e-12)


def test_near_ties_are_not_merged():
    # scikit-learn pools scores within 1e-15 of each other; these differ.
    s = np.array([1.0, np.nextafter(1.0, 2.0), 3.0, 4.0])
    y = np.array([0, 1, 0, 1])
    cal = IsotonicCalibration(eps=0, interpolation="step").fit(s, y)
    p = cal.predict_proba(s)[:, 1]
    _distinct, fit = brute_force_isotonic(s, y, np.ones(4))
    np.testing.assert_allclose(p, fit)
    assert p[0] == 0.0


def test_output_is_monotone_and_clipped_away_from_zero_and_one():
    rng = np.random.default_rng(2)
    s = rng.normal(0, 3, 500)
    y = (rng.random(500) < expit(s)).astype(int)
    cal = IsotonicCalibration().fit(s, y)
    p = cal.predict_proba(np.sort(rng.normal(0, 5, 2000)))[:, 1]
    assert np.all(np.diff(p) >= 0)
    assert cal.eps_ == pytest.approx(1 / 502)
    assert p.min() >= cal.eps_
    assert p.max() <= 1 - cal.eps_


def test_probability_input_gives_the_same_fit_at_calibration_points():
    rng = np.random.default_rng(3)
    s = rng.normal(0, 2, 300)
    y = (rng.random(300) < expit(s / 2)).astype(int)
    from_logits = IsotonicCalibration().fit(s, y)
    from_probs = IsotonicCalibration(input="probabilities").fit(expit(s), y)
    np.testing.assert_allclose(
        from_probs.predict_proba(expit(s)), from_logits.predict_proba(s), atol=1e-9
    )


def test_multiclass_rows_sum_to_one_and_match_per_class_fits():
    rng = np.random.default_rng(4)
    p = rng.dirichlet(np.ones(3), 600)
    y = (p.cumsum(1) < rng.random((600, 1))).sum(1)
    cal = IsotonicCalibration(input="probabilities", eps=0).fit(p, y)
    proba = cal.predict_proba(p)
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-12)
    unnormalised = np.column_stack(
        [
            IsotonicRegression(out_of_bounds="clip")
            .fit(p[:, k], y == k)
            .predict(p[:, k])
            for k in range(3)
        ]
    )
    np.testing.assert_allclose(
        proba, unnormalised / unnormalised.sum(1, keepdims=True), atol=1e-10
    )


# --- out of core: memory_budget ----------------------------------------------

BUDGET = 64_000  # bytes; the scores below take 1 MB (125,000 float64)


@pytest.fixture
def score_file(tmp_path):
    """1 MB of float64 scores in a .npy memmap, with ties in a copy."""
    rng = np.random.default_rng(21)
    n = 125_000
    s = rng.normal(0.0, 2.0, n)
    y = (rng.random(n) < expit(s)).astype(np.int8)
    np.save(tmp_path / "s.npy", s)
    np.save(tmp_path / "tied.npy", np.round(s, 2))
    return tmp_path, y


@pytest.mark.parametrize(
    ("name", "weighted", "interpolation"),
    [
        ("s.npy", False, "linear"),  # distinct scores: the sorted-keys engine
        ("tied.npy", False, "step"),  # ties: sorted runs of rows
        ("tied.npy", True, "linear"),
    ],
)
def test_out_of_core_fit_of_a_memmap_is_the_in_memory_fit(
    score_file, name, weighted, interpolation, monkeypatch, tmp_path_factory
):
    import tempfile

    import calibkit._pav as pav_module

    path, y = score_file
    s = np.load(path / name, mmap_mode="r")
    w = np.random.default_rng(2).uniform(0.0, 2.0, y.shape[0]) if weighted else None
    ref = IsotonicCalibration(interpolation=interpolation).fit(
        np.array(s), y, sample_weight=w
    )
    # The fit never sorts more than a budget's worth of rows at once.
    sort = np.argsort
    sizes = []

    def watched_argsort(a, *args, **kwargs):
        sizes.append(a.shape[0])
        return sort(a, *args, **kwargs)

    monkeypatch.setattr(pav_module.np, "argsort", watched_argsort)
    monkeypatch.setattr(IsotonicCalibration, "_knots", None)  # no in-memory fit
    runs = tmp_path_factory.mktemp("runs")
    monkeypatch.setattr(tempfile, "tempdir", str(runs))
    cal = IsotonicCalibration(interpolation=interpolation)
    cal.fit(s, y, sample_weight=w, memory_budget=BUDGET)
    monkeypatch.undo()
    assert list(runs.iterdir()) == []  # the sorted runs are removed
    assert max(sizes, default=0) * 8 <= BUDGET
    np.testing.assert_array_equal(cal.X_thresholds_[0], ref.X_thresholds_[0])
    np.testing.assert_allclose(
        cal.y_thresholds_[0], ref.y_thresholds_[0], rtol=1e-12, atol=1e-15
    )
    np.testing.assert_allclose(
        cal.predict_proba(s), ref.predict_proba(np.array(s)), rtol=1e-12, atol=1e-15
    )


def test_out_of_core_fit_of_probabilities_in_two_columns(tmp_path):
    rng = np.random.default_rng(22)
    s = np.round(rng.normal(0.0, 2.0, 20_000), 1)
    p = np.column_stack([expit(-s), expit(s)])
    y = (rng.random(s.shape[0]) < p[:, 1]).astype(int)
    kwargs = {"input": "probabilities", "eps": 0}
    ref = IsotonicCalibration(**kwargs).fit(p, y)
    cal = IsotonicCalibration(**kwargs).fit(p, y, memory_budget=16_000)
    np.testing.assert_allclose(cal.predict_proba(p), ref.predict_proba(p), rtol=1e-12)


@pytest.mark.parametrize(
    ("budget", "error", "message"),
    [
        (0, ValueError, "at least 1024 bytes; got 0"),
        (1023, ValueError, "at least 1024"),
        (1.5e6, TypeError, "integer number of bytes or None; got float"),
        ("1MB", TypeError, "got str"),
        (True, TypeError, "got bool"),
    ],
)
def test_memory_budget_is_checked(budget, error, message):
    cal = IsotonicCalibration()
    with pytest.raises(error, match=f"memory_budget must be .*{message}"):
        cal.fit([0.0, 1.0], [0, 1], memory_budget=budget)
    assert not hasattr(cal, "_memory_budget")


@pytest.mark.parametrize("score", ["log", "brier"])
def test_out_of_core_corp_decomposition_is_the_in_memory_one(score_file, score):
    from calibkit.metrics import decompose

    path, y = score_file
    q = expit(np.load(path / "tied.npy"))
    np.save(path / "q.npy", q)
    mapped = np.load(path / "q.npy", mmap_mode="r")
    w = np.random.default_rng(3).uniform(0.0, 2.0, y.shape[0])
    for weights in (None, w):
        ref = decompose(y, q, score=score, sample_weight=weights)
        got = decompose(
            y, mapped, score=score, sample_weight=weights, memory_budget=BUDGET
        )
        for name in ("score", "miscalibration", "discrimination", "uncertainty"):
            np.testing.assert_allclose(
                getattr(got, name), getattr(ref, name), rtol=1e-12, atol=1e-15
            )

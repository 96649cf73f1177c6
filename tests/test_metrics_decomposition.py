"""Tests for calibkit.metrics (decomposition) (score = MCB - DSC + UNC).

References, none of them the code under test: model-diagnostics' CORP
decomposition (scikit-learn isotonic regression), a brute-force isotonic
regression by the max-min formula in exact fractions, components recomputed
from their definitions in exact fractions (Brier) or 50-digit mpmath (log-loss),
binned terms summed row by row from Stephenson et al.'s definitions, closed
forms for constant forecasts, and a brute-force simplex projection.
"""

import itertools
import warnings
from fractions import Fraction

import mpmath
import numpy as np
import pandas as pd
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from model_diagnostics.scoring import LogLoss, SquaredError
from model_diagnostics.scoring import decompose as md_decompose
from sklearn.metrics import log_loss as sklearn_log_loss

from calibkit.exceptions import CalibrationWarning
from calibkit.metrics import Decomposition, decompose

mpmath.mp.dps = 50

NUMERIC = (
    "score",
    "miscalibration",
    "discrimination",
    "uncertainty",
    "refinement",
    "reliability",
    "resolution",
    "within_bin",
    "within_bin_variance",
    "within_bin_covariance",
)


# --- independent references -----------------------------------------------------


def brute_pav(x, t, w):
    """Isotonic regression of t on x by the max-min formula, in exact fractions.

    c(x_i) = max over s <= i of min over e >= i of the weighted mean of t over
    the distinct values s..e (Barlow et al. 1972). O(m^3) on m distinct values.
    Rows with zero weight are left out; returns the fit per row (None for them).
    """
    mass, hits = {}, {}
    for xi, ti, wi in zip(x, t, w, strict=True):
        if wi > 0:
            key = Fraction(float(xi))
            mass[key] = mass.get(key, 0) + Fraction(int(wi))
            hits[key] = hits.get(key, 0) + Fraction(int(wi)) * Fraction(int(ti))
    values = sorted(mass)
    m = len(values)
    fit = {}
    for i in range(m):
        fit[values[i]] = max(
            min(
                sum(hits[v] for v in values[s : e + 1])
                / sum(mass[v] for v in values[s : e + 1])
                for e in range(i, m)
            )
            for s in range(i + 1)
        )
    return [fit[Fraction(float(xi))] if wi > 0 else None for xi, wi in zip(x, w)]


def mp_fraction(x):
    # int(): a Fraction built from numpy integers keeps them, and mpmath < 1.4
    # cannot convert numpy integers.
    return mpmath.mpf(int(x.numerator)) / int(x.denominator)


def mp_log(x):
    return mpmath.log(mp_fraction(x))


def mp_xlogx(x):
    return 0 if x == 0 else mp_fraction(x) * mp_log(x)


def reference_binary(y, q, w, score):
    """(score, MCB, DSC, UNC) from the definitions with the brute-force PAV."""
    rows = [(int(yi), Fraction(float(qi)), int(wi)) for yi, qi, wi in zip(y, q, w)]
    c = brute_pav(q, y, w)
    rows_c = [(yi, qi, wi, ci) for (yi, qi, wi), ci in zip(rows, c) if wi > 0]
    total = sum(wi for _, _, wi, _ in rows_c)
    ybar = Fraction(sum(wi * yi for yi, _, wi, _ in rows_c), total)
    if score == "brier":
        s = sum(wi * (qi - yi) ** 2 for yi, qi, wi, _ in rows_c) / total
        s_c = sum(wi * (ci - yi) ** 2 for yi, _, wi, ci in rows_c) / total
        unc = ybar * (1 - ybar)
    else:

        def loss(yi, p):
            return -mp_log(p if yi else 1 - p)

        s = sum(wi * loss(yi, qi) for yi, qi, wi, _ in rows_c) / total
        s_c = sum(wi * loss(yi, ci) for yi, _, wi, ci in rows_c) / total
        unc = -mp_xlogx(ybar) - mp_xlogx(1 - ybar)
    return s, s - s_c, unc - s_c, unc


def assert_close(actual, expected, scale, rtol):
    assert abs(float(actual) - float(expected)) <= rtol * float(scale), (
        actual,
        expected,
    )


def assert_identity(d, rtol=1e-12):
    scale = max(abs(d.score), d.uncertainty, abs(d.miscalibration))
    residual = d.miscalibration - d.discrimination + d.uncertainty - d.score
    assert abs(residual) <= rtol * scale, d
    assert abs(d.score - d.miscalibration - d.refinement) <= rtol * scale, d
    assert abs(d.uncertainty - d.discrimination - d.refinement) <= rtol * scale, d


def assert_same(a, b, rtol=1e-12):
    for name in NUMERIC:
        x, y = getattr(a, name), getattr(b, name)
        if x is None or y is None:
            assert x is y, name
        else:
            assert x == pytest.approx(y, rel=rtol, abs=rtol * 1e-3), name


def tied_data(seed, n=30, grid=8, weights=True):
    """Forecasts on a coarse grid (many exact ties), no certain wrong forecast."""
    rng = np.random.default_rng(seed)
    q = rng.integers(1, grid, n) / grid
    y = (rng.uniform(size=n) < q**1.5).astype(np.int64)
    w = rng.integers(0, 4, n) if weights else np.ones(n, dtype=np.int64)
    w[0] = max(w[0], 1)
    return y, q, w


# --- model-diagnostics (binary, no near-ties) -------------------------------------


@pytest.mark.parametrize(
    ("score", "scoring_function"), [("log", LogLoss()), ("brier", SquaredError())]
)
@pytest.mark.parametrize("weighted", [False, True])
def test_binary_matches_model_diagnostics(
    binary_forecasts, score, scoring_function, weighted
):
    y, p, w = binary_forecasts
    w = w + 1 if weighted else None  # positive weights for scikit-learn's PAV
    d = decompose(y, p, score=score, sample_weight=w)
    ref = md_decompose(y, p, weights=w, scoring_function=scoring_function).row(
        0, named=True
    )
    scale = max(ref["score"], ref["uncertainty"])
    for name in ("score", "miscalibration", "discrimination", "uncertainty"):
        assert_close(getattr(d, name), ref[name], scale, 1e-10)
    assert d.exact
    assert d.estimator == "CORP (PAV recalibration), exact"


def test_binary_log_score_matches_sklearn(binary_forecasts):
    y, p, w = binary_forecasts
    d = decompose(y, p, sample_weight=w)
    assert d.score == pytest.approx(sklearn_log_loss(y, p, sample_weight=w), rel=1e-13)


# --- exact fractions and 50-digit references ---------------------------------------

# Hand-worked case. Distinct forecasts and their (weighted) outcomes:
#   1/8: one 0 (w 1)                      -> frequency 0
#   1/4: 1 with w 3, 0 with w 1           -> 3/4 on weight 4
#   1/2: 0 with w 2, 1 with w 4           -> 2/3 on weight 6   (violates 3/4)
#   3/4: 1 with w 1; 7/8: 1 with w 2      -> 1
# PAV pools 1/4 and 1/2: (3 + 4) / (4 + 6) = 7/10, so c = 0, 7/10, 7/10, 1, 1.
HAND_Y = [0, 1, 0, 0, 1, 1, 1]
HAND_Q = [0.125, 0.25, 0.25, 0.5, 0.5, 0.75, 0.875]
HAND_W = [1, 3, 1, 2, 4, 1, 2]
HAND_C = [Fraction(0), *[Fraction(7, 10)] * 4, Fraction(1), Fraction(1)]


def test_hand_case_brier_in_fractions():
    rows = list(zip(HAND_Y, map(Fraction, HAND_Q), HAND_W, HAND_C, strict=True))
    total = sum(HAND_W)
    score = sum(w * (q - y) ** 2 for y, q, w, _ in rows) / total
    refinement = sum(w * (c - y) ** 2 for y, _, w, c in rows) / total
    ybar = Fraction(sum(w * y for y, _, w, _ in rows), total)
    uncertainty = ybar * (1 - ybar)
    d = decompose(HAND_Y, HAND_Q, score="brier", sample_weight=HAND_W)
    expected = {
        "score": score,
        "refinement": refinement,
        "uncertainty": uncertainty,
        "miscalibration": score - refinement,
        "discrimination": uncertainty - refinement,
    }
    for name, value in expected.items():
        assert getattr(d, name) == pytest.approx(float(value), rel=1e-15), name


def test_hand_case_log_in_50_digits():
    total = sum(HAND_W)

    def mean_loss(probabilities):
        return (
            sum(
                -w * mp_log(p if y else 1 - p)
                for y, p, w in zip(HAND_Y, probabilities, HAND_W, strict=True)
            )
            / total
        )

    score = mean_loss([Fraction(q) for q in HAND_Q])
    refinement = mean_loss(HAND_C)
    ybar = Fraction(sum(w * y for y, w in zip(HAND_Y, HAND_W, strict=True)), total)
    uncertainty = -mp_xlogx(ybar) - mp_xlogx(1 - ybar)
    # refinement is the entropy part: weighted mean of H(c) over rows.
    entropy_part = (
        sum(w * (-mp_xlogx(c) - mp_xlogx(1 - c)) for c, w in zip(HAND_C, HAND_W))
        / total
    )
    assert abs(entropy_part - refinement) < mpmath.mpf(10) ** -40
    d = decompose(HAND_Y, HAND_Q, sample_weight=HAND_W)
    for name, value in {
        "score": score,
        "refinement": refinement,
        "uncertainty": uncertainty,
        "miscalibration": score - refinement,
        "discrimination": uncertainty - refinement,
    }.items():
        assert getattr(d, name) == pytest.approx(float(value), rel=1e-14), name


def test_weighted_repeats_match_hand_case():
    y = np.repeat(HAND_Y, HAND_W)
    q = np.repeat(HAND_Q, HAND_W)
    for score in ("log", "brier"):
        assert_same(
            decompose(y, q, score=score),
            decompose(HAND_Y, HAND_Q, score=score, sample_weight=HAND_W),
        )


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("score", ["log", "brier"])
def test_binary_matches_brute_force_pav_with_ties(seed, score):
    y, q, w = tied_data(seed, grid=[4, 6, 8, 16][seed % 4])
    s, mcb, dsc, unc = reference_binary(y, q, w, score)
    d = decompose(y, q, score=score, sample_weight=w)
    scale = max(float(s), float(unc))
    assert_close(d.score, s, scale, 1e-13)
    assert_close(d.miscalibration, mcb, scale, 1e-13)
    assert_close(d.discrimination, dsc, scale, 1e-13)
    assert_close(d.uncertainty, unc, scale, 1e-14)
    assert d.miscalibration >= 0
    assert d.discrimination >= 0


def test_log_refinement_is_mean_entropy_and_discrimination_mean_kl():
    y, q, w = tied_data(3)
    c = brute_pav(q, y, w)
    kept = [(ci, wi) for ci, wi in zip(c, w) if wi > 0]
    total = sum(wi for _, wi in kept)
    ybar = Fraction(sum(int(wi) * int(yi) for yi, wi in zip(y, w)), total)

    def kl(a, b):
        return mp_xlogx(a) + mp_xlogx(1 - a) - a * mp_log(b) - (1 - a) * mp_log(1 - b)

    mean_entropy = sum(wi * (-mp_xlogx(ci) - mp_xlogx(1 - ci)) for ci, wi in kept)
    mean_kl = sum(wi * kl(ci, ybar) for ci, wi in kept)
    d = decompose(y, q, sample_weight=w)
    assert d.refinement == pytest.approx(float(mean_entropy / total), rel=1e-14)
    assert d.discrimination == pytest.approx(float(mean_kl / total), rel=1e-13)


def test_miscalibration_exceeds_mean_kl_of_c_from_q():
    # One PAV block holding two different forecasts: MCB > mean KL(c || q).
    y, q = [1, 0, 1, 0], [0.2, 0.4, 0.6, 0.8]
    c = [Fraction(1, 2)] * 4  # PAV pools everything: frequencies 1, 0, 1, 0

    def kl(a, b):
        return mp_xlogx(a) + mp_xlogx(1 - a) - a * mp_log(b) - (1 - a) * mp_log(1 - b)

    mean_kl = sum(kl(ci, Fraction(qi)) for ci, qi in zip(c, q)) / 4
    d = decompose(y, q)
    assert d.miscalibration > float(mean_kl) + 0.01
    # With q constant on the block, the two agree: MCB = KL(ybar || q).
    d = decompose(y, [0.3] * 4)
    assert d.miscalibration == pytest.approx(float(kl(Fraction(1, 2), Fraction(0.3))))


def test_constant_forecast_closed_form():
    y = np.array([1, 0, 0, 1, 0, 0, 0, 1])  # base rate 3/8
    for a in (0.1, 0.375, 0.9):
        d = decompose(y, np.full(8, a))
        ybar = 3 / 8
        h = -ybar * np.log(ybar) - (1 - ybar) * np.log(1 - ybar)
        kl = ybar * np.log(ybar / a) + (1 - ybar) * np.log((1 - ybar) / (1 - a))
        assert d.discrimination == 0
        assert d.uncertainty == pytest.approx(h, rel=1e-15)
        assert d.miscalibration == pytest.approx(kl, rel=1e-12, abs=1e-300)
        b = decompose(y, np.full(8, a), score="brier")
        assert b.miscalibration == pytest.approx((a - ybar) ** 2, rel=1e-12, abs=1e-300)
        assert b.uncertainty == pytest.approx(ybar * (1 - ybar), rel=1e-15)


def test_tiny_miscalibration_keeps_relative_accuracy():
    # q = ybar (1 + 1e-6): MCB = KL(ybar || q) ~ 1e-13, far below the rounding
    # error of score - refinement (~1e-16 * 0.7); computed directly it stays
    # accurate to ~1e-10 relative.
    y = np.array([1] * 3 + [0] * 7)
    a = mpmath.mpf("0.3") * (1 + mpmath.mpf("1e-6"))
    q = float(a)
    ybar, qq = mpmath.mpf(3) / 10, mpmath.mpf(q)
    kl = ybar * mpmath.log(ybar / qq) + (1 - ybar) * mpmath.log((1 - ybar) / (1 - qq))
    d = decompose(y, np.full(10, q))
    assert 1e-14 < float(kl) < 1e-12
    assert d.miscalibration == pytest.approx(float(kl), rel=1e-8)


def test_tiny_discrimination_keeps_relative_accuracy():
    # Two blocks whose frequencies differ by ~1e-7: DSC ~ 1e-15.
    eps = 2e-7
    y = [1, 0, 1, 0]
    q = [0.2, 0.2, 0.8, 0.8]
    w = [1.0, 1.0, 1.0 + eps, 1.0]
    W = [mpmath.mpf(v) for v in w]
    total = sum(W)
    ybar = (W[0] + W[2]) / total
    c = [W[0] / (W[0] + W[1]), W[2] / (W[2] + W[3])]
    block = [W[0] + W[1], W[2] + W[3]]

    def kl(a, b):
        return a * mpmath.log(a / b) + (1 - a) * mpmath.log((1 - a) / (1 - b))

    dsc = sum(bw * kl(ci, ybar) for bw, ci in zip(block, c)) / total
    d = decompose(y, q, sample_weight=w)
    assert 1e-16 < float(dsc) < 1e-14
    assert d.discrimination == pytest.approx(float(dsc), rel=1e-6)


# --- identities and signs (hypothesis) --------------------------------------------

probabilities = st.one_of(
    st.floats(0, 1),
    st.integers(0, 8).map(lambda k: k / 8),  # exact ties
    st.sampled_from([5e-324, 1e-300, 1 - 2**-53, 0.5]),
)


@st.composite
def binary_samples(draw, max_size=30):
    n = draw(st.integers(1, max_size))
    q = draw(st.lists(probabilities, min_size=n, max_size=n))
    y = draw(st.lists(st.integers(0, 1), min_size=n, max_size=n))
    w = draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))
    w[0] = max(w[0], 1)
    return np.array(y), np.array(q), np.array(w)


@settings(max_examples=60, deadline=None)
@given(data=binary_samples(), score=st.sampled_from(["log", "brier"]))
def test_identity_and_signs_hold_on_random_binary_data(data, score):
    y, q, w = data
    wrong = (w > 0) & (((y == 1) & (q == 0)) | ((y == 0) & (q == 1)))
    if score == "log" and wrong.any():
        with pytest.warns(CalibrationWarning, match=f"{wrong.sum()} rows"):
            d = decompose(y, q, sample_weight=w, labels=[0, 1])
        assert d.score == np.inf
        assert d.miscalibration == np.inf
        assert np.isfinite(d.discrimination)
        assert np.isfinite(d.refinement)
    else:
        d = decompose(y, q, score=score, sample_weight=w, labels=[0, 1])
        assert_identity(d)
        assert d.miscalibration >= 0
    assert d.discrimination >= 0
    assert 0 <= d.refinement <= d.uncertainty * (1 + 1e-15)


@settings(max_examples=25, deadline=None)
@given(data=binary_samples(max_size=12), score=st.sampled_from(["log", "brier"]))
def test_binary_matches_brute_force_on_random_data(data, score):
    y, q, w = data
    wrong = (w > 0) & (((y == 1) & (q == 0)) | ((y == 0) & (q == 1)))
    q = np.where(wrong, 0.5, q)  # finite scores here; infinities are tested apart
    # 50 digits give ln(1 - q) to 1e-13 relative only for q >= ~1e-35, so
    # smaller forecasts are moved up for this comparison (subnormal forecasts
    # are covered by the identity tests).
    q = np.where((q > 0) & (q < 1e-30), 1e-30, q)
    s, mcb, dsc, unc = reference_binary(y, q, w, score)
    d = decompose(y, q, score=score, sample_weight=w, labels=[0, 1])
    scale = max(float(s), float(unc))
    for name, value in (
        ("score", s),
        ("miscalibration", mcb),
        ("discrimination", dsc),
        ("uncertainty", unc),
    ):
        assert abs(getattr(d, name) - float(value)) <= 1e-13 * scale, name


@settings(max_examples=30, deadline=None)
@given(
    data=binary_samples(),
    score=st.sampled_from(["log", "brier"]),
    n_bins=st.integers(1, 6),
    strategy=st.sampled_from(["uniform", "quantile"]),
)
def test_binned_identities_hold_on_random_binary_data(data, score, n_bins, strategy):
    y, q, w = data
    q = np.clip(q, 1e-3, 1 - 1e-3)  # finite log-loss
    d = decompose(
        y,
        q,
        score=score,
        n_bins=n_bins,
        strategy=strategy,
        sample_weight=w,
        labels=[0, 1],
    )
    assert_identity(d)
    scale = max(d.score, d.uncertainty)
    binned = d.reliability - d.resolution + d.uncertainty + d.within_bin
    assert abs(binned - d.score) <= 1e-12 * scale
    assert d.discrimination == d.resolution
    if score == "brier":
        stephenson = (
            d.reliability
            - d.resolution
            + d.uncertainty
            + d.within_bin_variance
            - d.within_bin_covariance
        )
        assert abs(stephenson - d.score) <= 1e-12 * scale
    assert d.reliability >= 0
    assert d.resolution >= 0


def test_identity_at_scale():
    rng = np.random.default_rng(7)
    q = rng.uniform(size=200_000) ** 2
    y = (rng.uniform(size=q.shape[0]) < q**0.8).astype(int)
    for score in ("log", "brier"):
        assert_identity(decompose(y, q, score=score))


# --- binned: definitions, row by row ---------------------------------------------


def binned_reference(y, q, w, edges):
    """REL, RES, UNC, WBV, WBC in fractions (Brier) straight from the sums."""
    last = len(edges) - 2

    def bin_of(v):
        return next(
            b
            for b in range(last + 1)
            if edges[b] <= v < edges[b + 1] or (b == last and v == edges[-1])
        )

    rows = [
        (Fraction(int(yi)), Fraction(float(qi)), Fraction(int(wi)), bin_of(qi))
        for yi, qi, wi in zip(y, q, w)
        if wi > 0
    ]
    total = sum(r[2] for r in rows)
    ybar = sum(wi * yi for yi, _, wi, _ in rows) / total
    rel = res = wbv = wbc = Fraction(0)
    for b in {r[3] for r in rows}:
        members = [r for r in rows if r[3] == b]
        wb = sum(r[2] for r in members)
        yb = sum(wi * yi for yi, _, wi, _ in members) / wb
        qb = sum(wi * qi for _, qi, wi, _ in members) / wb
        rel += wb * (qb - yb) ** 2
        res += wb * (yb - ybar) ** 2
        wbv += sum(wi * (qi - qb) ** 2 for _, qi, wi, _ in members)
        wbc += 2 * sum(wi * (yi - yb) * (qi - qb) for yi, qi, wi, _ in members)
    score = sum(wi * (qi - yi) ** 2 for yi, qi, wi, _ in rows) / total
    return {
        "score": score,
        "reliability": rel / total,
        "resolution": res / total,
        "uncertainty": ybar * (1 - ybar),
        "within_bin_variance": wbv / total,
        "within_bin_covariance": wbc / total,
    }


@pytest.mark.parametrize("seed", range(4))
def test_binned_brier_matches_stephenson_definitions(seed):
    rng = np.random.default_rng(seed)
    q = rng.integers(0, 64, 25) / 64  # exact binary fractions, ties and bin edges
    y = (rng.uniform(size=25) < q).astype(int)
    w = rng.integers(0, 3, 25)
    w[0] = 1
    d = decompose(y, q, score="brier", strategy="uniform", n_bins=4, sample_weight=w)
    ref = binned_reference(y, q, w, [Fraction(k, 4) for k in range(5)])
    for name, value in ref.items():
        assert getattr(d, name) == pytest.approx(float(value), rel=1e-13, abs=1e-16)
    # Stephenson et al.'s identity, checked in exact arithmetic on the reference.
    assert ref["score"] == (
        ref["reliability"]
        - ref["resolution"]
        + ref["uncertainty"]
        + ref["within_bin_variance"]
        - ref["within_bin_covariance"]
    )


def test_binned_log_matches_definitions_in_50_digits():
    rng = np.random.default_rng(11)
    q = rng.integers(1, 64, 30) / 64
    y = (rng.uniform(size=30) < q).astype(int)
    edges = [Fraction(k, 5) for k in range(6)]
    bins = [min(int(Fraction(float(v)) * 5), 4) for v in q]  # no q on an inner edge
    assert all(edges[b] <= Fraction(float(v)) < edges[b + 1] for b, v in zip(bins, q))
    n = len(q)
    ybar = Fraction(int(y.sum()), n)

    def loss(yi, p):
        return -mp_log(p if yi else 1 - p)

    def kl(a, b):
        return mp_xlogx(a) + mp_xlogx(1 - a) - a * mp_log(b) - (1 - a) * mp_log(1 - b)

    rel = res = ll_binned = 0
    for b in set(bins):
        members = [i for i in range(n) if bins[i] == b]
        yb = Fraction(int(y[members].sum()), len(members))
        qb = sum(Fraction(float(q[i])) for i in members) / len(members)
        rel += len(members) * kl(yb, qb)
        res += len(members) * kl(yb, ybar)
        ll_binned += sum(loss(y[i], qb) for i in members)
    score = sum(loss(y[i], Fraction(float(q[i]))) for i in range(n)) / n
    d = decompose(y, q, strategy="uniform", n_bins=5)
    assert d.score == pytest.approx(float(score), rel=1e-14)
    assert d.reliability == pytest.approx(float(rel / n), rel=1e-12)
    assert d.resolution == pytest.approx(float(res / n), rel=1e-12)
    assert d.within_bin == pytest.approx(float(score - ll_binned / n), rel=1e-10)
    mcb = rel / n + score - ll_binned / n  # REL + within-bin term
    assert d.miscalibration == pytest.approx(float(mcb), rel=1e-10)
    assert d.within_bin_variance is None
    assert d.estimator == "binning (5 uniform bins), exact"


def mp_binned_log_terms(y, q):
    """REL, RES, within-bin term and score of a single bin, in 50 digits."""
    y = [int(v) for v in y]
    q = [mpmath.mpf(float(v)) for v in q]  # exact binary values
    n = len(y)
    ybar = mpmath.mpf(sum(y)) / n
    qbar = sum(q) / n

    def loss(yi, p):
        return -mpmath.log(p if yi else 1 - p)

    def kl(a, b):
        terms = [a * mpmath.log(a / b) if a else 0]
        terms.append((1 - a) * mpmath.log((1 - a) / (1 - b)) if a != 1 else 0)
        return sum(terms)

    score = sum(loss(yi, qi) for yi, qi in zip(y, q)) / n
    within = score - sum(loss(yi, qbar) for yi in y) / n
    return {"reliability": kl(ybar, qbar), "within_bin": within, "score": score}


@pytest.mark.parametrize(
    "q",
    [
        [1 - 2**-53, 1 - 2**-52],  # bin mean rounds to 1; its complement does not
        [5e-324, 5e-324, 0.0],  # bin mean of subnormals underflows to 0
        [1e-310, 3e-310, 0.25],
    ],
)
def test_binned_log_extreme_bin_means(q):
    y = [0, 1] if len(q) == 2 else [1, 1, 0]
    d = decompose(y, q, strategy="uniform", n_bins=1)
    for name, value in mp_binned_log_terms(y, q).items():
        assert getattr(d, name) == pytest.approx(float(value), rel=1e-12), name
    assert_identity(d)


def test_binned_quantile_bins_hold_equal_mass():
    q = np.arange(1, 101) / 101
    y = np.arange(100) % 2
    d = decompose(y, q, score="brier", n_bins=4, strategy="quantile")
    edges = [Fraction(float(q[0])), *(Fraction(float(q[k])) for k in (25, 50, 75))]
    edges.append(Fraction(float(q[-1])))
    ref = binned_reference(y, q, np.ones(100, dtype=int), edges)
    for name, value in ref.items():
        assert getattr(d, name) == pytest.approx(float(value), rel=1e-13, abs=1e-16)


def test_binned_certain_wrong_forecast_is_infinite_miscalibration():
    y = [1, 0, 1, 1]
    q = [0.0, 0.0, 0.6, 0.9]
    with pytest.warns(CalibrationWarning, match="1 rows"):
        d = decompose(y, q, strategy="uniform", n_bins=2)
    assert d.score == np.inf
    assert d.miscalibration == np.inf
    assert np.isfinite(d.discrimination)
    assert np.isfinite(d.uncertainty)


# --- certain wrong forecasts -------------------------------------------------------


def test_certain_wrong_forecast_is_infinite_and_warns():
    y = [1, 0, 1, 0, 1, 0]
    q = [0.0, 1.0, 0.7, 0.2, 0.9, 0.4]
    with pytest.warns(CalibrationWarning, match=r"2 rows .*first at rows 0, 1"):
        d = decompose(y, q)
    assert d.score == np.inf
    assert d.miscalibration == np.inf
    assert np.isfinite(d.discrimination)
    assert np.isfinite(d.uncertainty)
    assert np.isfinite(d.refinement)
    # The identity in the extended sense.
    assert d.miscalibration - d.discrimination + d.uncertainty == d.score
    # The finite parts are those of the PAV fit, as without the infinite rows.
    _, _, dsc, unc = reference_binary(y, q, [1] * 6, "brier")
    b = decompose(y, q, score="brier")
    assert b.discrimination == pytest.approx(float(dsc), rel=1e-14)
    assert b.uncertainty == pytest.approx(float(unc), rel=1e-14)


@pytest.mark.parametrize("memory_budget", [None, 1024])
def test_certain_wrong_forecast_with_zero_weight_is_ignored(memory_budget):
    """Also out of core (memory_budget below 8 bytes a row), where the
    zero-weight rows' infinite terms were multiplied by 0 with a warning."""
    y = np.array([1, 0, 1, 0, 1, 1] * 50)
    # Row 4 (weight 0, an event) falls in the block of rows 1 and 3, whose
    # recalibrated value is 0: its log ratio ln(0 / 0.2) is -inf.
    q = np.array([0.0, 0.3, 0.6, 0.1, 0.2, 0.8] * 50)
    w = np.array([0, 1, 1, 1, 0, 1] * 50)
    # No warning: filterwarnings = error.
    d = decompose(y, q, sample_weight=w, memory_budget=memory_budget)
    assert_same(d, decompose(y[w > 0], q[w > 0]))


def test_multiclass_certain_wrong_forecast():
    y = [2, 1, 2, 0]
    P = [[0.5, 0.5, 0.0], [0.2, 0.7, 0.1], [0.1, 0.1, 0.8], [0.3, 0.3, 0.4]]
    for multiclass in ("classwise", "top_label"):
        with pytest.warns(CalibrationWarning, match=r"1 rows .*first at rows 0"):
            d = decompose(y, P, multiclass=multiclass)
        assert d.score == np.inf
        assert d.miscalibration == np.inf
        assert np.isfinite(d.discrimination)
        assert np.isfinite(d.refinement)


# --- invariances --------------------------------------------------------------------

CONFIGS = [
    {"score": "log"},
    {"score": "brier"},
    {"score": "log", "strategy": "uniform"},
    {"score": "brier", "strategy": "quantile", "n_bins": 7},
]
MULTICLASS_CONFIGS = [
    {"score": s, "multiclass": m, "strategy": strategy}
    for s, m, strategy in itertools.product(
        ["log", "brier"], ["classwise", "top_label"], ["isotonic", "uniform"]
    )
]


@pytest.mark.parametrize("config", CONFIGS)
def test_weights_equal_repeated_rows_binary(binary_forecasts, config):
    y, p, w = binary_forecasts
    weighted = decompose(y, p, sample_weight=w, **config)
    repeated = decompose(np.repeat(y, w), np.repeat(p, w), **config)
    assert_same(weighted, repeated)


@pytest.mark.parametrize("config", CONFIGS)
def test_weights_equal_repeated_rows_with_ties(config):
    y, q, w = tied_data(5, n=60)
    assert_same(
        decompose(y, q, sample_weight=w, **config),
        decompose(np.repeat(y, w), np.repeat(q, w), **config),
    )


@pytest.mark.parametrize("config", MULTICLASS_CONFIGS)
def test_weights_equal_repeated_rows_multiclass(multiclass_forecasts, config):
    y, P, w = multiclass_forecasts
    assert_same(
        decompose(y, P, sample_weight=w, **config),
        decompose(np.repeat(y, w), np.repeat(P, w, axis=0), **config),
    )


@pytest.mark.parametrize("config", CONFIGS)
def test_row_order_does_not_matter_binary(binary_forecasts, config):
    y, p, w = binary_forecasts
    order = np.random.default_rng(0).permutation(y.shape[0])
    assert_same(
        decompose(y, p, sample_weight=w, **config),
        decompose(y[order], p[order], sample_weight=w[order], **config),
    )


@pytest.mark.parametrize("config", MULTICLASS_CONFIGS)
def test_row_order_does_not_matter_multiclass(multiclass_forecasts, config):
    y, P, w = multiclass_forecasts
    order = np.random.default_rng(1).permutation(y.shape[0])
    assert_same(
        decompose(y, P, sample_weight=w, **config),
        decompose(y[order], P[order], sample_weight=w[order], **config),
    )


@pytest.mark.parametrize("config", CONFIGS + MULTICLASS_CONFIGS[::3])
def test_float32_equals_its_float64_values(
    binary_forecasts, multiclass_forecasts, config
):
    y, p, w = multiclass_forecasts if "multiclass" in config else binary_forecasts
    p32 = p.astype(np.float32)
    if p32.ndim == 2:
        p32 /= p32.sum(axis=1, keepdims=True)
    d32 = decompose(y, p32, sample_weight=w, **config)
    d64 = decompose(y, p32.astype(np.float64), sample_weight=w, **config)
    assert_same(d32, d64, rtol=1e-13)
    assert_identity(d32)


@pytest.mark.parametrize("first", [0.9, 1.0])
@pytest.mark.parametrize("tiny", [5e-324, 1e-310, 1e-300])
def test_binary_weight_near_zero_is_continuous(first, tiny):
    # A tied block whose only event has a subnormal weight: its recalibrated
    # c is ~1e-324, and ln(c / q) = log1p((c - q) / q) = log1p(-1) = -inf
    # (regression: -inf + inf = NaN for the score and MCB with q = 1 for a
    # non-event). A weight -> 0 must give the zero-weight result.
    y = [0, 1, 1, 0, 1, 0]
    q = np.array([first, 1.0, 1.0, 0.5, 0.5, 0.5])
    w = np.array([2, 2, 1, 3, tiny, 3])
    w0 = np.where(w == tiny, 0.0, w)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CalibrationWarning)  # certain and wrong
        got = decompose(y, q, sample_weight=w)
        limit = decompose(y, q, sample_weight=w0)
    names = ("score", "miscalibration", "discrimination", "uncertainty", "refinement")
    for name in names:
        a, b = getattr(got, name), getattr(limit, name)
        assert a == b or abs(a - b) <= 1e-290, name
    assert np.isinf(got.score) == (first == 1.0)


@pytest.mark.parametrize("light", [1e-17, 1e-20, 1e-100, 5e-324])
@pytest.mark.parametrize("score", ["log", "brier"])
def test_binary_light_non_event_in_a_heavy_block(light, score):
    # PAV pools the light non-event with five events: c = 5 / (5 + 1e-20)
    # rounded to 1, its ln(1 - c) was -inf, and max(MCB, 0) turned the -inf
    # into a silent score of 0 (regression). The score is the mean loss.
    q = np.array([0.9, 0.2, 0.6, 0.3, 0.8, 0.1])
    y = np.array([1, 0, 1, 1, 1, 1])
    w = np.array([1.0, light, 1.0, 1.0, 1.0, 1.0])
    d = decompose(y, q, score=score, sample_weight=w)
    if score == "log":
        expected = sklearn_log_loss(y, q, sample_weight=w, labels=[0, 1])
    else:
        expected = np.average((q - y) ** 2, weights=w)
    assert d.score == pytest.approx(expected, rel=1e-14)
    assert_identity(d)
    limit = decompose(y, q, score=score, sample_weight=np.where(w < 1, 0.0, w))
    for name in ("miscalibration", "discrimination", "refinement"):
        assert getattr(d, name) == pytest.approx(getattr(limit, name), abs=1e-15)


@pytest.mark.parametrize(
    ("q", "infinite"),
    [([0.0, 0.0], "reliability"), ([0.0, 0.05], "within_bin")],
)
def test_binned_log_infinite_terms_are_the_documented_ones(q, infinite):
    # A forecast of 0 for an event: the bin mean is 0 as well (REL = KL(1/2
    # || 0) = inf) or it is not (REL finite, the within-bin term inf).
    with pytest.warns(CalibrationWarning, match="probability 0 to the observed"):
        d = decompose([1, 0], np.array(q), strategy="uniform")
    assert d.score == d.miscalibration == np.inf
    assert getattr(d, infinite) == np.inf
    other = {"reliability", "within_bin"} - {infinite}
    assert np.isfinite(getattr(d, other.pop()))
    assert np.isfinite(d.resolution)
    assert np.isfinite(d.refinement)


WEIGHT_RATIO_CONFIGS = [
    {"score": "log"},
    {"score": "brier"},
    {"score": "log", "strategy": "uniform", "n_bins": 3},
    {"score": "brier", "strategy": "uniform", "n_bins": 3},
]


@pytest.mark.parametrize("config", WEIGHT_RATIO_CONFIGS)
@pytest.mark.parametrize("light_label", [0, 1])
def test_binary_weights_beyond_the_float_range_apart(config, light_label):
    # Weights 1e200 and 5e-324 in one data set: total - positives rounded the
    # base complement to 0 (regression: infinite discrimination, NaN), the
    # bin complements too. The light row must act like a weight -> 0.
    q = np.array([0.9, 0.2, 0.6, 0.3, 0.8, 0.1])
    y = np.array([1, light_label, 1, 1, 0, 1])
    if light_label == 0:
        y[4] = 1  # the light row is the only negative
    w = np.array([1e200, 5e-324, 3e199, 1e200, 2e200, 1e200])
    got = decompose(y, q, sample_weight=w, **config)
    limit = decompose(y, q, sample_weight=np.where(w < 1, 0.0, w), **config)
    names = ("score", "miscalibration", "discrimination", "uncertainty", "refinement")
    for name in names:
        a, b = getattr(got, name), getattr(limit, name)
        assert np.isfinite(a), name
        assert abs(a - b) <= 1e-290 + 1e-15 * abs(b), name


@pytest.mark.parametrize("multiclass", ["classwise", "top_label"])
@pytest.mark.parametrize(
    "binning",
    [{}, {"strategy": "uniform", "n_bins": 2}, {"strategy": "uniform", "n_bins": 5}],
)
@pytest.mark.parametrize("score", ["log", "brier"])
def test_multiclass_subnormal_weight_of_a_class(multiclass, binning, score):
    # The light row is the only one of its class in its bin/block: its
    # in-sample frequency 5e-324 / 2 rounded to 0 (regression: refinement
    # inf, MCB = inf - inf = NaN, or an overflow warning in c_other / c_y, F7).
    P = np.array(
        [
            [0.5, 0.3, 0.2],
            [0.2, 0.5, 0.3],
            [0.3, 0.3, 0.4],
            [0.1, 0.1, 0.8],
            [0.6, 0.2, 0.2],
        ]
    )
    y = np.array([0, 2, 2, 0, 1])
    w = np.array([1e200, 5e-324, 1e200, 3e199, 1e200])
    kwargs = {"score": score, "multiclass": multiclass, **binning}
    got = decompose(y, P, sample_weight=w, **kwargs)
    limit = decompose(y, P, sample_weight=np.where(w < 1, 0.0, w), **kwargs)
    names = ("score", "miscalibration", "discrimination", "uncertainty", "refinement")
    for name in names:
        a, b = getattr(got, name), getattr(limit, name)
        assert np.isfinite(a), name
        assert abs(a - b) <= 1e-290 + 1e-14 * max(abs(b), got.score), name


@pytest.mark.parametrize("light", [1e-20, 5e-324])
@pytest.mark.parametrize("multiclass", ["classwise", "top_label"])
@pytest.mark.parametrize("binning", [{}, {"strategy": "uniform", "n_bins": 2}])
def test_multiclass_light_error_among_heavy_correct_rows(light, multiclass, binning):
    # The light row (class 1) is the only error in a block of correct class-0
    # predictions: its top-label c rounded to 1 and -ln(1 - c) = inf gave
    # refinement inf and MCB 0 or -inf (regression); class-wise, its c_y of
    # 5e-324 overflowed c_other / c_y.
    P = np.array(
        [
            [0.7, 0.2, 0.1],
            [0.7, 0.2, 0.1],
            [0.6, 0.3, 0.1],
            [0.2, 0.5, 0.3],
            [0.1, 0.2, 0.7],
        ]
    )
    y = np.array([0, 1, 0, 1, 2])
    w = np.array([1.0, light, 1.0, 1.0, 1.0])
    kwargs = {"multiclass": multiclass, **binning}
    d = decompose(y, P, sample_weight=w, **kwargs)
    expected = sklearn_log_loss(y, P, sample_weight=w)
    assert d.score == pytest.approx(expected, rel=1e-14)
    limit = decompose(y, P, sample_weight=np.where(w < 1, 0.0, w), **kwargs)
    for name in ("miscalibration", "discrimination", "uncertainty", "refinement"):
        assert getattr(d, name) == pytest.approx(getattr(limit, name), abs=1e-15)


def test_multiclass_binned_subnormal_weight_keeps_refinement_finite():
    # F7's case: a certain-wrong row (infinite score and MCB, documented) and
    # a row of weight 5e-324 alone with its class in a quantile bin.
    P = np.array([[0.0, 0.0, 0.25, 0.75], [0.15, 0.45, 0.4, 0.0], [0.2, 0.6, 0.2, 0.0]])
    for multiclass in ("classwise", "top_label"):
        with pytest.warns(CalibrationWarning, match="probability 0 to the observed"):
            d = decompose(
                [1, 0, 1],
                P,
                sample_weight=[1, 1, 5e-324],
                labels=[0, 1, 2, 3],
                strategy="quantile",
                n_bins=2,
                multiclass=multiclass,
            )
        assert d.score == d.miscalibration == np.inf
        assert np.isfinite(d.refinement)
        assert d.refinement >= 0
        assert np.isfinite(d.discrimination)


def test_zero_weight_rows_are_dropped(binary_forecasts, multiclass_forecasts):
    for y, p, w in (binary_forecasts, multiclass_forecasts):
        kept = w > 0
        assert_same(
            decompose(y, p, sample_weight=w),
            decompose(y[kept], p[kept], sample_weight=w[kept]),
        )


def test_inputs_are_not_modified(binary_forecasts, multiclass_forecasts):
    for y, p, w in (binary_forecasts, multiclass_forecasts):
        copies = [y.copy(), p.copy(), w.copy()]
        for config in CONFIGS + MULTICLASS_CONFIGS:
            if "multiclass" in config and p.ndim == 1:
                continue
            decompose(y, p, sample_weight=w, **config)
        for before, after in zip(copies, (y, p, w)):
            np.testing.assert_array_equal(before, after)


def test_pandas_polars_lists_and_string_labels(binary_forecasts):
    y, p, w = binary_forecasts
    expected = decompose(y, p, sample_weight=w)
    labels = np.where(y == 1, "spam", "ham")
    for yy, pp, ww in (
        (pd.Series(y), pd.Series(p), pd.Series(w)),
        (pl.Series(y), pl.Series(p), pl.Series(w)),
        (y.tolist(), p.tolist(), w.tolist()),
        (labels, p, w),
    ):
        assert_same(decompose(yy, pp, sample_weight=ww), expected)
    # pos_label says which class p refers to.
    flipped = decompose(labels, 1 - p, sample_weight=w, pos_label="ham")
    assert flipped.uncertainty == pytest.approx(expected.uncertainty, rel=1e-15)


# --- multiclass ---------------------------------------------------------------------


def entropy_of_frequencies(y, w, n_classes):
    counts = np.bincount(y, weights=w, minlength=n_classes)
    p = counts / counts.sum()
    return float(-np.sum(p[p > 0] * np.log(p[p > 0]))), float(np.sum(p * (1 - p)))


@pytest.mark.parametrize("config", MULTICLASS_CONFIGS)
def test_multiclass_score_and_uncertainty_are_exact(multiclass_forecasts, config):
    y, P, w = multiclass_forecasts
    d = decompose(y, P, sample_weight=w, **config)
    h, gini = entropy_of_frequencies(y, w, 4)
    if config["score"] == "log":
        assert d.score == pytest.approx(
            sklearn_log_loss(y, P, sample_weight=w), rel=1e-13
        )
        assert d.uncertainty == pytest.approx(h, rel=1e-14)
    else:
        onehot = np.eye(4)[y]
        brier = np.average(((P - onehot) ** 2).sum(axis=1), weights=w)
        assert d.score == pytest.approx(brier, rel=1e-13)
        assert d.uncertainty == pytest.approx(gini, rel=1e-14)
    assert_identity(d)
    assert not d.exact
    assert d.estimator.endswith("estimate")
    assert d.multiclass == config["multiclass"]


@st.composite
def multiclass_samples(draw):
    n = draw(st.integers(1, 20))
    n_classes = draw(st.integers(3, 4))
    grid = draw(st.sampled_from([2, 4, 1000]))
    raw = draw(
        st.lists(
            st.lists(st.integers(0, grid), min_size=n_classes, max_size=n_classes),
            min_size=n,
            max_size=n,
        )
    )
    P = np.array(raw, dtype=float) + 1e-3 * (grid == 1000)
    P[P.sum(axis=1) == 0] = 1
    P /= P.sum(axis=1, keepdims=True)
    y = np.array(draw(st.lists(st.integers(0, n_classes - 1), min_size=n, max_size=n)))
    w = np.array(draw(st.lists(st.integers(0, 3), min_size=n, max_size=n)))
    w[0] = max(w[0], 1)
    return y, P, w


@settings(max_examples=40, deadline=None)
@given(
    data=multiclass_samples(),
    score=st.sampled_from(["log", "brier"]),
    multiclass=st.sampled_from(["classwise", "top_label"]),
)
def test_multiclass_identity_and_signs(data, score, multiclass):
    y, P, w = data
    n_classes = P.shape[1]
    observed = P[np.arange(y.shape[0]), y]
    if score == "log" and np.any((observed == 0) & (w > 0)):
        with pytest.warns(CalibrationWarning):
            d = decompose(
                y, P, sample_weight=w, labels=range(n_classes), multiclass=multiclass
            )
        assert d.score == d.miscalibration == np.inf
        assert np.isfinite(d.discrimination)
        return
    d = decompose(
        y,
        P,
        score=score,
        sample_weight=w,
        labels=range(n_classes),
        multiclass=multiclass,
    )
    assert_identity(d)
    scale = max(d.score, d.uncertainty)
    if score == "log" or multiclass == "classwise":  # proved in the Notes
        assert d.miscalibration >= -1e-14 * scale
        assert d.discrimination >= -1e-14 * scale


def project_to_simplex_brute_force(c):
    """Nearest point of the simplex to c: best feasible point over all supports."""
    best, best_distance = None, None
    for size in range(1, len(c) + 1):
        for support in itertools.combinations(range(len(c)), size):
            shift = (sum(c[k] for k in support) - 1) / size
            p = [c[k] - shift if k in support else Fraction(0) for k in range(len(c))]
            if min(p) < 0:
                continue
            distance = sum((pk - ck) ** 2 for pk, ck in zip(p, c))
            if best is None or distance < best_distance:
                best, best_distance = p, distance
    return best


def classwise_reference(y, P, w, score):
    n, n_classes = P.shape
    columns = [brute_pav(P[:, k], (y == k).astype(int), w) for k in range(n_classes)]
    total, s_c = 0, 0
    for i in range(n):
        if w[i] == 0:
            continue
        c = [columns[k][i] for k in range(n_classes)]
        if score == "log":
            loss = -mp_log(c[y[i]] / sum(c))
        else:
            p = project_to_simplex_brute_force(c)
            loss = sum((p[k] - (k == y[i])) ** 2 for k in range(n_classes))
        total += int(w[i])
        s_c += int(w[i]) * loss
    return s_c / total


def top_label_reference(y, P, w, score):
    n, n_classes = P.shape
    predicted = [int(np.argmax(row)) for row in P]
    correct = [int(predicted[i] == y[i]) for i in range(n)]
    f = [None] * n
    for j in set(predicted):
        rows = [i for i in range(n) if predicted[i] == j]
        fit = brute_pav(P[rows, j], [correct[i] for i in rows], w[rows])
        for i, fi in zip(rows, fit):
            f[i] = fi
    best = 0
    total = sum(int(v) for v in w)
    for j in set(predicted):
        rows = [i for i in range(n) if predicted[i] == j and w[i] > 0]
        errors = [0] * n_classes
        for i in rows:
            if not correct[i]:
                errors[y[i]] += int(w[i])
        n_errors = sum(errors)
        error_shares = [
            Fraction(e, n_errors) if n_errors else Fraction(0) for e in errors
        ]
        options = []
        for like_q in (True, False):
            option_loss = 0
            for i in rows:
                rest = [
                    Fraction(float(P[i, k])) if k != j else 0 for k in range(n_classes)
                ]
                shares = error_shares
                if like_q and sum(rest) > 0:
                    shares = [r / sum(rest) for r in rest]
                c = [(1 - f[i]) * s for s in shares]
                c[j] = f[i]
                if score == "log":
                    loss = mpmath.inf if c[y[i]] == 0 else -mp_log(c[y[i]])
                else:
                    loss = sum((c[k] - (k == y[i])) ** 2 for k in range(n_classes))
                option_loss += int(w[i]) * loss
            options.append(option_loss)
        best += min(options)
    return best / total


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("score", ["log", "brier"])
@pytest.mark.parametrize("multiclass", ["classwise", "top_label"])
def test_multiclass_refinement_matches_brute_force(seed, score, multiclass):
    rng = np.random.default_rng(100 + seed)
    n, n_classes = 18, 3 + seed % 2
    P = rng.integers(1, 5, (n, n_classes)).astype(float)  # exact ties
    P /= P.sum(axis=1, keepdims=True)
    if seed % 3 == 0:
        P[0] = np.eye(n_classes)[0]  # a row with no mass outside its top class
    y = np.array([rng.choice(n_classes, p=row) for row in P])
    y[0] = 0
    w = rng.integers(0, 3, n)
    w[0] = 1
    reference = (
        classwise_reference if multiclass == "classwise" else top_label_reference
    )
    expected = reference(y, P, w, score)
    d = decompose(y, P, score=score, multiclass=multiclass, sample_weight=w)
    assert d.refinement == pytest.approx(float(expected), rel=1e-13)


def test_sharp_multiclass_forecasts_keep_their_accuracy():
    # Forecasts within 1e-9 of the truth: the scores are ~1e-18 (Brier) and
    # ~1e-9 (log); a formula that adds O(1) terms would lose them entirely.
    eps = Fraction(1, 2**30)
    y = np.array([0, 1, 2, 1, 0, 2])
    rows = [[eps if k != yi else 1 - 2 * eps for k in range(3)] for yi in y]
    P = np.array([[float(v) for v in row] for row in rows])
    brier = sum(
        sum((v - (k == yi)) ** 2 for k, v in enumerate(row))
        for yi, row in zip(y, rows, strict=True)
    ) / len(y)
    log = -mp_log(1 - 2 * eps)
    for multiclass in ("classwise", "top_label"):
        b = decompose(y, P, score="brier", multiclass=multiclass)
        assert b.score == pytest.approx(float(brier), rel=1e-14)
        assert b.refinement == 0  # the recalibrated forecast is the one-hot truth
        d = decompose(y, P, multiclass=multiclass)
        assert d.score == pytest.approx(float(log), rel=1e-14)
        assert d.miscalibration == pytest.approx(float(log), rel=1e-14)


@pytest.mark.parametrize("tiny", [1e-300, 5e-324])
def test_top_label_brier_with_a_subnormal_rest(tiny):
    # Rows whose mass outside the top class is ~1e-300: its square underflows
    # (regression: 0 / 0 in the shares of the rest, a numpy warning, F8).
    P = np.array(
        [
            [tiny, 1.0, 0.0],
            [0.0, 1.0, 0.0],
            [0.5, 0.5, 0.0],
            [0.57, 0.43, 0.0],
            [0.1, 0.2, 0.7],
            [0.0, 2 * tiny, 1.0],
        ]
    )
    y = np.array([0, 1, 1, 0, 2, 1])
    w = np.array([1, 2, 1, 1, 3, 1])
    expected = top_label_reference(y, P, w, "brier")
    d = decompose(y, P, score="brier", multiclass="top_label", sample_weight=w)
    assert d.refinement == pytest.approx(float(expected), rel=1e-13)


@settings(max_examples=15, deadline=None)
@given(
    data=multiclass_samples(),
    score=st.sampled_from(["log", "brier"]),
    multiclass=st.sampled_from(["classwise", "top_label"]),
)
def test_multiclass_refinement_matches_brute_force_on_random_data(
    data, score, multiclass
):
    y, P, w = data
    observed = P[np.arange(y.shape[0]), y]
    if score == "log" and np.any((observed == 0) & (w > 0)):
        return  # infinite score: covered by the certain-wrong tests
    reference = (
        classwise_reference if multiclass == "classwise" else top_label_reference
    )
    expected = float(reference(y, P, w, score))
    d = decompose(
        y,
        P,
        score=score,
        sample_weight=w,
        labels=range(P.shape[1]),
        multiclass=multiclass,
    )
    assert abs(d.refinement - expected) <= 1e-13 * max(d.score, d.uncertainty)


def test_two_column_classwise_equals_binary():
    rng = np.random.default_rng(3)
    q = rng.integers(0, 256, 200) / 256  # 1 - q is exact: same ties both ways
    y = (rng.uniform(size=200) < q).astype(int)
    q = np.clip(q, 1 / 256, 255 / 256)
    P = np.column_stack([1 - q, q])
    for score, factor in (("log", 1), ("brier", 2)):
        binary = decompose(y, q, score=score)
        two = decompose(y, P, score=score, multiclass="classwise")
        for name in ("score", "miscalibration", "discrimination", "uncertainty"):
            assert getattr(two, name) == pytest.approx(
                factor * getattr(binary, name), rel=1e-13
            ), name


def test_one_vs_rest_reading_of_a_1d_forecast(multiclass_forecasts):
    # With pos_label, a 1-D forecast of one class among several is binary.
    y, P, w = multiclass_forecasts
    for score in ("log", "brier"):
        one_vs_rest = decompose(y, P[:, 2], score=score, sample_weight=w, pos_label=2)
        binary = decompose((y == 2).astype(int), P[:, 2], score=score, sample_weight=w)
        assert_same(one_vs_rest, binary, rtol=1e-15)


@pytest.mark.parametrize(
    ("kwargs", "estimator"),
    [
        ({}, "class-wise one-vs-rest CORP (PAV per class, rows projected), estimate"),
        (
            {"multiclass": "top_label"},
            "top-label CORP (PAV per predicted class), estimate",
        ),
        (
            {"n_bins": 5, "strategy": "quantile"},
            "class-wise one-vs-rest binning (5 quantile bins, rows projected), "
            "estimate",
        ),
    ],
)
def test_multiclass_estimator_names(multiclass_forecasts, kwargs, estimator):
    y, P, _ = multiclass_forecasts
    d = decompose(y, P, **kwargs)
    assert d.estimator == estimator
    assert d.n_classes == 4
    assert estimator in repr(d)


def test_classwise_log_positive_for_unseen_class():
    # A class in labels that never occurs: its column recalibrates to 0.
    y = [0, 1, 0, 1]
    P = [[0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.5, 0.4, 0.1], [0.3, 0.5, 0.2]]
    d = decompose(y, P, labels=[0, 1, 2])
    assert_identity(d)
    assert d.miscalibration > 0


# --- the result object -----------------------------------------------------------


def test_result_fields_dict_frame_and_repr(binary_forecasts):
    y, p, _ = binary_forecasts
    d = decompose(y, p, strategy="uniform", score="brier")
    assert isinstance(d, Decomposition)
    as_dict = d.to_dict()
    for name in ("score", "miscalibration", "discrimination", "uncertainty"):
        assert as_dict[name] == getattr(d, name)
    assert as_dict["score_name"] == "brier"
    assert as_dict["strategy"] == "uniform"
    assert as_dict["n_samples"] == 300
    frame = d.to_frame()
    assert frame.shape[0] == 1
    assert frame.loc[0, "within_bin_covariance"] == d.within_bin_covariance
    text = repr(d)
    assert "Brier score" in text
    assert "binning (10 uniform bins), exact" in text
    assert f"within_bin_variance   {d.within_bin_variance:.6g}" in text
    with pytest.raises(AttributeError):
        d.score = 0.0
    iso = decompose(y, p)
    assert iso.reliability is None
    assert iso.within_bin is None
    assert "reliability" not in repr(iso)


# --- bad input -----------------------------------------------------------------------

GOOD_Y = [0, 1, 1, 0]
GOOD_P = [0.2, 0.7, 0.6, 0.4]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (
            {"y_prob": [0.2, np.nan, 0.6, 0.4]},
            ValueError,
            r"y_prob contains non-finite .* rows 1",
        ),
        (
            {"y_prob": [0.2, 1.5, 0.6, 0.4]},
            ValueError,
            r"y_prob must hold probabilities in \[0, 1\]; row 1",
        ),
        ({"y_prob": [0.2, 0.7, 0.6]}, ValueError, "Inconsistent numbers of samples"),
        ({"y_prob": []}, ValueError, "y_prob is empty"),
        ({"y_true": [0, 1, 2, 0]}, ValueError, "y_prob is 1-D .* 3 classes"),
        (
            {"y_true": [0, 1, None, 0]},
            ValueError,
            "y_true contains 1 missing labels; first at row 2",
        ),
        (
            {"sample_weight": [1, -1, 1, 1]},
            ValueError,
            "sample_weight must be non-negative.* row 1",
        ),
        (
            {"sample_weight": [0, 0, 0, 0]},
            ValueError,
            "sample_weight is zero everywhere",
        ),
        ({"sample_weight": [1, 1]}, ValueError, "sample_weight has 2 entries"),
        (
            {"labels": [0, 2]},
            ValueError,
            r"y_true has labels not among .* \[1\] \(first at row 1\)",
        ),
        ({"pos_label": 5}, ValueError, "pos_label=5 is not one of the classes"),
        ({"y_prob": [[0.5, 0.6]] * 4}, ValueError, "y_prob rows must sum to 1"),
        ({"y_prob": [["a"]] * 4}, TypeError, "y_prob must hold numbers"),
    ],
)
def test_bad_input_raises_with_a_clear_message(kwargs, error, match):
    arguments = {"y_true": GOOD_Y, "y_prob": GOOD_P, **kwargs}
    with pytest.raises(error, match=match):
        decompose(**arguments)


def test_single_class_binary_with_pos_label():
    d = decompose([1, 1, 1], [0.9, 0.8, 0.95], pos_label=1)
    assert d.uncertainty == 0
    assert d.discrimination == 0
    assert d.miscalibration == pytest.approx(d.score, rel=1e-14)


@pytest.mark.parametrize("strategy", ["uniform", "quantile"])
def test_binned_with_a_billion_bins_costs_nothing(strategy):
    # n_bins=10**9 allocated four arrays of 10**9 bins (32 GB).
    y = np.array([0, 1, 1, 0, 1, 0, 1])
    q = np.array([0.2, 0.7, 0.7, 0.4, 0.9, 0.2, 0.4])
    d = decompose(y, q, n_bins=10**9, strategy=strategy)
    # Each distinct forecast in its own bin (quantile: the last bin, closed,
    # also holds the largest forecast): reliability by hand.
    groups = [[0, 5], [3, 6], [1, 2, 4]] if strategy == "quantile" else None
    groups = groups or [[0, 5], [3, 6], [1, 2], [4]]
    reliability = 0.0
    for rows in groups:
        ybar, qbar = y[rows].mean(), q[rows].mean()
        kl = sum(
            a * np.log(a / b) for a, b in [(ybar, qbar), (1 - ybar, 1 - qbar)] if a > 0
        )
        reliability += len(rows) / 7 * kl
    assert d.reliability == pytest.approx(reliability, rel=1e-12)
    assert d.score == pytest.approx(sklearn_log_loss(y, q), rel=1e-12)

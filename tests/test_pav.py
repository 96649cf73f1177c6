"""The sort-based binary PAV path (calibkit._pav) against independent references."""

import itertools
from fractions import Fraction

import numpy as np
import pytest

from calibkit import IsotonicCalibration
from calibkit._pav import binary_pav, pav, sorted_event_keys, sorted_events


def brute_block_pav(events):
    """PAV of 0/1 events (unit weights) by the max-min formula, in fractions:
    ``fit[i] = max over s <= i of min over e >= i of mean(events[s..e])``
    (for each start ``s``, the inner minima are one suffix-minimum sweep)."""
    n = len(events)
    prefix = [0]
    for e in events:
        prefix.append(prefix[-1] + int(e))
    fit = [None] * n
    for s in range(n):
        lowest = None
        for e in range(n - 1, s - 1, -1):  # lowest = min over e' >= e
            mean = Fraction(prefix[e + 1] - prefix[s], e + 1 - s)
            lowest = mean if lowest is None else min(lowest, mean)
            if fit[e] is None or lowest > fit[e]:
                fit[e] = lowest
    return fit


@pytest.mark.parametrize("seed", range(5))
def test_sorted_events_follow_a_stable_argsort(seed):
    rng = np.random.default_rng(seed)
    s = rng.normal(0.0, 3.0, 2000) * 10.0 ** rng.integers(-300, 300, 2000)
    s[:4] = [5e-324, -5e-324, 1e308, -1e308]
    y = rng.random(2000) < 0.4
    np.testing.assert_array_equal(sorted_events(s, y), y[np.argsort(s, kind="stable")])


@pytest.mark.parametrize(
    "scores",
    [
        [0.0, -0.0, 1.0],  # equal as floats
        [2.0, 1.0, 2.0],  # a tie
        [1.0, np.nextafter(1.0, 2.0), -3.0],  # neighbours: one bit apart
        [-1.0, np.nextafter(-1.0, -2.0), 3.0],
    ],
)
def test_sorted_events_refuse_scores_that_share_the_upper_bits(scores):
    assert sorted_events(np.array(scores), np.array([True, False, True])) is None


def test_sorted_events_leave_the_inputs_alone_and_skip_float32():
    s = np.array([3.0, -1.0, 2.0])
    y = np.array([True, False, False])
    sorted_events(s, y)
    np.testing.assert_array_equal(s, [3.0, -1.0, 2.0])
    assert sorted_events(s.astype(np.float32), y) is None


@pytest.mark.parametrize("seed", range(8))
def test_binary_pav_matches_the_max_min_formula_exactly(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 60))
    events = rng.random(n) < rng.random()
    fit = binary_pav(events)
    keys = sorted_event_keys(np.arange(n, dtype=np.float64), events)
    fit_of_keys = binary_pav(keys)
    np.testing.assert_array_equal(fit_of_keys.starts, fit.starts)
    np.testing.assert_array_equal(fit_of_keys.fitted, fit.fitted)
    per_row = np.repeat(fit.fitted, np.diff(fit.starts))
    expected = brute_block_pav(events)
    # Correctly rounded ratios: equal to the float of the exact fraction.
    np.testing.assert_array_equal(per_row, [float(f) for f in expected])
    assert np.all(np.diff(fit.fitted) > 0)  # one block per distinct value
    np.testing.assert_array_equal(fit.counts, np.diff(fit.starts))


@pytest.mark.parametrize("interpolation", ["linear", "step"])
@pytest.mark.parametrize("seed", range(3))
def test_fast_path_equals_the_weighted_path(interpolation, seed):
    # Unit weights take the general (argsort) path, no weights the sort path.
    rng = np.random.default_rng(seed)
    s = rng.normal(0.0, 2.0, 20_000)
    y = (rng.random(20_000) < 1.0 / (1.0 + np.exp(-s))).astype(int)
    fast = IsotonicCalibration(eps=0, interpolation=interpolation).fit(s, y)
    ref = IsotonicCalibration(eps=0, interpolation=interpolation).fit(
        s, y, sample_weight=np.ones(20_000)
    )
    np.testing.assert_array_equal(fast.X_thresholds_[0], ref.X_thresholds_[0])
    np.testing.assert_allclose(
        fast.y_thresholds_[0], ref.y_thresholds_[0], rtol=1e-12, atol=0
    )
    grid = np.linspace(-8.0, 8.0, 1001)
    np.testing.assert_allclose(
        fast.predict_proba(grid), ref.predict_proba(grid), rtol=1e-12, atol=1e-300
    )


def test_chunked_pav_pools_blocks_across_chunks(monkeypatch):
    import calibkit._pav as pav_module

    rng = np.random.default_rng(7)
    events = rng.random(300) < np.linspace(0.1, 0.9, 300)
    whole = binary_pav(events)
    monkeypatch.setattr(pav_module, "_PAV_CHUNK", 7)
    chunked = binary_pav(events)
    np.testing.assert_array_equal(chunked.starts, whole.starts)
    np.testing.assert_array_equal(chunked.fitted, whole.fitted)
    per_row = np.repeat(whole.fitted, np.diff(whole.starts))
    np.testing.assert_array_equal(per_row, [float(f) for f in brute_block_pav(events)])


def test_binary_pav_of_keys_refuses_ties():
    keys = sorted_event_keys(np.array([1.0, 2.0, 1.0]), np.array([True, False, False]))
    assert binary_pav(keys) is None


@pytest.mark.parametrize("score", ["log", "brier"])
def test_corp_sort_path_equals_the_pooled_path(score, monkeypatch):
    # No weights: keys and chunked PAV; unit weights: argsort and pooled ties.
    from calibkit.metrics import decompose

    rng = np.random.default_rng(3)
    n = 150_000  # several PAV chunks and row chunks
    q = 1.0 / (1.0 + np.exp(-rng.normal(0.0, 2.0, n)))
    y = (rng.random(n) < q**1.3).astype(int)
    import calibkit.metrics._decomposition as module

    pool_ties = module.pool_ties

    def refuse(*args):
        raise AssertionError("the unweighted fit pooled ties by argsort")

    monkeypatch.setattr(module, "pool_ties", refuse)
    fast = decompose(y, q, score=score)
    monkeypatch.setattr(module, "pool_ties", pool_ties)
    ref = decompose(y, q, score=score, sample_weight=np.ones(n))
    for name in ("score", "miscalibration", "discrimination", "uncertainty"):
        assert getattr(fast, name) == pytest.approx(getattr(ref, name), rel=1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_out_of_core_pav_equals_the_in_memory_fit(seed, tmp_path, monkeypatch):
    import calibkit._pav as pav_module
    from calibkit._pav import out_of_core_binary_pav

    monkeypatch.setattr(pav_module._BlockStack, "limit", 16)  # pool the stack often
    monkeypatch.setattr(pav_module, "_PAV_CHUNK", 500)
    rng = np.random.default_rng(seed)
    n = 20_000
    s = rng.normal(0.0, 2.0, n)
    y = rng.random(n) < 1.0 / (1.0 + np.exp(-s))
    s[:3] = [-0.0, 1e-300, -1e300]
    np.save(tmp_path / "s.npy", s)
    np.save(tmp_path / "y.npy", y)
    scores = np.load(tmp_path / "s.npy", mmap_mode="r")
    events = np.load(tmp_path / "y.npy", mmap_mode="r")
    # 16 kB: 160 kB of scores in 31 sorted runs, merged 21 rows at a time
    fit = out_of_core_binary_pav(
        scores, events, memory_budget=16_000, directory=tmp_path
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.npy", "y.npy"]

    ordered = np.sort(s)
    ref = IsotonicCalibration(eps=0).fit(s, y.astype(int))
    knots = np.unique(np.concatenate([fit.first_scores, fit.last_scores]))
    np.testing.assert_array_equal(knots, ref.X_thresholds_[0])
    per_row = np.repeat(fit.fitted, fit.weights.astype(int))
    # Against an independent path: unit weights pool ties after an argsort.
    weighted = IsotonicCalibration(eps=0, interpolation="step").fit(
        s, y.astype(int), sample_weight=np.ones(n)
    )
    np.testing.assert_allclose(
        per_row,
        weighted.predict_proba(ordered)[:, 1],
        rtol=1e-12,
        atol=0,
    )
    assert fit.weights.sum() == n


def test_out_of_core_pav_refuses_ties(tmp_path):
    from calibkit._pav import out_of_core_binary_pav

    s = np.array([3.0, 1.0, 2.0, 1.0, 5.0, 0.5])
    y = np.array([True, False, True, True, False, False])
    with pytest.raises(ValueError, match="ties"):
        out_of_core_binary_pav(s, y, memory_budget=48, directory=tmp_path)


def brute_weighted_pav(scores, events, weights):
    """Min-max formula of PAV on exactly pooled scores, in fractions (integer
    weights), per distinct score."""
    distinct = sorted(set(scores))
    wy = [
        sum(
            int(w)
            for s, e, w in zip(scores, events, weights, strict=True)
            if s == v and e
        )
        for v in distinct
    ]
    ws = [
        sum(int(w) for s, w in zip(scores, weights, strict=True) if s == v)
        for v in distinct
    ]
    m = len(distinct)
    return distinct, [
        max(
            min(Fraction(sum(wy[j : k + 1]), sum(ws[j : k + 1])) for k in range(i, m))
            for j in range(i + 1)
        )
        for i in range(m)
    ]


@pytest.mark.parametrize("seed", range(6))
def test_pieces_pool_to_the_max_min_formula_with_ties_split_between_pieces(seed):
    from calibkit._pav import piece_entries, pool_entries

    rng = np.random.default_rng(seed)
    n = 60
    s = np.sort(rng.integers(0, 12, n).astype(np.float64))  # many ties
    y = rng.random(n) < 0.5
    w = rng.integers(1, 4, n).astype(np.float64)
    # Cuts anywhere, inside tie groups too; empty and one-row pieces as well.
    cuts = np.sort(rng.integers(0, n + 1, 9))
    bounds = np.concatenate([[0], cuts, [n]])
    entries = [
        piece_entries(s[a:b], y[a:b], w[a:b]) for a, b in itertools.pairwise(bounds)
    ]
    blocks = pool_entries(entries)
    distinct, expected = brute_weighted_pav(s.tolist(), y.tolist(), w.tolist())
    got = blocks.fitted[blocks.block_of(np.array(distinct))]
    np.testing.assert_allclose(got, [float(f) for f in expected], rtol=1e-15)
    # Blocks cover the distinct scores in order, none split, none empty.
    assert np.all(blocks.first_scores <= blocks.last_scores)
    assert np.all(blocks.last_scores[:-1] < blocks.first_scores[1:])
    assert blocks.weights.sum() == w.sum()


def test_entry_stack_keeps_a_tie_open_until_the_next_piece(monkeypatch):
    import calibkit._pav as pav_module

    monkeypatch.setattr(pav_module.EntryStack, "limit", 2)  # pool at every push
    rng = np.random.default_rng(7)
    n = 3_000
    s = np.sort(rng.integers(0, 40, n).astype(np.float64))
    y = rng.random(n) < s / 40.0
    stack = pav_module.EntryStack()
    for a in range(0, n, 37):  # 37 rows a piece: ties straddle most cuts
        stack.push(pav_module.piece_entries(s[a : a + 37], y[a : a + 37]))
    blocks = stack.blocks()
    ref = pav_module.pav(s, y)
    np.testing.assert_allclose(
        blocks.fitted[blocks.block_of(ref.scores)], ref.fitted, rtol=1e-14, atol=0
    )


@pytest.mark.parametrize("weighted", [False, True])
def test_out_of_core_pav_pools_ties_and_weights(weighted, tmp_path):
    from calibkit._pav import out_of_core_pav

    rng = np.random.default_rng(11)
    n = 20_000
    s = np.round(rng.normal(0.0, 2.0, n), 2)  # ~1000 distinct values
    y = rng.random(n) < 1.0 / (1.0 + np.exp(-s))
    w = rng.uniform(0.0, 3.0, n) if weighted else None
    if weighted:
        w[::7] = 0.0
    blocks = out_of_core_pav(s, y, w, memory_budget=4_096, directory=tmp_path)
    assert list(tmp_path.iterdir()) == []
    ref = pav(s, y, w)
    np.testing.assert_allclose(
        blocks.fitted[blocks.block_of(ref.scores)], ref.fitted, rtol=1e-12, atol=0
    )
    knots = np.unique(np.concatenate([blocks.first_scores, blocks.last_scores]))
    starts = ref.block_starts
    ends = np.unique(np.concatenate([starts[:-1], starts[1:] - 1]))
    np.testing.assert_array_equal(knots, ref.scores[ends])


def test_pooled_pieces_have_strictly_increasing_blocks():
    # Weights of one decimal: blocks of exactly equal frequency (equal as
    # fractions) whose running means PAV rounded apart must end as one block,
    # as the blocks of the in-memory engines do: IsotonicCalibration's "step"
    # layout (and its saved file) needs strictly increasing values.
    from calibkit._pav import piece_entries, pool_entries

    rng = np.random.default_rng(0)
    for _ in range(120):
        s = np.sort(rng.normal(size=50))
        y = rng.random(50) < 0.5
        w = rng.choice([0.1, 0.2, 0.3, 0.7], 50)
        blocks = pool_entries(
            [
                piece_entries(s[a : a + 7], y[a : a + 7], w[a : a + 7])
                for a in range(0, 50, 7)
            ]
        )
        assert np.all(np.diff(blocks.fitted) > 0)
        # The fit itself: the in-memory PAV (brute force in test_pieces_...).
        ref = pav(s, y, w)
        got = blocks.fitted[blocks.block_of(ref.scores)]
        np.testing.assert_allclose(got, ref.fitted, rtol=1e-15)

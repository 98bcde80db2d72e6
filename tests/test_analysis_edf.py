"""EDFs, normalized (complexity-weighted) EDFs, KS statistics and bootstrap bands."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis import edf
from natsbench.errors import QueryError


def test_edf_matches_definition() -> None:
    rng = np.random.default_rng(1)
    values = rng.integers(0, 20, size=57).astype(float)  # many ties
    weights = rng.uniform(0.1, 2.0, size=57)
    grid = np.linspace(-1, 21, 97)
    grid = np.concatenate([grid, values[:5]])  # evaluate exactly at sample points too
    w = weights / weights.sum()
    by_definition = np.array([sum(wi for vi, wi in zip(values, w) if vi <= x) for x in grid])
    np.testing.assert_allclose(edf.edf(values, grid, weights=weights), by_definition, atol=1e-12)
    unweighted = np.array([np.mean(values <= x) for x in grid])
    np.testing.assert_allclose(edf.edf(values, grid), unweighted)


def test_edf_steps() -> None:
    xs, f = edf.edf_steps([3.0, 1.0, 3.0, 2.0])
    np.testing.assert_array_equal(xs, [1, 2, 3])
    np.testing.assert_allclose(f, [0.25, 0.5, 1.0])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ks_statistic_matches_scipy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    a = rng.normal(5, 1, size=40).round(1)  # rounding creates ties within and across samples
    b = rng.normal(5.4, 1.3, size=63).round(1)
    assert edf.ks_statistic(a, b) == pytest.approx(stats.ks_2samp(a, b).statistic, abs=1e-12)


def test_weighted_ks_by_hand() -> None:
    # F_a jumps 0.75 at 1 and 0.25 at 3; F_b jumps 0.5 at 2 and 0.5 at 3 -> max gap 0.75 at x in [1, 2)
    d = edf.ks_statistic([1.0, 3.0], [2.0, 3.0], weights_a=[3.0, 1.0])
    assert d == pytest.approx(0.75)


def test_complexity_weights_uniform_hand_example() -> None:
    # bins [0, 5) and [5, 10]: three models in the first, two in the second (10 is in the last bin)
    w = edf.complexity_weights([1.0, 1.5, 2.0, 9.0, 10.0], bins=2, value_range=(0.0, 10.0))
    np.testing.assert_allclose(w, [1 / 6, 1 / 6, 1 / 6, 1 / 4, 1 / 4])
    assert w.sum() == pytest.approx(1.0)


def test_complexity_weights_reference_target() -> None:
    w = edf.complexity_weights([1.0, 1.5, 2.0, 9.0, 10.0], bins=2, value_range=(0.0, 10.0),
                               reference=[1.0, 6.0, 7.0, 8.0])
    # reference mass: 1/4 in the first bin, 3/4 in the second
    np.testing.assert_allclose(w, [1 / 12, 1 / 12, 1 / 12, 3 / 8, 3 / 8])
    # the weighted histogram equals the target
    assert w[:3].sum() == pytest.approx(0.25) and w[3:].sum() == pytest.approx(0.75)


def test_complexity_weights_random_sums_and_histogram() -> None:
    rng = np.random.default_rng(3)
    c = rng.lognormal(0, 0.5, size=500)
    w = edf.complexity_weights(c, bins=8, log_bins=True)
    assert w.sum() == pytest.approx(1.0) and (w > 0).all()
    edges = np.linspace(np.log10(c.min()), np.log10(c.max()), 9)
    idx = np.clip(np.searchsorted(edges, np.log10(c), side="right") - 1, 0, 7)
    np.testing.assert_allclose(np.bincount(idx, weights=w, minlength=8), np.full(8, 1 / 8))


def test_complexity_weights_empty_bins_and_range() -> None:
    with pytest.raises(QueryError, match=r"bins \[1\]"):
        edf.complexity_weights([1.0, 2.0], bins=2, value_range=(0.0, 10.0))
    np.testing.assert_allclose(
        edf.complexity_weights([1.0, 2.0], bins=2, value_range=(0.0, 10.0), empty="drop"), [0.5, 0.5])
    w = edf.complexity_weights([1.0, 2.0, 50.0], bins=1, value_range=(0.0, 10.0))
    np.testing.assert_allclose(w, [0.5, 0.5, 0.0])  # out of range -> weight 0


def test_bootstrap_band_is_seeded_and_brackets_the_edf() -> None:
    rng_values = np.random.default_rng(4)
    values = rng_values.normal(10, 2, size=80)
    grid = np.linspace(4, 16, 50)
    lo1, hi1 = edf.bootstrap_band(values, grid, rng=np.random.default_rng(7), n_boot=300)
    lo2, hi2 = edf.bootstrap_band(values, grid, rng=np.random.default_rng(7), n_boot=300, chunk=1000)
    np.testing.assert_array_equal(lo1, lo2)  # chunking does not change the draws
    np.testing.assert_array_equal(hi1, hi2)
    f = edf.edf(values, grid)
    assert np.all(lo1 <= f + 1e-12) and np.all(f <= hi1 + 1e-12)
    assert np.all(hi1 - lo1 >= 0) and (hi1 - lo1).max() > 0.05
    with pytest.raises(QueryError, match="Generator"):
        edf.bootstrap_band(values, grid, rng=7)  # type: ignore[arg-type]


def test_edf_table_groups() -> None:
    frame = pd.DataFrame({"g": ["a"] * 3 + ["b"] * 2, "err": [1.0, 2.0, 3.0, 2.0, 4.0]})
    t = edf.edf_table(frame, value="err", group="g", grid=np.array([2.0, 3.5]))
    assert t["g"].tolist() == ["a", "a", "b", "b"] and t["x"].tolist() == [2.0, 3.5, 2.0, 3.5]
    np.testing.assert_allclose(t["F"], [2 / 3, 1.0, 0.5, 0.5])


def test_group_statistics_against_scipy_and_the_common_range() -> None:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"group": ["A"] * 25 + ["B"] * 30,
                          "error": np.r_[rng.normal(10, 2, 25), rng.normal(12, 2, 30)],
                          "params": np.r_[rng.uniform(1, 3, 25), rng.uniform(2, 4, 30)]})
    assert edf.common_range(frame) == (frame["params"][25:].min(), frame["params"][:25].max())
    got = edf.group_statistics(frame, bins=2).set_index("group")
    a, b = frame["error"][:25], frame["error"][25:]
    ref = stats.ks_2samp(b, a)
    assert got.loc["B", "ks"] == pytest.approx(ref.statistic)
    assert got.loc["B", "ks_pvalue"] == pytest.approx(ref.pvalue)
    assert got.loc["A", "ks"] == 0.0 and got.loc["A", "reference"] == "A"
    assert got.loc["B", "mean_error"] == pytest.approx(b.mean())
    lo, hi = edf.common_range(frame)
    inside = frame["params"].between(lo, hi)
    assert got.loc["A", "n_in_params_range"] == int(inside[:25].sum())
    w = edf.group_weights(frame, value_range=(lo, hi), bins=2)
    assert w[:25].sum() == pytest.approx(1.0) and w[25:].sum() == pytest.approx(1.0)
    assert got.loc["B", "ks_params_normalized"] == pytest.approx(edf.ks_statistic(
        b[w[25:] > 0], a[w[:25] > 0], weights_a=w[25:][w[25:] > 0], weights_b=w[:25][w[:25] > 0]))
    apart = frame.assign(params=np.r_[np.full(25, 1.0), np.full(30, 5.0)])
    with pytest.raises(QueryError, match="do not overlap"):
        edf.group_statistics(apart)
    with pytest.raises(QueryError, match="reference group 'C'"):
        edf.group_statistics(frame, reference="C")

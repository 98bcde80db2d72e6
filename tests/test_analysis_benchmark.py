"""Pareto fronts, ranks and correlations of benchmark tables."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis import benchmark_analysis as ba


def brute_force_front(cost: np.ndarray, score: np.ndarray) -> np.ndarray:
    ok = np.isfinite(cost) & np.isfinite(score)
    out = np.zeros(len(cost), dtype=bool)
    for i in np.flatnonzero(ok):
        dominated = any(ok[j] and cost[j] <= cost[i] and score[j] >= score[i]
                        and (cost[j] < cost[i] or score[j] > score[i]) for j in range(len(cost)))
        out[i] = not dominated
    return out


def test_pareto_hand_example() -> None:
    #            a    b    c    d    e    f    g     h
    cost = [1.0, 2.0, 2.0, 3.0, 4.0, 4.0, 0.5, np.nan]
    acc = [50.0, 60.0, 55.0, 60.0, 70.0, 70.0, 40.0, 99.0]
    mask = ba.pareto_front(cost, acc)
    # c is beaten by b (same cost), d by b (same accuracy, cheaper); e and f tie; h has no cost
    assert mask.tolist() == [True, True, False, False, True, True, True, False]
    # maximizing cost instead flips which points survive
    assert ba.pareto_front(cost, acc, minimize_cost=False).tolist() == \
        [False, False, False, False, True, True, False, False]


def test_pareto_matches_brute_force_with_ties() -> None:
    rng = np.random.default_rng(5)
    cost = rng.integers(0, 15, size=300).astype(float)
    score = rng.integers(0, 25, size=300).astype(float)
    np.testing.assert_array_equal(ba.pareto_front(cost, score), brute_force_front(cost, score))


def test_kendall_and_spearman_by_hand() -> None:
    x, y = [1, 2, 3, 4], [1, 3, 2, 4]
    # one discordant pair of six: (5 - 1) / 6; spearman 1 - 6 * (0 + 1 + 1 + 0) / (4 * 15)
    assert ba.correlation(x, y, method="kendall") == (pytest.approx(4 / 6), 4)
    assert ba.correlation(x, y, method="spearman") == (pytest.approx(0.8), 4)


def test_correlations_match_scipy_with_nans() -> None:
    rng = np.random.default_rng(6)
    a = rng.normal(size=200)
    b = a + rng.normal(scale=0.7, size=200)
    b[[3, 50]] = np.nan
    ok = ~np.isnan(b)
    frame = pd.DataFrame({"a": a, "b": b, "c": -a.round(1)})
    for method, fn in (("kendall", stats.kendalltau), ("spearman", stats.spearmanr),
                       ("pearson", stats.pearsonr)):
        m = ba.correlation_matrix(frame, method=method)
        assert m.loc["a", "b"] == pytest.approx(fn(a[ok], b[ok])[0])
        assert m.loc["a", "c"] == pytest.approx(fn(a, -a.round(1))[0])
        assert m.loc["b", "a"] == m.loc["a", "b"] and m.loc["c", "c"] == 1.0


def test_top_fraction_correlations() -> None:
    frame = pd.DataFrame({"ref": [10, 9, 8, 7, 6, 5, 4, 3, 2, 1.0],
                          "other": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10.0]})
    frame.loc[9, "other"] = 0.0
    top = ba.top_fraction(frame, 0.3, select_by="ref")
    assert top.index.tolist() == [0, 1, 2]
    tidy = ba.top_fraction_correlations(frame, fractions=(1.0, 0.5), methods=("kendall",))
    assert tidy["n"].tolist() == [10, 5]
    sub = frame.iloc[:5]
    assert tidy["corr"].iloc[1] == pytest.approx(stats.kendalltau(sub["ref"], sub["other"])[0])
    assert tidy["corr"].iloc[1] == pytest.approx(-1.0)


def test_rank_frame_sorted_by_reference() -> None:
    frame = pd.DataFrame({"c10": [90.0, 95.0, 80.0], "c100": [70.0, 60.0, 65.0]}, index=["x", "y", "z"])
    ranks = ba.rank_frame(frame, reference="c10")
    assert ranks.index.tolist() == ["y", "x", "z"]
    assert ranks["c10"].tolist() == [1, 2, 3] and ranks["c100"].tolist() == [3, 1, 2]

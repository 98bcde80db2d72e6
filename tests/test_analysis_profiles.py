"""Performance profiles, ranks and win counts on hand-computed tables."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from analysis import profiles
from natsbench.errors import QueryError

# 3 problems x 3 solvers, lower is better; p2 has a tie (A = B), p3 a failure (A missing).
#        A     B    C
# p1     1     2    4     ratios 1, 2, 4
# p2     3     3    6     ratios 1, 1, 2
# p3   NaN     5    2     ratios inf, 2.5, 1
TABLE = pd.DataFrame({"A": [1.0, 3.0, np.nan], "B": [2.0, 3.0, 5.0], "C": [4.0, 6.0, 2.0]},
                     index=["p1", "p2", "p3"])


def test_ratios_by_hand() -> None:
    r = profiles.performance_ratios(TABLE)
    expected = np.array([[1, 2, 4], [1, 1, 2], [math.inf, 2.5, 1]])
    np.testing.assert_array_equal(r.to_numpy(), expected)
    assert list(r.columns) == ["A", "B", "C"] and list(r.index) == ["p1", "p2", "p3"]


def test_profile_by_hand() -> None:
    r = profiles.performance_ratios(TABLE)
    rho = profiles.profile(r, [1.0, 1.5, 2.0, 2.4, 2.5, 3.9, 4.0, 100.0])
    third = 1 / 3
    np.testing.assert_allclose(rho["A"], [2 * third] * 8)  # never solves p3
    np.testing.assert_allclose(rho["B"], [third, third, 2 * third, 2 * third, 1, 1, 1, 1])
    np.testing.assert_allclose(rho["C"], [third, third, 2 * third, 2 * third, 2 * third, 2 * third, 1, 1])
    assert rho.index.name == "tau"


def test_area_by_hand() -> None:
    r = profiles.performance_ratios(TABLE)
    lin = profiles.profile_area(r, tau_max=5.0)
    # integral of rho over [1, 5] / 4: A (4 + 4 + 0)/3/4, B (3 + 4 + 2.5)/3/4, C (1 + 3 + 4)/3/4
    np.testing.assert_allclose(lin[["A", "B", "C"]], [8 / 12, 9.5 / 12, 8 / 12])
    raw = profiles.profile_area(r, tau_max=5.0, normalize=False)
    np.testing.assert_allclose(raw["B"], 9.5 / 3)
    lg = profiles.profile_area(r, tau_max=10.0, scale="log10")
    l2, l25, l4 = math.log10(2), math.log10(2.5), math.log10(4)
    np.testing.assert_allclose(lg[["A", "B", "C"]],
                               [2 / 3, (3 - l2 - l25) / 3, (3 - l4 - l2) / 3])


def test_area_matches_numeric_integral_of_profile() -> None:
    rng = np.random.default_rng(0)
    table = pd.DataFrame(rng.uniform(1, 10, size=(7, 4)), columns=list("wxyz"))
    table.iloc[2, 1] = np.nan
    r = profiles.performance_ratios(table)
    taus = np.linspace(1, 6, 200_001)
    rho = profiles.profile(r, taus).to_numpy()
    numeric = (rho[:-1] * np.diff(taus)[:, None]).sum(axis=0) / 5.0  # left Riemann sum
    np.testing.assert_allclose(profiles.profile_area(r, tau_max=6.0).to_numpy(), numeric, atol=1e-4)


def test_tau_grid_contains_every_ratio_and_spans() -> None:
    r = profiles.performance_ratios(TABLE)
    for scale in ("linear", "log10"):
        g = profiles.tau_grid(r, scale=scale, num=11)
        assert g[0] == 1.0 and np.all(np.diff(g) > 0)
        assert {2.0, 2.5, 4.0} <= set(g)
        assert g[-1] == pytest.approx(4.0 * 1.05)
    assert profiles.tau_grid(r, num=5, tau_max=3.0).max() == 3.0


def test_higher_is_better_and_per_problem_direction() -> None:
    acc = pd.DataFrame({"A": [90.0, 50.0], "B": [45.0, 100.0]}, index=["q1", "q2"])
    r = profiles.performance_ratios(acc, higher_is_better=True)
    np.testing.assert_allclose(r.to_numpy(), [[1, 2], [2, 1]])
    mixed = profiles.performance_ratios(acc, higher_is_better={"q1": True, "q2": False})
    np.testing.assert_allclose(mixed.to_numpy(), [[1, 2], [1, 2]])
    with pytest.raises(QueryError, match="q2"):
        profiles.performance_ratios(acc, higher_is_better={"q1": True})


def test_ranks_best_counts_and_ties() -> None:
    ranks = profiles.task_ranks(TABLE)
    expected = np.array([[1, 2, 3], [1, 1, 3], [np.nan, 2, 1]])
    np.testing.assert_array_equal(ranks.to_numpy(), expected)
    assert profiles.best_counts(TABLE).to_dict() == {"A": 2, "B": 1, "C": 1}
    assert profiles.best_counts(TABLE, ties="strict").to_dict() == {"A": 1, "B": 0, "C": 1}
    assert profiles.tau_to_solve_all(profiles.performance_ratios(TABLE)).to_dict() == \
        {"A": math.inf, "B": 2.5, "C": 4.0}


def test_wins_over() -> None:
    w = profiles.wins_over(TABLE, "B", ["A"])
    assert w.to_dict() == {"p1": False, "p2": False, "p3": True}  # p3: A failed -> nothing to beat
    assert profiles.wins_over(TABLE, "B", ["A"], strict=False).to_dict() == \
        {"p1": False, "p2": True, "p3": True}
    assert profiles.wins_over(TABLE, "A", ["B", "C"]).to_dict() == \
        {"p1": True, "p2": False, "p3": False}  # A has no entry on p3
    with pytest.raises(QueryError, match="valid"):
        profiles.wins_over(TABLE, "Z", ["A"])


def test_bad_values_are_rejected() -> None:
    with pytest.raises(QueryError, match="strictly positive"):
        profiles.performance_ratios(TABLE.replace(4.0, 0.0))
    with pytest.raises(QueryError, match="tau scale"):
        profiles.tau_grid(profiles.performance_ratios(TABLE), scale="ln")
    # ranks accept negative values (no ratio is formed)
    assert profiles.best_counts(-TABLE).to_dict() == {"A": 0, "B": 1, "C": 2}

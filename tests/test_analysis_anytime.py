"""Anytime (best-so-far) curves on a hand example."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis import anytime
from natsbench.errors import ArchiveError


def _rows() -> pd.DataFrame:
    # run 0: the incumbent's test accuracy is 50, then 60, then 55 (a better-by-feedback arch
    # may test worse); run 1: 40, then 70. Rows are given out of order on purpose.
    data = [
        ("REA", "tss", "cifar10", 0, 2, 35.0, "c", 80.0, 55.0),
        ("REA", "tss", "cifar10", 0, 0, 10.0, "a", 70.0, 50.0),
        ("REA", "tss", "cifar10", 0, 1, 20.0, "b", 65.0, 60.0),
        ("REA", "tss", "cifar10", 1, 0, 5.0, "d", 60.0, 40.0),
        ("REA", "tss", "cifar10", 1, 1, 25.0, "e", 75.0, 70.0),
    ]
    return pd.DataFrame(data, columns=list(anytime.SEARCH_COLUMNS))


GRID = np.array([0.0, 10.0, 15.0, 20.0, 30.0, 40.0])


def test_best_so_far_by_hand() -> None:
    traj = anytime.run_trajectories(_rows(), GRID)
    run0 = traj[traj["run"] == 0]["value"].to_numpy()
    run1 = traj[traj["run"] == 1]["value"].to_numpy()
    np.testing.assert_array_equal(run0, [np.nan, 50, 50, 60, 60, 55])
    np.testing.assert_array_equal(run1, [np.nan, 40, 40, 40, 70, 70])
    fb = anytime.run_trajectories(_rows(), GRID, value="feedback")
    np.testing.assert_array_equal(fb[fb["run"] == 0]["value"], [np.nan, 70, 70, 70, 70, 80])


def test_summary_mean_and_bands() -> None:
    traj = anytime.run_trajectories(_rows(), GRID)
    ci = anytime.summarize(traj).set_index("x")
    np.testing.assert_array_equal(ci["n_runs"], [0, 2, 2, 2, 2, 2])
    np.testing.assert_allclose(ci["mean"].to_numpy()[1:], [45, 45, 50, 65, 62.5])
    assert np.isnan(ci.loc[0.0, "mean"])
    # n = 2: half width = t_{0.975, 1} * sd / sqrt(2); t_{0.975, 1} = 12.7062047
    sd = np.std([50, 40], ddof=1)
    assert ci.loc[10.0, "hi"] - ci.loc[10.0, "mean"] == pytest.approx(12.7062047 * sd / np.sqrt(2))
    pct = anytime.summarize(traj, band="percentile").set_index("x")
    # linear-interpolated 2.5/97.5 percentiles of {40, 50}
    assert pct.loc[10.0, "lo"] == pytest.approx(40.25) and pct.loc[10.0, "hi"] == pytest.approx(49.75)
    std = anytime.summarize(traj, band="std").set_index("x")
    assert std.loc[10.0, "lo"] == pytest.approx(45 - sd) and std.loc[10.0, "hi"] == pytest.approx(45 + sd)
    assert np.isnan(std.loc[0.0, "lo"])                   # no run has a value yet
    mm = anytime.summarize(traj, band="minmax").set_index("x")
    assert (mm.loc[30.0, "lo"], mm.loc[30.0, "hi"]) == (60.0, 70.0)
    one = anytime.summarize(traj[traj["run"] == 0], band="std").set_index("x")
    assert one.loc[10.0, "lo"] == one.loc[10.0, "hi"] == 50.0   # one run: no spread


def test_grids_and_step_axis() -> None:
    rows = _rows()
    np.testing.assert_array_equal(anytime.time_grid(rows, step=10.0), [0, 10, 20, 30])
    np.testing.assert_array_equal(anytime.time_grid(rows, step=10.0, max_x=40), [0, 10, 20, 30, 40])
    np.testing.assert_array_equal(anytime.time_grid(rows, x="step"), [0, 1, 2])
    by_step = anytime.anytime_curves(rows, x="step").set_index("x")
    np.testing.assert_allclose(by_step["mean"], [45, 65, 62.5])  # run 1 keeps 70 at step 2
    np.testing.assert_array_equal(by_step["n_runs"], [2, 2, 2])


def test_missing_columns() -> None:
    with pytest.raises(ArchiveError, match="reported"):
        anytime.run_trajectories(_rows().drop(columns=["reported"]), GRID)

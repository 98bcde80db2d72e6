"""Anytime curves of search runs (NATS-Bench Figs. 5.6 and 5.7; Dong 2021, ch. 5.4.3).

Input: tidy search rows, one per evaluation, with the columns :data:`SEARCH_COLUMNS`:
``algorithm, space, dataset, run, step, sim_time, arch, feedback, reported``. ``feedback`` is
what the algorithm saw (e.g. the validation accuracy of the evaluated arch) and ``reported``
is the test accuracy of the *current best-by-feedback* arch after that evaluation, so the
anytime value of a run at time ``t`` is the ``reported`` value of its last row with
``sim_time <= t`` (rows at equal times are ordered by ``step``). Before a run's first row its
value is undefined (NaN) and it is left out of the mean at that time.

The x-axis is either the simulated time (``x="sim_time"``, seconds; Fig. 5.6 reports every
100 s up to 2e4 s) or the search step/epoch (``x="step"``; Fig. 5.7, weight-sharing
algorithms evaluated after each search epoch).

Summary across runs at each grid point: the mean over runs with a value, and a band that is
the 95% t-distribution confidence interval of that mean (``band="ci"``), the 2.5-97.5
percentiles of the runs (``band="percentile"``), mean -/+ one standard deviation of the runs
(``band="std"``) or their minimum and maximum (``band="minmax"``; the two suit a handful of
seeds, e.g. the 3 of the weight-sharing runs of Fig. 5.7).
"""
from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from analysis.tables import require_columns
from natsbench.errors import QueryError

SEARCH_COLUMNS: tuple[str, ...] = ("algorithm", "space", "dataset", "run", "step", "sim_time",
                                   "arch", "feedback", "reported")
GROUP_COLUMNS: tuple[str, ...] = ("algorithm", "space", "dataset")
X_AXES: tuple[str, ...] = ("sim_time", "step")
VALUES: tuple[str, ...] = ("reported", "feedback")
BANDS: tuple[str, ...] = ("ci", "percentile", "std", "minmax")


def check_search_rows(rows: pd.DataFrame) -> None:
    """Raise :class:`ArchiveError` if ``rows`` lacks any of :data:`SEARCH_COLUMNS`."""
    require_columns(rows, SEARCH_COLUMNS, "the search rows")


def time_grid(rows: pd.DataFrame, *, x: str = "sim_time", step: float | None = None,
              num: int = 101, max_x: float | None = None) -> np.ndarray:
    """A common grid for ``x``: ``0, step, 2*step, ... <= max_x`` if ``step`` is given, else
    ``num`` equally spaced points on ``[0, max_x]``; ``max_x`` defaults to the largest ``x``.
    For ``x="step"`` without ``step``/``max_x`` the grid is every step value present."""
    if x not in X_AXES:
        raise QueryError(f"unknown x axis {x!r}; valid: {X_AXES}")
    top = float(rows[x].max()) if max_x is None else float(max_x)
    if step is not None:
        if step <= 0:
            raise QueryError(f"grid step must be > 0, got {step}")
        return np.arange(0.0, top + step * 1e-9, step)
    if x == "step" and max_x is None:
        return np.unique(rows["step"].to_numpy(dtype=np.float64))
    return np.linspace(0.0, top, num)


def run_trajectories(rows: pd.DataFrame, grid: np.ndarray, *, x: str = "sim_time",
                     value: Literal["reported", "feedback"] = "reported") -> pd.DataFrame:
    """Best-so-far value of every run at each grid point.

    ``value="reported"``: the incumbent's reported (test) metric, i.e. the ``reported`` of the
    last row at or before the grid point. ``value="feedback"``: the running maximum of the
    feedback (the incumbent's validation metric).

    Returns:
        Tidy DataFrame ``algorithm, space, dataset, run, x, value`` with ``len(grid)`` rows
        per run (``value`` NaN before the run's first evaluation).
    """
    check_search_rows(rows)
    if x not in X_AXES:
        raise QueryError(f"unknown x axis {x!r}; valid: {X_AXES}")
    if value not in VALUES:
        raise QueryError(f"unknown value {value!r}; valid: {VALUES}")
    grid = np.asarray(grid, dtype=np.float64)
    ordered = rows.sort_values([*GROUP_COLUMNS, "run", x, "step"], kind="stable")
    parts = []
    for key, run in ordered.groupby([*GROUP_COLUMNS, "run"], sort=True):
        xs = run[x].to_numpy(dtype=np.float64)
        vals = run[value].to_numpy(dtype=np.float64)
        if value == "feedback":
            vals = np.fmax.accumulate(vals)
        idx = np.searchsorted(xs, grid, side="right") - 1
        traj = np.where(idx >= 0, vals[np.maximum(idx, 0)], np.nan)
        parts.append(pd.DataFrame({"algorithm": key[0], "space": key[1], "dataset": key[2],
                                   "run": key[3], "x": grid, "value": traj}))
    if not parts:
        raise QueryError("no search rows to summarize")
    return pd.concat(parts, ignore_index=True)


def summarize(trajectories: pd.DataFrame, *,
              band: Literal["ci", "percentile", "std", "minmax"] = "ci",
              level: float = 0.95) -> pd.DataFrame:
    """Mean and band across runs per ``(algorithm, space, dataset, x)``.

    Returns:
        DataFrame ``algorithm, space, dataset, x, mean, lo, hi, n_runs`` (``n_runs`` = runs
        with a value at ``x``; mean/lo/hi are NaN where it is 0). With ``band="ci"``
        ``lo/hi = mean -/+ t_{(1+level)/2, n-1} * std / sqrt(n)`` (std with ddof=1; equal to
        the mean when n = 1); with ``"percentile"`` the ``(1-level)/2`` and ``(1+level)/2``
        quantiles of the runs' values; with ``"std"`` ``mean -/+ std`` (ddof=1, 0 when n = 1);
        with ``"minmax"`` the smallest and largest value of the runs.
    """
    from scipy import stats

    if band not in BANDS:
        raise QueryError(f"unknown band {band!r}; valid: {BANDS}")
    if not 0 < level < 1:
        raise QueryError(f"level must be in (0, 1), got {level}")
    grouped = trajectories.groupby([*GROUP_COLUMNS, "x"], sort=True)["value"]  # NaN = no value yet
    out = grouped.agg(mean="mean", std="std", n_runs="count").reset_index()
    if band == "ci":
        n = out["n_runs"].to_numpy(dtype=np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            half = stats.t.ppf((1.0 + level) / 2.0, n - 1) * out["std"].to_numpy() / np.sqrt(n)
        half = np.where(n > 1, half, 0.0)
        out["lo"], out["hi"] = out["mean"] - half, out["mean"] + half
    elif band == "std":
        std = out["std"].fillna(0.0).where(out["n_runs"] > 0)
        out["lo"], out["hi"] = out["mean"] - std, out["mean"] + std
    elif band == "minmax":
        out["lo"] = grouped.min().to_numpy()
        out["hi"] = grouped.max().to_numpy()
    else:
        alpha = (1.0 - level) / 2.0
        out["lo"] = grouped.quantile(alpha).to_numpy()
        out["hi"] = grouped.quantile(1.0 - alpha).to_numpy()
    return out[[*GROUP_COLUMNS, "x", "mean", "lo", "hi", "n_runs"]]


def anytime_curves(rows: pd.DataFrame, *, x: str = "sim_time", grid: np.ndarray | None = None,
                   step: float | None = None, num: int = 101, max_x: float | None = None,
                   value: Literal["reported", "feedback"] = "reported",
                   band: Literal["ci", "percentile", "std", "minmax"] = "ci",
                   level: float = 0.95) -> pd.DataFrame:
    """:func:`run_trajectories` on a common grid followed by :func:`summarize`."""
    check_search_rows(rows)
    if grid is None:
        grid = time_grid(rows, x=x, step=step, num=num, max_x=max_x)
    return summarize(run_trajectories(rows, grid, x=x, value=value), band=band, level=level)

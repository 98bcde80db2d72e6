"""EDF statistics of DARTS-cell and k-ExtCell random samples (Na's thesis, §4.2.2, Fig. 4.2).

Reads the tidy samples table, one row per trained network, with at least the columns
``group``, ``error`` (test error, %) and ``params`` (M); ``k`` (operations of the cell pair)
and ``dataset, hp, set, epoch, bench`` are carried into the settings where present
(:func:`natsbench.build.extcell_samples.sample_table` makes this table from sample
benchmarks). From it:

* the EDF of each group's errors on a fixed grid, and the params-normalized EDF
  (:func:`analysis.edf.complexity_weights`: ``bins`` equal-width params bins over the params
  range shared by all groups, uniform target, empty bins dropped) on the same grid;
* per-group statistics: count, mean / median / min error, and the KS statistics against a
  reference group (plain and params-normalized), as :func:`analysis.edf.group_statistics`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from analysis import edf as edf_mod
from analysis.tables import require_columns
from natsbench.errors import QueryError

__all__ = ["REQUIRED_COLUMNS", "DEFAULT_GRID", "ExtCellEDF", "edf_curves", "extcell_edf_statistics"]

#: Columns a samples table must have.
REQUIRED_COLUMNS: tuple[str, ...] = ("group", "error", "params")
#: The fixed error grid (%): 0, 0.1, ..., 100.
DEFAULT_GRID: np.ndarray = np.linspace(0.0, 100.0, 1001)


def _check_samples(samples: pd.DataFrame) -> pd.DataFrame:
    require_columns(samples, REQUIRED_COLUMNS, "the samples table", error=QueryError)
    if samples.empty:
        raise QueryError("the samples table has no rows")
    return samples.reset_index(drop=True)


def edf_curves(samples: pd.DataFrame, *, grid: np.ndarray | None = None, bins: int = 10,
               params_range: tuple[float, float] | None = None) -> pd.DataFrame:
    """Error EDF and params-normalized error EDF of each group on a fixed grid.

    Args:
        samples: the samples table (see the module doc).
        grid: error values (%) at which the EDFs are evaluated, shape [G]
            (default :data:`DEFAULT_GRID`).
        bins: params bins of the normalized EDF.
        params_range: params range (M) of the normalized EDF (default: the range all groups share).

    Returns a tidy frame with columns ``group, x, edf, edf_params_normalized`` (``x`` in %
    error, groups in order of appearance; ``len(grid)`` rows per group).
    """
    samples = _check_samples(samples)
    grid = DEFAULT_GRID if grid is None else np.asarray(grid, dtype=np.float64)
    lo, hi = edf_mod.common_range(samples, value_range=params_range)
    weights = edf_mod.group_weights(samples, value_range=(lo, hi), bins=bins)
    parts = []
    for name, sub in samples.groupby("group", sort=False):
        w = weights[sub.index]
        parts.append(pd.DataFrame({
            "group": name, "x": grid,
            "edf": edf_mod.edf(sub["error"].to_numpy(), grid),
            "edf_params_normalized": edf_mod.edf(sub["error"].to_numpy(), grid, weights=w)}))
    return pd.concat(parts, ignore_index=True)


@dataclass
class ExtCellEDF:
    """Samples, EDF curves and per-group statistics, with the settings that made them."""

    samples: pd.DataFrame
    curves: pd.DataFrame
    statistics: pd.DataFrame
    settings: dict[str, Any] = field(default_factory=dict)


def _distinct(samples: pd.DataFrame, column: str, kind: type = str) -> list[Any]:
    return sorted({kind(v) for v in samples[column]}) if column in samples.columns else []


def extcell_edf_statistics(samples: pd.DataFrame, *, grid: np.ndarray | None = None, bins: int = 10,
                           params_range: tuple[float, float] | None = None,
                           reference: str | None = None) -> ExtCellEDF:
    """Everything of Fig. 4.2 from a samples table: curves (:func:`edf_curves`), per-group
    statistics against ``reference`` (default: the first group) and the settings used."""
    samples = _check_samples(samples)
    lo, hi = edf_mod.common_range(samples, value_range=params_range)
    grid = DEFAULT_GRID if grid is None else np.asarray(grid, dtype=np.float64)
    curves = edf_curves(samples, grid=grid, bins=bins, params_range=(lo, hi))
    stats = edf_mod.group_statistics(samples, reference=reference, bins=bins, value_range=(lo, hi))
    benches = list(dict.fromkeys(map(str, samples["bench"]))) if "bench" in samples.columns else []
    settings = {"benches": benches, "groups": list(dict.fromkeys(samples["group"])),
                "dataset": _distinct(samples, "dataset"), "hp": _distinct(samples, "hp"),
                "set": _distinct(samples, "set"), "epoch": _distinct(samples, "epoch", int),
                "error": "100 - <set>_acc1 (%), seed mean",
                "grid": {"min": float(grid.min()), "max": float(grid.max()), "num": int(grid.size)},
                "params_normalization": {"bins": bins, "range_M": [lo, hi], "target": "uniform",
                                         "empty_bins": "drop", "range_rule": "explicit" if params_range
                                         else "common range of all groups"},
                "reference": stats["reference"].iloc[0]}
    return ExtCellEDF(samples, curves, stats, settings)

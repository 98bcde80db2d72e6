"""Weight-sharing search rows: NATS-Bench Fig. 5.7a/b/c (accuracy of the derived arch per
search epoch on tss, on sss, and on sss with warm-up), the final-accuracy table and the share
of skip/none edges (Dong 2021, ch. 5.4.3).

Input: the tidy rows of ``natsbench search-ws`` (one per algorithm, dataset, seed and search
epoch), with at least the columns :data:`WS_COLUMNS`: ``algorithm, space, dataset, seed,
epoch, arch, reported``; tss rows also ``num_skip, num_none`` for :func:`edge_fractions`, and
rows of warm-up searches ``warmup_ratio`` (absent: 0). ``reported`` is the benchmark's test
accuracy (%) of the architecture derived after that epoch (not a best-so-far value: a
weight-sharing search may move to a worse arch), ``num_skip``/``num_none`` its numbers of
``skip_connect``/``none`` edges. The number of edges of an arch is read from its string (one
``~`` per edge: 6 in tss). :func:`split_panels` splits rows into the three figures.

Each seed is one run; a seed's value at epoch ``e`` is its row of epoch ``e`` (no carrying
forward: a seed that stopped earlier is left out of later means). Means and bands across seeds
are :func:`analysis.anytime.summarize` (``band="std"``: mean -/+ one standard deviation,
``"minmax"``: the seeds' range, or the 95% ``"ci"``/``"percentile"`` bands).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from analysis.anytime import BANDS, GROUP_COLUMNS, summarize
from analysis.tables import require_columns
from natsbench.errors import ArchiveError, QueryError

WS_COLUMNS: tuple[str, ...] = ("algorithm", "space", "dataset", "seed", "epoch", "arch",
                               "reported")
#: the columns :func:`edge_fractions` reads (tss rows)
EDGE_COLUMNS: tuple[str, ...] = ("num_skip", "num_none")
#: figure -> (space, warm-up searches): NATS-Bench Fig. 5.7a (tss), 5.7b (sss), 5.7c (sss with
#: the filter warm-up)
PANELS: dict[str, tuple[str, bool]] = {"5.7a": ("tss", False), "5.7b": ("sss", False),
                                       "5.7c": ("sss", True)}
#: the algorithms whose edge fractions Fig. 5.7a's discussion is about (collapse to skip)
DARTS_ALGORITHMS: tuple[str, ...] = ("darts-v1", "darts-v2")
_KEY = [*GROUP_COLUMNS, "seed", "epoch"]


def warmup_of(rows: pd.DataFrame) -> pd.Series:
    """The rows' warm-up ratio (0 where the column is absent or NaN)."""
    if "warmup_ratio" not in rows.columns:
        return pd.Series(0.0, index=rows.index)
    return rows["warmup_ratio"].astype(np.float64).fillna(0.0)


def split_panels(rows: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The rows of each figure of :data:`PANELS` that has any (tss; sss without warm-up; sss
    with warm-up), in that order."""
    warm = warmup_of(rows) > 0
    out = {}
    for fig, (space, with_warmup) in PANELS.items():
        part = rows[(rows["space"] == space) & (warm == with_warmup)]
        if not part.empty:
            out[fig] = part
    return out


def check_ws_rows(rows: pd.DataFrame) -> None:
    """ArchiveError if ``rows`` lacks a column of :data:`WS_COLUMNS` or has two rows for one
    (algorithm, space, dataset, seed, epoch, warm-up ratio); QueryError if it has no row."""
    require_columns(rows, WS_COLUMNS, "the weight-sharing rows")
    if rows.empty:
        raise QueryError("no weight-sharing rows to summarize (the table is empty)")
    keyed = rows.assign(warmup_ratio=warmup_of(rows))
    dup = keyed.duplicated([*_KEY, "warmup_ratio"], keep=False)
    if dup.any():
        first = rows.loc[dup, _KEY].iloc[0].to_dict()
        raise ArchiveError(f"{int(dup.sum())} weight-sharing rows share their "
                           f"(algorithm, space, dataset, seed, epoch), e.g. {first}; "
                           "one row per search epoch expected (were two grids concatenated?)")


def _trajectories(rows: pd.DataFrame, value: pd.Series) -> pd.DataFrame:
    """``rows`` as :func:`analysis.anytime.summarize` input: run = seed, x = epoch."""
    return pd.DataFrame({"algorithm": rows["algorithm"].to_numpy(), "space": rows["space"].to_numpy(),
                         "dataset": rows["dataset"].to_numpy(), "run": rows["seed"].to_numpy(),
                         "x": rows["epoch"].to_numpy(dtype=np.float64),
                         "value": value.to_numpy(dtype=np.float64)})


def epoch_curves(rows: pd.DataFrame, *, band: str = "std") -> pd.DataFrame:
    """Fig. 5.7a: reported accuracy per search epoch across seeds.

    Returns:
        DataFrame ``algorithm, space, dataset, x (epoch), mean, lo, hi, n_runs (seeds)``.
    """
    check_ws_rows(rows)
    if band not in BANDS:
        raise QueryError(f"unknown band {band!r}; valid: {BANDS}")
    return summarize(_trajectories(rows, rows["reported"]), band=band)


def final_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Reported accuracy (%) of each seed's last epoch, per (space, dataset, algorithm).

    Returns:
        DataFrame ``space, dataset, algorithm, seeds, epochs (largest last epoch), mean, std
        (ddof=1; NaN for one seed), min, max`` plus ``search_time`` (mean seconds of a whole
        search) when the rows have it, sorted by mean accuracy within a dataset.
    """
    check_ws_rows(rows)
    last = rows.sort_values("epoch", kind="stable").groupby(
        [*GROUP_COLUMNS, "seed"], sort=True).tail(1)
    spec = {"seeds": ("seed", "nunique"), "epochs": ("epoch", "max"),
            "mean": ("reported", "mean"), "std": ("reported", "std"),
            "min": ("reported", "min"), "max": ("reported", "max")}
    if "search_time" in last.columns:
        spec["search_time"] = ("search_time", "mean")
    table = last.groupby(["space", "dataset", "algorithm"], sort=True).agg(**spec).reset_index()
    return table.sort_values(["space", "dataset", "mean"], ascending=[True, True, False],
                             kind="stable").reset_index(drop=True)


def edge_fractions(rows: pd.DataFrame, *, algorithms: Sequence[str] | None = None,
                   band: str = "std") -> pd.DataFrame:
    """Share of ``skip_connect`` and ``none`` edges in the derived arch per search epoch.

    Per row the fractions are ``num_skip / edges`` and ``num_none / edges`` (edges = the
    number of ``~`` in the arch string); these are summarized across seeds like
    :func:`epoch_curves`. ``algorithms`` defaults to all in ``rows``.

    Returns:
        DataFrame ``algorithm, space, dataset, edge ("skip_connect" | "none"), x (epoch),
        mean, lo, hi, n_runs`` (the band clipped to [0, 1], the range of a fraction);
        ``algorithm`` is ``"<algorithm> <edge>"`` so the frame plots
        with :func:`analysis.plots.plot_anytime` (one line per algorithm and edge kind).
    """
    check_ws_rows(rows)
    require_columns(rows, EDGE_COLUMNS, "the weight-sharing rows (tss edge counts)")
    if algorithms is not None:
        unknown = sorted(set(algorithms) - set(rows["algorithm"]))
        if unknown:
            raise QueryError(f"algorithms {unknown} have no rows; valid: "
                             f"{sorted(rows['algorithm'].unique())}")
        rows = rows[rows["algorithm"].isin(list(algorithms))]
    edges = rows["arch"].astype(str).str.count("~")
    if (edges <= 0).any():
        bad = rows.loc[edges <= 0, "arch"].iloc[0]
        raise ArchiveError(f"arch {bad!r} has no edge ('op~node'); expected a tss arch string")
    parts = []
    for column, edge in (("num_skip", "skip_connect"), ("num_none", "none")):
        frac = rows[column].astype(np.float64) / edges
        labelled = rows.assign(algorithm=rows["algorithm"].astype(str) + f" {edge}")
        part = summarize(_trajectories(labelled, frac), band=band)
        part["lo"], part["hi"] = part["lo"].clip(lower=0.0), part["hi"].clip(upper=1.0)
        part.insert(3, "edge", edge)
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def edge_fraction_table(fractions: pd.DataFrame) -> pd.DataFrame:
    """One row per (space, dataset, algorithm label) of :func:`edge_fractions`: the mean
    fraction over seeds at the first and the last epoch and averaged over all epochs."""
    ordered = fractions.sort_values("x", kind="stable")
    grouped = ordered.groupby(["space", "dataset", "algorithm"], sort=True)
    return pd.DataFrame({"first_epoch": grouped["mean"].first(), "last_epoch": grouped["mean"].last(),
                         "mean_over_epochs": grouped["mean"].mean(),
                         "epochs": grouped["x"].max().astype(int)}).reset_index()

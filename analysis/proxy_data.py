"""Proxy-data size curve (Na, PhD thesis 2022, Table 3.1): the final searched architecture's test
error per selection rule and proxy size, mean and std over seeds (pandas only).

Input rows: one per finished search (the last epoch of a ``natsbench search-ws --proxy-data``
run), columns :data:`PROXY_COLUMNS`: ``selection`` (``random``, ``p1``, ..., or a label such as
``full`` / ``none``), ``proxy_percent`` (size of the proxy as % of the train set; NaN for a
search without proxy data), ``seed``, ``reported`` (the benchmark's test accuracy %, of the
architecture derived after the last epoch) and ``search_time`` (s). Test error = 100 -
reported.
"""
from __future__ import annotations

import pandas as pd

from analysis.tables import mean_std_cells, require_columns
from natsbench.errors import ArchiveError, QueryError

__all__ = ["PROXY_COLUMNS", "proxy_size_table", "proxy_size_curves", "published_comparison"]

PROXY_COLUMNS: tuple[str, ...] = ("selection", "proxy_percent", "seed", "reported", "search_time")


def proxy_size_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Per (selection, proxy_percent): seeds, test error mean, std (ddof=1), min, max, accuracy
    mean, mean search time (s) and, where the rows have it, the mean entropy of the selection.

    Raises ArchiveError (missing columns, two rows for one selection/size/seed) and QueryError
    (no rows).
    """
    require_columns(rows, PROXY_COLUMNS, "the proxy-data rows")
    if rows.empty:
        raise QueryError("no proxy-data rows to summarize (the table is empty)")
    key = ["selection", "proxy_percent", "seed"]
    if rows.duplicated(key).any():
        dup = rows[rows.duplicated(key, keep=False)][key].drop_duplicates().head(3)
        raise ArchiveError(f"two rows for one selection/size/seed, e.g. {dup.to_dict('records')}")
    frame = rows.assign(error=100.0 - rows["reported"].astype(float))
    aggs = dict(seeds=("seed", "nunique"), error_mean=("error", "mean"),
                error_std=("error", "std"), error_min=("error", "min"),
                error_max=("error", "max"), acc_mean=("reported", "mean"),
                search_time_s=("search_time", "mean"))
    if "proxy_mean_entropy" in frame:
        aggs["mean_entropy"] = ("proxy_mean_entropy", "mean")
    table = frame.groupby(["selection", "proxy_percent"], dropna=False, sort=True).agg(**aggs)
    return table.reset_index()


def proxy_size_curves(table: pd.DataFrame, *, space: str = "tss",
                      dataset: str = "digits") -> pd.DataFrame:
    """The rows of :func:`proxy_size_table` with a proxy size as curves for
    :func:`analysis.plots.plot_anytime`: x = proxy %, mean error -/+ one std, one line per
    selection."""
    sub = table.dropna(subset=["proxy_percent"])
    std = sub["error_std"].fillna(0.0).to_numpy()
    return pd.DataFrame({"space": space, "dataset": dataset, "algorithm": sub["selection"],
                         "x": sub["proxy_percent"].astype(float), "mean": sub["error_mean"],
                         "lo": sub["error_mean"] - std, "hi": sub["error_mean"] + std,
                         "n_runs": sub["seeds"]}).reset_index(drop=True)


def published_comparison(table: pd.DataFrame, published: pd.DataFrame) -> pd.DataFrame:
    """Measured mean -/+ std error per (selection, proxy %) beside the thesis's numbers at the
    same proxy fraction of the train set (``published``: ``selection, dataset,
    proxy_percent, test_error_pct``; the thesis's random/proposed rows)."""
    require_columns(published, ("selection", "dataset", "proxy_percent", "test_error_pct"),
                    "the published table")
    measured = table.dropna(subset=["proxy_percent"]).copy()
    measured["measured error (mean ± std)"] = mean_std_cells(measured["error_mean"],
                                                             measured["error_std"])
    wide = published.pivot_table(index=["selection", "proxy_percent"], columns="dataset",
                                 values="test_error_pct", aggfunc="first")
    wide.columns = [f"thesis {c} error" for c in wide.columns]
    out = measured.set_index(["selection", "proxy_percent"])[["seeds",
                                                              "measured error (mean ± std)"]]
    return out.join(wide, how="outer").reset_index()

"""Analyses of a benchmark table (NATS-Bench Figs. 5.2-5.5; Dong 2021, ch. 5.3).

Inputs are DataFrames with one row per architecture (index = arch string) and metric columns,
as returned by ``bench.table(dataset, hp)`` and ``bench.costs(dataset)``.

* :func:`pareto_front`: the non-dominated set of (cost, accuracy) points (Fig. 5.3): a point
  is dominated when another has cost <= and accuracy >= with at least one strict.
* :func:`rank_frame`: the rank of each arch on each dataset, 1 = best (Fig. 5.2), sorted by the
  rank on a reference dataset.
* :func:`correlation_matrix` / :func:`top_fraction_correlations`: Kendall tau-b, Spearman or
  Pearson correlations between columns (datasets, validation vs test; Figs. 5.4-5.5), also on
  the top ``x`` fraction of archs ranked by a ``select_by`` column only (NaN pairs dropped).
"""
from __future__ import annotations

from typing import Iterable, Literal, Sequence

import numpy as np
import pandas as pd

from natsbench.errors import QueryError

METHODS: tuple[str, ...] = ("kendall", "spearman", "pearson")
Method = Literal["kendall", "spearman", "pearson"]


def pareto_front(cost: Sequence[float] | np.ndarray, score: Sequence[float] | np.ndarray, *,
                 minimize_cost: bool = True, maximize_score: bool = True) -> np.ndarray:
    """Bool mask ``[n]`` of the non-dominated points (NaN points are never on the front).

    Duplicated points that are otherwise non-dominated are all on the front.
    """
    c = np.asarray(cost, dtype=np.float64) * (1.0 if minimize_cost else -1.0)
    s = np.asarray(score, dtype=np.float64) * (1.0 if maximize_score else -1.0)
    if c.shape != s.shape or c.ndim != 1:
        raise QueryError(f"cost and score must be 1-D of equal length, got {c.shape} and {s.shape}")
    mask = np.zeros(c.size, dtype=bool)
    ok = np.flatnonzero(np.isfinite(c) & np.isfinite(s))
    # Sort by cost ascending, then score descending: a point is on the front iff its score
    # is >= the best score of all points with strictly smaller cost, and it is the best
    # (possibly tied) score among points of equal cost.
    order = ok[np.lexsort((-s[ok], c[ok]))]
    best_before = -np.inf  # best score among strictly cheaper points
    i = 0
    while i < order.size:
        j = i
        while j < order.size and c[order[j]] == c[order[i]]:
            j += 1
        block = order[i:j]
        top = s[block[0]]  # block sorted by score descending
        if top > best_before:  # else a cheaper point scores at least as well
            mask[block[s[block] == top]] = True
        best_before = max(best_before, top)
        i = j
    return mask


def rank_frame(scores: pd.DataFrame, *, higher_is_better: bool = True,
               reference: str | None = None) -> pd.DataFrame:
    """Rank (1 = best, ties get their average rank) of each arch per column.

    Args:
        scores: ``[archs x datasets]`` metric values.
        reference: column whose ranking orders the rows (default: the first column).

    Returns:
        ranks, same shape, rows sorted by the reference rank; NaN stays NaN.
    """
    reference = scores.columns[0] if reference is None else reference
    if reference not in scores.columns:
        raise QueryError(f"reference column {reference!r} not in {list(scores.columns)}")
    ranks = scores.rank(ascending=not higher_is_better, method="average", na_option="keep")
    return ranks.sort_values(reference, kind="stable")


def correlation(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray, *,
                method: Method = "kendall") -> tuple[float, int]:
    """Correlation of two equal-length vectors over the positions where both are finite.

    Returns ``(coefficient, n_used)``; the coefficient is NaN with fewer than 2 pairs.
    Kendall is tau-b (ties corrected), as in ``scipy.stats.kendalltau``.
    """
    from scipy import stats

    if method not in METHODS:
        raise QueryError(f"unknown correlation method {method!r}; valid: {METHODS}")
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if x.shape != y.shape:
        raise QueryError(f"vectors differ in shape: {x.shape} vs {y.shape}")
    ok = np.isfinite(x) & np.isfinite(y)
    n = int(ok.sum())
    if n < 2 or np.ptp(x[ok]) == 0 or np.ptp(y[ok]) == 0:
        return float("nan"), n
    fn = {"kendall": stats.kendalltau, "spearman": stats.spearmanr, "pearson": stats.pearsonr}[method]
    return float(fn(x[ok], y[ok])[0]), n


def correlation_matrix(scores: pd.DataFrame, *, method: Method = "kendall") -> pd.DataFrame:
    """Pairwise correlations between the columns of ``scores`` (diagonal 1), ``[k x k]``."""
    cols = list(scores.columns)
    out = pd.DataFrame(np.eye(len(cols)), index=cols, columns=cols)
    for i, a in enumerate(cols):
        for b in cols[i + 1:]:
            out.loc[a, b] = out.loc[b, a] = correlation(scores[a].to_numpy(), scores[b].to_numpy(),
                                                        method=method)[0]
    return out


def top_fraction(scores: pd.DataFrame, fraction: float, *, select_by: str,
                 higher_is_better: bool = True) -> pd.DataFrame:
    """Rows of the best ``ceil(fraction * n)`` archs by ``select_by`` (n = archs with a value)."""
    if not 0 < fraction <= 1:
        raise QueryError(f"fraction must be in (0, 1], got {fraction}")
    if select_by not in scores.columns:
        raise QueryError(f"select_by column {select_by!r} not in {list(scores.columns)}")
    present = scores[scores[select_by].notna()]
    k = int(np.ceil(fraction * len(present)))
    order = present[select_by].sort_values(ascending=not higher_is_better, kind="stable")
    return present.loc[order.index[:k]]


def top_fraction_correlations(scores: pd.DataFrame, *, fractions: Iterable[float] = (1.0, 0.5, 0.2, 0.1),
                              select_by: str | None = None, methods: Iterable[Method] = ("kendall",),
                              higher_is_better: bool = True) -> pd.DataFrame:
    """Correlation of every column pair restricted to the top fraction of archs.

    The top archs are chosen by ``select_by`` (default: first column), the same set for every
    pair. Returns tidy rows ``fraction, method, a, b, n, corr`` (pairs in column order, a < b).
    """
    select_by = scores.columns[0] if select_by is None else select_by
    rows = []
    cols = list(scores.columns)
    for frac in fractions:
        sub = top_fraction(scores, frac, select_by=select_by, higher_is_better=higher_is_better)
        for method in methods:
            for i, a in enumerate(cols):
                for b in cols[i + 1:]:
                    corr, n = correlation(sub[a].to_numpy(), sub[b].to_numpy(), method=method)
                    rows.append({"fraction": float(frac), "method": method, "a": a, "b": b,
                                 "n": n, "corr": corr})
    return pd.DataFrame(rows, columns=["fraction", "method", "a", "b", "n", "corr"])

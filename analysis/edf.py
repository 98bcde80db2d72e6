"""Error empirical distribution functions (EDFs) of sets of models.

Radosavovic et al., "On Network Design Spaces for Visual Recognition" (ICCV 2019) compare
design spaces through the EDF of the errors of models sampled from them; Na (PhD thesis 2022,
ch. 4.2.2, Fig. 4.2b) uses it to compare DARTS cells with k-ExtCells ("the percentage of
networks whose test errors are equal to or less than a certain threshold").

Definitions used here (all arrays are 1-D, one entry per model):

* EDF: ``F(e) = sum_i w_i * 1[e_i <= e]`` with ``w_i = 1/n`` (plain EDF) or normalized
  weights (below); right-continuous, ``F(e) -> 1``.
* Normalized EDF (complexity-controlled): split the complexity range (params or FLOPs;
  ``value_range``, default ``[min, max]`` of the models given) into ``bins`` equal-width bins
  (in log10 when ``log_bins``), the last bin closed on the right; let ``n_b`` be the number
  of models in bin ``b`` and ``p_b`` the target mass of the bin: ``1/B`` (uniform target, the
  choice of Radosavovic et al.) or the fraction of ``reference`` models in bin ``b``. Then
  ``w_i = p_b(i) / n_b(i)``: the weighted complexity histogram equals the target, and the
  weights sum to 1. Models outside ``value_range`` get weight 0. A bin with target mass but no
  model cannot be matched: ``empty="error"`` raises, ``empty="drop"`` gives its mass to no
  one and renormalizes the remaining target (logged).
* KS statistic: ``D = sup_e |F_a(e) - F_b(e)|``, attained at a sample point; with unit
  weights it equals ``scipy.stats.ks_2samp(a, b).statistic``.
* Bootstrap band: resample the models with replacement (``rng`` a numpy Generator), carry
  each model's weight along and renormalize, and take the pointwise ``(1-level)/2`` and
  ``(1+level)/2`` quantiles of the resampled EDFs.
"""
from __future__ import annotations

import logging
from typing import Literal, Sequence

import numpy as np
import pandas as pd

from natsbench.errors import QueryError

log = logging.getLogger(__name__)


def _as_1d(values: Sequence[float] | np.ndarray, name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0:
        raise QueryError(f"{name} must be a non-empty 1-D array, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise QueryError(f"{name} has {int((~np.isfinite(arr)).sum())} non-finite values; "
                         "drop failed models before computing EDFs")
    return arr


def _weights(weights: Sequence[float] | np.ndarray | None, n: int) -> np.ndarray:
    if weights is None:
        return np.full(n, 1.0 / n)
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (n,):
        raise QueryError(f"weights must have shape ({n},), got {w.shape}")
    if (w < 0).any() or not np.isfinite(w).all() or w.sum() <= 0:
        raise QueryError("weights must be finite, >= 0 and not all 0")
    return w / w.sum()


def edf(values: Sequence[float] | np.ndarray, grid: Sequence[float] | np.ndarray, *,
        weights: Sequence[float] | np.ndarray | None = None) -> np.ndarray:
    """``F(x) = sum_i w_i 1[values_i <= x]`` at each ``x`` of ``grid`` (same shape as grid)."""
    v = _as_1d(values, "values")
    w = _weights(weights, v.size)
    order = np.argsort(v, kind="stable")
    cum = np.concatenate([[0.0], np.cumsum(w[order])])
    idx = np.searchsorted(v[order], np.asarray(grid, dtype=np.float64), side="right")
    return np.minimum(cum[idx], 1.0)


def edf_steps(values: Sequence[float] | np.ndarray, *,
              weights: Sequence[float] | np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The EDF's jump points: sorted unique values and ``F`` at each (shapes ``[k]``)."""
    v = _as_1d(values, "values")
    xs = np.unique(v)
    return xs, edf(v, xs, weights=weights)


def complexity_weights(complexity: Sequence[float] | np.ndarray, *, bins: int = 10,
                       value_range: tuple[float, float] | None = None, log_bins: bool = False,
                       reference: Sequence[float] | np.ndarray | None = None,
                       empty: Literal["error", "drop"] = "error") -> np.ndarray:
    """Normalized-EDF weights that make the complexity distribution match a target.

    Args:
        complexity: per-model complexity (e.g. params in M or FLOPs in M), shape ``[n]``.
        bins: number of equal-width bins ``B``.
        value_range: ``(lo, hi)`` of the bins; default ``[min, max]`` of ``complexity``. Pass
            the same range for every set being compared.
        log_bins: bins equal-width in ``log10(complexity)`` (values must be > 0).
        reference: complexities of a reference set whose histogram is the target; default
            uniform (``1/B`` per bin).
        empty: what to do with bins that have target mass but no model (see module doc).

    Returns:
        ``[n]`` weights, >= 0, summing to 1.
    """
    c = _as_1d(complexity, "complexity")
    if bins < 1:
        raise QueryError(f"bins must be >= 1, got {bins}")
    if empty not in ("error", "drop"):
        raise QueryError(f"unknown empty-bin rule {empty!r}; valid: ('error', 'drop')")
    if value_range is None and reference is None and c.min() == c.max():
        return np.full(c.size, 1.0 / c.size)  # one complexity value: nothing to reweight
    lo, hi = (float(c.min()), float(c.max())) if value_range is None else map(float, value_range)
    if not hi > lo:
        raise QueryError(f"value_range must satisfy lo < hi, got ({lo}, {hi})")

    def transform(x: np.ndarray) -> np.ndarray:
        if not log_bins:
            return x
        if (x <= 0).any() or lo <= 0:
            raise QueryError("log_bins needs strictly positive complexities and range")
        return np.log10(x)

    edges = np.linspace(*transform(np.array([lo, hi])), bins + 1)

    def bin_of(x: np.ndarray) -> np.ndarray:
        t = transform(x)
        idx = np.searchsorted(edges, t, side="right") - 1
        idx[t == edges[-1]] = bins - 1  # last bin closed on the right
        idx[(t < edges[0]) | (t > edges[-1])] = -1
        return idx

    own = bin_of(c)
    counts = np.bincount(own[own >= 0], minlength=bins).astype(np.float64)
    if reference is None:
        target = np.full(bins, 1.0 / bins)
    else:
        ref = bin_of(_as_1d(reference, "reference"))
        ref_counts = np.bincount(ref[ref >= 0], minlength=bins).astype(np.float64)
        if ref_counts.sum() == 0:
            raise QueryError(f"no reference model lies in value_range ({lo}, {hi})")
        target = ref_counts / ref_counts.sum()
    unmatched = np.flatnonzero((target > 0) & (counts == 0))
    if unmatched.size:
        if empty == "error":
            raise QueryError(
                f"complexity bins {unmatched.tolist()} (of {bins}, edges {np.round(edges, 6).tolist()}"
                f"{' in log10' if log_bins else ''}) have target mass but no model; use fewer bins, "
                "a narrower value_range, or empty='drop'")
        log.info("normalized EDF: dropping %d empty bins %s and renormalizing the target",
                 unmatched.size, unmatched.tolist())
        target = np.where(counts > 0, target, 0.0)
        if target.sum() == 0:
            raise QueryError("no bin has both target mass and models")
        target = target / target.sum()
    outside = int((own < 0).sum())
    if outside:
        log.info("normalized EDF: %d models outside value_range (%s, %s) get weight 0", outside, lo, hi)
    w = np.zeros(c.size)
    inside = own >= 0
    w[inside] = target[own[inside]] / counts[own[inside]]
    return w / w.sum()


def ks_statistic(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray, *,
                 weights_a: Sequence[float] | np.ndarray | None = None,
                 weights_b: Sequence[float] | np.ndarray | None = None) -> float:
    """Two-sample Kolmogorov-Smirnov statistic ``sup_e |F_a(e) - F_b(e)|`` (weighted EDFs)."""
    a_arr, b_arr = _as_1d(a, "a"), _as_1d(b, "b")
    points = np.union1d(a_arr, b_arr)
    fa = edf(a_arr, points, weights=weights_a)
    fb = edf(b_arr, points, weights=weights_b)
    return float(np.max(np.abs(fa - fb)))


def common_range(frame: pd.DataFrame, *, complexity: str = "params", group: str = "group",
                 value_range: tuple[float, float] | None = None) -> tuple[float, float]:
    """The complexity range every group covers: ``(max of group minima, min of group maxima)``.

    ``value_range`` overrides it. Raises QueryError when the range is empty, since a
    complexity-normalized comparison of the groups is then undefined.
    """
    if value_range is not None:
        lo, hi = map(float, value_range)
    else:
        by = frame.groupby(group, sort=False)[complexity]
        lo, hi = float(by.min().max()), float(by.max().min())
    if not hi > lo:
        raise QueryError(f"the groups' {complexity} ranges do not overlap (common range [{lo}, {hi}]); "
                         "a normalized EDF needs a range: pass one explicitly")
    return lo, hi


def group_weights(frame: pd.DataFrame, *, complexity: str = "params", group: str = "group",
                  value_range: tuple[float, float], bins: int = 10) -> np.ndarray:
    """:func:`complexity_weights` of each group on one shared ``value_range`` (uniform target,
    empty bins dropped); shape ``[len(frame)]``, each group's weights sum to 1."""
    w = np.zeros(len(frame))
    for _, sub in frame.groupby(group, sort=False):
        pos = frame.index.get_indexer(sub.index)
        w[pos] = complexity_weights(sub[complexity].to_numpy(), bins=bins, value_range=value_range,
                                    empty="drop")
    return w


def group_statistics(frame: pd.DataFrame, *, value: str = "error", complexity: str = "params",
                     group: str = "group", reference: str | None = None, bins: int = 10,
                     value_range: tuple[float, float] | None = None,
                     weights: np.ndarray | None = None) -> pd.DataFrame:
    """Per group (in order of appearance): ``n``, ``k`` (where a ``k`` column is unique within
    the group), ``value`` mean/median/min/max as ``mean_<value>`` etc., the mean complexity,
    the number of models inside the common complexity range, and the KS statistic against
    ``reference`` (default: the first group) with its two-sample p-value and its
    complexity-normalized version (:func:`group_weights` on :func:`common_range`, or the
    caller's ``weights``, shape ``[len(frame)]``, when it has computed them already)."""
    from scipy import stats as sstats

    frame = frame.reset_index(drop=True)
    names = list(dict.fromkeys(frame[group]))
    reference = names[0] if reference is None else reference
    if reference not in names:
        raise QueryError(f"reference group {reference!r} not among the groups {names}")
    if weights is None:
        lo, hi = common_range(frame, complexity=complexity, group=group, value_range=value_range)
        weights = group_weights(frame, complexity=complexity, group=group, value_range=(lo, hi), bins=bins)
    weights = np.asarray(weights, dtype=np.float64)
    ref = frame[frame[group] == reference]
    w_ref = weights[ref.index]
    rows = []
    for name in names:
        sub = frame[frame[group] == name]
        w = weights[sub.index]
        row: dict = {"group": name, "n": len(sub)}
        if "k" in frame.columns:
            ks_values = sorted(set(sub["k"].dropna().tolist()))
            row["k"] = ks_values[0] if len(ks_values) == 1 else None
        row.update({
            f"mean_{value}": float(sub[value].mean()), f"median_{value}": float(sub[value].median()),
            f"min_{value}": float(sub[value].min()), f"max_{value}": float(sub[value].max()),
            f"mean_{complexity}": float(sub[complexity].mean()),
            f"n_in_{complexity}_range": int((w > 0).sum()), "reference": reference,
            "ks": ks_statistic(sub[value], ref[value]),
            "ks_pvalue": float(sstats.ks_2samp(sub[value], ref[value]).pvalue),
            f"ks_{complexity}_normalized": ks_statistic(
                sub[value][w > 0], ref[value][w_ref > 0], weights_a=w[w > 0], weights_b=w_ref[w_ref > 0]),
        })
        rows.append(row)
    return pd.DataFrame(rows)


def bootstrap_band(values: Sequence[float] | np.ndarray, grid: Sequence[float] | np.ndarray, *,
                   rng: np.random.Generator, weights: Sequence[float] | np.ndarray | None = None,
                   n_boot: int = 1000, level: float = 0.95,
                   chunk: int = 20_000_000) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise bootstrap confidence band of the (weighted) EDF on ``grid``.

    Returns ``(lo, hi)``, each of the grid's shape. ``chunk`` bounds the number of
    comparisons held in memory at once (``n_boot x n x len(grid)`` in total).
    """
    if not isinstance(rng, np.random.Generator):
        raise QueryError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    if not 0 < level < 1:
        raise QueryError(f"level must be in (0, 1), got {level}")
    if n_boot < 2:
        raise QueryError(f"n_boot must be >= 2, got {n_boot}")
    v = _as_1d(values, "values")
    w = _weights(weights, v.size)
    g = np.asarray(grid, dtype=np.float64).ravel()
    curves = np.empty((n_boot, g.size))
    per = max(1, chunk // max(1, v.size * g.size))
    for start in range(0, n_boot, per):
        stop = min(n_boot, start + per)
        idx = rng.integers(0, v.size, size=(stop - start, v.size))
        vw = w[idx]
        vw /= vw.sum(axis=1, keepdims=True)
        hits = v[idx][:, :, None] <= g[None, None, :]
        curves[start:stop] = np.einsum("bn,bng->bg", vw, hits)
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(curves, [alpha, 1.0 - alpha], axis=0)
    shape = np.shape(grid)
    return lo.reshape(shape), hi.reshape(shape)


def edf_table(frame: pd.DataFrame, *, value: str, group: str, grid: np.ndarray | None = None,
              weights: str | None = None, rng: np.random.Generator | None = None,
              n_boot: int = 0, level: float = 0.95, num: int = 200) -> pd.DataFrame:
    """Tidy EDFs of ``frame[value]`` per ``frame[group]`` on a common grid.

    Args:
        frame: one row per model.
        value: column with the errors.
        group: column naming the set (design space) of each model.
        grid: evaluation points; default ``num`` points spanning all values plus every value.
        weights: optional column of per-model weights (normalized within each group).
        rng, n_boot, level: when ``n_boot > 0``, add bootstrap band columns ``lo``/``hi``.

    Returns:
        DataFrame with columns ``group, x, F`` (+ ``lo, hi``), groups in order of appearance.
    """
    for col in [value, group] + ([weights] if weights else []):
        if col not in frame.columns:
            raise QueryError(f"column {col!r} not in frame; columns: {list(frame.columns)}")
    if grid is None:
        vals = frame[value].to_numpy(dtype=np.float64)
        grid = np.unique(np.concatenate([np.linspace(vals.min(), vals.max(), num), vals]))
    if n_boot > 0 and rng is None:
        raise QueryError("n_boot > 0 needs rng (a numpy.random.Generator)")
    parts = []
    for name, sub in frame.groupby(group, sort=False):
        w = sub[weights].to_numpy() if weights else None
        part = pd.DataFrame({group: name, "x": grid,
                             "F": edf(sub[value].to_numpy(), grid, weights=w)})
        if n_boot > 0:
            part["lo"], part["hi"] = bootstrap_band(sub[value].to_numpy(), grid, rng=rng, weights=w,
                                                    n_boot=n_boot, level=level)
        parts.append(part)
    return pd.concat(parts, ignore_index=True)

"""Performance profiles (Dolan & Moré 2002) and per-problem rankings.

Input everywhere is a ``[problems x solvers]`` :class:`pandas.DataFrame` (one row per task,
one column per method) of a metric whose direction is given by ``higher_is_better`` (one
bool for the whole table, or a mapping/Series from problem to bool). A missing entry (NaN)
means the solver did not solve that problem: it counts as a failure, never within any factor
of the best (ratio ``+inf``), exactly as Dolan & Moré treat failures.

Definitions (Dolan & Moré, Math. Program. 91:201-213, 2002):

* performance ratio ``r[p, s] = t[p, s] / min_s' t[p, s']`` for a lower-is-better metric and
  ``r[p, s] = max_s' t[p, s'] / t[p, s]`` for a higher-is-better one, so that ``r >= 1`` and
  the best solver(s) of a problem get exactly 1 (ties all get 1);
* profile ``rho_s(tau) = |{p : r[p, s] <= tau}| / n_p``, a right-continuous step function of
  ``tau >= 1`` (on a log10 axis, ``log10(tau) >= 0``);
* area under the profile on ``[1, tau_max]`` is exact for the step function:
  ``sum_p max(0, tau_max - r[p, s]) / n_p`` (linear) or the same with log10 of both (log10).
"""
from __future__ import annotations

import logging
from typing import Iterable, Literal, Mapping

import numpy as np
import pandas as pd

from natsbench.errors import QueryError

log = logging.getLogger(__name__)

Direction = bool | Mapping[str, bool] | pd.Series
Scale = Literal["linear", "log10"]
SCALES: tuple[str, ...] = ("linear", "log10")


def _directions(table: pd.DataFrame, higher_is_better: Direction) -> np.ndarray:
    """Per-problem direction as a bool array of shape ``[n_problems]``."""
    if isinstance(higher_is_better, (bool, np.bool_)):
        return np.full(len(table.index), bool(higher_is_better))
    mapping = dict(higher_is_better.items()) if isinstance(higher_is_better, pd.Series) \
        else dict(higher_is_better)
    missing = [p for p in table.index if p not in mapping]
    if missing:
        raise QueryError(f"higher_is_better has no direction for problems {missing}; "
                         f"it covers {sorted(map(str, mapping))}")
    return np.array([bool(mapping[p]) for p in table.index])


def _check_table(table: pd.DataFrame, *, positive: bool = True) -> np.ndarray:
    """Return the table as float64 ``[n_problems, n_solvers]``; NaN = failure.

    ``positive=True`` (needed for ratios) also rejects values <= 0.
    """
    if not isinstance(table, pd.DataFrame):
        raise QueryError(f"expected a pandas DataFrame [problems x solvers], got {type(table).__name__}")
    if table.shape[0] == 0 or table.shape[1] == 0:
        raise QueryError(f"empty table of shape {table.shape}; need >= 1 problem and >= 1 solver")
    if table.index.has_duplicates or table.columns.has_duplicates:
        raise QueryError("problem (index) and solver (column) labels must be unique; duplicated: "
                         f"{list(table.index[table.index.duplicated()])} "
                         f"{list(table.columns[table.columns.duplicated()])}")
    try:
        values = table.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise QueryError(f"table values must be numeric (NaN for failures): {exc}") from exc
    with np.errstate(invalid="ignore"):
        bad = np.argwhere(np.isinf(values) | ((values <= 0) if positive else False))
    if len(bad):
        where = [(table.index[i], table.columns[j], values[i, j]) for i, j in bad[:5]]
        need = "finite, strictly positive" if positive else "finite"
        raise QueryError(f"metric values must be {need} (use NaN for failures); "
                         f"bad (problem, solver, value): {where}")
    return values


def performance_ratios(table: pd.DataFrame, *, higher_is_better: Direction = False) -> pd.DataFrame:
    """Dolan-Moré performance ratios.

    Args:
        table: ``[problems x solvers]`` metric values, NaN for failures; present values must
            be finite and > 0.
        higher_is_better: direction of the metric, for all problems or per problem.

    Returns:
        DataFrame of the same shape and labels: ``r >= 1``, exactly 1 for the best solver(s)
        of each problem, ``+inf`` for failures. A problem no solver solved has all ``+inf``.
    """
    values = _check_table(table)
    higher = _directions(table, higher_is_better)
    ratios = np.full(values.shape, np.inf)
    for i, row in enumerate(values):
        ok = ~np.isnan(row)
        if not ok.any():
            log.warning("problem %r was solved by no solver; all ratios are +inf", table.index[i])
            continue
        if higher[i]:
            ratios[i, ok] = row[ok].max() / row[ok]
        else:
            ratios[i, ok] = row[ok] / row[ok].min()
        # Exact ties with the best must give exactly 1 (division already does; keep explicit).
        best = row[ok].max() if higher[i] else row[ok].min()
        ratios[i, ok & (row == best)] = 1.0
    return pd.DataFrame(ratios, index=table.index, columns=table.columns)


def tau_grid(ratios: pd.DataFrame, *, scale: Scale = "linear", num: int = 200,
             tau_max: float | None = None) -> np.ndarray:
    """A grid of ``tau`` values (always ratios, also for ``scale="log10"``).

    The grid spans ``[1, tau_max]`` with ``num`` points equally spaced in ``tau``
    (``"linear"``) or in ``log10(tau)`` (``"log10"``), merged with every finite ratio
    ``<= tau_max`` so that each step of each profile is represented exactly.
    ``tau_max`` defaults to 1.05 x the largest finite ratio (2.0 if all ratios are 1).
    """
    if scale not in SCALES:
        raise QueryError(f"unknown tau scale {scale!r}; valid: {SCALES}")
    if num < 2:
        raise QueryError(f"num must be >= 2, got {num}")
    r = ratios.to_numpy(dtype=np.float64)
    finite = r[np.isfinite(r)]
    if tau_max is None:
        top = float(finite.max()) if finite.size else 1.0
        tau_max = top * 1.05 if top > 1.0 else 2.0
    if not tau_max > 1.0:
        raise QueryError(f"tau_max must be > 1, got {tau_max}")
    if scale == "linear":
        base = np.linspace(1.0, tau_max, num)
    else:
        base = np.logspace(0.0, np.log10(tau_max), num)
        base[0], base[-1] = 1.0, tau_max
    return np.unique(np.concatenate([base, finite[finite <= tau_max]]))


def profile(ratios: pd.DataFrame, taus: Iterable[float]) -> pd.DataFrame:
    """``rho_s(tau)``: fraction of problems with ``r[p, s] <= tau``.

    Args:
        ratios: output of :func:`performance_ratios`, shape ``[n_problems, n_solvers]``.
        taus: ratio thresholds (>= 1), any order.

    Returns:
        DataFrame indexed by ``tau`` (named ``"tau"``), one column per solver, values in [0, 1].
    """
    taus = np.asarray(list(taus), dtype=np.float64)
    r = ratios.to_numpy(dtype=np.float64)
    # [n_tau, n_problems, n_solvers] -> mean over problems
    rho = (r[None, :, :] <= taus[:, None, None]).mean(axis=1)
    return pd.DataFrame(rho, index=pd.Index(taus, name="tau"), columns=ratios.columns)


def profile_area(ratios: pd.DataFrame, *, tau_max: float, scale: Scale = "linear",
                 normalize: bool = True) -> pd.Series:
    """Exact area under each solver's profile on ``[1, tau_max]``.

    With ``scale="log10"`` the integration variable is ``log10(tau)`` on
    ``[0, log10(tau_max)]``. ``normalize=True`` divides by the interval length, giving a
    number in [0, 1] (1 = best on every problem).
    """
    if scale not in SCALES:
        raise QueryError(f"unknown tau scale {scale!r}; valid: {SCALES}")
    if not tau_max > 1.0:
        raise QueryError(f"tau_max must be > 1, got {tau_max}")
    r = ratios.to_numpy(dtype=np.float64)
    if scale == "log10":
        with np.errstate(divide="ignore"):
            r, top = np.log10(r), float(np.log10(tau_max))
        length = top
    else:
        top, length = float(tau_max), float(tau_max) - 1.0
    area = np.clip(top - r, 0.0, None).mean(axis=0)  # inf ratios contribute 0
    if normalize:
        area = area / length
    return pd.Series(area, index=ratios.columns, name="area")


def tau_to_solve_all(ratios: pd.DataFrame) -> pd.Series:
    """Smallest ``tau`` with ``rho_s(tau) = 1`` (the worst ratio of each solver; inf on a failure)."""
    return ratios.max(axis=0).rename("tau_all")


def task_ranks(table: pd.DataFrame, *, higher_is_better: Direction = False,
               method: str = "min") -> pd.DataFrame:
    """Rank of each solver on each problem (1 = best), NaN where the solver has no entry.

    ``method`` is pandas' tie rule (``"min"``: tied solvers share the best of their ranks).
    """
    values = _check_table(table, positive=False)
    higher = _directions(table, higher_is_better)
    frame = pd.DataFrame(values, index=table.index, columns=table.columns)
    rows = [frame.loc[p].rank(ascending=not h, method=method, na_option="keep")
            for p, h in zip(frame.index, higher)]
    return pd.DataFrame(rows, index=table.index, columns=table.columns)


def best_counts(table: pd.DataFrame, *, higher_is_better: Direction = False,
                ties: Literal["shared", "strict"] = "shared") -> pd.Series:
    """On how many problems each solver is the best.

    ``ties="shared"`` counts a problem for every solver tied for the best;
    ``ties="strict"`` counts it only when one solver alone is the best.
    """
    if ties not in ("shared", "strict"):
        raise QueryError(f"unknown ties rule {ties!r}; valid: ('shared', 'strict')")
    best = task_ranks(table, higher_is_better=higher_is_better, method="min") == 1
    if ties == "strict":
        best = best & (best.sum(axis=1) == 1).to_numpy()[:, None]
    return best.sum(axis=0).astype(int).rename("best_on")


def wins_over(table: pd.DataFrame, solver: str, others: Iterable[str], *,
              higher_is_better: Direction = False, strict: bool = True) -> pd.Series:
    """Per problem: does ``solver`` beat every solver of ``others`` that has an entry there?

    ``strict=True`` requires strictly better, ``False`` better or equal. Problems where
    ``solver`` has no entry are False; problems where none of ``others`` has an entry are
    True (nothing to beat). Returns a bool Series indexed by problem.
    """
    others = [o for o in others if o != solver]
    unknown = [s for s in [solver, *others] if s not in table.columns]
    if unknown:
        raise QueryError(f"unknown solvers {unknown}; valid: {list(table.columns)}")
    values = _check_table(table, positive=False)
    higher = _directions(table, higher_is_better)
    col = {s: j for j, s in enumerate(table.columns)}
    mine = values[:, col[solver]]
    theirs = values[:, [col[o] for o in others]] if others else np.full((len(mine), 0), np.nan)
    sign = np.where(higher, -1.0, 1.0)  # turn every problem into lower-is-better
    mine_s, theirs_s = mine * sign, theirs * sign[:, None]
    with np.errstate(invalid="ignore"):
        cmp = theirs_s > mine_s[:, None] if strict else theirs_s >= mine_s[:, None]
    result = np.where(np.isnan(theirs_s), True, cmp).all(axis=1) & ~np.isnan(mine)
    return pd.Series(result, index=table.index, name=f"{solver}_wins")

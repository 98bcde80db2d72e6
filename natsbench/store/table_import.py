"""Turning a user's table of architectures and metrics (CSV or Parquet) into a benchmark.

The table has one row per architecture (or per (architecture, seed), or per
(architecture, seed, epoch) with an ``epoch`` column). Column roles:

* ``arch`` (or ``--arch-column``): the architecture string (required);
* ``seed`` (optional): the training seed (default 0);
* ``epoch`` (optional): 0-based epoch of the row; without it each row is the final result
  of a 1-epoch group;
* ``params``, ``flops``, ``latency`` (optional): costs (M, M, s);
* every other numeric column is a metric, named as in the store (``x-valid_acc1``,
  ``ori-test_acc1``, ``train_loss`` ...).

Architecture strings are validated against the space; unknown and duplicate strings are
reported (with row numbers), never guessed.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from natsbench.errors import ArchiveError, InvalidArchError
from natsbench.store.records import COST_NAMES
from natsbench.store.writer import GroupBuffer, write_bench

_MAX_LISTED = 10


def read_table(path: str | os.PathLike):
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise ArchiveError(f"table file {path} does not exist")
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            return pd.read_parquet(path)
        if path.suffix.lower() in (".csv", ".txt"):
            return pd.read_csv(path)
    except Exception as exc:  # pandas raises many types for malformed files
        raise ArchiveError(f"{path}: unreadable table ({type(exc).__name__}: {exc})") from exc
    raise ArchiveError(f"{path}: unknown table format {path.suffix!r}; use .csv or .parquet")


def _int_column(df: Any, name: str, path: Any, minimum: int | None) -> list[int]:
    """A column of whole numbers (no NaN; >= minimum), or an ArchiveError naming the rows."""
    values = np.asarray(df[name], dtype=float)
    bad = np.flatnonzero(~np.isfinite(values) | (values != np.round(values))
                         | ((values < minimum) if minimum is not None else False))
    if bad.size:
        rows = ", ".join(f"row {r}: {df[name].iat[r]!r}" for r in bad[:_MAX_LISTED])
        need = f"whole numbers >= {minimum}" if minimum is not None else "whole numbers"
        raise ArchiveError(f"{path}: column {name!r} must hold {need}; bad values at {rows}")
    return values.astype(np.int64).tolist()


def import_table(path: str | os.PathLike, out: str | os.PathLike, *, space: str, dataset: str,
                 hp: int | str, arch_column: str = "arch", all_archs: bool = True,
                 eval_sets: list[str] | None = None, overwrite: bool = False,
                 provenance: dict[str, Any] | None = None) -> Path:
    """Create a benchmark from a table; see the module docstring for the column roles.

    Args:
        space: search space of the arch strings (validated with natsbench.spaces).
        dataset, hp: the group the rows belong to.
        all_archs: index the benchmark by the whole space (canonical order) when the space
            is enumerable; otherwise only the archs in the table, in table order.
    """
    from natsbench.spaces import get_space

    df = read_table(path)
    if arch_column not in df.columns:
        raise ArchiveError(f"{path}: no architecture column {arch_column!r}; columns: {list(df.columns)}")
    sp = get_space(space)
    bad = []
    canon = []
    for row, arch in enumerate(df[arch_column].tolist()):
        try:
            canon.append(sp.validate(str(arch)))
        except (InvalidArchError, ValueError) as exc:
            bad.append(f"row {row}: {arch!r} ({exc})")
    if bad:
        more = f" and {len(bad) - _MAX_LISTED} more" if len(bad) > _MAX_LISTED else ""
        raise ArchiveError(f"{path}: {len(bad)} unknown {space} architecture strings: "
                           + "; ".join(bad[:_MAX_LISTED]) + more)
    seeds = _int_column(df, "seed", path, minimum=None) if "seed" in df.columns else [0] * len(df)
    epochs_col = _int_column(df, "epoch", path, minimum=0) if "epoch" in df.columns else [0] * len(df)
    keys = list(zip(canon, seeds, epochs_col))
    seen: dict[tuple, int] = {}
    dups = []
    for row, key in enumerate(keys):
        if key in seen:
            dups.append(f"rows {seen[key]} and {row}: {key[0]!r} seed {key[1]} epoch {key[2]}")
        else:
            seen[key] = row
    if dups:
        more = f" and {len(dups) - _MAX_LISTED} more" if len(dups) > _MAX_LISTED else ""
        raise ArchiveError(f"{path}: {len(dups)} duplicate architecture rows: "
                           + "; ".join(dups[:_MAX_LISTED]) + more)
    reserved = {arch_column, "seed", "epoch", *COST_NAMES}
    metric_cols = [c for c in df.columns if c not in reserved and np.issubdtype(df[c].dtype, np.number)]
    ignored = [c for c in df.columns if c not in reserved and c not in metric_cols]
    if ignored:
        raise ArchiveError(f"{path}: non-numeric columns {ignored} are neither metrics nor "
                           f"{sorted(reserved)}")
    if all_archs and sp.size is not None:
        arch_strs = sp.all_archs()
        order = "canonical"
    else:
        arch_strs = list(dict.fromkeys(canon))
        order = "custom"
    index = {a: i for i, a in enumerate(arch_strs)}
    n_epochs = max(epochs_col) + 1 if epochs_col else 1
    runs: dict[tuple[int, int], dict] = {}
    for row, (arch, seed, epoch) in enumerate(keys):
        run = runs.setdefault((index[arch], seed), {"metrics": {c: [np.nan] * n_epochs for c in metric_cols},
                                                    "costs": {}})
        for c in metric_cols:
            run["metrics"][c][epoch] = float(df[c].iat[row])
        for c in COST_NAMES:
            if c in df.columns and not np.isnan(float(df[c].iat[row])):
                run["costs"][c] = float(df[c].iat[row])
    group = GroupBuffer(dataset, hp)
    for (a, seed), run in runs.items():
        group.add_run(a, seed, n_epochs, run["metrics"], run["costs"])
    sets = eval_sets or sorted({c.rpartition("_")[0] for c in metric_cols if not c.startswith("train_")})
    prov = {"data": f"user table {Path(path).name}", "source": str(Path(path).resolve()),
            "importer": "natsbench import-table"}
    prov.update(provenance or {})
    return write_bench(out, space=space, arch_strs=arch_strs, groups=[group],
                       datasets={dataset: {"num_classes": None, "eval_sets": sets}},
                       arch_order=order, provenance=prov, overwrite=overwrite, dtype="float64")

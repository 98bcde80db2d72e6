"""Writing benchmark directories.

Writers stage runs per (dataset, hp) in a :class:`GroupBuffer`, then
:func:`write_bench` lays out a complete benchmark in a temporary sibling directory and
renames it into place, so a crash or an error never leaves a half-written benchmark.
"""
from __future__ import annotations

import logging
import math
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Collection, Iterable, Mapping, Sequence

import numpy as np

from natsbench.errors import StoreError
from natsbench.store.manifest import (
    ARCHS_FILE, COSTS_FILE, CUMTIME_FILE, METRICS_FILE, PRESENT_FILE, ROWS_FILE, GroupInfo,
    Manifest, write_manifest,
)
from natsbench.store.layout import cumulative_times, metric_sort_key, time_columns
from natsbench.store.records import COST_NAMES, RunRecord, normalize_hp

log = logging.getLogger(__name__)

@dataclass
class _Run:
    epochs: int
    metrics: dict[str, np.ndarray]
    costs: tuple[float, float, float]


@dataclass
class GroupBuffer:
    """Runs of one (dataset, hp) staged in memory before they are written densely.

    Use :meth:`add_run` once per (arch index, seed); :meth:`fill` writes the dense
    ``metrics`` [row, seed, epoch, metric], ``costs`` [row, seed, 3] and ``present``
    [row, seed] arrays, one row per architecture with a run (see :meth:`rows`).
    """

    dataset: str
    hp: str
    runs: dict[tuple[int, int], _Run] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.hp = normalize_hp(self.hp)

    def add_run(self, arch_index: int, seed: int, epochs: int,
                metrics: Mapping[str, Sequence[float] | np.ndarray],
                costs: Mapping[str, float] | None = None, replace: bool = False) -> None:
        """Stage one run. ``metrics`` values are per-epoch sequences of length ``epochs``."""
        key = (int(arch_index), int(seed))
        if key in self.runs and not replace:
            raise StoreError(f"duplicate run: arch index {arch_index}, seed {seed} on "
                             f"{self.dataset} hp {self.hp}")
        arrays: dict[str, np.ndarray] = {}
        for name, values in metrics.items():
            arr = np.asarray(values, dtype=np.float64)
            if arr.shape != (epochs,):
                raise StoreError(f"metric {name!r} of arch {arch_index} seed {seed} has shape "
                                 f"{arr.shape}, expected ({epochs},)")
            arrays[name] = arr
        costs = dict(costs or {})
        unknown = set(costs) - set(COST_NAMES)
        if unknown:
            raise StoreError(f"unknown cost names {sorted(unknown)}; valid: {list(COST_NAMES)}")
        cost_tuple = tuple(float(costs.get(name, math.nan)) for name in COST_NAMES)
        self.runs[key] = _Run(int(epochs), arrays, cost_tuple)  # type: ignore[arg-type]

    def add_record(self, arch_index: int, record: RunRecord, replace: bool = True) -> None:
        self.add_run(arch_index, record.seed, record.epochs, record.metrics, record.costs, replace=replace)

    def info(self, eval_sets: Sequence[str] = (), dtype: str = "float32") -> GroupInfo:
        if not self.runs:
            raise StoreError(f"group {self.dataset}/{self.hp} has no runs")
        epochs = {run.epochs for run in self.runs.values()}
        if len(epochs) != 1:
            raise StoreError(f"runs of {self.dataset} hp {self.hp} have different epoch counts "
                             f"{sorted(epochs)}; one group holds runs of one length")
        names: set[str] = set()
        for run in self.runs.values():
            names.update(run.metrics)
        metrics = sorted(names, key=lambda n: metric_sort_key(n, eval_sets))
        seeds = sorted({seed for _, seed in self.runs})
        return GroupInfo(self.dataset, self.hp, seeds, epochs.pop(), metrics, dtype)

    def rows(self) -> np.ndarray:
        """Sorted arch indices that have at least one run (the row axis)."""
        return np.array(sorted({a for a, _ in self.runs}), dtype=np.int64)

    def fill(self, info: GroupInfo, rows: np.ndarray, metrics_out: np.ndarray,
             costs_out: np.ndarray, present_out: np.ndarray) -> None:
        """Write the staged runs into preallocated dense arrays (NaN/False initialised)."""
        seed_pos = {s: i for i, s in enumerate(info.seeds)}
        metric_pos = {m: i for i, m in enumerate(info.metrics)}
        row_of = {int(a): r for r, a in enumerate(rows)}
        for (arch_index, seed), run in self.runs.items():
            arch = row_of[arch_index]
            s = seed_pos[seed]
            present_out[arch, s] = True
            costs_out[arch, s, :] = run.costs
            for name, values in run.metrics.items():
                metrics_out[arch, s, :, metric_pos[name]] = values


@dataclass
class DenseGroup:
    """A (dataset, hp) block already in dense form (e.g. read from an existing benchmark)."""

    info: GroupInfo
    rows: np.ndarray      # [R] arch index of each row
    metrics: np.ndarray   # [R, seed, epoch, metric]
    costs: np.ndarray     # [R, seed, 3]
    present: np.ndarray   # [R, seed] bool

    @property
    def dataset(self) -> str:
        return self.info.dataset


def write_cumtime(path: Path, metrics: np.ndarray, metric_names: Sequence[str]) -> None:
    """Write the derived ``cumtime.npy`` of a group, chunk by chunk (bounded memory)."""
    cols = time_columns(metric_names)
    shape = metrics.shape[:3] + (len(cols),)
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float64, shape=shape)
    for start in range(0, shape[0], 2048):
        out[start:start + 2048] = cumulative_times(metrics[start:start + 2048], metric_names)
    out.flush()
    del out


def _new_partial_dir(out_dir: Path) -> Path:
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.partial-", dir=out_dir.parent))


def write_arch_table(path: Path, arch_strs: Sequence[str],
                     columns: Mapping[str, Sequence[Any]] | None = None) -> None:
    """Write ``archs.parquet``: columns ``index``, ``arch`` and any extra ``columns``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    data: dict[str, Any] = {
        "index": pa.array(np.arange(len(arch_strs), dtype=np.int64)),
        "arch": pa.array(list(arch_strs), type=pa.string()),
    }
    for name, values in (columns or {}).items():
        if name in data:
            raise StoreError(f"arch table column {name!r} is reserved")
        if len(values) != len(arch_strs):
            raise StoreError(f"arch table column {name!r} has {len(values)} rows, expected {len(arch_strs)}")
        data[name] = pa.array(values)
    pq.write_table(pa.table(data), path)


def write_bench(out_dir: str | os.PathLike, *, space: str, arch_strs: Sequence[str],
                groups: Iterable[GroupBuffer | DenseGroup], datasets: Mapping[str, Mapping[str, Any]],
                arch_order: str = "custom", arch_columns: Mapping[str, Sequence[Any]] | None = None,
                net_config: Mapping[str, Any] | None = None,
                provenance: Mapping[str, Any] | None = None, extra: Mapping[str, Any] | None = None,
                dtype: str = "float32", overwrite: bool = False,
                records_from: str | os.PathLike | None = None,
                records_skip: Collection[Path] = ()) -> Path:
    """Write a complete benchmark directory atomically.

    Args:
        out_dir: target directory; must not exist unless ``overwrite``.
        space: search-space name.
        arch_strs: the architecture of each row, in index order.
        groups: staged runs per (dataset, hp); arch indices refer to ``arch_strs``.
        datasets: dataset -> ``{"num_classes": int, "eval_sets": [...]}``.
        arch_order: ``official``, ``canonical`` or ``custom`` (see docs/FORMAT.md).
        arch_columns: extra per-arch columns for ``archs.parquet``.
        net_config, provenance, extra: copied into the manifest.
        dtype: metric array element type, ``float32`` or ``float64``.
        overwrite: replace an existing benchmark at ``out_dir``.
        records_from: a directory whose ``records/`` should be carried over (compaction
            keeps failed/unplaceable records; see :mod:`natsbench.store.compact`).
        records_skip: record files under ``records_from`` not to carry over (the merged ones).

    Returns:
        The benchmark directory path.
    """
    out = Path(out_dir)
    if out.exists() and not overwrite:
        raise StoreError(f"{out} already exists; choose another --out or pass overwrite")
    if len(set(arch_strs)) != len(arch_strs):
        raise StoreError("duplicate architecture strings in the arch table")
    partial = _new_partial_dir(out)
    try:
        write_arch_table(partial / ARCHS_FILE, arch_strs, arch_columns)
        infos: list[GroupInfo] = []
        n = len(arch_strs)
        for group in groups:
            if group.dataset not in datasets:
                raise StoreError(f"group dataset {group.dataset!r} missing from datasets {sorted(datasets)}")
            if isinstance(group, DenseGroup):
                info = GroupInfo(group.info.dataset, group.info.hp, list(group.info.seeds),
                                 group.info.epochs, list(group.info.metrics), dtype)
                keep = np.asarray(group.present).any(axis=1)
                rows = np.asarray(group.rows, dtype=np.int64)[keep]
                if rows.size and (rows.min() < 0 or rows.max() >= n):
                    raise StoreError(f"group {info.dataset}/{info.hp} has rows outside [0, {n})")
            else:
                if not group.runs:
                    continue
                bad = [a for a, _ in group.runs if not 0 <= a < n]
                if bad:
                    raise StoreError(f"run arch indices {bad[:5]} outside [0, {n})")
                info = group.info(datasets[group.dataset].get("eval_sets", ()), dtype)
                rows = group.rows()
            gdir = partial / info.relpath
            gdir.mkdir(parents=True, exist_ok=True)
            shape = (len(rows), len(info.seeds), info.epochs, len(info.metrics))
            metrics = np.lib.format.open_memmap(gdir / METRICS_FILE, mode="w+", dtype=dtype, shape=shape)
            costs = np.full((len(rows), len(info.seeds), len(COST_NAMES)), np.nan, dtype=np.float64)
            present = np.zeros((len(rows), len(info.seeds)), dtype=bool)
            if isinstance(group, DenseGroup):
                for start in range(0, len(keep), 4096):  # chunked: bounded memory
                    sel = np.flatnonzero(keep[start:start + 4096]) + start
                    lo = int(keep[:start].sum())
                    metrics[lo:lo + len(sel)] = group.metrics[sel]
                    costs[lo:lo + len(sel)] = group.costs[sel]
                    present[lo:lo + len(sel)] = group.present[sel]
            else:
                metrics[...] = np.nan
                group.fill(info, rows, metrics, costs, present)
            metrics.flush()
            write_cumtime(gdir / CUMTIME_FILE, metrics, info.metrics)
            del metrics
            np.save(gdir / COSTS_FILE, costs)
            np.save(gdir / PRESENT_FILE, present)
            np.save(gdir / ROWS_FILE, rows)
            infos.append(info)
        manifest = Manifest(
            space=space, num_archs=n, arch_order=arch_order,
            datasets={k: dict(v) for k, v in datasets.items()}, groups=infos,
            net_config=dict(net_config or {}), provenance=dict(provenance or {}),
            extra=dict(extra or {}),
        )
        if records_from is not None:
            src = Path(records_from) / "records"
            skip = {Path(p) for p in records_skip}
            if src.is_dir():
                shutil.copytree(src, partial / "records", ignore=lambda d, names: [
                    n for n in names if Path(d) / n in skip])
        write_manifest(partial, manifest)
        replace_dir(partial, out)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    log.info("wrote benchmark %s (%d archs, %d groups)", out, n, len(infos))
    return out


def _exchange_dirs(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux ``renameat2(RENAME_EXCHANGE)``); False if unsupported."""
    import ctypes

    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    return renameat2(at_fdcwd, os.fsencode(str(a)), at_fdcwd, os.fsencode(str(b)), rename_exchange) == 0


def replace_dir(partial: Path, out: Path) -> None:
    """Put ``partial`` at ``out``; an existing ``out`` is swapped out in one atomic step where
    the OS supports it (readers never see a missing benchmark), else moved aside first."""
    if out.exists() and _exchange_dirs(partial, out):
        shutil.rmtree(partial, ignore_errors=True)  # now holds the old benchmark
        return
    if out.exists():
        trash = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
        os.rename(out, trash / out.name)
        os.rename(partial, out)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        os.rename(partial, out)

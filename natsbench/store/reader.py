"""Reading benchmark directories: lazy, memory-mapped, with not-yet-compacted records.

Opening a benchmark reads ``manifest.json`` and the run records under ``records/`` that have
not been compacted yet (none in a shipped benchmark; ``natsbench compact`` merges them), and,
on first use, the architecture column of ``archs.parquet``. The dense arrays of a (dataset,
hp) group are memory-mapped on first touch, so memory grows only with what is queried; the
pending records are overlaid on the group they belong to when it is first touched.

Readers take no lock. ``compact`` replaces the whole directory atomically; a reader reads the
manifest and the records of one directory state (again, if the directory was replaced while
it opened), and fails with a clear error rather than mixing states when it maps a group's
arrays only after a replacement (docs/FORMAT.md, "Concurrent writers, readers and
compaction").
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Sequence

import numpy as np

from natsbench.errors import ArchiveError, QueryError, StoreError
from natsbench.store.manifest import (
    ARCHS_FILE, COSTS_FILE, CUMTIME_FILE, METRICS_FILE, PRESENT_FILE, ROWS_FILE, GroupInfo,
    Manifest, read_manifest,
)
from natsbench.store.records import (
    COST_NAMES, RECORDS_DIR, RunRecord, iter_record_paths, normalize_hp, read_record,
)
from natsbench.store.layout import cumulative_times, metric_sort_key

log = logging.getLogger(__name__)

#: pyarrow type name -> numpy dtype of the fixed-width types :func:`column_to_numpy` reads directly
_NUMPY_DTYPES = {"float": np.float32, "double": np.float64, "halffloat": np.float16,
                 **{f"{sign}int{bits}": getattr(np, f"{sign}int{bits}")
                    for sign in ("", "u") for bits in (8, 16, 32, 64)}}


def column_to_numpy(column) -> np.ndarray:
    """A pyarrow ``Array``/``ChunkedArray`` as a 1-D numpy array, without importing pandas.

    pyarrow's own ``to_numpy`` imports pandas (0.2-0.4 s, most of a first query's time).
    Integer and float columns without nulls are copied from their data buffers; anything else
    (bool, strings, nulls -> None) goes through Python objects.
    """
    chunks = getattr(column, "chunks", None)
    if chunks is None:
        chunks = [column]
    dtype = _NUMPY_DTYPES.get(str(column.type))
    if dtype is None or column.null_count:
        return np.asarray(column.to_pylist())
    parts = [np.frombuffer(chunk.buffers()[1], dtype=dtype, count=len(chunk) + chunk.offset)[chunk.offset:]
             for chunk in chunks if len(chunk)]
    return np.concatenate(parts) if parts else np.empty(0, dtype=dtype)


_SNAPSHOT_TRIES = 20


def _generation(path: Path) -> tuple[int, int, int] | None:
    """Identity of a benchmark directory's current state: ``archs.parquet`` (device, inode,
    mtime in ns). Every rewrite of the directory (``compact``) writes a new one; nothing
    else touches it (``update_provenance`` rewrites only the manifest)."""
    try:
        st = os.stat(path / ARCHS_FILE)
    except OSError:
        return None
    return st.st_dev, st.st_ino, st.st_mtime_ns


@dataclass
class GroupArrays:
    """The arrays of one (dataset, hp) group, one row per architecture with a run.

    Attributes:
        info: axis labels (seeds, epochs, metric names).
        rows: ``[R]`` int64, sorted: the architecture index of each row.
        source: optional ``[num_archs]`` int64: the architecture whose results an
            architecture without its own row shares (``source_index`` column of the arch
            table, e.g. the trained representative of an isomorphism class); -1 = none.
        cumtime: ``[R, seed, epoch, T]`` float64 running sums of the ``*_time`` metrics (in
            metric order), or None where a benchmark was written without it.
        metrics: ``[R, seed, epoch, metric]`` float array, NaN where absent.
        costs: ``[R, seed, 3]`` float64: params (M), FLOPs (M), latency (s).
        present: ``[R, seed]`` bool: the run exists.
        num_archs: size of the architecture axis the rows index into.
    """

    info: GroupInfo
    rows: np.ndarray
    metrics: np.ndarray
    costs: np.ndarray
    present: np.ndarray
    num_archs: int
    source: np.ndarray | None = None
    cumtime: np.ndarray | None = None
    seed_pos: dict[int, int] = field(init=False)
    metric_pos: dict[str, int] = field(init=False)
    identity: bool = field(init=False)

    def __post_init__(self) -> None:
        self.seed_pos = {s: i for i, s in enumerate(self.info.seeds)}
        self.metric_pos = {m: i for i, m in enumerate(self.info.metrics)}
        # rows are sorted and unique, so R == num_archs means rows == arange(num_archs)
        self.identity = len(self.rows) == self.num_archs and self.source is None
        self._row_of: np.ndarray | None = None

    @property
    def row_of(self) -> np.ndarray:
        """``[num_archs]`` int64: row of each architecture, -1 where it has no run."""
        if self._row_of is None:
            row_of = np.full(self.num_archs, -1, dtype=np.int64)
            row_of[np.asarray(self.rows)] = np.arange(len(self.rows))
            if self.source is not None:  # isomorphic copies read their representative's row
                src = self.source
                own = row_of[: len(src)]
                alias = (own < 0) & (src >= 0)
                own[alias] = row_of[src[alias]]
            self._row_of = row_of
        return self._row_of

    def row(self, arch: int) -> int:
        """Row of one architecture (-1 when it has no run)."""
        if self.identity:
            return arch
        return int(self.row_of[arch])

    def take(self, archs: np.ndarray | slice) -> tuple[np.ndarray | slice, np.ndarray | None]:
        """Rows for an arch selection: ``(rows, valid)``; ``valid`` None means all valid."""
        if self.identity:
            return archs, None
        r = self.row_of[archs]
        return r, r >= 0

    def gather(self, array: np.ndarray, archs: np.ndarray | slice, index: tuple = (),
               fill: float | bool = np.nan) -> np.ndarray:
        """``array[rows(archs)][(slice(None),) + index]`` with ``fill`` for archs without a row."""
        rows, valid = self.take(archs)
        if valid is None:
            return np.asarray(array[(rows,) + index])
        n = len(valid)
        sample = array[(slice(0, 0),) + index]
        out = np.full((n,) + sample.shape[1:], fill, dtype=np.float64 if fill is not False else bool)
        if valid.any():
            out[valid] = array[(rows[valid],) + index]
        return out


class StoreReader:
    """Low-level read access to one benchmark directory (see docs/FORMAT.md).

    Args:
        path: the benchmark directory.
        overlay_records: also read the run records not compacted yet and answer them as
            part of the benchmark (default). False reads the compacted arrays only, without
            opening a record file (the builder's planning, which lists records itself).
    """

    def __init__(self, path: str | os.PathLike, *, overlay_records: bool = True) -> None:
        self.path = Path(path)
        # a consistent snapshot without a lock: the manifest and the records must come from
        # one directory, so read them again if ``compact`` replaced it in between
        for _ in range(_SNAPSHOT_TRIES):
            self._generation = _generation(self.path)
            try:
                self._open(overlay_records)
            except (StoreError, ArchiveError):
                if _generation(self.path) == self._generation:
                    raise
                continue  # read across a replacement (a record vanished with the old directory)
            if _generation(self.path) == self._generation:
                break
        else:
            raise StoreError(f"{self.path} was replaced {_SNAPSHOT_TRIES} times while being opened")

    def _open(self, overlay_records: bool) -> None:
        self.manifest: Manifest = read_manifest(self.path)
        self._groups: dict[tuple[str, str], GroupArrays] = {}
        self._group_infos = {(g.dataset, g.hp): g for g in self.manifest.groups}
        #: the ``ok`` record files overlaid by this reader (what ``compact`` may delete)
        self.overlaid_paths: list[Path] = []
        #: the record files of failed runs (kept by ``compact``; ``build --retry-failed`` reruns them)
        self.failed_record_paths: list[Path] = []
        self._pending = self._scan_records() if overlay_records else {}
        self._extra_archs: list[str] = []
        if self._pending:
            self._add_pending_groups()

    def _check_generation(self) -> None:
        """Fail if the directory was replaced since it was opened (its files, read lazily,
        would belong to another state than the manifest and records already read)."""
        if _generation(self.path) != self._generation:
            raise StoreError(f"{self.path} was rewritten (e.g. compacted) after it was opened; "
                             "open it again")

    # -- architectures -------------------------------------------------------------------
    @cached_property
    def _table_columns(self) -> tuple[list[str], np.ndarray | None]:
        import pyarrow.parquet as pq

        path = self.path / ARCHS_FILE
        try:
            handle = pq.ParquetFile(path)
            names = handle.schema_arrow.names
            wanted = ["arch"] + (["source_index"] if "source_index" in names else [])
            # ParquetFile avoids pq.read_table's import of pyarrow.dataset (~1 s)
            table = handle.read(columns=wanted, use_threads=False)
        except (OSError, KeyError, ValueError) as exc:
            raise StoreError(f"{path}: unreadable architecture table ({exc})") from exc
        self._check_generation()
        archs = table.column("arch").to_pylist()
        if len(archs) != self.manifest.num_archs:
            raise StoreError(f"{path} has {len(archs)} rows but the manifest says {self.manifest.num_archs}")
        source = None
        if "source_index" in wanted:
            source = column_to_numpy(table.column("source_index")).astype(np.int64)
            if len(source) and (source.min() < -1 or source.max() >= len(archs)):
                raise StoreError(f"{path}: source_index outside [-1, {len(archs)})")
        return archs, source

    @property
    def _table_arch_strs(self) -> list[str]:
        return self._table_columns[0]

    @property
    def source_index(self) -> np.ndarray | None:
        """Per-arch index of the architecture whose results it shares (-1: its own), or None."""
        return self._table_columns[1]

    @property
    def arch_strs(self) -> list[str]:
        """Architecture string of each index (table rows, then archs only seen in records)."""
        if self._extra_archs:
            return self._table_arch_strs + self._extra_archs
        return self._table_arch_strs

    @cached_property
    def arch_index(self) -> dict[str, int]:
        return {a: i for i, a in enumerate(self.arch_strs)}

    def arch_table(self):
        """``archs.parquet`` as a pandas DataFrame (index column ``index``)."""
        import pandas as pd

        import pyarrow.parquet as pq

        df = pq.ParquetFile(self.path / ARCHS_FILE).read().to_pandas()
        self._check_generation()
        if self._extra_archs:
            extra = pd.DataFrame({"index": np.arange(len(df), len(df) + len(self._extra_archs)),
                                  "arch": self._extra_archs})
            df = pd.concat([df, extra], ignore_index=True)
        return df

    @property
    def num_archs(self) -> int:
        return self.manifest.num_archs + len(self._extra_archs)

    # -- groups ----------------------------------------------------------------------------
    @property
    def group_infos(self) -> dict[tuple[str, str], GroupInfo]:
        return self._group_infos

    def group_info(self, dataset: str, hp: int | str) -> GroupInfo:
        key = (dataset, normalize_hp(hp))
        try:
            return self._group_infos[key]
        except KeyError:
            raise self._group_error(dataset, hp) from None

    def _group_error(self, dataset: str, hp: int | str) -> QueryError:
        datasets = sorted({d for d, _ in self._group_infos})
        if dataset not in datasets:
            return QueryError(f"unknown dataset {dataset!r}; this benchmark has {datasets}")
        hps = sorted(h for d, h in self._group_infos if d == dataset)
        return QueryError(f"unknown hp {hp!r} for dataset {dataset!r}; valid hps: {hps}")

    def group(self, dataset: str, hp: int | str) -> GroupArrays:
        """The arrays of one group (memory-mapped on first touch, records overlaid)."""
        key = (dataset, normalize_hp(hp))
        arrays = self._groups.get(key)
        if arrays is None:
            info = self.group_info(dataset, hp)
            try:
                arrays = self._load_group(info)
            except Exception:
                self._check_generation()  # the files changed under us: say so instead
                raise
            self._check_generation()  # every file read belongs to the state opened
            self._groups[key] = arrays
        return arrays

    def _load_group(self, info: GroupInfo) -> GroupArrays:
        disk = next((g for g in self.manifest.groups
                     if g.dataset == info.dataset and g.hp == info.hp), None)
        loaded = None
        if disk is not None:
            gdir = self.path / disk.relpath
            try:
                rows = np.load(gdir / ROWS_FILE)
                # plain ndarray views of the maps: no np.memmap subclass overhead per index
                metrics = np.load(gdir / METRICS_FILE, mmap_mode="r").view(np.ndarray)
                costs = np.load(gdir / COSTS_FILE, mmap_mode="r").view(np.ndarray)
                present = np.load(gdir / PRESENT_FILE, mmap_mode="r").view(np.ndarray)
            except (OSError, ValueError) as exc:
                raise StoreError(f"{gdir}: missing or corrupt group arrays ({exc})") from exc
            expected = (len(rows), len(disk.seeds), disk.epochs, len(disk.metrics))
            if metrics.shape != expected or costs.shape != expected[:2] + (len(COST_NAMES),) \
                    or present.shape != expected[:2] or rows.ndim != 1:
                raise StoreError(f"{gdir}: array shapes {metrics.shape}/{costs.shape}/{present.shape} "
                                 f"do not match the manifest {expected}")
            if len(rows) and (rows.min() < 0 or rows.max() >= self.manifest.num_archs
                              or np.any(np.diff(rows) <= 0)):
                raise StoreError(f"{gdir}: {ROWS_FILE} must hold sorted, unique arch indices "
                                 f"in [0, {self.manifest.num_archs})")
            cumtime = None
            if (gdir / CUMTIME_FILE).is_file():
                try:
                    cumtime = np.load(gdir / CUMTIME_FILE, mmap_mode="r").view(np.ndarray)
                except (OSError, ValueError) as exc:
                    raise StoreError(f"{gdir / CUMTIME_FILE}: corrupt ({exc})") from exc
                if cumtime.shape[:3] != metrics.shape[:3]:
                    raise StoreError(f"{gdir / CUMTIME_FILE}: shape {cumtime.shape} does not match {metrics.shape}")
            loaded = GroupArrays(disk, rows, metrics, costs, present, self.num_archs, self.source_index,
                                 cumtime)
        records = self._pending.get((info.dataset, info.hp), [])
        if records:
            return self._overlay(info, loaded, records)
        assert loaded is not None
        return loaded

    # -- records overlay -------------------------------------------------------------------
    def _scan_records(self) -> dict[tuple[str, str], list]:
        root = self.path / RECORDS_DIR
        if not root.is_dir():
            return {}
        found: dict[tuple[str, str], list] = {}
        for path in iter_record_paths(self.path):
            record = read_record(path)
            if record.status != "ok":
                self.failed_record_paths.append(path)
                continue
            found.setdefault((record.dataset, record.hp), []).append(record)
            self.overlaid_paths.append(path)
        return found

    def _add_pending_groups(self) -> None:
        known = set(self._table_arch_strs)
        space = self.manifest.space
        for (dataset, hp), records in self._pending.items():
            for rec in records:
                if rec.space != space:
                    raise StoreError(f"record of space {rec.space!r} in a {space!r} benchmark: "
                                     f"{rec.arch} on {dataset} hp {hp}")
                if rec.arch not in known:
                    known.add(rec.arch)
                    self._extra_archs.append(rec.arch)
            info = self._group_infos.get((dataset, hp))
            eval_sets = self.manifest.datasets.get(dataset, {}).get("eval_sets", ())
            seeds = set(info.seeds) if info else set()
            metrics = set(info.metrics) if info else set()
            epochs = {info.epochs} if info else set()
            dtype = info.dtype if info else "float32"
            for rec in records:
                seeds.add(rec.seed)
                metrics.update(rec.metrics)
                epochs.add(rec.epochs)
            if len(epochs) != 1:
                raise StoreError(f"records of {dataset} hp {hp} have epoch counts {sorted(epochs)}; "
                                 "one group holds runs of one length")
            self._group_infos[(dataset, hp)] = GroupInfo(
                dataset, hp, sorted(seeds), epochs.pop(),
                sorted(metrics, key=lambda m: metric_sort_key(m, eval_sets)), dtype)
            if dataset not in self.manifest.datasets:
                self.manifest.datasets[dataset] = {"eval_sets": sorted(
                    {m.rpartition("_")[0] for m in metrics if not m.startswith("train_")})}

    def _overlay(self, info: GroupInfo, old: GroupArrays | None,
                 records: Sequence[RunRecord]) -> GroupArrays:
        index = self.arch_index
        rec_archs = {index[r.arch] for r in records}
        old_rows = np.asarray(old.rows) if old is not None else np.zeros(0, dtype=np.int64)
        rows = np.array(sorted(set(old_rows.tolist()) | rec_archs), dtype=np.int64)
        row_pos = {int(a): i for i, a in enumerate(rows)}
        s_new = {s: i for i, s in enumerate(info.seeds)}
        m_new = {m: i for i, m in enumerate(info.metrics)}
        n = len(rows)
        out_m = np.full((n, len(info.seeds), info.epochs, len(info.metrics)), np.nan,
                        dtype=np.dtype(info.dtype))
        out_c = np.full((n, len(info.seeds), len(COST_NAMES)), np.nan)
        out_p = np.zeros((n, len(info.seeds)), dtype=bool)
        if old is not None and len(old_rows):
            r_idx = np.searchsorted(rows, old_rows)
            si = [s_new[s] for s in old.info.seeds]
            mi = [m_new[m] for m in old.info.metrics]
            out_m[np.ix_(r_idx, si, np.arange(old.info.epochs), mi)] = old.metrics
            out_c[np.ix_(r_idx, si)] = old.costs
            out_p[np.ix_(r_idx, si)] = old.present
        for rec in records:
            r, s = row_pos[index[rec.arch]], s_new[rec.seed]
            out_p[r, s] = True
            out_c[r, s] = [rec.costs.get(c, np.nan) for c in COST_NAMES]
            out_m[r, s] = np.nan
            for name, values in rec.metrics.items():
                out_m[r, s, :, m_new[name]] = values
        log.info("overlaid %d uncompacted records on %s hp %s", len(records), info.dataset, info.hp)
        return GroupArrays(info, rows, out_m, out_c, out_p, self.num_archs, self.source_index,
                           cumulative_times(out_m, info.metrics))

    @property
    def num_pending_records(self) -> int:
        return sum(len(v) for v in self._pending.values())

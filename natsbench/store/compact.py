"""Merging run records into a benchmark's dense arrays.

``compact(bench_dir)`` takes the benchmark's lock exclusive (record writers hold it shared,
:mod:`natsbench.store.locking`), reads the benchmark with its uncompacted records overlaid
(exactly what readers see), and writes the result, with every record except the merged
ones, as a new benchmark directory that atomically replaces the old one. Failed records are
kept (they are the build's log of what to retry). No record can appear between the read and
the replacement, so none is lost; a crash at any point leaves either the old benchmark plus
all records or the new one without the merged records. Readers never see a run twice or
miss one: they see the old directory or the new one (see ``StoreReader``).
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from natsbench.errors import StoreError
from natsbench.store.locking import LOCK_FILE, store_lock
from natsbench.store.manifest import (
    ARCHS_FILE, MANIFEST_FILE, Manifest, merged_provenance, write_manifest,
)
from natsbench.store.reader import StoreReader
from natsbench.store.writer import DenseGroup, write_bench

log = logging.getLogger(__name__)


def init_bench(bench_dir: str | os.PathLike, *, space: str, arch_strs: Sequence[str],
               datasets: Mapping[str, Mapping[str, Any]], arch_order: str = "canonical",
               arch_columns: Mapping[str, Sequence[Any]] | None = None,
               net_config: Mapping[str, Any] | None = None,
               provenance: Mapping[str, Any] | None = None,
               extra: Mapping[str, Any] | None = None) -> Path:
    """Create an empty benchmark (manifest + arch table, no runs) for a build to fill.

    If ``bench_dir`` already holds a benchmark of the same space and architectures it is
    left as it is (so a resumed build keeps its records); otherwise an error is raised.
    """
    path = Path(bench_dir)
    _check_empty_or_records(path)  # before the lock creates anything in a foreign directory
    with store_lock(path, exclusive=True, create=True):  # two builds starting at once: created once
        if (path / MANIFEST_FILE).is_file():
            reader = StoreReader(path, overlay_records=False)
            if reader.manifest.space != space or reader._table_arch_strs != list(arch_strs):
                raise StoreError(f"{path} already holds a different benchmark (space "
                                 f"{reader.manifest.space!r}, {reader.manifest.num_archs} archs)")
            return path
        _check_empty_or_records(path)
        # records written before the manifest existed are carried over
        write_bench(path, space=space, arch_strs=arch_strs, groups=[], datasets=datasets,
                    arch_order=arch_order, arch_columns=arch_columns, net_config=net_config,
                    provenance=provenance, extra=extra, overwrite=True, records_from=path)
    return path


def _check_empty_or_records(path: Path) -> None:
    """Refuse a path that is neither a benchmark, nor absent, nor a directory of records."""
    if (path / MANIFEST_FILE).is_file() or not path.exists():
        return
    if not path.is_dir() or any(p.name not in ("records", LOCK_FILE) for p in path.iterdir()):
        raise StoreError(f"{path} exists and is not a natsbench benchmark")


def compact(bench_dir: str | os.PathLike, *, dtype: str | None = None,
            provenance_update: Mapping[str, Any] | None = None,
            provenance_add: Mapping[str, float] | None = None) -> dict[str, int]:
    """Merge ``records/`` into the dense arrays. Returns counts of merged/kept records.

    Safe while builds write records: it holds the benchmark's lock exclusive
    (:mod:`natsbench.store.locking`), so records being written are finished before it reads
    them and new ones wait until the rewritten benchmark is in place. ``provenance_update``
    sets, ``provenance_add`` adds to manifest provenance entries (see ``update_provenance``).
    """
    path = Path(bench_dir)
    if not (path / MANIFEST_FILE).is_file():
        StoreReader(path)  # its error names what is missing, before the lock writes its file there
    with store_lock(path, exclusive=True):
        reader = StoreReader(path)
        merged_paths = list(reader.overlaid_paths)  # exactly what the reader merged
        failed = len(reader.failed_record_paths)
        manifest: Manifest = reader.manifest
        provenance = merged_provenance(manifest.provenance, provenance_update, provenance_add)
        if not merged_paths:
            if provenance != manifest.provenance:
                manifest.provenance = provenance
                write_manifest(path, manifest)
            return {"merged": 0, "failed_kept": failed}
        groups = []
        for (dataset, hp), info in reader.group_infos.items():
            arrays = reader.group(dataset, hp)
            groups.append(DenseGroup(info, np.asarray(arrays.rows), arrays.metrics, arrays.costs,
                                     arrays.present))
        import pyarrow.parquet as pq

        table = pq.ParquetFile(path / ARCHS_FILE).read()  # typed columns, table rows only
        extra_cols = {c: table.column(c).to_pylist() for c in table.column_names if c not in ("index", "arch")}
        dtypes = {g.info.dtype for g in groups}
        out_dtype = dtype or (dtypes.pop() if len(dtypes) == 1 else "float64")
        # the new directory carries over every record but the merged ones (failed runs, and
        # nothing else: no writer can add one while we hold the lock)
        write_bench(path, space=manifest.space, arch_strs=reader.arch_strs, groups=groups,
                    datasets=manifest.datasets, arch_order=manifest.arch_order,
                    arch_columns=_pad_columns(extra_cols, len(reader.arch_strs)),
                    net_config=manifest.net_config, provenance=provenance, extra=manifest.extra,
                    dtype=out_dtype, overwrite=True, records_from=path, records_skip=merged_paths)
    log.info("compacted %d records into %s (%d failed records kept)", len(merged_paths), path, failed)
    return {"merged": len(merged_paths), "failed_kept": failed}


def _pad_columns(columns: dict[str, list], n: int) -> dict[str, list]:
    """Extend per-arch columns to archs seen only in records: -1 for index-like integer
    columns (``source_index``: the arch has its own results; ``iso_class``: unknown), null
    otherwise."""
    out = {}
    for name, values in columns.items():
        fill = -1 if values and all(isinstance(v, int) for v in values) else None
        out[name] = list(values) + [fill] * (n - len(values))
    return out

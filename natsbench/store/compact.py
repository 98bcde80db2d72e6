"""Merging run records into a benchmark's dense arrays.

``compact(bench_dir)`` reads the benchmark with its uncompacted records overlaid (exactly
what readers see), writes the result as a new benchmark atomically in place of the old one,
and then removes the record files it merged. Failed records are kept (they are the build's
log of what to retry). A crash at any point leaves either the old benchmark plus all
records, or the new benchmark plus records that are already merged (merging them again is
a no-op: a record replaces the same (arch, seed) cell with the same values).
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from natsbench.errors import StoreError
from natsbench.store.manifest import MANIFEST_FILE, Manifest, update_provenance
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
    if (path / MANIFEST_FILE).is_file():
        reader = StoreReader(path)
        if reader.manifest.space != space or reader._table_arch_strs != list(arch_strs):
            raise StoreError(f"{path} already holds a different benchmark (space "
                             f"{reader.manifest.space!r}, {reader.manifest.num_archs} archs)")
        return path
    if path.exists() and any(p.name != "records" for p in path.iterdir()):
        raise StoreError(f"{path} exists and is not a natsbench benchmark")
    records_dir = path / "records"
    staged = None
    if records_dir.is_dir():  # records written before the manifest existed: keep them
        staged = path.parent / f".{path.name}.records-{os.getpid()}"
        os.rename(records_dir, staged)
        path.rmdir()
    try:
        write_bench(path, space=space, arch_strs=arch_strs, groups=[], datasets=datasets,
                    arch_order=arch_order, arch_columns=arch_columns, net_config=net_config,
                    provenance=provenance, extra=extra)
    finally:
        if staged is not None:
            os.rename(staged, records_dir)
    return path


def compact(bench_dir: str | os.PathLike, *, dtype: str | None = None,
            provenance_update: Mapping[str, Any] | None = None) -> dict[str, int]:
    """Merge ``records/`` into the dense arrays. Returns counts of merged/kept records."""
    path = Path(bench_dir)
    reader = StoreReader(path)
    merged_paths = list(reader.overlaid_paths)  # exactly what the reader merged
    failed = len(reader.failed_record_paths)
    if not merged_paths:
        if provenance_update:
            update_provenance(path, provenance_update)
        return {"merged": 0, "failed_kept": failed}
    manifest: Manifest = reader.manifest
    groups = []
    for (dataset, hp), info in reader.group_infos.items():
        arrays = reader.group(dataset, hp)
        groups.append(DenseGroup(info, np.asarray(arrays.rows), arrays.metrics, arrays.costs,
                                 arrays.present))
    import pyarrow.parquet as pq

    from natsbench.store.manifest import ARCHS_FILE

    table = pq.ParquetFile(path / ARCHS_FILE).read()  # typed columns, table rows only
    extra_cols = {c: table.column(c).to_pylist() for c in table.column_names if c not in ("index", "arch")}
    provenance = dict(manifest.provenance)
    provenance.update(provenance_update or {})
    dtypes = {g.info.dtype for g in groups}
    out_dtype = dtype or (dtypes.pop() if len(dtypes) == 1 else "float64")
    # carry over only the records that stay (failed ones): copy all, delete merged below
    write_bench(path, space=manifest.space, arch_strs=reader.arch_strs, groups=groups,
                datasets=manifest.datasets, arch_order=manifest.arch_order,
                arch_columns=_pad_columns(extra_cols, len(reader.arch_strs)),
                net_config=manifest.net_config, provenance=provenance, extra=manifest.extra,
                dtype=out_dtype, overwrite=True, records_from=path)
    new_records = path / "records"
    for rec_path in merged_paths:
        target = new_records / rec_path.relative_to(path / "records")
        try:
            target.unlink()
        except FileNotFoundError:
            pass
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

"""The benchmark manifest (``manifest.json``) and the directory layout it describes.

See docs/FORMAT.md for the full contract. In short, a benchmark directory holds::

    manifest.json                    this file: what the benchmark holds and where it came from
    archs.parquet                    one row per architecture (index, arch, ...)
    runs/<dataset>/<hp>/rows.npy     [R] int64: arch index of each row (archs with a run), sorted
    runs/<dataset>/<hp>/metrics.npy  [R, seed, epoch, metric] float32/float64, NaN = absent
    runs/<dataset>/<hp>/costs.npy    [R, seed, cost] float64 (params M, FLOPs M, latency s)
    runs/<dataset>/<hp>/present.npy  [R, seed] bool: the run exists
    runs/<dataset>/<hp>/cumtime.npy  [R, seed, epoch, T] float64: running sums of the T *_time
                                     metrics (derived index for fast queries; optional)
    records/<dataset>/<hp>/*.json    finished runs not yet compacted (natsbench.store.records)
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping

from natsbench.errors import QueryError, StoreError
from natsbench.store.locking import store_lock
from natsbench.store.records import COST_NAMES, atomic_write_bytes, normalize_hp

SCHEMA = "natsbench.bench/1"
MANIFEST_FILE = "manifest.json"
ARCHS_FILE = "archs.parquet"
RUNS_DIR = "runs"
METRICS_FILE = "metrics.npy"
COSTS_FILE = "costs.npy"
PRESENT_FILE = "present.npy"
ROWS_FILE = "rows.npy"
CUMTIME_FILE = "cumtime.npy"



@dataclass
class GroupInfo:
    """One (dataset, hp) block of dense arrays.

    Attributes:
        dataset: dataset name.
        hp: training-length tag (``"12"``, ``"200"``, ``"01"`` ...).
        seeds: the seed axis of the arrays, sorted.
        epochs: the epoch axis length.
        metrics: the metric axis names (``train_loss``, ``x-valid_acc1``, ...).
        dtype: ``float32`` or ``float64`` (metric array element type).
    """

    dataset: str
    hp: str
    seeds: list[int]
    epochs: int
    metrics: list[str]
    dtype: str = "float32"

    def __post_init__(self) -> None:
        self.hp = normalize_hp(self.hp)
        self.seeds = [int(s) for s in self.seeds]
        if self.dtype not in ("float32", "float64"):
            raise StoreError(f"group {self.dataset}/{self.hp}: dtype must be float32 or float64, got {self.dtype!r}")

    @property
    def relpath(self) -> str:
        return f"{RUNS_DIR}/{self.dataset}/{self.hp}"


@dataclass
class Manifest:
    """What a benchmark holds (see docs/FORMAT.md).

    Attributes:
        space: search-space name.
        num_archs: rows of ``archs.parquet`` and the arch axis of every array.
        arch_order: how rows are ordered: ``official`` (an official archive's meta_archs),
            ``canonical`` (natsbench.spaces order) or ``custom``.
        datasets: dataset name -> ``{"num_classes": int, "eval_sets": [...]}``.
        groups: the (dataset, hp) array blocks.
        net_config: space-wide network settings (tss: ``channel``, ``num_cells``;
            sss: ``genotype``), used by ``get_net_config``.
        provenance: where the numbers come from (data, protocol, code version, hardware,
            date, source, wall time ...).
        extra: free-form additional information.
    """

    space: str
    num_archs: int
    arch_order: str = "custom"
    datasets: dict[str, dict[str, Any]] = field(default_factory=dict)
    groups: list[GroupInfo] = field(default_factory=list)
    net_config: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    cost_names: tuple[str, ...] = COST_NAMES
    schema: str = SCHEMA

    def group(self, dataset: str, hp: int | str) -> GroupInfo:
        hp = normalize_hp(hp)
        for info in self.groups:
            if info.dataset == dataset and info.hp == hp:
                return info
        raise QueryError(f"no group ({dataset!r}, hp {hp!r}) in the manifest; valid: "
                         f"{[(g.dataset, g.hp) for g in self.groups]}")

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["cost_names"] = list(self.cost_names)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any], source: str = MANIFEST_FILE) -> "Manifest":
        if not isinstance(data, Mapping):
            raise StoreError(f"{source}: manifest must be a JSON object")
        if data.get("schema") != SCHEMA:
            raise StoreError(f"{source}: unsupported manifest schema {data.get('schema')!r}; expected {SCHEMA!r}")
        try:
            groups = [GroupInfo(**dict(g)) for g in data.get("groups", [])]
            manifest = cls(
                space=str(data["space"]),
                num_archs=int(data["num_archs"]),
                arch_order=str(data.get("arch_order", "custom")),
                datasets={str(k): dict(v) for k, v in dict(data.get("datasets", {})).items()},
                groups=groups,
                net_config=dict(data.get("net_config", {})),
                provenance=dict(data.get("provenance", {})),
                extra=dict(data.get("extra", {})),
                cost_names=tuple(data.get("cost_names", COST_NAMES)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise StoreError(f"{source}: malformed manifest: {exc}") from exc
        return manifest


def read_manifest(bench_dir: str | os.PathLike) -> Manifest:
    """Read and validate ``manifest.json`` of a benchmark directory."""
    path = Path(bench_dir) / MANIFEST_FILE
    if not path.is_file():
        if not Path(bench_dir).exists():
            raise StoreError(f"benchmark directory {bench_dir} does not exist")
        raise StoreError(f"{bench_dir} is not a natsbench benchmark: {MANIFEST_FILE} is missing")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise StoreError(f"{path}: unreadable manifest ({exc})") from exc
    return Manifest.from_json(data, source=str(path))


def write_manifest(bench_dir: str | os.PathLike, manifest: Manifest) -> Path:
    """Write ``manifest.json`` atomically."""
    path = Path(bench_dir) / MANIFEST_FILE
    payload = json.dumps(manifest.to_json(), indent=1, sort_keys=False).encode("utf-8")
    atomic_write_bytes(path, payload)
    return path


def update_provenance(bench_dir: str | os.PathLike, updates: Mapping[str, Any] | None = None, *,
                      add: Mapping[str, float] | None = None) -> Manifest:
    """Merge ``updates`` into the manifest's provenance and rewrite it atomically.

    ``add``: numbers added to the stored values (0 where absent), e.g. ``{"wall_time_s": 12.5}``,
    so concurrent builds on one benchmark each count. Holds the benchmark's lock exclusive
    (:mod:`natsbench.store.locking`): no compaction or other update runs in between.
    """
    with store_lock(bench_dir, exclusive=True):
        manifest = read_manifest(bench_dir)
        manifest.provenance = merged_provenance(manifest.provenance, updates, add)
        write_manifest(bench_dir, manifest)
    return manifest


def merged_provenance(provenance: Mapping[str, Any], updates: Mapping[str, Any] | None = None,
                      add: Mapping[str, float] | None = None) -> dict[str, Any]:
    """``provenance`` with ``updates`` set and ``add`` added (see :func:`update_provenance`)."""
    out = dict(provenance)
    out.update(updates or {})
    for key, value in (add or {}).items():
        out[key] = round(float(out.get(key, 0.0)) + float(value), 6)  # no float noise
    return out

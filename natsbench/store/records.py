"""Per-run record files: one small JSON file per finished training run.

Every finished run (architecture, dataset, hp, seed) is written as its own file,
atomically (temporary file in the same directory, fsync, rename, fsync of the directory),
so any number of worker processes can write at once and a crash loses only the runs in
flight. Writers hold the benchmark's lock shared while they write (see
:mod:`natsbench.store.locking`), so ``compact`` never removes a record it did not merge. A record is never rewritten in place: writing the same run again replaces the file
atomically, so a reader sees either the old or the new record, never a mix.

Layout under a benchmark directory::

    records/<dataset>/<hp>/<digest>.json

where ``<digest>`` is derived from (space, arch, dataset, hp, seed) so the path of a run is
known without listing the directory (the builder skips finished jobs with one ``stat``).

The JSON body (schema ``natsbench.record/1``)::

    {"schema": "natsbench.record/1", "space": "tss", "arch": "|...|", "dataset": "cifar10",
     "hp": "12", "seed": 777, "epochs": 12,
     "metrics": {"train_loss": [..epochs..], "x-valid_acc1": [...], ...},   # null = NaN
     "costs": {"params": 0.129306, "flops": 15.64737, "latency": 0.0123},
     "status": "ok" | "failed", "error": null | "Traceback...",
     "provenance": {...}, "extra": {...}}

Units: accuracies in percent, losses per sample, times in seconds (per epoch), params in
millions, FLOPs in millions, latency in seconds.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping

from natsbench.errors import ArchiveError, QueryError, StoreError
from natsbench.store.locking import store_lock

SCHEMA = "natsbench.record/1"
RECORDS_DIR = "records"
STATUSES = ("ok", "failed")
COST_NAMES = ("params", "flops", "latency")


_HP_TAG = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*")


def normalize_hp(hp: int | str) -> str:
    """Return the canonical string form of a training-length tag.

    NATS-Bench uses ``"01"``, ``"12"``, ``"90"`` and ``"200"``: numbers below 10 are written
    with two digits. ``1``, ``"1"`` and ``"01"`` all give ``"01"``. Non-numeric tags (custom
    protocols) are returned unchanged.
    """
    if isinstance(hp, bool):
        raise QueryError(f"hp must be an int or str, got {hp!r}")
    if isinstance(hp, int):
        if hp < 0:
            raise QueryError(f"hp must be non-negative, got {hp}")
        return f"{hp:02d}"
    if isinstance(hp, str):
        text = hp.strip()
        if text.isdigit():
            return f"{int(text):02d}"
        if not _HP_TAG.fullmatch(text):
            raise QueryError(f"invalid hp {hp!r}: expected a number of epochs (e.g. 12, 200; "
                             f"NATS-Bench: tss 12/200, sss 01/12/90) or a tag of letters, digits, "
                             f"'-', '_', '.' starting with a letter or digit")
        return text
    raise QueryError(f"hp must be an int or str, got {type(hp).__name__} {hp!r}")


@dataclass
class RunRecord:
    """One finished (or failed) training run of one architecture.

    Attributes:
        space: search-space name (``tss``, ``sss``, ``darts``, ``extcell`` ...).
        arch: the architecture string, the universal key.
        dataset: dataset name (``cifar10-valid``, ``cifar10``, ``cifar100``,
            ``ImageNet16-120``, or a custom one).
        hp: training-length tag (normalised with :func:`normalize_hp`).
        seed: the training seed.
        epochs: number of training epochs of the run; every metric list has this length.
        metrics: metric name -> per-epoch values (NaN where not measured).
        costs: ``params`` (M), ``flops`` (M), ``latency`` (s); NaN where not measured.
        status: ``ok`` or ``failed``.
        error: the error text of a failed run.
        provenance: where the numbers come from (protocol, code version, machine, date ...).
        extra: anything else (e.g. a genotype, ``source_arch`` for filled isomorphic copies).
    """

    space: str
    arch: str
    dataset: str
    hp: str
    seed: int
    epochs: int
    metrics: dict[str, list[float]] = field(default_factory=dict)
    costs: dict[str, float] = field(default_factory=dict)
    status: str = "ok"
    error: str | None = None
    provenance: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.hp = normalize_hp(self.hp)
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ArchiveError(f"seed must be an int, got {self.seed!r}")
        if self.status not in STATUSES:
            raise ArchiveError(f"status must be one of {STATUSES}, got {self.status!r}")
        if self.epochs < 0:
            raise ArchiveError(f"epochs must be >= 0, got {self.epochs}")
        for name, values in self.metrics.items():
            if len(values) != self.epochs:
                raise ArchiveError(
                    f"metric {name!r} has {len(values)} values but the run has {self.epochs} epochs"
                )
        unknown = set(self.costs) - set(COST_NAMES)
        if unknown:
            raise ArchiveError(f"unknown cost names {sorted(unknown)}; valid: {list(COST_NAMES)}")

    @property
    def key(self) -> tuple[str, str, str, str, int]:
        return (self.space, self.arch, self.dataset, self.hp, self.seed)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "space": self.space,
            "arch": self.arch,
            "dataset": self.dataset,
            "hp": self.hp,
            "seed": self.seed,
            "epochs": self.epochs,
            "metrics": {k: [_nan_to_none(v) for v in vals] for k, vals in self.metrics.items()},
            "costs": {k: _nan_to_none(v) for k, v in self.costs.items()},
            "status": self.status,
            "error": self.error,
            "provenance": self.provenance,
            "extra": self.extra,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], source: str = "<record>") -> "RunRecord":
        if not isinstance(data, Mapping) or data.get("schema") != SCHEMA:
            raise ArchiveError(f"{source}: not a natsbench record (expected schema {SCHEMA!r})")
        try:
            return cls(
                space=str(data["space"]),
                arch=str(data["arch"]),
                dataset=str(data["dataset"]),
                hp=str(data["hp"]),
                seed=int(data["seed"]),
                epochs=int(data["epochs"]),
                metrics={str(k): [_none_to_nan(v) for v in vals]
                         for k, vals in dict(data.get("metrics") or {}).items()},
                costs={str(k): _none_to_nan(v) for k, v in dict(data.get("costs") or {}).items()},
                status=str(data.get("status", "ok")),
                error=data.get("error"),
                provenance=dict(data.get("provenance") or {}),
                extra=dict(data.get("extra") or {}),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ArchiveError(f"{source}: malformed record: {exc}") from exc


def _nan_to_none(value: float) -> float | None:
    value = float(value)
    return None if math.isnan(value) else value


def _none_to_nan(value: float | None) -> float:
    return math.nan if value is None else float(value)


def run_digest(space: str, arch: str, dataset: str, hp: int | str, seed: int) -> str:
    """A stable file-name digest of one run's identity."""
    ident = "\x1f".join([space, arch, dataset, normalize_hp(hp), str(int(seed))])
    return hashlib.sha1(ident.encode("utf-8")).hexdigest()[:24]


def record_path(store_dir: str | os.PathLike, space: str, arch: str, dataset: str,
                hp: int | str, seed: int) -> Path:
    """The path where the record of this run lives (whether or not it exists yet)."""
    hp = normalize_hp(hp)
    return record_dir(store_dir, dataset, hp) / f"{run_digest(space, arch, dataset, hp, seed)}-s{int(seed)}.json"


def record_dir(store_dir: str | os.PathLike, dataset: str, hp: int | str) -> Path:
    """The directory holding the records of one (dataset, hp) group."""
    return Path(store_dir) / RECORDS_DIR / _safe(dataset) / _safe(normalize_hp(hp))


def _safe(name: str) -> str:
    if not name or "/" in name or "\\" in name or name in {".", ".."} or "\x00" in name:
        raise QueryError(f"invalid name {name!r}: a dataset or hp name must be non-empty and "
                         f"contain no '/', '\\' or NUL, and not be '.' or '..'")
    return name


def atomic_write_bytes(path: Path, payload: bytes) -> None:
    """Write ``payload`` to ``path`` atomically: temp file, fsync, rename, fsync dir."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=path.suffix, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def write_record(store_dir: str | os.PathLike, record: RunRecord) -> Path:
    """Write one run record atomically under ``store_dir`` and return its path."""
    path = record_path(store_dir, record.space, record.arch, record.dataset, record.hp, record.seed)
    payload = json.dumps(record.to_json(), allow_nan=False, separators=(",", ":")).encode("utf-8")
    with store_lock(store_dir, exclusive=False, create=True):  # no compaction while we write
        atomic_write_bytes(path, payload)
    return path


def read_status(path: str | os.PathLike) -> str:
    """The ``status`` of a record file (``ok`` or ``failed``) without validating the rest.

    Raises StoreError (naming the file) when it cannot be read or parsed.
    """
    try:
        return json.loads(Path(path).read_bytes()).get("status", "ok")
    except (OSError, ValueError, AttributeError) as exc:
        raise StoreError(f"{path}: unreadable record ({exc})") from exc


def read_record(path: str | os.PathLike) -> RunRecord:
    """Read one record file; a corrupt or truncated file raises ArchiveError naming it."""
    path = Path(path)
    try:
        data = json.loads(path.read_bytes())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArchiveError(f"{path}: unreadable record ({exc})") from exc
    return RunRecord.from_json(data, source=str(path))


def iter_record_paths(store_dir: str | os.PathLike, dataset: str | None = None,
                      hp: int | str | None = None) -> Iterator[Path]:
    """Paths of all record files (optionally of one dataset / hp), in sorted order."""
    root = Path(store_dir) / RECORDS_DIR
    if not root.is_dir():
        return
    datasets = [root / _safe(dataset)] if dataset is not None else sorted(p for p in root.iterdir() if p.is_dir())
    for ds_dir in datasets:
        if not ds_dir.is_dir():
            continue
        hps = [ds_dir / normalize_hp(hp)] if hp is not None else sorted(p for p in ds_dir.iterdir() if p.is_dir())
        for hp_dir in hps:
            if hp_dir.is_dir():
                yield from sorted(p for p in hp_dir.glob("*.json") if not p.name.startswith(".tmp-"))


def iter_records(store_dir: str | os.PathLike, dataset: str | None = None,
                 hp: int | str | None = None) -> Iterator[RunRecord]:
    """All records under ``store_dir`` (see :func:`iter_record_paths`)."""
    for path in iter_record_paths(store_dir, dataset, hp):
        yield read_record(path)

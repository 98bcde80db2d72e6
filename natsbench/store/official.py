"""Importing official NATS-Bench archives into a natsbench benchmark.

Two official layouts are accepted (DESIGN.md, "Official archive format"):

* the fast-mode directory (``NATS-tss-v1_0-3ffb9-simple``, ``NATS-sss-v1_0-50262-simple``):
  ``meta.pickle.pbz2`` (``meta_archs``, ``total_archs``, ``evaluated_indexes``) plus one
  ``{index:06d}.pickle.pbz2`` per evaluated architecture holding ``{hp: ArchResults state}``;
  any subset of the per-arch files may be present;
* the single-file archive (``*.pickle.pbz2``) holding ``meta_archs``, ``arch2infos``
  (``{index: {hp: ArchResults state}}``) and ``evaluated_indexes``.

Everything numeric is kept: all hps, datasets, seeds, sets, per-epoch train/eval loss,
accuracy (top-1, and train top-5 where present), times, params, FLOPs and latency.
Trained weights (``net_state_dict``) are not imported: the ``-simple`` archives hold none,
and unpickling tensors would require admitting torch globals (see
:mod:`natsbench.store.restricted_pickle`). Metric arrays are written as float64 so every
number equals the official one bit for bit.
"""
from __future__ import annotations

import contextlib
import logging
import math
import os
import re
import shutil
import signal
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from natsbench.datasets.specs import DATASETS
from natsbench.errors import ArchiveError, StoreError
from natsbench.store.manifest import (
    ARCHS_FILE, COSTS_FILE, CUMTIME_FILE, MANIFEST_FILE, METRICS_FILE, PRESENT_FILE, ROWS_FILE,
    GroupInfo, Manifest, write_manifest,
)
from natsbench.store.records import COST_NAMES, normalize_hp
from natsbench.store.restricted_pickle import load_archive_file
from natsbench.store.torch_archive import is_torch_archive, load_torch_archive
from natsbench.store.layout import cumulative_times, metric_sort_key, time_columns
from natsbench.store.writer import replace_dir, write_arch_table

log = logging.getLogger(__name__)

META_FILE = "meta.pickle.pbz2"
_ARCH_FILE_RE = re.compile(r"^(\d+)\.pickle\.pbz2$")
NB201_HPS = {"less": "12", "full": "200"}  # as NASBench201API maps them


def normalize_space(space: str) -> str:
    """``tss``/``topology`` -> ``tss``, ``sss``/``size`` -> ``sss``: the spaces an official archive
    holds (:func:`natsbench.spaces.canonical_space`); InvalidArchError for anything else."""
    from natsbench.spaces import NATS_SPACES, canonical_space

    return canonical_space(space, NATS_SPACES)


def _detect_space(meta_archs: list[str]) -> str:
    first = meta_archs[0] if meta_archs else ""
    if first.startswith("|"):
        return "tss"
    if ":" in first:
        return "sss"
    raise ArchiveError(f"cannot tell the search space from arch string {first!r}; pass --space")


def _validate_archs(space: str, meta_archs: list[Any], source: str) -> None:
    from natsbench.spaces import get_space

    sp = get_space(space)
    for i, arch in enumerate(meta_archs):
        if not isinstance(arch, str):
            raise ArchiveError(f"{source}: meta_archs[{i}] is {type(arch).__name__}, expected str")
        try:
            sp.validate(arch)
        except ValueError as exc:
            raise ArchiveError(f"{source}: meta_archs[{i}] is not a valid {space} arch: {exc}") from exc


def _per_epoch(values: Any, epochs: int, what: str, source: str) -> list[float]:
    if values is None:
        return [math.nan] * epochs
    if not isinstance(values, Mapping):
        raise ArchiveError(f"{source}: {what} is {type(values).__name__}, expected a dict keyed by epoch")
    out = [math.nan] * epochs
    for key, value in values.items():
        if not isinstance(key, int) or not 0 <= key < epochs:
            raise ArchiveError(f"{source}: {what} has epoch key {key!r} outside [0, {epochs})")
        out[key] = _number(value, what, source)
    return out


def _number(value: Any, what: str, source: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ArchiveError(f"{source}: {what} holds {value!r}, expected a number")
    return float(value)


def _hp_of(hp_key: Any, where: str) -> str:
    """The natsbench hp of an archive's hp key (NAS-Bench-201: ``less`` -> 12, ``full`` -> 200)."""
    if isinstance(hp_key, str) and hp_key in NB201_HPS:
        return NB201_HPS[hp_key]
    try:
        return normalize_hp(hp_key if isinstance(hp_key, (int, str)) else str(hp_key))
    except ValueError as exc:
        raise ArchiveError(f"{where}: hp key {hp_key!r} is not a training-length tag "
                           f"(NATS-Bench: '01', '12', '90', '200'; NAS-Bench-201: "
                           f"{', '.join(map(repr, NB201_HPS))})") from exc


# ----------------------------------------------------------------------------- one run
_MISSING = object()
_RANGES: dict[int, list[int]] = {}
_EVAL_KEYS: dict[tuple[str, int], list[str]] = {}
_EVAL_FIELDS = (("eval_losses", "loss"), ("eval_acc1es", "acc1"), ("eval_times", "time"))
_NUMBER_TYPES = frozenset({float, int})


def _epoch_range(epochs: int) -> list[int]:
    keys = _RANGES.get(epochs)
    if keys is None:
        keys = _RANGES[epochs] = list(range(epochs))
    return keys


def _eval_keys(set_name: str, epochs: int) -> list[str]:
    keys = _EVAL_KEYS.get((set_name, epochs))
    if keys is None:
        keys = _EVAL_KEYS[(set_name, epochs)] = [f"{set_name}@{e}" for e in range(epochs)]
    return keys


def _check_numbers(values: list[Any], what: str, source: str) -> None:
    """Every value is an int or float (not a bool, str, None, ...)."""
    if not set(map(type, values)) <= _NUMBER_TYPES:
        for value in values:
            _number(value, what, source)


def _per_epoch_list(values: Any, epochs: int, what: str, source: str) -> list[Any]:
    """An official ``{epoch: value}`` dict as a list of ``epochs`` numbers (NaN where absent)."""
    if values is None:
        return [math.nan] * epochs
    if isinstance(values, Mapping) and len(values) == epochs and list(values) == _epoch_range(epochs):
        column = list(values.values())        # the usual case: every epoch, in order
        _check_numbers(column, what, source)
        return column
    return _per_epoch(values, epochs, what, source)


def _whole_blocks(table: Mapping[Any, Any], epochs: int) -> dict[str, list[Any]] | None:
    """``{set: values of epochs 0..E-1}`` when the keys of ``table`` are whole runs
    ``"<set>@0" .. "<set>@E-1"`` in order (how ``ResultsCount.update_eval`` writes them);
    None otherwise."""
    keys = list(table)
    if len(keys) % epochs:
        return None
    values = list(table.values())
    out: dict[str, list[Any]] = {}
    for i in range(0, len(keys), epochs):
        first = keys[i]
        if not isinstance(first, str):
            return None
        set_name = first.rpartition("@")[0]
        if set_name in out or keys[i:i + epochs] != _eval_keys(set_name, epochs):
            return None
        out[set_name] = values[i:i + epochs]
    return out


def _eval_columns(rc: Mapping[str, Any], epochs: int, source: str) -> tuple[dict[str, list[Any]], list[str]]:
    """``<set>_loss/_acc1/_time`` columns from the ``eval_*`` dicts keyed ``"<set>@<epoch>"``."""
    eval_names = list(rc.get("eval_names") or [])
    if not all(isinstance(n, str) for n in eval_names):
        raise ArchiveError(f"{source}: eval_names {eval_names!r} must be strings")
    columns: dict[str, list[Any]] = {}
    for field_name, quantity in _EVAL_FIELDS:
        table = rc.get(field_name) or {}
        if not isinstance(table, Mapping):
            raise ArchiveError(f"{source}: {field_name} is {type(table).__name__}, expected dict")
        blocks = _whole_blocks(table, epochs)
        if blocks is not None and all(set_name in eval_names for set_name in blocks):
            for set_name, column in blocks.items():   # the usual case: slices, no lookups
                _check_numbers(column, field_name, source)
                columns[f"{set_name}_{quantity}"] = column
            continue
        found = 0
        fast: dict[str, list[Any]] = {}
        for set_name in eval_names:
            column = [table.get(key, _MISSING) for key in _eval_keys(set_name, epochs)]
            hits = epochs - column.count(_MISSING)
            if not hits:
                continue
            found += hits
            if hits < epochs:
                column = [math.nan if v is _MISSING else v for v in column]
            _check_numbers(column, field_name, source)
            fast[f"{set_name}_{quantity}"] = column
        if found == len(table):
            columns.update(fast)
            continue
        # keys outside the listed sets/epochs: parse every key (and report the bad ones)
        for key, value in table.items():
            if not isinstance(key, str) or "@" not in key:
                raise ArchiveError(f"{source}: {field_name} key {key!r} is not '<set>@<epoch>'")
            set_name, _, epoch_text = key.rpartition("@")
            try:
                epoch = int(epoch_text)
            except ValueError:
                raise ArchiveError(f"{source}: {field_name} key {key!r} has a non-integer epoch") from None
            if not 0 <= epoch < epochs:
                raise ArchiveError(f"{source}: {field_name} key {key!r} outside [0, {epochs})")
            if set_name not in eval_names:
                eval_names.append(set_name)
            column_list = columns.setdefault(f"{set_name}_{quantity}", [math.nan] * epochs)
            column_list[epoch] = _number(value, field_name, source)
    return columns, eval_names


_ORDERS: dict[tuple[str, tuple[str, ...], tuple[str, ...]], tuple[str, ...]] = {}


def _metric_order(dataset: str, names: tuple[str, ...], eval_names: tuple[str, ...]) -> tuple[str, ...]:
    """``names`` in the canonical metric order (eval sets in the dataset's order), cached."""
    key = (dataset, names, eval_names)
    ordered = _ORDERS.get(key)
    if ordered is None:
        spec = DATASETS.get(dataset)
        order = [s for s in (spec.eval_sets if spec else ()) if s in eval_names]
        order += [s for s in eval_names if s not in order]
        ordered = _ORDERS[key] = tuple(sorted(names, key=lambda n: metric_sort_key(n, order)))
    return ordered


def _convert_run(rc: Mapping[str, Any], dataset: str, source: str
                 ) -> tuple[int, tuple[str, ...], np.ndarray, tuple[float, float, float], list[str]]:
    """Convert one official ``ResultsCount`` state dict.

    Returns:
        ``(epochs, metric names, values [epochs, metric] float64, (params M, FLOPs M,
        latency s), eval set names)``; metric names in the canonical order
        (:func:`natsbench.store.writer.metric_sort_key`).
    """
    try:
        epochs = int(rc["epochs"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ArchiveError(f"{source}: run without a valid 'epochs' field") from exc
    if epochs <= 0:
        raise ArchiveError(f"{source}: run with {epochs} epochs; expected at least 1")
    columns = {
        "train_loss": _per_epoch_list(rc.get("train_losses"), epochs, "train_losses", source),
        "train_acc1": _per_epoch_list(rc.get("train_acc1es"), epochs, "train_acc1es", source),
        "train_time": _per_epoch_list(rc.get("train_times"), epochs, "train_times", source),
    }
    if rc.get("train_acc5es") is not None:
        columns["train_acc5"] = _per_epoch_list(rc["train_acc5es"], epochs, "train_acc5es", source)
    eval_columns, eval_names = _eval_columns(rc, epochs, source)
    columns.update(eval_columns)
    names = _metric_order(dataset, tuple(columns), tuple(eval_names))
    values = np.array([columns[n] for n in names], dtype=np.float64).T   # [epoch, metric]
    latency = rc.get("latency")
    if latency is None:
        lat = math.nan
    elif isinstance(latency, (list, tuple)) and latency:
        lat = sum(_number(v, "latency", source) for v in latency) / len(latency)
    else:
        lat = _number(latency, "latency", source)
    costs = (
        _number(rc.get("params"), "params", source) if rc.get("params") is not None else math.nan,
        _number(rc.get("flop"), "flop", source) if rc.get("flop") is not None else math.nan,
        lat,
    )
    return epochs, names, values, costs, eval_names


# ----------------------------------------------------------------------------- one architecture
class _Spool:
    """Append-only file of converted run values (float64 [epochs, metric] blocks)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file = open(path, "ab")
        self._size = self._file.tell()

    def append(self, values: np.ndarray) -> int:
        """Write ``values`` (C-contiguous float64); return its byte offset."""
        offset = self._size
        self._file.write(memoryview(np.ascontiguousarray(values, dtype=np.float64)).cast("B"))
        self._size += values.size * 8
        return offset

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        self._file.close()


@dataclass
class _ArchRuns:
    """Everything one architecture's file contributes (runs' values live in ``spool``)."""

    index: int
    spool: str
    #: (dataset, hp, seed, epochs, metric names, spool byte offset, (params, flops, latency))
    runs: list[tuple[str, str, int, int, tuple[str, ...], int, tuple[float, float, float]]]
    eval_sets: dict[str, list[str]] = field(default_factory=dict)
    num_classes: dict[str, int] = field(default_factory=dict)
    net_config: dict[str, Any] = field(default_factory=dict)


def _convert_arch(index: Any, payload: Any, where_file: str, meta_archs_or_arch: Any,
                  spool: _Spool) -> _ArchRuns:
    """Convert one architecture's ``{hp: ArchResults state}``; values go to ``spool``."""
    expected = meta_archs_or_arch
    if not isinstance(payload, Mapping):
        raise ArchiveError(f"{where_file}: expected a dict keyed by hp, got {type(payload).__name__}")
    out = _ArchRuns(index, spool.path.name, [])
    for hp_key, state in payload.items():
        hp = _hp_of(hp_key, where_file)
        if not isinstance(state, Mapping) or "all_results" not in state or "dataset_seed" not in state:
            raise ArchiveError(f"{where_file}: hp {hp_key!r} is not an ArchResults state dict")
        if state.get("arch_str") != expected:
            raise ArchiveError(f"{where_file}: arch_str {state.get('arch_str')!r} does not match "
                               f"meta_archs[{index}] {expected!r}")
        all_results = state["all_results"]
        dataset_seed = state["dataset_seed"]
        if not isinstance(all_results, Mapping) or not isinstance(dataset_seed, Mapping):
            raise ArchiveError(f"{where_file}: hp {hp_key!r}: all_results and dataset_seed must be dicts")
        for dataset, seeds in dataset_seed.items():
            if not isinstance(dataset, str) or not isinstance(seeds, (list, tuple)):
                raise ArchiveError(f"{where_file}: hp {hp_key!r}: dataset_seed entry {dataset!r}: "
                                   f"{seeds!r} is not a list of seeds")
            if len(set(seeds)) != len(seeds):
                raise ArchiveError(f"{where_file}: hp {hp_key!r}: {dataset} lists seeds {seeds!r} twice")
            for seed in seeds:
                where = f"{where_file} [hp {hp}, {dataset}, seed {seed}]"
                if isinstance(seed, bool) or not isinstance(seed, int):
                    raise ArchiveError(f"{where}: seed is {type(seed).__name__}, expected int")
                rc = all_results.get((dataset, seed))
                if not isinstance(rc, Mapping):
                    raise ArchiveError(f"{where}: run listed in dataset_seed but missing from all_results")
                epochs, names, values, costs, sets = _convert_run(rc, dataset, where)
                out.runs.append((dataset, hp, seed, epochs, names, spool.append(values), costs))
                known = out.eval_sets.setdefault(dataset, [])
                known.extend(n for n in sets if n not in known)
                config = rc.get("arch_config") or {}
                if isinstance(config, Mapping):
                    if "class_num" in config and dataset not in out.num_classes:
                        try:
                            out.num_classes[dataset] = int(config["class_num"])
                        except (TypeError, ValueError):
                            raise ArchiveError(f"{where}: arch_config class_num "
                                               f"{config['class_num']!r} is not an integer") from None
                    for key in ("channel", "num_cells", "genotype", "name"):
                        if key in config:
                            out.net_config.setdefault(key, config[key])
    return out


# ----------------------------------------------------------------------------- worker processes
_WORKER_SPOOL: _Spool | None = None


def _init_worker(spool_dir: str) -> None:
    """Pool initializer: the parent handles Ctrl-C; each worker appends to its own spool."""
    global _WORKER_SPOOL
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _WORKER_SPOOL = _Spool(Path(spool_dir) / f"worker-{os.getpid()}.bin")


def _load_and_convert(task: tuple[int, str, str]) -> _ArchRuns:
    """Worker: read one ``{index:06d}.pickle.pbz2`` file and convert it."""
    index, path, arch = task
    assert _WORKER_SPOOL is not None
    result = _convert_arch(index, load_archive_file(path), path, arch, _WORKER_SPOOL)
    _WORKER_SPOOL.flush()
    return result


@dataclass
class _GroupJob:
    """What a worker needs to write one (dataset, hp) group of dense arrays."""

    gdir: str
    info: GroupInfo
    rows: np.ndarray            # [R] arch index of each row
    run_row: np.ndarray         # [N] row of each run
    run_seed: np.ndarray        # [N] seed position of each run
    run_names: np.ndarray       # [N] index into names
    run_spool: np.ndarray       # [N] index into spools
    run_offset: np.ndarray      # [N] byte offset in its spool
    run_costs: np.ndarray       # [N, 3]
    names: list[tuple[str, ...]]
    spools: list[str]


def _write_npy_header(f: Any, shape: tuple[int, ...], dtype: str) -> None:
    np.lib.format.write_array_header_1_0(f, {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)),
                                             "fortran_order": False, "shape": shape})


def _write_group(job: _GroupJob) -> None:
    """Write ``metrics``/``cumtime``/``costs``/``present``/``rows`` of one group from the
    spools, a block of rows at a time (memory: one block, about 32 MB)."""
    info = job.info
    gdir = Path(job.gdir)
    gdir.mkdir(parents=True, exist_ok=True)
    R, S, E, M = len(job.rows), len(info.seeds), info.epochs, len(info.metrics)
    metric_pos = {m: k for k, m in enumerate(info.metrics)}
    layouts = [(names == tuple(info.metrics), np.array([metric_pos[n] for n in names]))
               for names in job.names]
    time_cols = time_columns(info.metrics)
    costs = np.full((R, S, len(COST_NAMES)), math.nan)
    present = np.zeros((R, S), dtype=bool)
    order = np.argsort(job.run_row, kind="stable")
    fds = [os.open(p, os.O_RDONLY) for p in job.spools]
    block = max(1, (32 << 20) // max(1, S * E * M * 8))
    try:
        with open(gdir / METRICS_FILE, "wb") as fm, open(gdir / CUMTIME_FILE, "wb") as fc:
            _write_npy_header(fm, (R, S, E, M), info.dtype)
            _write_npy_header(fc, (R, S, E, len(time_cols)), "float64")
            starts = np.searchsorted(job.run_row[order], np.arange(0, R + block, block))
            for b, lo in enumerate(range(0, R, block)):
                hi = min(R, lo + block)
                chunk = np.full((hi - lo, S, E, M), math.nan)
                for k in order[starts[b]:starts[b + 1]]:
                    row, s = int(job.run_row[k]), int(job.run_seed[k])
                    same_layout, cols = layouts[job.run_names[k]]
                    target = chunk[row - lo, s] if same_layout else np.empty((E, len(cols)))
                    nbytes = os.preadv(fds[job.run_spool[k]], [target], int(job.run_offset[k]))
                    if nbytes != target.nbytes:
                        raise ArchiveError(f"{job.spools[job.run_spool[k]]}: spool ended early")
                    if not same_layout:
                        chunk[row - lo, s][:, cols] = target
                    costs[row, s] = job.run_costs[k]
                    present[row, s] = True
                stored = chunk.astype(info.dtype, copy=False)
                fm.write(memoryview(stored).cast("B"))
                fc.write(memoryview(np.ascontiguousarray(cumulative_times(stored, info.metrics))).cast("B"))
    finally:
        for fd in fds:
            os.close(fd)
    np.save(gdir / COSTS_FILE, costs)
    np.save(gdir / PRESENT_FILE, present)
    np.save(gdir / ROWS_FILE, job.rows)


# ----------------------------------------------------------------------------- collecting
class _Collector:
    """Gathers the per-run metadata of every architecture, per (dataset, hp) group."""

    def __init__(self, spool_dir: Path) -> None:
        self.spool_dir = spool_dir
        self.groups: dict[tuple[str, str], list[list[Any]]] = {}
        self.names: dict[tuple[str, ...], int] = {}
        self.spools: dict[str, int] = {}
        self.eval_sets: dict[str, list[str]] = {}
        self.num_classes: dict[str, int] = {}
        self.net_config: dict[str, Any] = {}

    def add(self, arch: _ArchRuns) -> None:
        spool = self.spools.setdefault(arch.spool, len(self.spools))
        for dataset, hp, seed, epochs, names, offset, costs in arch.runs:
            cols = self.groups.get((dataset, hp))
            if cols is None:
                cols = self.groups[(dataset, hp)] = [[] for _ in range(7)]
            name_id = self.names.setdefault(names, len(self.names))
            for column, value in zip(cols, (arch.index, seed, epochs, name_id, spool, offset, costs)):
                column.append(value)
        for dataset, sets in arch.eval_sets.items():
            known = self.eval_sets.setdefault(dataset, [])
            known.extend(s for s in sets if s not in known)
        for dataset, n in arch.num_classes.items():
            self.num_classes.setdefault(dataset, n)
        for key, value in arch.net_config.items():
            self.net_config.setdefault(key, value)

    def datasets(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for dataset, sets in self.eval_sets.items():
            spec = DATASETS.get(dataset)  # the NATS-Bench datasets' sets and classes (DESIGN.md)
            order = spec.eval_sets if spec else ()
            ordered = [s for s in order if s in sets] + [s for s in sets if s not in order]
            out[dataset] = {"num_classes": self.num_classes.get(dataset, spec.num_classes if spec else None),
                            "eval_sets": ordered}
        return out

    def jobs(self, root: Path, datasets: Mapping[str, Mapping[str, Any]], dtype: str) -> list[_GroupJob]:
        names = sorted(self.names, key=self.names.__getitem__)
        spools = [str(self.spool_dir / s) for s in sorted(self.spools, key=self.spools.__getitem__)]
        jobs = []
        for (dataset, hp), (archs, seeds, epochs, name_ids, spool_ids, offsets, costs) in self.groups.items():
            lengths = sorted(set(epochs))
            if len(lengths) != 1:
                raise ArchiveError(f"runs of {dataset} hp {hp} have different epoch counts {lengths}; "
                                   f"one group holds runs of one length")
            arch_arr = np.asarray(archs, dtype=np.int64)
            seed_arr = np.asarray(seeds, dtype=np.int64)
            pairs = arch_arr * (1 << 32) + (seed_arr - seed_arr.min())
            if len(np.unique(pairs)) != len(pairs):
                raise ArchiveError(f"duplicate runs (same arch index and seed) in {dataset} hp {hp}")
            eval_sets = datasets[dataset]["eval_sets"]
            used = sorted(set(name_ids))
            local = {name_id: k for k, name_id in enumerate(used)}
            metric_names = sorted({n for i in used for n in names[i]},
                                  key=lambda n: metric_sort_key(n, eval_sets))
            seed_axis = sorted(set(seeds))
            info = GroupInfo(dataset, hp, seed_axis, lengths[0], metric_names, dtype)
            rows = np.unique(arch_arr)
            jobs.append(_GroupJob(
                gdir=str(root / info.relpath), info=info, rows=rows,
                run_row=np.searchsorted(rows, arch_arr),
                run_seed=np.searchsorted(np.asarray(seed_axis), seed_arr),
                run_names=np.asarray([local[i] for i in name_ids], dtype=np.int64),
                run_spool=np.asarray(spool_ids, dtype=np.int64),
                run_offset=np.asarray(offsets, dtype=np.int64),
                run_costs=np.asarray(costs, dtype=np.float64).reshape(-1, len(COST_NAMES)),
                names=[names[i] for i in used], spools=spools))
        return jobs


# ----------------------------------------------------------------------------- sources
def _is_torch_file(path: Path) -> bool:
    return path.suffix == ".pth" or is_torch_archive(path)


def load_single_archive(path: str | os.PathLike) -> Any:
    """Read a single-file archive safely: a NATS-Bench ``*.pickle.pbz2`` or a NAS-Bench-201
    ``*.pth`` (torch-saved; read without torch, see :mod:`natsbench.store.torch_archive`)."""
    path = Path(path)
    return load_torch_archive(path) if _is_torch_file(path) else load_archive_file(path)


def _single_file_payloads(data: Any, src: str) -> tuple[dict, list[tuple[Any, Any, str]]]:
    """(meta, [(index, {hp: state}, where), ...]) of a loaded single-file archive."""
    if not isinstance(data, Mapping) or "arch2infos" not in data:
        raise ArchiveError(f"{src}: expected a dict with meta_archs/arch2infos/evaluated_indexes")
    infos = data.get("arch2infos") or {}
    if not isinstance(infos, Mapping):
        raise ArchiveError(f"{src}: arch2infos is {type(infos).__name__}, expected dict")
    keys = sorted(infos, key=lambda k: (not isinstance(k, int), k if isinstance(k, int) else 0, str(k)))
    return dict(data), [(k, infos[k], f"{src}[arch2infos][{k!r}]") for k in keys]


def _check_index(index: Any, n: int, where: str) -> None:
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < n:
        raise ArchiveError(f"{where}: arch index {index!r} outside [0, {n})")


def _meta_archs(meta: Any, source: str, space: str | None) -> tuple[list[str], str]:
    if not isinstance(meta, Mapping) or not isinstance(meta.get("meta_archs"), list):
        raise ArchiveError(f"{source}: meta has no 'meta_archs' list")
    meta_archs: list[str] = meta["meta_archs"]
    space = normalize_space(space) if space else _detect_space(meta_archs)
    _validate_archs(space, meta_archs, source)
    if len(set(meta_archs)) != len(meta_archs):
        raise ArchiveError(f"{source}: meta_archs contains duplicate architectures")
    return meta_archs, space


# ----------------------------------------------------------------------------- public API
def import_official(src: str | os.PathLike, out: str | os.PathLike, *, space: str | None = None,
                    overwrite: bool = False, progress: bool = True,
                    dtype: str = "float64", workers: int | None = None) -> Path:
    """Import an official NATS-Bench or NAS-Bench-201 archive into a benchmark directory.

    Accepted sources: the NATS-Bench fast-mode directory (``meta.pickle.pbz2`` plus any
    subset of ``{index:06d}.pickle.pbz2``), a NATS-Bench single-file ``*.pickle.pbz2``, or a
    NAS-Bench-201 ``*.pth`` (v1.0/v1.1; ``less``/``full`` become hp ``12``/``200``).

    The per-arch files of a fast-mode directory are read and converted by a pool of
    ``workers`` processes; each run's values are streamed to a spool file and the dense
    arrays are written one (dataset, hp) group and one block of rows at a time, so memory
    stays bounded (below 1 GB for the full tss archive). Everything is written inside a
    hidden ``.<out>.partial-*`` directory that is renamed into place at the end; an error,
    Ctrl-C or SIGTERM removes it, and a partial directory left by a killed import (its
    process is gone) is removed by the next import to the same ``out``.

    Args:
        src: fast-mode directory, ``*.pickle.pbz2`` file or NAS-Bench-201 ``*.pth`` file.
        out: benchmark directory to create.
        space: ``tss``/``sss`` (aliases ``topology``/``size``); detected when omitted.
        overwrite: replace ``out`` if it exists.
        progress: show a tqdm progress bar.
        dtype: metric element type (``float64`` keeps official numbers exact).
        workers: processes reading a fast-mode directory (default: the CPUs available,
            fewer for small archives; ``1`` reads in this process).

    Raises:
        ArchiveError: a file is missing, corrupt, truncated, hostile or inconsistent; the
            message names the file. Nothing is written.
        StoreError: ``out`` exists and ``overwrite`` is false.
    """
    src = Path(src)
    out = Path(out)
    _check_out(out, overwrite, dtype)
    if src.is_dir():
        meta_path = src / META_FILE
        if not meta_path.is_file():
            raise ArchiveError(f"{src} is not an official fast-mode archive: {META_FILE} is missing")
        meta = load_archive_file(meta_path)
        meta_archs, space = _meta_archs(meta, str(meta_path), space)
        tasks: list[tuple[int, str, str]] = []
        for path in sorted(src.iterdir()):
            m = _ARCH_FILE_RE.match(path.name)
            if m:
                index = int(m.group(1))
                _check_index(index, len(meta_archs), str(path))
                tasks.append((index, str(path), meta_archs[index]))
        tasks.sort()
        dup = [t[1] for a, t in zip(tasks, tasks[1:]) if a[0] == t[0]]
        if dup:
            raise ArchiveError(f"{dup[0]}: a second file for arch index {int(Path(dup[0]).name.split('.')[0])}")
        return _import(meta, meta_archs, space, tasks, [], str(src.resolve()), src.name, out,
                       overwrite=overwrite, progress=progress, dtype=dtype, workers=workers)
    if src.is_file():
        if space and normalize_space(space) != "tss" and _is_torch_file(src):
            raise ArchiveError(f"{src}: a NAS-Bench-201 archive holds the tss space only, "
                               f"not {space!r}; pass --space tss or omit it")
        meta, payloads = _single_file_payloads(load_single_archive(src), str(src))
        meta_archs, space = _meta_archs(meta, str(src), space)
        return _import(meta, meta_archs, space, [], payloads, str(src.resolve()), src.name, out,
                       overwrite=overwrite, progress=progress, dtype=dtype, workers=1)
    raise ArchiveError(f"official archive {src} does not exist")


def import_official_dict(data: Mapping[str, Any], out: str | os.PathLike, *, space: str | None = None,
                         overwrite: bool = False, dtype: str = "float64") -> Path:
    """Import an already-loaded single-file archive dict (as ``nats_bench.create`` accepts)."""
    out = Path(out)
    _check_out(out, overwrite, dtype)
    meta, payloads = _single_file_payloads(data, "<dict>")
    meta_archs, space = _meta_archs(meta, "<dict>", space)
    return _import(meta, meta_archs, space, [], payloads, "<dict>", "<dict>", out,
                   overwrite=overwrite, progress=False, dtype=dtype, workers=1)


def _check_out(out: Path, overwrite: bool, dtype: str) -> None:
    if dtype not in ("float32", "float64"):
        raise StoreError(f"dtype {dtype!r} is not supported; valid: float32, float64")
    if out.exists() and not overwrite:
        raise StoreError(f"{out} already exists; choose another --out or pass overwrite")
    if out.exists() and not (out / MANIFEST_FILE).is_file():
        raise StoreError(f"{out} exists and is not a natsbench benchmark ({MANIFEST_FILE} missing); "
                         f"refusing to replace it")


_OWNER_FILE = ".importer-pid"


def _discard_stale_partials(out: Path) -> None:
    """Remove ``.<out>.partial-*`` directories of imports whose process is gone (SIGKILL)."""
    for partial in out.parent.glob(f".{out.name}.partial-*"):
        try:
            pid = int((partial / _OWNER_FILE).read_text())
        except (OSError, ValueError):
            continue  # not ours (another writer's) or just being created
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            log.info("removing %s, left by an interrupted import (process %d)", partial, pid)
            shutil.rmtree(partial, ignore_errors=True)
        except PermissionError:
            pass


@contextlib.contextmanager
def _sigterm_interrupts():
    """SIGTERM raises KeyboardInterrupt while importing (main thread only), so the partial
    directory is removed as on Ctrl-C."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _terminate(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")

    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _default_workers(count: int) -> int:
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, count // 64))


def _import(meta: Mapping[str, Any], meta_archs: list[str], space: str, tasks: list[tuple[int, str, str]],
            payloads: list[tuple[Any, Any, str]], source: str, source_name: str, out: Path, *,
            overwrite: bool, progress: bool, dtype: str, workers: int | None) -> Path:
    from tqdm.auto import tqdm

    count = len(tasks) + len(payloads)
    workers = _default_workers(count) if workers is None else max(1, int(workers))
    if not tasks:
        workers = 1
    out.parent.mkdir(parents=True, exist_ok=True)
    _discard_stale_partials(out)
    partial = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    pool = None
    try:
        with _sigterm_interrupts():
            (partial / _OWNER_FILE).write_text(str(os.getpid()))
            spool_dir = partial / ".spool"
            spool_dir.mkdir()
            collector = _Collector(spool_dir)
            bar = tqdm(total=count, disable=not progress, desc="import", unit="arch")
            if workers > 1:
                import multiprocessing

                pool = multiprocessing.get_context("spawn").Pool(
                    workers, initializer=_init_worker, initargs=(str(spool_dir),))
                for arch in pool.imap(_load_and_convert, tasks, chunksize=8):
                    collector.add(arch)
                    bar.update()
            else:
                spool = _Spool(spool_dir / "main.bin")
                try:
                    for index, path, arch in tasks:
                        collector.add(_convert_arch(index, load_archive_file(path), path, arch, spool))
                        bar.update()
                    for index, payload, where in payloads:
                        _check_index(index, len(meta_archs), where)
                        collector.add(_convert_arch(index, payload, where, meta_archs[index], spool))
                        bar.update()
                finally:
                    spool.close()
            bar.close()
            datasets = collector.datasets()
            jobs = collector.jobs(partial, datasets, dtype)
            if pool is not None:
                pool.map(_write_group, jobs, chunksize=1)
                pool.close()
                pool.join()
                pool = None
            else:
                for job in jobs:
                    _write_group(job)
            shutil.rmtree(spool_dir)
            write_arch_table(partial / ARCHS_FILE, meta_archs)
            from natsbench._version import __version__

            provenance = {
                "data": "official NAS-Bench-201 archive" if source_name.endswith(".pth")
                else "official NATS-Bench archive",
                "source": source,
                "source_name": source_name,
                "files": count,
                "protocol": "NATS-Bench (Dong et al., TPAMI 2021), Table 5.2",
                "importer": "natsbench import-official",
                "code_version": __version__,
            }
            manifest = Manifest(space=space, num_archs=len(meta_archs), arch_order="official",
                                datasets=datasets, groups=[job.info for job in jobs],
                                net_config=collector.net_config, provenance=provenance,
                                extra={"official_total_archs": meta.get("total_archs")})
            (partial / _OWNER_FILE).unlink()
            write_manifest(partial, manifest)
            replace_dir(partial, out)
    except BaseException:
        if pool is not None:
            pool.terminate()
            pool.join()
        shutil.rmtree(partial, ignore_errors=True)
        raise
    log.info("imported %s into %s (%d files, %d groups, %d workers)", source, out, count,
             len(jobs), workers)
    return out

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

import logging
import math
import os
import re
from pathlib import Path
from typing import Any, Iterator, Mapping

from natsbench.errors import ArchiveError, QueryError, StoreError
from natsbench.datasets.specs import DATASETS
from natsbench.store.restricted_pickle import load_archive_file
from natsbench.store.records import normalize_hp
from natsbench.store.writer import GroupBuffer, write_bench

log = logging.getLogger(__name__)

META_FILE = "meta.pickle.pbz2"
_ARCH_FILE_RE = re.compile(r"^(\d+)\.pickle\.pbz2$")
SPACE_ALIASES = {"tss": "tss", "topology": "tss", "sss": "sss", "size": "sss"}


def normalize_space(space: str) -> str:
    try:
        return SPACE_ALIASES[space]
    except (KeyError, TypeError):
        raise QueryError(f"unknown search space {space!r}; valid: {sorted(SPACE_ALIASES)}") from None


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


def _iter_arch_payloads(src: Path) -> tuple[dict, Iterator[tuple[int, Any, str]], int]:
    """Return (meta, iterator of (index, {hp: state}, source), count)."""
    if src.is_dir():
        meta_path = src / META_FILE
        if not meta_path.is_file():
            raise ArchiveError(f"{src} is not an official fast-mode archive: {META_FILE} is missing")
        meta = load_archive_file(meta_path)
        files = []
        for path in sorted(src.iterdir()):
            m = _ARCH_FILE_RE.match(path.name)
            if m:
                files.append((int(m.group(1)), path))

        def gen() -> Iterator[tuple[int, Any, str]]:
            for index, path in files:
                yield index, load_archive_file(path), str(path)

        return meta, gen(), len(files)
    if src.is_file():
        return _single_file_payloads(load_archive_file(src), str(src))
    raise ArchiveError(f"official archive {src} does not exist")


def _single_file_payloads(meta: Any, src: str) -> tuple[dict, Iterator[tuple[int, Any, str]], int]:
    if not isinstance(meta, dict) or "arch2infos" not in meta:
        raise ArchiveError(f"{src}: expected a dict with meta_archs/arch2infos/evaluated_indexes")
    infos = meta.get("arch2infos") or {}
    if not isinstance(infos, dict):
        raise ArchiveError(f"{src}: arch2infos is {type(infos).__name__}, expected dict")

    def gen_single() -> Iterator[tuple[int, Any, str]]:
        for index in sorted(infos, key=lambda k: (not isinstance(k, int), str(k))):
            yield index, infos[index], f"{src}[arch2infos][{index!r}]"

    return meta, gen_single(), len(infos)


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


def _run_to_metrics(rc: Mapping[str, Any], source: str) -> tuple[int, dict[str, list[float]], dict[str, float], list[str]]:
    """Convert one official ResultsCount state dict."""
    try:
        epochs = int(rc["epochs"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ArchiveError(f"{source}: run without a valid 'epochs' field") from exc
    metrics = {
        "train_loss": _per_epoch(rc.get("train_losses"), epochs, "train_losses", source),
        "train_acc1": _per_epoch(rc.get("train_acc1es"), epochs, "train_acc1es", source),
        "train_time": _per_epoch(rc.get("train_times"), epochs, "train_times", source),
    }
    if rc.get("train_acc5es") is not None:
        metrics["train_acc5"] = _per_epoch(rc["train_acc5es"], epochs, "train_acc5es", source)
    eval_names = list(rc.get("eval_names") or [])
    for field_name, quantity in (("eval_losses", "loss"), ("eval_acc1es", "acc1"), ("eval_times", "time")):
        table = rc.get(field_name) or {}
        if not isinstance(table, Mapping):
            raise ArchiveError(f"{source}: {field_name} is {type(table).__name__}, expected dict")
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
            name = f"{set_name}_{quantity}"
            metrics.setdefault(name, [math.nan] * epochs)[epoch] = _number(value, field_name, source)
    latency = rc.get("latency")
    if latency is None:
        lat = math.nan
    elif isinstance(latency, (list, tuple)) and latency:
        lat = sum(_number(v, "latency", source) for v in latency) / len(latency)
    else:
        lat = _number(latency, "latency", source)
    costs = {
        "params": _number(rc.get("params"), "params", source) if rc.get("params") is not None else math.nan,
        "flops": _number(rc.get("flop"), "flop", source) if rc.get("flop") is not None else math.nan,
        "latency": lat,
    }
    return epochs, metrics, costs, eval_names


def import_official(src: str | os.PathLike, out: str | os.PathLike, *, space: str | None = None,
                    overwrite: bool = False, progress: bool = True,
                    dtype: str = "float64") -> Path:
    """Import an official NATS-Bench archive into a natsbench benchmark directory.

    Args:
        src: fast-mode directory or single-file archive.
        out: benchmark directory to create (atomically; nothing is left on failure).
        space: ``tss``/``sss`` (aliases ``topology``/``size``); detected when omitted.
        overwrite: replace ``out`` if it exists.
        progress: show a tqdm progress bar.
        dtype: metric element type (``float64`` keeps official numbers exact).

    Raises:
        ArchiveError: a file is missing, corrupt, truncated, hostile or inconsistent; the
            message names the file.
    """
    src = Path(src)
    meta, payloads, count = _iter_arch_payloads(src)
    return _import(meta, payloads, count, str(src.resolve()), src.name, out, space=space,
                   overwrite=overwrite, progress=progress, dtype=dtype)


def import_official_dict(data: Mapping[str, Any], out: str | os.PathLike, *, space: str | None = None,
                         overwrite: bool = False, dtype: str = "float64") -> Path:
    """Import an already-loaded single-file archive dict (as ``nats_bench.create`` accepts)."""
    meta, payloads, count = _single_file_payloads(dict(data), "<dict>")
    return _import(meta, payloads, count, "<dict>", "<dict>", out, space=space,
                   overwrite=overwrite, progress=False, dtype=dtype)


def _import(meta: Any, payloads: Iterator[tuple[int, Any, str]], count: int, source: str,
            source_name: str, out: str | os.PathLike, *, space: str | None, overwrite: bool,
            progress: bool, dtype: str) -> Path:
    from tqdm.auto import tqdm

    if not isinstance(meta, dict) or not isinstance(meta.get("meta_archs"), list):
        raise ArchiveError(f"{source}: meta has no 'meta_archs' list")
    meta_archs: list[str] = meta["meta_archs"]
    space = normalize_space(space) if space else _detect_space(meta_archs)
    _validate_archs(space, meta_archs, str(source))
    if len(set(meta_archs)) != len(meta_archs):
        raise ArchiveError(f"{source}: meta_archs contains duplicate architectures")

    groups: dict[tuple[str, str], GroupBuffer] = {}
    eval_sets: dict[str, list[str]] = {}
    num_classes: dict[str, int] = {}
    net_config: dict[str, Any] = {}
    for index, payload, where_file in tqdm(payloads, total=count, disable=not progress,
                                       desc="import", unit="arch"):
        if not isinstance(index, int) or not 0 <= index < len(meta_archs):
            raise ArchiveError(f"{where_file}: arch index {index!r} outside [0, {len(meta_archs)})")
        if not isinstance(payload, Mapping):
            raise ArchiveError(f"{where_file}: expected a dict keyed by hp, got {type(payload).__name__}")
        for hp_key, state in payload.items():
            hp = normalize_hp(str(hp_key))
            if not isinstance(state, Mapping) or "all_results" not in state or "dataset_seed" not in state:
                raise ArchiveError(f"{where_file}: hp {hp_key!r} is not an ArchResults state dict")
            if state.get("arch_str") != meta_archs[index]:
                raise ArchiveError(f"{where_file}: arch_str {state.get('arch_str')!r} does not match "
                                   f"meta_archs[{index}] {meta_archs[index]!r}")
            all_results = state["all_results"]
            for dataset, seeds in dict(state["dataset_seed"]).items():
                for seed in seeds:
                    rc = all_results.get((dataset, seed)) if isinstance(all_results, Mapping) else None
                    where = f"{where_file} [hp {hp}, {dataset}, seed {seed}]"
                    if not isinstance(rc, Mapping):
                        raise ArchiveError(f"{where}: run listed in dataset_seed but missing from all_results")
                    epochs, metrics, costs, names = _run_to_metrics(rc, where)
                    sets = eval_sets.setdefault(dataset, [])
                    sets.extend(n for n in names if n not in sets)
                    config = rc.get("arch_config") or {}
                    if isinstance(config, Mapping):
                        if "class_num" in config:
                            num_classes.setdefault(dataset, int(config["class_num"]))
                        for key in ("channel", "num_cells", "genotype", "name"):
                            if key in config:
                                net_config.setdefault(key, config[key])
                    group = groups.setdefault((dataset, hp), GroupBuffer(dataset, hp))
                    group.add_run(index, int(seed), epochs, metrics, costs)
    datasets: dict[str, dict[str, Any]] = {}
    for dataset, sets in eval_sets.items():
        spec = DATASETS.get(dataset)  # the NATS-Bench datasets' sets and classes (DESIGN.md)
        order = spec.eval_sets if spec else ()
        ordered = [s for s in order if s in sets] + [s for s in sets if s not in order]
        datasets[dataset] = {
            "num_classes": num_classes.get(dataset, spec.num_classes if spec else None),
            "eval_sets": ordered,
        }
    provenance = {
        "data": "official NATS-Bench archive",
        "source": source,
        "source_name": source_name,
        "files": count,
        "protocol": "NATS-Bench (Dong et al., TPAMI 2021), Table 5.2",
        "importer": "natsbench import-official",
    }
    from natsbench import __version__

    provenance["code_version"] = __version__
    try:
        return write_bench(out, space=space, arch_strs=meta_archs, groups=groups.values(),
                           datasets=datasets, arch_order="official", net_config=net_config,
                           provenance=provenance, dtype=dtype, overwrite=overwrite,
                           extra={"official_total_archs": meta.get("total_archs")})
    except StoreError as exc:
        raise ArchiveError(f"{source}: {exc}") from exc

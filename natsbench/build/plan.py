"""The job plan of a benchmark build: one job per (arch, dataset, protocol, seed).

Planning is cheap and idempotent: a job is done when its record file exists with status
``ok`` (or, after compaction, when the benchmark's arrays hold the run), so a killed build
restarts by planning again and running only what is missing.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from natsbench.errors import QueryError
from natsbench.store.records import normalize_hp, read_status, record_dir, record_path


@dataclass(frozen=True)
class Job:
    """One training run to do.

    Attributes:
        space, arch: what to train (arch is the canonical string).
        index: the arch's row in the benchmark's arch table.
        dataset: dataset name.
        protocol: protocol spec (name or ``"<preset>:field=value,..."``).
        hp: the tag records are filed under (the protocol's ``hp``).
        seed: training seed.
    """

    space: str
    arch: str
    index: int
    dataset: str
    protocol: str
    hp: str
    seed: int


@dataclass
class ArchSelection:
    """Which architectures a build trains, and how the others are answered.

    Attributes:
        archs: every architecture of the benchmark's table, in index order.
        train: indices to train.
        source_index: per arch, the index whose results it shares (-1: its own / none),
            e.g. the representative of its isomorphism class; None when nothing is shared.
        iso_class: per arch class id (tss ``unique`` selections), or None.
        order: ``canonical`` or ``custom`` (the table's index order).
    """

    archs: list[str]
    train: np.ndarray
    source_index: np.ndarray | None = None
    iso_class: np.ndarray | None = None
    order: str = "canonical"

    def columns(self) -> dict[str, Any]:
        cols: dict[str, Any] = {}
        if self.source_index is not None:
            cols["source_index"] = self.source_index.tolist()
        if self.iso_class is not None:
            cols["iso_class"] = self.iso_class.tolist()
        return cols


def select_archs(space: str, spec: str, *, seed: int = 0,
                 space_options: dict[str, Any] | None = None) -> ArchSelection:
    """Resolve ``--archs``: ``all``, ``unique`` (tss), ``sample:N``, ``stratified:N`` (balanced
    per dimension, see :func:`stratified_sample`) or a file of arch strings.

    Args:
        space: search space name.
        spec: the selection (see above). A file holds one architecture per line (``#``
            comments allowed) or a JSON list.
        seed: RNG seed of ``sample:N`` (stratified over isomorphism classes is not
            attempted: a uniform sample without replacement, sorted by index).
        space_options: options of :func:`natsbench.spaces.get_space` (``{"k": 12}`` for
            12-ExtCells); sampling and file validation use that space.

    Raises:
        QueryError (a ValueError): unknown spec, bad N, malformed architectures in the file (names the line).
    """
    from natsbench.spaces import get_space

    sp = get_space(space, **(space_options or {}))
    if spec == "all":
        if sp.size is None:
            raise QueryError(f"space {space!r} cannot be enumerated; use sample:N or a file")
        archs = sp.all_archs()
        return ArchSelection(archs, np.arange(len(archs)))
    if spec == "unique":
        if sp.name != "tss":
            raise QueryError("--archs unique applies to the tss space only (sss has no isomorphism)")
        from natsbench.spaces import tss

        archs = sp.all_archs()
        classes = np.asarray(tss.iso_class_ids(), dtype=np.int64)
        first = np.full(classes.max() + 1, -1, dtype=np.int64)
        for i in range(len(classes) - 1, -1, -1):
            first[classes[i]] = i
        rep = first[classes]
        source = np.where(rep == np.arange(len(archs)), -1, rep)
        return ArchSelection(archs, np.flatnonzero(source < 0), source, classes)
    if spec.startswith("stratified:"):
        try:
            n = int(spec.split(":", 1)[1])
        except ValueError:
            raise QueryError(f"--archs stratified:N needs an integer N, got {spec!r}") from None
        if sp.size is None or not hasattr(sp, "num_choices"):
            raise QueryError(f"stratified sampling needs an enumerable product space, not {space!r}")
        archs = sp.all_archs()
        return ArchSelection(archs, stratified_sample(sp, n, np.random.default_rng(seed)))
    if spec.startswith("sample:"):
        try:
            n = int(spec.split(":", 1)[1])
        except ValueError:
            raise QueryError(f"--archs sample:N needs an integer N, got {spec!r}") from None
        rng = np.random.default_rng(seed)
        if sp.size is not None:
            if not 0 < n <= sp.size:
                raise QueryError(f"sample size must be in 1..{sp.size}, got {n}")
            archs = sp.all_archs()
            return ArchSelection(archs, np.sort(rng.choice(sp.size, size=n, replace=False)))
        archs = []
        seen = set()
        while len(archs) < n:
            a = sp.sample(rng)
            if a not in seen:
                seen.add(a)
                archs.append(a)
        return ArchSelection(archs, np.arange(n), order="custom")
    path = Path(spec)
    if not path.is_file():
        raise QueryError(f"--archs must be all, unique, sample:N or an existing file; got {spec!r}")
    text = path.read_text(encoding="utf-8")
    lines = json.loads(text) if text.lstrip().startswith("[") else [
        ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    archs = []
    for lineno, arch in enumerate(lines, 1):
        try:
            archs.append(sp.validate(str(arch)))
        except ValueError as exc:
            raise QueryError(f"{path}: entry {lineno} is not a valid {space} architecture: {exc}") from None
    if len(set(archs)) != len(archs):
        raise QueryError(f"{path}: duplicate architectures")
    return ArchSelection(archs, np.arange(len(archs)), order="custom")


def stratified_sample(space: Any, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` distinct architectures whose every dimension is balanced (sorted indices).

    A Latin-hypercube design over categorical dimensions: in each dimension every choice
    appears ``n / num_choices`` times (up to rounding), and the dimensions are paired by
    independent random permutations; duplicates are replaced by fresh balanced draws.
    For sss with ``n = 2048`` each of the 8 channel counts appears 256 times per layer.
    """
    if not 0 < n <= space.size:
        raise QueryError(f"sample size must be in 1..{space.size}, got {n}")
    chosen: set[int] = set()
    while len(chosen) < n:
        k = n - len(chosen)
        codes = np.stack([rng.permutation(np.arange(k) % c) for c in space.num_choices], axis=1)
        for row in codes:
            chosen.add(space.index_of(space.decode(row)))
            if len(chosen) == n:
                break
    return np.array(sorted(chosen), dtype=np.int64)


def plan_jobs(bench_dir: str | os.PathLike, space: str, selection: ArchSelection,
              datasets: Sequence[str], protocol: str, hp: str, seeds: Sequence[int],
              retry_failed: bool = False) -> tuple[list[Job], int]:
    """Jobs still to run, and how many were skipped because they are done.

    A job is done when its record exists (``ok``; ``failed`` too unless ``retry_failed``)
    or when the compacted arrays already hold the run.
    """
    from natsbench.store.locking import store_lock

    # shared: the compacted arrays and the record listing come from one state (a concurrent
    # compaction would otherwise move runs from the records into arrays read before)
    with store_lock(bench_dir, exclusive=False):
        return _plan_jobs(Path(bench_dir), space, selection, datasets, hp, protocol, seeds,
                          retry_failed)


def _plan_jobs(bench_dir: Path, space: str, selection: ArchSelection, datasets: Sequence[str],
               hp: str, protocol: str, seeds: Sequence[int],
               retry_failed: bool) -> tuple[list[Job], int]:
    from natsbench.store.manifest import MANIFEST_FILE
    from natsbench.store.reader import StoreReader

    hp = normalize_hp(hp)
    compacted: dict[str, np.ndarray] = {}
    if (bench_dir / MANIFEST_FILE).is_file():
        reader = StoreReader(bench_dir, overlay_records=False)  # records: listed below
        for dataset in datasets:
            info = next((g for g in reader.manifest.groups if g.dataset == dataset and g.hp == hp), None)
            if info is None:
                continue
            g = reader.group(dataset, hp)
            done = np.zeros((len(selection.archs), len(seeds)), dtype=bool)
            present = np.asarray(g.present)
            rows = np.asarray(g.rows)
            inside = rows < len(selection.archs)  # records may hold archs outside the selection
            for k, seed in enumerate(seeds):
                if seed in g.seed_pos:
                    done[rows[present[:, g.seed_pos[seed]] & inside], k] = True
            compacted[dataset] = done
    jobs: list[Job] = []
    skipped = 0
    for dataset in datasets:
        done = compacted.get(dataset)
        # one directory listing instead of a stat per job: a cold page cache then reads the
        # directory's blocks, not one inode per record (build_overhead.py)
        try:
            recorded = {entry.name for entry in os.scandir(record_dir(bench_dir, dataset, hp))}
        except FileNotFoundError:
            recorded = set()
        for index in selection.train.tolist():
            arch = selection.archs[index]
            for k, seed in enumerate(seeds):
                if done is not None and done[index, k]:
                    skipped += 1
                    continue
                path = record_path(bench_dir, space, arch, dataset, hp, seed)
                if path.name in recorded and (not retry_failed or read_status(path) == "ok"):
                    skipped += 1
                    continue
                jobs.append(Job(space, arch, int(index), dataset, protocol, hp, int(seed)))
    return jobs, skipped


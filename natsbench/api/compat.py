"""A drop-in replacement for the official ``nats_bench`` API over natsbench benchmarks.

``create(path, "tss"|"sss")`` returns an object with the official method names,
arguments and return values (``NATStopology``/``NATSsize`` of ``nats_bench`` 1.8), verified
value for value against the official package in tests/test_api_compat.py. Known faults of
the official API are fixed without changing results:

* no deep copies and no prints (``verbose=True`` logs at INFO level instead);
* hp may be an int or a str everywhere (``1``, ``"1"`` and ``"01"`` are the same);
* ``is_random=True`` draws from a ``random.Random`` owned by the API instance, seeded with
  ``create(..., seed=...)``; the global ``random`` module is never used;
* data is always loaded lazily (``fast_mode`` is accepted and reported, nothing else);
* bad queries raise :class:`~natsbench.errors.QueryError` naming the valid values;
* ``evaluated_indexes`` holds every architecture with a run (not only those touched).

Trained weights are not stored: ``get_net_param`` returns None per seed.
"""
from __future__ import annotations

import hashlib
import logging
import os
import random
import sys
from pathlib import Path
from typing import Any, Mapping, TextIO

import numpy as np

from natsbench.api.bench import Bench, seq_mean, sort_hps
from natsbench.api.evaluation import cache_root
from natsbench.api.results import ArchResultsView, MissingValue, RunData
from natsbench.datasets.specs import NATS_DATASETS, NATS_SET_SOURCES, nats_set_source
from natsbench.errors import QueryError, StoreError
from natsbench.store.manifest import MANIFEST_FILE
from natsbench.store.records import normalize_hp
from natsbench.spaces import NATS_SPACES, canonical_space

log = logging.getLogger(__name__)

_DEFAULT_ARCHIVES = {"tss": "NATS-tss-v1_0-3ffb9", "sss": "NATS-sss-v1_0-50262"}


class CompatRuns:
    """The runs behind one compat API object: its benchmark, a cache of loaded runs and the
    API's own random generator. It is the :class:`~natsbench.api.results.RunSource` the
    object's :class:`~natsbench.api.results.ArchResultsView` instances read through."""

    def __init__(self, bench: Bench, space: str, rng: random.Random) -> None:
        self.bench = bench
        self.space = space
        self.rng = rng
        self._runs: dict[tuple[int, str, str], list[RunData]] = {}

    def arch_str(self, index: int) -> str:
        """The architecture string of ``index``."""
        return self.bench.arch_strs[index]

    def choose(self, count: int) -> int:
        """A position in ``0..count-1`` drawn from the API's generator."""
        return self.rng.randrange(count)

    def datasets_of_hp(self, hp: str) -> list[str]:
        """Datasets with a group for ``hp`` (normalised), in the benchmark's order."""
        return [d for d, h in self.bench.reader.group_infos if h == hp]

    def has_runs(self, dataset: str, hp: str, index: int) -> bool:
        """Whether architecture ``index`` has at least one run on (``dataset``, ``hp``)."""
        g = self.bench.group(dataset, hp)
        row = g.row(index)
        return row >= 0 and bool(np.asarray(g.present[row]).any())

    def datasets_with_runs(self, index: int, hp: str) -> list[str]:
        """Datasets on which architecture ``index`` has runs with ``hp``."""
        return [d for d in self.datasets_of_hp(hp) if self.has_runs(d, hp, index)]

    def runs(self, index: int, dataset: str, hp: str) -> list[RunData]:
        """The runs (one per seed) of architecture ``index`` on (``dataset``, ``hp``), cached.

        Raises:
            QueryError: unknown dataset for ``hp``, or no run of ``index`` there.
        """
        key = (index, dataset, hp)
        runs = self._runs.get(key)
        if runs is not None:
            return runs
        try:
            g = self.bench.group(dataset, hp)
        except QueryError:
            valid = self.datasets_of_hp(hp)
            raise QueryError(f"unknown dataset {dataset!r} for hp {hp}; valid: {valid}") from None
        runs = RunData.load_all(g, index, self.bench.eval_sets(dataset), self.net_config(index, dataset))
        if not runs:
            raise QueryError(f"architecture {index} has no run on {dataset} with hp {hp}")
        self._runs[key] = runs
        return runs

    def net_config(self, index: int, dataset: str) -> dict[str, Any]:
        """The official ``get_net_config`` dict of architecture ``index`` for ``dataset``."""
        manifest = self.bench.manifest
        num_classes = manifest.datasets.get(dataset, {}).get("num_classes")
        cfg = manifest.net_config
        arch = self.bench.arch_strs[index]
        if self.space == "tss":
            return {"name": "infer.tiny", "C": cfg.get("channel", 16), "N": cfg.get("num_cells", 5),
                    "arch_str": arch, "num_classes": num_classes}
        return {"name": "infer.shape.tiny", "channels": arch,
                "genotype": cfg.get("genotype"), "num_classes": num_classes}


class _NATSBase:
    """Shared implementation of the topology and size APIs."""

    _space = ""
    _space_long = ""
    _full_epochs = 0

    def __init__(self, bench: Bench, *, filename: str | None = None, fast_mode: bool = False,
                 verbose: bool = True, seed: int | None = None, archive_dir: str | None = None) -> None:
        if bench.space != self._space:
            raise StoreError(f"{bench.path} holds the {bench.space!r} space, not {self._space!r}")
        self._bench = bench
        self.filename = filename
        self.verbose = verbose
        self._fast_mode = bool(fast_mode)
        self._archive_dir = archive_dir
        self._rng = random.Random(seed)
        self._used_time = 0.0
        self._views: dict[tuple[int, str], ArchResultsView] = {}
        self._source = CompatRuns(bench, self._space, self._rng)
        self._hp_cache: dict[Any, str] = {}
        self._evaluated: set[int] | None = None
        self._log("created %s API over %s (%d architectures)", self._space, bench.path, len(bench))

    # -- small helpers ---------------------------------------------------------------------
    def _log(self, msg: str, *args: Any) -> None:
        if self.verbose:
            log.info(msg, *args)

    def _hp(self, hp: int | str) -> str:
        key = hp
        try:
            return self._hp_cache[key]
        except (KeyError, TypeError):
            pass
        norm = normalize_hp(hp)
        if norm not in {h for _, h in self._bench.reader.group_infos}:
            raise QueryError(f"unknown hp {hp!r}; this benchmark has hps {self.avaliable_hps}")
        self._hp_cache[key] = norm
        return norm

    def _view(self, index: int, hp: int | str) -> ArchResultsView:
        hp = self._hp(hp)
        key = (index, hp)
        view = self._views.get(key)
        if view is None:
            if not any(self._source.has_runs(d, hp, index) for d in self._source.datasets_of_hp(hp)):
                raise QueryError(f"architecture {index} has no results with hp {hp}")
            view = ArchResultsView(self._source, index, hp)
            self._views[key] = view
        return view

    def _index(self, arch: Any) -> int:
        index = self.query_index_by_arch(arch)
        if index < 0:
            self._bench.index_of(arch if isinstance(arch, str) else getattr(arch, "tostr", lambda: arch)())
        return index

    # -- the official interface ------------------------------------------------------------
    @property
    def meta_archs(self) -> list[str]:
        return self._bench.arch_strs

    @property
    def bench(self) -> Bench:
        """The vectorized view of the same benchmark."""
        return self._bench

    @property
    def evaluated_indexes(self) -> set[int]:
        if self._evaluated is None:
            mask = np.zeros(len(self._bench), dtype=bool)
            for dataset, hp in self._bench.reader.group_infos:
                mask |= self._bench.evaluated(dataset, hp)
            self._evaluated = set(np.flatnonzero(mask).tolist())
        return self._evaluated

    @property
    def avaliable_hps(self) -> list[str]:  # (sic) official spelling
        return sort_hps({h for _, h in self._bench.reader.group_infos})

    @property
    def used_time(self) -> float:
        return self._used_time

    @property
    def search_space_name(self) -> str:
        return self._space_long

    @property
    def fast_mode(self) -> bool:
        return self._fast_mode

    @property
    def archive_dir(self) -> str | None:
        return self._archive_dir

    @property
    def full_train_epochs(self) -> int:
        return self._full_epochs

    @property
    def full_epochs_in_paper(self) -> int:
        return self._full_epochs

    def reset_archive_dir(self, archive_dir: str) -> None:
        self._archive_dir = archive_dir

    def reset_fast_mode(self, fast_mode: bool) -> None:
        self._fast_mode = bool(fast_mode)

    def reset_time(self) -> None:
        self._used_time = 0

    def __len__(self) -> int:
        return len(self._bench)

    def __getitem__(self, index: int) -> str:
        return self.meta_archs[index]

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({len(self.evaluated_indexes)}/{len(self)} architectures, "
                f"fast_mode={self._fast_mode}, file={self.filename})")

    def arch(self, index: int) -> str:
        """The architecture string of ``index``."""
        self._log("arch(%s)", index)
        if not isinstance(index, (int, np.integer)) or not 0 <= index < len(self):
            raise QueryError(f"invalid index {index!r}; valid: 0..{len(self) - 1}")
        return self.meta_archs[index]

    def random(self) -> int:
        """A random architecture index (from the API's own generator)."""
        return self._rng.randrange(len(self))

    def query_index_by_arch(self, arch: Any) -> int:
        """Index of an arch string / object with ``tostr()`` / index; -1 if not in the benchmark."""
        if isinstance(arch, (int, np.integer)) and not isinstance(arch, bool):
            if 0 <= arch < len(self):
                return int(arch)
            raise QueryError(f"invalid architecture index {arch}; valid: 0..{len(self) - 1}")
        if isinstance(arch, str):
            return self._bench.reader.arch_index.get(arch, -1)
        if hasattr(arch, "tostr"):
            return self._bench.reader.arch_index.get(arch.tostr(), -1)
        return -1

    def query_meta_info_by_index(self, arch_index: int, hp: int | str = "12") -> ArchResultsView:
        self._log("query_meta_info_by_index(%s, hp=%s)", arch_index, hp)
        return self._view(self._index(arch_index), hp)

    def query_by_index(self, arch_index: int, dataname: str | None = None, hp: int | str = "12"):
        """The results of one architecture (all datasets), or ``{seed: run}`` of one dataset."""
        self._log("query_by_index(%s, %s, hp=%s)", arch_index, dataname, hp)
        view = self._view(self._index(arch_index), hp)
        if dataname is None:
            return view
        if dataname not in view.get_dataset_names():
            raise QueryError(f"invalid dataset {dataname!r}; valid: {view.get_dataset_names()}")
        return view.query(dataname)

    def get_more_info(self, index: Any, dataset: str, iepoch: int | None = None,
                      hp: int | str = "12", is_random: bool | int = True) -> dict[str, Any]:
        """Metrics of one architecture after epoch ``iepoch`` (default: the last).

        Keys as in the official API: ``train-loss``, ``train-accuracy``, ``train-per-time``,
        ``train-all-time`` and ``valid-*``, ``test-*``, ``valtest-*`` where the dataset has
        those sets. Accuracies in percent, times in seconds.
        """
        if self.verbose:
            self._log("get_more_info(%s, %s, iepoch=%s, hp=%s, is_random=%s)", index, dataset, iepoch, hp, is_random)
        index = self._index(index)
        hp = self._hp(hp)
        runs = self._source.runs(index, dataset, hp)
        if is_random is True:
            runs = [runs[self._rng.randrange(len(runs))]]
            pick = True
        elif is_random is False:
            pick = False
        elif isinstance(is_random, int):
            runs = [r for r in runs if r.seed == is_random]
            if not runs:
                raise QueryError(f"seed {is_random} not run for arch {index} on {dataset} hp {hp}; "
                                 f"valid: {[r.seed for r in self._source.runs(index, dataset, hp)]}")
            pick = True
        else:
            raise QueryError(f"is_random must be True, False or a seed int, got {is_random!r}")
        e = runs[0].check_epoch(iepoch)
        total = e + 1
        if not pick:
            total = float(total)  # the official mean over seeds turns the epoch into a float
        info: dict[str, Any] = {}
        tl, ta, tc, tt = _combine([r.point("train", e) for r in runs])
        info["train-loss"], info["train-accuracy"] = tl, ta
        info["train-per-time"] = tt / total if tt is not None else None
        info["train-all-time"] = tt
        if dataset == "cifar10-valid":
            valid = _try_combine(runs, "x-valid", e)
            test = _try_combine(runs, "ori-test", e)
            valtest = None
            info["comment"] = _COMMENTS["cifar10-valid"].format(hp)
        else:
            if dataset == "cifar10":
                info["comment"] = _COMMENTS["cifar10"].format(hp)
                test = _try_combine(runs, "ori-test", e)
                valtest = None
            else:
                test = _try_combine(runs, "x-test", e)
                valtest = _try_combine(runs, "ori-test", e)
            valid = _try_combine(runs, "x-valid", e)
        for prefix, values in (("valid", valid), ("test", test), ("valtest", valtest)):
            if values is not None:
                loss, acc, _, all_time = values
                info[f"{prefix}-loss"] = loss
                info[f"{prefix}-accuracy"] = acc
                info[f"{prefix}-per-time"] = all_time / total if all_time is not None else None
                info[f"{prefix}-all-time"] = all_time
        return info

    def simulate_train_eval(self, arch: Any, dataset: str, iepoch: int | None = None,
                            hp: int | str = "12", account_time: bool = True) -> tuple[float, float, float, float]:
        """Pretend to train ``arch``: (validation accuracy, latency, time cost, total time used).

        CIFAR-10 reports the ``cifar10-valid`` x-valid accuracy; the time cost is the
        training time up to ``iepoch`` plus one validation pass. A random seed is drawn
        from the API's generator.
        """
        index = self._index(arch)
        if dataset not in NATS_SET_SOURCES:
            raise QueryError(f"invalid dataset {dataset!r}; valid: {list(NATS_SET_SOURCES)}")
        source = NATS_SET_SOURCES[dataset]["valid"][0]
        info = self.get_more_info(index, source, iepoch=iepoch, hp=hp, is_random=True)
        if "valid-accuracy" in info:
            valid_acc = info["valid-accuracy"]
            time_cost = info["train-all-time"] + info["valid-per-time"]
        else:
            valid_acc = info["valtest-accuracy"]
            last = self.get_more_info(index, dataset, iepoch=None, hp=hp, is_random=True)
            time_cost = info["train-all-time"] + last["valid-per-time"]
        latency = self.get_latency(index, dataset, hp=hp)
        if account_time:
            self._used_time += time_cost
        return valid_acc, latency, time_cost, self._used_time

    def get_cost_info(self, index: Any, dataset: str, hp: int | str = "12") -> dict[str, float | None]:
        """FLOPs (M), params (M), latency (s) and per-epoch/total train and eval times."""
        self._log("get_cost_info(%s, %s, hp=%s)", index, dataset, hp)
        return self._view(self._index(index), hp).get_compute_costs(dataset)

    def get_latency(self, index: Any, dataset: str, hp: int | str = "12") -> float | None:
        """Mean measured latency (seconds) over the seeds that recorded one (None if none did).

        Reads only the cost array (not the per-epoch metrics); equals
        ``get_cost_info(...)["latency"]``.
        """
        index, hp = self._index(index), self._hp(hp)
        try:
            g = self._bench.group(dataset, hp)
        except QueryError:
            raise QueryError(f"unknown dataset {dataset!r} for hp {hp}; valid: {self._source.datasets_of_hp(hp)}") from None
        row = g.row(index)
        if row < 0 or not np.asarray(g.present[row]).any():
            raise QueryError(f"architecture {index} has no run on {dataset} with hp {hp}")
        lats = [lat for ok, lat in zip(np.asarray(g.present[row]).tolist(), np.asarray(g.costs[row, :, 2]).tolist())
                if ok and lat > 0]  # NaN (not measured) compares False
        return sum(lats) / len(lats) if lats else None

    def get_net_config(self, index: Any, dataset: str) -> dict[str, Any]:
        """The network configuration to build the ``index``-th architecture for ``dataset``."""
        index = self._index(index)
        if dataset not in self._bench.manifest.datasets:
            raise QueryError(f"invalid dataset {dataset!r}; valid: {list(self._bench.manifest.datasets)}")
        return self._source.net_config(index, dataset)

    def get_net_param(self, index: Any, dataset: str, seed: int | None, hp: int | str = "12"):
        """Trained weights are not stored in natsbench benchmarks (None per seed)."""
        return self._view(self._index(index), hp).get_net_param(dataset, seed)

    def clear_params(self, index: int, hp: int | str | None = None) -> None:
        """No-op: weights are never loaded."""

    def reload(self, archive_root: str | None = None, index: int | None = None) -> None:
        """No-op: results are read lazily from the benchmark."""

    def find_best(self, dataset: str, metric_on_set: str, flop_max: float | None = None,
                  param_max: float | None = None, hp: int | str = "12",
                  enforce_all: bool | None = None) -> tuple[int, float | None]:
        """The architecture with the highest mean accuracy on a set, under cost limits.

        Returns ``(index, accuracy)``; ``(-1, None)`` when nothing qualifies. Vectorized over
        the benchmark's arrays; ties go to the lowest index (as in the official loop).
        """
        self._log("find_best(%s, %s, flop_max=%s, param_max=%s, hp=%s)", dataset, metric_on_set, flop_max, param_max, hp)
        hp = self._hp(hp)
        dataset, set_name = nats_set_source(dataset, metric_on_set)
        bench = self._bench
        metric = "train_acc1" if set_name == "train" else f"{set_name}_acc1"
        g = bench.group(dataset, hp)
        if metric not in g.metric_pos:
            raise QueryError(f"set {metric_on_set!r} is not recorded for {dataset}; valid: "
                             f"{['train', *bench.eval_sets(dataset)]}")
        present = g.gather(g.present, slice(None), fill=False)
        acc = bench.metric(dataset, hp, metric)
        ok = present.any(axis=1) & ~np.isnan(acc)
        if flop_max is not None or param_max is not None:
            costs = g.gather(g.costs, slice(None))
            for name, limit, col in (("flops", flop_max, 1), ("params", param_max, 0)):
                if limit is None:
                    continue
                values = seq_mean(costs[:, :, col], present, axis=1)
                disagree = np.flatnonzero(ok & (np.nanmax(np.where(present, costs[:, :, col], -np.inf), axis=1)
                                                != np.nanmin(np.where(present, costs[:, :, col], np.inf), axis=1)))
                for a in disagree:  # rare: apply the official legacy rule exactly
                    values[a] = self._view(int(a), hp).get_compute_costs(dataset)[name]
                ok &= values <= limit
        if not ok.any():
            return -1, None
        best = int(np.flatnonzero(ok)[np.argmax(acc[ok])])
        return best, float(acc[best])

    def statistics(self, dataset: str, hp: int | str) -> dict[int, int]:
        """How many evaluated architectures have 0, 1, 2 ... seeds on ``dataset``."""
        if dataset not in NATS_DATASETS and dataset not in self._bench.manifest.datasets:
            raise QueryError(f"{dataset!r} not in {list(self._bench.manifest.datasets)}")
        hp = self._hp(hp)
        evaluated = np.zeros(len(self), dtype=bool)
        evaluated[list(self.evaluated_indexes)] = True
        try:
            g = self._bench.group(dataset, hp)
            counts = g.gather(g.present, slice(None), fill=False).sum(axis=1)
        except QueryError:
            counts = np.zeros(len(self), dtype=np.int64)
        values, freq = np.unique(counts[evaluated], return_counts=True)
        return {int(v): int(f) for v, f in zip(values, freq)}

    # -- textual views ---------------------------------------------------------------------
    def _info_strings(self, view: ArchResultsView, extra: str | None = None) -> list[str]:
        names = view.get_dataset_names()
        lines = [view.arch_str, f"datasets : {names}, extra-info : {extra}"]

        def fmt(loss: float, acc: float) -> str:
            return f"loss = {loss:.3f} & top1 = {acc:.2f}%"

        for dataset in names:
            cost = view.get_compute_costs(dataset)
            lat = cost["latency"]
            lat_text = f"{lat * 1000:.2f}" if lat is not None and lat > 0 else None
            lines.append(f"{dataset:14s} FLOP={cost['flops']:6.2f} M, Params={cost['params']:.3f} MB, latency={lat_text} ms.")
            tr = view.get_metrics(dataset, "train")
            parts = [f"train : [{fmt(tr['loss'], tr['accuracy'])}]"]
            for label, set_name in self._show_sets(dataset):
                try:
                    m = view.get_metrics(dataset, set_name)
                except (MissingValue, QueryError):
                    continue
                parts.append(f"{label} : [{fmt(m['loss'], m['accuracy'])}]")
            lines.append(f"{dataset:14s} " + ", ".join(parts))
        return lines

    def _show_sets(self, dataset: str) -> list[tuple[str, str]]:
        if dataset == "cifar10-valid":
            return [("valid", "x-valid")]
        if dataset == "cifar10":
            return [("test ", "ori-test")]
        return [("valid", "x-valid"), ("test", "x-test")]

    def query_info_str_by_arch(self, arch: Any, hp: int | str = "12") -> str:
        """A human-readable summary of one architecture's results."""
        index = self._index(arch)
        return "\n".join(self._info_strings(self._view(index, hp), f"arch-index={index}"))

    def query_by_arch(self, arch: Any, hp: int | str) -> str:
        return self.query_info_str_by_arch(arch, hp)

    def show(self, index: int = -1, file: TextIO | None = None) -> None:
        """Write the results of one architecture (or, with index < 0, of all) to ``file``."""
        out = file or sys.stdout
        indices = sorted(self.evaluated_indexes) if index < 0 else [self._index(index)]
        for idx in indices:
            print(f"arch : {self.meta_archs[idx]}", file=out)
            for hp in self.avaliable_hps:
                try:
                    view = self._view(idx, hp)
                except QueryError:
                    continue
                print(">" * 40 + f" {view.get_total_epoch():03d} epochs " + ">" * 40, file=out)
                print("\n".join(self._info_strings(view)), file=out)
            print("<" * 40 + "------------" + "<" * 40, file=out)


def _combine(points: list[tuple]) -> tuple:
    if len(points) == 1:
        return points[0]
    out = []
    for k in range(4):
        values = [p[k] for p in points]
        out.append(sum(values) / len(values) if values[0] is not None else None)
    return tuple(out)


def _try_combine(runs: list[RunData], set_name: str, epoch: int) -> tuple | None:
    try:
        return _combine([r.point(set_name, epoch) for r in runs])
    except (MissingValue, KeyError):
        return None


_COMMENTS = {
    "cifar10-valid": ("In this dict, train-loss/accuracy/time is the metric on the train set of CIFAR-10. "
                      "The test-loss/accuracy/time is the performance of the CIFAR-10 test set after "
                      "training on the train set by {:} epochs. The per-time and total-time indicate the "
                      "per epoch and total time costs, respectively."),
    "cifar10": ("In this dict, train-loss/accuracy/time is the metric on the train+valid sets of "
                "CIFAR-10. The test-loss/accuracy/time is the performance of the CIFAR-10 test set "
                "after training on the train+valid sets by {:} epochs. The per-time and total-time "
                "indicate the per epoch and total time costs, respectively."),
}


class NATStopology(_NATSBase):
    """The topology search space (tss) API."""

    _space, _space_long, _full_epochs = "tss", "topology", 200
    is_size = False
    is_topology = True

    def get_unique_str(self, arch: Any) -> str:
        """An isomorphism-invariant key of the cell (equal for isomorphic cells)."""
        from natsbench.spaces import tss

        return tss.iso_key(self.meta_archs[self._index(arch)])

    @staticmethod
    def str2lists(arch_str: str) -> list[tuple[tuple[str, int], ...]]:
        """Per node (1..3), the ``(op, input_node)`` pairs of its incoming edges."""
        from natsbench.spaces import tss

        ops = tss.parse(arch_str)
        nodes: list[list[tuple[str, int]]] = [[] for _ in range(3)]
        for (to, frm), op in zip(tss.EDGES, ops):
            nodes[to - 1].append((op, frm))
        return [tuple(n) for n in nodes]

    @staticmethod
    def str2matrix(arch_str: str, search_space: tuple[str, ...] | None = None) -> np.ndarray:
        """4x4 matrix: entry [to, from] is the op index of that edge (0 = none)."""
        from natsbench.spaces import tss

        space = tuple(search_space) if search_space is not None else tss.OPS
        matrix = np.zeros((4, 4))
        for (to, frm), op in zip(tss.EDGES, tss.parse(arch_str)):
            if op not in space:
                raise QueryError(f"op {op!r} not in {list(space)}")
            matrix[to, frm] = space.index(op)
        return matrix


class NATSsize(_NATSBase):
    """The size search space (sss) API."""

    _space, _space_long, _full_epochs = "sss", "size", 90
    is_size = True
    is_topology = False


# -- construction ----------------------------------------------------------------------------

def _archive_fingerprint(src: Path) -> str:
    h = hashlib.sha1(str(src.resolve()).encode())
    files = sorted(src.iterdir()) if src.is_dir() else [src]
    for f in files:
        st = f.stat()
        h.update(f"{f.name}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:20]


def open_as_bench(source: str | os.PathLike, space: str | None = None, progress: bool = False) -> Bench:
    """Open a natsbench benchmark, or import an official archive (cached) and open that.

    The import runs in this process (``workers=1``): a process pool would re-run the caller's
    script in every spawned worker (``natsbench.create`` is often called at a script's top level,
    without a ``__main__`` guard). ``natsbench import-official`` uses the pool.
    """
    from natsbench.store.official import META_FILE, import_official

    src = Path(source)
    if (src / MANIFEST_FILE).is_file():
        return Bench(src)
    if not src.exists():
        raise StoreError(f"{src} is neither a natsbench benchmark nor an official archive: it does not exist")
    if src.is_dir() and not (src / META_FILE).is_file():
        raise StoreError(f"{src} is neither a natsbench benchmark ({MANIFEST_FILE}) nor an official "
                         f"fast-mode archive ({META_FILE})")
    target = cache_root() / "imports" / _archive_fingerprint(src)
    if not (target / MANIFEST_FILE).is_file():
        log.info("importing official archive %s into %s", src, target)
        import_official(src, target, space=space, overwrite=True, progress=progress, workers=1)
    return Bench(target)


def create(file_path_or_dict: Any, search_space: str, fast_mode: bool = False,
           verbose: bool = True, seed: int | None = None) -> _NATSBase:
    """Drop-in for ``nats_bench.create``; see :func:`natsbench.create`."""
    space = canonical_space(search_space, NATS_SPACES)
    cls = NATStopology if space == "tss" else NATSsize
    if file_path_or_dict is None:
        home = Path(os.environ.get("TORCH_HOME", Path.home() / ".torch"))
        base = _DEFAULT_ARCHIVES[space]
        file_path_or_dict = home / (f"{base}-simple" if fast_mode else f"{base}.pickle.pbz2")
    if isinstance(file_path_or_dict, Mapping):  # imported into a temporary benchmark
        import shutil
        import tempfile
        import weakref

        from natsbench.store.official import import_official_dict

        tmp = Path(tempfile.mkdtemp(prefix="natsbench-dict-"))
        try:
            import_official_dict(file_path_or_dict, tmp / "bench", space=space)
            api = cls(Bench(tmp / "bench"), filename=None, fast_mode=fast_mode, verbose=verbose, seed=seed)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        weakref.finalize(api, shutil.rmtree, tmp, True)  # removed with the API object (or at exit)
        return api
    src = Path(file_path_or_dict)
    bench = open_as_bench(src, space=space)
    return cls(bench, filename=src.name, fast_mode=fast_mode, verbose=verbose, seed=seed,
               archive_dir=str(src) if src.is_dir() else None)

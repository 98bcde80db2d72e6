"""Per-architecture result views with the official ``ArchResults``/``ResultsCount`` interface.

The compatibility API returns these where ``nats_bench`` returns its result objects. They
read a benchmark's dense arrays: on first touch of an (architecture, dataset, hp) the runs'
rows are converted once to Python lists and cumulative times (summed left to right, so the
numbers equal the official ``sum`` bit for bit); later queries are list lookups.
"""
from __future__ import annotations

import math
from functools import lru_cache
from typing import Any, Protocol

import numpy as np

from natsbench.errors import QueryError
from natsbench.store.reader import GroupArrays
from natsbench.store.layout import cumulative_times, time_columns
from natsbench.store.records import COST_NAMES

_nan = math.nan


class MissingValue(KeyError):
    """A value the run did not record (the official API raises KeyError/ValueError here)."""


def _isnan(x: float) -> bool:
    return x != x


def _time_columns(info: Any) -> tuple[list[int], dict[str, int]]:
    """Positions of the ``*_time`` metrics, and each one's column in the cumulative array."""
    return _time_columns_of(tuple(info.metrics))


@lru_cache(maxsize=64)
def _time_columns_of(metrics: tuple[str, ...]) -> tuple[list[int], dict[str, int]]:
    cols = time_columns(metrics)
    return cols, {metrics[k]: j for j, k in enumerate(cols)}


class RunData:
    """One run (architecture, dataset, hp, seed): the official ``ResultsCount`` interface.

    Holds the run's ``[epoch, metric]`` block and its cumulative times (``np.cumsum`` adds
    left to right, like the official ``sum``); rows are turned into Python floats once per
    epoch queried.
    """

    __slots__ = ("dataset", "seed", "epochs", "costs", "net_config", "_block", "_cum", "_mpos",
                 "_tpos", "_rows", "_eval_sets", "_eval_names", "has_train_time", "has_eval_times")

    def __init__(self, info: Any, seed: int, block: np.ndarray, cum: np.ndarray,
                 time_pos: dict[str, int], metric_pos: dict[str, int], costs: list[float],
                 eval_sets: list[str], net_config: dict[str, Any]) -> None:
        self.dataset = info.dataset
        self.seed = seed
        self.epochs = info.epochs
        self._block = block
        self._cum = cum
        self._mpos = metric_pos
        self._tpos = time_pos
        self._rows: dict[int, tuple[list[float], list[float]]] = {}
        self._eval_sets = eval_sets
        self._eval_names: list[str] | None = None
        self.costs = costs
        self.net_config = net_config
        last = cum[-1].tolist() if len(cum) else [_nan] * len(time_pos)
        timed = [name for name, j in time_pos.items() if not _isnan(last[j]) or self._recorded(name)]
        self.has_train_time = "train_time" in timed
        self.has_eval_times = any(name != "train_time" for name in timed)

    def _recorded(self, name: str) -> bool:
        """The metric has at least one value in this run."""
        ti = self._tpos.get(name)
        if ti is not None and self.epochs and not _isnan(float(self._cum[-1, ti])):
            return True  # a finite total means every epoch was recorded
        k = self._mpos.get(name)
        return k is not None and bool((~np.isnan(self._block[:, k])).any())

    @property
    def eval_names(self) -> list[str]:
        """The evaluation sets this run recorded anything on."""
        if self._eval_names is None:
            self._eval_names = [s for s in self._eval_sets
                                if any(self._recorded(f"{s}_{q}") for q in ("time", "acc1", "loss"))]
        return self._eval_names

    @classmethod
    def load_all(cls, g: GroupArrays, arch: int, eval_sets: list[str],
                 net_config: dict[str, Any]) -> list["RunData"]:
        """The runs of every seed that ran ``arch`` (views into the arrays when the benchmark
        has its ``cumtime`` index, else one copy of the arch's rows)."""
        row = g.row(arch)
        if row < 0:
            return []
        seeds = [s for s, ok in enumerate(g.present[row].tolist()) if ok]
        if not seeds:
            return []
        info = g.info
        time_cols, time_pos = _time_columns(info)
        if g.cumtime is not None:  # views: only the pages a query reads are touched
            block, cum = g.metrics[row], g.cumtime[row]
        else:
            block = np.array(g.metrics[row], dtype=np.float64)  # [S, E, M]
            cum = cumulative_times(block, info.metrics)  # left to right, like the official sum
        costs = g.costs[row].tolist()
        return [cls(info, info.seeds[s], block[s], cum[s], time_pos, g.metric_pos,
                    costs[s], eval_sets, net_config) for s in seeds]

    def _row(self, epoch: int) -> tuple[list[float], list[float]]:
        row = self._rows.get(epoch)
        if row is None:
            row = (self._block[epoch].tolist(), self._cum[epoch].tolist())
            self._rows[epoch] = row
        return row

    @property
    def series(self) -> dict[str, list[float]]:
        """metric name -> per-epoch values (NaN where absent)."""
        return {name: self._block[:, k].tolist() for name, k in self._mpos.items()}

    # -- low-level point lookups (tuples: loss, accuracy, cur_time, all_time) ------------
    def point(self, setname: str, epoch: int) -> tuple[float, float, float | None, float | None]:
        """Loss, accuracy, epoch time and cumulative time of one set at one epoch."""
        vals, cums = self._row(epoch)
        mpos = self._mpos
        if setname == "train":
            li, ai = mpos.get("train_loss"), mpos.get("train_acc1")
            if li is None or ai is None or _isnan(vals[li]) or _isnan(vals[ai]):
                raise MissingValue(f"train@{epoch}")
            if self.has_train_time:
                return vals[li], vals[ai], vals[mpos["train_time"]], cums[self._tpos["train_time"]]
            return vals[li], vals[ai], None, None
        name = "x-valid" if setname == "valid" else setname
        if self.has_eval_times:
            key = f"{name}_time"
            ti = self._tpos.get(key)
            if ti is None or _isnan(cums[ti]):
                raise MissingValue(f"{name}@{epoch}")
            cur, total = vals[mpos[key]], cums[ti]
        else:
            cur = total = None
        li, ai = mpos.get(f"{name}_loss"), mpos.get(f"{name}_acc1")
        if li is None or ai is None or _isnan(vals[li]) or _isnan(vals[ai]):
            raise MissingValue(f"{name}@{epoch}")
        return vals[li], vals[ai], cur, total

    def check_epoch(self, iepoch: int | None) -> int:
        if iepoch is None:
            return self.epochs - 1
        if not isinstance(iepoch, int) or isinstance(iepoch, bool) or not 0 <= iepoch < self.epochs:
            raise QueryError(f"epoch {iepoch!r} beyond the run: {self.dataset} runs have epochs "
                             f"0..{self.epochs - 1}")
        return iepoch

    # -- the official ResultsCount interface ----------------------------------------------
    def get_train(self, iepoch: int | None = None) -> dict[str, Any]:
        e = self.check_epoch(iepoch)
        loss, acc, cur, total = self.point("train", e)
        return {"iepoch": e, "loss": loss, "accuracy": acc, "cur_time": cur, "all_time": total}

    def get_eval(self, name: str, iepoch: int | None = None) -> dict[str, Any]:
        e = self.check_epoch(iepoch)
        loss, acc, cur, total = self.point(name, e)
        return {"iepoch": e, "loss": loss, "accuracy": acc, "cur_time": cur, "all_time": total}

    def get_times(self) -> dict[str, float | None]:
        info: dict[str, float | None] = {}
        last = self._cum[-1].tolist() if self.epochs else []
        if self.has_train_time:
            total = last[self._tpos["train_time"]]
            info["T-train@epoch"] = total / self.epochs
            info["T-train@total"] = total
        else:
            info["T-train@epoch"] = info["T-train@total"] = None
        for name in self.eval_names:
            ti = self._tpos.get(f"{name}_time")
            if ti is None or _isnan(last[ti]):
                info[f"T-{name}@epoch"] = info[f"T-{name}@total"] = None
            else:
                info[f"T-{name}@epoch"] = last[ti] / self.epochs
                info[f"T-{name}@total"] = last[ti]
        return info

    def get_latency(self) -> float:
        lat = self.costs[COST_NAMES.index("latency")]
        return -1.0 if _isnan(lat) else lat

    @property
    def params(self) -> float:
        return self.costs[0]

    @property
    def flop(self) -> float:
        return self.costs[1]

    @property
    def latency(self) -> list[float] | None:
        lat = self.costs[2]
        return None if _isnan(lat) else [lat]

    @property
    def name(self) -> str:
        return self.dataset

    def get_total_epoch(self) -> int:
        return self.epochs

    def get_eval_set(self) -> list[str]:
        return list(self.eval_names)

    def get_net_param(self, clone: bool = False) -> None:
        """Trained weights are not stored in natsbench benchmarks: always None."""
        return None

    def get_config(self, str2structure: Any = None) -> dict[str, Any]:
        cfg = dict(self.net_config)
        if str2structure is not None and "genotype" in cfg:
            cfg["genotype"] = str2structure(cfg["genotype"])
        elif str2structure is not None and "arch_str" in cfg:
            cfg["genotype"] = str2structure(cfg.pop("arch_str"))
        return cfg

    def _epoch_dict(self, name: str) -> dict[int, float]:
        k = self._mpos.get(name)
        if k is None:
            return {}
        values = self._block[:, k].tolist()
        return {e: v for e, v in enumerate(values) if not _isnan(v)}

    def _eval_dict(self, quantity: str) -> dict[str, float]:
        out = {}
        for set_name in self.eval_names:
            k = self._mpos.get(f"{set_name}_{quantity}")
            for e, v in enumerate(self._block[:, k].tolist() if k is not None else []):
                if not _isnan(v):
                    out[f"{set_name}@{e}"] = v
        return out

    train_acc1es = property(lambda self: self._epoch_dict("train_acc1"))
    train_acc5es = property(lambda self: self._epoch_dict("train_acc5") or None)
    train_losses = property(lambda self: self._epoch_dict("train_loss"))
    train_times = property(lambda self: self._epoch_dict("train_time") if self.has_train_time else None)
    eval_acc1es = property(lambda self: self._eval_dict("acc1"))
    eval_losses = property(lambda self: self._eval_dict("loss"))
    eval_times = property(lambda self: self._eval_dict("time"))

    def __repr__(self) -> str:
        return (f"ResultsCount({self.dataset}, seed={self.seed}, epochs={self.epochs}, "
                f"FLOP={self.flop:.2f}M, Param={self.params:.3f}MB, eval-sets={self.eval_names})")


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


class RunSource(Protocol):
    """What an :class:`ArchResultsView` reads its runs through (the compat API's
    :class:`~natsbench.api.compat.CompatRuns`). ``hp`` is always normalised (``"12"``)."""

    def arch_str(self, index: int) -> str:
        """The architecture string of ``index``."""

    def datasets_with_runs(self, index: int, hp: str) -> list[str]:
        """Datasets on which architecture ``index`` has runs with ``hp``."""

    def runs(self, index: int, dataset: str, hp: str) -> list[RunData]:
        """The runs (one per seed) of ``index`` on (``dataset``, ``hp``); QueryError if none."""

    def choose(self, count: int) -> int:
        """A position in ``0..count-1`` from the API's own random generator."""


class ArchResultsView:
    """All runs of one architecture for one hp (the official ``ArchResults`` interface)."""

    def __init__(self, source: RunSource, index: int, hp: str) -> None:
        self._source = source
        self.arch_index = index
        self.arch_str = source.arch_str(index)
        self.hp = hp
        self._runs: dict[str, list[RunData]] = {}
        self.clear_net_done = True

    # -- runs ------------------------------------------------------------------------------
    @property
    def dataset_seed(self) -> dict[str, list[int]]:
        return {d: [r.seed for r in self.runs(d)] for d in self.get_dataset_names()}

    def get_dataset_names(self) -> list[str]:
        return self._source.datasets_with_runs(self.arch_index, self.hp)

    def runs(self, dataset: str) -> list[RunData]:
        runs = self._runs.get(dataset)
        if runs is None:
            runs = self._source.runs(self.arch_index, dataset, self.hp)
            self._runs[dataset] = runs
        return runs

    def get_dataset_seeds(self, dataset: str) -> list[int]:
        return [r.seed for r in self.runs(dataset)]

    def query(self, dataset: str, seed: int | None = None):
        runs = self.runs(dataset)
        if seed is None:
            return {r.seed: r for r in runs}
        for r in runs:
            if r.seed == seed:
                return r
        raise QueryError(f"seed {seed!r} not run for {dataset} hp {self.hp}; valid: "
                         f"{[r.seed for r in runs]}")

    @property
    def all_results(self) -> dict[tuple[str, int], RunData]:
        return {(d, r.seed): r for d in self.get_dataset_names() for r in self.runs(d)}

    # -- the official ArchResults interface ------------------------------------------------
    def get_compute_costs(self, dataset: str) -> dict[str, float | None]:
        runs = self.runs(dataset)
        seeds = [r.seed for r in runs]

        def legacy_fix(raw: list[float]) -> list[float]:
            # official v1.6: inconsistent params/FLOPs across seeds -> take seed 888's value
            if len(raw) > 1 and len({f"{x:.5f}" for x in raw}) > 1:
                if 888 not in seeds:
                    raise QueryError(f"inconsistent costs across seeds {seeds} and no seed 888 "
                                     f"to resolve them ({dataset}, arch {self.arch_index})")
                return [raw[seeds.index(888)]]
            return raw

        flops = legacy_fix([r.flop for r in runs])
        params = legacy_fix([r.params for r in runs])
        latencies = [x for x in (r.get_latency() for r in runs) if x > 0]
        info: dict[str, float | None] = {
            "flops": _mean(flops), "params": _mean(params),
            "latency": _mean(latencies) if latencies else None,
        }
        collected: dict[str, list] = {}
        for r in runs:
            for key, value in r.get_times().items():
                collected.setdefault(key, []).append(value)
        for key, values in collected.items():
            info[key] = _mean(values) if values and values[0] is not None else None
        return info

    def get_metrics(self, dataset: str, setname: str, iepoch: int | None = None,
                    is_random: bool | int = False) -> dict[str, Any]:
        runs = self.runs(dataset)
        if isinstance(is_random, bool) and is_random:
            runs = [runs[self._source.choose(len(runs))]]
        elif isinstance(is_random, int) and not isinstance(is_random, bool):
            match = [r for r in runs if r.seed == is_random]
            if not match:
                raise QueryError(f"seed {is_random} not run for {dataset} hp {self.hp}; "
                                 f"valid: {[r.seed for r in runs]}")
            runs = match
        elif is_random is not False:
            raise QueryError(f"is_random must be True, False or a seed int, got {is_random!r}")
        infos = [r.get_train(iepoch) if setname == "train" else r.get_eval(setname, iepoch) for r in runs]
        if len(infos) == 1 and is_random is not False:
            return infos[0]
        out = {}
        for key in infos[0]:
            values = [i[key] for i in infos]
            out[key] = _mean(values) if values[0] is not None else None
        return out

    def get_latency(self, dataset: str) -> float:
        lats = []
        for r in self.runs(dataset):
            lat = r.get_latency()
            if lat <= 0:
                raise QueryError(f"no latency recorded for {dataset} seed {r.seed}")
            lats.append(lat)
        return _mean(lats)

    def get_total_epoch(self, dataset: str | None = None) -> int:
        datasets = [dataset] if dataset is not None else self.get_dataset_names()
        epochs = {r.epochs for d in datasets for r in self.runs(d)}
        if len(epochs) != 1:
            raise QueryError(f"runs have different epoch counts {sorted(epochs)}")
        return epochs.pop()

    def get_net_param(self, dataset: str, seed: int | None = None):
        """Trained weights are not stored: None (or ``{seed: None}`` for all seeds)."""
        if seed is None:
            return {r.seed: None for r in self.runs(dataset)}
        self.query(dataset, seed)
        return None

    def arch_idx_str(self) -> str:
        return f"{self.arch_index:06d}"

    def clear_params(self) -> None:
        """No-op: weights are never loaded."""

    def __repr__(self) -> str:
        n = sum(len(self.runs(d)) for d in self.get_dataset_names())
        return f"ArchResults(arch-index={self.arch_index}, arch={self.arch_str}, {n} runs, clear=True)"

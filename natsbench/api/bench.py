"""Vectorized queries over a benchmark: numpy arrays in, numpy arrays / DataFrames out.

``Bench`` is the analysis and search-algorithm view of a benchmark directory. Queries take
integer index arrays and return arrays; ``table`` returns a tidy pandas DataFrame. Arrays
are memory-mapped and touched lazily per (dataset, hp).

Example::

    bench = natsbench.open_bench("my-bench")
    acc = bench.metric("cifar100", "200", "x-test_acc1")            # [n_archs], seed mean, last epoch
    acc = bench.metric("cifar100", 200, "x-valid_acc1", archs=[0, 5], seed="all", epoch="all")  # [2, S, E]
    df = bench.table("cifar10", "200", metrics=["ori-test_acc1"])  # one row per arch
"""
from __future__ import annotations

import os
from typing import Any, Iterable, Sequence

import numpy as np

from natsbench.errors import QueryError
from natsbench.store.reader import GroupArrays, StoreReader
from natsbench.store.records import COST_NAMES, normalize_hp

SeedSpec = None | int | str
EpochSpec = None | int | str | slice


def seq_mean(values: np.ndarray, mask: np.ndarray, axis: int = 1) -> np.ndarray:
    """Mean over ``axis`` of the entries where ``mask`` is True, summed in index order.

    The summation order is left to right (like Python's ``sum``), so results equal the
    official API's ``sum(xs) / len(xs)`` bit for bit in float64. Entries with no True mask
    give NaN.

    Args:
        values: array whose ``axis`` is reduced.
        mask: bool array broadcastable to ``values`` over the leading dims up to ``axis``.
    """
    values = np.moveaxis(np.asarray(values, dtype=np.float64), axis, 0)
    mask = np.moveaxis(np.asarray(mask), axis, 0)
    extra = values.ndim - mask.ndim
    mask = mask.reshape(mask.shape + (1,) * extra)
    total = np.zeros(values.shape[1:], dtype=np.float64)
    count = np.zeros(mask.shape[1:], dtype=np.int64)
    for k in range(values.shape[0]):
        m = mask[k]
        total = np.where(m, total + values[k], total)
        count = count + m
    with np.errstate(invalid="ignore", divide="ignore"):
        out = total / count
    return np.where(count > 0, out, np.nan)


def sort_hps(hps: Iterable[str]) -> list[str]:
    """Training-length tags in training order: numeric tags by length, then named ones."""
    return sorted(hps, key=lambda h: (not h.isdigit(), int(h) if h.isdigit() else 0, h))


class Bench:
    """Vectorized, read-only access to one benchmark directory."""

    def __init__(self, path: str | os.PathLike) -> None:
        self._reader = StoreReader(path)

    # -- description ---------------------------------------------------------------------
    @property
    def path(self):
        return self._reader.path

    @property
    def reader(self) -> StoreReader:
        return self._reader

    @property
    def manifest(self):
        return self._reader.manifest

    @property
    def space(self) -> str:
        return self._reader.manifest.space

    @property
    def provenance(self) -> dict[str, Any]:
        return dict(self._reader.manifest.provenance)

    @property
    def arch_strs(self) -> list[str]:
        return self._reader.arch_strs

    def __len__(self) -> int:
        return self._reader.num_archs

    def __repr__(self) -> str:
        return (f"Bench(space={self.space!r}, archs={len(self)}, datasets={self.datasets}, "
                f"path={str(self.path)!r})")

    @property
    def datasets(self) -> list[str]:
        seen: list[str] = []
        for dataset, _ in self._reader.group_infos:
            if dataset not in seen:
                seen.append(dataset)
        return seen

    def hps(self, dataset: str) -> list[str]:
        hps = [h for d, h in self._reader.group_infos if d == dataset]
        if not hps:
            raise QueryError(f"unknown dataset {dataset!r}; this benchmark has {self.datasets}")
        return sort_hps(hps)

    def seeds(self, dataset: str, hp: int | str) -> list[int]:
        return list(self._reader.group_info(dataset, hp).seeds)

    def epochs(self, dataset: str, hp: int | str) -> int:
        return self._reader.group_info(dataset, hp).epochs

    def metric_names(self, dataset: str, hp: int | str) -> list[str]:
        return list(self._reader.group_info(dataset, hp).metrics)

    def eval_sets(self, dataset: str) -> list[str]:
        info = self._reader.manifest.datasets.get(dataset)
        if info is None:
            raise QueryError(f"unknown dataset {dataset!r}; this benchmark has {self.datasets}")
        return list(info.get("eval_sets", []))

    def group(self, dataset: str, hp: int | str) -> GroupArrays:
        """The raw arrays of a (dataset, hp) group (see :class:`GroupArrays`)."""
        return self._reader.group(dataset, hp)

    # -- architectures -------------------------------------------------------------------
    def index_of(self, arch: int | str) -> int:
        """Index of an architecture given as index or arch string (errors name valid values)."""
        if isinstance(arch, (int, np.integer)) and not isinstance(arch, bool):
            if 0 <= arch < len(self):
                return int(arch)
            raise QueryError(f"architecture index {arch} out of range; valid: 0..{len(self) - 1}")
        if isinstance(arch, str):
            index = self._reader.arch_index.get(arch)
            if index is not None:
                return index
            from natsbench.spaces import get_space

            try:
                get_space(self.space, **self.manifest.net_config.get("space_options", {})).validate(arch)
            except (KeyError, ValueError) as exc:
                raise QueryError(f"malformed {self.space} architecture {arch!r}: {exc}") from None
            raise QueryError(f"architecture {arch!r} is a valid {self.space} arch but not in this "
                             f"benchmark ({len(self)} archs)")
        raise QueryError(f"an architecture is an int index or an arch string, got {type(arch).__name__}")

    def indices_of(self, archs: Iterable[int | str]) -> np.ndarray:
        return np.fromiter((self.index_of(a) for a in archs), dtype=np.int64)

    def _arch_index_array(self, archs: Any) -> np.ndarray | slice:
        if archs is None:
            return slice(None)
        if isinstance(archs, (int, np.integer, str)):
            return np.array([self.index_of(archs)])
        arr = np.asarray(archs)
        if arr.dtype.kind in "iu":
            if arr.size and (arr.min() < 0 or arr.max() >= len(self)):
                bad = arr[(arr < 0) | (arr >= len(self))][:5].tolist()
                raise QueryError(f"architecture indices {bad} out of range; valid: 0..{len(self) - 1}")
            return arr.astype(np.int64, copy=False)
        return self.indices_of(archs)

    # -- vectorized metric queries -------------------------------------------------------
    def _metric_pos(self, g: GroupArrays, metric: str) -> int:
        try:
            return g.metric_pos[metric]
        except KeyError:
            raise QueryError(f"unknown metric {metric!r} for {g.info.dataset} hp {g.info.hp}; "
                             f"valid: {g.info.metrics}") from None

    def _epoch_index(self, g: GroupArrays, epoch: EpochSpec) -> int | slice:
        E = g.info.epochs
        if epoch is None:
            return E - 1
        if isinstance(epoch, str):
            if epoch == "all":
                return slice(None)
            raise QueryError(f"epoch must be an int in [0, {E}), -1, None or 'all'; got {epoch!r}")
        if isinstance(epoch, slice):
            return epoch
        e = int(epoch)
        if e < 0:
            e += E
        if not 0 <= e < E:
            raise QueryError(f"epoch {epoch} beyond the run: {g.info.dataset} hp {g.info.hp} has "
                             f"epochs 0..{E - 1}")
        return e

    def _seed_index(self, g: GroupArrays, seed: SeedSpec) -> int | None:
        if seed is None or seed == "mean":
            return None
        if seed == "all":
            return -1
        if isinstance(seed, (int, np.integer)) and int(seed) in g.seed_pos:
            return g.seed_pos[int(seed)]
        raise QueryError(f"unknown seed {seed!r} for {g.info.dataset} hp {g.info.hp}; valid: "
                         f"{g.info.seeds}, 'mean' or 'all'")

    def metric(self, dataset: str, hp: int | str, metric: str, archs: Any = None,
               seed: SeedSpec = None, epoch: EpochSpec = None) -> np.ndarray:
        """Values of one metric.

        Args:
            dataset, hp: the group.
            metric: a name from :meth:`metric_names` (e.g. ``x-valid_acc1``), or a cost
                (``params``, ``flops``, ``latency``).
            archs: None (all), an index, an arch string, or an index/string array.
            seed: None/``"mean"`` (mean over the seeds that ran, NaN if none), a seed value,
                or ``"all"`` (keep the seed axis).
            epoch: None (last epoch), an int (negative counts from the end), a slice, or
                ``"all"``. Ignored for costs.

        Returns:
            float64 array shaped ``[n]`` (+ ``[S]`` when seed="all") (+ ``[E]`` for slices/"all").
        """
        g = self.group(dataset, hp)
        a = self._arch_index_array(archs)
        s = self._seed_index(g, seed)
        present = g.gather(g.present, a, fill=False)
        if metric in COST_NAMES:
            vals = g.gather(g.costs, a, (slice(None), COST_NAMES.index(metric)))
        else:
            m = self._metric_pos(g, metric)
            e = self._epoch_index(g, epoch)
            vals = g.gather(g.metrics, a, (slice(None), e, m))
        vals = np.asarray(vals, dtype=np.float64)
        if s is None:
            return seq_mean(vals, present, axis=1)
        return vals if s == -1 else vals[:, s]

    def lookup(self, dataset: str, hp: int | str, archs: np.ndarray, seed_pos: np.ndarray,
               epochs: np.ndarray, metric_pos: np.ndarray) -> np.ndarray:
        """Raw element lookup: the metric of ``archs`` (architecture indices) at seed position
        ``seed_pos``, epoch ``epochs`` and metric position ``metric_pos`` (broadcast).

        The fastest path (no validation of the positions, which index the group axes
        ``bench.seeds``/``bench.metric_names``); NaN for architectures without a run.
        Returns float64.
        """
        g = self.group(dataset, hp)
        if g.identity:
            return np.asarray(g.metrics[archs, seed_pos, epochs, metric_pos], dtype=np.float64)
        rows = g.row_of[np.asarray(archs)]
        out = np.asarray(g.metrics[np.maximum(rows, 0), seed_pos, epochs, metric_pos], dtype=np.float64)
        return np.where(rows >= 0, out, np.nan)

    def present(self, dataset: str, hp: int | str, archs: Any = None) -> np.ndarray:
        """Bool ``[n, S]``: which of the group's seeds (``bench.seeds``) ran for ``archs``."""
        g = self.group(dataset, hp)
        return np.asarray(g.gather(g.present, self._arch_index_array(archs), fill=False), dtype=bool)

    def evaluated(self, dataset: str, hp: int | str) -> np.ndarray:
        """Bool ``[n_archs]``: at least one seed ran."""
        return self.present(dataset, hp).any(axis=1)

    def cumulative(self, dataset: str, hp: int | str, metric: str, archs: Any = None,
                   seed: SeedSpec = None, epoch: EpochSpec = None) -> np.ndarray:
        """Sum of a per-epoch metric (e.g. ``train_time``, s) over epochs ``0..epoch``.

        ``*_time`` metrics read the store's derived running sums (``cumtime.npy``) where the
        group has them; other metrics, and groups without them, sum on the fly. Shape ``[n]``
        (``[n, S]`` for ``seed="all"``).
        """
        from natsbench.store.layout import time_columns

        g = self.group(dataset, hp)
        a = self._arch_index_array(archs)
        m = self._metric_pos(g, metric)
        e = self._epoch_index(g, epoch)
        if isinstance(e, slice):
            raise QueryError("cumulative() needs a single epoch")
        cols = time_columns(g.info.metrics)
        if g.cumtime is not None and m in cols:
            csum = np.asarray(g.gather(g.cumtime, a, (slice(None), e, cols.index(m))), dtype=np.float64)
        else:
            vals = np.asarray(g.gather(g.metrics, a, (slice(None), slice(0, e + 1), m)),
                              dtype=np.float64)
            csum = np.cumsum(vals, axis=-1)[..., -1]
        s = self._seed_index(g, seed)
        if s is None:
            return seq_mean(csum, g.gather(g.present, a, fill=False), axis=1)
        return csum if s == -1 else csum[:, s]

    # -- DataFrames ----------------------------------------------------------------------
    def costs(self, dataset: str, hp: int | str | None = None):
        """Params (M), FLOPs (M), latency (s) per arch as a DataFrame (seed means).

        ``hp`` defaults to the longest training length of the dataset.
        """
        import pandas as pd

        hp = normalize_hp(hp) if hp is not None else self.hps(dataset)[-1]
        data = {name: self.metric(dataset, hp, name) for name in COST_NAMES}
        df = pd.DataFrame(data)
        df.insert(0, "arch", self.arch_strs)
        df.index.name = "index"
        return df

    def table(self, dataset: str, hp: int | str, metrics: Sequence[str] | None = None,
              epoch: EpochSpec = None, reduce: str = "mean", costs: bool = True,
              evaluated_only: bool = True):
        """One row per architecture with the chosen metrics (and costs).

        Args:
            metrics: metric names (default: all of the group).
            epoch: epoch of per-epoch metrics (default: last).
            reduce: ``"mean"`` over seeds (one row per arch) or ``"none"`` (one row per
                (arch, seed) that ran, with a ``seed`` column).
            costs: add ``params``, ``flops``, ``latency`` columns.
            evaluated_only: drop architectures with no run.
        """
        import pandas as pd

        g = self.group(dataset, hp)
        names = list(metrics) if metrics is not None else list(g.info.metrics)
        extra = list(COST_NAMES) if costs else []
        present = g.gather(g.present, slice(None), fill=False)
        if reduce == "mean":
            data = {name: self.metric(dataset, hp, name, epoch=epoch) for name in names + extra}
            df = pd.DataFrame(data)
            df.insert(0, "arch", self.arch_strs)
            df.index.name = "index"
            return df[present.any(axis=1)] if evaluated_only else df
        if reduce == "none":
            a_idx, s_idx = np.nonzero(present)
            data = {"arch": np.asarray(self.arch_strs, dtype=object)[a_idx],
                    "seed": np.asarray(g.info.seeds)[s_idx]}
            for name in names + extra:
                vals = self.metric(dataset, hp, name, seed="all", epoch=epoch)
                data[name] = vals[a_idx, s_idx]
            df = pd.DataFrame(data, index=pd.Index(a_idx, name="index"))
            return df
        raise QueryError(f"reduce must be 'mean' or 'none', got {reduce!r}")


def open_bench(path: str | os.PathLike) -> Bench:
    """Open a benchmark directory (milliseconds; arrays are mapped on first use)."""
    return Bench(path)

"""The tidy samples table of DARTS-cell and k-ExtCell sample benchmarks (Na's thesis, §4.2.2).

Na's protocol: sample 100 random DARTS cell pairs and 100 random k-ExtCells for each
k in {10, 12, 14, 16}, train all with one protocol, and compare the spaces through the
error EDFs of the samples (Radosavovic et al., ICCV 2019) and their box plots. We build
each group as a benchmark (``natsbench build --space darts|extcell [--extcell-k K]
--archs sample:100 ...``) and read them back here into a tidy samples table, one row per
trained network: ``group, k, genotype, params, flops, error`` (plus ``dataset, hp, set,
epoch, bench``), where ``error = 100 - <set>_acc1`` (%) at the chosen epoch (seed mean),
params in M, FLOPs in M and ``k`` the number of operations of the cell pair (16 for a DARTS
cell pair). The statistics of the table (EDFs, params-normalized EDFs, KS distances) are
:mod:`analysis.extcell`'s; ``natsbench extcell-edf`` runs both, and
``natsbench reproduce extcell-edf`` plots the stored table (``data/extcell/samples.csv``).

Group labels: ``DARTS`` for a darts benchmark, ``<k>-ExtCell`` per row for an extcell one,
``manifest.extra["group"]`` when a benchmark sets it, or an explicit label per benchmark.
"""
from __future__ import annotations

import logging
import os
from typing import Sequence

import numpy as np
import pandas as pd

from natsbench.datasets.specs import TEST_SET_PREFERENCE
from natsbench.errors import QueryError
from natsbench.store.records import normalize_hp

log = logging.getLogger(__name__)

__all__ = ["SAMPLE_COLUMNS", "sample_table"]

#: Columns of the tidy samples table (the first six are the contract with :mod:`analysis.extcell`
#: and :mod:`analysis.reproduce`).
SAMPLE_COLUMNS: tuple[str, ...] = ("group", "k", "genotype", "params", "flops", "error",
                                   "dataset", "hp", "set", "epoch", "bench")
_DARTS_OPS = 16  # a DARTS cell pair: 2 cells x 4 nodes x 2 operations


def _only(options: Sequence[str], what: str, where: str) -> str:
    if len(options) != 1:
        raise QueryError(f"{where} has {what}s {list(options)}; name one with --{what}")
    return options[0]


def _bench_samples(path: str | os.PathLike, *, group: str | None, dataset: str | None,
                   hp: int | str | None, eval_set: str | None, epoch: int | None) -> pd.DataFrame:
    from natsbench.api.bench import open_bench
    from natsbench.spaces import extcell

    bench = open_bench(path)
    if bench.space not in ("darts", "extcell"):
        raise QueryError(f"{path} is a {bench.space!r} benchmark; ExtCell EDFs compare 'darts' and "
                         "'extcell' samples")
    ds = dataset or _only(bench.datasets, "dataset", str(path))
    if ds not in bench.datasets:
        raise QueryError(f"unknown dataset {ds!r} in {path}; valid: {bench.datasets}")
    h = normalize_hp(hp) if hp is not None else _only(bench.hps(ds), "hp", f"{path} ({ds})")
    names = bench.metric_names(ds, h)
    if eval_set is None:
        eval_set = next((s for s in TEST_SET_PREFERENCE if f"{s}_acc1" in names), None)
        if eval_set is None:
            raise QueryError(f"{path} ({ds} hp {h}) has no test accuracy {[f'{s}_acc1' for s in TEST_SET_PREFERENCE]}; "
                             f"name a set with --set (metrics: {names})")
    metric = f"{eval_set}_acc1"
    if metric not in names:
        raise QueryError(f"{path} ({ds} hp {h}) has no metric {metric!r}; valid: {names}")
    n_epochs = bench.epochs(ds, h)
    e = n_epochs - 1 if epoch is None else (epoch + n_epochs if epoch < 0 else epoch)
    acc = bench.metric(ds, h, metric, epoch=e)
    params, flops = bench.metric(ds, h, "params"), bench.metric(ds, h, "flops")
    keep = np.flatnonzero(np.isfinite(acc))
    if keep.size < len(bench):
        log.info("%s: %d of %d architectures have no %s (not trained or failed); left out",
                 path, len(bench) - keep.size, len(bench), metric)
    archs = [bench.arch_strs[i] for i in keep]
    if bench.space == "darts":
        ks = [_DARTS_OPS] * len(archs)
        labels = [group or bench.manifest.extra.get("group") or "DARTS"] * len(archs)
    else:
        ks = [extcell.parse(a).num_ops for a in archs]
        fixed = group or bench.manifest.extra.get("group")
        labels = [fixed or f"{k}-ExtCell" for k in ks]
    return pd.DataFrame({"group": labels, "k": np.asarray(ks, dtype=np.int64), "genotype": archs,
                         "params": params[keep], "flops": flops[keep], "error": 100.0 - acc[keep],
                         "dataset": ds, "hp": h, "set": eval_set, "epoch": e, "bench": str(path)},
                        columns=list(SAMPLE_COLUMNS))


def sample_table(benches: Sequence[str | os.PathLike], *, groups: Sequence[str | None] | None = None,
                 dataset: str | None = None, hp: int | str | None = None,
                 eval_set: str | None = None, epoch: int | None = None) -> pd.DataFrame:
    """The tidy samples table of several sample benchmarks (columns :data:`SAMPLE_COLUMNS`).

    Args:
        benches: benchmark directories of ``darts`` or ``extcell`` samples.
        groups: a label per benchmark (None: derived, see the module doc).
        dataset, hp: the group of every benchmark (default: its only one).
        eval_set: the set whose top-1 accuracy gives the error (default: ``x-test``, else
            ``ori-test``).
        epoch: 0-based epoch (default: last; negative counts from the end).

    Architectures without a finite accuracy (untrained, failed) are left out.
    """
    if not benches:
        raise QueryError("give at least one benchmark")
    groups = list(groups) if groups is not None else [None] * len(benches)
    if len(groups) != len(benches):
        raise QueryError(f"{len(groups)} group labels for {len(benches)} benchmarks; give one per benchmark")
    frames = [_bench_samples(b, group=g, dataset=dataset, hp=hp, eval_set=eval_set, epoch=epoch)
              for b, g in zip(benches, groups)]
    table = pd.concat(frames, ignore_index=True)
    if table.empty:
        raise QueryError(f"none of {list(map(str, benches))} has a trained architecture")
    dup = table["genotype"].duplicated(keep=False)
    if dup.any():
        log.warning("%d samples share a genotype with another sample (Na's samples are unique)",
                    int(dup.sum()))
    return table

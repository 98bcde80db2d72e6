"""EDF statistics of DARTS-cell and k-ExtCell random samples (Na's thesis, §4.2.2, Fig. 4.2).

Na's protocol: sample 100 random DARTS cell pairs and 100 random k-ExtCells for each
k in {10, 12, 14, 16}, train all with one protocol, and compare the spaces through the
error EDFs of the samples (Radosavovic et al., ICCV 2019) and their box plots. We build
each group as a benchmark (``natsbench build --space darts|extcell [--extcell-k K]
--archs sample:100 ...``) and summarise them here:

* a tidy samples table, one row per trained network: ``group, k, genotype, params, flops,
  error`` (plus ``dataset, hp, set, epoch, bench``), where ``error = 100 - <set>_acc1`` (%)
  at the chosen epoch (seed mean), params in M, FLOPs in M and ``k`` the number of
  operations of the cell pair (16 for a DARTS cell pair). ``analysis.reproduce``'s
  ``extcell-edf`` reads this table (``data/extcell/samples.csv``);
* the EDF of each group's errors on a fixed grid, and the params-normalized EDF
  (:func:`analysis.edf.complexity_weights`: ``bins`` equal-width params bins over the params
  range shared by all groups, uniform target, empty bins dropped) on the same grid;
* per-group statistics: count, mean / median / min error, and the KS statistics against a
  reference group (plain and params-normalized).

Group labels: ``DARTS`` for a darts benchmark, ``<k>-ExtCell`` per row for an extcell one,
``manifest.extra["group"]`` when a benchmark sets it, or an explicit label per benchmark.
"""
from __future__ import annotations

import io
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from natsbench.datasets.specs import TEST_SET_PREFERENCE
from natsbench.errors import QueryError
from natsbench.store.records import atomic_write_bytes, normalize_hp

log = logging.getLogger(__name__)

__all__ = ["SAMPLE_COLUMNS", "DEFAULT_GRID", "sample_table", "edf_curves",
           "ExtCellEDF", "extcell_edf", "write_extcell_edf"]

#: Columns of the tidy samples table (the first six are the contract with analysis.reproduce).
SAMPLE_COLUMNS: tuple[str, ...] = ("group", "k", "genotype", "params", "flops", "error",
                                   "dataset", "hp", "set", "epoch", "bench")
#: The fixed error grid (%): 0, 0.1, ..., 100.
DEFAULT_GRID: np.ndarray = np.linspace(0.0, 100.0, 1001)
#: Test sets tried in this order when none is named (Na reports test accuracy).
_DARTS_OPS = 16  # a DARTS cell pair: 2 cells x 4 nodes x 2 operations


def _only(options: Sequence[str], what: str, where: str) -> str:
    if len(options) != 1:
        raise QueryError(f"{where} has {what}s {list(options)}; name one with --{what}")
    return options[0]


def _bench_samples(path: str | os.PathLike, *, group: str | None, dataset: str | None,
                   hp: int | str | None, eval_set: str | None, epoch: int | None) -> pd.DataFrame:
    import natsbench
    from natsbench.spaces import extcell

    bench = natsbench.open_bench(path)
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


def edf_curves(samples: pd.DataFrame, *, grid: np.ndarray | None = None, bins: int = 10,
               params_range: tuple[float, float] | None = None) -> pd.DataFrame:
    """Error EDF and params-normalized error EDF of each group on a fixed grid.

    Returns a tidy frame with columns ``group, x, edf, edf_params_normalized`` (``x`` in %
    error, groups in order of appearance; ``len(grid)`` rows per group).
    """
    from analysis import edf as edf_mod

    grid = DEFAULT_GRID if grid is None else np.asarray(grid, dtype=np.float64)
    samples = samples.reset_index(drop=True)
    lo, hi = edf_mod.common_range(samples, value_range=params_range)
    weights = edf_mod.group_weights(samples, value_range=(lo, hi), bins=bins)
    parts = []
    for name, sub in samples.groupby("group", sort=False):
        w = weights[sub.index]
        parts.append(pd.DataFrame({
            "group": name, "x": grid,
            "edf": edf_mod.edf(sub["error"].to_numpy(), grid),
            "edf_params_normalized": edf_mod.edf(sub["error"].to_numpy(), grid, weights=w)}))
    return pd.concat(parts, ignore_index=True)


@dataclass
class ExtCellEDF:
    """Samples, EDF curves and per-group statistics, with the settings that made them."""

    samples: pd.DataFrame
    curves: pd.DataFrame
    statistics: pd.DataFrame
    settings: dict[str, Any] = field(default_factory=dict)


def extcell_edf(benches: Sequence[str | os.PathLike], *, groups: Sequence[str | None] | None = None,
                dataset: str | None = None, hp: int | str | None = None, eval_set: str | None = None,
                epoch: int | None = None, grid: np.ndarray | None = None, bins: int = 10,
                params_range: tuple[float, float] | None = None,
                reference: str | None = None) -> ExtCellEDF:
    """Compute everything of Fig. 4.2 from sample benchmarks (see :func:`sample_table`)."""
    samples = sample_table(benches, groups=groups, dataset=dataset, hp=hp, eval_set=eval_set, epoch=epoch)
    from analysis import edf as edf_mod

    lo, hi = edf_mod.common_range(samples, value_range=params_range)
    grid = DEFAULT_GRID if grid is None else np.asarray(grid, dtype=np.float64)
    curves = edf_curves(samples, grid=grid, bins=bins, params_range=(lo, hi))
    stats = edf_mod.group_statistics(samples, reference=reference, bins=bins, value_range=(lo, hi))
    settings = {"benches": [str(b) for b in benches], "groups": list(dict.fromkeys(samples["group"])),
                "dataset": sorted(set(samples["dataset"])), "hp": sorted(set(samples["hp"])),
                "set": sorted(set(samples["set"])), "epoch": sorted(set(int(e) for e in samples["epoch"])),
                "error": "100 - <set>_acc1 (%), seed mean",
                "grid": {"min": float(grid.min()), "max": float(grid.max()), "num": int(grid.size)},
                "params_normalization": {"bins": bins, "range_M": [lo, hi], "target": "uniform",
                                         "empty_bins": "drop", "range_rule": "explicit" if params_range
                                         else "common range of all groups"},
                "reference": stats["reference"].iloc[0]}
    return ExtCellEDF(samples, curves, stats, settings)


def _csv_bytes(frame: pd.DataFrame) -> bytes:
    buf = io.StringIO()
    frame.to_csv(buf, index=False)
    return buf.getvalue().encode("utf-8")


def write_extcell_edf(result: ExtCellEDF, out: str | os.PathLike,
                      samples_out: str | os.PathLike | None = None) -> dict[str, Path]:
    """Write the results atomically (each file: temp + fsync + rename).

    * ``out``: the EDF curves CSV (``group, x, edf, edf_params_normalized``);
    * ``out`` with suffix ``.json``: settings and per-group statistics;
    * ``samples_out`` (default ``samples.csv`` beside ``out``): the tidy samples table.

    Returns the paths by role (``curves``, ``statistics``, ``samples``).
    """
    out = Path(out)
    stats_path = out.with_suffix(".json")
    samples_path = Path(samples_out) if samples_out is not None else out.with_name("samples.csv")
    if len({out.resolve(), stats_path.resolve(), samples_path.resolve()}) != 3:
        raise QueryError(f"--out {out} and --samples {samples_path} must name different files "
                         f"(the statistics go to {stats_path})")
    stats = json.loads(result.statistics.to_json(orient="records"))
    payload = {"schema": "natsbench.extcell-edf/1", **result.settings, "statistics": stats,
               "files": {"curves": out.name, "samples": str(samples_path)}}
    atomic_write_bytes(samples_path, _csv_bytes(result.samples))
    atomic_write_bytes(out, _csv_bytes(result.curves))
    atomic_write_bytes(stats_path, json.dumps(payload, indent=1).encode("utf-8"))
    return {"curves": out, "statistics": stats_path, "samples": samples_path}

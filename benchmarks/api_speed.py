"""Query-API speed and memory against the official nats_bench package, in one run.

Measures (issue "Foundation", Performance):
1. opening a whole 15,625-arch tss benchmark (both hps, all datasets, 3 seeds, per-epoch
   metrics; synthetic numbers, real shape): wall time and RSS added, in a fresh process
   after imports;
2. ``get_more_info`` and ``simulate_train_eval``: natsbench vs official ``fast_mode`` on a
   generated official-format archive (``--archs``, default 2,000), first touch and cached;
3. vectorized lookups: (arch, seed, epoch, metric) elements per second.

Usage::

    python benchmarks/api_speed.py [--archs 2000] [--workdir /tmp/natsbench-bench] [--queries 2000]

Requires the ``test`` extra (nats_bench==1.8). Generated files are cached in --workdir.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def ensure_official_archive(workdir: Path, n_archs: int) -> Path:
    from natsbench.testing.official_archive import make_official_archive

    path = workdir / f"official-tss-{n_archs}"
    done = path / ".complete"
    if not done.exists():
        t = time.perf_counter()
        make_official_archive(path, space="tss", n_archs=n_archs, seed=0)
        done.write_text("ok")
        print(f"generated official-format archive with {n_archs} archs in {time.perf_counter() - t:.1f} s")
    return path


def ensure_full_bench(workdir: Path) -> Path:
    """A whole tss benchmark: 15,625 archs x {12, 200} x 4 datasets x 3 seeds, float64."""
    from natsbench.datasets.specs import DATASETS, NATS_DATASETS
    from natsbench.store.writer import DenseGroup, write_bench
    from natsbench.store.manifest import GroupInfo

    NATS_EVAL_SETS = {d: DATASETS[d].eval_sets for d in NATS_DATASETS}
    NATS_NUM_CLASSES = {d: DATASETS[d].num_classes for d in NATS_DATASETS}
    from natsbench.testing.official_archive import all_arch_strings

    path = workdir / "full-tss"
    if (path / "manifest.json").exists():
        return path
    t = time.perf_counter()
    archs = all_arch_strings("tss")
    n = len(archs)
    rng = np.random.default_rng(0)
    groups = []
    for dataset, sets in NATS_EVAL_SETS.items():
        metrics = ["train_loss", "train_acc1", "train_acc5", "train_time"] + [
            f"{s}_{q}" for s in sets for q in ("loss", "acc1", "time")]
        for hp, epochs in (("12", 12), ("200", 200)):
            seeds = [777, 888, 999]
            info = GroupInfo(dataset, hp, seeds, epochs, metrics, "float64")
            shape = (n, len(seeds), epochs, len(metrics))
            arr = np.lib.format.open_memmap(workdir / f"tmp-{dataset}-{hp}.npy", mode="w+",
                                            dtype=np.float64, shape=shape)
            for start in range(0, n, 1024):
                stop = min(n, start + 1024)
                arr[start:stop] = rng.random((stop - start,) + shape[1:]) * 100
            costs = rng.random((n, len(seeds), 3))
            present = np.ones((n, len(seeds)), dtype=bool)
            groups.append(DenseGroup(info, np.arange(n), arr, costs, present))
    # write_bench copies chunk by chunk from the memmaps
    write_bench(path, space="tss", arch_strs=archs, groups=groups, arch_order="canonical",
                datasets={d: {"num_classes": NATS_NUM_CLASSES[d], "eval_sets": list(s)}
                          for d, s in NATS_EVAL_SETS.items()},
                net_config={"channel": 16, "num_cells": 5}, dtype="float64",
                provenance={"data": "synthetic numbers for benchmarks/api_speed.py"})
    del groups
    for tmp in workdir.glob("tmp-*.npy"):
        tmp.unlink()
    print(f"wrote the full synthetic tss benchmark in {time.perf_counter() - t:.1f} s "
          f"({sum(f.stat().st_size for f in path.rglob('*') if f.is_file()) / 2**30:.2f} GiB)")
    return path


_OPEN_PROBE = r"""
import json, sys, time, resource
def rss():
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmRSS'):
                return int(line.split()[1]) / 1024
import natsbench, natsbench.api.compat, natsbench.api.bench, pyarrow.parquet, numpy
base = rss()
t = time.perf_counter()
api = natsbench.create(sys.argv[1], 'tss', verbose=False)
n = len(api)
info = api.get_more_info(123, 'cifar100', hp='200', is_random=False)
t_open = time.perf_counter() - t
after = rss()
t = time.perf_counter()
bench = natsbench.open_bench(sys.argv[1])
len(bench)
t_bench = time.perf_counter() - t
print(json.dumps({"open_s": t_open, "rss_added_mb": after - base, "open_bench_s": t_bench, "archs": n}))
"""


def measure_open(path: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", _OPEN_PROBE, str(path)], check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def time_calls(fn, calls) -> float:
    t = time.perf_counter()
    for args, kwargs in calls:
        fn(*args, **kwargs)
    return (time.perf_counter() - t) / len(calls)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--archs", type=int, default=2000)
    parser.add_argument("--workdir", default="/tmp/natsbench-bench")
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--skip-full", action="store_true", help="skip the 15,625-arch open measurement")
    args = parser.parse_args()
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    os.environ["NATSBENCH_CACHE"] = str(workdir / "cache")

    import nats_bench
    import natsbench

    results: dict[str, float] = {}
    if not args.skip_full:
        full = ensure_full_bench(workdir)
        probe = measure_open(full)
        results.update({"open_full_s": probe["open_s"], "open_full_rss_mb": probe["rss_added_mb"]})
        print(f"[open] whole 15,625-arch tss benchmark: {probe['open_s'] * 1000:.1f} ms incl. first query, "
              f"RSS added {probe['rss_added_mb']:.1f} MB (targets < 500 ms, < 100 MB)")

    archive = ensure_official_archive(workdir, args.archs)
    t = time.perf_counter()
    ours = natsbench.create(str(archive), "tss", verbose=False, seed=0)
    print(f"[import] {args.archs} archs imported on first create in {time.perf_counter() - t:.1f} s (cached afterwards)")
    rng = random.Random(0)
    idx = [rng.randrange(args.archs) for _ in range(args.queries)]
    datasets = ["cifar10-valid", "cifar10", "cifar100", "ImageNet16-120"]
    more_calls = [((i, datasets[k % 4]), {"hp": "200" if k % 2 else "12", "is_random": False})
                  for k, i in enumerate(idx)]
    sim_calls = [((i, ["cifar10", "cifar100", "ImageNet16-120"][k % 3]), {"hp": "12"}) for k, i in enumerate(idx)]

    for name, calls in (("get_more_info", more_calls), ("simulate_train_eval", sim_calls)):
        theirs = nats_bench.create(str(archive), "tss", fast_mode=True, verbose=False)
        ours = natsbench.create(str(archive), "tss", verbose=False, seed=0)
        for api in (theirs, ours):  # opened, nothing touched: both know the arch strings
            api.query_index_by_arch(api.arch(0))
        t_first_theirs = time_calls(getattr(theirs, name), calls)
        t_first_ours = time_calls(getattr(ours, name), calls)
        t_cached_theirs = time_calls(getattr(theirs, name), calls)
        t_cached_ours = time_calls(getattr(ours, name), calls)
        results[f"{name}_first_ratio"] = t_first_theirs / t_first_ours
        results[f"{name}_cached_ratio"] = t_cached_theirs / t_cached_ours
        print(f"[{name}] first touch: official {t_first_theirs * 1e6:9.1f} us, natsbench {t_first_ours * 1e6:7.1f} us "
              f"-> {t_first_theirs / t_first_ours:7.1f}x (target >= 100x)")
        print(f"[{name}] cached:      official {t_cached_theirs * 1e6:9.1f} us, natsbench {t_cached_ours * 1e6:7.1f} us "
              f"-> {t_cached_theirs / t_cached_ours:7.1f}x (target >= 10x)")

    bench = natsbench.open_bench(ours.bench.path)
    g = bench.group("cifar100", "200")
    n_lookups = 1_000_000
    r = np.random.default_rng(0)
    archs = np.asarray(g.rows)[r.integers(0, len(g.rows), n_lookups)]
    seeds = r.integers(0, len(g.info.seeds), n_lookups)
    epochs = r.integers(0, g.info.epochs, n_lookups)
    mets = r.integers(0, len(g.info.metrics), n_lookups)
    bench.lookup("cifar100", "200", archs[:10], seeds[:10], epochs[:10], mets[:10])
    t = time.perf_counter()
    vals = bench.lookup("cifar100", "200", archs, seeds, epochs, mets)
    dt = time.perf_counter() - t
    results["lookups_per_s"] = n_lookups / dt
    t = time.perf_counter()
    for m in g.info.metrics:
        bench.metric("cifar100", "200", m)
    dt2 = time.perf_counter() - t
    per_s = len(g.info.metrics) * len(bench) / dt2
    print(f"[vectorized] bench.lookup: {n_lookups / dt / 1e6:.1f} M (arch, seed, epoch, metric) lookups/s; "
          f"bench.metric (seed mean): {per_s / 1e6:.1f} M (arch, metric)/s (target >= 1 M/s); checksum {np.nansum(vals):.3e}")
    print(json.dumps({k: round(v, 3) for k, v in results.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

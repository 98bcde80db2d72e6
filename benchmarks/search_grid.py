"""Speed of the multi-trial search grid, against the same REA loop on the official API.

Measures, in one run (issue "Multi-trial search algorithms", Performance):

1. the whole NATS-Bench grid -- random, rea, reinforce, bohb x cifar10, cifar100,
   ImageNet16-120 x ``--runs`` (500) runs on tss at the default budgets -- with ``--workers``
   processes: wall time (problem building reported separately);
2. regularized evolution (population 10, sample 3, 12-epoch feedback, default budgets) on the
   same generated official-format archive, (a) with ``search_algorithms`` on its natsbench import,
   in one process, and (b) written against the official ``nats_bench`` API
   (``simulate_train_eval`` per query, ``fast_mode`` archive preloaded before timing, the
   incumbent's index recorded after every query as the official scripts do), in one process:
   seconds per run and per query, and the ratio.

The archive is generated with ``natsbench.testing.official_archive`` (nats_bench's own
``ArchResults``/``ResultsCount``/``pickle_save``): all 15,625 tss architectures, hp ``12`` with
12 epochs and hp ``200`` shortened to ``--report-epochs`` epochs (only its last epoch is read,
as the reported accuracy; shortening it keeps generation to minutes). Generated files are cached
in ``--workdir``.

Usage::

    python benchmarks/search_grid.py [--bench DIR] [--workdir /tmp/natsbench-search-grid]
        [--runs 500] [--workers 2] [--official-runs 50]

Requires the ``test`` extra (nats_bench==1.8).
"""
from __future__ import annotations

import argparse
import math
import os
import random
import sys
import time
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

DATASETS = ("cifar10", "cifar100", "ImageNet16-120")
TSS_OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")


# ----------------------------------------------------------------------------- generation
def _write_archs(args: tuple[str, list[tuple[int, str]], dict[str, int], int]) -> int:
    from nats_bench import pickle_save
    from natsbench.testing.official_archive import make_arch_results

    out, items, hp_epochs, seed = args
    for index, arch in items:
        rng = np.random.default_rng([seed, index])
        pickle_save(make_arch_results("tss", index, arch, hp_epochs, rng),
                    str(Path(out) / f"{index:06d}.pickle"))
    return len(items)


def ensure_archive(workdir: Path, report_epochs: int, workers: int, seed: int = 0) -> Path:
    """A complete official-format tss archive (fast-mode directory), generated once."""
    from nats_bench.api_utils import pickle_load
    from natsbench.testing.official_archive import make_official_archive

    path = workdir / f"official-tss-full-r{report_epochs}"
    if (path / ".complete").exists():
        return path
    start = time.perf_counter()
    make_official_archive(path, space="tss", n_archs=0, seed=seed)      # meta only
    meta_archs = pickle_load(str(path / "meta.pickle.pbz2"))["meta_archs"]
    items = list(enumerate(meta_archs))
    chunks = [items[i::workers * 8] for i in range(workers * 8)]
    hp_epochs = {"12": 12, "200": report_epochs}
    with ProcessPoolExecutor(max_workers=workers) as pool:
        done = sum(pool.map(_write_archs, [(str(path), c, hp_epochs, seed) for c in chunks]))
    (path / ".complete").write_text("ok")
    print(f"generated the official-format archive ({done} archs) in "
          f"{time.perf_counter() - start:.0f} s -> {path}")
    return path


def ensure_import(archive: Path, workdir: Path) -> Path:
    from natsbench.store.official import import_official

    target = workdir / f"{archive.name}-natsbench"
    if not (target / "manifest.json").exists():
        start = time.perf_counter()
        import_official(archive, target, space="tss", overwrite=True, progress=False)
        print(f"imported it into natsbench format in {time.perf_counter() - start:.0f} s")
    return target


# ----------------------------------------------------------------------------- official loop
def official_rea(api, dataset: str, budget: float, rng: random.Random,
                 population_size: int = 10, sample_size: int = 3) -> tuple[int, float]:
    """One REA run written against the official API. Returns (queries, final test acc)."""
    def random_arch() -> list[str]:
        return [rng.choice(TSS_OPS) for _ in range(6)]

    def to_str(ops: list[str]) -> str:
        return "|{}~0|+|{}~0|{}~1|+|{}~0|{}~1|{}~2|".format(*ops)

    def mutate(ops: list[str]) -> list[str]:
        child = list(ops)
        edge = rng.randrange(6)
        child[edge] = rng.choice([op for op in TSS_OPS if op != ops[edge]])
        return child

    api.reset_time()
    population: deque[tuple[list[str], float]] = deque()
    best_acc, best_arch, best_indices, total = -math.inf, "", [], 0.0
    while total < budget:
        if len(best_indices) < population_size:
            ops = random_arch()
        else:
            sample = [population[rng.randrange(len(population))] for _ in range(sample_size)]
            ops = mutate(max(sample, key=lambda member: member[1])[0])
        arch = to_str(ops)
        acc, _, _, total = api.simulate_train_eval(arch, dataset, hp="12")
        population.append((ops, acc))
        if len(population) > population_size:
            population.popleft()
        if acc > best_acc:
            best_acc, best_arch = acc, arch
        best_indices.append(api.query_index_by_arch(best_arch))
    info = api.get_more_info(best_arch, dataset, hp="200", is_random=False)
    return len(best_indices), float(info["test-accuracy"])


def _cpu_seconds() -> float:
    """User + system CPU seconds of this process and its finished children."""
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


# ----------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bench", default=None,
                        help="benchmark directory for the grid (default: the generated one)")
    parser.add_argument("--workdir", default="/tmp/natsbench-search-grid",
                        help="cache of the generated archive and its import")
    parser.add_argument("--runs", type=int, default=500, help="runs per (algorithm, dataset)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="processes for the grid (default: all CPUs)")
    parser.add_argument("--official-runs", type=int, default=50,
                        help="REA runs per dataset on the official API (default: 50; 0 skips "
                             "the comparison)")
    parser.add_argument("--report-epochs", type=int, default=2,
                        help="epochs of the generated hp-200 records (default: 2)")
    parser.add_argument("--skip-grid", action="store_true", help="only the REA comparison")
    args = parser.parse_args(argv)

    import natsbench
    from search_algorithms.problem import TabularProblem
    from search_algorithms.runner import Job, RunSpec, execute

    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    archive = ensure_archive(workdir, args.report_epochs, workers=args.workers)
    generated = ensure_import(archive, workdir)

    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start")
    if not args.skip_grid:
        bench = natsbench.open_bench(args.bench or generated)
        start = time.perf_counter()
        problems = {d: TabularProblem.from_bench(bench, d) for d in DATASETS}
        built = time.perf_counter() - start
        jobs = [Job(d, RunSpec(algorithm=a), tuple(range(args.runs)))
                for a in ("random", "rea", "reinforce", "bohb") for d in DATASETS]
        cpu_before = _cpu_seconds()
        load_before = os.getloadavg()[0]
        start = time.perf_counter()
        frame = execute(jobs, problems, workers=args.workers)
        grid = time.perf_counter() - start
        cpu = _cpu_seconds() - cpu_before
        print(f"grid: 4 algorithms x 3 datasets x {args.runs} runs on {bench.path}: "
              f"{grid:.1f} s wall with {args.workers} workers, {cpu:.1f} CPU seconds "
              f"(this process + workers; wall on {args.workers} otherwise idle cores >= "
              f"{cpu / args.workers:.1f} s); load average {load_before:.1f} -> "
              f"{os.getloadavg()[0]:.1f}; {len(frame)} evaluations, "
              f"{cpu / len(frame) * 1e6:.1f} CPU us each; building the 3 problems: "
              f"{built:.1f} s")
        per = frame.groupby(["algorithm", "dataset"], observed=True).size() / args.runs
        print("evaluations per run:", {f"{a}/{d}": round(v) for (a, d), v in per.items()})

    if args.official_runs < 1:
        return 0
    # ---- REA: search_algorithms vs the official API, same archive, one process each
    bench = natsbench.open_bench(generated)
    problems = {d: TabularProblem.from_bench(bench, d) for d in DATASETS}
    ours_runs = args.runs
    start = time.perf_counter()
    ours = execute([Job(d, RunSpec(algorithm="rea"), tuple(range(ours_runs))) for d in DATASETS],
                   problems, workers=1)
    ours_time = time.perf_counter() - start
    ours_queries = len(ours)
    ours_final = ours.groupby(["dataset", "run"], observed=True).tail(1) \
        .groupby("dataset", observed=True)["reported"].mean()

    from nats_bench import create

    api = create(str(archive), "tss", fast_mode=True, verbose=False)
    start = time.perf_counter()
    for index in range(len(api)):          # load every record before timing
        api.get_more_info(index, "cifar10-valid", hp="12", is_random=False)
    print(f"official API: preloaded {len(api)} archs in {time.perf_counter() - start:.0f} s")
    budgets = {"cifar10": 2e4, "cifar100": 4e4, "ImageNet16-120": 1.2e5}
    official_queries, official_final = 0, {}
    start = time.perf_counter()
    for dataset in DATASETS:
        finals = []
        for run in range(args.official_runs):
            random.seed(run)                    # the official API draws seeds from `random`
            queries, final = official_rea(api, dataset, budgets[dataset], random.Random(run))
            official_queries += queries
            finals.append(final)
        official_final[dataset] = float(np.mean(finals))
    official_time = time.perf_counter() - start

    ours_per_run = ours_time / (3 * ours_runs)
    official_per_run = official_time / (3 * args.official_runs)
    print(f"REA, natsbench search_algorithms: {3 * ours_runs} runs, {ours_queries} queries in "
          f"{ours_time:.2f} s = {ours_per_run * 1e3:.2f} ms/run, "
          f"{ours_time / ours_queries * 1e6:.1f} us/query")
    print(f"REA, official nats_bench API:     {3 * args.official_runs} runs, {official_queries} "
          f"queries in {official_time:.2f} s = {official_per_run * 1e3:.2f} ms/run, "
          f"{official_time / official_queries * 1e6:.1f} us/query")
    print(f"ratio official / natsbench: {official_per_run / ours_per_run:.1f}x per run, "
          f"{(official_time / official_queries) / (ours_time / ours_queries):.1f}x per query; "
          f"official time for {3 * ours_runs} runs (extrapolated): "
          f"{official_per_run * 3 * ours_runs:.0f} s")
    print("mean final test accuracy of REA (natsbench / official loop):",
          {d: (round(float(ours_final[d]), 3), round(official_final[d], 3)) for d in DATASETS})
    return 0


if __name__ == "__main__":
    sys.exit(main())

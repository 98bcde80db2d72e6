"""CLI: ``natsbench search ALGO|all ...`` -- multi-trial search on a benchmark.

Examples::

    natsbench search rea --bench BENCH --dataset cifar100 --runs 500 --out rea.parquet
    natsbench search all --bench BENCH --out grid.parquet --workers 2
"""
from __future__ import annotations

import argparse
import ast
import os
import time
from typing import Any

from natsbench.datasets.specs import NATS_SET_SOURCES

DATASETS = tuple(NATS_SET_SOURCES)


def register(sub: argparse._SubParsersAction) -> None:
    from search_algorithms.base import available_algorithms
    from search_algorithms.grid import MAIN_ALGORITHMS

    names = available_algorithms()
    p = sub.add_parser(
        "search", help="run multi-trial search algorithms on a benchmark (simulated time)",
        description="Run a multi-trial NAS algorithm (or 'all': the NATS-Bench grid of "
                    f"{', '.join(MAIN_ALGORITHMS)}) on a benchmark, as in NATS-Bench section "
                    "5.4: feedback is the 12-epoch validation accuracy, each query costs its "
                    "recorded training + validation time on a simulated clock, and every "
                    "evaluation is scored by the test accuracy (hp 200 tss / 90 sss) of the "
                    "best architecture so far. Writes one row per evaluation to Parquet. "
                    "See docs/ALGORITHMS.md.")
    p.add_argument("algorithm", choices=[*names, "all"],
                   help="algorithm to run, or 'all' for the grid of --algorithms x --dataset")
    p.add_argument("--bench", required=True,
                   help="benchmark directory (or an official NATS-Bench archive, imported once)")
    p.add_argument("--out", required=True, help="output Parquet file (one row per evaluation)")
    p.add_argument("--space", choices=("tss", "sss"), default=None,
                   help="search space; must match the benchmark's (default: the benchmark's)")
    p.add_argument("--dataset", nargs="+", default=None, metavar="DATASET",
                   help=f"one or more of {', '.join(DATASETS)} (default: those the benchmark "
                        f"has), or another dataset of the benchmark with x-valid and x-test sets "
                        f"(e.g. digits of the bundled benchmark; budget: 150 full trainings unless "
                        f"--budget is given)")
    p.add_argument("--algorithms", nargs="+", default=list(MAIN_ALGORITHMS), choices=names,
                   metavar="ALGO", help="algorithms of 'all' (default: "
                                        f"{' '.join(MAIN_ALGORITHMS)})")
    p.add_argument("--runs", type=int, default=500,
                   help="independent runs per algorithm and dataset (default: 500)")
    p.add_argument("--budget", type=float, default=None,
                   help="simulated seconds per run (default: NATS-Bench's, tss 2e4/4e4/1.2e5 "
                        "s and sss 2e4/4e4/6e4 s for cifar10/cifar100/ImageNet16-120)")
    p.add_argument("--max-evals", type=int, default=None,
                   help="optional cap on evaluations per run")
    p.add_argument("--seed", type=int, default=0,
                   help="base seed; run i uses SeedSequence(seed, spawn_key=(i,)) (default: 0)")
    p.add_argument("--workers", type=int, default=None,
                   help="worker processes (default: all CPUs; results do not depend on it)")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                   help="algorithm hyperparameter, e.g. --param population_size=20 (a Python "
                        "literal; repeatable; with 'all' it applies to every algorithm)")
    p.add_argument("--fidelity-cost", choices=("scratch", "continue"), default="scratch",
                   help="cost of a lower-fidelity query: train from scratch (NATS-Bench, "
                        "default) or continue this run's earlier training of the arch")
    p.add_argument("--incumbent", choices=("any", "highest_fidelity"), default="any",
                   help="best arch by feedback over all evaluations (NATS-Bench, default) or "
                        "among those at the highest fidelity seen")
    p.add_argument("--on-missing", choices=("error", "surrogate", "train"), default="error",
                   help="an architecture the benchmark lacks: fail (default), answer with the "
                        "benchmark's surrogate (predicted feedback and time, noise from the run's "
                        "RNG; rows say source=surrogate) or train it now with the benchmark's "
                        "recorded protocol (record cached in the user cache store; "
                        "source=trained). See docs/ALGORITHMS.md")
    p.add_argument("--sim-workers", type=int, default=None, metavar="N",
                   help="simulate N asynchronous workers on the simulated clock (default: the "
                        "synchronous runner; 1 gives the same rows)")
    p.add_argument("--device", default=None,
                   help="torch device for --on-missing train (default: CUDA if available)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=_search)


def _parse_params(items: list[str]) -> dict[str, Any]:
    """``NAME=VALUE`` items as a dict; VALUE must be a Python literal (no silent fallback to a
    string: ``population_size=2O`` is an error, not the text ``'2O'``)."""
    from natsbench.errors import ConfigError

    params: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or not name.strip():
            raise ConfigError(f"--param {item!r} is not NAME=VALUE (e.g. population_size=20)")
        try:
            params[name.strip()] = ast.literal_eval(text.strip())
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            raise ConfigError(f"--param {item!r}: {text!r} is not a Python literal; use a number, "
                              f"True/False/None, a quoted string or a tuple") from None
    return params


def _search(args: argparse.Namespace) -> int:
    from natsbench.api.compat import open_as_bench
    from natsbench.errors import ConfigError, NatsBenchError, QueryError, check_output, check_range
    from search_algorithms.base import check_hyperparameters, get_algorithm
    from search_algorithms.grid import resolve_budget
    from search_algorithms.problem import TabularProblem
    from search_algorithms.runner import Job, RunSpec, execute, run_generators, write_parquet

    if args.runs < 1:
        raise QueryError(f"--runs must be >= 1, got {args.runs}")
    check_output(args.out, "--out", directory=False)
    check_range("--seed", args.seed, 0)
    if args.budget is not None:
        check_range("--budget", args.budget, 1e-9)
    if args.max_evals is not None:
        check_range("--max-evals", args.max_evals, 1)
    if args.workers is not None:
        check_range("--workers", args.workers, 1, 4096)
    if args.sim_workers is not None:
        check_range("--sim-workers", args.sim_workers, 1, 10**6)
    params = _parse_params(args.param)
    bench = open_as_bench(args.bench, space=args.space, progress=not args.no_progress)
    if args.space is not None and args.space != bench.space:
        raise QueryError(f"--space {args.space} does not match the benchmark's space "
                         f"{bench.space!r}")
    nats = [d for d in DATASETS if d in bench.datasets or NATS_SET_SOURCES[d]["valid"][0] in bench.datasets]
    datasets = args.dataset or nats or list(bench.datasets)
    for dataset in datasets:
        if dataset not in DATASETS and dataset not in bench.datasets:
            raise QueryError(f"unknown dataset {dataset!r}; valid: {', '.join(DATASETS)} or one of "
                             f"the benchmark's datasets {bench.datasets}")
    algorithms = args.algorithms if args.algorithm == "all" else [args.algorithm]
    problems = {d: TabularProblem.from_bench(bench, d, on_missing=args.on_missing,
                                             device=args.device) for d in datasets}
    runs = tuple(range(args.runs))
    budgets = {d: resolve_budget(bench, d, problems[d].sources["search"][2], args.budget) for d in datasets}
    jobs = [Job(d, RunSpec(algorithm=a, hyperparameters=params, budget=budgets[d],
                           max_evals=args.max_evals, base_seed=args.seed,
                           fidelity_cost=args.fidelity_cost, incumbent=args.incumbent,
                           sim_workers=args.sim_workers), runs)
            for a in algorithms for d in datasets]
    for job in jobs:          # fail on bad hyperparameters before starting the pool
        check_hyperparameters(get_algorithm(job.spec.algorithm), params)
        try:
            get_algorithm(job.spec.algorithm)(problems[job.problem].space,
                                              run_generators(args.seed, 0)[0],
                                              max_fidelity=problems[job.problem].epochs,
                                              **params)
        except (TypeError, ValueError) as exc:
            if isinstance(exc, NatsBenchError):
                raise
            raise ConfigError(f"{job.spec.algorithm} rejects --param {params}: {exc}") from None
    start = time.perf_counter()
    workers = 1 if args.on_missing == "train" else args.workers  # one trainer at a time
    frame = execute(jobs, problems, workers=workers, progress=not args.no_progress)
    elapsed = time.perf_counter() - start
    write_parquet(frame, args.out)
    last = frame.groupby(["algorithm", "dataset", "run"], observed=True).tail(1)
    summary = last.groupby(["algorithm", "dataset"], observed=True).agg(
        runs=("run", "size"), evals=("step", "mean"), final=("reported", "mean"),
        std=("reported", "std"))
    print(f"{len(frame)} evaluations of {len(jobs) * args.runs} runs in {elapsed:.1f} s "
          f"({workers or os.cpu_count()} workers) -> {args.out}")
    counts = frame["source"].value_counts()
    if counts.get("surrogate", 0) or counts.get("trained", 0):
        print("evaluation sources: " + ", ".join(f"{k} {v}" for k, v in counts.items() if v)
              + " (surrogate = PREDICTED feedback and time)")
    print("final test accuracy of the best-by-validation architecture (mean, std over runs):")
    for (algorithm, dataset), row in summary.iterrows():
        print(f"  {algorithm:<20} {dataset:<15} {row['final']:7.3f} +- {row['std']:.3f}  "
              f"({row['evals']:.0f} evals/run)")
    return 0

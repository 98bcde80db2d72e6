"""CLI: ``natsbench search-ws ALGO|all ...`` -- weight-sharing search (tss; other spaces of
:mod:`search_algorithms.weight_sharing.spaces`).

Examples::

    natsbench search-ws gdas --dataset digits --config digits --out gdas.parquet
    natsbench search-ws all --space sss --warmup-ratio 0.3 --on-missing surrogate --out sss.parquet
    natsbench search-ws all --dataset cifar10 --config nats --data-root ~/data \
        --bench NATS-tss --device cuda --out ws.parquet
"""
from __future__ import annotations

import argparse
import os
import time


def register(sub: argparse._SubParsersAction) -> None:
    from search_algorithms.weight_sharing import CONFIGS, available_ws_algorithms
    from search_algorithms.weight_sharing.spaces import available_ws_spaces

    names = available_ws_algorithms()
    spaces = available_ws_spaces()
    p = sub.add_parser(
        "search-ws", help="weight-sharing search: tss (DARTS, GDAS, SETN, ENAS, RSPS), sss "
                          "(TAS, FBNet-V2, TuNAS)",
        description="Train a supernet of --space with a weight-sharing NAS algorithm (or 'all' "
                    f"of the space's: {', '.join(names)}) for each seed; after every search "
                    "epoch the derived architecture is looked up in the benchmark (hp 200 on "
                    "tss, 90 on sss, seed mean; another dataset's longest hp) and one row is "
                    "written to Parquet. See docs/ALGORITHMS.md.")
    p.add_argument("algorithm", choices=[*names, "all"], help="algorithm, or 'all'")
    p.add_argument("--space", choices=spaces, default="tss",
                   help=f"search space ({', '.join(spaces)}; default tss); an algorithm that "
                        "does not search it is an error naming the ones that do, 'all' runs "
                        "every algorithm of the space")
    p.add_argument("--dataset", default="digits",
                   help="cifar10, cifar100, ImageNet16-120 (need --data-root) or a dataset of "
                        "the benchmark with x-valid/x-test sets (default: digits)")
    p.add_argument("--config", choices=tuple(CONFIGS), default="digits",
                   help="named settings: nats (the official runs) or digits (the bundled "
                        "tss-digits scale; default)")
    p.add_argument("--epochs", type=int, default=None, help="override the config's epochs")
    p.add_argument("--seeds", default="777,888,999", help="comma-separated seeds")
    p.add_argument("--bench", default=None,
                   help="benchmark directory of the space answering the derived archs "
                        "(default: the space's bundled digits benchmark, e.g. tss-digits)")
    p.add_argument("--data-root", default=None, help="folder of the CIFAR/ImageNet16 files")
    p.add_argument("--split-file", default=None,
                   help="the dataset's official split file (cifar-split.txt, "
                        "cifar100-test-split.txt, imagenet-16-120-test-split.txt); default: a "
                        "generated stratified split")
    p.add_argument("--out", required=True, help="output Parquet file (one row per epoch)")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default: cpu)")
    p.add_argument("--workers", type=int, default=None,
                   help="searches run in parallel processes (default: all CPUs, at most one "
                        "per search; results do not depend on it)")
    p.add_argument("--executor", choices=("local", "ray"), default="local",
                   help="local process pool (default) or Ray tasks (one GPU per search where "
                        "the cluster has GPUs and --device is not cpu; $RAY_ADDRESS attaches "
                        "to a cluster); the same rows either way")
    p.add_argument("--threads", type=int, default=1,
                   help="torch CPU threads per search (default: 1; CPU results are "
                        "bit-identical for one thread count)")
    p.add_argument("--checkpoint-dir", default=None,
                   help="checkpoint after every epoch here; a rerun resumes killed searches")
    p.add_argument("--warmup-ratio", type=float, default=0.0,
                   help="sss methods: no architecture steps and mostly full-width paths while "
                        "epoch < RATIO x epochs (NATS-Bench Fig. 5.7c: 0.3; default 0: none)")
    p.add_argument("--flops-target", type=float, default=None,
                   help="TAS only: the expected-FLOPs cost term toward this many MFLOPs (thesis "
                        "eq. 3.15; default: none, as NATS-Bench Fig. 5.7b)")
    p.add_argument("--flops-tolerance", type=float, default=0.05,
                   help="TAS cost term: no penalty within (1 -/+ t) x target (default 0.05)")
    p.add_argument("--on-missing", choices=("error", "surrogate", "train"), default="error",
                   help="a derived architecture the benchmark did not train (after the user "
                        "cache store): NaN (error, default), a seed-mean surrogate prediction "
                        "(surrogate) or trained now with the benchmark's protocol and cached "
                        "(train); the rows' source column says which (as `natsbench query`)")
    p.add_argument("--proxy-data", default=None,
                   help="a file of `natsbench proxy-data`: search on those training examples "
                        "only, half for the weights and half for the architecture (the "
                        "dataset's own x-valid is then unused)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=_search_ws)


def _search_ws(args: argparse.Namespace) -> int:
    from natsbench.errors import QueryError, check_output, check_range, require_dir, require_file
    from natsbench.resources import bundled_path
    from search_algorithms.runner import write_parquet
    from search_algorithms.weight_sharing import get_config
    from search_algorithms.weight_sharing.engine import (BenchOracle, algorithms_for_space,
                                                         check_algorithm_space, check_warmup)
    from search_algorithms.weight_sharing.grid import (WSJob, load_proxy_search_data,
                                                       parse_seeds, run_grid)
    from search_algorithms.weight_sharing.spaces import get_space_adapter

    # everything is checked here, before any search starts (a grid can run for hours)
    check_output(args.out, "--out", directory=False)
    seeds = parse_seeds(args.seeds)
    for seed in seeds:
        check_range("--seeds", seed, 0, 2**32 - 1)
    if args.epochs is not None:
        check_range("--epochs", args.epochs, 1, 10**5)
    if args.workers is not None:
        check_range("--workers", args.workers, 1, 4096)
    check_range("--threads", args.threads, 1, 4096)
    if args.data_root is not None:
        require_dir(args.data_root, "--data-root")
    if args.split_file is not None:
        require_file(args.split_file, "--split-file")
    if args.checkpoint_dir is not None:
        check_output(args.checkpoint_dir, "--checkpoint-dir", directory=True)
    check_range("--warmup-ratio", args.warmup_ratio, 0.0, 0.999999)
    changes: dict = {"warmup_ratio": args.warmup_ratio}
    if args.epochs is not None:
        changes["epochs"] = args.epochs
    if args.flops_target is not None:
        check_range("--flops-target", args.flops_target, 1e-9, 1e12)
        check_range("--flops-tolerance", args.flops_tolerance, 0.0, 1.0)
        changes.update(flops_target=args.flops_target, flops_tolerance=args.flops_tolerance)
    config = get_config(args.config, **changes)
    adapter = get_space_adapter(args.space)
    if args.bench:
        bench = str(require_dir(args.bench, "--bench"))
    elif adapter.bundled is not None:
        bench = str(bundled_path(*adapter.bundled))
    else:
        raise QueryError(f"space {args.space!r} has no bundled benchmark: give --bench")
    # the benchmark is of this space and answers this dataset (else a clear error)
    BenchOracle(bench, args.dataset, args.on_missing, space=args.space)
    if args.proxy_data is not None:  # a valid selection of the train split the search loads
        load_proxy_search_data(args.dataset, config, bench, args.proxy_data,
                               data_root=args.data_root, split_file=args.split_file)
    if args.algorithm == "all":
        algorithms = algorithms_for_space(args.space)
    else:
        check_algorithm_space(args.algorithm, args.space)
        algorithms = (args.algorithm,)
    for a in algorithms:
        check_warmup(a, args.warmup_ratio)
    if args.flops_target is not None and set(algorithms) != {"tas"}:
        raise QueryError(f"--flops-target is TAS's cost term; got algorithm(s) "
                         f"{', '.join(algorithms)} (use: tas)")
    jobs = [WSJob(a, args.dataset, s, args.space) for a in algorithms for s in seeds]
    workers = args.workers or max(1, min(len(jobs), os.cpu_count() or 1))
    start = time.perf_counter()
    frame = run_grid(jobs, config, bench, data_root=args.data_root,
                     split_file=args.split_file, device=args.device,
                     checkpoint_dir=args.checkpoint_dir, workers=workers, threads=args.threads,
                     executor=args.executor, on_missing=args.on_missing,
                     progress=not args.no_progress, proxy_data=args.proxy_data)
    elapsed = time.perf_counter() - start
    write_parquet(frame, args.out)
    last = frame.groupby(["algorithm", "seed"]).tail(1)
    summary = last.groupby("algorithm").agg(final=("reported", "mean"), std=("reported", "std"),
                                            time=("search_time", "mean"))
    print(f"{len(jobs)} searches, {len(frame)} rows in {elapsed:.1f} s -> {args.out}")
    print(summary.to_string(float_format=lambda v: f"{v:.2f}"))
    return 0

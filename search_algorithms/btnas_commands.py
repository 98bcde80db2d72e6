"""CLI: ``natsbench btnas`` -- BtNAS (or a DARTS-family strength) search on the ExtCell space.

Example::

    natsbench btnas --k 14 --dataset digits --out runs/btnas-k14 --train
    natsbench btnas --k 10 --strength darts --actall --out runs/darts-k10

Writes into ``--out``: ``rows.parquet`` (one row per search epoch: the k-ExtCell derived
then, looked up in the benchmark), ``strengths.npz`` (the final derivation strengths
``[2, 14, K]`` and the op set), ``result.json`` (the final cell, its accuracies and where they
came from) and ``checkpoints/`` (a rerun resumes).
"""
from __future__ import annotations

import argparse

#: the strength parametrisations (names of ``--strength``; no torch import for ``--help``)
STRENGTH_NAMES: tuple[str, ...] = ("btnas", "darts", "darts-elu", "fairdarts")
K_CHOICES: tuple[int, ...] = (10, 12, 14, 16)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "btnas", help="BtNAS / DARTS-family strength search on the ExtCell space (top-k rule)",
        description="Search a DARTS-cell supernet whose operation strengths follow a "
                    "parametrisation (BtNAS Beta distributions by default), derive a k-ExtCell "
                    "with the top-k survival rule (optionally ActAll), and look it up in the "
                    "bundled ExtCell benchmark of that k; --train trains it with that "
                    "benchmark's protocol when the benchmark lacks it. Weights train on "
                    "'train', strengths on 'x-valid'; no test set is read by the search. "
                    "See docs/ALGORITHMS.md.")
    p.add_argument("--k", type=int, choices=K_CHOICES, default=14,
                   help="operation budget of the derived ExtCell pair (default 14)")
    p.add_argument("--dataset", default="digits", help="dataset of the benchmark (default: digits)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--strength", choices=STRENGTH_NAMES, default="btnas",
                   help="strength parametrisation (default: btnas)")
    p.add_argument("--actall", action="store_true",
                   help="ActAll: divide each intermediate node's incoming strengths by their "
                        "max before the top-k rule (every node keeps an operation)")
    p.add_argument("--derivation", choices=("topk", "darts"), default="topk",
                   help="topk survival rule (default) or the DARTS argmax + two-edge rule "
                        "(a DARTS cell pair, 16 ops; --k then only picks the benchmark)")
    p.add_argument("--kl-weight", type=float, default=1e-3,
                   help="BtNAS lambda of the KL term (default 0.001)")
    p.add_argument("--train", action="store_true",
                   help="train the derived cell with the benchmark's recorded protocol when the "
                        "benchmark and the user cache store lack it (result cached)")
    p.add_argument("--seed", type=int, default=777, help="search seed (default 777)")
    p.add_argument("--epochs", type=int, default=None,
                   help="search epochs (default: the na-digits config's)")
    p.add_argument("--bench", default=None,
                   help="ExtCell benchmark directory (default: the bundled digits benchmark of --k)")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default: cpu)")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument("--proxy-data", default=None,
                   help="a file of `natsbench proxy-data`: search on those training examples "
                        "only, half for the weights and half for the strengths (Na 2022, ch. 3)")
    p.set_defaults(func=_btnas)


def _btnas(args: argparse.Namespace) -> int:
    import io
    import json
    import math
    import time
    from pathlib import Path

    from natsbench.errors import QueryError, check_output, check_range, require_dir
    from natsbench.resources import bundled_extcell, bundled_path
    from natsbench.store.records import atomic_write_bytes
    from search_algorithms.runner import write_parquet
    from search_algorithms.weight_sharing import get_config
    from search_algorithms.weight_sharing.btnas import (evaluate_arch,
                                                        search_strengths)

    out = check_output(args.out, "--out", directory=True)
    check_range("--seed", args.seed, 0, 2**32 - 1)
    if args.epochs is not None:
        check_range("--epochs", args.epochs, 1, 10**5)
    check_range("--threads", args.threads, 1, 4096)
    if not (math.isfinite(args.kl_weight) and args.kl_weight >= 0):
        raise QueryError(f"--kl-weight must be a finite number >= 0; got {args.kl_weight}")
    bench = (str(require_dir(args.bench, "--bench")) if args.bench
             else str(bundled_path(*bundled_extcell(args.k))))
    changes = {"k": args.k, "actall": args.actall, "derivation": args.derivation,
               "kl_weight": args.kl_weight}
    if args.epochs is not None:
        changes["epochs"] = args.epochs
    config = get_config("na-digits", **changes)
    from search_algorithms.weight_sharing.engine import BenchOracle

    BenchOracle(bench, args.dataset, "error", space="extcell")  # a clear error before searching
    out = Path(out)
    search_kw: dict = {"checkpoint_dir": out / "checkpoints"}
    proxy: dict = {}
    if args.proxy_data is not None:   # checked (dataset, split, indices) before any search
        from search_algorithms.weight_sharing.grid import load_proxy_search_data, proxy_digest

        data, selection = load_proxy_search_data(args.dataset, config, bench, args.proxy_data)
        # a proxy search never resumes a full-data checkpoint, nor another file's
        search_kw = {"data": data,
                     "checkpoint_dir": out / "checkpoints" / f"proxy-{proxy_digest(args.proxy_data)}"}
        proxy = {"proxy_data": str(args.proxy_data),
                 "proxy_selection": str(selection.provenance.get("selection", "")),
                 "proxy_k": len(selection), "proxy_seed": selection.seed}
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    rows, strengths, ops = search_strengths(
        args.strength, args.dataset, config, args.seed, bench, device=args.device,
        progress=not args.no_progress, num_threads=args.threads, **search_kw)
    search_wall = time.perf_counter() - start
    import numpy as np
    import pandas as pd

    write_parquet(pd.DataFrame(rows), out / "rows.parquet")
    buf = io.BytesIO()
    np.savez(buf, strengths=strengths, ops=np.array(ops))
    atomic_write_bytes(out / "strengths.npz", buf.getvalue())
    arch = rows[-1]["arch"]
    answer = evaluate_arch(bench, args.dataset, arch, train=args.train, device=args.device)
    result = {"strength": args.strength, "k": args.k, "actall": args.actall,
              "derivation": args.derivation, "seed": args.seed, "epochs": config.epochs,
              "arch": arch, **answer, "search_time": rows[-1]["search_time"],
              "wall_time": time.perf_counter() - start, "search_wall_time": search_wall,
              **proxy}
    atomic_write_bytes(out / "result.json", json.dumps(result, indent=1).encode())
    print(f"{args.strength} k={args.k}{' actall' if args.actall else ''} seed {args.seed}: {arch}")
    print(f"test {answer['reported']:.2f} % valid {answer['valid']:.2f} % (source "
          f"{answer['source']}); search {rows[-1]['search_time']:.1f} s -> {out}")
    return 0

"""CLI: ``natsbench query``."""
from __future__ import annotations

import argparse
import json
import logging
import math

import numpy as np

from natsbench.errors import QueryError

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("query", help="metrics and costs of one architecture",
                       description="Print the metrics (last epoch, or --epoch) and costs of one "
                                   "architecture, given as an index or an arch string.")
    p.add_argument("bench", help="benchmark directory (or an official archive)")
    p.add_argument("arch", help="architecture index or arch string")
    p.add_argument("--dataset", required=True, help="e.g. cifar10-valid, cifar10, cifar100, ImageNet16-120")
    p.add_argument("--hp", required=True, help="training length, e.g. 12 or 200 (tss), 01/12/90 (sss)")
    p.add_argument("--epoch", type=int, default=None, help="0-based epoch (default: last)")
    p.add_argument("--seed", type=_seed, default="mean", help="a seed (int), or 'mean' over seeds (default)")
    p.add_argument("--surrogate", action="store_true",
                   help="answer an architecture the benchmark did not train with its surrogates "
                        "(predictions stored by `natsbench surrogate fit`, else a model fitted "
                        "now); predicted values are flagged (seed means only)")
    p.add_argument("--on-missing", choices=("error", "surrogate", "train"), default=None,
                   help="an architecture the benchmark did not train: report it as such "
                        "(error, default), predict it (surrogate, same as --surrogate), or "
                        "train it now with the benchmark's recorded protocol and seed, caching "
                        "the record in the user cache store (train; the next query of it is a "
                        "table hit)")
    p.add_argument("--refit", action="store_true",
                   help="with --surrogate: ignore stored predictions and fit the surrogates now "
                        "(needed for arch strings outside a sample benchmark, or another --epoch)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_query)


def _seed(text: str) -> int | str:
    if text == "mean":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer seed or 'mean', got {text!r}") from None


def _query(args: argparse.Namespace) -> int:
    from natsbench.api.compat import open_as_bench
    from natsbench.api.evaluation import answer_arch
    from natsbench.store.records import COST_NAMES

    bench = open_as_bench(args.bench)
    arch = int(args.arch) if args.arch.lstrip("-").isdigit() else args.arch
    try:
        index = bench.index_of(arch)
    except QueryError as exc:
        if not isinstance(arch, str):
            raise
        # a valid architecture outside the benchmark's table: the cache, a surrogate fitted
        # now or live training may answer it; anything else keeps the benchmark's error
        from natsbench.api.surrogate import bench_space_options
        from natsbench.errors import NatsBenchError
        from natsbench.spaces import get_space

        try:
            arch = get_space(bench.space, **bench_space_options(bench)).validate(arch)
        except NatsBenchError:
            raise exc from None
        index = None
    arch_str = bench.arch_strs[index] if index is not None else arch
    seed = args.seed
    names = list(bench.metric_names(args.dataset, args.hp)) + list(COST_NAMES)
    present = bench.present(args.dataset, args.hp, archs=[index])[0] if index is not None \
        else np.zeros(len(bench.seeds(args.dataset, args.hp)), dtype=bool)
    policy = args.on_missing or ("surrogate" if args.surrogate else "error")
    if args.refit and policy != "surrogate":
        raise QueryError("--refit applies to surrogate answers: add --surrogate (or --on-missing surrogate)")
    answer = answer_arch(bench, arch_str, index, args.dataset, args.hp, names, on_missing=policy,
                         epoch=args.epoch, seed=seed, refit=args.refit,
                         trainer=_trainer() if policy == "train" else None, progress=True)
    values, source, measured = answer.values, answer.source, answer.measured
    predicted, unanswered, record = answer.predicted, answer.unanswered, answer.record
    out = {"index": index, "arch": arch_str, "dataset": args.dataset,
           "hp": args.hp, "seed": args.seed,
           "epoch": args.epoch if args.epoch is not None else bench.epochs(args.dataset, args.hp) - 1,
           "seeds_run": [s for s, ran in zip(bench.seeds(args.dataset, args.hp), present) if ran],
           "measured": measured, "predicted": predicted, "unanswered": unanswered, "source": source,
           "values": {k: (None if math.isnan(v) else v) for k, v in values.items()}}
    if args.json:
        print(json.dumps(out, indent=1))
        return 0
    print(f"[{index}] {out['arch']}")
    print(f"{args.dataset} hp {args.hp}, epoch {out['epoch']}, seed {args.seed} (runs: {out['seeds_run']})"
          f", source: {source}" + (f" (seed {record.seed}, user cache store)" if record else ""))
    if not measured and not predicted:
        print("  not trained in this benchmark" + ("" if args.surrogate else
                                                   " (--surrogate predicts it)"))
    units = {"params": "M", "flops": "M", "latency": "s"}
    for k, v in out["values"].items():
        unit = units.get(k, "%" if k.endswith("acc1") or k.endswith("acc5") else ("s" if k.endswith("time") else ""))
        flag = ("  (predicted)" if k in predicted else
                f"  (no surrogate answer: {unanswered[k]})" if k in unanswered else "")
        print(f"  {k:<18} {'n/a' if v is None else f'{v:.6g}'} {unit}{flag}")
    return 0


def _trainer():
    """:func:`natsbench.build.on_demand.train_missing` (the build layer trains)."""
    from natsbench.build.on_demand import train_missing

    return train_missing

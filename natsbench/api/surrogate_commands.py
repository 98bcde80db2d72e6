"""CLI: ``natsbench surrogate fit``."""
from __future__ import annotations

import argparse
import math


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "surrogate", help="fit surrogates that answer for architectures a benchmark lacks",
        description="Surrogate models trained on a benchmark's measured architectures; their "
                    "answers are always flagged as predicted.")
    cmds = p.add_subparsers(dest="surrogate_command", metavar="SUBCOMMAND", required=True)
    f = cmds.add_parser(
        "fit", help="fit a surrogate, report its held-out Kendall tau, store its predictions",
        description="Fit a surrogate of one metric on the measured architectures (seed means), "
                    "report Kendall's tau on a random hold-out of them, refit on all of them and "
                    "store the answers for every architecture of the benchmark under "
                    "BENCH/surrogate/<dataset>/<hp>/<metric>.parquet (+ .json provenance).")
    f.add_argument("bench", help="benchmark directory")
    f.add_argument("--dataset", required=True, help="dataset of the group, e.g. cifar10-valid or digits")
    f.add_argument("--hp", required=True, help="training length of the group, e.g. 12")
    f.add_argument("--metric", required=True, action="append",
                   help="metric, e.g. x-valid_acc1, or a cost (params, flops, latency); repeat it "
                        "or give a comma-separated list to fit several, one model each")
    f.add_argument("--epoch", type=int, default=None, help="0-based epoch of the metric (default: last)")
    f.add_argument("--model", choices=["gbt", "gp"], default="gbt",
                   help="gbt: gradient-boosted trees (default); gp: Gaussian process")
    f.add_argument("--holdout", type=float, default=0.2,
                   help="fraction of the measured archs held out to measure Kendall's tau "
                        "(default 0.2; 0: no hold-out)")
    f.add_argument("--seed", type=int, default=0, help="seed of the split and the model (default 0)")
    f.add_argument("--no-save", action="store_true", help="report only; store nothing")
    f.set_defaults(func=_fit)


def _fit(args: argparse.Namespace) -> int:
    import natsbench
    from natsbench.api.surrogate import fit_surrogate, holdout_split, save_surrogate_predictions
    from natsbench.errors import QueryError, check_range
    from natsbench.store.records import COST_NAMES

    check_range("--seed", args.seed, 0)
    bench = natsbench.open_bench(args.bench)
    metrics = list(dict.fromkeys(m.strip() for arg in args.metric for m in arg.split(",") if m.strip()))
    known = set(bench.metric_names(args.dataset, args.hp)) | set(COST_NAMES)
    unknown = [m for m in metrics if m not in known]
    if not metrics:
        raise QueryError(f"--metric {args.metric} names no metric; valid: {sorted(known)}")
    if unknown:  # before any fit, so nothing is half-stored
        raise QueryError(f"unknown metric(s) {unknown} for {args.dataset} hp {args.hp}; valid: {sorted(known)}")
    for metric in metrics:
        holdout = None
        if args.holdout:
            train, test = holdout_split(bench, args.dataset, args.hp, metric, args.holdout,
                                        seed=args.seed, epoch=args.epoch)
            split_model = fit_surrogate(bench, args.dataset, args.hp, metric, model=args.model,
                                        epoch=args.epoch, seed=args.seed, archs=train)
            tau = split_model.kendall_tau(test)
            holdout = {"fraction": args.holdout, "seed": args.seed, "n_train": split_model.train_size,
                       "n_test": int(test.size), "kendall_tau": None if math.isnan(tau) else tau}
            print(f"{args.model} surrogate of {metric} ({args.dataset} hp {args.hp}): "
                  f"Kendall tau {tau:.4f} on {test.size} held-out archs (trained on {split_model.train_size})")
        model = fit_surrogate(bench, args.dataset, args.hp, metric, model=args.model,
                              epoch=args.epoch, seed=args.seed)
        print(f"final model of {metric} trained on {model.train_size} measured of {len(bench)} archs")
        if not args.no_save:
            path = save_surrogate_predictions(bench, model, holdout=holdout)
            print(f"predictions for {len(bench)} archs: {path}")
    return 0

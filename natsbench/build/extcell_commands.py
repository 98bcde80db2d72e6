"""CLI: ``natsbench extcell-edf``."""
from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "extcell-edf", help="EDF statistics of DARTS / k-ExtCell sample benchmarks (Na, Fig. 4.2)",
        description="Read benchmarks of random DARTS cells and k-ExtCells (built with "
                    "`natsbench build --space darts|extcell [--extcell-k K] --archs sample:N`), "
                    "and write the tidy samples table (group, k, genotype, params, flops, error), "
                    "each group's error EDF on a fixed grid and its params-normalized EDF (--out, "
                    "CSV), and per-group statistics with KS distances (--out with suffix .json).")
    p.add_argument("benches", nargs="+", metavar="BENCH", help="sample benchmark directories")
    p.add_argument("--out", required=True, help="EDF curves CSV; statistics go to the same name with .json")
    p.add_argument("--samples", default=None,
                   help="samples CSV (default: samples.csv beside --out; "
                        "data/extcell/samples.csv is what `natsbench reproduce extcell-edf` reads)")
    p.add_argument("--group", action="append", default=None, dest="groups", metavar="LABEL",
                   help="label of each BENCH, in order (repeat once per BENCH; default: DARTS, "
                        "or <k>-ExtCell from the genotypes)")
    p.add_argument("--dataset", default=None, help="dataset (default: each benchmark's only one)")
    p.add_argument("--hp", default=None, help="training-length tag (default: each benchmark's only one)")
    p.add_argument("--set", default=None, dest="eval_set",
                   help="set whose accuracy gives error = 100 - acc (default: x-test, else ori-test)")
    p.add_argument("--epoch", type=int, default=None, help="0-based epoch (default: last)")
    p.add_argument("--bins", type=int, default=10, help="params bins of the normalized EDF (default 10)")
    p.add_argument("--params-range", type=float, nargs=2, default=None, metavar=("LO", "HI"),
                   help="params range (M) of the normalized EDF (default: the range all groups share)")
    p.add_argument("--grid", type=float, nargs=3, default=None, metavar=("LO", "HI", "NUM"),
                   help="error grid in %% (default: 0 100 1001)")
    p.add_argument("--reference", default=None, help="group the KS statistics compare to (default: the first)")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    import numpy as np

    from natsbench.build.extcell_edf import extcell_edf, write_extcell_edf
    from natsbench.errors import ConfigError, check_output, check_range

    check_output(args.out, "--out", directory=False)     # before reading anything
    if args.samples is not None:
        check_output(args.samples, "--samples", directory=False)
    check_range("--bins", args.bins, 1, 10**6)
    grid = None
    if args.grid is not None:
        lo, hi, num = args.grid
        check_range("--grid LO", lo)
        check_range("--grid HI", hi)
        check_range("--grid NUM", num, 2, 10**7)
        if not lo < hi or num != int(num):
            raise ConfigError(f"--grid {lo:g} {hi:g} {num:g}: need LO < HI and an integer NUM >= 2")
        grid = np.linspace(lo, hi, int(num))
    if args.params_range is not None:
        lo, hi = args.params_range
        check_range("--params-range LO", lo, 0.0)
        check_range("--params-range HI", hi, 0.0)
        if not lo < hi:
            raise ConfigError(f"--params-range {lo:g} {hi:g}: need 0 <= LO < HI (M params)")
    result = extcell_edf(args.benches, groups=args.groups, dataset=args.dataset, hp=args.hp,
                         eval_set=args.eval_set, epoch=args.epoch, grid=grid, bins=args.bins,
                         params_range=tuple(args.params_range) if args.params_range else None,
                         reference=args.reference)
    paths = write_extcell_edf(result, args.out, samples_out=args.samples)
    stats = result.statistics
    print(f"{len(result.samples)} samples in {len(stats)} groups "
          f"(error = 100 - {', '.join(result.settings['set'])}_acc1)")
    for row in stats.itertuples():
        print(f"  {row.group:<12} n={row.n:<4} mean error {row.mean_error:6.2f}%  min {row.min_error:6.2f}%  "
              f"KS vs {row.reference}: {row.ks:.3f} (params-normalized {row.ks_params_normalized:.3f})")
    for role, path in paths.items():
        print(f"{role}: {path}")
    return 0

"""CLI: ``natsbench extcell-edf``: the samples table of sample benchmarks
(:mod:`natsbench.build.extcell_samples`), its EDF statistics (:mod:`analysis.extcell`), and
the files they are stored in."""
from __future__ import annotations

import argparse
import io
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from analysis.extcell import ExtCellEDF


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

    from analysis.extcell import extcell_edf_statistics
    from natsbench.build.extcell_samples import sample_table
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
    samples = sample_table(args.benches, groups=args.groups, dataset=args.dataset, hp=args.hp,
                           eval_set=args.eval_set, epoch=args.epoch)
    result = extcell_edf_statistics(samples, grid=grid, bins=args.bins, reference=args.reference,
                                    params_range=tuple(args.params_range) if args.params_range else None)
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


def _csv_bytes(frame: "pd.DataFrame") -> bytes:
    buf = io.StringIO()
    frame.to_csv(buf, index=False)
    return buf.getvalue().encode("utf-8")


def write_extcell_edf(result: "ExtCellEDF", out: str | os.PathLike,
                      samples_out: str | os.PathLike | None = None) -> dict[str, Path]:
    """Write the results atomically (each file: temp + fsync + rename).

    * ``out``: the EDF curves CSV (``group, x, edf, edf_params_normalized``);
    * ``out`` with suffix ``.json``: settings and per-group statistics;
    * ``samples_out`` (default ``samples.csv`` beside ``out``): the tidy samples table.

    Returns the paths by role (``curves``, ``statistics``, ``samples``).
    """
    from natsbench.errors import QueryError
    from natsbench.store.records import atomic_write_bytes

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

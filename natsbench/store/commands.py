"""CLI: ``natsbench info``, ``import-official``, ``import-table``, ``compact``."""
from __future__ import annotations

import argparse
import json

from natsbench.errors import StoreError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="what a benchmark holds",
                       description="Show a benchmark's space, datasets, hps, seeds, epochs, "
                                   "metrics, how many architectures are evaluated, and provenance.")
    p.add_argument("bench", help="benchmark directory (or an official archive, imported on the fly)")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.set_defaults(func=_info)

    p = sub.add_parser("import-official", help="import an official NATS-Bench or NAS-Bench-201 archive",
                       description="Import an official NATS-Bench archive (the fast-mode "
                                   "'*-simple' directory, any subset of its per-arch files, or a "
                                   "single '*.pickle.pbz2' file) or a NAS-Bench-201 archive "
                                   "('NAS-Bench-201-v1_0-e61699.pth', 'NAS-Bench-201-v1_1-096897.pth'; "
                                   "'less'/'full' become hp 12/200; torch is not needed) into a "
                                   "natsbench benchmark. Files are read with a restricted unpickler "
                                   "that admits only plain containers and numbers: a hostile or "
                                   "truncated file is refused with its name. The per-arch files of a "
                                   "fast-mode directory are read by a process pool; the benchmark is "
                                   "built in a hidden '.<out>.partial-*' directory renamed into place "
                                   "at the end, so an error, Ctrl-C or SIGTERM leaves nothing behind.")
    p.add_argument("src", help="official archive directory or file (.pickle.pbz2 or .pth)")
    p.add_argument("--out", required=True, help="benchmark directory to create")
    p.add_argument("--space", choices=["tss", "sss", "topology", "size"], help="default: detected")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument("--workers", type=int, default=None,
                   help="processes reading a fast-mode directory (default: the CPUs available; "
                        "1 reads in this process)")
    p.set_defaults(func=_import_official)

    p = sub.add_parser("import-table", help="turn a CSV/Parquet table of archs and metrics into a benchmark",
                       description="Create a benchmark from a table with an arch-string column and "
                                   "metric columns (named like x-valid_acc1, ori-test_acc1, "
                                   "train_loss), optional seed/epoch/params/flops/latency columns.")
    p.add_argument("file", help=".csv or .parquet file")
    p.add_argument("--out", required=True, help="benchmark directory to create")
    p.add_argument("--space", required=True, help="search space of the arch strings (tss, sss, ...)")
    p.add_argument("--dataset", required=True, help="dataset the metrics belong to")
    p.add_argument("--hp", required=True, help="training-length tag of the runs (e.g. 12, 200)")
    p.add_argument("--arch-column", default="arch", help="name of the arch-string column (default: arch)")
    p.add_argument("--only-listed", action="store_true",
                   help="index only the table's archs (default: the whole space when enumerable)")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    p.set_defaults(func=_import_table)

    p = sub.add_parser("compact", help="merge run records into a benchmark's dense arrays",
                       description="Merge finished run records (records/) into the dense arrays. "
                                   "Failed records are kept. Do not run while a build writes.")
    p.add_argument("bench", help="benchmark directory")
    p.set_defaults(func=_compact)


def _info(args: argparse.Namespace) -> int:
    from natsbench.api.compat import open_as_bench

    bench = open_as_bench(args.bench)
    m = bench.manifest
    groups = []
    for (dataset, hp), info in bench.reader.group_infos.items():
        groups.append({"dataset": dataset, "hp": hp, "seeds": info.seeds, "epochs": info.epochs,
                       "evaluated": int(bench.evaluated(dataset, hp).sum()), "metrics": info.metrics})
    summary = {"path": str(bench.path), "space": m.space, "archs": len(bench),
               "arch_order": m.arch_order, "datasets": m.datasets, "groups": groups,
               "pending_records": bench.reader.num_pending_records, "provenance": m.provenance}
    if args.json:
        print(json.dumps(summary, indent=1))
        return 0
    print(f"benchmark   {summary['path']}")
    print(f"space       {m.space}  ({len(bench)} architectures, {m.arch_order} order)")
    for g in groups:
        print(f"  {g['dataset']:<15} hp {g['hp']:>4}: {g['evaluated']:>6} archs evaluated, "
              f"seeds {g['seeds']}, {g['epochs']} epochs, {len(g['metrics'])} metrics")
    print("  metrics: " + ", ".join(sorted({x for g in groups for x in g["metrics"]})))
    if summary["pending_records"]:
        print(f"pending     {summary['pending_records']} uncompacted records (visible to queries)")
    print("provenance")
    for key, value in m.provenance.items():
        print(f"  {key}: {value}")
    return 0


def _import_official(args: argparse.Namespace) -> int:
    from natsbench.store.official import import_official

    if args.workers is not None and args.workers < 1:
        raise StoreError(f"--workers must be at least 1, got {args.workers}")
    out = import_official(args.src, args.out, space=args.space, overwrite=args.overwrite,
                          progress=not args.no_progress, workers=args.workers)
    print(f"imported {args.src} -> {out}")
    return 0


def _import_table(args: argparse.Namespace) -> int:
    from natsbench.store.table_import import import_table

    out = import_table(args.file, args.out, space=args.space, dataset=args.dataset, hp=args.hp,
                       arch_column=args.arch_column, all_archs=not args.only_listed,
                       overwrite=args.overwrite)
    print(f"imported {args.file} -> {out}")
    return 0


def _compact(args: argparse.Namespace) -> int:
    from natsbench.store.compact import compact

    counts = compact(args.bench)
    print(f"merged {counts['merged']} records; kept {counts['failed_kept']} failed records")
    return 0

"""CLI sub-commands of the analysis package: ``reproduce`` and ``report``."""
from __future__ import annotations

import argparse
import os
from pathlib import Path

DEFAULT_RESULTS = Path("results")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``reproduce NAME`` (one nested sub-command per registered reproduction) and ``report``."""
    from analysis.reproduce import REGISTRY

    rep = subparsers.add_parser(
        "reproduce", help="reproduce a published figure or table",
        description="Reproduce a published figure or table; writes PNG/PDF figures, the CSV "
                    "of every number plotted and summary.md. See docs/REPRODUCING.md.")
    names = rep.add_subparsers(dest="reproduction", metavar="NAME")
    for entry in REGISTRY.values():
        p = names.add_parser(entry.name, help=entry.help,
                             description=f"{entry.help}. Source: {entry.source}.")
        p.add_argument("--out", type=Path, default=None,
                       help=f"output folder (default: {DEFAULT_RESULTS}/{entry.name})")
        p.add_argument("--report", action="store_true",
                       help="also write the HTML report (index.html) into the output folder")
        entry.add_arguments(p)
        p.set_defaults(func=_reproduce)
    rep.set_defaults(func=_list_reproductions)

    report = subparsers.add_parser(
        "report", help="one static HTML page with all figures and tables of a results folder",
        description="Write OUT/index.html listing every PNG figure (with its PDF/CSV) and CSV "
                    "table found under --results; relative links only, readable offline.")
    report.add_argument("--out", type=Path, required=True, help="folder of the report (index.html)")
    report.add_argument("--results", type=Path, default=None,
                        help="results folder to list (default: --out itself)")
    report.add_argument("--title", default="natsbench results", help="page title")
    report.add_argument("--max-rows", type=int, default=100, help="rows shown per table (default 100)")
    report.set_defaults(func=_report)


def _list_reproductions(args: argparse.Namespace) -> int:
    from analysis.reproduce import REGISTRY

    print("usage: natsbench reproduce NAME [--out DIR] [...]\n\nreproductions:")
    for entry in REGISTRY.values():
        print(f"  {entry.name:<18} {entry.help}\n  {'':<18} source: {entry.source}")
    return 2


def _reproduce(args: argparse.Namespace) -> int:
    from analysis.report import build_report
    from analysis.reproduce import get_reproduction

    entry = get_reproduction(args.reproduction)
    out = args.out if args.out is not None else DEFAULT_RESULTS / entry.name
    args.out = out   # the final folder; entry.run writes into a staging folder (see _staged)
    result = _staged(entry, args, out)
    print(result.summary)
    print(f"{entry.name}: wrote {len(result.files)} files to {result.out_dir}")
    if args.report:
        print(f"report: {build_report(result.out_dir, result.out_dir, title=f'natsbench reproduce {entry.name}')}")
    return 0


def _staged(entry, args: argparse.Namespace, out: Path):
    """Run a reproduction into a temporary folder beside ``out`` and move its files into
    ``out`` only when it succeeds: a failed run leaves nothing (not even an empty ``out``).
    ``args.out`` stays the final folder, for state meant to outlive a failed run (the
    checkpoints of nats-weightsharing's searches, written only once a search epoch ended)."""
    import shutil
    import tempfile

    from natsbench.errors import check_output

    check_output(out, "--out", directory=True)
    made = next((p for p in reversed([out, *out.parents]) if not p.exists()), None)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        result = entry.run(args, staging)
        out.mkdir(exist_ok=True)
        for src in sorted(staging.rglob("*")):
            if src.is_file():
                dst = out / src.relative_to(staging)
                dst.parent.mkdir(parents=True, exist_ok=True)
                os.replace(src, dst)
    except BaseException:
        if made is not None and made != out:
            shutil.rmtree(made, ignore_errors=True)  # parents this run created
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    result.files = [out / Path(f).relative_to(staging) if Path(f).is_relative_to(staging) else Path(f)
                    for f in result.files]
    result.out_dir = out
    result.summary = result.summary.replace(str(staging), str(out))
    return result


def _report(args: argparse.Namespace) -> int:
    from analysis.report import build_report

    results = args.results if args.results is not None else args.out
    path = build_report(results, args.out, title=args.title, max_rows=args.max_rows)
    print(f"report: {path}")
    return 0

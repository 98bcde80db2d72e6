"""CLI: ``natsbench build``."""
from __future__ import annotations

import argparse


def _seeds(text: str) -> list[int]:
    try:
        seeds = [int(s) for s in text.replace(",", " ").split()]
    except ValueError:
        seeds = []
    if not seeds or min(seeds) < 0:
        raise argparse.ArgumentTypeError(f"--seeds takes one or more non-negative integers, e.g. "
                                         f"'777 888' or 777,888; got {text!r}")
    return seeds


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return value


def _gpus(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"--gpus-per-job takes a number >= 0 like 1 or 0.5; got {text!r}")
    return value


def _model_kwargs(text: str) -> dict:
    out = {}
    for item in filter(None, (t.strip() for t in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise argparse.ArgumentTypeError(f"--model takes key=value pairs like 'C=8,N=1'; got {item!r}")
        try:
            out[key.strip()] = int(value)
        except ValueError:
            try:
                out[key.strip()] = float(value)
            except ValueError:
                out[key.strip()] = value.strip()
    return out


def _space_options(args: argparse.Namespace) -> dict:
    # get_space rejects k for spaces other than extcell, naming the valid options
    return {} if args.extcell_k is None else {"k": args.extcell_k}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "build", help="train a benchmark table (resumable; local pool or Ray)",
        description="Plan one job per (arch, dataset, seed), skip jobs whose record exists, "
                    "train the rest, record failures and go on, and compact the records into "
                    "the benchmark at the end. Kill it any time and run the same command to resume; "
                    "Ctrl-C (SIGINT) or SIGTERM stops it gracefully (running jobs finish their "
                    "records, the wall time is added to the provenance).")
    p.add_argument("--space", required=True, choices=["tss", "sss", "darts", "extcell"],
                   help="search space: tss (topology), sss (size), darts (DARTS genotypes), "
                        "extcell (k-ExtCell, see --extcell-k)")
    p.add_argument("--dataset", required=True, action="append", dest="datasets",
                   help="dataset (repeatable): cifar10-valid, cifar10, cifar100, ImageNet16-120, digits")
    p.add_argument("--protocol", required=True,
                   help="H0 (12 epochs), H1 (200), H2 (90), or a proxy like 'H0:epochs=4,batch_size=64'")
    p.add_argument("--seeds", type=_seeds, default=[777], help="training seeds, e.g. '777,888' (default 777)")
    p.add_argument("--store", required=True, help="benchmark directory (created or resumed)")
    p.add_argument("--archs", default="all", help="all | unique (tss: one per isomorphism class) | sample:N | "
                        "stratified:N (each choice equally often per dimension) | FILE")
    p.add_argument("--workers", type=_positive_int, default=None,
                   help="parallel training jobs (default 1; with --executor ray: as many as the "
                        "cluster's CPUs/GPUs fit, or N to cap the jobs in flight at 2N)")
    p.add_argument("--executor", choices=["local", "ray"], default="local",
                   help="local: a process pool on this machine; ray: Ray tasks (the ray extra), "
                        "each asking for --threads-per-job CPUs and --gpus-per-job GPUs, on the "
                        "cluster at --ray-address, else a Ray instance started on this machine")
    p.add_argument("--ray-address", default=None,
                   help="Ray cluster to attach to, e.g. 10.0.0.5:6379 or auto (default: "
                        "$RAY_ADDRESS; unset: start a local instance); --executor ray only")
    p.add_argument("--gpus-per-job", type=_gpus, default=None,
                   help="GPUs per Ray task; fractions share a GPU (0.5: two jobs per GPU). "
                        "Default: 1 where the cluster has GPUs and --device is not cpu, else 0")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: CUDA if available)")
    p.add_argument("--data-root", default=None, help="folder with the dataset files (not needed for digits)")
    p.add_argument("--retry-failed", action="store_true", help="rerun jobs recorded as failed")
    p.add_argument("--limit", type=int, default=None, help="run at most N jobs now (resume later)")
    p.add_argument("--no-compact", action="store_true", help="leave records uncompacted")
    p.add_argument("--model", type=_model_kwargs, default={},
                   help="network settings, e.g. 'C=8,N=1' (tss/sss skeleton width and cells per stage)")
    p.add_argument("--image-size", type=int, default=None, help="side of the digits images (default 16)")
    p.add_argument("--threads-per-job", type=int, default=1,
                   help="torch threads per job (default 1; results depend on it, so it is fixed)")
    p.add_argument("--extcell-k", type=int, default=None,
                   help="operation budget k of --space extcell (sample/validate k-ExtCells; default 16)")
    p.set_defaults(func=_build)


def _build(args: argparse.Namespace) -> int:
    from natsbench.build.builder import build
    from natsbench.errors import check_range

    if args.workers is not None:
        check_range("--workers", args.workers, 1, 4096)
    check_range("--threads-per-job", args.threads_per_job, 1, 4096)
    if args.limit is not None:
        check_range("--limit", args.limit, 0)
    if args.image_size is not None:
        check_range("--image-size", args.image_size, 4, 1024)
    if args.extcell_k is not None:
        check_range("--extcell-k", args.extcell_k, 1, 10**6)
    report = build(space=args.space, datasets=args.datasets, protocol=args.protocol, seeds=args.seeds,
                   store=args.store, archs=args.archs, workers=args.workers, executor=args.executor,
                   device=args.device, data_root=args.data_root, retry_failed=args.retry_failed,
                   compact_at_end=not args.no_compact, limit=args.limit,
                   model_kwargs=args.model, image_size=args.image_size,
                   threads_per_job=args.threads_per_job, space_options=_space_options(args),
                   ray_address=args.ray_address, gpus_per_job=args.gpus_per_job)
    print(f"build: {report.ok} trained, {report.failed} failed, {report.skipped} already done, "
          f"{report.seconds:.1f} s ({report.archs_per_hour:.0f} runs/hour)")
    for failure in report.failures[:5]:
        last = (failure.error or "").strip().splitlines()[-1:] or [""]
        print(f"  failed: {failure.job.arch} on {failure.job.dataset} seed {failure.job.seed}: {last[0]}")
    return 0 if report.failed == 0 else 3

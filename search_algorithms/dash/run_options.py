"""The command-line options that ``natsbench dash`` and ``natsbench d2nas`` share (device,
seed, threads, progress, proxy data, FSD50K feature cache, out-of-core batches), their checks,
and the proxy-data selection they read. One definition, so the two pipelines take the same
flags with the same meaning and the same errors."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Sequence

__all__ = ["add_run_options", "check_run_options", "read_proxy_data"]

OUT_OF_CORE = {"auto": None, "on": True, "off": False}


def add_run_options(p: argparse.ArgumentParser, *, device_help: str, proxy_help: str) -> None:
    """Add ``--device --seed --threads --no-progress --proxy-data --feature-cache
    --out-of-core`` to ``p``; ``device_help``/``proxy_help`` say what differs per pipeline."""
    p.add_argument("--device", default=None, help=device_help)
    p.add_argument("--seed", type=int, default=0, help="seed (default: 0)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--proxy-data", default=None, help=proxy_help)
    p.add_argument("--feature-cache", default=None, metavar="DIR|off",
                   help="FSD50K: folder of the log-mel feature cache (default: features/ below "
                        "$NATSBENCH_CACHE or ~/.cache/natsbench; computed once, memory-mapped "
                        "afterwards); 'off' computes the features into memory on every load")
    p.add_argument("--out-of-core", choices=tuple(OUT_OF_CORE), default="auto",
                   help="keep the training data on the host and move each batch to the device "
                        "(auto: when it is memory-mapped, e.g. a feature cache, or too large "
                        "for the device; the results are the same)")


def check_run_options(args: argparse.Namespace, epoch_options: Sequence[str],
                      max_seed: int) -> dict[str, Any]:
    """Check the shared options (``--device`` too: before any data is loaded), the
    ``--*-epochs`` overrides named by ``epoch_options`` (attribute names) and
    ``--out``/``--data-root``; raise a ``NatsBenchError`` naming the bad
    value. Returns the keyword arguments they give the pipeline: ``feature_cache`` (for
    ``load_task``: ``None`` default cache, ``False`` off, or a folder) and ``out_of_core``."""
    from natsbench.errors import check_output, check_range, require_dir

    check_output(args.out, "--out", directory=True)
    check_range("--seed", args.seed, 0, max_seed)
    if args.threads is not None:
        check_range("--threads", args.threads, 1, 4096)
    for name in epoch_options:
        value = getattr(args, name)
        if value is not None:
            check_range(f"--{name.replace('_', '-')}", value, 1, 100_000)
    if args.data_root is not None:
        require_dir(args.data_root, "--data-root")
    if args.device is not None:                      # before any data is loaded
        from natsbench.train.trainer import resolve_device

        resolve_device(args.device)
    feature_cache: Path | bool | None = None
    if args.feature_cache is not None:
        feature_cache = False if args.feature_cache == "off" else check_output(
            args.feature_cache, "--feature-cache", directory=True)
    return {"feature_cache": feature_cache, "out_of_core": OUT_OF_CORE[args.out_of_core]}


def read_proxy_data(args: argparse.Namespace, task_name: str, train_labels: Any) -> Any:
    """The ``--proxy-data`` selection checked against the task's training labels, or ``None``
    without the option (:func:`natsbench.datasets.proxy.read_proxy_selection`)."""
    if args.proxy_data is None:
        return None
    from natsbench.datasets.proxy import check_selection_split, read_proxy_selection

    selection = read_proxy_selection(args.proxy_data, task_name)
    check_selection_split(selection, task_name, train_labels)
    return selection

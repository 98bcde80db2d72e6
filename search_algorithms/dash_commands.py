"""CLI: ``natsbench dash TASK --stage search|hpo|retrain|all --out DIR`` -- the DASH pipeline.

Examples::

    natsbench dash digits --out runs/digits                      # all stages, quick settings
    natsbench dash long1d --stage search --out runs/long1d
    natsbench dash deepsea --data-root ~/nb360 --device cuda --out runs/deepsea   # paper settings
    natsbench dash fsd50k --data-root ~/nb360/audio --feature-cache /scratch/features \
        --out runs/fsd50k                # features computed once, memory-mapped, out-of-core batches
"""
from __future__ import annotations

import argparse
import json
import sys


def register(sub: argparse._SubParsersAction) -> None:
    from natsbench.tasks import task_names

    p = sub.add_parser(
        "dash", help="DASH kernel search, hyperparameter grid and retraining on a task",
        description="Run DASH (Shen et al. 2022) on a NAS-Bench-360 task or an offline task: "
                    "search the kernel size and dilation of every convolution of the task's WRN "
                    "backbone with aggregated convolutions, tune the retraining hyperparameters "
                    "on a validation split, retrain and report the test metric. Each stage writes "
                    "its results and checkpoints below --out; a killed stage resumes. "
                    f"Tasks: {', '.join(task_names())}. See docs/DASH.md.")
    p.add_argument("task", help="task name (e.g. digits, long1d, deepsea)")
    p.add_argument("--stage", choices=("search", "hpo", "retrain", "all"), default="all",
                   help="stage to run (default: all; hpo and retrain read the earlier stages' "
                        "files from --out)")
    p.add_argument("--data-root", default=None,
                   help="folder holding the task's files (NAS-Bench-360 tasks)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--preset", choices=("full", "quick"), default=None,
                   help="settings: the paper's (full; default for NAS-Bench-360 tasks) or the "
                        "scaled-down offline ones (quick; default for offline tasks)")
    p.add_argument("--mode", choices=("fft", "mixed_results", "mixed_weights"), default=None,
                   help="aggregated-convolution implementation of the search (default: fft)")
    p.add_argument("--search-epochs", type=int, default=None, help="override the search epochs")
    p.add_argument("--hpo-epochs", type=int, default=None, help="override the hpo epochs")
    p.add_argument("--retrain-epochs", type=int, default=None, help="override the retrain epochs")
    p.add_argument("--baseline", action="store_true",
                   help="with the retrain stage, also train the un-searched backbone with the "
                        "same budget (baseline/result.json)")
    p.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: cuda if "
                                                   "available; AMP on CUDA)")
    p.add_argument("--seed", type=int, default=0, help="seed (default: 0)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--proxy-data", default=None,
                   help="a file of `natsbench proxy-data` made on the task's training set "
                        "(e.g. --dataset digits): every stage trains on those examples only "
                        "(DASH is single-level: all of them train weights and architecture)")
    p.add_argument("--feature-cache", default=None, metavar="DIR|off",
                   help="FSD50K: folder of the log-mel feature cache (default: features/ below "
                        "$NATSBENCH_CACHE or ~/.cache/natsbench; computed once, memory-mapped "
                        "afterwards); 'off' computes the features into memory on every load")
    p.add_argument("--out-of-core", choices=("auto", "on", "off"), default="auto",
                   help="keep the training data on the host and move each batch to the device "
                        "(auto: when it is memory-mapped, e.g. a feature cache, or too large "
                        "for the device; the results are the same)")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from natsbench.errors import check_output, check_range, require_dir
    from natsbench.tasks import get_task

    task = get_task(args.task)
    check_output(args.out, "--out", directory=True)
    check_range("--seed", args.seed, 0, 2**63 - 1)
    if args.threads is not None:
        check_range("--threads", args.threads, 1, 4096)
    for name in ("search_epochs", "hpo_epochs", "retrain_epochs"):
        value = getattr(args, name)
        if value is not None:
            check_range(f"--{name.replace('_', '-')}", value, 1, 100_000)
    if args.data_root is not None:
        require_dir(args.data_root, "--data-root")
    feature_cache = None
    if args.feature_cache is not None:
        feature_cache = False if args.feature_cache == "off" else check_output(
            args.feature_cache, "--feature-cache", directory=True)
    if args.baseline and args.stage not in ("retrain", "all"):
        from natsbench.errors import ConfigError

        raise ConfigError(f"--baseline trains with the retrain stage; --stage {args.stage} has "
                          "none (use --stage retrain or all)")

    from search_algorithms.dash.settings import settings_for
    from search_algorithms.dash.stages import STAGES, DashRun, baseline_stage, run_pipeline
    from natsbench.tasks.loaders import load_task

    settings = settings_for(task, args.preset)
    changes = {k: getattr(args, k) for k in ("search_epochs", "hpo_epochs", "retrain_epochs")
               if getattr(args, k) is not None}
    if args.mode is not None:
        changes["mode"] = args.mode
    settings = settings.replace(**changes)
    data = load_task(task, args.data_root, seed=args.seed, feature_cache=feature_cache)
    train_indices = None
    if args.proxy_data is not None:
        from natsbench.datasets.proxy import check_selection_split, read_proxy_selection

        selection = read_proxy_selection(args.proxy_data, task.name)
        check_selection_split(selection, task.name, data.train.y)
        train_indices = selection.indices
    run = DashRun(data, settings, args.out, device=args.device, seed=args.seed,
                  progress=not args.no_progress, num_threads=args.threads,
                  train_indices=train_indices,
                  out_of_core={"auto": None, "on": True, "off": False}[args.out_of_core])
    stages = STAGES if args.stage == "all" else (args.stage,)
    results = run_pipeline(run, stages)
    summary: dict = {"task": task.name, "out": str(run.out)}
    if "search" in results:
        summary["choices"] = {n: [c["k"], c["d"]] for n, c in results["search"]["choices"].items()}
    if "hpo" in results:
        summary["hp"] = results["hpo"]["best"]
    if "retrain" in results:
        summary[f"test_{task.metric}"] = results["retrain"][f"test_{task.metric}"]
        if args.baseline:
            base = baseline_stage(run)
            summary[f"baseline_test_{task.metric}"] = base[f"test_{task.metric}"]
    print(json.dumps(summary, indent=1))
    print((run.out / "wall_times.md").read_text(), file=sys.stderr)
    return 0

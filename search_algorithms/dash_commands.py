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

from search_algorithms.dash.run_options import (add_run_options, check_run_options,
                                                read_proxy_data)


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
    add_run_options(p, device_help="cpu, cuda or cuda:N (default: cuda if available; AMP "
                                   "on CUDA)",
                    proxy_help="a file of `natsbench proxy-data` made on the task's training "
                               "set (e.g. --dataset digits): every stage trains on those "
                               "examples only (DASH is single-level: all of them train weights "
                               "and architecture)")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from natsbench.tasks import get_task

    task = get_task(args.task)
    options = check_run_options(args, ("search_epochs", "hpo_epochs", "retrain_epochs"),
                                max_seed=2**63 - 1)
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
    data = load_task(task, args.data_root, seed=args.seed,
                     feature_cache=options["feature_cache"])
    selection = read_proxy_data(args, task.name, data.train.y)
    train_indices = None if selection is None else selection.indices
    run = DashRun(data, settings, args.out, device=args.device, seed=args.seed,
                  progress=not args.no_progress, num_threads=args.threads,
                  train_indices=train_indices,
                  out_of_core=options["out_of_core"])
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

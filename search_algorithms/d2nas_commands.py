"""CLI: ``natsbench d2nas TASK --config common|custom --stage cell|kernel|hpo|retrain|all --out DIR``.

Examples::

    natsbench d2nas digits --out runs/d2nas-digits                 # all stages, quick settings
    natsbench d2nas long1d --stage cell --out runs/d2nas-long1d    # one stage; later ones resume
    natsbench d2nas ecg --config custom --data-root ~/nb360 --device cuda --out runs/ecg
"""
from __future__ import annotations

import argparse
import json
import sys

from search_algorithms.dash.run_options import (add_run_options, check_run_options,
                                                read_proxy_data)

STAGE_CHOICES = ("cell", "kernel", "hpo", "retrain", "all")


def register(sub: argparse._SubParsersAction) -> None:
    from natsbench.tasks import task_names

    p = sub.add_parser(
        "d2nas", help="D2NAS: progressive cell search, then DASH's kernel search, hpo and "
                      "retraining on a task",
        description="Run D2NAS (Lee et al. 2024) on a NAS-Bench-360 task or an offline task: a "
                    "P-DARTS-style cell search (bi-level: architecture on the validation loss, "
                    "weights on the training loss; 5 -> 3 candidates per edge), DASH's kernel "
                    "search on the derived network, DASH's hyperparameter grid and retraining; "
                    "reports the test metric, params and FLOPs. Each stage writes its results and "
                    "checkpoints below --out; a killed stage resumes. "
                    f"Tasks: {', '.join(task_names())}. See docs/D2NAS.md.")
    p.add_argument("task", help="task name (e.g. digits, long1d, ecg)")
    p.add_argument("--config", choices=("common", "custom"), default="common",
                   help="architecture settings: Table 6 by task type (common, default) or "
                        "Table 7 per task (custom)")
    p.add_argument("--stage", choices=STAGE_CHOICES, default="all",
                   help="stage to run (default: all; later stages read the earlier stages' files "
                        "from --out)")
    p.add_argument("--data-root", default=None,
                   help="folder holding the task's files (NAS-Bench-360 tasks)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--preset", choices=("full", "quick"), default=None,
                   help="training settings: the papers' (full; default for NAS-Bench-360 tasks) "
                        "or the scaled-down offline ones (quick; default for offline tasks)")
    p.add_argument("--cell-epochs", type=int, default=None,
                   help="override the epochs of each cell-search stage")
    p.add_argument("--kernel-epochs", type=int, default=None, help="override the kernel-search epochs")
    p.add_argument("--hpo-epochs", type=int, default=None, help="override the hpo epochs")
    p.add_argument("--retrain-epochs", type=int, default=None, help="override the retrain epochs")
    add_run_options(p, device_help="cpu, cuda or cuda:N (default: cuda if available; AMP "
                                   "on CUDA in the DASH stages)",
                    proxy_help="a file of `natsbench proxy-data` made on the task's training "
                               "set: every stage trains on those examples only; the cell "
                               "search splits them evenly between weight and architecture "
                               "batches")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from natsbench.tasks import get_task

    task = get_task(args.task)
    options = check_run_options(args, ("cell_epochs", "kernel_epochs", "hpo_epochs",
                                       "retrain_epochs"), max_seed=2**31 - 1)

    from search_algorithms.d2nas.configs import cell_settings, get_config, preset_config

    config = preset_config(get_config(task, args.config), task, args.preset)
    cell = cell_settings(task, args.preset)
    if args.cell_epochs is not None:
        # the preset's share of frozen epochs (P-DARTS: 10 of 25), rounded down
        cell = cell.replace(epochs=args.cell_epochs,
                            warmup_epochs=cell.warmup_epochs * args.cell_epochs // cell.epochs)

    from natsbench.tasks.loaders import load_task
    from search_algorithms.d2nas.stages import STAGES, D2nasRun, run_pipeline
    from search_algorithms.dash.settings import settings_for

    settings = settings_for(task, args.preset)
    changes = {k: getattr(args, a) for k, a in (("search_epochs", "kernel_epochs"),
                                                ("hpo_epochs", "hpo_epochs"),
                                                ("retrain_epochs", "retrain_epochs"))
               if getattr(args, a) is not None}
    settings = settings.replace(**changes)
    data = load_task(task, args.data_root, seed=args.seed,
                     feature_cache=options["feature_cache"])
    train_indices = cell_indices = arch_indices = None
    selection = read_proxy_data(args, task.name, data.train.y)
    if selection is not None:
        from natsbench.datasets.proxy import split_halves

        train_indices = selection.indices            # kernel, hpo, retrain: single-level
        cell_indices, arch_indices = split_halves(selection)   # cell search: bi-level halves
    run = D2nasRun(data, settings, args.out, device=args.device, seed=args.seed,
                   progress=not args.no_progress, num_threads=args.threads,
                   train_indices=train_indices, config=config, cell=cell,
                   cell_indices=cell_indices, arch_indices=arch_indices,
                   out_of_core=options["out_of_core"])
    stages = STAGES if args.stage == "all" else (args.stage,)
    results = run_pipeline(run, stages)
    summary: dict = {"task": task.name, "config": config.name, "out": str(run.out)}
    if "cell" in results:
        summary["cells"] = results["cell"]["cells"]
    if "kernel" in results:
        summary["kernels"] = {n: [c["k"], c["d"]] for n, c in results["kernel"]["choices"].items()}
    if "hpo" in results:
        summary["hp"] = results["hpo"]["best"]
    if "retrain" in results:
        r = results["retrain"]
        summary.update({f"test_{task.metric}": r[f"test_{task.metric}"],
                        "params_M": r["params_M"], "flops_M": r["flops_M"]})
    print(json.dumps(summary, indent=1))
    print((run.out / "wall_times.md").read_text(), file=sys.stderr)
    return 0

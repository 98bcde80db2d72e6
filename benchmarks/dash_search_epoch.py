"""One whole DASH search epoch, three ways: FFT vs mixed-results vs mixed-weights.

The epoch is the search stage's own loop (:func:`search_algorithms.dash.engine.run_epoch`: the
task loss, one SGD step of the model weights and one of the architecture parameters per batch,
gradient clipping at 1) over ``N`` generated examples of the task's exact shape, on the task's
supernet (its search backbone, every non-1x1 convolution an aggregated one over its ``K x D``,
depthwise where widths are equal, DASH's default). The three implementations run on identical
supernets (same initial weights, same batches); their wall times are printed as ratios against
FFT, measured in the same run.

Configurations (``--configs``):

* ``ecg``: the 1D WRN at ``L = 1000`` (1 channel, 4 classes -> ``mid = 4``), ``K = {3, 7, 11, 15,
  19}``, ``D = {1, 3, 7, 15}``;
* ``deepsea``: the same space at ``L = 1000`` with DeepSEA's 4 channels and 36 labels (``mid = 64``);
* ``cifar``: WRN-16-1 at 32x32, 3 channels, 100 classes, ``K = {3, 5, 7, 9}``, ``D = {1, 3, 7, 15}``.

Usage::

    python benchmarks/dash_search_epoch.py                    # default sizes (minutes on a CPU)
    python benchmarks/dash_search_epoch.py --device cuda --examples 4096
"""
from __future__ import annotations

import argparse
import csv
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

from natsbench.models.wrn import replace_convs_with_aggregated
from natsbench.ops.aggregated_conv import MODES, arch_parameters
from natsbench.tasks import get_task
from natsbench.tasks.data import ArraySet
from natsbench.tasks.networks import build_backbone
from natsbench.tasks.objectives import make_loss
from search_algorithms.dash.engine import Arrays, run_epoch

CONFIGS = {"ecg": "ecg", "deepsea": "deepsea", "cifar": "cifar100"}


def fake_data(task, n: int, seed: int = 0) -> ArraySet:
    """``n`` random examples of ``task``'s exact input shape and target kind."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n,) + task.input_shape).astype(np.float32)
    if task.output == "classes":
        y = rng.integers(0, task.num_outputs, n)
    else:
        y = (rng.random((n, task.num_outputs)) < 0.2).astype(np.float32)
    return ArraySet(x, y)


def epoch_seconds(task, mode: str, data: Arrays, batch: int, device: torch.device) -> float:
    """Wall seconds of one search epoch over ``data`` with implementation ``mode``."""
    torch.manual_seed(0)
    net = build_backbone(task, "search")
    replace_convs_with_aggregated(net, task.kernel_sizes, task.dilations, mode)
    net.to(device)
    arch = arch_parameters(net)
    ids = {id(p) for p in arch}
    opt_w = torch.optim.SGD([p for p in net.parameters() if id(p) not in ids], lr=0.1,
                            momentum=0.9, nesterov=True, weight_decay=5e-4)
    opt_a = torch.optim.SGD(arch, lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4)
    scaler = torch.amp.GradScaler("cuda", enabled=device.type == "cuda")
    loss = make_loss(task)
    warm = torch.arange(min(batch, len(data)))
    run_epoch(net, data, warm, batch, loss, [opt_w, opt_a], scaler,
              torch.Generator().manual_seed(1), clip=1.0)             # warm-up: one batch
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    sync()
    start = time.perf_counter()
    run_epoch(net, data, torch.arange(len(data)), batch, loss, [opt_w, opt_a], scaler,
              torch.Generator().manual_seed(2), clip=1.0)
    sync()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", default="ecg,deepsea,cifar", help="comma-separated: ecg, deepsea, cifar")
    ap.add_argument("--examples", type=int, default=256, help="examples per epoch (default 256)")
    ap.add_argument("--batch", type=int, default=64, help="batch size (default 64)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    ap.add_argument("--modes", default=",".join(MODES), help="implementations to time")
    ap.add_argument("--out", default=None, help="CSV of the timings")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    modes = [m for m in args.modes.split(",") if m]
    rows = []
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor()
    print(f"device {device} ({name}), torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"{args.examples} examples, batch {args.batch}", flush=True)
    for key in [c for c in args.configs.split(",") if c]:
        task = get_task(CONFIGS[key])
        data = Arrays(fake_data(task, args.examples), device)
        times = {}
        for mode in modes:
            times[mode] = epoch_seconds(task, mode, data, args.batch, device)
            print(f"  {key:8s} {mode:14s} {times[mode]:9.2f} s/epoch", flush=True)
        for mode in modes:
            ratio = times[mode] / times["fft"] if "fft" in times else float("nan")
            rows.append({"config": key, "input": "x".join(map(str, task.input_shape)),
                         "K": len(task.kernel_sizes), "D": len(task.dilations), "mode": mode,
                         "epoch_s": round(times[mode], 3), "slowdown_vs_fft": round(ratio, 2),
                         "device": str(device), "examples": args.examples, "batch": args.batch})
        summary = ", ".join(f"{m} / fft = {times[m] / times['fft']:.2f}x"
                            for m in modes if m != "fft" and "fft" in times)
        print(f"{key}: {summary}", flush=True)
    if args.out:
        with open(Path(args.out), "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())

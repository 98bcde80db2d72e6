"""Reproduce DASH Fig. 2-3: search-time cost of the aggregated convolution, three ways.

For each configuration a DASH supernet is built from a WRN backbone (every non-1x1 conv an
aggregated conv over ``K x D``) and the time of one forward + backward pass (cross-entropy on
random labels) is measured for the three implementations of :mod:`natsbench.ops.aggregated_conv`
(``mixed_results``, ``mixed_weights``, ``fft``) on the same model, weights and batch; the
script prints a table with the FFT speed-up over each reference and writes a CSV.

Setup, following DASH App. A.3 (their GPU numbers: batch 128, sequential MNIST):
* 1D: the 1D WRN with DASH's width for a 10-class task (``mid_channels = 16`` -> blocks of
  16/32/32 channels, 9 aggregated convs), 1 input channel, inputs of length ``L``;
  ``K = (3, 5, 7, 9, 11, 13, 15)[:n]``, ``D = (1, 3, 7, 15, 31, 63, 127)[:n]`` (DASH's
  ``speed.py`` lists). Fig. 2: ``n = 2..5`` at ``L = 1000``; Fig. 3: ``n = 5``,
  ``L = 256 .. 4096``.
* 2D: WRN-16-1 (DASH's 2D search backbone; 16/16/32/64 channels, 13 aggregated convs), 3 input
  channels, ``H = W = S``. Fig. 2: ``n = 2..5`` at ``S = 32``; Fig. 3: DASH's 2D space
  ``K = (3, 5, 7, 9)``, ``D = (1, 3, 7, 15)`` at ``S = 32, 64, 128``.
* Convolutions whose input and output widths are equal are depthwise (DASH's default
  ``separable=1``); ``--dense`` keeps them full.
* Batch: ``--batch-1d`` (default 16) and ``--batch-2d`` (default 8) -- smaller than DASH's
  128/64 so that the direct-convolution references finish on a small CPU.

A measurement is the median of repeated passes after one warm-up pass, the implementations
interleaved (see :func:`time_modes`; ``--repeats``, ``--budget``). An implementation slower
than ``--cap`` seconds per pass is skipped for the larger configurations of the same sweep
(reported as ``nan``), since they only get slower.

Usage::

    python benchmarks/aggconv.py --out aggconv.csv          # full sweep (minutes on a CPU)
    python benchmarks/aggconv.py --quick --out quick.csv    # seconds
"""
from __future__ import annotations

import argparse
import csv
import math
import platform
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F

from natsbench.models.wrn import (
    WideResNet1d,
    dash_wrn1d_width,
    replace_convs_with_aggregated,
    wrn16_1,
)
from natsbench.ops.aggregated_conv import MODES, AggregatedConv

KERNELS_ALL = (3, 5, 7, 9, 11, 13, 15)
DILATIONS_ALL = (1, 3, 7, 15, 31, 63, 127)
DASH_2D_SPACE = ((3, 5, 7, 9), (1, 3, 7, 15))


@dataclass(frozen=True)
class Config:
    figure: str          # "fig2" (vary |K| = |D|) or "fig3" (vary input size)
    dims: int            # 1 or 2
    kernel_sizes: tuple[int, ...]
    dilations: tuple[int, ...]
    size: int            # L (1D) or H = W (2D)
    batch: int


def sweeps(quick: bool, batch_1d: int, batch_2d: int) -> list[list[Config]]:
    """Each inner list is one sweep, ordered by growing cost."""
    def space(n: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
        return KERNELS_ALL[:n], DILATIONS_ALL[:n]

    if quick:
        return [
            [Config("fig2", 1, *space(n), 1000, batch_1d) for n in (2, 5)],
            [Config("fig3", 1, *space(5), s, batch_1d) for s in (256,)],
            [Config("fig2", 2, *space(n), 32, batch_2d) for n in (2, 3)],
        ]
    return [
        [Config("fig2", 1, *space(n), 1000, batch_1d) for n in (2, 3, 4, 5)],
        [Config("fig3", 1, *space(5), s, batch_1d) for s in (256, 512, 1000, 2048, 4096)],
        [Config("fig2", 2, *space(n), 32, batch_2d) for n in (2, 3, 4, 5)],
        [Config("fig3", 2, *DASH_2D_SPACE, s, batch_2d) for s in (32, 64, 128)],
    ]


def build_supernet(cfg: Config, separable: bool, device: torch.device) -> torch.nn.Module:
    if cfg.dims == 1:
        net = WideResNet1d(in_channels=1, num_classes=10, mid_channels=dash_wrn1d_width(10))
    else:
        net = wrn16_1(in_channels=3, num_classes=10)
    replace_convs_with_aggregated(net, cfg.kernel_sizes, cfg.dilations, mode="fft",
                                  separable=separable, seed=0)
    net = net.to(device)
    with torch.no_grad():   # non-uniform architecture weights, as during search
        gen = torch.Generator().manual_seed(1)
        for m in net.modules():
            if isinstance(m, AggregatedConv):
                m.arch_params.copy_(1e-3 * torch.randn(m.arch_params.shape, generator=gen))
    return net


def set_mode(net: torch.nn.Module, mode: str) -> None:
    for m in net.modules():
        if isinstance(m, AggregatedConv):
            m.mode = mode


def time_modes(net: torch.nn.Module, step: Callable[[], None], sync: Callable[[], None],
               modes: list[str], repeats: int, budget: float) -> dict[str, tuple[float, int]]:
    """Median seconds of one ``step`` per mode, and the number of timed passes.

    Each mode gets one warm-up pass; a mode whose warm-up took longer than ``budget`` keeps
    that time (n=1). The others are timed ``min(repeats, max(2, budget / warm-up))`` times,
    interleaved across modes so that a varying machine load affects them alike.
    """
    def one(mode: str) -> float:
        set_mode(net, mode)
        t0 = time.perf_counter()
        step()
        sync()
        return time.perf_counter() - t0

    first = {m: one(m) for m in modes}
    passes = {m: 0 if first[m] > budget else min(repeats, max(2, int(budget / first[m])))
              for m in modes}
    times: dict[str, list[float]] = {m: [] for m in modes}
    for r in range(max(passes.values(), default=0)):
        for m in modes:
            if r < passes[m]:
                times[m].append(one(m))
    return {m: (statistics.median(times[m]), len(times[m])) if times[m] else (first[m], 1)
            for m in modes}


def run(args: argparse.Namespace) -> list[dict]:
    device = torch.device(args.device if args.device != "auto"
                          else ("cuda" if torch.cuda.is_available() else "cpu"))
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    torch.manual_seed(args.seed)    # backbone initialisation
    gen = torch.Generator().manual_seed(args.seed)
    rows: list[dict] = []
    print(f"# device={device} torch={torch.__version__} threads={torch.get_num_threads()} "
          f"machine={platform.machine()} separable={not args.dense}", flush=True)
    header = (f"{'fig':5} {'dim':>3} {'n':>2} {'size':>5} {'batch':>5} "
              f"{'mixed_results':>14} {'mixed_weights':>14} {'fft':>9} "
              f"{'fft/mr':>8} {'fft/mw':>8}")
    print(header)
    for sweep in sweeps(args.quick, args.batch_1d, args.batch_2d):
        if sweep[0].dims not in args.dims:
            continue
        skipped: set[str] = set()
        for cfg in sweep:
            net = build_supernet(cfg, separable=not args.dense, device=device)
            shape = (cfg.batch, 1 if cfg.dims == 1 else 3) + (cfg.size,) * cfg.dims
            x = torch.randn(shape, generator=gen).to(device)
            y = torch.randint(0, 10, (cfg.batch,), generator=gen).to(device)

            def step() -> None:
                net.zero_grad(set_to_none=True)
                F.cross_entropy(net(x), y).backward()

            active = [m for m in MODES if m not in skipped]
            timed = time_modes(net, step, sync, active, args.repeats, args.budget)
            secs = {m: timed[m][0] if m in timed else math.nan for m in MODES}
            skipped.update(m for m in active if timed[m][0] > args.cap)
            row = {
                "figure": cfg.figure, "dims": cfg.dims, "n": len(cfg.kernel_sizes),
                "kernel_sizes": " ".join(map(str, cfg.kernel_sizes)),
                "dilations": " ".join(map(str, cfg.dilations)),
                "size": cfg.size, "batch": cfg.batch, "device": str(device),
                "separable": not args.dense,
                **{f"{m}_s": secs[m] for m in MODES},
                **{f"{m}_passes": timed[m][1] if m in timed else 0 for m in MODES},
                "speedup_vs_mixed_results": secs["mixed_results"] / secs["fft"],
                "speedup_vs_mixed_weights": secs["mixed_weights"] / secs["fft"],
            }
            rows.append(row)
            print(f"{cfg.figure:5} {cfg.dims:>3} {row['n']:>2} {cfg.size:>5} {cfg.batch:>5} "
                  f"{secs['mixed_results']:>14.4f} {secs['mixed_weights']:>14.4f} "
                  f"{secs['fft']:>9.4f} {row['speedup_vs_mixed_results']:>7.1f}x "
                  f"{row['speedup_vs_mixed_weights']:>7.1f}x", flush=True)
            del net
    return rows


def write_csv(rows: list[dict], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=None, help="CSV file to write")
    p.add_argument("--quick", action="store_true", help="a few small configurations only")
    p.add_argument("--device", default="auto", help="auto (CUDA if available), cpu or cuda")
    p.add_argument("--batch-1d", type=int, default=None,
                   help="batch of the 1D runs (default 16; 4 with --quick)")
    p.add_argument("--batch-2d", type=int, default=None,
                   help="batch of the 2D runs (default 8; 2 with --quick)")
    p.add_argument("--dims", type=int, nargs="+", choices=(1, 2), default=[1, 2],
                   help="which sweeps to run: 1 (sequences), 2 (images) or both (default)")
    p.add_argument("--dense", action="store_true",
                   help="keep width-preserving convs full instead of depthwise")
    p.add_argument("--repeats", type=int, default=5,
                   help="timed passes per implementation at most (default 5)")
    p.add_argument("--budget", type=float, default=None,
                   help="seconds of timed passes per implementation and configuration; fewer "
                        "passes for slow ones, at least 2 unless one pass exceeds it "
                        "(default 10; 2 with --quick)")
    p.add_argument("--cap", type=float, default=60.0,
                   help="an implementation slower than this (s per pass) is skipped for the "
                        "larger configurations of the same sweep (default 60)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch CPU threads (default: torch's choice)")
    p.add_argument("--seed", type=int, default=0, help="seed of weights and inputs")
    args = p.parse_args(argv)
    if args.batch_1d is None:
        args.batch_1d = 4 if args.quick else 16
    if args.batch_2d is None:
        args.batch_2d = 2 if args.quick else 8
    if args.budget is None:
        args.budget = 2.0 if args.quick else 10.0
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    rows = run(args)
    target = [r for r in rows if r["dims"] == 1 and r["n"] == 5 and r["size"] == 1000]
    for r in target[:1]:
        print(f"# target (1D, |K|=|D|=5, L=1000): FFT {r['speedup_vs_mixed_results']:.1f}x "
              f"faster than mixed-results (goal >= 5x), {r['speedup_vs_mixed_weights']:.1f}x "
              f"faster than mixed-weights (goal >= 2x)")
    if args.out is not None:
        write_csv(rows, args.out)
        print(f"# wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

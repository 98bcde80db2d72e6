"""Build throughput of ``natsbench build``, in trained architectures per hour.

Issue "Benchmark builder", Performance: the throughput of the builder on this machine, with
the bundled protocol (``digits12``: 12 epochs, batch 256, 8x8 digits). The same ``--n``
architectures of a space (a fixed random sample) are trained three ways in one run:

* reference: ``natsbench.train.train_arch`` called in a loop in this process, one torch
  thread, no store and no builder: the plain cost of the trainings;
* ``build`` with 1 worker (planning, records, progress, compaction included);
* ``build`` with ``--workers`` workers (default: the number of cores).

Ratios are builder throughput over the reference: about 1.0 for 1 worker means the builder
adds no overhead; the ideal for W workers is W (when the machine has W idle cores). The
script also prints the throughput the bundled benchmarks recorded in their manifests
(trained runs / ``provenance.wall_time_s``), which were measured on a machine shared with
other jobs part of the time.

Usage::

    python benchmarks/build_throughput.py [--space tss|sss] [--n 24] [--workers 2]
        [--workdir /tmp/natsbench-build-throughput]
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

PROTOCOL = "H0:epochs=12,batch_size=256,flip_prob=0,crop_padding=1,name=digits12,hp=12"
#: network settings of the bundled benchmarks, per space
MODEL_KWARGS = {"tss": {"C": 8, "N": 1}, "sss": {}}
IMAGE_SIZE = 8
SEED = 777


def sample_archs(space: str, n: int) -> list[str]:
    from natsbench.spaces import get_space

    archs = get_space(space).all_archs()
    pick = np.random.default_rng(0).choice(len(archs), size=n, replace=False)
    return [archs[i] for i in sorted(pick)]


def reference(space: str, archs: list[str]) -> float:
    """Seconds to train ``archs`` in a plain loop (one thread, no store)."""
    import torch

    from natsbench.datasets import load_dataset
    from natsbench.train.trainer import train_arch

    data = load_dataset("digits", image_size=IMAGE_SIZE)
    torch.set_num_threads(1)
    t = time.perf_counter()
    for arch in archs:
        train_arch(space, arch, data, PROTOCOL, SEED, device="cpu", progress=False, num_threads=1,
                   model_kwargs=MODEL_KWARGS[space])
    return time.perf_counter() - t


def with_builder(space: str, archs: list[str], workers: int, store: Path) -> float:
    """Seconds for ``build`` to train ``archs`` from scratch into ``store`` (and compact)."""
    from natsbench.build.builder import build
    from natsbench.build.plan import ArchSelection

    shutil.rmtree(store, ignore_errors=True)
    selection = ArchSelection(archs=archs, train=np.arange(len(archs)), order="custom")
    t = time.perf_counter()
    report = build(space=space, datasets=["digits"], protocol=PROTOCOL, seeds=[SEED], store=store,
                   archs=selection, workers=workers, device="cpu", progress=False,
                   image_size=IMAGE_SIZE, model_kwargs=MODEL_KWARGS[space])
    seconds = time.perf_counter() - t
    if report.ok != len(archs):
        raise RuntimeError(f"build trained {report.ok} of {len(archs)} ({report.failed} failed)")
    return seconds


def bundled() -> None:
    import natsbench
    from natsbench.resources import bundled_path

    for name in ("tss-digits", "sss-digits", "extcell/darts", "extcell/k16"):
        path = bundled_path("benchmarks", *name.split("/"))
        bench = natsbench.open_bench(path)
        wall = float(bench.provenance.get("wall_time_s") or 0)
        trained = int(bench.evaluated("digits", "12").sum())
        if "source_index" in bench.reader.arch_table():
            trained = int((bench.reader.arch_table()["source_index"].to_numpy() < 0).sum())
        if wall > 0:
            print(f"[bundled] {name:<14}: {trained:>6} runs in {wall:>8.0f} s "
                  f"= {3600 * trained / wall:>6.0f} archs/h (manifest provenance)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--space", choices=sorted(MODEL_KWARGS), default="tss")
    parser.add_argument("--n", type=int, default=24, help="architectures per measurement")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--workdir", default="/tmp/natsbench-build-throughput")
    args = parser.parse_args()
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    archs = sample_archs(args.space, args.n)
    print(f"{args.space}: {args.n} archs, protocol digits12, {IMAGE_SIZE}x{IMAGE_SIZE} digits, "
          f"{os.cpu_count()} cores")

    ref = reference(args.space, archs)
    ref_rate = 3600 * args.n / ref
    print(f"[reference] plain train_arch loop, 1 thread : {ref:7.1f} s = {ref_rate:6.0f} archs/h")
    for workers in sorted({1, args.workers}):
        sec = with_builder(args.space, archs, workers, workdir / f"store-w{workers}")
        rate = 3600 * args.n / sec
        print(f"[build] {workers} worker(s)                     : {sec:7.1f} s = {rate:6.0f} archs/h "
              f"(ratio to reference {rate / ref_rate:.2f}, ideal {workers})")
    bundled()
    return 0


if __name__ == "__main__":
    sys.exit(main())

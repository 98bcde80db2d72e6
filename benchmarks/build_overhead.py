"""Sweep overhead of ``natsbench build``: planning + skipping 15,625 finished jobs.

Two stores hold every (tss arch, digits, seed 777) run as finished: one as 15,625 record
files (a build that has not compacted yet), one compacted into dense arrays. The script
times ``plan_jobs`` over all 15,625 jobs on each (every job must be found done) and, as the
reference measured in the same run, the plain cost of one ``os.stat`` per record path.

Usage::

    python benchmarks/build_overhead.py [--workdir /tmp/natsbench-build-overhead]

Target (issue "Benchmark builder"): < 5 s to plan and skip 15,625 finished jobs.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np


def make_stores(workdir: Path) -> tuple[Path, Path]:
    from natsbench.spaces import get_space
    from natsbench.store.compact import compact, init_bench
    from natsbench.store.records import RunRecord, write_record

    archs = get_space("tss").all_archs()
    datasets = {"digits": {"num_classes": 10, "eval_sets": ["x-valid"]}}
    records = workdir / "records-store"
    compacted = workdir / "compacted-store"
    if not (records / "manifest.json").exists():
        init_bench(records, space="tss", arch_strs=archs, datasets=datasets)
        rng = np.random.default_rng(0)
        for arch in archs:
            write_record(records, RunRecord(space="tss", arch=arch, dataset="digits", hp="12", seed=777,
                                            epochs=2, metrics={"x-valid_acc1": rng.random(2).tolist()}))
    if not (compacted / "manifest.json").exists():
        import shutil

        shutil.copytree(records, compacted)
        compact(compacted)
    return records, compacted


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", default="/tmp/natsbench-build-overhead")
    args = parser.parse_args()
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    records, compacted = make_stores(workdir)
    print(f"stores ready in {time.perf_counter() - t:.1f} s")

    from natsbench.build.plan import plan_jobs, select_archs
    from natsbench.store.records import record_path

    protocol = "H0:epochs=2,name=x,hp=12"
    for label, store in (("15,625 record files", records), ("compacted arrays", compacted)):
        t = time.perf_counter()
        selection = select_archs("tss", "all")
        jobs, skipped = plan_jobs(store, "tss", selection, ["digits"], protocol, "12", [777])
        dt = time.perf_counter() - t
        assert (len(jobs), skipped) == (0, 15625), (len(jobs), skipped)
        print(f"[plan] {label:<20}: planned 15,625 jobs, skipped {skipped}, {dt:.2f} s (target < 5 s)")
    t = time.perf_counter()
    for arch in selection.archs:
        os.stat(record_path(records, "tss", arch, "digits", "12", 777))
    ref = time.perf_counter() - t
    print(f"[reference] one os.stat per record path: {ref:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

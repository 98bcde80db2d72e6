"""FSD50K feature cache and out-of-core batches on a generated chunk layout, against the uncached
in-memory load, in one run.

A layout of ``--chunks`` 1 s chunks (22,050 Hz, 16-bit; clips of 4 chunks, 70 / 15 / 15 % in
tr / val / eval; tones plus noise) is written to a temporary folder, then each step runs in a
fresh interpreter (so its peak RSS is its own):

* ``uncached``: ``load_task("fsd50k", feature_cache=False)``, the features computed into float32
  memory (the loader before the cache; the reference);
* ``build``: the first load with the cache (features computed and written in blocks);
* ``cached``: a later load (the cache memory-mapped; no WAV read);

and, in the ``uncached`` and ``cached`` steps, one pass over the training set's batches as the
DASH engine draws them (:class:`search_algorithms.dash.engine.Arrays` in memory vs out of core,
batch 128, CPU). Printed: wall seconds, features per second, peak RSS (``VmHWM``) and RSS growth
over the interpreter after its imports, and the ratios against the reference.

Usage::

    python benchmarks/fsd50k_cache.py --chunks 4000 --threads 1
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return -1


def child(step: str, root: Path, cache: Path, threads: int, batch: int) -> dict:
    """One step in this interpreter; returns its figures."""
    import numpy as np
    import torch

    from natsbench.tasks.loaders import load_task
    from search_algorithms.dash.engine import Arrays

    torch.set_num_threads(threads)
    os.environ["NATSBENCH_CACHE"] = str(cache)
    base_kb = _status_kb("VmRSS")
    start = time.perf_counter()
    data = load_task("fsd50k", root, feature_cache=False if step == "uncached" else None)
    load_s = time.perf_counter() - start
    n = sum(data.sizes().values())
    out = {"step": step, "chunks": n, "load_s": load_s, "features_per_s": n / load_s,
           "dtype": str(data.train.x.dtype), "memmap": isinstance(data.train.x, np.memmap)}
    out["load_peak_kb"] = _status_kb("VmHWM") - base_kb
    if step != "build":
        start = time.perf_counter()
        arrays = Arrays(data.train, torch.device("cpu"))
        order = torch.randperm(len(arrays), generator=torch.Generator().manual_seed(0))
        checksum = 0.0
        for xb, yb in arrays.batches(order, batch):
            checksum += float(xb[:, 0, 0, 0].sum())
        out.update(epoch_s=time.perf_counter() - start, out_of_core=arrays.out_of_core,
                   checksum=checksum)
    out["peak_kb"] = _status_kb("VmHWM") - base_kb
    out["base_kb"] = base_kb
    return out


def write_layout(root: Path, chunks: int) -> None:
    import numpy as np

    from natsbench.testing.fsd50k_layout import SAMPLE_RATE, synthetic_clips, write_chunk_layout

    clips, labels = synthetic_clips(chunks)
    rng = np.random.default_rng(0)
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE

    def wave(clip: str, j: int) -> np.ndarray:
        freq = 100.0 + 9000.0 * rng.random()
        return 0.3 * np.sin(2 * np.pi * freq * t) + 0.05 * rng.standard_normal(SAMPLE_RATE)

    write_chunk_layout(root, clips, labels, wave)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--chunks", type=int, default=4000, help="about this many 1 s chunks")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    p.add_argument("--batch", type=int, default=128, help="batch of the data pass (FSD50K: 128)")
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    p.add_argument("--root", default=None, help=argparse.SUPPRESS)
    p.add_argument("--cache", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, Path(args.root), Path(args.cache), args.threads,
                               args.batch)))
        return 0
    with tempfile.TemporaryDirectory(prefix="fsd50k-bench-") as tmp:
        root, cache = Path(tmp) / "data", Path(tmp) / "cache"
        start = time.perf_counter()
        write_layout(root, args.chunks)
        print(f"layout written in {time.perf_counter() - start:.1f} s: "
              f"{sum(1 for _ in root.glob('*_chunks/*.wav'))} WAVs below {root}")
        env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
               "OMP_NUM_THREADS": str(args.threads)}
        rows = {}
        for step in ("uncached", "build", "cached"):
            res = subprocess.run([sys.executable, __file__, "--child", step, "--root", str(root),
                                  "--cache", str(cache), "--threads", str(args.threads),
                                  "--batch", str(args.batch)],
                                 env=env, capture_output=True, text=True, check=True)
            rows[step] = json.loads(res.stdout.strip().splitlines()[-1])
        disk = sum(f.stat().st_size for f in cache.rglob("*.npy"))
    print(f"{'step':9s} {'chunks':>7s} {'load s':>8s} {'feat/s':>9s} {'dtype':>8s} "
          f"{'load peak MB':>13s} {'epoch s':>8s} {'peak MB':>8s}  (RSS above the imports)")
    for step, r in rows.items():
        epoch = f"{r['epoch_s']:8.3f}" if "epoch_s" in r else f"{'-':>8s}"
        print(f"{step:9s} {r['chunks']:7d} {r['load_s']:8.3f} {r['features_per_s']:9.0f} "
              f"{r['dtype']:>8s} {r['load_peak_kb'] / 1024:13.1f} {epoch} "
              f"{r['peak_kb'] / 1024:8.1f}")
    ref, build, cached = rows["uncached"], rows["build"], rows["cached"]
    print(f"cache on disk: {disk / 2**20:.1f} MB "
          f"({disk / max(ref['chunks'], 1) / 1024:.1f} kB per chunk)")
    print(f"ratio build / uncached load time:  {build['load_s'] / ref['load_s']:.3f}x")
    print(f"ratio uncached / cached load time: {ref['load_s'] / cached['load_s']:.1f}x faster")
    print(f"ratio cached / uncached peak RSS of the load: "
          f"{cached['load_peak_kb'] / max(ref['load_peak_kb'], 1):.3f}x")
    print(f"ratio cached / uncached peak RSS after a training pass: "
          f"{cached['peak_kb'] / max(ref['peak_kb'], 1):.3f}x")
    print(f"ratio out-of-core / in-memory data pass time: "
          f"{cached['epoch_s'] / ref['epoch_s']:.2f}x (batch {args.batch}, CPU)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Speed and peak memory of ``natsbench import-official`` on a full-size tss archive.

Measures, in one run (issue #18, "Importing a full official archive is slow and
memory-hungry"):

1. the reference: the single-core time to merely read every file of the archive (bz2
   decompression + our restricted unpickler, ``natsbench.store.restricted_pickle``), nothing
   else;
2. the importer of this checkout (``import_official``: a process pool over files, streamed
   per (dataset, hp) group), in a fresh subprocess: wall time, CPU seconds (importer + its
   workers) and peak RSS -- the importer's own ``getrusage(RUSAGE_SELF).ru_maxrss`` and its
   largest worker's ``getrusage(RUSAGE_CHILDREN).ru_maxrss``, read in that subprocess after
   the pool has been joined;
3. optionally (``--previous REV``) the importer of an older git revision (``git worktree``
   checkout of ``natsbench/`` at REV, run the same way), e.g. the buffered single-process one;

and prints the ratios "import / reference" (goal <= 1.5) and the peak RSS (goal < 1 GB).

The archive is a full-size fast-mode tss archive in the official format -- 15,625 per-arch
``{index:06d}.pickle.pbz2`` files with hp ``12`` (12 epochs) and ``200`` (200 epochs) on
the four datasets -- generated with ``natsbench.testing.official_archive`` (nats_bench's own
``ArchResults``/``ResultsCount``/``pickle_save``) and cached in ``--workdir``.

Usage::

    python benchmarks/import_official.py [--workdir /tmp/natsbench-import-bench]
        [--archs 15625] [--workers 2] [--previous ddbe220] [--subset 2000]

Requires the ``test`` extra (nats_bench==1.8) to generate the archive.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------------------- generation
def _write_archs(args: tuple[str, list[tuple[int, str]], int]) -> int:
    from nats_bench import pickle_save
    from natsbench.testing.official_archive import make_arch_results

    out, items, seed = args
    for index, arch in items:
        rng = np.random.default_rng([seed, index])
        pickle_save(make_arch_results("tss", index, arch, {"12": 12, "200": 200}, rng),
                    str(Path(out) / f"{index:06d}.pickle"))
    return len(items)


def ensure_archive(workdir: Path, n_archs: int, workers: int, seed: int = 0) -> Path:
    """A full-size official-format tss fast-mode archive, generated once and cached."""
    from natsbench.store.restricted_pickle import load_archive_file
    from natsbench.testing.official_archive import make_official_archive

    path = workdir / f"official-tss-{n_archs}"
    if (path / ".complete").exists():
        return path
    start = time.perf_counter()
    make_official_archive(path, space="tss", n_archs=0, seed=seed)  # meta only
    meta_archs = load_archive_file(path / "meta.pickle.pbz2")["meta_archs"]
    todo = [(i, meta_archs[i]) for i in range(n_archs)
            if not (path / f"{i:06d}.pickle.pbz2").exists()]
    chunks = [todo[i::workers * 16] for i in range(workers * 16)]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        done = sum(pool.map(_write_archs, [(str(path), c, seed) for c in chunks if c]))
    (path / ".complete").write_text("ok")
    print(f"generated {done} per-arch files in {time.perf_counter() - start:.0f} s -> {path}",
          flush=True)
    return path


# ----------------------------------------------------------------------------- measurements
def reference_load(archive: Path) -> tuple[float, float, int]:
    """(wall s, CPU s, files) to read (bz2 + restricted unpickling) every file of ``archive``
    on one core."""
    from natsbench.store.restricted_pickle import load_archive_file

    files = sorted(archive.glob("*.pickle.pbz2"))
    start, cpu = time.perf_counter(), time.process_time()
    for path in files:
        load_archive_file(path)
    return time.perf_counter() - start, time.process_time() - cpu, len(files)


_RUNNER = """
import json, resource, sys, time
sys.path.insert(0, sys.argv[1])
from natsbench.store.official import import_official
kwargs = json.loads(sys.argv[4])
start = time.perf_counter()
import_official(sys.argv[2], sys.argv[3], space="tss", overwrite=True, progress=False, **kwargs)
wall = time.perf_counter() - start
own = resource.getrusage(resource.RUSAGE_SELF)
kids = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"wall_s": wall, "parent_maxrss_kb": own.ru_maxrss, "workers_maxrss_kb": kids.ru_maxrss,
                  "cpu_s": own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime}))
"""


def measure_import(code_root: Path, archive: Path, out: Path, **kwargs) -> dict:
    """Run ``import_official`` of the package under ``code_root`` in a fresh subprocess."""
    env = dict(os.environ, PYTHONPATH=str(code_root))
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _RUNNER, str(code_root), str(archive), str(out),
                           json.dumps(kwargs)], env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"import with {code_root} failed:\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["process_wall_s"] = elapsed
    result["peak_rss_mb"] = max(result["parent_maxrss_kb"], result["workers_maxrss_kb"]) / 1024
    return result


def checkout(rev: str, dest: Path) -> Path:
    """The ``natsbench`` package of git revision ``rev`` under ``dest``."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "natsbench"],
                             check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest


def same_benchmark(a: Path, b: Path) -> bool:
    """Both benchmark directories hold the same groups and bit-identical arrays."""
    manifest_a = json.loads((a / "manifest.json").read_text())
    manifest_b = json.loads((b / "manifest.json").read_text())
    if manifest_a["groups"] != manifest_b["groups"] or manifest_a["datasets"] != manifest_b["datasets"]:
        return False
    for group in manifest_a["groups"]:
        rel = Path("runs") / group["dataset"] / group["hp"]
        for name in ("rows.npy", "present.npy", "costs.npy", "metrics.npy", "cumtime.npy"):
            x = np.load(a / rel / name, mmap_mode="r")
            y = np.load(b / rel / name, mmap_mode="r")
            if x.shape != y.shape or x.dtype != y.dtype:
                return False
            for lo in range(0, x.shape[0], 1024):
                if not np.array_equal(x[lo:lo + 1024], y[lo:lo + 1024], equal_nan=True):
                    return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "natsbench-import-bench"))
    parser.add_argument("--archs", type=int, default=15625, help="per-arch files of the archive")
    parser.add_argument("--workers", type=int, default=2, help="importer processes (and generator)")
    parser.add_argument("--subset", type=int, default=None,
                        help="measure on the first N per-arch files only (a linked view of the "
                             "full archive), e.g. to time a slow --previous")
    parser.add_argument("--previous", default=None,
                        help="also time the importer of this git revision (e.g. ddbe220, the "
                             "buffered single-process importer; takes ~10 min and ~5 GB)")
    args = parser.parse_args(argv)
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    archive = ensure_archive(workdir, args.archs, args.workers)
    if args.subset:
        view = workdir / f"{archive.name}-first-{args.subset}"
        if not view.exists():
            view.mkdir()
            for path in [archive / "meta.pickle.pbz2"] + sorted(archive.glob("0*.pickle.pbz2"))[:args.subset]:
                (view / path.name).symlink_to(path)
        archive = view
    size = sum(p.stat().st_size for p in archive.iterdir())
    n_arch_files = len(list(archive.glob("0*.pickle.pbz2")))
    print(f"archive: {archive} ({n_arch_files} per-arch files, {size / 2**30:.2f} GiB); "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    for path in archive.iterdir():  # warm the page cache so every measurement reads from memory
        path.read_bytes()

    ref_s, ref_cpu, n_files = reference_load(archive)
    print(f"reference  load (bz2 + restricted unpickle) of {n_files} files on one core: "
          f"{ref_s:7.1f} s wall, {ref_cpu:.1f} s CPU ({1e3 * ref_s / n_files:.2f} ms/file wall)",
          flush=True)

    new_out = workdir / "bench-new"
    new = measure_import(ROOT, archive, new_out, workers=args.workers)
    print(f"new        import, {args.workers} workers: {new['wall_s']:7.1f} s wall, "
          f"{new['cpu_s']:.0f} s CPU, peak RSS {new['peak_rss_mb']:.0f} MB "
          f"(parent {new['parent_maxrss_kb'] / 1024:.0f} MB, largest worker "
          f"{new['workers_maxrss_kb'] / 1024:.0f} MB)", flush=True)
    print(f"ratio      new import / reference load: {new['wall_s'] / ref_s:.2f}  (goal <= 1.5), "
          f"load average now {os.getloadavg()[0]:.1f}")
    print(f"CPU        new import / reference load: {new['cpu_s'] / ref_cpu:.2f} (work done; with "
          f"{args.workers} free cores the wall ratio would be about "
          f"{new['cpu_s'] / args.workers / ref_cpu:.2f} if it spreads evenly)", flush=True)
    print(f"peak RSS   new import: {new['peak_rss_mb']:.0f} MB  (goal < 1024 MB)")

    if args.previous:
        code = checkout(args.previous, workdir / f"code-{args.previous}")
        old_out = workdir / "bench-previous"
        old = measure_import(code, archive, old_out)
        print(f"previous   import ({args.previous}): {old['wall_s']:7.1f} s wall, "
              f"{old['cpu_s']:.0f} s CPU, peak RSS {old['peak_rss_mb']:.0f} MB")
        print(f"ratio      previous import / reference load: {old['wall_s'] / ref_s:.2f}")
        print(f"speed-up   previous / new: {old['wall_s'] / new['wall_s']:.2f}x; "
              f"memory previous / new: {old['peak_rss_mb'] / new['peak_rss_mb']:.1f}x")
        print(f"identical  arrays and manifests groups: {same_benchmark(old_out, new_out)}")
        shutil.rmtree(old_out, ignore_errors=True)
    shutil.rmtree(new_out, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Time to the first answer: a fresh interpreter imports natsbench, opens the bundled tss
benchmark (``natsbench.create``) and answers one ``get_more_info``.

The reference is the previous implementation, whose query path imported pandas (pyarrow's
``to_numpy`` does): the code of ``--ref`` (default ``ddbe220``, main before this change) is
extracted with ``git archive`` into a temporary folder and timed in the same run, on the same
benchmark files, alternating with the current code. Prints the medians and their ratio.

    python benchmarks/first_query.py [--repeats 7] [--ref COMMIT]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_REF = "ddbe220"

CHILD = """
import sys, time
t0 = time.perf_counter()
import natsbench
api = natsbench.create({path!r}, "tss", verbose=False)
info = api.get_more_info(7, "digits", hp="12", is_random=False)
t1 = time.perf_counter()
print(t1 - t0, "pandas" in sys.modules, repr(info["test-accuracy"]), natsbench.__file__)
"""


def extract(ref: str, dest: Path) -> Path:
    """The natsbench package of commit ``ref`` (no data) under ``dest``."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", ref, "natsbench"],
                             check=True, capture_output=True).stdout
    tar_path = dest / "ref.tar"
    tar_path.write_bytes(archive)
    with tarfile.open(tar_path) as tar:
        tar.extractall(dest / "tree", filter="data")
    return dest / "tree"


def first_answer(tree: Path, bench: Path) -> tuple[float, float, bool, str]:
    """(in-process seconds to the answer, process wall seconds, pandas imported, answer)."""
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", CHILD.format(path=str(bench))], cwd=tree,
                         env=dict(os.environ, PYTHONPATH=str(tree)),
                         capture_output=True, text=True, check=True)
    wall = time.perf_counter() - start
    seconds, pandas, answer, module = out.stdout.split()
    if not Path(module).resolve().is_relative_to(tree.resolve()):
        raise RuntimeError(f"the child imported {module}, not the code under {tree}")
    return float(seconds), wall, pandas == "True", answer


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=7, help="timed runs per implementation (median)")
    parser.add_argument("--ref", default=DEFAULT_REF, help=f"reference commit (default {DEFAULT_REF})")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from natsbench.resources import BUNDLED_TSS, bundled_path

    bench = bundled_path(*BUNDLED_TSS)
    with tempfile.TemporaryDirectory(prefix="natsbench-first-query-") as tmp:
        trees = {"current": ROOT, f"ref {args.ref}": extract(args.ref, Path(tmp))}
        runs: dict[str, list[tuple[float, float, bool, str]]] = {name: [] for name in trees}
        for name, tree in trees.items():  # warm-up: page cache, bytecode
            first_answer(tree, bench)
        for _ in range(args.repeats):
            for name, tree in trees.items():
                runs[name].append(first_answer(tree, bench))
    answers = {r[3] for rs in runs.values() for r in rs}
    if len(answers) != 1:
        raise RuntimeError(f"the implementations answer differently: {answers}")
    print(f"bundled tss benchmark {bench}: import + create + get_more_info(7, 'digits', hp=12), "
          f"fresh interpreter, median of {args.repeats}")
    medians = {}
    for name, rs in runs.items():
        medians[name] = statistics.median(r[0] for r in rs)
        wall = statistics.median(r[1] for r in rs)
        pandas = {r[2] for r in rs}
        print(f"  {name:<14} first answer {medians[name]:.3f} s (process wall {wall:.3f} s), "
              f"pandas imported: {'yes' if pandas == {True} else 'no' if pandas == {False} else pandas}")
    ref_name = f"ref {args.ref}"
    print(f"ratio ref / current: {medians[ref_name] / medians['current']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())

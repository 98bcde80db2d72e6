"""natsbench's search runner against syne-tune's tabular simulator, on the same problem.

The tabular problem of the bundled tss-digits benchmark (feedback: the 12-epoch ``x-valid``
accuracy per epoch; cost: recorded training time of the epochs plus validation time; reported:
``x-test`` accuracy) is exported to an ``.npz`` and searched by

* natsbench: ``random``, ``rea`` and ``asha`` through ``run_one`` with ``sim_workers`` 1 and 4;
* syne-tune (PyPI ``syne-tune[blackbox-repository]``, an optional benchmark dependency, run in
  its own interpreter ``--syne-python`` because it pins numpy < 2): ``BlackboxTabular`` of the
  same arrays (one categorical hyperparameter per tss edge, fidelity ``epoch`` 1..12,
  objectives validation accuracy and elapsed time = cumulative training time + that epoch's
  validation time) with ``UserBlackboxBackend`` and ``SimulatorCallback``, schedulers
  ``RandomSearch``, ``REA`` (population 10, sample 3, as natsbench's defaults) and ``ASHA``
  (promotion, ``grace_period=1``, ``reduction_factor=3``), ``n_workers`` 1 and 4.

Both get the same number of evaluations per run (``--evals``: natsbench queries; syne-tune
trials finished, each a configuration trained up to its last rung) and ``--runs`` seeds.
natsbench's time is the best of 5 repeats of all runs (they are deterministic), after one
untimed warm-up run; syne-tune's is one pass (seconds, not microseconds, per run), or the best
of ``--syne-repeat`` passes (its runs are seeded: every pass gives the same trials), which
makes the ratio less sensitive to other jobs on a shared machine. Printed per (algorithm, workers): wall seconds per
evaluation of each, their ratio, and the mean final test accuracy of the best-by-validation
architecture (reported accuracy of the incumbent) side by side. Goal (issue #13): natsbench's
asynchronous runner >= 500x faster per evaluation at 4 workers.

Also printed: surrogate-answered queries per second in the runner (sss sample, REA, every
evaluation predicted where the table has none; goal >= 10,000/s).

    python benchmarks/search_vs_synetune.py --syne-python /tmp/sb/stvenv/bin/python
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
ALGORITHMS = ("random", "rea", "asha")


# ---------------------------------------------------------------------------- syne-tune side
def _syne_side(npz: str, algorithm: str, workers: int, runs: int, evals: int,
               repeat: int = 1) -> dict:
    """Runs in the syne-tune interpreter; returns wall seconds (the best of ``repeat`` passes
    over all runs) and final reported accuracies."""
    import logging

    import pandas as pd
    from syne_tune.blackbox_repository.blackbox_tabular import BlackboxTabular
    from syne_tune.config_space import choice, randint

    logging.getLogger("syne_tune").setLevel(logging.ERROR)
    data = np.load(npz)
    codes, valid, elapsed, reported = data["codes"], data["valid"], data["elapsed"], data["reported"]
    n, d = codes.shape
    epochs = valid.shape[1]
    names = [f"x{i}" for i in range(d)]
    hps = pd.DataFrame({name: [str(c) for c in codes[:, i]] for i, name in enumerate(names)})
    space = {name: choice([str(c) for c in range(int(codes[:, i].max()) + 1)])
             for i, name in enumerate(names)}
    objectives = np.stack([valid, elapsed], axis=-1)[:, None, :, :]            # [N, 1, E, 2]
    blackbox = BlackboxTabular(hyperparameters=hps, configuration_space=space,
                               fidelity_space={"epoch": randint(1, epochs)},
                               objectives_evaluations=objectives,
                               fidelity_values=np.arange(1, epochs + 1),
                               objectives_names=["valid_acc", "elapsed_time"])
    row_of = {tuple(r): i for i, r in enumerate(hps.itertuples(index=False, name=None))}
    passes = []
    for i in range(max(1, repeat)):
        finals, seconds = _syne_pass(blackbox, space, names, row_of, reported, algorithm, workers,
                                     runs, evals, epochs, i)
        passes.append(seconds)
    return {"seconds": min(passes), "passes": passes, "evals": runs * evals, "final": finals}


def _syne_pass(blackbox, space, names, row_of, reported, algorithm, workers, runs, evals,
               epochs, tag) -> tuple[list[float], float]:
    """One pass of syne-tune over ``runs`` seeded runs: (final reported accuracies, seconds)."""
    from syne_tune import StoppingCriterion, Tuner
    from syne_tune.backend.simulator_backend.simulator_callback import SimulatorCallback
    from syne_tune.blackbox_repository.simulated_tabular_backend import UserBlackboxBackend
    from syne_tune.optimizer.baselines import ASHA, REA, RandomSearch
    from syne_tune.tuner_callback import TunerCallback

    class Collect(TunerCallback):
        def __init__(self):
            self.best, self.best_row = -np.inf, -1

        def on_trial_result(self, trial, status, result, decision):
            if result["valid_acc"] > self.best:
                self.best = result["valid_acc"]
                self.best_row = row_of[tuple(str(trial.config[k]) for k in names)]

    finals, seconds = [], 0.0
    for run in range(runs):
        config_space = {**space, "epochs": epochs}
        kw = dict(metric="valid_acc", mode="max", random_seed=run)
        if algorithm == "random":
            scheduler = RandomSearch(config_space, **kw)
        elif algorithm == "rea":
            scheduler = REA(config_space, population_size=10, sample_size=3, **kw)
        else:
            scheduler = ASHA(config_space, resource_attr="epoch", max_resource_attr="epochs",
                             type="promotion", grace_period=1, reduction_factor=3, **kw)
        backend = UserBlackboxBackend(blackbox=blackbox, elapsed_time_attr="elapsed_time",
                                      max_resource_attr="epochs", seed=0)
        collect = Collect()
        tuner = Tuner(trial_backend=backend, scheduler=scheduler,
                      stop_criterion=StoppingCriterion(max_num_trials_finished=evals),
                      n_workers=workers, sleep_time=0, callbacks=[SimulatorCallback(), collect],
                      tuner_name=f"natsbench-{algorithm}-{workers}-{run}-{tag}-{os.getpid()}",
                      save_tuner=False, suffix_tuner_name=False, print_update_interval=1e9,
                      results_update_interval=1e9)
        start = time.perf_counter()
        tuner.run()
        seconds += time.perf_counter() - start
        finals.append(float(reported[collect.best_row]))
    return finals, seconds


# ---------------------------------------------------------------------------- natsbench side
def _export(problem, path: Path) -> None:
    e = np.arange(1, problem.epochs + 1)
    slot = problem.seed_slots[:, 0]
    rows = np.arange(problem.num_archs)
    valid = problem.valid_acc[rows, slot]                                       # [N, E]
    elapsed = problem.cum_train[rows, slot] + problem.valid_time[rows, slot]
    np.savez(path, codes=problem.codes, valid=valid, elapsed=elapsed, reported=problem.reported,
             epochs=e)


def _ours(problem, algorithm: str, workers: int, runs: int, evals: int,
          repeat: int = 5) -> dict:
    from search_algorithms.runner import RunSpec, run_one

    spec = RunSpec(algorithm, max_evals=evals, sim_workers=workers,
                   hyperparameters={"population_size": 10, "sample_size": 3}
                   if algorithm == "rea" else {})
    run_one(problem, spec, runs)          # warm-up (imports, lookup tables), not timed
    seconds = float("inf")
    for _ in range(repeat):               # best of `repeat` (the runs are deterministic)
        start = time.perf_counter()
        traces = [run_one(problem, spec, r) for r in range(runs)]
        seconds = min(seconds, time.perf_counter() - start)
    return {"seconds": seconds, "evals": sum(len(t) for t in traces),
            "final": [float(problem.reported[t.incumbent[-1]]) for t in traces]}


def _surrogate_rate(runs: int = 20, evals: int = 2000) -> tuple[float, float, float]:
    """(queries per second, share predicted, problem build seconds) on the sss sample."""
    import natsbench
    from search_algorithms.problem import TabularProblem
    from search_algorithms.runner import RunSpec, run_one

    t = time.perf_counter()
    problem = TabularProblem.from_bench(natsbench.open_bench(ROOT / "data/benchmarks/sss-digits"),
                                        "digits", on_missing="surrogate")
    build = time.perf_counter() - t
    spec = RunSpec("rea", max_evals=evals)
    run_one(problem, spec, runs)          # warm-up, not timed
    start = time.perf_counter()
    traces = [run_one(problem, spec, r) for r in range(runs)]
    seconds = time.perf_counter() - start
    n = sum(len(tr) for tr in traces)
    predicted = sum(int((tr.source == 1).sum()) for tr in traces) / n
    return n / seconds, predicted, build


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--syne-python", default=None,
                        help="python with syne-tune[blackbox-repository] (default: skip it)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--evals", type=int, default=100)
    parser.add_argument("--workdir", default="/tmp/natsbench-synetune")
    parser.add_argument("--algorithms", nargs="+", default=list(ALGORITHMS), choices=ALGORITHMS)
    parser.add_argument("--no-surrogate", action="store_true", help="skip the surrogate rate")
    parser.add_argument("--syne-repeat", type=int, default=1,
                        help="syne-tune's time: the best of this many passes (default 1)")
    parser.add_argument("--syne-side", nargs=6,
                        metavar=("NPZ", "ALGO", "WORKERS", "RUNS", "EVALS", "REPEAT"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.syne_side:
        npz, algo, workers, runs, evals, repeat = args.syne_side
        print(json.dumps(_syne_side(npz, algo, int(workers), int(runs), int(evals),
                                    int(repeat))))
        return 0

    import natsbench
    from search_algorithms.problem import TabularProblem

    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    problem = TabularProblem.from_bench(natsbench.open_bench(ROOT / "data/benchmarks/tss-digits"),
                                        "digits")
    npz = work / "tss-digits.npz"
    _export(problem, npz)
    print(f"tss-digits: {problem.num_archs} archs, {problem.epochs} epochs; {args.runs} runs x "
          f"{args.evals} evaluations per (algorithm, workers)")
    header = (f"{'algorithm':<8} {'workers':>7} {'natsbench s/eval':>17} {'syne-tune s/eval':>17} "
              f"{'ratio':>8} {'final natsbench':>16} {'final syne-tune':>16}")
    print(header)
    for algo in args.algorithms:
        for workers in (1, 4):
            ours = _ours(problem, algo, workers, args.runs, args.evals)
            per_ours = ours["seconds"] / ours["evals"]
            theirs = None
            if args.syne_python:
                out = subprocess.run([args.syne_python, __file__, "--syne-side", str(npz), algo,
                                      str(workers), str(args.runs), str(args.evals),
                                      str(args.syne_repeat)],
                                     capture_output=True, text=True,
                                     env={**os.environ, "PYTHONPATH": ""})
                if out.returncode != 0:
                    print(out.stderr[-2000:], file=sys.stderr)
                    return 1
                theirs = json.loads(out.stdout.strip().splitlines()[-1])
            per_theirs = theirs["seconds"] / theirs["evals"] if theirs else float("nan")
            fin_ours = f"{np.mean(ours['final']):.2f}+-{np.std(ours['final']):.2f}"
            fin_theirs = (f"{np.mean(theirs['final']):.2f}+-{np.std(theirs['final']):.2f}"
                          if theirs else "n/a")
            print(f"{algo:<8} {workers:>7} {per_ours:>17.2e} {per_theirs:>17.2e} "
                  f"{per_theirs / per_ours:>7.0f}x {fin_ours:>16} {fin_theirs:>16}", flush=True)
    if args.no_surrogate:
        return 0
    rate, predicted, build = _surrogate_rate()
    print(f"surrogate-answered queries in the runner (sss sample, REA): {rate:,.0f} queries/s, "
          f"{predicted:.0%} predicted (problem with batch predictions built in {build:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

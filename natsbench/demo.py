"""``natsbench demo``: the tour a new user runs first (a couple of minutes on 2 cores).

1. Queries: the bundled tss benchmark (``benchmarks/tss-digits``) through the
   NATS-Bench-compatible API and the vectorized ``Bench``.
   Then the bundled size-space sample (``benchmarks/sss-digits``): its best measured
   and best predicted channel configuration, predictions flagged, with the surrogate's
   held-out Kendall tau.
2. A short multi-trial comparison (random search, REA, REINFORCE, BOHB) on the bundled
   benchmark with simulated time, and its anytime curves.
3. The benchmark analysis of NATS-Bench Figs. 5.3-5.4 (accuracy vs params/FLOPs with Pareto
   fronts, validation/test rank correlation) of the toured benchmark.
4. The ExtCell design-space comparison of Na (2022) Fig. 4.2 (accuracy box plots, error EDFs,
   params-normalized EDFs) from the bundled random samples in ``extcell``.
5. The NAS-Bench-360 performance profiles of DASH Fig. 4 / D2NAS Fig. 7 from the published
   numbers shipped in ``published``.
6. One static HTML report of all of it; the command prints where it is.

The bundled files are the repository's ``data/`` folder (:mod:`natsbench.resources`). Nothing
here trains, so the demo runs without torch (``pip install natsbench``).
"""
from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path
from typing import Any

from natsbench.resources import BUNDLED_SSS, BUNDLED_TSS, EXTCELL_SAMPLES, bundled_path

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="a short tour: queries, a multi-trial search, plots, a report",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="natsbench-demo", help="results folder (default ./natsbench-demo)")
    p.add_argument("--runs", type=int, default=20, help="runs per algorithm in the search comparison")
    p.add_argument("--bench", default=None, help="benchmark to tour (default: the bundled tss benchmark)")
    p.add_argument("--sss-bench", default=None,
                   help="sample size-space benchmark with stored surrogate predictions to query "
                        "(default: the bundled sss-digits; 'none' skips it)")
    p.add_argument("--extcell-table", default=None,
                   help="ExtCell samples (CSV/Parquet with group, error, params) for the EDF step "
                        f"(default: the bundled {'/'.join(EXTCELL_SAMPLES)})")
    p.set_defaults(func=run)


def _say(text: str) -> None:
    print(text, flush=True)


def _queries(bench_dir: Path) -> tuple[Any, str, str]:
    import natsbench

    bench = natsbench.open_bench(bench_dir)
    dataset = bench.datasets[0]
    hp = bench.hps(dataset)[-1]
    evaluated = bench.evaluated(dataset, hp)
    _say(f"benchmark {bench_dir}: space {bench.space}, {len(bench)} architectures, "
         f"{int(evaluated.sum())} answer on {dataset} (hp {hp}), seeds {bench.seeds(dataset, hp)}")
    api = natsbench.create(str(bench_dir), bench.space, verbose=False, seed=0)
    index = int(evaluated.nonzero()[0][0])
    info = api.get_more_info(index, dataset, hp=hp, is_random=False)
    _say(f"  api.get_more_info({index}, {dataset!r}, hp={hp!r}): "
         + ", ".join(f"{k}={v:.3f}" for k, v in info.items() if isinstance(v, float)))
    cost = api.get_cost_info(index, dataset, hp=hp)
    _say(f"  api.get_cost_info: params {cost['params']:.4f} M, FLOPs {cost['flops']:.3f} M, "
         f"latency {cost['latency'] * 1e3:.3f} ms (batch 1)")
    valid = "x-valid_acc1" if "x-valid_acc1" in bench.metric_names(dataset, hp) else bench.metric_names(dataset, hp)[1]
    table = bench.table(dataset, hp, metrics=[valid])
    top = table.sort_values(valid, ascending=False).head(3)
    _say(f"  top-3 by {valid} (bench.table):")
    for idx, row in top.iterrows():
        _say(f"    [{idx}] {row['arch']}  {valid}={row[valid]:.2f}  params={row['params']:.3f}M")
    return bench, dataset, hp


def _sss_surrogate(bench_dir: Path, metric: str = "x-test_acc1") -> None:
    """The best measured and the best predicted configuration of a sample sss benchmark."""
    import numpy as np

    import natsbench
    from natsbench.api.surrogate import load_surrogate_predictions
    from natsbench.errors import QueryError

    bench = natsbench.open_bench(bench_dir)
    dataset = bench.datasets[0]
    hp = bench.hps(dataset)[-1]
    try:
        stored = load_surrogate_predictions(bench_dir, dataset, hp, metric, arch_strs=bench.arch_strs)
    except QueryError as exc:  # a sample without stored predictions: nothing fitted in a demo
        _say(f"sample benchmark {bench_dir}: skipped ({exc}; `natsbench surrogate fit` stores them)")
        return
    values, measured, info = stored.value, stored.measured, stored.info
    tau = (info.get("holdout") or {}).get("kendall_tau")
    _say(f"sample benchmark {bench_dir} (space {bench.space}): {int(measured.sum())} of {len(bench)} "
         f"configurations trained, "
         f"the rest answered by a stored {info['model']} surrogate (held-out Kendall tau of "
         f"{metric}: {'n/a' if tau is None else f'{tau:.3f}'})")
    for label, mask in (("measured", measured), ("predicted", ~measured)):
        if mask.any():
            best = int(np.flatnonzero(mask)[np.argmax(values[mask])])
            _say(f"  best {label:<9} [{best}] {bench.arch_strs[best]}  {metric}={values[best]:.2f}"
                 + ("  (predicted)" if label == "predicted" else ""))
    _sss_search(bench, dataset)


def _sss_search(bench: Any, dataset: str, runs: int = 5, evals: int = 100) -> None:
    """A short REA search on the sample whose missing configurations the surrogate answers."""
    from natsbench.errors import NatsBenchError
    from search_algorithms.problem import TabularProblem
    from search_algorithms.runner import Runner

    try:
        problem = TabularProblem.from_bench(bench, dataset, on_missing="surrogate",
                                            surrogate_model="gp")
    except NatsBenchError as exc:
        _say(f"  surrogate-answered search: skipped ({exc})")
        return
    rows = Runner(problem, "rea", max_evals=evals).run_many(runs)
    predicted = float((rows["source"] == "surrogate").mean())
    last = rows.groupby("run").tail(1)
    share = float((last["reported_source"] == "surrogate").mean())
    _say(f"  REA, {runs} runs x {evals} evaluations, missing configurations answered by the "
         f"surrogate: {predicted:.0%} of evaluations PREDICTED (feedback, time, seeded noise)")
    _say(f"    final {problem.sources['report'][1]} accuracy of the incumbent "
         f"{last['reported'].mean():.2f} +- {last['reported'].std():.2f} "
         f"(predicted for {share:.0%} of the runs; simulated {last['sim_time'].mean():,.0f} s/run)")


def _search(bench: Any, dataset: str, hp: str, out: Path, runs: int) -> Any:
    from search_algorithms.grid import run_grid
    from search_algorithms.runner import write_parquet

    t = time.perf_counter()
    rows = run_grid(bench, dataset, runs=runs, search_hp=hp)
    budget = rows["sim_time"].max()
    for algo, group in rows.groupby("algorithm", sort=False):
        final = group.sort_values("sim_time").groupby("run").tail(1)["reported"]
        _say(f"  {algo:<10} {runs} runs (budget {budget:,.0f} simulated s): final test accuracy "
             f"{final.mean():.2f} +- {final.std():.2f}")
    _say(f"  ({time.perf_counter() - t:.1f} s wall for all runs)")
    write_parquet(rows, out / "search" / "runs.parquet")
    return rows


def _check_args(args: argparse.Namespace) -> None:
    """Reject bad arguments before the tour writes anything: a benchmark or table the user
    names must exist (it is never silently replaced or skipped); the bundled ones are found
    through :mod:`natsbench.resources`, which names a missing one."""
    from natsbench.errors import PathError, check_output, check_range, require_dir, require_file
    from natsbench.store.manifest import MANIFEST_FILE

    check_output(args.out, "--out", directory=True)
    check_range("--runs", args.runs, 1, 10**6)
    for option, value in (("--bench", args.bench),
                          ("--sss-bench", None if args.sss_bench == "none" else args.sss_bench)):
        if value is not None and not (require_dir(value, option) / MANIFEST_FILE).is_file():
            raise PathError(f"{option} {value} is not a natsbench benchmark (no manifest.json)")
    if args.extcell_table is not None:
        require_file(args.extcell_table, "--extcell-table")


def run(args: argparse.Namespace) -> int:
    _check_args(args)
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    _say("== 1. queries")
    bench_dir = Path(args.bench) if args.bench else bundled_path(*BUNDLED_TSS)
    bench, dataset, hp = _queries(bench_dir)
    if args.sss_bench != "none":
        _sss_surrogate(Path(args.sss_bench) if args.sss_bench else bundled_path(*BUNDLED_SSS))

    from analysis.reproduce import extcell_edf, nats_analysis, nats_multitrial, nb360_profile, read_table
    from analysis.report import build_report

    _say("== 2. multi-trial search with simulated time")
    evaluated = int(bench.evaluated(dataset, hp).sum())
    if evaluated == len(bench):
        nats_multitrial(_search(bench, dataset, hp, out, args.runs), out / "multitrial")
    else:
        _say(f"  (skipped: only {evaluated} of {len(bench)} architectures answer; searches need the "
             f"whole space, which the complete bundled benchmark provides)")
    _say("== 3. benchmark analysis (NATS-Bench Figs. 5.3-5.4)")
    res = nats_analysis(bench, out / "nats-analysis", datasets=[dataset], hp=hp)
    _say("  " + _valid_test_finding(res.data["valid_test"]))
    _say("== 4. ExtCell vs DARTS random cells (Na 2022, Fig. 4.2)")
    table = Path(args.extcell_table) if args.extcell_table else bundled_path(*EXTCELL_SAMPLES)
    if table.is_file():
        res = extcell_edf(read_table(table), out / "extcell-edf", n_boot=200)
        ks = res.data["ks"]
        for row in ks.itertuples():
            _say(f"  {row.group:<12} n={row.n:<4} mean error {row.mean_error:.2f}%  "
                 f"KS vs {row.reference}: {row.ks:.3f}")
    else:
        _say(f"  (skipped: no ExtCell samples at {table})")
    _say("== 5. NAS-Bench-360 performance profiles (DASH Fig. 4, D2NAS Fig. 7)")
    res = nb360_profile(out / "nb360-profile")
    for key, label in (("dash_fig4", "DASH Fig. 4"), ("d2nas_fig7", "D2NAS Fig. 7")):
        methods = res.data[key]["methods"].sort_values("area_log10", ascending=False)
        top = methods.iloc[0]
        _say(f"  {label}: largest profile area {methods.index[0]} ({top['area_log10']:.3f}), "
             f"best on {int(top['best_on'])} of {len(res.data[key]['table'])} tasks")
    _say("== 6. report")
    report = build_report(out, out / "report", title="natsbench demo")
    _say(f"done in {time.perf_counter() - start:.1f} s; report: {report}")
    return 0


def _valid_test_finding(valid_test: Any) -> str:
    """Kendall tau between the first validation and test accuracy columns (rows: archs)."""
    from analysis.benchmark_analysis import correlation

    cols = list(valid_test.columns)
    if len(cols) < 2:
        return f"(one accuracy column only: {cols})"
    tau, n = correlation(valid_test[cols[0]], valid_test[cols[1]], method="kendall")
    return f"Kendall tau between {cols[0]} and {cols[1]} accuracy over {n} archs: {tau:.3f}"

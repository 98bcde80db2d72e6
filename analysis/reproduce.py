"""Reproductions of published figures: a registry used by ``natsbench reproduce NAME``.

Each reproduction is a plain function (usable from Python) that writes figures (PNG + PDF),
the CSV of every number drawn, and a ``summary.md`` into an output folder, and returns a
:class:`Result`. :data:`REGISTRY` maps the CLI name to its source, its CLI arguments and an
adapter from parsed arguments to the function. docs/REPRODUCING.md lists them.
"""
from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

from analysis.tables import mean_std_cells, require_columns
from natsbench.datasets.specs import TEST_SET_PREFERENCE
from natsbench.errors import ArchiveError, ConfigError, QueryError, check_range, require_file
from natsbench.resources import BUNDLED_TSS, EXTCELL_SAMPLES, PUBLISHED, bundled_path

if TYPE_CHECKING:  # numpy/pandas are imported inside the functions: `natsbench --help` stays fast
    import pandas as pd

log = logging.getLogger(__name__)

VALID_SET = "x-valid"


@dataclass
class Result:
    """What a reproduction wrote: the folder, every file, and the markdown summary."""

    name: str
    out_dir: Path
    files: list[Path] = field(default_factory=list)
    summary: str = ""
    data: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# helpers
def md_table(frame: pd.DataFrame, *, floatfmt: str = ".4g", index: bool = True) -> str:
    """A GitHub-markdown table of ``frame`` (no external dependency)."""
    import numpy as np

    df = frame.rename_axis(frame.index.name or "").reset_index() if index else frame

    def cell(v: Any) -> str:
        if isinstance(v, (float, np.floating)):
            return "" if np.isnan(v) else format(float(v), floatfmt)
        return str(v).replace("|", "\\|")

    head = "| " + " | ".join(map(str, df.columns)) + " |"
    sep = "|" + "|".join("---" for _ in df.columns) + "|"
    rows = ["| " + " | ".join(cell(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join([head, sep, *rows])


def _finish(result: Result, summary_lines: Sequence[str]) -> Result:
    result.out_dir.mkdir(parents=True, exist_ok=True)
    result.summary = "\n".join(summary_lines).rstrip() + "\n"
    path = result.out_dir / "summary.md"
    path.write_text(result.summary, encoding="utf-8")
    result.files.append(path)
    return result


def _write_csv(frame: pd.DataFrame, path: Path, result: Result, *, index: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=index)
    result.files.append(path)


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV or Parquet (``.parquet``/``.pq``) table (natsbench's own reader)."""
    from natsbench.store.table_import import read_table as _read

    return _read(path)


def _read_input_table(path: str | Path, what: str, columns: Sequence[str]) -> pd.DataFrame:
    """``read_table`` of a user-given file; PathError/ArchiveError naming the file and the
    required ``columns`` when it is missing, a directory, unreadable or lacks them."""
    require_file(path, what)
    try:
        frame = read_table(path)
    except ArchiveError as exc:
        raise ArchiveError(f"{what} {path}: {exc}") from exc
    except Exception as exc:  # a parser's own error on a file that is no table
        raise ArchiveError(f"{what} {path} is not a readable CSV/Parquet table "
                           f"({type(exc).__name__}: {exc})") from exc
    return require_columns(frame, columns, f"{what} {path}")


# --------------------------------------------------------------------------------------------
# nb360-profile: DASH Fig. 4 and D2NAS Fig. 7
def nb360_profile(out_dir: str | Path, *, errors_csv: str | Path | None = None,
                  num: int = 400, tau_max_linear: float | None = 4.0,
                  with_csv: str | Path | None = None) -> Result:
    """Performance profiles of DASH Fig. 4 and D2NAS Fig. 7 from the published errors.

    ``with_csv``: the user's own rows (``method, task, metric, mean``; e.g. the ``row.csv`` of
    ``natsbench dash`` runs) added as further methods to both profiles (tasks without a row count
    as not run); the papers' statements are still checked on the published rows only.

    For each figure writes ``<fig>/profile_linear`` and ``<fig>/profile_log10`` (PNG, PDF, CSV),
    ``errors.csv`` (the [task x method] table profiled), ``ratios.csv``, ``ranks.csv``,
    ``methods.csv`` (best-on counts, mean rank, rho(1), area) and ``claims.csv`` (the papers'
    statements in words next to the recomputed numbers).
    """
    import numpy as np

    from analysis import nb360, plots, profiles

    check_range("num", num, 2, 10**6)
    if tau_max_linear is not None:
        check_range("tau_max_linear", tau_max_linear, 1.0 + 1e-9)
    if errors_csv is not None:
        require_file(errors_csv, "--errors")
    if with_csv is not None:
        require_file(with_csv, "--with")
    out = Path(out_dir)
    result = Result("nb360-profile", out)
    errors = nb360.load_errors(errors_csv)
    user = None if with_csv is None else nb360.load_user_rows(with_csv, errors)
    user_methods = [] if user is None else list(dict.fromkeys(user["method"]))
    user_table = None if user is None else nb360.error_matrix(user).reindex(
        nb360.error_matrix(errors).index)
    figures = {
        "dash_fig4": ("DASH (Shen et al. 2022) Fig. 4", nb360.dash_fig4_table(errors),
                      list(nb360.DASH_FIG4_METHODS), nb360.dash_claims, ("DASH",)),
        "d2nas_fig7": ("D2NAS (Lee et al. 2024) Fig. 7", nb360.d2nas_fig7_table(errors),
                       list(nb360.D2NAS_FIG7_METHODS), nb360.d2nas_claims, ("D2NAS", "DASH")),
    }
    lines = ["# nb360-profile: NAS-Bench-360 performance profiles", "",
             "Published test errors (data/published/nasbench360_errors.csv; lower is better, "
             "missing = not run = failure). Ratios r = error / best error per task.", ""]
    for key, (title, full, methods, claim_fn, highlight) in figures.items():
        table = full[methods]
        if user_table is not None:
            table = table.join(user_table[user_methods])
            methods = methods + user_methods
            highlight = highlight + tuple(user_methods)
        ratios = profiles.performance_ratios(table)
        ranks = profiles.task_ranks(table)
        log_grid = profiles.tau_grid(ratios, scale="log10", num=num)
        lin_grid = profiles.tau_grid(ratios, scale="linear", num=num, tau_max=tau_max_linear)
        tau_max_log = float(log_grid.max())
        for scale, grid in (("linear", lin_grid), ("log10", log_grid)):
            result.files += plots.plot_profiles(
                profiles.profile(ratios, grid), out / key / f"profile_{scale}",
                log10=scale == "log10", title=f"{title}: performance profile", highlight=highlight)
        methods_df = nb360.method_summary(table, tau_max_log10=float(np.log10(tau_max_log)))
        methods_df["area_linear"] = profiles.profile_area(ratios, tau_max=float(lin_grid.max()))
        claims = nb360.claims_frame(claim_fn(full))
        written = full if user_table is None else full.join(user_table[user_methods])
        _write_csv(written.reset_index(), out / key / "errors.csv", result)
        _write_csv(ratios.reset_index(), out / key / "ratios.csv", result)
        _write_csv(ranks.reset_index(), out / key / "ranks.csv", result)
        _write_csv(methods_df.reset_index(), out / key / "methods.csv", result)
        _write_csv(claims, out / key / "claims.csv", result)
        result.data[key] = {"table": table, "methods": methods_df, "claims": claims}
        lines += [f"## {title}", "",
                  f"Methods: {', '.join(methods)}. Area: normalized area under rho(tau) for "
                  f"log10 tau in [0, {np.log10(tau_max_log):.3f}].", "",
                  md_table(methods_df), "", "### Statements in the paper vs these numbers", "",
                  md_table(claims.drop(columns=["figure"]), index=False), ""]
    return _finish(result, lines)


def _nb360_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--errors", type=Path, default=None,
                        help="published errors CSV (default: the shipped data/published/nasbench360_errors.csv)")
    parser.add_argument("--num", type=int, default=400, help="tau grid points (default 400)")
    parser.add_argument("--tau-max-linear", type=float, default=4.0,
                        help="right end of the linear tau axis (default 4; the log10 profile always "
                             "spans every finite ratio)")
    parser.add_argument("--with", dest="with_csv", type=Path, default=None,
                        help="CSV of your own rows (method, task, metric, mean; e.g. the "
                             "retrain/row.csv files of `natsbench dash` runs) added to both profiles")


def _nb360_run(args: argparse.Namespace, out: Path) -> Result:
    return nb360_profile(out, errors_csv=args.errors, num=args.num,
                         tau_max_linear=args.tau_max_linear, with_csv=args.with_csv)


# --------------------------------------------------------------------------------------------
# nats-analysis: NATS-Bench Figs. 5.2-5.5 for any benchmark
def _pick_hp(bench: Any, dataset: str, hp: str | int | None) -> str:
    hps = [str(h) for h in bench.hps(dataset)]
    if not hps:
        raise QueryError(f"dataset {dataset!r} has no hp in this benchmark")
    if hp is not None:
        from natsbench.store.records import normalize_hp

        for cand in hps:
            if normalize_hp(cand) == normalize_hp(hp):
                return cand
        raise QueryError(f"hp {hp!r} not available for {dataset!r}; valid: {hps}")
    try:
        return max(hps, key=lambda h: bench.epochs(dataset, h))
    except (AttributeError, TypeError):
        return max(hps, key=lambda h: int(h) if h.isdigit() else -1)


def _arch_indexed(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.set_index("arch") if "arch" in frame.columns else frame


def bench_frame(bench: Any, dataset: str, hp: str) -> pd.DataFrame:
    """``bench.table(dataset, hp)`` indexed by arch, with ``params``/``flops`` from ``bench.costs``."""
    table = _arch_indexed(bench.table(dataset, hp)).copy()
    missing = [c for c in ("params", "flops") if c not in table.columns]
    if missing:
        costs = _arch_indexed(bench.costs(dataset))
        for c in missing:
            if c in costs.columns:
                table[c] = costs[c].reindex(table.index)
    return table


def _acc_column(table: pd.DataFrame, sets: Iterable[str]) -> str | None:
    for s in sets:
        if f"{s}_acc1" in table.columns:
            return f"{s}_acc1"
    return None


def nats_analysis(bench: Any, out_dir: str | Path, *, datasets: Sequence[str] | None = None,
                  hp: str | int | None = None, reference: str | None = None,
                  fractions: Sequence[float] = (1.0, 0.5, 0.2, 0.1, 0.05),
                  methods: Sequence[str] = ("kendall", "spearman")) -> Result:
    """NATS-Bench Figs. 5.2-5.5 for a benchmark (``bench``: an object with ``datasets``,
    ``hps(d)``, optional ``epochs(d, hp)``, ``table(d, hp)`` and ``costs(d)``).

    * Fig. 5.3 per dataset: train and test accuracy vs params and FLOPs with Pareto fronts;
    * Fig. 5.2: rank of every arch by test accuracy per dataset, sorted by ``reference``;
    * Fig. 5.4: correlation matrix of validation (x-valid) and test accuracies (test = x-test
      where the dataset has it, else ori-test, as the official API's ``test-accuracy``);
    * Fig. 5.5: correlation of test accuracies between datasets, on all archs and on the top
      ``fractions`` of archs ranked by the ``reference`` dataset's test accuracy.

    hp defaults per dataset to the longest training schedule; ``reference`` to ``cifar10``
    (else the first dataset).
    """
    import pandas as pd

    from analysis import benchmark_analysis as ba, plots

    out = Path(out_dir)
    result = Result("nats-analysis", out)
    available = list(bench.datasets)
    datasets = list(datasets) if datasets else available
    unknown = [d for d in datasets if d not in available]
    if unknown:
        raise QueryError(f"datasets {unknown} not in the benchmark; valid: {available}")
    if reference is not None and reference not in datasets:
        raise QueryError(f"reference dataset {reference!r} is not among the datasets analysed; "
                         f"valid: {datasets}")
    for fraction in fractions:
        if not 0.0 < fraction <= 1.0:
            raise ConfigError(f"top fraction {fraction!r} must be in (0, 1]; e.g. 1 0.5 0.1")
    for d in datasets:   # every hp resolves before any figure is drawn
        _pick_hp(bench, d, hp)
    space = getattr(bench, "space", "")
    space = getattr(space, "name", space)
    tests: dict[str, pd.Series] = {}
    valid_test: dict[str, pd.Series] = {}
    used_hp: dict[str, str] = {}
    used_cols: dict[str, str] = {}
    for d in datasets:
        used_hp[d] = _pick_hp(bench, d, hp)
        table = bench_frame(bench, d, used_hp[d])
        test_col = _acc_column(table, TEST_SET_PREFERENCE)
        valid_col = _acc_column(table, (VALID_SET,))
        used_cols[d] = f"valid {valid_col or '-'}, test {test_col or '-'}"
        panels = [(cost, acc) for cost in ("params", "flops") if cost in table.columns
                  for acc in ("train_acc1", test_col) if acc and acc in table.columns]
        if panels:
            result.files += plots.plot_cost_accuracy(
                table, out / f"fig5_3_{d}", panels=panels,
                title=f"{space} {d} (hp {used_hp[d]}): accuracy vs cost",
                labels={"params": "#params (M)", "flops": "FLOPs (M)", "train_acc1": "train accuracy (%)",
                        test_col or "": "test accuracy (%)"})
        else:
            log.warning("dataset %s: no cost/accuracy columns for Fig. 5.3", d)
        if valid_col:
            valid_test[f"{d} valid"] = table[valid_col]
        if test_col:
            tests[d] = table[test_col]
            valid_test[f"{d} test"] = table[test_col]
    if not tests:
        raise QueryError(f"no test accuracy column ({', '.join(s + '_acc1' for s in TEST_SET_PREFERENCE)}) "
                         f"in the tables of {datasets}")
    scores = pd.DataFrame(tests).dropna(axis=1, how="all")
    if scores.empty:
        raise QueryError(f"every test accuracy of {datasets} is missing (hp {used_hp})")
    if reference is None:
        reference = "cifar10" if "cifar10" in scores.columns else scores.columns[0]
    if reference not in scores.columns:
        raise QueryError(f"reference dataset {reference!r} has no test accuracy; valid: {list(scores.columns)}")
    scores = scores[[reference, *[c for c in scores.columns if c != reference]]]
    ranks = ba.rank_frame(scores, reference=reference)
    result.files += plots.plot_ranks(ranks, out / "fig5_2_ranks", reference=reference,
                                     title=f"{space}: rank by test accuracy")
    vt = pd.DataFrame(valid_test)
    lines = [f"# nats-analysis ({space})", "",
             "Datasets, hp and columns: " + "; ".join(f"{d} (hp {h}: {used_cols[d]})"
                                                      for d, h in used_hp.items()), ""]
    for method in methods:
        corr = ba.correlation_matrix(vt, method=method)
        result.files += plots.plot_correlation_matrix(
            corr, out / f"fig5_4_valid_test_{method}", title=f"{space}: {method} valid/test")
        lines += [f"## Fig. 5.4 {method} correlation, validation and test accuracy", "",
                  md_table(corr.round(4)), ""]
        if scores.shape[1] > 1:
            dcorr = ba.correlation_matrix(scores, method=method)
            result.files += plots.plot_correlation_matrix(
                dcorr, out / f"fig5_5_datasets_{method}", title=f"{space}: {method} between datasets")
    if scores.shape[1] > 1:
        top = ba.top_fraction_correlations(scores, fractions=fractions, select_by=reference,
                                           methods=methods)
        result.files += plots.plot_top_correlations(
            top, out / "fig5_5_top_fractions",
            title=f"{space}: correlation on the top archs by {reference} test accuracy")
        lines += ["## Fig. 5.5 correlation between datasets (test accuracy) on the top archs", "",
                  f"Top archs chosen by {reference} test accuracy.", "",
                  md_table(top, index=False), ""]
    best = scores.idxmax()
    lines += ["## Best arch per dataset (test accuracy)", "",
              md_table(pd.DataFrame({"arch": best, "test_acc1": scores.max(),
                                     f"rank_on_{reference}": [ranks.loc[a, reference] for a in best]})), ""]
    result.data.update(scores=scores, ranks=ranks, valid_test=vt)
    return _finish(result, lines)


def _nats_analysis_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bench", type=Path, required=True, help="benchmark directory (natsbench.open_bench)")
    parser.add_argument("--datasets", nargs="+", default=None, help="datasets (default: all in the benchmark)")
    parser.add_argument("--hp", default=None, help="training schedule (default: the longest per dataset)")
    parser.add_argument("--reference", default=None, help="dataset that orders ranks and picks top archs "
                        "(default cifar10, else the first)")
    parser.add_argument("--fractions", nargs="+", type=float, default=[1.0, 0.5, 0.2, 0.1, 0.05],
                        help="top fractions for Fig. 5.5 (default 1 0.5 0.2 0.1 0.05)")
    parser.add_argument("--methods", nargs="+", default=["kendall", "spearman"],
                        choices=["kendall", "spearman", "pearson"], help="correlation measures")


def _nats_analysis_run(args: argparse.Namespace, out: Path) -> Result:
    import natsbench

    bench = natsbench.open_bench(args.bench)
    return nats_analysis(bench, out, datasets=args.datasets, hp=args.hp, reference=args.reference,
                         fractions=args.fractions, methods=args.methods)


# --------------------------------------------------------------------------------------------
# nats-multitrial: NATS-Bench Fig. 5.6 (and 5.7 with x="step")
def nats_multitrial(rows: pd.DataFrame, out_dir: str | Path, *, x: str = "sim_time",
                    time_step: float | None = None, max_time: float | None = None,
                    band: str = "ci", value: str = "reported") -> Result:
    """Anytime curves (mean and 95% band over runs) of the searched arch's test accuracy.

    ``rows``: tidy search rows (see :mod:`analysis.anytime`). With ``x="sim_time"`` the grid is
    every ``time_step`` seconds up to ``max_time`` (default: the largest simulated time), as in
    Fig. 5.6 (every 100 s up to 2e4 s); ``time_step`` defaults to 100 s when the grid reaches
    10,000 s (the NATS-Bench budgets), else to 1/100 of the grid, so short budgets (e.g. the
    bundled benchmark's) get a smooth curve too. With ``x="step"`` the grid is every search
    step/epoch (Fig. 5.7).
    """
    from analysis import anytime, plots

    out = Path(out_dir)
    result = Result("nats-multitrial", out)
    anytime.check_search_rows(rows)
    _check_grid_args(time_step, max_time)
    step = None
    if x == "sim_time":
        end = float(max_time if max_time is not None else rows["sim_time"].max())
        step = time_step if time_step is not None else (100.0 if end >= 10_000 else end / 100)
    summary = anytime.anytime_curves(rows, x=x, step=step, max_x=max_time, band=band, value=value)
    fig = "fig5_6_anytime" if x == "sim_time" else "fig5_7_anytime"
    result.files += plots.plot_anytime(
        summary, out / fig, xlabel="simulated time (s)" if x == "sim_time" else "search epoch",
        ylabel="test accuracy (%)" if value == "reported" else "best feedback")
    last = summary.sort_values("x").groupby(["space", "dataset", "algorithm"], sort=True).tail(1)
    last = last.sort_values(["space", "dataset", "mean"], ascending=[True, True, False])
    _write_csv(last, out / "final.csv", result)
    runs = rows.groupby(["space", "dataset", "algorithm"])["run"].nunique().rename("runs").reset_index()
    lines = ["# nats-multitrial", "",
             f"Anytime {value} accuracy of the current best-by-feedback arch; mean over runs and "
             f"95% {'confidence interval of the mean' if band == 'ci' else 'percentile band'}.", "",
             "## Runs", "", md_table(runs, index=False), "",
             "## Value at the end of the grid", "", md_table(last, index=False), ""]
    result.data.update(summary=summary, final=last)
    return _finish(result, lines)


def _multitrial_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runs", type=Path, default=None,
                        help="Parquet (or CSV) of search rows: algorithm, space, dataset, run, step, "
                             "sim_time, arch, feedback, reported. Without it, the searches are run "
                             "first on --bench")
    parser.add_argument("--bench", type=Path, default=None,
                        help="benchmark to search when --runs is not given (default: the bundled "
                             "tss benchmark, data/benchmarks/tss-digits)")
    parser.add_argument("--dataset", default=None,
                        help="dataset of --bench (default: its first dataset)")
    parser.add_argument("--num-runs", type=int, default=100, help="runs per algorithm with --bench (default 100)")
    parser.add_argument("--x", choices=["sim_time", "step"], default="sim_time",
                        help="x axis: simulated seconds (Fig. 5.6) or search step/epoch (Fig. 5.7)")
    parser.add_argument("--time-step", type=float, default=None,
                        help="grid spacing in seconds (default: 100 when the grid reaches 10,000 s, "
                             "as in the paper, else 1/100 of the grid)")
    parser.add_argument("--max-time", type=float, default=None, help="grid end in seconds (default: last row)")
    parser.add_argument("--band", choices=["ci", "percentile"], default="ci",
                        help="95%% band: t confidence interval of the mean, or 2.5-97.5 percentiles of runs")


def _check_grid_args(time_step: float | None, max_time: float | None) -> None:
    if time_step is not None:
        check_range("time step", time_step, 1e-12)
    if max_time is not None:
        check_range("max time", max_time, 1e-12)


def _multitrial_run(args: argparse.Namespace, out: Path) -> Result:
    from analysis.anytime import SEARCH_COLUMNS

    _check_grid_args(args.time_step, args.max_time)
    if args.runs is not None:
        rows = _read_input_table(args.runs, "--runs", SEARCH_COLUMNS)
    else:  # run RS/REA/REINFORCE/BOHB on the benchmark first (search_algorithms' tidy rows)
        import natsbench
        from search_algorithms.grid import run_grid

        check_range("--num-runs", args.num_runs, 1)
        bench_dir = args.bench or bundled_path(*BUNDLED_TSS)
        bench = natsbench.open_bench(bench_dir)
        if args.dataset is not None and args.dataset not in bench.datasets:
            raise QueryError(f"unknown dataset {args.dataset!r} of {bench_dir}; valid: {bench.datasets}")
        dataset = args.dataset or bench.datasets[0]
        from search_algorithms.runner import write_parquet

        rows = run_grid(bench, dataset, runs=args.num_runs)
        write_parquet(rows, out / "runs.parquet")
    return nats_multitrial(rows, out, x=args.x, time_step=args.time_step,
                           max_time=args.max_time, band=args.band)


# --------------------------------------------------------------------------------------------
# nats-weightsharing: NATS-Bench Fig. 5.7a (tss), 5.7b (sss), 5.7c (sss with warm-up)
WS_DEFAULT_SEEDS = "777,888,999"
#: warm-up ratio of the Fig. 5.7c searches (the official runs' 0.3)
WS_DEFAULT_WARMUP = 0.3


def nats_weightsharing(rows: pd.DataFrame, out_dir: str | Path, *, band: str = "std") -> Result:
    """NATS-Bench Fig. 5.7a/b/c from ``natsbench search-ws`` rows (see
    :mod:`analysis.weight_sharing`; each figure drawn when the rows have its searches).

    Writes ``fig5_7a_weightsharing`` (tss), ``fig5_7b_weightsharing`` (sss) and
    ``fig5_7c_weightsharing`` (sss with warm-up): reported test accuracy of the arch derived
    after each search epoch: mean over seeds and a ``band`` -- ``std`` = mean -/+ one standard
    deviation (default), ``minmax`` = the seeds' range, ``ci``/``percentile`` = 95% bands; one
    line per algorithm, one panel per dataset; ``final.csv`` (each seed's last epoch: mean, std,
    min, max per algorithm, with its ``figure``), and for tss ``edge_fractions.csv`` (share of
    skip_connect/none edges per epoch, every algorithm) and ``fig5_7a_darts_edges`` (that share
    for DARTS-V1/V2, when present).
    """
    import numpy as np
    import pandas as pd

    from analysis import plots, weight_sharing as ws

    ws.check_ws_rows(rows)
    if band not in ws.BANDS:
        raise QueryError(f"unknown band {band!r}; valid: {ws.BANDS}")
    out = Path(out_dir)
    result = Result("nats-weightsharing", out)
    band_words = {"std": "mean -/+ one standard deviation over seeds (ddof=1)",
                  "minmax": "minimum to maximum over seeds",
                  "ci": "95% t confidence interval of the mean over seeds",
                  "percentile": "2.5-97.5 percentiles over seeds"}[band]
    panels = ws.split_panels(rows)
    if not panels:
        raise QueryError(f"no tss or sss rows to draw (spaces: {sorted(set(rows['space']))})")
    titles = {"5.7a": "tss", "5.7b": "sss", "5.7c": "sss, warm-up"}
    curves, finals = [], []
    lines = [f"# nats-weightsharing (NATS-Bench Fig. {', '.join(panels)})", "",
             f"Reported test accuracy (%) of the architecture derived after each search epoch; "
             f"band: {band_words}. {rows['seed'].nunique()} seed(s), "
             f"{int(rows['epoch'].max())} epoch(s), {len(rows)} rows.", ""]
    for fig, part in panels.items():
        curve = ws.epoch_curves(part, band=band)
        stem = "fig" + fig.replace(".", "_")
        result.files += plots.plot_anytime(
            curve, out / f"{stem}_weightsharing", xlabel="search epoch",
            ylabel="test accuracy (%)",
            title=f"Fig. {fig} ({titles[fig]}): arch derived per search epoch (band: {band})")
        curves.append(curve.assign(figure=fig))
        final = ws.final_table(part).assign(figure=fig)
        finals.append(final)
        shown = final.drop(columns=["figure"]).assign(**{
            "final (mean ± std)": mean_std_cells(final["mean"], final["std"])})
        warm = sorted(set(ws.warmup_of(part)))
        lines += [f"## Fig. {fig} ({titles[fig]}): final reported accuracy (last epoch of each "
                  "seed)", ""]
        if fig == "5.7c":
            lines += [f"Warm-up ratio {', '.join(f'{w:g}' for w in warm)}.", ""]
        counts = part["source"].value_counts().to_dict() if "source" in part.columns else {}
        if counts:
            lines += ["Answers of the derived architectures (rows): " + ", ".join(
                f"{k} {v}" for k, v in sorted(counts.items())) + ".", ""]
        lines += [md_table(shown, index=False, floatfmt=".4g"), ""]
    final = pd.concat(finals, ignore_index=True)
    _write_csv(final, out / "final.csv", result)
    curves = pd.concat(curves, ignore_index=True)
    result.data.update(curves=curves, final=final)
    if "5.7a" not in panels:
        return _finish(result, lines)
    rows = panels["5.7a"]
    fractions = ws.edge_fractions(rows, band=band)
    _write_csv(fractions, out / "edge_fractions.csv", result)
    darts = [a for a in ws.DARTS_ALGORITHMS if a in set(rows["algorithm"])]
    if darts:
        dfrac = ws.edge_fractions(rows, algorithms=darts, band=band)
        result.files += plots.plot_anytime(
            dfrac, out / "fig5_7a_darts_edges", xlabel="search epoch",
            ylabel="fraction of the cell's edges",
            title="DARTS: skip_connect / none edges of the derived arch")
        lines += ["## Fraction of skip_connect / none edges, DARTS-V1/V2", "",
                  "Mean over seeds of (edges of that op) / (edges of the cell, 6 in tss).", "",
                  md_table(ws.edge_fraction_table(dfrac), index=False, floatfmt=".3f"), ""]
    else:
        lines += ["No DARTS-V1/V2 rows: no skip/none figure (edge_fractions.csv has every "
                  "algorithm).", ""]
    lines += ["## Fraction of skip_connect / none edges, every algorithm", "",
              md_table(ws.edge_fraction_table(fractions), index=False, floatfmt=".3f"), ""]
    result.data.update(edge_fractions=fractions)
    return _finish(result, lines)


def _ws_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rows", type=Path, default=None,
                        help="Parquet (or CSV) of `natsbench search-ws` rows: algorithm, space, "
                             "dataset, seed, epoch, arch, reported (tss: num_skip, num_none; "
                             "warm-up searches: warmup_ratio). Without it, the search-ws grid runs "
                             "first (digits config; tss algorithms on the bundled tss-digits, sss "
                             "ones on sss-digits with and without warm-up, untrained configurations "
                             "answered by its stored surrogate; checkpoints in OUT/checkpoints, so "
                             "a rerun resumes)")
    parser.add_argument("--algorithms", default=None,
                        help="comma-separated search-ws algorithms to run without --rows "
                             "(default: all)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="search epochs without --rows (default: the digits config's)")
    parser.add_argument("--seeds", default=None,
                        help=f"comma-separated seeds without --rows (default {WS_DEFAULT_SEEDS})")
    parser.add_argument("--workers", type=int, default=None,
                        help="parallel searches without --rows (default: CPUs, at most one per "
                             "search; the rows do not depend on it)")
    parser.add_argument("--warmup-ratio", type=float, default=None,
                        help=f"warm-up ratio of the Fig. 5.7c sss searches without --rows "
                             f"(default {WS_DEFAULT_WARMUP})")
    parser.add_argument("--on-missing", choices=("error", "surrogate", "train"), default=None,
                        help="how an sss configuration sss-digits did not train is answered "
                             "without --rows (default: surrogate)")
    parser.add_argument("--band", choices=["std", "minmax", "ci", "percentile"], default="std",
                        help="band around the mean over seeds: one standard deviation (default), "
                             "min-max, 95%% CI of the mean or 2.5-97.5 percentiles")


def _ws_run(args: argparse.Namespace, out: Path) -> Result:
    from analysis.weight_sharing import WS_COLUMNS

    grid_options = [f"--{k.replace('_', '-')}" for k in ("algorithms", "seeds", "epochs",
                                                           "workers", "warmup_ratio", "on_missing")
                    if getattr(args, k) is not None]
    if args.rows is not None:
        if grid_options:
            raise ConfigError(f"{', '.join(grid_options)} only apply without --rows (they set "
                              f"up the searches); --rows {args.rows} already holds their rows")
        rows = _read_input_table(args.rows, "--rows", WS_COLUMNS)
        return nats_weightsharing(rows, out, band=args.band)
    # no rows: run the search-ws grid on the bundled digits configuration first
    import os

    import pandas as pd

    from search_algorithms.runner import write_parquet
    from search_algorithms.weight_sharing import get_config, grid
    from search_algorithms.weight_sharing.engine import algorithms_for_space, check_warmup
    from search_algorithms.weight_sharing.spaces import get_space_adapter

    # Fig. 5.7a: the tss methods; 5.7b/c: the sss ones (not the ExtCell strength searches)
    valid = algorithms_for_space("tss") + algorithms_for_space("sss")
    algorithms = "all" if args.algorithms is None else args.algorithms
    names = list(valid) if algorithms == "all" else [a.strip() for a in algorithms.split(",")
                                                     if a.strip()]
    unknown = [a for a in names if a not in valid]
    if unknown or not names:
        raise QueryError(f"--algorithms {algorithms!r}: unknown {unknown}; valid: "
                         f"{', '.join(valid)} or all")
    seeds = grid.parse_seeds(WS_DEFAULT_SEEDS if args.seeds is None else args.seeds)
    warmup = WS_DEFAULT_WARMUP if args.warmup_ratio is None else args.warmup_ratio
    on_missing = "surrogate" if args.on_missing is None else args.on_missing
    if args.epochs is not None:
        check_range("--epochs", args.epochs, 1, 10**6)
    if args.workers is not None:
        check_range("--workers", args.workers, 1, 4096)
    config = get_config("digits", **({} if args.epochs is None else {"epochs": args.epochs}))
    names = list(dict.fromkeys(names))
    # one grid per (space, warm-up): tss searches; sss searches without and with warm-up
    groups = []
    for space in ("tss", "sss"):
        algos = [a for a in names if a in algorithms_for_space(space)]
        if not algos:
            continue
        ratios = (0.0,) if space == "tss" else (0.0, warmup)
        for ratio in ratios:
            for a in algos:
                check_warmup(a, ratio)
            groups.append((space, config.replace(warmup_ratio=ratio),
                           [grid.WSJob(a, "digits", s, space) for a in algos for s in seeds]))
    workers = args.workers or max(1, min(max(len(g[2]) for g in groups), os.cpu_count() or 1))
    # checkpoints go to the final folder (args.out), not the staging one: a killed or failed
    # run leaves them there and the same command resumes every search after its last epoch
    final_out = _final_out(args, out)
    frames = [grid.run_grid(jobs, cfg, bundled_path(*get_space_adapter(space).bundled),
                            device="cpu", checkpoint_dir=final_out / "checkpoints",
                            workers=workers, threads=1, progress=True, on_missing=on_missing)
              for space, cfg, jobs in groups]
    rows = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    write_parquet(rows, out / "rows.parquet")
    result = nats_weightsharing(rows, out, band=args.band)
    result.files.append(out / "rows.parquet")
    return result


# --------------------------------------------------------------------------------------------
# extcell-edf: Na (2022) Fig. 4.2
EXTCELL_COLUMNS: tuple[str, ...] = ("group", "error", "params")


def extcell_edf(samples: pd.DataFrame, out_dir: str | Path, *, reference_group: str | None = None,
                bins: int = 10, n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> Result:
    """Na (2022) Fig. 4.2: box plots of test accuracy and error EDFs of random cells per space.

    ``samples``: one row per sampled network, columns ``group`` (e.g. ``DARTS``, ``16-ExtCell``),
    ``error`` (test error, %) and ``params`` (M). Writes the box plot of accuracy = 100 - error
    (4.2a), the EDFs with bootstrap bands (4.2b), the params-normalized EDFs (uniform params
    distribution over the range shared by all groups, ``bins`` bins, empty bins dropped) and
    the KS statistics of every group against ``reference_group`` (default: the first group).
    """
    import numpy as np

    from analysis import edf as edf_mod, plots

    check_range("bins", bins, 1, 10**6)
    check_range("n_boot", n_boot, 0, 10**6)
    check_range("seed", seed, 0)
    check_range("level", level, 1e-9, 1 - 1e-9)
    require_columns(samples, EXTCELL_COLUMNS, "the samples")
    out = Path(out_dir)
    result = Result("extcell-edf", out)
    frame = samples[list(EXTCELL_COLUMNS)].dropna().reset_index(drop=True)
    frame["accuracy"] = 100.0 - frame["error"]
    groups = list(dict.fromkeys(frame["group"]))
    reference_group = groups[0] if reference_group is None else reference_group
    if reference_group not in groups:
        raise QueryError(f"reference group {reference_group!r} not in the table; valid: {groups}")
    rng = np.random.default_rng(seed)
    result.files += plots.plot_boxes(frame, out / "fig4_2a_accuracy_boxes", value="accuracy", group="group",
                                     ylabel="test accuracy (%)", title="Test accuracy of random cells")
    curves = edf_mod.edf_table(frame, value="error", group="group", rng=rng, n_boot=n_boot, level=level)
    result.files += plots.plot_edfs(curves, out / "fig4_2b_error_edf", title="Error EDF")
    lo, hi = edf_mod.common_range(frame)
    frame["weight"] = edf_mod.group_weights(frame, value_range=(lo, hi), bins=bins)
    ks_frame = edf_mod.group_statistics(frame, reference=reference_group, weights=frame["weight"].to_numpy())
    weighted = frame[frame["weight"] > 0]
    ncurves = edf_mod.edf_table(weighted, value="error", group="group", weights="weight", rng=rng,
                                n_boot=n_boot, level=level, grid=np.unique(curves["x"]))
    result.files += plots.plot_edfs(ncurves, out / "fig4_2b_error_edf_params_normalized",
                                    title=f"Error EDF, params-normalized ({lo:.3g}-{hi:.3g} M)")
    _write_csv(ks_frame, out / "ks.csv", result)
    lines = ["# extcell-edf (Na 2022, Fig. 4.2)", "",
             f"{len(frame)} sampled networks in {len(groups)} groups; reference {reference_group}. "
             f"Params-normalized EDF: {bins} equal-width bins on the common params range "
             f"[{lo:.4g}, {hi:.4g}] M, uniform target, empty bins dropped.", "",
             md_table(ks_frame, index=False), ""]
    result.data.update(ks=ks_frame, curves=curves, normalized=ncurves)
    return _finish(result, lines)


def _extcell_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--table", type=Path, default=None,
                        help="CSV/Parquet with columns group, error (%%), params (M); default: the "
                             f"bundled samples ({'/'.join(EXTCELL_SAMPLES)})")
    parser.add_argument("--reference-group", default=None, help="group the KS statistics compare to "
                        "(default: the first group in the table)")
    parser.add_argument("--bins", type=int, default=10, help="params bins of the normalized EDF (default 10)")
    parser.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples for the bands (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the bootstrap generator (default 0)")


def _extcell_run(args: argparse.Namespace, out: Path) -> Result:
    path = args.table or bundled_path(*EXTCELL_SAMPLES)
    return extcell_edf(_read_input_table(path, "--table", EXTCELL_COLUMNS), out,
                       reference_group=args.reference_group, bins=args.bins,
                       n_boot=args.n_boot, seed=args.seed)


# --------------------------------------------------------------------------------------------
# na-table-3-1: Na (2022) Table 3.1, the proxy-data size curve at digits scale
NA31_SIZES = "10%,20%,40%,100%"
NA31_SELECTIONS = "random,p1"
NA31_SEEDS = "0,1,2,3,4,5,6,7,8,9"
NA31_PUBLISHED = ("published", "na2022_table3_1.csv")


def na_table_3_1(rows: pd.DataFrame, out_dir: str | Path, *,
                 published: pd.DataFrame | None = None) -> Result:
    """Na (2022) Table 3.1 from the last-epoch rows of proxy-data searches
    (:mod:`analysis.proxy_data`): ``table.csv`` (test error mean, std, min, max, search time per
    selection and proxy size), ``fig3_1_proxy_size`` (error vs proxy size, mean -/+ std) and
    ``comparison.csv`` beside the thesis's numbers at the same proxy fraction (``published``:
    default the shipped ``data/published/na2022_table3_1.csv``)."""
    from analysis import plots, proxy_data as pdx

    table = pdx.proxy_size_table(rows)
    if published is None:
        published = read_table(bundled_path(*NA31_PUBLISHED))
    out = Path(out_dir)
    result = Result("na-table-3-1", out)
    _write_csv(table, out / "table.csv", result)
    curves = pdx.proxy_size_curves(table, space=str(rows["space"].iloc[0]) if "space" in rows
                                   else "tss", dataset=str(rows["dataset"].iloc[0])
                                   if "dataset" in rows else "digits")
    if not curves.empty:
        result.files += plots.plot_anytime(curves, out / "fig3_1_proxy_size",
                                           xlabel="proxy data (% of train)",
                                           ylabel="test error (%)",
                                           title="Table 3.1: error of the searched cell vs proxy size")
    comparison = pdx.published_comparison(table, published)
    _write_csv(comparison, out / "comparison.csv", result)
    algos = ", ".join(sorted(set(rows["algorithm"]))) if "algorithm" in rows else "?"
    lines = ["# na-table-3-1 (Na 2022, Table 3.1)", "",
             f"Test error (%) = 100 - the benchmark's test accuracy of the architecture "
             f"derived after the last search epoch ({algos}); mean and std (ddof=1) over seeds; "
             f"search time = the engine's search seconds per search. `full` = the whole train "
             f"set split in halves (any rule selects everything); `none` = the ordinary search "
             f"(weights on train, architecture on x-valid).", "",
             md_table(table, index=False, floatfmt=".4g"), "",
             "## Beside the thesis (CIFAR-10 of 50K and ImageNet of 1.28M, DARTS; test error %)",
             "", md_table(comparison, index=False, floatfmt=".4g"), ""]
    result.data.update(table=table, comparison=comparison)
    return _finish(result, lines)


def _final_out(args: argparse.Namespace, out: Path) -> Path:
    """The folder a resumable run keeps its state in: the user's ``--out`` (``out`` may be a
    temporary folder that is moved there at the end), else ``out``."""
    return Path(args.out) if getattr(args, "out", None) is not None else out


def _na31_args(parser: argparse.ArgumentParser) -> None:
    from analysis.proxy_data import PROXY_COLUMNS

    parser.add_argument("--rows", type=Path, default=None,
                        help=f"Parquet/CSV of finished searches ({', '.join(PROXY_COLUMNS)}); "
                             "without it the grid runs first (bundled tss-digits, digits config; "
                             "resumable: rows and checkpoints in OUT)")
    parser.add_argument("--sizes", default=None, help=f"proxy sizes (default {NA31_SIZES})")
    parser.add_argument("--selections", default=None,
                        help=f"selection rules (default {NA31_SELECTIONS})")
    parser.add_argument("--seeds", default=None, help=f"seeds (default {NA31_SEEDS})")
    parser.add_argument("--epochs", type=int, default=None,
                        help="search epochs (default: the digits config's)")
    parser.add_argument("--algorithm", default=None, help="search-ws algorithm (default darts-v1)")
    parser.add_argument("--workers", type=int, default=None,
                        help="parallel searches (default: CPUs; rows do not depend on it)")
    parser.add_argument("--no-baseline", action="store_true",
                        help="skip the ordinary search without proxy data")


def _na31_run(args: argparse.Namespace, out: Path) -> Result:
    from analysis.proxy_data import PROXY_COLUMNS

    grid_options = [f"--{k.replace('_', '-')}" for k in
                    ("sizes", "selections", "seeds", "epochs", "algorithm", "workers")
                    if getattr(args, k) is not None] + (["--no-baseline"] if args.no_baseline else [])
    if args.rows is not None:
        if grid_options:
            raise ConfigError(f"{', '.join(grid_options)} only apply without --rows")
        return na_table_3_1(_read_input_table(args.rows, "--rows", PROXY_COLUMNS), out)
    import os

    from search_algorithms.runner import write_parquet
    from search_algorithms.weight_sharing import get_config
    from search_algorithms.weight_sharing.engine import algorithms_for_space
    from search_algorithms.weight_sharing.grid import parse_seeds
    from search_algorithms.weight_sharing.proxy_grid import run_proxy_size_grid

    algorithm = args.algorithm or "darts-v1"
    tss_methods = algorithms_for_space("tss")   # the grid searches the tss-digits table
    if algorithm not in tss_methods:
        raise QueryError(f"--algorithm {algorithm!r}; valid: {', '.join(tss_methods)}")
    seeds = parse_seeds(args.seeds or NA31_SEEDS)
    sizes = [x.strip() for x in (args.sizes or NA31_SIZES).split(",") if x.strip()]
    selections = [x.strip() for x in (args.selections or NA31_SELECTIONS).split(",") if x.strip()]
    if not sizes:
        raise ConfigError(f"--sizes names no size; got {args.sizes!r}")
    if args.epochs is not None:
        check_range("--epochs", args.epochs, 1, 10**6)
    if args.workers is not None:
        check_range("--workers", args.workers, 1, 4096)
    config = get_config("digits", **({} if args.epochs is None else {"epochs": args.epochs}))
    from natsbench.datasets.proxy import parse_size

    from natsbench.datasets.proxy import SELECTIONS

    for size in sizes:
        parse_size(size, 1297)  # digits train set: a bad size fails before any training
    bad = [x for x in selections if x not in SELECTIONS]
    if bad or not selections:
        raise ConfigError(f"--selections {args.selections!r}: unknown {bad}; valid: "
                          f"{', '.join(SELECTIONS)}")
    final_out = _final_out(args, out)
    rows = run_proxy_size_grid(final_out / "grid", config, bundled_path(*BUNDLED_TSS),
                               sizes=sizes, selections=selections, seeds=seeds,
                               algorithm=algorithm, baseline=not args.no_baseline,
                               workers=args.workers or max(1, os.cpu_count() or 1))
    write_parquet(rows, out / "rows.parquet")
    result = na_table_3_1(rows, out)
    result.files.append(out / "rows.parquet")
    return result


# --------------------------------------------------------------------------------------------
# na-table-4-2: Na (2022) Table 4.2 and the proxy-size curve of Table 3.1
NA_STRENGTHS: tuple[str, ...] = ("btnas", "darts", "darts-elu", "fairdarts")
NA_KS: tuple[int, ...] = (10, 12, 14, 16)
NA_DEFAULT_SEEDS = "777,888"
NA_CELL_COLUMNS: tuple[str, ...] = ("strength", "k", "actall", "seed", "reported")
NA_PUBLISHED = "na_table_4_2.csv"


def na_table_4_2(cells: pd.DataFrame, out_dir: str | Path, *,
                 published: pd.DataFrame | None = None) -> Result:
    """Na (2022) Table 4.2 at our scale from a table of derived, evaluated cells.

    ``cells``: one row per (strength, k, actall, seed) with the test accuracy ``reported``
    (%) of the derived k-ExtCell (:func:`search_algorithms.weight_sharing.btnas.table_cells`).
    Writes ``table.csv`` (mean, std (ddof=1), number of seeds per strength x k x actall),
    ``cells.csv`` (the input) and ``summary.md``: the table as mean +- std next to the
    thesis's CIFAR-10 numbers (``published``: the shipped ``na_table_4_2.csv``).
    """
    import numpy as np

    cells = require_columns(cells, NA_CELL_COLUMNS, "na-table-4-2 cells")
    out = Path(out_dir)
    result = Result("na-table-4-2", out)
    stats = (cells.groupby(["strength", "actall", "k"])["reported"]
             .agg(mean="mean", std="std", seeds="count").reset_index())
    _write_csv(stats, out / "table.csv", result)
    _write_csv(cells, out / "cells.csv", result)
    wide = stats.assign(cell=mean_std_cells(stats["mean"], stats["std"]))
    wide["method"] = wide["strength"] + np.where(wide["actall"].astype(bool), "+ActAll", "")
    ours = wide.pivot(index="method", columns="k", values="cell")
    ours.columns = [f"k={k}" for k in ours.columns]
    lines = ["# na-table-4-2 (Na 2022, Table 4.2)", "",
             "Test accuracy (%) of the k-ExtCell derived by the top-k survival rule from the "
             "strengths each parametrisation learned, trained with the ExtCell digits "
             "benchmark's protocol: mean ± std (ddof=1) over "
             f"{cells['seed'].nunique()} search seed(s).", "",
             md_table(ours.rename_axis("method"), floatfmt=".2f"), ""]
    if published is not None and len(published):
        pub = published.pivot(index="method", columns="k", values="test_acc")
        pub.columns = [f"k={k}" for k in pub.columns]
        lines += ["Thesis (CIFAR-10, full-size networks; data/published/na_table_4_2.csv; no "
                  "FairDARTS row: its top-k cells have no normal-cell operation for k <= 16):",
                  "", md_table(pub.rename_axis("method"), floatfmt=".2f"), ""]
    times = cells.groupby("strength")[[c for c in ("search_time", "eval_wall_time")
                                       if c in cells.columns]].mean()
    if len(times.columns):
        lines += ["Mean search time per seed and mean evaluation (training) wall time per "
                  "cell (s):", "", md_table(times, floatfmt=".1f"), ""]
    result.data.update(table=stats, cells=cells)
    return _finish(result, lines)


def _na_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cells", type=Path, default=None,
                        help="CSV/Parquet of evaluated cells (strength, k, actall, seed, "
                             "reported); without it the grid runs first (searches on the "
                             "bundled digits ExtCell benchmarks; state in OUT/state, so a rerun "
                             "resumes)")
    parser.add_argument("--strengths", default=",".join(NA_STRENGTHS),
                        help=f"comma-separated parametrisations (default {','.join(NA_STRENGTHS)})")
    parser.add_argument("--ks", default=",".join(map(str, NA_KS)),
                        help="comma-separated operation budgets (default 10,12,14,16)")
    parser.add_argument("--seeds", default=NA_DEFAULT_SEEDS,
                        help=f"comma-separated search seeds (default {NA_DEFAULT_SEEDS})")
    parser.add_argument("--epochs", type=int, default=None,
                        help="search epochs (default: the na-digits config's)")
    parser.add_argument("--actall", action="store_true",
                        help="also derive and evaluate the ActAll cells (Table 4.6 style rows)")
    parser.add_argument("--no-train", action="store_true",
                        help="do not train derived cells the benchmarks lack (their accuracy "
                             "is then NaN)")
    parser.add_argument("--proxy-rows", type=Path, default=None,
                        help="rows of finished proxy-data searches (as `na-table-3-1 --rows`): "
                             "the Table 3.1 proxy-size curve is drawn from them into "
                             "OUT/proxy-size")
    parser.add_argument("--no-proxy-curve", action="store_true",
                        help="skip the Table 3.1 proxy-size curve (by default, without --cells "
                             "and --proxy-rows, its grid runs with na-table-3-1's defaults "
                             "after the cells, resumable in OUT/proxy-size/grid)")


def _na_run(args: argparse.Namespace, out: Path) -> Result:
    import pandas as pd

    published = read_table(bundled_path(*PUBLISHED, NA_PUBLISHED))
    if args.no_proxy_curve and args.proxy_rows is not None:
        raise ConfigError("--proxy-rows and --no-proxy-curve exclude each other")
    proxy_rows = None
    if args.proxy_rows is not None:   # read once; a bad file fails before any search
        from analysis.proxy_data import PROXY_COLUMNS

        proxy_rows = _read_input_table(args.proxy_rows, "--proxy-rows", PROXY_COLUMNS)
    if args.cells is not None:
        cells = _read_input_table(args.cells, "--cells", NA_CELL_COLUMNS)
        result = na_table_4_2(cells, out, published=published)
        return _with_proxy_curve(result, args, out, proxy_rows, run_grid=False)
    from search_algorithms.weight_sharing import get_config
    from search_algorithms.weight_sharing.grid import parse_seeds

    strengths = [s.strip() for s in args.strengths.split(",") if s.strip()]
    bad = [s for s in strengths if s not in NA_STRENGTHS]
    if bad or not strengths:
        raise QueryError(f"--strengths {args.strengths!r}: unknown {bad}; valid: {', '.join(NA_STRENGTHS)}")
    try:
        ks = [int(k) for k in args.ks.split(",") if k.strip()]
    except ValueError:
        raise ConfigError(f"--ks {args.ks!r} must be comma-separated integers from {NA_KS}") from None
    if not ks or any(k not in NA_KS for k in ks):
        raise ConfigError(f"--ks {args.ks!r}: each k must be one of {NA_KS}")
    seeds = parse_seeds(args.seeds)
    if args.epochs is not None:
        check_range("--epochs", args.epochs, 1, 10**5)
    config = get_config("na-digits", **({} if args.epochs is None else {"epochs": args.epochs}))
    from search_algorithms.weight_sharing.btnas import table_cells

    # state (cells, checkpoints) lives in the final folder: a killed run resumes from it
    final_out = _final_out(args, out)
    cells = table_cells(strengths, ks, seeds, state_dir=final_out / "state", config=config,
                        actall=(False, True) if args.actall else (False,),
                        train=not args.no_train, progress=True)
    result = na_table_4_2(pd.DataFrame(cells), out, published=published)
    return _with_proxy_curve(result, args, out, proxy_rows, run_grid=True)


def _with_proxy_curve(result: Result, args: argparse.Namespace, out: Path, proxy_rows: Any, *,
                      run_grid: bool) -> Result:
    """Table 4.2's second part: the Table 3.1 proxy-size curve (na-table-3-1) in
    ``out/proxy-size``, drawn from the ``--proxy-rows`` frame or, when ``run_grid``, from its
    grid run with na-table-3-1's defaults (resumable in the final folder's ``proxy-size/grid``)."""
    if args.no_proxy_curve or (proxy_rows is None and not run_grid):
        return result
    if proxy_rows is not None:
        proxy = na_table_3_1(proxy_rows, out / "proxy-size")
    else:
        parser = argparse.ArgumentParser()
        _na31_args(parser)                      # na-table-3-1's own defaults
        na31 = parser.parse_args([])
        na31.out = _final_out(args, out) / "proxy-size"    # where its grid keeps its state
        proxy = _na31_run(na31, out / "proxy-size")
    result.files += proxy.files
    result.data["proxy_size"] = proxy.data.get("table")
    return result


# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Reproduction:
    """One entry of :data:`REGISTRY`."""

    name: str
    source: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace, Path], Result]


REGISTRY: dict[str, Reproduction] = {r.name: r for r in (
    Reproduction("nb360-profile", "DASH (Shen et al., NeurIPS 2022) Fig. 4 and D2NAS (Lee et al., "
                 "IEEE Access 2024) Fig. 7, from their Table 2",
                 "performance profiles of NAS-Bench-360 methods from the shipped published errors",
                 _nb360_args, _nb360_run),
    Reproduction("nats-analysis", "NATS-Bench (Dong et al., TPAMI 2021; Dong 2021 thesis) Figs. 5.2-5.5",
                 "rankings, accuracy vs cost with Pareto fronts, and correlations for a benchmark",
                 _nats_analysis_args, _nats_analysis_run),
    Reproduction("nats-multitrial", "NATS-Bench Fig. 5.6 (Fig. 5.7 with --x step)",
                 "anytime test accuracy of search algorithms from tidy search rows",
                 _multitrial_args, _multitrial_run),
    Reproduction("nats-weightsharing", "NATS-Bench (Dong et al., TPAMI 2021; Dong 2021 thesis) "
                 "Fig. 5.7a, ch. 5.4.3",
                 "test accuracy of the arch derived after each weight-sharing search epoch "
                 "(DARTS-V1/V2, GDAS, SETN, ENAS, RSPS) from search-ws rows",
                 _ws_args, _ws_run),
    Reproduction("extcell-edf", "Na (PhD thesis 2022) Fig. 4.2 (method of Radosavovic et al., ICCV 2019)",
                 "box plots and error EDFs of DARTS vs k-ExtCell random samples",
                 _extcell_args, _extcell_run),
    Reproduction("na-table-3-1", "Na (PhD thesis 2022) Table 3.1 (proxy data, ch. 3)",
                 "test error of DARTS-searched cells vs proxy-data size, random vs P1 selection, "
                 "at digits scale", _na31_args, _na31_run),
    Reproduction("na-table-4-2", "Na (PhD thesis 2022) Table 4.2",
                 "test accuracy of top-k ExtCells after BtNAS, DARTS, DARTS-ELU and FairDARTS "
                 "searches on the bundled digits ExtCell benchmarks (mean ± std over seeds)",
                 _na_args, _na_run),
)}


def get_reproduction(name: str) -> Reproduction:
    """The registry entry ``name`` (QueryError listing the valid names otherwise)."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise QueryError(f"unknown reproduction {name!r}; valid: {sorted(REGISTRY)}") from None

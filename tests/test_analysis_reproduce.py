"""End-to-end reproductions (nb360-profile, nats-analysis, nats-multitrial, extcell-edf) and the
HTML report, checking the numbers they write against direct computations."""
from __future__ import annotations

import html.parser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis import nb360, reproduce
from natsbench.cli import main
from natsbench.resources import PUBLISHED, bundled_path
from tests.test_analysis_benchmark import brute_force_front


# ---------------------------------------------------------------------------------------------
def _best_on_direct(csv: Path, methods: list[str]) -> dict[str, int]:
    """'Best on how many tasks' straight from the published CSV (ties shared)."""
    errors = pd.read_csv(csv)
    errors = errors[errors["method"].isin(methods)]
    counts = dict.fromkeys(methods, 0)
    for _, task in errors.groupby("task"):
        best = task["mean"].min()
        for m in task.loc[task["mean"] == best, "method"]:
            counts[m] += 1
    return counts


@pytest.fixture(scope="module")
def nb360_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("nb360")
    assert main(["reproduce", "nb360-profile", "--out", str(out), "--num", "50", "--report"]) == 0
    return out


def test_nb360_best_counts_equal_direct_counts(nb360_out: Path, tmp_path: Path) -> None:
    csv = bundled_path(*PUBLISHED, nb360.ERRORS_FILE)
    methods = pd.read_csv(nb360_out / "dash_fig4" / "methods.csv").set_index("method")
    direct = _best_on_direct(csv, list(nb360.DASH_FIG4_METHODS))
    assert methods["best_on"].to_dict() == direct
    assert direct["DASH"] == 5 and sum(direct.values()) == 10  # no ties among DASH Table 2 methods

    # D2NAS Fig. 7 uses the per-task better of the two D2NAS settings: merge in the CSV directly
    errors = pd.read_csv(csv)
    merged = errors[errors["method"].str.startswith("D2NAS")].groupby("task", as_index=False)["mean"].min()
    merged["method"] = "D2NAS"
    tmp = tmp_path / "merged.csv"
    pd.concat([errors[~errors["method"].str.startswith("D2NAS")], merged]).to_csv(tmp, index=False)
    methods7 = pd.read_csv(nb360_out / "d2nas_fig7" / "methods.csv").set_index("method")
    assert methods7["best_on"].to_dict() == _best_on_direct(tmp, list(nb360.D2NAS_FIG7_METHODS))


def test_nb360_claims_recomputed_from_csv(nb360_out: Path) -> None:
    errors = pd.read_csv(bundled_path(*PUBLISHED, nb360.ERRORS_FILE))
    table = errors.pivot(index="task", columns="method", values="mean")
    past = list(nb360.PAST_AUTOMATED)
    dash_beats_auto = int((table["DASH"] < table[past].min(axis=1)).sum())
    dash_beats_expert = int((table["DASH"] < table["Expert"]).sum())
    claims = pd.read_csv(nb360_out / "dash_fig4" / "claims.csv")
    auto_row = claims[claims["statement"].str.contains("past automated")].iloc[0]
    expert_row = claims[claims["statement"].str.contains("hand-designed")].iloc[0]
    assert auto_row["computed"].startswith(f"{dash_beats_auto}/10") and dash_beats_auto == 7
    assert expert_row["computed"].startswith(f"{dash_beats_expert}/10")
    assert bool(auto_row["agrees"]) is True
    assert bool(expert_row["agrees"]) is (dash_beats_expert == 7)

    d2 = table[["D2NAS(common)", "D2NAS(custom)"]].min(axis=1)
    auto7 = [*past, "DASH"]
    claims7 = pd.read_csv(nb360_out / "d2nas_fig7" / "claims.csv")
    row = claims7[claims7["statement"].str.contains("automated")].iloc[0]
    assert row["computed"].startswith(f"{int((d2 < table[auto7].min(axis=1)).sum())}/10")
    fig7 = pd.read_csv(nb360_out / "d2nas_fig7" / "errors.csv").set_index("task")
    pd.testing.assert_series_equal(fig7["D2NAS"], d2.reindex(fig7.index), check_names=False)


def test_nb360_profile_csv_is_the_profile(nb360_out: Path) -> None:
    prof = pd.read_csv(nb360_out / "dash_fig4" / "profile_log10.csv")
    errors = pd.read_csv(nb360_out / "dash_fig4" / "errors.csv").set_index("task")
    best = errors.min(axis=1)
    for tau in prof["tau"].iloc[[0, 10, -1]]:
        row = prof[prof["tau"] == tau].iloc[0]
        for m in ("DASH", "Expert", "TCN"):
            direct = float(((errors[m] / best) <= tau).fillna(False).mean())
            assert row[m] == pytest.approx(direct)
    np.testing.assert_allclose(prof["log10_tau"], np.log10(prof["tau"]))
    for stem in ("profile_linear", "profile_log10"):
        assert (nb360_out / "d2nas_fig7" / f"{stem}.png").stat().st_size > 1000
        assert (nb360_out / "d2nas_fig7" / f"{stem}.pdf").is_file()


# ---------------------------------------------------------------------------------------------
class FakeBench:
    """Stands in for natsbench.api.bench.Bench: only the methods nats-analysis uses."""

    space = "tss"
    datasets = ["cifar10-valid", "cifar10", "cifar100"]

    def __init__(self, n: int = 60) -> None:
        rng = np.random.default_rng(11)
        self.archs = [f"arch{i:03d}" for i in range(n)]
        self.params = rng.uniform(0.1, 1.5, n).round(2)
        self.flops = (self.params * 100 + rng.normal(0, 5, n)).round(1)
        self.quality = self.params * 10 + rng.normal(0, 2, n)
        self.rng = rng

    def hps(self, dataset: str) -> list[str]:
        return ["12", "200"]

    def epochs(self, dataset: str, hp: str) -> int:
        return int(hp)

    def table(self, dataset: str, hp: str) -> pd.DataFrame:
        assert hp == "200"
        rng = np.random.default_rng(self.datasets.index(dataset))
        n = len(self.archs)
        cols = {"train_acc1": 60 + self.quality + rng.normal(0, 1, n),
                "ori-test_acc1": 50 + self.quality + rng.normal(0, 1, n)}
        if dataset != "cifar10":
            cols["x-valid_acc1"] = cols["ori-test_acc1"] + rng.normal(0, 0.5, n)
        frame = pd.DataFrame(cols)
        frame.insert(0, "arch", self.archs)
        return frame

    def costs(self, dataset: str) -> pd.DataFrame:
        return pd.DataFrame({"params": self.params, "flops": self.flops, "latency": 0.01},
                            index=pd.Index(self.archs, name="arch"))


def test_nats_analysis_with_fake_bench(tmp_path: Path) -> None:
    bench = FakeBench()
    res = reproduce.nats_analysis(bench, tmp_path, datasets=["cifar100", "cifar10"],
                                  methods=("kendall",), fractions=(1.0, 0.2))
    assert all(p.is_file() for p in res.files)
    corr = pd.read_csv(tmp_path / "fig5_4_valid_test_kendall.csv").set_index("row")
    t = bench.table("cifar100", "200")
    assert corr.loc["cifar100 valid", "cifar100 test"] == pytest.approx(
        stats.kendalltau(t["x-valid_acc1"], t["ori-test_acc1"])[0])
    ranks = pd.read_csv(tmp_path / "fig5_2_ranks.csv")
    assert ranks.columns[1] == "cifar10" and ranks["cifar10"].tolist() == sorted(ranks["cifar10"])
    c10 = bench.table("cifar10", "200").set_index("arch")["ori-test_acc1"]
    assert ranks.iloc[0]["arch"] == c10.idxmax()
    scatter = pd.read_csv(tmp_path / "fig5_3_cifar100.csv")
    np.testing.assert_array_equal(scatter["pareto:params:ori-test_acc1"],
                                  brute_force_front(scatter["params"].to_numpy(),
                                                    scatter["ori-test_acc1"].to_numpy()))
    top = pd.read_csv(tmp_path / "fig5_5_top_fractions.csv")
    assert set(top["fraction"]) == {1.0, 0.2} and top["n"].max() == 60 and top["n"].min() == 12


def test_nats_analysis_cli_on_a_real_benchmark(tmp_path: Path) -> None:
    from natsbench.store.official import import_official
    from natsbench.testing.official_archive import make_official_archive

    archive = make_official_archive(tmp_path / "arch", space="tss", n_archs=12, seed=5,
                                    hp_epochs={"12": 12, "200": 16})
    bench_dir = import_official(archive, tmp_path / "bench", progress=False)
    out = tmp_path / "out"
    assert main(["reproduce", "nats-analysis", "--bench", str(bench_dir), "--out", str(out),
                 "--datasets", "cifar10", "cifar100", "--methods", "spearman"]) == 0
    import natsbench

    bench = natsbench.open_bench(bench_dir)
    c100 = bench.table("cifar100", "200").set_index("arch")
    corr = pd.read_csv(out / "fig5_4_valid_test_spearman.csv").set_index("row")
    assert corr.loc["cifar100 valid", "cifar100 test"] == pytest.approx(
        stats.spearmanr(c100["x-valid_acc1"], c100["x-test_acc1"])[0])
    ranks = pd.read_csv(out / "fig5_2_ranks.csv").set_index("arch")
    assert len(ranks) == 12 and ranks.loc[c100["x-test_acc1"].idxmax(), "cifar100"] == 1


def test_nats_multitrial_cli(tmp_path: Path) -> None:
    rows = []
    for alg, base in (("RANDOM", 80.0), ("REA", 85.0)):
        for run in range(3):
            for step in range(5):
                rows.append({"algorithm": alg, "space": "tss", "dataset": "cifar10", "run": run,
                             "step": step, "sim_time": 50.0 * (step + 1) + run, "arch": f"a{step}",
                             "feedback": base + step, "reported": base + step + run})
    path = tmp_path / "rows.parquet"
    pd.DataFrame(rows).to_parquet(path)
    out = tmp_path / "out"
    assert main(["reproduce", "nats-multitrial", "--runs", str(path), "--out", str(out),
                 "--time-step", "100", "--max-time", "300"]) == 0
    final = pd.read_csv(out / "final.csv").set_index("algorithm")
    # at t = 300 every run has done all 5 steps: reported = base + 4 + run, mean over runs 0..2
    assert final.loc["REA", "mean"] == pytest.approx(85 + 4 + 1)
    assert final.loc["RANDOM", "x"] == 300 and final.loc["RANDOM", "n_runs"] == 3
    curve = pd.read_csv(out / "fig5_6_anytime.csv")
    assert sorted(curve["x"].unique()) == [0, 100, 200, 300]
    # without --time-step, a grid shorter than 10,000 s gets 1/100 of its length as step
    res = reproduce.nats_multitrial(pd.DataFrame(rows), tmp_path / "auto")
    xs = np.sort(res.data["summary"]["x"].unique())
    assert xs[-1] == pytest.approx(252.0) and np.diff(xs) == pytest.approx(np.full(len(xs) - 1, 2.52))


def test_extcell_edf(tmp_path: Path) -> None:
    rng = np.random.default_rng(8)
    groups = {"DARTS": (3.0, 0.4), "16-ExtCell": (3.1, 0.5), "10-ExtCell": (3.6, 0.6)}
    frame = pd.concat([pd.DataFrame({"group": g, "error": rng.normal(mu, sd, 40),
                                     "params": rng.uniform(1.5, 4.0, 40)}) for g, (mu, sd) in groups.items()])
    res = reproduce.extcell_edf(frame, tmp_path, n_boot=50, bins=4)
    ks = pd.read_csv(tmp_path / "ks.csv").set_index("group")
    ref = frame[frame["group"] == "DARTS"]["error"]
    for g in groups:
        sub = frame[frame["group"] == g]["error"]
        assert ks.loc[g, "ks"] == pytest.approx(stats.ks_2samp(sub, ref).statistic)
    assert ks.loc["DARTS", "ks"] == 0.0
    boxes = pd.read_csv(tmp_path / "fig4_2a_accuracy_boxes.csv").set_index("group")
    assert boxes.loc["10-ExtCell", "median"] == pytest.approx(np.median(100 - frame[frame["group"] == "10-ExtCell"]["error"]))
    curves = pd.read_csv(tmp_path / "fig4_2b_error_edf_params_normalized.csv")
    assert curves.groupby("group")["F"].max().round(12).eq(1.0).all()
    assert "summary.md" in {p.name for p in res.files}


def test_extcell_without_bundled_samples_says_so(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import natsbench.resources

    empty = tmp_path / "data"
    empty.mkdir()
    monkeypatch.setattr(natsbench.resources, "data_root", lambda: empty)  # an incomplete installation
    assert main(["reproduce", "extcell-edf", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "extcell/samples.csv is missing" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


# ---------------------------------------------------------------------------------------------
class _Links(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags.add(tag)
        self.refs += [v for k, v in attrs if k in ("src", "href") and v and not v.startswith("#")]


def _check_report(index: Path) -> list[str]:
    parser = _Links()
    parser.feed(index.read_text(encoding="utf-8"))
    assert "script" not in parser.tags and "link" not in parser.tags
    for ref in parser.refs:
        assert "://" not in ref and not ref.startswith("/"), ref
        assert (index.parent / ref).is_file(), ref
    return parser.refs


def test_report_in_place_and_copied(nb360_out: Path, tmp_path: Path) -> None:
    refs = _check_report(nb360_out / "index.html")  # written by --report
    pngs = sorted(p.relative_to(nb360_out).as_posix() for p in nb360_out.rglob("*.png"))
    assert sorted(r for r in refs if r.endswith(".png")) == pngs and len(pngs) == 4
    out = tmp_path / "report"
    assert main(["report", "--out", str(out), "--results", str(nb360_out)]) == 0
    refs = _check_report(out / "index.html")
    assert len([r for r in refs if r.endswith(".png")]) == 4
    text = (out / "index.html").read_text(encoding="utf-8")
    assert "claims.csv" in text and "<table" in text and "D2NAS" in text

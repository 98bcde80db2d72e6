"""``natsbench reproduce nats-weightsharing`` (NATS-Bench Fig. 5.7a) on hand-made search-ws rows:
per-epoch means and bands over seeds, the final table and the skip/none edge fractions are
checked against values worked out by hand; the CLI writes its files, reads bad input as a
clean error, and without ``--rows`` runs the search-ws grid (checkpointed under OUT)."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis import reproduce, weight_sharing as ws
from analysis.report import build_report
from natsbench.cli import main

SKIPS = "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|"
CONV = "|nor_conv_3x3~0|+|nor_conv_3x3~0|none~1|+|nor_conv_1x1~0|nor_conv_3x3~1|nor_conv_3x3~2|"  # 1 none
MIXED = "|skip_connect~0|+|none~0|none~1|+|skip_connect~0|nor_conv_3x3~1|avg_pool_3x3~2|"   # 2 skip, 2 none


def _row(alg: str, dataset: str, seed: int, epoch: int, arch: str, reported: float) -> dict:
    return {"algorithm": alg, "space": "tss", "dataset": dataset, "config": "digits", "seed": seed,
            "epoch": epoch, "arch": arch, "reported": reported, "valid": reported - 1.0,
            "search_time": 10.0 * epoch, "entropy": 1.0, "num_skip": arch.count("skip_connect"),
            "num_none": arch.count("none~"), "tau": math.nan, "lr": 0.01}


def ws_rows() -> pd.DataFrame:
    """darts-v1: 3 seeds x 3 epochs, collapsing to the all-skip cell; gdas: seeds 777/888 run 3
    epochs, seed 999 only 1 (a search that stopped early); gdas on a second dataset, 1 seed."""
    rows = []
    darts = {777: [(CONV, 50.0), (SKIPS, 40.0), (SKIPS, 30.0)],
             888: [(CONV, 60.0), (CONV, 50.0), (SKIPS, 20.0)],
             999: [(CONV, 55.0), (CONV, 45.0), (SKIPS, 10.0)]}
    for seed, eps in darts.items():
        rows += [_row("darts-v1", "digits", seed, e + 1, a, r) for e, (a, r) in enumerate(eps)]
    gdas = {777: [70.0, 80.0, 90.0], 888: [72.0, 82.0, 94.0], 999: [74.0]}
    for seed, accs in gdas.items():
        rows += [_row("gdas", "digits", seed, e + 1, MIXED, r) for e, r in enumerate(accs)]
    rows += [_row("gdas", "cifar10", 777, e + 1, CONV, r) for e, r in enumerate([91.0, 92.0])]
    return pd.DataFrame(rows).sample(frac=1.0, random_state=0)   # order must not matter


def _at(frame: pd.DataFrame, alg: str, x: float, dataset: str = "digits") -> pd.Series:
    sel = frame[(frame["algorithm"] == alg) & (frame["x"] == x) & (frame["dataset"] == dataset)]
    assert len(sel) == 1, sel
    return sel.iloc[0]


def test_epoch_curves_mean_and_bands_per_epoch_and_algorithm() -> None:
    rows = ws_rows()
    std = ws.epoch_curves(rows, band="std")
    e1 = _at(std, "darts-v1", 1)
    assert e1["mean"] == pytest.approx(55.0) and e1["n_runs"] == 3
    assert (e1["lo"], e1["hi"]) == (pytest.approx(50.0), pytest.approx(60.0))  # std of 50,60,55 = 5
    e3 = _at(std, "darts-v1", 3)
    assert e3["mean"] == pytest.approx(20.0) and e3["hi"] - e3["mean"] == pytest.approx(10.0)
    # gdas seed 999 stopped after epoch 1: counted there, left out later (not carried forward)
    g1, g3 = _at(std, "gdas", 1), _at(std, "gdas", 3)
    assert g1["mean"] == pytest.approx(72.0) and g1["n_runs"] == 3
    assert g3["mean"] == pytest.approx(92.0) and g3["n_runs"] == 2
    assert g3["hi"] - g3["mean"] == pytest.approx(np.std([90.0, 94.0], ddof=1))
    one = _at(std, "gdas", 2, "cifar10")                 # one seed: band collapses on the mean
    assert one["mean"] == one["lo"] == one["hi"] == 92.0
    mm = ws.epoch_curves(rows, band="minmax")
    e2 = _at(mm, "darts-v1", 2)
    assert (e2["mean"], e2["lo"], e2["hi"]) == (pytest.approx(45.0), 40.0, 50.0)
    assert len(std) == 3 + 3 + 2                            # (algorithm, dataset, epoch) points


def test_final_table_uses_each_seeds_last_epoch() -> None:
    final = ws.final_table(ws_rows()).set_index(["dataset", "algorithm"])
    d = final.loc[("digits", "darts-v1")]
    assert (d["seeds"], d["epochs"], d["min"], d["max"]) == (3, 3, 10.0, 30.0)
    assert d["mean"] == pytest.approx(20.0) and d["std"] == pytest.approx(10.0)
    assert d["search_time"] == pytest.approx(30.0)
    g = final.loc[("digits", "gdas")]                       # last epochs: 90, 94 and 74 (seed 999)
    assert g["mean"] == pytest.approx(86.0) and g["std"] == pytest.approx(np.std([90, 94, 74], ddof=1))
    c = final.loc[("cifar10", "gdas")]
    assert c["mean"] == 92.0 and c["seeds"] == 1 and np.isnan(c["std"])
    # sorted by mean accuracy within a dataset
    assert list(ws.final_table(ws_rows()).query("dataset == 'digits'")["algorithm"]) == ["gdas", "darts-v1"]


def test_edge_fractions_by_hand() -> None:
    fr = ws.edge_fractions(ws_rows(), algorithms=["darts-v1", "gdas"])
    skip = fr[fr["edge"] == "skip_connect"]
    none = fr[fr["edge"] == "none"]
    # darts-v1 skip: epoch 1 no seed skips; epoch 2 one of three seeds is all-skip; epoch 3 all are
    np.testing.assert_allclose([_at(skip, "darts-v1 skip_connect", e)["mean"] for e in (1, 2, 3)],
                               [0.0, 1 / 3, 1.0])
    # darts-v1 none: CONV has 1 of 6 edges none; epoch 2: two seeds of three on CONV
    np.testing.assert_allclose([_at(none, "darts-v1 none", e)["mean"] for e in (1, 2, 3)],
                               [1 / 6, 1 / 9, 0.0])
    assert _at(skip, "gdas skip_connect", 1)["mean"] == pytest.approx(2 / 6)
    e2 = _at(skip, "darts-v1 skip_connect", 2)           # 1/3 -/+ std 0.577 -> clipped to [0, 1]
    assert (e2["lo"], e2["hi"]) == (0.0, pytest.approx(1 / 3 + np.std([1, 0, 0], ddof=1)))
    assert _at(none, "gdas none", 3)["mean"] == pytest.approx(2 / 6)
    table = ws.edge_fraction_table(fr[fr["dataset"] == "digits"]).set_index("algorithm")
    assert table.loc["darts-v1 skip_connect", "first_epoch"] == 0.0
    assert table.loc["darts-v1 skip_connect", "last_epoch"] == 1.0
    assert table.loc["darts-v1 skip_connect", "mean_over_epochs"] == pytest.approx((0 + 1 / 3 + 1) / 3)
    with pytest.raises(Exception, match="darts-v2"):
        ws.edge_fractions(ws_rows(), algorithms=["darts-v2"])


def test_bad_rows_are_named() -> None:
    from natsbench.errors import ArchiveError, QueryError

    with pytest.raises(ArchiveError, match="num_skip"):
        ws.edge_fractions(ws_rows().drop(columns=["num_skip"]))
    with pytest.raises(ArchiveError, match="arch"):
        ws.epoch_curves(ws_rows().drop(columns=["arch"]))
    with pytest.raises(QueryError, match="empty"):
        ws.final_table(ws_rows().iloc[:0])
    with pytest.raises(ArchiveError, match="share"):
        ws.final_table(pd.concat([ws_rows(), ws_rows()]))
    with pytest.raises(QueryError, match="nob"):
        ws.epoch_curves(ws_rows(), band="nob")


def test_cli_writes_figures_tables_summary_and_report(tmp_path: Path, capsys) -> None:
    path = tmp_path / "rows.parquet"
    ws_rows().to_parquet(path)
    out = tmp_path / "out"
    assert main(["reproduce", "nats-weightsharing", "--rows", str(path), "--out", str(out),
                 "--band", "minmax"]) == 0
    printed = capsys.readouterr().out
    assert "20.00 ± 10.00" in printed and "minimum to maximum" in printed
    for stem in ("fig5_7a_weightsharing", "fig5_7a_darts_edges"):
        for ext in (".png", ".pdf", ".csv"):
            assert (out / (stem + ext)).stat().st_size > 0
    curve = pd.read_csv(out / "fig5_7a_weightsharing.csv")
    assert _at(curve, "darts-v1", 2)["lo"] == 40.0
    darts = pd.read_csv(out / "fig5_7a_darts_edges.csv")
    assert set(darts["algorithm"]) == {"darts-v1 skip_connect", "darts-v1 none"}
    final = pd.read_csv(out / "final.csv")
    assert len(final) == 3 and set(pd.read_csv(out / "edge_fractions.csv")["edge"]) == {"skip_connect", "none"}
    summary = (out / "summary.md").read_text()
    assert "skip_connect / none edges, DARTS-V1/V2" in summary and "| 1.000 |" in summary
    assert "| gdas skip_connect |" in summary.split("every algorithm")[1]
    assert not list(tmp_path.glob(".out.tmp-*"))              # the staging folder is gone
    page = build_report(tmp_path, tmp_path / "report").read_text()   # `natsbench report`
    assert "fig5_7a_weightsharing" in page and "20.00 ± 10.00" in page


def test_without_darts_there_is_no_edge_figure(tmp_path: Path) -> None:
    rows = ws_rows()
    res = reproduce.nats_weightsharing(rows[rows["algorithm"] == "gdas"], tmp_path)
    assert not (tmp_path / "fig5_7a_darts_edges.png").exists()
    assert "No DARTS-V1/V2 rows" in res.summary


@pytest.mark.parametrize("kind", ["missing", "empty_csv", "empty_parquet", "no_column", "no_rows"])
def test_cli_bad_rows_exit_2_with_one_line(kind: str, tmp_path: Path, capsys) -> None:
    path = tmp_path / ("rows.csv" if kind in ("empty_csv", "no_column") else "rows.parquet")
    if kind == "empty_csv":
        path.write_text("")
    elif kind == "empty_parquet":
        path.write_bytes(b"")
    elif kind == "no_column":
        ws_rows().drop(columns=["reported"]).to_csv(path, index=False)
    elif kind == "no_rows":
        ws_rows().iloc[:0].to_parquet(path)
    out = tmp_path / "out"
    assert main(["reproduce", "nats-weightsharing", "--rows", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("natsbench reproduce") and "error:" in err[0]
    assert {"missing": "does not exist", "empty_csv": "rows.csv", "empty_parquet": "rows.parquet",
            "no_column": "reported", "no_rows": "empty"}[kind] in err[0]
    assert not out.exists()


def test_without_rows_the_grid_runs_with_checkpoints_under_out(tmp_path: Path, monkeypatch) -> None:
    """The no-``--rows`` wiring (the searches themselves are the slow test below): the jobs are
    algorithms x seeds on digits, the digits config with --epochs, checkpoints in OUT."""
    import search_algorithms.weight_sharing.grid as grid

    seen = {}

    def fake_grid(jobs, config, bench, **kw):
        seen.update(jobs=jobs, config=config, bench=bench, **kw)
        return ws_rows().query("algorithm == 'gdas' and dataset == 'digits'")

    monkeypatch.setattr(grid, "run_grid", fake_grid)
    out = tmp_path / "out"
    assert main(["reproduce", "nats-weightsharing", "--algorithms", "gdas,rsps", "--seeds", "1,2",
                 "--epochs", "4", "--workers", "3", "--out", str(out)]) == 0
    assert [(j.algorithm, j.dataset, j.seed) for j in seen["jobs"]] == [
        ("gdas", "digits", 1), ("gdas", "digits", 2), ("rsps", "digits", 1), ("rsps", "digits", 2)]
    assert seen["config"].name == "digits" and seen["config"].epochs == 4
    assert Path(seen["bench"]).name == "tss-digits" and seen["workers"] == 3
    assert Path(seen["checkpoint_dir"]) == out / "checkpoints"
    assert len(pd.read_parquet(out / "rows.parquet")) == 7


def test_without_rows_a_tiny_real_grid_runs_and_resumes(tmp_path: Path) -> None:
    """One rsps search of one epoch (about 5 s on a busy 2-core CPU), then the same command
    again: it resumes from OUT/checkpoints with nothing left to train and the same rows."""
    out = tmp_path / "out"
    argv = ["reproduce", "nats-weightsharing", "--algorithms", "rsps", "--seeds", "1",
            "--epochs", "1", "--workers", "1", "--out", str(out)]
    assert main(argv) == 0
    rows = pd.read_parquet(out / "rows.parquet")
    assert len(rows) == 1 and rows["arch"].iloc[0].count("~") == 6
    assert len(list((out / "checkpoints").glob("ws-rsps-digits-*-s1.pt"))) == 1
    final = pd.read_csv(out / "final.csv")
    assert final["mean"].iloc[0] == pytest.approx(rows["reported"].iloc[0])
    assert main(argv) == 0                                    # resumes: nothing left to train
    again = pd.read_parquet(out / "rows.parquet")
    pd.testing.assert_frame_equal(rows, again)


def _sss_row(alg: str, seed: int, epoch: int, arch: str, reported: float, warmup: float,
             source: str) -> dict:
    return {"algorithm": alg, "space": "sss", "dataset": "digits", "config": "digits",
            "seed": seed, "epoch": epoch, "arch": arch, "reported": reported, "valid": reported,
            "source": source, "search_time": 5.0 * epoch, "warmup_ratio": warmup}


def test_sss_rows_draw_fig_5_7b_and_5_7c(tmp_path: Path) -> None:
    """sss rows without warm-up are Fig. 5.7b, with warm-up Fig. 5.7c; tss rows (no
    warmup_ratio column: 0) stay Fig. 5.7a; one (algorithm, seed, epoch) may appear once per
    warm-up ratio."""
    sss = [_sss_row("tas", s, e, "64:64:64:64:64", 90.0 + s + e, 0.0, "surrogate")
           for s in (1, 2) for e in (1, 2)]
    sss += [_sss_row("tas", s, e, "8:8:8:8:8", 80.0 + s + e, 0.3, "table")
            for s in (1, 2) for e in (1, 2)]
    rows = pd.concat([ws_rows(), pd.DataFrame(sss)], ignore_index=True)
    panels = ws.split_panels(rows)
    assert list(panels) == ["5.7a", "5.7b", "5.7c"]
    assert len(panels["5.7b"]) == 4 and set(panels["5.7c"]["arch"]) == {"8:8:8:8:8"}
    res = reproduce.nats_weightsharing(rows, tmp_path)
    for stem in ("fig5_7a_weightsharing", "fig5_7b_weightsharing", "fig5_7c_weightsharing"):
        assert (tmp_path / f"{stem}.png").stat().st_size > 0
    final = pd.read_csv(tmp_path / "final.csv").set_index(["figure", "algorithm"])
    assert final.loc[("5.7b", "tas"), "mean"] == pytest.approx((93.0 + 94.0) / 2)   # last epochs
    assert final.loc[("5.7c", "tas"), "mean"] == pytest.approx((83.0 + 84.0) / 2)
    assert "Answers of the derived architectures (rows): surrogate 4." in res.summary
    assert "Warm-up ratio 0.3." in res.summary
    # sss rows alone: no edge fractions (tss only)
    only = reproduce.nats_weightsharing(pd.DataFrame(sss), tmp_path / "sss")
    assert not (tmp_path / "sss" / "edge_fractions.csv").exists() and "5.7b" in only.summary

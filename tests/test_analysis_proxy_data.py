"""na-table-3-1: the proxy-size table from hand-made rows, the comparison with the thesis, the
CLI on a rows file, and the grid runner on a tiny configuration."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.proxy_data import proxy_size_curves, proxy_size_table
from analysis.reproduce import na_table_3_1
from natsbench.errors import ArchiveError, QueryError

NAN = math.nan


def _rows() -> pd.DataFrame:
    return pd.DataFrame({
        "selection": ["random", "random", "p1", "p1", "full", "none"],
        "proxy_percent": [10.0, 10.0, 10.0, 10.0, 100.0, NAN],
        "seed": [0, 1, 0, 1, 0, 0],
        "reported": [90.0, 94.0, 95.0, 95.0, 96.0, 97.0],
        "search_time": [1.0, 3.0, 2.0, 2.0, 10.0, 20.0],
        "algorithm": "darts-v1", "space": "tss", "dataset": "digits",
    })


def test_table_by_hand() -> None:
    table = proxy_size_table(_rows()).set_index(["selection", "proxy_percent"])
    rnd = table.loc[("random", 10.0)]
    assert rnd["seeds"] == 2 and rnd["error_mean"] == pytest.approx(8.0)
    assert rnd["error_std"] == pytest.approx(math.sqrt(8.0))          # errors 10 and 6, ddof=1
    assert rnd["error_min"] == 6.0 and rnd["error_max"] == 10.0 and rnd["search_time_s"] == 2.0
    assert table.loc[("p1", 10.0)]["error_std"] == 0.0
    none = table.xs("none", level="selection")
    assert none["error_mean"].tolist() == [3.0] and np.isnan(none.index[0])
    curves = proxy_size_curves(proxy_size_table(_rows()))
    assert set(curves["algorithm"]) == {"random", "p1", "full"}       # no curve point for none
    r = curves[curves["algorithm"] == "random"].iloc[0]
    assert r["lo"] == pytest.approx(8 - math.sqrt(8)) and r["hi"] == pytest.approx(8 + math.sqrt(8))


def test_bad_rows() -> None:
    with pytest.raises(ArchiveError, match="reported"):
        proxy_size_table(_rows().drop(columns="reported"))
    with pytest.raises(ArchiveError, match="two rows"):
        proxy_size_table(pd.concat([_rows(), _rows().head(1)]))
    with pytest.raises(QueryError, match="empty"):
        proxy_size_table(_rows().head(0))


def test_reproduction_writes_table_figure_and_thesis_comparison(tmp_path: Path) -> None:
    result = na_table_3_1(_rows(), tmp_path)
    names = {p.name for p in result.files}
    assert {"table.csv", "comparison.csv", "summary.md", "fig3_1_proxy_size.png"} <= names
    comp = pd.read_csv(tmp_path / "comparison.csv").set_index(["selection", "proxy_percent"])
    assert comp.loc[("random", 10.0), "thesis CIFAR-10 error"] == 3.21
    assert comp.loc[("p1", 10.0), "thesis CIFAR-10 error"] == 2.94
    assert comp.loc[("p1", 10.0), "measured error (mean ± std)"] == "5.00 ± 0.00"
    assert comp.loc[("full", 100.0), "thesis CIFAR-10 error"] == 3.0
    assert "Table 3.1" in result.summary


def test_cli_on_a_rows_file(tmp_path: Path, capsys) -> None:
    from natsbench.cli import main

    rows = tmp_path / "rows.csv"
    _rows().to_csv(rows, index=False)
    assert main(["reproduce", "na-table-3-1", "--rows", str(rows), "--out",
                 str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "table.csv").is_file()
    assert "8.00 ± 2.83" in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.skipif(__import__("importlib").util.find_spec("torch") is None,
                    reason="torch (the train extra) is not installed")
def test_grid_runs_resumes_and_labels(tmp_path: Path, monkeypatch) -> None:
    from natsbench.resources import BUNDLED_TSS, bundled_path
    from natsbench.train.proxy_data import AuxSettings
    from search_algorithms.weight_sharing import get_config
    from search_algorithms.weight_sharing.proxy_grid import run_proxy_size_grid

    cfg = get_config("digits", epochs=1, C=4, N=1, batch_size=64, eval_batch_size=64)
    kw = dict(sizes=["5%", "100%"], selections=["random", "p1"], seeds=[3], baseline=True,
              aux=AuxSettings(channels=4, cells=1, epochs=1, batch_size=64), progress=False)
    rows = run_proxy_size_grid(tmp_path / "g", cfg, bundled_path(*BUNDLED_TSS), **kw)
    assert sorted(rows["selection"]) == ["full", "none", "p1", "random"]
    by = rows.set_index("selection")
    assert by.loc["random", "proxy_k"] == 64 and by.loc["random", "proxy_percent"] == 5.0
    assert by.loc["full", "proxy_k"] == 1297 and np.isnan(by.loc["none", "proxy_percent"])
    assert (by["epoch"] == 1).all() and by["reported"].between(0, 100).all()
    assert len(list((tmp_path / "g" / "proxy").glob("*.json"))) == 3
    # a rerun finds every search done and returns the same rows without searching
    import search_algorithms.weight_sharing.proxy_grid as grid_mod

    monkeypatch.setattr(grid_mod, "_search", lambda *a, **k: pytest.fail("searched again"))
    again = run_proxy_size_grid(tmp_path / "g", cfg, bundled_path(*BUNDLED_TSS), **kw)
    pd.testing.assert_frame_equal(rows, again)


def test_table_4_2_draws_the_proxy_curve_from_given_rows(tmp_path):
    """`reproduce na-table-4-2 --cells C --proxy-rows R`: Table 4.2 from the cells and the
    Table 3.1 curve from the rows, no search; the two options that exclude each other fail."""
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    cells, rows = repo / "data/results/na-table-4-2-cells.csv", repo / "data/results/na31-digits-grid.parquet"
    cmd = [sys.executable, "-m", "natsbench.cli", "reproduce", "na-table-4-2", "--cells", str(cells),
           "--proxy-rows", str(rows)]
    env = {**__import__("os").environ, "PYTHONPATH": str(repo)}
    done = subprocess.run(cmd + ["--out", str(tmp_path / "out")], capture_output=True, text=True,
                          env=env)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out" / "table.csv").is_file()
    assert (tmp_path / "out" / "proxy-size" / "comparison.csv").is_file()
    bad = subprocess.run(cmd + ["--no-proxy-curve", "--out", str(tmp_path / "bad")],
                         capture_output=True, text=True, env=env)
    assert bad.returncode == 2 and "exclude each other" in bad.stderr

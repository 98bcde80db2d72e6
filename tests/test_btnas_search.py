"""BtNAS and the DARTS-family strength searches on the engine, end to end on a tiny digits
search (issue 17): rows, derivation, seeds, resume, no test set, the CLI and the reproduction."""
from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from natsbench.spaces import extcell  # noqa: E402
from natsbench.testing.tiny_data import tiny_digits  # noqa: E402
from search_algorithms.weight_sharing import get_config  # noqa: E402
from search_algorithms.weight_sharing.btnas import (STRENGTH_ALGORITHMS, search_strengths,  # noqa: E402
                                                    table_cells)
from search_algorithms.weight_sharing.engine import run_search  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "data" / "benchmarks" / "extcell" / "k10"
#: a tiny search: 2-channel supernet, 2 epochs of 2 steps
TINY = {"epochs": 2, "C": 2, "batch_size": 24}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def tiny_data():
    """48 train / 24 x-valid digits images; test sets poisoned (label 99)."""
    return tiny_digits(48, 24)


def _strip(rows):
    return [{k: (None if isinstance(v, float) and math.isnan(v) else v)
             for k, v in r.items() if k != "search_time"} for r in rows]


@pytest.mark.parametrize("strength", list(STRENGTH_ALGORITHMS))
def test_each_strength_search_runs_and_derives_k_extcells(strength, tiny_data):
    cfg = get_config("na-digits", **TINY)
    engines: list = []
    rows = run_search(STRENGTH_ALGORITHMS[strength], "digits", cfg, 3, BENCH, data=tiny_data,
                      engine_out=engines, num_threads=1)
    assert [r["epoch"] for r in rows] == [1, 2]
    for r in rows:
        assert r["space"] == "extcell" and r["algorithm"] == STRENGTH_ALGORITHMS[strength]
        g = extcell.parse(r["arch"], k=10)           # the benchmark's k
        assert r["num_normal"] + r["num_reduce"] == 10 == len(g.normal) + len(g.reduce)
        assert r["source"] in ("table", "none")
    engine = engines[0]
    # search never reads a test set: weights on train, strengths (and nothing else) on x-valid
    assert set(engine.used) <= {"train", "x-valid"} and engine.used["x-valid"]
    # the strengths moved away from their initialisation and the weights trained
    st = engine.net.strength.strengths()
    assert st.shape == (2, 14, 8) and np.ptp(st[:, :, 1:]) > 1e-3
    if strength == "btnas":
        alpha, beta = engine.net.strength.concentrations()
        assert bool((alpha > 1).all()) and bool((beta > 1).all())


def test_seeded_runs_identical(tiny_data):
    cfg = get_config("na-digits", **TINY)
    a, sa, _ = search_strengths("btnas", "digits", cfg, 5, BENCH, data=tiny_data, num_threads=1)
    b, sb, _ = search_strengths("btnas", "digits", cfg, 5, BENCH, data=tiny_data, num_threads=1)
    assert _strip(a) == _strip(b)
    np.testing.assert_array_equal(sa, sb)
    c, sc, _ = search_strengths("btnas", "digits", cfg, 6, BENCH, data=tiny_data, num_threads=1)
    assert not np.array_equal(sa, sc)


@pytest.mark.slow
def test_resumed_search_matches_uninterrupted(tiny_data, tmp_path):
    cfg = get_config("na-digits", **TINY)
    a, sa, _ = search_strengths("fairdarts", "digits", cfg, 5, BENCH, data=tiny_data,
                                num_threads=1)
    ckpt = tmp_path / "ckpt"   # killed after epoch 1, then resumed
    search_strengths("fairdarts", "digits", cfg, 5, BENCH, data=tiny_data, checkpoint_dir=ckpt,
                     stop_after=1, num_threads=1)
    r, sr, _ = search_strengths("fairdarts", "digits", cfg, 5, BENCH, data=tiny_data,
                                checkpoint_dir=ckpt, num_threads=1)
    assert _strip(r) == _strip(a)
    np.testing.assert_array_equal(sr, sa)


def test_actall_and_darts_rule_in_the_search(tiny_data):
    cfg = get_config("na-digits", **TINY, actall=True)
    rows, st, ops = search_strengths("darts", "digits", cfg, 1, BENCH, data=tiny_data,
                                     num_threads=1)
    g = extcell.parse(rows[-1]["arch"], k=10)
    assert extcell.unconnected_nodes(g) == {"normal": (), "reduce": ()}
    full, available = extcell.expand_strengths(st, ops)
    assert rows[-1]["arch"] == extcell.derive(full, k=10, actall=True, available=available)
    rows, st, ops = search_strengths("fairdarts", "digits",
                                     get_config("na-digits", **TINY, derivation="darts"), 1,
                                     BENCH, data=tiny_data, num_threads=1)
    from natsbench.spaces import darts

    darts.parse(rows[-1]["arch"])   # a DARTS cell pair


def test_table_cells_grid_is_resumable(tiny_data, tmp_path, monkeypatch):
    """The Table 4.2 grid with the training replaced by a lookup stub (the real trainer is
    exercised by the slow test below): one search per (strength, seed), cells per k, rows
    appended and skipped on rerun."""
    import search_algorithms.weight_sharing.btnas as btnas

    calls = []

    def fake_eval(bench, dataset, arch, *, train=False, device="cpu"):
        calls.append((Path(bench).name, arch))
        return {"reported": float(len(arch) % 7), "valid": 1.0, "source": "stub",
                "valid_source": "stub"}

    monkeypatch.setattr(btnas, "evaluate_arch", fake_eval)
    real_search = btnas.search_strengths
    searches = []

    def search(*a, **kw):
        searches.append(a[0])
        return real_search(*a, data=tiny_data, **kw)

    monkeypatch.setattr(btnas, "search_strengths", search)
    cfg = get_config("na-digits", **TINY)
    cells = table_cells(["btnas", "darts"], [10, 12], [1], state_dir=tmp_path, config=cfg)
    assert len(cells) == 4 and searches == ["btnas", "darts"]
    assert [b for b, _ in calls] == ["k10", "k12", "k10", "k12"]
    for r in cells.itertuples():
        assert len(extcell.parse(r.arch, k=int(r.k)).normal + extcell.parse(r.arch).reduce) == r.k
    assert (tmp_path / "cells.csv").is_file() and (tmp_path / "search" / "btnas-s1.parquet").is_file()
    again = table_cells(["btnas", "darts"], [10, 12], [1], state_dir=tmp_path, config=cfg)
    assert searches == ["btnas", "darts"] and len(calls) == 4       # nothing rerun
    assert again["arch"].tolist() == cells["arch"].tolist()


def test_na_table_summary_from_cells(tmp_path):
    import pandas as pd

    from analysis.reproduce import na_table_4_2, read_table
    from natsbench.resources import PUBLISHED, bundled_path

    cells = pd.DataFrame({"strength": ["btnas"] * 2 + ["darts"] * 2, "k": [10, 10, 10, 10],
                          "actall": [False] * 4, "seed": [1, 2, 1, 2],
                          "reported": [90.0, 92.0, 80.0, 80.0]})
    published = read_table(bundled_path(*PUBLISHED, "na_table_4_2.csv"))
    res = na_table_4_2(cells, tmp_path, published=published)
    table = pd.read_csv(tmp_path / "table.csv")
    bt = table[table["strength"] == "btnas"].iloc[0]
    assert bt["mean"] == 91.0 and bt["std"] == pytest.approx(math.sqrt(2.0)) and bt["seeds"] == 2
    assert "91.00 ± 1.41" in res.summary and "97.45" in res.summary


@pytest.mark.slow
def test_btnas_cli_end_to_end_with_training(tmp_path):
    """``natsbench btnas --train`` on a 1-epoch search: the derived cell is trained with the
    benchmark's protocol into the user cache store and the result says so."""
    out = tmp_path / "run"
    env = {"PYTHONPATH": str(REPO), "NATSBENCH_CACHE": str(tmp_path / "cache"),
           "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-m", "natsbench.cli", "btnas", "--k", "10",
                           "--epochs", "1", "--out", str(out), "--train", "--no-progress"],
                          capture_output=True, text=True, env=env, timeout=1800)
    assert proc.returncode == 0, proc.stderr
    result = json.loads((out / "result.json").read_text())
    assert result["source"] in ("trained", "table")
    assert 0 < result["reported"] <= 100
    extcell.parse(result["arch"], k=10)
    assert (out / "rows.parquet").is_file() and (out / "strengths.npz").is_file()
    assert any((tmp_path / "cache").rglob("*.json")) or result["source"] == "table"

"""``natsbench search`` end to end on a small complete tss benchmark written to disk."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import natsbench
from natsbench.cli import main
from natsbench.spaces import get_space
from natsbench.store.manifest import GroupInfo
from natsbench.store.writer import DenseGroup, write_bench

SEARCH = {"cifar10-valid": "x-valid", "cifar100": "x-valid", "ImageNet16-120": "x-valid"}
REPORT = {"cifar10": "ori-test", "cifar100": "x-test", "ImageNet16-120": "x-test"}


@pytest.fixture(scope="module")
def bench_dir(tmp_path_factory):
    """All 15,625 tss archs: hp 12 with 12 epochs (2 seeds), hp 200 with 1 epoch (1 seed)."""
    archs = get_space("tss").all_archs()
    n = len(archs)
    rng = np.random.default_rng(0)
    quality = rng.random(n)
    groups = []
    for dataset, valid_set in SEARCH.items():
        metrics = np.empty((n, 2, 12, 3))
        metrics[..., 0] = 5 + 10 * quality[:, None, None]                      # train_time
        metrics[..., 1] = 80 * quality[:, None, None] * (1 - np.exp(-np.arange(1, 13) / 4)) \
            + rng.normal(0, 0.5, (n, 2, 12))                                     # acc
        metrics[..., 2] = 1.5                                                    # eval time
        info = GroupInfo(dataset, "12", [777, 888], 12,
                         ["train_time", f"{valid_set}_acc1", f"{valid_set}_time"])
        groups.append(DenseGroup(info, np.arange(n), metrics, np.full((n, 2, 3), np.nan),
                                 np.ones((n, 2), dtype=bool)))
    for dataset, test_set in REPORT.items():
        metrics = (1000 + 90 * quality + rng.normal(0, 0.2, n))[:, None, None, None]
        info = GroupInfo(dataset, "200", [777], 1, [f"{test_set}_acc1"])
        groups.append(DenseGroup(info, np.arange(n), metrics, np.full((n, 1, 3), np.nan),
                                 np.ones((n, 1), dtype=bool)))
    eval_sets = {"cifar10-valid": ["x-valid"], "cifar10": ["ori-test"],
                 "cifar100": ["x-valid", "x-test"], "ImageNet16-120": ["x-valid", "x-test"]}
    datasets = {d: {"num_classes": 10, "eval_sets": s} for d, s in eval_sets.items()}
    return write_bench(tmp_path_factory.mktemp("search") / "bench", space="tss",
                       arch_strs=archs, groups=groups, datasets=datasets,
                       arch_order="canonical", dtype="float64")


def test_search_one_algorithm_writes_tidy_rows(bench_dir, tmp_path, capsys) -> None:
    out = tmp_path / "rea.parquet"
    code = main(["search", "rea", "--bench", str(bench_dir), "--dataset", "cifar100",
                 "--runs", "3", "--budget", "3000", "--out", str(out), "--workers", "1",
                 "--no-progress", "--param", "population_size=5"])
    assert code == 0
    assert "rea" in capsys.readouterr().out
    frame = pd.read_parquet(out)
    assert set(frame["run"]) == {0, 1, 2} and set(frame["dataset"]) == {"cifar100"}
    assert frame["sim_time"].max() <= 3000
    bench = natsbench.open_bench(bench_dir)
    test_acc = bench.metric("cifar100", "200", "x-test_acc1")
    rows = [bench.index_of(a) for a in frame["incumbent"].astype(str)]
    assert np.allclose(frame["reported"].to_numpy(), test_acc[rows])
    assert frame["feedback"].max() < 100 <= frame["reported"].min()


def test_search_all_runs_the_grid_and_matches_the_library(bench_dir, tmp_path) -> None:
    out = tmp_path / "grid.parquet"
    assert main(["search", "all", "--bench", str(bench_dir), "--runs", "2", "--budget", "2500",
                 "--out", str(out), "--workers", "2", "--no-progress", "--seed", "4"]) == 0
    frame = pd.read_parquet(out)
    assert set(frame["algorithm"]) == {"random", "rea", "reinforce", "bohb"}
    assert set(frame["dataset"]) == {"cifar10", "cifar100", "ImageNet16-120"}
    from search_algorithms.problem import TabularProblem
    from search_algorithms.runner import Runner

    problem = TabularProblem.from_bench(natsbench.open_bench(bench_dir), "ImageNet16-120")
    again = Runner(problem, "bohb", budget=2500, base_seed=4).run_many(2)
    subset = frame[(frame["algorithm"] == "bohb") & (frame["dataset"] == "ImageNet16-120")]
    assert subset["arch"].astype(str).tolist() == again["arch"].astype(str).tolist()
    assert np.array_equal(subset["sim_time"].to_numpy(), again["sim_time"].to_numpy())


def test_search_errors_are_clear(bench_dir, tmp_path, capsys) -> None:
    args = ["search", "random", "--bench", str(bench_dir), "--out", str(tmp_path / "x.parquet"),
            "--runs", "1", "--no-progress"]
    assert main(args + ["--space", "sss"]) == 2
    assert "does not match the benchmark's space 'tss'" in capsys.readouterr().err
    assert main(args + ["--dataset", "mnist"]) == 2
    assert "unknown dataset 'mnist'" in capsys.readouterr().err
    assert main(args + ["--param", "population_size=3"]) == 2       # not a random-search knob
    assert "random takes no hyperparameter 'population_size'; valid" in capsys.readouterr().err
    assert not (tmp_path / "x.parquet").exists()

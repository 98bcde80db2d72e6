"""The runner: seeds, reproducibility, clock and budget, fidelity costs, incumbents, output."""
from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pandas as pd
import pytest

from natsbench.errors import QueryError
from search_algorithms.base import Algorithm, GridSpace, Trial
from search_algorithms.problem import TabularProblem
from search_algorithms.runner import (
    COLUMNS, Runner, default_budget, run_generators, write_parquet,
)


class Replay(Algorithm):
    """Asks a fixed list of (encoding, epochs) trials, then stops; records what it was told."""

    def __init__(self, space, rng, *, trials, **kwargs):
        super().__init__(space, rng, **kwargs)
        self.trials = list(trials)
        self.told: list[tuple[Trial, float]] = []

    def ask(self):
        if len(self.told) == len(self.trials):
            return None
        codes, epochs = self.trials[len(self.told)]
        return Trial(tuple(codes), epochs, len(self.told))

    def tell(self, trial, feedback):
        self.told.append((trial, feedback))


def small_problem(seed_times: bool = False) -> TabularProblem:
    """2 x 2 grid, 2 seeds, 4 epochs, hand-made numbers (arch rows in product order)."""
    space = GridSpace("grid", (2, 2))
    codes = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
    epochs = np.arange(1, 5)
    valid = np.empty((4, 2, 4))
    for row in range(4):
        for seed in range(2):
            valid[row, seed] = 10.0 * row + epochs + 0.5 * seed
    valid[3, 1] = np.nan                                        # arch 3 has only seed 0
    train_time = np.empty((4, 2, 4))
    train_time[:] = (1.0 + np.arange(4))[:, None, None] * np.array([1.0, 2.0, 3.0, 4.0])
    if seed_times:
        train_time[:, 1] *= 10                                  # seed 1 trains 10x slower
    valid_time = np.broadcast_to(np.array([0.5, 1.5, 2.5, 3.5]), (4, 2, 4)).copy()
    reported = np.array([90.0, 91.0, 92.0, 93.0])
    return TabularProblem(space=space, arch_strs=[space.decode(c) for c in codes], codes=codes,
                          valid_acc=valid, train_time=train_time, valid_time=valid_time,
                          reported=reported, seeds=(111, 777), dataset="toy")


def replay_factory(trials, sink=None):
    def factory(space, rng, **kwargs):
        algorithm = Replay(space, rng, trials=trials, **kwargs)
        if sink is not None:
            sink.append(algorithm)
        return algorithm
    factory.name = "replay"
    return factory


@pytest.fixture(scope="module")
def synthetic() -> TabularProblem:
    return TabularProblem.synthetic((5, 5, 5, 5), np.random.default_rng(0), seeds=3,
                                    missing_seed_fraction=0.3)


# ------------------------------------------------------------------ seeds and reproducibility
def test_run_generators_depend_only_on_base_seed_and_run() -> None:
    a1, b1 = run_generators(7, 3)
    a2, b2 = run_generators(7, 3)
    assert np.array_equal(a1.random(5), a2.random(5))
    assert np.array_equal(b1.random(5), b2.random(5))
    streams = [g.random(4).tolist() for g in (*run_generators(7, 3), *run_generators(7, 4),
                                               *run_generators(8, 3))]
    assert len({tuple(s) for s in streams}) == len(streams)


@pytest.mark.parametrize("algorithm", ["random", "rea", "reinforce", "bohb", "local_search"])
def test_a_run_is_bit_identical_alone_in_a_batch_and_in_worker_processes(
        synthetic: TabularProblem, algorithm: str) -> None:
    runner = Runner(synthetic, algorithm, budget=3000, base_seed=5)
    alone = runner.run_many([4])
    batch = runner.run_many(range(6))
    pooled = runner.run_many(range(6), workers=2)
    pd.testing.assert_frame_equal(batch, pooled)
    from_batch = batch[batch["run"] == 4].reset_index(drop=True)
    pd.testing.assert_frame_equal(alone.reset_index(drop=True), from_batch)
    assert len(alone) > 10


def test_runs_are_independent(synthetic: TabularProblem) -> None:
    frame = Runner(synthetic, "random", max_evals=8).run_many(300)
    sequences = frame.groupby("run")["arch"].apply(tuple)
    assert sequences.nunique() == 300
    # the first arch of each run is uniform over the first dimension's 5 values
    first = frame[frame["step"] == 1]["arch"].astype(str).str.split("-").str[0]
    counts = np.array([Counter(first)[str(v)] for v in range(5)])
    chi2 = ((counts - 60) ** 2 / 60).sum()
    assert chi2 < 18.5                      # 0.999 quantile of chi-square with 4 dof
    # and consecutive runs' feedback sequences are uncorrelated
    fb = frame.pivot(index="run", columns="step", values="feedback").to_numpy()
    r = np.corrcoef(fb[:-1, 0], fb[1:, 0])[0, 1]
    assert abs(r) < 4 / math.sqrt(300)


def test_seeds_are_drawn_uniformly_among_available_ones() -> None:
    problem = small_problem()
    trials = [((1, 1), None)] * 200 + [((0, 1), None)] * 400
    frame = Runner(problem, replay_factory(trials), budget=1e9).run_many([0])
    assert set(frame.loc[frame["arch"] == "1-1", "seed"]) == {111}
    counts = Counter(frame.loc[frame["arch"] == "0-1", "seed"])
    assert set(counts) == {111, 777} and abs(counts[111] - 200) < 4 * math.sqrt(100)
    # the feedback is the value of the seed the row names
    expected = np.where(frame["arch"] == "1-1", 34.0,
                        np.where(frame["seed"] == 111, 14.0, 14.5))
    assert np.array_equal(frame["feedback"].to_numpy(), expected)


# ------------------------------------------------------------------ clock, budget, fidelity
def official_cost(problem: TabularProblem, row: int, slot: int, epochs: int) -> float:
    """NATS-Bench simulate_train_eval: train time of epochs 1..e + mean validation time."""
    return float(problem.train_time[row, slot, :epochs].sum()
                 + problem.valid_time[row, slot, :epochs].mean())


def test_clock_is_the_sum_of_official_query_costs(synthetic: TabularProblem) -> None:
    frame = Runner(synthetic, "rea", budget=5000).run_many(range(3))
    rows = pd.Index(synthetic.arch_strs).get_indexer(frame["arch"].astype(str))
    slots = [synthetic.seeds.index(s) for s in frame["seed"]]
    costs = np.array([official_cost(synthetic, r, k, 12) for r, k in zip(rows, slots)])
    for _, run in frame.assign(cost=costs).groupby("run"):
        assert np.allclose(run["sim_time"].to_numpy(), np.cumsum(run["cost"].to_numpy()))
        assert run["sim_time"].iloc[-1] <= 5000
        assert 5000 - run["sim_time"].iloc[-1] < costs.max() + 1e-9


def test_an_evaluation_that_would_end_after_the_budget_is_not_made() -> None:
    problem = small_problem()
    cost = official_cost(problem, 0, 0, 4)                     # 10 + 2 = 12 s, both seeds
    sink: list[Replay] = []
    frame = Runner(problem, replay_factory([((0, 0), None)] * 10, sink),
                   budget=3 * cost + 0.5 * cost).run_many([0])
    assert len(frame) == 3 and len(sink[0].told) == 3
    assert frame["sim_time"].tolist() == pytest.approx([cost, 2 * cost, 3 * cost])
    exact = Runner(problem, replay_factory([((0, 0), None)] * 10), budget=3 * cost).run_many([0])
    assert len(exact) == 3


def test_max_evals_without_budget_is_unlimited_time() -> None:
    runner = Runner(small_problem(), replay_factory([((1, 0), 2)] * 50), max_evals=20)
    assert runner.budget == math.inf
    assert len(runner.run_many([0])) == 20


@pytest.mark.parametrize("mode", ["scratch", "continue"])
def test_fidelity_costs(mode: str) -> None:
    problem = small_problem(seed_times=True)
    trials = [((1, 0), 1), ((1, 0), 3), ((1, 0), 4), ((1, 0), 2), ((0, 1), 4)]
    frame = Runner(problem, replay_factory(trials), budget=1e6, fidelity_cost=mode,
                   base_seed=3).run_many([0])
    slots = [problem.seeds.index(s) for s in frame["seed"]]
    rows = [2, 2, 2, 2, 1]
    costs = np.diff(np.concatenate([[0.0], frame["sim_time"].to_numpy()]))
    for i, (row, slot, (_, epochs)) in enumerate(zip(rows, slots, trials)):
        assert frame["fidelity"].iloc[i] == epochs
        assert frame["feedback"].iloc[i] == problem.valid_acc[row, slot, epochs - 1]
        scratch = official_cost(problem, row, slot, epochs)
        if mode == "continue" and i in (1, 2):
            # resumes the previous training of the same arch: same seed, extra epochs only
            assert slot == slots[i - 1]
            done = trials[i - 1][1]
            extra = problem.train_time[row, slot, done:epochs].sum() \
                + problem.valid_time[row, slot, :epochs].mean()
            assert costs[i] == pytest.approx(extra)
        else:
            assert costs[i] == pytest.approx(scratch)


def test_incumbent_rules() -> None:
    """A 4-epoch result can beat an earlier 1-epoch one of another arch or not."""
    problem = small_problem()
    trials = [((1, 1), 1), ((1, 0), 4), ((0, 0), 4)]        # feedbacks 31, 24(.5), 4(.5)
    frame_any = Runner(problem, replay_factory(trials), budget=1e6).run_many([0])
    assert frame_any["incumbent"].astype(str).tolist() == ["1-1", "1-1", "1-1"]
    assert frame_any["reported"].tolist() == [93.0, 93.0, 93.0]
    frame_hf = Runner(problem, replay_factory(trials), budget=1e6,
                      incumbent="highest_fidelity").run_many([0])
    assert frame_hf["incumbent"].astype(str).tolist() == ["1-1", "1-0", "1-0"]
    assert frame_hf["reported"].tolist() == [93.0, 92.0, 92.0]


def test_reported_is_the_incumbents_reported_accuracy(synthetic: TabularProblem) -> None:
    frame = Runner(synthetic, "reinforce", budget=4000).run_many(range(4))
    for _, run in frame.groupby("run"):
        best = run["feedback"].cummax()
        first_best = [run["arch"].iloc[int(np.argmax(run["feedback"].to_numpy()[:i + 1]))]
                      for i in range(len(run))]
        assert run["incumbent"].tolist() == first_best
        rows = pd.Index(synthetic.arch_strs).get_indexer(run["incumbent"].astype(str))
        assert np.array_equal(run["reported"].to_numpy(), synthetic.reported[rows])
        assert np.all(np.diff(best.to_numpy()) >= 0)


# ------------------------------------------------------------------ errors and defaults
def test_bad_trials_raise_query_errors() -> None:
    problem = small_problem()
    with pytest.raises(QueryError, match="1..4"):
        Runner(problem, replay_factory([((0, 0), 5)]), budget=1e6).run(0)
    with pytest.raises(QueryError, match="choices"):
        Runner(problem, replay_factory([((0, 2), None)]), budget=1e6).run(0)
    partial = TabularProblem(space=problem.space, arch_strs=problem.arch_strs[:3],
                             codes=problem.codes[:3], valid_acc=problem.valid_acc[:3],
                             train_time=problem.train_time[:3],
                             valid_time=problem.valid_time[:3], reported=problem.reported[:3],
                             seeds=problem.seeds, dataset="toy")
    with pytest.raises(QueryError, match="no search-protocol result for '1-1'"):
        Runner(partial, replay_factory([((1, 1), None)]), budget=1e6).run(0)
    with pytest.raises(QueryError, match="unknown search algorithm 'nope'.*rea"):
        Runner(problem, "nope", budget=10)
    with pytest.raises(QueryError, match="no default budget"):
        Runner(problem, "random")
    with pytest.raises(QueryError, match="rea takes no hyperparameter 'populaton_size'; valid "
                                         r"\(with defaults\): population_size=10"):
        Runner(problem, "rea", budget=10, hyperparameters={"populaton_size": 5})
    with pytest.raises(QueryError, match="fidelity_cost"):
        Runner(problem, "random", budget=10, fidelity_cost="resume")


def test_default_budgets_are_natsbench_s() -> None:
    assert [default_budget("tss", d) for d in ("cifar10", "cifar100", "ImageNet16-120")] \
        == [2e4, 4e4, 1.2e5]
    assert [default_budget("sss", d) for d in ("cifar10", "cifar100", "ImageNet16-120")] \
        == [2e4, 4e4, 6e4]


def test_output_columns_and_parquet_round_trip(synthetic: TabularProblem, tmp_path) -> None:
    frame = Runner(synthetic, "bohb", budget=3000).run_many(range(3))
    assert tuple(frame.columns) == COLUMNS
    assert set(frame["algorithm"]) == {"bohb"} and set(frame["dataset"]) == {"synthetic"}
    assert set(frame["fidelity"]) <= {1, 4, 12}
    for _, run in frame.groupby("run"):
        assert run["step"].tolist() == list(range(1, len(run) + 1))
        assert np.all(np.diff(run["sim_time"].to_numpy()) > 0)
    path = tmp_path / "out" / "bohb.parquet"
    write_parquet(frame, path)
    back = pd.read_parquet(path)
    assert len(back) == len(frame)
    assert back["arch"].astype(str).tolist() == frame["arch"].astype(str).tolist()
    assert np.array_equal(back["reported"].to_numpy(), frame["reported"].to_numpy())
    assert list(tmp_path.joinpath("out").iterdir()) == [path]
    settings = back.attrs["natsbench.search"][0]
    assert settings["algorithm"] == "bohb" and settings["budget"] == 3000
    assert settings["runs"] == 3 and settings["fidelity_cost"] == "scratch"

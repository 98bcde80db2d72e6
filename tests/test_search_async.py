"""Asynchronous simulation of n workers on the simulated clock, and ASHA / async Hyperband."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from natsbench.errors import QueryError
from search_algorithms.problem import TabularProblem
from search_algorithms.runner import Job, RunSpec, execute, run_one


@pytest.fixture(scope="module")
def problem():
    return TabularProblem.synthetic((4, 5, 3, 4), np.random.default_rng(3), seeds=3, epochs=12,
                                    missing_seed_fraction=0.3)


def _same(a, b) -> None:
    for name in ("sim_time", "row", "fidelity", "feedback", "seed", "incumbent", "start_time",
                 "source", "worker"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


@pytest.mark.parametrize("algorithm", ["random", "rea", "hyperband", "bohb", "asha",
                                       "async_hyperband", "local_search"])
@pytest.mark.parametrize("fidelity_cost", ["scratch", "continue"])
def test_one_simulated_worker_reproduces_the_synchronous_rows(problem, algorithm, fidelity_cost):
    for run in range(3):
        sync = run_one(problem, RunSpec(algorithm, budget=3000.0, fidelity_cost=fidelity_cost), run)
        one = run_one(problem, RunSpec(algorithm, budget=3000.0, fidelity_cost=fidelity_cost,
                                       sim_workers=1), run)
        assert len(sync) > 10
        _same(sync, one)


def test_synchronous_default_is_unchanged_by_the_new_columns(problem):
    trace = run_one(problem, RunSpec("rea", max_evals=50), 0)
    assert np.array_equal(trace.start_time[1:], trace.sim_time[:-1]) and trace.start_time[0] == 0
    assert (trace.worker == 0).all() and (trace.source == 0).all()


def test_four_workers_take_a_quarter_of_the_wall_clock(problem):
    n = 400
    one = run_one(problem, RunSpec("random", max_evals=n), 0)
    four = run_one(problem, RunSpec("random", max_evals=n, sim_workers=4), 0)
    assert len(one) == len(four) == n
    ratio = four.sim_time.max() / one.sim_time[-1]
    assert 0.22 < ratio < 0.28, ratio
    assert set(four.worker.tolist()) == {0, 1, 2, 3}
    # rows come in finish order; each worker's next evaluation starts when its previous ends
    assert np.all(np.diff(four.sim_time) >= 0)
    for w in range(4):
        mine = np.flatnonzero(four.worker == w)
        assert four.start_time[mine[0]] == 0.0
        np.testing.assert_array_equal(four.start_time[mine[1:]], four.sim_time[mine[:-1]])
    # the cost charged is the recorded one
    cost = four.sim_time - four.start_time
    slots = np.array([problem.seeds.index(s) for s in four.seed])
    np.testing.assert_allclose(cost, problem.cum_train[four.row, slots, -1]
                               + problem.valid_per_time[four.row, slots, -1])


def test_async_results_do_not_depend_on_the_host_process_count(problem):
    jobs = [Job("p", RunSpec("asha", budget=5000.0, sim_workers=4), tuple(range(6)))]
    a = execute(jobs, {"p": problem}, workers=1)
    b = execute(jobs, {"p": problem}, workers=2, chunk_size=1)
    pd.testing.assert_frame_equal(a, b)


def test_budget_ends_the_async_run_at_the_first_finish_past_it(problem):
    budget = 2000.0
    trace = run_one(problem, RunSpec("rea", budget=budget, sim_workers=3), 1)
    assert trace.sim_time.max() <= budget
    unlimited = run_one(problem, RunSpec("rea", max_evals=len(trace) + 20, sim_workers=3), 1)
    _same_prefix = len(trace)
    np.testing.assert_array_equal(unlimited.sim_time[:_same_prefix], trace.sim_time)
    assert unlimited.sim_time[_same_prefix] > budget


def test_asha_promotes_only_the_top_third_and_keeps_every_worker_busy(problem):
    trace = run_one(problem, RunSpec("asha", max_evals=300, sim_workers=4), 2)
    fids = trace.fidelity.tolist()
    counts = {f: fids.count(f) for f in set(fids)}
    assert set(counts) == {1, 4, 12}
    assert counts[1] > counts[4] > counts[12]
    # a configuration reaches 4 epochs only after its 1-epoch result came back, and only when
    # that result was among the best floor(n / 3) of the n 1-epoch results told by then
    ones = trace.fidelity == 1
    for i in np.flatnonzero(trace.fidelity == 4):
        start = trace.start_time[i]
        told = ones & (trace.sim_time <= start)
        n_top = int(told.sum()) // 3
        assert n_top >= 1
        threshold = np.sort(trace.feedback[told])[::-1][n_top - 1]
        mine = told & (trace.row == trace.row[i])
        assert mine.any() and trace.feedback[mine].max() >= threshold
    for w in range(4):                     # ASHA never waits: no idle gaps
        mine = np.flatnonzero(trace.worker == w)
        np.testing.assert_array_equal(trace.start_time[mine[1:]], trace.sim_time[mine[:-1]])


def test_async_bohb_and_hyperband_use_several_brackets(problem):
    for name in ("async_hyperband", "async_bohb"):
        trace = run_one(problem, RunSpec(name, max_evals=300, sim_workers=4), 0)
        fids = set(trace.fidelity.tolist())
        assert fids == {1, 4, 12}, name
        assert np.isfinite(trace.feedback).all()


def test_bad_worker_count_is_rejected():
    with pytest.raises(QueryError, match="sim_workers"):
        RunSpec("random", sim_workers=0)

"""The runner's fast paths against a plain reference implementation of the documented rules.

The reference below draws one uniform at a time from blocks of the generator (64, doubling up
to 4096, as ``RandomStream`` documents), runs random search and regularized evolution as their
module docstrings describe, answers every query from the table trained from scratch, and
simulates the workers with the event queue of ``_run_async``'s docstring. The runner (batched
draws, trials asked ahead and answered vectorized, the table path inlined in the event loop)
must give the same rows, bit for bit.
"""
from __future__ import annotations

import heapq
import math
from collections import deque

import numpy as np
import pytest

from search_algorithms.base import RandomStream
from search_algorithms.problem import TabularProblem
from search_algorithms.runner import RunSpec, run_generators, run_one


class RefStream:
    """One uniform at a time, from blocks of 64, 128, ... 4096 drawn when the last is used."""

    def __init__(self, rng):
        self.rng, self.block, self.values, self.pos = rng, 64, [], 0

    def uniform(self):
        if self.pos == len(self.values):
            self.values = list(self.rng.random(self.block))
            self.block = min(2 * self.block, 4096)
            self.pos = 0
        self.pos += 1
        return float(self.values[self.pos - 1])

    def below(self, n):
        return int(self.uniform() * n)


def ref_random(num_choices, stream):
    while True:
        yield tuple(stream.below(n) for n in num_choices)


class RefREA:
    def __init__(self, num_choices, stream, population_size=10, sample_size=3, force=True):
        self.nc, self.s, self.p, self.k, self.force = num_choices, stream, population_size, \
            sample_size, force
        self.population, self.asked = [], 0

    def ask(self):
        self.asked += 1
        if self.asked <= self.p or not self.population:
            return tuple(self.s.below(n) for n in self.nc)
        picks = [self.population[self.s.below(len(self.population))] for _ in range(self.k)]
        parent = picks[0]
        for candidate in picks[1:]:
            if candidate[1] > parent[1]:          # the earliest drawn on ties
                parent = candidate
        codes = list(parent[0])
        dim = self.s.below(len(codes))
        n = self.nc[dim]
        if self.force and n > 1:
            value = self.s.below(n - 1)
            codes[dim] = value + 1 if value >= codes[dim] else value
        else:
            codes[dim] = self.s.below(n)
        return tuple(codes)

    def tell(self, codes, feedback):
        self.population.append((codes, feedback))
        if len(self.population) > self.p:
            self.population.pop(0)


def ref_answer(problem, codes, stream):
    row = {tuple(c): i for i, c in enumerate(problem.codes.tolist())}[codes]
    slot = int(problem.seed_slots[row, stream.below(int(problem.seed_count[row]))])
    e = problem.epochs - 1
    cost = float(problem.cum_train[row, slot, e]) + float(problem.valid_per_time[row, slot, e])
    return row, slot, float(problem.valid_acc[row, slot, e]), cost


def reference_rows(problem, algorithm, workers, run, base_seed, max_evals, budget, **hp):
    algo_rng, bench_rng = run_generators(base_seed, run)
    a_stream, b_stream = RefStream(algo_rng), RefStream(bench_rng)
    nc = tuple(problem.space.num_choices)
    if algorithm == "random":
        draws = ref_random(nc, a_stream)
        ask, tell = (lambda: next(draws)), (lambda codes, fb: None)
    else:
        rea = RefREA(nc, a_stream, **hp)
        ask, tell = rea.ask, rea.tell
    rows, best = [], (-1, -math.inf)
    if workers is None:                           # one evaluation after the other
        clock = 0.0
        while len(rows) < max_evals:
            codes = ask()
            row, slot, fb, cost = ref_answer(problem, codes, b_stream)
            if clock + cost > budget:
                break
            start, clock = clock, clock + cost
            tell(codes, fb)
            best = (row, fb) if fb > best[1] else best
            rows.append((clock, start, row, fb, problem.seeds[slot], best[0], 0))
        return rows
    heap, free, now, seq = [], deque(range(workers)), 0.0, 0
    while True:
        while free and seq < max_evals:
            codes = ask()
            row, slot, fb, cost = ref_answer(problem, codes, b_stream)
            heapq.heappush(heap, (now + cost, seq, free.popleft(), now, codes, row, slot, fb))
            seq += 1
        if not heap:
            return rows
        finish, _, worker, start, codes, row, slot, fb = heapq.heappop(heap)
        if finish > budget:
            return rows
        now = finish
        tell(codes, fb)
        best = (row, fb) if fb > best[1] else best
        rows.append((finish, start, row, fb, problem.seeds[slot], best[0], worker))
        free.append(worker)


def make_problem(kind):
    p = TabularProblem.synthetic((3, 4, 5, 3), np.random.default_rng(11), seeds=3, epochs=6,
                                 missing_seed_fraction=0.4 if kind == "missing_seeds" else 0)
    if kind == "ties":                          # accuracies on a 5 % grid: many equal ones
        p.valid_acc[:] = np.round(p.valid_acc / 5.0) * 5.0
    assert p.answers_every_encoding()           # random search asks ahead (incumbent "any")
    assert (p.seed_count < 3).any() == (kind == "missing_seeds")
    return p


@pytest.fixture(scope="module", params=["complete", "missing_seeds", "ties"])
def problem(request):
    """Complete tables run regularized evolution fused (three seeds per row: the runner draws
    seed columns), the one with missing seeds through the event loop."""
    return make_problem(request.param)


@pytest.mark.parametrize("workers", [None, 1, 3, 4, 13])
@pytest.mark.parametrize("algorithm, hp", [
    ("random", {}),
    ("rea", {"population_size": 10, "sample_size": 3}),
    ("rea", {"population_size": 4, "sample_size": 1, "force_change": False}),
])
@pytest.mark.parametrize("limit", ["evals", "budget"])
@pytest.mark.parametrize("incumbent", ["any", "highest_fidelity"])
def test_runner_rows_equal_the_reference(problem, workers, algorithm, hp, limit, incumbent):
    """At full fidelity with finite feedback both incumbent rules pick the same rows;
    "highest_fidelity" keeps random search in the event loop instead of asking ahead."""
    max_evals, budget = (150, math.inf) if limit == "evals" else (10**6, 2500.0)
    ref_hp = {k if k != "force_change" else "force": v for k, v in hp.items()}
    spec = RunSpec(algorithm, hyperparameters=hp, sim_workers=workers, base_seed=3,
                   incumbent=incumbent,
                   max_evals=max_evals if limit == "evals" else None,
                   budget=None if limit == "evals" else budget)
    for run in range(3):
        trace = run_one(problem, spec, run)
        expected = reference_rows(problem, algorithm, workers, run, 3, max_evals, budget,
                                  **ref_hp)
        assert len(expected) > 20
        got = list(zip(trace.sim_time.tolist(), trace.start_time.tolist(), trace.row.tolist(),
                       trace.feedback.tolist(), trace.seed.tolist(), trace.incumbent.tolist(),
                       trace.worker.tolist()))
        assert got == expected
        assert trace.fidelity.tolist() == [problem.epochs] * len(got)
        assert trace.source.tolist() == [0] * len(got)


@pytest.mark.parametrize("workers", [None, 1, 4, 13, 200])
@pytest.mark.parametrize("kind, hp", [("complete", {}), ("ties", {}),
                                      ("complete", {"population_size": 150, "sample_size": 4})])
def test_long_fused_evolution_runs_equal_the_reference(kind, hp, workers):
    """Over a thousand evaluations: the fused loop's blocks of 128, 256, ... asks, populations
    that only fill after the first asks (13 workers > population 10), and populations that
    are still filling when the first block ends (population 150)."""
    problem = make_problem(kind)
    spec = RunSpec("rea", sim_workers=workers, base_seed=5, max_evals=1500, hyperparameters=hp)
    for run in range(2):
        trace = run_one(problem, spec, run)
        expected = reference_rows(problem, "rea", workers, run, 5, 1500, math.inf, **hp)
        got = list(zip(trace.sim_time.tolist(), trace.start_time.tolist(), trace.row.tolist(),
                       trace.feedback.tolist(), trace.seed.tolist(), trace.incumbent.tolist(),
                       trace.worker.tolist()))
        assert len(got) == 1500 and got == expected


def test_evolution_runs_fused_only_where_the_rows_stay_the_same(monkeypatch):
    from search_algorithms import runner
    from search_algorithms.rea import RegularizedEvolution

    calls = []
    fused = runner._run_evolution
    monkeypatch.setattr(runner, "_run_evolution", lambda *a: calls.append(a) or fused(*a))
    complete, missing = make_problem("complete"), make_problem("missing_seeds")

    class Subclass(RegularizedEvolution):        # its own ask: never fused
        def ask(self):
            return super().ask()

    class OwnDraws(RegularizedEvolution):        # only its draws differ: never fused either
        def _draw_children(self, k, sizes=None):
            return super()._draw_children(k, sizes)

    cases = [(complete, RunSpec("rea", max_evals=50, sim_workers=4), True),
             (complete, RunSpec("rea", max_evals=50), True),
             (complete, RunSpec("rea", max_evals=50, incumbent="highest_fidelity"), True),
             (complete, RunSpec("rea", max_evals=50, fidelity_cost="continue"), False),
             (complete, RunSpec(Subclass, max_evals=50, sim_workers=4), False),
             (complete, RunSpec(OwnDraws, max_evals=50, sim_workers=4), False),
             (complete, RunSpec("random", max_evals=50, sim_workers=4), False),
             (missing, RunSpec("rea", max_evals=50, sim_workers=4), False)]
    for problem, spec, expected in cases:
        calls.clear()
        trace = run_one(problem, spec, 0)
        assert bool(calls) == expected, spec
        assert len(trace) == 50
    # the subclass asks the same children: its rows (event loop) equal the fused ones
    a = run_one(complete, RunSpec("rea", max_evals=200, sim_workers=4), 1)
    b = run_one(complete, RunSpec(Subclass, max_evals=200, sim_workers=4), 1)
    for name in ("sim_time", "row", "feedback", "seed", "incumbent", "start_time", "worker"):
        assert getattr(a, name).tolist() == getattr(b, name).tolist()


@pytest.mark.parametrize("force_change", [True, False])
def test_mutation_table_is_mutate_with_for_every_draw(force_change):
    """Every (encoding, dimension, value draw) of a grid with a one-choice dimension: the
    table's child is mutate_with's child for uniforms that give that draw."""
    from search_algorithms.base import GridSpace, mutation_children
    from search_algorithms.rea import RegularizedEvolution
    from natsbench.spaces.base import radix_index

    nc = (3, 1, 4, 2)
    algo = RegularizedEvolution(GridSpace("g", nc), np.random.default_rng(0))
    codes = np.indices(nc).reshape(len(nc), -1).T
    table = mutation_children(codes, nc, force_change)
    width = max(nc)
    assert table.shape == (len(codes), len(nc), width)
    for i, parent in enumerate(map(tuple, codes.tolist())):
        for dim, n in enumerate(nc):
            values = n - 1 if force_change and n > 1 else n
            for v in range(width):
                if v >= values:
                    assert table[i, dim, v] == -1
                    continue
                # uniforms in the middle of the cells that int(u * D) and int(u * values) map
                # to dim and v
                child = algo.mutate_with(parent, force_change, (dim + 0.5) / len(nc),
                                         (v + 0.5) / values)
                assert table[i, dim, v] == radix_index(child, nc)
                if force_change and n > 1:
                    assert child != parent


def test_full_fidelity_by_draw_is_the_evaluators_seed_pick():
    complete, missing = make_problem("complete"), make_problem("missing_seeds")
    assert missing.full_fidelity_by_draw() is None          # the counts differ
    c, valid, cost, slots = complete.full_fidelity_by_draw()
    assert c == 3 and len(valid) == len(cost) == len(slots) == 3 * complete.num_archs
    e = complete.epochs - 1
    for row in (0, 7, complete.num_archs - 1):
        for d in range(c):
            slot = int(complete.seed_slots[row, d])
            assert slots[row * c + d] == slot
            assert valid[row * c + d] == complete.valid_acc[row, slot, e]
            assert cost[row * c + d] == complete.cum_train[row, slot, e] \
                + complete.valid_per_time[row, slot, e]


def test_random_stream_batches_equal_one_draw_at_a_time():
    for seed in range(5):
        ref, fast = RefStream(np.random.default_rng(seed)), RandomStream(np.random.default_rng(seed))
        pick = np.random.default_rng(100 + seed)
        for _ in range(400):
            nc = tuple(int(n) for n in pick.integers(1, 9, size=pick.integers(1, 7)))
            k = int(pick.integers(0, 40 if pick.random() < 0.9 else 3000))
            what = pick.integers(6)
            if what == 0:
                assert fast.uniforms(k).tolist() == [ref.uniform() for _ in range(k)]
            elif what == 1:
                assert fast.take(k) == [ref.uniform() for _ in range(k)]
            elif what == 2:
                assert fast.codes_batch(nc, k) == [tuple(ref.below(n) for n in nc)
                                                   for _ in range(k)]
            elif what == 3:
                assert fast.codes(nc) == tuple(ref.below(n) for n in nc)
            elif what == 4:
                assert fast.below(k + 1) == ref.below(k + 1)
            else:                                 # direct use of the generator in between
                assert fast._rng.random() == ref.rng.random()


def test_incumbents_follow_the_sequential_rule_with_ties_nan_and_infinities():
    from search_algorithms.runner import _incumbents

    pick = np.random.default_rng(0)
    values = np.array([np.nan, -np.inf, np.inf, 50.0, 50.0, 60.0, -1.0])
    for _ in range(300):
        feedback = pick.choice(values, size=int(pick.integers(1, 12)))
        rows = pick.integers(0, 1000, size=len(feedback))
        expected, best, best_row = [], -math.inf, -1
        for row, fb in zip(rows.tolist(), feedback.tolist()):
            if fb > best:
                best, best_row = fb, row
            expected.append(best_row)
        assert _incumbents(rows, feedback).tolist() == expected

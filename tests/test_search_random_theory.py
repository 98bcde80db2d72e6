"""Random search against its exact expectation, computed from the problem's table.

NATS-Bench's random search draws architectures uniformly with replacement and each query sees a
uniformly drawn seed of that architecture (``is_random=True``). After n queries the incumbent is
the earliest query with the highest feedback, so with single-query distribution p over
(arch, seed) pairs, grouped by feedback value v (ascending, cumulative probability F):

    P(the incumbent's feedback is v) = F(v)^n - F(v-)^n,

and given that, the incumbent is the first query that hit value v, distributed as p restricted
to that value. Without replacement and with one seed per arch, the best of n distinct archs is
the k-th best overall with probability C(N-k, n-1) / C(N, n).
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from search_algorithms.problem import TabularProblem
from search_algorithms.runner import Runner

RUNS = 500


def expected_with_replacement(problem: TabularProblem, n: int) -> float:
    """E[reported of the incumbent] after n uniform queries, by order statistics."""
    final = problem.valid_acc[:, :, -1]                                   # [N, S]
    available = np.isfinite(final)
    counts = available.sum(axis=1)
    prob = np.where(available, 1.0 / (problem.num_archs * counts[:, None]), 0.0)
    rows = np.broadcast_to(np.arange(problem.num_archs)[:, None], final.shape)
    values, p, reported = final[available], prob[available], problem.reported[rows[available]]
    order = np.argsort(values, kind="stable")
    values, p, reported = values[order], p[order], reported[order]
    uniq, start = np.unique(values, return_index=True)
    mass = np.add.reduceat(p, start)
    weighted = np.add.reduceat(p * reported, start)
    cdf = np.cumsum(mass)
    below = np.concatenate([[0.0], cdf[:-1]])
    return float(np.sum((cdf ** n - below ** n) * weighted / mass))


def expected_without_replacement(problem: TabularProblem, n: int) -> float:
    """E[reported of the best of n distinct uniform archs] (one seed per arch)."""
    assert problem.num_seeds == 1
    final = problem.valid_acc[:, 0, -1]
    assert len(np.unique(final)) == len(final)
    ranked = problem.reported[np.argsort(-final)]
    big_n = len(final)
    k = np.arange(1, big_n - n + 2)
    log_p = (np.vectorize(math.lgamma)(big_n - k + 1) - np.vectorize(math.lgamma)(n)
             - np.vectorize(math.lgamma)(big_n - k - n + 2)
             - (math.lgamma(big_n + 1) - math.lgamma(n + 1) - math.lgamma(big_n - n + 1)))
    return float(np.sum(np.exp(log_p) * ranked[:len(k)]))


def final_reported(frame, n: int) -> np.ndarray:
    last = frame[frame["step"] == n]
    assert len(last) == RUNS
    return last["reported"].to_numpy()


@pytest.fixture(scope="module")
def tied_problem() -> TabularProblem:
    """Unequal seed counts per arch and feedback rounded to 0.5 %, so ties are common."""
    problem = TabularProblem.synthetic((4, 4, 4, 4, 4), np.random.default_rng(3), seeds=3,
                                       noise=2.0, missing_seed_fraction=0.4)
    problem.valid_acc = np.round(problem.valid_acc * 2) / 2
    return TabularProblem(space=problem.space, arch_strs=problem.arch_strs, codes=problem.codes,
                          valid_acc=problem.valid_acc, train_time=problem.train_time,
                          valid_time=problem.valid_time, reported=problem.reported,
                          seeds=problem.seeds, dataset="tied")


def test_theory_matches_brute_force_on_a_tiny_problem() -> None:
    """The closed form itself, against enumerating every sequence of 2 queries."""
    problem = TabularProblem.synthetic((2, 3), np.random.default_rng(0), seeds=2, noise=3.0,
                                       missing_seed_fraction=0.5)
    problem.valid_acc = np.round(problem.valid_acc)
    pairs = [(a, s) for a in range(problem.num_archs) for s in range(problem.num_seeds)
             if np.isfinite(problem.valid_acc[a, s, -1])]
    counts = np.isfinite(problem.valid_acc[:, :, -1]).sum(axis=1)
    total = 0.0
    for a1, s1 in pairs:
        for a2, s2 in pairs:
            p = 1 / (problem.num_archs * counts[a1]) / (problem.num_archs * counts[a2])
            v1, v2 = problem.valid_acc[a1, s1, -1], problem.valid_acc[a2, s2, -1]
            total += p * problem.reported[a2 if v2 > v1 else a1]
    assert expected_with_replacement(problem, 2) == pytest.approx(total, rel=1e-12)


@pytest.mark.parametrize("n", [1, 5, 30, 150])
def test_random_search_matches_order_statistics(tied_problem: TabularProblem, n: int) -> None:
    frame = Runner(tied_problem, "random", max_evals=n, base_seed=11).run_many(RUNS)
    values = final_reported(frame, n)
    theory = expected_with_replacement(tied_problem, n)
    se = values.std(ddof=1) / math.sqrt(RUNS)
    assert abs(values.mean() - theory) < 3 * se, (n, values.mean(), theory, se)


@pytest.mark.parametrize("n", [10, 100])
def test_random_search_without_replacement_matches_hypergeometric(n: int) -> None:
    problem = TabularProblem.synthetic((5, 5, 5, 5, 5), np.random.default_rng(5), seeds=1,
                                       noise=1.5)
    frame = Runner(problem, "random", max_evals=n, base_seed=2,
                   hyperparameters={"replace": False}).run_many(RUNS)
    assert not frame.duplicated(["run", "arch"]).any()
    values = final_reported(frame, n)
    theory = expected_without_replacement(problem, n)
    se = values.std(ddof=1) / math.sqrt(RUNS)
    assert abs(values.mean() - theory) < 3 * se, (n, values.mean(), theory, se)

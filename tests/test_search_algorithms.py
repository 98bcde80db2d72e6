"""The algorithms: their mechanics against hand computations, and that they beat random search
on a problem with structure."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from natsbench.errors import QueryError
from natsbench.spaces import get_space
from search_algorithms.base import Algorithm, GridSpace, Registry, Trial
from search_algorithms.bohb import BOHB, _KdePair
from search_algorithms.hyperband import Hyperband, SuccessiveHalving, bracket_plan
from search_algorithms.local_search import LocalSearch
from search_algorithms.problem import TabularProblem
from search_algorithms.random_search import RandomSearch
from search_algorithms.rea import RegularizedEvolution
from search_algorithms.reinforce import Reinforce
from search_algorithms.runner import Runner

TSS = get_space("tss")
SSS = get_space("sss")


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def hamming(a, b) -> int:
    return sum(x != y for x, y in zip(a, b))


# ------------------------------------------------------------------ random search
def test_random_search_proposes_full_fidelity_uniform_archs() -> None:
    algorithm = RandomSearch(TSS, rng())
    trials = [algorithm.ask() for _ in range(5000)]
    assert all(t.fidelity_epochs is None for t in trials)
    codes = np.array([t.arch for t in trials])
    for dim in range(6):
        counts = np.bincount(codes[:, dim], minlength=5)
        assert ((counts - 1000) ** 2 / 1000).sum() < 18.5      # chi-square, 4 dof, p=0.001


def test_random_search_without_replacement_exhausts_the_space() -> None:
    algorithm = RandomSearch(GridSpace("g", (2, 3)), rng(), replace=False)
    seen = [algorithm.ask().arch for _ in range(6)]
    assert sorted(seen) == sorted(itertools.product(range(2), range(3)))
    assert algorithm.ask() is None


# ------------------------------------------------------------------ REA
def test_rea_starts_random_then_mutates_one_edge_of_the_tss_parent() -> None:
    algorithm = RegularizedEvolution(TSS, rng(1))
    initial = [algorithm.ask() for _ in range(10)]
    for i, trial in enumerate(initial):
        algorithm.tell(trial, float(i))
    population = {t.arch for t in initial}
    for step in range(200):
        child = algorithm.ask()
        parents = [p for p, _ in algorithm.population if hamming(p, child.arch) == 1]
        assert parents, "every tss child is a one-edge mutation of a population member"
        algorithm.tell(child, 100.0 + step)
        assert len(algorithm.population) == 10
        population.add(child.arch)
    # aging: the population is exactly the last 10 told trials
    assert [f for _, f in algorithm.population] == [100.0 + s for s in range(190, 200)]


def test_rea_sss_mutation_may_keep_the_value_as_natsbench() -> None:
    algorithm = RegularizedEvolution(SSS, rng(2), population_size=1, sample_size=1)
    first = algorithm.ask()
    algorithm.tell(first, 1.0)
    distances = []
    for _ in range(800):
        child = algorithm.ask()
        distances.append(hamming(child.arch, algorithm.population[0][0]))
    assert set(distances) == {0, 1}
    assert abs(np.mean(np.array(distances) == 0) - 1 / 8) < 0.04


def test_rea_tournament_samples_with_replacement() -> None:
    """P(the single best member is the parent) = 1 - (1 - 1/10)^3 = 0.271."""
    generator = rng(3)
    members: list[tuple[int, ...]] = []
    while len(members) < 10:                    # pairwise at least 3 edges apart
        codes = tuple(generator.integers(0, 5, 6).tolist())
        if all(hamming(codes, m) >= 3 for m in members):
            members.append(codes)
    algorithm = RegularizedEvolution(TSS, rng(4))
    for i, codes in enumerate(members):
        algorithm.ask()
        algorithm.tell(Trial(codes, None, i), 99.0 if i == 4 else float(i))
    hits, n = 0, 4000
    for _ in range(n):
        child = algorithm.ask()
        hits += hamming(child.arch, members[4]) == 1
        algorithm._asked -= 1                    # keep the population as it is
    assert abs(hits / n - 0.271) < 4 * math.sqrt(0.271 * 0.729 / n)


# ------------------------------------------------------------------ REINFORCE
def test_reinforce_baseline_and_adam_steps_match_hand_computation() -> None:
    algorithm = Reinforce(GridSpace("g", (3, 2)), rng(5))
    start = algorithm.logits.copy()
    first = algorithm.ask()
    algorithm.tell(first, 50.0)                 # baseline becomes 50: zero advantage
    assert algorithm.baseline == pytest.approx(50.0)
    assert np.array_equal(algorithm.logits, start)
    probs = algorithm.probabilities()
    second = algorithm.ask()
    algorithm.tell(second, 70.0)
    baseline = (0.9 * 0.1 * 50 + 0.1 * 70) / (0.9 * 0.1 + 0.1)
    assert algorithm.baseline == pytest.approx(baseline)
    advantage = 70.0 - baseline
    grad = advantage * probs
    grad[[0, 1], list(second.arch)] -= advantage
    m_hat = 0.1 * grad / (1 - 0.9 ** 2)
    v_hat = 0.001 * grad ** 2 / (1 - 0.999 ** 2)
    expected = start - 0.01 * m_hat / (np.sqrt(v_hat) + 1e-8)
    finite = np.isfinite(start)
    assert np.allclose(algorithm.logits[finite], expected[finite])
    assert np.all(np.isneginf(algorithm.logits[~finite]))     # padding of the 2-choice dim
    new = algorithm.probabilities()
    assert new[0, second.arch[0]] > probs[0, second.arch[0]]
    assert np.allclose(new.sum(axis=1), 1.0) and new[1, 2] == 0.0


def test_reinforce_never_samples_padding() -> None:
    algorithm = Reinforce(GridSpace("g", (2, 7, 1)), rng(6))
    for _ in range(300):
        trial = algorithm.ask()
        assert 0 <= trial.arch[0] < 2 and 0 <= trial.arch[1] < 7 and trial.arch[2] == 0
        algorithm.tell(trial, float(trial.arch[1]))


# ------------------------------------------------------------------ Hyperband / BOHB
def test_bracket_plans_are_natsbenchs() -> None:
    assert bracket_plan(2, 2, 3) == [9, 3, 1]
    assert bracket_plan(1, 2, 3) == [3, 1]
    assert bracket_plan(0, 2, 3) == [3]
    assert Hyperband(TSS, rng()).budget_epochs == [1, 4, 12]


def sequential(algorithm: Algorithm, steps: int, score) -> list[tuple[Trial, float]]:
    out = []
    for _ in range(steps):
        trial = algorithm.ask()
        feedback = score(trial)
        algorithm.tell(trial, feedback)
        out.append((trial, feedback))
    return out


def test_hyperband_runs_brackets_and_promotes_the_best() -> None:
    algorithm = Hyperband(TSS, rng(7))
    history = sequential(algorithm, 2 * 20, lambda t: float(sum(t.arch)) + t.fidelity_epochs)
    fidelities = [t.fidelity_epochs for t, _ in history]
    assert fidelities[:20] == [1] * 9 + [4] * 3 + [12] + [4] * 3 + [12] + [12] * 3
    assert fidelities[20:] == fidelities[:20]
    stage0 = [t.arch for t, _ in history[:9]]
    promoted = [t.arch for t, _ in history[9:12]]
    # the best 3 by feedback advance (earlier configuration first on ties), then the best 1
    ranking = sorted(range(9), key=lambda i: (-sum(stage0[i]), i))
    assert promoted == [stage0[i] for i in ranking[:3]]
    assert history[12][0].arch == promoted[0]


def test_successive_halving_repeats_the_most_aggressive_bracket() -> None:
    history = sequential(SuccessiveHalving(TSS, rng(8)), 26, lambda t: 1.0)
    assert [t.fidelity_epochs for t, _ in history] == ([1] * 9 + [4] * 3 + [12]) * 2


def test_hyperband_opens_a_new_bracket_while_results_are_pending() -> None:
    algorithm = Hyperband(TSS, rng(9))
    pending = [algorithm.ask() for _ in range(10)]
    assert [t.fidelity_epochs for t in pending] == [1] * 9 + [4]
    for trial in pending:
        algorithm.tell(trial, 1.0)
    assert algorithm.ask().fidelity_epochs in (4, 12)


def test_kde_pair_densities_are_normalised_and_match_brute_force() -> None:
    generator = rng(10)
    choices = np.array([3, 4, 1, 2])
    good = np.stack([generator.integers(0, c, 8) for c in choices], axis=1)
    bad = np.stack([generator.integers(0, c, 20) for c in choices], axis=1)
    model = _KdePair(good, bad, choices, min_bandwidth=0.3)
    everything = np.array(list(itertools.product(*map(range, choices))))
    dens = np.exp(model.log_densities(everything))
    assert np.allclose(dens.sum(axis=0), 1.0)
    for data, bw, column in ((good, model.bw_good, 0), (bad, model.bw_bad, 1)):
        assert np.all(bw[choices > 1] >= 0.3 - 1e-12)
        assert np.all(bw <= (choices - 1) / choices + 1e-12)
        for x, value in zip(everything[::5], dens[::5, column]):
            kernel = np.where(x == data, 1 - bw, bw / np.maximum(choices - 1, 1))
            kernel[:, choices == 1] = 1.0
            assert value == pytest.approx(kernel.prod(axis=1).mean())


def test_bohb_builds_a_model_after_2d_plus_2_results_and_exploits_it() -> None:
    algorithm = BOHB(GridSpace("g", (5, 5, 5)), rng(11))
    for i in range(7):
        algorithm.observe((i % 5, 0, 0), 12, float(i))
    assert algorithm.model() is None
    algorithm.observe((1, 1, 1), 12, 0.0)
    model = algorithm.model()
    assert model is not None and len(model.good) == 4
    # with good points all at (4, 4, 4) the sampled configurations concentrate there
    algorithm = BOHB(GridSpace("g", (5, 5, 5)), rng(12))
    for i in range(40):
        codes = (4, 4, 4) if i < 8 else tuple(rng(i).integers(0, 4, 3).tolist())
        algorithm.observe(codes, 12, 90.0 if i < 8 else 10.0)
    picks = [algorithm.new_config(12) for _ in range(300)]
    share = np.mean([p == (4, 4, 4) for p in picks])
    assert share > 0.5                              # uniform sampling would give 1/125


# ------------------------------------------------------------------ local search
def test_local_search_climbs_to_the_optimum_without_repeats() -> None:
    problem = TabularProblem.synthetic((4, 4, 4, 4), rng(13), seeds=1, noise=0.0)
    frame = Runner(problem, "local_search", max_evals=400, base_seed=1).run_many(range(5))
    best = problem.arch_strs[int(np.argmax(problem.valid_acc[:, 0, -1]))]
    for _, run in frame.groupby("run"):
        assert not run["arch"].duplicated().any()
        assert best in set(run["arch"].astype(str))


def test_local_search_is_sequential() -> None:
    algorithm = LocalSearch(TSS, rng(14))
    trial = algorithm.ask()
    with pytest.raises(RuntimeError, match="sequential"):
        algorithm.ask()
    algorithm.tell(trial, 1.0)
    assert algorithm.ask() is not None


# ------------------------------------------------------------------ registry and plug-ins
def test_registry_plug_in_and_errors() -> None:
    registry = Registry()

    @registry.register("Always-First")
    class AlwaysFirst(Algorithm):
        def ask(self):
            return Trial((0,) * len(self.num_choices))

        def tell(self, trial, feedback):
            pass

    assert registry.names() == ["always-first"] and "ALWAYS-FIRST" in registry
    with pytest.raises(ValueError, match="already taken"):
        registry.register("always-first")(type("Other", (AlwaysFirst,), {}))
    with pytest.raises(QueryError, match="valid: always-first"):
        registry.get("rea")
    problem = TabularProblem.synthetic((3, 3), rng(15), seeds=1)
    frame = Runner(problem, "always-first", budget=500, registry=registry).run_many(2)
    assert set(frame["arch"].astype(str)) == {"0-0"} and set(frame["algorithm"]) == {
        "always-first"}


# ------------------------------------------------------------------ better than random
@pytest.fixture(scope="module")
def structured():
    problem = TabularProblem.synthetic((5,) * 6, rng(2), noise=0.5)

    def finals(name: str) -> np.ndarray:
        frame = Runner(problem, name, budget=3e4, base_seed=0).run_many(100)
        return frame.groupby("run").tail(1)["reported"].to_numpy()

    return {"random": finals("random")}, finals


@pytest.mark.parametrize("name", ["rea", "reinforce", "bohb", "hyperband",
                                  "successive_halving", "local_search"])
def test_algorithms_beat_random_search_on_a_structured_problem(structured, name: str) -> None:
    baseline, finals = structured
    ours, rand = finals(name), baseline["random"]
    se = math.sqrt(ours.var(ddof=1) / len(ours) + rand.var(ddof=1) / len(rand))
    assert ours.mean() - rand.mean() > 2 * se, (name, ours.mean(), rand.mean(), se)

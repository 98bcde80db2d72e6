"""No search algorithm ever receives a test-set number (or anything but its own inputs)."""
from __future__ import annotations

import numpy as np
import pytest

from search_algorithms.base import ALGORITHMS, Algorithm, Trial
from search_algorithms.problem import TabularProblem
from search_algorithms.runner import Runner


def leaky_problem() -> TabularProblem:
    """Validation accuracies in [0, 60), reported accuracies in [1000, 1100): disjoint."""
    base = TabularProblem.synthetic((4, 4, 4, 4), np.random.default_rng(1), seeds=2,
                                    missing_seed_fraction=0.3)
    valid = base.valid_acc * 0.6
    reported = 1000.0 + np.random.default_rng(2).random(base.num_archs) * 100
    return TabularProblem(space=base.space, arch_strs=base.arch_strs, codes=base.codes,
                          valid_acc=valid, train_time=base.train_time,
                          valid_time=base.valid_time, reported=reported, seeds=base.seeds,
                          dataset="leaky")


class Spy:
    """Wraps a registered algorithm and records everything it is given."""

    def __init__(self, name: str, log: dict):
        self.name = name
        self.log = log

    def __call__(self, space, rng, **kwargs):
        self.log["init"] = (space, rng, kwargs)
        inner = ALGORITHMS.create(self.name, space, rng, **kwargs)
        log = self.log

        class Wrapped(Algorithm):
            def __init__(self):
                self.inner = inner

            def ask(self):
                trial = inner.ask()
                log.setdefault("trials", []).append(trial)
                return trial

            def tell(self, trial, feedback, *extra, **extra_kw):
                log.setdefault("told", []).append((trial, feedback, extra, extra_kw))
                inner.tell(trial, feedback)

        return Wrapped()


@pytest.mark.parametrize("name", ALGORITHMS.names())
def test_algorithms_only_see_validation_accuracies(name: str) -> None:
    problem = leaky_problem()
    log: dict = {}
    frame = Runner(problem, Spy(name, log), budget=20000, base_seed=1).run_many([0])
    space, rng, kwargs = log["init"]
    assert space is problem.space
    assert isinstance(rng, np.random.Generator)
    assert kwargs == {"max_fidelity": problem.epochs}          # nothing from the benchmark
    told = log["told"]
    assert len(told) == len(frame) > 5
    valid_values = set(problem.valid_acc[np.isfinite(problem.valid_acc)].tolist())
    for trial, feedback, extra, extra_kw in told:
        assert isinstance(trial, Trial) and extra == () and extra_kw == {}
        assert type(feedback) is float
        assert feedback in valid_values and feedback < 100
    assert frame["reported"].min() >= 1000                    # the runner does report them
    assert np.array_equal(frame["feedback"].to_numpy(), [f for _, f, _, _ in told])

"""TabularProblem: NATS-Bench's dataset mapping, costs and validation of the arrays."""
from __future__ import annotations

import random

import numpy as np
import pytest

from natsbench.errors import QueryError
from natsbench.spaces import get_space
from search_algorithms.base import GridSpace
from search_algorithms.problem import TabularProblem


class FakeBench:
    """The Bench calls from_bench makes; every (dataset, hp, metric) has its own constant so
    the test can tell which one a number came from."""

    space = "sss"

    def __init__(self) -> None:
        space = get_space("sss")
        self.arch_strs = [space.decode(c) for c in np.random.default_rng(0).permutation(
            np.indices(space.num_choices).reshape(5, -1).T)]
        self.calls: list[tuple] = []

    _values: dict[tuple[str, str, str], float] = {}

    @classmethod
    def value(cls, dataset: str, hp: str, metric: str) -> float:
        """A distinct number per (dataset, hp, metric)."""
        return cls._values.setdefault((dataset, hp, metric), 10.25 + len(cls._values))

    def seeds(self, dataset: str, hp: str) -> list[int]:
        return [777, 888]

    def metric(self, dataset, hp, metric, archs=None, seed=None, epoch=None):
        self.calls.append((dataset, hp, metric, seed, epoch))
        n = len(self.arch_strs)
        if seed == "all" and epoch == "all":
            out = np.full((n, 2, 12), self.value(dataset, hp, metric))
            out[5, 1] = np.nan                               # arch 5 has one seed only
            return out
        assert seed is None and epoch is None
        return np.full(n, self.value(dataset, hp, metric))


@pytest.mark.parametrize("dataset, search, report", [
    ("cifar10", ("cifar10-valid", "x-valid"), ("cifar10", "ori-test")),
    ("cifar100", ("cifar100", "x-valid"), ("cifar100", "x-test")),
    ("ImageNet16-120", ("ImageNet16-120", "x-valid"), ("ImageNet16-120", "x-test")),
])
def test_from_bench_uses_natsbench_sources(dataset, search, report) -> None:
    bench = FakeBench()
    problem = TabularProblem.from_bench(bench, dataset)
    assert problem.space.name == "sss" and problem.dataset == dataset
    assert np.all(problem.valid_acc[~np.isnan(problem.valid_acc)]
                  == FakeBench.value(search[0], "12", f"{search[1]}_acc1"))
    finite = np.isfinite(problem.train_time)
    assert finite.sum() == problem.train_time.size - 12
    assert np.all(problem.train_time[finite] == FakeBench.value(search[0], "12", "train_time"))
    assert np.all(problem.reported == FakeBench.value(report[0], "90", f"{report[1]}_acc1"))
    assert problem.sources == {"search": (*search, "12"), "report": (*report, "90")}
    assert problem.seed_count[5] == 1 and problem.seed_count[4] == 2
    # rows keep the benchmark's order; encodings map back to them
    for row in (0, 1, 777):
        codes = get_space("sss").encode(bench.arch_strs[row])
        assert problem.row_of(codes) == row
    # one validation pass after e epochs costs the mean per-epoch validation time
    t_train = FakeBench.value(search[0], "12", "train_time")
    t_valid = FakeBench.value(search[0], "12", f"{search[1]}_time")
    assert problem.query_cost(3, 0, 4) == pytest.approx(4 * t_train + t_valid)


def test_from_bench_rejects_unknown_datasets_and_takes_explicit_sources() -> None:
    with pytest.raises(QueryError, match="valid: cifar10, cifar100, ImageNet16-120"):
        TabularProblem.from_bench(FakeBench(), "svhn")
    problem = TabularProblem.from_bench(FakeBench(), "svhn", search_hp=1, report_hp="12",
                                        search_source=("svhn", "x-valid"),
                                        report_source=("svhn", "x-test"))
    assert problem.sources == {"search": ("svhn", "x-valid", "01"),
                               "report": ("svhn", "x-test", "12")}


def test_array_validation() -> None:
    base = TabularProblem.synthetic((2, 2), np.random.default_rng(0), seeds=2, epochs=3)
    fields = dict(space=base.space, arch_strs=base.arch_strs, codes=base.codes,
                  valid_acc=base.valid_acc, train_time=base.train_time,
                  valid_time=base.valid_time, reported=base.reported, seeds=base.seeds)
    with pytest.raises(QueryError, match="train_time has shape"):
        TabularProblem(**{**fields, "train_time": base.train_time[:, :, :2]})
    no_time = base.valid_time.copy()
    no_time[1, 0, 2] = np.nan
    with pytest.raises(QueryError, match="no train/validation times, e.g. '0-1' seed 0"):
        TabularProblem(**{**fields, "valid_time": no_time})
    with pytest.raises(QueryError, match="same architecture encoding"):
        TabularProblem(**{**fields, "codes": np.array([[0, 0], [0, 1], [1, 0], [0, 1]])})
    with pytest.raises(QueryError, match="outside the space"):
        TabularProblem(**{**fields, "codes": base.codes + 1})


def test_synthetic_problem_has_structure_and_separate_test_numbers() -> None:
    problem = TabularProblem.synthetic((5, 5, 5), np.random.default_rng(1))
    final = problem.valid_acc[:, :, -1].mean(axis=1)
    assert np.corrcoef(final, problem.reported)[0, 1] > 0.95
    assert not set(problem.reported.tolist()) & set(problem.valid_acc.ravel().tolist())
    assert np.all(np.diff(problem.valid_acc.mean(axis=(0, 1))) > 0)      # learning curves
    assert isinstance(problem.space, GridSpace) and problem.num_archs == 125


def test_costs_feedback_and_reported_match_the_official_api(tmp_path, official_tss) -> None:
    import nats_bench
    from natsbench.store.official import import_official
    import natsbench

    bench = natsbench.open_bench(import_official(official_tss, tmp_path / "bench",
                                                 progress=False))
    api = nats_bench.create(str(official_tss), "tss", fast_mode=True, verbose=False)
    for dataset in ("cifar10", "cifar100", "ImageNet16-120"):
        problem = TabularProblem.from_bench(bench, dataset)
        search = "cifar10-valid" if dataset == "cifar10" else dataset
        for index in (0, 11, 284):
            official = api.get_more_info(index, dataset, hp="200", is_random=False)
            assert problem.reported[index] == pytest.approx(official["test-accuracy"])
            for slot in np.flatnonzero(np.isfinite(problem.valid_acc[index, :, -1])):
                seed = problem.seeds[slot]
                for epoch in (0, 3, 11):
                    info = api.get_more_info(index, search, iepoch=epoch, hp="12",
                                             is_random=seed)
                    assert problem.valid_acc[index, slot, epoch] == pytest.approx(
                        info["valid-accuracy"])
            random.seed(0)     # times are equal across seeds in these records
            _, _, cost, _ = api.simulate_train_eval(index, dataset, iepoch=3, hp="12")
            assert problem.query_cost(index, problem.seed_slots[index, 0], 4) \
                == pytest.approx(cost)

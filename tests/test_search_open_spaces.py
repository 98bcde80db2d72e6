"""Spaces without an index table (ExtCell with the manifest's k, DARTS) are searchable."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import natsbench
from natsbench.errors import NatsBenchError
from natsbench.spaces import extcell
from search_algorithms.problem import TabularProblem
from search_algorithms.runner import Runner

ROOT = Path(__file__).resolve().parents[1] / "data" / "benchmarks" / "extcell"


@pytest.fixture(scope="module", params=["k10", "darts"])
def open_problem(request):
    bench = natsbench.open_bench(ROOT / request.param)
    # a GP fits 100 archs in seconds (the default GBT selects its complexity by CV: slower)
    return request.param, bench, TabularProblem.from_bench(bench, "digits", on_missing="surrogate",
                                                           surrogate_model="gp")


def test_the_manifest_k_is_used_and_table_archs_are_valid(open_problem):
    name, bench, _ = open_problem
    problem = TabularProblem.from_bench(bench, "digits")       # no error on 10-ExtCells
    assert problem.open and problem.flat_to_row is None
    if name == "k10":
        assert problem.space.k == 10
    row = problem.row_of(tuple(problem.codes[5].tolist()))
    assert row == 5


@pytest.mark.parametrize("algorithm", ["random", "rea"])
def test_rs_and_rea_run_with_the_right_k(open_problem, algorithm):
    name, bench, problem = open_problem
    frame = Runner(problem, algorithm, max_evals=40).run_many(2)
    assert len(frame) == 80
    archs = frame["arch"].astype(str).tolist()
    for arch in archs:
        problem.space.validate(arch)
    if name == "k10":
        assert {extcell.parse(a).num_ops for a in archs} == {10}
    sources = set(frame["source"].astype(str))
    assert "surrogate" in sources
    sur = frame[frame["source"] == "surrogate"]
    assert (sur["seed"] == -1).all() and np.isfinite(sur["feedback"]).all()
    assert np.isfinite(frame["reported"]).all()
    # REA mutates through the space's neighbours: children differ from some earlier arch in a
    # way the space allows (validated above) and the run is reproducible
    again = Runner(problem, algorithm, max_evals=40).run_many(2)
    assert again["arch"].astype(str).tolist() == archs
    np.testing.assert_array_equal(again["feedback"], frame["feedback"])


def test_grid_algorithms_fail_cleanly_on_extcell(open_problem):
    name, _, problem = open_problem
    if name != "k10":
        Runner(problem, "bohb", max_evals=5).run(0)             # DARTS has a grid encoding
        return
    for algorithm in ("bohb", "reinforce", "async_bohb"):
        with pytest.raises(NatsBenchError, match="needs a grid encoding.*work there: .*rea"):
            Runner(problem, algorithm, max_evals=5).run(0)

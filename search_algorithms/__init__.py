"""Multi-trial NAS algorithms (ask/tell) and the runner that scores them on a benchmark.

Quick start::

    import natsbench
    from search_algorithms import Runner, TabularProblem

    problem = TabularProblem.from_bench(natsbench.open_bench(path), "cifar100")
    frame = Runner(problem, "rea").run_many(500, workers=2)   # one row per evaluation

``docs/ALGORITHMS.md`` describes the interface, the runner's semantics and every algorithm.
Importing this package is cheap: no torch, pandas or matplotlib.
"""
from __future__ import annotations

from search_algorithms.base import (
    ALGORITHMS, Algorithm, GridSpace, Registry, Trial, available_algorithms, get_algorithm,
    register_algorithm,
)
from search_algorithms.problem import TabularProblem
from search_algorithms.runner import DEFAULT_BUDGETS, Runner, RunSpec, execute, write_parquet

__all__ = [
    "ALGORITHMS", "Algorithm", "GridSpace", "Registry", "Trial", "available_algorithms",
    "get_algorithm", "register_algorithm", "TabularProblem", "DEFAULT_BUDGETS", "Runner",
    "RunSpec", "execute", "write_parquet",
]

"""Run several algorithms on one benchmark dataset: the NATS-Bench multi-trial comparison.

Used by ``natsbench demo`` and ``natsbench reproduce nats-multitrial --bench``; the
``natsbench search all`` command runs the full grid over datasets with its own options.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

from natsbench.errors import QueryError
from search_algorithms.problem import TabularProblem
from search_algorithms.runner import Runner, default_budget

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

MAIN_ALGORITHMS: tuple[str, ...] = ("random", "rea", "reinforce", "bohb")
#: budget for datasets without a NATS-Bench default: this many full trainings (+ validation)
TRAININGS_PER_RUN = 150


def suggested_budget(bench: Any, dataset: str, hp: str) -> float:
    """Simulated seconds for ``TRAININGS_PER_RUN`` full trainings of an average architecture."""
    import numpy as np

    train = bench.cumulative(dataset, hp, "train_time")
    names = bench.metric_names(dataset, hp)
    valid = bench.metric(dataset, hp, "x-valid_time") if "x-valid_time" in names else 0.0
    return float(np.nanmean(train + valid) * TRAININGS_PER_RUN)


def resolve_budget(bench: Any, dataset: str, hp: str, budget: float | None = None) -> float:
    """``budget`` if given, else NATS-Bench's default for the dataset, else
    :func:`suggested_budget` (simulated seconds per run)."""
    if budget is not None:
        return float(budget)
    try:
        return default_budget(bench.space, dataset)
    except QueryError:
        return suggested_budget(bench, dataset, hp)


def run_grid(bench: Any, dataset: str, *, algorithms: Sequence[str] = MAIN_ALGORITHMS,
             runs: int = 100, budget: float | None = None, search_hp: str | None = None,
             base_seed: int = 0, workers: int = 1) -> "pd.DataFrame":
    """Tidy rows of ``runs`` runs of each algorithm on ``bench``/``dataset``.

    Args:
        bench: an opened benchmark (every architecture of the space must answer).
        dataset: a NATS-Bench dataset name or any dataset with x-valid and x-test/ori-test.
        budget: simulated seconds per run; default NATS-Bench's for its datasets, else
            :func:`suggested_budget`.
        search_hp: training length of the feedback (default ``12`` when present, else the
            shortest one).
    """
    import pandas as pd

    hps = bench.hps(dataset)
    hp = search_hp or ("12" if "12" in hps else hps[0])
    problem = TabularProblem.from_bench(bench, dataset, search_hp=hp)
    budget = resolve_budget(bench, dataset, hp, budget)
    frames = [Runner(problem, algo, budget=budget, base_seed=base_seed).run_many(runs, workers=workers)
              for algo in algorithms]
    return pd.concat(frames, ignore_index=True)

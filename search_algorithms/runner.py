"""The runner: budget, simulated clock, benchmark seeds, repeats and the tidy output.

One *run* is one search: the runner builds a fresh algorithm, then repeatedly asks it for a
trial, answers the trial from a :class:`~search_algorithms.problem.TabularProblem` and tells
the algorithm the validation accuracy, until the simulated time budget is spent.

Semantics (NATS-Bench, Dong et al. TPAMI 2021 / thesis section 5.4, and the official
``simulate_train_eval``); ``docs/ALGORITHMS.md`` has the long form:

* **Seeds of a run.** Run ``i`` with base seed ``b`` draws everything from
  ``numpy.random.SeedSequence(entropy=b, spawn_key=(i,))``: its first child seeds the
  algorithm's generator, its second the runner's. A run is therefore reproducible on its own,
  bit for bit, whatever other runs, chunking or number of worker processes are used.
* **Benchmark seed of a query.** Each query trains the architecture with one of the seeds the
  benchmark holds for it, drawn uniformly by the runner (the official ``is_random=True``).
  Re-querying an architecture may thus give a different accuracy.
* **Fidelity and cost.** A trial asks for epoch ``e`` (1..E, default E = 12) of the search
  protocol. Its feedback is the validation accuracy after epoch ``e``; its cost is the training
  time of epochs 1..e plus one validation pass (the official "valid-per-time": the mean
  recorded validation time over epochs 1..e). With ``fidelity_cost="scratch"`` (default, as
  NATS-Bench's BOHB, which calls ``simulate_train_eval(arch, iepoch=int(budget)-1)`` for each
  evaluation) every query trains from scratch, even when a lower-budget evaluation of the same
  architecture was paid before. With ``fidelity_cost="continue"`` a query for an architecture
  this run already trained for fewer epochs resumes that training run (same benchmark seed)
  and pays only the extra epochs plus the validation pass.
* **Clock and budget.** The simulated clock is the sum of query costs; algorithm compute time
  is not counted. An evaluation that would finish after the budget is not performed: the run
  ends there, so every row has ``sim_time <= budget``. ``max_evals`` optionally caps the
  number of evaluations.
* **Incumbent and reported accuracy.** After each evaluation the incumbent is the evaluation
  with the highest feedback so far, the earliest one on ties (``incumbent="any"``, NATS-Bench:
  ``max(history, key=accuracy)`` over all evaluations, whatever their fidelity), or the highest
  feedback among the evaluations of the highest fidelity seen so far
  (``incumbent="highest_fidelity"``, Hyperband's convention). ``reported`` is the incumbent
  architecture's reported accuracy (test set, final protocol, mean over seeds). Algorithms
  never see it.
* **Sources.** A query of an architecture the table lacks is answered as the problem's
  ``on_missing`` says (:mod:`natsbench.api.evaluation`): an error, a surrogate draw (predicted
  feedback plus noise from the runner's generator, predicted cost) or a live training (measured
  cost); each row records its ``source``.
* **Asynchronous workers.** ``sim_workers=n`` replaces the loop by an event queue of n
  simulated workers (:func:`_run_async`); ``sim_workers=1`` gives the synchronous rows.
"""
from __future__ import annotations

import heapq
import logging
from collections import deque
import math
import os
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Hashable, Iterable, Mapping, Sequence

import numpy as np

from natsbench.errors import QueryError
from search_algorithms.base import (
    ALGORITHMS, Algorithm, RandomStream, Registry, Trial, check_hyperparameters,
)
from natsbench.api.evaluation import SOURCES
from search_algorithms.problem import TabularProblem

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

logger = logging.getLogger(__name__)

#: Default simulated time budgets in seconds (NATS-Bench run-all.sh of the official code:
#: tss 2e4 / 4e4 / 1.2e5 s, sss 2e4 / 4e4 / 6e4 s).
DEFAULT_BUDGETS: dict[str, dict[str, float]] = {
    "tss": {"cifar10": 2e4, "cifar100": 4e4, "ImageNet16-120": 1.2e5},
    "sss": {"cifar10": 2e4, "cifar100": 4e4, "ImageNet16-120": 6e4},
}
FIDELITY_COSTS = ("scratch", "continue")
INCUMBENT_RULES = ("any", "highest_fidelity")
#: Output columns, in order.
COLUMNS = ("algorithm", "space", "dataset", "run", "step", "sim_time", "arch", "fidelity",
           "feedback", "reported", "seed", "incumbent", "source", "start_time", "worker",
           "reported_source")


def default_budget(space: str, dataset: str) -> float:
    """The NATS-Bench budget (simulated seconds) for a space and dataset."""
    try:
        return DEFAULT_BUDGETS[space][dataset]
    except KeyError:
        valid = [f"{s}/{d}" for s, ds in DEFAULT_BUDGETS.items() for d in ds]
        raise QueryError(f"no default budget for {space}/{dataset}; valid: {', '.join(valid)} "
                         f"(or pass a budget)") from None


def run_generators(base_seed: int, run: int) -> tuple[np.random.Generator, np.random.Generator]:
    """(algorithm generator, runner generator) of run ``run`` under ``base_seed``."""
    return run_generator(base_seed, run, 0), run_generator(base_seed, run, 1)


def run_generator(base_seed: int, run: int, which: int) -> np.random.Generator:
    """One generator of :func:`run_generators`: ``which`` 0 the algorithm's, 1 the runner's
    (made alone where a run needs only one)."""
    if base_seed < 0 or run < 0:
        raise QueryError(f"seeds and run indices must be >= 0, got base_seed={base_seed}, "
                         f"run={run}")
    # a child of SeedSequence(entropy=base_seed, spawn_key=(run,)).spawn(2), made directly
    # (the same sequence, without mixing the parent's pool)
    return np.random.Generator(np.random.PCG64(
        np.random.SeedSequence(entropy=base_seed, spawn_key=(run, which))))


@dataclass(frozen=True)
class RunSpec:
    """Everything that defines a set of runs except the problem.

    Attributes:
        algorithm: a registered name, or a picklable factory ``(space, rng, **kw) -> Algorithm``.
        hyperparameters: keyword arguments for the algorithm.
        budget: simulated seconds per run; ``None`` for the NATS-Bench default of the
            problem's space and dataset (or unlimited when ``max_evals`` is set).
        max_evals: optional cap on evaluations per run.
        base_seed: the base of every run's seed sequence.
        fidelity_cost: ``"scratch"`` or ``"continue"`` (module docstring).
        incumbent: ``"any"`` or ``"highest_fidelity"`` (module docstring).
        sim_workers: ``None`` for the synchronous runner (default), n for the asynchronous
            simulation of n workers (module docstring).
    """

    algorithm: str | Callable[..., Algorithm]
    hyperparameters: Mapping[str, Any] = field(default_factory=dict)
    budget: float | None = None
    max_evals: int | None = None
    base_seed: int = 0
    fidelity_cost: str = "scratch"
    incumbent: str = "any"
    sim_workers: int | None = None

    def __post_init__(self) -> None:
        if self.sim_workers is not None and (isinstance(self.sim_workers, bool)
                                             or int(self.sim_workers) < 1):
            raise QueryError(f"sim_workers must be None (synchronous) or an int >= 1, got "
                             f"{self.sim_workers!r}")
        if self.fidelity_cost not in FIDELITY_COSTS:
            raise QueryError(f"fidelity_cost {self.fidelity_cost!r} is not one of "
                             f"{', '.join(FIDELITY_COSTS)}")
        if self.incumbent not in INCUMBENT_RULES:
            raise QueryError(f"incumbent {self.incumbent!r} is not one of "
                             f"{', '.join(INCUMBENT_RULES)}")
        if self.budget is not None and not self.budget > 0:
            raise QueryError(f"budget must be a positive number of seconds, got {self.budget}")
        if self.max_evals is not None and self.max_evals < 1:
            raise QueryError(f"max_evals must be >= 1, got {self.max_evals}")

    @property
    def algorithm_name(self) -> str:
        if isinstance(self.algorithm, str):
            return self.algorithm.lower()
        return str(getattr(self.algorithm, "name", "") or getattr(self.algorithm, "__name__",
                                                                  repr(self.algorithm)))

    def resolved_budget(self, problem: TabularProblem) -> float:
        if self.budget is not None:
            return float(self.budget)
        if self.max_evals is not None:
            return math.inf
        return default_budget(problem.space.name, problem.dataset)


@dataclass
class RunTrace:
    """The evaluations of one run, as columns (all of length ``steps``)."""

    run: int
    sim_time: np.ndarray      # float64 seconds at the end of each evaluation
    row: np.ndarray           # int64 problem row of the evaluated arch
    fidelity: np.ndarray      # int16 epochs
    feedback: np.ndarray      # float64 validation accuracy told to the algorithm
    seed: np.ndarray          # int64 benchmark seed the query saw (-1: a surrogate draw)
    incumbent: np.ndarray     # int64 problem row of the incumbent after the evaluation
    start_time: np.ndarray    # float64 seconds at the start of each evaluation
    source: np.ndarray        # int8 index into natsbench.api.evaluation.SOURCES
    worker: np.ndarray        # int32 simulated worker that ran the evaluation

    def __len__(self) -> int:
        return len(self.row)


def _factory(spec: RunSpec, registry: Registry) -> Callable[..., Algorithm]:
    return registry.get(spec.algorithm) if isinstance(spec.algorithm, str) else spec.algorithm


def _evaluator(problem: TabularProblem, spec: RunSpec, stream: RandomStream,
               algorithm_name: str) -> Callable[[Trial], tuple[int, int, int, float, float, int]]:
    """The query step of a run: ``evaluate(trial) -> (row, epochs, seed column, feedback,
    cost, source)``; seed column -1 for a surrogate draw, source an index of
    :data:`natsbench.api.evaluation.SOURCES`. Draws benchmark seeds and surrogate noise from
    ``stream`` (the runner's generator) and keeps the run's continue-training state."""
    epochs = problem.epochs
    continue_mode = spec.fidelity_cost == "continue"
    lookup = problem.codes_to_row
    n_seeds = problem.num_seeds
    seed_count = problem.seed_count
    seed_slots = problem.seed_slots.reshape(-1)      # views: the arrays are C-contiguous
    valid = problem.valid_acc.reshape(-1)
    cum_train = problem.cum_train.reshape(-1)
    valid_per = problem.valid_per_time.reshape(-1)
    policy = problem.on_missing
    if policy == "surrogate":
        sur_mean = problem.sur_mean.reshape(-1)
        sur_noise = problem.sur_noise.tolist()
        sur_cum = problem.sur_cum_train.reshape(-1)
        sur_vpt = problem.sur_valid_per_time.reshape(-1)
    uniform = stream.uniform
    n_fixed = problem.num_table_rows
    open_rows = problem.open_rows
    grows = problem.open and policy == "surrogate"
    trained: dict[int, tuple[int, int]] = {}
    two_pi = 2.0 * math.pi

    def evaluate(trial: Trial) -> tuple[int, int, int, float, float, int]:
        try:
            row = lookup.get(trial.arch, -1)
        except TypeError:                     # an unhashable encoding (list, array)
            row = lookup.get(tuple(int(c) for c in trial.arch), -1)
        if not continue_mode and 0 <= row < n_fixed and seed_count.item(row):
            # the common case, a table row trained from scratch: the general path below
            # reduced to what it does here (same draws, same arithmetic)
            fid = trial.fidelity_epochs
            fid = epochs if fid is None else int(fid)
            if not 1 <= fid <= epochs:
                raise QueryError(f"{algorithm_name} asked for {fid} epochs; valid: 1..{epochs}")
            slot = seed_slots.item(row * n_seeds + int(uniform() * seed_count.item(row)))
            at = (row * n_seeds + slot) * epochs + fid - 1
            return row, fid, slot, valid.item(at), cum_train.item(at) + valid_per.item(at), 0
        source = 0
        if row < 0 or row >= n_fixed or seed_count.item(row) == 0:
            if policy == "error" or (row < 0 and not grows):
                problem.row_of(trial.arch)    # raises a QueryError that names the problem
            if policy == "train":
                record, cached = problem.trainer(problem.arch_strs[row])
                problem.fill_row(row, record)
                source = 0 if cached else 2
            else:
                source = 1
                if row < 0:                   # an open space: predicted once, then reused
                    row = problem.add_predicted_row(trial.arch)
        fid = epochs if trial.fidelity_epochs is None else int(trial.fidelity_epochs)
        if not 1 <= fid <= epochs:
            raise QueryError(f"{algorithm_name} asked for {fid} epochs; valid: 1..{epochs}")
        previous = trained.get(row) if continue_mode else None
        if source == 1:
            if row < n_fixed:
                base = row * epochs
                mean = sur_mean.item(base + fid - 1)
                cum, vpt = sur_cum.item(base + fid - 1), sur_vpt.item(base + fid - 1)
                done = sur_cum.item(base + previous[1] - 1) if previous is not None else 0.0
            else:
                means, cums, vpts = open_rows[row]
                mean, cum, vpt = means[fid - 1], cums[fid - 1], vpts[fid - 1]
                done = cums[previous[1] - 1] if previous is not None else 0.0
            if previous is not None and previous[1] < fid:
                cost = cum - done + vpt
            else:
                cost = cum + vpt
            # Box-Muller from two uniforms of the runner's stream
            z = math.sqrt(-2.0 * math.log(1.0 - uniform())) * math.cos(two_pi * uniform())
            feedback = mean + sur_noise[fid - 1] * z
            slot = -1
        else:
            if previous is not None and previous[1] < fid and previous[0] >= 0:
                slot, done = previous
                base = (row * n_seeds + slot) * epochs
                cost = cum_train.item(base + fid - 1) - cum_train.item(base + done - 1) \
                    + valid_per.item(base + fid - 1)
            else:
                slot = seed_slots.item(row * n_seeds + int(uniform() * seed_count.item(row)))
                base = (row * n_seeds + slot) * epochs
                cost = cum_train.item(base + fid - 1) + valid_per.item(base + fid - 1)
            feedback = valid.item(base + fid - 1)
        if continue_mode:
            trained[row] = (slot, fid)
        return row, fid, slot, feedback, cost, source

    # what the run loops need to answer a full-fidelity table row from scratch themselves
    # (the first branch of evaluate, inlined where it is the common case)
    evaluate.stream = stream                  # type: ignore[attr-defined]
    evaluate.name = algorithm_name            # type: ignore[attr-defined]
    evaluate.table = None if continue_mode else (  # type: ignore[attr-defined]
        lookup.get, problem.full_fidelity_lists(), n_seeds, n_fixed, epochs, uniform)
    return evaluate


def run_one(problem: TabularProblem, spec: RunSpec, run: int,
            registry: Registry = ALGORITHMS) -> RunTrace:
    """Execute run ``run`` of ``spec`` on ``problem`` (see the module docstring).

    ``spec.sim_workers`` None: the synchronous loop (one evaluation at a time); an int n:
    the event-queue simulation of n workers (:func:`_run_async`; n = 1 gives the same rows).
    Regularized evolution on a complete table runs fused (:func:`_run_evolution`, the same
    rows in either mode).
    """
    algo_rng = run_generator(spec.base_seed, run, 0)
    epochs = problem.epochs
    algorithm = _factory(spec, registry)(problem.space, algo_rng, max_fidelity=epochs,
                                         **dict(spec.hyperparameters))
    budget = spec.resolved_budget(problem)
    max_evals = spec.max_evals if spec.max_evals is not None else -1
    by_fidelity = spec.incumbent == "highest_fidelity"
    seed_values = problem.seeds + (-1,)               # column -1: a surrogate draw
    if _fuses_evolution(algorithm, problem, spec):
        # one seed per row: the runner's seed draws decide nothing, so none are made
        stream = RandomStream(run_generator(spec.base_seed, run, 1)) \
            if problem.full_fidelity_by_draw()[0] > 1 else None   # type: ignore[index]
        return _run_evolution(run, algorithm, problem, stream, budget, max_evals,
                              spec.sim_workers or 1, seed_values, by_fidelity)
    evaluate = _evaluator(problem, spec, RandomStream(run_generator(spec.base_seed, run, 1)),
                          algorithm.name or type(algorithm).__name__)
    if spec.sim_workers is not None:
        if algorithm.ignores_feedback and spec.fidelity_cost == "scratch" and not by_fidelity \
                and problem.answers_every_encoding():
            return _run_async_ahead(run, algorithm, problem, evaluate.stream, budget, max_evals,
                                    int(spec.sim_workers), seed_values, evaluate.name)
        return _run_async(run, algorithm, evaluate, budget, max_evals, int(spec.sim_workers),
                          by_fidelity, seed_values)

    out: list[tuple] = []                             # one tuple per row (_ROW_FIELDS)
    record = out.append
    ask, tell = algorithm.ask, algorithm.tell
    clock = 0.0
    steps = 0
    while steps != max_evals:
        trial = ask()
        if trial is None:
            break
        row, fid, slot, feedback, cost, source = evaluate(trial)
        if clock + cost > budget:
            break
        start = clock
        clock += cost
        tell(trial, feedback)
        record((clock, steps, 0, start, trial, row, fid, slot, feedback, source))
        steps += 1
    return _trace(run, out, seed_values, by_fidelity)


def _run_async(run: int, algorithm: Algorithm, evaluate: Callable, budget: float,
               max_evals: int, workers: int, by_fidelity: bool,
               seed_values: tuple[int, ...]) -> RunTrace:
    """Event-queue simulation of ``workers`` workers on the simulated clock.

    At time 0 the workers, in order 0..n-1, each take the next ``ask``. Whenever an evaluation
    finishes (earliest finish first; the one started first on ties) the algorithm is told, the
    row is written, and its worker (then any idle worker, in the order they became free) takes
    the next ``ask`` at that time. An ``ask`` answering ``None`` leaves the worker idle until
    the next result (or ends the run when nothing is in flight). An evaluation that would
    finish after the budget is not performed, and the run ends there. Everything is a function
    of the run's seed: the host's process count plays no part.
    """
    if workers < 1:
        raise QueryError(f"sim_workers must be >= 1, got {workers}")
    table = evaluate.table                    # type: ignore[attr-defined]
    if table is not None:
        # a row the run fills (on_missing "train") keeps count 0 in these lists: evaluate()
        get_row, (counts, slots, last_valid, last_cost), n_seeds, n_fixed, epochs, \
            uniform = table
    else:
        get_row, n_fixed = {}.get, 0          # every trial goes through evaluate()
    # heap entries (_ROW_FIELDS): (finish, seq, worker, start, trial, row, fid, slot,
    # feedback, source); seq is unique, so ties on finish go to the evaluation started first.
    # A finished entry is the output row as it is (incumbents follow in _trace).
    heap: list[tuple[float, int, int, float, Trial, int, int, int, float, int]] = []
    free = deque(range(workers))              # idle workers, in the order they became free
    take, release = free.popleft, free.append
    push, pop, replace = heapq.heappush, heapq.heappop, heapq.heapreplace
    ask, tell = algorithm.ask, algorithm.tell
    now = 0.0
    seq = 0
    out: list[tuple] = []
    record = out.append

    while True:
        while free and seq != max_evals:      # idle workers take the next asks
            trial = ask()
            if trial is None:                 # idle until the next result (or the end)
                break
            row, fid, slot, feedback, cost, source = evaluate(trial)
            push(heap, (now + cost, seq, take(), now, trial, row, fid, slot, feedback, source))
            seq += 1
        if not heap:
            break
        # the steady state, every worker busy: the finished evaluation's worker takes the
        # next ask at once (one heap operation instead of a pop and a push)
        while heap:
            entry = heap[0]
            now = entry[0]
            if now > budget:
                return _trace(run, out, seed_values, by_fidelity)
            tell(entry[4], entry[8])
            record(entry)
            if free or seq == max_evals:      # idle workers first: back to the loop above
                pop(heap)
                release(entry[2])
                break
            trial = ask()
            if trial is None:                 # this worker idles until the next result
                pop(heap)
                release(entry[2])
                continue
            try:
                row = get_row(trial.arch, -1)
            except TypeError:                 # an unhashable encoding: evaluate() copes
                row = -1
            if 0 <= row < n_fixed and trial.fidelity_epochs is None and counts[row]:
                # evaluate()'s table path at full fidelity: same draw, same numbers
                at = row * n_seeds
                slot = slots[at + int(uniform() * counts[row])]
                at += slot
                replace(heap, (now + last_cost[at], seq, entry[2], now, trial, row, epochs,
                               slot, last_valid[at], 0))
            else:
                row, fid, slot, feedback, cost, source = evaluate(trial)
                replace(heap, (now + cost, seq, entry[2], now, trial, row, fid, slot,
                               feedback, source))
            seq += 1
        else:
            break
    return _trace(run, out, seed_values, by_fidelity)


def _fuses_evolution(algorithm: Algorithm, problem: TabularProblem, spec: RunSpec) -> bool:
    """True where :func:`_run_evolution` gives the run's rows: the algorithm is
    :class:`~search_algorithms.rea.RegularizedEvolution` itself, not a subclass (a subclass
    may override any step the fused loop replays: ``ask``, ``tell``, the random architectures,
    the children's draws), on a grid, the problem answers every encoding from its table with
    the same number of seeds per row (:meth:`TabularProblem.full_fidelity_by_draw`), and
    queries train from scratch."""
    from search_algorithms.rea import RegularizedEvolution

    return type(algorithm) is RegularizedEvolution and not algorithm.through_space \
        and spec.fidelity_cost == "scratch" and problem.answers_every_encoding() \
        and problem.full_fidelity_by_draw() is not None


def _evolution_plan(algorithm: Any, problem: TabularProblem, stream: RandomStream | None,
                    workers: int, first: int, k: int) -> list[tuple[int, int, list[int], int]]:
    """The asks ``first .. first + k - 1`` of :func:`_run_evolution`, next ask last: per ask
    ``(row, -1, [], seed draw)`` for a random architecture, ``(mutation index, first
    tournament row, the other tournament rows, seed draw)`` for a child. Tournament rows are
    indices of the finished rows (in finish order), the mutation index ``dimension * V +
    value`` (:meth:`TabularProblem.mutation_rows`), the seed draw ``int(u * C)`` from the
    runner's stream (:meth:`TabularProblem.full_fidelity_by_draw`; no draw needed for C = 1)."""
    s = algorithm.sample_size
    codes, kids = algorithm.draws_ahead(workers, k, first)
    c = problem.full_fidelity_by_draw()[0]    # type: ignore[index]
    draws = (stream.uniforms(k) * c).astype(np.int64).tolist() if stream is not None \
        else [0] * k                          # one seed: every draw picks it
    r = len(codes)
    plan = list(zip(problem.flat_to_row[codes @ problem.radix].tolist(), [-1] * r, [[]] * r,
                    draws[:r])) if r else []
    plan += zip((kids[:, s] * max(problem.num_choices) + kids[:, s + 1]).tolist(),
                kids[:, 0].tolist(), kids[:, 1:s].tolist(), draws[r:])
    plan.reverse()
    return plan


def _run_evolution(run: int, algorithm: Any, problem: TabularProblem,
                   stream: RandomStream | None, budget: float, max_evals: int, workers: int,
                   seed_values: tuple[int, ...], by_fidelity: bool) -> RunTrace:
    """Regularized evolution under :func:`_run_async`'s event queue, fused: the same rows, bit
    for bit (with one worker also the synchronous loop's rows).

    Regularized evolution always answers an ask, so every finished evaluation's worker at
    once takes the next ask: ask ``j`` (0-based) comes at time 0 for ``j < workers``, else
    right after the ``(j - workers + 1)``-th result is told, and its population is the last
    ``min(j - workers + 1, population_size)`` finished rows, a window of the rows written so
    far that is known ahead. So the algorithm's draws of a block of asks come as arrays
    (:meth:`RegularizedEvolution.draws_ahead`: random architectures first, then the
    tournament positions as indices of the finished rows and the mutation as one index into
    :meth:`TabularProblem.mutation_rows`), the runner's seed draws of the block at once, and
    per evaluation only the tournament (it reads results finished just before the ask), two
    list reads for the child's row and its seed column, accuracy and cost
    (:meth:`TabularProblem.full_fidelity_by_draw`) and one heap replace remain. Trials are
    never built, and the algorithm object neither asks nor learns (only its random stream
    moves on). See docs/ALGORITHMS.md for why the tournaments themselves stay one by one."""
    children = problem.mutation_rows(algorithm.force_change)
    c, valid, cost, slots = problem.full_fidelity_by_draw()   # type: ignore[misc]
    stride = len(problem.num_choices) * max(problem.num_choices)
    epochs = problem.epochs
    push, pop, replace = heapq.heappush, heapq.heappop, heapq.heapreplace
    # heap entries and rows as _run_async's (_ROW_FIELDS), trial None
    heap: list[tuple[float, int, int, float, None, int, int, int, float, int]] = []
    out: list[tuple] = []
    record = out.append
    block = max(128, workers)                  # (the asks at time 0 come from the first block)
    seq = 0
    now = 0.0
    plan = _evolution_plan(algorithm, problem, stream, workers, 0,
                           block if max_evals < 0 else min(block, max_evals))
    planned = len(plan)
    plan_pop = plan.pop
    for worker in range(workers if max_evals < 0 else min(workers, max_evals)):
        child, _, _, draw = plan_pop()       # at time 0: random architectures
        at = child * c + draw
        push(heap, (now + cost[at], seq, worker, now, None, child, epochs, slots[at],
                    valid[at], 0))
        seq += 1
    while True:                               # (every worker stays busy: the heap is full)
        entry = heap[0]
        now = entry[0]
        if now > budget:
            break
        record(entry)
        try:                                  # the ask of this worker
            child, first, rest, draw = plan_pop()
        except IndexError:                    # the plan is used up
            if seq == max_evals:              # no more asks: the evaluations in flight finish
                pop(heap)
                while heap:
                    entry = pop(heap)
                    if entry[0] > budget:
                        break
                    record(entry)
                break
            block = min(2 * block, 4096)      # the next block of asks
            plan = _evolution_plan(algorithm, problem, stream, workers, planned,
                                   block if max_evals < 0 else min(block, max_evals - planned))
            planned += len(plan)
            plan_pop = plan.pop
            child, first, rest, draw = plan_pop()
        if first >= 0:                        # a child: tournament, then mutation
            parent = out[first]
            best = parent[8]
            for i in rest:
                candidate = out[i]
                if candidate[8] > best:       # the earliest drawn wins ties
                    parent, best = candidate, candidate[8]
            child = children[parent[5] * stride + child]
        at = child * c + draw
        replace(heap, (now + cost[at], seq, entry[2], now, None, child, epochs, slots[at],
                       valid[at], 0))
        seq += 1
    return _trace(run, out, seed_values, by_fidelity)


def _answer_ahead(trials: list[Trial], problem: TabularProblem, stream: RandomStream,
                  algorithm_name: str) -> tuple[np.ndarray, ...]:
    """(rows, epochs, seed columns, feedback, cost) of ``trials`` on a problem that answers
    every encoding from its table (:meth:`TabularProblem.answers_every_encoding`), trained from
    scratch: the evaluator's table path for each trial in order, vectorized (one uniform of
    ``stream`` per trial picks its seed; the same arithmetic, so the same bits)."""
    epochs, n_seeds = problem.epochs, problem.num_seeds
    lookup = problem.codes_to_row
    rows = np.fromiter((lookup.get(t.arch, -1) for t in trials), dtype=np.int64,
                       count=len(trials))
    if rows.size and rows.min() < 0:          # not an encoding of the space
        problem.row_of(trials[int(np.argmin(rows))].arch)
    asked = [t.fidelity_epochs for t in trials]
    if asked.count(None) == len(asked):      # full fidelity: the cached last-epoch columns
        counts, slots_flat, last_valid, last_cost = problem.full_fidelity_arrays()
        draws = (stream.uniforms(len(trials)) * counts[rows]).astype(np.int64)
        at = rows * n_seeds
        slots = slots_flat[at + draws]
        at += slots
        return rows, np.full(len(trials), epochs, dtype=np.int64), slots, last_valid[at], \
            last_cost[at]
    else:
        fids = np.array([epochs if f is None else int(f) for f in asked], dtype=np.int64)
        bad = (fids < 1) | (fids > epochs)
        if bad.any():
            fid = int(fids[np.argmax(bad)])
            raise QueryError(f"{algorithm_name} asked for {fid} epochs; valid: 1..{epochs}")
    draws = (stream.uniforms(len(trials)) * problem.seed_count[rows]).astype(np.int64)
    slots = problem.seed_slots.reshape(-1)[rows * n_seeds + draws]
    at = (rows * n_seeds + slots) * epochs + fids - 1
    cost = problem.cum_train.reshape(-1)[at] + problem.valid_per_time.reshape(-1)[at]
    return rows, fids, slots, problem.valid_acc.reshape(-1)[at], cost


def _run_async_ahead(run: int, algorithm: Algorithm, problem: TabularProblem,
                     stream: RandomStream, budget: float, max_evals: int, workers: int,
                     seed_values: tuple[int, ...], algorithm_name: str) -> RunTrace:
    """:func:`_run_async` for an algorithm that ignores feedback (``ignores_feedback``) on a
    problem that answers every encoding from its table, trained from scratch, incumbent
    ``"any"``: the same rows, computed with trials asked ahead in growing chunks and answered
    vectorized; only the event queue of finish times stays a loop. Trials asked ahead beyond
    the end of the run are never told (the algorithm does not learn) nor written."""
    heap: list[tuple[float, int]] = []      # (finish, seq): ties go to the earlier start
    free = deque(range(workers))
    take, release = free.popleft, free.append
    push, pop = heapq.heappush, heapq.heappop
    now = 0.0
    seq = 0
    costs: list[float] = []                  # by seq, as are starts and owners
    starts: list[float] = []
    owners: list[int] = []
    start_at, own = starts.append, owners.append
    chunks: list[tuple[np.ndarray, ...]] = []
    chunk = 128
    asked = 0
    exhausted = False
    order: list[int] = []                    # seq of each written row, in finish order
    record = order.append
    while True:
        while free and seq != max_evals:
            if seq == asked:
                if exhausted:
                    break
                k = chunk if max_evals < 0 else min(chunk, max_evals - seq)
                trials = algorithm.ask_many(k)
                exhausted = len(trials) < k
                if not trials:
                    break
                answers = _answer_ahead(trials, problem, stream, algorithm_name)
                chunks.append(answers)
                costs.extend(answers[4].tolist())
                asked = len(costs)
                chunk = min(2 * chunk, 4096)
            push(heap, (now + costs[seq], seq))
            start_at(now)
            own(take())
            seq += 1
        if not heap:
            break
        finish, index = pop(heap)
        if finish > budget:
            break
        now = finish
        record(index)
        release(owners[index])
    m = len(order)
    if m == 0:
        return _trace(run, [], seed_values, False)
    index = np.asarray(order, dtype=np.intp)
    rows, fids, slots, feedback, cost = (
        (np.concatenate(c) if len(c) > 1 else c[0])[index] for c in zip(*chunks))
    start = np.asarray(starts)[index]
    return RunTrace(run=run, sim_time=start + cost, row=rows.astype(np.int64),
                    fidelity=fids.astype(np.int16), feedback=feedback.astype(np.float64),
                    seed=np.asarray(seed_values, dtype=np.int64)[slots],
                    incumbent=_incumbents(rows, feedback), start_time=start,
                    source=np.zeros(m, dtype=np.int8),
                    worker=np.asarray(owners, dtype=np.int32)[index])


def _incumbents(rows: np.ndarray, feedback: np.ndarray) -> np.ndarray:
    """[n] int64 row of the incumbent after each evaluation under ``incumbent="any"``: the
    earliest evaluation with the highest feedback so far (-1 until one beats -inf; NaN never
    wins), as the loop ``if feedback > best: best = ...`` gives it."""
    m = len(feedback)
    best_before = np.fmax.accumulate(np.concatenate(([-math.inf], feedback[:-1])))
    last_better = np.maximum.accumulate(np.where(feedback > best_before, np.arange(m), -1))
    return np.where(last_better >= 0, rows[np.maximum(last_better, 0)], -1).astype(np.int64)


#: What a row tuple of the run loops holds, in order (an event-queue entry as it is); ``slot``
#: is a seed column (-1: a surrogate draw), turned into the seed value by :func:`_trace`.
_ROW_FIELDS = ("sim_time", "seq", "worker", "start_time", "trial", "row", "fidelity", "slot",
               "feedback", "source")


def _trace(run: int, out: list[tuple], seed_values: tuple[int, ...],
           by_fidelity: bool) -> RunTrace:
    """The :class:`RunTrace` of the row tuples ``out`` (fields :data:`_ROW_FIELDS`), with the
    incumbent after each row (rule ``highest_fidelity`` where ``by_fidelity``, else ``any``)."""
    if not out:
        empty = np.zeros(0)
        return RunTrace(run=run, sim_time=empty, row=np.zeros(0, np.int64),
                        fidelity=np.zeros(0, np.int16), feedback=empty,
                        seed=np.zeros(0, np.int64), incumbent=np.zeros(0, np.int64),
                        start_time=empty, source=np.zeros(0, np.int8),
                        worker=np.zeros(0, np.int32))
    times, _, workers, starts, _, rows, fids, slots, feedbacks, sources = zip(*out)
    m = len(out)
    row = np.fromiter(rows, np.int64, m)
    feedback = np.fromiter(feedbacks, np.float64, m)
    if by_fidelity:
        incumbent = []
        best_row, best_fid, best_fb = -1, 0, -math.inf
        for r, fid, fb in zip(rows, fids, feedbacks):
            if fid > best_fid or (fid == best_fid and fb > best_fb):
                best_row, best_fid, best_fb = r, fid, fb
            incumbent.append(best_row)
        incumbents = np.asarray(incumbent, dtype=np.int64)
    else:
        incumbents = _incumbents(row, feedback)
    return RunTrace(run=run, sim_time=np.fromiter(times, np.float64, m), row=row,
                    fidelity=_int_column(fids, np.int16), feedback=feedback,
                    seed=np.asarray(seed_values, dtype=np.int64)[_int_column(slots, np.intp)],
                    incumbent=incumbents, start_time=np.fromiter(starts, np.float64, m),
                    source=_int_column(sources, np.int8),
                    worker=np.fromiter(workers, np.int32, m))


def _int_column(values: tuple[int, ...], dtype: type) -> np.ndarray:
    """``values`` (Python ints, at least one) as an array of ``dtype``; a column holding one
    value throughout (a full-fidelity run's epochs, table sources, the seed column of a
    one-seed table) is filled rather than converted element by element."""
    first = values[0]
    if values.count(first) == len(values):
        return np.full(len(values), first, dtype=dtype)
    return np.fromiter(values, dtype, len(values))


# ---------------------------------------------------------------------------- many runs
@dataclass(frozen=True)
class Job:
    """A set of runs of one spec on one problem (``problem`` is a key of the problem dict)."""

    problem: Hashable
    spec: RunSpec
    runs: tuple[int, ...]


#: Problems of a pool worker process, set once by the pool initializer (fork shares them
#: without copying; spawn pickles them once per worker instead of once per task).
_WORKER_PROBLEMS: dict[Hashable, TabularProblem] = {}


def _init_worker(problems: dict[Hashable, TabularProblem]) -> None:
    _WORKER_PROBLEMS.clear()
    _WORKER_PROBLEMS.update(problems)


def _run_chunk(job: Job) -> tuple[Job, list[RunTrace]]:
    problem = _WORKER_PROBLEMS[job.problem]
    return job, [run_one(problem, job.spec, run) for run in job.runs]


def _chunks(job: Job, size: int) -> list[Job]:
    return [Job(job.problem, job.spec, job.runs[i:i + size])
            for i in range(0, len(job.runs), size)]


def execute(jobs: Sequence[Job], problems: Mapping[Hashable, TabularProblem], *,
            workers: int | None = 1, progress: bool = False,
            chunk_size: int | None = None) -> "pd.DataFrame":
    """Run every job and return one tidy DataFrame (columns :data:`COLUMNS`).

    Args:
        jobs: what to run; results come back in job order, runs in ascending order.
        problems: the problems the jobs name.
        workers: processes; 1 runs in this process, ``None`` uses every CPU.
        progress: show a tqdm bar counting runs.
        chunk_size: runs per task sent to a worker (default: about 8 tasks per worker).
    """
    for job in jobs:
        if job.problem not in problems:
            raise QueryError(f"job names problem {job.problem!r}; known: {list(problems)}")
    workers = (os.cpu_count() or 1) if workers is None else max(1, int(workers))
    if workers > 1 and any(problems[job.problem].open and problems[job.problem].on_missing
                           != "error" for job in jobs):
        logger.info("a problem of an open space grows rows as it is searched: one process")
        workers = 1
    started = time.perf_counter()
    total = sum(len(job.runs) for job in jobs)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, unit="run", desc="search")
    results: dict[int, list[RunTrace]] = {i: [] for i in range(len(jobs))}
    try:
        if workers == 1 or total <= 1:
            for i, job in enumerate(jobs):
                problem = problems[job.problem]
                for run in job.runs:
                    results[i].append(run_one(problem, job.spec, run))
                    if bar is not None:
                        bar.update(1)
        else:
            size = chunk_size or max(1, min(50, math.ceil(total / (8 * workers))))
            tasks = [(i, chunk) for i, job in enumerate(jobs) for chunk in _chunks(job, size)]
            with ProcessPoolExecutor(max_workers=workers, initializer=_init_worker,
                                     initargs=(dict(problems),)) as pool:
                pending = {pool.submit(_run_chunk, chunk): i for i, chunk in tasks}
                try:
                    while pending:
                        done, _ = wait(pending, return_when=FIRST_COMPLETED)
                        for future in done:
                            i = pending.pop(future)
                            _, traces = future.result()
                            results[i].extend(traces)
                            if bar is not None:
                                bar.update(len(traces))
                except BaseException:          # interrupted or failed: drop queued chunks
                    for future in pending:
                        future.cancel()
                    raise
    finally:
        if bar is not None:
            bar.close()
    frames = []
    for i, job in enumerate(jobs):
        traces = sorted(results[i], key=lambda t: t.run)
        frames.append(traces_to_frame(traces, problems[job.problem], job.spec))
    import pandas as pd

    if not frames:
        return empty_frame()
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    logger.info("%d runs of %d jobs: %d evaluations in %.1f s with %d worker(s)", total,
                len(jobs), len(frame), time.perf_counter() - started, workers)
    frame.attrs["natsbench.search"] = [
        {"problem": str(job.problem), "algorithm": job.spec.algorithm_name,
         "hyperparameters": {k: repr(v) for k, v in job.spec.hyperparameters.items()},
         "budget": job.spec.resolved_budget(problems[job.problem]),
         "max_evals": job.spec.max_evals, "base_seed": job.spec.base_seed,
         "fidelity_cost": job.spec.fidelity_cost, "incumbent": job.spec.incumbent,
         "sim_workers": job.spec.sim_workers, "on_missing": problems[job.problem].on_missing,
         "sources": {k: list(v) if isinstance(v, tuple) else v
                     for k, v in problems[job.problem].sources.items()},
         "runs": len(job.runs)} for job in jobs]
    return frame


def empty_frame() -> "pd.DataFrame":
    """A DataFrame with the output columns and no rows."""
    import pandas as pd

    return pd.DataFrame({name: [] for name in COLUMNS})


def traces_to_frame(traces: Iterable[RunTrace], problem: TabularProblem,
                    spec: RunSpec) -> "pd.DataFrame":
    """Turn run traces into the tidy output rows (one per evaluation)."""
    import pandas as pd

    traces = list(traces)
    lengths = np.array([len(t) for t in traces], dtype=np.int64)
    n = int(lengths.sum())
    cat = lambda value: pd.Categorical.from_codes(np.zeros(n, dtype=np.int8), [value])  # noqa: E731
    rows = np.concatenate([t.row for t in traces]) if traces else np.zeros(0, np.int64)
    incumbent = np.concatenate([t.incumbent for t in traces]) if traces else rows
    steps = np.concatenate([np.arange(1, k + 1, dtype=np.int32) for k in lengths]) \
        if traces else np.zeros(0, np.int32)
    arch_cats = pd.Index(problem.arch_strs)
    return pd.DataFrame({
        "algorithm": cat(spec.algorithm_name),
        "space": cat(problem.space.name),
        "dataset": cat(problem.dataset),
        "run": np.repeat(np.array([t.run for t in traces], dtype=np.int32), lengths),
        "step": steps,
        "sim_time": np.concatenate([t.sim_time for t in traces]) if traces else np.zeros(0),
        "arch": pd.Categorical.from_codes(rows, categories=arch_cats),
        "fidelity": np.concatenate([t.fidelity for t in traces]) if traces
        else np.zeros(0, np.int16),
        "feedback": np.concatenate([t.feedback for t in traces]) if traces else np.zeros(0),
        "reported": problem.reported[incumbent],
        "seed": np.concatenate([t.seed for t in traces]) if traces else np.zeros(0, np.int64),
        "incumbent": pd.Categorical.from_codes(incumbent, categories=arch_cats),
        "source": pd.Categorical.from_codes(
            np.concatenate([t.source for t in traces]) if traces else np.zeros(0, np.int8),
            categories=list(SOURCES)),
        "start_time": np.concatenate([t.start_time for t in traces]) if traces
        else np.zeros(0),
        "worker": np.concatenate([t.worker for t in traces]) if traces
        else np.zeros(0, np.int32),
        "reported_source": pd.Categorical.from_codes(
            problem.reported_predicted[incumbent].astype(np.int8), categories=list(SOURCES[:2])),
    })


class Runner:
    """Runs one algorithm on one problem, any number of times.

    Args:
        problem: what to search.
        algorithm: a registered name (``search_algorithms.base.available_algorithms()``) or a
            picklable factory ``(space, rng, max_fidelity=..., **hyperparameters)``.
        budget: simulated seconds per run; default :func:`default_budget` of the problem's
            space and dataset (unlimited if only ``max_evals`` is given).
        max_evals: optional cap on evaluations per run.
        hyperparameters: keyword arguments for the algorithm (defaults: the algorithm's).
        base_seed: base of every run's seed sequence (:func:`run_generators`).
        fidelity_cost: ``"scratch"`` (NATS-Bench) or ``"continue"``.
        incumbent: ``"any"`` (NATS-Bench) or ``"highest_fidelity"``.
        sim_workers: ``None`` (synchronous, default) or the number of simulated workers.
    """

    def __init__(self, problem: TabularProblem, algorithm: str | Callable[..., Algorithm], *,
                 budget: float | None = None, max_evals: int | None = None,
                 hyperparameters: Mapping[str, Any] | None = None, base_seed: int = 0,
                 fidelity_cost: str = "scratch", incumbent: str = "any",
                 sim_workers: int | None = None,
                 registry: Registry = ALGORITHMS) -> None:
        if isinstance(algorithm, str):
            cls = registry.get(algorithm)    # fail early on unknown names
            if registry is not ALGORITHMS:   # worker processes only know the default registry
                algorithm = cls
        if isinstance(algorithm, type) and issubclass(algorithm, Algorithm) or \
                isinstance(algorithm, str):
            check_hyperparameters(registry.get(algorithm) if isinstance(algorithm, str)
                                  else algorithm, dict(hyperparameters or {}))
        self.problem = problem
        self.registry = registry
        self.spec = RunSpec(algorithm=algorithm, hyperparameters=dict(hyperparameters or {}),
                            budget=budget, max_evals=max_evals, base_seed=base_seed,
                            fidelity_cost=fidelity_cost, incumbent=incumbent,
                            sim_workers=sim_workers)
        self.budget = self.spec.resolved_budget(problem)

    def run(self, run: int = 0) -> RunTrace:
        """Execute run number ``run`` in this process."""
        return run_one(self.problem, self.spec, run, self.registry)

    def run_many(self, runs: int | Sequence[int], *, workers: int | None = 1,
                 progress: bool = False) -> "pd.DataFrame":
        """Execute runs ``range(runs)`` (or the given run indices) and return the tidy rows."""
        indices = tuple(range(runs)) if isinstance(runs, int) else tuple(int(r) for r in runs)
        return execute([Job("problem", self.spec, indices)], {"problem": self.problem},
                       workers=workers, progress=progress)


def write_parquet(frame: "pd.DataFrame", path: str | os.PathLike) -> None:
    """Write the output rows atomically (temporary file, fsync, rename) to ``path``."""
    import io
    from pathlib import Path

    from natsbench.store.records import atomic_write_bytes

    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    atomic_write_bytes(Path(path), buffer.getvalue())

"""Regularized evolution (REA), a.k.a. aging evolution.

Real, Aggarwal, Huang & Le, "Regularized evolution for image classifier architecture
search", AAAI 2019 (Algorithm 1), with the settings NATS-Bench used (Dong et al., TPAMI 2021;
thesis section 5.4; the official ``run-all.sh``: ``--ea_population 10 --ea_sample_size 3``):

1. The first ``population_size`` trials are uniform random architectures.
2. Afterwards each trial is a child: draw ``sample_size`` members of the population uniformly
   *with replacement*, take the one with the highest validation accuracy (the earliest drawn
   on ties) as parent, and mutate one uniformly chosen dimension (edge op / layer width).
3. A told child joins the population and the oldest member leaves (aging).

Defaults (source):
    population_size = 10     NATS-Bench (Real et al. used 100 on their much larger space)
    sample_size = 3          NATS-Bench (Real et al.: 25 with population 100)
    force_change = None      NATS-Bench's mutation: tss always picks a *different* op for the
                             chosen edge; sss redraws the chosen layer's width uniformly from
                             all 8 values (it may stay the same). ``None`` applies that rule by
                             space name (a different value for every space but ``sss``);
                             ``True``/``False`` force one behaviour.
Every trial uses the full search protocol (12 epochs).
"""
from __future__ import annotations

from collections import deque

import numpy as np

from search_algorithms.base import Algorithm, SpaceLike, Trial, register_algorithm
from natsbench.errors import ConfigError


#: (population_size, sample_size, num_choices, force_change) -> the multipliers of a plan's
#: uniforms (:meth:`RegularizedEvolution._next_plan`), made once per setting
_PLAN_SCALES: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}


@register_algorithm("rea")
class RegularizedEvolution(Algorithm):
    """Aging evolution with tournament selection and single-dimension mutation."""

    def __init__(self, space: SpaceLike, rng: np.random.Generator, *, population_size: int = 10,
                 sample_size: int = 3, force_change: bool | None = None, **kwargs: int) -> None:
        super().__init__(space, rng, **kwargs)
        if population_size < 1 or sample_size < 1:
            raise ConfigError(f"population_size and sample_size must be >= 1, got "
                              f"{population_size} and {sample_size}")
        self.population_size = int(population_size)
        self.sample_size = int(sample_size)
        self.force_change = (getattr(space, "name", "") != "sss") if force_change is None \
            else bool(force_change)
        self.population: deque[tuple[tuple[int, ...], float]] = deque(
            maxlen=self.population_size)
        self._asked = 0
        self._take, self._draws = self.stream.take, self.sample_size + 2
        # steady state on a grid (population full): the draws of the next children, turned
        # into integers in blocks (:meth:`_next_plan`), next child last
        self._plan: list[tuple[int, int, int, list[int]]] = []
        #: population size of the steady state (-1: none, the space is searched through
        #: its own sampler and neighbours)
        self._full = -1 if self.through_space else self.population_size
        self._plan_block = 128
        self._adjust = [self.force_change and n > 1 for n in self.num_choices]

    def ask(self) -> Trial:
        self._asked = asked = self._asked + 1
        population = self.population
        if len(population) == self._full and asked > self._full:
            # the steady state on a grid (the population stays full): the child's draws come
            # from the plan, already integers; the same tournament and mutation as below
            dim, value, first, rest = (self._plan or self._next_plan()).pop()
            parent = population[first]
            for i in rest:
                candidate = population[i]
                if candidate[1] > parent[1]:
                    parent = candidate
            codes = parent[0]
            if value >= codes[dim] and self._adjust[dim]:
                value += 1
            return Trial(codes[:dim] + (value,) + codes[dim + 1:], None, asked)
        if asked <= self.population_size or not population:
            return Trial(self.random_codes(), None, asked)
        size = len(population)
        if self.through_space:
            below = self.stream.below
            parent = population[below(size)]
            for _ in range(self.sample_size - 1):
                candidate = population[below(size)]
                if candidate[1] > parent[1]:
                    parent = candidate
            return Trial(self.mutate(parent[0], self.force_change), None, asked)
        # on a grid a child takes exactly sample_size + 2 draws (the tournament, then the
        # mutation's dimension and value): take them at once, in the same order
        draws = self._take(self._draws)
        parent = population[int(draws[0] * size)]
        for u in draws[1:-2]:
            candidate = population[int(u * size)]
            if candidate[1] > parent[1]:
                parent = candidate
        return Trial(self.mutate_with(parent[0], self.force_change, draws[-2], draws[-1]),
                     None, asked)

    def _next_plan(self) -> list[tuple[int, int, int, list[int]]]:
        """The draws of the next children of a full population, in blocks (128 children,
        doubling up to 1024): per child ``(dimension, value before skipping the parent's,
        first tournament position, the other positions)``, next child last (the columns of
        :meth:`_draw_children`)."""
        k = self._plan_block
        self._plan_block = min(2 * k, 1024)
        s = self.sample_size
        ints = self._draw_children(k)
        plan = list(zip(ints[:, s].tolist(), ints[:, s + 1].tolist(), ints[:, 0].tolist(),
                        ints[:, 1:s].tolist()))
        plan.reverse()
        self._plan = plan
        return plan

    def _draw_children(self, k: int, sizes: np.ndarray | None = None) -> np.ndarray:
        """[k, sample_size + 2] int64: the draws of the next ``k`` children on a grid, turned
        into integers: the tournament positions (0: the oldest member) in a population of
        ``sizes[i]`` members (default: a full population), the mutated dimension and its value
        before skipping the parent's value. The same uniforms of the stream, in the same order
        and with the same arithmetic, as the tournament of :meth:`ask` and
        :meth:`Algorithm.mutate_with` make one by one (a child takes ``sample_size + 2`` of
        them); draws the run does not use are never looked at (nothing else draws from this
        stream once the children begin)."""
        s = self.sample_size
        key = (self.population_size, s, self.num_choices, self.force_change)
        scales = _PLAN_SCALES.get(key)
        if scales is None:
            # positions: u * population_size; dimension: u * D; value: u * (n - 1) where
            # the parent's value is skipped, else u * n (n: choices of the dimension)
            scales = _PLAN_SCALES[key] = (
                np.array([self.population_size] * s + [len(self.num_choices), 0], np.float64),
                np.array([n - 1 if a else n for n, a in zip(self.num_choices, self._adjust)],
                         np.float64))
        scale, value_scale = scales
        draws = self.stream.uniforms(k * (s + 2)).reshape(k, s + 2)
        ints = (draws * scale).astype(np.int64)
        if sizes is not None:                 # populations not (all) full: u * size
            ints[:, :s] = draws[:, :s] * sizes.astype(np.float64)[:, None]
        ints[:, s + 1] = draws[:, s + 1] * value_scale[ints[:, s]]   # truncates as int()
        return ints

    def draws_ahead(self, workers: int, k: int, first: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """The draws of asks ``first .. first + k - 1`` (0-based) of a run in which the first
        ``workers`` asks come before any result is told and every later ask comes right after
        one more result is told (ask ``j >= workers`` sees ``j - workers + 1`` results: the
        event queue of the asynchronous runner, every worker busy; one worker: the synchronous
        loop). Asks must be taken in order, all of them, without :meth:`ask` in between (this
        object's own ``ask`` and ``tell`` no longer hold afterwards).

        Returns ``(codes, children)``: ``codes`` [r, D] the random architectures of the first
        ``r`` of these asks (those with ``asked <= population_size`` or an empty population,
        see the module docstring), ``children`` [k - r, sample_size + 2] the draws of the
        rest, as :meth:`_draw_children`, with the tournament positions made indices of the
        told results in told order (the population of ask ``j`` is the last
        ``min(j - workers + 1, population_size)`` of them). The same uniforms of the stream,
        in the same order and with the same arithmetic, as :meth:`ask` takes. Only on a
        grid."""
        if self.through_space:
            raise RuntimeError("draws_ahead() needs a grid encoding")
        s, size = self.sample_size, self.population_size
        r = max(0, min(k, max(size, workers) - first))
        m = k - r
        codes = self.stream.codes_array(self.num_choices, r)
        full = size + workers - 1               # the first ask of a full population
        start = first + r
        if start >= full:                       # every population full
            children = self._draw_children(m)
            children[:, :s] += np.arange(start - full, start - full + m)[:, None]
        else:                                   # populations of the told results so far
            told = np.arange(start - workers + 1, start - workers + 1 + m)
            sizes = np.minimum(told, size)
            children = self._draw_children(m, sizes)
            children[:, :s] += (told - sizes)[:, None]
        return codes, children

    def tell(self, trial: Trial, feedback: float) -> None:
        self.population.append((trial.arch, feedback))   # the oldest leaves (maxlen)

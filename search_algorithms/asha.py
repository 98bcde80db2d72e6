"""Asynchronous successive halving (ASHA) and asynchronous Hyperband / BOHB.

Li, Jamieson, Rostamizadeh, Gonina, Ben-tzur, Hardt, Recht & Talwalkar, "A system for
massively parallel hyperparameter tuning", MLSys 2020 (Algorithm 2), promotion-based as in
syne-tune's ``hyperband_promotion``:

* Rungs: the budget levels of :mod:`search_algorithms.hyperband` (``eta=3, min_budget=1,
  max_budget=12`` -> 1, 4 and 12 epochs). A bracket ``s`` uses the top ``s + 1`` rungs; ASHA
  runs bracket ``s_max`` only (every new configuration starts at the lowest rung).
* ``ask`` (ASHA's ``get_job``): from the highest rung below the top down to the lowest, the
  first configuration that is among the best ``floor(n_k / eta)`` of the ``n_k`` results told
  at rung ``k`` (higher feedback first, earlier result on ties) and was not promoted yet is
  promoted: it is asked at the next rung's epochs. If none can be promoted, a new
  configuration is asked at the bracket's lowest rung. Results still in flight do not count,
  so ``ask`` never waits: with n simulated workers all of them are busy all the time.
* Asynchronous Hyperband (``async_hyperband``): each new configuration picks a bracket at
  random with probability proportional to its number of first-rung configurations in
  synchronous Hyperband (:func:`~search_algorithms.hyperband.bracket_plan`); promotions are
  looked for in every bracket, the most aggressive bracket first.
* Asynchronous BOHB (``async_bohb``): asynchronous Hyperband whose new configurations come from
  BOHB's density-ratio model (:class:`~search_algorithms.bohb.BOHB`, same settings), fitted on
  every result told so far.

Trials ask for a number of epochs; the runner's ``fidelity_cost`` decides whether a promoted
configuration trains from scratch (default, as NATS-Bench) or continues.

Defaults (source):
    eta = 3, min_budget = 1, max_budget = None (the protocol's epochs)   as Hyperband / BOHB
"""
from __future__ import annotations

import bisect
import itertools
import math
from typing import Any

import numpy as np

from search_algorithms.base import SpaceLike, Trial, register_algorithm
from search_algorithms.bohb import BOHB
from search_algorithms.hyperband import _BracketSearch, bracket_plan


class _Rungs:
    """Results told at each rung of one bracket, and the configurations promoted from it."""

    def __init__(self, epochs: list[int], eta: float) -> None:
        self.epochs = epochs
        self.eta = eta
        #: per rung, best first: (-feedback, order told, configuration index)
        self.results: list[list[tuple[float, int, int]]] = [[] for _ in epochs]
        self.promoted: list[set[int]] = [set() for _ in epochs]

    def add(self, rung: int, feedback: float, order: int, config: int) -> None:
        bisect.insort(self.results[rung], (-feedback, order, config))

    def promotable(self) -> tuple[int, int] | None:
        """(rung, configuration index) of the next promotion, or None."""
        for k in range(len(self.epochs) - 2, -1, -1):
            told = self.results[k]
            top = int(math.floor(len(told) / self.eta))
            promoted = self.promoted[k]
            if top == 0 or len(promoted) >= len(told):
                continue
            for _, _, config in itertools.islice(told, top):
                if config not in promoted:
                    return k, config
        return None


class _AsyncBrackets(_BracketSearch):
    """Promotion-based asynchronous successive halving over the brackets of Hyperband."""

    #: brackets new configurations may start in (None: every bracket, sampled)
    fixed_bracket: bool = False

    def __init__(self, space: SpaceLike, rng: np.random.Generator, **kwargs: Any) -> None:
        super().__init__(space, rng, **kwargs)
        brackets = [self.s_max] if self.fixed_bracket else list(range(self.s_max, -1, -1))
        self._rungs = {s: _Rungs(self.budget_epochs[self.s_max - s:], self.eta) for s in brackets}
        weights = np.array([bracket_plan(s, self.s_max, self.eta)[0] for s in brackets], float)
        self._bracket_ids = brackets
        self._bracket_cdf = np.cumsum(weights / weights.sum()).tolist()
        self._configs: list[tuple[int, ...]] = []
        self._pending: dict[int, tuple[int, int, int]] = {}   # trial id -> (s, rung, config)
        self._told = 0
        self._asked_total = 0

    def _new_bracket(self) -> int:
        if len(self._bracket_ids) == 1:
            return self._bracket_ids[0]
        u = self.stream.uniform()
        for s, edge in zip(self._bracket_ids, self._bracket_cdf):
            if u < edge:
                return s
        return self._bracket_ids[-1]

    def ask(self) -> Trial:
        self._asked_total += 1
        for s in self._bracket_ids:               # most aggressive bracket first
            rungs = self._rungs[s]
            found = rungs.promotable()
            if found is not None:
                k, config = found
                rungs.promoted[k].add(config)
                self._pending[self._asked_total] = (s, k + 1, config)
                return Trial(self._configs[config], rungs.epochs[k + 1], self._asked_total)
        s = self._new_bracket()
        epochs = self._rungs[s].epochs[0]
        self._configs.append(self.new_config(epochs))
        config = len(self._configs) - 1
        self._pending[self._asked_total] = (s, 0, config)
        return Trial(self._configs[config], epochs, self._asked_total)

    def tell(self, trial: Trial, feedback: float) -> None:
        s, k, config = self._pending.pop(trial.trial_id)
        self.observe(trial.arch, int(trial.fidelity_epochs or self.max_fidelity), feedback)
        self._told += 1
        self._rungs[s].add(k, feedback, self._told, config)


@register_algorithm("asha")
class ASHA(_AsyncBrackets):
    """Asynchronous successive halving: one bracket, new configurations at the lowest rung."""

    fixed_bracket = True


@register_algorithm("async_hyperband")
class AsyncHyperband(_AsyncBrackets):
    """Asynchronous Hyperband: ASHA brackets, each new configuration in a random bracket."""


@register_algorithm("async_bohb")
class AsyncBOHB(_AsyncBrackets, BOHB):
    """Asynchronous Hyperband with BOHB's model-based sampling of new configurations."""

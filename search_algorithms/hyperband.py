"""Hyperband and successive halving over the epochs of the search protocol.

Li, Jamieson, DeSalvo, Rostamizadeh & Talwalkar, "Hyperband: a novel bandit-based approach to
hyperparameter optimization", JMLR 2018 (successive halving: Jamieson & Talwalkar, AISTATS
2016), with the bracket arithmetic of BOHB's reference implementation (Falkner, Klein &
Hutter, ICML 2018) that NATS-Bench ran (official ``bohb.py``: ``eta=3, min_budget=1,
max_budget=12``):

* ``s_max = floor(log(max_budget / min_budget) / log(eta))``; the budgets are
  ``max_budget * eta**-k`` for k = s_max..0 (1.33, 4 and 12 epochs for the defaults).
* A trial at budget b asks for ``int(b)`` epochs (NATS-Bench queries ``iepoch=int(b) - 1``),
  at least 1; so the defaults evaluate at 1, 4 and 12 epochs.
* Iteration i runs the bracket ``s = s_max - (i mod (s_max + 1))``: ``n_0 = floor((s_max + 1)
  / (s + 1)) * eta**s`` new configurations at the bracket's smallest budget, then the best
  ``floor(n_0 * eta**-j)`` (at least 1) advance to stage j. With the defaults the brackets are
  9 @ 1 -> 3 @ 4 -> 1 @ 12, then 3 @ 4 -> 1 @ 12, then 3 @ 12, repeated.
* A stage is complete when all its trials were told; the best (highest feedback; earlier
  configuration on ties) advance. New configurations are drawn lazily, when first asked for,
  so model-based samplers (BOHB) use every result told so far. When every active bracket waits
  for results, ``ask`` opens the next bracket (like the reference implementation with several
  workers); with the sequential runner the brackets run one after another.

Hyperband draws new configurations uniformly at random. Successive halving
(``successive_halving``) runs only the most aggressive bracket, over and over.

Defaults (source):
    eta = 3                  BOHB paper / NATS-Bench
    min_budget = 1           NATS-Bench (epochs)
    max_budget = None        the search protocol's epochs (12 in NATS-Bench)
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from search_algorithms.base import Algorithm, SpaceLike, Trial, register_algorithm
from natsbench.errors import ConfigError


def bracket_plan(s: int, s_max: int, eta: float) -> list[int]:
    """Number of configurations in each stage of bracket ``s`` (Hyperband / BOHB)."""
    n0 = math.floor((s_max + 1) / (s + 1)) * eta ** s
    return [max(int(math.floor(n0 * eta ** (-j))), 1) for j in range(s + 1)]


@dataclass
class _Bracket:
    """One successive-halving bracket: stage sizes, their epochs, and the results so far."""

    sizes: list[int]
    epochs: list[int]
    stage: int = 0
    configs: list[tuple[int, ...]] = field(default_factory=list)
    asked: int = 0
    results: dict[int, float] = field(default_factory=dict)

    @property
    def finished(self) -> bool:
        return self.stage >= len(self.sizes)

    def report(self, index: int, feedback: float) -> None:
        self.results[index] = feedback
        if len(self.results) == self.sizes[self.stage]:
            self.stage += 1
            if not self.finished:
                order = sorted(range(len(self.configs)),
                               key=lambda i: (-self.results[i], i))
                self.configs = [self.configs[i] for i in order[:self.sizes[self.stage]]]
            self.asked = 0
            self.results = {}


class _BracketSearch(Algorithm):
    """Successive-halving brackets over epochs; subclasses choose brackets and samplers."""

    multi_fidelity = True

    def __init__(self, space: SpaceLike, rng: np.random.Generator, *, eta: float = 3,
                 min_budget: float = 1, max_budget: float | None = None,
                 **kwargs: int) -> None:
        super().__init__(space, rng, **kwargs)
        max_budget = float(self.max_fidelity if max_budget is None else max_budget)
        if not (eta > 1 and 0 < min_budget <= max_budget <= self.max_fidelity):
            raise ConfigError(f"need eta > 1 and 0 < min_budget <= max_budget <= "
                              f"{self.max_fidelity} epochs; got eta={eta}, "
                              f"min_budget={min_budget}, max_budget={max_budget}")
        self.eta = float(eta)
        self.s_max = int(math.floor(math.log(max_budget / min_budget) / math.log(self.eta)
                                    + 1e-9))
        budgets = [max_budget * self.eta ** (-k) for k in range(self.s_max, -1, -1)]
        #: epochs of each budget level, smallest first
        self.budget_epochs = [max(self.min_fidelity, int(b)) for b in budgets]
        self.brackets: list[_Bracket] = []
        self.iteration = 0
        self._where: dict[int, tuple[_Bracket, int]] = {}
        self._count = 0

    def bracket_index(self, iteration: int) -> int:
        """Which bracket (``s``) iteration ``iteration`` runs."""
        return self.s_max - iteration % (self.s_max + 1)

    def new_config(self, epochs: int) -> tuple[int, ...]:
        """A new configuration for the first stage of a bracket starting at ``epochs``."""
        return self.random_codes()

    def observe(self, codes: tuple[int, ...], epochs: int, feedback: float) -> None:
        """Hook called for every told result (model-based subclasses learn here)."""

    def _open_bracket(self) -> _Bracket:
        s = self.bracket_index(self.iteration)
        self.iteration += 1
        bracket = _Bracket(sizes=bracket_plan(s, self.s_max, self.eta),
                           epochs=self.budget_epochs[self.s_max - s:])
        self.brackets.append(bracket)
        return bracket

    def ask(self) -> Trial:
        self.brackets = [b for b in self.brackets if not b.finished]
        for bracket in self.brackets:
            if bracket.asked < bracket.sizes[bracket.stage]:
                break
        else:
            bracket = self._open_bracket()
        index = bracket.asked
        epochs = bracket.epochs[bracket.stage]
        if bracket.stage == 0:
            bracket.configs.append(self.new_config(epochs))
        bracket.asked += 1
        self._count += 1
        self._where[self._count] = (bracket, index)
        return Trial(bracket.configs[index], epochs, self._count)

    def tell(self, trial: Trial, feedback: float) -> None:
        bracket, index = self._where.pop(trial.trial_id)
        self.observe(trial.arch, int(trial.fidelity_epochs or self.max_fidelity), feedback)
        bracket.report(index, feedback)


@register_algorithm("hyperband")
class Hyperband(_BracketSearch):
    """Hyperband: all brackets in turn, random configurations."""


@register_algorithm("successive_halving")
class SuccessiveHalving(_BracketSearch):
    """Successive halving: the most aggressive bracket (``s = s_max``) repeated."""

    def bracket_index(self, iteration: int) -> int:
        return self.s_max

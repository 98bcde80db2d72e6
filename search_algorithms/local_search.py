"""Local search (hill climbing with random restarts).

White, Nolen & Savani, "Exploring the loss landscape in neural architecture search", UAI 2021,
and Ottelander, Dushatskiy, Virgolin & Bosman, "Local search is a remarkably strong baseline
for neural architecture search", EMO 2021; NASLib's ``LocalSearch`` uses the same scheme.

1. Evaluate ``num_init`` uniform random architectures; the best becomes the current one.
2. Evaluate the current architecture's neighbours (every encoding that differs in one
   dimension: 24 in tss, 35 in sss) in random order, skipping architectures this run already
   evaluated (their first result is reused). With ``first_improvement`` the search moves as
   soon as a neighbour beats the current architecture; otherwise (default) after the whole
   neighbourhood, to the best neighbour if it beats the current one.
3. At a local optimum, restart from a new uniform random architecture not evaluated before.

Local search is sequential: it has at most one trial outstanding, so ``ask`` must be followed
by ``tell`` before the next ``ask``.

Defaults (source):
    num_init = 10                 NASLib local-search configuration
    first_improvement = False     White et al. (full neighbourhood, move to the best)
Every trial uses the full search protocol (12 epochs).
"""
from __future__ import annotations

import math
from typing import Generator

import numpy as np

from search_algorithms.base import Algorithm, SpaceLike, Trial, register_algorithm
from natsbench.errors import ConfigError

Codes = tuple[int, ...]


@register_algorithm("local_search")
class LocalSearch(Algorithm):
    """Best- (or first-) improvement hill climbing over single-dimension neighbours."""

    def __init__(self, space: SpaceLike, rng: np.random.Generator, *, num_init: int = 10,
                 first_improvement: bool = False, **kwargs: int) -> None:
        super().__init__(space, rng, **kwargs)
        if num_init < 1:
            raise ConfigError(f"num_init must be >= 1, got {num_init}")
        self.num_init = int(num_init)
        self.first_improvement = bool(first_improvement)
        self.evaluated: dict[Codes, float] = {}
        self._size = math.prod(self.num_choices)
        self._steps = self._search()
        self._outstanding: Trial | None = None
        self._feedback: float | None = None
        self._count = 0

    def _evaluate(self, codes: Codes) -> Generator[Codes, None, float]:
        """Yield ``codes`` for evaluation (unless known) and return its feedback."""
        if codes not in self.evaluated:
            yield codes
            self.evaluated[codes] = self._feedback  # type: ignore[assignment]
        return self.evaluated[codes]

    def _fresh_random(self) -> Codes | None:
        if len(self.evaluated) >= self._size:
            return None
        codes = self.random_codes()
        while codes in self.evaluated:
            codes = self.random_codes()
        return codes

    def _search(self) -> Generator[Codes, None, None]:
        best, best_fb = None, -math.inf
        for _ in range(self.num_init):
            codes = self._fresh_random()
            if codes is None:
                return
            feedback = yield from self._evaluate(codes)
            if feedback > best_fb:
                best, best_fb = codes, feedback
        current, current_fb = best, best_fb
        while True:
            neighbours = self.neighbours(current)
            order = self.rng.permutation(len(neighbours))
            move, move_fb = None, current_fb
            for i in order.tolist():
                feedback = yield from self._evaluate(neighbours[i])
                if feedback > move_fb:
                    move, move_fb = neighbours[i], feedback
                    if self.first_improvement:
                        break
            if move is not None:
                current, current_fb = move, move_fb
                continue
            restart = self._fresh_random()
            if restart is None:
                return
            current_fb = yield from self._evaluate(restart)
            current = restart

    def ask(self) -> Trial | None:
        if self._outstanding is not None:
            raise RuntimeError("local search is sequential: tell() the outstanding trial "
                               f"{self._outstanding} before asking again")
        try:
            codes = next(self._steps)
        except StopIteration:
            return None
        self._count += 1
        self._outstanding = Trial(codes, None, self._count)
        return self._outstanding

    def tell(self, trial: Trial, feedback: float) -> None:
        if self._outstanding is None or trial.trial_id != self._outstanding.trial_id:
            raise RuntimeError(f"tell() got {trial}, but the outstanding trial is "
                               f"{self._outstanding}")
        self._outstanding = None
        self._feedback = feedback

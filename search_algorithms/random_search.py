"""Random search (RANDOM in NATS-Bench).

Bergstra & Bengio, "Random search for hyper-parameter optimization", JMLR 2012; as run in
NATS-Bench (Dong et al., TPAMI 2021, section 5.4 of Dong's thesis; ``random_wo_share.py`` of the
official code): every trial is an architecture whose dimensions are drawn independently and
uniformly (so archs are drawn uniformly *with replacement*), trained with the full search
protocol (12 epochs). Random search ignores the feedback.

Defaults:
    replace = True      NATS-Bench samples with replacement. ``False`` never proposes an
                        architecture twice (rejection sampling; ``ask`` returns ``None`` once
                        the whole space was proposed).
"""
from __future__ import annotations

import math

import numpy as np

from search_algorithms.base import Algorithm, SpaceLike, Trial, register_algorithm


@register_algorithm("random")
class RandomSearch(Algorithm):
    """Uniform random architectures at full fidelity."""

    ignores_feedback = True

    def __init__(self, space: SpaceLike, rng: np.random.Generator, *, replace: bool = True,
                 **kwargs: int) -> None:
        super().__init__(space, rng, **kwargs)
        self.replace = bool(replace)
        self._seen: set[tuple[int, ...]] = set()
        self._size = math.prod(self.num_choices)
        self._count = 0
        # On a grid, ask() draws nothing from the stream but encodings, so they are drawn in
        # batches (growing from 16 to 512, or what ask_many needs) and handed out in order:
        # the same trials as one draw per ask, at a fraction of the cost.
        self._pending: list[tuple[int, ...]] = []
        self._batch = 16

    def _refill(self, at_least: int = 0) -> list[tuple[int, ...]]:
        pending = self.stream.codes_batch(self.num_choices, max(self._batch, at_least))
        pending.reverse()                     # next one last: one list.pop per ask
        self._pending = pending
        self._batch = min(2 * self._batch, 512)
        return pending

    def _next_codes(self) -> tuple[int, ...]:
        if self.through_space:
            return self.random_codes()
        return (self._pending or self._refill()).pop()

    def ask(self) -> Trial | None:
        pending = self._pending
        codes = pending.pop() if pending else self._next_codes()
        if not self.replace:
            if len(self._seen) >= self._size:
                return None
            while codes in self._seen:
                codes = self._next_codes()
            self._seen.add(codes)
        self._count += 1
        return Trial(codes, None, self._count)

    def ask_many(self, k: int) -> list[Trial]:
        if not self.replace or self.through_space:
            return super().ask_many(k)
        k = max(int(k), 0)
        codes: list[tuple[int, ...]] = []
        while len(codes) < k:                 # the pending encodings in order, then new ones
            pending = self._pending or self._refill(k - len(codes))
            n = min(k - len(codes), len(pending))
            codes.extend(pending[:-n - 1:-1])
            del pending[-n:]
        first = self._count + 1
        self._count += k
        return [Trial(c, None, i) for i, c in enumerate(codes, first)]

    def tell(self, trial: Trial, feedback: float) -> None:
        """Random search does not learn."""

"""What the size-space (sss) methods share: warm-up paths, the temperature, argmax derivation.

A :class:`SizeAlgorithm` trains the ``[5, K]`` logits of :class:`~natsbench.models.sss_supernet.
SssSupernet` with Adam on x-valid batches (:class:`~.base.DifferentiableAlgorithm`) and
derives the argmax width per position after each epoch.  Subclasses say only how a step
realises widths (:meth:`SizeAlgorithm.search_forward`).

Warm-up (``config.warmup_ratio`` > 0; NATS-Bench Fig. 5.7c, the filter warm-up of TuNAS): while
``epoch < warmup_ratio * epochs`` the engine takes no architecture step, and every weight step
runs a sampled path: each position independently keeps the full width with probability
``1 - epoch / (warmup_ratio * epochs)``, else a uniformly random candidate width (one draw per
position; the official code draws the stem and cell 1 separately).  Temperatures (TAS,
FBNet-V2) fall linearly from ``tau_max`` to ``tau_min`` over all epochs, warm-up included,
as the official runs.
"""
from __future__ import annotations

from typing import Any

import torch

from natsbench.models.sss_supernet import NUM_POSITIONS
from search_algorithms.weight_sharing.base import DifferentiableAlgorithm

__all__ = ["SizeAlgorithm"]


class SizeAlgorithm(DifferentiableAlgorithm):
    """Base of TAS, FBNet-V2 and TuNAS (module docstring)."""

    spaces = ("sss",)
    supports_warmup = True
    tau: float = 10.0
    full_prob: float | None = None

    def begin_epoch(self, engine: Any, epoch: int) -> None:
        self.tau = engine.tau_at(epoch)
        self.full_prob = engine.warmup_full_prob(epoch)

    def warmup_path(self, engine: Any) -> list[int]:
        """Candidate positions ``[5]`` of a warm-up step (module docstring)."""
        k = len(engine.net.candidates)
        keep = torch.rand(NUM_POSITIONS, generator=engine.generator).tolist()
        other = torch.randint(0, k, (NUM_POSITIONS,), generator=engine.generator).tolist()
        return [k - 1 if u < self.full_prob else o for u, o in zip(keep, other)]

    def search_forward(self, engine: Any, x: torch.Tensor) -> torch.Tensor:
        """The forward of a search step (after warm-up), weight and architecture steps."""
        raise NotImplementedError

    def weight_forward(self, engine: Any, x: torch.Tensor) -> torch.Tensor:
        if self.full_prob is not None:
            return engine.net(x, "path", index=self.warmup_path(engine))
        return self.search_forward(engine, x)

    def arch_forward(self, engine: Any, x: torch.Tensor) -> torch.Tensor:
        return self.search_forward(engine, x)

    def derive(self, engine: Any) -> tuple[Any, dict[str, float]]:
        index, summary = super().derive(engine)
        return index, {**summary, "tau": self.tau}

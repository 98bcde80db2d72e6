"""GDAS (Dong & Yang, CVPR 2019; thesis section 3.2): Gumbel hard sampling, straight-through.

Both steps run the ``hard`` forward: one Gumbel sample per edge (shared by every cell of the
pass), only the chosen op computed, every logit of the edge receiving a gradient.  tau falls
linearly from ``tau_max`` to ``tau_min`` over the epochs (set at the start of each epoch).
Derivation: argmax of the logits per edge.
"""
from __future__ import annotations

from typing import Any

import torch

from natsbench.models.tss_supernet import gumbel_hard
from search_algorithms.weight_sharing.base import DifferentiableAlgorithm

__all__ = ["GDAS"]


class GDAS(DifferentiableAlgorithm):
    spaces = ("tss",)

    tau: float = 10.0

    def begin_epoch(self, engine: Any, epoch: int) -> None:
        self.tau = engine.tau_at(epoch)

    def _hard(self, engine: Any, x: torch.Tensor) -> torch.Tensor:
        hardwts, index = gumbel_hard(engine.net.arch_logits, self.tau, engine.generator)
        return engine.net(x, "hard", weights=hardwts, index=index)

    def weight_forward(self, engine: Any, x: torch.Tensor) -> torch.Tensor:
        return self._hard(engine, x)

    def arch_forward(self, engine: Any, x: torch.Tensor) -> torch.Tensor:
        return self._hard(engine, x)

    def derive(self, engine: Any) -> tuple[list[int], dict[str, float]]:
        index, summary = super().derive(engine)
        return index, {**summary, "tau": self.tau}

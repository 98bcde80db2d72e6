"""TAS, Transformable Architecture Search (Dong & Yang, NeurIPS 2019; thesis section 3.3) as
NATS-Bench runs it on sss: "channel-wise interpolation".

Both steps, per position: Gumbel noise on ``log_softmax(a)``, divided by tau (``z``); two
distinct candidate widths are drawn from ``softmax(z)`` without replacement; their weights are
``softmax`` of ``z`` over the two (thesis eq. 3.12, renormalised on the sample).  The layer
output's first ``c1`` and first ``c2`` channels are each resized to ``max(c1, c2)`` channels by
adaptive average pooling over channels, mixed with the two weights and zero-padded (the
supernet's ``interp`` mode).  With a single sampled width its weight is the constant 1 and the
architecture gets no gradient: that is why TAS samples two.

Optional cost target (thesis eq. 3.14-3.15; off unless ``config.flops_target`` is set, as in
NATS-Bench Fig. 5.7b): the architecture loss adds ``flops_weight x L_cost`` with ``L_cost =
log E[FLOPs]`` if the argmax network's FLOPs exceed ``(1 + t) R``, ``-log E[FLOPs]`` if they are
below ``(1 - t) R``, else 0 (``R`` = ``flops_target`` MFLOPs, ``t`` = ``flops_tolerance``);
``E[FLOPs]`` is the expectation under ``softmax(a)`` (:class:`SssFlops`).  tau linear
``tau_max -> tau_min``; Adam with weight decay 1e-3; derive: argmax per position.
"""
from __future__ import annotations

import math
from typing import Any

import torch

from natsbench.ops.gumbel import gumbel_perturb
from search_algorithms.weight_sharing.size import SizeAlgorithm

__all__ = ["TAS", "select_widths", "cost_loss"]


def select_widths(logits: torch.Tensor, tau: float, generator: torch.Generator, num: int = 2
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """``(index [P, num], probs [P, num])``: ``num`` distinct candidates per row of ``logits``
    ``[P, K]`` drawn from the Gumbel-softmax distribution, and their renormalised weights
    (differentiable in ``logits``)."""
    z = gumbel_perturb(logits, tau, generator)
    with torch.no_grad():
        p = torch.softmax(z.detach().float().cpu(), dim=-1)
        index = torch.multinomial(p + 1e-7, num, replacement=False, generator=generator)
    index = index.to(logits.device)
    return index, torch.softmax(z.gather(1, index), dim=-1)


def cost_loss(expected: torch.Tensor, actual: float, target: float, tolerance: float
              ) -> torch.Tensor:
    """TAS's piecewise cost loss (thesis eq. 3.15) of the expected cost ``expected`` (a
    differentiable scalar) given the argmax network's cost ``actual``."""
    if actual > (1 + tolerance) * target:
        return torch.log(expected)
    if actual < (1 - tolerance) * target:
        return -torch.log(expected)
    return expected * 0.0


class TAS(SizeAlgorithm):
    #: candidates drawn per position (2; 1 leaves the architecture without gradient)
    num_samples: int = 2

    def setup(self, engine: Any) -> None:
        super().setup(engine)
        c = engine.config
        self.flops = None
        if c.flops_target is not None:
            from natsbench.models.sss_supernet import SssFlops

            image = tuple(engine.sets["x-valid"].images.shape[1:])   # [C, H, W]
            self.flops = SssFlops(engine.net.candidates, engine.data.num_classes, image)
        self.last_cost = math.nan

    def search_forward(self, engine: Any, x: torch.Tensor) -> torch.Tensor:
        net = engine.net
        index, probs = select_widths(net.arch_logits, self.tau, engine.generator,
                                     self.num_samples)
        return net(x, "interp", index=index, probs=probs)

    def arch_loss(self, engine: Any, xv: torch.Tensor, yv: torch.Tensor) -> torch.Tensor:
        loss = super().arch_loss(engine, xv, yv)
        if self.flops is None:
            return loss
        c = engine.config
        logits = engine.net.arch_logits
        expected = self.flops.expected(torch.softmax(logits, dim=-1))
        actual = self.flops.of_index(logits.detach().argmax(dim=-1).tolist())
        self.last_cost = actual
        return loss + c.flops_weight * cost_loss(expected, actual, c.flops_target,
                                                 c.flops_tolerance)

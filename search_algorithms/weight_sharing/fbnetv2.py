"""FBNet-V2's channel search (Wan et al., CVPR 2020) as NATS-Bench runs it on sss:
"masking + Gumbel-softmax".

Both steps: per position a soft Gumbel-softmax sample ``w = softmax((log_softmax(a) + g) /
tau)`` ``[K]`` over the candidate widths; the layer outputs of that position are multiplied by
the expected mask ``w @ width_masks`` ``[W]`` (channel ``j`` kept with weight ``sum_{c_k > j}
w_k``), so the architecture gradient flows through ``w``.  tau linear ``tau_max -> tau_min``;
Adam with the architecture weight decay (1e-3); derive: argmax per position.
"""
from __future__ import annotations

from typing import Any

import torch

from natsbench.ops.gumbel import gumbel_perturb
from search_algorithms.weight_sharing.size import SizeAlgorithm

__all__ = ["FBNetV2", "expected_masks"]


def expected_masks(logits: torch.Tensor, width_masks: torch.Tensor, tau: float,
                   generator: torch.Generator) -> torch.Tensor:
    """``[P, W]`` expected masks of one soft Gumbel-softmax sample of ``logits`` ``[P, K]``."""
    weights = torch.softmax(gumbel_perturb(logits, tau, generator), dim=-1)
    return weights @ width_masks.to(logits.dtype)


class FBNetV2(SizeAlgorithm):
    def search_forward(self, engine: Any, x: torch.Tensor) -> torch.Tensor:
        net = engine.net
        masks = expected_masks(net.arch_logits, net.width_masks, self.tau, engine.generator)
        return net(x, "mask", masks=masks)

"""TuNAS's channel search (Bender et al., CVPR 2020) as NATS-Bench runs it on sss:
"masking + sampling".

Weight step: one width per position sampled from ``softmax(a)``, realised by hard masks (the
supernet's ``path`` mode; the logits get no gradient).  Architecture step on the x-valid
batch: a new sample ``k`` ``[5]``; reward ``R`` = its top-1 accuracy on the batch in percent
(as the official runs); baseline ``b`` = the bias-corrected exponential moving average of the
rewards (momentum ``tunas_baseline_decay`` = 0.95, ``b_t = n_t / d_t`` with ``n_t = m n_{t-1}
+ (1 - m) R_t``, ``d_t = m d_{t-1} + (1 - m)``, updated with ``R_t`` before use); loss ``-(R -
b) x sum_p log softmax(a_p)[k_p]``; Adam (lr 3e-4, betas (0.5, 0.999)) with weight decay
``tunas_arch_weight_decay`` (0, the official runs' ``--arch_weight_decay 0``).  Derive:
argmax per position.
"""
from __future__ import annotations

from typing import Any

import torch

from search_algorithms.weight_sharing.size import SizeAlgorithm

__all__ = ["TuNAS", "sample_widths"]


def sample_widths(logits: torch.Tensor, generator: torch.Generator) -> list[int]:
    """One candidate position per row of ``logits`` ``[P, K]``, drawn from ``softmax``."""
    p = torch.softmax(logits.detach().float().cpu(), dim=-1)
    return torch.multinomial(p, 1, generator=generator).view(-1).tolist()


class TuNAS(SizeAlgorithm):
    arch_weight_decay_field = "tunas_arch_weight_decay"

    def setup(self, engine: Any) -> None:
        super().setup(engine)
        self.numerator, self.denominator = 0.0, 0.0

    def search_forward(self, engine: Any, x: torch.Tensor) -> torch.Tensor:
        return engine.net(x, "path", index=sample_widths(engine.net.arch_logits, engine.generator))

    def baseline_update(self, reward: float, momentum: float) -> float:
        """Add ``reward`` to the moving average; return the (bias-corrected) baseline."""
        self.numerator = momentum * self.numerator + (1 - momentum) * reward
        self.denominator = momentum * self.denominator + (1 - momentum)
        return self.numerator / self.denominator

    def reinforce_loss(self, logits: torch.Tensor, index: list[int], reward: float,
                       momentum: float) -> torch.Tensor:
        """``-(reward - baseline) x sum log p(index)`` (the baseline updated first)."""
        advantage = reward - self.baseline_update(reward, momentum)
        logp = torch.log_softmax(logits, dim=-1)
        chosen = logp.gather(1, torch.as_tensor(index, device=logits.device).view(-1, 1)).sum()
        return -advantage * chosen

    def arch_step(self, engine: Any, x: torch.Tensor, y: torch.Tensor, xv: torch.Tensor,
                  yv: torch.Tensor) -> None:
        net = engine.net
        index = sample_widths(net.arch_logits, engine.generator)
        with torch.no_grad():
            reward = 100.0 * float((net(xv, "path", index=index).argmax(1) == yv).float().mean())
        self.a_optimizer.zero_grad(set_to_none=True)
        self.reinforce_loss(net.arch_logits, index, reward,
                            engine.config.tunas_baseline_decay).backward()
        self.a_optimizer.step()
        net.zero_grad(set_to_none=True)

    def state(self, engine: Any) -> dict[str, Any]:
        return {**super().state(engine), "baseline": [self.numerator, self.denominator]}

    def load_state(self, engine: Any, state: dict[str, Any]) -> None:
        super().load_state(engine, state)
        self.numerator, self.denominator = (float(v) for v in state["baseline"])

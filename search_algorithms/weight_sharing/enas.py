"""ENAS (Pham et al., ICML 2018) as NATS-Bench runs it on tss.

A 2-layer LSTM controller (hidden ``controller_hidden``) emits the op of each of the 6 edges in
turn (logits ``tanh_constant * tanh(l / temperature)``, the sampled op's embedding feeds the
next step).  Weight steps run the controller's samples (one arch shared by every cell).  After
each epoch the controller takes ``controller_steps`` Adam steps, each over
``controller_aggregate`` samples with REINFORCE: reward ``R`` = top-1 (fraction) of the sample
on an x-valid batch + ``entropy_weight`` x its entropy, baseline ``b`` a moving average
(decay ``baseline_decay``, updated before use), loss ``-log p x (R - b)``, gradient norm clipped.
Derivation: the best of ``num_candidates`` controller samples, each on its own x-valid batch.
The controller lives on the CPU (it is tiny; its draws come from the engine's generator).
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from natsbench.spaces import tss
from search_algorithms.weight_sharing.base import WSAlgorithm

__all__ = ["Controller", "ENAS"]


class Controller(nn.Module):
    """The LSTM controller; :meth:`forward` samples ``(sum log p, sum entropy, ops [6])``."""

    def __init__(self, hidden: int, tanh_constant: float, temperature: float) -> None:
        super().__init__()
        self.num_edges, self.num_ops = len(tss.EDGES), len(tss.OPS)
        self.tanh_constant, self.temperature = tanh_constant, temperature
        self.input_vars = nn.Parameter(torch.zeros(1, 1, hidden))
        self.lstm = nn.LSTM(hidden, hidden, num_layers=2)
        self.w_embd = nn.Embedding(self.num_ops, hidden)
        self.w_pred = nn.Linear(hidden, self.num_ops)
        for p in self.parameters():
            nn.init.uniform_(p, -0.1, 0.1)

    def forward(self, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, list[int]]:
        inputs, state = self.input_vars, None
        log_probs, entropies, ops = [], [], []
        for _ in range(self.num_edges):
            out, state = self.lstm(inputs, state)
            logits = self.tanh_constant * torch.tanh(self.w_pred(out.view(1, -1)) / self.temperature)
            logp = torch.log_softmax(logits.view(-1), dim=-1)
            k = int(torch.multinomial(logp.detach().exp(), 1, generator=generator))
            log_probs.append(logp[k])
            entropies.append(-(logp.exp() * logp).sum())
            ops.append(k)
            inputs = self.w_embd(torch.tensor([k])).view(1, 1, -1)
        return torch.stack(log_probs).sum(), torch.stack(entropies).sum(), ops


class ENAS(WSAlgorithm):
    spaces = ("tss",)

    def setup(self, engine: Any) -> None:
        c = engine.config
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(engine.seed + 1)
            self.controller = Controller(c.controller_hidden, c.controller_tanh,
                                         c.controller_temperature)
        self.c_optimizer = torch.optim.Adam(self.controller.parameters(), lr=c.controller_lr,
                                            eps=c.controller_eps, weight_decay=0.0)
        self.baseline: float | None = None

    def sample(self, engine: Any) -> list[int]:
        with torch.no_grad():
            return self.controller(engine.generator)[2]

    def weight_forward(self, engine: Any, x: torch.Tensor) -> torch.Tensor:
        return engine.net(x, "path", index=self.sample(engine))

    def end_epoch(self, engine: Any, epoch: int) -> None:
        c = engine.config
        engine.net.eval()
        self.controller.train()
        for _ in range(c.controller_steps):
            self.c_optimizer.zero_grad(set_to_none=True)
            for _ in range(c.controller_aggregate):
                log_p, entropy, ops = self.controller(engine.generator)
                with torch.no_grad():
                    xv, yv = engine.valid_batch()
                    acc = float((engine.net(xv, "path", index=ops).argmax(1) == yv).float().mean())
                reward = acc + c.controller_entropy_weight * float(entropy.detach())
                d = c.controller_baseline_decay
                self.baseline = reward if self.baseline is None else d * self.baseline + (1 - d) * reward
                (-log_p * (reward - self.baseline) / c.controller_aggregate).backward()
            nn.utils.clip_grad_norm_(self.controller.parameters(), c.controller_grad_clip)
            self.c_optimizer.step()
        engine.net.train()

    def derive(self, engine: Any) -> tuple[list[int], dict[str, float]]:
        with torch.no_grad():
            samples = [self.controller(engine.generator) for _ in range(engine.config.num_candidates)]
        best, _ = engine.best_of([s[2] for s in samples])
        entropy = sum(float(s[1]) for s in samples) / (len(samples) * len(tss.EDGES))
        return best, {"entropy": entropy}

    def state(self, engine: Any) -> dict[str, Any]:
        return {"controller": self.controller.state_dict(), "c_optimizer": self.c_optimizer.state_dict(),
                "baseline": self.baseline}

    def load_state(self, engine: Any, state: dict[str, Any]) -> None:
        self.controller.load_state_dict(state["controller"])
        self.c_optimizer.load_state_dict(state["c_optimizer"])
        self.baseline = state["baseline"]

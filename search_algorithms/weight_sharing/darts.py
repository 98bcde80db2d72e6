"""DARTS (Liu et al., ICLR 2019): first order (V1) and unrolled second order (V2).

Both steps use the ``soft`` forward (every op mixed by ``softmax(arch_logits)``); derivation is
the argmax per edge, where ``none`` may win.

DARTS-V2's architecture gradient is taken at one virtual SGD step of the weights,
``w' = w - xi (mu * m + dL_train/dw + wd * w)`` (``xi`` the current weight lr, ``m`` the SGD
momentum buffer, ``wd`` the weight decay):
``g = dL_val(w', a)/da - xi * H v``, ``v = dL_val(w', a)/dw'``, where the Hessian-vector product
``H v = d^2 L_train / da dw . v`` is the central finite difference
``(dL_train(w + r v, a)/da - dL_train(w - r v, a)/da) / (2 r)`` with ``r = unroll_eps / ||v||``.
"""
from __future__ import annotations

from typing import Any

import torch
from torch.func import functional_call

from search_algorithms.weight_sharing.base import DifferentiableAlgorithm

__all__ = ["DartsV1", "DartsV2"]


class DartsV1(DifferentiableAlgorithm):
    spaces = ("tss",)

    def weight_forward(self, engine: Any, x: torch.Tensor) -> torch.Tensor:
        return engine.net(x, "soft")


class DartsV2(DartsV1):
    def hypergradient(self, engine: Any, x: torch.Tensor, y: torch.Tensor, xv: torch.Tensor,
                      yv: torch.Tensor) -> torch.Tensor:
        """The unrolled architecture gradients, one per ``net.arch_parameters()`` (tss: one
        ``[6, 5]``; module docstring)."""
        net, cfg = engine.net, engine.config
        alphas = net.arch_parameters()
        arch_ids = {id(a) for a in alphas}
        names = [n for n, p in net.named_parameters() if id(p) not in arch_ids]
        params = [p for p in net.parameters() if id(p) not in arch_ids]
        xi = engine.lr
        grads = torch.autograd.grad(engine.loss(net(x, "soft"), y), params)
        unrolled = []
        for p, g in zip(params, grads):
            buf = engine.w_optimizer.state.get(p, {}).get("momentum_buffer")
            step = g + cfg.weight_decay * p.detach()
            if buf is not None:
                step = step + cfg.momentum * buf
            unrolled.append((p.detach() - xi * step).requires_grad_(True))
        out = functional_call(net, dict(zip(names, unrolled)), (xv,), {"mode": "soft"})
        grads = torch.autograd.grad(engine.loss(out, yv), [*alphas, *unrolled])
        g_alphas, v = grads[:len(alphas)], grads[len(alphas):]
        r = cfg.unroll_eps / torch.cat([t.flatten() for t in v]).norm()
        sides = []
        for sign in (1.0, -2.0):
            with torch.no_grad():
                for p, t in zip(params, v):
                    p.add_(t, alpha=float(sign * r))
            sides.append(torch.autograd.grad(engine.loss(net(x, "soft"), y), alphas))
        with torch.no_grad():
            for p, t in zip(params, v):
                p.add_(t, alpha=float(r))
        return [g - xi * ((hp - hm) / (2 * r)) for g, hp, hm in zip(g_alphas, *sides)]

    def arch_step(self, engine: Any, x: torch.Tensor, y: torch.Tensor, xv: torch.Tensor,
                  yv: torch.Tensor) -> None:
        self.a_optimizer.zero_grad(set_to_none=True)
        for a, g in zip(engine.net.arch_parameters(), self.hypergradient(engine, x, y, xv, yv)):
            a.grad = g.detach()
        self.a_optimizer.step()
        engine.net.zero_grad(set_to_none=True)

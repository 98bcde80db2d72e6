"""The interface an algorithm module implements for the engine (torch).

An algorithm says only what differs from the engine's loop:

* ``weight_forward(engine, x)``: the supernet forward of a weight step (which mode, which
  path/sample); the engine computes the loss, backpropagates and steps SGD;
* ``arch_step(engine, x, y, xv, yv)``: the architecture update after each weight step
  (``has_arch_step``), given the weight batch and the next x-valid batch;
* ``begin_epoch`` / ``end_epoch``: per-epoch work (temperatures, controller training);
* ``derive(engine) -> (derived, summary)``: the architecture of this epoch in the space's
  derived encoding (tss: op positions [6]; the space adapter's ``to_arch`` makes the arch
  string of it) and the state summary (``entropy``, ``tau``, ...) written to the row;
* ``state`` / ``load_state``: what a checkpoint must hold beyond the engine's own state;
* ``spaces``: the names of the search spaces (:mod:`.spaces`) it supports.

Algorithms reach the supernet's parameters only through ``engine.net.weights()`` and
``engine.net.arch_parameters()`` (the supernet interface of :mod:`.spaces`).

:class:`DifferentiableAlgorithm` is the base of methods with architecture logits updated by
Adam on the x-valid loss (DARTS, GDAS, SETN): a subclass names its forward modes.
"""
from __future__ import annotations

import math
from typing import Any

from natsbench._optional import require

require("torch", extra="train")  # before importing it: a missing torch names the extra
import torch  # noqa: E402

__all__ = ["WSAlgorithm", "DifferentiableAlgorithm", "logits_entropy"]


def logits_entropy(logits: torch.Tensor) -> float:
    """Mean over edges of the entropy (nats) of ``softmax(logits)`` ``[E, K]``."""
    logp = torch.log_softmax(logits.detach().float(), dim=-1)
    return float(-(logp.exp() * logp).sum(dim=-1).mean())


class WSAlgorithm:
    """Base of every weight-sharing algorithm (defaults: no architecture step, no state)."""

    has_arch_step: bool = False
    #: the search spaces this algorithm supports (``natsbench search-ws --space``)
    spaces: tuple[str, ...] = ()

    def setup(self, engine: Any) -> None:
        """Called once when the engine is built (create optimisers, controllers)."""

    def begin_epoch(self, engine: Any, epoch: int) -> None:
        """Called before the first step of ``epoch`` (0-based)."""

    def end_epoch(self, engine: Any, epoch: int) -> None:
        """Called after the last step of ``epoch``, before :meth:`derive`."""

    def weight_forward(self, engine: Any, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def arch_step(self, engine: Any, x: torch.Tensor, y: torch.Tensor, xv: torch.Tensor,
                  yv: torch.Tensor) -> None:
        raise NotImplementedError

    def derive(self, engine: Any) -> tuple[list[int], dict[str, float]]:
        raise NotImplementedError

    def state(self, engine: Any) -> dict[str, Any]:
        return {}

    def load_state(self, engine: Any, state: dict[str, Any]) -> None:
        pass


class DifferentiableAlgorithm(WSAlgorithm):
    """Architecture parameters ``engine.net.arch_parameters()`` trained by Adam on x-valid
    batches.

    Subclasses set ``arch_mode`` (forward of the architecture step) and implement
    :meth:`weight_forward`; derivation is the argmax along the last axis (per edge in tss,
    where ``none`` may win) unless overridden: with one architecture tensor its argmax list,
    with several a list of them; the entropy is the mean over the tensors.
    """

    has_arch_step = True
    arch_mode = "soft"
    #: the field of the search config holding the architecture Adam's weight decay
    arch_weight_decay_field = "arch_weight_decay"

    def setup(self, engine: Any) -> None:
        c = engine.config
        self.a_optimizer = torch.optim.Adam(
            engine.net.arch_parameters(), lr=c.arch_lr, betas=c.arch_betas,
            weight_decay=getattr(c, self.arch_weight_decay_field))

    def arch_forward(self, engine: Any, x: torch.Tensor) -> torch.Tensor:
        """The forward of the architecture step (default: soft mixing)."""
        return engine.net(x, "soft")

    def arch_loss(self, engine: Any, xv: torch.Tensor, yv: torch.Tensor) -> torch.Tensor:
        """The loss the architecture step minimises (default: the loss of
        :meth:`arch_forward` on the x-valid batch); subclasses add their regularisers."""
        return engine.loss(self.arch_forward(engine, xv), yv)

    def arch_step(self, engine: Any, x: torch.Tensor, y: torch.Tensor, xv: torch.Tensor,
                  yv: torch.Tensor) -> None:
        self.a_optimizer.zero_grad(set_to_none=True)
        self.arch_loss(engine, xv, yv).backward()
        self.a_optimizer.step()
        engine.net.zero_grad(set_to_none=True)   # the weights' grads of this step are unused

    def derive(self, engine: Any) -> tuple[Any, dict[str, float]]:
        params = [p.detach() for p in engine.net.arch_parameters()]
        derived = [p.argmax(dim=-1).tolist() for p in params]
        entropy = sum(logits_entropy(p) for p in params) / len(params)
        return (derived[0] if len(derived) == 1 else derived), {"entropy": entropy}

    def state(self, engine: Any) -> dict[str, Any]:
        return {"a_optimizer": self.a_optimizer.state_dict()}

    def load_state(self, engine: Any, state: dict[str, Any]) -> None:
        self.a_optimizer.load_state_dict(state["a_optimizer"])


def nan_summary() -> dict[str, float]:
    return {"entropy": math.nan}

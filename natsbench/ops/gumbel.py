"""Gumbel noise and the Gumbel-softmax perturbation: one draw for every search that samples.

Users: GDAS (:func:`natsbench.models.tss_supernet.gumbel_hard`), TAS and FBNet-V2 on the size
space (``search_algorithms.weight_sharing.tas`` / ``fbnetv2``) and DASH's optional
``weight_sampling="gumbel"`` (:func:`natsbench.ops.aggregated_conv.arch_weights`).

The draw is ``g = -log(E)`` with ``E ~ Exp(1)`` from ``Tensor.exponential_`` on the CPU (one
call per draw on ``generator``), float32, redrawn whole until every value is finite (an
``E`` of 0 or inf has probability ~0, but a redraw keeps a run going). Drawing on the CPU
makes a seed give the same noise on every device; the caller moves it to the logits' device.
"""
from __future__ import annotations

from natsbench._optional import require

require("torch", extra="train")  # before importing it: a missing torch names the extra
import torch  # noqa: E402

__all__ = ["gumbel_noise", "gumbel_perturb"]


def gumbel_noise(shape: tuple[int, ...] | torch.Size,
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """Standard Gumbel(0, 1) noise of ``shape``: CPU float32 ``-log(Exp(1))`` drawn from
    ``generator`` (torch's default CPU generator when None), redrawn until finite."""
    while True:
        noise = -torch.empty(shape, dtype=torch.float32).exponential_(generator=generator).log()
        if bool(torch.isfinite(noise).all()):
            return noise


def gumbel_perturb(logits: torch.Tensor, tau: float,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """``(log_softmax(logits) + g) / tau`` over the last dimension, ``g`` = :func:`gumbel_noise`
    of ``logits``' shape moved to its device and dtype: its softmax is a Gumbel-softmax sample
    at temperature ``tau`` (> 0), its argmax a sample of ``softmax(logits)``. Same shape as
    ``logits``; differentiable in ``logits``."""
    noise = gumbel_noise(tuple(logits.shape), generator).to(device=logits.device,
                                                            dtype=logits.dtype)
    return (logits.log_softmax(dim=-1) + noise) / tau

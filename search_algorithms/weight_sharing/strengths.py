"""Parametrisations of the operation strengths of a DARTS-cell supernet (torch).

A parametrisation owns the architecture parameters of both cells, shaped ``[2, 14, K]``
(cell (normal, reduce), edge in :data:`natsbench.spaces.darts.EDGES` order, op in the
supernet's op order), and says

* :meth:`Strength.mixing`: the mixing weights ``[2, 14, K]`` of one forward
  (``sum_k w_k op_k`` per edge); stochastic ones draw a fresh sample per call from the
  caller's ``torch.Generator`` (so seeded searches repeat and resume exactly);
* :meth:`Strength.regularizer`: the term added to the validation loss in the architecture
  step (0 for DARTS / DARTS-ELU);
* :meth:`Strength.strengths`: the deterministic strengths a cell is derived from
  (numpy ``[2, 14, K]``).

The four parametrisations of Na's thesis, Table 4.2 (§4.4.1):

=============  ==========================================================================
``darts``      ``softmax`` of the logits over the K ops of each edge (Liu et al. 2019).
``darts-elu``  ``ELU(a) + 1`` per op (positive, no competition inside an edge; §4.4.1).
``fairdarts``  ``sigmoid(a)`` per op, plus the zero-one loss of FairDARTS (Chu et al., ECCV
               2020): ``w01 * L01``, ``L01 = -mean((sigmoid(a) - 0.5)^2)`` (``w01`` = 10,
               FairDARTS' default), which pushes every strength towards 0 or 1.
``btnas``      every op's strength ``theta ~ Beta(alpha, beta)`` (§4.3) with
               ``alpha = 1 + m + softplus(a)``, ``beta = 1 + m + softplus(b)`` with margin
               ``m = 1e-3`` (so alpha, beta > 1 for every parameter value even in float32,
               where ``1 + softplus(-30)`` rounds to 1; §4.3 requires > 1), sampled at each forward with
               the pathwise (implicit reparameterisation) gradient of
               ``torch.distributions.Beta.rsample`` (Jankowiak & Obermeyer 2018, the
               estimator of Eq. 4.6); regulariser ``lambda * KL(Beta(alpha, beta) ||
               Beta(1, 1))`` summed over all ops (``lambda`` = 0.001, §4.4.2); derivation
               strength ``alpha / (alpha + beta)`` (the Beta mean, §4.3).
=============  ==========================================================================

Initialisation: logits ``1e-3 * N(0, 1)`` (DARTS' convention) drawn with the caller's
generator; BtNAS's ``a``, ``b`` start at 0 plus the same small noise, i.e. alpha = beta ~ 1.69
(Beta mean 0.5: every op equally strong). The thesis does not state its initial alpha and beta;
this is our choice.
"""
from __future__ import annotations

from types import MappingProxyType
from typing import Any

import numpy as np
from natsbench._optional import require

require("torch", extra="train")  # before importing it: a missing torch names the extra
import torch  # noqa: E402
from torch import nn

from natsbench.errors import QueryError

__all__ = ["Strength", "SoftmaxStrength", "EluStrength", "FairDartsStrength", "BetaStrength",
           "STRENGTHS", "make_strength", "beta_kl_uniform", "zero_one_loss"]

INIT_SCALE = 1e-3
#: BtNAS: alpha, beta >= 1 + CONCENTRATION_MARGIN
CONCENTRATION_MARGIN = 1e-3


def _init(shape: tuple[int, ...], generator: torch.Generator | None) -> nn.Parameter:
    return nn.Parameter(INIT_SCALE * torch.randn(shape, generator=generator))


class Strength(nn.Module):
    """Base class (module docstring). ``shape``: ``(2, 14, K)``."""

    name = "base"

    def __init__(self, shape: tuple[int, int, int], generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.shape = tuple(int(s) for s in shape)

    def mixing(self, generator: torch.Generator | None = None) -> torch.Tensor:
        """Mixing weights ``[2, 14, K]`` of one forward (differentiable)."""
        raise NotImplementedError

    def regularizer(self) -> torch.Tensor:
        """The term added to the validation loss of an architecture step (scalar)."""
        return torch.zeros((), device=next(self.parameters()).device)

    def strengths(self) -> np.ndarray:
        """Deterministic derivation strengths, float64 ``[2, 14, K]``."""
        with torch.no_grad():
            return self._strengths().detach().cpu().double().numpy()

    def _strengths(self) -> torch.Tensor:
        return self.mixing()

    def summary(self) -> dict[str, float]:
        """Scalars for the per-epoch row (mean entropy of the per-edge strength distribution)."""
        s = torch.as_tensor(self.strengths()).clamp_min(1e-12)
        p = s / s.sum(dim=-1, keepdim=True)
        return {"entropy": float(-(p * p.log()).sum(dim=-1).mean())}


class SoftmaxStrength(Strength):
    """DARTS: ``softmax`` over the ops of each edge."""

    name = "darts"

    def __init__(self, shape: tuple[int, int, int], generator: torch.Generator | None = None) -> None:
        super().__init__(shape)
        self.logits = _init(self.shape, generator)

    def mixing(self, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.softmax(self.logits, dim=-1)


class EluStrength(SoftmaxStrength):
    """DARTS-ELU: ``ELU(a) + 1`` per op (always > 0)."""

    name = "darts-elu"

    def mixing(self, generator: torch.Generator | None = None) -> torch.Tensor:
        return nn.functional.elu(self.logits) + 1.0


def zero_one_loss(strengths: torch.Tensor) -> torch.Tensor:
    """FairDARTS' zero-one loss ``-mean((s - 0.5)^2)`` of sigmoid strengths ``s``."""
    return -((strengths - 0.5) ** 2).mean()


class FairDartsStrength(SoftmaxStrength):
    """FairDARTS: independent ``sigmoid(a)`` per op and ``w01 * zero_one_loss``."""

    name = "fairdarts"

    def __init__(self, shape: tuple[int, int, int], generator: torch.Generator | None = None,
                 w01: float = 10.0) -> None:
        super().__init__(shape, generator)
        self.w01 = float(w01)

    def mixing(self, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.sigmoid(self.logits)

    def regularizer(self) -> torch.Tensor:
        return self.w01 * zero_one_loss(torch.sigmoid(self.logits))


def beta_kl_uniform(alpha: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
    """Elementwise ``KL(Beta(alpha, beta) || Beta(1, 1))`` (closed form, nats).

    ``= -ln B(alpha, beta) + (alpha - 1) psi(alpha) + (beta - 1) psi(beta)
    + (2 - alpha - beta) psi(alpha + beta)`` (ln B(1, 1) = 0).
    """
    log_b = torch.lgamma(alpha) + torch.lgamma(beta) - torch.lgamma(alpha + beta)
    return (-log_b + (alpha - 1) * torch.digamma(alpha) + (beta - 1) * torch.digamma(beta)
            + (2 - alpha - beta) * torch.digamma(alpha + beta))


class BetaStrength(Strength):
    """BtNAS: ``theta ~ Beta(1 + m + softplus(a), 1 + m + softplus(b))`` per op (module docstring)."""

    name = "btnas"

    def __init__(self, shape: tuple[int, int, int], generator: torch.Generator | None = None,
                 kl_weight: float = 1e-3) -> None:
        super().__init__(shape)
        self.a = _init(self.shape, generator)
        self.b = _init(self.shape, generator)
        self.kl_weight = float(kl_weight)

    def concentrations(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(alpha, beta)``, both ``[2, 14, K]`` and > 1."""
        low = 1.0 + CONCENTRATION_MARGIN
        return low + nn.functional.softplus(self.a), low + nn.functional.softplus(self.b)

    def mixing(self, generator: torch.Generator | None = None) -> torch.Tensor:
        """A pathwise sample ``theta ~ Beta(alpha, beta)`` in (0, 1).

        torch's Beta sampler reads the global CPU RNG; it is run under a forked RNG seeded
        from ``generator`` (default: a fresh draw of the global RNG), so the caller's
        generator alone decides the sample, on any device.
        """
        alpha, beta = self.concentrations()
        seed = int(torch.randint(0, 2**62, (1,), generator=generator))
        with torch.random.fork_rng(devices=[]):
            torch.default_generator.manual_seed(seed)   # CPU only: CUDA generators untouched
            theta = torch.distributions.Beta(alpha.cpu(), beta.cpu()).rsample()
        # a float32 sample can round to exactly 0 or 1; keep it inside the open interval
        eps = torch.finfo(theta.dtype).eps
        return theta.clamp(eps, 1 - eps).to(alpha.device)

    def regularizer(self) -> torch.Tensor:
        alpha, beta = self.concentrations()
        return self.kl_weight * beta_kl_uniform(alpha, beta).sum()

    def _strengths(self) -> torch.Tensor:
        alpha, beta = self.concentrations()
        return alpha / (alpha + beta)


#: name -> class; the names of ``natsbench btnas --strength``
STRENGTHS = MappingProxyType({cls.name: cls for cls in (BetaStrength, SoftmaxStrength, EluStrength,
                                                        FairDartsStrength)})


def make_strength(name: str, shape: tuple[int, int, int], generator: torch.Generator | None = None,
                  **options: Any) -> Strength:
    """The parametrisation ``name`` (one of :data:`STRENGTHS`) for strengths of ``shape``."""
    try:
        cls = STRENGTHS[name]
    except KeyError:
        raise QueryError(f"unknown strength parametrisation {name!r}; valid: "
                         f"{', '.join(STRENGTHS)}") from None
    return cls(shape, generator, **options)


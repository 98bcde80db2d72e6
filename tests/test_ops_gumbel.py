"""The one Gumbel draw (natsbench.ops.gumbel): its distribution, one generator call per draw,
redraws of non-finite noise, and the Gumbel-max / Gumbel-softmax properties its users rely on."""
from __future__ import annotations

import math

import pytest

import torch

from natsbench.ops import gumbel as gumbel_module
from natsbench.ops.gumbel import gumbel_noise, gumbel_perturb


def test_noise_is_standard_gumbel():
    g = gumbel_noise((200_000,), torch.Generator().manual_seed(0)).double()
    assert g.dtype == torch.float64 and bool(torch.isfinite(g).all())
    # Gumbel(0, 1): mean = Euler-Mascheroni constant, variance = pi^2 / 6, P(g <= 0) = 1/e
    assert abs(float(g.mean()) - 0.5772156649) < 0.01
    assert abs(float(g.var()) - math.pi ** 2 / 6) < 0.03
    assert abs(float((g <= 0).double().mean()) - math.exp(-1)) < 0.005


def test_one_generator_call_per_draw_and_seeded():
    gen = torch.Generator().manual_seed(11)
    a = gumbel_noise((5, 8), gen)
    assert a.shape == (5, 8) and a.dtype == torch.float32 and a.device.type == "cpu"
    after = gen.get_state()
    ref = torch.Generator().manual_seed(11)
    torch.empty(40).exponential_(generator=ref)              # what one draw of 40 values uses
    assert torch.equal(after, ref.get_state())
    assert torch.equal(a, gumbel_noise((5, 8), torch.Generator().manual_seed(11)))
    assert not torch.equal(a, gumbel_noise((5, 8), gen))     # the stream moves on


def test_non_finite_draws_are_redrawn(monkeypatch):
    real = torch.Tensor.exponential_
    calls = []

    def first_has_a_zero(self, *args, **kwargs):
        out = real(self, *args, **kwargs)
        calls.append(1)
        if len(calls) == 1:
            out.view(-1)[0] = 0.0                            # -log(0) = inf
        return out

    monkeypatch.setattr(torch.Tensor, "exponential_", first_has_a_zero)
    g = gumbel_noise((3, 4), torch.Generator().manual_seed(2))
    assert len(calls) == 2 and bool(torch.isfinite(g).all())


def test_perturb_argmax_samples_the_softmax_and_keeps_dtype():
    logits = torch.tensor([1.0, 0.0, -1.0], dtype=torch.float64)
    z = gumbel_perturb(logits.expand(50_000, 3), 0.7, torch.Generator().manual_seed(4))
    assert z.dtype == torch.float64 and z.shape == (50_000, 3)
    freq = torch.bincount(z.argmax(dim=-1), minlength=3).double() / 50_000
    assert torch.allclose(freq, torch.softmax(logits, dim=0), atol=0.01)   # Gumbel-max trick
    # (log_softmax + g) / tau: the same noise at two temperatures differs by the factor only
    g1 = gumbel_perturb(logits, 1.0, torch.Generator().manual_seed(9))
    g2 = gumbel_perturb(logits, 0.5, torch.Generator().manual_seed(9))
    assert torch.allclose(g2, 2 * g1)
    assert torch.allclose(g1 - torch.log_softmax(logits, dim=0),
                          gumbel_noise((3,), torch.Generator().manual_seed(9)).double())


def test_perturb_is_differentiable():
    logits = torch.zeros(2, 4, requires_grad=True)
    probs = torch.softmax(gumbel_perturb(logits, 0.5, torch.Generator().manual_seed(1)), dim=-1)
    (probs[:, 0] * torch.arange(2.0)).sum().backward()
    assert logits.grad is not None and float(logits.grad.abs().sum()) > 0


@pytest.mark.parametrize("user", ["gdas", "fbnetv2", "tas", "dash"])
def test_every_user_draws_through_the_one_helper(monkeypatch, user):
    """The searches' Gumbel samples go through gumbel_noise (one implementation)."""
    from natsbench.models import tss_supernet
    from natsbench.ops import aggregated_conv
    from search_algorithms.weight_sharing import fbnetv2, tas

    seen = []
    real = gumbel_module.gumbel_noise

    def spy(shape, generator=None):
        seen.append(tuple(shape))
        return real(shape, generator)

    monkeypatch.setattr(gumbel_module, "gumbel_noise", spy)
    gen = torch.Generator().manual_seed(0)
    logits = torch.zeros(5, 8)
    if user == "gdas":
        tss_supernet.gumbel_hard(torch.zeros(6, 5), 1.0, gen)
    elif user == "fbnetv2":
        fbnetv2.expected_masks(logits, torch.ones(8, 64), 1.0, gen)
    elif user == "tas":
        tas.select_widths(logits, 1.0, gen)
    else:
        aggregated_conv.arch_weights(torch.zeros(4), sampling="gumbel", generator=gen)
    assert seen == [{"gdas": (6, 5), "dash": (4,)}.get(user, (5, 8))]

"""Aggregated (DASH) convolution: three implementations agree with each other and with an
independent sum of torch convolutions; Kronecker dilation; arch weights; discretization."""
from __future__ import annotations

import copy

import pytest

import torch
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from natsbench.ops.aggregated_conv import (  # noqa: E402
    MODES,
    AggregatedConv,
    AggregatedConv1d,
    AggregatedConv2d,
    aggregated_conv,
    arch_parameters,
    arch_weights,
    candidates,
    mixed_kernel,
)


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.detach(), b.detach()
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-3))


def make(cls, cin, cout, ks, ds, *, seed=0, **kw) -> AggregatedConv:
    m = cls(cin, cout, ks, ds, seed=seed, **kw).double()
    with torch.no_grad():
        m.arch_params.copy_(torch.randn(m.arch_params.shape, dtype=torch.float64,
                                        generator=torch.Generator().manual_seed(seed + 1)))
    return m


def reference(m: AggregatedConv, x: torch.Tensor) -> torch.Tensor:
    """Weighted sum of torch convolutions, one per candidate, written independently of the
    module's code paths (torch's own 'same' padding; stride by subsampling; causal by F.pad)."""
    conv = F.conv1d if m.ndim == 1 else F.conv2d
    coef = torch.softmax(m.arch_params / m.temperature, dim=0)
    out = 0
    for idx, (k, d) in enumerate(m.candidates):
        w = m.weights[m.kernel_sizes.index(k)][m.dilations.index(d)]
        if m.padding == "causal":
            y = conv(F.pad(x, (d * (k - 1), 0)), w, dilation=d, groups=m.groups)
        else:
            y = conv(x, w, padding="same", dilation=d, groups=m.groups)
        out = out + coef[idx] * y
    if m.stride > 1:
        out = out[(slice(None), slice(None)) + (slice(None, None, m.stride),) * m.ndim]
    return out + m.bias.reshape((1, -1) + (1,) * m.ndim)


CASES = [
    # cls, in, out, K, D, kwargs, spatial
    (AggregatedConv1d, 4, 6, (3, 5), (1, 3), {}, (37,)),
    (AggregatedConv1d, 4, 4, (2, 4, 8), (1, 2, 3), {"groups": 4}, (29,)),       # even sizes
    (AggregatedConv1d, 4, 8, (3, 5, 7), (1, 3, 7), {"groups": 2, "stride": 2}, (30,)),
    (AggregatedConv1d, 3, 5, (3, 8), (1, 2), {"padding": "causal"}, (25,)),
    (AggregatedConv1d, 2, 3, (3, 5, 7, 9, 11), (1, 3, 7, 15, 31), {}, (40,)),   # E=311 > L
    (AggregatedConv2d, 3, 4, (3, 5), (1, 2), {}, (11, 9)),
    (AggregatedConv2d, 4, 4, (3, 4), (1, 3), {"groups": 4, "stride": 2}, (13, 10)),
    (AggregatedConv2d, 2, 6, (3, 5, 7), (1, 3, 7), {}, (16, 16)),
]


@pytest.mark.parametrize("cls,cin,cout,ks,ds,kw,spatial", CASES)
def test_modes_equal_each_other_and_reference(cls, cin, cout, ks, ds, kw, spatial):
    m = make(cls, cin, cout, ks, ds, **kw)
    x0 = torch.randn((2, cin) + spatial, dtype=torch.float64,
                     generator=torch.Generator().manual_seed(5))
    ref = reference(m, x0)
    grad_out = torch.randn(ref.shape, dtype=torch.float64,
                           generator=torch.Generator().manual_seed(6))
    results = {}
    for mode in MODES:
        m.mode = mode
        m.zero_grad()
        x = x0.clone().requires_grad_(True)
        y = m(x)
        assert y.shape == ref.shape
        assert rel_err(y, ref) < 1e-9, mode
        (y * grad_out).sum().backward()
        results[mode] = [x.grad, m.arch_params.grad, m.bias.grad] + [w.grad for w in m.weights]
    for mode in ("mixed_weights", "fft"):
        for got, want in zip(results[mode], results["mixed_results"]):
            assert rel_err(got, want) < 1e-9, mode


def test_float32_modes_agree_within_1e4():
    m = AggregatedConv1d(8, 8, (3, 5, 7, 9, 11), (1, 3, 7, 15, 31), groups=8, seed=2)
    x = torch.randn(4, 8, 300, generator=torch.Generator().manual_seed(0))
    outs = {}
    for mode in MODES:
        m.mode = mode
        outs[mode] = m(x)
    assert rel_err(outs["fft"], outs["mixed_results"]) < 1e-4
    assert rel_err(outs["mixed_weights"], outs["mixed_results"]) < 1e-4


@pytest.mark.parametrize("k,d,nd", [(3, 1, 1), (3, 4, 1), (5, 3, 2), (2, 3, 2), (4, 2, 1)])
def test_mixed_kernel_places_dilated_kernel_like_kronecker(k, d, nd):
    """One-hot weights: the mixed kernel is kron(w, unit impulse) padded into the E-box."""
    ks, ds = (k, 7), (d, 1)              # a second, larger candidate sets E = 7 or d*(k-1)+1
    gen = torch.Generator().manual_seed(k + d)
    weights = [torch.randn((2, 3, 2) + (kk,) * nd, generator=gen, dtype=torch.float64)
               for kk in ks]
    coef = torch.zeros(4, dtype=torch.float64)
    coef[0] = 1.0                          # candidate (k, d)
    got = mixed_kernel(weights, coef, ks, ds, padding="same")
    big = max(dd * (kk - 1) + 1 for kk in ks for dd in ds)
    impulse = torch.zeros((d,) * nd, dtype=torch.float64)
    impulse[(0,) * nd] = 1.0
    w = weights[0][0]
    dilated = torch.stack([torch.stack([torch.kron(w[o, c], impulse) for c in range(2)])
                           for o in range(3)])
    eff = d * (k - 1) + 1
    dilated = dilated[(slice(None), slice(None)) + (slice(0, eff),) * nd]   # drop trailing zeros
    lo = (big - 1) // 2 - (eff - 1) // 2                                     # torch 'same' rule
    pad = []
    for _ in range(nd):
        pad += [lo, big - eff - lo]
    want = F.pad(dilated, pad)
    assert got.shape == want.shape == (3, 2) + (big,) * nd
    assert torch.equal(got, want)


def test_functional_argument_errors():
    x = torch.randn(1, 2, 10)
    w = [torch.randn(1, 2, 2, 3)]
    with pytest.raises(ValueError, match="mode 'direct'"):
        aggregated_conv(x, w, torch.ones(1), (3,), (1,), mode="direct")
    with pytest.raises(ValueError, match="padding 'valid'"):
        aggregated_conv(x, w, torch.ones(1), (3,), (1,), padding="valid")
    with pytest.raises(ValueError, match="do not match"):
        aggregated_conv(x, w, torch.ones(2), (3,), (1,))
    with pytest.raises(ValueError, match="distinct positive"):
        aggregated_conv(x, w, torch.ones(2), (3,), (1, 1))


def test_module_argument_errors():
    with pytest.raises(ValueError, match="mode"):
        AggregatedConv1d(2, 2, (3,), (1,), mode="fast")
    with pytest.raises(ValueError, match="weight_sampling"):
        AggregatedConv1d(2, 2, (3,), (1,), weight_sampling="hard")
    with pytest.raises(ValueError, match="padding 'causal'"):
        AggregatedConv2d(2, 2, (3,), (1,), padding="causal")
    with pytest.raises(ValueError, match="groups=3"):
        AggregatedConv1d(4, 4, (3,), (1,), groups=3)
    m = AggregatedConv1d(2, 2, (3,), (1,))
    with pytest.raises(ValueError, match="mode"):
        m.mode = "nope"
    with pytest.raises(TypeError):
        AggregatedConv(2, 2, (3,), (1,))


def test_parameters_and_candidates():
    m = AggregatedConv2d(4, 8, (3, 5, 7), (1, 2), groups=2)
    assert candidates((3, 5, 7), (1, 2)) == m.candidates == [(3, 1), (3, 2), (5, 1), (5, 2),
                                                              (7, 1), (7, 2)]
    assert [tuple(w.shape) for w in m.weights] == [(2, 8, 2, 3, 3), (2, 8, 2, 5, 5),
                                                   (2, 8, 2, 7, 7)]
    assert m.arch_params.shape == (6,) and torch.all(m.arch_params == 0)
    net = nn.Sequential(m, nn.ReLU(), AggregatedConv2d(8, 8, (3,), (1, 2)))
    assert [p.shape for p in arch_parameters(net)] == [(6,), (2,)]
    # the same seed gives the same initial weights; another seed other weights
    same = AggregatedConv2d(4, 8, (3, 5, 7), (1, 2), groups=2)
    other = AggregatedConv2d(4, 8, (3, 5, 7), (1, 2), groups=2, seed=1)
    assert torch.equal(m.weights[1], same.weights[1])
    assert not torch.equal(m.weights[1], other.weights[1])


def test_softmax_temperature():
    logits = torch.tensor([0.5, -1.0, 2.0])
    got = arch_weights(logits, sampling="softmax", temperature=0.5)
    want = torch.exp(logits / 0.5) / torch.exp(logits / 0.5).sum()
    assert torch.allclose(got, want)


def test_gumbel_is_seeded_and_noisy_only_in_training():
    def draws(seed):
        m = AggregatedConv1d(2, 2, (3, 5), (1, 2), weight_sampling="gumbel", seed=seed,
                             temperature=0.7)
        return m, [m.arch_weights() for _ in range(3)]

    m, a = draws(3)
    _, b = draws(3)
    _, c = draws(4)
    for wa, wb in zip(a, b):
        assert torch.equal(wa, wb)
        assert abs(float(wa.detach().sum()) - 1.0) < 1e-6 and bool((wa > 0).all())
    assert not torch.equal(a[0], a[1])            # fresh noise per pass
    assert not torch.equal(a[0], c[0])            # seed matters
    m.eval()
    assert torch.allclose(m.arch_weights(), torch.full((4,), 0.25))
    with pytest.raises(ValueError, match="Generator"):
        arch_weights(torch.zeros(3), sampling="gumbel")
    # deep copies (used by search code) keep working: no generator object is stored
    assert torch.equal(copy.deepcopy(m).arch_weights(), m.arch_weights())


def test_gumbel_gradient_reaches_arch_params():
    m = AggregatedConv1d(2, 3, (3, 5), (1, 2), weight_sampling="gumbel", seed=0)
    m(torch.randn(2, 2, 12)).square().sum().backward()
    assert m.arch_params.grad is not None and float(m.arch_params.grad.abs().sum()) > 0


DISCRETE_CASES = [
    (AggregatedConv1d, {}, (3, 5, 7), (1, 3), (31,)),
    (AggregatedConv1d, {"stride": 2}, (4, 6), (1, 3), (30,)),   # even kernel, odd dilation
    (AggregatedConv1d, {"padding": "causal"}, (3, 5), (1, 2), (20,)),
    (AggregatedConv2d, {"groups": 4}, (3, 5), (1, 2, 3), (12, 9)),
    (AggregatedConv2d, {"stride": 2}, (2, 3), (1, 3), (12, 12)),
]


@pytest.mark.parametrize("cls,kw,ks,ds,spatial", DISCRETE_CASES)
def test_discretize_equals_one_hot_aggregated(cls, kw, ks, ds, spatial):
    m = cls(4, 4, ks, ds, seed=1, **kw)
    gen = torch.Generator().manual_seed(2)
    x = torch.randn((2, 4) + spatial, generator=gen)
    for target in range(len(m.candidates)):
        with torch.no_grad():
            m.arch_params.zero_()
            m.arch_params[target] = 1e4           # softmax is exactly one-hot in float32
        k, d = m.candidates[target]
        assert m.selected() == (k, d)
        plain = m.discretize()
        conv = plain if isinstance(plain, nn.Module) and not isinstance(plain, nn.Sequential) \
            else plain[-1]
        assert type(conv) is (nn.Conv1d if m.ndim == 1 else nn.Conv2d)
        assert conv.kernel_size == (k,) * m.ndim and conv.dilation == (d,) * m.ndim
        for mode in MODES:
            m.mode = mode
            agg = m(x)
            assert agg.shape == plain(x).shape
            assert rel_err(plain(x), agg) < 1e-4, (mode, k, d)


def test_discretized_conv_is_independent_copy():
    m = AggregatedConv1d(2, 2, (3, 5), (1, 2))
    conv = m.discretize()
    with torch.no_grad():
        conv.weight.add_(1.0)
    assert not torch.equal(conv.weight, m.weights[0][0])

"""DASH's WRN backbones and their conversion to/from aggregated-convolution supernets."""
from __future__ import annotations

import pytest

import torch
from torch import nn  # noqa: E402

from natsbench.models.wrn import (  # noqa: E402
    WideResNet1d,
    WideResNet2d,
    dash_wrn1d_width,
    discretize_aggregated,
    replace_convs_with_aggregated,
    wrn16_1,
    wrn16_4,
)
from natsbench.ops.aggregated_conv import MODES, AggregatedConv, arch_parameters  # noqa: E402


def n_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def rel_err(a, b) -> float:
    a, b = a.detach(), b.detach()
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-3))


def test_wrn16_4_size_and_shapes():
    torch.manual_seed(0)
    net = wrn16_4(num_classes=10).eval()
    # Zagoruyko & Komodakis (2016) list WRN-16-4 with "2.7M" parameters (2.75M, truncated)
    assert 2.7e6 <= n_params(net) < 2.8e6
    assert net(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    widths = [m.out_channels for m in net.modules() if isinstance(m, nn.Conv2d)]
    assert widths[0] == 16 and set(widths[1:]) == {64, 128, 256}
    # any input size and channel count (e.g. NinaPro 1x16x52) thanks to the global pooling
    other = WideResNet2d(depth=16, widen_factor=1, in_channels=1, num_classes=18).eval()
    assert other(torch.randn(3, 1, 16, 52)).shape == (3, 18)


def test_wrn2d_depth_validation():
    with pytest.raises(ValueError, match="6 n \\+ 4"):
        WideResNet2d(depth=15)


def test_wrn1d_structure_and_shapes():
    net = WideResNet1d(in_channels=4, num_classes=36, mid_channels=dash_wrn1d_width(36)).eval()
    convs = [m for m in net.modules() if isinstance(m, nn.Conv1d)]
    # 3 blocks x 3 convs (kernels 8, 5, 3) + two 1x1 shortcuts where the width changes
    assert [c.kernel_size[0] for c in convs if c.kernel_size[0] > 1] == [8, 5, 3] * 3
    assert [c.out_channels for c in convs if c.kernel_size[0] == 1] == [64, 128]
    assert net(torch.randn(2, 4, 1000)).shape == (2, 36)
    assert net(torch.randn(1, 4, 46)).shape == (1, 36)   # Satellite length


def test_dash_wrn1d_width():
    # DASH: mid_channels = min(4 ** (num_classes // 10 + 1), 64)
    assert [dash_wrn1d_width(c) for c in (4, 10, 24, 36)] == [4, 16, 64, 64]


def test_identity_shortcut_option():
    x = torch.randn(2, 8, 30)
    plain = WideResNet1d(in_channels=8, mid_channels=8, identity_shortcut=False)
    with_id = WideResNet1d(in_channels=8, mid_channels=8, identity_shortcut=True)
    with_id.load_state_dict(plain.state_dict())
    block_plain, block_id = plain.layers[0].eval(), with_id.layers[0].eval()
    assert torch.allclose(block_id(x), block_plain(x) + x)


def test_replace_counts_kinds_and_runs_in_every_mode():
    torch.manual_seed(1)
    net = wrn16_1(num_classes=5)
    names = replace_convs_with_aggregated(net, (3, 5), (1, 2), mode="fft", seed=3)
    # WRN-16: stem + 2 convs x 2 blocks x 3 stages; 1x1 shortcuts stay plain
    assert len(names) == 13 and "conv1" in names
    aggs = [m for m in net.modules() if isinstance(m, AggregatedConv)]
    assert len(aggs) == 13 and len(arch_parameters(net)) == 13
    assert all(m.kernel_size == (1, 1) for m in net.modules() if isinstance(m, nn.Conv2d))
    # separable: width-preserving convs are depthwise, width-changing ones full
    assert {(m.in_channels == m.out_channels, m.groups == m.in_channels) for m in aggs} == {
        (True, True), (False, False)}
    assert sorted({m.stride for m in aggs}) == [1, 2]
    net.eval()
    x = torch.randn(2, 3, 16, 16)
    outs = {}
    for mode in MODES:
        for m in aggs:
            m.mode = mode
        outs[mode] = net(x)
        assert outs[mode].shape == (2, 5)
    assert rel_err(outs["fft"], outs["mixed_results"]) < 1e-4
    assert rel_err(outs["mixed_weights"], outs["mixed_results"]) < 1e-4
    net.train()
    net(x).sum().backward()
    assert all(p.grad is not None for p in arch_parameters(net))


def test_supernet_starts_from_backbone_and_discretizes_back():
    torch.manual_seed(2)
    net = WideResNet1d(in_channels=2, num_classes=3, mid_channels=4, kernel_sizes=(5, 3, 3))
    net.eval()
    x = torch.randn(2, 2, 50)
    before = net(x)
    originals = {name: m.weight.detach().clone() for name, m in net.named_modules()
                 if isinstance(m, nn.Conv1d) and m.kernel_size != (1,)}
    names = replace_convs_with_aggregated(net, (3, 5, 7), (1, 2), separable=False)
    assert names == list(originals)
    for name in names:
        agg = net.get_submodule(name)
        k = originals[name].shape[-1]
        # the backbone's kernel was copied into its own (k, d=1) candidate ...
        assert torch.equal(agg.weights[agg.kernel_sizes.index(k)][0], originals[name])
        with torch.no_grad():   # ... and one-hot architecture weights select it
            agg.arch_params.fill_(-1e4)
            agg.arch_params[agg.candidates.index((k, 1))] = 1e4
    for mode in MODES:
        for name in names:
            net.get_submodule(name).mode = mode
        assert rel_err(net(x), before) < 1e-4, mode
    chosen = discretize_aggregated(net)
    assert list(chosen.values()) == [(5, 1), (3, 1), (3, 1)] * 3
    assert not any(isinstance(m, AggregatedConv) for m in net.modules())
    assert rel_err(net(x), before) < 1e-4


def test_replace_rejects_non_same_padding():
    net = nn.Sequential(nn.Conv1d(2, 2, 3, padding=0))
    with pytest.raises(ValueError, match="same"):
        replace_convs_with_aggregated(net, (3,), (1,))

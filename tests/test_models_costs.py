"""Params / FLOPs / latency of natsbench.models.costs, checked against published numbers and
against counts worked out by hand from layer shapes."""
from __future__ import annotations

import pytest

import torch
from torch import nn  # noqa: E402

from natsbench.models import create_model  # noqa: E402
from natsbench.models.costs import count_flops, count_params, measure_latency  # noqa: E402

TSS_ARCH0 = (
    "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|"
)

# Official NATS-Bench numbers (records of the official archives, also quoted in the NATS-Bench
# notebooks): (space, arch, num_classes, input size, params in M, FLOPs in M).
OFFICIAL = [
    ("tss", TSS_ARCH0, 10, 32, 0.129306, 15.64737),          # arch 0, cifar10
    ("tss", TSS_ARCH0, 120, 16, 0.136456, 3.91948),          # arch 0, ImageNet16-120
    ("tss", "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|none~0|nor_conv_1x1~1|none~2|",
     100, 32, 0.107156, 11.72106),                           # arch 284, cifar100
    ("sss", "8:8:40:32:40", 10, 32, 0.144834, 21.827994),     # sss arch 284, cifar10
]


@pytest.mark.parametrize("space,arch,num_classes,size,params,flops", OFFICIAL)
def test_official_costs_written_in(space, arch, num_classes, size, params, flops):
    net = create_model(space=space, arch=arch, num_classes=num_classes)
    assert round(count_params(net), 6) == params
    measured = count_flops(net, (1, 3, size, size))
    assert abs(measured - flops) / flops < 1e-4
    # Our count is exact in the official convention: equal to the printed digits.
    assert round(measured, 6) == pytest.approx(flops, abs=1e-9)


def test_darts_v2_params_match_published_count():
    # DARTS (Liu et al. 2019) V2 cell, CIFAR-10 evaluation network (C=36, 20 cells): its
    # train.py logs "param size = 3.349342MB" (auxiliary head excluded).
    def nodes(pairs):
        return [(2 + i // 2, frm, op) for i, (op, frm) in enumerate(pairs)]

    normal = nodes([("sep_conv_3x3", 0), ("sep_conv_3x3", 1), ("sep_conv_3x3", 0),
                    ("sep_conv_3x3", 1), ("sep_conv_3x3", 1), ("skip_connect", 0),
                    ("skip_connect", 0), ("dil_conv_3x3", 2)])
    reduce = nodes([("max_pool_3x3", 0), ("max_pool_3x3", 1), ("skip_connect", 2),
                    ("max_pool_3x3", 1), ("max_pool_3x3", 0), ("skip_connect", 2),
                    ("skip_connect", 2), ("max_pool_3x3", 1)])
    net = create_model(space="darts", arch={"normal": normal, "reduce": reduce},
                       num_classes=10, C=36, layers=20)
    assert round(count_params(net), 6) == 3.349342


def test_flop_convention_by_hand():
    # conv 3->4, 3x3, pad 1, bias, on 8x8: MACs 3*9*4*64, bias adds 4*64.
    # avg-pool 2x2 -> 4x4 (not counted); grouped conv 4->4, groups 2, 3x3, pad 1, no bias, on
    # 4x4: MACs (4/2)*9*4*16; linear 64 -> 5 with bias: MACs 64*5, bias adds 5.
    net = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1, bias=True),
        nn.ReLU(),
        nn.AvgPool2d(2),
        nn.BatchNorm2d(4),
        nn.Conv2d(4, 4, 3, padding=1, groups=2, bias=False),
        nn.Flatten(),
        nn.Linear(64, 5),
    )
    expected = 3 * 9 * 4 * 64 + 4 * 64 + 2 * 9 * 4 * 16 + 64 * 5 + 5
    assert count_flops(net, (1, 3, 8, 8)) == pytest.approx(expected / 1e6, rel=1e-12)
    # per-sample: a batch of 3 gives the same number
    assert count_flops(net, (3, 3, 8, 8)) == pytest.approx(expected / 1e6, rel=1e-12)
    assert count_params(net) == pytest.approx(
        (3 * 9 * 4 + 4 + 8 + 4 * 2 * 9 + 64 * 5 + 5) / 1e6, rel=1e-12
    )


def test_functional_conv_bias_is_counted():
    class Functional(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.zeros(6, 2, 1, 5))
            self.b = nn.Parameter(torch.zeros(6))

        def forward(self, x):
            return nn.functional.conv2d(x, self.w, self.b, padding=(0, 2))

    # 1x5 kernel, 2->6 channels on 1x10: MACs 2*5*6*10, bias adds 6*10
    assert count_flops(Functional(), (1, 2, 1, 10)) == pytest.approx((600 + 60) / 1e6, rel=1e-12)


def test_count_flops_restores_mode_and_rejects_bad_shape():
    net = create_model(space="sss", arch="8:8:8:8:8", num_classes=10)
    net.train()
    count_flops(net, (1, 3, 16, 16))
    assert net.training
    with pytest.raises(ValueError, match="input_shape"):
        count_flops(net, (3,))


def test_measure_latency_positive_and_restores_mode():
    net = create_model(space="sss", arch="8:8:8:8:8", num_classes=10)
    net.train()
    seconds = measure_latency(net, (1, 3, 16, 16), device="cpu", repeats=3, warmup=1)
    assert 0.0 < seconds < 10.0
    assert net.training
    with pytest.raises(ValueError, match="repeats"):
        measure_latency(net, (1, 3, 16, 16), device="cpu", repeats=0)

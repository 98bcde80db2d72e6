"""The Wide-ResNet backbones DASH searches (Shen et al., NeurIPS 2022, sec. 3.1, App. A.5.1).

* :class:`WideResNet2d` -- WRN-d-k of Zagoruyko & Komodakis (2016), pre-activation "wide_basic"
  blocks: BN-ReLU-Conv3x3-Dropout-BN-ReLU-Conv3x3(stride) + shortcut (1x1 conv when the width
  or resolution changes); ``(d - 4) / 6`` blocks per stage at widths ``16k, 32k, 64k`` with
  strides 1, 2, 2 after a 3x3 stem conv to 16 channels; head BN-ReLU-global average pool-linear.
  DASH retrains with WRN-16-4 (:func:`wrn16_4`) and searches with WRN-16-1. Convolutions carry a
  bias, as in the implementation DASH cites (meliketoy/wide-resnet.pytorch). The head pools
  globally (the same as its 8x8 average pool on 32x32 inputs, and defined for any input size).
* :class:`WideResNet1d` -- the 1D "ResNet baseline" of Wang et al. (2017) DASH uses for
  sequences: three residual blocks with ``mid, 2 mid, 2 mid`` channels, each three
  Conv(k)-Dropout-BN-ReLU layers with kernel sizes 8, 5, 3 and "same" padding, plus a
  1x1 Conv-BN shortcut when the width changes; head: mean over length, linear. As in the code
  DASH cites (okrasolar/pytorch-timeseries), blocks that keep the width have *no* identity
  shortcut unless ``identity_shortcut=True``. DASH sets ``mid = min(4 ** (num_classes // 10 + 1),
  64)`` (:func:`dash_wrn1d_width`); the original network uses 64.

:func:`replace_convs_with_aggregated` turns a backbone into a DASH supernet (every non-1x1
convolution becomes an :class:`~natsbench.ops.aggregated_conv.AggregatedConv`), and
:func:`discretize_aggregated` turns a searched supernet back into plain convolutions.
"""
from __future__ import annotations

from typing import Sequence

from natsbench._optional import require

require("torch", extra="train")  # before importing it: a missing torch names the extra
import torch  # noqa: E402
from torch import Tensor, nn

from natsbench.ops.aggregated_conv import AggregatedConv, AggregatedConv1d, AggregatedConv2d
from natsbench.errors import ConfigError

__all__ = [
    "WideResNet2d",
    "WideResNet1d",
    "wrn16_4",
    "wrn16_1",
    "dash_wrn1d_width",
    "replace_convs_with_aggregated",
    "discretize_aggregated",
    "apply_kernel_choices",
]


class _WideBasic(nn.Module):
    """Pre-activation wide residual block (2D)."""

    def __init__(self, in_planes: int, planes: int, stride: int, dropout: float) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.conv1 = nn.Conv2d(in_planes, planes, 3, padding=1, bias=True)
        self.dropout = nn.Dropout(p=dropout)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=1, bias=True)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Conv2d(in_planes, planes, 1, stride=stride, bias=True)

    def forward(self, x: Tensor) -> Tensor:
        out = self.dropout(self.conv1(torch.relu(self.bn1(x))))
        out = self.conv2(torch.relu(self.bn2(out)))
        return out + self.shortcut(x)


class WideResNet2d(nn.Module):
    """WRN-``depth``-``widen_factor`` for images ``[B, in_channels, H, W]`` -> logits
    ``[B, num_classes]``.

    Args:
        depth: ``6 n + 4`` (16 -> 2 blocks per stage).
        widen_factor: width multiplier ``k``.
        in_channels, num_classes: input channels and classifier outputs.
        dropout: dropout rate between the two convolutions of a block.
        dense: dense prediction (DASH's ``remain_shape``): every stage has stride 1 and the head
            is a channel-matching linear layer applied at every pixel, so the output is
            ``[B, num_classes, H, W]`` (DASH App. A.8.1).
    """

    def __init__(self, *, depth: int = 16, widen_factor: int = 4, in_channels: int = 3,
                 num_classes: int = 10, dropout: float = 0.0, dense: bool = False) -> None:
        super().__init__()
        if depth < 10 or (depth - 4) % 6:
            raise ConfigError(f"depth {depth!r} must be 6 n + 4 with n >= 1 (10, 16, 22, 28, ...)")
        if widen_factor < 1 or in_channels < 1 or num_classes < 1:
            raise ConfigError(f"widen_factor {widen_factor!r}, in_channels {in_channels!r} and "
                              f"num_classes {num_classes!r} must be >= 1")
        n = (depth - 4) // 6
        widths = (16, 16 * widen_factor, 32 * widen_factor, 64 * widen_factor)
        self.conv1 = nn.Conv2d(in_channels, widths[0], 3, padding=1, bias=True)
        stages = []
        in_planes = widths[0]
        self.dense = bool(dense)
        for width, stride in zip(widths[1:], (1, 1, 1) if dense else (1, 2, 2)):
            blocks = []
            for i in range(n):
                blocks.append(_WideBasic(in_planes, width, stride if i == 0 else 1, dropout))
                in_planes = width
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = stages
        self.bn = nn.BatchNorm2d(in_planes)
        self.linear = nn.Linear(in_planes, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        out = self.layer3(self.layer2(self.layer1(self.conv1(x))))
        out = torch.relu(self.bn(out))
        if self.dense:  # permute + linear + permute: the channel-matching output layer
            return self.linear(out.movedim(1, -1)).movedim(-1, 1)
        return self.linear(out.mean(dim=(2, 3)))


def wrn16_4(*, in_channels: int = 3, num_classes: int = 10, dropout: float = 0.0) -> WideResNet2d:
    """WRN-16-4 (DASH's 2D retraining backbone; 2.75 M parameters for 10 classes)."""
    return WideResNet2d(depth=16, widen_factor=4, in_channels=in_channels,
                        num_classes=num_classes, dropout=dropout)


def wrn16_1(*, in_channels: int = 3, num_classes: int = 10, dropout: float = 0.0) -> WideResNet2d:
    """WRN-16-1 (DASH's 2D search backbone)."""
    return WideResNet2d(depth=16, widen_factor=1, in_channels=in_channels,
                        num_classes=num_classes, dropout=dropout)


class _ConvBlock1d(nn.Module):
    """Conv(k, "same") - Dropout - BN - ReLU."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int,
                 dropout: float) -> None:
        super().__init__()
        self.conv = nn.Conv1d(in_channels, out_channels, kernel_size, padding="same")
        self.dropout = nn.Dropout(p=dropout)
        self.bn = nn.BatchNorm1d(out_channels)

    def forward(self, x: Tensor) -> Tensor:
        return torch.relu(self.bn(self.dropout(self.conv(x))))


class _ResBlock1d(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, kernel_sizes: Sequence[int],
                 dropout: float, identity_shortcut: bool) -> None:
        super().__init__()
        chans = [in_channels] + [out_channels] * len(kernel_sizes)
        self.layers = nn.Sequential(*[_ConvBlock1d(chans[i], chans[i + 1], k, dropout)
                                      for i, k in enumerate(kernel_sizes)])
        self.shortcut: nn.Module | None = None
        if in_channels != out_channels:
            self.shortcut = nn.Sequential(nn.Conv1d(in_channels, out_channels, 1),
                                          nn.BatchNorm1d(out_channels))
        elif identity_shortcut:
            self.shortcut = nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        out = self.layers(x)
        return out if self.shortcut is None else out + self.shortcut(x)


class WideResNet1d(nn.Module):
    """DASH's 1D WRN for sequences ``[B, in_channels, L]`` -> logits ``[B, num_classes]``.

    Args:
        in_channels, num_classes: input channels and classifier outputs.
        mid_channels: width of the first block (the others have twice as many).
        kernel_sizes: kernel size of the three convolutions of each block.
        dropout: dropout rate after every convolution.
        identity_shortcut: add ``x`` in blocks that keep the width (the cited code does not).
        dense: output ``[B, num_classes, L]`` (the linear head at every position) instead of
            pooling over the length.
    """

    def __init__(self, *, in_channels: int = 1, num_classes: int = 10, mid_channels: int = 64,
                 kernel_sizes: Sequence[int] = (8, 5, 3), dropout: float = 0.0,
                 identity_shortcut: bool = False, dense: bool = False) -> None:
        super().__init__()
        if min(in_channels, num_classes, mid_channels) < 1 or not kernel_sizes \
                or min(kernel_sizes) < 1:
            raise ConfigError(f"in_channels {in_channels!r}, num_classes {num_classes!r}, "
                              f"mid_channels {mid_channels!r} and kernel_sizes "
                              f"{tuple(kernel_sizes)!r} must be positive")
        widths = (mid_channels, 2 * mid_channels, 2 * mid_channels)
        blocks, prev = [], in_channels
        for width in widths:
            blocks.append(_ResBlock1d(prev, width, kernel_sizes, dropout, identity_shortcut))
            prev = width
        self.layers = nn.Sequential(*blocks)
        self.final = nn.Linear(prev, num_classes)
        self.dense = bool(dense)

    def forward(self, x: Tensor) -> Tensor:
        out = self.layers(x)
        if self.dense:
            return self.final(out.movedim(1, -1)).movedim(-1, 1)
        return self.final(out.mean(dim=-1))


def dash_wrn1d_width(num_classes: int) -> int:
    """DASH's ``mid_channels`` for a 1D task: ``min(4 ** (num_classes // 10 + 1), 64)``
    (e.g. 16 for 10-class sequential MNIST, 4 for ECG, 64 for Satellite/DeepSEA)."""
    return min(4 ** (num_classes // 10 + 1), 64)


def _same_padding_conv(conv: nn.Module) -> bool:
    """Whether a conv's padding is "same" (stride-1 output size preserved, centred)."""
    if conv.padding == "same":
        return True
    if isinstance(conv.padding, str):
        return False
    eff = [d * (k - 1) + 1 for k, d in zip(conv.kernel_size, conv.dilation)]
    return all(e % 2 == 1 and p == (e - 1) // 2 for e, p in zip(eff, conv.padding))


def _parent(model: nn.Module, name: str) -> tuple[nn.Module, str]:
    parent_name, _, child = name.rpartition(".")
    return (model.get_submodule(parent_name) if parent_name else model), child


def replace_convs_with_aggregated(model: nn.Module, kernel_sizes: Sequence[int],
                                  dilations: Sequence[int], mode: str = "fft", *,
                                  separable: bool = True, weight_sampling: str = "softmax",
                                  temperature: float = 1.0, seed: int = 0) -> list[str]:
    """Swap every non-1x1 ``nn.Conv1d``/``nn.Conv2d`` of ``model`` (in place) for an
    aggregated convolution over ``kernel_sizes x dilations`` (DASH's supernet).

    Shortcut/pointwise (1x1) convolutions are kept. Stride, bias and device/dtype are kept.
    With ``separable`` (DASH's default), a replaced convolution whose input and output widths
    are equal becomes depthwise (``groups = channels``), as DASH does to keep search cheap.
    When the original ``(k, d)`` is a candidate (and the grouping is unchanged) its weights are
    copied into that candidate, so the supernet starts from the backbone. Layer ``i`` (in
    ``named_modules`` order) gets Gumbel seed ``seed + i``.

    Returns:
        The qualified names of the replaced modules.

    Raises:
        ValueError: a convolution to replace is not "same"-padded with zero padding, or a
            candidate set / mode is invalid.
    """
    cls_for = {nn.Conv1d: AggregatedConv1d, nn.Conv2d: AggregatedConv2d}
    targets = [(name, m) for name, m in model.named_modules()
               if type(m) in cls_for and any(k != 1 for k in m.kernel_size)]
    replaced = []
    for i, (name, conv) in enumerate(targets):
        if not _same_padding_conv(conv) or conv.padding_mode != "zeros" \
                or len(set(conv.stride)) != 1:
            raise ConfigError(f"cannot replace {name!r} ({conv}): only zero 'same'-padded "
                              "convolutions with equal strides can become aggregated ones")
        groups = conv.groups
        if separable and groups == 1 and conv.in_channels == conv.out_channels:
            groups = conv.in_channels
        agg = cls_for[type(conv)](
            conv.in_channels, conv.out_channels, kernel_sizes, dilations, mode=mode,
            weight_sampling=weight_sampling, temperature=temperature, stride=conv.stride[0],
            groups=groups, bias=conv.bias is not None, padding="same", seed=seed + i,
            device=conv.weight.device, dtype=conv.weight.dtype)
        square = len(set(conv.kernel_size)) == 1 and len(set(conv.dilation)) == 1
        k, d = conv.kernel_size[0], conv.dilation[0]
        if square and groups == conv.groups and (k, d) in agg.candidates:
            with torch.no_grad():
                agg.weights[agg.kernel_sizes.index(k)][agg.dilations.index(d)].copy_(conv.weight)
                if conv.bias is not None:
                    agg.bias.copy_(conv.bias)
        parent, child = _parent(model, name)
        setattr(parent, child, agg)
        replaced.append(name)
    return replaced


def discretize_aggregated(model: nn.Module) -> dict[str, tuple[int, int]]:
    """Replace (in place) every aggregated convolution by its discretized plain convolution.

    Returns:
        ``{module name: (kernel size, dilation)}`` of the selections.
    """
    chosen = {}
    for name, module in [(n, m) for n, m in model.named_modules()
                         if isinstance(m, AggregatedConv)]:
        chosen[name] = module.selected()
        parent, child = _parent(model, name)
        setattr(parent, child, module.discretize())
    return chosen


def apply_kernel_choices(model: nn.Module, choices: dict[str, dict], *, seed: int = 0) -> None:
    """Replace (in place) the named convolutions of a plain backbone by convolutions with the
    chosen kernel size and dilation ("same" padding, the original stride and bias).

    Args:
        choices: ``{module name: {"k": kernel size, "d": dilation, "groups": g}}`` as written by
            a search (``groups`` optional: the original convolution's grouping when absent, which
            is how DASH retrains -- full convolutions even where the search used depthwise ones).
        seed: the new convolutions' weights are initialised like ``nn.Conv`` from generators
            seeded by ``seed + layer index`` (reproducible without the global RNG).
    """
    cls_for = {nn.Conv1d: AggregatedConv1d, nn.Conv2d: AggregatedConv2d}
    modules = dict(model.named_modules())
    for i, (name, choice) in enumerate(choices.items()):
        conv = modules.get(name)
        if type(conv) not in cls_for:
            raise ConfigError(f"the model has no convolution {name!r} to set to {choice}; "
                              f"convolutions: {[n for n, m in modules.items() if type(m) in cls_for]}")
        k, d = int(choice["k"]), int(choice["d"])
        groups = int(choice.get("groups", conv.groups))
        one = cls_for[type(conv)](conv.in_channels, conv.out_channels, (k,), (d,),
                                  stride=conv.stride[0], groups=groups,
                                  bias=conv.bias is not None, padding="same", seed=seed + i,
                                  device=conv.weight.device, dtype=conv.weight.dtype)
        parent, child = _parent(model, name)
        setattr(parent, child, one.discretize())

"""Primitive operations of the cell-based search spaces (NATS-Bench tss/sss, DARTS, ExtCell).

Every operation maps a feature map ``[B, c_in, H, W]`` to ``[B, c_out, H / stride, W / stride]``
(for stride 2, ``ceil(H / 2)``).  Layer choices follow the published networks so that parameter
counts and FLOPs equal the official numbers:

* NATS-Bench (Dong et al., TPAMI 2021; thesis ch. 5): "convolution" means ReLU -> Conv -> BN;
  the convolution has no bias because the BN that follows is affine (bias only when the BN is
  not affine); 3x3 average pooling does not count padded pixels; a pooling edge whose input and
  output widths differ first maps the width with a 1x1 ReLU-Conv-BN; a skip edge that changes
  the width or the resolution is a factorized reduction.
* DARTS (Liu et al., ICLR 2019): ``sep_conv_kxk`` applies (ReLU, depthwise kxk, pointwise 1x1,
  BN) twice, the first time keeping the width and carrying the stride; ``dil_conv_kxk`` applies
  it once with dilation 2; pooling has no BN in the evaluation network.

Every operation takes ``dims`` (default 2): ``1`` builds the same layers over sequences
``[B, c, L]`` (Conv1d, BatchNorm1d, 1D pooling; D2NAS' 1D cells), so one definition serves both.

Module attribute names (``op``, ``convs``, ``bn``, ``preprocess``) are chosen so the state dicts
of the tss/sss networks have the same keys as the official NATS-Bench checkpoints.
"""
from __future__ import annotations

from typing import Callable

from natsbench._optional import require

require("torch", extra="train")  # before importing it: a missing torch names the extra
import torch  # noqa: E402
from torch import nn

from natsbench.errors import ConfigError, InvalidArchError

__all__ = [
    "ReLUConvBN",
    "Pooling",
    "Identity",
    "Zero",
    "FactorizedReduce",
    "SepConv",
    "DilConv",
    "ResidualBlock",
    "zeros_like_output",
    "OPS",
    "make_op",
    "layers_nd",
]


def layers_nd(dims: int) -> tuple[type, type, type, type]:
    """``(Conv, BatchNorm, AvgPool, MaxPool)`` classes for ``dims`` spatial dimensions (1 or 2)."""
    if dims == 2:
        return nn.Conv2d, nn.BatchNorm2d, nn.AvgPool2d, nn.MaxPool2d
    if dims == 1:
        return nn.Conv1d, nn.BatchNorm1d, nn.AvgPool1d, nn.MaxPool1d
    raise ConfigError(f"dims {dims!r} is not one of 1, 2 (spatial dimensions)")


class ReLUConvBN(nn.Module):
    """ReLU -> Conv2d -> BatchNorm2d; the NATS-Bench "convolution" operation.

    The convolution carries a bias only when the BN is not affine (an affine BN already adds a
    per-channel shift, so a bias would be a redundant parameter).
    """

    def __init__(
        self,
        c_in: int,
        c_out: int,
        kernel_size: int,
        stride: int,
        padding: int,
        dilation: int = 1,
        affine: bool = True,
        track_running_stats: bool = True,
        dims: int = 2,
    ) -> None:
        super().__init__()
        conv, bn, _, _ = layers_nd(dims)
        self.op = nn.Sequential(
            nn.ReLU(inplace=False),
            conv(
                c_in, c_out, kernel_size, stride=stride, padding=padding, dilation=dilation,
                bias=not affine,
            ),
            bn(c_out, affine=affine, track_running_stats=track_running_stats),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)


class Pooling(nn.Module):
    """3x3 average or max pooling (padding 1), preceded by a 1x1 ReLU-Conv-BN when widths differ.

    Average pooling excludes the zero padding from the divisor (``count_include_pad=False``).
    """

    def __init__(
        self,
        c_in: int,
        c_out: int,
        stride: int,
        mode: str,
        affine: bool = True,
        track_running_stats: bool = True,
        dims: int = 2,
    ) -> None:
        super().__init__()
        _, _, avg, mx = layers_nd(dims)
        self.preprocess = (
            None if c_in == c_out
            else ReLUConvBN(c_in, c_out, 1, 1, 0, 1, affine, track_running_stats, dims)
        )
        if mode == "avg":
            self.op: nn.Module = avg(3, stride=stride, padding=1, count_include_pad=False)
        elif mode == "max":
            self.op = mx(3, stride=stride, padding=1)
        else:
            raise ConfigError(f"pooling mode {mode!r} is not one of 'avg', 'max'")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.preprocess is not None:
            x = self.preprocess(x)
        return self.op(x)


class Identity(nn.Module):
    """Returns its input unchanged (skip connection with equal width and stride 1)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


class Zero(nn.Module):
    """The "none"/zeroize operation: an all-zero map of shape ``[B, c_out, H/stride, W/stride]``.

    Cells skip these edges when summing (adding zeros changes nothing); the module exists so
    that an edge list and its module list stay aligned (and checkpoint keys match).
    """

    is_zero = True

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.c_in, self.c_out, self.stride = c_in, c_out, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return zeros_like_output(x, self.c_out, self.stride)

    def extra_repr(self) -> str:
        return f"c_in={self.c_in}, c_out={self.c_out}, stride={self.stride}"


def zeros_like_output(x: torch.Tensor, channels: int, stride: int) -> torch.Tensor:
    """Zeros ``[B, channels, *ceil(S / stride)]`` for an input ``x`` ``[B, c, *S]`` (any dims)."""
    return x.new_zeros((x.shape[0], channels, *((n + stride - 1) // stride for n in x.shape[2:])))


class FactorizedReduce(nn.Module):
    """A skip connection that changes the width and/or halves the resolution.

    stride 2: ReLU, then two 1x1 stride-2 convolutions, one on the input and one on the input
    shifted by one pixel (so together they see every pixel), concatenated to ``c_out`` channels,
    then BN.  stride 1 (width change only): 1x1 convolution then BN, without a ReLU, as in the
    official NATS-Bench networks (the sss cell's first skip edge uses it).
    """

    def __init__(
        self, c_in: int, c_out: int, stride: int, affine: bool = True,
        track_running_stats: bool = True, dims: int = 2,
    ) -> None:
        super().__init__()
        conv, bn, _, _ = layers_nd(dims)
        self.stride, self.dims = stride, dims
        if stride == 2:
            self.relu = nn.ReLU(inplace=False)
            halves = (c_out // 2, c_out - c_out // 2)
            self.convs = nn.ModuleList(
                conv(c_in, c, 1, stride=2, padding=0, bias=not affine) for c in halves
            )
        elif stride == 1:
            self.conv = conv(c_in, c_out, 1, stride=1, padding=0, bias=not affine)
        else:
            raise ConfigError(f"FactorizedReduce stride {stride} is not one of 1, 2")
        self.bn = bn(c_out, affine=affine, track_running_stats=track_running_stats)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 2:
            x = self.relu(x)
            # The shifted path reads pixels (1, 1), (1, 3), ...; pad bottom/right by one so odd
            # sizes give the same output size as the unshifted path.
            if self.dims == 1:
                shifted = nn.functional.pad(x, (0, 1))[:, :, 1:]
            else:
                shifted = nn.functional.pad(x, (0, 1, 0, 1))[:, :, 1:, 1:]
            out = torch.cat([self.convs[0](x), self.convs[1](shifted)], dim=1)
        else:
            out = self.conv(x)
        return self.bn(out)


class SepConv(nn.Module):
    """DARTS separable convolution: (ReLU, depthwise kxk, pointwise 1x1, BN) x ``repeats``.

    The first repetition carries the stride and keeps ``c_in`` channels when ``repeats > 1``;
    the last maps to ``c_out``.  ``repeats=1`` with ``dilation=2`` is DARTS' ``dil_conv``.
    """

    def __init__(
        self, c_in: int, c_out: int, kernel_size: int, stride: int, dilation: int = 1,
        repeats: int = 2, affine: bool = True, track_running_stats: bool = True,
        dims: int = 2,
    ) -> None:
        super().__init__()
        conv, bn, _, _ = layers_nd(dims)
        padding = dilation * (kernel_size - 1) // 2
        layers: list[nn.Module] = []
        for r in range(repeats):
            last = r == repeats - 1
            out = c_out if last else c_in
            layers += [
                nn.ReLU(inplace=False),
                conv(
                    c_in, c_in, kernel_size, stride=stride if r == 0 else 1, padding=padding,
                    dilation=dilation, groups=c_in, bias=False,
                ),
                conv(c_in, out, 1, padding=0, bias=not affine),
                bn(out, affine=affine, track_running_stats=track_running_stats),
            ]
        self.op = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)


def DilConv(
    c_in: int, c_out: int, kernel_size: int, stride: int, affine: bool = True,
    track_running_stats: bool = True, dims: int = 2,
) -> SepConv:
    """DARTS dilated separable convolution: one (ReLU, depthwise dilation-2, pointwise, BN)."""
    return SepConv(c_in, c_out, kernel_size, stride, dilation=2, repeats=1, affine=affine,
                   track_running_stats=track_running_stats, dims=dims)


class ResidualBlock(nn.Module):
    """The basic residual block that joins the NATS-Bench stages (He et al. 2016).

    Main path: 3x3 ReLU-Conv-BN (stride ``stride``) then 3x3 ReLU-Conv-BN; shortcut for stride 2:
    2x2 average pooling (stride 2) then a bias-free 1x1 convolution (no BN); for stride 1 with a
    width change a 1x1 ReLU-Conv-BN; otherwise the identity.  Output = main + shortcut.
    """

    def __init__(self, c_in: int, c_out: int, stride: int, affine: bool = True,
                 track_running_stats: bool = True) -> None:
        super().__init__()
        if stride not in (1, 2):
            raise ConfigError(f"ResidualBlock stride {stride} is not one of 1, 2")
        self.conv_a = ReLUConvBN(c_in, c_out, 3, stride, 1, 1, affine, track_running_stats)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1, 1, 1, affine, track_running_stats)
        if stride == 2:
            self.downsample: nn.Module | None = nn.Sequential(
                nn.AvgPool2d(kernel_size=2, stride=2, padding=0),
                nn.Conv2d(c_in, c_out, kernel_size=1, stride=1, padding=0, bias=False),
            )
        elif c_in != c_out:
            self.downsample = ReLUConvBN(c_in, c_out, 1, 1, 0, 1, affine, track_running_stats)
        else:
            self.downsample = None
        self.in_dim, self.out_dim, self.stride = c_in, c_out, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = x if self.downsample is None else self.downsample(x)
        return residual + self.conv_b(self.conv_a(x))

    def extra_repr(self) -> str:
        return f"c_in={self.in_dim}, c_out={self.out_dim}, stride={self.stride}"


def _skip(c_in: int, c_out: int, stride: int, affine: bool, trs: bool, dims: int = 2
          ) -> nn.Module:
    if stride == 1 and c_in == c_out:
        return Identity()
    return FactorizedReduce(c_in, c_out, stride, affine, trs, dims)


def _conv(k: int) -> Callable[..., nn.Module]:
    return lambda ci, co, s, a, t, n=2: ReLUConvBN(ci, co, k, s, (k - 1) // 2, 1, a, t, n)


def _sep(k: int) -> Callable[..., nn.Module]:
    return lambda ci, co, s, a, t, n=2: SepConv(ci, co, k, s, 1, 2, a, t, n)


def _dil(k: int) -> Callable[..., nn.Module]:
    return lambda ci, co, s, a, t, n=2: DilConv(ci, co, k, s, a, t, n)


#: Operation name -> factory ``(c_in, c_out, stride, affine, track_running_stats, dims=2)
#: -> Module``. NATS-Bench names (tss) and DARTS names (darts/extcell) share one table.
OPS: dict[str, Callable[..., nn.Module]] = {
    "none": lambda ci, co, s, a, t, n=2: Zero(ci, co, s),
    "skip_connect": _skip,
    "nor_conv_1x1": _conv(1),
    "nor_conv_3x3": _conv(3),
    "nor_conv_7x7": _conv(7),
    "avg_pool_3x3": lambda ci, co, s, a, t, n=2: Pooling(ci, co, s, "avg", a, t, n),
    "max_pool_3x3": lambda ci, co, s, a, t, n=2: Pooling(ci, co, s, "max", a, t, n),
    "sep_conv_3x3": _sep(3),
    "sep_conv_5x5": _sep(5),
    "sep_conv_7x7": _sep(7),
    "dil_conv_3x3": _dil(3),
    "dil_conv_5x5": _dil(5),
}


def make_op(
    name: str, c_in: int, c_out: int, stride: int, affine: bool = True,
    track_running_stats: bool = True, dims: int = 2,
) -> nn.Module:
    """Build operation ``name`` mapping ``c_in`` to ``c_out`` channels with ``stride``
    (``dims``: 2 for images ``[B, C, H, W]``, 1 for sequences ``[B, C, L]``).

    Raises InvalidArchError for an unknown name (the message lists the known ones).
    """
    try:
        factory = OPS[name]
    except KeyError:
        raise InvalidArchError(
            f"unknown operation {name!r}; valid operations: {', '.join(sorted(OPS))}"
        ) from None
    return factory(c_in, c_out, stride, affine, track_running_stats, dims)

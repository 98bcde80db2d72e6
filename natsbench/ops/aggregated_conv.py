"""Aggregated (multi-scale) convolution of DASH (Shen et al., NeurIPS 2022, sec. 3.2).

One layer holds a weight per candidate ``(k, d)`` in ``K x D`` (kernel sizes x dilations) and
computes ``sum_{k,d} a_{k,d} * conv_{k,d}(x)`` with architecture weights ``a = softmax(alpha /
T)`` or a Gumbel-softmax sample. Three interchangeable implementations give identical outputs
(up to float rounding) and gradients:

``mixed_results``
    one direct convolution per candidate, weighted sum of the outputs (DARTS-style);
    cost ~ ``|D| * sum(K)`` taps per output element.
``mixed_weights``
    all dilated candidate kernels, scaled by ``a``, are summed into one kernel of the largest
    effective size ``E = max_d d * (max_k - 1) + 1`` (DASH technique 1), then one direct
    convolution; cost ~ ``E`` taps per output element.
``fft``
    the same mixed kernel is scattered straight into the FFT buffer and one Fourier
    convolution is done (DASH technique 2); cost ~ ``log(L + min(E / 2, L))`` per element,
    almost independent of ``K`` and ``D`` (taps that can only read padding are dropped, see
    :mod:`natsbench.ops.fft_conv`).

Dilated kernels are never built by a loop over kernel positions: every candidate's taps are
placed with one ``index_add`` over precomputed strided positions (``d * j + offset``), the
scatter form of DASH's Kronecker dilation (technique 3), for all candidates at once.

Alignment: each candidate is applied with its own ``padding`` ("same": PyTorch's rule, left
``(e - 1) // 2``; "causal": left ``e - 1``), so inside the mixed kernel it sits at offset
``left(E) - left(e)``; this is what makes the three modes agree for odd and even sizes.
Stride is applied by subsampling the stride-1 result (what ``F.conv`` with that padding does).
"""
from __future__ import annotations

import functools
import math
from typing import Literal, Sequence

from natsbench._optional import require

require("torch", extra="train")  # before importing it: a missing torch names the extra
import torch  # noqa: E402
import torch.nn.functional as F
from torch import Tensor, nn

from natsbench.errors import ConfigError
from natsbench.ops.fft_conv import (
    effective_size,
    fft_buffer_sizes,
    place_taps,
    resolve_padding,
    spectral_correlate,
    tap_index,
    useful_window,
)
from natsbench.ops.gumbel import gumbel_perturb

__all__ = [
    "MODES",
    "WEIGHT_SAMPLINGS",
    "AGG_PADDINGS",
    "candidates",
    "arch_weights",
    "aggregated_conv",
    "mixed_kernel",
    "AggregatedConv",
    "AggregatedConv1d",
    "AggregatedConv2d",
    "arch_parameters",
]

Mode = Literal["mixed_results", "mixed_weights", "fft"]
MODES: tuple[str, ...] = ("mixed_results", "mixed_weights", "fft")
WEIGHT_SAMPLINGS: tuple[str, ...] = ("softmax", "gumbel")
#: paddings under which candidates of different sizes can be mixed into one kernel
AGG_PADDINGS: tuple[str, ...] = ("same", "causal")


def candidates(kernel_sizes: Sequence[int], dilations: Sequence[int]) -> list[tuple[int, int]]:
    """The ``(k, d)`` candidates in the order of the architecture weights (``k`` major)."""
    return [(int(k), int(d)) for k in kernel_sizes for d in dilations]


def _validate_space(kernel_sizes: Sequence[int], dilations: Sequence[int]) -> None:
    if not kernel_sizes or not dilations:
        raise ConfigError(f"kernel_sizes {list(kernel_sizes)!r} and dilations "
                          f"{list(dilations)!r} must both be non-empty")
    for name, vals in (("kernel_sizes", kernel_sizes), ("dilations", dilations)):
        if any(int(v) < 1 for v in vals) or len(set(vals)) != len(vals):
            raise ConfigError(f"{name} {list(vals)!r} must be distinct positive ints")


def _validate_mode(mode: str) -> None:
    if mode not in MODES:
        raise ConfigError(f"mode {mode!r} is not valid; use one of {MODES}")


def arch_weights(logits: Tensor, *, sampling: str = "softmax", temperature: float = 1.0,
                 generator: torch.Generator | None = None) -> Tensor:
    """Normalise architecture logits into mixing weights (a point of the simplex).

    Args:
        logits: ``[n]`` architecture parameters.
        sampling: ``"softmax"`` -> ``softmax(logits / T)``; ``"gumbel"`` -> the soft
            Gumbel-softmax sample ``softmax((log_softmax(logits) + g) / T)`` with
            ``g ~ Gumbel(0, 1)`` drawn from ``generator`` (a CPU ``torch.Generator``;
            :func:`natsbench.ops.gumbel.gumbel_perturb`).
        temperature: ``T > 0``.
        generator: required for ``"gumbel"``.
    """
    if temperature <= 0:
        raise ConfigError(f"temperature {temperature!r} must be > 0")
    if sampling == "softmax":
        return torch.softmax(logits / temperature, dim=-1)
    if sampling == "gumbel":
        if generator is None:
            raise ConfigError("sampling='gumbel' needs a torch.Generator (pass generator=...)")
        return torch.softmax(gumbel_perturb(logits, temperature, generator), dim=-1)
    raise ConfigError(f"weight sampling {sampling!r} is not valid; use one of {WEIGHT_SAMPLINGS}")


@functools.lru_cache(maxsize=512)
def _candidate_index(kernel_sizes: tuple[int, ...], dilations: tuple[int, ...], nd: int,
                     padding: str, shift: tuple[int, ...], buffer: tuple[int, ...],
                     window: tuple[tuple[int, int], ...] | None,
                     device: str) -> tuple[Tensor, Tensor | None]:
    """Buffer positions of the taps of all candidates, in :func:`_scaled_taps` order.

    Candidate ``(k, d)`` starts at ``shift - left(e)`` per dimension (mod ``buffer``). Taps with
    offsets outside ``window`` are dropped; returns ``(index, keep)`` as :func:`tap_index`.
    """
    dev = torch.device(device)
    index_parts, keep_parts, kept_all, first = [], [], True, 0
    for k in kernel_sizes:
        for d in dilations:
            left = resolve_padding(padding, (effective_size(k, d),) * nd)
            start = tuple(s - lft for s, (lft, _) in zip(shift, left))
            index, keep = tap_index((k,) * nd, (d,) * nd, start, buffer, window=window,
                                    device=dev)
            count = k ** nd
            if keep is None:
                keep = torch.arange(count, dtype=torch.int64, device=dev)
            else:
                kept_all = False
            index_parts.append(index)
            keep_parts.append(keep + first)
            first += count
    return torch.cat(index_parts), (None if kept_all else torch.cat(keep_parts))


def _scaled_taps(weights: Sequence[Tensor], coef: Tensor, n_dil: int) -> Tensor:
    """``[O, C/g, T]``: every candidate's taps times its architecture weight (k major)."""
    parts = []
    for i, w in enumerate(weights):
        c = coef[i * n_dil:(i + 1) * n_dil].to(w.dtype)
        scaled = w * c.reshape((n_dil,) + (1,) * (w.dim() - 1))     # [|D|, O, C/g, *k]
        parts.append(scaled.movedim(0, 2).flatten(2))                # [O, C/g, |D| * k^nd]
    return torch.cat(parts, dim=-1)


def _max_effective(kernel_sizes: Sequence[int], dilations: Sequence[int]) -> int:
    return max(effective_size(k, d) for k in kernel_sizes for d in dilations)


def mixed_kernel(weights: Sequence[Tensor], coef: Tensor, kernel_sizes: Sequence[int],
                 dilations: Sequence[int], padding: str = "same") -> Tensor:
    """The single kernel ``sum a_{k,d} * pad(dilate(w_{k,d}))`` of size ``E`` per dimension.

    Args:
        weights: per kernel size ``k`` (same order as ``kernel_sizes``) a tensor
            ``[|D|, O, C/g, *(k,)*nd]``.
        coef: ``[|K| * |D|]`` architecture weights, ``k`` major.
        padding: ``"same"`` or ``"causal"`` (decides where each candidate sits).

    Returns:
        ``[O, C/g, *(E,)*nd]``; conv with it (same padding rule) equals the weighted sum of the
        candidate convolutions.
    """
    nd = weights[0].dim() - 3
    big = _max_effective(kernel_sizes, dilations)
    (left_big, _), = resolve_padding(padding, (big,))
    buffer = (big,) * nd
    index, _ = _candidate_index(tuple(kernel_sizes), tuple(dilations), nd, padding,
                                (left_big,) * nd, buffer, None, str(weights[0].device))
    return place_taps(_scaled_taps(weights, coef, len(dilations)), index, buffer)


def _direct_conv(x: Tensor, weight: Tensor, pads: Sequence[tuple[int, int]], dilation: int,
                 stride: int, groups: int) -> Tensor:
    """``F.conv{1,2}d`` with explicit (possibly asymmetric) padding."""
    conv = F.conv1d if weight.dim() == 3 else F.conv2d
    if all(left == right for left, right in pads):
        return conv(x, weight, None, stride=stride, padding=tuple(p for p, _ in pads),
                    dilation=dilation, groups=groups)
    flat = [p for pair in reversed(pads) for p in pair]   # F.pad wants last dim first
    return conv(F.pad(x, flat), weight, None, stride=stride, dilation=dilation, groups=groups)


def aggregated_conv(x: Tensor, weights: Sequence[Tensor], coef: Tensor,
                    kernel_sizes: Sequence[int], dilations: Sequence[int], *,
                    mode: str = "fft", bias: Tensor | None = None, padding: str = "same",
                    stride: int = 1, groups: int = 1) -> Tensor:
    """Weighted sum of the ``K x D`` candidate convolutions of ``x``.

    Args:
        x: ``[B, C, *S]`` with 1 or 2 spatial dims.
        weights: per kernel size a tensor ``[|D|, O, C/groups, *(k,)*nd]`` (square kernels).
        coef: ``[|K| * |D|]`` architecture weights, ``k`` major (see :func:`candidates`).
        kernel_sizes, dilations: the candidate sets.
        mode: ``"mixed_results"``, ``"mixed_weights"`` or ``"fft"`` (same result).
        bias: ``[O]`` shared by all candidates, or None.
        padding: ``"same"`` (output size ``ceil(S / stride)``) or ``"causal"`` (1D).
        stride: subsampling of the stride-1 output.
        groups: channel groups (``groups == C == O`` is depthwise).

    Returns:
        ``[B, O, *S_out]``.
    """
    _validate_mode(mode)
    _validate_space(kernel_sizes, dilations)
    if padding not in AGG_PADDINGS:
        raise ConfigError(f"padding {padding!r} is not valid for an aggregated convolution; "
                          f"use one of {AGG_PADDINGS}")
    nd = x.dim() - 2
    if nd not in (1, 2) or any(w.dim() != nd + 3 for w in weights):
        raise ConfigError(f"x has shape {tuple(x.shape)} and weights "
                          f"{[tuple(w.shape) for w in weights]}; expected [B, C, *S] with 1 or 2 "
                          "spatial dims and weights [|D|, O, C/groups, *k]")
    if len(weights) != len(kernel_sizes) or coef.numel() != len(kernel_sizes) * len(dilations):
        raise ConfigError(f"{len(weights)} weight tensors and {coef.numel()} coefficients do not "
                          f"match kernel_sizes {list(kernel_sizes)} x dilations {list(dilations)}")
    n_dil = len(dilations)
    if mode == "mixed_results":
        out = None
        for i, (k, w) in enumerate(zip(kernel_sizes, weights)):
            for j, d in enumerate(dilations):
                pads = resolve_padding(padding, (effective_size(k, d),) * nd)
                y = _direct_conv(x, w[j], pads, d, stride, groups) * coef[i * n_dil + j]
                out = y if out is None else out + y
    elif mode == "mixed_weights":
        kernel = mixed_kernel(weights, coef, kernel_sizes, dilations, padding=padding)
        pads = resolve_padding(padding, kernel.shape[2:])
        out = _direct_conv(x, kernel.to(x.dtype), pads, 1, stride, groups)
    else:
        big = _max_effective(kernel_sizes, dilations)
        pads = resolve_padding(padding, (big,) * nd)
        in_sizes = tuple(x.shape[2:])
        out_sizes = tuple(s + lft + rgt - big + 1 for s, (lft, rgt) in zip(in_sizes, pads))
        buffer = fft_buffer_sizes(in_sizes, pads, out_sizes, (big,) * nd)
        window = tuple(useful_window(s_in, s_out) for s_in, s_out in zip(in_sizes, out_sizes))
        # each candidate placed at -left(e): the mixing is fused into the FFT buffer
        index, keep = _candidate_index(tuple(kernel_sizes), tuple(dilations), nd, padding,
                                       (0,) * nd, buffer, window, str(x.device))
        taps = _scaled_taps(weights, coef, n_dil)
        if keep is not None:
            taps = taps.index_select(-1, keep)
        kbuf = place_taps(taps, index, buffer)
        out = spectral_correlate(x, kbuf, buffer, out_sizes, groups=groups)
        if stride > 1:
            out = out[(slice(None), slice(None)) + (slice(None, None, stride),) * nd]
    if bias is not None:
        out = out + bias.to(out.dtype).reshape((1, -1) + (1,) * nd)
    return out


class AggregatedConv(nn.Module):
    """Searchable convolution over kernel sizes ``K`` and dilations ``D`` (DASH ``AggConv``).

    Parameters: ``weights[i]`` of shape ``[|D|, out, in/groups, *(k_i,)*nd]`` (one kernel per
    candidate, initialised like ``nn.Conv``), an optional shared ``bias`` and
    ``arch_params`` (``[|K| * |D|]`` logits, ``k`` major, initialised to zero = uniform).

    With ``weight_sampling="gumbel"`` a fresh Gumbel sample is drawn per forward pass in
    training mode from a generator seeded by ``(seed, draw count)`` (reproducible, picklable);
    in eval mode the deterministic ``softmax(alpha / T)`` is used.

    Args:
        in_channels, out_channels, groups: as ``nn.Conv``.
        kernel_sizes, dilations: candidate sets (square kernels and dilations in 2D).
        mode: ``"fft"`` (default), ``"mixed_weights"`` or ``"mixed_results"``; can be changed
            later through the attribute of the same name.
        weight_sampling: ``"softmax"`` or ``"gumbel"``; temperature ``T``.
        stride: output subsampling; padding: ``"same"`` or ``"causal"`` (1D).
        seed: seed of the Gumbel noise.
    """

    ndim: int = 0

    def __init__(self, in_channels: int, out_channels: int, kernel_sizes: Sequence[int],
                 dilations: Sequence[int], *, mode: str = "fft",
                 weight_sampling: str = "softmax", temperature: float = 1.0, stride: int = 1,
                 groups: int = 1, bias: bool = True, padding: str = "same", seed: int = 0,
                 device: torch.device | str | None = None,
                 dtype: torch.dtype | None = None) -> None:
        super().__init__()
        if self.ndim not in (1, 2):
            raise TypeError("use AggregatedConv1d or AggregatedConv2d")
        _validate_space(kernel_sizes, dilations)
        _validate_mode(mode)
        if weight_sampling not in WEIGHT_SAMPLINGS:
            raise ConfigError(f"weight_sampling {weight_sampling!r} is not valid; use one of "
                              f"{WEIGHT_SAMPLINGS}")
        if padding not in AGG_PADDINGS or (padding == "causal" and self.ndim != 1):
            raise ConfigError(f"padding {padding!r} is not valid for {type(self).__name__}; use "
                              f"{'one of ' + str(AGG_PADDINGS) if self.ndim == 1 else 'same'}")
        if groups < 1 or in_channels % groups or out_channels % groups:
            raise ConfigError(f"groups={groups} must divide in_channels={in_channels} and "
                              f"out_channels={out_channels}")
        if temperature <= 0 or stride < 1:
            raise ConfigError(f"temperature {temperature!r} must be > 0 and stride {stride!r} >= 1")
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_sizes = tuple(int(k) for k in kernel_sizes)
        self.dilations = tuple(int(d) for d in dilations)
        self.mode = mode
        self.weight_sampling = weight_sampling
        self.temperature = float(temperature)
        self.stride, self.groups, self.padding = int(stride), int(groups), padding
        self.seed = int(seed)
        self._draws = 0
        factory = {"device": device, "dtype": dtype}
        cpg = in_channels // groups
        self.weights = nn.ParameterList()
        for k in self.kernel_sizes:
            w = torch.empty((len(self.dilations), out_channels, cpg) + (k,) * self.ndim)
            bound = 1.0 / math.sqrt(cpg * k ** self.ndim)   # nn.Conv's default init
            w.uniform_(-bound, bound, generator=self._init_generator(k))
            self.weights.append(nn.Parameter(w.to(**factory)))
        if bias:
            bound = 1.0 / math.sqrt(cpg * min(self.kernel_sizes) ** self.ndim)
            b = torch.empty(out_channels).uniform_(-bound, bound,
                                                   generator=self._init_generator(0))
            self.bias = nn.Parameter(b.to(**factory))
        else:
            self.register_parameter("bias", None)
        self.arch_params = nn.Parameter(torch.zeros(len(self.kernel_sizes) * len(self.dilations),
                                                    **factory))

    def _init_generator(self, salt: int) -> torch.Generator:
        return torch.Generator().manual_seed(self.seed * 1_000_003 + 7919 * salt + 1)

    @property
    def candidates(self) -> list[tuple[int, int]]:
        """``(k, d)`` per entry of ``arch_params``."""
        return candidates(self.kernel_sizes, self.dilations)

    def __setattr__(self, name: str, value: object) -> None:
        if name == "mode":
            _validate_mode(str(value))
        super().__setattr__(name, value)

    def arch_weights(self) -> Tensor:
        """Mixing weights for the next forward pass (see the class docstring)."""
        if self.weight_sampling == "gumbel" and self.training:
            gen = torch.Generator().manual_seed((self.seed * 2_654_435_761 + self._draws) % 2**63)
            self._draws += 1
            return arch_weights(self.arch_params, sampling="gumbel",
                                temperature=self.temperature, generator=gen)
        return arch_weights(self.arch_params, sampling="softmax", temperature=self.temperature)

    def forward(self, x: Tensor, arch_weights: Tensor | None = None) -> Tensor:
        """``x``: ``[B, in, *S]`` -> ``[B, out, *ceil(S / stride)]``. ``arch_weights`` overrides
        the module's own mixing weights (``[|K| * |D|]``)."""
        coef = self.arch_weights() if arch_weights is None else arch_weights
        return aggregated_conv(x, list(self.weights), coef, self.kernel_sizes, self.dilations,
                               mode=self.mode, bias=self.bias, padding=self.padding,
                               stride=self.stride, groups=self.groups)

    def selected(self) -> tuple[int, int]:
        """The ``(k, d)`` with the largest architecture parameter."""
        return self.candidates[int(torch.argmax(self.arch_params.detach()))]

    def discretize(self) -> nn.Module:
        """A plain ``nn.Conv{1,2}d`` (wrapped with a zero pad when the padding is asymmetric)
        with the selected kernel size and dilation and a copy of that candidate's weights.

        Equal to this module when its architecture weights are one-hot on the selection.
        """
        k, d = self.selected()
        i, j = self.kernel_sizes.index(k), self.dilations.index(d)
        pads = resolve_padding(self.padding, (effective_size(k, d),) * self.ndim)
        symmetric = all(left == right for left, right in pads)
        conv_cls = nn.Conv1d if self.ndim == 1 else nn.Conv2d
        src = self.weights[i]
        conv = conv_cls(self.in_channels, self.out_channels, k, stride=self.stride,
                        padding=pads[0][0] if symmetric else 0, dilation=d, groups=self.groups,
                        bias=self.bias is not None, device=src.device, dtype=src.dtype)
        with torch.no_grad():
            conv.weight.copy_(src[j])
            if self.bias is not None:
                conv.bias.copy_(self.bias)
        if symmetric:
            return conv
        pad_cls = nn.ConstantPad1d if self.ndim == 1 else nn.ConstantPad2d
        flat = tuple(p for pair in reversed(pads) for p in pair)
        return nn.Sequential(pad_cls(flat, 0.0), conv)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_sizes={self.kernel_sizes}, "
                f"dilations={self.dilations}, mode={self.mode!r}, stride={self.stride}, "
                f"groups={self.groups}, padding={self.padding!r}, "
                f"weight_sampling={self.weight_sampling!r}, temperature={self.temperature}")


class AggregatedConv1d(AggregatedConv):
    """Aggregated convolution on ``[B, C, L]`` inputs."""

    ndim = 1


class AggregatedConv2d(AggregatedConv):
    """Aggregated convolution on ``[B, C, H, W]`` inputs (square kernels and dilations)."""

    ndim = 2


def arch_parameters(model: nn.Module) -> list[nn.Parameter]:
    """The ``arch_params`` of every :class:`AggregatedConv` in ``model`` (for their own
    optimizer, as DASH uses)."""
    return [m.arch_params for m in model.modules() if isinstance(m, AggregatedConv)]

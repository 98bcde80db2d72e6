"""Convolution through the Fourier domain, equal to ``torch.nn.functional.conv1d/conv2d``.

The functions here compute the same *cross-correlation* as ``F.conv1d`` / ``F.conv2d`` with
stride 1 (any kernel size, odd or even, any dilation, ``"same"``/``"valid"``/integer padding,
groups, batch), but as an element-wise product of real FFTs (``torch.fft.rfftn``). They are
differentiable through autograd and device-agnostic (CPU or CUDA, whatever device ``x`` is on).

How the zero padding is done without wrap-around
------------------------------------------------
Along one spatial dimension let the input have length ``L_in``, the padding be ``(left, right)``
and the dilated ("effective") kernel size be ``e = dilation * (k - 1) + 1``; the output length
is ``L_out = L_in + left + right - e + 1`` and

    y[t] = sum_j w[j] * x[t - left + j * dilation]     (x is zero outside [0, L_in)).

We take a circular correlation of length ``n`` of the un-padded input with a kernel buffer in
which tap ``j`` sits at position ``(j * dilation - left) mod n``. Tap ``j`` (offset
``r = j * dilation - left``) makes ``y[0 .. L_out)`` read input positions
``[r, L_out - 1 + r]``; if ``n >= L_in - r`` and ``n >= L_out + r`` (and ``n >= L_out``),
every position outside ``[0, L_in)`` lands (mod ``n``) in the zero tail ``[L_in, n)`` of the
implicitly zero-padded input, so the circular result *is* the linear one: no wrap-around, and
no explicit padding of ``x``. Taps whose offset is outside ``[-(L_out - 1), L_in - 1]`` read
nothing but padding and are left out, so ``n`` never needs to exceed ``L_in + L_out - 1``
even for kernels much larger than the input (DASH's 311-wide kernels on 32x32 images); taps
that share a buffer slot are summed, which is exact by linearity. ``n`` is then rounded up to
a 5-smooth even number, which FFT libraries transform fastest.

In the Fourier domain the correlation is ``Y = X * conj(W)``; channels are contracted per
frequency (one batched complex matmul over contiguous operands; depthwise convolutions use a
plain element-wise product).

Half-precision inputs (CUDA AMP) are transformed in float32 and the result is cast back.
"""
from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING, Sequence, Union

from natsbench._optional import require

require("torch", extra="train")  # before importing it: a missing torch names the extra
import torch  # noqa: E402

from natsbench.errors import ConfigError  # noqa: E402

if TYPE_CHECKING:  # pragma: no cover
    from torch import Tensor

__all__ = [
    "Padding",
    "fft_conv1d",
    "fft_conv2d",
    "fft_conv",
    "resolve_padding",
    "effective_size",
    "fast_fft_size",
    "fft_buffer_sizes",
    "useful_window",
    "tap_index",
    "place_taps",
    "spectral_correlate",
]

#: ``"same"``, ``"valid"``, ``"causal"`` (all padding on the left/top), an int (symmetric, all
#: dimensions) or one int per spatial dimension (symmetric), as in ``F.conv1d``/``F.conv2d``.
Padding = Union[str, int, Sequence[int]]

_PADDING_STRINGS = ("same", "valid", "causal")


def effective_size(kernel_size: int, dilation: int) -> int:
    """Size covered by a dilated kernel: ``dilation * (kernel_size - 1) + 1``."""
    return dilation * (kernel_size - 1) + 1


def resolve_padding(padding: Padding, effective: Sequence[int]) -> tuple[tuple[int, int], ...]:
    """Turn a padding spec into ``((left, right), ...)`` per spatial dimension.

    ``"same"`` follows PyTorch: total ``e - 1``, ``(e - 1) // 2`` on the left and the rest on the
    right (so even effective sizes put the extra element on the right). ``"causal"`` puts all
    ``e - 1`` on the left (output ``t`` sees inputs ``<= t``).

    Args:
        padding: see :data:`Padding`.
        effective: effective (dilated) kernel size per spatial dimension.
    """
    nd = len(effective)
    if isinstance(padding, str):
        if padding == "same":
            return tuple(((e - 1) // 2, e - 1 - (e - 1) // 2) for e in effective)
        if padding == "valid":
            return tuple((0, 0) for _ in effective)
        if padding == "causal":
            return tuple((e - 1, 0) for e in effective)
        raise ConfigError(f"padding {padding!r} is not valid; use one of {_PADDING_STRINGS}, "
                          "an int or a sequence of ints")
    if isinstance(padding, int):
        pads = (padding,) * nd
    else:
        pads = tuple(int(p) for p in padding)
        if len(pads) != nd:
            raise ConfigError(f"padding {padding!r} has {len(pads)} entries; expected {nd} "
                              f"(one per spatial dimension)")
    if any(p < 0 for p in pads):
        raise ConfigError(f"padding {padding!r} must be >= 0")
    return tuple((p, p) for p in pads)


@functools.lru_cache(maxsize=4096)
def fast_fft_size(n: int) -> int:
    """Smallest even 5-smooth integer (``2^a 3^b 5^c``, ``a >= 1``) that is ``>= n``."""
    if n <= 2:
        return 2
    best = 2 ** math.ceil(math.log2(n))
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            # smallest power-of-two multiple (at least x2, to be even) of p35 that reaches n
            m = p35 * 2
            while m < n:
                m *= 2
            best = min(best, m)
            p35 *= 3
        p5 *= 5
    return best


def useful_window(in_size: int, out_size: int) -> tuple[int, int]:
    """Inclusive range of tap offsets ``r`` (output ``t`` reads input ``t + r``) that can
    touch the input at all: ``-(out_size - 1) <= r <= in_size - 1``. Taps outside it only ever
    read zero padding and can be dropped exactly."""
    return -(out_size - 1), in_size - 1


def fft_buffer_sizes(in_sizes: Sequence[int], pads: Sequence[tuple[int, int]],
                     out_sizes: Sequence[int], effective: Sequence[int]) -> tuple[int, ...]:
    """FFT length per spatial dimension that avoids wrap-around (see the module docstring).

    Tap offsets run over ``[-left, e - 1 - left]``; only those in :func:`useful_window` are
    placed, so the length needed is ``max(out, in - lowest offset, out + highest offset)``,
    at most ``in + out - 1`` however large the kernel.
    """
    sizes = []
    for s_in, (left, _), s_out, e in zip(in_sizes, pads, out_sizes, effective):
        lo_win, hi_win = useful_window(s_in, s_out)
        lo, hi = max(-left, lo_win), min(e - 1 - left, hi_win)
        sizes.append(fast_fft_size(max(s_out, s_in - lo, s_out + hi, 1)))
    return tuple(sizes)


def tap_index(kernel_size: Sequence[int], dilation: Sequence[int], start: Sequence[int],
              buffer: Sequence[int], window: Sequence[tuple[int, int]] | None = None,
              device: torch.device | None = None) -> tuple["Tensor", "Tensor | None"]:
    """Flat positions of the taps of a dilated kernel inside an n-d buffer.

    Tap ``(j1, j2, ...)`` has offset ``start_i + j_i * dilation_i`` per dimension and goes to
    ``offset mod buffer_i``, flattened in row-major order. This is the strided (Kronecker-style)
    placement of a dilated kernel: the kernel values are then scattered with one ``index_add``,
    with no loop over positions.

    Args:
        window: per dimension an inclusive offset range; taps outside it are left out.

    Returns:
        ``(index, keep)``: int64 flat positions of the kept taps, and the int64 positions of the
        kept taps in row-major tap order (None when all are kept).
    """
    # built on the CPU (tiny, and no device synchronisation), then moved to ``device``
    flat = torch.zeros((), dtype=torch.int64)
    inside = torch.ones((), dtype=torch.bool)
    for i, (k, d, s, n) in enumerate(zip(kernel_size, dilation, start, buffer)):
        offset = s + d * torch.arange(k, dtype=torch.int64)
        flat = (flat * n).unsqueeze(-1) + torch.remainder(offset, n)
        ok = torch.ones_like(offset, dtype=torch.bool)
        if window is not None:
            ok = (offset >= window[i][0]) & (offset <= window[i][1])
        inside = inside.unsqueeze(-1) & ok
    flat, inside = flat.reshape(-1), inside.reshape(-1)
    if bool(inside.all()):
        return flat.to(device), None
    keep = torch.nonzero(inside).reshape(-1)
    return flat[keep].to(device), keep.to(device)


def place_taps(values: "Tensor", index: "Tensor", buffer: Sequence[int]) -> "Tensor":
    """Scatter-add kernel taps into a zero buffer.

    Args:
        values: ``[..., T]`` tap values (e.g. ``[out, in/groups, T]``).
        index: ``[T]`` flat positions from :func:`tap_index` (repeats are summed).
        buffer: spatial buffer shape; the result is ``[..., *buffer]``.
    """
    total = math.prod(buffer)
    out = values.new_zeros(values.shape[:-1] + (total,))
    out.index_add_(-1, index, values)
    return out.reshape(values.shape[:-1] + tuple(buffer))


def spectral_correlate(x: "Tensor", kernel_buffer: "Tensor", buffer: Sequence[int],
                       out_sizes: Sequence[int], groups: int = 1) -> "Tensor":
    """Circular cross-correlation of ``x`` with a placed kernel, cropped to ``out_sizes``.

    Args:
        x: ``[B, C, *S]`` input (real).
        kernel_buffer: ``[O, C/groups, *buffer]`` kernel whose taps were placed by
            :func:`place_taps` (already shifted by the left padding).
        buffer: FFT length per spatial dimension (``>= S`` element-wise).
        out_sizes: output spatial sizes (``<= buffer``).
        groups: as in ``F.conv*d``.

    Returns:
        ``[B, O, *out_sizes]`` in ``x.dtype``.
    """
    nd = len(buffer)
    dims = tuple(range(-nd, 0))
    out_dtype = x.dtype
    if x.dtype in (torch.float16, torch.bfloat16):
        x = x.float()
    kernel_buffer = kernel_buffer.to(x.dtype)
    xf = torch.fft.rfftn(x, s=tuple(buffer), dim=dims)
    wf = torch.fft.rfftn(kernel_buffer, dim=dims).conj()
    yf = _contract(xf, wf, groups)
    y = torch.fft.irfftn(yf, s=tuple(buffer), dim=dims)
    crop = (slice(None), slice(None)) + tuple(slice(0, o) for o in out_sizes)
    return y[crop].to(out_dtype)


class _ContiguousBmm(torch.autograd.Function):
    """``torch.bmm`` whose backward multiplies by materialised conjugate transposes.

    Autograd's own backward of a complex ``bmm`` multiplies by a conjugate-transposed *view*,
    which the CPU kernel handles one matrix at a time (~20x slower than the forward).
    """

    @staticmethod
    def forward(ctx, a: "Tensor", b: "Tensor") -> "Tensor":  # type: ignore[override]
        ctx.save_for_backward(a, b)
        return torch.bmm(a, b)

    @staticmethod
    def backward(ctx, grad: "Tensor"):  # type: ignore[override]
        a, b = ctx.saved_tensors
        grad = grad.contiguous()
        grad_a = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_a = torch.bmm(grad, b.mH.resolve_conj().contiguous())
        if ctx.needs_input_grad[1]:
            grad_b = torch.bmm(a.mH.resolve_conj().contiguous(), grad)
        return grad_a, grad_b


def _contract(xf: "Tensor", wf: "Tensor", groups: int) -> "Tensor":
    """Per-frequency channel contraction ``Y[b, o, f] = sum_c X[b, c, f] W[o, c, f]`` (within
    each group).

    One input channel per group (depthwise) is a broadcast product; otherwise one batched
    complex matmul over (group, frequency) on contiguous operands (a bmm over strided views
    is an order of magnitude slower on CPU).
    """
    batch = xf.shape[0]
    out_ch, cpg = wf.shape[:2]
    freq = xf.shape[2:]
    opg = out_ch // groups
    xg = xf.reshape(batch, groups, cpg, -1)           # [B, g, c, P]
    wg = wf.reshape(groups, opg, cpg, -1)             # [g, o, c, P]
    if cpg == 1:
        yg = xg * wg[:, :, 0]                         # [B, g, o, P]
    else:
        npos = xg.shape[-1]
        xm = xg.permute(1, 3, 0, 2).contiguous().reshape(groups * npos, batch, cpg)
        wm = wg.permute(0, 3, 2, 1).resolve_conj().contiguous().reshape(groups * npos, cpg, opg)
        ym = _ContiguousBmm.apply(xm, wm).reshape(groups, npos, batch, opg)
        yg = ym.permute(2, 0, 3, 1)                   # [B, g, o, P]
    return yg.reshape(batch, out_ch, *freq)


def fft_conv(x: "Tensor", weight: "Tensor", bias: "Tensor | None" = None,
             dilation: int | Sequence[int] = 1, padding: Padding = "same",
             groups: int = 1) -> "Tensor":
    """N-d (1 or 2 spatial dims) stride-1 convolution computed with FFTs.

    Args:
        x: ``[B, C_in, *S]``.
        weight: ``[C_out, C_in / groups, *k]``.
        bias: ``[C_out]`` or None.
        dilation: int or one per spatial dimension.
        padding: see :data:`Padding`.
        groups: number of channel groups, as in ``F.conv*d``.

    Returns:
        ``[B, C_out, *S_out]`` with ``S_out = S + left + right - e + 1`` per dimension; equal to
        ``F.conv{n}d(x, weight, bias, stride=1, padding=padding, dilation=dilation,
        groups=groups)`` up to float rounding.
    """
    nd = weight.dim() - 2
    if x.dim() != nd + 2:
        raise ConfigError(f"x has shape {tuple(x.shape)}; expected {nd + 2} dims "
                          f"[batch, channels, *spatial] for a weight of shape {tuple(weight.shape)}")
    if groups < 1 or x.shape[1] % groups or weight.shape[0] % groups \
            or weight.shape[1] * groups != x.shape[1]:
        raise ConfigError(f"channels do not match: x has {x.shape[1]} channels, weight shape "
                          f"{tuple(weight.shape)}, groups={groups}; need "
                          "x.shape[1] == weight.shape[1] * groups and weight.shape[0] % groups == 0")
    dil = (dilation,) * nd if isinstance(dilation, int) else tuple(int(d) for d in dilation)
    if len(dil) != nd or any(d < 1 for d in dil):
        raise ConfigError(f"dilation {dilation!r} must be a positive int or {nd} positive ints")
    ksize = tuple(weight.shape[2:])
    eff = tuple(effective_size(k, d) for k, d in zip(ksize, dil))
    pads = resolve_padding(padding, eff)
    in_sizes = tuple(x.shape[2:])
    out_sizes = tuple(s + left + right - e + 1 for s, (left, right), e in zip(in_sizes, pads, eff))
    if any(o < 1 for o in out_sizes):
        raise ConfigError(f"input spatial size {in_sizes} is too small for effective kernel "
                          f"size {eff} with padding {pads}")
    buffer = fft_buffer_sizes(in_sizes, pads, out_sizes, eff)
    window = [useful_window(s_in, s_out) for s_in, s_out in zip(in_sizes, out_sizes)]
    index, keep = tap_index(ksize, dil, tuple(-left for left, _ in pads), buffer, window=window,
                            device=weight.device)
    taps = weight.flatten(2)
    kbuf = place_taps(taps if keep is None else taps.index_select(-1, keep), index, buffer)
    y = spectral_correlate(x, kbuf, buffer, out_sizes, groups=groups)
    if bias is not None:
        y = y + bias.to(y.dtype).reshape((1, -1) + (1,) * nd)
    return y


def _check_nd(weight: "Tensor", nd: int, name: str) -> None:
    if weight.dim() != nd + 2:
        raise ConfigError(f"{name}: weight has shape {tuple(weight.shape)}; expected "
                          f"{nd + 2} dims [out, in/groups, *kernel]")


def fft_conv1d(x: "Tensor", weight: "Tensor", bias: "Tensor | None" = None,
               dilation: int = 1, padding: Padding = "same", groups: int = 1) -> "Tensor":
    """``F.conv1d`` (stride 1) through FFTs. ``x``: ``[B, C_in, L]``; ``weight``:
    ``[C_out, C_in / groups, k]``; returns ``[B, C_out, L_out]``. See :func:`fft_conv`."""
    _check_nd(weight, 1, "fft_conv1d")
    return fft_conv(x, weight, bias, dilation=dilation, padding=padding, groups=groups)


def fft_conv2d(x: "Tensor", weight: "Tensor", bias: "Tensor | None" = None,
               dilation: int | Sequence[int] = 1, padding: Padding = "same",
               groups: int = 1) -> "Tensor":
    """``F.conv2d`` (stride 1) through FFTs. ``x``: ``[B, C_in, H, W]``; ``weight``:
    ``[C_out, C_in / groups, kh, kw]``; returns ``[B, C_out, H_out, W_out]``. See
    :func:`fft_conv`."""
    _check_nd(weight, 2, "fft_conv2d")
    return fft_conv(x, weight, bias, dilation=dilation, padding=padding, groups=groups)

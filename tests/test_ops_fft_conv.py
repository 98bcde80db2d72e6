"""FFT convolution equals torch's direct convolution, forward and backward."""
from __future__ import annotations

import itertools

import pytest

import torch
import torch.nn.functional as F  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from natsbench.ops.fft_conv import (  # noqa: E402
    fast_fft_size,
    fft_conv1d,
    fft_conv2d,
    resolve_padding,
)

RTOL = 1e-4

# torch itself warns that 'same' padding with even kernels copies the input
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    # Inputs are N(0, 1), so outputs and gradients are O(1) or larger; the floor of 1 only
    # matters where the exact result is 0 (taps that read nothing but padding), where float
    # rounding of the FFT leaves ~1e-7.
    a, b = a.detach(), b.detach()
    return float((a - b).abs().max() / b.abs().max().clamp_min(1.0))


def compare(fft_fn, ref_fn, x, w, b, **kw) -> None:
    """Forward and backward (x, weight, bias) of fft_fn vs ref_fn, float32, rel. error 1e-4."""
    xs = [x.clone().requires_grad_(True) for _ in range(2)]
    ws = [w.clone().requires_grad_(True) for _ in range(2)]
    bs = [None if b is None else b.clone().requires_grad_(True) for _ in range(2)]
    y_fft = fft_fn(xs[0], ws[0], bs[0], **kw)
    y_ref = ref_fn(xs[1], ws[1], bs[1], **kw)
    assert y_fft.shape == y_ref.shape
    assert rel_err(y_fft, y_ref) < RTOL
    gen = torch.Generator().manual_seed(3)
    grad_out = torch.randn(y_ref.shape, generator=gen)
    (y_fft * grad_out).sum().backward()
    (y_ref * grad_out).sum().backward()
    assert rel_err(xs[0].grad, xs[1].grad) < RTOL
    assert rel_err(ws[0].grad, ws[1].grad) < RTOL
    if b is not None:
        assert rel_err(bs[0].grad, bs[1].grad) < RTOL


def tensors(shape_x, shape_w, bias: bool, seed: int):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(shape_x, generator=gen)
    w = torch.randn(shape_w, generator=gen)
    b = torch.randn(shape_w[0], generator=gen) if bias else None
    return x, w, b


LENGTH_1D = 19


def _fits(k: int, d: int, padding) -> bool:
    """The dilated kernel fits the padded input (otherwise there is no output to compare)."""
    total_pad = {"same": d * (k - 1), "valid": 0}.get(padding, 2 * padding)
    return d * (k - 1) + 1 <= LENGTH_1D + total_pad


GRID_1D = [case for case in itertools.product(
    (1, 2, 4, 7),             # kernel size (odd and even)
    (1, 5),                   # dilation
    ("same", "valid", 2),     # padding
    ((4, 6, 1), (4, 4, 4), (4, 6, 2)),   # (in, out, groups): full, depthwise, grouped
) if _fits(*case[:3])]


@pytest.mark.parametrize("k,d,padding,chans", GRID_1D)
def test_fft_conv1d_matches_conv1d(k, d, padding, chans):
    cin, cout, groups = chans
    length = LENGTH_1D
    x, w, b = tensors((3, cin, length), (cout, cin // groups, k), bias=(k % 2 == 1),
                      seed=k * 100 + d)
    compare(fft_conv1d, F.conv1d, x, w, b, dilation=d, padding=padding, groups=groups)


@pytest.mark.parametrize("kernel,dilation,padding,groups", [
    ((3, 3), 1, "same", 1),
    ((3, 5), (1, 2), "same", 1),
    ((4, 4), 2, "same", 2),
    ((2, 5), (3, 1), "valid", 1),
    ((5, 3), 3, (1, 4), 4),
    ((7, 7), 5, "same", 4),       # effective 31x31 on a 13x11 input
    ((1, 1), 1, 0, 1),
])
def test_fft_conv2d_matches_conv2d(kernel, dilation, padding, groups):
    x, w, b = tensors((2, 4, 13, 11), (8, 4 // groups) + kernel, bias=True, seed=sum(kernel))
    compare(fft_conv2d, F.conv2d, x, w, b, dilation=dilation, padding=padding, groups=groups)


@settings(max_examples=30, deadline=None)
@given(length=st.integers(1, 40), k=st.integers(1, 9), d=st.integers(1, 12),
       batch=st.integers(1, 3), cin=st.integers(1, 5), cout=st.integers(1, 5),
       pad=st.one_of(st.just("same"), st.integers(0, 6)))
def test_fft_conv1d_random_shapes(length, k, d, batch, cin, cout, pad):
    """Any length, including kernels far longer than the input (the wrap-around regime)."""
    eff = d * (k - 1) + 1
    if pad != "same" and length + 2 * pad < eff:
        return
    x, w, b = tensors((batch, cin, length), (cout, cin, k), bias=True, seed=length + 7 * k)
    compare(fft_conv1d, F.conv1d, x, w, b, dilation=d, padding=pad)


def test_causal_padding_equals_left_padded_conv():
    x, w, b = tensors((2, 3, 17), (5, 3, 4), bias=True, seed=1)
    y = fft_conv1d(x, w, b, dilation=3, padding="causal")
    ref = F.conv1d(F.pad(x, (9, 0)), w, b, dilation=3)
    assert y.shape == ref.shape == (2, 5, 17)
    assert rel_err(y, ref) < RTOL


def test_gradcheck_float64():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 7, dtype=torch.float64, generator=gen, requires_grad=True)
    w = torch.randn(2, 3, 4, dtype=torch.float64, generator=gen, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: fft_conv1d(a, b, dilation=2), (x, w),
                                    fast_mode=True)
    x2 = torch.randn(1, 2, 5, 4, dtype=torch.float64, generator=gen, requires_grad=True)
    w2 = torch.randn(3, 2, 3, 2, dtype=torch.float64, generator=gen, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: fft_conv2d(a, b, padding="same"), (x2, w2),
                                    fast_mode=True)


def test_bfloat16_input_is_computed_in_float32_and_cast_back():
    x, w, _ = tensors((2, 3, 30), (4, 3, 5), bias=False, seed=5)
    y = fft_conv1d(x.bfloat16(), w.bfloat16())
    assert y.dtype == torch.bfloat16
    ref = F.conv1d(x.bfloat16().float(), w.bfloat16().float(), padding="same")
    assert rel_err(y.float(), ref) < 1e-2


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    x, w, b = tensors((4, 8, 100), (8, 8, 9), bias=True, seed=9)
    y = fft_conv1d(x.cuda(), w.cuda(), b.cuda(), dilation=4)
    assert rel_err(y.cpu(), F.conv1d(x, w, b, padding="same", dilation=4)) < RTOL


def test_fast_fft_size_is_smallest_even_5_smooth():
    def smooth(n: int) -> bool:
        for p in (2, 3, 5):
            while n % p == 0:
                n //= p
        return n == 1

    for n in range(1, 1500):
        m = fast_fft_size(n)
        assert m >= n and m % 2 == 0 and smooth(m)
        assert not any(c % 2 == 0 and smooth(c) for c in range(max(n, 2), m))


def test_resolve_padding_follows_torch_same_rule():
    assert resolve_padding("same", (8,)) == ((3, 4),)
    assert resolve_padding("same", (5, 4)) == ((2, 2), (1, 2))
    assert resolve_padding("causal", (5,)) == ((4, 0),)
    assert resolve_padding((1, 2), (3, 3)) == ((1, 1), (2, 2))


@pytest.mark.parametrize("call,match", [
    (lambda x, w: fft_conv1d(x, w, padding="full"), "padding 'full'"),
    (lambda x, w: fft_conv1d(x, w, padding=-1), "must be >= 0"),
    (lambda x, w: fft_conv1d(x, w, groups=2), "channels do not match"),
    (lambda x, w: fft_conv1d(x, w, padding="valid", dilation=10), "too small"),
    (lambda x, w: fft_conv2d(x, w), "expected 4 dims"),
])
def test_bad_arguments_raise(call, match):
    x, w, _ = tensors((1, 3, 8), (2, 3, 3), bias=False, seed=0)
    with pytest.raises(ValueError, match=match):
        call(x, w)


def test_buffer_never_exceeds_linear_size_for_huge_kernels():
    """A 311-wide same-padded kernel on a 32-wide input needs no more than 32 + 32 - 1."""
    from natsbench.ops.fft_conv import fft_buffer_sizes

    pads = resolve_padding("same", (311, 311))
    assert fft_buffer_sizes((32, 32), pads, (32, 32), (311, 311)) == (64, 64)
    # kernels that fit keep the classic requirement in + max(left, right)
    assert fft_buffer_sizes((1000,), ((155, 155),), (1000,), (311,)) == (fast_fft_size(1155),)
    x, w, b = tensors((2, 3, 32, 32), (4, 3, 11, 11), bias=True, seed=4)
    compare(fft_conv2d, F.conv2d, x, w, b, dilation=31, padding="same")

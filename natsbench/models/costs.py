"""Cost measures of a network: parameters, FLOPs and latency, in NATS-Bench's conventions.

Counting convention (matches the ``params`` / ``flop`` fields of the official NATS-Bench
records exactly; checked on every arch and dataset of the official fixtures):

* ``params``: the number of elements of ``model.parameters()`` (trainable or not; BN running
  statistics are buffers and do not count) divided by 1e6.
* ``flops``: per input sample, divided by 1e6, the count the official counter
  (``xautodl.utils.flop_benchmark``) reports, which is

  - one per multiply-accumulate (MAC) of every convolution and linear layer
    (``k_h * k_w * c_in / groups * c_out`` per output pixel; ``in * out`` per linear row),
  - plus one per output element for each bias add of a convolution or linear layer;
  - and nothing else: pooling, BN, ReLU, element-wise sums and the zero op cost 0.  (The
    official counter attaches hooks to pooling layers too, but its sum reads only conv and
    linear layers, so pooling never reaches the published numbers.)

  We run one forward pass under :class:`torch.utils.flop_counter.FlopCounterMode`, which
  counts 2 FLOPs per MAC of ``aten.convolution``/``mm``/``addmm``/``bmm``/... and ignores
  biases.  We halve its total to get MACs and add the bias work through custom formulas for
  the convolution and ``addmm`` (linear with bias) ops, so convolutions written with
  ``torch.nn.functional`` are counted the same as ``nn.Conv2d`` modules.  Without the bias
  term a plain MAC count would be low by ``num_classes`` per sample (about 1e-6 relative for
  the tss networks; more for layers with biases).  Ops FlopCounterMode has no formula for
  (e.g. FFTs) count 0.
* ``latency``: median wall time in seconds of a batch-1 forward pass in eval mode after warm-up.
"""
from __future__ import annotations

import math
import statistics
import time
from collections.abc import Sequence
from typing import Any

from natsbench._optional import require

require("torch", extra="train")  # before importing it: a missing torch names the extra
import torch  # noqa: E402
from torch import nn
from natsbench.errors import ConfigError

__all__ = ["count_params", "count_flops", "measure_latency"]


def count_params(model: nn.Module) -> float:
    """Number of parameters of ``model`` in millions (``sum(p.numel()) / 1e6``)."""
    return sum(p.numel() for p in model.parameters()) / 1e6


def _numel(shape: Sequence[int]) -> int:
    return math.prod(int(s) for s in shape)


def _conv_with_bias(x_shape: Any, w_shape: Any, bias: Any, *args: Any,
                    out_shape: Any = None, **kwargs: Any) -> int:
    """FlopCounterMode formula for a convolution: 2 * MACs + 2 * (bias adds)."""
    from torch.utils.flop_counter import conv_flop_count

    transposed = bool(args[3]) if len(args) > 3 else bool(kwargs.get("transposed", False))
    flops = conv_flop_count(list(x_shape), list(w_shape), list(out_shape), transposed=transposed)
    if bias is not None:
        flops += 2 * _numel(out_shape)
    return flops


def _addmm_with_bias(self_shape: Any, a_shape: Any, b_shape: Any, *args: Any,
                     out_shape: Any = None, **kwargs: Any) -> int:
    """FlopCounterMode formula for ``addmm`` (linear with bias): 2 * MACs + 2 * (bias adds)."""
    m, k = a_shape
    k2, n = b_shape
    if k != k2:
        raise ConfigError(f"addmm shapes do not agree: {list(a_shape)} x {list(b_shape)}")
    return 2 * m * k * n + 2 * m * n


def _custom_mapping() -> dict[Any, Any]:
    aten = torch.ops.aten
    mapping: dict[Any, Any] = {aten.addmm: _addmm_with_bias}
    for name in ("convolution", "_convolution", "cudnn_convolution", "convolution_overrideable"):
        op = getattr(aten, name, None)
        if op is not None:
            mapping[op] = _conv_with_bias
    return mapping


def _param_like(model: nn.Module) -> tuple[torch.device, torch.dtype]:
    for p in model.parameters():
        return p.device, p.dtype
    return torch.device("cpu"), torch.float32


def count_flops(model: nn.Module, input_shape: Sequence[int]) -> float:
    """FLOPs of one forward pass per sample, in millions, in the official NATS-Bench convention.

    Args:
        model: the network; run once in eval mode without gradients on an all-zero input on the
            model's device (its train/eval mode is restored afterwards).
        input_shape: full input shape including the batch dimension, e.g. ``(1, 3, 32, 32)``
            for CIFAR or ``(1, 3, 16, 16)`` for ImageNet16-120; the count is divided by the
            batch size.
    """
    from torch.utils.flop_counter import FlopCounterMode

    shape = tuple(int(s) for s in input_shape)
    if len(shape) < 2 or min(shape) < 1:
        raise ConfigError(f"input_shape must be (batch, channels, ...) with positive sizes; got {shape}")
    device, dtype = _param_like(model)
    was_training = model.training
    model.eval()
    try:
        x = torch.zeros(shape, device=device, dtype=dtype)
        counter = FlopCounterMode(display=False, custom_mapping=_custom_mapping())
        with torch.no_grad(), counter:
            model(x)
    finally:
        model.train(was_training)
    return counter.get_total_flops() / 2 / shape[0] / 1e6


def measure_latency(
    model: nn.Module,
    input_shape: Sequence[int],
    device: str | torch.device = "cpu",
    repeats: int = 20,
    warmup: int = 3,
) -> float:
    """Median seconds of one forward pass of ``model`` on an all-zero input of ``input_shape``.

    Args:
        model: moved to ``device`` in place (``nn.Module.to``) and run in eval mode under
            ``torch.inference_mode``; its train/eval mode is restored afterwards.
        input_shape: including the batch dimension; NATS-Bench latency uses batch 1,
            e.g. ``(1, 3, 32, 32)``.
        device: where to run; CUDA timings synchronize before reading the clock.
        repeats: timed forward passes (>= 1); the median is returned.
        warmup: untimed forward passes first (cuDNN autotuning, allocator, caches).
    """
    if repeats < 1 or warmup < 0:
        raise ConfigError(f"repeats must be >= 1 and warmup >= 0; got repeats={repeats}, warmup={warmup}")
    device = torch.device(device)
    model.to(device)
    _, dtype = _param_like(model)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    was_training = model.training
    model.eval()
    times: list[float] = []
    try:
        x = torch.zeros(tuple(int(s) for s in input_shape), device=device, dtype=dtype)
        with torch.inference_mode():
            for _ in range(warmup):
                model(x)
            sync()
            for _ in range(repeats):
                start = time.perf_counter()
                model(x)
                sync()
                times.append(time.perf_counter() - start)
    finally:
        model.train(was_training)
    return statistics.median(times)

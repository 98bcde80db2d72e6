"""The training loop the DASH stages share: on-device arrays, seeded batches, AMP on CUDA,
gradient clipping, several optimizers stepping on one loss, evaluation, atomic checkpoints.

Data live on the device as float32 tensors (the NAS-Bench-360 sets fit in memory as DASH's
loaders hold them too); each epoch draws its batches from one CPU ``torch.Generator``, so a seed
gives the same batches on every device and a resumed run continues the same stream.
"""
from __future__ import annotations

import contextlib
import logging
import math
import time
from typing import Any, Callable, Sequence

import numpy as np

from natsbench._optional import require

require("torch", extra="train")  # before importing it: a missing torch names the extra
import torch  # noqa: E402
from torch import nn

from natsbench.errors import ConfigError
from natsbench.tasks.data import ArraySet
from natsbench.tasks.objectives import compute_metric
from natsbench.train.checkpoint import load_checkpoint, save_checkpoint  # noqa: F401 (re-exported)

__all__ = ["Arrays", "run_epoch", "predict", "evaluate", "save_checkpoint", "load_checkpoint",
           "autocast"]

logger = logging.getLogger(__name__)


class Arrays:
    """An :class:`ArraySet` on ``device`` (inputs float32, targets int64 or float32); its
    ``ignore`` mask (dense tasks such as Cosmic, else ``None``) and ``groups`` (FSD50K's clip
    ids, else ``None``) stay host numpy arrays for :func:`evaluate`."""

    def __init__(self, data: ArraySet, device: torch.device) -> None:
        self.x = torch.from_numpy(np.ascontiguousarray(data.x, dtype=np.float32)).to(device)
        y = np.ascontiguousarray(data.y)
        self.y = torch.from_numpy(y.astype(np.int64) if y.dtype.kind in "iu" and y.ndim == 1
                                  else y.astype(np.float32)).to(device)
        self.ignore = getattr(data, "ignore", None)
        self.groups = getattr(data, "groups", None)

    def __len__(self) -> int:
        return int(self.x.shape[0])


def autocast(device: torch.device) -> contextlib.AbstractContextManager:
    """float16 autocast on CUDA, nothing on CPU."""
    if device.type == "cuda":
        return torch.autocast(device_type="cuda", dtype=torch.float16)
    return contextlib.nullcontext()


def run_epoch(net: nn.Module, data: Arrays, indices: torch.Tensor, batch_size: int,
              loss_fn: Callable, optimizers: Sequence[torch.optim.Optimizer],
              scaler: "torch.amp.GradScaler", generator: torch.Generator, *,
              clip: float | None = None, bar: Any = None) -> float:
    """One pass over ``data[indices]`` in shuffled batches; every optimizer steps on each batch.

    Returns:
        the mean training loss over the examples.
    """
    net.train()
    device = data.x.device
    order = indices[torch.randperm(len(indices), generator=generator)].to(device)
    total, seen = torch.zeros((), dtype=torch.float64, device=device), 0
    params = [p for opt in optimizers for g in opt.param_groups for p in g["params"]]
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        with autocast(device):
            loss = loss_fn(net(data.x[idx]), data.y[idx])
        for opt in optimizers:
            opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        if clip is not None:
            for opt in optimizers:
                scaler.unscale_(opt)
            torch.nn.utils.clip_grad_norm_(params, clip)
        for opt in optimizers:
            scaler.step(opt)
        scaler.update()
        total += loss.detach().double() * len(idx)
        seen += len(idx)
        if bar is not None:
            bar.update(1)
    mean = total.item() / max(seen, 1)
    if not math.isfinite(mean):
        raise FloatingPointError(f"the training loss became {mean}")
    return mean


@torch.no_grad()
def predict(net: nn.Module, data: Arrays, batch_size: int) -> np.ndarray:
    """Outputs of ``net`` (eval mode) for every example, float32 numpy."""
    net.eval()
    outs = []
    for start in range(0, len(data), batch_size):
        with autocast(data.x.device):
            outs.append(net(data.x[start:start + batch_size]).float().cpu())
    return torch.cat(outs).numpy()


def evaluate(net: nn.Module, data: Arrays, metric: str, batch_size: int) -> float:
    """The task's metric of ``net`` on ``data`` (with the set's ignore mask or groups where it
    has them)."""
    return compute_metric(metric, predict(net, data, batch_size), data.y.cpu().numpy(),
                          ignore=data.ignore, groups=data.groups)


class Stopwatch:
    """Wall seconds of a stage, carried across resumes (``before`` = time of earlier runs)."""

    def __init__(self, before: float = 0.0, device: torch.device | None = None) -> None:
        self.before, self.device = float(before), device
        self.start = time.perf_counter()

    def elapsed(self) -> float:
        if self.device is not None and self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        return self.before + time.perf_counter() - self.start


def check_indices(indices: np.ndarray | None, n: int) -> np.ndarray:
    """The training-subset hook: ``None`` -> all ``n`` examples; else checked sorted unique
    int indices into the training set."""
    if indices is None:
        return np.arange(n, dtype=np.int64)
    idx = np.unique(np.asarray(indices).astype(np.int64).reshape(-1))
    if idx.size == 0 or idx[0] < 0 or idx[-1] >= n:
        raise ConfigError(f"training subset of {idx.size} indices must be non-empty and inside "
                          f"0..{n - 1}")
    return idx

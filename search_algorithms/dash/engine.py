"""The training loop the DASH stages share: on-device arrays, seeded batches, AMP on CUDA,
gradient clipping, several optimizers stepping on one loss, evaluation, atomic checkpoints.

Data live on the device as float32 tensors when they fit (most NAS-Bench-360 sets do, as DASH's
loaders hold them in memory too); a set that is memory-mapped (FSD50K's feature cache) or too
large for the device stays on the host and moves to the device a batch at a time
(:class:`Arrays`, out of core), with the same results. Each epoch draws its batches from one CPU
``torch.Generator``, so a seed gives the same batches on every device and a resumed run
continues the same stream.
"""
from __future__ import annotations

import contextlib
import logging
import math
import time
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from natsbench._optional import require

require("torch", extra="train")  # before importing it: a missing torch names the extra
import torch  # noqa: E402
from torch import nn

from natsbench.errors import ConfigError
from natsbench.tasks.data import ArraySet, concat_sets
from natsbench.tasks.objectives import compute_metric
from natsbench.train.checkpoint import load_checkpoint, save_checkpoint  # noqa: F401 (re-exported)

__all__ = ["Arrays", "Part", "keep_on_host", "DEVICE_DATA_FRACTION", "run_epoch", "predict", "evaluate", "save_checkpoint", "load_checkpoint",
           "autocast"]

logger = logging.getLogger(__name__)


#: a set and the rows of it to use (``None``: all, in order)
Part = tuple[ArraySet, "np.ndarray | None"]

#: share of the free CUDA memory a set may fill on the device before it is kept on the host
DEVICE_DATA_FRACTION = 0.5


def _rows(s: ArraySet, rows: np.ndarray | None) -> int:
    return len(s) if rows is None else int(len(rows))


def keep_on_host(parts: Sequence[Part], device: torch.device) -> bool:
    """Whether :class:`Arrays` keeps ``parts`` on the host (out of core): when an input or
    target array is memory-mapped (``np.memmap``, e.g. a feature cache), or, on CUDA, when the
    device copy (float32 inputs; int64 class ids or float32 targets) would take more than
    :data:`DEVICE_DATA_FRACTION` of the free device memory."""
    if any(isinstance(a, np.memmap) for s, _ in parts for a in (s.x, s.y)):
        return True
    if device.type != "cuda":
        return False
    per_row = sum(4 * int(np.prod(s.x.shape[1:]))
                  + _target_dtype(s.y).itemsize * int(np.prod(s.y.shape[1:]))
                  for s, _ in parts[:1])
    nbytes = per_row * sum(_rows(s, r) for s, r in parts)
    free, _total = torch.cuda.mem_get_info(device)
    return nbytes > DEVICE_DATA_FRACTION * free


def _target_dtype(y: np.ndarray) -> np.dtype:
    """The dtype targets ``y`` take on the device: int64 class ids, float32 otherwise."""
    return np.dtype(np.int64 if y.dtype.kind in "iu" and y.ndim == 1 else np.float32)


def _targets(y: np.ndarray) -> np.ndarray:
    """Class ids as int64, every other target as float32 (no copy when already so)."""
    return y.astype(_target_dtype(y), copy=False)


def _host_field(parts: Sequence[Part], name: str) -> np.ndarray | None:
    """The ``ignore`` / ``groups`` of ``parts`` concatenated (None unless every part has it)."""
    arrays = [getattr(s, name, None) for s, _ in parts]
    if any(a is None for a in arrays):
        return None
    picked = [a if r is None else a[r] for a, (_, r) in zip(arrays, parts)]
    return picked[0] if len(picked) == 1 else np.concatenate(picked)


class Arrays:
    """The examples of one or more :class:`ArraySet` parts for training and evaluation on
    ``device``: inputs as float32, targets as int64 (classes) or float32.

    In memory (the default for sets that fit): the examples are gathered once into two device
    tensors, ``x`` and ``y``. Out of core (:func:`keep_on_host`, or ``out_of_core=True``): the
    parts stay host arrays (a memory map is never read as a whole) and every batch is gathered
    on the host, in the order asked (rows read sorted), pinned on CUDA and copied to the device
    (the next batch is gathered in a background thread meanwhile); ``x`` and ``y`` are then
    ``None``. Both ways a batch holds the same float32 values in the same order, so a seeded
    run gives identical results. ``ignore`` (dense tasks such as Cosmic) and ``groups``
    (FSD50K's clip ids) stay host numpy arrays for :func:`evaluate`.

    Args:
        data: one set, or ``(set, rows)`` parts whose examples follow one another (``rows``:
            indices into the set, ``None`` for all of it).
    """

    def __init__(self, data: ArraySet | Sequence[Part], device: torch.device, *,
                 out_of_core: bool | None = None) -> None:
        parts: list[Part] = [(data, None)] if isinstance(data, ArraySet) else [
            (s, None if r is None else np.asarray(r, dtype=np.int64)) for s, r in data]
        self.device = torch.device(device)
        self.out_of_core = keep_on_host(parts, self.device) if out_of_core is None \
            else bool(out_of_core)
        self.ignore = _host_field(parts, "ignore")
        self.groups = _host_field(parts, "groups")
        sizes = [_rows(s, r) for s, r in parts]
        self._n = sum(sizes)
        self.x: torch.Tensor | None = None
        self.y: torch.Tensor | None = None
        if self.out_of_core:
            self._parts = [(s.x, s.y) for s, _ in parts]
            self._which = np.repeat(np.arange(len(parts)), sizes)
            self._row = np.concatenate([np.arange(len(s), dtype=np.int64) if r is None else r
                                        for s, r in parts]) if parts else np.zeros(0, np.int64)
            logger.info("%d examples kept on the host (out of core), batches copied to %s",
                        self._n, self.device)
            return
        merged = parts[0][0] if len(parts) == 1 and parts[0][1] is None else concat_sets(
            *(s if r is None else s.take(r) for s, r in parts))
        self.x = torch.from_numpy(np.ascontiguousarray(merged.x, dtype=np.float32)).to(device)
        self.y = torch.from_numpy(np.ascontiguousarray(_targets(merged.y))).to(device)

    def __len__(self) -> int:
        return self._n

    def _gather(self, field: int, idx: np.ndarray) -> np.ndarray:
        """Host rows ``idx`` (global example indices, in that order) of inputs (``field`` 0) or
        targets (1): float16/float32 inputs kept as stored, others as float32 / int64."""
        which, rows = self._which[idx], self._row[idx]
        first = self._parts[0][field]
        dtype = np.result_type(*(part[field].dtype for part in self._parts))
        out = np.empty((len(idx), *first.shape[1:]), dtype=dtype)
        for p in np.unique(which):
            pos = np.flatnonzero(which == p)
            order = np.argsort(rows[pos], kind="stable")            # read each part in row order
            out[pos[order]] = self._parts[p][field][rows[pos][order]]
        if field == 1:
            return _targets(out)
        return out if out.dtype in (np.float16, np.float32) else out.astype(np.float32)

    def _to_device(self, host: np.ndarray) -> torch.Tensor:
        t = torch.from_numpy(np.ascontiguousarray(host))
        if self.device.type == "cuda":
            t = t.pin_memory().to(self.device, non_blocking=True)
        else:
            t = t.to(self.device)
        return t.float() if t.dtype == torch.float16 else t

    def _host_batch(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self._gather(0, idx), self._gather(1, idx)

    def batches(self, order: torch.Tensor, batch_size: int
                ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """``(inputs, targets)`` on the device for ``order[i:i + batch_size]`` in turn."""
        if not self.out_of_core:
            order = order.to(self.device)
            for start in range(0, len(order), batch_size):
                idx = order[start:start + batch_size]
                yield self.x[idx], self.y[idx]
            return
        from concurrent.futures import ThreadPoolExecutor

        host = order.cpu().numpy().astype(np.int64, copy=False)
        chunks = [host[i:i + batch_size] for i in range(0, len(host), batch_size)]
        if not chunks:
            return
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="batches") as pool:
            pending = pool.submit(self._host_batch, chunks[0])
            for k in range(len(chunks)):
                xb, yb = pending.result()
                if k + 1 < len(chunks):                             # gather the next meanwhile
                    pending = pool.submit(self._host_batch, chunks[k + 1])
                yield self._to_device(xb), self._to_device(yb)

    def batch(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(inputs, targets)`` on the device of the examples ``idx`` (1-D, in that order)."""
        if not self.out_of_core:
            idx = idx.to(self.device)
            return self.x[idx], self.y[idx]
        host = idx.cpu().numpy().astype(np.int64, copy=False)
        xb, yb = self._host_batch(host)
        return self._to_device(xb), self._to_device(yb)

    def inputs(self, start: int, stop: int) -> torch.Tensor:
        """Inputs of examples ``start:stop`` on the device."""
        if not self.out_of_core:
            return self.x[start:stop]
        return self._to_device(self._gather(0, np.arange(start, min(stop, self._n))))

    def targets(self) -> np.ndarray:
        """All targets as a host numpy array (int64 classes or float32)."""
        if not self.out_of_core:
            return self.y.cpu().numpy()
        return self._gather(1, np.arange(self._n))


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
    device = data.device
    order = indices[torch.randperm(len(indices), generator=generator)]
    total, seen = torch.zeros((), dtype=torch.float64, device=device), 0
    params = [p for opt in optimizers for g in opt.param_groups for p in g["params"]]
    for xb, yb in data.batches(order, batch_size):
        with autocast(device):
            loss = loss_fn(net(xb), yb)
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
        total += loss.detach().double() * len(yb)
        seen += len(yb)
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
        with autocast(data.device):
            outs.append(net(data.inputs(start, start + batch_size)).float().cpu())
    return torch.cat(outs).numpy()


def evaluate(net: nn.Module, data: Arrays, metric: str, batch_size: int) -> float:
    """The task's metric of ``net`` on ``data`` (with the set's ignore mask or groups where it
    has them)."""
    return compute_metric(metric, predict(net, data, batch_size), data.targets(),
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

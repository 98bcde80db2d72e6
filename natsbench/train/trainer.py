"""Train one architecture with a protocol and record per-epoch metrics (torch).

:func:`train_arch` builds the network of ``(space, arch)``, trains it on the dataset's
training set with the :class:`~natsbench.train.protocol.Protocol`, evaluates it on every
evaluation set of the dataset after each epoch, measures its costs, and returns (and
optionally writes to a store) a :class:`~natsbench.store.records.RunRecord` with the
metric names of the store contract: ``train_loss/acc1/acc5/time`` and
``<set>_loss/acc1/time`` for each eval set (accuracies in percent, losses averaged over
samples, times in seconds per epoch).

Reproducibility: the seed fixes the weight initialisation (``torch.manual_seed`` inside a
forked RNG state, so the caller's global RNG is untouched) and one CPU
``torch.Generator`` fixes the data order and the augmentation. On CPU the run uses
``torch.use_deterministic_algorithms`` (restored afterwards), so the same seed gives the
same numbers, bit for bit, twice on the same machine and thread count. On CUDA it trains
with mixed precision (``torch.autocast`` float16 + ``GradScaler``) and cuDNN autotuning,
which is fast but not bit-reproducible; pass ``deterministic=True`` to trade speed for
repeatability there too (AMP stays on). Networks and inputs are channels-last on every
device.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import logging
import math
import platform
import time
import traceback
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np
from natsbench._optional import require

require("torch", extra="train")  # before importing it: a missing torch names the extra
import torch  # noqa: E402
from torch import nn

from natsbench.datasets import LoadedDataset, load_dataset
from natsbench.datasets.splits import split_rng, stratified_split
from natsbench.errors import (ConfigError, DatasetError, QueryError, check_output, check_range,
                              require_file)
from natsbench.store.records import RunRecord, record_path, write_record
from natsbench.train.batches import DeviceSet, Normalizer, eval_batches, train_batches
from natsbench.train.checkpoint import load_checkpoint, save_checkpoint
from natsbench.train.protocol import Protocol, get_protocol

__all__ = ["train_arch", "resolve_device", "EpochMetrics"]

logger = logging.getLogger(__name__)


def resolve_device(device: str | torch.device | None, *, check_available: bool = True) -> torch.device:
    """``None`` -> CUDA when available, else CPU; otherwise the named device (checked).

    ``check_available=False`` checks only the name (for a device of another machine, e.g. the
    workers of a Ray cluster)."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ConfigError(f"unknown device {str(device)!r}; valid: 'cpu', 'cuda', 'cuda:N'") from None
    if check_available and dev.type == "cuda" and not torch.cuda.is_available():
        raise QueryError(f"device {str(device)!r} requested but CUDA is not available; valid: 'cpu'")
    if dev.type not in ("cpu", "cuda"):
        raise QueryError(f"unsupported device {str(device)!r}; valid: 'cpu', 'cuda', 'cuda:N'")
    return dev


@dataclass
class EpochMetrics:
    """Per-epoch metric lists under the store's metric names."""

    values: dict[str, list[float]] = field(default_factory=dict)

    def add(self, name: str, value: float) -> None:
        self.values.setdefault(name, []).append(float(value))

    def padded(self, epochs: int) -> dict[str, list[float]]:
        """Every list padded with NaN to ``epochs`` entries (for failed/partial runs)."""
        return {k: v + [math.nan] * (epochs - len(v)) for k, v in self.values.items()}


@contextlib.contextmanager
def torch_settings(device: torch.device, deterministic: bool,
                    num_threads: int | None) -> Iterator[None]:
    """Set determinism/cuDNN/thread flags for one run and restore them afterwards."""
    old_det = torch.are_deterministic_algorithms_enabled()
    old_warn = torch.is_deterministic_algorithms_warn_only_enabled()
    old_bench, old_cudnn_det = torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic
    old_threads = torch.get_num_threads()
    try:
        if num_threads is not None:
            torch.set_num_threads(max(1, int(num_threads)))
        torch.use_deterministic_algorithms(deterministic, warn_only=True)
        if device.type == "cuda":
            torch.backends.cudnn.benchmark = not deterministic
            torch.backends.cudnn.deterministic = deterministic
        yield
    finally:
        torch.use_deterministic_algorithms(old_det, warn_only=old_warn)
        torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = old_bench, old_cudnn_det
        torch.set_num_threads(old_threads)


def _logits(output: Any) -> torch.Tensor:
    """Networks return logits, or ``(features, logits)`` like the official ones."""
    return output[-1] if isinstance(output, (tuple, list)) else output


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class _Run:
    """The state of one training run (network, optimiser, data) and its epoch loops."""

    def __init__(self, net: nn.Module, data: LoadedDataset, train_set: DeviceSet,
                 protocol: Protocol, seed: int, device: torch.device) -> None:
        self.net, self.protocol, self.device = net, protocol, device
        self.train_set = train_set
        self.eval_sets = {name: DeviceSet(s.images, s.labels, device)
                          for name, s in data.eval_sets.items()}
        self.normalize = Normalizer(data.mean, data.std, device)
        self.padding = (data.spec.crop_padding if protocol.crop_padding is None
                        else protocol.crop_padding)
        self.generator = torch.Generator().manual_seed(int(seed))
        self.amp = device.type == "cuda"
        # channels-last (NHWC) is faster for oneDNN on CPU too: 1.2-1.8x per training step
        # for tss networks (benchmarks/train_throughput.py)
        self.memory_format = torch.channels_last
        self.criterion = nn.CrossEntropyLoss(label_smoothing=protocol.label_smoothing)
        self.optimizer = torch.optim.SGD(net.parameters(), lr=protocol.lr,
                                         momentum=protocol.momentum, nesterov=protocol.nesterov,
                                         weight_decay=protocol.weight_decay)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp)
        self.steps_per_epoch = math.ceil(len(train_set) / protocol.batch_size)
        self.topk = min(5, data.num_classes)

    def _inputs(self, images: torch.Tensor) -> torch.Tensor:
        return self.normalize(images).contiguous(memory_format=self.memory_format)

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.amp:
            return torch.autocast(device_type="cuda", dtype=torch.float16)
        return contextlib.nullcontext()

    def _set_lr(self, epoch: float) -> float:
        lr = self.protocol.lr_at(epoch)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        return lr

    def train_epoch(self, epoch: int, bar: Any) -> tuple[dict[str, float], float]:
        """One training epoch; returns ({loss, acc1, acc5, time}, lr at the epoch start)."""
        p = self.protocol
        lr0 = self._set_lr(epoch)
        self.net.train()
        dev = self.device
        loss_sum = torch.zeros((), dtype=torch.float64, device=dev)
        top1 = torch.zeros((), dtype=torch.int64, device=dev)
        top5 = torch.zeros((), dtype=torch.int64, device=dev)
        seen = 0
        _sync(dev)
        start = time.perf_counter()
        batches = train_batches(self.train_set, p.batch_size, self.generator,
                                padding=self.padding, flip_prob=p.flip_prob)
        for step, (images, labels) in enumerate(batches):
            if p.lr_step == "iteration":
                self._set_lr(epoch + step / self.steps_per_epoch)
            x = self._inputs(images)
            with self._autocast():
                logits = _logits(self.net(x))
                loss = self.criterion(logits, labels)
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
            with torch.no_grad():
                n = labels.shape[0]
                seen += n
                loss_sum += loss.detach().double() * n
                ranked = logits.detach().topk(self.topk, dim=1).indices
                hits = ranked.eq(labels[:, None])
                top1 += hits[:, 0].sum()
                top5 += hits.any(dim=1).sum()
            if bar is not None:
                bar.update(1)
        _sync(dev)
        elapsed = time.perf_counter() - start
        stats = {"loss": loss_sum.item() / seen, "acc1": 100.0 * top1.item() / seen,
                 "acc5": 100.0 * top5.item() / seen, "time": elapsed}
        if not math.isfinite(stats["loss"]):
            raise FloatingPointError(f"training loss became {stats['loss']} in epoch {epoch}")
        return stats, lr0

    @torch.no_grad()
    def evaluate(self, data: DeviceSet) -> dict[str, float]:
        """Loss, top-1 accuracy and wall time of one pass over ``data`` in eval mode."""
        self.net.eval()
        dev = self.device
        loss_sum = torch.zeros((), dtype=torch.float64, device=dev)
        top1 = torch.zeros((), dtype=torch.int64, device=dev)
        _sync(dev)
        start = time.perf_counter()
        for images, labels in eval_batches(data, self.protocol.eval_batch_size):
            with self._autocast():
                logits = _logits(self.net(self._inputs(images)))
                loss = self.criterion(logits.float(), labels)
            loss_sum += loss.double() * labels.shape[0]
            top1 += logits.argmax(dim=1).eq(labels).sum()
        _sync(dev)
        elapsed = time.perf_counter() - start
        return {"loss": loss_sum.item() / len(data), "acc1": 100.0 * top1.item() / len(data),
                "time": elapsed}

    def state(self) -> dict[str, Any]:
        return {"model": self.net.state_dict(), "optimizer": self.optimizer.state_dict(),
                "scaler": self.scaler.state_dict(), "generator": self.generator.get_state()}

    def load_state(self, state: dict[str, Any]) -> None:
        self.net.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scaler.load_state_dict(state["scaler"])
        self.generator.set_state(state["generator"])


def _train_subset(data: LoadedDataset, fraction: float) -> tuple[np.ndarray, np.ndarray, str]:
    """The training images of a proxy: a stratified subset, the same for every arch and seed."""
    train = data.train
    if fraction >= 1.0:
        return train.images, train.labels, "full"
    k = max(1, int(round(fraction * len(train))))
    rng = split_rng(f"{data.name}:train_fraction", zlib.crc32(repr(fraction).encode()))
    idx, _ = stratified_split(train.labels, [k, len(train) - k], rng)
    return train.images[idx], train.labels[idx], f"stratified {k} of {len(train)}"


def _build_model(space: str, arch: str, num_classes: int,
                 model_kwargs: dict[str, Any] | None = None) -> nn.Module:
    from natsbench.models import create_model

    return create_model(space=space, arch=arch, num_classes=num_classes, **(model_kwargs or {}))


def _static_costs(net: nn.Module, image_shape: tuple[int, int, int]) -> dict[str, float]:
    """Params (M) and FLOPs (M, per image) of ``net`` in the official convention."""
    from natsbench.models import costs

    return {"params": float(costs.count_params(net)),
            "flops": float(costs.count_flops(net, (1, *image_shape))),
            "latency": math.nan}


def _latency(net: nn.Module, image_shape: tuple[int, int, int], device: torch.device) -> float:
    """Seconds of a batch-1 forward pass on ``device`` (median of timed repeats)."""
    from natsbench.models import costs

    return float(costs.measure_latency(net, (1, *image_shape), device=device))


def _checkpoint_file(checkpoint_dir: Path, space: str, arch: str, dataset: str, hp: str,
                     seed: int) -> Path:
    name = record_path(".", space, arch, dataset, hp, seed).stem
    return checkpoint_dir / f"{name}.pt"


def _resume(run: _Run, path: Path | None, identity: dict[str, Any], metrics: EpochMetrics,
            lrs: list[float]) -> int:
    """Load the checkpoint of this run if there is one; returns the first epoch to train."""
    state = load_checkpoint(path, identity)
    if state is None:
        return 0
    run.load_state(state)
    metrics.values = {k: list(v) for k, v in state["metrics"].items()}
    lrs[:] = state["lrs"]
    first_epoch = int(state["epoch"]) + 1
    logger.info("resuming %s from epoch %d (%s)", identity["arch"], first_epoch, path)
    return first_epoch


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def train_arch(space: str, arch: str, dataset: str | LoadedDataset,
               protocol: str | Protocol, seed: int, device: str | torch.device | None = None,
               data_root: str | Path | None = None, store: str | Path | None = None,
               progress: bool = True, *, split_file: str | Path | None = None,
               deterministic: bool | None = None, num_threads: int | None = None,
               measure_latency: bool = True,
               checkpoint_dir: str | Path | None = None,
               model_kwargs: dict[str, Any] | None = None) -> RunRecord:
    """Train ``arch`` of ``space`` on ``dataset`` with ``protocol`` and ``seed``.

    Args:
        space: ``"tss"`` or ``"sss"`` (any space of :func:`natsbench.spaces.get_space` that
            :func:`natsbench.models.create_model` builds; aliases are canonicalised).
        arch: the architecture string (validated and canonicalised by the space).
        dataset: a dataset name (loaded with :func:`natsbench.datasets.load_dataset` from
            ``data_root``/``split_file``) or an already loaded :class:`LoadedDataset`
            (reuse one across many runs).
        protocol: a :class:`Protocol` or a name for :func:`get_protocol` (``"H0"``,
            ``"12"``, ``"H0:epochs=2,batch_size=64"``).
        seed: run seed (weights, data order, augmentation).
        device: ``None`` (CUDA if available, else CPU), ``"cpu"``, ``"cuda"``, ``"cuda:1"``.
        data_root, split_file: where the dataset files are (unused for ``digits`` and for a
            loaded dataset).
        store: benchmark directory to write the record to (atomically); ``None``: don't.
        progress: show a tqdm bar (stderr).
        deterministic: deterministic algorithms; default True on CPU, False on CUDA.
        num_threads: torch intra-op threads for this run (restored afterwards); ``None``
            keeps torch's setting (one per core), use ``cores // workers`` in a pool.
        measure_latency: time batch-1 forward passes (``costs.latency``; NaN when False).
        checkpoint_dir: save the run state there after every epoch and resume from it
            when the same run is started again; the file is removed when the run ends.
        model_kwargs: explicit network settings for :func:`natsbench.models.create_model`
            (e.g. ``{"C": 8, "N": 1}`` for a reduced tss skeleton); recorded in provenance.

    Returns:
        the :class:`RunRecord` (status ``ok``). If training fails after it started, a
        record with status ``failed``, the traceback and the epochs done so far is written
        to ``store`` and the exception is re-raised.

    Raises:
        DatasetError, InvalidArchError, QueryError: bad inputs (nothing is written).
    """
    from natsbench.spaces import get_space

    space_obj = get_space(space)
    if space_obj.name == "extcell":  # a k-ExtCell's budget k is its number of operations
        from natsbench.spaces import extcell

        space_obj = get_space("extcell", k=extcell.parse(arch).num_ops)
    space, arch = space_obj.name, space_obj.validate(arch)
    prot = get_protocol(protocol)
    dev = resolve_device(device)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise QueryError(f"seed must be an int, got {seed!r}")
    seed = int(seed)
    check_range("seed", seed, 0, 2**63 - 1)
    if num_threads is not None:
        check_range("num_threads", num_threads, 1, 4096)
    if store is not None:
        check_output(store, "store", directory=True)
    if checkpoint_dir is not None:
        check_output(checkpoint_dir, "checkpoint_dir", directory=True)
    if split_file is not None:
        require_file(split_file, "split file")
    data = dataset if isinstance(dataset, LoadedDataset) else load_dataset(
        dataset, root=data_root, split_file=split_file)
    det = (dev.type == "cpu") if deterministic is None else bool(deterministic)
    train_images, train_labels, subset_desc = _train_subset(data, prot.train_fraction)
    if len(train_labels) == 0:
        raise DatasetError(f"dataset {data.name!r} has an empty training set")

    metrics = EpochMetrics()
    lrs: list[float] = []
    ckpt_path = (None if checkpoint_dir is None else
                 _checkpoint_file(Path(checkpoint_dir), space, arch, data.name, prot.hp, seed))
    identity = {"space": space, "arch": arch, "dataset": data.name, "seed": seed,
                "protocol": prot.to_dict()}
    wall_start = time.perf_counter()
    with torch_settings(dev, det, num_threads), torch.random.fork_rng(
            devices=[dev] if dev.type == "cuda" else []):
        torch.manual_seed(seed)
        net = _build_model(space, arch, data.num_classes, model_kwargs)
        threads = torch.get_num_threads()
        costs = _static_costs(net, data.image_shape)
        net.to(dev)
        if measure_latency:
            costs["latency"] = _latency(net, data.image_shape, dev)
        run = _Run(net, data, DeviceSet(train_images, train_labels, dev), prot, seed, dev)
        net.to(memory_format=run.memory_format)
        first_epoch = _resume(run, ckpt_path, identity, metrics, lrs)

        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=prot.epochs * run.steps_per_epoch,
                       initial=first_epoch * run.steps_per_epoch, unit="step",
                       desc=f"{space} {data.name} {prot.name} seed {seed}", leave=False)
        epoch = first_epoch
        try:
            for epoch in range(first_epoch, prot.epochs):
                stats, lr = run.train_epoch(epoch, bar)
                lrs.append(lr)
                for key, value in stats.items():
                    metrics.add(f"train_{key}", value)
                for name, eval_set in run.eval_sets.items():
                    for key, value in run.evaluate(eval_set).items():
                        metrics.add(f"{name}_{key}", value)
                if bar is not None:
                    first_eval = next(iter(run.eval_sets))
                    bar.set_postfix(epoch=epoch + 1, loss=f"{stats['loss']:.3f}",
                                    acc=f"{stats['acc1']:.1f}",
                                    **{first_eval: f"{metrics.values[f'{first_eval}_acc1'][-1]:.1f}"})
                if ckpt_path is not None and epoch + 1 < prot.epochs:
                    save_checkpoint(ckpt_path, {**run.state(), "identity": identity,
                                                "epoch": epoch, "lrs": lrs,
                                                "metrics": metrics.values})
        except Exception as exc:
            if store is not None:
                failed = _record(space, arch, data, prot, seed, metrics.padded(prot.epochs),
                                 costs, dev, det, threads, subset_desc, lrs, wall_start,
                                 status="failed",
                                 error="".join(traceback.format_exception(exc)))
                failed.provenance["model_kwargs"] = dict(model_kwargs or {})
                path = write_record(store, failed)
                logger.error("run failed in epoch %d; wrote %s", epoch, path)
            raise
        finally:
            if bar is not None:
                bar.close()
    record = _record(space, arch, data, prot, seed, metrics.values, costs, dev, det, threads,
                     subset_desc, lrs, wall_start)
    record.provenance["model_kwargs"] = dict(model_kwargs or {})
    if store is not None:
        path = write_record(store, record)
        logger.info("wrote %s", path)
    if ckpt_path is not None:
        ckpt_path.unlink(missing_ok=True)
    return record


def _record(space: str, arch: str, data: LoadedDataset, prot: Protocol, seed: int,
            metrics: dict[str, list[float]], costs: dict[str, float], dev: torch.device,
            deterministic: bool, threads: int, subset_desc: str, lrs: list[float],
            wall_start: float,
            status: str = "ok", error: str | None = None) -> RunRecord:
    from natsbench._version import __version__

    provenance = {
        "protocol": prot.name,
        "protocol_config": prot.to_dict(),
        "data": {**data.provenance, "train_subset": subset_desc},
        "device": str(dev),
        "device_name": (torch.cuda.get_device_name(dev) if dev.type == "cuda"
                        else _cpu_name()),
        "amp": dev.type == "cuda",
        "deterministic": deterministic,
        "num_threads": threads,
        "torch": torch.__version__,
        "natsbench": __version__,
        "python": platform.python_version(),
        "host": platform.node(),
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "wall_time": time.perf_counter() - wall_start,
    }
    return RunRecord(space=space, arch=arch, dataset=data.name, hp=prot.hp, seed=seed,
                     epochs=prot.epochs, metrics=metrics, costs=costs, status=status,
                     error=error, provenance=provenance, extra={"lr": lrs})

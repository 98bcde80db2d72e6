"""The weight-sharing search engine: epoch loop, optimisers, schedules, checkpoints, rows (torch).

One search = one algorithm x space x dataset x seed.  The engine is space-generic: the
supernet, the arch string of a derived architecture, random candidates and the space's own
row columns come from the space's adapter (:mod:`.spaces`); the supernet is used only through
``weights()``, ``arch_parameters()`` and its ``path`` forward.  Per epoch (``config.epochs`` of them):

1. the algorithm's ``begin_epoch`` (e.g. GDAS sets tau, linear from ``tau_max`` to
   ``tau_min`` over the epochs);
2. for each ``train`` batch (shuffled, augmented): the learning rate of the shared weights
   is set by the cosine schedule per iteration; a weight step (the algorithm's forward mode,
   SGD); then, for algorithms with architecture parameters, an architecture step on the next
   ``x-valid`` batch (its own shuffled, augmented stream; Adam).  Test sets are never read:
   the indices of every batch, with the set name, are recorded in ``Engine.used``;
3. the algorithm's ``end_epoch`` (ENAS trains its controller);
4. the algorithm derives one architecture; it is looked up in the benchmark and one row
   is kept; a checkpoint holds everything needed to resume at the next epoch.

Reproducibility: the seed fixes the supernet initialisation (``torch.manual_seed`` in a
forked RNG) and one CPU ``torch.Generator`` draws everything random in a fixed order (batch
orders, augmentation, Gumbel noise, sampled paths, candidates), so a seed gives the same rows
twice on CPU, and a search resumed from the checkpoint of epoch k ends with the same rows as an
uninterrupted one (except the wall-time column).  Training runs in float32, channels-last.
"""
from __future__ import annotations

import logging
import math
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from natsbench._optional import require

require("torch", extra="train")  # before importing it: a missing torch names the extra
import torch  # noqa: E402
from torch import nn

from natsbench.datasets import LoadedDataset, load_dataset
from natsbench.datasets.specs import NATS_SET_SOURCES, TEST_SET_PREFERENCE
from natsbench.errors import QueryError
from natsbench.train.checkpoint import read_checkpoint, save_checkpoint
from natsbench.train.batches import DeviceSet, Normalizer, augment
from natsbench.train.trainer import torch_settings, resolve_device
from search_algorithms.weight_sharing.config import SearchConfig
from search_algorithms.weight_sharing.spaces import (SpaceAdapter, get_space_adapter,
                                                     manifest_net_config)

__all__ = ["Engine", "BenchOracle", "run_search", "ROW_COLUMNS", "row_columns",
           "algorithms_for_space", "check_algorithm_space", "check_warmup"]

logger = logging.getLogger(__name__)

#: columns every per-epoch row has (any space), in order; a row then has its space's
#: ``summary_columns`` (:func:`row_columns`; tss: ``num_skip``, ``num_none``) and the
#: algorithm's epoch metrics (``train_loss``)
ROW_COLUMNS: tuple[str, ...] = (
    "algorithm", "space", "dataset", "config", "seed", "epoch", "arch", "reported", "valid",
    "source", "search_time", "entropy", "tau", "lr", "warmup_ratio")
#: the weight-step / architecture-step sets (the only sets a step ever reads)
WEIGHT_SET, ARCH_SET = "train", "x-valid"


def row_columns(space: str) -> tuple[str, ...]:
    """The columns of a row of ``space``: :data:`ROW_COLUMNS`, then the space's own."""
    return ROW_COLUMNS + get_space_adapter(space).summary_columns


def algorithms_for_space(space: str) -> tuple[str, ...]:
    """The weight-sharing algorithms whose class declares ``space`` in ``spaces`` (imports
    every algorithm module)."""
    from search_algorithms.weight_sharing import available_ws_algorithms, get_ws_algorithm

    get_space_adapter(space)  # an unknown space names the valid ones
    return tuple(a for a in available_ws_algorithms()
                 if space in getattr(get_ws_algorithm(a), "spaces", ()))


def check_warmup(algorithm: str, ratio: float) -> None:
    """QueryError unless ``ratio`` is in [0, 1) and, when positive, ``algorithm`` has warm-up
    paths (``supports_warmup``; naming the algorithms that do)."""
    from search_algorithms.weight_sharing import available_ws_algorithms, get_ws_algorithm

    if isinstance(ratio, bool) or not 0.0 <= float(ratio) < 1.0:
        raise QueryError(f"warmup_ratio must be in [0, 1); got {ratio!r}")
    if ratio > 0 and not getattr(get_ws_algorithm(algorithm), "supports_warmup", False):
        valid = [a for a in available_ws_algorithms()
                 if getattr(get_ws_algorithm(a), "supports_warmup", False)]
        raise QueryError(f"weight-sharing algorithm {algorithm!r} has no warm-up; "
                         f"--warmup-ratio works with: {', '.join(valid)}")


def check_algorithm_space(algorithm: str, space: str) -> None:
    """QueryError unless ``algorithm`` supports ``space`` (naming the ones that do)."""
    from search_algorithms.weight_sharing import get_ws_algorithm

    if space not in getattr(get_ws_algorithm(algorithm), "spaces", ()):
        valid = algorithms_for_space(space)
        raise QueryError(f"weight-sharing algorithm {algorithm!r} does not search space "
                         f"{space!r}; algorithms for {space}: {', '.join(valid) or 'none'}")


class BenchOracle:
    """Answers a derived architecture with the benchmark's reported and validation accuracy.

    NATS-Bench rule: on cifar10/cifar100/ImageNet16-120 the test set of NATS-Bench's sources
    (``NATS_SET_SOURCES``) at the space's ``nats_hp`` (tss 200; a space without one: the
    longest hp), seed mean (``is_random=False``); on another dataset
    (e.g. ``digits`` of the bundled benchmark) its own ``x-valid`` and ``x-test`` (or
    ``ori-test``) at the dataset's longest hp.

    An architecture the benchmark did not train is answered by the evaluation-source rules of
    ``natsbench query`` and the tabular runner
    (:func:`natsbench.api.evaluation.answer_arch`): the user cache store, then ``on_missing``:
    ``error`` (NaN, source ``none``), ``surrogate`` (seed-mean predictions, source
    ``surrogate``) or ``train`` (trained now with the benchmark's protocol and cached, source
    ``trained``). :attr:`last_source` is the source of the last reported accuracy.
    """

    def __init__(self, bench: Any, dataset: str, on_missing: str = "error",
                 space: str | None = None, device: str | None = None) -> None:
        from natsbench.api.evaluation import check_on_missing

        self.device = device   # where ``on_missing="train"`` trains (None: CUDA if available)

        self.on_missing = check_on_missing(on_missing)
        self._surrogates: Any = None
        self.last_source = "none"
        if isinstance(bench, (str, Path)):
            from natsbench.api.bench import open_bench

            bench = open_bench(bench)
        if space is not None and bench.space != space:
            raise QueryError(f"benchmark space {bench.space!r} is not {space!r} (a {space} "
                             f"search needs a {space} benchmark)")
        self.space = bench.space
        adapter = get_space_adapter(self.space)   # a space search-ws lacks: names the valid ones
        self.bench = bench
        if dataset in NATS_SET_SOURCES:
            hp = adapter.nats_hp or bench.hps(NATS_SET_SOURCES[dataset]["test"][0])[-1]
            self.valid = (*NATS_SET_SOURCES[dataset]["valid"], hp)
            self.test = (*NATS_SET_SOURCES[dataset]["test"], hp)
        else:
            if dataset not in bench.datasets:
                raise QueryError(f"dataset {dataset!r} is not in the benchmark; valid: "
                                 f"{', '.join(NATS_SET_SOURCES)} or {bench.datasets}")
            sets = bench.eval_sets(dataset)
            test = next((s for s in TEST_SET_PREFERENCE if s in sets), None)
            if "x-valid" not in sets or test is None:
                raise QueryError(f"dataset {dataset!r} of the benchmark lacks x-valid/x-test "
                                 f"(its sets: {sets})")
            hp = bench.hps(dataset)[-1]
            self.valid, self.test = (dataset, "x-valid", hp), (dataset, test, hp)
        for ds, _, hp in (self.valid, self.test):
            if ds not in bench.datasets or hp not in bench.hps(ds):
                raise QueryError(f"the benchmark has no {ds} hp {hp} (has {bench.datasets})")

    def answer(self, arch: str) -> tuple[float, float, str, str]:
        """(reported %, validation %, source of reported, source of validation) of ``arch``."""
        from natsbench.api.evaluation import answer_arch

        trainer = None
        if self.on_missing == "train":
            import functools

            from natsbench.build.on_demand import train_missing

            trainer = functools.partial(train_missing, device=self.device)
        if self.on_missing == "surrogate" and self._surrogates is None:
            from natsbench.api.surrogate import SurrogateBench
            from natsbench.spaces import get_space

            # stored predictions cover only the benchmark's architectures: they answer when it
            # lists the whole space (sss-digits: 32,768 archs, 2,048 trained), as they do for
            # `natsbench query --on-missing surrogate`; else fitted models answer any
            # architecture (kept, so each metric is fitted once per search)
            complete = len(self.bench) == get_space(self.space).size
            self._surrogates = SurrogateBench(self.bench, use_stored=complete)
        index = self.bench.reader.arch_index.get(arch)
        out = []
        for ds, sset, hp in (self.test, self.valid):
            name = f"{sset}_acc1"
            a = answer_arch(self.bench, arch, index, ds, hp, [name], on_missing=self.on_missing,
                            surrogates=self._surrogates, trainer=trainer)
            out.append((a.values[name], a.source if name not in a.unanswered else "none"))
        return out[0][0], out[1][0], out[0][1], out[1][1]

    def __call__(self, arch: str) -> tuple[float, float]:
        """(reported test accuracy %, validation accuracy %) of ``arch``; NaN if nothing
        answers it (policy ``error`` and not trained). Sets :attr:`last_source`."""
        reported, valid, self.last_source, _ = self.answer(arch)
        return reported, valid


def _search_dataset(dataset: str) -> str:
    """The dataset whose splits a search of ``dataset`` trains on (cifar10 -> cifar10-valid)."""
    return NATS_SET_SOURCES[dataset]["valid"][0] if dataset in NATS_SET_SOURCES else dataset


@dataclass
class _Stream:
    """An endless shuffled stream of augmented batches of one set (its indices recorded)."""

    name: str
    data: DeviceSet
    batch_size: int
    order: torch.Tensor | None = None
    pos: int = 0

    def next(self, engine: "Engine") -> tuple[torch.Tensor, torch.Tensor]:
        n = len(self.data)
        if self.order is None or self.pos >= n:
            self.order, self.pos = torch.randperm(n, generator=engine.generator), 0
        idx = self.order[self.pos:self.pos + self.batch_size]
        self.pos += self.batch_size
        return engine.batch(self.name, self.data, idx, augmented=True)

    def state(self) -> dict[str, Any]:
        return {"order": self.order, "pos": self.pos}

    def load(self, state: dict[str, Any]) -> None:
        self.order, self.pos = state["order"], int(state["pos"])


class Engine:
    """The state of one search: supernet, optimisers, data streams, generator.

    Algorithms read ``net``, ``space`` (the :class:`~.spaces.SpaceAdapter`), ``config``,
    ``device``, ``generator``, ``epoch``, ``lr`` and call
    :meth:`inputs`, :meth:`valid_batch`, :meth:`eval_batch`, :meth:`loss`.
    """

    def __init__(self, algorithm: Any, data: LoadedDataset, config: SearchConfig, seed: int,
                 device: torch.device, space: SpaceAdapter, net_settings: dict[str, Any],
                 crop_padding: int, flip_prob: float) -> None:
        self.config, self.seed, self.device = config, int(seed), device
        self.data, self.space = data, space
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            net = space.build_supernet(data.num_classes, net_settings)
        self.net = net.to(device, memory_format=torch.channels_last)
        self.generator = torch.Generator().manual_seed(self.seed)
        self.normalize = Normalizer(data.mean, data.std, device)
        self.padding, self.flip_prob = crop_padding, flip_prob
        self.criterion = nn.CrossEntropyLoss()
        self.sets = {WEIGHT_SET: DeviceSet(data.train.images, data.train.labels, device),
                     ARCH_SET: DeviceSet(data.eval_sets[ARCH_SET].images,
                                         data.eval_sets[ARCH_SET].labels, device)}
        self.train_stream = _Stream(WEIGHT_SET, self.sets[WEIGHT_SET], config.batch_size)
        self.valid_stream = _Stream(ARCH_SET, self.sets[ARCH_SET], config.batch_size)
        self.eval_stream = _Stream(ARCH_SET, self.sets[ARCH_SET], config.eval_batch_size)
        self.w_optimizer = torch.optim.SGD(self.net.weights(), lr=config.lr,
                                           momentum=config.momentum, nesterov=config.nesterov,
                                           weight_decay=config.weight_decay)
        self.steps_per_epoch = math.ceil(len(self.sets[WEIGHT_SET]) / config.batch_size)
        self.epoch, self.lr = 0, config.lr
        #: set name -> indices of that set that reached a step or a derivation
        self.used: dict[str, set[int]] = {}
        self.algorithm = algorithm
        algorithm.setup(self)

    # -- data -----------------------------------------------------------------------------
    def batch(self, name: str, data: DeviceSet, idx: torch.Tensor, augmented: bool
              ) -> tuple[torch.Tensor, torch.Tensor]:
        """Images (normalised, channels-last float32) and labels at ``idx`` of set ``name``."""
        self.used.setdefault(name, set()).update(int(i) for i in idx)
        images = data.images[idx.to(data.images.device)]
        if augmented:
            images = augment(images, self.padding, self.flip_prob, self.generator)
        return self.inputs(images), data.labels[idx.to(data.labels.device)]

    def inputs(self, images: torch.Tensor) -> torch.Tensor:
        return self.normalize(images).contiguous(memory_format=torch.channels_last)

    def valid_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The next x-valid batch of the architecture stream (batch size of the weights)."""
        return self.valid_stream.next(self)

    def eval_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The next x-valid batch of ``eval_batch_size`` (derivation, controller rewards)."""
        return self.eval_stream.next(self)

    def loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.criterion(logits, labels)

    # -- schedules --------------------------------------------------------------------------
    def lr_at(self, step: int) -> float:
        """Cosine from ``lr`` to ``lr_min`` over all iterations (``step`` counts from 0)."""
        c = self.config
        total = c.epochs * self.steps_per_epoch
        return c.lr_min + 0.5 * (c.lr - c.lr_min) * (1 + math.cos(math.pi * step / total))

    def in_warmup(self, epoch: int) -> bool:
        """Whether ``epoch`` (0-based) is a warm-up epoch: ``epoch < warmup_ratio * epochs``
        (no architecture steps; the official ``warmup_ratio > epoch / epochs``)."""
        c = self.config
        return epoch < c.warmup_ratio * c.epochs

    def warmup_full_prob(self, epoch: int) -> float | None:
        """During warm-up, the probability that a position keeps its full width in a weight
        step, ``1 - epoch / (warmup_ratio * epochs)``; ``None`` after warm-up."""
        c = self.config
        return 1.0 - epoch / (c.warmup_ratio * c.epochs) if self.in_warmup(epoch) else None

    def tau_at(self, epoch: int) -> float:
        """GDAS temperature at the start of ``epoch`` (0-based): linear ``tau_max -> tau_min``."""
        c = self.config
        return c.tau_max - (c.tau_max - c.tau_min) * epoch / max(1, c.epochs - 1)

    # -- one epoch --------------------------------------------------------------------------
    def train_epoch(self, epoch: int, bar: Any = None) -> dict[str, float]:
        self.epoch = epoch
        algo = self.algorithm
        algo.begin_epoch(self, epoch)
        self.net.train()
        w_loss, n = 0.0, 0
        for it in range(self.steps_per_epoch):
            self.lr = self.lr_at(epoch * self.steps_per_epoch + it)
            for group in self.w_optimizer.param_groups:
                group["lr"] = self.lr
            x, y = self.train_stream.next(self)
            self.w_optimizer.zero_grad(set_to_none=True)
            loss = self.loss(algo.weight_forward(self, x), y)
            loss.backward()
            self.w_optimizer.step()
            w_loss += float(loss.detach()) * len(y)
            n += len(y)
            if algo.has_arch_step and not self.in_warmup(epoch):
                xv, yv = self.valid_batch()
                algo.arch_step(self, x, y, xv, yv)
            if bar is not None:
                bar.update(1)
        algo.end_epoch(self, epoch)
        return {"train_loss": w_loss / max(1, n)}

    @torch.no_grad()
    def score(self, index: Any) -> float:
        """Top-1 accuracy (fraction) of the path ``index`` on the next evaluation batch."""
        x, y = self.eval_batch()
        logits = self.net(x, "path", index=index)
        return float((logits.argmax(dim=1) == y).float().mean())

    def best_of(self, candidates: list[list[int]]) -> tuple[list[int], float]:
        """The candidate (derived encodings) with the best :meth:`score`, each on its own batch."""
        self.net.eval()
        scores = [self.score(c) for c in candidates]
        self.net.train()
        best = int(np.argmax(scores))
        return candidates[best], scores[best]

    # -- checkpoints --------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        return {"net": self.net.state_dict(), "w_optimizer": self.w_optimizer.state_dict(),
                "generator": self.generator.get_state(), "algorithm": self.algorithm.state(self),
                "streams": [s.state() for s in (self.train_stream, self.valid_stream,
                                                self.eval_stream)],
                "used": {k: sorted(v) for k, v in self.used.items()}}

    def load_state(self, state: dict[str, Any]) -> None:
        self.net.load_state_dict(state["net"])
        self.w_optimizer.load_state_dict(state["w_optimizer"])
        self.generator.set_state(state["generator"])
        self.algorithm.load_state(self, state["algorithm"])
        for stream, s in zip((self.train_stream, self.valid_stream, self.eval_stream),
                             state["streams"]):
            stream.load(s)
        self.used = {k: set(v) for k, v in state["used"].items()}


def _checkpoint_path(directory: Path, algorithm: str, dataset: str, config: SearchConfig,
                     seed: int, on_missing: str = "error", space: str = "tss") -> Path:
    """One file per search: the name carries a hash of every setting (and of a non-default
    ``on_missing``) and a space other than tss, so a search with other settings (same config
    name) never resumes from it."""
    key = repr(sorted(config.as_dict().items()))
    if on_missing != "error":
        key += f"|on_missing={on_missing}"
    digest = zlib.crc32(key.encode())
    tag = "" if space == "tss" else f"{space}-"
    return Path(directory) / f"ws-{tag}{algorithm}-{dataset}-{config.name}-{digest:08x}-s{seed}.pt"


def _resolve_scale(config: SearchConfig, oracle: BenchOracle, data_name: str
                   ) -> tuple[dict[str, Any], int | None, int | None, float | None]:
    """Supernet settings (the space adapter's, e.g. tss ``{"C": 8, "N": 1}``), image size,
    crop padding, flip prob: the config's, else the benchmark's."""
    net_cfg, protocol = manifest_net_config(oracle.bench)
    settings = get_space_adapter(oracle.space).net_settings(config, net_cfg)
    size = config.image_size if config.image_size is not None else net_cfg.get("image_size")
    pad = config.crop_padding if config.crop_padding is not None else protocol.get("crop_padding")
    flip = config.flip_prob if config.flip_prob is not None else protocol.get("flip_prob")
    return settings, (int(size) if size is not None and data_name == "digits" else None), pad, flip


def run_search(algorithm: str, dataset: str, config: SearchConfig, seed: int, bench: Any, *,
               data: LoadedDataset | None = None, data_root: str | Path | None = None,
               split_file: str | Path | None = None, device: str | None = "cpu", checkpoint_dir: str | Path | None = None,
               stop_after: int | None = None, progress: bool = False,
               num_threads: int | None = None, engine_out: list | None = None,
               on_missing: str = "error", space: str | None = None) -> list[dict[str, Any]]:
    """Run one weight-sharing search and return its per-epoch rows (columns
    :func:`row_columns`, then the algorithm's epoch metrics).

    Args:
        algorithm: a name of ``WS_ALGORITHMS`` supporting the space.
        dataset: ``cifar10`` (searches on cifar10-valid), ``cifar100``, ``ImageNet16-120`` or
            a dataset of the benchmark with x-valid/x-test sets (``digits``).
        config: the settings (:func:`~search_algorithms.weight_sharing.config.get_config`).
        seed: seed of the supernet initialisation and of every random draw.
        bench: benchmark directory or opened ``Bench`` answering the derived archs.
        data: the loaded search dataset (default: loaded from ``data_root``).
        data_root: folder of the CIFAR/ImageNet16 files (not used by ``digits``).
        split_file: the official split file of the search dataset (``cifar-split.txt``,
            ``cifar100-test-split.txt``, ``imagenet-16-120-test-split.txt``); default: the
            generated stratified split (:func:`natsbench.datasets.load_dataset`).
        device: ``cpu``, ``cuda`` or ``None`` (CUDA when available).
        checkpoint_dir: where a checkpoint is written after every epoch; an existing one for
            the same search resumes after its last finished epoch.
        stop_after: stop (as if killed) after this many epochs in total (tests, timing).
        progress: show a tqdm bar.
        num_threads: torch CPU threads for this search (default: unchanged).
        engine_out: if given, the :class:`Engine` is appended (tests inspect ``used``).
        on_missing: how a derived architecture the benchmark did not train is answered
            (:class:`BenchOracle`): ``error`` (NaN), ``surrogate`` or ``train``; the row's
            ``source`` column says where the reported accuracy came from.
        space: the search space (:mod:`.spaces`); default: the benchmark's; another than the
            benchmark's is a QueryError.
    """
    from search_algorithms.weight_sharing import get_ws_algorithm

    algo_cls = get_ws_algorithm(algorithm)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise QueryError(f"seed must be an int; got {seed!r}")
    if config.epochs < 1:
        raise QueryError(f"epochs must be >= 1; got {config.epochs}")
    check_warmup(algorithm, config.warmup_ratio)
    oracle = BenchOracle(bench, dataset, on_missing=on_missing, space=space, device=device)
    space = oracle.space
    check_algorithm_space(algorithm, space)
    adapter = get_space_adapter(space)
    data_name = _search_dataset(dataset)
    settings, size, pad, flip = _resolve_scale(config, oracle, data_name)
    if data is None:
        data = load_dataset(data_name, root=data_root, split_file=split_file, image_size=size)
    if ARCH_SET not in data.eval_sets:
        raise QueryError(f"dataset {data.name!r} has no {ARCH_SET} set (its sets: "
                         f"{list(data.eval_sets)})")
    pad = data.spec.crop_padding if pad is None else int(pad)
    flip = 0.5 if flip is None else float(flip)
    dev = resolve_device(device)
    deterministic = dev.type == "cpu"
    with torch_settings(dev, deterministic, num_threads):
        engine = Engine(algo_cls(), data, config, int(seed), dev, adapter, settings, pad, flip)
        if engine_out is not None:
            engine_out.append(engine)
        rows: list[dict[str, Any]] = []
        start_epoch, elapsed = 0, 0.0
        ckpt = (None if checkpoint_dir is None
                else _checkpoint_path(Path(checkpoint_dir), algorithm, dataset, config, int(seed),
                                      on_missing, space))
        if ckpt is not None and ckpt.exists():
            payload = read_checkpoint(ckpt)
            engine.load_state(payload["engine"])
            rows, start_epoch, elapsed = list(payload["rows"]), int(payload["epoch"]), float(payload["elapsed"])
            logger.info("resumed %s after epoch %d from %s", algorithm, start_epoch, ckpt)
        last = config.epochs if stop_after is None else min(config.epochs, int(stop_after))
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=(last - start_epoch) * engine.steps_per_epoch,
                       desc=f"{algorithm} s{seed}", leave=False)
        try:
            for epoch in range(start_epoch, last):
                t0 = time.perf_counter()
                metrics = engine.train_epoch(epoch, bar)
                index, summary = engine.algorithm.derive(engine)
                if dev.type == "cuda":
                    torch.cuda.synchronize(dev)
                elapsed += time.perf_counter() - t0
                arch = adapter.to_arch(index)
                reported, valid = oracle(arch)
                row = {"algorithm": algorithm, "space": space, "dataset": dataset,
                       "config": config.name, "seed": int(seed), "epoch": epoch + 1, "arch": arch,
                       "reported": reported, "valid": valid, "source": oracle.last_source,
                       "search_time": elapsed,
                       "entropy": float(summary.get("entropy", math.nan)),
                       "tau": float(summary.get("tau", math.nan)), "lr": engine.lr,
                       "warmup_ratio": float(config.warmup_ratio), **adapter.summary(arch)}
                row.update({k: v for k, v in metrics.items()})
                rows.append(row)
                logger.info("%s seed %d epoch %d: %s reported %.2f", algorithm, seed, epoch + 1,
                            arch, reported)
                if ckpt is not None:
                    save_checkpoint(ckpt, {"engine": engine.state(), "rows": rows,
                                           "epoch": epoch + 1, "elapsed": elapsed})
        finally:
            if bar is not None:
                bar.close()
    return rows


def iterate_candidates(engine: Engine, n: int) -> Iterator[Any]:
    """``n`` uniformly random archs (the space's derived encodings, e.g. tss op positions
    [6]) from the engine's generator."""
    for _ in range(n):
        yield engine.space.sample(engine.generator)

"""Entropy of every training example under a small auxiliary model, and proxy-data files (torch).

Na's proxy data (PhD thesis 2022, chapter 3; :mod:`natsbench.datasets.proxy` has the selection
rules) ranks the training examples by the entropy of their predictive distribution,
``H(x) = -sum_y p(y|x) log p(y|x)`` (thesis Eq. 3.1, natural log), under an auxiliary network
trained on the target data (ResNet-20 on CIFAR in the thesis).

The auxiliary model here (:class:`AuxSettings`): the NATS-Bench tss network with the cell
``|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|none~2|`` -- the residual
block of two 3x3 convolutions that NATS-Bench uses as its ResNet -- with ``cells`` = 3 cells
per stage and ``channels`` = 16, i.e. the NATS skeleton's ResNet-20 analogue (2 x 9 cell
convolutions, two residual reduction blocks, stem and classifier). It is trained from seed
``seed`` on the dataset's ``train`` set only (no evaluation set is even loaded onto the device)
with the H0 recipe (SGD, Nesterov 0.9, lr 0.1 cosine, weight decay 5e-4, crop + flip) for
``epochs`` epochs at ``batch_size``; then one pass over ``train`` in eval mode without
augmentation gives every example's softmax (float64) and entropy.

Cache: ``<cache root>/proxy-entropy/<dataset>-<digest>.npz`` (cache root of
:func:`natsbench.api.evaluation.cache_root`: ``$NATSBENCH_CACHE`` or ``~/.cache/natsbench``),
the digest covering the dataset name, the train split (a SHA-1 of its images and labels) and
every aux setting; it holds ``entropy`` (float64 ``[N]``), ``predicted`` (int64 ``[N]``) and a
JSON ``meta`` string. A second call with the same settings reads it (milliseconds), whatever
the device. Written atomically; read with ``allow_pickle=False``.
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import io
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from natsbench._optional import require

require("torch", extra="train")  # before importing it: a missing torch names the extra
import torch  # noqa: E402

from natsbench.datasets import LoadedDataset, load_dataset
from natsbench.datasets.proxy import (DEFAULT_BETA, FORMAT, PROBABILISTIC, SELECTIONS,
                                      default_bin_width, labels_digest, log_entropy_histogram,
                                      parse_size, select_proxy)
from natsbench.errors import ConfigError, check_range
from natsbench.store.records import atomic_write_bytes
from natsbench.train.batches import DeviceSet, eval_batches
from natsbench.train.protocol import H0, Protocol
from natsbench.train.trainer import _build_model, _logits, _Run, resolve_device, torch_settings

__all__ = ["AUX_CELL", "AuxSettings", "CACHE_SUBDIR", "aux_entropies", "make_proxy_selection",
           "write_proxy_selection"]

logger = logging.getLogger(__name__)

#: the NATS-Bench ResNet cell (two 3x3 convolutions with a skip connection)
AUX_CELL = "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|none~2|"
#: folder of the entropy cache under the cache root
CACHE_SUBDIR = "proxy-entropy"


@dataclass(frozen=True)
class AuxSettings:
    """The auxiliary model and its training (module docstring); all part of the cache key."""

    arch: str = AUX_CELL
    channels: int = 16
    cells: int = 3
    epochs: int = 12
    batch_size: int = 256
    seed: int = 0

    def __post_init__(self) -> None:
        check_range("aux channels", self.channels, 1, 4096)
        check_range("aux cells", self.cells, 1, 64)
        check_range("aux epochs", self.epochs, 1, 10**4)
        check_range("aux batch size", self.batch_size, 1, 10**6)
        check_range("aux seed", self.seed, 0, 2**32 - 1)

    def protocol(self) -> Protocol:
        """H0 with this length and batch size."""
        return H0.reduced(name="proxy-aux", hp="proxy-aux", epochs=self.epochs,
                          batch_size=self.batch_size)

    def as_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "space": "tss", "protocol": self.protocol().to_dict()}


def _cache_path(data: LoadedDataset, aux: AuxSettings, cache_dir: Path | None) -> Path:
    from natsbench.api.evaluation import cache_root

    images = hashlib.sha1(np.ascontiguousarray(data.train.images).tobytes()).hexdigest()
    key = json.dumps({"dataset": data.name, "split": data.provenance.get("split"),
                      "images_sha1": images, "labels_sha1": labels_digest(data.train.labels),
                      "aux": aux.as_dict()}, sort_keys=True)
    digest = hashlib.sha1(key.encode("utf-8")).hexdigest()[:20]
    root = Path(cache_dir) if cache_dir is not None else cache_root() / CACHE_SUBDIR
    return root / f"{data.name}-{digest}.npz"


def _train_aux(data: LoadedDataset, aux: AuxSettings, device: str | None,
               num_threads: int | None, progress: bool) -> dict[str, Any]:
    dev = resolve_device(device)
    train_only = dataclasses.replace(data, eval_sets={})  # the aux model never sees another set
    prot = aux.protocol()
    start = time.perf_counter()
    with torch_settings(dev, dev.type == "cpu", num_threads), torch.random.fork_rng(
            devices=[dev] if dev.type == "cuda" else []):
        torch.manual_seed(aux.seed)
        net = _build_model("tss", aux.arch, data.num_classes,
                           {"C": aux.channels, "N": aux.cells}).to(dev)
        train_set = DeviceSet(data.train.images, data.train.labels, dev)
        run = _Run(net, train_only, train_set, prot, aux.seed, dev)
        net.to(memory_format=run.memory_format)
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=prot.epochs * run.steps_per_epoch, unit="step",
                       desc=f"aux model {data.name}", leave=False)
        try:
            for epoch in range(prot.epochs):
                stats, _ = run.train_epoch(epoch, bar)
        finally:
            if bar is not None:
                bar.close()
        net.eval()
        chunks = []
        with torch.no_grad():
            for images, _labels in eval_batches(train_set, prot.eval_batch_size):
                chunks.append(torch.log_softmax(_logits(net(run._inputs(images))).double(), 1).cpu())
    log_p = torch.cat(chunks).numpy()
    entropy = -(np.exp(log_p) * log_p).sum(axis=1)
    entropy = np.maximum(entropy, 0.0)  # rounding can give -1e-17 for a saturated softmax
    predicted = log_p.argmax(axis=1).astype(np.int64)
    meta = {"aux": aux.as_dict(), "dataset": data.name, "train_size": len(data.train),
            "device": str(dev), "train_loss_last_epoch": stats["loss"],
            "train_acc1_last_epoch": stats["acc1"],
            "train_acc1_eval_mode": float(100.0 * np.mean(predicted == data.train.labels)),
            "wall_time": time.perf_counter() - start, "torch": torch.__version__,
            "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
    return {"entropy": entropy.astype(np.float64), "predicted": predicted, "meta": meta}


def aux_entropies(data: LoadedDataset, aux: AuxSettings = AuxSettings(), *,
                  device: str | None = "cpu", num_threads: int | None = None,
                  cache_dir: str | Path | None = None, progress: bool = False
                  ) -> tuple[np.ndarray, dict[str, Any]]:
    """Entropy (nats, float64 ``[N]``) of every ``train`` example of ``data`` and its metadata.

    Reads the cache (module docstring) or trains the auxiliary model and writes it. The
    metadata holds the aux settings, its training accuracy and wall time, ``cache_file`` and
    ``cache_hit``.
    """
    path = _cache_path(data, aux, None if cache_dir is None else Path(cache_dir))
    if path.exists():
        with np.load(path, allow_pickle=False) as f:
            entropy = np.asarray(f["entropy"], dtype=np.float64)
            meta = json.loads(str(f["meta"]))
        if entropy.shape == (len(data.train),):
            logger.info("proxy-data entropies from cache %s", path)
            return entropy, {**meta, "cache_file": str(path), "cache_hit": True}
        logger.warning("ignoring cache %s of shape %s", path, entropy.shape)
    result = _train_aux(data, aux, device, num_threads, progress)
    buf = io.BytesIO()
    np.savez(buf, entropy=result["entropy"], predicted=result["predicted"],
             meta=np.asarray(json.dumps(result["meta"])))
    atomic_write_bytes(path, buf.getvalue())
    logger.info("proxy-data entropies written to %s", path)
    return result["entropy"], {**result["meta"], "cache_file": str(path), "cache_hit": False}


def _histogram_summary(entropy: np.ndarray, chosen: np.ndarray, bin_width: float) -> dict[str, Any]:
    bins, heights = log_entropy_histogram(entropy, bin_width)
    lowest = float(np.floor(np.log10(np.maximum(entropy.min(), np.finfo(np.float64).tiny))
                            / bin_width) * bin_width)
    return {"bin_width": bin_width, "first_edge_log10": lowest, "all": heights.tolist(),
            "selected": np.bincount(bins[chosen], minlength=len(heights)).tolist()}


def make_proxy_selection(dataset: str | LoadedDataset, selection: str, size: str | int | float,
                         *, seed: int = 0, beta: float = DEFAULT_BETA,
                         bin_width: float | None = None, aux: AuxSettings = AuxSettings(),
                         data_root: str | Path | None = None, split_file: str | Path | None = None,
                         image_size: int | None = None, device: str | None = "cpu",
                         num_threads: int | None = None, cache_dir: str | Path | None = None,
                         progress: bool = False) -> dict[str, Any]:
    """A proxy-data selection document (what :func:`write_proxy_selection` writes).

    Args:
        dataset: a dataset name (loaded with ``data_root``/``split_file``/``image_size``) or a
            loaded dataset; the selection indexes its ``train`` set.
        selection: one of :data:`natsbench.datasets.proxy.SELECTIONS`.
        size: ``k`` as a count, fraction or percentage of ``train``
            (:func:`natsbench.datasets.proxy.parse_size`).
        seed: seed of random/probabilistic selection and of the later weight/arch split.
        beta: low-entropy fraction of ``tails``.
        bin_width: histogram bin width (log10 entropy); default by dataset
            (:func:`natsbench.datasets.proxy.default_bin_width`).
        aux: the auxiliary model (its entropies are cached).

    Returns:
        a JSON-able dict: format, dataset, split, train_size, labels_sha1, selection and its
        parameters, k, seed, aux settings and accuracy, entropy histogram of all and of the
        selected examples, code version, date and the sorted ``indices``.
    """
    from natsbench._version import __version__

    if selection not in SELECTIONS:
        raise ConfigError(f"unknown selection {selection!r}; valid: {', '.join(SELECTIONS)}")
    check_range("seed", seed, 0, 2**32 - 1)
    data = dataset if isinstance(dataset, LoadedDataset) else load_dataset(
        dataset, root=data_root, split_file=split_file, image_size=image_size)
    k = parse_size(size, len(data.train))
    width = default_bin_width(data.name) if bin_width is None else bin_width
    params: dict[str, Any] = {}
    if selection == "tails":
        params["beta"] = beta
    if selection in PROBABILISTIC:
        params.update(bin_width=width, weights=PROBABILISTIC[selection])
    if selection == "random":  # the only rule that needs no entropies
        entropy, meta = None, None
    else:
        entropy, meta = aux_entropies(data, aux, device=device, num_threads=num_threads,
                                      cache_dir=cache_dir, progress=progress)
    indices = select_proxy(entropy if entropy is not None else np.zeros(len(data.train)),
                           selection, k, seed=seed, beta=beta, bin_width=width)
    doc: dict[str, Any] = {
        "format": FORMAT, "dataset": data.name, "split": data.provenance.get("split"),
        "data_source": data.provenance.get("source"), "train_size": len(data.train),
        "labels_sha1": labels_digest(data.train.labels), "selection": selection,
        "parameters": params, "size": str(size), "k": k, "seed": int(seed),
        "aux_model": None if meta is None else {
            key: meta[key] for key in ("aux", "device", "train_acc1_eval_mode", "wall_time",
                                       "cache_file", "date") if key in meta},
        "search_split": "seeded permutation of the selection: first floor(k/2) -> train "
                        "(weights), rest -> x-valid (architecture); "
                        "natsbench.datasets.proxy.apply_proxy_selection",
        "natsbench": __version__,
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    if entropy is not None:
        doc["entropy"] = {"mean_all": float(entropy.mean()),
                          "mean_selected": float(entropy[indices].mean()),
                          "histogram_log10": _histogram_summary(entropy, indices, width)}
    doc["indices"] = indices.tolist()
    return doc


def write_proxy_selection(doc: dict[str, Any], out: str | Path) -> Path:
    """Write a selection document as JSON, atomically; returns the path."""
    path = Path(out)
    atomic_write_bytes(path, (json.dumps(doc, indent=1) + "\n").encode("utf-8"))
    return path

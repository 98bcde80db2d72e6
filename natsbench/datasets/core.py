"""Load a dataset with its NATS-Bench splits into memory as uint8 arrays (numpy only).

>>> data = load_dataset("digits")                      # offline, bundled
>>> data = load_dataset("cifar100", root="~/data")     # ~/data/cifar-100-python/...
>>> data = load_dataset("cifar10-valid", root="~/data", split_file="cifar-split.txt")
>>> data.train.images.shape, data.eval_sets["x-valid"].labels.shape

See :mod:`natsbench.datasets.specs` for names and sizes, :mod:`.readers` for the file
formats and :mod:`.splits` for how splits are made or read.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from natsbench.datasets import readers
from natsbench.datasets.digits import DIGITS_ORI_TEST, load_digits_images
from natsbench.datasets.specs import DatasetSpec, get_spec
from natsbench.datasets.splits import DEFAULT_SPLIT_SEED, read_split_file, split_rng, stratified_split
from natsbench.errors import DatasetError

__all__ = ["ImageSet", "LoadedDataset", "load_dataset"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImageSet:
    """Images and labels of one set.

    Attributes:
        images: uint8 ``[N, 3, H, W]`` (0-255, channel-first).
        labels: int64 ``[N]`` in ``0 .. num_classes-1``.
    """

    images: np.ndarray
    labels: np.ndarray

    def __post_init__(self) -> None:
        if self.images.ndim != 4 or self.images.shape[1] != 3 or self.images.dtype != np.uint8:
            raise DatasetError(f"images must be uint8 [N, 3, H, W], got {self.images.dtype} "
                               f"{self.images.shape}")
        if self.labels.shape != (self.images.shape[0],):
            raise DatasetError(f"{self.images.shape[0]} images but labels of shape {self.labels.shape}")

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def take(self, indices: np.ndarray) -> "ImageSet":
        """The subset at ``indices`` (a copy)."""
        return ImageSet(images=self.images[indices], labels=self.labels[indices])


@dataclass(frozen=True)
class LoadedDataset:
    """A dataset in memory: its training set and its evaluation sets.

    Attributes:
        spec: the static description (name, classes, eval-set names, augmentation).
        train: the training set.
        eval_sets: eval-set name -> set, in the order of ``spec.eval_sets``.
        mean, std: per-channel normalisation constants (0-1 pixel scale).
        provenance: where the data and the split came from (recorded with every run).
    """

    spec: DatasetSpec
    train: ImageSet
    eval_sets: dict[str, ImageSet]
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    provenance: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def num_classes(self) -> int:
        return self.spec.num_classes

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(3, H, W)`` of every image."""
        return tuple(self.train.images.shape[1:])  # type: ignore[return-value]


def _halves(labels: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
    n = labels.shape[0]
    return stratified_split(labels, [n // 2, n - n // 2], rng)


def _split_groups(spec: DatasetSpec, labels: np.ndarray, split_file: str | Path | None,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, str]:
    """The two index groups of the split of ``spec`` over ``labels`` and a description."""
    if split_file is not None:
        groups = read_split_file(split_file, spec.split_file_keys, labels.shape[0])
        a, b = (groups[k] for k in spec.split_file_keys)
        return a, b, f"official split file {Path(split_file).expanduser()}"
    a, b = _halves(labels, rng)
    return a, b, "stratified halves"


def _load_raw(spec: DatasetSpec, root: Path) -> tuple[tuple[np.ndarray, np.ndarray],
                                                      tuple[np.ndarray, np.ndarray]]:
    if spec.source == "cifar10":
        return readers.read_cifar10(root, train=True), readers.read_cifar10(root, train=False)
    if spec.source == "cifar100":
        return readers.read_cifar100(root, train=True), readers.read_cifar100(root, train=False)
    if spec.source == "imagenet16":
        return (readers.read_imagenet16(root, train=True, num_classes=spec.num_classes),
                readers.read_imagenet16(root, train=False, num_classes=spec.num_classes))
    raise DatasetError(f"no reader for source {spec.source!r}")  # pragma: no cover


def load_dataset(name: str, *, root: str | Path | None = None,
                 split_file: str | Path | None = None,
                 split_seed: int = DEFAULT_SPLIT_SEED,
                 image_size: int | None = None) -> LoadedDataset:
    """Load dataset ``name`` with its splits.

    Args:
        name: ``cifar10-valid``, ``cifar10``, ``cifar100``, ``ImageNet16-120`` or ``digits``.
        root: folder holding the standard dataset folder (``cifar-10-batches-py``,
            ``cifar-100-python`` or ``ImageNet16``), or that folder itself. Not used by
            ``digits``.
        split_file: the official split file of the dataset (``cifar-split.txt`` for
            cifar10-valid, ``cifar100-test-split.txt``, ``imagenet-16-120-test-split.txt``);
            ``None`` generates a stratified split from ``split_seed``.
        split_seed: seed of generated splits (default :data:`DEFAULT_SPLIT_SEED`).
        image_size: side length of the digits images (default 16); others have a fixed size.

    Raises:
        DatasetError: unknown name, missing or malformed files (naming the file and the
            place it was expected), a split file for a dataset that has none.
    """
    spec = get_spec(name)
    if split_file is not None and not spec.split_file_keys:
        raise DatasetError(f"dataset {name!r} has no official split file; datasets with one: "
                           "cifar10-valid, cifar100, ImageNet16-120")
    if image_size is not None and spec.source != "digits" and image_size != spec.image_size:
        raise DatasetError(f"dataset {name!r} has {spec.image_size}x{spec.image_size} images; "
                           f"image_size={image_size} applies to 'digits' only")
    rng = split_rng(name, split_seed)
    provenance: dict[str, Any] = {"dataset": name}

    if spec.source == "digits":
        size = image_size or spec.image_size
        images, labels = load_digits_images(size)
        everything = ImageSet(images, labels)
        train_idx, test_idx = stratified_split(labels, [len(labels) - DIGITS_ORI_TEST,
                                                        DIGITS_ORI_TEST], rng)
        ori_test = everything.take(test_idx)
        valid_idx, xtest_idx = _halves(ori_test.labels, rng)
        train = everything.take(train_idx)
        eval_sets = {"x-valid": ori_test.take(valid_idx), "x-test": ori_test.take(xtest_idx),
                     "ori-test": ori_test}
        provenance.update(source="sklearn.datasets.load_digits", image_size=size,
                          split=f"stratified, split_seed={split_seed}")
    else:
        if root is None:
            raise DatasetError(f"dataset {name!r} needs a data root (--data-root) holding "
                               f"{_dirname(spec)!r}")
        root = Path(root).expanduser()
        (x_tr, y_tr), (x_te, y_te) = _load_raw(spec, root)
        full_train, ori_test = ImageSet(x_tr, y_tr), ImageSet(x_te, y_te)
        provenance.update(source=str(root))
        if spec.name == "cifar10":
            train, eval_sets = full_train, {"ori-test": ori_test}
            split_desc = "none (original train/test)"
        elif spec.name == "cifar10-valid":
            a, b, split_desc = _split_groups(spec, full_train.labels, split_file, rng)
            train = full_train.take(a)
            eval_sets = {"x-valid": full_train.take(b), "ori-test": ori_test}
        else:  # cifar100, ImageNet16-120: halve the original test set
            a, b, split_desc = _split_groups(spec, ori_test.labels, split_file, rng)
            train = full_train
            eval_sets = {"x-valid": ori_test.take(a), "x-test": ori_test.take(b),
                         "ori-test": ori_test}
        if split_file is None and spec.name != "cifar10":
            split_desc += f", split_seed={split_seed}"
        provenance.update(split=split_desc)

    mean, std = spec.mean, spec.std
    if mean is None or std is None:
        pixels = train.images.astype(np.float64) / 255.0
        mean = tuple(float(v) for v in pixels.mean(axis=(0, 2, 3)))
        std = tuple(float(v) for v in pixels.std(axis=(0, 2, 3)))
    provenance["sizes"] = {"train": len(train), **{k: len(v) for k, v in eval_sets.items()}}
    logger.info("loaded %s: %s", name, provenance["sizes"])
    return LoadedDataset(spec=spec, train=train, eval_sets=eval_sets, mean=mean, std=std,
                         provenance=provenance)


def _dirname(spec: DatasetSpec) -> str:
    return {"cifar10": readers.CIFAR10_DIR, "cifar100": readers.CIFAR100_DIR,
            "imagenet16": readers.IMAGENET16_DIR}.get(spec.source, spec.source)

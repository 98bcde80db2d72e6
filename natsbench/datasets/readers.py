"""Readers of the raw on-disk formats: CIFAR-10/100 python batches and downsampled ImageNet.

Formats (as published by their authors, read with :mod:`natsbench.safe_unpickle`):

* ``cifar-10-batches-py/``: ``data_batch_1`` .. ``data_batch_5`` (training, 10,000 images
  each) and ``test_batch`` (10,000): pickled dicts with ``data`` (uint8 ``[N, 3072]``, each
  row the 1024 red, then 1024 green, then 1024 blue values of a 32x32 image in row-major
  order) and ``labels`` (N ints in 0..9).
* ``cifar-100-python/``: ``train`` (50,000) and ``test`` (10,000), same ``data`` layout,
  labels in ``fine_labels`` (0..99).
* downsampled ImageNet 16x16 (Chrabaszcz et al. 2017), usually in a folder ``ImageNet16/``:
  ``train_data_batch_1`` .. ``train_data_batch_10`` and ``val_data``: pickled dicts with
  ``data`` (uint8 ``[N, 768]``, channel-major 3x16x16) and ``labels`` (N ints in 1..1000).
  ImageNet16-120 keeps the images with label in 1..120 (in file order) and shifts labels
  to 0..119, as the official ``ImageNet16(..., use_num_of_class_only=120)`` does.

Every reader returns ``(images, labels)``: uint8 ``[N, 3, H, W]`` and int64 ``[N]``.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from natsbench.safe_unpickle import load_dataset_pickle
from natsbench.errors import DatasetError

__all__ = [
    "CIFAR10_DIR", "CIFAR100_DIR", "IMAGENET16_DIR",
    "find_dir", "read_cifar10", "read_cifar100", "read_imagenet16",
]

logger = logging.getLogger(__name__)

CIFAR10_DIR = "cifar-10-batches-py"
CIFAR10_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR10_TEST = ("test_batch",)
CIFAR100_DIR = "cifar-100-python"
CIFAR100_TRAIN = ("train",)
CIFAR100_TEST = ("test",)
IMAGENET16_DIR = "ImageNet16"
IMAGENET16_TRAIN = tuple(f"train_data_batch_{i}" for i in range(1, 11))
IMAGENET16_TEST = ("val_data",)

Arrays = tuple[np.ndarray, np.ndarray]


def find_dir(root: str | Path, dirname: str, marker: str) -> Path:
    """Locate a dataset folder: ``root/dirname`` or ``root`` itself if it holds ``marker``.

    Raises:
        DatasetError: neither exists; the message names both places looked at.
    """
    root = Path(root).expanduser()
    candidate = root / dirname
    if (candidate / marker).is_file():
        return candidate
    if (root / marker).is_file():
        return root
    raise DatasetError(
        f"expected {marker!r} in {candidate} (or in {root} itself); download the dataset's "
        f"standard {dirname!r} folder into {root} or pass the right --data-root"
    )


def _get(entry: Any, key: str, path: Path) -> Any:
    if not isinstance(entry, dict):
        raise DatasetError(f"{path}: expected a pickled dict, found {type(entry).__name__}")
    for candidate in (key, key.encode("latin-1")):
        if candidate in entry:
            return entry[candidate]
    keys = sorted(str(k) for k in entry)
    raise DatasetError(f"{path}: missing key {key!r} (found keys: {keys})")


def _read_batch(path: Path, label_key: str, side: int) -> Arrays:
    entry = load_dataset_pickle(path)
    data = _get(entry, "data", path)
    labels = _get(entry, label_key, path)
    row = 3 * side * side
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 \
            or data.shape[1] != row:
        desc = (f"{data.dtype} array of shape {data.shape}" if isinstance(data, np.ndarray)
                else type(data).__name__)
        raise DatasetError(f"{path}: 'data' must be a uint8 array of shape [N, {row}], found {desc}")
    try:
        labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise DatasetError(f"{path}: {label_key!r} is not a list of integers ({exc})") from exc
    if labels.shape[0] != data.shape[0]:
        raise DatasetError(
            f"{path}: {data.shape[0]} images but {labels.shape[0]} entries in {label_key!r}")
    return data.reshape(-1, 3, side, side), labels


def _read_batches(folder: Path, names: Sequence[str], label_key: str, side: int,
                  num_classes: int, label_offset: int = 0,
                  keep_below: int | None = None) -> Arrays:
    images, labels = [], []
    for name in names:
        path = folder / name
        if not path.is_file():
            raise DatasetError(f"expected dataset file {path} but it does not exist")
        x, y = _read_batch(path, label_key, side)
        y = y - label_offset
        bad = (y < 0) | (y >= num_classes)
        if bad.any():
            raise DatasetError(
                f"{path}: label {int(y[bad][0]) + label_offset} outside the valid range "
                f"{label_offset}..{num_classes - 1 + label_offset}")
        if keep_below is not None:  # ImageNet16-N: keep classes 0..N-1 in file order
            keep = y < keep_below
            x, y = x[keep], y[keep]
        images.append(np.ascontiguousarray(x))
        labels.append(y)
        logger.debug("read %s: %d images", path, len(y))
    return np.concatenate(images), np.concatenate(labels)


def read_cifar10(root: str | Path, *, train: bool) -> Arrays:
    """CIFAR-10 training (50k) or test (10k) images from ``root/cifar-10-batches-py``."""
    folder = find_dir(root, CIFAR10_DIR, CIFAR10_TEST[0])
    return _read_batches(folder, CIFAR10_TRAIN if train else CIFAR10_TEST, "labels", 32, 10)


def read_cifar100(root: str | Path, *, train: bool) -> Arrays:
    """CIFAR-100 training (50k) or test (10k) images (fine labels) from ``root/cifar-100-python``."""
    folder = find_dir(root, CIFAR100_DIR, CIFAR100_TEST[0])
    return _read_batches(folder, CIFAR100_TRAIN if train else CIFAR100_TEST, "fine_labels", 32, 100)


def read_imagenet16(root: str | Path, *, train: bool, num_classes: int = 120) -> Arrays:
    """Downsampled ImageNet 16x16 restricted to labels ``1..num_classes``, shifted to 0-based.

    For ``num_classes=120`` the full files give 151,700 training and 6,000 test images.
    """
    if not 0 < num_classes <= 1000:
        raise DatasetError(f"num_classes must be in 1..1000, got {num_classes}")
    folder = find_dir(root, IMAGENET16_DIR, IMAGENET16_TEST[0])
    names = IMAGENET16_TRAIN if train else IMAGENET16_TEST
    return _read_batches(folder, names, "labels", 16, 1000, label_offset=1,
                         keep_below=num_classes)

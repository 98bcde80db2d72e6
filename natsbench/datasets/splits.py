"""Deterministic train/evaluation splits and the official split files.

Generated splits are *stratified*: every class is spread over the groups in proportion to
the group sizes (CIFAR-10's 50k training images split 2,500 + 2,500 per class, the
ImageNet16-120 test set 25 + 25 per class). They are a pure function of the labels, the
group sizes, the dataset name and the split seed (:data:`DEFAULT_SPLIT_SEED` unless the
user passes another), through ``numpy.random.default_rng([seed, crc32(dataset name)])``.
They are *not* the official NATS-Bench index lists (those came from an unrecorded random
draw); to reproduce the official numbers pass the official split file instead.

Official split files (``cifar-split.txt``, ``cifar100-test-split.txt``,
``imagenet-16-120-test-split.txt``) are JSON objects in xautodl's typed-config format: each
key maps to ``["int", ["0", "5", ...]]`` (a type tag and a list of indices, written as
decimal strings by xautodl's ``configure2str``; plain JSON integers are accepted too). Keys are
``train``/``valid`` (indices into CIFAR-10's training set) for ``cifar-split.txt`` and
``xvalid``/``xtest`` (indices into the original test set) for the two test-split files.
"""
from __future__ import annotations

import json
import zlib
from pathlib import Path
from typing import Sequence

import numpy as np

from natsbench.errors import ConfigError, DatasetError

__all__ = ["DEFAULT_SPLIT_SEED", "split_rng", "stratified_split", "read_split_file"]

#: seed of the generated splits (documented in docs and recorded in run provenance)
DEFAULT_SPLIT_SEED = 0


def split_rng(dataset: str, seed: int = DEFAULT_SPLIT_SEED) -> np.random.Generator:
    """The generator of the splits of ``dataset``: independent streams per dataset name."""
    return np.random.default_rng([int(seed), zlib.crc32(dataset.encode("utf-8"))])


def stratified_split(labels: np.ndarray, sizes: Sequence[int],
                     rng: np.random.Generator) -> list[np.ndarray]:
    """Partition ``range(len(labels))`` into groups of the given sizes, stratified by class.

    Each class's members are put in random order (by ``rng``) and given the keys
    ``(rank + 0.5) / class_count``; sorting all indices by key (random tie-breaks) and
    cutting the sorted list at the group sizes spreads every class evenly over the groups.

    Args:
        labels: int array ``[N]``.
        sizes: group sizes summing to ``N``.
        rng: the generator (see :func:`split_rng`).

    Returns:
        one sorted int64 index array per group.
    """
    labels = np.asarray(labels).reshape(-1)
    n = labels.shape[0]
    if any(s < 0 for s in sizes) or sum(sizes) != n:
        raise ConfigError(f"group sizes {list(sizes)} must be >= 0 and sum to {n}")
    keys = np.empty(n, dtype=np.float64)
    for cls in np.unique(labels):
        members = np.flatnonzero(labels == cls)
        order = rng.permutation(members.shape[0])
        keys[members[order]] = (np.arange(members.shape[0]) + 0.5) / members.shape[0]
    order = np.lexsort((rng.random(n), keys))
    bounds = np.cumsum([0, *sizes])
    return [np.sort(order[a:b]).astype(np.int64) for a, b in zip(bounds[:-1], bounds[1:])]


def _indices(value: object) -> np.ndarray | None:
    """Index list of one split-file entry, or None when it is not one."""
    if isinstance(value, list) and len(value) == 2 and value[0] == "int" \
            and isinstance(value[1], list):
        value = value[1]
    if not isinstance(value, list):
        return None
    out = np.empty(len(value), dtype=np.int64)
    for i, item in enumerate(value):
        if isinstance(item, bool):
            return None
        if isinstance(item, int):
            out[i] = item
        elif isinstance(item, str) and item.strip().lstrip("-").isdigit():
            out[i] = int(item)
        else:
            return None
    return out


def read_split_file(path: str | Path, keys: Sequence[str], size: int) -> dict[str, np.ndarray]:
    """Read an official split file and check it against the set it indexes.

    Args:
        path: the JSON file (format in the module docstring; a plain list is also accepted
            in place of ``["int", [...]]``).
        keys: the keys the dataset needs, e.g. ``("xvalid", "xtest")``.
        size: number of images of the set the indices point into.

    Returns:
        key -> sorted int64 index array.

    Raises:
        DatasetError: missing file or key, malformed content, an index outside
            ``0..size-1``, or groups that overlap or repeat an index.
    """
    path = Path(path).expanduser()
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise DatasetError(f"expected split file {path} but it does not exist") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DatasetError(f"{path}: not a JSON split file ({exc})") from exc
    if not isinstance(content, dict):
        raise DatasetError(f"{path}: expected a JSON object with keys {list(keys)}")
    groups: dict[str, np.ndarray] = {}
    seen = np.zeros(size, dtype=bool)
    for key in keys:
        if key not in content:
            raise DatasetError(f"{path}: missing key {key!r} (expected {list(keys)}, found "
                               f"{sorted(content)})")
        idx = _indices(content[key])
        if idx is None:
            raise DatasetError(f"{path}: {key!r} must be [\"int\", [indices...]] or a list of "
                               "integers (xautodl writes them as strings: \"0\", \"5\", ...)")
        if idx.size and (idx.min() < 0 or idx.max() >= size):
            bad = int(idx[(idx < 0) | (idx >= size)][0])
            raise DatasetError(f"{path}: {key!r} holds index {bad}, outside 0..{size - 1}")
        if np.unique(idx).size != idx.size or seen[idx].any():
            raise DatasetError(f"{path}: {key!r} repeats an index or overlaps another group")
        seen[idx] = True
        groups[key] = np.sort(idx)
    return groups

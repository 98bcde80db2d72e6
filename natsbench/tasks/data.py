"""In-memory task data: float32 inputs and targets for train / validation / test (numpy only).

The search and the hyperparameter stage may only see ``train`` and ``valid``; ``test`` is for the
final number (DESIGN.md). Every loader returns a :class:`TaskData` with a validation set: the
task's own when its published split has one, otherwise a held-out part of the training set
(:func:`holdout`, deterministic in the task name and the split seed).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from natsbench.datasets.splits import DEFAULT_SPLIT_SEED, split_rng, stratified_split
from natsbench.errors import ConfigError, DatasetError
from natsbench.tasks.configs import TaskConfig

__all__ = ["ArraySet", "TaskData", "holdout", "concat_sets"]


@dataclass(frozen=True)
class ArraySet:
    """Inputs ``x`` float32 ``[N, C, *S]`` and targets ``y``: int64 ``[N]`` (classes) or float32
    ``[N, labels]`` / ``[N, outputs, *S]`` (multi-label, dense). ``x`` may also be a read-only
    float16 memory map (FSD50K's feature cache, :mod:`natsbench.tasks.feature_cache`); the DASH
    engine then keeps it on the host and widens each batch to float32.

    ``ignore`` (dense tasks only, optional): float32 of ``y``'s shape, 1 where a target element
    must not count in the metric (Cosmic's bad / saturated pixels); pass it to
    :func:`~natsbench.tasks.objectives.compute_metric`.

    ``groups`` (optional): ``[N]`` ids (e.g. FSD50K clip ids, str) of the recording each example
    was cut from; the metric averages the outputs of a group's examples and scores groups
    (:func:`~natsbench.tasks.objectives.compute_metric`).
    """

    x: np.ndarray
    y: np.ndarray
    ignore: np.ndarray | None = None
    groups: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.x.shape[0] != self.y.shape[0]:
            raise DatasetError(f"{self.x.shape[0]} inputs but {self.y.shape[0]} targets")
        if self.ignore is not None and self.ignore.shape != self.y.shape:
            raise DatasetError(f"ignore mask of shape {self.ignore.shape}, but targets of shape "
                               f"{self.y.shape}: they must match")
        if self.groups is not None and self.groups.shape != (self.x.shape[0],):
            raise DatasetError(f"groups of shape {self.groups.shape} for {self.x.shape[0]} "
                               "examples: one group id per example")

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def take(self, indices: np.ndarray) -> "ArraySet":
        """The examples at ``indices`` (in that order)."""
        return ArraySet(self.x[indices], self.y[indices],
                        None if self.ignore is None else self.ignore[indices],
                        None if self.groups is None else self.groups[indices])


def _concat_optional(arrays: list[np.ndarray | None]) -> np.ndarray | None:
    return None if any(a is None for a in arrays) else np.concatenate(arrays)


def concat_sets(*sets: ArraySet) -> ArraySet:
    """The examples of all ``sets`` in order (an ignore mask or group ids only when every set
    has them)."""
    return ArraySet(np.concatenate([s.x for s in sets]), np.concatenate([s.y for s in sets]),
                    _concat_optional([s.ignore for s in sets]),
                    _concat_optional([s.groups for s in sets]))


@dataclass(frozen=True)
class TaskData:
    """One task's sets. ``provenance`` says where each came from (files, sizes, split rule)."""

    task: TaskConfig
    train: ArraySet
    valid: ArraySet
    test: ArraySet
    provenance: dict = field(default_factory=dict)

    @property
    def input_shape(self) -> tuple[int, ...]:
        """``(C, *S)`` of the data (the config's published shape unless files differ)."""
        return tuple(int(s) for s in self.train.x.shape[1:])

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "valid": len(self.valid), "test": len(self.test)}


def holdout(task: TaskConfig, train: ArraySet, fraction: float,
            seed: int = DEFAULT_SPLIT_SEED) -> tuple[ArraySet, ArraySet]:
    """Split ``train`` into (train, validation) with ``fraction`` of it held out.

    Stratified by class for classification tasks, a seeded permutation otherwise, whole groups
    (``train.groups``, e.g. a clip's chunks) when the set has them; a function of the task
    name, the targets (or groups) and ``seed`` only.

    Raises:
        DatasetError: ``round(fraction * count)`` (at least 1) would leave nothing to train on,
            ``count`` being the number of groups when the set has them, else of examples.
    """
    if not 0.0 < fraction < 1.0:
        raise ConfigError(f"validation fraction must be in (0, 1), got {fraction!r}")
    rng = split_rng(f"{task.name}:holdout", seed)
    if train.groups is not None:   # whole recordings: no clip has chunks on both sides
        keys, inverse = np.unique(train.groups, return_inverse=True)
        g = len(keys)
        kg = max(1, int(round(fraction * g)))
        if kg >= g:
            raise DatasetError(f"task {task.name!r}: {g} group(s) of training examples are too "
                               f"few to hold out a validation set of {kg} whole group(s) "
                               f"(fraction {fraction})")
        held = rng.permutation(g)[:kg]
        mask = np.isin(inverse, held)
        return train.take(np.flatnonzero(~mask)), train.take(np.flatnonzero(mask))
    n = len(train)
    k = max(1, int(round(fraction * n)))
    if k >= n:
        raise DatasetError(f"task {task.name!r}: {n} training examples are too few to hold out "
                           f"a validation set of {k}")
    if task.output == "classes":
        valid_idx, train_idx = stratified_split(train.y, [k, n - k], rng)
    else:
        order = rng.permutation(n)
        valid_idx, train_idx = np.sort(order[:k]), np.sort(order[k:])
    return train.take(train_idx), train.take(valid_idx)

"""D2NAS' named configurations (Lee et al., IEEE Access 2024, Tables 6 and 7), its cell-search
settings, and the search-space counting of its sections III-A and IV-B (pure Python).

Architecture settings per stage (:class:`StageShape`: gradient clipping, cells, initial
channels), for the two progressive cell-search stages (P-DARTS style), the kernel search, the
hyperparameter tuning and the retraining:

* ``common`` (Table 6): one set per task type -- ``2D``, ``2D Dense``, ``1D``;
* ``custom`` (Table 7): per task for CIFAR100, Spherical, NinaPro, FSD50K, Cosmic and ECG; the
  paper has no custom run for the other four tasks (``-`` in Tables 2, 3 and 5), so ``custom``
  there is the common configuration of the task's type (and says so in ``source``).

The offline tasks (digits, long2d, local2d; long1d, local1d) take the common configuration of
their type (2D / 1D): the paper does not run them.

Gradient clipping ``-1`` in the tables means no clipping (``None`` here).

Cell (sec. III-A, IV-B1, Fig. 3): 2D tasks 4 intermediate nodes (14 edges), 1D tasks 3 (9
edges); the cell-stage op set is {none, skip_connect, avg_pool_3x3, sep_conv_3x3, dil_conv_5x5}
(sec. V-A1), reduced to 3 candidates per edge for the second stage (sec. V-A2). Dense 2D tasks
use normal cells only; otherwise the cells at depths ``L // 3`` and ``max(3, 2L // 3)`` (those
below ``L``) are reduction cells (sec. IV-B1, read as a two-element list as in the DARTS code's
``[layers // 3, 2 * layers // 3]``; with ``L = 2`` this gives one reduction and one normal cell,
which is the "2-layered" network of sec. III-A's count).

Cell-search training settings (:class:`CellSettings`): the paper gives none; they are
P-DARTS' (Chen et al., ICCV 2019, sec. 4.1.1): 25 epochs per stage, the architecture parameters
frozen for the first 10, weights by SGD (lr 0.025, cosine to 0, momentum 0.9, weight decay 3e-4),
architecture by Adam (lr 6e-4, betas (0.5, 0.999), weight decay 1e-3), batch size the task's
(D2NAS Table 4). ``quick`` scales epochs down for the offline tasks (docs/D2NAS.md).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from natsbench.errors import ConfigError
from natsbench.spaces._cells import D2NAS_OPS
from natsbench.tasks.configs import TaskConfig, get_task, resolve_preset

__all__ = ["StageShape", "D2nasConfig", "CellSettings", "CONFIG_NAMES", "TASK_TYPES",
           "JOINT_OTHER_OPS", "task_type", "get_config", "cell_settings",
           "reduction_layers", "space_counts", "preset_config"]

CONFIG_NAMES: tuple[str, ...] = ("common", "custom")
TASK_TYPES: tuple[str, ...] = ("2D", "2D Dense", "1D")

#: the non-convolution ops of the joint space of sec. III-A (AvgPool, MaxPool, identity, zero)
JOINT_OTHER_OPS: tuple[str, ...] = ("avg_pool_3x3", "max_pool_3x3", "skip_connect", "none")
#: candidates per edge in each P-DARTS stage (sec. V-A2: 5 in stage 1, 3 in stage 2)
STAGE_CANDIDATES: tuple[int, ...] = (5, 3)


@dataclass(frozen=True)
class StageShape:
    """One column of Tables 6/7: gradient clipping (``None``: none), cells, initial channels."""

    grad_clip: float | None
    layers: int
    channels: int

    def __post_init__(self) -> None:
        if self.layers < 2 or self.channels < 4:
            raise ConfigError(f"layers {self.layers} and channels {self.channels}: the paper "
                              "requires at least 2 layers and 4 channels (sec. V-A2)")


@dataclass(frozen=True)
class D2nasConfig:
    """The architecture settings of one D2NAS run on one task.

    Attributes:
        name: ``"common"`` or ``"custom"``.
        task: the task name; task_type: one of :data:`TASK_TYPES`.
        cell_stages: the P-DARTS stages of the cell search (Tables 6/7 "cell search").
        kernel, hpo, retrain: the later stages' shapes.
        ops: the cell-search op set; candidates: candidates per edge in each cell stage.
        steps: intermediate nodes per cell (4 in 2D, 3 in 1D).
        source: where the numbers come from.
    """

    name: str
    task: str
    task_type: str
    cell_stages: tuple[StageShape, ...]
    kernel: StageShape
    hpo: StageShape
    retrain: StageShape
    ops: tuple[str, ...] = D2NAS_OPS     # sec. V-A1; the column order of the arch parameters
    candidates: tuple[int, ...] = STAGE_CANDIDATES
    steps: int = 4
    source: str = ""

    def __post_init__(self) -> None:
        if len(self.candidates) != len(self.cell_stages):
            raise ConfigError(f"{len(self.cell_stages)} cell stages but candidates "
                              f"{self.candidates}")
        if self.candidates[0] != len(self.ops) or any(
                b > a or b < 1 for a, b in zip(self.candidates, self.candidates[1:])):
            raise ConfigError(f"candidates {self.candidates} must start at the op count "
                              f"{len(self.ops)} and not grow")
        if self.hpo.grad_clip != self.retrain.grad_clip:
            # the DASH stages clip hpo and retraining alike (DashSettings.retrain_clip);
            # Tables 6/7 always give both the same value
            raise ConfigError(f"hpo clipping {self.hpo.grad_clip} differs from retraining "
                              f"clipping {self.retrain.grad_clip}; the pipeline clips both alike")

    @property
    def dense(self) -> bool:
        """Normal cells only (dense 2D tasks)."""
        return self.task_type == "2D Dense"

    @property
    def dims(self) -> int:
        return 1 if self.task_type == "1D" else 2

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return dataclasses.asdict(self)

    def replace(self, **changes: Any) -> "D2nasConfig":
        return dataclasses.replace(self, **changes)


def _s(clip: float, layers: int, channels: int) -> StageShape:
    return StageShape(None if clip < 0 else float(clip), layers, channels)


def _table(clips: tuple, layers: tuple, channels: tuple) -> dict[str, Any]:
    """Tables 6/7 columns: cell stage 1, cell stage 2, kernel search, hp tuning, retrain."""
    shapes = [_s(c, n, ch) for c, n, ch in zip(clips, layers, channels)]
    return {"cell_stages": (shapes[0], shapes[1]), "kernel": shapes[2], "hpo": shapes[3],
            "retrain": shapes[4]}


#: Table 6 (common hyperparameters), by task type
COMMON: dict[str, dict[str, Any]] = {
    "2D": _table((5, 5, 5, -1, -1), (2, 2, 2, 2, 2), (8, 16, 16, 48, 48)),
    "2D Dense": _table((1, 1, 1, 5, 5), (3, 4, 4, 4, 4), (8, 16, 16, 48, 48)),
    "1D": _table((1, 1, 1, -1, -1), (2, 3, 3, 3, 3), (8, 16, 16, 48, 48)),
}

#: Table 7 (custom hyperparameters), by task
CUSTOM: dict[str, dict[str, Any]] = {
    "cifar100": _table((5, 5, 5, -1, -1), (5, 11, 11, 11, 11), (8, 16, 16, 32, 32)),
    "spherical": _table((1, 1, 1, -1, -1), (2, 2, 2, 2, 2), (8, 16, 16, 48, 48)),
    "ninapro": _table((1, 1, 1, -1, -1), (2, 2, 2, 2, 2), (8, 16, 16, 48, 48)),
    "fsd50k": _table((1, 1, 1, -1, -1), (2, 2, 2, 2, 2), (8, 16, 16, 64, 64)),
    "cosmic": _table((1, 1, 1, 5, 5), (3, 4, 4, 4, 4), (8, 16, 16, 32, 32)),
    "ecg": _table((1, 1, 1, -1, -1), (2, 3, 3, 3, 3), (4, 4, 4, 4, 4)),
}


def task_type(task: TaskConfig) -> str:
    """``"2D"``, ``"2D Dense"`` or ``"1D"`` (D2NAS Table 1's grouping)."""
    if task.dims == 1:
        return "1D"
    return "2D Dense" if task.dense else "2D"


def get_config(task: str | TaskConfig, name: str = "common") -> D2nasConfig:
    """The ``common`` or ``custom`` configuration of ``task`` (module docstring)."""
    cfg = task if isinstance(task, TaskConfig) else get_task(task)
    if name not in CONFIG_NAMES:
        raise ConfigError(f"unknown D2NAS config {name!r}; valid: {', '.join(CONFIG_NAMES)}")
    kind = task_type(cfg)
    if kind == "1D" and cfg.dense:
        raise ConfigError(f"task {cfg.name!r}: dense 1D tasks have no D2NAS configuration")
    if name == "custom" and cfg.name in CUSTOM:
        table, source = CUSTOM[cfg.name], f"D2NAS Table 7 ({cfg.name})"
    else:
        table = COMMON[kind]
        source = f"D2NAS Table 6 ({kind})" + (
            "; the paper has no custom configuration for this task" if name == "custom" else "")
    return D2nasConfig(name=name, task=cfg.name, task_type=kind, steps=3 if kind == "1D" else 4,
                       source=source, **table)


def reduction_layers(config: D2nasConfig, layers: int) -> tuple[int, ...]:
    """Depths of the reduction cells of a ``layers``-cell network (module docstring)."""
    if config.dense:
        return ()
    return tuple(sorted(i for i in {layers // 3, max(3, 2 * layers // 3)} if i < layers))


@dataclass(frozen=True)
class CellSettings:
    """Training settings of every cell-search stage (module docstring for the sources).

    Attributes:
        epochs: epochs per P-DARTS stage; warmup_epochs: first epochs of each stage without
            architecture steps.
        batch_size: examples per weight step (and per architecture step).
        lr, lr_min: weight SGD, cosine per step from ``lr`` to ``lr_min`` within a stage.
        momentum, weight_decay: weight SGD.
        arch_lr, arch_betas, arch_weight_decay: architecture Adam.
        subsample: share of the weight examples visited per epoch (1: all).
    """

    epochs: int = 25
    warmup_epochs: int = 10
    batch_size: int = 64
    lr: float = 0.025
    lr_min: float = 0.0
    momentum: float = 0.9
    weight_decay: float = 3e-4
    arch_lr: float = 6e-4
    arch_betas: tuple[float, float] = (0.5, 0.999)
    arch_weight_decay: float = 1e-3
    subsample: float = 1.0

    def __post_init__(self) -> None:
        if not isinstance(self.epochs, int) or self.epochs < 1 or not 0 <= self.warmup_epochs < self.epochs:
            raise ConfigError(f"cell epochs {self.epochs!r} must be >= 1 and warmup_epochs "
                              f"{self.warmup_epochs!r} in 0..epochs-1")
        if self.batch_size < 1 or not 0 < self.subsample <= 1:
            raise ConfigError(f"batch_size {self.batch_size} must be >= 1 and subsample "
                              f"{self.subsample} in (0, 1]")

    def to_dict(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v)
                for k, v in dataclasses.asdict(self).items()}

    def replace(self, **changes: Any) -> "CellSettings":
        return dataclasses.replace(self, **changes)


def preset_config(config: D2nasConfig, task: TaskConfig, preset: str | None = None
                  ) -> D2nasConfig:
    """``config`` for a training preset: unchanged for ``full``; for ``quick`` (default on the
    offline tasks) the hpo and retraining networks keep the kernel search's width, as DASH's
    quick preset retrains WRN-16-1 (its search width) instead of WRN-16-4."""
    preset = resolve_preset(task, preset)
    if preset == "full":
        return config
    width = config.kernel.channels
    return config.replace(hpo=dataclasses.replace(config.hpo, channels=width),
                          retrain=dataclasses.replace(config.retrain, channels=width),
                          source=config.source + f"; quick preset: hpo/retrain width {width}")


def cell_settings(task: TaskConfig, preset: str | None = None) -> CellSettings:
    """P-DARTS' settings (``full``) or the offline ones (``quick``: 6 epochs per stage on half
    the weight examples each, 2 of them without architecture steps -- P-DARTS' 10/25 share of
    warm-up rounded down); default: quick for offline tasks, full otherwise."""
    preset = resolve_preset(task, preset)
    full = CellSettings(batch_size=task.batch_size)
    return full if preset == "full" else full.replace(epochs=6, warmup_epochs=2, subsample=0.5)


def space_counts(task: TaskConfig, config: D2nasConfig, *, dash_layers: int,
                 darts_ops: int = 8, conv_share: float | None = None) -> dict[str, Any]:
    """The search-space sizes of D2NAS sec. III-A and IV-B, computed from the configuration.

    Args:
        dash_layers: convolutions DASH searches in the task's backbone (13 in WRN-16).
        darts_ops: size of DARTS' op set (8).
        conv_share: the share of convolution ops among the derived cell's edges (``P_conv``);
            ``None``: only the range.

    Returns:
        ``joint`` ``= C |E| (|K||D| + |T|)`` (cells C = 2, or 1 for normal-only dense tasks;
        ``|T|`` = :data:`JOINT_OTHER_OPS`), ``darts`` ``= C |E| |S_DARTS|``, ``dash`` ``=
        layers |K||D|``, ``stage1`` ``= C |E1| |T1|`` (the cell-stage op set), ``stage2_max``
        ``= C |E2| |K||D|`` with ``|E2| = 2 x nodes`` (two inputs per node), ``staged_min``
        ``= stage1`` and ``staged_max`` ``= stage1 + stage2_max``, and with ``conv_share`` the
        ``staged`` count of that cell. 2D: 560, 224, 208, 140, 256, 140 and 396 (the paper's).
    """
    cells = 1 if config.dense else 2
    edges = config.steps * (config.steps + 3) // 2
    kd = len(task.kernel_sizes) * len(task.dilations)
    e2 = 2 * config.steps
    out: dict[str, Any] = {
        "cells": cells, "edges": edges, "reduced_edges": e2, "kernels_x_dilations": kd,
        "joint": cells * edges * (kd + len(JOINT_OTHER_OPS)),
        "darts": cells * edges * darts_ops,
        "dash": dash_layers * kd,
        "stage1": cells * edges * len(config.ops),
        "stage2_max": cells * e2 * kd,
    }
    out["staged_min"] = out["stage1"]
    out["staged_max"] = out["stage1"] + out["stage2_max"]
    if conv_share is not None:
        if not 0.0 <= conv_share <= 1.0:
            raise ConfigError(f"conv_share {conv_share} must be in [0, 1]")
        out["conv_share"] = conv_share
        out["staged"] = out["stage1"] + out["stage2_max"] * conv_share
    return out

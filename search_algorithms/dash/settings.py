"""DASH's pipeline settings: the paper's full-scale values and quick offline ones.

Sources (docs/ALGORITHMS.md, "DASH", repeats this with reasons). DASH App. A.5.2 names every
setting but lost most numbers in the text conversion; the numbers below are those of the official
DASH code (``src/task_configs.py``, read for values only):

* search: 100 epochs ("epochs_default"); SGD(momentum 0.9, Nesterov, weight decay 5e-4) for both
  model weights and architecture parameters (A.5.2, text intact); learning rates 0.1 / 0.05
  (weights / architecture) for point tasks and 1e-2 / 5e-3 for dense tasks; decay by 0.2 at
  epochs 60, 120, 160; gradient clipping at 1; softmax temperature 1; per-epoch subsampling of
  20 % of the training data ("quick_search = 0.2");
* hpo: 80 epochs on a subset of the training data whose share depends on the number of training
  batches (0.2 below 50, 0.1 below 100, 0.05 below 500, else 0.01); grid lr {0.1, 0.01, 0.001},
  weight decay {5e-4, 5e-6}, momentum {0.9, 0.99}, dropout {0, 0.05}; dense tasks (the code
  lists PSICOV, Cosmic and FSD50K) lr {1e-2, 1e-3, 1e-4}, weight decay 5e-5, momentum 0.99,
  dropout 0;
* retrain: 200 epochs, no gradient clipping ("retrain_clip = -1"), decay by 0.2 at epochs
  60, 120, 160 (2D) or 30, 60, 90, 120, 160 (1D) (A.5.2 says "for 2D tasks ... for 1D tasks").

:func:`quick_settings` scales epochs and subsets down so that digits and the generated tasks
finish all stages in minutes on a CPU (measured in docs/DASH.md); milestones scale with the
epochs (same fractions of training).
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from natsbench.errors import ConfigError
from natsbench.ops.aggregated_conv import MODES, WEIGHT_SAMPLINGS
from natsbench.tasks.configs import PRESETS, TaskConfig, resolve_preset

__all__ = ["DashSettings", "full_settings", "quick_settings", "settings_for", "resolve_preset", "PRESETS",
           "hpo_subsample_ratio", "scaled_milestones"]



@dataclass(frozen=True)
class DashSettings:
    """Every setting of the three stages (epochs are whole passes over the stage's data).

    Attributes:
        search_epochs, search_lr, arch_lr, momentum, weight_decay, search_milestones,
            lr_decay, grad_clip, temperature, weight_sampling, search_subsample, mode:
            the search stage (``mode``: aggregated-convolution implementation).
        hpo_epochs, hpo_subsample (None: DASH's rule on the number of batches), hpo_lrs,
            hpo_weight_decays, hpo_momenta, hpo_dropouts: the hyperparameter grid stage.
        retrain_epochs, retrain_milestones, retrain_clip (None: no clipping),
            retrain_widen (2D width of the retraining WRN; None: the backbone's own).
        batch_size, eval_batch_size: examples per step.
    """

    search_epochs: int
    search_lr: float
    arch_lr: float
    momentum: float
    weight_decay: float
    search_milestones: tuple[int, ...]
    lr_decay: float
    grad_clip: float | None
    temperature: float
    weight_sampling: str
    search_subsample: float
    mode: str
    hpo_epochs: int
    hpo_subsample: float | None
    hpo_lrs: tuple[float, ...]
    hpo_weight_decays: tuple[float, ...]
    hpo_momenta: tuple[float, ...]
    hpo_dropouts: tuple[float, ...]
    retrain_epochs: int
    retrain_milestones: tuple[int, ...]
    retrain_clip: float | None
    retrain_widen: int | None
    batch_size: int
    eval_batch_size: int = 256

    def __post_init__(self) -> None:
        for name in ("search_epochs", "hpo_epochs", "retrain_epochs", "batch_size",
                     "eval_batch_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"{name} must be an int >= 1, got {value!r}")
        if self.mode not in MODES:
            raise ConfigError(f"mode {self.mode!r} is not valid; use one of {MODES}")
        if self.weight_sampling not in WEIGHT_SAMPLINGS:
            raise ConfigError(f"weight_sampling {self.weight_sampling!r}; valid: {WEIGHT_SAMPLINGS}")
        if not 0 < self.search_subsample <= 1 or (self.hpo_subsample is not None
                                                   and not 0 < self.hpo_subsample <= 1):
            raise ConfigError(f"search_subsample {self.search_subsample!r} and hpo_subsample "
                              f"{self.hpo_subsample!r} must be in (0, 1]")
        if self.temperature <= 0:
            raise ConfigError(f"temperature must be > 0, got {self.temperature!r}")
        for name in ("hpo_lrs", "hpo_weight_decays", "hpo_momenta", "hpo_dropouts"):
            if not getattr(self, name):
                raise ConfigError(f"{name} must not be empty")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (tuples as lists)."""
        return {k: (list(v) if isinstance(v, tuple) else v)
                for k, v in dataclasses.asdict(self).items()}

    def replace(self, **changes: Any) -> "DashSettings":
        """A copy with ``changes`` (checked)."""
        return dataclasses.replace(self, **changes)

    def hpo_grid(self) -> list[dict[str, float]]:
        """The configurations of the hpo stage (lr major, then weight decay, momentum, dropout)."""
        return [{"lr": lr, "weight_decay": wd, "momentum": m, "dropout": p}
                for lr in self.hpo_lrs for wd in self.hpo_weight_decays
                for m in self.hpo_momenta for p in self.hpo_dropouts]


def scaled_milestones(milestones: tuple[int, ...], from_epochs: int, to_epochs: int) -> tuple[int, ...]:
    """``milestones`` of a ``from_epochs`` schedule at the same fractions of ``to_epochs``."""
    return tuple(sorted({max(1, round(m * to_epochs / from_epochs)) for m in milestones
                         if m < from_epochs}))


def hpo_subsample_ratio(batches: int) -> float:
    """DASH's share of the training data per hpo configuration, from the number of batches."""
    return 0.2 if batches < 50 else 0.1 if batches < 100 else 0.05 if batches < 500 else 0.01


_RETRAIN_MILESTONES = {2: (60, 120, 160), 1: (30, 60, 90, 120, 160)}


def full_settings(task: TaskConfig) -> DashSettings:
    """The paper's settings for ``task`` (module docstring)."""
    lr, arch_lr = (1e-2, 5e-3) if task.dense else (0.1, 0.05)
    dense_grid = task.dense or task.name == "fsd50k"
    return DashSettings(
        search_epochs=100, search_lr=lr, arch_lr=arch_lr, momentum=0.9, weight_decay=5e-4,
        search_milestones=(60, 120, 160), lr_decay=0.2, grad_clip=1.0, temperature=1.0,
        weight_sampling="softmax", search_subsample=0.2, mode="fft",
        hpo_epochs=80, hpo_subsample=None,
        hpo_lrs=(1e-2, 1e-3, 1e-4) if dense_grid else (0.1, 0.01, 0.001),
        hpo_weight_decays=(5e-5,) if dense_grid else (5e-4, 5e-6),
        hpo_momenta=(0.99,) if dense_grid else (0.9, 0.99),
        hpo_dropouts=(0.0,) if dense_grid else (0.0, 0.05),
        retrain_epochs=200, retrain_milestones=_RETRAIN_MILESTONES[task.dims],
        retrain_clip=None, retrain_widen=None, batch_size=task.batch_size)


def quick_settings(task: TaskConfig) -> DashSettings:
    """Scaled-down settings for the offline tasks (all stages in minutes on a CPU).

    Search 8 epochs on 40 % of the training data per epoch (the offline sets are small), hpo
    3 epochs on 50 % of the training data over the first two learning rates of the grid x its
    first weight decay and momentum x its dropouts, retrain 15 epochs; the 2D retraining WRN is
    WRN-16-1 (the search backbone's width) instead of WRN-16-4. Milestones are the paper's at
    the same fractions of training.
    """
    full = full_settings(task)
    search_epochs, retrain_epochs = 8, 15
    return full.replace(
        search_epochs=search_epochs, search_subsample=0.4,
        search_milestones=scaled_milestones(full.search_milestones, 100, search_epochs),
        hpo_epochs=3, hpo_subsample=0.5, hpo_lrs=full.hpo_lrs[:2],
        hpo_weight_decays=full.hpo_weight_decays[:1], hpo_momenta=full.hpo_momenta[:1],
        retrain_epochs=retrain_epochs,
        retrain_milestones=scaled_milestones(full.retrain_milestones, 200, retrain_epochs),
        retrain_widen=1 if task.dims == 2 else None)


def settings_for(task: TaskConfig, preset: str | None = None) -> DashSettings:
    """``preset`` ("full" or "quick"); default: quick for offline tasks, full otherwise."""
    preset = resolve_preset(task, preset)
    return quick_settings(task) if preset == "quick" else full_settings(task)


def lr_factor(epoch: int, milestones: tuple[int, ...], decay: float) -> float:
    """``decay ** (number of milestones <= epoch)`` (epochs counted from 0)."""
    return math.pow(decay, sum(1 for m in milestones if epoch >= m))

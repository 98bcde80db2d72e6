"""The backbone of a task for each DASH stage (torch).

``build_backbone(task, "search")`` is the network DASH turns into a supernet (WRN-16-1 on 2D
tasks, the 1D WRN on 1D ones); ``build_backbone(task, "retrain")`` the one it retrains with the
searched kernels (WRN-16-4 / the 1D WRN). Dense tasks keep the resolution and end with the
channel-matching layer. ``widen_factor`` overrides the 2D width (the quick offline settings
retrain a narrower WRN so all stages fit in minutes on a CPU).
"""
from __future__ import annotations

from natsbench._optional import require

require("torch", extra="train")  # before importing it: a missing torch names the extra
from torch import nn  # noqa: E402

from natsbench.errors import ConfigError
from natsbench.models.wrn import WideResNet1d, WideResNet2d, dash_wrn1d_width
from natsbench.tasks.configs import TaskConfig

__all__ = ["BACKBONES", "STAGES", "build_backbone"]

#: backbone name -> 2D widen factor (None: the 1D WRN)
BACKBONES: dict[str, int | None] = {"wrn16-1": 1, "wrn16-4": 4, "wrn1d": None}
STAGES: tuple[str, ...] = ("search", "retrain")


def build_backbone(task: TaskConfig, stage: str = "search", *, dropout: float = 0.0,
                   in_channels: int | None = None, widen_factor: int | None = None) -> nn.Module:
    """The plain (un-searched) backbone of ``task`` for ``stage``.

    Args:
        stage: ``"search"`` or ``"retrain"`` (picks the task's search or retraining backbone).
        dropout: dropout rate of the blocks (tuned by the hpo stage; 0 in search).
        in_channels: input channels when the data differ from the config (default: config's).
        widen_factor: 2D width multiplier instead of the backbone's own.
    """
    if stage not in STAGES:
        raise ConfigError(f"stage {stage!r} is not valid; use one of {STAGES}")
    name = task.search_backbone if stage == "search" else task.retrain_backbone
    if name not in BACKBONES:
        raise ConfigError(f"task {task.name!r}: backbone {name!r}; valid: {list(BACKBONES)}")
    channels = task.input_shape[0] if in_channels is None else int(in_channels)
    if BACKBONES[name] is None:
        if task.dims != 1:
            raise ConfigError(f"task {task.name!r} is 2D but its backbone {name!r} is 1D")
        return WideResNet1d(in_channels=channels, num_classes=task.num_outputs,
                            mid_channels=dash_wrn1d_width(task.num_outputs), dropout=dropout,
                            dense=task.dense)
    if task.dims != 2:
        raise ConfigError(f"task {task.name!r} is 1D but its backbone {name!r} is 2D")
    return WideResNet2d(depth=16, widen_factor=widen_factor or BACKBONES[name],
                        in_channels=channels, num_classes=task.num_outputs, dropout=dropout,
                        dense=task.dense)

"""natsbench.train: training protocols and one-architecture training.

Public API::

    from natsbench.train import get_protocol, Protocol, H0, H1, H2, train_arch
    record = train_arch("tss", arch, "digits", get_protocol("H0:epochs=2"), seed=1, store="bench")

``protocol`` is pure Python; ``train_arch`` (module ``trainer``) imports torch, and is
loaded on first access so ``import natsbench.train`` stays light.
"""
from __future__ import annotations

from typing import Any

from natsbench.train.protocol import H0, H1, H2, PRESETS, Protocol, get_protocol, protocol_for_hp

__all__ = ["H0", "H1", "H2", "PRESETS", "Protocol", "get_protocol", "protocol_for_hp", "train_arch"]


def __getattr__(name: str) -> Any:
    if name == "train_arch":
        from natsbench.train.trainer import train_arch

        return train_arch
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

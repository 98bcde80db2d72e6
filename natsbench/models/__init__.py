"""Torch networks of the search spaces, and their cost measures.

``create_model(space=..., arch=..., num_classes=...)`` builds the network of one architecture:

=========  ==========================================================  =====================
space      arch                                                        extra keyword args
=========  ==========================================================  =====================
tss        ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``                     C=16, N=5, in_channels
sss        ``C1:C2:C3:C4:C5``                                          in_channels
darts      a DARTS cell-pair string of :mod:`natsbench.spaces.darts`   C, layers, steps, ...
extcell    an ExtCell string of :mod:`natsbench.spaces.extcell`        C, layers, steps, ...
=========  ==========================================================  =====================

For darts/extcell, ``arch`` may also be a ``natsbench.spaces`` ``Genotype`` or a mapping
``{"normal": edges, "reduce": edges}`` of ``(to_node, from_node, op)`` triples (see
:mod:`natsbench.models.cell_net`, which also documents how ExtCell nodes without inputs are
handled).  All networks return logits only; they differ from the official code in nothing else
(tss/sss state dicts load into the official ``TinyNetwork``/``DynamicShapeTinyNet`` and back).

Importing this package does not import torch; building a model does.  Submodules:
``ops`` (primitive operations), ``tss_net``, ``sss_net``, ``cell_net`` (networks),
``tss_supernet``/``sss_supernet`` (the weight-sharing supernets of ``natsbench search-ws``),
``costs`` (params / FLOPs / latency), ``wrn`` (DASH's WRN backbones, loaded on first access).
"""
from __future__ import annotations

import importlib
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from natsbench._optional import require
from natsbench.errors import InvalidArchError

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

__all__ = ["MODEL_BUILDERS", "available_spaces", "create_model"]

#: space name -> "module:function" of its builder ``(arch, num_classes, **kwargs) -> nn.Module``.
MODEL_BUILDERS = MappingProxyType(
    {
        "tss": "natsbench.models.tss_net:build_tss_network",
        "sss": "natsbench.models.sss_net:build_sss_network",
        "darts": "natsbench.models.cell_net:build_darts_network",
        "extcell": "natsbench.models.cell_net:build_extcell_network",
    }
)

_LAZY_SUBMODULES = ("ops", "tss_net", "tss_supernet", "sss_net", "sss_supernet", "cell_net",
                    "costs", "wrn")


def available_spaces() -> tuple[str, ...]:
    """Names accepted by :func:`create_model`'s ``space``."""
    return tuple(MODEL_BUILDERS)


def create_model(space: str, arch: Any, num_classes: int, **kwargs: Any) -> "nn.Module":
    """Build the (randomly initialised) network of ``arch`` in ``space``.

    Args:
        space: one of :func:`available_spaces`.
        arch: the architecture (string of the space; see the module docstring).
        num_classes: classifier outputs (10 CIFAR-10, 100 CIFAR-100, 120 ImageNet16-120).
        **kwargs: explicit builder options (table in the module docstring); an unknown one
            raises TypeError naming it.

    Returns a ``torch.nn.Module`` mapping images ``[B, C, H, W]`` to logits ``[B, num_classes]``.
    Initialisation uses torch's RNG: call ``torch.manual_seed`` first for a reproducible model.
    Raises InvalidArchError for an unknown space or a malformed architecture.
    """
    try:
        target = MODEL_BUILDERS[space]
    except (KeyError, TypeError):
        raise InvalidArchError(
            f"unknown space {space!r}; valid spaces: {', '.join(MODEL_BUILDERS)}"
        ) from None
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise InvalidArchError(f"num_classes must be a positive int; got {num_classes!r}")
    require("torch", extra="train")
    module_name, func_name = target.split(":")
    builder = getattr(importlib.import_module(module_name), func_name)
    return builder(arch, num_classes=num_classes, **kwargs)


def __getattr__(name: str) -> Any:
    # Submodules load on first attribute access, so ``import natsbench.models`` stays light and
    # works before optional submodules (``wrn``, written separately) exist.
    if name in _LAZY_SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

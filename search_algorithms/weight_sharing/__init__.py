"""Weight-sharing NAS: one supernet engine, one small module per algorithm, one adapter per space.

Quick start::

    from search_algorithms.weight_sharing import run_search, get_config
    rows = run_search("gdas", "digits", get_config("digits"), seed=777, bench=path)

:mod:`.engine` owns the epoch loop (weight step on a ``train`` batch, architecture step on an
``x-valid`` batch), optimisers, schedules, seeds, checkpoints and the per-epoch benchmark
rows; each algorithm module (tss: :mod:`.darts`, :mod:`.gdas`, :mod:`.rsps`, :mod:`.setn`,
:mod:`.enas`; sss: :mod:`.tas`, :mod:`.fbnetv2`, :mod:`.tunas`) says only what differs and
declares the spaces it supports; each search space (tss, sss, ...) is an adapter of :mod:`.spaces` (supernet, arch strings, row columns).  Importing
this package does not import torch.
See docs/ALGORITHMS.md ("Weight-sharing search").
"""
from __future__ import annotations

import importlib
from types import MappingProxyType
from typing import Any

from natsbench.errors import QueryError
from search_algorithms.weight_sharing.config import CONFIGS, SearchConfig, get_config

__all__ = ["WS_ALGORITHMS", "available_ws_algorithms", "get_ws_algorithm", "run_search",
           "CONFIGS", "SearchConfig", "get_config"]

#: algorithm name -> "module:class" (loaded on first use: the modules import torch)
WS_ALGORITHMS = MappingProxyType({
    "darts-v1": "search_algorithms.weight_sharing.darts:DartsV1",
    "darts-v2": "search_algorithms.weight_sharing.darts:DartsV2",
    "gdas": "search_algorithms.weight_sharing.gdas:GDAS",
    "rsps": "search_algorithms.weight_sharing.rsps:RSPS",
    "setn": "search_algorithms.weight_sharing.setn:SETN",
    "enas": "search_algorithms.weight_sharing.enas:ENAS",
    "tas": "search_algorithms.weight_sharing.tas:TAS",
    "fbnetv2": "search_algorithms.weight_sharing.fbnetv2:FBNetV2",
    "tunas": "search_algorithms.weight_sharing.tunas:TuNAS",
    # the ExtCell space (Na's thesis ch. 4): strength parametrisations + top-k derivation
    "btnas": "search_algorithms.weight_sharing.btnas:BtNAS",
    "darts-topk": "search_algorithms.weight_sharing.btnas:DartsTopK",
    "darts-elu-topk": "search_algorithms.weight_sharing.btnas:DartsEluTopK",
    "fairdarts-topk": "search_algorithms.weight_sharing.btnas:FairDartsTopK",
})


def available_ws_algorithms() -> tuple[str, ...]:
    """Names accepted by :func:`get_ws_algorithm` and ``natsbench search-ws``."""
    return tuple(WS_ALGORITHMS)


def get_ws_algorithm(name: str) -> type:
    """The algorithm class of ``name`` (imports torch). Raises QueryError for an unknown one."""
    try:
        target = WS_ALGORITHMS[name]
    except KeyError:
        raise QueryError(f"unknown weight-sharing algorithm {name!r}; valid: "
                         f"{', '.join(WS_ALGORITHMS)}") from None
    from natsbench._optional import require

    require("torch", extra="train")   # a missing torch names the extra
    module, cls = target.split(":")
    return getattr(importlib.import_module(module), cls)


def run_search(*args: Any, **kwargs: Any) -> Any:
    """:func:`search_algorithms.weight_sharing.engine.run_search` (imports torch)."""
    from search_algorithms.weight_sharing.engine import run_search as _run

    return _run(*args, **kwargs)

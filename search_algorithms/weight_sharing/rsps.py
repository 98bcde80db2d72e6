"""RSPS, random sampling with parameter sharing (Li & Talwalkar, UAI 2019).

Weight step on a uniformly random path drawn per cell and per node (a node's incoming ops are
redrawn until one is not ``none``); no architecture parameters.  Derivation: the best of
``num_candidates`` uniform architectures, each scored on its own x-valid batch.
"""
from __future__ import annotations

from typing import Any

import torch

from natsbench.spaces import tss
from search_algorithms.weight_sharing.base import WSAlgorithm, nan_summary
from search_algorithms.weight_sharing.engine import iterate_candidates

__all__ = ["RSPS", "uniform_cell_path"]

_NONE = tss.OPS.index("none")


def uniform_cell_path(generator: torch.Generator) -> list[int]:
    """Op positions [6] drawn uniformly per node, redrawn until the node has a non-none input."""
    index = [0] * len(tss.EDGES)
    for node in range(1, tss.NUM_NODES):
        edges = [e for e, (to, _) in enumerate(tss.EDGES) if to == node]
        while True:
            ops = torch.randint(0, len(tss.OPS), (len(edges),), generator=generator).tolist()
            if any(o != _NONE for o in ops):
                break
        for e, o in zip(edges, ops):
            index[e] = o
    return index


class RSPS(WSAlgorithm):
    spaces = ("tss",)

    def weight_forward(self, engine: Any, x: torch.Tensor) -> torch.Tensor:
        paths = [uniform_cell_path(engine.generator) for _ in range(engine.net.num_search_cells)]
        return engine.net(x, "path", index=paths)

    def derive(self, engine: Any) -> tuple[list[int], dict[str, float]]:
        best, _ = engine.best_of(list(iterate_candidates(engine, engine.config.num_candidates)))
        return best, nan_summary()

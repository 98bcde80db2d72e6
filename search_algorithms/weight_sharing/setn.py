"""SETN (Dong & Yang, ICCV 2019) as NATS-Bench runs it.

Weight step on one uniformly sampled architecture (shared by every cell); architecture step
with the soft-mixed forward; derivation: the ``num_candidates`` architectures of highest
summed log-probability under ``softmax(arch_logits)``, each scored on its own x-valid batch,
keep the best.
"""
from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import torch

from natsbench.spaces import tss
from search_algorithms.weight_sharing.base import DifferentiableAlgorithm, logits_entropy
from search_algorithms.weight_sharing.engine import iterate_candidates

__all__ = ["SETN", "top_k_archs"]

#: every tss arch as op positions [15625, 6] (lexicographic order)
_ALL = np.array(list(itertools.product(range(len(tss.OPS)), repeat=len(tss.EDGES))))


def top_k_archs(logits: torch.Tensor, k: int) -> list[list[int]]:
    """The ``k`` archs of highest summed log-probability (ties: lexicographic order)."""
    logp = torch.log_softmax(logits.detach().double().cpu(), dim=-1).numpy()
    scores = logp[np.arange(len(tss.EDGES))[None, :], _ALL].sum(axis=1)
    order = np.argsort(-scores, kind="stable")[:k]
    return _ALL[order].tolist()


class SETN(DifferentiableAlgorithm):
    spaces = ("tss",)

    def weight_forward(self, engine: Any, x: torch.Tensor) -> torch.Tensor:
        return engine.net(x, "path", index=next(iterate_candidates(engine, 1)))

    def derive(self, engine: Any) -> tuple[list[int], dict[str, float]]:
        logits = engine.net.arch_logits
        best, _ = engine.best_of(top_k_archs(logits, engine.config.num_candidates))
        return best, {"entropy": logits_entropy(logits)}

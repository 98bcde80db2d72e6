"""D2NAS networks (torch): the cell-search supernet and the searched network's JSON spec.

* :class:`CellSupernet`: a :class:`~natsbench.models.darts_supernet.DartsSupernet` (any number of
  nodes, 1D or 2D, dense head, D2NAS reduction depths) mixed by a softmax over architecture
  logits ``[2, E, K]`` (normal, reduce) in which pruned candidates are masked out (``-inf``), so
  every edge's softmax runs over its live candidates only (P-DARTS re-creates the architecture
  parameters over the kept ops when it prunes; masking is the same function). It implements the
  weight-sharing supernet interface (``weights()``, ``arch_parameters()``, ``forward(x,
  "soft")``), so the DARTS architecture step of :mod:`search_algorithms.weight_sharing` drives it.
* :func:`network_spec` / :func:`build_network`: the searched network as a JSON-ready dict (task
  shape, cell edges, depth, width, reduction depths, the ``(k, d)`` of every searched
  convolution) and the network rebuilt from that dict alone.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from natsbench._optional import require

require("torch", extra="train")  # before importing it: a missing torch names the extra
import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn

from natsbench.errors import ConfigError
from natsbench.models.cell_net import CellNetwork, build_darts_network
from natsbench.models.darts_supernet import DartsSupernet
from natsbench.models.wrn import apply_kernel_choices
from natsbench.spaces._cells import CELL_TYPES
from natsbench.spaces.darts import derive_darts_cell
from search_algorithms.d2nas.configs import D2nasConfig, reduction_layers
from search_algorithms.weight_sharing.strengths import SoftmaxStrength

__all__ = ["CellSupernet", "MaskedSoftmaxStrength", "derive_cells", "network_spec",
           "build_network", "SPEC_FORMAT", "CELL_TYPES"]

SPEC_FORMAT = "natsbench-d2nas-network/1"


class MaskedSoftmaxStrength(SoftmaxStrength):
    """DARTS' softmax over each edge's ops, with dead candidates masked (``mask`` 0 / -inf)."""

    name = "darts-masked"

    def __init__(self, shape: tuple[int, int, int], generator: torch.Generator | None = None) -> None:
        super().__init__(shape, generator)
        self.register_buffer("mask", torch.zeros(shape))

    def mixing(self, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.softmax(self.logits + self.mask, dim=-1)


class CellSupernet(nn.Module):
    """The supernet of one P-DARTS stage (module docstring).

    Args:
        config: the D2NAS configuration (op set, nodes, dims, dense).
        num_outputs, in_channels: the task's.
        layers, channels: this stage's depth and initial width.
        candidates: ``{cell type: [live ops of each edge]}`` (default: every op everywhere).
        generator: draws the initial architecture logits (DARTS: ``1e-3 * N(0, 1)``).
    """

    def __init__(self, config: D2nasConfig, num_outputs: int, in_channels: int, layers: int,
                 channels: int, candidates: dict[str, list[list[str]]] | None = None,
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.config = config
        self.body = DartsSupernet(num_outputs, C=channels, layers=layers, ops=config.ops,
                                  in_channels=in_channels, steps=config.steps, dims=config.dims,
                                  reduction_layers=reduction_layers(config, layers),
                                  dense=config.dense)
        self.edges = self.body.edge_list
        shape = (len(CELL_TYPES), len(self.edges), len(config.ops))
        self.strength = MaskedSoftmaxStrength(shape, generator)
        if candidates is not None:
            for c, cell in enumerate(CELL_TYPES):
                for e, live in enumerate(candidates[cell]):
                    if any(cl.reduction == (cell == "reduce") for cl in self.body.cells):
                        self.body.set_candidates(cell, e, live)
                    for k, op in enumerate(config.ops):
                        if op not in live:
                            self.strength.mask[c, e, k] = float("-inf")

    def weights(self) -> list[nn.Parameter]:
        return list(self.body.parameters())

    def arch_parameters(self) -> list[nn.Parameter]:
        return list(self.strength.parameters())

    def mixing(self) -> torch.Tensor:
        """Mixing weights ``[2, E, K]`` (normal, reduce)."""
        return self.strength.mixing()

    def live(self) -> dict[str, list[list[str]]]:
        """The live candidates of every edge of both cell types (from the mask)."""
        mask = self.strength.mask
        return {cell: [[op for k, op in enumerate(self.config.ops) if mask[c, e, k] == 0]
                       for e in range(len(self.edges))] for c, cell in enumerate(CELL_TYPES)}

    def forward(self, x: torch.Tensor, mode: str = "soft") -> torch.Tensor:
        if mode != "soft":
            raise ConfigError(f"the D2NAS cell supernet has only the 'soft' mode, got {mode!r}")
        w = self.mixing()
        return self.body(x, w[0], w[1])


def prune_candidates(supernet: CellSupernet, keep: int) -> dict[str, list[list[str]]]:
    """P-DARTS' pruning between search stages: per edge, the ``keep`` live ops with the largest
    mixing weights, ``none`` ranked like any other op (P-DARTS' ``train_search.py`` drops the
    smallest softmax weights of the live ops; only its drop after the *last* stage sets the zero
    op aside, which here is the derivation, :func:`derive_cells`, that never picks ``none``).
    Ties go to the earlier op of the op set. Returns the new candidates."""
    w = supernet.mixing().detach().cpu().numpy()
    out: dict[str, list[list[str]]] = {}
    ops = supernet.config.ops
    for c, cell in enumerate(CELL_TYPES):
        rows = []
        for e, live in enumerate(supernet.live()[cell]):
            order = sorted(live, key=lambda op: (-w[c, e, ops.index(op)], ops.index(op)))
            kept = set(order[:keep])
            rows.append([op for op in ops if op in kept])
        out[cell] = rows
    return out


def derive_cells(supernet: CellSupernet) -> dict[str, list[list[Any]]]:
    """The semi-final cells (Algorithm 1, line 10): per cell type, the DARTS rule over the
    mixing weights of the live candidates -> ``[[to_node, from_node, op], ...]``; a dense
    network's reduce cell is its normal cell (it has no reduction cells)."""
    w = supernet.mixing().detach().cpu().numpy().astype(np.float64)
    w = np.where(w > 0, w, -np.inf)                       # dead candidates never win
    cells = {}
    for c, cell in enumerate(CELL_TYPES):
        items = derive_darts_cell(w[c], supernet.config.ops, supernet.edges)
        cells[cell] = [[dst, src, op] for op, src, dst in items]
    if supernet.config.dense:
        cells["reduce"] = [list(e) for e in cells["normal"]]
    return cells


def network_spec(config: D2nasConfig, cells: dict[str, list], num_outputs: int,
                 in_channels: int, input_shape: Sequence[int], layers: int, channels: int,
                 choices: dict[str, dict] | None = None, dropout: float = 0.0) -> dict[str, Any]:
    """A JSON-ready description from which :func:`build_network` rebuilds the network."""
    return {"format": SPEC_FORMAT, "task": config.task, "config": config.name,
            "dims": config.dims, "steps": config.steps, "dense": config.dense,
            "num_outputs": int(num_outputs), "in_channels": int(in_channels),
            "input_shape": [int(s) for s in input_shape], "layers": int(layers),
            "channels": int(channels),
            "reduction_layers": list(reduction_layers(config, layers)),
            "cells": {k: [list(e) for e in v] for k, v in cells.items()},
            "kernels": {n: {"k": int(c["k"]), "d": int(c["d"])} for n, c in (choices or {}).items()},
            "dropout": float(dropout)}


def build_network(spec: dict[str, Any], *, dropout: float | None = None, seed: int = 0
                  ) -> CellNetwork:
    """The network of a :func:`network_spec` dict: the cell network (``steps`` nodes, DARTS
    two-inputs rule checked) with every searched convolution set to its ``(k, d)``.

    ``dropout``: the drop-path probability of the cells (default: the spec's). DASH's hpo grid
    tunes a dropout rate; a cell network has no dropout layer, and P-DARTS/DARTS regularise
    their evaluation networks by drop-path, so the grid's value is used as that probability.
    """
    if spec.get("format") != SPEC_FORMAT:
        raise ConfigError(f"not a D2NAS network spec (format {spec.get('format')!r}, expected "
                          f"{SPEC_FORMAT!r})")
    p = float(spec.get("dropout", 0.0) if dropout is None else dropout)
    net = build_darts_network(
        {"normal": [tuple(e) for e in spec["cells"]["normal"]],
         "reduce": [tuple(e) for e in spec["cells"]["reduce"]]},
        int(spec["num_outputs"]), C=int(spec["channels"]), layers=int(spec["layers"]),
        steps=int(spec["steps"]), in_channels=int(spec["in_channels"]), drop_path_prob=p,
        dims=int(spec["dims"]), reduction_layers=spec["reduction_layers"],
        dense=bool(spec["dense"]))
    if spec.get("kernels"):
        apply_kernel_choices(net, spec["kernels"], seed=seed)
    return net

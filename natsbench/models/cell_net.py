"""DARTS-style cell networks for the DARTS cell space and the ExtCell space.

Network (Liu et al., DARTS, ICLR 2019, evaluation network; Na's thesis section 2.1.1):

    stem: 3x3 conv (no bias) -> BN, ``stem_multiplier * C`` channels
    ``layers`` cells; the cells at depth ``layers // 3`` and ``2 * layers // 3`` are reduction
        cells (stride 2, width doubled), the others normal cells
    global average pooling -> linear                                  [B, num_classes]

A cell reads the outputs of the two previous cells (nodes 0 and 1, each first mapped to the cell
width C by a 1x1 ReLU-Conv-BN, or by a factorized reduction when the previous cell halved the
resolution), computes intermediate nodes 2, 3, ... each as the sum of the operations on its
incoming edges, and outputs the channel concatenation of its intermediate nodes.  In a reduction
cell the edges leaving nodes 0 and 1 have stride 2.

A cell is given as edges ``(to_node, from_node, op)``.  A DARTS cell has exactly two edges into
each intermediate node; an ExtCell (Na's thesis, section 4.2.1) may have several operations on
the same node pair (they are summed like any other incoming edges), any number of edges per
node, and *inactivated* intermediate nodes.

Inactivated nodes.  The thesis defines them as intermediate nodes "that do not have incoming
edges and thus are not connected to the output of an ExtCell", i.e. they take no part in the
cell's computation.  We follow that literally and transitively:

* a node is active when at least one non-``none`` edge enters it from an active node (nodes 0
  and 1 are always active);
* an inactive node is excluded from the output concatenation, so the cell's output width is
  ``C * (number of active intermediate nodes)`` and the next cells' 1x1 preprocessing adapts;
* edges leaving an inactive node are dropped (its feature map would be identically zero, so
  such an edge could only add a constant, e.g. a BN shift); they build no module and cost no
  parameters or FLOPs.

A cell with no active intermediate node outputs zeros of shape ``[B, C, H', W']`` (one node's
worth of channels): it passes no information, but the network still runs, because every cell
also reads the cell two steps back.  Such cells are degenerate, and the network logs a warning.

Generalisations (D2NAS, Lee et al. 2024): ``dims=1`` builds the same network over sequences
``[B, C, L]`` (1D ops of :mod:`natsbench.models.ops`); ``reduction_layers`` places the reduction
cells explicitly (default: DARTS' rule, :func:`darts_reduction_layers`); ``dense=True`` ends with
a 1x1 convolution to ``num_classes`` output channels instead of pooling + linear (dense
prediction keeps the input's size, so such networks have no reduction cells).

Submodules are named ``cells.<i>.edges.<to>_<from>_<k>`` (k counts repeated pairs), so weights
of equal cells line up across networks.
"""
from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from natsbench._optional import require

require("torch", extra="train")  # before importing it: a missing torch names the extra
import torch  # noqa: E402
from torch import nn

from natsbench.errors import InvalidArchError
from natsbench.models.ops import (OPS, FactorizedReduce, Identity, ReLUConvBN, layers_nd,
                                  make_op, zeros_like_output)

__all__ = [
    "SearchedCell", "CellNetwork", "active_nodes", "drop_path", "build_darts_network",
    "build_extcell_network", "darts_reduction_layers", "check_reduction_layers", "make_stem",
    "make_head", "apply_head", "build_cell_stack",
]

logger = logging.getLogger(__name__)

#: One edge of a cell: (to_node, from_node, operation name); nodes 0 and 1 are the inputs.
Edge = tuple[int, int, str]


def drop_path(x: torch.Tensor, drop_prob: float) -> torch.Tensor:
    """Zero whole samples of ``x`` with probability ``drop_prob`` and rescale the others.

    Uses torch's RNG (seed it with ``torch.manual_seed``); returns ``x`` unchanged for 0.
    """
    if drop_prob <= 0.0:
        return x
    keep = 1.0 - drop_prob
    mask = torch.empty((x.shape[0],) + (1,) * (x.dim() - 1), device=x.device, dtype=x.dtype)
    return x * mask.bernoulli_(keep) / keep


def darts_reduction_layers(layers: int) -> tuple[int, ...]:
    """DARTS' reduction cells: depths ``layers // 3`` and ``2 * layers // 3`` (none below 3)."""
    return tuple(sorted({layers // 3, 2 * layers // 3})) if layers >= 3 else ()


def check_reduction_layers(reduction_layers: Sequence[int] | None, layers: int, dense: bool
                           ) -> frozenset[int]:
    """The reduction depths of a network (``None``: DARTS' rule; a dense network has none)."""
    if reduction_layers is None:
        return frozenset() if dense else frozenset(darts_reduction_layers(layers))
    out = frozenset(int(i) for i in reduction_layers)
    bad = sorted(i for i in out if not 0 <= i < layers)
    if bad or (dense and out):
        raise InvalidArchError(f"reduction_layers {sorted(out)} must lie in 0..{layers - 1}"
                               + (" and be empty for a dense network" if dense else ""))
    return out


def make_stem(in_channels: int, channels: int, dims: int = 2) -> nn.Sequential:
    """The DARTS stem: 3x3 conv (no bias, "same" padding) -> BN, for ``dims`` 1 or 2."""
    conv, bn, _, _ = layers_nd(dims)
    return nn.Sequential(conv(in_channels, channels, 3, padding=1, bias=False), bn(channels))


def make_head(net: nn.Module, c_in: int, outputs: int, dims: int = 2, dense: bool = False) -> None:
    """Register the head of a cell network on ``net``: ``dense_conv`` (dense) or
    ``global_pooling`` + ``classifier`` (DARTS' names; see :func:`apply_head`)."""
    net.dense = bool(dense)
    if dense:
        net.dense_conv = layers_nd(dims)[0](c_in, outputs, 1)
    else:
        net.global_pooling = (nn.AdaptiveAvgPool2d(1) if dims == 2 else nn.AdaptiveAvgPool1d(1))
        net.classifier = nn.Linear(c_in, outputs)


def apply_head(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The head registered by :func:`make_head` applied to the last cell's output ``x``."""
    if net.dense:
        return net.dense_conv(x)
    return net.classifier(torch.flatten(net.global_pooling(x), 1))


def active_nodes(edges: Sequence[Edge], steps: int) -> list[int]:
    """Intermediate nodes (2 .. steps + 1) reachable from the inputs through non-``none`` edges."""
    active = {0, 1}
    for j in range(2, steps + 2):
        if any(t == j and f in active and op != "none" for t, f, op in edges):
            active.add(j)
    return sorted(active - {0, 1})


def _check_edges(edges: Sequence[Edge], steps: int) -> list[Edge]:
    checked: list[Edge] = []
    for edge in edges:
        try:
            to, frm, op = edge
        except (TypeError, ValueError):
            raise InvalidArchError(
                f"edge {edge!r} is not a (to_node, from_node, op) triple"
            ) from None
        to, frm, op = int(to), int(frm), str(op)
        if not (2 <= to <= steps + 1 and 0 <= frm < to):
            raise InvalidArchError(
                f"edge ({to}<-{frm}, {op}) is invalid for a cell with {steps} intermediate nodes: "
                f"to_node must be in 2..{steps + 1} and from_node in 0..to_node-1"
            )
        if op not in OPS:
            raise InvalidArchError(
                f"unknown operation {op!r} on edge {to}<-{frm}; valid operations: "
                f"{', '.join(sorted(OPS))}"
            )
        checked.append((to, frm, op))
    return sorted(checked, key=lambda e: (e[0], e[1]))


class SearchedCell(nn.Module):
    """One DARTS/ExtCell cell (see the module docstring for the semantics).

    Args:
        edges: ``(to_node, from_node, op)`` triples; nodes 0, 1 are the two cell inputs and
            2 .. steps + 1 the intermediate nodes.  Order does not matter.
        steps: number of intermediate nodes (4 in DARTS).
        c_prev_prev, c_prev: widths of the inputs (outputs of the cells two and one back).
        c: the cell's node width.
        reduction: whether this cell halves the resolution (edges from inputs get stride 2).
        reduction_prev: whether the previous cell halved it (input 0 is then reduced too).

    Input ``s0 [B, c_prev_prev, 2H, 2W] or [B, c_prev_prev, H, W]``, ``s1 [B, c_prev, H, W]``;
    output ``[B, out_dim, H', W']`` with ``H' = ceil(H / 2)`` for a reduction cell.
    """

    def __init__(
        self, edges: Sequence[Edge], steps: int, c_prev_prev: int, c_prev: int, c: int,
        reduction: bool, reduction_prev: bool, dims: int = 2,
    ) -> None:
        super().__init__()
        if steps < 1:
            raise InvalidArchError(f"a cell needs steps >= 1 intermediate nodes; got {steps}")
        all_edges = _check_edges(edges, steps)
        self.reduction, self.steps, self.c = reduction, steps, c
        self.preprocess0 = (
            FactorizedReduce(c_prev_prev, c, 2, dims=dims) if reduction_prev
            else ReLUConvBN(c_prev_prev, c, 1, 1, 0, dims=dims)
        )
        self.preprocess1 = ReLUConvBN(c_prev, c, 1, 1, 0, dims=dims)
        self.concat = active_nodes(all_edges, steps)
        live = set(self.concat) | {0, 1}
        self.kept_edges: tuple[Edge, ...] = tuple(
            e for e in all_edges if e[2] != "none" and e[1] in live
        )
        self.edges = nn.ModuleDict()
        self._plan: list[tuple[int, int, str]] = []  # (to, from, module key)
        seen: dict[tuple[int, int], int] = {}
        for to, frm, op in self.kept_edges:
            k = seen.get((to, frm), 0)
            seen[(to, frm)] = k + 1
            key = f"{to}_{frm}_{k}"
            stride = 2 if reduction and frm < 2 else 1
            self.edges[key] = make_op(op, c, c, stride, dims=dims)
            self._plan.append((to, frm, key))
        self.out_dim = c * max(1, len(self.concat))

    def forward(self, s0: torch.Tensor, s1: torch.Tensor, drop_prob: float = 0.0) -> torch.Tensor:
        states: dict[int, torch.Tensor] = {0: self.preprocess0(s0), 1: self.preprocess1(s1)}
        for to, frm, key in self._plan:
            op = self.edges[key]
            y = op(states[frm])
            if self.training and drop_prob > 0.0 and not isinstance(op, Identity):
                y = drop_path(y, drop_prob)
            states[to] = y if to not in states else states[to] + y
        if not self.concat:
            return zeros_like_output(states[1], self.c, 2 if self.reduction else 1)
        return torch.cat([states[j] for j in self.concat], dim=1)

    def extra_repr(self) -> str:
        kind = "reduce" if self.reduction else "normal"
        return f"{kind}, c={self.c}, steps={self.steps}, concat={self.concat}"


def build_cell_stack(net: nn.Module, make_cell: Callable[..., nn.Module], *, num_classes: int,
                     C: int, layers: int, in_channels: int, stem_multiplier: int, dims: int,
                     reduction_layers: Sequence[int] | None, dense: bool) -> None:
    """The DARTS skeleton shared by :class:`CellNetwork` and the supernets: sets ``net.stem``
    (width ``stem_multiplier * C``), ``net.cells`` (``layers`` cells, the width doubling at each
    reduction cell, each cell fed by the two before it) and the head (:func:`make_head`), in
    that order (the order the parameters are created and initialised in).

    ``make_cell(i, c_prev_prev, c_prev, c_curr, reduction, reduction_prev)`` builds cell ``i``;
    it must have ``out_dim`` (its output channels).
    """
    c_curr = stem_multiplier * C
    net.stem = make_stem(in_channels, c_curr, dims)
    reductions = check_reduction_layers(reduction_layers, layers, dense)
    c_prev_prev, c_prev, c_curr = c_curr, c_curr, C
    reduction_prev = False
    cells = []
    for i in range(layers):
        reduction = i in reductions
        if reduction:
            c_curr *= 2
        cell = make_cell(i, c_prev_prev, c_prev, c_curr, reduction, reduction_prev)
        cells.append(cell)
        reduction_prev = reduction
        c_prev_prev, c_prev = c_prev, cell.out_dim
    net.cells = nn.ModuleList(cells)
    make_head(net, c_prev, num_classes, dims, dense)


class CellNetwork(nn.Module):
    """A DARTS-style network of stacked normal and reduction cells.

    Args:
        normal, reduce: edges ``(to_node, from_node, op)`` of the normal and reduction cell.
        num_classes: classifier outputs.
        C: width of the first cells (DARTS: 16 for search, 36 for evaluation on CIFAR).
        layers: number of cells (DARTS: 8 for search, 20 for evaluation); reductions sit at
            ``layers // 3`` and ``2 * layers // 3`` (need ``layers >= 3`` for two of them).
        steps: intermediate nodes per cell (4 in DARTS).
        in_channels: input image channels.
        stem_multiplier: stem width = ``stem_multiplier * C`` (3 in DARTS).
        drop_path_prob: probability of dropping a non-identity edge output per sample during
            training (the attribute can be changed between epochs, as DARTS schedules it).
        dims: 2 (images) or 1 (sequences ``[B, C, L]``).
        reduction_layers: depths of the reduction cells (default: :func:`darts_reduction_layers`;
            none when ``dense``).
        dense: end with a 1x1 convolution to ``num_classes`` channels (output
            ``[B, num_classes, *S]``) instead of pooling + linear.

    Input ``[B, in_channels, H, W]`` of any size (the head pools globally); output logits
    ``[B, num_classes]``.
    """

    def __init__(
        self, normal: Sequence[Edge], reduce: Sequence[Edge], num_classes: int, C: int = 16,
        layers: int = 8, steps: int = 4, in_channels: int = 3, stem_multiplier: int = 3,
        drop_path_prob: float = 0.0, *, dims: int = 2,
        reduction_layers: Sequence[int] | None = None, dense: bool = False,
    ) -> None:
        super().__init__()
        if C < 1 or layers < 1 or num_classes < 1 or in_channels < 1 or stem_multiplier < 1:
            raise InvalidArchError(
                f"C, layers, num_classes, in_channels, stem_multiplier must be >= 1; got C={C}, "
                f"layers={layers}, num_classes={num_classes}, in_channels={in_channels}, "
                f"stem_multiplier={stem_multiplier}"
            )
        if not 0.0 <= drop_path_prob < 1.0:
            raise InvalidArchError(f"drop_path_prob must be in [0, 1); got {drop_path_prob}")
        self.drop_path_prob = float(drop_path_prob)

        def make_cell(i: int, c_pp: int, c_p: int, c: int, reduction: bool,
                      reduction_prev: bool) -> SearchedCell:
            cell = SearchedCell(reduce if reduction else normal, steps, c_pp, c_p, c,
                                reduction, reduction_prev, dims)
            if not cell.concat:
                logger.warning(
                    "cell %d (%s) has no active intermediate node; it outputs zeros", i,
                    "reduce" if reduction else "normal",
                )
            return cell

        build_cell_stack(self, make_cell, num_classes=num_classes, C=C, layers=layers,
                         in_channels=in_channels, stem_multiplier=stem_multiplier, dims=dims,
                         reduction_layers=reduction_layers, dense=dense)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s0 = s1 = self.stem(x)
        for cell in self.cells:
            s0, s1 = s1, cell(s0, s1, self.drop_path_prob)
        return apply_head(self, s1)


def _edges_of(cell: Any, which: str) -> list[Edge]:
    if isinstance(cell, (str, bytes)) or not isinstance(cell, Sequence):
        raise InvalidArchError(
            f"{which} cell must be a sequence of (to_node, from_node, op) triples; got {cell!r}"
        )
    return [tuple(e) for e in cell]  # type: ignore[misc]


def _cell_pair(space: str, arch: Any) -> tuple[list[Edge], list[Edge]]:
    """(normal, reduce) edge lists from an arch of ``space``.

    ``arch``: a genotype string of :mod:`natsbench.spaces.darts` / ``.extcell`` (DARTS also
    accepts the DARTS code's ``Genotype(...)`` repr), a ``natsbench.spaces`` ``Genotype``, or
    a mapping ``{"normal": edges, "reduce": edges}`` of ``(to_node, from_node, op)`` triples.
    """
    module = importlib.import_module(f"natsbench.spaces.{space}")
    if isinstance(arch, str):
        arch = module.parse(arch)
    if isinstance(arch, module.Genotype):
        if space == "darts":
            module.check_darts(arch)
        # spaces store (op, from_node, to_node); cells here take (to_node, from_node, op)
        return ([(dst, src, op) for op, src, dst in arch.normal],
                [(dst, src, op) for op, src, dst in arch.reduce])
    if isinstance(arch, Mapping):
        missing = {"normal", "reduce"} - set(arch)
        if missing:
            raise InvalidArchError(
                f"{space} arch mapping lacks {sorted(missing)}; it needs keys 'normal' and 'reduce'"
            )
        return _edges_of(arch["normal"], "normal"), _edges_of(arch["reduce"], "reduce")
    raise InvalidArchError(
        f"{space} arch must be a genotype string, a Genotype or a {{'normal', 'reduce'}} "
        f"mapping of (to_node, from_node, op) triples; got {arch!r}"
    )


def _check_darts_cell(edges: Sequence[Edge], steps: int, which: str) -> None:
    for j in range(2, steps + 2):
        sources = [f for t, f, op in edges if t == j and op != "none"]
        if len(sources) != 2 or sources[0] == sources[1]:
            raise InvalidArchError(
                f"{which} DARTS cell: node {j} must have exactly two incoming operations from "
                f"two different nodes; got sources {sources} (use space 'extcell' for cells "
                f"outside the DARTS cell space)"
            )


def build_darts_network(
    arch: Any, num_classes: int, C: int = 16, layers: int = 8, steps: int = 4,
    in_channels: int = 3, stem_multiplier: int = 3, drop_path_prob: float = 0.0,
    **options: Any,
) -> CellNetwork:
    """Network of a DARTS cell pair: every intermediate node has exactly two inputs.

    ``arch``: a string of :mod:`natsbench.spaces.darts` or ``{"normal": edges, "reduce": edges}``
    (the mapping form for other ``steps``). Defaults (C=16, layers=8) are DARTS' search-size
    network; its CIFAR evaluation network is C=36, layers=20. ``options``: ``dims``,
    ``reduction_layers``, ``dense`` of :class:`CellNetwork`.
    """
    normal, reduce = _cell_pair("darts", arch)
    _check_darts_cell(_check_edges(normal, steps), steps, "normal")
    _check_darts_cell(_check_edges(reduce, steps), steps, "reduce")
    return CellNetwork(normal, reduce, num_classes, C=C, layers=layers, steps=steps,
                       in_channels=in_channels, stem_multiplier=stem_multiplier,
                       drop_path_prob=drop_path_prob, **options)


def build_extcell_network(
    arch: Any, num_classes: int, C: int = 16, layers: int = 8, steps: int = 4,
    in_channels: int = 3, stem_multiplier: int = 3, drop_path_prob: float = 0.0,
) -> CellNetwork:
    """Network of an ExtCell pair (several ops per node pair, inactive nodes allowed).

    ``arch``: a string of :mod:`natsbench.spaces.extcell` or ``{"normal": edges, "reduce": edges}``.
    """
    normal, reduce = _cell_pair("extcell", arch)
    return CellNetwork(normal, reduce, num_classes, C=C, layers=layers, steps=steps,
                       in_channels=in_channels, stem_multiplier=stem_multiplier,
                       drop_path_prob=drop_path_prob)

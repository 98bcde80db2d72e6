"""The NATS-Bench macro skeleton and the topology-search-space (tss) network.

Skeleton (Dong et al., NATS-Bench, TPAMI 2021; Dong's thesis section 5.2.1):

    stem: 3x3 conv (no bias) -> BN                                  [B, C0, H, W]
    stage 1: N cells                                                [B, C, H, W]
    residual block, stride 2 (shortcut: 2x2 avg-pool + 1x1 conv)    [B, 2C, H/2, W/2]
    stage 2: N cells
    residual block, stride 2                                        [B, 4C, H/4, W/4]
    stage 3: N cells
    BN -> ReLU -> global average pooling -> linear                  [B, num_classes]

A cell is a DAG over 4 nodes; node 0 is the cell input, node j > 0 sums the outputs of the
operations on its incoming edges, the last node is the cell output.  Edges leaving node 0 map
the cell's input width to its output width; all others keep the output width.

The network is described by its list of layer widths (one per cell or residual block, the
latter at positions N and 2N + 1), so the same class builds the tss networks (widths
``[C]*N + [2C] + [2C]*N + [4C] + [4C]*N``) and the sss networks (N = 1, five free widths).
Submodule names equal those of the official checkpoints, so an official ``net_state_dict``
loads with ``load_state_dict(strict=True)``.

``forward`` returns the logits ``[B, num_classes]`` only (the official networks also return
the pooled features; ours exposes them through :meth:`MacroNetwork.features`).
"""
from __future__ import annotations

from collections.abc import Sequence

from natsbench._optional import require

require("torch", extra="train")  # before importing it: a missing torch names the extra
import torch  # noqa: E402
from torch import nn

from natsbench.errors import InvalidArchError
from natsbench.models.ops import ResidualBlock, Zero, make_op

__all__ = ["TopologyCell", "MacroNetwork", "build_tss_network", "Edge"]

#: One edge of a cell: (to_node, from_node, operation name).
Edge = tuple[int, int, str]


class TopologyCell(nn.Module):
    """A NATS-Bench cell: node j = sum of op(node i) over the edges (j, i); output = last node.

    Args:
        edges: ``(to_node, from_node, op)`` triples, ``0 <= from_node < to_node``; the module
            list ``layers`` follows their order.  A node whose incoming edges are all ``none``
            outputs zeros of shape ``[B, c_out, H, W]``.
        c_in, c_out: widths of the cell input (node 0) and of every other node.
        affine, track_running_stats: of the BNs inside the operations (supernets use
            ``False, False``).
    """

    def __init__(self, edges: Sequence[Edge], c_in: int, c_out: int, affine: bool = True,
                 track_running_stats: bool = True) -> None:
        super().__init__()
        if not edges:
            raise InvalidArchError("a cell needs at least one edge; got none")
        self.num_nodes = 1 + max(to for to, _, _ in edges)
        for to, frm, op in edges:
            if not 0 <= frm < to:
                raise InvalidArchError(
                    f"edge ({to}<-{frm}, {op}) must go from a lower node to a higher one"
                )
        self.edges = tuple((int(t), int(f), str(o)) for t, f, o in edges)
        self.layers = nn.ModuleList(
            make_op(op, c_in if frm == 0 else c_out, c_out, 1, affine, track_running_stats)
            for _, frm, op in self.edges
        )
        self.in_dim, self.out_dim = c_in, c_out
        # Per target node, the (layer index, source node) pairs that contribute (zero ops are
        # skipped: they add nothing).
        self._incoming: list[list[tuple[int, int]]] = [[] for _ in range(self.num_nodes)]
        for idx, (to, frm, _) in enumerate(self.edges):
            if not isinstance(self.layers[idx], Zero):
                self._incoming[to].append((idx, frm))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for j in range(1, self.num_nodes):
            total: torch.Tensor | None = None
            for idx, frm in self._incoming[j]:
                y = self.layers[idx](nodes[frm])
                total = y if total is None else total + y
            if total is None:
                b, _, h, w = x.shape
                total = x.new_zeros((b, self.out_dim, h, w))
            nodes.append(total)
        return nodes[-1]

    def extra_repr(self) -> str:
        arcs = ", ".join(f"{t}<-{f}:{o}" for t, f, o in self.edges)
        return f"c_in={self.in_dim}, c_out={self.out_dim}, edges=[{arcs}]"


class MacroNetwork(nn.Module):
    """The NATS-Bench skeleton over explicit layer widths.

    Args:
        widths: one width per layer; ``len(widths) == 3 * N + 2`` and layers ``N`` and
            ``2N + 1`` are the stride-2 residual blocks.  The stem outputs ``widths[0]``.
        cell_edges: the cell topology shared by every cell (see :class:`TopologyCell`).
        num_classes: classifier outputs.
        in_channels: input image channels (3 for RGB).

    Input ``[B, in_channels, H, W]`` (any H, W >= 1); output logits ``[B, num_classes]``.
    """

    def __init__(
        self, widths: Sequence[int], cell_edges: Sequence[Edge], num_classes: int,
        in_channels: int = 3,
    ) -> None:
        super().__init__()
        widths = [int(w) for w in widths]
        if len(widths) % 3 != 2 or len(widths) < 5:
            raise InvalidArchError(
                f"the skeleton needs 3*N+2 layer widths (N >= 1); got {len(widths)}: {widths}"
            )
        if min(widths) < 1 or num_classes < 1 or in_channels < 1:
            raise InvalidArchError(
                f"widths, num_classes and in_channels must be positive; got widths={widths}, "
                f"num_classes={num_classes}, in_channels={in_channels}"
            )
        n = len(widths) // 3
        reductions = {n, 2 * n + 1}
        self.widths, self.num_classes = tuple(widths), int(num_classes)
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, widths[0], kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(widths[0]),
        )
        cells: list[nn.Module] = []
        c_prev = widths[0]
        for i, width in enumerate(widths):
            if i in reductions:
                cells.append(ResidualBlock(c_prev, width, 2))
            else:
                cells.append(TopologyCell(cell_edges, c_prev, width))
            c_prev = width
        self.cells = nn.ModuleList(cells)
        self.lastact = nn.Sequential(nn.BatchNorm2d(c_prev), nn.ReLU(inplace=True))
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_prev, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled features ``[B, widths[-1]]`` that the classifier reads."""
        x = self.stem(x)
        for cell in self.cells:
            x = cell(x)
        return torch.flatten(self.global_pooling(self.lastact(x)), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def build_tss_network(
    arch: str, num_classes: int, C: int = 16, N: int = 5, in_channels: int = 3,
) -> MacroNetwork:
    """The tss network of ``arch`` (``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``).

    ``C`` is the first stage's width (16 in NATS-Bench; stages use C, 2C, 4C) and ``N`` the
    number of cells per stage (5 in NATS-Bench).  Raises InvalidArchError for a bad string.
    """
    from natsbench.spaces import tss

    ops = tss.parse(arch)
    edges = [(to, frm, op) for (to, frm), op in zip(tss.EDGES, ops)]
    if C < 1 or N < 1:
        raise InvalidArchError(f"C and N must be >= 1; got C={C}, N={N}")
    widths = [C] * N + [2 * C] * (N + 1) + [4 * C] * (N + 1)
    return MacroNetwork(widths, edges, num_classes, in_channels=in_channels)

"""The weight-sharing supernet of the topology search space (tss).

Skeleton: the NATS-Bench macro network of :mod:`natsbench.models.tss_net` (stem, three stages
of ``N`` cells joined by two stride-2 residual blocks, BN-ReLU-pool-linear head); every one of
the 6 cell edges holds all 5 tss operations (``tss.OPS`` order), and the architecture is one
logit tensor ``[6, 5]`` (edges in ``tss.EDGES`` order) shared by all cells.

BatchNorm, as in the official NATS-Bench supernet (``GenericNAS201Model``):

* the BNs inside the candidate operations and the final BN of the head have no affine
  parameters and no running statistics (``affine=False, track_running_stats=False``), so
  they always normalise with the statistics of the current batch, in training and in eval;
* the stem BN and the BNs of the two residual blocks keep PyTorch's defaults (affine, with
  running statistics).

One :meth:`TssSupernet.forward` with a ``mode``:

=========  ==============================================================================
``soft``   every op of an edge runs, mixed by ``weights`` ``[6, 5]`` (DARTS; SETN's
           architecture step, the official "joint" forward).
``hard``   ``weights`` ``[6, 5]`` is a straight-through one-hot (:func:`gumbel_hard`) and
           ``index`` ``[6]`` its argmax: only the chosen op of each edge runs, multiplied by
           its weight (value 1); the other entries enter the sum as the scalars
           ``weights[e, k]`` (value 0) so every logit of the edge receives a gradient (GDAS).
           One sample serves every cell of the pass.
``path``   ``index`` ``[6]`` (one arch for every cell: SETN's uniform samples, ENAS) or
           ``[num_cells, 6]`` (one per cell: RSPS) of op positions; only those ops run,
           ``none`` edges are skipped, a node without inputs is zeros.
=========  ==============================================================================

Inputs ``[B, in_channels, H, W]``, output logits ``[B, num_classes]``.  Works on any device
and memory format (the engine feeds channels-last).
"""
from __future__ import annotations

from collections.abc import Sequence

from natsbench._optional import require

require("torch", extra="train")  # before importing it: a missing torch names the extra
import torch  # noqa: E402
from torch import nn

from natsbench.errors import InvalidArchError
from natsbench.models.ops import ResidualBlock, Zero, make_op
from natsbench.ops.gumbel import gumbel_perturb
from natsbench.spaces import tss

__all__ = ["TssSupernet", "SearchCell", "gumbel_hard", "MODES"]

#: forward modes (see the module docstring)
MODES: tuple[str, ...] = ("soft", "hard", "path")
NUM_EDGES, NUM_OPS = len(tss.EDGES), len(tss.OPS)


def gumbel_hard(logits: torch.Tensor, tau: float, generator: torch.Generator | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """GDAS sampling: ``(hardwts [E, K], index [E])`` from logits ``[E, K]``.

    ``probs = softmax((log_softmax(logits) + g) / tau)`` with Gumbel noise ``g``
    (:func:`natsbench.ops.gumbel.gumbel_perturb`: drawn on the CPU from ``generator``, redrawn
    until finite; redrawn too if ``probs`` is not finite); ``index = argmax probs``;
    ``hardwts = onehot(index) - probs.detach() + probs`` (value one-hot, gradient of
    ``probs``).
    """
    while True:
        probs = torch.softmax(gumbel_perturb(logits, tau, generator), dim=-1)
        if bool(torch.isfinite(probs).all()):
            break
    index = probs.argmax(dim=-1)
    one_hot = torch.zeros_like(probs).scatter_(-1, index.unsqueeze(-1), 1.0)
    return one_hot - probs.detach() + probs, index


class SearchCell(nn.Module):
    """A tss cell whose 6 edges each hold the 5 tss operations (BN without affine/stats).

    ``edges[e][k]`` is op ``tss.OPS[k]`` on edge ``tss.EDGES[e]``; edges leaving node 0 map
    ``c_in`` to ``c_out``.  See the module docstring for the modes.
    """

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.in_dim, self.out_dim = c_in, c_out
        self.edges = nn.ModuleList(
            nn.ModuleList(make_op(op, c_in if frm == 0 else c_out, c_out, 1, affine=False,
                                  track_running_stats=False) for op in tss.OPS)
            for _, frm in tss.EDGES)
        self.num_nodes = 1 + max(to for to, _ in tss.EDGES)
        self._zero = [isinstance(m, Zero) for m in self.edges[0]]

    def _zeros(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        return x.new_zeros((b, self.out_dim, h, w))

    def forward(self, x: torch.Tensor, mode: str, weights: torch.Tensor | None = None,
                index: Sequence[int] | None = None) -> torch.Tensor:
        nodes = [x]
        for j in range(1, self.num_nodes):
            total: torch.Tensor | None = None
            for e, (to, frm) in enumerate(tss.EDGES):
                if to != j:
                    continue
                y = self._edge(e, nodes[frm], mode, weights, index)
                if y is not None:
                    total = y if total is None else total + y
            nodes.append(self._zeros(x) if total is None else total)
        return nodes[-1]

    def _edge(self, e: int, h: torch.Tensor, mode: str, weights: torch.Tensor | None,
              index: Sequence[int] | None) -> torch.Tensor | None:
        ops = self.edges[e]
        if mode == "soft":
            # a `none` op adds w * 0: nothing to the value, nothing to any gradient
            out = [weights[e, k] * op(h) for k, op in enumerate(ops) if not self._zero[k]]
            return sum(out[1:], out[0])
        k = int(index[e])
        if mode == "path":
            return None if self._zero[k] else ops[k](h)
        # hard: the chosen op times its (unit-valued) weight plus the other weights (zeros
        # carrying gradients), as scalars broadcast over the map
        rest = weights[e].sum() - weights[e, k]
        if self._zero[k]:
            return self._zeros(h) + weights[e, k] * 0.0 + rest  # keeps every logit's gradient
        return weights[e, k] * ops[k](h) + rest


class TssSupernet(nn.Module):
    """The tss supernet (see the module docstring).

    Args:
        num_classes: classifier outputs.
        C: first-stage width (stages use C, 2C, 4C); 16 in NATS-Bench.
        N: cells per stage; 5 in NATS-Bench.
        in_channels: image channels.

    Attributes:
        arch_logits: ``nn.Parameter`` ``[6, 5]``, initialised ``1e-3 * N(0, 1)`` from torch's
            global RNG (seed it first).  Not part of :meth:`weights`.
    """

    def __init__(self, num_classes: int, C: int = 16, N: int = 5, in_channels: int = 3) -> None:
        super().__init__()
        if C < 1 or N < 1 or num_classes < 1 or in_channels < 1:
            raise InvalidArchError(f"C, N, num_classes, in_channels must be >= 1; got C={C}, N={N}, "
                                   f"num_classes={num_classes}, in_channels={in_channels}")
        widths = [C] * N + [2 * C] * (N + 1) + [4 * C] * (N + 1)
        reductions = {N, 2 * N + 1}
        self.C, self.N, self.num_classes = C, N, num_classes
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, C, kernel_size=3, padding=1, bias=False), nn.BatchNorm2d(C))
        cells: list[nn.Module] = []
        c_prev = C
        for i, width in enumerate(widths):
            cells.append(ResidualBlock(c_prev, width, 2) if i in reductions
                         else SearchCell(c_prev, width))
            c_prev = width
        self.cells = nn.ModuleList(cells)
        self.num_search_cells = sum(isinstance(c, SearchCell) for c in cells)
        self.lastact = nn.Sequential(
            nn.BatchNorm2d(c_prev, affine=False, track_running_stats=False), nn.ReLU(inplace=True))
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_prev, num_classes)
        self.arch_logits = nn.Parameter(1e-3 * torch.randn(NUM_EDGES, NUM_OPS))

    def weights(self) -> list[nn.Parameter]:
        """The shared weights (every parameter except :attr:`arch_logits`)."""
        return [p for name, p in self.named_parameters() if name != "arch_logits"]

    def arch_parameters(self) -> list[nn.Parameter]:
        """The architecture parameters: ``[arch_logits]`` (the weight-sharing engine's
        supernet interface, with :meth:`weights`)."""
        return [self.arch_logits]

    def forward(self, x: torch.Tensor, mode: str = "soft", weights: torch.Tensor | None = None,
                index: Sequence[int] | torch.Tensor | None = None) -> torch.Tensor:
        """Logits ``[B, num_classes]`` of images ``x`` ``[B, C_in, H, W]``.

        ``soft``: ``weights`` defaults to ``softmax(arch_logits)``.  ``hard``: ``weights`` and
        ``index`` from :func:`gumbel_hard`.  ``path``: ``index`` ``[6]`` or ``[cells, 6]``.
        """
        if mode not in MODES:
            raise InvalidArchError(f"unknown supernet mode {mode!r}; valid: {', '.join(MODES)}")
        if mode == "soft" and weights is None:
            weights = torch.softmax(self.arch_logits, dim=-1)
        if mode == "hard" and (weights is None or index is None):
            raise InvalidArchError("mode 'hard' needs weights and index (see gumbel_hard)")
        per_cell = None
        if mode in ("path", "hard"):
            if index is None:
                raise InvalidArchError(f"mode {mode!r} needs index")
            idx = torch.as_tensor(index).tolist()
            per_cell = idx if isinstance(idx[0], list) else [idx] * self.num_search_cells
            if len(per_cell) != self.num_search_cells or any(
                    len(r) != NUM_EDGES or not all(0 <= k < NUM_OPS for k in r) for r in per_cell):
                raise InvalidArchError(f"index must be [6] or [{self.num_search_cells}, 6] op "
                                       f"positions in 0..{NUM_OPS - 1}; got {index!r}")
        x = self.stem(x)
        s = 0
        for cell in self.cells:
            if isinstance(cell, SearchCell):
                x = cell(x, mode, weights, None if per_cell is None else per_cell[s])
                s += 1
            else:
                x = cell(x)
        x = torch.flatten(self.global_pooling(self.lastact(x)), 1)
        return self.classifier(x)

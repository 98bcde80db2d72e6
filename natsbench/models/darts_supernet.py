"""The weight-sharing supernet of the DARTS cell space (and the ExtCell space built on it).

Skeleton: the DARTS search network (Liu et al., ICLR 2019) as :class:`~natsbench.models.cell_net.CellNetwork`
builds it: a 3x3 conv-BN stem of ``stem_multiplier * C`` channels, ``layers`` cells with
reduction cells at depth ``layers // 3`` and ``2 * layers // 3`` (width doubled, stride 2),
global average pooling and a linear head.  Every cell is a *supernet cell*: each of its 14
edges (:data:`natsbench.spaces.darts.EDGES` order) holds a mixed operation over the candidate
ops, and the cell outputs the concatenation of its 4 intermediate nodes.  All normal cells share
one set of mixing weights, all reduction cells another.

Op set and candidates (reusable beyond BtNAS, e.g. by D2NAS):

* ``ops``: any subset of the 8 DARTS op names (:data:`natsbench.spaces.darts.OPS`), in a
  caller-chosen order; this order is the column order of the mixing weights ``[14, K]``.
* per-edge candidate subsets: :meth:`DartsSupernet.set_candidates` removes ops from one edge of
  one cell type (progressive pruning).  Modules are built only for live candidates, so
  parameters are counted only for them; the weight columns of dead candidates are ignored.
* ``none`` builds no module: it contributes ``w * 0 = 0`` to the sum, so it is skipped.

Mixed op: ``y = sum_k w[e, k] * op_k(x)`` over the live candidates ``k`` of edge ``e``; the
weights come from outside (:meth:`DartsSupernet.forward`), so the parametrisation of the
strengths (softmax, sigmoid, Beta samples, ...) lives in its own module.

BatchNorm, as in the DARTS search network: the BNs inside candidate ops are not affine; here
they also keep no running statistics (they normalise with the current batch in training and in
eval, as the tss supernet does), and a pooling candidate is followed by such a BN (DARTS'
``MixedOp``).  The stem BN and the cells' 1x1 preprocessing keep PyTorch's defaults.

Generalisations (D2NAS, Lee et al. 2024): ``steps`` intermediate nodes per cell (edges
:func:`cell_edges`, ``steps * (steps + 3) / 2`` of them: 14 for 4 nodes, 9 for 3), ``dims=1``
(sequences ``[B, C, L]``), explicit ``reduction_layers`` and a ``dense`` head, as in
:class:`~natsbench.models.cell_net.CellNetwork`.

Inputs ``[B, in_channels, H, W]``, output logits ``[B, num_classes]``.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence

from natsbench._optional import require

require("torch", extra="train")  # before importing it: a missing torch names the extra
import torch  # noqa: E402
from torch import nn

from natsbench.errors import InvalidArchError
from natsbench.models.cell_net import apply_head, build_cell_stack
from natsbench.models.ops import FactorizedReduce, ReLUConvBN, layers_nd, make_op, zeros_like_output
from natsbench.spaces._cells import CELL_TYPES, D2NAS_OPS, EDGE_INDEX, EDGES, OPS

__all__ = ["DartsSupernet", "StrengthSupernet", "SupernetCell", "MixedEdge", "check_op_set", "D2NAS_OPS",
           "cell_edges"]


def cell_edges(steps: int = 4) -> tuple[tuple[int, int], ...]:
    """Edges ``(to_node, from_node)`` of a cell with ``steps`` intermediate nodes, grouped by
    ``to_node`` (the row order of the mixing weights; 4 nodes: :data:`EDGES`)."""
    return tuple((j, i) for j in range(2, steps + 2) for i in range(j))


def check_op_set(ops: Iterable[str]) -> tuple[str, ...]:
    """Validate an op set: distinct names of the 8 DARTS ops, at least one."""
    if isinstance(ops, str):
        raise InvalidArchError(f"ops must be a sequence of op names, got the string {ops!r}")
    out = tuple(ops)
    bad = [o for o in out if o not in OPS]
    if bad or not out or len(set(out)) != len(out):
        raise InvalidArchError(f"invalid op set {list(out)}: ops must be distinct names from "
                               f"{', '.join(OPS)} (at least one)")
    return out


class MixedEdge(nn.Module):
    """One edge of a supernet cell: the live candidate ops, mixed by outside weights.

    ``candidates`` maps op name -> module (only live, non-'none' candidates have one);
    ``columns`` holds their column indices in the weight row ``[K]``.
    """

    def __init__(self, ops: Sequence[str], c: int, stride: int, dims: int = 2) -> None:
        super().__init__()
        self.ops, self.c, self.stride, self.dims = tuple(ops), c, stride, dims
        self._column = {op: i for i, op in enumerate(self.ops)}
        self.candidates = nn.ModuleDict()
        self.live: list[str] = []
        for op in ops:
            self._add(op)

    def _add(self, op: str) -> None:
        self.live.append(op)
        if op == "none":
            return
        module = make_op(op, self.c, self.c, self.stride, False, False, self.dims)
        if "pool" in op:
            bn = layers_nd(self.dims)[1]
            module = nn.Sequential(module, bn(self.c, affine=False, track_running_stats=False))
        self.candidates[op] = module

    def restrict(self, keep: Iterable[str]) -> None:
        """Keep only the candidates in ``keep`` (modules of the others are deleted)."""
        keep = set(keep)
        for op in list(self.live):
            if op not in keep:
                self.live.remove(op)
                if op in self.candidates:
                    del self.candidates[op]

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor | None:
        """``sum_k w[k] * op_k(x)`` over live non-'none' candidates; None when there are none.

        ``w``: ``[K]`` weights in the supernet's op order.
        """
        out = None
        for op, module in self.candidates.items():
            y = w[self._column[op]] * module(x)
            out = y if out is None else out + y
        return out


class SupernetCell(nn.Module):
    """A DARTS cell whose edges (14 for 4 ``steps``) are :class:`MixedEdge`\\ s (see the
    module docstring)."""

    def __init__(self, ops: Sequence[str], c_prev_prev: int, c_prev: int, c: int,
                 reduction: bool, reduction_prev: bool, steps: int = 4, dims: int = 2) -> None:
        super().__init__()
        self.reduction, self.c, self.steps = reduction, c, steps
        self.preprocess0 = (FactorizedReduce(c_prev_prev, c, 2, dims=dims) if reduction_prev
                            else ReLUConvBN(c_prev_prev, c, 1, 1, 0, dims=dims))
        self.preprocess1 = ReLUConvBN(c_prev, c, 1, 1, 0, dims=dims)
        self.edges = nn.ModuleList(
            MixedEdge(ops, c, 2 if reduction and frm < 2 else 1, dims) for _, frm in cell_edges(steps))
        self.out_dim = c * steps

    def forward(self, s0: torch.Tensor, s1: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """``weights``: ``[E, K]`` mixing weights of this cell type."""
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        e = 0
        for node in range(2, self.steps + 2):
            total = None
            for frm in range(node):
                y = self.edges[e](states[frm], weights[e])
                e += 1
                if y is not None:
                    total = y if total is None else total + y
            if total is None:   # every incoming candidate pruned or 'none'
                total = zeros_like_output(states[1], self.c, 2 if self.reduction else 1)
            states.append(total)
        return torch.cat(states[2:], dim=1)


class DartsSupernet(nn.Module):
    """DARTS-cell supernet with outside mixing weights (module docstring).

    Args:
        num_classes: classifier outputs.
        C: width of the first cells (DARTS search: 16).
        layers: number of cells (DARTS search: 8); reductions at ``layers // 3`` and
            ``2 * layers // 3``.
        ops: the op set (default: the 8 DARTS ops in :data:`natsbench.spaces.darts.OPS` order).
        in_channels: input image channels.
        stem_multiplier: stem width = ``stem_multiplier * C``.
        steps: intermediate nodes per cell (edges: :func:`cell_edges`).
        dims, reduction_layers, dense: as :class:`~natsbench.models.cell_net.CellNetwork`.
    """

    def __init__(self, num_classes: int, C: int = 16, layers: int = 8,
                 ops: Sequence[str] = OPS, in_channels: int = 3, stem_multiplier: int = 3,
                 *, steps: int = 4, dims: int = 2, reduction_layers: Sequence[int] | None = None,
                 dense: bool = False) -> None:
        super().__init__()
        if min(num_classes, C, layers, in_channels, stem_multiplier) < 1:
            raise InvalidArchError(f"num_classes, C, layers, in_channels, stem_multiplier must be "
                                   f">= 1; got {num_classes}, {C}, {layers}, {in_channels}, "
                                   f"{stem_multiplier}")
        self.ops = check_op_set(ops)
        if steps < 1:
            raise InvalidArchError(f"steps must be >= 1, got {steps}")
        self.steps, self.edge_list = steps, cell_edges(steps)
        build_cell_stack(
            self, lambda i, c_pp, c_p, c, red, red_prev: SupernetCell(
                self.ops, c_pp, c_p, c, red, red_prev, steps, dims),
            num_classes=num_classes, C=C, layers=layers, in_channels=in_channels,
            stem_multiplier=stem_multiplier, dims=dims, reduction_layers=reduction_layers,
            dense=dense)

    @property
    def num_ops(self) -> int:
        """K, the number of columns of the mixing weights."""
        return len(self.ops)

    def candidates(self, cell_type: str, edge: int) -> tuple[str, ...]:
        """The live candidate ops of ``edge`` (0..E-1) of ``cell_type`` ('normal'/'reduce')."""
        return tuple(self._edges_of(cell_type, edge)[0].live)

    def _edges_of(self, cell_type: str, edge: int) -> list[MixedEdge]:
        if cell_type not in CELL_TYPES:
            raise InvalidArchError(f"cell type {cell_type!r} is not one of {', '.join(CELL_TYPES)}")
        n = len(self.edge_list)
        if isinstance(edge, bool) or not isinstance(edge, int) or not 0 <= edge < n:
            raise InvalidArchError(f"edge must be an int in 0..{n - 1}, got {edge!r}")
        reduction = cell_type == "reduce"
        return [cell.edges[edge] for cell in self.cells if cell.reduction == reduction]

    def set_candidates(self, cell_type: str, edge: int, ops: Iterable[str]) -> None:
        """Restrict ``edge`` of every ``cell_type`` cell to ``ops`` (a subset of its live ops).

        Removed candidates lose their modules (and parameters); this cannot be undone.
        """
        edges = self._edges_of(cell_type, edge)
        keep = tuple(ops)
        live = edges[0].live if edges else list(self.ops)
        bad = [o for o in keep if o not in live]
        if bad or not keep:
            raise InvalidArchError(f"candidates {list(keep)} for {cell_type} edge {edge} must be a "
                                   f"non-empty subset of its live ops {live}")
        for e in edges:
            e.restrict(keep)

    def weights(self) -> list[nn.Parameter]:
        """The shared weights (every parameter: the mixing weights live outside)."""
        return list(self.parameters())

    def forward(self, x: torch.Tensor, weights_normal: torch.Tensor,
                weights_reduce: torch.Tensor) -> torch.Tensor:
        """Logits ``[B, num_classes]`` (dense: ``[B, num_classes, *S]``); ``weights_*``:
        ``[E, K]`` in :attr:`ops` order."""
        k, n = self.num_ops, len(self.edge_list)
        for name, w in (("weights_normal", weights_normal), ("weights_reduce", weights_reduce)):
            if tuple(w.shape) != (n, k):
                raise InvalidArchError(f"{name} must be shaped [{n}, {k}] (edges x ops "
                                       f"{list(self.ops)}), got {list(w.shape)}")
        s0 = s1 = self.stem(x)
        for cell in self.cells:
            s0, s1 = s1, cell(s0, s1, weights_reduce if cell.reduction else weights_normal)
        return apply_head(self, s1)


class StrengthSupernet(nn.Module):
    """A :class:`DartsSupernet` plus the strength parametrisation that mixes it.

    The weight-sharing engine's supernet interface: :meth:`weights` (the supernet's
    parameters), :meth:`arch_parameters` (those of the attached strength module; empty before
    :meth:`attach`) and :meth:`forward` with modes

    * ``mixed``: ``weights`` ``[2, 14, K]`` (normal, reduce) mix every live candidate;
    * ``path``: ``index`` is a cell pair (a genotype string of ``natsbench.spaces.extcell`` or
      ``darts``): weight 1 on its operations, 0 elsewhere (edges that hold several of its
      operations sum them, as an ExtCell network does).

    Args: ``num_classes``, ``C``, ``layers``, ``ops`` as :class:`DartsSupernet`; ``k``: the
    operation budget derivations use (kept as :attr:`k`).
    """

    def __init__(self, num_classes: int, C: int = 16, layers: int = 8, k: int = 16,
                 ops: Sequence[str] = OPS, in_channels: int = 3) -> None:
        super().__init__()
        self.body = DartsSupernet(num_classes, C=C, layers=layers, ops=ops, in_channels=in_channels)
        self.k = int(k)
        self.strength: nn.Module | None = None

    def attach(self, strength: nn.Module) -> None:
        """Attach the strength parametrisation (its parameters become the arch parameters)."""
        self.strength = strength

    def weights(self) -> list[nn.Parameter]:
        return list(self.body.parameters())

    def arch_parameters(self) -> list[nn.Parameter]:
        return [] if self.strength is None else list(self.strength.parameters())

    def path_weights(self, arch: str) -> torch.Tensor:
        """One-hot mixing weights ``[2, 14, K]`` of a cell pair string (ops outside the op
        set are an InvalidArchError)."""
        from natsbench.spaces import extcell

        genotype = extcell.parse(arch)
        w = torch.zeros(len(CELL_TYPES), len(EDGES), self.body.num_ops)
        column = {op: i for i, op in enumerate(self.body.ops)}
        for c, name in enumerate(CELL_TYPES):
            for op, src, dst in genotype.cell(name):
                if op not in column:
                    raise InvalidArchError(f"op {op!r} of {arch!r} is not in the supernet's op set "
                                           f"{list(self.body.ops)}")
                w[c, EDGE_INDEX[(dst, src)], column[op]] = 1.0
        return w

    def forward(self, x: torch.Tensor, mode: str = "mixed", weights: torch.Tensor | None = None,
                index: str | None = None) -> torch.Tensor:
        if mode == "path":
            if index is None:
                raise InvalidArchError("mode 'path' needs index (a cell pair string)")
            weights = self.path_weights(index).to(x.device)
        elif mode != "mixed":
            raise InvalidArchError(f"unknown mode {mode!r}; valid: mixed, path")
        if weights is None:
            raise InvalidArchError("mode 'mixed' needs weights [2, 14, K]")
        return self.body(x, weights[0], weights[1])

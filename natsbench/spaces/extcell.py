"""The ExtCell space and the top-k survival rule (Na's thesis, ch. 4, §4.2).

An ExtCell pair extends a DARTS cell pair: on each of the 14 edges of each cell any subset of
the 7 non-'none' DARTS ops may be active, so a node has any number of incoming operations
(possibly none: an *unconnected* node). A *k-ExtCell* has exactly k operations in total
across the normal and the reduction cell ("operation budgeting", §4.2.1); a DARTS cell pair
is a 16-ExtCell. The canonical string is the one of :mod:`natsbench.spaces._cells`, e.g. a
2-ExtCell::

    normal=|sep_conv_3x3~0|dil_conv_3x3~0|+||+||+||;reduce=||+||+||+|skip_connect~4|

Operation slots: a k-ExtCell is a k-subset of the 2 * 14 * 7 = 196 slots
(cell, edge, op) with op in :data:`CELL_OPS`; slot ``s`` is
``cell * 98 + edge * 7 + (op_index_in_OPS - 1)``, i.e. the flat index of
``strengths[:, :, 1:]``.

Random k-ExtCells: the thesis (§4.2.2) samples "randomly generated" k-ExtCells for
k in {10, 12, 14, 16} without naming the distribution; we read it as uniform over all valid
k-ExtCells, i.e. a uniform k-subset of the 196 slots (:func:`sample_genotype`).

The top-k survival rule (§4.2.3, :func:`derive_topk`): keep the operations with the k largest
strengths among all 196 non-'none' candidates of both cells (a global competition).
"""
from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np

from natsbench.errors import InvalidArchError, QueryError
from natsbench.spaces._cells import (CELL_OPS, CELL_TYPES, EDGE_INDEX, EDGES, INTERMEDIATE_NODES,
                                     OP_INDEX, OPS, STRENGTHS_SHAPE, Genotype, check_strengths,
                                     format_genotype, parse_genotype, reachable_nodes)
from natsbench.spaces.base import ENUMERATION_LIMIT, check_codes, check_rng

__all__ = ["OPS", "CELL_OPS", "EDGES", "NUM_SLOTS", "Genotype", "parse", "to_str", "validate",
           "slots_of", "from_slots", "unconnected_nodes", "sample_genotype", "derive_topk",
           "normalize_per_node", "expand_strengths", "derive", "DERIVATION_RULES",
           "ExtCellSpace"]

_OPS_PER_EDGE = len(CELL_OPS)
_SLOTS_PER_CELL = len(EDGES) * _OPS_PER_EDGE
#: Number of (cell, edge, op) slots: 196.
NUM_SLOTS = len(CELL_TYPES) * _SLOTS_PER_CELL
DEFAULT_K = 16  # the budget of a DARTS cell pair (2 cells x 4 nodes x 2 ops)


def check_k(k: Any) -> int:
    """Validate an operation budget k (1..196)."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= NUM_SLOTS:
        raise InvalidArchError(f"k (operations in the ExtCell pair) must be an int in 1..{NUM_SLOTS}, got {k!r}")
    return int(k)


def parse(text: Any, *, k: int | None = None) -> Genotype:
    """Parse a canonical genotype string; with ``k``, also require exactly k operations."""
    genotype = parse_genotype(text)
    if k is not None and genotype.num_ops != check_k(k):
        raise InvalidArchError(f"invalid {k}-ExtCell string {text!r}: it has {genotype.num_ops} "
                               f"operations, a {k}-ExtCell has exactly {k}")
    return genotype


def to_str(genotype: Genotype) -> str:
    """Canonical string of an ExtCell genotype."""
    if not isinstance(genotype, Genotype):
        raise InvalidArchError(f"expected a Genotype, got {type(genotype).__name__}")
    return format_genotype(genotype)


def validate(arch: str | Genotype, *, k: int | None = None) -> str:
    """Canonical string of ``arch`` (string or Genotype), checking the budget ``k`` if given."""
    genotype = arch if isinstance(arch, Genotype) else parse(arch)
    if k is not None and genotype.num_ops != check_k(k):
        raise InvalidArchError(f"genotype {format_genotype(genotype)!r} has {genotype.num_ops} "
                               f"operations, a {k}-ExtCell has exactly {k}")
    return to_str(genotype)


def slots_of(genotype: Genotype) -> np.ndarray:
    """Sorted slot indices (int64 ``[num_ops]``) of the operations of ``genotype``."""
    slots = [c * _SLOTS_PER_CELL + EDGE_INDEX[(dst, src)] * _OPS_PER_EDGE + OP_INDEX[op] - 1
             for c, name in enumerate(CELL_TYPES) for op, src, dst in genotype.cell(name)]
    return np.sort(np.asarray(slots, dtype=np.int64))


def from_slots(slots: Any) -> Genotype:
    """Genotype whose operations are the given distinct slot indices (0..195)."""
    arr = np.asarray(slots)
    if arr.ndim != 1 or (arr.size and arr.dtype.kind not in "iu"):
        raise InvalidArchError(f"slots must be a 1-D integer array, got {slots!r}")
    cells: list[list] = [[], []]
    for s in (int(v) for v in arr):
        if not 0 <= s < NUM_SLOTS:
            raise InvalidArchError(f"slot {s} out of range; valid: 0..{NUM_SLOTS - 1}")
        c, rest = divmod(s, _SLOTS_PER_CELL)
        e, o = divmod(rest, _OPS_PER_EDGE)
        dst, src = EDGES[e]
        cells[c].append((CELL_OPS[o], src, dst))
    return Genotype(normal=tuple(cells[0]), reduce=tuple(cells[1]))


#: (cell, to_node, token) of each slot, for formatting without building a Genotype.
_SLOT_TOKENS = tuple((c, EDGES[e][0], f"{op}~{EDGES[e][1]}")
                     for c in range(len(CELL_TYPES)) for e in range(len(EDGES)) for op in CELL_OPS)


def _format_slots(slots: Any) -> str:
    """Canonical string of distinct in-range slots (sorting them gives the canonical order)."""
    groups: dict[tuple[int, int], list[str]] = {(c, j): [] for c in range(len(CELL_TYPES))
                                                for j in INTERMEDIATE_NODES}
    for s in sorted(int(v) for v in slots):
        c, node, token = _SLOT_TOKENS[s]
        groups[c, node].append(token)
    cells = ["+".join("|" + "|".join(groups[c, j]) + "|" for j in INTERMEDIATE_NODES)
             for c in range(len(CELL_TYPES))]
    return f"normal={cells[0]};reduce={cells[1]}"


def unconnected_nodes(genotype: Genotype) -> dict[str, tuple[int, ...]]:
    """Intermediate nodes of each cell that no path from the cell inputs (0, 1) reaches.

    Such a node has no incoming operation, or only operations from other unconnected
    nodes; it is left out of the cell's output concatenation (``Genotype.*_concat``).
    Returns ``{"normal": (...), "reduce": (...)}``, nodes ascending.
    """
    out = {}
    for name in CELL_TYPES:
        alive = set(reachable_nodes(genotype.cell(name)))
        out[name] = tuple(n for n in INTERMEDIATE_NODES if n not in alive)
    return out


def sample_genotype(rng: np.random.Generator, k: int = DEFAULT_K) -> Genotype:
    """A uniformly random k-ExtCell: a uniform k-subset of the 196 (cell, edge, op) slots."""
    k = check_k(k)
    return from_slots(np.sort(check_rng(rng).choice(NUM_SLOTS, size=k, replace=False)))


def _check_available(available: Any) -> np.ndarray:
    """A boolean ``[2, 14, 8]`` mask of the candidate ops that exist (default: all)."""
    if available is None:
        return np.ones(STRENGTHS_SHAPE, dtype=bool)
    arr = np.asarray(available)
    if arr.shape != STRENGTHS_SHAPE or arr.dtype != bool:
        raise InvalidArchError(f"available must be a boolean array shaped {STRENGTHS_SHAPE}, got "
                               f"{arr.dtype} {arr.shape}")
    return arr


def derive_topk(strengths: Any, k: int, available: Any = None) -> Genotype:
    """Top-k survival rule: the k strongest non-'none' operations over both cells.

    Args:
        strengths: float array ``[2, 14, 8]`` (cell, edge in EDGES order, op in OPS order);
            the 'none' column is ignored (a zero op is never a survivor: selecting it would
            spend budget on an absent edge).
        k: operation budget, 1..196.
        available: optional boolean ``[2, 14, 8]`` mask; ops outside it (not in a supernet's
            op set, or pruned from an edge) never survive. k may not exceed their number.

    Ties are broken deterministically in favour of the lower slot index (normal before
    reduce, then edge order, then op order).
    """
    k = check_k(k)
    mask = _check_available(available)[:, :, 1:].reshape(-1)
    if k > int(mask.sum()):
        raise InvalidArchError(f"k={k} exceeds the {int(mask.sum())} available non-'none' operations")
    flat = np.where(mask, check_strengths(strengths)[:, :, 1:].reshape(-1), -np.inf)
    return from_slots(np.sort(np.argsort(-flat, kind="stable")[:k]))


def normalize_per_node(strengths: Any, available: Any = None) -> np.ndarray:
    """The "ActAll" normalisation (§4.5.1): divide each node's incoming strengths by their max.

    For every cell and intermediate node j, the non-'none' strengths of all edges into j
    are divided by their maximum, so each node has at least one operation of strength 1 and
    a following :func:`derive_topk` with k >= 8 connects every node (unless more than k
    strengths tie at 1). Strengths must be positive (on the ``available`` ops; the others, see
    :func:`derive_topk`, are set to 0). Returns a new float64 ``[2, 14, 8]`` array whose
    'none' column is copied unchanged.
    """
    arr = check_strengths(strengths).copy()
    mask = _check_available(available)
    mask[:, :, 0] = False
    if np.any(arr[mask] <= 0):
        raise InvalidArchError("normalize_per_node needs positive strengths (e.g. Beta means in (0, 1))")
    body = np.where(mask, arr, 0.0)
    for node in INTERMEDIATE_NODES:
        edges = [e for e, (dst, _) in enumerate(EDGES) if dst == node]
        block = body[:, edges, 1:]
        top = block.max(axis=(1, 2), keepdims=True)
        body[:, edges, 1:] = block / np.where(top > 0, top, 1.0)
    arr[:, :, 1:] = body[:, :, 1:]
    return arr


#: the derivation rules of :func:`derive`
DERIVATION_RULES: tuple[str, ...] = ("topk", "darts")


def expand_strengths(strengths: Any, ops: Any = OPS) -> tuple[np.ndarray, np.ndarray]:
    """``(strengths [2, 14, 8], available [2, 14, 8])`` from strengths over an op subset.

    ``strengths``: float ``[2, 14, K]`` with columns in the order of ``ops`` (K distinct
    names of :data:`OPS`); ops not in ``ops`` get strength 0 and ``available`` False.
    """
    ops = tuple(ops)
    bad = [o for o in ops if o not in OP_INDEX]
    if bad or len(set(ops)) != len(ops):
        raise InvalidArchError(f"invalid op set {list(ops)}; ops must be distinct names from {', '.join(OPS)}")
    arr = np.asarray(strengths, dtype=np.float64)
    if arr.shape != (len(CELL_TYPES), len(EDGES), len(ops)):
        raise InvalidArchError(f"strengths must be shaped {(len(CELL_TYPES), len(EDGES), len(ops))} "
                               f"(cell, edge, op in {list(ops)}), got {arr.shape}")
    full = np.zeros(STRENGTHS_SHAPE)
    available = np.zeros(STRENGTHS_SHAPE, dtype=bool)
    cols = [OP_INDEX[o] for o in ops]
    full[:, :, cols] = arr
    available[:, :, cols] = True
    return full, available


def derive(strengths: Any, *, rule: str = "topk", k: int = DEFAULT_K, actall: bool = False,
           available: Any = None) -> str:
    """Canonical ExtCell string derived from strengths ``[2, 14, 8]``.

    ``rule``: ``topk`` (:func:`derive_topk` with budget ``k``, after
    :func:`normalize_per_node` when ``actall``) or ``darts`` (argmax op per edge, then the two
    strongest edges per node, :func:`natsbench.spaces.darts.derive_darts`: a DARTS cell pair,
    i.e. a 16-ExtCell; ``k`` and ``actall`` are not used). ``available``: see
    :func:`derive_topk`; under ``darts`` unavailable ops rank below every available one.
    """
    if rule not in DERIVATION_RULES:
        raise InvalidArchError(f"unknown derivation rule {rule!r}; valid: {', '.join(DERIVATION_RULES)}")
    arr = check_strengths(strengths)
    if rule == "darts":
        from natsbench.spaces.darts import derive_darts

        mask = _check_available(available)
        low = arr.min() - 1.0
        return to_str(derive_darts(np.where(mask, arr, low)))
    if actall:
        arr = normalize_per_node(arr, available)
    return to_str(derive_topk(arr, k, available))


class ExtCellSpace:
    """k-ExtCell pairs as a :class:`~natsbench.spaces.base.SearchSpace`.

    Encoding: a 0/1 vector over the 196 slots (``num_choices == (2,) * 196``) with exactly
    k ones. Canonical order: lexicographic order of the sorted slot tuples, i.e. that of
    ``itertools.combinations(range(196), k)``; ``size`` is None beyond 10**6 archs.
    ``neighbours`` are the k * (196 - k) pairs that move one operation to a free slot
    (the budget is fixed, so single-slot flips are not in the space).
    """

    name = "extcell"

    def __init__(self, k: int = DEFAULT_K) -> None:
        self.k = check_k(k)
        self._all_archs: list[str] | None = None

    @property
    def num_choices(self) -> tuple[int, ...]:
        return (2,) * NUM_SLOTS

    @property
    def count(self) -> int:
        """Exact number of k-ExtCell pairs: C(196, k)."""
        return math.comb(NUM_SLOTS, self.k)

    @property
    def size(self) -> int | None:
        n = self.count
        return n if n <= ENUMERATION_LIMIT else None

    def _slots(self, arch: str) -> tuple[int, ...]:
        return tuple(int(s) for s in slots_of(parse(arch, k=self.k)))

    def all_archs(self) -> list[str]:
        if self._all_archs is None:
            if self.size is None:
                raise QueryError(f"the {self.k}-ExtCell space has {self.count:.3e} architectures, too "
                                 f"many to enumerate (limit {ENUMERATION_LIMIT}); use sample()")
            self._all_archs = [_format_slots(c) for c in itertools.combinations(range(NUM_SLOTS), self.k)]
        return list(self._all_archs)

    def index_of(self, arch: str) -> int:
        """Lexicographic rank of the slot set of ``arch`` among all k-subsets."""
        rank, prev = 0, -1
        for i, s in enumerate(self._slots(arch)):
            rank += sum(math.comb(NUM_SLOTS - 1 - v, self.k - 1 - i) for v in range(prev + 1, s))
            prev = s
        return rank

    def validate(self, arch: str) -> str:
        return validate(arch, k=self.k)

    def encode(self, arch: str) -> np.ndarray:
        codes = np.zeros(NUM_SLOTS, dtype=np.int64)
        codes[list(self._slots(arch))] = 1
        return codes

    def decode(self, codes: Any) -> str:
        values = np.asarray(check_codes(codes, self.num_choices, space=self.name))
        if int(values.sum()) != self.k:
            raise InvalidArchError(f"extcell codes have {int(values.sum())} ones; a {self.k}-ExtCell "
                                   f"has exactly {self.k}")
        return _format_slots(np.flatnonzero(values))

    def sample(self, rng: np.random.Generator) -> str:
        return _format_slots(check_rng(rng).choice(NUM_SLOTS, size=self.k, replace=False))

    def neighbours(self, arch: str) -> list[str]:
        """Move one operation to a free slot; ordered by (removed slot, added slot)."""
        slots = self._slots(arch)
        taken = set(slots)
        out = []
        for s in slots:
            rest = [t for t in slots if t != s]
            for free in range(NUM_SLOTS):
                if free not in taken:
                    out.append(_format_slots(rest + [free]))
        return out

    def __repr__(self) -> str:
        return f"ExtCellSpace(k={self.k}, count={self.count})"

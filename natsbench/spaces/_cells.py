"""Shared vocabulary of the DARTS-style cell spaces (DARTS cells and ExtCells).

A cell has two input nodes (0, 1: the outputs of the two previous cells) and four
intermediate nodes 2..5; node j may take inputs from any node i < j, giving 14 edges. An
architecture is a pair of cells, *normal* and *reduce* (reduction). Each operation in a
genotype is a triple ``(op, from_node, to_node)``; 'none' never appears (an absent edge is
simply omitted).

Canonical genotype string (both spaces)::

    normal=|sep_conv_3x3~0|sep_conv_3x3~1|+|skip_connect~0|sep_conv_3x3~1|+|...|+|...|;reduce=...

i.e. ``normal=`` + cell + ``;reduce=`` + cell, where a cell is four ``+``-separated node
groups for nodes 2, 3, 4, 5, each ``|``-enclosed and holding tokens ``op~from_node`` sorted
by (from_node, op index in :data:`OPS`). A node without operations is written ``||``.
Parsing accepts the tokens of a group in any order; formatting always sorts them.

Strength arrays (architecture parameters) are float arrays shaped ``[2, 14, 8]``:
[cell (normal, reduce), edge in :data:`EDGES` order, op in :data:`OPS` order].
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable

import numpy as np

from natsbench.errors import InvalidArchError

#: The 8 DARTS candidate operations, in the index order of strength arrays (0 = 'none').
OPS: tuple[str, ...] = ("none", "max_pool_3x3", "avg_pool_3x3", "skip_connect", "sep_conv_3x3",
                        "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5")
#: The operations a genotype may contain (all but 'none').
CELL_OPS: tuple[str, ...] = OPS[1:]
#: D2NAS' reduced cell-search op set (Lee et al. 2024, sec. V-A1)
D2NAS_OPS: tuple[str, ...] = ("none", "skip_connect", "avg_pool_3x3", "sep_conv_3x3", "dil_conv_5x5")
CELL_TYPES: tuple[str, ...] = ("normal", "reduce")
NUM_INPUT_NODES = 2
INTERMEDIATE_NODES: tuple[int, ...] = (2, 3, 4, 5)
#: Edges as (to_node, from_node), grouped by to_node: the row order of DARTS' alphas.
EDGES: tuple[tuple[int, int], ...] = tuple((j, i) for j in INTERMEDIATE_NODES for i in range(j))
NUM_EDGES = len(EDGES)  # 14
STRENGTHS_SHAPE: tuple[int, int, int] = (len(CELL_TYPES), NUM_EDGES, len(OPS))

EDGE_INDEX = {edge: e for e, edge in enumerate(EDGES)}
OP_INDEX = {op: i for i, op in enumerate(OPS)}
VALID_OPS = ", ".join(CELL_OPS)
_DECIMAL = re.compile(r"(0|[1-9][0-9]*)\Z")

CellOp = tuple[str, int, int]  # (op, from_node, to_node)


def _sort_key(item: CellOp) -> tuple[int, int, int]:
    op, src, dst = item
    return (dst, src, OP_INDEX[op])


def _check_cell(items: Any, cell: str) -> tuple[CellOp, ...]:
    """Validate and canonically sort the operations of one cell."""
    if isinstance(items, (str, bytes)) or not isinstance(items, Iterable):
        raise InvalidArchError(f"{cell} cell must be a sequence of (op, from_node, to_node) "
                               f"triples, got {items!r}")
    out = []
    for item in items:
        if not isinstance(item, (tuple, list)) or len(item) != 3:
            raise InvalidArchError(f"{cell} cell entry {item!r} is not an (op, from_node, to_node) triple")
        op, src, dst = item
        if op == "none":
            raise InvalidArchError(f"{cell} cell entry {tuple(item)!r}: 'none' is not an operation "
                                   f"of a genotype (omit the edge); valid ops: {VALID_OPS}")
        if op not in CELL_OPS:
            raise InvalidArchError(f"{cell} cell entry {tuple(item)!r}: unknown op {op!r}; "
                                   f"valid ops: {VALID_OPS}")
        for value in (src, dst):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise InvalidArchError(f"{cell} cell entry {tuple(item)!r}: node {value!r} is not an int")
        src, dst = int(src), int(dst)
        if dst not in INTERMEDIATE_NODES:
            raise InvalidArchError(f"{cell} cell entry {tuple(item)!r}: to_node {dst} is not an "
                                   f"intermediate node; valid: {INTERMEDIATE_NODES}")
        if not 0 <= src < dst:
            raise InvalidArchError(f"{cell} cell entry {tuple(item)!r}: from_node {src} cannot feed "
                                   f"node {dst}; valid: 0..{dst - 1}")
        out.append((op, src, dst))
    out.sort(key=_sort_key)
    for a, b in zip(out, out[1:]):
        if a == b:
            raise InvalidArchError(f"{cell} cell lists operation {a!r} twice")
    return tuple(out)


def reachable_nodes(cell: Iterable[CellOp]) -> tuple[int, ...]:
    """Intermediate nodes with a path from an input node (0 or 1), ascending."""
    alive = set(range(NUM_INPUT_NODES))
    for _, src, dst in sorted(cell, key=_sort_key):  # sorted by to_node: sources come first
        if src in alive:
            alive.add(dst)
    return tuple(n for n in INTERMEDIATE_NODES if n in alive)


@dataclass(frozen=True)
class Genotype:
    """A normal + reduction cell pair.

    ``normal`` and ``reduce`` are tuples of ``(op, from_node, to_node)`` triples, stored
    sorted by (to_node, from_node, op index) so that equal cells compare equal. Construction
    validates op names and node indices (raises :class:`InvalidArchError`); whether the
    pair belongs to the DARTS or a k-ExtCell space is checked by those modules.
    ``str(genotype)`` is the canonical string (module docstring).
    """

    normal: tuple[CellOp, ...]
    reduce: tuple[CellOp, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "normal", _check_cell(self.normal, "normal"))
        object.__setattr__(self, "reduce", _check_cell(self.reduce, "reduce"))

    def cell(self, name: str) -> tuple[CellOp, ...]:
        """The operations of cell ``"normal"`` or ``"reduce"``."""
        if name not in CELL_TYPES:
            raise InvalidArchError(f"unknown cell {name!r}; valid: {', '.join(CELL_TYPES)}")
        return self.normal if name == "normal" else self.reduce

    @property
    def num_ops(self) -> int:
        """Total number of operations in both cells (the k of a k-ExtCell; 16 for DARTS)."""
        return len(self.normal) + len(self.reduce)

    @property
    def normal_concat(self) -> tuple[int, ...]:
        """Nodes concatenated into the normal cell's output: those reachable from the inputs."""
        return reachable_nodes(self.normal)

    @property
    def reduce_concat(self) -> tuple[int, ...]:
        """Nodes concatenated into the reduction cell's output."""
        return reachable_nodes(self.reduce)

    def __str__(self) -> str:
        return format_genotype(self)


def format_cell(cell: Iterable[CellOp]) -> str:
    """Canonical string of one (validated, sorted) cell."""
    groups = {j: [] for j in INTERMEDIATE_NODES}
    for op, src, dst in cell:
        groups[dst].append(f"{op}~{src}")
    return "+".join("|" + "|".join(groups[j]) + "|" for j in INTERMEDIATE_NODES)


def format_genotype(genotype: Genotype) -> str:
    """Canonical string ``normal=<cell>;reduce=<cell>``."""
    return f"normal={format_cell(genotype.normal)};reduce={format_cell(genotype.reduce)}"


def _parse_cell(text: str, cell: str, whole: str) -> list[CellOp]:
    def fail(why: str) -> InvalidArchError:
        return InvalidArchError(f"invalid genotype string {whole!r}: {cell} cell: {why}")

    groups = text.split("+")
    if len(groups) != len(INTERMEDIATE_NODES):
        raise fail(f"expected {len(INTERMEDIATE_NODES)} node groups (nodes "
                   f"{INTERMEDIATE_NODES[0]}..{INTERMEDIATE_NODES[-1]}) separated by '+', got {len(groups)}")
    items: list[CellOp] = []
    for dst, group in zip(INTERMEDIATE_NODES, groups):
        if len(group) < 2 or group[0] != "|" or group[-1] != "|":
            raise fail(f"node {dst} group {group!r} must start and end with '|' (empty node: '||')")
        inner = group[1:-1]
        for token in (inner.split("|") if inner else []):
            op, sep, src = token.rpartition("~")
            if not sep:
                raise fail(f"token {token!r} of node {dst} is not of the form 'op~from_node'")
            if op == "none":
                raise fail(f"token {token!r} of node {dst}: 'none' is not an operation of a "
                           f"genotype (omit the edge); valid ops: {VALID_OPS}")
            if op not in CELL_OPS:
                raise fail(f"unknown op {op!r} in token {token!r} of node {dst}; valid ops: {VALID_OPS}")
            if not _DECIMAL.match(src) or int(src) >= dst:
                raise fail(f"bad node index {src!r} in token {token!r}: node {dst} takes inputs "
                           f"from nodes 0..{dst - 1}")
            items.append((op, int(src), dst))
    return items


def parse_genotype(text: Any) -> Genotype:
    """Parse a canonical genotype string (any token order within a node group)."""
    if not isinstance(text, str):
        raise InvalidArchError(f"a genotype string must be a str like 'normal=|...|+...;reduce=|...|+...', "
                               f"got {type(text).__name__} {text!r}")
    if text == "":
        raise InvalidArchError("invalid genotype string '': empty; expected 'normal=<cell>;reduce=<cell>'")
    parts = text.split(";")
    if len(parts) != 2 or not parts[0].startswith("normal=") or not parts[1].startswith("reduce="):
        raise InvalidArchError(f"invalid genotype string {text!r}: expected exactly "
                               f"'normal=<cell>;reduce=<cell>'")
    normal = _parse_cell(parts[0][len("normal="):], "normal", text)
    reduce = _parse_cell(parts[1][len("reduce="):], "reduce", text)
    try:
        return Genotype(normal=tuple(normal), reduce=tuple(reduce))
    except InvalidArchError as exc:
        raise InvalidArchError(f"invalid genotype string {text!r}: {exc}") from None


def check_strengths(strengths: Any) -> np.ndarray:
    """Validate a strength array; return it as float64 ``[2, 14, 8]``."""
    try:
        arr = np.asarray(strengths, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidArchError(f"strengths must be a numeric array shaped {STRENGTHS_SHAPE}: {exc}") from None
    if arr.shape != STRENGTHS_SHAPE:
        raise InvalidArchError(f"strengths must be shaped {STRENGTHS_SHAPE} = [cell (normal, reduce), "
                               f"edge, op ({', '.join(OPS)})], got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        bad = tuple(int(v) for v in np.argwhere(~np.isfinite(arr))[0])
        raise InvalidArchError(f"strengths must be finite; entry {bad} is {arr[bad]}")
    return arr

"""The NATS-Bench topology search space (tss; the NAS-Bench-201 cell).

A cell has 4 nodes; node 0 is the cell input, node 3 the output. Every pair ``i < j`` is an
edge carrying one of 5 operations, so there are 6 edges and 5**6 = 15,625 cells. The arch
string lists, for node j = 1, 2, 3, the op on each incoming edge from node 0..j-1::

    |nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|

The format is strict: exactly three ``+``-separated node groups, each enclosed in ``|``, the
j-th group holding j tokens ``op~i`` with i = 0..j-1 in order. Nothing else is accepted, so
a valid string is its own canonical form.

Canonical order (the project's, not the official archive's ``meta_archs`` order):
``itertools.product`` over :data:`EDGES` (edge (1, 0) most significant) of :data:`OPS`.

Isomorphism (:func:`iso_key`) follows NATS-Bench/NAS-Bench-201, which reports 6,466 unique
cells: see the function's docstring for the exact notion.
"""
from __future__ import annotations

import itertools
from typing import Any, Sequence

import numpy as np

from natsbench.errors import InvalidArchError
from natsbench.spaces.base import ProductSpace

#: Candidate operations, in index order (index 0 = 'none' is the zero operation).
OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
#: Edges as (to_node, from_node), in arch-string order.
EDGES: tuple[tuple[int, int], ...] = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
NUM_NODES = 4
NUM_EDGES = len(EDGES)
NUM_ARCHS = len(OPS) ** NUM_EDGES  # 15,625

_OP_INDEX = {op: i for i, op in enumerate(OPS)}
_VALID_OPS = ", ".join(OPS)


def _fail(arch: Any, why: str) -> InvalidArchError:
    return InvalidArchError(f"invalid tss arch string {arch!r}: {why}")


def _parse_indices(arch_str: Any) -> tuple[int, ...]:
    """Op indices of the 6 edges in EDGES order; the strict parser behind everything else."""
    if not isinstance(arch_str, str):
        raise InvalidArchError(
            f"a tss arch must be a str like '|nor_conv_3x3~0|+|none~0|skip_connect~1|+...', "
            f"got {type(arch_str).__name__} {arch_str!r}")
    if arch_str == "":
        raise _fail(arch_str, "empty string; expected 3 node groups '|op~0|+|op~0|op~1|+|op~0|op~1|op~2|'")
    groups = arch_str.split("+")
    if len(groups) != NUM_NODES - 1:
        raise _fail(arch_str, f"expected {NUM_NODES - 1} node groups separated by '+', got {len(groups)}")
    codes: list[int] = []
    for node, group in enumerate(groups, start=1):
        if len(group) < 2 or group[0] != "|" or group[-1] != "|":
            raise _fail(arch_str, f"node {node} group {group!r} must start and end with '|'")
        tokens = group[1:-1].split("|")
        if len(tokens) != node:
            raise _fail(arch_str, f"node {node} group {group!r} has {len(tokens)} edge tokens; "
                                  f"node {node} takes exactly {node} (from nodes 0..{node - 1})")
        for source, token in enumerate(tokens):
            op, sep, idx = token.rpartition("~")
            if not sep:
                raise _fail(arch_str, f"token {token!r} of node {node} is not of the form 'op~{source}'")
            if op not in _OP_INDEX:
                raise _fail(arch_str, f"unknown op {op!r} in token {token!r} of node {node}; "
                                      f"valid ops: {_VALID_OPS}")
            if idx != str(source):
                raise _fail(arch_str, f"bad node index {idx!r} in token {token!r}: token {source} "
                                      f"of node {node} must read '{op}~{source}' "
                                      f"(valid indices for node {node}: 0..{node - 1}, in order)")
            codes.append(_OP_INDEX[op])
    return tuple(codes)


def _format_indices(codes: Sequence[int]) -> str:
    it = iter(codes)
    return "+".join("|" + "|".join(f"{OPS[next(it)]}~{i}" for i in range(node)) + "|"
                    for node in range(1, NUM_NODES))


def parse(arch_str: str) -> tuple[str, ...]:
    """The 6 op names of ``arch_str`` in :data:`EDGES` order (raises InvalidArchError)."""
    return tuple(OPS[i] for i in _parse_indices(arch_str))


def validate(arch_str: str) -> str:
    """Return ``arch_str`` if it is a valid tss string, else raise InvalidArchError."""
    _parse_indices(arch_str)
    return arch_str


def to_str(ops: Sequence[str]) -> str:
    """Arch string of 6 op names in :data:`EDGES` order."""
    if isinstance(ops, str) or len(ops) != NUM_EDGES:
        raise InvalidArchError(f"expected a sequence of {NUM_EDGES} op names in EDGES order, got {ops!r}")
    bad = [op for op in ops if not isinstance(op, str) or op not in _OP_INDEX]
    if bad:
        raise InvalidArchError(f"unknown op {bad[0]!r} in {list(ops)!r}; valid ops: {_VALID_OPS}")
    return _format_indices([_OP_INDEX[op] for op in ops])


def op_indices(arch_str: str) -> tuple[int, ...]:
    """The 6 op indices (into :data:`OPS`) of ``arch_str`` in :data:`EDGES` order."""
    return _parse_indices(arch_str)


def from_op_indices(indices: Sequence[int]) -> str:
    """Arch string of 6 op indices (into :data:`OPS`) in :data:`EDGES` order."""
    from natsbench.spaces.base import check_codes

    return _format_indices(check_codes(indices, (len(OPS),) * NUM_EDGES, space="tss"))


def to_matrix(arch_str: str) -> np.ndarray:
    """Adjacency matrix: int64 ``[4, 4]``, entry ``[to, from]`` = op index (0 elsewhere).

    Same convention as the official ``NATStopology.str2matrix`` (which returns floats).
    """
    matrix = np.zeros((NUM_NODES, NUM_NODES), dtype=np.int64)
    for (to, src), code in zip(EDGES, _parse_indices(arch_str)):
        matrix[to, src] = code
    return matrix


def from_matrix(matrix: Any) -> str:
    """Inverse of :func:`to_matrix`; the diagonal and upper triangle must be zero."""
    arr = np.asarray(matrix)
    if arr.shape != (NUM_NODES, NUM_NODES):
        raise InvalidArchError(f"tss matrix must be shaped ({NUM_NODES}, {NUM_NODES}), got {arr.shape}")
    if arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
        arr = arr.astype(np.int64)
    if arr.dtype.kind not in "iu":
        raise InvalidArchError(f"tss matrix must hold integer op indices, got dtype {arr.dtype}")
    upper = np.triu(arr)
    if np.any(upper != 0):
        r, c = np.argwhere(upper != 0)[0]
        raise InvalidArchError(f"tss matrix entry [{r}, {c}] = {arr[r, c]} must be 0: only entries "
                               f"[to, from] with from < to are edges")
    return from_op_indices([int(arr[to, src]) for to, src in EDGES])


# --- isomorphism -------------------------------------------------------------------------
# Each node is described by an expression string built from the input "0". An edge turns the
# expression of its source node into a term: "#" (zero) if the op is 'none' or the source's
# expression is exactly "#"; the source expression itself for 'skip_connect'; "(src)@op"
# otherwise. A node's expression is its terms, ordered as strings, joined by "+".
_ZERO = "#"
_INPUT = "0"


def _term(op: int, source: str) -> str:
    if op == 0 or source == _ZERO:
        return _ZERO
    if OPS[op] == "skip_connect":
        return source
    return f"({source})@{OPS[op]}"


def _node(*terms: str) -> str:
    return "+".join(sorted(terms))


def iso_key(arch_str: str) -> str:
    """Isomorphism-invariant key of a tss cell; 6,466 distinct keys over the 15,625 cells.

    The notion is the one NATS-Bench uses to count unique cells (its
    ``to_unique_str(consider_zero=True)``), and the key equals that string: each node's
    output is written as an expression of the cell input, where summation is commutative
    (terms are sorted), 'skip_connect' is the identity, a 'none' edge contributes a zero
    term "#", and an op applied to a node whose expression is exactly "#" is zero. This is
    a syntactic notion: e.g. a node summing only zero terms is "#+#", not "#", so zeros
    propagate only through node 1, and terms are ordered as whole strings. Two cells with
    equal keys compute the same function (taking an op applied to zero as zero); the
    converse does not always hold.
    """
    c = _parse_indices(arch_str)
    n1 = _term(c[0], _INPUT)
    n2 = _node(_term(c[1], _INPUT), _term(c[2], n1))
    return _node(_term(c[3], _INPUT), _term(c[4], n1), _term(c[5], n2))


def iso_class_ids() -> np.ndarray:
    """Isomorphism class id per canonical index: int64 ``[15625]``.

    Classes are numbered 0..6465 in order of first appearance in the canonical order, so
    ``ids[0] == 0`` and ``np.unique(ids, return_index=True)[1]`` lists one representative
    per class. Uses lookup tables of the terms each edge into node 3 can contribute, so
    only the final 3-term join is done per cell (a few tens of ms for all cells).
    """
    ops = range(len(OPS))
    node1 = [_term(o10, _INPUT) for o10 in ops]
    # terms of the edges into node 3, keyed by the op codes that determine them
    t30 = [_term(o, _INPUT) for o in ops]
    t31 = {(o, o10): _term(o, node1[o10]) for o in ops for o10 in ops}
    t32 = {}
    for o10, o20, o21 in itertools.product(ops, repeat=3):
        n2 = _node(_term(o20, _INPUT), _term(o21, node1[o10]))
        for o in ops:
            t32[o, o10, o20, o21] = _term(o, n2)
    class_of: dict[str, int] = {}
    ids = np.fromiter(
        (class_of.setdefault(_node(t30[c30], t31[c31, c10], t32[c32, c10, c20, c21]), len(class_of))
         for c10, c20, c21, c30, c31, c32 in itertools.product(ops, repeat=NUM_EDGES)),
        dtype=np.int64, count=NUM_ARCHS)
    return ids


class TssSpace(ProductSpace):
    """The tss space as a :class:`~natsbench.spaces.base.SearchSpace` (codes = op indices)."""

    name = "tss"
    num_choices = (len(OPS),) * NUM_EDGES

    def _codes_of(self, arch: str) -> tuple[int, ...]:
        return _parse_indices(arch)

    def _str_of(self, codes: tuple[int, ...]) -> str:
        return _format_indices(codes)

    def iso_key(self, arch: str) -> str:
        """See :func:`iso_key`."""
        return iso_key(arch)

    def iso_class_ids(self) -> np.ndarray:
        """See :func:`iso_class_ids` (computed afresh; ~tens of ms)."""
        return iso_class_ids()

"""The DARTS cell space (Liu et al. 2019; Na's thesis §2.1.1 and ch. 4).

An architecture is a :class:`Genotype`: a normal and a reduction cell over the 8 DARTS ops
(:data:`OPS`) and 14 edges (:data:`EDGES`; node j in 2..5 takes inputs from 0..j-1). A
*DARTS cell* keeps exactly two incoming operations per intermediate node, from two distinct
nodes, none of them 'none'; every intermediate node is concatenated into the output.

Strings:

* canonical form (what :func:`to_str`/``validate`` return)::

    normal=|sep_conv_3x3~0|sep_conv_3x3~1|+|sep_conv_3x3~0|sep_conv_3x3~1|+|...|+|...|;reduce=...

  four ``+``-separated node groups (nodes 2..5) per cell, tokens ``op~from_node`` sorted by
  from_node; see :mod:`natsbench.spaces._cells`.
* the DARTS code's genotype repr is accepted by :func:`parse` as well, e.g.
  ``Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ...], normal_concat=range(2, 6),
  reduce=[...], reduce_concat=range(2, 6))``, where entries 2k and 2k+1 feed node k+2 (read
  with ``ast``, never evaluated). :func:`to_darts_repr` writes it.

Encoding (:class:`DartsSpace`): per cell (normal, reduce) and node j = 2..5, three choices:
the index of the input pair in ``itertools.combinations(range(j), 2)`` and the op index in
:data:`CELL_OPS` for the lower and the higher input. num_choices is
``(1, 7, 7, 3, 7, 7, 6, 7, 7, 10, 7, 7) * 2``; there are (180 * 7**8)**2 ~ 1.08e18 genotypes,
and uniform codes give a uniform genotype.
"""
from __future__ import annotations

import ast
import itertools
from typing import Any

import numpy as np

from natsbench.errors import InvalidArchError
from natsbench.spaces._cells import (CELL_OPS, CELL_TYPES, EDGES, INTERMEDIATE_NODES, OPS,
                                     CellOp, Genotype, check_strengths, format_genotype,
                                     parse_genotype)
from natsbench.spaces.base import ProductSpace

__all__ = ["OPS", "CELL_OPS", "EDGES", "Genotype", "parse", "to_str", "validate", "check_darts",
           "to_darts_repr", "derive_darts", "derive_darts_cell", "DartsSpace"]

#: Input pairs of node j, in encoding order.
_PAIRS = {j: tuple(itertools.combinations(range(j), 2)) for j in INTERMEDIATE_NODES}
_CELL_OP_INDEX = {op: i for i, op in enumerate(CELL_OPS)}
_CONCAT = tuple(INTERMEDIATE_NODES)


def check_darts(genotype: Genotype) -> Genotype:
    """Return ``genotype`` if it is a DARTS cell pair, else raise InvalidArchError.

    Each intermediate node of both cells must have exactly two operations, from two
    distinct nodes ('none' and bad node indices are already rejected by :class:`Genotype`).
    """
    if not isinstance(genotype, Genotype):
        raise InvalidArchError(f"expected a Genotype, got {type(genotype).__name__}")
    for name in CELL_TYPES:
        cell = genotype.cell(name)
        for node in INTERMEDIATE_NODES:
            incoming = [item for item in cell if item[2] == node]
            sources = [src for _, src, _ in incoming]
            if len(incoming) != 2 or sources[0] == sources[1]:
                raise InvalidArchError(
                    f"not a DARTS genotype: {name} cell node {node} has inputs {incoming}; a DARTS "
                    f"cell takes exactly 2 operations per node from 2 distinct nodes in 0..{node - 1}")
    return genotype


def _parse_darts_repr(text: str) -> Genotype:
    """Read the DARTS code's ``Genotype(normal=[(op, from), ...], normal_concat=..., ...)``."""
    def fail(why: str) -> InvalidArchError:
        return InvalidArchError(f"invalid DARTS genotype repr {text!r}: {why}")

    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except SyntaxError as exc:
        raise fail(f"not parseable ({exc.msg})") from None
    if not (isinstance(tree, ast.Call) and isinstance(tree.func, ast.Name)
            and tree.func.id == "Genotype" and not tree.args):
        raise fail("expected Genotype(normal=..., normal_concat=..., reduce=..., reduce_concat=...)")
    fields = {kw.arg: kw.value for kw in tree.keywords}
    expected = {"normal", "normal_concat", "reduce", "reduce_concat"}
    if set(fields) != expected:
        raise fail(f"keywords {sorted(k for k in fields if k)} != {sorted(expected)}")
    cells: dict[str, list[CellOp]] = {}
    for name in CELL_TYPES:
        try:
            pairs = ast.literal_eval(fields[name])
        except ValueError:
            raise fail(f"{name} must be a literal list of (op, from_node) pairs") from None
        if not isinstance(pairs, (list, tuple)) or len(pairs) != 2 * len(INTERMEDIATE_NODES):
            raise fail(f"{name} must list {2 * len(INTERMEDIATE_NODES)} (op, from_node) pairs, "
                       f"two per node 2..5")
        items = []
        for k, pair in enumerate(pairs):
            if not isinstance(pair, (list, tuple)) or len(pair) != 2:
                raise fail(f"{name} entry {pair!r} is not an (op, from_node) pair")
            items.append((pair[0], pair[1], INTERMEDIATE_NODES[k // 2]))
        cells[name] = items
        concat = fields[f"{name}_concat"]
        if (isinstance(concat, ast.Call) and isinstance(concat.func, ast.Name)
                and concat.func.id == "range" and not concat.keywords):
            try:
                concat_value = tuple(range(*(ast.literal_eval(a) for a in concat.args)))
            except (ValueError, TypeError):
                raise fail(f"{name}_concat range(...) arguments must be int literals") from None
        else:
            try:
                concat_value = tuple(ast.literal_eval(concat))
            except (ValueError, TypeError):
                raise fail(f"{name}_concat must be range(2, 6) or a literal list") from None
        if concat_value != _CONCAT:
            raise fail(f"{name}_concat is {list(concat_value)}; a DARTS cell concatenates {list(_CONCAT)}")
    try:
        return Genotype(normal=tuple(cells["normal"]), reduce=tuple(cells["reduce"]))
    except InvalidArchError as exc:
        raise fail(str(exc)) from None


def parse(text: Any) -> Genotype:
    """Parse a canonical or DARTS-repr genotype string into a DARTS :class:`Genotype`."""
    if isinstance(text, str) and text.lstrip().startswith("Genotype("):
        genotype = _parse_darts_repr(text)
    else:
        genotype = parse_genotype(text)
    try:
        return check_darts(genotype)
    except InvalidArchError as exc:
        raise InvalidArchError(f"invalid DARTS genotype string {text!r}: {exc}") from None


def to_str(genotype: Genotype) -> str:
    """Canonical string of a DARTS genotype."""
    return format_genotype(check_darts(genotype))


def validate(arch: str | Genotype) -> str:
    """Canonical string of ``arch`` (a string in either form, or a Genotype)."""
    return to_str(arch) if isinstance(arch, Genotype) else to_str(parse(arch))


def to_darts_repr(genotype: Genotype) -> str:
    """The DARTS code's repr: ``Genotype(normal=[(op, from), ...], normal_concat=range(2, 6), ...)``."""
    check_darts(genotype)
    body = []
    for name in CELL_TYPES:
        pairs = ", ".join(f"({op!r}, {src})" for op, src, _ in genotype.cell(name))
        body.append(f"{name}=[{pairs}], {name}_concat=range(2, 6)")
    return f"Genotype({', '.join(body)})"


def derive_darts(strengths: Any) -> Genotype:
    """DARTS derivation: argmax op per edge, then the two strongest edges per node.

    Args:
        strengths: float array ``[2, 14, 8]`` (cell, edge in EDGES order, op in OPS order).

    For each intermediate node, an incoming edge's strength is its largest non-'none' op
    strength; the two strongest edges are kept, each with its strongest non-'none' op.
    Ties go to the lower from_node, and within an edge to the lower op index in OPS.
    """
    arr = check_strengths(strengths)
    cells = [tuple(derive_darts_cell(arr[c], OPS, EDGES)) for c in range(len(CELL_TYPES))]
    return Genotype(normal=cells[0], reduce=cells[1])


def derive_darts_cell(strengths: Any, ops: Any, edges: Any) -> list[tuple[str, int, int]]:
    """The DARTS rule for one cell of any size and op set (:func:`derive_darts` uses it).

    Args:
        strengths: float ``[E, K]``: edge in ``edges`` order, op in ``ops`` order; ``-inf``
            marks ops an edge does not have (pruned candidates), ``'none'`` is never chosen.
        ops: the K op names (``'none'`` anywhere or absent).
        edges: the E ``(to_node, from_node)`` pairs, grouped by ``to_node`` with ascending
            ``from_node`` (:func:`natsbench.models.darts_supernet.cell_edges` order).

    Returns:
        ``(op, from_node, to_node)`` triples: two per intermediate node (its two strongest
        incoming edges, an edge's strength being its strongest real op), each with that op.
        Ties go to the lower from_node, and within an edge to the earlier op in ``ops``.
    """
    arr = np.asarray(strengths, dtype=np.float64)
    ops, edges = tuple(ops), tuple(tuple(e) for e in edges)
    if arr.shape != (len(edges), len(ops)):
        raise InvalidArchError(f"strengths of shape {arr.shape}; expected [{len(edges)}, {len(ops)}] "
                               "(edges x ops)")
    real = [i for i, op in enumerate(ops) if op != "none"]
    if not real:
        raise InvalidArchError(f"op set {list(ops)} has no operation besides 'none'")
    body = arr[:, real]
    items = []
    for node in sorted({dst for dst, _ in edges}):
        into = [e for e, (dst, _) in enumerate(edges) if dst == node]
        if len(into) < 2:
            raise InvalidArchError(f"node {node} has {len(into)} incoming edge(s); the DARTS rule "
                                   "keeps two")
        scores = body[into].max(axis=1)
        for k in np.argsort(-scores, kind="stable")[:2]:
            e = into[k]
            if not np.isfinite(body[e]).any():
                raise InvalidArchError(f"edge {edges[e]} has no live operation to derive")
            items.append((ops[real[int(np.argmax(body[e]))]], edges[e][1], node))
    return items


class DartsSpace(ProductSpace):
    """DARTS cell pairs as a :class:`~natsbench.spaces.base.SearchSpace` (encoding: module doc).

    ``size`` is None (about 1.08e18 genotypes; ``count`` is exact); ``all_archs`` refuses,
    but ``index_of``/``arch_at``/``sample``/``neighbours`` work.
    """

    name = "darts"
    num_choices = tuple(n for j in INTERMEDIATE_NODES
                        for n in (len(_PAIRS[j]), len(CELL_OPS), len(CELL_OPS))) * len(CELL_TYPES)

    def _codes_of(self, arch: str) -> tuple[int, ...]:
        genotype = parse(arch)
        codes: list[int] = []
        for name in CELL_TYPES:
            cell = genotype.cell(name)
            for node in INTERMEDIATE_NODES:
                (op_a, src_a, _), (op_b, src_b, _) = [it for it in cell if it[2] == node]
                codes += [_PAIRS[node].index((src_a, src_b)), _CELL_OP_INDEX[op_a], _CELL_OP_INDEX[op_b]]
        return tuple(codes)

    def _str_of(self, codes: tuple[int, ...]) -> str:
        cells = []
        it = iter(codes)
        for _ in CELL_TYPES:
            items = []
            for node in INTERMEDIATE_NODES:
                src_a, src_b = _PAIRS[node][next(it)]
                items += [(CELL_OPS[next(it)], src_a, node), (CELL_OPS[next(it)], src_b, node)]
            cells.append(tuple(items))
        return format_genotype(Genotype(normal=cells[0], reduce=cells[1]))

    def sample_genotype(self, rng: np.random.Generator) -> Genotype:
        """A uniformly random DARTS :class:`Genotype`."""
        return parse(self.sample(rng))

"""Tests of the DARTS cell space and the ExtCell space (natsbench.spaces.darts / .extcell)."""
from __future__ import annotations

import itertools
import math
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from natsbench.errors import InvalidArchError, QueryError
from natsbench.spaces import SearchSpace, darts, extcell, get_space
from natsbench.spaces.darts import Genotype

OPS = ["none", "max_pool_3x3", "avg_pool_3x3", "skip_connect", "sep_conv_3x3", "sep_conv_5x5",
       "dil_conv_3x3", "dil_conv_5x5"]
REAL_OPS = OPS[1:]
EDGES = [(j, i) for j in range(2, 6) for i in range(j)]
HSET = settings(max_examples=80, deadline=None, database=None)

# The DARTS (second order) genotype as published in the DARTS code (genotypes.py, DARTS_V2).
DARTS_V2 = ("Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), "
            "('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), "
            "('dil_conv_3x3', 2)], normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), "
            "('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), "
            "('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], reduce_concat=range(2, 6))")


def cell_text(items: list[tuple[str, int, int]]) -> str:
    """The test's own writer of the canonical cell format."""
    groups = []
    for node in range(2, 6):
        toks = sorted(((src, OPS.index(op)) for op, src, dst in items if dst == node))
        groups.append("|" + "".join(f"{OPS[o]}~{src}|" for src, o in toks))
    return "+".join(g if len(g) > 1 else "||" for g in groups)


def pair_text(normal, reduce) -> str:
    return f"normal={cell_text(normal)};reduce={cell_text(reduce)}"


@st.composite
def darts_cells(draw):
    items = []
    for node in range(2, 6):
        a, b = draw(st.sampled_from(list(itertools.combinations(range(node), 2))))
        items += [(draw(st.sampled_from(REAL_OPS)), a, node), (draw(st.sampled_from(REAL_OPS)), b, node)]
    return items


def slot_to_item(slot: int) -> tuple[int, tuple[str, int, int]]:
    cell, rest = divmod(slot, 98)
    e, o = divmod(rest, 7)
    dst, src = EDGES[e]
    return cell, (REAL_OPS[o], src, dst)


ext_slots = st.lists(st.integers(0, 195), min_size=1, max_size=40, unique=True)


def ext_text(slots) -> str:
    cells = ([], [])
    for s in slots:
        c, item = slot_to_item(s)
        cells[c].append(item)
    return pair_text(*cells)


# --- Genotype -------------------------------------------------------------------------
def test_genotype_is_canonical_frozen_and_hashable():
    a = Genotype(normal=(("sep_conv_3x3", 1, 2), ("skip_connect", 0, 2)), reduce=())
    b = Genotype(normal=[["skip_connect", 0, 2], ["sep_conv_3x3", 1, 2]], reduce=[])
    assert a == b and hash(a) == hash(b)
    assert a.normal == (("skip_connect", 0, 2), ("sep_conv_3x3", 1, 2))
    with pytest.raises(Exception):
        a.normal = ()
    assert str(a) == "normal=|skip_connect~0|sep_conv_3x3~1|+||+||+||;reduce=||+||+||+||"
    assert a.num_ops == 2 and a.normal_concat == (2,) and a.reduce_concat == ()


@pytest.mark.parametrize("normal, needle", [
    ([("none", 0, 2)], "'none' is not an operation"),
    ([("conv_7x7", 0, 2)], "unknown op 'conv_7x7'"),
    ([("skip_connect", 2, 2)], "from_node 2 cannot feed node 2"),
    ([("skip_connect", 0, 6)], "to_node 6"),
    ([("skip_connect", 0, 1)], "to_node 1"),
    ([("skip_connect", 0.0, 2)], "not an int"),
    ([("skip_connect", 0, 2), ("skip_connect", 0, 2)], "twice"),
    ([("skip_connect", 0)], "triple"),
])
def test_genotype_rejects_bad_entries(normal, needle):
    with pytest.raises(InvalidArchError, match=needle):
        Genotype(normal=normal, reduce=())


# --- DARTS ----------------------------------------------------------------------------
def test_darts_space_interface():
    space = get_space("darts")
    assert isinstance(space, SearchSpace) and space.name == "darts"
    assert space.size is None
    assert space.count == (1 * 3 * 6 * 10 * 7 ** 8) ** 2
    assert space.num_choices == (1, 7, 7, 3, 7, 7, 6, 7, 7, 10, 7, 7) * 2
    with pytest.raises(QueryError, match="too many"):
        space.all_archs()


def test_darts_v2_repr_parses():
    g = darts.parse(DARTS_V2)
    assert g.normal_concat == g.reduce_concat == (2, 3, 4, 5)
    assert cell_text(list(g.normal)) == ("|sep_conv_3x3~0|sep_conv_3x3~1|+|sep_conv_3x3~0|sep_conv_3x3~1|+"
                                         "|skip_connect~0|sep_conv_3x3~1|+|skip_connect~0|dil_conv_3x3~2|")
    assert ("max_pool_3x3", 1, 5) in g.reduce and ("skip_connect", 2, 5) in g.reduce
    assert darts.parse(darts.to_darts_repr(g)) == g
    assert darts.validate(DARTS_V2) == str(g) == darts.to_str(g)
    assert darts.validate(g) == str(g)


@HSET
@given(darts_cells(), darts_cells())
def test_darts_round_trips(normal, reduce):
    s = pair_text(normal, reduce)
    g = darts.parse(s)
    assert darts.to_str(g) == s
    assert set(g.normal) == set(normal) and set(g.reduce) == set(reduce)
    assert darts.parse(darts.to_darts_repr(g)) == g
    space = get_space("darts")
    assert space.validate(s) == s
    assert space.decode(space.encode(s)) == s
    assert space.arch_at(space.index_of(s)) == s
    assert extcell.validate(s, k=16) == s  # the DARTS space is a subset of the 16-ExtCell space


def test_darts_index_order_is_product_order():
    space = get_space("darts")
    first, second = space.arch_at(0), space.arch_at(1)
    g0, g1 = darts.parse(first), darts.parse(second)
    # index 0: every node takes its first input pair and the first op twice
    assert all(op == "max_pool_3x3" for op, _, _ in g0.normal + g0.reduce)
    assert {(s, d) for _, s, d in g0.normal} == {(0, 2), (1, 2), (0, 3), (1, 3), (0, 4), (1, 4), (0, 5), (1, 5)}
    # index 1 changes the last dimension: op of the higher input of node 5 in the reduce cell
    assert set(g1.reduce) - set(g0.reduce) == {("avg_pool_3x3", 1, 5)}


@HSET
@given(darts_cells(), darts_cells(), st.data())
def test_darts_rejects_malformed_strings(normal, reduce, data):
    kind = data.draw(st.sampled_from(["drop", "extra", "same_input", "bad_op", "none_op", "bad_index",
                                      "insert"]))
    node = data.draw(st.integers(2, 5))
    cell = list(normal)
    mine = [i for i, it in enumerate(cell) if it[2] == node]
    if kind == "drop":
        del cell[mine[0]]
    elif kind == "extra":  # a third operation into the node (new input or a second op on an edge)
        extra = next((op, i, node) for i in range(node) for op in REAL_OPS if (op, i, node) not in cell)
        cell.append(extra)
    elif kind == "same_input":
        op, src, _ = cell[mine[0]]
        other_op = "skip_connect" if op != "skip_connect" else "sep_conv_3x3"
        cell[mine[1]] = (other_op, src, node)
    s = pair_text(cell, reduce)
    if kind == "bad_op":
        s = s.replace("~", "X~", 1)
    elif kind == "none_op":
        s = s.replace("|", "|none~0|", 1)
    elif kind == "bad_index":
        s = s.replace(f"~{normal[0][1]}|", f"~{node + 7}|", 1)
    elif kind == "insert":
        pos = data.draw(st.integers(0, len(s)))
        s = s[:pos] + data.draw(st.sampled_from([" ", "|", "+", ";", "=", "~", "#", "\n"])) + s[pos:]
    with pytest.raises(InvalidArchError):
        darts.parse(s)
    with pytest.raises(InvalidArchError):
        get_space("darts").encode(s)


@pytest.mark.parametrize("bad, needle", [
    ("", "empty"),
    (None, "must be a str"),
    ("normal=||+||+||+||", "normal=<cell>;reduce=<cell>"),
    ("normal=||+||+||;reduce=||+||+||+||", "4 node groups"),
    ("normal=|sep_conv_3x3~0|sep_conv_3x3~1|+|sep_conv_3x3~0|sep_conv_3x3~1|+|sep_conv_3x3~0|"
     "sep_conv_3x3~1|+|sep_conv_3x3~0|sep_conv_3x3~1|;reduce=||+||+||+||", "reduce cell node 2"),
    (DARTS_V2.replace("normal_concat=[2, 3, 4, 5]", "normal_concat=[4, 5]"), "concatenates"),
    (DARTS_V2.replace("[('sep_conv_3x3', 0), ", "__import__('os').system('true') or [", 1), "literal"),
    (DARTS_V2.replace("('dil_conv_3x3', 2)", "('dil_conv_3x3', 9)"), "from_node 9"),
    (DARTS_V2.replace("('sep_conv_3x3', 0), ", "", 1), "8 \\(op, from_node\\) pairs"),
    ("Genotype(normal=", "not parseable"),
])
def test_darts_rejects_examples(bad, needle):
    with pytest.raises(InvalidArchError, match=needle):
        darts.parse(bad)


def test_darts_sample_is_uniform_over_input_pairs():
    space = get_space("darts")
    assert space.sample(np.random.default_rng(3)) == space.sample(np.random.default_rng(3))
    rng = np.random.default_rng(0)
    n = 1500
    pairs = {j: [] for j in range(2, 6)}
    for _ in range(n):
        g = darts.parse(space.sample(rng))
        for j in range(2, 6):
            pairs[j].append(tuple(sorted(s for _, s, d in g.normal if d == j)))
    for j in range(3, 6):
        m = math.comb(j, 2)
        counts = np.array([pairs[j].count(p) for p in itertools.combinations(range(j), 2)])
        assert counts.sum() == n
        assert np.all(np.abs(counts - n / m) < 5 * np.sqrt(n / m))


def test_derive_darts_hand_example():
    s = np.zeros((2, 14, 8))
    s[:, :, 0] = 100.0  # 'none' must be ignored everywhere
    e = {edge: k for k, edge in enumerate(EDGES)}
    s[0, e[(2, 0)], OPS.index("sep_conv_3x3")] = 0.9
    s[0, e[(2, 1)], OPS.index("skip_connect")] = 0.5
    s[0, e[(5, 4)], OPS.index("dil_conv_5x5")] = 0.8
    s[0, e[(5, 2)], OPS.index("avg_pool_3x3")] = 0.7
    s[0, e[(5, 0)], OPS.index("max_pool_3x3")] = 0.6
    g = darts.derive_darts(s)
    node = lambda cell, j: sorted((src, op) for op, src, d in cell if d == j)  # noqa: E731
    assert node(g.normal, 2) == [(0, "sep_conv_3x3"), (1, "skip_connect")]
    assert node(g.normal, 5) == [(2, "avg_pool_3x3"), (4, "dil_conv_5x5")]
    # all-zero (tied) nodes: lowest from_nodes and the first op in OPS order after 'none'
    assert node(g.normal, 3) == [(0, "max_pool_3x3"), (1, "max_pool_3x3")]
    assert node(g.reduce, 4) == [(0, "max_pool_3x3"), (1, "max_pool_3x3")]


@HSET
@given(st.integers(0, 2**32 - 1))
def test_derive_darts_properties(seed):
    s = np.random.default_rng(seed).normal(size=(2, 14, 8))
    g = darts.derive_darts(s)
    darts.check_darts(g)
    for c, cell in enumerate((g.normal, g.reduce)):
        for j in range(2, 6):
            kept = {src: op for op, src, d in cell if d == j}
            for i in range(j):
                row = s[c, EDGES.index((j, i)), 1:]
                if i in kept:
                    assert REAL_OPS[int(np.argmax(row))] == kept[i]
                    # a kept edge is at least as strong as any dropped edge of the node
                    for i2 in set(range(j)) - set(kept):
                        assert row.max() >= s[c, EDGES.index((j, i2)), 1:].max()
    assert darts.derive_darts(s + np.eye(8)[0] * 1e6) == g  # 'none' never matters


def test_derive_rejects_bad_strengths():
    with pytest.raises(InvalidArchError, match="shaped"):
        darts.derive_darts(np.zeros((14, 8)))
    bad = np.zeros((2, 14, 8))
    bad[1, 3, 2] = np.nan
    with pytest.raises(InvalidArchError, match=r"\(1, 3, 2\)"):
        darts.derive_darts(bad)
    with pytest.raises(InvalidArchError, match="finite"):
        extcell.derive_topk(bad, 4)


# --- ExtCell --------------------------------------------------------------------------
@HSET
@given(ext_slots)
def test_extcell_round_trips(slots):
    s = ext_text(slots)
    g = extcell.parse(s)
    assert extcell.to_str(g) == s == str(g)
    assert g.num_ops == len(slots)
    assert extcell.slots_of(g).tolist() == sorted(slots)
    assert extcell.from_slots(slots) == g
    space = get_space("extcell", k=len(slots))
    assert space.validate(s) == s
    codes = space.encode(s)
    assert codes.shape == (196,) and np.flatnonzero(codes).tolist() == sorted(slots)
    assert space.decode(codes) == s


@HSET
@given(ext_slots, st.data())
def test_extcell_rejects_malformed_strings(slots, data):
    s = ext_text(slots)
    kind = data.draw(st.sampled_from(["wrong_k", "none", "op", "index", "dup", "insert", "groups"]))
    k = len(slots)
    if kind == "wrong_k":
        with pytest.raises(InvalidArchError, match=f"a {k + 1}-ExtCell has exactly {k + 1}"):
            extcell.validate(s, k=k + 1)
        return
    first = re.search(r"\|([a-z_0-9]+)~(\d)\|", s)  # the first token
    if kind == "none":
        s, needle = s[:first.start(1)] + "none" + s[first.end(1):], "'none'"
    elif kind == "op":
        s, needle = s[:first.start(1)] + "sep_conv_9x9" + s[first.end(1):], "unknown op 'sep_conv_9x9'"
    elif kind == "index":
        s, needle = s[:first.start(2)] + "9" + s[first.end(2):], "bad node index '9'"
    elif kind == "dup":
        s, needle = s[:first.end()] + first.group(0)[1:] + s[first.end():], "twice"
    elif kind == "groups":
        s, needle = s.replace(";reduce=", "+||;reduce=", 1), "4 node groups"
    else:
        pos = data.draw(st.integers(0, len(s)))
        s, needle = s[:pos] + data.draw(st.sampled_from([" ", "+", ";", "#", "\t", "||"])) + s[pos:], None
    with pytest.raises(InvalidArchError, match=needle):
        extcell.parse(s)


def test_extcell_space_enumeration_and_rank():
    space = get_space("extcell", k=2)
    assert isinstance(space, SearchSpace) and space.k == 2
    archs = space.all_archs()
    assert space.size == len(archs) == math.comb(196, 2)
    expected = [ext_text(c) for c in itertools.combinations(range(196), 2)]
    assert archs == expected
    for i in range(0, len(archs), 401):
        assert space.index_of(archs[i]) == i
    big = get_space("extcell")
    assert big.k == 16 and big.size is None and big.count == math.comb(196, 16)
    with pytest.raises(QueryError):
        big.all_archs()
    s = ext_text(range(180, 196))
    assert big.index_of(s) == big.count - 1


def test_extcell_space_rejects_wrong_budget_and_codes():
    space = get_space("extcell", k=3)
    with pytest.raises(InvalidArchError, match="exactly 3"):
        space.validate(ext_text([0, 1]))
    codes = np.zeros(196, dtype=np.int64)
    codes[:4] = 1
    with pytest.raises(InvalidArchError, match="4 ones"):
        space.decode(codes)
    codes[0] = 2
    with pytest.raises(InvalidArchError, match="out of range"):
        space.decode(codes)
    for k in (0, 197, 2.0, True):
        with pytest.raises(InvalidArchError, match="1..196"):
            get_space("extcell", k=k)


def test_extcell_neighbours_move_one_operation():
    space = get_space("extcell", k=3)
    s = ext_text([0, 100, 195])
    nbrs = space.neighbours(s)
    assert len(nbrs) == 3 * 193 == len(set(nbrs)) and s not in nbrs
    base = {0, 100, 195}
    for n in nbrs:
        slots = set(extcell.slots_of(extcell.parse(n)).tolist())
        assert len(slots) == 3 and len(slots - base) == 1 and len(base - slots) == 1


def test_unconnected_nodes():
    g = extcell.parse("normal=|sep_conv_3x3~0|+||+|skip_connect~3|+|max_pool_3x3~1|dil_conv_3x3~4|;"
                      "reduce=||+|avg_pool_3x3~2|+|skip_connect~0|sep_conv_3x3~0|+||")
    # normal: 3 has no input; 4 only from 3; 5 from input 1.  reduce: only 4 is fed (from input 0)
    assert extcell.unconnected_nodes(g) == {"normal": (3, 4), "reduce": (2, 3, 5)}
    assert g.normal_concat == (2, 5) and g.reduce_concat == (4,)


def test_extcell_sampler_is_uniform_over_slots():
    space = get_space("extcell", k=16)
    assert space.sample(np.random.default_rng(7)) == space.sample(np.random.default_rng(7))
    rng = np.random.default_rng(11)
    n = 2000
    counts = np.zeros(196)
    normal_sizes = []
    for _ in range(n):
        g = extcell.sample_genotype(rng, 16)
        assert g.num_ops == 16
        counts[extcell.slots_of(g)] += 1
        normal_sizes.append(len(g.normal))
    p = 16 / 196
    assert np.all(np.abs(counts - n * p) < 5 * np.sqrt(n * p * (1 - p)))
    # the normal cell's share is hypergeometric: mean 8, sd sqrt(16 * .5 * .5 * 180/195) ~ 1.92
    assert abs(np.mean(normal_sizes) - 8) < 5 * 1.92 / np.sqrt(n)
    assert np.var(normal_sizes) == pytest.approx(16 * 0.25 * 180 / 195, rel=0.15)


@HSET
@given(st.integers(0, 2**32 - 1), st.integers(1, 196))
def test_derive_topk_properties(seed, k):
    s = np.random.default_rng(seed).random((2, 14, 8))
    g = extcell.derive_topk(s, k)
    assert g.num_ops == k
    chosen = set(extcell.slots_of(g).tolist())
    flat = s[:, :, 1:].reshape(-1)
    if k < 196:
        worst_kept = min(flat[i] for i in chosen)
        best_dropped = max(flat[i] for i in range(196) if i not in chosen)
        assert worst_kept >= best_dropped
    s2 = s.copy()
    s2[:, :, 0] = 5.0  # stronger than every real op: still ignored
    assert extcell.derive_topk(s2, k) == g


def test_derive_topk_ties_and_cross_cell_competition():
    s = np.zeros((2, 14, 8))
    g = extcell.derive_topk(s, 3)  # all tied: the first three slots
    assert extcell.slots_of(g).tolist() == [0, 1, 2]
    s[1, 13, 7] = 1.0  # reduce cell, edge (5, 4), dil_conv_5x5
    s[1, 13, 6] = 0.9  # two ops on the same edge both survive
    s[0, 0, 4] = 0.8
    g = extcell.derive_topk(s, 3)
    assert g.normal == (("sep_conv_3x3", 0, 2),)
    assert g.reduce == (("dil_conv_3x3", 4, 5), ("dil_conv_5x5", 4, 5))
    assert extcell.unconnected_nodes(g) == {"normal": (3, 4, 5), "reduce": (2, 3, 4, 5)}


def test_normalize_per_node_connects_every_node():
    rng = np.random.default_rng(0)
    s = rng.random((2, 14, 8)) * 0.5 + 0.01
    s[0, :, 1:] *= 1e-3  # the normal cell is weak everywhere: plain top-8 leaves it empty
    assert len(extcell.derive_topk(s, 8).normal) == 0
    norm = extcell.normalize_per_node(s)
    for c in range(2):
        for j in range(2, 6):
            rows = [EDGES.index((j, i)) for i in range(j)]
            assert norm[c, rows, 1:].max() == pytest.approx(1.0)
    g = extcell.derive_topk(norm, 8)
    assert extcell.unconnected_nodes(g) == {"normal": (), "reduce": ()}
    np.testing.assert_array_equal(norm[:, :, 0], s[:, :, 0])
    with pytest.raises(InvalidArchError, match="positive"):
        extcell.normalize_per_node(np.zeros((2, 14, 8)))

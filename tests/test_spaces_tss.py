"""Tests of natsbench.spaces.tss: format, order, isomorphism, conversions, sampling."""
from __future__ import annotations

import bz2
import itertools
import pickle
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from natsbench.errors import InvalidArchError
from natsbench.spaces import SearchSpace, get_space, tss


OPS = ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"]
HSET = settings(max_examples=100, deadline=None, database=None)


def build(groups: list[list[tuple[str, str]]]) -> str:
    """Write an arch string from node groups of (op, index-text) tokens (test's own formatter)."""
    return "+".join("|" + "".join(f"{op}~{idx}|" for op, idx in g) for g in groups)


def groups_of(ops: tuple[str, ...]) -> list[list[tuple[str, str]]]:
    it = iter(ops)
    return [[(next(it), str(i)) for i in range(node)] for node in (1, 2, 3)]


@pytest.fixture(scope="module")
def space():
    return get_space("tss")


@pytest.fixture(scope="module")
def archs(space):
    return space.all_archs()


ops6 = st.tuples(*[st.sampled_from(OPS)] * 6)


def test_space_attributes(space):
    assert isinstance(space, SearchSpace)
    assert space.name == "tss" and space.size == 15625
    assert space.num_choices == (5,) * 6
    assert tss.OPS == tuple(OPS)
    assert tss.EDGES == ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
    assert get_space("topology").name == "tss"


def test_canonical_order_is_product_over_edges(archs):
    expected = [build(groups_of(ops)) for ops in itertools.product(OPS, repeat=6)]
    assert archs == expected
    assert archs[1] == "|none~0|+|none~0|none~1|+|none~0|none~1|skip_connect~2|"


def test_index_of_and_arch_at_invert_the_order(space, archs):
    assert [space.index_of(a) for a in archs] == list(range(len(archs)))
    for i in (0, 1, 4, 5, 777, 15624):
        assert space.arch_at(i) == archs[i]


def test_all_archs_returns_a_copy(space):
    first = space.all_archs()
    first.clear()
    assert len(space.all_archs()) == 15625


def test_official_meta_holds_the_same_strings(archs, official_tss):
    meta = pickle.loads(bz2.decompress((official_tss / "meta.pickle.pbz2").read_bytes()))  # trusted official fixture
    official = meta["meta_archs"]
    assert len(official) == 15625 and set(official) == set(archs)
    # README fact: official index 0
    assert official[0] == ("|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+"
                           "|nor_conv_1x1~0|skip_connect~1|skip_connect~2|")
    assert tss.parse(official[0]) == ("avg_pool_3x3", "nor_conv_1x1", "skip_connect",
                                      "nor_conv_1x1", "skip_connect", "skip_connect")


# --- isomorphism ----------------------------------------------------------------------
def test_iso_key_agrees_with_official_on_every_cell(archs):
    from nats_bench import genotype_utils
    official = [genotype_utils.topology_str2structure(a).to_unique_str(consider_zero=True) for a in archs]
    ours = [tss.iso_key(a) for a in archs]
    assert len(set(ours)) == 6466 == len(set(official))
    # identical partitions: the pairing of keys is a bijection
    pairs = set(zip(ours, official))
    assert len(pairs) == 6466
    assert ours == official  # the key is the official string itself


def test_iso_class_ids_match_iso_key_partition(archs):
    ids = tss.iso_class_ids()
    assert ids.shape == (15625,) and ids.dtype == np.int64
    first_seen: dict[str, int] = {}
    expected = [first_seen.setdefault(tss.iso_key(a), len(first_seen)) for a in archs]
    np.testing.assert_array_equal(ids, expected)
    assert ids.max() == 6465 and ids[0] == 0


def test_iso_key_ignores_everything_after_a_none_input_edge():
    # node 1 = none(input) is zero, so every op leaving node 1 contributes zero
    keys = {tss.iso_key(tss.to_str(("none", "nor_conv_3x3", o21, "skip_connect", o31, "nor_conv_1x1")))
            for o21 in OPS for o31 in OPS}
    assert len(keys) == 1


def test_iso_key_sums_are_commutative():
    a = tss.to_str(("nor_conv_3x3", "nor_conv_1x1", "skip_connect", "none", "none", "skip_connect"))
    # node 2 = conv1x1(x) + conv3x3(x) either way round
    b = tss.to_str(("nor_conv_1x1", "nor_conv_3x3", "skip_connect", "none", "none", "skip_connect"))
    assert tss.iso_key(a) == tss.iso_key(b)
    c = tss.to_str(("nor_conv_1x1", "nor_conv_1x1", "skip_connect", "none", "none", "skip_connect"))
    assert tss.iso_key(a) != tss.iso_key(c)


def test_iso_class_sizes():
    counts = Counter(tss.iso_class_ids().tolist())
    assert sum(counts.values()) == 15625
    assert counts[0] >= 2  # all-'none' cell shares its class (e.g. with ops after node-1 'none')


# --- conversions ------------------------------------------------------------------------
def test_matrix_matches_official_str2matrix(archs):
    from nats_bench import api_topology
    for a in archs[::7]:  # stride coprime to 5: every op occurs on every edge
        official = api_topology.NATStopology.str2matrix(a)
        ours = tss.to_matrix(a)
        assert ours.dtype == np.int64 and ours.shape == (4, 4)
        np.testing.assert_array_equal(ours, official)
        assert tss.from_matrix(official) == a


def test_matrix_layout_example():
    a = "|nor_conv_1x1~0|+|none~0|none~1|+|none~0|none~1|skip_connect~2|"
    expected = np.zeros((4, 4), dtype=np.int64)
    expected[1, 0] = 2
    expected[3, 2] = 1
    np.testing.assert_array_equal(tss.to_matrix(a), expected)


def test_from_matrix_rejects_bad_matrices():
    m = np.zeros((4, 4), dtype=np.int64)
    with pytest.raises(InvalidArchError, match=r"\[0, 1\]"):
        bad = m.copy(); bad[0, 1] = 2; tss.from_matrix(bad)
    with pytest.raises(InvalidArchError, match="out of range"):
        bad = m.copy(); bad[2, 0] = 5; tss.from_matrix(bad)
    with pytest.raises(InvalidArchError, match="shaped"):
        tss.from_matrix(np.zeros((3, 3), dtype=int))
    with pytest.raises(InvalidArchError, match="integer"):
        bad = m.astype(float); bad[1, 0] = 0.5; tss.from_matrix(bad)


@HSET
@given(ops6)
def test_parse_format_round_trip(ops):
    s = build(groups_of(ops))
    assert tss.to_str(ops) == s
    assert tss.parse(s) == ops
    assert tss.validate(s) == s
    idx = tss.op_indices(s)
    assert idx == tuple(OPS.index(o) for o in ops)
    assert tss.from_op_indices(idx) == s
    assert tss.from_matrix(tss.to_matrix(s)) == s
    space = get_space("tss")
    codes = space.encode(s)
    assert codes.dtype == np.int64 and codes.tolist() == list(idx)
    assert space.decode(codes) == s


# --- malformed strings ------------------------------------------------------------------
bad_op_names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_0123456789x ", min_size=0, max_size=14).filter(
    lambda t: t not in OPS)


@HSET
@given(ops6, st.integers(0, 5), bad_op_names)
def test_rejects_unknown_op_and_names_it(ops, pos, bad):
    groups = groups_of(ops)
    node = [0, 1, 1, 2, 2, 2][pos]
    slot = [0, 0, 1, 0, 1, 2][pos]
    groups[node][slot] = (bad, groups[node][slot][1])
    s = build(groups)
    with pytest.raises(InvalidArchError) as info:
        tss.parse(s)
    msg = str(info.value)
    assert repr(bad) in msg and "nor_conv_3x3" in msg and "avg_pool_3x3" in msg


@HSET
@given(ops6, st.integers(0, 5), st.sampled_from(["1", "2", "3", "4", "-1", "00", "01", "", "a", " 0"]))
def test_rejects_wrong_node_index(ops, pos, idx):
    groups = groups_of(ops)
    node = [0, 1, 1, 2, 2, 2][pos]
    slot = [0, 0, 1, 0, 1, 2][pos]
    if idx == str(slot):
        idx = "9"
    groups[node][slot] = (groups[node][slot][0], idx)
    with pytest.raises(InvalidArchError, match="node index") as info:
        tss.parse(build(groups))
    assert repr(idx) in str(info.value)


@HSET
@given(ops6, st.integers(0, 2), st.booleans(), st.sampled_from(OPS))
def test_rejects_missing_or_extra_edges(ops, node, extra, op):
    groups = groups_of(ops)
    if extra:
        groups[node].append((op, str(len(groups[node]))))
    else:
        groups[node].pop()
    with pytest.raises(InvalidArchError, match=f"node {node + 1}"):
        tss.parse(build(groups))


@HSET
@given(ops6, st.data())
def test_rejects_any_single_inserted_character(ops, data):
    s = build(groups_of(ops))
    pos = data.draw(st.integers(0, len(s)))
    ch = data.draw(st.characters(codec="utf-8"))
    with pytest.raises(InvalidArchError):
        tss.parse(s[:pos] + ch + s[pos:])


@HSET
@given(ops6, st.data())
def test_rejects_any_single_deleted_character(ops, data):
    s = build(groups_of(ops))
    pos = data.draw(st.integers(0, len(s) - 1))
    with pytest.raises(InvalidArchError):
        tss.parse(s[:pos] + s[pos + 1:])


@pytest.mark.parametrize("bad, needle", [
    ("", "empty"),
    (None, "NoneType"),
    (12, "int"),
    (b"|none~0|", "bytes"),
    ("|none~0|+|none~0|none~1|", "3 node groups"),
    ("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|+|none~0|", "3 node groups"),
    ("none~0|+|none~0|none~1|+|none~0|none~1|none~2|", "start and end with '|'"),
    ("|none~0||+|none~0|none~1|+|none~0|none~1|none~2|", "2 edge tokens"),
    ("|none0|+|none~0|none~1|+|none~0|none~1|none~2|", "'none0'"),
    ("|none~0|+|none~0|none~1|+|none~0|none~1|none~2| ", "start and end with '|'"),
    ("|none~1|+|none~0|none~1|+|none~0|none~1|none~2|", "node index"),
    ("|none~0|+|none~1|none~0|+|none~0|none~1|none~2|", "node index"),
])
def test_rejects_malformed_examples(bad, needle):
    with pytest.raises(InvalidArchError, match=needle.replace("|", r"\|")):
        tss.parse(bad)
    with pytest.raises(InvalidArchError):
        get_space("tss").index_of(bad)


def test_to_str_and_from_op_indices_reject_bad_input():
    with pytest.raises(InvalidArchError, match="'conv'"):
        tss.to_str(("conv",) + ("none",) * 5)
    with pytest.raises(InvalidArchError, match="6 op names"):
        tss.to_str(("none",) * 5)
    with pytest.raises(InvalidArchError, match="out of range"):
        tss.from_op_indices([0, 0, 0, 0, 0, 5])
    with pytest.raises(InvalidArchError, match="length 6"):
        get_space("tss").decode([0, 1])
    with pytest.raises(InvalidArchError, match="integers"):
        get_space("tss").decode([0.0] * 6)


# --- neighbours and sampling ------------------------------------------------------------
@HSET
@given(ops6)
def test_neighbours_are_all_one_edge_mutations(ops):
    s = tss.to_str(ops)
    nbrs = get_space("tss").neighbours(s)
    assert len(nbrs) == 24 == len(set(nbrs)) and s not in nbrs
    for n in nbrs:
        diff = [i for i, (a, b) in enumerate(zip(ops, tss.parse(n))) if a != b]
        assert len(diff) == 1


def test_sample_is_seeded_and_uniform(space):
    a = [space.sample(np.random.default_rng(5)) for _ in range(3)]
    assert a[0] == a[1] == a[2]
    rng = np.random.default_rng(123)
    n = 6000
    codes = np.array([space.encode(space.sample(rng)) for _ in range(n)])
    counts = np.stack([np.bincount(codes[:, e], minlength=5) for e in range(6)])
    # each op on each edge has probability 1/5: 6000 draws -> mean 1200, sd ~31
    assert np.all(np.abs(counts - n / 5) < 5 * np.sqrt(n * 0.2 * 0.8))
    with pytest.raises(TypeError, match="Generator"):
        space.sample(np.random.RandomState(0))


def test_get_space_rejects_unknown_names():
    with pytest.raises(InvalidArchError, match="valid: tss"):
        get_space("nasbench101")
    with pytest.raises(InvalidArchError, match="option"):
        get_space("tss", k=3)

"""Tests of natsbench.spaces.sss: format, order (incl. the official meta order), sampling."""
from __future__ import annotations

import bz2
import itertools
import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from natsbench.errors import InvalidArchError
from natsbench.spaces import SearchSpace, get_space, sss


CH = [8, 16, 24, 32, 40, 48, 56, 64]
HSET = settings(max_examples=100, deadline=None, database=None)
chans5 = st.tuples(*[st.sampled_from(CH)] * 5)


@pytest.fixture(scope="module")
def space():
    return get_space("sss")


@pytest.fixture(scope="module")
def archs(space):
    return space.all_archs()


def test_space_attributes(space):
    assert isinstance(space, SearchSpace)
    assert space.name == "sss" and space.size == 32768
    assert space.num_choices == (8,) * 5
    assert sss.CHANNELS == tuple(CH) and sss.NUM_LAYERS == 5
    assert get_space("size").name == "sss"


def test_product_order(space, archs):
    assert archs == [":".join(map(str, c)) for c in itertools.product(CH, repeat=5)]
    assert archs[1] == "8:8:8:8:16"
    assert archs[284] == "8:8:40:32:40"  # official index 284 (shared README)
    assert [space.index_of(a) for a in archs[::37]] == list(range(0, 32768, 37))
    assert space.arch_at(32767) == "64:64:64:64:64"


def test_order_equals_official_meta_order(archs, official_sss):
    meta = pickle.loads(bz2.decompress((official_sss / "meta.pickle.pbz2").read_bytes()))  # trusted official fixture
    assert meta["meta_archs"] == archs


@HSET
@given(chans5)
def test_round_trip(chans):
    s = ":".join(map(str, chans))
    assert sss.parse(s) == chans
    assert sss.to_str(chans) == s
    assert sss.to_str(np.array(chans)) == s
    assert sss.validate(s) == s
    space = get_space("sss")
    codes = space.encode(s)
    assert codes.tolist() == [CH.index(c) for c in chans]
    assert space.decode(codes) == s


@HSET
@given(chans5, st.integers(0, 4), st.integers(-100, 200).filter(lambda c: c not in CH))
def test_rejects_channel_not_allowed(chans, layer, bad):
    tokens = [str(c) for c in chans]
    tokens[layer] = str(bad)
    with pytest.raises(InvalidArchError) as info:
        sss.parse(":".join(tokens))
    msg = str(info.value)
    assert repr(str(bad)) in msg or f" {bad} " in msg
    assert "8, 16, 24, 32, 40, 48, 56, 64" in msg


@HSET
@given(chans5, st.integers(0, 4), st.sampled_from(["8.0", "x", "", " 8", "8 ", "+8", "08", "1e1", "٨", "0x8"]))
def test_rejects_non_integer_tokens(chans, layer, bad):
    tokens = [str(c) for c in chans]
    tokens[layer] = bad
    with pytest.raises(InvalidArchError, match="not a plain positive integer") as info:
        sss.parse(":".join(tokens))
    assert repr(bad) in str(info.value)


@HSET
@given(st.lists(st.sampled_from(CH), min_size=0, max_size=9).filter(lambda l: len(l) != 5))
def test_rejects_wrong_count(chans):
    s = ":".join(map(str, chans))
    with pytest.raises(InvalidArchError, match="empty" if not chans else "5 ':'-separated"):
        sss.parse(s)


@HSET
@given(chans5, st.data())
def test_rejects_stray_characters(chans, data):
    s = ":".join(map(str, chans))
    pos = data.draw(st.integers(0, len(s)))
    ch = data.draw(st.characters(codec="utf-8").filter(lambda c: not c.isdigit()))
    with pytest.raises(InvalidArchError):
        sss.parse(s[:pos] + ch + s[pos:])


@pytest.mark.parametrize("bad", [None, 8, ("8", "8"), b"8:8:8:8:8"])
def test_rejects_non_strings(bad):
    with pytest.raises(InvalidArchError, match="must be a str"):
        sss.parse(bad)


def test_to_str_rejects_bad_channels():
    with pytest.raises(InvalidArchError, match="not allowed"):
        sss.to_str([8, 8, 8, 8, 12])
    with pytest.raises(InvalidArchError, match="not an integer"):
        sss.to_str([8, 8, 8, 8, 8.0])
    with pytest.raises(InvalidArchError, match="5 channel counts"):
        sss.to_str([8, 8])


@HSET
@given(chans5)
def test_neighbours_change_one_layer(chans):
    s = sss.to_str(chans)
    nbrs = get_space("sss").neighbours(s)
    assert len(nbrs) == 35 == len(set(nbrs)) and s not in nbrs
    for n in nbrs:
        assert sum(a != b for a, b in zip(chans, sss.parse(n))) == 1


def test_sample_seeded_and_uniform(space):
    assert space.sample(np.random.default_rng(9)) == space.sample(np.random.default_rng(9))
    rng = np.random.default_rng(1)
    n = 8000
    vals = np.array([sss.parse(space.sample(rng)) for _ in range(n)])
    for layer in range(5):
        counts = np.array([(vals[:, layer] == c).sum() for c in CH])
        assert np.all(np.abs(counts - n / 8) < 5 * np.sqrt(n / 8 * 7 / 8))

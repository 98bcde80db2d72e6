"""Rules that exist once and are shared by every layer that needs them: hp normalisation,
space-name aliases, the NATS-Bench dataset/set mapping and mixed-radix codes/neighbours.
(The restricted unpickler, the fifth such rule, has tests/test_safe_unpickle.py; checkpoint
I/O and the Gumbel draw have tests/test_train_checkpoint.py and tests/test_ops_gumbel.py, the
test below checks that no other module does either.)"""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from natsbench.datasets.specs import (
    DATASETS, NATS_DATASETS, NATS_SET_SOURCES, TEST_SET_PREFERENCE, nats_set_source,
)
from natsbench.errors import InvalidArchError, QueryError
from natsbench.spaces import NATS_SPACES, canonical_space, get_space, space_names
from natsbench.spaces.base import code_neighbours, radix_codes, radix_index, radix_weights
from natsbench.store.official import normalize_space
from natsbench.store.records import normalize_hp
from natsbench.train.protocol import H0, H1, H2, protocol_for_hp
from search_algorithms import get_algorithm
from search_algorithms.problem import REPORT_SOURCES, SEARCH_SOURCES


# -- hp ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("hp, expected", [(1, "01"), ("1", "01"), (" 01 ", "01"), ("001", "01"),
                                          (12, "12"), ("12", "12"), (200, "200"), ("90", "90"),
                                          ("digits12", "digits12")])
def test_hp_normalisation(hp, expected):
    assert normalize_hp(hp) == expected


@pytest.mark.parametrize("bad", [True, -1, "", "  ", 1.5, None])
def test_bad_hp_is_refused_naming_it(bad):
    with pytest.raises(ValueError, match="hp"):
        normalize_hp(bad)


def test_protocols_are_found_by_the_same_hp_rule():
    for hp, preset in ((12, H0), ("12", H0), (" 012", H0), (200, H1), ("200", H1), (90, H2), ("90", H2)):
        assert protocol_for_hp(hp) is preset
    for bad in (True, "", -12, "13"):
        with pytest.raises(QueryError, match=r"valid: \['12', '90', '200'\]"):
            protocol_for_hp(bad)


# -- space names -------------------------------------------------------------------------------

def test_space_aliases_resolve_once_for_every_layer():
    assert [canonical_space(n) for n in ("tss", "topology", "sss", "size", "darts", "extcell")] == \
        ["tss", "tss", "sss", "sss", "darts", "extcell"]
    assert space_names(NATS_SPACES) == ["tss", "topology", "sss", "size"]
    assert [normalize_space(n) for n in ("topology", "size", "tss", "sss")] == ["tss", "sss", "tss", "sss"]
    assert get_space("size").name == "sss" and get_space("topology").name == "tss"
    with pytest.raises(InvalidArchError, match="'darts'; valid: tss, topology, sss, size$"):
        normalize_space("darts")
    with pytest.raises(InvalidArchError, match="'TSS'; valid: tss, topology, sss, size, darts, extcell$"):
        get_space("TSS")
    with pytest.raises(InvalidArchError, match="None"):
        canonical_space(None)  # type: ignore[arg-type]


# -- NATS-Bench datasets and sets ----------------------------------------------------------------

def test_nats_set_mapping():
    assert NATS_DATASETS == ("cifar10-valid", "cifar10", "cifar100", "ImageNet16-120")
    assert nats_set_source("cifar10", "valid") == ("cifar10-valid", "x-valid")
    assert nats_set_source("cifar10", "test") == ("cifar10", "ori-test")
    assert nats_set_source("cifar100", "test") == ("cifar100", "x-test")
    assert nats_set_source("ImageNet16-120", "valid") == ("ImageNet16-120", "x-valid")
    # anything else passes unchanged (train, stored sets, benchmark datasets, other datasets)
    for pair in (("cifar10", "train"), ("cifar10-valid", "valid"), ("cifar100", "ori-test"), ("digits", "test")):
        assert nats_set_source(*pair) == pair
    # every source is a real evaluation set of its dataset; "test" is the preferred test set
    for dataset, sources in NATS_SET_SOURCES.items():
        for role, (stored, set_name) in sources.items():
            assert set_name in DATASETS[stored].eval_sets, (dataset, role)
        stored, set_name = sources["test"]
        assert set_name == next(s for s in TEST_SET_PREFERENCE if s in DATASETS[stored].eval_sets)
    # the search protocol reads the same mapping
    assert SEARCH_SOURCES == {d: s["valid"] for d, s in NATS_SET_SOURCES.items()}
    assert REPORT_SOURCES == {d: s["test"] for d, s in NATS_SET_SOURCES.items()}


# -- mixed-radix codes and neighbours ------------------------------------------------------------

@pytest.mark.parametrize("num_choices", [(3, 1, 4, 2), (5,), (2, 2, 2)])
def test_mixed_radix_is_itertools_product_order(num_choices):
    grid = list(itertools.product(*(range(n) for n in num_choices)))
    weights = radix_weights(num_choices)
    for index, codes in enumerate(grid):
        assert radix_index(codes, num_choices) == index == int(np.dot(codes, weights))
        assert radix_codes(index, num_choices) == codes
        nbrs = code_neighbours(codes, num_choices)
        brute = [c for c in grid if sum(a != b for a, b in zip(c, codes)) == 1]
        assert sorted(nbrs) == brute and len(nbrs) == sum(n - 1 for n in num_choices)


def test_spaces_and_search_algorithms_share_neighbours():
    rng = np.random.default_rng(0)
    for name in ("tss", "sss"):
        space = get_space(name)
        algo = get_algorithm("local_search")(space, np.random.default_rng(1))
        for _ in range(3):
            arch = space.sample(rng)
            codes = tuple(int(c) for c in space.encode(arch))
            assert [space.decode(c) for c in algo.neighbours(codes)] == space.neighbours(arch)
            assert space.arch_at(space.index_of(arch)) == arch


# -- checkpoints and Gumbel draws ------------------------------------------------------------------

def _library_sources():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    for package in ("natsbench", "search_algorithms", "analysis"):
        for path in sorted((root / package).rglob("*.py")):
            yield path.relative_to(root).as_posix(), path.read_text(encoding="utf-8")


@pytest.mark.parametrize("needle, allowed", [
    # torch.save/torch.load of checkpoints: natsbench.train.checkpoint (the NB201 archive fixture
    # writes a torch file on purpose, it is not a checkpoint)
    ("torch.save(", {"natsbench/train/checkpoint.py", "natsbench/testing/nb201_archive.py"}),
    ("torch.load(", {"natsbench/train/checkpoint.py"}),
    # Gumbel noise -log(Exp(1)) is drawn in natsbench.ops.gumbel only
    ("exponential_(", {"natsbench/ops/gumbel.py"}),
])
def test_checkpoint_io_and_gumbel_draws_exist_once(needle, allowed):
    users = {name for name, text in _library_sources() if needle in text}
    assert users <= allowed, f"{needle} outside {sorted(allowed)}: {sorted(users - allowed)}"
    assert users & allowed

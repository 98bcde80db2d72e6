"""natsbench.create must answer exactly like the official nats_bench 1.8 package.

Archives are generated with nats_bench's own ArchResults/ResultsCount/pickle_save
(natsbench.testing.official_archive), loaded by both APIs, and every public method is
compared over all architectures, datasets, hps, seeds and epochs. The same comparison runs
on the real official files in ../shared/nats-official when they are present.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import nats_bench

import natsbench  # noqa: E402
from natsbench.errors import QueryError  # noqa: E402
from natsbench.testing.official_archive import make_official_archive  # noqa: E402



def same(a, b, path="") -> None:
    """Exact recursive equality (floats bit-equal, None == None, dict keys equal)."""
    if isinstance(a, dict) or isinstance(b, dict):
        assert isinstance(a, dict) and isinstance(b, dict), f"{path}: {type(a)} vs {type(b)}"
        assert set(a) == set(b), f"{path}: keys {sorted(map(str, a))} vs {sorted(map(str, b))}"
        for k in a:
            same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        assert len(a) == len(b), f"{path}: len {len(a)} vs {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            same(x, y, f"{path}[{i}]")
    elif a is None or b is None:
        assert a is None and b is None, f"{path}: {a!r} vs {b!r}"
    elif isinstance(a, (float, int, np.floating, np.integer)) and not isinstance(a, bool):
        assert float(a) == float(b), f"{path}: {a!r} vs {b!r}"
    else:
        assert a == b, f"{path}: {a!r} vs {b!r}"


def official_outcomes(api, method, *args, seeds, **kwargs):
    """Results of an official is_random=True call for each possible seed choice."""
    import nats_bench.api_utils as au
    import nats_bench.api_topology as at
    import nats_bench.api_size as asz

    outcomes = []
    for seed in seeds:
        saved = (at.random.choice, au.random.randint)
        try:
            at.random.choice = lambda seq, _s=seed: _s  # noqa: E731  (same module object for asz)
            outcomes.append(getattr(api, method)(*args, **kwargs))
        finally:
            at.random.choice, au.random.randint = saved
    del asz
    return outcomes


def compare_apis(ours, theirs, *, indices, full: bool, simulate: bool = True) -> int:
    """Compare every public method; returns the number of comparisons made. ``simulate``:
    also ``simulate_train_eval`` (NATS-Bench semantics; NAS-Bench-201's API differs)."""
    n = 0
    assert len(ours) == len(theirs)
    theirs.get_more_info(indices[0], "cifar10", hp=ours.avaliable_hps[0])  # official fast mode: hps grow on load
    for i in (0, len(theirs) // 2, len(theirs) - 1):
        assert ours.arch(i) == theirs.arch(i) == ours[i]
        assert ours.query_index_by_arch(theirs.arch(i)) == theirs.query_index_by_arch(theirs.arch(i)) == i
    assert ours.query_index_by_arch("|not~0|an~1|arch~2|") == theirs.query_index_by_arch("|not~0|an~1|arch~2|") == -1
    same(sorted(ours.avaliable_hps), sorted(theirs.avaliable_hps))
    for index in indices:
        for hp in theirs.avaliable_hps:
            theirs_res = theirs.query_by_index(index, hp=hp)
            ours_res = ours.query_by_index(index, hp=hp)
            assert sorted(ours_res.get_dataset_names()) == sorted(theirs_res.get_dataset_names())
            for dataset in theirs_res.get_dataset_names():
                seeds = theirs_res.get_dataset_seeds(dataset)
                assert ours_res.get_dataset_seeds(dataset) == seeds
                same(ours.get_cost_info(index, dataset, hp=hp), theirs.get_cost_info(index, dataset, hp=hp),
                     f"cost {index} {dataset} {hp}")
                same(ours.get_latency(index, dataset, hp=int(hp)), theirs.get_latency(index, dataset, hp=hp))
                same(ours.get_net_config(index, dataset), theirs.get_net_config(index, dataset))
                epochs = theirs_res.get_total_epoch(dataset)
                assert ours_res.get_total_epoch(dataset) == epochs
                ours_runs, theirs_runs = ours_res.query(dataset), theirs_res.query(dataset)
                for seed in seeds:
                    o, t = ours_runs[seed], theirs_runs[seed]
                    same(o.get_times(), t.get_times(), f"times {index} {dataset} {seed}")
                    same(o.get_latency(), t.get_latency())
                    same([o.params, o.flop, o.epochs], [t.params, t.flop, t.epochs])
                    assert sorted(o.get_eval_set()) == sorted(t.get_eval_set())
                for iepoch in [None, *range(epochs)]:
                    for is_random in [False, *seeds]:
                        where = f"{index} {dataset} hp={hp} e={iepoch} r={is_random}"
                        same(ours.get_more_info(index, dataset, iepoch=iepoch, hp=hp, is_random=is_random),
                             theirs.get_more_info(index, dataset, iepoch=iepoch, hp=hp, is_random=is_random), where)
                        n += 1
                        for setname in ["train", "valid", *theirs_res.query(dataset, seeds[0]).get_eval_set()]:
                            try:
                                expected = theirs_res.get_metrics(dataset, setname, iepoch=iepoch, is_random=is_random)
                            except (KeyError, ValueError):
                                with pytest.raises((KeyError, ValueError)):
                                    ours_res.get_metrics(dataset, setname, iepoch=iepoch, is_random=is_random)
                                continue
                            same(ours_res.get_metrics(dataset, setname, iepoch=iepoch, is_random=is_random),
                                 expected, f"get_metrics {setname} {where}")
                            n += 1
                # is_random=True draws one seed: ours must be one of the official outcomes
                for ds in ("cifar10", "cifar100", "ImageNet16-120") if simulate else ():
                    if dataset != (ds if ds != "cifar10" else "cifar10-valid"):
                        continue
                    ours.reset_time()
                    got = ours.simulate_train_eval(index, ds, hp=hp)
                    options = official_outcomes(theirs, "simulate_train_eval", index, ds, hp=hp,
                                                account_time=False,
                                                seeds=theirs_res.get_dataset_seeds(dataset))
                    assert any(tuple(got[:3]) == tuple(opt[:3]) for opt in options), (got, options)
                    assert ours.used_time == got[2]
                    n += 1
    if full:  # whole-archive queries (official needs every evaluated arch loaded)
        for hp in theirs.avaliable_hps:
            for dataset in ("cifar10-valid", "cifar10", "cifar100", "ImageNet16-120"):
                same(ours.statistics(dataset, int(hp)), theirs.statistics(dataset, hp))
            for dataset, sets in (("cifar10", ["valid", "test", "train"]), ("cifar100", ["valid", "test", "ori-test"]),
                                  ("ImageNet16-120", ["valid", "test", "x-valid"]), ("cifar10-valid", ["x-valid", "ori-test"])):
                for setname in sets:
                    for limits in ({}, {"flop_max": 100.0}, {"param_max": 0.9, "flop_max": 150.0}, {"param_max": 0.01}):
                        try:
                            expected = theirs.find_best(dataset, setname, hp=hp, **limits)
                        except (KeyError, ValueError, TypeError):
                            continue
                        got = ours.find_best(dataset, setname, hp=hp, **limits)
                        if expected[0] == -1:
                            assert got[0] == -1
                        else:
                            same(got, expected, f"find_best {dataset} {setname} {hp} {limits}")
                        n += 1
    return n


@pytest.fixture(scope="module")
def tss_archives(tmp_path_factory):
    root = tmp_path_factory.mktemp("official-tss")
    kwargs = dict(space="tss", n_archs=12, seed=3, hp_epochs={"12": 12, "200": 20})
    fast = make_official_archive(root / "fast", **kwargs)
    single = make_official_archive(root / "single.pickle.pbz2", single_file=True, **kwargs)
    return fast, single


@pytest.fixture(scope="module")
def sss_archives(tmp_path_factory):
    root = tmp_path_factory.mktemp("official-sss")
    kwargs = dict(space="sss", n_archs=8, seed=5, hp_epochs={"01": 1, "12": 12, "90": 15})
    fast = make_official_archive(root / "fast", **kwargs)
    single = make_official_archive(root / "single.pickle.pbz2", single_file=True, **kwargs)
    return fast, single


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NATSBENCH_CACHE", str(tmp_path / "cache"))


@pytest.mark.parametrize("space", ["tss", "sss"])
def test_generated_archives_match_official(space, tss_archives, sss_archives):
    fast, single = tss_archives if space == "tss" else sss_archives
    theirs_fast = nats_bench.create(str(fast), space, fast_mode=True, verbose=False)
    theirs_full = nats_bench.create(str(single), space, fast_mode=False, verbose=False)
    ours_fast = natsbench.create(str(fast), space, fast_mode=True, verbose=False, seed=0)
    ours_full = natsbench.create(str(single), space, verbose=False, seed=0)
    indices = sorted(theirs_full.evaluated_indexes)
    assert sorted(ours_full.evaluated_indexes) == indices
    n = compare_apis(ours_fast, theirs_fast, indices=indices, full=False)
    n += compare_apis(ours_full, theirs_full, indices=indices[:3], full=True)
    assert n > 1000


def test_create_from_a_loaded_dict_cleans_up_its_temporary_benchmark(tss_archives):
    import gc

    from natsbench.store.restricted_pickle import load_archive_file

    _fast, single = tss_archives
    theirs = nats_bench.create(str(single), "tss", fast_mode=False, verbose=False)
    ours = natsbench.create(load_archive_file(single), "tss", verbose=False, seed=0)
    index = sorted(theirs.evaluated_indexes)[0]
    assert ours.get_more_info(index, "cifar100", hp="200", is_random=False) == \
        theirs.get_more_info(index, "cifar100", hp="200", is_random=False)
    tmp = Path(ours._bench.path).parent
    assert tmp.is_dir() and tmp.name.startswith("natsbench-dict-")
    del ours
    gc.collect()
    assert not tmp.exists()


def test_topology_string_helpers(tss_archives):
    fast, _ = tss_archives
    theirs = nats_bench.create(str(fast), "tss", fast_mode=True, verbose=False)
    ours = natsbench.create(str(fast), "tss", verbose=False)
    for i in range(0, len(theirs), 997):
        arch = theirs.arch(i)
        assert [tuple(n) for n in ours.str2lists(arch)] == [tuple(n) for n in theirs.str2lists(arch)]
        np.testing.assert_array_equal(ours.str2matrix(arch), theirs.str2matrix(arch))


def test_info_strings_match_official(tss_archives):
    fast, _ = tss_archives
    theirs = nats_bench.create(str(fast), "tss", fast_mode=True, verbose=False)
    ours = natsbench.create(str(fast), "tss", verbose=False)
    for index in range(3):
        for hp in ("12", "200"):
            assert ours.query_info_str_by_arch(index, hp) == theirs.query_info_str_by_arch(index, hp)


def test_hp_int_or_str_and_seeded_randomness(tss_archives):
    fast, _ = tss_archives
    a = natsbench.create(str(fast), "tss", verbose=False, seed=7)
    b = natsbench.create(str(fast), "tss", verbose=False, seed=7)
    assert a.get_more_info(1, "cifar100", hp=200, is_random=False) == a.get_more_info(1, "cifar100", hp="200", is_random=False)
    draws_a = [a.simulate_train_eval(i % 12, "cifar10", hp=12)[0] for i in range(40)]
    draws_b = [b.simulate_train_eval(i % 12, "cifar10", hp="12")[0] for i in range(40)]
    assert draws_a == draws_b
    assert a.used_time == b.used_time > 0
    assert [a.random() for _ in range(5)] == [b.random() for _ in range(5)]


def test_bad_queries_name_valid_values(tss_archives):
    fast, _ = tss_archives
    api = natsbench.create(str(fast), "tss", verbose=False)
    with pytest.raises(QueryError, match=r"0\.\.15624"):
        api.get_more_info(15625, "cifar10")
    with pytest.raises(QueryError, match="has hps"):
        api.get_more_info(0, "cifar10", hp=90)
    with pytest.raises(QueryError, match="ImageNet16-120"):
        api.get_more_info(0, "imagenet", hp=12)
    with pytest.raises(QueryError, match="beyond the run"):
        api.get_more_info(0, "cifar10", iepoch=12, hp=12)
    with pytest.raises(QueryError, match="valid"):
        api.get_more_info(0, "cifar10", hp=200, is_random=5)
    with pytest.raises(QueryError, match="malformed"):
        api.get_more_info("|nor_conv_3x3~0|+|bogus~0|", "cifar10")
    with pytest.raises(QueryError, match="no run"):
        api.get_more_info(14000, "cifar10", hp=12)


@pytest.mark.parametrize("space,name", [("tss", "NATS-tss-v1_0-3ffb9-simple"), ("sss", "NATS-sss-v1_0-50262-simple")])
def test_real_official_files_match(space, name, official_dir):
    path = official_dir / name
    theirs = nats_bench.create(str(path), space, fast_mode=True, verbose=False)
    ours = natsbench.create(str(path), space, fast_mode=True, verbose=False)
    n = compare_apis(ours, theirs, indices=[0, 11, 284], full=False)
    assert n > 100


def test_real_official_published_facts(official_tss, official_sss):
    tss = natsbench.create(str(official_tss), "tss", verbose=False)
    cost = tss.get_cost_info(0, "cifar10", hp=200)
    assert (round(cost["params"], 6), round(cost["flops"], 5)) == (0.129306, 15.64737)
    accs = [tss.get_more_info(0, "cifar10", hp=200, is_random=s)["test-accuracy"] for s in (777, 888, 999)]
    assert [round(a, 2) for a in accs] == [85.62, 86.18, 85.79]
    info = tss.get_more_info(11, "cifar10-valid", hp=200, is_random=False)
    assert (round(info["valid-accuracy"], 2), round(info["test-accuracy"], 2)) == (87.94, 87.65)
    sss = natsbench.create(str(official_sss), "sss", verbose=False)
    assert sss.arch(284) == "8:8:40:32:40" and sss.arch(1) == "8:8:8:8:16"
    assert round(sss.get_more_info(284, "cifar10", hp=90, is_random=False)["test-accuracy"], 2) == 89.51
    assert math.isclose(sss.get_cost_info(284, "cifar10", hp=90)["params"], 0.144834)

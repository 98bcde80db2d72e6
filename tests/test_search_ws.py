"""The weight-sharing search engine: every algorithm end to end on a tiny digits search,
determinism, resume after a kill, the sets steps read, the rows, the CLI."""
from __future__ import annotations

import importlib.util
import math
import os
import secrets
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from natsbench.errors import QueryError  # noqa: E402
from natsbench.resources import BUNDLED_TSS, bundled_path  # noqa: E402
from natsbench.spaces import tss  # noqa: E402
from search_algorithms.weight_sharing import (  # noqa: E402
    available_ws_algorithms, get_config, get_ws_algorithm, run_search,
)
from search_algorithms.weight_sharing.engine import ROW_COLUMNS, algorithms_for_space  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ALGOS = algorithms_for_space("tss")   # sss: tests/test_ws_sss.py; ExtCell: test_btnas_*
BENCH = bundled_path(*BUNDLED_TSS)
#: a tiny search: 4 channels, 1 cell per stage, 8x8 images, 2 epochs of 3 steps
TINY = dict(epochs=2, C=4, N=1, batch_size=16, eval_batch_size=16, num_candidates=4,
            controller_steps=2, controller_aggregate=3)
TIME_COLS = ("search_time",)


def _search(algo, data, seed=777, **kw):
    cfg = get_config("digits", **TINY)
    engines: list = []
    rows = run_search(algo, "digits", cfg, seed, BENCH, data=data, engine_out=engines, **kw)
    return rows, engines[0] if engines else None


def _strip(rows):
    """Rows without the wall-time column, NaN as None (so equal rows compare equal)."""
    return [{k: (None if isinstance(v, float) and math.isnan(v) else v)
             for k, v in r.items() if k not in TIME_COLS} for r in rows]


@pytest.mark.parametrize("algo", ALGOS)
def test_each_algorithm_finishes_a_two_epoch_search(algo, tiny_data):
    rows, engine = _search(algo, tiny_data)
    assert [r["epoch"] for r in rows] == [1, 2]
    for r in rows:
        assert set(ROW_COLUMNS) <= set(r) and {"num_skip", "num_none"} <= set(r)
        assert tss.parse(r["arch"])            # a valid tss string (raises otherwise)
        assert r["algorithm"] == algo and r["space"] == "tss" and r["dataset"] == "digits"
        assert 0 < r["reported"] <= 100 and 0 < r["valid"] <= 100   # answered by tss-digits
        ops = tss.parse(r["arch"])
        assert r["num_skip"] == ops.count("skip_connect") and r["num_none"] == ops.count("none")
    assert rows[0]["search_time"] < rows[1]["search_time"]
    # no test-set image reached a step: only train and x-valid were read
    assert set(engine.used) <= {"train", "x-valid"}
    assert engine.used["train"] == set(range(48))      # every train image, one epoch
    assert engine.used["x-valid"] <= set(range(32))
    if get_ws_algorithm(algo).has_arch_step or algo in ("rsps", "setn", "enas"):
        assert engine.used["x-valid"]            # arch steps / candidate scoring read x-valid


def test_arch_parameters_move_only_for_methods_that_train_them(tiny_data):
    torch.manual_seed(0)
    for algo in ("rsps", "enas"):
        _, engine = _search(algo, tiny_data)
        init = _search(algo, tiny_data, stop_after=0)[1].net.arch_logits
        assert torch.equal(engine.net.arch_logits, init), algo
    for algo in ("darts-v1", "darts-v2", "gdas", "setn"):
        _, engine = _search(algo, tiny_data)
        init = _search(algo, tiny_data, stop_after=0)[1].net.arch_logits
        assert not torch.equal(engine.net.arch_logits, init), algo


def test_darts_and_gdas_derive_the_argmax_of_their_logits(tiny_data):
    for algo in ("darts-v1", "gdas"):
        rows, engine = _search(algo, tiny_data)
        argmax = engine.net.arch_logits.argmax(dim=-1).tolist()
        assert rows[-1]["arch"] == tss.from_op_indices(argmax)


@pytest.mark.parametrize("algo", ["gdas", "enas", "darts-v2"])
def test_one_seed_gives_identical_rows_on_cpu(algo, tiny_data):
    a, _ = _search(algo, tiny_data, seed=5)
    b, _ = _search(algo, tiny_data, seed=5)
    assert _strip(a) == _strip(b)
    # the trained weights are the same tensor values; another seed trains other ones
    wa = _search(algo, tiny_data, seed=5)[1].net.state_dict()
    wb = _search(algo, tiny_data, seed=5)[1].net.state_dict()
    wc = _search(algo, tiny_data, seed=6)[1].net.state_dict()
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert not all(torch.equal(wa[k], wc[k]) for k in wa)


@pytest.mark.parametrize("algo", ALGOS)
def test_a_killed_search_resumes_with_the_same_rows(algo, tiny_data, tmp_path):
    full, e_full = _search(algo, tiny_data)
    first, _ = _search(algo, tiny_data, checkpoint_dir=tmp_path, stop_after=1)   # "killed"
    assert len(first) == 1 and len(list(tmp_path.iterdir())) == 1
    resumed, e_res = _search(algo, tiny_data, checkpoint_dir=tmp_path)
    assert _strip(resumed) == _strip(full)
    sa, sb = e_full.net.state_dict(), e_res.net.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert e_res.used == e_full.used
    # other settings never resume from this checkpoint
    other = run_search(algo, "digits", get_config("digits", **{**TINY, "lr": 0.05}), 777, BENCH,
                       data=tiny_data, checkpoint_dir=tmp_path, stop_after=1)
    assert len(other) == 1 and len(list(tmp_path.iterdir())) == 2


def test_schedules():
    from search_algorithms.weight_sharing.engine import Engine

    class _E:
        config = get_config("nats")
        steps_per_epoch = 10

    e = _E()
    assert Engine.lr_at(e, 0) == pytest.approx(0.025)
    assert Engine.lr_at(e, 500) == pytest.approx((0.025 + 0.001) / 2)
    assert Engine.lr_at(e, 1000) == pytest.approx(0.001)
    assert Engine.tau_at(e, 0) == pytest.approx(10.0)
    assert Engine.tau_at(e, 99) == pytest.approx(0.1)


def test_gdas_rows_report_the_linear_temperature(tiny_data):
    rows, _ = _search("gdas", tiny_data)
    assert [r["tau"] for r in rows] == pytest.approx([10.0, 0.1])
    assert all(math.isnan(r["tau"]) for r in _search("darts-v1", tiny_data)[0])


def test_digits_config_takes_the_benchmarks_scale():
    from search_algorithms.weight_sharing.engine import BenchOracle, _resolve_scale

    oracle = BenchOracle(BENCH, "digits")
    assert oracle.test == ("digits", "x-test", "12") and oracle.valid == ("digits", "x-valid", "12")
    settings, size, pad, flip = _resolve_scale(get_config("digits"), oracle, "digits")
    assert (settings, size, pad, flip) == ({"C": 8, "N": 1}, 8, 1, 0.0)
    nats = get_config("nats")
    assert (nats.epochs, nats.C, nats.N, nats.batch_size, nats.lr, nats.arch_lr) == (
        100, 16, 5, 64, 0.025, 3e-4)


def test_bad_inputs_name_the_valid_values(tiny_data):
    with pytest.raises(QueryError, match="darts-v1"):
        get_ws_algorithm("dartz")
    with pytest.raises(QueryError, match="nats, digits"):
        get_config("cifar")
    with pytest.raises(QueryError, match="epochs"):
        get_config("digits", epoch=3)
    with pytest.raises(QueryError, match="digits"):
        run_search("gdas", "mnist", get_config("digits", **TINY), 1, BENCH, data=tiny_data)


def test_spaces_are_adapters_and_algorithms_declare_theirs(tiny_data, monkeypatch):
    from search_algorithms.weight_sharing import spaces
    from search_algorithms.weight_sharing.engine import (algorithms_for_space,
                                                         check_algorithm_space, row_columns)

    assert row_columns("tss") == (*ROW_COLUMNS, "num_skip", "num_none")
    assert algorithms_for_space("tss") == ALGOS == (
        "darts-v1", "darts-v2", "gdas", "rsps", "setn", "enas")
    assert set(algorithms_for_space("extcell")) == {"btnas", "darts-topk", "darts-elu-topk",
                                                    "fairdarts-topk"}
    assert set(algorithms_for_space("sss")) == {"tas", "fbnetv2", "tunas"}
    assert (set(ALGOS) | set(algorithms_for_space("extcell")) | set(algorithms_for_space("sss"))
            == set(available_ws_algorithms()))
    with pytest.raises(QueryError, match="no space 'nope'; valid: tss, sss, extcell"):
        spaces.get_space_adapter("nope")
    # a space registered from elsewhere (no engine edit): known, but no algorithm searches it
    monkeypatch.setitem(spaces.WS_SPACES, "toy", "search_algorithms.weight_sharing.spaces:TssAdapter")
    assert algorithms_for_space("toy") == ()
    with pytest.raises(QueryError, match="'gdas' does not search space 'toy'; algorithms for toy: none"):
        check_algorithm_space("gdas", "toy")
    # the benchmark's space must be the search's
    with pytest.raises(QueryError, match="benchmark space 'tss' is not 'toy'"):
        run_search("gdas", "digits", get_config("digits", **TINY), 1, BENCH, data=tiny_data,
                   space="toy")
    tss_adapter = spaces.get_space_adapter("tss")
    g = torch.Generator().manual_seed(0)
    sample = tss_adapter.sample(g)
    arch = tss_adapter.to_arch(sample)
    assert list(tss.parse(arch)) == [tss.OPS[k] for k in sample]
    assert tss_adapter.summary(arch) == {"num_skip": sample.count(1), "num_none": sample.count(0)}


def test_cli_writes_parquet_rows(tmp_path):
    pd = pytest.importorskip("pandas")
    out = tmp_path / "ws.parquet"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "natsbench.cli", "search-ws", "gdas", "--dataset", "digits",
         "--config", "digits", "--epochs", "1", "--seeds", "1,2", "--out", str(out),
         "--no-progress"], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr
    frame = pd.read_parquet(out)
    assert list(frame.columns[:len(ROW_COLUMNS)]) == list(ROW_COLUMNS)
    assert sorted(frame["seed"]) == [1, 2] and set(frame["epoch"]) == {1}
    assert frame["reported"].between(0, 100).all()
    bad = subprocess.run(
        [sys.executable, "-m", "natsbench.cli", "search-ws", "gdas", "--seeds", "a",
         "--out", str(tmp_path / "x.parquet")], capture_output=True, text=True, env=env,
        cwd=ROOT, timeout=120)
    assert bad.returncode != 0 and "--seeds" in bad.stderr
    assert not (tmp_path / "x.parquet").exists()


@pytest.mark.slow
def test_the_grid_gives_the_same_rows_with_one_or_two_workers(tmp_path):
    from search_algorithms.weight_sharing.grid import WSJob, run_grid

    cfg = get_config("digits", epochs=1, C=4, batch_size=128, eval_batch_size=32,
                     num_candidates=3, controller_steps=1, controller_aggregate=2)
    jobs = [WSJob(a, "digits", s) for a in ("gdas", "enas") for s in (1, 2)]
    one = run_grid(jobs, cfg, BENCH, workers=1).drop(columns=list(TIME_COLS))
    two = run_grid(jobs, cfg, BENCH, workers=2).drop(columns=list(TIME_COLS))
    assert len(one) == 4
    assert one.equals(two)


@pytest.mark.ray
@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="needs the ray extra")
def test_ray_executor_gives_the_local_rows(tmp_path):
    """The Ray grid runs in a fresh interpreter: Ray caches its auth settings per process."""
    from search_algorithms.weight_sharing.grid import WSJob, run_grid

    cfg = dict(epochs=1, C=4, batch_size=128, eval_batch_size=32, num_candidates=3)
    jobs = [WSJob("gdas", "digits", s) for s in (1, 2)]
    local = run_grid(jobs, get_config("digits", **cfg), BENCH, workers=1)
    out = tmp_path / "ray.parquet"
    code = (
        "from search_algorithms.weight_sharing import get_config\n"
        "from search_algorithms.weight_sharing.grid import WSJob, run_grid\n"
        f"jobs = [WSJob('gdas', 'digits', s) for s in (1, 2)]\n"
        f"frame = run_grid(jobs, get_config('digits', **{cfg!r}), {str(BENCH)!r}, workers=2, "
        f"executor='ray')\n"
        f"frame.to_parquet({str(out)!r})\n")
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
           "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32),
           "RAY_USAGE_STATS_ENABLED": "0"}
    for name in ("RAY_ADDRESS", "RAY_AUTH_TOKEN_PATH"):
        env.pop(name, None)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    import pandas as pd

    remote = pd.read_parquet(out)
    assert local.drop(columns=list(TIME_COLS)).equals(remote.drop(columns=list(TIME_COLS)))
    with pytest.raises(QueryError, match="local, ray"):
        run_grid(jobs, get_config("digits", **cfg), BENCH, executor="dask")


def test_nats_config_searches_generated_cifar10_files_and_reads_hp_200(tmp_path):
    """The CIFAR path end to end: the `nats` settings (scaled down) on CIFAR-10 files written in
    the official on-disk format, derived archs answered at hp 200 by an official-format bench."""
    import natsbench
    from natsbench.store.official import import_official
    from natsbench.testing.official_archive import make_official_archive
    from search_algorithms.weight_sharing.engine import BenchOracle
    from tests.test_datasets_formats import write_cifar10

    write_cifar10(tmp_path / "data", per_batch=16, test=20)
    archive = make_official_archive(tmp_path / "archive", space="tss", n_archs=40, seed=1,
                                    hp_epochs={"12": 2, "200": 3})
    bench = natsbench.open_bench(import_official(archive, tmp_path / "bench", progress=False,
                                                 workers=1))
    oracle = BenchOracle(bench, "cifar10")
    assert oracle.valid == ("cifar10-valid", "x-valid", "200")     # never a test set for search
    assert oracle.test == ("cifar10", "ori-test", "200")
    cfg = get_config("nats", epochs=1, C=4, N=1, batch_size=8, eval_batch_size=8,
                     num_candidates=3)
    rows = run_search("gdas", "cifar10", cfg, 777, bench, data_root=tmp_path / "data")
    assert len(rows) == 1 and rows[0]["dataset"] == "cifar10" and rows[0]["config"] == "nats"
    arch = rows[0]["arch"]
    assert tss.validate(arch) == arch
    want = bench.metric("cifar10", "200", "ori-test_acc1", archs=arch)[0]
    got = rows[0]["reported"]
    assert (math.isnan(want) and math.isnan(got)) or got == pytest.approx(want)


# -- evaluation sources of the per-epoch lookup ---------------------------------------------
@pytest.fixture(scope="module")
def partial_tss_bench(tmp_path_factory):
    """A tss digits benchmark with x-valid/x-test accuracies of 400 of the 15625 archs
    (a linear signal of the ops plus noise), so most archs are untrained."""
    import natsbench
    from natsbench.spaces import get_space
    from natsbench.store.writer import GroupBuffer, write_bench

    rng = np.random.default_rng(3)
    archs = get_space("tss").all_archs()
    w = rng.uniform(0, 8, size=(6, len(tss.OPS)))
    measured = np.sort(rng.choice(len(archs), size=400, replace=False))
    group = GroupBuffer("digits", "12")
    for i in measured.tolist():
        ops = tss.parse(archs[i])
        acc = 30.0 + sum(w[d, tss.OPS.index(o)] for d, o in enumerate(ops)) + rng.normal()
        group.add_run(i, 777, 2, {"train_loss": [2.0, 1.0], "x-valid_acc1": [acc / 2, acc],
                                  "x-test_acc1": [acc / 2, acc - 1.0]},
                      {"params": 0.1, "flops": 1.0, "latency": 0.01})
    path = write_bench(tmp_path_factory.mktemp("ws-src") / "tss", space="tss", arch_strs=archs,
                       groups=[group], arch_order="canonical",
                       datasets={"digits": {"num_classes": 10,
                                            "eval_sets": ["x-valid", "x-test"]}})
    bench = natsbench.open_bench(path)
    return bench, [archs[i] for i in measured], next(
        a for i, a in enumerate(archs) if i not in set(measured.tolist()))


def test_oracle_answers_by_the_evaluation_sources(partial_tss_bench, tmp_path, monkeypatch):
    from search_algorithms.weight_sharing.engine import BenchOracle

    monkeypatch.setenv("NATSBENCH_CACHE", str(tmp_path / "cache"))   # an empty cache store
    bench, trained, missing = partial_tss_bench
    error = BenchOracle(bench, "digits")
    reported, valid = error(trained[0])
    assert error.last_source == "table"
    assert reported == pytest.approx(float(bench.metric("digits", "12", "x-test_acc1",
                                                        archs=trained[0])[0]))
    assert valid == pytest.approx(float(bench.metric("digits", "12", "x-valid_acc1",
                                                     archs=trained[0])[0]))
    reported, valid = error(missing)                      # today's behaviour: NaN, "none"
    assert math.isnan(reported) and math.isnan(valid) and error.last_source == "none"
    sur = BenchOracle(bench, "digits", on_missing="surrogate")
    reported, valid, r_src, v_src = sur.answer(missing)
    assert (r_src, v_src) == ("surrogate", "surrogate")
    assert 0 < reported < 100 and 0 < valid < 100
    assert sur(trained[0]) == error(trained[0]) and sur.last_source == "table"
    with pytest.raises(QueryError, match="error, surrogate, train"):
        BenchOracle(bench, "digits", on_missing="guess")


def test_query_and_oracle_share_one_answer(partial_tss_bench, tmp_path, monkeypatch):
    """`natsbench query --on-missing surrogate` and the oracle give one source and value."""
    import json

    from natsbench.api.evaluation import answer_arch

    monkeypatch.setenv("NATSBENCH_CACHE", str(tmp_path / "cache"))
    bench, _, missing = partial_tss_bench
    a = answer_arch(bench, missing, bench.index_of(missing), "digits", "12", ["x-test_acc1"],
                    on_missing="surrogate")
    assert a.source == "surrogate" and a.predicted == ["x-test_acc1"] and not a.measured
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NATSBENCH_CACHE": str(tmp_path / "cache")}
    out = subprocess.run([sys.executable, "-m", "natsbench.cli", "query", str(bench.path),
                          missing, "--dataset", "digits", "--hp", "12", "--json"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    answer = json.loads(out.stdout)
    assert answer["source"] == "none" and answer["values"]["x-test_acc1"] is None


def test_oracle_trains_missing_archs_on_the_search_device(monkeypatch):
    """``on_missing="train"`` hands the oracle's device to the on-demand trainer."""
    import natsbench.build.on_demand as on_demand
    from natsbench.resources import BUNDLED_SSS
    from search_algorithms.weight_sharing.engine import BenchOracle

    calls: list = []

    def fake_train(bench, arch, dataset, hp, **kw):
        calls.append((arch, dataset, str(hp), kw.get("device")))
        return None                                   # as if training produced nothing

    monkeypatch.setattr(on_demand, "train_missing", fake_train)
    oracle = BenchOracle(bundled_path(*BUNDLED_SSS), "digits", "train", space="sss",
                         device="cuda:1")
    bench = oracle.bench
    untrained = next(a for a in ("8:8:8:8:8", "8:16:8:16:8", "64:8:64:8:64", "16:8:24:8:40")
                     if not np.isfinite(bench.metric("digits", bench.hps("digits")[-1],
                                                     "x-test_acc1",
                                                     archs=[bench.reader.arch_index[a]])[0]))
    reported, _ = oracle(untrained)
    assert math.isnan(reported) and calls
    assert {c[3] for c in calls} == {"cuda:1"} and calls[0][0] == untrained

"""The results store: records, restricted unpickling, importers, compaction, Bench queries."""
from __future__ import annotations

import bz2
import json
import math
import multiprocessing as mp
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import natsbench
from natsbench.cli import main as cli_main
from natsbench.errors import ArchiveError, QueryError, StoreError
from natsbench.spaces import get_space
from natsbench.store.compact import compact, init_bench
from natsbench.store.official import import_official
from natsbench.store.records import RunRecord, iter_records, read_record, record_path, write_record
from natsbench.safe_unpickle import load_archive_file, restricted_loads
from natsbench.store.table_import import import_table

import nats_bench
from natsbench.testing.official_archive import make_official_archive  # noqa: E402


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    return make_official_archive(tmp_path_factory.mktemp("arch") / "tss", space="tss", n_archs=6,
                                 seed=11, hp_epochs={"12": 12, "200": 16})


@pytest.fixture(scope="module")
def bench_dir(archive, tmp_path_factory) -> Path:
    return import_official(archive, tmp_path_factory.mktemp("bench") / "b", progress=False)


def _record(arch: str, seed: int, epochs: int = 3, status: str = "ok", dataset: str = "cifar10", hp="12") -> RunRecord:
    rng = np.random.default_rng(seed)
    metrics = {"train_loss": rng.random(epochs).tolist(), "train_acc1": (rng.random(epochs) * 100).tolist(),
               "ori-test_acc1": [math.nan] * (epochs - 1) + [float(rng.random() * 100)]}
    return RunRecord(space="tss", arch=arch, dataset=dataset, hp=hp, seed=seed, epochs=epochs,
                     metrics=metrics if status == "ok" else {}, costs={"params": 0.5, "flops": 10.0},
                     status=status, error=None if status == "ok" else "RuntimeError: boom",
                     provenance={"test": True})


# -- records ------------------------------------------------------------------------------

def test_record_round_trip_keeps_nan_and_leaves_no_temp_files(tmp_path):
    arch = get_space("tss").all_archs()[42]
    rec = _record(arch, 777)
    path = write_record(tmp_path, rec)
    assert path == record_path(tmp_path, "tss", arch, "cifar10", 12, 777)
    back = read_record(path)
    assert back.metrics["train_loss"] == rec.metrics["train_loss"]
    assert math.isnan(back.metrics["ori-test_acc1"][0]) and back.metrics["ori-test_acc1"][-1] == rec.metrics["ori-test_acc1"][-1]
    assert back.costs["params"] == 0.5 and math.isnan(back.costs.get("latency", math.nan))
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".tmp-")]


def test_record_rejects_inconsistent_lengths():
    with pytest.raises(ValueError, match="epochs"):
        RunRecord(space="tss", arch="x", dataset="d", hp=1, seed=0, epochs=3, metrics={"train_loss": [1.0]})


def _writer(args):
    root, worker = args
    archs = get_space("tss").all_archs()
    for k in range(40):
        write_record(root, _record(archs[worker * 40 + k], seed=worker))
    return worker


def test_concurrent_writers_lose_nothing(tmp_path):
    with mp.get_context("spawn").Pool(4) as pool:
        assert sorted(pool.map(_writer, [(str(tmp_path), w) for w in range(4)])) == [0, 1, 2, 3]
    records = list(iter_records(tmp_path))
    assert len(records) == 160
    assert len({(r.arch, r.seed) for r in records}) == 160


def test_corrupt_record_names_the_file(tmp_path):
    path = write_record(tmp_path, _record(get_space("tss").all_archs()[0], 1))
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(ArchiveError, match=path.name):
        read_record(path)


# -- restricted unpickling --------------------------------------------------------------------

class _Evil:
    def __reduce__(self):
        return (os.system, ("echo hacked > /dev/null",))


def test_restricted_unpickler_refuses_code_and_admits_plain_data():
    with pytest.raises(ArchiveError, match="system"):
        restricted_loads(pickle.dumps({"x": _Evil()}))
    data = {"a": [1, 2.5, (3, "s")], "b": {1, 2}, "c": np.float64(0.25), "d": np.int64(7)}
    out = restricted_loads(pickle.dumps(data))
    assert out == {"a": [1, 2.5, (3, "s")], "b": {1, 2}, "c": 0.25, "d": 7}
    assert type(out["c"]) is float


def test_hostile_or_corrupt_archive_writes_nothing(archive, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    for f in archive.iterdir():
        (bad / f.name).write_bytes(f.read_bytes())
    victim = sorted(bad.glob("0000*.pickle.pbz2"))[1]
    victim.write_bytes(bz2.compress(pickle.dumps({"12": _Evil()})))
    out = tmp_path / "out"
    with pytest.raises(ArchiveError, match=f"{victim.name}.*system"):
        import_official(bad, out, progress=False)
    assert not out.exists() and [p.name for p in tmp_path.iterdir()] == ["bad"]
    victim.write_bytes(bz2.compress(pickle.dumps({"12": {}}))[:25])  # truncated
    with pytest.raises(ArchiveError, match=victim.name):
        import_official(bad, out, progress=False)
    assert not out.exists() and [p.name for p in tmp_path.iterdir()] == ["bad"]
    victim.write_text("not a pickle")
    with pytest.raises(ArchiveError, match=victim.name):
        load_archive_file(victim)


def test_import_keeps_every_number(archive, bench_dir):
    official = nats_bench.create(str(archive), "tss", fast_mode=True, verbose=False)
    bench = natsbench.open_bench(bench_dir)
    assert bench.manifest.arch_order == "official" and len(bench) == 15625
    assert bench.manifest.provenance["source"] == str(archive)  # the archive, not its last file
    for index in range(6):
        res = official.query_by_index(index, "cifar100", hp="200")
        for seed, run in res.items():
            got = bench.metric("cifar100", 200, "x-test_acc1", archs=[index], seed=seed, epoch="all")[0]
            want = [run.eval_acc1es[f"x-test@{e}"] for e in range(run.epochs)]
            assert got.tolist() == want
            times = bench.metric("cifar100", "200", "train_time", archs=[index], seed=seed, epoch="all")[0]
            assert times.tolist() == [run.train_times[e] for e in range(run.epochs)]
            assert bench.metric("cifar100", "200", "params", archs=[index], seed=seed)[0] == run.params
    assert bench.evaluated("cifar10", "12").sum() == 6


def test_import_single_file_equals_directory(tmp_path):
    kwargs = dict(space="sss", n_archs=3, seed=2, hp_epochs={"01": 1, "90": 4})
    d = import_official(make_official_archive(tmp_path / "d", **kwargs), tmp_path / "bd", progress=False)
    f = import_official(make_official_archive(tmp_path / "f.pickle.pbz2", single_file=True, **kwargs),
                        tmp_path / "bf", progress=False)
    a, b = natsbench.open_bench(d), natsbench.open_bench(f)
    for dataset in a.datasets:
        for hp in a.hps(dataset):
            np.testing.assert_array_equal(a.metric(dataset, hp, "train_acc1", seed="all", epoch="all"),
                                          b.metric(dataset, hp, "train_acc1", seed="all", epoch="all"))


# -- Bench ----------------------------------------------------------------------------------

def test_bench_queries_and_errors(bench_dir):
    bench = natsbench.open_bench(bench_dir)
    ev = np.flatnonzero(bench.evaluated("cifar100", "200"))
    mean = bench.metric("cifar100", "200", "x-valid_acc1", archs=ev)
    per_seed = bench.metric("cifar100", "200", "x-valid_acc1", archs=ev, seed="all")
    present = ~np.isnan(per_seed)
    np.testing.assert_allclose(mean, np.nansum(per_seed, 1) / present.sum(1))
    assert np.isnan(bench.metric("cifar100", "200", "x-valid_acc1", archs=[14000]))[0]
    arch = bench.arch_strs[int(ev[0])]
    assert bench.metric("cifar100", 200, "x-valid_acc1", archs=[arch])[0] == mean[0]
    g = bench.group("cifar100", "200")
    vals = bench.lookup("cifar100", "200", ev, np.zeros_like(ev), np.full_like(ev, 3), np.full_like(ev, g.metric_pos["train_loss"]))
    np.testing.assert_array_equal(vals, bench.metric("cifar100", "200", "train_loss", archs=ev, seed="all", epoch=3)[:, 0])
    df = bench.table("cifar100", "200", metrics=["x-valid_acc1", "x-test_acc1"])
    assert list(df.index) == ev.tolist() and {"arch", "x-valid_acc1", "params", "flops", "latency"} <= set(df.columns)
    long = bench.table("cifar100", "200", metrics=["x-test_acc1"], reduce="none")
    assert len(long) == int(present.sum())
    with pytest.raises(QueryError, match="ImageNet16-120"):
        bench.metric("imagenet", "200", "x-valid_acc1")
    with pytest.raises(QueryError, match=r"valid hps: \['12', '200'\]"):
        bench.metric("cifar100", "90", "x-valid_acc1")
    with pytest.raises(QueryError, match="x-test_acc1"):
        bench.metric("cifar100", "200", "x-test_accuracy")
    with pytest.raises(QueryError, match="epochs 0..15"):
        bench.metric("cifar100", "200", "x-test_acc1", epoch=16)
    with pytest.raises(QueryError, match="valid"):
        bench.metric("cifar100", "200", "x-test_acc1", seed=1234)
    with pytest.raises(QueryError, match="malformed"):
        bench.index_of("|nor_conv_3x3~0|+|nor_conv_3x3~0|")
    with pytest.raises(QueryError, match="0..15624"):
        bench.metric("cifar100", "200", "x-test_acc1", archs=[15625])


def test_cumulative_and_present_against_the_per_epoch_values(bench_dir):
    bench = natsbench.open_bench(bench_dir)
    archs = [0, 1, 2, 5]
    present = bench.present("cifar100", "200", archs=archs)
    assert present.shape == (4, len(bench.seeds("cifar100", "200"))) and present.dtype == bool
    assert (present.any(axis=1) == bench.evaluated("cifar100", "200")[archs]).all()
    assert bench.group("cifar100", "200").cumtime is not None  # train_time takes the stored sums
    for metric in ("train_time", "train_loss"):
        per_epoch = bench.metric("cifar100", "200", metric, archs=archs, seed="all", epoch="all")
        for epoch in (0, 5, None):
            e = per_epoch.shape[-1] - 1 if epoch is None else epoch
            want = np.array([[sum(run[: e + 1]) for run in arch] for arch in per_epoch.tolist()])
            got = bench.cumulative("cifar100", "200", metric, archs=archs, seed="all", epoch=epoch)
            np.testing.assert_allclose(got, want, rtol=1e-12)
            mean = bench.cumulative("cifar100", "200", metric, archs=archs, epoch=epoch)
            np.testing.assert_allclose(mean, np.nanmean(np.where(present, want, np.nan), axis=1), rtol=1e-12)
    with pytest.raises(QueryError, match="single epoch"):
        bench.cumulative("cifar100", "200", "train_time", epoch="all")


def test_missing_benchmark_errors(tmp_path):
    with pytest.raises(StoreError, match="does not exist"):
        natsbench.open_bench(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(StoreError, match="manifest.json"):
        natsbench.open_bench(tmp_path / "empty")


# -- records overlay and compaction ---------------------------------------------------------------

def test_uncompacted_records_are_visible_and_compact_merges_them(tmp_path):
    space = get_space("tss")
    archs = space.all_archs()
    bench_dir = init_bench(tmp_path / "b", space="tss", arch_strs=archs, arch_order="canonical",
                           datasets={"cifar10": {"num_classes": 10, "eval_sets": ["ori-test"]}},
                           provenance={"data": "test"})
    recs = [_record(archs[i], seed) for i in (3, 10, 500) for seed in (1, 2)]
    for rec in recs:
        write_record(bench_dir, rec)
    write_record(bench_dir, _record(archs[7], 1, status="failed"))
    before = natsbench.open_bench(bench_dir)
    assert before.reader.num_pending_records == 6
    got = before.metric("cifar10", "12", "ori-test_acc1", archs=[3, 10, 500], seed="all")
    want = np.array([[r.metrics["ori-test_acc1"][-1] for r in recs[k:k + 2]] for k in (0, 2, 4)])
    np.testing.assert_allclose(got, want, rtol=1e-6)  # stored as float32 (the default dtype)
    want = got
    counts = compact(bench_dir)
    assert counts == {"merged": 6, "failed_kept": 1}
    after = natsbench.open_bench(bench_dir)
    assert after.reader.num_pending_records == 0
    np.testing.assert_array_equal(after.metric("cifar10", "12", "ori-test_acc1", archs=[3, 10, 500], seed="all"), want)
    assert [r.status for r in iter_records(bench_dir)] == ["failed"]
    assert after.group("cifar10", "12").rows.tolist() == [3, 10, 500]
    # a second round of records lands on top of compacted data
    write_record(bench_dir, _record(archs[3], 3))
    again = natsbench.open_bench(bench_dir)
    assert again.seeds("cifar10", "12") == [1, 2, 3]
    np.testing.assert_array_equal(again.metric("cifar10", "12", "ori-test_acc1", archs=[3, 10, 500], seed="all")[:, :2], want)


# -- table import -------------------------------------------------------------------------------------

def test_import_table_and_its_errors(tmp_path):
    archs = get_space("tss").all_archs()
    df = pd.DataFrame({"arch": archs[:5], "x-valid_acc1": np.arange(5.0), "ori-test_acc1": np.arange(5.0) + 10,
                       "params": [0.1] * 5})
    csv = tmp_path / "t.csv"
    df.to_csv(csv, index=False)
    out = import_table(csv, tmp_path / "b", space="tss", dataset="cifar100", hp=200)
    bench = natsbench.open_bench(out)
    assert bench.metric("cifar100", "200", "ori-test_acc1", archs=[3])[0] == 13.0
    assert bench.metric("cifar100", "200", "params", archs=[3])[0] == 0.1
    bad = df.copy()
    bad.loc[2, "arch"] = "|nor_conv_9x9~0|+|none~0|none~1|+|none~0|none~1|none~2|"
    bad.loc[4, "arch"] = archs[0]
    bad.to_parquet(tmp_path / "bad.parquet")
    with pytest.raises(ArchiveError, match="row 2"):
        import_table(tmp_path / "bad.parquet", tmp_path / "c", space="tss", dataset="cifar100", hp=200)
    bad.loc[2, "arch"] = archs[2]
    bad.to_parquet(tmp_path / "dup.parquet")
    with pytest.raises(ArchiveError, match="rows 0 and 4"):
        import_table(tmp_path / "dup.parquet", tmp_path / "c", space="tss", dataset="cifar100", hp=200)
    assert not (tmp_path / "c").exists()


# -- CLI ----------------------------------------------------------------------------------------------

def test_cli_info_query_and_import(archive, tmp_path, capsys):
    out = tmp_path / "cli-bench"
    assert cli_main(["import-official", str(archive), "--out", str(out), "--no-progress"]) == 0
    assert cli_main(["info", str(out), "--json"]) == 0
    info = json.loads(capsys.readouterr().out.split("\n", 1)[1])
    assert info["space"] == "tss" and info["archs"] == 15625
    assert {(g["dataset"], g["hp"]) for g in info["groups"]} >= {("cifar10", "12"), ("cifar100", "200")}
    assert cli_main(["query", str(out), "2", "--dataset", "cifar100", "--hp", "200", "--json"]) == 0
    q = json.loads(capsys.readouterr().out)
    official = nats_bench.create(str(archive), "tss", fast_mode=True, verbose=False)
    assert q["values"]["x-test_acc1"] == official.get_more_info(2, "cifar100", hp="200", is_random=False)["test-accuracy"]
    assert q["seeds_run"] == sorted(official.query_by_index(2, "cifar100", hp="200"))
    with pytest.raises(SystemExit):
        cli_main(["query", str(out), "2", "--dataset", "cifar100", "--hp", "200", "--seed", "all"])
    assert "expected an integer seed or 'mean', got 'all'" in capsys.readouterr().err
    assert cli_main(["query", str(out), "|bad|", "--dataset", "cifar100", "--hp", "200"]) == 2
    assert "malformed" in capsys.readouterr().err
    assert cli_main(["import-official", str(tmp_path / "missing"), "--out", str(tmp_path / "x")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_lookup_maps_arch_indices_to_rows_in_sparse_groups(tmp_path):
    archs = get_space("tss").all_archs()
    bench_dir = init_bench(tmp_path / "b", space="tss", arch_strs=archs,
                           datasets={"cifar10": {"num_classes": 10, "eval_sets": ["ori-test"]}})
    for i in (7, 900, 15000):
        write_record(bench_dir, RunRecord(space="tss", arch=archs[i], dataset="cifar10", hp="12", seed=1,
                                          epochs=1, metrics={"ori-test_acc1": [float(i)]}))
    compact(bench_dir)
    bench = natsbench.open_bench(bench_dir)
    got = bench.lookup("cifar10", "12", np.array([900, 15000, 3, 7]), np.zeros(4, int), np.zeros(4, int),
                       np.zeros(4, int))
    np.testing.assert_array_equal(got[[0, 1, 3]], [900.0, 15000.0, 7.0])
    assert np.isnan(got[2])


def test_compact_keeps_integer_arch_columns_for_archs_seen_only_in_records(tmp_path):
    archs = get_space("tss").all_archs()[:10]
    bench_dir = init_bench(tmp_path / "b", space="tss", arch_strs=archs,
                           arch_columns={"source_index": [-1] * 10},
                           datasets={"cifar10": {"num_classes": 10, "eval_sets": ["ori-test"]}})
    outsider = get_space("tss").all_archs()[500]
    write_record(bench_dir, RunRecord(space="tss", arch=outsider, dataset="cifar10", hp="12", seed=1,
                                      epochs=1, metrics={"ori-test_acc1": [55.0]}))
    compact(bench_dir)
    bench = natsbench.open_bench(bench_dir)
    assert len(bench) == 11 and bench.metric("cifar10", "12", "ori-test_acc1", archs=[outsider])[0] == 55.0
    assert bench.reader.source_index.tolist() == [-1] * 11


def test_import_table_rejects_negative_or_missing_epochs(tmp_path):
    archs = get_space("tss").all_archs()
    df = pd.DataFrame({"arch": [archs[0], archs[0]], "epoch": [-1, 0], "x-valid_acc1": [1.0, 2.0]})
    df.to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(ArchiveError, match="'epoch'.*row 0"):
        import_table(tmp_path / "t.csv", tmp_path / "b", space="tss", dataset="d", hp=1)
    assert not (tmp_path / "b").exists()


# -- import-official: process pool, streaming, clean discard -----------------------------------

def test_import_with_a_process_pool_equals_in_process(archive, bench_dir, tmp_path):
    pooled = natsbench.open_bench(import_official(archive, tmp_path / "pooled", progress=False, workers=2))
    single = natsbench.open_bench(bench_dir)
    assert pooled.manifest.groups == single.manifest.groups
    for g in single.manifest.groups:
        for name in ("rows.npy", "present.npy", "costs.npy", "metrics.npy", "cumtime.npy"):
            a = np.load(Path(single.path) / g.relpath / name)
            b = np.load(Path(pooled.path) / g.relpath / name)
            np.testing.assert_array_equal(a, b, err_msg=f"{g.relpath}/{name}")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no spool or partial left


def test_interrupted_import_leaves_nothing_and_stale_partials_are_discarded(archive, tmp_path, monkeypatch):
    import natsbench.store.official as official

    out = tmp_path / "out"

    def interrupted(job):
        raise KeyboardInterrupt
    monkeypatch.setattr(official, "_write_group", interrupted)
    with pytest.raises(KeyboardInterrupt):
        import_official(archive, out, progress=False)
    assert list(tmp_path.iterdir()) == []
    monkeypatch.undo()
    # a partial directory of a killed import (its process is gone) is removed by the next one;
    # one of a live process (or of another writer: no owner file) is left alone
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    stale, live, other = (tmp_path / f".out.partial-{k}" for k in ("stale", "live", "other"))
    for d, owner in ((stale, dead), (live, str(os.getpid())), (other, None)):
        d.mkdir()
        if owner:
            (d / ".importer-pid").write_text(owner)
    import_official(archive, out, progress=False)
    assert (out / "manifest.json").is_file()
    assert not stale.exists() and live.exists() and other.exists()

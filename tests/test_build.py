"""natsbench build: planning, skipping, failures, isomorphic fill, kill-and-resume (Ray: test_ray.py)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import natsbench
from natsbench.build.builder import build
from natsbench.build.plan import ArchSelection, plan_jobs, select_archs
from natsbench.spaces import get_space
from natsbench.store.compact import init_bench
from natsbench.store.records import RunRecord, iter_records, write_record
from tests import fake_jobs

ROOT = Path(__file__).resolve().parents[1]

PROTOCOL = "H0:epochs=1,batch_size=256,eval_batch_size=1024"
TINY = dict(model_kwargs={"C": 4, "N": 1}, image_size=8)  # a few seconds per run on CPU


def _arch_file(path: Path, n: int) -> Path:
    archs = get_space("tss").all_archs()[1000:1000 + 97 * n:97]
    path.write_text("# archs for the test\n" + "\n".join(archs) + "\n")
    return path


def test_select_archs_unique_maps_every_cell_to_its_class_representative():
    sel = select_archs("tss", "unique")
    from natsbench.spaces import tss

    assert len(sel.train) == 6466 and len(sel.archs) == 15625
    keys = [tss.iso_key(a) for a in sel.archs]
    rep_of = {}
    for i in sel.train.tolist():
        rep_of[keys[i]] = i
    assert len(rep_of) == 6466
    for i in range(0, 15625, 7):
        src = sel.source_index[i]
        assert (src == -1 and i in set(sel.train.tolist())) or (src >= 0 and keys[src] == keys[i] and src < i)


def test_isomorphic_copies_answer_with_their_representative(tmp_path):
    sel = select_archs("tss", "unique")
    bench_dir = init_bench(tmp_path / "b", space="tss", arch_strs=sel.archs, arch_columns=sel.columns(),
                           datasets={"digits": {"num_classes": 10, "eval_sets": ["x-valid"]}})
    copies = np.flatnonzero(sel.source_index >= 0)[:3]
    reps = sel.source_index[copies]
    for k, rep in enumerate(reps):
        write_record(bench_dir, RunRecord(space="tss", arch=sel.archs[rep], dataset="digits", hp="12", seed=0,
                                          epochs=1, metrics={"x-valid_acc1": [10.0 + k]}))
    bench = natsbench.open_bench(bench_dir)
    np.testing.assert_array_equal(bench.metric("digits", "12", "x-valid_acc1", archs=copies),
                                  bench.metric("digits", "12", "x-valid_acc1", archs=reps))
    assert bench.evaluated("digits", "12").sum() == len(set(reps.tolist())) + sum(
        int((sel.source_index == r).sum()) for r in set(reps.tolist()))


def test_plan_skips_finished_and_failed_jobs(tmp_path):
    sel = ArchSelection(get_space("tss").all_archs()[:4], np.arange(4))
    jobs, skipped = plan_jobs(tmp_path, "tss", sel, ["digits"], PROTOCOL, "x", [1, 2])
    assert (len(jobs), skipped) == (8, 0)
    write_record(tmp_path, RunRecord(space="tss", arch=sel.archs[0], dataset="digits", hp="x", seed=1, epochs=0))
    write_record(tmp_path, RunRecord(space="tss", arch=sel.archs[1], dataset="digits", hp="x", seed=2, epochs=0,
                                     status="failed", error="boom"))
    jobs, skipped = plan_jobs(tmp_path, "tss", sel, ["digits"], PROTOCOL, "x", [1, 2])
    assert (len(jobs), skipped) == (6, 2)
    jobs, skipped = plan_jobs(tmp_path, "tss", sel, ["digits"], PROTOCOL, "x", [1, 2], retry_failed=True)
    assert (len(jobs), skipped) == (7, 1)


def test_plan_lists_records_without_opening_them(tmp_path, monkeypatch):
    store = tmp_path / "b"
    # planning a half-compacted build: compacted runs and pending record files are both
    # done, and only --retry-failed reads a record (its status)
    from natsbench.store import reader as reader_mod
    from natsbench.store import records as records_mod
    from natsbench.store.compact import compact

    archs = get_space("tss").all_archs()[:6]
    sel = ArchSelection(archs, np.arange(6))
    init_bench(store, space="tss", arch_strs=archs,
               datasets={"digits": {"num_classes": 10, "eval_sets": ["x-valid"]}})
    for i in range(2):
        write_record(store, RunRecord(space="tss", arch=archs[i], dataset="digits", hp="x", seed=1,
                                         epochs=1, metrics={"x-valid_acc1": [50.0]}))
    compact(store)
    write_record(store, RunRecord(space="tss", arch=archs[2], dataset="digits", hp="x", seed=1,
                                     epochs=1, metrics={"x-valid_acc1": [60.0]}))
    write_record(store, RunRecord(space="tss", arch=archs[3], dataset="digits", hp="x", seed=1,
                                     epochs=0, status="failed", error="boom"))

    def no_reading(path):
        raise AssertionError(f"planning opened {path}")

    monkeypatch.setattr(reader_mod, "read_record", no_reading)
    monkeypatch.setattr(records_mod, "read_record", no_reading)
    jobs, skipped = plan_jobs(store, "tss", sel, ["digits"], PROTOCOL, "x", [1])
    assert skipped == 4 and sorted(j.index for j in jobs) == [4, 5]
    jobs, skipped = plan_jobs(store, "tss", sel, ["digits"], PROTOCOL, "x", [1], retry_failed=True)
    assert skipped == 3 and sorted(j.index for j in jobs) == [3, 4, 5]
    # the reader of the compacted arrays alone does not see the pending record
    group = reader_mod.StoreReader(store, overlay_records=False).group("digits", "x")
    assert sorted(np.asarray(group.rows)[np.asarray(group.present)[:, 0]].tolist()) == [0, 1]


def test_build_trains_records_failures_and_compacts(tmp_path):
    archs = _arch_file(tmp_path / "archs.txt", 3)
    store = tmp_path / "bench"
    (tmp_path / "no-cifar-here").mkdir()  # exists (a missing root fails before any job) but empty
    report = build(space="tss", datasets=["digits", "cifar10"], protocol=PROTOCOL, seeds=[3], store=store,
                   archs=str(archs), workers=1, data_root=str(tmp_path / "no-cifar-here"), progress=False,
                   **TINY)
    assert (report.ok, report.failed) == (3, 3)
    assert all("cifar" in f.error or "Dataset" in f.error for f in report.failures)
    bench = natsbench.open_bench(store)
    assert bench.evaluated("digits", bench.hps("digits")[0]).sum() == 3
    acc = bench.metric("digits", bench.hps("digits")[0], "x-valid_acc1")
    assert np.all((acc >= 0) & (acc <= 100))
    assert sorted(r.status for r in iter_records(store)) == ["failed"] * 3  # ok ones were compacted
    again = build(space="tss", datasets=["digits"], protocol=PROTOCOL, seeds=[3], store=store,
                  archs=str(archs), progress=False, **TINY)
    assert bench.manifest.net_config["channel"] == 4 and bench.manifest.net_config["num_cells"] == 1
    assert (again.planned, again.skipped) == (0, 3)


def test_resumed_builds_add_up_their_wall_time_in_the_manifest(tmp_path):
    archs = _arch_file(tmp_path / "archs.txt", 2)
    store = tmp_path / "bench"
    kwargs = dict(space="tss", datasets=["digits"], protocol=PROTOCOL, seeds=[3], store=store,
                  archs=str(archs), progress=False, compact_at_end=False, **TINY)
    first = build(limit=1, **kwargs)
    wall = natsbench.open_bench(store).manifest.provenance["wall_time_s"]
    assert wall == pytest.approx(first.seconds, abs=0.051) and wall > 0
    second = build(**kwargs)  # resumes: one job left; still uncompacted
    assert (second.planned, second.skipped) == (1, 1)
    assert len(list(iter_records(store))) == 2
    total = natsbench.open_bench(store).manifest.provenance["wall_time_s"]
    assert total == pytest.approx(first.seconds + second.seconds, abs=0.11)


@pytest.mark.slow
def test_kill_and_resume_loses_and_duplicates_nothing(tmp_path):
    archs = _arch_file(tmp_path / "archs.txt", 6)
    store = tmp_path / "bench"
    cmd = [sys.executable, "-m", "natsbench.cli", "build", "--space", "tss", "--dataset", "digits",
           "--protocol", PROTOCOL, "--seeds", "5", "--store", str(store), "--archs", str(archs), "--workers", "2",
           "--model", "C=4,N=1", "--image-size", "8"]
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and len(list((store / "records").rglob("*.json"))) < 2:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = {p: p.stat().st_mtime_ns for p in (store / "records").rglob("*.json")}
    assert 2 <= len(before) < 6
    assert subprocess.run(cmd, capture_output=True).returncode == 0
    for p, mtime in before.items():  # finished runs were not redone (their file may be compacted away)
        assert not p.exists() or p.stat().st_mtime_ns == mtime
    bench = natsbench.open_bench(store)
    hp = bench.hps("digits")[0]
    assert bench.evaluated("digits", hp).sum() == 6
    assert not list((store / "records").rglob("*.json"))
    assert not [p for p in store.parent.iterdir() if p.name.startswith(".")]


#: ``natsbench build`` whose jobs are tests/fake_jobs.py's (real CLI, builder, pool and records;
#: no torch import or training: the first records come at once, later jobs take 0.5 s)
_TIMED_BUILD = """
import sys
import natsbench.build.executors as executors
from tests import fake_jobs
executors.run_job = fake_jobs.timed_job
executors._init_worker = fake_jobs.no_torch_init
from natsbench.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_stops_a_background_build_gracefully(tmp_path, sig):
    """SIGINT even when the shell ignored it (``cmd &``), and SIGTERM (schedulers, ``kill``):
    the build stops, lets its running jobs write their records, keeps them (no compaction)
    and accounts its wall time; no worker writes after it exited."""
    archs = _arch_file(tmp_path / "archs.txt", 20)
    store = tmp_path / "bench"
    cmd = [sys.executable, "-c", _TIMED_BUILD, "build", "--space", "tss", "--dataset", "digits",
           "--protocol", PROTOCOL, "--seeds", "5", "--store", str(store), "--archs", str(archs),
           "--workers", "2"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    deadline = time.time() + 120
    while time.time() < deadline and not list((store / "records").rglob("*.json")):
        time.sleep(0.05)
    time.sleep(0.3)  # the next jobs are running now
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err.decode()
    assert b"interrupted" in err and b"Traceback" not in err
    records = sorted((store / "records").rglob("*.json"))
    assert 3 <= len(records) < 20  # the first ones and the running ones; the queued ones dropped
    time.sleep(2 * fake_jobs.LATER_JOB_SECONDS)
    assert sorted((store / "records").rglob("*.json")) == records  # no worker outlived the build
    provenance = natsbench.open_bench(store).manifest.provenance
    assert provenance["wall_time_s"] > 0


@pytest.mark.slow
def test_a_signal_stops_a_background_build_of_real_trainings(tmp_path):
    """As above with real training jobs (about 20 s: two workers import torch and train)."""
    sig = signal.SIGINT
    archs = _arch_file(tmp_path / "archs.txt", 8)
    store = tmp_path / "bench"
    cmd = [sys.executable, "-m", "natsbench.cli", "build", "--space", "tss", "--dataset", "digits",
           "--protocol", PROTOCOL, "--seeds", "5", "--store", str(store), "--archs", str(archs),
           "--workers", "2", "--model", "C=4,N=1", "--image-size", "8"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    deadline = time.time() + 300
    while time.time() < deadline and not list((store / "records").rglob("*.json")):
        time.sleep(0.1)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err.decode()
    assert b"interrupted" in err
    records = list((store / "records").rglob("*.json"))
    assert 1 <= len(records) < 8  # stopped early, finished runs kept (not compacted)
    provenance = natsbench.open_bench(store).manifest.provenance
    assert provenance["wall_time_s"] > 0


def test_stratified_sss_sample_is_balanced_and_distinct():
    sel = select_archs("sss", "stratified:2048", seed=1)
    assert len(sel.train) == len(set(sel.train.tolist())) == 2048
    codes = np.array([get_space("sss").encode(sel.archs[i]) for i in sel.train])
    for dim in range(codes.shape[1]):
        counts = np.bincount(codes[:, dim], minlength=8)
        assert counts.min() >= 230 and counts.max() <= 282, counts  # 256 each, up to duplicate redraws


def test_a_failing_rerun_never_overwrites_a_finished_run(tmp_path):
    from natsbench.build.executors import RunSettings, run_job
    from natsbench.build.plan import Job
    from natsbench.store.records import read_record, record_path

    arch = get_space("tss").all_archs()[5]
    write_record(tmp_path, RunRecord(space="tss", arch=arch, dataset="cifar10", hp="12", seed=1, epochs=1,
                                     metrics={"ori-test_acc1": [50.0]}))
    job = Job("tss", arch, 5, "cifar10", "H0", "12", 1)
    result = run_job(job, RunSettings(store=str(tmp_path), data_root=str(tmp_path / "missing")), cache={})
    assert result.status == "failed"
    rec = read_record(record_path(tmp_path, "tss", arch, "cifar10", "12", 1))
    assert rec.status == "ok" and rec.metrics["ori-test_acc1"] == [50.0]

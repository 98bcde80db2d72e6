"""The Ray executor: a Ray instance of the test's own, and attaching to a running cluster.

Both must give the records the local executor gives (same values, bit for bit).
"""
from __future__ import annotations

import importlib.util
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

import natsbench
from natsbench.build.builder import BuildError, build
from natsbench.build.executors import RunSettings, run_ray
from natsbench.build.plan import Job
from natsbench.spaces import get_space
from natsbench.store.records import iter_records
from natsbench.train.protocol import get_protocol

pytestmark = [pytest.mark.ray, pytest.mark.skipif(importlib.util.find_spec("ray") is None,
                                                  reason="needs the ray extra (pip install '.[ray]')")]
# one token for every Ray process of this module: Ray caches its auth settings per process,
# so ray is imported only after they are in the environment (not at collection)
_TOKEN = secrets.token_hex(32)

PROTOCOL = "H0:epochs=1,batch_size=256,eval_batch_size=1024"
TINY = dict(model_kwargs={"C": 4, "N": 1}, image_size=8)
ROOT = Path(__file__).resolve().parents[1]  # workers must import this checkout's natsbench


@pytest.fixture(autouse=True)
def ray(monkeypatch):
    """A token of the test's own for every Ray process (nothing read from or written to
    ~/.ray; an explicit address needs the mode set, see Ray's token authentication), the
    workers import this checkout's natsbench; returns the ``ray`` module."""
    monkeypatch.setenv("RAY_AUTH_MODE", "token")
    monkeypatch.setenv("RAY_AUTH_TOKEN", _TOKEN)
    monkeypatch.delenv("RAY_AUTH_TOKEN_PATH", raising=False)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    # workers import natsbench from this checkout
    monkeypatch.setenv("PYTHONPATH", f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    import ray

    return ray


def _archs(tmp_path: Path, n: int = 2) -> Path:
    path = tmp_path / "archs.txt"
    path.write_text("\n".join(get_space("tss").all_archs()[3000:3000 + 89 * n:89]) + "\n")
    return path


@pytest.fixture(scope="module")
def local_bench(tmp_path_factory) -> Path:
    """The reference: the same jobs with the local executor."""
    tmp = tmp_path_factory.mktemp("local")
    store = tmp / "bench"
    report = build(space="tss", datasets=["digits"], protocol=PROTOCOL, seeds=[9], store=store,
                   archs=str(_archs(tmp)), progress=False, compact_at_end=False, **TINY)
    assert report.ok == 2
    return store


def _same_records(a: Path, b: Path) -> None:
    ra = {(r.arch, r.seed): r for r in iter_records(a)}
    rb = {(r.arch, r.seed): r for r in iter_records(b)}
    assert sorted(ra) == sorted(rb) and len(ra) == 2
    for key, rec in ra.items():
        other = rb[key]
        assert other.status == rec.status == "ok"
        assert other.metrics.keys() == rec.metrics.keys()
        for name, values in rec.metrics.items():
            if name.endswith("_time"):
                continue  # wall-clock seconds differ between any two runs
            np.testing.assert_array_equal(other.metrics[name], values, err_msg=name)
        assert (other.costs["params"], other.costs["flops"]) == (rec.costs["params"], rec.costs["flops"])


def test_ray_instance_started_by_the_caller_matches_local_and_stops_gracefully(
        tmp_path, local_bench, ray):
    # one GPU as Ray sees it (declared): jobs ask for half of it; without CUDA they train on
    # the CPU, so the numbers still equal the local executor's
    ray.init(num_cpus=1, num_gpus=1, include_dashboard=False, log_to_driver=False)
    try:
        with pytest.raises(BuildError, match="GPUs would idle"):
            build(space="tss", datasets=["digits"], protocol=PROTOCOL, seeds=[9],
                  store=tmp_path / "gpu", archs=str(_archs(tmp_path)), executor="ray",
                  gpus_per_job=0.5, device="cpu", progress=False, **TINY)
        store = tmp_path / "bench"
        report = build(space="tss", datasets=["digits"], protocol=PROTOCOL, seeds=[9], store=store,
                       archs=str(_archs(tmp_path)), executor="ray", gpus_per_job=0.5,
                       progress=False, compact_at_end=False, **TINY)
        assert (report.ok, report.failed) == (2, 0)
        assert ray.is_initialized()  # the caller's instance is the caller's to shut down
        _same_records(local_bench, store)

        # a stop (here: the caller stops consuming) cancels the tasks that have not started
        # and lets the running one finish its record, as the local pool does
        protocol = "H0:epochs=4,batch_size=256,eval_batch_size=1024"
        archs = get_space("tss").all_archs()[5000:5000 + 4 * 71:71]
        jobs = [Job("tss", a, i, "digits", protocol, get_protocol(protocol).hp, 9)
                for i, a in enumerate(archs)]
        settings = RunSettings(store=str(tmp_path / "stopped"), threads_per_job=1, image_size=8,
                               model_kwargs=(("C", 4), ("N", 1)))
        # the same resources as above: the warm worker runs them, the next starting at once
        results = run_ray(jobs, settings, workers=1, gpus_per_job=0.5)  # one runs, one waits
        first = next(results)
        # the generator is suspended at its yield, so nothing else is submitted meanwhile:
        # give Ray ample time (a loaded machine) to start the second job on the warm worker
        time.sleep(3.0)
        results.close()
        done = {r.arch: r for r in iter_records(tmp_path / "stopped")}
        assert first.job.arch in done and jobs[1].arch in done  # finished before close returned
        assert all(r.status == "ok" and r.epochs == 4 for r in done.values())
        assert jobs[3].arch not in done and len(done) <= 3  # never submitted (2 in flight)
    finally:
        ray.shutdown()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def ray_head(ray):
    """``ray start --head --block`` in a subprocess of its own; stopped by its pid."""
    tmp = tempfile.mkdtemp(prefix="nbray-", dir="/tmp")  # short: Ray's socket paths are long
    port = _free_port()
    env = dict(os.environ)
    ray_cli = shutil.which("ray") or str(Path(sys.executable).parent / "ray")
    proc = subprocess.Popen(
        [ray_cli, "start", "--head", "--block", f"--port={port}", f"--temp-dir={tmp}",
         "--num-cpus=1", "--num-gpus=0", "--include-dashboard=false", "--disable-usage-stats"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    address = f"127.0.0.1:{port}"
    try:
        deadline = time.time() + 120
        while True:
            assert proc.poll() is None, proc.stderr.read().decode()[-3000:]
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.time() < deadline, "ray head did not come up"
                time.sleep(0.2)
        yield address, Path(tmp)
    finally:
        proc.terminate()  # --block: the command stops every process it started
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


def test_attach_to_a_running_cluster_with_ray_address(tmp_path, local_bench, ray, ray_head, monkeypatch):
    """``--ray-address`` attaches (one job), ``$RAY_ADDRESS`` too (the rest, resumed)."""
    from natsbench.cli import main

    address, head_dir = ray_head
    settings = RunSettings(store=str(tmp_path / "gpu"))
    with pytest.raises(BuildError, match="no GPU"):  # this cluster has none
        next(run_ray([], settings, address=address, gpus_per_job=1))
    assert not ray.is_initialized()
    store = tmp_path / "bench"
    cmd = ["build", "--space", "tss", "--dataset", "digits", "--protocol", PROTOCOL, "--seeds", "9",
           "--store", str(store), "--archs", str(_archs(tmp_path)), "--model", "C=4,N=1",
           "--image-size", "8", "--executor", "ray", "--no-compact"]
    assert main(cmd + ["--ray-address", address, "--limit", "1"]) == 0
    assert not ray.is_initialized()  # attached for the build, detached after it
    assert len(list(iter_records(store))) == 1
    monkeypatch.setenv("RAY_ADDRESS", address)
    assert main(cmd) == 0
    _same_records(local_bench, store)
    # the jobs ran on that cluster: its session logged the workers of both builds' Ray jobs
    drivers = {p.name.split("-")[2] for p in head_dir.glob("session_*/logs/worker-*.out")}
    assert len(drivers) >= 2, sorted(p.name for p in head_dir.glob("session_*/logs/*"))

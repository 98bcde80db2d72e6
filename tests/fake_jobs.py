"""Stand-ins for a build's per-job work, importable by the build's spawned worker processes.

A signal test needs a real build (CLI, builder, process pool, signal handlers) whose jobs
take a known time and write real records, not seconds of torch import and training.
"""
from __future__ import annotations

import time

from natsbench.build.executors import JobResult, RunSettings
from natsbench.build.plan import Job
from natsbench.store.records import RunRecord, iter_record_paths, write_record

#: seconds a job takes once the first records exist (the jobs a signal catches running)
LATER_JOB_SECONDS = 0.5


def timed_job(job: Job, settings: RunSettings, cache: dict | None = None) -> JobResult:
    """Write an ``ok`` record for ``job``: at once while the store has none, else after
    :data:`LATER_JOB_SECONDS`."""
    start = time.perf_counter()
    if any(True for _ in iter_record_paths(settings.store)):
        time.sleep(LATER_JOB_SECONDS)
    write_record(settings.store, RunRecord(
        space=job.space, arch=job.arch, dataset=job.dataset, hp=job.hp, seed=job.seed, epochs=1,
        metrics={"train_loss": [1.0], "train_acc1": [50.0], "train_time": [0.1]},
        costs={"params": 0.1, "flops": 1.0, "latency": 1e-3}, provenance={"protocol": job.protocol}))
    return JobResult(job, "ok", time.perf_counter() - start)


def no_torch_init(threads: int | None) -> None:
    """Worker initializer without the torch import of the real one."""

"""Executors that run build jobs: a local process pool, or Ray.

Both run the same function, :func:`run_job`, on the same :class:`~natsbench.build.plan.Job`
objects, and every job writes its own record into the store, so results are identical for
the same seeds whichever executor ran them, and a killed build loses only jobs in flight.
"""
from __future__ import annotations

import logging
import os
import traceback
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

from natsbench.build.plan import Job

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobResult:
    """What became of one job: ``ok`` or ``failed`` (with the error text) and its wall time."""

    job: Job
    status: str
    seconds: float
    error: str | None = None


@dataclass(frozen=True)
class RunSettings:
    """Per-job settings shared by every job of a build."""

    store: str
    device: str | None = None
    data_root: str | None = None
    threads_per_job: int | None = None
    image_size: int | None = None
    model_kwargs: tuple[tuple[str, Any], ...] = ()


def _dataset(name: str, settings: RunSettings, cache: dict) -> Any:
    from natsbench.datasets import load_dataset

    key = (name, settings.data_root, settings.image_size)
    if key not in cache:
        kwargs = {"root": settings.data_root}
        if name == "digits" and settings.image_size:
            kwargs["image_size"] = settings.image_size
        cache[key] = load_dataset(name, **kwargs)
    return cache[key]


_WORKER_DATA: dict = {}  # per-process dataset cache (each worker loads a dataset once)


def run_job(job: Job, settings: RunSettings, cache: dict | None = None) -> JobResult:
    """Train one job and write its record; any exception becomes a ``failed`` record."""
    import time

    from natsbench.store.records import RunRecord, record_path, write_record
    from natsbench.train.trainer import train_arch

    cache = _WORKER_DATA if cache is None else cache
    start = time.perf_counter()
    try:
        data = _dataset(job.dataset, settings, cache)
        train_arch(job.space, job.arch, data, job.protocol, job.seed, device=settings.device,
                   store=settings.store, progress=False, num_threads=settings.threads_per_job,
                   model_kwargs=dict(settings.model_kwargs))
        return JobResult(job, "ok", time.perf_counter() - start)
    except Exception as exc:  # recorded, and the build goes on
        error = "".join(traceback.format_exception(exc))
        path = record_path(settings.store, job.space, job.arch, job.dataset, job.hp, job.seed)
        if not _finished(path):  # never overwrite a finished run
            write_record(settings.store, RunRecord(
                space=job.space, arch=job.arch, dataset=job.dataset, hp=job.hp, seed=job.seed,
                epochs=0, status="failed", error=error,
                provenance={"protocol": job.protocol, "stage": "before training"}))
        log.warning("job failed: %s on %s seed %d: %s", job.arch, job.dataset, job.seed, exc)
        return JobResult(job, "failed", time.perf_counter() - start, error)


def _finished(path: Any) -> bool:
    from natsbench.errors import StoreError
    from natsbench.store.records import read_status

    try:
        return read_status(path) == "ok"
    except StoreError:  # missing or torn: not a finished run
        return False


def _init_worker(threads: int | None) -> None:
    if threads:
        os.environ.setdefault("OMP_NUM_THREADS", str(threads))
        try:
            import torch

            torch.set_num_threads(threads)
        except ImportError:  # pragma: no cover
            pass


def run_local(jobs: Iterable[Job], settings: RunSettings, workers: int) -> Iterator[JobResult]:
    """Run jobs in ``workers`` processes (in this process when ``workers == 1``)."""
    jobs = list(jobs)
    if workers <= 1:
        _init_worker(settings.threads_per_job)
        cache: dict = {}
        for job in jobs:
            yield run_job(job, settings, cache)
        return
    import multiprocessing as mp

    ctx = mp.get_context("spawn")  # no torch state inherited through fork
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker,
                             initargs=(settings.threads_per_job,)) as pool:
        pending: set[Future] = set()
        queue = iter(jobs)
        for job in queue:  # keep at most 2 jobs per worker queued: cheap to interrupt
            pending.add(pool.submit(run_job, job, settings))
            if len(pending) >= 2 * workers:
                break
        try:
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    yield fut.result()
                    nxt = next(queue, None)
                    if nxt is not None:
                        pending.add(pool.submit(run_job, nxt, settings))
        except BaseException:  # interrupted (or closed early): drop the queued jobs and wait
            # for the running ones to write their records (shutdown(wait=False) would forget
            # the workers, which then outlive the build and write after it returns)
            pool.shutdown(wait=True, cancel_futures=True)
            raise


def run_ray(jobs: Iterable[Job], settings: RunSettings, workers: int | None = None,
            address: str | None = None) -> Iterator[JobResult]:
    """Run jobs as Ray tasks (GPU-aware: one GPU per task when CUDA is present).

    Requires the ``ray`` extra. Connects to ``address`` (or starts a local instance).
    """
    try:
        import ray
    except ImportError as exc:  # pragma: no cover - depends on the extra
        raise RuntimeError("--executor ray needs Ray: pip install 'natsbench[ray]'") from exc
    started = False
    if not ray.is_initialized():
        kwargs: dict[str, Any] = {"address": address} if address else {"num_cpus": workers}
        ray.init(include_dashboard=False, log_to_driver=False, **kwargs)
        started = True
    try:
        gpus = 1 if settings.device not in ("cpu",) and ray.cluster_resources().get("GPU", 0) else 0
        remote = ray.remote(num_cpus=1, num_gpus=gpus)(_ray_job)
        refs = {remote.remote(job, settings): job for job in jobs}
        while refs:
            done, _ = ray.wait(list(refs), num_returns=1)
            for ref in done:
                refs.pop(ref)
                yield ray.get(ref)
    finally:
        if started:
            ray.shutdown()


def _ray_job(job: Job, settings: RunSettings) -> JobResult:
    _init_worker(settings.threads_per_job or 1)
    return run_job(job, settings)


EXECUTORS: dict[str, Callable[..., Iterator[JobResult]]] = {"local": run_local, "ray": run_ray}

"""Executors that run build jobs: a local process pool, or Ray.

Both run the same function, :func:`run_job`, on the same :class:`~natsbench.build.plan.Job`
objects, and every job writes its own record into the store, so results are identical for
the same seeds whichever executor ran them, and a killed build loses only jobs in flight.
"""
from __future__ import annotations

import contextlib
import logging
import os
import traceback
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

from natsbench.build.plan import Job
from natsbench.errors import NatsBenchError

log = logging.getLogger(__name__)


class BuildError(NatsBenchError, ValueError):
    """Build settings that do not fit (Ray options with the local executor, GPUs the
    cluster lacks, a worker count below 1)."""


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
            address: str | None = None, gpus_per_job: float | None = None) -> Iterator[JobResult]:
    """Run jobs as Ray tasks, each asking for ``threads_per_job`` CPUs and ``gpus_per_job`` GPUs.

    Requires the ``ray`` extra. Uses the Ray instance this process already initialised, else
    connects to ``address`` (or ``$RAY_ADDRESS``; ``"auto"``: the cluster this machine
    belongs to), else starts a local instance with ``workers * threads_per_job`` CPUs (all
    CPUs when ``workers`` is None).

    At most ``2 * workers`` tasks are submitted at a time (``workers`` None: as many as the
    cluster's CPUs, and GPUs, fit at once), as the local pool does, so a stop drops few.
    ``gpus_per_job`` may be fractional (0.5: two jobs share a GPU); None means 1 where the
    cluster has GPUs and ``settings.device`` is not ``cpu``, else 0. On an interrupt (or
    when the caller stops consuming) tasks that have not started are cancelled and running
    ones finish their records first, as with the local pool.
    """
    threads = int(settings.threads_per_job or 1)
    if workers is not None and workers < 1:
        raise BuildError(f"workers must be >= 1 (or None: what the cluster fits), got {workers}")
    if gpus_per_job is not None and not gpus_per_job >= 0:
        raise BuildError(f"gpus_per_job must be >= 0 (fractions share a GPU), got {gpus_per_job}")
    with ray_session(address, num_cpus=workers * threads if workers else None) as ray:
        resources = ray.cluster_resources()
        cluster_gpus = float(resources.get("GPU", 0))
        if gpus_per_job is None:
            gpus_per_job = 1.0 if cluster_gpus and settings.device != "cpu" else 0.0
        if gpus_per_job > 0 and not cluster_gpus:
            raise BuildError(f"gpus_per_job={gpus_per_job} but the Ray cluster has no GPU "
                             f"(resources: {dict(resources)}); use 0 or a cluster with GPUs")
        if gpus_per_job > 0 and settings.device == "cpu":
            raise BuildError(f"gpus_per_job={gpus_per_job} with device 'cpu': the GPUs would idle")
        if workers is None:
            slots = int(float(resources.get("CPU", 1)) // threads)
            if gpus_per_job > 0:
                slots = min(slots, int(cluster_gpus // gpus_per_job))
            workers = max(1, slots)
        log.info("Ray: %s CPUs, %s GPUs; %d CPU + %g GPU per job, up to %d jobs in flight",
                 resources.get("CPU"), cluster_gpus, threads, gpus_per_job, 2 * workers)
        # Ray retries a task whose worker or node died (records are idempotent), not one
        # that raised: run_job turns those into failed records itself. max_calls=0: a worker
        # runs job after job, GPU ones too (Ray's default for GPU tasks is a new process per
        # task), so each worker imports torch and loads a dataset once
        remote = ray.remote(num_cpus=threads, num_gpus=gpus_per_job, max_calls=0)(_ray_job)
        for job, result in ray_results(lambda job: remote.remote(job, settings), iter(jobs),
                                       2 * workers):
            if isinstance(result, BaseException):  # its worker/node died, retries spent
                log.warning("job lost on the cluster: %s on %s seed %d: %s", job.arch,
                            job.dataset, job.seed, result)
                result = JobResult(job, "failed", 0.0, f"Ray: {result}")
            yield result


@contextlib.contextmanager
def ray_session(address: str | None = None, *, num_cpus: int | None = None) -> Iterator[Any]:
    """The ``ray`` module with a Ray instance: the one this process initialised, else the cluster
    at ``address`` (or ``$RAY_ADDRESS``), else a local instance with ``num_cpus`` CPUs (None:
    all), shut down on exit if started here. The caller's SIGINT/SIGTERM handlers survive
    ``ray.init`` (see :func:`_stop_handlers`)."""
    try:
        import ray
    except ImportError as exc:  # pragma: no cover - depends on the extra
        raise BuildError("--executor ray needs Ray: pip install 'natsbench[ray]'") from exc
    address = address or os.environ.get("RAY_ADDRESS") or None
    started = False
    if ray.is_initialized() and address:
        log.warning("Ray is already initialised in this process: using that instance, not %s", address)
    if not ray.is_initialized():
        handlers = _stop_handlers()
        if address:  # an existing cluster: its resources are its own (num_cpus is refused)
            ray.init(address=address, log_to_driver=False)
        else:
            ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False)
        started = True
        _stop_handlers(handlers)
    try:
        yield ray
    finally:
        if started:
            ray.shutdown()


def _stop_handlers(restore: dict | None = None) -> dict:
    """The Python handlers of SIGINT/SIGTERM, or (``restore``) install them again.

    ``ray.init`` replaces SIGTERM's handler twice: a Python one that exits at once and a
    native crash handler that aborts (exit 134); either way the build's graceful stop
    (``natsbench.build.builder``: records accounted, exit 130) is lost. Only the main thread
    handles signals; elsewhere this does nothing.
    """
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return {}
    if restore is None:
        return {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig, handler in restore.items():
        if handler is not None:
            signal.signal(sig, handler)
    return restore


def ray_results(submit: Callable[[Any], Any], items: Iterator[Any],
                in_flight: int) -> Iterator[tuple[Any, Any]]:
    """Keep ``in_flight`` Ray tasks submitted (``submit(item)`` -> object ref); yield
    ``(item, result)`` as they finish, ``result`` being the ``RayError`` of a task whose worker
    or node died (retries spent). On an interrupt (or when the caller stops consuming), tasks
    that have not started are cancelled and running ones are waited for."""
    import ray

    pending: dict[Any, Any] = {}
    for item in items:
        pending[submit(item)] = item
        if len(pending) >= in_flight:
            break
    try:
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                item = pending.pop(ref)
                try:
                    result = ray.get(ref)
                except ray.exceptions.RayError as exc:
                    result = exc
                yield item, result
                nxt = next(items, None)
                if nxt is not None:
                    pending[submit(nxt)] = nxt
    except BaseException:  # interrupted (or closed early): cancel what has not started and
        # wait for the running tasks, which finish what they write (see _ray_job)
        for ref in pending:
            ray.cancel(ref, force=False)
        for ref in pending:
            try:
                ray.get(ref)
            except Exception:  # cancelled before it started (TaskCancelledError) or failed
                pass
        raise


def _ray_job(job: Job, settings: RunSettings) -> JobResult:
    """A Ray task: train ``job`` in a thread that a cancellation does not interrupt.

    ``ray.cancel`` raises KeyboardInterrupt in a running task; like the local pool on a stop,
    the job then finishes and writes its record instead of being lost half-way.
    """
    import threading

    _init_worker(settings.threads_per_job or 1)
    out: list[JobResult] = []
    worker = threading.Thread(target=lambda: out.append(run_job(job, settings)), daemon=True)
    worker.start()
    while worker.is_alive():
        try:
            worker.join()
        except KeyboardInterrupt:
            log.info("cancel requested: finishing %s seed %d first", job.arch, job.seed)
    return out[0]


EXECUTORS: dict[str, Callable[..., Iterator[JobResult]]] = {"local": run_local, "ray": run_ray}

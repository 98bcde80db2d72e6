"""``natsbench build``: plan, skip what is done, train the rest, compact.

A build is resumable at any point: every finished job is an atomic record file, planning
skips jobs whose record exists, and compaction happens only at the end. Kill it (even with
SIGKILL) and start the same command again: it runs only the missing jobs.
"""
from __future__ import annotations

import contextlib
import functools
import datetime as dt
import logging
import os
import platform
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from natsbench.build.executors import EXECUTORS, BuildError, JobResult, RunSettings
from natsbench.errors import (ConfigError, NatsBenchError, check_output, check_range,
                              require_dir)
from natsbench.build.plan import ArchSelection, plan_jobs, select_archs

log = logging.getLogger(__name__)


@dataclass
class BuildReport:
    """What a build did: counts, wall time, and the failed jobs."""

    planned: int = 0
    skipped: int = 0
    ok: int = 0
    failed: int = 0
    seconds: float = 0.0
    failures: list[JobResult] = field(default_factory=list)

    @property
    def archs_per_hour(self) -> float:
        return 3600.0 * self.ok / self.seconds if self.seconds > 0 else float("nan")


def dataset_entry(dataset: str) -> dict[str, Any]:
    """The manifest's entry for a dataset: ``num_classes`` and ``eval_sets`` from its spec."""
    from natsbench.datasets import get_spec

    spec = get_spec(dataset)
    return {"num_classes": spec.num_classes, "eval_sets": list(spec.eval_sets)}


def _check_settings(space: str, selection: ArchSelection, datasets: Sequence[str],
                    seeds: Sequence[int], store: str | os.PathLike, device: str | None,
                    data_root: str | None, model_kwargs: dict[str, Any], *, local: bool) -> None:
    """Everything a build can check before it writes or trains: a NatsBenchError naming the
    bad setting (the store is not created when one is wrong). With ``local`` False (Ray) the
    data root and the device belong to the cluster's machines: only the device name is checked."""
    from natsbench.train.trainer import _build_model, resolve_device

    check_output(store, "store", directory=True)
    if not datasets:
        raise ConfigError("give at least one --dataset")
    if not list(seeds):
        raise ConfigError("give at least one seed")
    for seed in seeds:
        check_range("seed", seed, 0, 2**63 - 1)
    entries = {d: dataset_entry(d) for d in datasets}  # unknown names raise, listing the valid
    if data_root is not None and local:
        require_dir(data_root, "data root")
    resolve_device(device, check_available=local)
    if selection.archs:
        try:
            _build_model(space, selection.archs[0], next(iter(entries.values()))["num_classes"],
                         model_kwargs)
        except (TypeError, ValueError) as exc:
            if isinstance(exc, NatsBenchError):
                raise
            raise ConfigError(f"--model {model_kwargs}: the {space} network rejects it ({exc})") from None


def build(*, space: str, datasets: Sequence[str], protocol: str, seeds: Sequence[int],
          store: str | os.PathLike, archs: str | ArchSelection = "all", workers: int | None = None,
          executor: str = "local", device: str | None = None, data_root: str | None = None,
          retry_failed: bool = False, compact_at_end: bool = True, progress: bool = True,
          limit: int | None = None, image_size: int | None = None,
          model_kwargs: dict[str, Any] | None = None, threads_per_job: int = 1,
          provenance: dict[str, Any] | None = None,
          space_options: dict[str, Any] | None = None, ray_address: str | None = None,
          gpus_per_job: float | None = None) -> BuildReport:
    """Build (or resume) a benchmark.

    Args:
        space: ``tss``, ``sss``, ``darts`` or ``extcell``.
        datasets: dataset names (``natsbench.datasets``).
        protocol: protocol spec (``H0``, ``12``, ``"H0:epochs=4,batch_size=64"`` ...).
        seeds: training seeds; one job per (arch, dataset, seed).
        store: benchmark directory (created if needed; resumed if it exists).
        archs: ``all``, ``unique``, ``sample:N``, a file, or an :class:`ArchSelection`.
        workers: parallel jobs (None: 1 locally; with Ray, as many as the cluster fits).
        executor: ``local`` (process pool) or ``ray``.
        device: torch device for training (default: CUDA if available).
        retry_failed: rerun jobs whose record says ``failed``.
        compact_at_end: merge records into the arrays when every job has finished.
        limit: run at most this many jobs (for time-boxed, resumable sessions).
        image_size: side of the bundled ``digits`` images.
        threads_per_job: torch threads of each job (default 1). CPU results depend on the
            thread count (reduction order), so it is fixed per job, not derived from the
            number of workers: any executor and worker count give the same numbers.
        model_kwargs: network settings for every job (tss/sss: ``C``, ``N``; cells:
            ``C``, ``layers``), recorded in the manifest's ``net_config``.
        provenance: extra provenance for the manifest.
        space_options: options of the space (``{"k": 12}``: sample/validate 12-ExtCells),
            recorded in the manifest's ``net_config["space_options"]``.
        ray_address: the Ray cluster to attach to (default ``$RAY_ADDRESS``, else a local
            instance); ``executor="ray"`` only.
        gpus_per_job: GPUs each Ray task asks for, fractions allowed (0.5: two jobs per GPU;
            default 1 where the cluster has GPUs and ``device`` is not cpu); Ray only.
    """
    from tqdm.auto import tqdm

    from natsbench._version import __version__
    from natsbench._optional import ensure_installed
    from natsbench.store.compact import init_bench
    from natsbench.train.protocol import get_protocol

    # every job trains (a job's failure is recorded, and a missing torch must not be)
    ensure_installed("torch", extra="train")
    if executor not in EXECUTORS:
        raise ConfigError(f"unknown executor {executor!r}; valid: {sorted(EXECUTORS)}")
    ray_only = {k: v for k, v in (("ray_address", ray_address), ("gpus_per_job", gpus_per_job))
                if v is not None}
    if executor != "ray" and ray_only:
        raise BuildError(f"{', '.join(f'{k}={v!r}' for k, v in ray_only.items())} needs executor "
                         f"'ray' (got {executor!r}; valid: {sorted(EXECUTORS)})")
    if workers is not None and workers < 1:
        raise BuildError(f"workers must be >= 1, got {workers}")
    prot = get_protocol(protocol)
    space_options = dict(space_options or {})
    selection = archs if isinstance(archs, ArchSelection) else select_archs(
        space, archs, space_options=space_options)
    model_kwargs = dict(model_kwargs or {})
    _check_settings(space, selection, datasets, seeds, store, device, data_root, model_kwargs,
                    local=executor != "ray")
    store = Path(store)
    net_config: dict[str, Any] = {"model_kwargs": model_kwargs}
    if space_options:
        net_config["space_options"] = space_options
    if space == "tss":
        net_config.update(channel=model_kwargs.get("C", 16), num_cells=model_kwargs.get("N", 5))
    if image_size:
        net_config["image_size"] = image_size
    base_prov = {
        "data": ", ".join(datasets), "protocol": prot.to_dict(), "seeds": list(seeds),
        "code_version": __version__, "hardware": f"{platform.machine()} {platform.processor()} "
                                                f"({os.cpu_count()} cores)",
        "python": platform.python_version(), "builder": "natsbench build",
        "archs": archs if isinstance(archs, str) else "custom selection",
    }
    base_prov.update(provenance or {})
    init_bench(store, space=space, arch_strs=selection.archs, arch_order=selection.order,
               datasets={d: dataset_entry(d) for d in datasets}, arch_columns=selection.columns(),
               net_config=net_config, provenance=base_prov)
    t0 = time.perf_counter()
    jobs, skipped = plan_jobs(store, space, selection, datasets, protocol, prot.hp, seeds,
                              retry_failed=retry_failed)
    total_jobs = len(jobs)
    if limit is not None:
        jobs = jobs[:limit]
    log.info("planned %d jobs (%d already done) in %.2f s", len(jobs), skipped, time.perf_counter() - t0)
    report = BuildReport(planned=len(jobs), skipped=skipped)
    threads = max(1, int(threads_per_job))
    settings = RunSettings(store=str(store), device=device, data_root=data_root,
                           threads_per_job=threads, image_size=image_size,
                           model_kwargs=tuple(sorted(model_kwargs.items())))
    if executor == "ray":
        run = functools.partial(EXECUTORS["ray"], address=ray_address, gpus_per_job=gpus_per_job)
    else:
        run = EXECUTORS[executor]
        workers = 1 if workers is None else workers
    start = time.perf_counter()
    bar = tqdm(total=len(jobs), disable=not progress, desc=f"build {space}", unit="run",
               smoothing=0.05)
    completed = False
    try:
        with _stop_signals():
            for result in run(jobs, settings, workers):
                if result.status == "ok":
                    report.ok += 1
                else:
                    report.failed += 1
                    report.failures.append(result)
                bar.update(1)
                bar.set_postfix(ok=report.ok, failed=report.failed)
        completed = limit is None or len(jobs) >= total_jobs
    finally:
        bar.close()
        report.seconds = time.perf_counter() - start
        try:
            # any dispatched job spent time, even if the stop came before its result did (its
            # worker still finishes and writes it); a build with nothing to run spent none
            _account_wall_time(store, report.seconds if jobs else None,
                               compact_now=compact_at_end and completed)
        except Exception:
            if completed:
                raise
            log.exception("could not account the wall time of the interrupted build in %s", store)
    return report


@contextlib.contextmanager
def _stop_signals():
    """Make SIGINT (Ctrl-C) and SIGTERM stop a build gracefully, as KeyboardInterrupt.

    The build then cancels its queued jobs, lets the running ones finish their records and
    accounts its wall time. SIGINT is re-enabled even where the shell started the build
    with it ignored (``cmd &`` in a script); SIGTERM is what batch schedulers (SLURM, ``kill``)
    send first. Only the main thread can take signals; elsewhere nothing changes. The
    previous handlers are restored afterwards.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _terminate(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")

    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _account_wall_time(store: Path, seconds: float | None, *, compact_now: bool) -> None:
    """Add this build's wall time (s) to the manifest's ``wall_time_s`` and stamp the date
    (``seconds=None``: no job to run, nothing to account).

    Runs when a build finishes or is interrupted (KeyboardInterrupt, an exception), so a
    benchmark built across several resumed sessions reports its total training wall time; a
    SIGKILLed build cannot account its own time. ``compact_now`` merges the records too.
    """
    from natsbench.store.compact import compact
    from natsbench.store.manifest import update_provenance

    if seconds is None:
        if compact_now:
            compact(store)
        return
    # added under the benchmark's lock: concurrent builds on one store each count
    date = {"date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
    add = {"wall_time_s": round(float(seconds), 1)}
    if compact_now:
        compact(store, provenance_update=date, provenance_add=add)
    else:
        update_provenance(store, date, add=add)

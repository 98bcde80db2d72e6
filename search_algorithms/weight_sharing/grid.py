"""The grid of weight-sharing searches (algorithms x seeds) as independent jobs (no torch here).

Each job is one :func:`~search_algorithms.weight_sharing.engine.run_search`; with ``workers >
1`` jobs run in a spawned process pool.  Every search uses ``threads`` torch CPU threads
(default 1) whatever the number of workers: CPU results are bit-identical only for one thread
count (reductions split differently), so with a fixed ``threads`` a search's rows depend on
its seed alone, and the grid gives the same rows for any ``workers``.

``executor="ray"`` runs the jobs as Ray tasks instead (``ray`` extra): on the Ray instance this
process initialised, else on ``$RAY_ADDRESS``, else on a local instance started with
``workers * threads`` CPUs.  Each task asks for ``threads`` CPUs and, where the cluster has GPUs
and ``device`` is not ``cpu``, one GPU (one search per GPU; Ray sets ``CUDA_VISIBLE_DEVICES``,
so ``cuda`` is the task's own GPU).  The rows are the local executor's for the same seeds.
"""
from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from natsbench.errors import ConfigError, QueryError
from search_algorithms.weight_sharing.config import SearchConfig

__all__ = ["WSJob", "run_grid", "rows_to_frame", "parse_seeds", "EXECUTORS", "load_proxy_search_data",
           "load_search_data", "proxy_digest", "search_dataset_name"]

#: accepted ``executor`` values
EXECUTORS: tuple[str, ...] = ("local", "ray")


@dataclass(frozen=True)
class WSJob:
    """One search of the grid."""

    algorithm: str
    dataset: str
    seed: int
    #: the search space (default: the benchmark's)
    space: str | None = None


def parse_seeds(text: str, option: str = "--seeds") -> list[int]:
    """Comma-separated integer seeds (``"777,888,999"``); ConfigError naming ``text`` otherwise."""
    try:
        seeds = [int(s) for s in str(text).split(",") if s.strip()]
    except ValueError:
        raise ConfigError(f"{option} must be comma-separated integers; got {text!r}") from None
    if not seeds:
        raise ConfigError(f"{option} names no seed; got {text!r}")
    if len(set(seeds)) != len(seeds):
        raise ConfigError(f"{option} repeats a seed; got {text!r}")
    return seeds


def _run_job(job: WSJob, config: SearchConfig, bench: str, data_root: str | None,
             split_file: str | None, device: str | None, checkpoint_dir: str | None,
             threads: int | None, progress: bool, on_missing: str = "error",
             proxy_data: str | None = None) -> list[dict[str, Any]]:
    from search_algorithms.weight_sharing.engine import run_search

    data = None
    if proxy_data is not None:
        data, selection = load_proxy_search_data(job.dataset, config, bench, proxy_data,
                                                 data_root=data_root, split_file=split_file)
        if checkpoint_dir is not None:  # never resume a full-data search, nor another file's
            checkpoint_dir = str(Path(checkpoint_dir) / f"proxy-{proxy_digest(proxy_data)}")
    rows = run_search(job.algorithm, job.dataset, config, job.seed, bench, data=data,
                      data_root=data_root, split_file=split_file, device=device,
                      checkpoint_dir=checkpoint_dir, num_threads=threads, progress=progress,
                      on_missing=on_missing, space=job.space)
    if proxy_data is not None:
        extra = {"proxy_selection": str(selection.provenance.get("selection", "")),
                 "proxy_k": len(selection), "proxy_seed": selection.seed}
        rows = [{**row, **extra} for row in rows]
    return rows


def proxy_digest(path: str | os.PathLike) -> str:
    """First 12 hex digits of the SHA-1 of a proxy-data file (names its checkpoints)."""
    import hashlib

    return hashlib.sha1(Path(path).read_bytes()).hexdigest()[:12]


def search_dataset_name(dataset: str) -> str:
    """The dataset a search of ``dataset`` loads (``cifar10`` searches on ``cifar10-valid``)."""
    from search_algorithms.weight_sharing.engine import _search_dataset

    return _search_dataset(dataset)


def load_search_data(dataset: str, config: SearchConfig, bench: Any, *,
                     data_root: str | None = None, split_file: str | None = None) -> Any:
    """The dataset a search of ``dataset`` loads, as :func:`run_search` loads it (the search
    dataset, at the image size of ``config`` or of the benchmark)."""
    from natsbench.datasets import load_dataset
    from search_algorithms.weight_sharing.engine import BenchOracle, _resolve_scale

    name = search_dataset_name(dataset)
    _, size, _, _ = _resolve_scale(config, BenchOracle(bench, dataset), name)
    return load_dataset(name, root=data_root, split_file=split_file, image_size=size)


def load_proxy_search_data(dataset: str, config: SearchConfig, bench: Any, proxy_data: str | os.PathLike,
                           *, data_root: str | None = None, split_file: str | None = None
                           ) -> tuple[Any, Any]:
    """The search data of ``dataset`` (:func:`load_search_data`) restricted to the proxy-data
    file: ``(LoadedDataset, ProxySelection)``
    (:func:`natsbench.datasets.proxy.apply_proxy_selection`)."""
    from natsbench.datasets.proxy import apply_proxy_selection, read_proxy_selection

    selection = read_proxy_selection(proxy_data, search_dataset_name(dataset))
    data = load_search_data(dataset, config, bench, data_root=data_root, split_file=split_file)
    return apply_proxy_selection(data, selection), selection


def rows_to_frame(rows: list[dict[str, Any]]) -> Any:
    """A pandas DataFrame of search rows, sorted by algorithm, dataset, seed, epoch; columns
    :data:`~.engine.ROW_COLUMNS` first, then the others (the spaces' own columns, metrics) in
    their order of appearance."""
    import pandas as pd

    from search_algorithms.weight_sharing.engine import ROW_COLUMNS

    frame = pd.DataFrame(rows)
    cols = [c for c in ROW_COLUMNS if c in frame] + [c for c in frame if c not in ROW_COLUMNS]
    frame = frame[cols].sort_values(["algorithm", "dataset", "seed", "epoch"], kind="stable")
    return frame.reset_index(drop=True)


def run_grid(jobs: list[WSJob], config: SearchConfig, bench: str | os.PathLike, *,
             data_root: str | None = None, split_file: str | None = None,
             device: str | None = "cpu",
             checkpoint_dir: str | os.PathLike | None = None, workers: int = 1,
             threads: int = 1, executor: str = "local", progress: bool = False,
             on_missing: str = "error", proxy_data: str | os.PathLike | None = None) -> Any:
    """Run ``jobs`` and return all rows as one DataFrame (see :func:`rows_to_frame`);
    ``on_missing``: how an architecture the benchmark did not train is answered
    (:class:`~search_algorithms.weight_sharing.engine.BenchOracle`); ``proxy_data``: a file of
    ``natsbench proxy-data``: every search uses only those training examples, half for the
    weights and half for the architecture (:func:`load_proxy_search_data`; rows gain
    ``proxy_selection``, ``proxy_k``, ``proxy_seed``; checkpoints go to a sub-folder named by
    the file's hash)."""
    if workers < 1 or threads < 1:
        raise QueryError(f"workers and threads must be >= 1; got workers={workers}, "
                         f"threads={threads}")
    if executor not in EXECUTORS:
        raise QueryError(f"unknown executor {executor!r}; valid: {', '.join(EXECUTORS)}")
    bench, ckpt = str(Path(bench)), None if checkpoint_dir is None else str(checkpoint_dir)
    proxy = None if proxy_data is None else str(proxy_data)
    rows: list[dict[str, Any]] = []
    if executor == "ray":
        args = (config, bench, data_root, split_file, device, ckpt, threads, False, on_missing,
                proxy)
        return rows_to_frame(_run_ray(jobs, args, workers, threads, device))
    if workers == 1 or len(jobs) <= 1:
        for job in jobs:
            rows += _run_job(job, config, bench, data_root, split_file, device, ckpt, threads,
                             progress, on_missing, proxy)
        return rows_to_frame(rows)
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
        futures = [pool.submit(_run_job, job, config, bench, data_root, split_file, device, ckpt,
                               threads, False, on_missing, proxy) for job in jobs]
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(futures), unit="search", desc="search-ws")
        try:
            for future in as_completed(futures):
                rows += future.result()
                if bar is not None:
                    bar.update(1)
        except BaseException:
            for future in futures:
                future.cancel()
            raise
        finally:
            if bar is not None:
                bar.close()
    return rows_to_frame(rows)


def _run_ray(jobs: list[WSJob], args: tuple, workers: int, threads: int,
             device: str | None) -> list[dict[str, Any]]:
    """Every job as a Ray task (see the module docstring), at most ``2 * workers`` in flight
    (:func:`natsbench.build.executors.ray_results`); returns all rows. A job that failed is
    raised once the others have finished (their checkpoints are kept)."""
    from natsbench._optional import require
    from natsbench.build.executors import ray_results, ray_session

    require("ray", extra="ray")
    rows: list[dict[str, Any]] = []
    failed: list[tuple[WSJob, BaseException]] = []
    with ray_session(num_cpus=workers * threads) as ray:
        gpus = 1.0 if float(ray.cluster_resources().get("GPU", 0)) and device != "cpu" else 0.0
        remote = ray.remote(num_cpus=threads, num_gpus=gpus, max_calls=0)(_run_job)
        for job, result in ray_results(lambda job: remote.remote(job, *args), iter(jobs),
                                       2 * workers):
            if isinstance(result, BaseException):
                failed.append((job, result))
            else:
                rows += result
    if failed:
        job, exc = failed[0]
        raise RuntimeError(f"{len(failed)} of {len(jobs)} searches failed; first: {job.algorithm} "
                           f"seed {job.seed}: {exc}") from exc
    return rows

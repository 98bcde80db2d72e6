"""The proxy-size grid of Na's Table 3.1 at digits scale: weight-sharing searches on proxy data
of several sizes and selection rules, several seeds (resumable; rows written as they finish).

Per seed ``s`` (outer loop, so a partial run covers every cell with fewer seeds), per size and
selection rule: ``natsbench proxy-data`` selects the examples (selection seed ``s``, entropies of
one cached auxiliary model), and one search (``algorithm``, seed ``s``) runs on them
(:func:`~search_algorithms.weight_sharing.grid.load_proxy_search_data`). A size of 100% selects
the whole train set, whatever the rule: it runs once, labelled ``full``. ``baseline=True`` adds
the ordinary search without proxy data (weights on ``train``, architecture on ``x-valid``),
labelled ``none``. Every finished search writes ``rows/<label>-<percent>-s<seed>.parquet``
(atomically) into ``out_dir`` and a rerun skips it; its search checkpoints
(``checkpoints/``) resume a killed search after its last epoch.
"""
from __future__ import annotations

import json
import math
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Sequence

from natsbench.errors import ConfigError
from search_algorithms.weight_sharing.config import SearchConfig

__all__ = ["ProxyJob", "run_proxy_size_grid"]


@dataclass(frozen=True)
class ProxyJob:
    """One search of the grid: ``label`` is the selection rule (or ``full``/``none``)."""

    label: str
    selection: str | None
    size: str | None
    percent: float
    seed: int

    @property
    def stem(self) -> str:
        pct = "na" if math.isnan(self.percent) else f"{self.percent:g}"
        return f"{self.label}-{pct}-s{self.seed}"


def _percent(size: str, n: int) -> float:
    """The nominal proxy size in % of the train set: as given (``10%``, ``0.1``), or
    ``100 k / n`` for a count (the selection itself has ``floor`` of it, see ``parse_size``)."""
    from natsbench.datasets.proxy import parse_size

    k = parse_size(size, n)  # validates
    text = str(size).strip()
    if text.endswith("%"):
        return float(text[:-1])
    if any(c in text for c in ".eE"):
        return 100.0 * float(text)
    return 100.0 * k / n


def _search(algorithm: str, dataset: str, seed: int, config: SearchConfig, bench: str,
            proxy_file: str | None, checkpoint_dir: str) -> tuple[list[dict[str, Any]], float]:
    """One search's rows and its wall time (s, measured where it ran)."""
    import time

    from search_algorithms.weight_sharing.grid import WSJob, _run_job

    t0 = time.perf_counter()
    rows = _run_job(WSJob(algorithm, dataset, seed), config, bench, None, None, "cpu",
                    checkpoint_dir, 1, False, "error", proxy_file)
    return rows, time.perf_counter() - t0


def run_proxy_size_grid(out_dir: str | Path, config: SearchConfig, bench: str | Path, *,
                        sizes: Sequence[str], selections: Sequence[str], seeds: Sequence[int],
                        algorithm: str = "darts-v1", dataset: str = "digits",
                        baseline: bool = True, aux: Any = None, workers: int = 1,
                        progress: bool = True) -> Any:
    """Run the grid (module docstring) and return its last-epoch rows as a DataFrame.

    Columns: the search-ws row columns of the last epoch plus ``selection`` (the label),
    ``proxy_percent`` (NaN for ``none``), ``proxy_k``, ``proxy_mean_entropy`` (mean aux entropy
    of the selected examples, NaN for ``none``) and ``wall_time`` (s, the job's wall time).
    """
    import numpy as np
    import pandas as pd

    from natsbench.datasets.proxy import SELECTIONS
    from natsbench.train.proxy_data import AuxSettings, aux_entropies, make_proxy_selection, \
        write_proxy_selection
    from search_algorithms.runner import write_parquet
    from search_algorithms.weight_sharing.grid import load_search_data

    bad = [s for s in selections if s not in SELECTIONS]
    if bad or not selections:
        raise ConfigError(f"selections {list(selections)}: unknown {bad}; valid: {SELECTIONS}")
    if workers < 1:
        raise ConfigError(f"workers must be >= 1, got {workers}")
    out = Path(out_dir)
    bench = str(bench)
    aux = aux if aux is not None else AuxSettings(batch_size=64 if dataset == "digits" else 256)
    data = load_search_data(dataset, config, bench)
    n = len(data.train)
    entropy, _ = aux_entropies(data, aux, num_threads=1, progress=progress)  # once, cached
    jobs: list[ProxyJob] = []
    for seed in seeds:
        for size in sizes:
            pct = _percent(size, n)
            if pct >= 100.0:
                jobs.append(ProxyJob("full", "random", size, 100.0, seed))
            else:
                jobs += [ProxyJob(sel, sel, size, pct, seed) for sel in selections]
        if baseline:
            jobs.append(ProxyJob("none", None, None, math.nan, seed))
    jobs = list(dict.fromkeys(jobs))  # 100% once per seed
    rows_dir, proxy_dir, ckpt_dir = out / "rows", out / "proxy", out / "checkpoints"
    todo = []
    for job in jobs:
        if (rows_dir / f"{job.stem}.parquet").exists():
            continue
        proxy_file, mean_entropy, k = None, math.nan, n
        if job.selection is not None:
            path = proxy_dir / f"{job.stem}.json"
            if path.exists():  # kept: its hash names the checkpoints of a killed search
                doc = json.loads(path.read_text(encoding="utf-8"))
            else:
                doc = make_proxy_selection(data, job.selection, job.size, seed=job.seed, aux=aux)
                write_proxy_selection(doc, path)
            proxy_file = str(path)
            mean_entropy, k = float(np.mean(entropy[doc["indices"]])), doc["k"]
        todo.append((job, proxy_file, mean_entropy, k))

    def finish(job: ProxyJob, rows: list[dict[str, Any]], wall: float, mean_entropy: float,
               k: int) -> None:
        last = dict(rows[-1])
        last.update(selection=job.label, proxy_percent=job.percent, proxy_k=k,
                    proxy_mean_entropy=mean_entropy, wall_time=wall)
        write_parquet(pd.DataFrame([last]), rows_dir / f"{job.stem}.parquet")

    bar = None
    if progress and todo:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(todo), unit="search", desc=f"proxy grid ({algorithm})")
    try:
        if workers == 1 or len(todo) <= 1:
            for job, proxy_file, ent, k in todo:
                rows, wall = _search(algorithm, dataset, job.seed, config, bench, proxy_file,
                                     str(ckpt_dir))
                finish(job, rows, wall, ent, k)
                if bar is not None:
                    bar.update(1)
        else:
            with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
                futures = {pool.submit(_search, algorithm, dataset, job.seed, config, bench,
                                       proxy_file, str(ckpt_dir)): (job, ent, k)
                           for job, proxy_file, ent, k in todo}
                for fut in as_completed(futures):
                    job, ent, k = futures[fut]
                    rows, wall = fut.result()
                    finish(job, rows, wall, ent, k)
                    if bar is not None:
                        bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    frames = [pd.read_parquet(rows_dir / f"{job.stem}.parquet") for job in jobs]
    return pd.concat(frames, ignore_index=True)

"""Generate NAS-Bench-201 archives (``NAS-Bench-201-v1_*.pth``) with the official classes.

The NAS-Bench-201 release is one ``torch.save`` file of a dict::

    {"meta_archs": [arch string, ...],                  # 15,625 tss cells, official order
     "arch2infos": {index: {"less": ArchResults state,  # 12-epoch training (hp "12")
                            "full": ArchResults state}},# 200-epoch training (hp "200")
     "evaluated_indexes": {index, ...}}

``ArchResults``/``ResultsCount`` state dicts have the same fields as NATS-Bench's; they are
built here with ``nas_201_api`` (``nas-bench-201==2.1``, a test dependency) through
:func:`natsbench.testing.official_archive.make_arch_results`, so the archives have exactly the
structure ``NASBench201API`` reads. The released v1.0/v1.1 files were written by torch < 1.6,
in the legacy stream layout (``legacy=True``, the default); ``legacy=False`` writes the zip
layout of current torch. ``with_times=False`` drops the per-epoch train/eval times (the API
then answers ``None`` for them), as in runs of the early release that did not record them.
Writing needs torch; reading them back (``natsbench import-official``) does not.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from natsbench.testing.official_archive import all_arch_strings, make_arch_results

#: NAS-Bench-201 hp keys -> (natsbench hp, official number of epochs)
NB201_HP_KEYS = {"less": ("12", 12), "full": ("200", 200)}


def make_nb201_arch(index: int, arch: str, rng: np.random.Generator, *,
                    epochs: dict[str, int] | None = None, with_times: bool = True,
                    legacy_issue: bool = False) -> dict:
    """``{"less": ArchResults state, "full": ArchResults state}`` of one architecture.

    Args:
        epochs: ``less``/``full`` -> number of epochs (default 12 / 200).
        with_times: keep the per-epoch ``train_times``/``eval_times``.
        legacy_issue: let seed 888's params/FLOPs disagree with the other seeds in some runs
            (the data fault NATS-Bench's API corrects by taking seed 888, while
            NAS-Bench-201's API averages over seeds).
    """
    epochs = {key: (epochs or {}).get(key, default) for key, (_, default) in NB201_HP_KEYS.items()}
    by_hp = make_arch_results("tss", index, arch, {NB201_HP_KEYS[k][0]: e for k, e in epochs.items()},
                              rng, api="nas_201_api", legacy_issue=legacy_issue)
    out = {key: by_hp[NB201_HP_KEYS[key][0]] for key in epochs}
    if not with_times:
        for state in out.values():
            for run in state["all_results"].values():
                run["train_times"] = None
                run["eval_times"] = {}
    return out


def make_nb201_archive(out: str | os.PathLike, *, n_archs: int = 10, seed: int = 0,
                       epochs: dict[str, int] | None = None, indices: Sequence[int] | None = None,
                       with_times: bool = True, legacy: bool = True,
                       legacy_issue: bool = False) -> Path:
    """Write a NAS-Bench-201 ``.pth`` archive and return its path.

    Args:
        out: file to write (e.g. ``dir/NAS-Bench-201-v1_1-test.pth``).
        n_archs: how many architectures get results (the first ``n_archs`` indices unless
            ``indices`` is given); ``meta_archs`` always lists all 15,625.
        seed: seed of every generated number and of the index order.
        epochs: ``less``/``full`` -> number of epochs (default 12 / 200).
        with_times: keep per-epoch times (see the module docstring).
        legacy: torch's legacy stream layout (as the released files) instead of the zip layout.
        legacy_issue: see :func:`make_nb201_arch`.
    """
    import torch

    rng = np.random.default_rng(seed)
    archs = all_arch_strings("tss")
    meta_archs = [archs[i] for i in rng.permutation(len(archs))]
    chosen: Iterable[int] = indices if indices is not None else range(n_archs)
    arch2infos = {i: make_nb201_arch(i, meta_archs[i], rng, epochs=epochs, with_times=with_times,
                                     legacy_issue=legacy_issue)
                  for i in chosen}
    data = {"meta_archs": meta_archs, "arch2infos": arch2infos,
            "evaluated_indexes": set(arch2infos)}
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(data, out, _use_new_zipfile_serialization=not legacy)
    return out

"""Generate official-format NATS-Bench archives with the official package's own classes.

The archives are written with ``nats_bench.ArchResults``/``ResultsCount``/``pickle_save``
(nats_bench 1.8, a test dependency), so they have exactly the structure the official API
reads. Numbers are synthetic but shaped like the real ones: per-dataset eval sets, several
seeds per run that differ between architectures, per-epoch times, train top-5 only for some
hps, latency lists of numpy floats, test accuracy only at the last epoch for the
``cifar10-valid`` 200-epoch runs (as in the real files), and a few runs whose params/FLOPs
disagree across seeds (the official "legacy issue" that its API fixes by taking seed 888).
"""
from __future__ import annotations

import collections
import itertools
import os
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

TSS_OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
SSS_CHANNELS = (8, 16, 24, 32, 40, 48, 56, 64)
EVAL_SETS = {
    "cifar10-valid": ("x-valid", "ori-test"),
    "cifar10": ("ori-test",),
    "cifar100": ("ori-test", "x-valid", "x-test"),
    "ImageNet16-120": ("ori-test", "x-valid", "x-test"),
}
NUM_CLASSES = {"cifar10-valid": 10, "cifar10": 10, "cifar100": 100, "ImageNet16-120": 120}
DEFAULT_EPOCHS = {"tss": {"12": 12, "200": 200}, "sss": {"01": 1, "12": 12, "90": 90}}
SSS_GENOTYPE = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"


def all_arch_strings(space: str) -> list[str]:
    """Every architecture of the space in itertools.product order."""
    if space == "tss":
        out = []
        for ops in itertools.product(TSS_OPS, repeat=6):
            out.append("|{}~0|+|{}~0|{}~1|+|{}~0|{}~1|{}~2|".format(*ops))
        return out
    if space == "sss":
        return [":".join(map(str, c)) for c in itertools.product(SSS_CHANNELS, repeat=5)]
    raise ValueError(f"unknown space {space!r}; valid: tss, sss")


def _seeds_for(space: str, hp: str, dataset: str, rng: np.random.Generator) -> list[int]:
    if space == "tss" and hp == "12":
        options = [[111, 777], [777], [111]] if dataset == "cifar10-valid" else [[111], [777]]
    elif hp in ("200", "12"):
        options = [[777, 888, 999], [777, 888], [777, 999], [888]]
    else:
        options = [[777], [777, 888]]
    return sorted(options[int(rng.integers(len(options)))])


def _official_classes(api: str) -> tuple[type, type]:
    """``(ArchResults, ResultsCount)`` of the official package ``api`` (``nats_bench`` or
    ``nas_201_api``; their state dicts have the same fields)."""
    import importlib

    if api not in ("nats_bench", "nas_201_api"):
        raise ValueError(f"unknown official API {api!r}; valid: nats_bench, nas_201_api")
    module = importlib.import_module(api)
    return module.ArchResults, module.ResultsCount


def _make_run(space: str, arch: str, dataset: str, seed: int, epochs: int, hp: str,
              quality: float, rng: np.random.Generator, api: str = "nats_bench"):
    _, ResultsCount = _official_classes(api)

    n_classes = NUM_CLASSES[dataset]
    ceiling = {10: 95.0, 100: 75.0, 120: 48.0}[n_classes] * quality
    t = (np.arange(epochs) + 1) / epochs
    curve = ceiling * (1 - np.exp(-4 * t)) + rng.normal(0, 0.5, epochs)
    train_acc = {e: float(min(100.0, curve[e] + 3)) for e in range(epochs)}
    train_loss = {e: float(2.5 * (1 - curve[e] / 100) + rng.uniform(0, 0.05)) for e in range(epochs)}
    params = np.float64(round(0.1 + 1.4 * quality + n_classes * 1e-3, 6))
    flop = round(15 + 200 * quality, 5) * (0.25 if dataset == "ImageNet16-120" else 1.0)
    if space == "tss":
        config = {"channel": 16, "num_cells": 5, "arch_str": arch, "class_num": n_classes}
    else:
        config = {"name": "infer.shape.tiny", "channels": arch, "arch_str": arch,
                  "genotype": SSS_GENOTYPE, "class_num": n_classes}
    latency = [np.float64(0.01 + 0.01 * quality + rng.uniform(0, 1e-3))] if rng.random() > 0.1 else None
    rc = ResultsCount(dataset, None, train_acc, train_loss, params, flop, config,
                      f"{seed:04d}", epochs, latency)
    per_epoch_time = float(5 + 20 * quality + rng.uniform(0, 1))
    train_times = collections.OrderedDict((e, per_epoch_time) for e in range(epochs))
    acc5 = {e: float(min(100.0, train_acc[e] + 20)) for e in range(epochs)} if hp != "200" else None
    rc.update_train_info(train_acc, acc5, train_loss, train_times)
    accs, losses, times = {}, {}, {}
    for set_name in EVAL_SETS[dataset]:
        shift = rng.normal(0, 1.0)
        eval_time = float(1 + 2 * quality + rng.uniform(0, 0.1))
        for e in range(epochs):
            key = f"{set_name}@{e}"
            accs[key] = float(max(0.0, curve[e] + shift + rng.normal(0, 0.3)))
            losses[key] = float(2.6 * (1 - accs[key] / 100) + rng.uniform(0, 0.05))
            times[key] = eval_time
    rc.update_eval(accs, losses, times)
    if dataset == "cifar10-valid" and hp == "200":  # real files: test acc only at the last epoch
        for e in range(epochs - 1):
            del rc.eval_acc1es[f"ori-test@{e}"], rc.eval_losses[f"ori-test@{e}"]
    return rc


def make_arch_results(space: str, index: int, arch: str, hp_epochs: dict[str, int],
                      rng: np.random.Generator, api: str = "nats_bench",
                      legacy_issue: bool = True) -> dict:
    """``{hp: ArchResults.state_dict()}`` for one architecture, built with the classes of the
    official package ``api`` (``nats_bench``, or ``nas_201_api`` for NAS-Bench-201).
    ``legacy_issue``: make params/FLOPs of seed 888 disagree with the other seeds in about one
    run in five (the official "legacy issue")."""
    ArchResults, _ = _official_classes(api)

    quality = float(0.3 + 0.7 * rng.beta(5, 2))
    out = {}
    for hp, epochs in hp_epochs.items():
        ar = ArchResults(index, arch)
        for dataset in EVAL_SETS:
            seeds = _seeds_for(space, hp, dataset, rng)
            for seed in seeds:
                ar.update(dataset, seed, _make_run(space, arch, dataset, seed, epochs, hp, quality, rng, api))
            if legacy_issue and 888 in seeds and len(seeds) > 1 and rng.random() < 0.2:
                ar.all_results[(dataset, 888)].params = np.float64(ar.all_results[(dataset, 888)].params + 0.01)
                ar.all_results[(dataset, 888)].flop += 1.0
        ar.clear_params()
        out[hp] = ar.state_dict()
    return out


def make_official_archive(out: str | os.PathLike, *, space: str = "tss", n_archs: int = 50,
                          seed: int = 0, hp_epochs: dict[str, int] | None = None,
                          single_file: bool = False, indices: Sequence[int] | None = None,
                          total_archs: int | None = None) -> Path:
    """Write an official-format archive and return its path.

    Args:
        out: fast-mode directory to create, or (``single_file``) the ``.pickle.pbz2`` path
            without the ``.pbz2`` suffix handling: pass e.g. ``dir/NATS-tss-test.pickle``.
        space: ``tss`` or ``sss``.
        n_archs: how many architectures get results (the first ``n_archs`` indices unless
            ``indices`` is given).
        seed: seed of the generator of all numbers and of the index order.
        hp_epochs: hp -> number of epochs (default: the official lengths).
        single_file: write the single-file archive instead of the fast-mode directory.
        total_archs: length of ``meta_archs`` (default: the whole space).
    """
    from nats_bench import pickle_save

    rng = np.random.default_rng(seed)
    archs = all_arch_strings(space)
    order = rng.permutation(len(archs))  # an "official" order that differs from product order
    meta_archs = [archs[i] for i in order][: total_archs or len(archs)]
    hp_epochs = dict(hp_epochs or DEFAULT_EPOCHS[space])
    chosen: Iterable[int] = indices if indices is not None else range(min(n_archs, len(meta_archs)))
    out = Path(out)
    if single_file:
        out.parent.mkdir(parents=True, exist_ok=True)
        arch2infos = {i: make_arch_results(space, i, meta_archs[i], hp_epochs, rng) for i in chosen}
        data = {"meta_archs": meta_archs, "total_archs": len(meta_archs),
                "arch2infos": arch2infos, "evaluated_indexes": set(arch2infos)}
        base = str(out)[: -len(".pbz2")] if str(out).endswith(".pbz2") else str(out)
        pickle_save(data, base)
        return Path(base + ".pbz2")
    out.mkdir(parents=True, exist_ok=True)
    pickle_save({"meta_archs": meta_archs, "total_archs": len(meta_archs), "arch2infos": None,
                 "evaluated_indexes": set()}, str(out / "meta.pickle"))
    for i in chosen:
        pickle_save(make_arch_results(space, i, meta_archs[i], hp_epochs, rng), str(out / f"{i:06d}.pickle"))
    return out

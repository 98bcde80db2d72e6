"""Strength-parametrised searches on the ExtCell space: BtNAS and the Table 4.2 baselines.

Na's thesis ch. 4 compares four parametrisations of the operation strengths of a DARTS-cell
supernet (:mod:`.strengths`), each followed by the same derivation (default: the global
top-k survival rule, :func:`natsbench.spaces.extcell.derive`):

=====================  ============================================================
algorithm              strengths
=====================  ============================================================
``btnas``              Beta(alpha, beta) samples, KL to Beta(1, 1) (BtNAS, §4.3)
``darts-topk``         softmax per edge (DARTS)
``darts-elu-topk``     ELU + 1 per op (DARTS-ELU, §4.4.1)
``fairdarts-topk``     sigmoid per op + zero-one loss (FairDARTS)
=====================  ============================================================

One step (the engine's loop): a weight step on a ``train`` batch with mixing weights from
the parametrisation (a fresh Beta sample for BtNAS), then an architecture step on the next
``x-valid`` batch: Adam on the parametrisation's parameters minimising the validation loss
(with freshly mixed weights) plus its regulariser (BtNAS: ``kl_weight * KL``, FairDARTS:
``zero_one_weight * L01``). First order (no unrolling), as in the thesis' protocols.

Derivation after every epoch from the deterministic strengths (``Strength.strengths``; BtNAS:
``alpha / (alpha + beta)``): ``config.derivation`` ``topk`` (``k`` = the supernet's budget,
the benchmark's; ``config.actall`` first divides each node's incoming strengths by their
max) or ``darts`` (argmax + two strongest edges per node). The row's ``entropy`` is the mean
per-edge entropy of the normalised strengths.
"""
from __future__ import annotations

from typing import Any

import torch

from natsbench.spaces import extcell
from search_algorithms.weight_sharing.base import DifferentiableAlgorithm
from search_algorithms.weight_sharing.strengths import make_strength

__all__ = ["StrengthSearch", "BtNAS", "DartsTopK", "DartsEluTopK", "FairDartsTopK",
           "STRENGTH_ALGORITHMS", "derive_arch"]


def derive_arch(strength: Any, ops: tuple[str, ...], k: int, rule: str = "topk",
                actall: bool = False) -> str:
    """The ExtCell string derived from a strength parametrisation over the op set ``ops``."""
    full, available = extcell.expand_strengths(strength.strengths(), ops)
    return extcell.derive(full, rule=rule, k=k, actall=actall, available=available)


class StrengthSearch(DifferentiableAlgorithm):
    """Base of the strength searches (module docstring); ``strength`` names the parametrisation."""

    spaces = ("extcell",)
    strength = "btnas"

    def setup(self, engine: Any) -> None:
        c, net = engine.config, engine.net
        options: dict[str, Any] = {}
        if self.strength == "btnas":
            options["kl_weight"] = c.kl_weight
        elif self.strength == "fairdarts":
            options["w01"] = c.zero_one_weight
        shape = (2, 14, net.body.num_ops)
        net.attach(make_strength(self.strength, shape, engine.generator, **options).to(engine.device))
        super().setup(engine)   # Adam on net.arch_parameters()

    def mixed(self, engine: Any, x: torch.Tensor) -> torch.Tensor:
        net = engine.net
        return net(x, "mixed", weights=net.strength.mixing(engine.generator))

    def weight_forward(self, engine: Any, x: torch.Tensor) -> torch.Tensor:
        return self.mixed(engine, x)

    def arch_loss(self, engine: Any, xv: torch.Tensor, yv: torch.Tensor) -> torch.Tensor:
        return engine.loss(self.mixed(engine, xv), yv) + engine.net.strength.regularizer()

    def derive(self, engine: Any) -> tuple[str, dict[str, float]]:
        c, net = engine.config, engine.net
        arch = derive_arch(net.strength, net.body.ops, net.k, c.derivation, c.actall)
        return arch, net.strength.summary()


class BtNAS(StrengthSearch):
    strength = "btnas"


class DartsTopK(StrengthSearch):
    strength = "darts"


class DartsEluTopK(StrengthSearch):
    strength = "darts-elu"


class FairDartsTopK(StrengthSearch):
    strength = "fairdarts"


#: strength name (``natsbench btnas --strength``) -> weight-sharing algorithm name
STRENGTH_ALGORITHMS = {"btnas": "btnas", "darts": "darts-topk", "darts-elu": "darts-elu-topk",
                       "fairdarts": "fairdarts-topk"}


def search_strengths(strength: str, dataset: str, config: Any, seed: int, bench: Any, **kwargs: Any
                     ) -> tuple[list[dict[str, Any]], Any, tuple[str, ...]]:
    """One strength search on the engine: ``(rows, final strengths [2, 14, K], op set)``.

    ``strength`` names a parametrisation (:data:`STRENGTH_ALGORITHMS`); ``kwargs`` go to
    :func:`~search_algorithms.weight_sharing.engine.run_search` (checkpoint_dir, progress,
    num_threads, on_missing, ...). A search whose checkpoint already holds every epoch is
    not rerun: its rows and strengths come from the checkpoint.
    """
    from search_algorithms.weight_sharing.engine import run_search

    if strength not in STRENGTH_ALGORITHMS:
        from natsbench.errors import QueryError

        raise QueryError(f"unknown strength parametrisation {strength!r}; valid: "
                         f"{', '.join(STRENGTH_ALGORITHMS)}")
    engines: list[Any] = []
    rows = run_search(STRENGTH_ALGORITHMS[strength], dataset, config, seed, bench,
                      space="extcell", engine_out=engines, **kwargs)
    net = engines[0].net
    return rows, net.strength.strengths(), tuple(net.body.ops)


def evaluate_arch(bench: Any, dataset: str, arch: str, *, train: bool = False,
                  device: str | None = "cpu") -> dict[str, Any]:
    """Test and validation accuracy (%) of a derived cell pair in an ExtCell benchmark.

    The evaluation-source rules of the engine's oracle (:class:`.engine.BenchOracle`): the
    benchmark's table, the user cache store, then (``train``) training now with the
    benchmark's recorded protocol (the record is cached in the user cache store) or NaN.
    Returns ``{"reported", "valid", "source", "valid_source"}``.
    """
    from search_algorithms.weight_sharing.engine import BenchOracle

    oracle = BenchOracle(bench, dataset, "train" if train else "error", space="extcell",
                         device=device)
    reported, valid, source, valid_source = oracle.answer(arch)
    return {"reported": float(reported), "valid": float(valid), "source": source,
            "valid_source": valid_source}


#: columns of the cells table of :func:`table_cells` (one row per derived and evaluated cell)
CELL_COLUMNS: tuple[str, ...] = (
    "strength", "k", "actall", "seed", "epochs", "arch", "reported", "valid", "source",
    "num_normal", "num_reduce", "num_unconnected", "search_time", "eval_wall_time")


def table_cells(strengths: Any, ks: Any, seeds: Any, *, state_dir: Any, config: Any,
                dataset: str = "digits", actall: Any = (False,), train: bool = True,
                device: str | None = "cpu", progress: bool = False) -> Any:
    """The cells of a Table 4.2-style grid: search, derive at every k, evaluate; resumable.

    For each strength parametrisation and seed, one search on the engine (its strengths do
    not depend on k: the supernet and the training are the same, k only enters the
    derivation; the search runs against the bundled benchmark of the largest k), then for
    each k (and each ``actall`` flag) the top-k cell of the final strengths is evaluated in
    the bundled digits benchmark of that k (:func:`evaluate_arch`; ``train``: trained with
    the benchmark's protocol when missing, cached in the user cache store).

    Every finished cell is appended to ``state_dir/cells.csv`` at once (atomic rewrite), a
    search checkpoints into ``state_dir/checkpoints`` and writes its per-epoch rows to
    ``state_dir/search/<strength>-s<seed>.parquet``; a rerun skips finished cells and resumes
    searches. Returns the cells (columns :data:`CELL_COLUMNS`) of the requested grid.
    """
    import time
    from pathlib import Path

    import pandas as pd

    from natsbench.resources import bundled_extcell, bundled_path
    from natsbench.store.records import atomic_write_bytes
    from search_algorithms.runner import write_parquet
    from search_algorithms.weight_sharing.extcell_space import ExtCellAdapter

    state = Path(state_dir)
    path = state / "cells.csv"
    cells = pd.read_csv(path) if path.is_file() else pd.DataFrame(columns=list(CELL_COLUMNS))
    done = {(r.strength, int(r.k), bool(r.actall), int(r.seed)) for r in cells.itertuples()}
    adapter = ExtCellAdapter()
    search_bench = str(bundled_path(*bundled_extcell(max(ks))))
    for strength in strengths:
        for seed in seeds:
            todo = [(k, a) for k in ks for a in actall if (strength, k, a, seed) not in done]
            if not todo:
                continue
            rows, final, ops = search_strengths(
                strength, dataset, config.replace(k=max(ks)), seed, search_bench,
                device=device, checkpoint_dir=state / "checkpoints", progress=progress,
                num_threads=1)
            write_parquet(pd.DataFrame(rows), state / "search" / f"{strength}-s{seed}.parquet")
            full, available = extcell.expand_strengths(final, ops)
            for k, act in todo:
                t0 = time.perf_counter()
                arch = extcell.derive(full, rule="topk", k=k, actall=act, available=available)
                answer = evaluate_arch(str(bundled_path(*bundled_extcell(k))), dataset, arch,
                                       train=train, device=device)
                row = {"strength": strength, "k": k, "actall": act, "seed": seed,
                       "epochs": config.epochs, "arch": arch, "reported": answer["reported"],
                       "valid": answer["valid"], "source": answer["source"],
                       **adapter.summary(arch), "search_time": rows[-1]["search_time"],
                       "eval_wall_time": time.perf_counter() - t0}
                cells = pd.concat([cells, pd.DataFrame([row])], ignore_index=True)
                atomic_write_bytes(path, cells.to_csv(index=False).encode())
    keep = (cells["strength"].isin(list(strengths)) & cells["k"].isin(list(ks))
            & cells["seed"].isin(list(seeds)) & cells["actall"].isin(list(actall)))
    return cells[keep].reset_index(drop=True)

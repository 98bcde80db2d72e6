"""The D2NAS pipeline (Lee et al., IEEE Access 2024, Algorithm 1) as resumable stages.

``cell``    progressive (P-DARTS) cell search: one supernet per stage of Tables 6/7 (deeper and
            wider each stage), bi-level DARTS steps -- architecture parameters by Adam on the
            validation loss, then weights by SGD on the training loss (Algorithm 1, lines 4-8;
            the architecture step is the weight-sharing package's :class:`DartsV1` step) --, the
            architecture frozen for the first ``warmup_epochs`` of each stage (P-DARTS); between
            stages every edge keeps its strongest candidates (5 -> 3); the semi-final cells are
            derived by argmax plus DARTS' two-inputs-per-node rule (line 10). Writes
            ``cell/cell.json``.
``kernel``  DASH's single-level kernel search on the derived network (Table 6's "kernel
            search" depth and width): every non-1x1 convolution becomes an aggregated one over
            the task's ``K x D``; argmax ``(k, d)`` per layer (lines 11-20). Writes
            ``search/searched.pt`` and ``.json`` (DASH's files) and ``kernel/network.json``.
``hpo``     DASH's grid on the retraining network (Table 6's "hyperparam tuning" width),
            scored on the validation set (line 21).
``retrain`` DASH's retraining on train + validation, the test metric read once at the end,
            params and FLOPs of the final network (line 22). Writes ``retrain/result.json``,
            ``retrain/model.pt`` and ``network.json`` (the final network, rebuildable alone by
            :func:`search_algorithms.d2nas.network.build_network`).

Data: the cell stage trains weights on ``train`` (restricted by the training-subset hook) and
architecture parameters on ``valid``; with proxy data (``arch_indices``), both come from the
proxy selection's halves of ``train``. No stage before ``retrain`` reads ``test``.
Every stage checkpoints (cell: after every epoch) and a rerun resumes; ``wall_times.*`` hold the
seconds of the four stages.
"""
from __future__ import annotations

import json
import logging
import math
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from natsbench._optional import require

require("torch", extra="train")  # before importing it: a missing torch names the extra
import torch  # noqa: E402

from natsbench.errors import ConfigError
from natsbench.models.costs import count_flops, count_params
from natsbench.store.records import atomic_write_bytes
from natsbench.tasks.objectives import make_loss
from natsbench.train.checkpoint import read_checkpoint
from search_algorithms.d2nas.configs import CellSettings, D2nasConfig, space_counts
from search_algorithms.d2nas.network import (CellSupernet, build_network, derive_cells,
                                             network_spec, prune_candidates)
from search_algorithms.dash.engine import (Arrays, Stopwatch, check_indices, load_checkpoint,
                                           save_checkpoint)
from search_algorithms.dash.stages import (DashRun, hpo_stage, record_wall, retrain_stage,
                                           search_stage, searched_choices, write_json)
from search_algorithms.weight_sharing.darts import DartsV1

__all__ = ["STAGES", "WALL_TITLES", "D2nasRun", "cell_stage", "kernel_stage", "d2nas_hpo_stage",
           "d2nas_retrain_stage", "run_pipeline", "dash_search_layers", "load_final"]

logger = logging.getLogger(__name__)

STAGES: tuple[str, ...] = ("cell", "kernel", "hpo", "retrain")
#: wall-time rows: D2NAS stage -> (DASH's stage key, title)
WALL_TITLES = {"cell": "Cell search", "search": "Kernel search",
               "hpo": "Hyperparameter Tuning", "retrain": "Retraining"}


@dataclass
class D2nasRun(DashRun):
    """A :class:`DashRun` (data, DASH settings for the kernel/hpo/retrain stages, output folder,
    device, seed, training-subset hook) plus the D2NAS configuration and cell-search settings.

    Attributes:
        config: the ``common``/``custom`` configuration of the task.
        cell: the cell-search settings.
        cell_indices: indices into ``train`` for the weight batches of the cell search (proxy
            data's weight half); ``None``: the training-subset hook's examples.
        arch_indices: indices into ``train`` for the architecture batches of the cell search
            (proxy data's architecture half); ``None``: the validation set.
    """

    config: D2nasConfig | None = None
    cell: CellSettings = field(default_factory=CellSettings)
    cell_indices: np.ndarray | None = None
    arch_indices: np.ndarray | None = None
    #: the derived cells once read and checked (:func:`_cells`); ``cell.json`` does not change
    #: after the cell stage
    derived_cells: dict[str, list] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.config is None:
            raise ConfigError("D2nasRun needs a config (search_algorithms.d2nas.configs.get_config)")
        if self.wall_stages is None:
            self.wall_stages = dict(WALL_TITLES)
        if self.method == "DASH (natsbench)":
            self.method = f"D2NAS {self.config.name} (natsbench)"
        self.command = "d2nas"
        super().__post_init__()
        # the DASH stages' settings take the clipping of Tables 6/7
        self.settings = self.settings.replace(grad_clip=self.config.kernel.grad_clip,
                                              retrain_clip=self.config.retrain.grad_clip)
        if self.arch_indices is not None:
            self.arch_indices = check_indices(self.arch_indices, len(self.data.train))
        self.cell_indices = (self.indices if self.cell_indices is None
                             else check_indices(self.cell_indices, len(self.data.train)))

    def identity(self, stage: str, **extra: Any) -> dict[str, Any]:
        """DASH's identity plus what the stage depends on: the cell search its part of the
        configuration and its settings and data; the kernel search (DASH's ``search``) its
        part and the cell part of the configuration and the derived cells, hpo and retraining
        theirs and the earlier ones' (so changing, e.g., the retraining width reruns neither
        search nor hpo)."""
        ident = super().identity(stage, **extra)
        cfg = self.config.to_dict()
        if stage != "cell":
            # each later stage depends on the cell stage's part, its own and the earlier ones'
            later = {"search": ("hpo", "retrain"), "hpo": ("retrain",)}.get(stage, ())
            ident["d2nas"] = {k: v for k, v in cfg.items()
                              if k not in ("name", "source", *later)}
            ident["cells"] = _cells(self)
        else:
            ident["d2nas"] = {k: v for k, v in cfg.items() if k not in ("kernel", "hpo", "retrain",
                                                                        "name", "source")}
            ident["settings"] = None               # the DASH stages' settings do not matter
            ident["cell_settings"] = self.cell.to_dict()
            ident["arch_subset"] = (None if self.arch_indices is None else
                                    int(zlib.crc32(self.arch_indices.tobytes())))
            ident["weight_subset"] = int(zlib.crc32(self.cell_indices.tobytes()))
        return json.loads(json.dumps(ident))      # as stored in JSON files (tuples -> lists)


def _read_json(path: Path, stage: str) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"{path} does not exist: run `natsbench d2nas TASK --stage {stage}` "
                          "(or --stage all) with the same --out first")
    return json.loads(path.read_text())


# -- stage 1: cell search ---------------------------------------------------------------------

class _CellEngine:
    """What the weight-sharing DARTS architecture step reads: ``net``, ``config``, ``loss``."""

    def __init__(self, net: CellSupernet, settings: CellSettings, loss_fn: Any) -> None:
        self.net, self.config, self._loss = net, settings, loss_fn

    def loss(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self._loss(out, y)


def _cell_sets(run: D2nasRun) -> tuple[Arrays, Arrays, dict[str, Any]]:
    """(weight examples, architecture examples, what they are) of the cell search."""
    train = run.data.train
    if run.arch_indices is not None:
        arch = run.arrays((train, run.arch_indices))
        where = {"weights": f"train[{len(run.cell_indices)} indices]",
                 "architecture": f"train[{len(run.arch_indices)} indices]"}
    else:
        arch = run.arrays((run.data.valid, None))               # validation, never test
        where = {"weights": f"train[{len(run.cell_indices)} indices]", "architecture": "valid"}
    return run.arrays((train, run.cell_indices)), arch, where


def _build_stage_net(run: D2nasRun, stage: int, candidates: dict | None) -> CellSupernet:
    shape = run.config.cell_stages[stage]
    gen = torch.Generator().manual_seed(run.seed * 1000 + stage)
    torch.manual_seed(run.seed * 1000 + stage)
    return CellSupernet(run.config, run.task.num_outputs, run.data.input_shape[0], shape.layers,
                        shape.channels, candidates, gen).to(run.dev)


def cell_stage(run: D2nasRun, *, stop_after: int | None = None) -> dict[str, Any]:
    """The progressive cell search (module docstring). ``stop_after``: return after that many
    epochs in total (tests: simulate a kill; the checkpoint stays).

    Returns:
        ``cell.json``'s content: ``cells`` ({normal, reduce}: ``[to, from, op]`` edges),
        per-stage ``candidates``, ``alphas`` (mixing weights) and ``history``.
    """
    c, cfg, out = run.cell, run.config, run.out / "cell"
    out.mkdir(parents=True, exist_ok=True)
    result_path, ckpt = out / "cell.json", out / "checkpoint.pt"
    identity = run.identity("cell")
    if result_path.is_file():
        done = json.loads(result_path.read_text())
        if done.get("identity") == identity:
            run.derived_cells = done["cells"]
            return done
    run.derived_cells = None
    loss_fn = make_loss(run.task)
    stages: list[dict[str, Any]] = []
    history: list[dict[str, Any]] = []
    done_epochs = 0
    with run.context():
        train, arch, where = _cell_sets(run)
        state = load_checkpoint(ckpt, identity)
        start_stage, start_epoch, watch = 0, 0, Stopwatch(0.0, run.dev)
        if state is not None:
            stages, history = list(state["stages"]), list(state["history"])
            start_stage, start_epoch = int(state["stage"]), int(state["epoch"]) + 1
            if start_epoch >= c.epochs:
                start_stage, start_epoch = start_stage + 1, 0
            watch = Stopwatch(float(state["wall"]), run.dev)
            logger.info("resuming the cell search of %s at stage %d epoch %d", run.task.name,
                        start_stage, start_epoch)
        n_sub = max(1, int(round(c.subsample * len(train))))
        steps = math.ceil(n_sub / c.batch_size)
        total = len(cfg.cell_stages) * c.epochs * steps
        bar = run.bar(total, (start_stage * c.epochs + start_epoch) * steps,
                      f"d2nas cell {run.task.name}")
        try:
            for s in range(start_stage, len(cfg.cell_stages)):
                candidates = stages[-1]["next_candidates"] if stages else None
                net = _build_stage_net(run, s, candidates)
                engine = _CellEngine(net, c, loss_fn)
                algo = DartsV1()
                algo.setup(engine)                      # Adam on the architecture logits
                opt_w = torch.optim.SGD(net.weights(), lr=c.lr, momentum=c.momentum,
                                        weight_decay=c.weight_decay)
                gen = torch.Generator().manual_seed(run.seed * 1000 + s)
                first = 0
                if state is not None and int(state["stage"]) == s and start_epoch > 0:
                    net.load_state_dict(state["net"])
                    opt_w.load_state_dict(state["opt_w"])
                    algo.load_state(engine, state["algo"])
                    gen.set_state(state["generator"])
                    first = start_epoch
                clip = cfg.cell_stages[s].grad_clip
                for epoch in range(first, c.epochs):
                    if stop_after is not None and done_epochs >= stop_after:
                        return {}
                    loss = _cell_epoch(net, engine, algo, opt_w, train, arch, gen, c, s, epoch,
                                       n_sub, steps, clip, bar)
                    history.append({"stage": s, "epoch": epoch, "train_loss": loss,
                                    "alphas": net.mixing().detach().cpu().tolist()})
                    done_epochs += 1
                    save_checkpoint(ckpt, {"identity": identity, "stage": s, "epoch": epoch,
                                           "net": net.state_dict(), "opt_w": opt_w.state_dict(),
                                           "algo": algo.state(engine),
                                           "generator": gen.get_state(),
                                           "stages": stages if epoch + 1 < c.epochs else
                                           stages + [_stage_summary(net, cfg, s)],
                                           "history": history, "wall": watch.elapsed()})
                    if bar is not None:
                        bar.set_postfix(stage=s + 1, epoch=epoch + 1, loss=f"{loss:.4f}")
                if len(stages) == s:
                    stages.append(_stage_summary(net, cfg, s))
                state = None
            if start_stage >= len(cfg.cell_stages):      # killed after the last epoch's checkpoint
                last = len(cfg.cell_stages) - 1
                net = _build_stage_net(run, last, stages[-2]["next_candidates"] if last else None)
                net.load_state_dict(load_checkpoint(ckpt, identity)["net"])
            cells = derive_cells(net)
        finally:
            if bar is not None:
                bar.close()
        wall = watch.elapsed()
    result = {"identity": identity, "task": run.task.name, "config": cfg.name,
              "cells": cells, "ops": list(cfg.ops), "steps": cfg.steps,
              "stages": [{k: v for k, v in st.items() if k != "next_candidates"} for st in stages],
              "data": where, "history": history, "wall_s": wall}
    record_wall(run, "cell", wall)                 # before cell.json: a kill between them reruns
    write_json(result_path, result)
    ckpt.unlink(missing_ok=True)
    run.derived_cells = cells
    return result


def _stage_summary(net: CellSupernet, cfg: D2nasConfig, s: int) -> dict[str, Any]:
    """Candidates, final mixing weights and the next stage's candidates of stage ``s``."""
    nxt = (prune_candidates(net, cfg.candidates[s + 1]) if s + 1 < len(cfg.candidates) else None)
    return {"stage": s, "layers": cfg.cell_stages[s].layers,
            "channels": cfg.cell_stages[s].channels, "candidates": net.live(),
            "alphas": net.mixing().detach().cpu().tolist(), "next_candidates": nxt}


def _cyclic_batches(n: int, batch_size: int, gen: torch.Generator) -> Iterator[torch.Tensor]:
    """Endless full batches of ``min(batch_size, n)`` indices into ``0..n-1``: passes over a
    fresh permutation each (DARTS restarts its validation loader when it runs out); a batch
    that crosses the end of a pass takes the rest of it and the start of the next. Draws from
    ``gen`` only when a pass starts."""
    size = min(batch_size, n)
    buffer = torch.empty(0, dtype=torch.int64)
    while True:
        while len(buffer) < size:
            buffer = torch.cat([buffer, torch.randperm(n, generator=gen)])
        yield buffer[:size]
        buffer = buffer[size:]


def _cell_epoch(net: CellSupernet, engine: _CellEngine, algo: DartsV1, opt_w: Any, train: Arrays,
                arch: Arrays, gen: torch.Generator, c: CellSettings, stage: int, epoch: int,
                n_sub: int, steps: int, clip: float | None, bar: Any) -> float:
    """One epoch of bi-level steps; returns the mean training loss."""
    net.train()
    order = torch.randperm(len(train), generator=gen)[:n_sub]
    warm = epoch < c.warmup_epochs
    arch_batches = None if warm else _cyclic_batches(len(arch), c.batch_size, gen)
    total, seen = 0.0, 0
    for it in range(steps):
        idx = order[it * c.batch_size:(it + 1) * c.batch_size]
        lr = c.lr_min + 0.5 * (c.lr - c.lr_min) * (1 + math.cos(math.pi * (epoch * steps + it)
                                                                / (c.epochs * steps)))
        for g in opt_w.param_groups:
            g["lr"] = lr
        x, y = train.batch(idx)
        if arch_batches is not None:                   # Algorithm 1, lines 5-6 (validation)
            algo.arch_step(engine, x, y, *arch.batch(next(arch_batches)))
        opt_w.zero_grad(set_to_none=True)              # lines 7-8 (training)
        loss = engine.loss(net(x), y)
        loss.backward()
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(net.weights(), clip)
        opt_w.step()
        total += float(loss.detach()) * len(idx)
        seen += len(idx)
        if bar is not None:
            bar.update(1)
    mean = total / max(seen, 1)
    if not math.isfinite(mean):
        raise FloatingPointError(f"the cell-search training loss became {mean}")
    return mean


# -- stage 2: kernel search, then DASH's hpo and retraining -----------------------------------

def _cells(run: D2nasRun) -> dict[str, list]:
    """The derived cells of ``cell/cell.json``, which must come from this run's cell search
    (same task, data, configuration, cell settings, seed): a later stage never builds on cells
    searched with other options."""
    if run.derived_cells is not None:
        return run.derived_cells
    done = _read_json(run.out / "cell" / "cell.json", "cell")
    if done.get("identity") != run.identity("cell"):
        raise ConfigError(f"{run.out / 'cell' / 'cell.json'} was searched with other settings "
                          "than this run's (e.g. --cell-epochs, --config, --preset, --seed or "
                          f"--proxy-data): rerun `natsbench d2nas {run.task.name} --stage cell` "
                          "with this run's options, or give the options that search used")
    run.derived_cells = done["cells"]
    return run.derived_cells


def _spec(run: D2nasRun, shape_name: str, choices: dict | None = None) -> dict[str, Any]:
    shape = getattr(run.config, shape_name)
    return network_spec(run.config, _cells(run), run.task.num_outputs, run.data.input_shape[0],
                        run.data.input_shape, shape.layers, shape.channels, choices)


def kernel_stage(run: D2nasRun) -> dict[str, Any]:
    """DASH's kernel search on the derived cell network (module docstring)."""
    spec = _spec(run, "kernel")
    with run.context():
        torch.manual_seed(run.seed)
        base = build_network(spec)
    meta = search_stage(run, backbone=base)
    (run.out / "kernel").mkdir(parents=True, exist_ok=True)
    write_json(run.out / "kernel" / "network.json",
                {**_spec(run, "kernel", meta["choices"]), "weights": "search/searched.pt"})
    return meta


def _choices(run: D2nasRun, choices: dict[str, dict] | None = None) -> dict[str, dict]:
    choices = searched_choices(run, "d2nas", "kernel") if choices is None else choices
    return {n: {"k": c["k"], "d": c["d"]} for n, c in choices.items()}


def _builder(run: D2nasRun, shape_name: str, choices: dict[str, dict]) -> Any:
    spec = _spec(run, shape_name, choices)

    def build(dropout: float) -> torch.nn.Module:
        return build_network(spec, dropout=dropout, seed=run.seed)
    return build


def d2nas_hpo_stage(run: D2nasRun, choices: dict[str, dict] | None = None) -> dict[str, Any]:
    """DASH's hyperparameter grid on the searched network at Table 6's hpo width (``choices``:
    the kernel search's, read from its file when not given)."""
    choices = _choices(run, choices)
    return hpo_stage(run, choices, build=_builder(run, "hpo", choices))


def d2nas_retrain_stage(run: D2nasRun, choices: dict[str, dict] | None = None,
                        hp: dict[str, float] | None = None) -> dict[str, Any]:
    """DASH's retraining at Table 6's retrain width, then params and FLOPs of the final network
    (``network.json``: the spec it is rebuilt from; ``retrain/model.pt``: its weights).
    ``choices``/``hp``: the earlier stages' results, read from their files when not given."""
    choices = _choices(run, choices)
    result = retrain_stage(run, choices, hp, build=_builder(run, "retrain", choices))
    hp = result["hp"]
    spec = {**_spec(run, "retrain", choices), "dropout": float(hp["dropout"])}
    net = build_network(spec, seed=run.seed)
    costs = {"params_M": count_params(net),
             "flops_M": count_flops(net, (1, *run.data.input_shape))}
    write_json(run.out / "network.json", {**spec, "weights": "retrain/model.pt", **costs})
    result = {**result, **costs}
    write_json(run.out / "retrain" / "result.json", result)
    return result


def dash_search_layers(task: Any) -> int:
    """Convolutions DASH searches in ``task``'s search backbone (the ``|E|`` of its count)."""
    from torch import nn

    from natsbench.tasks.networks import build_backbone

    net = build_backbone(task, "search")
    return sum(1 for m in net.modules() if isinstance(m, (nn.Conv1d, nn.Conv2d))
               and any(k != 1 for k in m.kernel_size))


def _counts(run: D2nasRun) -> dict[str, Any]:
    cells = _cells(run)
    kinds = ["normal"] if run.config.dense else ["normal", "reduce"]
    ops = [e[2] for kind in kinds for e in cells[kind]]
    share = sum(1 for op in ops if "conv" in op) / max(1, len(ops))
    return space_counts(run.task, run.config, dash_layers=dash_search_layers(run.task),
                        conv_share=share)


def run_pipeline(run: D2nasRun, stages: tuple[str, ...] = STAGES) -> dict[str, Any]:
    """Run ``stages`` in order (each reads the earlier stages' files; finished stages with the
    same identity are not rerun). Writes ``d2nas.json`` (task, configuration, settings, search
    space counts) first."""
    bad = [s for s in stages if s not in STAGES]
    if bad:
        raise ConfigError(f"stages {bad} are not valid; use {STAGES}")
    first = STAGES.index(stages[0]) if stages else 0
    needs = {"kernel": ("cell", run.out / "cell" / "cell.json"),
             "hpo": ("kernel", run.out / "search" / "searched.pt"),
             "retrain": ("hpo", run.out / "hpo" / "hpo.json")}
    for stage in STAGES[1:first + 1]:                      # before anything is written
        before, path = needs[stage]
        if before not in stages and not path.is_file():
            raise ConfigError(f"{path} does not exist: run `natsbench d2nas {run.task.name} "
                              f"--stage {before}` (or --stage all) with the same --out first")
    run.out.mkdir(parents=True, exist_ok=True)
    write_json(run.out / "d2nas.json", {
        **run.task.describe(), "data": run.data.provenance, "config": run.config.to_dict(),
        "cell_settings": run.cell.to_dict(), "dash_settings": run.settings.to_dict(),
        "seed": run.seed, "device": str(run.dev)})
    results: dict[str, Any] = {}
    for stage in stages:
        if stage == "cell":
            results["cell"] = cell_stage(run)
            write_json(run.out / "space_counts.json", _counts(run))
        elif stage == "kernel":
            results["kernel"] = kernel_stage(run)
        elif stage == "hpo":
            results["hpo"] = d2nas_hpo_stage(run, results.get("kernel", {}).get("choices"))
        else:
            results["retrain"] = d2nas_retrain_stage(
                run, results.get("kernel", {}).get("choices"), results.get("hpo", {}).get("best"))
    return results


def load_final(out: str | Path) -> tuple[torch.nn.Module, dict[str, Any]]:
    """The retrained network of a finished run folder, rebuilt from ``network.json`` alone and
    loaded with ``retrain/model.pt``; returns ``(network, spec)``."""
    out = Path(out)
    spec = _read_json(out / "network.json", "retrain")
    net = build_network(spec)
    net.load_state_dict(read_checkpoint(out / spec["weights"]))
    return net, spec


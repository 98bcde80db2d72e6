"""The DASH stages as reusable functions: search, discretize, hpo, retrain (and a baseline).

Every stage takes a :class:`DashRun` (task, data, settings, output folder, device, seed and the
training-subset hook) and writes its results below ``run.out``:

``search/``
    ``checkpoint.pt`` after every epoch (removed when the stage ends), then ``searched.pt`` (the
    discretized network's state dict and its metadata) and ``searched.json`` (the per-layer
    ``(k, d)`` choices and final architecture weights, readable). :func:`load_searched` rebuilds
    the network from ``searched.pt`` alone.
``hpo/``
    ``hpo.json`` (one row per finished grid point, rewritten atomically after each: a killed
    stage resumes at the next point) and ``hpo.csv``.
``retrain/`` (and ``baseline/``)
    ``checkpoint.pt`` after every epoch, then ``model.pt`` and ``result.json`` (the test metric of
    the last epoch's model, per-epoch training losses, the hyperparameters).
``wall_times.json`` / ``wall_times.csv`` / ``wall_times.md``
    seconds per stage (DASH App. A.7's table; resumed stages add up their runs).

Single-level search (DASH sec. 3): model weights and architecture parameters are both updated on
the same training batches, with separate SGD optimizers. Neither the search nor the hpo stage
sees the test set: the search trains on ``train`` only, hpo trains on a subset of ``train`` and
scores on ``valid``; the test set is read once, by the retraining stage, after its last epoch.

Reuse (D2NAS): :func:`search_stage` accepts any plain network whose non-1x1 convolutions become
aggregated ones; :func:`hpo_stage` and :func:`retrain_stage` accept a ``build(dropout)`` that
returns the network to train.
"""
from __future__ import annotations

import copy
import csv
import io
import json
import logging
import math
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from natsbench._optional import require

require("torch", extra="train")  # before importing it: a missing torch names the extra
import torch  # noqa: E402
from torch import nn

from natsbench.datasets.splits import split_rng
from natsbench.errors import ConfigError
from natsbench.models.wrn import (apply_kernel_choices, discretize_aggregated,
                                  replace_convs_with_aggregated)
from natsbench.ops.aggregated_conv import AggregatedConv, arch_parameters, arch_weights
from natsbench.store.records import atomic_write_bytes
from natsbench.tasks.configs import get_task
from natsbench.tasks.data import TaskData
from natsbench.tasks.networks import build_backbone
from natsbench.tasks.objectives import make_loss
from natsbench.train.checkpoint import (global_rng_state, read_checkpoint,
                                        set_global_rng_state)
from natsbench.train.trainer import resolve_device, torch_settings
from search_algorithms.dash.engine import (Arrays, Part, Stopwatch, check_indices, evaluate,
                                           load_checkpoint, run_epoch, save_checkpoint)
from search_algorithms.dash.settings import (DashSettings, hpo_subsample_ratio, lr_factor,
                                             scaled_milestones)

__all__ = ["STAGES", "DashRun", "search_stage", "save_searched", "load_searched", "hpo_stage",
           "retrain_network",
           "retrain_stage", "baseline_stage", "run_pipeline", "default_hp", "write_wall_times",
           "record_wall", "searched_choices", "write_json"]

logger = logging.getLogger(__name__)

STAGES: tuple[str, ...] = ("search", "hpo", "retrain")
#: row names of the wall-time table (DASH App. A.7's columns)
STAGE_TITLES = {"search": "Search", "hpo": "Hyperparameter Tuning", "retrain": "Retraining"}


@dataclass
class DashRun:
    """What every stage needs.

    Attributes:
        data: the task's sets (``data.task`` is the config).
        settings: the stage settings.
        out: output folder (created).
        device: ``"cpu"``, ``"cuda"``, ``None`` (CUDA when available); AMP on CUDA.
        seed: seeds weights, batches, subsets and Gumbel noise.
        train_indices: the training-subset hook -- indices into ``data.train`` that every stage
            restricts its training examples to (``None``: all); e.g. proxy data.
        progress: tqdm bars on stderr.
        deterministic: deterministic algorithms (default: on CPU only).
        num_threads: torch intra-op threads (None: torch's default).
        out_of_core: keep the sets on the host and move each batch to the device (``None``:
            when a set is memory-mapped or too large for the device,
            :func:`~search_algorithms.dash.engine.keep_on_host`); results are the same.
        method: the method named in ``retrain/row.csv``.
        wall_stages: stage -> title of the rows of the wall-time table (default: DASH's;
            D2NAS adds its cell search and calls the kernel search ``search``).
        command: the ``natsbench`` sub-command that runs this pipeline (named in the
            errors that ask for an earlier stage).
    """

    data: TaskData
    settings: DashSettings
    out: Path
    device: str | torch.device | None = None
    seed: int = 0
    train_indices: np.ndarray | None = None
    progress: bool = True
    deterministic: bool | None = None
    num_threads: int | None = None
    out_of_core: bool | None = None
    method: str = "DASH (natsbench)"
    wall_stages: dict[str, str] | None = None
    command: str = "dash"
    dev: torch.device = field(init=False)
    indices: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.out = Path(self.out)
        self.dev = resolve_device(self.device)
        self.indices = check_indices(self.train_indices, len(self.data.train))
        if self.deterministic is None:
            self.deterministic = self.dev.type == "cpu"

    @property
    def task(self):
        return self.data.task

    def identity(self, stage: str, **extra: Any) -> dict[str, Any]:
        """What makes a stage's checkpoint reusable: task, data sizes, subset, settings, seed."""
        return {"stage": stage, "task": self.task.name, "sizes": self.data.sizes(),
                "subset": int(zlib.crc32(self.indices.tobytes())), "n_subset": int(self.indices.size),
                "settings": self.settings.to_dict(), "seed": int(self.seed), **extra}

    def arrays(self, *parts: Part) -> Arrays:
        """The examples of ``parts`` (``(set, rows or None)``) on this run's device, in memory
        or out of core (:class:`~search_algorithms.dash.engine.Arrays`)."""
        return Arrays(parts, self.dev, out_of_core=self.out_of_core)

    def bar(self, total: int, initial: int, desc: str) -> Any:
        if not self.progress:
            return None
        from tqdm.auto import tqdm

        return tqdm(total=total, initial=initial, unit="step", desc=desc, leave=False)

    def context(self) -> Any:
        """Deterministic/thread settings and a forked RNG seeded by ``seed``."""
        import contextlib

        stack = contextlib.ExitStack()
        stack.enter_context(torch_settings(self.dev, bool(self.deterministic), self.num_threads))
        stack.enter_context(torch.random.fork_rng(
            devices=[self.dev] if self.dev.type == "cuda" else []))
        torch.manual_seed(self.seed)
        return stack


def write_json(path: Path, obj: Any) -> None:
    """``obj`` as indented JSON at ``path``, written atomically (the stages' result files)."""
    atomic_write_bytes(path, (json.dumps(obj, indent=2) + "\n").encode())


def record_wall(run: DashRun, stage: str, seconds: float) -> None:
    """Set ``stage``'s seconds in ``wall_times.json`` and rewrite the wall-time tables."""
    path = run.out / "wall_times.json"
    times = json.loads(path.read_text()) if path.is_file() else {}
    times[stage] = float(seconds)
    write_json(path, times)
    write_wall_times(run.out, run.task.name, times, run.wall_stages)



def write_wall_times(out: Path, task: str, times: dict[str, float],
                     titles: dict[str, str] | None = None) -> None:
    """DASH App. A.7's table (search / hyperparameter tuning / retraining / total) for one task,
    in seconds and hours, as ``wall_times.csv`` and ``wall_times.md`` (``titles``: stage ->
    row title, in order; default DASH's three stages)."""
    titles = STAGE_TITLES if titles is None else titles
    cols = list(titles)
    secs = [times.get(s, math.nan) for s in cols]
    total = sum(v for v in secs if math.isfinite(v))
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["task", *(f"{s}_s" for s in cols), "total_s", *(f"{s}_h" for s in cols), "total_h"])
    w.writerow([task, *(f"{v:.3f}" for v in secs), f"{total:.3f}",
                *(f"{v / 3600:.5f}" for v in secs), f"{total / 3600:.5f}"])
    atomic_write_bytes(out / "wall_times.csv", buf.getvalue().encode())
    head = "| Task | " + " | ".join(titles[s] for s in cols) + " | Total |"
    md = [f"Wall time in seconds (DASH App. A.7 reports GPU hours).", "", head,
          "|" + " --- |" * (len(cols) + 2),
          f"| {task} | " + " | ".join("-" if not math.isfinite(v) else f"{v:.1f}" for v in secs)
          + f" | {total:.1f} |", ""]
    atomic_write_bytes(out / "wall_times.md", "\n".join(md).encode())


# -- search -----------------------------------------------------------------------------------

def _choices(model: nn.Module) -> dict[str, dict[str, Any]]:
    """Per aggregated layer: argmax ``(k, d)``, groups, effective size and mixing weights."""
    out = {}
    for name, m in model.named_modules():
        if isinstance(m, AggregatedConv):
            k, d = m.selected()
            w = arch_weights(m.arch_params.detach().float().cpu(), temperature=m.temperature)
            out[name] = {"k": k, "d": d, "groups": m.groups, "effective": d * (k - 1) + 1,
                         "weights": {f"{kk}x{dd}": round(float(v), 6)
                                     for (kk, dd), v in zip(m.candidates, w)}}
    return out


def save_searched(supernet: nn.Module, path: Path, meta: dict[str, Any]) -> dict[str, Any]:
    """Discretize a copy of ``supernet`` (argmax ``(k, d)`` per layer) and write ``path``
    (``{"meta", "state_dict"}``, torch) and ``path.with_suffix(".json")`` (readable choices).

    ``meta`` must name the ``task`` and ``in_channels``; the choices are added. Returns the
    written metadata.
    """
    choices = _choices(supernet)
    net = copy.deepcopy(supernet).cpu()
    discretize_aggregated(net)
    meta = {**meta, "choices": {n: {k: v for k, v in c.items() if k != "weights"}
                                for n, c in choices.items()}}
    save_checkpoint(path, {"meta": meta, "state_dict": net.state_dict()})
    write_json(path.with_suffix(".json"), {**meta, "choices": choices})
    return meta


def load_searched(path: str | Path, *, base: nn.Module | None = None
                  ) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the searched network from the file :func:`save_searched` wrote (alone).

    Args:
        base: the plain network the search started from, when it is not the task's own search
            backbone (e.g. a D2NAS cell network); its convolutions are set to the choices.

    Returns:
        ``(network with the saved weights, metadata)``.
    """
    state = read_checkpoint(path)
    meta = state["meta"]
    net = base if base is not None else build_backbone(get_task(meta["task"]), "search",
                                                       in_channels=int(meta["in_channels"]))
    apply_kernel_choices(net, meta["choices"])
    net.load_state_dict(state["state_dict"])
    return net, meta


def search_stage(run: DashRun, backbone: nn.Module | None = None, *,
                 on_epoch_end: Callable[[int], None] | None = None) -> dict[str, Any]:
    """DASH's kernel search: the backbone's non-1x1 convolutions become aggregated convolutions
    over the task's ``K x D``; weights and architecture parameters train jointly on the training
    loss; the argmax ``(k, d)`` of every layer is saved (``search/searched.pt``).

    Args:
        backbone: the plain network to search (default: the task's search backbone).
        on_epoch_end: called with the epoch index after each epoch's checkpoint.

    Returns:
        the searched network's metadata (``choices``: layer -> ``{k, d, groups, effective}``).
    """
    s, task, out = run.settings, run.task, run.out / "search"
    out.mkdir(parents=True, exist_ok=True)
    searched = out / "searched.pt"
    identity = run.identity("search", custom_backbone=backbone is not None)
    if searched.is_file():
        meta = read_checkpoint(searched)["meta"]
        if meta.get("identity") == identity:
            logger.info("search of %s already done (%s)", task.name, searched)
            return meta
    ckpt = out / "checkpoint.pt"
    with run.context():
        net = backbone if backbone is not None else build_backbone(
            task, "search", in_channels=run.data.input_shape[0])
        replace_convs_with_aggregated(net, task.kernel_sizes, task.dilations, s.mode,
                                      weight_sampling=s.weight_sampling,
                                      temperature=s.temperature, seed=run.seed)
        net.to(run.dev)
        arch = arch_parameters(net)
        arch_ids = {id(p) for p in arch}
        weights = [p for p in net.parameters() if id(p) not in arch_ids]
        opt_w = torch.optim.SGD(weights, lr=s.search_lr, momentum=s.momentum, nesterov=True,
                                weight_decay=s.weight_decay)
        opt_a = torch.optim.SGD(arch, lr=s.arch_lr, momentum=s.momentum, nesterov=True,
                                weight_decay=s.weight_decay)
        scaler = torch.amp.GradScaler("cuda", enabled=run.dev.type == "cuda")
        gen = torch.Generator().manual_seed(run.seed)
        train = run.arrays((run.data.train, run.indices))         # training data only
        loss_fn = make_loss(task)
        history: list[dict[str, Any]] = []
        first, watch = 0, Stopwatch(0.0, run.dev)
        state = load_checkpoint(ckpt, identity)
        aggs = [m for m in net.modules() if isinstance(m, AggregatedConv)]
        if state is not None:
            net.load_state_dict(state["model"])
            opt_w.load_state_dict(state["opt_w"])
            opt_a.load_state_dict(state["opt_a"])
            scaler.load_state_dict(state["scaler"])
            gen.set_state(state["generator"])
            for m, draws in zip(aggs, state["draws"]):
                m._draws = int(draws)
            history, first = list(state["history"]), int(state["epoch"]) + 1
            watch = Stopwatch(float(state["wall"]), run.dev)
            logger.info("resuming the search of %s at epoch %d", task.name, first)
        n_sub = max(1, int(round(s.search_subsample * len(train))))
        steps = math.ceil(n_sub / s.batch_size)
        bar = run.bar(s.search_epochs * steps, first * steps, f"dash search {task.name}")
        try:
            for epoch in range(first, s.search_epochs):
                factor = lr_factor(epoch, s.search_milestones, s.lr_decay)
                for opt, lr in ((opt_w, s.search_lr), (opt_a, s.arch_lr)):
                    for g in opt.param_groups:
                        g["lr"] = lr * factor
                subset = torch.randperm(len(train), generator=gen)[:n_sub]   # per-epoch subsample
                loss = run_epoch(net, train, subset, s.batch_size, loss_fn, [opt_w, opt_a], scaler,
                                 gen, clip=s.grad_clip, bar=bar)
                history.append({"epoch": epoch, "train_loss": loss,
                                "choices": {n: [c["k"], c["d"]] for n, c in _choices(net).items()}})
                save_checkpoint(ckpt, {"identity": identity, "epoch": epoch, "model": net.state_dict(),
                                       "opt_w": opt_w.state_dict(), "opt_a": opt_a.state_dict(),
                                       "scaler": scaler.state_dict(), "generator": gen.get_state(),
                                       "draws": [m._draws for m in aggs], "history": history,
                                       "wall": watch.elapsed()})
                if bar is not None:
                    bar.set_postfix(epoch=epoch + 1, loss=f"{loss:.4f}")
                if on_epoch_end is not None:
                    on_epoch_end(epoch)
        finally:
            if bar is not None:
                bar.close()
        wall = watch.elapsed()
        meta = save_searched(net, searched, {
            "task": task.name, "in_channels": run.data.input_shape[0], "mode": s.mode,
            "kernel_sizes": list(task.kernel_sizes), "dilations": list(task.dilations),
            "identity": identity, "wall_s": wall, "history": history})
    ckpt.unlink(missing_ok=True)
    record_wall(run, "search", wall)
    return meta


# -- training a fixed network (hpo, retrain, baseline) ----------------------------------------

def default_hp(settings: DashSettings) -> dict[str, float]:
    """The backbone's own training hyperparameters (DASH's WRN baseline, no tuning)."""
    return {"lr": settings.search_lr, "weight_decay": 5e-4, "momentum": 0.9, "dropout": 0.0}


def retrain_network(task: Any, in_channels: int, widen: int | None, dropout: float,
                    choices: dict[str, dict] | None, seed: int = 0) -> nn.Module:
    """The task's retraining backbone with the searched ``(k, d)`` per layer (full
    convolutions, as DASH retrains) or, with ``choices=None``, its default kernels; ``seed``
    initialises the replaced convolutions. Also rebuilds a finished run's network to load its
    ``retrain/model.pt`` into."""
    net = build_backbone(task, "retrain", dropout=dropout, in_channels=in_channels,
                         widen_factor=widen)
    if choices is not None:
        apply_kernel_choices(net, {n: {"k": c["k"], "d": c["d"]} for n, c in choices.items()},
                             seed=seed)
    return net


def _retrain_builder(run: DashRun, choices: dict[str, dict] | None, widen: int | None
                     ) -> Callable[[float], nn.Module]:
    """``dropout -> network`` (:func:`retrain_network` for this run)."""
    def build(dropout: float) -> nn.Module:
        return retrain_network(run.task, run.data.input_shape[0], widen, dropout, choices,
                               seed=run.seed)
    return build


def _train_fixed(run: DashRun, net: nn.Module, train: Arrays, hp: dict[str, float], epochs: int,
                 milestones: tuple[int, ...], ckpt: Path | None, identity: dict[str, Any],
                 desc: str) -> tuple[list[float], float]:
    """Train ``net`` on ``train`` with SGD(``hp``); per-epoch checkpoints at ``ckpt`` (resumed).
    Returns (per-epoch losses, wall seconds over all runs)."""
    s = run.settings
    net.to(run.dev)
    opt = torch.optim.SGD(net.parameters(), lr=hp["lr"], momentum=hp["momentum"],
                          nesterov=hp["momentum"] > 0, weight_decay=hp["weight_decay"])
    scaler = torch.amp.GradScaler("cuda", enabled=run.dev.type == "cuda")
    gen = torch.Generator().manual_seed(run.seed)
    loss_fn = make_loss(run.task)
    losses: list[float] = []
    first, watch = 0, Stopwatch(0.0, run.dev)
    state = None if ckpt is None else load_checkpoint(ckpt, identity)
    if state is not None:
        net.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        scaler.load_state_dict(state["scaler"])
        gen.set_state(state["generator"])
        set_global_rng_state(state.get("global_rng"), run.dev)   # dropout / drop-path masks
        losses, first = list(state["losses"]), int(state["epoch"]) + 1
        watch = Stopwatch(float(state["wall"]), run.dev)
    steps = math.ceil(len(train) / s.batch_size)
    bar = run.bar(epochs * steps, first * steps, desc)
    everything = torch.arange(len(train))
    try:
        for epoch in range(first, epochs):
            for g in opt.param_groups:
                g["lr"] = hp["lr"] * lr_factor(epoch, milestones, s.lr_decay)
            losses.append(run_epoch(net, train, everything, s.batch_size, loss_fn, [opt], scaler,
                                    gen, clip=s.retrain_clip, bar=bar))
            if ckpt is not None:
                save_checkpoint(ckpt, {"identity": identity, "epoch": epoch,
                                       "model": net.state_dict(), "opt": opt.state_dict(),
                                       "scaler": scaler.state_dict(), "generator": gen.get_state(),
                                       "global_rng": global_rng_state(run.dev),
                                       "losses": losses, "wall": watch.elapsed()})
            if bar is not None:
                bar.set_postfix(epoch=epoch + 1, loss=f"{losses[-1]:.4f}")
    finally:
        if bar is not None:
            bar.close()
    return losses, watch.elapsed()


def hpo_stage(run: DashRun, choices: dict[str, dict] | None = None, *,
              build: Callable[[float], nn.Module] | None = None) -> dict[str, Any]:
    """DASH's hyperparameter grid: every configuration trains the searched network on a subset
    of the training data for ``hpo_epochs`` and is scored on the validation set.

    Args:
        choices: the searched ``(k, d)`` per layer (default: read from ``search/searched.pt``).
        build: ``dropout -> network`` (default: the task's retraining backbone with ``choices``).

    Returns:
        ``{"best": {lr, weight_decay, momentum, dropout}, "rows": [...]}`` (``hpo/hpo.json``).
    """
    s, task, out = run.settings, run.task, run.out / "hpo"
    out.mkdir(parents=True, exist_ok=True)
    if build is None:
        choices = searched_choices(run) if choices is None else choices
        build = _retrain_builder(run, choices, s.retrain_widen)
    n = run.indices.size
    ratio = s.hpo_subsample if s.hpo_subsample is not None else \
        hpo_subsample_ratio(math.ceil(n / s.batch_size))
    k = max(1, int(round(ratio * n)))
    subset = np.sort(split_rng(f"{task.name}:hpo", run.seed).permutation(n)[:k])
    identity = run.identity("hpo", choices=choices, n_hpo=k)
    path = out / "hpo.json"
    done = json.loads(path.read_text()) if path.is_file() else {}
    rows: list[dict[str, Any]] = done.get("rows", []) if done.get("identity") == identity else []
    grid = s.hpo_grid()
    milestones = scaled_milestones(s.retrain_milestones, s.retrain_epochs, s.hpo_epochs)
    with run.context():
        train = run.arrays((run.data.train, run.indices[subset]))
        valid = run.arrays((run.data.valid, None))             # validation, never test
        for i, hp in enumerate(grid):
            if i < len(rows):
                continue
            torch.manual_seed(run.seed)                          # the same init for every point
            net = build(hp["dropout"])
            _, wall = _train_fixed(run, net, train, hp, s.hpo_epochs, milestones, None, identity,
                                   f"dash hpo {task.name} {i + 1}/{len(grid)}")
            score = evaluate(net, valid, task.metric, s.eval_batch_size)
            rows.append({**hp, f"valid_{task.metric}": score, "wall_s": wall})
            write_json(path, {"identity": identity, "rows": rows})
    key = f"valid_{task.metric}"
    best = min(rows, key=lambda r: r[key] if math.isfinite(r[key]) else math.inf)
    result = {"identity": identity, "rows": rows, "metric": task.metric,
              "best": {k_: best[k_] for k_ in ("lr", "weight_decay", "momentum", "dropout")},
              "n_train": k, "n_valid": len(run.data.valid)}
    write_json(path, result)
    buf = io.StringIO(newline="")
    w = csv.DictWriter(buf, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)
    atomic_write_bytes(out / "hpo.csv", buf.getvalue().encode())
    record_wall(run, "hpo", sum(r["wall_s"] for r in rows))
    return result


def searched_choices(run: DashRun, command: str = "dash", stage: str = "search"
                      ) -> dict[str, dict]:
    """The searched ``(k, d)`` per layer from ``search/searched.pt`` (``command``/``stage``:
    what the missing-file error tells the user to run)."""
    path = run.out / "search" / "searched.pt"
    if not path.is_file():
        raise ConfigError(f"{path} does not exist: run `natsbench {command} {run.task.name} "
                          f"--stage {stage}` (or --stage all) first")
    return read_checkpoint(path)["meta"]["choices"]


def _best_hp(run: DashRun) -> dict[str, float]:
    path = run.out / "hpo" / "hpo.json"
    done = json.loads(path.read_text()) if path.is_file() else {}
    if "best" not in done:
        what = "is unfinished (a killed hpo stage)" if path.is_file() else "does not exist"
        raise ConfigError(f"{path} {what}: run `natsbench {run.command} {run.task.name} --stage "
                          "hpo` (or --stage all) first")
    return done["best"]


def retrain_stage(run: DashRun, choices: dict[str, dict] | None = None,
                  hp: dict[str, float] | None = None, *,
                  build: Callable[[float], nn.Module] | None = None,
                  name: str = "retrain") -> dict[str, Any]:
    """Retrain the searched network on all training data (the training subset and the
    validation set) with the chosen hyperparameters; the test metric of the last epoch's model.

    Args:
        choices, hp: default: read from ``search/searched.pt`` and ``hpo/hpo.json``.
        build: ``dropout -> network`` (default: the retraining backbone with ``choices``).
        name: output sub-folder (``"baseline"`` for :func:`baseline_stage`).

    Returns:
        ``{"test_<metric>": value, "losses": [...], "hp": ..., "wall_s": ...}``
        (``<name>/result.json``; the weights in ``<name>/model.pt``).
    """
    s, task, out = run.settings, run.task, run.out / name
    out.mkdir(parents=True, exist_ok=True)
    if build is None:
        choices = searched_choices(run) if choices is None else choices
        build = _retrain_builder(run, choices, s.retrain_widen)
    hp = _best_hp(run) if hp is None else hp
    identity = run.identity(name, choices=choices, hp=hp)
    result_path = out / "result.json"
    if result_path.is_file():
        done = json.loads(result_path.read_text())
        if done.get("identity") == identity:
            return done
    with run.context():
        net = build(hp["dropout"])
        train = run.arrays((run.data.train, run.indices), (run.data.valid, None))
        losses, wall = _train_fixed(run, net, train, hp, s.retrain_epochs, s.retrain_milestones,
                                    out / "checkpoint.pt", identity, f"dash {name} {task.name}")
        del train
        test = run.arrays((run.data.test, None))             # read once, after the last epoch
        score = evaluate(net, test, task.metric, s.eval_batch_size)
        params = sum(p.numel() for p in net.parameters())
        save_checkpoint(out / "model.pt", net.state_dict())
    result = {"identity": identity, "task": task.name, "metric": task.metric,
              f"test_{task.metric}": score, "hp": hp, "losses": losses, "wall_s": wall,
              "params": int(params), "n_train": len(run.indices) + len(run.data.valid)}
    write_json(result_path, result)
    _write_row(out / "row.csv", run.method if name == "retrain" else f"WRN ({name})",
               task, score)
    (out / "checkpoint.pt").unlink(missing_ok=True)
    if name == "retrain":
        record_wall(run, "retrain", wall)
    return result


def _write_row(path: Path, method: str, task: Any, score: float) -> None:
    """One row in the columns of the published NAS-Bench-360 table (``method, task, metric,
    mean, std, source``), for a user results file."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["method", "task", "metric", "mean", "std", "source"])
    w.writerow([method, task.published or task.name, task.metric, score, "", "natsbench dash"])
    atomic_write_bytes(path, buf.getvalue().encode())


def baseline_stage(run: DashRun) -> dict[str, Any]:
    """The un-searched retraining backbone (its default kernels) trained with the same budget
    as :func:`retrain_stage` (epochs, data, schedule) and :func:`default_hp` (no tuning)."""
    return retrain_stage(run, None, default_hp(run.settings),
                         build=_retrain_builder(run, None, run.settings.retrain_widen),
                         name="baseline")


def run_pipeline(run: DashRun, stages: tuple[str, ...] = STAGES) -> dict[str, Any]:
    """Run ``stages`` in order (each reads the previous stages' files); returns their results.
    A stage whose outputs exist for the same identity is not rerun."""
    bad = [s for s in stages if s not in STAGES]
    if bad:
        raise ConfigError(f"stages {bad} are not valid; use {STAGES}")
    # what a stage needs from the earlier ones is read once, and before anything is written
    choices = (searched_choices(run) if "search" not in stages
               and ("hpo" in stages or "retrain" in stages) else None)
    hp = _best_hp(run) if "hpo" not in stages and "retrain" in stages else None
    run.out.mkdir(parents=True, exist_ok=True)
    write_json(run.out / "task.json", {**run.task.describe(), "data": run.data.provenance,
                                        "settings": run.settings.to_dict(), "seed": run.seed,
                                        "device": str(run.dev)})
    results: dict[str, Any] = {}
    if "search" in stages:
        results["search"] = search_stage(run)
        choices = results["search"]["choices"]
    if "hpo" in stages:
        results["hpo"] = hpo_stage(run, choices)
        hp = results["hpo"]["best"]
    if "retrain" in stages:
        results["retrain"] = retrain_stage(run, choices, hp)
    return results

"""One comparison row per finished run folder of ``natsbench d2nas`` or ``natsbench dash``
(D2NAS Table 3's columns plus the metric and per-stage wall times), for result files.

``summarize(out)`` reads the folder's ``retrain/result.json``, ``wall_times.json`` and settings,
rebuilds the retrained network (D2NAS: from ``network.json``; DASH: the task's retraining WRN with
the searched kernels) and counts its params (M) and FLOPs (M multiply-adds per example,
:func:`natsbench.models.costs.count_flops`). ``write_rows(folders, path)`` writes them as CSV::

    python -c "from search_algorithms.d2nas.report import write_rows; \\
               write_rows(['runs/d2nas-digits', 'runs/dash-digits'], 'rows.csv')"
"""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from natsbench._optional import require

require("torch", extra="train")  # the networks it rebuilds need torch: a missing one names the extra

from natsbench.errors import ConfigError
from natsbench.models.costs import count_flops, count_params
from natsbench.store.records import atomic_write_bytes
from natsbench.tasks import get_task
from natsbench.train.checkpoint import read_checkpoint
from search_algorithms.d2nas.network import build_network
from search_algorithms.dash.stages import retrain_network

__all__ = ["summarize", "write_rows", "COLUMNS"]

COLUMNS: tuple[str, ...] = (
    "method", "task", "config", "seed", "metric", "test_value", "params_M", "flops_M",
    "cell_s", "kernel_search_s", "hpo_s", "retrain_s", "total_s", "hp_lr", "hp_weight_decay",
    "hp_momentum", "hp_dropout", "retrain_epochs", "device")


def _load(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"{path} does not exist: the run folder is not finished")
    return json.loads(path.read_text())


def summarize(out: str | Path) -> dict[str, Any]:
    """The row of one finished run folder (module docstring)."""
    out = Path(out)
    result = _load(out / "retrain" / "result.json")
    walls = _load(out / "wall_times.json")
    if (out / "d2nas.json").is_file():
        info = _load(out / "d2nas.json")
        spec = _load(out / "network.json")
        net = build_network(spec)
        method, config = "D2NAS", info["config"]["name"]
        settings = info["dash_settings"]
    else:
        info = _load(out / "task.json")
        settings = info["settings"]
        task = get_task(info["name"])
        meta = read_checkpoint(out / "search" / "searched.pt")["meta"]
        net = retrain_network(task, int(meta["in_channels"]), settings.get("retrain_widen"),
                              float(result["hp"]["dropout"]), meta["choices"])
        method, config = "DASH", "-"
    net.load_state_dict(read_checkpoint(out / "retrain" / "model.pt"))
    shape = (1, *info["input_shape"]) if "input_shape" in info else None
    if shape is None:
        raise ConfigError(f"{out}: no input shape recorded")
    metric = result["metric"]
    stages = {"cell_s": walls.get("cell"), "kernel_search_s": walls.get("search"),
              "hpo_s": walls.get("hpo"), "retrain_s": walls.get("retrain")}
    hp = result["hp"]
    return {"method": method, "task": info["name"], "config": config, "seed": info["seed"],
            "metric": metric, "test_value": result[f"test_{metric}"],
            "params_M": round(count_params(net), 6),
            "flops_M": round(count_flops(net, shape), 4),
            **{k: (None if v is None else round(float(v), 1)) for k, v in stages.items()},
            "total_s": round(sum(float(v) for v in stages.values() if v is not None), 1),
            "hp_lr": hp["lr"], "hp_weight_decay": hp["weight_decay"],
            "hp_momentum": hp["momentum"], "hp_dropout": hp["dropout"],
            "retrain_epochs": settings["retrain_epochs"], "device": info.get("device", "")}


def write_rows(folders: list[str | Path], path: str | Path) -> list[dict[str, Any]]:
    """:func:`summarize` every folder and write the rows as CSV (atomically)."""
    rows = [summarize(f) for f in folders]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(COLUMNS), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    atomic_write_bytes(Path(path), buf.getvalue().encode())
    return rows

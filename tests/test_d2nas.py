"""D2NAS: configurations and space counts, the progressive cell search (pruning to 3 candidates,
a valid derived cell, seeded and resumable), the kernel stage (1x1 convolutions untouched, the
others set to the chosen (k, d)), 1D networks, every NAS-Bench-360 configuration on data of its
exact shape, the pipeline end to end (no test set before retraining), proxy data, the CLI."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from natsbench.errors import ConfigError  # noqa: E402
from natsbench.models.wrn import WideResNet2d  # noqa: E402
from natsbench.tasks import NB360_TASKS, OFFLINE_TASKS, get_task  # noqa: E402
from natsbench.tasks.data import ArraySet, TaskData  # noqa: E402
from natsbench.tasks.loaders import load_task  # noqa: E402
from natsbench.tasks.objectives import make_loss  # noqa: E402
from search_algorithms.d2nas.configs import (CellSettings, StageShape, cell_settings,  # noqa: E402
                                             get_config, preset_config, reduction_layers,
                                             space_counts)
from search_algorithms.d2nas.network import (CellSupernet, build_network, derive_cells,  # noqa: E402
                                             network_spec, prune_candidates)
from search_algorithms.d2nas.stages import (D2nasRun, cell_stage, dash_search_layers,  # noqa: E402
                                            kernel_stage, load_final, run_pipeline)
from search_algorithms.dash.settings import settings_for  # noqa: E402
from search_algorithms.dash.stages import load_searched  # noqa: E402

from natsbench.testing.trap import TrapSet as _Trap  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


# -- configurations and counting --------------------------------------------------------------

def test_tables_6_and_7():
    c = get_config("cifar100", "common")
    assert c.task_type == "2D" and c.steps == 4 and not c.dense
    assert [s.channels for s in c.cell_stages] == [8, 16] and c.retrain.channels == 48
    assert c.kernel.grad_clip == 5.0 and c.retrain.grad_clip is None
    darcy = get_config("darcyflow")
    assert darcy.dense and [s.layers for s in darcy.cell_stages] == [3, 4]
    assert darcy.hpo.grad_clip == 5.0 and darcy.cell_stages[0].grad_clip == 1.0
    assert reduction_layers(darcy, 4) == ()
    ecg = get_config("ecg", "custom")
    assert ecg.steps == 3 and ecg.retrain == StageShape(None, 3, 4)
    assert get_config("cifar100", "custom").retrain == StageShape(None, 11, 32)
    # no custom run in the paper: the type's common configuration, said so in the source
    assert get_config("deepsea", "custom").retrain == get_config("deepsea").retrain
    assert "no custom" in get_config("deepsea", "custom").source
    assert get_config("digits").task_type == "2D" and get_config("long1d").steps == 3
    with pytest.raises(ConfigError, match="fancy"):
        get_config("digits", "fancy")
    quick = preset_config(get_config("digits"), get_task("digits"))     # offline default: quick
    assert quick.retrain.channels == quick.hpo.channels == 16 and quick.retrain.layers == 2
    assert preset_config(c, get_task("cifar100")) == c                 # NB360 default: full
    # D2NAS' reduction depths: L // 3 and max(3, 2L // 3), those below L
    assert reduction_layers(c, 2) == (0,) and reduction_layers(c, 3) == (1,)
    assert reduction_layers(c, 11) == (3, 7)


def test_space_counts_equal_the_papers():
    task = get_task("cifar100")
    layers = dash_search_layers(task)
    assert layers == 13                                   # WRN-16's searched convolutions
    counts = space_counts(task, get_config(task), dash_layers=layers)
    # D2NAS sec. III-A and IV-B
    assert (counts["joint"], counts["darts"], counts["dash"]) == (560, 224, 208)
    assert (counts["stage1"], counts["stage2_max"]) == (140, 256)
    assert (counts["staged_min"], counts["staged_max"]) == (140, 396)
    half = space_counts(task, get_config(task), dash_layers=layers, conv_share=0.5)
    assert half["staged"] == 140 + 128
    one_d = space_counts(get_task("ecg"), get_config("ecg"), dash_layers=1)
    assert one_d["edges"] == 9 and one_d["stage1"] == 2 * 9 * 5


# -- cell search building blocks --------------------------------------------------------------

def _config(task: str, clip: float | None = 5.0, channels: int = 4):
    shape = StageShape(clip, 2, channels)
    return get_config(task).replace(cell_stages=(shape, StageShape(clip, 3, channels)),
                                    kernel=StageShape(clip, 3, channels),
                                    hpo=StageShape(None, 3, channels),
                                    retrain=StageShape(None, 3, channels))


def _valid_cell(cell: list, steps: int) -> None:
    for node in range(2, steps + 2):
        into = [e for e in cell if e[0] == node]
        assert len(into) == 2 and into[0][1] != into[1][1], (node, into)
        assert all(e[1] < node and e[2] != "none" for e in into)


def test_pruning_keeps_the_strongest_ops_with_none_ranked_like_the_others():
    cfg = _config("digits")
    net = CellSupernet(cfg, 10, 1, 2, 4, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        net.strength.logits.zero_()
        net.strength.logits[:, :, cfg.ops.index("dil_conv_5x5")] = 2.0
        net.strength.logits[:, :, cfg.ops.index("avg_pool_3x3")] = 1.0
        net.strength.logits[:, :, cfg.ops.index("none")] = -1.0    # weakest: pruned
        net.strength.logits[:, :, cfg.ops.index("skip_connect")] = 0.5
    kept = prune_candidates(net, 3)
    assert all(row == ["skip_connect", "avg_pool_3x3", "dil_conv_5x5"]
               for c in kept.values() for row in c)
    with torch.no_grad():
        net.strength.logits[:, :, cfg.ops.index("none")] = 5.0     # strongest: kept
    kept = prune_candidates(net, 3)
    assert all(row == ["none", "avg_pool_3x3", "dil_conv_5x5"] for c in kept.values() for row in c)
    pruned = CellSupernet(cfg, 10, 1, 2, 4, kept, torch.Generator().manual_seed(0))
    w = pruned.mixing()
    dead = [cfg.ops.index("skip_connect"), cfg.ops.index("sep_conv_3x3")]
    assert torch.all(w[:, :, dead] == 0) and torch.allclose(w.sum(-1), torch.ones(2, 14))
    # the dead ops' modules are gone (no parameters), the live ones exist
    edge = pruned.body.cells[0].edges[0]
    assert set(edge.candidates) == {"avg_pool_3x3", "dil_conv_5x5"}
    with torch.no_grad():
        pruned.strength.logits.zero_()
        pruned.strength.logits[:, :, cfg.ops.index("skip_connect")] = 50.0  # dead: must not win
    cells = derive_cells(pruned)
    for cell in cells.values():
        _valid_cell(cell, 4)
        assert {e[2] for e in cell} <= {"avg_pool_3x3", "dil_conv_5x5"}


def _run(tmp_path: Path, task: str = "local1d", data: TaskData | None = None, stride: int = 8,
         epochs: int = 3, **kw) -> D2nasRun:
    data = load_task(task) if data is None else data
    settings = settings_for(data.task).replace(search_epochs=1, hpo_epochs=1, retrain_epochs=1,
                                               hpo_lrs=(0.05,), hpo_weight_decays=(5e-4,),
                                               hpo_momenta=(0.9,), hpo_dropouts=(0.0,),
                                               batch_size=32)
    cell = CellSettings(epochs=epochs, warmup_epochs=1, batch_size=32)
    options = {"train_indices": np.arange(0, len(data.train), stride), "config": _config(task),
               "cell": cell, "device": "cpu", "progress": False, "num_threads": 1, **kw}
    return D2nasRun(data, settings, tmp_path, **options)


def test_cell_search_prunes_to_three_and_derives_a_valid_cell(tmp_path):
    res = cell_stage(_run(tmp_path))
    first, last = res["stages"]
    assert all(len(row) == 5 for c in first["candidates"].values() for row in c)
    assert all(len(row) == 3 for c in last["candidates"].values() for row in c)
    assert (first["layers"], last["layers"]) == (2, 3)                # the stages deepen
    for kind in ("normal", "reduce"):
        _valid_cell(res["cells"][kind], 3)                              # 1D: 3 nodes, 9 edges
        live = {(e, op) for e, row in enumerate(last["candidates"][kind]) for op in row}
        edges = [(j, i) for j in range(2, 5) for i in range(j)]
        assert all((edges.index((t, f)), op) in live for t, f, op in res["cells"][kind])
    assert res["data"]["architecture"] == "valid"
    assert [h["stage"] for h in res["history"]] == [0, 0, 0, 1, 1, 1]
    # the architecture was frozen in the warm-up epoch, then moved
    a = [np.asarray(h["alphas"]) for h in res["history"]]
    assert np.allclose(a[0], 0.2, atol=1e-2) and not np.allclose(a[2], a[0], atol=1e-4)
    assert not (tmp_path / "cell" / "checkpoint.pt").exists()


def _cell_resumes(tmp_path: Path, stops: tuple[int, ...]) -> None:
    def run(name: str, **kw) -> D2nasRun:
        return _run(tmp_path / name, stride=16, epochs=2, **kw)

    whole = cell_stage(run("a"))
    again = cell_stage(run("b"))
    assert again["history"] == whole["history"] and again["cells"] == whole["cells"]
    for stop in stops:
        killed = run(f"k{stop}")
        assert cell_stage(killed, stop_after=stop) == {}
        assert (tmp_path / f"k{stop}" / "cell" / "checkpoint.pt").is_file()
        assert not (tmp_path / f"k{stop}" / "cell" / "cell.json").exists()
        resumed = cell_stage(run(f"k{stop}"))
        assert resumed["history"] == whole["history"] and resumed["cells"] == whole["cells"]
    other = cell_stage(run("c", seed=1))
    assert other["history"] != whole["history"]


def test_seeded_cell_search_is_identical_and_a_killed_one_resumes(tmp_path):
    _cell_resumes(tmp_path, (3,))                        # killed in the last stage


@pytest.mark.slow
def test_cell_search_resumes_wherever_killed(tmp_path):
    _cell_resumes(tmp_path, (1, 2))                      # mid first stage, at the boundary


def test_kernel_stage_sets_every_non_pointwise_conv_and_leaves_1x1_alone(tmp_path):
    data = load_task("local1d")
    trapped = TaskData(data.task, data.train, data.valid, _Trap(len(data.test)), data.provenance)
    run = _run(tmp_path, data=trapped)
    cell_stage(run)
    meta = kernel_stage(run)                                 # never reads test
    spec = json.loads((tmp_path / "kernel" / "network.json").read_text())
    base = build_network({**spec, "kernels": {}})
    before = {n: m for n, m in base.named_modules() if isinstance(m, torch.nn.Conv1d)}
    net, _ = load_searched(tmp_path / "search" / "searched.pt", base=build_network(
        {**spec, "kernels": {}}))
    after = {n: m for n, m in net.named_modules() if isinstance(m, torch.nn.Conv1d)}
    assert set(after) == set(before)
    pointwise = {n for n, m in before.items() if m.kernel_size == (1,)}
    assert pointwise and set(meta["choices"]) == set(before) - pointwise
    for n in pointwise:
        assert after[n].kernel_size == (1,) and after[n].dilation == (1,)
        assert after[n].weight.shape == before[n].weight.shape
    task = get_task("local1d")
    for n, c in meta["choices"].items():
        assert (after[n].kernel_size, after[n].dilation) == ((c["k"],), (c["d"],))
        assert c["k"] in task.kernel_sizes and c["d"] in task.dilations
    # the spec alone rebuilds the same network (kernels included)
    rebuilt = {n: m for n, m in build_network(spec).named_modules()
               if isinstance(m, torch.nn.Conv1d)}
    assert {n: (m.kernel_size, m.dilation) for n, m in rebuilt.items()} == \
        {n: (m.kernel_size, m.dilation) for n, m in after.items()}


# -- networks ---------------------------------------------------------------------------------

def test_1d_cell_network_builds_and_trains():
    cfg = get_config("long1d")
    cells = {"normal": [[2, 0, "sep_conv_3x3"], [2, 1, "dil_conv_5x5"], [3, 2, "skip_connect"],
                        [3, 0, "avg_pool_3x3"], [4, 3, "sep_conv_3x3"], [4, 1, "skip_connect"]],
             "reduce": [[2, 0, "avg_pool_3x3"], [2, 1, "sep_conv_3x3"], [3, 2, "dil_conv_5x5"],
                        [3, 1, "skip_connect"], [4, 0, "sep_conv_3x3"], [4, 3, "skip_connect"]]}
    spec = network_spec(cfg, cells, 2, 1, (1, 64), 3, 8)
    torch.manual_seed(0)
    net = build_network(spec)
    assert spec["reduction_layers"] == [1] and net.cells[1].reduction
    assert all(isinstance(m, (torch.nn.Conv1d,)) for m in net.modules()
               if isinstance(m, torch.nn.modules.conv._ConvNd))
    x = torch.randn(16, 1, 64)
    y = (x[:, 0, :32].sum(1) > 0).long()
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    losses = []
    for _ in range(15):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(net(x), y)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert net(x).shape == (16, 2) and losses[-1] < 0.5 * losses[0]


def _fake_data(task_name: str, n: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    task = get_task(task_name)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, *task.input_shape, generator=g)
    if task.output == "classes":
        y = torch.arange(n) % task.num_outputs
    elif task.output == "multilabel":
        y = (torch.rand(n, task.num_outputs, generator=g) > 0.5).float()
    else:
        y = torch.rand(n, task.num_outputs, *task.input_shape[1:], generator=g)
    return x, y


_HEAVY = {"spherical", "fsd50k", "darcyflow", "psicov", "cosmic", "ecg", "deepsea"}


@pytest.mark.parametrize("task_name", [pytest.param(t, marks=pytest.mark.slow) if t in _HEAVY
                                       else t for t in NB360_TASKS])
def test_every_nb360_configuration_builds_and_steps(task_name):
    """Stage 1's supernet takes a bi-level step and the retraining network (common; custom
    where the paper has one, at a reduced width when its table's would be slow) a training
    step, on generated data of the task's exact shape."""
    task = get_task(task_name)
    cfg = get_config(task, "common")
    x, y = _fake_data(task_name)
    loss_fn = make_loss(task)
    torch.manual_seed(0)
    shape = cfg.cell_stages[0]
    sup = CellSupernet(cfg, task.num_outputs, task.input_shape[0], shape.layers, 4)
    out = sup(x)
    expected = (2, task.num_outputs, *task.input_shape[1:]) if task.dense else (2, task.num_outputs)
    assert out.shape == expected
    loss_fn(out, y).backward()
    assert sup.strength.logits.grad is not None and sup.strength.logits.grad.abs().sum() > 0
    cells = derive_cells(sup)
    for name in ("common", "custom"):
        c = get_config(task, name)
        width = min(c.retrain.channels, 8)
        spec = network_spec(c, cells, task.num_outputs, task.input_shape[0], task.input_shape,
                            c.retrain.layers, width)
        net = build_network(spec)
        assert len(net.cells) == c.retrain.layers
        assert [i for i, cell in enumerate(net.cells) if cell.reduction] == \
            list(reduction_layers(c, c.retrain.layers))
        opt = torch.optim.SGD(net.parameters(), lr=0.01)
        loss = loss_fn(net(x), y)
        loss.backward()
        opt.step()
        assert torch.isfinite(loss)


# -- pipeline ---------------------------------------------------------------------------------

def test_pipeline_end_to_end_no_test_set_before_retraining(tmp_path):
    data = load_task("local1d")
    trapped = TaskData(data.task, data.train, data.valid, _Trap(len(data.test)), data.provenance)
    run = _run(tmp_path, data=trapped, stride=16)
    results = run_pipeline(run, ("cell", "kernel", "hpo"))        # never reads test
    assert results["hpo"]["best"]["lr"] == 0.05
    results = run_pipeline(_run(tmp_path, stride=16))                      # earlier stages are reused
    assert results["cell"]["cells"] == json.loads((tmp_path / "cell/cell.json").read_text())["cells"]
    res = results["retrain"]
    assert 0.0 <= res["test_error_pct"] <= 100.0
    net, spec = load_final(tmp_path)                              # network.json alone + weights
    assert res["params_M"] == pytest.approx(sum(p.numel() for p in net.parameters()) / 1e6)
    assert res["flops_M"] > 0
    for f in ("d2nas.json", "space_counts.json", "network.json", "cell/cell.json",
              "kernel/network.json", "search/searched.pt", "hpo/hpo.json", "retrain/model.pt",
              "retrain/row.csv", "wall_times.md"):
        assert (tmp_path / f).is_file(), f
    table = (tmp_path / "wall_times.md").read_text()
    assert "Cell search" in table and "Kernel search" in table and "| local1d |" in table
    assert "D2NAS common" in (tmp_path / "retrain/row.csv").read_text()
    wider = _run(tmp_path, stride=16, config=_config("local1d").replace(
        retrain=StageShape(None, 3, 8)))
    assert cell_stage(wider)["wall_s"] == results["cell"]["wall_s"]   # not rerun for a new width
    from search_algorithms.d2nas.report import summarize

    row = summarize(tmp_path)                                     # the result-file row
    assert (row["method"], row["task"], row["test_value"]) == ("D2NAS", "local1d",
                                                               res["test_error_pct"])
    assert row["params_M"] == pytest.approx(res["params_M"]) and row["cell_s"] > 0
    counts = json.loads((tmp_path / "space_counts.json").read_text())
    assert counts["staged_min"] <= counts["staged"] <= counts["staged_max"]


def test_proxy_indices_restrict_every_cell_search_batch(tmp_path):
    """Examples outside the selection are NaN: one of them in a batch would make the loss NaN
    (FloatingPointError); the validation set is a trap (proxy data takes both halves from
    train)."""
    data = load_task("local1d")
    weight_idx, arch_idx = np.arange(0, 400, 2), np.arange(1, 400, 2)
    x = np.full_like(data.train.x, np.nan)
    keep = np.concatenate([weight_idx, arch_idx])
    x[keep] = data.train.x[keep]
    poisoned = TaskData(data.task, ArraySet(x, data.train.y), _Trap(len(data.valid)),
                        _Trap(len(data.test)), data.provenance)
    run = _run(tmp_path, data=poisoned, train_indices=keep, cell_indices=weight_idx,
               arch_indices=arch_idx)
    res = cell_stage(run)
    assert res["data"] == {"weights": "train[200 indices]", "architecture": "train[200 indices]"}
    kernel_stage(run)                                   # single-level: the whole selection
    with pytest.raises(FloatingPointError):             # the poison is real
        cell_stage(_run(tmp_path / "bad", data=poisoned, train_indices=np.arange(0, 800, 2),
                        cell_indices=np.arange(0, 800, 2), arch_indices=arch_idx))


def test_cli_errors_before_work(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-m", "natsbench.cli", "d2nas", "digits", "--out",
                           str(tmp_path / "o"), "--stage", "hpo"], env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2 and "--stage cell" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_cli_runs_all_stages(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-m", "natsbench.cli", "d2nas", "local1d", "--out",
                           str(tmp_path / "run"), "--cell-epochs", "2", "--kernel-epochs", "1",
                           "--hpo-epochs", "1", "--retrain-epochs", "1", "--threads", "1",
                           "--no-progress"], env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert set(summary) >= {"cells", "kernels", "hp", "test_error_pct", "params_M", "flops_M"}
    assert "| local1d |" in proc.stderr


def test_offline_tasks_have_configs():
    for name in OFFLINE_TASKS:
        cfg = get_config(name)
        assert cfg.steps == (3 if get_task(name).dims == 1 else 4)
        assert cell_settings(get_task(name)).epochs == 6


def test_searched_conv_count_of_a_wrn_is_its_non_pointwise_convs():
    net = WideResNet2d(depth=16, widen_factor=1, in_channels=3, num_classes=10)
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    assert dash_search_layers(get_task("cifar100")) == sum(1 for m in convs if m.kernel_size != (1, 1))


def test_dense_networks_keep_the_resolution_with_normal_cells_only():
    cfg = get_config("darcyflow")
    torch.manual_seed(0)
    sup = CellSupernet(cfg, 1, 3, cfg.cell_stages[0].layers, 4)
    assert not any(cell.reduction for cell in sup.body.cells)
    x = torch.randn(2, 3, 12, 12)
    assert sup(x).shape == (2, 1, 12, 12)
    cells = derive_cells(sup)
    assert cells["reduce"] == cells["normal"]                   # no reduction cell to search
    net = build_network(network_spec(cfg, cells, 1, 3, (3, 12, 12), 4, 4))
    out = net(x)
    assert out.shape == (2, 1, 12, 12) and not any(c.reduction for c in net.cells)
    counts = space_counts(get_task("darcyflow"), cfg, dash_layers=13)
    assert counts["cells"] == 1 and counts["stage1"] == 14 * 5


def test_cli_proxy_data_splits_the_selection_for_the_cell_search(tmp_path):
    from natsbench.datasets.proxy import FORMAT, labels_digest

    data = load_task("local1d")
    picked = list(range(0, 120, 3))                       # 40 examples of the training set
    doc = {"format": FORMAT, "dataset": "local1d", "indices": picked,
           "train_size": len(data.train), "labels_sha1": labels_digest(data.train.y), "seed": 3}
    sel = tmp_path / "sel.json"
    sel.write_text(json.dumps(doc))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "natsbench.cli", "d2nas", "local1d", "--out",
                           str(out), "--stage", "cell", "--cell-epochs", "2", "--proxy-data",
                           str(sel), "--threads", "1", "--no-progress"], env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    res = json.loads((out / "cell" / "cell.json").read_text())
    assert res["data"] == {"weights": "train[20 indices]", "architecture": "train[20 indices]"}
    assert res["identity"]["n_subset"] == 40                 # the later stages: all 40


def test_cell_search_out_of_core_equals_in_memory(tmp_path):
    """Sets kept on the host (a memory-mapped FSD50K feature cache is) give the same search:
    every weight and architecture batch holds the same examples in the same order."""
    data = load_task("local1d")
    runs = {mode: cell_stage(_run(tmp_path / str(mode), data=data, epochs=2, out_of_core=mode))
            for mode in (False, True)}
    assert runs[True]["cells"] == runs[False]["cells"]
    for a, b in zip(runs[True]["history"], runs[False]["history"]):
        assert np.array_equal(np.asarray(a["alphas"]), np.asarray(b["alphas"]))
        assert a["train_loss"] == b["train_loss"]


def test_later_stages_refuse_cells_of_another_search_and_rerun_only_what_changed(tmp_path):
    run = _run(tmp_path, stride=16, epochs=2)
    cell_stage(run)
    # same folder, other cell settings: the kernel stage must not build on those cells
    other = _run(tmp_path, stride=16, epochs=3)
    with pytest.raises(ConfigError, match="--stage cell"):
        other.identity("search")
    # another retraining width changes the retraining's identity only
    wider = _run(tmp_path, stride=16, epochs=2,
                 config=run.config.replace(retrain=StageShape(run.config.retrain.grad_clip,
                                                              run.config.retrain.layers, 24)))
    assert wider.identity("search") == run.identity("search")
    assert wider.identity("hpo") == run.identity("hpo")
    assert wider.identity("retrain") != run.identity("retrain")


def test_architecture_batches_are_full_and_cover_the_validation_set():
    from search_algorithms.d2nas.stages import _cyclic_batches

    gen = torch.Generator().manual_seed(0)
    stream = _cyclic_batches(10, 4, gen)
    batches = [next(stream) for _ in range(5)]                   # 20 indices = 2 passes
    assert all(len(b) == 4 for b in batches)
    flat = torch.cat(batches)
    assert sorted(flat[:10].tolist()) == list(range(10)) == sorted(flat[10:].tolist())
    assert [len(b) for b in (next(_cyclic_batches(3, 8, gen)),)] == [3]   # fewer than a batch

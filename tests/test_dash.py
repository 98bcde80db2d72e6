"""The DASH pipeline: discretized convolutions, the three implementations, end to end on a tiny
task (search and hpo never read the test set), resume of a killed search and hpo, the CLI."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from natsbench.models.wrn import WideResNet1d, WideResNet2d, replace_convs_with_aggregated  # noqa: E402
from natsbench.ops.aggregated_conv import AggregatedConv  # noqa: E402
from natsbench.tasks import get_task  # noqa: E402
from natsbench.tasks.data import TaskData  # noqa: E402
from natsbench.tasks.loaders import load_task  # noqa: E402
from search_algorithms.dash.settings import full_settings, quick_settings, settings_for  # noqa: E402
from search_algorithms.dash.stages import (DashRun, hpo_stage, load_searched, run_pipeline,  # noqa: E402
                                           save_searched, search_stage)

from natsbench.testing.trap import TrapSet as _Trap  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def _tiny_supernet(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    net = WideResNet1d(in_channels=1, num_classes=2, mid_channels=4)
    replace_convs_with_aggregated(net, (3, 7, 11), (1, 3, 7))
    return net


def test_searched_convs_are_the_chosen_kernels(tmp_path):
    net = _tiny_supernet()
    aggs = [(n, m) for n, m in net.named_modules() if isinstance(m, AggregatedConv)]
    picks = {}
    with torch.no_grad():
        for i, (name, m) in enumerate(aggs):       # a different one-hot choice per layer
            j = (5 * i + 1) % len(m.candidates)
            m.arch_params.fill_(-1e4)
            m.arch_params[j] = 1e4
            picks[name] = m.candidates[j]
    meta = save_searched(net, tmp_path / "searched.pt", {"task": "local1d", "in_channels": 1})
    assert {n: (c["k"], c["d"]) for n, c in meta["choices"].items()} == picks
    readable = json.loads((tmp_path / "searched.json").read_text())
    assert {n: (c["k"], c["d"]) for n, c in readable["choices"].items()} == picks
    rebuilt, _ = load_searched(tmp_path / "searched.pt")          # from the file alone
    modules = dict(rebuilt.named_modules())
    for name, (k, d) in picks.items():
        conv = modules[name]
        assert isinstance(conv, torch.nn.Conv1d)
        e = d * (k - 1) + 1
        assert (conv.kernel_size, conv.dilation, conv.padding) == ((k,), (d,), ((e - 1) // 2,))
        # receptive field: an impulse at position p reaches exactly [p - (e-1)/2, p + (e-1)/2]
        x = torch.zeros(1, conv.in_channels, 200)
        x[0, :, 100] = 1.0
        with torch.no_grad():
            y = torch.nn.functional.conv1d(x, torch.ones_like(conv.weight), None,
                                           padding=conv.padding, dilation=conv.dilation,
                                           groups=conv.groups)
        support = torch.nonzero(y[0].abs().sum(0)).flatten()
        assert (support.min().item(), support.max().item()) == (100 - (e - 1) // 2, 100 + (e - 1) // 2)
        assert y.shape[-1] == 200                      # "same" padding
    net.eval()
    rebuilt.eval()
    x = torch.randn(3, 1, 50)
    torch.testing.assert_close(rebuilt(x), net(x), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("dims", [1, 2])
def test_three_implementations_agree_on_a_supernet(dims):
    def build(mode):
        torch.manual_seed(0)
        if dims == 1:
            net = WideResNet1d(in_channels=2, num_classes=3, mid_channels=4)
            replace_convs_with_aggregated(net, (3, 7), (1, 3), mode)
        else:
            net = WideResNet2d(depth=10, widen_factor=1, in_channels=1, num_classes=3)
            replace_convs_with_aggregated(net, (3, 5), (1, 3), mode)
        with torch.no_grad():
            for m in net.modules():
                if isinstance(m, AggregatedConv):
                    m.arch_params.copy_(torch.linspace(-1, 1, m.arch_params.numel()))
        return net

    x = torch.randn((4, 2, 40) if dims == 1 else (4, 1, 12, 12),
                    generator=torch.Generator().manual_seed(1))
    y = torch.tensor([0, 1, 2, 1])
    outs, grads = {}, {}
    for mode in ("mixed_results", "mixed_weights", "fft"):
        net = build(mode)
        out = net(x)
        torch.nn.functional.cross_entropy(out, y).backward()
        outs[mode] = out.detach()
        grads[mode] = [p.grad.clone() for p in net.parameters()]
    for mode in ("mixed_weights", "fft"):
        torch.testing.assert_close(outs[mode], outs["mixed_results"], rtol=1e-4, atol=1e-5)
        for a, b in zip(grads[mode], grads["mixed_results"]):
            torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-5)


def test_settings_sources():
    deepsea, darcy = full_settings(get_task("deepsea")), full_settings(get_task("darcyflow"))
    assert (deepsea.search_lr, deepsea.arch_lr, darcy.search_lr, darcy.arch_lr) == \
        (0.1, 0.05, 1e-2, 5e-3)
    assert deepsea.retrain_milestones == (30, 60, 90, 120, 160)
    assert full_settings(get_task("cifar100")).retrain_milestones == (60, 120, 160)
    assert len(deepsea.hpo_grid()) == 3 * 2 * 2 * 2 and len(darcy.hpo_grid()) == 3
    quick = quick_settings(get_task("digits"))
    assert quick.search_milestones == (5,) and quick.retrain_milestones == (4, 9, 12)
    assert settings_for(get_task("digits")) == quick
    assert settings_for(get_task("ecg")) == full_settings(get_task("ecg"))


def _tiny(task: str = "local1d", **kw):
    data = load_task(task)
    changes = {"search_epochs": 2, "hpo_epochs": 1, "retrain_epochs": 2, "hpo_lrs": (0.1, 0.01),
               "hpo_dropouts": (0.0,), "batch_size": 32, **kw}
    settings = settings_for(data.task).replace(**changes)
    return data, settings


def test_pipeline_end_to_end_and_no_test_set_in_search(tmp_path):
    data, settings = _tiny()
    subset = np.arange(0, 1200, 4)                       # the training-subset hook: 300 examples
    trapped = TaskData(data.task, data.train, _Trap(len(data.valid)), _Trap(len(data.test)),
                       data.provenance)
    run = DashRun(trapped, settings, tmp_path, device="cpu", train_indices=subset,
                  progress=False, num_threads=1)
    meta = search_stage(run)                             # neither valid nor test is read
    assert len(meta["choices"]) == 9 and meta["identity"]["n_subset"] == 300
    trapped_test = TaskData(data.task, data.train, data.valid, _Trap(len(data.test)),
                            data.provenance)
    run = DashRun(trapped_test, settings, tmp_path, device="cpu", train_indices=subset,
                  progress=False, num_threads=1)
    hpo = hpo_stage(run)                                 # validation only
    assert len(hpo["rows"]) == 2 and hpo["best"]["lr"] in (0.1, 0.01)
    run = DashRun(data, settings, tmp_path, device="cpu", train_indices=subset, progress=False,
                  num_threads=1)
    results = run_pipeline(run)                          # search and hpo are reused, not rerun
    assert results["search"]["choices"] == meta["choices"]
    res = results["retrain"]
    assert 0.0 <= res["test_error_pct"] <= 100.0 and len(res["losses"]) == 2
    assert res["n_train"] == 300 + len(data.valid)
    for f in ("search/searched.pt", "search/searched.json", "hpo/hpo.csv", "retrain/model.pt",
              "retrain/result.json", "wall_times.csv", "wall_times.md", "task.json"):
        assert (tmp_path / f).is_file(), f
    assert not (tmp_path / "search" / "checkpoint.pt").exists()
    table = (tmp_path / "wall_times.md").read_text()
    assert "| local1d |" in table and "Hyperparameter Tuning" in table
    # the result-file row rebuilds the retrained network from the folder and loads its weights
    from natsbench.models.costs import count_params
    from search_algorithms.d2nas.report import summarize
    from search_algorithms.dash.stages import retrain_network

    row = summarize(tmp_path)
    assert (row["method"], row["task"], row["test_value"]) == ("DASH", "local1d",
                                                               res["test_error_pct"])
    net = retrain_network(data.task, data.input_shape[0], settings.retrain_widen, 0.0,
                          meta["choices"])
    assert row["params_M"] == pytest.approx(count_params(net))       # millions


def test_killed_search_resumes_to_the_same_result(tmp_path):
    data, settings = _tiny(search_epochs=3)
    subset = np.arange(0, 1200, 6)

    def run_in(out):
        return DashRun(data, settings, out, device="cpu", train_indices=subset, progress=False,
                       num_threads=1)

    whole = search_stage(run_in(tmp_path / "whole"))

    def kill(epoch):
        if epoch == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        search_stage(run_in(tmp_path / "killed"), on_epoch_end=kill)
    assert (tmp_path / "killed" / "search" / "checkpoint.pt").is_file()
    assert not (tmp_path / "killed" / "search" / "searched.pt").exists()
    resumed = search_stage(run_in(tmp_path / "killed"))
    assert [h["train_loss"] for h in resumed["history"]] == [h["train_loss"] for h in whole["history"]]
    a = torch.load(tmp_path / "whole/search/searched.pt", weights_only=True)["state_dict"]
    b = torch.load(tmp_path / "killed/search/searched.pt", weights_only=True)["state_dict"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_killed_hpo_resumes_at_the_next_point(tmp_path, monkeypatch):
    import search_algorithms.dash.stages as stages

    data, settings = _tiny()
    subset = np.arange(0, 1200, 6)
    run = DashRun(data, settings, tmp_path, device="cpu", train_indices=subset, progress=False,
                  num_threads=1)
    search_stage(run)
    real, calls = stages.evaluate, []

    def dying(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(stages, "evaluate", dying)
    with pytest.raises(KeyboardInterrupt):
        hpo_stage(run)
    rows = json.loads((tmp_path / "hpo/hpo.json").read_text())["rows"]
    assert len(rows) == 1
    monkeypatch.setattr(stages, "evaluate", real)
    done = hpo_stage(run)
    assert len(done["rows"]) == 2 and done["rows"][0] == rows[0]


@pytest.mark.slow
def test_cli_runs_all_stages(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "natsbench.cli", "dash", "local1d", "--out",
                           str(out), "--search-epochs", "1", "--hpo-epochs", "1",
                           "--retrain-epochs", "1", "--threads", "1", "--no-progress",
                           "--baseline"], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert set(summary) >= {"choices", "hp", "test_error_pct", "baseline_test_error_pct"}
    assert "| local1d |" in proc.stderr


def test_retraining_network_gets_full_convolutions_with_the_choices():
    from natsbench.models.wrn import apply_kernel_choices
    from natsbench.tasks.networks import build_backbone

    task = get_task("darcyflow")
    net = build_backbone(task, "retrain", in_channels=3, widen_factor=1)
    names = [n for n, m in net.named_modules()
             if isinstance(m, torch.nn.Conv2d) and m.kernel_size != (1, 1)]
    choices = {n: {"k": (3, 5, 7, 9)[i % 4], "d": (1, 3, 7, 15)[i % 4]} for i, n in enumerate(names)}
    apply_kernel_choices(net, choices)
    modules = dict(net.named_modules())
    for n, c in choices.items():
        conv = modules[n]
        e = c["d"] * (c["k"] - 1) + 1
        assert conv.kernel_size == (c["k"],) * 2 and conv.dilation == (c["d"],) * 2
        assert conv.padding == ((e - 1) // 2,) * 2 and conv.groups == 1
    out = net(torch.randn(1, 3, 9, 9))
    assert out.shape == (1, 1, 9, 9)                   # dense: resolution kept
    with pytest.raises(Exception, match="nope"):
        apply_kernel_choices(net, {"nope": {"k": 3, "d": 1}})


def test_evaluate_scores_with_the_sets_ignore_mask():
    """Cosmic's ignore plane reaches the metric through the stages' ``evaluate``."""
    import torch
    from torch import nn

    from natsbench.tasks.data import ArraySet
    from natsbench.tasks.objectives import compute_metric
    from search_algorithms.dash.engine import Arrays, evaluate

    rng = np.random.default_rng(0)
    y = (rng.random((3, 1, 6, 6)) < 0.3).astype(np.float32)
    x = rng.normal(size=y.shape).astype(np.float32)          # logits; nn.Identity predicts them
    x[y == 0] += 2.0                                         # many confident false positives...
    ignore = (y == 0) & (rng.random(y.shape) < 0.7)           # ...mostly flagged ignore
    data = Arrays(ArraySet(x, y, ignore.astype(np.float32)), torch.device("cpu"))
    score = evaluate(nn.Identity(), data, "1-AUROC", batch_size=2)
    assert score == compute_metric("1-AUROC", x, y, ignore=ignore.astype(np.float32))
    assert score < compute_metric("1-AUROC", x, y) - 0.05    # the mask changes the score


def test_fixed_training_resumed_with_dropout_draws_the_same_masks(tmp_path):
    """hpo points and retraining checkpoint torch's global random state (dropout draws from
    it): a run stopped after one epoch and resumed equals one never stopped."""
    from search_algorithms.dash.stages import _train_fixed

    data, settings = _tiny()
    run = DashRun(data, settings, tmp_path, device="cpu", progress=False, num_threads=1)
    hp = {"lr": 0.05, "weight_decay": 5e-4, "momentum": 0.9}

    def net():
        torch.manual_seed(0)
        c = data.input_shape[0]
        return torch.nn.Sequential(torch.nn.Conv1d(c, 8, 3, padding=1), torch.nn.ReLU(),
                                   torch.nn.Dropout(0.5), torch.nn.AdaptiveAvgPool1d(1),
                                   torch.nn.Flatten(), torch.nn.Linear(8, data.task.num_outputs))

    def train(out, epochs):
        with run.context():
            ident = {"test": "dropout"}
            m = net()
            losses, _ = _train_fixed(run, m, run.arrays((data.train, np.arange(0, 600, 3))), hp,
                                     epochs, (), out / "ckpt.pt", ident, "t")
            torch.manual_seed(123)           # whatever happens to the global RNG in between
        return losses, m

    whole, a = train(tmp_path / "whole", 3)
    train(tmp_path / "killed", 1)
    resumed, b = train(tmp_path / "killed", 3)
    assert resumed == whole
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))

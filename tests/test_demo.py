"""`natsbench demo` runs the whole tour on a complete benchmark and writes a readable report."""
from __future__ import annotations

import re

import numpy as np

from natsbench.cli import main as cli_main
from natsbench.spaces import get_space
from natsbench.store.writer import GroupBuffer, write_bench


def test_demo_tour_on_a_complete_benchmark(tmp_path, capsys):
    archs = get_space("tss").all_archs()
    rng = np.random.default_rng(0)
    group = GroupBuffer("digits", "12")
    for i in range(len(archs)):
        curve = rng.random() * 90 * (1 - np.exp(-np.arange(1, 5) / 2))
        group.add_run(i, 777, 4, {"train_loss": 2 - curve / 50, "train_acc1": curve, "train_time": [1.0] * 4,
                                  "x-valid_acc1": curve, "x-valid_loss": 2 - curve / 50, "x-valid_time": [0.1] * 4,
                                  "x-test_acc1": curve + 1, "x-test_loss": 2 - curve / 50, "x-test_time": [0.1] * 4},
                      {"params": 0.1, "flops": 1.0, "latency": 1e-3})
    bench = write_bench(tmp_path / "bench", space="tss", arch_strs=archs, groups=[group],
                        datasets={"digits": {"num_classes": 10, "eval_sets": ["x-valid", "x-test"]}})
    out = tmp_path / "demo"
    assert cli_main(["demo", "--bench", str(bench), "--out", str(out), "--runs", "5"]) == 0
    text = capsys.readouterr().out
    for algo in ("random", "rea", "reinforce", "bohb"):
        assert re.search(rf"{algo}\s+5 runs", text), text
    report = out / "report" / "index.html"
    assert report.is_file() and str(report) in text
    html = report.read_text()
    images = re.findall(r'src="([^"]+\.png)"', html)
    assert any("fig5_6_anytime" in i for i in images)
    for src in images:
        assert (report.parent / src).resolve().is_file(), src

"""`natsbench demo` runs the whole tour on a complete benchmark and writes a readable report,
without torch (the demo trains nothing: `pip install natsbench` is enough)."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

from natsbench.spaces import get_space
from natsbench.store.writer import GroupBuffer, write_bench


def test_demo_tour_on_a_complete_benchmark(tmp_path, run_python):
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
    samples = pd.DataFrame({"group": ["DARTS"] * 30 + ["10-ExtCell"] * 30,
                            "error": np.r_[rng.normal(20, 3, 30), rng.normal(15, 3, 30)],
                            "params": np.r_[rng.uniform(0.1, 0.5, 30), rng.uniform(0.2, 0.6, 30)]})
    samples.to_csv(tmp_path / "samples.csv", index=False)
    sss_bench, best_predicted = _sss_sample(tmp_path, rng)
    out = tmp_path / "demo"
    done = run_python("import sys; from natsbench.cli import main; sys.exit(main(sys.argv[1:]))",
                      "demo", "--bench", str(bench), "--out", str(out), "--runs", "5",
                      "--extcell-table", str(tmp_path / "samples.csv"), "--sss-bench", str(sss_bench),
                      hide=("torch",))
    assert done.returncode == 0, done.stderr
    text = done.stdout
    assert "80 of 32768 configurations trained" in text and "held-out Kendall tau of x-test_acc1" in text
    assert re.search(rf"best predicted \[\d+\] {best_predicted} .*\(predicted\)", text), text
    assert re.search(r"REA, 5 runs x 100 evaluations, .*: \d+% of evaluations PREDICTED", text), text
    for algo in ("random", "rea", "reinforce", "bohb"):
        assert re.search(rf"{algo}\s+5 runs", text), text
    report = out / "report" / "index.html"
    assert report.is_file() and str(report) in text
    html = report.read_text()
    images = re.findall(r'src="([^"]+\.png)"', html)
    for figure in ("fig5_6_anytime", "fig5_3", "fig5_4_valid_test", "fig4_2a", "fig4_2b_error_edf"):
        assert any(figure in i for i in images), (figure, images)
    assert re.search(r"10-ExtCell\s+n=30", text), text
    assert re.search(r"Kendall tau between digits valid and digits test accuracy over 15625 archs: 1\.000", text)  # test = valid + 1
    for src in images:
        assert (report.parent / src).resolve().is_file(), src


def _sss_sample(tmp_path, rng):
    """An sss benchmark with 80 trained configurations and stored x-test predictions for all;
    returns (path, the configuration the stored predictions rank first among the untrained)."""
    import natsbench
    from natsbench.api.surrogate import fit_surrogate, holdout_split, save_surrogate_predictions

    archs = get_space("sss").all_archs()
    group = GroupBuffer("digits", "12")
    for i in rng.choice(len(archs), size=80, replace=False).tolist():
        acc = 50 + sum(int(c) for c in archs[i].split(":")) / 8 + rng.normal()
        group.add_run(i, 777, 1, {"x-valid_acc1": [acc], "x-test_acc1": [acc + rng.normal()],
                                  "train_time": [1.0 + rng.random()], "x-valid_time": [0.1]},
                      {"params": 0.1, "flops": 1.0, "latency": 1e-3})
    path = write_bench(tmp_path / "sss", space="sss", arch_strs=archs, groups=[group],
                       datasets={"digits": {"num_classes": 10, "eval_sets": ["x-valid", "x-test"]}})
    bench = natsbench.open_bench(path)
    train, test = holdout_split(bench, "digits", "12", "x-test_acc1", 0.25)
    tau = fit_surrogate(bench, "digits", "12", "x-test_acc1", archs=train).kendall_tau(test)
    model = fit_surrogate(bench, "digits", "12", "x-test_acc1")
    save_surrogate_predictions(bench, model, holdout={"fraction": 0.25, "kendall_tau": tau})
    prediction = model.predict(np.arange(len(archs)))
    prediction[bench.evaluated("digits", "12")] = -np.inf
    return path, archs[int(np.argmax(prediction))]

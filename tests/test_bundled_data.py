"""The benchmarks shipped in data/ (package data ``natsbench._data``): complete where the docs
say so, consistent, with provenance. The shipped data is complete, so an incomplete tree fails."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import kendalltau

import natsbench
from natsbench.resources import BUNDLED_SSS, BUNDLED_TSS, EXTCELL_SAMPLES, bundled_path
from natsbench.spaces import get_space
from natsbench.spaces.tss import iso_key

TSS = bundled_path(*BUNDLED_TSS)
SSS = bundled_path(*BUNDLED_SSS)
#: metrics the bundled sss surrogates answer (data/benchmarks/build_bundled.sh)
SSS_PREDICTED = ("x-valid_acc1", "x-test_acc1", "ori-test_acc1", "train_time", "params", "flops", "latency")
EXTCELL = bundled_path("benchmarks", "extcell")
SAMPLES = bundled_path(*EXTCELL_SAMPLES)
PROVENANCE_KEYS = ("data", "protocol", "code_version", "hardware", "date", "wall_time_s", "seeds")


def _final(bench, metric: str) -> np.ndarray:
    dataset = bench.datasets[0]
    return bench.metric(dataset, bench.hps(dataset)[-1], metric)


def test_bundled_tss_benchmark_answers_every_cell_through_its_class():
    bench = natsbench.open_bench(TSS)
    assert bench.reader.num_pending_records == 0, "ship compacted arrays, not records"
    assert bench.space == "tss" and bench.manifest.arch_order == "canonical"
    assert bench.arch_strs == get_space("tss").all_archs()
    assert all(k in bench.provenance for k in PROVENANCE_KEYS), bench.provenance
    assert bench.provenance["wall_time_s"] > 0
    evaluated = bench.evaluated("digits", "12")
    table = bench.reader.arch_table()
    source = table["source_index"].to_numpy()
    trained = source < 0
    assert int(trained.sum()) == 6466  # one representative per isomorphism class
    assert evaluated.all(), f"only {int(evaluated.sum())} of 15625 cells answer"
    # every copy names a trained representative of its own class and answers with its numbers
    keys = [iso_key(a) for a in bench.arch_strs]
    copies = np.flatnonzero(~trained)
    assert (trained[source[copies]]).all()
    assert all(keys[i] == keys[source[i]] for i in copies)
    acc = _final(bench, "x-test_acc1")
    np.testing.assert_array_equal(acc[copies], acc[source[copies]])
    # a useful spread of accuracies, not a constant table
    assert np.nanmax(acc) - np.nanmin(acc) > 20 and np.nanstd(acc[trained]) > 2


def test_bundled_sss_trains_the_stratified_sample_and_predicts_the_rest():
    from natsbench.api.surrogate import (SurrogateBench, fit_surrogate, holdout_split,
                                         load_surrogate_predictions)
    from natsbench.build.plan import select_archs

    bench = natsbench.open_bench(SSS)
    assert bench.reader.num_pending_records == 0, "ship compacted arrays, not records"
    assert bench.space == "sss" and bench.manifest.arch_order == "canonical"
    assert bench.arch_strs == get_space("sss").all_archs()
    assert all(k in bench.provenance for k in PROVENANCE_KEYS), bench.provenance
    assert bench.provenance["archs"] == "stratified:2048"
    evaluated = bench.evaluated("digits", "12")
    sample = select_archs("sss", "stratified:2048").train
    # exactly the planned sample was trained
    np.testing.assert_array_equal(np.flatnonzero(evaluated), np.sort(sample))
    acc = _final(bench, "x-test_acc1")
    assert np.isfinite(acc[sample]).all() and np.nanstd(acc[sample]) > 1
    surrogates = SurrogateBench(bench, use_stored=True)
    for metric in SSS_PREDICTED:
        stored = load_surrogate_predictions(SSS, "digits", "12", metric, arch_strs=bench.arch_strs)
        assert stored.info["num_measured"] == sample.size and stored.info["holdout"]["n_test"] > 0
        values, measured = surrogates.query("digits", "12", metric)
        np.testing.assert_array_equal(measured, evaluated)  # predictions are flagged
        assert np.isfinite(values).all()
        truth = bench.metric("digits", "12", metric)
        np.testing.assert_array_equal(values[evaluated], truth[evaluated])
    # the reported held-out Kendall tau of the accuracy surrogate is reproducible, and useful
    info = load_surrogate_predictions(SSS, "digits", "12", "x-test_acc1", arch_strs=bench.arch_strs).info
    train, test = holdout_split(bench, "digits", "12", "x-test_acc1", info["holdout"]["fraction"],
                                seed=info["holdout"]["seed"])
    model = fit_surrogate(bench, "digits", "12", "x-test_acc1", seed=info["seed"], archs=train)
    tau = model.kendall_tau(test)
    # exactly with the scikit-learn that fitted it; another release may grow other trees
    import sklearn

    same_sklearn = info["sklearn"] == sklearn.__version__
    assert tau == pytest.approx(info["holdout"]["kendall_tau"], abs=1e-9 if same_sklearn else 0.03)
    # it ranks held-out configurations better than their parameter counts do
    baseline = kendalltau(bench.metric("digits", "12", "params")[test], acc[test]).statistic
    assert tau > max(baseline, 0.3), (tau, baseline)


def test_bundled_extcell_samples_come_from_their_benchmarks():
    samples = pd.read_csv(SAMPLES)
    groups = {"DARTS": EXTCELL / "darts", **{f"{k}-ExtCell": EXTCELL / f"k{k}" for k in (10, 12, 14, 16)}}
    assert samples.groupby("group").size().to_dict() == {g: 100 for g in groups}
    for group, path in groups.items():
        bench = natsbench.open_bench(path)
        assert bench.reader.num_pending_records == 0
        assert all(k in bench.provenance for k in PROVENANCE_KEYS), (path, bench.provenance)
        sub = samples[samples["group"] == group]
        assert sub["genotype"].is_unique
        idx = bench.indices_of(sub["genotype"])
        np.testing.assert_allclose(sub["error"], 100 - _final(bench, "x-test_acc1")[idx], rtol=1e-6)
        np.testing.assert_allclose(sub["params"], _final(bench, "params")[idx], rtol=1e-6)
        assert np.isfinite(sub["error"]).all() and (sub["error"] >= 0).all()
    edf = pd.read_csv(bundled_path("extcell", "edf.csv"))
    for group, curve in edf.groupby("group"):
        assert np.all(np.diff(curve["edf"]) >= 0) and curve["edf"].iloc[-1] == pytest.approx(1.0)


def test_every_result_file_in_the_repository_has_its_provenance_section():
    """data/results holds finished runs the docs quote; each file needs its own README section
    (command, code, machine, date) so its figures can be traced and redrawn."""
    from pathlib import Path

    results = Path(__file__).resolve().parents[1] / "data" / "results"
    if not results.is_dir():
        pytest.skip("data/results is repository-only and absent from this installation")
    readme = (results / "README.md").read_text()
    headings = {line[3:].strip() for line in readme.splitlines() if line.startswith("## ")}
    files = {p.name for p in results.iterdir() if p.name != "README.md"}
    assert files, "data/results is empty"
    assert files == headings, (sorted(files - headings), sorted(headings - files))
    for marker in ("<<<<<<<", ">>>>>>>", "\n=======\n"):
        assert marker not in readme
    for name in files:
        section = readme.split(f"## {name}\n", 1)[1].split("\n## ", 1)[0]
        for key in ("command", "code:", "machine:", "date:"):
            assert key in section, (name, key)

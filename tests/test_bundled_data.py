"""The benchmarks shipped in data/: complete where the docs say so, consistent, with provenance."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import natsbench
from natsbench.spaces import get_space
from natsbench.spaces.tss import iso_key

DATA = Path(__file__).resolve().parents[1] / "data"
TSS = DATA / "benchmarks" / "tss-digits"
EXTCELL = DATA / "benchmarks" / "extcell"
SAMPLES = DATA / "extcell" / "samples.csv"
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
    if not evaluated.all():
        pytest.skip(f"the bundled tss build is in progress: {int(evaluated.sum())} of 15625 answer")
    # every copy names a trained representative of its own class and answers with its numbers
    keys = [iso_key(a) for a in bench.arch_strs]
    copies = np.flatnonzero(~trained)
    assert (trained[source[copies]]).all()
    assert all(keys[i] == keys[source[i]] for i in copies)
    acc = _final(bench, "x-test_acc1")
    np.testing.assert_array_equal(acc[copies], acc[source[copies]])
    # a useful spread of accuracies, not a constant table
    assert np.nanmax(acc) - np.nanmin(acc) > 20 and np.nanstd(acc[trained]) > 2


@pytest.mark.skipif(not SAMPLES.is_file(), reason="the bundled ExtCell samples are not shipped yet")
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
    edf = pd.read_csv(DATA / "extcell" / "edf.csv")
    for group, curve in edf.groupby("group"):
        assert np.all(np.diff(curve["edf"]) >= 0) and curve["edf"].iloc[-1] == pytest.approx(1.0)

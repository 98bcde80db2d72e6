"""Sample builds of DARTS cells and k-ExtCells, their samples table and its EDF statistics
(analysis.extcell; Na, Fig. 4.2)."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import natsbench
from analysis import edf as edf_mod
from natsbench.build.builder import build
from analysis.extcell import DEFAULT_GRID, extcell_edf_statistics
from natsbench.build.extcell_samples import sample_table
from natsbench.build.plan import select_archs
from natsbench.errors import InvalidArchError, QueryError
from natsbench.spaces import darts, extcell
from natsbench.store.records import iter_records

PROTOCOL = "H0:epochs=1,batch_size=256,eval_batch_size=1024,train_fraction=0.5"


def test_select_archs_samples_unique_genotypes_of_the_budget():
    sel = select_archs("extcell", "sample:25", seed=3, space_options={"k": 12})
    assert sel.order == "custom" and len(sel.archs) == len(set(sel.archs)) == 25
    assert sel.train.tolist() == list(range(25))
    assert all(extcell.parse(a).num_ops == 12 for a in sel.archs)
    assert sel.archs == select_archs("extcell", "sample:25", seed=3, space_options={"k": 12}).archs
    sel = select_archs("darts", "sample:4", seed=0)
    assert [darts.validate(a) for a in sel.archs] == sel.archs
    with pytest.raises(InvalidArchError, match="no option 'k'"):
        select_archs("darts", "sample:4", space_options={"k": 12})


@pytest.fixture(scope="module")
def sample_benches(tmp_path_factory):
    """3 DARTS cells (builder API) and 3 10-ExtCells (the CLI), 1 epoch on 8x8 digits."""
    from natsbench.cli import main

    root = tmp_path_factory.mktemp("extcell")
    d_dir, e_dir = root / "darts", root / "ext10"
    report = build(space="darts", datasets=["digits"], protocol=PROTOCOL, seeds=[0], store=d_dir,
                   archs="sample:3", device="cpu", progress=False, image_size=8,
                   model_kwargs={"C": 4, "layers": 3})
    assert (report.ok, report.failed) == (3, 0)
    rc = main(["build", "--space", "extcell", "--extcell-k", "10", "--dataset", "digits",
               "--protocol", PROTOCOL, "--seeds", "0", "--store", str(e_dir), "--archs", "sample:3",
               "--model", "C=4,layers=3", "--image-size", "8", "--device", "cpu"])
    assert rc == 0
    return d_dir, e_dir


def test_sample_builds_train_every_genotype(sample_benches):
    d_dir, e_dir = sample_benches
    for path, space, k in ((d_dir, "darts", 16), (e_dir, "extcell", 10)):
        bench = natsbench.open_bench(path)
        assert bench.space == space and len(bench) == 3
        assert bench.evaluated("digits", bench.hps("digits")[0]).all()
        assert all(extcell.parse(a).num_ops == k for a in bench.arch_strs)
        assert bench.manifest.net_config["model_kwargs"] == {"C": 4, "layers": 3}
        params = bench.metric("digits", bench.hps("digits")[0], "params")
        assert np.isfinite(params).all() and (params > 0).all()
        assert list(iter_records(path)) == []  # compacted at the end
    ext = natsbench.open_bench(e_dir)
    assert ext.manifest.net_config["space_options"] == {"k": 10}
    # the same command again has nothing left to do
    report = build(space="extcell", datasets=["digits"], protocol=PROTOCOL, seeds=[0], store=e_dir,
                   archs="sample:3", device="cpu", progress=False, image_size=8,
                   model_kwargs={"C": 4, "layers": 3}, space_options={"k": 10})
    assert (report.planned, report.skipped) == (0, 3)


def test_extcell_edf_cli_stores_the_edfs_of_each_group(sample_benches, tmp_path, capsys):
    from natsbench.cli import main

    d_dir, e_dir = sample_benches
    # the expected values, computed here from the benchmarks with analysis.edf
    rows = []
    for path, group in ((d_dir, "DARTS"), (e_dir, "10-ExtCell")):
        bench = natsbench.open_bench(path)
        hp = bench.hps("digits")[0]
        err = 100.0 - bench.metric("digits", hp, "x-test_acc1")
        for arch, e, p in zip(bench.arch_strs, err, bench.metric("digits", hp, "params")):
            rows.append((group, arch, e, p))
    expected = pd.DataFrame(rows, columns=["group", "genotype", "error", "params"])
    lo, hi = float(expected["params"].min()), float(expected["params"].max())

    out = tmp_path / "edf" / "edf.csv"
    out.parent.mkdir()
    rc = main(["extcell-edf", str(d_dir), str(e_dir), "--out", str(out), "--bins", "2",
               "--params-range", repr(lo), repr(hi)])
    assert rc == 0
    assert "10-ExtCell" in capsys.readouterr().out

    samples = pd.read_csv(out.parent / "samples.csv")
    assert list(samples.columns[:6]) == ["group", "k", "genotype", "params", "flops", "error"]
    assert samples["group"].tolist() == ["DARTS"] * 3 + ["10-ExtCell"] * 3
    assert samples["k"].tolist() == [16] * 3 + [10] * 3
    assert samples["genotype"].tolist() == expected["genotype"].tolist()
    np.testing.assert_allclose(samples["error"], expected["error"])
    assert (samples["set"] == "x-test").all()

    curves = pd.read_csv(out)
    for group, sub in expected.groupby("group", sort=False):
        got = curves[curves["group"] == group]
        np.testing.assert_allclose(got["x"], DEFAULT_GRID)
        np.testing.assert_allclose(got["edf"], edf_mod.edf(sub["error"].to_numpy(), DEFAULT_GRID))
        w = edf_mod.complexity_weights(sub["params"].to_numpy(), bins=2, value_range=(lo, hi), empty="drop")
        np.testing.assert_allclose(got["edf_params_normalized"],
                                   edf_mod.edf(sub["error"].to_numpy(), DEFAULT_GRID, weights=w))
        assert got["edf"].iloc[-1] == pytest.approx(1.0)

    stats = json.loads(out.with_suffix(".json").read_text())
    by_group = {s["group"]: s for s in stats["statistics"]}
    d, e = (expected[expected["group"] == g]["error"] for g in ("DARTS", "10-ExtCell"))
    assert by_group["10-ExtCell"]["ks"] == pytest.approx(edf_mod.ks_statistic(e, d))
    assert by_group["DARTS"]["ks"] == 0.0 and by_group["10-ExtCell"]["k"] == 10
    assert by_group["10-ExtCell"]["mean_error"] == pytest.approx(e.mean())
    assert stats["params_normalization"]["range_M"] == pytest.approx([lo, hi])

    # the analysis reproduction reads the samples table as written
    from analysis.reproduce import EXTCELL_COLUMNS

    assert set(EXTCELL_COLUMNS) <= set(samples.columns)


def test_extcell_edf_labels_and_errors(sample_benches):
    d_dir, e_dir = sample_benches
    samples = sample_table([d_dir, e_dir], groups=["random DARTS", "random k=10"], eval_set="ori-test")
    result = extcell_edf_statistics(samples, params_range=(0.0, 1.0), bins=1)
    assert list(dict.fromkeys(result.samples["group"])) == ["random DARTS", "random k=10"]
    assert result.statistics["group"].tolist() == ["random DARTS", "random k=10"]
    assert result.settings["benches"] == [str(d_dir), str(e_dir)]
    assert result.settings["set"] == ["ori-test"]
    bench = natsbench.open_bench(d_dir)
    np.testing.assert_allclose(result.samples["error"][:3],
                               100.0 - bench.metric("digits", bench.hps("digits")[0], "ori-test_acc1"))
    with pytest.raises(QueryError, match="one per benchmark"):
        sample_table([d_dir, e_dir], groups=["only one"])
    with pytest.raises(QueryError, match="valid"):
        sample_table([d_dir], eval_set="nope")
    with pytest.raises(QueryError, match="reference group"):
        extcell_edf_statistics(sample_table([d_dir, e_dir]), params_range=(0.0, 1.0),
                               reference="16-ExtCell")
    with pytest.raises(QueryError, match=r"lacks columns \['params'\]"):
        extcell_edf_statistics(samples.drop(columns=["params"]))

"""Surrogates: features, held-out ranking quality, measured/predicted flags, stored predictions."""
from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.stats import kendalltau

import natsbench
from natsbench.api import surrogate as sur_mod
from natsbench.api.surrogate import (ArchEncoder, SurrogateBench, fit_surrogate, holdout_split,
                                     load_surrogate_predictions, prediction_paths,
                                     save_surrogate_predictions)
from natsbench.errors import QueryError, StoreError
from natsbench.spaces import extcell, get_space, sss, tss
from natsbench.store.writer import GroupBuffer, write_bench

DATASETS = {"digits": {"num_classes": 10, "eval_sets": ["x-valid"]}}


def _synthetic(tmp_path, space: str, n_measured: int, signal, seed: int = 0):
    """A benchmark whose metric is ``signal(arch)`` + N(0, 1) noise on ``n_measured`` archs.

    Returns (bench, measured indices, noise-free values of every arch, stored values [n]).
    """
    rng = np.random.default_rng(seed)
    archs = get_space(space).all_archs()
    truth = np.array([signal(a) for a in archs])
    measured = np.sort(rng.choice(len(archs), size=n_measured, replace=False))
    group = GroupBuffer("digits", "12")
    stored = np.full(len(archs), np.nan)
    for i in measured.tolist():
        acc = truth[i] + rng.normal()
        stored[i] = np.float32(acc)
        group.add_run(i, 777, 2, {"train_loss": [2.0, 1.0], "x-valid_acc1": [acc / 2, acc]},
                      {"params": 0.1 + truth[i] / 1000, "flops": 1.0, "latency": 0.01})
    path = write_bench(tmp_path / f"{space}-bench", space=space, arch_strs=archs, groups=[group],
                       datasets=DATASETS, arch_order="canonical")
    return natsbench.open_bench(path), measured, truth, stored


W_TSS = np.random.default_rng(42).uniform(0, 10, size=(6, 5))


def _tss_signal(arch: str) -> float:
    ops = tss.parse(arch)
    return 30.0 + sum(W_TSS[d, tss.OPS.index(op)] for d, op in enumerate(ops))


def _sss_signal(arch: str) -> float:
    ch = np.array(sss.parse(arch), dtype=float)
    return 20.0 + 8.0 * np.log2(ch).sum() / 5 + 0.05 * ch[0]


@pytest.fixture(scope="module")
def tss_bench(tmp_path_factory):
    return _synthetic(tmp_path_factory.mktemp("tss"), "tss", 700, _tss_signal)


def test_encoder_features_follow_the_space_encoding():
    arch = tss.to_str(("nor_conv_3x3", "none", "skip_connect", "avg_pool_3x3", "nor_conv_1x1", "none"))
    enc = ArchEncoder("tss")
    x = enc.transform([arch])
    assert x.shape == (1, 30) and enc.kind == "one-hot"
    hot = np.flatnonzero(x[0])
    assert hot.tolist() == [5 * d + tss.OPS.index(op) for d, op in enumerate(tss.parse(arch))]

    enc = ArchEncoder("sss")
    assert enc.kind == "ordinal"
    np.testing.assert_array_equal(enc.transform(["8:16:64:24:40", "64:64:8:8:8"]),
                                  [[8, 16, 64, 24, 40], [64, 64, 8, 8, 8]])

    # ExtCells of any budget share the 196 slot indicators
    genotype = extcell.sample_genotype(np.random.default_rng(1), k=10)
    x = ArchEncoder("extcell", {"k": 12}).transform([extcell.to_str(genotype)])
    assert x.shape == (1, 196) and np.flatnonzero(x[0]).tolist() == extcell.slots_of(genotype).tolist()

    darts = get_space("darts")
    arch = darts.sample(np.random.default_rng(2))
    enc = ArchEncoder("darts")
    x = enc.transform([arch])
    # one block per dimension with > 1 choice, exactly one 1 per block
    assert x.sum() == sum(1 for n in darts.num_choices if n > 1)
    assert enc.num_features == sum(n for n in darts.num_choices if n > 1)


def test_gbt_surrogate_ranks_held_out_archs(tss_bench):
    bench, measured, truth, stored = tss_bench
    train, test = holdout_split(bench, "digits", "12", "x-valid_acc1", 0.2, seed=3)
    assert set(train) | set(test) == set(measured.tolist()) and not set(train) & set(test)
    assert len(test) == 140
    model = fit_surrogate(bench, "digits", "12", "x-valid_acc1", model="gbt", archs=train, seed=0)
    assert model.train_size == len(train) and model.epoch == 1
    tau = model.kendall_tau(test)
    expected = kendalltau(model.predict(test), stored[test]).statistic
    assert tau == pytest.approx(expected)
    assert tau > 0.6
    # also ranks never-measured archs against the noise-free truth
    unseen = np.setdiff1d(np.arange(len(bench)), measured)[:2000]
    assert kendalltau(model.predict(unseen), truth[unseen]).statistic > 0.6
    # given truths instead of the benchmark's
    assert model.kendall_tau(unseen[:50], values=truth[unseen[:50]]) == pytest.approx(
        kendalltau(model.predict(unseen[:50]), truth[unseen[:50]]).statistic)


def test_surrogate_bench_passes_measured_values_and_flags_predictions(tss_bench):
    bench, measured, truth, stored = tss_bench
    sb = SurrogateBench(bench, model="gbt", seed=0, use_stored=False)
    values, mask = sb.query("digits", "12", "x-valid_acc1")
    expected_mask = np.zeros(len(bench), dtype=bool)
    expected_mask[measured] = True
    np.testing.assert_array_equal(mask, expected_mask)
    np.testing.assert_array_equal(sb.measured_mask("digits", "12", "x-valid_acc1"), expected_mask)
    np.testing.assert_array_equal(values[mask], stored[mask])          # unchanged, bit for bit
    np.testing.assert_array_equal(values[mask], bench.metric("digits", "12", "x-valid_acc1")[mask])
    assert np.isfinite(values).all()
    model = sb.predictor("digits", "12", "x-valid_acc1")
    unmeasured = np.flatnonzero(~mask)[:100]
    np.testing.assert_allclose(values[unmeasured], model.predict(unmeasured))
    # a subset given by strings and indices, and an earlier epoch has its own surrogate
    archs = [bench.arch_strs[measured[0]], int(unmeasured[0])]
    v, m = sb.query("digits", "12", "x-valid_acc1", archs=archs)
    assert m.tolist() == [True, False] and v[0] == stored[measured[0]]
    v0 = sb.metric("digits", "12", "x-valid_acc1", archs=measured[:5], epoch=0)
    np.testing.assert_allclose(v0, bench.metric("digits", "12", "x-valid_acc1", archs=measured[:5], epoch=0))
    assert sb.predictor("digits", "12", "x-valid_acc1", epoch=0) is not model

    df = sb.table("digits", "12", metrics=["x-valid_acc1"])
    assert len(df) == len(bench) and df["measured"].dtype == bool
    np.testing.assert_array_equal(df["measured"].to_numpy(), expected_mask)
    np.testing.assert_array_equal(df["x-valid_acc1"].to_numpy(), values)


def test_stored_predictions_round_trip(tss_bench, monkeypatch):
    bench, measured, truth, stored = tss_bench
    model = fit_surrogate(bench, "digits", "12", "x-valid_acc1", model="gbt", seed=0)
    holdout = {"fraction": 0.2, "n_train": 560, "n_test": 140, "kendall_tau": 0.8}
    path = save_surrogate_predictions(bench, model, holdout=holdout)
    pq_path, json_path = prediction_paths(bench.path, "digits", 12, "x-valid_acc1")
    assert path == pq_path and pq_path.parent == bench.path / "surrogate" / "digits" / "12"
    info = json.loads(json_path.read_text())
    assert info["model"] == "gbt" and info["train_size"] == len(measured)
    assert info["features"]["encoding"] == "one-hot" and info["features"]["num_features"] == 30
    assert info["holdout"]["kendall_tau"] == 0.8 and info["epoch"] == 1

    loaded = load_surrogate_predictions(bench.path, "digits", "12", "x-valid_acc1")
    import pyarrow.parquet as pq

    assert pq.read_table(pq_path).column_names[:3] == ["index", "value", "measured"]
    np.testing.assert_array_equal(loaded.measured, np.isin(np.arange(len(bench)), measured))
    np.testing.assert_array_equal(loaded.value[measured], stored[measured])
    np.testing.assert_array_equal(loaded.prediction,  # float32 like the group's metrics
                                  model.predict(np.arange(len(bench))).astype(np.float32))
    np.testing.assert_array_equal(loaded.value[~loaded.measured], loaded.prediction[~loaded.measured])

    # a SurrogateBench answers from the stored file without fitting anything
    def no_fit(*a, **k):
        raise AssertionError("should use the stored predictions")

    monkeypatch.setattr(sur_mod, "fit_surrogate", no_fit)
    sb = SurrogateBench(bench.path)
    np.testing.assert_array_equal(sb.metric("digits", "12", "x-valid_acc1"), loaded.value)

    # a parquet that does not match its JSON is refused
    data = bytearray(pq_path.read_bytes())
    pq_path.write_bytes(bytes(data[:-1]) + bytes([data[-1] ^ 1]))
    with pytest.raises(StoreError, match="does not match"):
        load_surrogate_predictions(bench.path, "digits", "12", "x-valid_acc1")
    with pytest.raises(QueryError, match="x-valid_acc1"):
        load_surrogate_predictions(bench.path, "digits", "12", "train_loss")


def test_gp_surrogate_on_sss_channel_counts(tmp_path):
    bench, measured, truth, stored = _synthetic(tmp_path, "sss", 250, _sss_signal, seed=5)
    train, test = holdout_split(bench, "digits", 12, "x-valid_acc1", 0.2, seed=0)
    model = fit_surrogate(bench, "digits", 12, "x-valid_acc1", model="gp", archs=train, seed=0)
    assert model.encoder.kind == "ordinal"
    assert model.kendall_tau(test) > 0.6
    unseen = np.setdiff1d(np.arange(len(bench)), measured)[::16]
    assert kendalltau(model.predict(unseen), truth[unseen]).statistic > 0.6
    # costs are metrics too (no epoch axis)
    params = fit_surrogate(bench, "digits", 12, "params", model="gbt", seed=0)
    assert params.epoch is None and params.train_size == 250


def test_bad_requests_name_the_valid_values(tss_bench):
    bench = tss_bench[0]
    with pytest.raises(QueryError, match="gbt"):
        fit_surrogate(bench, "digits", "12", "x-valid_acc1", model="forest")
    with pytest.raises(QueryError, match="x-valid_acc1"):
        fit_surrogate(bench, "digits", "12", "x-test_acc1")
    with pytest.raises(QueryError, match="epochs 0..1"):
        fit_surrogate(bench, "digits", "12", "x-valid_acc1", epoch=5)
    with pytest.raises(QueryError, match="no measured"):
        fit_surrogate(bench, "digits", "12", "x-valid_acc1", archs=[0, 1, 2, 3])
    with pytest.raises(QueryError, match=r"\(0, 1\)"):
        holdout_split(bench, "digits", "12", "x-valid_acc1", 1.5)


def test_cli_fit_reports_tau_and_stores_predictions(tmp_path, capsys):
    from natsbench.cli import main

    bench, measured, _, _ = _synthetic(tmp_path, "tss", 300, _tss_signal, seed=7)
    rc = main(["surrogate", "fit", str(bench.path), "--dataset", "digits", "--hp", "12",
               "--metric", "x-valid_acc1", "--model", "gbt", "--holdout", "0.2"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "Kendall tau" in out
    loaded = load_surrogate_predictions(bench.path, "digits", "12", "x-valid_acc1")
    assert loaded.info["holdout"]["n_test"] == 60 and loaded.info["train_size"] == 300
    printed = float(out.split("Kendall tau ")[1].split()[0])
    assert printed == pytest.approx(loaded.info["holdout"]["kendall_tau"], abs=1e-4)
    assert loaded.info["holdout"]["kendall_tau"] > 0.5


def test_archs_outside_a_sample_benchmark_are_predicted(tmp_path):
    from natsbench.errors import InvalidArchError

    space = get_space("darts")
    rng = np.random.default_rng(11)
    archs = list(dict.fromkeys(space.sample(rng) for _ in range(40)))
    enc = ArchEncoder("darts")
    w = np.random.default_rng(0).normal(size=enc.num_features)
    group = GroupBuffer("digits", "12")
    for i, arch in enumerate(archs):
        group.add_run(i, 0, 1, {"x-test_acc1": [50.0 + float(enc.transform([arch])[0] @ w)]})
    bench = natsbench.open_bench(write_bench(tmp_path / "darts", space="darts", arch_strs=archs,
                                             groups=[group], datasets=DATASETS))
    sb = SurrogateBench(bench, use_stored=False)
    new = space.sample(np.random.default_rng(99))
    assert new not in archs
    values, measured = sb.query("digits", "12", "x-test_acc1", archs=[archs[3], new])
    assert measured.tolist() == [True, False]
    assert values[0] == bench.metric("digits", "12", "x-test_acc1", archs=[3])[0]
    assert values[1] == pytest.approx(sb.predictor("digits", "12", "x-test_acc1").predict([new])[0])
    with pytest.raises(InvalidArchError):
        sb.metric("digits", "12", "x-test_acc1", archs=["normal=|+|;reduce=|"])


def test_cli_fits_several_metrics_and_rejects_unknown_ones_before_fitting(tmp_path, capsys):
    from natsbench.cli import main

    bench, _, _, _ = _synthetic(tmp_path, "sss", 200, _sss_signal, seed=3)
    rc = main(["surrogate", "fit", str(bench.path), "--dataset", "digits", "--hp", "12",
               "--metric", "x-valid_acc1,params", "--metric", "train_loss", "--holdout", "0.25"])
    assert rc == 0
    out = capsys.readouterr().out
    assert out.count("Kendall tau") == 3
    for metric in ("x-valid_acc1", "params", "train_loss"):
        info = load_surrogate_predictions(bench.path, "digits", "12", metric).info
        assert info["metric"] == metric and info["holdout"]["n_test"] == 50
    rc = main(["surrogate", "fit", str(bench.path), "--dataset", "digits", "--hp", "12",
               "--metric", "x-valid_acc1", "--metric", "x-valid_acc5"])
    assert rc != 0
    err = capsys.readouterr().err
    assert "x-valid_acc5" in err and "x-valid_acc1" in err  # names the bad one and the valid ones


def test_cli_query_predicts_an_untrained_arch_only_with_surrogate(tmp_path, capsys):
    from natsbench.cli import main

    bench, measured, _, stored = _synthetic(tmp_path, "sss", 300, _sss_signal, seed=5)
    assert main(["surrogate", "fit", str(bench.path), "--dataset", "digits", "--hp", "12",
                 "--metric", "x-valid_acc1", "--holdout", "0"]) == 0
    capsys.readouterr()
    untrained = int(np.setdiff1d(np.arange(len(bench)), measured)[0])
    base = ["query", str(bench.path), str(untrained), "--dataset", "digits", "--hp", "12", "--json"]
    assert main(base) == 0
    plain = json.loads(capsys.readouterr().out)
    assert plain["measured"] is False and plain["predicted"] == []
    assert plain["values"]["x-valid_acc1"] is None
    assert main(base + ["--surrogate"]) == 0
    pred = json.loads(capsys.readouterr().out)
    stored_pred = load_surrogate_predictions(bench.path, "digits", "12", "x-valid_acc1").prediction
    assert pred["values"]["x-valid_acc1"] == pytest.approx(stored_pred[untrained], rel=1e-6)
    assert {"x-valid_acc1", "train_loss", "params"} <= set(pred["predicted"])
    # a trained arch answers with its measured values, nothing flagged
    trained = int(measured[0])
    assert main(["query", str(bench.path), str(trained), "--dataset", "digits", "--hp", "12",
                 "--json", "--surrogate"]) == 0
    meas = json.loads(capsys.readouterr().out)
    assert meas["measured"] is True and meas["predicted"] == []
    assert meas["values"]["x-valid_acc1"] == pytest.approx(stored[trained], rel=1e-6)
    assert main(base + ["--surrogate", "--seed", "777"]) != 0
    assert "seed means" in capsys.readouterr().err


def test_gbt_complexity_is_chosen_by_cross_validation_on_the_training_set(tmp_path, monkeypatch):
    # a weak signal under N(0, 1) noise, as short one-seed accuracies are: flexible trees chase
    # the noise, the cross-validated choice should not
    def weak(arch: str) -> float:
        return 0.25 * np.log2(np.array(sss.parse(arch), dtype=float)).sum()

    bench, measured, truth, stored = _synthetic(tmp_path, "sss", 600, weak, seed=11)
    model = fit_surrogate(bench, "digits", "12", "x-valid_acc1", seed=0)
    sel = model.selection
    assert sel["cv_folds"] == sur_mod.GBT_CV_FOLDS
    assert set(sel["cv_kendall_tau"]) == set(sur_mod.GBT_CANDIDATES)
    assert sel["candidate"] == max(sel["cv_kendall_tau"], key=sel["cv_kendall_tau"].get)
    assert model.describe()["selection"] == sel
    unseen = np.setdiff1d(np.arange(len(bench)), measured)[::8]
    chosen_tau = kendalltau(model.predict(unseen), truth[unseen]).statistic
    monkeypatch.setattr(sur_mod, "GBT_CV_MIN_TRAIN", 10**9)  # no selection: the flexible trees
    flexible = fit_surrogate(bench, "digits", "12", "x-valid_acc1", seed=0)
    assert flexible.selection == {"candidate": "flexible", "cv_folds": 0, "cv_kendall_tau": {}}
    assert sel["candidate"] != "flexible"
    assert chosen_tau > kendalltau(flexible.predict(unseen), truth[unseen]).statistic + 0.02

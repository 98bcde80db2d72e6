"""End-to-end training runs on the bundled digits dataset (tiny proxies, CPU)."""
from __future__ import annotations

import math

import pytest

import torch

from natsbench.datasets import load_dataset  # noqa: E402
from natsbench.errors import InvalidArchError  # noqa: E402
from natsbench.store.records import iter_records, read_record, record_path  # noqa: E402
from natsbench.train import trainer as trainer_module  # noqa: E402
from natsbench.train.protocol import get_protocol  # noqa: E402
from natsbench.train.trainer import train_arch  # noqa: E402

# official tss index 0: only 1x1 convolutions and pooling, so cheap to train
ARCH0 = "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|"
TINY = get_protocol("H0:epochs=2,batch_size=64,train_fraction=0.2,eval_batch_size=256")
EXPECTED_METRICS = {"train_loss", "train_acc1", "train_acc5", "train_time"} | {
    f"{s}_{m}" for s in ("x-valid", "x-test", "ori-test") for m in ("loss", "acc1", "time")}


@pytest.fixture(scope="module")
def digits():
    # 8x8 images (no upsampling) keep the runs short; the network is size-agnostic
    return load_dataset("digits", image_size=8)


@pytest.fixture(scope="module")
def first_run(digits, tmp_path_factory):
    store = tmp_path_factory.mktemp("store")
    record = train_arch("tss", ARCH0, digits, TINY, seed=3, device="cpu", store=store,
                        progress=False, measure_latency=True, num_threads=1)
    return store, record


def test_record_has_contract_metrics_and_is_readable(first_run):
    store, record = first_run
    assert record.status == "ok" and record.epochs == 2 and record.hp == TINY.hp
    assert set(record.metrics) == EXPECTED_METRICS
    assert all(len(v) == 2 and all(math.isfinite(x) for x in v) for v in record.metrics.values())
    for key in ("train_acc1", "train_acc5", "x-valid_acc1", "ori-test_acc1"):
        assert all(0.0 <= x <= 100.0 for x in record.metrics[key])
    assert all(a <= b for a, b in zip(record.metrics["train_acc1"], record.metrics["train_acc5"]))
    # the official NATS-Bench value for tss arch 0 with 10 classes (cifar10 table): 0.129306 M
    assert record.costs["params"] == pytest.approx(0.129306, abs=5e-7)
    assert record.costs["flops"] > 0 and record.costs["latency"] > 0
    assert record.provenance["data"]["train_subset"] == "stratified 259 of 1297"
    assert record.provenance["deterministic"] is True and record.provenance["device"] == "cpu"
    path = record_path(store, "tss", ARCH0, "digits", TINY.hp, 3)
    back = read_record(path)
    assert back.metrics == record.metrics and back.costs == record.costs
    assert [r.arch for r in iter_records(store, dataset="digits")] == [ARCH0]


def test_query_api_reads_the_trained_run(first_run, tmp_path):
    import shutil

    import natsbench
    from natsbench.store.compact import compact, init_bench

    store, record = first_run
    bench_dir = tmp_path / "bench"
    shutil.copytree(store, bench_dir)
    init_bench(bench_dir, space="tss", arch_strs=[ARCH0],
               datasets={"digits": {"num_classes": 10, "eval_sets": ["x-valid", "x-test", "ori-test"]}})
    compact(bench_dir)
    bench = natsbench.open_bench(bench_dir)
    assert bench.hps("digits") == [TINY.hp] and bench.seeds("digits", TINY.hp) == [3]
    got = bench.metric("digits", TINY.hp, "x-test_acc1", seed=3, epoch=-1)
    assert got[0] == pytest.approx(record.metrics["x-test_acc1"][-1], rel=1e-6)
    assert bench.costs("digits")["params"].iloc[0] == pytest.approx(record.costs["params"])


def test_x_sets_partition_ori_test_in_the_metrics(first_run):
    _, record = first_run
    m = record.metrics
    # ori-test is the union of x-valid and x-test (250 + 250 of 500): its accuracy and
    # loss are the means of theirs
    for e in range(2):
        assert m["ori-test_acc1"][e] == pytest.approx((m["x-valid_acc1"][e] + m["x-test_acc1"][e]) / 2)
        assert m["ori-test_loss"][e] == pytest.approx((m["x-valid_loss"][e] + m["x-test_loss"][e]) / 2,
                                                      rel=1e-5)


def test_same_seed_same_numbers_other_seed_differs(digits, first_run):
    _, record = first_run
    again = train_arch("tss", ARCH0, digits, TINY, seed=3, device="cpu", progress=False,
                       measure_latency=False, num_threads=1)
    for key in EXPECTED_METRICS:
        if not key.endswith("_time"):
            assert again.metrics[key] == record.metrics[key], key
    assert math.isnan(again.costs["latency"])
    # epoch 0 runs at lr 0.1 whatever the length, so a 1-epoch run repeats epoch 0 exactly
    one = TINY.reduced(epochs=1)
    short = train_arch("tss", ARCH0, digits, one, seed=3, device="cpu", progress=False,
                       measure_latency=False, num_threads=1)
    other = train_arch("tss", ARCH0, digits, one, seed=4, device="cpu", progress=False,
                       measure_latency=False, num_threads=1)
    assert short.metrics["train_loss"][0] == record.metrics["train_loss"][0]
    assert short.metrics["x-valid_acc1"][0] == record.metrics["x-valid_acc1"][0]
    assert other.metrics["train_loss"][0] != record.metrics["train_loss"][0]
    assert torch.are_deterministic_algorithms_enabled() is False  # restored after the run


def test_resume_from_checkpoint_gives_the_same_run(digits, first_run, tmp_path, monkeypatch):
    _, record = first_run
    ckpt = tmp_path / "ckpt"
    original = trainer_module._Run.train_epoch

    def interrupted(self, epoch, bar):
        if epoch == 1:
            raise KeyboardInterrupt
        return original(self, epoch, bar)

    monkeypatch.setattr(trainer_module._Run, "train_epoch", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train_arch("tss", ARCH0, digits, TINY, seed=3, device="cpu", progress=False,
                   measure_latency=False, checkpoint_dir=ckpt, store=tmp_path / "s",
                   num_threads=1)
    assert not (tmp_path / "s").exists()          # nothing written for an interrupted run
    assert len(list(ckpt.glob("*.pt"))) == 1
    monkeypatch.setattr(trainer_module._Run, "train_epoch", original)
    resumed = train_arch("tss", ARCH0, digits, TINY, seed=3, device="cpu", progress=False,
                         measure_latency=False, checkpoint_dir=ckpt, num_threads=1)
    for key in EXPECTED_METRICS:
        if not key.endswith("_time"):
            assert resumed.metrics[key] == record.metrics[key], key
    assert list(ckpt.glob("*.pt")) == []


def test_failed_run_is_recorded_and_raised(digits, tmp_path):
    blowup = TINY.reduced(lr=1e12, epochs=1, train_fraction=0.05, hp="blowup")
    with pytest.raises(FloatingPointError, match="training loss became"):
        train_arch("tss", ARCH0, digits, blowup, seed=0, device="cpu", progress=False,
                   measure_latency=False, store=tmp_path, num_threads=1)
    (failed,) = list(iter_records(tmp_path))
    assert failed.status == "failed" and "FloatingPointError" in failed.error
    assert failed.epochs == 1 and failed.metrics == {}   # it died inside epoch 0


def test_bad_inputs_fail_before_training(digits, tmp_path):
    with pytest.raises(InvalidArchError):
        train_arch("tss", "|conv~0|", digits, TINY, seed=0, store=tmp_path, progress=False)
    with pytest.raises(ValueError, match="CUDA is not available|unsupported device"):
        if torch.cuda.is_available():
            raise ValueError("unsupported device")
        train_arch("tss", ARCH0, digits, TINY, seed=0, device="cuda", progress=False)
    with pytest.raises(ValueError, match="unknown protocol"):
        train_arch("tss", ARCH0, digits, "H9", seed=0, progress=False)
    assert not any(tmp_path.iterdir())


def test_cli_train_writes_a_record(tmp_path, capsys):
    from natsbench.cli import main

    code = main(["train", "8:8:8:8:8", "--space", "sss", "--dataset", "digits",
                 "--protocol", "H0:epochs=1,batch_size=128,train_fraction=0.1",
                 "--seed", "7", "--store", str(tmp_path), "--no-progress", "--no-latency",
                 "--threads", "1"])
    out = capsys.readouterr().out
    assert code == 0, out
    (record,) = list(iter_records(tmp_path))
    assert record.space == "sss" and record.arch == "8:8:8:8:8" and record.seed == 7
    assert record.provenance["num_threads"] == 1
    assert "x-valid: loss" in out and "record:" in out
    assert main(["train", "8:8:8:8:8", "--space", "sss", "--dataset", "digits",
                 "--protocol", "H0:epochs=0", "--seed", "1", "--no-progress"]) == 2
    assert "natsbench train: error: invalid protocol" in capsys.readouterr().err


def test_cli_build_reports_bad_selections_and_protocols(tmp_path, capsys):
    from natsbench.cli import main

    base = ["build", "--space", "tss", "--dataset", "digits", "--store", str(tmp_path / "b"), "--seeds", "1"]
    assert main([*base, "--protocol", "H0", "--archs", "sample:0"]) == 2
    assert "sample size must be in 1..15625" in capsys.readouterr().err
    assert main([*base, "--protocol", "H0", "--archs", "typo"]) == 2
    assert "--archs must be all, unique, sample:N or an existing file" in capsys.readouterr().err
    assert main([*base, "--protocol", "H9", "--archs", "sample:1"]) == 2
    assert "unknown protocol 'H9'" in capsys.readouterr().err
    assert not (tmp_path / "b").exists()


@pytest.mark.slow
def test_h0_on_digits_learns():
    """12 epochs of H0 at batch 64 (the recommended digits setting) reach > 85 % ori-test."""
    record = train_arch("tss", ARCH0, "digits", "H0:batch_size=64", seed=1, device="cpu",
                        progress=False, measure_latency=False)
    assert record.metrics["ori-test_acc1"][-1] > 85.0
    assert record.metrics["train_loss"][-1] < 0.5 * record.metrics["train_loss"][0]

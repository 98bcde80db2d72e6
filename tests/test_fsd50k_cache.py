"""FSD50K at full scale: the log-mel feature cache (built once in blocks, resumable, memory-mapped,
keyed by the manifests and feature parameters) and out-of-core training batches (a memory-mapped
set stays on the host; the results equal the in-memory run's)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from natsbench.errors import ConfigError, DatasetError  # noqa: E402
from natsbench.tasks import audio, fsd50k  # noqa: E402
from natsbench.tasks.data import ArraySet  # noqa: E402
from natsbench.tasks.loaders import load_task  # noqa: E402
from tests.test_fsd50k import CLIPS, write_layout  # noqa: E402

#: the build locks a finished cache folder keeps (feature_cache: one per array, left in place)
LOCKS = ["test.lock", "train.lock", "valid.lock"]
N_CHUNKS = {p: sum(n for _, (q, _, n) in CLIPS.items() if q == p) for p in ("tr", "val", "eval")}


@pytest.fixture
def reads(monkeypatch):
    """Counts WAV reads (every feature computation reads its chunk's WAV)."""
    count = {"n": 0, "fail_at": None}
    real = audio.read_wav

    def counting(path):
        count["n"] += 1
        if count["fail_at"] is not None and count["n"] >= count["fail_at"]:
            raise KeyboardInterrupt("killed")                        # as a kill mid-build
        return real(path)

    monkeypatch.setattr(audio, "read_wav", counting)
    return count


def _cache_folders(cache: Path) -> list[Path]:
    base = cache / "features"
    return sorted(base.iterdir()) if base.is_dir() else []


def _wavs(root: Path) -> list[Path]:
    return sorted(root.glob("*_chunks/*.wav"))


def test_second_load_hits_the_cache_and_reads_no_wav(tmp_path, isolated_cache, reads, monkeypatch):
    cache = isolated_cache
    write_layout(tmp_path / "data")
    first = load_task("fsd50k", tmp_path / "data")
    assert reads["n"] == sum(N_CHUNKS.values()) == 11
    (folder,) = _cache_folders(cache)
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["key.json", *LOCKS, "test.npy", "train.npy", "valid.npy"])
    assert json.loads((folder / "key.json").read_text())["features"] == audio.feature_settings()
    for wav in _wavs(tmp_path / "data"):                            # no WAV left to read
        wav.unlink()
    second = load_task("fsd50k", tmp_path / "data")
    assert reads["n"] == 11                                          # nothing recomputed
    for name in ("train", "valid", "test"):
        a, b = getattr(first, name), getattr(second, name)
        assert isinstance(b.x, np.memmap) and b.x.dtype == np.float16 and not b.x.flags.writeable
        assert b.x.shape == (len(b), 1, 96, 101)
        np.testing.assert_array_equal(a.x, b.x)
        np.testing.assert_array_equal(a.y, b.y)
        np.testing.assert_array_equal(a.groups, b.groups)


def test_float16_rounding_of_the_features(tmp_path, monkeypatch):
    """The cache stores float16: each value is the float32 feature rounded to nearest, at most
    1/32 dB off (|x| < 128 dB: float16 spacing 1/16 there) and on average far less."""
    write_layout(tmp_path / "data")
    exact = load_task("fsd50k", tmp_path / "data", feature_cache=False)
    cached = load_task("fsd50k", tmp_path / "data")
    for name in ("train", "valid", "test"):
        x32, x16 = getattr(exact, name).x, getattr(cached, name).x
        assert x32.dtype == np.float32 and np.abs(x32).max() <= audio.TOP_DB
        np.testing.assert_array_equal(x16, x32.astype(np.float16))  # round to nearest
        err = np.abs(x16.astype(np.float32) - x32)
        assert err.max() <= 2.0 ** -5
        # relative to each value: half a float16 ulp (2^-11) at most
        assert np.all(err <= np.abs(x32) * 2.0 ** -11 + 2.0 ** -25)
        assert err.mean() < 0.01
        # per chunk the features stay centred to within the rounding
        assert np.abs(x16.astype(np.float64).mean(axis=(1, 2, 3))).max() < 2.0 ** -5


def test_changed_feature_parameters_or_manifests_miss_the_cache(tmp_path, isolated_cache, reads, monkeypatch):
    cache = isolated_cache
    write_layout(tmp_path / "data")
    base = load_task("fsd50k", tmp_path / "data")
    assert reads["n"] == 11 and len(_cache_folders(cache)) == 1
    monkeypatch.setattr(audio, "TOP_DB", 60.0)                      # another feature parameter
    narrow = load_task("fsd50k", tmp_path / "data")
    assert reads["n"] == 22 and len(_cache_folders(cache)) == 2
    spread = narrow.train.x.astype(np.float32).reshape(len(narrow.train), -1)
    assert np.allclose(spread.max(1) - spread.min(1), 60.0, atol=0.05)   # computed with it
    assert not np.array_equal(base.train.x, narrow.train.x)
    monkeypatch.setattr(audio, "TOP_DB", 80.0)
    load_task("fsd50k", tmp_path / "data")                           # the first key again: hit
    assert reads["n"] == 22
    tr = tmp_path / "data" / "chunks" / "tr.csv"
    lines = tr.read_text().splitlines(keepends=True)
    tr.write_text("".join(lines[:-1]))                               # one chunk fewer
    fewer = load_task("fsd50k", tmp_path / "data")
    assert reads["n"] == 22 + 10 and len(_cache_folders(cache)) == 3   # 10 chunks read
    assert len(fewer.train) == N_CHUNKS["tr"] - 1
    np.testing.assert_array_equal(fewer.train.x, base.train.x[:-1])
    # an explicit folder of one's own
    own = load_task("fsd50k", tmp_path / "data", feature_cache=tmp_path / "own")
    assert reads["n"] == 32 + 10 and len(list((tmp_path / "own").iterdir())) == 1
    np.testing.assert_array_equal(own.valid.x, fewer.valid.x)


def test_a_killed_build_resumes_at_its_last_block(tmp_path, isolated_cache, reads, monkeypatch):
    cache = isolated_cache
    monkeypatch.setattr(fsd50k, "_CACHE_BLOCK", 2)                  # train: blocks of 2, 2, 2
    write_layout(tmp_path / "data")
    reads["fail_at"] = 5                                             # inside the third block
    with pytest.raises(KeyboardInterrupt):
        load_task("fsd50k", tmp_path / "data")
    (folder,) = _cache_folders(cache)
    assert not (folder / "train.npy").exists() and (folder / "train.npy.partial").is_file()
    assert json.loads((folder / "train.progress.json").read_text())["done"] == 4
    reads.update(n=0, fail_at=None)
    data = load_task("fsd50k", tmp_path / "data")
    assert reads["n"] == 2 + N_CHUNKS["val"] + N_CHUNKS["eval"]       # only the last train block
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["key.json", *LOCKS, "test.npy", "train.npy", "valid.npy"])
    fresh = load_task("fsd50k", tmp_path / "data", feature_cache=False)
    np.testing.assert_array_equal(data.train.x, fresh.train.x.astype(np.float16))


def test_a_corrupt_cache_file_is_named(tmp_path, isolated_cache, monkeypatch):
    cache = isolated_cache
    write_layout(tmp_path / "data")
    load_task("fsd50k", tmp_path / "data")
    (folder,) = _cache_folders(cache)
    train = folder / "train.npy"
    good = train.read_bytes()
    train.write_bytes(good[: len(good) // 2])                        # truncated
    with pytest.raises(DatasetError, match=r"train.npy: a corrupt or truncated feature cache"
                                           r".*delete it to rebuild"):
        load_task("fsd50k", tmp_path / "data")
    np.save(train, np.zeros((2, 1, 96, 101), np.float16))             # another array
    with pytest.raises(DatasetError, match=r"train.npy: feature cache of shape \(2, 1, 96, 101\)"
                                           r".*expected \(6, 1, 96, 101\) float16"):
        load_task("fsd50k", tmp_path / "data")
    train.unlink()                                                   # deleting rebuilds it
    assert len(load_task("fsd50k", tmp_path / "data").train) == 6


def test_the_feature_cache_is_refused_for_other_tasks(tmp_path):
    with pytest.raises(ConfigError, match="'digits' computes no features.*fsd50k"):
        load_task("digits", feature_cache=tmp_path)


# -- out-of-core batches ----------------------------------------------------------------------

def _memmapped(s: ArraySet, folder: Path, name: str) -> ArraySet:
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / f"{name}.npy", s.x)
    return ArraySet(np.load(folder / f"{name}.npy", mmap_mode="r"), s.y, s.ignore, s.groups)


def test_out_of_core_batches_equal_in_memory_ones(tmp_path):
    from search_algorithms.dash.engine import Arrays, keep_on_host

    rng = np.random.default_rng(0)
    a = ArraySet(rng.standard_normal((10, 2, 5)).astype(np.float16), rng.integers(0, 3, 10),
                 groups=np.arange(10).astype(str))
    b = ArraySet(rng.standard_normal((7, 2, 5)).astype(np.float16), rng.integers(0, 3, 7),
                 groups=np.arange(10, 17).astype(str))
    a_map, b_map = _memmapped(a, tmp_path, "a"), _memmapped(b, tmp_path, "b")
    cpu = torch.device("cpu")
    assert keep_on_host([(a_map, None)], cpu) and not keep_on_host([(a, None)], cpu)
    parts = [(a_map, np.array([9, 2, 2, 5])), (b_map, None)]
    host = Arrays(parts, cpu)
    memory = Arrays([(a, np.array([9, 2, 2, 5])), (b, None)], cpu, out_of_core=False)
    assert host.out_of_core and host.x is None and not memory.out_of_core
    assert len(host) == len(memory) == 11
    want_x = np.concatenate([a.x[[9, 2, 2, 5]], b.x]).astype(np.float32)
    want_y = np.concatenate([a.y[[9, 2, 2, 5]], b.y])
    np.testing.assert_array_equal(memory.x.numpy(), want_x)
    np.testing.assert_array_equal(host.targets(), want_y)
    assert host.targets().dtype == np.int64
    np.testing.assert_array_equal(host.groups, ["9", "2", "2", "5"] + [str(i) for i in range(10, 17)])
    order = torch.randperm(11, generator=torch.Generator().manual_seed(3))
    got = list(host.batches(order, 4))
    assert [len(y) for _, y in got] == [4, 4, 3]
    for (xh, yh), (xm, ym) in zip(got, memory.batches(order, 4)):
        assert xh.dtype == torch.float32 and yh.dtype == torch.int64
        torch.testing.assert_close(xh, xm, rtol=0, atol=0)
        torch.testing.assert_close(yh, ym, rtol=0, atol=0)
    torch.testing.assert_close(host.inputs(3, 9), torch.from_numpy(want_x[3:9]), rtol=0, atol=0)


def test_keep_on_host_counts_the_targets_device_bytes(monkeypatch):
    """On CUDA a set stays on the host when its device copy exceeds DEVICE_DATA_FRACTION of
    the free memory; that copy holds float32 inputs and float32 multi-label targets (4 bytes
    each, not 8) or int64 class ids. No GPU needed: the free memory is stubbed."""
    from search_algorithms.dash import engine

    rng = np.random.default_rng(0)
    x = rng.standard_normal((10, 1, 4, 4)).astype(np.float16)         # 16 inputs a row
    multi = ArraySet(x, (rng.random((10, 200)) < 0.1).astype(np.float32))
    classes = ArraySet(x, rng.integers(0, 5, 10))
    free = {"bytes": 0}
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (free["bytes"], 1 << 40))
    cuda = torch.device("cuda")
    for s, device_bytes in ((multi, 10 * (16 * 4 + 200 * 4)), (classes, 10 * (16 * 4 + 8))):
        free["bytes"] = int(device_bytes / engine.DEVICE_DATA_FRACTION)   # fits exactly
        assert not engine.keep_on_host([(s, None)], cuda)
        free["bytes"] -= 2                                                 # 1 byte short
        assert engine.keep_on_host([(s, None)], cuda)
    free["bytes"] = int(10 * (16 * 4 + 200 * 4) / engine.DEVICE_DATA_FRACTION)
    assert not engine.keep_on_host([(multi, np.arange(10))], cuda)
    assert engine.keep_on_host([(multi, np.arange(10)), (multi, np.arange(1))], cuda)   # 11 rows


def _tiny_net(dropout: float = 0.0) -> "torch.nn.Module":
    from torch import nn

    return nn.Sequential(nn.Conv2d(1, 4, 5, stride=4), nn.BatchNorm2d(4), nn.ReLU(),
                         nn.Dropout(dropout), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(4, 200))


def test_hpo_and_retraining_out_of_core_equal_in_memory(tmp_path, monkeypatch):
    """The same seeded hpo and retraining stages on the cached (memory-mapped) FSD50K layout:
    out of core (the default for a memory map) and forced in memory give identical rows,
    losses, test metric and weights."""
    from search_algorithms.dash.settings import settings_for
    from search_algorithms.dash.stages import DashRun, hpo_stage, retrain_stage

    write_layout(tmp_path / "data")
    data = load_task("fsd50k", tmp_path / "data")
    assert isinstance(data.train.x, np.memmap)
    settings = settings_for(data.task, "quick").replace(batch_size=3, hpo_epochs=2,
                                                        hpo_subsample=0.7, retrain_epochs=3)
    results = {}
    for mode in (None, False):
        run = DashRun(data, settings, tmp_path / f"out-{mode}", device="cpu", progress=False,
                      num_threads=1, out_of_core=mode)
        assert run.arrays((data.train, None)).out_of_core is (mode is None)
        hpo = hpo_stage(run, build=_tiny_net)
        retrain = retrain_stage(run, hp=hpo["best"], build=_tiny_net)
        weights = torch.load(run.out / "retrain" / "model.pt", weights_only=True)
        results[mode] = (hpo["rows"], retrain, weights)
    (rows_h, ret_h, w_h), (rows_m, ret_m, w_m) = results[None], results[False]
    strip = [{k: v for k, v in r.items() if k != "wall_s"} for r in rows_h]
    assert strip == [{k: v for k, v in r.items() if k != "wall_s"} for r in rows_m]
    assert ret_h["losses"] == ret_m["losses"] and len(ret_h["losses"]) == 3
    assert ret_h["test_1-mAP"] == ret_m["test_1-mAP"]
    assert ret_h["n_train"] == N_CHUNKS["tr"] + N_CHUNKS["val"]
    assert w_h.keys() == w_m.keys()
    for k in w_h:
        torch.testing.assert_close(w_h[k], w_m[k], rtol=0, atol=0)


@pytest.mark.slow
def test_search_out_of_core_equals_in_memory(tmp_path, monkeypatch):
    """The seeded search stage (FFT supernet) on the memory-mapped layout: the same history
    and searched weights out of core and in memory."""
    from search_algorithms.dash.settings import settings_for
    from search_algorithms.dash.stages import DashRun, search_stage

    write_layout(tmp_path / "data")
    data = load_task("fsd50k", tmp_path / "data")
    settings = settings_for(data.task, "quick").replace(search_epochs=2, search_subsample=1.0,
                                                         batch_size=4)
    metas, states = [], []
    for mode in (True, False):
        run = DashRun(data, settings, tmp_path / f"out-{mode}", device="cpu", progress=False,
                      num_threads=1, out_of_core=mode)
        meta = search_stage(run)
        metas.append(([h["train_loss"] for h in meta["history"]], meta["choices"]))
        states.append(torch.load(run.out / "search" / "searched.pt", weights_only=True)["state_dict"])
    assert metas[0] == metas[1]
    for k in states[0]:
        torch.testing.assert_close(states[0][k], states[1][k], rtol=0, atol=0)
    shutil.rmtree(tmp_path / "data")

"""NAS-Bench-201 ``.pth`` archives: imported safely, answered exactly like ``nas_201_api``.

Archives are generated in the released format (torch-saved dict of ``meta_archs``,
``arch2infos`` ``{index: {"less": ..., "full": ...}}``, ``evaluated_indexes``) with the
official ``nas_201_api`` classes (natsbench.testing.nb201_archive), in torch's legacy stream
layout (the released v1.0/v1.1 files) and in its zip layout. ``natsbench.create`` over the
imported benchmark is compared method by method with ``NASBench201API`` on the same data.
"""
from __future__ import annotations

import bz2
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import nas_201_api  # noqa: F401  (test dependency: the `test` extra)
import torch  # noqa: F401  (the `train` extra, part of the test install)

import natsbench
from natsbench.errors import ArchiveError
from natsbench.store.official import import_official
from natsbench.store.torch_archive import TORCH_MAGIC, load_torch_archive
from natsbench.testing.nb201_archive import make_nb201_archive
import tests.test_api_compat as compat_tests
from tests.test_api_compat import compare_apis, same

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NATSBENCH_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def archives(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("nb201")
    kw = dict(n_archs=3, epochs={"full": 16})
    return {
        "v1_1-legacy": make_nb201_archive(root / "NAS-Bench-201-v1_1-test.pth", seed=1, **kw),
        "v1_1-zip": make_nb201_archive(root / "NAS-Bench-201-v1_1-zip.pth", seed=2, legacy=False, **kw),
        "no-times": make_nb201_archive(root / "NAS-Bench-201-v1_0-test.pth", seed=3, with_times=False, **kw),
    }


def official_api(path: Path):
    # The generated files hold numpy scalars, which torch's weights-only loader (the default
    # of torch >= 2.6, used by NASBench201API) refuses; our trusted test file is loaded fully.
    return nas_201_api.NASBench201API(torch.load(path, weights_only=False), verbose=False)


class _AsNB201:
    """Our NATS-Bench-compatible API seen as NAS-Bench-201's: NATS-Bench's ``get_more_info``
    adds a ``comment`` entry (for ``cifar10-valid``) that NAS-Bench-201's does not have."""

    def __init__(self, api) -> None:
        self._api = api

    def __getattr__(self, name):
        return getattr(self._api, name)

    def __len__(self) -> int:
        return len(self._api)

    def __getitem__(self, index):
        return self._api[index]

    def get_more_info(self, *args, **kwargs):
        info = self._api.get_more_info(*args, **kwargs)
        return {k: v for k, v in info.items() if k != "comment"}


def same_but_time_summaries(a, b, path="") -> None:
    """:func:`same`, except the whole-run time summaries ``T-<set>@total``/``T-<set>@epoch``
    (``get_times``, ``get_cost_info``): NAS-Bench-201's API computes them with ``np.sum`` /
    ``np.mean`` (pairwise summation) where NATS-Bench's API -- and ours, a NATS-Bench
    drop-in -- adds left to right; the two official APIs differ there by a few ulp. Every
    stored number and every other answer (per-epoch values, ``all_time`` running sums,
    accuracies, losses, costs) is compared bit for bit."""
    if isinstance(a, dict) and isinstance(b, dict):
        assert set(a) == set(b), f"{path}: keys {sorted(map(str, a))} vs {sorted(map(str, b))}"
        for k in a:
            same_but_time_summaries(a[k], b[k], f"{path}.{k}")
    elif ".T-" in path and isinstance(a, float) and b is not None:
        assert a == pytest.approx(float(b), rel=1e-13, abs=0), f"{path}: {a!r} vs {b!r}"
    else:
        same(a, b, path)


@pytest.mark.parametrize("kind", ["v1_1-legacy", "v1_1-zip", "no-times"])
def test_nb201_archive_answers_like_the_official_api(kind, archives, monkeypatch):
    monkeypatch.setattr(compat_tests, "same", same_but_time_summaries)
    theirs = official_api(archives[kind])
    ours = _AsNB201(natsbench.create(str(archives[kind]), "tss", verbose=False, seed=0))
    assert sorted(ours.evaluated_indexes) == theirs.evaluated_indexes
    # simulate_train_eval is NATS-Bench's (its seed/epoch draw, latency of the queried hp);
    # NAS-Bench-201's differs by design (docs/FORMAT.md), so it is not compared here; its
    # statistics() needs every architecture evaluated (KeyError on a partial archive).
    n = compare_apis(ours, theirs, indices=theirs.evaluated_indexes, full=False, simulate=False)
    for dataset, setname in (("cifar10", "valid"), ("cifar100", "x-test"), ("ImageNet16-120", "ori-test")):
        for hp in ("12", "200"):  # nas_201_api spells the limits FLOP_max / Param_max
            for ours_kw, theirs_kw in (({}, {}), ({"flop_max": 120.0}, {"FLOP_max": 120.0}),
                                       ({"param_max": 1.0}, {"Param_max": 1.0})):
                same(ours.find_best(dataset, setname, hp=hp, **ours_kw),
                     theirs.find_best(dataset, setname, hp=hp, **theirs_kw))
                n += 1
    assert n > 1000


def test_less_and_full_become_hp_12_and_200(archives, tmp_path):
    bench = natsbench.open_bench(import_official(archives["v1_1-legacy"], tmp_path / "b", progress=False))
    assert bench.manifest.space == "tss" and len(bench) == 15625
    assert {g.hp: g.epochs for g in bench.manifest.groups} == {"12": 12, "200": 16}
    assert bench.manifest.provenance["data"] == "official NAS-Bench-201 archive"
    theirs = official_api(archives["v1_1-legacy"])
    run = theirs.query_by_index(2, "cifar100", hp="12")[111 if 111 in theirs.query_by_index(2, "cifar100", hp="12") else 777]
    seed = int(run.seed)
    got = bench.metric("cifar100", 12, "x-valid_acc1", archs=[2], seed=seed, epoch="all")[0]
    assert got.tolist() == [run.eval_acc1es[f"x-valid@{e}"] for e in range(12)]


def test_torch_is_not_needed_to_read_an_nb201_archive(archives, tmp_path):
    code = ("import sys; sys.modules['torch'] = None\n"
            "from natsbench.store.official import import_official\n"
            f"import_official({str(archives['v1_1-zip'])!r}, {str(tmp_path / 'b')!r}, progress=False)\n"
            "assert 'torch' not in sys.modules or sys.modules['torch'] is None\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "b" / "manifest.json").is_file()


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo hacked > /dev/null",))


def _legacy_stream(obj_pickle: bytes, storage_keys: list | None = None) -> bytes:
    head = b"".join(pickle.dumps(x, protocol=2) for x in (TORCH_MAGIC, 1001, {"little_endian": True}))
    return head + obj_pickle + pickle.dumps(storage_keys or [], protocol=2)


def _assert_refused(path: Path, out: Path, match: str) -> None:
    with pytest.raises(ArchiveError, match=match):
        import_official(path, out, progress=False)
    assert not out.exists()
    assert not [p for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.partial")]


def test_hostile_nb201_archives_are_refused_and_nothing_written(archives, tmp_path):
    out = tmp_path / "out"
    legacy = tmp_path / "evil-legacy.pth"
    legacy.write_bytes(_legacy_stream(pickle.dumps({"meta_archs": [], "arch2infos": _Evil()}, protocol=2)))
    _assert_refused(legacy, out, f"{legacy.name}.*os.*system|{legacy.name}.*posix.*system")
    zipped = tmp_path / "evil-zip.pth"
    torch.save({"meta_archs": [], "arch2infos": {0: _Evil()}}, zipped)  # pickled, not executed
    _assert_refused(zipped, out, f"{zipped.name}.*system")
    tensors = tmp_path / "tensors.pth"
    torch.save({"meta_archs": [], "arch2infos": {}, "w": torch.zeros(3)}, tensors)
    _assert_refused(tensors, out, f"{tensors.name}.*(persistent|torch)")
    with pytest.raises(ArchiveError, match="codecs"):  # protocol-2 bytes only as str -> latin1
        payload = b"\x80\x02c_codecs\nencode\nq\x00X\x01\x00\x00\x00aX\x04\x00\x00\x00zlibq\x01\x86R."
        load_torch_archive(_write(tmp_path / "codec.pth", _legacy_stream(payload)))


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("kind", ["v1_1-legacy", "v1_1-zip"])
def test_truncated_nb201_archives_are_refused(kind, archives, tmp_path):
    data = archives[kind].read_bytes()
    for cut in (len(data) // 2, len(data) - 3, 40):
        bad = _write(tmp_path / f"cut{cut}.pth", data[:cut])
        _assert_refused(bad, tmp_path / "out", bad.name)
    not_torch = _write(tmp_path / "random.pth", bz2.compress(b"x" * 100))
    _assert_refused(not_torch, tmp_path / "out", f"{not_torch.name}.*not a torch")


def test_nb201_has_only_the_tss_space(archives, tmp_path):
    with pytest.raises(ArchiveError, match="tss space only"):
        import_official(archives["v1_1-zip"], tmp_path / "b", space="size", progress=False)
    assert list(tmp_path.iterdir()) == []


def test_cli_imports_an_nb201_archive(archives, tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = tmp_path / "bench"
    proc = subprocess.run([sys.executable, "-m", "natsbench.cli", "import-official",
                           str(archives["no-times"]), "--out", str(out), "--no-progress"],
                          env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    bench = natsbench.open_bench(out)
    assert sorted({g.hp for g in bench.manifest.groups}) == ["12", "200"]
    assert np.isnan(bench.metric("cifar10", 200, "train_time", archs=[0], seed="all")).all()

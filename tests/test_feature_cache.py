"""The feature cache's build under concurrency and a full disk (numpy only): two processes
building one cache at once (the second waits for the first's lock and maps its result), and a
disk without room for the partial file (a DatasetError naming the folder and the bytes, no file
left behind)."""
from __future__ import annotations

import errno
import multiprocessing as mp
import os
import time
from pathlib import Path

import numpy as np
import pytest

from natsbench.errors import DatasetError
from natsbench.tasks.feature_cache import FeatureCache

KEY = {"what": "tiny", "version": 1}
SHAPE = (10, 3, 4)               #: rows, row shape
BLOCK = 4                        #: blocks 0:4, 4:8, 8:10


def _expected() -> np.ndarray:
    """The array every build must produce: row r holds r + 0.25 * (its position in the row)."""
    rows = np.arange(SHAPE[0], dtype=np.float32)[:, None, None]
    return rows + 0.25 * np.arange(12, dtype=np.float32).reshape(1, 3, 4)


def _wait_for(path: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} did not appear within {timeout} s")
        time.sleep(0.01)


def _builder(base: str, who: str, sync: str) -> tuple[str, list]:
    """Build the tiny cache in ``base``; ``fill`` logs every block it computes to
    ``sync/<who>.log``, and the first block of each builder announces itself
    (``<who>.filling``) and then waits for ``sync/go``."""
    sync_dir = Path(sync)

    def fill(start: int, stop: int, out: np.ndarray) -> None:
        with open(sync_dir / f"{who}.log", "a") as fh:
            fh.write(f"{start}:{stop}\n")
        if start == 0:
            (sync_dir / f"{who}.filling").touch()
            _wait_for(sync_dir / "go")
        out[...] = _expected()[start:stop]

    (sync_dir / f"{who}.building").touch()
    arr = FeatureCache("tiny", KEY, base).build("train", SHAPE, "float32", fill, block=BLOCK,
                                                progress=False)
    return who, np.asarray(arr).tolist()


def test_two_concurrent_builds_compute_once_and_agree(tmp_path):
    """Builder B starts while A is inside its first block. B waits for A's lock and maps A's
    finished file: both return the same correct array and the blocks are computed once. (Without
    the lock, B re-creates the partial file A has mapped and one of them fails at the rename.)"""
    base, sync = tmp_path / "cache", tmp_path / "sync"
    sync.mkdir()
    ctx = mp.get_context("spawn")
    with ctx.Pool(2) as pool:
        first = pool.apply_async(_builder, (str(base), "a", str(sync)))
        _wait_for(sync / "a.filling")                     # A holds the lock, inside block 0:4
        second = pool.apply_async(_builder, (str(base), "b", str(sync)))
        _wait_for(sync / "b.building")                    # B has called build()
        time.sleep(1.0)                                   # ... and, unlocked, would be filling
        (sync / "go").touch()
        results = dict([first.get(timeout=120), second.get(timeout=120)])
    want = _expected()
    for who in ("a", "b"):
        np.testing.assert_array_equal(np.array(results[who], dtype=np.float32), want)
    assert (sync / "a.log").read_text().split() == ["0:4", "4:8", "8:10"]
    assert not (sync / "b.log").exists() and not (sync / "b.filling").exists()
    folder = FeatureCache("tiny", KEY, base).folder
    assert sorted(p.name for p in folder.iterdir()) == ["key.json", "train.lock", "train.npy"]
    np.testing.assert_array_equal(np.load(folder / "train.npy"), want)


def _fill(start: int, stop: int, out: np.ndarray) -> None:
    out[...] = _expected()[start:stop]


def test_a_full_disk_is_a_dataset_error_naming_folder_and_size(tmp_path, monkeypatch):
    cache = FeatureCache("tiny", KEY, tmp_path)
    asked = []

    def no_space(fd: int, offset: int, length: int) -> None:
        asked.append((offset, length))
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "posix_fallocate", no_space, raising=False)
    with pytest.raises(DatasetError) as info:
        cache.build("train", SHAPE, "float32", _fill, block=BLOCK, progress=False)
    size = 128 + 4 * int(np.prod(SHAPE))                  # the .npy header (v1.0) and the data
    assert asked == [(0, size)]
    message = str(info.value)
    assert str(cache.folder) in message and f"{size} bytes" in message
    assert "No space left on device" in message
    # nothing half written is left: neither the final file nor the partial one
    assert sorted(p.name for p in cache.folder.iterdir()) == ["key.json", "train.lock"]
    monkeypatch.undo()                                    # room again: the build succeeds
    arr = cache.build("train", SHAPE, "float32", _fill, block=BLOCK, progress=False)
    np.testing.assert_array_equal(arr, _expected())


def test_an_unsupported_reservation_writes_sparse(tmp_path, monkeypatch):
    """A filesystem without fallocate support (EOPNOTSUPP) is no error: the build goes on."""
    def unsupported(fd: int, offset: int, length: int) -> None:
        raise OSError(errno.EOPNOTSUPP, os.strerror(errno.EOPNOTSUPP))

    monkeypatch.setattr(os, "posix_fallocate", unsupported, raising=False)
    arr = FeatureCache("tiny", KEY, tmp_path).build("train", SHAPE, "float32", _fill,
                                                    block=BLOCK, progress=False)
    np.testing.assert_array_equal(arr, _expected())


def test_an_unwritable_folder_is_a_dataset_error_naming_it(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    cache = FeatureCache("tiny", KEY, blocker)            # the base is a file: mkdir fails
    with pytest.raises(DatasetError, match=rf"{cache.folder}: creating the feature cache folder "
                                           r"failed \(.*Not a directory"):
        cache.build("train", SHAPE, "float32", _fill, block=BLOCK, progress=False)


def test_the_reservation_covers_the_whole_file(tmp_path):
    """Where the platform has posix_fallocate, the partial file is fully allocated from the
    start (its blocks cover its size), not sparse."""
    if not hasattr(os, "posix_fallocate"):
        pytest.skip("no posix_fallocate on this platform")
    seen = {}

    def fill(start: int, stop: int, out: np.ndarray) -> None:
        if start == 0:
            st = os.stat(Path(cache.folder) / "train.npy.partial")
            seen.update(size=st.st_size, allocated=st.st_blocks * 512)
        out[...] = 0.0

    cache = FeatureCache("tiny", KEY, tmp_path)
    cache.build("train", (4096, 64), "float32", fill, block=1024, progress=False)
    assert seen["allocated"] >= seen["size"] >= 4096 * 64 * 4

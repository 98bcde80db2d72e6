"""The advisory lock that lets any number of writers share a benchmark with ``compact``.

A benchmark directory holds a lock file, ``BENCH/.lock`` (created on first use). Whoever
adds a record file (a training run, a failed job) holds it *shared* for the few
milliseconds of the atomic write; whoever rewrites the benchmark directory (``compact``,
``init_bench``) or the manifest (``update_provenance``) holds it *exclusive*. So writers
never block each other, a compaction waits for the records being written and holds new
ones back until the rewritten benchmark is in place, and it can never delete a record it
did not merge.

Compaction replaces the whole directory, lock file included; the new directory has a new
lock file (or none yet). A process that locked the old file therefore checks, after it got
the lock, that the file it holds is still the one at ``BENCH/.lock`` and starts again
otherwise (the usual "lock, then verify the inode" pattern).

The lock is ``flock(2)``: per open file, so threads of one process exclude each other as
separate processes do, released by the kernel when a process dies (a killed writer never
leaves a stale lock), and honoured across machines on NFS (Linux emulates it with byte-range
locks there). Readers take no lock (see :class:`natsbench.store.reader.StoreReader`).
"""
from __future__ import annotations

import contextlib
import glob
import logging
import os
import time
from pathlib import Path
from typing import Iterator

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

from natsbench.errors import StoreError

LOCK_FILE = ".lock"
_MISSING_TIMEOUT_S = 10.0  # how long a directory may be absent while another process replaces it

log = logging.getLogger(__name__)
_warned = False


def _ensure_dir(path: Path, create: bool = True) -> None:
    """Create the benchmark directory if needed (``create``; else a missing one is a
    :class:`StoreError` naming it), but never while a rewrite has moved it
    aside: where the OS cannot exchange directories atomically (NFS, macOS) a rewrite moves
    the old directory into a ``.<name>.old-*`` sibling and then the new one into place, and
    a directory created in between would block that second rename. The sibling exists from
    before the first rename until after the second, so its absence means it is safe."""
    trash = f".{glob.escape(path.name)}.old-*"
    deadline = time.monotonic() + _MISSING_TIMEOUT_S
    while not path.is_dir():
        if not any(path.parent.glob(trash)):
            if not create:
                raise StoreError(f"benchmark directory {path} does not exist")
            path.mkdir(parents=True, exist_ok=True)
            return
        if time.monotonic() > deadline:
            raise StoreError(f"benchmark directory {path} is missing while "
                             f"{sorted(path.parent.glob(trash))} exist (an interrupted rewrite?)")
        time.sleep(0.001)


@contextlib.contextmanager
def store_lock(bench_dir: str | os.PathLike, *, exclusive: bool,
               create: bool = False) -> Iterator[None]:
    """Hold the benchmark's lock, shared (record writers) or exclusive (directory rewriters).

    Creates the lock file, and with ``create`` (record writers, a build creating its store)
    ``bench_dir`` too; without it a missing ``bench_dir`` is a :class:`StoreError`. Blocks until the lock is free.
    Not re-entrant: a thread holding it must not ask for it again.
    """
    global _warned
    if fcntl is None:  # pragma: no cover - Windows
        if not _warned:
            log.warning("no fcntl on this platform: concurrent writers and compaction of one "
                        "benchmark are not coordinated")
            _warned = True
        yield
        return
    path = Path(bench_dir)
    lock_path = path / LOCK_FILE
    mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
    while True:
        _ensure_dir(path, create)
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
        except FileNotFoundError:  # replaced just now, where the OS cannot exchange directories
            continue
        try:
            fcntl.flock(fd, mode)
            held = os.fstat(fd)
            try:
                current = os.stat(lock_path)
            except FileNotFoundError:
                current = None
            if current is not None and (current.st_dev, current.st_ino) == (held.st_dev, held.st_ino):
                break
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)  # we locked a replaced directory's lock file: take the new one
    try:
        yield
    finally:
        os.close(fd)  # releases the lock

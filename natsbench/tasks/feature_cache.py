"""An on-disk cache of computed feature arrays (``.npy``), built once in blocks and memory-mapped
afterwards (numpy only).

A cache is a folder ``<base>/<namespace>-<digest>/`` where ``<base>`` is
``<cache root>/features`` (the cache root of :func:`natsbench.api.evaluation.cache_root`:
``$NATSBENCH_CACHE`` or ``~/.cache/natsbench``) unless the caller names another, and
``<digest>`` is a SHA-1 of the key (a JSON object: what the arrays are computed from and how), so
any change of the key lands in another folder and the old one is never read. The folder holds
``key.json`` (the key, readable) and one ``<name>.npy`` per array (and its build lock,
``<name>.lock``).

Building (:meth:`FeatureCache.build`) writes ``<name>.npy.partial`` (a complete ``.npy`` header
and data area from the start, :func:`numpy.lib.format.open_memmap`) block by block: after every
block the data is flushed and ``<name>.progress.json`` (the number of finished rows) is
rewritten atomically; a killed build continues from the last finished block. The finished file
is fsynced and renamed to ``<name>.npy`` (atomic), so a ``.npy`` in the folder is always whole.
Later loads open it with ``np.load(mmap_mode="r")``: no copy, pages are read on first touch.
A ``.npy`` whose header, dtype, shape or size is wrong (truncated, overwritten) is a
:class:`~natsbench.errors.DatasetError` naming it; delete it to rebuild. The contents are not
checksummed (that would read the whole array on every load).

Concurrency: a build holds an exclusive ``flock(2)`` on ``<name>.lock`` in the folder (created on
first use and left there) from before it touches ``<name>.npy.partial`` until the finished file
is in place; a second process building the same array waits for it, then finds ``<name>.npy``
and maps it instead of computing it again. Where ``fcntl`` is missing (Windows) builds are not
coordinated: two at once of one cache may corrupt each other (a warning says so).

Disk space: the partial file's whole size is reserved (``os.posix_fallocate``) when it is
created, so a full disk is a :class:`~natsbench.errors.DatasetError` naming the folder and the
bytes needed, not a ``SIGBUS`` when a page of the sparse memory map is first written; where
``posix_fallocate`` is missing (macOS) or the filesystem does not support it, nothing is
reserved. Other ``OSError`` s of the cache's own files (folder, partial file, progress, rename)
are ``DatasetError`` s naming the path.
"""
from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from natsbench.errors import DatasetError
from natsbench.store.records import _fsync_dir, atomic_write_bytes  # the one fsync rule

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["CACHE_SUBDIR", "FeatureCache", "cache_folder", "file_digest"]

logger = logging.getLogger(__name__)

CACHE_SUBDIR = "features"             #: below the natsbench cache root
DEFAULT_BLOCK = 4096                  #: rows per block: progress is saved after each


#: errnos of a filesystem that cannot reserve space (nothing is reserved then)
_NO_FALLOCATE = {errno.EINVAL, errno.EOPNOTSUPP, errno.ENOTSUP, errno.ENOSYS}


@contextlib.contextmanager
def _disk(path: Path, what: str) -> Iterator[None]:
    """Turn an ``OSError`` of the cache's own file operation ``what`` into a
    :class:`DatasetError` naming ``path``."""
    try:
        yield
    except OSError as exc:
        raise DatasetError(f"{path}: {what} failed ({exc})") from exc


@contextlib.contextmanager
def _build_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (created if missing); blocks until it is free."""
    if fcntl is None:  # pragma: no cover - Windows
        logger.warning("no fcntl on this platform: concurrent builds of the feature cache %s "
                       "are not coordinated (do not run two at once)", path.parent)
        yield
        return
    with _disk(path, "opening the feature cache lock"):
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            logger.warning("waiting for another process that is building %s", path.with_suffix(
                ".npy"))
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _reserve(path: Path) -> None:
    """Allocate every byte of ``path`` now (``os.posix_fallocate``), so a full disk fails here
    with a :class:`DatasetError` rather than as ``SIGBUS`` on a later write into its memory map.
    No-op where the platform or filesystem cannot reserve."""
    fallocate = getattr(os, "posix_fallocate", None)
    if fallocate is None:  # pragma: no cover - macOS, Windows
        return
    with _disk(path, "opening"):
        size = path.stat().st_size
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    try:
        fallocate(fd, 0, size)
    except OSError as exc:
        if exc.errno in _NO_FALLOCATE:
            logger.debug("%s: cannot reserve space (%s); writing it sparse", path, exc)
            return
        raise DatasetError(f"{path.parent}: cannot reserve {size} bytes ({size / 2**30:.2f} "
                           f"GiB) for the feature cache file {path.name} ({exc}); free that much "
                           "space there or choose another folder (--feature-cache DIR)") from exc
    finally:
        os.close(fd)


def file_digest(path: Path) -> str:
    """SHA-1 (hex) of a file's bytes, read in 1 MiB pieces."""
    h = hashlib.sha1()
    with open(path, "rb") as fh:
        for piece in iter(lambda: fh.read(1 << 20), b""):
            h.update(piece)
    return h.hexdigest()


def cache_folder(namespace: str, key: dict[str, Any], base: str | Path | None = None) -> Path:
    """``<base>/<namespace>-<digest of key>`` (``base`` default ``<cache root>/features``)."""
    if base is None:
        from natsbench.api.evaluation import cache_root

        base = cache_root() / CACHE_SUBDIR
    digest = hashlib.sha1(json.dumps(key, sort_keys=True).encode("utf-8")).hexdigest()[:20]
    return Path(base).expanduser() / f"{namespace}-{digest}"


class FeatureCache:
    """The arrays of one key in ``folder`` (see the module docstring)."""

    def __init__(self, namespace: str, key: dict[str, Any], base: str | Path | None = None) -> None:
        self.key = key
        self.folder = cache_folder(namespace, key, base)

    def path(self, name: str) -> Path:
        return self.folder / f"{name}.npy"

    def open(self, name: str, shape: tuple[int, ...], dtype: np.dtype | str) -> np.memmap | None:
        """The finished array ``name`` memory-mapped read-only, or ``None`` if it is not built.

        Raises:
            DatasetError: the file exists but is not a whole ``.npy`` of ``shape`` / ``dtype``.
        """
        path = self.path(name)
        if not path.is_file():
            return None
        try:
            arr = np.load(path, mmap_mode="r", allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise DatasetError(f"{path}: a corrupt or truncated feature cache file ({exc}); "
                               "delete it to rebuild it") from exc
        if arr.shape != tuple(shape) or arr.dtype != np.dtype(dtype):
            raise DatasetError(f"{path}: feature cache of shape {arr.shape} and dtype "
                               f"{arr.dtype}, expected {tuple(shape)} {np.dtype(dtype)}; delete "
                               "it to rebuild it")
        return arr

    def build(self, name: str, shape: tuple[int, ...], dtype: np.dtype | str,
              fill: Callable[[int, int, np.ndarray], None], *, block: int = DEFAULT_BLOCK,
              progress: bool = True, desc: str | None = None, unit: str = "row") -> np.memmap:
        """Compute array ``name`` block by block and return it memory-mapped.

        Args:
            shape: ``(rows, *row shape)``.
            dtype: the stored dtype (``fill`` writes float32; it is cast on storing).
            fill: ``fill(start, stop, out)`` writes rows ``start:stop`` into float32 ``out``
                ``[stop - start, *row shape]``.
            block: rows per block (progress is saved after each).
        """
        with _disk(self.folder, "creating the feature cache folder"):
            self.folder.mkdir(parents=True, exist_ok=True)
        dtype = np.dtype(dtype)
        with _build_lock(self.folder / f"{name}.lock"):
            built = self.open(name, shape, dtype)
            if built is not None:   # another process built it while we waited for the lock
                logger.info("feature cache %s built by another process; using it",
                            self.path(name))
                return built
            self._build_locked(name, shape, dtype, fill, block=block, progress=progress,
                               desc=desc, unit=unit)
        out = self.open(name, shape, dtype)
        assert out is not None
        return out

    def _build_locked(self, name: str, shape: tuple[int, ...], dtype: np.dtype,
                      fill: Callable[[int, int, np.ndarray], None], *, block: int,
                      progress: bool, desc: str | None, unit: str) -> None:
        """:meth:`build`'s work, with the build lock held."""
        from tqdm.auto import tqdm

        key_file = self.folder / "key.json"
        if not key_file.is_file():
            with _disk(key_file, "writing"):
                atomic_write_bytes(key_file,
                                   json.dumps(self.key, indent=1, sort_keys=True).encode())
        partial = self.folder / f"{name}.npy.partial"
        state_file = self.folder / f"{name}.progress.json"
        state = {"shape": list(shape), "dtype": dtype.str, "done": 0}
        arr = None
        if partial.is_file() and state_file.is_file():
            try:
                saved = json.loads(state_file.read_text())
                if saved.get("shape") == state["shape"] and saved.get("dtype") == state["dtype"]:
                    arr = np.lib.format.open_memmap(partial, mode="r+")
                    if arr.shape == tuple(shape) and arr.dtype == dtype:
                        state["done"] = int(saved["done"])
                    else:
                        arr = None
            except (ValueError, OSError, KeyError, TypeError) as exc:
                logger.warning("restarting the feature cache build of %s (%s)", partial, exc)
                arr = None
        if arr is None:
            state["done"] = 0
            state_file.unlink(missing_ok=True)
            with _disk(partial, "creating"):
                arr = np.lib.format.open_memmap(partial, mode="w+", dtype=dtype,
                                                shape=tuple(shape))
            try:
                _reserve(partial)
            except DatasetError:
                del arr
                partial.unlink(missing_ok=True)
                raise
        elif state["done"]:
            logger.info("resuming the feature cache build of %s at row %d of %d", partial,
                        state["done"], shape[0])
        rows = shape[0]
        with tqdm(total=rows, initial=state["done"], desc=desc or f"feature cache {name}",
                  unit=unit, disable=not progress, leave=False) as bar:
            for start in range(state["done"], rows, block):
                stop = min(rows, start + block)
                buf = np.empty((stop - start, *shape[1:]), dtype=np.float32)
                fill(start, stop, buf)
                arr[start:stop] = buf
                with _disk(partial, "flushing"):
                    arr.flush()
                state["done"] = stop
                with _disk(state_file, "writing"):
                    atomic_write_bytes(state_file, json.dumps(state).encode())
                bar.update(stop - start)
        with _disk(partial, "finishing"):
            arr.flush()
            del arr
            with open(partial, "rb+") as fh:
                os.fsync(fh.fileno())
            os.replace(partial, self.path(name))
            _fsync_dir(self.folder)
            state_file.unlink(missing_ok=True)
        logger.info("feature cache %s written (%d rows)", self.path(name), rows)

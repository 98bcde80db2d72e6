"""Reading torch-saved (``torch.save``) archives without torch and without executing code.

NAS-Bench-201 ships its benchmark as ``NAS-Bench-201-v1_0-e61699.pth`` and
``NAS-Bench-201-v1_1-096897.pth``: ``torch.save`` of a plain dict (``meta_archs``,
``arch2infos`` ``{index: {"less": ArchResults state, "full": ArchResults state}}``,
``evaluated_indexes``) holding only containers and numbers. ``torch.save`` writes one of two
layouts, both read here with the restricted unpickler of
:mod:`natsbench.store.restricted_pickle` plus ``_codecs.encode(str, "latin1")`` (how pickle
protocol 2 writes bytes), so torch is not needed and a file naming any other global, e.g. one
that would execute code, is refused:

* the legacy stream (torch < 1.6, the released NAS-Bench-201 files): five pickles in a row --
  the magic number ``0x1950a86a20f9469cfc6c``, the protocol version ``1001``, a ``sys_info``
  dict, the object, and the sorted list of tensor-storage keys, followed by the raw storages;
* the zip layout (torch >= 1.6): ``<name>/data.pkl`` (the object) plus ``<name>/data/<key>``
  storages, ``<name>/version`` and ``<name>/byteorder``.

Tensors are refused (they arrive as persistent references): the NAS-Bench-201 result archives
hold none (their ``net_state_dict`` fields are ``None``).
"""
from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path
from typing import Any

from natsbench.errors import ArchiveError
from natsbench.safe_unpickle import PICKLE_ERRORS, TORCH_ARCHIVE, RestrictedUnpickler

#: first object of a legacy ``torch.save`` stream
TORCH_MAGIC = 0x1950A86A20F9469CFC6C
#: second object of a legacy stream
TORCH_PROTOCOL_VERSION = 1001
_MAGIC_LONG1 = b"\x8a\x0a" + TORCH_MAGIC.to_bytes(10, "little")   # pickle LONG1 opcode


def _head(path: Path, n: int = 32) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(n)
    except OSError as exc:
        raise ArchiveError(f"{path}: cannot read archive file ({exc})") from exc


def is_torch_archive(path: str | os.PathLike) -> bool:
    """Whether ``path`` looks like a ``torch.save`` file (zip or legacy stream)."""
    head = _head(Path(path))
    return head.startswith(b"PK\x03\x04") or (head[:1] == b"\x80" and _MAGIC_LONG1 in head[:24])


def load_torch_archive(path: str | os.PathLike) -> Any:
    """Load the object of a ``torch.save`` file with the restricted unpickler.

    Raises:
        ArchiveError: the file is missing, truncated, not a torch file, holds tensors, or
            names a global other than plain containers and numbers. The message names the file.
    """
    path = Path(path)
    head = _head(path)
    if head.startswith(b"PK\x03\x04"):
        return _load_zip(path)
    if head[:1] == b"\x80" and _MAGIC_LONG1 in head[:24]:
        return _load_legacy(path)
    raise ArchiveError(f"{path}: not a torch-saved archive (neither the zip layout nor the "
                       f"legacy stream that starts with torch's magic number)")


def _load_zip(path: Path) -> Any:
    try:
        with zipfile.ZipFile(path) as zf:
            names = [n for n in zf.namelist() if n == "data.pkl" or n.endswith("/data.pkl")]
            if len(names) != 1:
                raise ArchiveError(f"{path}: a torch zip archive holds one '<name>/data.pkl', "
                                   f"found {names or 'none'}")
            payload = zf.read(names[0])
    except (zipfile.BadZipFile, OSError, EOFError, zipfile.LargeZipFile) as exc:
        raise ArchiveError(f"{path}: truncated or corrupt torch zip archive ({exc})") from exc
    try:
        return RestrictedUnpickler(io.BytesIO(payload), source=str(path), allow=TORCH_ARCHIVE).load()
    except ArchiveError:
        raise
    except PICKLE_ERRORS as exc:
        raise ArchiveError(f"{path}: corrupt or truncated torch archive ({type(exc).__name__}: {exc})") from exc


def _load_legacy(path: Path) -> Any:
    source = str(path)
    try:
        with open(path, "rb") as f:
            stream = io.BufferedReader(f, buffer_size=1 << 20)

            def load() -> Any:
                return RestrictedUnpickler(stream, source=source, allow=TORCH_ARCHIVE).load()

            magic, version, sys_info = load(), load(), load()
            if magic != TORCH_MAGIC or version != TORCH_PROTOCOL_VERSION or not isinstance(sys_info, dict):
                raise ArchiveError(f"{path}: not a torch legacy archive (magic {magic!r}, "
                                   f"protocol {version!r}; expected {TORCH_MAGIC:#x}, {TORCH_PROTOCOL_VERSION})")
            obj = load()
            storage_keys = load()
    except ArchiveError:
        raise
    except OSError as exc:
        raise ArchiveError(f"{path}: cannot read archive file ({exc})") from exc
    except PICKLE_ERRORS as exc:
        raise ArchiveError(f"{path}: corrupt or truncated torch archive ({type(exc).__name__}: {exc})") from exc
    if storage_keys != []:
        raise ArchiveError(f"{path}: the archive holds tensor storages {storage_keys!r:.80}; only "
                           f"plain containers and numbers are admitted")
    return obj

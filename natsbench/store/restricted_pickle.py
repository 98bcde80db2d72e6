"""Loading official NATS-Bench archives without executing code.

Pickles run arbitrary code when loaded. Official archives are bz2-compressed pickles of
plain dicts, lists, tuples, sets, strings and numbers; the only globals they name are
``collections.OrderedDict`` and numpy's scalar reconstruction (``numpy.core.multiarray.scalar``
with a ``numpy.dtype``), because a few numbers were saved as numpy float64. This module's
unpickler admits exactly those and fails with :class:`~natsbench.errors.ArchiveError` on
anything else (naming the global), so a hostile archive cannot run code.

numpy scalars are rebuilt by our own function, which accepts only numeric dtypes and raw
bytes of the right length; they come out as plain Python ``float``/``int``/``bool``.
"""
from __future__ import annotations

import bz2
import collections
import io
import lzma
import os
import pickle
import struct
from pathlib import Path
from typing import Any

from natsbench.errors import ArchiveError

#: numeric dtype codes admitted for numpy scalars -> struct format
_NUMERIC_DTYPES = {
    "f8": "d", "f4": "f", "f2": "e", "i8": "q", "i4": "i", "i2": "h", "i1": "b",
    "u8": "Q", "u4": "I", "u2": "H", "u1": "B", "b1": "?",
}


class _SafeDType:
    """Stand-in for ``numpy.dtype`` during unpickling: remembers the type code only."""

    def __init__(self, code: str, align: bool = False, copy: bool = False) -> None:
        code = str(code)
        if code not in _NUMERIC_DTYPES:
            raise ArchiveError(f"numpy dtype {code!r} is not allowed in an archive; "
                               f"allowed: {sorted(_NUMERIC_DTYPES)}")
        self.code = code
        self.byteorder = "<"

    def __setstate__(self, state: Any) -> None:
        # numpy dtype state: (version, byteorder, subarray, names, fields, elsize, alignment, flags)
        if isinstance(state, tuple) and len(state) >= 2 and state[1] in ("<", ">", "|", "="):
            self.byteorder = "<" if state[1] in ("|", "=") else state[1]
        else:
            raise ArchiveError(f"malformed numpy dtype state in archive: {state!r}")


def _safe_scalar(dtype: Any, data: Any = None) -> float | int | bool:
    """Rebuild a numpy scalar as a Python number."""
    if not isinstance(dtype, _SafeDType) or not isinstance(data, (bytes, bytearray)):
        raise ArchiveError("malformed numpy scalar in archive")
    fmt = _NUMERIC_DTYPES[dtype.code]
    if struct.calcsize(fmt) != len(data):
        raise ArchiveError(f"numpy scalar of dtype {dtype.code} has {len(data)} bytes")
    (value,) = struct.unpack(dtype.byteorder + fmt, bytes(data))
    return value


_ALLOWED: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "dict"): dict,
    ("builtins", "list"): list,
    ("builtins", "tuple"): tuple,
    ("__builtin__", "set"): set,
    ("numpy", "dtype"): _SafeDType,
    ("numpy.core.multiarray", "scalar"): _safe_scalar,
    ("numpy._core.multiarray", "scalar"): _safe_scalar,
}


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that admits only plain containers and numbers."""

    def __init__(self, file: io.BufferedIOBase, source: str = "<archive>") -> None:
        super().__init__(file)
        self._source = source

    def find_class(self, module: str, name: str) -> Any:  # noqa: D102
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise ArchiveError(
                f"{self._source}: refusing to load global {module}.{name}: an archive may only "
                f"contain plain containers and numbers (allowed globals: "
                f"{', '.join(f'{m}.{n}' for m, n in sorted(_ALLOWED))})"
            ) from None

    def persistent_load(self, pid: Any) -> Any:  # noqa: D102
        raise ArchiveError(f"{self._source}: persistent references are not allowed in an archive")


def restricted_loads(payload: bytes, source: str = "<archive>") -> Any:
    """Unpickle ``payload`` with :class:`RestrictedUnpickler`."""
    try:
        return RestrictedUnpickler(io.BytesIO(payload), source=source).load()
    except ArchiveError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError,
            AttributeError, struct.error, KeyError, RecursionError) as exc:
        raise ArchiveError(f"{source}: corrupt or truncated pickle ({type(exc).__name__}: {exc})") from exc


def load_archive_file(path: str | os.PathLike) -> Any:
    """Read a (bz2/xz-compressed or raw) pickle archive file safely.

    Raises:
        ArchiveError: the file is missing, truncated, not a compressed pickle, or names a
            global other than plain containers and numbers. The message names the file.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ArchiveError(f"{path}: cannot read archive file ({exc})") from exc
    try:
        if raw[:3] == b"BZh":
            raw = bz2.decompress(raw)
        elif raw[:6] == b"\xfd7zXZ\x00":
            raw = lzma.decompress(raw)
    except (OSError, EOFError, ValueError, lzma.LZMAError) as exc:
        raise ArchiveError(f"{path}: truncated or corrupt compressed archive ({exc})") from exc
    if not raw or raw[:1] != b"\x80":
        raise ArchiveError(f"{path}: not a pickle archive (expected a bz2-compressed pickle)")
    return restricted_loads(raw, source=str(path))

"""Restricted unpickling: one unpickler core, a few allow-lists.

Pickles run arbitrary code when loaded, so natsbench never calls :func:`pickle.load` on a file.
It reads pickles with :class:`RestrictedUnpickler`, which resolves a global only if the
:class:`AllowList` it was given names it and fails with that list's error type (a
:class:`~natsbench.errors.NatsBenchError`) naming the source and the refused global otherwise.
Persistent references (how ``torch.save`` points at tensors) are refused too.

The two allow-lists:

* :data:`OFFICIAL_ARCHIVE` (the default, and the stricter one): official NATS-Bench archives,
  bz2-compressed pickles of plain dicts, lists, tuples, sets, strings and numbers. The only
  globals they name are ``collections.OrderedDict`` and numpy's scalar reconstruction
  (``numpy.core.multiarray.scalar`` with a ``numpy.dtype``), because a few numbers were saved as
  numpy float64. numpy scalars are rebuilt by our own functions, which accept only numeric
  dtypes and raw bytes of the right length; they come out as plain Python
  ``float``/``int``/``bool``, and numpy is not needed. Errors: :class:`ArchiveError`.
* :data:`DATASET_BATCH`: the pickled image batches of CIFAR and downsampled ImageNet, which
  hold plain containers, strings, bytes, numbers and numpy arrays: ``numpy.ndarray``,
  ``numpy.dtype`` and the array rebuilders numpy writes (``numpy[._]core.multiarray._reconstruct``
  for protocols 0-4, ``numpy[._]core.numeric._frombuffer`` for protocol 5,
  ``numpy[._]core.multiarray.scalar``), ``_codecs.encode`` restricted to latin-1 (Python 3
  writes ``bytes`` this way under protocols 0-2) and ``collections.OrderedDict``. Arrays of
  ``object`` dtype are refused after loading (they can only hold what the unpickler already
  admitted, but no dataset batch has them, so one means a foreign file). The original CIFAR
  files are Python 2 pickles whose byte strings are read as latin-1 ``str``, which numpy
  accepts for the raw array data. Errors: :class:`DatasetError`.
* :data:`DATASET_OBJECTS`: the same globals, for the NAS-Bench-360 task files saved with pickled
  objects (dicts in ``.npy`` files, lists of recordings, string labels, path lists): object
  arrays are admitted when everything in them is plain. :func:`load_npy_file` reads ``.npy``
  files with it (numeric ones with ``numpy.load(allow_pickle=False)``). Errors:
  :class:`DatasetError`.

This module sits below ``store`` and ``datasets`` (docs/LAYERS.md) so both use the same core.
"""
from __future__ import annotations

import bz2
import collections
import io
import lzma
import os
import pickle
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from natsbench.errors import ArchiveError, DatasetError, NatsBenchError

__all__ = ["AllowList", "OFFICIAL_ARCHIVE", "TORCH_ARCHIVE", "DATASET_BATCH", "DATASET_OBJECTS",
           "RestrictedUnpickler", "PICKLE_ERRORS", "restricted_loads", "load_archive_file",
           "load_dataset_pickle", "load_npy_file"]


@dataclass(frozen=True)
class AllowList:
    """What a restricted unpickler admits, and how it fails.

    Attributes:
        what: what the pickles are, for messages (e.g. ``"official archive"``).
        contents: what they may contain, in words, for messages.
        globals: ``(module, name)`` -> the object that global resolves to.
        error: the :class:`NatsBenchError` subclass raised on anything else.
        encoding: how Python 2 byte strings are decoded (``pickle.Unpickler``'s ``encoding``).
        check: called with the loaded object; raises :class:`pickle.UnpicklingError` to refuse it.
    """

    what: str
    contents: str
    globals: Mapping[tuple[str, str], Any]
    error: type[NatsBenchError]
    encoding: str = "ASCII"
    check: Callable[[Any], None] | None = None

    def names(self) -> str:
        """The admitted globals as ``module.name``, sorted and comma-separated."""
        return ", ".join(f"{m}.{n}" for m, n in sorted(self.globals))


# -- the official-archive list: plain containers and numbers, numpy scalars as Python numbers --

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
            raise pickle.UnpicklingError(f"numpy dtype {code!r} is not allowed; "
                                         f"allowed: {sorted(_NUMERIC_DTYPES)}")
        self.code = code
        self.byteorder = "<"

    def __setstate__(self, state: Any) -> None:
        # numpy dtype state: (version, byteorder, subarray, names, fields, elsize, alignment, flags)
        if isinstance(state, tuple) and len(state) >= 2 and state[1] in ("<", ">", "|", "="):
            self.byteorder = "<" if state[1] in ("|", "=") else state[1]
        else:
            raise pickle.UnpicklingError(f"malformed numpy dtype state: {state!r}")


def _safe_scalar(dtype: Any, data: Any = None) -> float | int | bool:
    """Rebuild a numpy scalar as a Python number."""
    if not isinstance(dtype, _SafeDType) or not isinstance(data, (bytes, bytearray)):
        raise pickle.UnpicklingError("malformed numpy scalar")
    fmt = _NUMERIC_DTYPES[dtype.code]
    if struct.calcsize(fmt) != len(data):
        raise pickle.UnpicklingError(f"numpy scalar of dtype {dtype.code} has {len(data)} bytes")
    (value,) = struct.unpack(dtype.byteorder + fmt, bytes(data))
    return value


OFFICIAL_ARCHIVE = AllowList(
    what="official archive",
    contents="an official archive may only contain plain containers and numbers",
    globals={
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
    },
    error=ArchiveError,
)


# -- the dataset-batch list: numpy arrays ------------------------------------------------------

def _latin1_encode(obj: str, encoding: str = "utf-8", errors: str = "strict") -> bytes:
    """``_codecs.encode`` as pickled by Python 3 for ``bytes``; latin-1 only."""
    if encoding.lower().replace("_", "-") not in ("latin1", "latin-1", "iso-8859-1"):
        raise pickle.UnpicklingError(f"_codecs.encode with codec {encoding!r} is not admitted")
    if not isinstance(obj, str):
        raise pickle.UnpicklingError("_codecs.encode called on a non-string")
    return obj.encode("latin-1", errors)


#: torch-saved archives (NAS-Bench-201 ``.pth``): the official-archive list plus
#: ``_codecs.encode(str, "latin1")``, how pickle protocol 2 (torch's default) writes bytes
TORCH_ARCHIVE = AllowList(
    what="torch-saved archive",
    contents="a torch-saved archive may only contain plain containers and numbers (no tensors)",
    globals={**OFFICIAL_ARCHIVE.globals, ("_codecs", "encode"): _latin1_encode},
    error=ArchiveError,
)


def _numpy_globals() -> dict[tuple[str, str], Any]:
    import numpy as np

    try:  # numpy >= 2
        from numpy._core import multiarray, numeric
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core import multiarray, numeric  # type: ignore[no-redef]
    table: dict[tuple[str, str], Any] = {("numpy", "ndarray"): np.ndarray,
                                         ("numpy", "dtype"): np.dtype}
    for prefix in ("numpy.core", "numpy._core"):
        table[(f"{prefix}.multiarray", "_reconstruct")] = multiarray._reconstruct
        table[(f"{prefix}.multiarray", "scalar")] = multiarray.scalar
        table[(f"{prefix}.numeric", "_frombuffer")] = numeric._frombuffer
    return table


def _check_tree(obj: Any, objects: bool, depth: int = 0) -> None:
    """Walk containers; numpy arrays of object dtype are refused (``objects=False``) or walked
    too, every leaf then a string, bytes or a number (``objects=True``)."""
    import numpy as np

    if depth > 32:
        raise pickle.UnpicklingError("nesting deeper than 32 levels")
    if isinstance(obj, np.ndarray):
        if obj.dtype.hasobject:
            if not objects:
                raise pickle.UnpicklingError("numpy array of object dtype")
            for value in obj.reshape(-1).tolist():
                _check_tree(value, objects, depth + 1)
    elif isinstance(obj, dict):
        for key, value in obj.items():
            _check_tree(key, objects, depth + 1)
            _check_tree(value, objects, depth + 1)
    elif isinstance(obj, (list, tuple)):
        # long lists of numbers (labels) are common: only recurse into containers
        for value in obj:
            if isinstance(value, (np.ndarray, dict, list, tuple)):
                _check_tree(value, objects, depth + 1)
    elif objects and obj is not None and \
            not isinstance(obj, (str, bytes, int, float, complex, bool, np.generic)):
        raise pickle.UnpicklingError(f"object of type {type(obj).__name__}")


def _check_no_objects(obj: Any) -> None:
    _check_tree(obj, objects=False)


def _check_plain(obj: Any) -> None:
    """Containers, strings, bytes, numbers and numpy arrays; object arrays only of those."""
    _check_tree(obj, objects=True)


DATASET_BATCH = AllowList(
    what="dataset pickle",
    contents="a dataset pickle may only contain containers, numbers, bytes and numeric numpy arrays",
    globals={**_numpy_globals(), ("_codecs", "encode"): _latin1_encode,
             ("collections", "OrderedDict"): collections.OrderedDict},
    error=DatasetError,
    encoding="latin1",
    check=_check_no_objects,
)


#: the NAS-Bench-360 task files saved with ``allow_pickle`` (Satellite's ``.npy`` dicts, ECG's
#: pickle of recordings and string labels, Cosmic's path lists): the globals of
#: :data:`DATASET_BATCH`, but arrays of ``object`` dtype are admitted when everything in them is
#: itself plain (the unpickler already admitted only numpy's array rebuilders).
DATASET_OBJECTS = AllowList(
    what="dataset file with pickled objects",
    contents="a dataset file may only contain containers, strings, numbers, bytes and numpy "
             "arrays",
    globals=DATASET_BATCH.globals,
    error=DatasetError,
    encoding="latin1",
    check=_check_plain,
)


# -- the core ----------------------------------------------------------------------------------

#: what a malformed pickle raises inside :meth:`pickle.Unpickler.load`
PICKLE_ERRORS = (pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError,
                  AttributeError, KeyError, struct.error, UnicodeError, OverflowError,
                  MemoryError, RecursionError)


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only the globals of ``allow`` (default: :data:`OFFICIAL_ARCHIVE`).

    ``load()`` raises ``allow.error`` for a refused global or persistent reference; other
    malformations surface as the usual pickle errors (:func:`restricted_loads` wraps them).
    """

    def __init__(self, file: io.BufferedIOBase, source: str = "<pickle>", *,
                 allow: AllowList = OFFICIAL_ARCHIVE) -> None:
        super().__init__(file, encoding=allow.encoding)
        self._source = source
        self._allow = allow

    def find_class(self, module: str, name: str) -> Any:  # noqa: D102
        try:
            return self._allow.globals[(module, name)]
        except KeyError:
            raise self._allow.error(
                f"{self._source}: global {module}.{name} is not admitted: {self._allow.contents} "
                f"(admitted globals: {self._allow.names()})") from None

    def persistent_load(self, pid: Any) -> Any:  # noqa: D102
        raise self._allow.error(f"{self._source}: persistent references (e.g. tensors) are not "
                                f"admitted: {self._allow.contents}")


def restricted_loads(payload: bytes, source: str = "<pickle>", *,
                     allow: AllowList = OFFICIAL_ARCHIVE) -> Any:
    """Unpickle ``payload`` admitting only the globals of ``allow``, then run ``allow.check``.

    Raises:
        allow.error: a refused global, or a payload that is not a valid pickle (truncated,
            corrupt); the message names ``source``.
    """
    try:
        obj = RestrictedUnpickler(io.BytesIO(payload), source, allow=allow).load()
        if allow.check is not None:
            allow.check(obj)
    except allow.error:
        raise
    except PICKLE_ERRORS as exc:
        raise allow.error(f"{source}: not a valid {allow.what}, corrupt or truncated "
                          f"({type(exc).__name__}: {exc})") from exc
    return obj


def load_archive_file(path: str | os.PathLike) -> Any:
    """Read a (bz2/xz-compressed or raw) official pickle archive file with :data:`OFFICIAL_ARCHIVE`.

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
    return restricted_loads(raw, source=str(path), allow=OFFICIAL_ARCHIVE)


def load_dataset_pickle(path: str | os.PathLike) -> Any:
    """Read one dataset batch file with :data:`DATASET_BATCH`.

    Raises:
        DatasetError: the file is missing/unreadable or not an admissible pickle; the message
            names the file.
    """
    path = Path(path)
    try:
        payload = path.read_bytes()
    except FileNotFoundError as exc:
        raise DatasetError(f"expected dataset file {path} but it does not exist") from exc
    except OSError as exc:
        raise DatasetError(f"cannot read dataset file {path}: {exc}") from exc
    return restricted_loads(payload, source=str(path), allow=DATASET_BATCH)


def load_npy_file(path: str | os.PathLike, *, allow: AllowList = DATASET_OBJECTS) -> Any:
    """Read a ``.npy`` file: numeric arrays with ``numpy.load(allow_pickle=False)``, arrays of
    ``object`` dtype (written by ``numpy.save`` as a pickle after the header) through the
    restricted unpickler with ``allow``.

    Raises:
        DatasetError: missing, unreadable or corrupt file, or a refused global; names the file.
    """
    import numpy as np

    path = Path(path)
    try:
        with open(path, "rb") as fh:
            version = np.lib.format.read_magic(fh)
            header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                      else np.lib.format.read_array_header_2_0)(fh)
            dtype = header[2]
            if not dtype.hasobject:
                fh.seek(0)
                return np.load(fh, allow_pickle=False)
            payload = fh.read()
    except FileNotFoundError as exc:
        raise DatasetError(f"expected dataset file {path} but it does not exist") from exc
    except (OSError, ValueError, EOFError) as exc:
        raise DatasetError(f"{path}: not a valid .npy file, corrupt or truncated ({exc})") from exc
    obj = restricted_loads(payload, source=str(path), allow=allow)
    if not isinstance(obj, np.ndarray):
        raise DatasetError(f"{path}: the pickled payload is a {type(obj).__name__}, expected an "
                           "array")
    return obj

"""A restricted unpickler for the pickled image batches of CIFAR and downsampled ImageNet.

Pickle files can run arbitrary code when loaded with :func:`pickle.load`. The dataset
batches only ever contain plain containers (dict, list, tuple), strings, bytes, numbers and
numpy arrays, so this unpickler admits exactly the globals needed to rebuild those and
rejects everything else with a :class:`~natsbench.errors.DatasetError` naming the file and
the refused global.

Admitted globals (module, name):

* ``numpy.ndarray``, ``numpy.dtype`` and the array rebuilders numpy writes:
  ``numpy[._]core.multiarray._reconstruct`` (protocols 0-4),
  ``numpy[._]core.numeric._frombuffer`` (protocol 5) and
  ``numpy[._]core.multiarray.scalar`` (numpy scalars);
* ``_codecs.encode`` restricted to the latin-1 codec: Python 3 writes ``bytes`` this way
  under protocols 0-2;
* ``collections.OrderedDict``.

Arrays of ``object`` dtype are refused after loading (they can only hold what the
unpickler already admitted, but no dataset batch has them, so one means a foreign file).
The original CIFAR files are Python 2 pickles whose byte strings are read as latin-1
``str`` (``encoding="latin1"``), which numpy accepts for the raw array data.
"""
from __future__ import annotations

import collections
import io
import pickle
from pathlib import Path
from typing import Any, Callable

import numpy as np

from natsbench.errors import DatasetError

__all__ = ["load_pickle", "loads_pickle"]


def _latin1_encode(obj: str, encoding: str = "utf-8", errors: str = "strict") -> bytes:
    """``_codecs.encode`` as pickled by Python 3 for ``bytes``; latin-1 only."""
    if encoding.lower().replace("_", "-") not in ("latin1", "latin-1", "iso-8859-1"):
        raise pickle.UnpicklingError(f"_codecs.encode with codec {encoding!r} is not admitted")
    if not isinstance(obj, str):
        raise pickle.UnpicklingError("_codecs.encode called on a non-string")
    return obj.encode("latin-1", errors)


def _numpy_globals() -> dict[tuple[str, str], Callable[..., Any] | type]:
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


_ALLOWED: dict[tuple[str, str], Any] = {
    **_numpy_globals(),
    ("_codecs", "encode"): _latin1_encode,
    ("collections", "OrderedDict"): collections.OrderedDict,
}


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:  # noqa: D401 - pickle hook
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            allowed = sorted(f"{m}.{n}" for m, n in _ALLOWED)
            raise pickle.UnpicklingError(
                f"global {module}.{name} is not admitted (admitted: {', '.join(allowed)})"
            ) from None


def _check_no_objects(obj: Any, depth: int = 0) -> None:
    if depth > 32:
        raise pickle.UnpicklingError("nesting deeper than 32 levels")
    if isinstance(obj, np.ndarray):
        if obj.dtype.hasobject:
            raise pickle.UnpicklingError("numpy array of object dtype")
    elif isinstance(obj, dict):
        for key, value in obj.items():
            _check_no_objects(key, depth + 1)
            _check_no_objects(value, depth + 1)
    elif isinstance(obj, (list, tuple)):
        # long lists of numbers (labels) are common: only recurse into containers
        for value in obj:
            if isinstance(value, (np.ndarray, dict, list, tuple)):
                _check_no_objects(value, depth + 1)


def loads_pickle(payload: bytes, *, source: str = "<bytes>") -> Any:
    """Unpickle ``payload`` with the restricted unpickler (see the module docstring).

    Raises:
        DatasetError: the payload is not a pickle, is truncated, or needs a global that is
            not admitted; the message names ``source``.
    """
    try:
        obj = _RestrictedUnpickler(io.BytesIO(payload), encoding="latin1").load()
        _check_no_objects(obj)
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError,
            IndexError, KeyError, UnicodeError, OverflowError, MemoryError) as exc:
        raise DatasetError(f"{source}: not a valid dataset pickle ({type(exc).__name__}: {exc})") from exc
    return obj


def load_pickle(path: str | Path) -> Any:
    """Read and restrictedly unpickle one batch file.

    Raises:
        DatasetError: the file is missing/unreadable or not an admissible pickle.
    """
    path = Path(path)
    try:
        payload = path.read_bytes()
    except FileNotFoundError as exc:
        raise DatasetError(f"expected dataset file {path} but it does not exist") from exc
    except OSError as exc:
        raise DatasetError(f"cannot read dataset file {path}: {exc}") from exc
    return loads_pickle(payload, source=str(path))

"""Exception types shared by all natsbench modules.

Every error derives from a builtin type (ValueError, KeyError, ...) so callers that catch the
builtin keep working, and from :class:`NatsBenchError` so callers can catch ours.

The contract (README, "Errors"): every error caused by user input (an argument, a file, a
name) is a :class:`NatsBenchError` whose message names the bad value and the valid ones; the
``natsbench`` command prints it as one line and exits with code 2. Anything else is a bug.
The ``require_*``/``check_*`` helpers below check paths and ranges before any work starts.
"""
from __future__ import annotations

import os
from pathlib import Path


class NatsBenchError(Exception):
    """Base class of all natsbench errors."""


class InvalidArchError(NatsBenchError, ValueError):
    """An architecture string or encoding is malformed or not in the search space."""


class QueryError(NatsBenchError, ValueError):
    """A query names something the benchmark does not hold (index, dataset, set, hp, seed, epoch)."""


class ArchiveError(NatsBenchError, ValueError):
    """An archive (official pickle, record file, table) is corrupt, truncated or hostile."""


class StoreError(NatsBenchError, RuntimeError):
    """A benchmark directory is missing, incomplete or inconsistent."""


class DatasetError(NatsBenchError, FileNotFoundError):
    """Dataset files are missing or malformed."""


class MissingDependencyError(NatsBenchError, ImportError):
    """A feature needs an optional dependency that is not installed (names the extra to install)."""


class ConfigError(NatsBenchError, ValueError):
    """A setting is invalid: out of range, of the wrong type, or not one of the valid options
    (algorithm hyperparameters, sizes, counts, grid bounds, seeds, devices)."""


class PathError(NatsBenchError, FileNotFoundError):
    """A path given by the user is missing, empty, or of the wrong kind (a file where a
    directory is expected, or the reverse)."""


def _shown(path: object) -> str:
    text = str(path)
    return repr(text) if not text or text == "." else text


def _require(path: str | os.PathLike, what: str, *, directory: bool) -> Path:
    kind, other = ("directory", "file") if directory else ("file", "directory")
    if not str(path):
        raise PathError(f"{what}: empty path ''; expected an existing {kind}")
    p = Path(path)
    if not p.exists():
        raise PathError(f"{what} {_shown(path)} does not exist")
    if p.is_dir() != directory:
        raise PathError(f"{what} {_shown(path)} is a {other}; expected a {kind}")
    return p


def require_file(path: str | os.PathLike, what: str = "file") -> Path:
    """``path`` as a :class:`Path` if it is an existing file, else :class:`PathError` naming it."""
    return _require(path, what, directory=False)


def require_dir(path: str | os.PathLike, what: str = "directory") -> Path:
    """``path`` as a :class:`Path` if it is an existing directory, else :class:`PathError`."""
    return _require(path, what, directory=True)


def check_output(path: str | os.PathLike, what: str = "output", *, directory: bool) -> Path:
    """Check, before any work, that ``path`` can become an output directory (``directory``)
    or file: not empty, not a file where a directory goes (or the reverse), and no file among
    its existing ancestors. Writes nothing."""
    if not str(path):
        raise PathError(f"{what}: empty path ''; expected a {'directory' if directory else 'file'} to write")
    p = Path(path)
    if directory and p.exists() and not p.is_dir():
        raise PathError(f"{what} {_shown(path)} is a file; expected a directory (new or existing)")
    if not directory and p.is_dir():
        raise PathError(f"{what} {_shown(path)} is a directory; expected a file path")
    for parent in p.absolute().parents:
        if parent.exists():
            if not parent.is_dir():
                raise PathError(f"{what} {_shown(path)}: {parent} is a file, not a directory")
            break
    return p


def check_range(name: str, value: float, lo: float | None = None, hi: float | None = None) -> None:
    """:class:`ConfigError` naming ``name`` unless ``lo <= value <= hi`` (finite; bounds optional)."""
    import math

    ok = isinstance(value, (int, float)) and not (isinstance(value, float) and not math.isfinite(value))
    ok = ok and (lo is None or value >= lo) and (hi is None or value <= hi)
    if not ok:
        bounds = (f"in [{lo}, {hi}]" if lo is not None and hi is not None else
                  f">= {lo}" if lo is not None else f"<= {hi}" if hi is not None else "finite")
        raise ConfigError(f"{name} must be {bounds}, got {value!r}")


class StoredPredictionsError(QueryError):
    """Stored surrogate predictions exist but cannot answer the query as asked (another epoch,
    an architecture outside the benchmark); they are never silently replaced by a new fit."""

"""Exception types shared by all natsbench modules.

Every error derives from a builtin type (ValueError, KeyError, ...) so callers that catch the
builtin keep working, and from :class:`NatsBenchError` so callers can catch ours.
"""
from __future__ import annotations


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

"""The store's names for reading official archives without executing code.

The unpickler and its allow-lists live in :mod:`natsbench.safe_unpickle` (one core for the
official-archive and the dataset-batch allow-lists); these are its official-archive entry
points, under the names the store's importers use.
"""
from __future__ import annotations

from natsbench.safe_unpickle import RestrictedUnpickler, load_archive_file, restricted_loads

__all__ = ["RestrictedUnpickler", "restricted_loads", "load_archive_file"]

"""Optional dependencies: one check that names the extra to install.

``pip install natsbench`` brings what queries, search and analysis need; live training,
benchmark builds, the networks and the FFT convolutions need torch, which comes with the
``train`` extra (``pip install 'natsbench[train]'``). Modules of those features call
:func:`require` before importing the dependency (:func:`ensure_installed` where they only
check for it), so a missing one ends in a
:class:`~natsbench.errors.MissingDependencyError` (a clean CLI message), not a traceback.
"""
from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

from natsbench.errors import MissingDependencyError

#: extra -> what it enables (for the error message)
EXTRA_FEATURES: dict[str, str] = {
    "train": "live training, benchmark builds, the networks and the FFT convolutions",
    "ray": "the Ray executor",
    "tasks": "MATLAB v7.3 (HDF5) task files of NAS-Bench-360",
}


def require(module: str, extra: str) -> ModuleType:
    """Import and return ``module``; raise MissingDependencyError naming ``extra`` if it is absent.

    Only the module itself being absent is translated: an installed ``module`` that fails to
    import (a missing dependency of its own, a broken build) raises its original error.
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name != module.partition(".")[0]:
            raise
        raise _missing(module, extra) from None


def ensure_installed(module: str, extra: str) -> None:
    """Like :func:`require`, without importing ``module`` (for a process that only dispatches
    work to others, e.g. a build's main process: importing torch costs seconds)."""
    try:
        found = importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        found = False
    if not found:
        raise _missing(module, extra)


def _missing(module: str, extra: str) -> MissingDependencyError:
    return MissingDependencyError(
        f"{module} is not installed (needed for {EXTRA_FEATURES.get(extra, 'this feature')}); "
        f"install the '{extra}' extra: pip install 'natsbench[{extra}]'")

"""natsbench: a fast, reproducible NAS benchmark and search suite.

`import natsbench` is cheap: it does not import torch, matplotlib or ray. The query
entry points are loaded on first use.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from natsbench._version import __version__

__all__ = ["create", "open_bench", "__version__"]

if TYPE_CHECKING:  # pragma: no cover
    from natsbench.api.bench import Bench


def create(file_path_or_dict: Any, search_space: str, fast_mode: bool = False,
           verbose: bool = True, seed: int | None = None):
    """Drop-in replacement for ``nats_bench.create``.

    Args:
        file_path_or_dict: a natsbench benchmark directory, or an official NATS-Bench
            archive (the ``*-simple`` directory or a single ``*.pickle.pbz2`` file), which is
            imported on the fly into a temporary store.
        search_space: ``"tss"``/``"topology"`` or ``"sss"``/``"size"``.
        fast_mode: accepted for compatibility; natsbench always loads lazily.
        verbose: log (not print) each call at INFO level when True.
        seed: seed of the API's own random generator used when ``is_random=True``.
    """
    from natsbench.api.compat import create as _create

    return _create(file_path_or_dict, search_space, fast_mode=fast_mode, verbose=verbose, seed=seed)


def open_bench(path: Any) -> "Bench":
    """Open a benchmark directory for vectorized queries (see :class:`natsbench.api.bench.Bench`)."""
    from natsbench.api.bench import open_bench as _open_bench

    return _open_bench(path)

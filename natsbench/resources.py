"""The files shipped with natsbench: bundled benchmarks, ExtCell samples, published tables.

In the repository they live in the top-level ``data/`` folder; an installation (wheel or
editable) ships that folder as the package data ``natsbench._data`` (pyproject.toml maps the
package onto ``data/``), so nothing named ``data`` is installed at the top level. Every
reader of bundled files goes through :func:`bundled_path`.

>>> bundled_path("benchmarks", "tss-digits")      # doctest: +SKIP
PosixPath('.../natsbench/_data/benchmarks/tss-digits')
"""
from __future__ import annotations

import importlib.resources
import logging
from functools import lru_cache
from pathlib import Path

from natsbench.errors import StoreError

log = logging.getLogger(__name__)

__all__ = ["data_root", "bundled_path", "BUNDLED_TSS", "BUNDLED_SSS", "EXTCELL_SAMPLES", "PUBLISHED",
           "bundled_extcell"]

#: parts (below :func:`data_root`) of the bundled benchmarks and tables
BUNDLED_TSS: tuple[str, ...] = ("benchmarks", "tss-digits")
BUNDLED_SSS: tuple[str, ...] = ("benchmarks", "sss-digits")
EXTCELL_SAMPLES: tuple[str, ...] = ("extcell", "samples.csv")
PUBLISHED: tuple[str, ...] = ("published",)


def bundled_extcell(k: int) -> tuple[str, ...]:
    """Parts of the bundled digits benchmark of k-ExtCells (k in 10, 12, 14, 16)."""
    return ("benchmarks", "extcell", f"k{int(k)}")

_PACKAGE = "natsbench._data"


@lru_cache(maxsize=1)
def data_root() -> Path:
    """The folder of the bundled files (``natsbench/_data`` installed, ``data/`` in a checkout).

    Where this natsbench runs from a source checkout (an editable install, ``PYTHONPATH``, the
    working directory), it is that checkout's ``data/`` folder: the data of the code that runs,
    even where another checkout is installed. Otherwise (a wheel) it is the installed package
    data ``natsbench._data``, through :mod:`importlib.resources`.

    Raises StoreError when neither exists, or when natsbench is installed in a form whose
    files are not on the file system (a zip).
    """
    checkout = Path(__file__).resolve().parents[1]
    if (checkout / "pyproject.toml").is_file() and (checkout / "data" / "__init__.py").is_file():
        log.debug("natsbench runs from the source checkout %s", checkout)
        return checkout / "data"
    try:
        root = importlib.resources.files(_PACKAGE)
    except ModuleNotFoundError:
        raise StoreError(f"the bundled data ({_PACKAGE}) is missing from this installation of natsbench "
                         f"({Path(__file__).parent}); reinstall it") from None
    if not isinstance(root, Path):
        raise StoreError(f"natsbench's bundled data must be files on disk (benchmarks are memory-mapped); "
                         f"found {root!r}: install natsbench unzipped")
    return root


def bundled_path(*parts: str) -> Path:
    """Path of a bundled file or folder, e.g. ``bundled_path(*BUNDLED_TSS)``.

    Raises StoreError naming the path when it is not there (an incomplete installation).
    """
    path = data_root().joinpath(*parts)
    if not path.exists():
        raise StoreError(f"bundled {'/'.join(parts)} is missing from this installation ({path}); "
                         f"reinstall natsbench")
    return path

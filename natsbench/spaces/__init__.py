"""Search spaces: architecture strings, encodings, enumeration, isomorphism and sampling.

Pure Python + numpy (no torch). ``get_space(name)`` returns a fresh space object that
satisfies :class:`SearchSpace`; module-level helpers live in :mod:`.tss`, :mod:`.sss`,
:mod:`.darts` and :mod:`.extcell`.
"""
from __future__ import annotations

from typing import Any

from natsbench.errors import InvalidArchError
from natsbench.spaces import darts, extcell, sss, tss
from natsbench.spaces.base import ProductSpace, SearchSpace

__all__ = ["get_space", "SPACE_NAMES", "SearchSpace", "ProductSpace", "tss", "sss", "darts", "extcell"]

#: Accepted names (aliases included) -> canonical space name.
SPACE_NAMES: dict[str, str] = {"tss": "tss", "topology": "tss", "sss": "sss", "size": "sss",
                               "darts": "darts", "extcell": "extcell"}


def get_space(name: str, **options: Any) -> SearchSpace:
    """A new space object by name.

    Args:
        name: ``"tss"``/``"topology"``, ``"sss"``/``"size"``, ``"darts"`` or ``"extcell"``.
        options: only ``k`` (operation budget, default 16) for ``"extcell"``.

    Raises:
        InvalidArchError: unknown name or an option the space does not take.
    """
    canonical = SPACE_NAMES.get(name) if isinstance(name, str) else None
    if canonical is None:
        raise InvalidArchError(f"unknown search space {name!r}; valid: {', '.join(SPACE_NAMES)}")
    allowed = {"k"} if canonical == "extcell" else set()
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise InvalidArchError(f"space {canonical!r} takes no option {unknown[0]!r}; "
                               f"valid options: {sorted(allowed) or 'none'}")
    if canonical == "tss":
        return tss.TssSpace()
    if canonical == "sss":
        return sss.SssSpace()
    if canonical == "darts":
        return darts.DartsSpace()
    return extcell.ExtCellSpace(**options)

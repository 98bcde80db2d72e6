"""Search spaces: architecture strings, encodings, enumeration, isomorphism and sampling.

Pure Python + numpy (no torch). ``get_space(name)`` returns a fresh space object that
satisfies :class:`SearchSpace`; module-level helpers live in :mod:`.tss`, :mod:`.sss`,
:mod:`.darts` and :mod:`.extcell`.
"""
from __future__ import annotations

from typing import Any, Sequence

from natsbench.errors import InvalidArchError
from natsbench.spaces import darts, extcell, sss, tss
from natsbench.spaces.base import ProductSpace, SearchSpace

__all__ = ["get_space", "canonical_space", "space_names", "SPACE_NAMES", "NATS_SPACES",
           "SearchSpace", "ProductSpace", "tss", "sss", "darts", "extcell"]

#: Accepted names (aliases included) -> canonical space name.
SPACE_NAMES: dict[str, str] = {"tss": "tss", "topology": "tss", "sss": "sss", "size": "sss",
                               "darts": "darts", "extcell": "extcell"}
#: The NATS-Bench spaces: official archives and the compatibility API hold only these.
NATS_SPACES: tuple[str, ...] = ("tss", "sss")


def space_names(among: Sequence[str] | None = None) -> list[str]:
    """Accepted names, aliases included, of the canonical spaces ``among`` (default: all)."""
    return [n for n, c in SPACE_NAMES.items() if among is None or c in among]


def canonical_space(name: str, among: Sequence[str] | None = None) -> str:
    """The canonical name of a space name or alias (``topology`` -> ``tss``, ``size`` -> ``sss``).

    Args:
        name: a key of :data:`SPACE_NAMES`.
        among: the canonical names accepted here (default: all), e.g. :data:`NATS_SPACES`.

    Raises:
        InvalidArchError: unknown name, or a space not in ``among`` (lists the valid names).
    """
    canonical = SPACE_NAMES.get(name) if isinstance(name, str) else None
    if canonical is None or (among is not None and canonical not in among):
        raise InvalidArchError(f"unknown search space {name!r}; valid: {', '.join(space_names(among))}")
    return canonical


def get_space(name: str, **options: Any) -> SearchSpace:
    """A new space object by name.

    Args:
        name: ``"tss"``/``"topology"``, ``"sss"``/``"size"``, ``"darts"`` or ``"extcell"``.
        options: only ``k`` (operation budget, default 16) for ``"extcell"``.

    Raises:
        InvalidArchError: unknown name or an option the space does not take.
    """
    canonical = canonical_space(name)
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

"""The search-space interface shared by every space, and a base for product spaces.

A *search space* maps architecture strings (the project's universal key) to a vector of
categorical choices and back. :class:`SearchSpace` is the protocol every space object
satisfies; :class:`ProductSpace` implements it for spaces whose architectures are in
bijection with a Cartesian product of categorical choices (tss, sss, DARTS cells). There,
the canonical order is the mixed-radix order of the choice vector with dimension 0 most
significant, i.e. the order of ``itertools.product(*map(range, num_choices))``.
"""
from __future__ import annotations

import itertools
import math
from abc import ABC, abstractmethod
from typing import Any, Protocol, Sequence, runtime_checkable

import numpy as np

from natsbench.errors import InvalidArchError, QueryError

#: Spaces with more architectures than this report ``size = None`` and refuse ``all_archs``.
ENUMERATION_LIMIT = 10**6


@runtime_checkable
class SearchSpace(Protocol):
    """What every search space object offers (see COMMON interface of ``natsbench.spaces``).

    Attributes:
        name: short name, e.g. ``"tss"``.
        size: number of architectures, or ``None`` where too many to enumerate.
        num_choices: number of choices per categorical dimension of :meth:`encode`.
    """

    name: str

    @property
    def size(self) -> int | None: ...

    @property
    def num_choices(self) -> tuple[int, ...]: ...

    def all_archs(self) -> list[str]: ...

    def index_of(self, arch: str) -> int: ...

    def validate(self, arch: str) -> str: ...

    def encode(self, arch: str) -> np.ndarray: ...

    def decode(self, codes: Any) -> str: ...

    def sample(self, rng: np.random.Generator) -> str: ...

    def neighbours(self, arch: str) -> list[str]: ...


def check_rng(rng: Any) -> np.random.Generator:
    """Return ``rng`` if it is a :class:`numpy.random.Generator`, else raise ``TypeError``."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"rng must be a numpy.random.Generator (e.g. numpy.random.default_rng(seed)), "
            f"got {type(rng).__name__}")
    return rng


def check_codes(codes: Any, num_choices: Sequence[int], *, space: str) -> tuple[int, ...]:
    """Validate a choice vector against ``num_choices``; return it as a tuple of ints.

    Raises:
        InvalidArchError: wrong length, non-integer entries, or an entry out of range.
    """
    try:
        arr = np.asarray(codes)
    except Exception as exc:  # ragged input and the like
        raise InvalidArchError(f"{space} codes {codes!r} are not a 1-D integer vector: {exc}") from None
    if arr.ndim != 1 or arr.shape[0] != len(num_choices):
        raise InvalidArchError(
            f"{space} codes must be a 1-D vector of length {len(num_choices)}, "
            f"got shape {arr.shape}")
    if arr.dtype.kind not in "iu":
        raise InvalidArchError(
            f"{space} codes must be integers, got dtype {arr.dtype} ({arr.tolist()!r})")
    out = tuple(int(v) for v in arr)
    for dim, (value, n) in enumerate(zip(out, num_choices)):
        if not 0 <= value < n:
            raise InvalidArchError(
                f"{space} code {value} at dimension {dim} is out of range; valid: 0..{n - 1}")
    return out


def radix_weights(num_choices: Sequence[int]) -> tuple[int, ...]:
    """Weights ``w`` with ``index = sum(codes[d] * w[d])``: the position of a choice vector in
    ``itertools.product(*map(range, num_choices))`` order (dimension 0 most significant)."""
    weights, weight = [], 1
    for n in reversed(num_choices):
        weights.append(weight)
        weight *= int(n)
    return tuple(reversed(weights))


def radix_index(codes: Sequence[int], num_choices: Sequence[int]) -> int:
    """The canonical position of a (valid) choice vector; inverse of :func:`radix_codes`."""
    return sum(int(c) * w for c, w in zip(codes, radix_weights(num_choices)))


def radix_codes(index: int, num_choices: Sequence[int]) -> tuple[int, ...]:
    """The choice vector at canonical position ``index`` (0 <= index < prod(num_choices))."""
    codes = []
    for n in reversed(num_choices):
        index, value = divmod(index, int(n))
        codes.append(value)
    return tuple(reversed(codes))


def code_neighbours(codes: Sequence[int], num_choices: Sequence[int]) -> list[tuple[int, ...]]:
    """All choice vectors that differ from ``codes`` in exactly one dimension.

    Ordered by dimension, then by choice value; ``sum(n - 1 for n in num_choices)`` vectors.
    """
    codes = tuple(codes)
    out = []
    for dim, n in enumerate(num_choices):
        for value in range(n):
            if value != codes[dim]:
                out.append(codes[:dim] + (value,) + codes[dim + 1:])
    return out


class ProductSpace(ABC):
    """A space whose architectures are in bijection with a product of categorical choices.

    Subclasses set :attr:`name` and :attr:`num_choices` and define :meth:`_codes_of` (string ->
    choice tuple, raising :class:`InvalidArchError`) and :meth:`_str_of` (choice tuple ->
    canonical string). Everything else follows. ``all_archs`` is cached per object.
    """

    name: str = ""
    #: Number of choices per categorical dimension (set by each subclass).
    num_choices: tuple[int, ...] = ()

    def __init__(self) -> None:
        self._all_archs: list[str] | None = None

    # --- to be provided by subclasses ---------------------------------------------------
    @abstractmethod
    def _codes_of(self, arch: str) -> tuple[int, ...]:
        """Parse ``arch`` into its choice tuple (raises InvalidArchError)."""

    @abstractmethod
    def _str_of(self, codes: tuple[int, ...]) -> str:
        """Format a valid choice tuple as the canonical architecture string."""

    # --- derived ------------------------------------------------------------------------
    @property
    def count(self) -> int:
        """Exact number of architectures (a Python int, possibly huge)."""
        return math.prod(self.num_choices)

    @property
    def size(self) -> int | None:
        """Number of architectures, or ``None`` above :data:`ENUMERATION_LIMIT`."""
        n = self.count
        return n if n <= ENUMERATION_LIMIT else None

    def all_archs(self) -> list[str]:
        """All canonical strings in canonical (product) order; a new list each call."""
        if self._all_archs is None:
            if self.size is None:
                raise QueryError(
                    f"the {self.name} space has {self.count:.3e} architectures, too many to "
                    f"enumerate (limit {ENUMERATION_LIMIT}); use sample() or index_of()")
            self._all_archs = [self._str_of(c) for c in
                               itertools.product(*(range(n) for n in self.num_choices))]
        return list(self._all_archs)

    def validate(self, arch: str) -> str:
        """Return the canonical string of ``arch`` or raise :class:`InvalidArchError`."""
        return self._str_of(self._codes_of(arch))

    def encode(self, arch: str) -> np.ndarray:
        """Choice vector of ``arch``: int64 array shaped ``[len(num_choices)]``."""
        return np.asarray(self._codes_of(arch), dtype=np.int64)

    def decode(self, codes: Any) -> str:
        """Canonical string of a choice vector (sequence or array of ints)."""
        return self._str_of(check_codes(codes, self.num_choices, space=self.name))

    def index_of(self, arch: str) -> int:
        """Position of ``arch`` in the canonical order (mixed radix of its choice vector)."""
        return radix_index(self._codes_of(arch), self.num_choices)

    def arch_at(self, index: int) -> str:
        """Inverse of :meth:`index_of`: the architecture at canonical position ``index``."""
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise QueryError(f"{self.name} index must be an int, got {type(index).__name__}")
        index = int(index)
        if not 0 <= index < self.count:
            raise QueryError(f"{self.name} index {index} out of range; valid: 0..{self.count - 1}")
        return self._str_of(radix_codes(index, self.num_choices))

    def sample(self, rng: np.random.Generator) -> str:
        """A uniformly random architecture string drawn with ``rng``."""
        codes = check_rng(rng).integers(0, self.num_choices)
        return self._str_of(tuple(int(c) for c in codes))

    def neighbours(self, arch: str) -> list[str]:
        """All architectures differing from ``arch`` in exactly one dimension.

        Ordered by dimension, then by choice index; ``sum(n - 1 for n in num_choices)`` strings.
        """
        return [self._str_of(c) for c in code_neighbours(self._codes_of(arch), self.num_choices)]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, count={self.count})"

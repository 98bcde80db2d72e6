"""The ask/tell interface every multi-trial search algorithm implements, and its registry.

An algorithm is built from a search space and a :class:`numpy.random.Generator`; it proposes
trials (:meth:`Algorithm.ask`) and learns from the feedback of finished trials
(:meth:`Algorithm.tell`). It never sees the benchmark, the simulated clock or any test-set
number: the :class:`~search_algorithms.runner.Runner` owns those (see ``docs/ALGORITHMS.md``).

Architectures travel as their encoding: a tuple of choice indices, one per categorical
dimension of the space (``space.encode(arch_str)``; ``space.decode(codes)`` turns it back into
the architecture string). ``space.num_choices`` gives the size of each dimension. Working on
small integer tuples keeps a query to a few microseconds; strings only appear in the output.

Adding an algorithm: write a module in this package (or any package) with a subclass of
:class:`Algorithm` decorated by :func:`register_algorithm`. The top-level modules of this
package are imported on the first registry lookup (so they must keep heavy imports such as
torch inside functions); other packages either import their module before use or expose it
through the ``natsbench.search_algorithms`` entry-point group.
"""
from __future__ import annotations

import abc
import importlib
import inspect
import logging
import pkgutil
from operator import mul
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Iterator, Protocol, Sequence, runtime_checkable

import numpy as np

from natsbench.errors import ConfigError, QueryError
from natsbench.spaces.base import code_neighbours, radix_weights

logger = logging.getLogger(__name__)

#: Entry-point group through which other distributions can contribute algorithms.
ENTRY_POINT_GROUP = "natsbench.search_algorithms"


@runtime_checkable
class SpaceLike(Protocol):
    """What an algorithm may use of a search space (``natsbench.spaces`` objects qualify)."""

    name: str
    num_choices: tuple[int, ...]

    def decode(self, codes: Any) -> str: ...

    def encode(self, arch: str) -> np.ndarray: ...


@dataclass(frozen=True)
class GridSpace:
    """A plain Cartesian product of categorical dimensions, for synthetic problems and tests.

    Architecture strings are the choice indices joined by ``"-"`` (``"0-3-1"``); the canonical
    order is :func:`itertools.product` order with the first dimension most significant, as for
    the NATS-Bench spaces.
    """

    name: str
    num_choices: tuple[int, ...]

    def decode(self, codes: Any) -> str:
        return "-".join(str(int(c)) for c in codes)

    def encode(self, arch: str) -> np.ndarray:
        try:
            codes = np.array([int(part) for part in arch.split("-")], dtype=np.int64)
        except ValueError:
            raise QueryError(f"arch {arch!r} is not of the form 'i-j-...' "
                             f"with {len(self.num_choices)} integers") from None
        if codes.shape != (len(self.num_choices),) or np.any(codes < 0) \
                or np.any(codes >= np.asarray(self.num_choices)):
            raise QueryError(f"arch {arch!r} is outside the grid with choices per dimension "
                             f"{self.num_choices}")
        return codes

    @property
    def size(self) -> int:
        return int(np.prod(self.num_choices, dtype=np.int64))

    def all_archs(self) -> list[str]:
        grids = np.indices(self.num_choices).reshape(len(self.num_choices), -1).T
        return [self.decode(row) for row in grids]


@dataclass(frozen=True, slots=True)
class Trial:
    """One evaluation request.

    Attributes:
        arch: the architecture as its encoding, one choice index per dimension of the space.
        fidelity_epochs: number of training epochs of the search protocol after which the
            validation accuracy is wanted (1..max_fidelity); ``None`` means the full protocol.
        trial_id: an id the algorithm chooses to recognise the trial in :meth:`Algorithm.tell`.
    """

    arch: tuple[int, ...]
    fidelity_epochs: int | None = None
    trial_id: int = 0


def _fast_trial_init(setters: tuple[Callable[[Any, Any], None], ...]) -> Callable[..., None]:
    set_arch, set_fidelity, set_id = setters

    def __init__(self: Trial, arch: tuple[int, ...], fidelity_epochs: int | None = None,
                 trial_id: int = 0) -> None:
        set_arch(self, arch)
        set_fidelity(self, fidelity_epochs)
        set_id(self, trial_id)

    return __init__


# The generated __init__ of a frozen dataclass sets each field through object.__setattr__;
# setting the slots through their descriptors does the same at about half the cost (one Trial
# per evaluation: this is on the runner's hot path). Same signature, fields and defaults.
Trial.__init__ = _fast_trial_init((Trial.arch.__set__,              # type: ignore[misc]
                                   Trial.fidelity_epochs.__set__,   # type: ignore[attr-defined]
                                   Trial.trial_id.__set__))         # type: ignore[attr-defined]
Trial.__init__.__qualname__ = "Trial.__init__"


class RandomStream:
    """Cheap scalar draws from a :class:`numpy.random.Generator`.

    Drawing single numbers from a Generator costs about a microsecond each; algorithms draw
    a handful per trial, so this pre-draws blocks of uniforms (64 at first, doubling up to
    4096, so short runs stay cheap) and hands them out one by one. A new block is drawn only
    when the previous one is used up, so the stream (and any direct use of the generator in
    between) is fully determined by the generator it wraps. The block is kept reversed, the
    next draw last, so that a draw is one ``list.pop``.
    """

    __slots__ = ("_rng", "_block", "_buffer", "_array", "_start")

    def __init__(self, rng: np.random.Generator) -> None:
        self._rng = rng
        self._block = 64
        self._array = np.zeros(0)               # the current block, in draw order
        # the rest of the block as a list, next draw last (scalar draws); None while the
        # block is read as an array from _start on (batch draws, uniforms())
        self._buffer: list[float] | None = []
        self._start = 0

    def _refill(self) -> list[float]:
        self._array = self._rng.random(self._block)
        self._buffer = self._array[::-1].tolist()
        self._block = min(2 * self._block, 4096)
        return self._buffer

    def _list(self) -> list[float]:
        """The rest of the block as a list (refilled when used up)."""
        buffer = self._buffer
        if buffer is None:
            buffer = self._buffer = self._array[self._start:][::-1].tolist()
        return buffer if buffer else self._refill()

    def uniform(self) -> float:
        """A float in [0, 1)."""
        try:
            return self._buffer.pop()           # type: ignore[union-attr]
        except (IndexError, AttributeError):
            return self._list().pop()

    def below(self, n: int) -> int:
        """An integer uniform in [0, n)."""
        try:
            return int(self._buffer.pop() * n)  # type: ignore[union-attr]
        except (IndexError, AttributeError):
            return int(self._list().pop() * n)

    def codes(self, num_choices: Sequence[int]) -> tuple[int, ...]:
        """A uniformly random encoding: each dimension independently uniform."""
        buffer = self._buffer
        d = len(num_choices)
        if buffer is not None and 0 < d <= len(buffer):
            draws = buffer[:-d - 1:-1]
            del buffer[-d:]
            return tuple(map(int, map(mul, draws, num_choices)))
        return tuple(int(self.uniform() * n) for n in num_choices)

    def take(self, k: int) -> list[float]:
        """The next ``k`` uniforms, in draw order (the same as ``k`` calls of :meth:`uniform`)."""
        buffer = self._buffer
        if buffer is not None and 0 < k <= len(buffer):
            draws = buffer[:-k - 1:-1]
            del buffer[-k:]
            return draws
        return [self.uniform() for _ in range(k)]

    def uniforms(self, k: int) -> np.ndarray:
        """The next ``k`` uniforms as a float64 array (the same as ``k`` calls of
        :meth:`uniform`)."""
        if self._buffer is not None:            # read the block as an array from here on
            self._start = len(self._array) - len(self._buffer)
            self._buffer = None
        need = max(int(k), 0)
        start, array = self._start, self._array
        left = len(array) - start
        if need <= left:
            self._start = start + need
            return array[start:start + need].copy()
        # the blocks the one-by-one refills would draw (sizes 64, 128, ... 4096), drawn with
        # one call of the generator: the same doubles, and the generator left where those
        # refills would leave it
        need -= left
        sizes = []
        total = 0
        while total < need:
            sizes.append(self._block)
            total += self._block
            self._block = min(2 * self._block, 4096)
        fresh = self._rng.random(total)
        last = total - sizes[-1]
        self._array = fresh[last:]               # the current block is the last one drawn
        self._start = need - last
        return np.concatenate((array[start:], fresh[:need])) if left else fresh[:need].copy()

    def codes_batch(self, num_choices: Sequence[int], k: int) -> list[tuple[int, ...]]:
        """``k`` uniformly random encodings: the same as ``k`` calls of :meth:`codes`, drawn
        at once (the stream is left where those calls would leave it)."""
        d = len(num_choices)
        if k <= 0 or d == 0:
            return [()] * max(k, 0)
        return list(map(tuple, self.codes_array(num_choices, k).tolist()))

    def codes_array(self, num_choices: Sequence[int], k: int) -> np.ndarray:
        """:meth:`codes_batch` as an int64 array ``[k, len(num_choices)]``."""
        d = len(num_choices)
        if k <= 0:
            return np.zeros((0, d), dtype=np.int64)
        return (self.uniforms(k * d).reshape(k, d)
                * np.asarray(num_choices, dtype=np.float64)).astype(np.int64)

    def other_than(self, n: int, current: int) -> int:
        """An integer uniform in [0, n) excluding ``current`` (requires n >= 2)."""
        value = self.below(n - 1)
        return value + 1 if value >= current else value


def mutation_children(codes: np.ndarray, num_choices: Sequence[int],
                      force_change: bool) -> np.ndarray:
    """[N, D, V] int64 (V = the largest number of choices): the product-order index
    (:func:`~natsbench.spaces.base.radix_weights`) of the child that
    :meth:`Algorithm.mutate_with` makes of each encoding of ``codes`` ([N, D]) when its draws
    give dimension d and value index v, i.e. ``int(u_value * (n - 1))`` with the parent's value
    skipped (``force_change`` and n > 1), else ``int(u_value * n)``; -1 where v is out of
    range for d. The same rule as :meth:`Algorithm.mutate_with`, over whole arrays (for the
    asynchronous runner's fused evolution loop)."""
    codes = np.asarray(codes, dtype=np.int64)
    radix = radix_weights(num_choices)
    flat = codes @ np.asarray(radix, dtype=np.int64)
    out = np.full((len(codes), len(num_choices), max(num_choices)), -1, dtype=np.int64)
    for dim, n in enumerate(num_choices):
        parent = codes[:, dim]
        skip = force_change and n > 1
        for v in range(n - 1 if skip else n):
            value = v + (v >= parent) if skip else v        # skips the parent's value
            out[:, dim, v] = flat + (value - parent) * radix[dim]
    return out


class Algorithm(abc.ABC):
    """Base class of ask/tell search algorithms.

    Args:
        space: the search space (only ``name``, ``num_choices`` and ``decode``/``encode`` are
            used).
        rng: the algorithm's own random generator (the runner derives it from the run seed).
        max_fidelity: the number of epochs of the search protocol (12 for NATS-Bench ``H0``).
        min_fidelity: the smallest number of epochs a trial may ask for.
        **hyperparameters: algorithm-specific settings; unknown names raise ``TypeError``
            (the runner and the CLI check them first and raise a ``QueryError``).

    Subclasses set :attr:`name` (by :func:`register_algorithm`), :attr:`multi_fidelity` if they
    ask for fewer epochs than ``max_fidelity``, and document every default with its source.
    """

    name: ClassVar[str] = ""
    multi_fidelity: ClassVar[bool] = False
    #: True where the algorithm models each dimension independently (a density, a policy per
    #: dimension), which only makes sense on a grid encoding (:func:`is_grid_space`).
    needs_grid_encoding: ClassVar[bool] = False
    #: True where :meth:`ask` never depends on :meth:`tell` (which does nothing) and, once it
    #: answered ``None``, keeps answering ``None``: the runner may then ask many trials ahead
    #: (:meth:`ask_many`) and answer them in one vectorized pass.
    ignores_feedback: ClassVar[bool] = False

    def __init__(self, space: SpaceLike, rng: np.random.Generator, *, max_fidelity: int = 12,
                 min_fidelity: int = 1) -> None:
        if not 1 <= min_fidelity <= max_fidelity:
            raise ConfigError(f"need 1 <= min_fidelity <= max_fidelity, got "
                              f"min_fidelity={min_fidelity}, max_fidelity={max_fidelity}")
        self.space = space
        self.num_choices: tuple[int, ...] = tuple(int(n) for n in space.num_choices)
        #: sample and mutate through the space (a non-grid encoding, e.g. k-ExtCells)
        self.through_space = not is_grid_space(space)
        if self.through_space and self.needs_grid_encoding:
            _, work = grid_algorithms()
            raise QueryError(f"{self.name or type(self).__name__} needs a grid encoding (every "
                             f"tuple of choices an architecture), which space "
                             f"{getattr(space, 'name', space)!r} lacks; algorithms that work "
                             f"there: {', '.join(work)}")
        self.rng = rng
        self.stream = RandomStream(rng)
        self.max_fidelity = int(max_fidelity)
        self.min_fidelity = int(min_fidelity)

    @abc.abstractmethod
    def ask(self) -> Trial | None:
        """The next trial to evaluate, or ``None`` when the algorithm has nothing left to ask."""

    @abc.abstractmethod
    def tell(self, trial: Trial, feedback: float) -> None:
        """Report the validation accuracy (percent) of a trial returned by :meth:`ask`."""

    def ask_many(self, k: int) -> list[Trial]:
        """Up to ``k`` trials, as ``k`` calls of :meth:`ask` would give them (fewer where an
        ``ask`` answers ``None``)."""
        trials = []
        for _ in range(k):
            trial = self.ask()
            if trial is None:
                break
            trials.append(trial)
        return trials

    def random_codes(self) -> tuple[int, ...]:
        """A uniformly random architecture (every dimension independently uniform; on a
        non-grid space the space's own ``sample``)."""
        if self.through_space:
            return tuple(int(c) for c in self.space.encode(self.space.sample(self.rng)))
        return self.stream.codes(self.num_choices)

    def mutate(self, codes: tuple[int, ...], force_change: bool = True) -> tuple[int, ...]:
        """Change one uniformly chosen dimension to a uniformly chosen value.

        With ``force_change`` the new value differs from the old one (a true neighbour);
        otherwise it is uniform over all values, so the child may equal the parent.
        """
        if self.through_space:               # a uniformly chosen neighbour of the space
            options = self.space.neighbours(self.space.decode(codes))
            return tuple(int(c) for c in self.space.encode(options[self.stream.below(len(options))]))
        uniform = self.stream.uniform
        return self.mutate_with(codes, force_change, uniform(), uniform())

    def mutate_with(self, codes: tuple[int, ...], force_change: bool, u_dim: float,
                    u_value: float) -> tuple[int, ...]:
        """:meth:`mutate` on a grid space with its two draws given: ``u_dim`` picks the
        dimension, ``u_value`` the value (uniforms in [0, 1), in that order of the stream)."""
        dim = int(u_dim * len(codes))
        n = self.num_choices[dim]
        if force_change and n > 1:            # uniform over the n - 1 other values
            value = int(u_value * (n - 1))
            if value >= codes[dim]:
                value += 1
        else:
            value = int(u_value * n)
        return codes[:dim] + (value,) + codes[dim + 1:]

    def neighbours(self, codes: tuple[int, ...]) -> list[tuple[int, ...]]:
        """All encodings that differ from ``codes`` in exactly one dimension (on a non-grid
        space: the encodings of the space's ``neighbours``; on a grid ordered by dimension,
        then value: :func:`natsbench.spaces.base.code_neighbours`)."""
        if self.through_space:
            return [tuple(int(c) for c in self.space.encode(a))
                    for a in self.space.neighbours(self.space.decode(codes))]
        return code_neighbours(codes, self.num_choices)


AlgorithmFactory = Callable[..., Algorithm]


def is_grid_space(space: Any) -> bool:
    """True where every tuple of choice indices is an architecture (tss, sss, DARTS cells,
    grids); False for spaces with constraints across dimensions (a k-ExtCell: exactly k of its
    196 slot indicators set), which algorithms search through the space's own ``sample`` and
    ``neighbours`` (a space may say so with a ``grid_encoding`` attribute)."""
    flag = getattr(space, "grid_encoding", None)
    if flag is not None:
        return bool(flag)
    return getattr(space, "name", "") != "extcell"


def grid_algorithms(registry: "Registry | None" = None) -> tuple[list[str], list[str]]:
    """(names that need a grid encoding, names that work on any space) of a registry."""
    registry = registry or ALGORITHMS
    need = [n for n in registry.names() if registry.get(n).needs_grid_encoding]
    return need, [n for n in registry.names() if n not in need]


def hyperparameters_of(cls: type[Algorithm]) -> dict[str, Any]:
    """Keyword arguments an algorithm class accepts, with their defaults (whole MRO)."""
    import inspect

    found: dict[str, Any] = {}
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None or klass is object:
            continue
        for param in inspect.signature(init).parameters.values():
            if param.kind is param.KEYWORD_ONLY and param.name not in found:
                found[param.name] = param.default
    return found


def check_hyperparameters(cls: type[Algorithm], params: dict[str, Any]) -> None:
    """Raise :class:`QueryError` naming any key of ``params`` that ``cls`` does not take."""
    known = {k: v for k, v in hyperparameters_of(cls).items() if k != "max_fidelity"}
    unknown = sorted(set(params) - set(known))   # max_fidelity belongs to the runner
    valid = ", ".join(f"{k}={v!r}" for k, v in known.items())
    if unknown:
        raise QueryError(f"{cls.name or cls.__name__} takes no hyperparameter "
                         f"{unknown[0]!r}; valid (with defaults): {valid}")
    for key, value in params.items():   # a value of another type than the default's
        default = known[key]
        if default is None or default is inspect.Parameter.empty:
            continue
        want = (int, float) if isinstance(default, float) else type(default)
        if isinstance(default, tuple):
            want = (tuple, list)
        if not isinstance(value, want) or (isinstance(value, bool) and not isinstance(default, bool)):
            raise ConfigError(f"{cls.name or cls.__name__} hyperparameter {key}={value!r} is a "
                              f"{type(value).__name__}; expected a {type(default).__name__} like "
                              f"the default {key}={default!r}")


class Registry:
    """Algorithms by name. Names are lower case; lookups are case-insensitive."""

    def __init__(self, packages: Sequence[str] = (), entry_point_group: str | None = None) -> None:
        self._classes: dict[str, type[Algorithm]] = {}
        self._packages = tuple(packages)
        self._entry_point_group = entry_point_group
        self._discovered = False

    def register(self, name: str) -> Callable[[type[Algorithm]], type[Algorithm]]:
        """Class decorator adding an :class:`Algorithm` subclass under ``name``."""
        key = name.lower()

        def decorator(cls: type[Algorithm]) -> type[Algorithm]:
            if not (isinstance(cls, type) and issubclass(cls, Algorithm)):
                raise TypeError(f"{cls!r} is not a subclass of Algorithm")
            existing = self._classes.get(key)
            if existing is not None and existing is not cls:
                raise ValueError(f"algorithm name {key!r} is already taken by "
                                 f"{existing.__module__}.{existing.__qualname__}")
            cls.name = key
            self._classes[key] = cls
            return cls

        return decorator

    def _discover(self) -> None:
        if self._discovered:
            return
        self._discovered = True
        for package_name in self._packages:
            package = importlib.import_module(package_name)
            for info in pkgutil.iter_modules(package.__path__):
                if not info.name.startswith("_") and not info.ispkg:
                    importlib.import_module(f"{package_name}.{info.name}")
        if self._entry_point_group:
            from importlib.metadata import entry_points

            for ep in entry_points(group=self._entry_point_group):
                try:
                    ep.load()
                except Exception:  # a broken plug-in must not break the built-ins
                    logger.exception("could not load search algorithm plug-in %s", ep.value)

    def names(self) -> list[str]:
        """Registered names, sorted."""
        self._discover()
        return sorted(self._classes)

    def get(self, name: str) -> type[Algorithm]:
        """The class registered under ``name``; :class:`QueryError` naming the valid ones otherwise."""
        self._discover()
        try:
            return self._classes[name.lower()]
        except KeyError:
            raise QueryError(f"unknown search algorithm {name!r}; "
                             f"valid: {', '.join(self.names())}") from None

    def create(self, name: str, space: SpaceLike, rng: np.random.Generator,
               **kwargs: Any) -> Algorithm:
        """Instantiate ``name`` (see :class:`Algorithm` for the arguments)."""
        return self.get(name)(space, rng, **kwargs)

    def __contains__(self, name: object) -> bool:
        self._discover()
        return isinstance(name, str) and name.lower() in self._classes

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())


#: The default registry: the algorithms of this package plus entry-point plug-ins.
ALGORITHMS = Registry(packages=("search_algorithms",), entry_point_group=ENTRY_POINT_GROUP)


def register_algorithm(name: str) -> Callable[[type[Algorithm]], type[Algorithm]]:
    """Register an :class:`Algorithm` subclass in :data:`ALGORITHMS` under ``name``."""
    return ALGORITHMS.register(name)


def get_algorithm(name: str) -> type[Algorithm]:
    """The algorithm class registered under ``name`` in :data:`ALGORITHMS`."""
    return ALGORITHMS.get(name)


def available_algorithms() -> list[str]:
    """Names registered in :data:`ALGORITHMS`."""
    return ALGORITHMS.names()

"""The NATS-Bench size search space (sss).

An architecture fixes the channel count of the 5 layers of the size-search skeleton, each
one of 8, 16, ..., 64, written ``C1:C2:C3:C4:C5`` (e.g. ``8:8:40:32:40``): 8**5 = 32,768
architectures. The format is strict: 5 ``:``-separated canonical decimal integers (no
signs, spaces or leading zeros), so a valid string is its own canonical form.

Canonical order: ``itertools.product`` over the 5 layers of :data:`CHANNELS`, layer 1 most
significant; this is also the official archive's ``meta_archs`` order (index 1 is
``8:8:8:8:16``).
"""
from __future__ import annotations

import re
from typing import Any, Sequence

from natsbench.errors import InvalidArchError
from natsbench.spaces.base import ProductSpace

#: Allowed channel counts, in choice-index order.
CHANNELS: tuple[int, ...] = (8, 16, 24, 32, 40, 48, 56, 64)
NUM_LAYERS = 5
NUM_ARCHS = len(CHANNELS) ** NUM_LAYERS  # 32,768

_CHANNEL_INDEX = {c: i for i, c in enumerate(CHANNELS)}
_VALID = ", ".join(map(str, CHANNELS))
_DECIMAL = re.compile(r"[1-9][0-9]*\Z")


def _fail(arch: Any, why: str) -> InvalidArchError:
    return InvalidArchError(f"invalid sss arch string {arch!r}: {why}")


def _parse_indices(arch_str: Any) -> tuple[int, ...]:
    """Channel indices (into CHANNELS) of the 5 layers; the strict parser."""
    if not isinstance(arch_str, str):
        raise InvalidArchError(f"an sss arch must be a str like '8:16:32:48:64', got "
                               f"{type(arch_str).__name__} {arch_str!r}")
    if arch_str == "":
        raise _fail(arch_str, f"empty string; expected {NUM_LAYERS} channel counts like '8:16:32:48:64'")
    tokens = arch_str.split(":")
    if len(tokens) != NUM_LAYERS:
        raise _fail(arch_str, f"expected {NUM_LAYERS} ':'-separated channel counts, got {len(tokens)}")
    codes = []
    for layer, token in enumerate(tokens, start=1):
        if not _DECIMAL.match(token):
            raise _fail(arch_str, f"layer {layer} token {token!r} is not a plain positive integer; "
                                  f"valid channel counts: {_VALID}")
        if int(token) not in _CHANNEL_INDEX:
            raise _fail(arch_str, f"layer {layer} channel count {token} is not allowed; "
                                  f"valid channel counts: {_VALID}")
        codes.append(_CHANNEL_INDEX[int(token)])
    return tuple(codes)


def _format_indices(codes: Sequence[int]) -> str:
    return ":".join(str(CHANNELS[c]) for c in codes)


def parse(arch_str: str) -> tuple[int, ...]:
    """The 5 channel counts of ``arch_str`` (raises InvalidArchError)."""
    return tuple(CHANNELS[i] for i in _parse_indices(arch_str))


def validate(arch_str: str) -> str:
    """Return ``arch_str`` if it is a valid sss string, else raise InvalidArchError."""
    _parse_indices(arch_str)
    return arch_str


def to_str(channels: Sequence[int]) -> str:
    """Arch string of 5 channel counts."""
    if isinstance(channels, str) or len(channels) != NUM_LAYERS:
        raise InvalidArchError(f"expected a sequence of {NUM_LAYERS} channel counts, got {channels!r}")
    codes = []
    for c in channels:
        if isinstance(c, bool) or not isinstance(c, int) and not hasattr(c, "__index__"):
            raise InvalidArchError(f"channel count {c!r} in {list(channels)!r} is not an integer; "
                                   f"valid: {_VALID}")
        if int(c) not in _CHANNEL_INDEX:
            raise InvalidArchError(f"channel count {c!r} in {list(channels)!r} is not allowed; "
                                   f"valid: {_VALID}")
        codes.append(_CHANNEL_INDEX[int(c)])
    return _format_indices(codes)


class SssSpace(ProductSpace):
    """The sss space as a :class:`~natsbench.spaces.base.SearchSpace` (codes = channel indices)."""

    name = "sss"
    num_choices = (len(CHANNELS),) * NUM_LAYERS

    def _codes_of(self, arch: str) -> tuple[int, ...]:
        return _parse_indices(arch)

    def _str_of(self, codes: tuple[int, ...]) -> str:
        return _format_indices(codes)

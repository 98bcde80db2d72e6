"""A data set that fails the test when anything but its length is read."""
from __future__ import annotations

__all__ = ["TrapSet"]


class TrapSet:
    """Stands in for a set that must not be read (e.g. a test set during a search): ``len`` works
    (sizes go into run identities), any attribute access raises AssertionError."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getattr__(self, name: str):
        raise AssertionError(f"the set was read ({name})")

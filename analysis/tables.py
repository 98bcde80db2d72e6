"""Checks shared by the analyses that take a user's tidy table."""
from __future__ import annotations

from typing import Sequence

import pandas as pd

from natsbench.errors import ArchiveError, NatsBenchError


def require_columns(frame: pd.DataFrame, columns: Sequence[str], what: str, *,
                    error: type[NatsBenchError] = ArchiveError) -> pd.DataFrame:
    """``frame`` if it has every one of ``columns``; else ``error`` naming ``what``, the missing
    columns, the required ones and those found."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise error(f"{what} lacks columns {missing}; required {list(columns)}, "
                    f"found {list(frame.columns)}")
    return frame


def mean_std_cells(means: Sequence[float], stds: Sequence[float]) -> list[str]:
    """Table cells ``"mean ± std"`` with 2 decimals (only the mean where the std is not
    finite, e.g. one seed)."""
    import math

    return [f"{m:.2f} ± {s:.2f}" if math.isfinite(s) else f"{m:.2f}" for m, s in zip(means, stds)]

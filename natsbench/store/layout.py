"""Layout rules of a benchmark's arrays shared by the read and the write path (docs/FORMAT.md).

The writer lays metrics out in :func:`metric_sort_key` order and derives ``cumtime.npy`` with
:func:`cumulative_times`; the reader and the query API rely on the same order and recompute
the same running sums for records not yet compacted. Pure numpy: no I/O here.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["metric_sort_key", "time_columns", "cumulative_times"]

_TRAIN_METRICS = ("train_loss", "train_acc1", "train_acc5", "train_time")
_EVAL_QUANTITIES = ("loss", "acc1", "acc5", "time")


def metric_sort_key(name: str, eval_sets: Sequence[str] = ()) -> tuple:
    """Canonical metric order: train metrics, then each eval set in ``eval_sets`` order."""
    if name in _TRAIN_METRICS:
        return (0, _TRAIN_METRICS.index(name), "")
    set_name, _, quantity = name.rpartition("_")
    q = _EVAL_QUANTITIES.index(quantity) if quantity in _EVAL_QUANTITIES else len(_EVAL_QUANTITIES)
    s = list(eval_sets).index(set_name) if set_name in eval_sets else len(eval_sets)
    return (1, s, set_name, q, name)


def time_columns(metric_names: Sequence[str]) -> list[int]:
    """Positions of the per-epoch ``*_time`` metrics."""
    return [k for k, name in enumerate(metric_names) if name.endswith("_time")]


def cumulative_times(metrics: np.ndarray, metric_names: Sequence[str]) -> np.ndarray:
    """Running sums over epochs of the ``*_time`` metrics: ``[..., epoch, T]`` float64.

    ``np.cumsum`` adds left to right, so entry ``e`` equals Python's ``sum`` of epochs
    ``0..e`` bit for bit (NaN once any epoch is missing).
    """
    cols = time_columns(metric_names)
    return np.cumsum(np.asarray(metrics[..., cols], dtype=np.float64), axis=-2)

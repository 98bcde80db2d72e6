"""Offline tasks: the bundled digits as a 2D point task, and generated tasks whose right
receptive field is known by construction (numpy only).

**Pulse tasks** (``long1d``/``local1d``, ``long2d``/``local2d``). Each example is Gaussian noise
(standard deviation :data:`NOISE`) with two pulses of random sign and magnitude in ``[0.5, 1]``,
the first at a uniformly random position and the second ``gap`` steps after it (in 2D: ``gap``
pixels to the right). The label is 1 when the two signs agree, 0 otherwise. Each pulse alone is
±-symmetric, so a unit whose receptive field holds only one pulse carries no information about
the label; and the networks end in a *mean* over positions followed by a linear layer, under which
the sum of two single-pulse responses ``g(s1) + g(s2)`` puts the "different signs" examples at the
midpoint of the two "same sign" cases, which no linear layer separates. So the task is solvable
only by units that see both pulses: a receptive field of at least ``gap + 1``.

* ``long1d``: ``L = 256``, ``gap = 48`` (the 1D WRN with its default 8/5/3 kernels has a receptive
  field of 40: too small); ``local1d``: the same with ``gap = 2``.
* ``long2d``: 32x32, ``gap = 12``; ``local2d``: ``gap = 2``.

Sizes: 1,200 training, 300 validation and 600 test examples, drawn from
``split_rng(task name, seed)`` (the sets differ in examples, not in distribution).
"""
from __future__ import annotations

import numpy as np

from natsbench.datasets.splits import split_rng
from natsbench.errors import ConfigError
from natsbench.tasks.configs import TaskConfig
from natsbench.tasks.data import ArraySet, TaskData

__all__ = ["PULSE_GAPS", "NOISE", "PULSE_SIZES", "make_pulses", "load_offline"]

#: distance between the two pulses of each generated task
PULSE_GAPS: dict[str, int] = {"long1d": 48, "local1d": 2, "long2d": 12, "local2d": 2}
#: standard deviation of the background noise
NOISE = 0.1
#: train / validation / test sizes of the generated tasks
PULSE_SIZES: tuple[int, int, int] = (1200, 300, 600)


def make_pulses(n: int, shape: tuple[int, ...], gap: int, rng: np.random.Generator, *,
                noise: float = NOISE) -> ArraySet:
    """``n`` pulse examples: inputs float32 ``[n, 1, *shape]``, labels int64 ``[n]``.

    Args:
        shape: ``(L,)`` or ``(H, W)``.
        gap: steps (1D) or pixels to the right (2D) from the first pulse to the second.
        noise: standard deviation of the background.
    """
    if len(shape) not in (1, 2) or gap < 1 or gap >= shape[-1]:
        raise ConfigError(f"shape {shape!r} must have 1 or 2 dims longer than gap {gap!r} >= 1")
    x = (rng.standard_normal((n, 1) + tuple(shape)) * noise).astype(np.float32)
    signs = rng.choice(np.array([-1.0, 1.0]), size=(n, 2))
    mags = rng.uniform(0.5, 1.0, size=(n, 2))
    amp = (signs * mags).astype(np.float32)
    rows = np.arange(n)
    first = rng.integers(0, shape[-1] - gap, size=n)
    if len(shape) == 1:
        x[rows, 0, first] += amp[:, 0]
        x[rows, 0, first + gap] += amp[:, 1]
    else:
        r = rng.integers(0, shape[0], size=n)
        x[rows, 0, r, first] += amp[:, 0]
        x[rows, 0, r, first + gap] += amp[:, 1]
    labels = (signs[:, 0] == signs[:, 1]).astype(np.int64)
    return ArraySet(x, labels)


def _digits() -> tuple[ArraySet, ArraySet, ArraySet, dict]:
    from natsbench.datasets import load_dataset

    data = load_dataset("digits")   # train 1,297 / x-valid 250 / x-test 250, stratified

    def grey(s) -> ArraySet:  # the three channels are equal: keep one, scaled to [0, 1]
        return ArraySet(np.ascontiguousarray(s.images[:, :1], dtype=np.float32) / 255.0,
                        s.labels.astype(np.int64))

    return (grey(data.train), grey(data.eval_sets["x-valid"]), grey(data.eval_sets["x-test"]),
            data.provenance)


def load_offline(task: TaskConfig, *, seed: int = 0) -> TaskData:
    """The data of an offline task (``digits`` or a pulse task), seeded by ``seed``."""
    if task.name == "digits":
        train, valid, test, prov = _digits()
        return TaskData(task, train, valid, test, {"task": "digits", **prov,
                                                   "validation": "x-valid", "test": "x-test"})
    if task.name not in PULSE_GAPS:
        raise ConfigError(f"{task.name!r} is not an offline task; offline: digits, "
                          f"{', '.join(PULSE_GAPS)}")
    rng = split_rng(task.name, seed)
    shape = tuple(task.input_shape[1:])
    gap = PULSE_GAPS[task.name]
    train, valid, test = (make_pulses(n, shape, gap, rng) for n in PULSE_SIZES)
    return TaskData(task, train, valid, test,
                    {"task": task.name, "generator": "natsbench.tasks.offline.make_pulses",
                     "gap": gap, "noise": NOISE, "seed": seed,
                     "sizes": dict(zip(("train", "valid", "test"), PULSE_SIZES))})

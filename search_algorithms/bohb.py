"""BOHB: Hyperband brackets with a TPE-style kernel-density model.

Falkner, Klein & Hutter, "BOHB: robust and efficient hyperparameter optimization at scale",
ICML 2018 (Algorithm 2), with the settings NATS-Bench ran (Dong et al., TPAMI 2021; thesis
section 5.4; official ``bohb.py`` and ``run-all.sh``: ``eta=3, min_budget=1, max_budget=12,
--num_samples 4 --random_fraction 0.0 --bandwidth_factor 3``, ``min_bandwidth=0.3``).

The brackets are those of :mod:`search_algorithms.hyperband`. A new configuration is drawn as
follows:

1. With probability ``random_fraction``, or while no model exists, uniformly at random.
2. Otherwise the model of the largest budget that has one is used. A model of budget b is fitted
   from the ``n_b`` results at b once ``n_b >= min_points_in_model``: the best
   ``max(min_points_in_model, top_n_percent * n_b // 100)`` results are "good", the next
   ``max(min_points_in_model, (100 - top_n_percent) * n_b // 100)`` are "bad", and both sets must
   have more points than dimensions. Each set gets a product kernel density l(x) (good) and g(x)
   (bad) over the categorical dimensions with Aitchison-Aitken kernels: a point keeps its value
   with weight ``1 - bw_d`` and spreads ``bw_d / (c_d - 1)`` onto each other value.
3. ``num_samples`` candidates are drawn from l: pick a good point uniformly, then per dimension
   keep its value with probability ``1 - bw_d`` and otherwise take one of the other values
   uniformly; the candidate maximising l(x) / g(x) is returned (the first one on ties).

Bandwidths: the normal-reference rule of the reference implementation,
``bw_d = 1.06 * std_d * n ** (-1 / (4 + D))`` over the integer codes of the points, clipped
from below at ``min_bandwidth``. Deliberate deviation: we also clip from above at
``(c_d - 1) / c_d``, where the Aitchison-Aitken kernel is uniform. The reference implementation
(hpbandster with statsmodels) does not, so a dimension whose codes are spread gets a
bandwidth above that bound, and its kernel then puts *less* weight on a point's own value than
on the others (or negative weight once bw > 1). ``bandwidth_factor`` widens the sampling of
continuous parameters in the reference implementation and does not act on categorical ones; our
spaces are purely categorical, so it is accepted (and recorded) but has no effect.

Defaults (source):
    eta = 3, min_budget = 1          NATS-Bench ``bohb.py`` (epochs 1, 4, 12)
    num_samples = 4                  NATS-Bench run-all.sh (BOHB paper default: 64)
    random_fraction = 0.0            NATS-Bench run-all.sh (BOHB paper default: 1/3)
    bandwidth_factor = 3             NATS-Bench run-all.sh / BOHB paper
    min_bandwidth = 0.3              NATS-Bench ``bohb.py`` (BOHB paper default: 1e-3)
    top_n_percent = 15               BOHB paper / reference implementation
    min_points_in_model = None       -> number of dimensions + 1 (reference implementation)
"""
from __future__ import annotations

from typing import Any

import numpy as np

from search_algorithms.base import SpaceLike, register_algorithm
from search_algorithms.hyperband import _BracketSearch
from natsbench.errors import ConfigError


class _KdePair:
    """The good (l) and bad (g) Aitchison-Aitken product densities of one budget.

    With per-dimension bandwidths ``bw`` and ``c`` choices, a data point y contributes
    ``prod_d k_d(x_d, y_d)`` with ``k_d = 1 - bw_d`` if ``x_d == y_d`` else ``bw_d / (c_d - 1)``.
    In log space that is ``sum_d log(other_d) + sum_d [x_d == y_d] * w_d`` with
    ``w_d = log(1 - bw_d) - log(other_d)``. Both sets are stacked in one table
    ``[D, max c, n]`` holding each point's ``w_d`` at its own value (0 elsewhere), so that
    scoring K candidates is one gather, one sum and one segmented reduction.
    """

    def __init__(self, good: np.ndarray, bad: np.ndarray, num_choices: np.ndarray,
                 min_bandwidth: float) -> None:
        n_good, d = good.shape
        data = np.concatenate([good, bad])                               # [n, D]
        starts = np.array([0, n_good])
        counts = np.array([[n_good], [len(bad)]], dtype=np.float64)      # [2, 1]
        mean = np.add.reduceat(data, starts, axis=0) / counts            # [2, D]
        var = np.add.reduceat(data * data, starts, axis=0) / counts - mean * mean
        upper = (num_choices - 1) / num_choices
        bw = np.clip(1.06 * np.sqrt(np.maximum(var, 0.0)) * counts ** (-1.0 / (4 + d)),
                     np.minimum(min_bandwidth, upper), upper)            # [2, D]
        single = num_choices == 1                  # a constant dimension always matches
        other = np.where(single, 1.0, bw / np.maximum(num_choices - 1, 1))
        log_other = np.log(other)
        weights = np.log(np.where(single, 1.0, 1.0 - bw)) - log_other    # [2, D]
        self.good = good
        self.bw_good = bw[0]
        self.bw_bad = bw[1]
        n = len(data)
        table = np.zeros((d, int(num_choices.max()), n))
        table[np.arange(d)[None, :], data, np.arange(n)[:, None]] = \
            np.repeat(weights, [n_good, len(bad)], axis=0)
        self._table = table
        self._dims = np.arange(d)
        self._starts = starts
        # log of the constant factor and of 1/n of each set
        self._offset = log_other.sum(axis=1) - np.log(counts[:, 0])      # [2]
        self._stable = float(weights.max(initial=0.0)) * d < 600.0       # exp cannot overflow

    def log_densities(self, x: np.ndarray) -> np.ndarray:
        """[K, 2] log l(x) and log g(x) of K encodings ``x`` [K, D]."""
        logits = self._table[self._dims, x].sum(axis=1)                 # [K, n]
        if self._stable:
            return np.log(np.add.reduceat(np.exp(logits), self._starts, axis=1)) + self._offset
        peak = logits.max(axis=1, keepdims=True)
        sums = np.add.reduceat(np.exp(logits - peak), self._starts, axis=1)
        return np.log(sums) + peak + self._offset

    def score(self, x: np.ndarray) -> np.ndarray:
        """[K] log(l(x) / g(x)), the quantity BOHB maximises."""
        if not self._stable:
            both = self.log_densities(x)
            return both[:, 0] - both[:, 1]
        sums = np.add.reduceat(np.exp(self._table[self._dims, x].sum(axis=1)), self._starts,
                               axis=1)
        return np.log(sums[:, 0] / sums[:, 1]) + (self._offset[0] - self._offset[1])


class _Observations:
    """Growing arrays of the encodings and feedbacks seen at one budget."""

    def __init__(self, dims: int) -> None:
        self.data = np.zeros((64, dims), dtype=np.int64)
        self.feedback = np.zeros(64)
        self.n = 0

    def add(self, codes: tuple[int, ...], feedback: float) -> None:
        if self.n == len(self.feedback):
            self.data = np.concatenate([self.data, np.zeros_like(self.data)])
            self.feedback = np.concatenate([self.feedback, np.zeros_like(self.feedback)])
        self.data[self.n] = codes
        self.feedback[self.n] = feedback
        self.n += 1


@register_algorithm("bohb")
class BOHB(_BracketSearch):
    """Hyperband whose new configurations come from a TPE-style density-ratio model."""

    needs_grid_encoding = True

    def __init__(self, space: SpaceLike, rng: np.random.Generator, *, eta: float = 3,
                 min_budget: float = 1, max_budget: float | None = None, num_samples: int = 4,
                 random_fraction: float = 0.0, bandwidth_factor: float = 3,
                 min_bandwidth: float = 0.3, top_n_percent: int = 15,
                 min_points_in_model: int | None = None, **kwargs: Any) -> None:
        super().__init__(space, rng, eta=eta, min_budget=min_budget, max_budget=max_budget,
                         **kwargs)
        if num_samples < 1 or not 0 <= random_fraction <= 1 or not 0 < top_n_percent < 100:
            raise ConfigError(f"need num_samples >= 1, 0 <= random_fraction <= 1 and "
                              f"0 < top_n_percent < 100; got {num_samples}, {random_fraction}, "
                              f"{top_n_percent}")
        self.num_samples = int(num_samples)
        self.random_fraction = float(random_fraction)
        self.bandwidth_factor = float(bandwidth_factor)
        self.min_bandwidth = float(min_bandwidth)
        self.top_n_percent = int(top_n_percent)
        d = len(self.num_choices)
        self.min_points_in_model = d + 1 if min_points_in_model is None \
            else max(int(min_points_in_model), d + 1)
        self._choices = np.asarray(self.num_choices, dtype=np.int64)
        self._choices_minus_1 = self._choices - 1
        #: epochs -> encodings and feedbacks observed at that budget
        self.observations: dict[int, _Observations] = {}
        self._models: dict[int, _KdePair] = {}
        self._stale: set[int] = set()

    def observe(self, codes: tuple[int, ...], epochs: int, feedback: float) -> None:
        obs = self.observations.get(epochs)
        if obs is None:
            obs = self.observations[epochs] = _Observations(len(self.num_choices))
        obs.add(codes, feedback)
        self._stale.add(epochs)

    def _fit(self, epochs: int) -> None:
        obs = self.observations[epochs]
        n, d = obs.n, len(self.num_choices)
        if n < self.min_points_in_model:
            return
        order = np.argsort(-obs.feedback[:n], kind="stable")
        n_good = max(self.min_points_in_model, self.top_n_percent * n // 100)
        n_bad = max(self.min_points_in_model, (100 - self.top_n_percent) * n // 100)
        good, bad = obs.data[order[:n_good]], obs.data[order[n_good:n_good + n_bad]]
        if len(good) <= d or len(bad) <= d:
            return
        self._models[epochs] = _KdePair(good, bad, self._choices, self.min_bandwidth)

    def model(self) -> _KdePair | None:
        """The model of the largest budget that has one (refitting it first if new results
        arrived at that budget; smaller budgets are refitted only when they are needed)."""
        for epochs in sorted(self.observations, reverse=True):
            if epochs in self._stale:
                self._stale.discard(epochs)
                self._fit(epochs)
            if epochs in self._models:
                return self._models[epochs]
        return None

    def new_config(self, epochs: int) -> tuple[int, ...]:
        if self.random_fraction > 0 and self.stream.uniform() < self.random_fraction:
            return self.random_codes()
        model = self.model()
        if model is None:
            return self.random_codes()
        k, d = self.num_samples, len(self.num_choices)
        uniforms = self.rng.random((k, 2 * d + 1))
        base = model.good[(uniforms[:, 0] * len(model.good)).astype(np.int64)]   # [K, D]
        change = uniforms[:, 1:d + 1] < model.bw_good                            # [K, D]
        # a uniform value among the c - 1 others: draw in [0, c - 1), skip the current one
        shift = (uniforms[:, d + 1:] * self._choices_minus_1).astype(np.int64)
        candidates = np.where(change, shift + (shift >= base), base)
        if k == 1:
            return tuple(candidates[0].tolist())
        scores = model.score(candidates).tolist()
        return tuple(candidates[scores.index(max(scores))].tolist())

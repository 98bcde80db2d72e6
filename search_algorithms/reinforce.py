"""REINFORCE with a factorised categorical policy.

Williams, "Simple statistical gradient-following algorithms for connectionist reinforcement
learning", Machine Learning 1992, applied to architecture search as in NATS-Bench (Dong et al.,
TPAMI 2021; thesis section 5.4; official ``reinforce.py`` and ``run-all.sh``):

* The policy is one independent categorical distribution per dimension (per edge of the tss
  cell, per layer of the sss network), parameterised by logits initialised from
  ``N(0, init_std^2)``.
* Each trial samples an architecture from the policy; its 12-epoch validation accuracy (in
  percent) is the reward.
* The baseline is a bias-corrected exponential moving average of the rewards (numerator and
  denominator both decayed by ``ema_momentum``), updated with the new reward *before* the
  advantage ``reward - baseline`` is computed, as in the official code.
* One Adam step (Kingma & Ba 2015) per trial on ``-log p(arch) * advantage``, summed over
  dimensions; the gradient for dimension d is ``advantage * (p_d - onehot(a_d))``.

Defaults (source):
    learning_rate = 0.01     NATS-Bench run-all.sh (``--learning_rate 0.01``)
    ema_momentum = 0.9       NATS-Bench ``--EMA_momentum`` default
    init_std = 1e-3          NATS-Bench policy initialisation ``1e-3 * randn``
    betas = (0.9, 0.999), eps = 1e-8   PyTorch Adam defaults, which NATS-Bench used
Every trial uses the full search protocol (12 epochs).
"""
from __future__ import annotations

from bisect import bisect_right

import numpy as np

from search_algorithms.base import Algorithm, SpaceLike, Trial, register_algorithm
from natsbench.errors import ConfigError


@register_algorithm("reinforce")
class Reinforce(Algorithm):
    """Policy-gradient search with a moving-average baseline."""

    needs_grid_encoding = True

    def __init__(self, space: SpaceLike, rng: np.random.Generator, *,
                 learning_rate: float = 0.01, ema_momentum: float = 0.9, init_std: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 **kwargs: int) -> None:
        super().__init__(space, rng, **kwargs)
        if not 0 <= ema_momentum < 1:
            raise ConfigError(f"ema_momentum must be in [0, 1), got {ema_momentum}")
        self.learning_rate = float(learning_rate)
        self.ema_momentum = float(ema_momentum)
        self.beta1, self.beta2 = (float(b) for b in betas)
        self.eps = float(eps)
        d, c = len(self.num_choices), max(self.num_choices)
        #: [D, C] logits; entries beyond a dimension's choices are -inf (probability 0).
        self.logits = np.full((d, c), -np.inf)
        self._mask = np.arange(c)[None, :] < np.asarray(self.num_choices)[:, None]
        self._last_or_beyond = np.arange(c)[None, :] >= np.asarray(self.num_choices)[:, None] - 1
        self.logits[self._mask] = init_std * rng.standard_normal(int(self._mask.sum()))
        self._m = np.zeros((d, c))
        self._v = np.zeros((d, c))
        self._t = 0
        self._numerator = 0.0
        self._denominator = 0.0
        self._rows = np.arange(d)
        self._pending: dict[int, np.ndarray] = {}
        self._count = 0
        self._refresh()

    def _refresh(self) -> None:
        """Recompute the policy and its per-dimension CDFs after the logits changed."""
        z = np.exp(self.logits - self.logits.max(axis=1, keepdims=True))
        self._probs = z / z.sum(axis=1, keepdims=True)
        cdf = np.cumsum(self._probs, axis=1)
        cdf[self._last_or_beyond] = np.inf          # rounding can never pick a padded value
        self._cdf = cdf.tolist()

    def probabilities(self) -> np.ndarray:
        """[D, C] current policy (rows sum to 1; zero beyond each dimension's choices)."""
        return self._probs.copy()

    @property
    def baseline(self) -> float:
        """The moving-average reward (0 before the first reward)."""
        return self._numerator / self._denominator if self._denominator else 0.0

    def ask(self) -> Trial:
        uniform = self.stream.uniform
        actions = tuple(bisect_right(cdf, uniform()) for cdf in self._cdf)
        self._count += 1
        self._pending[self._count] = self._probs
        return Trial(actions, None, self._count)

    def tell(self, trial: Trial, feedback: float) -> None:
        probs = self._pending.pop(trial.trial_id)
        m = self.ema_momentum
        self._numerator = m * self._numerator + (1 - m) * feedback
        self._denominator = m * self._denominator + (1 - m)
        advantage = feedback - self.baseline
        grad = probs * advantage                   # zero beyond each dimension's choices
        grad[self._rows, trial.arch] -= advantage
        self._t += 1
        b1, b2 = self.beta1, self.beta2
        self._m *= b1
        self._m += (1 - b1) * grad
        self._v *= b2
        self._v += (1 - b2) * (grad * grad)
        step = self._m * (self.learning_rate / (1 - b1 ** self._t))
        step /= np.sqrt(self._v / (1 - b2 ** self._t)) + self.eps
        self.logits -= step                        # -inf padding stays -inf (its step is 0)
        self._refresh()

"""Named configurations of the weight-sharing search (pure Python).

``nats``: the settings of the official NATS-Bench runs (docs/ALGORITHMS.md lists the
sources): 100 epochs, C=16, N=5, batch 64, shared-weight SGD (lr 0.025, momentum 0.9,
Nesterov, weight decay 5e-4, cosine per iteration to 0.001), architecture Adam (lr 3e-4,
betas (0.5, 0.999), weight decay 1e-3), GDAS tau 10 -> 0.1, ENAS controller settings,
random crop + flip on both batches, 100 candidates scored on 512-image x-valid batches; on
sss (TAS, FBNet-V2, TuNAS) the same weight/architecture settings, tau 10 -> 0.1 for TAS and
FBNet-V2, TuNAS's baseline momentum 0.95 and architecture weight decay 0, no warm-up unless
``warmup_ratio`` (0.3 in Fig. 5.7c) and no cost target unless ``flops_target``.

``na-digits``: the strength searches of the ExtCell space (BtNAS and the DARTS-family
baselines of Na's thesis Table 4.2) at the scale of the bundled ExtCell digits benchmarks.

``digits``: the same algorithms at the scale of the bundled tss-digits (or sss-digits)
benchmark: the skeleton width/cells and image size are read from the benchmark's manifest
(``net_config``) and the augmentation from its training protocol (on tss-digits every derived
architecture has a row; sss-digits trained 2,048 of the 32,768 size configurations, so a search
there needs ``on_missing``).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from natsbench.errors import QueryError

__all__ = ["SearchConfig", "CONFIGS", "get_config"]


@dataclass(frozen=True)
class SearchConfig:
    """Every setting of one weight-sharing search (see the module docstring).

    ``C``/``N``/``image_size``/``crop_padding``/``flip_prob`` of ``None`` are read from the
    benchmark (``net_config`` and protocol of its manifest) or the dataset.
    """

    name: str
    epochs: int = 100
    C: int | None = 16
    N: int | None = 5
    image_size: int | None = None
    batch_size: int = 64
    lr: float = 0.025
    lr_min: float = 0.001
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 5e-4
    arch_lr: float = 3e-4
    arch_betas: tuple[float, float] = (0.5, 0.999)
    arch_weight_decay: float = 1e-3
    tau_max: float = 10.0
    tau_min: float = 0.1
    crop_padding: int | None = None
    flip_prob: float | None = 0.5
    eval_batch_size: int = 512
    num_candidates: int = 100
    # ENAS controller
    controller_hidden: int = 32
    controller_tanh: float = 2.5
    controller_temperature: float = 5.0
    controller_lr: float = 1e-3
    controller_eps: float = 1e-3
    controller_steps: int = 50
    controller_aggregate: int = 20
    controller_entropy_weight: float = 1e-4
    controller_baseline_decay: float = 0.99
    controller_grad_clip: float = 5.0
    # DARTS-V2: finite-difference radius r = unroll_eps / ||v||
    unroll_eps: float = 0.01
    # warm-up (sss methods; NATS-Bench Fig. 5.7c uses 0.3): no architecture steps and mostly
    # full-width paths while epoch < warmup_ratio * epochs
    warmup_ratio: float = 0.0
    # TAS's optional cost target (off: None): flops_weight x piecewise log loss around
    # flops_target MFLOPs with tolerance flops_tolerance (thesis eq. 3.15; lambda_cost = 2)
    flops_target: float | None = None
    flops_tolerance: float = 0.05
    flops_weight: float = 2.0
    # TuNAS: reward baseline momentum; architecture weight decay (the official runs: 0)
    tunas_baseline_decay: float = 0.95
    tunas_arch_weight_decay: float = 0.0
    # strength searches of the ExtCell space (btnas.py): derivation rule ('topk' or 'darts'),
    # operation budget k (None: the benchmark's), ActAll, BtNAS KL weight lambda, FairDARTS
    # zero-one loss weight
    derivation: str = "topk"
    k: int | None = None
    actall: bool = False
    kl_weight: float = 1e-3
    zero_one_weight: float = 10.0

    def replace(self, **changes: Any) -> "SearchConfig":
        """A copy with ``changes``; unknown names raise QueryError naming the valid ones."""
        names = {f.name for f in dataclasses.fields(self)}
        bad = sorted(set(changes) - names)
        if bad:
            raise QueryError(f"unknown search setting(s) {bad}; valid: {sorted(names)}")
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


CONFIGS: dict[str, SearchConfig] = {
    "nats": SearchConfig(name="nats"),
    # tss-digits: C/N/image size and augmentation from the benchmark; 1,297 training images
    # -> 21 steps of 64 per epoch
    "digits": SearchConfig(name="digits", epochs=30, C=None, N=None, image_size=None,
                           crop_padding=None, flip_prob=None, eval_batch_size=250),
    # Na's thesis §3.4.1 search settings (SGD lr 0.1 cosine to 0, momentum 0.9, weight decay
    # 3e-4; Adam lr 6e-4, betas (0.5, 0.999), weight decay 1e-3) at the scale of the bundled
    # ExtCell digits benchmarks (cells, image size, augmentation from their manifest). Scaled
    # to finish in minutes on 2 CPU cores: a half-width search supernet (C=4; the
    # benchmarks' networks have C=8, as DARTS searches at C=16 and evaluates at C=36), 6
    # epochs of batch 128 (66 steps instead of 50 epochs x 782), hence a 10x architecture lr
    # (6e-3); docs/ALGORITHMS.md.
    "na-digits": SearchConfig(name="na-digits", epochs=6, C=4, N=None, image_size=None,
                              batch_size=128, lr=0.1, lr_min=0.0, momentum=0.9, nesterov=False,
                              weight_decay=3e-4, arch_lr=6e-3, arch_betas=(0.5, 0.999),
                              arch_weight_decay=1e-3, crop_padding=None, flip_prob=None,
                              eval_batch_size=250),
}


def get_config(name: str, **changes: Any) -> SearchConfig:
    """The named configuration, optionally with ``changes`` (e.g. ``epochs=2``)."""
    try:
        cfg = CONFIGS[name]
    except KeyError:
        raise QueryError(f"unknown search config {name!r}; valid: {', '.join(CONFIGS)}") from None
    return cfg.replace(**changes) if changes else cfg

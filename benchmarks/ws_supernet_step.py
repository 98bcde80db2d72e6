"""Supernet training-step throughput (images/s): natsbench's tss supernet vs the official one.

Issue "Weight-sharing search on the topology space", Performance: a step is forward +
cross-entropy + backward + the shared-weight SGD step + the architecture Adam step, on the same
batch, for our :class:`~natsbench.models.tss_supernet.TssSupernet` and the official
``xautodl`` ``GenericNAS201Model`` (C=16, N=5, the 5 tss ops, BN without affine/stats) in the
same mode: DARTS (soft mixing; official "joint"), GDAS (hard Gumbel; official "gdas") and single
path (a fixed architecture; official "dynamic").  Before timing, the official supernet gets our
weights and the soft-mode logits are compared, so both compute the same function.  Ours is
timed in the reference's settings (contiguous NCHW) and channels-last (as the search engine
runs it); rounds alternate and the best round of each is reported, by wall-clock and by CPU
time of the process (use ``--threads 1`` on a shared machine).

Usage::

    python benchmarks/ws_supernet_step.py [--modes darts gdas path] [--batch 64] [--steps 3]
        [--repeats 3] [--threads N] [--device cpu|cuda] [--image-size 32]

Target: ratio (ours / reference) >= 1.0 per mode on CPU.  Needs the ``bench`` extra
(``pip install xautodl==1.0.0 --no-deps`` is enough).
"""
from __future__ import annotations

import sys

import torch
from torch import nn

from natsbench.models.tss_supernet import TssSupernet, gumbel_hard
from natsbench.spaces import tss
from _timing import SupernetStepper, compare_rounds, supernet_step_setup  # noqa: E402  (benchmarks/_timing.py)

PATH_ARCH = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
OFFICIAL_MODE = {"darts": ("darts-v1", "joint"), "gdas": ("gdas", "gdas"), "path": ("setn", "dynamic")}


def _reference(mode: str, num_classes: int) -> nn.Module:
    try:
        from xautodl.models.cell_searchs.generic_model import GenericNAS201Model
        from xautodl.models.cell_searchs.genotypes import Structure
    except ImportError as exc:  # pragma: no cover - depends on the environment
        sys.exit(f"the reference needs the official xautodl package (bench extra): {exc}")
    net = GenericNAS201Model(16, 5, 4, num_classes, list(tss.OPS), False, False)
    algo, cal = OFFICIAL_MODE[mode]
    net.set_algo(algo)
    net.set_cal_mode(cal, Structure.str2structure(PATH_ARCH) if cal == "dynamic" else None)
    if mode == "gdas":
        net.set_tau(1.0)
    return net


class Stepper(SupernetStepper):
    """The tss supernet (ours or GenericNAS201Model) and a timed loop of search steps."""

    def __init__(self, net: nn.Module, official: bool, mode: str, device: torch.device,
                 channels_last: bool) -> None:
        super().__init__(net, official, mode, device, channels_last,
                         arch=[net.arch_parameters] if official else net.arch_parameters(),
                         weights=list(net.weights) if official else net.weights())
        self.path = list(tss.op_indices(PATH_ARCH))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.official:
            return self.net(x)[-1]
        if self.mode == "darts":
            return self.net(x, "soft")
        if self.mode == "gdas":
            w, i = gumbel_hard(self.net.arch_logits, 1.0, self.gen)
            return self.net(x, "hard", weights=w, index=i)
        return self.net(x, "path", index=self.path)

    def step(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.w_opt.zero_grad(set_to_none=True)
        self.a_opt.zero_grad(set_to_none=True)
        self.loss(self.forward(x.contiguous(memory_format=self.fmt)), y).backward()
        self.w_opt.step()
        self.a_opt.step()


def _copy_weights(ours: TssSupernet, ref: nn.Module) -> None:
    theirs = [p for n, p in ref.named_parameters() if "arch_parameters" not in n]
    mine = ours.weights()
    assert len(theirs) == len(mine), (len(theirs), len(mine))
    with torch.no_grad():
        for a, b in zip(mine, theirs):
            assert a.shape == b.shape, (a.shape, b.shape)
            b.copy_(a)
        ref.arch_parameters.copy_(ours.arch_logits)
        for a, b in zip(ours.buffers(), ref.buffers()):
            b.copy_(a)


def main(argv: list[str] | None = None) -> int:
    args, device, batches = supernet_step_setup(__doc__, tuple(OFFICIAL_MODE), argv)
    for mode in args.modes:
        torch.manual_seed(0)
        ours = TssSupernet(args.classes, C=16, N=5)
        ref = _reference(mode, args.classes)
        _copy_weights(ours, ref)
        if mode == "darts":
            with torch.no_grad():
                probe = torch.randn(4, 3, args.image_size, args.image_size)
                ours.eval(), ref.eval()
                diff = (ours(probe, "soft") - ref(probe)[-1]).abs().max().item()
            print(f"[{mode}] same weights; max |soft-mode logit difference| = {diff:.2e}")
        import copy

        steppers = {"natsbench": Stepper(ours, False, mode, device, False),
                    "natsbench channels-last": Stepper(copy.deepcopy(ours), False, mode, device, True),
                    "xautodl (reference)": Stepper(ref, True, mode, device, False)}
        compare_rounds(steppers, batches, warmup=args.warmup, repeats=args.repeats, label=mode)
    return 0


if __name__ == "__main__":
    sys.exit(main())

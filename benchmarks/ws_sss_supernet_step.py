"""Size-supernet search-step throughput (images/s): natsbench's sss supernet vs the official one.

Issue "Weight-sharing search on the size space", Performance: a search step is the weight step
(forward, cross-entropy, backward, shared-weight SGD) then the architecture step of the mode
(TAS and FBNet-V2: forward, cross-entropy, backward, Adam; TuNAS: forward, REINFORCE loss on the
sampled widths' log-probabilities, Adam), both on the same batch, for our
:class:`~natsbench.models.sss_supernet.SssSupernet` and the official ``xautodl``
``GenericNAS301Model`` (candidates 8..64, 5 positions, the fixed sss cell, BN without
affine/stats: the official search's ``--affine 0 --track_running_stats 0``) in the same mode:
``tas`` (channel-wise interpolation), ``fbnetv2`` (official ``mask_gumbel``), ``tunas``
(official ``mask_rl``).  Before timing, the official supernet gets our weights and the
full-width logits are compared (official warm-up ratio 1.0 = full width everywhere), so both
compute the same function.  Ours is timed in the reference's settings (contiguous NCHW) and
channels-last (as the search engine runs it); rounds alternate and the best round of each is
reported, by wall-clock and by CPU time of the process (use ``--threads 1`` on a shared machine).

Usage::

    python benchmarks/ws_sss_supernet_step.py [--modes tas fbnetv2 tunas] [--batch 64]
        [--steps 3] [--repeats 3] [--threads N] [--device cpu|cuda] [--image-size 32]

Target: ratio (ours / reference) >= 1.0 per mode on CPU.  Needs the ``bench`` extra
(``pip install xautodl==1.0.0 --no-deps`` is enough).
"""
from __future__ import annotations

import copy
import sys

import torch
from torch import nn

from natsbench.models.sss_supernet import SssSupernet
from natsbench.models.sss_net import SSS_TOPOLOGY
from natsbench.spaces import sss
from search_algorithms.weight_sharing.fbnetv2 import expected_masks
from search_algorithms.weight_sharing.tas import select_widths
from search_algorithms.weight_sharing.tunas import sample_widths
from _timing import SupernetStepper, compare_rounds, supernet_step_setup  # noqa: E402  (benchmarks/_timing.py)

OFFICIAL_ALGO = {"tas": "tas", "fbnetv2": "mask_gumbel", "tunas": "mask_rl"}


def _reference(mode: str | None, num_classes: int) -> nn.Module:
    try:
        from xautodl.models.cell_searchs.genotypes import Structure
        from xautodl.models.shape_searchs import GenericNAS301Model
    except ImportError as exc:  # pragma: no cover - depends on the environment
        sys.exit(f"the reference needs the official xautodl package (bench extra): {exc}")
    net = GenericNAS301Model(list(sss.CHANNELS), 5, Structure.str2structure(SSS_TOPOLOGY),
                             num_classes, False, False)
    net.set_algo(OFFICIAL_ALGO[mode] if mode else "tas")
    net.set_tau(1.0)
    return net


class Stepper(SupernetStepper):
    """The sss supernet (ours or GenericNAS301Model) and a timed loop of search steps."""

    def __init__(self, net: nn.Module, official: bool, mode: str, device: torch.device,
                 channels_last: bool) -> None:
        super().__init__(net, official, mode, device, channels_last,
                         arch=list(net.alphas) if official else net.arch_parameters(),
                         weights=list(net.weights) if official else net.weights())
        self.baseline = 0.0

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list]:
        if self.official:
            _, logits, log_probs = self.net(x)
            return logits, log_probs
        net, a = self.net, self.net.arch_logits
        if self.mode == "tas":
            index, probs = select_widths(a, 1.0, self.gen)
            return net(x, "interp", index=index, probs=probs), []
        if self.mode == "fbnetv2":
            return net(x, "mask", masks=expected_masks(a, net.width_masks, 1.0, self.gen)), []
        index = sample_widths(a, self.gen)
        return net(x, "path", index=index), [index]

    def step(self, x: torch.Tensor, y: torch.Tensor) -> None:
        x = x.contiguous(memory_format=self.fmt)
        self.w_opt.zero_grad(set_to_none=True)
        self.loss(self.forward(x)[0], y).backward()
        self.w_opt.step()
        self.net.zero_grad(set_to_none=True)
        self.a_opt.zero_grad(set_to_none=True)
        if self.mode != "tunas":
            self.loss(self.forward(x)[0], y).backward()
        elif self.official:        # the official arch step: forward with its graph, REINFORCE
            logits, log_probs = self.forward(x)
            acc = float((logits.argmax(1) == y).float().mean()) * 100
            (-(acc - self.baseline) * sum(log_probs)).backward()
        else:                      # ours: the reward forward needs no graph
            index = sample_widths(self.net.arch_logits, self.gen)
            with torch.no_grad():
                acc = float((self.net(x, "path", index=index).argmax(1) == y).float().mean()) * 100
            logp = torch.log_softmax(self.net.arch_logits, -1)
            (-(acc - self.baseline) * logp.gather(1, torch.tensor(index).view(-1, 1)).sum()).backward()
        self.a_opt.step()


def _copy_weights(ours: SssSupernet, ref: nn.Module) -> None:
    theirs = list(ref.weights)
    mine = ours.weights()
    assert len(theirs) == len(mine), (len(theirs), len(mine))
    with torch.no_grad():
        for a, b in zip(mine, theirs):
            assert a.shape == b.shape, (a.shape, b.shape)
            b.copy_(a)
        ref._arch_parameters.copy_(ours.arch_logits)
        mine_b = [b for n, b in ours.named_buffers() if "width_masks" not in n]
        theirs_b = [b for n, b in ref.named_buffers() if n not in ("_tau", "_masks")]
        for a, b in zip(mine_b, theirs_b):
            b.copy_(a)


def main(argv: list[str] | None = None) -> int:
    args, device, batches = supernet_step_setup(__doc__, tuple(OFFICIAL_ALGO), argv)
    for mode in args.modes:
        torch.manual_seed(0)
        ours = SssSupernet(args.classes)
        ref = _reference(mode, args.classes)
        _copy_weights(ours, ref)
        with torch.no_grad():
            probe = torch.randn(4, 3, args.image_size, args.image_size)
            ref.set_warmup_ratio(1.0)                # full width everywhere
            diff = (ours(probe, "path") - ref(probe)[1]).abs().max().item()
            ref.set_warmup_ratio(None)
        print(f"[{mode}] same weights; max |full-width logit difference| = {diff:.2e}")
        steppers = {"natsbench": Stepper(ours, False, mode, device, False),
                    "natsbench channels-last": Stepper(copy.deepcopy(ours), False, mode, device, True),
                    "xautodl (reference)": Stepper(ref, True, mode, device, False)}
        compare_rounds(steppers, batches, warmup=args.warmup, repeats=args.repeats, label=mode)
    return 0


if __name__ == "__main__":
    sys.exit(main())

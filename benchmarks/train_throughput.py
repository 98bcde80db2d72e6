"""Training throughput (images/s) of natsbench's tss network vs the official implementation.

Issue "Live training engine", Performance: training throughput of the tss network against a
straightforward reference implementation of the same network, measured in the same run:
the official ``xautodl`` package's ``TinyNetwork`` (C=16, N=5, the NAS-Bench-201/NATS-Bench
skeleton). Both networks get the same architecture, the same random CIFAR-shaped batches,
the same optimiser (SGD, Nesterov momentum 0.9, weight decay 5e-4, lr 0.1) and the same
number of steps; a step is forward + cross-entropy + backward + optimiser step. Our network
is timed twice: in the reference's settings (contiguous NCHW; ``--amp`` applies to both),
which compares the networks alone, and as ``natsbench.train`` runs it (channels-last, and
float16 autocast on CUDA), which is the training throughput users get. The two are
timed alternately (``--repeats`` rounds) and the best round of each is reported, by
wall-clock time and by the CPU time of the process (the latter is less disturbed by other
processes on a shared machine; use ``--threads 1`` there, as oversubscribed OpenMP threads
spin). Before timing, the official network is
loaded with our weights and both outputs are compared, so they compute the same function.

Usage::

    python benchmarks/train_throughput.py [--arch ARCH] [--batch 256] [--steps 3]
        [--repeats 5] [--threads N] [--device cpu|cuda] [--image-size 32] [--amp]

Target: ratio (ours / reference) >= 1.0 on CPU. Needs the ``bench`` extra
(``pip install xautodl==1.0.0 --no-deps`` is enough: only its network modules are used).
"""
from __future__ import annotations

import argparse
import contextlib
import copy
import sys

import torch
from torch import nn
from _timing import images_per_second  # noqa: E402  (benchmarks/_timing.py)

#: the best tss cell on CIFAR (NATS-Bench), heavy on 3x3 convolutions
DEFAULT_ARCH = ("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+"
                "|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|")


def _reference(arch: str, num_classes: int) -> nn.Module:
    try:
        from xautodl.models.cell_infers.tiny_network import TinyNetwork
        from xautodl.models.cell_searchs.genotypes import Structure
    except ImportError as exc:  # pragma: no cover - depends on the environment
        sys.exit(f"the reference needs the official xautodl package (bench extra): {exc}")
    return TinyNetwork(16, 5, Structure.str2structure(arch), num_classes)


def _ours(arch: str, num_classes: int) -> nn.Module:
    from natsbench.models import create_model

    return create_model(space="tss", arch=arch, num_classes=num_classes)


def _logits(out):
    return out[-1] if isinstance(out, (tuple, list)) else out


class Trainer:
    """One network, its optimiser and a timed loop of training steps on fixed batches."""

    def __init__(self, net: nn.Module, device: torch.device, amp: bool, channels_last: bool):
        self.net = net.to(device)
        self.fmt = torch.channels_last if channels_last else torch.contiguous_format
        self.net.to(memory_format=self.fmt)
        self.opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, nesterov=True,
                                   weight_decay=5e-4)
        self.device, self.amp = device, amp
        self.scaler = torch.amp.GradScaler("cuda", enabled=amp)
        self.loss = nn.CrossEntropyLoss()

    def step(self, x: torch.Tensor, y: torch.Tensor) -> None:
        ctx = (torch.autocast(device_type="cuda", dtype=torch.float16) if self.amp
               else contextlib.nullcontext())
        with ctx:
            loss = self.loss(_logits(self.net(x.contiguous(memory_format=self.fmt))), y)
        self.opt.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.opt)
        self.scaler.update()

    def images_per_second(self, batches: list[tuple[torch.Tensor, torch.Tensor]]
                          ) -> tuple[float, float]:
        """(images per wall-clock second, images per CPU second of this process)."""
        self.net.train()
        return images_per_second(self.step, batches, self.device)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", default=DEFAULT_ARCH, help="tss architecture string")
    parser.add_argument("--batch", type=int, default=256, help="batch size (H0: 256)")
    parser.add_argument("--steps", type=int, default=3, help="timed steps per round")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    parser.add_argument("--repeats", type=int, default=5, help="alternating timing rounds")
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--image-size", type=int, default=32, help="32 (CIFAR) or 16 (ImageNet16)")
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--amp", action="store_true",
                        help="float16 autocast + channels-last for both (CUDA only)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    amp = bool(args.amp and device.type == "cuda")
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True

    torch.manual_seed(0)
    ours = _ours(args.arch, args.classes)
    ref = _reference(args.arch, args.classes)
    missing = ref.load_state_dict(ours.state_dict(), strict=True)
    n_ours = sum(p.numel() for p in ours.parameters())
    n_ref = sum(p.numel() for p in ref.parameters())
    with torch.no_grad():
        probe = torch.randn(4, 3, args.image_size, args.image_size)
        ours.eval(), ref.eval()
        diff = (_logits(ours(probe)) - _logits(ref(probe))).abs().max().item()
    print(f"arch {args.arch}")
    print(f"params: ours {n_ours}, reference {n_ref}; same weights loaded ({missing}); "
          f"max |logit difference| = {diff:.2e}")

    gen = torch.Generator().manual_seed(1)
    batches = [(torch.randn(args.batch, 3, args.image_size, args.image_size, generator=gen).to(device),
                torch.randint(0, args.classes, (args.batch,), generator=gen).to(device))
                for _ in range(args.steps)]
    # the same network in the reference's settings, and as natsbench.train runs it
    # (channels-last always; float16 autocast on CUDA)
    trainers = {"natsbench": Trainer(ours, device, amp, False),
                "natsbench channels-last": Trainer(copy.deepcopy(ours), device,
                                                   device.type == "cuda", True),
                "xautodl (reference)": Trainer(ref, device, amp, False)}
    for t in trainers.values():
        t.images_per_second(batches[: args.warmup])
    best = {name: (0.0, 0.0) for name in trainers}
    for _ in range(args.repeats):
        for name, t in trainers.items():
            wall, cpu = t.images_per_second(batches)
            best[name] = (max(best[name][0], wall), max(best[name][1], cpu))
    print(f"device {device} ({torch.get_num_threads()} threads), batch {args.batch}, "
          f"{args.image_size}x{args.image_size}, {args.steps} steps x {args.repeats} rounds, "
          f"amp={amp}, torch {torch.__version__}")
    print(f"  {'':24s} {'images/s':>10s} {'images/CPU-s':>13s}   (best round)")
    for name, (wall, cpu) in best.items():
        print(f"  {name:24s} {wall:10.1f} {cpu:13.1f}")
    ref = best["xautodl (reference)"]
    for name, label in (("natsbench", "same settings (network only)"),
                        ("natsbench channels-last", "as natsbench.train runs it")):
        ours = best[name]
        print(f"  ratio natsbench / reference, {label}: {ours[0] / ref[0]:.3f}x wall-clock, "
              f"{ours[1] / ref[1]:.3f}x CPU time  (target >= 1.0x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

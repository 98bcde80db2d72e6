"""Shared timing helper of the training-throughput scripts (imported as ``_timing``: the
scripts run as ``python benchmarks/<name>.py``, which puts this folder on ``sys.path``)."""
from __future__ import annotations

import time
from typing import Any, Callable, Sequence


def images_per_second(step: Callable[[Any, Any], None], batches: list, device: Any
                      ) -> tuple[float, float]:
    """Run ``step(x, y)`` over ``batches``: (images per wall-clock second, images per CPU
    second of this process), CUDA synchronised before and after."""
    import torch

    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    sync()
    start, cpu_start = time.perf_counter(), time.process_time()
    for x, y in batches:
        step(x, y)
    sync()
    images = sum(len(y) for _, y in batches)
    return (images / (time.perf_counter() - start),
            images / max(time.process_time() - cpu_start, 1e-9))


def compare_rounds(steppers: dict[str, Any], batches: list, *, warmup: int, repeats: int,
                   label: str, reference: str = "xautodl (reference)") -> dict[str, tuple[float, float]]:
    """Time each stepper (an object with ``images_per_second(batches)``) in alternating rounds
    after ``warmup`` untimed batches; print the best round of each (images per wall-clock and
    per CPU second) and every other stepper's ratio to ``reference``; return the best rounds."""
    for s in steppers.values():
        s.images_per_second(batches[:warmup])
    best = {name: (0.0, 0.0) for name in steppers}
    for _ in range(repeats):
        for name, s in steppers.items():
            wall, cpu = s.images_per_second(batches)
            best[name] = (max(best[name][0], wall), max(best[name][1], cpu))
    print(f"[{label}]  {'':24s} {'images/s':>10s} {'images/CPU-s':>13s}   (best round)")
    for name, (wall, cpu) in best.items():
        print(f"[{label}]  {name:24s} {wall:10.1f} {cpu:13.1f}")
    r = best[reference]
    for name, o in best.items():
        if name != reference:
            print(f"[{label}]  ratio {name} / reference: {o[0] / r[0]:.3f}x wall-clock, "
                  f"{o[1] / r[1]:.3f}x CPU time  (target >= 1.0x)")
    return best


def supernet_step_setup(doc: str, modes: Sequence[str], argv: list[str] | None = None
                        ) -> tuple[Any, Any, list]:
    """The command line of the supernet-step scripts (``--modes`` from ``modes``, batch, steps,
    warm-up, repeats, threads, device, image size, classes): ``(args, device, batches)`` with
    ``args.steps`` seeded random batches ``(images [B, 3, S, S], labels [B])`` on the device."""
    import argparse

    import torch

    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--modes", nargs="+", default=list(modes), choices=tuple(modes))
    parser.add_argument("--batch", type=int, default=64, help="batch size (official: 64)")
    parser.add_argument("--steps", type=int, default=3, help="timed steps per round")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps first")
    parser.add_argument("--repeats", type=int, default=3, help="alternating timing rounds")
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--classes", type=int, default=10)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    gen = torch.Generator().manual_seed(1)
    batches = [(torch.randn(args.batch, 3, args.image_size, args.image_size, generator=gen).to(device),
                torch.randint(0, args.classes, (args.batch,), generator=gen).to(device))
                for _ in range(args.steps)]
    print(f"device {device} ({torch.get_num_threads()} threads), batch {args.batch}, "
          f"{args.image_size}x{args.image_size}, {args.steps} steps x {args.repeats} rounds, "
          f"torch {torch.__version__}")
    return args, device, batches


class SupernetStepper:
    """One supernet (ours or the official reference) with the optimisers of the NATS-Bench
    weight-sharing runs, timed by :func:`images_per_second`.

    Weights: SGD lr 0.025, momentum 0.9, Nesterov, weight decay 5e-4; architecture: Adam lr
    3e-4, betas (0.5, 0.999), weight decay 1e-3. Subclasses define ``step(x, y)``; ``fmt`` is
    the memory format inputs are given in (channels-last or contiguous).
    """

    def __init__(self, net: Any, official: bool, mode: str, device: Any, channels_last: bool,
                 *, arch: list, weights: list) -> None:
        import torch
        from torch import nn

        self.net, self.official, self.mode = net.to(device), official, mode
        self.fmt = torch.channels_last if channels_last else torch.contiguous_format
        self.net.to(memory_format=self.fmt)
        self.w_opt = torch.optim.SGD(weights, lr=0.025, momentum=0.9, nesterov=True,
                                     weight_decay=5e-4)
        self.a_opt = torch.optim.Adam(arch, lr=3e-4, betas=(0.5, 0.999), weight_decay=1e-3)
        self.gen = torch.Generator().manual_seed(0)
        self.device = device
        self.loss = nn.CrossEntropyLoss()

    def step(self, x: Any, y: Any) -> None:
        raise NotImplementedError

    def images_per_second(self, batches: list) -> tuple[float, float]:
        self.net.train()
        return images_per_second(self.step, batches, self.device)

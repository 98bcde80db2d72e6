"""Shared timing helper of the training-throughput scripts (imported as ``_timing``: the
scripts run as ``python benchmarks/<name>.py``, which puts this folder on ``sys.path``)."""
from __future__ import annotations

import time
from typing import Any, Callable


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

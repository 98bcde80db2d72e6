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

"""A tiny digits dataset for fast search tests (weights on ``train``, arch on ``x-valid``)."""
from __future__ import annotations

from typing import Any

import numpy as np


def tiny_digits(n_train: int, n_valid: int, image_size: int = 8) -> Any:
    """digits at ``image_size`` cut to ``n_train`` train / ``n_valid`` x-valid images.

    The other evaluation sets keep their images but carry label 99, which no classifier has,
    so a test image reaching a loss raises: a search that read a test set fails loudly.
    """
    from natsbench.datasets import load_dataset
    from natsbench.datasets.core import ImageSet, LoadedDataset

    full = load_dataset("digits", image_size=image_size)
    valid = full.eval_sets["x-valid"]
    poison = {name: ImageSet(s.images, np.full_like(s.labels, 99))
              for name, s in full.eval_sets.items() if name != "x-valid"}
    return LoadedDataset(spec=full.spec, train=full.train.take(np.arange(n_train)),
                         eval_sets={"x-valid": valid.take(np.arange(n_valid)), **poison},
                         mean=full.mean, std=full.std, provenance=full.provenance)

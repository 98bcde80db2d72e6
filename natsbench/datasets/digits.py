"""The bundled offline dataset: scikit-learn's handwritten digits as small RGB images.

Why this dataset: natsbench must train and test end to end on a machine without network
access. ``sklearn.datasets.load_digits`` is real image data (the test part of the UCI
"Optical Recognition of Handwritten Digits" set: 1,797 images of 8x8 pixels with 17 grey
levels, 10 balanced classes) shipped *inside* the scikit-learn wheel, which natsbench
already depends on, so it needs no download and no extra package. It is the only image
classification set scikit-learn bundles (its other image loaders download, its other
bundled sets are tabular). It is small enough that a full 12-epoch training of a NATS
network takes one to two minutes on one CPU core, and not trivial: the cheap tss cell of
official index 0 reaches about 93 % ori-test accuracy after 12 epochs of H0 with batch 64
(``"H0:batch_size=64"``; measured). At the official batch of 256 the 1,297 training
images give only 6 steps per epoch and 12 epochs are too few (about 60 %), so use a
smaller batch on this dataset.

To run the NATS networks unchanged the 8x8 grey images are upsampled by an integer
nearest-neighbour factor, zero padded to ``image_size`` (16 by default, like
ImageNet16-120; 32 like CIFAR works too) and repeated over 3 channels. Grey levels 0..16
are mapped to 0..255 (``round(v * 255 / 16)``).

Splits mirror cifar100: 1,297 training images and an "original test" set of 500 that is
halved into x-valid (250) and x-test (250), all stratified by class from the split seed.
"""
from __future__ import annotations

import numpy as np

from natsbench.errors import DatasetError

__all__ = ["DIGITS_TOTAL", "DIGITS_ORI_TEST", "load_digits_images", "to_rgb_square"]

DIGITS_TOTAL = 1797
DIGITS_ORI_TEST = 500


def to_rgb_square(grey: np.ndarray, image_size: int) -> np.ndarray:
    """Turn uint8 grey images ``[N, h, w]`` into uint8 RGB ``[N, 3, S, S]`` (``S = image_size``).

    Upsamples by the integer factor ``S // max(h, w)`` (nearest neighbour) and centres the
    result in a zero canvas.
    """
    n, h, w = grey.shape
    if image_size < max(h, w):
        raise DatasetError(f"image_size must be >= {max(h, w)} for {h}x{w} images, got {image_size}")
    factor = image_size // max(h, w)
    big = np.repeat(np.repeat(grey, factor, axis=1), factor, axis=2)
    top, left = (image_size - big.shape[1]) // 2, (image_size - big.shape[2]) // 2
    out = np.zeros((n, 3, image_size, image_size), dtype=np.uint8)
    out[:, :, top:top + big.shape[1], left:left + big.shape[2]] = big[:, None]
    return out


def load_digits_images(image_size: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """All 1,797 digits as uint8 ``[1797, 3, S, S]`` images and int64 labels ``[1797]`` (0..9)."""
    from sklearn.datasets import load_digits  # heavy import, only when used

    bunch = load_digits()
    grey = np.rint(np.asarray(bunch.images, dtype=np.float64) * (255.0 / 16.0)).astype(np.uint8)
    labels = np.asarray(bunch.target, dtype=np.int64)
    if grey.shape != (DIGITS_TOTAL, 8, 8):
        raise DatasetError(f"scikit-learn digits has shape {grey.shape}, expected ({DIGITS_TOTAL}, 8, 8)")
    return to_rgb_square(grey, image_size), labels

"""Mini-batches from in-memory uint8 images, with seeded augmentation (torch).

The whole set lives as one uint8 tensor ``[N, 3, H, W]`` on the training device (CIFAR's
50k images are 150 MB, ImageNet16-120's 152k are 117 MB), so no loader processes are
needed: each batch is one gather. Augmentation follows the NATS-Bench protocol: zero
padding + random crop back to ``H x W`` and a horizontal flip with probability
``flip_prob``, applied to the raw 0-255 pixels before per-channel normalisation, as
torchvision's ``RandomCrop(padding=p)`` + ``RandomHorizontalFlip`` + ``Normalize`` do.

All random draws (epoch permutation, crop offsets, flips) come from one CPU
``torch.Generator`` in a fixed order, so a seed gives the same batches on every device.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
from natsbench._optional import require

require("torch", extra="train")  # before importing it: a missing torch names the extra
import torch  # noqa: E402
import torch.nn.functional as F

__all__ = ["DeviceSet", "Normalizer", "augment", "train_batches", "eval_batches"]


class Normalizer:
    """``(x / 255 - mean) / std`` per channel as one fused multiply-add, to float32."""

    def __init__(self, mean: Sequence[float], std: Sequence[float], device: torch.device) -> None:
        std_t = torch.tensor(std, dtype=torch.float32, device=device).view(1, -1, 1, 1)
        mean_t = torch.tensor(mean, dtype=torch.float32, device=device).view(1, -1, 1, 1)
        self.scale = 1.0 / (255.0 * std_t)
        self.shift = -mean_t / std_t

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 ``[B, 3, H, W]`` -> normalised float32 ``[B, 3, H, W]``."""
        return torch.addcmul(self.shift, images.float(), self.scale)


class DeviceSet:
    """One image set moved to ``device``: uint8 images ``[N, 3, H, W]`` and int64 labels ``[N]``."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, device: torch.device) -> None:
        self.images = torch.from_numpy(np.ascontiguousarray(images)).to(device)
        self.labels = torch.from_numpy(np.asarray(labels, dtype=np.int64)).to(device)

    def __len__(self) -> int:
        return int(self.labels.shape[0])


def augment(images: torch.Tensor, padding: int, flip_prob: float,
            generator: torch.Generator) -> torch.Tensor:
    """Random crop (zero padding ``padding``) and horizontal flip of a uint8 batch.

    Args:
        images: ``[B, C, H, W]`` (any dtype, any device).
        padding: pixels of zero padding per border; 0 disables the crop.
        flip_prob: probability that a sample is mirrored left-right.
        generator: CPU generator; draws ``B`` flips, then ``B`` row and ``B`` column offsets.

    Returns:
        ``[B, C, H, W]`` tensor of the same dtype and device.
    """
    b, c, h, w = images.shape
    flips = torch.rand(b, generator=generator) < flip_prob
    if padding > 0:
        rows0 = torch.randint(0, 2 * padding + 1, (b,), generator=generator)
        cols0 = torch.randint(0, 2 * padding + 1, (b,), generator=generator)
    else:
        rows0 = cols0 = torch.zeros(b, dtype=torch.int64)
    if padding == 0 and not bool(flips.any()):
        return images
    device = images.device
    ar_h, ar_w = torch.arange(h), torch.arange(w)
    rows = rows0[:, None] + ar_h[None, :]                                    # [B, H]
    cols = torch.where(flips[:, None], cols0[:, None] + (w - 1 - ar_w)[None, :],
                       cols0[:, None] + ar_w[None, :])                       # [B, W]
    source = F.pad(images, (padding,) * 4) if padding > 0 else images
    batch_idx = torch.arange(b, device=device)[:, None, None, None]
    chan_idx = torch.arange(c, device=device)[None, :, None, None]
    return source[batch_idx, chan_idx, rows.to(device)[:, None, :, None],
                  cols.to(device)[:, None, None, :]]


def train_batches(data: DeviceSet, batch_size: int, generator: torch.Generator, *,
                  padding: int, flip_prob: float) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """One epoch of shuffled, augmented uint8 batches ``([B, 3, H, W], [B])``; last may be short."""
    order = torch.randperm(len(data), generator=generator).to(data.images.device)
    for start in range(0, len(data), batch_size):
        idx = order[start:start + batch_size]
        yield augment(data.images[idx], padding, flip_prob, generator), data.labels[idx]


def eval_batches(data: DeviceSet, batch_size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """The set in order, in uint8 batches ``([B, 3, H, W], [B])``, no augmentation."""
    for start in range(0, len(data), batch_size):
        yield data.images[start:start + batch_size], data.labels[start:start + batch_size]

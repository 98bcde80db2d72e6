"""Seeded augmentation and batching of in-memory images."""
from __future__ import annotations

import numpy as np
import pytest

import torch

from natsbench.train.batches import DeviceSet, Normalizer, augment, eval_batches, train_batches  # noqa: E402


def _reference_augment(images: np.ndarray, padding: int, flips, rows0, cols0) -> np.ndarray:
    """Per-sample numpy version of torchvision's RandomCrop(padding) + RandomHorizontalFlip."""
    out = np.empty_like(images)
    h, w = images.shape[2:]
    for i, img in enumerate(images):
        padded = np.pad(img, ((0, 0), (padding, padding), (padding, padding)))
        crop = padded[:, rows0[i]:rows0[i] + h, cols0[i]:cols0[i] + w]
        out[i] = crop[:, :, ::-1] if flips[i] else crop
    return out


@pytest.mark.parametrize("padding", [0, 2, 4])
def test_augment_equals_per_sample_crop_and_flip(padding):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(16, 3, 8, 10), dtype=np.uint8)
    gen = torch.Generator().manual_seed(3)
    # the documented draw order: B flips, then B row offsets, then B column offsets
    probe = torch.Generator().manual_seed(3)
    flips = (torch.rand(16, generator=probe) < 0.5).numpy()
    if padding:
        rows0 = torch.randint(0, 2 * padding + 1, (16,), generator=probe).numpy()
        cols0 = torch.randint(0, 2 * padding + 1, (16,), generator=probe).numpy()
    else:
        rows0 = cols0 = np.zeros(16, dtype=np.int64)
    got = augment(torch.from_numpy(images), padding, 0.5, gen).numpy()
    np.testing.assert_array_equal(got, _reference_augment(images, padding, flips, rows0, cols0))
    assert flips.any() and not flips.all()


def test_no_augmentation_is_identity_and_full_flip_mirrors():
    images = torch.arange(2 * 3 * 4 * 4, dtype=torch.uint8).reshape(2, 3, 4, 4)
    gen = torch.Generator().manual_seed(0)
    assert torch.equal(augment(images, 0, 0.0, gen), images)
    assert torch.equal(augment(images, 0, 1.0, gen), images.flip(-1))


def test_epoch_batches_are_a_seeded_permutation():
    images = np.arange(10, dtype=np.uint8).reshape(10, 1, 1, 1).repeat(3, axis=1)
    data = DeviceSet(images, np.arange(10), torch.device("cpu"))

    def epoch(seed):
        gen = torch.Generator().manual_seed(seed)
        return [(x.clone(), y.clone()) for x, y in train_batches(data, 4, gen, padding=0, flip_prob=0.0)]

    a, b, c = epoch(1), epoch(1), epoch(2)
    assert [len(y) for _, y in a] == [4, 4, 2]
    labels = torch.cat([y for _, y in a])
    assert sorted(labels.tolist()) == list(range(10))
    # images travel with their labels
    assert all(torch.equal(x[:, 0, 0, 0].long(), y) for x, y in a)
    assert all(torch.equal(y1, y2) for (_, y1), (_, y2) in zip(a, b))
    assert not torch.equal(labels, torch.cat([y for _, y in c]))
    ordered = torch.cat([y for _, y in eval_batches(data, 3)])
    assert ordered.tolist() == list(range(10))


def test_normalizer_matches_formula():
    mean, std = (0.5, 0.25, 0.1), (0.2, 0.3, 0.4)
    x = torch.randint(0, 256, (2, 3, 4, 4), dtype=torch.uint8)
    got = Normalizer(mean, std, torch.device("cpu"))(x)
    expect = (x.double() / 255 - torch.tensor(mean, dtype=torch.float64).view(1, 3, 1, 1)) \
        / torch.tensor(std, dtype=torch.float64).view(1, 3, 1, 1)
    assert got.dtype == torch.float32
    torch.testing.assert_close(got.double(), expect, rtol=1e-6, atol=1e-6)

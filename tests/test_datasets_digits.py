"""The bundled offline dataset (scikit-learn digits) and the stratified split maker."""
from __future__ import annotations

import numpy as np
import pytest

from natsbench.datasets import get_spec, load_dataset
from natsbench.datasets.digits import to_rgb_square
from natsbench.datasets.splits import split_rng, stratified_split
from natsbench.errors import DatasetError


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def test_sizes_mirror_cifar100_scheme(digits):
    sets = digits.eval_sets
    assert list(sets) == list(get_spec("digits").eval_sets) == ["x-valid", "x-test", "ori-test"]
    assert (len(digits.train), len(sets["x-valid"]), len(sets["x-test"]), len(sets["ori-test"])) \
        == (1297, 250, 250, 500)
    assert digits.image_shape == (3, 16, 16) and digits.num_classes == 10


def test_sets_are_disjoint_and_cover_all_images(digits):
    from sklearn.datasets import load_digits

    raw = load_digits()
    # every 16x16 image is an 8x8 original upsampled by 2 (each 2x2 block one pixel)
    small = digits.train.images[:, 0, ::2, ::2].astype(np.float64)
    assert np.all(digits.train.images[:, 0, 1::2, 1::2] == digits.train.images[:, 0, ::2, ::2])
    assert np.all(digits.train.images[:, 1] == digits.train.images[:, 0])
    originals = {bytes(np.rint(img * 255 / 16).astype(np.uint8)) for img in raw.images}
    assert all(bytes(s.astype(np.uint8)) in originals for s in small)
    ori = digits.eval_sets["ori-test"]
    xv, xt = digits.eval_sets["x-valid"], digits.eval_sets["x-test"]
    # x-valid and x-test halve ori-test
    key = lambda s: sorted(bytes(i) + bytes([int(l)]) for i, l in zip(s.images, s.labels))
    assert key(ori) == sorted(key(xv) + key(xt))
    # labels are balanced in every set (stratified)
    for s in (digits.train, xv, xt, ori):
        counts = np.bincount(s.labels, minlength=10)
        assert counts.max() - counts.min() <= 0.05 * len(s) + 2
    total = len(digits.train) + len(ori)
    assert total == len(raw.target) == 1797
    assert np.bincount(np.concatenate([digits.train.labels, ori.labels])).tolist() == \
        np.bincount(raw.target).tolist()


def test_deterministic_and_seeded(digits):
    again = load_dataset("digits")
    np.testing.assert_array_equal(digits.train.images, again.train.images)
    np.testing.assert_array_equal(digits.eval_sets["x-test"].labels, again.eval_sets["x-test"].labels)
    other = load_dataset("digits", split_seed=5)
    assert not np.array_equal(digits.train.images, other.train.images)
    assert "split_seed=5" in other.provenance["split"]


def test_image_size_and_normalisation():
    big = load_dataset("digits", image_size=32)
    assert big.image_shape == (3, 32, 32)
    pixels = big.train.images.astype(np.float64) / 255
    assert big.mean[0] == pytest.approx(pixels[:, 0].mean())
    assert big.std[2] == pytest.approx(pixels[:, 2].std())
    with pytest.raises(DatasetError, match="image_size"):
        load_dataset("cifar10", root=".", image_size=20)


def test_to_rgb_square_pads_and_centres():
    grey = np.arange(64, dtype=np.uint8).reshape(1, 8, 8)
    out = to_rgb_square(grey, 20)          # factor 2 -> 16x16, padded by 2 on each side
    assert out.shape == (1, 3, 20, 20)
    assert out[0, 0, :2].sum() == 0 and out[0, 0, :, :2].sum() == 0 and out[0, 0, 18:].sum() == 0
    assert out[0, 2, 2, 2] == 0 and out[0, 2, 2 + 2 * 7, 2 + 2 * 3 + 1] == grey[0, 7, 3]
    with pytest.raises(DatasetError, match=">= 8"):
        to_rgb_square(grey, 6)


def test_stratified_split_properties():
    labels = np.repeat(np.arange(4), [10, 20, 30, 40])
    a, b, c = stratified_split(labels, [50, 30, 20], split_rng("x"))
    assert (len(a), len(b), len(c)) == (50, 30, 20)
    assert np.intersect1d(a, b).size == 0 and np.union1d(np.union1d(a, b), c).size == 100
    # each class appears in proportion (within one sample) in each group
    for group, frac in ((a, 0.5), (b, 0.3), (c, 0.2)):
        counts = np.bincount(labels[group], minlength=4)
        assert np.all(np.abs(counts - frac * np.array([10, 20, 30, 40])) <= 1.0)
    again = stratified_split(labels, [50, 30, 20], split_rng("x"))
    assert all(np.array_equal(x, y) for x, y in zip((a, b, c), again))
    with pytest.raises(ValueError, match="sum to 100"):
        stratified_split(labels, [50, 30], split_rng("x"))

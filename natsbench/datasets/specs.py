"""Static description of every dataset natsbench can train on (pure Python, no I/O).

Names, evaluation sets and split sizes follow NATS-Bench (Dong's thesis, section 5.2.2,
and the official records, whose ``eval_names`` are exactly the ``eval_sets`` below):

============== ============= =============================== ===============
name           train         evaluation sets                  image
============== ============= =============================== ===============
cifar10-valid  25,000        x-valid 25,000, ori-test 10,000  3x32x32
cifar10        50,000        ori-test 10,000                  3x32x32
cifar100       50,000        x-valid 5,000, x-test 5,000,     3x32x32
                             ori-test 10,000
ImageNet16-120 151,700       x-valid 3,000, x-test 3,000,     3x16x16
                             ori-test 6,000
digits         1,297         x-valid 250, x-test 250,         3x16x16 (default)
                             ori-test 500
============== ============= =============================== ===============

``x-valid`` of cifar10-valid is the second half of the original CIFAR-10 training set;
``x-valid``/``x-test`` of cifar100 and ImageNet16-120 are the two halves of the original
test (``ori-test``) set. ``digits`` is the bundled offline dataset
(:mod:`natsbench.datasets.digits`) and mirrors the cifar100 scheme.

Normalisation constants (per-channel mean/std on the 0-1 scale) are the ones of the
official training code (xautodl ``get_datasets``); the digits constants are computed from
its training split when it is loaded.
"""
from __future__ import annotations

from dataclasses import dataclass

from natsbench.errors import DatasetError

__all__ = ["DatasetSpec", "DATASETS", "EVAL_SET_NAMES", "TEST_SET_PREFERENCE", "NATS_SET_SOURCES",
           "NATS_DATASETS", "nats_set_source", "get_spec", "dataset_names"]

#: every evaluation-set name a dataset may have, in the order records list them
EVAL_SET_NAMES: tuple[str, ...] = ("x-valid", "x-test", "ori-test")
#: the set whose accuracy counts as "test": x-test where a dataset has it, else ori-test (as the
#: official API's ``test-accuracy`` and the NATS-Bench search protocol use them)
TEST_SET_PREFERENCE: tuple[str, ...] = ("x-test", "ori-test")

#: NATS-Bench's user-facing dataset -> {"valid"/"test": (benchmark dataset, evaluation set)}, as
#: the official API resolves them (``get_more_info``, ``find_best``, ``simulate_train_eval``) and
#: the NATS-Bench search protocol uses them: CIFAR-10 validation is the ``x-valid`` half of the
#: ``cifar10-valid`` training set and its test the ``ori-test`` set of ``cifar10`` (trained on all
#: 50k images); CIFAR-100 and ImageNet16-120 use the ``x-valid``/``x-test`` halves of their own
#: original test set.
NATS_SET_SOURCES: dict[str, dict[str, tuple[str, str]]] = {
    "cifar10": {"valid": ("cifar10-valid", "x-valid"), "test": ("cifar10", "ori-test")},
    "cifar100": {"valid": ("cifar100", "x-valid"), "test": ("cifar100", "x-test")},
    "ImageNet16-120": {"valid": ("ImageNet16-120", "x-valid"), "test": ("ImageNet16-120", "x-test")},
}
#: the benchmark datasets of NATS-Bench (those :data:`NATS_SET_SOURCES` reads)
NATS_DATASETS: tuple[str, ...] = tuple(dict.fromkeys(
    src[0] for sets in NATS_SET_SOURCES.values() for src in sets.values()))


def nats_set_source(dataset: str, set_name: str) -> tuple[str, str]:
    """The (benchmark dataset, evaluation set) that NATS-Bench reads for ``set_name``
    (``"valid"``/``"test"``) of ``dataset``; any other pair (``"train"``, ``"x-valid"``, a
    benchmark dataset such as ``cifar10-valid``) is returned unchanged."""
    return NATS_SET_SOURCES.get(dataset, {}).get(set_name, (dataset, set_name))


@dataclass(frozen=True)
class DatasetSpec:
    """What a dataset is, independent of where its files are.

    Attributes:
        name: the natsbench dataset name (the ``dataset`` field of records).
        source: which raw files it is built from: ``cifar10``, ``cifar100``,
            ``imagenet16`` or ``digits``.
        num_classes: number of classes (labels are ``0 .. num_classes-1``).
        image_size: side length in pixels of the (square) images fed to the network.
        eval_sets: names of the evaluation sets, a subset of :data:`EVAL_SET_NAMES`.
        mean, std: per-channel normalisation constants on the 0-1 pixel scale
            (``None`` for digits: computed from its training split).
        crop_padding: zero padding (pixels per border) of the random-crop augmentation.
        split_file_keys: keys of the official split file of this dataset (empty: none).
        split_file_name: the official split file's usual name.
    """

    name: str
    source: str
    num_classes: int
    image_size: int
    eval_sets: tuple[str, ...]
    mean: tuple[float, float, float] | None
    std: tuple[float, float, float] | None
    crop_padding: int
    split_file_keys: tuple[str, ...] = ()
    split_file_name: str | None = None


def _scaled(values: tuple[float, float, float]) -> tuple[float, float, float]:
    return tuple(v / 255.0 for v in values)  # type: ignore[return-value]


# mean/std: xautodl/datasets/get_dataset_with_transform.py (facts, on the 0-255 scale)
_CIFAR10_MEAN, _CIFAR10_STD = _scaled((125.3, 123.0, 113.9)), _scaled((63.0, 62.1, 66.7))
_CIFAR100_MEAN, _CIFAR100_STD = _scaled((129.3, 124.1, 112.4)), _scaled((68.2, 65.4, 70.4))
_IN16_MEAN, _IN16_STD = _scaled((122.68, 116.66, 104.01)), _scaled((63.22, 61.26, 65.09))

DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec("cifar10-valid", "cifar10", 10, 32, ("x-valid", "ori-test"),
                    _CIFAR10_MEAN, _CIFAR10_STD, 4, ("train", "valid"), "cifar-split.txt"),
        DatasetSpec("cifar10", "cifar10", 10, 32, ("ori-test",),
                    _CIFAR10_MEAN, _CIFAR10_STD, 4),
        DatasetSpec("cifar100", "cifar100", 100, 32, ("x-valid", "x-test", "ori-test"),
                    _CIFAR100_MEAN, _CIFAR100_STD, 4, ("xvalid", "xtest"),
                    "cifar100-test-split.txt"),
        DatasetSpec("ImageNet16-120", "imagenet16", 120, 16, ("x-valid", "x-test", "ori-test"),
                    _IN16_MEAN, _IN16_STD, 2, ("xvalid", "xtest"),
                    "imagenet-16-120-test-split.txt"),
        DatasetSpec("digits", "digits", 10, 16, ("x-valid", "x-test", "ori-test"),
                    None, None, 2),
    )
}


def dataset_names() -> list[str]:
    """All dataset names, in the order of :data:`DATASETS`."""
    return list(DATASETS)


def get_spec(name: str) -> DatasetSpec:
    """The :class:`DatasetSpec` of ``name``.

    Raises:
        DatasetError: unknown name (the message lists the valid ones).
    """
    try:
        return DATASETS[name]
    except (KeyError, TypeError):
        raise DatasetError(f"unknown dataset {name!r}; valid: {', '.join(DATASETS)}") from None

"""natsbench.datasets: CIFAR-10/100, ImageNet16-120 and the bundled ``digits`` set (numpy only).

Public API::

    from natsbench.datasets import load_dataset, get_spec, dataset_names
    data = load_dataset("digits")            # LoadedDataset: .train, .eval_sets, .mean, .std
    spec = get_spec("cifar100")              # DatasetSpec: eval_sets, num_classes, crop_padding

No torch here: the training code turns the uint8 arrays into tensors.
"""
from natsbench.datasets.core import ImageSet, LoadedDataset, load_dataset
from natsbench.datasets.specs import DATASETS, EVAL_SET_NAMES, DatasetSpec, dataset_names, get_spec
from natsbench.datasets.splits import DEFAULT_SPLIT_SEED

__all__ = [
    "DATASETS", "DEFAULT_SPLIT_SEED", "EVAL_SET_NAMES", "DatasetSpec", "ImageSet",
    "LoadedDataset", "dataset_names", "get_spec", "load_dataset",
]

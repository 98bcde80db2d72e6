"""Params and FLOPs of our tss/sss networks against every record of the official NATS-Bench
fixtures in shared/nats-official (the ``official_dir`` fixture; skipped where absent)."""
from __future__ import annotations

import bz2
import pickle
from pathlib import Path

import pytest

import torch

from natsbench.models import create_model
from natsbench.models.costs import count_flops, count_params

ARCHIVES = {"tss": "NATS-tss-v1_0-3ffb9-simple", "sss": "NATS-sss-v1_0-50262-simple"}
NUM_CLASSES = {"cifar10-valid": 10, "cifar10": 10, "cifar100": 100, "ImageNet16-120": 120}
INDICES = (0, 11, 284)


def _load(path: Path) -> dict:
    # Trusted, read-only reference files; plain pickle is acceptable in tests only.
    with bz2.open(path, "rb") as fh:
        return pickle.load(fh)


def _cases() -> list:
    cases = []
    for space, folder in ARCHIVES.items():
        for index in INDICES:
            cases.append(pytest.param(space, folder, index, id=f"{space}-{index}"))
    return cases


@pytest.mark.parametrize("space,folder,index", _cases())
def test_costs_equal_official_records(space, folder, index, official_dir):
    root = official_dir / folder
    if not (root / f"{index:06d}.pickle.pbz2").is_file():
        pytest.skip(f"official fixtures not found at {root} (they live in ../shared, optional)")
    arch = _load(root / "meta.pickle.pbz2")["meta_archs"][index]
    record_file = _load(root / f"{index:06d}.pickle.pbz2")
    # (dataset) -> set of (params, flop) over every hp and seed of the record file
    expected: dict[str, set] = {}
    for hp, per_hp in record_file.items():
        assert per_hp["arch_str"] == arch, (hp, per_hp["arch_str"], arch)
        for (dataset, _seed), rec in per_hp["all_results"].items():
            expected.setdefault(dataset, set()).add((rec["params"], rec["flop"]))
    assert set(expected) == set(NUM_CLASSES)
    for dataset, values in expected.items():
        assert len(values) == 1, f"{dataset}: costs differ across hps/seeds: {values}"
        (params, flop), = values
        net = create_model(space=space, arch=arch, num_classes=NUM_CLASSES[dataset])
        size = 16 if dataset == "ImageNet16-120" else 32
        assert round(count_params(net), 6) == params, (dataset, count_params(net), params)
        measured = count_flops(net, (1, 3, size, size))
        assert abs(measured - flop) / flop < 1e-4, (dataset, measured, flop)

"""The shipped published NAS-Bench-360 numbers equal the papers' tables.

The source texts live outside the project (``shared/``, the ``shared_dir`` fixture); these
checks skip where absent.
"""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from analysis import nb360
from natsbench.resources import PUBLISHED, bundled_path

TASKS_D2NAS = ["CIFAR100", "Spherical", "NinaPro", "FSD50K", "DarcyFlow", "PSICOV", "Cosmic", "ECG",
               "Satellite", "DeepSEA"]
TASKS_DASH = ["CIFAR100", "Spherical", "DarcyFlow", "PSICOV", "Cosmic", "NinaPro", "FSD50K", "ECG",
              "Satellite", "DeepSEA"]


def _shipped() -> pd.DataFrame:
    return nb360.load_errors().set_index(["method", "task"])


@pytest.fixture(scope="module")
def seed(shared_dir: Path):
    """The lines of the source text shared/seeds/<prefix>_*.txt (skips where absent)."""
    def lines(prefix: str) -> list[str]:
        files = sorted((shared_dir / "seeds").glob(f"{prefix}_*.txt"))
        if not files:
            pytest.skip(f"source text {prefix}_*.txt not found under {shared_dir / 'seeds'}")
        return files[0].read_text(encoding="utf-8").splitlines()
    return lines


def test_d2nas_table2_means_and_stds(seed) -> None:
    lines = seed("000")
    start = next(i for i, line in enumerate(lines) if line.startswith("Expert\t"))
    shipped = _shipped()
    seen = 0
    for line in lines[start:start + 12]:
        method, *cells = line.split("\t")
        for task, cell in zip(TASKS_D2NAS, cells):
            cell = re.sub(r"</?b>", "", cell).strip()
            if cell == "-":
                assert (method, task) not in shipped.index
                continue
            mean, std = map(float, cell.split("±"))
            assert shipped.loc[(method, task), "mean"] == mean, (method, task)
            assert shipped.loc[(method, task), "std"] == std, (method, task)
            seen += 1
    assert seen == 95  # 12 methods x 10 tasks minus 25 "-" cells


def test_dash_table2_means(seed) -> None:
    lines = seed("003")
    start = next(i for i, line in enumerate(lines) if line.startswith("Expert |"))
    shipped = _shipped()
    for line in lines[start:start + 11]:
        method, *cells = [c.strip() for c in line.strip().strip("|").split("|")]
        method = {"Dash": "DASH", "Baby Dash": "Baby DASH"}.get(method, method)
        for task, cell in zip(TASKS_DASH, cells):
            if cell == "-":
                assert (method, task) not in shipped.index
            else:
                assert shipped.loc[(method, task), "mean"] == float(cell), (method, task)


def test_shipped_files_keep_the_shared_values(shared_dir: Path) -> None:
    for name in ("nasbench360_errors.csv", "nasbench360_gpu_hours.csv", "nasbench360_model_cost.csv"):
        src = shared_dir / "published" / name
        if not src.is_file():
            pytest.skip(f"{src} not found")
        theirs = pd.read_csv(src)
        ours = pd.read_csv(bundled_path(*PUBLISHED, name))
        pd.testing.assert_frame_equal(ours[list(theirs.columns)], theirs)
        assert ours["citation_keys"].str.len().gt(0).all()


def test_na_table_3_1_matches_the_thesis(seed) -> None:
    """Na (2022) Table 3.1 (random vs proposed selection) and the Table 3.2 DARTS base row."""
    lines = seed("004")
    start = next(i for i, line in enumerate(lines) if line.startswith("Table 3.1:"))
    rows = {line.split("\t")[0]: [float(v) for v in line.split("\t")[1:] if v.strip()]
            for line in lines[start:start + 8] if line.endswith(("3.22\t25.2", "2.76\t24.6"))}
    shipped = pd.read_csv(bundled_path(*PUBLISHED, "na2022_table3_1.csv"))
    for name, label in (("Random selection", "random"), ("Proposed probabilistic selection", "p1")):
        ours = shipped[shipped["selection"] == label].sort_values(["dataset", "proxy_examples"])
        cifar = ours[ours["dataset"] == "CIFAR-10"]
        assert cifar["proxy_examples"].tolist() == [5000, 10000, 15000, 20000, 25000]
        assert cifar["test_error_pct"].tolist() + ours[ours["dataset"] == "ImageNet"][
            "test_error_pct"].tolist() == rows[name]
    base = next(line for line in lines if line.startswith("DARTS [89]\t3.00"))
    full = shipped[shipped["selection"] == "full"]
    assert full["test_error_pct"].tolist() == [float(base.split("\t")[1])]
    percent = 100 * shipped["proxy_examples"] / shipped["train_examples"]
    assert percent.round(0).eq(shipped["proxy_percent"]).all()   # ImageNet 128K of 1.28M: 10%

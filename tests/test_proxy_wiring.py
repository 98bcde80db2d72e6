"""`--proxy-data FILE` on the other search commands (`btnas`, `dash`): the search trains on
the selected examples only, a file made on another split is a clear error (exit 2)."""
from __future__ import annotations

import json
import zlib
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

from natsbench.datasets import load_dataset  # noqa: E402
from natsbench.datasets.proxy import FORMAT, labels_digest  # noqa: E402


def _cli(*args: str) -> int:
    from natsbench.cli import main

    return main(list(args))


def _selection(path: Path, labels: np.ndarray, indices: np.ndarray, dataset: str = "digits",
               **changes) -> Path:
    doc = {"format": FORMAT, "dataset": dataset, "train_size": int(len(labels)),
           "labels_sha1": labels_digest(labels), "seed": 3, "selection": "random",
           "indices": [int(i) for i in indices], **changes}
    path.write_text(json.dumps(doc))
    return path


@pytest.fixture(scope="module")
def digits_labels() -> np.ndarray:
    return load_dataset("digits", image_size=8).train.labels


def test_btnas_searches_on_the_selection_only(tmp_path, digits_labels) -> None:
    import torch

    chosen = np.sort(np.random.default_rng(1).choice(len(digits_labels), 40, replace=False))
    sel = _selection(tmp_path / "sel.json", digits_labels, chosen)
    out = tmp_path / "run"
    assert _cli("btnas", "--k", "10", "--epochs", "1", "--proxy-data", str(sel), "--out",
                str(out), "--no-progress") == 0
    result = json.loads((out / "result.json").read_text())
    assert result["proxy_k"] == 40 and result["proxy_seed"] == 3
    ckpts = list((out / "checkpoints").glob("proxy-*/*.pt"))
    assert len(ckpts) == 1                                   # its own folder, per file
    used = torch.load(ckpts[0], weights_only=True)["engine"]["used"]
    assert set(used) == {"train", "x-valid"}                 # never a test set
    assert set(used["train"]) == set(range(20))              # the weight half, all of it
    assert set(used["x-valid"]) <= set(range(20))            # the architecture half


def test_dash_trains_on_the_selection_only(tmp_path, digits_labels) -> None:
    chosen = np.arange(0, len(digits_labels), 17)            # 77 examples
    sel = _selection(tmp_path / "sel.json", digits_labels, chosen)
    out = tmp_path / "run"
    assert _cli("dash", "digits", "--stage", "search", "--search-epochs", "1", "--threads", "1",
                "--no-progress", "--proxy-data", str(sel), "--out", str(out)) == 0
    meta = json.loads((out / "search" / "searched.json").read_text())
    identity = meta["identity"]
    assert identity["n_subset"] == chosen.size
    assert identity["subset"] == zlib.crc32(chosen.astype(np.int64).tobytes())


@pytest.mark.parametrize("command", [
    ("dash", "digits", "--stage", "search"),
    ("btnas", "--k", "10"),
])
def test_a_selection_of_another_split_is_refused(tmp_path, digits_labels, command, capsys) -> None:
    other = digits_labels[::-1].copy()                       # same size, other order
    sel = _selection(tmp_path / "sel.json", other, np.arange(10))
    out = tmp_path / "run"
    assert _cli(*command, "--proxy-data", str(sel), "--out", str(out), "--no-progress") == 2
    err = capsys.readouterr().err
    assert "labels sha1" in err and "Traceback" not in err
    assert not (out / "search").exists() and not (out / "checkpoints").exists()

"""Readers of CIFAR-10/100 and downsampled-ImageNet batches, on tiny files written in the
exact on-disk formats, plus split files and error handling."""
from __future__ import annotations

import json
import os
import pickle
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from natsbench.datasets import load_dataset
from natsbench.safe_unpickle import load_dataset_pickle
from natsbench.datasets.readers import read_cifar10, read_cifar100, read_imagenet16
from natsbench.errors import DatasetError

# --------------------------------------------------------------------------------------
# writers of the original formats (independent of the code under test)


def _py2_str(data: bytes) -> bytes:
    """A Python 2 ``str`` as cPickle protocol 2 writes it (SHORT_BINSTRING / BINSTRING)."""
    if len(data) < 256:
        return b"U" + bytes([len(data)]) + data
    return b"T" + struct.pack("<i", len(data)) + data


def _py2_int(value: int) -> bytes:
    if 0 <= value < 256:
        return b"K" + bytes([value])
    return b"J" + struct.pack("<i", value)


def _py2_uint8_array(array: np.ndarray) -> bytes:
    """A 2-D uint8 numpy array exactly as numpy 1.x under Python 2 pickled it."""
    assert array.dtype == np.uint8 and array.ndim == 2
    out = b"cnumpy.core.multiarray\n_reconstruct\n" + b"cnumpy\nndarray\n"
    out += _py2_int(0) + b"\x85" + _py2_str(b"b") + b"\x87R"            # (ndarray, (0,), 'b')
    shape = _py2_int(array.shape[0]) + _py2_int(array.shape[1]) + b"\x86"
    dtype = (b"cnumpy\ndtype\n" + _py2_str(b"u1") + b"\x89\x88\x87R"        # dtype('u1', False, True)
             + b"(" + _py2_int(3) + _py2_str(b"|") + b"NNN" + b"J\xff\xff\xff\xff"
             + b"J\xff\xff\xff\xff" + _py2_int(0) + b"tb")                   # dtype state, BUILD
    out += b"(" + _py2_int(1) + shape + dtype + b"\x89" + _py2_str(array.tobytes()) + b"tb"
    return out


def _py2_value(value: object) -> bytes:
    if isinstance(value, np.ndarray):
        return _py2_uint8_array(value)
    if isinstance(value, bytes):
        return _py2_str(value)
    if isinstance(value, list):
        return b"](" + b"".join(_py2_value(v) for v in value) + b"e"
    if isinstance(value, int):
        return _py2_int(value)
    raise TypeError(value)


def py2_pickle(entry: dict[bytes, object]) -> bytes:
    """A dict pickled as Python 2's cPickle.dump(..., protocol=2) writes it (no memo)."""
    body = b"".join(_py2_str(k) + _py2_value(v) for k, v in entry.items())
    return b"\x80\x02}(" + body + b"u."


def _images(n: int, side: int, offset: int) -> np.ndarray:
    """Random uint8 images [n, 3*side*side] (a different stream per offset)."""
    rng = np.random.default_rng(offset)
    return rng.integers(0, 256, size=(n, 3 * side * side), dtype=np.uint8)


def write_cifar10(root: Path, per_batch: int = 20, test: int = 30, labels_mod: int = 10,
                  style: str = "py2") -> dict[str, np.ndarray]:
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rows, labels = [], []
    for b in range(1, 6):
        data = _images(per_batch, 32, b)
        lab = [(b * 7 + i) % labels_mod for i in range(per_batch)]
        rows.append(data)
        labels += lab
        _dump(folder / f"data_batch_{b}", {b"batch_label": f"training batch {b} of 5".encode(),
                                            b"labels": lab, b"data": data,
                                            b"filenames": [b"x.png"] * per_batch}, style)
    test_data = _images(test, 32, 99)
    test_labels = [i % 10 for i in range(test)]
    _dump(folder / "test_batch", {b"batch_label": b"testing batch 1 of 1", b"labels": test_labels,
                                  b"data": test_data, b"filenames": [b"t.png"] * test}, style)
    return {"train_x": np.concatenate(rows), "train_y": np.asarray(labels),
            "test_x": test_data, "test_y": np.asarray(test_labels)}


def _dump(path: Path, entry: dict[bytes, object], style: str) -> None:
    if style == "py2":
        path.write_bytes(py2_pickle(entry))
    else:  # a Python 3 pickle with str keys, protocol given by style "p<N>"
        py3 = {k.decode(): ([x.decode() for x in v] if isinstance(v, list) and v
                            and isinstance(v[0], bytes) else
                            v.decode() if isinstance(v, bytes) else v)
               for k, v in entry.items()}
        path.write_bytes(pickle.dumps(py3, protocol=int(style[1:])))


def write_cifar100(root: Path, train: int = 200, test: int = 100) -> dict[str, np.ndarray]:
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True)
    out = {}
    for name, n, seed in (("train", train, 1), ("test", test, 2)):
        data = _images(n, 32, seed)
        fine = [i % 100 for i in range(n)]
        coarse = [i % 20 for i in range(n)]
        path = folder / name
        path.write_bytes(py2_pickle({b"filenames": [b"f.png"] * n, b"batch_label": b"x",
                                     b"fine_labels": fine, b"coarse_labels": coarse,
                                     b"data": data}))
        out[f"{name}_x"], out[f"{name}_y"] = data, np.asarray(fine)
    return out


def write_imagenet16(root: Path, per_batch: int = 30, val: int = 40) -> dict[str, np.ndarray]:
    """Python 3 pickles with str keys (as the downsampled-ImageNet release), labels 1..1000."""
    folder = root / "ImageNet16"
    folder.mkdir(parents=True)
    xs, ys = [], []
    for b in range(1, 11):
        data = _images(per_batch, 16, 100 + b)
        labels = [1 + (b * 13 + 37 * i) % 1000 for i in range(per_batch)]
        labels[0] = 120       # make sure the edges of the kept range occur
        labels[1] = 121
        labels[2] = 1
        with open(folder / f"train_data_batch_{b}", "wb") as fh:
            pickle.dump({"data": data, "labels": labels, "mean": np.zeros(768)}, fh)
        xs.append(data)
        ys += labels
    data = _images(val, 16, 500)
    labels = [1 + (i * 3) % 240 for i in range(val)]
    with open(folder / "val_data", "wb") as fh:
        pickle.dump({"data": data, "labels": labels}, fh)
    return {"train_x": np.concatenate(xs), "train_y": np.asarray(ys), "val_x": data,
            "val_y": np.asarray(labels)}


# --------------------------------------------------------------------------------------
# the format itself


def test_py2_pickle_fixture_is_what_python2_wrote():
    """Our writer emits only Python-2 opcodes: str as BINSTRING, numpy.core globals."""
    import pickletools

    blob = py2_pickle({b"data": np.zeros((2, 3072), np.uint8), b"labels": [1, 2]})
    names = {op.name for op, _, _ in pickletools.genops(blob)}
    assert "BINUNICODE" not in names and "SHORT_BINUNICODE" not in names
    assert b"numpy.core.multiarray\n_reconstruct" in blob
    # and the stock unpickler (as torchvision uses it) reads it
    entry = pickle.loads(blob, encoding="latin1")
    assert entry["labels"] == [1, 2] and entry["data"].shape == (2, 3072)


@pytest.mark.parametrize("style", ["py2", "p2", "p4", "p5"])
def test_cifar10_reads_every_pickle_flavour(tmp_path, style):
    ref = write_cifar10(tmp_path, style=style)
    x, y = read_cifar10(tmp_path, train=True)
    assert x.shape == (100, 3, 32, 32) and x.dtype == np.uint8 and y.dtype == np.int64
    np.testing.assert_array_equal(y, ref["train_y"])
    # channel-major rows: red plane first, then green, then blue, each row-major
    row = ref["train_x"][37]
    assert x[37, 0, 0, 0] == row[0] and x[37, 0, 0, 1] == row[1]
    assert x[37, 0, 1, 0] == row[32]
    assert x[37, 1, 0, 0] == row[1024] and x[37, 2, 31, 31] == row[3071]
    xt, yt = read_cifar10(tmp_path / "cifar-10-batches-py", train=False)  # the folder itself
    np.testing.assert_array_equal(xt.reshape(30, -1), ref["test_x"])
    np.testing.assert_array_equal(yt, ref["test_y"])


def test_cifar100_uses_fine_labels(tmp_path):
    ref = write_cifar100(tmp_path)
    x, y = read_cifar100(tmp_path, train=False)
    np.testing.assert_array_equal(y, ref["test_y"])
    np.testing.assert_array_equal(x.reshape(len(y), -1), ref["test_x"])


def test_imagenet16_keeps_labels_1_to_120_in_file_order(tmp_path):
    ref = write_imagenet16(tmp_path)
    x, y = read_imagenet16(tmp_path, train=True, num_classes=120)
    keep = (ref["train_y"] >= 1) & (ref["train_y"] <= 120)
    np.testing.assert_array_equal(y, ref["train_y"][keep] - 1)
    np.testing.assert_array_equal(x.reshape(len(y), -1), ref["train_x"][keep])
    assert y.min() >= 0 and y.max() <= 119 and 119 in y and 0 in y
    xv, yv = read_imagenet16(tmp_path, train=False)
    vkeep = ref["val_y"] <= 120
    np.testing.assert_array_equal(yv, ref["val_y"][vkeep] - 1)
    assert xv.shape == (int(vkeep.sum()), 3, 16, 16)


# --------------------------------------------------------------------------------------
# datasets and splits


def test_cifar10_valid_generated_split(tmp_path):
    ref = write_cifar10(tmp_path)
    a = load_dataset("cifar10-valid", root=tmp_path)
    b = load_dataset("cifar10-valid", root=tmp_path)
    assert list(a.eval_sets) == ["x-valid", "ori-test"]
    assert len(a.train) == 50 and len(a.eval_sets["x-valid"]) == 50
    assert len(a.eval_sets["ori-test"]) == 30
    # deterministic and a partition of the original training set
    np.testing.assert_array_equal(a.train.images, b.train.images)
    both = np.concatenate([a.train.images, a.eval_sets["x-valid"].images]).reshape(100, -1)
    assert sorted(map(bytes, both)) == sorted(map(bytes, ref["train_x"]))
    # stratified: every class is split in half (10 per class in the fixture)
    assert np.bincount(a.train.labels, minlength=10).tolist() == [5] * 10
    assert "split_seed=0" in a.provenance["split"]
    c = load_dataset("cifar10-valid", root=tmp_path, split_seed=1)
    assert not np.array_equal(a.train.labels, c.train.labels) or \
        not np.array_equal(a.train.images, c.train.images)


def test_cifar10_has_only_ori_test(tmp_path):
    write_cifar10(tmp_path)
    d = load_dataset("cifar10", root=tmp_path)
    assert list(d.eval_sets) == ["ori-test"] and len(d.train) == 100
    assert d.mean[0] == pytest.approx(125.3 / 255)


def test_official_cifar_split_file(tmp_path):
    ref = write_cifar10(tmp_path)
    train_idx = list(range(0, 100, 2))
    valid_idx = list(range(1, 100, 2))
    # the xautodl configure2str format: typed values, indices as strings
    text = ("{\n  \"train\"              : [\"int\"   , [" + ", ".join(f'"{i}"' for i in train_idx)
            + "]],\n  \"valid\"              : [\"int\"   , [" + ", ".join(f'"{i}"' for i in valid_idx)
            + "]]\n}")
    split = tmp_path / "cifar-split.txt"
    split.write_text(text)
    d = load_dataset("cifar10-valid", root=tmp_path, split_file=split)
    np.testing.assert_array_equal(d.train.images.reshape(50, -1), ref["train_x"][train_idx])
    np.testing.assert_array_equal(d.eval_sets["x-valid"].labels, ref["train_y"][valid_idx])
    assert "official split file" in d.provenance["split"]


def test_cifar100_and_imagenet_test_splits(tmp_path):
    ref = write_cifar100(tmp_path)
    d = load_dataset("cifar100", root=tmp_path)
    xv, xt, ori = (d.eval_sets[k] for k in ("x-valid", "x-test", "ori-test"))
    assert (len(d.train), len(xv), len(xt), len(ori)) == (200, 50, 50, 100)
    joined = np.concatenate([xv.images, xt.images]).reshape(100, -1)
    assert sorted(map(bytes, joined)) == sorted(map(bytes, ref["test_x"]))
    split = tmp_path / "cifar100-test-split.txt"
    split.write_text(json.dumps({"xvalid": ["int", [str(i) for i in range(50)]],
                                 "xtest": ["int", [str(i) for i in range(50, 100)]]}))
    e = load_dataset("cifar100", root=tmp_path, split_file=split)
    np.testing.assert_array_equal(e.eval_sets["x-valid"].labels, ref["test_y"][:50])

    root2 = tmp_path / "in16"
    write_imagenet16(root2, per_batch=30, val=240)
    f = load_dataset("ImageNet16-120", root=root2)
    assert f.image_shape == (3, 16, 16) and f.num_classes == 120
    assert len(f.eval_sets["x-valid"]) + len(f.eval_sets["x-test"]) == len(f.eval_sets["ori-test"])
    assert f.spec.crop_padding == 2


# --------------------------------------------------------------------------------------
# errors


def test_missing_files_name_the_expected_path(tmp_path):
    with pytest.raises(DatasetError, match=r"test_batch.*cifar-10-batches-py"):
        load_dataset("cifar10", root=tmp_path)
    write_cifar10(tmp_path)
    os.remove(tmp_path / "cifar-10-batches-py" / "data_batch_3")
    with pytest.raises(DatasetError, match=r"data_batch_3"):
        read_cifar10(tmp_path, train=True)
    with pytest.raises(DatasetError, match="data root"):
        load_dataset("cifar100")
    with pytest.raises(DatasetError, match="valid: cifar10-valid"):
        load_dataset("cifar-10")


def test_malformed_files(tmp_path):
    write_cifar10(tmp_path)
    folder = tmp_path / "cifar-10-batches-py"
    (folder / "test_batch").write_bytes(py2_pickle({b"data": np.zeros((3, 100), np.uint8),
                                                    b"labels": [0, 1, 2]}))
    with pytest.raises(DatasetError, match=r"test_batch.*\[N, 3072\]"):
        read_cifar10(tmp_path, train=False)
    (folder / "test_batch").write_bytes(py2_pickle({b"data": np.zeros((3, 3072), np.uint8),
                                                    b"labels": [0, 1, 12]}))
    with pytest.raises(DatasetError, match="label 12 outside"):
        read_cifar10(tmp_path, train=False)
    (folder / "test_batch").write_bytes(py2_pickle({b"data": np.zeros((3, 3072), np.uint8),
                                                    b"labels": [0, 1]}))
    with pytest.raises(DatasetError, match="3 images but 2"):
        read_cifar10(tmp_path, train=False)
    (folder / "test_batch").write_bytes(py2_pickle({b"labels": [0]}))
    with pytest.raises(DatasetError, match="missing key 'data'"):
        read_cifar10(tmp_path, train=False)
    good = py2_pickle({b"data": np.zeros((3, 3072), np.uint8), b"labels": [0, 1, 2]})
    (folder / "test_batch").write_bytes(good[: len(good) // 2])
    with pytest.raises(DatasetError, match="test_batch: not a valid dataset pickle"):
        read_cifar10(tmp_path, train=False)


class _Evil:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_hostile_pickle_is_refused_without_running(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "test_batch"
    path.write_bytes(pickle.dumps({"data": _Evil(marker), "labels": []}, protocol=2))
    with pytest.raises(DatasetError, match=r"system is not admitted"):
        load_dataset_pickle(path)
    assert not marker.exists()
    # an object array would smuggle arbitrary objects: refused too
    path.write_bytes(pickle.dumps({"data": np.array([1, "a"], dtype=object)}))
    with pytest.raises(DatasetError, match="object dtype|not admitted"):
        load_dataset_pickle(path)


def test_bad_split_files(tmp_path):
    write_cifar100(tmp_path)
    split = tmp_path / "s.txt"
    with pytest.raises(DatasetError, match="expected split file"):
        load_dataset("cifar100", root=tmp_path, split_file=split)
    split.write_text(json.dumps({"xvalid": ["int", ["1", "2"]]}))
    with pytest.raises(DatasetError, match="missing key 'xtest'"):
        load_dataset("cifar100", root=tmp_path, split_file=split)
    split.write_text(json.dumps({"xvalid": ["int", ["1", "2"]], "xtest": ["int", ["2", "3"]]}))
    with pytest.raises(DatasetError, match="overlaps"):
        load_dataset("cifar100", root=tmp_path, split_file=split)
    split.write_text(json.dumps({"xvalid": ["int", ["1", "100"]], "xtest": ["int", ["3"]]}))
    with pytest.raises(DatasetError, match=r"index 100, outside 0\.\.99"):
        load_dataset("cifar100", root=tmp_path, split_file=split)
    split.write_text("{not json")
    with pytest.raises(DatasetError, match="not a JSON split file"):
        load_dataset("cifar100", root=tmp_path, split_file=split)
    with pytest.raises(DatasetError, match="no official split file"):
        load_dataset("digits", split_file=split)


def test_import_does_not_load_torch():
    code = ("import sys, natsbench.datasets, natsbench.train.protocol, natsbench.train.commands; "
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True)

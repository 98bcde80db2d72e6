"""One restricted-unpickler core with two allow-lists (natsbench.safe_unpickle)."""
from __future__ import annotations

import io
import os
import pickle

import numpy as np
import pytest

from natsbench.errors import ArchiveError, DatasetError
from natsbench.safe_unpickle import (
    DATASET_BATCH, OFFICIAL_ARCHIVE, RestrictedUnpickler, load_dataset_pickle, restricted_loads,
)


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo hacked > /dev/null",))


class _Persistent(pickle.Pickler):
    def persistent_id(self, obj):
        return "storage-0" if isinstance(obj, bytearray) else None


def _persistent_payload() -> bytes:
    buf = io.BytesIO()
    _Persistent(buf, protocol=2).dump({"weights": bytearray(b"abc")})
    return buf.getvalue()


@pytest.mark.parametrize("allow, error", [(OFFICIAL_ARCHIVE, ArchiveError), (DATASET_BATCH, DatasetError)])
def test_both_lists_refuse_code_and_persistent_references_naming_the_source(allow, error):
    with pytest.raises(error, match=r"^src\.pkl: global posix\.system is not admitted: .* may only contain"):
        restricted_loads(pickle.dumps({"x": _Evil()}), "src.pkl", allow=allow)
    with pytest.raises(error, match=r"^src\.pkl: persistent references"):
        restricted_loads(_persistent_payload(), "src.pkl", allow=allow)
    with pytest.raises(error, match=r"^src\.pkl: not a valid .*corrupt or truncated"):
        restricted_loads(pickle.dumps({"a": [1, 2, 3]})[:-5], "src.pkl", allow=allow)


def test_the_archive_list_admits_plain_data_and_numpy_scalars_only():
    data = {"a": [1, 2.5, (3, "s")], "b": {1, 2}, "c": np.float64(0.25), "d": np.int64(7)}
    out = restricted_loads(pickle.dumps(data), allow=OFFICIAL_ARCHIVE)
    assert out == {"a": [1, 2.5, (3, "s")], "b": {1, 2}, "c": 0.25, "d": 7}
    assert type(out["c"]) is float and type(out["d"]) is int
    # the default list is the archive (strictest) one: arrays are refused, naming the global
    with pytest.raises(ArchiveError, match=r"^a\.pkl: global numpy\.(_core|core)\.multiarray\._reconstruct "
                                           r"is not admitted: an official archive"):
        restricted_loads(pickle.dumps(np.arange(3)), "a.pkl")
    with pytest.raises(ArchiveError, match=r"^a\.pkl: .*numpy dtype 'O8' is not allowed"):
        restricted_loads(pickle.dumps(np.dtype("O")), "a.pkl")


def test_the_dataset_list_admits_arrays_and_py2_bytes_but_not_object_arrays(tmp_path):
    batch = {b"data": np.arange(12, dtype=np.uint8).reshape(2, 6), b"labels": [0, 1]}
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps(batch, protocol=2))
    out = load_dataset_pickle(path)
    np.testing.assert_array_equal(out[b"data"], batch[b"data"])
    assert out[b"labels"] == [0, 1]
    path.write_bytes(pickle.dumps({"data": np.array([1, "a"], dtype=object)}))
    with pytest.raises(DatasetError, match=f"{path.name}: not a valid dataset pickle.*object dtype"):
        load_dataset_pickle(path)
    with pytest.raises(DatasetError, match="does not exist"):
        load_dataset_pickle(tmp_path / "missing")


def test_the_unpickler_streams_several_objects_with_its_list():
    buf = io.BytesIO(pickle.dumps(1) + pickle.dumps({"k": (2.0,)}))
    unpickler = RestrictedUnpickler(buf, "stream")
    assert unpickler.load() == 1 and unpickler.load() == {"k": (2.0,)}

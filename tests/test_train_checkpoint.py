"""The one checkpoint writer/reader (natsbench.train.checkpoint): round trip, atomic writes,
corrupt, truncated and hostile files refused with the file's name, the resume rule, and the
callers (trainer, DASH) reporting a corrupt checkpoint instead of crashing or resuming."""
from __future__ import annotations

import logging
import os
import pickle
from pathlib import Path

import pytest

import torch

from natsbench.errors import ArchiveError, NatsBenchError, PathError
from natsbench.train.checkpoint import load_checkpoint, read_checkpoint, save_checkpoint


def _payload() -> dict:
    gen = torch.Generator().manual_seed(7)
    return {"identity": {"arch": "|a|", "seed": 3}, "epoch": 4, "lrs": [0.1, 0.05],
            "model": {"w": torch.arange(6, dtype=torch.float32).reshape(2, 3),
                      "n": torch.tensor(5, dtype=torch.int64)},
            "rows": [{"epoch": 1, "valid": 51.25, "arch": "8:16"}],
            "rng": gen.get_state(), "elapsed": 1.5, "name": "x", "none": None}


class _Hostile:
    """Unpickling this object creates the directory ``marker`` (stands in for any code)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.mkdir, (str(self.marker),)


def test_round_trip_keeps_every_value(tmp_path):
    path = tmp_path / "sub" / "ck.pt"                       # parent created
    payload = _payload()
    save_checkpoint(path, payload)
    assert [p.name for p in path.parent.iterdir()] == ["ck.pt"]   # no temporary file left
    got = read_checkpoint(path)
    assert set(got) == set(payload)
    assert torch.equal(got["model"]["w"], payload["model"]["w"])
    assert got["model"]["w"].dtype == torch.float32 and got["model"]["n"].item() == 5
    assert torch.equal(got["rng"], payload["rng"])
    restored = torch.Generator()
    restored.set_state(got["rng"])                          # a generator resumes its stream
    assert torch.equal(torch.rand(4, generator=restored),
                       torch.rand(4, generator=torch.Generator().manual_seed(7)))
    assert {k: got[k] for k in ("identity", "epoch", "lrs", "rows", "elapsed", "name", "none")} \
        == {k: payload[k] for k in ("identity", "epoch", "lrs", "rows", "elapsed", "name", "none")}
    save_checkpoint(path, {"epoch": 5})                     # overwrite in place
    assert read_checkpoint(path) == {"epoch": 5}


@pytest.mark.parametrize("cut", [0, 1, 100, -200, -22])
def test_truncated_file_is_refused_with_its_name(tmp_path, cut):
    path = tmp_path / "run.pt"
    save_checkpoint(path, _payload())
    data = path.read_bytes()
    path.write_bytes(data[:cut])
    with pytest.raises(ArchiveError, match=rf"^{path}: not a valid checkpoint .*corrupt, truncated"):
        read_checkpoint(path)
    # the resume step does not silently start over on a corrupt file either
    with pytest.raises(ArchiveError, match=str(path)):
        load_checkpoint(path, {"arch": "|a|", "seed": 3})


def test_garbage_file_is_refused(tmp_path):
    path = tmp_path / "junk.pt"
    path.write_bytes(b"this is not a checkpoint\n" * 10)
    with pytest.raises(ArchiveError, match=rf"^{path}: not a valid checkpoint"):
        read_checkpoint(path)


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
@pytest.mark.parametrize("writer", ["torch.save", "pickle"])
def test_unsafe_pickle_payload_is_refused_without_running_it(tmp_path, writer):
    marker = tmp_path / "was-run"
    path = tmp_path / "hostile.pt"
    obj = {"epoch": 1, "model": _Hostile(marker)}
    if writer == "torch.save":
        torch.save(obj, path)
    else:
        path.write_bytes(pickle.dumps(obj))
    with pytest.raises(ArchiveError, match=rf"^{path}: not a valid checkpoint"):
        read_checkpoint(path)
    assert not marker.exists()


def test_not_a_dict_and_missing_files(tmp_path):
    path = tmp_path / "list.pt"
    torch.save([torch.zeros(2)], path)
    with pytest.raises(ArchiveError, match=rf"^{path}: not a valid checkpoint: holds a list"):
        read_checkpoint(path)
    with pytest.raises(PathError, match="checkpoint .*absent.pt does not exist"):
        read_checkpoint(tmp_path / "absent.pt")
    with pytest.raises(PathError, match="is a directory"):
        read_checkpoint(tmp_path)
    assert issubclass(ArchiveError, NatsBenchError) and issubclass(PathError, NatsBenchError)


def test_load_checkpoint_resumes_only_the_same_run(tmp_path, caplog):
    path = tmp_path / "ck.pt"
    identity = {"arch": "|a|", "seed": 3}
    assert load_checkpoint(None, identity) is None
    assert load_checkpoint(path, identity) is None            # nothing there yet
    save_checkpoint(path, {"identity": identity, "epoch": 2, "w": torch.ones(2)})
    state = load_checkpoint(path, dict(identity))
    assert state is not None and state["epoch"] == 2 and torch.equal(state["w"], torch.ones(2))
    with caplog.at_level(logging.WARNING, logger="natsbench.train.checkpoint"):
        assert load_checkpoint(path, {"arch": "|a|", "seed": 4}) is None
    assert f"ignoring checkpoint {path} of a different run" in caplog.text


def test_trainer_refuses_a_corrupt_checkpoint(tmp_path):
    from natsbench.datasets import load_dataset
    from natsbench.train import trainer as trainer_module
    from natsbench.train.protocol import get_protocol

    arch = "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|"
    prot = get_protocol("H0:epochs=2,batch_size=64,train_fraction=0.2,eval_batch_size=256")
    path = trainer_module._checkpoint_file(tmp_path, "tss", arch, "digits", prot.hp, 3)
    path.write_bytes(b"PK\x03\x04 torn")
    with pytest.raises(ArchiveError, match=rf"^{path}: not a valid checkpoint"):
        trainer_module.train_arch("tss", arch, load_dataset("digits", image_size=8), prot, seed=3,
                                  device="cpu", progress=False, measure_latency=False,
                                  checkpoint_dir=tmp_path, num_threads=1)


def test_dash_searched_file_uses_the_reader(tmp_path):
    from search_algorithms.dash.stages import load_searched

    path = tmp_path / "searched.pt"
    path.write_bytes(b"\x80\x02}q\x00")                    # a pickle cut short
    with pytest.raises(ArchiveError, match=rf"^{path}: not a valid checkpoint"):
        load_searched(path)

"""Concurrent writers, readers and compaction on one benchmark: no run lost, none twice."""
from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import natsbench
from natsbench.errors import StoreError
from natsbench.spaces import get_space
from natsbench.store.compact import compact, init_bench
from natsbench.store.reader import StoreReader
from natsbench.store.records import iter_record_paths, read_record

WRITERS, RUNS = 3, 40  # runs per writer process
DATASET, HP = "digits", "12"

# one writer process: run i of writer w is (arch i, seed w) with x-valid_acc1 = [w, i]
_WRITER = """
import sys
from natsbench.spaces import get_space
from natsbench.store.records import RunRecord, write_record
store, w, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for i, arch in enumerate(get_space("tss").all_archs()[:n]):
    write_record(store, RunRecord(space="tss", arch=arch, dataset="digits", hp="12", seed=w,
                                  epochs=2, metrics={"x-valid_acc1": [float(w), float(i)]}))
"""


def _seen(reader: StoreReader) -> dict[int, set[int]]:
    """Writer (seed) -> the run numbers (arch indices) a reader sees, checking their values."""
    if (DATASET, HP) not in reader.group_infos:
        return {}
    group = reader.group(DATASET, HP)
    out: dict[int, set[int]] = {}
    present = np.asarray(group.present)
    for r, s in zip(*np.nonzero(present)):
        arch, seed = int(group.rows[r]), group.info.seeds[s]
        values = group.metrics[r, s, :, group.metric_pos["x-valid_acc1"]]
        assert values.tolist() == [seed, arch], (arch, seed, values)
        out.setdefault(seed, set()).add(arch)
    return out


@pytest.mark.parametrize("atomic_exchange", [True, False], ids=["exchange", "two-renames"])
def test_compaction_under_concurrent_writers_keeps_every_run_exactly_once(tmp_path, monkeypatch,
                                                                           atomic_exchange):
    """Writer processes add records in a loop while compaction runs again and again and a
    reader opens the benchmark over and over: each writer's runs, written in order, are
    always seen as a prefix that never shrinks (no run lost, even for a moment), and at the
    end every run is stored exactly once (in the arrays or as a record, not both).

    ``two-renames``: compaction replaces the directory as where the OS cannot exchange two
    directories (NFS): then a reader may find no benchmark for an instant, nothing else."""
    if not atomic_exchange:
        import natsbench.store.writer as writer_mod

        monkeypatch.setattr(writer_mod, "_exchange_dirs", lambda a, b: False)
    archs = get_space("tss").all_archs()[:RUNS]
    store = init_bench(tmp_path / "bench", space="tss", arch_strs=archs, arch_order="custom",
                       datasets={DATASET: {"num_classes": 10, "eval_sets": ["x-valid"]}})
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, str(store), str(w), str(RUNS)],
                              stderr=subprocess.PIPE) for w in range(WRITERS)]
    stop = threading.Event()
    compactions: list[dict] = []
    errors: list[BaseException] = []

    def compact_loop() -> None:
        try:
            while not stop.is_set():
                compactions.append(compact(store))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    thread = threading.Thread(target=compact_loop)
    thread.start()
    seen_before: dict[int, int] = {}
    opens = 0
    try:
        while any(p.poll() is None for p in procs):
            try:
                seen = _seen(StoreReader(store))
            except StoreError as exc:
                # replaced between opening and mapping the group: the reader refuses to mix
                # the two states; or (two renames only) the directory is away for an instant
                assert "open it again" in str(exc) or (
                    not atomic_exchange and "does not exist" in str(exc)), exc
                continue
            opens += 1
            for w in range(WRITERS):
                runs = seen.get(w, set())
                assert runs == set(range(len(runs))), f"writer {w}: a hole in {sorted(runs)}"
                assert len(runs) >= seen_before.get(w, 0), f"writer {w}: runs vanished"
                seen_before[w] = len(runs)
    finally:
        stop.set()
        thread.join()
        for p in procs:
            p.wait()
    assert not errors, errors
    for p in procs:
        assert p.returncode == 0, p.stderr.read().decode()
    merged = sum(c["merged"] for c in compactions)
    assert merged > 0 and len(compactions) > 1 and opens > 1  # they did run concurrently
    # every run exactly once: in the compacted arrays or as a pending record, never both
    arrays = _seen(StoreReader(store, overlay_records=False))
    pending = [read_record(p) for p in iter_record_paths(store)]
    pending_keys = {(r.seed, r.arch) for r in pending}
    compacted_keys = {(w, archs[i]) for w, runs in arrays.items() for i in runs}
    assert len(pending_keys) == len(pending) and not pending_keys & compacted_keys
    assert pending_keys | compacted_keys == {(w, a) for w in range(WRITERS) for a in archs}
    assert merged + len(pending) == WRITERS * RUNS  # each record merged once
    compact(store)
    assert _seen(StoreReader(store)) == {w: set(range(RUNS)) for w in range(WRITERS)}
    assert not list(iter_record_paths(store))
    assert not [p for p in store.parent.iterdir() if p.name.startswith(".")]  # no partial dirs


PROTOCOL = "H0:epochs=1,batch_size=256,eval_batch_size=1024"


def test_two_builds_on_one_store_with_different_seeds_both_finish_complete(tmp_path):
    """Two ``natsbench build`` processes on one store at once (different seeds): both start
    (one creates the benchmark), train, compact at the end, and every run of both is there,
    with the wall time of both added up."""
    archs = get_space("tss").all_archs()[2000:2000 + 2 * 53:53]
    arch_file = tmp_path / "archs.txt"
    arch_file.write_text("\n".join(archs) + "\n")
    store = tmp_path / "bench"

    def cmd(seed: int) -> list[str]:
        return [sys.executable, "-m", "natsbench.cli", "build", "--space", "tss", "--dataset", "digits",
                "--protocol", PROTOCOL, "--seeds", str(seed), "--store", str(store),
                "--archs", str(arch_file), "--model", "C=4,N=1", "--image-size", "8"]

    procs = [subprocess.Popen(cmd(seed), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for seed in (11, 22)]
    outs = [p.communicate(timeout=600) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err.decode()[-2000:]
        assert b"2 trained" in out, out
    bench = natsbench.open_bench(store)
    hp = bench.hps("digits")[0]
    reader = StoreReader(store)
    group = reader.group("digits", hp)
    assert group.info.seeds == [11, 22]
    rows = [reader.arch_index[a] for a in archs]
    assert np.asarray(group.present)[[group.row(r) for r in rows]].all()
    assert not list(iter_record_paths(store))  # the last build to finish compacted everything
    seconds = [float(re.search(rb"([0-9.]+) s \(", out).group(1)) for out, _ in outs]
    assert bench.manifest.provenance["wall_time_s"] == pytest.approx(sum(seconds), abs=0.11)


def _record(archs: list[str], i: int, seed: int):
    """Run (arch i, seed) as the writer processes above write it."""
    from natsbench.store.records import RunRecord

    return RunRecord(space="tss", arch=archs[i], dataset=DATASET, hp=HP, seed=seed, epochs=2,
                     metrics={"x-valid_acc1": [float(seed), float(i)]})


def test_a_writer_waits_for_a_compaction_and_lands_in_the_new_directory(tmp_path):
    from natsbench.store.locking import LOCK_FILE, store_lock
    from natsbench.store.records import record_path, write_record

    archs = get_space("tss").all_archs()[:2]
    store = init_bench(tmp_path / "bench", space="tss", arch_strs=archs, arch_order="custom",
                       datasets={DATASET: {"num_classes": 10, "eval_sets": ["x-valid"]}})
    target = record_path(store, "tss", archs[1], DATASET, HP, 1)
    with store_lock(store, exclusive=True):  # as compact holds it
        assert (store / LOCK_FILE).is_file()
        writer = threading.Thread(target=write_record, args=(store, _record(archs, 1, 1)))
        writer.start()
        time.sleep(0.3)
        assert writer.is_alive() and not target.exists()  # waiting, nothing written
        # the directory is replaced while the writer waits on the old lock file
        from natsbench.store.writer import write_bench

        write_bench(store, space="tss", arch_strs=archs, groups=[], arch_order="custom",
                    datasets={DATASET: {"num_classes": 10, "eval_sets": ["x-valid"]}},
                    overwrite=True)
    writer.join(timeout=10)
    assert not writer.is_alive() and target.exists()  # in the new directory, not the deleted one
    assert _seen(StoreReader(store)) == {1: {1}}


def test_a_reader_refuses_to_mix_two_states_of_a_compacted_benchmark(tmp_path):
    from natsbench.errors import StoreError
    from natsbench.store.records import write_record

    archs = get_space("tss").all_archs()[:2]
    store = init_bench(tmp_path / "bench", space="tss", arch_strs=archs, arch_order="custom",
                       datasets={DATASET: {"num_classes": 10, "eval_sets": ["x-valid"]}})
    write_record(store, _record(archs, 0, 0))
    compact(store)
    write_record(store, _record(archs, 1, 1))
    reader = StoreReader(store)  # arrays not mapped yet
    compact(store)  # merges the record the reader holds as pending; new seed axis
    with pytest.raises(StoreError, match="rewritten .* open it again"):
        reader.group(DATASET, HP)
    assert _seen(StoreReader(store)) == {0: {0}, 1: {1}}

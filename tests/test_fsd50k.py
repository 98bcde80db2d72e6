"""FSD50K's published chunk layout: the log-mel features (our torch STFT and mel filter bank),
WAV reading, the CSV/JSON manifests, clip-level scoring and one DASH step on a tiny layout."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy.io import wavfile

torch = pytest.importorskip("torch")

from natsbench.errors import DatasetError  # noqa: E402
from natsbench.tasks import get_task  # noqa: E402
from natsbench.tasks import audio  # noqa: E402
from natsbench.tasks.data import ArraySet, holdout  # noqa: E402
from natsbench.tasks.loaders import load_task  # noqa: E402
from natsbench.tasks.objectives import compute_metric  # noqa: E402
from natsbench.testing.fsd50k_layout import write_chunk_layout  # noqa: E402

SR = 22050
LABELS = [f"Label_{i:03d}" for i in range(200)]
#: clip id -> (set, label names, number of chunks)
CLIPS = {"101": ("tr", ("Label_003", "Label_017"), 3), "102": ("tr", ("Label_017",), 2),
         "103": ("tr", ("Label_199",), 1), "201": ("val", ("Label_000", "Label_003"), 2),
         "301": ("eval", ("Label_042",), 2), "302": ("eval", ("Label_003", "Label_100"), 1)}


def _htk_mel(f):
    return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def _htk_hz(m):
    return 700.0 * (10.0 ** (np.asarray(m, dtype=np.float64) / 2595.0) - 1.0)


def _tone(freq: float, seconds: float = 1.0, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(SR * seconds)) / SR
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def write_layout(root: Path, *, written_prefix: str = "/elsewhere/fsd50k") -> None:
    """A tiny FSD50K in the published layout: chunks/{tr,val,eval}.csv with files/labels/ext,
    chunks/lbl_map.json, 16-bit 22,050 Hz chunk WAVs named <clip>_<NNNN>.wav in dev_chunks/ and
    eval_chunks/ (the manifests name them under another machine's ``written_prefix``)."""
    rng = np.random.default_rng(0)

    def wave(clip: str, j: int) -> np.ndarray:
        samples = _tone(300.0 + 40 * int(clip) % 5000) + 0.05 * rng.standard_normal(SR)
        return samples[: SR - 5000] if clip == "103" else samples     # one short chunk

    write_chunk_layout(root, CLIPS, LABELS, wave, written_prefix=written_prefix)


# -- the mel filter bank and the log-mel features ---------------------------------------------

def test_defaults_are_dashs_settings():
    assert (audio.SAMPLE_RATE, audio.N_FFT, audio.WIN_LENGTH, audio.HOP_LENGTH, audio.N_MELS) \
        == (22050, 1920, 661, 220, 96)
    assert audio.num_frames(22050) == 101 == get_task("fsd50k").input_shape[2]
    assert audio.hz_to_mel(700.0) == pytest.approx(2595.0 * math.log10(2.0))
    assert audio.hz_to_mel(1000.0) == pytest.approx(1000.0, abs=0.02)   # HTK: 1 kHz ~ 1000 mel
    np.testing.assert_allclose(audio.mel_to_hz(audio.hz_to_mel([0.0, 440.0, 11025.0])),
                               [0.0, 440.0, 11025.0], atol=1e-9)


def test_filterbank_triangles_as_constructed():
    fb = audio.mel_filterbank().numpy().astype(np.float64)         # [961, 96]
    assert fb.shape == (961, 96) and fb.min() >= 0.0 and fb.max() <= 1.0
    freqs = np.arange(961) * 11025.0 / 960                          # bin i at i * 11.484 Hz
    edges = _htk_hz(np.linspace(0.0, _htk_mel(11025.0), 98))        # 96 + 2 edges
    for m in (0, 10, 50, 95):
        lower, centre, upper = edges[m], edges[m + 1], edges[m + 2]
        inside = (freqs > lower) & (freqs < upper)
        assert np.all(fb[~inside, m] == 0.0)                        # zero outside its edges
        assert np.argmax(fb[:, m]) == np.argmin(np.abs(freqs - centre))   # peak at its centre
        # linear rise on [lower, centre]: the value at a bin is its distance from lower / width
        k = np.flatnonzero((freqs > lower) & (freqs <= centre))
        np.testing.assert_allclose(fb[k, m], (freqs[k] - lower) / (centre - lower), atol=1e-6)
    # between the first and the last centre, the two overlapping triangles sum to exactly 1
    between = (freqs >= edges[1]) & (freqs <= edges[-2])
    np.testing.assert_allclose(fb[between].sum(axis=1), 1.0, atol=1e-6)
    assert np.all(fb[freqs < edges[1]].sum(axis=1) < 1.0 + 1e-9)


@pytest.mark.parametrize("freq", [250.0, 1000.0, 4000.0])
def test_pure_tone_lands_in_the_nearest_mel_band(freq):
    feats = audio.log_mel(torch.from_numpy(_tone(freq))[None])[0].numpy()   # [96, 101]
    assert feats.shape == (96, 101)
    centres = _htk_hz(np.linspace(0.0, _htk_mel(11025.0), 98))[1:-1]
    energy = feats[:, 5:-5].mean(axis=1)                            # away from the edge frames
    assert np.argmax(energy) == np.argmin(np.abs(centres - freq))
    far = np.abs(centres - freq) > 3000.0                            # ~80 dB down: the floor
    assert feats.max() - feats.min() == pytest.approx(80.0, abs=1e-3)    # top_db exactly
    np.testing.assert_allclose(feats[far, 5:-5], feats.min(), atol=1e-3)
    assert abs(float(feats.mean())) < 1e-4                          # centred per chunk


def test_log_mel_frames_match_a_hand_stft():
    """Frame t is the windowed 1,920-point FFT of samples [t*220 - 960, t*220 + 960) (reflect
    padding at the ends), the 661-sample periodic Hann window centred in it."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal(SR).astype(np.float32) * 0.1
    feats = audio.log_mel(torch.from_numpy(x)[None])[0].numpy().astype(np.float64)
    n = np.arange(661)
    hann = 0.5 - 0.5 * np.cos(2 * np.pi * n / 661)                  # periodic Hann
    window = np.zeros(1920)
    window[629:629 + 661] = hann                                    # (1920 - 661) // 2 = 629
    padded = np.pad(x.astype(np.float64), 960, mode="reflect")
    fb = audio.mel_filterbank().numpy().astype(np.float64)
    for t in (0, 50, 100):
        power = np.abs(np.fft.rfft(padded[t * 220:t * 220 + 1920] * window)) ** 2
        db = 10 * np.log10(np.maximum(power @ fb, 1e-10))
        # the features are centred per chunk: compare differences between bands of the frame
        np.testing.assert_allclose(feats[:, t] - feats[0, t], db - db[0], atol=2e-3)


def test_log_mel_is_gain_invariant():
    x = torch.from_numpy(_tone(600.0) + _tone(3000.0, amp=0.1))[None]
    torch.testing.assert_close(audio.log_mel(x), audio.log_mel(4.0 * x), atol=1e-3, rtol=0)


def test_read_wav_scales_and_rejects(tmp_path):
    ints = np.array([0, 16384, -32768, 32767], dtype=np.int16)
    wavfile.write(tmp_path / "a.wav", SR, ints)
    samples, rate = audio.read_wav(tmp_path / "a.wav")
    assert rate == SR and samples.dtype == np.float32
    np.testing.assert_array_equal(samples, [0.0, 0.5, -1.0, 32767 / 32768])
    wavfile.write(tmp_path / "u8.wav", 8000, np.array([128, 192, 0], dtype=np.uint8))
    np.testing.assert_array_equal(audio.read_wav(tmp_path / "u8.wav")[0], [0.0, 0.5, -1.0])
    wavfile.write(tmp_path / "stereo.wav", SR, np.zeros((10, 2), dtype=np.int16))
    with pytest.raises(DatasetError, match="stereo.wav.*mono"):
        audio.read_wav(tmp_path / "stereo.wav")
    (tmp_path / "junk.wav").write_bytes(b"RIFF\x00\x00not a wave at all")
    with pytest.raises(DatasetError, match="junk.wav"):
        audio.read_wav(tmp_path / "junk.wav")
    # a short chunk is tiled from its start, a long one centre-cropped
    np.testing.assert_array_equal(audio.fit_length(np.arange(3.0), 7), [0, 1, 2, 0, 1, 2, 0])
    np.testing.assert_array_equal(audio.fit_length(np.arange(9.0), 5), [2, 3, 4, 5, 6])


# -- the published layout ---------------------------------------------------------------------

def test_layout_shapes_labels_and_splits(tmp_path):
    write_layout(tmp_path)
    data = load_task("fsd50k", tmp_path, feature_cache=False)   # float32 (cache: test_fsd50k_cache)
    task = data.task
    assert data.input_shape == task.input_shape == (1, 96, 101)
    assert data.provenance["validation"] == "published"
    expected = {"train": "tr", "valid": "val", "test": "eval"}
    for name, part in expected.items():
        s = getattr(data, name)
        clips = [c for c, (p, _, n) in CLIPS.items() if p == part for _ in range(n)]
        assert sorted(s.groups.tolist()) == sorted(clips)           # split membership, clip ids
        assert s.y.shape == (len(clips), 200) and s.y.dtype == np.float32
        for i, clip in enumerate(s.groups):
            hot = np.zeros(200, dtype=np.float32)
            hot[[LABELS.index(n) for n in CLIPS[str(clip)][1]]] = 1.0
            np.testing.assert_array_equal(s.y[i], hot)               # multi-hot, 200 labels
        assert np.all(np.isfinite(s.x))
        np.testing.assert_allclose(s.x.mean(axis=(1, 2, 3)), 0.0, atol=1e-4)
    # the features are those of the WAV named in the manifest (found below the root by suffix)
    i = data.test.groups.tolist().index("302")
    wave = wavfile.read(tmp_path / "eval_chunks" / "302_0000.wav")[1].astype(np.float32) / 32768
    want = audio.log_mel(torch.from_numpy(wave)[None])[0].numpy()
    np.testing.assert_allclose(data.test.x[i, 0], want, atol=1e-4)
    # the short chunk (clip 103) was tiled to 1 s
    assert data.train.x[data.train.groups.tolist().index("103")].shape == (1, 96, 101)


def test_relative_manifest_paths(tmp_path):
    write_layout(tmp_path, written_prefix=".")
    assert len(load_task("fsd50k", tmp_path).train) == 6


def test_missing_files_and_folders_are_named(tmp_path):
    with pytest.raises(DatasetError, match=r"chunks.*tr,val,eval.*zenodo"):
        load_task("fsd50k", tmp_path)                                # nothing there
    write_layout(tmp_path)
    (tmp_path / "chunks" / "lbl_map.json").unlink()
    with pytest.raises(DatasetError, match="lbl_map.json.*does not exist"):
        load_task("fsd50k", tmp_path)
    (tmp_path / "chunks" / "lbl_map.json").write_text(json.dumps({n: i for i, n in
                                                                  enumerate(LABELS)}))
    for f in (tmp_path / "eval_chunks").iterdir():
        f.unlink()
    (tmp_path / "eval_chunks").rmdir()                               # a whole chunk folder
    with pytest.raises(DatasetError, match=r"eval.csv, line 2: chunk .*eval_chunks/30\d_0000.wav"
                                           r".*neither as written nor below"):
        load_task("fsd50k", tmp_path)


def _rewrite(path: Path, text: str) -> None:
    path.write_text(text)


def test_corrupt_files_are_named(tmp_path):
    write_layout(tmp_path)
    chunks = tmp_path / "chunks"
    good_map = (chunks / "lbl_map.json").read_text()
    _rewrite(chunks / "lbl_map.json", "{not json")
    with pytest.raises(DatasetError, match="lbl_map.json: not a readable JSON"):
        load_task("fsd50k", tmp_path)
    _rewrite(chunks / "lbl_map.json", json.dumps({"a": 0, "b": 0}))
    with pytest.raises(DatasetError, match="lbl_map.json: 2 labels"):
        load_task("fsd50k", tmp_path)
    _rewrite(chunks / "lbl_map.json", good_map)
    good_val = (chunks / "val.csv").read_text()
    _rewrite(chunks / "val.csv", "files,labels\nx.wav,Label_000\n")
    with pytest.raises(DatasetError, match=r"val.csv: missing columns \['ext'\]"):
        load_task("fsd50k", tmp_path)
    (chunks / "val.csv").write_bytes(b"files,labels,ext\n\xff\xfe\x00bad")
    with pytest.raises(DatasetError, match="val.csv: not a readable CSV"):
        load_task("fsd50k", tmp_path)
    _rewrite(chunks / "val.csv", good_val.replace("Label_000", "Not_a_label"))
    with pytest.raises(DatasetError, match=r"val.csv, line 2: .*Not_a_label"):
        load_task("fsd50k", tmp_path)
    _rewrite(chunks / "val.csv", good_val.replace('Label_000,Label_003"', 'Label_000"', 1))
    with pytest.raises(DatasetError, match="val.csv, line 3: clip '201' has labels"):
        load_task("fsd50k", tmp_path)
    _rewrite(chunks / "val.csv", good_val)
    (tmp_path / "dev_chunks" / "201_0001.wav").write_bytes(b"RIFF....WAVEfmt garbage")
    with pytest.raises(DatasetError, match="201_0001.wav: not a readable WAV"):
        load_task("fsd50k", tmp_path)
    wavfile.write(tmp_path / "dev_chunks" / "201_0001.wav", 16000, np.zeros(16000, np.int16))
    with pytest.raises(DatasetError, match="201_0001.wav: sample rate 16000 Hz"):
        load_task("fsd50k", tmp_path)


# -- clip-level scoring -----------------------------------------------------------------------

def test_map_averages_chunk_logits_per_clip():
    # one label; clips A (+) chunks [3, -1], B (-) chunks [2, 2], C (+) chunk [0]
    out = np.array([[3.0], [-1.0], [2.0], [2.0], [0.0]])
    y = np.array([[1.0], [1.0], [0.0], [0.0], [1.0]])
    groups = np.array(["A", "A", "B", "B", "C"])
    # by clip: B 2 (-), A 1 (+), C 0 (+): AP = (1/2 + 2/3) / 2 = 7/12
    assert compute_metric("1-mAP", out, y, groups=groups) == pytest.approx(1 - 7 / 12)
    # by chunk it would be 3 (+), 2, 2 (-), 0 (+), -1 (+): AP = (1 + 2/4 + 3/5) / 3 = 0.7
    assert compute_metric("1-mAP", out, y) == pytest.approx(0.3)


def _group_mean_by_add_at(outputs: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """The former formula: per-example unbuffered adds in example order, then / count."""
    _, inverse = np.unique(groups, return_inverse=True)
    sums = np.zeros((inverse.max(initial=-1) + 1,) + outputs.shape[1:])
    np.add.at(sums, inverse, np.asarray(outputs, dtype=np.float64))
    return sums / np.bincount(inverse).reshape((-1,) + (1,) * (outputs.ndim - 1))


@pytest.mark.parametrize("shape", [(4000, 7), (4000,), (600, 3, 4), (1, 5), (0, 5)])
def test_group_mean_equals_per_example_adds_bit_for_bit(shape):
    """group_mean sums a group's examples in example order from 0, as np.add.at does: the same
    float64 bits, on values whose sums round (magnitudes 1e-6..1e6, so the summation order
    matters), unsorted interleaved groups of 1 to ~40 examples, and the first example's
    targets of each group in sorted group order."""
    from natsbench.tasks.objectives import group_mean

    rng = np.random.default_rng(7)
    n = shape[0]
    outputs = rng.standard_normal(shape) * 10.0 ** rng.uniform(-6, 6, shape)
    groups = rng.choice(np.array([f"clip{i}" for i in range(250)]), n)   # shuffled, gaps
    targets = np.arange(n) * 10
    mean, first = group_mean(outputs, targets, groups)
    want = _group_mean_by_add_at(outputs, groups)
    assert mean.dtype == np.float64 and mean.shape == want.shape
    np.testing.assert_array_equal(mean, want)
    ids = np.unique(groups)
    assert first.tolist() == [10 * groups.tolist().index(g) for g in ids]
    if n > 1:   # the order matters on these values: another summation order differs somewhere
        _, inverse = np.unique(groups, return_inverse=True)
        order = np.argsort(inverse, kind="stable")[::-1]          # each group backwards
        backwards = _group_mean_by_add_at(outputs[order], groups[order])
        assert not np.array_equal(backwards, want)


def test_holdout_keeps_groups_whole():
    task = get_task("fsd50k")
    groups = np.repeat(np.array([f"c{i}" for i in range(10)]), 3)
    s = ArraySet(np.zeros((30, 1, 2, 2), np.float32), np.zeros((30, 200), np.float32),
                 groups=groups)
    tr, va = holdout(task, s, 0.2)
    assert set(tr.groups).isdisjoint(va.groups) and len(set(va.groups)) == 2
    assert len(tr) + len(va) == 30


def test_holdout_counts_groups_not_examples():
    """The "too few" check of a grouped set counts groups: 30 examples are plenty to hold out
    90 %, but 90 % of 3 groups rounds to all 3, which leaves no training group."""
    task = get_task("fsd50k")
    s = ArraySet(np.zeros((30, 1, 2, 2), np.float32), np.zeros((30, 200), np.float32),
                 groups=np.repeat(np.array(["a", "b", "c"]), 10))
    with pytest.raises(DatasetError, match=r"3 group\(s\) of training examples are too few to "
                                           r"hold out a validation set of 3 whole group"):
        holdout(task, s, 0.9)
    tr, va = holdout(task, s, 0.5)                   # 2 of 3 groups held out (1.5 rounds to 2)
    assert len(set(va.groups)) == 2 and len(set(tr.groups)) == 1 and len(va) == 20
    one = ArraySet(s.x, s.y, groups=np.full(30, "a"))
    with pytest.raises(DatasetError, match=r"1 group\(s\) of training examples are too few"):
        holdout(task, one, 0.1)


# -- the DASH pipeline on the tiny layout -----------------------------------------------------

def test_dash_trains_and_scores_clips_on_the_layout(tmp_path):
    from search_algorithms.dash import engine
    from search_algorithms.dash.settings import settings_for
    from search_algorithms.dash.stages import DashRun, search_stage

    write_layout(tmp_path / "data")
    data = load_task("fsd50k", tmp_path / "data")
    settings = settings_for(data.task, "quick").replace(search_epochs=1, search_subsample=1.0,
                                                         batch_size=6)
    run = DashRun(data, settings, tmp_path / "out", device="cpu", progress=False, num_threads=1)
    meta = search_stage(run)                                         # one step: 6 chunks, batch 6
    assert len(meta["choices"]) > 0
    assert math.isfinite(meta["history"][0]["train_loss"])
    from search_algorithms.dash.stages import load_searched

    net, _ = load_searched(tmp_path / "out" / "search" / "searched.pt")
    test = engine.Arrays(data.test, torch.device("cpu"))
    score = engine.evaluate(net, test, data.task.metric, 8)
    logits = engine.predict(net, test, 8)
    clips = sorted(set(data.test.groups))
    mean = np.stack([logits[data.test.groups == c].mean(axis=0) for c in clips])
    labels = np.stack([data.test.y[data.test.groups == c][0] for c in clips])
    assert score == pytest.approx(compute_metric("1-mAP", mean, labels))


# -- where manifest paths resolve ------------------------------------------------------------

def _wav_file(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"RIFF")                                       # only existence matters here
    return path


def test_manifest_paths_never_leave_the_root_through_dotdot(tmp_path):
    from natsbench.tasks.fsd50k import ChunkResolver

    root = tmp_path / "data"
    inside = _wav_file(root / "dev_chunks" / "101_0000.wav")
    _wav_file(tmp_path / "outside" / "dev_chunks" / "101_0000.wav")  # what `..` would reach
    resolve = ChunkResolver(root, "somewhere")
    manifest = root / "chunks" / "tr.csv"
    assert resolve("../outside/dev_chunks/101_0000.wav", manifest, 2) == inside
    assert resolve("dev_chunks/../../outside/dev_chunks/101_0000.wav", manifest, 3) == inside
    _wav_file(tmp_path / "secret.wav")
    with pytest.raises(DatasetError, match=r"tr.csv, line 4: chunk '../secret.wav' exists "
                                           r"neither as written nor below"):
        resolve("../secret.wav", manifest, 4)                       # exists only outside


def test_absolute_manifest_paths_prefer_the_root(tmp_path, caplog):
    from natsbench.tasks.fsd50k import ChunkResolver

    root = tmp_path / "data"
    outside = _wav_file(tmp_path / "old" / "fsd50k" / "dev_chunks" / "101_0000.wav")
    inside = _wav_file(root / "dev_chunks" / "101_0000.wav")
    only_outside = _wav_file(tmp_path / "old" / "fsd50k" / "dev_chunks" / "102_0000.wav")
    resolve = ChunkResolver(root, "somewhere")
    manifest = root / "chunks" / "tr.csv"
    with caplog.at_level("WARNING", logger="natsbench.tasks.fsd50k"):
        assert resolve(str(outside), manifest, 2) == inside         # the suffix below the root
        assert not caplog.records
        assert resolve(str(inside), manifest, 3) == inside          # absolute, inside the root
        assert resolve(str(only_outside), manifest, 4) == only_outside   # no suffix below root
        assert resolve(str(only_outside), manifest, 5) == only_outside
    (record,) = caplog.records                                      # logged once
    assert "line 4" in record.getMessage() and "outside --data-root" in record.getMessage()
    assert str(only_outside) in record.getMessage()

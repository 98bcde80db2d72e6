"""Generated FSD50K chunk layouts (natsbench.tasks.fsd50k's published format) for tests and
benchmarks: ``chunks/{tr,val,eval}.csv`` (``files``, ``labels``, ``ext``), ``chunks/lbl_map.json``
and 16-bit mono 22,050 Hz chunk WAVs ``<clip>_<NNNN>.wav`` in ``dev_chunks/`` (tr, val) and
``eval_chunks/`` (eval)."""
from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np

__all__ = ["SAMPLE_RATE", "write_chunk_layout", "synthetic_clips"]

SAMPLE_RATE = 22050

#: clip id -> (manifest: "tr" | "val" | "eval", label names, number of chunks)
Clips = Mapping[str, tuple[str, Sequence[str], int]]


def write_chunk_layout(root: Path, clips: Clips, labels: Sequence[str],
                       wave: Callable[[str, int], np.ndarray], *,
                       written_prefix: str = "/elsewhere/fsd50k") -> None:
    """Write the layout below ``root``: ``wave(clip, j)`` gives chunk ``j`` of ``clip`` (float
    samples in [-1, 1] at 22,050 Hz, called in the order of ``clips`` then ``j``); the manifests
    name each WAV under another machine's ``written_prefix``; ``labels`` is the label map's
    order."""
    (root / "chunks").mkdir(parents=True)
    (root / "chunks" / "lbl_map.json").write_text(json.dumps({n: i for i, n in enumerate(labels)}))
    rows: dict[str, list] = {"tr": [], "val": [], "eval": []}
    for clip, (part, names, n) in clips.items():
        folder = "eval_chunks" if part == "eval" else "dev_chunks"
        (root / folder).mkdir(exist_ok=True)
        for j in range(n):
            name = f"{clip}_{j:04d}.wav"
            samples = np.clip(np.asarray(wave(clip, j), dtype=np.float64), -1.0, 1.0)
            _write_wav(root / folder / name, (samples * 32767).astype(np.int16))
            rows[part].append((f"{written_prefix}/{folder}/{name}", ",".join(names), clip))
    for part, recs in rows.items():
        with open(root / "chunks" / f"{part}.csv", "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["files", "labels", "ext"])
            writer.writerows(recs)


def _write_wav(path: Path, samples: np.ndarray) -> None:
    from scipy.io import wavfile

    wavfile.write(path, SAMPLE_RATE, samples)


def synthetic_clips(n_chunks: int, *, chunks_per_clip: int = 4, num_labels: int = 200,
                    shares: tuple[float, float] = (0.7, 0.15), seed: int = 0
                    ) -> tuple[dict[str, tuple[str, tuple[str, ...], int]], list[str]]:
    """About ``n_chunks`` chunks in clips of ``chunks_per_clip``: the first ``shares[0]`` of the
    clips in ``tr``, the next ``shares[1]`` in ``val``, the rest in ``eval``; one to three
    seeded labels per clip. Returns ``(clips, labels)`` for :func:`write_chunk_layout`."""
    rng = np.random.default_rng(seed)
    labels = [f"Label_{i:03d}" for i in range(num_labels)]
    n_clips = max(3, round(n_chunks / chunks_per_clip))
    cut1, cut2 = round(shares[0] * n_clips), round((shares[0] + shares[1]) * n_clips)
    clips = {}
    for c in range(n_clips):
        part = "tr" if c < cut1 else "val" if c < cut2 else "eval"
        names = tuple(labels[i] for i in sorted(rng.choice(num_labels, rng.integers(1, 4),
                                                           replace=False)))
        clips[f"{100000 + c}"] = (part, names, chunks_per_clip)
    return clips, labels

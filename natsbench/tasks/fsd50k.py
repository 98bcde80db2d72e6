"""FSD50K in the chunked layout NAS-Bench-360 publishes and DASH reads (``load_fsd``).

Layout below ``--data-root`` (facts from DASH's ``src/data_loaders.py`` / ``src/data/
audio_dataset.py`` and the FSD50K baseline preprocessing they build on, SarthakYadav's
``chunkify.py`` (step 2, chunks) and his step-3 manifest script; no code copied):

* ``chunks/tr.csv``, ``chunks/val.csv``, ``chunks/eval.csv``: one row per audio chunk, columns
  ``files`` (the chunk's WAV path as written when the manifests were made), ``labels`` (the
  clip's label names, comma-separated, so quoted in the CSV) and ``ext`` (the clip id, the
  FSD50K ``fname``). ``tr`` / ``val`` are FSD50K's dev split by its ``split`` column, ``eval``
  is FSD50K's evaluation set;
* ``chunks/lbl_map.json``: label name -> index (0..199, FSD50K's ``vocabulary.csv`` order);
* the chunk WAVs: ``<clip>_<NNNN>.wav``, 22,050 Hz mono 16-bit PCM, 1 s each, cut every 0.5 s
  (a clip shorter than 1 s is tiled to 1 s);
* ``noise_22050/*.wav``: background noise that DASH mixes into training features
  (``BackgroundAddMixer``, probability 0.75); not read here (no augmentation, see below).

A manifest path is looked up below ``--data-root`` by its longest suffix that exists there
(``/old/machine/data/dev_chunks/64760_0000.wav`` -> ``ROOT/dev_chunks/64760_0000.wav``; ``..``
parts are dropped, so no suffix leaves the root); the number of leading parts dropped is
remembered, so a whole manifest costs about one lookup per row. Only an absolute path none of
whose suffixes exists below the root is read where it is written (outside the root; logged).

Sets: ``train`` = every chunk of ``tr.csv``, ``valid`` = ``val.csv``, ``test`` = ``eval.csv``;
inputs ``[N, 1, 96, 101]`` log-mel features (:mod:`natsbench.tasks.audio`), targets multi-hot
float32 ``[N, 200]``, ``groups`` the clip id of every chunk, so the metric averages a clip's
chunk outputs (DASH's evaluation: the mean of the chunk logits, then the sigmoid, then the
per-class average precision over clips).

Deviations from DASH (fixed arrays instead of a per-step ``Dataset``): DASH's training set
yields one random chunk per clip per epoch; here every chunk is a training example (clips with
more chunks weigh more). Its training augmentations (background-noise mixing, SpecAugment,
wrap/constant padding choice) are not applied.

Feature cache (:mod:`natsbench.tasks.feature_cache`): the features of each set are computed once
into ``<cache root>/features/fsd50k-<digest>/{train,valid,test}.npy`` (float16, see
``CACHE_DTYPE``), the digest covering the bytes of the three manifests and the label map, the
feature parameters (:func:`~natsbench.tasks.audio.feature_settings`) and the dtype; later loads
memory-map them and read no WAV (nor check that the WAVs exist). Editing WAVs without changing
the manifests is not noticed: delete the cache folder (or pass another ``feature_cache``).
"""
from __future__ import annotations

import csv
import json
import logging
from pathlib import Path, PurePath
from typing import Sequence

import numpy as np

from natsbench.errors import DatasetError
from natsbench.tasks.configs import TaskConfig
from natsbench.tasks.data import ArraySet

__all__ = ["FSD50K_MANIFESTS", "FSD50K_LABEL_MAP", "FSD50K_NOISE", "CACHE_DTYPE", "ChunkRow",
           "read_label_map", "read_manifest", "ChunkResolver", "load_fsd50k_chunks",
           "chunk_features", "feature_cache_key"]

logger = logging.getLogger(__name__)

#: manifest of each set, relative to ``--data-root``
FSD50K_MANIFESTS: dict[str, str] = {"train": "chunks/tr.csv", "valid": "chunks/val.csv",
                                    "test": "chunks/eval.csv"}
FSD50K_LABEL_MAP = "chunks/lbl_map.json"
FSD50K_NOISE = "noise_22050"          #: DASH's background-noise folder (training mixer; unused)
_COLUMNS = ("files", "labels", "ext")
_BATCH = 64                           #: chunks per feature batch (the STFT of 64 chunks ~ 50 MB)
_CACHE_BLOCK = 4096                   #: chunks per cache block (a killed build resumes at one)
#: stored dtype of cached features: float16 halves disk, page cache and batch transfers; its
#: rounding error is at most 1/32 dB on these features (|x| <= 80 dB; tests/test_fsd50k.py)
CACHE_DTYPE = "float16"

ChunkRow = tuple[str, tuple[str, ...], str]   #: (file as written, label names, clip id)


def read_label_map(path: Path, num_classes: int) -> dict[str, int]:
    """The ``{label name: index}`` of ``lbl_map.json``: ``num_classes`` names with the distinct
    indices ``0 .. num_classes - 1``."""
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DatasetError(f"{path}: not a readable JSON label map ({exc})") from exc
    if not isinstance(content, dict) or not all(
            isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool)
            for k, v in content.items()):
        raise DatasetError(f"{path}: expected a JSON object of label name -> integer index")
    if sorted(content.values()) != list(range(num_classes)):
        raise DatasetError(f"{path}: {len(content)} labels with indices "
                           f"{min(content.values(), default=None)}..{max(content.values(), default=None)}"
                           f"; FSD50K has {num_classes} labels with the distinct indices "
                           f"0..{num_classes - 1}")
    return content


def read_manifest(path: Path, label_map: dict[str, int]) -> list[ChunkRow]:
    """The rows of one chunk manifest (``files``, ``labels``, ``ext``), every label known."""
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            missing = [c for c in _COLUMNS if c not in (reader.fieldnames or ())]
            if missing:
                raise DatasetError(f"{path}: missing columns {missing} (found "
                                   f"{list(reader.fieldnames or ())}); expected {list(_COLUMNS)}")
            rows = []
            for line, rec in enumerate(reader, start=2):
                file, labels, clip = (rec.get(c) for c in _COLUMNS)
                if not file or labels is None or not clip:
                    raise DatasetError(f"{path}, line {line}: empty files/labels/ext field")
                names = tuple(n.strip() for n in labels.split(",") if n.strip())
                unknown = [n for n in names if n not in label_map]
                if not names or unknown:
                    raise DatasetError(f"{path}, line {line}: labels {labels!r} include "
                                       f"{unknown or 'no label'} not in {FSD50K_LABEL_MAP}")
                rows.append((file.strip(), names, clip.strip()))
    except DatasetError:
        raise
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DatasetError(f"{path}: not a readable CSV manifest ({exc})") from exc
    if not rows:
        raise DatasetError(f"{path}: the manifest lists no chunk")
    return rows


class ChunkResolver:
    """Finds the WAV of a manifest path: the path as written if it is absolute and inside
    ``root``, else its longest suffix that exists below ``root`` (``..`` parts dropped, so no
    suffix leads outside ``root``; the number of leading parts dropped is tried first next
    time), else, for an absolute path outside ``root`` that exists, that path (logged, once
    per resolver)."""

    def __init__(self, root: Path, source: str) -> None:
        self.root, self.source, self._drop = root, source, None
        self._outside = 0          #: chunks read from absolute paths outside ``root``
        self._resolved_root = root.resolve()

    def __call__(self, raw: str, manifest: Path, line: int) -> Path:
        written = Path(raw).expanduser()
        if written.is_absolute() and written.is_file() \
                and written.resolve().is_relative_to(self._resolved_root):
            return written                                    # as written, inside the root
        parts = [p for p in PurePath(raw.replace("\\", "/")).parts
                 if p not in ("/", ".", "", "..")]
        order = list(range(len(parts)))
        if self._drop is not None and self._drop < len(parts):
            order.insert(0, self._drop)
        for drop in order:
            candidate = self.root.joinpath(*parts[drop:])
            if candidate.is_file():
                self._drop = drop
                return candidate
        if written.is_absolute() and written.is_file():
            self._outside += 1
            if self._outside == 1:
                logger.warning("%s, line %d: chunk %s is read from outside --data-root %s (no "
                               "suffix of it exists there); later such chunks are not logged",
                               manifest, line, written, self.root)
            return written
        raise DatasetError(f"{manifest}, line {line}: chunk {raw!r} exists neither as written "
                           f"nor below {self.root} (tried every suffix of the path); the data "
                           f"comes from {self.source}")


def chunk_features(paths: Sequence[Path], out: np.ndarray, *, progress: bool = True,
                   desc: str = "fsd50k log-mel") -> None:
    """Fill ``out`` ``[len(paths), 1, n_mels, frames]`` (``[N, 1, 96, 101]`` by default) with the
    log-mel features of the WAV chunks (read, checked for the sample rate, fitted to the minimum
    length, then :func:`~natsbench.tasks.audio.log_mel` in batches), all with the parameters of
    :func:`~natsbench.tasks.audio.feature_settings`."""
    from natsbench.tasks import audio
    import torch
    from tqdm.auto import tqdm

    s = audio.feature_settings()
    fb = audio.mel_filterbank(int(s["n_fft"]) // 2 + 1, int(s["n_mels"]), int(s["sample_rate"]))
    mel_args = {k: s[k] for k in ("sample_rate", "n_fft", "win_length", "hop_length", "n_mels",
                                  "top_db", "amin")}
    with tqdm(total=len(paths), desc=desc, unit="chunk", disable=not progress,
              leave=False) as bar:
        for start in range(0, len(paths), _BATCH):
            waves = []
            for path in paths[start:start + _BATCH]:
                samples, rate = audio.read_wav(path)
                if rate != s["sample_rate"]:
                    raise DatasetError(f"{path}: sample rate {rate} Hz; the FSD50K chunks are "
                                       f"resampled to {s['sample_rate']} Hz")
                waves.append(audio.fit_length(samples, int(s["min_samples"])))
            with torch.no_grad():
                feats = audio.log_mel(torch.from_numpy(np.stack(waves)), filterbank=fb, **mel_args)
            out[start:start + len(waves), 0] = feats.numpy()
            bar.update(len(waves))


def feature_cache_key(task: TaskConfig, files: dict[str, Path],
                      dtype: str = CACHE_DTYPE) -> dict:
    """What the cached features of a layout are a function of: the bytes of its manifests and
    label map (``files``: relative name -> path), the feature parameters
    (:func:`~natsbench.tasks.audio.feature_settings`) and the stored dtype. The chunk WAVs
    themselves are not read for the key (a cached load reads no WAV)."""
    from natsbench.tasks import audio
    from natsbench.tasks.feature_cache import file_digest

    return {"task": task.name, "cache_format": 1, "dtype": str(np.dtype(dtype)),
            "files": {rel: file_digest(path) for rel, path in sorted(files.items())},
            "features": audio.feature_settings()}


def load_fsd50k_chunks(task: TaskConfig, root: Path, *, progress: bool = True,
                       feature_cache: str | Path | bool | None = None,
                       dtype: str = CACHE_DTYPE) -> tuple[ArraySet, ArraySet, ArraySet]:
    """Train, validation and test sets of the published chunk layout below ``root`` (see the
    module docstring); ``ArraySet.groups`` holds every chunk's clip id.

    Args:
        feature_cache: where the features are cached (:mod:`natsbench.tasks.feature_cache`):
            ``None`` / ``True`` the default folder below the natsbench cache root, a path a
            base folder of one's own, ``False`` no cache (features computed into memory,
            float32, on every load).
        dtype: stored dtype of cached features (default float16, docs/DASH.md).

    Returns:
        cached inputs are read-only ``np.memmap`` arrays of ``dtype``; uncached ones float32.
    """
    from natsbench.tasks import audio
    from natsbench.tasks.feature_cache import FeatureCache
    from natsbench.tasks.loaders import _file as need

    label_path = need(task, root, FSD50K_LABEL_MAP)
    label_map = read_label_map(label_path, task.num_outputs)
    manifests = {part: need(task, root, rel) for part, rel in FSD50K_MANIFESTS.items()}
    cache = None
    if feature_cache is not False:
        files = {FSD50K_LABEL_MAP: label_path,
                 **{FSD50K_MANIFESTS[p]: path for p, path in manifests.items()}}
        cache = FeatureCache(task.name, feature_cache_key(task, files, dtype),
                             None if feature_cache in (None, True) else Path(feature_cache))
    resolver = ChunkResolver(root, task.source)
    s = audio.feature_settings()
    row_shape = (1, int(s["n_mels"]), audio.num_frames(int(s["min_samples"]),
                                                        int(s["hop_length"])))
    sets = []
    for part, manifest in manifests.items():
        rows = read_manifest(manifest, label_map)
        clip_labels: dict[str, tuple[str, ...]] = {}
        y = np.zeros((len(rows), task.num_outputs), dtype=np.float32)
        for i, (_raw, names, clip) in enumerate(rows):
            first = clip_labels.setdefault(clip, names)
            if set(first) != set(names):
                raise DatasetError(f"{manifest}, line {i + 2}: clip {clip!r} has labels "
                                   f"{sorted(names)} here but {sorted(first)} on an earlier "
                                   "chunk; all chunks of a clip carry the clip's labels")
            y[i, [label_map[n] for n in names]] = 1.0
        shape = (len(rows), *row_shape)
        desc = f"fsd50k {part} log-mel"
        x = None if cache is None else cache.open(part, shape, dtype)
        if x is None:
            paths = [resolver(raw, manifest, i + 2) for i, (raw, _, _) in enumerate(rows)]
            if cache is None:
                x = np.empty(shape, dtype=np.float32)
                chunk_features(paths, x, progress=progress, desc=desc)
            else:
                def fill(start: int, stop: int, out: np.ndarray, paths=paths) -> None:
                    chunk_features(paths[start:stop], out, progress=False)

                x = cache.build(part, shape, dtype, fill, block=_CACHE_BLOCK, progress=progress,
                                desc=desc, unit="chunk")
        else:
            logger.info("fsd50k %s: features from the cache %s", part, cache.path(part))
        groups = np.array([clip for _, _, clip in rows], dtype=str)
        sets.append(ArraySet(x, y, groups=groups))
        logger.info("fsd50k %s: %d chunks of %d clips", part, len(rows), len(clip_labels))
    return sets[0], sets[1], sets[2]

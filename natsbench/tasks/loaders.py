"""Loaders of the NAS-Bench-360 tasks' on-disk formats (numpy, scipy, h5py; torch for FSD50K).

Each loader reads its files below ``data_root`` (the names in :attr:`TaskConfig.files`),
preprocesses as DASH's ``data_loaders.py`` does (facts only; docs/DASH.md lists them) and
returns a :class:`~natsbench.tasks.data.TaskData`. Nothing is unpickled unrestricted: pickles and
``.npy`` files with object arrays go through :mod:`natsbench.safe_unpickle`; ``.npz`` and numeric
``.npy`` files through ``numpy.load(allow_pickle=False)``. A missing file is a
:class:`~natsbench.errors.DatasetError` naming the file and where the task's data comes from; a
corrupt one names the file.

Formats:

* ``.mat``: MATLAB v7.3 files are HDF5 (read with h5py; MATLAB stores column-major, so arrays are
  transposed back), older versions with :func:`scipy.io.loadmat` (Darcy flow).
* FSD50K's published chunk layout (CSV manifests, a JSON label map, 22,050 Hz WAV chunks; log-mel
  features computed with torch, :mod:`natsbench.tasks.fsd50k` and :mod:`natsbench.tasks.audio`,
  the only loader that needs torch);
* ``.npz`` (DeepSEA, and the prepared FSD50K / PSICOV arrays), ``.npy`` (NinaPro; Satellite's
  pickled ``{"data", "label"}`` dicts; Cosmic's path lists; PSICOV's ``(L, seq, map)`` distance
  files), gzip pickles (Spherical), plain pickles (ECG; PSICOV's PDNet feature dicts), the
  CIFAR-100 python batches (:mod:`natsbench.datasets.readers`).
"""
from __future__ import annotations

import gzip
import logging
from pathlib import Path
from typing import Any, Callable

import numpy as np

from natsbench.datasets.splits import DEFAULT_SPLIT_SEED, split_rng
from natsbench.errors import ConfigError, DatasetError
from natsbench.safe_unpickle import DATASET_OBJECTS, load_npy_file, restricted_loads
from natsbench.tasks.configs import TaskConfig, get_task
from natsbench.tasks.data import ArraySet, TaskData, holdout

__all__ = ["load_task", "read_mat", "read_npz", "read_pickle", "LOADERS", "DEFAULT_VALID_FRACTION"]

logger = logging.getLogger(__name__)

#: share of the training set held out for validation when a task has no published validation set
DEFAULT_VALID_FRACTION = 0.1
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def _file(task: TaskConfig, root: Path, rel: str) -> Path:
    path = root / rel
    if not path.is_file():
        raise DatasetError(f"task {task.name!r}: expected {path} but it does not exist; the data "
                           f"comes from {task.source} (files: {', '.join(task.files)}, below "
                           "--data-root)")
    return path


# -- format readers ---------------------------------------------------------------------------

def read_mat(path: Path, fields: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The numeric ``fields`` of a MATLAB file (v7.3/HDF5 through h5py, older through scipy),
    in MATLAB's index order (h5py's column-major arrays transposed back)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(520)
    except OSError as exc:
        raise DatasetError(f"cannot read {path}: {exc}") from exc
    out: dict[str, np.ndarray] = {}
    if head[512:520] == _HDF5_SIGNATURE or head[:8] == _HDF5_SIGNATURE:
        from natsbench._optional import require

        require("h5py", extra="tasks")  # before importing it: a missing h5py names the extra
        import h5py

        try:
            with h5py.File(path, "r") as f:
                for name in fields:
                    if name not in f:
                        raise DatasetError(f"{path}: no variable {name!r} (found {sorted(f)})")
                    out[name] = np.asarray(f[name][()]).T
        except DatasetError:
            raise
        except (OSError, KeyError, ValueError) as exc:
            raise DatasetError(f"{path}: not a readable MATLAB v7.3 (HDF5) file ({exc})") from exc
    else:
        from scipy.io import loadmat

        try:
            content = loadmat(path, variable_names=list(fields))
        except Exception as exc:  # scipy raises ValueError, TypeError, MatReadError, ...
            raise DatasetError(f"{path}: not a readable MATLAB file ({type(exc).__name__}: "
                               f"{exc})") from exc
        for name in fields:
            if name not in content:
                raise DatasetError(f"{path}: no variable {name!r} (found "
                                   f"{sorted(k for k in content if not k.startswith('__'))})")
            out[name] = np.asarray(content[name])
    for name, arr in out.items():
        if arr.dtype.kind not in "fiub":
            raise DatasetError(f"{path}: variable {name!r} has dtype {arr.dtype}, expected numbers")
    return out


def read_npz(path: Path, keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The arrays ``keys`` of an ``.npz`` file (no pickles admitted)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in keys if k not in z.files]
            if missing:
                raise DatasetError(f"{path}: missing arrays {missing} (found {sorted(z.files)})")
            return {k: np.asarray(z[k]) for k in keys}
    except DatasetError:
        raise
    except (OSError, ValueError, EOFError, KeyError) as exc:  # zipfile.BadZipFile is OSError-free
        raise DatasetError(f"{path}: not a valid .npz file, corrupt or truncated ({exc})") from exc
    except Exception as exc:  # zipfile.BadZipFile
        raise DatasetError(f"{path}: not a valid .npz file ({type(exc).__name__}: {exc})") from exc


def read_pickle(path: Path) -> Any:
    """A (possibly gzip-compressed) pickle of containers, strings, numbers and numpy arrays."""
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except (OSError, EOFError) as exc:
        raise DatasetError(f"{path}: cannot read or decompress ({exc})") from exc
    return restricted_loads(raw, source=str(path), allow=DATASET_OBJECTS)


def _array(path: Path, obj: Any, what: str, ndim: int | None = None) -> np.ndarray:
    try:
        arr = np.asarray(obj)
    except (ValueError, TypeError) as exc:
        raise DatasetError(f"{path}: {what} is not an array ({exc})") from exc
    if arr.dtype.kind not in "fiub" or (ndim is not None and arr.ndim != ndim):
        raise DatasetError(f"{path}: {what} has dtype {arr.dtype} and shape {arr.shape}; "
                           f"expected a numeric array{'' if ndim is None else f' of {ndim} dims'}")
    return arr


def _dict(path: Path, obj: Any, keys: tuple[str, ...]) -> dict:
    if isinstance(obj, np.ndarray) and obj.dtype.hasobject and obj.ndim == 0:
        obj = obj[()]
    if not isinstance(obj, dict) or any(k not in obj for k in keys):
        found = sorted(obj) if isinstance(obj, dict) else type(obj).__name__
        raise DatasetError(f"{path}: expected a dict with keys {list(keys)}, found {found}")
    return obj


def _f32(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x, dtype=np.float32)


def _labels(path: Path, y: np.ndarray, num_classes: int) -> np.ndarray:
    y = np.asarray(y).astype(np.int64).reshape(-1)
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise DatasetError(f"{path}: labels span {y.min()}..{y.max()}, expected 0..{num_classes - 1}")
    return y


# -- the tasks --------------------------------------------------------------------------------

Sets = tuple[ArraySet, ArraySet | None, ArraySet]


def _cifar100(task: TaskConfig, root: Path) -> Sets:
    from natsbench.datasets import readers

    (x_tr, y_tr), (x_te, y_te) = (readers.read_cifar100(root, train=True),
                                  readers.read_cifar100(root, train=False))
    mean = np.array([0.5071, 0.4867, 0.4408], dtype=np.float32).reshape(1, 3, 1, 1)
    std = np.array([0.2675, 0.2565, 0.2761], dtype=np.float32).reshape(1, 3, 1, 1)
    norm = lambda x: _f32((x.astype(np.float32) / 255.0 - mean) / std)  # noqa: E731
    return ArraySet(norm(x_tr), y_tr.astype(np.int64)), None, ArraySet(norm(x_te), y_te.astype(np.int64))


def _spherical(task: TaskConfig, root: Path) -> Sets:
    path = _file(task, root, "s2_cifar100.gz")
    content = _dict(path, read_pickle(path), ("train", "test"))
    sets = []
    for part in ("train", "test"):
        d = _dict(path, content[part], ("images", "labels"))
        x = _array(path, d["images"], f"{part} images", 4)
        sets.append(ArraySet(_f32(x), _labels(path, d["labels"], task.num_outputs)))
    return sets[0], None, sets[1]


def _ninapro(task: TaskConfig, root: Path) -> Sets:
    sets = []
    for part in ("train", "val", "test"):
        xp = _file(task, root, f"ninaPro/ninapro_{part}.npy")
        yp = _file(task, root, f"ninaPro/label_{part}.npy")
        x = _array(xp, load_npy_file(xp), "inputs", 3)           # [N, 52, 16]
        sets.append(ArraySet(_f32(x.transpose(0, 2, 1)[:, None]),
                             _labels(yp, load_npy_file(yp), task.num_outputs)))
    return sets[0], sets[1], sets[2]


def _xy_npz(task: TaskConfig, root: Path, parts: tuple[str, ...], add_channel: bool) -> list:
    sets = []
    for rel in parts:
        path = _file(task, root, rel)
        d = read_npz(path, ("x", "y"))
        x = _array(path, d["x"], "x")
        sets.append(ArraySet(_f32(x[:, None] if add_channel else x), _f32(d["y"])))
    return sets


#: prepared FSD50K arrays (``x`` ``[N, 96, 101]`` log-mel, ``y`` ``[N, 200]``): the fallback
FSD50K_PREPARED = ("fsd50k/fsd50k_train.npz", "fsd50k/fsd50k_val.npz", "fsd50k/fsd50k_test.npz")


def _fsd50k(task: TaskConfig, root: Path, feature_cache: str | Path | bool | None = None) -> Sets:
    """The published chunk layout (:mod:`natsbench.tasks.fsd50k`; log-mel features computed
    with torch, cached in ``feature_cache``) when ``chunks/tr.csv`` exists, else the prepared
    ``.npz`` arrays (a ``feature_cache`` folder, or ``True``, is then unused: a warning says
    so; not an error, so one command line serves both layouts)."""
    from natsbench.tasks.fsd50k import FSD50K_MANIFESTS

    if (root / FSD50K_MANIFESTS["train"]).is_file():
        from natsbench.tasks.fsd50k import load_fsd50k_chunks

        return load_fsd50k_chunks(task, root, feature_cache=feature_cache)
    if not (root / FSD50K_PREPARED[0]).is_file():
        raise DatasetError(
            f"task {task.name!r}: found neither the published layout ({root / 'chunks'}/"
            "{tr,val,eval}.csv, lbl_map.json and the chunk WAVs they list) nor the prepared "
            f"arrays ({', '.join(FSD50K_PREPARED)}); the data comes from {task.source}")
    if feature_cache not in (None, False):   # the prepared arrays are features already
        logger.warning("task %r: feature_cache=%s is not used: %s holds the prepared arrays "
                       "(%s), whose features are read as they are, not computed nor cached",
                       task.name, feature_cache, root, ", ".join(FSD50K_PREPARED))
    tr, va, te = _xy_npz(task, root, FSD50K_PREPARED, add_channel=True)
    return tr, va, te


#: PSICOV's published (PDNet) layout below ``--data-root``, as DASH's ``load_psicov`` reads it
PSICOV_LISTS = {"train": ("protein/deepcov.lst", "protein/deepcov"),
                "test": ("protein/psicov.lst", "protein/psicov")}
PSICOV_PAD = 10          #: zero border around each protein's pair features (5 each side)
PSICOV_WINDOW = 128      #: training crop size (pixels)
PSICOV_TRAIN_CLAMP = 16.0  #: training targets above this distance (A) are clamped ('16.0')
_PSICOV_PAIR = ("ccmpred", "freecon", "potential")


def psicov_features(path: Path, feats: Any) -> np.ndarray:
    """The 57 PDNet pair channels ``[57, L, L]`` (float32) of one feature pickle ``feats``.

    Channel order: for each of the 3 secondary-structure rows (``ss`` ``[3, L]``), the 22 PSSM
    columns (``pssm`` ``[L, 22]``), ``sa`` ``[L]`` and ``entropy`` ``[L]``: the residue vector
    along columns (``v[j]``) then along rows (``v[i]``); then ``ccmpred``, ``freecon`` and
    ``potential`` ``[L, L]`` (6 + 44 + 2 + 2 + 3 = 57).
    """
    d = _dict(path, feats, ("seq", "ss", "pssm", "sa", "entropy") + _PSICOV_PAIR)
    n = len(d["seq"])
    want = {"ss": (3, n), "pssm": (n, 22), "sa": (n,), "entropy": (n,),
            **{k: (n, n) for k in _PSICOV_PAIR}}
    arr = {k: _array(path, d[k], k) for k in want}
    for k, shape in want.items():
        if arr[k].shape != shape:
            raise DatasetError(f"{path}: {k!r} has shape {arr[k].shape}, expected {shape} "
                               f"(sequence length {n})")
    vectors = [*arr["ss"], *arr["pssm"].T, arr["sa"], arr["entropy"]]
    out = np.empty((57, n, n), dtype=np.float32)
    for c, v in enumerate(vectors):
        out[2 * c] = v[None, :]
        out[2 * c + 1] = v[:, None]
    for c, k in enumerate(_PSICOV_PAIR):
        out[2 * len(vectors) + c] = arr[k]
    return out


def psicov_distances(path: Path, obj: Any, length: int) -> np.ndarray:
    """The C-beta distance map ``[L, L]`` (A) of one ``<id>-cb.npy`` ``(L, sequence, map)``,
    cleaned as PDNet does: values below 1 A set to 1, each diagonal entry the mean of its two
    neighbours (the ends copy their single neighbour)."""
    if not (isinstance(obj, (tuple, list, np.ndarray)) and len(obj) == 3):
        raise DatasetError(f"{path}: expected (length, sequence, distance map), "
                           f"found {type(obj).__name__}")
    ly, _seq, cb = obj
    y = _array(path, cb, "the distance map", ndim=2).astype(np.float64)
    if int(ly) != length or y.shape != (length, length):
        raise DatasetError(f"{path}: length {ly} and map {y.shape} do not match the feature "
                           f"pickle's sequence length {length}")
    if np.isnan(y).any():
        raise DatasetError(f"{path}: the distance map has NaN entries (DeepCov/PSICOV maps have "
                           "none)")
    y[y < 1.0] = 1.0
    if length > 1:
        diag = np.empty(length)
        diag[0], diag[-1] = y[0, 1], y[-1, -2]
        idx = np.arange(1, length - 1)
        diag[1:-1] = (y[idx, idx - 1] + y[idx, idx + 1]) / 2.0
        y[np.arange(length), np.arange(length)] = diag
    return y


def _read_list(task: TaskConfig, root: Path, rel: str) -> list[str]:
    path = _file(task, root, rel)
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: cannot read the protein list ({exc})") from exc
    return [line.split()[0] for line in lines if line.strip()]


def _psicov_raw(task: TaskConfig, root: Path) -> Sets:
    """DeepCov (train) and PSICOV150 (test) from PDNet feature pickles and distance maps.

    Each protein is padded by :data:`PSICOV_PAD` (features 0, target 100 A outside it). Train:
    one :data:`PSICOV_WINDOW` crop per protein (seeded; DASH draws a fresh random crop per step),
    shorter ones placed at the top-left of the window, targets clamped at
    :data:`PSICOV_TRAIN_CLAMP`. Test: every protein padded to the longest (DASH pads to 512).
    """
    rng = split_rng("psicov_crops")
    sets = []
    for part, (lst, folder) in PSICOV_LISTS.items():
        proteins = []
        for pid in _read_list(task, root, lst):
            fp = _file(task, root, f"{folder}/features/{pid}.pkl")
            x = psicov_features(fp, read_pickle(fp))
            dp = _file(task, root, f"{folder}/distance/{pid}-cb.npy")
            y = psicov_distances(dp, load_npy_file(dp), x.shape[1])
            proteins.append((x, y))
        if not proteins:
            raise DatasetError(f"task {task.name!r}: {root / lst} lists no protein")
        side = (PSICOV_WINDOW if part == "train"
                else max(x.shape[1] for x, _ in proteins) + PSICOV_PAD)
        xs = np.zeros((len(proteins), 57, side, side), dtype=np.float32)
        ys = np.full((len(proteins), 1, side, side), 100.0, dtype=np.float32)
        for i, (x, y) in enumerate(proteins):
            n, h = x.shape[1], PSICOV_PAD // 2
            xp = np.zeros((57, n + PSICOV_PAD, n + PSICOV_PAD), dtype=np.float32)
            yp = np.full((n + PSICOV_PAD, n + PSICOV_PAD), 100.0, dtype=np.float32)
            xp[:, h:h + n, h:h + n], yp[h:h + n, h:h + n] = x, y
            full = n + PSICOV_PAD
            if full > side:  # only in training
                r, c = rng.integers(0, full - side + 1, size=2)
                xp, yp = xp[:, r:r + side, c:c + side], yp[r:r + side, c:c + side]
            m = min(full, side)
            xs[i, :, :m, :m], ys[i, 0, :m, :m] = xp, yp
        if part == "train":
            np.minimum(ys, PSICOV_TRAIN_CLAMP, out=ys)
        sets.append(ArraySet(xs, ys))
    return sets[0], None, sets[1]


def _psicov(task: TaskConfig, root: Path) -> Sets:
    """The published PDNet layout when ``protein/deepcov.lst`` exists, else the prepared
    ``.npz`` arrays (:attr:`TaskConfig.files`)."""
    if (root / PSICOV_LISTS["train"][0]).is_file():
        return _psicov_raw(task, root)
    if not (root / task.files[0]).is_file():
        raise DatasetError(
            f"task {task.name!r}: found neither the published layout ({root / 'protein'}/"
            "{deepcov,psicov}.lst with {deepcov,psicov}/features/<id>.pkl and "
            "{deepcov,psicov}/distance/<id>-cb.npy) nor the prepared arrays "
            f"({', '.join(task.files)}); the data comes from {task.source}")
    tr, te = _xy_npz(task, root, task.files, add_channel=False)
    return tr, None, te


def _darcyflow(task: TaskConfig, root: Path, sub: int = 5, ntrain: int = 1000,
               ntest: int = 100) -> Sets:
    train = read_mat(_file(task, root, task.files[0]), ("coeff", "sol"))
    test = read_mat(_file(task, root, task.files[1]), ("coeff", "sol"))

    def prep(d: dict, n: int) -> tuple[np.ndarray, np.ndarray]:
        x, y = d["coeff"][:n, ::sub, ::sub], d["sol"][:n, ::sub, ::sub]
        return x.astype(np.float64), y.astype(np.float64)

    x_tr, y_tr = prep(train, ntrain)
    x_te, y_te = prep(test, ntest)
    mean, std = x_tr.mean(axis=0), x_tr.std(axis=0)        # FNO's UnitGaussianNormalizer
    s = x_tr.shape[-1]
    grid = np.stack(np.meshgrid(np.linspace(0, 1, s), np.linspace(0, 1, s)), axis=0)

    def inputs(x: np.ndarray) -> np.ndarray:
        z = (x - mean) / (std + 1e-5)
        return _f32(np.concatenate([z[:, None], np.broadcast_to(grid, (len(z), 2, s, s))], axis=1))

    return (ArraySet(inputs(x_tr), _f32(y_tr[:, None])), None,
            ArraySet(inputs(x_te), _f32(y_te[:, None])))


def _cosmic(task: TaskConfig, root: Path) -> Sets:
    sets = []
    for rel in task.files:
        list_path = _file(task, root, rel)
        paths = load_npy_file(list_path)
        xs, ys, ignores = [], [], []
        for item in np.asarray(paths).reshape(-1).tolist():
            p = Path(str(item))
            p = p if p.is_absolute() else root / p
            if not p.is_file():
                raise DatasetError(f"task 'cosmic': {list_path} names {p}, which does not exist; "
                                   f"the data comes from {task.source}")
            img = _array(p, load_npy_file(p), "image stack", 3)   # [3, H, W]: image, mask, ignore
            xs.append(img[0:1])
            ys.append(img[1:2])
            ignores.append(img[2:3])   # deepCR's bad-pixel mask: kept for the metric
        if not xs:
            raise DatasetError(f"{list_path}: lists no image files")
        sets.append(ArraySet(_f32(np.stack(xs)), _f32(np.stack(ys)), _f32(np.stack(ignores))))
    return sets[0], None, sets[1]


#: ECG rhythm classes of the 2017 challenge (normal, atrial fibrillation, other, noisy)
ECG_CLASSES = ("N", "A", "O", "~")


def _windows(recordings: list[np.ndarray], labels: np.ndarray, window: int,
             stride: int) -> ArraySet:
    xs, ys = [], []
    for rec, lab in zip(recordings, labels):
        for start in range(0, len(rec) - window + 1, stride):
            xs.append(rec[start:start + window])
            ys.append(lab)
    x = np.stack(xs)[:, None] if xs else np.zeros((0, 1, window), dtype=np.float32)
    return ArraySet(_f32(x), np.asarray(ys, dtype=np.int64))


def _ecg(task: TaskConfig, root: Path, stride: int = 500) -> Sets:
    path = _file(task, root, "challenge2017.pkl")
    content = _dict(path, read_pickle(path), ("data", "label"))
    recordings = [_array(path, r, "recording", 1).astype(np.float64) for r in content["data"]]
    names = [str(v) for v in np.asarray(content["label"]).reshape(-1).tolist()]
    if len(names) != len(recordings):
        raise DatasetError(f"{path}: {len(recordings)} recordings but {len(names)} labels")
    bad = sorted(set(names) - set(ECG_CLASSES))
    if bad:
        raise DatasetError(f"{path}: unknown labels {bad}; expected {list(ECG_CLASSES)}")
    labels = np.array([ECG_CLASSES.index(v) for v in names], dtype=np.int64)
    recordings = [(r - r.mean()) / (r.std() + 1e-12) for r in recordings]
    # recordings (not windows) are split, so no recording is in two sets: 80 / 10 / 10
    order = split_rng("ecg:recordings").permutation(len(recordings))
    n_test = max(1, len(order) // 10)
    groups = order[2 * n_test:], order[n_test:2 * n_test], order[:n_test]
    window = task.input_shape[-1]
    tr, va, te = (_windows([recordings[i] for i in g], labels[g], window, stride) for g in groups)
    return tr, va, te


def _satellite(task: TaskConfig, root: Path) -> Sets:
    sets = []
    for rel in task.files:
        path = _file(task, root, rel)
        d = _dict(path, load_npy_file(path), ("data", "label"))
        x = _array(path, d["data"], "data", 2)
        y = _labels(path, np.asarray(d["label"]) - 1, task.num_outputs)  # labels are 1..24
        sets.append(ArraySet(_f32(x[:, None]), y))
    return sets[0], None, sets[1]


def _deepsea(task: TaskConfig, root: Path) -> Sets:
    path = _file(task, root, "deepsea_filtered.npz")
    d = read_npz(path, ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test"))
    sets = []
    for part in ("train", "val", "test"):
        x = _array(path, d[f"x_{part}"], f"x_{part}", 3)           # [N, 1000, 4]
        sets.append(ArraySet(_f32(x.transpose(0, 2, 1)), _f32(d[f"y_{part}"])))
    return sets[0], sets[1], sets[2]


#: tasks whose loader computes features from raw files and caches them (``feature_cache=``)
CACHED_FEATURES: tuple[str, ...] = ("fsd50k",)

LOADERS: dict[str, Callable[..., Sets]] = {
    "cifar100": _cifar100, "spherical": _spherical, "ninapro": _ninapro, "fsd50k": _fsd50k,
    "darcyflow": _darcyflow, "psicov": _psicov, "cosmic": _cosmic, "ecg": _ecg,
    "satellite": _satellite, "deepsea": _deepsea,
}


def load_task(task: str | TaskConfig, data_root: str | Path | None = None, *,
              valid_fraction: float = DEFAULT_VALID_FRACTION,
              split_seed: int = DEFAULT_SPLIT_SEED, seed: int = 0,
              feature_cache: str | Path | bool | None = None) -> TaskData:
    """Load ``task`` (a name or a config) with train / validation / test sets.

    Args:
        data_root: folder holding the task's files (:attr:`TaskConfig.files`); not used by the
            offline tasks.
        valid_fraction: share of the training set held out when the task has no published
            validation set.
        split_seed: seed of that hold-out.
        seed: seed of the generated offline tasks' examples.
        feature_cache: tasks whose inputs are computed from raw files (:data:`CACHED_FEATURES`):
            the base folder of their feature cache (``None``: the default below the natsbench
            cache root; ``False``: no cache). Any other value than ``None`` for another task is
            a :class:`ConfigError`.

    Raises:
        DatasetError: missing or malformed files (naming the file and the data's source).
    """
    cfg = task if isinstance(task, TaskConfig) else get_task(task)
    if feature_cache is not None and cfg.name not in CACHED_FEATURES:
        raise ConfigError(f"task {cfg.name!r} computes no features, so a feature cache does "
                          f"not apply; tasks with one: {', '.join(CACHED_FEATURES)}")
    if cfg.offline:
        from natsbench.tasks.offline import load_offline

        return load_offline(cfg, seed=seed)
    if data_root is None:
        raise DatasetError(f"task {cfg.name!r} needs --data-root, a folder holding "
                           f"{', '.join(cfg.files)}; the data comes from {cfg.source}")
    root = Path(data_root).expanduser()
    if not root.is_dir():
        raise DatasetError(f"task {cfg.name!r}: data root {root} is not a directory")
    if cfg.name not in LOADERS:  # pragma: no cover - every NB360 task has one
        raise ConfigError(f"no loader for task {cfg.name!r}")
    if cfg.name in CACHED_FEATURES:
        train, valid, test = LOADERS[cfg.name](cfg, root, feature_cache=feature_cache)
    else:
        train, valid, test = LOADERS[cfg.name](cfg, root)
    split = "published"
    if valid is None:
        train, valid = holdout(cfg, train, valid_fraction, split_seed)
        split = f"held out {valid_fraction} of train (split_seed={split_seed})"
    for name, s in (("train", train), ("valid", valid), ("test", test)):
        if len(s) == 0:
            raise DatasetError(f"task {cfg.name!r}: the {name} set is empty (files below {root})")
    data = TaskData(cfg, train, valid, test,
                    {"task": cfg.name, "root": str(root), "validation": split,
                     "sizes": {"train": len(train), "valid": len(valid), "test": len(test)}})
    logger.info("loaded %s: %s", cfg.name, data.sizes())
    return data

"""The NAS-Bench-360 tasks and the offline tasks as named, documented configurations.

Every task is a frozen :class:`TaskConfig`: input shape, output kind, loss, the metric the papers
report, batch size, DASH's kernel-size and dilation sets, the search and retraining backbones,
and where its data comes from. Values and sources (docs/DASH.md has the full table):

* batch sizes, input sizes, ``K``, ``D`` and losses: D2NAS Table 4 (which states it takes them
  from DASH App. A.5.2, whose table lost the numbers in the text conversion); the same values are
  in the official DASH ``task_configs.py`` except NinaPro, where the code searches
  ``K = {3, 5, 7}``, ``D = {1, 3, 7}`` (we keep the tables' 2D space);
* classes, metrics and expert networks: D2NAS Table 1 / NAS-Bench-360 (Tu et al. 2022);
* backbones: DASH App. A.5.1 (WRN-16-1 to search and WRN-16-4 to retrain on 2D tasks, the
  1D WRN with ``mid = min(4 ** (classes // 10 + 1), 64)`` on 1D tasks; dense tasks keep the
  resolution and end with a channel-matching layer, App. A.8.1).

Pure Python (no numpy, no torch): the registry can be listed by any command.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from natsbench.errors import ConfigError

__all__ = ["TaskConfig", "TASKS", "NB360_TASKS", "OFFLINE_TASKS", "LOSSES", "METRICS",
           "OUTPUTS", "KERNELS_2D", "DILATIONS_2D", "KERNELS_1D", "DILATIONS_1D", "get_task",
           "task_names", "PRESETS", "resolve_preset"]

#: DASH's 2D and 1D search spaces (D2NAS Table 4 / sec. IV; DASH sec. 3.3)
KERNELS_2D: tuple[int, ...] = (3, 5, 7, 9)
DILATIONS_2D: tuple[int, ...] = (1, 3, 7, 15)
KERNELS_1D: tuple[int, ...] = (3, 7, 11, 15, 19)
DILATIONS_1D: tuple[int, ...] = (1, 3, 7, 15)

#: loss names (natsbench.tasks.objectives.make_loss)
LOSSES: tuple[str, ...] = ("cross_entropy", "focal", "bce_logits", "relative_l2", "mse")
#: metric names, spelled as in the published NAS-Bench-360 table (lower is better for all)
METRICS: tuple[str, ...] = ("error_pct", "relative_l2", "MAE8", "1-AUROC", "1-mAP", "1-F1")
#: output kinds: one class per input, independent binary labels, or a dense map
OUTPUTS: tuple[str, ...] = ("classes", "multilabel", "dense")


@dataclass(frozen=True)
class TaskConfig:
    """One task of the DASH pipeline.

    Attributes:
        name: CLI name (lower case, e.g. ``"darcyflow"``).
        published: the task's name in the published NAS-Bench-360 table (``"DarcyFlow"``);
            empty for offline tasks.
        description: one line.
        input_shape: ``(channels, *spatial)`` of one example (1 or 2 spatial dims).
        num_outputs: classes, labels, or output channels of a dense map.
        output: ``"classes"`` (targets int64 ``[N]``), ``"multilabel"`` (float ``[N, labels]``)
            or ``"dense"`` (float ``[N, outputs, *spatial]``).
        loss: one of :data:`LOSSES`.
        metric: one of :data:`METRICS` (the number the papers report; lower is better).
        batch_size: training batch size.
        kernel_sizes, dilations: the aggregated-convolution search space ``K x D``.
        search_backbone, retrain_backbone: ``"wrn16-1"``, ``"wrn16-4"`` (2D) or ``"wrn1d"``.
        files: the files the loader reads, relative to ``--data-root``.
        source: where the data comes from (named in missing-file errors).
        offline: generated or bundled (no ``--data-root`` needed).
        loss_options: extra loss settings (e.g. DASH's ``pos_weight`` of BCE).
    """

    name: str
    published: str
    description: str
    input_shape: tuple[int, ...]
    num_outputs: int
    output: str
    loss: str
    metric: str
    batch_size: int
    kernel_sizes: tuple[int, ...]
    dilations: tuple[int, ...]
    search_backbone: str
    retrain_backbone: str
    files: tuple[str, ...] = ()
    source: str = ""
    offline: bool = False
    loss_options: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.loss not in LOSSES:
            raise ConfigError(f"task {self.name!r}: loss {self.loss!r}; valid: {LOSSES}")
        if self.metric not in METRICS:
            raise ConfigError(f"task {self.name!r}: metric {self.metric!r}; valid: {METRICS}")
        if self.output not in OUTPUTS:
            raise ConfigError(f"task {self.name!r}: output {self.output!r}; valid: {OUTPUTS}")
        if len(self.input_shape) not in (2, 3):
            raise ConfigError(f"task {self.name!r}: input_shape {self.input_shape!r} must be "
                              "(channels, length) or (channels, height, width)")

    @property
    def dims(self) -> int:
        """Spatial dimensions (1 or 2)."""
        return len(self.input_shape) - 1

    @property
    def dense(self) -> bool:
        """Dense prediction (DASH's separate learning rates and hp grid)."""
        return self.output == "dense"

    def describe(self) -> dict:
        """A JSON-ready summary (written next to every pipeline output)."""
        return {"name": self.name, "published": self.published, "input_shape": list(self.input_shape),
                "num_outputs": self.num_outputs, "output": self.output, "loss": self.loss,
                "metric": self.metric, "batch_size": self.batch_size,
                "kernel_sizes": list(self.kernel_sizes), "dilations": list(self.dilations),
                "search_backbone": self.search_backbone,
                "retrain_backbone": self.retrain_backbone, "offline": self.offline}


_NB360 = "NAS-Bench-360 (Tu et al. 2022; https://github.com/rtu715/NAS-Bench-360, data at " \
         "https://nb360.ml.cmu.edu/), preprocessed as DASH's data_loaders.py reads it"


def _t2(name: str, published: str, description: str, shape: tuple[int, ...], outputs: int,
        output: str, loss: str, metric: str, batch: int, files: tuple[str, ...], source: str,
        **options: object) -> TaskConfig:
    return TaskConfig(name, published, description, shape, outputs, output, loss, metric, batch,
                      KERNELS_2D, DILATIONS_2D, "wrn16-1", "wrn16-4", files, source,
                      loss_options=dict(options))


def _t1(name: str, published: str, description: str, shape: tuple[int, ...], outputs: int,
        output: str, loss: str, metric: str, batch: int, files: tuple[str, ...], source: str,
        **options: object) -> TaskConfig:
    return TaskConfig(name, published, description, shape, outputs, output, loss, metric, batch,
                      KERNELS_1D, DILATIONS_1D, "wrn1d", "wrn1d", files, source,
                      loss_options=dict(options))


NB360_TASKS: dict[str, TaskConfig] = {t.name: t for t in (
    _t2("cifar100", "CIFAR100", "natural images, 100 classes", (3, 32, 32), 100, "classes",
        "cross_entropy", "error_pct", 64, ("cifar-100-python/train", "cifar-100-python/test"),
        "CIFAR-100 python version (https://www.cs.toronto.edu/~kriz/cifar.html)"),
    _t2("spherical", "Spherical", "CIFAR-100 projected onto the sphere, 100 classes",
        (3, 60, 60), 100, "classes", "cross_entropy", "error_pct", 64, ("s2_cifar100.gz",),
        _NB360),
    _t2("ninapro", "NinaPro", "sEMG hand gestures (DB5), 18 classes", (1, 16, 52), 18,
        "classes", "focal", "error_pct", 128,
        tuple(f"ninaPro/{k}_{s}.npy" for s in ("train", "val", "test")
              for k in ("ninapro", "label")), _NB360),
    _t2("fsd50k", "FSD50K", "sound-event log-mel spectrograms, 200 labels", (1, 96, 101), 200,
        "multilabel", "bce_logits", "1-mAP", 128,
        ("chunks/tr.csv", "chunks/val.csv", "chunks/eval.csv", "chunks/lbl_map.json"),
        "FSD50K (Fonseca et al.; https://zenodo.org/record/4060432) cut into 1 s chunks at "
        "22,050 Hz as NAS-Bench-360 publishes it for DASH (https://pde-xd.s3.amazonaws.com/"
        "audio/audio.zip: chunks/{tr,val,eval}.csv, chunks/lbl_map.json, the chunk WAVs); or "
        "prepared arrays fsd50k/fsd50k_{train,val,test}.npz (keys x, y), see docs/DASH.md",
        pos_weight=10.0),
    _t2("darcyflow", "DarcyFlow", "Darcy flow PDE: coefficient field -> solution", (3, 85, 85), 1,
        "dense", "relative_l2", "relative_l2", 10,
        ("piececonst_r421_N1024_smooth1.mat", "piececonst_r421_N1024_smooth2.mat"),
        "FNO's Darcy flow data (Li et al. 2021; https://pde-xd.s3.amazonaws.com/)"),
    _t2("psicov", "PSICOV", "protein inter-residue distances from 57 pair features",
        (57, 128, 128), 1, "dense", "mse", "MAE8", 8,
        ("protein/psicov_train.npz", "protein/psicov_test.npz"),
        _NB360 + "; the published PDNet layout (protein/{deepcov,psicov}.lst, features/*.pkl, "
        "distance/*-cb.npy) or prepared arrays (keys x, y), see docs/DASH.md"),
    _t2("cosmic", "Cosmic", "cosmic-ray masks of Hubble images", (1, 128, 128), 1, "dense",
        "bce_logits", "1-AUROC", 4, ("cosmic/train_dirs.npy", "cosmic/test_dirs.npy"),
        _NB360 + " (deepCR-mask data: one (3, 128, 128) .npy per image: image, mask, ignore)"),
    _t1("ecg", "ECG", "single-lead ECG windows, 4 rhythm classes", (1, 1000), 4, "classes",
        "cross_entropy", "1-F1", 1024, ("challenge2017.pkl",),
        "PhysioNet/CinC Challenge 2017 as pickled by hsd1503/resnet1d (" + _NB360 + ")"),
    _t1("satellite", "Satellite", "satellite pixel time series, 24 land-cover classes", (1, 46),
        24, "classes", "cross_entropy", "error_pct", 256,
        ("satellite_train.npy", "satellite_test.npy"), _NB360),
    _t1("deepsea", "DeepSEA", "one-hot DNA, 36 chromatin-profile labels", (4, 1000), 36,
        "multilabel", "bce_logits", "1-AUROC", 256, ("deepsea_filtered.npz",), _NB360,
        pos_weight=4.0),
)}

_OFFLINE = "generated by natsbench.tasks.offline (no download)"

OFFLINE_TASKS: dict[str, TaskConfig] = {t.name: t for t in (
    TaskConfig("digits", "", "scikit-learn's 8x8 digits at 16x16, 10 classes (bundled)",
               (1, 16, 16), 10, "classes", "cross_entropy", "error_pct", 64, KERNELS_2D,
               DILATIONS_2D, "wrn16-1", "wrn16-4", (), "scikit-learn's bundled digits",
               offline=True),
    TaskConfig("long1d", "", "1D: label = sign agreement of two pulses 48 steps apart",
               (1, 256), 2, "classes", "cross_entropy", "error_pct", 64, KERNELS_1D,
               DILATIONS_1D, "wrn1d", "wrn1d", (), _OFFLINE, offline=True),
    TaskConfig("local1d", "", "1D twin of long1d: the two pulses are adjacent", (1, 256), 2,
               "classes", "cross_entropy", "error_pct", 64, KERNELS_1D, DILATIONS_1D, "wrn1d",
               "wrn1d", (), _OFFLINE, offline=True),
    TaskConfig("long2d", "", "2D: label = sign agreement of two dots 12 pixels apart",
               (1, 32, 32), 2, "classes", "cross_entropy", "error_pct", 64, KERNELS_2D,
               DILATIONS_2D, "wrn16-1", "wrn16-4", (), _OFFLINE, offline=True),
    TaskConfig("local2d", "", "2D twin of long2d: the two dots are adjacent", (1, 32, 32), 2,
               "classes", "cross_entropy", "error_pct", 64, KERNELS_2D, DILATIONS_2D,
               "wrn16-1", "wrn16-4", (), _OFFLINE, offline=True),
)}

TASKS: dict[str, TaskConfig] = {**NB360_TASKS, **OFFLINE_TASKS}


def task_names() -> list[str]:
    """Every task name, NAS-Bench-360 first."""
    return list(TASKS)


def get_task(name: str) -> TaskConfig:
    """The task called ``name`` (case-insensitive; ``-``/``_`` ignored, so ``"Darcy-Flow"``
    works); :class:`ConfigError` naming the valid ones otherwise."""
    key = str(name).lower().replace("-", "").replace("_", "")
    if key not in TASKS:
        raise ConfigError(f"unknown task {name!r}; valid: {', '.join(TASKS)}")
    return TASKS[key]


#: training presets of the pipelines on a task (DASH, D2NAS): the papers' settings or the
#: scaled-down offline ones
PRESETS: tuple[str, ...] = ("full", "quick")


def resolve_preset(task: TaskConfig, preset: str | None = None) -> str:
    """``preset`` checked ("full" or "quick"); ``None``: quick for offline tasks (digits, the
    generated tasks), full (the papers' settings) otherwise."""
    preset = preset or ("quick" if task.offline else "full")
    if preset not in PRESETS:
        raise ConfigError(f"preset {preset!r} is not valid; use one of {', '.join(PRESETS)}")
    return preset

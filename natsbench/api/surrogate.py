"""Surrogate answers for architectures a benchmark lacks, always flagged as predicted.

A benchmark that evaluated only part of a space (e.g. 2,048 of the 32,768 sss sizes) answers
the rest with a regression model trained on the evaluated architectures:

* features: the space's categorical encoding (:meth:`SearchSpace.encode`), one-hot for
  categorical spaces (tss: 6 edges x 5 ops = 30 columns; DARTS cells: one column per choice;
  a two-choice dimension is one 0/1 column, so an ExtCell is its 196 slot indicators) and
  ordinal channel counts for sss (5 columns, 8..64);
* models: gradient-boosted trees (``"gbt"``, scikit-learn's HistGradientBoostingRegressor,
  its complexity chosen from :data:`GBT_CANDIDATES` by 3-fold cross-validated Kendall tau
  on the training architectures only) or a Gaussian process (``"gp"``: standardised
  features, constant x RBF + white-noise kernel, normalised targets);
* quality: Kendall's tau (``scipy.stats.kendalltau``, tau-b) between predictions and
  measured values of held-out architectures.

:class:`SurrogateBench` wraps a :class:`~natsbench.api.bench.Bench`: measured values pass
through unchanged, predictions fill the rest, and :meth:`SurrogateBench.measured_mask` and the
``measured`` column of :meth:`SurrogateBench.table` say which is which.

Fitted predictions can be stored next to a benchmark (docs/FORMAT.md, "Surrogate
predictions")::

    BENCH/surrogate/<dataset>/<hp>/<metric>.parquet   index, value, measured, prediction
    BENCH/surrogate/<dataset>/<hp>/<metric>.json      model, features, train size, tau, ...

Example::

    bench = natsbench.open_bench("sss-bench")
    sur = fit_surrogate(bench, "digits", "12", "x-valid_acc1", model="gbt", seed=0)
    sur.predict(["8:16:24:32:40"])                      # float64 [1]
    sb = SurrogateBench(bench)
    acc, measured = sb.metric("digits", "12", "x-valid_acc1"), sb.measured_mask("digits", "12", "x-valid_acc1")
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import io
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

from natsbench.errors import QueryError, StoreError, StoredPredictionsError
from natsbench.store.records import COST_NAMES, atomic_write_bytes, normalize_hp

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from natsbench.api.bench import Bench

log = logging.getLogger(__name__)

__all__ = ["MODELS", "ArchEncoder", "Surrogate", "SurrogatePredictions", "SurrogateBench",
           "fit_surrogate", "holdout_split", "save_surrogate_predictions",
           "load_surrogate_predictions", "prediction_paths", "SURROGATE_DIR", "SCHEMA"]

#: Surrogate model names accepted by :func:`fit_surrogate`.
MODELS: tuple[str, ...] = ("gbt", "gp")
SURROGATE_DIR = "surrogate"
SCHEMA = "natsbench.surrogate/1"


# -- features ---------------------------------------------------------------------------------
class ArchEncoder:
    """Architecture strings -> float feature matrices ``[n_archs, n_features]``.

    Args:
        space: space name (``tss``, ``sss``, ``darts``, ``extcell``).
        space_options: options of :func:`natsbench.spaces.get_space` (extcell ``k``; the
            ExtCell features are the 196 slot indicators whatever k is, so one encoder
            serves every budget).
    """

    def __init__(self, space: str, space_options: Mapping[str, Any] | None = None) -> None:
        from natsbench.spaces import get_space

        self.space_options = dict(space_options or {})
        self._space = get_space(space, **self.space_options)
        self.space = self._space.name
        self.kind = "ordinal" if self.space == "sss" else "one-hot"
        num_choices = tuple(self._space.num_choices)
        if self.kind == "ordinal":
            from natsbench.spaces import sss

            self._channels = np.asarray(sss.CHANNELS, dtype=np.float64)
            self.names = [f"C{d + 1}" for d in range(len(num_choices))]
        else:
            self._blocks = []  # (dim, n_choices, first column)
            names: list[str] = []
            for dim, n in enumerate(num_choices):
                if n == 1:
                    continue
                self._blocks.append((dim, n, len(names)))
                names += [f"d{dim}"] if n == 2 else [f"d{dim}={c}" for c in range(n)]
            self.names = names

    @property
    def num_features(self) -> int:
        return len(self.names)

    def codes(self, archs: Sequence[str]) -> np.ndarray:
        """Choice indices, int64 ``[n, len(num_choices)]`` (raises InvalidArchError)."""
        if self.space == "extcell":
            from natsbench.spaces import extcell

            out = np.zeros((len(archs), extcell.NUM_SLOTS), dtype=np.int64)
            for i, arch in enumerate(archs):
                out[i, extcell.slots_of(extcell.parse(arch))] = 1
            return out
        return np.stack([self._space.encode(a) for a in archs]) if len(archs) else \
            np.zeros((0, len(self._space.num_choices)), dtype=np.int64)

    def transform(self, archs: Sequence[str]) -> np.ndarray:
        """Feature matrix, float64 ``[n, num_features]``."""
        codes = self.codes(list(archs))
        if self.kind == "ordinal":
            return self._channels[codes]
        out = np.zeros((codes.shape[0], self.num_features), dtype=np.float64)
        rows = np.arange(codes.shape[0])
        for dim, n, first in self._blocks:
            if n == 2:
                out[:, first] = codes[:, dim]
            else:
                out[rows, first + codes[:, dim]] = 1.0
        return out

    def describe(self) -> dict[str, Any]:
        return {"space": self.space, "space_options": self.space_options, "encoding": self.kind,
                "num_features": self.num_features}


def bench_space_options(bench: "Bench") -> dict[str, Any]:
    """The ``space_options`` a build recorded in the manifest's ``net_config`` (or ``{}``)."""
    return dict(bench.manifest.net_config.get("space_options") or {})


# -- models -----------------------------------------------------------------------------------
#: Complexities of the GBT surrogate, from flexible to strongly regularised; a fit picks one by
#: cross-validation on its training architectures (:func:`_select_gbt`). Measured accuracies
#: are noisy (one seed, short runs) and want shallow, slowly learning trees; deterministic costs
#: (params, FLOPs) want flexible ones. On the bundled sss-digits sample the flexible trees alone
#: ranked held-out x-test accuracy worse than the parameter count did.
GBT_CANDIDATES: dict[str, dict[str, Any]] = {
    "flexible": {"max_iter": 200, "learning_rate": 0.1, "max_leaf_nodes": 31, "leaf": 20},
    "medium": {"max_iter": 300, "learning_rate": 0.03, "max_leaf_nodes": 8, "leaf": 40},
    "shallow": {"max_iter": 150, "learning_rate": 0.05, "max_depth": 3, "leaf": 40,
                "l2_regularization": 1.0},
}
#: Folds of the GBT complexity selection, and the fewest training architectures it runs on
#: (below, the flexible candidate is used: too few points to tell the others apart).
GBT_CV_FOLDS = 3
GBT_CV_MIN_TRAIN = 60


def _gbt(candidate: str, n_train: int, seed: int) -> Any:
    from sklearn.ensemble import HistGradientBoostingRegressor

    params = dict(GBT_CANDIDATES[candidate])
    leaf = params.pop("leaf")  # at most this many, and no more than 5% of the training set
    return HistGradientBoostingRegressor(min_samples_leaf=max(2, min(leaf, n_train // 20)),
                                         random_state=seed, **params)


def _select_gbt(X: np.ndarray, y: np.ndarray, seed: int) -> tuple[str, dict[str, float]]:
    """The GBT candidate with the best mean Kendall tau over ``GBT_CV_FOLDS`` random folds of
    the training set (``default_rng(seed)``), and every candidate's mean tau.

    Ties go to the more flexible candidate; a fold whose tau is undefined (constant truth or
    prediction) counts as 0.
    """
    n = y.size
    if n < GBT_CV_MIN_TRAIN:
        return "flexible", {}
    folds = np.array_split(np.random.default_rng(seed).permutation(n), GBT_CV_FOLDS)
    scores: dict[str, float] = {}
    for name in GBT_CANDIDATES:
        taus = []
        for k, test in enumerate(folds):
            train = np.concatenate([f for j, f in enumerate(folds) if j != k])
            est = _gbt(name, train.size, seed).fit(X[train], y[train])
            tau = _kendall_tau(est.predict(X[test]), y[test])
            taus.append(0.0 if np.isnan(tau) else tau)
        scores[name] = float(np.mean(taus))
    best = max(GBT_CANDIDATES, key=lambda name: scores[name])  # first (most flexible) on ties
    return best, scores


def _gp(seed: int) -> Any:
    """An unfitted GP: standardised features, constant x RBF + white-noise kernel."""
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    kernel = ConstantKernel(1.0) * RBF(length_scale=3.0) + WhiteKernel(noise_level=0.1)
    return make_pipeline(StandardScaler(), GaussianProcessRegressor(
        kernel=kernel, normalize_y=True, random_state=seed))


@contextlib.contextmanager
def _thread_limit(threads: int | None):
    """Cap OpenMP/BLAS threads (None: the libraries' default of one per core).

    scikit-learn's default of one OpenMP thread per core made a GBT fit 25x slower than one
    thread on a 2-core machine already busy with training (90 s vs 3.7 s, 700 archs).
    """
    if threads is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=max(1, int(threads))):
        yield


def _kendall_tau(pred: np.ndarray, truth: np.ndarray) -> float:
    from scipy.stats import kendalltau

    if pred.size < 2:
        raise QueryError(f"Kendall's tau needs at least 2 architectures, got {pred.size}")
    return float(kendalltau(pred, truth).statistic)


def _resolve_epoch(bench: "Bench", dataset: str, hp: int | str, metric: str,
                   epoch: int | None) -> int | None:
    """The 0-based epoch a query means (None for costs, which have no epoch axis)."""
    if metric in COST_NAMES:
        return None
    n = bench.epochs(dataset, hp)
    if epoch is None:
        return n - 1
    if isinstance(epoch, bool) or not isinstance(epoch, (int, np.integer)):
        raise QueryError(f"surrogate queries take one epoch (an int in [-{n}, {n}) or None), got {epoch!r}")
    e = int(epoch) + (n if epoch < 0 else 0)
    if not 0 <= e < n:
        raise QueryError(f"epoch {epoch} beyond the run: {dataset} hp {hp} has epochs 0..{n - 1}")
    return e


def _measured(bench: "Bench", dataset: str, hp: int | str, metric: str,
              epoch: int | None) -> np.ndarray:
    """Seed-mean values of every bench arch, float64 ``[n_archs]`` (NaN: not measured)."""
    if metric not in COST_NAMES and metric not in bench.metric_names(dataset, hp):
        raise QueryError(f"unknown metric {metric!r} for {dataset} hp {hp}; valid: "
                         f"{bench.metric_names(dataset, hp) + list(COST_NAMES)}")
    return bench.metric(dataset, hp, metric, epoch=epoch)


@dataclass
class Surrogate:
    """A regression model of one metric of one (dataset, hp) group.

    Attributes:
        model: ``"gbt"`` or ``"gp"``.
        dataset, hp, metric: what it predicts.
        epoch: the 0-based epoch of the metric (None for costs).
        encoder: the feature map.
        estimator: the fitted scikit-learn estimator.
        train_index: bench indices of the training architectures, int64 ``[n_train]``.
        seed: the estimator's random state.
        bench: the benchmark it was fitted on (resolves integer indices and truths).
        threads: OpenMP/BLAS threads of fitting and predicting (None: one per core).
        selection: how the GBT complexity was chosen (``candidate``, ``cv_folds``, the
            candidates' mean ``cv_kendall_tau``); None for the GP.
    """

    model: str
    dataset: str
    hp: str
    metric: str
    epoch: int | None
    encoder: ArchEncoder
    estimator: Any
    train_index: np.ndarray
    seed: int
    bench: "Bench" = field(repr=False)
    threads: int | None = 1
    selection: dict[str, Any] | None = None

    @property
    def train_size(self) -> int:
        return int(self.train_index.size)

    def _arch_strs(self, archs: Any) -> list[str]:
        if isinstance(archs, (str, int, np.integer)):
            archs = [archs]
        table = self.bench.arch_strs
        if isinstance(archs, np.ndarray) and archs.dtype.kind in "iu":
            if archs.size and (archs.min() < 0 or archs.max() >= len(table)):
                raise QueryError(f"architecture indices out of range; valid: 0..{len(table) - 1}")
            return [table[i] for i in archs.tolist()]
        out = []
        for a in archs:
            if isinstance(a, (int, np.integer)) and not isinstance(a, bool):
                out.append(table[self.bench.index_of(int(a))])
            elif isinstance(a, str):
                out.append(a)
            else:
                raise QueryError(f"an architecture is an int index or an arch string, got {a!r}")
        return out

    def predict(self, archs: Any) -> np.ndarray:
        """Predicted values, float64 ``[n]``, for arch strings (in the benchmark or not) or
        bench indices. Raises InvalidArchError for strings outside the space."""
        strs = self._arch_strs(archs)
        if not strs:
            return np.zeros(0)
        X = self.encoder.transform(strs)
        with _thread_limit(self.threads):
            return np.asarray(self.estimator.predict(X), dtype=np.float64)

    def kendall_tau(self, holdout_archs: Any, values: Sequence[float] | None = None) -> float:
        """Kendall's tau-b between predictions and truths of ``holdout_archs``.

        Truths are ``values`` if given, else the benchmark's measured values (every
        architecture must be measured there).
        """
        strs = self._arch_strs(holdout_archs)
        if values is None:
            idx = self.bench.indices_of(strs)
            truth = _measured(self.bench, self.dataset, self.hp, self.metric, self.epoch)[idx]
            if np.isnan(truth).any():
                bad = [strs[i] for i in np.flatnonzero(np.isnan(truth))[:3]]
                raise QueryError(f"{int(np.isnan(truth).sum())} hold-out architectures have no measured "
                                 f"{self.metric} (e.g. {bad}); pass values= or measured archs")
        else:
            truth = np.asarray(values, dtype=np.float64)
            if truth.shape != (len(strs),):
                raise QueryError(f"values has shape {truth.shape}, expected ({len(strs)},)")
        return _kendall_tau(self.predict(strs), truth)

    def describe(self) -> dict[str, Any]:
        """Provenance: model, estimator parameters, features, training set size."""
        import sklearn

        params = {k: v for k, v in self.estimator.get_params(deep=True).items()
                  if isinstance(v, (int, float, str, bool, type(None)))}
        kernel = getattr(self.estimator[-1], "kernel_", None) if self.model == "gp" else None
        return {"model": self.model, "estimator": type(self.estimator).__name__,
                "estimator_params": params, "fitted_kernel": None if kernel is None else str(kernel),
                "selection": self.selection,
                "features": self.encoder.describe(), "train_size": self.train_size,
                "seed": self.seed, "sklearn": sklearn.__version__}


def fit_surrogate(bench: "Bench", dataset: str, hp: int | str, metric: str, *, model: str = "gbt",
                  epoch: int | None = None, seed: int = 0, archs: Sequence[int] | None = None,
                  gp_max_train: int = 3000, threads: int | None = 1) -> Surrogate:
    """Fit a surrogate of ``metric`` on the measured architectures of a benchmark.

    Args:
        bench: the benchmark.
        dataset, hp, metric: the group and metric (a metric name of the group, or a cost:
            ``params`` in M, ``flops`` in M, ``latency`` in s).
        model: ``"gbt"`` (its complexity chosen by cross-validation on the training
            architectures, see :data:`GBT_CANDIDATES`; recorded in ``Surrogate.selection``)
            or ``"gp"``.
        epoch: 0-based epoch of the metric (None: last; negative counts from the end).
        seed: random state of the estimator (and of the GBT's folds and the GP's training
            subsample).
        archs: bench indices to train on (default: every measured architecture); each must
            be measured.
        gp_max_train: the GP costs O(n^3): above this many training points it trains on a
            uniform subsample of this size (logged, and ``train_size`` says so).
        threads: OpenMP/BLAS threads for fitting and predicting (default 1, which is fast
            at benchmark sizes and does not compete with training jobs; None: one per core).

    Returns:
        the fitted :class:`Surrogate`.
    """
    if model not in MODELS:
        raise QueryError(f"unknown surrogate model {model!r}; valid: {list(MODELS)}")
    hp = normalize_hp(hp)
    e = _resolve_epoch(bench, dataset, hp, metric, epoch)
    values = _measured(bench, dataset, hp, metric, e)
    measured = np.isfinite(values)
    if archs is None:
        train = np.flatnonzero(measured)
    else:
        train = np.unique(np.asarray(archs, dtype=np.int64))
        if train.size and (train.min() < 0 or train.max() >= len(values)):
            raise QueryError(f"training indices must be in 0..{len(values) - 1}")
        missing = train[~measured[train]]
        if missing.size:
            raise QueryError(f"{missing.size} training architectures have no measured {metric} on "
                             f"{dataset} hp {hp} (indices {missing[:5].tolist()})")
    if train.size < 2:
        raise QueryError(f"a surrogate of {metric} on {dataset} hp {hp} needs >= 2 measured "
                         f"architectures, found {train.size}")
    rng = np.random.default_rng(seed)
    if model == "gp" and train.size > gp_max_train:
        log.warning("GP surrogate: training on a random %d of %d measured architectures",
                    gp_max_train, train.size)
        train = np.sort(rng.choice(train, size=gp_max_train, replace=False))
    encoder = ArchEncoder(bench.space, bench_space_options(bench))
    table = bench.arch_strs
    X = encoder.transform([table[i] for i in train])
    y = values[train]
    selection = None
    with _thread_limit(threads):
        if model == "gbt":
            chosen, cv_tau = _select_gbt(X, y, seed)
            selection = {"candidate": chosen, "cv_folds": GBT_CV_FOLDS if cv_tau else 0,
                         "cv_kendall_tau": cv_tau}
            estimator = _gbt(chosen, train.size, seed)
        else:
            estimator = _gp(seed)
        estimator.fit(X, y)
    log.info("fitted %s surrogate of %s (%s hp %s, epoch %s) on %d archs", model, metric,
             dataset, hp, e, train.size)
    return Surrogate(model=model, dataset=dataset, hp=hp, metric=metric, epoch=e, encoder=encoder,
                     estimator=estimator, train_index=train, seed=seed, bench=bench,
                     threads=threads, selection=selection)


def holdout_split(bench: "Bench", dataset: str, hp: int | str, metric: str, fraction: float, *,
                  seed: int = 0, epoch: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A random split of the measured architectures: (train indices, held-out indices).

    ``fraction`` in (0, 1) of them (rounded, at least 2) are held out, chosen with
    ``numpy.random.default_rng(seed)``; both arrays are sorted int64.
    """
    if not 0.0 < fraction < 1.0:
        raise QueryError(f"hold-out fraction must be in (0, 1), got {fraction}")
    e = _resolve_epoch(bench, dataset, hp, metric, epoch)
    measured = np.flatnonzero(np.isfinite(_measured(bench, dataset, normalize_hp(hp), metric, e)))
    n_test = max(2, int(round(fraction * measured.size)))
    if measured.size - n_test < 2:
        raise QueryError(f"{measured.size} measured architectures are too few to hold out "
                         f"{fraction:.0%} and train on the rest")
    perm = np.random.default_rng(seed).permutation(measured)
    return np.sort(perm[n_test:]), np.sort(perm[:n_test])


# -- persisted predictions --------------------------------------------------------------------
def prediction_paths(bench_dir: str | os.PathLike, dataset: str, hp: int | str,
                     metric: str) -> tuple[Path, Path]:
    """``(parquet, json)`` paths of stored predictions of one metric."""
    for name, value in (("dataset", dataset), ("metric", metric)):
        if not value or "/" in value or "\\" in value or value in (".", ".."):
            raise QueryError(f"{name} {value!r} cannot name a file")
    base = Path(bench_dir) / SURROGATE_DIR / dataset / normalize_hp(hp)
    return base / f"{metric}.parquet", base / f"{metric}.json"


def _arch_digest(arch_strs: Sequence[str]) -> str:
    h = hashlib.sha256()
    for a in arch_strs:
        h.update(a.encode("utf-8"))
        h.update(b"\n")
    return h.hexdigest()


@dataclass
class SurrogatePredictions:
    """Stored surrogate answers of one metric for every architecture of a benchmark.

    Attributes:
        value: float64 ``[n_archs]``: the measured value where ``measured``, else the prediction.
        measured: bool ``[n_archs]``.
        prediction: float64 ``[n_archs]``: the model's prediction for every architecture.
        info: the provenance JSON (model, features, train size, hold-out Kendall tau, ...).
    """

    value: np.ndarray
    measured: np.ndarray
    prediction: np.ndarray
    info: dict[str, Any]

    @property
    def epoch(self) -> int | None:
        return self.info.get("epoch")

    def frame(self) -> "pd.DataFrame":
        import pandas as pd

        return pd.DataFrame({"index": np.arange(self.value.size, dtype=np.int64), "value": self.value,
                             "measured": self.measured, "prediction": self.prediction})


def save_surrogate_predictions(bench: "Bench", surrogate: Surrogate, *,
                               holdout: Mapping[str, Any] | None = None,
                               extra: Mapping[str, Any] | None = None) -> Path:
    """Store ``surrogate``'s answers for every architecture of ``bench`` (docs/FORMAT.md).

    Writes ``BENCH/surrogate/<dataset>/<hp>/<metric>.parquet`` (columns ``index`` int64,
    ``value`` = measured value or prediction, ``measured`` bool, ``prediction``; values in
    the group's metric dtype, float32 or float64, costs float64) and the provenance
    ``<metric>.json``, each atomically; the JSON, written last,
    holds the Parquet's sha256, so a reader never mixes two fits. ``holdout`` (e.g.
    ``{"fraction", "n_train", "n_test", "kendall_tau"}``) is recorded as given.

    Returns the Parquet path.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from natsbench._version import __version__

    measured_vals = _measured(bench, surrogate.dataset, surrogate.hp, surrogate.metric, surrogate.epoch)
    measured = np.isfinite(measured_vals)
    prediction = surrogate.predict(np.arange(len(bench), dtype=np.int64))
    value = np.where(measured, measured_vals, prediction)
    # the group's own precision: float32 builds store half the bytes, measured values stay exact
    dtype = np.float64 if surrogate.metric in COST_NAMES else np.dtype(
        bench.group(surrogate.dataset, surrogate.hp).info.dtype)
    table = pa.table({"index": pa.array(np.arange(len(bench), dtype=np.int64)),
                      "value": pa.array(value.astype(dtype)), "measured": pa.array(measured),
                      "prediction": pa.array(prediction.astype(dtype))})
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd")
    payload = buf.getvalue()
    pq_path, json_path = prediction_paths(bench.path, surrogate.dataset, surrogate.hp, surrogate.metric)
    info = {"schema": SCHEMA, "dataset": surrogate.dataset, "hp": surrogate.hp,
            "metric": surrogate.metric, "epoch": surrogate.epoch, "reduce": "seed mean",
            **surrogate.describe(),
            "holdout": dict(holdout) if holdout is not None else None,
            "num_archs": len(bench), "num_measured": int(measured.sum()),
            "arch_order": bench.manifest.arch_order, "arch_digest": _arch_digest(bench.arch_strs),
            "parquet_sha256": hashlib.sha256(payload).hexdigest(),
            "code_version": __version__,
            "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            **({"extra": dict(extra)} if extra else {})}
    atomic_write_bytes(pq_path, payload)
    atomic_write_bytes(json_path, json.dumps(info, indent=1, allow_nan=False).encode("utf-8"))
    log.info("stored %s surrogate predictions of %s in %s", surrogate.model, surrogate.metric, pq_path)
    return pq_path


def load_surrogate_predictions(bench_dir: str | os.PathLike, dataset: str, hp: int | str,
                               metric: str, *, arch_strs: Sequence[str] | None = None) -> SurrogatePredictions:
    """Read stored predictions (see :func:`save_surrogate_predictions`).

    ``arch_strs``: the benchmark's architecture table when the caller has it open already
    (default: read from ``bench_dir``); the predictions must have been made for it.

    Raises:
        QueryError: none stored for this (dataset, hp, metric) (names the stored ones).
        StoreError: unreadable files, a Parquet that does not match its JSON, or predictions
            of a different architecture table than the benchmark's now.
    """
    import pyarrow.parquet as pq

    from natsbench.store.reader import StoreReader, column_to_numpy

    pq_path, json_path = prediction_paths(bench_dir, dataset, hp, metric)
    if not json_path.is_file() or not pq_path.is_file():
        root = Path(bench_dir) / SURROGATE_DIR
        stored = sorted(str(p.relative_to(root).with_suffix("")) for p in root.rglob("*.json")) \
            if root.is_dir() else []
        raise QueryError(f"no stored surrogate predictions for {dataset} hp {normalize_hp(hp)} "
                         f"{metric} in {bench_dir}; stored: {stored or 'none'}")
    try:
        info = json.loads(json_path.read_text(encoding="utf-8"))
        payload = pq_path.read_bytes()
    except (OSError, ValueError) as exc:
        raise StoreError(f"{json_path}: unreadable surrogate predictions ({exc})") from exc
    if info.get("schema") != SCHEMA:
        raise StoreError(f"{json_path}: unsupported schema {info.get('schema')!r}; expected {SCHEMA!r}")
    if hashlib.sha256(payload).hexdigest() != info.get("parquet_sha256"):
        raise StoreError(f"{pq_path} does not match {json_path.name} (interrupted or concurrent "
                         "fit?); run `natsbench surrogate fit` again")
    if arch_strs is None:
        arch_strs = StoreReader(bench_dir).arch_strs
    if len(arch_strs) != info.get("num_archs") or _arch_digest(arch_strs) != info.get("arch_digest"):
        raise StoreError(f"{json_path}: predictions were made for another architecture table "
                         f"({info.get('num_archs')} archs) than {bench_dir} has now ({len(arch_strs)}); refit")
    table = pq.read_table(io.BytesIO(payload))
    index = column_to_numpy(table.column("index"))
    if not np.array_equal(index, np.arange(len(arch_strs))):
        raise StoreError(f"{pq_path}: index column must be 0..{len(arch_strs) - 1} in order")
    return SurrogatePredictions(
        value=column_to_numpy(table.column("value")).astype(np.float64),
        measured=column_to_numpy(table.column("measured")).astype(bool),
        prediction=column_to_numpy(table.column("prediction")).astype(np.float64), info=info)


# -- a benchmark that always answers ----------------------------------------------------------
class SurrogateBench:
    """A :class:`Bench` whose unmeasured answers come from surrogates, flagged as predicted.

    Answers are seed means (the surrogates are fitted on seed means). For each
    (dataset, hp, metric, epoch) the predictor is, in this order: one given with
    :meth:`add`, stored predictions of the same epoch (``use_stored``), or a surrogate fitted
    on first use with ``model`` and ``seed`` (logged as a warning). Stored predictions that
    cannot answer (another epoch) are never silently replaced by a new fit: that is a
    :class:`QueryError` unless ``use_stored=False``.

    Args:
        bench: a :class:`Bench` or a benchmark directory.
        model, seed: how missing surrogates are fitted.
        use_stored: use predictions stored under ``BENCH/surrogate/``; False ignores them
            and fits (CLI: ``natsbench query --surrogate --refit``).
    """

    def __init__(self, bench: "Bench | str | os.PathLike", *, model: str = "gbt", seed: int = 0,
                 use_stored: bool = True) -> None:
        from natsbench.api.bench import Bench

        if model not in MODELS:
            raise QueryError(f"unknown surrogate model {model!r}; valid: {list(MODELS)}")
        self.bench = bench if isinstance(bench, Bench) else Bench(bench)
        self.model, self.seed, self.use_stored = model, seed, use_stored
        self._predictors: dict[tuple[str, str, str, int | None], Surrogate | SurrogatePredictions] = {}

    def __repr__(self) -> str:
        return f"SurrogateBench({self.bench!r}, model={self.model!r})"

    def add(self, surrogate: Surrogate) -> None:
        """Answer the surrogate's (dataset, hp, metric, epoch) with it."""
        key = (surrogate.dataset, surrogate.hp, surrogate.metric, surrogate.epoch)
        self._predictors[key] = surrogate

    def predictor(self, dataset: str, hp: int | str, metric: str,
                  epoch: int | None = None) -> Surrogate | SurrogatePredictions:
        """The predictor answering one metric at one epoch (fitted or loaded on first use)."""
        hp = normalize_hp(hp)
        e = _resolve_epoch(self.bench, dataset, hp, metric, epoch)
        key = (dataset, hp, metric, e)
        found = self._predictors.get(key)
        if found is None:
            if self.use_stored and prediction_paths(self.bench.path, dataset, hp, metric)[1].is_file():
                stored = load_surrogate_predictions(self.bench.path, dataset, hp, metric,
                                                    arch_strs=self.bench.arch_strs)
                if stored.epoch != e:
                    raise StoredPredictionsError(
                        f"the stored surrogate predictions of {metric} ({dataset} hp {hp}) are for "
                        f"epoch {stored.epoch}, not epoch {e}; store them for epoch {e} "
                        f"(natsbench surrogate fit --epoch {e}) or fit one now, ignoring the stored "
                        f"ones (use_stored=False; CLI: --refit)")
                found = stored
            if found is None:
                log.warning("no stored surrogate predictions of %s (%s hp %s, epoch %s)%s: fitting "
                            "a %s surrogate now", metric, dataset, hp, e,
                            "" if self.use_stored else " used (use_stored=False)", self.model)
                found = fit_surrogate(self.bench, dataset, hp, metric, model=self.model, epoch=e,
                                      seed=self.seed)
            self._predictors[key] = found
        return found

    def _resolve(self, archs: Any) -> tuple[np.ndarray, list[str | None]]:
        """Bench indices (-1: not in the bench) and the strings of archs not in the bench."""
        n = len(self.bench)
        if archs is None:
            return np.arange(n, dtype=np.int64), [None] * n
        if isinstance(archs, (str, int, np.integer)):
            archs = [archs]
        index = self.bench.reader.arch_index
        idx = np.empty(len(archs), dtype=np.int64)
        outside: list[str | None] = []
        for k, a in enumerate(archs):
            if isinstance(a, str) and a not in index:
                idx[k] = -1
                outside.append(a)
            else:
                idx[k] = self.bench.index_of(a)
                outside.append(None)
        return idx, outside

    def query(self, dataset: str, hp: int | str, metric: str, archs: Any = None,
              epoch: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(values float64 [n], measured bool [n])`` of one metric.

        ``archs``: None (every bench architecture), bench indices, or arch strings; a string
        not in the benchmark is predicted (needs a fitted surrogate, not stored predictions).
        """
        hp = normalize_hp(hp)
        e = _resolve_epoch(self.bench, dataset, hp, metric, epoch)
        idx, outside = self._resolve(archs)
        inside = idx >= 0
        values = np.full(idx.size, np.nan)
        values[inside] = _measured(self.bench, dataset, hp, metric, e)[idx[inside]]
        measured = np.isfinite(values)
        todo = np.flatnonzero(~measured)
        if todo.size:
            pred = self.predictor(dataset, hp, metric, e)
            if isinstance(pred, SurrogatePredictions):
                off = [outside[i] for i in todo if idx[i] < 0]
                if off:
                    raise StoredPredictionsError(f"{off[0]!r} is not in the benchmark and stored predictions cover "
                                     f"only its {len(self.bench)} architectures; use use_stored=False "
                                     "(CLI: --refit) to fit a surrogate that predicts any architecture")
                values[todo] = pred.prediction[idx[todo]]
            else:
                strs = [outside[i] if idx[i] < 0 else self.bench.arch_strs[idx[i]] for i in todo]
                values[todo] = pred.predict(strs)
        return values, measured

    def metric(self, dataset: str, hp: int | str, metric: str, archs: Any = None,
               epoch: int | None = None) -> np.ndarray:
        """Values, float64 ``[n]``: measured seed means where present, predictions elsewhere."""
        return self.query(dataset, hp, metric, archs=archs, epoch=epoch)[0]

    def measured_mask(self, dataset: str, hp: int | str, metric: str, archs: Any = None,
                      epoch: int | None = None) -> np.ndarray:
        """Bool ``[n]``: True where :meth:`metric` answers with a measured value."""
        hp = normalize_hp(hp)
        e = _resolve_epoch(self.bench, dataset, hp, metric, epoch)
        idx, _ = self._resolve(archs)
        out = np.zeros(idx.size, dtype=bool)
        inside = idx >= 0
        out[inside] = np.isfinite(_measured(self.bench, dataset, hp, metric, e)[idx[inside]])
        return out

    def table(self, dataset: str, hp: int | str, metrics: Sequence[str] | None = None,
              epoch: int | None = None, costs: bool = False) -> "pd.DataFrame":
        """One row per bench architecture: ``arch``, the metrics, and ``measured``.

        ``measured`` is True where every value of the row was measured, False where at
        least one is a prediction. ``costs`` adds ``params``, ``flops``, ``latency``
        (predicted like any metric where not measured).
        """
        import pandas as pd

        names = list(metrics) if metrics is not None else self.bench.metric_names(dataset, hp)
        names += list(COST_NAMES) if costs else []
        df = pd.DataFrame({"arch": self.bench.arch_strs})
        measured = np.ones(len(self.bench), dtype=bool)
        for name in names:
            values, mask = self.query(dataset, hp, name, epoch=epoch)
            df[name] = values
            measured &= mask
        df["measured"] = measured
        df.index.name = "index"
        return df


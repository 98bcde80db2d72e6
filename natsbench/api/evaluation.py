"""Evaluation sources: where the answer for an architecture comes from when a search asks.

One interface serves the search runner (``search_algorithms.problem``) and ``natsbench query``:

1. **table** -- the benchmark's own measured runs (and runs trained earlier by this user, read
   from the user cache store, see below);
2. **surrogate** -- :func:`surrogate_curves`: a fitted model's prediction of the per-epoch
   validation accuracy, the per-epoch training and validation time and the reported accuracy,
   plus a noise model (:class:`SurrogateCurves.noise_sd`) from which a runner draws with its own
   RNG, so that repeated queries of one architecture vary like re-trainings;
3. **trained** -- :func:`natsbench.build.on_demand.train_missing` (in the build layer, as it
   trains): training the architecture now with the benchmark's own
   recorded protocol (dataset, image size, model settings, protocol, first seed, all read from
   the manifest) and writing the record to the user cache store (:func:`user_cache_store`),
   never into the benchmark directory; the next query of the architecture is a table hit.

``SOURCES`` names them as they appear in output rows; ``ON_MISSING`` are the policies a run
chooses from for architectures the table lacks.

The surrogate's learning curve. The stored or fitted surrogate predicts the *final-epoch*
metric (what ``natsbench surrogate fit`` stores). Epoch ``e`` of an unmeasured architecture is
``a_e + b_e * final`` with ``(a_e, b_e)`` the least-squares fit of the measured architectures'
seed-mean accuracy at epoch ``e`` on their seed-mean final accuracy. Per-epoch training time is
the predicted (last-epoch) training time, every epoch; validation time is a least-squares
linear function of it fitted on the measured architectures.

The noise model (percent, per epoch): with a benchmark of two or more seeds, the pooled
within-architecture seed standard deviation at each epoch (``sqrt(mean_a var_a)`` over the
architectures with >= 2 seeds); with one seed, the standard deviation of the residuals
``measured - predicted`` of the measured architectures at each epoch (the surrogate's residual
spread: an upper bound of the seed noise, as it also holds the model's error).
"""
from __future__ import annotations

import hashlib
import logging
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from natsbench.errors import QueryError, StoreError
from natsbench.store.records import normalize_hp

if TYPE_CHECKING:  # pragma: no cover
    from natsbench.api.bench import Bench
    from natsbench.store.records import RunRecord

log = logging.getLogger(__name__)

#: Where an answer came from, as written in output rows (index = the int8 code).
SOURCES: tuple[str, ...] = ("table", "surrogate", "trained")
#: Policies for an architecture the table lacks.
ON_MISSING: tuple[str, ...] = ("error", "surrogate", "train")
#: Sub-directory of the natsbench cache root holding the per-benchmark stores of trained runs.
CACHE_SUBDIR = "trained"


def check_on_missing(policy: str) -> str:
    """``policy`` if it is one of :data:`ON_MISSING`; a :class:`QueryError` naming them otherwise."""
    if policy not in ON_MISSING:
        raise QueryError(f"on_missing {policy!r} is not one of {', '.join(ON_MISSING)}")
    return policy


# -- the user cache store --------------------------------------------------------------------
def cache_root() -> Path:
    """The natsbench cache root: ``$NATSBENCH_CACHE``, else ``~/.cache/natsbench``."""
    root = os.environ.get("NATSBENCH_CACHE")
    return Path(root) if root else Path.home() / ".cache" / "natsbench"


def user_cache_store(bench: "Bench") -> Path:
    """The directory trained records of ``bench`` go to (created on first write).

    ``<cache root>/trained/<digest>`` where the digest covers the benchmark's resolved path,
    space and manifest provenance (date, protocol), so two benchmarks never share a store and
    the package data is never written.
    """
    prov = bench.manifest.provenance or {}
    protocol = prov.get("protocol")  # a protocol's fields, or a description (imported archives)
    if isinstance(protocol, dict):
        protocol = sorted(protocol.items())
    key = "|".join([str(Path(bench.path).resolve()), bench.space, str(prov.get("date")),
                    repr(protocol)])
    return cache_root() / CACHE_SUBDIR / hashlib.sha1(key.encode("utf-8")).hexdigest()[:20]


def cached_records(bench: "Bench", dataset: str, hp: int | str) -> list["RunRecord"]:
    """Finished (``ok``) records of ``bench``'s (dataset, hp) in the user cache store."""
    from natsbench.store.records import iter_records

    store = user_cache_store(bench)
    if not store.is_dir():
        return []
    return [r for r in iter_records(store, dataset, hp) if r.status == "ok"]


# -- surrogate answers -----------------------------------------------------------------------
@dataclass
class SurrogateCurves:
    """Predicted search-protocol answers for a list of architectures. Shapes: N archs, E epochs.

    Attributes:
        archs: the N architecture strings.
        mean: [N, E] predicted validation accuracy (percent) after epoch e+1.
        noise_sd: [E] standard deviation (percent) of one query's noise at epoch e+1.
        train_time: [N, E] predicted training seconds of epoch e+1.
        valid_time: [N, E] predicted seconds of the validation pass after epoch e+1.
        reported: [N] predicted reported accuracy (percent), NaN where none could be made.
        info: provenance (models, noise source, fitted coefficients).
    """

    archs: list[str]
    mean: np.ndarray
    noise_sd: np.ndarray
    train_time: np.ndarray
    valid_time: np.ndarray
    reported: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)

    def draw(self, rng: np.random.Generator, rows: np.ndarray, epochs: np.ndarray) -> np.ndarray:
        """Noisy feedback for (rows, epochs 1-based), float64 [n], drawn from ``rng``."""
        rows = np.asarray(rows, dtype=np.int64)
        e = np.asarray(epochs, dtype=np.int64) - 1
        return self.mean[rows, e] + self.noise_sd[e] * rng.standard_normal(rows.size)


def _final_predictions(sb: Any, bench: "Bench", dataset: str, hp: str, metric: str,
                       archs: Sequence[str]) -> np.ndarray:
    """Final-epoch predictions of ``metric`` for ``archs`` (the model's answer even where
    the arch is measured)."""
    from natsbench.api.surrogate import SurrogatePredictions

    pred = sb.predictor(dataset, hp, metric)
    if isinstance(pred, SurrogatePredictions):
        index = bench.reader.arch_index
        idx = np.fromiter((index.get(a, -1) for a in archs), dtype=np.int64, count=len(archs))
        if (idx < 0).any():
            bad = archs[int(np.flatnonzero(idx < 0)[0])]
            raise QueryError(f"{bad!r} is not in the benchmark; stored predictions cover only "
                             f"its architectures")
        return pred.prediction[idx]
    return pred.predict(list(archs))


def _lstsq_line(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """(intercept, slope, residual sd) of y on x over finite pairs; slope 0 if x is constant."""
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if y.size == 0:
        return float("nan"), 0.0, float("nan")
    if y.size < 2 or np.ptp(x) == 0:
        return float(y.mean()), 0.0, float(y.std())
    slope, intercept = np.polyfit(x, y, 1)
    resid = y - (intercept + slope * x)
    return float(intercept), float(slope), float(resid.std())


@dataclass
class SearchSurrogate:
    """Fitted models answering the search protocol for any architecture (see the module
    docstring); :meth:`curves` predicts a batch. Build with :func:`fit_search_surrogate`."""

    bench: Any = field(repr=False)
    dataset: str
    hp: str
    eval_set: str
    report: tuple[str, str, str] | None
    surrogates: Any = field(repr=False)            # SurrogateBench of the search group
    intercept: np.ndarray = field(repr=False)      # [E]
    slope: np.ndarray = field(repr=False)          # [E]
    noise_sd: np.ndarray = field(repr=False)       # [E]
    valid_line: tuple[float, float] = (0.0, 0.0)
    info: dict[str, Any] = field(default_factory=dict)

    def curves(self, archs: Sequence[str]) -> SurrogateCurves:
        """Predictions for ``archs`` (one batched model call per metric)."""
        archs = list(archs)
        sb, bench, ds, hp = self.surrogates, self.bench, self.dataset, self.hp
        final = _final_predictions(sb, bench, ds, hp, f"{self.eval_set}_acc1", archs)
        mean = self.intercept[None, :] + self.slope[None, :] * final[:, None]
        train_epoch = _final_predictions(sb, bench, ds, hp, "train_time", archs)
        n_epochs = self.intercept.size
        train_time = np.repeat(np.maximum(train_epoch, 0.0)[:, None], n_epochs, axis=1)
        valid_time = np.maximum(self.valid_line[0] + self.valid_line[1] * train_time, 0.0)
        reported = np.full(len(archs), np.nan)
        if self.report is not None:
            r_ds, r_set, r_hp = self.report
            try:
                reported = _final_predictions(sb, bench, r_ds, normalize_hp(r_hp),
                                              f"{r_set}_acc1", archs)
            except QueryError as exc:
                log.info("no surrogate of the reported accuracy: %s", exc)
                self.report = None
        return SurrogateCurves(archs=archs, mean=mean, noise_sd=self.noise_sd,
                               train_time=train_time, valid_time=valid_time, reported=reported,
                               info=self.info)


def fit_search_surrogate(bench: "Bench", dataset: str, hp: int | str, eval_set: str, *,
                         report: tuple[str, str, str] | None = None, model: str = "gbt",
                         seed: int = 0, use_stored: bool = True,
                         archs: Sequence[int] | None = None) -> SearchSurrogate:
    """Fit (or load) the models of :class:`SearchSurrogate` for one search group.

    Args:
        bench: the benchmark whose measured runs the models learn from.
        dataset, hp, eval_set: the search group and the set whose ``<set>_acc1`` is feedback.
        report: (dataset, set, hp) of the reported accuracy to predict too (None: NaN).
        model, seed: how a surrogate is fitted where none is stored.
        use_stored: use ``BENCH/surrogate/`` predictions (they cover the benchmark's archs
            only; False fits models that answer any architecture of the space).
        archs: bench indices the models, curve lines and noise may learn from (default: every
            measured architecture); e.g. the training part of a hold-out split.
    """
    from natsbench.api.surrogate import SurrogateBench

    hp = normalize_hp(hp)
    sb = SurrogateBench(bench, model=model, seed=seed, use_stored=use_stored)
    acc_name, time_name = f"{eval_set}_acc1", f"{eval_set}_time"
    acc = np.asarray(bench.metric(dataset, hp, acc_name, seed="all", epoch="all"), np.float64)
    n_bench, n_seeds, n_epochs = acc.shape
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        seed_mean = np.nanmean(acc, axis=1) if n_seeds > 1 else acc[:, 0, :]     # [Nb, E]
    measured = np.isfinite(seed_mean[:, -1])
    if archs is not None:
        from natsbench.api.surrogate import fit_surrogate

        allowed = np.zeros(n_bench, dtype=bool)
        allowed[np.asarray(archs, dtype=np.int64)] = True
        measured &= allowed
        acc = np.where(allowed[:, None, None], acc, np.nan)
        train = np.flatnonzero(measured)
        use_stored = False
        sb = SurrogateBench(bench, model=model, seed=seed, use_stored=False)
        for metric in (acc_name, "train_time"):
            sb.add(fit_surrogate(bench, dataset, hp, metric, model=model, seed=seed, archs=train))
    if measured.sum() < 2:
        raise QueryError(f"a surrogate of {dataset} hp {hp} needs >= 2 measured architectures, "
                         f"found {int(measured.sum())}")
    coef = [_lstsq_line(seed_mean[measured, -1], seed_mean[measured, e]) for e in range(n_epochs)]
    a = np.array([c[0] for c in coef])
    b = np.array([c[1] for c in coef])
    b[-1], a[-1] = 1.0, 0.0
    # noise: seed spread if the benchmark has it, else the surrogate's residual spread
    counts = np.isfinite(acc[:, :, -1]).sum(axis=1)
    multi = counts >= 2
    if multi.sum() >= 2:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            var = np.nanvar(acc[multi], axis=1, ddof=1)                             # [M, E]
        noise = np.sqrt(np.nanmean(var, axis=0))
        noise_source = f"seed spread of {int(multi.sum())} archs with >= 2 seeds"
    else:
        m_idx = np.flatnonzero(measured)
        fit_final = _final_predictions(sb, bench, dataset, hp, acc_name,
                                       [bench.arch_strs[i] for i in m_idx])
        resid = seed_mean[m_idx] - (a[None, :] + b[None, :] * fit_final[:, None])
        noise = np.nanstd(resid, axis=0)
        noise_source = f"residual spread of {m_idx.size} measured archs (one seed)"
    if not np.all(np.isfinite(noise)):
        raise StoreError(f"could not estimate the surrogate noise of {dataset} hp {hp}: {noise}")
    tt = np.asarray(bench.metric(dataset, hp, "train_time", seed="all", epoch="all"), np.float64)
    vt = np.asarray(bench.metric(dataset, hp, time_name, seed="all", epoch="all"), np.float64)
    with warnings.catch_warnings():       # unmeasured archs: all-NaN slices -> NaN, dropped
        warnings.simplefilter("ignore", RuntimeWarning)
        tt_arch, vt_arch = np.nanmean(tt, axis=(1, 2)), np.nanmean(vt, axis=(1, 2))
    va, vb, _ = _lstsq_line(tt_arch, vt_arch)
    info = {"model": model, "stored": use_stored, "noise": noise_source,
            "noise_sd": [float(x) for x in noise], "curve_intercept": a.tolist(),
            "curve_slope": b.tolist(), "valid_time_line": [va, vb]}
    return SearchSurrogate(bench=bench, dataset=dataset, hp=hp, eval_set=eval_set, report=report,
                           surrogates=sb, intercept=a, slope=b, noise_sd=noise,
                           valid_line=(va, vb), info=info)


def surrogate_curves(bench: "Bench", dataset: str, hp: int | str, eval_set: str,
                     archs: Sequence[str], *, report: tuple[str, str, str] | None = None,
                     model: str = "gbt", seed: int = 0, use_stored: bool = True) -> SurrogateCurves:
    """Predicted per-epoch feedback, times and noise of ``archs`` (see the module docstring
    and :func:`fit_search_surrogate`); stored predictions are used only where they cover
    every one of ``archs``."""
    archs = list(archs)
    in_bench = bench.reader.arch_index
    stored_ok = use_stored and all(a in in_bench for a in archs)
    return fit_search_surrogate(bench, dataset, hp, eval_set, report=report, model=model,
                                seed=seed, use_stored=stored_ok).curves(archs)


# -- one architecture's answer (``natsbench query``, the weight-sharing engine) ---------------
@dataclass
class ArchAnswer:
    """The answer of one architecture for (dataset, hp): values and where they came from.

    Attributes:
        values: metric or cost name -> value (NaN where nothing answers it).
        source: ``"table"`` (the benchmark's runs, or a run of the user cache store),
            ``"trained"`` (trained now, policy ``train``), ``"surrogate"`` (predicted, policy
            ``surrogate``) or ``"none"`` (nothing answered it).
        measured: the values come from runs (table, cache or trained now).
        predicted: names whose value is a surrogate prediction (flagged in output).
        unanswered: name -> why no surrogate could answer it.
        record: the run of the user cache store (or trained now) that answered, if any.
    """

    values: dict[str, float]
    source: str
    measured: bool = False
    predicted: list[str] = field(default_factory=list)
    unanswered: dict[str, str] = field(default_factory=dict)
    record: Any = None


def answer_arch(bench: "Bench", arch: str, index: int | None, dataset: str, hp: int | str,
                names: Sequence[str], *, on_missing: str = "error", epoch: int | None = None,
                seed: int | str = "mean", surrogates: Any = None, refit: bool = False,
                trainer: Any = None, progress: bool = False) -> ArchAnswer:
    """One architecture's ``names`` (metrics at ``epoch``, default last; costs) for
    (dataset, hp), by the evaluation-source rules: table -> user cache store -> ``on_missing``.

    Args:
        bench: the benchmark.
        arch: the (validated) arch string; ``index`` its bench index, or None if the
            benchmark's table lacks it.
        names: metric and cost names.
        on_missing: ``error`` (NaN, source ``none``), ``surrogate`` (seed-mean predictions,
            flagged) or ``train`` (``trainer``, i.e.
            :func:`natsbench.build.on_demand.train_missing`, which caches the record).
        seed: a seed or ``"mean"`` (table answers; surrogate answers are seed means).
        surrogates: a :class:`~natsbench.api.surrogate.SurrogateBench` to reuse (its fitted
            models are kept between calls); default: one made now (stored predictions unless
            ``refit``).
        trainer: callable ``(bench, arch, dataset, hp, progress=...) -> (record, was_cached)``
            or None; needed by ``on_missing="train"`` (the api layer does not import the build
            layer).
    """
    from natsbench.store.records import COST_NAMES

    check_on_missing(on_missing)
    hp = normalize_hp(hp)
    present = (bench.present(dataset, hp, archs=[index])[0] if index is not None
               else np.zeros(len(bench.seeds(dataset, hp)), dtype=bool))
    if bool(present.any()):
        values = {}
        for name in names:
            e = None if name in COST_NAMES else epoch
            values[name] = float(bench.metric(dataset, hp, name, archs=[index], seed=seed,
                                              epoch=e)[0])
        return ArchAnswer(values, "table", measured=True)
    record, source = None, "none"
    if on_missing == "train":
        if trainer is None:
            raise QueryError("on_missing 'train' needs a trainer "
                             "(natsbench.build.on_demand.train_missing)")
        found = trainer(bench, arch, dataset, hp, progress=progress)
        if found is not None:
            record, source = found[0], ("table" if found[1] else "trained")
    else:
        cached = [r for r in cached_records(bench, dataset, hp) if r.arch == arch]
        if cached:
            record, source = cached[0], "table"
    if record is not None:
        values = {}
        for name in names:
            if name in COST_NAMES:
                values[name] = float(record.costs.get(name, np.nan))
            else:
                series = record.metrics.get(name, [])
                e = len(series) - 1 if epoch is None else epoch
                values[name] = (float(series[e]) if series and -len(series) <= e < len(series)
                                else float("nan"))
        return ArchAnswer(values, source, measured=True, record=record)
    if on_missing == "surrogate":
        if seed != "mean":
            raise QueryError(f"surrogate answers are seed means: drop --seed {seed} or use "
                             f"--seed mean")
        values, predicted, unanswered = _predict_arch(
            bench, index if index is not None else arch, names, dataset, hp, epoch,
            surrogates=surrogates, refit=refit)
        return ArchAnswer(values, "surrogate" if predicted else "none", predicted=predicted,
                          unanswered=unanswered)
    return ArchAnswer({name: float("nan") for name in names}, "none")


def _predict_arch(bench: "Bench", index: int | str, names: Sequence[str], dataset: str, hp: str,
                  epoch: int | None, *, surrogates: Any = None, refit: bool = False
                  ) -> tuple[dict[str, float], list[str], dict[str, str]]:
    """Surrogate answers of one untrained architecture: (values, names predicted, unanswered).

    A metric no surrogate can answer (e.g. too few measured values) is NaN, and its reason is
    in ``unanswered`` (logged as a warning), never dropped silently; stored predictions that
    cannot answer raise (:class:`StoredPredictionsError`: the user decides, ``--refit``).
    """
    from natsbench.api.surrogate import SurrogateBench
    from natsbench.errors import StoredPredictionsError
    from natsbench.store.records import COST_NAMES

    sb = surrogates if surrogates is not None else SurrogateBench(bench, use_stored=not refit)
    values: dict[str, float] = {}
    predicted: list[str] = []
    unanswered: dict[str, str] = {}
    for name in names:
        try:
            value, was_measured = sb.query(dataset, hp, name, archs=[index],
                                           epoch=None if name in COST_NAMES else epoch)
        except StoredPredictionsError:
            raise
        except QueryError as exc:
            log.warning("no surrogate answer for %s: %s", name, exc)
            values[name] = float("nan")
            unanswered[name] = str(exc)
            continue
        values[name] = float(value[0])
        if not was_measured[0] and np.isfinite(values[name]):
            predicted.append(name)
    return values, predicted, unanswered

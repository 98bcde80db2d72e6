"""What a multi-trial search queries: a tabular problem of precomputed numpy arrays.

A :class:`TabularProblem` holds, for one search space and one dataset:

* the validation accuracy each architecture reaches after each epoch of the *search*
  protocol, per training seed (the feedback an algorithm gets),
* the recorded training time of each epoch and validation time of each evaluation (the price
  of a query on the simulated clock),
* the *reported* accuracy of each architecture: the test accuracy after the final protocol,
  averaged over seeds. It is only ever read by the runner to score the incumbent; no
  algorithm can reach it.

NATS-Bench semantics (Dong et al., TPAMI 2021, section 5.4 of Dong's thesis; the official API's
``simulate_train_eval`` and ``get_more_info``) that :meth:`TabularProblem.from_bench` follows:

=================  ====================================  ===================================
dataset            feedback (search hp ``12``)           reported (hp ``200`` tss, ``90`` sss)
=================  ====================================  ===================================
cifar10            ``cifar10-valid`` / ``x-valid``       ``cifar10`` / ``ori-test``
cifar100           ``cifar100`` / ``x-valid``            ``cifar100`` / ``x-test``
ImageNet16-120     ``ImageNet16-120`` / ``x-valid``      ``ImageNet16-120`` / ``x-test``
=================  ====================================  ===================================

For CIFAR-10 the search trains on the 25k training half and validates on the other 25k
(``cifar10-valid``); the reported number is the ``test-accuracy`` that
``get_more_info(arch, "cifar10", hp, is_random=False)`` returns, i.e. the original test set
after training on all 50k images. For CIFAR-100 and ImageNet16-120 the validation set
(``x-valid``) and the test set (``x-test``) are the two disjoint halves of the original test
set. The search-time costs come from the same records as the feedback (for CIFAR-10 the
``cifar10-valid`` runs), as in the official ``simulate_train_eval``.
"""
from __future__ import annotations

import array
import logging
import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Sequence

import numpy as np

from natsbench.datasets.specs import NATS_SET_SOURCES, TEST_SET_PREFERENCE
from natsbench.errors import QueryError
from natsbench.spaces.base import radix_weights
from natsbench.store.records import normalize_hp
from search_algorithms.base import GridSpace, SpaceLike, mutation_children

logger = logging.getLogger(__name__)

#: dataset -> (benchmark dataset, evaluation set) whose accuracy is the search feedback.
SEARCH_SOURCES: dict[str, tuple[str, str]] = {d: s["valid"] for d, s in NATS_SET_SOURCES.items()}
#: dataset -> (benchmark dataset, evaluation set) whose accuracy is reported.
REPORT_SOURCES: dict[str, tuple[str, str]] = {d: s["test"] for d, s in NATS_SET_SOURCES.items()}
#: search space -> training length (hp) of the reported accuracy (NATS-Bench H1 / H2).
REPORT_HPS: dict[str, str] = {"tss": "200", "sss": "90"}
#: Spaces with more encodings than this get no index table (rows looked up by encoding).
MAX_INDEX_TABLE = 1 << 26


@dataclass(eq=False)
class TabularProblem:
    """Arrays a search runner queries. Shapes: N archs, S seeds, E search epochs, D dimensions.

    Attributes:
        space: the search space; its ``num_choices`` define the encodings algorithms use.
        arch_strs: [N] architecture strings, in the row order of the arrays.
        codes: [N, D] int64 encodings of ``arch_strs``.
        valid_acc: [N, S, E] validation accuracy (percent) after epoch e+1 of the search
            protocol, per seed; NaN where that seed was not run.
        train_time: [N, S, E] seconds the training of epoch e+1 took.
        valid_time: [N, S, E] seconds the validation pass after epoch e+1 took.
        reported: [N] reported (test) accuracy in percent, mean over seeds; NaN if unknown.
        seeds: [S] seed values of the columns of the per-seed arrays.
        dataset: dataset name written in the output rows.
        sources: where each array came from (free-form provenance for logs and outputs).
        on_missing: what a query of a row without an available seed does: ``"error"``
            (:class:`QueryError`, the default), ``"surrogate"`` (a draw from ``surrogate``)
            or ``"train"`` (``trainer`` trains it; the record fills the row in place).
        surrogate: predicted answers for every row (:class:`natsbench.api.evaluation.
            SurrogateCurves`, rows aligned with ``arch_strs``); needed by ``"surrogate"``.
        trainer: trains one row (:class:`LiveTrainer`); needed by ``"train"``.
        reported_predicted: [N] bool, True where ``reported`` is a surrogate prediction.
        search_surrogate: the fitted :class:`natsbench.api.evaluation.SearchSurrogate` that
            answers architectures of an open space (no index table) on demand.

    A seed of an architecture is *available* when its validation accuracy is finite at every
    epoch; its times must then be finite too. Queries only ever see available seeds.
    """

    space: SpaceLike
    arch_strs: list[str]
    codes: np.ndarray
    valid_acc: np.ndarray
    train_time: np.ndarray
    valid_time: np.ndarray
    reported: np.ndarray
    seeds: tuple[int, ...]
    dataset: str = ""
    sources: dict[str, Any] = field(default_factory=dict)
    on_missing: str = "error"
    surrogate: "SurrogateCurves | None" = None
    trainer: "LiveTrainer | None" = None
    reported_predicted: np.ndarray | None = None
    search_surrogate: Any = None

    def __post_init__(self) -> None:
        # C-contiguous copies: the runner reads them through flat views (no per-run copies)
        self.codes = np.ascontiguousarray(self.codes, dtype=np.int64)
        self.valid_acc = np.ascontiguousarray(self.valid_acc, dtype=np.float64)
        self.train_time = np.ascontiguousarray(self.train_time, dtype=np.float64)
        self.valid_time = np.ascontiguousarray(self.valid_time, dtype=np.float64)
        self.reported = np.ascontiguousarray(self.reported, dtype=np.float64)
        self.seeds = tuple(int(s) for s in self.seeds)
        self.arch_strs = list(self.arch_strs)
        num_choices = tuple(int(n) for n in self.space.num_choices)
        n, d = len(self.arch_strs), len(num_choices)
        if self.valid_acc.ndim != 3:
            raise QueryError(f"valid_acc must be [archs, seeds, epochs], got shape "
                             f"{self.valid_acc.shape}")
        _, s, e = self.valid_acc.shape
        expected = {"codes": (n, d), "valid_acc": (n, s, e), "train_time": (n, s, e),
                    "valid_time": (n, s, e), "reported": (n,)}
        for name, shape in expected.items():
            actual = getattr(self, name).shape
            if actual != shape:
                raise QueryError(f"{name} has shape {actual}; expected {shape} for {n} archs, "
                                 f"{len(self.seeds)} seeds, {e} epochs, {d} dimensions")
        if len(self.seeds) != s:
            raise QueryError(f"{len(self.seeds)} seed values given for {s} seed columns")
        if n == 0 or e == 0:
            raise QueryError("a problem needs at least one architecture and one epoch")
        if np.any(self.codes < 0) or np.any(self.codes >= np.asarray(num_choices)):
            raise QueryError(f"codes outside the space's choices {num_choices}")

        available = np.all(np.isfinite(self.valid_acc), axis=2)            # [N, S]
        times_ok = np.all(np.isfinite(self.train_time) & np.isfinite(self.valid_time), axis=2)
        missing_time = available & ~times_ok
        if missing_time.any():
            a, k = np.argwhere(missing_time)[0]
            raise QueryError(f"{int(missing_time.sum())} (arch, seed) runs have validation "
                             f"accuracies but no train/validation times, e.g. "
                             f"{self.arch_strs[a]!r} seed {self.seeds[k]}; the simulated clock "
                             f"needs both")
        if np.any((self.train_time < 0) | (self.valid_time < 0)):
            raise QueryError("train_time and valid_time must be non-negative seconds")

        #: [N] number of available seeds per arch.
        self.seed_count = available.sum(axis=1).astype(np.int64)
        #: [N, S] seed columns, available ones first (stable order).
        self.seed_slots = np.argsort(~available, axis=1, kind="stable").astype(np.int64)
        epochs_seen = np.arange(1, e + 1, dtype=np.float64)
        #: [N, S, E] training seconds of epochs 1..e+1.
        self.cum_train = np.cumsum(np.nan_to_num(self.train_time), axis=2)
        #: [N, S, E] the official "valid-per-time": mean validation seconds over epochs 1..e+1.
        self.valid_per_time = np.cumsum(np.nan_to_num(self.valid_time), axis=2) / epochs_seen
        self.radix = radix_weights(num_choices)
        self.num_choices = num_choices
        size = math.prod(num_choices)            # a Python int: no overflow
        #: the space is too large for an index table (DARTS, ExtCell): rows are looked up by
        #: encoding, and (with a surrogate) rows are added for new architectures as they come
        self.open = size > MAX_INDEX_TABLE
        #: number of rows backed by the per-seed arrays (rows beyond are surrogate-only)
        self.num_table_rows = n
        #: row -> (predicted mean [E], cumulative train [E], valid-per-time [E]) of added rows
        self.open_rows: dict[int, tuple[list[float], list[float], list[float]]] = {}
        self.space_size = size
        self._every_encoding = False             # cache of answers_every_encoding()
        self._full_fidelity: tuple[list, ...] | None = None  # cache of full_fidelity_lists()
        self._full_fidelity_arrays: tuple[np.ndarray, ...] | None = None   # and of the arrays
        # cache of full_fidelity_by_draw(); False: the seed counts differ
        self._by_draw: tuple[int, list[float], list[float], list[int]] | bool | None = None
        self._mutation_rows: dict[bool, array.array] = {}  # cache of mutation_rows()
        from natsbench.api.evaluation import check_on_missing

        check_on_missing(self.on_missing)
        if self.on_missing == "surrogate" and (self.surrogate is None
                                               or self.surrogate.mean.shape != (n, e)):
            raise QueryError("on_missing 'surrogate' needs surrogate answers for every row "
                             f"([{n}, {e}] feedback means)")
        if self.on_missing == "train" and self.trainer is None:
            raise QueryError("on_missing 'train' needs a trainer")
        if self.reported_predicted is None:
            self.reported_predicted = np.zeros(n, dtype=bool)
        self.reported_predicted = np.ascontiguousarray(self.reported_predicted, dtype=bool)
        if self.surrogate is not None:
            #: [N, E] predicted training seconds of epochs 1..e+1, and valid-per-time
            self.sur_cum_train = np.ascontiguousarray(np.cumsum(self.surrogate.train_time, axis=1))
            self.sur_valid_per_time = np.ascontiguousarray(
                np.cumsum(self.surrogate.valid_time, axis=1) / epochs_seen)
            self.sur_mean = np.ascontiguousarray(self.surrogate.mean, dtype=np.float64)
            self.sur_noise = np.ascontiguousarray(self.surrogate.noise_sd, dtype=np.float64)
        if self.open:
            self.flat_to_row = None
            if len(self.codes_to_row) != n:
                raise QueryError("two rows of the problem have the same architecture encoding")
            return
        flat = self.codes @ np.asarray(self.radix, dtype=np.int64)
        if len(np.unique(flat)) != n:
            raise QueryError("two rows of the problem have the same architecture encoding")
        #: [prod(num_choices)] row of each encoding (product order), -1 where absent.
        self.flat_to_row = np.full(size, -1, dtype=np.int64)
        self.flat_to_row[flat] = np.arange(n)

    # ------------------------------------------------------------------ shapes
    @property
    def num_archs(self) -> int:
        return len(self.arch_strs)

    @property
    def num_seeds(self) -> int:
        return len(self.seeds)

    @property
    def epochs(self) -> int:
        """Number of epochs of the search protocol (the maximum fidelity)."""
        return int(self.valid_acc.shape[2])

    def answers_every_encoding(self) -> bool:
        """True when every encoding of the space is a table row with an available seed, so
        that no query can miss the table (checked once it holds: rows are only ever filled)."""
        if not self._every_encoding:
            self._every_encoding = (not self.open and self.num_table_rows == self.space_size
                                    and bool(np.all(self.seed_count > 0)))
        return self._every_encoding

    def full_fidelity_lists(self) -> tuple[list[int], list[int], list[float], list[float]]:
        """(seed count [N], seed columns [N*S] flat, validation accuracy after the last epoch
        [N*S], cost of training all epochs and validating once [N*S]) of the table rows as
        Python lists, index ``row * S + slot``: what the event loop reads for each
        full-fidelity query (the cost is ``cum_train + valid_per_time`` at the last epoch,
        the same sum :meth:`query_cost` makes). Rebuilt after :meth:`fill_row`."""
        if self._full_fidelity is None:
            self._full_fidelity = tuple(a.tolist() for a in self.full_fidelity_arrays())
        return self._full_fidelity

    def full_fidelity_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`full_fidelity_lists` as arrays (int64, int64, float64, float64; copies,
        rebuilt after :meth:`fill_row`)."""
        if self._full_fidelity_arrays is None:
            n = self.num_table_rows
            self._full_fidelity_arrays = (
                self.seed_count[:n].copy(), self.seed_slots[:n].reshape(-1).copy(),
                np.ascontiguousarray(self.valid_acc[:n, :, -1]).reshape(-1),
                (self.cum_train[:n, :, -1] + self.valid_per_time[:n, :, -1]).reshape(-1))
        return self._full_fidelity_arrays

    def full_fidelity_by_draw(self) -> tuple[int, list[float], list[float], list[int]] | None:
        """Where every table row has the same number C of available seeds: (C, validation
        accuracy after the last epoch [N*C], cost of a full-fidelity query [N*C], seed column
        [N*C]) as Python lists, index ``row * C + d`` for the seed draw ``d = int(u * C)`` of a
        query (the evaluator's table path: ``seed_slots[row, d]``, then the columns of
        :meth:`full_fidelity_arrays`); None where the counts differ. Rebuilt after
        :meth:`fill_row`."""
        if self._by_draw is None:
            n = self.num_table_rows
            counts, slots, valid, cost = self.full_fidelity_arrays()
            c = int(counts[0])
            if c == 0 or np.any(counts != c):
                self._by_draw = False             # (remembered until fill_row)
                return None
            slot = self.seed_slots[:n, :c]
            at = (np.arange(n, dtype=np.int64) * self.num_seeds)[:, None] + slot
            self._by_draw = (c, valid[at].reshape(-1).tolist(), cost[at].reshape(-1).tolist(),
                             slot.reshape(-1).tolist())
        return self._by_draw or None

    def mutation_rows(self, force_change: bool) -> "array.array[int]":
        """[N * D * V] the row of each single-dimension mutation of each row, index
        ``(row * D + d) * V + v`` (V = the largest number of choices): the child
        :meth:`~search_algorithms.base.Algorithm.mutate_with` makes when its draws give
        dimension d and value index v (:func:`~search_algorithms.base.mutation_children`);
        -1 where v is out of range or the child is not a row. Not for open spaces. An
        ``array.array`` of int64 (8 bytes an entry, 3.75 MB for the 15,625 tss archs; read
        one entry at a time faster than a list of Python ints, which would take 36 bytes an
        entry)."""
        rows = self._mutation_rows.get(force_change)
        if rows is None:
            if self.flat_to_row is None:
                raise QueryError("an open space has no table of mutations")
            children = mutation_children(self.codes, self.num_choices, force_change)
            table = np.where(children >= 0, self.flat_to_row[np.maximum(children, 0)], -1)
            rows = self._mutation_rows[force_change] = array.array(
                "q", table.reshape(-1).astype(np.int64).tobytes())
        return rows

    @cached_property
    def codes_to_row(self) -> dict[tuple[int, ...], int]:
        """Row of each encoding (as a tuple of Python ints)."""
        return {tuple(c): i for i, c in enumerate(self.codes.tolist())}

    def row_of(self, codes: Sequence[int]) -> int:
        """Row of an encoding; :class:`QueryError` if the problem does not hold it."""
        if len(codes) != len(self.num_choices) or any(
                not 0 <= int(c) < n for c, n in zip(codes, self.num_choices)):
            raise QueryError(f"encoding {tuple(codes)} does not fit the space's choices "
                             f"{self.num_choices}")
        row = self.lookup_row(codes)
        if row < 0 or row >= self.num_table_rows or self.seed_count[row] == 0:
            size = self.space_size
            held = int((self.seed_count > 0).sum())
            raise QueryError(f"the benchmark has no search-protocol result for "
                             f"{self.space.decode(codes)!r} (it has results for {held} of the "
                             f"{size} architectures of the space; search algorithms may propose "
                             f"any of them)")
        return row

    def lookup_row(self, codes: Sequence[int]) -> int:
        """Row of an encoding whatever its seeds (-1 where the problem has no such row);
        :class:`QueryError` if the encoding does not fit the space."""
        if len(codes) != len(self.num_choices) or any(
                not 0 <= int(c) < n for c, n in zip(codes, self.num_choices)):
            raise QueryError(f"encoding {tuple(codes)} does not fit the space's choices "
                             f"{self.num_choices}")
        if self.flat_to_row is None:
            return self.codes_to_row.get(tuple(int(c) for c in codes), -1)
        return int(self.flat_to_row[sum(int(c) * r for c, r in zip(codes, self.radix))])

    def add_predicted_row(self, codes: Sequence[int]) -> int:
        """Add a row for an architecture of an open space that the table lacks, answered by
        the surrogate (predicted once, then reused); returns the new row."""
        if self.search_surrogate is None:
            raise QueryError("adding rows needs a fitted search surrogate (on_missing "
                             "'surrogate')")
        codes = tuple(int(c) for c in codes)
        arch = self.space.decode(codes)
        curves = self.search_surrogate.curves([arch])
        row = len(self.arch_strs)
        self.arch_strs.append(arch)
        self.codes_to_row[codes] = row
        self.reported = np.append(self.reported, curves.reported[0])
        self.reported_predicted = np.append(self.reported_predicted,
                                            bool(np.isfinite(curves.reported[0])))
        e = np.arange(1, self.epochs + 1)
        self.open_rows[row] = (curves.mean[0].tolist(),
                               np.cumsum(curves.train_time[0]).tolist(),
                               (np.cumsum(curves.valid_time[0]) / e).tolist())
        return row

    def fill_row(self, row: int, record: Any) -> int:
        """Write a finished run record (search group) into row ``row`` in place, for the
        seed column of ``record.seed``; returns that column. The derived cumulative arrays of
        the row are updated too, so later queries are table hits."""
        if record.seed not in self.seeds:
            raise QueryError(f"record seed {record.seed} is not a seed column of the problem "
                             f"({list(self.seeds)})")
        slot = self.seeds.index(record.seed)
        self._full_fidelity = self._full_fidelity_arrays = self._by_draw = None
        _, search_set, _ = self.sources["search"]
        e = self.epochs
        values = {}
        for key, name in (("acc", f"{search_set}_acc1"), ("train", "train_time"),
                          ("valid", f"{search_set}_time")):
            series = np.asarray(record.metrics.get(name, []), dtype=np.float64)
            if series.shape != (e,) or not np.all(np.isfinite(series)):
                raise QueryError(f"trained record of {record.arch!r} lacks {e} finite values of "
                                 f"{name!r}")
            values[key] = series
        self.valid_acc[row, slot] = values["acc"]
        self.train_time[row, slot] = values["train"]
        self.valid_time[row, slot] = values["valid"]
        self.cum_train[row, slot] = np.cumsum(values["train"])
        self.valid_per_time[row, slot] = np.cumsum(values["valid"]) / np.arange(1, e + 1)
        available = np.all(np.isfinite(self.valid_acc[row]), axis=1)
        self.seed_count[row] = int(available.sum())
        self.seed_slots[row] = np.argsort(~available, kind="stable")
        report = self.sources.get("report")
        if report is not None and tuple(report[::2]) == (record.dataset, record.hp) \
                and (np.isnan(self.reported[row]) or self.reported_predicted[row]):
            series = record.metrics.get(f"{report[1]}_acc1")
            if series:
                self.reported[row] = float(series[-1])
                self.reported_predicted[row] = False
        return slot

    def query_cost(self, row: int, slot: int, epochs: int) -> float:
        """Simulated seconds of training ``row`` from scratch for ``epochs`` epochs with seed
        column ``slot`` and validating once (official ``simulate_train_eval`` time)."""
        return float(self.cum_train[row, slot, epochs - 1] + self.valid_per_time[row, slot, epochs - 1])

    # ------------------------------------------------------------------ builders
    @classmethod
    def from_bench(cls, bench: Any, dataset: str, search_hp: str | int = "12",
                   report_hp: str | int | None = None, *,
                   search_source: tuple[str, str] | None = None,
                   report_source: tuple[str, str] | None = None,
                   on_missing: str = "error", surrogate_model: str = "gbt",
                   surrogate_seed: int = 0, device: str | None = None,
                   use_cache: bool = True) -> "TabularProblem":
        """Build the problem NATS-Bench searches on from a :class:`natsbench.api.bench.Bench`.

        Args:
            bench: an opened benchmark (``natsbench.open_bench``) or any object with the same
                ``space``, ``arch_strs``, ``seeds(dataset, hp)`` and ``metric(dataset, hp,
                metric, seed=..., epoch=...)``: ``seed="all", epoch="all"`` -> [N, S, E];
                the defaults -> [N], last epoch, mean over the seeds that ran.
            dataset: ``cifar10``, ``cifar100`` or ``ImageNet16-120`` (see the module table);
                other names need both ``search_source`` and ``report_source``.
            search_hp: training length whose per-epoch validation accuracy is the feedback.
            report_hp: training length of the reported test accuracy; default ``200`` for
                tss and ``90`` for sss.
            search_source: (benchmark dataset, set) overriding the feedback source.
            report_source: (benchmark dataset, set) overriding the reported source.
            on_missing: ``"error"`` (default), ``"surrogate"`` or ``"train"``: how queries of
                architectures the table lacks are answered (:mod:`natsbench.api.evaluation`).
                With the latter two every architecture of an enumerable space gets a row.
            surrogate_model, surrogate_seed: the surrogate fitted where none is stored.
            device: torch device of live training (``"train"``).
            use_cache: overlay the runs trained earlier (user cache store) on the table.
        """
        from natsbench.api.evaluation import check_on_missing

        check_on_missing(on_missing)
        space = bench.space
        if not hasattr(space, "num_choices"):
            from natsbench.spaces import get_space

            options = {}
            if hasattr(bench, "manifest"):    # e.g. the ExtCell budget k the benchmark was built with
                from natsbench.api.surrogate import bench_space_options

                options = bench_space_options(bench)
            space = get_space(str(space), **options)
        if (search_source is None or report_source is None) and dataset not in SEARCH_SOURCES:
            # other datasets (e.g. the bundled digits benchmark): the NATS-Bench rule applied
            # to the dataset's own splits: feedback on x-valid, report on x-test (or ori-test)
            sets = list(bench.eval_sets(dataset)) if hasattr(bench, "eval_sets") else []
            test = next((s for s in TEST_SET_PREFERENCE if s in sets), None)
            if "x-valid" not in sets or test is None:
                raise QueryError(f"no search protocol for dataset {dataset!r} (its sets: {sets}); "
                                 f"valid: {', '.join(SEARCH_SOURCES)}, or a dataset with x-valid "
                                 f"and x-test/ori-test sets (or pass search_source and "
                                 f"report_source)")
            search_source = search_source or (dataset, "x-valid")
            report_source = report_source or (dataset, test)
            if report_hp is None and hasattr(bench, "hps"):
                report_hp = bench.hps(dataset)[-1]  # the longest training of the dataset
        search_dataset, search_set = search_source or SEARCH_SOURCES[dataset]
        report_dataset, report_set = report_source or REPORT_SOURCES[dataset]
        search_hp = normalize_hp(search_hp)
        if report_hp is None:
            if space.name not in REPORT_HPS:
                raise QueryError(f"no default report hp for space {space.name!r} (known: "
                                 f"{', '.join(REPORT_HPS)}); pass report_hp")
            report_hp = REPORT_HPS[space.name]
        report_hp = normalize_hp(report_hp)

        def per_seed_epoch(ds: str, hp: str, name: str) -> np.ndarray:
            values = np.asarray(bench.metric(ds, hp, name, seed="all", epoch="all"),
                                dtype=np.float64)
            if values.ndim != 3:
                raise QueryError(f"bench.metric({ds!r}, {hp!r}, {name!r}, seed='all', "
                                 f"epoch='all') returned shape {values.shape}; expected "
                                 f"[archs, seeds, epochs]")
            return values

        valid_acc = per_seed_epoch(search_dataset, search_hp, f"{search_set}_acc1")
        train_time = per_seed_epoch(search_dataset, search_hp, "train_time")
        valid_time = per_seed_epoch(search_dataset, search_hp, f"{search_set}_time")
        # the official get_more_info(..., is_random=False): last epoch, mean over the seeds run
        reported = np.asarray(bench.metric(report_dataset, report_hp, f"{report_set}_acc1"),
                              dtype=np.float64)
        if reported.shape != (len(bench.arch_strs),):
            raise QueryError(f"bench.metric({report_dataset!r}, {report_hp!r}, "
                             f"'{report_set}_acc1') returned shape {reported.shape}; expected "
                             f"[archs]")
        arch_strs = list(bench.arch_strs)
        seeds = tuple(bench.seeds(search_dataset, search_hp))
        bench_records = []
        if use_cache and hasattr(bench, "manifest"):
            from natsbench.api.evaluation import cached_records

            bench_records = cached_records(bench, search_dataset, search_hp)
        known = set(arch_strs)
        extra = list(dict.fromkeys(r.arch for r in bench_records if r.arch not in known))
        size = getattr(space, "size", None)
        enumerable = size is not None and size <= MAX_INDEX_TABLE and hasattr(space, "all_archs")
        if on_missing == "train" and not enumerable:
            raise QueryError(f"on_missing 'train' needs an enumerable space; {space.name!r} is "
                             f"not (use on_missing 'surrogate' or 'error')")
        if on_missing != "error" and enumerable:
            # every architecture of the space gets a row (seedless where the table lacks it)
            extra = [a for a in space.all_archs() if a not in known]
        if extra:                             # rows the benchmark's table lacks
            pad = lambda x: np.concatenate(  # noqa: E731
                [x, np.full((len(extra),) + x.shape[1:], np.nan)])
            valid_acc, train_time, valid_time = pad(valid_acc), pad(train_time), pad(valid_time)
            reported = pad(reported)
            arch_strs += extra
        codes = np.stack([np.asarray(space.encode(a), dtype=np.int64) for a in arch_strs])
        surrogate = reported_predicted = trainer = search_surrogate = None
        if on_missing == "surrogate":
            from natsbench.api.evaluation import fit_search_surrogate

            # stored predictions cover the benchmark's archs: enough unless rows get added
            search_surrogate = fit_search_surrogate(
                bench, search_dataset, search_hp, search_set,
                report=(report_dataset, report_set, report_hp), model=surrogate_model,
                seed=surrogate_seed,
                use_stored=enumerable and len(arch_strs) == len(bench.arch_strs))
            surrogate = search_surrogate.curves(arch_strs)
            reported_predicted = np.isnan(reported) & np.isfinite(surrogate.reported)
            reported = np.where(reported_predicted, surrogate.reported, reported)
        elif on_missing == "train":
            trainer = LiveTrainer(str(bench.path), search_dataset, search_hp, device=device)
        problem = cls(space=space, arch_strs=arch_strs, codes=codes, valid_acc=valid_acc,
                      train_time=train_time, valid_time=valid_time, reported=reported,
                      seeds=seeds, dataset=dataset,
                      sources={"search": (search_dataset, search_set, search_hp),
                               "report": (report_dataset, report_set, report_hp)},
                      on_missing=on_missing, surrogate=surrogate, trainer=trainer,
                      reported_predicted=reported_predicted,
                      search_surrogate=None if enumerable else search_surrogate)
        filled = 0
        for record in bench_records:          # runs trained earlier: table hits now
            row = problem.codes_to_row.get(tuple(int(c) for c in space.encode(record.arch)), -1)
            if row >= 0 and record.seed in seeds and \
                    not np.isfinite(problem.valid_acc[row, seeds.index(record.seed)]).all():
                problem.fill_row(row, record)
                filled += 1
        if filled:
            problem.sources["cache"] = filled
            logger.info("%d runs trained earlier read from the user cache store", filled)
        logger.info("search problem %s/%s: %d archs, feedback %s, reported %s", space.name,
                    dataset, problem.num_archs, problem.sources["search"],
                    problem.sources["report"])
        return problem

    @classmethod
    def synthetic(cls, num_choices: Sequence[int], rng: np.random.Generator, *,
                  seeds: int = 3, epochs: int = 12, noise: float = 0.5,
                  missing_seed_fraction: float = 0.0, name: str = "grid",
                  dataset: str = "synthetic") -> "TabularProblem":
        """A problem with exploitable structure, for tests and demonstrations.

        The final accuracy is a smooth function of the encoding: an additive score per
        dimension (each dimension has a preferred value, and accuracy falls quadratically with
        the distance to it) plus a small random pairwise interaction, mapped to 50-95 %.
        Learning curves rise as ``1 - exp(-epoch / 3)``; each seed adds Gaussian noise of
        ``noise`` percent. The reported accuracy is the noiseless final accuracy minus 1 % plus
        an independent per-arch perturbation, so it differs from every validation number.
        Training takes 5 s per epoch plus 1 s per unit of the encoding's sum; validation 1 s.
        """
        space = GridSpace(name=name, num_choices=tuple(int(n) for n in num_choices))
        grids = np.indices(space.num_choices).reshape(len(space.num_choices), -1).T
        n, d = grids.shape
        scaled = grids / np.maximum(np.asarray(space.num_choices) - 1, 1)      # [N, D] in [0, 1]
        target = rng.random(d)
        score = -((scaled - target) ** 2).sum(axis=1)
        interaction = rng.normal(0.0, 0.05, size=(d, d))
        score += np.einsum("ni,ij,nj->n", scaled, np.triu(interaction, 1), scaled)
        score = (score - score.min()) / max(score.max() - score.min(), 1e-12)
        final = 50.0 + 45.0 * score                                            # [N]
        curve = 1.0 - np.exp(-np.arange(1, epochs + 1) / 3.0)                 # [E]
        valid = final[:, None, None] * curve[None, None, :] + rng.normal(
            0.0, noise, size=(n, seeds, epochs))
        if missing_seed_fraction > 0 and seeds > 1:
            drop = rng.random((n, seeds)) < missing_seed_fraction
            drop[:, 0] = False                                                 # keep >= 1 seed
            valid[drop] = np.nan
        per_epoch = 5.0 + grids.sum(axis=1).astype(np.float64)
        train_time = np.broadcast_to(per_epoch[:, None, None], (n, seeds, epochs)).copy()
        valid_time = np.ones((n, seeds, epochs))
        reported = final - 1.0 + rng.normal(0.0, 0.3, size=n)
        return cls(space=space, arch_strs=[space.decode(g) for g in grids], codes=grids,
                   valid_acc=valid, train_time=train_time, valid_time=valid_time,
                   reported=reported, seeds=tuple(range(seeds)), dataset=dataset,
                   sources={"search": "synthetic", "report": "synthetic"})


@dataclass(frozen=True)
class LiveTrainer:
    """Trains an architecture of a benchmark with its recorded protocol (picklable).

    Calls :func:`natsbench.build.on_demand.train_missing`, which writes the record to the
    user cache store; returns (record, was_cached).
    """

    bench_path: str
    dataset: str
    hp: str
    device: str | None = None

    def __call__(self, arch: str) -> tuple[Any, bool]:
        from natsbench.api.bench import Bench
        from natsbench.build.on_demand import train_missing

        bench = _BENCHES.get(self.bench_path)
        if bench is None:
            bench = _BENCHES[self.bench_path] = Bench(self.bench_path)
        return train_missing(bench, arch, self.dataset, self.hp, device=self.device)


_BENCHES: dict[str, Any] = {}

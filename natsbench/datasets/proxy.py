"""Entropy-based proxy data (Na, PhD thesis 2022, chapter 3): selection rules and their use.

A *proxy* of a dataset is ``k`` distinct examples of its ``train`` set. This module (numpy only)

* selects them from per-example entropies (:func:`select_proxy`): ``random``, ``top``
  (highest entropy), ``bottom`` (lowest), ``tails`` (bottom ``round(beta * k)`` plus top
  ``k - round(beta * k)``; thesis section 3.3, beta 0.9 by default) and the probabilistic
  selections ``p1``, ``p2``, ``p3`` (thesis Eq. 3.3-3.6, sampling weights W1, W2, W3);
* reads a selection file (:func:`read_proxy_selection`, JSON, written by ``natsbench
  proxy-data``) and restricts a loaded dataset to it (:func:`apply_proxy_selection`).

The probabilistic selections: the log10 entropies are binned into a histogram H with bins of
``bin_width`` whose edges are integer multiples of the width (the thesis's released code
anchors the bins at a rounded minimum and steps by the width, the same grid for widths that
divide 1; its defaults: 0.5 on CIFAR-10, 0.25 on CIFAR-100 and ImageNet, 0.2 on SVHN). An
example x in bin h_x of height |h_x| is drawn with probability
``P(x) = norm(W(h_x) / |h_x|)``, without replacement, where ``W1(h) ∝ max|h'| - |h| + 1``,
``W2(h) ∝ 1`` and ``W3(h) ∝ 1 / |h|``; empty bins hold no example and take no weight. With W2
every bin is equally likely to be sampled, so the sparse tails of the entropy distribution are
over-represented; W1 and W3 penalise the crowded middle more (thesis section 3.3).

Using a selection in a search (thesis section 3.2.1; its released code shuffles the selected
examples and gives the first ``floor(k / 2)`` to the weights and the rest to the
architecture): :func:`apply_proxy_selection` returns a dataset whose ``train`` set is one half
of the selection (weight batches) and whose ``x-valid`` set is the other half (architecture
batches, candidate scoring); the halves come from a permutation seeded by the selection's
seed, so a file always gives the same split. The dataset's original ``x-valid`` is then not
used by the search, and the restricted dataset has no test set at all. Any search command
takes it in one line::

    data = apply_proxy_selection(data, read_proxy_selection(path, data.name))
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from natsbench.datasets.core import LoadedDataset
from natsbench.errors import ConfigError, DatasetError, require_file

__all__ = ["SELECTIONS", "PROBABILISTIC", "DEFAULT_BETA", "DEFAULT_BIN_WIDTHS", "FORMAT",
           "ProxySelection", "default_bin_width", "log_entropy_histogram", "selection_probabilities",
           "select_proxy", "parse_size", "labels_digest", "read_proxy_selection",
           "apply_proxy_selection", "check_selection_split", "split_halves", "WEIGHT_SET", "ARCH_SET"]

#: every selection rule, in the thesis's order (random, entropy top-k / bottom-k, the proposed
#: deterministic tails and the probabilistic P1, P2, P3)
SELECTIONS: tuple[str, ...] = ("random", "top", "bottom", "tails", "p1", "p2", "p3")
#: the probabilistic rules -> their sampling weight (thesis Eq. 3.4-3.6)
PROBABILISTIC: dict[str, str] = {"p1": "w1", "p2": "w2", "p3": "w3"}
#: composition ratio of low-entropy examples in ``tails`` (thesis: best of 0.5 .. 0.9)
DEFAULT_BETA = 0.9
#: histogram bin widths (log10 entropy) of the thesis's released code, by dataset; datasets
#: not listed (digits) use 0.5, the CIFAR-10 width
DEFAULT_BIN_WIDTHS: dict[str, float] = {"cifar10": 0.5, "cifar10-valid": 0.5, "cifar100": 0.25,
                                        "ImageNet16-120": 0.25}
#: the ``format`` field of a selection file
FORMAT = "natsbench-proxy-data/1"
#: the sets a restricted dataset holds: weight batches and architecture batches
WEIGHT_SET, ARCH_SET = "train", "x-valid"


def default_bin_width(dataset: str) -> float:
    """The default histogram bin width (log10 entropy) of ``dataset`` (0.5 if not listed)."""
    return DEFAULT_BIN_WIDTHS.get(dataset, 0.5)


def _check_entropy(entropy: np.ndarray) -> np.ndarray:
    e = np.asarray(entropy, dtype=np.float64)
    if e.ndim != 1 or e.size == 0:
        raise ConfigError(f"entropies must be a non-empty 1-D array, got shape {e.shape}")
    if not np.all(np.isfinite(e)) or np.any(e < 0):
        raise ConfigError("entropies must be finite and >= 0")
    return e


def log_entropy_histogram(entropy: np.ndarray, bin_width: float) -> tuple[np.ndarray, np.ndarray]:
    """Bin of every example and the histogram heights, on log10 entropy.

    Bin ``b`` covers ``[(b0 + b) * w, (b0 + b + 1) * w)`` with ``w = bin_width`` and
    ``b0 = floor(min log10 H / w)``. An entropy of exactly 0 (a saturated softmax) is taken as
    the smallest positive float64 before the log.

    Returns:
        (bin index int64 ``[N]`` in ``0 .. B-1``, heights int64 ``[B]``).
    """
    if not (isinstance(bin_width, (int, float)) and math.isfinite(bin_width) and bin_width > 0):
        raise ConfigError(f"bin width must be a number > 0, got {bin_width!r}")
    e = _check_entropy(entropy)
    log_e = np.log10(np.maximum(e, np.finfo(np.float64).tiny))
    cell = np.floor(log_e / bin_width).astype(np.int64)
    bins = cell - cell.min()
    return bins, np.bincount(bins)


def selection_probabilities(entropy: np.ndarray, weights: str, bin_width: float) -> np.ndarray:
    """Sampling probability of every example under ``weights`` (``w1``, ``w2``, ``w3``).

    ``P(x) = W(h_x) / |h_x| / sum_x' W(h_x') / |h_x'|`` (thesis Eq. 3.3) with the bins of
    :func:`log_entropy_histogram`; float64 ``[N]`` summing to 1.
    """
    bins, heights = log_entropy_histogram(entropy, bin_width)
    h = heights.astype(np.float64)
    filled = heights > 0
    if weights == "w1":
        w = np.where(filled, h.max() - h + 1.0, 0.0)
    elif weights == "w2":
        w = filled.astype(np.float64)
    elif weights == "w3":
        w = np.where(filled, 1.0 / np.maximum(h, 1.0), 0.0)
    else:
        raise ConfigError(f"unknown sampling weights {weights!r}; valid: w1, w2, w3")
    per_example = w[bins] / h[bins]
    return per_example / per_example.sum()


def parse_size(size: str | int | float, n: int) -> int:
    """The proxy size ``k`` from ``size``: a count (``"500"``), a fraction (``"0.1"``) or a
    percentage (``"10%"``) of the ``n`` training examples (fractions floor, as the thesis's
    code does). ``2 <= k <= n`` (each half of the search split needs an example)."""
    text = str(size).strip()
    try:
        if text.endswith("%"):
            k = math.floor(float(text[:-1]) / 100.0 * n)
        elif isinstance(size, float) or any(c in text for c in ".eE"):
            value = float(text)
            if not 0 < value <= 1:
                raise ConfigError(f"proxy size {size!r}: a fraction must be in (0, 1]; "
                                  "give a count as an integer")
            k = math.floor(value * n)
        else:
            k = int(text)
    except (ValueError, OverflowError):
        raise ConfigError(f"proxy size {size!r} is not a count (500), a fraction (0.1) or a "
                          "percentage (10%)") from None
    if not 2 <= k <= n:
        raise ConfigError(f"proxy size {size!r} gives k={k}; need 2 <= k <= {n} (the train set)")
    return k


def select_proxy(entropy: np.ndarray, selection: str, k: int, *, seed: int = 0,
                 beta: float = DEFAULT_BETA, bin_width: float = 0.5) -> np.ndarray:
    """``k`` distinct training indices chosen by ``selection`` (sorted int64 ``[k]``).

    Args:
        entropy: per-example entropy (nats) of the ``train`` set, float ``[N]``.
        selection: one of :data:`SELECTIONS`.
        k: proxy size, ``1 <= k <= N``.
        seed: seed of ``random`` and the probabilistic rules (numpy ``default_rng``).
        beta: fraction of low-entropy examples of ``tails``, ``0 < beta < 1``.
        bin_width: histogram bin width (log10 entropy) of ``p1``/``p2``/``p3``.

    Ties in entropy are broken by index (stable sort).
    """
    e = _check_entropy(entropy)
    n = e.shape[0]
    if selection not in SELECTIONS:
        raise ConfigError(f"unknown selection {selection!r}; valid: {', '.join(SELECTIONS)}")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= n:
        raise ConfigError(f"proxy size k={k!r} must be an int in 1..{n}")
    k = int(k)
    order = np.argsort(e, kind="stable")  # ascending entropy
    if selection == "random":
        chosen = np.random.default_rng(seed).choice(n, size=k, replace=False)
    elif selection == "top":
        chosen = order[n - k:]
    elif selection == "bottom":
        chosen = order[:k]
    elif selection == "tails":
        if not 0 < beta < 1:
            raise ConfigError(f"beta must be in (0, 1), got {beta!r}")
        low = int(round(beta * k))
        chosen = np.concatenate([order[:low], order[n - (k - low):]])
    else:
        p = selection_probabilities(e, PROBABILISTIC[selection], bin_width)
        chosen = np.random.default_rng(seed).choice(n, size=k, replace=False, p=p)
    return np.sort(chosen.astype(np.int64))


def labels_digest(labels: np.ndarray) -> str:
    """SHA-1 of int64 labels: identifies a train split (its order and classes)."""
    return hashlib.sha1(np.ascontiguousarray(labels, dtype=np.int64).tobytes()).hexdigest()


@dataclass(frozen=True)
class ProxySelection:
    """A proxy-data selection read from a file.

    Attributes:
        dataset: the dataset name it was made for.
        indices: sorted distinct int64 indices into that dataset's ``train`` set ``[k]``.
        train_size: size of the ``train`` set it indexes.
        labels_sha1: :func:`labels_digest` of that ``train`` set.
        seed: the seed of the selection (also seeds the weight/architecture split).
        provenance: everything else in the file (rule, parameters, aux model, code, date).
    """

    dataset: str
    indices: np.ndarray
    train_size: int
    labels_sha1: str
    seed: int
    provenance: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.indices.shape[0])


def read_proxy_selection(path: str | Path, dataset: str | None = None) -> ProxySelection:
    """Read and validate a selection file of ``natsbench proxy-data``.

    Args:
        path: the JSON file.
        dataset: the dataset the caller searches on (e.g. ``data.name``); ``None`` skips the
            check.

    Raises:
        PathError: no such file. DatasetError: not a selection file, another dataset, indices
        that are not distinct integers in ``0 .. train_size-1``.
    """
    p = require_file(path, "proxy-data file")
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DatasetError(f"proxy-data file {p} is not JSON ({exc}); write one with "
                           "`natsbench proxy-data`") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise DatasetError(f"proxy-data file {p} has no format {FORMAT!r}; write one with "
                           "`natsbench proxy-data`")
    missing = [key for key in ("dataset", "indices", "train_size", "labels_sha1", "seed")
               if key not in doc]
    if missing:
        raise DatasetError(f"proxy-data file {p} lacks {missing}")
    if dataset is not None and doc["dataset"] != dataset:
        raise DatasetError(f"proxy-data file {p} selects from dataset {doc['dataset']!r}, but "
                           f"the search uses {dataset!r}; make one with `natsbench proxy-data "
                           f"--dataset {dataset}`")
    raw, n, seed = doc["indices"], doc["train_size"], doc["seed"]

    def is_int(v: Any) -> bool:
        return isinstance(v, int) and not isinstance(v, bool)

    if (not is_int(n) or n < 1 or not is_int(seed) or not isinstance(doc["labels_sha1"], str)
            or not isinstance(raw, list) or not all(is_int(i) for i in raw)):
        raise DatasetError(f"proxy-data file {p}: train_size and seed must be ints, labels_sha1 "
                           "a string and indices a list of ints")
    idx = np.asarray(raw, dtype=np.int64)
    bad = idx[(idx < 0) | (idx >= n)]
    if bad.size:
        raise DatasetError(f"proxy-data file {p}: indices out of range 0..{n - 1}: "
                           f"{bad[:5].tolist()}")
    if np.unique(idx).size != idx.size:
        raise DatasetError(f"proxy-data file {p}: {idx.size - np.unique(idx).size} repeated "
                           "indices; a selection holds distinct examples")
    if idx.size < 2:
        raise DatasetError(f"proxy-data file {p} selects {idx.size} example(s); need >= 2")
    rest = {k: v for k, v in doc.items() if k not in ("indices",)}
    return ProxySelection(dataset=str(doc["dataset"]), indices=np.sort(idx), train_size=n,
                          labels_sha1=doc["labels_sha1"], seed=seed,
                          provenance=rest)


def split_halves(selection: ProxySelection) -> tuple[np.ndarray, np.ndarray]:
    """(weight indices ``[floor(k/2)]``, architecture indices ``[k - floor(k/2)]``), each sorted:
    a permutation of the selection seeded by its seed, cut after ``floor(k / 2)``."""
    rng = np.random.default_rng([int(selection.seed), 0x5052_4F58])  # "PROX": its own stream
    shuffled = rng.permutation(selection.indices)
    cut = len(shuffled) // 2
    return np.sort(shuffled[:cut]), np.sort(shuffled[cut:])


def check_selection_split(selection: ProxySelection, dataset: str, train_labels: np.ndarray
                          ) -> None:
    """Raise DatasetError unless ``selection`` was made on this ``train`` set: the same dataset
    name, size and labels (:func:`labels_digest`, so the same split and order).

    Args:
        selection: a read selection (:func:`read_proxy_selection`).
        dataset: the name of the dataset the caller loaded.
        train_labels: the labels of its ``train`` set ``[N]``.
    """
    if selection.dataset != dataset:
        raise DatasetError(f"proxy selection of dataset {selection.dataset!r} cannot restrict "
                           f"{dataset!r}")
    if selection.train_size != len(train_labels) or \
            selection.labels_sha1 != labels_digest(train_labels):
        raise DatasetError(
            f"proxy selection was made on a {dataset} train set of {selection.train_size} "
            f"examples (labels sha1 {selection.labels_sha1[:12]}), but the loaded one has "
            f"{len(train_labels)} (sha1 {labels_digest(train_labels)[:12]}): use the same "
            "split (--split-file, split seed) as `natsbench proxy-data` did")


def apply_proxy_selection(data: LoadedDataset, selection: ProxySelection) -> LoadedDataset:
    """``data`` restricted to ``selection`` for a search (see the module docstring).

    The result's ``train`` set is the weight half and its only evaluation set ``x-valid`` the
    architecture half (:func:`split_halves`); normalisation constants stay those of ``data``.
    ``provenance["proxy_data"]`` records the file's provenance and the original ``train``
    index of every example of both halves (``train_indices``, ``x-valid_indices``).

    Raises:
        DatasetError: the selection was made for another dataset or another train split.
    """
    check_selection_split(selection, data.name, data.train.labels)
    weight_idx, arch_idx = split_halves(selection)
    provenance = dict(data.provenance)
    provenance["proxy_data"] = {**selection.provenance, "k": len(selection),
                                f"{WEIGHT_SET}_indices": weight_idx.tolist(),
                                f"{ARCH_SET}_indices": arch_idx.tolist()}
    provenance["sizes"] = {WEIGHT_SET: len(weight_idx), ARCH_SET: len(arch_idx)}
    return LoadedDataset(spec=data.spec, train=data.train.take(weight_idx),
                         eval_sets={ARCH_SET: data.train.take(arch_idx)}, mean=data.mean,
                         std=data.std, provenance=provenance)

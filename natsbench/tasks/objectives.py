"""Losses (torch) and the metrics the papers report (numpy + scikit-learn) of the tasks.

Losses (:func:`make_loss`), on network outputs and targets of a batch:

* ``cross_entropy``: classes (logits ``[B, C]``, int targets ``[B]``);
* ``focal``: Lin et al.'s focal loss ``mean(alpha (1 - p_t)^gamma (-log p_t))`` with DASH's
  ``alpha = 1`` and the usual ``gamma = 2`` (NinaPro);
* ``bce_logits``: binary cross-entropy on logits with DASH's ``pos_weight`` (multi-label and
  Cosmic's masks);
* ``relative_l2``: the mean over the batch of ``||out - y||_2 / ||y||_2`` per example (FNO's
  ``LpLoss``; DASH sums over the batch instead of averaging, which only rescales the learning
  rate by the batch size);
* ``mse``: mean squared error (PSICOV).

Metrics (:func:`compute_metric`, on the outputs and targets of a whole set; lower is better):

* ``error_pct``: 100 x the 0-1 error of the arg-max class;
* ``relative_l2``: as the loss, averaged over examples;
* ``MAE8``: NAS-Bench-360's PSICOV metric (:func:`psicov_mae8`): per protein, the mean absolute
  distance error over the long-range residue pairs (sequence separation >= 24) whose true
  distance is <= 8 A, of the prediction averaged over both triangles; then the mean over proteins;
* ``1-AUROC``: 1 - the macro ROC AUC over labels that have both classes (DeepSEA), or over
  all pixels of a dense mask (Cosmic; with an ``ignore`` mask, deepCR's rule: ignored pixels get
  score 0 and label 0, see :func:`compute_metric`);
* ``1-mAP``: 1 - the macro average precision over labels with a positive (FSD50K; with the
  set's clip ids as ``groups``, over clips, each the mean of its chunks' logits);
* ``1-F1``: 1 - the macro F1 over classes (ECG).
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from natsbench._optional import require

require("torch", extra="train")  # before importing it: a missing torch names the extra
import torch  # noqa: E402
import torch.nn.functional as F

from natsbench.errors import ConfigError
from natsbench.tasks.configs import METRICS, TaskConfig

__all__ = ["make_loss", "compute_metric", "group_mean", "focal_loss", "relative_l2", "psicov_mae8"]

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def focal_loss(logits: torch.Tensor, target: torch.Tensor, alpha: float = 1.0,
               gamma: float = 2.0) -> torch.Tensor:
    """Focal loss of logits ``[B, C]`` and int targets ``[B]`` (mean over the batch)."""
    logp = torch.log_softmax(logits.float(), dim=1).gather(1, target[:, None]).squeeze(1)
    return (alpha * (1.0 - logp.exp()).pow(gamma) * -logp).mean()


def relative_l2(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of the per-example relative L2 error."""
    diff = (out.float() - target.float()).flatten(1).norm(dim=1)
    return (diff / target.float().flatten(1).norm(dim=1).clamp_min(1e-12)).mean()


def make_loss(task: TaskConfig) -> LossFn:
    """The training loss of ``task`` (a function of ``(outputs, targets)``)."""
    if task.loss == "cross_entropy":
        return lambda out, y: F.cross_entropy(out.float(), y)
    if task.loss == "focal":
        return focal_loss
    if task.loss == "bce_logits":
        pos_weight = float(task.loss_options.get("pos_weight", 1.0))

        def bce(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            w = torch.full(out.shape[1:2], pos_weight, device=out.device)
            w = w.reshape((-1,) + (1,) * (out.dim() - 2))
            return F.binary_cross_entropy_with_logits(out.float(), y.float(), pos_weight=w)

        return bce
    if task.loss == "relative_l2":
        return relative_l2
    if task.loss == "mse":
        return lambda out, y: F.mse_loss(out.float(), y.float())
    raise ConfigError(f"unknown loss {task.loss!r}")  # pragma: no cover - TaskConfig checks


#: PSICOV's MAE8 pair filter: minimum sequence separation ``j - i`` and maximum true distance (A)
PSICOV_MIN_SEPARATION = 24
PSICOV_MAX_DISTANCE = 8.0


def psicov_mae8(outputs: np.ndarray, targets: np.ndarray) -> float:
    """NAS-Bench-360's PSICOV metric MAE8 (A) of predicted and true distance maps.

    The facts, from ``calculate_mae`` in NAS-Bench-360's ``backbone/utils_grid.py`` (its first
    value, ``mae_lr_d8``; DASH's ``psicov_mae`` in ``src/task_utils.py`` reports the same one):

    * the prediction is averaged over both triangles, ``(P[i, j] + P[j, i]) / 2``, and only
      pairs ``i <= j`` are scored;
    * a pair ``(i, j)`` counts when its sequence separation ``j - i >= 24`` ("long range") and
      its true distance is ``<= 8`` A (pairs with ``> 8`` A or an undefined, NaN, distance drop);
    * per protein the mean absolute error over the counted pairs (undefined, and skipped, for a
      protein with none), then the plain mean over proteins.

    Args:
        outputs: predicted distances ``[N, 1, L, L]`` or ``[N, L, L]`` (A).
        targets: true distances of the same shape (A).

    Returns:
        MAE8 in A; NaN when no protein has a counted pair.
    """
    p, t = np.asarray(outputs, np.float64), np.asarray(targets, np.float64)
    if p.shape != t.shape or p.ndim not in (3, 4) or p.shape[-1] != p.shape[-2] \
            or (p.ndim == 4 and p.shape[1] != 1):
        raise ConfigError(f"MAE8 needs square distance maps [N, 1, L, L] or [N, L, L] of equal "
                          f"shapes; got outputs {p.shape} and targets {t.shape}")
    n, size = p.shape[0], p.shape[-1]
    p, t = p.reshape(n, size, size), t.reshape(n, size, size)
    sym = (p + p.transpose(0, 2, 1)) / 2.0
    long_range = np.triu(np.ones((size, size), dtype=bool), k=PSICOV_MIN_SEPARATION)
    counted = long_range & (t <= PSICOV_MAX_DISTANCE)      # NaN distances compare False
    err = np.where(counted, np.abs(sym - t), 0.0).sum(axis=(1, 2))
    pairs = counted.sum(axis=(1, 2))
    has = pairs > 0
    return float(np.mean(err[has] / pairs[has])) if has.any() else float("nan")


def group_mean(outputs: np.ndarray, targets: np.ndarray,
               groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per group (e.g. an FSD50K clip's chunks): the mean of its examples' outputs and the
    targets of its first example, in the order of the sorted group ids.

    DASH scores FSD50K this way (``evaluate`` in ``src/main.py``: ``model(chunks).mean(0)``
    over a clip's chunks, the label of its first chunk), before the sigmoid and the per-class
    average precision over clips.
    """
    outputs = np.asarray(outputs, dtype=np.float64)
    groups = np.asarray(groups)
    if groups.shape != (len(outputs),):
        raise ConfigError(f"groups of shape {groups.shape} for {len(outputs)} outputs: one "
                          "group id per example")
    _, first, inverse = np.unique(groups, return_index=True, return_inverse=True)
    counts = np.bincount(inverse, minlength=len(first))
    sums = np.zeros((len(first),) + outputs.shape[1:])
    if len(outputs):
        # Sum rank by rank: step r adds the r-th example (in example order) of every group that
        # has one, so each group's sum is accumulated in example order from 0, exactly as
        # np.add.at(sums, inverse, outputs) does (bit for bit), but with one vectorized add of
        # up to len(groups) rows per step instead of one unbuffered add per example. Groups
        # are ordered by size, largest first, so step r touches the first ``active`` only.
        order = np.argsort(inverse, kind="stable")          # examples by group, in order
        starts = np.cumsum(counts) - counts                  # first position of each group
        by_size = np.argsort(-counts, kind="stable")         # groups, largest first
        desc = counts[by_size]
        for r in range(int(desc[0])):
            active = by_size[:int(np.searchsorted(-desc, -r, side="left"))]
            sums[active] += outputs[order[starts[active] + r]]
    return sums / counts.reshape((-1,) + (1,) * (outputs.ndim - 1)), np.asarray(targets)[first]


def compute_metric(name: str, outputs: np.ndarray, targets: np.ndarray,
                   ignore: np.ndarray | None = None, groups: np.ndarray | None = None) -> float:
    """The metric ``name`` (one of :data:`~natsbench.tasks.configs.METRICS`) of a whole set.

    Args:
        outputs: network outputs (logits, or predicted values of a dense map).
        targets: int classes ``[N]``, binary labels ``[N, L]`` or dense maps.
        ignore: for ``1-AUROC`` on a dense mask only (Cosmic, :attr:`ArraySet.ignore
            <natsbench.tasks.data.ArraySet>`): 1 where a pixel is flagged ignore, of the targets'
            shape. As deepCR's ``evaluate._roc`` (``binary_mask * (1 - ignore)`` against
            ``msk * (1 - ignore)``) and DASH's Cosmic ``mask`` transform (``img * (1 - ignore)``
            on the sigmoid output and on the target) do, an ignored pixel gets probability 0 and
            label 0: it can never be a true or false positive.
        groups: ``[N]`` group ids of a point task's examples (FSD50K clips): the metric scores
            groups, each with the mean of its examples' outputs (logits) and its first
            example's targets (:func:`group_mean`).
    """
    outputs = np.asarray(outputs, dtype=np.float64)
    if groups is not None:
        if ignore is not None or outputs.ndim != 2:
            raise ConfigError(f"groups apply to a point task's outputs [N, outputs] without an "
                              f"ignore mask; got outputs {outputs.shape}")
        outputs, targets = group_mean(outputs, targets, groups)
    if ignore is not None:
        ignore = np.asarray(ignore, dtype=np.float64)
        if name != "1-AUROC" or outputs.ndim <= 2 or ignore.shape != np.shape(targets):
            raise ConfigError(f"an ignore mask applies to 1-AUROC of a dense mask with the "
                              f"targets' shape; got metric {name!r}, outputs {outputs.shape}, "
                              f"targets {np.shape(targets)}, ignore {ignore.shape}")
        keep = 1.0 - ignore
        outputs = keep * np.exp(-np.logaddexp(0.0, -outputs))  # sigmoid, zeroed if ignored
        targets = np.asarray(targets, dtype=np.float64) * keep
    if name == "error_pct":
        return float(100.0 * np.mean(outputs.argmax(axis=1) != np.asarray(targets)))
    if name == "relative_l2":
        diff = np.linalg.norm((outputs - targets).reshape(len(outputs), -1), axis=1)
        norm = np.linalg.norm(np.asarray(targets, np.float64).reshape(len(outputs), -1), axis=1)
        return float(np.mean(diff / np.maximum(norm, 1e-12)))
    if name == "MAE8":
        return psicov_mae8(outputs, targets)
    if name == "1-F1":
        from sklearn.metrics import f1_score

        return float(1.0 - f1_score(np.asarray(targets), outputs.argmax(axis=1), average="macro"))
    if name in ("1-AUROC", "1-mAP"):
        from sklearn.metrics import average_precision_score, roc_auc_score

        y = np.asarray(targets) > 0.5
        if outputs.ndim > 2:   # a dense mask: every pixel is one example of one label
            outputs, y = outputs.reshape(-1, 1), y.reshape(-1, 1)
        if name == "1-AUROC":
            cols = [j for j in range(y.shape[1]) if 0 < y[:, j].sum() < len(y)]
            scores = [roc_auc_score(y[:, j], outputs[:, j]) for j in cols]
        else:
            cols = [j for j in range(y.shape[1]) if y[:, j].any()]
            scores = [average_precision_score(y[:, j], outputs[:, j]) for j in cols]
        return float(1.0 - np.mean(scores)) if scores else float("nan")
    raise ConfigError(f"unknown metric {name!r}; valid: {METRICS}")

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
* ``MAE8``: mean absolute distance error over the residue pairs whose true distance is below 8 A
  (NAS-Bench-360's PSICOV metric, without its long-range pair filter; see docs/DASH.md);
* ``1-AUROC``: 1 - the macro ROC AUC over labels that have both classes (DeepSEA), or over
  all pixels of a dense mask (Cosmic);
* ``1-mAP``: 1 - the macro average precision over labels with a positive (FSD50K);
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

__all__ = ["make_loss", "compute_metric", "focal_loss", "relative_l2"]

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


def compute_metric(name: str, outputs: np.ndarray, targets: np.ndarray) -> float:
    """The metric ``name`` (one of :data:`~natsbench.tasks.configs.METRICS`) of a whole set.

    Args:
        outputs: network outputs (logits, or predicted values of a dense map).
        targets: int classes ``[N]``, binary labels ``[N, L]`` or dense maps.
    """
    outputs = np.asarray(outputs, dtype=np.float64)
    if name == "error_pct":
        return float(100.0 * np.mean(outputs.argmax(axis=1) != np.asarray(targets)))
    if name == "relative_l2":
        diff = np.linalg.norm((outputs - targets).reshape(len(outputs), -1), axis=1)
        norm = np.linalg.norm(np.asarray(targets, np.float64).reshape(len(outputs), -1), axis=1)
        return float(np.mean(diff / np.maximum(norm, 1e-12)))
    if name == "MAE8":
        mask = np.asarray(targets) < 8.0
        return float(np.abs(outputs - targets)[mask].mean()) if mask.any() else float("nan")
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

"""Edge-recovery and forecasting metrics."""

from __future__ import annotations

import itertools
from typing import Any

import torch
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat


def edge_accuracy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Fraction of edges whose most likely type equals the label (no permutation matching).

    Shapes:
        logits: [B, E, K]; labels: [B, E] -> scalar
    """
    return (logits.argmax(-1) == labels).float().mean()


def confusion_counts(pred: torch.Tensor, labels: torch.Tensor, num_types: int) -> torch.Tensor:
    """counts[p, l] = number of edges predicted as type p whose label is l.

    Shapes:
        pred, labels: [...] integer -> [K, K] int64
    """
    idx = pred.reshape(-1).long() * num_types + labels.reshape(-1).long().clamp(max=num_types - 1)
    return torch.bincount(idx, minlength=num_types * num_types).reshape(num_types, num_types)


def best_permutation(counts: torch.Tensor) -> tuple[tuple[int, ...], float]:
    """The relabelling of predicted types that agrees with the labels most often.

    Returns ``(perm, accuracy)`` where predicted type p is read as label ``perm[p]``.

    Shapes:
        counts: [K, K] confusion counts -> (tuple of K ints, float)
    """
    k = counts.shape[0]
    total = max(int(counts.sum()), 1)
    best, best_hits = tuple(range(k)), -1
    for perm in itertools.permutations(range(k)):
        hits = int(sum(counts[p, perm[p]] for p in range(k)))
        if hits > best_hits:
            best, best_hits = perm, hits
    return best, best_hits / total


def auroc(scores: torch.Tensor, labels: torch.Tensor) -> float:
    """Area under the ROC curve of ``scores`` for binary ``labels`` (ties count one half).

    Returns NaN when only one class is present.

    Shapes:
        scores: [M] float; labels: [M] in {0, 1} -> float
    """
    scores = scores.reshape(-1).double()
    labels = labels.reshape(-1).bool()
    n_pos = int(labels.sum())
    n_neg = labels.numel() - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = torch.argsort(scores)
    sorted_scores = scores[order]
    ranks = torch.empty_like(scores)
    ranks[order] = torch.arange(1, scores.numel() + 1, dtype=torch.float64)
    # average ranks over ties
    uniq, inverse, counts = torch.unique_consecutive(sorted_scores, return_inverse=True,
                                                     return_counts=True)
    ends = torch.cumsum(counts, 0).double()
    avg = ends - (counts.double() - 1) / 2
    ranks[order] = avg[inverse]
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def mse_per_horizon(preds: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error at each roll-out step, averaged over samples, objects and features.

    Shapes:
        preds, target: [B, N, H, D] -> [H]
    """
    return (preds - target).pow(2).mean(dim=(0, 1, 3))


class EdgeMetrics(Metric):
    """Edge recovery over an epoch: accuracy, best-permutation accuracy and (K = 2) AUROC.

    States are summed (confusion counts) and concatenated (AUROC scores) across processes by
    torchmetrics.

    Shapes:
        update: logits [B, E, K], labels [B, E]
    """

    full_state_update = False

    def __init__(self, num_types: int):
        super().__init__()
        self.num_types = num_types
        self.add_state("counts", default=torch.zeros(num_types, num_types, dtype=torch.long),
                       dist_reduce_fx="sum")
        self.add_state("scores", default=[], dist_reduce_fx="cat")
        self.add_state("labels", default=[], dist_reduce_fx="cat")

    def update(self, logits: torch.Tensor, labels: torch.Tensor) -> None:
        self.counts += confusion_counts(logits.argmax(-1), labels, self.num_types)
        if self.num_types == 2:
            self.scores.append(logits.softmax(-1)[..., 1].reshape(-1).float())
            self.labels.append(labels.reshape(-1))

    def compute(self) -> dict[str, Any]:
        """``acc``, ``acc_perm``, ``perm`` (predicted type p read as label perm[p]), ``auroc`` if K = 2."""
        counts = self.counts.cpu()
        perm, acc_perm = best_permutation(counts)
        out: dict[str, Any] = {"acc": float(counts.diagonal().sum()) / max(float(counts.sum()), 1.0),
                               "acc_perm": acc_perm, "perm": perm}
        if self.num_types == 2:
            out["auroc"] = auroc(dim_zero_cat(self.scores).cpu(), dim_zero_cat(self.labels).cpu())
        return out


class ForecastMSE(Metric):
    """Mean squared error at each roll-out step over an epoch (samples weigh equally).

    Shapes:
        update: preds, target [B, N, H, D]; compute -> [H]
    """

    full_state_update = False

    def __init__(self, horizon: int | None):
        """``horizon``: the roll-out length, or None to take it from the first update (then every
        process must see at least one batch)."""
        super().__init__()
        self.add_state("total", default=torch.zeros(horizon or 0), dist_reduce_fx="sum")
        self.add_state("count", default=torch.zeros(()), dist_reduce_fx="sum")

    def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:
        mse = mse_per_horizon(preds, target) * preds.shape[0]
        self.total = mse if self.total.numel() == 0 else self.total + mse
        self.count += preds.shape[0]

    def compute(self) -> torch.Tensor:
        return (self.total / self.count).cpu()

"""Edge-recovery metrics over all N(N-1) ordered pairs from scores on candidate edges only.

A model that runs on candidate edges scores only those; every other pair scores 0 (assumed no
higher than any candidate score, e.g. probabilities). The pairs outside the candidates therefore
form one tied group at score 0 whose positives (true edges that are no candidates) and negatives
are counted, never materialised: O(candidates + true edges), whatever N is.

All three metrics treat tied scores as one threshold (a tie is never split):

- ``auroc``: area under the ROC curve by the trapezoid rule over the distinct thresholds, which
  equals P(score of a true edge > score of a non-edge) + ½ P(equal);
- ``auprc``: average precision, Σ_t (R_t - R_{t-1}) P_t over the distinct thresholds t in
  decreasing order;
- ``best_f1``: the largest F1 of the predictions ``score >= t`` over those thresholds.

:class:`SparseEdgeMetrics` accumulates them over an epoch as a torchmetrics metric (DDP-correct:
scores and labels are concatenated, counts summed across processes), with the accuracy over all
pairs and the candidate recall.
"""

from __future__ import annotations

import torch
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat

__all__ = ["SparseEdgeMetrics", "auprc", "auroc", "best_f1", "edge_metrics", "threshold_counts"]


def threshold_counts(scores: torch.Tensor, labels: torch.Tensor, outside_pos: int = 0,
                     outside_neg: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Cumulative true and false positives at every distinct threshold, highest first.

    ``outside_pos`` / ``outside_neg``: positives and negatives among the pairs that are not
    candidates, all scoring 0.

    Shapes:
        scores, labels: [M] (any shape, flattened) -> (tp [U], fp [U]) float64, U distinct scores
    """
    scores = scores.reshape(-1).double()
    labels = labels.reshape(-1).double()
    if outside_pos or outside_neg:
        scores = torch.cat([scores, scores.new_zeros(1)])
        pos = torch.cat([labels, labels.new_tensor([float(outside_pos)])])
        neg = torch.cat([1 - labels, labels.new_tensor([float(outside_neg)])])
    else:
        pos, neg = labels, 1 - labels
    distinct, group = torch.unique(scores, sorted=True, return_inverse=True)  # ascending
    tp = torch.zeros_like(distinct).index_add_(0, group, pos).flip(0).cumsum(0)
    fp = torch.zeros_like(distinct).index_add_(0, group, neg).flip(0).cumsum(0)
    return tp, fp


def auroc(tp: torch.Tensor, fp: torch.Tensor) -> float:
    """Shapes: tp, fp [U] from :func:`threshold_counts` -> float (nan without both classes)"""
    if tp.numel() == 0 or tp[-1] == 0 or fp[-1] == 0:
        return float("nan")
    tpr = torch.cat([tp.new_zeros(1), tp / tp[-1]])
    fpr = torch.cat([fp.new_zeros(1), fp / fp[-1]])
    return float(torch.trapezoid(tpr, fpr))


def auprc(tp: torch.Tensor, fp: torch.Tensor) -> float:
    """Shapes: tp, fp [U] -> float (nan without positives)"""
    if tp.numel() == 0 or tp[-1] == 0:
        return float("nan")
    recall = tp / tp[-1]
    precision = tp / (tp + fp)
    gain = recall - torch.cat([recall.new_zeros(1), recall[:-1]])
    return float((gain * precision).sum())


def best_f1(tp: torch.Tensor, fp: torch.Tensor) -> float:
    """Shapes: tp, fp [U] -> float (0 without positives)"""
    if tp.numel() == 0 or tp[-1] == 0:
        return 0.0
    fn = tp[-1] - tp
    return float((2 * tp / (2 * tp + fp + fn)).max())


def edge_metrics(scores: torch.Tensor, labels: torch.Tensor, num_pairs: int,
                 num_true: int) -> dict[str, float]:
    """AUROC, AUPRC and best-threshold F1 over all pairs from the candidates' scores and labels.

    ``num_pairs``: all ordered pairs of the samples the scores come from (Σ N(N-1));
    ``num_true``: all their true edges, candidates or not. Masked (padded) candidate slots must
    be left out of ``scores``/``labels`` beforehand.

    Shapes:
        scores, labels: [M] candidate edges (labels in {0, 1}) -> {"auroc", "auprc", "f1"}
    """
    found = int(labels.sum())
    outside_pos = num_true - found
    outside_neg = num_pairs - labels.numel() - outside_pos
    if outside_pos < 0 or outside_neg < 0:
        raise ValueError(f"{labels.numel()} candidates with {found} true edges do not fit in "
                         f"{num_pairs} pairs with {num_true} true edges")
    tp, fp = threshold_counts(scores, labels, outside_pos, outside_neg)
    return {"auroc": auroc(tp, fp), "auprc": auprc(tp, fp), "f1": best_f1(tp, fp)}


class SparseEdgeMetrics(Metric):
    """Edge recovery over all pairs from candidate edges, over an epoch.

    ``compute`` gives ``auroc``, ``auprc``, ``f1`` (best threshold), ``acc`` (a pair is predicted
    an edge when its most likely type is not 0; every non-candidate is predicted no edge) and
    ``candidate_recall`` (true edges among the candidates / all true edges).

    Shapes:
        update: scores, labels, predicted [M] for the real (unmasked) candidate slots of a batch;
        num_pairs, num_true: that batch's Σ N(N-1) and true edges
    """

    full_state_update = False

    def __init__(self):
        super().__init__()
        self.add_state("scores", default=[], dist_reduce_fx="cat")
        self.add_state("labels", default=[], dist_reduce_fx="cat")
        for name in ("num_pairs", "num_true", "hits", "candidates"):
            self.add_state(name, default=torch.zeros((), dtype=torch.long), dist_reduce_fx="sum")

    def update(self, scores: torch.Tensor, labels: torch.Tensor, predicted: torch.Tensor,
               num_pairs: int, num_true: int) -> None:
        labels = labels.reshape(-1).bool()
        predicted = predicted.reshape(-1).bool()
        self.scores.append(scores.reshape(-1).float())
        self.labels.append(labels.float())
        self.num_pairs += int(num_pairs)
        self.num_true += int(num_true)
        self.hits += int((predicted == labels).sum())
        self.candidates += labels.numel()

    def compute(self) -> dict[str, float]:
        scores, labels = dim_zero_cat(self.scores).cpu(), dim_zero_cat(self.labels).cpu()
        num_pairs, num_true = int(self.num_pairs), int(self.num_true)
        found = int(labels.sum())
        out = edge_metrics(scores, labels, num_pairs, num_true)
        outside_neg = num_pairs - int(self.candidates) - (num_true - found)
        out["acc"] = (int(self.hits) + outside_neg) / max(num_pairs, 1)
        out["candidate_recall"] = found / num_true if num_true else 1.0
        return out

"""AUROC, AUPRC and best F1 over all pairs from candidate scores, against brute force."""

from __future__ import annotations

import itertools

import pytest
import torch

from nri.sparse_metrics import edge_metrics


def _brute_force(scores: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
    """Straight from the definitions, over every pair (all scores materialised)."""
    pos = [float(s) for s, y in zip(scores, labels, strict=True) if y == 1]
    neg = [float(s) for s, y in zip(scores, labels, strict=True) if y == 0]
    wins = sum(1.0 if p > q else 0.5 if p == q else 0.0 for p, q in itertools.product(pos, neg))
    auroc = wins / (len(pos) * len(neg))
    thresholds = sorted({float(s) for s in scores}, reverse=True)
    ap, prev_recall, f1 = 0.0, 0.0, 0.0
    for t in thresholds:
        predicted = scores >= t
        tp = float((predicted & (labels == 1)).sum())
        fp = float((predicted & (labels == 0)).sum())
        fn = float(((~predicted) & (labels == 1)).sum())
        recall, precision = tp / len(pos), tp / (tp + fp)
        ap += (recall - prev_recall) * precision
        prev_recall = recall
        f1 = max(f1, 2 * tp / (2 * tp + fp + fn))
    return {"auroc": auroc, "auprc": ap, "f1": f1}


@pytest.mark.parametrize("seed", range(6))
def test_candidate_metrics_equal_brute_force_over_all_pairs(seed):
    gen = torch.Generator().manual_seed(seed)
    n = 9
    pairs = n * (n - 1)
    truth = (torch.rand(pairs, generator=gen) < 0.25).long()
    truth[0] = 1  # both classes present
    truth[1] = 0
    is_candidate = torch.rand(pairs, generator=gen) < 0.5
    # coarse scores make ties, some candidates score 0 like the pairs outside
    cand_scores = (torch.rand(int(is_candidate.sum()), generator=gen) * 5).floor() / 4
    full = torch.zeros(pairs)
    full[is_candidate] = cand_scores
    expected = _brute_force(full, truth)
    got = edge_metrics(cand_scores, truth[is_candidate], pairs, int(truth.sum()))
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, abs=1e-12), key


def test_perfect_scores_and_missed_edges():
    labels = torch.tensor([1.0, 1.0, 0.0])
    perfect = edge_metrics(torch.tensor([0.9, 0.8, 0.1]), labels, num_pairs=20, num_true=2)
    assert perfect == {"auroc": 1.0, "auprc": 1.0, "f1": 1.0}
    # a true edge outside the candidates ties with the 17 non-candidate non-edges at 0
    missed = edge_metrics(torch.tensor([0.9, 0.8, 0.1]), labels, num_pairs=20, num_true=3)
    assert missed["f1"] == pytest.approx(0.8)
    assert missed["auroc"] < 1.0


def test_counts_that_cannot_fit_are_refused():
    with pytest.raises(ValueError, match="do not fit"):
        edge_metrics(torch.tensor([0.5, 0.5]), torch.tensor([1.0, 1.0]), num_pairs=6, num_true=1)
